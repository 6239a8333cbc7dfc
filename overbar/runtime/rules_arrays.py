"""Adjoint rules for NumPy's stacking, splitting and rearranging functions, each followed by
its tangent rule (forward mode).

Every function here moves or copies its input's elements (``linspace`` and ``gradient`` are
linear maps too), so every adjoint puts the output's adjoint back where each element came from,
adding where one element went to several places. Written in the bar notation of DESIGN.md like
``rules.py``: the docstring states the math and the body mirrors it. Functions that return a
list or a tuple (the splits, ``broadcast_arrays``, ``gradient`` of an n-d array) receive their
output's adjoint as a tuple, one array per element (``shapes_arrays.py`` tells the compiler
they return sequences). Keyword arguments a rule does not declare (``dtype=``, ``out=``,
``retstep=True``, ...) make the call refuse, as do arguments the rule returns no adjoint for
(a pad width, a spacing) when they depend on the differentiated inputs.

Every function here is linear in the arguments that have a derivative, so each tangent rule
applies the same function to the tangents (``ẏ = hstack(ẋs)``); where a function takes two such
arguments (``append``, ``pad`` with constants, ``diff`` with prepended values, ``linspace``),
each term applies it to one argument's tangent and zeros in place of the others. A tangent
refuses what its adjoint refuses.
"""

from __future__ import annotations

import numpy as np

from overbar.primitives import Index, Method
from overbar.runtime.helpers import zero_tangent
from overbar.runtime.helpers_arrays import (
    as_column,
    block_bar,
    block_dot,
    copy_pad_origins,
    delete_bar,
    diag_bar,
    diagonal_bar,
    differences,
    even_reflection,
    extract_bar,
    gradient_bar,
    hsplit_axis,
    hstack_axis,
    insert_bars,
    inserted_values_dot,
    joined_index_tangent,
    linspace_weights,
    pad_constants_bar,
    pad_dot_when_run,
    pad_origins,
    partitioned_like,
    resize_bar,
    roll_back,
    sum_over,
    take_along_axis_bar,
    take_bar,
    unbroadcast_each,
    undiff,
    unexpand_each,
    unjoin,
    unjoin_index,
    unpad,
    unpad_constant,
    unpartition,
    unrepeat,
    unroll_axis,
    unsplit,
    unstack_bar,
    untile,
    windows_bar,
    with_sample_axis,
    zero_unless_none,
)
from overbar.runtime.registry import VARIABLE, adjoint, tangent

# ---------------------------------------------------------------------------------------------
# Stacking
# ---------------------------------------------------------------------------------------------


@adjoint(np.hstack)
def hstack(y, tup, y_bar):
    """y = hstack(xs) (along axis 1, axis 0 for vectors):  x̄ᵢ = the piece of ȳ where xᵢ went"""
    return unjoin(y_bar, tup, np.atleast_1d, axis=hstack_axis(tup))


@adjoint(Index(np.r_, "np.r_"))
def r_(y, *items, y_bar):
    """y = r_[x₁, x₂, ...] (a number as a vector of one, a slice as its range, arrays joined
    along axis 0):  x̄ᵢ = the piece of ȳ where xᵢ went; a slice gets none"""
    return unjoin_index(y_bar, items, np.r_, axis=0)


@tangent(Index(np.r_, "np.r_"))
def r_tangent(y, *items, items_dot):
    """y = r_[x₁, x₂, ...]:  ẏ = r_[ẋ₁, ẋ₂, ...] (a slice's range, a constant, as zeros)"""
    return joined_index_tangent(items, items_dot, np.r_)


@adjoint(Index(np.c_, "np.c_"))
def c_(y, *items, y_bar):
    """y = c_[x₁, x₂, ...] (each at least 2-d, a vector as a column, joined along the last
    axis):  x̄ᵢ = the columns of ȳ where xᵢ went, shaped like xᵢ; a slice gets none"""
    return unjoin_index(y_bar, items, np.c_, axis=-1)


@tangent(Index(np.c_, "np.c_"))
def c_tangent(y, *items, items_dot):
    """y = c_[x₁, x₂, ...]:  ẏ = c_[ẋ₁, ẋ₂, ...] (a slice's range, a constant, as zeros)"""
    return joined_index_tangent(items, items_dot, np.c_)


@tangent(np.hstack)
def hstack_tangent(y, tup, tup_dot):
    """y = hstack(xs):  ẏ = hstack(ẋs)"""
    return np.hstack(tup_dot)


@adjoint(np.vstack, np.row_stack)
def vstack(y, tup, y_bar):
    """y = vstack(xs) (vectors as rows, along axis 0):  x̄ᵢ = the rows of ȳ where xᵢ went"""
    return unjoin(y_bar, tup, np.atleast_2d, axis=0)


@tangent(np.vstack, np.row_stack)
def vstack_tangent(y, tup, tup_dot):
    """y = vstack(xs):  ẏ = vstack(ẋs)"""
    return np.vstack(tup_dot)


@adjoint(np.dstack)
def dstack(y, tup, y_bar):
    """y = dstack(xs) (along axis 2, each made 3-d):  x̄ᵢ = the piece of ȳ where xᵢ went"""
    return unjoin(y_bar, tup, np.atleast_3d, axis=2)


@tangent(np.dstack)
def dstack_tangent(y, tup, tup_dot):
    """y = dstack(xs):  ẏ = dstack(ẋs)"""
    return np.dstack(tup_dot)


@adjoint(np.column_stack)
def column_stack(y, tup, y_bar):
    """y = column_stack(xs) (vectors as columns, along axis 1):  x̄ᵢ = the columns of ȳ where
    xᵢ went"""
    return unjoin(y_bar, tup, as_column, axis=1)


@tangent(np.column_stack)
def column_stack_tangent(y, tup, tup_dot):
    """y = column_stack(xs):  ẏ = column_stack(ẋs)"""
    return np.column_stack(tup_dot)


@adjoint(np.append, where={"axis": None})
def append_flat(y, arr, values, axis=None, *, y_bar):
    """y = append(a, v) = [ravel a, ravel v]:  ā = ȳ[:size a] shaped like a,  v̄ = the rest"""
    arr_bar, values_bar = unjoin(y_bar, (arr, values), np.ravel, axis=0)
    return arr_bar, values_bar


@adjoint(np.append)
def append(y, arr, values, axis=None, *, y_bar):
    """y = append(a, v, axis) = concatenate((a, v), axis):  ā, v̄ = the pieces of ȳ"""
    arr_bar, values_bar = unjoin(y_bar, (arr, values), np.asarray, axis=axis)
    return arr_bar, values_bar


@tangent(np.append)
def append_tangent(y, arr, values, axis=None, *, arr_dot, values_dot):
    """y = append(a, v, axis):  ẏ = append(ȧ, v̇, axis), one term for each of ȧ and v̇ with
    zeros in place of the other"""
    arr_term = np.append(arr_dot, zero_tangent(values), axis)
    values_term = np.append(zero_tangent(arr), values_dot, axis)
    return arr_term, values_term


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(y, *arys, y_bar):
    """y = atleast_nd(a) (a with axes of length 1 added; a tuple of them for several arrays):
    ā = ȳ shaped like a"""
    return unexpand_each(y_bar, arys)


@tangent(np.atleast_1d)
def atleast_1d_tangent(y, *arys, arys_dot):
    """y = atleast_1d(a) (or a tuple of them for several arrays):  ẏ = atleast_1d(ȧ)"""
    return np.atleast_1d(*arys_dot)


@tangent(np.atleast_2d)
def atleast_2d_tangent(y, *arys, arys_dot):
    """y = atleast_2d(a) (or a tuple of them for several arrays):  ẏ = atleast_2d(ȧ)"""
    return np.atleast_2d(*arys_dot)


@tangent(np.atleast_3d)
def atleast_3d_tangent(y, *arys, arys_dot):
    """y = atleast_3d(a) (or a tuple of them for several arrays):  ẏ = atleast_3d(ȧ)"""
    return np.atleast_3d(*arys_dot)


@adjoint(np.broadcast_arrays)
def broadcast_arrays(y, *args, y_bar):
    """yᵢ = xᵢ broadcast to the common shape:  x̄ᵢ = ȳᵢ summed over the broadcast axes"""
    return unbroadcast_each(y_bar, args)


@tangent(np.broadcast_arrays)
def broadcast_arrays_tangent(y, *args, args_dot):
    """yᵢ = xᵢ broadcast to the common shape:  ẏᵢ = ẋᵢ broadcast to it"""
    return np.broadcast_arrays(*args_dot)


# ---------------------------------------------------------------------------------------------
# Splitting: the output is a list, its adjoint a tuple of one adjoint per piece
# ---------------------------------------------------------------------------------------------


@adjoint(np.split)
def split(y, ary, indices_or_sections, axis=0, *, y_bar):
    """yᵢ = a[sᵢ:eᵢ] along axis:  ā = each ȳᵢ added back at [sᵢ:eᵢ]"""
    return unsplit(y_bar, ary, indices_or_sections, axis)


@tangent(np.split)
def split_tangent(y, ary, indices_or_sections, axis=0, *, ary_dot):
    """yᵢ = a[sᵢ:eᵢ] along axis:  ẏᵢ = ȧ[sᵢ:eᵢ]"""
    return np.split(ary_dot, indices_or_sections, axis)


@adjoint(np.array_split)
def array_split(y, ary, indices_or_sections, axis=0, *, y_bar):
    """yᵢ = a[sᵢ:eᵢ] along axis (pieces of sizes differing by one):  ā = each ȳᵢ added back"""
    return unsplit(y_bar, ary, indices_or_sections, axis, even=False)


@tangent(np.array_split)
def array_split_tangent(y, ary, indices_or_sections, axis=0, *, ary_dot):
    """yᵢ = a[sᵢ:eᵢ] along axis (pieces of sizes differing by one):  ẏᵢ = ȧ[sᵢ:eᵢ]"""
    return np.array_split(ary_dot, indices_or_sections, axis)


@adjoint(np.hsplit)
def hsplit(y, ary, indices_or_sections, y_bar):
    """yᵢ = a[:, sᵢ:eᵢ] (a[sᵢ:eᵢ] for a vector):  ā = each ȳᵢ added back"""
    return unsplit(y_bar, ary, indices_or_sections, hsplit_axis(ary))


@tangent(np.hsplit)
def hsplit_tangent(y, ary, indices_or_sections, ary_dot):
    """yᵢ = a[:, sᵢ:eᵢ] (a[sᵢ:eᵢ] for a vector):  ẏᵢ = ȧ[:, sᵢ:eᵢ]"""
    return np.hsplit(ary_dot, indices_or_sections)


@adjoint(np.vsplit)
def vsplit(y, ary, indices_or_sections, y_bar):
    """yᵢ = a[sᵢ:eᵢ]:  ā = each ȳᵢ added back"""
    return unsplit(y_bar, ary, indices_or_sections, 0)


@tangent(np.vsplit)
def vsplit_tangent(y, ary, indices_or_sections, ary_dot):
    """yᵢ = a[sᵢ:eᵢ]:  ẏᵢ = ȧ[sᵢ:eᵢ]"""
    return np.vsplit(ary_dot, indices_or_sections)


@adjoint(np.dsplit)
def dsplit(y, ary, indices_or_sections, y_bar):
    """yᵢ = a[:, :, sᵢ:eᵢ]:  ā = each ȳᵢ added back"""
    return unsplit(y_bar, ary, indices_or_sections, 2)


@tangent(np.dsplit)
def dsplit_tangent(y, ary, indices_or_sections, ary_dot):
    """yᵢ = a[:, :, sᵢ:eᵢ]:  ẏᵢ = ȧ[:, :, sᵢ:eᵢ]"""
    return np.dsplit(ary_dot, indices_or_sections)


# ---------------------------------------------------------------------------------------------
# Reading elements by index
# ---------------------------------------------------------------------------------------------


@adjoint(np.take, Method("take"), where={"mode": "raise"})
def take(y, a, indices, axis=None, mode="raise", *, y_bar):
    """y = a[indices] along axis (flattened a for axis None):  ā = ȳ added at indices"""
    return take_bar(y_bar, a, indices, axis)


@tangent(np.take, Method("take"), where={"mode": "raise"})
def take_tangent(y, a, indices, axis=None, mode="raise", *, a_dot):
    """y = a[indices] along axis (flattened a for axis None):  ẏ = ȧ[indices]"""
    return np.take(a_dot, indices, axis)


@adjoint(np.take, Method("take"))
def take_wrapped(y, a, indices, axis=None, mode="raise", *, y_bar):
    """y = a[indices] along axis, indices wrapped or clipped into range:  ā = ȳ added at the
    indices read"""
    return take_bar(y_bar, a, indices, axis, mode)


@tangent(np.take, Method("take"))
def take_wrapped_tangent(y, a, indices, axis=None, mode="raise", *, a_dot):
    """y = a[indices] along axis, indices wrapped or clipped into range:  ẏ = ȧ[indices],
    the indices wrapped or clipped alike"""
    return np.take(a_dot, indices, axis, mode=mode)


@adjoint(np.take_along_axis)
def take_along_axis(y, arr, indices, axis=-1, *, y_bar):
    """y = a[..., indices, ...] matched along axis:  ā = ȳ added at indices"""
    return take_along_axis_bar(y_bar, arr, indices, axis)


@tangent(np.take_along_axis)
def take_along_axis_tangent(y, arr, indices, axis=-1, *, arr_dot):
    """y = a[..., indices, ...] matched along axis:  ẏ = ȧ[..., indices, ...]"""
    return np.take_along_axis(arr_dot, indices, axis)


# ---------------------------------------------------------------------------------------------
# Rearranging
# ---------------------------------------------------------------------------------------------


@adjoint(np.tile)
def tile(y, A, reps, y_bar):
    """y = tile(a, reps):  ā = Σ over the copies of ȳ"""
    return untile(y_bar, A, reps)


@tangent(np.tile)
def tile_tangent(y, A, reps, A_dot):
    """y = tile(a, reps):  ẏ = tile(ȧ, reps)"""
    return np.tile(A_dot, reps)


@adjoint(np.repeat, Method("repeat"))
def repeat(y, a, repeats, axis=None, *, y_bar):
    """y = repeat(a, r, axis) (flattened a for axis None):  āⱼ = Σ of ȳ over aⱼ's copies"""
    return unrepeat(y_bar, a, repeats, axis)


@tangent(np.repeat, Method("repeat"))
def repeat_tangent(y, a, repeats, axis=None, *, a_dot):
    """y = repeat(a, r, axis):  ẏ = repeat(ȧ, r, axis)"""
    return np.repeat(a_dot, repeats, axis)


@adjoint(np.roll)
def roll(y, a, shift, axis=None, *, y_bar):
    """y = roll(a, s, axis):  ā = roll(ȳ, −s, axis)"""
    return roll_back(y_bar, shift, axis)


@tangent(np.roll)
def roll_tangent(y, a, shift, axis=None, *, a_dot):
    """y = roll(a, s, axis):  ẏ = roll(ȧ, s, axis)"""
    return np.roll(a_dot, shift, axis)


@adjoint(np.rollaxis)
def rollaxis(y, a, axis, start=0, *, y_bar):
    """y = rollaxis(a, axis, start):  ā = ȳ with its axes put back in a's order"""
    return unroll_axis(y_bar, a, axis, start)


@tangent(np.rollaxis)
def rollaxis_tangent(y, a, axis, start=0, *, a_dot):
    """y = rollaxis(a, axis, start):  ẏ = rollaxis(ȧ, axis, start)"""
    return np.rollaxis(a_dot, axis, start)


@adjoint(np.rot90)
def rot90(y, m, k=1, axes=(0, 1), *, y_bar):
    """y = rot90(m, k, axes):  m̄ = rot90(ȳ, −k, axes)"""
    return np.rot90(y_bar, -k, axes)


@tangent(np.rot90)
def rot90_tangent(y, m, k=1, axes=(0, 1), *, m_dot):
    """y = rot90(m, k, axes):  ẏ = rot90(ṁ, k, axes)"""
    return np.rot90(m_dot, k, axes)


@adjoint(np.flipud)
def flipud(y, m, y_bar):
    """y = flipud(m):  m̄ = flipud(ȳ)"""
    return np.flipud(y_bar)


@tangent(np.flipud)
def flipud_tangent(y, m, m_dot):
    """y = flipud(m):  ẏ = flipud(ṁ)"""
    return np.flipud(m_dot)


@adjoint(np.fliplr)
def fliplr(y, m, y_bar):
    """y = fliplr(m):  m̄ = fliplr(ȳ)"""
    return np.fliplr(y_bar)


@tangent(np.fliplr)
def fliplr_tangent(y, m, m_dot):
    """y = fliplr(m):  ẏ = fliplr(ṁ)"""
    return np.fliplr(m_dot)


@adjoint(np.pad, where={"mode": "constant"})
def pad_constant(y, array, pad_width, mode="constant", constant_values=0, *, y_bar):
    """y = pad(a, widths, constant c):  ā = ȳ in the middle,  c̄ = Σ ȳ over what c fills"""
    array_bar = unpad_constant(y_bar, array, pad_width)
    constant_values_bar = pad_constants_bar(y_bar, array, pad_width, constant_values)
    return array_bar, None, None, constant_values_bar


@tangent(np.pad, where={"mode": "constant"})
def pad_constant_tangent(
    y, array, pad_width, mode="constant", constant_values=0, *, array_dot, constant_values_dot
):
    """y = pad(a, widths, constant c):  ẏ = pad(ȧ, widths, constant ċ)
    = pad(ȧ, widths, constant 0) + pad(0, widths, constant ċ)"""
    array_term = np.pad(array_dot, pad_width, mode="constant")
    constant_values_term = np.pad(
        zero_tangent(array), pad_width, mode="constant", constant_values=constant_values_dot
    )
    return array_term, constant_values_term


@adjoint(np.pad, where={"mode": "reflect"})
def pad_reflect(y, array, pad_width, mode, reflect_type="even", *, y_bar):
    """y = pad(a, widths, reflect) (each padded element a copy of one of a's):  ā = ȳ added
    back at the element each came from"""
    return unpad(y_bar, array, pad_origins(np.shape(array), pad_width, mode, reflect_type))


@adjoint(np.pad, where={"mode": "symmetric"})
def pad_symmetric(y, array, pad_width, mode, reflect_type="even", *, y_bar):
    """y = pad(a, widths, symmetric):  ā = ȳ added back at the element each came from"""
    return unpad(y_bar, array, pad_origins(np.shape(array), pad_width, mode, reflect_type))


@tangent(np.pad, where={"mode": "reflect", "reflect_type": "even"})
@tangent(np.pad, where={"mode": "symmetric", "reflect_type": "even"})
def pad_reflect_tangent(y, array, pad_width, mode, reflect_type="even", *, array_dot):
    """y = pad(a, widths, reflect or symmetric) (each padded element a copy of one of a's):
    ẏ = pad(ȧ, widths, the same mode)"""
    return np.pad(array_dot, pad_width, mode)


@tangent(np.pad, where={"mode": "reflect"})
@tangent(np.pad, where={"mode": "symmetric"})
def pad_reflect_checked_tangent(y, array, pad_width, mode, reflect_type="even", *, array_dot):
    """y = pad(a, widths, reflect or symmetric), reflect_type known when it runs only:
    ẏ = pad(ȧ, widths, the same mode), refused then unless the reflection is even (as the
    adjoint)"""
    return np.pad(array_dot, pad_width, mode, reflect_type=even_reflection(mode, reflect_type))


@adjoint(np.pad, where={"mode": "edge"})
def pad_edge(y, array, pad_width, mode, y_bar):
    """y = pad(a, widths, edge):  ā = ȳ added back at the element each came from"""
    return unpad(y_bar, array, pad_origins(np.shape(array), pad_width, mode))


@adjoint(np.pad, where={"mode": "wrap"})
def pad_wrap(y, array, pad_width, mode, y_bar):
    """y = pad(a, widths, wrap):  ā = ȳ added back at the element each came from"""
    return unpad(y_bar, array, pad_origins(np.shape(array), pad_width, mode))


@tangent(np.pad, where={"mode": "edge"})
@tangent(np.pad, where={"mode": "wrap"})
def pad_edge_tangent(y, array, pad_width, mode, array_dot):
    """y = pad(a, widths, edge or wrap) (each padded element a copy of one of a's):
    ẏ = pad(ȧ, widths, the same mode)"""
    return np.pad(array_dot, pad_width, mode)


@adjoint(np.pad, where={"mode": VARIABLE})
def pad_mode_when_run(y, array, pad_width, mode, y_bar):
    """y = pad(a, widths, mode), the mode known when the program runs (constant with zeros,
    edge, wrap, reflect or symmetric; another refused then):  ā = ȳ added back at the element
    each came from (nothing from a constant)"""
    return unpad(y_bar, array, copy_pad_origins(np.shape(array), pad_width, mode))


@tangent(np.pad, where={"mode": VARIABLE})
def pad_mode_when_run_tangent(y, array, pad_width, mode, array_dot):
    """y = pad(a, widths, mode), the mode known when the program runs:  ẏ = pad(ȧ, widths,
    mode) (zeros where the constant mode puts its zeros)"""
    return pad_dot_when_run(array_dot, array, pad_width, mode)


@adjoint(np.diag)
def diag(y, v, k=0, *, y_bar):
    """y = diag(v, k): a vector onto the k-th diagonal (v̄ = that diagonal of ȳ), or a matrix's
    k-th diagonal (v̄ = zeros with ȳ on it)"""
    return diag_bar(y_bar, v, k)


@tangent(np.diag)
def diag_tangent(y, v, k=0, *, v_dot):
    """y = diag(v, k) (a vector onto the k-th diagonal, or a matrix's k-th diagonal):
    ẏ = diag(v̇, k)"""
    return np.diag(v_dot, k)


@adjoint(np.diagonal, Method("diagonal"))
def diagonal(y, a, offset=0, axis1=0, axis2=1, *, y_bar):
    """y = diagonal(a, offset, axis1, axis2):  ā = zeros with ȳ on that diagonal"""
    return diagonal_bar(y_bar, a, offset, axis1, axis2)


@tangent(np.diagonal, Method("diagonal"))
def diagonal_tangent(y, a, offset=0, axis1=0, axis2=1, *, a_dot):
    """y = diagonal(a, offset, axis1, axis2):  ẏ = diagonal(ȧ, offset, axis1, axis2)"""
    return np.diagonal(a_dot, offset, axis1, axis2)


@adjoint(np.diagflat)
def diagflat(y, v, k=0, *, y_bar):
    """y = diagflat(v, k) (ravel v onto the k-th diagonal):  v̄ = that diagonal of ȳ, shaped
    like v"""
    return np.reshape(np.diagonal(y_bar, k), np.shape(v))


@tangent(np.diagflat)
def diagflat_tangent(y, v, k=0, *, v_dot):
    """y = diagflat(v, k):  ẏ = diagflat(v̇, k)"""
    return np.diagflat(v_dot, k)


@adjoint(np.lib.stride_tricks.sliding_window_view)
def sliding_window_view(y, x, window_shape, axis=None, *, subok=False, writeable=False, y_bar):
    """y[i, j] = x[i + j] (windows of x along axis, a view):  x̄ = each window's ȳ added back
    where the window lies"""
    return windows_bar(y_bar, x, window_shape, axis)


@tangent(np.lib.stride_tricks.sliding_window_view)
def sliding_window_view_tangent(
    y, x, window_shape, axis=None, *, subok=False, writeable=False, x_dot
):
    """y = windows of x (linear):  ẏ = the same windows of ẋ"""
    return np.lib.stride_tricks.sliding_window_view(x_dot, window_shape, axis)


@adjoint(np.diff)
def diff(y, a, n=1, axis=-1, prepend=None, append=None, *, y_bar):
    """y = diff(c, n, axis), c = [prepend, a, append]:  c̄ = [0, ȳ] − [ȳ, 0] n times, cut back
    into prepend, a and append"""
    a_bar, prepend_bar, append_bar = undiff(y_bar, a, n, axis, prepend, append)
    return a_bar, None, None, prepend_bar, append_bar


@tangent(np.diff, where={"prepend": None, "append": None})
def diff_tangent(y, a, n=1, axis=-1, prepend=None, append=None, *, a_dot):
    """y = diff(a, n, axis):  ẏ = diff(ȧ, n, axis)"""
    return np.diff(a_dot, n, axis)


@tangent(np.diff)
def diff_joined_tangent(
    y, a, n=1, axis=-1, prepend=None, append=None, *, a_dot, prepend_dot, append_dot
):
    """y = diff(c, n, axis), c = [prepend, a, append]:  ẏ = diff(ċ, n, axis), one term for each
    part of ċ with zeros in the others"""
    a_term = differences(a_dot, n, axis, zero_unless_none(prepend), zero_unless_none(append))
    prepend_term = differences(zero_tangent(a), n, axis, prepend_dot, zero_unless_none(append))
    append_term = differences(zero_tangent(a), n, axis, zero_unless_none(prepend), append_dot)
    return a_term, prepend_term, append_term


@adjoint(np.partition)
def partition(y, a, kth, axis=-1, *, y_bar):
    """y = a permuted (the kth elements in sorted place):  ā = ȳ put back where each element
    came from (among equal elements, the i-th of y to the i-th of a)"""
    return unpartition(y_bar, y, a, axis)


@tangent(np.partition)
def partition_tangent(y, a, kth, axis=-1, *, a_dot):
    """y = a permuted (the kth elements in sorted place):  ẏ = ȧ permuted alike (among equal
    elements, the i-th of a to the i-th of y, as the adjoint)"""
    return partitioned_like(a_dot, a, y, axis)


@adjoint(np.linspace, where={"retstep": False, "dtype": None})
def linspace(y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, y_bar):
    """y = start + t (stop − start), tᵢ = i / (num − 1) along axis:
    s̄tart = Σᵢ ȳ (1 − tᵢ),  s̄top = Σᵢ ȳ tᵢ"""
    weights = linspace_weights(num, endpoint, axis, np.ndim(y))
    start_bar = sum_over(y_bar * (1 - weights), axis, start)
    stop_bar = sum_over(y_bar * weights, axis, stop)
    return start_bar, stop_bar


@tangent(np.linspace, where={"retstep": False, "dtype": None})
def linspace_tangent(
    y,
    start,
    stop,
    num=50,
    endpoint=True,
    retstep=False,
    dtype=None,
    axis=0,
    *,
    start_dot,
    stop_dot,
):
    """y = start + t (stop − start), tᵢ = i / (num − 1) along axis:
    ẏ = (1 − t) ṡtart + t ṡtop"""
    weights = linspace_weights(num, endpoint, axis, np.ndim(y))
    start_term = (1 - weights) * with_sample_axis(start_dot, axis, y)
    stop_term = weights * with_sample_axis(stop_dot, axis, y)
    return start_term, stop_term


@adjoint(np.gradient)
def gradient(y, f, *varargs, axis=None, edge_order=1, y_bar):
    """y = gradient(f) (central differences inside, one-sided at the edges, along each axis):
    f̄ = Σ over the axes of the differences' transpose applied to ȳ (the spacing a constant)"""
    return gradient_bar(y_bar, f, varargs, axis, edge_order), None


@tangent(np.gradient)
def gradient_tangent(y, f, *varargs, axis=None, edge_order=1, f_dot):
    """y = gradient(f) (linear in f, the spacing a constant):  ẏ = gradient(ḟ)"""
    return np.gradient(f_dot, *varargs, axis=axis, edge_order=edge_order)


# ---------------------------------------------------------------------------------------------
# Deleting, inserting and selecting elements; NumPy 2's unstack. Each copies elements of its
# input: its adjoint sums ȳ back onto the elements copied (read off the function itself,
# applied to the elements' labels), its tangent is the function applied to the tangent.
# ---------------------------------------------------------------------------------------------


@adjoint(np.delete)
def delete(y, arr, obj, axis=None, *, y_bar):
    """y = arr without the elements obj names:  ār = ȳ at the elements kept, 0 at the others"""
    return delete_bar(y_bar, arr, obj, axis)


@tangent(np.delete)
def delete_tangent(y, arr, obj, axis=None, *, arr_dot):
    """y = delete(arr, obj, axis):  ẏ = delete(ȧrr, obj, axis)"""
    return np.delete(arr_dot, obj, axis)


@adjoint(np.insert)
def insert(y, arr, obj, values, axis=None, *, y_bar):
    """y = arr with values inserted before obj:  ār = ȳ at arr's elements,
    v̄alues = ȳ at the inserted ones (summed where values was broadcast; 0 where an integer arr
    truncates them)"""
    arr_bar, values_bar = insert_bars(y_bar, arr, obj, values, axis)
    return arr_bar, None, values_bar


@tangent(np.insert)
def insert_tangent(y, arr, obj, values, axis=None, *, arr_dot, values_dot):
    """y = insert(arr, obj, values, axis) (linear in arr and values):
    ẏ = insert(ȧrr, obj, 0, axis) + insert(0, obj, v̇alues, axis)"""
    arr_term = np.insert(arr_dot, obj, zero_tangent(values), axis)
    values_term = inserted_values_dot(values_dot, arr, obj, axis)
    return arr_term, values_term


@adjoint(np.extract)
def extract(y, condition, arr, y_bar):
    """y = the elements of arr where condition holds:  ār = ȳ at them, 0 elsewhere"""
    return None, extract_bar(y_bar, condition, arr)


@tangent(np.extract)
def extract_tangent(y, condition, arr, arr_dot):
    """y = extract(condition, arr):  ẏ = extract(condition, ȧrr)"""
    return np.extract(condition, arr_dot)


@adjoint(np.resize)
def resize(y, a, new_shape, y_bar):
    """y = a's elements repeated in order to fill new_shape:  ā = the sum of ȳ over each
    element's copies"""
    return resize_bar(y_bar, a, new_shape)


@tangent(np.resize)
def resize_tangent(y, a, new_shape, a_dot):
    """y = resize(a, new_shape):  ẏ = resize(ȧ, new_shape)"""
    return np.resize(a_dot, new_shape)


@adjoint(np.unstack)
def unstack(y, x, *, axis=0, y_bar):
    """yᵢ = x[i] along axis:  x̄ = the ȳᵢ stacked back along axis"""
    return unstack_bar(y_bar, x, axis)


@tangent(np.unstack)
def unstack_tangent(y, x, *, axis=0, x_dot):
    """yᵢ = x[i] along axis:  ẏᵢ = ẋ[i]"""
    return np.unstack(x_dot, axis=axis)


@adjoint(np.block)
def block(y, arrays, y_bar):
    """y = the blocks of nested lists joined (the innermost along the last axis):
    each block's adjoint is its piece of ȳ"""
    return block_bar(y_bar, arrays)


@tangent(np.block)
def block_tangent(y, arrays, arrays_dot):
    """y = block(arrays) (linear):  ẏ = block(the blocks' tangents)"""
    return block_dot(arrays_dot)
