"""A name the adjoint was derived for, rebound afterwards: the adjoint is derived again.

The generated code reads the user's names when it runs, so a compiled adjoint whose function
``act`` now holds another function would compute the value with the new one and apply the
old one's derivative: a wrong gradient, silently (``transpiler/bindings.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.transpiler.bindings import bindings_hold, bindings_of
from tests.support import define

SOURCE = """
act = np.tanh
POWER = 2


def helper(z):
    return act(z) * 2.0


def through_helper(x):
    return np.sum(helper(x) ** POWER)


def direct(x):
    return np.sum(act(x))


def made_with(outer):
    def closure_loss(x):
        return np.sum(outer(x))

    return closure_loss
"""

X = np.array([0.3, -0.5, 0.7])
T = np.array([1.0, 0.5, -2.0])
CALLS = {
    "grad": lambda f: overbar.grad(f)(X),
    "value_and_grad": lambda f: overbar.value_and_grad(f)(X)[1],
    "held grad": None,  # a gradient made before the rebinding, called after it
    "jvp": lambda f: overbar.jvp(f, (X,), (T,))[1],
    "vjp": lambda f: overbar.vjp(f, X)[1](1.0),
    "hvp": lambda f: overbar.hvp(f, (X,), T),
    "jacobian": lambda f: overbar.jacobian(f)(X),
}


def _expected(name, activation, derivative):
    """What each call gives for ``through_helper`` with ``act`` = ``activation``."""
    gradient = 2 * (2 * activation(X)) * 2 * derivative(X)
    return {
        "jvp": np.sum(gradient * T),
        "hvp": None,  # compared with central differences of the gradient below
    }.get(name, gradient)


@pytest.mark.parametrize("name", list(CALLS))
def test_a_global_function_rebound_after_compiling_is_differentiated_anew(name):
    f = define(SOURCE, name="through_helper")
    space = f.__globals__
    held = overbar.grad(f)
    call = CALLS[name] or (lambda function: held(X))
    tanh_bar = lambda z: 1 - np.tanh(z) ** 2  # noqa: E731
    found = call(f)
    if name != "hvp":
        np.testing.assert_allclose(found, _expected(name, np.tanh, tanh_bar))
    space["act"] = np.sin
    found = call(f)
    if name == "hvp":  # against central differences of the (new) gradient
        eps = 1e-6
        g = overbar.grad(f)
        numeric = (g(X + eps * T) - g(X - eps * T)) / (2 * eps)
        np.testing.assert_allclose(found, numeric, rtol=1e-5, atol=1e-7)
    else:
        np.testing.assert_allclose(found, _expected(name, np.sin, np.cos))


def test_a_helper_defined_again_is_differentiated_anew():
    f = define(SOURCE, name="through_helper")
    g = overbar.grad(f)
    np.testing.assert_allclose(g(X), 8 * np.tanh(X) * (1 - np.tanh(X) ** 2))
    f.__globals__["helper"] = define("def helper(z):\n    return z * 3.0\n", name="helper")
    np.testing.assert_allclose(g(X), 18 * X)


def test_a_closure_variable_rebound_is_differentiated_anew():
    space = define(SOURCE, name="made_with").__globals__
    loss = space["made_with"](np.tanh)
    g = overbar.grad(loss)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2)
    cell = loss.__closure__[0]
    cell.cell_contents = np.sin
    np.testing.assert_allclose(g(X), np.cos(X))


def test_numbers_and_unchanged_functions_keep_the_adjoint():
    f = define(SOURCE, name="through_helper")
    g = overbar.grad(f)
    g(X)
    compiled = dict(g._specialised)
    f.__globals__["POWER"] = 3  # data: the generated code reads it when it runs
    f.__globals__["act"] = np.tanh  # the same function bound again
    found = g(X)
    assert g._specialised == compiled  # nothing derived again
    np.testing.assert_allclose(found, 3 * (2 * np.tanh(X)) ** 2 * 2 * (1 - np.tanh(X) ** 2))


def test_what_is_recorded():
    f = define(SOURCE, name="through_helper")
    space = f.__globals__
    recorded = {(name, value) for _, name, value in bindings_of(f)}
    assert recorded == {("helper", space["helper"]), ("act", np.tanh)}  # not np, not POWER
    bindings = bindings_of(f)
    assert bindings_hold(bindings)
    space["act"] = np.sin
    assert not bindings_hold(bindings)
