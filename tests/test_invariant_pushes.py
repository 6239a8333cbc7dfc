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
