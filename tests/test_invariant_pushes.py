"""Values a loop computes the same at every trip are not pushed (``pushes.drop_invariant_pushes``),
and the side conditions under which they still are. Every gradient here is also checked by the
guard (against the literal adjoint and central differences)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

GATES = """
def f(W, xs, h0):
    h = h0
    H = h0.shape[1]
    for t in range(xs.shape[0]):
        a = xs[t] @ W
        i = np.tanh(a[:, :H])
        g = np.sin(a[:, H:2 * H])
        h = h * i + g
    return np.sum(h ** 2)
"""


def _arguments(rng):
    return [rng.normal(size=(3, 4)), rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 2))]


def test_a_bound_computed_from_a_shape_is_not_pushed_at_every_step():
    f = define(GATES)
    args = _arguments(np.random.default_rng(0))
    gradient = overbar.grad(f)
    gradient(*args)
    source = gradient.source_for(*args)
    assert "= 2 * H" in source
    bound = next(line.split("=")[0].strip() for line in source.splitlines() if "= 2 * H" in line)
    assert f"stack.append({bound})" not in source and f"{bound} = stack.pop()" not in source
    value, pullback = overbar.vjp(f, *args)
    np.testing.assert_allclose(pullback(1.0), gradient(*args))


@pytest.mark.parametrize(
    "change",
    [
        "H = H + 0",  # the operand rebound in the loop
        "k = 2 * H\n        k = k * 1",  # the name bound twice
        "shift[0] = shift[0] + 1",  # an operand written into
    ],
)
def test_a_value_that_may_change_between_steps_is_still_pushed(change):
    source = """
def f(x, n):
    H = 1
    shift = np.zeros(2, dtype=int)
    y = x
    for t in range(n):
        CHANGE
        k = 2 * H + shift[0]
        y = np.sin(y * k) + y * t
    return np.sum(y)
""".replace("CHANGE", change)
    f = define(source)
    x = np.array([0.3, -0.2, 0.5])
    gradient = overbar.grad(f)
    result = gradient(x, 3)  # the guard compares with the literal adjoint and differences
    eps = 1e-6
    numeric = [(f(x + eps * e, 3) - f(x - eps * e, 3)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(result, numeric, rtol=1e-6)
    assert "stack.append(k)" in gradient.source_for(x, 3)


def test_a_call_is_never_taken_for_invariant():
    f = define("""
def f(x, b, n):
    y = x
    for t in range(n):
        s = np.exp(b)
        y = y * s + np.sin(y)
    return np.sum(y)
""")
    args = [np.array([0.1, 0.4]), 0.3, 4]
    gradient = overbar.grad(f, wrt=(0, 1))
    gradient(*args)
    assert "stack.append(s)" in gradient.source_for(*args)


KALMAN = """
import math
from math import pi

def f(q, r, ys):
    m = 0.0
    P = 1.0
    ll = 0.0
    for y in ys:
        P = 0.9 * P * 0.9 + q
        S = P + r
        ll += -0.5 * (np.log(CONSTANT * S) + (y - m) ** 2 / S)
        m = m + P / S * (y - m)
    return -ll
"""


class _Holder:
    k = 2.0


@pytest.mark.parametrize("constant", ["2 * np.pi", "0.5 * math.tau", "np.e + math.pi", "pi * 2"])
def test_a_value_made_of_module_constants_is_not_pushed_and_is_known_to_be_a_number(constant):
    """``2 * np.pi`` in a loop: ``np`` is a module the function never binds, whose attributes
    no program changes (calls of its functions, ``np.log``, included), so the value is the
    same at every trip; np.pi is a number, so nothing after it is summed to a shape at run
    time."""
    f = define(KALMAN.replace("CONSTANT", f"({constant})"))
    ys = np.random.default_rng(1).normal(size=6)
    gradient = overbar.grad(f, wrt=(0, 1))
    source = gradient.source_for(0.3, 0.5, ys)
    bound = next(line.split("=")[0].strip() for line in source.splitlines() if constant in line)
    assert f"stack.append({bound})" not in source and f"{bound} = stack.pop()" not in source
    assert "shape_of" not in source and "unbroadcast" not in source
    overbar.check_grad(f, [0.3, 0.5, ys], wrt=(0, 1))


def test_an_attribute_of_an_object_that_is_not_a_module_is_still_pushed():
    """An attribute of an object that is not a module (its attributes may change) is not
    taken to be the same at every trip."""
    f = define(
        """
        def f(x, n):
            y = x
            for t in range(n):
                c = HOLDER.k * 1.0
                y = np.sin(y * c) * c + y * t
            return np.sum(y)
        """,
        namespace={"HOLDER": _Holder},
    )
    x = np.random.default_rng(2).normal(size=3)
    gradient = overbar.grad(f)
    source = gradient.source_for(x, 4)
    bound = next(line.split("=")[0].strip() for line in source.splitlines() if "HOLDER.k" in line)
    assert f"stack.append({bound})" in source
    overbar.check_grad(f, [x, 4])
