"""Adjoint rules for SciPy's matrix functions (``scipy.linalg``) and its convolution
(``scipy.signal.convolve``), each followed by its tangent rule (forward mode). Imported only
where SciPy is installed.

Real matrices only, as in ``rules_linalg.py``; a function that reads one triangle of a matrix
(``cholesky``, ``solve_triangular``) gives an adjoint on that triangle alone, zero on the other,
so that the gradient is the derivative of the function as SciPy computes it.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, signal

from overbar.runtime.helpers_linalg import cholesky_bar, cholesky_dot
from overbar.runtime.helpers_math import of_real
from overbar.runtime.helpers_scipy import band_of, banded_matrix, convolution_embedded
from overbar.runtime.registry import adjoint, tangent

# ---------------------------------------------------------------------------------------------
# Matrix equations and functions
# ---------------------------------------------------------------------------------------------


@adjoint(linalg.solve_sylvester)
def solve_sylvester(x, a, b, q, x_bar):
    """X solves A X + X B = Q:  Q̄ solves Aᵀ Q̄ + Q̄ Bᵀ = X̄,  Ā = −Q̄ Xᵀ,  B̄ = −Xᵀ Q̄"""
    q_bar = linalg.solve_sylvester(a.T, b.T, x_bar)
    return -q_bar @ x.T, -x.T @ q_bar, q_bar


@tangent(linalg.solve_sylvester)
def solve_sylvester_tangent(x, a, b, q, a_dot, b_dot, q_dot):
    """X solves A X + X B = Q:  Ẋ solves A Ẋ + Ẋ B = Q̇ − Ȧ X − X Ḃ"""
    return (
        linalg.solve_sylvester(a, b, -a_dot @ x),
        linalg.solve_sylvester(a, b, -x @ b_dot),
        linalg.solve_sylvester(a, b, q_dot),
    )


@adjoint(linalg.sqrtm, where={"disp": None})
def sqrtm(s, A, disp=None, blocksize=None, *, s_bar):  # noqa: N803  (SciPy's name for it)
    """S = √A, the principal square root (S S = A, S real):  Ā solves Sᵀ Ā + Ā Sᵀ = S̄
    (a complex root refused)"""
    return of_real(linalg.solve_sylvester(s.T, s.T, s_bar), s, "scipy.linalg.sqrtm")


@tangent(linalg.sqrtm, where={"disp": None})
def sqrtm_tangent(s, A, disp=None, blocksize=None, *, A_dot):  # noqa: N803
    """S = √A (S S = A):  Ṡ solves S Ṡ + Ṡ S = Ȧ  (a complex root refused)"""
    return of_real(linalg.solve_sylvester(s, s, A_dot), s, "scipy.linalg.sqrtm")


@adjoint(linalg.expm)
def expm(e, A, e_bar):  # noqa: N803
    """E = exp(A):  Ā = L(Aᵀ, Ē), L(A, ·) the Fréchet derivative of exp at A"""
    return linalg.expm_frechet(A.T, e_bar, compute_expm=False)


@tangent(linalg.expm)
def expm_tangent(e, A, A_dot):  # noqa: N803
    """E = exp(A):  Ė = L(A, Ȧ), the Fréchet derivative of exp at A along Ȧ"""
    return linalg.expm_frechet(A, A_dot, compute_expm=False)


@adjoint(linalg.solve_triangular, where={"trans": 0, "lower": True})
def solve_lower_triangular(
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
    *,
    x_bar,
):
    """x solves T x = b, T the lower triangle of a (its diagonal ones for unit_diagonal):
    b̄ solves Tᵀ b̄ = x̄ (Tᵀ the upper triangle of aᵀ),  ā = −b̄ xᵀ on the triangle read (below
    the diagonal alone for unit_diagonal), 0 elsewhere"""
    b_bar = linalg.solve_triangular(a.T, x_bar, lower=False, unit_diagonal=unit_diagonal)
    n = np.shape(a)[0]
    outer = np.reshape(b_bar, (n, -1)) @ np.reshape(x, (n, -1)).T
    return -np.tril(outer, -unit_diagonal), b_bar


@tangent(linalg.solve_triangular, where={"trans": 0, "lower": True})
def solve_lower_triangular_tangent(
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
    *,
    a_dot,
    b_dot,
):
    """x solves T x = b, T the lower triangle of a:  ẋ solves T ẋ = ḃ − Ṫ x, Ṫ ȧ's triangle
    read"""
    return (
        linalg.solve_triangular(
            a, -np.tril(a_dot, -unit_diagonal) @ x, lower=True, unit_diagonal=unit_diagonal
        ),
        linalg.solve_triangular(a, b_dot, lower=True, unit_diagonal=unit_diagonal),
    )


@adjoint(linalg.solve_triangular, where={"trans": 0, "lower": False})
def solve_upper_triangular(
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
    *,
    x_bar,
):
    """x solves T x = b, T the upper triangle of a (its diagonal ones for unit_diagonal):
    b̄ solves Tᵀ b̄ = x̄ (Tᵀ the lower triangle of aᵀ),  ā = −b̄ xᵀ on the triangle read (above
    the diagonal alone for unit_diagonal), 0 elsewhere"""
    b_bar = linalg.solve_triangular(a.T, x_bar, lower=True, unit_diagonal=unit_diagonal)
    n = np.shape(a)[0]
    outer = np.reshape(b_bar, (n, -1)) @ np.reshape(x, (n, -1)).T
    return -np.triu(outer, unit_diagonal), b_bar


@tangent(linalg.solve_triangular, where={"trans": 0, "lower": False})
def solve_upper_triangular_tangent(
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
    *,
    a_dot,
    b_dot,
):
    """x solves T x = b, T the upper triangle of a:  ẋ solves T ẋ = ḃ − Ṫ x, Ṫ ȧ's triangle
    read"""
    return (
        linalg.solve_triangular(
            a, -np.triu(a_dot, unit_diagonal) @ x, lower=False, unit_diagonal=unit_diagonal
        ),
        linalg.solve_triangular(a, b_dot, lower=False, unit_diagonal=unit_diagonal),
    )


@adjoint(linalg.solve_banded)
def solve_banded(
    x, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True, *, x_bar
):
    """x solves A x = b, A the banded matrix ab holds (A[i, j] = ab[u + i − j, j]):
    b̄ solves Aᵀ b̄ = x̄,  āb = the band of −b̄ xᵀ in ab's layout (l and u: none)"""
    matrix = banded_matrix(ab, l_and_u)
    b_bar = np.linalg.solve(matrix.T, x_bar)
    n = np.shape(ab)[-1]
    outer = np.reshape(b_bar, (n, -1)) @ np.reshape(x, (n, -1)).T
    return None, band_of(-outer, ab, l_and_u), b_bar


@tangent(linalg.solve_banded)
def solve_banded_tangent(
    x, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True, *, ab_dot, b_dot
):
    """x solves A x = b, A the banded matrix of ab:  ẋ solves A ẋ = ḃ − Ȧ x, Ȧ the matrix of
    the band ȧb"""
    matrix = banded_matrix(ab, l_and_u)
    return (
        np.linalg.solve(matrix, -banded_matrix(ab_dot, l_and_u) @ x),
        np.linalg.solve(matrix, b_dot),
    )


@adjoint(linalg.cholesky)
def cholesky(factor, a, lower=False, overwrite_a=False, check_finite=True, *, factor_bar):
    """U = cholesky(A), A = Uᵀ U (L = cholesky(A, lower=True), A = L Lᵀ): as for
    np.linalg.cholesky, Ā folded onto the triangle SciPy reads (the upper one by default)"""
    return cholesky_bar(factor_bar, factor, not lower)


@tangent(linalg.cholesky)
def cholesky_tangent(factor, a, lower=False, overwrite_a=False, check_finite=True, *, a_dot):
    """U = cholesky(A) (L for lower=True): as for np.linalg.cholesky, Ȧ made symmetric from
    the triangle SciPy reads"""
    return cholesky_dot(a_dot, factor, not lower)


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------


@adjoint(signal.convolve)
def convolve(z, in1, in2, mode="full", method="auto", *, z_bar):
    """z = in1 ∗ in2 (N-d), the part mode keeps of the full convolution; Z̄ = z̄ placed where
    it sits in the full convolution, zeros elsewhere:  in1̄ = Z̄ ∗ flip(in2),
    in2̄ = Z̄ ∗ flip(in1), each the valid part"""
    full_bar = convolution_embedded(z_bar, in1, in2, mode)
    return (
        signal.convolve(full_bar, np.flip(in2), "valid", method),
        signal.convolve(full_bar, np.flip(in1), "valid", method),
    )


@tangent(signal.convolve)
def convolve_tangent(z, in1, in2, mode="full", method="auto", *, in1_dot, in2_dot):
    """z = in1 ∗ in2 (bilinear):  ż = in1̇ ∗ in2 + in1 ∗ in2̇, the part mode keeps"""
    return signal.convolve(in1_dot, in2, mode, method), signal.convolve(in1, in2_dot, mode, method)
