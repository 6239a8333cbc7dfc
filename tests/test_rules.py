"""Every built-in adjoint rule, checked against central finite differences.

Each sample is an expression in a few array inputs. The test differentiates
``sum(expression * u)`` (``u`` a fixed random cotangent) with overbar and compares the gradient of
each input with finite differences along a random direction: the dot-product test
<Jᵀu, v> = <u, J v>. Samples cover several shapes per rule, broadcasting pairs included. The
adjoint specialised on the sample's shapes (what a call runs) and the general one (what runs
when shapes are not known) must agree.
"""

from __future__ import annotations

import builtins
import math
import operator
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError
from overbar.primitives import Attribute, Method, describe
from overbar.runtime.registry import RULES
from tests.support import check_rule_sample, define, primal_key


@dataclass(frozen=True)
class U:
    """An input drawn uniformly from [low, high) with the given shape (() is a Python float)."""

    shape: tuple = ()
    low: float = -1.0
    high: float = 1.0


def pos(*shape):
    return U(shape, 0.5, 2.0)


def unit(*shape):
    return U(shape, -0.9, 0.9)


def any_(*shape):
    return U(shape)


def spd(n):
    return ("well-conditioned", n)


@dataclass(frozen=True)
class Sample:
    primal: object
    expression: str
    inputs: dict

    def __str__(self) -> str:
        shapes = ",".join(f"{k}{getattr(v, 'shape', v)}" for k, v in self.inputs.items()).replace(
            " ", ""
        )
        return f"{describe(self.primal)}|{self.expression}|{shapes}"


def S(primal, expression, **inputs):
    return Sample(primal, expression, inputs)


def unary(primal, call, domain=any_):
    return [
        S(primal, call, a=domain()),
        S(primal, call, a=domain(4)),
        S(primal, call, a=domain(2, 3)),
    ]


def binary(primal, expression, left=any_, right=any_):
    pairs = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((3, 2), ())]
    return [S(primal, expression, a=left(*p), b=right(*q)) for p, q in pairs]


SAMPLES = [
    # operators
    *binary(operator.add, "a + b"),
    S(operator.add, "a + 2.0", a=any_(3)),
    *binary(operator.sub, "a - b"),
    S(operator.sub, "1.0 - a", a=any_(2, 2)),
    *binary(operator.mul, "a * b"),
    S(operator.mul, "3.0 * a", a=any_(3)),
    *binary(operator.truediv, "a / b", right=pos),
    S(operator.truediv, "1.0 / a", a=pos(3)),
    *binary(operator.pow, "a ** b", left=pos),
    S(operator.pow, "a ** 2", a=any_(2, 3)),
    S(operator.pow, "a ** 3", a=any_(4)),
    S(operator.pow, "a ** 0.5", a=pos(4)),
    S(operator.pow, "2.0 ** a", a=any_(3)),
    S(operator.neg, "-a", a=any_(3)),
    S(operator.pos, "+a", a=any_(2, 2)),
    S(operator.matmul, "a @ b", a=any_(2, 3), b=any_(3, 4)),
    S(operator.matmul, "a @ b", a=any_(3), b=any_(3, 4)),
    S(operator.matmul, "a @ b", a=any_(2, 3), b=any_(3)),
    S(operator.matmul, "a @ b", a=any_(3), b=any_(3)),
    S(operator.matmul, "a @ b", a=any_(5, 2, 3), b=any_(3, 4)),
    S(operator.matmul, "a @ b", a=any_(2, 3), b=any_(4, 3, 2)),
    S(operator.matmul, "a @ b", a=any_(3), b=any_(2, 3, 4)),
    S(operator.matmul, "a @ b", a=any_(2, 4, 3), b=any_(3)),
    S(operator.getitem, "a[0]", a=any_(3, 2)),
    S(operator.getitem, "a[1:3]", a=any_(4)),
    S(operator.getitem, "a[:, 0]", a=any_(3, 2)),
    S(operator.getitem, "a[..., -1]", a=any_(2, 3, 4)),
    S(operator.getitem, "a[None, :]", a=any_(3)),
    S(operator.getitem, "a[::2, 1:]", a=any_(5, 3)),
    S(operator.getitem, "a[np.array([0, 2, 0])]", a=any_(3, 2)),
    S(operator.getitem, "a[a > 0]", a=any_(6)),
    # ufunc spellings of the operators
    *binary(np.add, "np.add(a, b)"),
    *binary(np.subtract, "np.subtract(a, b)"),
    *binary(np.multiply, "np.multiply(a, b)"),
    *binary(np.divide, "np.divide(a, b)", right=pos),
    *binary(np.power, "np.power(a, b)", left=pos),
    S(np.power, "np.power(a, 2)", a=any_(3)),
    # np.float_power takes the rules of ** (computed in float64)
    *binary(np.float_power, "np.float_power(a, b)", left=pos),
    S(np.float_power, "np.float_power(a, 2)", a=any_(3)),
    S(np.float_power, "np.float_power(a, 0) * a", a=any_(3)),
    S(np.float_power, "np.float_power(a, 2.5)", a=pos(2, 3)),
    *unary(np.negative, "np.negative(a)"),
    *unary(np.positive, "np.positive(a)"),
    S(np.matmul, "np.matmul(a, b)", a=any_(2, 3), b=any_(3, 2)),
    S(np.linalg.matmul, "np.linalg.matmul(a, b)", a=any_(2, 3), b=any_(3, 2)),
    S(np.linalg.matmul, "np.linalg.matmul(a, b)", a=any_(3), b=any_(2, 3, 2)),
    S(np.matrix_transpose, "np.matrix_transpose(a)", a=any_(2, 3)),
    S(np.linalg.matrix_transpose, "np.linalg.matrix_transpose(a)", a=any_(4, 2, 3)),
    # elementwise functions of one argument
    *unary(np.exp, "np.exp(a)"),
    *unary(np.exp2, "np.exp2(a)"),
    *unary(np.expm1, "np.expm1(a)"),
    *unary(np.log, "np.log(a)", pos),
    *unary(np.log2, "np.log2(a)", pos),
    *unary(np.log10, "np.log10(a)", pos),
    *unary(np.log1p, "np.log1p(a)", pos),
    *unary(np.sqrt, "np.sqrt(a)", pos),
    *unary(np.cbrt, "np.cbrt(a)", pos),
    *unary(np.square, "np.square(a)"),
    *unary(np.reciprocal, "np.reciprocal(a)", pos),
    *unary(np.sin, "np.sin(a)"),
    *unary(np.cos, "np.cos(a)"),
    *unary(np.tan, "np.tan(a)"),
    *unary(np.arcsin, "np.arcsin(a)", unit),
    *unary(np.arccos, "np.arccos(a)", unit),
    *unary(np.arctan, "np.arctan(a)"),
    *unary(np.sinh, "np.sinh(a)"),
    *unary(np.cosh, "np.cosh(a)"),
    *unary(np.tanh, "np.tanh(a)"),
    *unary(np.arcsinh, "np.arcsinh(a)"),
    *unary(np.arccosh, "np.arccosh(a)", lambda *s: U(s, 1.2, 3.0)),
    *unary(np.arctanh, "np.arctanh(a)", unit),
    *unary(np.abs, "np.abs(a)"),
    *unary(builtins.abs, "abs(a)"),
    *unary(np.deg2rad, "np.deg2rad(a)"),
    *unary(np.radians, "np.radians(a)"),
    *unary(np.rad2deg, "np.rad2deg(a)"),
    *unary(np.degrees, "np.degrees(a)"),
    *[
        S(getattr(math, name), f"math.{name}(a)", a=domain())
        for name, domain in [
            ("exp", any_),
            ("expm1", any_),
            ("log", pos),
            ("log2", pos),
            ("log10", pos),
            ("log1p", pos),
            ("sqrt", pos),
            ("sin", any_),
            ("cos", any_),
            ("tan", any_),
            ("asin", unit),
            ("acos", unit),
            ("atan", any_),
            ("sinh", any_),
            ("cosh", any_),
            ("tanh", any_),
            ("fabs", any_),
        ]
    ],
    S(math.atan2, "math.atan2(a, b)", a=any_(), b=any_()),
    S(math.pow, "math.pow(a, b)", a=pos(), b=any_()),
    S(math.pow, "math.pow(a, 2)", a=any_()),
    S(builtins.pow, "pow(a, b)", a=pos(), b=any_()),
    S(builtins.pow, "pow(a, 3)", a=any_()),
    S(builtins.float, "float(a)", a=any_()),
    S(builtins.sum, "sum([a, b, a])", a=any_(2, 3), b=any_(3)),
    S(builtins.sum, "sum([a, b], 1.5)", a=any_(), b=any_(2)),
    S(builtins.float, "float(np.sum(a))", a=any_(3)),
    # elementwise functions of several arguments
    *binary(np.maximum, "np.maximum(a, b)"),
    *binary(np.minimum, "np.minimum(a, b)"),
    *binary(np.fmax, "np.fmax(a, b)"),
    *binary(np.fmin, "np.fmin(a, b)"),
    *binary(np.hypot, "np.hypot(a, b)"),
    *binary(np.arctan2, "np.arctan2(a, b)"),
    *binary(np.logaddexp, "np.logaddexp(a, b)"),
    S(np.where, "np.where(c > 0, a, b)", a=any_(2, 3), b=any_(3), c=any_(2, 3)),
    S(np.where, "np.where(a > 0, a, 0.0)", a=any_(5)),
    S(np.where, "np.where(c > 0, a, b)", a=any_(), b=any_(4), c=any_(4)),
    S(np.clip, "np.clip(a, -0.5, 0.5)", a=any_(6)),
    S(np.clip, "np.clip(a, lo, hi)", a=any_(2, 3), lo=U((3,), -0.9, -0.2), hi=U((), 0.2, 0.9)),
    S(Method("clip"), "a.clip(-0.3, 0.4)", a=any_(2, 4)),
    S(np.clip, "np.clip(a, 0, None)", a=any_(2, 3)),
    S(np.clip, "np.clip(a, lo, None)", a=any_(2, 3), lo=U((3,), -0.9, 0.9)),
    S(np.clip, "np.clip(a, None, hi)", a=any_(4), hi=U((), -0.5, 0.5)),
    S(np.clip, "np.clip(a, a_min=None, a_max=hi)", a=any_(2, 3), hi=U((2, 1), -0.5, 0.5)),
    S(Method("clip"), "a.clip(None, 0.2)", a=any_(5)),
    S(Method("clip"), "a.clip(-0.2, None)", a=any_(5)),
    # reductions
    S(np.sum, "np.sum(a)", a=any_(3)),
    S(np.sum, "np.sum(a, axis=0)", a=any_(2, 3)),
    S(np.sum, "np.sum(a, axis=(0, 2))", a=any_(2, 3, 2)),
    S(np.sum, "np.sum(a, axis=-1, keepdims=True)", a=any_(2, 3)),
    S(np.sum, "np.sum(a, 1)", a=any_(2, 3)),
    S(Method("sum"), "a.sum()", a=any_(2, 3)),
    S(Method("sum"), "a.sum(axis=1)", a=any_(2, 3)),
    S(Method("sum"), "a.sum(0, keepdims=True)", a=any_(2, 3)),
    S(np.mean, "np.mean(a)", a=any_(4)),
    S(np.mean, "np.mean(a, axis=1)", a=any_(2, 3)),
    S(np.mean, "np.mean(a, axis=(0, 1), keepdims=True)", a=any_(2, 3, 2)),
    S(Method("mean"), "a.mean(axis=0)", a=any_(3, 2)),
    S(np.prod, "np.prod(a)", a=any_(4)),
    S(np.prod, "np.prod(a, axis=0)", a=any_(3, 2)),
    S(np.prod, "np.prod(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(Method("prod"), "a.prod(axis=-1)", a=any_(2, 3)),
    S(np.max, "np.max(a)", a=any_(5)),
    S(np.max, "np.max(a, axis=1)", a=any_(3, 4)),
    S(np.amax, "np.amax(a, axis=0, keepdims=True)", a=any_(3, 4)),
    S(Method("max"), "a.max(axis=0)", a=any_(3, 4)),
    S(np.max, "np.max(a, axis=1, keepdims=True)", a=any_(3, 4)),
    S(Method("min"), "a.min(keepdims=True)", a=any_(2, 3)),
    S(np.min, "np.min(a, axis=(0, 2), keepdims=True)", a=any_(2, 3, 2)),
    S(np.min, "np.min(a, axis=0)", a=any_(3, 4)),
    S(np.amin, "np.amin(a)", a=any_(3, 4)),
    S(Method("min"), "a.min()", a=any_(6)),
    S(np.var, "np.var(a)", a=any_(5)),
    S(np.var, "np.var(a, axis=0, ddof=1)", a=any_(4, 3)),
    S(Method("var"), "a.var(axis=1, keepdims=True)", a=any_(2, 4)),
    S(np.std, "np.std(a)", a=any_(5)),
    S(np.std, "np.std(a, axis=1, ddof=1)", a=any_(3, 4)),
    S(Method("std"), "a.std(axis=0)", a=any_(4, 2)),
    # one element per var or std: the constant 0, whose derivative is 0 (issue 8)
    S(np.var, "np.var(a)", a=any_(1)),
    S(Method("var"), "a.var(axis=0)", a=any_(1, 3)),
    S(np.std, "np.std(a)", a=any_(1)),
    S(np.std, "np.std(a)", a=any_()),
    S(Method("std"), "a.std()", a=any_(1)),
    S(np.std, "np.std(a, axis=0)", a=any_(1, 3)),
    S(np.std, "np.std(a, axis=1)", a=any_(1, 3)),
    S(Method("std"), "a.std(axis=(0, 2), keepdims=True)", a=any_(1, 3, 1)),
    S(np.std, "np.std(a, ddof=0.5)", a=any_(1)),
    S(np.std, "np.std(a, axis=0) * b", a=any_(1, 3), b=any_(2, 3)),
    S(np.sort, "np.sort(a)", a=any_(5)),
    S(np.sort, "np.sort(a, axis=0)", a=any_(3, 2)),
    S(np.sort, "np.sort(a, axis=None)", a=any_(2, 3)),
    S(np.cumsum, "np.cumsum(a)", a=any_(2, 3)),
    S(np.cumsum, "np.cumsum(a, axis=1)", a=any_(2, 3)),
    S(Method("cumsum"), "a.cumsum(axis=0)", a=any_(3, 2)),
    S(np.linalg.norm, "np.linalg.norm(a)", a=any_(4)),
    S(np.linalg.norm, "np.linalg.norm(a)", a=any_(3, 2)),
    S(np.linalg.norm, "np.linalg.norm(a, axis=1)", a=any_(3, 4)),
    S(np.linalg.norm, "np.linalg.norm(a, axis=0, keepdims=True)", a=any_(3, 4)),
    # linear algebra
    S(np.dot, "np.dot(a, b)", a=any_(2, 3), b=any_(3, 4)),
    S(np.dot, "np.dot(a, b)", a=any_(3), b=any_(3)),
    S(np.dot, "np.dot(a, b)", a=any_(3), b=any_(3, 2)),
    S(np.dot, "np.dot(a, b)", a=any_(2, 3), b=any_(3)),
    S(np.dot, "np.dot(a, b)", a=any_(), b=any_(2, 2)),
    S(Method("dot"), "a.dot(b)", a=any_(2, 3), b=any_(3, 2)),
    S(np.inner, "np.inner(a, b)", a=any_(3), b=any_(3)),
    S(np.inner, "np.inner(a, b)", a=any_(2, 3), b=any_(4, 3)),
    S(np.inner, "np.inner(a, b)", a=any_(), b=any_(3)),
    S(np.outer, "np.outer(a, b)", a=any_(3), b=any_(4)),
    S(np.outer, "np.outer(a, b)", a=any_(2, 2), b=any_(3)),
    S(np.einsum, "np.einsum('ij,jk->ik', a, b)", a=any_(2, 3), b=any_(3, 4)),
    S(np.einsum, "np.einsum('ij,ij->', a, b)", a=any_(2, 3), b=any_(2, 3)),
    S(np.einsum, "np.einsum('i,j->ij', a, b)", a=any_(3), b=any_(2)),
    S(np.einsum, "np.einsum('ijk,ik->j', a, b)", a=any_(2, 3, 4), b=any_(2, 4)),
    S(np.einsum, "np.einsum('ij,jk', a, b)", a=any_(2, 3), b=any_(3, 2)),
    S(np.einsum, "np.einsum('ij->j', a)", a=any_(3, 4)),
    S(np.einsum, "np.einsum('ij,k->i', a, b)", a=any_(2, 3), b=any_(4)),
    S(np.trace, "np.trace(a)", a=any_(3, 3)),
    S(np.trace, "np.trace(a, 1)", a=any_(3, 4)),
    S(np.trace, "np.trace(a)", a=any_(2, 2, 3)),
    S(Method("trace"), "a.trace()", a=any_(3, 3)),
    S(np.linalg.inv, "np.linalg.inv(a)", a=spd(3)),
    S(np.linalg.inv, "np.linalg.inv(a)", a=spd(1)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=spd(3), b=any_(3)),
    S(np.linalg.solve, "np.linalg.solve(a, b)", a=spd(3), b=any_(3, 2)),
    S(np.linalg.det, "np.linalg.det(a)", a=spd(3)),
    S(np.linalg.det, "np.linalg.det(a)", a=spd(2)),
    # shapes
    S(np.transpose, "np.transpose(a)", a=any_(2, 3)),
    S(np.transpose, "np.transpose(a, (1, 2, 0))", a=any_(2, 3, 4)),
    S(Method("transpose"), "a.transpose()", a=any_(2, 3)),
    S(Method("transpose"), "a.transpose(1, 0, 2)", a=any_(2, 3, 4)),
    S(Method("transpose"), "a.transpose((2, 0, 1))", a=any_(2, 3, 4)),
    S(Attribute("T"), "a.T", a=any_(2, 3)),
    S(Attribute("T"), "a.T", a=any_(3)),
    S(Attribute("T"), "np.sum(a).T", a=any_(3)),  # a number: its adjoint may be a float
    S(Attribute("mT"), "a.mT", a=any_(2, 3, 4)),
    S(np.swapaxes, "np.swapaxes(a, 0, 2)", a=any_(2, 3, 4)),
    S(Method("swapaxes"), "a.swapaxes(0, 1)", a=any_(2, 3)),
    S(np.moveaxis, "np.moveaxis(a, 0, -1)", a=any_(2, 3, 4)),
    S(np.reshape, "np.reshape(a, (3, 2))", a=any_(2, 3)),
    S(np.reshape, "np.reshape(a, -1)", a=any_(2, 3)),
    S(np.reshape, "np.reshape(a, (3, 2), order='F')", a=any_(2, 3)),
    S(Method("reshape"), "a.reshape(3, 2)", a=any_(6)),
    S(Method("reshape"), "a.reshape((2, -1))", a=any_(3, 2)),
    S(Method("reshape"), "a.reshape(2, 3, order='F')", a=any_(6)),
    S(np.ravel, "np.ravel(a)", a=any_(2, 3)),
    S(Method("ravel"), "a.ravel()", a=any_(2, 3)),
    S(Method("flatten"), "a.flatten()", a=any_(3, 2)),
    S(np.squeeze, "np.squeeze(a)", a=any_(1, 3, 1)),
    S(Method("squeeze"), "a.squeeze(0)", a=any_(1, 3)),
    S(np.expand_dims, "np.expand_dims(a, 0)", a=any_(3)),
    S(np.expand_dims, "np.expand_dims(a, (0, 2))", a=any_(3, 2)),
    S(np.full, "np.full((2, 3), a)", a=any_()),
    S(np.full, "np.full((4, 2, 3), a)", a=any_(2, 1)),
    S(np.full, "np.full(b.shape, a) * b", a=any_(3), b=any_(2, 3)),
    S(np.full_like, "np.full_like(b, a) * b", a=any_(), b=any_(2, 3)),
    S(np.full_like, "np.full_like(b, a, shape=(3, 2))", a=any_(1, 2), b=any_(4)),
    S(np.add.reduce, "np.add.reduce(a)", a=any_(3, 2)),
    S(np.add.reduce, "np.add.reduce(a, 1, keepdims=True)", a=any_(3, 2)),
    S(np.add.reduce, "np.add.reduce(a, axis=None)", a=any_(2, 3)),
    S(np.add.reduce, "np.add.reduce(a, axis=(0, 2))", a=any_(2, 3, 2)),
    S(np.broadcast_to, "np.broadcast_to(a, (2, 3))", a=any_(3)),
    S(np.broadcast_to, "np.broadcast_to(a, (4, 2, 3))", a=any_(2, 1)),
    S(np.concatenate, "np.concatenate([a, b])", a=any_(2), b=any_(3)),
    S(np.concatenate, "np.concatenate((a, b), axis=1)", a=any_(2, 2), b=any_(2, 3)),
    S(np.concatenate, "np.concatenate([a, b, a], axis=None)", a=any_(2, 2), b=any_(3)),
    S(np.stack, "np.stack([a, b])", a=any_(3), b=any_(3)),
    S(np.stack, "np.stack([a, b, a], axis=1)", a=any_(2, 2), b=any_(2, 2)),
    S(np.stack, "np.stack([a, 2.0 * b], axis=-1)", a=any_(3), b=any_(3)),
    S(np.array, "np.array([a, b])", a=any_(), b=any_()),
    S(np.array, "np.array([a, b, 1.0])", a=any_(), b=any_()),
    # constants and active values mixed, nested lists (issue 8)
    S(np.array, "np.array([1.0, a * a, 2.0 * a])", a=any_()),
    S(np.array, "np.array([[a, 1.0], [2.0, a * a]])", a=any_()),
    S(np.array, "np.array([a, 2.0, a * b, b])", a=any_(), b=any_()),
    S(np.array, "np.array([a * 0.5, np.ones(3), a]) * b", a=any_(3), b=any_(2, 1, 3)),
    S(np.asarray, "np.asarray([[1.0, a], [b, a * b]])", a=any_(), b=any_()),
    S(np.array, "np.array(a)", a=any_(2, 3)),
    S(np.asarray, "np.asarray(a)", a=any_(3)),
    S(np.array, "np.array(a, dtype=np.float64) * b", a=any_(2, 3), b=any_(3)),
    S(np.array, "np.array([a, b * a], dtype=float)", a=any_(), b=any_()),
    S(np.array, "np.array(a, float, copy=True)", a=any_(3)),
    S(np.array, "np.array(a * 3.0, dtype=int) * a", a=any_(4)),  # the jumps: measure zero
    S(np.asarray, "np.asarray(a, dtype=float) ** 2", a=any_(2, 2)),
    S(np.asarray, "np.asarray(a, np.float64) * b", a=any_(3), b=any_(2, 1)),
    S(np.asarray, "np.asarray([a, 2.0, b], dtype=np.float64)", a=any_(), b=any_()),
    S(np.asanyarray, "np.asanyarray(a) * b", a=any_(3), b=any_(3)),
    S(np.ascontiguousarray, "np.ascontiguousarray(a.T)", a=any_(2, 3)),
    S(np.ascontiguousarray, "np.ascontiguousarray(a) * b", a=any_(), b=any_(3)),  # a number
    S(np.ascontiguousarray, "np.ascontiguousarray(a * 2.0, dtype=float)", a=any_()),
    S(np.asfortranarray, "np.asfortranarray(np.sum(a)) * a", a=any_(2)),
    S(np.asfortranarray, "np.asfortranarray(a, dtype=float)", a=any_(2, 3)),
    S(np.copy, "np.copy(a, order='F')", a=any_(2, 3)),
    S(Method("copy"), "a.copy('F') * b", a=any_(2, 3), b=any_(3)),
    S(np.copy, "np.copy(a)", a=any_(3)),
    S(Method("copy"), "a.copy()", a=any_(2, 2)),
    S(np.flip, "np.flip(a)", a=any_(2, 3)),
    S(np.flip, "np.flip(a, 1)", a=any_(2, 3)),
    S(np.tril, "np.tril(a)", a=any_(3, 3)),
    S(np.tril, "np.tril(a, -1)", a=any_(3, 4)),
    S(np.triu, "np.triu(a, 1)", a=any_(3, 3)),
]


def _value(spec, rng):
    if isinstance(spec, tuple) and spec[0] == "well-conditioned":
        n = spec[1]
        return np.eye(n) * 2.0 + 0.3 * rng.standard_normal((n, n))
    value = rng.uniform(spec.low, spec.high, size=spec.shape)
    return float(value) if spec.shape == () else value


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [_value(sample.inputs[n], rng) for n in names]
    check_rule_sample(sample.expression, names, args, rng)


def test_every_rule_has_samples():
    sampled = {primal_key(sample.primal) for sample in SAMPLES}
    built_in = [
        rule
        for rules in RULES.rules.values()
        for rule in rules
        if rule.function.__module__ == "overbar.runtime.rules"
    ]
    missing = sorted({describe(r.primal) for r in built_in if primal_key(r.primal) not in sampled})
    assert not missing, f"rules without sample inputs: {missing}"


def test_rule_table_is_large():
    assert len(RULES.primals()) >= 60


LISTS_SUMMED_WHOLE = {
    "constants and values (the report)": ("np.sum(np.array([1.0, a * a, 2.0 * a]))", [1.5, 0.5]),
    "a 0-d array": ("np.sum(np.array([1.0, a * a, 2.0 * a]))", [np.array(1.5), 0.5]),
    "an inactive value": ("np.sum(np.array([c * a, b, a, 3.0]))", [0.7, -0.4]),
    "nested lists": ("np.sum(np.array([[a, 1.0], [2.0, a * a]]))", [1.5, 0.5]),
    "nested, 0-d": ("np.sum(np.array([[a, b], [2.0, a * b]]))", [np.array(0.3), np.array(2.0)]),
    "vectors": ("np.sum(np.array([a * 0.5, np.ones(3), a * b]))", [np.arange(3.0), 0.5]),
    "np.asarray": ("np.mean(np.asarray([a, 2.0, b]))", [0.7, -0.4]),
}


@pytest.mark.parametrize("name", list(LISTS_SUMMED_WHOLE))
def test_an_array_of_a_list_with_constants_summed_whole(name):
    """The adjoint of the list is the sum's adjoint broadcast, unpacked into one adjoint per
    element; the peephole pass took the unpacking for a temporary it could inline and dropped
    it, leaving those names unbound (issue 8). Specialised and general adjoints alike."""
    expression, args = LISTS_SUMMED_WHOLE[name]
    f = define(f"def f(a, b):\n    c = 2.0\n    return {expression}\n")
    for wrt in ((0,), (0, 1)):
        g = overbar.grad(f, wrt=wrt)
        specialised, general = g(*args), g.stages.emitted.function(*args)
        general = (general,) if len(wrt) == 1 else general
        for index, one, other in zip(wrt, specialised, general, strict=True):
            assert np.shape(one) == np.shape(args[index]) == np.shape(other)
            np.testing.assert_allclose(one, other, rtol=1e-12)
        overbar.check_grad(f, args, wrt=wrt)


def test_the_std_of_equal_elements_is_left_without_a_derivative():
    """Of one element the std is the constant 0, derivative 0 (the samples above); of n > 1
    equal elements it is a kink (‖a − mean a‖ / √(n − ddof) at a − mean a = 0): no gradient is
    right there, and the adjoint says so with nan rather than a number."""
    g = overbar.grad(define("def f(x):\n    return np.sum(np.std(x, axis=0))\n"))
    x = np.array([[1.0, 2.0], [1.0, 3.0]])  # the first column's elements are equal
    with np.errstate(invalid="ignore", divide="ignore"):
        for adjoint in (g.stages.emitted.function, g.stages_for(x).emitted.function):
            gradient = adjoint(x)
            assert np.isnan(gradient[:, 0]).all() and np.isfinite(gradient[:, 1]).all()


FILLS_OF_INTEGERS = [
    "np.sum(np.full_like(np.arange(3), c) * x)",
    "np.sum(np.full((3,), c, dtype=int) * x)",
    "np.sum(np.full(x.shape, c, int) * x)",
]


@pytest.mark.parametrize("body", FILLS_OF_INTEGERS)
@pytest.mark.parametrize("forward", [True, False])
def test_a_fill_value_truncated_into_integers_is_refused(body, forward):
    """np.full and np.full_like take the fill's derivative only where the array holds floats:
    an integer array truncates the fill (a derivative of zero almost everywhere), refused in
    reverse and in forward mode alike, not answered with the fill's derivative."""
    f = define(f"def f(c, x):\n    return {body}\n")
    gradient = overbar.grad(f, optimise=overbar.Optimisations(forward=forward))
    with pytest.raises(OverbarError, match="dtype int64, which rounds or truncates"):
        gradient(2.7, np.ones(3))
