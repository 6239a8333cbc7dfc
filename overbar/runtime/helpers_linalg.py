"""Functions the linear-algebra rules (``rules_linalg.py``) call in the generated code.

Each takes plain NumPy values and works on stacks of matrices (the last two axes) as NumPy's
``linalg`` functions do. Where a derivative does not exist at the input (repeated eigenvalues
with eigenvector adjoints, a rank-deficient pseudo-inverse, a wide QR, ...) they raise
``NoDerivativeError`` rather than return a number.
"""

from __future__ import annotations

import functools
import math
import string
from typing import NamedTuple

import numpy as np

from overbar.errors import NoDerivativeError, OverbarError
from overbar.runtime.arrays import is_array, is_foreign_array, like
from overbar.runtime.arrays import shape as shape_of
from overbar.runtime.helpers import matmul_left_bar, matmul_right_bar, unbroadcast

# ---------------------------------------------------------------------------------------------
# Products: dot, inner, outer, vdot, tensordot, kron, multi_dot, cross, einsum
# ---------------------------------------------------------------------------------------------


def _as_column(v):
    return np.expand_dims(v, -1)


def _dot_axes(x, y) -> tuple[list[int], list[int]]:
    """np.dot(x, y) contracts x's last axis with y's second-to-last (a vector's only one)."""
    return [np.ndim(x) - 1], [max(np.ndim(y) - 2, 0)]


def dot_left_bar(z_bar, x, y):
    """For z = dot(x, y), the adjoint of x (numbers, vectors, matrices and N-d arrays)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(z_bar * y, x)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_left_bar(z_bar, x, y)
    return tensordot_bars(z_bar, x, y, _dot_axes(x, y))[0]


def dot_right_bar(z_bar, x, y):
    """For z = dot(x, y), the adjoint of y (numbers, vectors, matrices and N-d arrays)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(z_bar * x, y)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_right_bar(z_bar, x, y)
    return tensordot_bars(z_bar, x, y, _dot_axes(x, y))[1]


def inner_bars(z_bar, x, y):
    """For z = inner(x, y) (contracting the last axes), the adjoints of x and y."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(z_bar * y, x), unbroadcast(z_bar * x, y)
    x_lead, y_lead = np.ndim(x) - 1, np.ndim(y) - 1
    z_axes = np.ndim(z_bar)
    x_bar = np.tensordot(z_bar, y, axes=(list(range(x_lead, z_axes)), list(range(y_lead))))
    y_bar = np.tensordot(z_bar, x, axes=(list(range(x_lead)), list(range(x_lead))))
    return x_bar, y_bar


def outer_bars(z_bar, x, y):
    """For z = outer(x, y) (inputs flattened), the adjoints of x and y."""
    x_flat, y_flat = np.ravel(x), np.ravel(y)
    return (
        np.reshape(z_bar @ y_flat, np.shape(x)),
        np.reshape(x_flat @ z_bar, np.shape(y)),
    )


def trace_bar(y_bar, x, offset=0):
    """Adjoint of trace over the first two axes: ȳ on the (offset) diagonal."""
    shape = np.shape(x)
    diagonal = like(np.eye(shape[0], shape[1], k=offset), x)  # in x's library (Dask, CuPy)
    return np.reshape(diagonal, shape[:2] + (1,) * (len(shape) - 2)) * y_bar


def _axis_list(axes, ndim: int) -> list[int]:
    listed = [axes] if isinstance(axes, int | np.integer) else list(axes)
    return [int(axis) % ndim if ndim else int(axis) for axis in listed]


def tensordot_bars(z_bar, x, y, axes=2):
    """For z = tensordot(x, y, axes), the adjoints of x and y: ȳ contracted with the other
    operand over the axes it kept, each written as an einsum over named axes."""
    x_ndim, y_ndim = np.ndim(x), np.ndim(y)
    if isinstance(axes, int | np.integer):
        x_axes, y_axes = list(range(x_ndim - int(axes), x_ndim)), list(range(int(axes)))
    else:
        x_axes, y_axes = _axis_list(axes[0], x_ndim), _axis_list(axes[1], y_ndim)
    letters = iter(string.ascii_letters)
    x_labels = [next(letters) for _ in range(x_ndim)]
    y_labels = [next(letters) for _ in range(y_ndim)]
    for x_axis, y_axis in zip(x_axes, y_axes, strict=True):
        y_labels[y_axis] = x_labels[x_axis]
    z_labels = [c for k, c in enumerate(x_labels) if k not in x_axes]
    z_labels += [c for k, c in enumerate(y_labels) if k not in y_axes]
    x_text, y_text, z_text = ("".join(labels) for labels in (x_labels, y_labels, z_labels))
    x_bar = np.einsum(f"{z_text},{y_text}->{x_text}", z_bar, y)
    y_bar = np.einsum(f"{z_text},{x_text}->{y_text}", z_bar, x)
    return x_bar, y_bar


def kron_bars(z_bar, x, y):
    """For z = kron(x, y), the adjoints of x and y: z̄ seen with each axis split into (x's, y's)
    parts, contracted with the other operand (shapes read, never a coercion: another
    library's arrays stay its own)."""
    x_own, y_own = shape_of(x), shape_of(y)
    ndim = max(len(x_own), len(y_own))
    x_shape = (1,) * (ndim - len(x_own)) + x_own
    y_shape = (1,) * (ndim - len(y_own)) + y_own
    split = [size for pair in zip(x_shape, y_shape, strict=True) for size in pair]
    parts = np.reshape(z_bar, split)
    x_labels = string.ascii_lowercase[:ndim]
    y_labels = string.ascii_uppercase[:ndim]
    z_labels = "".join(a + b for a, b in zip(x_labels, y_labels, strict=True))
    x_bar = np.einsum(f"{z_labels},{y_labels}->{x_labels}", parts, np.reshape(y, y_shape))
    y_bar = np.einsum(f"{z_labels},{x_labels}->{y_labels}", parts, np.reshape(x, x_shape))
    return np.reshape(x_bar, x_own), np.reshape(y_bar, y_own)


def multi_dot_bars(z_bar, arrays):
    """For z = multi_dot(arrays) = A₁ A₂ ⋯ Aₖ:  Āᵢ = (A₁⋯Aᵢ₋₁)ᵀ z̄ (Aᵢ₊₁⋯Aₖ)ᵀ, a first or last
    vector taken as a row or a column. The empty products (before A₁, after Aₖ) are the
    identity, left out rather than made (a NumPy eye would not mix with another library's
    arrays). Two arrays NumPy multiplies as ``np.dot`` whatever their ranks (it checks for
    matrices only among three or more): so does the adjoint, where one has more than two
    axes."""
    matrices = [a if is_array(a) else np.asarray(a) for a in arrays]
    if len(matrices) == 2 and max(np.ndim(m) for m in matrices) > 2:
        first, second = matrices
        return dot_left_bar(z_bar, first, second), dot_right_bar(z_bar, first, second)
    if matrices[0].ndim == 1:
        matrices[0] = matrices[0][np.newaxis, :]
    if matrices[-1].ndim == 1:
        matrices[-1] = matrices[-1][:, np.newaxis]
    seed = np.reshape(z_bar, (matrices[0].shape[0], matrices[-1].shape[1]))
    foreign = [matrix for matrix in matrices if is_foreign_array(matrix)]
    if foreign and not is_foreign_array(seed):  # a scalar z̄ of NumPy's, into their library
        seed = like(seed, foreign[0])
    prefixes = [None]
    for matrix in matrices[:-1]:
        prefixes.append(matrix if prefixes[-1] is None else prefixes[-1] @ matrix)
    suffixes = [None]
    for matrix in reversed(matrices[1:]):
        suffixes.append(matrix if suffixes[-1] is None else matrix @ suffixes[-1])
    suffixes.reverse()
    bars = []
    for prefix, suffix, array in zip(prefixes, suffixes, arrays, strict=True):
        bar = seed if prefix is None else prefix.T @ seed
        bar = bar if suffix is None else bar @ suffix.T
        bars.append(np.reshape(bar, shape_of(array)))
    return tuple(bars)


def cross_bars(z_bar, x, y, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """For z = x × y (3-vectors, or 2-vectors giving the z component), along the given axes and
    broadcast over the others:  x̄ = y × z̄,  ȳ = z̄ × x."""
    if axis is not None:
        axisa = axisb = axisc = axis
    x_last, y_last = np.moveaxis(x, axisa, -1), np.moveaxis(y, axisb, -1)
    sizes = (x_last.shape[-1], y_last.shape[-1])
    if sizes == (3, 3):
        z_bar_last = np.moveaxis(z_bar, axisc, -1)
        x_bar = _cross3(y_last, z_bar_last)
        y_bar = _cross3(z_bar_last, x_last)
    elif sizes == (2, 2):
        g = np.expand_dims(z_bar, -1)
        x_bar = g * np.stack([y_last[..., 1], -y_last[..., 0]], axis=-1)
        y_bar = g * np.stack([-x_last[..., 1], x_last[..., 0]], axis=-1)
    else:
        raise NoDerivativeError(
            f"overbar differentiates np.cross of two 3-vectors or two 2-vectors, not of a "
            f"{sizes[0]}-vector and a {sizes[1]}-vector"
        )
    x_bar = np.moveaxis(unbroadcast(x_bar, x_last), -1, axisa)
    y_bar = np.moveaxis(unbroadcast(y_bar, y_last), -1, axisb)
    return x_bar, y_bar


def _cross3(u, v):
    """u × v along the last axis (3-vectors, broadcast over the others): np.cross for NumPy's
    arrays; its components written out for another library's, which may have no cross (Dask
    has none: NumPy would compute its arrays)."""
    if not (is_foreign_array(u) or is_foreign_array(v)):
        return np.cross(u, v)
    components = [
        u[..., i] * v[..., j] - u[..., j] * v[..., i] for i, j in ((1, 2), (2, 0), (0, 1))
    ]
    return np.stack(components, axis=-1)


def einsum_bars(subscripts, y_bar, operands, wanted=None):
    """Adjoints of every array of ``einsum(subscripts, *operands)``, or of the interleaved form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (there ``subscripts`` is the first array): the
    adjoint of ``subscripts`` (None for a string) and a tuple, one per operand (None for a
    sublist). ``wanted`` (one flag per entry of ``operands``; None: all) leaves out, as None,
    the adjoints of operands not wanted: each adjoint is its own contraction, so the others'
    are the same with or without it."""
    if wanted is None:
        wanted = (True,) * len(operands)
    if isinstance(subscripts, str):
        plans = _products_plan(subscripts, y_bar, operands)
        if plans is not None:  # each adjoint one matrix product, as BLAS computes it
            x, y = operands
            return None, (
                plans[0].run(y_bar, y) if wanted[0] else None,
                plans[1].run(y_bar, x) if wanted[1] else None,
            )
        arrays, inputs, output = list(operands), *_parse_einsum(subscripts, operands)
        return None, tuple(_einsum_operand_bars(inputs, output, y_bar, arrays, wanted))
    arrays, inputs, output = _parse_interleaved((subscripts, *operands))
    # operands = sublist, array, sublist, ..., array, sublist[, output sublist]
    wanted_arrays = (True, *(wanted[2 * k + 1] for k in range(len(arrays) - 1)))
    bars = _einsum_operand_bars(inputs, output, y_bar, arrays, wanted_arrays)
    rest = [None] * len(operands)
    for position, bar in enumerate(bars[1:]):
        rest[2 * position + 1] = bar
    return bars[0], tuple(rest)


class _MatrixProduct(NamedTuple):
    """einsum(a, b) of two arrays as one product of (stacks of) matrices: a's axes put in the
    order ``left`` and cut into a (batch, rows, inner) stack, b's in the order ``right`` as
    (batch, inner, columns), the product shaped back to ``joined`` and its axes put in the
    order ``result``. A batch of 1 is a plain product of matrices."""

    left: tuple
    right: tuple
    batch: int
    rows: int
    inner: int
    columns: int
    joined: tuple
    result: tuple

    def run(self, a, b):
        other = b.transpose(self.right)
        if type(a) is not np.ndarray:  # a number: a has no labels, the product is a b
            return (a * other.reshape(self.joined)).transpose(self.result)
        matrix = a.transpose(self.left)
        if self.inner == 1:  # (rows, 1) times (1, columns): the product by broadcasting
            product = matrix.reshape(self.batch, self.rows, 1) * other.reshape(
                self.batch, 1, self.columns
            )
        elif self.batch == 1:
            product = matrix.reshape(self.rows, self.inner) @ other.reshape(
                self.inner, self.columns
            )
        else:
            product = matrix.reshape(self.batch, self.rows, self.inner) @ other.reshape(
                self.batch, self.inner, self.columns
            )
        return product.reshape(self.joined).transpose(self.result)


def _products_plan(subscripts, y_bar, operands):
    """For ``z = einsum(subscripts, x, y)`` of two NumPy arrays where each label is in exactly
    two of x, y and z (a contracted or a free index) or in all three (a batch index), none
    repeated in one of them and every length equal where a label appears (no length 1
    broadcast): the plans of x̄ = einsum(z̄, y) and ȳ = einsum(z̄, x), each one product of
    (stacks of) matrices, the same contraction einsum would make, with BLAS (z̄ may be a
    number where z has no labels); None otherwise
    (an ellipsis, a label summed in one operand alone, a repeated label, three operands, a
    z̄ that is not an array: einsum's own contraction then)."""
    if len(operands) != 2 or "." in subscripts:
        return None
    if type(y_bar) is not np.ndarray and type(y_bar) not in (float, int, np.float64):
        return None
    x, y = operands
    if type(x) is not np.ndarray or type(y) is not np.ndarray:
        return None
    return _cached_products_plan(subscripts, x.shape, y.shape, np.shape(y_bar))


@functools.lru_cache(maxsize=512)
def _cached_products_plan(subscripts, x_shape, y_shape, z_shape):
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    labels = inputs.split(",")
    if len(labels) != 2:
        return None
    x_labels, y_labels = labels
    if not arrow:
        letters = x_labels + y_labels
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    every = x_labels + y_labels + output
    if any(every.count(c) not in (2, 3) for c in every):
        return None
    if any(len(set(t)) != len(t) for t in (x_labels, y_labels, output)):
        return None
    sizes = {}
    for text, shape in ((x_labels, x_shape), (y_labels, y_shape), (output, z_shape)):
        if len(text) != len(shape):
            return None
        for c, n in zip(text, shape, strict=True):
            if sizes.setdefault(c, n) != n:
                return None
    return (
        _matrix_product(output, y_labels, x_labels, sizes),
        _matrix_product(output, x_labels, y_labels, sizes),
    )


def _matrix_product(a_labels, b_labels, result_labels, sizes):
    """The plan of einsum(f"{a},{b}->{result}") where each label is in exactly two of them
    or in all three (a batch label)."""
    batch = [c for c in a_labels if c in b_labels and c in result_labels]
    summed = [c for c in a_labels if c in b_labels and c not in result_labels]
    free_a = [c for c in a_labels if c not in b_labels]
    free_b = [c for c in b_labels if c not in a_labels]
    joined = batch + free_a + free_b
    return _MatrixProduct(
        left=tuple(a_labels.index(c) for c in batch + free_a + summed),
        right=tuple(b_labels.index(c) for c in batch + summed + free_b),
        batch=math.prod(sizes[c] for c in batch),
        rows=math.prod(sizes[c] for c in free_a),
        inner=math.prod(sizes[c] for c in summed),
        columns=math.prod(sizes[c] for c in free_b),
        joined=tuple(sizes[c] for c in joined),
        result=tuple(joined.index(c) for c in result_labels),
    )


def _einsum_operand_bars(inputs, output, y_bar, operands, wanted):
    bars = []
    for i, (labels, operand) in enumerate(zip(inputs, operands, strict=True)):
        if not wanted[i]:
            bars.append(None)
            continue
        if 0 in np.shape(operand):  # no elements, whatever einsum makes of its labels' sizes
            bars.append(_no_elements(operand))
            continue
        others = [(inputs[j], operands[j]) for j in range(len(operands)) if j != i]
        available = set(output).union(*(set(s) for s, _ in others))
        unique = "".join(dict.fromkeys(labels))
        kept = "".join(c for c in unique if c in available)
        spec = ",".join([output] + [s for s, _ in others]) + "->" + kept
        partial = np.einsum(spec, y_bar, *[o for _, o in others])
        shape = np.shape(operand)
        label_sizes = dict(zip(labels, shape, strict=True))
        sizes = dict(zip(kept, np.shape(partial), strict=True))
        expanded = np.reshape(partial, [sizes.get(c, 1) for c in unique])
        # A label of size 1 here that einsum broadcast against a larger one elsewhere is
        # summed back; labels summed away in this operand alone come back by broadcasting.
        widened = tuple(
            k for k, c in enumerate(unique) if label_sizes[c] == 1 and sizes.get(c, 1) != 1
        )
        if widened:
            expanded = expanded.sum(axis=widened, keepdims=True)
        expanded = np.broadcast_to(expanded, [label_sizes[c] for c in unique])
        if len(unique) == len(labels):
            bars.append(expanded if expanded.shape == shape else np.broadcast_to(expanded, shape))
            continue
        # A label repeated in one operand reads its diagonal: the adjoint lies on it.
        bar = np.zeros(shape, dtype=np.result_type(expanded, 1.0))
        position = {c: k for k, c in enumerate(unique)}
        grids = np.indices(expanded.shape, sparse=True)
        bar[tuple(grids[position[c]] for c in labels)] = expanded
        bars.append(bar)
    return bars


_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _parse_einsum(subscripts, operands):
    """Each operand's labels and the output's, an ellipsis written out as fresh letters."""
    spec = subscripts.replace(" ", "")
    inputs_text, arrow, output = spec.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != len(operands):
        raise OverbarError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands")
    fresh = [c for c in _LETTERS if c not in spec]
    widest = 0
    for labels, operand in zip(inputs, operands, strict=True):
        if "..." in labels:
            widest = max(widest, np.ndim(operand) - len(labels.replace("...", "")))
    broadcast = "".join(fresh[:widest])
    written = []
    for labels, operand in zip(inputs, operands, strict=True):
        if "..." in labels:
            count = np.ndim(operand) - len(labels.replace("...", ""))
            labels = labels.replace("...", broadcast[widest - count :])
        written.append(labels)
    if not arrow:
        letters = inputs_text.replace(",", "").replace(".", "")
        output = broadcast + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return written, output.replace("...", broadcast)


def _parse_interleaved(arguments):
    """``(a, [0, 1], b, [1, 2], [0, 2])``: the arrays, then labels as for a string subscript."""
    arrays = list(arguments[0::2][: len(arguments) // 2])
    sublists = list(arguments[1::2])
    explicit = len(arguments) % 2 == 1
    if explicit:
        sublists.append(arguments[-1])

    def text(sublist):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sublist)

    inputs = ",".join(text(s) for s in sublists[: len(arrays)])
    spec = inputs + ("->" + text(sublists[-1]) if explicit else "")
    inputs, output = _parse_einsum(spec, arrays)
    return arrays, inputs, output


# ---------------------------------------------------------------------------------------------
# Solves, inverses and determinants, stacked
# ---------------------------------------------------------------------------------------------


def solve_bars(x_bar, x, a, b):
    """For x = solve(A, b) (stacks, a vector b broadcast over them):  b̄ = A⁻ᵀ x̄,  Ā = −b̄ xᵀ."""
    a_t = np.swapaxes(a, -1, -2)
    if np.ndim(b) == 1:
        b_bar = np.linalg.solve(a_t, _as_column(x_bar))[..., 0]
        a_bar = -_as_column(b_bar) * np.expand_dims(x, -2)
    else:
        b_bar = np.linalg.solve(a_t, x_bar)
        a_bar = -(b_bar @ np.swapaxes(x, -1, -2))
    return unbroadcast(a_bar, a), unbroadcast(b_bar, b)


def matrix_power_bar(y_bar, a, n):
    """For Y = Aⁿ:  Ā = Σₖ (Aᵀ)ᵏ Ȳ (Aᵀ)ⁿ⁻¹⁻ᵏ for n > 0; through B = A⁻¹ for n < 0; 0 for n = 0."""
    if n == 0:
        return np.zeros(np.shape(a), dtype=np.result_type(a, 1.0))
    if n < 0:
        inverse = np.linalg.inv(a)
        inverse_bar = matrix_power_bar(y_bar, inverse, -n)
        return -(inverse.mT @ inverse_bar @ inverse.mT)
    transposed = np.swapaxes(a, -1, -2)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ transposed)
    return sum(powers[k] @ y_bar @ powers[n - 1 - k] for k in range(n))


def matrix_power_bar_dot(y_bar, a, a_dot, n):
    """The change of matrix_power_bar(Ȳ, A, n) as A moves by Ȧ (Ȳ fixed): for n > 0, with
    T = Aᵀ,  Σₖ ((Tᵏ)˙ Ȳ Tⁿ⁻¹⁻ᵏ + Tᵏ Ȳ (Tⁿ⁻¹⁻ᵏ)˙), (Tʲ)˙ = matrix_power_dot(Ȧᵀ, T, j); for n < 0,
    through B = A⁻¹ (Ḃ = −B Ȧ B) and Ā = −Bᵀ B̄ Bᵀ:  −(Ḃᵀ B̄ Bᵀ + Bᵀ B̄̇ Bᵀ + Bᵀ B̄ Ḃᵀ); 0 for
    n = 0."""
    a_dot = np.broadcast_to(a_dot, np.shape(a))
    if n == 0:
        return np.zeros(np.shape(a), dtype=np.result_type(a, 1.0))
    if n < 0:
        inverse = np.linalg.inv(a)
        inverse_dot = -(inverse @ a_dot @ inverse)
        inverse_bar = matrix_power_bar(y_bar, inverse, -n)
        inverse_bar_dot = matrix_power_bar_dot(y_bar, inverse, inverse_dot, -n)
        return -(
            inverse_dot.mT @ inverse_bar @ inverse.mT
            + inverse.mT @ inverse_bar_dot @ inverse.mT
            + inverse.mT @ inverse_bar @ inverse_dot.mT
        )
    transposed, transposed_dot = np.swapaxes(a, -1, -2), np.swapaxes(a_dot, -1, -2)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ transposed)
    changes = [matrix_power_dot(transposed_dot, transposed, j) for j in range(n)]
    return sum(
        changes[k] @ y_bar @ powers[n - 1 - k] + powers[k] @ y_bar @ changes[n - 1 - k]
        for k in range(n)
    )


# ---------------------------------------------------------------------------------------------
# Factorisations: symmetric ones read one triangle
# ---------------------------------------------------------------------------------------------


def fold_to_triangle(m, lower=True):
    """A gradient M along symmetric directions, given to the triangle NumPy reads (the
    symmetric matrix is tril(A) + tril(A, −1)ᵀ):  Ā = tril(M) + tril(Mᵀ, −1), or for the upper
    triangle triu(M) + triu(Mᵀ, 1). On symmetric directions ⟨Ā, dA⟩ = ⟨M, dA⟩."""
    if lower:
        return np.tril(m) + np.tril(np.swapaxes(m, -1, -2), -1)
    return np.triu(m) + np.triu(np.swapaxes(m, -1, -2), 1)


def _reads_lower(uplo) -> bool:
    if uplo not in ("L", "U", "l", "u"):
        raise NoDerivativeError(f"UPLO must be 'L' or 'U', not {uplo!r}")
    return uplo in ("L", "l")


def cholesky_bar(factor_bar, factor, upper=False):
    """For L = cholesky(A):  M = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Φ: the lower triangle, diagonal halved),
    folded onto the triangle NumPy reads (the lower one; the upper one for ``upper=True``,
    where the result is Lᵀ)."""
    if upper:
        factor, factor_bar = np.swapaxes(factor, -1, -2), np.swapaxes(factor_bar, -1, -2)
    l_t = np.swapaxes(factor, -1, -2)
    product = l_t @ factor_bar
    phi = np.tril(product) - 0.5 * product * np.eye(np.shape(factor)[-1])
    left = np.linalg.solve(l_t, phi)  # L⁻ᵀ Φ
    m = np.swapaxes(np.linalg.solve(l_t, np.swapaxes(left, -1, -2)), -1, -2)  # L⁻ᵀ Φ L⁻¹
    return fold_to_triangle(m, lower=not upper)


def _eigenvalue_gaps(w):
    """gaps[..., i, j] = wⱼ − wᵢ."""
    return w[..., np.newaxis, :] - w[..., :, np.newaxis]


def _reads_repeated(gaps, off_diagonal, *vector_bars) -> bool:
    """Whether a vector of a repeated value (a column of U, V) has a nonzero adjoint."""
    repeated = np.any((gaps == 0) & off_diagonal, axis=-1)[..., np.newaxis, :]
    return any(np.any((bar != 0) & repeated) for bar in vector_bars)


def eigh_bar(w_bar, v_bar, w, v, uplo="L"):
    """For (w, V) = eigh(A):  M = V (diag w̄ + F ∘ Vᵀ V̄) Vᵀ,  Fᵢⱼ = 1 / (wⱼ − wᵢ) (0 for i = j),
    folded onto the triangle NumPy reads. Eigenvectors of a repeated eigenvalue are not unique
    (they jump with the direction of a perturbation): where one of them has a nonzero adjoint,
    this raises."""
    lower = _reads_lower(uplo)
    n = np.shape(w)[-1]
    off_diagonal = ~np.eye(n, dtype=bool)
    gaps = _eigenvalue_gaps(w)
    projected = np.swapaxes(v, -1, -2) @ v_bar
    if _reads_repeated(gaps, off_diagonal, v_bar):
        raise NoDerivativeError(
            "np.linalg.eigh: the result depends on the eigenvectors of a repeated eigenvalue, "
            "which have no derivative (they are not unique)"
        )
    safe = np.where(off_diagonal & (gaps != 0), gaps, 1.0)
    f = np.where(off_diagonal & (gaps != 0), 1.0 / safe, 0.0)
    inner = np.eye(n) * w_bar[..., np.newaxis, :] + f * projected
    m = v @ inner @ np.swapaxes(v, -1, -2)
    return fold_to_triangle(m, lower)


def _turns(w, w_dot, function: str):
    """F and its change Ḟ as w moves by ẇ: Fᵢⱼ = 1 / (wⱼ − wᵢ), Ḟᵢⱼ = −Fᵢⱼ² (ẇⱼ − ẇᵢ) off
    the diagonal (0 on it; Ḟ = 0 for ẇ None). Refused at a repeated eigenvalue, where F is
    unbounded: the eigenvectors' adjoints there have no derivative."""
    n = np.shape(w)[-1]
    off_diagonal = ~np.eye(n, dtype=bool)
    gaps = _eigenvalue_gaps(w)
    if np.any(off_diagonal & _indistinct(w)):
        raise NoDerivativeError(
            f"the second derivative of {function} at a repeated eigenvalue (its eigenvectors "
            "have no derivative there)"
        )
    f = np.where(off_diagonal, 1.0 / np.where(off_diagonal, gaps, 1.0), 0.0)
    if w_dot is None:
        return f, 0.0
    return f, -f * f * _eigenvalue_gaps(np.broadcast_to(w_dot, np.shape(w)))


def eigh_bar_dot(w_bar, v_bar, w, v, w_dot, v_dot, uplo="L"):
    """The change of eigh_bar(w̄, V̄, w, V) = fold(V (diag w̄ + F ∘ Vᵀ V̄) Vᵀ) as w moves by ẇ
    and V by V̇ (either None where it stays), w̄ and V̄ fixed: with inner = diag w̄ + F ∘ Vᵀ V̄,

        fold(V̇ inner Vᵀ + V inner V̇ᵀ + V (F ∘ V̇ᵀ V̄ + Ḟ ∘ Vᵀ V̄) Vᵀ),  Ḟᵢⱼ = −Fᵢⱼ² (ẇⱼ − ẇᵢ)

    (refused at a repeated eigenvalue)."""
    lower = _reads_lower(uplo)
    f, f_dot = _turns(w, w_dot, "np.linalg.eigh")
    v_t = np.swapaxes(v, -1, -2)
    projected = v_t @ v_bar
    n = np.shape(w)[-1]
    change = f_dot * projected
    total = v @ change @ v_t
    if v_dot is not None:
        v_dot = np.broadcast_to(v_dot, np.shape(v))
        inner = np.eye(n) * w_bar[..., np.newaxis, :] + f * projected
        total = total + v_dot @ inner @ v_t + v @ inner @ np.swapaxes(v_dot, -1, -2)
        total = total + v @ (f * (np.swapaxes(v_dot, -1, -2) @ v_bar)) @ v_t
    return fold_to_triangle(total, lower)


def eig_bar_dot(w_bar, v_bar, w, v, w_dot, v_dot):
    """The change of eig_bar(w̄, V̄, w, V) = V⁻ᵀ inner Vᵀ, inner = diag w̄ + F ∘ (P − K) with
    P = Vᵀ V̄ and K = Vᵀ V diag(P), as w moves by ẇ and V by V̇ (either None where it stays),
    w̄ and V̄ fixed:

        V⁻ᵀ (inneṙ Vᵀ + inner V̇ᵀ − V̇ᵀ V⁻ᵀ inner Vᵀ),
        inneṙ = Ḟ ∘ (P − K) + F ∘ (Ṗ − (V̇ᵀ V + Vᵀ V̇) diag(P) − Vᵀ V diag(Ṗ)),  Ṗ = V̇ᵀ V̄

    (refused at a repeated eigenvalue; complex ones are refused by eig_bar)."""
    _refuse_complex_eigenvalues(w, "np.linalg.eig")
    f, f_dot = _turns(w, w_dot, "np.linalg.eig")
    n = np.shape(w)[-1]
    v_t = np.swapaxes(v, -1, -2)
    projected = v_t @ v_bar
    diagonal = np.diagonal(projected, axis1=-2, axis2=-1)[..., np.newaxis, :]
    kept_norms = v_t @ v * diagonal
    inner_dot = f_dot * (projected - kept_norms)
    if v_dot is None:
        return np.linalg.solve(v_t, inner_dot @ v_t)
    v_dot = np.broadcast_to(v_dot, np.shape(v))
    v_dot_t = np.swapaxes(v_dot, -1, -2)
    projected_dot = v_dot_t @ v_bar
    diagonal_dot = np.diagonal(projected_dot, axis1=-2, axis2=-1)[..., np.newaxis, :]
    gram_dot = v_dot_t @ v + v_t @ v_dot
    inner_dot = inner_dot + f * (projected_dot - gram_dot * diagonal - v_t @ v * diagonal_dot)
    inner = np.eye(n) * w_bar[..., np.newaxis, :] + f * (projected - kept_norms)
    result = np.linalg.solve(v_t, inner @ v_t)  # V⁻ᵀ inner Vᵀ
    return np.linalg.solve(v_t, inner_dot @ v_t + inner @ v_dot_t - v_dot_t @ result)


def _refuse_complex_eigenvalues(w, function: str) -> None:
    if np.iscomplexobj(w):
        raise OverbarError(
            f"{function} of a matrix with complex eigenvalues: overbar differentiates real "
            "numbers only (a real matrix whose eigenvalues are all real, such as a triangular "
            "one or a product of a symmetric one with a positive definite one, is accepted)"
        )


def eig_bar(w_bar, v_bar, w, v):
    """For (w, V) = eig(A) with real w and V (unit columns):
    Ā = V⁻ᵀ (diag w̄ + F ∘ (Vᵀ V̄ − Vᵀ V diag(Vᵀ V̄))) Vᵀ,  Fᵢⱼ = 1 / (wⱼ − wᵢ) (0 for i = j).
    Complex eigenvalues are refused; eigenvectors of a repeated eigenvalue are not unique, and
    where one of them has a nonzero adjoint, this raises."""
    _refuse_complex_eigenvalues(w, "np.linalg.eig")
    n = np.shape(w)[-1]
    off_diagonal = ~np.eye(n, dtype=bool)
    gaps = _eigenvalue_gaps(w)
    if _reads_repeated(gaps, off_diagonal, v_bar):
        raise NoDerivativeError(
            "np.linalg.eig: the result depends on the eigenvectors of a repeated eigenvalue, "
            "which have no derivative (they are not unique)"
        )
    v_t = np.swapaxes(v, -1, -2)
    projected = v_t @ v_bar
    kept_norms = v_t @ v * np.diagonal(projected, axis1=-2, axis2=-1)[..., np.newaxis, :]
    safe = np.where(off_diagonal & (gaps != 0), gaps, 1.0)
    f = np.where(off_diagonal & (gaps != 0), 1.0 / safe, 0.0)
    inner = np.eye(n) * w_bar[..., np.newaxis, :] + f * (projected - kept_norms)
    return np.linalg.solve(v_t, inner @ v_t)


def eig_dots(a_dot, y):
    """For (w, V) = eig(A) with real w and V (unit columns), P = V⁻¹ Ȧ V:

        ẇ = diag P,   V̇ = V (F ∘ P − diag(Vᵀ V (F ∘ P)) ... ) made to keep each column's norm

    that is V̇ = C − V diag(Vᵀ C) with C = V (F ∘ P), Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0 (the
    transpose of ``eig_bar``). Complex eigenvalues are refused; at a repeated eigenvalue V̇ is a
    ``NoTangent``, which raises where it is used (ẇ stays)."""
    w, v = y[0], y[1]
    _refuse_complex_eigenvalues(w, "np.linalg.eig")
    projected = np.linalg.solve(v, a_dot @ v)
    w_dot = np.diagonal(projected, axis1=-2, axis2=-1)
    if _has_repeated(w):
        return w_dot, NoTangent(
            "np.linalg.eig: the result depends on the eigenvectors of a repeated eigenvalue, "
            "which have no derivative (they are not unique); np.linalg.eigvals gives the "
            "eigenvalues alone"
        )
    off_diagonal = ~np.eye(np.shape(w)[-1], dtype=bool)
    gaps = _inverse_gaps(_eigenvalue_gaps(w), off_diagonal).astype(projected.dtype, copy=False)
    c = v @ (gaps * projected)
    kept_norms = np.sum(v * c, axis=-2, keepdims=True)  # vᵢᵀ cᵢ per column
    return w_dot, c - v * kept_norms


def eigvals_dot(a_dot, a):
    """For w = eigvals(A) with real w:  ẇ = diag(V⁻¹ Ȧ V) (complex eigenvalues refused)."""
    w, v = np.linalg.eig(a)
    _refuse_complex_eigenvalues(w, "np.linalg.eigvals")
    return np.diagonal(np.linalg.solve(v, a_dot @ v), axis1=-2, axis2=-1)


def eigvals_bar(w_bar, a):
    """For w = eigvals(A) with real w:  Ā = V⁻ᵀ diag(w̄) Vᵀ, V A's eigenvectors (complex
    eigenvalues refused)."""
    w, v = np.linalg.eig(a)
    _refuse_complex_eigenvalues(w, "np.linalg.eigvals")
    v_t = np.swapaxes(v, -1, -2)
    return np.linalg.solve(v_t, w_bar[..., :, np.newaxis] * v_t)


def eigvalsh_bar(w_bar, a, uplo="L"):
    """For w = eigvalsh(A):  M = V diag(w̄) Vᵀ, folded onto the triangle NumPy reads. At a
    repeated eigenvalue the sorted eigenvalues have a kink (as sort has at ties): unless w̄ is
    equal across the repeated ones, this is the gradient for LAPACK's eigenvectors there."""
    lower = _reads_lower(uplo)
    _, v = np.linalg.eigh(a, UPLO=uplo)
    m = (v * w_bar[..., np.newaxis, :]) @ np.swapaxes(v, -1, -2)
    return fold_to_triangle(m, lower)


def _indistinct(values):
    """Where two of ``values`` (eigenvalues or singular values along the last axis) cannot be
    told apart in floating point: [..., i, j] true where |vⱼ − vᵢ| ≤ n ε max |v| (the rank
    tolerance of np.linalg.matrix_rank), the diagonal included."""
    n = np.shape(values)[-1]
    scale = np.max(np.abs(values), axis=-1, keepdims=True)[..., np.newaxis]
    tolerance = n * np.finfo(np.result_type(values, 1.0)).eps * scale
    return np.abs(_eigenvalue_gaps(values)) <= tolerance


def _divided_differences(w_bar, w, function: str):
    """Dᵢⱼ = (w̄ⱼ − w̄ᵢ) / (wⱼ − wᵢ) for i ≠ j, 0 on the diagonal and wherever w̄ⱼ = w̄ᵢ: how
    V diag(w̄) V⁻¹ turns as the eigenvectors V of a matrix with eigenvalues w move. At a repeated
    eigenvalue whose w̄ differ, it has no derivative (the eigenvectors jump with the direction of
    the perturbation): refused."""
    n = np.shape(w)[-1]
    off_diagonal = ~np.eye(n, dtype=bool)
    gaps = _eigenvalue_gaps(w)
    rises = _eigenvalue_gaps(w_bar) * np.ones_like(gaps)
    if np.any(off_diagonal & _indistinct(w) & (rises != 0)):
        raise NoDerivativeError(
            f"the second derivative of {function} at a repeated eigenvalue (the adjoint turns "
            "with its eigenvectors, which have no derivative there)"
        )
    moving = off_diagonal & (rises != 0)
    return np.where(moving, rises / np.where(moving, gaps, 1.0), 0.0)


def eigvals_bar_dot(w_bar, a, a_dot):
    """The change of Ā = eigvals_bar(w̄, A) = V⁻ᵀ diag(w̄) Vᵀ as A moves by Ȧ (w̄ fixed): with
    P = V⁻¹ Ȧ V, V̇ = V (F ∘ P) up to columns' scales (which cancel in V diag(w̄) V⁻¹), so
    (V diag(w̄) V⁻¹)˙ = V (D ∘ P) V⁻¹, Dᵢⱼ = (w̄ⱼ − w̄ᵢ) / (wⱼ − wᵢ), and Ā̇ = its transpose
    (complex eigenvalues refused, repeated ones where their w̄ differ)."""
    w, v = np.linalg.eig(a)
    _refuse_complex_eigenvalues(w, "np.linalg.eigvals")
    projected = np.linalg.solve(v, a_dot @ v)
    turned = _divided_differences(w_bar, w, "np.linalg.eigvals") * projected
    v_t = np.swapaxes(v, -1, -2)
    return np.linalg.solve(v_t, np.swapaxes(turned, -1, -2) @ v_t)


def eigvalsh_bar_dot(w_bar, a, a_dot, uplo="L"):
    """The change of eigvalsh_bar(w̄, A) = V diag(w̄) Vᵀ (folded onto the triangle NumPy
    reads) as A moves by Ȧ (w̄ fixed): with Ṡ the symmetric matrix of Ȧ's triangle and
    C = Vᵀ Ṡ V, V̇ = V (F ∘ C), so the change is V (D ∘ C) Vᵀ, Dᵢⱼ = (w̄ⱼ − w̄ᵢ) / (wⱼ − wᵢ),
    folded alike (refused at a repeated eigenvalue whose w̄ differ)."""
    lower = _reads_lower(uplo)
    w, v = np.linalg.eigh(a, UPLO=uplo)
    a_dot = np.broadcast_to(a_dot, np.shape(a))
    triangle = np.tril(a_dot) if lower else np.triu(a_dot)
    symmetric = triangle + np.swapaxes(triangle, -1, -2) - triangle * np.eye(np.shape(a)[-1])
    projected = np.swapaxes(v, -1, -2) @ symmetric @ v
    turned = _divided_differences(w_bar, w, "np.linalg.eigvalsh") * projected
    return fold_to_triangle(v @ turned @ np.swapaxes(v, -1, -2), lower)


def singular_values_bar_dot(s_bar, a, a_dot, function="np.linalg.svd"):
    """The change of U diag(s̄) Vᵀ (reduced factors of A = U S Vᵀ, A m × n) as A moves by Ȧ
    (s̄ fixed). With P = Uᵀ Ȧ V, U̇ = U (F ∘ (P S + S Pᵀ)) + (I − U Uᵀ) Ȧ V S⁻¹ and
    V̇ = V (F ∘ (S P + Pᵀ S)) + (I − V Vᵀ) Ȧᵀ U S⁻¹, Fᵢⱼ = 1 / (sⱼ² − sᵢ²), so

        (U diag(s̄) Vᵀ)˙ = U (Pᵢⱼ αᵢⱼ + Pⱼᵢ βᵢⱼ) Vᵀ + (I − U Uᵀ) Ȧ V diag(s̄ / s) Vᵀ
                          + U diag(s̄ / s) Uᵀ Ȧ (I − V Vᵀ),

    αᵢⱼ = (s̄ⱼ sⱼ − s̄ᵢ sᵢ) / (sⱼ² − sᵢ²) = s̄ⱼ / (sᵢ + sⱼ) + (s̄ⱼ − s̄ᵢ) sᵢ / (sⱼ² − sᵢ²) and
    βᵢⱼ = (s̄ⱼ sᵢ − s̄ᵢ sⱼ) / (sⱼ² − sᵢ²) = −s̄ⱼ / (sᵢ + sⱼ) + (s̄ⱼ − s̄ᵢ) sⱼ / (sⱼ² − sᵢ²) off the
    diagonal (0 on it). Refused where it has no derivative: a repeated singular value whose s̄
    differ, two singular values 0, a singular value 0 with s̄ ≠ 0 (a kink, as of |x| at 0);
    "repeated" and "0" up to the rank tolerance of np.linalg.matrix_rank (n ε sₘₐₓ)."""
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    v = np.swapaxes(vt, -1, -2)
    a_dot = np.broadcast_to(a_dot, np.shape(a))
    s_bar = np.broadcast_to(s_bar, np.shape(sv))
    k = np.shape(sv)[-1]
    off_diagonal = ~np.eye(k, dtype=bool)
    total_s = sv[..., :, np.newaxis] + sv[..., np.newaxis, :]
    square_gaps = _eigenvalue_gaps(sv * sv)
    rises = _eigenvalue_gaps(s_bar)
    if np.any(off_diagonal & (total_s == 0)) or np.any(
        off_diagonal & _indistinct(sv) & (rises != 0)
    ):
        raise NoDerivativeError(
            f"the second derivative of {function} at a repeated singular value (its singular "
            "vectors have no derivative there)"
        )
    largest = np.max(sv, axis=-1, keepdims=True)
    vanishing = sv <= max(np.shape(a)[-2:]) * np.finfo(np.result_type(sv, 1.0)).eps * largest
    if np.any(vanishing & (s_bar != 0)):
        raise NoDerivativeError(
            f"the second derivative of {function} at a singular value 0 (it has a kink there, "
            "as |x| has at 0, and its singular vectors jump)"
        )
    moving = off_diagonal & (rises != 0)
    turn = np.where(moving, rises / np.where(moving, square_gaps, 1.0), 0.0)
    shared = np.where(
        off_diagonal, s_bar[..., np.newaxis, :] / np.where(off_diagonal, total_s, 1.0), 0.0
    )
    alpha = shared + turn * sv[..., :, np.newaxis]
    beta = -shared + turn * sv[..., np.newaxis, :]
    p = np.swapaxes(u, -1, -2) @ a_dot @ v
    total = u @ (p * alpha + np.swapaxes(p, -1, -2) * beta) @ vt
    m, n = np.shape(a)[-2:]
    if m != n:
        scale = np.where(s_bar != 0, s_bar / np.where(s_bar != 0, sv, 1.0), 0.0)
        if m > n:
            rest = a_dot @ v - u @ (np.swapaxes(u, -1, -2) @ a_dot @ v)  # (I − U Uᵀ) Ȧ V
            total = total + (rest * scale[..., np.newaxis, :]) @ vt
        else:
            rest = np.swapaxes(u, -1, -2) @ a_dot - (np.swapaxes(u, -1, -2) @ a_dot @ v) @ vt
            total = total + (u * scale[..., np.newaxis, :]) @ rest
    return total


def _refuse_hermitian(function: str, hermitian) -> None:
    if hermitian:
        raise NoDerivativeError(
            f"overbar does not differentiate {function}(..., hermitian=True); "
            "call it without hermitian"
        )


def singular_values_bar(s_bar, a, hermitian=False):
    """For s = svd(A, compute_uv=False):  Ā = U diag(s̄) Vᵀ (the reduced factors). At a
    repeated or zero singular value this is one subgradient, that of LAPACK's vectors."""
    _refuse_hermitian("np.linalg.svd", hermitian)
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    return (u * s_bar[..., np.newaxis, :]) @ vt


def svd_bar(y_bar, y, a, hermitian=False):
    """For (U, s, Vᵀ) = svd(A) (A m×n, k = min(m, n), distinct nonzero singular values where U
    or V has an adjoint):

        Ā = U [(F ∘ (UᵀŪ − ŪᵀU)) S + diag s̄ + S (F ∘ (VᵀV̄ − V̄ᵀV))] Vᵀ
            + (I − UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ),   Fᵢⱼ = 1 / (sⱼ² − sᵢ²)

    Of ``full_matrices=True`` with m ≠ n, the columns of U (rows of Vᵀ) past k are not unique:
    they may have no adjoint."""
    _refuse_hermitian("np.linalg.svd", hermitian)
    if not isinstance(y, tuple):
        raise NoDerivativeError(
            "np.linalg.svd with compute_uv given as a variable: write compute_uv=False or leave "
            "it out, so that overbar knows whether the result is a tuple"
        )
    u, s, vt = y
    u_bar, s_bar, vt_bar = y_bar
    k = np.shape(s)[-1]
    extra = (u_bar[..., :, k:], vt_bar[..., k:, :])
    if any(np.any(part != 0) for part in extra):
        raise NoDerivativeError(
            "np.linalg.svd(A) of a non-square A: the result depends on the columns of U (or rows "
            "of Vᵀ) past min(m, n), which are not unique; use full_matrices=False"
        )
    u, u_bar = u[..., :, :k], u_bar[..., :, :k]
    v, v_bar = np.swapaxes(vt[..., :k, :], -1, -2), np.swapaxes(vt_bar[..., :k, :], -1, -2)
    m_rows, n_columns = np.shape(a)[-2:]
    u_t, v_t = np.swapaxes(u, -1, -2), np.swapaxes(v, -1, -2)
    eye = np.eye(k)
    off_diagonal = ~np.eye(k, dtype=bool)
    square_gaps = _eigenvalue_gaps(s * s)
    u_term = u_t @ u_bar
    u_term = u_term - np.swapaxes(u_term, -1, -2)
    v_term = v_t @ v_bar
    v_term = v_term - np.swapaxes(v_term, -1, -2)
    if _reads_repeated(square_gaps, off_diagonal, u_bar, v_bar):
        raise NoDerivativeError(
            "np.linalg.svd: the result depends on the singular vectors of a repeated singular "
            "value, which have no derivative (they are not unique)"
        )
    safe = np.where(off_diagonal & (square_gaps != 0), square_gaps, 1.0)
    f = np.where(off_diagonal & (square_gaps != 0), 1.0 / safe, 0.0)
    s_row = s[..., np.newaxis, :]  # X S scales the columns of X; S X its rows
    s_column = s[..., :, np.newaxis]
    inner = (f * u_term) * s_row + eye * s_bar[..., np.newaxis, :] + s_column * (f * v_term)
    a_bar = u @ inner @ v_t
    projects_u = m_rows > k and np.any(u_bar != 0)
    projects_v = n_columns > k and np.any(v_bar != 0)
    # a singular value NumPy's matrix_rank counts as zero (rounding makes it 1e-16, not 0)
    cutoff = np.max(s, axis=-1, keepdims=True) * max(m_rows, n_columns) * np.finfo(float).eps
    if (projects_u or projects_v) and np.any(s <= cutoff):
        raise NoDerivativeError(
            "np.linalg.svd of a rank-deficient matrix: its singular vectors have no derivative"
        )
    if projects_u:
        a_bar = a_bar + (u_bar - u @ (u_t @ u_bar)) / s_row @ v_t
    if projects_v:
        v_bar_t = np.swapaxes(v_bar, -1, -2)
        a_bar = a_bar + (u / s_row) @ (v_bar_t - (v_bar_t @ v) @ v_t)
    return a_bar


def svd_bar_dot(y_bar, y, a, y_dot, hermitian=False):
    """The change of svd_bar((Ū, s̄, V̄ᵀ), (U, s, Vᵀ), A) as (U, s, Vᵀ) move by (U̇, ṡ, V̇ᵀ), the
    adjoints fixed, by the product rule on its formula (U, V, Ū, V̄ cut to k = min(m, n)
    columns, S = diag s, Ḟᵢⱼ = −Fᵢⱼ² (2 sⱼ ṡⱼ − 2 sᵢ ṡᵢ)):

        inner = (F ∘ (UᵀŪ − ŪᵀU)) S + diag s̄ + S (F ∘ (VᵀV̄ − V̄ᵀV)),   Ā = U inner Vᵀ + …
        inneṙ = (Ḟ ∘ (UᵀŪ − ŪᵀU) + F ∘ (U̇ᵀŪ − ŪᵀU̇)) S + (F ∘ (UᵀŪ − ŪᵀU)) Ṡ
                + Ṡ (F ∘ (VᵀV̄ − V̄ᵀV)) + S (Ḟ ∘ (VᵀV̄ − V̄ᵀV) + F ∘ (V̇ᵀV̄ − V̄ᵀV̇))
        Ā̇ = U̇ inner Vᵀ + U inneṙ Vᵀ + U inner V̇ᵀ + the changes of (I − UUᵀ) Ū S⁻¹ Vᵀ and
            U S⁻¹ V̄ᵀ (I − VVᵀ) where svd_bar has them.

    Refused at a repeated singular value where Ū or V̄ is not zero (F is unbounded there), and
    where svd_bar refuses."""
    svd_bar(y_bar, y, a, hermitian)  # raises where svd_bar refuses
    u, s, vt = y
    u_bar, s_bar, vt_bar = y_bar
    u_dot, s_dot, vt_dot = (np.broadcast_to(t, np.shape(p)) for t, p in zip(y_dot, y, strict=True))
    k = np.shape(s)[-1]
    u, u_bar, u_dot = u[..., :, :k], u_bar[..., :, :k], u_dot[..., :, :k]
    v, v_bar, v_dot = (np.swapaxes(t[..., :k, :], -1, -2) for t in (vt, vt_bar, vt_dot))
    m_rows, n_columns = np.shape(a)[-2:]
    u_t, v_t, u_dot_t, v_dot_t = (np.swapaxes(t, -1, -2) for t in (u, v, u_dot, v_dot))
    u_bar_t, v_bar_t = np.swapaxes(u_bar, -1, -2), np.swapaxes(v_bar, -1, -2)
    off_diagonal = ~np.eye(k, dtype=bool)
    if np.any(off_diagonal & _indistinct(s)) and (np.any(u_bar != 0) or np.any(v_bar != 0)):
        raise NoDerivativeError(
            "the second derivative of np.linalg.svd at a repeated singular value (its singular "
            "vectors have no derivative there)"
        )
    f = np.where(off_diagonal, 1.0 / np.where(off_diagonal, _eigenvalue_gaps(s * s), 1.0), 0.0)
    f_dot = -f * f * _eigenvalue_gaps(2 * s * s_dot)
    u_term, v_term = u_t @ u_bar - u_bar_t @ u, v_t @ v_bar - v_bar_t @ v
    u_term_dot, v_term_dot = u_dot_t @ u_bar - u_bar_t @ u_dot, v_dot_t @ v_bar - v_bar_t @ v_dot
    s_row, s_column = s[..., np.newaxis, :], s[..., :, np.newaxis]
    s_dot_row, s_dot_column = s_dot[..., np.newaxis, :], s_dot[..., :, np.newaxis]
    inner = (f * u_term) * s_row + np.eye(k) * s_bar[..., np.newaxis, :] + s_column * (f * v_term)
    inner_dot = (
        (f_dot * u_term + f * u_term_dot) * s_row
        + (f * u_term) * s_dot_row
        + s_dot_column * (f * v_term)
        + s_column * (f_dot * v_term + f * v_term_dot)
    )
    total = u_dot @ inner @ v_t + u @ inner_dot @ v_t + u @ inner @ v_dot_t
    if m_rows > k and np.any(u_bar != 0):  # (I − UUᵀ) Ū S⁻¹ Vᵀ
        rest = u_bar - u @ (u_t @ u_bar)
        rest_dot = -(u_dot @ (u_t @ u_bar) + u @ (u_dot_t @ u_bar))
        total = total + (rest_dot / s_row - rest * s_dot_row / s_row**2) @ v_t
        total = total + (rest / s_row) @ v_dot_t
    if n_columns > k and np.any(v_bar != 0):  # U S⁻¹ V̄ᵀ (I − VVᵀ)
        rest = v_bar_t - (v_bar_t @ v) @ v_t
        rest_dot = -((v_bar_t @ v_dot) @ v_t + (v_bar_t @ v) @ v_dot_t)
        total = total + (u_dot / s_row - u * s_dot_row / s_row**2) @ rest
        total = total + (u / s_row) @ rest_dot
    return total


def _refuse_rank_deficient_pinv(a, rcond=None, rtol=None) -> None:
    singular_values = np.linalg.svd(a, compute_uv=False)
    size = max(np.shape(a)[-2:])
    tolerance = rcond if rcond is not None else rtol if rtol is not None else 1e-15
    tolerance = np.maximum(tolerance, size * np.finfo(np.result_type(a, 1.0)).eps)
    cutoff = np.asarray(tolerance)[..., np.newaxis] * np.max(singular_values, -1, keepdims=True)
    if np.any(singular_values <= cutoff):
        raise NoDerivativeError(
            "np.linalg.pinv of a rank-deficient matrix: the pseudo-inverse is not continuous "
            "there, so it has no derivative"
        )


def pinv_bar(x_bar, x, a, rcond=None, hermitian=False, rtol=None):
    """For X = A⁺ of a full-rank A:  Ā = −Xᵀ X̄ Xᵀ + (I − A X) X̄ᵀ X Xᵀ + Xᵀ X X̄ᵀ (I − X A).
    Where NumPy's cut-off drops a singular value, A⁺ jumps: that raises."""
    _refuse_hermitian("np.linalg.pinv", hermitian)
    _refuse_rank_deficient_pinv(a, rcond, rtol)
    x_t, x_bar_t = np.swapaxes(x, -1, -2), np.swapaxes(x_bar, -1, -2)
    first = -(x_t @ x_bar @ x_t)
    left = x_bar_t @ x @ x_t
    second = left - a @ (x @ left)
    right = x_t @ x @ x_bar_t
    third = right - (right @ x) @ a
    return first + second + third


def pinv_bar_dot(x_bar, x, a, x_dot, a_dot):
    """The change of pinv_bar(X̄, X, A) = −Xᵀ X̄ Xᵀ + (I − A X) X̄ᵀ X Xᵀ + Xᵀ X X̄ᵀ (I − X A) as X
    moves by Ẋ and A by Ȧ (either None where it stays), X̄ fixed, term by term:

        −Ẋᵀ X̄ Xᵀ − Xᵀ X̄ Ẋᵀ − (Ȧ X + A Ẋ) X̄ᵀ X Xᵀ + (I − A X) X̄ᵀ (Ẋ Xᵀ + X Ẋᵀ)
        + (Ẋᵀ X + Xᵀ Ẋ) X̄ᵀ (I − X A) − Xᵀ X X̄ᵀ (Ẋ A + X Ȧ)."""
    x_t, x_bar_t = np.swapaxes(x, -1, -2), np.swapaxes(x_bar, -1, -2)
    total = 0.0
    if a_dot is not None:
        a_dot = np.broadcast_to(a_dot, np.shape(a))
        total = total - a_dot @ x @ x_bar_t @ x @ x_t - x_t @ x @ x_bar_t @ x @ a_dot
    if x_dot is not None:
        x_dot = np.broadcast_to(x_dot, np.shape(x))
        x_dot_t = np.swapaxes(x_dot, -1, -2)
        total = total - x_dot_t @ x_bar @ x_t - x_t @ x_bar @ x_dot_t
        spread = x_dot @ x_t + x @ x_dot_t  # (X Xᵀ)˙
        total = (
            total - a @ x_dot @ x_bar_t @ x @ x_t + x_bar_t @ spread - a @ (x @ (x_bar_t @ spread))
        )
        gram = x_dot_t @ x + x_t @ x_dot  # (Xᵀ X)˙
        total = total + gram @ x_bar_t - ((gram @ x_bar_t) @ x) @ a
        total = total - x_t @ x @ x_bar_t @ x_dot @ a
    return total


def cholesky_bar_dot(factor_bar, factor, factor_dot, upper=False):
    """The change of cholesky_bar(L̄, L) = fold(M), M = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, as L moves by L̇ (L̄
    fixed):  Ṁ = −L⁻ᵀ L̇ᵀ M + L⁻ᵀ Φ(L̇ᵀ L̄) L⁻¹ − M L̇ L⁻¹, folded alike (Φ: the lower triangle,
    diagonal halved; for ``upper=True`` all of it of the transposes, as there)."""
    if upper:
        factor, factor_bar = np.swapaxes(factor, -1, -2), np.swapaxes(factor_bar, -1, -2)
        factor_dot = np.swapaxes(factor_dot, -1, -2)
    factor_dot = np.broadcast_to(factor_dot, np.shape(factor))
    n = np.shape(factor)[-1]
    l_t = np.swapaxes(factor, -1, -2)

    def sandwiched(phi):  # L⁻ᵀ Φ L⁻¹
        left = np.linalg.solve(l_t, phi)
        return np.swapaxes(np.linalg.solve(l_t, np.swapaxes(left, -1, -2)), -1, -2)

    def halved_lower(product):
        return np.tril(product) - 0.5 * product * np.eye(n)

    m = sandwiched(halved_lower(l_t @ factor_bar))
    l_dot_t = np.swapaxes(factor_dot, -1, -2)
    first = -np.linalg.solve(l_t, l_dot_t @ m)
    middle = sandwiched(halved_lower(l_dot_t @ factor_bar))
    last = -np.swapaxes(np.linalg.solve(l_t, np.swapaxes(m @ factor_dot, -1, -2)), -1, -2)
    return fold_to_triangle(first + middle + last, lower=not upper)


def _refuse_qr_without_derivative(q, r, mode: str) -> None:
    """``NoDerivativeError`` where (Q, R) = qr(A) has no derivative, or not the one the rules
    give: another mode, a wide A (R's last columns are not determined by a triangular solve),
    mode='complete' of a tall A (Q's last columns are not unique), a rank-deficient A (a
    diagonal element of R that rounding leaves for 0: Q's columns past its rank are not
    determined by A; found by the fuzzer: the solve by R gave a finite, wrong gradient, and
    later a wrong jvp)."""
    if mode not in ("reduced", "complete", "r"):
        raise NoDerivativeError(f"overbar does not differentiate np.linalg.qr mode={mode!r}")
    rows, columns = np.shape(q)[-2], np.shape(r)[-1]
    if rows < columns:
        raise NoDerivativeError(
            "np.linalg.qr of a wide matrix (more columns than rows): R's last columns are not "
            "determined by a triangular solve; overbar differentiates square and tall matrices"
        )
    if np.shape(q)[-1] != columns:  # mode="complete" of a tall matrix
        raise NoDerivativeError(
            "np.linalg.qr(A, mode='complete') of a tall A: Q's last columns are not unique; "
            "use mode='reduced'"
        )
    diagonal = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    cutoff = np.max(diagonal, axis=-1, keepdims=True) * max(rows, columns) * np.finfo(float).eps
    if np.any(diagonal <= cutoff):
        raise NoDerivativeError(
            "np.linalg.qr of a rank-deficient matrix: Q's columns past its rank have no "
            "derivative"
        )


def qr_bar(q_bar, r_bar, q, r, mode="reduced"):
    """For (Q, R) = qr(A), A m×n with m ≥ n (reduced: Q m×n, R n×n):

    M = R R̄ᵀ − Q̄ᵀ Q,   Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ,   copyltu(M) = tril(M) + tril(M, −1)ᵀ

    A rank-deficient A (R singular) has no derivative: that raises.
    """
    _refuse_qr_without_derivative(q, r, mode)
    m = r @ np.swapaxes(r_bar, -1, -2) - np.swapaxes(q_bar, -1, -2) @ q
    copied = np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)
    b = q_bar + q @ copied
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(b, -1, -2)), -1, -2)


def qr_bar_dot(q_bar, r_bar, q, r, q_dot, r_dot, mode="reduced"):
    """The change of qr_bar(Q̄, R̄, Q, R) = B R⁻ᵀ, B = Q̄ + Q copyltu(M), M = R R̄ᵀ − Q̄ᵀ Q, as Q
    moves by Q̇ and R by Ṙ (either None where it stays), Q̄ and R̄ fixed:

        Ṁ = Ṙ R̄ᵀ − Q̄ᵀ Q̇,   Ḃ = Q̇ copyltu(M) + Q copyltu(Ṁ),   (B R⁻ᵀ)˙ = (Ḃ − Ā Ṙᵀ) R⁻ᵀ

    (refused where qr_bar refuses: a wide or rank-deficient matrix, mode='complete')."""
    a_bar = qr_bar(q_bar, r_bar, q, r, mode)  # its refusals, and Ā = B R⁻ᵀ

    def copyltu(m):
        return np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)

    q_bar_t = np.swapaxes(q_bar, -1, -2)
    m = r @ np.swapaxes(r_bar, -1, -2) - q_bar_t @ q
    m_dot, b_dot = 0.0, 0.0
    if q_dot is not None:
        q_dot = np.broadcast_to(q_dot, np.shape(q))
        m_dot = m_dot - q_bar_t @ q_dot
        b_dot = b_dot + q_dot @ copyltu(m)
    if r_dot is not None:
        r_dot = np.broadcast_to(r_dot, np.shape(r))
        m_dot = m_dot + r_dot @ np.swapaxes(r_bar, -1, -2)
        b_dot = b_dot - a_bar @ np.swapaxes(r_dot, -1, -2)
    b_dot = b_dot + q @ copyltu(m_dot)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(b_dot, -1, -2)), -1, -2)


# ---------------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------------


def _no_elements(x):
    """The adjoint of an array ``x`` with no elements: an array of its shape, with none, in
    its floating dtype."""
    return np.zeros(np.shape(x), dtype=np.result_type(x, 1.0))


def _share_among_ties(scores, axis):
    """1 / (number of winners) at the largest of ``scores`` along ``axis``, 0 elsewhere."""
    winners = scores == np.max(scores, axis=axis, keepdims=True)
    return winners / np.sum(winners, axis=axis, keepdims=True)


def norm_bar(y_bar, y, x, ord=None, axis=None, keepdims=False):
    """Adjoint of norm(x, ord, axis, keepdims), for every ord NumPy takes.

    Vector norms:  2 (None): x̄ = ȳ x / y;  p: x̄ = ȳ sign(x) |x|ᵖ⁻¹ / yᵖ⁻¹;  1: x̄ = ȳ sign(x);
    ±inf: x̄ = ȳ sign(x) at the largest (smallest) |xᵢ|, shared among ties;  0: x̄ = 0.
    Matrix norms:  'fro' (None): X̄ = ȳ X / y;  'nuc': X̄ = ȳ U Vᵀ;  ±2: X̄ = ȳ u vᵀ for the
    largest (smallest) singular value;  ±1 (±inf): X̄ = ȳ sign(X) in the columns (rows) of
    largest (smallest) absolute sum, shared among ties.

    At a kink the result is one subgradient, not a derivative: sign(0) = 0 for an element at 0
    (1 and p-norms), the pair of singular vectors LAPACK gives first for a repeated extreme
    singular value (±2), U Vᵀ of the reduced factors for a rank-deficient matrix ('nuc'); the
    2-norm and Frobenius norm of zero are 0 / 0 (nan), as for ord=None. Of an x with no
    elements (whose norm NumPy gives as 0, or as inf for ord -1) the adjoint has no elements
    either.
    """
    x = np.asarray(x)
    if x.size == 0:
        return _no_elements(x)
    if axis is None:
        axes = tuple(range(x.ndim))  # NumPy takes ord only of vectors and matrices here
    else:
        axes = tuple(int(a) % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    if not keepdims:
        y_bar = np.expand_dims(y_bar, axes) if axes else y_bar
        y = np.expand_dims(y, axes) if axes else y
    y_bar, y = np.asarray(y_bar), np.asarray(y)
    if ord is None or ord == "fro" or (ord == 2 and len(axes) == 1):
        return y_bar * x / y
    if len(axes) == 1:
        return y_bar * _vector_norm_bar(x, y, ord, axes[0])
    moved = np.moveaxis(x, axes, (-2, -1))
    unit = _matrix_norm_bar(moved, ord)
    return y_bar * np.moveaxis(unit, (-2, -1), axes)


def norm_bar_dot(y_bar, y, x, y_dot, x_dot, ord=None, axis=None, keepdims=False):
    """The change of x̄ = norm_bar(ȳ, y, x, ord, ...) as y moves by ẏ and x by ẋ (either None
    where it stays), ȳ fixed:

    2 and Frobenius (x̄ = ȳ x / y):  −ȳ x ẏ / y² + ȳ ẋ / y;
    p (x̄ = ȳ sign(x) |x|ᵖ⁻¹ y¹⁻ᵖ):  (1 − p) x̄ ẏ / y + ȳ (p − 1) |x|ᵖ⁻² ẋ / yᵖ⁻¹, refused at an
    xᵢ = 0 that moves when p < 2 (|x|ᵖ⁻¹ has no derivative there);
    1, ±inf and the matrix ±1, ±inf (x̄ = ȳ sign(x) on the chosen elements, constant where
    it has a derivative):  0, refused at an element 0 that moves (sign jumps there) and at
    ties of the largest (smallest) magnitude or sum (the choice jumps there);  0:  0.
    The matrix 'nuc' and ±2 norms' second derivatives (of U Vᵀ, u vᵀ) are refused. Of an x
    with no elements, no elements."""
    x = np.asarray(x)
    if x.size == 0:
        return _no_elements(x)
    if axis is None:
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(int(a) % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    if not keepdims and axes:
        y_bar, y = np.expand_dims(y_bar, axes), np.expand_dims(y, axes)
        y_dot = None if y_dot is None else np.expand_dims(y_dot, axes)
    y_bar, y = np.asarray(y_bar), np.asarray(y)
    total = np.zeros(np.broadcast_shapes(x.shape, y_bar.shape), dtype=np.result_type(x, 1.0))
    if ord is None or ord == "fro" or (ord == 2 and len(axes) == 1):
        if y_dot is not None:
            total = total - y_bar * x * y_dot / y**2
        if x_dot is not None:
            total = total + y_bar * x_dot / y
        return total
    if len(axes) == 2 and ord in ("nuc", 2, -2):  # x̄ = ȳ U diag(s̄) Vᵀ, s̄ = 1 or one-hot
        if x_dot is None:
            return total
        moved = np.moveaxis(x, axes, (-2, -1))
        moved_dot = np.moveaxis(np.broadcast_to(x_dot, x.shape), axes, (-2, -1))
        weights = np.ones(min(moved.shape[-2:]))
        if ord != "nuc":
            weights = np.zeros_like(weights)
            weights[0 if ord == 2 else -1] = 1.0
        turned = singular_values_bar_dot(weights, moved, moved_dot, "np.linalg.norm")
        return total + y_bar * np.moveaxis(turned, (-2, -1), axes)
    moving = None if x_dot is None else np.broadcast_to(x_dot, x.shape) != 0
    if len(axes) == 1 and ord not in (0, 1, np.inf, -np.inf):
        p = float(ord)
        if y_dot is not None:
            total = total + (1 - p) * y_bar * _vector_norm_bar(x, y, ord, axes[0]) * y_dot / y
        if x_dot is not None:
            if p < 2 and np.any(moving & (x == 0)):
                raise NoDerivativeError(
                    f"the second derivative of np.linalg.norm with ord={ord!r} at an element 0"
                )
            magnitude = np.where(x == 0, 0.0 if p > 2 else 1.0, np.abs(x))
            total = total + y_bar * (p - 1) * magnitude ** (p - 2) * x_dot / y ** (p - 1)
        return total
    if moving is None or ord == 0:
        return total
    if np.any(moving & (x == 0)):
        raise NoDerivativeError(
            f"the second derivative of np.linalg.norm with ord={ord!r} at an element 0"
        )
    if len(axes) == 1:
        scores = np.abs(x) if ord == np.inf else -np.abs(x) if ord == -np.inf else None
        along = axes[0]
    else:
        moved = np.moveaxis(x, axes, (-2, -1))
        along = -1 if ord in (1, -1) else -2
        scores = np.sum(np.abs(moved), axis=-2 if ord in (1, -1) else -1, keepdims=True)
        scores = scores if ord in (1, np.inf) else -scores
    if scores is not None:
        winners = scores == np.max(scores, axis=along, keepdims=True)
        if np.any(np.sum(winners, axis=along) > 1):
            raise NoDerivativeError(
                f"the second derivative of np.linalg.norm with ord={ord!r} where the largest "
                "magnitudes or sums tie"
            )
    return total


def _vector_norm_bar(x, y, ord, axis):
    if ord == np.inf or ord == -np.inf:
        magnitude = np.abs(x) if ord == np.inf else -np.abs(x)
        return np.sign(x) * _share_among_ties(magnitude, axis)
    if ord == 0:
        return np.zeros(x.shape)
    if ord == 1:
        return np.sign(x)
    return np.sign(x) * (np.abs(x) / y) ** (ord - 1)


def _matrix_norm_bar(x, ord):
    """The gradient of a matrix norm of the last two axes, for ȳ = 1."""
    if ord == "nuc":
        u, _, vt = np.linalg.svd(x, full_matrices=False)
        return u @ vt
    if ord in (2, -2):
        u, _, vt = np.linalg.svd(x, full_matrices=False)
        k = 0 if ord == 2 else -1
        return u[..., :, k, np.newaxis] * vt[..., np.newaxis, k, :]
    if ord in (1, -1):
        sums = np.sum(np.abs(x), axis=-2, keepdims=True)  # a column's
        return np.sign(x) * _share_among_ties(sums if ord == 1 else -sums, -1)
    if ord in (np.inf, -np.inf):
        sums = np.sum(np.abs(x), axis=-1, keepdims=True)  # a row's
        return np.sign(x) * _share_among_ties(sums if ord == np.inf else -sums, -2)
    raise NoDerivativeError(f"np.linalg.norm of a matrix with ord={ord!r}")


# ---------------------------------------------------------------------------------------------
# Tangents (forward mode): the same derivatives, applied to an input's tangent
# ---------------------------------------------------------------------------------------------


class NoTangent:
    """The tangent of a part of a tuple result that has no derivative at this input (the
    eigenvectors of a repeated eigenvalue, U's columns past min(m, n) of a full SVD): any use
    of it raises ``NoDerivativeError`` with the reason, so a function that reads only the
    other parts (``w, v = eigh(A)`` then ``w`` alone) still has its derivative, and one that
    reads this part is refused rather than given a number."""

    __slots__ = ("reason",)
    __array_priority__ = 1e9

    def __init__(self, reason: str):
        object.__setattr__(self, "reason", reason)

    def refuse(self, *args, **kwargs):
        raise NoDerivativeError(self.reason)

    def __getattr__(self, name):
        raise NoDerivativeError(self.reason)

    def __repr__(self) -> str:
        return f"NoTangent({self.reason!r})"

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise NoDerivativeError(self.reason)

    def __array_function__(self, function, types, args, kwargs):
        raise NoDerivativeError(self.reason)


_REFUSED_OPERATIONS = (
    "__array__",
    "__getitem__",
    "__setitem__",
    "__iter__",
    "__len__",
    "__float__",
    "__int__",
    "__bool__",
    "__neg__",
    "__pos__",
    "__abs__",
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__matmul__",
    "__rmatmul__",
    "__pow__",
    "__rpow__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
)
for _name in _REFUSED_OPERATIONS:
    setattr(NoTangent, _name, NoTangent.refuse)


def cross_term(x, y, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """x × y for one operand's tangent and the other operand, as np.cross computes it (3-vectors,
    or 2-vectors giving the z component x₀y₁ − x₁y₀), refused for other sizes as ``cross_bars``
    refuses them."""
    if axis is not None:
        axisa = axisb = axisc = axis
    x_last, y_last = np.moveaxis(x, axisa, -1), np.moveaxis(y, axisb, -1)
    sizes = (x_last.shape[-1], y_last.shape[-1])
    if sizes == (2, 2):  # written out: np.cross warns that 2-vectors are deprecated
        return x_last[..., 0] * y_last[..., 1] - x_last[..., 1] * y_last[..., 0]
    if sizes != (3, 3):
        raise NoDerivativeError(
            f"overbar differentiates np.cross of two 3-vectors or two 2-vectors, not of a "
            f"{sizes[0]}-vector and a {sizes[1]}-vector"
        )
    return np.moveaxis(np.cross(x_last, y_last), -1, axisc)


def multi_dot_dot(z, arrays, arrays_dot):
    """For z = multi_dot(A₁, …, Aₖ):  ż = Σᵢ multi_dot(A₁, …, Ȧᵢ, …, Aₖ), leaving out the
    terms whose tangent is zero (an element that does not vary)."""
    total = np.zeros(np.shape(z), dtype=np.result_type(z, 1.0))
    for i, array_dot in enumerate(arrays_dot):
        if not np.any(array_dot):
            continue
        total = total + np.linalg.multi_dot([*arrays[:i], array_dot, *arrays[i + 1 :]])
    return total


def einsum_operands_dot(y, subscripts, operands, operands_dot, optimize=False):
    """For y = einsum(s, A₁, …, Aₖ) (multilinear):  ẏ = Σᵢ einsum(s, A₁, …, Ȧᵢ, …, Aₖ) over
    the arrays of ``operands`` (in the interleaved form ``einsum(A₁, l₁, A₂, l₂, …)`` the
    arrays after the first, which is ``subscripts``; the sublists' tangents are ignored),
    leaving out the terms whose tangent is zero."""
    if isinstance(subscripts, str):
        positions = range(len(operands))
    else:  # operands = l₁, A₂, l₂, …, Aₖ, lₖ[, output sublist]
        positions = range(1, 2 * ((len(operands) + 1) // 2 - 1), 2)
    total = np.zeros(np.shape(y), dtype=np.result_type(y, 1.0))
    for i in positions:
        if not np.any(operands_dot[i]):
            continue
        replaced = (*operands[:i], operands_dot[i], *operands[i + 1 :])
        total = total + np.einsum(subscripts, *replaced, optimize=optimize)
    return total


def multi_dot_bars_dot(z_bar, arrays, arrays_dot):
    """The change of (Ā₁, …, Āₖ) = multi_dot_bars(z̄, arrays) as the arrays move by their
    tangents (z̄ fixed). Āᵢ is linear in each Aⱼ, j ≠ i, and does not read Aᵢ, so
    (Ā₁, …, Āₖ)˙ = Σⱼ multi_dot_bars(z̄, A₁, …, Ȧⱼ, …, Aₖ) with its j-th adjoint left out (zeros),
    leaving out the terms whose tangent is zero."""
    total = tuple(np.zeros(np.shape(a), dtype=np.result_type(a, z_bar, 1.0)) for a in arrays)
    for j, array_dot in enumerate(arrays_dot):
        if not np.any(array_dot):
            continue
        moved = multi_dot_bars(z_bar, [*arrays[:j], array_dot, *arrays[j + 1 :]])
        total = tuple(
            t + m if i != j else t for i, (t, m) in enumerate(zip(total, moved, strict=True))
        )
    return total


def einsum_bars_dot(subscripts, y_bar, operands, subscripts_dot, operands_dot, wanted=None):
    """The change of einsum_bars(subscripts, ȳ, operands, wanted) as its arrays move by their
    tangents (``subscripts_dot`` for the first array of the interleaved form, ``operands_dot``
    for the others; None where they stay), ȳ fixed. Each operand's adjoint is linear in every
    other operand and does not read its own, so the change is Σⱼ einsum_bars with the j-th
    array replaced by its tangent and the j-th adjoint left out (zeros), over the arrays whose
    tangent is not zero; an adjoint not wanted stays None, as einsum_bars leaves it."""
    arguments = (subscripts, *operands)
    if operands_dot is None:
        operands_dot = (None,) * len(operands)
    if wanted is None:
        wanted = (True,) * len(operands)
    tangents = (subscripts_dot, *operands_dot)
    if isinstance(subscripts, str):
        positions = range(1, len(arguments))
    else:  # subscripts = A₁, then l₁, A₂, l₂, …, Aₖ, lₖ[, output sublist]
        positions = range(0, 2 * (len(arguments) // 2), 2)
    asked = (True, *wanted)
    zeros = [
        None if k not in positions or not asked[k] else np.zeros(np.shape(a))
        for k, a in enumerate(arguments)
    ]
    total = (zeros[0], tuple(zeros[1:]))
    for j in positions:
        if tangents[j] is None or not np.any(tangents[j]):
            continue
        moved = (*arguments[:j], tangents[j], *arguments[j + 1 :])
        first, rest = einsum_bars(moved[0], y_bar, moved[1:], wanted)
        bars = [first, *rest]
        bars[j] = None
        total = (
            _plus(total[0], bars[0]),
            tuple(_plus(t, b) for t, b in zip(total[1], bars[1:], strict=True)),
        )
    return total


def solve_bars_dot(x_bar, x, a, b, a_dot):
    """The change of (Ā, b̄) = solve_bars(x̄, x, A, b) as A moves by Ȧ (x̄, x fixed): b̄ = A⁻ᵀ x̄
    moves by −A⁻ᵀ Ȧᵀ b̄ and Ā = −b̄ xᵀ by −(that) xᵀ, that is minus solve_bars(Ȧᵀ b̄, x, A, b)
    (b̄ before it is summed to b's shape)."""
    a_t = np.swapaxes(a, -1, -2)
    a_dot_t = np.swapaxes(np.broadcast_to(a_dot, np.shape(a)), -1, -2)
    if np.ndim(b) == 1:
        b_bar = np.linalg.solve(a_t, _as_column(x_bar))
        moved = (a_dot_t @ b_bar)[..., 0]
    else:
        moved = a_dot_t @ np.linalg.solve(a_t, x_bar)
    a_bar_dot, b_bar_dot = solve_bars(moved, x, a, b)
    return -a_bar_dot, -b_bar_dot


def _plus(a, b):
    """a + b where None (a sublist's or a string's adjoint, or one left out) adds nothing."""
    return a if b is None else b if a is None else a + b


def matrix_power_dot(a_dot, a, n):
    """For Y = Aⁿ:  Ẏ = Σₖ₌₀ⁿ⁻¹ Aᵏ Ȧ Aⁿ⁻¹⁻ᵏ for n > 0; for n < 0 the same of B = A⁻¹ with
    Ḃ = −B Ȧ B; Ẏ = 0 for n = 0."""
    if n == 0:
        return np.zeros(np.shape(a), dtype=np.result_type(a, 1.0))
    if n < 0:
        inverse = np.linalg.inv(a)
        return matrix_power_dot(-(inverse @ a_dot @ inverse), inverse, -n)
    identity = np.eye(np.shape(a)[-1], dtype=np.result_type(a, 1.0))
    powers = [np.broadcast_to(identity, np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    return sum(powers[k] @ a_dot @ powers[n - 1 - k] for k in range(n))


def solve_matrix_term(a_dot, x, a, b):
    """For x = solve(A, b), the term of A's tangent:  −A⁻¹ Ȧ x, shaped like x (b a vector, a
    matrix, or a stack of either)."""
    if np.ndim(b) == 1:
        return -np.linalg.solve(a, a_dot @ _as_column(x))[..., 0]
    return -np.linalg.solve(a, a_dot @ x)


def norm_gradient(y, x, ord=None, axis=None, keepdims=False):
    """∂‖x‖/∂x for norm(x, ord, axis, keepdims), the gradient ``norm_bar`` gives at ȳ = 1, in
    x's float dtype."""
    gradient = norm_bar(np.ones_like(y), y, x, ord, axis, keepdims)
    return np.asarray(gradient, dtype=np.result_type(x, 1.0))


def trace_of_solve(a, a_dot):
    """tr(A⁻¹ Ȧ) over the last two axes (the tangent of log |det A|)."""
    return np.trace(np.linalg.solve(a, a_dot), axis1=-2, axis2=-1)


def pinv_dot(a_dot, x, a, rcond=None, hermitian=False, rtol=None):
    """For X = A⁺ of a full-rank A:  Ẋ = −X Ȧ X + X Xᵀ Ȧᵀ (I − A X) + (I − X A) Ȧᵀ Xᵀ X.
    Refused where ``pinv_bar`` refuses (a singular value below NumPy's cut-off, hermitian)."""
    _refuse_hermitian("np.linalg.pinv", hermitian)
    _refuse_rank_deficient_pinv(a, rcond, rtol)
    x_t, a_dot_t = np.swapaxes(x, -1, -2), np.swapaxes(a_dot, -1, -2)
    first = -(x @ a_dot @ x)
    left = x @ (x_t @ a_dot_t)
    second = left - (left @ a) @ x
    right = a_dot_t @ (x_t @ x)
    third = right - x @ (a @ right)
    return first + second + third


def symmetric_from_triangle(t, lower=True):
    """The symmetric matrix NumPy's symmetric factorisations see in ``t``: its lower triangle
    mirrored, tril(T) + tril(T, −1)ᵀ (or its upper one, triu(T) + triu(T, 1)ᵀ). It is the
    transpose of ``fold_to_triangle``: ⟨M, S(T)⟩ = ⟨fold(M), T⟩."""
    if lower:
        return np.tril(t) + np.swapaxes(np.tril(t, -1), -1, -2)
    return np.triu(t) + np.swapaxes(np.triu(t, 1), -1, -2)


def cholesky_dot(a_dot, factor, upper=False):
    """For L = cholesky(A), A = L Lᵀ:  L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Φ the lower triangle with its
    diagonal halved, Ȧ the symmetric matrix of the triangle NumPy reads (for ``upper=True``
    the result is U = Lᵀ, and U̇ = L̇ᵀ)."""
    symmetric = symmetric_from_triangle(a_dot, lower=not upper)
    if upper:
        factor = np.swapaxes(factor, -1, -2)
    left = np.linalg.solve(factor, symmetric)  # L⁻¹ Ȧ
    middle = np.linalg.solve(factor, np.swapaxes(left, -1, -2))  # L⁻¹ Ȧ L⁻ᵀ (symmetric)
    phi = np.tril(middle) - 0.5 * middle * np.eye(np.shape(factor)[-1], dtype=bool)
    factor_dot = factor @ phi
    return np.swapaxes(factor_dot, -1, -2) if upper else factor_dot


def _inverse_gaps(gaps, off_diagonal):
    """Fᵢⱼ = 1 / gapsᵢⱼ off the diagonal where the gap is not zero, 0 elsewhere."""
    usable = off_diagonal & (gaps != 0)
    return np.where(usable, 1.0 / np.where(usable, gaps, 1.0), 0.0)


def _has_repeated(values) -> bool:
    """Whether two of the values (the last axis) are equal to rounding, |wᵢ − wⱼ| ≤ n ε max|w|:
    a matrix with a repeated eigenvalue comes out of LAPACK with values apart by rounding. Their
    vectors have no derivative along any direction: where the direction splits them, the basis
    LAPACK returns turns to the one that diagonalises it; where it does not, it is left to the
    higher orders (and to rounding)."""
    n = np.shape(values)[-1]
    gaps = np.abs(_eigenvalue_gaps(values))
    scale = np.max(np.abs(values), axis=-1)[..., np.newaxis, np.newaxis]
    tolerance = n * np.finfo(np.result_type(values, 1.0)).eps * scale
    return bool(np.any((gaps <= tolerance) & ~np.eye(n, dtype=bool)))


def eigh_dots(a_dot, y, uplo="L"):
    """For (w, V) = eigh(A), with P = Vᵀ Ȧ V (Ȧ the symmetric matrix of the triangle read):

        ẇ = diag P,   V̇ = V (F ∘ P),   Fᵢⱼ = 1 / (wⱼ − wᵢ), Fᵢᵢ = 0

    At a repeated eigenvalue the eigenvectors have no derivative: V̇ is then a ``NoTangent``,
    which raises where it is used (ẇ stays)."""
    w, v = y[0], y[1]
    symmetric = symmetric_from_triangle(a_dot, _reads_lower(uplo))
    v_t = np.swapaxes(v, -1, -2)
    projected = v_t @ symmetric @ v
    w_dot = np.diagonal(projected, axis1=-2, axis2=-1)
    off_diagonal = ~np.eye(np.shape(w)[-1], dtype=bool)
    gaps = _eigenvalue_gaps(w)
    if _has_repeated(w):
        v_dot = NoTangent(
            "np.linalg.eigh: the result depends on the eigenvectors of a repeated eigenvalue, "
            "which have no derivative (they are not unique); np.linalg.eigvalsh gives the "
            "eigenvalues alone"
        )
    else:
        v_dot = v @ (_inverse_gaps(gaps, off_diagonal) * projected)
    return w_dot, v_dot


def eigvalsh_dot(a_dot, a, uplo="L"):
    """For w = eigvalsh(A):  ẇ = diag(Vᵀ Ȧ V), Ȧ the symmetric matrix of the triangle read
    (at a repeated eigenvalue: for LAPACK's eigenvectors, as ``eigvalsh_bar``)."""
    lower = _reads_lower(uplo)
    _, v = np.linalg.eigh(a, UPLO=uplo)
    symmetric = symmetric_from_triangle(a_dot, lower)
    return np.einsum("...ji,...jk,...ki->...i", v, symmetric, v)


def singular_values_dot(a_dot, a, hermitian=False):
    """For s = svd(A, compute_uv=False):  ṡ = diag(Uᵀ Ȧ V) (the reduced factors; at a repeated
    or zero singular value, for LAPACK's vectors, as ``singular_values_bar``)."""
    _refuse_hermitian("np.linalg.svd", hermitian)
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    return np.einsum("...ji,...jk,...ik->...i", u, a_dot, vt)


def svd_dots(a_dot, y, a, hermitian=False):
    """For (U, s, Vᵀ) = svd(A), A m×n, k = min(m, n), with P = Uᵀ Ȧ V of the reduced factors:

        ṡ = diag P,   U̇ = U (F ∘ (P S + S Pᵀ)) + (I − UUᵀ) Ȧ V S⁻¹,
        V̇ = V (F ∘ (S P + Pᵀ S)) + (I − VVᵀ) Ȧᵀ U S⁻¹,   Fᵢⱼ = 1 / (sⱼ² − sᵢ²), Fᵢᵢ = 0

    U̇ (V̇ᵀ) is a ``NoTangent``, raising where it is used, where it does not exist: a repeated
    singular value, the columns past k of a full U (rows of Vᵀ), a
    rank-deficient A whose U (V) has columns past k to project on."""
    _refuse_hermitian("np.linalg.svd", hermitian)
    if not isinstance(y, tuple):
        raise NoDerivativeError(
            "np.linalg.svd with compute_uv given as a variable: write compute_uv=False or leave "
            "it out, so that overbar knows whether the result is a tuple"
        )
    u_full, s, vt_full = y[0], y[1], y[2]
    k = np.shape(s)[-1]
    m_rows, n_columns = np.shape(a)[-2:]
    u, v = u_full[..., :, :k], np.swapaxes(vt_full[..., :k, :], -1, -2)
    u_t, v_t = np.swapaxes(u, -1, -2), np.swapaxes(v, -1, -2)
    projected = u_t @ a_dot @ v
    s_dot = np.diagonal(projected, axis1=-2, axis2=-1)
    s_row, s_column = s[..., np.newaxis, :], s[..., :, np.newaxis]
    off_diagonal = ~np.eye(k, dtype=bool)
    square_gaps = _eigenvalue_gaps(s * s)
    f = _inverse_gaps(square_gaps, off_diagonal)
    projected_t = np.swapaxes(projected, -1, -2)
    cutoff = np.max(s, axis=-1, keepdims=True) * max(m_rows, n_columns) * np.finfo(float).eps
    rank_deficient = bool(np.any(s <= cutoff))
    if _has_repeated(s):
        reason = "the singular vectors of a repeated singular value, which are not unique"
        u_dot = vt_dot = NoTangent(f"np.linalg.svd: the result depends on {reason}")
        return u_dot, s_dot, vt_dot
    if np.shape(u_full)[-1] > k:
        u_dot = NoTangent(
            "np.linalg.svd(A) of a wide or tall A: the result depends on the columns of U past "
            "min(m, n), which are not unique; use full_matrices=False"
        )
    elif m_rows > k and rank_deficient:
        u_dot = NoTangent(
            "np.linalg.svd of a rank-deficient matrix: its singular vectors have no derivative"
        )
    else:
        u_dot = u @ (f * (projected * s_row + s_column * projected_t))
        if m_rows > k:
            u_dot = u_dot + (a_dot @ v - u @ (u_t @ (a_dot @ v))) / s_row
    if np.shape(vt_full)[-2] > k:
        vt_dot = NoTangent(
            "np.linalg.svd(A) of a wide or tall A: the result depends on the rows of Vᵀ past "
            "min(m, n), which are not unique; use full_matrices=False"
        )
    elif n_columns > k and rank_deficient:
        vt_dot = NoTangent(
            "np.linalg.svd of a rank-deficient matrix: its singular vectors have no derivative"
        )
    else:
        v_dot = v @ (f * (s_column * projected + projected_t * s_row))
        if n_columns > k:
            a_dot_t = np.swapaxes(a_dot, -1, -2)
            v_dot = v_dot + (a_dot_t @ u - v @ (v_t @ (a_dot_t @ u))) / s_row
        vt_dot = np.swapaxes(v_dot, -1, -2)
    return u_dot, s_dot, vt_dot


def qr_dots(a_dot, q, r, mode="reduced"):
    """For (Q, R) = qr(A), A m×n with m ≥ n (reduced), with C = Qᵀ Ȧ R⁻¹ and its skew part
    Ω = tril(C, −1) − tril(C, −1)ᵀ (QᵀQ̇ is skew, ṘR⁻¹ upper triangular):

        Ṙ = (C − Ω) R,   Q̇ = (I − QQᵀ) Ȧ R⁻¹ + Q Ω

    Refused where ``qr_bar`` refuses (a wide A, mode='complete' of a tall one, a
    rank-deficient A)."""
    _refuse_qr_without_derivative(q, r, mode)
    q_t = np.swapaxes(q, -1, -2)
    # Ȧ R⁻¹ = (R⁻ᵀ Ȧᵀ)ᵀ
    a_dot_r = np.swapaxes(
        np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(a_dot, -1, -2)), -1, -2
    )
    c = q_t @ a_dot_r
    below = np.tril(c, -1)
    omega = below - np.swapaxes(below, -1, -2)
    r_dot = (c - omega) @ r
    q_dot = a_dot_r - q @ (q_t @ a_dot_r) + q @ omega
    return q_dot, r_dot


# ---------------------------------------------------------------------------------------------
# Least squares (lstsq, and polyfit through it)
# ---------------------------------------------------------------------------------------------


def refuse_rank_deficient(a, function, rank=None):
    """Least squares has a derivative of its minimal-norm solution only where A keeps its rank;
    overbar differentiates it where A has full column rank, and refuses elsewhere. ``rank`` is
    the rank the solver found (with its own cut-off, rcond); NumPy's matrix_rank where None."""
    a = np.asarray(a)
    rank = np.linalg.matrix_rank(a) if rank is None else int(rank)
    if rank < a.shape[-1]:
        raise NoDerivativeError(
            f"{function} of a matrix of rank {rank} with {a.shape[-1]} columns: overbar "
            "differentiates least squares where the matrix has full column rank (the minimal-"
            "norm solution of a rank-deficient one jumps where its rank changes)"
        )


def lstsq_solution_bars(x_bar, x, a, b):
    """Adjoints of the least-squares solution x = (AᵀA)⁻¹ Aᵀ b (A of full column rank):
    z = (AᵀA)⁻¹ x̄,  b̄ = A z,  Ā = r zᵀ − b̄ xᵀ with r = b − A x."""
    a = np.asarray(a)
    gram = a.T @ a
    z = np.linalg.solve(gram, np.broadcast_to(x_bar, np.shape(x)))
    b_bar = a @ z
    residual = b - a @ x
    if np.ndim(x) == 1:
        a_bar = np.outer(residual, z) - np.outer(b_bar, x)
    else:
        a_bar = residual @ z.T - b_bar @ np.transpose(x)
    return a_bar, b_bar


def lstsq_solution_dot(x, a, b, a_dot, b_dot):
    """The tangent of x = (AᵀA)⁻¹ Aᵀ b as A moves along Ȧ and b along ḃ (either None where it
    stays): ẋ = (AᵀA)⁻¹ (Ȧᵀ r − Aᵀ Ȧ x + Aᵀ ḃ), r = b − A x."""
    a = np.asarray(a)
    right = np.zeros(np.shape(x), dtype=np.result_type(x, 1.0))
    if a_dot is not None:
        a_dot = np.broadcast_to(a_dot, a.shape)
        residual = b - a @ x
        right = right + a_dot.T @ residual - a.T @ (a_dot @ x)
    if b_dot is not None:
        right = right + a.T @ np.broadcast_to(b_dot, np.shape(b))
    return np.linalg.solve(a.T @ a, right)


def lstsq_bars(y_bar, y, a, b):
    """Adjoints of (x, ρ, rank, s) = lstsq(A, b) for A of full column rank (refused otherwise):
    x as in ``lstsq_solution_bars``; the residuals ρ = Σ r² (r = b − A x, given where A is
    tall) add b̄ += 2 r ρ̄, Ā −= 2 (r ρ̄) xᵀ (the part through x vanishes: Aᵀ r = 0); the
    singular values add U diag(s̄) Vᵀ; the rank has none."""
    x, residuals, rank, _ = y
    x_bar, residuals_bar, _, s_bar = y_bar
    refuse_rank_deficient(a, "np.linalg.lstsq", rank)
    a_bar, b_bar = lstsq_solution_bars(x_bar, x, a, b)
    if np.size(residuals) and np.any(residuals_bar != 0):
        residual = b - a @ x
        weighted = 2 * residual * np.broadcast_to(residuals_bar, np.shape(residuals))
        b_bar = b_bar + weighted
        a_bar = a_bar - (np.outer(weighted, x) if np.ndim(x) == 1 else weighted @ x.T)
    if np.any(s_bar != 0):
        a_bar = a_bar + singular_values_bar(np.broadcast_to(s_bar, np.shape(y[3])), a)
    return a_bar, b_bar


def lstsq_dots(a_dot, b_dot, y, a, b):
    """The tangent of (x, ρ, rank, s) = lstsq(A, b) as A moves along Ȧ and b along ḃ (either
    None where it stays), A of full column rank: ẋ as in ``lstsq_solution_dot``,
    ρ̇ = 2 Σ r (ḃ − Ȧ x) (Aᵀ r = 0 removes the part through x), no tangent of the rank,
    ṡ = diag(Uᵀ Ȧ V)."""
    x, residuals, rank, s = y
    refuse_rank_deficient(a, "np.linalg.lstsq", rank)
    x_dot = lstsq_solution_dot(x, a, b, a_dot, b_dot)
    residuals_dot = np.zeros(np.shape(residuals), dtype=np.result_type(residuals, 1.0))
    if np.size(residuals):
        moved = 0.0
        if b_dot is not None:
            moved = moved + b_dot
        if a_dot is not None:
            moved = moved - a_dot @ x
        residuals_dot = np.reshape(2 * np.sum((b - a @ x) * moved, axis=0), np.shape(residuals))
    s_dot = (
        np.zeros(np.shape(s), dtype=s.dtype) if a_dot is None else singular_values_dot(a_dot, a)
    )
    return x_dot, residuals_dot, 0.0, s_dot


# ---------------------------------------------------------------------------------------------
# NumPy 2's array-API functions: vecdot, vector_norm, cond
# ---------------------------------------------------------------------------------------------


def vecdot_bars(z_bar, x1, x2, axis=-1):
    """Adjoints of z = Σ x1 x2 along ``axis`` (each operand's own axis, the others broadcast):
    x̄1 = z̄ x2,  x̄2 = z̄ x1, summed to each operand's shape."""
    x1_last = np.moveaxis(x1, axis, -1)
    x2_last = np.moveaxis(x2, axis, -1)
    g = np.expand_dims(z_bar, -1)
    x1_bar = unbroadcast(g * x2_last, x1_last)
    x2_bar = unbroadcast(g * x1_last, x2_last)
    return np.moveaxis(x1_bar, -1, axis), np.moveaxis(x2_bar, -1, axis)


def _vector_axes(x, axis):
    """The axes np.linalg.vector_norm reduces: all of them for None, as a tuple of
    non-negative axes."""
    ndim = np.ndim(x)
    if axis is None:
        return tuple(range(ndim))
    listed = axis if isinstance(axis, tuple | list) else (axis,)
    return tuple(int(a) % ndim for a in listed)


def vector_norm_bar(y_bar, y, x, ord=2, axis=None, keepdims=False):
    """Adjoint of y = vector_norm(x, axis, keepdims, ord): the reduced axes moved last and made
    one, then the vector norm's adjoint of ``norm_bar`` along it (of an x with no elements,
    no elements)."""
    x = np.asarray(x)
    if x.size == 0:
        return _no_elements(x)
    axes = _vector_axes(x, axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    kept = moved.shape[: x.ndim - len(axes)]
    flat = np.reshape(moved, kept + (-1,))
    g = norm_bar(np.reshape(y_bar, kept), np.reshape(y, kept), flat, ord, -1)
    return np.moveaxis(np.reshape(g, moved.shape), last, axes)


def vector_norm_dot(x_dot, y, x, ord=2, axis=None, keepdims=False):
    """The tangent of y = vector_norm(x, axis, keepdims, ord): ẏ = Σ ∂‖x‖/∂x ẋ over the
    reduced axes (at a kink, the subgradient the adjoint gives)."""
    gradient = vector_norm_bar(np.ones_like(y), y, x, ord, axis, keepdims)
    gradient = np.asarray(gradient, dtype=np.result_type(np.asarray(x), 1.0))
    return np.sum(gradient * x_dot, axis=_vector_axes(x, axis), keepdims=keepdims)


def _extreme_singular_values(x, p):
    """For cond of order None, 2 or −2: the singular values and the one-hot selections of the
    largest and the smallest (numerator first)."""
    s = np.linalg.svd(x, compute_uv=False)
    first = np.zeros(np.shape(s), dtype=s.dtype)
    last = np.zeros(np.shape(s), dtype=s.dtype)
    first[..., 0], last[..., -1] = 1.0, 1.0
    return (s, last, first) if p == -2 else (s, first, last)


def cond_bar(c_bar, c, x, p=None):
    """Adjoint of c = cond(X, p). For p None or 2, c = s_max / s_min (p = −2: the inverse):
    s̄_top = c̄ / s_bottom, s̄_bottom = −c̄ c / s_bottom, X̄ = U diag(s̄) Vᵀ. For any other p,
    c = ‖X‖ ‖B‖ with B = X⁻¹:  X̄ = c̄ (‖B‖ ∂‖X‖ − ‖X‖ Bᵀ ∂‖B‖ Bᵀ)."""
    c_bar = np.asarray(c_bar)[..., None]
    if p is None or p == 2 or p == -2:
        s, top, bottom = _extreme_singular_values(x, p)
        s_bottom = np.sum(s * bottom, axis=-1, keepdims=True)
        s_bar = c_bar * top / s_bottom - c_bar * np.asarray(c)[..., None] * bottom / s_bottom
        return singular_values_bar(s_bar, x)
    inverse = np.linalg.inv(x)
    norm_x = np.linalg.norm(x, p, axis=(-2, -1))
    norm_inverse = np.linalg.norm(inverse, p, axis=(-2, -1))
    through_x = norm_gradient(norm_x, x, p, (-2, -1)) * norm_inverse[..., None, None]
    through_inverse = norm_gradient(norm_inverse, inverse, p, (-2, -1)) * norm_x[..., None, None]
    inverse_t = np.swapaxes(inverse, -1, -2)
    return c_bar[..., None] * (through_x - inverse_t @ through_inverse @ inverse_t)


def cond_dot(x_dot, c, x, p=None):
    """The tangent of c = cond(X, p): for p None, 2 or −2, ċ = (ṡ_top − c ṡ_bottom) / s_bottom
    with ṡ = diag(Uᵀ Ẋ V); for any other p, ċ = ‖B‖ ⟨∂‖X‖, Ẋ⟩ + ‖X‖ ⟨∂‖B‖, Ḃ⟩, Ḃ = −B Ẋ B."""
    if p is None or p == 2 or p == -2:
        s, top, bottom = _extreme_singular_values(x, p)
        s_dot = singular_values_dot(x_dot, x)
        s_bottom = np.sum(s * bottom, axis=-1)
        return (np.sum(s_dot * top, axis=-1) - c * np.sum(s_dot * bottom, axis=-1)) / s_bottom
    inverse = np.linalg.inv(x)
    inverse_dot = -(inverse @ x_dot @ inverse)
    norm_x = np.linalg.norm(x, p, axis=(-2, -1))
    norm_inverse = np.linalg.norm(inverse, p, axis=(-2, -1))
    along_x = np.sum(norm_gradient(norm_x, x, p, (-2, -1)) * x_dot, axis=(-2, -1))
    along_inverse = np.sum(
        norm_gradient(norm_inverse, inverse, p, (-2, -1)) * inverse_dot, axis=(-2, -1)
    )
    return norm_inverse * along_x + norm_x * along_inverse


# ---------------------------------------------------------------------------------------------
# Tensor solves and inverses: the matrix ones, reshaped
# ---------------------------------------------------------------------------------------------


def _tensor_system(a, b, axes=None):
    """How np.tensorsolve(a, b, axes) sees a: the axes of a it moves last, and a as the square
    matrix of the system (b's elements by x's)."""
    a = np.asarray(a)
    order = list(range(a.ndim))
    if axes is not None:
        for k in axes:
            order.remove(k)
            order.insert(a.ndim, k)
    moved = np.transpose(a, order)
    count = int(np.prod(moved.shape[np.ndim(b) :]))
    return order, moved, np.reshape(moved, (count, count))


def tensorsolve_bars(x_bar, x, a, b, axes=None):
    """Adjoints of x = tensorsolve(a, b, axes), that is x = A⁻¹ b with A a reshaped (after
    moving ``axes`` last) and b, x flattened:  b̄ = A⁻ᵀ x̄,  Ā = −b̄ xᵀ, reshaped back."""
    order, moved, matrix = _tensor_system(a, b, axes)
    b_bar = np.linalg.solve(matrix.T, np.ravel(x_bar))
    a_bar_moved = np.reshape(-np.outer(b_bar, np.ravel(x)), moved.shape)
    return np.transpose(a_bar_moved, np.argsort(order)), np.reshape(b_bar, np.shape(b))


def tensorsolve_dot(x, a, b, a_dot=None, b_dot=None, axes=None):
    """One term of the tangent of x = tensorsolve(a, b, axes) = A⁻¹ b:  −A⁻¹ Ȧ x (a_dot given)
    or A⁻¹ ḃ (b_dot given), in x's shape."""
    order, _, matrix = _tensor_system(a, b, axes)
    if a_dot is not None:
        _, _, matrix_dot = _tensor_system(np.broadcast_to(a_dot, np.shape(a)), b, axes)
        right = -(matrix_dot @ np.ravel(x))
    else:
        right = np.ravel(np.broadcast_to(b_dot, np.shape(b)))
    return np.reshape(np.linalg.solve(matrix, right), np.shape(x))


def tensorinv_bar(y_bar, y, a, ind=2):
    """Adjoint of Y = tensorinv(a, ind), the inverse of a reshaped to a matrix M (its first
    ``ind`` axes as rows):  M̄ = −Yᵀ Ȳ Yᵀ, with Y and Ȳ as matrices, reshaped like a."""
    rows = int(np.prod(np.shape(a)[:ind]))
    inverse = np.reshape(y, (-1, rows))
    inverse_bar = np.reshape(y_bar, inverse.shape)
    return np.reshape(-(inverse.T @ inverse_bar @ inverse.T), np.shape(a))


def tensorinv_dot(a_dot, y, a, ind=2):
    """The tangent of Y = tensorinv(a, ind) = M⁻¹:  Ẏ = −Y Ṁ Y, as matrices, in Y's shape."""
    rows = int(np.prod(np.shape(a)[:ind]))
    inverse = np.reshape(y, (-1, rows))
    matrix_dot = np.reshape(np.broadcast_to(a_dot, np.shape(a)), (rows, -1))
    return np.reshape(-(inverse @ matrix_dot @ inverse), np.shape(y))


def vector_norm_bar_dot(y_bar, y, x, y_dot, x_dot, ord=2, axis=None, keepdims=False):
    """The change of vector_norm_bar(ȳ, y, x, ...) as y moves by ẏ and x by ẋ (either None
    where it stays), ȳ fixed: ``norm_bar_dot`` along the reduced axes made one, as
    ``vector_norm_bar`` does (of an x with no elements, no elements)."""
    x = np.asarray(x)
    if x.size == 0:
        return _no_elements(x)
    axes = _vector_axes(x, axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    kept = moved.shape[: x.ndim - len(axes)]
    flat = np.reshape(moved, kept + (-1,))
    flat_dot = None
    if x_dot is not None:
        flat_dot = np.reshape(np.moveaxis(np.broadcast_to(x_dot, x.shape), axes, last), flat.shape)
    y_dot = None if y_dot is None else np.reshape(y_dot, kept)
    change = norm_bar_dot(
        np.reshape(y_bar, kept), np.reshape(y, kept), flat, y_dot, flat_dot, ord, -1
    )
    return np.moveaxis(np.reshape(change, moved.shape), last, axes)


def tensorsolve_bars_dot(x_bar, x, a, b, axes=None, x_dot=None, a_dot=None):
    """One term of the change of (Ā, b̄) = tensorsolve_bars(x̄, x, a, b) as x (or a) moves,
    x̄ fixed; as matrices, b̄ = A⁻ᵀ x̄ and Ā = −b̄ xᵀ:  along ẋ, (−b̄ ẋᵀ, 0); along Ȧ, b̄ moves
    by ḃ̄ = −A⁻ᵀ Ȧᵀ b̄ and Ā by −ḃ̄ xᵀ."""
    order, moved, matrix = _tensor_system(a, b, axes)
    b_bar = np.linalg.solve(matrix.T, np.ravel(x_bar))
    if x_dot is not None:
        change = -np.outer(b_bar, np.ravel(np.broadcast_to(x_dot, np.shape(x))))
        a_part = np.transpose(np.reshape(change, moved.shape), np.argsort(order))
        return a_part, np.zeros(np.shape(b), dtype=b_bar.dtype)
    _, _, matrix_dot = _tensor_system(np.broadcast_to(a_dot, np.shape(a)), b, axes)
    b_bar_dot = -np.linalg.solve(matrix.T, matrix_dot.T @ b_bar)
    change = -np.outer(b_bar_dot, np.ravel(x))
    a_part = np.transpose(np.reshape(change, moved.shape), np.argsort(order))
    return a_part, np.reshape(b_bar_dot, np.shape(b))


def tensorinv_bar_dot(y_bar, y, y_dot, ind=2):
    """The change of tensorinv_bar(Ȳ, Y, a) = −Yᵀ Ȳ Yᵀ (as matrices) as Y moves by Ẏ (Ȳ
    fixed):  −Ẏᵀ Ȳ Yᵀ − Yᵀ Ȳ Ẏᵀ, in a's shape (Y's axes swapped back)."""
    rows = int(np.prod(np.shape(y)[len(np.shape(y)) - ind :]))
    inverse = np.reshape(y, (-1, rows))
    inverse_bar = np.reshape(y_bar, inverse.shape)
    inverse_dot = np.reshape(np.broadcast_to(y_dot, np.shape(y)), inverse.shape)
    change = -(inverse_dot.T @ inverse_bar @ inverse.T) - inverse.T @ inverse_bar @ inverse_dot.T
    shape = np.shape(y)
    return np.reshape(change, shape[len(shape) - ind :] + shape[: len(shape) - ind])
