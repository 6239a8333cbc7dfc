"""Arrays of other libraries (Dask, CuPy): what the runtime may ask of them without coercing.

The generated code and the runtime's helpers call NumPy's functions (``np.exp``, ``np.sum``,
``np.zeros_like``, ...) and arrays' methods (``g.sum(axis=0)``); an array of another library
that implements NumPy's dispatch protocols (``__array_ufunc__`` and ``__array_function__``)
runs them in its own way: a Dask array builds a lazy task graph, a CuPy array runs on its GPU.
What overbar must never do to such an array is turn it into a NumPy array (``np.asarray``,
``float(...)``, ``np.size`` on Dask, which computes it) or branch on one of its values: that
would compute a lazy array during the call, or copy a GPU's array to the host. Its shape and
dtype are read from its attributes, which every such library knows without computing.

A Dask array whose chunk sizes are unknown (after a boolean mask, say) has NaN in its shape;
an adjoint needs the shapes of its values, so such an argument is refused
(``unknown_shape``), and the user calls ``compute_chunk_sizes()`` first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_FOREIGN_TYPES: dict[type, bool] = {}  # the answer for each type met (the runtime asks often)


_PYTHON_NUMBERS = frozenset({float, int, complex, bool})


def is_foreign_type(kind: type) -> bool:
    """Whether ``kind`` is the array type of another library that implements NumPy's dispatch
    protocols (not ``np.ndarray`` nor a subclass of it, whose operators are NumPy's own or are
    checked apart)."""
    found = _FOREIGN_TYPES.get(kind)
    if found is None:
        found = _FOREIGN_TYPES[kind] = (
            kind is not np.ndarray
            and not issubclass(kind, np.ndarray)
            and hasattr(kind, "__array_function__")
            and hasattr(kind, "__array_ufunc__")
        )
    return found


def is_foreign_array(value: Any) -> bool:
    """Whether ``value`` is an array of another library (Dask, CuPy) with a shape and dtype."""
    return (
        type(value) is not np.ndarray
        and is_foreign_type(type(value))
        and isinstance(getattr(value, "shape", None), tuple)
        and isinstance(getattr(value, "dtype", None), np.dtype)
    )


def is_array(value: Any) -> bool:
    """Whether ``value`` is an ndarray or another library's array (``is_foreign_array``)."""
    return isinstance(value, np.ndarray) or is_foreign_array(value)


def shape(value: Any) -> tuple:
    """The shape of ``value``, read from the array's attribute where it is one (``np.shape``
    of a Python number or list otherwise)."""
    if type(value) in _PYTHON_NUMBERS:
        return ()  # np.shape's answer, without its cost (a loop's adjoint asks once a step)
    found = getattr(value, "shape", None)
    if isinstance(found, tuple) and not isinstance(value, tuple | list):
        return found
    return np.shape(value)


def ndim(value: Any) -> int:
    """The number of dimensions of ``value`` (see ``shape``)."""
    return len(shape(value))


def size(value: Any) -> int:
    """The number of elements of ``value`` (see ``shape``): unlike ``np.size``, which computes
    a Dask array to count them."""
    return math.prod(shape(value))


def unknown_shape(value: Any) -> bool:
    """Whether ``value`` is an array whose shape is not known without computing it (a Dask
    array with unknown chunk sizes has NaN among its dimensions)."""
    return is_foreign_array(value) and not all(
        isinstance(dimension, int | np.integer) for dimension in value.shape
    )


def library_name(value: Any) -> str:
    """The library an array comes from, for messages: ``dask.array.Array``, ``cupy.ndarray``."""
    kind = type(value)
    module = (kind.__module__ or "").split(".")
    if module[:2] == ["dask", "array"]:
        return f"dask.array.{kind.__name__}"
    return f"{module[0]}.{kind.__name__}"


def to_numpy(value: Any) -> Any:
    """``value`` as a NumPy array: a Dask array computed, a CuPy array copied from its GPU.
    For the guard alone, which compares values; the adjoint's own code never calls it."""
    if is_foreign_array(value):
        compute = getattr(value, "compute", None)
        if callable(compute):
            value = compute()
    if type(value).__module__.split(".")[0] == "cupy":
        value = value.get()
    return np.asarray(value)


def like(value: Any, reference: Any) -> Any:
    """The NumPy array ``value`` as an array of ``reference``'s library (NumPy's ``like=``
    dispatches to it), where ``reference`` is another library's array."""
    if is_foreign_array(reference):
        return np.asarray(value, like=reference)
    return value
