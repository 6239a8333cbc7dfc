"""Calls of the user's own functions: each gets a generated pullback, checked end to end."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define

# The tests of pullbacks themselves: with helpers inlined (the default) most calls get none.
PULLBACKS = Optimisations(inline=False)

rng = np.random.default_rng(11)
W = rng.normal(size=(3, 3)) * 0.5
V = rng.normal(size=3)

HELPERS = """
def affine(W, x, b=0.0, *, scale=1.0):
    return scale * (W @ x) + b

def cell(W, h, x):
    return np.tanh(affine(W, h) + x)

def power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    return x * power(x, n - 1)

def clipped_sum(v, limit):
    total = 0.0
    for i in range(v.shape[0]):
        if v[i] > limit:
            total = total + limit
        else:
            total = total + v[i] * v[i]
    return total
"""

PROGRAMS = {
    "keywords and defaults": """
        def f(W, x):
            return np.sum(affine(W, x) * affine(W, x, 0.5, scale=2.0))
        """,
    "helper calling helper in a loop": """
        def f(W, x):
            h = x * 0.0
            for t in range(3):
                h = cell(W, h, x)
            return np.sum(h ** 2)
        """,
    "recursion with a depth argument": """
        def f(W, x):
            return np.sum(power(W @ x, 4))
        """,
    "loop inside a branch inside a helper": """
        def f(W, x):
            return clipped_sum(W @ x, 0.2) + clipped_sum(x, -5.0)
        """,
    "helper result used twice": """
        def f(W, x):
            y = cell(W, x, x)
            return np.sum(y * y) + np.sum(cell(W, y, x))
        """,
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_helper_program_against_finite_differences(name):
    f = define(HELPERS + textwrap.dedent(PROGRAMS[name]))
    overbar.check_grad(f, [W, V], wrt=(0, 1))


def test_helper_returning_a_tuple_in_a_loop():
    f = define("""
        def step(x, v, k, dt):
            a = -k * x
            v = v + dt * a
            return x + dt * v, v

        def f(k, x0, v0):
            x = x0
            v = v0
            for i in range(20):
                x, v = step(x, v, k, 0.1)
            return np.sum(x ** 2) + 0.5 * np.sum(v)
        """)
    overbar.check_grad(f, [1.5, V, V * 0.3], wrt=(0, 1, 2))
    only_x = define("""
        def both(a, b):
            return a * b, a + b

        def f(x, y):
            p, q = both(x, y)
            return np.sum(np.sin(p))
        """)
    overbar.check_grad(only_x, [V, V * 2], wrt=(0, 1))


def test_tuples_and_lists_built_and_unpacked():
    f = define("""
        def f(x, y):
            pair = (x, y * 2.0)
            p, q = pair
            parts = [x, np.tanh(y)]
            stacked = np.stack(parts)
            alias = pair
            r, s = alias
            return np.sum(p * q) + np.sum(stacked ** 2) + np.sum(r * s) + np.sum(parts[1] * x)
        """)
    overbar.check_grad(f, [V, V * 0.5], wrt=(0, 1))


def test_helper_that_fills_an_array_of_its_own():
    f = define("""
        def fill(v, n):
            out = np.zeros(n)
            for i in range(n):
                out[i] = np.sum(v) * i + v[i % v.shape[0]]
            return out

        def f(x):
            a = fill(x, 5)
            b = fill(a, 3)
            return np.sum(a * a) + np.sum(np.sin(b))
        """)
    overbar.check_grad(f, [V])


def test_each_helper_has_one_pullback_in_the_source():
    f = define(HELPERS + textwrap.dedent(PROGRAMS["helper calling helper in a loop"]))
    source = overbar.grad(f, wrt=(0, 1), optimise=PULLBACKS).source
    assert source.count("def cell_pullback(") == 1
    assert source.count("def affine_pullback(") == 1
    assert "h, cell_residuals = cell_forward(W, h, x)" in source, source
    assert "cell_pullback(*cell_residuals, result_bar=h_bar)" in source, source
    assert "np.tanh" not in source.split("def cell_forward")[0].split("result_bar = seed")[1]


def test_without_residuals_each_pullback_runs_its_helper_again():
    f = define(HELPERS + textwrap.dedent(PROGRAMS["helper calling helper in a loop"]))
    recomputing = Optimisations(inline=False, residuals=False)
    source = overbar.grad(f, wrt=(0, 1), optimise=recomputing).source
    assert source.count("def cell_pullback(") == 1
    assert source.count("def affine_pullback(") == 1
    assert re.search(r"cell_pullback\(W, \w+, x, result_bar=h_bar\)", source)
    assert "np.tanh" not in source.split("def cell_pullback")[0].split("result_bar = seed")[1]
    assert "_forward" not in source and "residuals" not in source


def test_helper_imported_from_another_module(tmp_path, monkeypatch):
    (tmp_path / "user_helpers.py").write_text(
        "import numpy as np\n\ndef softplus(v):\n    return np.log1p(np.exp(v))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    f = define("""
        from user_helpers import softplus

        def f(x):
            return np.sum(softplus(x) * x)
        """)
    overbar.check_grad(f, [V])
    assert "def softplus_pullback(v, *, result_bar):" in overbar.grad(f, optimise=PULLBACKS).source
    assert "np.log1p(np.exp(x))" in overbar.grad(f).source  # inlined: the same names mean the same


def test_helper_only_on_constants_gets_no_pullback():
    f = define(HELPERS + "def f(x):\n    return np.sum(x * affine(np.eye(3), np.ones(3)))\n")
    assert "pullback" not in overbar.grad(f).source


def test_a_helpers_pullback_is_specialised_on_the_shapes_at_its_call():
    source = """
def layer(W, b, x):
    return np.tanh(W @ x + b)


def loss(W1, b1, W2, b2, x, t):
    h = layer(W1, b1, x)
    y = layer(W2, b2, h)
    return 0.5 * np.sum((y - t) ** 2)
"""
    loss = define(source, "loss")
    rng = np.random.default_rng(0)
    args = [rng.normal(size=shape) for shape in [(5, 3), (5, 1), (2, 5), (2, 1), (3, 7), (2, 7)]]
    text = overbar.grad(loss, wrt=(0, 1, 2, 3), optimise=PULLBACKS).source_for(*args)
    assert "W_bar = tmp2_bar @ x.T" in text and "unbroadcast" not in text, text
    assert "h, layer_residuals = layer_forward(W1, b1, x)" in text, text
    assert "y, layer_residuals_2 = layer_forward_2(W2, b2, h)" in text, text
    assert "W2_bar, b2_bar, h_bar = layer_pullback_2(*layer_residuals_2, result_bar=y_bar)" in text
    assert "W1_bar, b1_bar = layer_pullback(*layer_residuals, result_bar=h_bar)" in text
    # listed as they are called; the first call's pullback reads no W (W̄ alone is asked)
    assert "def layer_pullback(x, result, *, result_bar):" in text
    assert "def layer_pullback_2(W, x, result, *, result_bar):" in text
    overbar.check_grad(loss, args, wrt=(0, 1, 2, 3))
    batch_of_one = [a[:, :1] if a.shape[1] == 7 else a for a in args]
    overbar.check_grad(loss, batch_of_one, wrt=(0, 1, 2, 3))


# -- tuples and lists: indexing one gives a tuple adjoint (issue 8) ----------------------------

rng_tuples = np.random.default_rng(8)
M = rng_tuples.normal(size=(2, 3))
ROW = rng_tuples.normal(size=(1, 3))


def _gradients(value, count):
    return value if count > 1 or isinstance(value, tuple) else (value,)


def check_both_adjoints(f, args, wrt):
    """The adjoint specialised on the arguments' shapes (what a call runs) and the general one
    agree, and match finite differences."""
    g = overbar.grad(f, wrt=wrt)
    specialised = _gradients(g(*args), len(wrt))
    general = _gradients(g.stages.emitted.function(*args), len(wrt))
    for index, one, other in zip(wrt, specialised, general, strict=True):
        assert np.shape(one) == np.shape(args[index]) == np.shape(other)
        np.testing.assert_allclose(one, other, rtol=1e-12, atol=1e-14)
    overbar.check_grad(f, args, wrt=wrt)


INDEXED_SEQUENCES = {
    "a helper's tuple, indexed (the report)": """
        def pair(p):
            return np.sum(p), p

        def f(x, y):
            t = pair(x * y)
            return np.sum(t[1]) * t[0] + np.sum(t[-1] ** 2)
        """,
    "a helper's tuple, one element read": """
        def both(p):
            return np.sin(p), np.sum(p * p)

        def f(x, y):
            t = both(x * y)
            return np.sum(t[0])
        """,
    "a helper's tuple, copied, indexed and unpacked": """
        def pair(p):
            return np.sum(p), p * 3.0

        def f(x, y):
            t = pair(x + y)
            s = t
            a, b = t
            return np.sum(s[1]) * a + np.sum(b) * t[0]
        """,
    "a helper's list": """
        def parts(p):
            return [np.sum(p), p * p]

        def f(x, y):
            r = parts(x * y)
            return r[0] + np.sum(r[1])
        """,
    "a helper's tuple, indexed in a loop": """
        def pair(p):
            return p * 2.0, np.sum(p)

        def f(x, y):
            total = 0.0
            for i in range(3):
                t = pair(x * y * i)
                total = total + np.sum(t[0]) * t[1]
            return total
        """,
    "a recursive helper's tuple": """
        def climb(p, n):
            if n == 0:
                return p, np.sum(p)
            t = climb(p * 1.5, n - 1)
            return t[0] + 1.0, t[1] * 2.0

        def f(x, y):
            t = climb(x * y, 2)
            return np.sum(t[0] ** 2) + t[1]
        """,
    "nested tuples from a helper": """
        def nest(p):
            return (p, np.sum(p)), p * 2.0

        def f(x, y):
            t = nest(x * y)
            u = t[0]
            return np.sum(u[0]) * u[1] + np.sum(t[1])
        """,
    "a tuple passed to a helper, indexed there": """
        def weigh(t):
            return np.sum(t[0]) * t[1]

        def f(x, y):
            p = (x * y, np.sum(x))
            return weigh(p) + weigh((y, 3.0))
        """,
    "a tuple passed to a helper, unpacked there": """
        def weigh(t):
            a, b = t
            return np.sum(a) * b

        def f(x, y):
            return weigh((x * y, np.sum(y)))
        """,
    "a tuple passed to a helper that reads one element or none": """
        def second(t, s):
            return np.sum(t[1] * 2.0) + np.sum(s)

        def f(x, y):
            return second((np.sin(x), y), x) + second((x, 1.0), y * 0.0)
        """,
    "a list passed to a helper, indexed in a loop": """
        def weigh(items):
            total = 0.0
            for i in range(len(items)):
                total = total + np.sum(items[i]) * i
            return total

        def f(x, y):
            return weigh([x, np.sum(y), x * y])
        """,
    "a tuple of different shapes you build": """
        def f(x, y):
            t = (np.sum(x), y * x)
            return t[0] * np.sum(t[1]) + np.sum(t[-1] ** 2)
        """,
    "a list of different shapes you build": """
        def f(x, y):
            lst = [np.sum(x), y * x]
            return np.sum(lst[1]) + lst[0] ** 2 + np.sum(lst[-1] * lst[0])
        """,
    "a display indexed": """
        def f(x, y):
            return np.sum((x, y * 2.0)[1]) + np.sum([y, x][1] ** 2)
        """,
    "slices of a tuple": """
        def f(x, y):
            t = (np.sum(x), y * x, x + 1.0)
            u = t[1:]
            return np.sum(u[0] * u[-1]) + t[0] + np.sum(t[::2][1])
        """,
    "nested tuples you build": """
        def f(x, y):
            t = ((np.sum(x), y), x)
            return t[0][0] * np.sum(t[0][1]) + np.sum(t[1])
        """,
    "a loop over a tuple": """
        def f(x, y):
            total = 0.0
            for v in (x, np.sum(y), y):
                total = total + np.sum(v * v)
            return total
        """,
    "a list of different shapes, appended to and indexed": """
        def f(x, y):
            items = [np.sum(x)]
            for i in range(3):
                items.append(x * y * i)
            total = 0.0
            for i in range(len(items)):
                total = total + np.sum(items[i])
            return items[0] * np.sum(items[2]) + np.sum(items[-1]) + total
        """,
    "a tuple rebuilt in a loop and in a branch": """
        def f(x, y):
            t = (x, 1.0)
            for i in range(3):
                t = (t[0] * y, t[1] + np.sum(t[0]))
            if np.sum(x) > 0:
                t = (t[0] * 2.0, t[1])
            return np.sum(t[0]) + t[1]
        """,
}


@pytest.mark.parametrize("name", list(INDEXED_SEQUENCES))
@pytest.mark.parametrize(
    "args", [[V, M], [V[:1], ROW], [0.7, 1.3]], ids=["broadcast", "size one", "numbers"]
)
def test_indexing_a_tuple_or_list_gives_a_tuple_adjoint(name, args):
    f = define(INDEXED_SEQUENCES[name])
    check_both_adjoints(f, args, wrt=(0, 1))


def test_the_adjoint_of_an_element_is_a_tuple_with_zeros_elsewhere():
    f = define(INDEXED_SEQUENCES["a helper's tuple, indexed (the report)"])
    source = overbar.grad(f, optimise=PULLBACKS).source_for(V, M)
    assert "t_bar = (0.0, " in source, source
    # the pullback gets the tuple adjoint (from residuals, or, where it reads nothing but the
    # helper's arguments, as here once a number's adjoint needs no shaping, from them)
    assert "pair_pullback(" in source and "result_bar=t_bar)" in source, source
    only_one = define("""
        def f(x, y):
            t = (np.sin(x), y * x)
            return np.sum(t[1])
        """)
    source = overbar.grad(only_one, wrt=(0, 1)).source_for(V, M)
    assert "t_bar = (0.0, " in source and "t_bar[0]" not in source and "np.cos" not in source
    check_both_adjoints(only_one, [V, M], wrt=(0, 1))


def test_a_tuple_from_a_function_with_its_own_rule_indexed_and_unpacked():
    """The rule gets its output's adjoint as a tuple of arrays (zeros where nothing reached)."""
    f = define("""
        def split_sum(x):
            return x[:2] * 1.0, np.sum(x[2:])

        @overbar.adjoint(split_sum)
        def split_sum_rule(y, x, y_bar):
            \"\"\"y = (x[:2], Σ x[2:]):  x̄ = (ȳ₀, ȳ₁, ..., ȳ₁)\"\"\"
            head, tail = y_bar
            return np.concatenate([head, tail * np.ones(np.size(x) - 2)])

        def f(x, w):
            t = split_sum(x * w)
            a, b = split_sum(x)
            return np.sum(t[0] ** 2) + b * 3.0 + np.sum(t[-1] * w)
        """)
    x, w = np.arange(5.0) / 3, np.linspace(0.5, 1.5, 5)
    check_both_adjoints(f, [x, w], wrt=(0, 1))
    check_both_adjoints(f, [x[:3], w[:1]], wrt=(0, 1))


# -- a helper's result in normal form, whatever its return expression (issue 8) ---------------

HELPER_RETURNS = {
    "an attribute of an expression": "(p * q).T",
    "a subscript of an expression": "(p * q)[0]",
    "a method of an expression": "(p * q).sum(axis=0)",
    "attributes of rebound names": "np.sum(q.T) * p.T",
    "a tuple of them": "((p * q).T, np.sum(p.T), (p + q)[-1])",
    "a constant": "1.5",
    "a global constant": "np.pi",
    "a rebound parameter": "q",
}
FUNCTION_RETURNS = {
    "an attribute of an expression": "np.sum(p * q, keepdims=True).T",
    "an attribute of a number": "(np.sum(p * q) - 1.0).T",  # ȳ = 1.0 has no .T
    "a subscript of an expression": "(p * q)[0, -1]",
    "a method of an expression": "(p * q.T.T).sum()",
    "a constant": "1.5",
}


@pytest.mark.parametrize("name", list(HELPER_RETURNS))
def test_any_return_expression_of_a_helper(name):
    """``return (p * p).T`` left the helper's result an attribute of a temporary, which the
    normal form took for a global path like ``np.pi``: not a name (issue 8)."""
    returned = HELPER_RETURNS[name]
    reduced = "np.sum(r[0]) + r[1] * np.sum(r[2])" if "," in returned else "np.sum(r)"
    f = define(f"""
        def h(p, q):
            q = q * 1.0
            return {returned}

        def f(x, y):
            r = h(x * y, y)
            return {reduced} + np.sum(x)
        """)
    for args in ([M, M * 0.5], [ROW, M], [V, M], [0.5, M]):
        check_both_adjoints(f, args, wrt=(0, 1))


@pytest.mark.parametrize("name", list(FUNCTION_RETURNS))
def test_any_return_expression_of_the_function_differentiated(name):
    f = define(f"""
        def f(p, q):
            q = q * 1.0
            return {FUNCTION_RETURNS[name]}
        """)
    for args in ([M, M * 0.5], [ROW, M], [V, M]):
        check_both_adjoints(f, args, wrt=(0, 1))
