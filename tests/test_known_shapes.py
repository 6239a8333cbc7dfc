"""A value the reverse sweep reads only for its shape, where that shape is a parameter's (or a
constant slice of one), is read from the parameter and not saved (``known_shapes.py``); where
the shape is not known so, it is saved as before and the gradient is the same."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime import shapes
from overbar.transpiler.known_shapes import _slice_with_lengths
from tests.support import define

HEAT_CONCATENATE = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        interior = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = np.concatenate((u[:1], interior, u[-1:]))
    return np.sum(u * u)
"""

HEAT_COPY = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u**2)
"""

ROWS_JOINED = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        interior = u[1:-1] * alpha + np.sin(u[2:])
        u = np.concatenate((u[:1], interior, u[-1:]), axis=0)
    return np.sum(u * u)
"""

# the conditions that fail: the join shorter than the array, an array the loop grows, a
# parameter rebound (its value in the reverse sweep is not the caller's), a step's own length
SHORTER_JOIN = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate((u[:1], alpha * u[2:]))
    return np.sum(u * u)
"""

GROWN = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate((u, alpha * u[-1:]))
    return np.sum(u * u)
"""

REBOUND_PARAMETER = """
def f(u, alpha, steps):
    for _ in range(steps):
        u_new = np.zeros_like(u)  # its ends stay zero: the stencil's adjoint is a new array
        u_new[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u**2)
"""

STEP_LENGTH = """
def f(u0, alpha, steps):
    total = 0.0
    for i in range(steps):
        v = u0[: i + 1] * alpha
        w = v[1:]
        total = total + np.sum(w * w)
    return total
"""


def _arguments(length, columns=None, steps=4):
    rng = np.random.default_rng(length)
    shape = (length,) if columns is None else (length, columns)
    return [rng.normal(size=shape), 0.2, steps]


@pytest.mark.parametrize("length", [2, 3, 7])
@pytest.mark.parametrize("source", [HEAT_CONCATENATE, HEAT_COPY])
def test_a_loop_carried_array_as_long_as_its_start_saves_no_shape(source, length):
    f = define(source)
    args = _arguments(length)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(" not in text, text
    assert "u = stack.pop()" not in text, text
    overbar.check_grad(f, args, wrt=(0, 1))


def test_the_pieces_of_a_join_are_read_as_views_of_the_parameter():
    # an end scaled on its way back: the join's adjoint stays a split (owned.py's reassemble
    # writes the plain one into the state's adjoint, test_owned.py)
    f = define(HEAT_CONCATENATE.replace("u[-1:]))", "0.5 * u[-1:]))"))
    text = overbar.grad(f, wrt=(0, 1)).source_for(*_arguments(6))
    flat = "".join(text.split()).replace(",)", ")")
    assert "split_like(u_bar,(u0[:1],u0[:-2],u0[:1]),axis=0)" in flat, text
    assert "interior = stack.pop()" not in text and "stack.append(interior)" not in text


@pytest.mark.parametrize("length", [2, 5])
def test_rows_joined_along_the_first_axis_of_a_matrix(length):
    f = define(ROWS_JOINED)
    args = _arguments(length, columns=3)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(" not in text and "u = stack.pop()" not in text, text
    overbar.check_grad(f, args, wrt=(0, 1))


@pytest.mark.parametrize("source", [SHORTER_JOIN, GROWN, REBOUND_PARAMETER, STEP_LENGTH])
def test_a_shape_not_known_as_a_parameters_is_still_saved(source):
    f = define(source)
    args = _arguments(9, steps=3)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(" in text or " = stack.pop()" in text.split("for __")[-1], text
    overbar.check_grad(f, args, wrt=(0, 1))
    for length in (2, 12):  # the same adjoint, other lengths
        overbar.check_grad(f, _arguments(length, steps=3), wrt=(0, 1))


def test_a_rebound_parameter_is_no_witness_of_its_shape():
    f = define(REBOUND_PARAMETER)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*_arguments(6))
    assert "shape_of(u)" in text, text


@pytest.mark.parametrize(
    "bounds", [slice(1, -1), slice(None, 1), slice(-1, None), slice(2, None), slice(3, 7)]
)
def test_a_slice_is_found_for_the_lengths_of_a_slice(bounds):
    size = shapes.Size(("u0", 0), True)
    cut = shapes.slice_length(size, bounds)
    found = _slice_with_lengths(cut.origin[2])
    for n in range(2, 40):
        assert len(range(n)[found]) == len(range(n)[bounds])


def test_no_slice_is_found_for_lengths_no_slice_has():
    assert _slice_with_lengths((0, None, 5, 0)) is None


ROWS = """
def f(x, gamma):
    total = 0.0
    for i in range(x.shape[0]):
        row = x[i]
        centred = row - np.mean(row)
        total = total + np.sum(centred * centred * gamma)
    return total
"""


@pytest.mark.parametrize("rows", [1, 4])
def test_a_row_of_a_parameter_read_for_its_shape_is_not_saved(rows):
    f = define(ROWS)
    rng = np.random.default_rng(rows)
    args = [rng.normal(size=(rows, 5)), rng.normal(size=5)]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(row)" not in text and "row = stack.pop()" not in text, text
    # a broadcast to a row's shape takes it from x's; where every reader of the broadcast
    # has the row's shape anyway (row_bar - centred_bar.sum() / n), there is none
    assert "broadcast_like" not in text or "shape_like(x, x.shape[1:])" in text, text
    overbar.check_grad(f, args, wrt=(0, 1))


def test_a_row_stand_in_of_another_librarys_array_is_in_that_library():
    da = pytest.importorskip("dask.array")
    from overbar.runtime.helpers import shape_like

    x = da.ones((3, 4, 2), chunks=2)
    stand_in = shape_like(x, x.shape[1:])
    assert isinstance(stand_in, da.Array) and stand_in.shape == (4, 2)
    assert np.shape(shape_like(np.ones((3, 4, 2)), (2,))) == (2,)


READ_BEFORE_ITS_POPS = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate((u[:1], alpha * u[1:]))
    return np.sum(u * u) + np.sum(u0)
"""


def test_a_read_of_the_last_value_before_every_pop_keeps_no_save():
    f = define(READ_BEFORE_ITS_POPS)
    args = _arguments(5)
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "u_bar = 2.0 * u" in text  # the forward sweep's last u, read before any pop
    assert "shape_of(" not in text and "u = stack.pop()" not in text, text
    overbar.check_grad(f, args, wrt=(0, 1))


HELPER_OF_AN_UNNAMED_LENGTH = """
def helper(v):
    return np.sin(v) * 2.0

def f(v, W, h0, steps):
    h = h0
    total = 0.0
    for _ in range(steps):
        h = np.tanh(h @ W)
        g = helper(h)
        total = total + np.sum(g) * np.sum(v)
    return total
"""


def test_a_helpers_name_for_a_length_is_not_the_callers_parameter_of_that_name():
    # h's length is W's or h0's, known only as "not 1": the helper names it after its own
    # parameter v, which must not make it the caller's v (7 long, not 3)
    f = define(HELPER_OF_AN_UNNAMED_LENGTH)
    rng = np.random.default_rng(0)
    args = [rng.normal(size=7), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), 3]
    kept = overbar.grad(f, wrt=(0, 1, 2), optimise=overbar.Optimisations.parse("all,-inline"))
    assert "broadcast_like(tmp3_bar, v)" not in kept.source_for(*args)
    expected = overbar.grad(f, wrt=(0, 1, 2), optimise=overbar.Optimisations.none())(*args)
    for got, want in zip(kept(*args), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)


VALUE_READ_TOO = """
def f(X):
    total = 0.0
    for row in X:
        e = np.exp(row - np.max(row))
        total = total + np.log(np.sum(e))
    return total
"""


def test_a_saved_value_the_reverse_sweep_reads_anyway_keeps_its_reads():
    # e is read for its value too: it stays saved, and a stand-in for its shape saves nothing
    f = define(VALUE_READ_TOO)
    X = np.random.default_rng(3).normal(size=(4, 6))
    text = overbar.grad(f).source_for(X)
    assert "shape_like(" not in text, text
    overbar.check_grad(f, [X])


FLOAT_OF_NUMBER = """
def f(w, X):
    total = 0.0
    for i in range(X.shape[0]):
        r = float(X[i] @ w)
        total = total + r * r
    return total
"""


def test_float_of_a_number_hands_its_adjoint_on_as_it_is():
    """float(x) of an x known to be a number (rank 0: X[i] @ w of two vectors) has x̄ = ȳ:
    no reshape to x's shape, so x's shape is neither read nor saved on every row."""
    f = define(FLOAT_OF_NUMBER)
    rng = np.random.default_rng(0)
    w, X = rng.normal(size=3), rng.normal(size=(6, 3))
    source = overbar.grad(f).source_for(w, X)
    assert "reshape" not in source and "shape_of" not in source
    overbar.check_grad(f, [w, X], wrt=(0, 1))


def test_float_of_a_value_of_unknown_rank_keeps_the_general_rule():
    """The condition failing: in the adjoint not specialised on shapes, X[i] @ w may have any
    rank, so its adjoint is reshaped to its shape as before, and the gradient is right."""
    f = define(FLOAT_OF_NUMBER)
    rng = np.random.default_rng(1)
    w, X = rng.normal(size=3), rng.normal(size=(6, 3))
    gradient = overbar.grad(f, wrt=(0, 1))
    assert "np.reshape(" in gradient.source
    expected = overbar.grad(f, wrt=(0, 1), optimise=overbar.Optimisations.parse("none"))(w, X)
    for got, want in zip(gradient(w, X), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


HEAT_DIFF = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate([u[:1], u[1:-1] + alpha * np.diff(u, n=2), u[-1:]])
    return np.sum(u**2)
"""

HEAT_DIFF_PREPENDED = """
def f(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate([u[:1], alpha * np.diff(u[1:], prepend=u[0]), u[-1:]])
    return np.sum(u**2)
"""

HEAT_DIFF_ORDER_VARIES = """
def f(u0, alpha, steps):
    u = u0
    for k in range(steps):
        u = np.concatenate([u[:1], u[1:-1] + alpha * np.diff(u, n=2 - k % 2)[: len(u) - 2]])
        u = np.concatenate([u, u[-1:]])
    return np.sum(u**2)
"""


@pytest.mark.parametrize("length", [3, 4, 9])
def test_np_diff_is_shorter_by_its_order_as_a_slice_is(length):
    """np.diff(u, n=2) is as long as u[1:-1] (u0[:-2] of the parameter): nothing is saved for
    a shape, and the join's pieces, known to go back to their places, are the loop's own
    adjoint array (``owned.py``: no split, no scatter); the difference's adjoint is read for
    the parameter's shape."""
    f = define(HEAT_DIFF)
    u0 = np.sin(np.linspace(0.0, 3.0, length))
    source = overbar.grad(f, wrt=(0, 1)).source_for(u0, 0.2, 5)
    assert "shape_of" not in source and "split_like(" not in source, source
    assert "undiff(tmp10 * alpha, u0, 2" in source, source
    overbar.check_grad(f, [u0, 0.2, 5], wrt=(0, 1))


@pytest.mark.parametrize("source", [HEAT_DIFF_PREPENDED, HEAT_DIFF_ORDER_VARIES])
def test_np_diff_of_a_shape_not_followed_keeps_the_saves(source):
    """The conditions failing: a prepended value, an order that is not a constant. The shape
    is not inferred, the pieces' shapes are saved as before, and the gradient is right."""
    f = define(source)
    u0 = np.sin(np.linspace(0.0, 3.0, 7))
    assert "shape_of" in overbar.grad(f, wrt=(0, 1)).source_for(u0, 0.2, 4)
    overbar.check_grad(f, [u0, 0.2, 4], wrt=(0, 1))


SOFT_MIN_OF_NEIGHBOURS = """
def f(x, gamma):
    n = len(x)
    R = np.zeros((n + 1, n + 1))
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            r = -np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]]) / gamma
            rmax = np.max(r)
            R[i, j] = x[i - 1] ** 2 * j - gamma * (rmax + np.log(np.sum(np.exp(r - rmax))))
    return R[n, n]
"""


@pytest.mark.parametrize("length", [1, 3])
def test_np_array_of_a_display_of_numbers_is_a_vector_of_its_length(length):
    """np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]]) of three numbers is a vector of
    three: nothing after it is saved for its shape or summed to a shape at run time."""
    f = define(SOFT_MIN_OF_NEIGHBOURS)
    x = np.random.default_rng(length).normal(size=length)
    source = overbar.grad(f, wrt=(0, 1)).source_for(x, 0.7)
    assert "shape_of" not in source and "unbroadcast" not in source
    overbar.check_grad(f, [x, 0.7], wrt=(0, 1))


@pytest.mark.parametrize("coefficients", [(1,), (6,), (4, 3)])
def test_the_elements_of_a_list_made_by_list_are_an_arrays_rows(coefficients):
    # for c in list(coeffs): the elements are coeffs's rows, so the loop's adjoint sums
    # p_bar to c's shape knowing it (no unbroadcast), at every shape of coeffs
    f = define(
        "def f(coeffs, x):\n    p = np.zeros(x.shape)\n    for c in list(coeffs):\n"
        "        p = x * p + c\n    return float(p.sum())\n"
    )
    rng = np.random.default_rng(7)
    coeffs, x = rng.normal(size=coefficients), rng.normal(size=coefficients[1:] or (5,))
    g = overbar.grad(f, wrt=("coeffs", "x"))
    overbar.check_grad(f, [coeffs, x])
    g(coeffs, x)
    assert "unbroadcast" not in g.source_for(coeffs, x)
