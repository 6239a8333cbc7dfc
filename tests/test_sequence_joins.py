"""Tuples and lists joined (``s + t``) or repeated (``s * 3``) by Python's operators.

Python concatenates there, where NumPy would add elementwise; the elementwise rules of ``+``
and ``*`` would then send each element's adjoint to the wrong place (a silently wrong
gradient: ``(x, y) * 3`` gave ``x`` a third of its gradient). A differentiated sequence joined
or repeated is refused at the user's line; a constant tuple of numbers multiplying or added to
an array is NumPy's elementwise operation, and is differentiated.
"""

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define, directional_check

JOINED = {
    "list_repeated": """
        def f(x, y):
            xs = [x, y]
            ys = xs * 2
            return np.sum(ys[0] * ys[1] + 3.0 * ys[2] + ys[3] ** 2)
    """,
    "tuple_joined": """
        def f(x, y):
            t = (x, y * x)
            u = t + t
            return np.sum(u[0] + 2.0 * u[2] + u[3])
    """,
    "tuple_repeated": """
        def f(x, y):
            t = (x, y)
            u = t * 3
            return np.sum(u[0] * u[1] * u[4])
    """,
    "repeated_on_the_left": """
        def f(x, y):
            ys = 3 * [x, y]
            return np.sum(np.stack(ys) ** 2)
    """,
    "joined_with_a_display": """
        def f(x, y):
            xs = [x * y]
            ys = xs + [y]
            return np.sum(ys[0] * ys[1])
    """,
}

ELEMENTWISE = {
    "array_times_constant_tuple": """
        def f(x, y):
            s = (1.0, 2.0, 3.0)
            return np.sum(x * s + y)
    """,
    "array_plus_constant_list": """
        def f(x, y):
            s = [1.0, 2.0, 3.0]
            return np.sum((x + s) * y)
    """,
    "array_times_tuple_display": """
        def f(x, y):
            return np.sum(x * (0.5, 1.0, 2.0) * y)
    """,
}


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(JOINED))
def test_a_differentiated_sequence_joined_or_repeated_is_refused(name, optimise):
    f = define(JOINED[name])
    x, y = np.arange(1.0, 4.0), np.linspace(-1.0, 1.0, 3)
    with pytest.raises(UnsupportedSyntaxError, match="joins or repeats a tuple or list") as error:
        overbar.grad(f, wrt=("x", "y"), optimise=optimise)(x, y)
    assert "overbar_test_module" in str(error.value)  # the user's file and line


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_a_constant_tuple_with_an_array_is_elementwise(name, optimise):
    f = define(ELEMENTWISE[name])
    x, y = np.arange(1.0, 4.0), np.linspace(-1.0, 1.0, 3)
    gradients = overbar.grad(f, wrt=("x", "y"), optimise=optimise)(x, y)
    for _, analytic, numeric in directional_check(f, [x, y], [0, 1], gradients):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_a_sequence_of_constants_repeated_is_not_differentiated():
    f = define("""
        def f(x):
            sizes = (1.0, 2.0) * 2
            return np.sum(x * np.array(sizes))
        """)
    x = np.arange(4.0)
    (gradient,) = overbar.grad(f, wrt=("x",))(x)
    np.testing.assert_allclose(gradient, [1.0, 2.0, 1.0, 2.0])
