"""Chained assignment, ``a = b = expression``: the expression once, then each target in order,
all holding the one object (so neither may then be changed in place)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

PROGRAMS = {
    "two names": "a = b = np.sin(x)\n    return np.sum(a * b)",
    "a name and a tuple": "a = (p, q) = (x * 2.0, np.cos(x))\n    return np.sum(p * q) + np.sum(a[0])",
    "rebinding the argument": "x = y = x * 3.0\n    return np.sum(x * y)",
    "in a loop": "s = t = x\n    for _ in range(3):\n        s = t = np.tanh(s) + t\n    return np.sum(s)",
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_a_chained_assignment_is_differentiated(name, shape):
    f = define(f"def f(x):\n    {PROGRAMS[name]}\n")
    x = np.random.default_rng(len(shape)).uniform(0.1, 0.9, size=shape)
    x = float(x) if shape == () else x
    overbar.check_grad(f, [x])
    np.testing.assert_allclose(overbar.grad(f)(x), overbar.grad(f, optimise=False)(x), rtol=1e-12)


@pytest.mark.parametrize(
    "body",
    [
        "a = b = np.zeros(3)\n    a[0] = x[0]\n    return np.sum(b * x)",
        "a = b = x * 2.0\n    a += x\n    return np.sum(b * x)",
    ],
)
def test_changing_one_of_two_names_of_one_array_in_place_is_refused(body):
    f = define(f"def f(x):\n    {body}\n")
    with pytest.raises(UnsupportedSyntaxError):
        overbar.grad(f)(np.ones(3))
