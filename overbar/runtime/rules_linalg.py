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
from overbar.runtime.helpers import add_elementwise, expand_reduced, unbroadcast, zero_tangent
from overbar.runtime.helpers_arrays import diagonal_bar
from overbar.runtime.helpers_linalg import (
    cholesky_bar,
    cholesky_dot,
    cond_bar,
    cond_dot,
    cross_bars,
    cross_term,
    dot_left_bar,
    dot_right_bar,
    eig_bar,
    eig_dots,
    eigh_bar,
    eigh_dots,
    eigvals_bar,
    eigvals_dot,
    eigvalsh_bar,
    eigvalsh_dot,
    einsum_bars,
    einsum_operands_dot,
    inner_bars,
    kron_bars,
    lstsq_bars,
    lstsq_dots,
    matrix_power_bar,
    matrix_power_dot,
    multi_dot_bars,
    multi_dot_dot,
    norm_bar,
    norm_gradient,
    outer_bars,
    pinv_bar,
    pinv_dot,
    qr_bar,
    qr_dots,
    singular_values_bar,
    singular_values_dot,
    solve_bars,
    solve_matrix_term,
    svd_bar,
    svd_dots,
    tensordot_bars,
    tensorinv_bar,
    tensorinv_dot,
    tensorsolve_bars,
    tensorsolve_dot,
    trace_bar,
    trace_of_solve,
    vecdot_bars,
    vector_norm_bar,
    vector_norm_dot,
)
from overbar.runtime.registry import active_arguments, adjoint, tangent

# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------


@adjoint(np.dot, Method("dot"))
def dot(z, a, b, z_bar):
    """z = a · b (the last axis of a with the second-to-last of b):  ā = z̄ bᵀ,  b̄ = aᵀ z̄"""
    return dot_left_bar(z_bar, a, b), dot_right_bar(z_bar, a, b)


@tangent(np.dot, Method("dot"))
def dot_tangent(z, a, b, a_dot, b_dot):
    """z = a · b (bilinear):  ż = ȧ · b + a · ḃ"""
    return np.dot(a_dot, b), np.dot(a, b_dot)


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


@tangent(np.inner)
def inner_tangent(z, a, b, a_dot, b_dot):
    """z = inner(a, b):  ż = inner(ȧ, b) + inner(a, ḃ)"""
    return np.inner(a_dot, b), np.inner(a, b_dot)


@adjoint(np.outer)
def outer(z, a, b, z_bar):
    """z = a bᵀ:  ā = z̄ b,  b̄ = z̄ᵀ a"""
    a_bar, b_bar = outer_bars(z_bar, a, b)
    return a_bar, b_bar


@tangent(np.outer)
def outer_tangent(z, a, b, a_dot, b_dot):
    """z = a bᵀ:  ż = ȧ bᵀ + a ḃᵀ"""
    return np.outer(a_dot, b), np.outer(a, b_dot)


@adjoint(np.vdot)
def vdot(z, a, b, z_bar):
    """z = Σ aᵢ bᵢ over the flattened arrays:  ā = z̄ b,  b̄ = z̄ a (each in the other's shape)"""
    return np.reshape(z_bar * b, np.shape(a)), np.reshape(z_bar * a, np.shape(b))


@tangent(np.vdot)
def vdot_tangent(z, a, b, a_dot, b_dot):
    """z = Σ aᵢ bᵢ:  ż = Σ ȧᵢ bᵢ + Σ aᵢ ḃᵢ"""
    return np.vdot(a_dot, b), np.vdot(a, b_dot)


@adjoint(np.tensordot)
def tensordot(z, a, b, axes=2, *, z_bar):
    """z = tensordot(a, b, axes):  ā = z̄ contracted with b over b's kept axes,  b̄ likewise"""
    a_bar, b_bar = tensordot_bars(z_bar, a, b, axes)
    return a_bar, b_bar


@tangent(np.tensordot)
def tensordot_tangent(z, a, b, axes=2, *, a_dot, b_dot):
    """z = tensordot(a, b, axes):  ż = tensordot(ȧ, b, axes) + tensordot(a, ḃ, axes)"""
    return np.tensordot(a_dot, b, axes), np.tensordot(a, b_dot, axes)


@adjoint(np.kron)
def kron(z, a, b, z_bar):
    """z = a ⊗ b, z[i q + k] = a[i] b[k]:  ā[i] = Σₖ z̄[i q + k] b[k],  b̄[k] = Σᵢ z̄[i q + k] a[i]"""
    a_bar, b_bar = kron_bars(z_bar, a, b)
    return a_bar, b_bar


@tangent(np.kron)
def kron_tangent(z, a, b, a_dot, b_dot):
    """z = a ⊗ b:  ż = ȧ ⊗ b + a ⊗ ḃ"""
    return np.kron(a_dot, b), np.kron(a, b_dot)


@adjoint(np.linalg.multi_dot)
def multi_dot(y, arrays, *, y_bar):
    """Y = A₁ A₂ ⋯ Aₖ:  Āᵢ = (A₁ ⋯ Aᵢ₋₁)ᵀ Ȳ (Aᵢ₊₁ ⋯ Aₖ)ᵀ"""
    return multi_dot_bars(y_bar, arrays)


@tangent(np.linalg.multi_dot)
def multi_dot_tangent(y, arrays, *, arrays_dot):
    """Y = A₁ A₂ ⋯ Aₖ:  Ẏ = Σᵢ A₁ ⋯ Ȧᵢ ⋯ Aₖ"""
    return multi_dot_dot(y, arrays, arrays_dot)


@adjoint(np.cross)
def cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, z_bar):
    """z = a × b:  ā = b × z̄,  b̄ = z̄ × a"""
    a_bar, b_bar = cross_bars(z_bar, a, b, axisa, axisb, axisc, axis)
    return a_bar, b_bar


@tangent(np.cross)
def cross_tangent(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, a_dot, b_dot):
    """z = a × b:  ż = ȧ × b + a × ḃ"""
    a_term = cross_term(a_dot, b, axisa, axisb, axisc, axis)
    b_term = cross_term(a, b_dot, axisa, axisb, axisc, axis)
    return a_term, b_term


@adjoint(np.einsum)
def einsum(y, subscripts, *operands, optimize=False, y_bar):
    """y = einsum(s, a, b, ...):  ā = einsum of ȳ with the other operands onto a's indices
    (a repeated index puts ā on that diagonal), for the active operands only"""
    wanted = active_arguments(operands)
    subscripts_bar, operands_bar = einsum_bars(subscripts, y_bar, operands, wanted)
    return subscripts_bar, operands_bar


@tangent(np.einsum)
def einsum_tangent(y, subscripts, *operands, optimize=False, subscripts_dot, operands_dot):
    """y = einsum(s, a, b, ...) (linear in each array):  ẏ = einsum(s, ȧ, b, ...)
    + einsum(s, a, ḃ, ...) + ...  (in the form einsum(a, l₁, b, l₂, ...), a is ``subscripts``)"""
    subscripts_term = np.einsum(subscripts_dot, *operands, optimize=optimize)
    operands_term = einsum_operands_dot(y, subscripts, operands, operands_dot, optimize)
    return subscripts_term, operands_term


@adjoint(np.trace, Method("trace"))
def trace(y, a, offset=0, *, y_bar):
    """y = tr a:  ā = ȳ I"""
    return trace_bar(y_bar, a, offset=offset)


@tangent(np.trace, Method("trace"))
def trace_tangent(y, a, offset=0, *, a_dot):
    """y = tr a:  ẏ = tr ȧ"""
    return np.trace(a_dot, offset)


@adjoint(np.linalg.matrix_power)
def matrix_power(y, a, n, y_bar):
    """Y = Aⁿ:  Ā = Σₖ₌₀ⁿ⁻¹ (Aᵀ)ᵏ Ȳ (Aᵀ)ⁿ⁻¹⁻ᵏ  (n < 0: the same for A⁻¹, then Ā = −A⁻ᵀ Ā⁻¹ A⁻ᵀ;
    n = 0: Ā = 0)"""
    return matrix_power_bar(y_bar, a, n)


@tangent(np.linalg.matrix_power)
def matrix_power_tangent(y, a, n, a_dot):
    """Y = Aⁿ:  Ẏ = Σₖ₌₀ⁿ⁻¹ Aᵏ Ȧ Aⁿ⁻¹⁻ᵏ  (n < 0: the same for B = A⁻¹, Ḃ = −B Ȧ B; n = 0: Ẏ = 0)"""
    return matrix_power_dot(a_dot, a, n)


# ---------------------------------------------------------------------------------------------
# Inverses, solves and determinants (stacks of matrices too)
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.inv)
def inv(y, a, y_bar):
    """Y = A⁻¹:  Ā = −Yᵀ Ȳ Yᵀ"""
    return -(y.mT @ y_bar @ y.mT)


@tangent(np.linalg.inv)
def inv_tangent(y, a, a_dot):
    """Y = A⁻¹:  Ẏ = −Y Ȧ Y"""
    return -(y @ a_dot @ y)


@adjoint(np.linalg.solve)
def solve(x, a, b, x_bar):
    """x = A⁻¹ b:  b̄ = A⁻ᵀ x̄,  Ā = −b̄ xᵀ  (b a vector, a matrix, or a stack of either)"""
    a_bar, b_bar = solve_bars(x_bar, x, a, b)
    return a_bar, b_bar


@tangent(np.linalg.solve)
def solve_tangent(x, a, b, a_dot, b_dot):
    """x = A⁻¹ b:  ẋ = −A⁻¹ Ȧ x + A⁻¹ ḃ  (b a vector, a matrix, or a stack of either)"""
    return solve_matrix_term(a_dot, x, a, b), np.linalg.solve(a, b_dot)


@tangent(np.linalg.solve, ranks={"a": 2})
def solve_one_matrix_tangent(x, a, b, a_dot, b_dot):
    """x = A⁻¹ b, A one matrix (b a vector or a matrix, or a stack of matrices):
    ẋ = −A⁻¹ Ȧ x + A⁻¹ ḃ"""
    return -np.linalg.solve(a, a_dot @ x), np.linalg.solve(a, b_dot)


@adjoint(np.linalg.det)
def det(y, a, y_bar):
    """y = det A:  Ā = ȳ y A⁻ᵀ"""
    return np.expand_dims(y_bar * y, (-1, -2)) * np.linalg.inv(a).mT


@tangent(np.linalg.det)
def det_tangent(y, a, a_dot):
    """y = det A:  ẏ = y tr(A⁻¹ Ȧ)"""
    return y * trace_of_solve(a, a_dot)


@adjoint(np.linalg.slogdet)
def slogdet(y, a, y_bar):
    """(s, l) = (sign det A, log |det A|):  Ā = l̄ A⁻ᵀ  (s is piecewise constant: s̄ adds nothing)"""
    sign_bar, logdet_bar = y_bar
    return np.expand_dims(logdet_bar, (-1, -2)) * np.linalg.inv(a).mT


@tangent(np.linalg.slogdet)
def slogdet_tangent(y, a, a_dot):
    """(s, l) = (sign det A, log |det A|):  ṡ = 0,  l̇ = tr(A⁻¹ Ȧ)"""
    sign_dot = zero_tangent(y[0])
    logdet_dot = trace_of_solve(a, a_dot)
    y_dot = (sign_dot, logdet_dot)
    return y_dot


@adjoint(np.linalg.pinv)
def pinv(x, a, rcond=None, hermitian=False, *, rtol=None, x_bar):
    """X = A⁺ (A of full rank):  Ā = −Xᵀ X̄ Xᵀ + (I − A X) X̄ᵀ X Xᵀ + Xᵀ X X̄ᵀ (I − X A)"""
    return pinv_bar(x_bar, x, a, rcond, hermitian, rtol)


@tangent(np.linalg.pinv)
def pinv_tangent(x, a, rcond=None, hermitian=False, *, rtol=None, a_dot):
    """X = A⁺ (A of full rank):  Ẋ = −X Ȧ X + X Xᵀ Ȧᵀ (I − A X) + (I − X A) Ȧᵀ Xᵀ X"""
    return pinv_dot(a_dot, x, a, rcond, hermitian, rtol)


# ---------------------------------------------------------------------------------------------
# Factorisations
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.cholesky)
def cholesky(factor, a, *, upper=False, factor_bar):
    """L = cholesky(A), A = L Lᵀ:  Ā = fold(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ the lower triangle with its
    diagonal halved, folded onto the triangle NumPy reads"""
    return cholesky_bar(factor_bar, factor, upper)


@tangent(np.linalg.cholesky)
def cholesky_tangent(factor, a, *, upper=False, a_dot):
    """L = cholesky(A), A = L Lᵀ:  L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Φ the lower triangle with its diagonal
    halved, Ȧ made symmetric from the triangle NumPy reads"""
    return cholesky_dot(a_dot, factor, upper)


@adjoint(np.linalg.eigh)
def eigh(y, a, UPLO="L", *, y_bar):  # noqa: N803  (NumPy's name for it)
    """(w, V) = eigh(A):  Ā = fold(V (diag w̄ + F ∘ Vᵀ V̄) Vᵀ),  Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0"""
    w, v = y
    w_bar, v_bar = y_bar
    return eigh_bar(w_bar, v_bar, w, v, UPLO)


@tangent(np.linalg.eigh)
def eigh_tangent(y, a, UPLO="L", *, a_dot):  # noqa: N803
    """(w, V) = eigh(A), P = Vᵀ Ȧ V:  ẇ = diag P,  V̇ = V (F ∘ P),  Fᵢⱼ = 1 / (wⱼ − wᵢ),
    Fᵢᵢ = 0  (Ȧ made symmetric from the triangle NumPy reads)"""
    return eigh_dots(a_dot, y, UPLO)


@adjoint(np.linalg.eig)
def eig(y, a, *, y_bar):
    """(w, V) = eig(A), w and V real (complex refused):
    Ā = V⁻ᵀ (diag w̄ + F ∘ (Vᵀ V̄ − Vᵀ V diag(Vᵀ V̄))) Vᵀ,  Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0"""
    w, v = y
    w_bar, v_bar = y_bar
    return eig_bar(w_bar, v_bar, w, v)


@tangent(np.linalg.eig)
def eig_tangent(y, a, *, a_dot):
    """(w, V) = eig(A), w and V real, P = V⁻¹ Ȧ V:  ẇ = diag P,  V̇ = C − V diag(Vᵀ C),
    C = V (F ∘ P),  Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0  (complex refused)"""
    return eig_dots(a_dot, y)


@adjoint(np.linalg.eigvals)
def eigvals(w, a, *, w_bar):
    """w = eigvals(A), w real (complex refused):  Ā = V⁻ᵀ diag(w̄) Vᵀ"""
    return eigvals_bar(w_bar, a)


@tangent(np.linalg.eigvals)
def eigvals_tangent(w, a, *, a_dot):
    """w = eigvals(A), w real (complex refused):  ẇ = diag(V⁻¹ Ȧ V)"""
    return eigvals_dot(a_dot, a)


@adjoint(np.linalg.eigvalsh)
def eigvalsh(w, a, UPLO="L", *, w_bar):  # noqa: N803
    """w = eigvalsh(A):  Ā = fold(V diag(w̄) Vᵀ)"""
    return eigvalsh_bar(w_bar, a, UPLO)


@tangent(np.linalg.eigvalsh)
def eigvalsh_tangent(w, a, UPLO="L", *, a_dot):  # noqa: N803
    """w = eigvalsh(A):  ẇ = diag(Vᵀ Ȧ V)"""
    return eigvalsh_dot(a_dot, a, UPLO)


@adjoint(np.linalg.svd, where={"compute_uv": False})
def singular_values(s, a, full_matrices=True, compute_uv=True, hermitian=False, *, s_bar):
    """s = svd(A, compute_uv=False):  Ā = U diag(s̄) Vᵀ"""
    return singular_values_bar(s_bar, a, hermitian)


@tangent(np.linalg.svd, where={"compute_uv": False})
def singular_values_tangent(s, a, full_matrices=True, compute_uv=True, hermitian=False, *, a_dot):
    """s = svd(A, compute_uv=False):  ṡ = diag(Uᵀ Ȧ V)"""
    return singular_values_dot(a_dot, a, hermitian)


@adjoint(np.linalg.svd)
def svd(y, a, full_matrices=True, compute_uv=True, hermitian=False, *, y_bar):
    """(U, s, Vᵀ) = svd(A):  Ā = U [(F ∘ (UᵀŪ − ŪᵀU)) S + diag s̄ + S (F ∘ (VᵀV̄ − V̄ᵀV))] Vᵀ
    + (I − UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ),  Fᵢⱼ = 1 / (sⱼ² − sᵢ²)"""
    return svd_bar(y_bar, y, a, hermitian)


@tangent(np.linalg.svd)
def svd_tangent(y, a, full_matrices=True, compute_uv=True, hermitian=False, *, a_dot):
    """(U, s, Vᵀ) = svd(A), P = Uᵀ Ȧ V:  ṡ = diag P,
    U̇ = U (F ∘ (P S + S Pᵀ)) + (I − UUᵀ) Ȧ V S⁻¹,  V̇ = V (F ∘ (S P + Pᵀ S)) + (I − VVᵀ) Ȧᵀ U S⁻¹,
    Fᵢⱼ = 1 / (sⱼ² − sᵢ²)"""
    return svd_dots(a_dot, y, a, hermitian)


@adjoint(np.linalg.qr, where={"mode": "r"})
def qr_r(r, a, mode="reduced", *, r_bar):
    """R = qr(A, mode='r'):  Ā = Q copyltu(R R̄ᵀ) R⁻ᵀ  (the reduced rule with Q̄ = 0)"""
    q = np.linalg.qr(a)[0]
    return qr_bar(np.zeros_like(q), r_bar, q, r)


@tangent(np.linalg.qr, where={"mode": "r"})
def qr_r_tangent(r, a, mode="reduced", *, a_dot):
    """R = qr(A, mode='r'):  Ṙ of the reduced rule"""
    q = np.linalg.qr(a)[0]
    return qr_dots(a_dot, q, r)[1]


@adjoint(np.linalg.qr)
def qr(y, a, mode="reduced", *, y_bar):
    """(Q, R) = qr(A), A square or tall:  M = R R̄ᵀ − Q̄ᵀ Q,  Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ"""
    q, r = y
    q_bar, r_bar = y_bar
    return qr_bar(q_bar, r_bar, q, r, mode)


@tangent(np.linalg.qr)
def qr_tangent(y, a, mode="reduced", *, a_dot):
    """(Q, R) = qr(A), A square or tall, C = Qᵀ Ȧ R⁻¹, Ω = tril(C, −1) − tril(C, −1)ᵀ:
    Ṙ = (C − Ω) R,  Q̇ = (I − QQᵀ) Ȧ R⁻¹ + Q Ω"""
    return qr_dots(a_dot, y[0], y[1], mode)


# ---------------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.norm, where={"ord": None})
def norm(y, x, ord=None, axis=None, keepdims=False, *, y_bar):
    """y = ‖x‖₂ (Frobenius for matrices):  x̄ = ȳ x / y"""
    return expand_reduced(y_bar / y, x, axis=axis, keepdims=keepdims) * x


@tangent(np.linalg.norm, where={"ord": None})
def norm_tangent(y, x, ord=None, axis=None, keepdims=False, *, x_dot):
    """y = ‖x‖₂ (Frobenius for matrices):  ẏ = Σ x ẋ / y;  ẏ = 0 where x is empty

    The norm of no elements is the constant 0: its sum Σ x ẋ is 0 too, divided by 1, not y."""
    return np.sum(x * x_dot, axis=axis, keepdims=keepdims) / (y if np.size(x) else 1.0)


@adjoint(np.linalg.norm)
def norm_of_order(y, x, ord=None, axis=None, keepdims=False, *, y_bar):
    """y = ‖x‖_ord:  x̄ = ȳ ∂‖x‖/∂x  (ties of the ±1, ±inf norms share ȳ; see ``norm_bar``)"""
    return norm_bar(y_bar, y, x, ord, axis, keepdims)


@tangent(np.linalg.norm)
def norm_of_order_tangent(y, x, ord=None, axis=None, keepdims=False, *, x_dot):
    """y = ‖x‖_ord:  ẏ = Σ ∂‖x‖/∂x ẋ  (at a kink: the subgradient the adjoint rule gives)"""
    gradient = norm_gradient(y, x, ord, axis, keepdims)
    return np.sum(gradient * x_dot, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# NumPy 2's array-API names. Those that are another function under a new name take its rules;
# those whose axes differ (trace and diagonal of the last two axes) have their own.
# ---------------------------------------------------------------------------------------------

adjoint(np.linalg.outer)(outer)
tangent(np.linalg.outer)(outer_tangent)
adjoint(np.linalg.tensordot)(tensordot)
tangent(np.linalg.tensordot)(tensordot_tangent)
adjoint(np.linalg.matmul)(rules.matmul)
tangent(np.linalg.matmul)(rules.matmul_tangent)
for _rule, _ranks in (
    (rules.matmul_matrices, {"x": 2, "y": 2}),
    (rules.matmul_matrix_vector, {"x": 2, "y": 1}),
    (rules.matmul_vector_matrix, {"x": 1, "y": 2}),
    (rules.matmul_vectors, {"x": 1, "y": 1}),
):
    adjoint(np.linalg.matmul, ranks=_ranks)(_rule)
adjoint(np.matrix_transpose, np.linalg.matrix_transpose)(rules.matrix_transpose_attribute)
tangent(np.matrix_transpose, np.linalg.matrix_transpose)(rules.matrix_transpose_attribute_tangent)


@adjoint(np.linalg.cross)
def linalg_cross(z, a, b, *, axis=-1, z_bar):
    """z = a × b (3-vectors along axis):  ā = b × z̄,  b̄ = z̄ × a"""
    a_bar, b_bar = cross_bars(z_bar, a, b, axis=axis)
    return a_bar, b_bar


@tangent(np.linalg.cross)
def linalg_cross_tangent(z, a, b, *, axis=-1, a_dot, b_dot):
    """z = a × b:  ż = ȧ × b + a × ḃ"""
    return cross_term(a_dot, b, axis=axis), cross_term(a, b_dot, axis=axis)


@adjoint(np.linalg.trace, where={"dtype": None})
def matrix_trace(y, x, *, offset=0, dtype=None, y_bar):
    """y = tr X over the last two axes (the offset diagonal):  X̄ = ȳ I"""
    identity = np.eye(np.shape(x)[-2], np.shape(x)[-1], k=offset)
    return np.expand_dims(y_bar, (-2, -1)) * identity


@tangent(np.linalg.trace, where={"dtype": None})
def matrix_trace_tangent(y, x, *, offset=0, dtype=None, x_dot):
    """y = tr X over the last two axes:  ẏ = tr Ẋ"""
    return np.linalg.trace(x_dot, offset=offset)


@adjoint(np.linalg.diagonal)
def matrix_diagonal(y, x, *, offset=0, y_bar):
    """y = the offset diagonal of the last two axes:  X̄ = zeros with ȳ on that diagonal"""
    return diagonal_bar(y_bar, x, offset, -2, -1)


@tangent(np.linalg.diagonal)
def matrix_diagonal_tangent(y, x, *, offset=0, x_dot):
    """y = the offset diagonal of the last two axes:  ẏ = that diagonal of Ẋ"""
    return np.linalg.diagonal(x_dot, offset=offset)


@adjoint(np.vecdot, np.linalg.vecdot)
def vecdot(z, a, b, *, axis=-1, z_bar):
    """z = Σ a b along axis:  ā = z̄ b,  b̄ = z̄ a  (each summed to its operand's shape)"""
    a_bar, b_bar = vecdot_bars(z_bar, a, b, axis)
    return a_bar, b_bar


@tangent(np.vecdot, np.linalg.vecdot)
def vecdot_tangent(z, a, b, *, axis=-1, a_dot, b_dot):
    """z = Σ a b along axis (bilinear):  ż = Σ ȧ b + Σ a ḃ"""
    return np.vecdot(a_dot, b, axis=axis), np.vecdot(a, b_dot, axis=axis)


@adjoint(np.matvec)
def matvec(y, a, v, y_bar):
    """y = A v (stacks broadcast):  Ā = ȳ vᵀ,  v̄ = Aᵀ ȳ  (each summed to its operand's shape)"""
    a_bar = unbroadcast(np.expand_dims(y_bar, -1) * np.expand_dims(v, -2), a)
    v_bar = unbroadcast(np.vecmat(y_bar, a), v)
    return a_bar, v_bar


@tangent(np.matvec)
def matvec_tangent(y, a, v, a_dot, v_dot):
    """y = A v (bilinear):  ẏ = Ȧ v + A v̇"""
    return np.matvec(a_dot, v), np.matvec(a, v_dot)


@adjoint(np.vecmat)
def vecmat(y, v, a, y_bar):
    """yᵀ = vᵀ A (stacks broadcast):  v̄ = A ȳ,  Ā = v ȳᵀ  (each summed to its operand's shape)"""
    v_bar = unbroadcast(np.matvec(a, y_bar), v)
    a_bar = unbroadcast(np.expand_dims(v, -1) * np.expand_dims(y_bar, -2), a)
    return v_bar, a_bar


@tangent(np.vecmat)
def vecmat_tangent(y, v, a, v_dot, a_dot):
    """yᵀ = vᵀ A (bilinear):  ẏᵀ = v̇ᵀ A + vᵀ Ȧ"""
    return np.vecmat(v_dot, a), np.vecmat(v, a_dot)


@adjoint(np.linalg.svdvals)
def svdvals(s, x, s_bar):
    """s = the singular values of X:  X̄ = U diag(s̄) Vᵀ"""
    return singular_values_bar(s_bar, x)


@tangent(np.linalg.svdvals)
def svdvals_tangent(s, x, x_dot):
    """s = the singular values of X:  ṡ = diag(Uᵀ Ẋ V)"""
    return singular_values_dot(x_dot, x)


@adjoint(np.linalg.vector_norm)
def vector_norm(y, x, *, axis=None, keepdims=False, ord=2, y_bar):
    """y = ‖x‖_ord over axis (all of them flattened for None):  x̄ = ȳ ∂‖x‖/∂x"""
    return vector_norm_bar(y_bar, y, x, ord, axis, keepdims)


@tangent(np.linalg.vector_norm)
def vector_norm_tangent(y, x, *, axis=None, keepdims=False, ord=2, x_dot):
    """y = ‖x‖_ord over axis:  ẏ = Σ ∂‖x‖/∂x ẋ"""
    return vector_norm_dot(x_dot, y, x, ord, axis, keepdims)


@adjoint(np.linalg.matrix_norm)
def matrix_norm(y, x, *, keepdims=False, ord="fro", y_bar):
    """y = ‖X‖_ord over the last two axes:  X̄ = ȳ ∂‖X‖/∂X"""
    return norm_bar(y_bar, y, x, ord, (-2, -1), keepdims)


@tangent(np.linalg.matrix_norm)
def matrix_norm_tangent(y, x, *, keepdims=False, ord="fro", x_dot):
    """y = ‖X‖_ord over the last two axes:  ẏ = Σ ∂‖X‖/∂X Ẋ"""
    gradient = norm_gradient(y, x, ord, (-2, -1), keepdims)
    return np.sum(gradient * x_dot, axis=(-2, -1), keepdims=keepdims)


@adjoint(np.linalg.cond)
def cond(c, x, p=None, *, c_bar):
    """c = cond(X, p): for p None or ±2 the ratio of extreme singular values, X̄ = U diag(s̄) Vᵀ
    with s̄_top = c̄ / s_bottom, s̄_bottom = −c̄ c / s_bottom; else c = ‖X‖ ‖X⁻¹‖"""
    return cond_bar(c_bar, c, x, p)


@tangent(np.linalg.cond)
def cond_tangent(c, x, p=None, *, x_dot):
    """c = cond(X, p):  ċ = (ṡ_top − c ṡ_bottom) / s_bottom (p None or ±2), else through
    ‖X‖ ‖X⁻¹‖"""
    return cond_dot(x_dot, c, x, p)


# ---------------------------------------------------------------------------------------------
# Least squares
# ---------------------------------------------------------------------------------------------


@adjoint(np.linalg.lstsq)
def lstsq(y, a, b, rcond=None, *, y_bar):
    """(x, ρ, rank, s) = lstsq(A, b), A of full column rank:  z = (AᵀA)⁻¹ x̄,  b̄ = A z + 2 r ρ̄,
    Ā = r zᵀ − A z xᵀ − 2 r ρ̄ xᵀ + U diag(s̄) Vᵀ  (r = b − A x)"""
    a_bar, b_bar = lstsq_bars(y_bar, y, a, b)
    return a_bar, b_bar


@tangent(np.linalg.lstsq, adds=add_elementwise)
def lstsq_tangent(y, a, b, rcond=None, *, a_dot, b_dot):
    """(x, ρ, rank, s) = lstsq(A, b):  ẋ = (AᵀA)⁻¹ (Ȧᵀ r − Aᵀ Ȧ x + Aᵀ ḃ),
    ρ̇ = 2 Σ r (ḃ − Ȧ x),  ṡ = diag(Uᵀ Ȧ V)"""
    a_term = lstsq_dots(a_dot, None, y, a, b)
    b_term = lstsq_dots(None, b_dot, y, a, b)
    return a_term, b_term


@adjoint(np.linalg.tensorsolve)
def tensorsolve(x, a, b, axes=None, *, x_bar):
    """x = A⁻¹ b, A the tensor a as a square matrix (axes moved last), b and x flattened:
    b̄ = A⁻ᵀ x̄,  Ā = −b̄ xᵀ  (reshaped back)"""
    a_bar, b_bar = tensorsolve_bars(x_bar, x, a, b, axes)
    return a_bar, b_bar


@tangent(np.linalg.tensorsolve)
def tensorsolve_tangent(x, a, b, axes=None, *, a_dot, b_dot):
    """x = A⁻¹ b:  ẋ = −A⁻¹ Ȧ x + A⁻¹ ḃ  (as matrices and vectors, reshaped)"""
    a_term = tensorsolve_dot(x, a, b, a_dot=a_dot, axes=axes)
    b_term = tensorsolve_dot(x, a, b, b_dot=b_dot, axes=axes)
    return a_term, b_term


@adjoint(np.linalg.tensorinv)
def tensorinv(y, a, ind=2, *, y_bar):
    """Y = M⁻¹, M the tensor a as a matrix (its first ind axes as rows):  M̄ = −Yᵀ Ȳ Yᵀ"""
    return tensorinv_bar(y_bar, y, a, ind)


@tangent(np.linalg.tensorinv)
def tensorinv_tangent(y, a, ind=2, *, a_dot):
    """Y = M⁻¹:  Ẏ = −Y Ṁ Y"""
    return tensorinv_dot(a_dot, y, a, ind)
