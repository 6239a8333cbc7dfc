"""Shapes inferred through a recursive helper, to a fixed point (``shapes._returned_shape``).

The result of a recursive call was not known, so the pullback of a recursive helper (and its
callers) kept the general adjoint: ``unbroadcast`` at every operand the recursive result meets,
per level. Now its recursive calls return nothing at first, then the previous round's shape,
until the result's shape is a fixed point; where a recursive call passes arguments of other
shapes (a slice), or the shape keeps changing, the result is not known, as before.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import NUMPY
from overbar.runtime.shapes import INTEGER, MANY, Operand
from overbar.transpiler.shapes import _returned_shape
from tests.support import define

HORNER = """
def upto(c, x, i):
    if i == 0:
        return c[0] * np.ones_like(x)
    return upto(c, x, i - 1) * x + c[i]

def f(c, x):
    return np.sum(upto(c, x, len(c) - 1))
"""

OTHER_SHAPES = """
def down(v, n):
    if n == 0:
        return v * 2.0
    return down(np.sum(v) * np.ones(1), n - 1) + v

def f(v):
    return np.sum(down(v, 3) ** 2)
"""

GROWING = """
def nest(v, n):
    if n == 0:
        return v
    return nest(v, n - 1)[None] * 1.5

def f(v):
    return np.sum(nest(v, 3) ** 2)
"""

AFTER_THE_CALL = """
def decay(x, n):
    if n == 0:
        return x
    return decay(x * 0.9 + np.sin(x), n - 1)

def f(x):
    return np.sum(decay(x, 6) * x)
"""


def _arguments(rng, size=5):
    return [rng.normal(size=4), rng.uniform(-0.9, 0.9, size=size)]


def test_a_recursive_helpers_result_has_the_shape_of_its_fixed_point():
    f = define(HORNER)
    args = _arguments(np.random.default_rng(0))
    gradient = overbar.grad(f, wrt=(0, 1))
    text = gradient.source_for(*args)
    assert "unbroadcast" not in text  # the recursive result is known to be shaped like x
    overbar.check_grad(f, args, wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(*args)
    for mine, theirs in zip(gradient(*args), literal, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


@pytest.mark.parametrize("size", [1, 3])
def test_a_point_or_many_points(size):
    f = define(HORNER)
    args = _arguments(np.random.default_rng(size), size)
    overbar.check_grad(f, args, wrt=(0, 1))


def _returned(source: str, name: str, *shapes) -> object:
    """The shape inference gives a call of ``name`` with arguments of these shapes."""
    function = define(source, name)
    operands = [Operand(shape) for shape in shapes]
    return _returned_shape(function, operands, {}, NUMPY)


def test_the_fixed_point_of_a_recursion_passing_the_same_shapes():
    assert _returned(HORNER, "upto", (MANY,), (MANY,), INTEGER) == (MANY,)
    assert _returned(HORNER, "upto", (MANY,), (), INTEGER) == ()
    assert _returned(AFTER_THE_CALL, "decay", (), INTEGER) == ()
    assert _returned(AFTER_THE_CALL, "decay", (1, MANY), INTEGER) == (1, MANY)


def test_a_recursion_that_passes_other_shapes_is_not_known():
    assert _returned(OTHER_SHAPES, "down", (MANY,), INTEGER) is None
    assert _returned(OTHER_SHAPES, "down", (1,), INTEGER) == (1,)  # it passes (1,) on
    f = define(OTHER_SHAPES)
    v = np.random.default_rng(1).uniform(0.5, 1.0, size=4)
    overbar.check_grad(f, [v], rtol=1e-4)


def test_a_shape_that_grows_with_the_depth_is_not_known():
    assert _returned(GROWING, "nest", (MANY,), INTEGER) is None
    f = define(GROWING)
    v = np.random.default_rng(2).normal(size=3)
    assert overbar.grad(f)(v).shape == (3,)
    overbar.check_grad(f, [v])


def test_a_recursive_helper_of_a_number_by_forward_mode():
    f = define(AFTER_THE_CALL)
    for x in (0.4, np.array([0.4]), np.array([0.1, 0.4, 0.7])):
        overbar.check_grad(f, [x])
    text = overbar.grad(f).source_for(0.4)
    assert "x_dot = one_like(x)" in text
    assert "tangent_as_gradient" not in text  # the recursive result is known to be a number
    assert "broadcast_tangent" not in text
