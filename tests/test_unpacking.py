"""Unpacking: ``a, b = v`` of an array (its rows, or a 1-d array's elements), of a tuple a NumPy
function returns, of a tuple you build, nested (``(p, q), r = ...``) and in loop targets.

The adjoint of an unpacked value is made in its own kind: the stacked adjoints of its rows for
an array, a tuple for a tuple, decided when the line runs where the compiler cannot know it (a
helper's parameter that one caller passes an array and another a tuple).
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(7)
PAIR = RNG.uniform(0.5, 1.5, size=2)
MATRIX = RNG.uniform(0.5, 1.5, size=(2, 3))
TALL = RNG.uniform(0.5, 1.5, size=(4, 2))
SQUARE = RNG.uniform(-1.0, 1.0, size=(3, 3)) + 3.0 * np.eye(3)
CUBE = RNG.uniform(0.5, 1.5, size=(2, 2, 3))

PROGRAMS = {
    "a 1-d array's elements": ("a, b = x\n    return a * b", PAIR),
    "a list target": ("[a, b] = x\n    return a * np.sin(b)", PAIR),
    "a 2-d array's rows": ("a, b = x\n    return np.sum(a * np.tanh(b))", MATRIX),
    "a 3-d array's matrices": ("a, b = x\n    return np.sum(a @ b.T)", CUBE),
    "one element unread": ("a, b = x\n    return np.sum(a ** 2)", MATRIX),
    "no element read, the array read": ("a, b = x\n    return np.sum(x ** 2)", MATRIX),
    "the array also read whole": ("a, b = x\n    return np.sum(a * b) + np.sum(x ** 3)", MATRIX),
    "the result of a NumPy function": (
        "y = np.sin(x)\n    a, b = y\n    return np.sum(a / b)",
        MATRIX,
    ),
    "unpacked twice": ("a, b = x\n    c, d = x\n    return np.sum(a * d) + np.sum(b * c)", MATRIX),
    "a rebound name": ("a, b = x\n    a, b = b * a, a\n    return np.sum(a + b ** 2)", MATRIX),
    "rows of a loop": (
        "total = 0.0\n    for r in x:\n        a, b = r\n        total = total + a * b\n"
        "    return total",
        TALL,
    ),
    "a tuple loop target": (
        "total = 0.0\n    for a, b in x:\n        total = total + np.sin(a) * b\n    return total",
        TALL,
    ),
    "enumerate with a tuple element": (
        "total = 0.0\n    for i, (a, b) in enumerate(x):\n        total = total + i * a * b\n"
        "    return total",
        TALL,
    ),
    "a generator over rows unpacked": ("return sum(a * np.cos(b) for a, b in x)", TALL),
    "a nested loop target over zip": (
        "total = 0.0\n    for (a, b), c in zip(x, x[:, 0] ** 2):\n"
        "        total = total + a * b * c\n    return total",
        TALL,
    ),
    "a loop-carried array": (
        "for _ in range(3):\n        a, b = x\n        x = np.stack([np.sin(b), a * b])\n"
        "    return np.sum(x)",
        MATRIX,
    ),
    "nested, of displays": (
        "(p, q), r = (x, np.sin(x)), x * 2.0\n    return np.sum(p * q * r)",
        PAIR,
    ),
    "nested, of an array": (
        "(p, q), r = x\n    return np.sum(p * q * r)",
        RNG.uniform(0.5, 1.5, (2, 2)),
    ),
    "nested, of a tuple of arrays": (
        "t = (x, x[0])\n    (a, b), c = t\n    return np.sum(a * b * c)",
        MATRIX,
    ),
    "nested three deep": (
        "((p, q), r), s = x\n    return np.sum(p * q + r * s)",
        RNG.uniform(0.5, 1.5, (2, 2, 2, 3)),
    ),
    "swapping": ("a, b = x\n    a, b = b, a\n    return np.sum(a * np.exp(b))", MATRIX),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_an_unpacking_is_differentiated(name):
    body, x = PROGRAMS[name]
    f = define(f"def f(x):\n    {body}\n")
    gradient = overbar.grad(f)(x)
    assert isinstance(gradient, np.ndarray) and gradient.shape == x.shape
    overbar.check_grad(f, [x])
    np.testing.assert_allclose(gradient, overbar.grad(f, optimise=False)(x), rtol=1e-12)


def test_the_adjoint_of_rows_is_the_stack_of_their_adjoints():
    f = define("def f(x):\n    a, b = x\n    return np.sum(a * 2.0) + np.sum(b ** 2)\n")
    np.testing.assert_allclose(
        overbar.grad(f)(MATRIX), np.stack([2.0 + 0 * MATRIX[0], 2 * MATRIX[1]])
    )


def test_an_unread_row_gets_zeros_of_the_arrays_dtype():
    f = define("def f(x):\n    a, b = x\n    return np.sum(np.sin(a))\n")
    x = MATRIX.astype(np.float32)
    gradient = overbar.grad(f)(x)
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient[1], 0.0)
    np.testing.assert_allclose(gradient[0], np.cos(x[0]), rtol=1e-6)


def test_a_helper_unpacks_an_array_from_one_caller_and_a_tuple_from_another():
    source = (
        "def product(v):\n    a, b = v\n    return a * b\n\n"
        "def f(x):\n    return np.sum(product(x)) + np.sum(product((np.sin(x[0]), x[1])))\n"
    )
    f = define(source)
    overbar.check_grad(f, [MATRIX])
    expected = np.stack([MATRIX[1] + np.cos(MATRIX[0]) * MATRIX[1], MATRIX[0] + np.sin(MATRIX[0])])
    np.testing.assert_allclose(overbar.grad(f)(MATRIX), expected, rtol=1e-12)


def test_a_helper_returning_nested_tuples_is_unpacked_nested():
    source = (
        "def parts(x):\n    return (x * 2.0, np.sin(x)), np.cos(x)\n\n"
        "def f(x):\n    (p, q), r = parts(x)\n    return np.sum(p * q + r)\n"
    )
    f = define(source)
    overbar.check_grad(f, [MATRIX])
    expected = 2.0 * np.sin(MATRIX) + 2.0 * MATRIX * np.cos(MATRIX) - np.sin(MATRIX)
    np.testing.assert_allclose(overbar.grad(f)(MATRIX), expected, rtol=1e-12)


LINALG = {
    "slogdet": ("sign, logdet = np.linalg.slogdet(x)\n    return sign * logdet", SQUARE),
    "svd": (
        "u, s, vt = np.linalg.svd(x)\n    return np.sum(s ** 2) + np.sum(u[:, 0] * vt[0]) ** 2",
        SQUARE,
    ),
    "svd, reduced, of a tall matrix": (
        "u, s, vt = np.linalg.svd(x, full_matrices=False)\n"
        "    return np.sum(s) + np.sum(u[0] ** 2)",
        TALL,
    ),
    "qr": ("q, r = np.linalg.qr(x)\n    return np.sum(q * 2.0) + np.sum(r ** 2)", SQUARE),
    "eigh": (
        "w, v = np.linalg.eigh(x + x.T)\n"
        "    return np.sum(w ** 2) + np.sum(v[:, -1] * v[:, -1] * x[0])",
        SQUARE,
    ),
    "nested, of a NumPy function's tuple": (
        "(sign, logdet), y = np.linalg.slogdet(x), x\n    return logdet * np.sum(y)",
        SQUARE,
    ),
    "a NumPy tuple unpacked in a loop": (
        "total = 0.0\n    for m in [x, x * 2.0]:\n        sign, logdet = np.linalg.slogdet(m)\n"
        "        total = total + logdet\n    return total",
        SQUARE,
    ),
    "split": ("a, b = np.split(x, 2, axis=1)\n    return np.sum(a * np.sin(b))", TALL),
}


@pytest.mark.parametrize("name", LINALG)
def test_a_tuple_a_numpy_function_returns_is_unpacked(name):
    body, x = LINALG[name]
    f = define(f"def f(x):\n    {body}\n")
    overbar.check_grad(f, [x])
    np.testing.assert_allclose(
        overbar.grad(f)(x), overbar.grad(f, optimise=False)(x), rtol=1e-9, atol=1e-12
    )


def test_the_adjoint_reads_like_the_unpacking():
    f = define("def f(x):\n    a, b = x\n    return np.sum(a * b)\n")
    source = overbar.grad(f).source
    assert "x_bar = unpacked_bar(x, (a_bar, b_bar))" in source


def test_a_starred_target_is_refused_at_its_line():
    f = define("def f(x):\n    a, *rest = x\n    return np.sum(a)\n")
    with pytest.raises(UnsupportedSyntaxError, match="starred assignment target") as caught:
        overbar.grad(f)(MATRIX)
    message = str(caught.value)
    assert f"{f.__code__.co_filename}:{f.__code__.co_firstlineno + 1}:" in message
    assert "a, *rest = x" in message
    assert "rest = v[1:]" in message


def test_unpacking_into_an_attribute_is_refused():
    f = define("def f(x):\n    a, x.b = x\n    return np.sum(a)\n")
    with pytest.raises(UnsupportedSyntaxError, match="this element of an unpacking"):
        overbar.grad(f)(MATRIX)


def test_unpacking_too_many_values_fails_as_python_does():
    f = define("def f(x):\n    a, b = x\n    return np.sum(a * b)\n")
    with pytest.raises(ValueError, match="too many values"):
        overbar.grad(f)(TALL)


def test_a_helper_unpacks_and_indexes_a_parameter_of_either_kind():
    source = (
        "def product(v):\n    a, b = v\n    return a * b * v[0]\n\n"
        "def f(x):\n    return np.sum(product(x)) + np.sum(product((np.sin(x[0]), x[1])))\n"
    )
    f = define(source)
    overbar.check_grad(f, [MATRIX])
    for optimise in (True, False):
        gradient = overbar.grad(f, optimise=optimise)(MATRIX)
        a, b, s = MATRIX[0], MATRIX[1], np.sin(MATRIX[0])
        expected = np.stack([2 * a * b + 2 * s * b * np.cos(a), a * a + s * s])
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "helper",
    [
        "def helper(p0, p1):\n    return p1\n",
        "def helper(p0, p1):\n    return np.mean(p0, axis=0)\n",
        "def helper(p0, p1):\n    return (p0[0] * p1[1], np.sin(p0[1]))\n",
    ],
)
def test_what_a_helper_returns_is_unpacked_in_its_own_kind(helper):
    """Found by the fuzzer: a helper returning an array, unpacked, was given a tuple adjoint."""
    f = define(helper + "\ndef f(x):\n    a, b = helper(x, x)\n    return np.sum(a * np.cos(b))\n")
    x = np.array([[1.126, 0.3], [1.216, -0.4]])
    overbar.check_grad(f, [x])
    for optimise in (True, False):
        gradient = overbar.grad(f, optimise=optimise)(x)
        assert gradient.shape == x.shape


UNPACKED_WRITES = {
    "the ends of a stepper's new array": """
def f(u0, alpha):
    u = u0
    for _ in range(3):
        u_next = np.empty_like(u)
        u_next[0], u_next[-1] = u[0], u[-1]
        u_next[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_next
    return np.sum(u * u)
""",
    # each target's index is read when it is assigned, after the targets before it
    "an index assigned before its write": """
def f(x, alpha):
    z = np.zeros(3)
    k = 2
    k, z[k] = 0, x[0] * alpha
    z[k], k = x[1] * alpha, 1
    z[k] = z[k] + x[2]
    return np.sum(z ** 3)
""",
    "from a tuple, nested, in a branch": """
def f(x, alpha):
    z = np.zeros(3)
    pair = (x[1], x[2] * alpha)
    if alpha > 0:
        (z[0], a), z[1] = pair, pair[1]
    else:
        z[0], z[1] = pair
        a = 1.0
    return np.sum(z ** 2) * a
""",
}


@pytest.mark.parametrize("source", list(UNPACKED_WRITES.values()), ids=list(UNPACKED_WRITES))
def test_writes_into_arrays_as_targets_of_an_unpacking(source):
    f = define(source)
    x = np.random.default_rng(5).normal(size=6)
    for alpha in (0.3, -0.2):
        overbar.check_grad(f, [x, alpha], wrt=(0, 1))
        value, tangent = overbar.jvp(f, (x, alpha), (np.ones(6), 0.5))
        assert value == pytest.approx(f(x, alpha))
        step = 1e-6
        ahead, behind = f(x + step, alpha + step / 2), f(x - step, alpha - step / 2)
        assert tangent == pytest.approx((ahead - behind) / (2 * step), rel=1e-5)


def test_a_write_into_an_argument_by_unpacking_is_refused_as_any_write():
    f = define("def f(x, y):\n    x[0], b = y, y\n    return np.sum(x) * b\n")
    with pytest.raises(UnsupportedSyntaxError, match="write into the argument x"):
        overbar.grad(f)(np.ones(3), 2.0)
