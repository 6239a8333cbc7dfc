"""Adjoint rules for the densities and distribution functions of ``scipy.stats``, each followed
by its tangent rule (forward mode). Imported only where SciPy is installed.

A rule is keyed by the method of SciPy's distribution object (``scipy.stats.norm.logpdf``); a
frozen distribution (``norm(0, 1).logpdf``) is not recognised: pass the parameters to the
method. The location-scale form of a density: z = (x − loc) / scale, log f(x) = log f₀(z) −
log scale. With g = ∂ log f₀ / ∂z,

    x̄ = ȳ g / scale,   loc̄ = −ȳ g / scale,   scalē = −ȳ (z g + 1) / scale

for a log-density y = log f(x); for a density y = f(x) the same with ȳ y in place of ȳ (as
∂f = f ∂log f); for a distribution function y = F(x), with f the density at x:
x̄ = ȳ f,  loc̄ = −ȳ f,  scalē = −ȳ f z. Shape parameters with no derivative in closed form
(the degrees of freedom of ``t.cdf``, ``a`` of ``gamma.cdf``, ...) and discrete counts get no
gradient: differentiating with respect to one is refused, naming it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from overbar.runtime.helpers import broadcast_tangent, unbroadcast, zero_gradient
from overbar.runtime.helpers_scipy import covariance_matrix
from overbar.runtime.registry import VARIABLE, adjoint, tangent

LOG_2 = math.log(2.0)

# ---------------------------------------------------------------------------------------------
# The normal distribution: g = −z
# ---------------------------------------------------------------------------------------------


@adjoint(stats.norm.logpdf)
def norm_logpdf(y, x, loc=0, scale=1, *, y_bar):
    """y = log φ(z) − log scale, z = (x − loc) / scale:  x̄ = −ȳ z / scale,  loc̄ = ȳ z / scale,
    scalē = ȳ (z² − 1) / scale"""
    z = (x - loc) / scale
    return (
        unbroadcast(-y_bar * z / scale, x),
        unbroadcast(y_bar * z / scale, loc),
        unbroadcast(y_bar * (z * z - 1) / scale, scale),
    )


@tangent(stats.norm.logpdf)
def norm_logpdf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = log φ(z) − log scale:  ẏ = −z (ẋ − loċ) / scale + (z² − 1) scalė / scale"""
    z = (x - loc) / scale
    return -x_dot * z / scale, loc_dot * z / scale, scale_dot * (z * z - 1) / scale


@adjoint(stats.norm.pdf)
def norm_pdf(y, x, loc=0, scale=1, *, y_bar):
    """y = φ(z) / scale, z = (x − loc) / scale:  x̄ = −ȳ y z / scale,  loc̄ = ȳ y z / scale,
    scalē = ȳ y (z² − 1) / scale"""
    z = (x - loc) / scale
    return (
        unbroadcast(-y_bar * y * z / scale, x),
        unbroadcast(y_bar * y * z / scale, loc),
        unbroadcast(y_bar * y * (z * z - 1) / scale, scale),
    )


@tangent(stats.norm.pdf)
def norm_pdf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = φ(z) / scale:  ẏ = y (−z (ẋ − loċ) + (z² − 1) scalė) / scale"""
    z = (x - loc) / scale
    return -x_dot * y * z / scale, loc_dot * y * z / scale, scale_dot * y * (z * z - 1) / scale


@adjoint(stats.norm.cdf)
def norm_cdf(y, x, loc=0, scale=1, *, y_bar):
    """y = Φ(z), z = (x − loc) / scale, f = φ(z) / scale:  x̄ = ȳ f,  loc̄ = −ȳ f,
    scalē = −ȳ f z"""
    z = (x - loc) / scale
    density = stats.norm.pdf(x, loc, scale)
    return (
        unbroadcast(y_bar * density, x),
        unbroadcast(-y_bar * density, loc),
        unbroadcast(-y_bar * density * z, scale),
    )


@tangent(stats.norm.cdf)
def norm_cdf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = Φ(z), f = φ(z) / scale:  ẏ = f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.norm.pdf(x, loc, scale)
    return (
        broadcast_tangent(x_dot * density, y),
        broadcast_tangent(-loc_dot * density, y),
        -scale_dot * density * z,
    )


@adjoint(stats.norm.sf)
def norm_sf(y, x, loc=0, scale=1, *, y_bar):
    """y = 1 − Φ(z), z = (x − loc) / scale, f = φ(z) / scale:  x̄ = −ȳ f,  loc̄ = ȳ f,
    scalē = ȳ f z"""
    z = (x - loc) / scale
    density = stats.norm.pdf(x, loc, scale)
    return (
        unbroadcast(-y_bar * density, x),
        unbroadcast(y_bar * density, loc),
        unbroadcast(y_bar * density * z, scale),
    )


@tangent(stats.norm.sf)
def norm_sf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = 1 − Φ(z), f = φ(z) / scale:  ẏ = −f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.norm.pdf(x, loc, scale)
    return (
        broadcast_tangent(-x_dot * density, y),
        broadcast_tangent(loc_dot * density, y),
        scale_dot * density * z,
    )


@adjoint(stats.norm.logcdf)
def norm_logcdf(y, x, loc=0, scale=1, *, y_bar):
    """y = log Φ(z), z = (x − loc) / scale, r = f / Φ(z) = e^(log f − y):  x̄ = ȳ r,
    loc̄ = −ȳ r,  scalē = −ȳ r z"""
    z = (x - loc) / scale
    ratio = np.exp(stats.norm.logpdf(x, loc, scale) - y)
    return (
        unbroadcast(y_bar * ratio, x),
        unbroadcast(-y_bar * ratio, loc),
        unbroadcast(-y_bar * ratio * z, scale),
    )


@tangent(stats.norm.logcdf)
def norm_logcdf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = log Φ(z), r = e^(log f − y):  ẏ = r (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    ratio = np.exp(stats.norm.logpdf(x, loc, scale) - y)
    return x_dot * ratio, -loc_dot * ratio, -scale_dot * ratio * z


@adjoint(stats.norm.logsf)
def norm_logsf(y, x, loc=0, scale=1, *, y_bar):
    """y = log(1 − Φ(z)), z = (x − loc) / scale, r = e^(log f − y):  x̄ = −ȳ r,  loc̄ = ȳ r,
    scalē = ȳ r z"""
    z = (x - loc) / scale
    ratio = np.exp(stats.norm.logpdf(x, loc, scale) - y)
    return (
        unbroadcast(-y_bar * ratio, x),
        unbroadcast(y_bar * ratio, loc),
        unbroadcast(y_bar * ratio * z, scale),
    )


@tangent(stats.norm.logsf)
def norm_logsf_tangent(y, x, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = log(1 − Φ(z)), r = e^(log f − y):  ẏ = −r (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    ratio = np.exp(stats.norm.logpdf(x, loc, scale) - y)
    return -x_dot * ratio, loc_dot * ratio, scale_dot * ratio * z


# ---------------------------------------------------------------------------------------------
# Student's t with ν degrees of freedom: g = −(ν + 1) z / (ν + z²)
# ---------------------------------------------------------------------------------------------


@adjoint(stats.t.logpdf)
def t_logpdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − (ν+1)/2 log(1 + z²/ν) − log scale:
    with g = −(ν + 1) z / (ν + z²):  x̄ = ȳ g / scale,  loc̄ = −ȳ g / scale,
    scalē = −ȳ (z g + 1) / scale,
    ν̄ = ȳ (ψ((ν+1)/2) − ψ(ν/2) − 1/ν − log(1 + z²/ν) + (ν + 1) z² / (ν (ν + z²))) / 2"""
    z = (x - loc) / scale
    g = -(df + 1) * z / (df + z * z)
    df_slope = (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + (df + 1) * z * z / (df * (df + z * z))
    ) / 2
    return (
        unbroadcast(y_bar * g / scale, x),
        unbroadcast(y_bar * df_slope, df),
        unbroadcast(-y_bar * g / scale, loc),
        unbroadcast(-y_bar * (z * g + 1) / scale, scale),
    )


@tangent(stats.t.logpdf)
def t_logpdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, df_dot, loc_dot, scale_dot):
    """y = log f(x; ν, loc, scale), g = −(ν + 1) z / (ν + z²):
    ẏ = g (ẋ − loċ) / scale − (z g + 1) scalė / scale + ν̇ ∂y/∂ν (as in the adjoint rule)"""
    z = (x - loc) / scale
    g = -(df + 1) * z / (df + z * z)
    df_slope = (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + (df + 1) * z * z / (df * (df + z * z))
    ) / 2
    return (
        x_dot * g / scale,
        df_dot * df_slope,
        -loc_dot * g / scale,
        -scale_dot * (z * g + 1) / scale,
    )


@adjoint(stats.t.pdf)
def t_pdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = f(x; ν, loc, scale): as for t.logpdf with ȳ y in place of ȳ"""
    z = (x - loc) / scale
    g = -(df + 1) * z / (df + z * z)
    df_slope = (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + (df + 1) * z * z / (df * (df + z * z))
    ) / 2
    return (
        unbroadcast(y_bar * y * g / scale, x),
        unbroadcast(y_bar * y * df_slope, df),
        unbroadcast(-y_bar * y * g / scale, loc),
        unbroadcast(-y_bar * y * (z * g + 1) / scale, scale),
    )


@tangent(stats.t.pdf)
def t_pdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, df_dot, loc_dot, scale_dot):
    """y = f(x; ν, loc, scale): as for t.logpdf, times y"""
    z = (x - loc) / scale
    g = -(df + 1) * z / (df + z * z)
    df_slope = (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + (df + 1) * z * z / (df * (df + z * z))
    ) / 2
    return (
        x_dot * y * g / scale,
        df_dot * y * df_slope,
        -loc_dot * y * g / scale,
        -scale_dot * y * (z * g + 1) / scale,
    )


@adjoint(stats.t.cdf)
def t_cdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = F(z; ν), f = t.pdf(x, ν, loc, scale):  x̄ = ȳ f,  loc̄ = −ȳ f,  scalē = −ȳ f z
    (ν: none in closed form)"""
    z = (x - loc) / scale
    density = stats.t.pdf(x, df, loc, scale)
    return (
        unbroadcast(y_bar * density, x),
        None,
        unbroadcast(-y_bar * density, loc),
        unbroadcast(-y_bar * density * z, scale),
    )


@tangent(stats.t.cdf)
def t_cdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = F(z; ν), f the density at x:  ẏ = f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.t.pdf(x, df, loc, scale)
    return (
        broadcast_tangent(x_dot * density, y),
        broadcast_tangent(-loc_dot * density, y),
        broadcast_tangent(-scale_dot * density * z, y),
    )


@adjoint(stats.t.logcdf)
def t_logcdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = log F(z; ν), r = f / F = e^(log f − y):  x̄ = ȳ r,  loc̄ = −ȳ r,  scalē = −ȳ r z
    (ν: none in closed form)"""
    z = (x - loc) / scale
    ratio = np.exp(stats.t.logpdf(x, df, loc, scale) - y)
    return (
        unbroadcast(y_bar * ratio, x),
        None,
        unbroadcast(-y_bar * ratio, loc),
        unbroadcast(-y_bar * ratio * z, scale),
    )


@tangent(stats.t.logcdf)
def t_logcdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = log F(z; ν), r = e^(log f − y):  ẏ = r (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    ratio = np.exp(stats.t.logpdf(x, df, loc, scale) - y)
    return x_dot * ratio, -loc_dot * ratio, -scale_dot * ratio * z


# ---------------------------------------------------------------------------------------------
# Gamma (shape a), chi-squared (ν degrees of freedom) and beta (a, b) distributions
# ---------------------------------------------------------------------------------------------


@adjoint(stats.gamma.logpdf)
def gamma_logpdf(y, x, a, loc=0, scale=1, *, y_bar):
    """y = (a − 1) log z − z − log Γ(a) − log scale, g = (a − 1) / z − 1:  x̄ = ȳ g / scale,
    ā = ȳ (log z − ψ(a)),  loc̄ = −ȳ g / scale,  scalē = −ȳ (z g + 1) / scale"""
    z = (x - loc) / scale
    g = (a - 1) / z - 1
    return (
        unbroadcast(y_bar * g / scale, x),
        unbroadcast(y_bar * (np.log(z) - special.digamma(a)), a),
        unbroadcast(-y_bar * g / scale, loc),
        unbroadcast(-y_bar * (z * g + 1) / scale, scale),
    )


@tangent(stats.gamma.logpdf)
def gamma_logpdf_tangent(y, x, a, loc=0, scale=1, *, x_dot, a_dot, loc_dot, scale_dot):
    """y = (a − 1) log z − z − log Γ(a) − log scale, g = (a − 1) / z − 1:
    ẏ = g (ẋ − loċ) / scale + ȧ (log z − ψ(a)) − (z g + 1) scalė / scale"""
    z = (x - loc) / scale
    g = (a - 1) / z - 1
    return (
        x_dot * g / scale,
        a_dot * (np.log(z) - special.digamma(a)),
        -loc_dot * g / scale,
        -scale_dot * (z * g + 1) / scale,
    )


@adjoint(stats.gamma.pdf)
def gamma_pdf(y, x, a, loc=0, scale=1, *, y_bar):
    """y = f(x; a, loc, scale): as for gamma.logpdf with ȳ y in place of ȳ"""
    z = (x - loc) / scale
    g = (a - 1) / z - 1
    return (
        unbroadcast(y_bar * y * g / scale, x),
        unbroadcast(y_bar * y * (np.log(z) - special.digamma(a)), a),
        unbroadcast(-y_bar * y * g / scale, loc),
        unbroadcast(-y_bar * y * (z * g + 1) / scale, scale),
    )


@tangent(stats.gamma.pdf)
def gamma_pdf_tangent(y, x, a, loc=0, scale=1, *, x_dot, a_dot, loc_dot, scale_dot):
    """y = f(x; a, loc, scale): as for gamma.logpdf, times y"""
    z = (x - loc) / scale
    g = (a - 1) / z - 1
    return (
        x_dot * y * g / scale,
        a_dot * y * (np.log(z) - special.digamma(a)),
        -loc_dot * y * g / scale,
        -scale_dot * y * (z * g + 1) / scale,
    )


@adjoint(stats.gamma.cdf)
def gamma_cdf(y, x, a, loc=0, scale=1, *, y_bar):
    """y = P(a, z), f = gamma.pdf(x, a, loc, scale):  x̄ = ȳ f,  loc̄ = −ȳ f,  scalē = −ȳ f z
    (a: none in closed form)"""
    z = (x - loc) / scale
    density = stats.gamma.pdf(x, a, loc, scale)
    return (
        unbroadcast(y_bar * density, x),
        None,
        unbroadcast(-y_bar * density, loc),
        unbroadcast(-y_bar * density * z, scale),
    )


@tangent(stats.gamma.cdf)
def gamma_cdf_tangent(y, x, a, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = P(a, z), f the density at x:  ẏ = f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.gamma.pdf(x, a, loc, scale)
    return (
        broadcast_tangent(x_dot * density, y),
        broadcast_tangent(-loc_dot * density, y),
        broadcast_tangent(-scale_dot * density * z, y),
    )


@adjoint(stats.chi2.logpdf)
def chi2_logpdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = (ν/2 − 1) log z − z/2 − ν/2 log 2 − log Γ(ν/2) − log scale, g = (ν/2 − 1) / z − ½:
    x̄ = ȳ g / scale,  ν̄ = ȳ (log z − log 2 − ψ(ν/2)) / 2,  loc̄ = −ȳ g / scale,
    scalē = −ȳ (z g + 1) / scale"""
    z = (x - loc) / scale
    g = (df / 2 - 1) / z - 0.5
    return (
        unbroadcast(y_bar * g / scale, x),
        unbroadcast(y_bar * (np.log(z) - LOG_2 - special.digamma(df / 2)) / 2, df),
        unbroadcast(-y_bar * g / scale, loc),
        unbroadcast(-y_bar * (z * g + 1) / scale, scale),
    )


@tangent(stats.chi2.logpdf)
def chi2_logpdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, df_dot, loc_dot, scale_dot):
    """y = log f(x; ν, loc, scale), g = (ν/2 − 1) / z − ½:
    ẏ = g (ẋ − loċ) / scale + ν̇ (log z − log 2 − ψ(ν/2)) / 2 − (z g + 1) scalė / scale"""
    z = (x - loc) / scale
    g = (df / 2 - 1) / z - 0.5
    return (
        x_dot * g / scale,
        df_dot * (np.log(z) - LOG_2 - special.digamma(df / 2)) / 2,
        -loc_dot * g / scale,
        -scale_dot * (z * g + 1) / scale,
    )


@adjoint(stats.chi2.pdf)
def chi2_pdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = f(x; ν, loc, scale): as for chi2.logpdf with ȳ y in place of ȳ"""
    z = (x - loc) / scale
    g = (df / 2 - 1) / z - 0.5
    return (
        unbroadcast(y_bar * y * g / scale, x),
        unbroadcast(y_bar * y * (np.log(z) - LOG_2 - special.digamma(df / 2)) / 2, df),
        unbroadcast(-y_bar * y * g / scale, loc),
        unbroadcast(-y_bar * y * (z * g + 1) / scale, scale),
    )


@tangent(stats.chi2.pdf)
def chi2_pdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, df_dot, loc_dot, scale_dot):
    """y = f(x; ν, loc, scale): as for chi2.logpdf, times y"""
    z = (x - loc) / scale
    g = (df / 2 - 1) / z - 0.5
    return (
        x_dot * y * g / scale,
        df_dot * y * (np.log(z) - LOG_2 - special.digamma(df / 2)) / 2,
        -loc_dot * y * g / scale,
        -scale_dot * y * (z * g + 1) / scale,
    )


@adjoint(stats.chi2.cdf)
def chi2_cdf(y, x, df, loc=0, scale=1, *, y_bar):
    """y = P(ν/2, z/2), f = chi2.pdf(x, ν, loc, scale):  x̄ = ȳ f,  loc̄ = −ȳ f,
    scalē = −ȳ f z  (ν: none in closed form)"""
    z = (x - loc) / scale
    density = stats.chi2.pdf(x, df, loc, scale)
    return (
        unbroadcast(y_bar * density, x),
        None,
        unbroadcast(-y_bar * density, loc),
        unbroadcast(-y_bar * density * z, scale),
    )


@tangent(stats.chi2.cdf)
def chi2_cdf_tangent(y, x, df, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = P(ν/2, z/2), f the density at x:  ẏ = f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.chi2.pdf(x, df, loc, scale)
    return (
        broadcast_tangent(x_dot * density, y),
        broadcast_tangent(-loc_dot * density, y),
        broadcast_tangent(-scale_dot * density * z, y),
    )


@adjoint(stats.beta.logpdf)
def beta_logpdf(y, x, a, b, loc=0, scale=1, *, y_bar):
    """y = (a − 1) log z + (b − 1) log(1 − z) − log B(a, b) − log scale,
    g = (a − 1) / z − (b − 1) / (1 − z):  x̄ = ȳ g / scale,  ā = ȳ (log z − ψ(a) + ψ(a + b)),
    b̄ = ȳ (log(1 − z) − ψ(b) + ψ(a + b)),  loc̄ = −ȳ g / scale,  scalē = −ȳ (z g + 1) / scale"""
    z = (x - loc) / scale
    g = (a - 1) / z - (b - 1) / (1 - z)
    return (
        unbroadcast(y_bar * g / scale, x),
        unbroadcast(y_bar * (np.log(z) - special.digamma(a) + special.digamma(a + b)), a),
        unbroadcast(y_bar * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b)), b),
        unbroadcast(-y_bar * g / scale, loc),
        unbroadcast(-y_bar * (z * g + 1) / scale, scale),
    )


@tangent(stats.beta.logpdf)
def beta_logpdf_tangent(y, x, a, b, loc=0, scale=1, *, x_dot, a_dot, b_dot, loc_dot, scale_dot):
    """y = log f(x; a, b, loc, scale), g = (a − 1) / z − (b − 1) / (1 − z):
    ẏ = g (ẋ − loċ) / scale + ȧ (log z − ψ(a) + ψ(a + b)) + ḃ (log(1 − z) − ψ(b) + ψ(a + b))
    − (z g + 1) scalė / scale"""
    z = (x - loc) / scale
    g = (a - 1) / z - (b - 1) / (1 - z)
    return (
        x_dot * g / scale,
        a_dot * (np.log(z) - special.digamma(a) + special.digamma(a + b)),
        b_dot * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b)),
        -loc_dot * g / scale,
        -scale_dot * (z * g + 1) / scale,
    )


@adjoint(stats.beta.pdf)
def beta_pdf(y, x, a, b, loc=0, scale=1, *, y_bar):
    """y = f(x; a, b, loc, scale): as for beta.logpdf with ȳ y in place of ȳ"""
    z = (x - loc) / scale
    g = (a - 1) / z - (b - 1) / (1 - z)
    return (
        unbroadcast(y_bar * y * g / scale, x),
        unbroadcast(y_bar * y * (np.log(z) - special.digamma(a) + special.digamma(a + b)), a),
        unbroadcast(y_bar * y * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b)), b),
        unbroadcast(-y_bar * y * g / scale, loc),
        unbroadcast(-y_bar * y * (z * g + 1) / scale, scale),
    )


@tangent(stats.beta.pdf)
def beta_pdf_tangent(y, x, a, b, loc=0, scale=1, *, x_dot, a_dot, b_dot, loc_dot, scale_dot):
    """y = f(x; a, b, loc, scale): as for beta.logpdf, times y"""
    z = (x - loc) / scale
    g = (a - 1) / z - (b - 1) / (1 - z)
    return (
        x_dot * y * g / scale,
        a_dot * y * (np.log(z) - special.digamma(a) + special.digamma(a + b)),
        b_dot * y * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b)),
        -loc_dot * y * g / scale,
        -scale_dot * y * (z * g + 1) / scale,
    )


@adjoint(stats.beta.cdf)
def beta_cdf(y, x, a, b, loc=0, scale=1, *, y_bar):
    """y = I_z(a, b), f = beta.pdf(x, a, b, loc, scale):  x̄ = ȳ f,  loc̄ = −ȳ f,
    scalē = −ȳ f z  (a, b: none in closed form)"""
    z = (x - loc) / scale
    density = stats.beta.pdf(x, a, b, loc, scale)
    return (
        unbroadcast(y_bar * density, x),
        None,
        None,
        unbroadcast(-y_bar * density, loc),
        unbroadcast(-y_bar * density * z, scale),
    )


@tangent(stats.beta.cdf)
def beta_cdf_tangent(y, x, a, b, loc=0, scale=1, *, x_dot, loc_dot, scale_dot):
    """y = I_z(a, b), f the density at x:  ẏ = f (ẋ − loċ − z scalė)"""
    z = (x - loc) / scale
    density = stats.beta.pdf(x, a, b, loc, scale)
    return (
        broadcast_tangent(x_dot * density, y),
        broadcast_tangent(-loc_dot * density, y),
        broadcast_tangent(-scale_dot * density * z, y),
    )


# ---------------------------------------------------------------------------------------------
# The Poisson distribution, with respect to its rate μ (k a count: no gradient)
# ---------------------------------------------------------------------------------------------


@adjoint(stats.poisson.logpmf)
def poisson_logpmf(y, k, mu, loc=0, *, y_bar):
    """y = (k − loc) log μ − μ − log Γ(k − loc + 1):  μ̄ = ȳ ((k − loc) / μ − 1)  (k, loc: none)"""
    return None, unbroadcast(y_bar * ((k - loc) / mu - 1), mu)


@tangent(stats.poisson.logpmf)
def poisson_logpmf_tangent(y, k, mu, loc=0, *, mu_dot):
    """y = (k − loc) log μ − μ − log Γ(k − loc + 1):  ẏ = μ̇ ((k − loc) / μ − 1)"""
    return broadcast_tangent(mu_dot * ((k - loc) / mu - 1), y)


@adjoint(stats.poisson.pmf)
def poisson_pmf(y, k, mu, loc=0, *, y_bar):
    """y = μ^(k − loc) e^(−μ) / (k − loc)!:  μ̄ = ȳ y ((k − loc) / μ − 1)  (k, loc: none)"""
    return None, unbroadcast(y_bar * y * ((k - loc) / mu - 1), mu)


@tangent(stats.poisson.pmf)
def poisson_pmf_tangent(y, k, mu, loc=0, *, mu_dot):
    """y = μ^(k − loc) e^(−μ) / (k − loc)!:  ẏ = μ̇ y ((k − loc) / μ − 1)"""
    return mu_dot * y * ((k - loc) / mu - 1)


@adjoint(stats.poisson.cdf)
def poisson_cdf(y, k, mu, loc=0, *, y_bar):
    """y = Σ_(j ≤ k − loc) μʲ e^(−μ) / j! = Q(⌊k − loc⌋ + 1, μ):
    μ̄ = −ȳ pmf(⌊k − loc⌋; μ)  (k, loc: none)"""
    return None, unbroadcast(-y_bar * stats.poisson.pmf(np.floor(k - loc), mu), mu)


@tangent(stats.poisson.cdf)
def poisson_cdf_tangent(y, k, mu, loc=0, *, mu_dot):
    """y = Q(⌊k − loc⌋ + 1, μ):  ẏ = −μ̇ pmf(⌊k − loc⌋; μ)"""
    return broadcast_tangent(-mu_dot * stats.poisson.pmf(np.floor(k - loc), mu), y)


# ---------------------------------------------------------------------------------------------
# The multivariate normal (x: points in the last axis) and the Dirichlet distribution
# ---------------------------------------------------------------------------------------------


@adjoint(stats.multivariate_normal.logpdf, where={"allow_singular": False, "mean": VARIABLE})
def mvn_logpdf(y, x, mean=None, cov=1, allow_singular=False, *, y_bar):
    """y = −½ (d log 2π + log det Σ + rᵀ Σ⁻¹ r), r = x − μ (each point), q = Σ⁻¹ r, Σ the
    symmetric matrix of cov's lower triangle (the one SciPy reads):
    x̄ = −ȳ q,  μ̄ = Σ ȳ q (over the points),  M = ½ Σ ȳ q qᵀ − ½ (Σ ȳ) Σ⁻¹ folded onto the
    lower triangle:  cov̄ = tril(M) + tril(Mᵀ, −1)"""
    precision = np.linalg.inv(covariance_matrix(cov))
    q = (x - mean) @ precision
    weighted = np.expand_dims(y_bar, -1) * q
    m = (
        0.5
        * (
            np.reshape(q, (-1, np.shape(cov)[-1])).T
            @ np.reshape(weighted, (-1, np.shape(cov)[-1]))
        )
        - 0.5 * np.sum(y_bar) * precision
    )
    return (
        unbroadcast(-weighted, x),
        unbroadcast(weighted, mean),
        np.tril(m) + np.tril(m.T, -1),
    )


@tangent(stats.multivariate_normal.logpdf, where={"allow_singular": False, "mean": VARIABLE})
def mvn_logpdf_tangent(y, x, mean=None, cov=1, allow_singular=False, *, x_dot, mean_dot, cov_dot):
    """y = −½ (d log 2π + log det Σ + rᵀ Σ⁻¹ r), q = Σ⁻¹ r, Σ̇ made symmetric from its lower
    triangle (S):  ẏ = −q · (ẋ − μ̇) − ½ tr(Σ⁻¹ S) + ½ qᵀ S q"""
    precision = np.linalg.inv(covariance_matrix(cov))
    q = (x - mean) @ precision
    s = covariance_matrix(cov_dot)
    return (
        -np.sum(q * x_dot, axis=-1),
        broadcast_tangent(np.sum(q * mean_dot, axis=-1), y),
        0.5 * np.sum((q @ s) * q, axis=-1) - 0.5 * np.sum(precision * s),
    )


@adjoint(stats.multivariate_normal.pdf, where={"allow_singular": False, "mean": VARIABLE})
def mvn_pdf(y, x, mean=None, cov=1, allow_singular=False, *, y_bar):
    """y = e^(log f), log f as for multivariate_normal.logpdf: its adjoint with ȳ y in place
    of ȳ"""
    precision = np.linalg.inv(covariance_matrix(cov))
    q = (x - mean) @ precision
    weighted = np.expand_dims(y_bar * y, -1) * q
    m = (
        0.5
        * (
            np.reshape(q, (-1, np.shape(cov)[-1])).T
            @ np.reshape(weighted, (-1, np.shape(cov)[-1]))
        )
        - 0.5 * np.sum(y_bar * y) * precision
    )
    return (
        unbroadcast(-weighted, x),
        unbroadcast(weighted, mean),
        np.tril(m) + np.tril(m.T, -1),
    )


@tangent(stats.multivariate_normal.pdf, where={"allow_singular": False, "mean": VARIABLE})
def mvn_pdf_tangent(y, x, mean=None, cov=1, allow_singular=False, *, x_dot, mean_dot, cov_dot):
    """y = e^(log f):  ẏ = y (log f)˙, (log f)˙ as for multivariate_normal.logpdf"""
    precision = np.linalg.inv(covariance_matrix(cov))
    q = (x - mean) @ precision
    s = covariance_matrix(cov_dot)
    return (
        -y * np.sum(q * x_dot, axis=-1),
        broadcast_tangent(y * np.sum(q * mean_dot, axis=-1), y),
        y * (0.5 * np.sum((q @ s) * q, axis=-1) - 0.5 * np.sum(precision * s)),
    )


@adjoint(stats.multivariate_normal.entropy)
def mvn_entropy(h, mean=None, cov=1, *, h_bar):
    """h = ½ (d log(2π e) + log det Σ), Σ the symmetric matrix of cov's lower triangle (the
    one SciPy reads):  μ̄ = 0,  M = ½ h̄ Σ⁻¹ folded onto it:  cov̄ = tril(M) + tril(Mᵀ, −1)"""
    m = 0.5 * h_bar * np.linalg.inv(covariance_matrix(cov))
    return zero_gradient(mean), np.tril(m) + np.tril(m.T, -1)


@tangent(stats.multivariate_normal.entropy)
def mvn_entropy_tangent(h, mean=None, cov=1, *, mean_dot, cov_dot):
    """h = ½ (d log(2π e) + log det Σ):  ḣ = ½ tr(Σ⁻¹ S), S = Σ̇ made symmetric from its lower
    triangle  (μ: none flows, h does not depend on it)"""
    precision = np.linalg.inv(covariance_matrix(cov))
    return None, 0.5 * np.sum(precision * covariance_matrix(cov_dot))


@adjoint(stats.dirichlet.logpdf)
def dirichlet_logpdf(y, x, alpha, *, y_bar):
    """y = Σᵢ (αᵢ − 1) log xᵢ + log Γ(Σ α) − Σᵢ log Γ(αᵢ) (components along x's first axis):
    x̄ᵢ = ȳ (αᵢ − 1) / xᵢ,  ᾱᵢ = Σ ȳ (log xᵢ + ψ(Σ α) − ψ(αᵢ)) (over the points)"""
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    terms = y_bar * (np.log(x) + special.digamma(np.sum(alpha)) - special.digamma(column))
    return y_bar * (column - 1) / x, np.sum(terms, axis=tuple(range(1, np.ndim(x))))


@tangent(stats.dirichlet.logpdf)
def dirichlet_logpdf_tangent(y, x, alpha, x_dot, alpha_dot):
    """y = Σᵢ (αᵢ − 1) log xᵢ + log Γ(Σ α) − Σᵢ log Γ(αᵢ):
    ẏ = Σᵢ ẋᵢ (αᵢ − 1) / xᵢ + Σᵢ α̇ᵢ (log xᵢ + ψ(Σ α) − ψ(αᵢ))"""
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    column_dot = np.reshape(alpha_dot, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    return np.sum(x_dot * (column - 1) / x, axis=0), np.sum(
        column_dot * (np.log(x) + special.digamma(np.sum(alpha)) - special.digamma(column)),
        axis=0,
    )


@adjoint(stats.dirichlet.pdf)
def dirichlet_pdf(y, x, alpha, *, y_bar):
    """y = e^(log f), log f as for dirichlet.logpdf: its adjoint with ȳ y in place of ȳ"""
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    terms = y_bar * y * (np.log(x) + special.digamma(np.sum(alpha)) - special.digamma(column))
    return y_bar * y * (column - 1) / x, np.sum(terms, axis=tuple(range(1, np.ndim(x))))


@tangent(stats.dirichlet.pdf)
def dirichlet_pdf_tangent(y, x, alpha, x_dot, alpha_dot):
    """y = e^(log f):  ẏ = y (log f)˙, (log f)˙ as for dirichlet.logpdf"""
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    column_dot = np.reshape(alpha_dot, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    return y * np.sum(x_dot * (column - 1) / x, axis=0), y * np.sum(
        column_dot * (np.log(x) + special.digamma(np.sum(alpha)) - special.digamma(column)),
        axis=0,
    )
