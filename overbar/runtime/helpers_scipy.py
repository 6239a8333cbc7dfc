"""Runtime helpers the adjoints of SciPy's functions call (imported only where SciPy is)."""

from __future__ import annotations

import numpy as np

from overbar.errors import NoDerivativeError


def convolution_embedded(z_bar, in1, in2, mode="full"):
    """The adjoint ``z_bar`` of ``scipy.signal.convolve(in1, in2, mode)`` placed where its
    elements sit in the full convolution (shape ``in1.shape + in2.shape - 1``), zeros elsewhere:
    the full convolution itself for ``mode="full"``; for ``"same"``, the centred part of
    ``in1``'s shape; for ``"valid"``, the part where the smaller input lies wholly inside the
    larger (one of them is at least as large as the other along every axis). Where an
    operand has no elements, z is 0 whatever the operands (``convolved_back``): zeros, as
    many as the full convolution has."""
    first, second = np.shape(in1), np.shape(in2)
    full = tuple(max(p + q - 1, 0) for p, q in zip(first, second, strict=True))
    if 0 in np.shape(in1) or 0 in np.shape(in2):
        return np.zeros(full, dtype=np.result_type(z_bar, 1.0))
    if mode == "full":
        return z_bar
    if mode == "same":
        offsets = tuple((f - p) // 2 for f, p in zip(full, first, strict=True))
    elif mode == "valid":
        offsets = tuple(min(p, q) - 1 for p, q in zip(first, second, strict=True))
    else:
        raise NoDerivativeError(
            f"scipy.signal.convolve with mode={mode!r}: overbar knows the modes 'full', 'same' "
            "and 'valid'"
        )
    z_bar = np.asarray(z_bar)
    placed = np.zeros(full, dtype=np.result_type(z_bar, 1.0))
    placed[tuple(slice(o, o + n) for o, n in zip(offsets, z_bar.shape, strict=True))] = z_bar
    return placed


def convolved_back(full_bar, other, operand, method="auto"):
    """The adjoint of one operand ``operand`` of a convolution whose other operand is
    ``other``, from the adjoint ``full_bar`` placed in the full convolution: the valid part of
    full_bar ∗ flip(other). Where either operand has no elements, every element of the
    convolution is a sum of no products, 0 whatever the operands: the adjoint is zeros of the
    operand's shape (SciPy convolves nothing with an empty array)."""
    from scipy import signal

    if 0 in np.shape(other) or 0 in np.shape(operand):
        return np.zeros(np.shape(operand), dtype=np.result_type(full_bar, other, 1.0))
    return signal.convolve(full_bar, np.flip(other), "valid", method)


def one_system(x_bar, a, b, function):
    """``x_bar``, once ``a`` is checked to be one matrix and ``b`` one vector or matrix: SciPy
    (1.15 on) reads the leading axes of a larger ``a`` or ``b`` as a batch of systems, which the
    rule of ``function`` (written for one system, its ``b`` reshaped to columns) does not
    differentiate; refused rather than mixing the batch into the columns."""
    if np.ndim(a) != 2 or np.ndim(b) > 2:
        raise NoDerivativeError(
            f"{function} of a batch of systems (a of shape {np.shape(a)}, b of shape "
            f"{np.shape(b)}): overbar differentiates one system at a time, a 2-d a and a 1-d "
            "or 2-d b (loop over the batch)"
        )
    return x_bar


def unbatched(value, arrays, function):
    """``value``, once each of ``arrays`` is checked to have at most two axes: SciPy (1.15 on)
    reads the leading axes of a larger array as a batch of problems, which the rule of
    ``function`` (written for one matrix, with ``.T`` and ``@`` of matrices) does not
    differentiate; refused rather than transposing across the batch."""
    shapes = [np.shape(array) for array in arrays]
    if any(len(shape) > 2 for shape in shapes):
        listed = ", ".join(str(shape) for shape in shapes)
        raise NoDerivativeError(
            f"{function} of a batch (arrays of shapes {listed}): overbar differentiates it "
            "for one matrix at a time (loop over the batch, or stack the results of calls "
            "on each matrix)"
        )
    return value


def covariance_matrix(cov):
    """The symmetric matrix of ``cov``'s lower triangle, the one SciPy's multivariate_normal
    reads (Σ = tril(cov) + tril(cov, −1)ᵀ); a covariance given as a number or a vector of
    variances is refused."""
    if np.ndim(cov) != 2:
        raise NoDerivativeError(
            "scipy.stats.multivariate_normal with a covariance given as a number or a vector: "
            "overbar differentiates it with a full covariance matrix (np.diag(variances))"
        )
    return np.tril(cov) + np.swapaxes(np.tril(cov, -1), -1, -2)


def _band_positions(shape, l_and_u):
    """The (row, column) of the matrix and the row of the band layout of each element of the
    band of an n × n matrix with l diagonals below and u above: A[i, j] = ab[u + i − j, j]."""
    lower, upper = (int(k) for k in l_and_u)
    n = shape[-1]
    rows, columns = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    inside = (rows - columns <= lower) & (columns - rows <= upper)
    return rows[inside], columns[inside], (upper + rows - columns)[inside]


def banded_matrix(ab, l_and_u):
    """The n × n matrix whose band ``ab`` holds in scipy.linalg.solve_banded's layout
    (A[i, j] = ab[u + i − j, j] for −u ≤ i − j ≤ l, zero elsewhere); a batch of bands
    refused (``unbatched``)."""
    unbatched(ab, (ab,), "scipy.linalg.solve_banded")
    rows, columns, band_rows = _band_positions(np.shape(ab), l_and_u)
    matrix = np.zeros((np.shape(ab)[-1],) * 2, dtype=np.result_type(ab, 1.0))
    matrix[rows, columns] = np.asarray(ab)[band_rows, columns]
    return matrix


def band_of(m, ab, l_and_u):
    """The band of the matrix ``m`` in the layout of ``ab`` (solve_banded's), zeros where ``ab``
    holds nothing of the matrix: the adjoint of ``banded_matrix``."""
    rows, columns, band_rows = _band_positions(np.shape(ab), l_and_u)
    band = np.zeros(np.shape(ab), dtype=np.result_type(m, 1.0))
    band[band_rows, columns] = np.asarray(m)[rows, columns]
    return band


def cho_columns(v, c):
    """``v`` (the right-hand side of ``cho_solve((c, lower), v)`` or its solution) as columns,
    n × k: a vector as one column. A stack of factors (``c`` of more than two axes) is refused:
    its right-hand sides' axes are ambiguous (n × k, or a stack of vectors)."""
    if np.ndim(c) != 2:
        raise NoDerivativeError(
            "scipy.linalg.cho_solve with a stack of factors (c of shape "
            f"{np.shape(c)}): overbar differentiates one n × n factor; loop over the stack"
        )
    return np.reshape(v, (np.shape(v)[0], -1))
