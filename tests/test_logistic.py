"""The logistic function written out is differentiated from its output (``logistic.py``): every
spelling people write, the side conditions where it must not apply, and the gradient against
the literal adjoint and central differences at several shapes."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

SPELLINGS = {
    "one over one plus": "h = 1 / (1 + np.exp(-z))",
    "floats": "h = 1.0 / (1.0 + np.exp(-z))",
    "one added last": "h = 1 / (np.exp(-z) + 1)",
    "times minus one": "h = 1 / (1 + np.exp(-1.0 * z))",
    "np.negative": "h = 1 / (1 + np.exp(np.negative(z)))",
    "reciprocal": "h = np.reciprocal(1 + np.exp(-z))",
    "power minus one": "h = (1 + np.exp(-z)) ** -1",
    "two lines": "e = np.exp(-z)\n    h = 1 / (1 + e)",
    "logaddexp": "h = np.exp(-np.logaddexp(0, -z))",
    "logaddexp, the zero last": "h = np.exp(-np.logaddexp(-z, 0.0))",
}

# where the rule must not apply: a temporary read elsewhere, or other constants
NOT_LOGISTIC = {
    "exp read again": "e = np.exp(-z)\n    h = 1 / (1 + e) + 0.1 * e",
    "two plus": "h = 1 / (2 + np.exp(-z))",
    "two over": "h = 2 / (1 + np.exp(-z))",
    "no negation": "h = 1 / (1 + np.exp(z))",
    "sum read again": "s = 1 + np.exp(-z)\n    h = 1 / s * s ** 0.5",
    "logaddexp of one": "h = np.exp(-np.logaddexp(1.0, -z))",
    "logaddexp read again": "s = np.logaddexp(0, -z)\n    h = np.exp(-s) + 0.1 * s",
    "logaddexp without its negation": "h = np.exp(np.logaddexp(0, -z)) ** -1.0",
    "logaddexp of z": "h = np.exp(-np.logaddexp(0, z))",
}

SHAPES = [(), (5,), (3, 4), (1, 4)]


def function_of(line: str):
    return define(f"def f(W, x):\n    z = W * x\n    {line}\n    return np.sum(h * x)\n")


def arguments(shape, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=shape) * 2.0
    x = rng.normal(size=shape)
    return [float(W), float(x)] if shape == () else [W, x]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(SPELLINGS) + list(NOT_LOGISTIC))
def test_the_gradient_agrees_with_the_literal_adjoint_and_differences(name, shape):
    f = function_of({**SPELLINGS, **NOT_LOGISTIC}[name])
    args = arguments(shape)
    optimised = overbar.grad(f, wrt=(0, 1))(*args)
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(*args)
    for mine, theirs in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-14)
    overbar.check_grad(f, args, wrt=(0, 1))


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_keeps_only_the_output(name):
    f = function_of(SPELLINGS[name])
    text = overbar.grad(f, wrt=(0, 1)).source_for(*arguments((3, 4)))
    assert "h * (1 - h)" in text
    forward = text.split("# return")[0]
    user_lines = 2 + SPELLINGS[name].count("\n")  # the user's own names stay
    assert "exp(" in forward and forward.count(" = ") == user_lines, text  # no temporaries


@pytest.mark.parametrize("name", NOT_LOGISTIC)
def test_other_expressions_keep_their_rules(name):
    f = function_of(NOT_LOGISTIC[name])
    text = overbar.grad(f, wrt=(0, 1)).source_for(*arguments((3, 4)))
    assert "(1 - h)" not in text


def test_large_arguments_lose_only_what_rounds_away():
    f = function_of(SPELLINGS["floats"])
    W, x = np.array([40.0, -40.0, 0.0, 700.0]), np.ones(4)
    W_bar, _ = overbar.grad(f, wrt=(0, 1))(W, x)
    expected = np.exp(-np.abs(W)) / (1 + np.exp(-np.abs(W))) ** 2
    np.testing.assert_allclose(W_bar, expected, rtol=0, atol=1e-16)


def test_in_a_loop_the_chain_is_recognised_and_right():
    f = define(
        "def f(W, x):\n    h = x\n    for _ in range(3):\n"
        "        h = 1.0 / (1.0 + np.exp(-(W @ h)))\n    return np.sum(h)\n"
    )
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(4, 4)), rng.normal(size=4)]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "h * (1 - h)" in text
    overbar.check_grad(f, args, wrt=(0, 1))
