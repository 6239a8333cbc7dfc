"""What is known of a value's shape before the function runs, and how NumPy's operations change it.

The compiled adjoint is specialised on what matters for broadcasting and for the linear algebra
rules: each argument's rank and which of its dimensions are 1. A shape is a tuple with, per
dimension, ``1`` (exactly one), a ``Size`` or ``None`` (not known); a value whose rank is not
known (or that is not an array or a number) has the shape ``None``. A ``Size`` says what is
known of a dimension other than 1: that it is not 1 (``many``: ``MANY`` is a size known only
so), and where its length comes from (``origin``: the first dimension of the parameter ``u``,
the constant 64, ``u[1:-1]`` of it), so that two dimensions of one origin are known to be equal
even where each may be 1: ``u[2:] - 2 * u[1:-1]`` does not broadcast.

Numbers and 0-d arrays have the shape ``()``; ``INTEGER`` is a number known to be an integer (a
loop index), which is what indexing needs, and ``Count(size)`` an integer known to be the length
of a dimension (``len(x)``, ``x.shape[0]``), which is what ``np.zeros(n)`` needs; ``Sizes`` is a
tuple of integers (``x.shape``) and ``RANGE`` a range. An array of integers (an argument whose
dtype is ``int``/``uint``, such as the labels of a classifier) has an ``IntegerDims`` shape: its
dimensions, known to hold integers, so that its element ``labels[i]`` is an ``INTEGER`` and
indexing with it (``row[labels[i]]``) has a known shape. A tuple or list the function builds (or a
helper returns) has a ``Sequence`` shape: its adjoint is a tuple, one adjoint per element. A
tuple's holds its length and its elements' shapes; a list's holds neither (appends change
them), but what every element it ever holds has in common (``element``).

Two calls whose arguments agree in rank and in which dimensions are 1 broadcast the same way, so
one specialisation serves every batch size: arguments' shapes (``argument_shape``, the key of a
specialisation) have anonymous sizes, and inference names them after their parameter
(``named``). A rule answers ``None`` whenever it is not sure: the adjoint then keeps the general
runtime helper, so a gap here costs speed, never correctness.
"""

from __future__ import annotations

import builtins
import inspect
import math
import numbers
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from overbar.primitives import Attribute, Index, Method
from overbar.runtime.arrays import is_foreign_array, unknown_shape
from overbar.runtime.registry import load_late_rules


@dataclass(frozen=True)
class Size:
    """A dimension's length, other than 1: known not to be 1 (``many``), and known to be the
    length named ``origin`` (a hashable; equal origins, equal lengths) where that is not None."""

    origin: Any = None
    many: bool = False


MANY = Size(None, True)
REAL_KINDS = "fiub"  # the dtype kinds of real numbers
INTEGER = "integer"
RANGE = "range"
NO_ELEMENT = "no element"  # what an empty list's elements have in common: nothing yet

_LARGEST_BOUND = 30  # slices with larger constant bounds: their length is not followed
_LENGTHS = range(2 * _LARGEST_BOUND + 5)  # enough sizes to tell two slices' lengths apart


@dataclass(frozen=True)
class Count:
    """The shape of an integer known to be the length of a dimension of size ``size``."""

    size: Any


@dataclass(frozen=True)
class Sizes:
    """The shape of a tuple of dimension lengths (``x.shape``): ``dims`` is ``x``'s shape."""

    dims: tuple | None


SIZES = Sizes(None)


class IntegerDims(tuple):
    """The shape of an array of integers (dtype kind ``i`` or ``u``): its dimensions, as a
    plain tuple of sizes holds them, and the fact that its elements are integers.

    An element of it (``labels[i]``, a loop over it) is an ``INTEGER``, a row of it, a slice or
    a copy an ``IntegerDims`` again; every other operation (``np.array(labels, dtype=float)``,
    ``labels * 0.5``, ``labels + 1``) gives a plain tuple (``infer_shape`` keeps the fact only
    through ``KEEPS_INTEGERS``), which says nothing of the dtype. It is equal only to another
    ``IntegerDims``, so that an adjoint specialised for an array of integers is never taken for
    an array of floats of the same shape (whose element is no index)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is IntegerDims and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((IntegerDims, tuple(self)))

    def __repr__(self) -> str:
        return f"IntegerDims({tuple.__repr__(self)})"

    def __reduce__(self) -> tuple:
        return (IntegerDims, (tuple(self),))


INTEGER_KINDS = "iu"  # the dtype kinds of integers: arrays of them have IntegerDims shapes


def dims_like(shape: Any, sizes: Any) -> tuple:
    """The dimensions ``sizes`` (an iterable of sizes) as a shape of ``shape``'s kind: an
    ``IntegerDims`` where ``shape`` is one (the sizes renamed, not the elements changed)."""
    return IntegerDims(sizes) if isinstance(shape, IntegerDims) else tuple(sizes)


def of_integers(sizes: tuple) -> Any:
    """The shape of a part of an array of integers that has dimensions ``sizes``: an
    ``INTEGER`` for a single element (a NumPy integer), else an ``IntegerDims``."""
    return INTEGER if len(sizes) == 0 else IntegerDims(sizes)


def row_shape(shape: Any) -> Any:
    """The shape of a row of an array of shape ``shape`` (what a loop over it, or unpacking
    it, takes): its dimensions but the first, an ``INTEGER`` for an element of a vector of
    integers; None where the rank is not known or is 0 (a number is not iterable)."""
    known = dims(shape)
    if not known:
        return None
    return of_integers(known[1:]) if isinstance(shape, IntegerDims) else known[1:]


def without_integers(shape: Any) -> Any:
    """``shape`` with what it says of arrays of integers forgotten (an ``IntegerDims``, in a
    sequence's elements too, becomes a plain tuple): what is known of the result of an
    operation that may change the dtype."""
    if isinstance(shape, IntegerDims):
        return tuple(shape)
    if isinstance(shape, Sequence) and (
        shape.elements is not None or isinstance(shape.element, IntegerDims | Sequence)
    ):
        elements = None if shape.elements is None else tuple(map(without_integers, shape.elements))
        return replace(shape, elements=elements, element=without_integers(shape.element))
    return shape


# Functions that make an array of n elements from their first argument n, and raise where n is
# negative: once one has run, n ≥ 0 (``transpiler/lengths.py``).
NEGATIVE_LENGTH_RAISES = frozenset([np.zeros, np.ones, np.empty, np.full])


@dataclass(frozen=True)
class Integer:
    """The shape of an integer whose value is named by ``key`` (a linear form over lengths, as
    ``transpiler/lengths.py`` builds them: ``len(x) − len(w) + 1``); it may be negative."""

    key: tuple


def clamped_size(key: tuple, many: bool = False) -> Any:
    """The length max(0, n) for the integer n named ``key``: an array made with n elements
    has it (a negative n raises), and so has a slice ``x[s:e]`` with e − s = n in range."""
    if all(symbol == 1 for symbol, _ in key):
        return constant_size(max(0, sum(c for _, c in key)))
    if len(key) == 1 and key[0][1] == 1 and isinstance(key[0][0], tuple):
        symbol = key[0][0]
        if symbol[0] == "length":  # a parameter's length itself
            return Size(symbol[1], many)
    return Size(("clamped", key), many)


@dataclass(frozen=True)
class Sequence:
    """The shape of a tuple or list: how many elements it has and their shapes, where known, and
    the shape every element has (``element``: ``None`` where not known).

    A dict of parameters is one too, with ``mapping`` set and its ``keys`` (where known) in the
    order of ``elements``: it is read by key (``params["W1"]``), and its adjoint is a dict."""

    length: int | None = None
    elements: tuple | None = None
    element: Any = None
    keys: tuple | None = None
    mapping: bool = False


@dataclass(frozen=True)
class Instance:
    """The shape of an object of a user's class (a model whose parameters are attributes):
    ``kind`` is its class, so that ``model.loss(x)`` is known to call ``kind.loss``;
    ``sequences`` the attributes that hold lists or tuples (``self.layers``), whose adjoints
    are tuples; ``attributes`` every attribute the object holds, by name, with the shape of
    what it holds where that is an array or a number (None otherwise, or where not known)."""

    kind: type
    sequences: frozenset = frozenset()
    attributes: tuple[tuple[str, Any], ...] = ()


def is_integer(shape: Any) -> bool:
    """Whether a value of this shape is known to be an integer."""
    return shape == INTEGER or isinstance(shape, Count | Integer)


def constant_size(length: int) -> Any:
    """The dimension of a length known now."""
    return 1 if length == 1 else Size(("constant", length), True)


def is_many(size: Any) -> bool:
    """Whether a dimension of this size is known not to be 1."""
    return isinstance(size, Size) and size.many


def same_length(a: Any, b: Any) -> bool:
    """Whether dimensions of sizes ``a`` and ``b`` are known to have one length."""
    if a == 1 or b == 1:
        return a == b
    return (
        isinstance(a, Size)
        and isinstance(b, Size)
        and a.origin is not None
        and a.origin == b.origin
    )


def coexisting_same_length(a: Any, b: Any) -> bool:
    """Whether dimensions of sizes ``a`` and ``b`` of two values that exist together (an
    operand and the result it was broadcast into) have one length: ``same_length``, or
    lengths cut from one origin that agree at every length of it where both values can be
    made (a length where either cannot is never met with both), the two largest of
    ``LENGTHS`` among them (past those each is constant or grows with the origin's length,
    so agreeing there they agree at every larger length)."""
    if same_length(a, b):
        return True
    first, second = _lengths(a), _lengths(b)
    if first is None or second is None or first[0] is None or first[0] != second[0]:
        return False
    pairs = list(zip(first[1], second[1], strict=True))
    if any(None in pair for pair in pairs[-2:]):
        return False
    return all(x == y for x, y in pairs if None not in (x, y))


def named(shape: Any, name: str) -> Any:
    """``shape``, an argument's, with each dimension not 1 named after the parameter ``name``."""
    if not isinstance(shape, tuple):
        return shape
    return dims_like(
        shape,
        (
            (
                size
                if size == 1 or (isinstance(size, Size) and size.origin is not None)
                else Size((name, axis), is_many(size))
            )
            for axis, size in enumerate(shape)
        ),
    )


def anonymous(shape: Any) -> Any:
    """``shape`` with what it knows of lengths' origins forgotten: what a specialisation's key
    holds (a helper's pullback is keyed by its parameters' shapes)."""
    if isinstance(shape, tuple):
        return dims_like(
            shape,
            (
                size if size == 1 or size is None else (MANY if is_many(size) else None)
                for size in shape
            ),
        )
    if isinstance(shape, Count | Integer):
        return INTEGER
    if isinstance(shape, Sizes):
        return SIZES
    if isinstance(shape, Sequence):
        elements = None if shape.elements is None else tuple(map(anonymous, shape.elements))
        return Sequence(
            shape.length, elements, anonymous(shape.element), shape.keys, shape.mapping
        )
    return shape


_NESTING = 4  # tuples nested deeper are known as tuples, their elements not (inference ends)


def tuple_of(elements: tuple, depth: int = _NESTING) -> Sequence:
    """The shape of a tuple of elements of these shapes."""
    if depth == 0:
        return Sequence(len(elements))
    return Sequence(
        len(elements),
        tuple(
            tuple_of(e.elements, depth - 1) if isinstance(e, Sequence) and e.elements else e
            for e in elements
        ),
    )


@dataclass(frozen=True)
class Operand:
    """An argument of a call as shape inference sees it: its shape, and its value when it is a
    literal constant (``axis=1``, ``keepdims=True``)."""

    shape: Any
    value: Any = None
    constant: bool = False


def argument_shape(value: Any) -> Any:
    """The shape an argument of the user's function specialises the adjoint on."""
    if type(value) is np.ndarray:  # not a subclass such as np.matrix, whose operators differ
        if value.dtype.kind not in REAL_KINDS:
            return None  # complex or objects: a result computed from it may not be a real number
        return _array_shape(value)
    if is_foreign_array(value):  # Dask, CuPy: the same adjoint as for an ndarray of its shape
        if value.dtype.kind not in REAL_KINDS or unknown_shape(value):
            return None
        return _array_shape(value)
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return INTEGER
    if isinstance(value, numbers.Real):
        return ()
    if _is_instance(value):
        return _instance_shape(value, _HELD_DEPTH)
    return None


def _array_shape(array: Any) -> tuple:
    """An array argument's shape: which dimensions are 1, and whether it holds integers."""
    sizes = tuple(1 if size == 1 else MANY for size in array.shape)
    return IntegerDims(sizes) if array.dtype.kind in INTEGER_KINDS else sizes


_HELD_DEPTH = 2  # objects held by objects held by an argument: their shapes known this deep


def _is_instance(value: Any) -> bool:
    return (
        hasattr(value, "__dict__")
        and (not callable(value) or _called_as_a_method(value))
        and not isinstance(value, np.ndarray | types.ModuleType | type)
    )


def _instance_shape(value: Any, depth: int) -> Instance:
    held = sorted(vars(value).items(), key=lambda item: item[0])
    return Instance(
        type(value),
        frozenset(n for n, v in held if isinstance(v, list | tuple)),
        tuple((n, _held_shape(v, depth)) for n, v in held),
    )


def classes_only(shape: Instance) -> Instance:
    """``shape`` without what it says of arrays and numbers: the classes of the object and
    of the objects it holds, and its attributes by name (what an adjoint compiled without the
    shapes optimisation is specialised on)."""
    return replace(
        shape,
        attributes=tuple(
            (name, classes_only(held) if isinstance(held, Instance) else None)
            for name, held in shape.attributes
        ),
    )


def _held_shape(value: Any, depth: int) -> Any:
    """The shape of an object's attribute that holds an array, a number, or (``depth`` levels
    down) an object of a user's class; None for anything else."""
    if type(value) is np.ndarray or is_foreign_array(value) or isinstance(value, numbers.Real):
        return argument_shape(value)
    if depth > 0 and _is_instance(value):
        return _instance_shape(value, depth - 1)
    return None


def _called_as_a_method(value: Any) -> bool:
    """Whether ``value`` is an object (not a function, class or module) whose class defines
    ``__call__`` as a plain function: a call ``cell(h)`` runs that method, which overbar reads
    and differentiates as it does ``model.loss(x)``."""
    if isinstance(value, type | types.FunctionType | types.MethodType | types.ModuleType):
        return False
    found = inspect.getattr_static(type(value), "__call__", None)
    return isinstance(found, types.FunctionType) and not is_library_code(found)


def is_library_code(function: types.FunctionType) -> bool:
    """Whether ``function`` is NumPy's, SciPy's or overbar's own (a callable object of theirs,
    ``interp1d``, a gradient, is not the user's code to differentiate as a method)."""
    return (function.__module__ or "").split(".")[0] in ("numpy", "scipy", "overbar")


def container_shape(value: tuple | list | dict, depth: int = 64) -> Sequence:
    """The shape of a tuple, list or dict argument that is differentiated (a container of
    parameters): its length (and keys) and its elements' shapes, nested containers included
    (all of them, up to a depth no one nests parameters to: ``depth`` levels)."""
    parts = list(value.values()) if type(value) is dict else list(value)
    keys = tuple(value) if type(value) is dict else None
    if depth == 0:
        return Sequence(len(parts), keys=keys, mapping=keys is not None)
    elements = tuple(
        (
            container_shape(part, depth - 1)
            if type(part) in (tuple, list, dict)
            else argument_shape(part)
        )
        for part in parts
    )
    common: Any = NO_ELEMENT
    for element in elements:
        common = element if common == NO_ELEMENT else join(common, element)
    return Sequence(len(parts), elements, common, keys, keys is not None)


def skeleton(shape: Any) -> Any:
    """What ``shape`` says of containers (their lengths and keys), and nothing of arrays: what
    the adjoint needs to be right at all, where it is not specialised on shapes."""
    if not isinstance(shape, Sequence):
        return None
    elements = None if shape.elements is None else tuple(map(skeleton, shape.elements))
    return Sequence(shape.length, elements, keys=shape.keys, mapping=shape.mapping)


def dims(shape: Any) -> tuple | None:
    """The dimensions of a shape (a number's are ``()``), or None if the rank is unknown."""
    if is_integer(shape):
        return ()
    return shape if isinstance(shape, tuple) else None


def _join_sizes(a: Any, b: Any) -> Any:
    if a == b:
        return a
    if same_length(a, b):
        return Size(a.origin, a.many and b.many)
    return MANY if is_many(a) and is_many(b) else None


def join(a: Any, b: Any) -> Any:
    """What is known of a value that has shape ``a`` on one path and ``b`` on another."""
    if a == b:
        return a
    if isinstance(a, Sequence) and isinstance(b, Sequence):
        element = _join_elements(a.element, b.element)
        mapping = a.mapping or b.mapping  # either may be a dict: read by key only
        if a.length != b.length or a.keys != b.keys:
            return Sequence(element=element, mapping=mapping)
        if a.elements is None or b.elements is None:
            return Sequence(a.length, element=element, keys=a.keys, mapping=mapping)
        return Sequence(
            a.length, tuple(map(join, a.elements, b.elements)), element, a.keys, mapping
        )
    if is_integer(a) and is_integer(b):
        size = (
            _join_sizes(a.size, b.size) if isinstance(a, Count) and isinstance(b, Count) else None
        )
        return INTEGER if size is None else Count(size)
    if isinstance(a, Sizes) and isinstance(b, Sizes):
        return Sizes(join(a.dims, b.dims))
    if isinstance(a, IntegerDims) and isinstance(b, IntegerDims) and len(a) == len(b):
        return IntegerDims(map(_join_sizes, a, b))  # integers on either path
    a, b = dims(a), dims(b)
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(map(_join_sizes, a, b))


def _join_elements(a: Any, b: Any) -> Any:
    if a == NO_ELEMENT:
        return b
    if b == NO_ELEMENT:
        return a
    return None if a is None or b is None else join(a, b)


def _broadcast_sizes(sizes: list) -> Any:
    others = [size for size in sizes if size != 1]
    if not others:
        return 1
    many = [size for size in others if is_many(size)]
    if many:  # the others are 1 or equal to it, or NumPy would raise
        return next((size for size in many if size.origin is not None), many[0])
    if all(same_length(size, others[0]) for size in others[1:]) and others[0] is not None:
        return others[0]
    return _length_of(others, _broadcast_length)


def _broadcast_length(column: tuple) -> Any:
    """The length lengths ``column`` broadcast to, None where NumPy raises (two lengths other
    than 1 that differ): a length the result cannot have then, for it is never made."""
    others = {length for length in column if length != 1}
    return 1 if not others else others.pop() if len(others) == 1 else None


def broadcast(*shapes: Any) -> Any:
    """The shape of an elementwise operation on operands of these shapes."""
    known = [dims(shape) for shape in shapes]
    if any(shape is None for shape in known):
        return None
    rank = max(len(shape) for shape in known)
    return tuple(
        _broadcast_sizes([s[axis - rank + len(s)] for s in known if axis - rank + len(s) >= 0])
        for axis in range(rank)
    )


def covers(shape: Any, target: Any) -> bool:
    """Whether broadcasting ``target`` against ``shape`` surely gives ``shape``."""
    shape, target = dims(shape), dims(target)
    if shape is None or target is None or len(target) > len(shape):
        return False
    aligned = shape[len(shape) - len(target) :]
    return all(
        t == 1 or is_many(s) or same_length(s, t) for s, t in zip(aligned, target, strict=True)
    )


def element_shape(iterable: Any) -> Any:
    """The shape of the elements a for loop takes from an iterable of shape ``iterable``."""
    if iterable == RANGE:
        return INTEGER
    if isinstance(iterable, Sequence):
        if iterable.mapping:  # a loop over a dict takes its keys
            return None
        return None if iterable.element == NO_ELEMENT else iterable.element
    return row_shape(iterable)


def unbroadcast_axes(result: Any, operand: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """How ``unbroadcast(g, operand)`` sums a ``g`` shaped like ``result``: the leading axes it
    removes and the axes it sums keeping them; None if that depends on sizes not known."""
    result, operand = dims(result), dims(operand)
    if result is None or operand is None or len(operand) > len(result):
        return None
    leading = len(result) - len(operand)
    kept = []
    for axis, size in enumerate(operand):
        out = result[leading + axis]
        if size == 1:
            if out != 1:
                kept.append(leading + axis)
        elif not (out == 1 or is_many(size) or coexisting_same_length(size, out)):
            return None  # summed if it is 1, kept if it is not
    return tuple(range(leading)), tuple(kept)


def slice_length(size: Any, bounds: slice) -> Any:
    """The size of ``x[bounds]`` along a dimension of size ``size``, for constant bounds."""
    if bounds == slice(None):
        return size
    parts = (bounds.start, bounds.stop, bounds.step)
    if not all(p is None or (type(p) is int and abs(p) <= _LARGEST_BOUND) for p in parts):
        return None
    if bounds.step not in (None, 1, -1):
        return constant_size(len(range(1)[bounds])) if size == 1 else None
    if size == 1:
        return constant_size(len(range(1)[bounds]))
    origin = size.origin if isinstance(size, Size) else None
    if isinstance(origin, tuple) and origin[0] == "constant":
        return constant_size(len(range(origin[1])[bounds]))
    # the length for every size the dimension may have (None for a size it cannot have): two
    # slices of one origin whose lengths agree on all these sizes agree on every size (with
    # steps 1 and -1 and bounds of at most _LARGEST_BOUND, each length is constant or the size
    # less a constant beyond these sizes; x[::-1] has the size itself)
    lengths = tuple(None if is_many(size) and n == 1 else len(range(n)[bounds]) for n in _LENGTHS)
    possible = [length for length in lengths if length is not None]
    if all(length is None or length == n for n, length in zip(_LENGTHS, lengths, strict=True)):
        return size
    if origin is None and 1 in possible:
        return None
    return Size(None if origin is None else ("slice", origin, lengths), 1 not in possible)


# -- shape rules: primal -> function of Operands (and keyword Operands) -> shape ---------------


def _elementwise(*operands: Operand, **keywords: Operand) -> Any:
    if keywords:
        return None
    return broadcast(*(operand.shape for operand in operands))


def _arithmetic(*operands: Operand, **keywords: Operand) -> Any:
    """``+ - * // %`` and negation, which keep integers integers."""
    if not keywords and all(is_integer(operand.shape) for operand in operands):
        return INTEGER
    return _elementwise(*operands, **keywords)


def _clipped(a: Operand, *bounds: Operand, **keywords: Operand) -> Any:
    """``np.clip(a, lo, hi)``: the broadcast of ``a`` and its bounds, a bound ``None`` (no
    bound) left out; not known with an ``out`` or a bound given by another keyword."""
    bounds += tuple(keywords.pop(name) for name in ("a_min", "a_max") if name in keywords)
    if keywords:
        return None
    present = [b for b in bounds if not (b.constant and b.value is None)]
    return broadcast(a.shape, *(b.shape for b in present))


def _squeezed(a: Operand, axis: Operand = Operand((), None, True)) -> Any:
    """``np.squeeze(a, axis)``: a's dimensions less those of ``axis`` (NumPy refuses an axis
    whose length is not 1, so which they are is all that matters); without an axis, less every
    dimension of length 1, known only where each is known to be 1 or not."""
    shape = dims(a.shape)
    if shape is None:
        return None
    if axis.constant and axis.value is None:
        if not all(size == 1 or is_many(size) for size in shape):
            return None
        return tuple(size for size in shape if size != 1)
    axes = _axes(axis, len(shape))
    if axes is None:
        return None
    return tuple(size for position, size in enumerate(shape) if position not in axes)


def _expanded(a: Operand, axis: Operand) -> Any:
    """``np.expand_dims(a, axis)``: a's dimensions with a 1 at each axis of the result."""
    shape = dims(a.shape)
    if shape is None:
        return None
    axes = _axes(axis, len(shape) + (len(axis.value) if isinstance(axis.value, tuple) else 1))
    if axes is None:
        return None
    rest = iter(shape)
    return tuple(
        1 if position in axes else next(rest) for position in range(len(shape) + len(axes))
    )


def _matmul(x: Operand, y: Operand) -> Any:
    a, b = dims(x.shape), dims(y.shape)
    if a is None or b is None or not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        return None
    return a[:-1] + b[:-2] + b[-1:] if len(b) == 2 else a[:-1]


def _dot(x: Operand, y: Operand) -> Any:
    a, b = dims(x.shape), dims(y.shape)
    if a == () or b == ():
        return broadcast(x.shape, y.shape)
    return _matmul(x, y)


def _axes(axis: Operand, rank: int) -> tuple[int, ...] | None:
    if not axis.constant:
        return None
    value = axis.value
    if value is None:
        return tuple(range(rank))
    values = value if isinstance(value, tuple) else (value,)
    values = tuple(v.value if isinstance(v, Operand) and v.constant else v for v in values)
    if not all(type(v) is int and -rank <= v < rank for v in values) or len(
        set(v % rank for v in values)
    ) != len(values):
        return None
    return tuple(v % rank for v in values)


def _reduction(
    a: Operand,
    axis: Operand = Operand((), None, True),
    *,
    keepdims: Operand = Operand((), False, True),
    **others: Operand,
) -> Any:
    shape = dims(a.shape)
    if shape is None or not keepdims.constant or set(others) - {"ddof"}:
        return None
    axes = _axes(axis, len(shape))
    if axes is None:
        return None
    if keepdims.value:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes)


def _elements_size(shape: tuple) -> Any:
    """The number of elements of an array of this shape, as a dimension's size: 1 when every
    dimension is 1, the one other dimension's size, ``MANY`` for several each known not to
    be 1 (no product of such lengths is 1), else not known."""
    others = [size for size in shape if size != 1]
    if not others:
        return 1
    if len(others) == 1:
        return others[0]
    return MANY if all(is_many(size) for size in others) else None


def _reshaped(a: Operand, *newshape: Operand, order: Operand | None = None) -> Any:
    """``a.reshape(...)`` and ``np.reshape(a, ...)``: the dimensions asked for, lengths
    given as integers, counts (``n``, ``x.shape[0]``) or one ``-1`` (the rest: known where
    the other lengths asked for are 1)."""
    shape = dims(a.shape)
    if shape is None or not newshape or (order is not None and order.value != "C"):
        return None
    spec = newshape[0] if len(newshape) == 1 else Operand(None, tuple(newshape), True)
    if spec.constant and isinstance(spec.value, tuple):
        parts = [p if isinstance(p, Operand) else constant_operand(p) for p in spec.value]
    else:
        parts = [spec]
    inferred = [i for i, part in enumerate(parts) if part.constant and part.value == -1]
    if len(inferred) > 1:
        return None
    sizes = [None if i in inferred else _dimension(part) for i, part in enumerate(parts)]
    if any(size is _NOT_A_SIZE for size in sizes):
        return None
    if inferred:
        given = [size for i, size in enumerate(sizes) if i not in inferred]
        sizes[inferred[0]] = _elements_size(shape) if all(g == 1 for g in given) else None
    return tuple(sizes)


def _flattened(a: Operand, order: Operand | None = None) -> Any:
    """``a.ravel()``, ``a.flatten()``, ``np.ravel(a)``: one dimension of every element."""
    shape = dims(a.shape)
    if shape is None or (order is not None and order.value != "C"):
        return None
    return (_elements_size(shape),)


def _transposed(a: Operand, axes: Operand | None = None) -> Any:
    """``a.T`` and ``np.transpose(a, axes)``: a's dimensions reversed, or in the order of
    literal ``axes`` (a permutation of a's, negative ones counted from the end)."""
    shape = dims(a.shape)
    if shape is None:
        return None
    if axes is None or (axes.constant and axes.value is None):
        return shape[::-1]
    order = _axes(axes, len(shape)) if axes.constant else None
    if order is None or len(order) != len(shape):
        return None
    return tuple(shape[k] for k in order)


def _swapped(a: Operand, axis1: Operand, axis2: Operand) -> Any:
    """``np.swapaxes(a, i, j)``: a's dimensions with the literal axes i and j exchanged."""
    shape = dims(a.shape)
    if shape is None or not (axis1.constant and axis2.constant):
        return None
    i, j = axis1.value, axis2.value
    if not (type(i) is int and type(j) is int and -len(shape) <= min(i, j)):
        return None
    if max(i, j) >= len(shape):
        return None
    swapped = list(shape)
    swapped[i], swapped[j] = shape[j], shape[i]
    return tuple(swapped)


def _moved(a: Operand, source: Operand, destination: Operand) -> Any:
    """``np.moveaxis(a, s, d)``: a's dimensions with the literal axes s moved to d."""
    shape = dims(a.shape)
    if shape is None or not (source.constant and destination.constant):
        return None
    sources = _axes(source, len(shape)) if shape else None
    destinations = _axes(destination, len(shape)) if shape else None
    if sources is None or destinations is None or len(sources) != len(destinations):
        return None
    rest = [k for k in range(len(shape)) if k not in sources]
    order = [None] * len(shape)
    for s, d in sorted(zip(destinations, sources, strict=True)):
        order[s] = d
    remaining = iter(rest)
    order = [next(remaining) if k is None else k for k in order]
    return tuple(shape[k] for k in order)


def _same(a: Operand, *others: Operand, **keywords: Operand) -> Any:
    return None if isinstance(a.shape, Sequence) else a.shape  # np.copy of a list: an array


def _rolled(a: Operand, shift: Operand, axis: Operand | None = None) -> Any:
    """``np.roll(a, shift, axis)``: a's shape, whatever the shift and axis (without an axis
    the flattened array is rolled and given a's shape back)."""
    return None if isinstance(a.shape, Sequence) else a.shape


def _as_array(a: Operand, **keywords: Operand) -> Any:
    """np.array(a): a's shape; of a tuple or list of known length whose elements' shapes are
    known (``np.array([R[i, j], x[0], s])``, nested displays too), its length followed by
    what every element has (NumPy refuses elements of other shapes); else not known."""
    if set(keywords) - {"dtype"}:
        return None
    if isinstance(a.shape, Sequence):
        return _display_dims(a.shape)
    if is_integer(a.shape):  # np.float64(i), np.array(i): what dtype, not said here
        return ()
    return without_integers(a.shape)  # a dtype given, or np.float64(labels), changes it


def _display_dims(shape: Any) -> tuple | None:
    """The dimensions of the array NumPy makes of a tuple or list of this shape, or None."""
    if not isinstance(shape, Sequence):
        return dims(shape)
    if shape.mapping or shape.length is None or not shape.elements:
        return None
    parts = [_display_dims(element) for element in shape.elements]
    if any(part is None for part in parts):
        return None
    common = parts[0]
    for part in parts[1:]:
        common = join(common, part)
    if common is None:
        return None
    return (constant_size(shape.length), *common)


def _number(*operands: Operand, **keywords: Operand) -> Any:
    return ()


def _integer(*operands: Operand, **keywords: Operand) -> Any:
    return INTEGER


def _length(a: Operand) -> Any:
    """len(a): the length of a's first dimension."""
    shape = dims(a.shape)
    return Count(shape[0]) if shape else INTEGER


def _sizes(a: Operand) -> Any:
    return Sizes(dims(a.shape))


def _tuple(iterable: Operand) -> Any:
    """tuple(xs) is a sequence; of a tuple, with its length and elements (of a dict: its keys)."""
    shape = iterable.shape
    return shape if isinstance(shape, Sequence) and not shape.mapping else Sequence()


def _list(iterable: Operand) -> Any:
    """list(xs) is a sequence whose length appends may change, as for a list display; its
    elements are an array's rows (``list(coeffs)``) or a sequence's elements, as they are for a
    display of them (``[coeffs[0], coeffs[1], ...]``)."""
    if isinstance(iterable.shape, Sequence) and not iterable.shape.mapping:
        return Sequence(element=iterable.shape.element)
    if dims(iterable.shape):  # a 0-d array is not iterable
        return Sequence(element=row_shape(iterable.shape))
    return Sequence()


def _getitem(a: Operand, index: Operand) -> Any:
    if isinstance(a.shape, Sizes):
        if not is_integer(index.shape):
            return None
        known = a.shape.dims
        if index.constant and known is not None and -len(known) <= index.value < len(known):
            return Count(known[index.value])
        return INTEGER
    if isinstance(a.shape, Sequence):
        return _sequence_item(a.shape, index)
    shape = dims(a.shape)
    if shape is None:
        return None
    vectors = _vector_indices(index, len(shape))
    if vectors is not None:
        return IntegerDims(vectors) if isinstance(shape, IntegerDims) else vectors
    parts = index.value if index.constant and isinstance(index.value, tuple) else (index,)
    parts = [p if isinstance(p, Operand) else Operand(_constant_shape(p), p, True) for p in parts]
    consuming = [p for p in parts if not (p.constant and (p.value is None or p.value is ...))]
    if len(consuming) > len(shape) or sum(p.constant and p.value is ... for p in parts) > 1:
        return None
    result, axis = [], 0
    for part in parts:
        if part.constant and part.value is None:  # np.newaxis
            result.append(1)
        elif part.constant and part.value is ...:
            skipped = len(shape) - len(consuming)
            result.extend(shape[axis : axis + skipped])
            axis += skipped
        elif is_integer(part.shape):
            axis += 1
        elif part.constant and isinstance(part.value, slice):
            result.append(slice_length(shape[axis], part.value))
            axis += 1
        else:
            return None  # arrays and masks change the shape in ways not followed
    result = tuple(result) + shape[axis:]
    return of_integers(result) if isinstance(shape, IntegerDims) else result


def _vector_indices(index: Operand, rank: int) -> Any:
    """The shape of ``a[i, j]`` for ``a`` of rank ``rank`` and a tuple of vectors, one per
    axis (``log_p[np.arange(n), labels]``): a vector (each vector is an index array, or a
    mask of one axis, which NumPy reads as the index array of its true elements; one-axis
    index arrays broadcast to one axis), whose length is not known (a mask's is its count of
    true elements). None where the index is anything else."""
    if not (index.constant and isinstance(index.value, tuple)):
        return None
    parts = index.value
    if rank == 0:
        return None  # a[()] of a 0-d array: a number, which the rule below says
    if len(parts) != rank or not all(isinstance(p, Operand) and not p.constant for p in parts):
        return None
    if not all(isinstance(p.shape, tuple) and len(p.shape) == 1 for p in parts):
        return None
    return (None,)


def _sequence_item(sequence: Sequence, index: Operand) -> Any:
    """The shape of ``t[index]`` for a tuple or list ``t``: an element's, or a tuple's (for a
    dict ``t``: the element of the literal key ``index``, or for a key not known now, what
    every element has, as ``params[name]`` in a loop over layers of one structure)."""
    elements = sequence.elements
    if sequence.mapping:
        if index.constant and sequence.keys is not None and index.value in sequence.keys:
            return None if elements is None else elements[sequence.keys.index(index.value)]
        if index.constant or not elements:
            return None
        return _joined(elements)
    if index.constant and isinstance(index.value, slice):
        bounds = index.value
        parts = (bounds.start, bounds.stop, bounds.step)
        if elements is None or not all(p is None or type(p) is int for p in parts):
            return Sequence(element=sequence.element)
        return Sequence(len(elements[bounds]), elements[bounds])
    if not is_integer(index.shape):
        return None
    if not elements:
        return None if sequence.element == NO_ELEMENT else sequence.element
    if index.constant:
        return elements[index.value] if -len(elements) <= index.value < len(elements) else None
    return _joined(elements)  # t[i] for an i not known now: what every element has


def _joined(elements: tuple) -> Any:
    """What is known of a value that is one of ``elements``, which one not known now."""
    shape = elements[0]
    for element in elements[1:]:
        shape = join(shape, element)
    return shape


def _constant_shape(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return ()
    return None


def _dimensions(shape: Operand) -> tuple | None:
    """The shape of an array made with ``shape`` as its shape argument (``np.zeros(shape)``):
    an integer, a tuple of them, or another array's ``.shape``."""
    if shape.constant and isinstance(shape.value, tuple):
        parts = [p if isinstance(p, Operand) else constant_operand(p) for p in shape.value]
        sizes = [
            clamped_size(part.shape.key) if isinstance(part.shape, Integer) else _dimension(part)
            for part in parts
        ]
        return None if any(size is _NOT_A_SIZE for size in sizes) else tuple(sizes)
    if isinstance(shape.shape, Sizes):
        return shape.shape.dims
    if isinstance(shape.shape, Integer):  # made with n elements: n ≥ 0, else it raises
        return (clamped_size(shape.shape.key),)
    size = _dimension(shape)
    return None if size is _NOT_A_SIZE else (size,)


_NOT_A_SIZE = object()


def _dimension(length: Operand) -> Any:
    if length.constant and type(length.value) is int:
        return constant_size(length.value)
    if isinstance(length.shape, Count):
        return length.shape.size
    return None if is_integer(length.shape) else _NOT_A_SIZE


def _made(shape: Operand, *others: Operand, **keywords: Operand) -> Any:
    """np.zeros(shape), np.ones, np.empty and np.full."""
    return _dimensions(shape)


def _made_like(a: Operand, *others: Operand, shape: Operand | None = None, **keywords) -> Any:
    """np.zeros_like(a) and its kind: a's shape (or the one given)."""
    if shape is not None:
        return _dimensions(shape)
    return None if isinstance(a.shape, Sequence) else dims(a.shape)


def _eye(n: Operand, m: Operand | None = None, *others: Operand, **keywords: Operand) -> Any:
    rows = _dimension(n)
    columns = rows if m is None or (m.constant and m.value is None) else _dimension(m)
    return None if _NOT_A_SIZE in (rows, columns) else (rows, columns)


def _arange(*operands: Operand, **keywords: Operand) -> Any:
    if keywords or not operands:
        return None
    if all(o.constant and isinstance(o.value, int | float) for o in operands):
        return (constant_size(len(np.arange(*(o.value for o in operands)))),)
    return (None,)


def _linspace(start: Operand, stop: Operand, num: Operand | None = None, **keywords) -> Any:
    if dims(start.shape) != () or dims(stop.shape) != () or set(keywords) - {"endpoint", "dtype"}:
        return None
    size = constant_size(50) if num is None else _dimension(num)
    return None if size is _NOT_A_SIZE else (size,)


def _outer(a: Operand, b: Operand) -> Any:
    x, y = dims(a.shape), dims(b.shape)
    if x is None or y is None or len(x) != 1 or len(y) != 1:
        return None
    return (x[0], y[0])


def _lengths(size: Any) -> tuple[Any, tuple] | None:
    """A dimension's length as a function of the length of the one it is cut from: (that
    one's origin, or None for a constant; the length for each of ``_LENGTHS``, None for a
    length that one cannot have)."""
    if size == 1:
        return None, tuple(1 for _ in _LENGTHS)
    if not isinstance(size, Size) or size.origin is None:
        return None
    origin = size.origin
    if isinstance(origin, tuple) and origin[0] == "constant":
        return None, tuple(origin[1] for _ in _LENGTHS)
    if isinstance(origin, tuple) and origin[0] == "slice":
        return origin[1], origin[2]
    return origin, tuple(None if size.many and n == 1 else n for n in _LENGTHS)


def length_table(size: Any) -> tuple[Any, tuple] | None:
    """A dimension's length for each of ``LENGTHS`` its origin may have: (the origin, or None
    for a constant; the lengths, None where the origin cannot have that length); None where
    that is not known. Two lengths of one origin that agree on all of ``LENGTHS`` agree on every
    length (each is constant or grows with it, past the largest bound a slice may have)."""
    return _lengths(size)


LENGTHS = _LENGTHS
LARGEST_BOUND = _LARGEST_BOUND


def from_length(size: Any, least: int) -> Any:
    """``size``, a function of an origin's length by its table (``length_table``), where the
    origin is known to be at least ``least`` long: the table's entries below that left out
    (lengths never met); the origin's own length where the rest gives it."""
    table = _lengths(size)
    if table is None or table[0] is None:
        return size
    origin, lengths = table
    trimmed = tuple(None if n < least else t for n, t in zip(_LENGTHS, lengths, strict=True))
    if all(t is None or t == n for n, t in zip(_LENGTHS, trimmed, strict=True)):
        return Size(origin, trimmed[1] is None)
    many = all(t != 1 for t in trimmed if t is not None)
    return Size(("slice", origin, trimmed), many)


def _summed_length(sizes: list) -> Any:
    """The length of pieces of these lengths laid end to end: ``u``'s again for ``u[:1]``,
    ``u[1:-1]`` and ``u[-1:]`` (for every length u may have), where that is known; else
    ``MANY`` where every piece's length is known not to be 1 (no sum of such lengths is 1)."""
    unrelated = MANY if sizes and all(is_many(size) for size in sizes) else None
    parts = [_lengths(size) for size in sizes]
    if any(part is None for part in parts):
        return unrelated
    origins = {origin for origin, _ in parts if origin is not None}
    if len(origins) > 1:
        return unrelated
    totals = tuple(
        None if None in column else sum(column)
        for column in zip(*(lengths for _, lengths in parts), strict=True)
    )
    if not origins:
        return constant_size(totals[0])
    origin = origins.pop()
    if all(t is None or t == n for n, t in zip(_LENGTHS, totals, strict=True)):
        return Size(origin, totals[1] is None)
    return Size(("slice", origin, totals), all(t != 1 for t in totals if t is not None))


def _length_of(sizes: list, combine: Callable[[tuple], Any]) -> Any:
    """The length ``combine`` gives of lengths of these sizes, for each length their one
    origin may have (``combine`` answers None where NumPy raises: a length the result cannot
    have), where every size is known as a function of at most one origin; else None."""
    parts = [_lengths(size) for size in sizes]
    if not parts or any(part is None for part in parts):
        return None
    origins = {origin for origin, _ in parts if origin is not None}
    if len(origins) > 1:
        return None
    totals = tuple(
        None if None in column else combine(column)
        for column in zip(*(lengths for _, lengths in parts), strict=True)
    )
    if not origins:
        return None if totals[0] is None else constant_size(totals[0])
    origin = origins.pop()
    if all(t is None for t in totals[-2:]):
        return None
    if all(t is None or t == n for n, t in zip(_LENGTHS, totals, strict=True)):
        return Size(origin, totals[1] is None)
    return Size(("slice", origin, totals), all(t != 1 for t in totals if t is not None))


def _convolved_length(mode: str) -> Callable[[tuple], Any]:
    """The length of ``np.convolve(a, v, mode)`` (``np.correlate`` too) of lengths n and m;
    None where NumPy raises (an empty operand)."""

    def length(column: tuple) -> Any:
        n, m = column
        if n == 0 or m == 0:
            return None
        if mode == "full":
            return n + m - 1
        if mode == "same":
            return max(n, m)
        return max(n, m) - min(n, m) + 1

    return length


def _convolved_by_table(a: Operand, v: Operand, mode: Operand | None = None) -> Any:
    """``np.convolve(a, v, mode)`` and ``np.correlate``: a vector, of a length known where one
    operand's length is a constant no larger than ``LARGEST_BOUND`` and the other's is known
    (as a function of one origin, growing with it as the result then does past that bound;
    a number counts as one element); ``mode`` a literal (correlate's default ``'valid'`` is
    given by its rule, convolve's ``'full'`` here). Else a vector of a length not known."""
    sizes = []
    for operand in (a, v):
        shape = dims(operand.shape)
        if shape is None or len(shape) > 1:
            return (None,)
        sizes.append(shape[0] if shape else 1)
    if mode is not None and not (mode.constant and mode.value in ("full", "same", "valid")):
        return (None,)
    tables = [_lengths(size) for size in sizes]
    constants = [t for t in tables if t is not None and t[0] is None and t[1][0] <= _LARGEST_BOUND]
    if not constants:
        return (None,)
    return (_length_of(sizes, _convolved_length("full" if mode is None else mode.value)),)


def _concatenate(arrays: Operand, axis: Operand | None = None, **keywords: Operand) -> Any:
    """Pieces of one rank joined along ``axis`` (a literal; 0 if not given): the other
    dimensions are each piece's (NumPy raises where they differ), the joined one their sum."""
    if keywords or not isinstance(arrays.shape, Sequence) or arrays.shape.elements is None:
        return None
    pieces = [dims(shape) for shape in arrays.shape.elements]
    if not pieces or any(p is None for p in pieces) or len({len(p) for p in pieces}) != 1:
        return None
    rank = len(pieces[0])
    position = 0 if axis is None else axis.value if axis.constant else None
    if type(position) is not int or not -rank <= position < rank:
        return None
    position %= rank
    result = []
    for k in range(rank):
        sizes = [piece[k] for piece in pieces]
        if k == position:
            result.append(_summed_length(sizes))
        else:
            named = [size for size in sizes if isinstance(size, Size) and size.origin is not None]
            result.append(sizes[0] if sizes[0] == 1 else (named or sizes)[0])
    return tuple(result)


def _promoted(arrays: Operand, rank: int) -> Operand | None:
    """The pieces of a join as ``np.atleast_1d`` (``rank`` 1) or ``np.atleast_2d`` (2) makes
    them before joining: a number becomes a vector of one element, a vector a row (1, n); a
    piece of at least that rank stays as it is. None where a piece's rank is not known."""
    if not isinstance(arrays.shape, Sequence) or arrays.shape.elements is None:
        return None
    pieces = []
    for shape in arrays.shape.elements:
        known = dims(shape)
        if known is None:
            return None
        pieces.append((1,) * (rank - len(known)) + known if len(known) < rank else known)
    return Operand(Sequence(len(pieces), tuple(pieces)))


def _hstack(arrays: Operand, **keywords: Operand) -> Any:
    """``np.hstack``: pieces made at least vectors (a number one element long), then joined
    end to end where the first is a vector, along axis 1 otherwise (NumPy raises where the
    pieces' ranks then differ)."""
    promoted = _promoted(arrays, 1)
    if keywords or promoted is None or not promoted.shape.elements:
        return None
    rank = len(promoted.shape.elements[0])
    return _concatenate(promoted, constant_operand(0 if rank == 1 else 1))


def _vstack(arrays: Operand, **keywords: Operand) -> Any:
    """``np.vstack``: pieces made at least 2-d (a vector a row, a number a 1 × 1 matrix), then
    joined along axis 0."""
    promoted = _promoted(arrays, 2)
    if keywords or promoted is None:
        return None
    return _concatenate(promoted, constant_operand(0))


def _r_joined(*items: Operand, **keywords: Operand) -> Any:
    """``np.r_[x₁, x₂, ...]`` of numbers and vectors: a vector, a number taking one element
    (each item's rank known; a slice, a string or an array of higher rank: not followed)."""
    if keywords or not items:
        return None
    pieces = []
    for item in items:
        known = dims(item.shape)
        if known is None or len(known) > 1:
            return None
        pieces.append(known or (1,))
    return _concatenate(Operand(Sequence(len(pieces), tuple(pieces))))


def _padded(array: Operand, pad_width: Operand, *others: Operand, **keywords: Operand) -> Any:
    """``np.pad(a, k)`` for a literal integer k (any mode): each dimension k longer at each
    end; a width of another form: not followed."""
    shape = dims(array.shape)
    width = pad_width.value if pad_width.constant else None
    if shape is None or type(width) is not int or width < 0:
        return None
    if not width:
        return shape
    # at least 2 * width long: not 1, even where the length itself is not followed
    return tuple(
        _length_of([size], lambda column: column[0] + 2 * width) or MANY for size in shape
    )


def _stack(arrays: Operand, axis: Operand | None = None, **keywords: Operand) -> Any:
    """Pieces of one shape stacked along a new ``axis`` as long as there are pieces."""
    if keywords or not isinstance(arrays.shape, Sequence) or arrays.shape.elements is None:
        return None
    pieces = [dims(shape) for shape in arrays.shape.elements]
    if not pieces or any(p is None for p in pieces) or len({len(p) for p in pieces}) != 1:
        return None
    rank = len(pieces[0]) + 1
    position = 0 if axis is None else axis.value if axis.constant else None
    if type(position) is not int or not -rank <= position < rank:
        return None
    shape = []
    for sizes in zip(*pieces, strict=True):
        named = [size for size in sizes if isinstance(size, Size) and size.origin is not None]
        shape.append(sizes[0] if sizes[0] == 1 else (named or list(sizes))[0])
    shape.insert(position % rank, constant_size(len(pieces)))
    return tuple(shape)


def constant_operand(value: Any) -> Operand:
    """The operand a literal constant in the user's code is."""
    return Operand(_constant_shape(value), value, True)


def _diff(
    a: Operand,
    n: Operand | None = None,
    axis: Operand | None = None,
    prepend: Operand | None = None,
    append: Operand | None = None,
) -> Any:
    """``np.diff(a, n, axis)``: a's shape, shorter by n along ``axis``, as ``a[n:]`` is along
    it (a constant n and axis; with ``prepend`` or ``append``: not followed)."""
    shape = dims(a.shape)
    if not shape or prepend is not None or append is not None:
        return None
    order = 1 if n is None else n.value if n.constant else None
    where = -1 if axis is None else axis.value if axis.constant else None
    if type(order) is not int or order < 0 or type(where) is not int:
        return None
    if not -len(shape) <= where < len(shape):
        return None
    where %= len(shape)
    return shape[:where] + (slice_length(shape[where], slice(order, None)),) + shape[where + 1 :]


def _windows(
    x: Operand, window_shape: Operand, axis: Operand | None = None, **keywords: Operand
) -> Any:
    """``sliding_window_view(x, window_shape, axis)``: x's axes (the windowed ones as many as
    their windows), then one axis per window dimension; their lengths are not followed, only
    the rank (a window given as a number or as a tuple display of known length)."""
    shape = dims(x.shape)
    if shape is None:
        return None
    whole = axis is None or (axis.constant and axis.value in (0, -1))
    if len(shape) == 1 and whole and not keywords and is_integer(window_shape.shape):
        return _vector_windows(shape[0], _dimension(window_shape))
    if is_integer(window_shape.shape) or window_shape.shape == ():
        windowed = 1
    elif isinstance(window_shape.shape, Sequence) and window_shape.shape.length is not None:
        windowed = window_shape.shape.length
    else:
        return None
    return (None,) * (len(shape) + windowed)


def _vector_windows(n: Any, m: Any) -> tuple:
    """The windows of m elements of a vector of n: (n − m + 1, m). The count is named after
    both lengths where each has an origin (or is 1), so two windowings of the same lengths
    are known to be equally many; the window's length is m's."""
    if m is _NOT_A_SIZE:
        m = None
    named = all(size == 1 or (isinstance(size, Size) and size.origin) for size in (n, m))
    count = Size(("windows", n, m), False) if named else None
    return (count, m)


def _convolved(default: str) -> Callable[..., Any]:
    """The shape rule of np.convolve (mode ``default`` 'full') or np.correlate ('valid'): a
    vector, whose length (n + m − 1, max(n, m) or max − min + 1 by the mode) is a table of one
    origin where one operand's length is a small constant (``_convolved_by_table``), else
    named after the mode and both lengths where each has an origin (or is 1)."""

    def rule(a: Operand, v: Operand, mode: Operand | None = None) -> Any:
        shapes = [dims(a.shape), dims(v.shape)]
        if any(shape is None or len(shape) > 1 for shape in shapes):
            return (None,)
        sizes = [shape[0] if shape else 1 for shape in shapes]
        if mode is None:
            chosen = default
        elif mode.constant and mode.value in ("full", "same", "valid"):
            chosen = mode.value
        else:
            return (None,)
        tabled = _convolved_by_table(a, v, constant_operand(chosen))
        if tabled != (None,):
            return tabled  # a length comparable with slices of the same origin
        named = all(size == 1 or (isinstance(size, Size) and size.origin) for size in sizes)
        return (Size(("convolved", chosen, *sizes), False) if named else None,)

    return rule


_UNARY_METHODS = ("copy", "conj", "conjugate", "round")

SHAPE_RULES: dict[Any, Callable[..., Any]] = {
    operator.matmul: _matmul,
    np.matmul: _matmul,
    np.dot: _dot,
    Method("dot"): _dot,
    np.where: lambda *operands, **keywords: (  # np.where(c) alone gives index arrays
        _elementwise(*operands, **keywords) if len(operands) == 3 else None
    ),
    np.clip: _clipped,
    Method("clip"): _clipped,
    Attribute("T"): _transposed,
    np.transpose: _transposed,
    Method("transpose"): _transposed,
    np.swapaxes: _swapped,
    Method("swapaxes"): _swapped,
    np.moveaxis: _moved,
    np.copy: _same,
    np.roll: _rolled,
    np.array: _as_array,
    np.asarray: _as_array,
    np.float64: _as_array,  # an array stays an array; a number becomes a 0-d NumPy float
    np.float32: _as_array,
    builtins.float: _number,
    builtins.abs: _same,
    builtins.len: _length,
    builtins.tuple: _tuple,
    builtins.list: _list,
    builtins.range: lambda *operands: RANGE,
    builtins.int: _integer,
    np.size: _integer,
    np.ndim: _integer,
    Attribute("size"): _integer,
    Attribute("ndim"): _integer,
    Attribute("shape"): _sizes,
    np.shape: _sizes,
    operator.getitem: _getitem,
    np.zeros: _made,
    np.ones: _made,
    np.empty: _made,
    np.full: _made,
    np.zeros_like: _made_like,
    np.ones_like: _made_like,
    np.empty_like: _made_like,
    np.full_like: _made_like,
    np.eye: _eye,
    np.identity: _eye,
    np.arange: _arange,
    np.linspace: _linspace,
    np.outer: _outer,
    np.convolve: _convolved("full"),
    np.correlate: _convolved("valid"),
    np.diff: _diff,
    np.lib.stride_tricks.sliding_window_view: _windows,
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.squeeze: _squeezed,
    Method("squeeze"): _squeezed,
    np.expand_dims: _expanded,
    np.reshape: _reshaped,
    Method("reshape"): _reshaped,
    np.ravel: _flattened,
    Method("ravel"): _flattened,
    Method("flatten"): _flattened,
    np.hstack: _hstack,
    np.vstack: _vstack,
    np.row_stack: _vstack,
    Index(np.r_, "np.r_"): _r_joined,
    np.pad: _padded,
    **{Method(name): _same for name in _UNARY_METHODS},
    **{
        reduction: _reduction
        for reduction in (np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.average)
        + (np.var, np.std, np.nansum, np.nanmean, np.nanmax, np.nanmin, np.ptp)
        + (np.nanvar, np.nanstd, np.nanprod)
    },
    **{
        Method(name): _reduction
        for name in ("sum", "mean", "max", "min", "prod", "var", "std", "all", "any")
    },
}
_INTEGER_ARITHMETIC = (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod)
SHAPE_RULES.update(dict.fromkeys(_INTEGER_ARITHMETIC + (operator.neg, operator.pos), _arithmetic))


def _common_element(sequence: Sequence) -> Any:
    """What every element of ``sequence`` has: its ``element``, or the join of its elements
    where they are known (``NO_ELEMENT`` for none)."""
    if sequence.elements is None:
        return sequence.element
    if not sequence.elements:
        return NO_ELEMENT
    return _joined(sequence.elements)


def _concatenated(a: Operand, b: Operand, **keywords: Operand) -> Any:
    """``a + b``: for two tuples or lists, Python's join (the elements of ``a``, then those of
    ``b``); NumPy's elementwise sum otherwise."""
    if not (_is_list_shape(a.shape) and _is_list_shape(b.shape)) or keywords:
        return _arithmetic(a, b, **keywords)
    element = _join_elements(_common_element(a.shape), _common_element(b.shape))
    if a.shape.elements is None or b.shape.elements is None:
        length = None if None in (a.shape.length, b.shape.length) else a.shape.length
        length = None if length is None else length + b.shape.length
        return Sequence(length, element=element)
    return Sequence(a.shape.length + b.shape.length, a.shape.elements + b.shape.elements, element)


def _repeated(a: Operand, b: Operand, **keywords: Operand) -> Any:
    """``a * b``: for a tuple or list and an integer (either way round), Python's repetition
    (the elements repeated that many times, none for an integer below 1); NumPy's elementwise
    product otherwise."""
    sequence, count = (a, b) if _is_list_shape(a.shape) else (b, a)
    if not _is_list_shape(sequence.shape) or not is_integer(count.shape) or keywords:
        return _arithmetic(a, b, **keywords)
    element = _common_element(sequence.shape)
    times = count.value if count.constant and type(count.value) is int else None
    if times is None or sequence.shape.length is None:
        return Sequence(element=element)
    if sequence.shape.elements is None:
        return Sequence(max(times, 0) * sequence.shape.length, element=element)
    elements = sequence.shape.elements * max(times, 0)
    return Sequence(len(elements), elements, element)


def _is_list_shape(shape: Any) -> bool:
    return isinstance(shape, Sequence) and not shape.mapping


SHAPE_RULES[operator.add] = _concatenated
SHAPE_RULES[operator.mul] = _repeated
_OTHER_OPERATORS = (operator.truediv, operator.pow, operator.lt, operator.le, operator.gt)
SHAPE_RULES.update(
    dict.fromkeys(_OTHER_OPERATORS + (operator.ge, operator.eq, operator.ne), _elementwise)
)


def _norm(
    x: Operand, ord: Operand | None = None, axis: Operand | None = None, keepdims=None
) -> Any:
    """``np.linalg.norm``: a reduction over ``axis`` (every axis when not given), of any
    ``ord`` (a vector's over one axis, a matrix's over two)."""
    whole = Operand((), None, True)
    kept = keepdims if isinstance(keepdims, Operand) else Operand((), False, True)
    return _reduction(x, whole if axis is None else axis, keepdims=kept)


def _einsum(subscripts: Operand, *operands: Operand, **keywords: Operand) -> Any:
    """``np.einsum("bi,ij->bj", h, W)``: each output label's length is the one the operands
    give it (the non-1 one where a label of length 1 is broadcast); without ``->``, the labels
    that appear once, in alphabetical order. Ellipses, sublists and keywords: not followed."""
    if keywords or not (subscripts.constant and isinstance(subscripts.value, str)):
        return None
    text = subscripts.value.replace(" ", "")
    if "." in text:
        return None
    inputs, _, output = text.partition("->")
    labels = inputs.split(",")
    if len(labels) != len(operands):
        return None
    if "->" not in text:
        counts = {c: inputs.count(c) for c in inputs if c != ","}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    sizes: dict[str, list] = {}
    for spec, operand in zip(labels, operands, strict=True):
        shape = dims(operand.shape)
        if shape is None or len(shape) != len(spec):
            return None
        for label, size in zip(spec, shape, strict=True):
            sizes.setdefault(label, []).append(size)
    result = []
    for label in output:
        if label not in sizes:
            return None
        given = [size for size in sizes[label] if size != 1]
        named = [size for size in given if isinstance(size, Size) and size.origin is not None]
        result.append((named or given or [1])[0] if None not in given else None)
    return tuple(result)


def _linalg_pair(*operands: Operand, **keywords: Operand) -> Any:
    return Sequence(2)


def _svd(
    a: Operand, full_matrices: Any = None, compute_uv: Any = None, hermitian: Any = None
) -> Any:
    """(U, s, Vᵀ), or s alone for a literal compute_uv=False; not known for a variable."""
    if compute_uv is None:
        return Sequence(3)
    return (Sequence(3) if compute_uv.value else None) if compute_uv.constant else None


def _qr(a: Operand, mode: Any = None) -> Any:
    """(Q, R), or R alone for mode='r'; not known for a variable mode."""
    if mode is None:
        return Sequence(2)
    return (None if mode.value == "r" else Sequence(2)) if mode.constant else None


# Linear algebra functions that return tuples: their adjoints are tuples too.
SHAPE_RULES.update(
    {
        np.linalg.slogdet: _linalg_pair,
        np.linalg.eig: _linalg_pair,
        np.linalg.eigh: _linalg_pair,
        np.linalg.svd: _svd,
        np.linalg.lstsq: lambda *operands, **keywords: Sequence(4),
    }
)
# Elementwise functions of two results (ufuncs with nout 2, and the builtin divmod): pairs.
SHAPE_RULES.update({f: _linalg_pair for f in (np.modf, np.frexp, np.divmod, builtins.divmod)})
SHAPE_RULES[np.linalg.qr] = _qr
SHAPE_RULES[np.linalg.norm] = _norm
SHAPE_RULES[np.einsum] = _einsum
# The math module's functions of real numbers: each returns a Python float, whatever number (or
# array of one element) it is given, or raises; so its result has the shape of a number.
_MATH_FLOAT_FUNCTIONS = (
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "copysign", "cos",
    "cosh", "degrees", "erf", "erfc", "exp", "exp2", "expm1", "fabs", "fmod", "gamma", "hypot",
    "ldexp", "lgamma", "log", "log10", "log1p", "log2", "pow", "radians", "remainder", "sin",
    "sinh", "sqrt", "tan", "tanh",
)  # fmt: skip
SHAPE_RULES.update(
    {getattr(math, name): _number for name in _MATH_FLOAT_FUNCTIONS if hasattr(math, name)}
)


def _add_reduce(
    array: Operand,
    axis: Operand = Operand((), 0, True),
    dtype: Operand | None = None,
    out: Operand | None = None,
    keepdims: Operand = Operand((), False, True),
) -> Any:
    """``np.add.reduce``: np.sum's reduction, over the first axis unless told (with ``out``:
    not followed)."""
    if out is not None and not (out.constant and out.value is None):
        return None
    return _reduction(array, axis, keepdims=keepdims)


SHAPE_RULES[np.add.reduce] = _add_reduce

# dict(...) makes a dict whose keys are not known now: read by key only, not walked by position
SHAPE_RULES[builtins.dict] = lambda *operands, **keywords: Sequence(mapping=True)
# sorted(xs) is a list: what is known of it, as of a list display
SHAPE_RULES[builtins.sorted] = lambda iterable, **keywords: Sequence()

# Operations whose result, made from an array of integers, holds integers: an element, a row or
# a slice of it, a list of its rows, a copy, its absolute value, it rolled (their shape rules
# say so); any other gives a plain tuple (``without_integers``), known to hold numbers only.
KEEPS_INTEGERS = frozenset(
    [operator.getitem, builtins.list, np.copy, Method("copy"), builtins.abs, np.roll]
)

# Functions whose result is floating point whatever the (real) arguments: a product with one
# of these as a factor is floating point, so multiplying it by 1.0 changes nothing.
FLOATING_FUNCTIONS = frozenset(
    function
    for function in vars(np).values()
    if isinstance(function, np.ufunc)
    and function.nout == 1
    and all(types.split("->")[1] in "efdgFDG" for types in function.types if "O" not in types)
)


def infer_shape(primal: Any, operands: tuple[Operand, ...], keywords: dict[str, Operand]) -> Any:
    """The shape of ``primal(*operands, **keywords)``, or None where it is not known."""
    if isinstance(primal, Attribute) and operands and isinstance(operands[0].shape, Instance):
        if primal.name in operands[0].shape.sequences:
            return Sequence()
        return dict(operands[0].shape.attributes).get(primal.name)
    own = getattr(primal, "__overbar_result_shape__", None)  # a gradient taken in a function
    if own is not None:
        return without_integers(own(operands, keywords))
    try:
        rule = SHAPE_RULES.get(primal)
        if rule is None and load_late_rules():
            rule = SHAPE_RULES.get(primal)
    except TypeError:  # an unhashable primal
        return None
    # A generalised ufunc (np.matmul, np.vecdot: it has a core signature) is not elementwise.
    if rule is None and isinstance(primal, np.ufunc) and primal.nout == 1:
        rule = _elementwise if primal.signature is None else None
    if rule is None:
        return None
    try:
        shape = rule(*operands, **keywords)
    except TypeError:  # a call the rule's signature does not take: not known
        return None
    return shape if primal in KEEPS_INTEGERS else without_integers(shape)
