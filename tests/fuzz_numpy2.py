"""The fuzzer's makers for the primitives added for issue 10's second round: NumPy's scientific
functions (``rules_science.py``), NumPy 2's new names (the array-API linear algebra, running
sums and products, ``unstack``), least squares, condition numbers, more elementwise functions
and the functions that delete, insert and select elements.

As in ``tests/fuzzer.py``, each maker builds a call together with the values it sees, where the
function is smooth with a margin: interpolation points away from the knots, ``modf`` and
``divmod`` away from their jumps, ``frexp`` away from powers of two, least squares and
condition numbers of matrices with singular values apart, covariances of rows that vary. The
fuzzer imports this module from ``_table()`` and calls ``add_numpy2_makers``, handing it the
fuzzer module (which may be running as ``__main__``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

fuzzer: Any = None  # the fuzzer module, as add_numpy2_makers receives it


def _rank(low: int, high: int = 3) -> Callable[[Any], bool]:
    return lambda v: fuzzer.is_num(v) and low <= np.ndim(v) <= high and np.size(v) >= 1


def _shaped(shape: tuple) -> Callable[[Any], bool]:
    return lambda v: fuzzer.is_num(v) and np.shape(v) == shape


def _vector(low: int = 1, high: int = 6) -> Callable[[Any], bool]:
    return lambda v: fuzzer.is_num(v) and np.ndim(v) == 1 and low <= np.size(v) <= high


def _item(g: Any, value: Any, index: int) -> Any:
    return g.subscript(value, fuzzer.constant_index(str(index)))


def _small(result: Any, *args: Any, **named: Any) -> bool:
    """A result of moderate size (the fuzzer's values stay below its LIMIT)."""
    return bool(np.all(np.abs(np.asarray(result, dtype=float)) < 50))


# -- elementwise ----------------------------------------------------------------------------


def make_copysign(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.copysign(a, b), a away from 0 (|a| has a kink there), b away from 0 (a jump)."""
    away = fuzzer.Domain(away=(0.0,))
    a = g.fit(g.operand(depth, want), away)
    if a is None:
        return None
    b = g.fit(g.operand(depth, fuzzer.broadcasts_with(a.value)), away)
    return None if b is None else g.call("np.copysign", primal, [a, b])


def make_ldexp(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.ldexp(a, n) for a small integer n."""
    a = g.operand(depth, want)
    return None if a is None else g.call("np.ldexp", primal, [a, g.integer(g.pick((-1, 1, 2)))])


def make_nextafter(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.nextafter(a, b): a moved one float towards b."""
    a = g.operand(depth, want)
    b = g.operand(depth, fuzzer.broadcasts_with(a.value)) if a is not None else None
    return None if b is None else g.call("np.nextafter", primal, [a, b])


def make_modf(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.modf(a)[0] or [1], a away from the integers (where both parts jump)."""
    a = g.fit(g.operand(depth, want), fuzzer.Domain(grid=(1.0, 0.0)))
    if a is None:
        return None
    return _item(g, g.call("np.modf", primal, [a]), g.pick((0, 0, 1)))


def _same_exponent(result: Any, a: Any) -> bool:
    """frexp's exponent is the same within the margin of a (a away from powers of two and 0)."""
    exponent = np.frexp(a)[1]
    nearby = (np.asarray(a) + fuzzer.MARGIN, np.asarray(a) - fuzzer.MARGIN)
    return bool(np.all(np.abs(a) > 0.2)) and all(
        np.array_equal(np.frexp(x)[1], exponent) for x in nearby
    )


def make_frexp(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.frexp(a)[0], the mantissa, away from powers of two (where it jumps from 1 to ½)."""
    a = g.operand(depth, want)
    if a is None:
        return None
    return _item(g, g.call("np.frexp", primal, [a], check=_same_exponent), 0)


def make_divmod(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.divmod(a, b) or divmod(a, b) (numbers), away from the quotient's jumps; its remainder
    or its quotient."""
    scalar = primal is builtins.divmod
    a = g.operand(depth, fuzzer.both(want, fuzzer.is_scalar) if scalar else want)
    if a is None:
        return None
    b = g.const(g.pick(("0.7", "1.5", "2.0")))
    check = _no_jump(a, b)
    name = "divmod" if scalar else "np.divmod"
    return _item(g, g.call(name, primal, [a, b], check=check), g.pick((1, 1, 0)))


def _no_jump(a: Any, b: Any) -> Callable:
    def check(result: Any, x: Any, y: Any) -> bool:
        quotient = np.floor_divide(x, y)
        return all(
            np.array_equal(np.floor_divide(x + step, y), quotient)
            for step in (fuzzer.MARGIN, -fuzzer.MARGIN)
        )

    return check


def make_steps(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.heaviside(a, ½) away from 0, or np.spacing(a) away from powers of two: no gradient,
    so each is added to its operand."""
    if primal is np.heaviside:
        a = g.fit(g.operand(depth, want), fuzzer.Domain(away=(0.0,)))
        if a is None:
            return None
        step = g.call("np.heaviside", primal, [a, g.const("0.5")])
    else:
        a = g.operand(depth, want)
        if a is None:
            return None
        step = g.call("np.spacing", primal, [a], check=lambda r, x: _same_exponent(r, x))
    return g.binop("+", step, a)


def make_cumulative(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.cumulative_sum or np.cumulative_prod (of values in [-1.5, 1.5]) along an axis (any
    for a vector), with or without the initial value."""
    a = g.operand(depth, _rank(1))
    if primal is np.cumulative_prod:
        a = g.fit(a, fuzzer.Domain(low=-1.5, high=1.5))
    if a is None or np.ndim(a.value) == 0:
        return None
    ndim = np.ndim(a.value)
    keywords = []
    if ndim > 1 or g.chance(0.3):
        keywords.append(("axis", g.integer(int(g.rng.integers(-ndim, ndim)))))
    if g.chance(0.4):
        keywords.append(("include_initial", g.const("True")))
    return g.call(fuzzer.callee(primal), primal, [a], keywords)


# -- deleting, inserting, selecting -----------------------------------------------------------


def _axis_or_none(g: Any, value: Any) -> tuple[Any, int]:
    """An axis of value (or None, flattened) and the length along it."""
    if g.chance(0.4):
        return None, int(np.size(value))
    ndim = np.ndim(value)
    axis = int(g.rng.integers(-ndim, ndim))
    return axis, int(np.shape(value)[axis])


def make_delete(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.delete of one index or a list of them, flattened or along an axis."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    axis, length = _axis_or_none(g, a.value)
    if length < 2:
        return None
    count = int(g.rng.integers(1, length))
    chosen = sorted(int(i) for i in g.rng.choice(length, count, replace=False))
    obj = g.integer(chosen[0]) if count == 1 and g.chance(0.5) else g.const(repr(chosen))
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    return g.call("np.delete", primal, [a, obj], keywords)


def make_insert(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.insert of a number (or, flattened, a vector) before one place or several."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    axis, length = _axis_or_none(g, a.value)
    where = int(g.rng.integers(0, length + 1))
    if axis is None and g.chance(0.5):
        values = g.operand(depth, _vector(1, 3))
        obj = g.integer(where)
    else:
        values = g.operand(depth, fuzzer.is_scalar)
        obj = g.integer(where) if g.chance(0.6) else g.const(repr(sorted({where, 0})))
    if values is None:
        return None
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    return g.call("np.insert", primal, [a, obj, values], keywords)


def make_compress(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.compress of a list of booleans (at least one True), flattened or along an axis."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    axis, length = _axis_or_none(g, a.value)
    mask = [bool(b) for b in g.rng.integers(0, 2, int(g.rng.integers(1, length + 1)))]
    mask[int(g.rng.integers(0, len(mask)))] = True
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    return g.call("np.compress", primal, [g.const(repr(mask)), a], keywords)


def make_extract(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.extract(a > t, b), t between a's values (with a margin), b shaped like a."""
    a = g.operand(depth, _rank(1))
    if a is None or np.size(a.value) < 2:
        return None
    ordered = np.sort(np.ravel(a.value))
    gaps = np.diff(ordered)
    k = int(np.argmax(gaps))
    if gaps[k] < 3 * fuzzer.MARGIN:
        return None
    threshold = g.number((ordered[k] + ordered[k + 1]) / 2, 0.01)
    condition = g.compare(">", a, threshold)
    b = g.operand(depth, _shaped(np.shape(a.value))) if g.chance(0.5) else a
    return None if b is None else g.call("np.extract", primal, [condition, b])


def make_resize(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.resize to a smaller or larger shape (elements repeated in order)."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    size = int(g.rng.integers(1, 13))
    shape = g.pick((size, (2, size // 2 + 1), (size,)))
    text = repr(shape) if isinstance(shape, tuple) else str(shape)
    return g.call("np.resize", primal, [a, g.const(text)])


def make_choose(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.choose of a constant index array among two or three operands that broadcast, with
    out-of-range indices wrapped or clipped."""
    first = g.operand(depth, _rank(1, 2))
    if first is None:
        return None
    shape = np.shape(first.value)
    choices = [first]
    for _ in range(g.pick((1, 2))):
        other = g.operand(depth, fuzzer.broadcasts_to(shape))
        if other is None:
            return None
        choices.append(other)
    mode = g.pick(("raise", "raise", "wrap", "clip"))
    high = len(choices) if mode == "raise" else 2 * len(choices)
    low = 0 if mode == "raise" else -1
    picks = g.rng.integers(low, high, shape).tolist()
    keywords = [] if mode == "raise" else [("mode", g.const(repr(mode)))]
    index = g.call("np.array", np.array, [g.const(repr(picks))])
    return g.call("np.choose", primal, [index, g.display(choices)], keywords)


def make_unstack(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.unstack(a, axis=...)[k]: one slice."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = int(g.rng.integers(-ndim, ndim))
    k = int(g.rng.integers(0, np.shape(a.value)[axis]))
    keywords = [("axis", g.integer(axis))] if axis or g.chance(0.3) else []
    return _item(g, g.call("np.unstack", primal, [a], keywords), k)


def make_block(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.block of a row of vectors (numbers among them), of two matrices side by side, or of
    the grid [[A, B], [B, A]] of two matrices of one height."""
    if g.chance(0.4):
        first = g.operand(depth, _vector(1, 5))
        second = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) <= 1)
        if first is None or second is None:
            return None
        return g.call("np.block", primal, [g.display([first, second])])
    left = g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) == 2)
    if left is None:
        return None
    rows = len(left.value)
    right = g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) == 2 and len(v) == rows)
    if right is None or np.size(left.value) + np.size(right.value) > 20:
        return None
    if g.chance(0.5):
        return g.call("np.block", primal, [g.display([g.display([left, right])])])
    grid = [g.display([left, right]), g.display([right, left])]
    return g.call("np.block", primal, [g.display(grid)])


def make_i0(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.i0 of values in [-4, 4]."""
    a = g.fit(g.operand(depth, want), fuzzer.Domain(low=-4.0, high=4.0))
    return None if a is None else g.call("np.i0", primal, [a])


# -- NumPy 2's linear algebra names -----------------------------------------------------------


def _matrix(g: Any, depth: int, accept: Callable = lambda v: True) -> Any:
    return g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) >= 2 and accept(v))


def _singular_values_apart(value: Any) -> bool:
    s = np.linalg.svd(value, compute_uv=False)
    ordered = np.sort(s, axis=-1)
    return bool(np.all(np.diff(ordered, axis=-1) >= 0.1) and np.all(ordered[..., 0] > 0.2))


def make_array_api_product(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linalg.outer of vectors, np.linalg.tensordot over axes=k, np.vecdot/np.linalg.vecdot
    along an axis of equal length, np.matvec, np.vecmat, np.linalg.cross of 3-vectors."""
    name = fuzzer.callee(primal)
    if primal is np.linalg.outer:
        a = g.operand(depth, _vector())
        b = g.operand(depth, _vector())
        return None if a is None or b is None else g.call(name, primal, [a, b])
    if primal is np.linalg.tensordot:
        a = g.operand(depth, lambda v: fuzzer.is_array(v) and 1 <= np.ndim(v) <= 2)
        if a is None:
            return None
        count = g.pick((1, np.ndim(a.value)))
        wanted = np.shape(a.value)[np.ndim(a.value) - count :]
        b = g.operand(depth, lambda v: fuzzer.is_array(v) and np.shape(v)[:count] == wanted)
        if b is None or np.size(a.value) * np.size(b.value) > 200:
            return None
        return g.call(name, primal, [a, b], [("axes", g.integer(count))])
    if primal in (np.vecdot, np.linalg.vecdot):
        a = g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) >= 1)
        if a is None:
            return None
        b = g.operand(depth, lambda v: fuzzer.is_array(v) and np.shape(v) == np.shape(a.value))
        if b is None:
            return None
        axis = int(g.rng.integers(-np.ndim(a.value), 0))
        keywords = [] if axis == -1 and g.chance(0.5) else [("axis", g.integer(axis))]
        return g.call(name, primal, [a, b], keywords)
    if primal is np.linalg.cross:
        a = g.operand(depth, lambda v: fuzzer.is_array(v) and np.shape(v)[-1:] == (3,))
        if a is None:
            return None
        b = g.operand(depth, lambda v: fuzzer.is_array(v) and np.shape(v) == np.shape(a.value))
        return None if b is None else g.call(name, primal, [a, b])
    m = _matrix(g, depth)
    if m is None:
        return None
    length = np.shape(m.value)[-1] if primal is np.matvec else np.shape(m.value)[-2]
    v = g.operand(depth, lambda x: fuzzer.is_array(x) and np.shape(x) == (length,))
    if v is None:
        return None
    return g.call(name, primal, [m, v] if primal is np.matvec else [v, m])


def make_array_api_matrix(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.matrix_transpose, np.linalg.matrix_transpose, np.linalg.trace and diagonal (with an
    offset) of a matrix or a stack."""
    m = _matrix(g, depth)
    if m is None:
        return None
    keywords = []
    if primal in (np.linalg.trace, np.linalg.diagonal) and g.chance(0.4):
        rows, columns = np.shape(m.value)[-2:]
        keywords.append(("offset", g.integer(int(g.rng.integers(-rows + 1, columns)))))
    return g.call(fuzzer.callee(primal), primal, [m], keywords)


def make_array_api_norm(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linalg.vector_norm (2, 1 away from 0, 3) over all axes or one, np.linalg.matrix_norm
    ('fro', or 'nuc' and 2 with singular values apart), np.linalg.svdvals."""
    if primal is np.linalg.vector_norm:
        a = g.operand(depth, _rank(1))
        if a is None:
            return None
        order = g.pick((None, None, 1, 3))
        if order == 1:
            a = g.fit(a, fuzzer.Domain(away=(0.0,)))
            if a is None:
                return None
        keywords = [] if order is None else [("ord", g.integer(order))]
        if g.chance(0.5):
            keywords.insert(0, ("axis", g.integer(int(g.rng.integers(0, np.ndim(a.value))))))
        return g.call(
            "np.linalg.vector_norm",
            primal,
            [a],
            keywords,
            check=lambda r, *x, **k: bool(np.all(np.asarray(r) >= 0.2)),
        )
    order = (
        "'fro'" if primal is np.linalg.matrix_norm and g.chance(0.5) else g.pick(("'nuc'", "2"))
    )
    m = _matrix(g, depth, _singular_values_apart)
    if m is None:
        return None
    if primal is np.linalg.svdvals:
        return g.call("np.linalg.svdvals", primal, [m])
    return g.call("np.linalg.matrix_norm", primal, [m], [("ord", g.const(order))])


def make_cond(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linalg.cond of a well-conditioned square matrix (2-norm, or 'fro')."""
    a = fuzzer.square_matrix(g, depth)
    if a is None or not _singular_values_apart(a.value):
        return None
    arguments = [a] if g.chance(0.6) else [a, g.const(g.pick(("2", "'fro'", "-2")))]
    return g.call("np.linalg.cond", primal, arguments)


def make_tensor_solve(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linalg.tensorsolve of a well-conditioned square matrix reshaped to (2, n/2, n) and a
    right-hand side of shape (2, n/2), or np.linalg.tensorinv of one reshaped to (2, n/2, n)."""
    a = fuzzer.square_matrix(g, depth)
    if a is None or len(a.value) % 2:
        return None
    n = len(a.value)
    shaped = g.call("np.reshape", np.reshape, [a, g.const(repr((2, n // 2, n)))])
    if primal is np.linalg.tensorinv:
        return g.call("np.linalg.tensorinv", primal, [shaped], check=_small)
    b = g.operand(depth, _shaped((2, n // 2)))
    if b is None:
        return None
    return g.call("np.linalg.tensorsolve", primal, [shaped, b], check=_small)


def make_lstsq(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.linalg.lstsq(a, b) of a tall matrix with singular values apart: its solution, its
    residuals or its singular values."""

    def tall(v: Any) -> bool:
        return np.ndim(v) == 2 and v.shape[0] > v.shape[1] and _singular_values_apart(v)

    a = _matrix(g, depth, tall)
    if a is None:
        return None
    rows = np.shape(a.value)[0]
    b = g.operand(depth, lambda v: fuzzer.is_array(v) and 1 <= np.ndim(v) <= 2 and len(v) == rows)
    if b is None:
        return None
    result = g.call("np.linalg.lstsq", primal, [a, b], check=lambda r, *x, **k: _small(r[0]))
    return _item(g, result, g.pick((0, 0, 1, 3)))


# -- integration, interpolation, convolution, covariance, polynomials -------------------------


def make_trapezoid(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.trapezoid along an axis, with sample points x (a vector) or a spacing dx."""
    y = g.operand(depth, _rank(1))
    if y is None:
        return None
    ndim = np.ndim(y.value)
    axis = int(g.rng.integers(-ndim, ndim))
    if np.shape(y.value)[axis] < 2:
        return None
    arguments, keywords = [y], []
    form = g.pick(("x", "dx", "none"))
    if form == "x":
        x = g.operand(depth, _shaped((np.shape(y.value)[axis],)))
        if x is None:
            return None
        arguments.append(x)
    elif form == "dx":
        dx = g.operand(depth, fuzzer.is_scalar) if g.chance(0.5) else g.const("0.5")
        if dx is None:
            return None
        keywords.append(("dx", dx))
    if axis != -1 or g.chance(0.3):
        keywords.append(("axis", g.integer(axis)))
    return g.call("np.trapezoid", primal, arguments, keywords)


def make_ediff1d(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.ediff1d of an array, with numbers or vectors before and after."""
    a = g.operand(depth, _rank(1))
    if a is None:
        return None
    keywords = []
    for side in ("to_end", "to_begin"):
        if g.chance(0.3):
            extra = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) <= 1)
            if extra is not None:
                keywords.append((side, extra))
    return g.call("np.ediff1d", primal, [a], keywords)


def make_interp(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.interp(x, xp, fp) with increasing knots xp (constants, or a cumulative sum of steps
    of at least 0.3) and every x at least the margin from every knot; left and right values
    sometimes."""
    x = g.operand(depth, lambda v: fuzzer.is_num(v) and np.size(v) <= 12)
    if x is None:
        return None
    count = int(g.rng.integers(2, 6))
    if g.chance(0.5):
        knots = np.cumsum(g.rng.uniform(0.3, 1.0, count)) - 1.5
        xp = g.const(repr([float(fuzzer.nice(k)) for k in knots]))
    else:
        steps = g.fit(g.operand(depth, _shaped((count,))), fuzzer.Domain(low=0.3, high=1.5))
        if steps is None:
            return None
        cumulative = g.call("np.cumsum", np.cumsum, [steps])
        xp = g.binop("-", cumulative, g.const("1.5"))
    fp = g.operand(depth, _shaped((count,)))
    if fp is None:
        return None
    keywords = []
    if g.chance(0.3):
        keywords.append(("left", g.const(g.pick(("0.0", "-1.0")))))
    if g.chance(0.3):
        right = g.operand(depth, fuzzer.is_scalar)
        if right is not None:
            keywords.append(("right", right))

    def away_from_knots(result: Any, x: Any, xp: Any, fp: Any, **named: Any) -> bool:
        distances = np.abs(np.subtract.outer(np.ravel(x), np.asarray(xp)))
        return bool(np.all(distances >= fuzzer.MARGIN))

    return g.call("np.interp", primal, [x, xp, fp], keywords, check=away_from_knots)


def make_convolve(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.convolve, np.correlate or np.polymul of two vectors, in each mode."""
    a = g.operand(depth, _vector(1, 8))
    v = g.operand(depth, _vector(1, 5))
    if a is None or v is None:
        return None
    if primal is np.polymul:
        return g.call("np.polymul", primal, [a, v])
    keywords = []
    if g.chance(0.6):
        keywords.append(("mode", g.const(repr(g.pick(("full", "same", "valid"))))))
    return g.call(fuzzer.callee(primal), primal, [a, v], keywords)


def make_covariance(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.cov or np.corrcoef of variables observed at least three times (rows, or columns with
    rowvar=False), with a second set y sometimes; np.cov with bias or ddof. Each variable
    varies (its variance at least 0.05)."""
    m = g.operand(depth, lambda v: fuzzer.is_array(v) and 1 <= np.ndim(v) <= 2)
    if m is None:
        return None
    rowvar = np.ndim(m.value) == 1 or g.chance(0.6)
    observations = np.shape(m.value)[-1] if rowvar else np.shape(m.value)[0]
    if observations < 3:
        return None
    arguments, keywords = [m], []
    if g.chance(0.3):
        y = g.operand(depth, _shaped((observations,)))
        if y is not None:
            arguments.append(y)
    if not rowvar:
        keywords.append(("rowvar", g.const("False")))
    if primal is np.cov and g.chance(0.3):
        keywords.append(g.pick((("bias", g.const("True")), ("ddof", g.integer(0)))))

    def varies(result: Any, *values: Any, **named: Any) -> bool:
        spread = np.cov(*values, rowvar=named.get("rowvar", True))
        return bool(np.all(np.diagonal(np.atleast_2d(spread)) >= 0.05))

    return g.call(fuzzer.callee(primal), primal, arguments, keywords, check=varies)


def make_polynomial(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.polyadd, np.polysub of two coefficient vectors; np.polyder, np.polyint (with a
    constant sometimes) of one; np.vander of a vector."""
    p = g.operand(depth, _vector(1, 5))
    if p is None:
        return None
    name = fuzzer.callee(primal)
    if primal in (np.polyadd, np.polysub):
        q = g.operand(depth, _vector(1, 5))
        return None if q is None else g.call(name, primal, [p, q])
    if primal is np.polyder:
        return g.call(name, primal, [p, g.integer(g.pick((1, 1, 2)))])
    if primal is np.polyint:
        arguments = [p, g.integer(g.pick((1, 1, 2)))]
        if g.chance(0.4):
            constant = g.operand(depth, fuzzer.is_scalar)
            if constant is not None:
                arguments.append(constant)
        return g.call(name, primal, arguments)
    p = g.fit(p, fuzzer.Domain(low=-1.5, high=1.5))
    if p is None:
        return None
    keywords = [("increasing", g.const("True"))] if g.chance(0.3) else []
    return g.call(name, primal, [p, g.integer(g.pick((1, 2, 3)))], keywords, check=_small)


def make_polyfit(g: Any, primal: Any, depth: int, want: Any) -> Any:
    """np.polyfit(x, y, deg) of deg + 1 or more points x at least 0.3 apart (a vector at hand
    whose points are, or the cumulative sum of steps in [0.3, 1] shifted to start below 0),
    y a vector or columns: a well-posed least-squares fit."""
    x = g.operand(depth, _vector(3, 8))
    if x is None:
        return None
    ordered = np.sort(x.value)
    if np.min(np.diff(ordered)) < 0.3 or np.max(np.abs(ordered)) > 3:
        steps = g.fit(x, fuzzer.Domain(low=0.3, high=1.0))
        if steps is None:
            return None
        x = g.binop("-", g.call("np.cumsum", np.cumsum, [steps]), g.const("2.0"))
    count = np.size(x.value)
    y = g.operand(depth, lambda v: fuzzer.is_num(v) and 1 <= np.ndim(v) <= 2 and len(v) == count)
    if y is None:
        return None
    deg = int(g.rng.integers(0, min(count, 3)))

    def fair(result: Any, x: Any, y: Any, deg: Any) -> bool:
        return bool(np.linalg.cond(np.vander(x, deg + 1)) < 200) and _small(result)

    return g.call("np.polyfit", primal, [x, y, g.integer(deg)], check=fair)


def add_numpy2_makers(add: Callable, module: Any) -> None:
    """Register the makers of this module with ``_table()``'s ``add``; ``module`` is the
    fuzzer itself, whose helpers the makers use."""
    global fuzzer
    fuzzer = module
    add([np.copysign], make_copysign)
    add([np.float_power], fuzzer.make_power, weight=0.5)
    add([np.ldexp], make_ldexp, weight=0.5)
    add([np.nextafter], make_nextafter, weight=0.3)
    add([np.modf], make_modf, weight=0.5)
    add([np.frexp], make_frexp, weight=0.5)
    add([np.divmod, builtins.divmod], make_divmod, weight=0.5)
    add([np.heaviside, np.spacing], make_steps, weight=0.3)
    add([np.cumulative_sum, np.cumulative_prod], make_cumulative)
    add([np.delete], make_delete)
    add([np.insert], make_insert)
    add([np.compress], make_compress)
    add([np.extract], make_extract)
    add([np.resize], make_resize)
    add([np.choose], make_choose)
    add([np.unstack], make_unstack)
    add([np.block], make_block)
    add([np.i0], make_i0, weight=0.5)
    products = [np.linalg.outer, np.linalg.tensordot, np.vecdot, np.linalg.vecdot]
    add(products + [np.matvec, np.vecmat, np.linalg.cross], make_array_api_product)
    add([np.linalg.matmul], fuzzer.make_matmul)
    matrices = [np.matrix_transpose, np.linalg.matrix_transpose]
    add(matrices + [np.linalg.trace, np.linalg.diagonal], make_array_api_matrix)
    norms = [np.linalg.vector_norm, np.linalg.matrix_norm, np.linalg.svdvals]
    add(norms, make_array_api_norm)
    add([np.linalg.cond], make_cond)
    add([np.linalg.lstsq], make_lstsq)
    add([np.linalg.tensorsolve, np.linalg.tensorinv], make_tensor_solve)
    add([np.trapezoid], make_trapezoid)
    add([np.ediff1d], make_ediff1d)
    add([np.interp], make_interp)
    add([np.convolve, np.correlate, np.polymul], make_convolve)
    add([np.cov, np.corrcoef], make_covariance)
    polynomials = [np.polyadd, np.polysub, np.polyder, np.polyint, np.vander]
    add(polynomials, make_polynomial)
    add([np.polyfit], make_polyfit)
