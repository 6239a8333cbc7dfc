"""What shape inference knows of the results of the functions in ``rules_arrays.py`` that
return lists or tuples: that they are sequences (their adjoints are tuples, one adjoint per
element), and their lengths where the call's constants tell.

The rules are added to ``shapes.SHAPE_RULES``; a function not listed returns an array of a shape
not known, which costs speed, never correctness.
"""

from __future__ import annotations

import numbers
from itertools import pairwise

import numpy as np

from overbar.runtime.shapes import (
    SHAPE_RULES,
    Operand,
    Sequence,
    Size,
    broadcast,
    constant_size,
    dims,
    slice_length,
    tuple_of,
)


def _pieces(
    ary: Operand, indices_or_sections: Operand, axis: Operand | None = None, *, cut_along=None
) -> Sequence:
    """np.split returns a list of as many pieces as sections, or indices + 1; each piece has
    ``ary``'s shape but along the axis cut (``_cut_lengths``), where the call's constants
    say which axis and ``ary``'s rank is known."""
    count = None
    if indices_or_sections.constant:
        value = indices_or_sections.value
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            count = int(value)
        elif isinstance(value, tuple):
            count = len(value) + 1
    if count is None:
        return Sequence()
    shape = dims(ary.shape)
    if cut_along is not None and shape is not None:
        index = cut_along(len(shape))
    elif axis is None:
        index = 0
    elif axis.constant and type(axis.value) is int:
        index = axis.value
    else:
        index = None
    if shape is None or index is None or not -len(shape) <= index < len(shape):
        return Sequence(count)
    index %= len(shape)
    lengths = _cut_lengths(shape[index], indices_or_sections.value, count)
    pieces = tuple(shape[:index] + (length,) + shape[index + 1 :] for length in lengths)
    return Sequence(count, pieces)


def _cut_lengths(size, indices_or_sections, count: int) -> list:
    """The lengths np.split cuts a dimension of size ``size`` into. N equal sections of a
    length L have L / N each (np.split raises where N does not divide L): 1 where L is 1 (N is
    then 1), L / N where L is a constant, L where N is 1, and otherwise one length not known
    to differ from 1, but known equal for every piece of every dimension of the same length
    cut in N (``Size(("split", origin, N))``). Index sections cut constant slices
    (``slice_length``): ``[:i₁]``, ``[i₁:i₂]``, ..., ``[iₖ:]``."""
    if isinstance(indices_or_sections, tuple):
        bounds = (None, *indices_or_sections, None)
        if not all(b is None or type(b) is int for b in bounds):
            return [None] * count
        return [slice_length(size, slice(start, stop)) for start, stop in pairwise(bounds)]
    if count <= 0:
        return [None] * max(count, 0)
    if size == 1 or count == 1:
        return [size] * count
    origin = size.origin if isinstance(size, Size) else None
    if isinstance(origin, tuple) and origin[0] == "constant":
        length = origin[1]
        return [constant_size(length // count) if length % count == 0 else None] * count
    return [Size(("split", origin, count)) if origin is not None else None] * count


def _array_pieces(ary: Operand, indices_or_sections: Operand, axis: Operand | None = None):
    """np.array_split: pieces of unequal lengths where sections do not divide the length, so
    only index sections (np.split's pieces) have lengths known."""
    pieces = _pieces(ary, indices_or_sections, axis)
    if indices_or_sections.constant and isinstance(indices_or_sections.value, tuple):
        return pieces
    return Sequence(pieces.length)


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
        np.array_split: _array_pieces,
        np.hsplit: lambda ary, sections: _pieces(
            ary, sections, cut_along=lambda rank: 0 if rank == 1 else 1
        ),
        np.vsplit: lambda ary, sections: _pieces(ary, sections, cut_along=lambda rank: 0),
        np.dsplit: lambda ary, sections: _pieces(ary, sections, cut_along=lambda rank: 2),
        np.broadcast_arrays: _broadcast_arrays,
        np.gradient: _gradient,
        np.atleast_1d: _at_least,
        np.atleast_2d: _at_least,
        np.atleast_3d: _at_least,
        np.unstack: lambda x, **keywords: Sequence(),
    }
)
