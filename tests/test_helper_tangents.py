"""The tangent rules of the runtime helpers generated adjoints call (``rules_helpers.py``),
which ``hvp`` and ``hessian`` use: forward mode over a generated adjoint.

Each sample calls a helper on arrays (tuples and lists of them built in the probe), and its
jvp, ``overbar.jvp``, at a random tangent of every input (and of each alone, so that inactive
inputs' terms are left out) is checked against the central difference of the probe along it;
where the helper has an adjoint rule too, the dot-product identity ``<J v, u> = <v, Jᵀ u>``
ties the two rules together. Meta-tests: every adjoint rule of the module has a tangent rule
beside it, and every tangent rule of the module has a sample.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import overbar
from overbar.runtime import (
    helpers,
    helpers_arrays,
    helpers_linalg,
    helpers_math,
    helpers_science,
    helpers_ufuncs,
)
from overbar.runtime.registry import RULES
from tests.support import define

HELPERS = {
    name: getattr(helpers, name)
    for name in (
        "unbroadcast",
        "broadcast_like",
        "of_float_result",
        "adjoint_like",
        "as_floating",
        "expand_reduced",
        "matmul_left_bar",
        "matmul_right_bar",
        "index_bar",
        "take_and_zero",
        "take_in_place",
        "saved_region",
        "own",
        "item_bar",
        "joined_bar",
        "repeated_bar",
        "entry_bar",
        "split_last",
        "listed",
        "unpacked_bar",
        "add_elementwise",
        "in_order",
        "structured_like",
        "add_in_kind",
        "sum_bars",
        "as_rows_of",
        "extremum_bar",
        "unsort",
        "cumsum_bar",
        "untranspose",
        "split_like",
        "unstack",
        "sum_of_outers",
        "sum_of_values",
        "sum_of_sums",
        "stacked_rows",
        "sum_of_scaled",
        "sum_of_inner",
        "sum_of_products",
        "elements_like",
        "elements_like_bar",
        "structured_like_bar",
        "structured_like_bar_bar",
        "prod_bar",
    )
}
HELPERS.update(
    {
        name: getattr(module, name)
        for module, names in (
            (
                helpers_arrays,
                (
                    "unjoin",
                    "unjoin_index",
                    "windows_bar",
                    "unexpand_each",
                    "take_bar",
                    "take_along_axis_bar",
                    "sum_over",
                    "unroll_axis",
                    "untile",
                    "unrepeat",
                    "unpad",
                    "pad_origins",
                    "unpad_constant",
                    "unpartition",
                    "diagonal_bar",
                    "diag_bar",
                    "unsplit",
                    "unbroadcast_each",
                    "undiff",
                    "gradient_bar",
                    "pad_constants_bar",
                    "delete_bar",
                    "insert_bars",
                    "extract_bar",
                    "resize_bar",
                    "unstack_bar",
                    "block_bar",
                ),
            ),
            (
                helpers_science,
                (
                    "ediff1d_bars",
                    "polyadd_bars",
                    "polyder_bar",
                    "polyint_bars",
                    "convolve_bars",
                    "convolve_a_bar",
                    "convolve_a_bar_of_part",
                    "correlate_bars",
                    "polymul_bars",
                    "cov_bars",
                    "trapezoid_bars",
                    "vander_bar",
                    "bessel_i1",
                ),
            ),
            (
                helpers_linalg,
                (
                    "trace_bar",
                    "dot_left_bar",
                    "dot_right_bar",
                    "inner_bars",
                    "outer_bars",
                    "tensordot_bars",
                    "kron_bars",
                    "cross_bars",
                    "multi_dot_bars",
                    "einsum_bars",
                    "norm_bar",
                    "solve_bars",
                    "eigvals_bar",
                    "eigvalsh_bar",
                    "singular_values_bar",
                    "eigh_bar",
                    "eig_bar",
                    "pinv_bar",
                    "cholesky_bar",
                    "qr_bar",
                    "svd_bar",
                    "matrix_power_bar",
                    "vecdot_bars",
                    "vector_norm_bar",
                    "tensorsolve_bars",
                    "tensorinv_bar",
                ),
            ),
            (
                helpers_math,
                (
                    "chosen_bars",
                    "of_real",
                    "astype_bar",
                    "array_bar",
                    "ptp_bar",
                    "quantile_bar",
                    "nanquantile_bar",
                    "select_bars",
                    "cumprod_bar",
                    "average_bars",
                    "hypot_bars",
                    "polyval_bars",
                    "digamma",
                    "sinc_slope",
                    "sequence_bar",
                    "sequence_bar_bar",
                    "sorted_bar",
                    "without_initial",
                ),
            ),
        )
        for name in names
    }
)
HELPERS["math"] = math
HELPERS.update(
    {
        name: getattr(helpers_ufuncs, name)
        for name in (
            "widened",
            "running_extremum_bar",
            "log_accumulate_bar",
            "compress_bar",
            "choose_bar",
            "tolist_bar",
        )
    }
)

# (the probe's body, its parameters' shapes: () a Python float); the body returns the
# helper's result, or the parts of a tuple result as a tuple
SAMPLES = [
    ("as_floating(g)", {"g": (2, 3)}),
    ("as_floating(g)", {"g": ()}),
    ("unbroadcast(g, x)", {"g": (2, 3), "x": (3,)}),
    ("unbroadcast(g, x)", {"g": (2, 3), "x": (2, 1)}),
    ("unbroadcast(g, x)", {"g": (4,), "x": ()}),
    ("broadcast_like(g, x)", {"g": (3,), "x": (2, 3)}),
    ("broadcast_like(g, x)", {"g": (), "x": (2, 2)}),
    ("of_float_result(g, x)", {"g": (3,), "x": (2, 3)}),
    ("adjoint_like(g, x)", {"g": (3,), "x": (3,)}),
    ("adjoint_like(g, x)", {"g": (), "x": (2, 3)}),
    ("expand_reduced(g, x, axis=0)", {"g": (3,), "x": (2, 3)}),
    ("expand_reduced(g, x, axis=1, keepdims=True)", {"g": (2, 1), "x": (2, 3)}),
    ("expand_reduced(g, x)", {"g": (), "x": (2, 3)}),
    ("matmul_left_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (4,), "x": (3,), "y": (3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (), "x": (3,), "y": (3,)}),
    ("matmul_right_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("matmul_right_bar(z, x, y)", {"z": (2,), "x": (2, 3), "y": (3,)}),
    ("matmul_right_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 2, 3), "y": (3, 4)}),
    ("index_bar(g, x, 2)", {"g": (), "x": (4,)}),
    ("index_bar(g, x, (slice(None), 1))", {"g": (3,), "x": (3, 4)}),
    ("index_bar(g, x, np.array([0, 2, 0]))", {"g": (3,), "x": (4,)}),
    ("take_and_zero(g * 1.0, 1)", {"g": (3,)}),
    ("take_and_zero(g * 1.0, (slice(0, 2), 1))", {"g": (3, 2)}),
    ("take_in_place_both(g)", {"g": (4,)}),
    ("saved_region(y * 1.0, slice(1, 3))", {"y": (4,)}),
    ("own(g, x)", {"g": (2, 3), "x": (2, 3)}),
    ("own(g, x)", {"g": (3,), "x": (2, 3)}),
    ("item_bar(g, (x, x, x), 1)", {"g": (2,), "x": (2,)}),
    ("entry_bar({'a': g, 'b': x}, 'a')", {"g": (2,), "x": (3,)}),
    ("entry_bar({'a': g, 'b': x}, 'b') * entry_bar({'a': g}, 'b')", {"g": (2,), "x": (3,)}),
    ("item_bar(g, [x, x, x], slice(0, 2))[1]", {"g": (2, 3), "x": (3,)}),
    ("joined_bar((a, b, c), (x,), [x, x])", {"a": (2,), "b": (), "c": (2,), "x": (2,)}),
    ("joined_bar((a, 0.0, c), (x, x), ())", {"a": (2,), "c": (3,), "x": (2,)}),
    ("joined_bar(g, [x], [x, x])", {"g": (3, 2), "x": (2,)}),
    ("repeated_bar((a, b, c, a), [x, x], 2)", {"a": (2,), "b": (), "c": (2,), "x": (2,)}),
    ("repeated_bar(((a, b), (c, b)), [(x, x)], 2)", {"a": (2,), "b": (), "c": (2,), "x": (2,)}),
    ("repeated_bar(g, (x,), 3)", {"g": (3, 2), "x": (2,)}),
    ("take_and_zero((a, b, c), 1)", {"a": (2,), "b": (), "c": (3,)}),
    ("saved_region([a, b * 1.0, c], 1)", {"a": (2,), "b": (3,), "c": (3,)}),
    ("split_last((a, b, c))", {"a": (2,), "b": (), "c": (3,)}),
    ("listed((a, b), (a, b))", {"a": (2,), "b": (3,)}),
    ("listed(0.0, (a, b))", {"a": (2,), "b": (3,)}),
    ("unpacked_bar((x, x), (a, b))", {"a": (2,), "b": (2,), "x": (2,)}),
    ("unpacked_bar(x, (a, b))", {"a": (3,), "b": (3,), "x": (2, 3)}),
    ("add_elementwise((a, b), (c, b))", {"a": (2,), "b": (), "c": (2,)}),
    ("add_elementwise(0.0, (c, b))", {"b": (), "c": (2,)}),
    ("in_order([a, b])", {"a": (2,), "b": (3,)}),
    ("structured_like((a, b), (c, b))", {"a": (2,), "b": (), "c": (2,)}),
    ("structured_like(0.0, (c, b))", {"b": (), "c": (2,)}),
    ("structured_like(a, c)", {"a": (2, 1), "c": (2, 3)}),
    ("structured_like_bar((a, b), (c, b))", {"a": (2, 3), "b": (), "c": (3,)}),
    ("structured_like_bar(a, (c, c))", {"a": (2, 3), "c": (3,)}),
    ("structured_like_bar_bar((a, b), (c, b), (a, b))", {"a": (3,), "b": (), "c": (2, 3)}),
    ("structured_like_bar_bar((a, b), c, (a, a))", {"a": (3,), "b": (3,), "c": (2, 3)}),
    ("elements_like_bar((a, b), (c, b), (a, a))", {"a": (3,), "b": (), "c": (1,)}),
    ("elements_like_bar((a, b), c, (a, a))", {"a": (3,), "b": (3,), "c": (2, 3)}),
    ("sequence_bar_bar(x, (a, b), x)", {"a": (3,), "b": (1,), "x": (2, 3)}),
    ("sequence_bar_bar((a, b), (a, b), (a, b))", {"a": (3,), "b": ()}),
    ("add_in_kind(a, b)", {"a": (2, 3), "b": (2, 3)}),
    ("add_in_kind((a, b), (b, b))", {"a": (2,), "b": (2,)}),
    ("sum_bars(g, (a, b))", {"g": (2, 3), "a": (3,), "b": (2, 1)}),
    ("sum_bars(g, x)", {"g": (3,), "x": (2, 3)}),
    ("as_rows_of((a, b), x)", {"a": (3,), "b": (3,), "x": (2, 3)}),
    ("as_rows_of([a, b], (a, b))", {"a": (3,), "b": (2,)}),
    ("extremum_bar(g, np.max(x, axis=0), x, axis=0)", {"g": (3,), "x": (2, 3)}),
    ("extremum_bar(g, np.min(x), x)", {"g": (), "x": (4,)}),
    ("unsort(g, x)", {"g": (5,), "x": (5,)}),
    ("unsort(g, x, axis=0)", {"g": (3, 2), "x": (3, 2)}),
    ("cumsum_bar(g, x, axis=1)", {"g": (2, 3), "x": (2, 3)}),
    ("cumsum_bar(g, x)", {"g": (6,), "x": (2, 3)}),
    ("windows_bar(g, x, 3)", {"g": (4, 3), "x": (6,)}),
    ("windows_bar(g, x, (2, 2), axis=(0, 1))", {"g": (2, 3, 2, 2), "x": (3, 4)}),
    ("untranspose(g, ((1, 0, 2),))", {"g": (3, 2, 4)}),
    ("untranspose(g, ())", {"g": (3, 2)}),
    ("split_like(g, (a, b), axis=0)", {"g": (5, 2), "a": (2, 2), "b": (3, 2)}),
    ("unstack(g, (a, b), axis=1)", {"g": (3, 2), "a": (3,), "b": (3,)}),
    ("sum_of_outers([a, b], [c, c])", {"a": (2,), "b": (2,), "c": (3,)}),
    ("sum_of_values([a, b])", {"a": (2, 3), "b": (2, 3)}),
    ("sum_of_values(stacked_rows([a, b]))", {"a": (2, 3), "b": (2, 3)}),
    ("sum_of_sums([a, b], axis=0)", {"a": (2, 3), "b": (2, 3)}),
    ("sum_of_sums([a, b], axis=(0, -1), keepdims=True)", {"a": (2, 3), "b": (2, 3)}),
    ("sum_of_sums([a, b])", {"a": (2, 3), "b": (3,)}),
    ("sum_of_sums(stacked_rows([a, b]), axis=1)", {"a": (2, 3), "b": (2, 3)}),
    ("stacked_rows([a, b])", {"a": (2, 3), "b": (2, 3)}),
    ("stacked_rows([a, b])", {"a": (2, 3), "b": (3,)}),
    ("sum_of_scaled([s, t], [a, b])", {"s": (), "t": (), "a": (3,), "b": (3,)}),
    ("sum_of_inner([a, b], [c, d])", {"a": (2, 3), "b": (2, 3), "c": (2, 3), "d": (2, 3)}),
    ("sum_of_inner([a, b], [c, d])", {"a": (2, 3), "b": (2, 3), "c": (2, 1), "d": (2, 1)}),
    ("sum_of_inner([a, b], [c, d])", {"a": (3,), "b": (2, 3), "c": (3,), "d": (3,)}),
    ("sum_of_products([a, b], [c, c], 'b')", {"a": (2, 3), "b": (2, 3), "c": (4, 3)}),
    ("sum_of_products([a, b], [c, c], 'a')", {"a": (2, 3), "b": (2, 3), "c": (2, 4)}),
    (
        "sum_of_products([a, b], stacked_rows([c, c]), 'a')",
        {"a": (2, 3), "b": (2, 3), "c": (2, 4)},
    ),
    (
        "sum_of_products(stacked_rows([a, b]), stacked_rows([c, c]), 'b')",
        {"a": (2, 3), "b": (2, 3), "c": (4, 3)},
    ),
    ("sum_of_outers(stacked_rows([a, b]), [c, c])", {"a": (2,), "b": (2,), "c": (3,)}),
    (
        "sum_of_inner(stacked_rows([a, b]), stacked_rows([c, d]))",
        {"a": (2, 3), "b": (2, 3), "c": (2, 1), "d": (2, 1)},
    ),
    ("chosen_bars(g, max(a, b), (a, b))", {"g": (), "a": (), "b": ()}),
    ("chosen_bars(g, max(x), (x,))", {"g": (), "x": (4,)}),
    ("elements_like((g, h), (a, b))", {"g": (2,), "h": (), "a": (2,), "b": ()}),
    ("elements_like(0.0, (a, b))", {"a": (2,), "b": ()}),
    ("of_real(g, x, 'np.real')", {"g": (3,), "x": (3,)}),
    ("astype_bar(g, x, np.float64)", {"g": (3,), "x": (3,)}),
    ("array_bar(g, x, float)", {"g": (2, 3), "x": (2, 3)}),
    ("unjoin(g, (a, b), np.atleast_1d, 0)", {"g": (5,), "a": (2,), "b": (3,)}),
    ("unjoin(g, (a, b), np.atleast_2d, 0)", {"g": (2, 3), "a": (3,), "b": (1, 3)}),
    ("unjoin_index(g, (a, b), np.r_, 0)", {"g": (5,), "a": (2,), "b": (3,)}),
    ("unexpand_each(g, (a,))", {"g": (1, 3), "a": (3,)}),
    ("unexpand_each((g, h), (a, b))", {"g": (1, 3), "h": (1, 1), "a": (3,), "b": ()}),
    ("take_bar(g, x, np.array([0, 2, 2]), 0)", {"g": (3,), "x": (4,)}),
    ("take_along_axis_bar(g, x, np.array([[0], [2]]), 1)", {"g": (2, 1), "x": (2, 3)}),
    ("sum_over(g, 0, s)", {"g": (4, 3), "s": (3,)}),
    ("unroll_axis(g, x, 2)", {"g": (4, 2, 3), "x": (2, 3, 4)}),
    ("untile(g, x, 2)", {"g": (6,), "x": (3,)}),
    ("unrepeat(g, x, 2)", {"g": (6,), "x": (3,)}),
    ("unpad(g, x, pad_origins(np.shape(x), 1, 'edge'))", {"g": (5,), "x": (3,)}),
    ("unpad_constant(g, x, 1)", {"g": (5,), "x": (3,)}),
    ("unpartition(g, np.partition(x, 1), x)", {"g": (4,), "x": (4,)}),
    ("diagonal_bar(g, x)", {"g": (3,), "x": (3, 3)}),
    ("diag_bar(g, v)", {"g": (3, 3), "v": (3,)}),
    ("diag_bar(g, v, 1)", {"g": (2,), "v": (3, 3)}),
    ("trace_bar(g, x)", {"g": (), "x": (3, 3)}),
    ("ptp_bar(g, x, axis=0)", {"g": (3,), "x": (2, 3)}),
    ("ptp_bar(g, x)", {"g": (), "x": (5,)}),
    ("quantile_bar(g, x, 0.3)", {"g": (), "x": (5,)}),
    ("quantile_bar(g, x, np.array([0.2, 0.9]), axis=1)", {"g": (2, 3), "x": (3, 4)}),
    ("nanquantile_bar(g, x, 0.6)", {"g": (), "x": (5,)}),
    ("dot_left_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("dot_left_bar(z, x, y)", {"z": (), "x": (3,), "y": (3,)}),
    ("dot_left_bar(z, x, y)", {"z": (3,), "x": (), "y": (3,)}),
    ("dot_left_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 3), "y": (2, 3, 4)}),
    ("dot_right_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("dot_right_bar(z, x, y)", {"z": (2,), "x": (2, 3), "y": (3,)}),
    ("dot_right_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 3), "y": (2, 3, 4)}),
    ("inner_bars(z, x, y)", {"z": (), "x": (3,), "y": (3,)}),
    ("inner_bars(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (4, 3)}),
    ("inner_bars(z, x, y)", {"z": (3,), "x": (), "y": (3,)}),
    ("polyval_bars(y, p, x)", {"y": (3,), "p": (4,), "x": (3,)}),
    ("polyval_bars(y, p, x)", {"y": (2, 3), "p": (3, 1), "x": (3,)}),
    ("outer_bars(z, x, y)", {"z": (3, 4), "x": (3,), "y": (4,)}),
    ("outer_bars(z, x, y)", {"z": (6, 2), "x": (2, 3), "y": (2,)}),
    ("tensordot_bars(z, x, y)", {"z": (2, 4), "x": (2, 3, 2), "y": (3, 2, 4)}),
    ("tensordot_bars(z, x, y, ([0], [1]))", {"z": (3, 4), "x": (2, 3), "y": (4, 2)}),
    ("kron_bars(z, x, y)", {"z": (6,), "x": (2,), "y": (3,)}),
    ("kron_bars(z, x, y)", {"z": (4, 6), "x": (2, 3), "y": (2, 2)}),
    ("cross_bars(z, x, y)", {"z": (3,), "x": (3,), "y": (3,)}),
    ("cross_bars(z, x, y)", {"z": (2, 3), "x": (2, 3), "y": (3,)}),
    ("cross_bars(z, x, y)", {"z": (2,), "x": (2, 2), "y": (2, 2)}),
    ("cross_bars(z, x, y, axis=0)", {"z": (3, 2), "x": (3, 2), "y": (3, 2)}),
    ("multi_dot_bars(z, (a, b, c))", {"z": (2, 4), "a": (2, 3), "b": (3, 3), "c": (3, 4)}),
    ("multi_dot_bars(z, [a, b, c])", {"z": (), "a": (3,), "b": (3, 2), "c": (2,)}),
    ("einsum_bars('ij,jk->ik', z, (a, b))[1]", {"z": (2, 4), "a": (2, 3), "b": (3, 4)}),
    ("einsum_bars('ij,jk,k', z, (a, b, c))[1]", {"z": (2,), "a": (2, 3), "b": (3, 4), "c": (4,)}),
    ("einsum_bars('ii,i->i', z, (a, b))[1]", {"z": (3,), "a": (3, 3), "b": (3,)}),
    ("einsum_bars('...j,j', z, (a, b))[1]", {"z": (2, 2), "a": (2, 2, 3), "b": (3,)}),
    ("einsum_bars('ij,ij', z, (a, a))[1]", {"z": (), "a": (2, 3)}),
    (
        "einsum_bars(a, z, ([0, 1], b, [1], [0]))",
        {"z": (2,), "a": (2, 3), "b": (3,)},
    ),
    ("norm_bar(g, np.linalg.norm(x), x)", {"g": (), "x": (4,)}),
    ("norm_bar(g, y, x)", {"g": (), "y": (), "x": (4,)}),  # y moving apart from x
    ("norm_bar(g, np.linalg.norm(x, axis=1), x, None, 1)", {"g": (2,), "x": (2, 3)}),
    ("norm_bar(g, np.linalg.norm(x, 'fro'), x, 'fro')", {"g": (), "x": (2, 3)}),
    ("norm_bar(g, np.linalg.norm(x, 3), x, 3)", {"g": (), "x": (4,)}),
    ("norm_bar(g, y * y + 0.5, x, 1.5, 0, True)", {"g": (1, 3), "y": (1, 3), "x": (2, 3)}),
    ("norm_bar(g, y, x, -2)", {"g": (), "y": (), "x": (3,)}),
    ("norm_bar(g, np.linalg.norm(x, 1), x, 1)", {"g": (), "x": (4,)}),
    ("norm_bar(g, np.linalg.norm(x, np.inf), x, np.inf)", {"g": (), "x": (4,)}),
    ("norm_bar(g, np.linalg.norm(x, -np.inf, 1), x, -np.inf, 1)", {"g": (2,), "x": (2, 3)}),
    ("norm_bar(g, np.linalg.norm(x, 1), x, 1)", {"g": (), "x": (2, 3)}),
    ("norm_bar(g, np.linalg.norm(x, -np.inf), x, -np.inf)", {"g": (), "x": (3, 2)}),
    ("norm_bar(g, np.linalg.norm(x, 0), x, 0)", {"g": (), "x": (3,)}),
    ("eigvals_bar(g, a + np.diag([1.0, 2.5, 4.0]))", {"g": (3,), "a": (3, 3)}),
    ("eigvals_bar(g, a * 0.3 + np.diag([1.0, 2.5]))", {"g": (2, 2), "a": (2, 2, 2)}),
    ("eigvals_bar(g, np.triu(a) + np.diag([1.0, 3.0, 5.0]))", {"g": (3,), "a": (3, 3)}),
    ("singular_values_bar(g, a)", {"g": (3,), "a": (3, 3)}),
    ("singular_values_bar(g, a)", {"g": (2,), "a": (4, 2)}),
    ("singular_values_bar(g, a)", {"g": (2,), "a": (2, 3)}),
    ("singular_values_bar(g, a)", {"g": (2, 2), "a": (2, 2, 3)}),
    ("singular_values_bar(g * 0 + 1.0, a)", {"g": (2,), "a": (3, 2)}),
    ("norm_bar(g, np.linalg.norm(x, 'nuc'), x, 'nuc')", {"g": (), "x": (3, 2)}),
    ("norm_bar(g, np.linalg.norm(x, 2), x, 2)", {"g": (), "x": (2, 3)}),
    ("norm_bar(g, np.linalg.norm(x, -2, (0, 2)), x, -2, (0, 2))", {"g": (2,), "x": (3, 2, 3)}),
    (
        "eigh_bar(g, h, w + np.array([0.0, 2.0, 4.0]), v)",
        {"g": (3,), "h": (3, 3), "w": (3,), "v": (3, 3)},
    ),
    (
        "eigh_bar(g, h, w + np.array([0.0, 2.0]), v, 'U')",
        {"g": (2,), "h": (2, 2), "w": (2,), "v": (2, 2)},
    ),
    (
        "eigh_bar(g, h, w + np.array([0.0, 2.0]), v)",
        {"g": (2, 2), "h": (2, 2, 2), "w": (2, 2), "v": (2, 2, 2)},
    ),
    (
        "eig_bar(g, h, w + np.array([0.0, 2.0, 4.0]), v + 2 * np.eye(3))",
        {"g": (3,), "h": (3, 3), "w": (3,), "v": (3, 3)},
    ),
    (
        "eig_bar(g, h, w + np.array([0.0, 2.0]), v + 2 * np.eye(2))",
        {"g": (2, 2), "h": (2, 2, 2), "w": (2, 2), "v": (2, 2, 2)},
    ),
    ("pinv_bar(g, x, a)", {"g": (3, 2), "x": (3, 2), "a": (2, 3)}),
    ("pinv_bar(g, x, a)", {"g": (2, 4), "x": (2, 4), "a": (4, 2)}),
    ("pinv_bar(g, x, a + 2 * np.eye(3))", {"g": (3, 3), "x": (3, 3), "a": (3, 3)}),
    ("pinv_bar(g, x, a)", {"g": (2, 3, 2), "x": (2, 3, 2), "a": (2, 2, 3)}),
    ("cholesky_bar(g, np.tril(f) + 2 * np.eye(3))", {"g": (3, 3), "f": (3, 3)}),
    ("cholesky_bar(g, np.triu(f) + 2 * np.eye(2), True)", {"g": (2, 2), "f": (2, 2)}),
    ("cholesky_bar(g, np.tril(f) + 2 * np.eye(2))", {"g": (2, 2, 2), "f": (2, 2, 2)}),
    (
        "qr_bar(g, h, q, np.triu(r) + 2 * np.eye(3))",
        {"g": (3, 3), "h": (3, 3), "q": (3, 3), "r": (3, 3)},
    ),
    (
        "qr_bar(g, h, q, np.triu(r) + 2 * np.eye(2))",
        {"g": (4, 2), "h": (2, 2), "q": (4, 2), "r": (2, 2)},
    ),
    (
        "qr_bar(g, h, q, np.triu(r) + 2 * np.eye(2))",
        {"g": (2, 3, 2), "h": (2, 2, 2), "q": (2, 3, 2), "r": (2, 2, 2)},
    ),
    (
        "svd_bar((g, h, k), (u, s + np.array([3.0, 2.0, 1.0]), v), a)",
        {"g": (3, 3), "h": (3,), "k": (3, 3), "u": (3, 3), "s": (3,), "v": (3, 3), "a": (3, 3)},
    ),
    (
        "svd_bar((g, h, k), (u, s + np.array([3.0, 1.0]), v), a)",
        {"g": (4, 2), "h": (2,), "k": (2, 2), "u": (4, 2), "s": (2,), "v": (2, 2), "a": (4, 2)},
    ),
    (
        "svd_bar((g, h, k), (u, s + np.array([3.0, 1.0]), v), a)",
        {"g": (2, 2), "h": (2,), "k": (2, 3), "u": (2, 2), "s": (2,), "v": (2, 3), "a": (2, 3)},
    ),
    ("matrix_power_bar(g, a, 3)", {"g": (3, 3), "a": (3, 3)}),
    ("matrix_power_bar(g, a, 1)", {"g": (2, 2), "a": (2, 2)}),
    ("matrix_power_bar(g, a, 0)", {"g": (2, 2), "a": (2, 2)}),
    ("matrix_power_bar(g, a + 2 * np.eye(3), -2)", {"g": (3, 3), "a": (3, 3)}),
    ("matrix_power_bar(g, a, 2)", {"g": (2, 3, 3), "a": (2, 3, 3)}),
    ("eigvalsh_bar(g, a)", {"g": (3,), "a": (3, 3)}),
    ("eigvalsh_bar(g, a, 'U')", {"g": (3,), "a": (3, 3)}),
    ("eigvalsh_bar(g, a + np.swapaxes(a, -1, -2))", {"g": (2, 3), "a": (2, 3, 3)}),
    ("eigvalsh_bar(g * 0 + 1.0, a)", {"g": (3,), "a": (3, 3)}),  # w̄ equal: D = 0
    ("hypot_bars(g, math.hypot(a, b), (a, b))", {"g": (), "a": (), "b": ()}),
    ("hypot_bars(g, y, (a, b, c))", {"g": (), "y": (), "a": (), "b": (), "c": ()}),
    ("solve_bars(g, x, a + 3 * np.eye(3), b)", {"g": (3,), "x": (3,), "a": (3, 3), "b": (3,)}),
    (
        "solve_bars(g, x, a + 3 * np.eye(3), b)",
        {"g": (3, 2), "x": (3, 2), "a": (3, 3), "b": (3, 2)},
    ),
    (
        "solve_bars(g, x, a + 3 * np.eye(3), b)",
        {"g": (2, 3), "x": (2, 3), "a": (2, 3, 3), "b": (3,)},
    ),
    (
        "solve_bars(g, x, a + 3 * np.eye(3), b)",
        {"g": (2, 3, 1), "x": (2, 3, 1), "a": (2, 3, 3), "b": (3, 1)},
    ),
    ("average_bars(g, y, a, 0, w + 2, False)", {"g": (3,), "y": (3,), "a": (2, 3), "w": (2,)}),
    ("average_bars(g, y, a, None, w + 2, False)", {"g": (), "y": (), "a": (4,), "w": (4,)}),
    (
        "average_bars(g, y, a, 1, w + 2, True)",
        {"g": (2, 1), "y": (2, 1), "a": (2, 3), "w": (2, 3)},
    ),
    ("prod_bar(g, x)", {"g": (), "x": (4,)}),
    ("prod_bar(g, x, axis=0)", {"g": (3,), "x": (2, 3)}),
    ("prod_bar(g, x, axis=1, keepdims=True)", {"g": (2, 1), "x": (2, 3)}),
    ("prod_bar(g, x, axis=(0, 2))", {"g": (3,), "x": (2, 3, 2)}),
    ("prod_bar(g, x * np.array([1.0, 0.0, 1.0, 1.0]))", {"g": (), "x": (4,)}),  # one zero
    ("prod_bar(g, x * np.array([0.0, 1.0, 0.0]))", {"g": (), "x": (3,)}),  # two zeros
    ("delete_bar(g, x, [0, 2], 1)", {"g": (2, 2), "x": (2, 4)}),
    ("insert_bars(g, x, 1, v)", {"g": (5,), "x": (3,), "v": (2,)}),
    ("compress_bar(g, [True, False, True], x, 0)", {"g": (2, 2), "x": (3, 2)}),
    ("extract_bar(g, np.array([True, False, True]), x)", {"g": (2,), "x": (3,)}),
    ("resize_bar(g, x, (2, 3))", {"g": (2, 3), "x": (4,)}),
    ("choose_bar(g, np.array([0, 1, 1]), (a, b))", {"g": (3,), "a": (3,), "b": ()}),
    ("unstack_bar((g, h), x, 1)", {"g": (3,), "h": (3,), "x": (3, 2)}),
    ("block_bar(g, [[a, b], [b, a]])", {"g": (4, 5), "a": (2, 2), "b": (2, 3)}),
    ("without_initial(g, 0, True)", {"g": (4, 2)}),
    ("ediff1d_bars(g, x, e, b)", {"g": (6,), "x": (4,), "e": (), "b": (2,)}),
    ("polyadd_bars(g, a, b, -1.0)", {"g": (4,), "a": (2,), "b": (4,)}),
    ("polyder_bar(g, p, 2)", {"g": (3,), "p": (5,)}),
    ("polyint_bars(g, p, 2, k)", {"g": (5,), "p": (3,), "k": (2,)}),
    ("convolve_bars(g, a, v, 'same')", {"g": (5,), "a": (5,), "v": (3,)}),
    ("convolve_a_bar(g, a, v, 'valid')", {"g": (3,), "a": (5,), "v": (3,)}),
    ("convolve_a_bar(g, a, v, 'valid')", {"g": (3,), "a": (3,), "v": (5,)}),  # a the shorter
    ("convolve_a_bar(g, a, v)", {"g": (6,), "a": (4,), "v": (3,)}),
    # the valid part of a full convolution, a the longer and the shorter; another part
    (
        "convolve_a_bar_of_part(g, z, slice(2, 5), a, v)",
        {"g": (3,), "z": (7,), "a": (5,), "v": (3,)},
    ),
    (
        "convolve_a_bar_of_part(g, z, slice(2, 5), a, v)",
        {"g": (3,), "z": (7,), "a": (3,), "v": (5,)},
    ),
    (
        "convolve_a_bar_of_part(g, z, slice(1, 4), a, v)",
        {"g": (3,), "z": (7,), "a": (5,), "v": (3,)},
    ),
    ("correlate_bars(g, a, v, 'full')", {"g": (6,), "a": (2,), "v": (5,)}),
    ("polymul_bars(g, a, v)", {"g": (4,), "a": (2,), "v": (3,)}),
    ("vecdot_bars(g, a, b, 0)", {"g": (2,), "a": (3, 2), "b": (3, 1)}),
    ("cov_bars(g, x, y, False)", {"g": (3, 3), "x": (5, 2), "y": (5,)}),
    ("cov_bars(g, x)", {"g": (2, 2), "x": (2, 4)}),
    ("trapezoid_bars(g, y, x)", {"g": (2,), "y": (2, 4), "x": (4,)}),
    ("trapezoid_bars(g, y, None, d, 0)", {"g": (3,), "y": (4, 3), "d": ()}),
    ("trapezoid_bars(g, y, x, d, 1)", {"g": (2,), "y": (2, 3), "x": (2, 3), "d": ()}),
    ("vector_norm_bar(g, np.linalg.vector_norm(x), x)", {"g": (), "x": (2, 3)}),
    (
        "vector_norm_bar(g, np.linalg.vector_norm(x, axis=0, ord=3), x, 3, 0)",
        {"g": (3,), "x": (2, 3)},
    ),
    (
        "tensorsolve_bars(g, x, np.reshape(a + 3.0 * np.eye(4), (2, 2, 4)), b)",
        {"g": (4,), "x": (4,), "a": (4, 4), "b": (2, 2)},
    ),
    (
        "tensorsolve_bars(g, x, np.reshape(a + 3.0 * np.eye(4), (4, 2, 2)), b, (0,))",
        {"g": (4,), "x": (4,), "a": (4, 4), "b": (2, 2)},
    ),
    ("tensorinv_bar(g, y, np.zeros((2, 2, 4)))", {"g": (4, 2, 2), "y": (4, 2, 2)}),
    ("tensorinv_bar(g, y, np.zeros((3, 3)), 1)", {"g": (3, 3), "y": (3, 3)}),
    ("vander_bar(g, x, 4)", {"g": (3, 4), "x": (3,)}),
    ("vander_bar(g, x, 3, True)", {"g": (2, 3), "x": (2,)}),
    ("bessel_i1(x * 3.0)", {"x": (4,)}),
    ("bessel_i1(x * 0.0) + x", {"x": (2,)}),
    ("cumprod_bar(g, x)", {"g": (4,), "x": (4,)}),
    ("cumprod_bar(g, x, axis=1)", {"g": (2, 3), "x": (2, 3)}),
    ("cumprod_bar(g, x, axis=0)", {"g": (3,), "x": (2, 3)}),  # ȳ broadcast
    ("cumprod_bar(g, x)", {"g": (6,), "x": (2, 3)}),
    ("cumprod_bar(g, x * np.array([1.0, 0.0, 1.0, 1.0]))", {"g": (4,), "x": (4,)}),
    ("cumprod_bar(g, x * np.array([1.0, 0.0, 1.0, 0.0, 1.0]))", {"g": (5,), "x": (5,)}),
    ("digamma(x + 2.5)", {"x": ()}),
    ("digamma(x + 14.0)", {"x": ()}),
    ("digamma(x - 0.4)", {"x": ()}),  # reflection
    ("digamma(x * 0.1 - 2.5)", {"x": ()}),
    ("sinc_slope(x)", {"x": (4,)}),
    ("sinc_slope(x * 0.0009)", {"x": (3,)}),  # the Taylor series
    ("sinc_slope(x * 2.0)", {"x": ()}),
    ("sequence_bar((g, h), [a, b])", {"g": (2,), "h": (2,), "a": (2,), "b": (2,)}),
    ("sequence_bar([g, h], x)", {"g": (3,), "h": (3,), "x": (2, 3)}),
    ("sorted_bar([g, h, k], [a, b, c])", {"g": (), "h": (), "k": (), "a": (), "b": (), "c": ()}),
    ("sorted_bar([g, h, k], x, reverse=True)", {"g": (), "h": (), "k": (), "x": (3,)}),
    ("unsplit((g, h), x, 2)", {"g": (2, 3), "h": (2, 3), "x": (4, 3)}),
    ("unsplit((g, h), x, [1], axis=1)", {"g": (2, 1), "h": (2, 2), "x": (2, 3)}),
    ("unbroadcast_each((g, h), (a, b))", {"g": (2, 3), "h": (2, 3), "a": (3,), "b": (2, 1)}),
    ("undiff(g, x)[0]", {"g": (3,), "x": (4,)}),
    ("undiff(g, x, 2, 0, a, b)", {"g": (4, 2), "x": (3, 2), "a": (), "b": (1, 2)}),
    ("gradient_bar(g, x, ())", {"g": (5,), "x": (5,)}),
    ("gradient_bar(g, x, (2.0,), axis=1, edge_order=2)", {"g": (2, 4), "x": (2, 4)}),
    ("pad_constants_bar(g, x, 1, 0.0)", {"g": (5,), "x": (3,)}),
    ("pad_constants_bar(g, x, 1, c)", {"g": (5,), "x": (3,), "c": ()}),  # c moving: no term
    ("pad_constants_bar(g, x, 1, c)", {"g": (5,), "x": (3,), "c": (1, 2)}),
    ("pad_constants_bar(g, x, ((1, 0), (0, 2)), np.zeros((2, 2)))", {"g": (3, 4), "x": (2, 2)}),
    (
        "select_bars(g, np.select([x > 0], [x * y], y), [x > 0], [x * y], y)",
        {"g": (4,), "x": (4,), "y": ()},
    ),
    # the helpers of rules_ufuncs.py
    ("widened(x, y)", {"x": (2,), "y": (3,)}),
    ("widened(x, y)", {"x": (2, 2), "y": ()}),
    ("running_extremum_bar(g, np.maximum.accumulate(a), a, 0)", {"g": (4,), "a": (4,)}),
    ("running_extremum_bar(g, np.minimum.accumulate(a, 1), a, 1)", {"g": (2, 3), "a": (2, 3)}),
    ("log_accumulate_bar(g, np.logaddexp.accumulate(a), a)", {"g": (4,), "a": (4,)}),
    (
        "log_accumulate_bar(g, np.logaddexp2.accumulate(a, 1), a, 1, True)",
        {"g": (2, 3), "a": (2, 3)},
    ),
    ("compress_bar(g, [True, False, True], x)", {"g": (2,), "x": (3,)}),
    ("compress_bar(g, [False, True], x, 1)", {"g": (3, 1), "x": (3, 2)}),
    ("choose_bar(g, np.array([0, 1, 1]), [x, y])", {"g": (3,), "x": (3,), "y": ()}),
    ("choose_bar(g, np.array([2, 0]), x, 'wrap')", {"g": (2,), "x": (2, 2)}),
    ("tolist_bar(g, x)", {"g": (2, 3), "x": (2, 3)}),
    ("tolist_bar((g[0], 0.0, g[1]), x)", {"g": (2,), "x": (3,)}),
]

_PROBE_HELPERS = """
def take_in_place_both(g):
    owned = g * 1.0
    part = take_in_place(owned, slice(1, 3))
    return part, owned
"""


def _draw(shape, rng):
    return float(rng.uniform(-1, 1)) if shape == () else rng.uniform(-1, 1, size=shape)


def _flat(value) -> np.ndarray:
    """Every number of a result (an array, a number, or tuples and lists of them), in order."""
    if isinstance(value, tuple | list):
        parts = [_flat(part) for part in value]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(value, dtype=np.float64))


def _probe(expression, names):
    source = f"{_PROBE_HELPERS}\n\ndef probe({', '.join(names)}):\n    return {expression}\n"
    return define(source, "probe", namespace=HELPERS)


@pytest.mark.parametrize("expression, shapes", SAMPLES, ids=lambda v: str(v))
def test_helper_tangent_against_differences(expression, shapes):
    rng = np.random.default_rng(zlib.crc32(f"tangent {expression}{shapes}".encode()))
    names = list(shapes)
    args = [_draw(shapes[n], rng) for n in names]
    probe = _probe(expression, names)
    everything = tuple(range(len(names)))
    for wrt in [everything] + ([(i,) for i in everything] if len(names) > 1 else []):
        tangents = [_draw(shapes[names[i]], rng) for i in wrt]
        value, derivative = overbar.jvp(probe, args, tangents, wrt=wrt)
        np.testing.assert_allclose(_flat(value), _flat(probe(*args)), rtol=1e-12)
        assert _flat(derivative).shape == _flat(value).shape

        def at(step, wrt=wrt, tangents=tangents):
            moved = list(args)
            for i, tangent in zip(wrt, tangents, strict=True):
                shifted = np.asarray(args[i]) + step * np.asarray(tangent)
                moved[i] = float(shifted) if shapes[names[i]] == () else shifted
            return _flat(probe(*moved))

        numeric = (at(1e-6) - at(-1e-6)) / 2e-6
        np.testing.assert_allclose(
            _flat(derivative), numeric, rtol=1e-6, atol=1e-8, err_msg=f"wrt {wrt}"
        )


REFUSED = [
    # (the probe's body, its parameters and arguments, what the refusal names)
    ("norm_bar(g, np.linalg.norm(x, 1), x, 1)", {"g": 1.0, "x": [0.0, 1.0, -2.0]}, "element 0"),
    ("norm_bar(g, np.linalg.norm(x, 1.5), x, 1.5)", {"g": 1.0, "x": [0.0, 1.0]}, "element 0"),
    ("norm_bar(g, np.linalg.norm(x, np.inf), x, np.inf)", {"g": 1.0, "x": [2.0, -2.0]}, "tie"),
    ("norm_bar(g, np.linalg.norm(x, 1), x, 1)", {"g": 1.0, "x": [[1.0, 2.0], [2.0, 1.0]]}, "tie"),
    (
        "norm_bar(g, np.linalg.norm(x, 2), x, 2)",
        {"g": 1.0, "x": [[1.0, 0.0], [0.0, 1.0]]},
        "repeat",
    ),
    (
        "norm_bar(g, np.linalg.norm(x, 'nuc'), x, 'nuc')",
        {"g": 1.0, "x": [[1.0, 0.0]] * 2},
        "value 0",
    ),
    ("singular_values_bar(g, a)", {"g": [1.0, 2.0], "a": [[2.0, 0.0], [0.0, 2.0]]}, "repeat"),
    (  # rank 1 in floating point: its second singular value is about 1e-17, not 0
        "norm_bar(g, np.linalg.norm(np.outer(a, b), 'nuc'), np.outer(a, b), 'nuc')",
        {"g": 1.0, "a": [0.522, -1.121, -0.17], "b": [0.19, -1.02]},
        "singular value 0",
    ),
    (  # eigenvalues 1 and 1 + ε (2.2e-16): not told apart
        "eigh_bar(g, 0 * v, w, v)",
        {"g": [1.0, 2.0], "w": [1.0, np.nextafter(1.0, 2.0)], "v": np.eye(2).tolist()},
        "repeated",
    ),
    ("hypot_bars(g, math.hypot(a, b), (a, b))", {"g": 1.0, "a": 0.0, "b": 0.0}, "hypot"),
    ("eigvalsh_bar(g, a)", {"g": [1.0, 2.0], "a": [[1.0, 0.0], [0.0, 1.0]]}, "repeated"),
    (
        "eigh_bar(g, 0 * v, w, v)",
        {"g": [1.0, 2.0], "w": [1.0, 1.0], "v": np.eye(2).tolist()},
        "repeated",
    ),
    (
        "eig_bar(g, 0 * v, w, v)",
        {"g": [1.0, 2.0], "w": [3.0, 3.0], "v": np.eye(2).tolist()},
        "repeated",
    ),
    ("eigvals_bar(g, a)", {"g": [1.0, 2.0], "a": [[2.0, 1.0], [0.0, 2.0]]}, "repeated"),
]


@pytest.mark.parametrize("expression, arguments, named", REFUSED, ids=lambda v: str(v))
def test_helper_tangent_refused_where_there_is_no_derivative(expression, arguments, named):
    """At a kink (an element 0 of a 1- or p-norm, p < 2; hypot at 0), a tie (the largest
    magnitudes or column sums of an ∞- or 1-norm), or a second derivative overbar does not
    have, the tangent is refused with NoDerivativeError naming it: never a number."""
    names = list(arguments)
    args = [a if isinstance(a, float) else np.array(a) for a in arguments.values()]
    probe = _probe(expression, names)
    probe(*args)  # the helper itself runs
    tangents = [np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args]
    with pytest.raises(overbar.NoDerivativeError, match=named):
        overbar.jvp(probe, args, tangents, wrt=tuple(range(len(args))))


def _with_adjoint_rule(expression: str) -> bool:
    helper = HELPERS.get(expression.split("(")[0])
    return helper is not None and isinstance(RULES.lookup(helper), list)


@pytest.mark.parametrize(
    "expression, shapes",
    [sample for sample in SAMPLES if _with_adjoint_rule(sample[0])],
    ids=lambda v: str(v),
)
def test_helper_tangent_against_its_adjoint_rule(expression, shapes):
    """<J v, u> = <v, Jᵀ u>: the jvp against the gradient of Σ helper(...) ∘ u."""
    rng = np.random.default_rng(zlib.crc32(f"dot {expression}{shapes}".encode()))
    names = list(shapes)
    args = [_draw(shapes[n], rng) for n in names]
    probe = _probe(expression, names)
    if isinstance(probe(*args), tuple | list):
        pytest.skip("a container's adjoint rule is checked by finite differences (test_hessians)")
    u = rng.standard_normal(np.shape(probe(*args)))
    weighted = define(
        f"def f({', '.join([*names, 'u'])}):\n    return np.sum(({expression}) * u)\n",
        namespace=HELPERS,
    )
    everything = tuple(range(len(names)))
    gradients = overbar.grad(weighted, wrt=everything)(*args, u)
    gradients = gradients if len(names) > 1 else (gradients,)
    tangents = [_draw(shapes[n], rng) for n in names]
    _, derivative = overbar.jvp(probe, args, tangents, wrt=everything)
    forward = float(np.sum(np.asarray(derivative) * u))
    backward = sum(
        float(np.sum(np.asarray(g) * np.asarray(t)))
        for g, t in zip(gradients, tangents, strict=True)
    )
    assert forward == pytest.approx(backward, rel=1e-9, abs=1e-12)


def _rules_of(kind_table) -> set[str]:
    return {
        rules[0].primal.__name__
        for rules in kind_table.values()
        if rules[0].function.__module__ == "overbar.runtime.rules_helpers"
    }


def test_every_helper_adjoint_rule_has_a_tangent_rule():
    adjoints, tangents = _rules_of(RULES.rules), _rules_of(RULES.tangents)
    assert adjoints and adjoints <= tangents, f"without tangent rules: {adjoints - tangents}"


def test_every_helper_tangent_rule_has_samples():
    sampled = {expression.split("(")[0] for expression, _ in SAMPLES}
    sampled |= {"take_in_place"}  # through take_in_place_both, which zeroes in place too
    tangents = _rules_of(RULES.tangents)
    assert tangents <= sampled, f"tangent rules without samples: {tangents - sampled}"
