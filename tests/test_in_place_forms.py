"""Plain NumPy that writes in place, accepted where no one else can see the change: an array
made with a library function updated by ``*=``, and a stepper that writes into a new copy each
trip and then takes it as the state (``u_new = u.copy(); u_new[1:-1] = ...; u = u_new``)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

HEAT = """
def f(u, r):
    for _ in range(4):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u ** 2)
"""

HEAT_ZEROS = """
def f(u, r):
    for _ in range(3):
        u_new = np.zeros_like(u)
        u_new[0] = u[0]
        u_new[-1] = u[-1]
        u_new[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(np.sin(u))
"""

SHARED_ACROSS_TRIPS = """
def f(u, r):
    u_new = u.copy()
    for _ in range(3):
        u_new[1:-1] = u[1:-1] * r
        u = u_new
    return np.sum(u ** 2)
"""

MADE_THEN_SCALED = """
def f(x):
    y = np.zeros_like(x)
    y += np.sin(x)
    y *= x
    return np.sum(y * y)
"""


@pytest.mark.parametrize("source", [HEAT, HEAT_ZEROS])
@pytest.mark.parametrize("size", [3, 4, 9])
def test_a_stepper_writing_into_a_new_copy_each_trip_is_differentiated(source, size):
    f = define(source)
    u = np.random.default_rng(size).uniform(0.1, 1.0, size=size)
    overbar.check_grad(f, [u, 0.2], wrt=(0, 1))
    np.testing.assert_allclose(
        overbar.grad(f, wrt=(0, 1))(u, 0.2)[0],
        overbar.grad(f, wrt=(0, 1), optimise=False)(u, 0.2)[0],
        rtol=1e-12,
    )


def test_a_state_that_is_the_array_written_next_trip_is_refused():
    f = define(SHARED_ACROSS_TRIPS)
    with pytest.raises(UnsupportedSyntaxError, match="may be a view of it"):
        overbar.grad(f)(np.ones(5), 0.5)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_an_array_made_with_zeros_like_takes_augmented_assignments(shape):
    f = define(MADE_THEN_SCALED)
    x = np.random.default_rng(1).uniform(0.1, 1.0, size=shape)
    x = float(x) if shape == () else x
    overbar.check_grad(f, [x])


HORNER_IN_PLACE = """
def f(coeffs, x):
    p = np.zeros_like(x)
    for c in coeffs:
        p *= x
        p += c
    return np.sum(p)
"""

KEPT_BY_A_VIEW = """
def f(coeffs, x):
    p = np.zeros_like(x)
    q = np.ravel(p)
    for c in coeffs:
        p *= x
        p += c
    return np.sum(p) + np.sum(q)
"""


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_a_loop_of_augmented_assignments_read_by_a_reduction_is_differentiated(shape):
    f = define(HORNER_IN_PLACE)
    rng = np.random.default_rng(4)
    x = rng.uniform(0.2, 0.9, size=shape)
    x = float(x) if shape == () else x
    overbar.check_grad(f, [rng.normal(size=4), x], wrt=(0, 1))


def test_augmented_assignments_to_an_array_a_view_shares_are_refused():
    f = define(KEPT_BY_A_VIEW)
    with pytest.raises(UnsupportedSyntaxError, match="augmented assignment to p"):
        overbar.grad(f, wrt=1)(np.ones(3), np.ones(2))


# What a write saves for the reverse sweep, and when it need not save it.

IN_PLACE = """
def f(u0, r):
    u = u0.copy()
    for _ in range(4):
        lap = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u[1:-1] = u[1:-1] + r * lap
    return np.sum(u ** 2)
"""


def test_a_region_no_one_reads_again_is_neither_saved_nor_restored():
    f = define(IN_PLACE)
    u0 = np.sin(np.linspace(0.0, 3.0, 9))
    text = overbar.grad(f, wrt=(0, 1)).source_for(u0, 0.2)
    assert "saved_region" not in text and "u[1:-1] = stack.pop()" not in text, text
    assert "floating_target(u)" in text  # the save's check stays
    overbar.check_grad(f, [u0, 0.2], wrt=(0, 1))


def test_a_region_the_reverse_sweep_reads_is_restored():
    f = define("""
        def f(u0, r):
            u = u0.copy()
            for _ in range(3):
                u[1:-1] = u[1:-1] * u[2:] * r
            return np.sum(u ** 2)
        """)
    u0 = np.linspace(0.5, 1.2, 6)
    text = overbar.grad(f, wrt=(0, 1)).source_for(u0, 0.9)
    assert "saved_region" in text and "= stack.pop()" in text, text
    overbar.check_grad(f, [u0, 0.9], wrt=(0, 1))


def test_an_integer_array_written_with_a_differentiated_value_is_still_refused():
    f = define("""
        def f(x):
            u = np.zeros(4, dtype=np.int64)
            for _ in range(2):
                u[1:3] = x[1:3] * 2.0
            return np.sum(u * x)
        """)
    with pytest.raises(overbar.OverbarError, match="rounds or truncates"):
        overbar.grad(f)(np.linspace(0.5, 1.5, 4))


SOFT_DTW = """
def f(x, y, gamma):
    n, m = len(x), len(y)
    R = np.full((n + 1, m + 1), 1e10)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r = -np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]]) / gamma
            rmax = np.max(r)
            softmin = -gamma * (rmax + np.log(np.sum(np.exp(r - rmax))))
            R[i, j] = (x[i - 1] - y[j - 1]) ** 2 + softmin
    return R[n, m]
"""

ROWS_IN_A_DISPLAY = """
def f(x):
    A = np.zeros((3, 2))
    A[0] = x
    B = np.array([A[0], A[1] + 1.0])
    A[1] = 2.0 * x
    return np.sum(B ** 2) + np.sum(A * x)
"""

ROW_KEPT_IN_A_LIST = """
def f(x):
    A = np.zeros((3, 2))
    A[0] = x
    rows = [A[0]]
    A[0] = 2.0 * x
    return np.sum(np.array(rows) ** 2)
"""


@pytest.mark.parametrize("sizes", [(2, 3), (4, 4)])
def test_elements_read_into_a_display_that_a_library_function_copies_are_copies(sizes):
    """``np.array([R[i - 1, j], ...])`` before a later write into R: np.array copies the
    display's elements as it copies an argument (soft-DTW's recursion)."""
    f = define(SOFT_DTW)
    rng = np.random.default_rng(sizes[0])
    overbar.check_grad(
        f, [rng.normal(size=sizes[0]), rng.normal(size=sizes[1]), 0.7], wrt=(0, 1, 2)
    )


def test_rows_read_into_a_display_that_np_array_copies_are_copies():
    f = define(ROWS_IN_A_DISPLAY)
    overbar.check_grad(f, [np.random.default_rng(3).normal(size=2)])


def test_a_row_kept_in_a_list_display_before_a_later_write_is_still_refused():
    """The display is bound to a name, not copied by a call: its row is a view that the
    later write changes."""
    f = define(ROW_KEPT_IN_A_LIST)
    with pytest.raises(UnsupportedSyntaxError, match="may be a view of it"):
        overbar.grad(f)(np.ones(2))


# Augmented assignments to a name that holds a Python number: rebound, never changed in place.

COUNTDOWNS = {
    "an int argument": """
def f(x, steps):
    i = steps
    while i > 0:
        x = x - 0.01 * x * (x * x - 2.0)
        i -= 1
    return np.sum(x)
""",
    "the argument itself": """
def f(x, steps):
    total = 0.0
    while steps > 0:
        total = total + np.sum(np.sin(x * steps))
        steps -= 1
    return total
""",
    "a length and a shape": """
def f(x, steps):
    n = len(x) + x.shape[0] - x.ndim
    k = int(steps)
    total = 0.0
    while n > 0:
        n -= 2
        k += 1
        total = total + np.sum(x ** 2) * k
    return total
""",
    "a literal and a range": """
def f(x, steps):
    scale = 1.0
    for i in range(steps):
        j = i
        j *= 2
        scale *= 0.5
        x = np.tanh(x * scale + j)
    return np.sum(x)
""",
}


@pytest.mark.parametrize(
    ("bound_from", "shape"),
    [
        (bound_from, shape)
        for bound_from in sorted(COUNTDOWNS)
        for shape in [(), (3,), (2, 3)]
        if shape or bound_from != "a length and a shape"  # len of a number: no such thing
    ],
)
def test_an_augmented_assignment_to_a_number_is_the_assignment(bound_from, shape):
    f = define(COUNTDOWNS[bound_from])
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 1.2, size=shape)
    x = float(x) if shape == () else x
    overbar.check_grad(f, [x, 4], wrt=0)
    np.testing.assert_allclose(overbar.grad(f)(x, 4), overbar.grad(f)(x, np.int64(4)))


def test_a_name_bound_from_an_argument_not_known_to_be_an_int_is_refused():
    """A 0-d array (or a float, which the adjoint's shapes do not tell from one) bound to i
    would be changed in place by i -= 1, and the argument with it: refused, as is the adjoint
    compiled for arguments of any kind, which cannot tell either."""
    f = define(COUNTDOWNS["an int argument"])
    for steps in (np.array(4), 4.0):
        with pytest.raises(UnsupportedSyntaxError, match="not known to be an int") as caught:
            overbar.grad(f)(np.ones(3), steps)
        assert "i -= 1" in str(caught.value)
    with pytest.raises(UnsupportedSyntaxError, match="not known to be an int"):
        overbar.grad(f).source  # noqa: B018


def test_a_name_that_may_hold_an_array_as_well_as_a_number_is_still_refused():
    f = define(
        "def f(x, steps):\n    i = steps\n    if steps > 2:\n        i = x[:2]\n"
        "    i -= 1\n    return np.sum(x * 2.0) + np.sum(i)\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="augmented assignment to i"):
        overbar.grad(f)(np.ones(3), 4)
    shadowed = define(
        "def f(x, steps):\n    len = np.sum\n    n = len(x)\n    m = n\n    n -= 1\n"
        "    return np.sum(x * n) + m\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="augmented assignment to n"):
        overbar.grad(shadowed)(np.ones(3), 4)


# A helper's result is a new array when every return of the helper is arithmetic: reading the
# array written into as its argument then copies, as arithmetic on the array itself does.
HELPER_ARITHMETIC = """
def laplacian(u):
    return u[:-2] - 2.0 * u[1:-1] + u[2:]

def f(u0, r):
    u = np.array(u0, dtype=float)
    for _ in range(3):
        u[1:-1] += r * laplacian(u)
    v = laplacian(u)
    v[0] = v[0] * 2.0
    return np.sum(u ** 2) + np.sum(v)
"""

HELPER_VIEWS = {
    "a slice": "def laplacian(u):\n    return u[1:-1]\n",
    "a slice on one path": (
        "def laplacian(u):\n    if u[0] > 100.0:\n        return u[1:-1]\n"
        "    return u[:-2] - 2.0 * u[1:-1] + u[2:]\n"
    ),
    "a name": "def laplacian(u):\n    w = u[:-2] - 2.0 * u[1:-1] + u[2:]\n    return w\n",
}


@pytest.mark.parametrize("size", [3, 6])
def test_an_array_read_by_a_helper_returning_arithmetic_may_be_written_after(size):
    f = define(HELPER_ARITHMETIC)
    u0 = np.random.default_rng(size).normal(size=size)
    overbar.check_grad(f, [u0, 0.2], wrt=(0, 1))


@pytest.mark.parametrize("helper", list(HELPER_VIEWS.values()), ids=list(HELPER_VIEWS))
def test_an_array_read_by_a_helper_that_may_return_a_view_is_still_refused(helper):
    source = helper + HELPER_ARITHMETIC.split("\n\n", 1)[1].replace(
        "    v = laplacian(u)\n    v[0] = v[0] * 2.0\n", ""
    )
    f = define(source)
    with pytest.raises(UnsupportedSyntaxError, match="may be a view of it"):
        overbar.grad(f)(np.linspace(0.0, 1.0, 6), 0.2)
