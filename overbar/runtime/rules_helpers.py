"""Adjoint and tangent rules for the runtime's own helpers: a generated adjoint can be
differentiated again.

``grad(grad(f))``, Hessians and Hessian-vector products differentiate the code overbar
generates, which calls the helpers of ``helpers.py``. Most of them are linear in the adjoint
they take, so their rules are their transposes: summing to a shape and broadcasting to it undo
each other, the two halves of a matrix product's adjoint are matrix products again. The helpers
that only say what a zero, a seed or a count is have no gradient. Helpers with no rule here
(the in-place writes of the reverse sweep, its stacks) make ``grad`` of an adjoint that calls
them refuse with ``MissingRuleError``, naming the helper.

Their tangent rules (forward mode) are what ``hvp`` and ``hessian`` use: forward mode over the
generated adjoint. A helper linear in the adjoint it takes has the helper itself, applied to
that adjoint's tangent, as its tangent. An argument read for its shape only (the ``x`` of
``unbroadcast(g, x)``), or for facts that do not vary with it (an index, the positions of a
maximum), gets the term ``None``: no derivative flows from it, and activity analysis does not
follow it.
"""

from __future__ import annotations

import numpy as np

from overbar.runtime.helpers import (
    add_elementwise,
    add_in_kind,
    adjoint_like,
    as_floating,
    as_rows_of,
    broadcast_like,
    cumsum_bar,
    elements_like,
    elements_like_bar,
    entry_bar,
    expand_reduced,
    extremum_bar,
    in_order,
    index_bar,
    item_bar,
    joined_bar,
    listed,
    matmul_left_bar,
    matmul_right_bar,
    of_float_result,
    own,
    prod_bar,
    reduced_count,
    repeated_bar,
    saved_region,
    seed,
    shape_like,
    shape_of,
    split_last,
    split_like,
    stacked_rows,
    structured_like,
    structured_like_bar,
    structured_like_bar_bar,
    sum_bars,
    sum_of_inner,
    sum_of_outers,
    sum_of_products,
    sum_of_scaled,
    sum_of_sums,
    sum_of_values,
    take_and_zero,
    take_in_place,
    unbroadcast,
    unpacked_bar,
    unsort,
    unstack,
    untranspose,
    zero_gradient,
)
from overbar.runtime.helpers_arrays import (
    block_bar,
    copy_pad_origins,
    delete_bar,
    diag_bar,
    diagonal_bar,
    extract_bar,
    gradient_bar,
    hsplit_axis,
    hstack_axis,
    insert_bars,
    linspace_weights,
    pad_constants_bar,
    pad_origins,
    resize_bar,
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
)
from overbar.runtime.helpers_linalg import (
    cholesky_bar,
    cholesky_bar_dot,
    cross_bars,
    dot_left_bar,
    dot_right_bar,
    eig_bar,
    eig_bar_dot,
    eigh_bar,
    eigh_bar_dot,
    eigvals_bar,
    eigvals_bar_dot,
    eigvalsh_bar,
    eigvalsh_bar_dot,
    einsum_bars,
    einsum_bars_dot,
    inner_bars,
    kron_bars,
    matrix_power_bar,
    matrix_power_bar_dot,
    multi_dot_bars,
    multi_dot_bars_dot,
    norm_bar,
    norm_bar_dot,
    outer_bars,
    pinv_bar,
    pinv_bar_dot,
    qr_bar,
    qr_bar_dot,
    singular_values_bar,
    singular_values_bar_dot,
    solve_bars,
    solve_bars_dot,
    svd_bar,
    svd_bar_dot,
    tensordot_bars,
    tensorinv_bar,
    tensorinv_bar_dot,
    tensorsolve_bars,
    tensorsolve_bars_dot,
    trace_bar,
    vecdot_bars,
    vector_norm_bar,
    vector_norm_bar_dot,
)
from overbar.runtime.helpers_math import (
    array_bar,
    astype_bar,
    average_bars,
    average_bars_dot,
    chosen_bars,
    cumprod_bar,
    cumprod_bar_dot,
    degrees_of_freedom,
    differentiable_hypot,
    digamma,
    hypot_bars,
    nan_count,
    nan_degrees_of_freedom,
    nanquantile_bar,
    not_nan,
    numbers_per_result,
    of_real,
    polyval_bars,
    polyval_bars_dot,
    prod_bar_dot,
    ptp_bar,
    quantile_bar,
    select_bars,
    sequence_bar,
    sequence_bar_bar,
    sinc_curvature,
    sinc_slope,
    sorted_bar,
    trigamma,
    without_initial,
)
from overbar.runtime.helpers_science import (
    bessel_i1,
    bessel_i1_slope,
    convolve_a_bar,
    convolve_a_bar_of_part,
    convolve_bars,
    correlate_bars,
    cov_bars,
    cov_bars_dot,
    ediff1d_bars,
    polyadd_bars,
    polyder_bar,
    polyint_bars,
    polymul_bars,
    trapezoid_bars,
    trapezoid_bars_dot,
    vander_bar,
    vander_bar_dot,
)
from overbar.runtime.helpers_ufuncs import (
    choose_bar,
    chosen,
    compress_bar,
    item_position,
    log_accumulate_bar,
    running_extremum_bar,
    tolist_bar,
    widened,
)
from overbar.runtime.registry import adjoint, non_differentiable, tangent
from overbar.runtime.shapes import SHAPE_RULES, Operand, Sequence, broadcast, tuple_of

# ---------------------------------------------------------------------------------------------
# Summing to a shape and broadcasting to it: each the other's transpose
# ---------------------------------------------------------------------------------------------


@adjoint(unbroadcast)
def unbroadcast_adjoint(s, g, x, s_bar):
    """s = g summed down to x's shape:  ḡ = s̄ broadcast to g's shape  (x: its shape only)"""
    return broadcast_like(s_bar, g), None


@tangent(unbroadcast)
def unbroadcast_tangent(s, g, x, g_dot, x_dot):
    """s = g summed down to x's shape:  ṡ = ġ summed down to x's shape  (x: its shape only)"""
    return unbroadcast(g_dot, x), None


@adjoint(broadcast_like)
def broadcast_like_adjoint(b, g, x, b_bar):
    """b = g broadcast to x's shape:  ḡ = b̄ summed down to g's shape  (x: its shape only)"""
    return unbroadcast(b_bar, g), None


@tangent(broadcast_like)
def broadcast_like_tangent(b, g, x, g_dot, x_dot):
    """b = g broadcast to x's shape:  ḃ = ġ broadcast to x's shape  (x: its shape only)"""
    return broadcast_like(g_dot, x), None


@tangent(of_float_result)
def of_float_result_tangent(w, value, y, value_dot, y_dot):
    """w = value, once y holds floats:  ẇ = value's tangent, likewise  (y: its dtype only)"""
    return of_float_result(value_dot, y), None


@adjoint(adjoint_like)
def adjoint_like_adjoint(a, g, x, a_bar):
    """a = g, made x's shape where g is the runtime zero:  ḡ = ā summed down to g's shape"""
    return unbroadcast(a_bar, g), None


@tangent(adjoint_like)
def adjoint_like_tangent(a, g, x, g_dot, x_dot):
    """a = g made x's shape where g is the runtime zero:  ȧ = ġ made x's shape (x: its shape
    only)"""
    return adjoint_like(g_dot, x), None


@adjoint(expand_reduced)
def expand_reduced_adjoint(e, y_bar, x, axis=None, keepdims=False, *, e_bar):
    """e = ȳ broadcast back over the axes of x a reduction took:  ȳ's adjoint = ē summed over
    those axes (as the reduction shaped ȳ)"""
    return unbroadcast(np.sum(e_bar, axis=axis, keepdims=keepdims), y_bar), None


@tangent(expand_reduced)
def expand_reduced_tangent(e, y_bar, x, axis=None, keepdims=False, *, y_bar_dot, x_dot):
    """e = ȳ broadcast back over the axes of x a reduction took:  ė = ȳ's tangent broadcast
    back alike  (x: its shape only)"""
    return expand_reduced(y_bar_dot, x, axis, keepdims), None


# ---------------------------------------------------------------------------------------------
# The adjoints of containers of parameters (tuples, lists and dicts of adjoints)
# ---------------------------------------------------------------------------------------------


@adjoint(in_order)
def in_order_adjoint(w, xs, w_bar):
    """w = xs (checked not to be a dict, which a loop walks by position):  x̄s = w̄"""
    return w_bar


@tangent(in_order)
def in_order_tangent(w, xs, xs_dot):
    """w = xs (checked not to be a dict):  ẇ = ẋs"""
    return xs_dot


SHAPE_RULES[in_order] = lambda xs: xs.shape


@adjoint(add_elementwise)
def add_elementwise_adjoint(s, a, b, s_bar):
    """s = a + b, element by element (adjoints of a tuple or dict):  ā = s̄,  b̄ = s̄"""
    return s_bar, s_bar


@adjoint(structured_like)
def structured_like_adjoint(s, g, xs, s_bar):
    """s = g as a container of xs's kind, each leaf shaped like xs's (zeros where g has
    none):  ḡ = s̄ in g's structure, each leaf summed down to g's  (xs: its structure only)"""
    return structured_like_bar(s_bar, g), None


@adjoint(structured_like_bar)
def structured_like_bar_adjoint(t, s_bar, g, t_bar):
    """t = s̄ in g's structure, each leaf summed down to g's:  s̄'s adjoint = t̄ in s̄'s
    structure, each leaf broadcast to s̄'s  (g: its structure and shapes only)"""
    return structured_like_bar_bar(t_bar, s_bar, g), None


@tangent(structured_like_bar)
def structured_like_bar_tangent(t, s_bar, g, s_bar_dot, g_dot):
    """t = s̄ in g's structure, each leaf summed down to g's:  ṫ = s̄'s tangent alike
    (g: its structure and shapes only)"""
    return structured_like_bar(s_bar_dot, g), None


@tangent(structured_like)
def structured_like_tangent(s, g, xs, g_dot, xs_dot):
    """s = g as a container of xs's kind:  ṡ = ġ as a container of xs's kind, alike
    (xs: its structure only)"""
    return structured_like(g_dot, xs), None


def _added_elementwise(a, b):
    """The shape of ``add_elementwise(a, b)`` for two adjoints of one tuple or list: element by
    element, the shape the two broadcast to (the runtime zero 0.0, a number, broadcasts to the
    other's); where either's elements are not known, only the length."""
    shapes = [o.shape for o in (a, b) if isinstance(o.shape, Sequence)]
    if len(shapes) < 2:
        return None
    first, second = shapes
    if first.elements is None or second.elements is None:
        return Sequence(first.length if first.length is not None else second.length)
    if len(first.elements) != len(second.elements) or first.mapping or second.mapping:
        return None
    elements = []
    for x, y in zip(first.elements, second.elements, strict=True):
        if isinstance(x, Sequence) or isinstance(y, Sequence):
            elements.append(_added_elementwise(Operand(x), Operand(y)))
        else:
            elements.append(broadcast(x, y))
    return tuple_of(tuple(elements))


SHAPE_RULES[add_elementwise] = _added_elementwise
SHAPE_RULES[structured_like] = lambda g, xs: xs.shape if isinstance(xs.shape, Sequence) else None
SHAPE_RULES[elements_like] = lambda g, xs: xs.shape if isinstance(xs.shape, Sequence) else None
SHAPE_RULES[elements_like_bar] = lambda a_bar, g, xs: _length_only(g.shape)
SHAPE_RULES[structured_like_bar] = lambda s_bar, g: _length_only(g.shape)
SHAPE_RULES[structured_like_bar_bar] = lambda t_bar, s_bar, g: _length_only(s_bar.shape)


def _length_only(shape):
    """The shape of a tuple as long as one of this shape (a tuple's adjoint, whose elements may
    be runtime zeros of another shape), or None for another shape."""
    if isinstance(shape, Sequence) and not shape.mapping and shape.length is not None:
        return Sequence(shape.length)
    return None


# ---------------------------------------------------------------------------------------------
# The two halves of a matrix product's adjoint
# ---------------------------------------------------------------------------------------------


@adjoint(matmul_left_bar)
def matmul_left_bar_adjoint(w, z_bar, x, y, w_bar):
    """w = x̄ of z = x @ y at z̄ (z̄ yᵀ), bilinear in z̄ and y, with ⟨w̄, w⟩ = ⟨w̄ @ y, z̄⟩:
    z̄'s adjoint = w̄ @ y,  ȳ = (w̄)ᵀ z̄ as the adjoint of y in w̄ @ y  (x: its shape only)"""
    return w_bar @ y, None, matmul_right_bar(z_bar, w_bar, y)


@adjoint(matmul_right_bar)
def matmul_right_bar_adjoint(w, z_bar, x, y, w_bar):
    """w = ȳ of z = x @ y at z̄ (xᵀ z̄), bilinear in z̄ and x, with ⟨w̄, w⟩ = ⟨x @ w̄, z̄⟩:
    z̄'s adjoint = x @ w̄,  x̄ = z̄ w̄ᵀ as the adjoint of x in x @ w̄  (y: its shape only)"""
    return x @ w_bar, matmul_left_bar(z_bar, x, w_bar), None


@tangent(matmul_left_bar)
def matmul_left_bar_tangent(w, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """w = z̄ yᵀ (x̄ of z = x @ y), bilinear in z̄ and y:  ẇ = (z̄'s tangent) yᵀ + z̄ ẏᵀ
    (x: its shape only)"""
    return matmul_left_bar(z_bar_dot, x, y), None, matmul_left_bar(z_bar, x, y_dot)


@tangent(matmul_right_bar)
def matmul_right_bar_tangent(w, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """w = xᵀ z̄ (ȳ of z = x @ y), bilinear in z̄ and x:  ẇ = xᵀ (z̄'s tangent) + ẋᵀ z̄
    (y: its shape only)"""
    return matmul_right_bar(z_bar_dot, x, y), matmul_right_bar(z_bar, x_dot, y), None


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


@adjoint(index_bar)
def index_bar_adjoint(a, y_bar, x, index, a_bar):
    """a = zeros like x with ȳ added at [index] (repeats add up):  ȳ's adjoint = ā[index]"""
    return a_bar[index], None, None


@tangent(index_bar)
def index_bar_tangent(a, y_bar, x, index, y_bar_dot, x_dot):
    """a = zeros like x with ȳ added at [index]:  ȧ = zeros like x with ȳ's tangent added at
    [index]  (x: its shape only)"""
    return index_bar(y_bar_dot, x, index), None


@tangent(take_and_zero)
def take_and_zero_tangent(parts, g, index, g_dot):
    """parts = (g[index], g with zeros at index), both linear in g:  the same of ġ"""
    return take_and_zero(g_dot, index)


@tangent(take_in_place)
def take_in_place_tangent(p, g, index, g_dot):
    """p = a copy of g[index], g[index] then zeroed in place, both linear in g:  ṗ = a copy of
    ġ[index], ġ[index] then zeroed in place (forward mode zeroes ġ so even where p is not
    used: ``forward.py``)"""
    return take_in_place(g_dot, index)


@tangent(saved_region)
def saved_region_tangent(r, y, index, y_dot):
    """r = a copy of y[index]:  ṙ = a copy of ẏ[index]"""
    return saved_region(y_dot, index)


@tangent(own)
def own_tangent(o, g, x, g_dot, x_dot):
    """o = a new array holding g shaped like x:  ȯ = a new array holding ġ  (x: its shape
    only)"""
    return own(g_dot, x), None


# ---------------------------------------------------------------------------------------------
# The adjoints of tuples and lists
# ---------------------------------------------------------------------------------------------


@tangent(item_bar)
def item_bar_tangent(a, y_bar, xs, index, y_bar_dot, xs_dot):
    """a = ȳ at [index] of a container of xs's length, zeros elsewhere:  ȧ = ȳ's tangent
    there  (xs: its length only)"""
    return item_bar(y_bar_dot, xs, index), None


@tangent(joined_bar, adds=add_elementwise)
def joined_bar_tangent(parts, z_bar, a, b, z_bar_dot, a_dot, b_dot):
    """parts = (z̄ up to len(a), z̄ from there), linear in z̄:  the same of z̄'s tangent
    (a, b: their lengths only)"""
    return joined_bar(z_bar_dot, a, b), None, None


@tangent(repeated_bar, adds=add_elementwise)
def repeated_bar_tangent(x_bar, z_bar, xs, count, z_bar_dot, xs_dot):
    """x̄ = the pieces of z̄ of xs's length added, linear in z̄:  the same of z̄'s tangent
    (xs: its length only; count: an integer)"""
    return repeated_bar(z_bar_dot, xs, count), None


@tangent(entry_bar)
def entry_bar_tangent(v, d_bar, key, d_bar_dot):
    """v = d̄[key], the adjoint of a dict's value (0 where d̄ has no such key), linear in d̄:
    v̇ = ḋ̄[key]"""
    return entry_bar(d_bar_dot, key)


@tangent(split_last)
def split_last_tangent(parts, g, g_dot):
    """parts = (g's last element, the rest of g), linear in g:  the same of ġ"""
    return split_last(g_dot)


@tangent(listed)
def listed_tangent(a, g, xs, g_dot, xs_dot):
    """a = g as a list of xs's length:  ȧ = ġ as such a list  (xs: its length only)"""
    return listed(g_dot, xs), None


@tangent(unpacked_bar)
def unpacked_bar_tangent(v, value, parts, value_dot, parts_dot):
    """v = the parts' adjoints in the kind of value:  v̇ = the parts' tangents alike
    (value: its kind and rows' shapes only)"""
    return None, unpacked_bar(value, parts_dot)


@tangent(add_elementwise, adds=add_elementwise)
def add_elementwise_tangent(c, a, b, a_dot, b_dot):
    """c = a + b element by element:  ċ = ȧ + ḃ element by element (each runtime zero's tangent
    is the runtime zero)"""
    return a_dot, b_dot


@tangent(add_in_kind, adds=add_in_kind)
def add_in_kind_tangent(c, a, b, a_dot, b_dot):
    """c = a + b in the kind of each:  ċ = ȧ + ḃ alike"""
    return a_dot, b_dot


@tangent(sum_bars)
def sum_bars_tangent(parts, y_bar, xs, y_bar_dot, xs_dot):
    """parts = ȳ summed to the shape of each element of xs:  the same of ȳ's tangent  (xs:
    its elements' shapes only)"""
    return sum_bars(y_bar_dot, xs), None


@tangent(as_rows_of)
def as_rows_of_tangent(a, pieces, xs, pieces_dot, xs_dot):
    """a = the pieces as the adjoint of xs:  ȧ = their tangents alike  (xs: its kind only)"""
    return as_rows_of(pieces_dot, xs), None


# ---------------------------------------------------------------------------------------------
# The adjoints of reductions, sorts and joins: linear in ȳ, the rest fixing positions only
# ---------------------------------------------------------------------------------------------


@tangent(extremum_bar)
def extremum_bar_tangent(a, y_bar, y, x, axis=None, keepdims=False, *, y_bar_dot, y_dot, x_dot):
    """a = ȳ shared among the elements equal to the extremum, whose places do not change
    under a small change of x (a.e.):  ȧ = ȳ's tangent shared alike"""
    return extremum_bar(y_bar_dot, y, x, axis, keepdims), None, None


@tangent(ptp_bar)
def ptp_bar_tangent(a, y_bar, x, axis=None, keepdims=False, *, y_bar_dot, x_dot):
    """a = +ȳ at the maximal elements, −ȳ at the minimal ones (their places fixed a.e.):
    ȧ = ȳ's tangent alike"""
    return ptp_bar(y_bar_dot, x, axis, keepdims), None


@tangent(quantile_bar)
def quantile_bar_tangent(
    a, y_bar, x, q, axis=None, keepdims=False, method="linear", *, y_bar_dot, x_dot
):
    """a = ȳ shared between the two order statistics a quantile interpolates, with weights
    fixed by q (their places fixed a.e.):  ȧ = ȳ's tangent alike  (a q that varies has no
    term: refused, as the weights move with it)"""
    return quantile_bar(y_bar_dot, x, q, axis, keepdims, method), None


@tangent(nanquantile_bar)
def nanquantile_bar_tangent(
    a, y_bar, x, q, axis=None, keepdims=False, method="linear", *, y_bar_dot, x_dot
):
    """a = ȳ shared as for a quantile, over each slice's numbers:  ȧ = ȳ's tangent alike
    (a q that varies has no term: refused)"""
    return nanquantile_bar(y_bar_dot, x, q, axis, keepdims, method), None


@tangent(select_bars)
def select_bars_tangent(
    parts, y_bar, y, condlist, choicelist, default, y_bar_dot, y_dot, choicelist_dot, default_dot
):
    """parts = ȳ where each choice (or the default) was taken, the places fixed by the
    conditions:  the same of ȳ's tangent  (y, the choices, the default: shapes only)"""
    return select_bars(y_bar_dot, y, condlist, choicelist, default), None, None, None


@tangent(unsort)
def unsort_tangent(a, y_bar, x, axis=-1, *, y_bar_dot, x_dot):
    """a = ȳ put back where sorting took each element from (the order fixed a.e.):  ȧ = ȳ's
    tangent put back alike"""
    return unsort(y_bar_dot, x, axis), None


@tangent(cumsum_bar)
def cumsum_bar_tangent(a, y_bar, x, axis=None, *, y_bar_dot, x_dot):
    """a = the reversed cumulative sum of ȳ:  ȧ = that of ȳ's tangent  (x: its shape only)"""
    return cumsum_bar(y_bar_dot, x, axis), None


@tangent(windows_bar)
def windows_bar_tangent(a, y_bar, x, window_shape, axis=None, *, y_bar_dot, x_dot):
    """a = each window's ȳ added back where the window lies in x:  ȧ = ȳ's tangent added back
    so (linear in ȳ; x: its shape only)"""
    return windows_bar(y_bar_dot, x, window_shape, axis), None


@tangent(untranspose)
def untranspose_tangent(a, y_bar, axes, y_bar_dot):
    """a = ȳ transposed back:  ȧ = ȳ's tangent transposed back"""
    return untranspose(y_bar_dot, axes)


@tangent(split_like)
def split_like_tangent(a, y_bar, xs, axis=0, *, y_bar_dot, xs_dot):
    """a = ȳ cut into pieces shaped like xs:  ȧ = ȳ's tangent cut alike  (xs: shapes only)"""
    return split_like(y_bar_dot, xs, axis), None


@tangent(unstack)
def unstack_tangent(a, y_bar, xs, axis=0, *, y_bar_dot, xs_dot):
    """a = the slices of ȳ along axis:  ȧ = those of ȳ's tangent  (xs: shapes only)"""
    return unstack(y_bar_dot, xs, axis), None


@tangent(chosen_bars)
def chosen_bars_tangent(parts, y_bar, y, arguments, y_bar_dot, y_dot, arguments_dot):
    """parts = ȳ shared among the arguments equal to max(*arguments) (or min), whose places do
    not change under a small change (a.e.):  the same of ȳ's tangent"""
    return chosen_bars(y_bar_dot, y, arguments), None, None


@adjoint(elements_like)
def elements_like_adjoint(a, g, xs, a_bar):
    """a = g as one adjoint per element of xs, each shaped like it (broadcast):  ḡ = ā in
    g's structure, each element summed down to g's  (xs: its elements' shapes only)"""
    return elements_like_bar(a_bar, g, xs), None


@adjoint(elements_like_bar)
def elements_like_bar_adjoint(t, a_bar, g, xs, t_bar):
    """t = ā's elements summed down to the shapes of g's:  ā's adjoint = t̄ as one adjoint per
    element of xs, each broadcast to its shape  (g, xs: their structure and shapes only)"""
    return elements_like(t_bar, xs), None, None


@adjoint(structured_like_bar_bar)
def structured_like_bar_bar_adjoint(u, t_bar, s_bar, g, u_bar):
    """u = t̄ in s̄'s structure, each leaf broadcast to s̄'s:  t̄'s adjoint = ū summed down to
    the shapes of g's leaves  (s̄, g: their structure and shapes only)"""
    return structured_like_bar(u_bar, g), None, None


@tangent(elements_like_bar)
def elements_like_bar_tangent(t, a_bar, g, xs, a_bar_dot, g_dot, xs_dot):
    """t = ā's elements summed down to the shapes of g's:  ṫ = ā's tangent alike  (g, xs:
    their structure and shapes only)"""
    return elements_like_bar(a_bar_dot, g, xs), None, None


@tangent(structured_like_bar_bar)
def structured_like_bar_bar_tangent(u, t_bar, s_bar, g, t_bar_dot, s_bar_dot, g_dot):
    """u = t̄ in s̄'s structure, each leaf broadcast to s̄'s:  u̇ = t̄'s tangent alike  (s̄, g:
    their structure and shapes only)"""
    return structured_like_bar_bar(t_bar_dot, s_bar, g), None, None


@tangent(elements_like)
def elements_like_tangent(a, g, xs, g_dot, xs_dot):
    """a = g as one adjoint per element of xs, each shaped like it:  ȧ = ġ alike  (xs: its
    elements' shapes only)"""
    return elements_like(g_dot, xs), None


@tangent(of_real)
def of_real_tangent(a, g, x, function, g_dot, x_dot):
    """a = g, once x is known to be real:  ȧ = ġ  (x: its kind only)"""
    return of_real(g_dot, x, function), None


@tangent(array_bar)
def array_bar_tangent(g, y_bar, a, dtype, y_bar_dot, a_dot):
    """g = ȳ cast back to a's dtype (ā of y = array(a, dtype); zeros for an integer or boolean
    dtype): linear in ȳ,  ġ = the same of ȳ's tangent"""
    return array_bar(y_bar_dot, a, dtype), None


@tangent(astype_bar)
def astype_bar_tangent(a, y_bar, x, dtype, y_bar_dot, x_dot):
    """a = ȳ cast back to x's dtype (zeros for an integer one):  ȧ = ȳ's tangent alike
    (x: its dtype only)"""
    return astype_bar(y_bar_dot, x, dtype), None


# ---------------------------------------------------------------------------------------------
# Adjoints of joins, takes, pads, tiles and diagonals: linear in ȳ, the rest shapes and places
# ---------------------------------------------------------------------------------------------


@tangent(unjoin)
def unjoin_tangent(parts, y_bar, arrays, promote, axis, y_bar_dot, arrays_dot):
    """parts = ȳ cut into the pieces the arrays were joined from:  the same of ȳ's tangent
    (arrays: their shapes only)"""
    return unjoin(y_bar_dot, arrays, promote, axis), None


@tangent(unjoin_index)
def unjoin_index_tangent(parts, y_bar, items, maker, axis, y_bar_dot, items_dot):
    """parts = ȳ cut into the pieces np.r_ or np.c_ joined:  the same of ȳ's tangent
    (items: their shapes only)"""
    return unjoin_index(y_bar_dot, items, maker, axis), None


@tangent(unexpand_each)
def unexpand_each_tangent(parts, y_bar, arrays, y_bar_dot, arrays_dot):
    """parts = ȳ reshaped like each array:  the same of ȳ's tangent  (arrays: shapes only)"""
    return unexpand_each(y_bar_dot, arrays), None


@tangent(take_bar)
def take_bar_tangent(a, y_bar, x, indices, axis=None, mode="raise", *, y_bar_dot, x_dot):
    """a = ȳ added at the elements np.take took:  ȧ = ȳ's tangent alike  (x: shape only)"""
    return take_bar(y_bar_dot, x, indices, axis, mode), None


@tangent(take_along_axis_bar)
def take_along_axis_bar_tangent(a, y_bar, arr, indices, axis, y_bar_dot, arr_dot):
    """a = ȳ added at the elements taken along axis:  ȧ = ȳ's tangent alike  (arr: shape
    only)"""
    return take_along_axis_bar(y_bar_dot, arr, indices, axis), None


@tangent(sum_over)
def sum_over_tangent(s, g, axis, like, g_dot, like_dot):
    """s = g summed over axis, then to like's shape:  ṡ = ġ alike  (like: its shape only)"""
    return sum_over(g_dot, axis, like), None


@tangent(unroll_axis)
def unroll_axis_tangent(a, y_bar, x, axis, start=0, *, y_bar_dot, x_dot):
    """a = ȳ's axes put back in x's order:  ȧ = ȳ's tangent alike  (x: its rank only)"""
    return unroll_axis(y_bar_dot, x, axis, start), None


@tangent(untile)
def untile_tangent(a, y_bar, x, reps, y_bar_dot, x_dot):
    """a = the copies of ȳ summed onto x's shape:  ȧ = ȳ's tangent alike  (x: shape only)"""
    return untile(y_bar_dot, x, reps), None


@tangent(unrepeat)
def unrepeat_tangent(a, y_bar, x, repeats, axis=None, *, y_bar_dot, x_dot):
    """a = each element's copies of ȳ summed:  ȧ = ȳ's tangent alike  (x: its shape only)"""
    return unrepeat(y_bar_dot, x, repeats, axis), None


@tangent(unpad)
def unpad_tangent(a, y_bar, array, origins, y_bar_dot, array_dot):
    """a = ȳ added back at each element's origin:  ȧ = ȳ's tangent alike  (array: shape
    only)"""
    return unpad(y_bar_dot, array, origins), None


@tangent(unpad_constant)
def unpad_constant_tangent(a, y_bar, array, pad_width, y_bar_dot, array_dot):
    """a = the middle of ȳ, where the array was put:  ȧ = that of ȳ's tangent  (array: its
    shape only)"""
    return unpad_constant(y_bar_dot, array, pad_width), None


@tangent(unpartition)
def unpartition_tangent(a, y_bar, y, x, axis=-1, *, y_bar_dot, y_dot, x_dot):
    """a = ȳ sent back to the elements of x whose values y holds (the places fixed a.e.):
    ȧ = ȳ's tangent alike"""
    return unpartition(y_bar_dot, y, x, axis), None, None


@tangent(diagonal_bar)
def diagonal_bar_tangent(a, y_bar, x, offset=0, axis1=0, axis2=1, *, y_bar_dot, x_dot):
    """a = zeros like x with ȳ on the diagonal:  ȧ = the same with ȳ's tangent  (x: shape
    only)"""
    return diagonal_bar(y_bar_dot, x, offset, axis1, axis2), None


@tangent(diag_bar)
def diag_bar_tangent(a, y_bar, v, k=0, *, y_bar_dot, v_dot):
    """a = ȳ's diagonal, or zeros like v with ȳ on it:  ȧ = the same of ȳ's tangent  (v: its
    shape only)"""
    return diag_bar(y_bar_dot, v, k), None


@tangent(trace_bar)
def trace_bar_tangent(a, y_bar, x, offset=0, *, y_bar_dot, x_dot):
    """a = ȳ on the diagonal of zeros like x:  ȧ = ȳ's tangent there  (x: its shape only)"""
    return trace_bar(y_bar_dot, x, offset), None


# ---------------------------------------------------------------------------------------------
# Sums over a loop's rows, hoisted out of its reverse sweep: (bi)linear in the rows
# ---------------------------------------------------------------------------------------------


@tangent(sum_of_outers)
def sum_of_outers_tangent(s, a_rows, b_rows, a_rows_dot, b_rows_dot):
    """s = Σₜ aₜ bₜᵀ:  ṡ = Σₜ ȧₜ bₜᵀ + Σₜ aₜ ḃₜᵀ"""
    return sum_of_outers(a_rows_dot, b_rows), sum_of_outers(a_rows, b_rows_dot)


@tangent(sum_of_values)
def sum_of_values_tangent(s, rows, rows_dot):
    """s = Σₜ aₜ:  ṡ = Σₜ ȧₜ"""
    return sum_of_values(rows_dot)


@tangent(stacked_rows)
def stacked_rows_tangent(s, rows, rows_dot):
    """s = the rows stacked (or the list of them, as it is):  ṡ = the rows' tangents alike"""
    return stacked_rows(rows_dot)


@tangent(sum_of_sums)
def sum_of_sums_tangent(s, rows, axis=None, keepdims=False, *, rows_dot):
    """s = Σₜ Σ_axis aₜ:  ṡ = Σₜ Σ_axis ȧₜ"""
    return sum_of_sums(rows_dot, axis, keepdims)


@tangent(sum_of_scaled)
def sum_of_scaled_tangent(s, scale_rows, array_rows, scale_rows_dot, array_rows_dot):
    """s = Σₜ sₜ aₜ:  ṡ = Σₜ ṡₜ aₜ + Σₜ sₜ ȧₜ"""
    return sum_of_scaled(scale_rows_dot, array_rows), sum_of_scaled(scale_rows, array_rows_dot)


@tangent(sum_of_inner)
def sum_of_inner_tangent(s, a_rows, b_rows, a_rows_dot, b_rows_dot):
    """s = Σₜ Σᵢ (aₜ ∘ bₜ)ᵢ:  ṡ = Σₜ Σᵢ (ȧₜ ∘ bₜ)ᵢ + Σₜ Σᵢ (aₜ ∘ ḃₜ)ᵢ"""
    return sum_of_inner(a_rows_dot, b_rows), sum_of_inner(a_rows, b_rows_dot)


@tangent(sum_of_products)
def sum_of_products_tangent(s, a_rows, b_rows, transposed, a_rows_dot, b_rows_dot):
    """s = Σₜ aₜ bₜᵀ (or Σₜ aₜᵀ bₜ):  ṡ = the same sum of ȧₜ with bₜ, plus that of aₜ with ḃₜ"""
    return (
        sum_of_products(a_rows_dot, b_rows, transposed),
        sum_of_products(a_rows, b_rows_dot, transposed),
    )


# ---------------------------------------------------------------------------------------------
# The adjoints of products (dot, inner, outer, tensordot, kron, cross, multi_dot, einsum): each
# operand's adjoint is linear in z̄ and in the other operands, and reads its own for its shape
# ---------------------------------------------------------------------------------------------


@tangent(dot_left_bar)
def dot_left_bar_tangent(w, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """w = x̄ of z = dot(x, y), bilinear in z̄ and y:  ẇ = the same of (z̄'s tangent, y)
    + that of (z̄, ẏ)  (x: its shape only)"""
    return dot_left_bar(z_bar_dot, x, y), None, dot_left_bar(z_bar, x, y_dot)


@tangent(dot_right_bar)
def dot_right_bar_tangent(w, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """w = ȳ of z = dot(x, y), bilinear in z̄ and x:  ẇ = the same of (z̄'s tangent, x)
    + that of (z̄, ẋ)  (y: its shape only)"""
    return dot_right_bar(z_bar_dot, x, y), dot_right_bar(z_bar, x_dot, y), None


@tangent(inner_bars, adds=add_elementwise)
def inner_bars_tangent(bars, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """(x̄, ȳ) of z = inner(x, y): x̄ bilinear in z̄ and y, ȳ in z̄ and x:  their tangents =
    (x̄, ȳ) at z̄'s tangent + (0, ȳ at ẋ) + (x̄ at ẏ, 0)"""
    return (
        inner_bars(z_bar_dot, x, y),
        (zero_gradient(x), inner_bars(z_bar, x_dot, y)[1]),
        (inner_bars(z_bar, x, y_dot)[0], zero_gradient(y)),
    )


@tangent(outer_bars, adds=add_elementwise)
def outer_bars_tangent(bars, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """(x̄, ȳ) of z = outer(x, y) = (z̄ y, z̄ᵀ x):  their tangents = (x̄, ȳ) at z̄'s tangent
    + (0, z̄ᵀ ẋ) + (z̄ ẏ, 0)"""
    return (
        outer_bars(z_bar_dot, x, y),
        (zero_gradient(x), outer_bars(z_bar, x_dot, y)[1]),
        (outer_bars(z_bar, x, y_dot)[0], zero_gradient(y)),
    )


@tangent(polyval_bars, adds=add_elementwise)
def polyval_bars_tangent(bars, y_bar, p, x, y_bar_dot, p_dot, x_dot):
    """(p̄, x̄) of y = polyval(p, x) = (ȳ x^(n−1−k), ȳ p′(x)), p̄ linear in ȳ, x̄ in ȳ and in p:
    their tangents = (p̄, x̄) at ȳ's tangent + (0, x̄ at ṗ) + the change along ẋ
    (``polyval_bars_dot``)"""
    return (
        polyval_bars(y_bar_dot, p, x),
        (zero_gradient(p), polyval_bars(y_bar, p_dot, x)[1]),
        polyval_bars_dot(y_bar, p, x, x_dot),
    )


@tangent(tensordot_bars, adds=add_elementwise)
def tensordot_bars_tangent(bars, z_bar, x, y, axes=2, *, z_bar_dot, x_dot, y_dot):
    """(x̄, ȳ) of z = tensordot(x, y, axes), x̄ bilinear in z̄ and y, ȳ in z̄ and x:  their
    tangents = (x̄, ȳ) at z̄'s tangent + (0, ȳ at ẋ) + (x̄ at ẏ, 0)"""
    return (
        tensordot_bars(z_bar_dot, x, y, axes),
        (zero_gradient(x), tensordot_bars(z_bar, x_dot, y, axes)[1]),
        (tensordot_bars(z_bar, x, y_dot, axes)[0], zero_gradient(y)),
    )


@tangent(kron_bars, adds=add_elementwise)
def kron_bars_tangent(bars, z_bar, x, y, z_bar_dot, x_dot, y_dot):
    """(x̄, ȳ) of z = kron(x, y), x̄ bilinear in z̄ and y, ȳ in z̄ and x:  their tangents =
    (x̄, ȳ) at z̄'s tangent + (0, ȳ at ẋ) + (x̄ at ẏ, 0)"""
    return (
        kron_bars(z_bar_dot, x, y),
        (zero_gradient(x), kron_bars(z_bar, x_dot, y)[1]),
        (kron_bars(z_bar, x, y_dot)[0], zero_gradient(y)),
    )


@tangent(cross_bars, adds=add_elementwise)
def cross_bars_tangent(
    bars, z_bar, x, y, axisa=-1, axisb=-1, axisc=-1, axis=None, *, z_bar_dot, x_dot, y_dot
):
    """(x̄, ȳ) = (y × z̄, z̄ × x) of z = x × y:  their tangents = (ẏ's term) (ẏ × z̄, 0)
    + (ẋ's) (0, z̄ × ẋ) + (z̄'s) (y × ż̄, ż̄ × x)"""
    return (
        cross_bars(z_bar_dot, x, y, axisa, axisb, axisc, axis),
        (zero_gradient(x), cross_bars(z_bar, x_dot, y, axisa, axisb, axisc, axis)[1]),
        (cross_bars(z_bar, x, y_dot, axisa, axisb, axisc, axis)[0], zero_gradient(y)),
    )


@tangent(multi_dot_bars, adds=add_elementwise)
def multi_dot_bars_tangent(bars, z_bar, arrays, z_bar_dot, arrays_dot):
    """Āᵢ = (A₁⋯Aᵢ₋₁)ᵀ z̄ (Aᵢ₊₁⋯Aₖ)ᵀ, linear in z̄ and in each Aⱼ, j ≠ i:  Ǡᵢ = the same at
    z̄'s tangent + Σⱼ≠ᵢ the same with Ȧⱼ for Aⱼ  (``multi_dot_bars_dot``)"""
    return multi_dot_bars(z_bar_dot, arrays), multi_dot_bars_dot(z_bar, arrays, arrays_dot)


@tangent(einsum_bars, adds=add_elementwise)
def einsum_bars_tangent(
    bars, subscripts, y_bar, operands, wanted=None, *, subscripts_dot, y_bar_dot, operands_dot
):
    """Each operand's adjoint of y = einsum(s, A₁, …) is linear in ȳ and in each other
    operand:  its tangent = the same at ȳ's tangent + Σⱼ the same with Ȧⱼ for Aⱼ, the j-th
    adjoint left out  (``einsum_bars_dot``; in the interleaved form A₁ is ``subscripts``;
    an adjoint not ``wanted`` is None, and so is its tangent)"""
    return (
        einsum_bars_dot(subscripts, y_bar, operands, subscripts_dot, None, wanted),
        einsum_bars(subscripts, y_bar_dot, operands, wanted),
        einsum_bars_dot(subscripts, y_bar, operands, None, operands_dot, wanted),
    )


# ---------------------------------------------------------------------------------------------
# Adjoints that read the values they differentiate at: nonlinear in those, linear in ȳ
# ---------------------------------------------------------------------------------------------


@tangent(prod_bar)
def prod_bar_tangent(a, y_bar, x, axis=None, keepdims=False, *, y_bar_dot, x_dot):
    """a = ȳ Π_{k ≠ j} xₖ (x̄ of y = prod x):  ȧ = (ȳ's tangent) Π_{k ≠ j} xₖ
    + ȳ Σ_{m ≠ j} ẋₘ Π_{k ≠ j, m} xₖ  (never dividing by zero: ``prod_bar_dot``)"""
    return prod_bar(y_bar_dot, x, axis, keepdims), prod_bar_dot(y_bar, x, x_dot, axis, keepdims)


@tangent(cumprod_bar)
def cumprod_bar_tangent(a, y_bar, x, axis=None, *, y_bar_dot, x_dot):
    """aⱼ = Σ_{i ≥ j} ȳᵢ Π_{k ≤ i, k ≠ j} xₖ (x̄ of y = cumprod x):  ȧⱼ = the same of ȳ's
    tangent + Σ_{i ≥ j} ȳᵢ Σ_{m ≤ i, m ≠ j} ẋₘ Π_{k ≤ i, k ≠ j, m} xₖ  (``cumprod_bar_dot``)"""
    return cumprod_bar(y_bar_dot, x, axis), cumprod_bar_dot(y_bar, x, x_dot, axis)


@tangent(norm_bar)
def norm_bar_tangent(
    a, y_bar, y, x, ord=None, axis=None, keepdims=False, *, y_bar_dot, y_dot, x_dot
):
    """a = ȳ ∂‖x‖/∂x at y = ‖x‖ (x̄ of y = norm(x, ord)), linear in ȳ:  ȧ = the same of ȳ's
    tangent + its changes with y and x (``norm_bar_dot``: −ȳ x ẏ / y² + ȳ ẋ / y for the 2-norm;
    refused at kinks and ties)"""
    return (
        norm_bar(y_bar_dot, y, x, ord, axis, keepdims),
        norm_bar_dot(y_bar, y, x, y_dot, None, ord, axis, keepdims),
        norm_bar_dot(y_bar, y, x, None, x_dot, ord, axis, keepdims),
    )


@tangent(eigh_bar)
def eigh_bar_tangent(m, w_bar, v_bar, w, v, uplo="L", *, w_bar_dot, v_bar_dot, w_dot, v_dot):
    """m = fold(V (diag w̄ + F ∘ Vᵀ V̄) Vᵀ), Fᵢⱼ = 1 / (wⱼ − wᵢ) (Ā of (w, V) = eigh(A)),
    linear in (w̄, V̄):  ṁ = the same at (ẇ̄, 0) and at (0, V̄̇) + its changes with w and V
    (``eigh_bar_dot``; refused at a repeated eigenvalue)"""
    return (
        eigh_bar(w_bar_dot, zero_gradient(v), w, v, uplo),
        eigh_bar(zero_gradient(w), v_bar_dot, w, v, uplo),
        eigh_bar_dot(w_bar, v_bar, w, v, w_dot, None, uplo),
        eigh_bar_dot(w_bar, v_bar, w, v, None, v_dot, uplo),
    )


@tangent(eig_bar)
def eig_bar_tangent(m, w_bar, v_bar, w, v, w_bar_dot, v_bar_dot, w_dot, v_dot):
    """m = V⁻ᵀ (diag w̄ + F ∘ (Vᵀ V̄ − Vᵀ V diag(Vᵀ V̄))) Vᵀ (Ā of (w, V) = eig(A)), linear in
    (w̄, V̄):  ṁ = the same at (ẇ̄, 0) and at (0, V̄̇) + its changes with w and V (``eig_bar_dot``;
    refused at a repeated eigenvalue)"""
    return (
        eig_bar(w_bar_dot, zero_gradient(v), w, v),
        eig_bar(zero_gradient(w), v_bar_dot, w, v),
        eig_bar_dot(w_bar, v_bar, w, v, w_dot, None),
        eig_bar_dot(w_bar, v_bar, w, v, None, v_dot),
    )


@tangent(pinv_bar)
def pinv_bar_tangent(
    m, x_bar, x, a, rcond=None, hermitian=False, rtol=None, *, x_bar_dot, x_dot, a_dot
):
    """m = −Xᵀ X̄ Xᵀ + (I − A X) X̄ᵀ X Xᵀ + Xᵀ X X̄ᵀ (I − X A) (Ā of X = pinv(A)), linear in X̄:
    ṁ = the same at X̄'s tangent + its changes with X and A, term by term (``pinv_bar_dot``)"""
    return (
        pinv_bar(x_bar_dot, x, a, rcond, hermitian, rtol),
        pinv_bar_dot(x_bar, x, a, x_dot, None),
        pinv_bar_dot(x_bar, x, a, None, a_dot),
    )


@tangent(qr_bar)
def qr_bar_tangent(m, q_bar, r_bar, q, r, mode="reduced", *, q_bar_dot, r_bar_dot, q_dot, r_dot):
    """m = (Q̄ + Q copyltu(R R̄ᵀ − Q̄ᵀ Q)) R⁻ᵀ (Ā of (Q, R) = qr(A)), linear in (Q̄, R̄):  ṁ = the
    same at (Q̄̇, 0) and at (0, R̄̇) + its changes with Q and R (``qr_bar_dot``)"""
    return (
        qr_bar(q_bar_dot, zero_gradient(r), q, r, mode),
        qr_bar(zero_gradient(q), r_bar_dot, q, r, mode),
        qr_bar_dot(q_bar, r_bar, q, r, q_dot, None, mode),
        qr_bar_dot(q_bar, r_bar, q, r, None, r_dot, mode),
    )


@tangent(svd_bar)
def svd_bar_tangent(m, y_bar, y, a, hermitian=False, *, y_bar_dot, y_dot, a_dot):
    """m = Ā of (U, s, Vᵀ) = svd(A), explicit in (U, s, Vᵀ) and linear in their adjoints:
    ṁ = the same at the adjoints' tangents + its changes with U, s and Vᵀ (``svd_bar_dot``)
    (A: its shape only)"""
    return svd_bar(y_bar_dot, y, a, hermitian), svd_bar_dot(y_bar, y, a, y_dot, hermitian), None


@tangent(matrix_power_bar)
def matrix_power_bar_tangent(m, y_bar, a, n, y_bar_dot, a_dot):
    """m = Σₖ (Aᵀ)ᵏ Ȳ (Aᵀ)ⁿ⁻¹⁻ᵏ (Ā of Y = Aⁿ, n > 0; through A⁻¹ for n < 0), linear in Ȳ:
    ṁ = the same at Ȳ's tangent + Σₖ the changes of the powers of Aᵀ around Ȳ
    (``matrix_power_bar_dot``)"""
    return matrix_power_bar(y_bar_dot, a, n), matrix_power_bar_dot(y_bar, a, a_dot, n)


@tangent(cholesky_bar)
def cholesky_bar_tangent(m, factor_bar, factor, upper=False, *, factor_bar_dot, factor_dot):
    """m = fold(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹) (Ā of L = cholesky(A)), linear in L̄:  ṁ = the same at L̄'s
    tangent + fold(−L⁻ᵀ L̇ᵀ M + L⁻ᵀ Φ(L̇ᵀ L̄) L⁻¹ − M L̇ L⁻¹)  (``cholesky_bar_dot``)"""
    return (
        cholesky_bar(factor_bar_dot, factor, upper),
        cholesky_bar_dot(factor_bar, factor, factor_dot, upper),
    )


@tangent(eigvals_bar)
def eigvals_bar_tangent(m, w_bar, a, w_bar_dot, a_dot):
    """m = V⁻ᵀ diag(w̄) Vᵀ (Ā of w = eigvals(A), V its eigenvectors), linear in w̄:  ṁ = the
    same at w̄'s tangent + V⁻ᵀ (D ∘ V⁻¹ Ȧ V)ᵀ Vᵀ, Dᵢⱼ = (w̄ⱼ − w̄ᵢ) / (wⱼ − wᵢ)
    (``eigvals_bar_dot``; refused at a repeated eigenvalue whose w̄ differ)"""
    return eigvals_bar(w_bar_dot, a), eigvals_bar_dot(w_bar, a, a_dot)


@tangent(eigvalsh_bar)
def eigvalsh_bar_tangent(m, w_bar, a, uplo="L", *, w_bar_dot, a_dot):
    """m = V diag(w̄) Vᵀ folded onto the triangle read (Ā of w = eigvalsh(A)), linear in w̄:
    ṁ = the same at w̄'s tangent + V (D ∘ Vᵀ Ṡ V) Vᵀ folded alike, Dᵢⱼ = (w̄ⱼ − w̄ᵢ) / (wⱼ − wᵢ),
    Ṡ the symmetric matrix of Ȧ's triangle  (``eigvalsh_bar_dot``; refused at a repeated
    eigenvalue whose w̄ differ)"""
    return eigvalsh_bar(w_bar_dot, a, uplo), eigvalsh_bar_dot(w_bar, a, a_dot, uplo)


@tangent(singular_values_bar)
def singular_values_bar_tangent(m, s_bar, a, hermitian=False, *, s_bar_dot, a_dot):
    """m = U diag(s̄) Vᵀ (Ā of s = svd(A, compute_uv=False)), linear in s̄:  ṁ = the same at
    s̄'s tangent + its turn with U and V as A moves (``singular_values_bar_dot``; refused at a
    repeated singular value whose s̄ differ)"""
    return singular_values_bar(s_bar_dot, a, hermitian), singular_values_bar_dot(s_bar, a, a_dot)


@tangent(hypot_bars, adds=add_elementwise)
def hypot_bars_tangent(parts, y_bar, y, coordinates, y_bar_dot, y_dot, coordinates_dot):
    """partsᵢ = ȳ xᵢ / y (x̄ᵢ of y = hypot(*xs)):  ṗartsᵢ = (ȳ's tangent) xᵢ / y
    − (ȳ ẏ / y) xᵢ / y + ȳ ẋᵢ / y  (refused at y = 0, where the xᵢ / y jump)"""
    return (
        hypot_bars(y_bar_dot, y, coordinates),
        hypot_bars(-y_bar * y_dot / differentiable_hypot(y), y, coordinates),
        hypot_bars(y_bar, differentiable_hypot(y), coordinates_dot),
    )


@tangent(solve_bars, adds=add_elementwise)
def solve_bars_tangent(bars, x_bar, x, a, b, x_bar_dot, x_dot, a_dot, b_dot):
    """(Ā, b̄) = (−b̄ xᵀ, A⁻ᵀ x̄) of x = solve(A, b):  their tangents = the same at x̄'s
    tangent + (−b̄ ẋᵀ, 0) + (−(ḃ̄) xᵀ, ḃ̄) with ḃ̄ = −A⁻ᵀ Ȧᵀ b̄ (``solve_bars_dot``)  (b: its
    shape only)"""
    return (
        solve_bars(x_bar_dot, x, a, b),
        (solve_bars(x_bar, x_dot, a, b)[0], zero_gradient(b)),
        solve_bars_dot(x_bar, x, a, b, a_dot),
        None,
    )


@tangent(average_bars, adds=add_elementwise)
def average_bars_tangent(
    bars, y_bar, y, a, axis, weights, keepdims, y_bar_dot, y_dot, a_dot, weights_dot
):
    """(ā, w̄) = (ȳ w / S, ȳ (a − y) / S), S = Σ w (y = average(a, weights=w)):  their tangents
    = the same at ȳ's tangent + (0, −ȳ ẏ / S) + (0, ȳ ȧ / S) + their changes with w
    (``average_bars_dot``)"""
    return (
        average_bars(y_bar_dot, y, a, axis, weights, keepdims),
        (
            zero_gradient(a),
            average_bars(y_bar, y_dot, zero_gradient(a), axis, weights, keepdims)[1],
        ),
        (
            zero_gradient(a),
            average_bars(y_bar, zero_gradient(y), a_dot, axis, weights, keepdims)[1],
        ),
        average_bars_dot(y_bar, y, a, axis, weights, keepdims, weights_dot),
    )


@tangent(digamma)
def digamma_tangent(y, x, x_dot):
    """y = ψ(x):  ẏ = ψ′(x) ẋ  (ψ′ the trigamma function)"""
    return trigamma(x) * x_dot


@tangent(sinc_slope)
def sinc_slope_tangent(s, x, x_dot):
    """s = sinc′(x):  ṡ = sinc″(x) ẋ"""
    return sinc_curvature(x) * x_dot


# ---------------------------------------------------------------------------------------------
# More adjoints linear in ȳ, the rest read for shapes, places and constants
# ---------------------------------------------------------------------------------------------


@adjoint(sequence_bar)
def sequence_bar_adjoint(a, y_bar, iterable, a_bar):
    """a = ȳ's elements in the kind of xs (x̄s of y = tuple(xs) or list(xs); an array's rows
    stacked):  ȳ's adjoint = ā's elements (rows), each summed down to ȳ's  (xs: its kind and
    shape only)"""
    return sequence_bar_bar(a_bar, y_bar, iterable), None


def _sequence_bar_shape(y_bar, iterable):
    """The shape of sequence_bar(ȳ, xs): xs's for an array xs (its rows stacked), a tuple as
    long as xs for a tuple or list xs."""
    if isinstance(iterable.shape, Sequence):
        return _length_only(iterable.shape)
    return iterable.shape if isinstance(iterable.shape, tuple) else None


SHAPE_RULES[sequence_bar] = _sequence_bar_shape
SHAPE_RULES[sequence_bar_bar] = lambda a_bar, y_bar, iterable: _length_only(y_bar.shape)


@adjoint(sequence_bar_bar)
def sequence_bar_bar_adjoint(t, a_bar, y_bar, iterable, t_bar):
    """t = ā's elements (rows) summed down to ȳ's:  ā's adjoint = t̄'s elements in the kind of
    xs (an array's rows stacked, broadcast)  (ȳ, xs: their structure and shapes only)"""
    return sequence_bar(t_bar, iterable), None, None


@tangent(sequence_bar_bar)
def sequence_bar_bar_tangent(t, a_bar, y_bar, iterable, a_bar_dot, y_bar_dot, iterable_dot):
    """t = ā's elements (rows) summed down to ȳ's:  ṫ = ā's tangent alike  (ȳ, xs: their
    structure and shapes only)"""
    return sequence_bar_bar(a_bar_dot, y_bar, iterable), None, None


@tangent(sequence_bar)
def sequence_bar_tangent(a, y_bar, iterable, y_bar_dot, iterable_dot):
    """a = ȳ's elements in the kind of xs (x̄s of y = tuple(xs) or list(xs)):  ȧ = ȳ's
    tangent's alike  (xs: its kind and shape only)"""
    return sequence_bar(y_bar_dot, iterable), None


@tangent(sorted_bar)
def sorted_bar_tangent(a, y_bar, iterable, key=None, reverse=False, *, y_bar_dot, iterable_dot):
    """a = ȳ put back in the order sorted took xs in (fixed a.e.):  ȧ = ȳ's tangent alike"""
    return sorted_bar(y_bar_dot, iterable, key, reverse), None


@tangent(unsplit)
def unsplit_tangent(
    a, pieces_bar, ary, indices_or_sections, axis=0, even=True, *, pieces_bar_dot, ary_dot
):
    """a = each piece's adjoint added back where np.split cut it:  ȧ = each piece's tangent
    alike  (ary: its shape only)"""
    return unsplit(pieces_bar_dot, ary, indices_or_sections, axis, even), None


@tangent(unbroadcast_each)
def unbroadcast_each_tangent(parts, y_bars, arrays, y_bars_dot, arrays_dot):
    """partsᵢ = ȳᵢ summed to the shape of arrayᵢ:  the same of the ȳᵢ's tangents  (arrays:
    their shapes only)"""
    return unbroadcast_each(y_bars_dot, arrays), None


@tangent(undiff)
def undiff_tangent(
    parts,
    y_bar,
    a,
    n=1,
    axis=-1,
    prepend=None,
    append=None,
    *,
    y_bar_dot,
    a_dot,
    prepend_dot,
    append_dot,
):
    """parts = the adjoints of a, prepend and append for y = diff(a, n, axis, prepend,
    append), linear in ȳ:  the same of ȳ's tangent  (the others: their shapes only)"""
    return undiff(y_bar_dot, a, n, axis, prepend, append), None, None, None


@tangent(gradient_bar)
def gradient_bar_tangent(a, y_bar, f, spacing, axis=None, edge_order=1, *, y_bar_dot, f_dot):
    """a = np.gradient's transpose applied to ȳ:  ȧ = the same applied to ȳ's tangent  (f: its
    shape only; the spacing a constant, as in np.gradient's adjoint rule)"""
    return gradient_bar(y_bar_dot, f, spacing, axis, edge_order), None


@tangent(pad_constants_bar)
def pad_constants_bar_tangent(
    a, y_bar, array, pad_width, constant_values, *, y_bar_dot, array_dot, constant_values_dot
):
    """a = Σ ȳ over what each constant of np.pad fills:  ȧ = the same of ȳ's tangent  (array
    and the constants: their shapes only)"""
    return pad_constants_bar(y_bar_dot, array, pad_width, constant_values), None, None


# ---------------------------------------------------------------------------------------------
# The helpers of the ufunc methods' rules (rules_ufuncs.py)
# ---------------------------------------------------------------------------------------------


@adjoint(widened)
def widened_adjoint(w, x, y, w_bar):
    """w = x with one new axis per axis of y, a reshape:  x̄ = w̄ reshaped like x  (y: its
    shape only)"""
    return np.reshape(w_bar, np.shape(x)), None


@tangent(widened)
def widened_tangent(w, x, y, x_dot, y_dot):
    """w = x with one new axis per axis of y:  ẇ = ẋ widened alike  (y: its shape only)"""
    return widened(x_dot, y), None


@tangent(running_extremum_bar)
def running_extremum_bar_tangent(a_bar, y_bar, y, a, axis=0, *, y_bar_dot, y_dot, a_dot):
    """ā = ȳ sent to the running extreme, whose places do not change under a small change of
    a (a.e.):  the same of ȳ's tangent"""
    return running_extremum_bar(y_bar_dot, y, a, axis), None, None


@tangent(log_accumulate_bar)
def log_accumulate_bar_tangent(
    a_bar, y_bar, y, a, axis=0, base2=False, *, y_bar_dot, y_dot, a_dot
):
    """āⱼ = Σ_{i≥j} ȳᵢ b^(aⱼ − yᵢ) (b = e, or 2 with base2), linear in ȳ, with
    ∂/∂aⱼ = ln b · āⱼ and ∂/∂yᵢ = −ln b · ȳᵢ b^(aⱼ − yᵢ):  ǡ = the same of ȳ's tangent
    − ln b · the same of ȳ ẏ + ln b · ȧ ā"""
    rate = np.log(2.0) if base2 else 1.0
    y_term = -rate * log_accumulate_bar(y_bar * y_dot, y, a, axis, base2)
    return log_accumulate_bar(y_bar_dot, y, a, axis, base2), y_term, rate * a_dot * a_bar


@tangent(compress_bar)
def compress_bar_tangent(a_bar, y_bar, condition, a, axis=None, *, y_bar_dot, a_dot):
    """ā = ȳ put at the slices the condition keeps, linear in ȳ:  the same of ȳ's tangent
    (a: its shape only)"""
    return compress_bar(y_bar_dot, condition, a, axis), None


@tangent(choose_bar)
def choose_bar_tangent(c_bar, y_bar, a, choices, mode="raise", *, y_bar_dot, choices_dot):
    """c̄ = ȳ where each choice was made, linear in ȳ:  the same of ȳ's tangent  (the choices:
    their shapes only)"""
    return choose_bar(y_bar_dot, a, choices, mode), None


@tangent(tolist_bar)
def tolist_bar_tangent(a_bar, y_bar, a, y_bar_dot, a_dot):
    """ā = the nested adjoint ȳ as one array, linear in ȳ:  the same of ȳ's tangent  (a: its
    shape only)"""
    return tolist_bar(y_bar_dot, a), None


# ---------------------------------------------------------------------------------------------
# The adjoints of the functions that delete, insert, select and join elements (each linear in
# the adjoint it takes, the other arguments read for their shapes or positions only), and of
# convolutions, polynomials, covariances and the trapezoidal rule
# ---------------------------------------------------------------------------------------------


@tangent(delete_bar)
def delete_bar_tangent(a, y_bar, arr, obj, axis=None, *, y_bar_dot, arr_dot):
    """a = ȳ back at the elements np.delete kept:  ȧ = the same of ȳ's tangent  (arr: its shape
    only)"""
    return delete_bar(y_bar_dot, arr, obj, axis), None


@tangent(insert_bars)
def insert_bars_tangent(
    bars, y_bar, arr, obj, values, axis=None, *, y_bar_dot, arr_dot, values_dot
):
    """(ār, v̄alues) = ȳ at arr's and at the inserted places:  their tangents = the same of ȳ's
    tangent  (arr and values: their shapes only)"""
    return insert_bars(y_bar_dot, arr, obj, values, axis), None, None


@tangent(extract_bar)
def extract_bar_tangent(a, y_bar, condition, arr, *, y_bar_dot, arr_dot):
    """a = ȳ back where the condition held:  ȧ = the same of ȳ's tangent  (arr: its shape
    only)"""
    return extract_bar(y_bar_dot, condition, arr), None


@tangent(resize_bar)
def resize_bar_tangent(w, y_bar, a, new_shape, *, y_bar_dot, a_dot):
    """w = ȳ summed over each element's copies:  ẇ = the same of ȳ's tangent  (a: its shape
    only)"""
    return resize_bar(y_bar_dot, a, new_shape), None


@tangent(unstack_bar)
def unstack_bar_tangent(a, y_bar, x, axis=0, *, y_bar_dot, x_dot):
    """a = the pieces' adjoints stacked back:  ȧ = their tangents stacked back  (x: its shape
    only)"""
    return unstack_bar(y_bar_dot, x, axis), None


@tangent(block_bar)
def block_bar_tangent(a, y_bar, arrays, *, y_bar_dot, arrays_dot):
    """a = each block's piece of ȳ:  ȧ = the same of ȳ's tangent  (arrays: their shapes only)"""
    return block_bar(y_bar_dot, arrays), None


@tangent(without_initial)
def without_initial_tangent(a, y_bar, axis=None, include_initial=False, *, y_bar_dot):
    """a = ȳ without its initial element (linear):  ȧ = the same of ȳ's tangent"""
    return without_initial(y_bar_dot, axis, include_initial)


@tangent(ediff1d_bars)
def ediff1d_bars_tangent(
    bars, y_bar, ary, to_end=None, to_begin=None, *, y_bar_dot, ary_dot, to_end_dot, to_begin_dot
):
    """The adjoints of np.ediff1d's parts, linear in ȳ:  their tangents = the same of ȳ's
    tangent  (the parts: their shapes only)"""
    return ediff1d_bars(y_bar_dot, ary, to_end, to_begin), None, None, None


@tangent(polyadd_bars)
def polyadd_bars_tangent(bars, y_bar, a1, a2, sign=1.0, *, y_bar_dot, a1_dot, a2_dot):
    """(ā1, ±ā2) = the last coefficients of ȳ:  their tangents = the same of ȳ's tangent"""
    return polyadd_bars(y_bar_dot, a1, a2, sign), None, None


@tangent(polyder_bar)
def polyder_bar_tangent(a, y_bar, p, m=1, *, y_bar_dot, p_dot):
    """a = ȳ times the falling powers:  ȧ = the same of ȳ's tangent  (p: its shape only)"""
    return polyder_bar(y_bar_dot, p, m), None


@tangent(polyint_bars)
def polyint_bars_tangent(bars, y_bar, p, m=1, k=None, *, y_bar_dot, p_dot, k_dot):
    """(p̄, k̄) of np.polyint, linear in ȳ:  their tangents = the same of ȳ's tangent  (p and k:
    their shapes only)"""
    return polyint_bars(y_bar_dot, p, m, k), None, None


@tangent(convolve_bars, adds=add_elementwise)
def convolve_bars_tangent(bars, z_bar, a, v, mode="full", *, z_bar_dot, a_dot, v_dot):
    """(ā, v̄) of z = convolve(a, v), ā bilinear in z̄ and v, v̄ in z̄ and a:  their tangents =
    (ā, v̄) at z̄'s tangent + (0, v̄ at ȧ) + (ā at v̇, 0)"""
    return (
        convolve_bars(z_bar_dot, a, v, mode),
        (zero_gradient(a), convolve_bars(z_bar, a_dot, v, mode)[1]),
        (convolve_bars(z_bar, a, v_dot, mode)[0], zero_gradient(v)),
    )


@tangent(convolve_a_bar_of_part)
def convolve_a_bar_of_part_tangent(
    a_bar, y_bar, z, index, a, v, mode="full", *, y_bar_dot, z_dot, a_dot, v_dot
):
    """w = ā of a convolution read at ``index``, bilinear in ȳ and v (z and a: their shapes
    only):  ẇ = the same of (ȳ's tangent, v) + that of (ȳ, v̇)"""
    return (
        convolve_a_bar_of_part(y_bar_dot, z, index, a, v, mode),
        None,
        None,
        convolve_a_bar_of_part(y_bar, z, index, a, v_dot, mode),
    )


@tangent(convolve_a_bar)
def convolve_a_bar_tangent(a_bar, z_bar, a, v, mode="full", *, z_bar_dot, a_dot, v_dot):
    """ā of z = convolve(a, v), bilinear in z̄ and v:  its tangent = ā at z̄'s tangent + ā at
    v̇  (a: its shape only)"""
    return convolve_a_bar(z_bar_dot, a, v, mode), None, convolve_a_bar(z_bar, a, v_dot, mode)


@tangent(correlate_bars, adds=add_elementwise)
def correlate_bars_tangent(bars, z_bar, a, v, mode="valid", *, z_bar_dot, a_dot, v_dot):
    """(ā, v̄) of z = correlate(a, v), bilinear as convolve's:  their tangents = (ā, v̄) at z̄'s
    tangent + (0, v̄ at ȧ) + (ā at v̇, 0)"""
    return (
        correlate_bars(z_bar_dot, a, v, mode),
        (zero_gradient(a), correlate_bars(z_bar, a_dot, v, mode)[1]),
        (correlate_bars(z_bar, a, v_dot, mode)[0], zero_gradient(v)),
    )


@tangent(polymul_bars, adds=add_elementwise)
def polymul_bars_tangent(bars, y_bar, a1, a2, *, y_bar_dot, a1_dot, a2_dot):
    """(ā1, ā2) of y = polymul(a1, a2), bilinear as convolve's:  their tangents = (ā1, ā2) at
    ȳ's tangent + (0, ā2 at ȧ1) + (ā1 at ȧ2, 0)"""
    return (
        polymul_bars(y_bar_dot, a1, a2),
        (zero_gradient(a1), polymul_bars(y_bar, a1_dot, a2)[1]),
        (polymul_bars(y_bar, a1, a2_dot)[0], zero_gradient(a2)),
    )


@tangent(vecdot_bars, adds=add_elementwise)
def vecdot_bars_tangent(bars, z_bar, x1, x2, axis=-1, *, z_bar_dot, x1_dot, x2_dot):
    """(x̄1, x̄2) = (z̄ x2, z̄ x1) of z = Σ x1 x2:  their tangents = (x̄1, x̄2) at z̄'s tangent
    + (0, z̄ ẋ1) + (z̄ ẋ2, 0)"""
    return (
        vecdot_bars(z_bar_dot, x1, x2, axis),
        (zero_gradient(x1), vecdot_bars(z_bar, x1_dot, x2, axis)[1]),
        (vecdot_bars(z_bar, x1, x2_dot, axis)[0], zero_gradient(x2)),
    )


@tangent(cov_bars, adds=add_elementwise)
def cov_bars_tangent(
    bars, c_bar, m, y=None, rowvar=True, bias=False, ddof=None, *, c_bar_dot, m_dot, y_dot
):
    """(m̄, ȳ) = X̄ = (C̄ + C̄ᵀ) X_c / (N − ddof) cut into m's rows and y's, bilinear in C̄ and X:
    their tangents = the same at C̄'s tangent + the same at Ẋ (``cov_bars_dot``)"""
    return (
        cov_bars(c_bar_dot, m, y, rowvar, bias, ddof),
        cov_bars_dot(c_bar, m, y, m_dot=m_dot, rowvar=rowvar, bias=bias, ddof=ddof),
        cov_bars_dot(c_bar, m, y, y_dot=y_dot, rowvar=rowvar, bias=bias, ddof=ddof),
    )


@tangent(trapezoid_bars, adds=add_elementwise)
def trapezoid_bars_tangent(
    bars, area_bar, y, x=None, dx=1.0, axis=-1, *, area_bar_dot, y_dot, x_dot, dx_dot
):
    """(ȳ, x̄, d̄x) of A = Σ dᵢ (yᵢ + yᵢ₊₁) / 2, ȳ bilinear in Ā and the widths, x̄ and d̄x in Ā
    and y:  their tangents = the same at Ā's tangent + each argument's move
    (``trapezoid_bars_dot``)"""
    return (
        trapezoid_bars(area_bar_dot, y, x, dx, axis),
        trapezoid_bars_dot(area_bar, y, x, dx, axis, y_dot=y_dot),
        trapezoid_bars_dot(area_bar, y, x, dx, axis, x_dot=x_dot),
        trapezoid_bars_dot(area_bar, y, x, dx, axis, dx_dot=dx_dot),
    )


@tangent(vector_norm_bar)
def vector_norm_bar_tangent(
    a, y_bar, y, x, ord=2, axis=None, keepdims=False, *, y_bar_dot, y_dot, x_dot
):
    """a = ȳ ∂‖x‖/∂x over the reduced axes (x̄ of y = vector_norm(x)), linear in ȳ:  ȧ = the
    same of ȳ's tangent + its changes with y and x (``vector_norm_bar_dot``, as norm_bar's)"""
    return (
        vector_norm_bar(y_bar_dot, y, x, ord, axis, keepdims),
        vector_norm_bar_dot(y_bar, y, x, y_dot, None, ord, axis, keepdims),
        vector_norm_bar_dot(y_bar, y, x, None, x_dot, ord, axis, keepdims),
    )


@tangent(tensorsolve_bars, adds=add_elementwise)
def tensorsolve_bars_tangent(bars, x_bar, x, a, b, axes=None, *, x_bar_dot, x_dot, a_dot, b_dot):
    """(Ā, b̄) = (−b̄ xᵀ, A⁻ᵀ x̄) of x = tensorsolve(a, b) (as matrices), linear in x̄:  their
    tangents = the same at x̄'s tangent + the changes along ẋ and Ȧ (``tensorsolve_bars_dot``)
    (b: its shape only)"""
    return (
        tensorsolve_bars(x_bar_dot, x, a, b, axes),
        tensorsolve_bars_dot(x_bar, x, a, b, axes, x_dot=x_dot),
        tensorsolve_bars_dot(x_bar, x, a, b, axes, a_dot=a_dot),
        None,
    )


@tangent(tensorinv_bar)
def tensorinv_bar_tangent(m, y_bar, y, a, ind=2, *, y_bar_dot, y_dot, a_dot):
    """m = −Yᵀ Ȳ Yᵀ (Ā of Y = tensorinv(a), as matrices), linear in Ȳ:  ṁ = the same of Ȳ's
    tangent − Ẏᵀ Ȳ Yᵀ − Yᵀ Ȳ Ẏᵀ  (a: its shape only)"""
    return tensorinv_bar(y_bar_dot, y, a, ind), tensorinv_bar_dot(y_bar, y, y_dot, ind), None


@tangent(vander_bar)
def vander_bar_tangent(a, v_bar, x, n=None, increasing=False, *, v_bar_dot, x_dot):
    """a = Σⱼ V̄ᵢⱼ eⱼ xᵢ^(eⱼ−1) (x̄ of V = vander(x)), linear in V̄:  ȧ = the same of V̄'s tangent
    + Σⱼ V̄ᵢⱼ eⱼ (eⱼ − 1) xᵢ^(eⱼ−2) ẋᵢ"""
    return vander_bar(v_bar_dot, x, n, increasing), vander_bar_dot(v_bar, x, x_dot, n, increasing)


@tangent(bessel_i1)
def bessel_i1_tangent(y, x, x_dot):
    """y = I₁(x):  ẏ = (I₀(x) − I₁(x) / x) ẋ  (½ ẋ at x = 0)"""
    return bessel_i1_slope(x) * x_dot


# ---------------------------------------------------------------------------------------------
# No gradient: seeds, zeros, counts and shapes
# ---------------------------------------------------------------------------------------------

non_differentiable(seed, zero_gradient, reduced_count, shape_of, shape_like)
non_differentiable(degrees_of_freedom, not_nan, nan_count, numbers_per_result, hstack_axis)
non_differentiable(nan_degrees_of_freedom, hsplit_axis, linspace_weights, pad_origins)
non_differentiable(copy_pad_origins, item_position, chosen)


# ---------------------------------------------------------------------------------------------
# as_floating: 1.0 * a, shared where a is floating point already
# ---------------------------------------------------------------------------------------------


@adjoint(as_floating)
def as_floating_adjoint(y, a, y_bar):
    """y = 1.0 · a (a itself where a is a floating point array):  ā = ȳ"""
    return 1.0 * y_bar


@tangent(as_floating)
def as_floating_tangent(y, a, a_dot):
    """y = 1.0 · a (a itself where a is a floating point array):  ẏ = ȧ"""
    return 1.0 * a_dot
