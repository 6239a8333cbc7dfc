"""End to end: straight-line forward functions of the kind users write, against finite differences.

Each function is differentiated with respect to every argument listed, and ``check_grad``
compares the result element by element with central differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

rng = np.random.default_rng(7)

CORPUS = {
    "softmax cross-entropy": (
        """
        def f(W, b, x, labels):
            logits = x @ W + b
            shifted = logits - np.max(logits, axis=1, keepdims=True)
            log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
            picked = log_probs[np.arange(x.shape[0]), labels]
            return -np.mean(picked)
        """,
        [
            rng.normal(size=(4, 3)),
            rng.normal(size=3),
            rng.normal(size=(5, 4)),
            np.array([0, 2, 1, 1, 0]),
        ],
        (0, 1, 2),
    ),
    "logistic regression with L2": (
        """
        def f(w, X, y, lam):
            p = 1 / (1 + np.exp(-(X @ w)))
            nll = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
            return nll + lam * w @ w
        """,
        [rng.normal(size=3), rng.normal(size=(6, 3)), (rng.random(6) > 0.5) * 1.0, 0.1],
        (0, 3),
    ),
    "gaussian negative log-likelihood": (
        """
        def f(mu, log_sigma, x):
            sigma = np.exp(log_sigma)
            z = (x - mu) / sigma
            return np.sum(0.5 * z ** 2 + log_sigma + 0.5 * np.log(2 * np.pi))
        """,
        [rng.normal(size=(1, 3)), rng.normal(size=3) * 0.1, rng.normal(size=(4, 3))],
        (0, 1),
    ),
    "layer norm": (
        """
        def f(x, gamma, beta):
            mean = x.mean(axis=-1, keepdims=True)
            var = x.var(axis=-1, keepdims=True)
            normed = (x - mean) / np.sqrt(var + 1e-5)
            out = gamma * normed + beta
            return np.sum(out * np.cos(out))
        """,
        [rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=5)],
        (0, 1, 2),
    ),
    "attention scores": (
        """
        def f(Q, K, V):
            scores = Q @ K.T / np.sqrt(Q.shape[-1])
            weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
            weights = weights / weights.sum(axis=-1, keepdims=True)
            return np.sum((weights @ V) ** 2)
        """,
        [rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))],
        (0, 1, 2),
    ),
    "huber loss": (
        """
        def f(pred, target, delta):
            r = pred - target
            small = np.abs(r) <= delta
            loss = np.where(small, 0.5 * r ** 2, delta * (np.abs(r) - 0.5 * delta))
            return loss.mean()
        """,
        [rng.normal(size=8) * 2, rng.normal(size=8), 1.0],
        (0, 1, 2),
    ),
    "rosenbrock": (
        """
        def f(x):
            a = x[1:] - x[:-1] ** 2
            b = 1 - x[:-1]
            return np.sum(100 * a ** 2 + b ** 2)
        """,
        [rng.normal(size=6)],
        (0,),
    ),
    "spring energy": (
        """
        def f(positions, k, rest):
            d = positions[1:] - positions[:-1]
            length = np.linalg.norm(d, axis=1)
            stretch = length - rest
            potential = 0.5 * k * np.sum(stretch ** 2)
            return potential
        """,
        [rng.normal(size=(4, 2)), 2.5, 0.7],
        (0, 1, 2),
    ),
    "scalar arithmetic on python floats": (
        """
        def f(a, b):
            c = a * b + a / b
            c = c ** 2 - np.sin(a) * np.exp(-b)
            d = np.arctan2(a, b) + np.hypot(a, b)
            return c * d
        """,
        [0.7, -1.3],
        (0, 1),
    ),
    "reused values and reassignment": (
        """
        def f(x, y):
            z = x * y
            z = z + x
            z *= y
            w = z - x
            return np.sum(w * z + x)
        """,
        [rng.normal(size=(2, 3)), rng.normal(size=3)],
        (0, 1),
    ),
    "linear solve and determinant": (
        """
        def f(A, b):
            x = np.linalg.solve(A, b)
            return x @ x + np.log(np.abs(np.linalg.det(A)))
        """,
        [np.eye(3) * 3 + rng.normal(size=(3, 3)) * 0.3, rng.normal(size=3)],
        (0, 1),
    ),
    "einsum bilinear form with trace": (
        """
        def f(A, u, v):
            s = np.einsum('i,ij,j->', u, A, v)
            return s + np.trace(A @ A.T) * 0.1
        """,
        [rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)],
        (0, 1, 2),
    ),
    "shape juggling": (
        """
        def f(x, y):
            flat = x.reshape(-1)
            both = np.concatenate([flat, y], axis=0)
            stacked = np.stack([both, both * 2.0])
            picked = stacked[:, ::2].T
            grown = np.expand_dims(picked, 0)
            return np.sum(np.squeeze(grown) ** 3)
        """,
        [rng.normal(size=(2, 3)), rng.normal(size=4)],
        (0, 1),
    ),
    "max pooling and relu": (
        """
        def f(x, w):
            h = np.maximum(x @ w, 0.0)
            pooled = h.reshape(2, 2, -1).max(axis=1)
            return np.sum(pooled * np.arange(pooled.size).reshape(pooled.shape))
        """,
        [rng.normal(size=(4, 3)), rng.normal(size=(3, 6))],
        (0, 1),
    ),
    "prod with a zero": (
        """
        def f(x):
            return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=0))
        """,
        [np.array([0.0, 1.5, -2.0, 0.5])],
        (0,),
    ),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_function_against_finite_differences(name):
    source, args, wrt = CORPUS[name]
    f = define(source)
    overbar.check_grad(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)
