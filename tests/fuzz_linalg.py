"""The fuzzer's makers for the linear-algebra rules (``overbar/runtime/rules_linalg.py``).

Each maker builds a call together with values that keep it where its derivative is smooth with
a margin: matrices well conditioned, symmetric ones with eigenvalues apart, singular values
apart from each other and from 0, norms away from their ties and kinks. Factors whose sign
LAPACK chooses (eigenvectors, singular vectors, Q and R) are squared, so that a sign flip under
a finite-difference step cannot change the program's value. ``tests/fuzzer.py`` registers them
from ``_table`` with ``add_linalg_makers(add)``.

The makers reach the fuzzer's generator through the module that defines ``add``: the fuzzer
may run as ``__main__`` (``python -m tests.fuzzer``), and importing ``tests.fuzzer`` from here
would then load a second copy of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

APART = 0.2  # the least gap between eigenvalues or singular values, and from 0


def _gaps_apart(values: Any) -> bool:
    ordered = np.sort(np.asarray(values), axis=-1)
    # "from 0" by APART too: a rank-deficient matrix has a singular value of rounding size
    return bool(np.all(np.diff(ordered, axis=-1) >= APART)) and bool(
        np.all(ordered[..., 0] >= APART)
    )


def _singular_values_apart(value: Any) -> bool:
    return _gaps_apart(np.linalg.svd(value, compute_uv=False))


def add_linalg_makers(add: Callable) -> None:
    """Register the makers of every linear-algebra primitive with the fuzzer's ``add``."""
    fz = sys.modules[add.__module__]
    makers = _makers(fz)
    add([np.linalg.slogdet], makers["slogdet"])
    add([np.linalg.cholesky], makers["cholesky"])
    add([np.linalg.eigh, np.linalg.eigvalsh], makers["eigh"])
    add([np.linalg.eig, np.linalg.eigvals], makers["eig"])
    add([np.linalg.svd], makers["svd"])
    add([np.linalg.pinv], makers["pinv"])
    add([np.linalg.qr], makers["qr"])
    add([np.linalg.matrix_power], makers["matrix_power"])
    add([np.linalg.multi_dot], makers["multi_dot"])
    add([np.tensordot], makers["tensordot"])
    add([np.kron], makers["kron"])
    add([np.cross], makers["cross"])
    add([np.vdot], makers["vdot"])
    add([np.linalg.norm], makers["norm"], weight=2.0)
    add([np.einsum], makers["einsum"])


def _makers(fz: ModuleType) -> dict[str, Callable]:
    def matrix(g: Any, depth: int, accept: Callable = lambda v: True) -> Any:
        return g.operand(depth, lambda v: fz.is_array(v) and np.ndim(v) == 2 and accept(v))

    def gram(g: Any, depth: int, check: Callable) -> Any:
        """m @ m.T + c I for a matrix m at hand: symmetric positive definite."""
        m = matrix(g, depth, lambda v: len(v) <= 5)
        if m is None:
            return None
        shift = g.const(g.pick(("0.5", "1.0", "2.0")))
        eye = g.call("np.eye", np.eye, [g.integer(len(m.value))])
        product = g.binop("@", m, g.attribute(m, "T"))
        value = g.binop("+", product, g.binop("*", shift, eye))
        return value if check(value.value) else None

    def squared(g: Any, value: Any) -> Any:
        return g.binop("**", value, g.integer(2))

    def item(g: Any, value: Any, index: int) -> Any:
        return g.subscript(value, fz.constant_index(str(index)))

    def slogdet(g, primal, depth, want):
        a = fz.square_matrix(g, depth)
        if a is None:
            return None
        return item(g, g.call("np.linalg.slogdet", np.linalg.slogdet, [a]), 1)

    def cholesky(g, primal, depth, want):
        a = gram(g, depth, lambda v: np.linalg.cond(v) < 50)
        if a is None:
            return None
        keywords = [("upper", g.const("True"))] if g.chance(0.3) else []
        return g.call("np.linalg.cholesky", np.linalg.cholesky, [a], keywords)

    def eigh(g, primal, depth, want):
        a = gram(g, depth, lambda v: _gaps_apart(np.linalg.eigvalsh(v)))
        if a is None:
            return None
        keywords = [("UPLO", g.const("'U'"))] if g.chance(0.3) else []
        if primal is np.linalg.eigvalsh:
            return g.call("np.linalg.eigvalsh", primal, [a], keywords)
        result = g.call("np.linalg.eigh", primal, [a], keywords)
        part = g.pick((0, 1))
        return item(g, result, 0) if part == 0 else squared(g, item(g, result, 1))

    def eig(g, primal, depth, want):
        """eig or eigvals of S @ diag(1, 2, ..., n), S symmetric positive definite: not
        symmetric, its eigenvalues real (those of S^½ diag S^½), kept apart."""
        s = gram(g, depth, lambda v: True)
        if s is None:
            return None
        n = len(s.value)
        weights = g.call("np.arange", np.arange, [g.const("1.0"), g.number(n + 1.0)])
        a = g.binop("@", s, g.call("np.diag", np.diag, [weights]))
        if not _gaps_apart(np.linalg.eigvals(a.value).real):
            return None
        if primal is np.linalg.eigvals:
            return g.call("np.linalg.eigvals", primal, [a])
        result = g.call("np.linalg.eig", primal, [a])
        part = g.pick((0, 1))
        return item(g, result, 0) if part == 0 else squared(g, item(g, result, 1))

    def svd(g, primal, depth, want):
        a = matrix(g, depth, _singular_values_apart)
        if a is None:
            return None
        if g.chance(0.4):
            keywords = [("compute_uv", g.const("False"))]
            return g.call("np.linalg.svd", primal, [a], keywords)
        rows, columns = np.shape(a.value)
        keywords = [] if rows == columns else [("full_matrices", g.const("False"))]
        result = g.call("np.linalg.svd", primal, [a], keywords)
        part = g.pick((0, 1, 2))
        return item(g, result, 1) if part == 1 else squared(g, item(g, result, part))

    def pinv(g, primal, depth, want):
        a = matrix(g, depth, _singular_values_apart)
        if a is None:
            return None
        return g.call("np.linalg.pinv", primal, [a], check=lambda r, *a: np.abs(r).max() < 20)

    def qr(g, primal, depth, want):
        def tall(v):
            return v.shape[0] >= v.shape[1] and _singular_values_apart(v)

        a = matrix(g, depth, tall)
        if a is None:
            return None
        if g.chance(0.3):
            return squared(g, g.call("np.linalg.qr", primal, [a], [("mode", g.const("'r'"))]))
        return squared(g, item(g, g.call("np.linalg.qr", primal, [a]), g.pick((0, 1))))

    def matrix_power(g, primal, depth, want):
        n = g.pick((-2, -1, 0, 1, 2, 3))
        if n < 0:
            a = fz.square_matrix(g, depth)
        else:
            a = matrix(g, depth, lambda v: v.shape[0] == v.shape[1])
        if a is None:
            return None
        return g.call("np.linalg.matrix_power", primal, [a, g.integer(n)])

    def multi_dot(g, primal, depth, want):
        first = g.operand(depth, lambda v: fz.is_array(v) and np.ndim(v) in (1, 2))
        if first is None:
            return None
        arrays = [first]
        columns = np.shape(first.value)[-1]
        for _ in range(g.pick((1, 2))):

            def follows(v, rows=columns):
                return fz.is_array(v) and np.ndim(v) == 2 and v.shape[0] == rows

            nxt = g.operand(depth, follows)
            if nxt is None:
                return None
            arrays.append(nxt)
            columns = np.shape(nxt.value)[-1]
        if g.chance(0.3):
            last = g.operand(depth, lambda v: fz.is_array(v) and np.shape(v) == (columns,))
            if last is not None:
                arrays.append(last)
        if len(arrays) < 2:
            return None
        return g.call("np.linalg.multi_dot", primal, [g.display(arrays)])

    def tensordot(g, primal, depth, want):
        a = g.operand(depth, lambda v: fz.is_array(v) and 1 <= np.ndim(v) <= 3)
        if a is None:
            return None
        shape = np.shape(a.value)
        count = g.pick(tuple(range(0, min(len(shape), 2) + 1)))
        if count == 0:
            b = g.operand(depth, lambda v: fz.is_array(v) and np.size(v) * a.value.size <= 40)
            return None if b is None else g.call("np.tensordot", primal, [a, b, g.integer(0)])
        wanted = shape[len(shape) - count :]
        if g.chance(0.5):  # axes as an int: a's last axes against b's first
            b = g.operand(depth, lambda v: fz.is_array(v) and np.shape(v)[:count] == wanted)
            return None if b is None else g.call("np.tensordot", primal, [a, b, g.integer(count)])

        # axes as lists: a's first axis against b's last
        def ends_like_a(v):
            return fz.is_array(v) and np.ndim(v) >= 1 and np.shape(v)[-1] == shape[0]

        b = g.operand(depth, ends_like_a)
        if b is None:
            return None
        axes = g.const(f"([0], [{np.ndim(b.value) - 1}])")
        return g.call("np.tensordot", primal, [a, b], [("axes", axes)])

    def kron(g, primal, depth, want):
        a = g.operand(depth, lambda v: fz.is_num(v) and np.ndim(v) <= 2 and np.size(v) <= 6)
        if a is None:
            return None

        def small(v):
            return (
                fz.is_num(v) and np.ndim(v) <= 2 and np.size(v) * np.size(a.value) <= fz.MAX_SIZE
            )

        b = g.operand(depth, small)
        return None if b is None else g.call("np.kron", primal, [a, b])

    def cross(g, primal, depth, want):
        def vectors(v):
            return fz.is_array(v) and np.ndim(v) in (1, 2) and v.shape[-1] == 3

        a = g.operand(depth, vectors)
        if a is None:
            return None
        b = g.operand(depth, lambda v: vectors(v) and fz.broadcasts_with(a.value)(v))
        if b is None:
            return None
        return g.call("np.cross", primal, [a, b])

    def vdot(g, primal, depth, want):
        a = g.operand(depth, lambda v: fz.is_array(v) and np.ndim(v) >= 1)
        if a is None:
            return None
        b = g.operand(depth, lambda v: fz.is_array(v) and np.size(v) == np.size(a.value))
        return None if b is None else g.call("np.vdot", primal, [a, b])

    def vector_norm_smooth(value: Any, order: Any, axis: int | None) -> bool:
        v = np.asarray(value)
        if order in (np.inf, -np.inf):
            return fz.gaps_ok(np.abs(v) if order == np.inf else -np.abs(v), axis, lowest=False)
        return bool(np.all(np.abs(v) >= APART))  # 1 and p-norms: |x| has a kink at 0

    def matrix_norm_smooth(value: Any, order: Any) -> bool:
        v = np.asarray(value)
        if order in ("nuc", 2, -2):
            return _singular_values_apart(v)
        if not np.all(np.abs(v) >= APART):
            return False
        sums = np.sum(np.abs(v), axis=0 if order in (1, -1) else 1)
        return fz.gaps_ok(sums if order in (1, np.inf) else -sums, None, lowest=False)

    def order_node(g: Any, text: str) -> Any:
        """An ord as the program writes it: a literal, or np.inf / -np.inf."""
        if "np" not in text:
            return g.const(text)
        value = np.inf if text == "np.inf" else -np.inf
        return g.node(text, lambda env: value)

    def norm(g, primal, depth, want):
        a = g.operand(depth, lambda v: fz.is_array(v) and np.ndim(v) in (1, 2) and v.size >= 2)
        if a is None:
            return None
        if np.ndim(a.value) == 2 and g.chance(0.6):
            order = g.pick(("'fro'", "'nuc'", "1", "-1", "2", "-2", "np.inf", "-np.inf"))
            if not matrix_norm_smooth(a.value, eval(order, {"np": np})):
                return None
            return g.call("np.linalg.norm", primal, [a, order_node(g, order)])
        axis = None if np.ndim(a.value) == 1 else g.pick((0, 1, -1))
        order = g.pick(("1", "3", "1.5", "np.inf", "-np.inf"))
        if not vector_norm_smooth(a.value, eval(order, {"np": np}), axis):
            return None
        keywords = [("ord", order_node(g, order))]
        if axis is not None:
            keywords.append(("axis", g.integer(axis)))
        if g.chance(0.2):
            keywords.append(("keepdims", g.const("True")))

        def away_from_zero(result: Any, *args: Any, **named: Any) -> bool:
            return bool(np.all(np.asarray(result) >= APART))

        return g.call("np.linalg.norm", primal, [a], keywords, away_from_zero)

    def einsum(g, primal, depth, want):
        form = g.pick(("diagonal", "trace", "ellipsis", "interleaved"))
        if form in ("diagonal", "trace"):
            a = matrix(g, depth, lambda v: v.shape[0] == v.shape[1])
            if a is None:
                return None
            subscripts = "'ii->i'" if form == "diagonal" else "'ii'"
            return g.call("np.einsum", primal, [g.const(subscripts), a])
        a = matrix(g, depth)
        if a is None:
            return None

        def contracts_with_a(v):
            return fz.is_array(v) and np.ndim(v) in (1, 2) and np.shape(v)[0] == a.value.shape[1]

        b = g.operand(depth, contracts_with_a)
        if b is None:
            return None
        if form == "ellipsis":
            right = "j..." if np.ndim(b.value) == 2 else "j"
            return g.call("np.einsum", primal, [g.const(f"'ij,{right}->i...'"), a, b])
        b_labels = "[1, 2]" if np.ndim(b.value) == 2 else "[1]"
        return g.call("np.einsum", primal, [a, g.const("[0, 1]"), b, g.const(b_labels)])

    return {
        "slogdet": slogdet,
        "cholesky": cholesky,
        "eigh": eigh,
        "eig": eig,
        "svd": svd,
        "pinv": pinv,
        "qr": qr,
        "matrix_power": matrix_power,
        "multi_dot": multi_dot,
        "tensordot": tensordot,
        "kron": kron,
        "cross": cross,
        "vdot": vdot,
        "norm": norm,
        "einsum": einsum,
    }
