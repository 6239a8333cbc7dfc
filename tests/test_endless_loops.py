"""A function that ends in ``while True:`` with a return inside and no break of its own needs
no return after it (``overbar/transpiler/endless_loops.py``); any other function without a
final return is still refused."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

NEWTON = """
def f(a, tol=1e-12):
    x = a
    while True:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < tol:
            return x_new
        x = x_new
"""

NEWTON_ARRAYS = """
def f(a, w):
    x = a
    while True:
        x_new = 0.5 * (x + a / x)
        if np.max(np.abs(x_new - x)) < 1e-12:
            return np.sum(w * x_new)
        x = x_new
"""

IN_A_FINAL_BRANCH = """
def f(a, w):
    if np.sum(a) > 100.0:
        return np.sum(a)
    else:
        x = a
        k = 0
        while True:
            k += 1
            for i in range(2):
                x = 0.5 * (x + a / x)
            if k >= 3:
                return np.sum(w * x ** 2)
"""

A_RETURN_IN_AN_INNER_LOOP = """
def f(a, w):
    x = a * 1.0
    while True:
        for i in range(50):
            x = 0.5 * (x + a / x)
            if i >= 4:
                return np.sum(w * x)
"""


def test_newton_on_a_number():
    f = define(NEWTON)
    np.testing.assert_allclose(overbar.grad(f)(3.0), 0.5 / np.sqrt(3.0), rtol=1e-10)
    overbar.check_grad(f, [3.0])


@pytest.mark.parametrize("source", [NEWTON_ARRAYS, IN_A_FINAL_BRANCH, A_RETURN_IN_AN_INNER_LOOP])
@pytest.mark.parametrize("size", [1, 4])
def test_a_final_endless_loop_left_by_a_return_is_differentiated(source, size):
    f = define(source)
    rng = np.random.default_rng(size)
    a, w = rng.uniform(1.0, 3.0, size=size), rng.normal(size=size)
    value, gradient = overbar.value_and_grad(f, wrt=(0, 1))(a, w)
    assert value == pytest.approx(f(a, w), rel=1e-12)
    overbar.check_grad(f, [a, w], wrt=(0, 1))


@pytest.mark.parametrize(
    "body, line",
    [
        (
            """
            def f(a):
                x = a
                while True:
                    x = 0.5 * (x + a / x)
                    if abs(x * x - a) < 1e-9:
                        break
            """,
            "while True:",
        ),
        (
            """
            def f(a):
                x = a
                while x > 1.0:
                    x = x / 2.0
                    if x < 1.5:
                        return x
            """,
            "while x > 1.0:",
        ),
        (
            """
            def f(a):
                x = a
                while True:
                    x = x / 2.0
            """,
            "while True:",
        ),
    ],
    ids=["a break of its own", "a test that may be false", "no return inside"],
)
def test_any_other_function_without_a_final_return_is_refused(body, line):
    f = define(body)
    with pytest.raises(
        UnsupportedSyntaxError, match="a function without a final return"
    ) as raised:
        overbar.grad(f)(3.0)
    assert line in str(raised.value)
