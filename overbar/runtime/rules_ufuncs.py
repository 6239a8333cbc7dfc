"""Adjoint rules for the methods of NumPy's ufuncs (``np.add.reduce``, ``np.maximum.accumulate``,
``np.multiply.outer``, ...) and for the array methods that read elements out (``.item()``,
``.tolist()``, ``.compress()``, ``.choose()``), each followed by its tangent rule.

A ufunc method is keyed by the bound method itself (``np.add.reduce``, the object the call's
function resolves to). ``reduce`` and ``accumulate`` of a ufunc are the reductions and running
reductions that have rules already: ``add.reduce`` is ``np.sum``'s math with another default
axis (0), ``maximum.reduce`` is ``np.max``'s (ties share ȳ), ``multiply.reduce`` ``np.prod``'s,
``add.accumulate`` ``cumsum``'s, ``multiply.accumulate`` ``cumprod``'s. The running extremum
sends ȳᵢ to the elements equal to yᵢ up to i, shared among ties as ``np.max`` shares them.

``outer`` is derived, not listed: ``f.outer(x, y)`` is ``f(x[..., None, …], y)`` with one new
axis per axis of y, so for every binary ufunc with an elementwise rule (adjoint or tangent) the
outer rule is that rule's body with x widened, and x's adjoint reshaped back to x's shape.
``derive_outer_rules`` writes those rules when the table is complete (the runtime imports this
module last); a rule a user registers later for a ufunc gets no outer rule of its own.

``subtract`` and ``divide`` are not reorderable: their ``reduce`` and ``accumulate`` take one
axis, and treat the first element apart (a₀ − a₁ − …, a₀ / (a₁ ⋯)). ``reduceat`` of ``add``,
``multiply``, ``maximum`` and ``minimum`` reduces segments (each from an index to the next, or
one element where the next index goes back), and sends each ȳᵢ to its segment.

Refused (the transformation says which arguments a rule supports): ``dtype=``, ``out=``,
``initial=`` and ``where=`` of ``reduce``, ``accumulate`` and ``reduceat``, and the methods of
the ufuncs without a rule here: ``power.reduce`` and ``power.accumulate`` (a tower
a₀ ** a₁ ** …, evaluated from the left, whose derivative needs the logarithm of every partial
result: no rule yet), ``reduceat`` of the other ufuncs. ``np.add.at`` is no call with a value
but a write (``in_place.py``). The methods of a ufunc declared without gradient (comparisons,
``floor_divide``) have none either.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from overbar.primitives import Method, describe
from overbar.runtime.helpers import (
    cumsum_bar,
    expand_reduced,
    extremum_bar,
    index_bar,
    prod_bar,
)
from overbar.runtime.helpers_math import cumprod_bar, cumprod_dot
from overbar.runtime.helpers_ufuncs import (
    added_at,
    added_at_bar,
    choose_bar,
    chosen,
    compress_bar,
    first_along,
    item_position,
    log_accumulate_bar,
    log_accumulate_dot,
    reduceat_bar,
    reduceat_dot,
    running_extremum_bar,
    running_extremum_dot,
    single_axis,
    tolist_bar,
    widened,
)
from overbar.runtime.registry import (
    NON_DIFFERENTIABLE,
    RULES,
    Rule,
    adjoint,
    non_differentiable,
    tangent,
    tangent_parameters,
)
from overbar.runtime.shapes import SHAPE_RULES, Operand, _reduction, dims

# reduce and accumulate write into no given array and cast to no given type
_PLAIN = {"dtype": None, "out": None}

# ---------------------------------------------------------------------------------------------
# ufunc.reduce
# ---------------------------------------------------------------------------------------------


@adjoint(np.add.reduce, where=_PLAIN)
def add_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = add.reduce(a, axis) = Σ_axis a:  ā = ȳ broadcast back over axis"""
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims)


@tangent(np.add.reduce, where=_PLAIN)
def add_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = add.reduce(a, axis) = Σ_axis a:  ẏ = Σ_axis ȧ"""
    return np.add.reduce(a_dot, axis=axis, keepdims=keepdims)


@adjoint(np.multiply.reduce, where=_PLAIN)
def multiply_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = multiply.reduce(a, axis) = Π_axis a:  āᵢ = ȳ Π_{j≠i} aⱼ  (exact with zeros)"""
    return prod_bar(y_bar, a, axis=axis, keepdims=keepdims)


@tangent(np.multiply.reduce, where=_PLAIN)
def multiply_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = multiply.reduce(a, axis) = Π_axis a:  ẏ = Σᵢ ȧᵢ Π_{j≠i} aⱼ  (exact with zeros)"""
    others = prod_bar(np.ones_like(y), a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * others, axis=axis, keepdims=keepdims)


_EXTREMA_REDUCE = (np.maximum.reduce, np.minimum.reduce, np.fmax.reduce, np.fmin.reduce)


@adjoint(*_EXTREMA_REDUCE, where=_PLAIN)
def extremum_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = maximum.reduce(a, axis) = max_axis a (or min; fmax and fmin skip nan):  ā = ȳ at the
    extreme elements, shared among ties (as for np.max)"""
    return extremum_bar(y_bar, y, a, axis=axis, keepdims=keepdims)


@tangent(*_EXTREMA_REDUCE, where=_PLAIN)
def extremum_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = maximum.reduce(a, axis) = max_axis a (or min):  ẏ = ȧ at the extreme element, the
    mean over ties"""
    shares = extremum_bar(np.ones_like(y), y, a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * shares, axis=axis, keepdims=keepdims)


@adjoint(np.logaddexp.reduce, where=_PLAIN)
def logaddexp_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = logaddexp.reduce(a, axis) = log Σ_axis eᵃ:  ā = ȳ e^(a − y)  (ȳ and y broadcast back
    over axis)"""
    return expand_reduced(y_bar, a, axis, keepdims) * np.exp(
        a - expand_reduced(y, a, axis, keepdims)
    )


@tangent(np.logaddexp.reduce, where=_PLAIN)
def logaddexp_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = logaddexp.reduce(a, axis) = log Σ_axis eᵃ:  ẏ = Σ_axis ȧ e^(a − y)"""
    weights = np.exp(a - expand_reduced(y, a, axis, keepdims))
    return np.sum(a_dot * weights, axis=axis, keepdims=keepdims)


@adjoint(np.logaddexp2.reduce, where=_PLAIN)
def logaddexp2_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = logaddexp2.reduce(a, axis) = log₂ Σ_axis 2ᵃ:  ā = ȳ 2^(a − y)  (ȳ and y broadcast
    back over axis)"""
    return expand_reduced(y_bar, a, axis, keepdims) * np.exp2(
        a - expand_reduced(y, a, axis, keepdims)
    )


@tangent(np.logaddexp2.reduce, where=_PLAIN)
def logaddexp2_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = logaddexp2.reduce(a, axis) = log₂ Σ_axis 2ᵃ:  ẏ = Σ_axis ȧ 2^(a − y)"""
    weights = np.exp2(a - expand_reduced(y, a, axis, keepdims))
    return np.sum(a_dot * weights, axis=axis, keepdims=keepdims)


@adjoint(np.subtract.reduce, where=_PLAIN)
def subtract_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = subtract.reduce(a, axis) = a₀ − a₁ − … − aₙ₋₁ along axis:  ā₀ = ȳ,  āᵢ = −ȳ (i ≥ 1)"""
    along = single_axis(axis, a)  # the one axis: not reorderable
    signs = np.where(first_along(a, along), 1.0, -1.0)
    return expand_reduced(y_bar, a, along, keepdims) * signs


@tangent(np.subtract.reduce, where=_PLAIN)
def subtract_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = subtract.reduce(a, axis) = a₀ − a₁ − … − aₙ₋₁, linear:  ẏ = ȧ₀ − ȧ₁ − … − ȧₙ₋₁"""
    along = single_axis(axis, a)  # the one axis: not reorderable
    signs = np.where(first_along(a, along), 1.0, -1.0)
    return np.sum(a_dot * signs, axis=along, keepdims=keepdims)


@adjoint(np.divide.reduce, where=_PLAIN)
def divide_reduce(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    """y = divide.reduce(a, axis) = a₀ / (a₁ ⋯ aₙ₋₁) along axis:  ā₀ = ȳ / (a₁ ⋯ aₙ₋₁),
    āᵢ = −ȳ y / aᵢ (i ≥ 1)  (never dividing by a₀, which may be 0)"""
    along = single_axis(axis, a)  # the one axis: not reorderable
    first = first_along(a, along)
    divisors = np.where(first, 1.0, a)  # a₁ … aₙ₋₁, and 1 in a₀'s place
    rest = np.multiply.reduce(divisors, axis=along, keepdims=True)
    y_full = expand_reduced(y, a, along, keepdims)
    return expand_reduced(y_bar, a, along, keepdims) * np.where(
        first, 1.0 / rest, -y_full / divisors
    )


@tangent(np.divide.reduce, where=_PLAIN)
def divide_reduce_tangent(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    """y = divide.reduce(a, axis) = a₀ / (a₁ ⋯ aₙ₋₁):  ẏ = ȧ₀ / (a₁ ⋯ aₙ₋₁) − y Σ_{i≥1} ȧᵢ / aᵢ"""
    along = single_axis(axis, a)  # the one axis: not reorderable
    first = first_along(a, along)
    divisors = np.where(first, 1.0, a)
    rest = np.multiply.reduce(divisors, axis=along, keepdims=True)
    y_full = expand_reduced(y, a, along, keepdims)
    shares = np.where(first, 1.0 / rest, -y_full / divisors)
    return np.sum(a_dot * shares, axis=along, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# ufunc.accumulate
# ---------------------------------------------------------------------------------------------


@adjoint(np.add.accumulate, where=_PLAIN)
def add_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """y = add.accumulate(a, axis) = cumsum_axis a:  ā = reversed cumsum of ȳ"""
    return cumsum_bar(y_bar, a, axis=axis)


@tangent(np.add.accumulate, where=_PLAIN)
def add_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """y = add.accumulate(a, axis) = cumsum_axis a:  ẏ = cumsum_axis ȧ"""
    return np.add.accumulate(a_dot, axis=axis)


@adjoint(np.multiply.accumulate, where=_PLAIN)
def multiply_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """y = multiply.accumulate(a, axis) = cumprod_axis a:  āⱼ = Σ_{i≥j} ȳᵢ Π_{k≤i, k≠j} aₖ
    (never dividing by zero)"""
    return cumprod_bar(y_bar, a, axis=axis)


@tangent(np.multiply.accumulate, where=_PLAIN)
def multiply_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """y = multiply.accumulate(a, axis) = cumprod_axis a:  ẏᵢ = Σ_{j≤i} ȧⱼ Π_{k≤i, k≠j} aₖ"""
    return cumprod_dot(a_dot, a, axis=axis)


_EXTREMA_ACCUMULATE = (
    np.maximum.accumulate,
    np.minimum.accumulate,
    np.fmax.accumulate,
    np.fmin.accumulate,
)


@adjoint(*_EXTREMA_ACCUMULATE, where=_PLAIN)
def extremum_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = max_{j≤i} aⱼ along axis (maximum.accumulate; or min):  āⱼ = Σ_{i≥j} ȳᵢ [aⱼ = yᵢ] / cᵢ,
    cᵢ the number of j ≤ i with aⱼ = yᵢ: ȳᵢ goes to the running extreme, shared among ties as
    np.max(a[:i+1]) shares it"""
    return running_extremum_bar(y_bar, y, a, axis=axis)


@tangent(*_EXTREMA_ACCUMULATE, where=_PLAIN)
def extremum_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = max_{j≤i} aⱼ along axis (or min):  ẏᵢ = Σ_{j≤i} ȧⱼ [aⱼ = yᵢ] / cᵢ, the mean of ȧ over
    the ties of the running extreme"""
    return running_extremum_dot(a_dot, y, a, axis=axis)


@adjoint(np.logaddexp.accumulate, where=_PLAIN)
def logaddexp_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = log Σ_{j≤i} e^(aⱼ) along axis:  āⱼ = Σ_{i≥j} ȳᵢ e^(aⱼ − yᵢ)"""
    return log_accumulate_bar(y_bar, y, a, axis=axis)


@tangent(np.logaddexp.accumulate, where=_PLAIN)
def logaddexp_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = log Σ_{j≤i} e^(aⱼ) along axis:  ẏᵢ = Σ_{j≤i} ȧⱼ e^(aⱼ − yᵢ)"""
    return log_accumulate_dot(a_dot, y, a, axis=axis)


@adjoint(np.logaddexp2.accumulate, where=_PLAIN)
def logaddexp2_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = log₂ Σ_{j≤i} 2^(aⱼ) along axis:  āⱼ = Σ_{i≥j} ȳᵢ 2^(aⱼ − yᵢ)"""
    return log_accumulate_bar(y_bar, y, a, axis=axis, base2=True)


@tangent(np.logaddexp2.accumulate, where=_PLAIN)
def logaddexp2_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = log₂ Σ_{j≤i} 2^(aⱼ) along axis:  ẏᵢ = Σ_{j≤i} ȧⱼ 2^(aⱼ − yᵢ)"""
    return log_accumulate_dot(a_dot, y, a, axis=axis, base2=True)


@adjoint(np.subtract.accumulate, where=_PLAIN)
def subtract_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """yₖ = a₀ − a₁ − … − aₖ along axis:  ā₀ = Σₖ ȳₖ,  āᵢ = −Σ_{k≥i} ȳₖ (i ≥ 1): the reversed
    cumsum of ȳ, negated after the first"""
    signs = np.where(first_along(a, axis), 1.0, -1.0)
    return cumsum_bar(y_bar, a, axis=axis) * signs


@tangent(np.subtract.accumulate, where=_PLAIN)
def subtract_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """yₖ = a₀ − a₁ − … − aₖ, linear:  ẏ = subtract.accumulate(ȧ)"""
    return np.subtract.accumulate(a_dot, axis=axis)


@adjoint(np.divide.accumulate, where=_PLAIN)
def divide_accumulate(y, a, axis=0, dtype=None, out=None, *, y_bar):
    """yₖ = a₀ / (a₁ ⋯ aₖ) along axis:  ā₀ = Σₖ ȳₖ / (a₁ ⋯ aₖ),  āᵢ = −(Σ_{k≥i} ȳₖ yₖ) / aᵢ
    (i ≥ 1)  (never dividing by a₀, which may be 0)"""
    first = first_along(a, axis)
    divisors = np.where(first, 1.0, a)  # a₁ … aₖ, and 1 in a₀'s place
    quotients = 1.0 / np.multiply.accumulate(divisors, axis=axis)  # 1 / (a₁ ⋯ aₖ)
    to_first = cumsum_bar(y_bar * quotients, a, axis=axis)
    to_rest = -cumsum_bar(y_bar * y, a, axis=axis) / divisors
    return np.where(first, to_first, to_rest)


@tangent(np.divide.accumulate, where=_PLAIN)
def divide_accumulate_tangent(y, a, axis=0, dtype=None, out=None, *, a_dot):
    """yₖ = a₀ / (a₁ ⋯ aₖ):  ẏₖ = ȧ₀ / (a₁ ⋯ aₖ) − yₖ Σ_{1≤i≤k} ȧᵢ / aᵢ"""
    first = first_along(a, axis)
    divisors = np.where(first, 1.0, a)
    quotients = 1.0 / np.multiply.accumulate(divisors, axis=axis)
    first_dot = np.sum(np.where(first, a_dot, 0.0), axis=axis, keepdims=True)
    return first_dot * quotients - y * np.cumsum(np.where(first, 0.0, a_dot / divisors), axis=axis)


# ---------------------------------------------------------------------------------------------
# ufunc.reduceat
# ---------------------------------------------------------------------------------------------


# yᵢ = the reduction of a over segment i along axis: from indices[i] to indices[i + 1] (aᵢ alone
# where indices[i] ≥ indices[i + 1]; the last to the end). Each ȳᵢ goes to its segment times
# ∂yᵢ/∂aⱼ (``helpers_ufuncs.reduceat_bar``); the indices get no gradient.


@adjoint(np.add.reduceat, where=_PLAIN)
def add_reduceat(y, a, indices, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = Σ_{j in segment i} aⱼ:  āⱼ = Σ_{segments i holding j} ȳᵢ"""
    return reduceat_bar(y_bar, y, a, indices, axis, "add"), None


@tangent(np.add.reduceat, where=_PLAIN)
def add_reduceat_tangent(y, a, indices, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = Σ_{j in segment i} aⱼ, linear:  ẏ = add.reduceat(ȧ, indices, axis)"""
    return reduceat_dot(a_dot, y, a, indices, axis, "add")


@adjoint(np.multiply.reduceat, where=_PLAIN)
def multiply_reduceat(y, a, indices, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = Π_{j in segment i} aⱼ:  āⱼ = Σ_{segments i holding j} ȳᵢ Π_{k in segment i, k≠j} aₖ
    (exact with zeros)"""
    return reduceat_bar(y_bar, y, a, indices, axis, "multiply"), None


@tangent(np.multiply.reduceat, where=_PLAIN)
def multiply_reduceat_tangent(y, a, indices, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = Π_{j in segment i} aⱼ:  ẏᵢ = Σ_{j in segment i} ȧⱼ Π_{k≠j} aₖ"""
    return reduceat_dot(a_dot, y, a, indices, axis, "multiply")


@adjoint(np.maximum.reduceat, where=_PLAIN)
def maximum_reduceat(y, a, indices, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = max_{j in segment i} aⱼ:  āⱼ = Σ_{segments i holding j} ȳᵢ [aⱼ = yᵢ] / cᵢ, cᵢ the
    ties at the maximum (shared as np.max shares them)"""
    return reduceat_bar(y_bar, y, a, indices, axis, "maximum"), None


@tangent(np.maximum.reduceat, where=_PLAIN)
def maximum_reduceat_tangent(y, a, indices, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = max_{j in segment i} aⱼ:  ẏᵢ = the mean of ȧ over the ties at the maximum"""
    return reduceat_dot(a_dot, y, a, indices, axis, "maximum")


@adjoint(np.minimum.reduceat, where=_PLAIN)
def minimum_reduceat(y, a, indices, axis=0, dtype=None, out=None, *, y_bar):
    """yᵢ = min_{j in segment i} aⱼ:  āⱼ = Σ_{segments i holding j} ȳᵢ [aⱼ = yᵢ] / cᵢ, cᵢ the
    ties at the minimum"""
    return reduceat_bar(y_bar, y, a, indices, axis, "minimum"), None


@tangent(np.minimum.reduceat, where=_PLAIN)
def minimum_reduceat_tangent(y, a, indices, axis=0, dtype=None, out=None, *, a_dot):
    """yᵢ = min_{j in segment i} aⱼ:  ẏᵢ = the mean of ȧ over the ties at the minimum"""
    return reduceat_dot(a_dot, y, a, indices, axis, "minimum")


def _reduceat_shape(a: Operand, indices: Operand, *others: Operand, **keywords: Operand) -> Any:
    """``f.reduceat(a, indices, axis=0)``: a's shape with the axis as long as indices."""
    shape, count = dims(a.shape), dims(indices.shape)
    if shape is None or count is None or len(count) != 1 or others or keywords:
        return None
    return (count[0], *shape[1:]) if shape else None


# ---------------------------------------------------------------------------------------------
# ufunc.at: np.add.at(y, indices, v), a write, made y[()] = added_at(y, indices, v) (ufunc_at.py)
# ---------------------------------------------------------------------------------------------


@adjoint(added_at)
def added_at_adjoint(z, y, indices, v, z_bar):
    """z = y with v added at indices (np.add.at: repeated indices add up):  ȳ = z̄,
    v̄ = z̄[indices] summed to v's shape (each element of v reads the z̄ where it was added)
    (indices: no gradient)"""
    return z_bar, None, added_at_bar(z_bar, indices, v)


@tangent(added_at)
def added_at_tangent(z, y, indices, v, y_dot, indices_dot, v_dot):
    """z = y with v added at indices, linear in (y, v):  ż = ẏ + (v̇ added at indices into
    zeros)  (indices: no tangent)"""
    return y_dot, None, added_at(np.zeros_like(y, dtype=float), indices, v_dot)


# ---------------------------------------------------------------------------------------------
# Array methods that read elements
# ---------------------------------------------------------------------------------------------


@adjoint(Method("item"))
def item(y, a, *index, y_bar):
    """y = a.item(*index), one element (the only one where no index is given; the flat
    position for one integer):  ā = zeros like a, with ȳ at that element"""
    return index_bar(y_bar, a, item_position(a, index))


@tangent(Method("item"))
def item_tangent(y, a, *index, a_dot):
    """y = a.item(*index):  ẏ = ȧ at that element"""
    return np.asarray(a_dot)[item_position(a, index)]


@adjoint(Method("tolist"))
def tolist(y, a, y_bar):
    """y = a.tolist(), nested lists of numbers:  ā = ȳ's numbers as an array shaped like a"""
    return tolist_bar(y_bar, a)


@tangent(Method("tolist"))
def tolist_tangent(y, a, a_dot):
    """y = a.tolist():  ẏ = ȧ.tolist()"""
    return np.broadcast_to(a_dot, np.shape(a)).tolist()


@adjoint(np.compress, where={"out": None})
def compress(y, condition, a, axis=None, out=None, *, y_bar):
    """y = compress(condition, a, axis), the slices of a where condition holds:  ā = zeros
    like a, with ȳ at those slices"""
    return None, compress_bar(y_bar, condition, a, axis)


@tangent(np.compress, where={"out": None})
def compress_tangent(y, condition, a, axis=None, out=None, *, a_dot):
    """y = compress(condition, a, axis):  ẏ = compress(condition, ȧ, axis)"""
    return np.compress(condition, a_dot, axis)


@adjoint(Method("compress"), where={"out": None})
def compress_method(y, a, condition, axis=None, out=None, *, y_bar):
    """y = a.compress(condition, axis):  ā = zeros like a, with ȳ at the slices kept"""
    return compress_bar(y_bar, condition, a, axis)


@tangent(Method("compress"), where={"out": None})
def compress_method_tangent(y, a, condition, axis=None, out=None, *, a_dot):
    """y = a.compress(condition, axis):  ẏ = compress(condition, ȧ, axis)"""
    return np.compress(condition, a_dot, axis)


@adjoint(np.choose, Method("choose"), where={"out": None})
def choose(y, a, choices, out=None, mode="raise", *, y_bar):
    """y = choose(a, choices) = choices[a] elementwise (a of integers; broadcast together):
    c̄ₖ = ȳ where a chose k, summed to cₖ's shape;  no gradient for a"""
    return None, choose_bar(y_bar, a, choices, mode)


@tangent(np.choose, Method("choose"), where={"out": None})
def choose_tangent(y, a, choices, out=None, mode="raise", *, choices_dot):
    """y = choose(a, choices):  ẏ = choose(a, ċ)"""
    return np.choose(chosen(a, len(choices), mode), choices_dot)


# ---------------------------------------------------------------------------------------------
# No gradient: indices
# ---------------------------------------------------------------------------------------------

non_differentiable(
    Method("nonzero"), Method("searchsorted"), Method("argpartition"), np.argpartition,
)  # fmt: skip
non_differentiable(single_axis, first_along)  # an axis and a mask: second derivatives pass them


# ---------------------------------------------------------------------------------------------
# ufunc.outer, derived from the elementwise rules
# ---------------------------------------------------------------------------------------------


def binary_ufuncs() -> list[np.ufunc]:
    """The binary ufuncs of the rule table (a rule or no gradient), not generalised ones."""
    found = {**RULES.rules, **RULES.tangents, **RULES.non_differentiable}
    ufuncs = []
    for key in found:
        if isinstance(key, np.ufunc) and key.nin == 2 and key.nout == 1 and not key.signature:
            ufuncs.append(key)
    return ufuncs


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


class _Widen(ast.NodeTransformer):
    """Read each name of ``renames`` as its widened copy."""

    def __init__(self, renames: dict[str, str]):
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Load) and node.id in self.renames:
            return ast.Name(id=self.renames[node.id], ctx=ast.Load())
        return node


def _definition(function: Callable) -> ast.FunctionDef:
    """The syntax tree of ``function``'s definition (decorators left out), parsed from its
    lines: from its ``def`` to the end of the last instruction its code's positions name.
    (``inspect.getsource`` tokenises the module for each rule, which made importing overbar
    a tenth of a second slower.)"""
    code = function.__code__
    lines = linecache.getlines(code.co_filename)
    positions = code.co_positions() if hasattr(code, "co_positions") else ()  # Python 3.11
    ends = [end for _, end, _, _ in positions if end is not None]
    first = code.co_firstlineno
    while first <= len(lines) and not lines[first - 1].lstrip().startswith("def "):
        first += 1  # past the decorators
    if not ends or first > len(lines):
        return ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    return ast.parse(textwrap.dedent("".join(lines[first - 1 : max(ends)]))).body[0]


def _outer_source(rule: Rule, ufunc: np.ufunc) -> tuple[str, str] | None:
    """The source and name of ``ufunc.outer``'s rule derived from ``rule``, the elementwise
    rule of ``ufunc``; None where ``rule`` does not take exactly two operands."""
    function = rule.function
    tree = _definition(function)
    signature = inspect.signature(function)
    names = list(signature.parameters)
    dots = set(tangent_parameters(function)) if rule.kind == "tangent" else set()
    output = names[0]
    operands = [
        p.name
        for p in list(signature.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.name not in dots
        and p.name != output + "_bar"
    ]
    if len(operands) != 2 or any(
        p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()
    ):
        return None
    left, right = operands
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | set(names)
    renames = {left: _fresh(left + "_wide", taken)}
    if left + "_dot" in dots:
        renames[left + "_dot"] = _fresh(left + "_dot_wide", taken | set(renames.values()))
    body = list(tree.body)
    doc = ""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        doc = str(body[0].value.value)
        body = body[1:]
    body = [_Widen(renames).visit(statement) for statement in body]
    prologue = [
        ast.parse(f"{wide} = widened({name}, {right})").body[0] for name, wide in renames.items()
    ]
    if rule.kind == "adjoint":
        returned = body[-1].value
        entries = list(returned.elts) if isinstance(returned, ast.Tuple) else [returned]
        if not (isinstance(entries[0], ast.Constant) and entries[0].value is None):
            reshape = ast.parse(f"np.reshape(_, np.shape({left}))", mode="eval").body
            reshape.args[0] = entries[0]
            entries[0] = reshape
        body[-1] = ast.Return(value=ast.Tuple(elts=entries, ctx=ast.Load()))
    math_ = " ".join(doc.split())
    kind = "tangent" if rule.kind == "tangent" else "adjoint"
    docstring = (
        f"z = {describe(ufunc)}.outer({left}, {right}), every pair: the {kind} rule of "
        f"{describe(ufunc)} with {left} widened by one axis per axis of {right} "
        f"({left}[..., None, …]): {math_}"
        + ("" if rule.kind == "tangent" else f";  {left}̄ reshaped back to {left}'s shape")
    )
    stem = function.__name__.removesuffix("_tangent")
    name = f"{stem}_outer" if ufunc.__name__ in stem else f"{ufunc.__name__}_outer"
    name += "_tangent" if rule.kind == "tangent" else ""
    tree.name = name
    tree.decorator_list = []
    tree.body = [ast.Expr(value=ast.Constant(value=docstring)), *prologue, *body]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n", name


def _compile_outer(rule: Rule, ufunc: np.ufunc) -> Callable | None:
    """The derived rule function for ``ufunc.outer``, its source registered in ``linecache``
    (rules are inlined from their source), running in the elementwise rule's globals with
    ``widened`` and ``np`` added."""
    made = _outer_source(rule, ufunc)
    if made is None:
        return None
    source, name = made
    function = rule.function
    filename = f"<overbar rule {name}, derived from {function.__module__}.{function.__name__}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {**function.__globals__, "widened": widened, "np": np}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own derived source
    derived = namespace[name]
    derived.__module__ = __name__
    return derived


def derive_outer_rules(ufuncs: Iterable[np.ufunc] | None = None) -> None:
    """Register, for each binary ufunc of the rule table (or each of ``ufuncs``), the rules of
    its ``outer`` derived from its elementwise rules (the same conditions, adjoint and tangent
    alike); the ``outer``, ``reduce`` and ``accumulate`` of a ufunc with no gradient have none
    either."""
    for ufunc in binary_ufuncs() if ufuncs is None else ufuncs:
        if RULES.lookup(ufunc) is NON_DIFFERENTIABLE:
            non_differentiable(ufunc.outer, ufunc.reduce, ufunc.accumulate)
            continue
        for table in (RULES.rules, RULES.tangents):
            for rule in reversed(table.get(ufunc, [])):  # the general rule first
                derived = _compile_outer(rule, ufunc)
                if derived is None:
                    continue
                RULES.register(  # (the checks of @adjoint would read the source again)
                    ufunc.outer, derived, dict(rule.where), dict(rule.ranks), rule.kind, rule.adds
                )


# ---------------------------------------------------------------------------------------------
# Shapes (for the adjoints specialised on the arguments' shapes)
# ---------------------------------------------------------------------------------------------


_AXIS_ZERO = Operand((), 0, True)


def _reduced_shape(
    a: Operand, axis: Operand = _AXIS_ZERO, *others: Operand, **keywords: Operand
) -> Any:
    """``f.reduce(a, axis=0, keepdims=False)``: np.sum's shape, but along axis 0 by default."""
    if others:
        return None
    return _reduction(a, axis, **keywords)


def _accumulated_shape(a: Operand, *others: Operand, **keywords: Operand) -> Any:
    """``f.accumulate(a, axis)``: a's shape (an array's; a list's is not known)."""
    shape = dims(a.shape)
    return shape if shape is not None and (shape or not others) else None


def _outer_shape(a: Operand, b: Operand, **keywords: Operand) -> Any:
    """``f.outer(a, b)``: a's dimensions, then b's."""
    x, y = dims(a.shape), dims(b.shape)
    return None if x is None or y is None or keywords else x + y


def _widened_shape(x: Operand, y: Operand) -> Any:
    """``widened(x, y)``: x's dimensions, then one 1 per dimension of y."""
    a, b = dims(x.shape), dims(y.shape)
    return None if a is None or b is None else a + (1,) * len(b)


SHAPE_RULES[widened] = _widened_shape


# ufunc methods make new arrays: an array may be passed to one between writes into it
def copying_methods(ufuncs: Iterable[np.ufunc]) -> set:
    """The methods of ``ufuncs`` that make new arrays."""
    return {method for ufunc in ufuncs for method in (ufunc.reduce, ufunc.accumulate, ufunc.outer)}


COPYING_METHODS = frozenset(copying_methods(binary_ufuncs())) | {
    added_at,
    *(ufunc.reduceat for ufunc in (np.add, np.multiply, np.maximum, np.minimum)),
}


derive_outer_rules()
SHAPE_RULES[added_at] = lambda y, indices, v: dims(y.shape)
for _method in (np.add, np.multiply, np.maximum, np.minimum):
    SHAPE_RULES[_method.reduceat] = _reduceat_shape
for _ufunc in binary_ufuncs():
    SHAPE_RULES[_ufunc.reduce] = _reduced_shape
    SHAPE_RULES[_ufunc.accumulate] = _accumulated_shape
    SHAPE_RULES[_ufunc.outer] = _outer_shape
