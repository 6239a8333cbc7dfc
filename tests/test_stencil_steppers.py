"""Steppers whose stencil is a library call (``np.diff``, ``np.convolve``): the adjoint adds
the call's whole adjoint into the loop's own array (``accumulate``: ``X = X + c`` into a fresh
scatter; ``owned``: ``x = x + e`` into an owner, a part taken out of it at the top of the
body), the convolution's length is known (``shapes._convolved``, broadcasting through lengths
of one origin), ``np.convolve``'s adjoint of one operand is computed alone
(``convolve_a_bar``), and a region overwritten in place is not saved when nothing the reverse
sweep reads shares its memory (``pushes.drop_unread_restores``: ``np.convolve`` makes a new
array).

The guard compares every gradient here with the literal adjoint (no pass on) and with central
differences, so each program checks the rewrites where they apply and where a side condition
keeps them off.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import shapes
from overbar.runtime.helpers_science import convolve_a_bar, convolve_bars
from tests.support import define


def literal_and_optimised_agree(f, args, wrt=(0, 1)):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


DIFF_JOINED = """
def f(u, r):
    for _ in range(3):
        u = np.concatenate([u[:1], u[1:-1] + r * np.diff(u, n=2), u[-1:]])
    return np.sum(u**2)
"""


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_stepper_joined_around_np_diff_steps_its_adjoint_in_place(length):
    f = define(DIFF_JOINED)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    # the join's adjoint is the owned array itself; the difference's adjoint added into it
    assert "split_like(" not in text and "index_bar(" not in text, text
    assert "u_bar += " in text and "u_bar = own(u_bar, u)" in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_join_around_np_diff_with_an_end_scaled_keeps_the_split():
    """An end is scaled on its way back: the pieces do not go back to their places, so the
    join's adjoint is not the owned array (a side condition of ``reassemble``); the
    difference's adjoint is still added in place into the scatter's fresh array."""
    f = define("""
        def f(u, r):
            for _ in range(3):
                u = np.concatenate([0.5 * u[:1], u[1:-1] + r * np.diff(u, n=2), u[-1:]])
            return np.sum(u**2)
        """)
    u = np.cos(np.arange(7.0))
    assert "split_like(" in overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    literal_and_optimised_agree(f, [u, 0.2])


CONVOLVED = """
def f(u0, r):
    kernel = np.array([1.0, -2.0, 1.0])
    u = u0.copy()
    for _ in range(3):
        u[1:-1] = u[1:-1] + r * np.convolve(u, kernel, mode="valid")
    return np.dot(u, u)
"""


@pytest.mark.parametrize("length", [9, 4, 3])
def test_a_stepper_written_with_np_convolve_updates_its_adjoint_in_place(length):
    f = define(CONVOLVED)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "take_and_zero" not in text and "unbroadcast(" not in text, text
    assert "u_bar += convolve_a_bar(" in text, text
    # np.convolve's result shares no memory with u: the overwritten region is not saved
    assert "saved_region" not in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_kernel_of_a_length_not_known_keeps_the_general_adjoint():
    """The kernel is a parameter (its length is not known: the convolution's neither), and is
    differentiated too (its adjoint is the other operand's, computed by the same helper)."""
    f = define("""
        def f(u0, k):
            u = u0.copy()
            for _ in range(3):
                u[1:-1] = u[1:-1] + 0.1 * np.convolve(u, k, mode="valid")
            return np.dot(u, u)
        """)
    u, k = np.cos(np.arange(8.0)), np.array([0.5, -1.0, 0.4])
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, k)
    assert "unbroadcast(" in text, text
    literal_and_optimised_agree(f, [u, k])


def test_a_convolution_whose_value_the_reverse_sweep_reads_through_u_keeps_the_save():
    """The reverse sweep reads u's values (the product's adjoint): the overwritten region must
    be written back, so it is saved (a side condition of ``drop_unread_restores``)."""
    f = define("""
        def f(u0, r):
            kernel = np.array([1.0, -2.0, 1.0])
            u = u0.copy()
            for _ in range(3):
                u[1:-1] = u[1:-1] * (1.0 + r * np.convolve(u, kernel, mode="valid"))
            return np.dot(u, u)
        """)
    u = np.cos(np.arange(8.0))
    assert "saved_region" in overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    literal_and_optimised_agree(f, [u, 0.2])


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_convolve_a_bar_is_the_first_adjoint_of_convolve_bars(mode, m):
    rng = np.random.default_rng(m)
    for n in (1, 2, 3, 4, 7):
        a, v = rng.standard_normal(n), rng.standard_normal(m)
        z_bar = rng.standard_normal(np.convolve(a, v, mode).shape)
        a_bar, v_bar = convolve_bars(z_bar, a, v, mode)
        np.testing.assert_allclose(convolve_a_bar(z_bar, a, v, mode), a_bar, atol=1e-12)
        np.testing.assert_allclose(convolve_a_bar(z_bar, v, a, mode), v_bar, atol=1e-12)


def _known_length(size, n):
    """The length ``size`` says a dimension has when its origin ``u`` is ``n`` long (None:
    the origin cannot be so long)."""
    table = shapes.length_table(size)
    assert table is not None and table[0] in (None, ("u", 0))
    return table[1][n]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("m", [1, 2, 3, 5])
@pytest.mark.parametrize("order", ["u first", "kernel first"])
def test_the_length_of_a_convolution_with_a_constant_kernel(mode, m, order):
    vector = shapes.Operand((shapes.Size(("u", 0), True),))
    kernel = shapes.Operand((shapes.constant_size(m),))
    operands = (vector, kernel) if order == "u first" else (kernel, vector)
    (size,) = shapes.infer_shape(np.convolve, operands, {"mode": shapes.constant_operand(mode)})
    for n in range(2, 40):  # the parameter's length, known not to be 1
        expected = len(np.convolve(np.ones(n), np.ones(m), mode))
        assert _known_length(size, n) == expected, (n, size)


def test_a_convolution_of_two_lengths_not_constant_has_a_named_length_not_a_table():
    """Neither operand a small constant: the length is named after the mode and both lengths
    (equal only to itself), not a table that could match a slice of one origin."""
    u, v = shapes.Size(("u", 0), True), shapes.Size(("v", 0), True)
    vector, other = shapes.Operand((u,)), shapes.Operand((v,))
    (length,) = shapes.infer_shape(np.convolve, (vector, other), {})
    assert length.origin == ("convolved", "full", u, v)
    (length,) = shapes.infer_shape(np.convolve, (vector, vector), {})
    assert length.origin == ("convolved", "full", u, u)


def test_broadcasting_lengths_of_one_origin_keeps_the_lengths_where_numpy_does_not_raise():
    """u[1:-1] + np.convolve(u, k, 'valid') for a kernel of 3: NumPy raises for u shorter than
    3 (lengths 0 against 3 or 2); at every other length both are n − 2 long, as the sum is."""
    u = shapes.Size(("u", 0), True)
    interior = shapes.slice_length(u, slice(1, -1))
    (convolved,) = shapes.infer_shape(
        np.convolve,
        (shapes.Operand((u,)), shapes.Operand((shapes.constant_size(3),))),
        {"mode": shapes.constant_operand("valid")},
    )
    (summed,) = shapes.broadcast((interior,), (convolved,))
    for n in range(3, 40):
        assert _known_length(summed, n) == n - 2
    assert shapes.coexisting_same_length(summed, interior)
    assert shapes.coexisting_same_length(summed, convolved)
    assert not shapes.same_length(interior, convolved)  # they differ where u is 1 or 2 long
    assert not shapes.coexisting_same_length(interior, shapes.slice_length(u, slice(1, None)))


def test_an_array_of_a_list_display_of_numbers_has_its_length():
    numbers = shapes.Operand(shapes.tuple_of(((), (), ())))
    assert shapes.infer_shape(np.array, (numbers,), {}) == (shapes.constant_size(3),)
    rows = shapes.Operand(shapes.tuple_of(((shapes.MANY,), (shapes.MANY,))))
    stacked = shapes.infer_shape(np.array, (rows,), {})  # rows of one length (else it raises)
    assert len(stacked) == 2 and stacked[0] == shapes.constant_size(2)
    assert shapes.infer_shape(np.array, (shapes.Operand(shapes.Sequence()),), {}) is None


ROLLED = """
def f(u, r):
    for _ in range(3):
        laplacian = np.roll(u, 1) - 2 * u + np.roll(u, -1)
        laplacian[0] = 0.0
        laplacian[-1] = 0.0
        u = u + r * laplacian
    return np.sum(u**2)
"""


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_stepper_written_with_np_roll_knows_its_shapes_and_owns_its_adjoints(length):
    """np.roll keeps its operand's shape (no ``unbroadcast``), and the laplacian's adjoint,
    arithmetic on an alias of the loop's adjoint (``tmp = u_bar``, ``u_bar = tmp``: an array
    though no longer owned), is a new array whose ends are zeroed in place."""
    f = define(ROLLED)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "unbroadcast(" not in text and "take_and_zero" not in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_rolled_matrix_along_one_axis_and_flattened():
    f = define("""
        def f(U, r):
            for _ in range(2):
                U = U + r * (np.roll(U, 1, axis=1) + np.roll(U, 2) - 2 * U)
            return np.sum(np.tanh(U))
        """)
    U = np.cos(np.arange(12.0).reshape(3, 4) / 5.0)
    assert "unbroadcast(" not in overbar.grad(f, wrt=(0, 1)).source_for(U, 0.3)
    literal_and_optimised_agree(f, [U, 0.3])


def test_np_roll_keeps_its_operands_shape():
    shift = shapes.constant_operand(1)
    matrix = shapes.Operand((shapes.MANY, 1))
    assert shapes.infer_shape(np.roll, (matrix, shift), {}) == (shapes.MANY, 1)
    assert shapes.infer_shape(np.roll, (matrix, shift), {"axis": shapes.constant_operand(0)}) == (
        shapes.MANY,
        1,
    )
    listed = shapes.Operand(shapes.Sequence())
    assert shapes.infer_shape(np.roll, (listed, shift), {}) is None  # of a list: an array


EMPTY_LIKE = """
def f(u, r):
    for _ in range(3):
        u_next = np.empty_like(u)
        u_next[1:-1] = u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_next[0] = u[0]
        u_next[-1] = u[-1]
        u = u_next
    return np.sum(u**2)
"""


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_state_rebuilt_interior_first_steps_its_adjoint_in_place(length):
    """The interior is written first, so its part is taken out of the adjoint after the ends'
    scatter, and read elsewhere (the stencil, the step's rows): its copy stays, the scatter
    and the add-backs go (``reassemble``, ``copied_as_it_was``)."""
    f = define(EMPTY_LIKE)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    assert "index_bar(" not in text and "_bar[1:-1] = 0.0" not in text, text
    literal_and_optimised_agree(f, [u, 0.2])


@pytest.mark.parametrize(
    "ends",
    [
        # the first end's adjoint adds into u_bar[1], inside the interior taken after it
        ["u_next[0] = u[0] + r * u[1]", "u_next[-1] = u[-1]"],
        # the end written last overlaps the interior: the takes are not disjoint
        ["u_next[0] = u[0]", "u_next[-2:] = u[-2:] * 1.5"],
    ],
    ids=["added into the interior", "overlapping"],
)
def test_a_late_copy_that_would_see_other_values_keeps_the_scatter(ends):
    lines = "".join(f"        {line}\n" for line in ends)
    f = define(
        "def f(u, r):\n    for _ in range(3):\n        u_next = np.empty_like(u)\n"
        "        u_next[1:-1] = u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2])\n"
        + lines
        + "        u = u_next\n    return np.sum(u**2)\n"
    )
    u = np.cos(np.arange(7.0))
    assert "index_bar(" in overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    literal_and_optimised_agree(f, [u, 0.2])
