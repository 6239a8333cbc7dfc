"""A helper's pullback (and jvp) specialised on the parameters its call binds to ``None``.

``def dense(x, W, b=None, act=None)`` tests ``act is None`` and calls ``act(z)`` otherwise.
The optimised adjoint inlines the helper and decides the test (``none_tests.py``); the literal
one (``optimise=False``, what ``check=True`` compares against) calls the helper's pullback,
which must then be specialised on ``act`` being None as well, or it meets a call of an unknown
parameter in the branch that never runs. Other defaults (a number, a string flag, a tuple)
are values the pullback reads as it runs, in either mode.
"""

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError
from tests.support import define, directional_check

HELPERS = {
    "callable_left_none": """
        def wiggle(z):
            return np.sin(z) + z

        def dense(x, W, b=None, act=None):
            z = W @ x
            if b is not None:
                z = z + b
            return z if act is None else act(z)

        def f(W, x, b):
            h = dense(x, W, b, act=wiggle)
            return np.sum(np.tanh(dense(h, W)) ** 2)
    """,
    "none_passed_literally": """
        def dense(x, W, b=None, act=None):
            z = W @ x
            if b is not None:
                z = z + b
            if act is not None:
                z = act(z)
            return z

        def f(W, x, b):
            h = dense(x, W, None, np.tanh)
            return np.sum(dense(h, W, b, act=None) ** 2)
    """,
    "none_passed_on_by_a_helper": """
        def dense(x, W, act=None):
            z = W @ x
            return z if act is None else act(z)

        def block(x, W, b, act=None):
            return dense(x, W, act) + b

        def f(W, x, b):
            return np.sum(block(block(x, W, b, np.tanh), W, b) ** 2)
    """,
    "number_default": """
        def leaky(z, slope=0.1):
            return np.where(z > 0, z, slope * z)

        def f(W, x, b):
            return np.sum(leaky(W @ x) ** 2 + leaky(b * x, 0.3))
    """,
    "string_flag_chooses_a_branch": """
        def act(z, kind="tanh"):
            if kind == "tanh":
                return np.tanh(z)
            elif kind == "square":
                return z * z
            return z

        def f(W, x, b):
            return np.sum(act(W @ x) * act(b, "square") + act(b * x, kind="none"))
    """,
    "tuple_default": """
        def scaled(z, scales=(1.0, 2.0)):
            a, c = scales
            return a * z + c * z ** 2

        def f(W, x, b):
            return np.sum(scaled(W @ x) + scaled(b, (0.5, 3.0)))
    """,
    "same_helper_with_and_without_the_argument": """
        def dense(x, W, b=None):
            z = W @ x
            if b is None:
                return np.tanh(z)
            return np.tanh(z + b)

        def f(W, x, b):
            return np.sum(dense(dense(x, W), W, b) * dense(x, W, b))
    """,
}

SIZES = [1, 3]


def _arguments(size, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((size, size)) / np.sqrt(size)
    return W, rng.standard_normal(size), rng.standard_normal(size)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(HELPERS))
def test_a_helper_called_with_a_none_or_a_default_is_differentiated(name, size, optimise):
    f = define(HELPERS[name])
    arguments = _arguments(size)
    gradients = overbar.grad(f, wrt=(0, 1, 2), optimise=optimise)(*arguments)
    for _, analytic, numeric in directional_check(f, list(arguments), [0, 1, 2], gradients):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_the_literal_and_the_optimised_adjoint_agree(name):
    f = define(HELPERS[name])
    arguments = _arguments(3, seed=1)
    literal = overbar.grad(f, wrt=(0, 1, 2), optimise=False)(*arguments)
    optimised = overbar.grad(f, wrt=(0, 1, 2), check=True)(*arguments)
    for a, b in zip(literal, optimised, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_jvp_and_hvp_through_a_helper_called_with_a_none(name):
    f = define(HELPERS[name])
    W, x, b = _arguments(3, seed=2)
    v = np.random.default_rng(3).standard_normal(3)
    eps = 1e-6
    _, tangent = overbar.jvp(f, (W, x, b), (v,), wrt=(2,))
    numeric = (f(W, x, b + eps * v) - f(W, x, b - eps * v)) / (2 * eps)
    assert tangent == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    gradient = overbar.grad(f, wrt=2)
    numeric = (gradient(W, x, b + eps * v) - gradient(W, x, b - eps * v)) / (2 * eps)
    for optimise in (True, False):
        product = overbar.hvp(f, (W, x, b), v, wrt=2, optimise=optimise)
        np.testing.assert_allclose(product, numeric, rtol=1e-5, atol=1e-7)


def test_the_benchmark_variant_passes_its_check():
    f = define(HELPERS["callable_left_none"])
    arguments = _arguments(3)
    overbar.grad(f, wrt=(0, 1, 2), check=True)(*arguments)


@pytest.mark.parametrize("optimise", [True, False])
def test_a_none_parameter_reassigned_is_not_decided(optimise):
    """Side condition: a parameter the helper assigns (``fn = np.tanh`` where it is None)
    is not taken to hold None at its tests; the call of it is refused at its line."""
    f = define("""
        def apply(z, fn=None):
            if fn is None:
                fn = np.tanh
            return fn(z)

        def f(W, x, b):
            return np.sum(apply(W @ x) + b)
        """)
    with pytest.raises(OverbarError, match="fn") as error:
        overbar.grad(f, wrt=(0, 1, 2), optimise=optimise)(*_arguments(3))
    assert "overbar_test_module" in str(error.value)


@pytest.mark.parametrize("optimise", [True, False])
def test_an_array_passed_for_a_none_default_is_differentiated(optimise):
    """Side condition: the pullback is specialised only where the call binds None; a call
    passing an array gets the branch that reads it, and its gradient."""
    f = define("""
        def shift(z, by=None):
            return z if by is None else z + 2.0 * by

        def f(W, x, b):
            return np.sum(shift(W @ x, b) ** 2 + shift(x) ** 3)
        """)
    W, x, b = _arguments(3)
    (gradient,) = overbar.grad(f, wrt=(2,), optimise=optimise)(W, x, b)
    np.testing.assert_allclose(gradient, 4.0 * (W @ x + 2.0 * b))
