"""Per-step products of a reverse loop summed after it (``hoist.py``): where the rewrite
applies (vectors, matrices side by side, rows stacked, sums sharing the collected values),
where a side condition fails, and the gradient against the literal adjoint and differences."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime.helpers import sum_of_outers, sum_of_products, sum_of_values
from tests.support import define

RNN = """
def f(W, U, b, xs):
    h = np.zeros(W.shape[0])
    total = 0.0
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
        total = total + np.sum(h * h)
    return total
"""

BATCHED_COLUMNS = """
def f(W, U, b, Xs):
    H = np.zeros((W.shape[0], Xs.shape[2]))
    for X in Xs:
        H = np.tanh(W @ H + U @ X + b)
    return np.sum(H ** 2)
"""

BATCHED_ROWS = """
def f(W, U, b, Xs):
    H = np.zeros((Xs.shape[1], W.shape[1]))
    for X in Xs:
        H = np.tanh(H @ W + X @ U + b)
    return np.sum(H ** 2)
"""

READ_IN_THE_LOOP = """
def f(W, xs):
    h = np.zeros(W.shape[0])
    total = 0.0
    for x in xs:
        h = np.tanh(W @ h + x)
        total = total + np.sum(h) * np.sum(W)
    return total
"""


def rnn_arguments(rng, hidden, inputs, steps):
    return [
        rng.normal(size=(hidden, hidden)) * 0.4,
        rng.normal(size=(hidden, inputs)) * 0.4,
        rng.normal(size=hidden) * 0.1,
        rng.normal(size=(steps, inputs)),
    ]


def agree(f, args, wrt):
    optimised = overbar.grad(f, wrt=wrt)(*args)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    for mine, theirs in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    overbar.check_grad(f, args, wrt=wrt)


@pytest.mark.parametrize("hidden, inputs, steps", [(4, 3, 5), (1, 1, 3), (3, 2, 1), (2, 2, 0)])
def test_an_rnn_sums_its_weights_adjoints_after_the_loop(hidden, inputs, steps):
    f = define(RNN)
    args = rnn_arguments(np.random.default_rng(hidden + steps), hidden, inputs, steps)
    text = overbar.grad(f, wrt=(0, 1, 2)).source_for(*args)
    assert "sum_of_outers(" in text and "np.outer(" not in text
    assert "sum_of_values(" in text
    if steps:
        agree(f, args, (0, 1, 2))
    else:
        W_bar, U_bar, b_bar = overbar.grad(f, wrt=(0, 1, 2))(*args)
        assert not W_bar.any() and W_bar.shape == args[0].shape


@pytest.mark.parametrize("source", [BATCHED_COLUMNS, BATCHED_ROWS])
@pytest.mark.parametrize("batch", [1, 3])
def test_batched_states_sum_one_product_of_the_steps_side_by_side(source, batch):
    f = define(source)
    rng = np.random.default_rng(batch)
    W, U = rng.normal(size=(3, 3)) * 0.4, rng.normal(size=(3, 2)) * 0.4
    if source is BATCHED_COLUMNS:
        args = [W, U, rng.normal(size=(3, 1)), rng.normal(size=(4, 2, batch))]
    else:
        args = [W, U.T, rng.normal(size=3), rng.normal(size=(4, batch, 2))]
    text = overbar.grad(f, wrt=(0, 1, 2)).source_for(*args)
    assert "sum_of_products(" in text
    agree(f, args, (0, 1, 2))


def test_an_adjoint_read_in_the_loop_is_not_hoisted():
    f = define(READ_IN_THE_LOOP)
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(3, 3)) * 0.4, rng.normal(size=(4, 3))]
    text = overbar.grad(f, wrt=(0,)).source_for(*args)
    assert "sum_of_outers(" not in text
    agree(f, args, (0,))


def test_the_helpers_fall_back_to_adding_step_by_step():
    rng = np.random.default_rng(0)
    a, b = [rng.normal(size=3) for _ in range(4)], [rng.normal(size=2) for _ in range(4)]
    expected = sum(np.outer(x, y) for x, y in zip(a, b, strict=True))
    np.testing.assert_allclose(sum_of_outers(a, b), expected)
    mixed = [0.0, *a[1:]]  # a runtime zero among the steps
    np.testing.assert_allclose(sum_of_outers(mixed, b), expected - np.outer(a[0], b[0]))
    assert sum_of_outers([], []) == 0.0 and sum_of_values([]) == 0.0
    np.testing.assert_allclose(sum_of_values([0.0, *a[1:]]), sum(a[1:]))
    A = [rng.normal(size=(3, k)) for k in (1, 2)]
    B = [rng.normal(size=(4, k)) for k in (1, 2)]
    expected = sum(x @ y.T for x, y in zip(A, B, strict=True))
    np.testing.assert_allclose(sum_of_products(A, B, "b"), expected)
    C = [rng.normal(size=(k, 3)) for k in (1, 2)]
    D = [rng.normal(size=(k, 4)) for k in (1, 2)]
    expected = sum(x.T @ y for x, y in zip(C, D, strict=True))
    np.testing.assert_allclose(sum_of_products(C, D, "a"), expected)


MSE_OVER_ROWS = """
def f(w, X, y):
    total = 0.0
    for i in range(X.shape[0]):
        r = X[i] @ w - y[i]
        total = total + r * r
    return total / X.shape[0]
"""

ELEMENTWISE_PRODUCTS = """
def f(w, X):
    total = 0.0
    for i in range(X.shape[0]):
        total = total + np.sum(np.sin(X[i] * w))
    return total
"""


@pytest.mark.parametrize("rows, columns", [(6, 3), (1, 3), (4, 1)])
def test_a_loop_over_rows_sums_its_scaled_rows_in_one_product(rows, columns):
    f = define(MSE_OVER_ROWS)
    rng = np.random.default_rng(rows)
    args = [rng.normal(size=columns), rng.normal(size=(rows, columns)), rng.normal(size=rows)]
    # the reverse adjoint (one column: w has one element, its gradient is by forward mode)
    reverse_mode = overbar.Optimisations(forward=False)
    text = overbar.grad(f, optimise=reverse_mode).source_for(*args)
    assert "sum_of_scaled(" in text
    agree(f, args, (0,))


def test_elementwise_products_of_arrays_are_not_collected():
    f = define(ELEMENTWISE_PRODUCTS)
    rng = np.random.default_rng(8)
    args = [rng.normal(size=3), rng.normal(size=(4, 3))]
    text = overbar.grad(f).source_for(*args)
    assert "sum_of_scaled(" not in text
    agree(f, args, (0,))


STEPPER = """
def f(u, r):
    for _ in range(4):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u ** 2)
"""


@pytest.mark.parametrize("length", [9, 3])
def test_a_numbers_inner_products_are_summed_after_the_loop(length):
    f = define(STEPPER)
    args = [np.sin(np.arange(float(length))), 0.2]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "sum_of_inner(" in text and ".sum()" not in text, text
    agree(f, args, (0, 1))


def test_a_matrix_of_inner_products_and_a_broadcast_scale():
    f = define("""
        def f(U, r):
            for _ in range(3):
                V = U.copy()
                V[1:-1, :] = U[1:-1, :] + r * (U[2:, :] - 2.0 * U[1:-1, :] + U[:-2, :])
                U = V
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(6, 4) / 7.0)
    for r in (0.15, np.array([0.1, 0.2, 0.15, 0.05])):  # r a number, then a row broadcast
        agree(f, [U, r], (0, 1))


def test_an_inner_product_of_a_view_of_a_restored_array_is_not_collected():
    # tmp = u[1:-1] is a view of an array the reverse loop restores in place: appended, it
    # would change before the product after the loop (side condition: rows no write changes)
    f = define("""
        def f(u, r):
            total = 0.0
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] * r
                total = total + np.sum(u_new * u)
                u = u_new
            return np.sum(u ** 2) + total
        """)
    args = [np.sin(np.arange(9.0)), 0.3]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "sum_of_inner(" not in text, text
    agree(f, args, (0, 1))


def test_a_row_written_into_after_it_is_read_is_not_collected():
    f = define("""
        def f(u, r):
            for _ in range(3):
                w = u * 2.0
                w[0] = 0.0
                u = u + r * w
            return np.sum(u ** 2)
        """)
    args = [np.sin(np.arange(5.0)), 0.3]
    agree(f, args, (0, 1))


def test_inner_products_of_foreign_shapes_fall_back_to_one_by_one():
    from overbar.runtime.helpers import sum_of_inner

    a = [np.ones(3), np.ones((2, 3))]
    b = [np.arange(3.0), np.arange(3.0)]
    assert sum_of_inner(a, b) == sum(float((x * y).sum()) for x, y in zip(a, b, strict=True))
    assert sum_of_inner([], []) == 0.0
    a, b = [np.ones((2, 3)), 2 * np.ones((2, 3))], [np.ones((2, 1)), np.ones((2, 1))]
    assert sum_of_inner(a, b) == 18.0  # stacked, each step's row broadcast alike


# -- a bias's adjoint summed once after the loop, from the rows a product stacked ------------

BIASED_ROWS = """
def f(W, c, Xs):
    H = np.zeros((Xs.shape[1], W.shape[1]))
    for X in Xs:
        H = np.tanh(H @ W + X + c)
    return np.sum(H ** 2)
"""

BIAS_WITHOUT_A_PRODUCT = """
def f(c, Xs):
    H = np.zeros((Xs.shape[1], Xs.shape[2]))
    for X in Xs:
        H = np.tanh(H * 0.5 + X + c)
    return np.sum(H ** 2)
"""

BIAS_ADDED_TWICE = """
def f(W, c, Xs):
    H = np.zeros((Xs.shape[1], W.shape[1]))
    total = 0.0
    for X in Xs:
        H = np.tanh(H @ W + X + c)
        total = total + np.sum(H) * np.sum(c)
    return total + np.sum(H ** 2)
"""


def biased_arguments(bias_shape, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(3, 3)) * 0.4,
        rng.normal(size=bias_shape),
        rng.normal(size=(steps, batch, 3)),
    ]


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3)])
@pytest.mark.parametrize("batch, steps", [(2, 4), (1, 1), (3, 0)])
def test_a_bias_adjoint_is_summed_once_from_the_stacked_rows(bias_shape, batch, steps):
    f = define(BIASED_ROWS)
    args = biased_arguments(bias_shape, batch, steps)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "stacked_rows(" in text and ".sum(axis" not in text, text  # none left in the loop
    if bias_shape == (1, 3) and batch == 1:
        assert "sum_of_values(" in text  # the bias's shape: nothing to sum in a step
    else:
        assert "sum_of_sums(" in text
        assert ("keepdims=True" in text) is (bias_shape == (1, 3))
    if steps:
        agree(f, args, (0, 1))
    else:
        W_bar, c_bar = overbar.grad(f, wrt=(0, 1))(*args)
        assert not np.any(W_bar) and not np.any(c_bar) and np.shape(c_bar) == bias_shape


def test_a_step_sum_without_a_product_stays_in_the_loop():
    # side condition: a plain sum is hoisted only with rows a product collects anyway
    f = define(BIAS_WITHOUT_A_PRODUCT)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=3), rng.normal(size=(4, 2, 3))]
    text = overbar.grad(f).source_for(*args)
    assert "sum_of_sums(" not in text and ".sum(axis=0)" in text, text
    agree(f, args, (0,))


def test_a_step_sum_into_an_adjoint_added_twice_in_the_loop_stays():
    # side condition: the adjoint is added to in that one statement of the loop only
    f = define(BIAS_ADDED_TWICE)
    args = biased_arguments((3,), 2, 4, seed=5)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "sum_of_sums(" not in text and "sum_of_products(" in text, text
    agree(f, args, (0, 1))


@pytest.mark.parametrize(
    "expression, hoisted",
    [
        ("a.sum(axis=0)", True),
        ("a.sum()", True),
        ("a.sum(axis=(0, -1), keepdims=True)", True),
        ("a.sum(axis=None)", True),
        ("a.sum(axis=k)", False),  # an axis not written out
        ("a.sum(0)", False),  # by position
        ("a.sum(axis=0, dtype=float)", False),  # anything but axis and keepdims
        ("a.sum(axis=0, keepdims=flag)", False),
        ("a.sum(axis=0.0)", False),
        ("a.sum(axis=True)", False),
        ("(a * b).sum(axis=0)", False),  # not a name's sum
        ("np.sum(a, axis=0)", False),
    ],
)
def test_which_step_sums_are_recognised(expression, hoisted):
    import ast

    from overbar.transpiler.hoist import _reduction_keywords

    node = ast.parse(expression, mode="eval").body
    assert (_reduction_keywords(node) is not None) is hoisted


@pytest.mark.parametrize(
    "shape, axis, keepdims",
    [
        ((2, 3), 0, False),
        ((2, 3), -1, False),
        ((2, 3), None, False),
        ((2, 3, 4), (0, 2), False),
        ((2, 3, 4), (-1, 0), True),
        ((2, 3), 1, True),
        ((), None, False),
    ],
)
def test_sum_of_sums_is_the_steps_sums_added(shape, axis, keepdims):
    from overbar.runtime.helpers import stacked_rows, sum_of_sums

    rng = np.random.default_rng(len(shape))
    rows = [rng.normal(size=shape) for _ in range(3)]
    expected = sum(r.sum(axis=axis, keepdims=keepdims) for r in rows)
    for given in (rows, stacked_rows(rows)):
        got = sum_of_sums(given, axis=axis, keepdims=keepdims)
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sum_of_sums_falls_back_to_the_steps_own_sums():
    from overbar.runtime.helpers import sum_of_sums

    rows = [np.ones((2, 3)), np.ones((4, 3))]  # shapes that differ: added one by one
    np.testing.assert_allclose(sum_of_sums(rows, axis=0), [6.0, 6.0, 6.0])
    assert sum_of_sums([], axis=0) == 0.0
    with pytest.raises(np.exceptions.AxisError):  # out of range: raises as a step's sum does
        sum_of_sums([np.ones((2, 3)), np.ones((2, 3))], axis=2)
    with pytest.raises(ValueError, match="duplicate"):  # as the step's sum raises
        sum_of_sums([np.ones((2, 3)), np.ones((2, 3))], axis=(0, 0))
    with pytest.raises(AttributeError):  # a Python number has no sum, in the loop either
        sum_of_sums([0.0, np.ones(3)], axis=0)


def test_stacked_rows_stack_only_arrays_of_one_shape():
    from overbar.runtime.helpers import (
        stacked_rows,
        sum_of_inner,
        sum_of_outers,
        sum_of_products,
        sum_of_values,
    )

    rng = np.random.default_rng(9)
    for rows in ([0.0, np.ones(3)], [np.ones(3), np.ones(2)], [], [1.0, 2.0]):
        assert stacked_rows(rows) is rows
    assert stacked_rows([np.ones((2, 3))] * 4).shape == (4, 2, 3)
    # every sum reads stacked rows, or one stacked and one list, as it reads the lists
    A = [rng.normal(size=(2, 3)) for _ in range(3)]
    B = [rng.normal(size=(2, 4)) for _ in range(3)]
    C = [rng.normal(size=(5, 3)) for _ in range(3)]
    for a, b in ((stacked_rows(A), B), (A, stacked_rows(B)), (stacked_rows(A), stacked_rows(B))):
        np.testing.assert_allclose(sum_of_products(a, b, "a"), sum_of_products(A, B, "a"))
    for a, c in ((stacked_rows(A), C), (stacked_rows(A), stacked_rows(C))):
        np.testing.assert_allclose(sum_of_products(a, c, "b"), sum_of_products(A, C, "b"))
    v, w = [rng.normal(size=3) for _ in range(3)], [rng.normal(size=2) for _ in range(3)]
    np.testing.assert_allclose(sum_of_outers(stacked_rows(v), w), sum_of_outers(v, w))
    np.testing.assert_allclose(sum_of_values(stacked_rows(A)), sum_of_values(A))
    np.testing.assert_allclose(sum_of_inner(stacked_rows(A), A), sum_of_inner(A, A))
    # matrices stacked where a product wants vectors: their outer products one by one
    expected = sum(np.outer(x, y) for x, y in zip(A, A, strict=True))
    np.testing.assert_allclose(sum_of_outers(stacked_rows(A), A), expected)


# -- a product's transpose added at each step: the same sum of the two swapped ---------------

COLUMN_MAJOR = """
def f(W, U, Xs):
    H = np.zeros((W.shape[0], Xs.shape[2]))
    for X in Xs:
        H = np.tanh(W.T @ H + U.T @ X)
    return np.sum(H ** 2)
"""

BATCH_OF_MATRICES = """
def f(W, Xs):
    H = np.zeros((2, W.shape[0], Xs.shape[3]))
    for X in Xs:
        H = np.tanh(W.T @ H + X)
    return np.sum(H ** 2)
"""


@pytest.mark.parametrize("batch, steps", [(3, 4), (1, 2), (2, 1), (2, 0)])
def test_a_transposed_product_per_step_is_the_swapped_sum(batch, steps):
    f = define(COLUMN_MAJOR)
    rng = np.random.default_rng(batch + 10 * steps)
    args = [
        rng.normal(size=(3, 3)) * 0.4,
        rng.normal(size=(2, 3)),
        rng.normal(size=(steps, 2, batch)),
    ]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert text.count("sum_of_products(") == 2 and ").T\n" not in text, text
    if steps:
        agree(f, args, (0, 1))
    else:
        W_bar, U_bar = overbar.grad(f, wrt=(0, 1))(*args)
        assert not W_bar.any() and not U_bar.any() and U_bar.shape == (2, 3)


def test_a_product_of_stacked_matrices_is_not_swapped():
    # side condition: ``.T`` of more than two axes reverses them all, so a transposed product
    # of a batch of matrices is not the swapped product: such steps stay in the loop
    f = define(BATCH_OF_MATRICES)
    rng = np.random.default_rng(12)
    args = [rng.normal(size=(3, 3)) * 0.4, rng.normal(size=(4, 2, 3, 5))]
    text = overbar.grad(f).source_for(*args)
    assert "sum_of_products(" not in text, text
    agree(f, args, (0,))


@pytest.mark.parametrize(
    "expression, ranks, found",
    [
        ("(a @ b.T).T", (2, 2), ("columns", "b", "a")),
        ("(a.T @ b).T", (2, 1), ("rows", "b", "a")),
        ("np.outer(a, b).T", (3, 3), ("outer", "b", "a")),
        ("(a @ b.T).T", (3, 2), None),  # a batch of matrices
        ("(a @ b.T).T", (None, 2), None),  # a rank not known
        ("(a * b).T", (0, 2), None),  # a scaled array: not swapped
    ],
)
def test_which_transposed_products_are_swapped(expression, ranks, found):
    import ast

    from overbar.runtime import NUMPY
    from overbar.transpiler.hoist import _Hoister

    hoister = _Hoister.__new__(_Hoister)
    hoister.runtime, hoister.numpy_names = NUMPY, {"np"}
    hoister.shapes = {
        name: tuple(3 for _ in range(rank))
        for name, rank in zip("ab", ranks, strict=True)
        if rank is not None
    }
    node = ast.parse(expression, mode="eval").body
    assert hoister.product_of(node) == found


def test_sum_of_scaled_takes_one_product_only_of_numbers_and_rows_of_one_shape():
    from overbar.runtime.helpers import listed, sum_of_scaled

    rows = [np.arange(3.0) + k for k in range(4)]
    numbers = [0.5, np.float64(2.0), 3, np.float32(-1.0)]
    expected = sum(s * r for s, r in zip(numbers, rows, strict=True))
    np.testing.assert_allclose(sum_of_scaled(numbers, rows), expected)
    # a 0-d array among the numbers, rows of two shapes, a matrix: each still summed right
    np.testing.assert_allclose(
        sum_of_scaled([np.array(2.0), 1.0], rows[:2]), 2 * rows[0] + rows[1]
    )
    ragged = [np.ones(3), np.ones(1)]
    np.testing.assert_allclose(sum_of_scaled([1.0, 2.0], ragged), np.full(3, 3.0))
    matrices = [np.matrix([[1.0, 2.0]]), np.matrix([[3.0, 4.0]])]
    np.testing.assert_allclose(sum_of_scaled([1.0, 1.0], matrices), [[4.0, 6.0]])
    # a vector's adjoint listed as Python floats, the same values; other adjoints as before
    vector = np.array([0.1, 0.2])
    assert listed(vector, [1, 2]) == [0.1, 0.2] and type(listed(vector, [1, 2])[0]) is float
    assert type(listed(vector.astype(np.float32), [1, 2])[0]) is np.float32
    assert listed(0.0, [1, 2, 3]) == [0.0, 0.0, 0.0]
    assert all(r.shape == (2,) for r in listed(np.ones((3, 2)), [1, 2, 3]))
