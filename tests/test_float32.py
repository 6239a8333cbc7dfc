"""float32 in, float32 out: the gradient of a function of float32 arrays is computed in float32
(no silent upcast), by every pass, general and specialised, and checked against differences."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

PROGRAMS = {
    "mlp": (
        "def f(W1, W2, x):\n    h = 1.0 / (1.0 + np.exp(-(W1 @ x)))\n"
        "    return 0.5 * np.sum((W2 @ h) ** 2)\n",
        [(4, 3), (2, 4), (3, 5)],
    ),
    "rnn": (
        "def f(W, xs):\n    h = np.zeros(W.shape[0], dtype=W.dtype)\n    for x in xs:\n"
        "        h = np.tanh(W @ h + x)\n    return np.sum(h * h)\n",
        [(3, 3), (4, 3)],
    ),
    "rows": (
        "def f(w, X):\n    total = 0.0\n    for i in range(X.shape[0]):\n"
        "        r = X[i] @ w\n        total = total + r * r\n    return total\n",
        [(3,), (5, 3)],
    ),
    "stencil": (
        "def f(u, c):\n    v = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])\n"
        "    return np.sum(v * v)\n",
        [(6,), ()],
    ),
    "reductions": (
        "def f(X, y):\n    m = np.max(X, axis=1, keepdims=True)\n"
        "    l = np.log(np.sum(np.exp(X - m), axis=1, keepdims=True)) + m\n"
        "    return np.mean(l) + np.std(X) + np.sum(np.log(1 + np.exp(y)))\n",
        [(3, 4), (4,)],
    ),
}


def arguments(shapes, seed):
    rng = np.random.default_rng(seed)
    return [
        (
            np.float32(rng.uniform(0.1, 0.5))
            if shape == ()
            else (rng.normal(size=shape) * 0.5).astype(np.float32)
        )
        for shape in shapes
    ]


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("optimise", [True, False])
def test_float32_gradients_are_float32(name, optimise):
    source, shapes = PROGRAMS[name]
    f = define(source)
    args = arguments(shapes, len(name))
    wrt = tuple(range(len(args)))
    gradients = overbar.grad(f, wrt=wrt, optimise=optimise)(*args)
    for gradient, argument in zip(gradients, args, strict=True):
        assert np.asarray(gradient).dtype == np.float32, (name, gradient)
        assert np.shape(gradient) == np.shape(argument)
    wide = [a.astype(np.float64) for a in args]
    overbar.check_grad(f, wide, wrt=wrt)  # the float64 gradient against differences
    reference = overbar.grad(f, wrt=wrt)(*wide)
    for gradient, expected in zip(gradients, reference, strict=True):
        np.testing.assert_allclose(gradient, expected, rtol=2e-3, atol=2e-4)
