"""Adjoint rules for more elementwise functions, reductions and Python's builtins on numbers.

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
from overbar.runtime.helpers import (
    cumsum_bar,
    expand_reduced,
    extremum_bar,
    prod_bar,
    unbroadcast,
    zero_gradient,
)
from overbar.runtime.helpers_math import (
    astype_bar,
    average_bars,
    chosen_bars,
    cumprod_bar,
    digamma,
    hypot_bars,
    nan_count,
    nan_degrees_of_freedom,
    nanquantile_bar,
    not_nan,
    of_real,
    ptp_bar,
    quantile_bar,
    refuse_quantile_gradient,
    select_bars,
    sequence_bar,
    sinc_slope,
)
from overbar.runtime.registry import adjoint, non_differentiable

# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------


@adjoint(operator.mod, np.remainder, np.fmod, math.fmod, math.remainder)
def remainder(z, x, y, z_bar):
    """z = x − q y, q the integer quotient (floored for % and np.remainder, truncated for fmod,
    nearest for math.remainder):  x̄ = z̄,  ȳ = −z̄ q  (at a jump, x = k y, the side q took)"""
    quotient = np.round((x - z) / y)
    return unbroadcast(z_bar, x), unbroadcast(-z_bar * quotient, y)


@adjoint(np.fabs)
def fabs(y, x, y_bar):
    """y = |x|:  x̄ = ȳ sign(x)  (0 at x = 0)"""
    return y_bar * np.sign(x)


@adjoint(np.sinc)
def sinc(y, x, y_bar):
    """y = sin(πx) / (πx):  x̄ = ȳ (cos(πx) − y) / x  (0 at x = 0, a series near it)"""
    return y_bar * sinc_slope(x)


@adjoint(np.logaddexp2)
def logaddexp2(z, x, y, z_bar):
    """z = log₂(2ˣ + 2ʸ):  x̄ = z̄ 2ˣ⁻ᶻ,  ȳ = z̄ 2ʸ⁻ᶻ"""
    return unbroadcast(z_bar * np.exp2(x - z), x), unbroadcast(z_bar * np.exp2(y - z), y)


@adjoint(np.real)
def real(y, val, y_bar):
    """y = Re x of a real x (y = x):  x̄ = ȳ  (complex x refused)"""
    return of_real(y_bar, val, "np.real")


@adjoint(Attribute("real"))
def real_attribute(y, a, y_bar):
    """y = a.real of a real a (y = a):  ā = ȳ  (complex a refused)"""
    return of_real(y_bar, a, "the attribute .real")


@adjoint(np.imag)
def imag(y, val, y_bar):
    """y = Im x of a real x (y = 0):  x̄ = 0  (complex x refused)"""
    return of_real(zero_gradient(val), val, "np.imag")


@adjoint(Attribute("imag"))
def imag_attribute(y, a, y_bar):
    """y = a.imag of a real a (y = 0):  ā = 0  (complex a refused)"""
    return of_real(zero_gradient(a), a, "the attribute .imag")


@adjoint(np.conjugate, Method("conj"), Method("conjugate"))
def conjugate(y, x, y_bar):
    """y = x̅ of a real x (y = x):  x̄ = ȳ  (complex x refused)"""
    return of_real(y_bar, x, "np.conj")


@adjoint(np.angle)
def angle(y, z, deg=False, *, y_bar):
    """y = arg z of a real z (0 or π, piecewise constant):  z̄ = 0  (complex z refused)"""
    return of_real(zero_gradient(z), z, "np.angle")


@adjoint(np.real_if_close)
def real_if_close(y, a, tol=100, *, y_bar):
    """y = a of a real a (y = a):  ā = ȳ  (complex a refused)"""
    return of_real(y_bar, a, "np.real_if_close")


@adjoint(Method("astype"))
def astype(y, x, dtype, order="K", casting="unsafe", subok=True, copy=True, *, y_bar):
    """y = x.astype(dtype): for a floating dtype y = x (rounded),  x̄ = ȳ cast back to x's dtype;
    for an integer or boolean dtype y is piecewise constant,  x̄ = 0  (complex dtype refused)"""
    return astype_bar(y_bar, x, dtype)


@adjoint(np.select)
def select(y, condlist, choicelist, default=0, *, y_bar):
    """y = choiceᵢ where conditionᵢ is the first true one, default where none is:
    c̄hoiceᵢ = ȳ where conditionᵢ is the first true one,  d̄efault = ȳ where none is"""
    choicelist_bar, default_bar = select_bars(y_bar, y, condlist, choicelist, default)
    return None, choicelist_bar, default_bar


@adjoint(np.nan_to_num, where={"copy": True})
def nan_to_num(y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, y_bar):
    """y = x where x is finite, nan, posinf, neginf in place of nan, +∞, −∞:  x̄ = ȳ where x is
    finite;  n̄an = Σ ȳ where x is nan;  p̄osinf, n̄eginf likewise"""
    x_bar = y_bar * np.isfinite(x)
    nan_bar = np.sum(y_bar * np.isnan(x))
    posinf_bar = np.sum(y_bar * np.isposinf(x))
    neginf_bar = np.sum(y_bar * np.isneginf(x))
    return x_bar, None, nan_bar, posinf_bar, neginf_bar


@adjoint(math.erf)
def erf(y, x, y_bar):
    """y = erf(x):  x̄ = ȳ 2 e^(−x²) / √π"""
    return y_bar * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.erfc)
def erfc(y, x, y_bar):
    """y = erfc(x) = 1 − erf(x):  x̄ = −ȳ 2 e^(−x²) / √π"""
    return -y_bar * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.gamma)
def gamma(y, x, y_bar):
    """y = Γ(x):  x̄ = ȳ y ψ(x)  (ψ the digamma function Γ′ / Γ)"""
    return y_bar * y * digamma(x)


@adjoint(math.lgamma)
def lgamma(y, x, y_bar):
    """y = log |Γ(x)|:  x̄ = ȳ ψ(x)"""
    return y_bar * digamma(x)


@adjoint(math.hypot)
def hypot(y, *coordinates, y_bar):
    """y = √(Σ xᵢ²):  x̄ᵢ = ȳ xᵢ / y  (0 at y = 0)"""
    return hypot_bars(y_bar, y, coordinates)


# ---------------------------------------------------------------------------------------------
# Python's builtins on numbers
# ---------------------------------------------------------------------------------------------


@adjoint(builtins.max, builtins.min, where={"key": None, "default": None})
def builtin_extremum(y, *args, key=None, default=None, y_bar):
    """y = max(x₁, x₂, ...) or max(xs) (or min):  x̄ᵢ = ȳ where xᵢ = y, split evenly among
    ties"""
    return chosen_bars(y_bar, y, args)


@adjoint(builtins.tuple, builtins.list)
def sequence(y, iterable, y_bar):
    """y = tuple(xs) or list(xs):  x̄s = ȳ, element by element (an array's rows stacked)"""
    return sequence_bar(y_bar, iterable)


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------


@adjoint(np.nansum)
def nansum(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Σ_axis a over the numbers (nan skipped):  ā = ȳ where a is not nan, 0 where it is"""
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims) * not_nan(a)


@adjoint(np.nanmean)
def nanmean(y, a, axis=None, *, keepdims=False, y_bar):
    """y = mean_axis a over the n numbers (nan skipped):  ā = ȳ / n where a is not nan"""
    g = expand_reduced(y_bar, a, axis=axis, keepdims=keepdims)
    return g / nan_count(a, axis=axis) * not_nan(a)


@adjoint(np.nanvar)
def nanvar(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = var_axis a over the n numbers (nan skipped):  ā = ȳ 2 (a − mean a) / (n − ddof)
    where a is not nan, 0 where it is"""
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 2 / nan_degrees_of_freedom(a, axis, ddof)
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims) * centered * scale


@adjoint(np.nanstd)
def nanstd(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = std_axis a over the n numbers (nan skipped):  ā = ȳ (a − mean a) / ((n − ddof) y)
    where a is not nan, 0 where it is"""
    centered = np.where(not_nan(a), a - np.nanmean(a, axis=axis, keepdims=True), 0.0)
    scale = 1 / nan_degrees_of_freedom(a, axis, ddof)
    g = expand_reduced(y_bar / y, a, axis=axis, keepdims=keepdims)
    return g * centered * scale


@adjoint(np.nanprod)
def nanprod(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Π_axis a over the numbers (nan read as 1):  āᵢ = ȳ Π_{j≠i} aⱼ where a is not nan"""
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    return prod_bar(y_bar, ones_for_nan, axis=axis, keepdims=keepdims) * not_nan(a)


@adjoint(np.nancumsum)
def nancumsum(y, a, axis=None, *, y_bar):
    """y = cumsum_axis a (nan read as 0):  ā = reversed cumsum of ȳ where a is not nan"""
    return cumsum_bar(y_bar, a, axis=axis) * not_nan(a)


@adjoint(np.nancumprod)
def nancumprod(y, a, axis=None, *, y_bar):
    """y = cumprod_axis a (nan read as 1):  ā as for cumprod of a with 1 for nan, 0 at nan"""
    ones_for_nan = np.where(not_nan(a), a, 1.0)
    return cumprod_bar(y_bar, ones_for_nan, axis=axis) * not_nan(a)


@adjoint(np.nanmax, np.nanmin)
def nan_extremum(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a over the numbers (or min):  ā = ȳ at the extreme elements, shared among
    ties (nan is never one)"""
    return extremum_bar(y_bar, y, a, axis=axis, keepdims=keepdims)


@adjoint(np.average, where={"weights": None, "returned": False})
def average(y, a, axis=None, weights=None, returned=False, *, keepdims=False, y_bar):
    """y = mean_axis a (no weights):  ā = ȳ / n, broadcast back over the averaged axes"""
    count = np.size(a) // max(np.size(y), 1)
    return expand_reduced(y_bar / count, a, axis=axis, keepdims=keepdims)


@adjoint(np.average, where={"returned": False})
def weighted_average(y, a, axis=None, weights=None, returned=False, *, keepdims=False, y_bar):
    """y = Σ w a / Σ w:  ā = ȳ w / Σ w,  w̄ = ȳ (a − y) / Σ w"""
    a_bar, weights_bar = average_bars(y_bar, y, a, axis, weights, keepdims)
    return a_bar, None, weights_bar


@adjoint(np.ptp)
def ptp(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a − min_axis a:  ā = ȳ at the maximal elements, −ȳ at the minimal ones,
    each shared among ties"""
    return ptp_bar(y_bar, a, axis=axis, keepdims=keepdims)


@adjoint(np.cumprod, Method("cumprod"))
def cumprod(y, a, axis=None, *, y_bar):
    """y = cumprod_axis a:  āⱼ = Σ_{i≥j} ȳᵢ Π_{k≤i, k≠j} aₖ  (never dividing by zero)"""
    return cumprod_bar(y_bar, a, axis=axis)


@adjoint(np.median, where={"out": None, "overwrite_input": False})
def median(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, y_bar):
    """y = median_axis a:  ā = ȳ at the middle element, or ȳ / 2 at each of the two middle
    ones; each share split evenly among elements equal to it"""
    return quantile_bar(y_bar, a, 0.5, axis=axis, keepdims=keepdims)


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


# ---------------------------------------------------------------------------------------------
# No gradient
# ---------------------------------------------------------------------------------------------

non_differentiable(Method("round"))
