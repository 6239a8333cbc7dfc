"""Helpers kept as pullbacks run forward once: their forward function returns their residuals.

A helper that is not inlined (recursive, longer than the inlining limit, a default that is an
object, a global that means something else at the call, or inlining off)
is called in the caller's forward sweep as ``y, helper_residuals = helper_forward(x)``, and its
reverse sweep calls ``helper_pullback(*helper_residuals, result_bar=y_bar)``, which reads them
instead of running the helper again. Every gradient here is also compared by the guard with the
literal adjoint, whose pullbacks recompute (``Optimisations.residuals`` off).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define, directional_check

RNG = np.random.default_rng(19)
V = RNG.normal(size=5) * 0.5
X = RNG.normal(size=(4, 5)) * 0.5
RECOMPUTING = Optimisations(residuals=False)
NOT_INLINED = Optimisations(inline=False)

_BIG = (
    "def big(v):\n"
    + "".join(f"    v = np.sin(v) * {1.0 + k / 100:.2f}\n" for k in range(65))
    + "    return v\n"
)

# Each program's helpers are kept as pullbacks for the reason its name gives.
PROGRAMS = {
    "recursive": """
        def power(v, n):  # calls itself twice: a recursion (once, it would be loops)
            if n == 0:
                return np.ones_like(v)
            return power(v, n // 2) * power(v, n - 1 - n // 2) * v

        def f(x):
            return np.sum(power(x, 4))
        """,
    "recursive, in a loop and a branch, called several times": """
        def power(v, n):  # calls itself twice: a recursion (once, it would be loops)
            if n == 0:
                return np.ones_like(v)
            return power(v, n // 2) * power(v, n - 1 - n // 2) * v

        def f(x):
            total = 0.0
            for k in range(3):
                if np.sum(x) > k:
                    total = total + np.sum(power(x * (k + 1.0), 2))
                else:
                    total = total + np.sum(power(np.sin(x), 3))
            return total + np.sum(power(x, 1))
        """,
    "longer than the inlining limit, in a loop reading its own output": textwrap.dedent(_BIG)
    + """
def f(x):
    h = x
    for t in range(3):
        h = big(h) + 0.5 * h
    return np.sum(h ** 2)
""",
    "a default that is an object": """
        def shifted(v, by=np.linspace(0.0, 1.0, 5)):
            return np.sum(np.sin(v + by) * v)

        def f(x):
            total = 0.0
            for k in range(2):
                total = total + shifted(x * (k + 1.0))
            return total
        """,
    "a global the caller binds to something else": """
        w = 3.0

        def scaled(v):
            return np.tanh(v) * w

        def f(x):
            w = np.sin(x)
            return np.sum(scaled(x) * w) + np.sum(scaled(w))
        """,
    "nested: a recursive helper calling a large one": textwrap.dedent(_BIG)
    + """
def repeat(v, n):
    if n == 0:
        return v
    return repeat(big(v) * 0.9, n - 1)

def f(x):
    return np.sum(repeat(x, 2) ** 2)
""",
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_helpers_kept_as_pullbacks_keep_residuals_and_are_right(name):
    f = define(PROGRAMS[name])
    source = overbar.grad(f).source_for(V)
    assert "_forward(" in source and "_residuals" in source, source
    overbar.check_grad(f, [V])
    np.testing.assert_allclose(
        overbar.grad(f)(V), overbar.grad(f, optimise=RECOMPUTING)(V), rtol=1e-10, atol=1e-12
    )


NOT_INLINED_PROGRAMS = {
    "helper calling helper in a loop": """
        def affine(W, x, b=0.0, *, scale=1.0):
            return scale * (W @ x) + b

        def cell(W, h, x):
            return np.tanh(affine(W, h) + x)

        def f(W, x):
            h = x * 0.0
            for t in range(3):
                h = cell(W, h, x)
            return np.sum(h ** 2)
        """,
    "a helper with a loop writing into an array it made": """
        def made(v):
            out = np.zeros(v.shape[0])
            for i in range(v.shape[0]):
                out[i] = np.sin(v[i]) * v[i]
            return out

        def f(W, x):
            y = made(W @ x)
            return np.sum(made(y) * y)
        """,
    "a helper returning a tuple, one part read": """
        def both(v):
            return np.sin(v), np.cos(v) * v

        def f(W, x):
            s = 0.0
            for k in range(2):
                pair = both(W @ x * (k + 1.0))
                s = s + np.sum(pair[1])
            return s
        """,
    "logsumexp over rows": """
        def lse(v):
            m = np.max(v)
            return m + np.log(np.sum(np.exp(v - m)))

        def f(W, x):
            total = 0.0
            for i in range(W.shape[0]):
                total = total + lse(W[i] * x)
            return total
        """,
}


@pytest.mark.parametrize("name", list(NOT_INLINED_PROGRAMS))
def test_helpers_not_inlined_keep_residuals_and_are_right(name):
    f = define(NOT_INLINED_PROGRAMS[name])
    W = RNG.normal(size=(5, 5)) * 0.5
    source = overbar.grad(f, wrt=(0, 1), optimise=NOT_INLINED).source_for(W, V)
    assert "_forward(" in source, source
    _check_directions(f, [W, V], (0, 1), overbar.grad(f, wrt=(0, 1), optimise=NOT_INLINED))
    recomputing = Optimisations(inline=False, residuals=False)
    for ours, theirs in zip(
        overbar.grad(f, wrt=(0, 1), optimise=NOT_INLINED)(W, V),
        overbar.grad(f, wrt=(0, 1), optimise=recomputing)(W, V),
        strict=True,
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _check_directions(f, args, wrt, gradient):
    """The gradients ``gradient`` gives against central differences along random directions."""
    for seed in range(3):
        for _, analytic, numeric in directional_check(f, args, wrt, gradient(*args), seed=seed):
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


# -- the helper runs forward once per call ----------------------------------------------------

COUNTED = """
CALLS = []

def counted_sin(v):
    CALLS.append(1)
    return np.sin(v)

@overbar.adjoint(counted_sin)
def counted_sin_rule(y, v, y_bar):
    return y_bar * np.cos(v)
"""

COUNTED_PROGRAMS = {
    "recursive": """
        def damped(v, n):
            if n == 0:
                return counted_sin(v)
            a = counted_sin(v) * 0.9
            return 0.5 * (damped(a, n - 1) + damped(a * 0.5, n - 1))  # a recursion: twice

        def f(x):
            total = 0.0
            for k in range(3):
                total = total + np.sum(damped(x * (k + 1.0), 2))
            return total
        """,
    "longer than the inlining limit, in a loop": "def big(v):\n    v = counted_sin(v)\n"
    + "".join(f"    v = np.sin(v) * {1.0 + k / 100:.2f}\n" for k in range(65))
    + "    return v\n\ndef f(x):\n    h = x\n    for t in range(4):\n"
    + "        h = big(h) + h\n    return np.sum(h)\n",
}


@pytest.mark.parametrize("name", list(COUNTED_PROGRAMS))
def test_a_helper_runs_forward_once_per_call(name):
    f = define(COUNTED + textwrap.dedent(COUNTED_PROGRAMS[name]))
    calls = f.__globals__["CALLS"]
    f(V)
    plain = len(calls)
    assert plain > 0
    for optimise, once in ((Optimisations(), True), (RECOMPUTING, False)):
        gradient = overbar.grad(f, optimise=optimise)
        gradient(V)  # compiled, and checked by the guard (which runs f too)
        calls.clear()
        gradient(V)
        if once:
            assert len(calls) == plain
        else:  # the pullbacks run the helper again: the test can tell the two apart
            assert len(calls) > plain


def test_a_vjp_runs_the_helper_forward_once_and_its_pullback_again_on_the_residuals():
    f = define(
        COUNTED
        + textwrap.dedent(COUNTED_PROGRAMS["recursive"]).replace(
            "return total", "return total * x"
        )
    )
    calls = f.__globals__["CALLS"]
    f(V)
    plain = len(calls)
    calls.clear()
    value, pullback = overbar.vjp(f, V)
    first = pullback(np.ones(5))
    second = pullback(np.ones(5))
    assert len(calls) == plain
    np.testing.assert_allclose(first, second)
    literal = overbar.jacobian(f, optimise=Optimisations.none())(V)
    np.testing.assert_allclose(overbar.jacobian(f)(V), literal, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(first, np.ones(5) @ literal, rtol=1e-10, atol=1e-12)


def test_a_helper_whose_pullback_changes_its_residuals_makes_the_vjp_run_again():
    """The helper's split writes into an array it makes anew on each step and restores from
    the stack (``Split.reusable`` False): a vjp calling it runs its forward again before each
    later pullback, and gets the same gradients each time."""
    f = define("""
        def rows(v):
            total = 0.0
            for i in range(3):
                out = np.zeros(v.shape[0])
                out[i] = v[i] * v[i]
                total = total + np.sum(out * v)
            return total

        def f(x):
            return rows(x) * rows(np.sin(x)) * x
        """)
    _, pullback = overbar.vjp(f, V, optimise=NOT_INLINED)
    assert "rows_forward(" in pullback.source
    first, second = pullback(np.ones(5)), pullback(np.ones(5))
    np.testing.assert_allclose(first, second)
    literal = overbar.jacobian(f, optimise=Optimisations.none())(V)
    np.testing.assert_allclose(first, np.ones(5) @ literal, rtol=1e-10, atol=1e-12)


def test_deep_recursion_costs_one_forward_run_per_level():
    f = define(COUNTED + """
def damped(v, n):
    if n == 0:
        return counted_sin(v)
    return damped(counted_sin(v) * 0.9, n - 1)

def f(x):
    return np.sum(damped(x, 60))
""")
    calls = f.__globals__["CALLS"]
    gradient = overbar.grad(f)
    gradient(V)
    calls.clear()
    gradient(V)
    assert len(calls) == 61  # the recomputing pullbacks made 61 + 60 + ... + 1
    overbar.check_grad(f, [V])


# -- what the generated code reads like ----------------------------------------------------


def test_the_forward_keeps_the_residuals_and_the_pullback_reads_them():
    f = define("""
        def lse(v):
            m = np.max(v)
            return m + np.log(np.sum(np.exp(v - m)))

        def f(X):
            total = 0.0
            for i in range(X.shape[0]):
                total = total + lse(X[i])
            return total
        """)
    source = overbar.grad(f, optimise=NOT_INLINED).source_for(X)
    assert "tmp5, lse_residuals = lse_forward(X[i])" in source, source
    assert "stack.append(lse_residuals)" in source
    assert "(tmp8,) = lse_pullback(*lse_residuals, result_bar=total_bar)" in source, source
    assert "def lse_forward(v):" in source and "def lse_pullback(tmp2, tmp3, *, result_bar):"
    pullback = source[source.index("def lse_pullback") :].split("\n", 2)[2]  # no comment
    assert "np.exp" not in pullback and "np.max" not in pullback, pullback
    assert "stack.append(tmp4)" not in source  # X[i] is not saved: the residuals hold what is
    _check_directions(f, [X], (0,), overbar.grad(f, wrt=(0,), optimise=NOT_INLINED))


def test_a_helper_whose_reverse_reads_only_its_arguments_is_called_itself():
    """The rule of ``Pullback.keeps_residuals``: residuals that are the arguments alone would
    add a tuple and the forward function's records for nothing; the pullback recomputes
    nothing either."""
    f = define("""
        def scaled(v, c):
            return v * c

        def f(x, c):
            total = 0.0
            for k in range(3):
                total = total + np.sum(scaled(x, c) ** 2)
            return total
        """)
    c = RNG.normal(size=5)
    source = overbar.grad(f, optimise=NOT_INLINED).source_for(V, c)
    assert "_forward" not in source and "residuals" not in source, source
    assert "scaled_pullback(x, c, result_bar=" in source, source
    assert "tmp2 = x * c" not in source.split("def scaled_pullback")[1]
    _check_directions(f, [V, c], (0,), overbar.grad(f, wrt=(0,), optimise=NOT_INLINED))


def test_a_recursive_helper_forward_calls_its_own_forward():
    f = define(PROGRAMS["recursive"])
    source = overbar.grad(f).source_for(V)
    forward = source[source.index("def power_forward") : source.index("def power_pullback")]
    assert "power_forward(v, n // 2)" in forward, forward
    assert "power(" not in forward.replace("power_forward(", "").replace("power_residuals", "")
    pullback = source[source.index("def power_pullback") :]
    assert "power_pullback" in pullback and "power_forward" not in pullback, pullback


def test_second_derivatives_through_a_recursive_helper():
    """The gradient differentiated again calls the recomputing pullbacks (a call unpacking a
    tuple of residuals cannot be differentiated again): Hessians still go through helpers."""
    f = define(PROGRAMS["recursive"])  # the sum of x ** 4
    np.testing.assert_allclose(overbar.hessian(f)(V), np.diag(12.0 * V**2), rtol=1e-10)
    assert "power_forward(" in overbar.grad(f).source_for(V)  # the gradient keeps residuals


def test_a_gradient_differentiated_again_through_a_recursive_helper():
    f = define(PROGRAMS["recursive"])  # the sum of x ** 4
    second = overbar.jacobian(overbar.grad(f))(V)
    np.testing.assert_allclose(second, np.diag(12.0 * V**2), rtol=1e-10)


def test_a_residual_read_only_for_its_shape_is_handed_over_as_its_shape():
    """``index_bar(g, t, slice(1, None))`` reads t's shape alone (t's length, twice x's, is
    not a parameter's): the forward function returns ``shape_of(t)``, and the array t is not
    kept for the reverse sweep. (A layer norm's ``reduced_count(tmp2, var)`` was such a read;
    with shapes known its count is now ``x.shape[1]``, no residual at all.)"""
    f = define("""
        def shifted_sine(x):
            t = np.concatenate([x, x])
            return np.sin(t[1:] * 2.0)

        def f(x, R):
            return np.sum(shifted_sine(x) * R)
        """)
    x, R = RNG.normal(size=6), RNG.normal(size=11)
    source = overbar.grad(f, optimise=NOT_INLINED).source_for(x, R)
    forward = source[source.index("def shifted_sine_forward") :]
    forward = forward[: forward.index("def shifted_sine_pullback")]
    assert "shape_of(t)" in forward, forward
    assert "shape_of(x)" not in forward  # a parameter: its caller keeps it anyway
    _check_directions(f, [x, R], (0,), overbar.grad(f, wrt=(0,), optimise=NOT_INLINED))
    _, pullback = overbar.vjp(f, x, R, optimise=NOT_INLINED)
    assert "shape_of(t)" in pullback.source
    literal = overbar.grad(f, optimise=Optimisations.none())(x, R)
    np.testing.assert_allclose(pullback(1.0), literal, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pullback(2.0), 2.0 * literal, rtol=1e-10, atol=1e-12)
