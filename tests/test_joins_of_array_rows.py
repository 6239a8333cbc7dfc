"""Functions that join arrays (np.stack, np.concatenate, np.hstack, ...) given one array take
its rows as the arrays they join; the gradient of that array is an array of its shape.

Found by autograd's test suite (benchmarks/autograd_suite): the adjoint was a tuple of the rows'
adjoints, so ``np.concatenate(x) + np.concatenate(x)`` of a (1, 3) array added two tuples by
concatenating them and returned a "gradient" of shape (2, 3), which the guard's difference
check (an inner product that broadcasts) did not see.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

RNG = np.random.default_rng(3)

CASES = [
    ("np.hstack(x)", (3,)),
    ("np.hstack(x)", (2, 3)),
    ("np.vstack(x)", (2, 3)),
    ("np.vstack(x)", (1, 3)),
    ("np.dstack(x)", (2, 3)),
    ("np.column_stack(x)", (2, 3)),
    ("np.stack(x)", (2, 3)),
    ("np.stack(x, axis=1)", (2, 3, 4)),
    ("np.concatenate(x)", (2, 3)),
    ("np.concatenate(x, axis=None)", (2, 3)),
    ("np.concatenate(x) + np.concatenate(x)", (1, 3)),
    ("np.stack(x).ravel() + np.concatenate(x)", (1, 3)),
    ("np.concatenate(x) * np.hstack(x)", (2, 2)),
]


@pytest.mark.parametrize("expression, shape", CASES)
def test_an_array_joined_by_rows_gets_an_array_gradient(expression, shape):
    f = define(f"def f(x, c):\n    return np.sum(({expression}) * c)\n")
    x = RNG.standard_normal(shape)
    c = RNG.standard_normal(np.shape(eval(expression, {"np": np, "x": x})))
    for optimise in (True, False):
        gradient = overbar.grad(f, optimise=optimise)(x, c)
        assert type(gradient) is np.ndarray and gradient.shape == x.shape
    overbar.check_grad(f, (x, c))


def test_a_list_of_arrays_still_gets_a_list_of_gradients():
    f = define("def f(xs, c):\n    return np.sum(np.concatenate(xs) * c)\n")
    xs = [RNG.standard_normal(2), RNG.standard_normal(3)]
    gradient = overbar.grad(f)(xs, np.arange(5.0))
    assert type(gradient) is list
    np.testing.assert_allclose(np.concatenate(gradient), np.arange(5.0))


@pytest.mark.unchecked
def test_the_guard_refuses_a_gradient_of_another_structure():
    namespace = {}
    exec("def rows(x):\n    return 1.0 * x\n", namespace)
    rows = namespace["rows"]

    @overbar.adjoint(rows)
    def rows_adjoint(y, x, y_bar):  # deliberately wrong: a tuple of rows for an array
        """y = x:  x̄ = the rows of ȳ, as a tuple (wrong on purpose: x̄ is an array)"""
        x_bar = tuple(y_bar)
        return x_bar

    f = define("def f(x):\n    return np.sum(rows(x))\n", namespace={"rows": rows})
    with pytest.raises(overbar.GradientCheckError, match="the gradient is a tuple of 2"):
        overbar.grad(f, check=True)(np.ones((2, 3)))
