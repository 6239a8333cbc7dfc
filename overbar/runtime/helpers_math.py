"""Runtime helpers for the rules of ``rules_math.py``: elementwise functions, reductions and
Python's builtins on numbers. Each is small and runs on plain NumPy values.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np

from overbar.errors import NoDerivativeError, OverbarError
from overbar.runtime import arrays
from overbar.runtime.helpers import (
    _normalize_axes,
    expand_reduced,
    stacked_like,
    unbroadcast,
    zero_gradient,
)


def of_real(g, x, function: str):
    """The adjoint ``g`` of a function of ``x``, once ``x`` is known to be real: a complex
    argument is refused (overbar differentiates real-valued programs only)."""
    if np.iscomplexobj(x):
        raise OverbarError(
            f"{function} of a complex value: overbar differentiates real numbers only; keep "
            "complex values out of the differentiated part of the function"
        )
    return g


def sinc_slope(x):
    """d sinc(x) / dx = (cos(πx) − sinc(x)) / x, and its Taylor series −π²x/3 + π⁴x³/30 where
    |x| < 1e-3 (the difference cancels there; the series' next term is below 1e-15)."""
    x = np.asarray(x, dtype=np.result_type(x, 1.0))
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    far = (np.cos(np.pi * safe) - np.sinc(safe)) / safe
    near = -(np.pi**2) * x / 3 + np.pi**4 * x**3 / 30
    slope = np.where(small, near, far)
    return slope[()] if slope.ndim == 0 else slope


def digamma(x):
    """ψ(x) = Γ′(x) / Γ(x) of a real number that is not 0 or a negative integer (where Γ has
    poles): the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 12, then the asymptotic series;
    reflection ψ(x) = ψ(1 − x) − π / tan(πx) for x < 0.5."""
    x = float(x)
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0.5:
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    shift = 0.0
    while x < 12.0:
        shift -= 1.0 / x
        x += 1.0
    inverse2 = 1.0 / (x * x)
    series = inverse2 * (
        1 / 12
        - inverse2 * (1 / 120 - inverse2 * (1 / 252 - inverse2 * (1 / 240 - inverse2 / 132)))
    )
    return shift + math.log(x) - 0.5 / x - series


def trigamma(x):
    """ψ′(x) = d ψ(x) / dx of a real number that is not 0 or a negative integer (poles, where
    it is nan): the recurrence ψ′(x) = ψ′(x + 1) + 1/x² up to x ≥ 12, then the asymptotic series
    1/x + 1/(2x²) + Σₖ B₂ₖ / x²ᵏ⁺¹ (B₂ₖ the Bernoulli numbers; the first term left out is below
    1e-15 there); reflection ψ′(x) = π² / sin²(πx) − ψ′(1 − x) for x < 0.5."""
    x = float(x)
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0.5:
        return (math.pi / math.sin(math.pi * x)) ** 2 - trigamma(1.0 - x)
    shift = 0.0
    while x < 12.0:
        shift += 1.0 / (x * x)
        x += 1.0
    inverse2 = 1.0 / (x * x)
    series = inverse2 * (
        1 / 6 - inverse2 * (1 / 30 - inverse2 * (1 / 42 - inverse2 * (1 / 30 - inverse2 * 5 / 66)))
    )
    return shift + 1.0 / x + 0.5 * inverse2 + series / x


def sinc_curvature(x):
    """d² sinc(x) / dx² = −(π sin(πx) + 2 sinc′(x)) / x (the derivative of ``sinc_slope``), and
    its Taylor series −π²/3 + π⁴x²/10 − π⁶x⁴/168 + π⁸x⁶/6480 where |x| < 1e-2 (the difference
    cancels there; the series' next term is below 1e-16)."""
    x = np.asarray(x, dtype=np.result_type(x, 1.0))
    small = np.abs(x) < 1e-2
    safe = np.where(small, 1.0, x)
    far = -(np.pi * np.sin(np.pi * safe) + 2 * sinc_slope(safe)) / safe
    square = x * x
    near = -(np.pi**2) / 3 + square * (
        np.pi**4 / 10 - square * (np.pi**6 / 168 - square * np.pi**8 / 6480)
    )
    curvature = np.where(small, near, far)
    return curvature[()] if curvature.ndim == 0 else curvature


def hypot_bars(y_bar, y, coordinates):
    """Adjoints of y = math.hypot(*xs): x̄ᵢ = ȳ xᵢ / y (0 at y = 0, where every xᵢ is 0 and the
    one-sided derivatives disagree: the convention of ``abs`` at 0 is sign(0) = 0)."""
    scale = y_bar / y if y != 0 else 0.0
    return tuple(scale * x for x in coordinates)


def differentiable_hypot(y):
    """y = math.hypot(*xs) where its gradient xᵢ / y has a derivative: refused at y = 0, where
    the gradient (0 by convention there) jumps."""
    if y == 0:
        raise NoDerivativeError("math.hypot has no second derivative where it is 0")
    return y


def hypot_dot(y, coordinates, coordinates_dot):
    """Tangent of y = math.hypot(*xs): ẏ = Σᵢ xᵢ ẋᵢ / y (0 at y = 0, where ``hypot_bars``
    takes the same convention)."""
    if y == 0:
        return 0.0
    return sum(x * x_dot for x, x_dot in zip(coordinates, coordinates_dot, strict=True)) / y


def chosen_bars(y_bar, y, arguments):
    """Adjoints of y = max(*arguments) or min(*arguments) (Python's builtins): ȳ goes to the
    elements equal to the result, split evenly among ties (as ``np.max``'s rule does). With a
    single argument, its elements are compared (``max(xs)``): its adjoint is an array for an
    array (whose elements are its rows), and a tuple of one adjoint per element for a list or
    tuple."""
    if len(arguments) != 1:
        return _shares(y_bar, y, arguments)
    items = arguments[0]
    if not isinstance(items, np.ndarray):
        return (_shares(y_bar, y, items),)
    items_bar = np.zeros(items.shape, dtype=np.result_type(items, y_bar, 1.0))
    winners = [bool(np.all(item == y)) for item in items]
    for position, won in enumerate(winners):
        if won:
            items_bar[position] = y_bar / sum(winners)
    return (items_bar,)


def _shares(y_bar, y, items):
    """One adjoint per element of ``items``, of which the elements equal to y share ȳ (an
    element is a number or, for max to have compared it, an array of one element)."""
    winners = [bool(np.all(np.asarray(item) == y)) for item in items]
    count = sum(winners)
    shares = []
    for item, won in zip(items, winners, strict=True):
        if isinstance(item, np.ndarray):
            share = np.reshape(y_bar / count, item.shape) if won else np.zeros(item.shape)
        else:
            share = y_bar / count if won else 0.0
        shares.append(share)
    return tuple(shares)


def chosen_dot(y, arguments, arguments_dot):
    """Tangent of y = max(*arguments) or min(*arguments) (Python's builtins): the tangent of
    the element equal to the result, the mean of those of the elements tied with it (as
    ``chosen_bars`` splits ȳ among them). With a single argument its elements are compared
    (``max(xs)``): an array's rows, a list's or tuple's elements."""
    items, items_dot = arguments, arguments_dot
    if len(arguments) == 1:
        items, items_dot = arguments[0], arguments_dot[0]
    if isinstance(items, np.ndarray):
        rows = np.reshape(items, (len(items), -1))
        winners = np.all(rows == np.reshape(y, (1, -1)), axis=1)
        return np.mean(np.asarray(items_dot)[winners], axis=0)
    winners = [bool(np.all(np.asarray(item) == y)) for item in items]
    chosen = [item_dot for item_dot, won in zip(items_dot, winners, strict=True) if won]
    mean = sum(chosen) / len(chosen)
    return mean if np.shape(mean) == np.shape(y) else np.reshape(mean, np.shape(y))


def not_nan(a):
    """1 where ``a`` is a number, 0 where it is nan (the elements the nan-reductions skip)."""
    return np.logical_not(np.isnan(a))


def nan_count(a, axis=None):
    """How many elements each nan-reduction over ``axis`` read (at least 1, so that an
    all-nan slice, whose result is nan anyway, divides by 1), with the reduced axes kept."""
    return np.maximum(np.sum(not_nan(a), axis=axis, keepdims=True), 1)


def degrees_of_freedom(a, y, ddof):
    """n − ddof for var or std over n elements per result, as a float: nan where ddof ≥ n
    (NumPy's result is then inf or nan, with no derivative), never a ZeroDivisionError."""
    count = arrays.size(a) // max(arrays.size(y), 1) - ddof
    return float(count) if count > 0 else math.nan


def numbers_per_result(a, axis, keepdims):
    """How many numbers (not nan) each nan-reduction over ``axis`` read, shaped like its
    result (the reduced axes kept only where ``keepdims``)."""
    return np.sum(not_nan(a), axis=axis, keepdims=keepdims)


def nan_degrees_of_freedom(a, axis, ddof):
    """n − ddof for nanvar or nanstd, n the numbers (not nan) in each slice, with the reduced
    axes kept: nan where ddof ≥ n (NumPy's result is then nan, with no derivative)."""
    count = np.sum(not_nan(a), axis=axis, keepdims=True) - ddof
    return np.where(count > 0, count, np.nan)


def _moved_to_end(a, axis):
    """``a`` with the reduced ``axis`` (None: all) moved last and flattened into one, the
    permutation used, and the shape before the flattening."""
    a = np.asarray(a)
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        axes = tuple(int(k) % a.ndim for k in axes) if a.ndim else ()
    kept = [k for k in range(a.ndim) if k not in axes]
    order = kept + list(axes)
    moved = np.transpose(a, order)
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    return flat, order, moved.shape


def _moved_back(flat, order, moved_shape):
    return np.transpose(flat.reshape(moved_shape), np.argsort(order))


def quantile_bar(y_bar, a, q, axis=None, keepdims=False, method="linear"):
    """Adjoint of y = quantile(a, q, axis) (q in [0, 1], a number or an array): each result
    interpolates two neighbouring order statistics, s_lo and s_hi, with weights 1 − f and f;
    ā gets ȳ (1 − f) at the elements equal to s_lo and ȳ f at those equal to s_hi, each split
    evenly among the elements equal to it (ties share, as for ``np.max``: the quantile 1 has
    the max's gradient). The weights are NumPy's own: those ``method`` gives the positions
    0, 1, ..., n − 1, whose quantile is the interpolated position itself."""
    a = np.asarray(a)
    result_dtype = np.result_type(y_bar, a, 1.0)
    if a.size == 0:
        return np.zeros(a.shape, dtype=result_dtype)
    flat, order, moved_shape = _moved_to_end(a, axis)
    n = flat.shape[-1]
    lower, upper, fraction = _interpolated_positions(n, q, method)
    q_shape = np.shape(q)
    kept_shape = flat.shape[:-1]
    # ȳ as (kept axes, q's axes): the q axes lead in NumPy's result
    g = np.reshape(y_bar, q_shape + kept_shape)
    g = np.moveaxis(g, tuple(range(len(q_shape))), tuple(range(-len(q_shape), 0)))
    ordered = np.sort(flat, axis=-1)
    a_bar = np.zeros(flat.shape, dtype=result_dtype)
    for index, weight in ((lower, 1 - fraction), (upper, fraction)):
        chosen = ordered[..., index]  # (kept axes, q's axes)
        ties = flat.reshape(kept_shape + (1,) * len(q_shape) + (n,)) == chosen[..., None]
        share = (g * weight / np.sum(ties, axis=-1))[..., None] * ties
        a_bar += share.reshape(kept_shape + (-1, n)).sum(axis=-2)
    a_bar = _moved_back(a_bar, order, moved_shape)
    return a_bar


class _Choice(NamedTuple):
    lower: np.ndarray  # the lower order statistic's place among a slice's sorted numbers
    upper: np.ndarray  # the upper one's
    fraction: np.ndarray  # the weight of the upper one
    empty: np.ndarray  # where a slice holds no number (its result is nan)
    ordered: np.ndarray  # each slice sorted, nan last


def _nan_order_statistics(flat, q, method) -> _Choice:
    """Which two order statistics the nanquantile ``q`` of each slice of ``flat`` (reduced
    axis last) interpolates, as (kept axes, q's axes): a slice of n numbers interpolates the
    order statistics of those n, at the position ``method`` gives 0, 1, ..., n − 1 (n differs
    from slice to slice: the positions are the nanquantile of 0, ..., n − 1 padded with nan)."""
    n = flat.shape[-1]
    kept_shape = flat.shape[:-1]
    q_axes = len(np.shape(q))
    count = np.sum(not_nan(flat), axis=-1)
    places = np.arange(n)
    padded = np.where(places < count[..., None], places, np.nan)
    with warnings.catch_warnings():  # the slices of nan alone: their position is nan
        warnings.simplefilter("ignore", RuntimeWarning)
        position = np.nanquantile(padded, q, axis=-1, method=method)
    position = np.moveaxis(position, tuple(range(q_axes)), tuple(range(-q_axes, 0)))
    empty = np.isnan(position)
    position = np.where(empty, 0.0, position)
    lower = np.floor(position).astype(int)
    last = np.maximum(count - 1, 0).reshape(kept_shape + (1,) * q_axes)
    upper = np.minimum(lower + 1, last)
    return _Choice(lower, upper, position - lower, empty, np.sort(flat, axis=-1))


def nanquantile_bar(y_bar, a, q, axis=None, keepdims=False, method="linear"):
    """Adjoint of y = nanquantile(a, q, axis): as ``quantile_bar``, over the numbers of each
    slice alone (nan is skipped, and gets nothing). A slice of n numbers interpolates the order
    statistics of those n, at the position ``method`` gives 0, 1, ..., n − 1 (n differs from
    slice to slice: the positions are the nanquantile of 0, ..., n − 1 padded with nan). A
    slice of nan alone has the result nan, whatever its elements: they get 0."""
    a = np.asarray(a)
    result_dtype = np.result_type(y_bar, a, 1.0)
    if a.size == 0:
        return np.zeros(a.shape, dtype=result_dtype)
    flat, order, moved_shape = _moved_to_end(a, axis)
    n = flat.shape[-1]
    kept_shape = flat.shape[:-1]
    q_shape = np.shape(q)
    q_axes = len(q_shape)
    choice = _nan_order_statistics(flat, q, method)
    # ȳ as (kept axes, q's axes): the q axes lead in NumPy's result
    g = np.reshape(y_bar, q_shape + kept_shape)
    g = np.moveaxis(g, tuple(range(q_axes)), tuple(range(-q_axes, 0)))
    g = np.where(choice.empty, 0.0, g)
    lower, upper, fraction, ordered = choice.lower, choice.upper, choice.fraction, choice.ordered
    a_bar = np.zeros(flat.shape, dtype=result_dtype)
    for index, weight in ((lower, 1 - fraction), (upper, fraction)):
        chosen = np.take_along_axis(ordered, index.reshape(kept_shape + (-1,)), axis=-1)
        chosen = chosen.reshape(index.shape)  # (kept axes, q's axes)
        ties = flat.reshape(kept_shape + (1,) * q_axes + (n,)) == chosen[..., None]
        share = (g * weight / np.maximum(np.sum(ties, axis=-1), 1))[..., None] * ties
        a_bar += share.reshape(kept_shape + (-1, n)).sum(axis=-2)
    return _moved_back(a_bar, order, moved_shape)


def _interpolated_positions(n, q, method):
    """For the quantile q (a number or an array) of n sorted elements, the positions of the
    two order statistics it interpolates, s_lo and s_hi, and the weight f of s_hi: NumPy's own,
    as ``method`` gives the quantile of the positions 0, 1, ..., n − 1, which is the
    interpolated position itself."""
    position = np.quantile(np.arange(n), q, method=method)
    lower = np.floor(position).astype(int)
    return lower, np.minimum(lower + 1, n - 1), position - lower


def quantile_dot(y, a, a_dot, q, axis=None, keepdims=False, method="linear"):
    """Tangent of y = quantile(a, q, axis) = (1 − f) s_lo + f s_hi (q a number or an array):
    ẏ = (1 − f) ṡ_lo + f ṡ_hi, where ṡ is the tangent of the element equal to s, the mean of
    those of the elements tied with it (as ``quantile_bar`` splits ȳ among them: the quantile 1
    has the max's tangent). Shaped like y: q's axes first, then a's kept axes."""
    a = np.asarray(a)
    if a.size == 0:  # no element moves y (quantile_bar's ā is empty too)
        return np.zeros(np.shape(y), dtype=np.result_type(a_dot, 1.0))
    flat, _, _ = _moved_to_end(a, axis)
    flat_dot, _, _ = _moved_to_end(np.broadcast_to(a_dot, a.shape), axis)
    n = flat.shape[-1]
    lower, upper, fraction = _interpolated_positions(n, q, method)
    q_shape = np.shape(q)
    # every slice against each of q's order statistics: (kept axes, q's axes, n)
    spread = flat.shape[:-1] + (1,) * len(q_shape) + (n,)
    values, tangents = flat.reshape(spread), flat_dot.reshape(spread)
    ordered = np.sort(flat, axis=-1)
    y_dot = 0.0
    for index, weight in ((lower, 1 - fraction), (upper, fraction)):
        ties = values == ordered[..., index][..., None]  # (kept axes, q's axes, n)
        y_dot = y_dot + weight * np.sum(ties * tangents, axis=-1) / np.sum(ties, axis=-1)
    # q's axes lead in NumPy's result
    y_dot = np.moveaxis(y_dot, tuple(range(-len(q_shape), 0)), tuple(range(len(q_shape))))
    return np.reshape(y_dot, np.shape(y))


def nanquantile_dot(y, a, a_dot, q, axis=None, keepdims=False, method="linear"):
    """Tangent of y = nanquantile(a, q, axis): as ``quantile_dot``, over the numbers of each
    slice alone (nan is skipped, its tangent too), at the positions ``nanquantile_bar`` uses;
    a slice of nan alone, whose result is nan whatever its elements, gets 0."""
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros(np.shape(y), dtype=np.result_type(a_dot, 1.0))
    flat, _, _ = _moved_to_end(a, axis)
    flat_dot, _, _ = _moved_to_end(np.broadcast_to(a_dot, a.shape), axis)
    n = flat.shape[-1]
    kept_shape = flat.shape[:-1]
    q_axes = len(np.shape(q))
    choice = _nan_order_statistics(flat, q, method)
    lower, upper, fraction, ordered = choice.lower, choice.upper, choice.fraction, choice.ordered
    empty = choice.empty
    spread = kept_shape + (1,) * q_axes + (n,)
    values = flat.reshape(spread)
    tangents = np.where(np.isnan(values), 0.0, flat_dot.reshape(spread))
    y_dot = 0.0
    for index, weight in ((lower, 1 - fraction), (upper, fraction)):
        chosen = np.take_along_axis(ordered, index.reshape(kept_shape + (-1,)), axis=-1)
        ties = values == chosen.reshape(index.shape)[..., None]
        y_dot = y_dot + weight * np.sum(ties * tangents, axis=-1) / np.maximum(
            np.sum(ties, axis=-1), 1
        )
    y_dot = np.where(empty, 0.0, y_dot)
    y_dot = np.moveaxis(y_dot, tuple(range(-q_axes, 0)), tuple(range(q_axes)))
    return np.reshape(y_dot, np.shape(y))


def refuse_quantile_gradient(q_derivative):
    """The adjoint of the quantile ``q`` itself, or its term in the tangent (given q̄ or q̇):
    refused (overbar differentiates a quantile with respect to the data only)."""
    raise OverbarError(
        "the derivative of a quantile, percentile or median with respect to q is not derived; "
        "differentiate with respect to the data only (pass q as a constant)"
    )


def ptp_bar(y_bar, a, axis=None, keepdims=False):
    """Adjoint of y = max − min over ``axis``: +ȳ at the maximal elements and −ȳ at the
    minimal ones, each split evenly among ties (0 where every element is equal)."""
    a = a if arrays.is_array(a) else np.asarray(a)
    g = expand_reduced(y_bar, a, axis, keepdims)
    highest = a == np.max(a, axis=axis, keepdims=True)
    lowest = a == np.min(a, axis=axis, keepdims=True)
    return g * (
        highest / np.sum(highest, axis=axis, keepdims=True)
        - lowest / np.sum(lowest, axis=axis, keepdims=True)
    )


def cumprod_bar(y_bar, a, axis=None):
    """Adjoint of y = cumprod(a, axis): āⱼ = Σ_{i ≥ j} ȳᵢ Π_{k ≤ i, k ≠ j} aₖ, without dividing
    by zero. Along each slice, with z the position of the first zero (n if none):
    āⱼ = Σ_{i ≥ j} ȳᵢ yᵢ / aⱼ for j < z (aⱼ ≠ 0 there, and yᵢ = 0 from z on);
    ā_z = Σ_{i ≥ z} ȳᵢ y′ᵢ, y′ the cumprod of a with its first zero replaced by 1;
    āⱼ = 0 for j > z (every product it enters holds a_z = 0)."""
    a = a if arrays.is_array(a) else np.asarray(a)
    if arrays.is_foreign_array(a) and not arrays.is_foreign_array(y_bar):
        y_bar = arrays.like(np.asarray(y_bar), a)  # broadcast in a's library, below
    shape = a.shape
    if axis is None or a.ndim == 0:  # NumPy takes a 0-d array along axis 0 as one element
        a, y_bar, axis = np.ravel(a), np.ravel(y_bar), 0
    g = np.moveaxis(np.broadcast_to(y_bar, a.shape), axis, 0)
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    if n == 0 or a.size == 0:
        return np.zeros(shape, dtype=np.result_type(y_bar, a, 1.0))
    zero = a == 0
    first_zero = np.where(zero.any(axis=0), zero.argmax(axis=0), n)
    position = arrays.like(np.arange(n).reshape((n,) + (1,) * (a.ndim - 1)), a)
    before = _reversed_cumsum(g * np.cumprod(a, axis=0)) / np.where(zero, 1, a)
    without_zero = np.cumprod(np.where(position == first_zero, 1, a), axis=0)
    at_zero = _reversed_cumsum(g * without_zero)
    a_bar = np.where(position < first_zero, before, np.where(position == first_zero, at_zero, 0.0))
    return np.reshape(np.moveaxis(a_bar, 0, axis), shape)


def cumprod_dot(a_dot, a, axis=None):
    """Tangent of y = cumprod(a, axis): ẏᵢ = Σ_{j ≤ i} ȧⱼ Π_{k ≤ i, k ≠ j} aₖ, without dividing
    by zero. Along each slice, with z the position of the first zero (n if none) and y′ the
    cumprod of a with that zero replaced by 1 (so y′ᵢ = yᵢ for i < z):
    ẏᵢ = y′ᵢ Σ_{j ≤ i} ȧⱼ / aⱼ for i < z (no aⱼ is 0 there);
    ẏᵢ = y′ᵢ ȧ_z for i ≥ z (every other term of the sum holds a_z = 0)."""
    a = np.asarray(a)
    if axis is None or a.ndim == 0:  # NumPy takes a 0-d array along axis 0 as one element
        a, a_dot, axis = np.ravel(a), np.ravel(a_dot), 0
    result_dtype = np.result_type(a_dot, a, 1.0)
    if a.size == 0:
        return np.zeros(a.shape, dtype=result_dtype)
    a_dot = np.moveaxis(np.broadcast_to(a_dot, a.shape), axis, 0)
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    zero = a == 0
    first_zero = np.where(zero.any(axis=0), zero.argmax(axis=0), n)
    position = np.arange(n).reshape((n,) + (1,) * (a.ndim - 1))
    without_zero = np.cumprod(np.where(position == first_zero, 1, a), axis=0)
    before = np.cumsum(a_dot / np.where(zero, 1, a), axis=0)
    at_zero = np.take_along_axis(a_dot, np.minimum(first_zero, n - 1)[None], axis=0)
    y_dot = without_zero * np.where(position < first_zero, before, at_zero)
    return np.moveaxis(y_dot, 0, axis)


def cumprod_bar_dot(y_bar, a, a_dot, axis=None):
    """The change of ā = cumprod_bar(ȳ, a) as a moves by ȧ (ȳ fixed), without dividing by zero:
    āⱼ = Σ_{i ≥ j} ȳᵢ Π_{k ≤ i, k ≠ j} aₖ, and Π_{k ≤ i, k ≠ j} aₖ is the cumprod of a with aⱼ
    replaced by 1, so  ǡⱼ = Σ_{i ≥ j} ȳᵢ [cumprod_dot(ȧ with ȧⱼ = 0, a with aⱼ = 1)]ᵢ, one such
    cumprod per j (n² products along each slice of n elements)."""
    a = np.asarray(a)
    shape = a.shape
    result_dtype = np.result_type(y_bar, a, a_dot, 1.0)
    if a.size == 0:
        return np.zeros(shape, dtype=result_dtype)
    if axis is None or a.ndim == 0:  # NumPy takes a 0-d array along axis 0 as one element
        a, y_bar, a_dot, axis = np.ravel(a), np.ravel(y_bar), np.ravel(a_dot), 0
    g = np.moveaxis(np.broadcast_to(y_bar, a.shape), axis, 0)
    a_dot = np.moveaxis(np.broadcast_to(a_dot, a.shape), axis, 0)
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    own = np.eye(n, dtype=bool).reshape((n, n) + (1,) * (a.ndim - 1))  # [j, i]: i = j
    others = cumprod_dot(np.where(own, 0.0, a_dot), np.where(own, 1.0, a), axis=1)
    later = np.triu(np.ones((n, n))).reshape(own.shape)  # [j, i]: i ≥ j
    a_bar_dot = np.sum(later * g * others, axis=1)
    return np.reshape(np.moveaxis(a_bar_dot, 0, axis), shape).astype(result_dtype, copy=False)


def prod_bar_dot(y_bar, x, x_dot, axis=None, keepdims=False):
    """The change of x̄ = prod_bar(ȳ, x) as x moves by ẋ (ȳ fixed), without dividing by zero:
    x̄ⱼ = ȳ Pⱼ Sⱼ with Pⱼ = Π_{k < j} xₖ and Sⱼ = Π_{k > j} xₖ along the reduced elements, so
    ǡⱼ = ȳ (Ṗⱼ Sⱼ + Pⱼ Ṡⱼ), Ṗ and Ṡ the tangents of those running products (``cumprod_dot``)."""
    x = np.asarray(x)
    x_dot = np.broadcast_to(x_dot, x.shape)
    axes = _normalize_axes(axis, x.ndim)
    kept = [k for k in range(x.ndim) if k not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    flat_dot = np.transpose(x_dot, kept + list(axes)).reshape(flat.shape)
    ones = np.ones(flat.shape[:-1] + (1,))
    zeros = np.zeros(flat.shape[:-1] + (1,))
    before = np.concatenate([ones, flat[..., :-1]], axis=-1)
    before_dot = np.concatenate([zeros, flat_dot[..., :-1]], axis=-1)
    after = np.concatenate([ones, flat[..., :0:-1]], axis=-1)
    after_dot = np.concatenate([zeros, flat_dot[..., :0:-1]], axis=-1)
    prefix, prefix_dot = np.cumprod(before, axis=-1), cumprod_dot(before_dot, before, axis=-1)
    suffix = np.cumprod(after, axis=-1)[..., ::-1]
    suffix_dot = cumprod_dot(after_dot, after, axis=-1)[..., ::-1]
    others_dot = (prefix_dot * suffix + prefix * suffix_dot).reshape(moved.shape)
    others_dot = np.transpose(others_dot, np.argsort(kept + list(axes)).tolist())
    return expand_reduced(y_bar, x, axis, keepdims) * others_dot


def _reversed_cumsum(x):
    """Σ_{i ≥ j} xᵢ along the first axis."""
    return np.cumsum(x[::-1], axis=0)[::-1]


def average_bars(y_bar, y, a, axis, weights, keepdims):
    """Adjoints of y = Σ w a / Σ w over ``axis`` (np.average with weights): ā = ȳ w / Σ w,
    w̄ = ȳ (a − y) / Σ w, each broadcast back over the averaged axes. Weights shaped like a's
    averaged axes (1-d along one axis, or along the axes of a tuple in its order) are laid
    along them, as NumPy does, and their adjoint is summed back to their shape."""
    a = np.asarray(a)
    w = _laid_along(np.asarray(weights), a, axis)
    total = np.sum(np.broadcast_to(w, a.shape), axis=axis, keepdims=True)
    g = expand_reduced(y_bar, a, axis, keepdims)
    y_full = expand_reduced(y, a, axis, keepdims)
    a_bar = g * w / total
    w_bar = g * (a - y_full) / total
    return a_bar, _summed_to_weights(w_bar, a, axis, weights)


def _summed_to_weights(w_bar, a, axis, weights):
    """An adjoint of the weights laid along a (``_laid_along``) summed back to their shape."""
    if np.shape(weights) == a.shape:
        return w_bar
    axes = _averaged_axes(axis, a.ndim, np.shape(weights), a.shape)
    summed = np.sum(w_bar, axis=tuple(k for k in range(a.ndim) if k not in axes))
    return np.transpose(summed, np.argsort(np.argsort(axes)))


def average_bars_dot(y_bar, y, a, axis, weights, keepdims, weights_dot):
    """The change of (ā, w̄) = average_bars(ȳ, y, a, ..., w) as the weights move by ẇ (ȳ, y
    and a fixed), S = Σ w over the averaged axes:  ā = ȳ w / S moves by ȳ ẇ / S − ȳ w Ṡ / S²,
    w̄ = ȳ (a − y) / S by −ȳ (a − y) Ṡ / S² (summed back to the weights' shape)."""
    a = np.asarray(a)
    w = _laid_along(np.asarray(weights), a, axis)
    w_dot = _laid_along(np.asarray(weights_dot), a, axis)
    total = np.sum(np.broadcast_to(w, a.shape), axis=axis, keepdims=True)
    total_dot = np.sum(np.broadcast_to(w_dot, a.shape), axis=axis, keepdims=True)
    g = expand_reduced(y_bar, a, axis, keepdims)
    y_full = expand_reduced(y, a, axis, keepdims)
    a_bar_dot = g * w_dot / total - g * w * total_dot / total**2
    w_bar_dot = -g * (a - y_full) * total_dot / total**2
    return a_bar_dot, _summed_to_weights(w_bar_dot, a, axis, weights)


def average_weights_dot(weights_dot, y, a, axis, weights, keepdims):
    """The term of the weights' tangent in the tangent of y = Σ w a / Σ w over ``axis``
    (np.average with weights): Σ ẇ (a − y) / Σ w, the weights and their tangent laid along
    a's averaged axes as NumPy lays weights of another shape than a's."""
    a = np.asarray(a)
    w = _laid_along(np.asarray(weights), a, axis)
    w_dot = _laid_along(np.asarray(weights_dot), a, axis)
    total = np.sum(np.broadcast_to(w, a.shape), axis=axis, keepdims=True)
    y_full = expand_reduced(y, a, axis, keepdims)
    return np.sum(w_dot * (a - y_full) / total, axis=axis, keepdims=keepdims)


def _laid_along(w, a, axis):
    """Weights ``w`` of np.average, shaped to broadcast against ``a``: as they are if shaped
    like a, else laid along a's averaged axes (1-d along one axis, or along the axes of a
    tuple in its order), with length 1 on the others."""
    if w.shape == a.shape:
        return w
    axes = _averaged_axes(axis, a.ndim, w.shape, a.shape)
    order = np.argsort(axes)  # w's dimensions, in increasing order of a's axes
    laid = [a.shape[k] if k in axes else 1 for k in range(a.ndim)]
    return np.reshape(np.transpose(w, order), laid)


def _averaged_axes(axis, ndim, weights_shape, shape):
    """The axes of ``a`` that weights of another shape than ``a``'s lie along, in ``axis``'s
    order (refused where they do not fit, as NumPy refuses them)."""
    axes = None
    if axis is not None:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        axes = tuple(int(k) % ndim for k in axes)
    if axes is None or weights_shape != tuple(shape[k] for k in axes):
        raise OverbarError(
            f"np.average: weights of shape {weights_shape} do not fit a of shape {shape} "
            f"along axis={axis!r}"
        )
    return axes


def sorted_order(iterable, key=None, reverse=False):
    """The positions of ``iterable``'s elements in the order ``sorted(iterable, key=key,
    reverse=reverse)`` puts them: sorting the positions by the same keys gives the same
    permutation, ties kept in their order as sorted keeps them (it is stable either way)."""
    items = list(iterable)
    if key is None:
        return sorted(range(len(items)), key=items.__getitem__, reverse=reverse)
    return sorted(range(len(items)), key=lambda i: key(items[i]), reverse=reverse)


def sorted_bar(y_bar, iterable, key=None, reverse=False):
    """Adjoint of y = sorted(xs): x̄s[σ(j)] = ȳ[j] for the order σ sorted takes xs in, as a
    tuple for a tuple or list xs (an element's runtime zero stays one) and stacked into an
    array for an array, whose elements are its rows."""
    if type(y_bar) is float and y_bar == 0.0:
        return zero_gradient(iterable) if isinstance(iterable, np.ndarray) else y_bar
    parts = [0.0] * len(iterable)
    for place, position in enumerate(sorted_order(iterable, key, reverse)):
        parts[position] = y_bar[place]
    return sequence_bar(tuple(parts), iterable)


def sorted_dot(iterable_dot, iterable, key=None, reverse=False):
    """Tangent of y = sorted(xs): ẏ[j] = ẋs[σ(j)], a list as sorted's result is."""
    return [iterable_dot[position] for position in sorted_order(iterable, key, reverse)]


def sequence_bar(y_bar, iterable):
    """Adjoint of y = tuple(xs) or list(xs): ȳ's elements, as a tuple for a tuple or list xs
    (the runtime zero 0.0 stays as it is) and stacked into an array shaped like xs for an
    array, whose elements are its rows."""
    if type(y_bar) is float and y_bar == 0.0:
        return zero_gradient(iterable) if isinstance(iterable, np.ndarray) else y_bar
    if isinstance(iterable, np.ndarray):
        x_bar = np.zeros(iterable.shape, dtype=np.result_type(iterable, 1.0))
        for position, part in enumerate(y_bar):
            x_bar[position] += part
        return x_bar
    return tuple(y_bar)


def sequence_bar_bar(a_bar, y_bar, iterable):
    """Adjoint of a = sequence_bar(ȳ, xs) with respect to ȳ: for a tuple or list xs, ā's
    elements (a = ȳ's, as a tuple); for an array xs, ā's rows, each summed down to the shape
    of ȳ's element it was added from; in ȳ's kind (an array for a ȳ of stacked elements). ȳ
    the runtime zero (a constant) gets nothing, and so does an element where ā's is the
    runtime zero."""
    if type(a_bar) is float and a_bar == 0.0 or type(y_bar) is float and y_bar == 0.0:
        return 0.0
    if isinstance(iterable, np.ndarray):
        parts = [unbroadcast(a_bar[position], part) for position, part in enumerate(y_bar)]
    else:
        parts = list(a_bar)
    return stacked_like(parts, y_bar)


def astype_bar(y_bar, x, dtype):
    """Adjoint of y = x.astype(dtype): ȳ cast back to x's dtype when dtype is a real floating
    one (y = x, rounded); zeros for an integer or boolean dtype (y is piecewise constant in
    x); a complex dtype is refused (overbar differentiates real numbers only)."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        raise OverbarError(
            f".astype({np.dtype(dtype)}): a complex dtype; overbar differentiates real numbers "
            "only; keep complex values out of the differentiated part of the function"
        )
    if kind != "f":
        return zero_gradient(x)
    return np.asarray(y_bar).astype(np.result_type(x, 1.0), copy=False)[()]


def array_bar(y_bar, a, dtype):
    """Adjoint of y = np.array(a, dtype) (or ``np.asarray``): ȳ itself when no dtype is given;
    for a dtype, as ``astype_bar`` (ȳ back in ``a``'s floating dtype, zeros for an integer or
    boolean one, a complex one refused), a list's elements taking ȳ's rows."""
    if dtype is None:
        return y_bar
    if isinstance(a, list | tuple):
        return astype_bar(y_bar, y_bar, dtype)
    return astype_bar(y_bar, a, dtype)


def array_dot(a_dot, y, dtype):
    """Tangent of y = np.array(ȧ, dtype) (or ``np.asarray``): a new array of ȧ, in ``dtype``
    as ``astype_dot`` makes it where one is given."""
    if dtype is None:
        return np.array(a_dot)
    return astype_dot(np.array(a_dot), y, dtype)


def astype_dot(x_dot, y, dtype):
    """Tangent of y = x.astype(dtype): ẋ in y's dtype when dtype is a real floating one; zeros
    shaped like y for an integer or boolean dtype; a complex dtype refused (as ``astype_bar``)."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        astype_bar(x_dot, x_dot, dtype)  # raises, with the adjoint's message
    if kind != "f":
        return np.zeros(np.shape(y))
    return np.asarray(x_dot).astype(np.dtype(dtype), copy=False)[()]


def select_default_dot(condlist, default_dot, y):
    """The default's term in the tangent of y = select(conditions, choices, default): ḋefault
    where no condition holds, 0 elsewhere, shaped like y."""
    chosen = np.select(condlist, [0.0] * len(condlist), default_dot)
    return np.broadcast_to(chosen, np.shape(y)).copy()


def select_bars(y_bar, y, condlist, choicelist, default):
    """Adjoints of y = select(conditions, choices, default): choice i takes ȳ where condition i
    is the first true one, the default ȳ where none is (each summed down to its own shape).
    The choices' adjoints are a tuple for a list or tuple of choices, an array for an array."""
    y_bar = np.broadcast_to(y_bar, np.shape(y))
    taken = np.zeros(np.shape(y), dtype=bool)
    choice_bars = []
    for condition, choice in zip(condlist, choicelist, strict=True):
        first = np.logical_and(condition, np.logical_not(taken))
        choice_bars.append(unbroadcast(np.where(first, y_bar, 0.0), choice))
        taken = np.logical_or(taken, condition)
    default_bar = unbroadcast(np.where(taken, 0.0, y_bar), default)
    if isinstance(choicelist, np.ndarray):
        return np.stack(choice_bars), default_bar
    return tuple(choice_bars), default_bar


def polynomial_slope(p):
    """The coefficients of p′ for the polynomial p (coefficients along p's first axis, highest
    power first, as ``np.polyval`` reads them): (n − 1 − k) pₖ for k < n − 1; a zero for n = 1."""
    p = np.asarray(p)
    n = p.shape[0]
    if n <= 1:
        return np.zeros((1,) + p.shape[1:], dtype=np.result_type(p, 1.0))
    powers = np.arange(n - 1, 0, -1).reshape((-1,) + (1,) * (p.ndim - 1))
    return p[:-1] * powers


def polyval_bars(y_bar, p, x):
    """Adjoints of y = polyval(p, x) = Σₖ pₖ x^(n−1−k) (each pₖ broadcast against x):
    p̄ₖ = ȳ x^(n−1−k) summed to pₖ's shape (by Horner's rule run backwards: n passes, no array
    of powers), x̄ = ȳ p′(x) summed to x's shape."""
    p = np.asarray(p)
    n = p.shape[0]
    p_bar = np.zeros(p.shape, dtype=np.result_type(p, y_bar, x, 1.0))
    scaled = y_bar
    for k in range(n - 1, -1, -1):
        p_bar[k] = unbroadcast(scaled, p[k])
        if k:
            scaled = scaled * x
    return p_bar, unbroadcast(y_bar * np.polyval(polynomial_slope(p), x), x)


def polyval_bars_dot(y_bar, p, x, x_dot):
    """The change of polyval_bars(ȳ, p, x) as x moves along ẋ (ȳ and p fixed): p̄ₖ changes by
    ȳ ẋ (n−1−k) x^(n−2−k) (the adjoints of p′'s coefficients at ȳ ẋ, shifted one place), x̄
    by ȳ ẋ p″(x)."""
    p = np.asarray(p)
    moved = y_bar * x_dot
    slope_bars, _ = polyval_bars(moved, polynomial_slope(p), x)
    p_bar_dot = np.zeros(p.shape, dtype=np.result_type(p, moved, x, 1.0))
    n = p.shape[0]
    if n > 1:
        powers = np.arange(n - 1, 0, -1).reshape((-1,) + (1,) * (p.ndim - 1))
        p_bar_dot[:-1] = slope_bars[: n - 1] * powers
    curvature = np.polyval(polynomial_slope(polynomial_slope(p)), x)
    return p_bar_dot, unbroadcast(moved * curvature, x)


def without_initial(y_bar, axis=None, include_initial=False):
    """The adjoint of np.cumulative_sum's (or _prod's) running values: ȳ without the initial
    element (0 or 1, which no input moves) that ``include_initial`` puts first along the axis
    (axis None: the only one)."""
    if not include_initial:
        return y_bar
    index = [slice(None)] * np.ndim(y_bar)
    index[0 if axis is None else axis] = slice(1, None)
    return y_bar[tuple(index)]


def with_initial_zero(t, axis=None, include_initial=False):
    """The tangent of a cumulative sum or product with ``include_initial``: the tangent of the
    running values with a 0 first along the axis (the initial element does not move)."""
    if not include_initial:
        return t
    pad = [(0, 0)] * np.ndim(t)
    pad[0 if axis is None else axis] = (1, 0)
    return np.pad(t, pad)
