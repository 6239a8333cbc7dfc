"""Calls of a ``functools.partial`` (``transpiler/partials.py``): a global, a closure
variable, or a function passed to the differentiated function or to a helper, called through
to the function it wraps with its bound arguments and keywords; and the refusal of one whose
function has no rule."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import overbar
from overbar.errors import MissingRuleError
from tests.support import define

RNG = np.random.default_rng(23)
SHAPES = [(3,), (2, 3), (4, 1)]

MODULE = """
def scaled_loss(w, x, scale=1.0, power=2):
    return np.sum((w * x) ** power) * scale

def apply(f, v):
    return f(v)

def make(scale):
    def closure(x):
        return half(x, x) * scale
    return closure
"""

NAMESPACE_PARTIALS = {
    "summed_rows": "functools.partial(np.sum, axis=0)",
    "half": "functools.partial(scaled_loss, scale=0.5)",
    "bound_weights": "functools.partial(scaled_loss, WEIGHTS, power=3)",
    "clipped": "functools.partial(np.clip, a_min=-0.5, a_max=0.5)",
}

PROGRAMS = {
    "a NumPy function with a keyword bound": "np.sum(np.tanh(summed_rows(x * x)))",
    "a helper with a keyword bound": "half(x, x)",
    "a helper with an array and a keyword bound": "bound_weights(x)",
    "the call overrides a bound keyword": "half(x, x, scale=3.0)",
    "a partial passed to a helper": "np.sum(apply(summed_rows, np.sin(x)))",
    "a partial read by a closure": "make_two(x)",
}


def _module(program: str):
    partials = "\n".join(f"{name} = {value}" for name, value in NAMESPACE_PARTIALS.items())
    source = (
        "import functools\n\nWEIGHTS = np.linspace(0.5, 1.5, 3)\n"
        + MODULE
        + partials
        + "\nmake_two = make(2.0)\n\n"
        + f"def f(x):\n    return {program}\n"
    )
    return define(source)


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_call_of_a_partial_is_differentiated(name, shape):
    if name == "a helper with an array and a keyword bound" and shape[-1] != 3:
        pytest.skip("the bound weights have three elements")
    f = _module(PROGRAMS[name])
    x = RNG.uniform(-1.0, 1.0, size=shape)
    overbar.check_grad(f, [x])
    literal = overbar.grad(f, optimise=False)(x)
    np.testing.assert_allclose(overbar.grad(f)(x), literal, rtol=1e-12, atol=1e-14)


def test_the_generated_code_calls_the_function_with_the_bound_arguments():
    f = _module("np.sum(np.tanh(summed_rows(x * x))) + bound_weights(x)")
    source = overbar.grad(f).source_for(np.ones(3))
    assert "np.sum(x * x, axis=0)" in source  # called by the module's name
    assert "bound_weights.args[0]" in source  # the bound array, read from the partial


def test_a_partial_passed_to_the_differentiated_function():
    f = define("def f(x, g):\n    return np.sum(g(x) ** 2)\n")
    x = RNG.uniform(-1.0, 1.0, size=(2, 3))
    for g, expected in (
        (functools.partial(np.sum, axis=0), lambda x: 2 * np.sum(x, axis=0) * np.ones_like(x)),
        (functools.partial(np.power, 2.0), lambda x: 2 * 4.0**x * np.log(2.0)),
    ):
        np.testing.assert_allclose(overbar.grad(f)(x, g), expected(x), rtol=1e-12)


def test_a_partial_of_a_function_without_a_rule_is_refused_naming_it():
    f = define(
        "import functools\n\nbessel = functools.partial(np.unwrap)\n\n"
        "def f(x):\n    return np.sum(bessel(x))\n"
    )
    with pytest.raises(MissingRuleError) as caught:
        overbar.grad(f)(np.ones(3))
    message = str(caught.value)
    assert "np.unwrap" in message
    assert "bessel(x)" in message.splitlines()[1]


def test_a_partial_a_closure_reads_called_through_a_wrapper_with_star_args():
    f = define(
        "import functools\n\n"
        "def wrap(fun):\n    def wrapped(*args, **kwargs):\n        return fun(*args, **kwargs)\n"
        "    return wrapped\n\n"
        "summed = wrap(functools.partial(np.sum, axis=0))\n"
        "scaled = wrap(functools.partial(np.multiply, 3.0))\n\n"
        "def f(x):\n    return np.sum(np.tanh(summed(x * x, keepdims=True))) + np.sum(scaled(x))\n"
    )
    x = RNG.uniform(-1.0, 1.0, size=(3, 2))
    overbar.check_grad(f, [x])
    expected = 2 * x * (1 - np.tanh(np.sum(x * x, axis=0, keepdims=True)) ** 2) + 3.0
    np.testing.assert_allclose(overbar.grad(f)(x), expected, rtol=1e-12)
