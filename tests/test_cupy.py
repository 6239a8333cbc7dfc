"""CuPy arrays on a GPU through the same generated adjoint as NumPy's: the cases of
test_dask.py (``tests/array_library_cases.py``), every array of them on the GPU. Not run where
this was written (no GPU there): a first run on a GPU is its first test.

Skipped as a whole, with the reason, where CuPy is not installed or no CUDA device is visible.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.array_library_cases import CASES, Case, regression


def _cupy():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (it needs a CUDA GPU)")
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDA's driver or runtime missing: cupy imports, cannot run
        pytest.skip(f"CuPy is installed but CUDA is not usable: {error}", allow_module_level=True)
    if devices == 0:
        pytest.skip("CuPy is installed but no CUDA device is visible", allow_module_level=True)
    return cupy


cp = _cupy()


def _on_gpu(case: Case) -> list:
    """Every array argument on the GPU (CuPy refuses to mix its arrays with NumPy's)."""
    return [
        cp.asarray(value) if isinstance(value, np.ndarray) else value for value in case.arguments
    ]


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_gradient_on_the_gpu_equals_numpys(make):
    case = make()
    gradient = overbar.grad(case.function(), wrt=case.wrt)
    expected = gradient(*case.arguments)
    on_gpu = gradient(*_on_gpu(case))
    for position, got, want in zip(case.wrt, on_gpu, expected, strict=True):
        if isinstance(case.arguments[position], np.ndarray):  # its gradient stays on the GPU
            assert isinstance(got, cp.ndarray), position
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-10, atol=1e-12)


def test_the_differentiated_argument_may_be_a_cupy_array():
    case = regression()
    w, X, y = case.arguments
    gradient = overbar.grad(case.function(), wrt="w")
    got = gradient(cp.asarray(w), cp.asarray(X), cp.asarray(y))
    assert isinstance(got, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(got), gradient(w, X, y), rtol=1e-12)


def test_float32_in_float32_out():
    case = regression()
    w, X, y = (cp.asarray(value, dtype=cp.float32) for value in case.arguments)
    got = overbar.grad(case.function(), wrt="w")(w, X, y)
    assert got.dtype == cp.float32


def test_the_adjoint_is_the_one_numpy_arrays_of_those_shapes_run():
    case = regression()
    gradient = overbar.grad(case.function(), wrt="w")
    assert gradient.source_for(*_on_gpu(case)) == gradient.source_for(*case.arguments)
