"""Programs in the manner of other projects' gradient test suites, written for overbar.

What autograd's ``tests/test_numpy.py``, ``test_linalg.py`` and ``test_scalar_ops.py``, JAX's
``lax_numpy`` gradient tests and PyTorch's ``gradcheck`` cases exercise: each NumPy function
with its argument forms (axis as an int, a negative int, a tuple or None; ``keepdims``; ``ddof``;
shapes with broadcasting, 0-d arrays, length-1 axes and 3-d stacks; indexing by ints, slices,
lists, masks, ``None`` and ``...``; fan-out of one value into several uses; the arguments of a
binary function differentiated one at a time and together). The programs are this project's
own, written from what those suites test, not copied from them.

``PROGRAMS`` maps a name to (source of ``f``, a maker of its arguments from a generator, the
positions differentiated).
"""

from __future__ import annotations

import numpy as np


def _u(rng, *shape, low=-1.0, high=1.0):
    value = rng.uniform(low, high, size=shape)
    return float(value) if shape == () else value


def _pos(rng, *shape):
    return _u(rng, *shape, low=0.5, high=2.0)


def _spd(rng, n, batch=()):
    a = rng.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) / n + np.eye(n)


def _wc(rng, n, batch=()):
    return np.eye(n) * 2.0 + 0.3 * rng.standard_normal((*batch, n, n))


def _distinct(rng, *shape):
    """Values far apart (no ties for max, sort, median)."""
    count = int(np.prod(shape))
    return (rng.permutation(count) * 0.37 + rng.uniform(-0.05, 0.05, count)).reshape(shape)


PROGRAMS: dict = {}


def program(name, source, make, wrt=(0,), parameters="a, b, c"):
    """Register ``def f(<parameters>): <source>`` (as many of the parameters as ``make``
    makes arguments)."""
    PROGRAMS[name] = (source, make, tuple(wrt), parameters)


# --- the test_numpy.py family: reductions, shapes, indexing -----------------------------------

program("dot vector vector", "return np.dot(a, b)", lambda r: [_u(r, 4), _u(r, 4)], (0, 1))
program(
    "dot matrix vector",
    "return np.sum(np.dot(a, b) ** 2)",
    lambda r: [_u(r, 3, 4), _u(r, 4)],
    (0, 1),
)
program(
    "dot vector matrix",
    "return np.sum(np.dot(a, b) ** 2)",
    lambda r: [_u(r, 3), _u(r, 3, 4)],
    (0, 1),
)
program(
    "dot 3d 2d",
    "return np.sum(np.dot(a, b) ** 2)",
    lambda r: [_u(r, 2, 3, 4), _u(r, 4, 2)],
    (0, 1),
)
program("dot 0-d", "return np.sum(np.dot(a, b) ** 2)", lambda r: [np.array(0.7), _u(r, 3)], (0, 1))
program(
    "outer of a 0-d",
    "return np.sum(np.outer(a, b) ** 2)",
    lambda r: [np.array(0.3), _u(r, 3)],
    (0, 1),
)
program(
    "matmul stacks broadcast",
    "return np.sum(np.tanh(a @ b))",
    lambda r: [_u(r, 2, 1, 3, 4), _u(r, 3, 4, 2)],
    (0, 1),
)
program(
    "matmul of one row",
    "return np.sum((a @ b) ** 2)",
    lambda r: [_u(r, 1, 4), _u(r, 4, 1)],
    (0, 1),
)
program("sum axis none", "return np.sum(np.sin(a))", lambda r: [_u(r, 2, 3)])
program("sum negative axis", "return np.sum(np.sum(a, axis=-1) ** 2)", lambda r: [_u(r, 2, 3, 4)])
program(
    "sum tuple of negative axes",
    "return np.sum(np.sum(a, axis=(-1, 0)) ** 3)",
    lambda r: [_u(r, 2, 3, 4)],
)
program(
    "sum keepdims broadcast back",
    "return np.sum(a / np.sum(a, axis=1, keepdims=True))",
    lambda r: [_pos(r, 3, 4)],
)
program("sum of 0-d", "return np.sum(a) * np.sum(a ** 2)", lambda r: [np.array(1.3)])
program(
    "sum of size-1 axes",
    "return np.sum(np.sum(a, axis=0) * b)",
    lambda r: [_u(r, 1, 1, 3), _u(r, 1, 3)],
    (0, 1),
)
program(
    "mean axis -2 keepdims",
    "return np.sum(np.mean(a, axis=-2, keepdims=True) ** 2 * a)",
    lambda r: [_u(r, 2, 3, 4)],
)
program(
    "mean tuple axes", "return np.sum(np.mean(a, axis=(0, 2)) ** 2)", lambda r: [_u(r, 2, 3, 4)]
)
program(
    "var ddof keepdims",
    "return np.sum(np.var(a, axis=1, ddof=1, keepdims=True) * a)",
    lambda r: [_u(r, 3, 4)],
)
program("std negative axis", "return np.sum(np.std(a, axis=-1) ** 2)", lambda r: [_u(r, 3, 4)])
program("prod with a negative", "return np.prod(a)", lambda r: [_u(r, 5)])
program(
    "prod axis keepdims",
    "return np.sum(np.prod(a, axis=-1, keepdims=True) * a)",
    lambda r: [_u(r, 3, 4)],
)
program(
    "prod of one element",
    "return np.sum(np.prod(a, axis=0) * b)",
    lambda r: [_u(r, 1, 3), _u(r, 3)],
    (0, 1),
)
program(
    "max axis keepdims",
    "return np.sum(np.max(a, axis=1, keepdims=True) * a)",
    lambda r: [_distinct(r, 3, 4)],
)
program(
    "max negative axis",
    "return np.sum(np.max(a, axis=-1) ** 2)",
    lambda r: [_distinct(r, 2, 3, 4)],
)
program(
    "min tuple axes",
    "return np.sum(np.min(a, axis=(0, 2)) ** 2)",
    lambda r: [_distinct(r, 2, 3, 4)],
)
program("max of 0-d", "return np.max(a) ** 2", lambda r: [np.array(0.6)])
program(
    "maximum broadcast",
    "return np.sum(np.maximum(a, b) ** 2)",
    lambda r: [_distinct(r, 3, 1), _distinct(r, 4) + 0.1],
    (0, 1),
)
program(
    "minimum with a float",
    "return np.sum(np.minimum(a, 0.33) * a)",
    lambda r: [_distinct(r, 6) / 3],
)
program("cumsum axis -1", "return np.sum(np.cumsum(a, axis=-1) ** 2)", lambda r: [_u(r, 3, 4)])
program("cumsum flattened", "return np.sum(np.cumsum(a) ** 2)", lambda r: [_u(r, 3, 4)])
program("cumprod", "return np.sum(np.cumprod(a, axis=0))", lambda r: [_u(r, 4, 2)])
program("cumprod of a float", "return np.sum(np.cumprod(a, axis=0) * 2.0)", lambda r: [0.7])
program(
    "reshape method",
    "return np.sum(a.reshape(4, -1) @ b)",
    lambda r: [_u(r, 2, 6), _u(r, 3)],
    (0, 1),
)
program(
    "reshape call",
    "return np.sum(np.reshape(a, (3, 2, 2)) ** 2 * b)",
    lambda r: [_u(r, 12), _u(r, 2)],
    (0, 1),
)
program(
    "ravel and flatten",
    "return np.sum(np.ravel(a) * a.flatten() * b)",
    lambda r: [_u(r, 2, 3), _u(r, 6)],
    (0, 1),
)
program(
    "expand dims negative",
    "return np.sum(np.expand_dims(a, -1) * b)",
    lambda r: [_u(r, 3), _u(r, 3, 4)],
    (0, 1),
)
program("squeeze axis", "return np.sum(np.squeeze(a, axis=1) ** 2)", lambda r: [_u(r, 3, 1, 2)])
program(
    "transpose axes",
    "return np.sum(np.transpose(a, (2, 0, 1)) * b)",
    lambda r: [_u(r, 2, 3, 4), _u(r, 4, 2, 3)],
    (0, 1),
)
program(
    "swapaxes negative",
    "return np.sum(np.swapaxes(a, -1, 0) * b)",
    lambda r: [_u(r, 2, 3), _u(r, 3, 2)],
    (0, 1),
)
program("moveaxis", "return np.sum(np.moveaxis(a, 0, -1) ** 3)", lambda r: [_u(r, 2, 3, 4)])
program(
    "roll",
    "return np.sum(np.roll(a, 2, axis=1) * b)",
    lambda r: [_u(r, 2, 5), _u(r, 2, 5)],
    (0, 1),
)
program(
    "roll flattened",
    "return np.sum(np.roll(a, -1) * b)",
    lambda r: [_u(r, 2, 3), _u(r, 2, 3)],
    (0,),
)
program(
    "flip axis",
    "return np.sum(np.flip(a, axis=-1) * b)",
    lambda r: [_u(r, 3, 4), _u(r, 4)],
    (0, 1),
)
program(
    "tril and triu",
    "return np.sum(np.tril(a, -1) ** 2 + np.triu(a, 1) * 3.0)",
    lambda r: [_u(r, 4, 4)],
)
program("trace offset", "return np.trace(a, offset=1) ** 2", lambda r: [_u(r, 3, 4)])
program(
    "diag of a vector", "return np.sum(np.diag(a) @ b)", lambda r: [_u(r, 3), _u(r, 3, 2)], (0, 1)
)
program("diag of a matrix", "return np.sum(np.diag(a) ** 2)", lambda r: [_u(r, 3, 4)])
program(
    "diagonal", "return np.sum(np.diagonal(a, axis1=1, axis2=2) ** 2)", lambda r: [_u(r, 2, 3, 3)]
)
program(
    "concatenate axis -1",
    "return np.sum(np.concatenate([a, b], axis=-1) ** 2)",
    lambda r: [_u(r, 2, 3), _u(r, 2, 1)],
    (0, 1),
)
program(
    "concatenate of 1-element",
    "return np.sum(np.concatenate((a, b, a)) ** 3)",
    lambda r: [_u(r, 1), _u(r, 2)],
    (0, 1),
)
program(
    "stack negative axis",
    "return np.sum(np.stack([a, b, a * b], axis=-1) ** 2)",
    lambda r: [_u(r, 2, 3), _u(r, 2, 3)],
    (0, 1),
)
program(
    "hstack vstack",
    "return np.sum(np.hstack([a, b]) ** 2) + np.sum(np.vstack([a, b]) * 2.0)",
    lambda r: [_u(r, 3), _u(r, 3)],
    (0, 1),
)
program("tile", "return np.sum(np.tile(a, (2, 3)) * b)", lambda r: [_u(r, 2), _u(r, 2, 6)], (0, 1))
program("repeat axis", "return np.sum(np.repeat(a, 2, axis=0) ** 2)", lambda r: [_u(r, 2, 3)])
program(
    "broadcast_to",
    "return np.sum(np.broadcast_to(a, (4, 2, 3)) * b)",
    lambda r: [_u(r, 1, 3), _u(r, 4, 2, 3)],
    (0, 1),
)
program("index int", "return a[1] ** 2 + a[-1]", lambda r: [_u(r, 4)])
program("index of 2-d by ints", "return np.sum(a[1, 2] * a[-1])", lambda r: [_u(r, 3, 4)])
program("index slices", "return np.sum(a[1:, ::2] ** 2)", lambda r: [_u(r, 3, 5)])
program("index negative step", "return np.sum(a[::-1] * b)", lambda r: [_u(r, 5), _u(r, 5)], (0,))
program("index list with repeats", "return np.sum(a[[0, 2, 0, 1]] ** 2)", lambda r: [_u(r, 3, 2)])
program("index mixed", "return np.sum(a[1, [0, 2]] * a[[0, 2], 1])", lambda r: [_u(r, 3, 3)])
program("index mask", "return np.sum(a[a > 0.1] ** 2)", lambda r: [_distinct(r, 7) - 1.0])
program(
    "index none and ellipsis",
    "return np.sum(a[..., None, 1] * b)",
    lambda r: [_u(r, 2, 3, 4), _u(r, 2, 3, 5)],
    (0, 1),
)
program("index fan-out", "return np.sum(a[0] * a[1] + a[0] ** 2)", lambda r: [_u(r, 2, 3)])
program(
    "take along axis",
    "return np.sum(np.take_along_axis(a, np.argsort(a, axis=1), axis=1) * b)",
    lambda r: [_distinct(r, 2, 4), _u(r, 2, 4)],
    (0,),
)
program(
    "sort axis 0",
    "return np.sum(np.sort(a, axis=0) * b)",
    lambda r: [_distinct(r, 4, 3), _u(r, 4, 3)],
    (0,),
)
program(
    "where of two inputs",
    "return np.sum(np.where(a > b, a * b, a - b))",
    lambda r: [_distinct(r, 4), _distinct(r, 4) + 0.2],
    (0, 1),
)
program(
    "where of a float",
    "return np.sum(np.where(a > 0.0, a, 0.1 * a) ** 2)",
    lambda r: [_distinct(r, 5) - 0.9],
)
program(
    "clip with bounds",
    "return np.sum(np.clip(a, -0.4, 0.5) ** 2)",
    lambda r: [_distinct(r, 6) / 4 - 0.6],
)
program("nan_to_num", "return np.sum(np.nan_to_num(a) ** 2)", lambda r: [_u(r, 4)])
program(
    "einsum trace",
    "return np.einsum('ii', a) * np.einsum('ij,ji->', a, a)",
    lambda r: [_u(r, 3, 3)],
)
program(
    "einsum batch",
    "return np.sum(np.einsum('bij,bjk->bik', a, b) ** 2)",
    lambda r: [_u(r, 2, 3, 4), _u(r, 2, 4, 2)],
    (0, 1),
)
program(
    "tensordot axes",
    "return np.sum(np.tensordot(a, b, axes=([1, 2], [0, 1])) ** 2)",
    lambda r: [_u(r, 2, 3, 4), _u(r, 3, 4, 2)],
    (0, 1),
)
program(
    "tensordot int",
    "return np.sum(np.tensordot(a, b, 1) ** 2)",
    lambda r: [_u(r, 2, 3), _u(r, 3, 2)],
    (0, 1),
)
program("kron", "return np.sum(np.kron(a, b) ** 2)", lambda r: [_u(r, 2, 2), _u(r, 2, 3)], (0, 1))
program(
    "linspace of inputs",
    "return np.sum(np.linspace(a, b, 5) ** 2)",
    lambda r: [_u(r), _u(r)],
    (0, 1),
)

# --- the test_scalar_ops.py family: elementwise functions, one argument or two ----------------

for _name, _domain in [
    ("abs", _distinct),
    ("sign", _distinct),
    ("exp", _u),
    ("log", _pos),
    ("log2", _pos),
    ("log10", _pos),
    ("log1p", _pos),
    ("expm1", _u),
    ("arcsin", lambda r, *s: _u(r, *s) * 0.9),
    ("arccos", lambda r, *s: _u(r, *s) * 0.9),
    ("arctan", _u),
    ("sinh", _u),
    ("cosh", _u),
    ("tanh", _u),
    ("arcsinh", _u),
    ("arccosh", lambda r, *s: _pos(r, *s) + 1.0),
    ("arctanh", lambda r, *s: _u(r, *s) * 0.9),
    ("sqrt", _pos),
    ("cbrt", _pos),
    ("reciprocal", _pos),
    ("negative", _u),
    ("sinc", _u),
    ("rad2deg", _u),
    ("deg2rad", _u),
    ("square", _u),
    ("tan", _u),
    ("fabs", _distinct),
]:
    program(
        f"{_name} of a 0-d",
        f"return np.{_name}(a) * 2.0",
        lambda r, d=_domain: [np.array(d(r, 1)[0])],
    )
    program(
        f"{_name} of a float32",
        f"return np.sum(np.{_name}(a))",
        lambda r, d=_domain: [np.asarray(d(r, 2, 3), dtype=np.float32)],
    )
    program(
        f"{_name} in a product",
        f"return np.sum(np.{_name}(a) * b)",
        lambda r, d=_domain: [d(r, 1, 3), _u(r, 2, 3)],
        (0, 1),
    )

for _name, _left, _right in [
    ("power", _pos, _u),
    ("float_power", _pos, _u),
    ("mod", lambda r, *s: _pos(r, *s) + 2.0, lambda r, *s: _pos(r, *s) * 0.1 + 0.7),
    ("fmod", lambda r, *s: _pos(r, *s) + 2.0, lambda r, *s: _pos(r, *s) * 0.1 + 0.7),
    ("remainder", lambda r, *s: _pos(r, *s) + 2.0, lambda r, *s: _pos(r, *s) * 0.1 + 0.7),
    ("divide", _u, _pos),
    ("true_divide", _u, _pos),
    ("multiply", _u, _u),
    ("subtract", _u, _u),
    ("logaddexp", _u, _u),
    ("logaddexp2", _u, _u),
    ("arctan2", _u, _pos),
    ("hypot", _pos, _pos),
    ("copysign", _pos, _distinct),
    ("fmax", _distinct, lambda r, *s: _distinct(r, *s) + 0.13),
    ("ldexp", _u, None),
]:
    if _right is None:
        continue
    program(
        f"{_name} arg 0",
        f"return np.sum(np.{_name}(a, b))",
        lambda r, x=_left, y=_right: [x(r, 3), y(r, 3)],
        (0,),
    )
    program(
        f"{_name} arg 1",
        f"return np.sum(np.{_name}(a, b))",
        lambda r, x=_left, y=_right: [x(r, 3), y(r, 3)],
        (1,),
    )
    program(
        f"{_name} broadcast",
        f"return np.sum(np.{_name}(a, b) ** 2)",
        lambda r, x=_left, y=_right: [x(r, 2, 1), y(r, 3)],
        (0, 1),
    )
    program(
        f"{_name} of a 0-d and a row",
        f"return np.sum(np.{_name}(a, b))",
        lambda r, x=_left, y=_right: [np.array(x(r, 1)[0]), y(r, 1, 3)],
        (0, 1),
    )

program(
    "operators on a 0-d",
    "return np.sum((a * b - a / b) ** 2 + b ** a)",
    lambda r: [np.array(0.8), _pos(r, 3)],
    (0, 1),
)
program("integer power", "return np.sum(a ** 3 + a ** -2)", lambda r: [_pos(r, 4)])
program(
    "power of an integer array",
    "return np.sum(a ** b)",
    lambda r: [_pos(r, 3), np.array([1, 2, 3])],
    (0,),
)
program("float times a boolean", "return np.sum(a * (a > 0.2))", lambda r: [_distinct(r, 6) / 3])
program(
    "float32 and float64",
    "return np.sum(a * b) + np.sum(a ** 2)",
    lambda r: [_u(r, 3).astype(np.float32), _u(r, 3)],
    (0, 1),
)
program("integer column", "return np.sum(a * np.arange(3)[:, None])", lambda r: [_u(r, 3, 2)])

# --- the test_linalg.py family -------------------------------------------------------------------

program("inv", "return np.sum(np.linalg.inv(a) * b)", lambda r: [_wc(r, 3), _u(r, 3, 3)], (0,))
program("inv stacked", "return np.sum(np.linalg.inv(a) ** 2)", lambda r: [_wc(r, 3, (2,))])
program("inv 1x1", "return np.sum(np.linalg.inv(a))", lambda r: [_wc(r, 1)])
program(
    "solve vector",
    "return np.sum(np.linalg.solve(a, b) ** 2)",
    lambda r: [_wc(r, 3), _u(r, 3)],
    (0, 1),
)
program(
    "solve matrix",
    "return np.sum(np.linalg.solve(a, b) ** 2)",
    lambda r: [_wc(r, 3), _u(r, 3, 2)],
    (0, 1),
)
program(
    "solve stacked",
    "return np.sum(np.linalg.solve(a, b) ** 2)",
    lambda r: [_wc(r, 3, (2,)), _u(r, 2, 3, 1)],
    (0, 1),
)
program("det", "return np.linalg.det(a)", lambda r: [_wc(r, 3)])
program("det stacked", "return np.sum(np.linalg.det(a) ** 2)", lambda r: [_wc(r, 2, (3,))])
program("slogdet", "return np.linalg.slogdet(a)[1]", lambda r: [_wc(r, 3)])
program("slogdet stacked", "return np.sum(np.linalg.slogdet(a)[1])", lambda r: [_wc(r, 3, (2,))])
program("vector 2-norm", "return np.linalg.norm(a)", lambda r: [_u(r, 5)])
program("frobenius norm", "return np.linalg.norm(a, 'fro')", lambda r: [_u(r, 3, 4)])
program("norm axis", "return np.sum(np.linalg.norm(a, axis=-1) ** 3)", lambda r: [_u(r, 3, 4)])
program("norm ord 3", "return np.linalg.norm(a, 3)", lambda r: [_u(r, 4)])
program("norm nuclear", "return np.linalg.norm(a, 'nuc')", lambda r: [_u(r, 3, 4)])
program("eigh values", "return np.sum(np.linalg.eigh(a)[0] ** 2)", lambda r: [_spd(r, 3)])
program(
    "eigvalsh",
    "return np.sum(np.linalg.eigvalsh(a) * np.arange(1.0, 4.0))",
    lambda r: [_spd(r, 3)],
)
program("cholesky", "return np.sum(np.linalg.cholesky(a) ** 2)", lambda r: [_spd(r, 3)])
program("cholesky stacked", "return np.sum(np.linalg.cholesky(a))", lambda r: [_spd(r, 3, (2,))])
program(
    "cholesky sampling",
    "L = np.linalg.cholesky(a)\n    return np.sum((b + L @ c) ** 2)",
    lambda r: [_spd(r, 3), _u(r, 3), _u(r, 3)],
    (0, 1),
)
program(
    "svd values wide", "return np.sum(np.linalg.svd(a, compute_uv=False))", lambda r: [_u(r, 2, 4)]
)
program(
    "svd values tall",
    "return np.sum(np.linalg.svd(a, compute_uv=False) ** 2)",
    lambda r: [_u(r, 4, 2)],
)
program(
    "pinv",
    "return np.sum(np.linalg.pinv(a) * b)",
    lambda r: [_wc(r, 3)[:, :2] + 0.0, _u(r, 2, 3)],
    (0,),
)
program("matrix_power", "return np.sum(np.linalg.matrix_power(a, 3))", lambda r: [_u(r, 3, 3)])
program(
    "multi_dot",
    "return np.sum(np.linalg.multi_dot([a, b, a.T]))",
    lambda r: [_u(r, 2, 3), _u(r, 3, 3)],
    (0, 1),
)

# --- gradcheck-style compositions: fan-out, reuse, softmax, losses -----------------------------

program(
    "logsumexp stable",
    "m = np.max(a, axis=-1, keepdims=True)\n"
    "    return np.sum(m[..., 0] + np.log(np.sum(np.exp(a - m), axis=-1)))",
    lambda r: [_distinct(r, 3, 4)],
)
program(
    "softmax cross entropy",
    "z = a - np.max(a, axis=1, keepdims=True)\n"
    "    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)\n"
    "    return -np.sum(t * np.log(p))",
    lambda r: [_distinct(r, 2, 3), np.eye(3)[[0, 2]]],
    parameters="a, t",
)
program(
    "cosine similarity",
    "return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))",
    lambda r: [_u(r, 4), _u(r, 4)],
    (0, 1),
)
program(
    "pairwise distances",
    "d = a[:, None, :] - b[None, :, :]\n"
    "    return np.sum(np.sqrt(np.sum(d ** 2, axis=-1) + 1e-3))",
    lambda r: [_u(r, 3, 2), _u(r, 4, 2)],
    (0, 1),
)
program(
    "layer norm rows",
    "m = a.mean(-1, keepdims=True)\n"
    "    v = ((a - m) ** 2).mean(-1, keepdims=True)\n"
    "    return np.sum(((a - m) / np.sqrt(v + 1e-5)) * g)",
    lambda r: [_u(r, 3, 4), _u(r, 4)],
    (0, 1),
    parameters="a, g",
)
program(
    "masked fill",
    "return np.sum(np.where(m, 0.0, a) ** 2 * b)",
    lambda r: [_u(r, 3, 4), np.arange(12).reshape(3, 4) % 3 == 0, _u(r, 4)],
    (0, 2),
    parameters="a, m, b",
)
program(
    "gather rows",
    "return np.sum(a[i] ** 2 * b[:, None])",
    lambda r: [_u(r, 4, 3), np.array([3, 0, 3]), _u(r, 3)],
    (0, 2),
    parameters="a, i, b",
)
program(
    "polynomial", "return np.sum(np.polyval(c, a))", lambda r: [_u(r, 5), _u(r, 4)], (0, 1), "c, a"
)
program(
    "interp values",
    "return np.sum(np.interp(x, xp, a))",
    lambda r: [_u(r, 4), np.linspace(-1.0, 1.0, 5) * 1.2, _u(r, 5)],
    (0, 2),
    "x, xp, a",
)
program(
    "chain on a 0-d",
    "b = np.tanh(a) * 2.0\n    c = np.exp(b) + a ** 2\n    return c / (1.0 + a * a)",
    lambda r: [np.array(0.4)],
)
program(
    "scalar loop",
    "total = 0.0\n"
    "    for k in range(3):\n"
    "        total = total + np.sin(a * k) * a\n"
    "    return total",
    lambda r: [0.3],
)
