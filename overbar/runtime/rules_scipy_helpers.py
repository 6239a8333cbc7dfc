"""Tangent rules of the runtime helpers SciPy's adjoint rules call (``helpers_scipy.py``): what
``hvp`` and ``hessian`` need to run forward mode over an adjoint that calls them. Imported only
where SciPy is installed."""

from __future__ import annotations

from overbar.runtime.helpers_scipy import (
    band_of,
    banded_matrix,
    cho_columns,
    convolution_embedded,
    convolved_back,
    covariance_matrix,
    one_system,
    unbatched,
)
from overbar.runtime.registry import tangent


@tangent(convolution_embedded)
def convolution_embedded_tangent(
    placed, z_bar, in1, in2, mode="full", *, z_bar_dot, in1_dot, in2_dot
):
    """Z̄ = z̄ placed in the full convolution's shape (linear in z̄):  Ż̄ = ż̄ placed alike
    (in1, in2: their shapes only)"""
    return convolution_embedded(z_bar_dot, in1, in2, mode), None, None


@tangent(convolved_back)
def convolved_back_tangent(
    operand_bar, full_bar, other, operand, method="auto", *, full_bar_dot, other_dot, operand_dot
):
    """ā = the valid part of Z̄ ∗ flip(b) (bilinear in Z̄ and b; a: its shape only):
    (ā)˙ = the valid part of Ż̄ ∗ flip(b) + Z̄ ∗ flip(ḃ)"""
    return (
        convolved_back(full_bar_dot, other, operand, method),
        convolved_back(full_bar, other_dot, operand, method),
        None,
    )


@tangent(covariance_matrix)
def covariance_matrix_tangent(sigma, cov, cov_dot):
    """Σ = tril(cov) + tril(cov, −1)ᵀ (linear in cov):  Σ̇ = tril(ċov) + tril(ċov, −1)ᵀ"""
    return covariance_matrix(cov_dot)


@tangent(one_system)
def one_system_tangent(checked, x_bar, a, b, function, x_bar_dot, a_dot, b_dot):
    """x̄ once a and b are checked to be one system (the identity in x̄; a, b: their shapes
    only):  the tangent of x̄"""
    return x_bar_dot, None, None


@tangent(unbatched)
def unbatched_tangent(checked, value, arrays, function, value_dot, arrays_dot):
    """the value once the arrays are checked to be no batch (the identity in the value; the
    arrays: their shapes only):  the value's tangent"""
    return value_dot, None


@tangent(banded_matrix)
def banded_matrix_tangent(matrix, ab, l_and_u, ab_dot):
    """A = the matrix of the band ab (linear in ab):  Ȧ = the matrix of the band ȧb"""
    return banded_matrix(ab_dot, l_and_u)


@tangent(band_of)
def band_of_tangent(band, m, ab, l_and_u, m_dot, ab_dot):
    """the band of m in ab's layout (linear in m; ab: its shape only):  the band of ṁ"""
    return band_of(m_dot, ab, l_and_u), None


@tangent(cho_columns)
def cho_columns_tangent(columns, v, c, v_dot, c_dot):
    """v as n × k columns (linear in v; c: its number of axes only):  v̇ as columns"""
    return cho_columns(v_dot, c), None
