"""Rewrites met in the adjoints of functions over rows (layer norm, softmax, LSTM gates): where
each applies, where a side condition fails (the rewrite must then not fire), and the gradient
right either way, against finite differences and against every pass switched off."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define

SWITCHES = [Optimisations.none()] + [
    replace(Optimisations(), **{name: False}) for name in Optimisations.names()
]


def code_of(text: str) -> str:
    """The generated source without its comments (which quote the user's lines)."""
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))


def agrees_everywhere(f, args, wrt=(0,)):
    """The gradient of ``f`` is right (finite differences) and the same with each pass off."""
    overbar.check_grad(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    optimised = optimised if isinstance(optimised, tuple) else (optimised,)
    for optimisations in SWITCHES:
        other = overbar.grad(f, wrt=wrt, optimise=optimisations, check=False)(*args)
        other = other if isinstance(other, tuple) else (other,)
        for mine, theirs in zip(optimised, other, strict=True):
            assert np.shape(mine) == np.shape(theirs)
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


# -- a factor the same along the summed axes moves out of the sum --------------------------------

# the adjoint of the divisor s, a column, of x / s is -(ȳ * y / s) summed over the rows
NORMALISED_ROWS = (
    "def f(x, r):\n"
    "    s = np.sqrt(np.sum(x * x, axis=1, keepdims=True) + 1.0)\n"
    "    return np.sum(x / s * r)\n"
)


def test_a_column_divisor_divides_the_row_sums_not_every_term():
    f = define(NORMALISED_ROWS)
    rng = np.random.default_rng(0)
    x, r = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    code = code_of(overbar.grad(f).source_for(x, r))
    assert ".sum(axis=1, keepdims=True) / s" in code, code
    agrees_everywhere(f, [x, r])


def test_a_column_put_back_by_indexing_divides_the_row_sums_too():
    f = define(
        "def f(x, r):\n"
        "    c = x - np.mean(x, axis=1)[:, None]\n"
        "    s = np.sqrt(np.mean(c * c, axis=1) + 1.0)[:, None]\n"
        "    return np.sum(c / s * r)\n"
    )
    rng = np.random.default_rng(1)
    x, r = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    code = code_of(overbar.grad(f).source_for(x, r))
    assert ".sum(axis=1, keepdims=True) / s" in code, code
    agrees_everywhere(f, [x, r])


@pytest.mark.parametrize("shape", [(4, 3), (1, 3), (4, 1), (2, 4, 3)])
def test_a_row_divisor_divides_the_column_sums_that_drop_their_axis(shape):
    # s has no axis 0: summed over axis 0 without keepdims, the sums line up with s still
    f = define(
        "def f(x, r):\n"
        "    s = np.sqrt(np.mean(x * x, axis=0) + 1.0)\n"
        "    return np.sum(x / s * r)\n"
    )
    rng = np.random.default_rng(18)
    x, r = rng.normal(size=shape), rng.normal(size=shape)
    code = code_of(overbar.grad(f).source_for(x, r))
    if shape == (4, 3):
        assert ".sum(axis=0) / s" in code, code
    agrees_everywhere(f, [x, r], wrt=(0, 1))


def test_a_sum_that_drops_the_summed_axes_keeps_a_column_factor():
    # the column would broadcast against the row sums the other way: it stays in the sum
    f = define(
        "def f(x, r):\n"
        "    s = np.sqrt(np.sum(x * x, axis=1, keepdims=True) + 1.0)\n"
        "    return np.sum(np.sum(x / s * r, axis=1) ** 2)\n"
    )
    rng = np.random.default_rng(7)
    x, r = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    agrees_everywhere(f, [x, r], wrt=(0, 1))


@pytest.mark.parametrize("shape", [(4, 3), (4, 1), (1, 3), (2, 4, 3)])
def test_a_factor_that_varies_along_the_summed_axis_stays_in_the_sum(shape):
    # x * w with w a full array: the adjoint of the column c sums ȳ * w * x, w varies along rows
    f = define(
        "def f(x, w):\n"
        "    c = np.sum(x, axis=-1, keepdims=True)\n"
        "    return np.sum(c * w * x)\n"
    )
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=shape), rng.normal(size=shape)
    agrees_everywhere(f, [x, w], wrt=(0, 1))


def test_a_factor_of_unknown_shape_stays_in_the_sum():
    f = define(
        "def f(x, k):\n"
        "    s = np.sum(x, axis=k, keepdims=True) + 2.0\n"
        "    return np.sum(x / s)\n"
    )
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 1.0, size=(3, 4))
    for k in (0, 1):
        agrees_everywhere(f, [x, k])


def test_a_factor_of_higher_rank_than_the_other_factors_stays_in_the_sum():
    # t (rows) / s (a stack of columns): the quotient has s's rank, the axes t has are others
    f = define("def f(t, s):\n" "    return np.sum(np.sum(t / s, axis=0) ** 2)\n")
    rng = np.random.default_rng(4)
    t, s = rng.normal(size=(3,)), rng.uniform(1.0, 2.0, size=(2, 1))
    code = code_of(overbar.grad(f, wrt=(0, 1)).source_for(t, s))
    agrees_everywhere(f, [t, s], wrt=(0, 1))
    assert code


def test_a_number_moves_out_of_a_sum_over_every_axis():
    f = define(
        "def f(x, a):\n" "    s = np.sqrt(np.sum(x * x) + 1.0)\n" "    return np.sum(x / s * a)\n"
    )
    rng = np.random.default_rng(5)
    x, a = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    agrees_everywhere(f, [x, a], wrt=(0, 1))


@pytest.mark.parametrize("shape", [(3, 4), (3, 1), (1, 4), (2, 3, 4)])
def test_layer_norm_over_rows_at_several_shapes(shape):
    f = define(
        "def f(x, g, r):\n"
        "    mu = np.mean(x, axis=-1, keepdims=True)\n"
        "    c = x - mu\n"
        "    y = c / np.sqrt(np.mean(c**2, axis=-1, keepdims=True) + 1e-3)\n"
        "    return np.sum((y * g) * r)\n"
    )
    rng = np.random.default_rng(6)
    x, r = rng.normal(size=shape), rng.normal(size=shape)
    g = rng.normal(size=shape[-1:])
    agrees_everywhere(f, [x, g, r], wrt=(0, 1))


# -- 1.0 * R, the adjoint of np.sum(y * R), shares R where only arithmetic reads it ---------------

WEIGHTED_ROWS = (
    "def f(x, g, R):\n"
    "    y = x / np.sqrt(np.sum(x * x, axis=1, keepdims=True) + 1.0) * g\n"
    "    return np.sum(y * R)\n"
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_a_weighting_read_only_by_arithmetic_is_shared_whatever_its_dtype(dtype):
    f = define(WEIGHTED_ROWS)
    rng = np.random.default_rng(8)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=3)
    R = (rng.normal(size=(4, 3)) * 3).astype(dtype)
    code = code_of(overbar.grad(f, wrt=(0, 1)).source_for(x, g, R))
    assert "as_floating(R)" in code and "1.0 * R" not in code, code
    gradients = overbar.grad(f, wrt=(0, 1))(x, g, R)
    literal = overbar.grad(f, wrt=(0, 1), optimise=Optimisations.none(), check=False)(x, g, R)
    for mine, theirs in zip(gradients, literal, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_allclose(mine, theirs, rtol=1e-5)
    if dtype is np.float64:
        agrees_everywhere(f, [x, g, R], wrt=(0, 1))


def test_the_helper_shares_only_floating_arrays():
    from overbar.runtime.helpers import as_floating

    a = np.ones(3)
    assert as_floating(a) is a
    assert as_floating(np.ones(3, dtype=np.float32)).dtype == np.float32
    made = as_floating(np.arange(3))
    assert made.dtype == np.float64 and made.tolist() == [0.0, 1.0, 2.0]
    assert as_floating(np.array([True, False])).dtype == np.float64
    assert as_floating(2) == 2.0 and type(as_floating(2)) is float


def test_a_weighting_returned_as_a_gradient_stays_a_copy():
    # x_bar = 1.0 * R is returned: sharing R would hand the caller R itself
    f = define("def f(x, R):\n    return np.sum(x * R)\n")
    rng = np.random.default_rng(9)
    x, R = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    code = code_of(overbar.grad(f).source_for(x, R))
    assert "as_floating" not in code, code
    gradient = overbar.grad(f)(x, R)
    assert gradient is not R and not np.shares_memory(gradient, R)
    np.testing.assert_array_equal(gradient, R)


def test_a_weighting_read_in_a_loop_keeps_its_dtype_and_value():
    # the copy's reads are not at the reverse sweep's top level: it stays a copy
    f = define(
        "def f(x, R):\n"
        "    total = 0.0\n"
        "    for i in range(x.shape[0]):\n"
        "        total = total + np.sum(np.tanh(x[i]) * R)\n"
        "    return total\n"
    )
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 2))
    for R in (rng.normal(size=2), np.array([1, -2])):
        literal = overbar.grad(f, optimise=Optimisations.none(), check=False)(x, R)
        gradient = overbar.grad(f)(x, R)
        assert gradient.dtype == literal.dtype == np.float64
        np.testing.assert_allclose(gradient, literal, rtol=1e-12)
    agrees_everywhere(f, [x, rng.normal(size=2)])


# -- the pieces of np.split and its kin have known shapes -----------------------------------------

GATES = (
    "def f(W, b, xs, h0):\n"
    "    h, c = h0, np.zeros_like(h0)\n"
    "    for t in range(len(xs)):\n"
    "        gates = np.dot(xs[t], W) + b\n"
    "        i, f, o, g = np.split(gates, 4, axis=1)\n"
    "        c = np.tanh(f) * c + np.tanh(i) * np.tanh(g)\n"
    "        h = np.tanh(o) * np.tanh(c)\n"
    "    return np.sum(h * h)\n"
)


@pytest.mark.parametrize("hidden", [3, 1])
def test_the_gates_split_from_one_array_need_no_general_helpers(hidden):
    f = define(GATES)
    rng = np.random.default_rng(11)
    W = rng.normal(size=(2, 4 * hidden))
    b = rng.normal(size=4 * hidden)
    xs, h0 = rng.normal(size=(3, 5, 2)), rng.normal(size=(5, hidden))
    code = code_of(overbar.grad(f, wrt=(0, 1)).source_for(W, b, xs, h0))
    assert "dot_right_bar" not in code and "dot_left_bar" not in code, code
    agrees_everywhere(f, [W, b, xs, h0], wrt=(0, 1))


def test_pieces_of_one_column_broadcast_against_wider_arrays():
    # each piece of a (3, 2) array cut in 2 is a column: i * W broadcasts it over W's columns
    f = define(
        "def f(a, W):\n"
        "    i, g = np.split(a, 2, axis=1)\n"
        "    return np.sum(i * W + g * g * W)\n"
    )
    rng = np.random.default_rng(12)
    agrees_everywhere(f, [rng.normal(size=(3, 2)), rng.normal(size=(3, 4))], wrt=(0, 1))


@pytest.mark.parametrize(
    "call",
    [
        "np.split(x, (1, 3))",
        "np.split(x, (3, 1))",  # pieces overlap: x[:3], x[3:1] (empty), x[1:]
        "np.split(x, [2])",
        "np.array_split(x, 3)",  # 5 into 2, 2, 1
        "np.array_split(x, (2, 4))",
        "np.hsplit(x, 5)",
        "np.split(x, 5, axis=-1)",
    ],
)
def test_the_pieces_of_a_vector_get_their_adjoints(call):
    f = define(
        "def f(x, w):\n"
        f"    pieces = {call}\n"
        "    total = 0.0\n"
        "    for k, piece in enumerate(pieces):\n"
        "        total = total + (k + 1.0) * np.sum(piece * piece * w[: piece.shape[0]])\n"
        "    return total\n"
    )
    rng = np.random.default_rng(13)
    agrees_everywhere(f, [rng.normal(size=5), rng.normal(size=5)], wrt=(0, 1))


@pytest.mark.parametrize(
    "call, shape",
    [
        ("np.vsplit(x, 2)", (4, 3)),
        ("np.hsplit(x, (1,))", (4, 3)),
        ("np.dsplit(x, 2)", (2, 3, 4)),
        ("np.split(x, 2, axis=-2)", (2, 4, 3)),
        ("np.split(x, (1,), axis=1)", (2, 3, 4)),
    ],
)
def test_the_pieces_of_an_array_cut_along_an_axis(call, shape):
    f = define(
        "def f(x):\n" f"    a, b = {call}\n" "    return np.sum(np.sin(a) * a) + np.sum(b ** 3)\n"
    )
    agrees_everywhere(f, [np.random.default_rng(14).normal(size=shape)])


def test_the_adjoint_of_equal_pieces_is_their_concatenation_and_overlaps_still_add():
    from overbar.runtime.helpers_arrays import unsplit

    rng = np.random.default_rng(15)
    x = rng.normal(size=(3, 6))
    pieces = [rng.normal(size=(3, 2)) for _ in range(3)]
    np.testing.assert_array_equal(unsplit(pieces, x, 3, 1), np.concatenate(pieces, axis=1))
    # a piece's adjoint not of its piece's shape (broadcast): the general path adds it
    made = unsplit([pieces[0], np.ones((1, 2)), pieces[2]], x, 3, 1)
    np.testing.assert_array_equal(made[:, 2:4], 1.0)
    np.testing.assert_array_equal(made[:, :2], pieces[0])
    # overlapping index sections add up where the pieces overlap
    v = np.arange(5.0)
    bars = [np.ones(3), np.ones(0), np.ones(4)]
    np.testing.assert_array_equal(unsplit(bars, v, (3, 1)), [1.0, 2.0, 2.0, 1.0, 1.0])


# -- np.swapaxes, np.moveaxis and np.transpose with axes keep their shapes known -------------------


def test_a_product_with_swapped_axes_is_specialised():
    f = define(
        "def f(Q, K, R):\n"
        "    S = Q @ np.swapaxes(K, 0, 1)\n"
        "    return np.sum(np.tanh(S) @ K * R)\n"
    )
    rng = np.random.default_rng(16)
    Q, K, R = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    code = code_of(overbar.grad(f, wrt=(0, 1)).source_for(Q, K, R))
    assert "matmul_left_bar" not in code and "matmul_right_bar" not in code, code
    agrees_everywhere(f, [Q, K, R], wrt=(0, 1))


@pytest.mark.parametrize(
    "expression",
    [
        "np.swapaxes(x, 0, -1)",
        "x.swapaxes(1, 2)",
        "np.moveaxis(x, 0, -1)",
        "np.moveaxis(x, (0, 1), (2, 0))",
        "np.transpose(x, (1, 0, 2))",
        "np.transpose(x, (2, 0, 1))",
        "x.transpose()",
    ],
)
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 3, 4), (2, 1, 1)])
def test_axes_rearranged_then_broadcast_against_a_row(expression, shape):
    f = define("def f(x, w):\n" f"    y = {expression}\n" "    return np.sum(np.sin(y) * w * y)\n")
    rng = np.random.default_rng(17)
    x = rng.normal(size=shape)
    w = rng.normal(size=eval(expression, {"np": np, "x": x}).shape[-1:])
    agrees_everywhere(f, [x, w], wrt=(0, 1))


def test_the_shared_weighting_is_differentiated_again_for_a_hessian():
    # forward over reverse through y_bar = as_floating(R), with R differentiated as well
    f = define(WEIGHTED_ROWS)
    rng = np.random.default_rng(19)
    x, g, R = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))
    assert "as_floating(R)" in overbar.grad(f, wrt=(0, 1)).source_for(x, g, R)
    gradient = overbar.grad(f, wrt=(0, 2))
    vectors = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    products = overbar.hvp(f, (x, g, R), vectors, wrt=(0, 2))
    step = 1e-6
    ahead = gradient(x + step * vectors[0], g, R + step * vectors[1])
    behind = gradient(x - step * vectors[0], g, R - step * vectors[1])
    for product, plus, minus in zip(products, ahead, behind, strict=True):
        np.testing.assert_allclose(product, (plus - minus) / (2 * step), rtol=1e-5, atol=1e-7)
