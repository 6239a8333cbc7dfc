"""Functions and arguments that test_dask.py and test_cupy.py run through the same adjoints.

Each case is a forward function (compiled from source into a file by ``support.define``), its
arguments as NumPy arrays, which of them to differentiate, and which of them the other library
holds (the data: a batch, rows of a design matrix). A test converts those arguments with its
library's ``from_numpy`` and checks that the gradient is an array of that library (for the
arguments it derives from them) whose value is the gradient of the same call in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.support import define


@dataclass(frozen=True)
class Case:
    """A forward function, its NumPy arguments, ``wrt`` and the arguments held elsewhere."""

    name: str
    source: str
    arguments: tuple
    wrt: tuple[int, ...]
    held: tuple[int, ...]  # positions of the arguments another library holds

    def function(self):
        return define(self.source, "loss")


def _rng():
    return np.random.default_rng(12)


def regression() -> Case:
    """Logistic regression, the mean of its cross-entropy over the rows of X."""
    rng = _rng()
    X = rng.standard_normal((120, 5))
    y = (rng.random(120) > 0.5).astype(float)
    w = 0.3 * rng.standard_normal(5)
    source = """
        def loss(w, X, y):
            p = 1 / (1 + np.exp(-(X @ w)))
            return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    """
    return Case("regression", source, (w, X, y), (0,), (1, 2))


def mlp() -> Case:
    """The two-layer network of the notes, its batch in columns."""
    rng = _rng()
    W1, b1 = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    W2, b2 = rng.standard_normal((2, 8)), rng.standard_normal((2, 1))
    x, t = rng.standard_normal((3, 64)), rng.standard_normal((2, 64))
    source = """
        def loss(W1, b1, W2, b2, x, t):
            z = W1 @ x + b1
            h = 1 / (1 + np.exp(-z))
            y = W2 @ h + b2
            return 0.5 * np.sum((y - t) ** 2)
    """
    return Case("mlp", source, (W1, b1, W2, b2, x, t), (0, 1, 2, 3), (4, 5))


def broadcasting() -> Case:
    """Operands of three shapes broadcast together: a row, a column and a number."""
    rng = _rng()
    X = rng.standard_normal((40, 6))
    row, column = rng.standard_normal(6), rng.standard_normal((40, 1))
    source = """
        def loss(row, column, scale, X):
            centred = X - row
            scaled = scale * centred * column
            return np.sum(np.tanh(scaled) ** 2)
    """
    return Case("broadcasting", source, (row, column, 0.7, X), (0, 1, 2), (1, 3))


def reductions() -> Case:
    """Reductions that keep their axes: a layer norm and a log-sum-exp over each row."""
    rng = _rng()
    X = rng.standard_normal((48, 7))
    gain, bias = rng.standard_normal(7), rng.standard_normal(7)
    source = """
        def loss(gain, bias, X):
            mean = np.mean(X, axis=1, keepdims=True)
            spread = np.sqrt(np.var(X, axis=1, keepdims=True) + 1e-5)
            z = gain * (X - mean) / spread + bias
            top = np.max(z, axis=1, keepdims=True)
            lse = top + np.log(np.sum(np.exp(z - top), axis=1, keepdims=True))
            return np.mean(lse) + 0.1 * np.sum(z * z, keepdims=True)[0, 0]
    """
    return Case("reductions", source, (gain, bias, X), (0, 1, 2), (2,))


def loop() -> Case:
    """A recurrence of fixed length over a batch: the state is overwritten each step."""
    rng = _rng()
    W = 0.5 * rng.standard_normal((4, 4))
    h0 = rng.standard_normal((4, 30))
    source = """
        def loss(W, h0):
            h = h0
            for _ in range(3):
                h = np.tanh(W @ h) + 0.5 * h
            return np.sum(h * h)
    """
    return Case("loop", source, (W, h0), (0, 1), (1,))


def rows() -> Case:
    """An RNN over the rows of a sequence: a loop that reads one row of the data per step (the
    reverse sweep writes each row's adjoint into the sequence's)."""
    rng = _rng()
    W, U = 0.4 * rng.standard_normal((4, 4)), rng.standard_normal((4, 2))
    b, V = rng.standard_normal(4), rng.standard_normal((1, 4))
    xs, targets = rng.standard_normal((9, 2)), rng.standard_normal((9, 1))
    source = """
        def loss(W, U, b, V, xs, targets):
            h = np.zeros_like(b)  # np.zeros(n) would be NumPy's, which CuPy's W @ h refuses
            total = 0.0
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + U @ xs[t] + b)
                y = V @ h
                total = total + 0.5 * np.sum((y - targets[t]) ** 2)
            return total / xs.shape[0]
    """
    return Case("rows", source, (W, U, b, V, xs, targets), (0, 1, 2, 3, 4), (4, 5))


def helper() -> Case:
    """A user function called from the differentiated one (it gets its own pullback)."""
    rng = _rng()
    X = rng.standard_normal((50, 4))
    y = rng.standard_normal(50)
    w = rng.standard_normal(4)
    source = """
        def predict(w, X):
            return np.tanh(X @ w)

        def loss(w, X, y):
            r = predict(w, X) - y
            return np.sum(r * r) / y.shape[0]
    """
    return Case("helper", source, (w, X, y), (0, 1), (1, 2))


CASES = (regression, mlp, broadcasting, reductions, loop, rows, helper)


# More rules, as f(a, b) of two vectors of six: their adjoints' helpers on other libraries.
RULE_EXPRESSIONS = {
    "reshape and ravel": "np.sum(np.reshape(a, (2, 3)).T @ b.reshape(2, 3) + b.ravel()[0])",
    "concatenate": "np.sum(np.concatenate([a, b]) ** 2)",
    "stack": "np.sum(np.stack([a, b]) ** 3)",
    "where and maximum": "np.sum(np.where(a > 0, a, b) ** 2 + np.maximum(a, b))",
    "prod": "np.prod(a * b)",
    "cumsum": "np.sum(np.cumsum(a * b) ** 2)",
    "einsum and dot": "np.einsum('i,i->', a, b) + np.dot(a, b) ** 2",
    "norm": "np.linalg.norm(a * b)",
    "slices": "np.sum(a[1:4] * b[::2]) + a[0] * b[-1]",
    "clip, tile and roll": "np.sum(np.clip(a, -0.5, 0.5) * np.roll(b, 1)) + np.sum(np.tile(a, 2))",
    "outer and trace": "np.trace(np.outer(a, b)) + np.std(a * b)",
    "ptp and cumprod": "np.ptp(a * b) + np.sum(np.cumprod(0.5 * a + 1))",
    "pad and hstack": "np.sum(np.pad(a * b, 2) ** 2) + np.sum(np.hstack([a, b]) ** 3)",
    "take": "np.sum(np.take(a * b, [0, 2, 2, 5, 2]) ** 2) + np.sum(np.take(a, [-1, 3]))",
    "take along an axis": "np.sum(np.take(np.outer(a, b), [1, 1, 3, 0], axis=1) ** 3)",
    "repeat": (
        "np.sum(np.repeat(a * b, 3) ** 2) + np.sum(np.repeat(np.outer(a, b), 2, axis=0) ** 3)"
    ),
    "diff": "np.sum(np.diff(a * b, 2) ** 2) + np.sum(np.diff(np.outer(a, b), axis=0) ** 3)",
    "pad reflect and symmetric": (
        "np.sum(np.pad(a * b, (2, 5), mode='reflect') ** 3)"
        " + np.sum(np.pad(np.outer(a, b), ((1, 5), (3, 0)), mode='symmetric') ** 3)"
    ),
    "pad edge and wrap": (
        "np.sum(np.pad(a * b, (4, 1), mode='edge') ** 3)"
        " + np.sum(np.pad(np.outer(a, b), ((5, 1), (0, 2)), mode='wrap') ** 3)"
    ),
}

# Rules whose adjoint dispatches but whose function Dask lacks (np.kron, np.cross, np.sort,
# np.linalg.multi_dot: Dask hands them to NumPy, which computes the arrays in the forward
# sweep, before any adjoint), or takes only in a form that Dask refuses (np.repeat with a count
# for each element, np.pad with constants from an array or wider than an axis (Dask's result
# has the wrong shape), np.take with a mode or indices of two dimensions): run on the strict
# stand-in alone.
FORWARD_NOT_IN_DASK = {
    "kron": "np.sum(np.kron(a.reshape(2, 3), b.reshape(3, 2)) ** 2) + np.sum(np.kron(a, b[:2]))",
    "multi_dot": (
        "np.sum(np.linalg.multi_dot([a.reshape(2, 3), b.reshape(3, 2), a.reshape(2, 3)]) ** 2)"
    ),
    "multi_dot of vectors": "np.linalg.multi_dot([a, np.outer(a, b), b])",
    "cross of 3-vectors": "np.sum(np.cross(a.reshape(2, 3), b.reshape(3, 2), axisb=0) ** 2)",
    "cross of 2-vectors": "np.sum(np.cross(a.reshape(3, 2), b.reshape(3, 2)) ** 2)",
    "sort": "np.sum(np.sort(a * b) * b) + np.sum(np.sort(np.outer(a, b), axis=0) ** 2)",
    "sort, flattened": "np.sum(np.sort(np.outer(a, b), axis=None)[::3] ** 2)",
    "take, wrapped and clipped": (
        "np.sum(np.take(a * b, [-1, 7, 7], mode='wrap') ** 2)"
        " + np.sum(np.take(np.outer(a, b), [[9, -2], [1, 1]], axis=0, mode='clip') ** 3)"
    ),
    "repeat by counts": "np.sum(np.repeat(a * b, [1, 0, 2, 1, 1, 3]) ** 3)",
    "pad wider than the axis": (
        "np.sum(np.pad(a * b, (9, 13), mode='reflect') ** 3)"
        " + np.sum(np.pad(np.outer(a, b), ((1, 7), (8, 0)), mode='wrap') ** 3)"
    ),
    "pad constants": "np.sum(np.pad(a, 2, constant_values=(b[0], b[1])) ** 2)",
}
