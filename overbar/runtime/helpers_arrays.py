"""Runtime helpers for the adjoints and tangents of NumPy's stacking, splitting and rearranging
functions.

Each adjoint helper undoes one function's movement of elements: the adjoint of a function that
copies elements of its input to places in its output adds the output's adjoint back at the
places they came from (``np.add.at``, so that an element copied twice gets both contributions).
A tangent mostly moves the input's tangent as the function moves the input, with the function
itself; the few tangent helpers (at the end) cover what the function cannot be asked to do. The
rules in ``rules_arrays.py`` name them.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from overbar.errors import OverbarError
from overbar.runtime.arrays import is_foreign_array, library_name, like, size
from overbar.runtime.helpers import as_rows_of, zero_tangent


def _float_zeros(shape, *likes):
    return np.zeros(shape, dtype=np.result_type(*likes, 1.0))


def _any_foreign(*values):
    return any(is_foreign_array(value) for value in values)


def summed_at_origins(y_bar, origins, length, axis):
    """For a gather along ``axis`` whose i-th slice is the slice ``origins[i]`` (a NumPy array
    of ints, −1 for a slice taken from nowhere, a constant) of an array of ``length`` slices
    there: its adjoint, ȳ's slices summed onto their origins, built from gathers alone (so it
    dispatches to another library's arrays, which ``np.add.at`` does not): with the positions
    ranked among the copies of their origin, the k-th copies of every origin are taken at once,
    a missing one read from a slice of zeros appended to ȳ, for k up to the most copies of any
    one origin. The sum is the one ``np.add.at`` makes, in the order of the positions."""
    origins = np.ravel(origins)
    order = np.argsort(origins, kind="stable")
    ranked = origins[order]
    copy_number = np.arange(ranked.size) - np.searchsorted(ranked, ranked, side="left")
    kept = ranked >= 0
    dtype = np.result_type(y_bar.dtype, 1.0)
    shape = list(y_bar.shape)
    shape[axis] = 1
    padded = np.concatenate(
        [y_bar.astype(dtype, copy=False), np.zeros_like(y_bar, dtype=dtype, shape=tuple(shape))],
        axis=axis,
    )
    before = (slice(None),) * (axis % y_bar.ndim)
    total = None
    for k in range(int(copy_number[kept].max(initial=-1)) + 1):
        index = np.full(length, origins.size)  # the slice of zeros
        chosen = kept & (copy_number == k)
        index[ranked[chosen]] = order[chosen]
        part = padded[(*before, index.tolist())]  # a list: an index in any library
        total = part if total is None else total + part
    if total is None:
        shape[axis] = length
        return np.zeros_like(y_bar, dtype=dtype, shape=tuple(shape))
    return total


# -- joins ------------------------------------------------------------------------------------


def unjoin(y_bar, arrays, promote, axis):
    """Adjoint of a join of ``arrays``, each first given at least the rank ``promote`` gives
    it (np.atleast_1d, ...), then concatenated along ``axis``: ȳ cut into pieces along
    ``axis``, each reshaped like the array it came from (for an array ``arrays``, whose rows were
    joined: an array shaped like it)."""
    shapes = [np.shape(promote(np.empty(np.shape(x)))) for x in arrays]
    bounds = np.cumsum([shape[axis] for shape in shapes])[:-1]
    if is_foreign_array(y_bar):  # np.split does not dispatch to Dask: slices do
        edges = [0, *bounds.tolist(), y_bar.shape[axis]]
        before = (slice(None),) * (axis % y_bar.ndim)
        pieces = [
            y_bar[(*before, slice(a, b))] for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
    else:
        pieces = np.split(y_bar, bounds, axis=axis)
    pieces = [np.reshape(p, np.shape(x)) for p, x in zip(pieces, arrays, strict=True)]
    return as_rows_of(pieces, arrays)  # an array's rows were joined: an array


def unjoin_index(y_bar, items, maker, axis):
    """Adjoint of ``maker[items]``, np.r_ (joined along axis 0) or np.c_ (along the last):
    each item as the maker makes it alone (a number as an array of one, a slice as the range
    it stands for, a vector as a column for np.c_) takes its piece of ȳ along ``axis``,
    reshaped like the item; a slice, a constant, gets none. A directive string (np.r_['-1', a])
    is refused."""
    for item in items:
        if isinstance(item, str):
            raise OverbarError(
                f"the gradient of an index expression with the directive string {item!r} is "
                "not derived: join with np.concatenate, np.stack or np.column_stack instead"
            )
    made = [maker[item if isinstance(item, slice) else np.zeros(np.shape(item))] for item in items]
    bounds = np.cumsum([np.shape(piece)[axis] for piece in made])[:-1]
    pieces = np.split(y_bar, bounds, axis=axis)
    return tuple(
        None if isinstance(item, slice) else np.reshape(piece, np.shape(item))
        for piece, item in zip(pieces, items, strict=True)
    )


def joined_index_tangent(items, items_dot, maker):
    """Tangent of ``maker[items]`` (np.r_ or np.c_): the items' tangents joined the same way, a
    slice's range (a constant) as zeros as long as it, an item not varied as zeros like it."""
    parts = []
    for item, dot in zip(items, items_dot, strict=True):
        if isinstance(item, str):
            raise OverbarError(
                f"the derivative of an index expression with the directive string {item!r} is "
                "not derived: join with np.concatenate, np.stack or np.column_stack instead"
            )
        if isinstance(item, slice):
            parts.append(np.zeros(np.shape(maker[item])))
        else:
            parts.append(zero_tangent(item) if dot is None else dot)
    return maker[tuple(parts)]


def split_axis(promote, axis, ranks):
    """The axis along which ``split_like(ȳ, pieces, axis)`` cuts ȳ into the same pieces as
    ``unjoin(ȳ, pieces, promote, axis)`` (or ``unjoin_index(ȳ, items, np.r_, axis=0)``), for
    pieces of these ranks; None where it does not.

    Identity: a join of pieces that ``promote`` leaves as they are, or gives one axis of
    length 1 at the axis joined along, is a concatenation of those pieces along it; the
    adjoint of such a piece is its part of ȳ (a slice), or for a piece given that axis the one
    element of ȳ there (``split_like`` takes it for a piece of one dimension fewer than ȳ).
    ``np.atleast_1d`` gives a number one axis (np.hstack joins along 0 what is then a vector,
    along 1 matrices, ``hstack_axis``), ``np.r_`` too (along 0), ``np.atleast_2d`` a vector
    a first axis (np.vstack, along 0), ``np.atleast_3d`` a matrix a last (np.dstack, along 2),
    ``as_column`` a vector a last (np.column_stack, along 1). Side conditions: every rank is
    known, and each is the joined result's or one less where the promotion adds that axis
    (a number in a vstack gets two axes: not so)."""
    if not ranks or any(type(rank) is not int for rank in ranks):
        return None
    highest = max(ranks)
    if promote is np.atleast_1d and axis is hstack_axis or promote is np.r_ and axis == 0:
        if highest <= 1:
            return 0
        return (1 if axis is hstack_axis else 0) if set(ranks) == {highest} else None
    least = {np.atleast_2d: 2, np.atleast_3d: 3, as_column: 2}.get(promote)
    if least is None or type(axis) is not int:
        return None
    expected = {np.atleast_2d: 0, np.atleast_3d: 2, as_column: 1}[promote]
    if axis != expected:
        return None
    result = max(highest, least)
    lower = {rank for rank in ranks if rank != result}
    return axis if not lower or (lower == {least - 1} and result == least) else None


def hstack_axis(arrays):
    """The axis np.hstack joins ``arrays`` along: 0 for vectors (and numbers), 1 otherwise."""
    return 0 if np.ndim(arrays[0]) <= 1 else 1


def as_column(x):
    """What np.column_stack makes of one of its arrays: a vector becomes a column."""
    return np.reshape(x, (-1, 1)) if np.ndim(x) < 2 else x


def unexpand_each(y_bar, arrays):
    """Adjoints of np.atleast_1d/2d/3d(*arrays): ȳ (one array's, or a tuple of them for
    several arrays) reshaped like each array."""
    y_bars = (y_bar,) if len(arrays) == 1 else y_bar
    return tuple(np.reshape(g, np.shape(x)) for g, x in zip(y_bars, arrays, strict=True))


def unbroadcast_each(y_bars, arrays):
    """Adjoints of np.broadcast_arrays: each ȳᵢ summed back to its array's shape."""
    return tuple(_sum_to_shape(g, np.shape(x)) for g, x in zip(y_bars, arrays, strict=True))


def _sum_to_shape(g, shape):
    leading = np.ndim(g) - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and np.shape(g)[leading + i] != 1
    )
    return np.reshape(np.sum(g, axis=axes), shape) if axes else np.reshape(g, shape)


# -- splits -----------------------------------------------------------------------------------


def split_bounds(length, indices_or_sections, even=True):
    """The (start, stop) of each piece np.split (``even``) or np.array_split cuts an axis of
    ``length`` into, as NumPy computes them."""
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise OverbarError("the number of sections to split into must be positive")
        if even and length % sections:
            raise OverbarError("array split does not result in an equal division")
        size, extra = divmod(length, sections)
        sizes = [size + 1] * extra + [size] * (sections - extra)
        stops = np.cumsum(sizes)
        return list(zip([0, *stops[:-1]], stops, strict=True))
    cuts = [int(i) for i in np.ravel(indices_or_sections)]
    return list(zip([0, *cuts], [*cuts, length], strict=True))


def unsplit(pieces_bar, ary, indices_or_sections, axis=0, even=True):
    """Adjoint of the pieces of np.split(ary, indices_or_sections, axis) (or np.array_split):
    each piece's adjoint added back where the piece was cut from (pieces of decreasing
    indices overlap, and add up). A number of sections cuts the axis into pieces that tile
    it in order: where each adjoint is a floating point NumPy array of its piece's shape,
    ``ary_bar`` is their concatenation (each element of ``ary`` is in one piece, once)."""
    shape = np.shape(ary)
    bounds = split_bounds(shape[axis], indices_or_sections, even)
    if isinstance(indices_or_sections, numbers.Integral) and all(
        type(piece) is np.ndarray
        and piece.dtype.kind in "fc"
        and piece.shape
        == (*shape[: axis % len(shape)], stop - start, *shape[axis % len(shape) + 1 :])
        for piece, (start, stop) in zip(pieces_bar, bounds, strict=True)
    ):
        return np.concatenate(pieces_bar, axis=axis)
    ary_bar = _float_zeros(shape, *pieces_bar)
    moved = np.moveaxis(ary_bar, axis, 0)  # a view: writing into it fills ary_bar
    for (start, stop), piece in zip(bounds, pieces_bar, strict=True):
        moved[start:stop] += np.moveaxis(piece, axis, 0)
    return ary_bar


def hsplit_axis(ary):
    """The axis np.hsplit cuts: 0 for a vector, 1 otherwise."""
    return 0 if np.ndim(ary) == 1 else 1


# -- reading elements by index ----------------------------------------------------------------


def take_bar(y_bar, a, indices, axis=None, mode="raise"):
    """Adjoint of np.take(a, indices, axis, mode=mode): ȳ added at the elements taken (an
    element taken twice gets both)."""
    if _any_foreign(y_bar, a):
        return _foreign_take_bar(y_bar, a, indices, axis, mode)
    if axis is None:
        flat = _float_zeros(np.size(a), y_bar)
        _scatter_add(flat, _wrapped(indices, np.size(a), mode), y_bar)
        return np.reshape(flat, np.shape(a))
    axis = axis % np.ndim(a)
    index = _wrapped(indices, np.shape(a)[axis], mode)
    moved = _float_zeros((np.shape(a)[axis], *np.delete(np.shape(a), axis)), y_bar)
    # y's axes: a's before axis, the indices', a's after it; the indices' go first here
    before, count = axis, np.ndim(index)
    taken = np.moveaxis(y_bar, tuple(range(before, before + count)), tuple(range(count)))
    _scatter_add(moved, index, taken)
    return np.moveaxis(moved, 0, axis)


def _foreign_take_bar(y_bar, a, indices, axis, mode):
    """``take_bar`` in another library's arrays (``summed_at_origins``): the indices, NumPy's
    or a list, flattened into one axis of ȳ."""
    if is_foreign_array(indices):
        raise OverbarError(
            "the adjoint of np.take with indices in a Dask or CuPy array is not derived "
            "(the indices would be computed); pass the indices as a NumPy array or a list"
        )
    if axis is None:
        size = int(np.prod(a.shape))
        index = _wrapped(indices, size, mode) % max(size, 1)  # −1 is the last, not none
        flat = summed_at_origins(np.reshape(y_bar, (-1,)), index, size, 0)
        return np.reshape(flat, a.shape)
    axis = axis % a.ndim
    index = _wrapped(indices, a.shape[axis], mode) % max(a.shape[axis], 1)
    joined = a.shape[:axis] + (index.size,) + a.shape[axis + 1 :]
    return summed_at_origins(np.reshape(y_bar, joined), index, a.shape[axis], axis)


def _scatter_add(target, index, values):
    """``target[index] += values`` along target's first axis, repeated indices adding up
    (plain assignment, which is faster, where no index repeats)."""
    flat = np.ravel(index)
    if np.unique(flat % max(len(target), 1)).size == flat.size:
        target[index] = values
    else:
        np.add.at(target, index, values)


def _wrapped(indices, length, mode):
    indices = np.asarray(indices)
    if mode == "wrap":
        return indices % length
    if mode == "clip":
        return np.clip(indices, 0, length - 1)
    return indices


def take_along_axis_bar(y_bar, arr, indices, axis):
    """Adjoint of np.take_along_axis(arr, indices, axis): ȳ added at the elements taken."""
    if axis is None:
        flat = _float_zeros(np.size(arr), y_bar)
        np.add.at(flat, np.ravel(indices), np.ravel(y_bar))
        return np.reshape(flat, np.shape(arr))
    arr_bar = _float_zeros(np.shape(arr), y_bar)
    ndim = np.ndim(arr)
    axis = axis % ndim
    # The index NumPy reads arr at: the indices along axis, every position along the others.
    index = [
        (
            indices
            if k == axis
            else np.arange(size).reshape([-1 if j == k else 1 for j in range(ndim)])
        )
        for k, size in enumerate(np.shape(arr))
    ]
    np.add.at(arr_bar, tuple(index), y_bar)
    return arr_bar


# -- rearranging ------------------------------------------------------------------------------


def untile(y_bar, a, reps):
    """Adjoint of np.tile(a, reps): the copies of ȳ summed back onto a's shape."""
    reps = (reps,) if isinstance(reps, numbers.Integral) else tuple(reps)
    shape = np.shape(a)
    rank = max(len(shape), len(reps))
    shape = (1,) * (rank - len(shape)) + shape
    reps = (1,) * (rank - len(reps)) + reps
    interleaved = [size for pair in zip(reps, shape, strict=True) for size in pair]
    summed = np.reshape(y_bar, interleaved).sum(axis=tuple(range(0, 2 * rank, 2)))
    return np.reshape(summed, np.shape(a))


def unrepeat(y_bar, a, repeats, axis=None):
    """Adjoint of np.repeat(a, repeats, axis): each element's copies of ȳ summed (a count of 0
    gives 0). Only a's shape is read (the forward sweep may save just that)."""
    if axis is None:
        return np.reshape(_summed_copies(np.ravel(y_bar), size(a), repeats), np.shape(a))
    axis = axis % np.ndim(a)
    copies = np.moveaxis(y_bar, axis, 0)
    return np.moveaxis(_summed_copies(copies, np.shape(a)[axis], repeats), 0, axis)


def _summed_copies(copies, length, repeats):
    """The copies along the first axis of each of ``length`` elements, summed."""
    if np.ndim(repeats) == 0:  # r copies of each: sum the r rows of each element
        return np.reshape(copies, (length, int(repeats)) + np.shape(copies)[1:]).sum(axis=1)
    counts = np.broadcast_to(repeats, (length,))
    if is_foreign_array(copies):  # the copies' origins: np.repeat of the positions
        return summed_at_origins(copies, np.repeat(np.arange(length), counts), length, 0)
    kept = counts > 0
    starts = (np.cumsum(counts) - counts)[kept]
    summed = np.zeros((length,) + np.shape(copies)[1:], dtype=np.result_type(copies, 1.0))
    if starts.size:
        summed[kept] = np.add.reduceat(copies, starts, axis=0)
    return summed


def roll_back(y_bar, shift, axis=None):
    """``np.roll(ȳ, −shift, axis)``, the adjoint of np.roll: for a NumPy array rolled along one
    axis (or a vector rolled whole) by an integer, its two parts joined in their new order,
    ``concatenate((ȳ[s:], ȳ[:s]))`` with s = shift mod n (np.roll does the same, after checks
    that cost several times more on a small array); np.roll itself otherwise."""
    if (
        type(y_bar) is np.ndarray
        and isinstance(shift, numbers.Integral)
        and (axis is None and y_bar.ndim == 1 or isinstance(axis, numbers.Integral))
    ):
        axis = 0 if axis is None else int(axis)
        if -y_bar.ndim <= axis < y_bar.ndim and y_bar.shape[axis]:
            cut = int(shift) % y_bar.shape[axis]
            before = (slice(None),) * (axis % y_bar.ndim)
            return np.concatenate(
                (y_bar[(*before, slice(cut, None))], y_bar[(*before, slice(None, cut))]), axis=axis
            )
    return np.roll(y_bar, np.negative(shift), axis)


def unroll_axis(y_bar, a, axis, start=0):
    """Adjoint of np.rollaxis(a, axis, start): ȳ's axes put back in a's order."""
    ndim = np.ndim(a)
    axis, start = axis % ndim, start + ndim if start < 0 else start
    order = [k for k in range(ndim) if k != axis]
    order.insert(start - (axis < start), axis)
    return np.transpose(y_bar, np.argsort(order))


def diag_bar(y_bar, v, k=0):
    """Adjoint of np.diag(v, k): for a vector v (y a matrix) the k-th diagonal of ȳ; for a
    matrix v (y its k-th diagonal) zeros shaped like v with ȳ on that diagonal."""
    if np.ndim(v) == 1:
        return np.diagonal(y_bar, k).copy()
    return diagonal_bar(y_bar, v, k, 0, 1)


def diagonal_bar(y_bar, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.diagonal(a, offset, axis1, axis2): zeros shaped like a, with ȳ (whose last
    axis runs along the diagonal) on the diagonal."""
    a_bar = _float_zeros(np.shape(a), y_bar)
    moved = np.moveaxis(a_bar, (axis1, axis2), (-2, -1))  # a view into a_bar
    length = np.shape(y_bar)[-1]
    rows = np.arange(length) + max(-offset, 0)
    columns = np.arange(length) + max(offset, 0)
    moved[..., rows, columns] = y_bar
    return a_bar


def undiff(y_bar, a, n=1, axis=-1, prepend=None, append=None):
    """Adjoints of a, prepend and append for y = np.diff(a, n, axis, prepend, append): the
    adjoint of one difference d = c[1:] − c[:-1] is c̄ = [0, d̄] − [d̄, 0] along the axis,
    applied n times (a difference of an empty array is empty: nothing to undo); then c̄ is cut
    back into prepend, a and append (each a number or an array with a's other axes, which NumPy
    broadcast). With n = 0, NumPy returns a itself, ignoring prepend and append."""
    if n == 0:
        return y_bar, _zeros_like_value(prepend, y_bar), _zeros_like_value(append, y_bar)
    plain = prepend is None and append is None and isinstance(y_bar, np.ndarray)
    if plain and y_bar.ndim == 1 and y_bar.size:
        # d[i] = Σⱼ sⱼ a[i + j] with s the n-th difference stencil, so ā = d̄ * s in full
        return np.convolve(y_bar, _difference_stencil(n, y_bar.dtype)), None, None
    axis = axis % max(np.ndim(a), 1)
    before = 0 if prepend is None else _joined_length(prepend, a, axis)
    after = 0 if append is None else _joined_length(append, a, axis)
    length = before + np.shape(a)[axis] + after
    g = y_bar
    for k in reversed(range(n)):
        if max(length - k, 0) == np.shape(g)[axis]:
            continue  # c had no elements left: its difference was empty too
        g = _undone_difference(g, axis)
    cut = (slice(None),) * axis
    parts = [g[(*cut, slice(None, before))], g[(*cut, slice(before, length - after))]]
    parts.append(g[(*cut, slice(length - after, None))])  # np.split, which Dask lacks
    prepend_bar = None if prepend is None else _sum_to_shape_of(parts[0], prepend, axis)
    append_bar = None if append is None else _sum_to_shape_of(parts[2], append, axis)
    return parts[1], prepend_bar, append_bar


@functools.cache
def _difference_stencil(n, dtype):
    """The weights of np.diff(a, n) on a[i], ..., a[i + n]: (−1)ⁿ⁻ʲ C(n, j), in the floating
    dtype of ``dtype`` (so a float32 adjoint stays float32)."""
    weights = [(-1) ** (n - j) * math.comb(n, j) for j in range(n + 1)]
    stencil = np.array(weights, dtype=np.result_type(dtype, np.float16))
    stencil.setflags(write=False)  # shared by every call
    return stencil


def _undone_difference(d_bar, axis):
    """c̄ = [0, d̄] − [d̄, 0] along ``axis`` for d = c[1:] − c[:-1]: in place on one new NumPy
    array, joined from slices of zeros for another library's (Dask's cannot be written into;
    np.pad, which both could use, costs several times more)."""
    cut = (slice(None),) * axis
    shape = list(np.shape(d_bar))
    if isinstance(d_bar, np.ndarray):
        shape[axis] += 1
        c_bar = np.zeros(shape, dtype=np.result_type(d_bar, 1.0))
        c_bar[(*cut, slice(1, None))] = d_bar
        c_bar[(*cut, slice(None, -1))] -= d_bar
        return c_bar
    shape[axis] = 1
    zeros = np.zeros_like(d_bar, shape=tuple(shape))  # in d_bar's library
    return np.concatenate((zeros, d_bar), axis=axis) - np.concatenate((d_bar, zeros), axis=axis)


def windows_bar(y_bar, x, window_shape, axis=None):
    """The adjoint of ``sliding_window_view(x, window_shape, axis)``: each window's adjoint
    added back where the window lies, x̄[i + j] = Σ ȳ[i, j] over the windows holding that
    element: one slice of ȳ added per offset in the window (a window of at most 64 elements
    over distinct axes), or ȳ added without buffering (``np.add.at``) into the same windows of
    a zero array, overlapping as they do; NumPy arrays only (another library's cannot be
    written so)."""
    if _any_foreign(y_bar, x):
        raise OverbarError(
            "sliding_window_view of another library's array: overbar adds its windows' "
            "adjoints back into a NumPy array only"
        )
    x_bar = np.zeros(np.shape(x), dtype=np.result_type(y_bar, 1.0))
    sizes = (window_shape,) if np.ndim(window_shape) == 0 else tuple(window_shape)
    axes = range(x_bar.ndim) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    axes = tuple(a % x_bar.ndim for a in axes)
    if len(set(axes)) == len(axes) and math.prod(sizes) <= 64:
        # one slice added per offset in the window: far fewer calls than elements
        counts = [n - 1 for n in y_bar.shape[: x_bar.ndim]]  # each axis' window count − 1
        for offsets in np.ndindex(*sizes):
            place = [slice(None)] * x_bar.ndim
            for a, k in zip(axes, offsets, strict=True):
                place[a] = slice(k, k + counts[a] + 1)
            x_bar[tuple(place)] += y_bar[(..., *offsets)]
        return x_bar
    windows = np.lib.stride_tricks.sliding_window_view(x_bar, window_shape, axis, writeable=True)
    np.add.at(windows, Ellipsis, y_bar)  # unbuffered: overlapping windows add up
    return x_bar


def windows_bar_of_outer(a, b, x, window_shape, axis=None):
    """``windows_bar(np.outer(a, b), x, window_shape, axis)`` without the outer product, where
    the windows are of a vector: window k holds x[k : k + m], so
    x̄ᵢ = Σ_{k + j = i} aₖ bⱼ = (a ∗ b)ᵢ, the full convolution of a and b (n − m + 1 windows
    of m elements: n − m + 1 + m − 1 = n values, x's length).

    Side conditions, checked here: x, a and b NumPy vectors of real numbers, a as long as
    there are windows and b as long as a window (then the outer product is the windows'
    adjoint); otherwise the outer product is made and ``windows_bar`` adds it back."""
    if (
        type(x) is np.ndarray
        and type(a) is np.ndarray
        and type(b) is np.ndarray
        and x.ndim == a.ndim == b.ndim == 1
        and b.shape[0] >= 1
        and np.size(window_shape) == 1
        and b.shape[0] == np.ravel(window_shape)[0]
        and a.shape[0] + b.shape[0] - 1 == x.shape[0]
        and not (np.iscomplexobj(a) or np.iscomplexobj(b))
    ):
        return np.convolve(a, b)
    return windows_bar(np.outer(a, b), x, window_shape, axis)


def _zeros_like_value(values, like):
    return None if values is None else _float_zeros(np.shape(values), like)


def _joined_length(values, a, axis):
    return 1 if np.ndim(values) == 0 else np.shape(values)[axis]


def _sum_to_shape_of(g, values, axis):
    if np.ndim(values) == 0:
        return np.sum(g)
    return _sum_to_shape(g, np.shape(values))


def unpartition(y_bar, y, a, axis=-1):
    """Adjoint of y = np.partition(a, kth, axis): each element of ȳ goes back to the element of
    a whose value it holds (matched by rank: among equal values, the i-th in y to the i-th in
    a, a choice of subgradient at a tie)."""
    if axis is None:
        return np.reshape(unpartition(y_bar, y, np.ravel(a), 0), np.shape(a))
    from_a = np.argsort(a, axis=axis, kind="stable")
    from_y = np.argsort(y, axis=axis, kind="stable")
    a_bar = np.empty(np.shape(a), dtype=np.result_type(y_bar, 1.0))
    ranked = np.take_along_axis(np.broadcast_to(y_bar, np.shape(y)), from_y, axis=axis)
    np.put_along_axis(a_bar, from_a, ranked, axis=axis)
    return a_bar


def linspace_weights(num, endpoint, axis, ndim):
    """The weight tᵢ = i / (num − 1) (i / num without the endpoint) of stop in each sample of
    np.linspace, shaped to multiply a result of rank ``ndim`` whose samples run along ``axis``."""
    weights = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * ndim
    shape[axis] = num
    return np.reshape(weights, shape)


def sum_over(g, axis, like):
    """``g`` summed over ``axis`` (the samples of a linspace), then down to ``like``'s shape."""
    return _sum_to_shape(np.sum(g, axis=axis), np.shape(like))


# -- padding ----------------------------------------------------------------------------------


def pad_origins(shape, pad_width, mode, reflect_type="even"):
    """Which element of an array of ``shape`` each element of its np.pad comes from (its
    index in the flattened array), −1 for a constant: np.pad applied to the indices."""
    even_reflection(mode, reflect_type)
    indices = np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)
    if mode == "constant":
        return np.pad(indices, pad_width, mode="constant", constant_values=-1)
    return np.pad(indices, pad_width, mode=mode)


def even_reflection(mode, reflect_type):
    """``reflect_type``, refused unless it is 'even' in the modes that reflect: an odd
    reflection (2 × edge − mirror image) is not a copy of elements, which the pad rules are."""
    if mode in ("reflect", "symmetric") and reflect_type != "even":
        raise OverbarError(
            f"overbar differentiates np.pad in mode {mode!r} with reflect_type='even' only"
        )
    return reflect_type


def pad_dot_when_run(array_dot, array, pad_width, mode):
    """Tangent of pad(a, widths, mode) for a mode known when the program runs: the tangent
    padded the same way (zeros for the constant mode's zeros); the modes ``copy_pad_origins``
    refuses, refused."""
    copy_pad_origins(np.shape(array), pad_width, mode)  # refuses a mode that computes values
    return np.pad(array_dot, pad_width, mode=mode)


def copy_pad_origins(shape, pad_width, mode):
    """``pad_origins`` for a mode known only when the program runs, which must be one whose
    padded elements are zeros or copies of the array's (np.pad's default constant of zero,
    edge, wrap, reflect and symmetric, the reflections even)."""
    if not isinstance(mode, str) or mode not in (
        "constant",
        "edge",
        "wrap",
        "reflect",
        "symmetric",
    ):
        raise OverbarError(
            f"np.pad in mode {mode!r}: overbar differentiates np.pad in the modes 'constant', "
            "'edge', 'wrap', 'reflect' and 'symmetric' only"
        )
    return pad_origins(shape, pad_width, mode)


def pad_pairs(pad_width, ndim):
    """The (before, after) widths of each axis, read from pad_width as np.pad reads it: a
    number, one pair, a pair per axis, or a dict of axis: width or pair."""
    if isinstance(pad_width, dict):
        pairs = [(0, 0)] * ndim
        for axis, width in pad_width.items():
            before, after = np.broadcast_to(np.asarray(width, dtype=np.intp), (2,))
            pairs[axis] = (int(before), int(after))
        return pairs
    widths = np.round(np.asarray(pad_width)).astype(np.intp)
    if widths.size == 1:
        return [(int(widths.ravel()[0]),) * 2] * ndim
    if widths.size == 2 and widths.shape != (2, 1):
        return [tuple(int(w) for w in widths.ravel())] * ndim
    return [(int(b), int(a)) for b, a in np.broadcast_to(widths, (ndim, 2))]


def unpad_constant(y_bar, array, pad_width):
    """Adjoint of np.pad(array, pad_width, mode="constant") in array: the middle of ȳ, where
    array was put."""
    shape = np.shape(array)
    pairs = pad_pairs(pad_width, len(shape))
    if tuple(n + b + a for n, (b, a) in zip(shape, pairs, strict=True)) != np.shape(y_bar):
        return unpad(y_bar, array, pad_origins(shape, pad_width, "constant"))
    middle = tuple(slice(b, b + n) for n, (b, a) in zip(shape, pairs, strict=True))
    if is_foreign_array(y_bar):  # a copy in its own library
        return y_bar[middle].astype(np.result_type(y_bar.dtype, 1.0), copy=True)
    return np.array(y_bar[middle], dtype=np.result_type(y_bar, 1.0))


def unpad(y_bar, array, origins):
    """Adjoint of a pad that copies elements: ȳ added back at each element's origin (constants,
    −1, take nothing)."""
    if is_foreign_array(y_bar):  # gathers, which dispatch, in place of np.add.at
        if tuple(y_bar.shape) != origins.shape:
            raise OverbarError(
                f"np.pad of a {library_name(y_bar)} gave an array of shape {y_bar.shape} where "
                f"NumPy's has shape {origins.shape} (Dask pads wrongly by more than an axis's "
                f"length in the modes reflect, symmetric and wrap); pad by less, or pad a "
                f"NumPy array"
            )
        size = int(np.prod(np.shape(array)))
        flat = summed_at_origins(np.reshape(y_bar, (-1,)), origins, size, 0)
        return np.reshape(flat, np.shape(array))
    copied = origins >= 0
    flat = _float_zeros(np.size(array), y_bar)
    np.add.at(flat, origins[copied], np.asarray(y_bar)[copied])
    return np.reshape(flat, np.shape(array))


def pad_constants_bar(y_bar, array, pad_width, constant_values):
    """Adjoint of the constants of np.pad(array, pad_width, constant_values=c): for each of the
    (before, after) constants of each axis (NumPy broadcasts c to (ndim, 2)), the sum of ȳ over
    the elements it fills, then summed back to c's own form."""
    ndim = np.ndim(array)
    zeros = np.zeros(np.shape(array))
    sums = []
    for axis in range(ndim):
        for side in range(2):
            unit = np.zeros((ndim, 2))
            unit[axis, side] = 1.0
            filled = np.pad(zeros, pad_width, mode="constant", constant_values=unit)
            if is_foreign_array(y_bar):  # the mask in ȳ's library
                filled = like(filled, y_bar)
            sums.append(np.sum(y_bar * filled))
    if is_foreign_array(y_bar):  # kept in its library: a stack of its sums
        totals = np.reshape(np.stack(sums), (ndim, 2))
    else:
        totals = np.reshape(np.array(sums, dtype=np.result_type(y_bar, 1.0)), (ndim, 2))
    shape = _value_shape(constant_values)
    if math.prod(shape) == 1:
        return np.reshape(totals.sum(), shape) if shape else totals.sum()
    if math.prod(shape) == 2 and shape != (2, 1):
        return np.reshape(totals.sum(axis=0), shape)
    return _sum_to_shape(totals, shape)


def _value_shape(value):
    """The shape of a number, an array or nested lists and tuples of them, as np.shape reads
    it, without making an array of them (which would convert another library's)."""
    if hasattr(value, "shape") and not isinstance(value, list | tuple):
        return tuple(value.shape)
    if isinstance(value, list | tuple):
        return (len(value),) + (_value_shape(value[0]) if value else ())
    return ()


# -- np.gradient ------------------------------------------------------------------------------


def gradient_bar(y_bar, f, spacing, axis=None, edge_order=1):
    """Adjoint of np.gradient(f, *spacing, axis=axis, edge_order=edge_order) in f, which it is
    linear in: np.gradient's own transpose, built column by column along each axis (the
    spacing is a constant)."""
    ndim = np.ndim(f)
    axes = tuple(range(ndim)) if axis is None else axis
    single = isinstance(axes, numbers.Integral)
    axes = (axes,) if single else tuple(axes)
    axes = tuple(a % ndim for a in axes)
    y_bars = (y_bar,) if single or len(axes) == 1 else tuple(y_bar)
    spacings = _spacings(spacing, axes)
    f_bar = _float_zeros(np.shape(f), *y_bars)
    for k, (ax, g) in enumerate(zip(axes, y_bars, strict=True)):
        if _is_runtime_zero(g):
            continue
        length = np.shape(f)[ax]
        basis = np.eye(length)
        columns = np.gradient(
            basis, *((spacings[k],) if spacings is not None else ()), axis=0, edge_order=edge_order
        )
        # columns[i, j] = ∂ (gradient along ax)[i] / ∂ f[j]
        f_bar = f_bar + np.moveaxis(
            np.tensordot(columns, np.moveaxis(g, ax, 0), axes=(0, 0)), 0, ax
        )
    return f_bar


def _spacings(spacing, axes):
    if len(spacing) == 0:
        return None
    if len(spacing) == 1 and np.ndim(spacing[0]) == 0:
        return [spacing[0]] * len(axes)
    if len(spacing) != len(axes):
        raise OverbarError("np.gradient takes one spacing, or one per axis")
    return list(spacing)


def _is_runtime_zero(value) -> bool:
    return type(value) is float and value == 0.0


# -- tangents (forward mode) ------------------------------------------------------------------


def zero_unless_none(values):
    """The zeros standing in for np.diff's prepend or append values in the tangent term of
    another argument (float zeros shaped like them, a list of zeros for a list), ``None`` where
    there are none."""
    return None if values is None else zero_tangent(values)


def differences(c_dot, n, axis, prepend, append):
    """np.diff(c_dot, n, axis, prepend=prepend, append=append), passing prepend and append only
    where they are not ``None`` (np.diff's default is no values, which ``None`` is not)."""
    joined = {}
    if prepend is not None:
        joined["prepend"] = prepend
    if append is not None:
        joined["append"] = append
    return np.diff(c_dot, n, axis, **joined)


def partitioned_like(a_dot, a, y, axis=-1):
    """Tangent of y = np.partition(a, kth, axis): ȧ's elements put where the partition put a's,
    each element of y taking the tangent of the element of a whose value it holds (matched by
    rank: among equal values, the i-th in a goes to the i-th in y, as ``unpartition`` sends the
    adjoint back)."""
    if axis is None:
        return partitioned_like(np.ravel(a_dot), np.ravel(a), y, 0)
    from_a = np.argsort(a, axis=axis, kind="stable")
    from_y = np.argsort(y, axis=axis, kind="stable")
    y_dot = np.empty(np.shape(y), dtype=np.result_type(a_dot, 1.0))
    ranked = np.take_along_axis(np.broadcast_to(a_dot, np.shape(a)), from_a, axis=axis)
    np.put_along_axis(y_dot, from_y, ranked, axis=axis)
    return y_dot


def with_sample_axis(t, axis, y):
    """The tangent ``t`` of np.linspace's start or stop as each sample of the result ``y`` sees
    it: given y's rank less one (axes of length 1 in front, as NumPy broadcasts start against
    stop), an axis of length 1 inserted where the samples run, then broadcast to y's shape (a
    read-only view; the rule multiplies it by the weights, which makes a new array)."""
    leading = (1,) * (np.ndim(y) - 1 - np.ndim(t))
    with_axis = np.expand_dims(np.reshape(t, leading + np.shape(t)), axis)
    return np.broadcast_to(with_axis, np.shape(y))


# Arguments (by position) these helpers only take the shape of: a value the reverse sweep reads
# only there is saved, in a loop, as its shape.
SHAPE_ONLY = {
    unpad_constant: (1,),
    take_bar: (1,),
    take_along_axis_bar: (1,),
    untile: (1,),
    unrepeat: (1,),
    unroll_axis: (1,),
    diag_bar: (1,),
    diagonal_bar: (1,),
    unsplit: (1,),
    undiff: (1,),
    unpad: (1,),
    pad_constants_bar: (1,),
    gradient_bar: (1,),
}


# -- moving elements by labels: delete, insert, compress, extract, resize, choose, unstack ----


def _labels(x):
    """Each element of ``x`` labelled by its flat position plus one (0 stays free to mark
    elements that come from elsewhere), in x's shape."""
    return np.arange(1, size(x) + 1).reshape(np.shape(x))


def gathered_bar(y_bar, labels, x):
    """The adjoint of ``x`` for y = a function that only copies x's elements into y (each
    element of y holding x's element ``labels - 1``, or none where the label is 0): ȳ summed
    onto the elements it came from (an element copied twice gets both shares), shaped like x.
    The labels are found by calling the function itself on the labels of x: the transpose of a
    copying map, read off the map."""
    g = np.ravel(np.broadcast_to(y_bar, np.shape(labels)))
    flat = np.bincount(np.ravel(labels), weights=g, minlength=size(x) + 1)[1:]
    dtype = np.result_type(np.asarray(y_bar), np.asarray(x), 1.0)
    return np.reshape(flat.astype(dtype), np.shape(x))


def delete_bar(y_bar, arr, obj, axis=None):
    """Adjoint of y = delete(arr, obj, axis): ȳ back at the elements kept, 0 at those deleted."""
    return gathered_bar(y_bar, np.delete(_labels(arr), obj, axis), arr)


def insert_bars(y_bar, arr, obj, values, axis=None):
    """Adjoints of y = insert(arr, obj, values, axis): ȳ at arr's elements for arr, ȳ at the
    inserted places (summed where values was broadcast) for values."""
    value_shape = np.shape(values)
    arr_labels = np.insert(_labels(arr), obj, np.zeros(value_shape, dtype=int), axis)
    value_labels = np.insert(np.zeros(np.shape(arr), dtype=int), obj, _labels(values), axis)
    values_bar = gathered_bar(y_bar, value_labels, values)
    if np.asarray(arr).dtype.kind not in "fc":  # NumPy casts values to arr's integers
        values_bar = values_bar * 0
    return gathered_bar(y_bar, arr_labels, arr), values_bar


def inserted_values_dot(values_dot, arr, obj, axis=None):
    """The term of the values' tangent in the tangent of insert(arr, obj, values, axis) (linear
    in values): insert(0, obj, v̇alues, axis) in arr's float dtype, or 0 where arr holds
    integers (NumPy truncates the values to them)."""
    zeros = zero_tangent(np.asarray(arr))
    term = np.insert(zeros, obj, values_dot, axis)
    return term if np.asarray(arr).dtype.kind in "fc" else term * 0


def extract_bar(y_bar, condition, arr):
    """Adjoint of y = extract(condition, arr): ȳ back at the elements where condition holds."""
    return gathered_bar(y_bar, np.extract(condition, _labels(arr)), arr)


def resize_bar(y_bar, a, new_shape):
    """Adjoint of y = resize(a, new_shape) (a's elements repeated in order to fill it): each
    element's copies' adjoints summed onto it."""
    return gathered_bar(y_bar, np.resize(_labels(a), new_shape), a)


def unstack_bar(y_bar, x, axis=0):
    """Adjoint of y = unstack(x, axis): the pieces' adjoints stacked back along the axis (a
    piece no line reads has the adjoint 0)."""
    x_bar = _float_zeros(np.shape(x), np.asarray(x))
    moved = np.moveaxis(x_bar, axis, 0)  # a view: writing into it fills x_bar
    for index, piece in enumerate(y_bar):
        moved[index] += piece
    return x_bar


def _block_labels(arrays, start=1):
    """np.block's nested lists with each leaf replaced by its elements' labels (consecutive
    from ``start``), and the next free label."""
    if isinstance(arrays, list):
        labelled = []
        for item in arrays:
            labels, start = _block_labels(item, start)
            labelled.append(labels)
        return labelled, start
    count = size(arrays)
    return np.arange(start, start + count).reshape(np.shape(arrays)), start + count


def _block_pieces(flat, arrays, start=0):
    """The adjoints of np.block's leaves cut from ``flat`` (their elements in order), nested as
    the lists are (tuples), and the next position."""
    if isinstance(arrays, list):
        pieces = []
        for item in arrays:
            piece, start = _block_pieces(flat, item, start)
            pieces.append(piece)
        return tuple(pieces), start
    count = size(arrays)
    return np.reshape(flat[start : start + count], np.shape(arrays)), start + count


def block_bar(y_bar, arrays):
    """Adjoint of y = block(arrays): each leaf's piece of ȳ (read off np.block applied to the
    leaves' labels), nested as the lists are."""
    if not isinstance(arrays, list):
        return np.reshape(y_bar, np.shape(arrays))
    labelled, end = _block_labels(arrays)
    labels = np.block(labelled)
    g = np.ravel(np.broadcast_to(y_bar, labels.shape))
    flat = np.bincount(np.ravel(labels), weights=g, minlength=end)[1:]
    return _block_pieces(flat.astype(np.result_type(y_bar, 1.0)), arrays)[0]


def block_dot(arrays_dot):
    """The tangent of y = block(arrays) (linear): block of the leaves' tangents, given as nested
    tuples or lists."""

    def listed_(item):
        return [listed_(i) for i in item] if isinstance(item, tuple | list) else item

    return np.block(listed_(arrays_dot))
