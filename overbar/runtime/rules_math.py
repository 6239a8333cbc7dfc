"""Adjoint rules for more elementwise functions, reductions and Python's builtins on numbers,
each followed by its tangent rule (forward mode).

Written like ``rules.py``: the docstring states the math in bar notation and the body mirrors
it; the compiler inlines the body into the generated code. Where a function has kinks or ties
(max, median, remainder's jumps), the docstring states which one-sided value the rule takes.
Calls a rule does not handle are refused by its ``where`` conditions (the transformation then
says which arguments the rule supports) or by a helper at run time: among them ``out=`` and
``overwrite_input=True`` (which reorders the input the reverse sweep reads).
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from overbar.primitives import Attribute, Method
from overbar.runtime import rules
from overbar.runtime.helpers import (
    add_elementwise,
    broadcast_tangent,
    cumsum_bar,
    expand_reduced,
    extremum_bar,
    prod_bar,
    reduced_count,
    unbroadcast,
    zero_gradient,
    zero_tangent,
)
from overbar.runtime.helpers_math import (
    astype_bar,
    astype_dot,
    average_bars,
    average_weights_dot,
    chosen_bars,
    chosen_dot,
    cumprod_bar,
    cumprod_dot,
    digamma,
    hypot_bars,
    hypot_dot,
    nan_count,
    nan_degrees_of_freedom,
    nanquantile_bar,
    nanquantile_dot,
    not_nan,
    numbers_per_result,
    of_real,
    polynomial_slope,
    polyval_bars,
    ptp_bar,
    quantile_bar,
    quantile_dot,
    refuse_quantile_gradient,
    select_bars,
    select_default_dot,
    sequence_bar,
    sinc_slope,
    sorted_bar,
    sorted_dot,
    with_initial_zero,
    without_initial,
)
from overbar.runtime.registry import adjoint, non_differentiable, tangent

# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------


@adjoint(operator.mod, np.remainder, np.fmod, math.fmod, math.remainder)
def remainder(z, x, y, z_bar):
    """z = x − q y, q the integer quotient (floored for % and np.remainder, truncated for fmod,
    nearest for math.remainder):  x̄ = z̄,  ȳ = −z̄ q  (at a jump, x = k y, the side q took)"""
    quotient = np.round((x - z) / y)
    return unbroadcast(z_bar, x), unbroadcast(-z_bar * quotient, y)


@tangent(operator.mod, np.remainder, np.fmod, math.fmod, math.remainder)
def remainder_tangent(z, x, y, x_dot, y_dot):
    """z = x − q y, q the integer quotient:  ż = ẋ − q ẏ  (at a jump, the side q took)"""
    quotient = np.round((x - z) / y)
    return broadcast_tangent(x_dot, z), -y_dot * quotient


@adjoint(np.fabs)
def fabs(y, x, y_bar):
    """y = |x|:  x̄ = ȳ sign(x)  (0 at x = 0)"""
    return y_bar * np.sign(x)


@tangent(np.fabs)
def fabs_tangent(y, x, x_dot):
    """y = |x|:  ẏ = ẋ sign(x)  (0 at x = 0)"""
    return x_dot * np.sign(x)


@adjoint(np.sinc)
def sinc(y, x, y_bar):
    """y = sin(πx) / (πx):  x̄ = ȳ (cos(πx) − y) / x  (0 at x = 0, a series near it)"""
    return y_bar * sinc_slope(x)


@tangent(np.sinc)
def sinc_tangent(y, x, x_dot):
    """y = sin(πx) / (πx):  ẏ = ẋ (cos(πx) − y) / x  (0 at x = 0, a series near it)"""
    return x_dot * sinc_slope(x)


@adjoint(np.logaddexp2)
def logaddexp2(z, x, y, z_bar):
    """z = log₂(2ˣ + 2ʸ):  x̄ = z̄ 2ˣ⁻ᶻ,  ȳ = z̄ 2ʸ⁻ᶻ"""
    return unbroadcast(z_bar * np.exp2(x - z), x), unbroadcast(z_bar * np.exp2(y - z), y)


@tangent(np.logaddexp2)
def logaddexp2_tangent(z, x, y, x_dot, y_dot):
    """z = log₂(2ˣ + 2ʸ):  ż = ẋ 2ˣ⁻ᶻ + ẏ 2ʸ⁻ᶻ"""
    return x_dot * np.exp2(x - z), y_dot * np.exp2(y - z)


@adjoint(np.real)
def real(y, val, y_bar):
    """y = Re x of a real x (y = x):  x̄ = ȳ  (complex x refused)"""
    return of_real(y_bar, val, "np.real")


@tangent(np.real)
def real_tangent(y, val, val_dot):
    """y = Re x of a real x (y = x):  ẏ = ẋ  (complex x refused)"""
    return of_real(val_dot, val, "np.real")


@adjoint(Attribute("real"))
def real_attribute(y, a, y_bar):
    """y = a.real of a real a (y = a):  ā = ȳ  (complex a refused)"""
    return of_real(y_bar, a, "the attribute .real")


@tangent(Attribute("real"))
def real_attribute_tangent(y, a, a_dot):
    """y = a.real of a real a (y = a):  ẏ = ȧ  (complex a refused)"""
    return of_real(a_dot, a, "the attribute .real")


@adjoint(np.imag)
def imag(y, val, y_bar):
    """y = Im x of a real x (y = 0):  x̄ = 0  (complex x refused)"""
    return of_real(zero_gradient(val), val, "np.imag")


@tangent(np.imag)
def imag_tangent(y, val, val_dot):
    """y = Im x of a real x (y = 0):  ẏ = 0  (complex x refused)"""
    return of_real(zero_gradient(val), val, "np.imag")


@adjoint(Attribute("imag"))
def imag_attribute(y, a, y_bar):
    """y = a.imag of a real a (y = 0):  ā = 0  (complex a refused)"""
    return of_real(zero_gradient(a), a, "the attribute .imag")


@tangent(Attribute("imag"))
def imag_attribute_tangent(y, a, a_dot):
    """y = a.imag of a real a (y = 0):  ẏ = 0  (complex a refused)"""
    return of_real(zero_gradient(a), a, "the attribute .imag")


@adjoint(np.conjugate, Method("conj"), Method("conjugate"))
def conjugate(y, x, y_bar):
    """y = x̅ of a real x (y = x):  x̄ = ȳ  (complex x refused)"""
    return of_real(y_bar, x, "np.conj")


@tangent(np.conjugate, Method("conj"), Method("conjugate"))
def conjugate_tangent(y, x, x_dot):
    """y = x̅ of a real x (y = x):  ẏ = ẋ  (complex x refused)"""
    return of_real(x_dot, x, "np.conj")


@adjoint(np.angle)
def angle(y, z, deg=False, *, y_bar):
    """y = arg z of a real z (0 or π, piecewise constant):  z̄ = 0  (complex z refused)"""
    return of_real(zero_gradient(z), z, "np.angle")


@tangent(np.angle)
def angle_tangent(y, z, deg=False, *, z_dot):
    """y = arg z of a real z (0 or π, piecewise constant):  ẏ = 0  (complex z refused)"""
    return of_real(zero_gradient(z), z, "np.angle")


@adjoint(np.real_if_close)
def real_if_close(y, a, tol=100, *, y_bar):
    """y = a of a real a (y = a):  ā = ȳ  (complex a refused)"""
    return of_real(y_bar, a, "np.real_if_close")


@tangent(np.real_if_close)
def real_if_close_tangent(y, a, tol=100, *, a_dot):
    """y = a of a real a:  ẏ = ȧ  (complex a refused)"""
    return of_real(a_dot, a, "np.real_if_close")


@adjoint(Method("astype"))
def astype(y, x, dtype, order="K", casting="unsafe", subok=True, copy=True, *, y_bar):
    """y = x.astype(dtype): for a floating dtype y = x (rounded),  x̄ = ȳ cast back to x's dtype;
    for an integer or boolean dtype y is piecewise constant,  x̄ = 0  (complex dtype refused)"""
    return astype_bar(y_bar, x, dtype)


@tangent(Method("astype"))
def astype_tangent(y, x, dtype, order="K", casting="unsafe", subok=True, copy=True, *, x_dot):
    """y = x.astype(dtype): for a floating dtype  ẏ = ẋ in that dtype; for an integer or
    boolean dtype  ẏ = 0  (complex dtype refused)"""
    return astype_dot(x_dot, y, dtype)


@adjoint(np.float64, np.float32)
def to_numpy_float(y, x, y_bar):
    """y = x as a NumPy float (np.float64(x), np.float32(x): an array stays an array):
    x̄ = ȳ back in x's dtype"""
    return astype_bar(y_bar, x, y.dtype)


@tangent(np.float64, np.float32)
def to_numpy_float_tangent(y, x, x_dot):
    """y = x as a NumPy float:  ẏ = ẋ in y's dtype"""
    return astype_dot(x_dot, y, y.dtype)


@adjoint(np.select)
def select(y, condlist, choicelist, default=0, *, y_bar):
    """y = choiceᵢ where conditionᵢ is the first true one, default where none is:
    c̄hoiceᵢ = ȳ where conditionᵢ is the first true one,  d̄efault = ȳ where none is"""
    choicelist_bar, default_bar = select_bars(y_bar, y, condlist, choicelist, default)
    return None, choicelist_bar, default_bar


@tangent(np.select)
def select_tangent(y, condlist, choicelist, default=0, *, choicelist_dot, default_dot):
    """y = select(conditions, choices, default):  ẏ = ċhoiceᵢ where conditionᵢ is the first
    true one, ḋefault where none is"""
    choices_term = np.select(condlist, choicelist_dot, 0.0) + np.zeros(np.shape(y))
    return choices_term, select_default_dot(condlist, default_dot, y)


@adjoint(np.nan_to_num, where={"copy": True})
def nan_to_num(y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, y_bar):
    """y = x where x is finite, nan, posinf, neginf in place of nan, +∞, −∞:  x̄ = ȳ where x is
    finite;  n̄an = Σ ȳ where x is nan;  p̄osinf, n̄eginf likewise"""
    x_bar = y_bar * np.isfinite(x)
    nan_bar = np.sum(y_bar * np.isnan(x))
    posinf_bar = np.sum(y_bar * np.isposinf(x))
    neginf_bar = np.sum(y_bar * np.isneginf(x))
    return x_bar, None, nan_bar, posinf_bar, neginf_bar


@tangent(np.nan_to_num, where={"copy": True})
def nan_to_num_tangent(
    y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, x_dot, nan_dot, posinf_dot, neginf_dot
):
    """y = x where x is finite, nan, posinf, neginf in place of nan, +∞, −∞:  ẏ = ẋ where x is
    finite (ẋ elsewhere is not read: it may be nan or ∞ there), ṅan where x is nan, ṗosinf
    where x is +∞, ṅeginf where x is −∞"""
    x_term = np.where(np.isfinite(x), x_dot, 0.0)
    nan_term = nan_dot * np.isnan(x)
    posinf_term = posinf_dot * np.isposinf(x)
    neginf_term = neginf_dot * np.isneginf(x)
    return x_term, nan_term, posinf_term, neginf_term


@adjoint(math.erf)
def erf(y, x, y_bar):
    """y = erf(x):  x̄ = ȳ 2 e^(−x²) / √π"""
    return y_bar * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@tangent(math.erf)
def erf_tangent(y, x, x_dot):
    """y = erf(x):  ẏ = ẋ 2 e^(−x²) / √π"""
    return x_dot * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.erfc)
def erfc(y, x, y_bar):
    """y = erfc(x) = 1 − erf(x):  x̄ = −ȳ 2 e^(−x²) / √π"""
    return -y_bar * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@tangent(math.erfc)
def erfc_tangent(y, x, x_dot):
    """y = erfc(x) = 1 − erf(x):  ẏ = −ẋ 2 e^(−x²) / √π"""
    return -x_dot * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.gamma)
def gamma(y, x, y_bar):
    """y = Γ(x):  x̄ = ȳ y ψ(x)  (ψ the digamma function Γ′ / Γ)"""
    return y_bar * y * digamma(x)


@tangent(math.gamma)
def gamma_tangent(y, x, x_dot):
    """y = Γ(x):  ẏ = ẋ y ψ(x)  (ψ the digamma function Γ′ / Γ)"""
    return x_dot * y * digamma(x)


@adjoint(math.lgamma)
def lgamma(y, x, y_bar):
    """y = log |Γ(x)|:  x̄ = ȳ ψ(x)"""
    return y_bar * digamma(x)


@tangent(math.lgamma)
def lgamma_tangent(y, x, x_dot):
    """y = log |Γ(x)|:  ẏ = ẋ ψ(x)"""
    return x_dot * digamma(x)


@adjoint(math.hypot)
def hypot(y, *coordinates, y_bar):
    """y = √(Σ xᵢ²):  x̄ᵢ = ȳ xᵢ / y  (0 at y = 0)"""
    return hypot_bars(y_bar, y, coordinates)


@tangent(math.hypot)
def hypot_tangent(y, *coordinates, coordinates_dot):
    """y = √(Σ xᵢ²):  ẏ = Σᵢ xᵢ ẋᵢ / y  (0 at y = 0)"""
    return hypot_dot(y, coordinates, coordinates_dot)


# ---------------------------------------------------------------------------------------------
# Python's builtins on numbers
# ---------------------------------------------------------------------------------------------


@adjoint(builtins.max, builtins.min, where={"key": None, "default": None})
def builtin_extremum(y, *args, key=None, default=None, y_bar):
    """y = max(x₁, x₂, ...) or max(xs) (or min):  x̄ᵢ = ȳ where xᵢ = y, split evenly among
    ties"""
    return chosen_bars(y_bar, y, args)


@tangent(builtins.max, builtins.min, where={"key": None, "default": None})
def builtin_extremum_tangent(y, *args, key=None, default=None, args_dot):
    """y = max(x₁, x₂, ...) or max(xs) (or min):  ẏ = ẋᵢ of the xᵢ equal to y, the mean over
    ties"""
    return chosen_dot(y, args, args_dot)


@adjoint(builtins.tuple, builtins.list)
def sequence(y, iterable, y_bar):
    """y = tuple(xs) or list(xs):  x̄s = ȳ, element by element (an array's rows stacked)"""
    return sequence_bar(y_bar, iterable)


@adjoint(builtins.sorted)
def sorted_elements(y, iterable, *, key=None, reverse=False, y_bar):
    """y = sorted(xs) (by key, reversed or not):  x̄s[σ(j)] = ȳ[j], σ the order sorted takes
    xs in (ties in their order, as sorted keeps them)"""
    return sorted_bar(y_bar, iterable, key, reverse)


@tangent(builtins.sorted)
def sorted_tangent(y, iterable, *, key=None, reverse=False, iterable_dot):
    """y = sorted(xs) (by key, reversed or not):  ẏ[j] = ẋs[σ(j)]"""
    return sorted_dot(iterable_dot, iterable, key, reverse)


@tangent(builtins.tuple)
def tuple_tangent(y, iterable, iterable_dot):
    """y = tuple(xs):  ẏ = tuple(ẋs)  (an array's tangent gives its rows)"""
    return tuple(iterable_dot)


@tangent(builtins.list)
def list_tangent(y, iterable, iterable_dot):
    """y = list(xs):  ẏ = list(ẋs)  (an array's tangent gives its rows)"""
    return list(iterable_dot)


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------


@adjoint(np.nansum)
def nansum(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Σ_axis a over the numbers (nan skipped):  ā = ȳ where a is not nan, 0 where it is"""
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims) * not_nan(a)


@tangent(np.nansum)
def nansum_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = Σ_axis a over the numbers (nan skipped):  ẏ = Σ_axis ȧ over the numbers of a (ȧ where
    a is nan is not read)"""
    return np.sum(np.where(not_nan(a), a_dot, 0.0), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean)
def nanmean(y, a, axis=None, *, keepdims=False, y_bar):
    """y = mean_axis a over the n numbers (nan skipped):  ā = ȳ / n where a is not nan"""
    g = expand_reduced(y_bar, a, axis=axis, keepdims=keepdims)
    return g / nan_count(a, axis=axis) * not_nan(a)


@tangent(np.nanmean)
def nanmean_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = mean_axis a over the n numbers (nan skipped):  ẏ = Σ_axis ȧ / n over the numbers"""
    numbers_dot = np.where(not_nan(a), a_dot, 0.0)
    return np.sum(numbers_dot / nan_count(a, axis=axis), axis=axis, keepdims=keepdims)


@adjoint(np.nanvar)
def nanvar(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = var_axis a over the n numbers (nan skipped):  ā = ȳ 2 (a − mean a) / (n − ddof)
    where a is not nan, 0 where it is"""
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 2 / nan_degrees_of_freedom(a, axis, ddof)
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims) * centered * scale


@tangent(np.nanvar)
def nanvar_tangent(y, a, axis=None, *, ddof=0, keepdims=False, a_dot):
    """y = var_axis a over the n numbers (nan skipped):  ẏ = 2 Σ_axis (a − mean a) ȧ / (n − ddof)
    over the numbers"""
    numbers_dot = np.where(not_nan(a), a_dot, 0.0)
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 2 / nan_degrees_of_freedom(a, axis, ddof)
    return np.sum(numbers_dot * centered * scale, axis=axis, keepdims=keepdims)


@adjoint(np.nanstd)
def nanstd(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = std_axis a over the n numbers (nan skipped):  ā = ȳ (a − mean a) / ((n − ddof) y)
    where a is not nan, 0 where it is;  ā = 0 where n = 1

    A slice of one number has y ≡ 0 and a − mean a = 0 exactly: dividing by 1 there instead
    of y gives its derivative, 0 (as for np.std), not 0 / 0."""
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 1 / nan_degrees_of_freedom(a, axis, ddof)
    spread = np.where(numbers_per_result(a, axis, keepdims) == 1, 1.0, y)
    g = expand_reduced(y_bar / spread, a, axis=axis, keepdims=keepdims)
    return g * centered * scale


@tangent(np.nanstd)
def nanstd_tangent(y, a, axis=None, *, ddof=0, keepdims=False, a_dot):
    """y = std_axis a over the n numbers (nan skipped):  ẏ = Σ_axis (a − mean a) ȧ / ((n − ddof) y)
    over the numbers;  ẏ = 0 where n = 1"""
    numbers_dot = np.where(not_nan(a), a_dot, 0.0)
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 1 / nan_degrees_of_freedom(a, axis, ddof)
    spread = np.where(numbers_per_result(a, axis, keepdims) == 1, 1.0, y)
    return np.sum(numbers_dot * centered * scale, axis=axis, keepdims=keepdims) / spread


@adjoint(np.nanprod)
def nanprod(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Π_axis a over the numbers (nan read as 1):  āᵢ = ȳ Π_{j≠i} aⱼ where a is not nan"""
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    return prod_bar(y_bar, ones_for_nan, axis=axis, keepdims=keepdims) * not_nan(a)


@tangent(np.nanprod)
def nanprod_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = Π_axis a over the numbers (nan read as 1):  ẏ = Σᵢ ȧᵢ Π_{j≠i} aⱼ over the numbers
    (exact with zeros)"""
    numbers_dot = np.where(not_nan(a), a_dot, 0.0)
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    others = prod_bar(np.ones_like(y), ones_for_nan, axis=axis, keepdims=keepdims)
    return np.sum(numbers_dot * others, axis=axis, keepdims=keepdims)


@adjoint(np.nancumsum)
def nancumsum(y, a, axis=None, *, y_bar):
    """y = cumsum_axis a (nan read as 0):  ā = reversed cumsum of ȳ where a is not nan"""
    return cumsum_bar(y_bar, a, axis=axis) * not_nan(a)


@tangent(np.nancumsum)
def nancumsum_tangent(y, a, axis=None, *, a_dot):
    """y = cumsum_axis a (nan read as 0):  ẏ = cumsum_axis ȧ over the numbers (0 for nan)"""
    return np.cumsum(np.where(not_nan(a), a_dot, 0.0), axis=axis)


@adjoint(np.nancumprod)
def nancumprod(y, a, axis=None, *, y_bar):
    """y = cumprod_axis a (nan read as 1):  ā as for cumprod of a with 1 for nan, 0 at nan"""
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    return cumprod_bar(y_bar, ones_for_nan, axis=axis) * not_nan(a)


@tangent(np.nancumprod)
def nancumprod_tangent(y, a, axis=None, *, a_dot):
    """y = cumprod_axis a (nan read as 1):  ẏ as for cumprod of a with 1 for nan, ȧ 0 at nan"""
    numbers_dot = np.where(not_nan(a), a_dot, 0.0)
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    return cumprod_dot(numbers_dot, ones_for_nan, axis=axis)


@adjoint(np.nanmax, np.nanmin)
def nan_extremum(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a over the numbers (or min):  ā = ȳ at the extreme elements, shared among
    ties (nan is never one)"""
    return extremum_bar(y_bar, y, a, axis=axis, keepdims=keepdims)


@tangent(np.nanmax, np.nanmin)
def nan_extremum_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = max_axis a over the numbers (or min):  ẏ = ȧ at the extreme element, the mean over
    ties (nan is never one)"""
    shares = extremum_bar(np.ones_like(y), y, a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * shares, axis=axis, keepdims=keepdims)


@adjoint(np.average, where={"weights": None, "returned": False})
def average(y, a, axis=None, weights=None, returned=False, *, keepdims=False, y_bar):
    """y = mean_axis a (no weights):  ā = ȳ / n, broadcast back over the averaged axes"""
    count = reduced_count(a, y)
    return expand_reduced(y_bar / count, a, axis=axis, keepdims=keepdims)


@tangent(np.average, where={"weights": None, "returned": False})
def average_tangent(y, a, axis=None, weights=None, returned=False, *, keepdims=False, a_dot):
    """y = mean_axis a (no weights):  ẏ = mean_axis ȧ"""
    return np.average(a_dot, axis=axis, keepdims=keepdims)


@adjoint(np.average, where={"returned": False})
def weighted_average(y, a, axis=None, weights=None, returned=False, *, keepdims=False, y_bar):
    """y = Σ w a / Σ w:  ā = ȳ w / Σ w,  w̄ = ȳ (a − y) / Σ w"""
    a_bar, weights_bar = average_bars(y_bar, y, a, axis, weights, keepdims)
    return a_bar, None, weights_bar


@tangent(np.average, where={"returned": False})
def weighted_average_tangent(
    y, a, axis=None, weights=None, returned=False, *, keepdims=False, a_dot, weights_dot
):
    """y = Σ w a / Σ w:  ẏ = Σ w ȧ / Σ w + Σ ẇ (a − y) / Σ w"""
    a_term = np.average(a_dot, axis=axis, weights=weights, keepdims=keepdims)
    weights_term = average_weights_dot(weights_dot, y, a, axis, weights, keepdims)
    return a_term, weights_term


@adjoint(np.polyval)
def polyval(y, p, x, y_bar):
    """y = Σₖ pₖ x^(n−1−k):  p̄ₖ = ȳ x^(n−1−k),  x̄ = ȳ p′(x)  (each summed to its shape)"""
    p_bar, x_bar = polyval_bars(y_bar, p, x)
    return p_bar, x_bar


@tangent(np.polyval)
def polyval_tangent(y, p, x, p_dot, x_dot):
    """y = Σₖ pₖ x^(n−1−k):  ẏ = Σₖ ṗₖ x^(n−1−k) + p′(x) ẋ"""
    return np.polyval(p_dot, x), np.polyval(polynomial_slope(p), x) * x_dot


@adjoint(np.ptp)
def ptp(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a − min_axis a:  ā = ȳ at the maximal elements, −ȳ at the minimal ones,
    each shared among ties"""
    return ptp_bar(y_bar, a, axis=axis, keepdims=keepdims)


@tangent(np.ptp)
def ptp_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = max_axis a − min_axis a:  ẏ = ȧ at the maximal element − ȧ at the minimal one, each
    the mean over ties"""
    shares = ptp_bar(np.ones_like(y), a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * shares, axis=axis, keepdims=keepdims)


@adjoint(np.cumprod, Method("cumprod"))
def cumprod(y, a, axis=None, *, y_bar):
    """y = cumprod_axis a:  āⱼ = Σ_{i≥j} ȳᵢ Π_{k≤i, k≠j} aₖ  (never dividing by zero)"""
    return cumprod_bar(y_bar, a, axis=axis)


@tangent(np.cumprod, Method("cumprod"))
def cumprod_tangent(y, a, axis=None, *, a_dot):
    """y = cumprod_axis a:  ẏᵢ = Σ_{j≤i} ȧⱼ Π_{k≤i, k≠j} aₖ  (never dividing by zero)"""
    return cumprod_dot(a_dot, a, axis=axis)


@adjoint(np.median, where={"out": None, "overwrite_input": False})
def median(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, y_bar):
    """y = median_axis a:  ā = ȳ at the middle element, or ȳ / 2 at each of the two middle
    ones; each share split evenly among elements equal to it"""
    return quantile_bar(y_bar, a, 0.5, axis=axis, keepdims=keepdims)


@tangent(np.median, where={"out": None, "overwrite_input": False})
def median_tangent(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, a_dot):
    """y = median_axis a:  ẏ = ȧ at the middle element, or the mean of ȧ at the two middle
    ones; each the mean over the elements equal to it"""
    return quantile_dot(y, a, a_dot, 0.5, axis=axis, keepdims=keepdims)


@adjoint(np.quantile, where={"out": None, "overwrite_input": False, "weights": None})
def quantile(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    y_bar,
):
    """y = quantile_axis(a, q) = (1 − f) s_lo + f s_hi of the sorted s:  ā = ȳ (1 − f) at the
    element s_lo, ȳ f at s_hi, each split evenly among elements equal to it;  q̄ refused"""
    a_bar = quantile_bar(y_bar, a, q, axis=axis, keepdims=keepdims, method=method)
    return a_bar, refuse_quantile_gradient(y_bar)


@tangent(np.quantile, where={"out": None, "overwrite_input": False, "weights": None})
def quantile_tangent(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    a_dot,
    q_dot,
):
    """y = quantile_axis(a, q) = (1 − f) s_lo + f s_hi of the sorted s:  ẏ = (1 − f) ṡ_lo + f ṡ_hi,
    ṡ the mean of ȧ over the elements equal to s;  q̇ refused"""
    a_term = quantile_dot(y, a, a_dot, q, axis=axis, keepdims=keepdims, method=method)
    return a_term, refuse_quantile_gradient(q_dot)


@adjoint(np.percentile, where={"out": None, "overwrite_input": False, "weights": None})
def percentile(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    y_bar,
):
    """y = percentile_axis(a, q) = quantile_axis(a, q / 100):  ā as for the quantile;  q̄ refused"""
    fraction = np.true_divide(q, 100)
    a_bar = quantile_bar(y_bar, a, fraction, axis=axis, keepdims=keepdims, method=method)
    return a_bar, refuse_quantile_gradient(y_bar)


@adjoint(np.nanmedian, where={"out": None, "overwrite_input": False})
def nanmedian(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, y_bar):
    """y = median_axis of the numbers of a (nan skipped):  ā = ȳ at the middle number, or
    ȳ / 2 at each of the two middle ones, each share split among numbers equal to it; 0 at nan"""
    return nanquantile_bar(y_bar, a, 0.5, axis=axis, keepdims=keepdims)


@adjoint(np.nanquantile, where={"out": None, "overwrite_input": False, "weights": None})
def nanquantile(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    y_bar,
):
    """y = quantile_axis(numbers of a, q) = (1 − f) s_lo + f s_hi of the n sorted numbers s:
    ā = ȳ (1 − f) at s_lo, ȳ f at s_hi, each split among numbers equal to it, 0 at nan;
    q̄ refused"""
    a_bar = nanquantile_bar(y_bar, a, q, axis=axis, keepdims=keepdims, method=method)
    return a_bar, refuse_quantile_gradient(y_bar)


@adjoint(np.nanpercentile, where={"out": None, "overwrite_input": False, "weights": None})
def nanpercentile(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    y_bar,
):
    """y = nanquantile_axis(a, q / 100):  ā as for the nanquantile;  q̄ refused"""
    fraction = np.true_divide(q, 100)
    a_bar = nanquantile_bar(y_bar, a, fraction, axis=axis, keepdims=keepdims, method=method)
    return a_bar, refuse_quantile_gradient(y_bar)


@tangent(np.nanmedian, where={"out": None, "overwrite_input": False})
def nanmedian_tangent(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, a_dot):
    """y = median_axis of the numbers of a:  ẏ = ȧ at the middle number, or the mean of ȧ at
    the two middle ones, each the mean over the numbers equal to it; nan skipped"""
    return nanquantile_dot(y, a, a_dot, 0.5, axis=axis, keepdims=keepdims)


@tangent(np.nanquantile, where={"out": None, "overwrite_input": False, "weights": None})
def nanquantile_tangent(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    a_dot,
    q_dot,
):
    """y = quantile_axis(numbers of a, q):  ẏ = (1 − f) ṡ_lo + f ṡ_hi over the numbers, ṡ the
    mean of ȧ over the numbers equal to s;  q̇ refused"""
    a_term = nanquantile_dot(y, a, a_dot, q, axis=axis, keepdims=keepdims, method=method)
    return a_term, refuse_quantile_gradient(q_dot)


@tangent(np.nanpercentile, where={"out": None, "overwrite_input": False, "weights": None})
def nanpercentile_tangent(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    a_dot,
    q_dot,
):
    """y = nanquantile_axis(a, q / 100):  ẏ as for the nanquantile;  q̇ refused"""
    fraction = np.true_divide(q, 100)
    a_term = nanquantile_dot(y, a, a_dot, fraction, axis=axis, keepdims=keepdims, method=method)
    return a_term, refuse_quantile_gradient(q_dot)


@tangent(np.percentile, where={"out": None, "overwrite_input": False, "weights": None})
def percentile_tangent(
    y,
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
    a_dot,
    q_dot,
):
    """y = percentile_axis(a, q) = quantile_axis(a, q / 100):  ẏ as for the quantile;  q̇ refused"""
    fraction = np.true_divide(q, 100)
    a_term = quantile_dot(y, a, a_dot, fraction, axis=axis, keepdims=keepdims, method=method)
    return a_term, refuse_quantile_gradient(q_dot)


# ---------------------------------------------------------------------------------------------
# More elementwise functions: signs, binary exponents, tuples of parts
# ---------------------------------------------------------------------------------------------


@adjoint(np.copysign)
def copysign(z, x, y, z_bar):
    """z = |x| sign(y) (signs by the sign bit, so ±0 too):  x̄ = z̄ sign(x) sign(y),  ȳ = 0
    (z jumps where y changes sign; at x = 0 the one-sided slope of +0 or −0); sign(x) sign(y)
    written sign(sign(x) y), in x's dtype"""
    return unbroadcast(z_bar * np.copysign(1.0, np.copysign(1.0, x) * y), x), zero_gradient(y)


@tangent(np.copysign)
def copysign_tangent(z, x, y, x_dot, y_dot):
    """z = |x| sign(y):  ż = ẋ sign(sign(x) y) + 0 ẏ"""
    x_term = broadcast_tangent(x_dot * np.copysign(1.0, np.copysign(1.0, x) * y), z)
    return x_term, broadcast_tangent(zero_gradient(y_dot), z)


# np.float_power is x ** y computed in float64: the rules of ** (rules.py) for each of its cases.
for _adjoint_rule, _tangent_rule, _where in (
    (rules.power, rules.power_tangent, {}),
    (rules.square_power, rules.square_power_tangent, {"y": 2}),
    (rules.zeroth_power, rules.zeroth_power_tangent, {"y": 0}),
    (rules.variable_power, rules.variable_power_tangent, {"y": rules.VARIABLE}),
):
    adjoint(np.float_power, where=_where)(_adjoint_rule)
    tangent(np.float_power, where=_where)(_tangent_rule)


@adjoint(np.heaviside)
def heaviside(z, x, h, z_bar):
    """z = 0 for x < 0, h at x = 0, 1 for x > 0:  x̄ = 0 (a step),  h̄ = z̄ where x = 0"""
    return zero_gradient(x), unbroadcast(z_bar * (x == 0), h)


@tangent(np.heaviside)
def heaviside_tangent(z, x, h, x_dot, h_dot):
    """z = heaviside(x, h):  ż = 0 ẋ + ḣ where x = 0"""
    x_term = broadcast_tangent(zero_gradient(x_dot), z)
    h_term = broadcast_tangent(np.where(x == 0, h_dot, 0.0 * h_dot), z)
    return x_term, h_term


@adjoint(np.ldexp)
def ldexp(z, x, n, z_bar):
    """z = x 2ⁿ (n an integer):  x̄ = z̄ 2ⁿ"""
    return unbroadcast(np.ldexp(z_bar, n), x), zero_gradient(n)


@tangent(np.ldexp)
def ldexp_tangent(z, x, n, x_dot):
    """z = x 2ⁿ:  ż = ẋ 2ⁿ"""
    return broadcast_tangent(np.ldexp(x_dot, n), z)


@adjoint(np.nextafter)
def nextafter(z, x, y, z_bar):
    """z = x moved one step of the float grid towards y (x + a piecewise constant):  x̄ = z̄,
    ȳ = 0"""
    return unbroadcast(z_bar, x), zero_gradient(y)


@tangent(np.nextafter)
def nextafter_tangent(z, x, y, x_dot, y_dot):
    """z = x + a piecewise constant:  ż = ẋ + 0 ẏ"""
    return broadcast_tangent(x_dot, z), broadcast_tangent(zero_gradient(y_dot), z)


@adjoint(np.modf)
def modf(y, x, y_bar):
    """(f, i) = modf(x), x = f + i, i piecewise constant:  x̄ = f̄"""
    fractional_bar, integral_bar = y_bar
    return fractional_bar


@tangent(np.modf)
def modf_tangent(y, x, x_dot):
    """(f, i) = modf(x):  ḟ = ẋ,  i̇ = 0"""
    y_dot = (x_dot, zero_tangent(y[1]))
    return y_dot


@adjoint(np.frexp)
def frexp(y, x, y_bar):
    """(m, e) = frexp(x), x = m 2ᵉ, e piecewise constant:  x̄ = m̄ 2⁻ᵉ"""
    mantissa_bar, exponent_bar = y_bar
    return np.ldexp(mantissa_bar, -y[1])


@tangent(np.frexp)
def frexp_tangent(y, x, x_dot):
    """(m, e) = frexp(x):  ṁ = ẋ 2⁻ᵉ,  ė = 0"""
    y_dot = (np.ldexp(x_dot, -y[1]), zero_tangent(y[1]))
    return y_dot


@adjoint(np.divmod, builtins.divmod)
def divmod_(y, x1, x2, y_bar):
    """(q, r) = divmod(x1, x2), r = x1 − q x2, q piecewise constant:  x̄1 = r̄,  x̄2 = −r̄ q"""
    quotient_bar, remainder_bar = y_bar
    return unbroadcast(remainder_bar, x1), unbroadcast(-remainder_bar * y[0], x2)


@tangent(np.divmod, builtins.divmod, adds=add_elementwise)
def divmod_tangent(y, x1, x2, x1_dot, x2_dot):
    """(q, r) = divmod(x1, x2):  q̇ = 0,  ṙ = ẋ1 − q ẋ2"""
    x1_term = (zero_tangent(y[0]), x1_dot + zero_tangent(y[1]))
    x2_term = (zero_tangent(y[0]), -y[0] * x2_dot)
    return x1_term, x2_term


# ---------------------------------------------------------------------------------------------
# NumPy 2's running sums and products
# ---------------------------------------------------------------------------------------------


@adjoint(np.cumulative_sum, where={"dtype": None, "out": None})
def cumulative_sum(y, x, *, axis=None, dtype=None, out=None, include_initial=False, y_bar):
    """y = [0,] cumsum_axis x:  x̄ = the reversed cumulative sum of ȳ (its initial 0 dropped)"""
    return cumsum_bar(without_initial(y_bar, axis, include_initial), x, axis=axis)


@tangent(np.cumulative_sum, where={"dtype": None, "out": None})
def cumulative_sum_tangent(y, x, *, axis=None, dtype=None, out=None, include_initial=False, x_dot):
    """y = [0,] cumsum_axis x:  ẏ = [0,] cumsum_axis ẋ"""
    return np.cumulative_sum(x_dot, axis=axis, include_initial=include_initial)


@adjoint(np.cumulative_prod, where={"dtype": None, "out": None})
def cumulative_prod(y, x, *, axis=None, dtype=None, out=None, include_initial=False, y_bar):
    """y = [1,] cumprod_axis x:  x̄ⱼ = Σ_{i≥j} ȳᵢ Π_{k≤i, k≠j} xₖ (the initial 1 dropped)"""
    return cumprod_bar(without_initial(y_bar, axis, include_initial), x, axis=axis)


@tangent(np.cumulative_prod, where={"dtype": None, "out": None})
def cumulative_prod_tangent(
    y, x, *, axis=None, dtype=None, out=None, include_initial=False, x_dot
):
    """y = [1,] cumprod_axis x:  ẏᵢ = [0,] Σ_{j≤i} ẋⱼ Π_{k≤i, k≠j} xₖ"""
    return with_initial_zero(cumprod_dot(x_dot, x, axis=axis), axis, include_initial)


# ---------------------------------------------------------------------------------------------
# No gradient
# ---------------------------------------------------------------------------------------------

non_differentiable(Method("round"))
# piecewise constant: the distance to the next float
non_differentiable(np.spacing)
