"""Joins of pieces of known lengths, numbers among them (``np.hstack([u[0], mid, u[-1]])``,
``np.r_[...]``), and pads of a literal width: their lengths are known to shape inference
(``shapes._hstack``, ``_r_joined``, ``_padded``; a number read out of ``u`` says ``u`` has an
element, ``transpiler.shapes._where_it_runs``), their adjoints are slices of the bar
(``specialise``: ``unjoin`` becomes ``split_like`` along the axis ``split_axis`` gives, and
``unpad_constant`` the middle of the bar), and a stepper written with them updates its adjoint
in place as one written with ``np.concatenate`` does (``owned``: a number's place is an
integer).

The guard compares every gradient here with the literal adjoint (no pass on) and with central
differences, so each program checks the rewrites where they apply and where a side condition
keeps them off.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import shapes
from overbar.runtime.helpers import split_like
from overbar.runtime.helpers_arrays import as_column, hstack_axis, split_axis, unjoin
from tests.support import define


def literal_and_optimised_agree(f, args, wrt=(0, 1)):
    overbar.check_grad(f, args, wrt=wrt)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


HSTACKED = """
def f(u0, r):
    u = u0
    for _ in range(3):
        u = np.hstack([u[0], u[1:-1] + r * np.diff(u, 2), u[-1]])
    return float(u @ u)
"""

R_JOINED = """
def f(u0, r):
    u = u0
    for _ in range(3):
        u = np.r_[u[0], u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2]), u[-1]]
    return np.sum(u**2)
"""


@pytest.mark.parametrize("source", [HSTACKED, R_JOINED], ids=["hstack", "r_"])
@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_stepper_joined_with_its_ends_as_numbers_steps_its_adjoint_in_place(source, length):
    f = define(source)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    for general in ("unjoin", "split_like(", "index_bar(", "shape_of(", "unbroadcast("):
        assert general not in text, text
    assert "u_bar = own(u_bar, u)" in text, text  # nothing saved for its shape
    literal_and_optimised_agree(f, [u, 0.2])


@pytest.mark.parametrize("source", [HSTACKED, R_JOINED], ids=["hstack", "r_"])
def test_a_state_of_one_element_grows_and_keeps_the_general_adjoint(source):
    """Of one element, the interior is empty and the ends make two: the state's length is
    not its argument's, so nothing is specialised on it (and the gradient is right)."""
    f = define(source)
    literal_and_optimised_agree(f, [np.array([0.7]), 0.2])


def test_ends_read_from_another_array_say_nothing_of_the_states_length():
    """``w[0]`` read says ``w`` has an element, not ``u``: the join is as long as ``u`` only
    where ``u`` has two elements, which nothing proves; the state's length stays unknown
    (saved as ``shape_of(u)`` for the ends' adjoints) though the join's adjoint is cut into
    slices (which needs ranks only)."""
    f = define("""
        def f(u0, w, r):
            u = u0
            for _ in range(3):
                u = np.hstack([w[0], u[1:-1] + r * np.diff(u, 2), w[-1]])
            return float(u @ u)
        """)
    u, w = np.cos(np.arange(6.0)), np.sin(np.arange(4.0))
    text = overbar.grad(f, wrt=(0, 2)).source_for(u, w, 0.2)
    assert "shape_of(u)" in text and "unjoin(" not in text, text
    literal_and_optimised_agree(f, [u, w, 0.2], wrt=(0, 1, 2))


def test_constant_ends_make_a_join_longer_where_the_interior_is_empty():
    """``np.hstack([0.0, u[1:-1], 0.0])`` has two elements for an empty ``u``: the join is
    not known as ``u``'s length (no element of ``u`` is read), but its adjoint is still cut
    into slices, the numbers' pieces single elements."""
    f = define("""
        def f(u, r):
            for _ in range(3):
                u = np.hstack([0.0, u[1:-1] + r * np.diff(u, 2), 0.0])
            return float(u @ u)
        """)
    u = np.cos(np.arange(7.0))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.3)
    assert "unjoin(" not in text, text
    literal_and_optimised_agree(f, [u, 0.3])


PADDED = """
def f(u0, r):
    u = u0
    for _ in range(3):
        u = u + r * np.pad(np.diff(u, 2), 1)
    return np.sum(u**2)
"""


@pytest.mark.parametrize("length", [9, 3, 2])
def test_a_stepper_written_with_np_pad_knows_its_lengths(length):
    f = define(PADDED)
    u = np.cos(np.arange(float(length)))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    for general in ("unpad_constant(", "shape_of(", "unbroadcast("):
        assert general not in text, text
    assert "[1:-1]" in text, text
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_pad_of_widths_per_side_keeps_the_general_adjoint():
    """A width written ``(1, 2)`` is not a literal integer: its length is not followed, and
    the middle stays ``unpad_constant``'s to find."""
    f = define("""
        def f(u, r):
            v = np.pad(np.diff(u, 2), (1, 2))
            return np.sum(r * v**2)
        """)
    u = np.cos(np.arange(8.0))
    assert "unpad_constant(" in overbar.grad(f, wrt=(0, 1)).source_for(u, 0.2)
    literal_and_optimised_agree(f, [u, 0.2])


def test_a_pad_of_a_matrix_takes_the_middle_along_both_axes():
    f = define("""
        def f(A, r):
            return np.sum(np.tanh(r * np.pad(A, 2)) * np.arange(48.0).reshape(6, 8))
        """)
    A = np.cos(np.arange(8.0)).reshape(2, 4)
    assert "[2:-2, 2:-2]" in overbar.grad(f, wrt=(0, 1)).source_for(A, 0.4)
    literal_and_optimised_agree(f, [A, 0.4])


# -- shapes ------------------------------------------------------------------------------------


def test_hstack_of_numbers_and_vectors_has_their_summed_length():
    u = shapes.Operand(shapes.named((shapes.MANY,), "u"))
    number = shapes.Operand(())
    pieces = shapes.Operand(shapes.tuple_of(((), (shapes.constant_size(3),), ())))
    assert shapes.infer_shape(np.hstack, (pieces,), {}) == (shapes.constant_size(5),)
    joined = shapes.Operand(shapes.tuple_of(((), u.shape, number.shape)))
    (size,) = shapes.infer_shape(np.hstack, (joined,), {})
    # u's length plus two: a function of u's length, not u's
    assert shapes.length_table(size)[0] == ("u", 0)
    assert not shapes.same_length(size, u.shape[0])


def test_hstack_of_matrices_and_vectors_is_not_known():
    mixed = shapes.Operand(shapes.tuple_of(((shapes.MANY, shapes.MANY), (shapes.MANY,))))
    assert shapes.infer_shape(np.hstack, (mixed,), {}) is None
    matrices = shapes.Operand(
        shapes.tuple_of(((shapes.MANY, shapes.constant_size(2)), (shapes.MANY, 1)))
    )
    assert shapes.infer_shape(np.hstack, (matrices,), {}) == (
        shapes.MANY,
        shapes.constant_size(3),
    )


def test_vstack_of_vectors_and_a_matrix_counts_each_vector_as_a_row():
    rows = shapes.tuple_of(
        ((shapes.constant_size(4),), (shapes.constant_size(2), shapes.constant_size(4)))
    )
    assert shapes.infer_shape(np.vstack, (shapes.Operand(rows),), {}) == (
        shapes.constant_size(3),
        shapes.constant_size(4),
    )


def test_r_of_numbers_and_vectors_and_not_of_slices():
    r_ = overbar.primitives.Index(np.r_, "np.r_")
    three = shapes.Operand((shapes.constant_size(3),))
    assert shapes.infer_shape(r_, (shapes.Operand(()), three), {}) == (shapes.constant_size(4),)
    ranged = shapes.Operand(None, slice(0, 3), True)
    assert shapes.infer_shape(r_, (ranged, three), {}) is None


def test_a_pad_of_a_literal_width_lengthens_every_axis():
    n = shapes.named((shapes.MANY, 1), "A")
    rows, columns = shapes.infer_shape(np.pad, (shapes.Operand(n), shapes.constant_operand(2)), {})
    assert columns == shapes.constant_size(5)
    assert shapes.length_table(rows)[0] == ("A", 0)
    assert (
        shapes.infer_shape(np.pad, (shapes.Operand(n), shapes.Operand(shapes.Sequence(2))), {})
        is None
    )


def test_a_length_known_from_where_a_statement_runs():
    """From ``length_table``: u's length plus two, less the two elements a join of u[1:-1]
    lacks, is u's own length at every length u has where u[0] was read (at least 1)."""
    u = shapes.named((shapes.MANY,), "u")[0]
    middle = shapes.slice_length(u, slice(1, -1))
    (joined,) = shapes.infer_shape(
        np.hstack, (shapes.Operand(shapes.tuple_of(((), (middle,), ()))),), {}
    )
    assert not shapes.same_length(joined, u)
    assert shapes.from_length(joined, 0) == joined
    assert shapes.same_length(shapes.from_length(joined, 1), u)


# -- the adjoint: split_like along the axis split_axis says ----------------------------------


JOINS = [
    (np.hstack, np.atleast_1d, hstack_axis, [(), (3,), ()]),
    (np.hstack, np.atleast_1d, hstack_axis, [(2, 3), (2, 1)]),
    (np.vstack, np.atleast_2d, 0, [(4,), (2, 4), (4,)]),
    (np.vstack, np.atleast_2d, 0, [(4,), (4,)]),
    (np.dstack, np.atleast_3d, 2, [(2, 3), (2, 3, 2)]),
    (np.column_stack, as_column, 1, [(3,), (3, 2)]),
]


@pytest.mark.parametrize(("join", "promote", "axis", "piece_shapes"), JOINS)
def test_split_like_along_split_axis_cuts_as_unjoin_does(join, promote, axis, piece_shapes):
    rng = np.random.default_rng(3)
    pieces = [rng.normal(size=shape) for shape in piece_shapes]
    y_bar = rng.normal(size=np.shape(join(pieces)))
    along = split_axis(promote, axis, [len(shape) for shape in piece_shapes])
    assert along is not None
    expected = unjoin(y_bar, pieces, promote, axis=axis if type(axis) is int else axis(pieces))
    for got, want, piece in zip(
        split_like(y_bar, pieces, axis=along), expected, pieces, strict=True
    ):
        assert np.shape(got) == np.shape(piece)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("promote", "axis", "ranks"),
    [
        (np.atleast_2d, 0, [0, 1]),  # a number in a vstack gets two axes
        (np.atleast_3d, 2, [1, 3]),  # a vector in a dstack gets one at each end
        (np.atleast_1d, hstack_axis, [2, 1]),  # NumPy raises: ranks differ
        (np.atleast_1d, hstack_axis, [None, 1]),  # a rank not known
        (as_column, 1, [0, 1]),  # a number in a column_stack gets two axes
        (np.ravel, 0, [1, 1]),  # np.append's flattening: not a promotion
        (np.atleast_2d, 1, [1, 2]),  # not the axis vstack joins along
    ],
)
def test_split_axis_refuses_joins_that_are_not_concatenations_of_the_pieces(promote, axis, ranks):
    assert split_axis(promote, axis, ranks) is None


def test_vstacked_rows_and_column_stacked_columns_have_sliced_adjoints():
    f = define("""
        def f(x, W):
            M = np.vstack([x, W, np.sin(x)])
            C = np.column_stack([x, np.cos(x)])
            return np.sum(np.tanh(M)) + np.sum(C * C)
        """)
    x, W = np.linspace(-1.0, 1.0, 4), np.cos(np.arange(8.0)).reshape(2, 4)
    text = overbar.grad(f, wrt=(0, 1)).source_for(x, W)
    assert "unjoin(" not in text and "split_like(" in text, text
    literal_and_optimised_agree(f, [x, W])
