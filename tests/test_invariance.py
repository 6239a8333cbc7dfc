"""The softmax stabiliser: ``a - max(a)`` before a (log-)softmax over the same axis gets no
gradient into the max, because the normalisation cancels it (overbar/transpiler/invariance.py)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

LOG_SOFTMAX = """
def f(logits, onehot):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot)
"""

SOFTMAX = """
def f(logits, onehot):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    probs = e / e.sum(axis=-1, keepdims=True)
    return np.sum(probs * onehot)
"""

WRONG_AXIS = """
def f(logits, onehot):
    shifted = logits - np.max(logits, axis=0, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot)
"""

MAX_USED_AGAIN = """
def f(logits, onehot):
    top = np.max(logits, axis=1, keepdims=True)
    shifted = logits - top
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot) + np.sum(top**2)
"""

SHIFT_READ_ELSEWHERE = """
def f(logits, onehot):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot) + np.sum(shifted)
"""


def arguments(rng, batch=5, classes=4):
    logits = rng.normal(size=(batch, classes)) * 3.0
    return logits, np.eye(classes)[rng.integers(0, classes, size=batch)]


@pytest.mark.parametrize("source", [LOG_SOFTMAX, SOFTMAX], ids=["log-softmax", "softmax"])
def test_the_stabiliser_gets_no_gradient_and_the_gradient_is_right(source):
    f = define(source)
    gradient = overbar.grad(f)
    args = arguments(np.random.default_rng(0))
    specialised = gradient.source_for(*args)
    assert "extremum" not in specialised and "== " not in specialised
    assert " == " in gradient.source  # shapes unknown: nothing is skipped
    general = gradient.stages.emitted.function(*args)
    np.testing.assert_allclose(gradient(*args), general, rtol=1e-10, atol=1e-12)
    overbar.check_grad(f, list(args))


@pytest.mark.parametrize(
    "source",
    [WRONG_AXIS, MAX_USED_AGAIN, SHIFT_READ_ELSEWHERE],
    ids=["max-over-another-axis", "max-used-again", "shift-read-elsewhere"],
)
def test_the_max_keeps_its_gradient_where_it_does_not_cancel(source):
    f = define(source)
    gradient = overbar.grad(f)
    args = arguments(np.random.default_rng(1))
    assert " == " in gradient.source_for(*args)  # the winners of the max
    overbar.check_grad(f, list(args))


def test_a_vector_of_logits_without_kept_axes_keeps_the_gradient():
    f = define("""
def f(z, k):
    shifted = z - np.max(z)
    return np.sum(shifted - np.log(np.sum(np.exp(shifted)))) * k
""")
    z = np.array([0.3, 1.2, -0.4])
    overbar.check_grad(f, [z, 2.0])


LOOPED = {
    "over rows, added in one line": """
        def f(X):
            total = 0.0
            for row in X:
                m = np.max(row)
                total = total + m + np.log(np.sum(np.exp(row - m)))
            return total
        """,
    "over an index, the log first": """
        def f(X):
            total = 0.0
            for i in range(X.shape[0]):
                m = np.max(X[i])
                total = total + (np.log(np.sum(np.exp(X[i] - m))) + m)
            return total
        """,
}


@pytest.mark.parametrize("source", list(LOOPED.values()), ids=list(LOOPED))
def test_a_logsumexp_in_a_loop_skips_its_stabiliser(source):
    f = define(source)
    X = np.random.default_rng(8).normal(size=(5, 4))
    text = overbar.grad(f).source_for(X)
    assert "extremum_bar" not in text, text
    overbar.check_grad(f, [X])


@pytest.mark.parametrize(
    "line",
    [
        "total = total + m + np.log(np.sum(np.exp(row - m))) + 0.5 * m",  # m read again
        "total = total + m + np.log(np.sum(np.exp(row - m * 2.0)))",  # not the m subtracted
        "total = total + m * 1.0 + np.log(np.sum(np.exp(row - m)))",  # m scaled
    ],
)
def test_a_looped_stabiliser_that_does_not_cancel_keeps_its_gradient(line):
    f = define(f"""
        def f(X):
            total = 0.0
            for row in X:
                m = np.max(row)
                {line}
            return total
        """)
    X = np.random.default_rng(9).normal(size=(4, 3))
    overbar.check_grad(f, [X])


def test_a_stabiliser_added_to_a_vector_total_keeps_its_gradient():
    f = define("""
        def f(X, c):
            total = c * 1.0
            for row in X:
                m = np.max(row)
                total = total + m + np.log(np.sum(np.exp(row - m)))
            return np.sum(total ** 2)
        """)
    X = np.random.default_rng(10).normal(size=(4, 3))
    overbar.check_grad(f, [X, np.linspace(0.1, 0.3, 3)], wrt=(0, 1))


# The same softmaxes without keepdims: the reduced axis put back by indexing (``[:, None]``).
PUT_BACK = {
    "log-softmax, the log put back": """
def f(logits, onehot):
    shifted = logits - logits.max(axis=1)[:, None]
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]
    return -np.mean(np.sum(onehot * log_probs, axis=1))
""",
    "log-softmax, the total put back": """
def f(logits, onehot):
    shifted = logits - np.max(logits, axis=-1)[..., None]
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1)[..., None])
    return -np.sum(onehot * log_probs)
""",
    "softmax": """
def f(logits, onehot):
    e = np.exp(logits - np.max(logits, axis=1)[:, None])
    return np.sum(onehot * (e / e.sum(axis=1)[:, None]))
""",
    "softmax over columns, broadcast": """
def f(logits, onehot):
    e = np.exp(logits - np.max(logits, axis=0))
    return np.sum(onehot * np.log(e / np.sum(e, axis=0)))
""",
}


@pytest.mark.parametrize("source", list(PUT_BACK.values()), ids=list(PUT_BACK))
@pytest.mark.parametrize("shape", [(5, 4), (1, 3), (4, 1), (6, 6)])
def test_a_stabiliser_put_back_by_indexing_gets_no_gradient(source, shape):
    f = define(source)
    gradient = overbar.grad(f)
    rng = np.random.default_rng(sum(shape))
    args = (rng.normal(size=shape) * 3.0, rng.uniform(0.0, 1.0, size=shape))
    specialised = gradient.source_for(*args)
    assert "extremum" not in specialised and " == " not in specialised, specialised
    assert "extremum_bar" in gradient.source  # shapes unknown: nothing is skipped
    general = gradient.stages.emitted.function(*args)
    np.testing.assert_allclose(gradient(*args), general, rtol=1e-10, atol=1e-12)
    overbar.check_grad(f, list(args))


# Square logits, so that each of these runs; none is a softmax over the axis of its max.
NOT_PUT_BACK = {
    "the log put back on another axis": """
def f(logits, onehot):
    shifted = logits - logits.max(axis=1)[:, None]
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[None, :]
    return -np.sum(onehot * log_probs)
""",
    "the total not put back (broadcast along the first axis)": """
def f(logits, onehot):
    e = np.exp(logits - np.max(logits, axis=1)[:, None])
    return np.sum(onehot * (e / e.sum(axis=1)))
""",
    "the max put back on another axis": """
def f(logits, onehot):
    shifted = logits - logits.max(axis=1)[None, :]
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]
    return -np.sum(onehot * log_probs)
""",
    "the max read again": """
def f(logits, onehot):
    top = logits.max(axis=1)
    shifted = logits - top[:, None]
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]
    return -np.sum(onehot * log_probs) + np.sum(top**2)
""",
}


@pytest.mark.parametrize("source", list(NOT_PUT_BACK.values()), ids=list(NOT_PUT_BACK))
def test_a_stabiliser_put_back_elsewhere_keeps_its_gradient(source):
    f = define(source)
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(4, 4)) * 3.0, rng.uniform(0.0, 1.0, size=(4, 4))]
    assert "extremum_bar" in overbar.grad(f).source_for(*args)  # the max's adjoint
    overbar.check_grad(f, args)


# A logsumexp over the columns of a transpose: the stabiliser m of shape (n,) is broadcast along
# the prepended axis 0, the one summed, so it is constant there and added back to the log.
TRANSPOSED_LOGSUMEXP = """
def f(X):
    m = X.max(axis=1)
    return np.sum(np.log(np.sum(np.exp(X.T - m), axis=0)) + m)
"""

# The conditions failing: summed along the axis m varies along (square X, so that it runs), and
# a stabiliser of size 1 added back where it broadcasts.
TRANSPOSED_NOT_CONSTANT = {
    "summed along m's own axis": """
def f(X):
    m = X.max(axis=1)
    return np.sum(np.log(np.sum(np.exp(X.T - m), axis=1)) + m)
""",
    "added back with broadcasting": """
def f(X):
    m = X.max(axis=1)
    return np.sum(np.log(np.sum(np.exp(X.T - m[:1]), axis=0)) + m[:1])
""",
}


@pytest.mark.parametrize("shape", [(5, 4), (1, 3), (4, 1)])
def test_a_stabiliser_broadcast_along_the_summed_axis_gets_no_gradient(shape):
    f = define(TRANSPOSED_LOGSUMEXP)
    X = np.random.default_rng(sum(shape)).normal(size=shape) * 3.0
    specialised = overbar.grad(f).source_for(X)
    assert "extremum" not in specialised, specialised
    overbar.check_grad(f, [X])


@pytest.mark.parametrize(
    "source", list(TRANSPOSED_NOT_CONSTANT.values()), ids=list(TRANSPOSED_NOT_CONSTANT)
)
def test_a_stabiliser_not_constant_along_the_summed_axis_keeps_its_gradient(source):
    f = define(source)
    X = np.random.default_rng(4).normal(size=(4, 4)) * 3.0
    assert "m_bar" in overbar.grad(f).source_for(X)  # the max's adjoint
    overbar.check_grad(f, [X])


# np.add.reduce sums its first axis unless told: a stabiliser constant along that axis cancels;
# one that varies along it (the max of each row, summed down the columns) keeps its gradient.
ADD_REDUCE = {
    "over the rows, as told": """
def f(X):
    m = np.amax(X, 1, keepdims=True)
    return np.add.reduce(np.log(np.add.reduce(np.exp(X - m), axis=1)) + m[:, 0])
""",
    "down the columns, by default": """
def f(X):
    m = X.max(axis=0)
    return np.sum(np.log(np.add.reduce(np.exp(X - m))) + m)
""",
}

ADD_REDUCE_NOT_CONSTANT = """
def f(X):
    m = X.max(axis=1, keepdims=True)
    return np.sum(np.log(np.add.reduce(np.exp(X - m))) + m[:, 0])
"""


@pytest.mark.parametrize("source", list(ADD_REDUCE.values()), ids=list(ADD_REDUCE))
def test_a_logsumexp_by_add_reduce_skips_its_stabiliser(source):
    f = define(source)
    X = np.random.default_rng(7).normal(size=(4, 5)) * 3.0
    source = overbar.grad(f).source_for(X)
    assert "extremum" not in source and "m_bar" not in source, source
    overbar.check_grad(f, [X])


def test_add_reduce_down_the_columns_of_a_row_stabiliser_keeps_its_gradient():
    """np.add.reduce's default axis is 0, not every axis: the rows' max varies along it."""
    f = define(ADD_REDUCE_NOT_CONSTANT)
    X = np.random.default_rng(8).normal(size=(4, 4)) * 3.0
    assert "m_bar" in overbar.grad(f).source_for(X)  # the max's adjoint, kept
    overbar.check_grad(f, [X])


# A logsumexp whose stabiliser is added back with its kept axis squeezed away, or subtracted with
# an axis added by np.expand_dims: the same elements, so the two contributions still cancel.
SQUEEZED = {
    "the kept axis squeezed": """
def f(X):
    m = np.max(X, axis=1, keepdims=True)
    return np.sum(np.squeeze(m, 1) + np.log(np.sum(np.exp(X - m), axis=1)))
""",
    "by the method, last axis": """
def f(X):
    m = X.max(axis=-1, keepdims=True)
    return (m.squeeze(axis=-1) + np.log(np.exp(X - m).sum(axis=-1))).sum()
""",
    "an axis added by expand_dims": """
def f(X):
    m = X.max(1)
    return np.sum(m + np.log(np.exp(X - np.expand_dims(m, 1)).sum(1)))
""",
}


@pytest.mark.parametrize("source", list(SQUEEZED.values()), ids=list(SQUEEZED))
@pytest.mark.parametrize("shape", [(5, 4), (4, 1), (6, 6)])
def test_a_stabiliser_squeezed_or_expanded_gets_no_gradient(source, shape):
    f = define(source)
    gradient = overbar.grad(f)
    X = np.random.default_rng(sum(shape)).normal(size=shape) * 3.0
    assert "extremum" not in gradient.source_for(X)
    np.testing.assert_allclose(
        gradient(X), gradient.stages.emitted.function(X), rtol=1e-10, atol=1e-12
    )
    overbar.check_grad(f, [X])


# Squeezed, but not the stabiliser that was subtracted, or not along the summed axis.
SQUEEZED_ELSEWHERE = {
    "another max squeezed": """
def f(X):
    m = np.max(X, axis=1, keepdims=True)
    return np.sum(np.squeeze(2.0 * m, 1) + np.log(np.sum(np.exp(X - m), axis=1)))
""",
    "the max of the other axis": """
def f(X):
    m = np.max(X, axis=0, keepdims=True)
    return np.sum(np.squeeze(m, 0) + np.log(np.sum(np.exp(X - m), axis=1)))
""",
}


@pytest.mark.parametrize("source", list(SQUEEZED_ELSEWHERE.values()), ids=list(SQUEEZED_ELSEWHERE))
def test_a_stabiliser_squeezed_elsewhere_keeps_its_gradient(source):
    f = define(source)
    X = np.random.default_rng(4).normal(size=(4, 4)) * 3.0
    assert "m_bar" in overbar.grad(f).source_for(X)  # the max's adjoint
    overbar.check_grad(f, [X])


# -- the stabiliser subtracted from the term the log is subtracted from --------------------------

PICKED = {
    "term minus the stabiliser, then the log": """
        def f(X, y):
            total = 0.0
            for i in range(X.shape[0]):
                m = np.max(X[i])
                total = total + (X[i, y[i]] - m - np.log(np.sum(np.exp(X[i] - m))))
            return total
        """,
    "term minus the log, then the stabiliser": """
        def f(X, y):
            total = 0.0
            for i in range(X.shape[0]):
                m = X[i].max()
                total = total + (X[i, y[i]] - np.log(np.sum(np.exp(X[i] - m))) - m)
            return total
        """,
    "rows of a matrix, kept axes": """
        def f(X, y):
            m = np.max(X, axis=1, keepdims=True)
            picked = np.take_along_axis(X, y[:, None], axis=1)
            return np.sum(picked - m - np.log(np.sum(np.exp(X - m), axis=1, keepdims=True)))
        """,
}


@pytest.mark.parametrize("source", list(PICKED.values()), ids=list(PICKED))
def test_a_picked_log_softmax_skips_its_stabiliser(source):
    f = define(source)
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    text = overbar.grad(f).source_for(X, y)
    assert "extremum_bar" not in text, text
    overbar.check_grad(f, [X, y])
    literal = overbar.grad(f, optimise=False)(X, y)
    np.testing.assert_allclose(overbar.grad(f)(X, y), literal, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "line",
    [
        # the term minus m read again: it is not read by the subtraction of the log alone
        "d = X[i, y[i]] - m\n                total = total + d - np.log(np.sum(np.exp(X[i] - m))) + d",
        # m itself as the term: its own adjoint stays
        "total = total + (m - m - np.log(np.sum(np.exp(X[i] - m))))",
        # the log added, not subtracted: m's contributions add up
        "total = total + (X[i, y[i]] - m + np.log(np.sum(np.exp(X[i] - m))))",
        # another m subtracted from the term
        "total = total + (X[i, y[i]] - 2.0 * m - np.log(np.sum(np.exp(X[i] - m))))",
        # the term a vector: m's adjoint from it is summed, the log's is not
        "total = total + np.sum(X[i] - m - np.log(np.sum(np.exp(X[i] - m))))",
    ],
)
def test_a_subtracted_stabiliser_that_does_not_cancel_keeps_its_gradient(line):
    f = define(f"""
        def f(X, y):
            total = 0.0
            for i in range(X.shape[0]):
                m = np.max(X[i])
                {line}
            return total
        """)
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    overbar.check_grad(f, [X, y])
    literal = overbar.grad(f, optimise=False)(X, y)
    np.testing.assert_allclose(overbar.grad(f)(X, y), literal, rtol=1e-10, atol=1e-12)
