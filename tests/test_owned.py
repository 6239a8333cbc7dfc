"""Adjoint arrays a reverse loop owns, updated in place (``transpiler/owned.py``).

The guard compares every gradient here with the literal adjoint (no pass on) and with central
differences, so each program checks the rewrites where they apply and where a side condition
keeps them off.
"""

from __future__ import annotations

import re

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
    # the stencil's contributions go into the moved adjoint's array (no new zero array, no
    # full-array add), and the interior is not zeroed only to be added back
    assert "index_bar" not in text and "u_bar += u_new_bar" not in text, text
    assert "u_new_bar[1:-1] = 0.0" not in text and "u_new_bar[:-2] += " in text, text
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


# -- contributions scattered into the dead adjoint of a copy (``scattered_into_dead``) ------------


def literal_and_optimised_agree(f, args, wrt=(0, 1)):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_stepper_adds_its_stencil_into_the_copys_adjoint(length):
    f = define(STEPPER)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "u_new_bar[2:] += " in text and "[1:-1] = 0.0" not in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_the_copys_adjoint_read_after_the_loop_is_not_written_into():
    # u_new is read after the loop: its adjoint is live when a trip ends (side condition: dead)
    f = define("""
        def f(u, r):
            u_new = u * 1.0
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
                u = u_new * 1.0
            return np.sum(u ** 2) + np.sum(np.sin(u_new))
        """)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "u_bar = index_bar(" in text and "u_bar += u_new_bar" in text, text
    literal_and_optimised_agree(f, [U0, 0.2])


def test_a_stencil_read_through_an_index_array_is_not_added_in_place():
    # u[index] with a repeated index: its adjoint adds repeats up (side condition: J basic)
    index = np.array([0, 2, 2, 4, 5, 5, 8])
    f = define(
        """
        def f(u, r):
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] + r * u[index]
                u = u_new
            return np.sum(u ** 2)
        """,
        namespace={"index": index},
    )
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "index_bar(" in text, text
    literal_and_optimised_agree(f, [U0, 0.2])


def test_a_copy_whose_adjoint_flows_into_two_places_keeps_its_values():
    # the copy is read twice (u_new + u_new) and kept as a view in a list across trips
    f = define("""
        def f(u, r):
            kept = []
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] * r + u[2:] * u[:-2]
                kept.append(u_new[1:])
                u = 0.5 * (u_new + u_new)
            return np.sum(u ** 2) + np.sum(kept[0] * kept[1])
        """)
    literal_and_optimised_agree(f, [U0, 0.3])


def test_the_same_buffer_read_twice_in_one_write():
    f = define("""
        def f(u, r):
            for _ in range(3):
                u_new = u.copy()
                u_new[1:-1] = u[1:-1] * u[1:-1] * r + u[2:]
                u_new[0] = u[0] * u[-1]
                u = u_new
            return np.sum(np.sin(u))
        """)
    literal_and_optimised_agree(f, [U0, 0.3])


def test_a_matrix_state_updated_in_place_with_its_rows_added_back():
    f = define("""
        def f(U0, r):
            U = U0.copy()
            for _ in range(3):
                U[1:-1, :] = U[1:-1, :] + r * (U[2:, :] - 2.0 * U[1:-1, :] + U[:-2, :])
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(6, 4) / 7.0)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U, 0.15)
    assert "[1:-1, :] = 0.0" not in text, text  # the interior is not zeroed only to be added back
    literal_and_optimised_agree(f, [U, 0.15])


# -- a scatter buffer filled with the parts taken out of an emptied owner (``reassemble``) -----

ZEROS_STEPPER = """
def f(u, r):
    for _ in range(3):
        u_new = np.zeros_like(u)
        u_new[0] = u[0]
        u_new[-1] = u[-1]
        u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(np.sin(u))
"""


@pytest.mark.parametrize("length", [9, 3, 2, 1])
def test_a_state_rebuilt_from_zeros_steps_its_adjoint_in_place(length):
    f = define(ZEROS_STEPPER)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "index_bar(" not in text and "= 0.0\n" not in text.split("for __")[-1], text
    literal_and_optimised_agree(f, [u, 0.2])


def test_parts_that_do_not_cover_the_state_leave_the_scatter_alone():
    # u_new[-1] is never written: the takes do not empty the adjoint (side condition: cover)
    f = define("""
        def f(u, r):
            for _ in range(3):
                u_new = np.zeros_like(u)
                u_new[0] = u[0]
                u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
                u = u_new
            return np.sum(np.sin(u))
        """)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "index_bar(" in text, text
    literal_and_optimised_agree(f, [U0, 0.2])


def test_an_end_scaled_on_its_way_back_leaves_the_scatter_alone():
    # the part taken at [-1] is read by a product, not added back as it is
    f = define("""
        def f(u, r):
            for _ in range(3):
                u_new = np.zeros_like(u)
                u_new[0] = u[0]
                u_new[-1] = u[-1] * r
                u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
                u = u_new
            return np.sum(np.sin(u))
        """)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "index_bar(" in text, text
    literal_and_optimised_agree(f, [U0, 0.2])


def test_a_matrix_state_rebuilt_by_rows_and_one_rebuilt_by_columns():
    rows = define("""
        def f(U, r):
            for _ in range(3):
                V = np.zeros_like(U)
                V[0] = U[0]
                V[-1] = U[-1]
                V[1:-1, :] = U[1:-1, :] + r * (U[2:, :] - 2.0 * U[1:-1, :] + U[:-2, :])
                U = V
            return np.sum(np.tanh(U))
        """)
    columns = define("""
        def f(U, r):
            for _ in range(3):
                V = np.zeros_like(U)
                V[:, 0] = U[:, 0]
                V[:, -1] = U[:, -1]
                V[:, 1:-1] = U[:, 1:-1] + r * (U[:, 2:] - 2.0 * U[:, 1:-1] + U[:, :-2])
                U = V
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(6, 4) / 7.0)
    assert "index_bar(" not in overbar.grad(rows, wrt=(0, 1)).source_for(U, 0.15)
    # the columns cover the second axis, which the side condition does not read: left alone
    assert "index_bar(" in overbar.grad(columns, wrt=(0, 1)).source_for(U, 0.15)
    literal_and_optimised_agree(rows, [U, 0.15])
    literal_and_optimised_agree(columns, [U, 0.15])


def test_overlapping_writes_into_a_state_rebuilt_from_zeros():
    # [0] and [:2] overlap, and [1:] covers the rest: the later write wins in the forward
    f = define("""
        def f(u, r):
            for _ in range(3):
                u_new = np.zeros_like(u)
                u_new[:2] = u[:2] * r
                u_new[0] = u[0]
                u_new[1:] = u[1:] + r * u[:-1]
                u = u_new
            return np.sum(np.sin(u))
        """)
    literal_and_optimised_agree(f, [U0, 0.2])


# -- the adjoint of a join cut into takes, then reassembled (``cut_into_takes``) ---------------

JOINED_STEPPER = """
def f(u, r):
    for _ in range(3):
        interior = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = np.concatenate((u[:1], interior, u[-1:]))
    return np.sum(u * u)
"""


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_state_joined_from_its_ends_steps_its_adjoint_in_place(length):
    f = define(JOINED_STEPPER)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "split_like(" not in text and "index_bar(" not in text, text
    assert "interior_bar = u_bar[1:-1].copy()" in text, text
    literal_and_optimised_agree(f, [u, 0.2])


@pytest.mark.parametrize("length", [9, 2])
def test_a_join_of_a_list_display_steps_its_adjoint_in_place_as_a_tuples(length):
    """np.concatenate([u[:1], interior, u[-1:]]), as many write it: the same pieces as the
    tuple's, so the same in-place adjoint."""
    f = define(
        JOINED_STEPPER.replace("((u[:1], interior, u[-1:]))", "([u[:1], interior, u[-1:]])")
    )
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "split_like(" not in text and "interior_bar = u_bar[1:-1].copy()" in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_list_join_whose_pieces_move_keeps_the_split():
    """The condition failing for a list display as for a tuple: pieces put back elsewhere."""
    join = "np.concatenate([interior[1:], u[:1], u[-1:], interior[:1]])"
    f = define(JOINED_STEPPER.replace("np.concatenate((u[:1], interior, u[-1:]))", join))
    assert "split_like(" in overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    literal_and_optimised_agree(f, [U0, 0.2])


def test_a_state_that_grows_on_its_first_step_is_joined_right():
    # length 1: u[:1] and u[-1:] are the same element, the join is two long
    literal_and_optimised_agree(define(JOINED_STEPPER), [np.array([0.7]), 0.2])


@pytest.mark.parametrize(
    "join",
    [
        "np.concatenate((u[:1], interior, 0.5 * u[-1:]))",  # an end scaled on its way back
        "np.concatenate((interior[1:], u[:1], u[-1:], interior[:1]))",  # pieces moved around
        "np.concatenate((u[1:2], interior, u[-2:-1]))",  # the ends put back elsewhere
    ],
    ids=["scaled end", "moved pieces", "ends elsewhere"],
)
def test_joins_whose_pieces_do_not_go_back_to_their_places_keep_the_split(join):
    f = define(JOINED_STEPPER.replace("np.concatenate((u[:1], interior, u[-1:]))", join))
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.2)
    assert "split_like(" in text, text
    literal_and_optimised_agree(f, [U0, 0.2])


def test_a_rotation_keeps_the_split():
    f = define("""
        def f(u, r):
            for _ in range(3):
                u = np.concatenate((u[1:] * r, u[:1]))
            return np.sum(np.sin(u))
        """)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U0, 0.9)
    assert "split_like(" in text, text
    literal_and_optimised_agree(f, [U0, 0.9])


def test_rows_joined_from_the_ends_of_a_matrix_state():
    f = define("""
        def f(U, r):
            for _ in range(3):
                inner = U[1:-1] + r * (U[2:] - 2.0 * U[1:-1] + U[:-2])
                U = np.concatenate((U[:1], inner, U[-1:]), axis=0)
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(6, 4) / 7.0)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U, 0.15)
    assert "split_like(" not in text, text
    literal_and_optimised_agree(f, [U, 0.15])


def test_a_join_along_the_second_axis_keeps_the_split():
    f = define("""
        def f(U, r):
            for _ in range(3):
                inner = U[:, 1:-1] * r
                U = np.concatenate((U[:, :1], inner, U[:, -1:]), axis=1)
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(24.0).reshape(4, 6) / 7.0)
    text = overbar.grad(f, wrt=(0, 1)).source_for(U, 0.15)
    assert "split_like(" in text, text
    literal_and_optimised_agree(f, [U, 0.15])


def test_two_states_rebuilt_from_zeros_in_one_loop():
    # two scatters and two emptied adjoints in one reverse body, coupled through the loss
    f = define("""
        def f(u, v, r):
            for _ in range(3):
                u_new = np.zeros_like(u)
                u_new[0] = u[0]
                u_new[-1] = u[-1]
                u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
                v_new = np.zeros_like(v)
                v_new[0] = v[0]
                v_new[-1] = v[-1]
                v_new[1:-1] = v[1:-1] + r * (v[2:] - 2.0 * v[1:-1] + v[:-2])
                u = u_new
                v = v_new
            return np.sum(np.sin(u) * v)
        """)
    v = np.cos(np.arange(9.0))
    text = overbar.grad(f, wrt=(0, 1, 2)).source_for(U0, v, 0.2)
    assert "index_bar(" not in text, text
    literal_and_optimised_agree(f, [U0, v, 0.2], wrt=(0, 1, 2))


# -- adjoints summed into across trips, and after the loops (the 1-d convolutions) -------------


def _agrees_with_literal(f, args, wrt):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


DOT_LOOP = """
def f(w, x):
    m = w.shape[0]
    outputs = []
    for i in range(x.shape[0] - m + 1):
        outputs.append(np.dot(x[i : i + m], w))
    return np.sum(np.array(outputs) ** 2)
"""


@pytest.mark.parametrize("sizes", [(3, 10), (1, 5), (4, 4), (2, 3)])
def test_a_filters_adjoint_summed_at_every_trip_is_one_product_after_the_loop(sizes):
    # x_bar, written into at every trip, is private (no name, list or view shares it): the
    # rows appended (views of x, the outputs' adjoints) stay as they were
    f = define(DOT_LOOP)
    rng = np.random.default_rng(sum(sizes))
    args = [rng.normal(size=sizes[0]), rng.normal(size=sizes[1])]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "sum_of_scaled(" in text and "w_bar = w_bar + tmp" not in text, text
    # made zeros once, as a person writes np.zeros_like(w); not copied, not reshaped after
    assert "w_bar = zero_gradient(w)" in text and "own(" not in text, text
    assert "adjoint_like" not in text, text
    _agrees_with_literal(f, args, (0, 1))


@pytest.mark.parametrize("shape", [(3,), (2, 3), (1,)])
def test_an_adjoint_summed_into_at_every_trip_is_added_in_place(shape):
    f = define("""
        def f(w, x):
            total = 0.0
            for i in range(x.shape[0]):
                total = total + np.sum(np.sin(w + x[i]))
            return total
        """)
    rng = np.random.default_rng(len(shape))
    args = [rng.normal(size=shape), rng.normal(size=5)]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert re.search(r"^ *w_bar \+= ", text, re.M) and "w_bar = w_bar + " not in text, text
    _agrees_with_literal(f, args, (0, 1))


AUGMENTED = """
def f(w, x):
    m = len(x) - len(w) + 1
    y = w[0] * x[:m]
    for k in range(1, len(w)):
        y += w[k] * x[k : m + k]
    return y @ y
"""


@pytest.mark.parametrize("sizes", [(3, 10), (1, 5), (5, 5), (2, 2)])
def test_an_adjoint_a_loop_owns_is_added_into_in_place_after_it(sizes):
    f = define(AUGMENTED)
    rng = np.random.default_rng(sum(sizes))
    args = [rng.normal(size=sizes[0]), rng.normal(size=sizes[1])]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    reverse = text[text.index("y_bar") :]
    assert "index_bar" not in reverse and "x_bar[:m] += " in reverse, text
    # the user's own `y += ...`, kept in place by the forward sweep
    assert "y += tmp" in text and "y = y + " not in text, text
    _agrees_with_literal(f, args, (0, 1))


def test_an_adjoint_that_broadcasts_is_summed_before_it_is_added_in_place():
    f = define("""
        def f(w, b, x):
            m = len(x) - len(w) + 1
            y = np.zeros(m)
            for k in range(len(w)):
                y = y + w[k] * x[k : k + m] + b
            return np.sum(y * y)
        """)
    rng = np.random.default_rng(3)
    for b in (rng.normal(size=1), rng.normal(size=8), 0.7):
        args = [rng.normal(size=3), b, rng.normal(size=10)]
        _agrees_with_literal(f, args, (0, 1, 2))


def test_a_sum_whose_old_value_is_read_again_is_not_made_in_place():
    # the reverse sweep needs y at every trip: y is pushed, so its array is not the
    # forward sweep's own, and adding into it would change the pushed values
    f = define("""
        def f(w, x):
            m = len(x) - len(w) + 1
            y = w[0] * x[:m]
            total = 0.0
            for k in range(1, len(w)):
                y += w[k] * x[k : m + k]
                total = total + np.sum(y * y)
            return total
        """)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=4), rng.normal(size=9)]
    assert not re.search(r"^ *y \+= ", overbar.grad(f, wrt=(0, 1)).source_for(*args), re.M)
    _agrees_with_literal(f, args, (0, 1))


def test_a_sum_the_user_wrote_as_a_new_value_stays_a_new_value():
    # y starts as integers and gets floats: `y = y + e` makes a float array, `y += e` would
    # refuse the cast; only the user's own `+=` is kept in place
    f = define("""
        def f(w, x):
            y = x[:3] * 2
            for k in range(len(w)):
                y = y + w[k] * x[k : k + 3]
            return np.sum(y * y)
        """)
    x = np.arange(6)
    args = [np.array([0.5, -1.5]), x]
    assert not re.search(r"^ *y \+= ", overbar.grad(f, wrt=0).source_for(*args), re.M)
    _agrees_with_literal(f, args, (0,))


def test_an_in_place_sum_of_integers_keeps_the_users_dtype():
    f = define("""
        def f(w, x):
            y = x[:4] * 2
            for k in range(1, 3):
                y += x[k : k + 4]
            return np.sum(w * y)
        """)
    args = [np.linspace(0.1, 0.4, 4), np.arange(7)]
    _agrees_with_literal(f, args, (0,))
    assert overbar.grad(f)(*args).dtype == np.float64


def test_an_adjoint_held_by_another_name_is_not_added_into_in_place():
    # g is returned by the helper-free identity as the adjoint of both w and v: the sum into
    # one must not change the other (each is copied or made anew)
    f = define("""
        def f(w, x):
            v = w
            total = 0.0
            for i in range(len(x) - 1):
                total = total + np.sum(w * x[i]) + np.sum(v * x[i + 1])
            return total + np.sum(v * w)
        """)
    rng = np.random.default_rng(5)
    _agrees_with_literal(f, [rng.normal(size=3), rng.normal(size=6)], (0, 1))
    w = rng.normal(size=3)
    gradient = overbar.grad(f, wrt=0)
    first = gradient(w, np.ones(2))
    assert gradient(w, np.ones(2)) is not first
    np.testing.assert_allclose(gradient(w, np.ones(2)), first)


def test_second_derivatives_run_through_a_sum_kept_in_place():
    f = define("""
        def f(w, x):
            y = x * 1.0
            for k in range(len(w)):
                y += w[k] * np.cos(x)
                y -= w[k] ** 2 * x
            return np.sum(np.sin(y)) + np.sum(y ** 3)
        """)
    rng = np.random.default_rng(6)
    args = (rng.normal(size=3) * 0.5, rng.normal(size=7))
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert re.search(r"^ *y \+= ", text, re.M) and re.search(r"^ *y -= ", text, re.M), text
    _agrees_with_literal(f, list(args), (0, 1))
    vectors = tuple(rng.normal(size=np.shape(a)) for a in args)
    optimised = overbar.hvp(f, args, vectors, wrt=(0, 1))
    literal = overbar.hvp(f, args, vectors, wrt=(0, 1), optimise=False)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
