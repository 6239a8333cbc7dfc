"""The clean-ups after the other passes: pushes nothing reads any more (``pushes.py``) and
copies between names (``copies.py``), where they apply and where a side condition fails."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

FIXED_POINT = """
def f(x):
    for _ in range(20):
        x = x - 0.01 * (x ** 3 - 2 * x)
    return x
"""

SQUARES_IN_A_LOOP = """
def f(h0, W, targets):
    h = h0
    total = 0.0
    for t in range(targets.shape[0]):
        h = np.tanh(W @ h)
        total = total + 0.5 * np.sum((h - targets[t]) ** 2)
    return total
"""

READS_ITS_OLD_VALUE = """
def f(x, y):
    a = x
    for _ in range(3):
        b = a * y
        a = a * b + np.sin(a)
    return np.sum(a)
"""


def test_a_scalar_fixed_point_loop_reads_like_its_derivation():
    f = define(FIXED_POINT)
    text = overbar.grad(f).source_for(0.7)
    reverse = text.split("for __")[1]
    assert "x = stack.pop()" in reverse
    assert "tmp6" not in reverse and " = x_bar\n" not in reverse  # no copies of the adjoint
    assert reverse.count("stack.pop()") == 1  # x**3 is not saved: nothing reads it
    assert text.count("stack.append(") == 2  # x, and the trip count
    for x in (0.7, -0.3, 1.2):
        overbar.check_grad(f, [x])


def test_a_value_read_only_for_a_folded_shape_is_not_saved():
    f = define(SQUARES_IN_A_LOOP)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(5, 3))]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(" not in text
    overbar.check_grad(f, args, wrt=(0, 1))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_a_line_that_reads_its_old_value_keeps_what_its_rule_reads(shape):
    f = define(READS_ITS_OLD_VALUE)
    rng = np.random.default_rng(len(shape))
    x = rng.uniform(0.2, 0.8, size=shape)
    y = rng.uniform(0.2, 0.8, size=shape)
    x, y = (float(x), float(y)) if shape == () else (x, y)
    optimised = overbar.grad(f, wrt=(0, 1))(x, y)
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for mine, theirs in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
