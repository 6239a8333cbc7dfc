"""Adjoint rules for SciPy's matrix functions (``scipy.linalg``), each followed by its tangent
rule (forward mode). Registered where the program has imported ``scipy.linalg``
(``runtime.load_scipy_rules``).

Real matrices only, as in ``rules_linalg.py``; a function that reads one triangle of a matrix
(``cholesky``, ``solve_triangular``) gives an adjoint on that triangle alone, zero on the other,
so that the gradient is the derivative of the function as SciPy computes it.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from overbar.runtime.helpers import zero_tangent
from overbar.runtime.helpers_linalg import cholesky_bar, cholesky_dot
from overbar.runtime.helpers_math import of_real
from overbar.runtime.helpers_scipy import (
    band_of,
    banded_matrix,
    cho_columns,
    one_system,
    unbatched,
)
from overbar.runtime.registry import adjoint, tangent
from overbar.runtime.shapes import SHAPE_RULES, Operand, Sequence

# ---------------------------------------------------------------------------------------------
# Matrix equations and functions
# ---------------------------------------------------------------------------------------------


@adjoint(linalg.solve_sylvester)
def solve_sylvester(x, a, b, q, x_bar):
    """X solves A X + X B = Q:  Q̄ solves Aᵀ Q̄ + Q̄ Bᵀ = X̄,  Ā = −Q̄ Xᵀ,  B̄ = −Xᵀ Q̄"""
    one = unbatched(x_bar, (a, b, q), "scipy.linalg.solve_sylvester")  # X̄, of one equation
    q_bar = linalg.solve_sylvester(a.T, b.T, one)
    return -q_bar @ x.T, -x.T @ q_bar, q_bar


@tangent(linalg.solve_sylvester)
def solve_sylvester_tangent(x, a, b, q, a_dot, b_dot, q_dot):
    """X solves A X + X B = Q:  Ẋ solves A Ẋ + Ẋ B = Q̇ − Ȧ X − X Ḃ"""
    one = unbatched(x, (a, b, q), "scipy.linalg.solve_sylvester")  # X, of one equation
    return (
        linalg.solve_sylvester(a, b, -a_dot @ one),
        linalg.solve_sylvester(a, b, -one @ b_dot),
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
    one = unbatched(e_bar, (A,), "scipy.linalg.expm")  # Ē, of one matrix
    return linalg.expm_frechet(A.T, one, compute_expm=False)


@tangent(linalg.expm)
def expm_tangent(e, A, A_dot):  # noqa: N803
    """E = exp(A):  Ė = L(A, Ȧ), the Fréchet derivative of exp at A along Ȧ"""
    one = unbatched(A_dot, (A,), "scipy.linalg.expm")  # Ȧ, of one matrix
    return linalg.expm_frechet(A, one, compute_expm=False)


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
    one = one_system(x_bar, a, b, "scipy.linalg.solve_triangular")  # x̄, of one system
    b_bar = linalg.solve_triangular(a.T, one, lower=False, unit_diagonal=unit_diagonal)
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
    one = one_system(x_bar, a, b, "scipy.linalg.solve_triangular")  # x̄, of one system
    b_bar = linalg.solve_triangular(a.T, one, lower=True, unit_diagonal=unit_diagonal)
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
    one = one_system(x_bar, ab, b, "scipy.linalg.solve_banded")  # x̄, of one system
    matrix = banded_matrix(ab, l_and_u)
    b_bar = np.linalg.solve(matrix.T, one)
    n = np.shape(ab)[-1]
    outer = np.reshape(b_bar, (n, -1)) @ np.reshape(x, (n, -1)).T
    return None, band_of(-outer, ab, l_and_u), b_bar


@tangent(linalg.solve_banded)
def solve_banded_tangent(
    x, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True, *, ab_dot, b_dot
):
    """x solves A x = b, A the banded matrix of ab:  ẋ solves A ẋ = ḃ − Ȧ x, Ȧ the matrix of
    the band ȧb"""
    one = one_system(x, ab, b, "scipy.linalg.solve_banded")  # x, of one system
    matrix = banded_matrix(ab, l_and_u)
    return (
        np.linalg.solve(matrix, -banded_matrix(ab_dot, l_and_u) @ one),
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


@adjoint(linalg.cho_factor)
def cho_factor(y, a, lower=False, overwrite_a=False, check_finite=True, *, y_bar):
    """(C, lower) = cho_factor(A): C holds U = cholesky(A) in its upper triangle (A = Uᵀ U) and
    A's own entries below it, as SciPy leaves them (L and the entries above it for lower=True):
    Ā = Ū of U's triangle folded onto the triangle read, as for cholesky, plus C̄ on the other
    triangle (those entries are A's, copied)"""
    c_bar = unbatched(y_bar[0], (a,), "scipy.linalg.cho_factor")  # C̄, of one matrix
    c = y[0]
    lower = y[1]
    factor_bar = np.tril(c_bar) if lower else np.triu(c_bar)
    factor = np.tril(c) if lower else np.triu(c)
    copied_bar = np.triu(c_bar, 1) if lower else np.tril(c_bar, -1)
    return cholesky_bar(factor_bar, factor, not lower) + copied_bar


@tangent(linalg.cho_factor)
def cho_factor_tangent(y, a, lower=False, overwrite_a=False, check_finite=True, *, a_dot):
    """(C, lower) = cho_factor(A):  Ċ = U̇ on U's triangle (as for cholesky), Ȧ on the other"""
    c = unbatched(y[0], (a,), "scipy.linalg.cho_factor")  # of one matrix
    lower = y[1]
    factor = np.tril(c) if lower else np.triu(c)
    copied_dot = np.triu(a_dot, 1) if lower else np.tril(a_dot, -1)
    c_dot = cholesky_dot(a_dot, factor, not lower) + copied_dot
    y_dot = (c_dot, zero_tangent(lower))
    return y_dot


@adjoint(linalg.cho_solve)
def cho_solve(x, c_and_lower, b, overwrite_b=False, check_finite=True, *, x_bar):
    """X = A⁻¹ B with A = Uᵀ U, U the upper triangle of C (A = L Lᵀ, L the lower one, for
    lower=True):  B̄ = A⁻¹ X̄,  Ā = −B̄ Xᵀ,  Ū = U (Ā + Āᵀ) on U's triangle (L̄ = (Ā + Āᵀ) L),
    zero on the other triangle, which is not read (one factor C, n × n; a stack is refused)"""
    c = c_and_lower[0]
    lower = c_and_lower[1]
    one = unbatched(x_bar, (c, b), "scipy.linalg.cho_solve")  # X̄, of one system
    b_bar = linalg.cho_solve((c, lower), one)
    a_bar = -cho_columns(b_bar, c) @ cho_columns(x, c).T
    symmetric = a_bar + a_bar.T
    c_bar = np.tril(symmetric @ np.tril(c)) if lower else np.triu(np.triu(c) @ symmetric)
    return (c_bar, 0.0), b_bar


@tangent(linalg.cho_solve)
def cho_solve_tangent(
    x, c_and_lower, b, overwrite_b=False, check_finite=True, *, c_and_lower_dot, b_dot
):
    """X = A⁻¹ B, A = Uᵀ U (L Lᵀ for lower=True):  Ẋ = −A⁻¹ Ȧ X + A⁻¹ Ḃ,  Ȧ = U̇ᵀ U + Uᵀ U̇ (L̇ Lᵀ
    + L L̇ᵀ), U̇ the upper triangle of Ċ (L̇ the lower one)"""
    c = c_and_lower[0]
    lower = c_and_lower[1]
    one = unbatched(x, (c, b), "scipy.linalg.cho_solve")  # X, of one system
    c_dot = c_and_lower_dot[0]
    factor_dot = np.tril(c_dot) if lower else np.triu(c_dot)
    factor = np.tril(c) if lower else np.triu(c)
    half = factor_dot @ factor.T if lower else factor_dot.T @ factor
    a_dot = half + half.T
    moved = -np.reshape(a_dot @ cho_columns(one, c), np.shape(one))
    return linalg.cho_solve((c, lower), moved), linalg.cho_solve((c, lower), b_dot)


def _cho_factor_shape(a: Operand, *others: Operand, **keywords: Operand) -> Sequence:
    """cho_factor(A) is the pair (C, lower): C has A's shape; lower is a truth value."""
    return Sequence(2, (a.shape, None))


def _cho_solve_shape(c_and_lower: Operand, b: Operand, *others: Operand, **keywords) -> object:
    """cho_solve((C, lower), B) has B's shape."""
    return b.shape


# What shape inference knows of their results (a tuple and its parts, read by index).
SHAPE_RULES[linalg.cho_factor] = _cho_factor_shape
SHAPE_RULES[linalg.cho_solve] = _cho_solve_shape
