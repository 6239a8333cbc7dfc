"""Sums with like terms (``g * (t * r) + g * r * t``, the product rule of ``t * r * r``) added
as one doubled term (``sums.add_like_terms``); literal factors multiplied into one and a
selection ``np.where(c, x, 0.0)`` known for its shape and its floating point values in a
product (``peephole.scalars_first``: ``np.where(c, g, 0.0) * 0.5 * 2 * r`` is
``np.where(c, g, 0.0) * r``); np.roll's adjoint by slices (``roll_back``); and the copy of a
part of a loop's adjoint that no one reads dropped (``owned._without_unread_takes``).

The guard compares every gradient here with the literal adjoint (no pass on) and with central
differences.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

import overbar
from overbar.runtime import NUMPY
from overbar.runtime.helpers_arrays import roll_back
from overbar.transpiler.peephole import _literals_multiplied
from overbar.transpiler.sums import _Folder
from tests.support import define


def literal_and_optimised_agree(f, args, wrt=(0,)):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(9, 3))
    return [rng.normal(size=3), X, X @ rng.normal(size=3) + rng.normal(scale=2.0, size=9)]


def test_a_mask_times_a_square_written_as_a_product_gives_one_doubled_term():
    f = define("""
        def f(w, X, y):
            r = X @ w - y
            a = np.abs(r)
            small = (a <= 1.0) * 1.0
            return np.sum(small * 0.5 * r * r + (1.0 - small) * (a - 0.5)) / y.shape[0]
        """)
    text = overbar.grad(f, wrt=(0,)).source_for(*data())
    line = next(line for line in text.splitlines() if line.strip().startswith("r_bar ="))
    assert "2 * " in line and line.count(" * r") == 1, text
    literal_and_optimised_agree(f, data())


def test_a_square_written_as_a_product_of_a_clipped_residual():
    f = define("""
        def f(w, X, y):
            r = np.dot(X, w) - y
            c = np.clip(r, -1.0, 1.0)
            return np.sum(0.5 * c * c + (np.abs(r) - np.abs(c))) / len(y)
        """)
    text = overbar.grad(f, wrt=(0,)).source_for(*data())
    line = next(line for line in text.splitlines() if line.strip().startswith("c_bar ="))
    assert line.count("0.5") == 1 and "2 * " in line, text
    literal_and_optimised_agree(f, data())


def test_a_selection_scaled_by_literals_is_scaled_once():
    f = define("""
        def f(w, X, y):
            r = X @ w - y
            a = np.abs(r)
            return np.mean(np.where(a <= 1.0, 0.5 * r**2, a - 0.5))
        """)
    text = overbar.grad(f, wrt=(0,)).source_for(*data())
    assert "0.5 * 2" not in text and "1.0 * np.where" not in text, text
    literal_and_optimised_agree(f, data())


def folded(source: str, numeric=frozenset({"a", "x"})) -> str:
    folder = _Folder(frozenset(), NUMPY, frozenset({"np"}))
    folder.numeric_names = numeric
    statement = ast.parse(source).body[0]
    return ast.unparse(folder.like_terms_in(statement))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("y = a * b + b * a", "y = 2 * a * b"),
        ("y = x + a * (b * c) + c * b * a", "y = x + 2 * a * (b * c)"),
        ("y = a * b + a * b + a * b", "y = 2 * a * b + a * b"),
        ("y = np.cos(a) * b + b * np.cos(a)", "y = 2 * np.cos(a) * b"),
    ],
)
def test_like_terms_are_added(source, expected):
    assert folded(source) == expected


@pytest.mark.parametrize(
    ("source", "numeric"),
    [
        ("y = b * c + c * b", frozenset({"a"})),  # perhaps booleans: b * c + c * b is an or
        ("y = a * b - b * a", frozenset({"a"})),  # a subtraction: not a sum of like terms
        ("y = a * (b - c) + (c - b) * a", frozenset({"a"})),  # other factors
        ("y = a * np.random.rand() + np.random.rand() * a", frozenset({"a"})),  # not pure
        ("y = a * b / c + b * a / c", frozenset({"a"})),  # quotients: not followed
    ],
)
def test_terms_that_are_not_like_or_not_numbers_stay(source, numeric):
    assert folded(source, numeric) == source


def test_literal_factors_are_multiplied_where_the_first_was():
    g, r = ast.Name("g"), ast.Name("r")
    factors = [(None, ast.Constant(0.5)), (ast.Mult(), g), (ast.Mult(), ast.Constant(2))]
    result = _literals_multiplied(factors)
    assert [ast.unparse(operand) for _, operand in result] == ["1.0", "g"]
    assert _literals_multiplied([(None, ast.Constant(3)), (ast.Mult(), r)])[0][1].value == 3


@pytest.mark.parametrize(
    ("shape", "shift", "axis"),
    [
        ((7,), 1, None),
        ((7,), -3, None),
        ((7,), 16, None),
        ((3, 4), 1, 1),
        ((3, 4), -5, 0),
        ((3, 4), 1, -1),
        ((3, 4), 2, None),  # a matrix rolled whole: np.roll itself
        ((0,), 1, None),
        ((7,), (1, 2), (0, 0)),  # shifts as a tuple: np.roll itself
        ((3, 4), np.int64(2), 1),
    ],
)
def test_roll_back_is_np_roll_by_the_negated_shift(shape, shift, axis):
    g = np.random.default_rng(1).normal(size=shape)
    got = roll_back(g, shift, axis)
    expected = np.roll(g, np.negative(shift), axis)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    if g.size:
        assert not np.shares_memory(got, g)


def test_a_stepper_with_np_roll_copies_no_part_of_its_adjoint_that_no_one_reads():
    """``laplacian[0] = 0.0`` takes ``laplacian_bar[0]`` out (zeroed) for a constant, which
    gets no adjoint: the copy of the part goes, the zeroing stays."""
    f = define("""
        def f(u0, r):
            u = u0
            for _ in range(3):
                laplacian = np.roll(u, 1) - 2 * u + np.roll(u, -1)
                laplacian[0] = 0.0
                laplacian[-1] = 0.0
                u = u + r * laplacian
            return np.sum(u**2)
        """)
    u = np.cos(np.arange(9.0))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "_bar[0].copy()" not in text and "laplacian_bar[0] = 0.0" in text, text
    assert "roll_back(" in text, text
    literal_and_optimised_agree(f, [u, 0.2], wrt=(0, 1))


def test_a_part_taken_out_and_read_keeps_its_copy():
    """The part written is a value that depends on ``r``: its adjoint is read (``r_bar``)."""
    f = define("""
        def f(u0, r):
            u = u0
            for _ in range(3):
                v = np.roll(u, 1) - u
                v[0] = r * u[1]
                u = u + r * v
            return np.sum(u**2)
        """)
    u = np.cos(np.arange(6.0))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "= +v_bar[0]" in text, text  # an element's copy: unary plus (copies.py)
    literal_and_optimised_agree(f, [u, 0.2], wrt=(0, 1))
