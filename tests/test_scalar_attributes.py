"""A NumPy scalar argument keeps its attributes in the generated code (``x.shape``, ``x.ndim``,
``x.size``, ``x.dtype``, ``x.T``), as it has them when the function runs on its own. (A Python
float has none of them, with or without overbar: the function runs as written.)"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

SOURCE = """
def f(x):
    assert x.shape == ()
    assert x.ndim == 0
    assert x.size == 1
    assert x.dtype == np.float64
    return x.T ** 2 * x.size + x.ndim
"""


@pytest.mark.parametrize("value", [np.float64(3.0), np.array(3.0)])
def test_a_numpy_scalars_attributes_are_read_as_numpy_gives_them(value):
    f = define(SOURCE)
    assert overbar.grad(f)(value) == pytest.approx(6.0)
    overbar.check_grad(f, [value])


def test_a_python_float_has_no_shape_under_grad_as_without_it():
    f = define(SOURCE)
    with pytest.raises(AttributeError, match="'float' object has no attribute 'shape'"):
        f(3.0)
    with pytest.raises(AttributeError, match="'float' object has no attribute 'shape'"):
        overbar.grad(f)(3.0)
