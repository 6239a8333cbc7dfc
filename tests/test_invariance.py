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
