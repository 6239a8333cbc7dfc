"""Arrays of integers (labels, orders) known as such: their elements are integers, so indexing
with one has a known shape and the specialised rules apply (``runtime.shapes.IntegerDims``).
Each gradient is checked against central differences and the literal adjoint."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import shapes
from overbar.runtime.shapes import INTEGER, MANY, IntegerDims, Operand, argument_shape
from tests.support import define


def literal_and_optimised_agree(f, args, wrt):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- shape inference ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint16])
def test_an_array_of_integers_has_integer_dims(dtype):
    shape = argument_shape(np.zeros(5, dtype=dtype))
    assert shape == IntegerDims((MANY,)) and isinstance(shape, tuple)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.bool_])
def test_an_array_of_floats_or_truth_values_has_plain_dims(dtype):
    shape = argument_shape(np.zeros(5, dtype=dtype))
    assert type(shape) is tuple and shape == (MANY,)


def test_integer_dims_equal_only_integer_dims():
    """A specialisation for integers is never taken for floats of the same shape."""
    assert IntegerDims((MANY,)) != (MANY,) and (MANY,) != IntegerDims((MANY,))
    assert IntegerDims((MANY,)) == IntegerDims((MANY,))
    assert len({IntegerDims((MANY,)), (MANY,)}) == 2
    assert repr(IntegerDims((1,))) == "IntegerDims((1,))"


def test_an_element_row_or_slice_of_integers_holds_integers():
    labels = Operand(IntegerDims((MANY,)))
    table = Operand(IntegerDims((MANY, MANY)))
    i = Operand(INTEGER)
    assert shapes.infer_shape(__import__("operator").getitem, (labels, i), {}) == INTEGER
    assert shapes.infer_shape(__import__("operator").getitem, (table, i), {}) == IntegerDims(
        (MANY,)
    )
    assert shapes.element_shape(IntegerDims((MANY,))) == INTEGER
    assert shapes.row_shape(IntegerDims((MANY, 1))) == IntegerDims((1,))


def test_an_operation_that_may_change_the_dtype_forgets_the_integers():
    labels = Operand(IntegerDims((MANY,)))
    half = Operand((), 0.5, True)
    for shape in (
        shapes.infer_shape(np.multiply, (labels, half), {}),
        shapes.infer_shape(np.array, (labels,), {"dtype": Operand(None, float, True)}),
        shapes.infer_shape(np.float64, (labels,), {}),
        shapes.infer_shape(np.exp, (labels,), {}),
    ):
        assert type(shape) is tuple, shape
    assert shapes.infer_shape(np.float64, (Operand(INTEGER),), {}) == ()


# -- indexing with an element of an array of integers ----------------------------------------

PICKED = {
    "textbook": """
        def f(W, X, labels):
            logits = X @ W
            loss = 0.0
            for i in range(len(labels)):
                row = logits[i]
                top = row.max()
                loss -= row[labels[i]] - top - np.log(np.sum(np.exp(row - top)))
            return loss / len(labels)
        """,
    "chained_index": """
        def f(W, X, labels):
            logits = X @ W
            total = 0.0
            for i in range(len(labels)):
                total = total + logits[i][labels[i]] - np.log(np.sum(np.exp(logits[i])))
            return -total
        """,
    "zip": """
        def f(W, X, labels):
            logits = X @ W
            total = 0.0
            for row, label in zip(logits, labels):
                m = np.max(row)
                total = total + (np.log(np.sum(np.exp(row - m))) + m - row[label])
            return total
        """,
    "enumerate_pair_index": """
        def f(W, X, labels):
            logits = np.tanh(X @ W)
            total = 0.0
            for i, label in enumerate(labels):
                total = total + logits[i, label] ** 2
            return total
        """,
}


@pytest.mark.parametrize("spelling", sorted(PICKED))
@pytest.mark.parametrize(("batch", "classes"), [(1, 3), (4, 1), (5, 3)])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8])
def test_an_element_picked_by_a_label_is_differentiated(spelling, batch, classes, dtype):
    f = define(PICKED[spelling])
    rng = np.random.default_rng(batch * 10 + classes)
    labels = rng.integers(0, classes, size=batch).astype(dtype)
    args = [rng.normal(size=(4, classes)), rng.normal(size=(batch, 4)), labels]
    literal_and_optimised_agree(f, args, wrt=(0,))


@pytest.mark.parametrize("spelling", sorted(PICKED))
def test_an_element_picked_by_a_label_is_specialised(spelling):
    """The element's shape is known: no shape of it is pushed, no general index adjoint."""
    f = define(PICKED[spelling])
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)]
    source = overbar.grad(f, wrt=(0,)).source_for(*args)
    assert "shape_of(" not in source, source


def test_the_stabiliser_of_a_picked_log_softmax_gets_no_gradient():
    """``row[label] - top - log(sum(exp(row - top)))`` does not depend on top."""
    f = define(PICKED["textbook"])
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)]
    source = overbar.grad(f, wrt=(0,)).source_for(*args)
    assert "extremum_bar" not in source and "top_bar" not in source, source


def test_labels_of_floats_after_labels_of_integers_are_not_taken_for_integers():
    """The entry keys an array of integers apart from one of floats of the same shape: the
    adjoint made for integers is not run on floats (here a factor, not an index)."""
    f = define("""
        def f(x, k):
            total = 0.0
            for i in range(len(k)):
                total = total + np.sum(x * k[i])
            return total
        """)
    gradient = overbar.grad(f)
    x = np.arange(3.0)
    np.testing.assert_allclose(gradient(x, np.array([2, 3])), np.full(3, 5.0))
    np.testing.assert_allclose(gradient(x, np.array([0.5, 0.25])), np.full(3, 0.75))
    np.testing.assert_allclose(gradient(x, np.array([2, 3])), np.full(3, 5.0))


def test_a_float_array_used_as_an_index_is_numpys_error():
    f = define(PICKED["textbook"])
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), np.array([0.0, 1, 2, 0, 1])]
    with pytest.raises(IndexError):
        overbar.grad(f)(*args)


def test_a_bool_array_is_a_mask():
    f = define("""
        def f(x, mask):
            total = 0.0
            for i in range(3):
                total = total + np.sum(x[mask] * i)
            return total
        """)
    mask = np.array([True, False, True, True])
    x = np.arange(4.0)
    literal_and_optimised_agree(f, [x, mask], wrt=(0,))
    np.testing.assert_allclose(overbar.grad(f)(x, mask), 3.0 * mask)


def test_an_index_written_in_the_loop_is_read_as_it_was_then():
    """The array of integers is written into in the loop: its element is pushed, not read
    again in the reverse sweep (where the array holds its last values)."""
    f = define("""
        def f(w, order):
            picks = order.copy()
            total = 0.0
            for k in range(len(w)):
                j = picks[k] + 0  # a read with arithmetic: not a view
                total = total + w[j] * w[k]
                picks[(k + 1) % len(w)] = k
            return total
        """)
    w = np.linspace(0.5, 2.0, 4)
    order = np.array([3, 1, 0, 2])
    literal_and_optimised_agree(f, [w, order], wrt=(0,))


def test_integer_labels_in_a_dict_of_arguments():
    f = define("""
        def f(W, data):
            logits = data["X"] @ W
            total = 0.0
            for i in range(len(data["y"])):
                total = total + logits[i, data["y"][i]]
            return total
        """)
    rng = np.random.default_rng(3)
    data = {"X": rng.normal(size=(5, 4)), "y": rng.integers(0, 3, size=5)}
    literal_and_optimised_agree(f, [rng.normal(size=(4, 3)), data], wrt=(0,))
