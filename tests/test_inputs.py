"""Inputs at call time: the gradient of every kind of array a user may pass.

A matrix of functions (elementwise, a matrix product, broadcasting) by kinds of input: NaN and
inf (NaN gradients, no exception of overbar's own), empty arrays, Fortran-ordered and
non-contiguous arrays, read-only arrays and broadcast views (never written), 0-d arrays, float16
and float32 (dtype kept), integer arrays (float gradients), and ndarray subclasses whose
operators differ (np.matrix, masked arrays: refused with a clear message). Each gradient is
compared with the same function's gradient at the same values as a fresh C-ordered float64 array.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import overbar
from overbar import OverbarError
from tests.support import define

SOURCE = """
def elementwise(x, w):
    return np.sum(np.sin(x) * w + x * x)

def product(x, w):
    return np.sum(np.tanh(x @ w))

def broadcast(x, w):
    return np.sum((x + w) ** 2 * w)
"""

FUNCTIONS = {name: define(SOURCE, name) for name in ("elementwise", "product", "broadcast")}
rng = np.random.default_rng(61)


def shapes(name: str, rows: int = 3, columns: int = 4):
    if name == "product":
        return (rows, columns), (columns, 2)
    if name == "broadcast":
        return (rows, columns), (columns,)
    return (rows, columns), (rows, columns)


def reference(name: str, x, w):
    """The gradient at the same values given as fresh C-ordered float64 arrays."""
    fresh = (np.array(x, dtype=np.float64, order="C"), np.array(w, dtype=np.float64, order="C"))
    return overbar.grad(FUNCTIONS[name], wrt=(0, 1), check=False)(*fresh)


def gradient(name: str, *args):
    return overbar.grad(FUNCTIONS[name], wrt=(0, 1))(*args)


def assert_like(result, expected, arguments):
    for got, want, argument in zip(result, expected, arguments, strict=True):
        assert np.shape(got) == np.shape(argument)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_fortran_ordered_and_non_contiguous_arrays(name):
    x_shape, w_shape = shapes(name)
    x = np.asfortranarray(rng.normal(size=x_shape))
    w = rng.normal(size=(w_shape[0], 2 * w_shape[-1]))[..., ::2]  # a strided view
    if len(w_shape) == 1:
        w = rng.normal(size=2 * w_shape[0])[::2]
    assert not x.flags.c_contiguous and not w.flags.contiguous
    assert_like(gradient(name, x, w), reference(name, x, w), (x, w))
    transposed = rng.normal(size=x_shape[::-1]).T
    assert_like(gradient(name, transposed, w), reference(name, transposed, w), (transposed, w))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_read_only_arrays_and_broadcast_views_are_never_written(name):
    x_shape, w_shape = shapes(name)
    x = rng.normal(size=x_shape)
    x.flags.writeable = False
    w = np.broadcast_to(rng.normal(size=(1,) * (len(w_shape) - 1) + (w_shape[-1],)), w_shape)
    x_before, w_before = x.copy(), w.copy()
    result = gradient(name, x, w)
    assert_like(result, reference(name, x, w), (x, w))
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(w, w_before)
    for got in result:
        assert got.flags.writeable  # the user's gradient is theirs to update in place


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("rows", [0, 1])
def test_empty_arrays_and_a_single_row(name, rows):
    x_shape, w_shape = shapes(name, rows=rows)
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    assert_like(gradient(name, x, w), reference(name, x, w), (x, w))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_give_nan_gradients_and_no_exception_of_overbars(name, special):
    x_shape, w_shape = shapes(name)
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    x[0, 0] = special
    try:
        with np.errstate(all="ignore"):
            result = gradient(name, x, w)
    except OverbarError as error:  # pragma: no cover (the failure being tested for)
        pytest.fail(f"overbar raised {error!r} for a {special} input")
    with np.errstate(all="ignore"):
        expected = reference(name, x, w)
    for got, want in zip(result, expected, strict=True):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isnan(got).any() or np.isinf(got).any() or not np.isfinite(x).all()


def test_zero_dimensional_arrays():
    f = FUNCTIONS["elementwise"]
    x, w = np.array(0.5), np.array(2.0)
    gx, gw = overbar.grad(f, wrt=(0, 1))(x, w)
    assert np.shape(gx) == () and np.shape(gw) == ()
    np.testing.assert_allclose(gx, np.cos(0.5) * 2.0 + 1.0)
    np.testing.assert_allclose(gw, np.sin(0.5))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_float16_and_float32_keep_their_dtype(name, dtype):
    x_shape, w_shape = shapes(name)
    x, w = rng.normal(size=x_shape).astype(dtype), rng.normal(size=w_shape).astype(dtype)
    result = gradient(name, x, w)
    assert [g.dtype for g in result] == [np.dtype(dtype)] * 2
    tolerance = 1e-2 if dtype is np.float16 else 1e-4
    for got, want in zip(result, reference(name, x, w), strict=True):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
    # Mixed with a float64 argument, each gradient has its own argument's dtype.
    wide = w.astype(np.float64)
    gx, gw = gradient(name, x, wide)
    assert (gx.dtype, gw.dtype) == (np.dtype(dtype), np.dtype(np.float64))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_integer_arrays_get_float_gradients(name):
    x_shape, w_shape = shapes(name)
    x = rng.integers(-3, 4, size=x_shape)
    w = rng.normal(size=w_shape)
    result = gradient(name, x, w)
    assert [g.dtype.kind for g in result] == ["f", "f"]
    assert_like(result, reference(name, x, w), (x, w))


def _matrix(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(values)


@pytest.mark.parametrize("make", [_matrix, np.ma.masked_array], ids=["np.matrix", "masked array"])
@pytest.mark.parametrize("position", [0, 1])
def test_subclasses_whose_operators_differ_are_refused_clearly(make, position):
    f = FUNCTIONS["elementwise"]
    arguments = [np.ones((2, 2)), np.ones((2, 2))]
    arguments[position] = make(arguments[position])
    name = type(arguments[position]).__name__
    for wrt in (0, (0, 1)):  # differentiated, or only passed along
        with pytest.raises(overbar.ArgumentError, match=f"subclass {name}.*np.asarray"):
            overbar.grad(f, wrt=wrt)(*arguments)


def test_a_memory_mapped_array_is_an_array(tmp_path):
    f = FUNCTIONS["elementwise"]
    path = tmp_path / "x.npy"
    np.save(path, rng.normal(size=(3, 4)))
    x = np.load(path, mmap_mode="r")
    w = rng.normal(size=(3, 4))
    gw = overbar.grad(f, wrt=1)(x, w)
    np.testing.assert_allclose(gw, np.sin(np.asarray(x)), rtol=1e-12)
