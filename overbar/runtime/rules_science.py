"""Adjoint rules for NumPy's scientific functions: integration, interpolation, convolution,
covariance and polynomials, each followed by its tangent rule (forward mode).

Written like ``rules.py``: the docstring states the math in bar notation and the body mirrors
it; the compiler inlines the body into the generated code. Most of these functions are linear
in what is differentiated, so their adjoints are transposed maps (in ``helpers_science.py``)
and their tangents the functions themselves at the tangents. Calls a rule does not handle are
refused by its ``where`` conditions: ``np.interp`` with ``period``, ``np.cov`` with weights,
``np.polyfit`` with ``w``, ``full`` or ``cov``.
"""

from __future__ import annotations

import numpy as np

from overbar.runtime.helpers import zero_tangent
from overbar.runtime.helpers_science import (
    bessel_i1,
    convolve_a_bar,
    corrcoef_bars,
    corrcoef_dot,
    correlate_bars,
    cov_bars,
    cov_dot,
    ediff1d_bars,
    ediff1d_dot,
    interp_bars,
    interp_end_dot,
    interp_knots_dot,
    interp_slope,
    interp_values_dot,
    polyadd_bars,
    polyder_bar,
    polyfit_bars,
    polyfit_dot,
    polyint_bars,
    polyint_constants_dot,
    polymul_bars,
    polymul_dot,
    trapezoid_bars,
    trapezoid_width_dot,
    vander_bar,
    vander_slope,
)
from overbar.runtime.registry import adjoint, tangent

# ---------------------------------------------------------------------------------------------
# Integration and differences
# ---------------------------------------------------------------------------------------------


@adjoint(np.trapezoid)
def trapezoid(area, y, x=None, dx=1.0, axis=-1, *, area_bar):
    """A = Σᵢ dᵢ (yᵢ + yᵢ₊₁) / 2, dᵢ = xᵢ₊₁ − xᵢ (or dx):  ȳᵢ = Ā (dᵢ₋₁ + dᵢ) / 2,
    x̄ᵢ = Ā (yᵢ₋₁ − yᵢ₊₁) / 2 (one-sided at the ends),  d̄x = Ā Σᵢ (yᵢ + yᵢ₊₁) / 2"""
    y_bar, x_bar, dx_bar = trapezoid_bars(area_bar, y, x, dx, axis)
    return y_bar, x_bar, dx_bar


@tangent(np.trapezoid)
def trapezoid_tangent(area, y, x=None, dx=1.0, axis=-1, *, y_dot, x_dot, dx_dot):
    """A = Σᵢ dᵢ (yᵢ + yᵢ₊₁) / 2 (bilinear in d and y):  Ȧ = trapezoid(ẏ, x, dx)
    + trapezoid(y, ẋ) + ḋx Σᵢ (yᵢ + yᵢ₊₁) / 2"""
    y_term = np.trapezoid(y_dot, x, dx, axis)
    x_term = np.trapezoid(y, x_dot, axis=axis)
    dx_term = trapezoid_width_dot(y, x, dx_dot, axis)
    return y_term, x_term, dx_term


@adjoint(np.ediff1d)
def ediff1d(y, ary, to_end=None, to_begin=None, *, y_bar):
    """y = [b, a₂ − a₁, …, aₙ − aₙ₋₁, e] (a flattened):  āᵢ = ȳ at (i − 1) − ȳ at i,
    b̄ = ȳ's first elements,  ē = ȳ's last"""
    ary_bar, to_end_bar, to_begin_bar = ediff1d_bars(y_bar, ary, to_end, to_begin)
    return ary_bar, to_end_bar, to_begin_bar


@tangent(np.ediff1d)
def ediff1d_tangent(y, ary, to_end=None, to_begin=None, *, ary_dot, to_end_dot, to_begin_dot):
    """y = [b, a₂ − a₁, …, aₙ − aₙ₋₁, e] (linear):  ẏ = [ḃ, ȧ₂ − ȧ₁, …, ė]"""
    ary_term = ediff1d_dot(ary, to_end, to_begin, ary_dot=ary_dot)
    to_end_term = ediff1d_dot(ary, to_end, to_begin, to_end_dot=to_end_dot)
    to_begin_term = ediff1d_dot(ary, to_end, to_begin, to_begin_dot=to_begin_dot)
    return ary_term, to_end_term, to_begin_term


# ---------------------------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------------------------


@adjoint(np.interp, where={"period": None})
def interp(y, x, xp, fp, left=None, right=None, period=None, *, y_bar):
    """y = (1 − t) fp[j] + t fp[j+1], t = (x − xp[j]) / (xp[j+1] − xp[j]), s the segment's
    slope:  x̄ = ȳ s,  f̄p[j] += ȳ (1 − t), f̄p[j+1] += ȳ t,  x̄p[j] += ȳ s (t − 1),
    x̄p[j+1] −= ȳ s t;  beyond the ends ȳ goes to left (right), or to fp[0] (fp[−1])"""
    x_bar, xp_bar, fp_bar, left_bar, right_bar = interp_bars(y_bar, x, xp, fp, left, right)
    return x_bar, xp_bar, fp_bar, left_bar, right_bar


@tangent(np.interp, where={"period": None})
def interp_tangent(
    y, x, xp, fp, left=None, right=None, period=None, *, x_dot, xp_dot, fp_dot, left_dot, right_dot
):
    """y = (1 − t) fp[j] + t fp[j+1]:  ẏ = s ẋ + s ((t − 1) ẋp[j] − t ẋp[j+1])
    + interp(x, xp, ḟp) + l̇eft (x < xp[0]) + ṙight (x > xp[−1])"""
    x_term = interp_slope(x, xp, fp) * x_dot
    xp_term = interp_knots_dot(xp_dot, x, xp, fp)
    fp_term = interp_values_dot(fp_dot, x, xp, left, right)
    left_term = interp_end_dot(left_dot, x, xp, "left")
    right_term = interp_end_dot(right_dot, x, xp, "right")
    return x_term, xp_term, fp_term, left_term, right_term


# ---------------------------------------------------------------------------------------------
# Convolution and correlation
# ---------------------------------------------------------------------------------------------


@adjoint(np.convolve)
def convolve(z, a, v, mode="full", *, z_bar):
    """z[k] = Σᵢ aᵢ v[k − i] (the part ``mode`` keeps):  āᵢ = Σⱼ z̄[i + j] vⱼ,
    v̄ⱼ = Σᵢ z̄[i + j] aᵢ  (z̄ placed in the full result; the second, convolve being symmetric
    in a and v, is the first with a and v swapped)"""
    a_bar = convolve_a_bar(z_bar, a, v, mode)
    v_bar = convolve_a_bar(z_bar, v, a, mode)
    return a_bar, v_bar


@tangent(np.convolve)
def convolve_tangent(z, a, v, mode="full", *, a_dot, v_dot):
    """z = a ∗ v (bilinear):  ż = ȧ ∗ v + a ∗ v̇"""
    return np.convolve(a_dot, v, mode), np.convolve(a, v_dot, mode)


@adjoint(np.correlate)
def correlate(z, a, v, mode="valid", *, z_bar):
    """z[k] = Σᵢ a[i + k] vᵢ (the part ``mode`` keeps):  ā[i + k] += z̄[k] vᵢ,
    v̄ᵢ = Σₖ z̄[k] a[i + k]  (z̄ placed in the full result)"""
    a_bar, v_bar = correlate_bars(z_bar, a, v, mode)
    return a_bar, v_bar


@tangent(np.correlate)
def correlate_tangent(z, a, v, mode="valid", *, a_dot, v_dot):
    """z = a ⋆ v (bilinear):  ż = ȧ ⋆ v + a ⋆ v̇"""
    return np.correlate(a_dot, v, mode), np.correlate(a, v_dot, mode)


# ---------------------------------------------------------------------------------------------
# Covariance and correlation coefficients
# ---------------------------------------------------------------------------------------------


@adjoint(np.cov, where={"fweights": None, "aweights": None, "dtype": None})
def cov(
    c,
    m,
    y=None,
    rowvar=True,
    bias=False,
    ddof=None,
    fweights=None,
    aweights=None,
    *,
    dtype=None,
    c_bar,
):
    """C = X_c X_cᵀ / (N − ddof), X the variables (rows of m, then of y) by observations, X_c
    centred:  X̄ = (C̄ + C̄ᵀ) X_c / (N − ddof), cut into m̄ and ȳ"""
    m_bar, y_bar = cov_bars(c_bar, m, y, rowvar, bias, ddof)
    return m_bar, y_bar


@tangent(np.cov, where={"fweights": None, "aweights": None, "dtype": None})
def cov_tangent(
    c,
    m,
    y=None,
    rowvar=True,
    bias=False,
    ddof=None,
    fweights=None,
    aweights=None,
    *,
    dtype=None,
    m_dot,
    y_dot,
):
    """C = X_c X_cᵀ / (N − ddof):  Ċ = (Ẋ_c X_cᵀ + X_c Ẋ_cᵀ) / (N − ddof)"""
    m_term = cov_dot(m, y, m_dot, None, rowvar, bias, ddof)
    y_term = cov_dot(m, y, None, y_dot, rowvar, bias, ddof)
    return m_term, y_term


@adjoint(np.corrcoef, where={"dtype": None})
def corrcoef(r, x, y=None, rowvar=True, *, dtype=None, r_bar):
    """R = C / (s sᵀ), s = √diag C, C = cov(x, y):  C̄ = R̄ / (s sᵀ) − diag(Σⱼ (R̄ᵢⱼ Rᵢⱼ + R̄ⱼᵢ Rⱼᵢ)
    / (2 sᵢ²)), then x̄, ȳ as for cov"""
    x_bar, y_bar = corrcoef_bars(r_bar, r, x, y, rowvar)
    return x_bar, y_bar


@tangent(np.corrcoef, where={"dtype": None})
def corrcoef_tangent(r, x, y=None, rowvar=True, *, dtype=None, x_dot, y_dot):
    """R = C / (s sᵀ):  Ṙ = Ċ / (s sᵀ) − R ∘ (q 1ᵀ + 1 qᵀ),  qᵢ = Ċᵢᵢ / (2 Cᵢᵢ)"""
    x_term = corrcoef_dot(r, x, y, x_dot, None, rowvar)
    y_term = corrcoef_dot(r, x, y, None, y_dot, rowvar)
    return x_term, y_term


# ---------------------------------------------------------------------------------------------
# The modified Bessel function I₀
# ---------------------------------------------------------------------------------------------


@adjoint(np.i0)
def i0(y, x, y_bar):
    """y = I₀(x):  x̄ = ȳ I₁(x)"""
    return y_bar * bessel_i1(x)


@tangent(np.i0)
def i0_tangent(y, x, x_dot):
    """y = I₀(x):  ẏ = I₁(x) ẋ"""
    return bessel_i1(x) * x_dot


# ---------------------------------------------------------------------------------------------
# Polynomials (coefficients highest power first)
# ---------------------------------------------------------------------------------------------


@adjoint(np.vander)
def vander(v, x, N=None, increasing=False, *, v_bar):  # noqa: N803  (NumPy's name for it)
    """Vᵢⱼ = xᵢ^eⱼ:  x̄ᵢ = Σⱼ V̄ᵢⱼ eⱼ xᵢ^(eⱼ − 1)"""
    return vander_bar(v_bar, x, N, increasing)


@tangent(np.vander)
def vander_tangent(v, x, N=None, increasing=False, *, x_dot):  # noqa: N803
    """Vᵢⱼ = xᵢ^eⱼ:  V̇ᵢⱼ = eⱼ xᵢ^(eⱼ − 1) ẋᵢ"""
    return vander_slope(x, N, increasing) * np.expand_dims(x_dot, -1)


@adjoint(np.polyadd)
def polyadd(y, a1, a2, y_bar):
    """y = a1 + a2 (aligned at the constant term):  ā1, ā2 = the last coefficients of ȳ"""
    a1_bar, a2_bar = polyadd_bars(y_bar, a1, a2)
    return a1_bar, a2_bar


@tangent(np.polyadd)
def polyadd_tangent(y, a1, a2, a1_dot, a2_dot):
    """y = a1 + a2:  ẏ = ȧ1 + ȧ2 (aligned at the constant term)"""
    return np.polyadd(a1_dot, zero_tangent(a2)), np.polyadd(zero_tangent(a1), a2_dot)


@adjoint(np.polysub)
def polysub(y, a1, a2, y_bar):
    """y = a1 − a2 (aligned at the constant term):  ā1 = the last coefficients of ȳ,
    ā2 = those of −ȳ"""
    a1_bar, a2_bar = polyadd_bars(y_bar, a1, a2, -1.0)
    return a1_bar, a2_bar


@tangent(np.polysub)
def polysub_tangent(y, a1, a2, a1_dot, a2_dot):
    """y = a1 − a2:  ẏ = ȧ1 − ȧ2 (aligned at the constant term)"""
    return np.polysub(a1_dot, zero_tangent(a2)), np.polysub(zero_tangent(a1), a2_dot)


@adjoint(np.polymul)
def polymul(y, a1, a2, y_bar):
    """y = a1 ∗ a2 (the full convolution, its leading zeros dropped):  ā1ᵢ = Σⱼ ȳ[i + j] a2ⱼ,
    ā2ⱼ = Σᵢ ȳ[i + j] a1ᵢ  (ȳ aligned at the constant term)"""
    a1_bar, a2_bar = polymul_bars(y_bar, a1, a2)
    return a1_bar, a2_bar


@tangent(np.polymul)
def polymul_tangent(y, a1, a2, a1_dot, a2_dot):
    """y = a1 ∗ a2 (bilinear):  ẏ = ȧ1 ∗ a2 + a1 ∗ ȧ2  (at y's length)"""
    return polymul_dot(y, a1, a2, a1_dot=a1_dot), polymul_dot(y, a1, a2, a2_dot=a2_dot)


@adjoint(np.polyder)
def polyder(y, p, m=1, *, y_bar):
    """yₖ = pₖ (n−1−k)(n−2−k)⋯(n−m−k):  p̄ₖ = ȳₖ (n−1−k)⋯(n−m−k), 0 for the m last"""
    return polyder_bar(y_bar, p, m)


@tangent(np.polyder)
def polyder_tangent(y, p, m=1, *, p_dot):
    """y = p⁽ᵐ⁾ (linear):  ẏ = ṗ⁽ᵐ⁾"""
    return np.polyder(p_dot, m)


@adjoint(np.polyint)
def polyint(y, p, m=1, k=None, *, y_bar):
    """m times q ← [q / (n, n−1, …, 1), kᵢ]:  backwards, k̄ᵢ = q̄'s last coefficient, q̄ = the
    others divided by the same exponents"""
    p_bar, k_bar = polyint_bars(y_bar, p, m, k)
    return p_bar, None, k_bar


@tangent(np.polyint)
def polyint_tangent(y, p, m=1, k=None, *, p_dot, k_dot):
    """y = ∫ᵐ p with constants k (linear in p and k):  ẏ = ∫ᵐ ṗ (constants 0)
    + ∫ᵐ 0 (constants k̇)"""
    return np.polyint(p_dot, m), polyint_constants_dot(k_dot, p, m)


@adjoint(np.polyfit, where={"full": False, "w": None, "cov": False})
def polyfit(p, x, y, deg, rcond=None, full=False, w=None, cov=False, *, p_bar):
    """p = argmin ‖A p − y‖, A = vander(x, deg + 1) of full column rank:  z = (AᵀA)⁻¹ p̄,
    ȳ = A z,  Ā = r zᵀ − ȳ pᵀ (r = y − A p),  x̄ from Ā through vander"""
    x_bar, y_bar = polyfit_bars(p_bar, p, x, y, deg, rcond)
    return x_bar, y_bar


@tangent(np.polyfit, where={"full": False, "w": None, "cov": False})
def polyfit_tangent(p, x, y, deg, rcond=None, full=False, w=None, cov=False, *, x_dot, y_dot):
    """p = (AᵀA)⁻¹ Aᵀ y, A = vander(x, deg + 1):  ṗ = (AᵀA)⁻¹ (Ȧᵀ r − Aᵀ Ȧ p + Aᵀ ẏ)"""
    x_term = polyfit_dot(p, x, y, x_dot, None, deg, rcond)
    y_term = polyfit_dot(p, x, y, None, y_dot, deg, rcond)
    return x_term, y_term
