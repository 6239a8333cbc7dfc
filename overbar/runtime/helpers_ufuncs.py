"""Runtime helpers for the rules of ``rules_ufuncs.py``: the methods of NumPy's ufuncs
(``reduce``, ``accumulate``, ``outer``) and the array methods that read elements out
(``item``, ``tolist``, ``compress``, ``choose``). Each is small and runs on plain NumPy values.

The running extremum (``maximum.accumulate``) works on runs: y is monotone along the axis, so
the elements aⱼ (j ≤ i) equal to yᵢ are exactly those of i's run of equal values of y with
aⱼ = yⱼ. Sums over such elements are sums within runs, made from one cumulative sum.
"""

from __future__ import annotations

import numbers

import numpy as np

from overbar.runtime import arrays
from overbar.runtime.helpers import _is_runtime_zero, unbroadcast


def widened(x, y):
    """``x`` with one new trailing axis of length 1 per axis of ``y``: ``f(widened(x, y), y)``
    broadcasts to every pair (xᵢ, yⱼ), which is ``f.outer(x, y)``."""
    return np.reshape(x, np.shape(x) + (1,) * np.ndim(y))


# -- running extremum: maximum.accumulate, minimum.accumulate -------------------------------------


def _run_starts(y):
    """For each position i along axis 0: the first position of the run of equal values of y
    that holds i (a nan is a run of its own: it equals nothing)."""
    n = y.shape[0]
    position = np.arange(n).reshape((n,) + (1,) * (y.ndim - 1))
    starts = np.concatenate([np.ones_like(y[:1], dtype=bool), y[1:] != y[:-1]], axis=0)
    return np.maximum.accumulate(np.where(starts, position, 0), axis=0)


def _cumsum_within_runs(v, starts):
    """Σ_{k = starts[i]}^{i} vₖ along axis 0: the cumulative sum restarted at each run."""
    total = np.cumsum(v, axis=0)
    before = np.concatenate([np.zeros_like(total[:1]), total], axis=0)
    return total - np.take_along_axis(before, starts, axis=0)


def _running_winners(y, a):
    """The elements equal to the running extreme where they stand (aⱼ = yⱼ), the starts of the
    runs of y, and how many such elements each position's run holds up to it (cᵢ ≥ 1 where
    yᵢ is a number)."""
    winners = a == y
    starts = _run_starts(y)
    count = _cumsum_within_runs(winners.astype(np.intp), starts)
    return winners, starts, np.maximum(count, 1)


def running_extremum_bar(y_bar, y, a, axis=0):
    """Adjoint of y = maximum.accumulate(a, axis) (or minimum): ȳᵢ goes to the elements j ≤ i
    with aⱼ = yᵢ, shared equally among them, as ``np.max``'s rule shares ȳ among the ties of
    max(a[:i+1]):  āⱼ = [aⱼ = yⱼ] Σ_{i ≥ j, yᵢ = yⱼ} ȳᵢ / cᵢ, cᵢ the number of such j ≤ i."""
    a = a if arrays.is_array(a) else np.asarray(a)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.result_type(y_bar, a, 1.0))
    g = np.moveaxis(np.broadcast_to(y_bar, a.shape), axis, 0)
    y_moved, a_moved = np.moveaxis(y, axis, 0), np.moveaxis(a, axis, 0)
    winners, _, count = _running_winners(y_moved, a_moved)
    share = np.flip(g / count, 0)
    later = np.flip(_cumsum_within_runs(share, _run_starts(np.flip(y_moved, 0))), 0)
    return np.moveaxis(np.where(winners, later, 0.0), 0, axis)


def running_extremum_dot(a_dot, y, a, axis=0):
    """Tangent of y = maximum.accumulate(a, axis) (or minimum):  ẏᵢ = the mean of ȧⱼ over
    the elements j ≤ i with aⱼ = yᵢ (the transpose of ``running_extremum_bar``)."""
    a = a if arrays.is_array(a) else np.asarray(a)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.result_type(a_dot, a, 1.0))
    d = np.moveaxis(np.broadcast_to(a_dot, a.shape), axis, 0)
    y_moved, a_moved = np.moveaxis(y, axis, 0), np.moveaxis(a, axis, 0)
    winners, starts, count = _running_winners(y_moved, a_moved)
    return np.moveaxis(_cumsum_within_runs(np.where(winners, d, 0.0), starts) / count, 0, axis)


# -- running log-sum-exp: logaddexp.accumulate, logaddexp2.accumulate -----------------------------


def log_accumulate_bar(y_bar, y, a, axis=0, base2=False):
    """Adjoint of y = logaddexp.accumulate(a, axis) (``base2``: logaddexp2, 2 for e below):
    āⱼ = Σ_{i ≥ j} ȳᵢ e^(aⱼ − yᵢ) = e^(aⱼ − yⱼ) Sⱼ with Sⱼ = ȳⱼ + e^(yⱼ − yⱼ₊₁) Sⱼ₊₁. y grows
    along the axis, so every factor e^(yⱼ − yⱼ₊₁) is at most 1: nothing overflows."""
    power = np.exp2 if base2 else np.exp
    a = a if arrays.is_array(a) else np.asarray(a)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.result_type(y_bar, a, 1.0))
    g = np.moveaxis(np.broadcast_to(y_bar, a.shape), axis, 0)
    y_moved, a_moved = np.moveaxis(y, axis, 0), np.moveaxis(a, axis, 0)
    n = a_moved.shape[0]
    sums = [g[n - 1]]
    for j in range(n - 2, -1, -1):
        sums.append(g[j] + power(y_moved[j] - y_moved[j + 1]) * sums[-1])
    later = np.stack(sums[::-1])
    return np.moveaxis(power(a_moved - y_moved) * later, 0, axis)


def log_accumulate_dot(a_dot, y, a, axis=0, base2=False):
    """Tangent of y = logaddexp.accumulate(a, axis) (``base2``: logaddexp2, 2 for e below):
    ẏᵢ = Σ_{j ≤ i} ȧⱼ e^(aⱼ − yᵢ) = Tᵢ with Tᵢ = ȧᵢ e^(aᵢ − yᵢ) + e^(yᵢ₋₁ − yᵢ) Tᵢ₋₁ (every
    factor at most 1)."""
    power = np.exp2 if base2 else np.exp
    a = a if arrays.is_array(a) else np.asarray(a)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.result_type(a_dot, a, 1.0))
    d = np.moveaxis(np.broadcast_to(a_dot, a.shape), axis, 0)
    y_moved, a_moved = np.moveaxis(y, axis, 0), np.moveaxis(a, axis, 0)
    own = d * power(a_moved - y_moved)
    totals = [own[0]]
    for i in range(1, a_moved.shape[0]):
        totals.append(own[i] + power(y_moved[i - 1] - y_moved[i]) * totals[-1])
    return np.moveaxis(np.stack(totals), 0, axis)


# -- array methods that read elements ---------------------------------------------------------


def item_position(a, index):
    """Where ``a.item(*index)`` reads, as an index tuple: the only element for no index, the
    element at flat position i for one integer, the element the tuple names otherwise."""
    shape = np.shape(a)
    if len(index) == 1 and isinstance(index[0], tuple):
        index = index[0]
    if len(index) == 0:
        return (0,) * len(shape)
    if len(index) == 1:
        size = int(np.prod(shape, dtype=np.intp))
        return tuple(int(i) for i in np.unravel_index(int(index[0]) % max(size, 1), shape))
    return tuple(int(i) for i in index)


def tolist_bar(y_bar, a):
    """Adjoint of y = a.tolist(): the nested adjoint ȳ (a tuple per level, with the runtime
    zero 0.0 for a part no gradient reached, or an array a rule gave whole) as one array shaped
    like ``a``."""
    dtype = np.result_type(a, 1.0)
    return _dense(y_bar, np.shape(a), dtype)


def _dense(g, shape, dtype):
    if g is None or _is_runtime_zero(g):
        return np.zeros(shape, dtype=dtype)
    if isinstance(g, numbers.Number) or arrays.is_array(g):
        return np.broadcast_to(np.asarray(g, dtype=dtype), shape).copy()
    parts = [_dense(part, shape[1:], dtype) for part in g]
    return np.stack(parts) if parts else np.zeros(shape, dtype=dtype)


def compress_bar(y_bar, condition, a, axis=None):
    """Adjoint of y = compress(condition, a, axis): zeros shaped like ``a`` with ȳ at the
    positions the condition keeps (along ``axis``; of the flattened ``a`` for None)."""
    a = a if arrays.is_array(a) else np.asarray(a)
    kept = np.flatnonzero(np.asarray(condition))
    a_bar = np.zeros(a.shape, dtype=np.result_type(y_bar, a, 1.0))
    if axis is None:
        flat = a_bar.reshape(-1)
        flat[kept] = np.ravel(y_bar)
        return flat.reshape(a.shape)
    a_bar[(slice(None),) * (axis % a.ndim) + (kept,)] = y_bar
    return a_bar


def chosen(a, n, mode="raise"):
    """The choice each element of ``a`` makes among ``n`` choices, as ``np.choose`` reads it
    in ``mode`` ('raise': as given; 'wrap': modulo n; 'clip': clipped to [0, n − 1])."""
    a = np.asarray(a)
    if mode == "wrap":
        return a % n
    if mode == "clip":
        return np.clip(a, 0, n - 1)
    return a


def choose_bar(y_bar, a, choices, mode="raise"):
    """Adjoint of y = choose(a, choices):  c̄ₖ = ȳ where a chose k, summed to cₖ's shape (a
    tuple for a list or tuple of choices, an array for an array of them)."""
    picks = chosen(a, len(choices), mode)
    parts = [unbroadcast(np.where(picks == k, y_bar, 0.0), c) for k, c in enumerate(choices)]
    return np.stack(parts) if arrays.is_array(choices) else tuple(parts)


# -- subtract and divide: reduce and accumulate, which treat the first element apart ------------


def single_axis(axis, a):
    """The one axis ``subtract.reduce`` (or divide's, which are not reorderable) reduces:
    ``axis`` as an int (None, or a tuple of one, for a vector's only axis)."""
    if isinstance(axis, tuple):
        (axis,) = axis
    return 0 if axis is None else axis


def first_along(a, axis):
    """True at the first position along ``axis`` (shaped to broadcast against ``a``), False
    at the others: where ``a₀ − a₁ − …`` and ``a₀ / a₁ / …`` treat their element apart."""
    ndim = np.ndim(a)
    axis = axis % ndim if ndim else 0
    shape = [1] * ndim
    if ndim:
        shape[axis] = np.shape(a)[axis]
    return np.reshape(np.arange(shape[axis] if ndim else 1) == 0, shape)


# -- reduceat: reductions over the segments indices mark -----------------------------------------


def segments(indices, length):
    """The segments ``ufunc.reduceat(a, indices)`` reduces, as (start, stop) pairs: from
    indices[i] to indices[i + 1], or aᵢ alone where indices[i] ≥ indices[i + 1]; the last to
    the end."""
    starts = [int(i) for i in np.ravel(indices)]
    stops = []
    for position, start in enumerate(starts):
        following = starts[position + 1] if position + 1 < len(starts) else length
        stops.append(following if start < following else start + 1)
    return list(zip(starts, stops, strict=True))


def _segment_shares(kind, y, a):
    """∂y/∂a for y the reduction of one segment ``a`` (along axis 0) by ``kind``: ones for
    add, the product of the others for multiply (exact with zeros), and for maximum and
    minimum 1 / (number of ties) at the elements equal to y."""
    if kind == "add":
        return np.ones_like(a, dtype=np.result_type(a, float))
    if kind == "multiply":
        before = np.cumprod(np.concatenate([np.ones_like(a[:1]), a[:-1]]), axis=0)
        after = np.cumprod(np.concatenate([np.ones_like(a[:1]), a[:0:-1]]), axis=0)[::-1]
        return before * after
    winners = a == y
    return winners / np.sum(winners, axis=0)


def reduceat_bar(y_bar, y, a, indices, axis, kind):
    """Adjoint of y = <kind>.reduceat(a, indices, axis): each ȳᵢ goes to the elements of its
    segment, times ∂yᵢ/∂aⱼ (``_segment_shares``); where segments overlap (an index that goes
    back), their contributions add."""
    a, moved_y, moved_bar = (np.moveaxis(np.asarray(v), axis, 0) for v in (a, y, y_bar))
    moved_bar = np.broadcast_to(moved_bar, moved_y.shape)
    a_bar = np.zeros(a.shape, dtype=np.result_type(a, moved_bar, float))
    for i, (start, stop) in enumerate(segments(indices, a.shape[0])):
        part = a[start:stop]
        a_bar[start:stop] += moved_bar[i] * _segment_shares(kind, moved_y[i], part)
    return np.moveaxis(a_bar, 0, axis)


def reduceat_dot(a_dot, y, a, indices, axis, kind):
    """Tangent of y = <kind>.reduceat(a, indices, axis): ẏᵢ = Σ_{j in segment i} ȧⱼ ∂yᵢ/∂aⱼ."""
    a, moved_y = (np.moveaxis(np.asarray(v), axis, 0) for v in (a, y))
    moved_dot = np.moveaxis(np.broadcast_to(a_dot, np.shape(np.moveaxis(a, 0, axis))), axis, 0)
    y_dot = np.zeros(moved_y.shape, dtype=np.result_type(moved_y, moved_dot, float))
    for i, (start, stop) in enumerate(segments(indices, a.shape[0])):
        part = a[start:stop]
        y_dot[i] = np.sum(moved_dot[start:stop] * _segment_shares(kind, moved_y[i], part), axis=0)
    return np.moveaxis(y_dot, 0, axis)


# -- ufunc.at: a write in place, as a value ------------------------------------------------------


def added_at(y, indices, v):
    """``np.add.at(y, indices, v)`` as a value: a copy of y with each element of v added at its
    index, repeated indices adding up (unlike ``y[indices] += v``, where the last one wins)."""
    z = np.array(y, copy=True)
    np.add.at(z, indices, v)
    return z


def added_at_bar(z_bar, indices, v):
    """v̄ for z = added_at(y, indices, v): each element of v reads the z̄ where it was added,
    ``z̄[indices]``, summed to v's shape where v was broadcast. (A helper, not a rule's
    ``unbroadcast``: the rule form reads that as summing a value shaped like the output.)"""
    return unbroadcast(z_bar[indices], v)
