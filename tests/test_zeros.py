"""Gradients accumulated through a loop start as zeros of their parameter (``zeros.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

LOOP = """
def f(W, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t] + b)
    return np.sum(h ** 2)
"""
RNG = np.random.default_rng(11)
W, B, XS, H0 = (
    RNG.normal(size=(3, 3)) * 0.5,
    RNG.normal(size=3),
    RNG.normal(size=(4, 3)),
    RNG.normal(size=3),
)


def test_a_loops_gradients_start_as_zeros_and_need_no_shaping_after():
    f = define(LOOP)
    text = overbar.grad(f, wrt=(0, 1)).source_for(W, B, XS, H0)
    assert "W_bar = zero_gradient(W)" in text and "b_bar = zero_gradient(b)" in text, text
    assert "adjoint_like(W_bar" not in text and "adjoint_like(b_bar" not in text
    overbar.check_grad(f, [W, B, XS, H0], wrt=(0, 1))


def test_a_loop_that_never_runs_gives_zeros_of_the_parameters_shape_and_dtype():
    f = define(LOOP)
    for dtype in (np.float64, np.float32):
        gradient = overbar.grad(f, wrt=(0, 1))(
            W.astype(dtype), B.astype(dtype), XS[:0].astype(dtype), H0.astype(dtype)
        )
        assert [g.shape for g in gradient] == [(3, 3), (3,)]
        assert all(g.dtype == dtype and not g.any() for g in gradient)


@pytest.mark.parametrize(
    "source",
    [
        # a number's gradient stays a number
        "def f(s, xs):\n    h = 0.0\n    for t in range(xs.shape[0]):\n"
        "        h = np.tanh(s * h + xs[t])\n    return h\n",
        # the parameter's adjoint also flows through another name in the loop
        "def f(W, xs):\n    V = W\n    h = xs[0]\n    for t in range(xs.shape[0]):\n"
        "        h = np.tanh(V @ h) + W @ xs[t]\n    return np.sum(h)\n",
        # broadcast: a vector's gradient from a scalar contribution
        "def f(b, xs):\n    total = 0.0\n    for t in range(xs.shape[0]):\n"
        "        total = total + np.sum(np.sin(b + np.sum(xs[t])))\n    return total\n",
    ],
    ids=["number", "aliased", "broadcast"],
)
def test_other_accumulations_stay_right(source):
    f = define(source)
    args = {
        "number": [0.4, RNG.normal(size=5)],
        "aliased": [W * 0.3, XS[:, :3]],
        "broadcast": [B, XS],
    }
    name = "number" if "s * h" in source else "aliased" if "V = W" in source else "broadcast"
    overbar.check_grad(f, args[name])
    literal = overbar.grad(f, optimise=False)(*args[name])
    np.testing.assert_allclose(overbar.grad(f)(*args[name]), literal, rtol=1e-10, atol=1e-12)
