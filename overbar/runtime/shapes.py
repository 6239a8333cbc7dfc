"""What is known of a value's shape before the function runs, and how NumPy's operations change it.

The compiled adjoint is specialised on what matters for broadcasting and for the linear algebra
rules: each argument's rank and which of its dimensions are 1. A shape is a tuple with, per
dimension, ``1`` (exactly one), ``MANY`` (known not to be one) or ``None`` (not known); a value
whose rank is not known (or that is not an array or a number) has the shape ``None``. Numbers
and 0-d arrays have the shape ``()``; ``INTEGER`` is a number known to be an integer (a loop
index, ``len(x)``), which is what indexing needs; ``SIZES`` is a tuple of integers
(``x.shape``) and ``RANGE`` a range. A tuple or list the function builds (or a helper returns)
has a ``Sequence`` shape: its adjoint is a tuple, one adjoint per element. A tuple's holds its
length and its elements' shapes; a list's holds neither (appends change them).

Two calls whose arguments agree in rank and in which dimensions are 1 broadcast the same way, so
one specialisation serves every batch size. A rule answers ``None`` whenever it is not sure:
the adjoint then keeps the general runtime helper, so a gap here costs speed, never correctness.
"""

from __future__ import annotations

import builtins
import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from overbar.primitives import Attribute, Method

MANY = -1
REAL_KINDS = "fiub"  # the dtype kinds of real numbers
INTEGER = "integer"
SIZES = "sizes"
RANGE = "range"


@dataclass(frozen=True)
class Sequence:
    """The shape of a tuple or list: how many elements it has and their shapes, where known."""

    length: int | None = None
    elements: tuple | None = None


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
        return tuple(1 if size == 1 else MANY for size in value.shape)
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return INTEGER
    if isinstance(value, numbers.Real):
        return ()
    return None


def dims(shape: Any) -> tuple | None:
    """The dimensions of a shape (a number's are ``()``), or None if the rank is unknown."""
    if shape == INTEGER:
        return ()
    return shape if isinstance(shape, tuple) else None


def join(a: Any, b: Any) -> Any:
    """What is known of a value that has shape ``a`` on one path and ``b`` on another."""
    if a == b:
        return a
    if isinstance(a, Sequence) and isinstance(b, Sequence):
        if a.length != b.length:
            return Sequence()
        if a.elements is None or b.elements is None:
            return Sequence(a.length)
        return Sequence(a.length, tuple(map(join, a.elements, b.elements)))
    a, b = dims(a), dims(b)
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b, strict=True))


def broadcast(*shapes: Any) -> Any:
    """The shape of an elementwise operation on operands of these shapes."""
    known = [dims(shape) for shape in shapes]
    if any(shape is None for shape in known):
        return None
    rank = max(len(shape) for shape in known)
    result = []
    for axis in range(rank):
        sizes = [s[axis - rank + len(s)] for s in known if axis - rank + len(s) >= 0]
        if MANY in sizes:
            result.append(MANY)  # the others are 1 or equal to it, or NumPy would raise
        elif None in sizes:
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def covers(shape: Any, target: Any) -> bool:
    """Whether broadcasting ``target`` against ``shape`` surely gives ``shape``."""
    shape, target = dims(shape), dims(target)
    if shape is None or target is None or len(target) > len(shape):
        return False
    aligned = shape[len(shape) - len(target) :]
    return all(t == 1 or s == MANY for s, t in zip(aligned, target, strict=True))


def element_shape(iterable: Any) -> Any:
    """The shape of the elements a for loop takes from an iterable of shape ``iterable``."""
    if iterable == RANGE:
        return INTEGER
    shape = dims(iterable)
    return shape[1:] if shape else None


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
        if size == 1 and out != 1:
            kept.append(leading + axis)
        elif size is None and out != 1:
            return None  # summed if it is 1, kept if it is not
    return tuple(range(leading)), tuple(kept)


# -- shape rules: primal -> function of Operands (and keyword Operands) -> shape ---------------


def _elementwise(*operands: Operand, **keywords: Operand) -> Any:
    if keywords:
        return None
    return broadcast(*(operand.shape for operand in operands))


def _arithmetic(*operands: Operand, **keywords: Operand) -> Any:
    """``+ - * // %`` and negation, which keep integers integers."""
    if not keywords and all(operand.shape == INTEGER for operand in operands):
        return INTEGER
    return _elementwise(*operands, **keywords)


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
    if not all(isinstance(v, int) and -rank <= v < rank for v in values):
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


def _transposed(a: Operand) -> Any:
    shape = dims(a.shape)
    return None if shape is None else shape[::-1]


def _same(a: Operand, *others: Operand, **keywords: Operand) -> Any:
    return None if isinstance(a.shape, Sequence) else a.shape  # np.copy of a list: an array


def _as_array(a: Operand, **keywords: Operand) -> Any:
    """np.array(a): a's shape, unless it is a tuple or list (its elements' are not known)."""
    return None if keywords or isinstance(a.shape, Sequence) else a.shape


def _number(*operands: Operand, **keywords: Operand) -> Any:
    return ()


def _integer(*operands: Operand, **keywords: Operand) -> Any:
    return INTEGER


def _sizes(*operands: Operand, **keywords: Operand) -> Any:
    return SIZES


def _tuple(iterable: Operand) -> Any:
    """tuple(xs) is a sequence; of a tuple, with its length and elements."""
    return iterable.shape if isinstance(iterable.shape, Sequence) else Sequence()


def _list(iterable: Operand) -> Any:
    """list(xs) is a sequence whose length appends may change, as for a list display."""
    return Sequence()


def _getitem(a: Operand, index: Operand) -> Any:
    if a.shape == SIZES:
        return INTEGER if index.shape == INTEGER else None
    if isinstance(a.shape, Sequence):
        return _sequence_item(a.shape, index)
    shape = dims(a.shape)
    if shape is None:
        return None
    parts = index.value if index.constant and isinstance(index.value, tuple) else (index,)
    parts = [p if isinstance(p, Operand) else Operand(_constant_shape(p), p, True) for p in parts]
    if len(parts) > len(shape):
        return None
    result = []
    for size, part in zip(shape, parts, strict=False):
        if part.shape == INTEGER:
            continue
        if part.constant and part.value == slice(None):
            result.append(size)
        elif part.constant and isinstance(part.value, slice):
            result.append(None)
        else:
            return None  # arrays, masks, None and Ellipsis change the rank in ways not tracked
    return tuple(result) + shape[len(parts) :]


def _sequence_item(sequence: Sequence, index: Operand) -> Any:
    """The shape of ``t[index]`` for a tuple or list ``t``: an element's, or a tuple's."""
    elements = sequence.elements
    if index.constant and isinstance(index.value, slice):
        bounds = index.value
        parts = (bounds.start, bounds.stop, bounds.step)
        if elements is None or not all(p is None or type(p) is int for p in parts):
            return Sequence()
        return Sequence(len(elements[bounds]), elements[bounds])
    if index.shape != INTEGER or not elements:
        return None
    if index.constant:
        return elements[index.value] if -len(elements) <= index.value < len(elements) else None
    shape = elements[0]  # t[i] for an i not known now: what every element has
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


def constant_operand(value: Any) -> Operand:
    """The operand a literal constant in the user's code is."""
    return Operand(_constant_shape(value), value, True)


_UNARY_METHODS = ("copy", "conj", "conjugate", "round")

SHAPE_RULES: dict[Any, Callable[..., Any]] = {
    operator.matmul: _matmul,
    np.matmul: _matmul,
    np.dot: _dot,
    Method("dot"): _dot,
    np.where: lambda *operands, **keywords: (  # np.where(c) alone gives index arrays
        _elementwise(*operands, **keywords) if len(operands) == 3 else None
    ),
    np.clip: _elementwise,
    Attribute("T"): _transposed,
    np.transpose: _transposed,
    Method("transpose"): _transposed,
    np.copy: _same,
    np.array: _as_array,
    np.asarray: _as_array,
    builtins.float: _number,
    builtins.abs: _same,
    builtins.len: _integer,
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
    **{Method(name): _same for name in _UNARY_METHODS},
    **{
        reduction: _reduction
        for reduction in (np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod)
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
_OTHER_OPERATORS = (operator.truediv, operator.pow, operator.lt, operator.le, operator.gt)
SHAPE_RULES.update(
    dict.fromkeys(_OTHER_OPERATORS + (operator.ge, operator.eq, operator.ne), _elementwise)
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
    try:
        rule = SHAPE_RULES.get(primal)
    except TypeError:  # an unhashable primal
        return None
    # A generalised ufunc (np.matmul, np.vecdot: it has a core signature) is not elementwise.
    if rule is None and isinstance(primal, np.ufunc) and primal.nout == 1:
        rule = _elementwise if primal.signature is None else None
    if rule is None:
        return None
    try:
        return rule(*operands, **keywords)
    except TypeError:  # a call the rule's signature does not take: not known
        return None
