"""Adjoint rules for SciPy's special functions, distributions and matrix functions, each followed
by its tangent rule (forward mode). Imported only where SciPy is installed (``pip install
overbar[scipy]``): overbar itself does not need it.

Written like ``rules.py``: the docstring states the math in bar notation and the body mirrors
it; the compiler inlines the body into the generated code, which reads ``special.gammaln``,
``stats.norm.pdf`` and ``linalg.solve_sylvester`` as SciPy's own functions. ψ is the digamma
function Γ′/Γ, ψ⁽ⁿ⁾ the polygamma functions, φ and Φ the standard normal density and
distribution function.

A function is recognised however the user reaches it: ``from scipy.special import gammaln``,
``import scipy.special as sp`` then ``sp.gammaln``, or ``scipy.special.gammaln`` (the rule is
keyed by the function object). A distribution's methods are those of SciPy's distribution
objects (``scipy.stats.norm.logpdf``); a frozen distribution (``norm(0, 1).logpdf``) is not
recognised: pass the parameters to the method instead.

Arguments with no derivative in closed form (the order ``v`` of a Bessel function, the first
argument ``a`` of ``gammainc``, ``a`` and ``b`` of ``betainc``, the integer ``n`` of
``polygamma``, the degrees of freedom of ``t.cdf``, the count ``k`` of ``poisson``) get none: a
function differentiated with respect to one of them is refused, naming the argument. The
distributions' location-scale form is z = (x − loc) / scale, log f(x) = log f₀(z) − log scale;
with g = ∂log f₀/∂z:  x̄ = ȳ g / scale,  loc̄ = −ȳ g / scale,  scalē = −ȳ (z g + 1) / scale for
a log-density (ȳ y in place of ȳ for a density).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from overbar.runtime.helpers import broadcast_tangent, expand_reduced, unbroadcast
from overbar.runtime.registry import adjoint, non_differentiable, tangent
from overbar.runtime.shapes import SHAPE_RULES, Operand, _reduction, _same

SQRT_PI = math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2 * math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

# ---------------------------------------------------------------------------------------------
# Logistic functions, log-sum-exp and softmax
# ---------------------------------------------------------------------------------------------


@adjoint(special.expit)
def expit(y, x, y_bar):
    """y = σ(x) = 1 / (1 + e⁻ˣ):  x̄ = ȳ y (1 − y)"""
    return y_bar * y * (1 - y)


@tangent(special.expit)
def expit_tangent(y, x, x_dot):
    """y = σ(x):  ẏ = ẋ y (1 − y)"""
    return x_dot * y * (1 - y)


@adjoint(special.logit)
def logit(y, x, y_bar):
    """y = log(x / (1 − x)):  x̄ = ȳ / (x (1 − x))"""
    return y_bar / (x * (1 - x))


@tangent(special.logit)
def logit_tangent(y, x, x_dot):
    """y = log(x / (1 − x)):  ẏ = ẋ / (x (1 − x))"""
    return x_dot / (x * (1 - x))


@adjoint(special.log_expit)
def log_expit(y, x, y_bar):
    """y = log σ(x):  x̄ = ȳ σ(−x)"""
    return y_bar * special.expit(-x)


@tangent(special.log_expit)
def log_expit_tangent(y, x, x_dot):
    """y = log σ(x):  ẏ = ẋ σ(−x)"""
    return x_dot * special.expit(-x)


def _logsumexp_shape(
    a: Operand,
    axis: Operand | None = None,
    b: Operand | None = None,
    keepdims: Operand | None = None,
    return_sign: Operand | None = None,
):
    """The shape of ``logsumexp(a, axis, keepdims=k)``: a's reduced over axis, as np.sum's
    (not followed with weights b, which broadcast with a, or with a sign returned)."""
    for given, default in ((b, None), (return_sign, False)):
        if given is not None and not (given.constant and given.value is default):
            return None
    positional = [] if axis is None else [axis]
    return _reduction(a, *positional, **({} if keepdims is None else {"keepdims": keepdims}))


# What shape inference knows of their results: log-sum-exp is a reduction, softmax keeps a's.
SHAPE_RULES[special.logsumexp] = _logsumexp_shape
SHAPE_RULES[special.softmax] = _same
SHAPE_RULES[special.log_softmax] = _same


@adjoint(special.logsumexp, where={"b": None, "return_sign": False})
def logsumexp(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, y_bar):
    """y = log Σ e^a over axis:  ā = ȳ e^(a − y)  (ȳ and y broadcast back over axis)"""
    return expand_reduced(y_bar, a, axis, keepdims) * np.exp(
        a - expand_reduced(y, a, axis, keepdims)
    )


@tangent(special.logsumexp, where={"b": None, "return_sign": False})
def logsumexp_tangent(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, a_dot):
    """y = log Σ e^a over axis:  ẏ = Σ ȧ e^(a − y) over axis"""
    return np.sum(
        a_dot * np.exp(a - expand_reduced(y, a, axis, keepdims)), axis=axis, keepdims=keepdims
    )


@adjoint(special.logsumexp, where={"return_sign": False})
def weighted_logsumexp(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, y_bar):
    """y = log Σ b e^a over axis, a and b broadcast together:  ā = ȳ b e^(a − y),
    b̄ = ȳ e^(a − y)  (ȳ and y broadcast back over axis of the broadcast a, each adjoint
    summed back to its operand's shape: b may be the larger)"""
    spread = a + np.zeros_like(b)  # a, broadcast to the shape it takes with b
    share = expand_reduced(y_bar, spread, axis, keepdims) * np.exp(
        spread - expand_reduced(y, spread, axis, keepdims)
    )
    return unbroadcast(share * b, a), None, unbroadcast(share, b)


@tangent(special.logsumexp, where={"return_sign": False})
def weighted_logsumexp_tangent(
    y, a, axis=None, b=None, keepdims=False, return_sign=False, *, a_dot, b_dot
):
    """y = log Σ b e^a over axis, a and b broadcast together:  ẏ = Σ (ȧ b + ḃ) e^(a − y)
    over axis"""
    spread = a + np.zeros_like(b)  # a, broadcast to the shape it takes with b
    share = np.exp(spread - expand_reduced(y, spread, axis, keepdims))
    return (
        np.sum(a_dot * b * share, axis=axis, keepdims=keepdims),
        np.sum(b_dot * share, axis=axis, keepdims=keepdims),
    )


@adjoint(special.softmax)
def softmax(y, x, axis=None, *, y_bar):
    """y = e^x / Σ e^x over axis:  x̄ = y (ȳ − Σ ȳ y over axis)"""
    return y * (y_bar - np.sum(y_bar * y, axis=axis, keepdims=True))


@tangent(special.softmax)
def softmax_tangent(y, x, axis=None, *, x_dot):
    """y = e^x / Σ e^x over axis:  ẏ = y (ẋ − Σ y ẋ over axis)"""
    return y * (x_dot - np.sum(y * x_dot, axis=axis, keepdims=True))


@adjoint(special.log_softmax)
def log_softmax(y, x, axis=None, *, y_bar):
    """y = x − log Σ e^x over axis:  x̄ = ȳ − e^y Σ ȳ over axis"""
    return y_bar - np.exp(y) * np.sum(y_bar, axis=axis, keepdims=True)


@tangent(special.log_softmax)
def log_softmax_tangent(y, x, axis=None, *, x_dot):
    """y = x − log Σ e^x over axis:  ẏ = ẋ − Σ e^y ẋ over axis"""
    return x_dot - np.sum(np.exp(y) * x_dot, axis=axis, keepdims=True)


@adjoint(special.xlogy)
def xlogy(z, x, y, z_bar):
    """z = x log y (0 where x = 0):  x̄ = z̄ log y,  ȳ = z̄ x / y"""
    return unbroadcast(z_bar * np.log(y), x), unbroadcast(z_bar * x / y, y)


@tangent(special.xlogy)
def xlogy_tangent(z, x, y, x_dot, y_dot):
    """z = x log y:  ż = ẋ log y + ẏ x / y"""
    return x_dot * np.log(y), y_dot * x / y


@adjoint(special.xlog1py)
def xlog1py(z, x, y, z_bar):
    """z = x log(1 + y) (0 where x = 0):  x̄ = z̄ log(1 + y),  ȳ = z̄ x / (1 + y)"""
    return unbroadcast(z_bar * np.log1p(y), x), unbroadcast(z_bar * x / (1 + y), y)


@tangent(special.xlog1py)
def xlog1py_tangent(z, x, y, x_dot, y_dot):
    """z = x log(1 + y):  ż = ẋ log(1 + y) + ẏ x / (1 + y)"""
    return x_dot * np.log1p(y), y_dot * x / (1 + y)


# ---------------------------------------------------------------------------------------------
# The gamma function and its relatives
# ---------------------------------------------------------------------------------------------


@adjoint(special.gammaln)
def gammaln(y, x, y_bar):
    """y = log |Γ(x)|:  x̄ = ȳ ψ(x)"""
    return y_bar * special.digamma(x)


@tangent(special.gammaln)
def gammaln_tangent(y, x, x_dot):
    """y = log |Γ(x)|:  ẏ = ẋ ψ(x)"""
    return x_dot * special.digamma(x)


@adjoint(special.gamma)
def gamma_function(y, x, y_bar):
    """y = Γ(x):  x̄ = ȳ y ψ(x)"""
    return y_bar * y * special.digamma(x)


@tangent(special.gamma)
def gamma_function_tangent(y, x, x_dot):
    """y = Γ(x):  ẏ = ẋ y ψ(x)"""
    return x_dot * y * special.digamma(x)


@adjoint(special.rgamma)
def rgamma(y, x, y_bar):
    """y = 1 / Γ(x):  x̄ = −ȳ y ψ(x)  (0 at the poles of Γ, where y = 0)"""
    return -y_bar * y * special.digamma(x)


@tangent(special.rgamma)
def rgamma_tangent(y, x, x_dot):
    """y = 1 / Γ(x):  ẏ = −ẋ y ψ(x)"""
    return -x_dot * y * special.digamma(x)


@adjoint(special.digamma)
def digamma(y, x, y_bar):
    """y = ψ(x) (also spelled psi):  x̄ = ȳ ψ⁽¹⁾(x)"""
    return y_bar * special.polygamma(1, x)


@tangent(special.digamma)
def digamma_tangent(y, x, x_dot):
    """y = ψ(x):  ẏ = ẋ ψ⁽¹⁾(x)"""
    return x_dot * special.polygamma(1, x)


@adjoint(special.polygamma)
def polygamma(y, n, x, y_bar):
    """y = ψ⁽ⁿ⁾(x), n a whole number:  x̄ = ȳ ψ⁽ⁿ⁺¹⁾(x)  (n: none)"""
    return None, unbroadcast(y_bar * special.polygamma(n + 1, x), x)


@tangent(special.polygamma)
def polygamma_tangent(y, n, x, x_dot):
    """y = ψ⁽ⁿ⁾(x):  ẏ = ẋ ψ⁽ⁿ⁺¹⁾(x)"""
    return broadcast_tangent(x_dot * special.polygamma(n + 1, x), y)


@adjoint(special.multigammaln)
def multigammaln(y, a, d, y_bar):
    """y = log Γ_d(a) = d (d − 1)/4 log π + Σⱼ log Γ(a − j/2), j = 0 … d − 1:
    ā = ȳ Σⱼ ψ(a − j/2)  (d: none)"""
    return y_bar * np.sum(special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


@tangent(special.multigammaln)
def multigammaln_tangent(y, a, d, a_dot):
    """y = log Γ_d(a):  ẏ = ȧ Σⱼ ψ(a − j/2), j = 0 … d − 1"""
    return a_dot * np.sum(special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


@adjoint(special.beta)
def beta_function(z, a, b, z_bar):
    """z = B(a, b) = Γ(a) Γ(b) / Γ(a + b):  ā = z̄ z (ψ(a) − ψ(a + b)),
    b̄ = z̄ z (ψ(b) − ψ(a + b))"""
    return (
        unbroadcast(z_bar * z * (special.digamma(a) - special.digamma(a + b)), a),
        unbroadcast(z_bar * z * (special.digamma(b) - special.digamma(a + b)), b),
    )


@tangent(special.beta)
def beta_function_tangent(z, a, b, a_dot, b_dot):
    """z = B(a, b):  ż = z (ȧ (ψ(a) − ψ(a + b)) + ḃ (ψ(b) − ψ(a + b)))"""
    return (
        a_dot * z * (special.digamma(a) - special.digamma(a + b)),
        b_dot * z * (special.digamma(b) - special.digamma(a + b)),
    )


@adjoint(special.betaln)
def betaln(z, a, b, z_bar):
    """z = log |B(a, b)|:  ā = z̄ (ψ(a) − ψ(a + b)),  b̄ = z̄ (ψ(b) − ψ(a + b))"""
    return (
        unbroadcast(z_bar * (special.digamma(a) - special.digamma(a + b)), a),
        unbroadcast(z_bar * (special.digamma(b) - special.digamma(a + b)), b),
    )


@tangent(special.betaln)
def betaln_tangent(z, a, b, a_dot, b_dot):
    """z = log |B(a, b)|:  ż = ȧ (ψ(a) − ψ(a + b)) + ḃ (ψ(b) − ψ(a + b))"""
    return (
        broadcast_tangent(a_dot * (special.digamma(a) - special.digamma(a + b)), z),
        broadcast_tangent(b_dot * (special.digamma(b) - special.digamma(a + b)), z),
    )


@adjoint(special.gammainc)
def gammainc(y, a, x, y_bar):
    """y = P(a, x) = γ(a, x) / Γ(a):  x̄ = ȳ e⁻ˣ x^(a−1) / Γ(a)  (a: none in closed form)"""
    return None, unbroadcast(y_bar * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), x)


@tangent(special.gammainc)
def gammainc_tangent(y, a, x, x_dot):
    """y = P(a, x):  ẏ = ẋ e⁻ˣ x^(a−1) / Γ(a)"""
    return broadcast_tangent(x_dot * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), y)


@adjoint(special.gammaincc)
def gammaincc(y, a, x, y_bar):
    """y = Q(a, x) = 1 − P(a, x):  x̄ = −ȳ e⁻ˣ x^(a−1) / Γ(a)  (a: none in closed form)"""
    return None, unbroadcast(-y_bar * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), x)


@tangent(special.gammaincc)
def gammaincc_tangent(y, a, x, x_dot):
    """y = Q(a, x):  ẏ = −ẋ e⁻ˣ x^(a−1) / Γ(a)"""
    return broadcast_tangent(-x_dot * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), y)


@adjoint(special.betainc)
def betainc(y, a, b, x, y_bar):
    """y = I_x(a, b):  x̄ = ȳ x^(a−1) (1 − x)^(b−1) / B(a, b)  (a, b: none in closed form)"""
    return (
        None,
        None,
        unbroadcast(
            y_bar
            * np.exp(special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)),
            x,
        ),
    )


@tangent(special.betainc)
def betainc_tangent(y, a, b, x, x_dot):
    """y = I_x(a, b):  ẏ = ẋ x^(a−1) (1 − x)^(b−1) / B(a, b)"""
    return broadcast_tangent(
        x_dot
        * np.exp(special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)),
        y,
    )


non_differentiable(special.gammasgn)

# ---------------------------------------------------------------------------------------------
# Error functions and the normal distribution function
# ---------------------------------------------------------------------------------------------


@adjoint(special.erf)
def erf(y, x, y_bar):
    """y = erf(x):  x̄ = ȳ 2 e^(−x²) / √π"""
    return y_bar * 2 * np.exp(-x * x) / SQRT_PI


@tangent(special.erf)
def erf_tangent(y, x, x_dot):
    """y = erf(x):  ẏ = ẋ 2 e^(−x²) / √π"""
    return x_dot * 2 * np.exp(-x * x) / SQRT_PI


@adjoint(special.erfc)
def erfc(y, x, y_bar):
    """y = erfc(x) = 1 − erf(x):  x̄ = −ȳ 2 e^(−x²) / √π"""
    return -y_bar * 2 * np.exp(-x * x) / SQRT_PI


@tangent(special.erfc)
def erfc_tangent(y, x, x_dot):
    """y = erfc(x):  ẏ = −ẋ 2 e^(−x²) / √π"""
    return -x_dot * 2 * np.exp(-x * x) / SQRT_PI


@adjoint(special.erfcx)
def erfcx(y, x, y_bar):
    """y = e^(x²) erfc(x):  x̄ = ȳ (2 x y − 2 / √π)"""
    return y_bar * (2 * x * y - 2 / SQRT_PI)


@tangent(special.erfcx)
def erfcx_tangent(y, x, x_dot):
    """y = e^(x²) erfc(x):  ẏ = ẋ (2 x y − 2 / √π)"""
    return x_dot * (2 * x * y - 2 / SQRT_PI)


@adjoint(special.erfinv)
def erfinv(y, x, y_bar):
    """y = erf⁻¹(x):  x̄ = ȳ √π e^(y²) / 2"""
    return y_bar * SQRT_PI * np.exp(y * y) / 2


@tangent(special.erfinv)
def erfinv_tangent(y, x, x_dot):
    """y = erf⁻¹(x):  ẏ = ẋ √π e^(y²) / 2"""
    return x_dot * SQRT_PI * np.exp(y * y) / 2


@adjoint(special.erfcinv)
def erfcinv(y, x, y_bar):
    """y = erfc⁻¹(x):  x̄ = −ȳ √π e^(y²) / 2"""
    return -y_bar * SQRT_PI * np.exp(y * y) / 2


@tangent(special.erfcinv)
def erfcinv_tangent(y, x, x_dot):
    """y = erfc⁻¹(x):  ẏ = −ẋ √π e^(y²) / 2"""
    return -x_dot * SQRT_PI * np.exp(y * y) / 2


@adjoint(special.ndtr)
def ndtr(y, x, y_bar):
    """y = Φ(x):  x̄ = ȳ φ(x) = ȳ e^(−x²/2) / √(2π)"""
    return y_bar * np.exp(-x * x / 2) / SQRT_2PI


@tangent(special.ndtr)
def ndtr_tangent(y, x, x_dot):
    """y = Φ(x):  ẏ = ẋ e^(−x²/2) / √(2π)"""
    return x_dot * np.exp(-x * x / 2) / SQRT_2PI


@adjoint(special.log_ndtr)
def log_ndtr(y, x, y_bar):
    """y = log Φ(x):  x̄ = ȳ φ(x) / Φ(x) = ȳ e^(−x²/2 − log √(2π) − y)"""
    return y_bar * np.exp(-x * x / 2 - LOG_SQRT_2PI - y)


@tangent(special.log_ndtr)
def log_ndtr_tangent(y, x, x_dot):
    """y = log Φ(x):  ẏ = ẋ e^(−x²/2 − log √(2π) − y)"""
    return x_dot * np.exp(-x * x / 2 - LOG_SQRT_2PI - y)


@adjoint(special.ndtri)
def ndtri(y, x, y_bar):
    """y = Φ⁻¹(x):  x̄ = ȳ / φ(y) = ȳ √(2π) e^(y²/2)"""
    return y_bar * SQRT_2PI * np.exp(y * y / 2)


@tangent(special.ndtri)
def ndtri_tangent(y, x, x_dot):
    """y = Φ⁻¹(x):  ẏ = ẋ √(2π) e^(y²/2)"""
    return x_dot * SQRT_2PI * np.exp(y * y / 2)


# ---------------------------------------------------------------------------------------------
# Bessel functions (of real order v and argument x; the order gets no gradient)
# ---------------------------------------------------------------------------------------------


@adjoint(special.j0)
def j0(y, x, y_bar):
    """y = J₀(x):  x̄ = −ȳ J₁(x)"""
    return -y_bar * special.j1(x)


@tangent(special.j0)
def j0_tangent(y, x, x_dot):
    """y = J₀(x):  ẏ = −ẋ J₁(x)"""
    return -x_dot * special.j1(x)


@adjoint(special.j1)
def j1(y, x, y_bar):
    """y = J₁(x):  x̄ = ȳ (J₀(x) − J₂(x)) / 2"""
    return y_bar * (special.j0(x) - special.jv(2, x)) / 2


@tangent(special.j1)
def j1_tangent(y, x, x_dot):
    """y = J₁(x):  ẏ = ẋ (J₀(x) − J₂(x)) / 2"""
    return x_dot * (special.j0(x) - special.jv(2, x)) / 2


@adjoint(special.y0)
def y0(y, x, y_bar):
    """y = Y₀(x):  x̄ = −ȳ Y₁(x)"""
    return -y_bar * special.y1(x)


@tangent(special.y0)
def y0_tangent(y, x, x_dot):
    """y = Y₀(x):  ẏ = −ẋ Y₁(x)"""
    return -x_dot * special.y1(x)


@adjoint(special.y1)
def y1(y, x, y_bar):
    """y = Y₁(x):  x̄ = ȳ (Y₀(x) − Y₂(x)) / 2"""
    return y_bar * (special.y0(x) - special.yv(2, x)) / 2


@tangent(special.y1)
def y1_tangent(y, x, x_dot):
    """y = Y₁(x):  ẏ = ẋ (Y₀(x) − Y₂(x)) / 2"""
    return x_dot * (special.y0(x) - special.yv(2, x)) / 2


@adjoint(special.jv)
def jv(y, v, x, y_bar):
    """y = J_v(x) (also spelled jn):  x̄ = ȳ (J_(v−1)(x) − J_(v+1)(x)) / 2  (v: none)"""
    return None, unbroadcast(y_bar * (special.jv(v - 1, x) - special.jv(v + 1, x)) / 2, x)


@tangent(special.jv)
def jv_tangent(y, v, x, x_dot):
    """y = J_v(x):  ẏ = ẋ (J_(v−1)(x) − J_(v+1)(x)) / 2"""
    return broadcast_tangent(x_dot * (special.jv(v - 1, x) - special.jv(v + 1, x)) / 2, y)


@adjoint(special.yv, special.yn)
def yv(y, v, x, y_bar):
    """y = Y_v(x) (yn for a whole v):  x̄ = ȳ (Y_(v−1)(x) − Y_(v+1)(x)) / 2  (v: none)"""
    return None, unbroadcast(y_bar * (special.yv(v - 1, x) - special.yv(v + 1, x)) / 2, x)


@tangent(special.yv, special.yn)
def yv_tangent(y, v, x, x_dot):
    """y = Y_v(x):  ẏ = ẋ (Y_(v−1)(x) − Y_(v+1)(x)) / 2"""
    return broadcast_tangent(x_dot * (special.yv(v - 1, x) - special.yv(v + 1, x)) / 2, y)


@adjoint(special.i0)
def i0(y, x, y_bar):
    """y = I₀(x):  x̄ = ȳ I₁(x)"""
    return y_bar * special.i1(x)


@tangent(special.i0)
def i0_tangent(y, x, x_dot):
    """y = I₀(x):  ẏ = ẋ I₁(x)"""
    return x_dot * special.i1(x)


@adjoint(special.i1)
def i1(y, x, y_bar):
    """y = I₁(x):  x̄ = ȳ (I₀(x) + I₂(x)) / 2"""
    return y_bar * (special.i0(x) + special.iv(2, x)) / 2


@tangent(special.i1)
def i1_tangent(y, x, x_dot):
    """y = I₁(x):  ẏ = ẋ (I₀(x) + I₂(x)) / 2"""
    return x_dot * (special.i0(x) + special.iv(2, x)) / 2


@adjoint(special.iv)
def iv(y, v, x, y_bar):
    """y = I_v(x):  x̄ = ȳ (I_(v−1)(x) + I_(v+1)(x)) / 2  (v: none)"""
    return None, unbroadcast(y_bar * (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2, x)


@tangent(special.iv)
def iv_tangent(y, v, x, x_dot):
    """y = I_v(x):  ẏ = ẋ (I_(v−1)(x) + I_(v+1)(x)) / 2"""
    return broadcast_tangent(x_dot * (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2, y)


@adjoint(special.i0e)
def i0e(y, x, y_bar):
    """y = e^(−|x|) I₀(x):  x̄ = ȳ (e^(−|x|) I₁(x) − sign(x) y)"""
    return y_bar * (special.i1e(x) - np.sign(x) * y)


@tangent(special.i0e)
def i0e_tangent(y, x, x_dot):
    """y = e^(−|x|) I₀(x):  ẏ = ẋ (e^(−|x|) I₁(x) − sign(x) y)"""
    return x_dot * (special.i1e(x) - np.sign(x) * y)


@adjoint(special.i1e)
def i1e(y, x, y_bar):
    """y = e^(−|x|) I₁(x):  x̄ = ȳ (e^(−|x|) (I₀(x) + I₂(x)) / 2 − sign(x) y)"""
    return y_bar * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * y)


@tangent(special.i1e)
def i1e_tangent(y, x, x_dot):
    """y = e^(−|x|) I₁(x):  ẏ = ẋ (e^(−|x|) (I₀(x) + I₂(x)) / 2 − sign(x) y)"""
    return x_dot * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * y)


@adjoint(special.ive)
def ive(y, v, x, y_bar):
    """y = e^(−|x|) I_v(x):  x̄ = ȳ (e^(−|x|) (I_(v−1)(x) + I_(v+1)(x)) / 2 − sign(x) y)
    (v: none)"""
    return None, unbroadcast(
        y_bar * ((special.ive(v - 1, x) + special.ive(v + 1, x)) / 2 - np.sign(x) * y), x
    )


@tangent(special.ive)
def ive_tangent(y, v, x, x_dot):
    """y = e^(−|x|) I_v(x):  ẏ = ẋ (e^(−|x|) (I_(v−1)(x) + I_(v+1)(x)) / 2 − sign(x) y)"""
    return broadcast_tangent(
        x_dot * ((special.ive(v - 1, x) + special.ive(v + 1, x)) / 2 - np.sign(x) * y), y
    )
