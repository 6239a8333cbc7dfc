"""The linear-algebra rules (``overbar/runtime/rules_linalg.py``) against central differences.

As in ``test_rules.py``: each sample is an expression in a few inputs; the test differentiates
``sum(expression * u)`` and checks each input's gradient with the dot-product test along a
random direction, for the adjoint specialised on the sample's shapes and the general one.
Matrices are well conditioned (``wc``), symmetric positive definite (``spd``) or symmetric with
well-separated eigenvalues (``sym``); shapes include stacks of matrices. The symmetric
factorisations read one triangle, so random directions (which move the other one too) check
that their gradient is that of what NumPy computes; ``test_symmetric_directions`` checks the
symmetric directions as well.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest

import overbar
from overbar.errors import NoDerivativeError, OverbarError
from overbar.primitives import Attribute, Method, describe
from overbar.runtime.registry import RULES
from tests.support import define, directional_check


@dataclass(frozen=True)
class Value:
    """An input: ``kind`` (any, pos, wc, spd, sym) of the given shape (() is a Python float)."""

    kind: str
    shape: tuple = ()


def any_(*shape):
    return Value("any", shape)


def pos(*shape):
    return Value("pos", shape)


def wc(*shape):
    return Value("wc", shape)


def spd(*shape):
    return Value("spd", shape)


def sym(*shape):
    return Value("sym", shape)


def realeig(*shape):
    return Value("realeig", shape)


def make_value(spec: Value, rng: np.random.Generator):
    shape = spec.shape
    if spec.kind == "any":
        value = rng.uniform(-1.0, 1.0, size=shape)
        return float(value) if shape == () else value
    if spec.kind == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    n = shape[-1]
    noise = rng.standard_normal(shape)
    if spec.kind == "wc":  # square or not: a dominant identity block keeps it far from rank loss
        return np.eye(shape[-2], n) * 2.0 + 0.3 * noise
    if spec.kind == "spd":
        return noise @ np.swapaxes(noise, -1, -2) / n + np.eye(n)
    if spec.kind == "realeig":  # not symmetric, eigenvalues 1, 2, ..., n: B diag(1..n) B⁻¹
        basis = np.eye(n) * 2.0 + 0.3 * noise
        return (basis * np.arange(1.0, n + 1)[..., None, :]) @ np.linalg.inv(basis)
    # symmetric, eigenvalues 1, 2, ..., n: gaps of 1
    basis = np.linalg.qr(noise)[0]
    return (basis * np.arange(1.0, n + 1)[..., None, :]) @ np.swapaxes(basis, -1, -2)


@dataclass(frozen=True)
class Sample:
    primal: object
    expression: str
    inputs: dict

    def __str__(self) -> str:
        shapes = ",".join(f"{k}{v.kind}{v.shape}" for k, v in self.inputs.items())
        return f"{describe(self.primal)}|{self.expression}|{shapes.replace(' ', '')}"


def S(primal, expression, **inputs):
    return Sample(primal, expression, inputs)


NORM_ORDS_VECTOR = ["1", "2", "3", "0.5", "-1.5", "np.inf", "-np.inf"]
NORM_ORDS_MATRIX = ["1", "-1", "2", "-2", "np.inf", "-np.inf", "'fro'", "'nuc'"]

SAMPLES = [
    # products
    S(np.dot, "np.dot(a, b)", a=any_(2, 3), b=any_(3, 4)),
    S(np.dot, "np.dot(a, b)", a=any_(3), b=any_(3)),
    S(np.dot, "np.dot(a, b)", a=any_(), b=any_(2, 2)),
    S(np.dot, "np.dot(a, b)", a=any_(2, 2, 3), b=any_(3)),
    S(np.dot, "np.dot(a, b)", a=any_(2, 2, 3), b=any_(3, 4)),
    S(np.dot, "np.dot(a, b)", a=any_(2, 3), b=any_(2, 3, 4)),
    S(np.dot, "np.dot(a, b)", a=any_(2, 1, 3), b=any_(5, 3, 2)),
    S(Method("dot"), "a.dot(b)", a=any_(2, 2, 3), b=any_(3, 2)),
    S(np.inner, "np.inner(a, b)", a=any_(2, 3), b=any_(4, 3)),
    S(np.outer, "np.outer(a, b)", a=any_(2, 2), b=any_(3)),
    S(np.vdot, "np.vdot(a, b)", a=any_(3), b=any_(3)),
    S(np.vdot, "np.vdot(a, b)", a=any_(2, 3), b=any_(3, 2)),
    S(np.tensordot, "np.tensordot(a, b)", a=any_(2, 3, 4), b=any_(3, 4, 2)),
    S(np.tensordot, "np.tensordot(a, b, 1)", a=any_(2, 3), b=any_(3, 4)),
    S(np.tensordot, "np.tensordot(a, b, axes=0)", a=any_(2), b=any_(3)),
    S(np.tensordot, "np.tensordot(a, b, axes=([0, 2], [2, 1]))", a=any_(2, 3, 4), b=any_(3, 4, 2)),
    S(np.tensordot, "np.tensordot(a, b, axes=(1, 0))", a=any_(2, 3), b=any_(3, 2)),
    S(np.tensordot, "np.tensordot(a, b, axes=([-1], [0]))", a=any_(2, 3), b=any_(3)),
    S(np.kron, "np.kron(a, b)", a=any_(2), b=any_(3)),
    S(np.kron, "np.kron(a, b)", a=any_(2, 3), b=any_(2, 2)),
    S(np.kron, "np.kron(a, b)", a=any_(2), b=any_(3, 2)),
    S(np.kron, "np.kron(a, b)", a=any_(), b=any_(3)),
    S(np.linalg.multi_dot, "np.linalg.multi_dot([a, b])", a=any_(2, 3), b=any_(3, 4)),
    S(np.linalg.multi_dot, "np.linalg.multi_dot([a, b, c])", a=any_(3), b=any_(3, 4), c=any_(4)),
    S(
        np.linalg.multi_dot,
        "np.linalg.multi_dot([a, b, c, a.T])",
        a=any_(2, 3),
        b=any_(3, 4),
        c=any_(4, 3),
    ),
    S(np.cross, "np.cross(a, b)", a=any_(3), b=any_(3)),
    S(np.cross, "np.cross(a, b)", a=any_(4, 3), b=any_(3)),
    S(np.cross, "np.cross(a, b, axis=0)", a=any_(3, 2), b=any_(3, 1)),
    S(np.cross, "np.cross(a, b, axisa=0, axisb=1, axisc=0)", a=any_(3, 2), b=any_(2, 3)),
    S(np.einsum, "np.einsum('bi,ij->bj', a, b)", a=any_(4, 2), b=any_(2, 3)),
    S(np.einsum, "np.einsum('ji,jk', a, b)", a=any_(3, 2), b=any_(3, 4)),
    S(np.einsum, "np.einsum('ijk,kjl->li', a, b)", a=any_(2, 3, 2), b=any_(2, 3, 4)),
    S(np.einsum, "np.einsum('i,j->ij', a, b)", a=any_(3), b=any_(2)),
    S(np.einsum, "np.einsum('ij,ij->', a, b)", a=any_(2, 3), b=any_(2, 3)),
    S(np.einsum, "np.einsum('bi,ij->bj', a, b)", a=any_(4, 1), b=any_(3, 2)),  # i of length 1
    S(np.einsum, "np.einsum('ii->i', a)", a=any_(3, 3)),
    S(np.einsum, "np.einsum('ii', a)", a=any_(3, 3)),
    S(np.einsum, "np.einsum('iij,j->i', a, b)", a=any_(2, 2, 3), b=any_(3)),
    S(np.einsum, "np.einsum('...ij,...jk->...ik', a, b)", a=any_(2, 2, 3), b=any_(3, 4)),
    S(np.einsum, "np.einsum('...ij,...jk', a, b)", a=any_(5, 2, 3), b=any_(1, 3, 2)),
    S(np.einsum, "np.einsum('i...->...', a)", a=any_(3, 2, 2)),
    S(np.einsum, "np.einsum(a, [0, 1], b, [1, 2], [0, 2])", a=any_(2, 3), b=any_(3, 4)),
    S(np.einsum, "np.einsum(a, [0, 1], b, [1, 2])", a=any_(2, 3), b=any_(3, 4)),
    S(np.einsum, "np.einsum(a, [Ellipsis, 0], b, [0])", a=any_(2, 3), b=any_(3)),
    S(np.einsum, "np.einsum('ij,jk->ik', a, b, optimize=True)", a=any_(2, 3), b=any_(3, 4)),
    S(np.trace, "np.trace(a)", a=any_(3, 3)),
    S(Method("trace"), "a.trace(1)", a=any_(2, 3, 4)),
    S(np.linalg.matrix_power, "np.linalg.matrix_power(a, 3)", a=any_(3, 3)),
    S(np.linalg.matrix_power, "np.linalg.matrix_power(a, 1)", a=any_(2, 2)),
    S(np.linalg.matrix_power, "np.linalg.matrix_power(a, 0)", a=any_(2, 2)),
    S(np.linalg.matrix_power, "np.linalg.matrix_power(a, -2)", a=wc(3, 3)),
    S(np.linalg.matrix_power, "np.linalg.matrix_power(a, 2)", a=any_(2, 3, 3)),
    # inverses, solves, determinants, stacked too
    S(np.linalg.inv, "np.linalg.inv(a)", a=wc(3, 3)),
    S(np.linalg.inv, "np.linalg.inv(a)", a=wc(4, 2, 2)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(3, 3), b=any_(3)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(3, 3), b=any_(3, 2)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(4, 3, 3), b=any_(3)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(4, 3, 3), b=any_(4, 3, 2)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(3, 3), b=any_(4, 3, 2)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=wc(2, 1, 3, 3), b=any_(4, 3, 1)),
    S(np.linalg.det, "np.linalg.det(a)", a=wc(3, 3)),
    S(np.linalg.det, "np.linalg.det(a)", a=wc(4, 2, 2)),
    S(np.linalg.slogdet, "np.linalg.slogdet(a)[1]", a=wc(3, 3)),
    S(np.linalg.slogdet, "np.linalg.slogdet(a)[1]", a=wc(2, 3, 3)),
    S(np.linalg.slogdet, "np.linalg.slogdet(-a)[1]", a=spd(3, 3)),
    S(np.linalg.pinv, "np.linalg.pinv(a)", a=wc(3, 3)),
    S(np.linalg.pinv, "np.linalg.pinv(a)", a=wc(4, 2)),
    S(np.linalg.pinv, "np.linalg.pinv(a)", a=wc(2, 4)),
    S(np.linalg.pinv, "np.linalg.pinv(a)", a=wc(3, 4, 2)),
    # factorisations
    S(np.linalg.cholesky, "np.linalg.cholesky(a)", a=spd(3, 3)),
    S(np.linalg.cholesky, "np.linalg.cholesky(a)", a=spd(2, 3, 3)),
    S(np.linalg.cholesky, "np.linalg.cholesky(a, upper=True)", a=spd(3, 3)),
    S(np.linalg.eigvalsh, "np.linalg.eigvalsh(a)", a=sym(3, 3)),
    S(np.linalg.eigvalsh, "np.linalg.eigvalsh(a, 'U')", a=sym(2, 3, 3)),
    S(np.linalg.eig, "np.linalg.eig(a)[0]", a=realeig(3, 3)),
    S(np.linalg.eig, "np.linalg.eig(a)[1] ** 2", a=realeig(3, 3)),
    S(np.linalg.eig, "np.linalg.eig(a)[0] * np.linalg.eig(a)[1] ** 3", a=realeig(4, 4)),
    S(np.linalg.eig, "np.linalg.eig(a)[1] ** 2", a=realeig(2, 3, 3)),
    S(np.linalg.eig, "np.linalg.eig(a + b)[1][..., 0] ** 2", a=realeig(3, 3), b=any_(3, 3)),
    S(np.linalg.eigvals, "np.linalg.eigvals(a)", a=realeig(3, 3)),
    S(np.linalg.eigvals, "np.linalg.eigvals(a) ** 2 * b", a=realeig(2, 4, 4), b=any_(4)),
    S(np.linalg.eigh, "np.linalg.eigh(a)[0]", a=sym(3, 3)),
    S(np.linalg.eigh, "np.linalg.eigh(a)[1] ** 2", a=sym(3, 3)),
    S(np.linalg.eigh, "np.linalg.eigh(a, UPLO='U')[1] ** 2", a=sym(4, 4)),
    S(np.linalg.eigh, "np.linalg.eigh(a)[1] ** 2", a=sym(2, 3, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, compute_uv=False)", a=wc(3, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, compute_uv=False)", a=wc(2, 4, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, False, False)", a=wc(2, 3)),
    S(np.linalg.svd, "np.linalg.svd(a)[1]", a=wc(3, 2)),
    S(np.linalg.svd, "np.linalg.svd(a)[0] ** 2", a=wc(3, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[0] ** 2", a=wc(4, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[2] ** 2", a=wc(4, 3)),
    S(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[0] ** 2", a=wc(3, 4)),
    S(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[2] ** 2", a=wc(3, 4)),
    S(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[2] ** 2", a=wc(2, 4, 3)),
    S(np.linalg.qr, "np.linalg.qr(a)[0]", a=wc(3, 3)),
    S(np.linalg.qr, "np.linalg.qr(a)[1]", a=wc(4, 3)),
    S(np.linalg.qr, "np.linalg.qr(a)[0]", a=wc(5, 3)),
    S(np.linalg.qr, "np.linalg.qr(a)[0]", a=wc(2, 4, 3)),
    S(np.linalg.qr, "np.linalg.qr(a, mode='r')", a=wc(4, 3)),
    S(np.linalg.qr, "np.linalg.qr(a, 'complete')[1]", a=wc(3, 3)),
    # norms: every ord, axis and keepdims
    S(np.linalg.norm, "np.linalg.norm(a)", a=any_(2, 2, 3)),
    S(np.linalg.norm, "np.linalg.norm(a, axis=(0, 2))", a=any_(2, 2, 3)),
    *[S(np.linalg.norm, f"np.linalg.norm(a, {o})", a=any_(5)) for o in NORM_ORDS_VECTOR],
    *[
        S(np.linalg.norm, f"np.linalg.norm(a, ord={o}, axis=-1, keepdims=True)", a=any_(2, 4))
        for o in NORM_ORDS_VECTOR
    ],
    S(np.linalg.norm, "np.linalg.norm(a, 0)", a=any_(4)),
    *[S(np.linalg.norm, f"np.linalg.norm(a, {o})", a=any_(3, 4)) for o in NORM_ORDS_MATRIX],
    *[
        S(np.linalg.norm, f"np.linalg.norm(a, {o}, (2, 0))", a=any_(3, 2, 4))
        for o in NORM_ORDS_MATRIX
    ],
    S(np.linalg.norm, "np.linalg.norm(a, 'nuc', (1, 2), True)", a=any_(2, 3, 3)),
    # NumPy 2's array-API names
    S(np.linalg.outer, "np.linalg.outer(a, b)", a=any_(2), b=any_(3)),
    S(np.linalg.tensordot, "np.linalg.tensordot(a, b)", a=any_(2, 3, 4), b=any_(3, 4)),
    S(np.linalg.tensordot, "np.linalg.tensordot(a, b, axes=1)", a=any_(2, 3), b=any_(3, 2)),
    S(np.linalg.cross, "np.linalg.cross(a, b)", a=any_(3), b=any_(2, 3)),
    S(np.linalg.cross, "np.linalg.cross(a, b, axis=0)", a=any_(3, 2), b=any_(3, 2)),
    S(np.linalg.trace, "np.linalg.trace(a)", a=any_(3, 3)),
    S(np.linalg.trace, "np.linalg.trace(a, offset=1)", a=any_(2, 3, 4)),
    S(np.linalg.trace, "np.linalg.trace(a, offset=-1)", a=any_(4, 3)),
    S(np.linalg.diagonal, "np.linalg.diagonal(a)", a=any_(3, 3)),
    S(np.linalg.diagonal, "np.linalg.diagonal(a, offset=1)", a=any_(2, 3, 4)),
    S(np.linalg.diagonal, "np.linalg.diagonal(a, offset=-2)", a=any_(4, 3)),
    S(np.vecdot, "np.vecdot(a, b)", a=any_(3), b=any_(3)),
    S(np.vecdot, "np.vecdot(a, b)", a=any_(2, 3), b=any_(3)),
    S(np.vecdot, "np.vecdot(a, b, axis=0)", a=any_(3, 2), b=any_(3, 1)),
    S(np.vecdot, "np.vecdot(a, b, axis=-2)", a=any_(2, 3, 2), b=any_(3, 2)),
    S(np.linalg.vecdot, "np.linalg.vecdot(a, b)", a=any_(2, 1, 4), b=any_(3, 4)),
    S(np.linalg.vecdot, "np.linalg.vecdot(a, b, axis=0)", a=any_(4), b=any_(4, 2)),
    S(np.matvec, "np.matvec(a, b)", a=any_(2, 3), b=any_(3)),
    S(np.matvec, "np.matvec(a, b)", a=any_(4, 2, 3), b=any_(3)),
    S(np.matvec, "np.matvec(a, b)", a=any_(2, 3), b=any_(4, 3)),
    S(np.vecmat, "np.vecmat(a, b)", a=any_(2), b=any_(2, 3)),
    S(np.vecmat, "np.vecmat(a, b)", a=any_(4, 2), b=any_(2, 3)),
    S(np.vecmat, "np.vecmat(a, b)", a=any_(2), b=any_(3, 2, 4)),
    S(np.linalg.svdvals, "np.linalg.svdvals(a)", a=wc(3, 3)),
    S(np.linalg.svdvals, "np.linalg.svdvals(a)", a=wc(2, 4, 3)),
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a)", a=any_(4)),
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a)", a=any_(2, 3)),  # flattened
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a, ord=1)", a=any_(3, 2)),
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a, axis=0, ord=3)", a=any_(3, 2)),
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a, axis=(0, 2))", a=any_(2, 3, 2)),
    S(
        np.linalg.vector_norm,
        "np.linalg.vector_norm(a, axis=-1, keepdims=True, ord=np.inf)",
        a=any_(2, 3),
    ),
    S(np.linalg.vector_norm, "np.linalg.vector_norm(a, keepdims=True)", a=any_(2, 3)),
    *[
        S(np.linalg.matrix_norm, f"np.linalg.matrix_norm(a, ord={order})", a=wc(3, 3))
        for order in NORM_ORDS_MATRIX
    ],
    S(np.linalg.matrix_norm, "np.linalg.matrix_norm(a)", a=any_(2, 3, 2)),
    S(np.linalg.matrix_norm, "np.linalg.matrix_norm(a, keepdims=True, ord=1)", a=wc(2, 3, 3)),
    S(Attribute("mT"), "np.linalg.matrix_transpose(a) @ b", a=any_(3, 2), b=any_(3)),
    # condition numbers
    S(np.linalg.cond, "np.linalg.cond(a)", a=wc(3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a)", a=wc(4, 2)),
    S(np.linalg.cond, "np.linalg.cond(a)", a=wc(2, 3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, 2)", a=wc(3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, -2)", a=wc(3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, 'fro')", a=wc(3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, 'nuc')", a=wc(2, 3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, 1)", a=wc(3, 3)),
    S(np.linalg.cond, "np.linalg.cond(a, -np.inf)", a=wc(3, 3)),
    # tensor solves and inverses
    S(
        np.linalg.tensorsolve,
        "np.linalg.tensorsolve(np.reshape(a, (2, 3, 6)), b)",
        a=wc(6, 6),
        b=any_(2, 3),
    ),
    S(
        np.linalg.tensorsolve,
        "np.linalg.tensorsolve(np.reshape(a, (6, 2, 3)), b, axes=(0,))",
        a=wc(6, 6),
        b=any_(2, 3),
    ),
    S(np.linalg.tensorsolve, "np.linalg.tensorsolve(a, b)", a=wc(3, 3), b=any_(3)),
    S(np.linalg.tensorinv, "np.linalg.tensorinv(np.reshape(a, (2, 3, 6)))", a=wc(6, 6)),
    S(np.linalg.tensorinv, "np.linalg.tensorinv(a, ind=1)", a=wc(4, 4)),
    # least squares
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b)[0]", a=wc(5, 3), b=any_(5)),
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b, rcond=None)[0]", a=wc(4, 2), b=any_(4, 3)),
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b)[0]", a=wc(3, 3), b=any_(3)),
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b)[1]", a=wc(5, 2), b=any_(5)),
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b)[1]", a=wc(4, 3), b=any_(4, 2)),
    S(np.linalg.lstsq, "np.linalg.lstsq(a, b)[3]", a=wc(4, 3), b=any_(4)),
    S(
        np.linalg.lstsq,
        "np.linalg.lstsq(a, b)[0] * np.sum(np.linalg.lstsq(a, b)[1])",
        a=wc(5, 2),
        b=any_(5),
    ),
]


def _run(sample: Sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [make_value(sample.inputs[n], rng) for n in names]
    probe = define(f"def probe({', '.join(names)}):\n    return {sample.expression}\n", "probe")
    cotangent = rng.standard_normal(np.shape(probe(*args)))
    f = define(
        f"def f({', '.join([*names, 'u'])}):\n    return np.sum(({sample.expression}) * u)\n"
    )
    return names, args, cotangent, f


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    names, args, cotangent, f = _run(sample)
    wrt = tuple(range(len(names)))
    gradient_function = overbar.grad(f, wrt=wrt)
    gradients = gradient_function(*args, cotangent)  # specialised on these shapes
    general = gradient_function.stages.emitted.function(*args, cotangent)
    general = (general,) if len(wrt) == 1 else general
    for name, arg, gradient, other in zip(names, args, gradients, general, strict=True):
        assert np.shape(gradient) == np.shape(arg), name
        assert np.shape(other) == np.shape(arg), name
        np.testing.assert_allclose(gradient, other, rtol=1e-10, atol=1e-12, err_msg=name)
    for seed in range(2):
        checks = directional_check(f, [*args, cotangent], wrt, gradients, seed=seed)
        for index, analytic, numeric in checks:
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7), names[index]


def test_every_linear_algebra_rule_has_samples():
    sampled = {sample.primal for sample in SAMPLES}
    rules = [rule for entries in RULES.rules.values() for rule in entries]
    mine = [r for r in rules if r.function.__module__ == "overbar.runtime.rules_linalg"]
    missing = sorted({describe(r.primal) for r in mine if r.primal not in sampled})
    assert not missing, f"rules without sample inputs: {missing}"


def _symmetric_direction_check(f, a, gradient, rng):
    """<Ā, D> against the central difference of f along a random symmetric D."""
    direction = rng.standard_normal(a.shape)
    direction = direction + np.swapaxes(direction, -1, -2)
    eps = 1e-6
    numeric = (f(a + eps * direction) - f(a - eps * direction)) / (2 * eps)
    assert np.sum(gradient * direction) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


SYMMETRIC = {
    "cholesky": "np.sum(np.linalg.cholesky(a) * u)",
    "cholesky upper": "np.sum(np.linalg.cholesky(a, upper=True) * u)",
    "eigvalsh": "np.sum(np.linalg.eigvalsh(a) * u[0])",
    "eigh values": "np.sum(np.linalg.eigh(a)[0] * u[0])",
    "eigh vectors": "np.sum(np.linalg.eigh(a, 'U')[1] ** 2 * u)",
}


@pytest.mark.parametrize("name", list(SYMMETRIC))
def test_symmetric_directions(name):
    """Along symmetric directions the one-triangle gradient gives the derivative of the
    symmetric-matrix function; the part of Ā off the triangle read is zero."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a = make_value(spd(4, 4), rng) + np.diag([0.0, 1.0, 2.0, 3.0])  # apart eigenvalues
    u = rng.standard_normal((4, 4))
    f = define(f"def f(a, u):\n    return {SYMMETRIC[name]}\n")
    gradient = overbar.grad(f)(a, u)
    _symmetric_direction_check(lambda x: f(x, u), a, gradient, rng)
    unread = (
        np.triu(gradient, 1)
        if "upper" not in name and "'U'" not in SYMMETRIC[name]
        else (np.tril(gradient, -1))
    )
    assert not unread.any()


def test_larger_matrices_pass_the_dot_product_test():
    """8×8 and 12×5 inputs, through a chain of the rules (the guard is on in the tests, too)."""
    f = define(
        "def f(a, b, s):\n"
        "    x = np.linalg.solve(a, b)\n"
        "    w, v = np.linalg.eigh(s + s.T)\n"
        "    l = np.linalg.cholesky(s @ s.T + np.eye(8))\n"
        "    q, r = np.linalg.qr(b)\n"
        "    return np.sum(x * x) + np.sum(w * w) + np.trace(l)"
        " + np.linalg.slogdet(a)[1] + np.sum(q[:, 0] * r[0, 0]) + np.linalg.norm(a, 'nuc')\n"
    )
    rng = np.random.default_rng(3)
    a = np.eye(8) * 3.0 + 0.3 * rng.standard_normal((8, 8))
    b = np.eye(8, 5) * 2.0 + 0.3 * rng.standard_normal((8, 5))
    s = rng.standard_normal((8, 8))
    overbar.check_grad(f, [a, b, s], wrt=(0, 1, 2))


UNPACKING = {
    "slogdet": ("sign, logdet = np.linalg.slogdet(a)", "sign * logdet"),
    "eigh": ("w, v = np.linalg.eigh(a @ a.T)", "np.sum(w) + np.sum(v[:, 0] ** 2 * w[0])"),
    "eig": (
        "w, v = np.linalg.eig(a @ a.T @ np.diag([1.0, 2.0, 3.0, 4.0]))",
        "np.sum(w) + np.sum(v[:, 0] ** 2 * w[0])",
    ),
    "svd": ("u, s, vt = np.linalg.svd(a, full_matrices=False)", "np.sum(u**2 @ s) + vt[0, 0]**2"),
    "svd square": ("u, s, vt = np.linalg.svd(a)", "np.sum((u * s) @ vt)"),
    "qr": ("q, r = np.linalg.qr(a)", "np.sum(q * q[0]) + np.sum(r)"),
    "qr indexed": ("parts = np.linalg.qr(a)", "np.sum(parts[1])"),
}


@pytest.mark.parametrize("name", list(UNPACKING))
def test_tuple_results_unpacked(name):
    """`sign, logdet = np.linalg.slogdet(A)` and the like: the tuple's adjoint reaches the rule
    with zeros for the parts no line reads."""
    line, result = UNPACKING[name]
    f = define(f"def f(a):\n    {line}\n    return {result}\n")
    a = np.eye(4) * 2.0 + 0.3 * np.random.default_rng(0).standard_normal((4, 4))
    overbar.check_grad(f, [a])


REFUSED = {
    "repeated eigenvalue": ("np.sum(np.linalg.eigh(a)[1] ** 3)", np.eye(3)),
    "repeated eigenvalue, eig": ("np.sum(np.linalg.eig(a)[1] ** 3)", np.eye(3)),
    "complex eigenvalues": ("np.sum(np.abs(np.linalg.eig(a)[0]))", np.array([[0.0, 1], [-1, 0]])),
    "complex eigenvectors": ("np.sum(np.abs(np.linalg.eig(a)[1]))", np.array([[1.0, 2], [-2, 1]])),
    "complex eigvals": ("np.sum(np.abs(np.linalg.eigvals(a)))", np.array([[1.0, 2], [-2, 1]])),
    "repeated singular value": ("np.sum(np.linalg.svd(a)[0] ** 3)", np.eye(3)),
    "rank-deficient pinv": ("np.sum(np.linalg.pinv(a))", np.ones((3, 2))),
    "wide qr": ("np.sum(np.linalg.qr(a)[0])", np.eye(2, 3) + 0.1),
    "tall complete qr": ("np.sum(np.linalg.qr(a, 'complete')[0])", np.eye(3, 2) + 0.1),
    "full svd of a tall matrix": ("np.sum(np.linalg.svd(a)[0])", np.eye(3, 2) + 0.1),
    "hermitian svd": ("np.sum(np.linalg.svd(a, hermitian=True)[1])", np.eye(2) * 2.0),
    "hermitian pinv": ("np.sum(np.linalg.pinv(a, hermitian=True))", np.eye(2) * 2.0),
    "cross of a 2- and a 3-vector": ("np.sum(np.cross(a[0, :2], a[0]))", np.eye(3) + 0.1),
}


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
@pytest.mark.parametrize("name", list(REFUSED))
def test_no_derivative_is_refused(name):
    expression, a = REFUSED[name]
    f = define(f"def f(a):\n    return {expression}\n")
    with pytest.raises(OverbarError):
        overbar.grad(f, check=False)(a)


def test_repeated_eigenvalues_are_fine_for_the_eigenvalues():
    """Only eigenvectors of a repeated eigenvalue lack a derivative; the eigenvalues' sum is
    smooth (its gradient is I, on the lower triangle)."""
    f = define("def f(a):\n    return np.sum(np.linalg.eigh(a)[0])\n")
    np.testing.assert_allclose(overbar.grad(f)(np.eye(3)), np.eye(3), atol=1e-12)


def test_complex_eigenvalues_are_refused_by_name():
    f = define("def f(a):\n    return np.sum(np.abs(np.linalg.eig(a)[0]))\n")
    with pytest.raises(OverbarError, match="np.linalg.eig of a matrix with complex eigenvalues"):
        overbar.grad(f, check=False)(np.array([[0.0, 1.0], [-1.0, 0.0]]))


def test_a_repeated_eigenvalue_names_the_problem():
    f = define("def f(a):\n    return np.sum(np.linalg.eigh(a)[1] ** 3)\n")
    with pytest.raises(NoDerivativeError, match="repeated eigenvalue"):
        overbar.grad(f, check=False)(np.eye(3))


NORM_TIES = {
    # (expression, input, gradient): ties share the adjoint evenly
    "inf, two largest": ("np.linalg.norm(a, np.inf)", [1.0, -2.0, 2.0], [0.0, -0.5, 0.5]),
    "-inf, two smallest": ("np.linalg.norm(a, -np.inf)", [1.0, -1.0, 2.0], [0.5, -0.5, 0.0]),
    "1 of a matrix, two columns": (
        "np.linalg.norm(a, 1)",
        [[1.0, -1.0, 0.5], [1.0, 1.0, 0.5]],
        [[0.5, -0.5, 0.0], [0.5, 0.5, 0.0]],
    ),
    "inf of a matrix, two rows": (
        "np.linalg.norm(a, np.inf)",
        [[1.0, -2.0], [2.0, 0.0], [-1.0, 2.0]],
        [[0.5, -0.5], [0.0, 0.0], [-0.5, 0.5]],
    ),
}


@pytest.mark.parametrize("name", list(NORM_TIES))
def test_norm_ties_share_the_adjoint(name):
    expression, value, expected = NORM_TIES[name]
    f = define(f"def f(a):\n    return {expression}\n")
    gradient = overbar.grad(f, check=False)(np.array(value))
    np.testing.assert_allclose(gradient, expected)


def test_compute_uv_as_a_variable_is_refused():
    f = define("def f(a, flag):\n    return np.sum(np.linalg.svd(a, compute_uv=flag))\n")
    with pytest.raises(OverbarError):
        overbar.grad(f, check=False)(np.eye(2) * 2.0, False)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
def test_cross_of_two_vectors_in_the_plane():
    """np.cross of 2-vectors (deprecated by NumPy 2) gives the z component a₀b₁ − a₁b₀."""
    f = define("def f(a, b):\n    return np.sum(np.cross(a, b) * np.arange(1.0, 4.0))\n")
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    overbar.check_grad(f, [a, b], wrt=(0, 1))


# -- forward mode: the tangent rules beside the adjoint rules ---------------------------------
# (every sample above is also checked in forward mode by ``test_tangent_rules.py``)


def _jvp_against_differences(f, args, tangents, wrt, eps=1e-6):
    value, derivative = overbar.jvp(f, args, tangents, wrt=wrt)

    def at(step):
        moved = list(args)
        for i, t in zip(wrt, tangents, strict=True):
            moved[i] = args[i] + step * t
        return np.asarray(f(*moved))

    numeric = (at(eps) - at(-eps)) / (2 * eps)
    np.testing.assert_allclose(derivative, numeric, rtol=1e-5, atol=1e-7)
    return value, derivative


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
@pytest.mark.parametrize("name", list(REFUSED))
def test_no_derivative_is_refused_in_forward_mode(name):
    """Where the adjoint rule refuses an input, the tangent rule refuses it too."""
    expression, a = REFUSED[name]
    f = define(f"def f(a):\n    return {expression}\n")
    direction = np.random.default_rng(1).standard_normal(np.shape(a))
    with pytest.raises(OverbarError):
        overbar.jvp(f, [a], [direction])


@pytest.mark.parametrize("name", list(UNPACKING))
def test_tuple_results_unpacked_in_forward_mode(name):
    """The tangent of a tuple result is a tuple; unpacking it gives each part's tangent."""
    line, result = UNPACKING[name]
    f = define(f"def f(a):\n    {line}\n    return {result}\n")
    rng = np.random.default_rng(2)
    a = np.eye(4) * 2.0 + 0.3 * rng.standard_normal((4, 4))
    direction = rng.standard_normal((4, 4))
    _, derivative = _jvp_against_differences(f, [a], [direction], (0,))
    gradient = overbar.grad(f)(a)
    assert float(derivative) == pytest.approx(float(np.sum(gradient * direction)), rel=1e-9)


@pytest.mark.parametrize("name", list(SYMMETRIC))
def test_symmetric_directions_in_forward_mode(name):
    """Along a symmetric direction the tangent is the derivative of the symmetric-matrix
    function; along a direction in the triangle NumPy does not read it is zero."""
    rng = np.random.default_rng(zlib.crc32(("forward " + name).encode()))
    a = make_value(spd(4, 4), rng) + np.diag([0.0, 1.0, 2.0, 3.0])
    u = rng.standard_normal((4, 4))
    f = define(f"def f(a, u):\n    return {SYMMETRIC[name]}\n")
    direction = rng.standard_normal((4, 4))
    direction = direction + direction.T
    _jvp_against_differences(f, [a, u], [direction], (0,))
    upper = "upper" in name or "'U'" in SYMMETRIC[name]
    unread = np.tril(direction, -1) if upper else np.triu(direction, 1)
    _, derivative = overbar.jvp(f, [a, u], [unread], wrt=(0,))
    assert float(derivative) == 0.0


def test_larger_matrices_in_forward_mode():
    """8×8 and 8×5 inputs through a chain of the tangent rules, against differences and the
    gradient (the dot-product identity)."""
    f = define(
        "def f(a, b, s):\n"
        "    x = np.linalg.solve(a, b)\n"
        "    w, v = np.linalg.eigh(s + s.T)\n"
        "    l = np.linalg.cholesky(s @ s.T + np.eye(8))\n"
        "    q, r = np.linalg.qr(b)\n"
        "    u, d, vt = np.linalg.svd(b, full_matrices=False)\n"
        "    return np.sum(x * x) + np.sum(w * v[0]) + np.trace(l) + np.sum(u[:, 1] * vt[1, 0])"
        " + np.linalg.slogdet(a)[1] + np.sum(q[:, 0] * r[0, 0]) + np.linalg.norm(a, 'nuc')\n"
    )
    rng = np.random.default_rng(3)
    a = np.eye(8) * 3.0 + 0.3 * rng.standard_normal((8, 8))
    b = np.eye(8, 5) * 2.0 + 0.3 * rng.standard_normal((8, 5))
    s = rng.standard_normal((8, 8))
    args = [a, b, s]
    tangents = [rng.standard_normal(np.shape(x)) for x in args]
    _, derivative = _jvp_against_differences(f, args, tangents, (0, 1, 2))
    gradients = overbar.grad(f, wrt=(0, 1, 2))(*args)
    reverse = sum(float(np.sum(g * t)) for g, t in zip(gradients, tangents, strict=True))
    assert float(derivative) == pytest.approx(reverse, rel=1e-9)


def test_eigenvalues_keep_their_tangent_where_the_eigenvectors_have_none():
    """At a repeated eigenvalue, ``w, v = eigh(A)`` with w alone read has its derivative;
    reading v is refused, naming the repeated eigenvalue."""
    values = define("def f(a):\n    w, v = np.linalg.eigh(a)\n    return np.sum(w * w)\n")
    vectors = define("def f(a):\n    w, v = np.linalg.eigh(a)\n    return np.sum(v ** 3)\n")
    a = np.diag([1.0, 1.0, 2.0])
    direction = np.random.default_rng(4).standard_normal((3, 3))
    direction = direction + direction.T
    _jvp_against_differences(values, [a], [direction], (0,))
    with pytest.raises(NoDerivativeError, match="repeated eigenvalue"):
        overbar.jvp(vectors, [a], [direction])


def test_eigenvectors_of_a_repeated_eigenvalue_are_refused_along_every_direction():
    """A direction that leaves the repeated eigenvalue repeated (P = 0 on its block) does not
    fix the eigenvectors either: the basis LAPACK returns along it is not the derivative's."""
    vectors = define("def f(a):\n    w, v = np.linalg.eigh(a)\n    return v ** 2\n")
    basis = np.linalg.qr(np.random.default_rng(8).standard_normal((3, 3)))[0]
    a = basis @ np.diag([1.0, 1.0, 2.0]) @ basis.T
    unsplitting = basis @ np.diag([1.0, 1.0, 0.0]) @ basis.T
    with pytest.raises(NoDerivativeError, match="repeated eigenvalue"):
        overbar.jvp(vectors, [a], [unsplitting])


def test_the_singular_values_of_a_full_svd_of_a_tall_matrix_have_a_tangent():
    """``u, s, vt = svd(A)`` of a tall A: s has its tangent; U's columns past n have none, and
    reading U is refused."""
    values = define("def f(a):\n    u, s, vt = np.linalg.svd(a)\n    return s * s\n")
    vectors = define("def f(a):\n    u, s, vt = np.linalg.svd(a)\n    return u[:, 0] * s[0]\n")
    rng = np.random.default_rng(5)
    a = np.eye(4, 3) * 2.0 + 0.3 * rng.standard_normal((4, 3))
    direction = rng.standard_normal((4, 3))
    _jvp_against_differences(values, [a], [direction], (0,))
    with pytest.raises(NoDerivativeError, match="full_matrices=False"):
        overbar.jvp(vectors, [a], [direction])


def test_a_missing_tangent_refuses_every_use():
    from overbar.runtime.helpers_linalg import NoTangent

    missing = NoTangent("no derivative here")
    uses = [
        lambda t: t + 1.0,
        lambda t: 2.0 * t,
        lambda t: np.ones(2) @ t,
        lambda t: np.sum(t),
        lambda t: np.exp(t),
        lambda t: t[0],
        lambda t: t.shape,
        lambda t: np.asarray(t),
        lambda t: -t,
        lambda t: float(t),
    ]
    for use in uses:
        with pytest.raises(NoDerivativeError, match="no derivative here"):
            use(missing)
    assert "no derivative here" in repr(missing)


@pytest.mark.parametrize("name", list(NORM_TIES))
def test_norm_ties_share_the_tangent(name):
    """At a tie the tangent is the same subgradient's: ẏ = ⟨ḡ, ẋ⟩ with the shares above."""
    expression, value, expected = NORM_TIES[name]
    f = define(f"def f(a):\n    return {expression}\n")
    direction = np.random.default_rng(6).standard_normal(np.shape(value))
    _, derivative = overbar.jvp(f, [np.array(value)], [direction])
    assert float(derivative) == pytest.approx(float(np.sum(np.array(expected) * direction)))


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
def test_cross_of_two_vectors_in_the_plane_in_forward_mode():
    f = define("def f(a, b):\n    return np.cross(a, b) * np.arange(1.0, 4.0)\n")
    rng = np.random.default_rng(7)
    args = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    tangents = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    _jvp_against_differences(f, args, tangents, (0, 1))


def test_compute_uv_as_a_variable_is_refused_in_forward_mode():
    f = define("def f(a, flag):\n    return np.sum(np.linalg.svd(a, compute_uv=flag))\n")
    with pytest.raises(OverbarError):
        overbar.jvp(f, [np.eye(2) * 2.0, False], [np.ones((2, 2))], wrt=(0,))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_float32_in_float32_tangent_out(sample):
    """A tangent has its value's dtype: float32 inputs and tangents give a float32 tangent."""
    if "np.linalg.eig(" in sample.expression or "np.linalg.eigvals(" in sample.expression:
        pytest.skip("a general matrix's eigenvalues may come out complex in float32 (refused)")
    rng = np.random.default_rng(zlib.crc32(("float32 " + str(sample)).encode()))
    names = list(sample.inputs)
    args = [np.float32(make_value(sample.inputs[n], rng)) for n in names]
    args = [a if np.ndim(a) else np.float32(a) for a in args]
    tangents = [np.ones_like(a) for a in args]
    probe = define(f"def probe({', '.join(names)}):\n    return {sample.expression}\n", "probe")
    value, derivative = overbar.jvp(probe, args, tangents, wrt=tuple(range(len(args))))
    assert np.asarray(value).dtype == np.float32
    assert np.asarray(derivative).dtype == np.float32


def test_a_returned_tangent_with_no_derivative_is_refused():
    # eigenvectors of a repeated eigenvalue returned as they are: refused, not handed back
    f = define("def f(a):\n    w, v = np.linalg.eigh(a)\n    return v\n")
    with pytest.raises(overbar.NoDerivativeError):
        overbar.jvp(f, (np.eye(3),), (np.ones((3, 3)),))
    g = define("def g(a):\n    w, v = np.linalg.eigh(a)\n    return (w, v)\n", "g")
    with pytest.raises(overbar.NoDerivativeError):
        overbar.jvp(g, (np.eye(3),), (np.ones((3, 3)),))


_PLANNED = [
    ("bi,ij->bj", [(4, 2), (2, 3)]),
    ("ji,jk", [(3, 2), (3, 4)]),
    ("ijk,kjl->li", [(2, 3, 2), (2, 3, 4)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    # a label in all three: a batch of products (stacked matmul), in any position
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("nqd,nkd->nqk", [(3, 4, 2), (3, 5, 2)]),
    ("qnd,knd->nqk", [(4, 3, 2), (5, 3, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 2), (2, 3, 5, 2)]),
    ("bi,bi->b", [(4, 3), (4, 3)]),  # a batch and nothing free: each adjoint a product
    ("bi,bj->bij", [(4, 3), (4, 2)]),  # a batch of outer products (nothing summed)
    ("ib,bj->bij", [(3, 4), (4, 2)]),
]
_NOT_PLANNED = [
    ("bi,ij->bj", [(4, 1), (3, 2)]),  # a length 1 broadcast
    ("ii,i->i", [(3, 3), (3,)]),  # a repeated label: a diagonal
    ("ij,j->", [(3, 2), (2,)]),  # i summed in one operand alone
    ("...i,ij->...j", [(2, 4, 3), (3, 2)]),  # an ellipsis
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),  # three operands
]


@pytest.mark.parametrize("subscripts, shapes", _PLANNED + _NOT_PLANNED)
def test_einsum_adjoints_as_matrix_products_equal_einsums_own(subscripts, shapes):
    """Identity: for z = einsum(s, x, y), x̄ = einsum(z̄, y) onto x's labels, a product of
    stacks of matrices when each label is free, summed or a batch label (in exactly two of
    x, y, z, or in all three), none repeated, no length 1 broadcast. Where one of these
    fails the plan is None and einsum's own contraction is used."""
    from overbar.runtime import helpers_linalg

    rng = np.random.default_rng(7)
    operands = [rng.normal(size=shape) for shape in shapes]
    operands[0] = np.asfortranarray(operands[0])  # any memory layout
    y_bar = rng.normal(size=np.einsum(subscripts, *operands).shape)
    _, fast = helpers_linalg.einsum_bars(subscripts, y_bar, tuple(operands))
    inputs, output = helpers_linalg._parse_einsum(subscripts, operands)
    wanted = (True,) * len(operands)
    general = helpers_linalg._einsum_operand_bars(inputs, output, y_bar, operands, wanted)
    for one, other, operand in zip(fast, general, operands, strict=True):
        assert one.shape == operand.shape
        np.testing.assert_allclose(one, other, rtol=1e-12, atol=1e-12)
    plan = helpers_linalg._products_plan(subscripts, y_bar, tuple(operands))
    assert (plan is None) == ((subscripts, shapes) in _NOT_PLANNED)


@pytest.mark.parametrize("subscripts, shapes", _PLANNED[:5] + _NOT_PLANNED[:3])
@pytest.mark.parametrize("seed", [1.0, 2, np.float64(0.5)])
def test_einsum_adjoints_of_a_number_seed(subscripts, shapes, seed):
    """z̄ a number where z has no labels (a loss's seed 1.0): x̄ = z̄ y, by the plan where it
    applies; otherwise einsum's contraction; the same values either way."""
    from overbar.runtime import helpers_linalg

    subscripts = subscripts.partition("->")[0] + "->"
    rng = np.random.default_rng(3)
    operands = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    _, fast = helpers_linalg.einsum_bars(subscripts, seed, tuple(operands))
    inputs, output = helpers_linalg._parse_einsum(subscripts, operands)
    wanted = (True,) * len(operands)
    unit = helpers_linalg._einsum_operand_bars(inputs, output, 1.0, operands, wanted)
    for bar, one, operand in zip(fast, unit, operands, strict=True):
        assert bar.shape == operand.shape
        assert bar.dtype.kind == "f"
        np.testing.assert_allclose(bar, seed * one, rtol=1e-5)


@pytest.mark.parametrize("subscripts, shapes", _PLANNED[:3] + _NOT_PLANNED)
def test_einsum_adjoints_left_out_where_not_wanted(subscripts, shapes):
    """An operand not wanted gets None; the others' adjoints are unchanged."""
    from overbar.runtime import helpers_linalg

    rng = np.random.default_rng(5)
    operands = tuple(rng.normal(size=shape) for shape in shapes)
    y_bar = rng.normal(size=np.einsum(subscripts, *operands).shape)
    _, every = helpers_linalg.einsum_bars(subscripts, y_bar, operands)
    for k in range(len(operands)):
        wanted = tuple(j != k for j in range(len(operands)))
        _, some = helpers_linalg.einsum_bars(subscripts, y_bar, operands, wanted)
        assert some[k] is None
        for j in range(len(operands)):
            if j != k:
                np.testing.assert_allclose(some[j], every[j], rtol=1e-12, atol=1e-12)


def test_lstsq_unpacked_into_its_four_parts():
    f = define(
        "def f(a, b):\n"
        "    x, residuals, rank, s = np.linalg.lstsq(a, b)\n"
        "    return np.sum(x * x) + 0.5 * np.sum(residuals) + s[0]\n"
    )
    rng = np.random.default_rng(11)
    a, b = np.eye(5, 3) * 2.0 + 0.3 * rng.standard_normal((5, 3)), rng.standard_normal(5)
    overbar.check_grad(f, (a, b), wrt=(0, 1))
    tangents = [rng.standard_normal((5, 3)), rng.standard_normal(5)]
    _jvp_against_differences(f, [a, b], tangents, (0, 1))


def test_lstsq_of_a_rank_deficient_matrix_is_refused():
    g = overbar.grad(define("def f(a, b):\n    return np.sum(np.linalg.lstsq(a, b)[0])\n"))
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # rank 1
    with pytest.raises(NoDerivativeError, match="full column rank"):
        g(a, np.ones(3))
    wide = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])  # more unknowns than equations
    with pytest.raises(NoDerivativeError, match="full column rank"):
        g(wide, np.ones(2))


def test_the_linalg_names_agree_with_the_functions_they_rename():
    """np.linalg.trace and diagonal take the last two axes; np.trace and np.diagonal the first
    two: the same gradient once the axes are moved."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4))
    new = overbar.grad(define("def f(x):\n    return np.sum(np.linalg.trace(x, offset=1) ** 2)\n"))
    old = overbar.grad(
        define("def f(x):\n    return np.sum(np.trace(np.moveaxis(x, 0, -1), 1) ** 2)\n")
    )
    np.testing.assert_allclose(new(x), old(x), rtol=1e-12)


def test_a_trace_with_a_dtype_is_refused():
    g = overbar.grad(define("def f(x):\n    return np.linalg.trace(x, dtype=np.float32)\n"))
    with pytest.raises(OverbarError):
        g(np.eye(2))


def test_lstsq_refuses_where_its_cut_off_drops_a_singular_value():
    g = overbar.grad(
        define("def f(a, b):\n    return np.sum(np.linalg.lstsq(a, b, rcond=0.5)[0])\n")
    )
    a = np.array([[1.0, 0.0], [0.0, 0.1], [0.0, 0.0]])  # full rank, singular values 1 and 0.1
    with pytest.raises(NoDerivativeError, match="rank 1"):
        g(a, np.ones(3))
