"""Adjoint rules for linear algebra: products, solves, factorisations and norms.

Written as in ``rules.py``: the docstring states the math in bar notation and the body mirrors
it, for the compiler inlines the body into the generated code. Every rule takes stacks of
matrices (the last two axes) where NumPy does.

Symmetric input. ``cholesky``, ``eigh`` and ``eigvalsh`` read one triangle of their argument
(the lower one unless ``UPLO='U'`` or ``upper=True``) and ignore the other. Their gradient is
the derivative of what NumPy computes: a gradient M along symmetric directions, folded onto the
triangle read (``fold_to_triangle``: Ā = tril(M) + tril(Mᵀ, −1)), zero on the other. Along a
symmetric direction dA it gives ⟨Ā, dA⟩ = ⟨M, dA⟩, the same as the symmetrised gradient
½(M + Mᵀ); along any other it is still exact, for the unread triangle does not move the result.

Tuple results (``slogdet``, ``eigh``, ``svd``, ``qr``) reach a rule as the tuple, and their
adjoint as a tuple of arrays (zeros for a part no line reads).
"""

from __future__ import annotations

import numpy as np

from overbar.primitives import Method
from overbar.runtime import rules
from overbar.runtime.helpers import expand_reduced
from overbar.runtime.helpers_linalg import (
    cholesky_bar,
    cross_bars,
    dot_left_bar,
    dot_right_bar,
    eig_bar,
    eigh_bar,
    eigvals_bar,
    eigvalsh_bar,
    einsum_bars,
    inner_bars,
    kron_bars,
    matrix_power_bar,
    multi_dot_bars,
    norm_bar,
    outer_bars,
    pinv_bar,
    qr_bar,
    singular_values_bar,
    solve_bars,
    svd_bar,
    tensordot_bars,
    trace_bar,
)
from overbar.runtime.registry import adjoint

# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------


@adjoint(np.dot, Method("dot"))
def dot(z, a, b, z_bar):
    """z = a · b (the last axis of a with the second-to-last of b):  ā = z̄ bᵀ,  b̄ = aᵀ z̄"""
    return dot_left_bar(z_bar, a, b), dot_right_bar(z_bar, a, b)


# np.dot of vectors and matrices is x @ y: matmul's rules for the ranks at hand, registered
# after the general rule above (a rule for any rank registered later replaces them).
for _rule, _ranks in (
    (rules.matmul_matrices, {"x": 2, "y": 2}),
    (rules.matmul_matrix_vector, {"x": 2, "y": 1}),
    (rules.matmul_vector_matrix, {"x": 1, "y": 2}),
    (rules.matmul_vectors, {"x": 1, "y": 1}),
):
    adjoint(np.dot, Method("dot"), ranks=_ranks)(_rule)


@adjoint(np.inner)
def inner(z, a, b, z_bar):
    """z = inner(a, b) over the last axes:  ā = z̄ · b,  b̄ = z̄ · a"""
    a_bar, b_bar = inner_bars(z_bar, a, b)
    return a_bar, b_bar


@adjoint(np.outer)
def outer(z, a, b, z_bar):
    """z = a bᵀ:  ā = z̄ b,  b̄ = z̄ᵀ a"""
    a_bar, b_bar = outer_bars(z_bar, a, b)
    return a_bar, b_bar


@adjoint(np.vdot)
def vdot(z, a, b, z_bar):
    """z = Σ aᵢ bᵢ over the flattened arrays:  ā = z̄ b,  b̄ = z̄ a (each in the other's shape)"""
    return np.reshape(z_bar * b, np.shape(a)), np.reshape(z_bar * a, np.shape(b))


@adjoint(np.tensordot)
def tensordot(z, a, b, axes=2, *, z_bar):
    """z = tensordot(a, b, axes):  ā = z̄ contracted with b over b's kept axes,  b̄ likewise"""
    a_bar, b_bar = tensordot_bars(z_bar, a, b, axes)
    return a_bar, b_bar


@adjoint(np.kron)
def kron(z, a, b, z_bar):
    """z = a ⊗ b, z[i q + k] = a[i] b[k]:  ā[i] = Σₖ z̄[i q + k] b[k],  b̄[k] = Σᵢ z̄[i q + k] a[i]"""
    a_bar, b_bar = kron_bars(z_bar, a, b)
    return a_bar, b_bar


@adjoint(np.linalg.multi_dot)
def multi_dot(y, arrays, *, y_bar):
    """Y = A₁ A₂ ⋯ Aₖ:  Āᵢ = (A₁ ⋯ Aᵢ₋₁)ᵀ Ȳ (Aᵢ₊₁ ⋯ Aₖ)ᵀ"""
    return multi_dot_bars(y_bar, arrays)


@adjoint(np.cross)
def cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, z_bar):
    """z = a × b:  ā = b × z̄,  b̄ = z̄ × a"""
    a_bar, b_bar = cross_bars(z_bar, a, b, axisa, axisb, axisc, axis)
    return a_bar, b_bar


@adjoint(np.einsum)
def einsum(y, subscripts, *operands, optimize=False, y_bar):
    """y = einsum(s, a, b, ...):  ā = einsum of ȳ with the other operands onto a's indices
    (a repeated index puts ā on that diagonal)"""
    subscripts_bar, operands_bar = einsum_bars(subscripts, y_bar, operands)
    return subscripts_bar, operands_bar


@adjoint(np.trace, Method("trace"))
def trace(y, a, offset=0, *, y_bar):
    """y = tr a:  ā = ȳ I"""
    return trace_bar(y_bar, a, offset=offset)


@adjoint(np.linalg.matrix_power)
def matrix_power(y, a, n, y_bar):
    """Y = Aⁿ:  Ā = Σₖ₌₀ⁿ⁻¹ (Aᵀ)ᵏ Ȳ (Aᵀ)ⁿ⁻¹⁻ᵏ  (n < 0: the same for A⁻¹, then Ā = −A⁻ᵀ Ā⁻¹ A⁻ᵀ;
    n = 0: Ā = 0)"""
    return matrix_power_bar(y_bar, a, n)


# ---------------------------------------------------------------------------------------------
# Inverses, solves and determinants (stacks of matrices too)
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.inv)
def inv(y, a, y_bar):
    """Y = A⁻¹:  Ā = −Yᵀ Ȳ Yᵀ"""
    return -(y.mT @ y_bar @ y.mT)


@adjoint(np.linalg.solve)
def solve(x, a, b, x_bar):
    """x = A⁻¹ b:  b̄ = A⁻ᵀ x̄,  Ā = −b̄ xᵀ  (b a vector, a matrix, or a stack of either)"""
    a_bar, b_bar = solve_bars(x_bar, x, a, b)
    return a_bar, b_bar


@adjoint(np.linalg.det)
def det(y, a, y_bar):
    """y = det A:  Ā = ȳ y A⁻ᵀ"""
    return np.expand_dims(y_bar * y, (-1, -2)) * np.linalg.inv(a).mT


@adjoint(np.linalg.slogdet)
def slogdet(y, a, y_bar):
    """(s, l) = (sign det A, log |det A|):  Ā = l̄ A⁻ᵀ  (s is piecewise constant: s̄ adds nothing)"""
    sign_bar, logdet_bar = y_bar
    return np.expand_dims(logdet_bar, (-1, -2)) * np.linalg.inv(a).mT


@adjoint(np.linalg.pinv)
def pinv(x, a, rcond=None, hermitian=False, *, rtol=None, x_bar):
    """X = A⁺ (A of full rank):  Ā = −Xᵀ X̄ Xᵀ + (I − A X) X̄ᵀ X Xᵀ + Xᵀ X X̄ᵀ (I − X A)"""
    return pinv_bar(x_bar, x, a, rcond, hermitian, rtol)


# ---------------------------------------------------------------------------------------------
# Factorisations
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.cholesky)
def cholesky(factor, a, *, upper=False, factor_bar):
    """L = cholesky(A), A = L Lᵀ:  Ā = fold(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ the lower triangle with its
    diagonal halved, folded onto the triangle NumPy reads"""
    return cholesky_bar(factor_bar, factor, upper)


@adjoint(np.linalg.eigh)
def eigh(y, a, UPLO="L", *, y_bar):  # noqa: N803  (NumPy's name for it)
    """(w, V) = eigh(A):  Ā = fold(V (diag w̄ + F ∘ Vᵀ V̄) Vᵀ),  Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0"""
    w, v = y
    w_bar, v_bar = y_bar
    return eigh_bar(w_bar, v_bar, w, v, UPLO)


@adjoint(np.linalg.eig)
def eig(y, a, *, y_bar):
    """(w, V) = eig(A), w and V real (complex refused):
    Ā = V⁻ᵀ (diag w̄ + F ∘ (Vᵀ V̄ − Vᵀ V diag(Vᵀ V̄))) Vᵀ,  Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0"""
    w, v = y
    w_bar, v_bar = y_bar
    return eig_bar(w_bar, v_bar, w, v)


@adjoint(np.linalg.eigvals)
def eigvals(w, a, *, w_bar):
    """w = eigvals(A), w real (complex refused):  Ā = V⁻ᵀ diag(w̄) Vᵀ"""
    return eigvals_bar(w_bar, a)


@adjoint(np.linalg.eigvalsh)
def eigvalsh(w, a, UPLO="L", *, w_bar):  # noqa: N803
    """w = eigvalsh(A):  Ā = fold(V diag(w̄) Vᵀ)"""
    return eigvalsh_bar(w_bar, a, UPLO)


@adjoint(np.linalg.svd, where={"compute_uv": False})
def singular_values(s, a, full_matrices=True, compute_uv=True, hermitian=False, *, s_bar):
    """s = svd(A, compute_uv=False):  Ā = U diag(s̄) Vᵀ"""
    return singular_values_bar(s_bar, a, hermitian)


@adjoint(np.linalg.svd)
def svd(y, a, full_matrices=True, compute_uv=True, hermitian=False, *, y_bar):
    """(U, s, Vᵀ) = svd(A):  Ā = U [(F ∘ (UᵀŪ − ŪᵀU)) S + diag s̄ + S (F ∘ (VᵀV̄ − V̄ᵀV))] Vᵀ
    + (I − UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ),  Fᵢⱼ = 1 / (sⱼ² − sᵢ²)"""
    return svd_bar(y_bar, y, a, hermitian)


@adjoint(np.linalg.qr, where={"mode": "r"})
def qr_r(r, a, mode="reduced", *, r_bar):
    """R = qr(A, mode='r'):  Ā = Q copyltu(R R̄ᵀ) R⁻ᵀ  (the reduced rule with Q̄ = 0)"""
    q = np.linalg.qr(a)[0]
    return qr_bar(np.zeros_like(q), r_bar, q, r)


@adjoint(np.linalg.qr)
def qr(y, a, mode="reduced", *, y_bar):
    """(Q, R) = qr(A), A square or tall:  M = R R̄ᵀ − Q̄ᵀ Q,  Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ"""
    q, r = y
    q_bar, r_bar = y_bar
    return qr_bar(q_bar, r_bar, q, r, mode)


# ---------------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.norm, where={"ord": None})
def norm(y, x, ord=None, axis=None, keepdims=False, *, y_bar):
    """y = ‖x‖₂ (Frobenius for matrices):  x̄ = ȳ x / y"""
    return expand_reduced(y_bar / y, x, axis=axis, keepdims=keepdims) * x


@adjoint(np.linalg.norm)
def norm_of_order(y, x, ord=None, axis=None, keepdims=False, *, y_bar):
    """y = ‖x‖_ord:  x̄ = ȳ ∂‖x‖/∂x  (ties of the ±1, ±inf norms share ȳ; see ``norm_bar``)"""
    return norm_bar(y_bar, y, x, ord, axis, keepdims)
