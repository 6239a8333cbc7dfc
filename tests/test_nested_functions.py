"""Nested functions (``def`` inside the differentiated function, reading its names): lifted to
helpers of their own whose extra parameters are the names they read, passed at each call
(``transpiler/nested.py``); refused where they are more than called."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(3)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 2))]

PROGRAMS = {
    "a closure over a parameter": """
        def layer(v):
            return np.tanh(w * v)
        return np.sum(layer(layer(x)))""",
    "a name rebound between calls": """
        def scaled(v):
            return v * w
        a = scaled(x)
        w = w * 2.0 + 1.0
        return np.sum(scaled(a) * np.sin(x))""",
    "a local read, and a loop inside": """
        shift = np.cos(w)
        def body(v, k):
            total = 0.0
            for i in range(k):
                total = total + np.sum(np.sin(v + shift)) * (i + 1.0)
            return total
        return body(x, 3) + body(x * x, 2)""",
    "by keyword, no free names": """
        def square_sum(v, scale):
            return np.sum(scale * v * v)
        return square_sum(scale=2.0, v=x) + square_sum(w, 1.0)""",
    "two nested functions": """
        def first(v):
            return np.exp(-v * v) * w
        def second(v):
            return np.sum(v * x)
        return second(first(x))""",
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_nested_function_is_differentiated(name, shapes):
    body = PROGRAMS[name].replace("\n        ", "\n    ")
    f = define(f"def f(x, w):{body}\n")
    x, w = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, w], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, w)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, w), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_a_closure_reads_the_value_at_the_call_not_at_the_def():
    f = define(
        "def f(x):\n    w = 1.0\n    def g(v):\n        return v * w\n"
        "    w = 3.0\n    return np.sum(g(x))\n"
    )
    np.testing.assert_allclose(overbar.grad(f)(np.ones(2)), [3.0, 3.0])


def test_a_nested_function_in_a_helper_is_differentiated():
    f = define(
        "def helper(v, c):\n    def inner(u):\n        return np.sin(u) * c\n"
        "    return inner(v) + inner(2.0 * v)\n\n"
        "def f(x):\n    return np.sum(helper(x, 3.0))\n"
    )
    x = RNG.uniform(-1.0, 1.0, size=4)
    np.testing.assert_allclose(
        overbar.grad(f)(x), 3.0 * (np.cos(x) + 2.0 * np.cos(2.0 * x)), rtol=1e-12
    )


REFUSED = {
    "returned": ("def g(v):\n        return v\n    return g", "other than a call"),
    "passed on": (
        "def g(v):\n        return v\n    return np.sum(np.apply_along_axis(g, 0, x))",
        "other than a call",
    ),
    "called before its def": (
        "y = g(x)\n    def g(v):\n        return v\n    return np.sum(y)",
        "a call of g before its def",
    ),
    "with a default": (
        "def g(v, c=2.0):\n        return v * c\n    return np.sum(g(x))",
        "defaults",
    ),
    "nonlocal": (
        "c = 1.0\n    def g(v):\n        nonlocal c\n        c = 2.0\n        return v\n"
        "    return np.sum(g(x))",
        "nonlocal",
    ),
    "calling another nested function": (
        "def g(v):\n        return v * 2.0\n    def h(v):\n        return g(v)\n"
        "    return np.sum(h(x))",
        "a use of the nested function g in a nested function",
    ),
    "defined twice": (
        "def g(v):\n        return v\n    def g(v):\n        return v * 2.0\n"
        "    return np.sum(g(x))",
        "defined twice",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_nested_function_that_is_more_than_called_is_refused_at_its_line(name):
    body, what = REFUSED[name]
    f = define(f"def f(x):\n    {body}\n")
    with pytest.raises(UnsupportedSyntaxError, match=what) as caught:
        overbar.grad(f)(np.ones(3))
    assert "overbar_test_module" in str(caught.value)
    assert "define it at module level" in str(caught.value)
