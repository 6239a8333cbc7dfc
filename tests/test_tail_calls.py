"""A function that calls itself only in tail position is differentiated as the loop it is
(``transpiler/tail_calls.py``); other recursions stay recursions. Every gradient here is also
checked by the guard (against the literal adjoint and central differences)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

import overbar
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.parse import parse
from overbar.transpiler.tail_calls import with_tail_calls_as_loop
from tests.support import define

REVERSE = Optimisations(forward=False)

TAIL = {
    "if": """
def f(x, steps):
    if steps == 0:
        return x
    return f(x - 0.01 * (x ** 3 - 2 * x), steps - 1)
""",
    "else": """
def f(x, steps):
    if steps <= 0:
        return np.sum(x)
    else:
        return f(np.sin(x) * 0.9, steps - 1)
""",
    "expression": """
def f(x, steps):
    return x if steps == 0 else f(steps=steps - 1, x=np.tanh(x) + 0.1)
""",
    "statements between": """
def f(x, steps, scale):
    if steps == 0:
        return np.sum(x * scale)
    y = np.cos(x) * scale
    z = y + x
    return f(z * 0.5, steps - 1, scale)
""",
}


@pytest.mark.parametrize("name", sorted(TAIL))
@pytest.mark.parametrize("optimise", [True, REVERSE], ids=["default", "reverse"])
def test_a_tail_recursion_is_differentiated_as_a_loop(name, optimise):
    f = define(TAIL[name])
    args = [0.7, 40] if "scale" not in TAIL[name] else [np.array([0.2, -0.4]), 30, 1.5]
    gradient = overbar.grad(f, optimise=optimise)
    result = gradient(*args)
    eps = 1e-6
    at = args[0]
    if np.ndim(at):
        numeric = [
            (f(at + eps * e, *args[1:]) - f(at - eps * e, *args[1:])) / (2 * eps)
            for e in np.eye(at.size)
        ]
    else:
        numeric = (f(at + eps, *args[1:]) - f(at - eps, *args[1:])) / (2 * eps)
    np.testing.assert_allclose(result, numeric, rtol=1e-6, atol=1e-9)
    source = gradient.source_for(*args)
    assert "while " in source
    assert "_jvp" not in source and "_pullback" not in source


@pytest.mark.parametrize(
    "source",
    [
        # not in tail position: the product comes after the call returns
        "def f(x, n):\n    if n == 0:\n        return x\n    return f(x, n - 1) * x\n",
        # called twice
        "def f(x, n):\n    if n <= 0:\n        return x\n    return f(f(x, n - 1), n - 2)\n",
        # a parameter left to its default
        "def f(x, n, c=0.5):\n    if n == 0:\n        return x * c\n    return f(x * c, n - 1)\n",
        # a statement that is not an assignment
        "def f(x, n):\n    if n == 0:\n        return x\n    for _ in range(2):\n"
        "        x = x * 0.9\n    return f(x, n - 1)\n",
        # no parameter changes: the recursion never ends where it recurses (a loop would hang)
        "def f(x, n):\n    if n >= 0:\n        return x * x\n    return f(x, n)\n",
    ],
    ids=["not-tail", "twice", "default", "loop-between", "nothing-changes"],
)
def test_other_recursions_stay_recursions(source):
    f = define(source)
    parsed = parse(f)
    assert with_tail_calls_as_loop(parsed) is parsed
    gradient = overbar.grad(f)
    x = 0.8
    eps = 1e-6
    numeric = (f(x + eps, 4) - f(x - eps, 4)) / (2 * eps)
    assert gradient(x, 4) == pytest.approx(numeric, rel=1e-6)


def test_a_parameter_handed_on_as_itself_keeps_its_value_unrebound():
    """``f(z * 0.5, steps - 1, scale)``: the loop rebinds x and steps; scale is the same object
    at every level, so the reverse sweep saves nothing for it per trip."""
    f = define(TAIL["statements between"])
    loop = with_tail_calls_as_loop(parse(f)).tree.body[1]  # after depth = 0
    assert ast.unparse(loop.body[-1]) == "x, steps = (z * 0.5, steps - 1)"
    args = [np.array([0.2, -0.4]), 30, 1.5]
    text = overbar.grad(f, wrt=(0, 2)).source_for(*args)
    assert "stack.append(scale)" not in text, text
