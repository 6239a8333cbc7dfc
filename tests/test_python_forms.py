"""The Python forms issue 10 lists as refused once, each differentiated now (a program per
form, checked against central differences and the literal adjoint; the guard checks them too).
Unpacking, functions as values and methods have files of their own."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

FORMS = {
    "total += in a loop": (
        "total = 0.0\n    for i in range(x.shape[0]):\n        total += x[i] * w[i]\n"
        "    return total"
    ),
    "v += x on a fresh array": "v = np.tanh(x)\n    v += x\n    return np.sum(v * w)",
    "v *= 2.0 on a number": "v = np.sum(x ** 2)\n    v *= 2.0\n    return v",
    "chained assignment": "a = b = np.sin(x)\n    return np.sum(a * b * w)",
    ".T of a call": "return np.sum(np.tanh(x).T * w)",
    ".T of a product, then @": "return np.sum((2.0 * x).T @ x)",
    "a break in a range loop inside a loop over rows": (
        "total = 0.0\n    for row in X:\n        for j in range(row.shape[0]):\n"
        "            if j > 1:\n                break\n            total = total + row[j] * x[j]\n"
        "    return total"
    ),
    "an assignment expression in an if test": (
        "if (s := np.sum(x * w)) > 1.0:\n        return s * s\n    return s"
    ),
    "assignment expressions in one line, read after": (
        "y = (s := np.sum(x)) * s + np.sin(t := x[0]) * t\n    return y + np.sum(w)"
    ),
    "an assignment expression in a while test": (
        "g = x * w\n    while (r := np.max(np.abs(g))) > 0.1:\n        g = 0.5 * g\n"
        "    return np.sum(g ** 2) + r"
    ),
    "an assignment expression in a while test, a continue in the body": (
        "t = 0.0\n    i = -1\n    while (i := i + 1) < x.shape[0]:\n        if i == 1:\n"
        "            continue\n        t = t + x[i] ** 2 * w[i]\n    return t"
    ),
    "an assignment expression in a loop's iterable and an elif": (
        "t = 0.0\n    for row in (Y := X * 2.0):\n        if row[0] > 5.0:\n"
        "            t = t + 1.0\n        elif (m := np.sum(row * x)) > 0.0:\n"
        "            t = t + m\n    return t + np.sum(Y)"
    ),
}


@pytest.mark.parametrize("name", FORMS)
def test_a_form_once_refused_is_differentiated(name):
    f = define(f"def f(x, w, X):\n    {FORMS[name]}\n")
    rng = np.random.default_rng(3)
    x, w, X = rng.uniform(0.5, 1.5, 4), rng.uniform(0.5, 1.5, 4), rng.uniform(0.5, 1.5, (3, 4))
    overbar.check_grad(f, [x, w, X], wrt=(0, 1, 2))
    for mine, literal in zip(
        overbar.grad(f, wrt=(0, 1, 2))(x, w, X),
        overbar.grad(f, wrt=(0, 1, 2), optimise=False)(x, w, X),
        strict=True,
    ):
        np.testing.assert_allclose(mine, literal, rtol=1e-12, atol=1e-15)


def test_the_builtin_round_has_a_zero_gradient():
    f = define("def f(x):\n    return x[0] * round(x[1] * 3.0) + round(x[2], 1) * 2.0\n")
    x = np.array([0.7, 0.9, 1.33])
    np.testing.assert_array_equal(overbar.grad(f)(x), [3.0, 0.0, 0.0])
    overbar.check_grad(f, [x])
