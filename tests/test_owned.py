"""Adjoint arrays a reverse loop owns, updated in place (``transpiler/owned.py``).

The guard compares every gradient here with the literal adjoint (no pass on) and with central
differences, so each program checks the rewrites where they apply and where a side condition
keeps them off.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

U0 = np.sin(np.linspace(0.0, 3.0, 9))

STEPPER = """
def f(u, r):
    for _ in range(4):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u ** 2)
"""


def test_a_stepper_that_copies_its_state_updates_one_adjoint_in_place():
    f = define(STEPPER)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "take_and_zero" not in text, text
    assert "u_new_bar[1:-1] = 0.0" in text and "u_bar += u_new_bar" in text, text
    assert "u_bar = own(u_bar, u)" in text  # the loop owns the array it starts with
    overbar.check_grad(f, [U0, 0.2], wrt=(0, 1))


@pytest.mark.parametrize(
    "body",
    [
        # the state's adjoint is also read after it is moved: not dead, so not moved
        ["u_new = u.copy()", "u_new[1:-1] = u[1:-1] * r", "total = total + np.sum(u_new * u)"],
        # the written value broadcasts: its adjoint is summed, the region still taken
        ["u_new = u.copy()", "u_new[2:5] = np.sum(u) * r"],
        # two writes into the copy, one of them read back
        ["u_new = u.copy()", "u_new[0] = u[1] * r", "u_new[1:-1] = u_new[1:-1] + u[2:] * r"],
        # the copy's adjoint also flows into another name kept across trips
        ["u_new = u.copy()", "u_new[1:-1] = np.sin(u[1:-1]) * r", "last = u_new * 1.0"],
    ],
    ids=["read after the move", "broadcast write", "two writes", "kept across trips"],
)
def test_steppers_whose_adjoints_are_shared_or_read_keep_their_values(body):
    lines = "".join(f"        {line}\n" for line in [*body, "u = u_new"])
    f = define(
        "def f(u, r):\n    total = 0.0\n    last = u\n    for _ in range(3):\n"
        + lines
        + "    return np.sum(u ** 2) + total + np.sum(last * last)\n"
    )
    overbar.check_grad(f, [U0, 0.3], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(U0, 0.3)
    optimised = overbar.grad(f, wrt=(0, 1))(U0, 0.3)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_an_adjoint_that_broadcasts_into_the_sum_is_not_added_in_place():
    f = define("""
        def f(u, r):
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] * r
                u = u_new
            return np.sum(u * u) + np.sum(r * u[1:-1])
        """)
    r = np.linspace(0.5, 0.9, 7)  # an array of u[1:-1]'s shape
    overbar.check_grad(f, [U0, r], wrt=(0, 1))
    overbar.check_grad(f, [U0, r[:1]], wrt=(0, 1))  # r of size 1: its adjoint is summed


def test_a_stepper_over_rows_of_a_matrix_state():
    f = define("""
        def f(U, r):
            for _ in range(3):
                V = U.copy()
                V[1:-1, :] = U[1:-1, :] + r * (U[2:, :] - 2.0 * U[1:-1, :] + U[:-2, :])
                U = V
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(6, 4) / 7.0)
    overbar.check_grad(f, [U, 0.15], wrt=(0, 1))
