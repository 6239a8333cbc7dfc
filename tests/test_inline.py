"""Helpers inlined into their callers (``transpiler/inline.py``): where, where not, and right.

Every gradient here is also checked by the guard against the literal adjoint, which gives each
helper its pullback: the inlined and the called helper are compared on every call.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 5))
V = RNG.normal(size=5)


def source_of(f, *args, **options):
    return overbar.grad(f, **options).source_for(*args)


def test_a_helper_is_inlined_with_its_names_prefixed():
    f = define("""
        def lse(v):
            m = np.max(v)
            return m + np.log(np.sum(np.exp(v - m)))

        def f(x):
            return lse(x) * 2.0
        """)
    source = source_of(f, V)
    assert "pullback" not in source
    assert "lse_m = np.max(x)" in source, source
    overbar.check_grad(f, [V])


def test_a_helper_in_a_loop_records_its_values_instead_of_running_twice():
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
    source = source_of(f, X)
    assert "pullback" not in source and source.count("np.exp") == 1, source
    overbar.check_grad(f, [X])


def test_two_calls_get_names_of_their_own():
    f = define("""
        def scaled(v, c):
            w = v * c
            return np.sin(w)

        def f(x):
            return np.sum(scaled(x, 2.0) * scaled(x, 3.0))
        """)
    source = source_of(f, V)
    assert "scaled_w = x * 2.0" in source and "scaled_w_2 = x * 3.0" in source, source
    overbar.check_grad(f, [V])


def test_a_helper_calling_a_helper_is_inlined_to_the_bottom():
    f = define("""
        def inner(v):
            return np.tanh(v)

        def outer(v, W):
            return inner(W @ v)

        def f(W, x):
            return np.sum(outer(outer(x, W), W) ** 2)
        """)
    W = RNG.normal(size=(5, 5))
    assert "pullback" not in source_of(f, W, V)
    overbar.check_grad(f, [W, V], wrt=(0, 1))


@pytest.mark.parametrize(
    "helper",
    [
        "def h(v, k=2.0):\n    v = v * k\n    return np.sum(v * v)\n",  # parameter rebound
        "def h(v, k=2.0):\n    s = 0.0\n    for i in range(3):\n        s = s + np.sum(v) * k\n"
        "    return s\n",  # a loop
        "def h(v, k=2.0):\n    if k > 1.0:\n        r = np.sum(v**2)\n    else:\n"
        "        r = np.sum(v)\n    return r\n",  # a branch
        "def h(t, k=2.0):\n    a, b = t\n    return np.sum(a * b) * k\n",  # unpacks a tuple
    ],
    ids=["rebound parameter", "loop", "branch", "tuple"],
)
def test_helper_forms_inline_and_agree_with_the_pullback(helper):
    call = "h((x, np.sin(x)))" if "t, k" in helper else "h(x) + h(x, k=3.0)"
    f = define(helper + f"\ndef f(x):\n    return {call}\n")
    assert "pullback" not in source_of(f, V)
    inlined = overbar.grad(f)(V)
    called = overbar.grad(f, optimise=Optimisations(inline=False))(V)
    np.testing.assert_allclose(inlined, called, rtol=1e-12)
    overbar.check_grad(f, [V])


def test_the_adjoint_comments_name_the_callers_line():
    f = define("""
        def cube(v):
            c = v * v * v
            return c

        def f(x):
            y = cube(x)
            return np.sum(y)
        """)
    assert "# y = cube(x)" in source_of(f, V)


# Where a side condition fails, the helper keeps its pullback, and the gradient is right.


def test_a_recursive_helper_keeps_its_pullback():
    # two calls of itself (one would make it loops: linear_recursion.py, then inlined)
    f = define("""
        def power(v, n):
            if n == 0:
                return np.ones_like(v)
            return 0.5 * v * power(v, n - 1) + 0.5 * power(v, n - 1) * v

        def f(x):
            return np.sum(power(x, 3))
        """)
    assert "power_pullback" in source_of(f, V)
    overbar.check_grad(f, [V])


def test_a_helper_with_its_own_rule_is_not_inlined():
    f = define("""
        def softsign(v):
            return v / (1 + np.abs(v))

        @overbar.adjoint(softsign)
        def softsign_rule(y, v, y_bar):
            return y_bar / (1 + np.abs(v)) ** 2

        def f(x):
            return np.sum(softsign(x))
        """)
    source = source_of(f, V)
    assert "softsign(x)" in source and "np.abs(x)" in source and "pullback" not in source
    overbar.check_grad(f, [V])


def test_a_helper_whose_global_means_something_else_here_keeps_its_pullback(tmp_path, monkeypatch):
    (tmp_path / "scaled_helpers.py").write_text(
        "import numpy as np\n\nSCALE = 2.0\n\ndef scaled(v):\n    return np.sin(v) * SCALE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    f = define("""
        from scaled_helpers import scaled

        SCALE = 5.0

        def f(x):
            return np.sum(scaled(x) * SCALE)
        """)
    assert "scaled_pullback" in source_of(f, V)
    np.testing.assert_allclose(overbar.grad(f)(V), 10.0 * np.cos(V))


def test_a_helper_reading_a_global_the_caller_binds_keeps_its_pullback():
    f = define("""
        w = 3.0

        def scaled(v):
            return v * w

        def f(x):
            w = np.sin(x)
            return np.sum(scaled(x) * w)
        """)
    assert "scaled_pullback" in source_of(f, V)
    np.testing.assert_allclose(overbar.grad(f)(V), 3.0 * (np.sin(V) + V * np.cos(V)))


def test_a_helper_returning_from_a_branch_is_inlined_with_one_result():
    f = define("""
        def clipped(v):
            if np.sum(v) > 100.0:
                return v
            return np.tanh(v)

        def f(x):
            return np.sum(clipped(x))
        """)
    source = source_of(f, V)
    assert "pullback" not in source and "clipped_result = x" in source, source
    overbar.check_grad(f, [V])
    overbar.check_grad(f, [V + 50.0])


def test_a_helper_with_a_default_object_keeps_its_pullback():
    f = define("""
        def shifted(v, by=np.zeros(5)):
            return np.sum(np.sin(v + by))

        def f(x):
            return shifted(x) * 2.0
        """)
    source = source_of(f, V)
    assert "shifted_pullback" in source, source
    overbar.check_grad(f, [V])


def test_a_large_helper_keeps_its_pullback():
    lines = "".join(f"    v = np.sin(v) * {k + 1.0}\n" for k in range(70))
    f = define(f"def big(v):\n{lines}    return np.sum(v)\n\ndef f(x):\n    return big(x)\n")
    assert "big_pullback" in source_of(f, V * 0.01)


def test_inlining_can_be_switched_off():
    f = define("""
        def square(v):
            return v * v

        def f(x):
            return np.sum(square(x))
        """)
    assert "square_pullback" in source_of(f, V, optimise=Optimisations(inline=False))
    assert "square_pullback" not in source_of(f, V)


def test_a_helper_given_a_function_is_inlined_calling_that_function():
    f = define("""
        def apply_twice(g, v):
            return g(g(v))

        def apply_nested(g, v):
            return apply_twice(g, v) * 2.0

        def f(x):
            return np.sum(apply_twice(np.tanh, x)) + np.sum(apply_nested(np.sin, x))
        """)
    source = source_of(f, V)
    assert "_pullback" not in source and "np.tanh(" in source and "np.sin(" in source, source
    overbar.check_grad(f, [V])


def test_a_default_function_is_inlined_as_the_path_its_def_writes():
    f = define("""
        def step(h, W, activation=np.tanh):
            return activation(h @ W)

        def f(W, h):
            for _ in range(3):
                h = step(h, W)
            return np.sum(h ** 2) + np.sum(step(h, W, np.sin))
        """)
    W = np.eye(3) * 0.5 + 0.1
    source = source_of(f, W, V[:3])
    assert "_pullback" not in source and "np.tanh(" in source and "np.cos(" in source, source
    overbar.check_grad(f, [W, V[:3]], wrt=(0, 1))


def test_a_default_function_the_caller_names_otherwise_keeps_the_pullback():
    step = define(
        """
        activation_of_step = np.tanh

        def step(h, activation=activation_of_step):
            return activation(h) * 2.0
        """,
        name="step",
    )
    f = define(
        """
        activation_of_step = np.sin  # the same path means another function here

        def f(x):
            return np.sum(step(x))
        """,
        namespace={"step": step},
    )
    source = source_of(f, V)
    assert "step_pullback" in source, source
    np.testing.assert_allclose(overbar.grad(f)(V), 2 * (1 - np.tanh(V) ** 2))
