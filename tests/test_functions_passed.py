"""Functions as values: a helper that takes a function (``apply_twice(f, v)`` returning
``f(f(v))``) and module-level lambdas (``sigmoid = lambda z: ...``) called from a differentiated
function.

The function a helper is passed is known when the caller is compiled (a global, or a parameter
its own caller bound to one), so the helper's pullback is specialised on it: one pullback per
function passed. A function known only when the code runs is refused at its line.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

X = np.random.default_rng(11).uniform(-1.0, 1.0, size=(2, 3))

HELPERS = """
def apply_twice(f, v):
    return f(f(v))

def apply_once(f, v):
    return f(v)

def apply_nested(f, v):
    return apply_once(f, v) * apply_twice(f, v)

def scaled(v):
    return 0.5 * np.sin(v) + v

sigmoid = lambda z: 1 / (1 + np.exp(-z))

weighted = lambda a, b: a * np.tanh(b)

"""

PROGRAMS = {
    "a NumPy function": ("np.sum(apply_twice(np.tanh, x))", lambda x: np.tanh(np.tanh(x))),
    "a user function": ("np.sum(apply_twice(scaled, x))", None),
    "a module-level lambda, passed": ("np.sum(apply_twice(sigmoid, x))", None),
    "by keyword": ("np.sum(apply_twice(v=x, f=np.sin))", lambda x: np.sin(np.sin(x))),
    "two functions, one helper": (
        "np.sum(apply_twice(np.tanh, x) * apply_twice(np.sin, x))",
        lambda x: np.tanh(np.tanh(x)) * np.sin(np.sin(x)),
    ),
    "passed on to another helper": ("np.sum(apply_nested(np.cos, x))", None),
    "a module-level lambda, called": ("np.sum(sigmoid(x) * x)", None),
    "a lambda of two parameters": ("np.sum(weighted(x, x * 2.0))", None),
    "a lambda in a loop": (
        "np.sum(sum(sigmoid(row) for row in x))",
        lambda x: np.sum(1 / (1 + np.exp(-x))),
    ),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_function_passed_or_bound_to_a_name_is_differentiated(name):
    expression, value = PROGRAMS[name]
    f = define(HELPERS + f"def f(x):\n    return {expression}\n")
    overbar.check_grad(f, [X])
    gradient = overbar.grad(f)(X)
    np.testing.assert_allclose(gradient, overbar.grad(f, optimise=False)(X), rtol=1e-12)
    if value is not None:
        np.testing.assert_allclose(f(X), np.sum(value(X)), rtol=1e-12)


# inlined (``inline.py``) by default: a helper given a function by its global path is spliced
# in calling that path; these tests are of the pullbacks made where it is not
KEPT_AS_PULLBACKS = overbar.Optimisations(inline=False)


def test_each_function_passed_gets_its_own_pullback():
    f = define(
        HELPERS
        + "def f(x):\n    return np.sum(apply_twice(np.tanh, x) + apply_twice(np.sin, x))\n"
    )
    t, s = np.tanh(X), np.sin(X)
    expected = (1 - np.tanh(t) ** 2) * (1 - t**2) + np.cos(s) * np.cos(X)
    np.testing.assert_allclose(overbar.grad(f)(X), expected, rtol=1e-12)
    source = overbar.grad(f, optimise=KEPT_AS_PULLBACKS).source_for(X)
    assert source.count("def apply_twice_pullback") == 2


def test_the_pullback_calls_the_function_it_was_passed():
    f = define(HELPERS + "def f(x):\n    return np.sum(apply_twice(np.tanh, x))\n")
    source = overbar.grad(f, optimise=KEPT_AS_PULLBACKS).source_for(X)
    assert "def apply_twice_forward(f, v):" in source, source
    assert "result = f(tmp1)" in source
    assert "apply_twice_forward(np.tanh, x)" in source


def test_a_module_level_lambdas_pullback_is_named_after_it():
    f = define(HELPERS + "def f(x):\n    return np.sum(sigmoid(x))\n")
    assert "sigmoid_pullback(" in overbar.grad(f).source_for(X)


def test_a_function_passed_to_the_differentiated_function_is_differentiated():
    f = define(HELPERS + "def f(g, x):\n    return np.sum(g(x) * x)\n")
    gradient = overbar.grad(f, wrt="x")
    for passed, derivative in (
        (np.tanh, lambda x: np.tanh(x) + x * (1 - np.tanh(x) ** 2)),
        (np.sin, lambda x: np.sin(x) + x * np.cos(x)),
        (np.tanh, lambda x: np.tanh(x) + x * (1 - np.tanh(x) ** 2)),  # the first again
    ):
        np.testing.assert_allclose(gradient(passed, X), derivative(X), rtol=1e-12)
    overbar.check_grad(f, [f.__globals__["scaled"], X], wrt=1)
    overbar.check_grad(f, [f.__globals__["sigmoid"], X], wrt=1)


def test_a_parameters_default_function_is_differentiated():
    f = define("def f(x, reduce=np.sum):\n    return reduce(np.exp(x) * x)\n")
    for reduce in (None, np.prod, np.max):
        args = [X] if reduce is None else [X, reduce]
        overbar.check_grad(f, args)


def test_a_function_known_only_when_the_code_runs_is_refused_at_its_line():
    f = define("def f(g, x):\n    h = g if np.sum(x) > 0 else np.cos\n    return np.sum(h(x))\n")
    with pytest.raises(UnsupportedSyntaxError, match="a call of the local variable h") as caught:
        overbar.grad(f, wrt="x")(np.tanh, X)
    assert f"{f.__code__.co_filename}:{f.__code__.co_firstlineno + 2}:" in str(caught.value)
    assert "pass it to a helper by its name" in str(caught.value)


def test_a_parameter_reassigned_in_the_helper_is_not_taken_for_the_function_passed():
    source = HELPERS + (
        "def pick(f, v):\n    f = np.cos if v.shape[0] > 5 else f\n    return f(v)\n\n"
        "def f(x):\n    return np.sum(pick(np.sin, x))\n"
    )
    f = define(source)
    with pytest.raises(UnsupportedSyntaxError, match="a call of the local variable f"):
        overbar.grad(f)(X)


def test_a_function_taken_from_a_list_is_refused():
    f = define("def f(x):\n    fs = [np.sin, np.cos]\n    return np.sum(fs[0](x))\n")
    with pytest.raises(UnsupportedSyntaxError, match="computed function"):
        overbar.grad(f)(X)


LOCAL_LAMBDAS = {
    "one parameter": ("f = lambda z: z * z\n    return np.sum(f(x))", lambda x: x * x),
    "a name read when the call runs": (
        "w = 2.0\n    g = lambda z: z * w\n    w = 3.0\n    return np.sum(g(x))",
        lambda x: 3.0 * x,
    ),
    "keywords": (
        "h = lambda a, b: a * np.sin(b)\n    return np.sum(h(b=x, a=x * 2.0))",
        lambda x: 2.0 * x * np.sin(x),
    ),
    "in a loop": (
        "f = lambda z: np.tanh(z) + 0.5 * z\n    for _ in range(3):\n        x = f(x)\n"
        "    return np.sum(x)",
        None,
    ),
    "called twice in one line": (
        "f = lambda z: np.exp(-z * z)\n    return np.sum(f(f(x)) * f(x))",
        lambda x: np.exp(-np.exp(-x * x) ** 2) * np.exp(-x * x),
    ),
}


@pytest.mark.parametrize("name", LOCAL_LAMBDAS)
def test_a_lambda_bound_in_the_function_is_differentiated(name):
    body, value = LOCAL_LAMBDAS[name]
    f = define(f"def f(x):\n    {body}\n")
    overbar.check_grad(f, [X])
    np.testing.assert_allclose(overbar.grad(f)(X), overbar.grad(f, optimise=False)(X), rtol=1e-12)
    if value is not None:
        np.testing.assert_allclose(f(X), np.sum(value(X)), rtol=1e-12)


LAMBDAS_REFUSED = {
    "passed as a value": (
        "f = lambda z: z * z\n    return np.sum(apply_twice(f, x))",
        "a lambda here",
    ),
    "bound in a branch": (
        "if x.shape[0] > 1:\n        f = lambda z: z * z\n    else:\n        f = lambda z: z\n"
        "    return np.sum(f(x))",
        "a lambda here",
    ),
    "bound again": (
        "f = lambda z: z * z\n    f = lambda z: z\n    return np.sum(f(x))",
        "a lambda here",
    ),
    "called with a parameter missing": (
        "f = lambda a, b: a * b\n    return np.sum(f(x))",
        "this call of the lambda f",
    ),
    "with a default": ("f = lambda z, k=2.0: z * k\n    return np.sum(f(x))", "a lambda here"),
    "inline": ("return np.sum((lambda z: z * z)(x))", "a call of a computed function"),
}


@pytest.mark.parametrize("name", LAMBDAS_REFUSED)
def test_a_lambda_that_is_not_only_called_is_refused_at_its_line(name):
    body, what = LAMBDAS_REFUSED[name]
    f = define(HELPERS + f"def f(x):\n    {body}\n")
    with pytest.raises(UnsupportedSyntaxError, match=what) as caught:
        overbar.grad(f)(X)
    location = caught.value.location
    assert location.filename == f.__code__.co_filename
    assert f.__code__.co_firstlineno < location.line <= f.__code__.co_firstlineno + 5
