"""The fuzzer's makers for the rules of ``overbar/runtime/rules_arrays.py``: stacking,
splitting and rearranging.

Each maker builds a call together with the values it sees, as the makers of ``tests/fuzzer.py``
do: operands of shapes the function accepts, constants (axes, sections, indices, pad widths)
chosen from those shapes, pieces never empty. All these functions are linear in their
differentiated inputs except ``partition``, whose values are kept apart (no ties). A function
returning a list or tuple is read by one of its elements (``np.split(a, 2)[1]``).
``add_arrays_makers(add)`` registers them from ``fuzzer._table``. The makers use only the
generator's own methods, so this module imports nothing from the fuzzer (which may be running
as ``__main__``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from overbar.primitives import Index, Method, describe

MARGIN = 0.05  # as fuzzer.MARGIN: how far apart partitioned values stay


def _num(value: Any) -> bool:
    """A float, or an array of floats (the fuzzer's "num")."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, float | np.floating)


def _rank(low: int, high: int = 3) -> Callable[[Any], bool]:
    return lambda value: _num(value) and low <= np.ndim(value) <= high


def _shaped(shape: tuple) -> Callable[[Any], bool]:
    return lambda value: _num(value) and np.shape(value) == shape


def _operand(g: Any, depth: int, accept: Callable[[Any], bool]) -> Any:
    return g.operand(depth, accept)


def _element(g: Any, sequence: Any, index: int) -> Any:
    """``sequence[index]`` of an expression whose value is a list or tuple."""
    run = sequence.run
    return g.node(f"{sequence.text}[{index}]", lambda env: run(env)[index])


def _keywords(g: Any, **values: str) -> list:
    return [(name, g.const(text)) for name, text in values.items()]


def make_stack(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """hstack, vstack, dstack, column_stack of two or three arrays of one shape (vectors of
    any lengths for hstack)."""
    first = _operand(g, depth, _rank(0 if primal is not np.column_stack else 1, 2))
    if first is None:
        return None
    shape = np.shape(first.value)
    accept = _rank(1, 1) if primal is np.hstack and len(shape) == 1 else _shaped(shape)
    rest = [_operand(g, depth, accept) for _ in range(g.pick((1, 1, 2)))]
    if any(r is None for r in rest):
        return None
    items = g.display([first, *rest], g.pick(("[]", "()")))
    return g.call(describe(primal), primal, [items])


def make_index_join(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.r_[...] of numbers and vectors (now and then a constant range, 0:2), or np.c_[...]
    of vectors and matrices with one number of rows."""
    maker = primal.maker
    if maker is np.r_:
        items = [_operand(g, depth, _rank(0, 1)) for _ in range(g.pick((2, 2, 3)))]
    else:
        first = _operand(g, depth, _rank(1, 2))
        if first is None:
            return None
        rows = np.shape(first.value)[0]
        accept = lambda value: _rank(1, 2)(value) and np.shape(value)[0] == rows  # noqa: E731
        items = [first] + [_operand(g, depth, accept) for _ in range(g.pick((1, 1, 2)))]
    if any(item is None for item in items):
        return None
    texts = [item.text for item in items]
    runs = [item.run for item in items]
    if maker is np.r_ and g.chance(0.25):
        place = g.pick(range(len(items) + 1))
        texts.insert(place, "0:2")
        runs.insert(place, lambda env: slice(0, 2))
    name = "np.r_" if maker is np.r_ else "np.c_"
    return g.node(f"{name}[{', '.join(texts)}]", lambda env: maker[tuple(r(env) for r in runs)])


def make_append(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.append flattening, or along an axis of two arrays of one shape."""
    first = _operand(g, depth, _rank(0))
    if first is None:
        return None
    ndim = np.ndim(first.value)
    if ndim and g.chance(0.5):
        second = _operand(g, depth, _shaped(np.shape(first.value)))
        axis = int(g.rng.integers(-ndim, ndim))
        keywords = [("axis", g.integer(axis))]
    else:
        second = _operand(g, depth, _rank(0))
        keywords = _keywords(g, axis="None") if g.chance(0.2) else []
    if second is None:
        return None
    return g.call("np.append", np.append, [first, second], keywords)


def make_atleast(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.atleast_1d/2d/3d of any value, or of several (a tuple, one of them read)."""
    arrays = [_operand(g, depth, _rank(0, 2)) for _ in range(g.pick((1, 1, 2)))]
    if any(a is None for a in arrays):
        return None
    result = g.call(describe(primal), primal, arrays)
    return result if len(arrays) == 1 else _element(g, result, g.pick(range(len(arrays))))


def make_broadcast_arrays(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.broadcast_arrays(a, b)[k] of two values that broadcast."""
    first = _operand(g, depth, _rank(0, 2))
    if first is None:
        return None
    shape = np.shape(first.value)

    def broadcasts(value: Any) -> bool:
        if not _num(value):
            return False
        try:
            return int(np.prod(np.broadcast_shapes(shape, np.shape(value)))) <= 40
        except ValueError:
            return False

    second = _operand(g, depth, broadcasts)
    if second is None:
        return None
    pair = g.call("np.broadcast_arrays", np.broadcast_arrays, [first, second])
    return _element(g, pair, g.pick((0, 1)))


_SPLIT_AXES = {np.hsplit: None, np.vsplit: 0, np.dsplit: 2}


def make_split(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.split / array_split / hsplit / vsplit / dsplit into sections or at indices, one
    (non-empty) piece read."""
    least = {np.vsplit: 2, np.dsplit: 3}.get(primal, 1)
    a = _operand(g, depth, _rank(least))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    keywords = []
    if primal in _SPLIT_AXES:
        axis = _SPLIT_AXES[primal]
        axis = (0 if ndim == 1 else 1) if axis is None else axis
    else:
        axis = int(g.rng.integers(-ndim, ndim)) if g.chance(0.6) else 0
        if axis or g.chance(0.3):
            keywords = [("axis", g.integer(axis))]
    length = np.shape(a.value)[axis]
    if g.chance(0.5):
        if primal is np.array_split:
            sections = int(g.rng.integers(1, length + 1))
        else:
            sections = g.pick([k for k in range(1, length + 1) if length % k == 0])
        cut = g.integer(sections)
        pieces = sections
    else:
        cuts = sorted({int(c) for c in g.rng.integers(1, max(length, 2), size=g.pick((1, 2)))})
        cuts = [c for c in cuts if 0 < c < length]
        if not cuts:
            return None
        cut = g.const(repr(cuts))
        pieces = len(cuts) + 1
    parts = g.call(describe(primal), primal, [a, cut], keywords)
    return _element(g, parts, int(g.rng.integers(-pieces, pieces)))


def _index_list(g: Any, length: int) -> str:
    count = g.pick((1, 2, 3))
    return repr([int(i) for i in g.rng.integers(-length, length, size=count)])


def make_take(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.take / a.take at a list of indices (repeats included), flattened or along an axis,
    wrapping or clipping out-of-range indices."""
    a = _operand(g, depth, _rank(1))
    if a is None:
        return None
    keywords = []
    if g.chance(0.5):
        ndim = np.ndim(a.value)
        axis = int(g.rng.integers(-ndim, ndim))
        length = np.shape(a.value)[axis]
        keywords.append(("axis", g.integer(axis)))
    else:
        length = np.size(a.value)
    if g.chance(0.2):
        mode = g.pick(("wrap", "clip"))
        keywords.append(("mode", g.const(repr(mode))))
        indices = g.const(repr([int(i) for i in g.rng.integers(-2 * length, 2 * length, 2)]))
    elif g.chance(0.2):
        indices = g.integer(int(g.rng.integers(-length, length)))
    else:
        indices = g.const(_index_list(g, length))
    if isinstance(primal, Method):
        if not isinstance(a.value, np.ndarray):
            return None
        return g.method(a, "take", [indices], keywords)
    return g.call("np.take", np.take, [a, indices], keywords)


def make_take_along_axis(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.take_along_axis with an index array of the operand's rank."""
    a = _operand(g, depth, _rank(1))
    if a is None:
        return None
    shape = list(np.shape(a.value))
    axis = int(g.rng.integers(-len(shape), len(shape)))
    length = shape[axis]
    shape[axis] = g.pick((1, 2, 3))
    indices = g.rng.integers(0, length, size=shape).tolist()
    array = g.call("np.array", np.array, [g.const(repr(indices))])
    keywords = [("axis", g.integer(axis))] if g.chance(0.5) else []
    args = [a, array] if keywords else [a, array, g.integer(axis)]
    return g.call("np.take_along_axis", np.take_along_axis, args, keywords)


def make_tile(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.tile by a count or a tuple of counts (longer or shorter than the rank)."""
    a = _operand(g, depth, _rank(0, 2))
    if a is None:
        return None
    if g.chance(0.4):
        reps = g.integer(g.pick((1, 2, 3)))
    else:
        counts = [int(c) for c in g.rng.integers(1, 3, size=g.pick((1, 2, 3)))]
        reps = g.const(repr(tuple(counts)))
    return g.call("np.tile", np.tile, [a, reps])


def make_repeat(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.repeat / a.repeat by a count or by a count per element (zeros included), flattened
    or along an axis."""
    a = _operand(g, depth, _rank(0 if primal is np.repeat else 1))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    keywords = []
    axis = None
    if ndim and g.chance(0.6):
        axis = int(g.rng.integers(-ndim, ndim))
        keywords.append(("axis", g.integer(axis)))
    length = np.size(a.value) if axis is None else np.shape(a.value)[axis]
    if g.chance(0.5):
        repeats = g.integer(g.pick((1, 2, 3)))
    else:
        counts = [int(c) for c in g.rng.integers(0, 3, size=length)]
        counts[0] = max(counts[0], 1)
        repeats = g.const(repr(counts))
    if isinstance(primal, Method):
        if not isinstance(a.value, np.ndarray):
            return None
        return g.method(a, "repeat", [repeats], keywords)
    return g.call("np.repeat", np.repeat, [a, repeats], keywords)


def make_roll(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.roll by a shift, flattened or along an axis, or by a tuple along a tuple of axes."""
    a = _operand(g, depth, _rank(1))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    shift = int(g.rng.integers(-4, 5))
    form = g.pick(("flat", "axis", "tuple") if ndim >= 2 else ("flat", "axis"))
    if form == "flat":
        return g.call("np.roll", np.roll, [a, g.integer(shift)])
    if form == "axis":
        axis = g.integer(int(g.rng.integers(-ndim, ndim)))
        return g.call("np.roll", np.roll, [a, g.integer(shift)], [("axis", axis)])
    shifts = g.const(repr((shift, int(g.rng.integers(-3, 4)))))
    return g.call("np.roll", np.roll, [a, shifts], _keywords(g, axis="(0, 1)"))


def make_rollaxis(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.rollaxis(a, axis, start) for every axis and start."""
    a = _operand(g, depth, _rank(2))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    args = [a, g.integer(int(g.rng.integers(-ndim, ndim)))]
    if g.chance(0.7):
        args.append(g.integer(int(g.rng.integers(-ndim, ndim + 1))))
    return g.call("np.rollaxis", np.rollaxis, args)


def make_rot90(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.rot90 by k quarter turns in a plane."""
    a = _operand(g, depth, _rank(2))
    if a is None:
        return None
    args, keywords = [a], []
    if g.chance(0.7):
        args.append(g.integer(int(g.rng.integers(-3, 5))))
    if np.ndim(a.value) == 3 and g.chance(0.5):
        keywords = _keywords(g, axes=g.pick(("(1, 2)", "(2, 0)", "(0, 2)")))
    return g.call("np.rot90", np.rot90, args, keywords)


def make_flip_half(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.flipud (rank ≥ 1), np.fliplr (rank ≥ 2)."""
    a = _operand(g, depth, _rank(1 if primal is np.flipud else 2))
    return None if a is None else g.call(describe(primal), primal, [a])


def _pad_width(g: Any, ndim: int) -> str:
    form = g.pick(("int", "pair", "per-axis"))
    if form == "int":
        return str(g.pick((1, 2)))
    if form == "pair":
        return repr(tuple(int(w) for w in g.rng.integers(0, 3, size=2)))
    return repr(tuple(tuple(int(w) for w in g.rng.integers(0, 3, size=2)) for _ in range(ndim)))


def make_pad(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.pad in the modes that copy elements, and constant with constants that are values."""
    a = _operand(g, depth, _rank(1, 2))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    mode = g.pick(("constant", "constant", "edge", "reflect", "symmetric", "wrap"))
    args = [a, g.const(_pad_width(g, ndim))]
    keywords = []
    if mode != "constant" or g.chance(0.3):
        if g.chance(0.5):
            args.append(g.const(repr(mode)))
        else:
            keywords.append(("mode", g.const(repr(mode))))
    if mode == "constant" and g.chance(0.5):
        values = _operand(g, depth, _rank(0, 0)) if g.chance(0.6) else None
        if values is None:
            values = g.const(g.pick(("1.0", "(0.5, -1.0)", "2")))
        keywords.append(("constant_values", values))
    return g.call("np.pad", np.pad, args, keywords)


def make_diag(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.diag of a vector (onto a diagonal) or of a matrix (its diagonal), with k."""
    a = _operand(g, depth, _rank(1, 2))
    if a is None:
        return None
    shape = np.shape(a.value)
    if len(shape) == 1:
        if shape[0] > 5:
            return None
        k = int(g.rng.integers(-1, 2))
    else:
        k = int(g.rng.integers(-shape[0] + 1, shape[1]))
    if k == 0 and g.chance(0.5):
        return g.call("np.diag", np.diag, [a])
    if g.chance(0.5):
        return g.call("np.diag", np.diag, [a, g.integer(k)])
    return g.call("np.diag", np.diag, [a], [("k", g.integer(k))])


def make_diagonal(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.diagonal / a.diagonal with an offset, over a pair of axes."""
    a = _operand(g, depth, _rank(2))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    first, second = (int(x) for x in g.rng.choice(ndim, size=2, replace=False))
    rows, columns = np.shape(a.value)[first], np.shape(a.value)[second]
    offset = int(g.rng.integers(-rows + 1, columns))
    args = [g.integer(offset), g.integer(first), g.integer(second)]
    if isinstance(primal, Method):
        if not isinstance(a.value, np.ndarray):
            return None
        return g.method(a, "diagonal", args)
    return g.call("np.diagonal", np.diagonal, [a, *args])


def make_diagflat(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.diagflat of a small array, with k."""
    a = _operand(g, depth, lambda v: _num(v) and 1 <= np.size(v) <= 4)
    if a is None:
        return None
    args = [a] + ([g.integer(int(g.rng.integers(-1, 2)))] if g.chance(0.5) else [])
    return g.call("np.diagflat", np.diagflat, args)


def make_diff(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.diff n times along an axis, with values prepended or appended."""
    a = _operand(g, depth, _rank(1))
    if a is None:
        return None
    shape = np.shape(a.value)
    ndim = len(shape)
    axis = int(g.rng.integers(-ndim, ndim)) if g.chance(0.5) else -1
    keywords = [] if axis == -1 and g.chance(0.5) else [("axis", g.integer(axis))]
    extra = 0
    for side in ("prepend", "append"):
        if g.chance(0.25):
            edge = list(shape)
            edge[axis] = 1
            values = _operand(g, depth, _shaped(tuple(edge)) if g.chance(0.5) else _rank(0, 0))
            if values is not None:
                keywords.append((side, values))
                extra += 1
    n = int(g.rng.integers(1, max(shape[axis] + extra, 2)))
    if n >= shape[axis] + extra:
        return None
    if n > 1 or g.chance(0.3):
        keywords.insert(0, ("n", g.integer(n)))
    return g.call("np.diff", np.diff, [a], keywords)


def make_partition(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.partition at one or two kth, along an axis or flattened, of values without ties."""
    a = _operand(g, depth, _rank(1))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick(("default", None, *range(-ndim, ndim)))
    length = (
        np.size(a.value) if axis is None else np.shape(a.value)[-1 if axis == "default" else axis]
    )
    kth = g.integer(int(g.rng.integers(-length, length)))
    keywords = [] if axis == "default" else [("axis", g.const(repr(axis)))]
    checked_axis = -1 if axis == "default" else axis

    def apart(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        values = np.ravel(value) if checked_axis is None else value
        ordered = np.sort(values, axis=0 if checked_axis is None else checked_axis)
        steps = np.diff(ordered, axis=0 if checked_axis is None else checked_axis)
        return bool(np.all(steps >= MARGIN))

    return g.call("np.partition", np.partition, [a, kth], keywords, apart)


def make_linspace(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linspace between values (numbers or arrays that broadcast), with or without the
    endpoint, along an axis."""
    start = _operand(g, depth, _rank(0, 1))
    if start is None:
        return None
    stop = _operand(g, depth, _rank(0, 1)) if g.chance(0.8) else g.const("1.0")
    if stop is None:
        return None
    if start.text == stop.text == "1.0":
        return None
    args = [start, stop, g.integer(g.pick((2, 3, 5)))]
    keywords = []
    if g.chance(0.3):
        keywords.append(("endpoint", g.const("False")))
    rank = max(np.ndim(start.value), np.ndim(stop.value))
    if rank and g.chance(0.4):
        keywords.append(("axis", g.integer(g.pick((-1, 0, 1)))))
    return g.call("np.linspace", np.linspace, args, keywords)


def make_gradient(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.gradient of a vector, or one axis's of an n-d array, with a spacing or not, edge
    order 1 or 2."""
    a = _operand(g, depth, lambda v: _rank(1)(v) and min(np.shape(v)) >= 3)
    if a is None:
        return None
    args = [a]
    if g.chance(0.4):
        args.append(g.const(g.pick(("0.5", "2.0", "1"))))
    keywords = [("edge_order", g.integer(2))] if g.chance(0.3) else []
    ndim = np.ndim(a.value)
    if ndim > 1 and g.chance(0.4):
        keywords.append(("axis", g.integer(int(g.rng.integers(-ndim, ndim)))))
        return g.call("np.gradient", np.gradient, args, keywords)
    result = g.call("np.gradient", np.gradient, args, keywords)
    return result if ndim == 1 else _element(g, result, int(g.rng.integers(ndim)))


def add_arrays_makers(add: Callable) -> None:
    """Register the makers of this module with the fuzzer's ``add(primals, maker)``."""
    add([np.hstack, np.vstack, np.dstack, np.column_stack], make_stack)
    add([np.append], make_append)
    add([Index(np.r_, "np.r_"), Index(np.c_, "np.c_")], make_index_join)
    add([np.atleast_1d, np.atleast_2d, np.atleast_3d], make_atleast, weight=0.5)
    add([np.broadcast_arrays], make_broadcast_arrays)
    add([np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit], make_split)
    add([np.take, Method("take")], make_take)
    add([np.take_along_axis], make_take_along_axis)
    add([np.tile], make_tile)
    add([np.repeat, Method("repeat")], make_repeat)
    add([np.roll], make_roll)
    add([np.rollaxis], make_rollaxis)
    add([np.rot90], make_rot90)
    add([np.flipud, np.fliplr], make_flip_half)
    add([np.pad], make_pad)
    add([np.diag], make_diag)
    add([np.diagonal, Method("diagonal")], make_diagonal)
    add([np.diagflat], make_diagflat)
    add([np.diff], make_diff)
    add([np.partition], make_partition)
    add([np.linspace], make_linspace)
    add([np.gradient], make_gradient)


# np.row_stack is np.vstack (the same rule), and calling it warns that it is deprecated: the
# fuzzer's programs run with warnings as errors.
UNFUZZED_ARRAYS = {np.row_stack: "a deprecated alias of np.vstack (the same rule): it warns"}
