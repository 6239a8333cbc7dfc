"""Helpers with ``*args`` (``def total(*args)``, ``lambda *args: ...``): each call passes a fixed
number of positional arguments, so the helper's pullback is specialised on that number
(``parse.with_arity``): ``*args`` becomes one parameter per argument, and ``args[0]``,
``args[1:]``, ``len(args)`` and ``g(*args)`` read them."""

from __future__ import annotations

import re

import numpy as np
import pytest

import overbar
from overbar.transpiler.optimisations import Optimisations
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(5)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5))]

HELPERS = """
def product(*args):
    p = args[0]
    for a in args[1:]:
        p = p * a
    return p

def head_and_rest(first, *rest):
    s = np.sum(np.tanh(first))
    for r in rest:
        s = s + np.sum(np.sin(r) * first)
    return s

def counted(*args):
    return np.sum(args[-1]) * len(args)

def forwarded(*args):
    return head_and_rest(args[0] * 2.0, *args[1:])

def rebinds(*args):
    args = args[1:]
    return np.sum(args[0] ** 2)

def with_default(a, b=2.0, *args):
    return np.sum(a * b) + np.sum(product(*args, a)) if args else np.sum(a * b)

pair = lambda *args: args[0] * np.exp(args[1])
"""

PROGRAMS = {
    "two arguments": "np.sum(product(x, y))",
    "three arguments, then two": "np.sum(product(x, y, x)) + np.sum(product(y, x))",
    "one argument": "np.sum(product(x))",
    "a named parameter before *rest": "head_and_rest(x, y) + head_and_rest(y, x, x)",
    "no argument for *rest": "head_and_rest(x)",
    "len(args) and args[-1]": "counted(x, y, x)",
    "forwarded with *args[1:]": "forwarded(x, y, y)",
    "args rebound in the helper": "rebinds(x, y)",
    "a default before *args": "with_default(x) + with_default(x, y) + with_default(x, y, y)",
    "a lambda with *args": "np.sum(pair(x, y))",
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_helper_with_star_args_is_differentiated(name, shapes):
    f = define(HELPERS + f"def f(x, y):\n    return {PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_the_product_of_star_args_has_the_product_rule():
    f = define(HELPERS + "def f(x, y):\n    return np.sum(product(x, y, x))\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    gx, gy = overbar.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 2 * x * y, rtol=1e-12)
    np.testing.assert_allclose(gy, x * x, rtol=1e-12)


def test_each_arity_gets_its_own_pullback_with_a_parameter_per_argument():
    program = "def f(x, y):\n    return np.sum(product(x, y)) + np.sum(product(x, y, y))\n"
    f = define(HELPERS + program)
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    source = overbar.grad(f, wrt=(0, 1)).source_for(x, y)
    # each call's helper runs forward once, keeping its residuals (helpers kept as pullbacks)
    assert "def product_forward(args_0, args_1):" in source
    assert "def product_forward_2(args_0, args_1, args_2):" in source
    recomputing = overbar.grad(f, wrt=(0, 1), optimise=Optimisations(residuals=False))
    source = recomputing.source_for(x, y)
    assert "def product_pullback(args_0, args_1, args_2, *, result_bar):" in source
    assert "def product_pullback_2(args_0, args_1, *, result_bar):" in source


def test_a_name_args_0_in_the_helper_is_not_taken():
    source = "def g(*args):\n    args_0 = args[0] * 3.0\n    return args_0 * args[1]\n\n"
    f = define(source + "def f(x, y):\n    return np.sum(g(x, y))\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    gx, gy = overbar.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 3.0 * y, rtol=1e-12)
    np.testing.assert_allclose(gy, 3.0 * x, rtol=1e-12)


def test_a_starred_argument_of_unknown_length_is_still_refused_at_its_line():
    source = "def g(*args):\n    args = list(args)\n    return np.sum(np.add(*args))\n\n"
    f = define(source + "def f(x, y):\n    return g(x, y)\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    with pytest.raises(UnsupportedSyntaxError, match="a starred expression") as caught:
        overbar.grad(f)(x, y)
    assert "return np.sum(np.add(*args))" in str(caught.value)


KEYWORDS = """
def scaled(x, **options):
    return np.sum(np.tanh(x * options["scale"]) * options.get("weight", 1.0))

def both(x, *args, **named):
    total = np.sum(x * named["a"])
    for v in args:
        total = total + np.sum(v * named["b"])
    return total
"""

KEYWORD_PROGRAMS = {
    "a keyword collected": "scaled(x, scale=2.0)",
    "two, one of them differentiated": "scaled(x, scale=y, weight=x)",
    "none collected": "np.sum(x) if False else scaled(x, scale=1.5)",
    "*args and **kwargs": "both(x, y, x, a=y, b=3.0) + both(y, a=x)",
}


@pytest.mark.parametrize("name", KEYWORD_PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_helper_with_star_star_kwargs_is_differentiated(name, shapes):
    f = define(KEYWORDS + f"def f(x, y):\n    return {KEYWORD_PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_each_keyword_collected_is_a_keyword_parameter_of_the_pullback():
    f = define(KEYWORDS + "def f(x, y):\n    return scaled(x, scale=y, weight=2.0)\n")
    source = overbar.grad(f, wrt=(0, 1)).source_for(np.ones(3), np.ones(3))
    assert "def scaled_pullback(x, *, options_scale, options_weight, result_bar):" in source
    assert 'options = {"scale": options_scale, "weight": options_weight}' in source


TOP_LEVEL = """
def scaled_terms(scale, *terms):
    total = 0.0
    for t in terms:
        total = total + np.sum(np.sin(t) * t) * scale
    return total

first_or_pair = lambda *args: (
    np.sum(np.sin(args[0]) * args[1]) if len(args) > 1 else np.sum(np.cos(args[0]))
)
"""


@pytest.mark.parametrize("shapes", SHAPES)
def test_a_differentiated_function_with_star_args_is_specialised_per_call(shapes):
    scaled_terms = define(TOP_LEVEL, "scaled_terms")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    for args, wrt in (((1.5, x), (0, 1)), ((1.5, x, y), (0, 1, 2)), ((1.5, x, y, x), (1, 3))):
        overbar.check_grad(scaled_terms, list(args), wrt=wrt)
    gx, gy = overbar.grad(scaled_terms, wrt=(1, 2))(2.0, x, y)
    np.testing.assert_allclose(gx, 2.0 * (np.cos(x) * x + np.sin(x)), rtol=1e-12)
    np.testing.assert_allclose(gy, 2.0 * (np.cos(y) * y + np.sin(y)), rtol=1e-12)


def test_a_lambda_with_star_args_differentiated_itself():
    first_or_pair = define(TOP_LEVEL, "first_or_pair")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 4))
    gx, gy = overbar.grad(first_or_pair, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y, rtol=1e-12)
    np.testing.assert_allclose(gy, np.sin(x), rtol=1e-12)
    np.testing.assert_allclose(overbar.grad(first_or_pair)(x), -np.sin(x), rtol=1e-12)
    source = overbar.grad(first_or_pair, wrt=(0, 1)).source_for(x, y)
    assert re.search(r"def lambda_\d+_grad\(args_0, args_1\):", source)


def test_wrt_naming_star_args_is_refused():
    scaled_terms = define(TOP_LEVEL, "scaled_terms")
    with pytest.raises(overbar.OverbarError, match=r"wrt names \*terms"):
        overbar.grad(scaled_terms, wrt="terms")
