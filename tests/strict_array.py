"""A stand-in for another library's array that fails loudly where overbar would coerce it.

``Strict`` wraps an ndarray and implements NumPy's dispatch protocols the way CuPy does: NumPy's
functions and ufuncs run on what it wraps and give ``Strict`` results, arrays of NumPy with a
dimension are refused as operands (CuPy will not mix host and device arrays), and converting
one to NumPy (``np.asarray``, ``np.array``) raises ``Coerced``. So the tests that run the
adjoints on it (test_array_protocols.py) check, with no GPU and no Dask, that nothing in the
runtime turns a foreign array into a NumPy one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class Coerced(TypeError):
    """Raised where a ``Strict`` array is converted to a NumPy array."""


class MixedWithNumpy(TypeError):
    """Raised where a NumPy array with a dimension meets a ``Strict`` array (as CuPy raises)."""


def _unwrap(value: Any) -> Any:
    if isinstance(value, Strict):
        return value.data
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise MixedWithNumpy(f"a NumPy array of shape {value.shape} met a Strict array")
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(part) for part in value)
    if isinstance(value, dict):
        return {key: _unwrap(part) for key, part in value.items()}
    return value


def _wrap(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return Strict(value)
    if isinstance(value, list | tuple):
        return type(value)(_wrap(part) for part in value)
    return value


class Strict(NDArrayOperatorsMixin):
    """An array of another library, as NumPy's dispatch sees it (see the module)."""

    __array_priority__ = 100

    def __init__(self, data: Any):
        self.data = np.asarray(data)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: Strict(self.data.T))

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise Coerced("a Strict array was converted to a NumPy array")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"])
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.asarray, np.array):  # np.asarray(a, like=strict): an explicit copy in
            kwargs = {key: value for key, value in kwargs.items() if key != "like"}
            return Strict(func(*args, **kwargs))  # (CuPy copies to the GPU there)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, index):
        return _wrap(self.data[_unwrap(index)])

    def __setitem__(self, index, value):
        self.data[_unwrap(index)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:  # as CuPy does for one element (it waits for the GPU)
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __getattr__(self, name: str) -> Any:  # methods: x.sum(axis=0), x.reshape(...), ...
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(self.data, name)
        if not callable(attribute):
            return _wrap(attribute)
        return lambda *args, **kwargs: _wrap(attribute(*_unwrap(args), **_unwrap(kwargs)))

    def __repr__(self) -> str:
        return f"Strict({self.data!r})"

    def unwrapped(self) -> np.ndarray:
        """What it wraps, for a test's comparison."""
        return self.data
