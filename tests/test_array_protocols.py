"""The runtime neutral to array libraries, without one installed: the cases of test_dask.py and
test_cupy.py on ``Strict`` arrays (tests/strict_array.py), which raise where they are converted
to NumPy arrays or mixed with them, as CuPy's do. Every array argument is a ``Strict``, as on a
GPU, through the optimised adjoint and the literal one (whose helpers see the arrays the
optimised one indexes or sums directly)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import arrays
from overbar.runtime.helpers_arrays import summed_at_origins
from tests.array_library_cases import (
    CASES,
    FORWARD_NOT_IN_DASK,
    RULE_EXPRESSIONS,
    Case,
    regression,
)
from tests.strict_array import Strict
from tests.support import define


def _strict(case: Case) -> list:
    return [Strict(value) if isinstance(value, np.ndarray) else value for value in case.arguments]


@pytest.mark.parametrize("optimise", [True, False], ids=["optimised", "literal"])
@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_gradient_of_strict_arrays_is_strict_and_numpys(make, optimise):
    case = make()
    function = case.function()
    expected = overbar.grad(function, wrt=case.wrt)(*case.arguments)  # the guard checks it
    # The guard compares values in NumPy, which a Strict array refuses to become.
    gradient = overbar.grad(function, wrt=case.wrt, check=False, optimise=optimise)
    got = gradient(*_strict(case))
    for position, part, want in zip(case.wrt, got, expected, strict=True):
        if isinstance(case.arguments[position], np.ndarray):
            assert isinstance(part, Strict), position
        if isinstance(part, Strict):  # a number's gradient too, where it comes from arrays
            part = part.unwrapped()
        np.testing.assert_allclose(part, want, rtol=1e-10, atol=1e-12)


def test_the_adjoint_is_the_one_numpy_arrays_of_those_shapes_run():
    case = regression()
    gradient = overbar.grad(case.function(), wrt="w")
    assert gradient.source_for(*_strict(case)) == gradient.source_for(*case.arguments)


def test_float32_in_float32_out():
    case = regression()
    w, X, y = (Strict(value.astype(np.float32)) for value in case.arguments)
    got = overbar.grad(case.function(), wrt="w", check=False)(w, X, y)
    assert isinstance(got, Strict) and got.dtype == np.float32


def test_a_foreign_array_is_recognised_by_its_protocols_and_attributes():
    strict = Strict(np.ones((2, 3)))
    assert arrays.is_foreign_array(strict) and arrays.is_array(strict)
    assert arrays.shape(strict) == (2, 3) and arrays.size(strict) == 6
    assert not arrays.is_foreign_array(np.ones(3))  # NumPy's own
    assert not arrays.is_foreign_array(np.ma.masked_array([1.0]))  # a subclass, checked apart
    assert not arrays.is_foreign_array(np.float64(1.0)) and not arrays.unknown_shape(strict)


def test_an_array_of_integers_to_differentiate_is_refused():
    case = regression()
    w, X, y = case.arguments
    with pytest.raises(overbar.OverbarError, match="of dtype int64; pass an array of floats"):
        overbar.grad(case.function(), wrt="w")(Strict(np.arange(5)), Strict(X), Strict(y))


EXPRESSIONS = {**RULE_EXPRESSIONS, **FORWARD_NOT_IN_DASK}


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
@pytest.mark.parametrize("optimise", [True, False], ids=["optimised", "literal"])
@pytest.mark.parametrize("expression", EXPRESSIONS.values(), ids=EXPRESSIONS.keys())
def test_more_rules_on_strict_arrays(expression, optimise):
    f = define(f"def loss(a, b):\n    return {expression}\n", "loss")
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    gradient = overbar.grad(f, wrt=(0, 1), check=False, optimise=optimise)
    got = gradient(Strict(a), Strict(b))
    for part, want in zip(got, overbar.grad(f, wrt=(0, 1))(a, b), strict=True):
        assert isinstance(part, Strict)
        np.testing.assert_allclose(part.unwrapped(), want, rtol=1e-12)


def test_an_adjoint_is_found_for_each_call_s_shapes():
    """A foreign array's key in the entry is its type, which says nothing of its shape: a call
    with another rank must not find the adjoint made for the first (np.outer for a vector v,
    a product with vᵀ for a matrix)."""
    f = define("def loss(X, v):\n    return np.sum(np.tanh(X @ v))\n", "loss")
    gradient = overbar.grad(f, check=False)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5, 3))
    for v in (rng.standard_normal(3), rng.standard_normal((3, 2)), rng.standard_normal(3)):
        got = gradient(Strict(X), Strict(v))
        np.testing.assert_allclose(got.unwrapped(), overbar.grad(f)(X, v), rtol=1e-12)


def _added_at(y_bar, origins, length, axis):
    """What summed_at_origins stands for: np.add.at of ȳ's slices onto their origins."""
    moved = np.moveaxis(y_bar, axis, 0)
    total = np.zeros((length,) + moved.shape[1:])
    kept = origins >= 0
    np.add.at(total, origins[kept], moved[kept])
    return np.moveaxis(total, 0, axis)


@pytest.mark.parametrize(
    "shape, axis, length",
    [((7,), 0, 4), ((3, 9), 1, 5), ((9, 2), 0, 1), ((2, 6, 3), 1, 8), ((2, 6, 3), -2, 2)],
)
def test_gathers_sum_copies_as_add_at_does(shape, axis, length):
    """Origins repeated (up to four copies), missing (−1) and never taken (a zero slice)."""
    rng = np.random.default_rng(len(shape) + length)
    y_bar = rng.standard_normal(shape)
    origins = rng.integers(-1, length, size=shape[axis])
    got = summed_at_origins(Strict(y_bar), origins, length, axis % len(shape))
    assert isinstance(got, Strict)
    np.testing.assert_allclose(
        got.unwrapped(), _added_at(y_bar, origins, length, axis), rtol=1e-13
    )


def test_gathers_of_no_origin_give_zeros():
    got = summed_at_origins(Strict(np.ones((2, 3))), np.array([-1, -1, -1]), 4, 1)
    assert isinstance(got, Strict)
    np.testing.assert_array_equal(got.unwrapped(), np.zeros((2, 4)))


@pytest.mark.parametrize(
    "value",
    [1.5, 3, True, 2j, np.float64(1.5), np.array(2.0), [1.0, 2.0], (1.0,), np.ones((2, 3))],
)
def test_the_runtimes_shape_is_numpys_for_numbers_lists_and_arrays(value):
    """``arrays.shape`` answers a Python number at once (a loop's adjoint asks once a step):
    the answer is np.shape's."""
    assert arrays.shape(value) == np.shape(value)
    assert arrays.ndim(value) == np.ndim(value)
