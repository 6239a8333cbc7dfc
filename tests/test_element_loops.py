"""Loops over the elements of an array, as a textbook writes an explicit stepper: an element's
adjoint taken out without a copy's method call (``copies.py``), two updates of one element made
one (``updates.py``), the check that the array written holds floats made once per loop
(``float_checks.py``). Each gradient is checked against central differences and the literal
adjoint."""

from __future__ import annotations

import ast

import numpy as np
import pytest

import overbar
from tests.support import define


def literal_and_optimised_agree(f, args, wrt):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


STEPPERS = {
    "textbook heat": """
        def f(u0, alpha, steps):
            n = len(u0)
            u = u0.copy()
            for step in range(steps):
                new = u.copy()
                for i in range(1, n - 1):
                    new[i] = u[i] + alpha * (u[i + 1] - 2 * u[i] + u[i - 1])
                u = new
            return np.sum(u**2)
        """,
    "upwind advection": """
        def f(u0, alpha, steps):
            u = u0.copy()
            for step in range(steps):
                new = np.zeros_like(u)
                new[0] = u[0]
                for i in range(1, len(u)):
                    new[i] = u[i] - alpha * (u[i] - u[i - 1])
                u = new
            return np.sum(u * u)
        """,
    "two-dimensional": """
        def f(u0, alpha, steps):
            u = u0.copy()
            rows, cols = u.shape
            for step in range(steps):
                new = u.copy()
                for i in range(1, rows - 1):
                    for j in range(cols):
                        new[i, j] = u[i, j] + alpha * (u[i + 1, j] + u[i - 1, j] - 2 * u[i, j])
                u = new
            return np.sum(u**2)
        """,
}


def _arguments(spelling: str, n: int, steps: int) -> list:
    rng = np.random.default_rng(n + steps)
    shape = (n, 3) if spelling == "two-dimensional" else (n,)
    return [rng.normal(size=shape), 0.2, steps]


@pytest.mark.parametrize("spelling", sorted(STEPPERS))
@pytest.mark.parametrize(("n", "steps"), [(2, 2), (3, 1), (6, 3), (5, 0)])
def test_an_explicit_stepper_over_elements_is_differentiated(spelling, n, steps):
    f = define(STEPPERS[spelling])
    literal_and_optimised_agree(f, _arguments(spelling, n, steps), wrt=(0, 1))


@pytest.mark.parametrize("spelling", sorted(STEPPERS))
def test_an_element_is_taken_out_of_its_adjoint_without_a_copy_call(spelling):
    f = define(STEPPERS[spelling])
    text = overbar.grad(f, wrt=(0, 1)).source_for(*_arguments(spelling, 6, 2))
    assert "= +new_bar[i" in text and "].copy()" not in text, text


def test_the_updates_of_one_element_are_one():
    f = define(STEPPERS["textbook heat"])
    text = overbar.grad(f, wrt=(0, 1)).source_for(*_arguments("textbook heat", 6, 2))
    assert text.count("u_bar[i] ") == 1 and "u_bar[i] += " in text, text


@pytest.mark.parametrize(("spelling", "index"), [("textbook heat", "i"), ("two-dimensional", "j")])
def test_the_float_check_is_made_once_before_the_loop_over_elements(spelling, index):
    f = define(STEPPERS[spelling])
    text = overbar.grad(f, wrt=(0, 1)).source_for(*_arguments(spelling, 6, 2))
    assert text.count("floating_target(new)") == 1, text
    before, _, after = text.partition("floating_target(new)")
    assert f"for {index} in" in after and f"for {index} in" not in before, text


def test_a_loop_that_may_end_early_keeps_its_float_check_inside():
    f = define("""
        def f(u0, r):
            new = u0.copy()
            for i in range(len(u0)):
                if u0[i] > 10.0:
                    break
                new[i] = u0[i] * r
            return np.sum(new**2)
        """)
    args = [np.linspace(0.0, 1.0, 4), 0.5]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert text.count("floating_target(new)") == 1, text
    assert text.index("while ") < text.index("floating_target(new)"), text  # in the loop
    literal_and_optimised_agree(f, args, wrt=(0, 1))


WRITTEN_INTO_INTEGERS = """
    def f(u0, m):
        new = np.zeros(len(u0), dtype=int)
        for i in range(m):
            new[i] = u0[i] * 2.0
        return np.sum(u0**2) + np.sum(new)
    """


def test_a_write_into_an_array_of_integers_in_a_loop_is_refused():
    f = define(WRITTEN_INTO_INTEGERS)
    with pytest.raises(overbar.OverbarError, match="dtype int"):
        overbar.grad(f)(np.ones(3), 2)


def test_a_loop_of_no_trips_writes_nothing_and_is_not_refused():
    f = define(WRITTEN_INTO_INTEGERS)
    np.testing.assert_allclose(overbar.grad(f)(np.arange(3.0), 0), 2 * np.arange(3.0))


# -- the pass that makes two updates one, alone --------------------------------------------------

SWEEP = """
def f_grad(x, a, b, c, i, k):
    stack = []
    x_bar = np.zeros(5)
    FIRST
    BETWEEN
    x_bar[i] += b
    return x_bar
"""


def _combined(between: str, first: str = "x_bar[i] -= a") -> str:
    from overbar.runtime import NUMPY
    from overbar.runtime.shapes import INTEGER, argument_shape
    from overbar.transpiler.reverse import Adjoint
    from overbar.transpiler.updates import combine_updates

    tree = ast.parse(SWEEP.replace("FIRST", first).replace("BETWEEN", between)).body[0]
    number, vector = argument_shape(1.0), argument_shape(np.zeros(5))
    adjoint = Adjoint(
        tree=tree,
        forward_length=1,
        temporaries=frozenset(),
        bindings=(("np", np),),
        effects=frozenset(),
        shapes=(("x", vector), ("a", number), ("b", number), ("c", number), ("i", INTEGER)),
        adjoints=(("x_bar", "x"),),
    )
    return ast.unparse(combine_updates(adjoint, NUMPY, None).tree)


def test_the_pass_combines_updates_past_updates_of_other_elements():
    source = _combined("x_bar[k] += c")
    assert "x_bar[i] += b - a" in source and "x_bar[i] -= a" not in source, source


@pytest.mark.parametrize(
    ("between", "first"),
    [
        ("t = x_bar[k]", "x_bar[i] -= a"),  # the array read in between
        ("a = c", "x_bar[i] -= a"),  # the term's name rebound in between
        ("i = k", "x_bar[i] -= a"),  # the index's name rebound in between
        ("x[k] = c", "x_bar[i] -= a"),  # another statement in between
        ("a = x_bar[0:2]\n    x_bar[k] += c", "x_bar[i] -= a[0]"),  # the term a view of it
        ("x_bar[k] += c", "x_bar[i] -= x_bar[k]"),  # the term reads the array
        ("x_bar[k] += c", "x_bar[i + 0] -= a"),  # another index's syntax
    ],
)
def test_the_pass_leaves_updates_it_cannot_move(between, first):
    source = _combined(between, first)
    assert first in source and "x_bar[i] += b\n" in source + "\n", source
