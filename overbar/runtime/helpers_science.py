"""Runtime helpers for the rules of ``rules_science.py``: integration, interpolation,
convolution, covariance and polynomials. Each is small and runs on plain NumPy values.

Most of these functions are linear in the argument differentiated (trapezoid in y, convolve in
each operand, the polynomial operations in their coefficients): their adjoints are the
transposed maps, written out here, and their tangents are the functions themselves applied to
the tangents.
"""

from __future__ import annotations

import numpy as np

from overbar.errors import NoDerivativeError
from overbar.runtime.helpers import as_rows_of, index_bar, unbroadcast, zero_gradient
from overbar.runtime.helpers_linalg import (
    lstsq_solution_bars,
    lstsq_solution_dot,
    refuse_rank_deficient,
)

# ---------------------------------------------------------------------------------------------
# Integration: the trapezoidal rule
# ---------------------------------------------------------------------------------------------


def _spacing(y, x, dx, axis):
    """The widths dᵢ = xᵢ₊₁ − xᵢ np.trapezoid multiplies by (dx where x is None), shaped to
    broadcast against the pieces of y along ``axis``."""
    if x is None:
        return dx
    x = np.asarray(x)
    if x.ndim == 1:
        shape = [1] * np.ndim(y)
        shape[axis] = x.shape[0] - 1
        return np.reshape(np.diff(x), shape)
    return np.diff(x, axis=axis)


def _pieces(a, axis):
    """a without its last element along ``axis``, and without its first."""
    a = np.asarray(a)
    head = [slice(None)] * a.ndim
    tail = [slice(None)] * a.ndim
    head[axis], tail[axis] = slice(None, -1), slice(1, None)
    return a[tuple(head)], a[tuple(tail)]


def _undiff(d_bar, axis):
    """The transpose of np.diff along ``axis``: x̄ᵢ = d̄ᵢ₋₁ − d̄ᵢ (d̄ taken 0 past each end)."""
    d_bar = np.asarray(d_bar)
    pad = [(0, 0)] * d_bar.ndim
    pad[axis] = (1, 0)
    before = np.pad(d_bar, pad)
    pad[axis] = (0, 1)
    return before - np.pad(d_bar, pad)


def trapezoid_bars(area_bar, y, x=None, dx=1.0, axis=-1):
    """Adjoints of A = Σᵢ dᵢ (yᵢ + yᵢ₊₁) / 2 along ``axis`` (dᵢ = xᵢ₊₁ − xᵢ, or dx):
    ȳᵢ = Ā (dᵢ₋₁ + dᵢ) / 2 (one width at each end),  d̄ᵢ = Ā (yᵢ + yᵢ₊₁) / 2, then
    x̄ᵢ = d̄ᵢ₋₁ − d̄ᵢ (x given; dx is ignored then) or d̄x = Σ d̄ᵢ (x not given)."""
    y = np.asarray(y)
    axis = axis % y.ndim
    g = np.expand_dims(area_bar, axis)
    widths = _spacing(y, x, dx, axis)
    head, tail = _pieces(y, axis)
    share = g * widths / 2
    share = np.broadcast_to(share, np.broadcast_shapes(np.shape(share), head.shape))
    pad = [(0, 0)] * share.ndim
    pad[share.ndim - y.ndim + axis] = (0, 1)
    y_bar = np.pad(share, pad)
    pad[share.ndim - y.ndim + axis] = (1, 0)
    y_bar = unbroadcast(y_bar + np.pad(share, pad), y)
    widths_bar = g * (head + tail) / 2
    if x is None:
        return y_bar, None, unbroadcast(widths_bar, dx)
    x = np.asarray(x)
    if x.ndim == 1:
        other = tuple(k for k in range(widths_bar.ndim) if k != axis)
        return y_bar, _undiff(np.sum(widths_bar, axis=other), 0), zero_gradient(dx)
    return y_bar, unbroadcast(_undiff(widths_bar, axis), x), zero_gradient(dx)


def trapezoid_width_dot(y, x, dx_dot, axis=-1):
    """The term of dx's tangent in the tangent of np.trapezoid(y, x, dx): ḋx Σ (yᵢ + yᵢ₊₁) / 2,
    or 0 where x is given (dx is ignored then)."""
    if x is not None:
        area = np.trapezoid(y, axis=axis)
        return np.zeros(np.shape(area), dtype=np.result_type(area, 1.0))
    return np.trapezoid(y, dx=dx_dot, axis=axis)


def ediff1d_bars(y_bar, ary, to_end=None, to_begin=None):
    """Adjoints of y = [b, a₂ − a₁, …, aₙ − aₙ₋₁, e] (a flattened, b = to_begin, e = to_end):
    ā = the transpose of the differences applied to ȳ's middle,  b̄ and ē its ends."""
    g = np.ravel(y_bar)
    begin = 0 if to_begin is None else np.size(to_begin)
    end = 0 if to_end is None else np.size(to_end)
    middle = g[begin : g.shape[0] - end]
    ary_bar = np.reshape(_undiff(middle, 0), np.shape(ary))
    to_begin_bar = None if to_begin is None else np.reshape(g[:begin], np.shape(to_begin))
    to_end_bar = None if to_end is None else np.reshape(g[g.shape[0] - end :], np.shape(to_end))
    return ary_bar, to_end_bar, to_begin_bar


def ediff1d_dot(ary, to_end, to_begin, ary_dot=None, to_end_dot=None, to_begin_dot=None):
    """One term of the tangent of y = [b, a₂ − a₁, …, e]: ediff1d of the tangent given (of ary,
    to_end or to_begin), zeros in the places of the others."""

    dtype = np.result_type(np.asarray(ary), 1.0)

    def part(value, value_dot):
        if value is None:
            return np.zeros(0, dtype=dtype)
        if value_dot is None:
            return np.zeros(np.size(value), dtype=dtype)
        return np.ravel(np.broadcast_to(value_dot, np.shape(value)))

    if ary_dot is None:
        middle = np.zeros(max(np.size(ary) - 1, 0), dtype=dtype)
    else:
        middle = np.diff(np.ravel(np.broadcast_to(ary_dot, np.shape(ary))))
    return np.concatenate([part(to_begin, to_begin_dot), middle, part(to_end, to_end_dot)])


# ---------------------------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------------------------


def _segments(x, xp):
    """For np.interp: the segment j (xp[j] ≤ x < xp[j+1], the last one for x = xp[-1]) of each
    x, its fraction t along it, and whether x lies in [xp[0], xp[-1]]. Of one point xp there
    is no segment: j = 0 and t = 0."""
    x, xp = np.asarray(x, dtype=float), np.asarray(xp, dtype=float)
    if xp.shape[0] < 2:
        j = np.zeros(x.shape, dtype=np.intp)
        return j, np.zeros(x.shape), x == xp[0]
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.shape[0] - 2)
    t = (x - xp[j]) / (xp[j + 1] - xp[j])
    return j, t, (x >= xp[0]) & (x <= xp[-1])


def interp_slope(x, xp, fp):
    """d interp(x, xp, fp) / dx: the slope (fp[j+1] − fp[j]) / (xp[j+1] − xp[j]) of x's
    segment (the one to its right at a knot), 0 outside [xp[0], xp[-1]]."""
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)
    if xp.shape[0] < 2:
        return np.zeros(np.shape(x))
    j, _, inside = _segments(x, xp)
    return np.where(inside, (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]), 0.0)


def interp_bars(y_bar, x, xp, fp, left=None, right=None):
    """Adjoints of y = interp(x, xp, fp, left, right) = (1 − t) fp[j] + t fp[j+1] inside,
    t = (x − xp[j]) / (xp[j+1] − xp[j]), s = the segment's slope:
    x̄ = ȳ s;  f̄p[j] += ȳ (1 − t), f̄p[j+1] += ȳ t;  x̄p[j] += ȳ s (t − 1), x̄p[j+1] += −ȳ s t;
    outside, ȳ goes to left (right), or to fp[0] (fp[-1]) where left (right) is None."""
    x = np.asarray(x, dtype=float)
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)
    g = np.broadcast_to(y_bar, x.shape)
    j, t, inside = _segments(x, xp)
    below, above = x < xp[0], x > xp[-1]
    slope = interp_slope(x, xp, fp)
    n = xp.shape[0]
    fp_bar = np.bincount(j.ravel(), (g * (1 - t) * inside).ravel(), minlength=n)
    xp_bar = np.bincount(j.ravel(), (g * slope * (t - 1)).ravel(), minlength=n)
    if n > 1:
        fp_bar = fp_bar + np.bincount(j.ravel() + 1, (g * t * inside).ravel(), minlength=n)
        xp_bar = xp_bar - np.bincount(j.ravel() + 1, (g * slope * t).ravel(), minlength=n)
    # of no points x, bincount counts nothing: integers, where the adjoints are floats
    fp_bar, xp_bar = fp_bar.astype(float, copy=False), xp_bar.astype(float, copy=False)
    left_bar = np.sum(g * below)
    right_bar = np.sum(g * above)
    if left is None:
        fp_bar[0] += left_bar
    if right is None:
        fp_bar[-1] += right_bar
    x_bar = np.reshape(g * slope, np.shape(x))
    return x_bar, xp_bar, fp_bar, left_bar, right_bar


def interp_knots_dot(xp_dot, x, xp, fp):
    """The term of the knots' tangent in the tangent of interp: s ((t − 1) ẋp[j] − t ẋp[j+1])
    inside, 0 outside (where y is left, right or an end value)."""
    xp_dot = np.asarray(xp_dot, dtype=float)
    if np.shape(xp)[0] < 2:
        return np.zeros(np.shape(x))
    j, t, _ = _segments(x, xp)
    return interp_slope(x, xp, fp) * ((t - 1) * xp_dot[j] - t * xp_dot[j + 1])


def interp_values_dot(fp_dot, x, xp, left=None, right=None):
    """The term of the values' tangent in the tangent of interp (linear in fp):
    interp(x, xp, ḟp), whose ends are 0 where left (right) is given."""
    return np.interp(
        x, xp, fp_dot, left=None if left is None else 0.0, right=None if right is None else 0.0
    )


def interp_end_dot(end_dot, x, xp, side):
    """The term of left's (side "left") or right's tangent in the tangent of interp: the
    tangent where x lies beyond that end of xp, 0 elsewhere."""
    beyond = np.asarray(x) < np.asarray(xp)[0] if side == "left" else np.asarray(x) > xp[-1]
    return np.where(beyond, end_dot, 0.0)


# ---------------------------------------------------------------------------------------------
# Convolution and correlation (1-D)
# ---------------------------------------------------------------------------------------------


def _full_length_bar(z_bar, n, m, mode, correlation=False):
    """ȳ of convolve (or correlate) in mode ``mode`` placed where its elements sit in the
    'full' result of length n + m − 1, zeros elsewhere (NumPy's offsets: (min − 1) // 2 for
    'same', min − 1 for 'valid'; correlate's 'same' takes min // 2 when the first operand is
    the shorter one)."""
    z_bar = np.ravel(z_bar)
    shorter = min(n, m)
    if mode == "full":
        return z_bar
    if mode == "valid":
        offset = shorter - 1
    elif correlation and n < m:
        offset = shorter // 2
    else:
        offset = (shorter - 1) // 2
    full = np.zeros(n + m - 1, dtype=np.result_type(z_bar, 1.0))
    full[offset : offset + z_bar.shape[0]] = z_bar
    return full


def _valid_vectors(z_bar, a, v, mode):
    """Whether the adjoints of a 'valid' convolution or correlation can be written without
    placing z̄ in the full result: NumPy vectors a, v and z̄ of real numbers, v not empty, and
    the mode the string 'valid' (another spelling NumPy accepts takes the general way)."""
    return (
        isinstance(mode, str)
        and mode == "valid"
        and type(a) is np.ndarray
        and type(v) is np.ndarray
        and type(z_bar) is np.ndarray
        and a.ndim == v.ndim == z_bar.ndim == 1
        and v.shape[0] >= 1
        and not (np.iscomplexobj(a) or np.iscomplexobj(v) or np.iscomplexobj(z_bar))
    )


def convolve_bars(z_bar, a, v, mode="full"):
    """Adjoints of z = convolve(a, v, mode), z_full[k] = Σᵢ aᵢ v_{k−i}: with z̄ placed in the
    full result,  āᵢ = Σⱼ z̄[i + j] vⱼ = correlate(z̄, v, 'valid'),  v̄ⱼ = correlate(z̄, a, 'valid').
    In 'valid' mode with len(a) ≥ len(v) (``_valid_vectors``) the padding is implied: ā is
    correlate(z̄, v, 'full') and v̄ the reversed correlate(a, z̄, 'valid'); with len(a) < len(v)
    NumPy swaps the operands, and the general way is taken.
    """
    n, m = np.size(a), np.size(v)
    if _valid_vectors(z_bar, a, v, mode) and n >= m:
        # z̄ padded by m − 1 zeros at each end is the full result's adjoint: ā is z̄ correlated
        # with v in 'full' mode, and v̄ⱼ = Σₖ z̄ₖ a[k + m − 1 − j], a reversed 'valid' correlation
        return np.correlate(z_bar, v, "full"), np.correlate(a, z_bar, "valid")[::-1]
    full = _full_length_bar(z_bar, n, m, mode)
    a_bar = np.correlate(full, np.ravel(v), "valid")
    v_bar = np.correlate(full, np.ravel(a), "valid")
    return np.reshape(a_bar, np.shape(a)), np.reshape(v_bar, np.shape(v))


def convolve_a_bar(z_bar, a, v, mode="full"):
    """The adjoint of ``a`` alone for z = convolve(a, v, mode), with z̄ placed in the full
    result:  āᵢ = Σⱼ z̄[i + j] vⱼ = correlate(z̄, v, 'valid')  (``a``: its size and shape
    only). v̄ is ``convolve_a_bar(z̄, v, a, mode)``, convolve being symmetric in a and v.
    In 'valid' mode (z̄ and v real), one call and no zeros made: with a the longer, z̄ sits in
    the full result from m − 1 on, so āᵢ = Σⱼ z̄[i + j − m + 1] vⱼ = (z̄ ∗ v reversed)ᵢ; with a
    the shorter, from n − 1 on, so āᵢ = Σₖ z̄ₖ v[k + n − 1 − i] = correlate(v, z̄, 'valid')
    read backwards.
    """
    n, m = np.size(a), np.size(v)
    if mode == "valid" and not (np.iscomplexobj(v) or np.iscomplexobj(z_bar)):
        if n >= m:
            a_bar = np.convolve(np.ravel(z_bar), np.ravel(v)[::-1], "full")
        else:
            a_bar = np.correlate(np.ravel(v), np.ravel(z_bar), "valid")[::-1]
    else:
        a_bar = np.correlate(_full_length_bar(z_bar, n, m, mode), np.ravel(v), "valid")
    return np.reshape(a_bar, np.shape(a))


def correlate_bars(z_bar, a, v, mode="valid"):
    """Adjoints of z = correlate(a, v, mode) = convolve(a, w, mode) with w = v reversed (up to
    correlate's own offset in 'same'):  ā = correlate(z̄, w, 'valid'),  v̄ = reversed
    correlate(z̄, a, 'valid'). In 'valid' mode with len(a) ≥ len(v) (``_valid_vectors``):
    ā = convolve(z̄, v) and v̄ = correlate(a, z̄, 'valid'), no padding. Complex arrays refused:
    np.correlate conjugates v."""
    if np.iscomplexobj(a) or np.iscomplexobj(v):
        raise NoDerivativeError(
            "np.correlate of complex arrays conjugates v, a function with no complex "
            "derivative; write np.convolve(a, np.conj(v[::-1])) for the same values"
        )
    n, m = np.size(a), np.size(v)
    if _valid_vectors(z_bar, a, v, mode) and n >= m:
        # zₖ = Σᵢ a[i + k] vᵢ for k ≤ n − m:  ā = z̄ ∗ v (a full convolution, n long),
        # v̄ = a ⋆ z̄ ('valid', m long), as a person writes them
        return np.convolve(z_bar, v), np.correlate(a, z_bar, "valid")
    full = _full_length_bar(z_bar, n, m, mode, correlation=True)
    reversed_v = np.ravel(v)[::-1]
    a_bar = np.correlate(full, reversed_v, "valid")
    v_bar = np.correlate(full, np.ravel(a), "valid")[::-1]
    return np.reshape(a_bar, np.shape(a)), np.reshape(v_bar, np.shape(v))


def _valid_part(z, index, n, m):
    """Whether ``z[index]`` is the 'valid' part of the full convolution or correlation ``z``
    of vectors of n ≥ m ≥ 1 elements: elements m − 1 to n − 1 of its n + m − 1."""
    if not (isinstance(index, slice) and type(z) is np.ndarray and z.ndim == 1 and n >= m >= 1):
        return False
    return z.shape[0] == n + m - 1 and range(z.shape[0])[index] == range(m - 1, n)


def convolve_a_bar_of_part(y_bar, z, index, a, v, mode="full"):
    """``convolve_a_bar(index_bar(ȳ, z, index), a, v, mode)``: the adjoint of ``a`` alone for a
    convolution z = convolve(a, v, mode) of which only ``z[index]`` is read. Where z is the full
    result and ``z[index]`` its 'valid' part (elements min(n, m) − 1 to max(n, m) − 1, whichever
    operand is the longer), ȳ is the valid result's adjoint: convolve_a_bar(ȳ, a, v, 'valid'),
    without z̄'s zeros; otherwise z̄ is made."""
    n, m = np.size(a), np.size(v)
    if mode == "full" and _valid_part(z, index, max(n, m), min(n, m)):
        return convolve_a_bar(y_bar, a, v, "valid")
    return convolve_a_bar(index_bar(y_bar, z, index), a, v, mode)


def correlate_bars_of_part(y_bar, z, index, a, v, mode="valid"):
    """``correlate_bars(index_bar(ȳ, z, index), a, v, mode)``, likewise for a correlation."""
    if mode == "full" and _valid_part(z, index, np.size(a), np.size(v)):
        return correlate_bars(y_bar, a, v, "valid")
    return correlate_bars(index_bar(y_bar, z, index), a, v, mode)


def polymul_bars(y_bar, a1, a2):
    """Adjoints of y = polymul(a1, a2): the full convolution's (``convolve_bars``). NumPy drops
    the operands' leading zero coefficients first, so y may be shorter than the convolution:
    ȳ stands for the convolution's last coefficients (the first ones are 0), which makes the
    derivative at a leading zero the one of y's coefficients at y's length."""
    full = np.size(a1) + np.size(a2) - 1
    g = np.ravel(y_bar)
    padded = np.concatenate([np.zeros(full - g.shape[0], dtype=g.dtype), g])
    return convolve_bars(padded, a1, a2)


def polymul_dot(y, a1, a2, a1_dot=None, a2_dot=None):
    """One term of the tangent of y = polymul(a1, a2) (bilinear): the last len(y) coefficients
    of convolve(ȧ1, a2) (or of convolve(a1, ȧ2)), as NumPy drops the leading zeros of y."""
    if a1_dot is not None:
        term = np.convolve(np.broadcast_to(a1_dot, np.shape(a1)), np.ravel(a2))
    else:
        term = np.convolve(np.ravel(a1), np.broadcast_to(a2_dot, np.shape(a2)))
    return term[term.shape[0] - np.size(y) :]


# ---------------------------------------------------------------------------------------------
# Covariance and correlation coefficients
# ---------------------------------------------------------------------------------------------


def _observations(m, y, rowvar):
    """The matrix X of variables by observations np.cov builds from m and y (in float64 at
    least, as np.cov computes), and how many of its rows are m's."""
    x = np.array(m, ndmin=2, dtype=np.result_type(np.asarray(m), np.float64))
    if not rowvar and x.shape[0] != 1:
        x = x.T
    rows = x.shape[0]
    if y is not None:
        other = np.array(y, ndmin=2, dtype=np.result_type(np.asarray(y), np.float64))
        if not rowvar and other.shape[0] != 1:
            other = other.T
        x = np.concatenate((x, other), axis=0)
    return x, rows


def _unobserved(x_bar, like, rowvar):
    """The adjoint of ``like`` (m or y) from rows of X̄: transposed back where np.cov
    transposed it, in its shape."""
    rows = x_bar
    if not rowvar and np.array(like, ndmin=2).shape[0] != 1:
        rows = rows.T
    return np.reshape(rows, np.shape(like)).astype(np.result_type(np.asarray(like), 1.0))


def _degrees(observations, bias, ddof):
    """N − ddof, the divisor of np.cov (ddof 0 with bias, 1 without, unless given)."""
    if ddof is None:
        ddof = 0 if bias else 1
    return observations - ddof


def cov_bars(c_bar, m, y=None, rowvar=True, bias=False, ddof=None):
    """Adjoints of C = X_c X_cᵀ / (N − ddof), X_c = X − mean(X) over the observations:
    X̄ = (C̄ + C̄ᵀ) X_c / (N − ddof) (the mean's share vanishes: X_c 1 = 0), cut into m's rows and
    y's."""
    x, rows = _observations(m, y, rowvar)
    centred = x - np.mean(x, axis=1, keepdims=True)
    g = np.reshape(c_bar, (x.shape[0], x.shape[0]))
    x_bar = (g + g.T) @ centred / _degrees(x.shape[1], bias, ddof)
    m_bar = _unobserved(x_bar[:rows], m, rowvar)
    y_bar = None if y is None else _unobserved(x_bar[rows:], y, rowvar)
    return m_bar, y_bar


def cov_dot(m, y, m_dot, y_dot, rowvar=True, bias=False, ddof=None):
    """The tangent of C = X_c X_cᵀ / (N − ddof) as m moves along ṁ and y along ẏ (either None
    where it stays): Ċ = (Ẋ_c X_cᵀ + X_c Ẋ_cᵀ) / (N − ddof)."""
    x, rows = _observations(m, y, rowvar)
    moves = []
    if m_dot is not None:
        moves.append(np.broadcast_to(m_dot, np.shape(m)))
    else:
        moves.append(np.zeros(np.shape(m)))
    if y is not None:
        moves.append(
            np.zeros(np.shape(y)) if y_dot is None else np.broadcast_to(y_dot, np.shape(y))
        )
    x_dot, _ = _observations(moves[0], moves[1] if y is not None else None, rowvar)
    centred = x - np.mean(x, axis=1, keepdims=True)
    centred_dot = x_dot - np.mean(x_dot, axis=1, keepdims=True)
    product = centred_dot @ centred.T
    c_dot = (product + product.T) / _degrees(x.shape[1], bias, ddof)
    return c_dot.squeeze()


def corrcoef_bars(r_bar, r, x, y=None, rowvar=True):
    """Adjoints of R = C / (s sᵀ), s = √diag C, C = cov(x, y):  C̄ = R̄ / (s sᵀ), then
    C̄ᵢᵢ −= Σⱼ (R̄ᵢⱼ Rᵢⱼ + R̄ⱼᵢ Rⱼᵢ) / (2 sᵢ²)  (the diagonal's share through s), then cov's."""
    c = np.cov(x, y, rowvar)
    size = int(round(np.sqrt(np.size(c))))
    c = np.reshape(c, (size, size))
    g = np.reshape(r_bar, (size, size))
    r = np.reshape(r, (size, size))
    s = np.sqrt(np.diagonal(c))
    c_bar = g / np.outer(s, s)
    through_s = np.sum(g * r, axis=1) + np.sum(g * r, axis=0)
    c_bar = c_bar - np.diag(through_s / (2 * s * s))
    return cov_bars(c_bar, x, y, rowvar)


def corrcoef_dot(r, x, y, x_dot, y_dot, rowvar=True):
    """The tangent of R = C / (s sᵀ): Ṙ = Ċ / (s sᵀ) − R ∘ (q 1ᵀ + 1 qᵀ), qᵢ = Ċᵢᵢ / (2 Cᵢᵢ)."""
    c = np.atleast_2d(np.cov(x, y, rowvar))
    c_dot = np.atleast_2d(cov_dot(x, y, x_dot, y_dot, rowvar))
    s = np.sqrt(np.diagonal(c))
    q = np.diagonal(c_dot) / (2 * s * s)
    r = np.atleast_2d(r)
    r_dot = c_dot / np.outer(s, s) - r * (q[:, None] + q[None, :])
    return r_dot.squeeze()


# ---------------------------------------------------------------------------------------------
# Polynomials (coefficients highest power first)
# ---------------------------------------------------------------------------------------------


def polyadd_bars(y_bar, a1, a2, sign=1.0):
    """Adjoints of y = a1 + a2 (the shorter padded with zeros in front; ``sign`` −1 for
    polysub): each operand takes the last of ȳ's coefficients, as many as it has."""
    g = np.ravel(y_bar)
    n1, n2 = np.size(a1), np.size(a2)
    a1_bar = np.reshape(g[g.shape[0] - n1 :], np.shape(a1))
    a2_bar = np.reshape(sign * g[g.shape[0] - n2 :], np.shape(a2))
    return a1_bar, a2_bar


def _falling_powers(n, m):
    """For p of n coefficients (degree n − 1): the factor (n−1−k)(n−2−k)⋯(n−m−k) by which the
    m-th derivative multiplies pₖ, for k = 0 … n − 1 − m."""
    exponents = np.arange(n - 1, m - 1, -1, dtype=float)
    factor = np.ones(max(n - m, 0))
    for i in range(m):
        factor = factor * (exponents - i)
    return factor


def polyder_bar(y_bar, p, m=1):
    """Adjoint of y = polyder(p, m), yₖ = pₖ (n−1−k)⋯(n−m−k):  p̄ₖ = ȳₖ (n−1−k)⋯(n−m−k) for
    k < n − m, 0 for the m last (constant) coefficients, or all of them when m ≥ n."""
    n = np.size(p)
    p_bar = np.zeros(n, dtype=np.result_type(np.asarray(y_bar), np.asarray(p), 1.0))
    if n > m:
        p_bar[: n - m] = np.ravel(y_bar) * _falling_powers(n, m)
    return np.reshape(p_bar, np.shape(p))


def polyint_bars(y_bar, p, m=1, k=None):
    """Adjoints of y = polyint(p, m, k), m integrations q ← [q / (n, n−1, …, 1), kᵢ] (each
    dividing by the new exponents, then appending the constant):  backwards, k̄ᵢ = q̄'s last
    coefficient, q̄ = the others divided by the same exponents."""
    if m == 0:  # np.polyint returns p itself, ignoring k
        return np.reshape(y_bar, np.shape(p)), None if k is None else zero_gradient(k)
    g = np.ravel(y_bar).astype(np.result_type(y_bar, 1.0))
    k_bars = []
    for _ in range(m):
        k_bars.append(g[-1])
        exponents = np.arange(g.shape[0] - 1, 0, -1, dtype=float)
        g = g[:-1] / exponents
    k_bars.reverse()
    p_bar = np.reshape(g, np.shape(p))
    if k is None:
        return p_bar, None
    if np.size(k) == 1 and m > 1:
        k_bars = [np.sum(k_bars)]
    if isinstance(k, list | tuple):
        return p_bar, as_rows_of(k_bars, k)
    return p_bar, np.reshape(np.array(k_bars), np.shape(k))


def polyint_constants_dot(k_dot, p, m=1):
    """The term of the constants' tangent in the tangent of polyint (linear in k):
    polyint(0, m, k̇)."""
    return np.polyint(np.zeros(np.shape(p)), m, k_dot)


def vander_bar(v_bar, x, n=None, increasing=False):
    """Adjoint of V = vander(x, N), Vᵢⱼ = xᵢ^eⱼ:  x̄ᵢ = Σⱼ V̄ᵢⱼ eⱼ xᵢ^(eⱼ−1) (the column of
    exponent 0 gives nothing)."""
    return np.sum(v_bar * vander_slope(x, n, increasing), axis=1)


def vander_slope(x, n=None, increasing=False):
    """∂Vᵢⱼ / ∂xᵢ = eⱼ xᵢ^(eⱼ−1) for V = vander(x, N): the columns of vander(x, N − 1) each
    times its exponent, with a column of zeros for the exponent 0."""
    x = np.asarray(x)
    x = x.astype(np.result_type(x, 1.0))
    columns = x.shape[0] if n is None else n
    exponents = np.arange(columns, dtype=float)
    lower = np.vander(x, max(columns - 1, 0), increasing=True)
    slope = np.concatenate([np.zeros((x.shape[0], 1)), lower * exponents[1:]], axis=1)
    slope = slope[:, :columns]
    return slope if increasing else slope[:, ::-1]


def _polyfit_rank(x, deg, rcond=None):
    """The rank np.polyfit's least squares finds: of vander(x, deg + 1) with its columns
    scaled to unit norm, singular values below rcond (len(x) ε by default) times the largest
    counting as 0."""
    a = np.vander(np.asarray(x, dtype=float), deg + 1)
    a = a / np.sqrt(np.sum(a * a, axis=0))
    cut = len(a) * np.finfo(float).eps if rcond is None else rcond
    s = np.linalg.svd(a, compute_uv=False)
    return int(np.sum(s > cut * s[0]))


def polyfit_bars(p_bar, p, x, y, deg, rcond=None):
    """Adjoints of p = polyfit(x, y, deg) = lstsq(A, y) with A = vander(x, deg + 1):
    z = (AᵀA)⁻¹ p̄,  ȳ = A z,  Ā = r zᵀ − A z pᵀ (r = y − A p the residual), then x̄ from Ā
    through vander. Refused where A has not full column rank (fewer distinct x than deg + 1)."""
    a = np.vander(np.asarray(x, dtype=float), deg + 1)
    refuse_rank_deficient(a, "np.polyfit", _polyfit_rank(x, deg, rcond))
    a_bar, y_bar = lstsq_solution_bars(p_bar, p, a, y)
    return vander_bar(a_bar, x, deg + 1), y_bar


def polyfit_dot(p, x, y, x_dot, y_dot, deg, rcond=None):
    """The tangent of p = polyfit(x, y, deg) = lstsq(A, y) with A = vander(x, deg + 1):
    Ȧ = ∂V/∂x ẋ, ṗ = (AᵀA)⁻¹ (Ȧᵀ r − Aᵀ Ȧ p + Aᵀ ẏ)."""
    a = np.vander(np.asarray(x, dtype=float), deg + 1)
    refuse_rank_deficient(a, "np.polyfit", _polyfit_rank(x, deg, rcond))
    a_dot = None
    if x_dot is not None:
        a_dot = vander_slope(x, deg + 1) * np.reshape(x_dot, (-1, 1))
    return lstsq_solution_dot(p, a, y, a_dot, y_dot)


# ---------------------------------------------------------------------------------------------
# The modified Bessel function I₀
# ---------------------------------------------------------------------------------------------


def bessel_i1(x):
    """I₁(x) = I₀′(x), which NumPy does not have: (1/2π) ∫₀^2π (e^(x cos θ) − 1) cos θ dθ (the −1
    integrates to 0 and keeps small x exact) by the trapezoidal rule on N equally spaced θ,
    exact to rounding for a periodic analytic integrand once N² ≫ 2|x| (the error is of the
    order of I_N(x) / I₁(x) ≈ e^(−N²/2|x|)): N = 32 + √(80 max|x|)."""
    x = np.asarray(x)
    x = x.astype(np.result_type(x, 1.0))
    nodes = 32 + int(np.sqrt(80 * np.max(np.abs(x), initial=0.0)))
    cosines = np.cos(2 * np.pi * np.arange(nodes) / nodes).astype(x.dtype)
    return np.mean(np.expm1(np.multiply.outer(x, cosines)) * cosines, axis=-1)


# ---------------------------------------------------------------------------------------------
# Changes of the adjoints above with the values they read (for second derivatives)
# ---------------------------------------------------------------------------------------------


def trapezoid_bars_dot(area_bar, y, x=None, dx=1.0, axis=-1, y_dot=None, x_dot=None, dx_dot=None):
    """One term of the change of (ȳ, x̄, d̄x) = trapezoid_bars(Ā, y, x, dx) as one of y, x, dx
    moves (Ā fixed): ȳ is linear in the widths, x̄ and d̄x in y, so the term is the adjoint of
    the moved argument's tangent in its place, zeros for the parts that do not move with it."""
    x_zero = None if x is None else zero_gradient(x)
    if y_dot is not None:
        _, x_part, dx_part = trapezoid_bars(
            area_bar, np.broadcast_to(y_dot, np.shape(y)), x, dx, axis
        )
        return zero_gradient(y), x_part, dx_part
    if x_dot is not None:
        moved = trapezoid_bars(area_bar, y, np.broadcast_to(x_dot, np.shape(x)), dx, axis)[0]
        return moved, x_zero, zero_gradient(dx)
    if x is not None:  # dx is ignored where x is given
        return zero_gradient(y), x_zero, zero_gradient(dx)
    return trapezoid_bars(area_bar, y, None, dx_dot, axis)[0], None, zero_gradient(dx)


def cov_bars_dot(c_bar, m, y=None, m_dot=None, y_dot=None, rowvar=True, bias=False, ddof=None):
    """One term of the change of (m̄, ȳ) = cov_bars(C̄, m, y) as m (or y) moves (C̄ fixed):
    X̄ = (C̄ + C̄ᵀ) X_c / (N − ddof) is linear in X, so the term is cov_bars at the moved
    argument's tangent, the other argument's place taken by zeros."""
    if m_dot is not None:
        moved_m = np.broadcast_to(m_dot, np.shape(m))
        moved_y = None if y is None else np.zeros(np.shape(y))
    else:
        moved_m = np.zeros(np.shape(m))
        moved_y = np.broadcast_to(y_dot, np.shape(y))
    m_part, y_part = cov_bars(c_bar, moved_m, moved_y, rowvar, bias, ddof)
    return m_part.astype(np.result_type(np.asarray(m), 1.0)), y_part


def bessel_i1_slope(x):
    """I₁′(x) = I₀(x) − I₁(x) / x, and ½ at x = 0."""
    x = np.asarray(x)
    at_zero = x == 0
    safe = np.where(at_zero, 1.0, x)
    return np.where(at_zero, 0.5, np.i0(x) - bessel_i1(x) / safe)


def vander_bar_dot(v_bar, x, x_dot, n=None, increasing=False):
    """The change of vander_bar(V̄, x) = Σⱼ V̄ᵢⱼ eⱼ xᵢ^(eⱼ−1) as x moves by ẋ (V̄ fixed):
    Σⱼ V̄ᵢⱼ eⱼ (eⱼ − 1) xᵢ^(eⱼ−2) ẋᵢ (the columns of exponents 0 and 1 give nothing)."""
    x = np.asarray(x)
    columns = x.shape[0] if n is None else n
    exponents = np.arange(columns, dtype=float)
    if not increasing:
        exponents = exponents[::-1]
    powers = x[:, None] ** np.maximum(exponents - 2, 0)
    curvature = np.where(exponents >= 2, exponents * (exponents - 1), 0.0) * powers
    return np.sum(v_bar * curvature, axis=1) * x_dot
