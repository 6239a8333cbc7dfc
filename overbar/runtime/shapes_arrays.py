"""What shape inference knows of the results of the functions in ``rules_arrays.py`` that
return lists or tuples: that they are sequences (their adjoints are tuples, one adjoint per
element), and their lengths where the call's constants tell.

The rules are added to ``shapes.SHAPE_RULES``; a function not listed returns an array of a shape
not known, which costs speed, never correctness.
"""

from __future__ import annotations

import numbers

import numpy as np

from overbar.runtime.shapes import SHAPE_RULES, Operand, Sequence, broadcast, dims, tuple_of


def _pieces(ary: Operand, indices_or_sections: Operand, *others: Operand, **keywords) -> Sequence:
    """np.split and its kin return a list of as many pieces as sections, or indices + 1."""
    if indices_or_sections.constant:
        value = indices_or_sections.value
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return Sequence(int(value))
        if isinstance(value, tuple):
            return Sequence(len(value) + 1)
    return Sequence()


def _broadcast_arrays(*arrays: Operand, **keywords) -> Sequence:
    shape = broadcast(*(array.shape for array in arrays))
    return tuple_of(tuple(shape for _ in arrays))


def _at_least(*arrays: Operand, **keywords) -> Sequence | None:
    """np.atleast_1d and its kin return an array for one argument, a tuple for several."""
    return tuple_of(tuple(None for _ in arrays)) if len(arrays) > 1 else None


def _gradient(f: Operand, *spacing: Operand, **keywords: Operand) -> Sequence | None:
    """An array for one axis, a tuple of one array per axis otherwise."""
    shape = dims(f.shape)
    axis = keywords.get("axis")
    if axis is None or (axis.constant and axis.value is None):
        if shape is None:
            return None
        count = len(shape)
    elif axis.constant and isinstance(axis.value, int):
        return shape
    elif axis.constant and isinstance(axis.value, tuple):
        count = len(axis.value)
    else:
        return None
    return shape if count == 1 else tuple_of((shape,) * count)


SHAPE_RULES.update(
    {
        np.split: _pieces,
        np.array_split: _pieces,
        np.hsplit: _pieces,
        np.vsplit: _pieces,
        np.dsplit: _pieces,
        np.broadcast_arrays: _broadcast_arrays,
        np.gradient: _gradient,
        np.atleast_1d: _at_least,
        np.atleast_2d: _at_least,
        np.atleast_3d: _at_least,
        np.unstack: lambda x, **keywords: Sequence(),
    }
)
