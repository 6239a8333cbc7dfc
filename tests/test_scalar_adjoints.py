"""A number's broadcast adjoint stays a number while only combined elementwise
(``scalar_adjoints.py``), a forward value read only for its shape is read from a parameter
(``known_shapes.py``) and goes, and the tie-splitting derivative of ``np.minimum`` and
``np.maximum`` is one ``np.where``. Each side condition that fails keeps the gradient right."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

HUBER_LINEAR = """
def f(w, X, y):
    a = np.abs(X @ w - y)
    quadratic = np.minimum(a, 1.0)
    linear = a - quadratic
    return np.sum(0.5 * quadratic**2 + linear) / len(y)
"""

# z is computed only so that the adjoint of np.sum(z) knows its shape
SHAPE_ONLY = """
def f(w, b):
    z = np.sin(w) + b * w
    s = np.sum(z)
    return s * 3.0
"""

# w and b of lengths not known equal: z = np.sin(w) + b may raise, so it stays
MAY_NOT_BROADCAST = """
def f(w, b):
    z = np.sin(w) + b
    s = np.sum(z)
    return s * 3.0
"""

# the shape is not known from a parameter: z's length depends on a value
SHAPE_UNKNOWN = """
def f(w, k):
    z = np.sin(w[:k]) * 2.0
    return np.sum(z)
"""

# z is also read by something that is not a shape: it stays
ALSO_READ = """
def f(w, b):
    z = np.sin(w) + b
    return np.sum(z) + np.sum(z * z)
"""

# the argument's only use is broadcast with a number: its gradient must be an array
ONLY_BROADCAST = """
def f(x, c):
    return np.sum(x * 0.0 + c)
"""

# a copy of the broadcast adjoint returned as it is, another combined with an array
COPY_RETURNED = """
def f(x, y):
    t = x + y
    return np.mean(t) + np.sum(np.cos(x))
"""

# the number meets only numbers, then an array through a call: broadcast before the call
THROUGH_A_CALL = """
def f(x, y):
    t = x * y
    u = np.sum(t) * 2.0
    return u + np.sum(np.exp(x))
"""


def _run(source, *args, wrt):
    function = define(source)
    optimised = overbar.grad(function, wrt=wrt)
    literal = overbar.grad(function, wrt=wrt, optimise=False)
    got, want = optimised(*args), literal(*args)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w, position in zip(got, want, wrt if isinstance(wrt, tuple) else (wrt,), strict=True):
        assert np.shape(g) == np.shape(args[position])
        assert np.asarray(g).dtype.kind == "f"
        tolerance = 1e-6 if np.asarray(g).dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tolerance, atol=tolerance)
    return optimised.source_for(*args), got


@pytest.mark.parametrize("n", [1, 3, 20])
def test_huber_written_with_minimum_keeps_its_adjoint_a_number(n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 4))
    w, y = rng.normal(size=4), rng.normal(scale=2.0, size=n)
    source, _ = _run(HUBER_LINEAR, w, X, y, wrt=(0,))
    assert "broadcast_like" not in source
    assert "\n    linear = " not in source  # computed only for its shape: gone
    assert "1.0 * " not in source
    overbar.check_grad(define(HUBER_LINEAR), (w, X, y), wrt=0)


def test_a_tie_of_minimum_and_maximum_shares_the_adjoint():
    f = define("def f(x, y):\n    return np.sum(np.minimum(x, y) * 3.0 + np.maximum(x, 2.0))\n")
    x = np.array([0.5, 1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 1.0, 3.0])
    x_bar, y_bar = overbar.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(x_bar, [3.0, 1.5 + 0.0, 0.5, 1.5 + 1.0])
    np.testing.assert_array_equal(y_bar, [0.0, 1.5, 3.0, 1.5])
    assert "np.where(" in overbar.grad(f, wrt=(0, 1)).source_for(x, y)
    # numbers and infinities too: a tie at infinity is a tie
    assert overbar.grad(f, wrt=(0, 1))(1.0, 1.0) == (1.5, 1.5)
    inf = np.array([np.inf])
    x_bar, y_bar = overbar.grad(f, wrt=(0, 1))(inf, inf)
    assert x_bar[0] == 1.5 + 1.0 and y_bar[0] == 1.5


@pytest.mark.parametrize("shape", [(3,), (2, 3), ()])
def test_a_value_computed_for_its_shape_alone_goes(shape):
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=shape), 0.5
    source, _ = _run(SHAPE_ONLY, w, b, wrt=(0, 1))
    if shape:
        assert "z = " not in source.split("# s = np.sum(z)")[0]
    overbar.check_grad(define(SHAPE_ONLY), (w, b), wrt=(0, 1))


def test_a_value_that_may_raise_the_users_error_stays():
    w, b = np.ones(3), np.arange(3.0)
    source, _ = _run(MAY_NOT_BROADCAST, w, b, wrt=(0, 1))
    assert "z = np.sin(w) + b" in source
    with pytest.raises(ValueError):
        overbar.grad(define(MAY_NOT_BROADCAST), wrt=(0, 1))(np.ones(3), np.ones(4))


def test_a_broadcast_operand_keeps_its_value_read_for_the_shape():
    # b broadcast against w: z is w's shape, not b's
    w, b = np.ones((2, 3)), np.arange(3.0)
    source, (w_bar, b_bar) = _run(MAY_NOT_BROADCAST, w, b, wrt=(0, 1))
    np.testing.assert_allclose(b_bar, [6.0, 6.0, 6.0])


def test_a_shape_not_known_keeps_the_value():
    w = np.linspace(0.0, 1.0, 5)
    source, _ = _run(SHAPE_UNKNOWN, w, 3, wrt=(0,))
    overbar.check_grad(define(SHAPE_UNKNOWN), (w, 3), wrt=0)


def test_a_value_also_read_otherwise_stays():
    w, b = np.linspace(0.0, 1.0, 4), np.ones(4)
    source, _ = _run(ALSO_READ, w, b, wrt=(0, 1))
    assert "z = np.sin(w) + b" in source


@pytest.mark.parametrize(
    "x", [np.ones(4), np.ones((2, 3)), np.arange(4), np.ones(3, dtype=np.float32), np.array(2.0)]
)
def test_a_scalar_adjoint_ends_as_an_array_shaped_like_its_argument(x):
    source, (x_bar, c_bar) = _run(ONLY_BROADCAST, x, 1.5, wrt=(0, 1))
    assert x_bar.shape == np.shape(x) and not np.any(x_bar)
    assert c_bar == x.size
    if x.dtype == np.float32:
        assert x_bar.dtype.kind == "f"


@pytest.mark.parametrize("shape", [(4,), (2, 3), ()])
def test_a_copy_of_a_broadcast_adjoint_returned_has_the_arguments_shape(shape):
    x = np.linspace(0.1, 1.0, int(np.prod(shape))).reshape(shape)
    y = np.ones(shape)
    _run(COPY_RETURNED, x, y, wrt=(0, 1))
    overbar.check_grad(define(COPY_RETURNED), (x, y), wrt=(0, 1))


def test_a_scalar_adjoint_is_broadcast_before_a_call_reads_it():
    x, y = np.linspace(0.1, 1.0, 4), np.full(4, 2.0)
    _run(THROUGH_A_CALL, x, y, wrt=(0, 1))
    overbar.check_grad(define(THROUGH_A_CALL), (x, y), wrt=(0, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, bool])
def test_inputs_of_other_dtypes(dtype):
    X = np.arange(12).reshape(6, 2).astype(dtype)
    w = np.array([0.5, -0.25], dtype=np.float32 if dtype is np.float32 else np.float64)
    y = np.arange(6).astype(dtype)
    _, (w_bar,) = _run(HUBER_LINEAR, w, X, y, wrt=(0,))
    assert w_bar.dtype.kind == "f"
    if dtype is np.float32:
        assert w_bar.dtype == np.float32


ROWS_SHIFTED = """
def f(x, b):
    t = x + b[:, None]
    u = t * 2.0
    return np.mean(u) - np.sum(b)
"""


def test_mean_of_rows_shifted_in_two_dimensions():
    x, b = np.ones((3, 4)), np.arange(3.0)
    _, (x_bar, b_bar) = _run(ROWS_SHIFTED, x, b, wrt=(0, 1))
    np.testing.assert_allclose(x_bar, np.full((3, 4), 2.0 / 12))
    np.testing.assert_allclose(b_bar, np.full(3, 8.0 / 12 - 1.0))


HUBER_WHERE = """
def f(w, X, y):
    r = X @ w - y
    a = np.abs(r)
    return np.mean(np.where(a <= 1.0, 0.5 * r**2, a - 0.5))
"""

# the selection's condition is a number: the broadcast is put back before the selection
WHERE_OF_NUMBERS = """
def f(x, flag):
    t = x * 2.0
    u = np.where(flag > 0, np.sum(t), 0.0)
    return u * 3.0
"""


@pytest.mark.parametrize("n", [1, 5])
def test_a_number_through_a_selection_stays_a_number(n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3))
    w, y = rng.normal(size=3), rng.normal(scale=2.0, size=n)
    source, _ = _run(HUBER_WHERE, w, X, y, wrt=(0,))
    assert "broadcast_like" not in source
    assert "0.5 * r**2" not in source.split("# return")[0]  # the selection's values: gone
    overbar.check_grad(define(HUBER_WHERE), (w, X, y), wrt=0)


@pytest.mark.parametrize("flag", [1.0, -1.0])
def test_a_selection_between_numbers(flag):
    x = np.linspace(0.0, 1.0, 3)
    _run(WHERE_OF_NUMBERS, x, flag, wrt=(0,))


@pytest.mark.parametrize(
    "x", [np.arange(3), np.linspace(0.0, 1.0, 3), np.ones(2, dtype=np.float32), 2.0]
)
def test_no_unit_factor_before_a_floating_function(x):
    source, _ = _run("def f(x):\n    return np.sum(np.exp(x))\n", x, wrt=(0,))
    assert "1.0 * " not in source


def test_a_unit_factor_stays_before_an_integer_function():
    # np.abs of integers is integers: 1.0 times makes them floating point
    source, (x_bar,) = _run(
        "def f(x, y):\n    return np.sum(np.abs(y) * x)\n", np.ones(3), np.arange(3), wrt=(0,)
    )
    assert x_bar.dtype.kind == "f"


# the broadcast adjoint meets a loop of the reverse sweep: broadcast before it
INTO_A_LOOP = """
def f(x, y):
    t = x * 2.0
    total = np.mean(t)
    for i in range(3):
        total = total + np.sum(y * x) * i
    u = x + 0.0
    u += y
    return total + np.sum(u)
"""


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_a_scalar_adjoint_meeting_a_loop_or_an_augmented_assignment(shape):
    x = np.linspace(0.1, 1.0, int(np.prod(shape))).reshape(shape)
    y = np.full(shape, 0.5)
    _run(INTO_A_LOOP, x, y, wrt=(0, 1))
    overbar.check_grad(define(INTO_A_LOOP), (x, y), wrt=(0, 1))
