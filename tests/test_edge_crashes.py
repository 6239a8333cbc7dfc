"""Edges where an adjoint used to crash with NumPy's or SciPy's own error (the rule-edge
harness, ``tests/rule_edges.py``): each is now right, or refused with an ``OverbarError``
naming the call. Where NumPy gives a value, the gradient is that value's gradient."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

import overbar
from tests.support import define

# -- np.linalg.multi_dot of two arrays is np.dot, whatever their ranks ------------------------


@pytest.mark.parametrize(
    "shapes",
    [((2, 2, 3), (3, 4)), ((2, 3), (2, 3, 4)), ((2, 2, 3), (2, 3, 4)), ((3,), (2, 3, 4))],
    ids=str,
)
def test_multi_dot_of_two_arrays_with_more_axes_is_their_dot(shapes):
    f = define("""
def f(a, b, u):
    return np.sum(np.linalg.multi_dot([a, b]) * u)
""")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    u = rng.normal(size=np.dot(a, b).shape)
    overbar.check_grad(f, [a, b, u], wrt=(0, 1))
    a_bar, b_bar = overbar.grad(f, wrt=(0, 1))(a, b, u)
    assert a_bar.shape == a.shape and b_bar.shape == b.shape
    value, tangent = overbar.jvp(f, (a, b, u), (np.ones_like(a), np.zeros_like(b)), wrt=(0, 1))
    assert tangent == pytest.approx(np.sum(np.dot(np.ones_like(a), b) * u))


def test_multi_dot_of_three_arrays_keeps_its_matrices():
    f = define("""
def f(a, b, c):
    return np.sum(np.linalg.multi_dot([a, b, c]))
""")
    rng = np.random.default_rng(1)
    overbar.check_grad(f, [rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=(4, 2))])


# -- arrays with no elements: their adjoints have none -----------------------------------------

EMPTY = [
    ("np.linalg.norm(a, np.inf)", (0,)),
    ("np.linalg.norm(a, 1)", (3, 0)),
    ("np.linalg.norm(a, 2)", (0, 4)),
    ("np.linalg.norm(a, 2, (2, 0))", (3, 2, 0)),
    ("np.linalg.norm(a, ord=np.inf, axis=-1, keepdims=True)", (2, 0)),
    ("np.linalg.norm(a, 'nuc')", (0, 3)),
    ("np.linalg.vector_norm(a, axis=0, ord=3)", (3, 0)),
    ("np.linalg.vector_norm(a, axis=-1, keepdims=True, ord=np.inf)", (0, 3)),
    ("np.linalg.vector_norm(a, axis=(0, 2))", (2, 0, 2)),
    ("np.einsum('ii->i', a)", (0, 3)),
    ("np.einsum('ij,jk->ik', a, np.ones((3, 2)))", (0, 3)),
]


@pytest.mark.parametrize("expression, shape", EMPTY, ids=[e for e, _ in EMPTY])
def test_the_gradient_of_an_empty_array_is_empty(expression, shape):
    f = define(f"""
def f(a, w):
    return np.sum({expression} * w)
""")
    a = np.zeros(shape)
    w = np.ones(np.shape(eval(expression, {"np": np, "a": a})))  # noqa: S307
    gradient = overbar.grad(f)(a, w)
    assert gradient.shape == shape and gradient.dtype == np.float64
    literal = overbar.grad(f, optimise=False)(a, w)
    assert literal.shape == shape
    _, tangent = overbar.jvp(f, (a, w), (np.zeros(shape),), wrt=0)
    assert tangent == 0.0


def test_the_norm_of_a_vector_is_unchanged_beside_the_empty_case():
    f = define("""
def f(a):
    return np.linalg.norm(a, np.inf) + np.linalg.vector_norm(a, ord=3)
""")
    overbar.check_grad(f, [np.array([0.5, -2.0, 1.0])])


@pytest.mark.parametrize(
    "expression, shapes",
    [
        ("signal.convolve(a, b, mode='same')", ((0,), (3,))),
        ("signal.convolve(a, b, mode='same')", ((4, 0), (2, 2))),
        ("signal.convolve(a, b, mode='valid')", ((4, 3), (0, 2))),
        ("signal.convolve(a, b, mode='valid')", ((2, 3, 4), (2, 2, 0))),
    ],
    ids=str,
)
def test_a_convolution_with_an_empty_operand_is_zero_and_so_are_its_adjoints(expression, shapes):
    f = define(f"""
def f(a, b):
    return np.sum({expression} ** 2 + 1.0)
""")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    a_bar, b_bar = overbar.grad(f, wrt=(0, 1))(a, b)
    assert a_bar.shape == a.shape and b_bar.shape == b.shape
    assert not np.any(a_bar) and not np.any(b_bar)
    _, tangent = overbar.jvp(f, (a, b), (np.ones_like(a), np.ones_like(b)), wrt=(0, 1))
    assert tangent == 0.0
    product = overbar.hvp(f, (a, b), (np.ones_like(a), np.ones_like(b)), wrt=(0, 1))
    assert not any(np.any(p) for p in product)


def test_a_convolution_of_operands_with_elements_is_unchanged():
    f = define("""
def f(a, b):
    return np.sum(signal.convolve(a, b, mode='same') ** 2)
""")
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(2, 2))]
    overbar.check_grad(f, args, wrt=(0, 1))
    vectors = (rng.normal(size=(4, 3)), rng.normal(size=(2, 2)))
    product = overbar.hvp(f, tuple(args), vectors, wrt=(0, 1))
    gradient = overbar.grad(f, wrt=(0, 1))
    eps = 1e-6
    ahead = gradient(*(x + eps * v for x, v in zip(args, vectors, strict=True)))
    behind = gradient(*(x - eps * v for x, v in zip(args, vectors, strict=True)))
    for p, up, down in zip(product, ahead, behind, strict=True):
        np.testing.assert_allclose(p, (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_interp_at_no_points_gives_float_gradients():
    f = define("""
def f(x, xp, fp):
    return np.sum(np.interp(x, xp, fp))
""")
    x, xp, fp = np.zeros(0), np.array([-0.2, 0.1, 0.5]), np.array([1.0, 2.0, 0.5])
    x_bar, xp_bar, fp_bar = overbar.grad(f, wrt=(0, 1, 2))(x, xp, fp)
    assert x_bar.shape == (0,) and xp_bar.dtype == fp_bar.dtype == np.float64
    assert not np.any(xp_bar) and not np.any(fp_bar)


# -- SciPy reads leading axes as a batch; the rules are for one matrix: refused ----------------

BATCHES = [
    ("linalg.expm(a)", lambda rng: [rng.normal(size=(2, 3, 3)) * 0.3]),
    (
        "linalg.solve_sylvester(a, b, c)",
        lambda rng: [
            np.eye(3) * 3 + rng.normal(size=(3, 3)) * 0.1,
            np.eye(3) * 2,
            rng.normal(size=(2, 3, 3)),
        ],
    ),
    (
        "linalg.cho_factor(a @ np.swapaxes(a, -1, -2) + np.eye(2), True)[0]",
        lambda rng: [rng.normal(size=(2, 2, 2))],
    ),
    (
        "linalg.cho_solve((a, True), b)",
        lambda rng: [np.tril(rng.normal(size=(3, 3))) + 3 * np.eye(3), rng.normal(size=(2, 3, 2))],
    ),
    (
        "linalg.solve_banded((1, 1), a + np.array([[0.0], [3.0], [0.0]]), b)",
        lambda rng: [rng.normal(size=(2, 3, 5)) * 0.3, rng.normal(size=5)],
    ),
]


@pytest.mark.parametrize("expression, inputs", BATCHES, ids=[e for e, _ in BATCHES])
def test_a_batch_scipy_reads_is_refused_naming_the_call(expression, inputs):
    names = "abc"[: len(inputs(np.random.default_rng(0)))]
    f = define(f"""
def f({", ".join(names)}):
    return np.sum(np.sin({expression}))
""")
    args = inputs(np.random.default_rng(4))
    f(*args)  # SciPy gives a value: a batch of them
    function = "scipy.linalg." + expression.split("(")[0].split(".")[1]
    with pytest.raises(overbar.OverbarError, match=f"{function} of a batch"):
        overbar.grad(f)(*args)
    with pytest.raises(overbar.OverbarError, match=f"{function} of a batch"):
        overbar.grad(f, optimise=False)(*args)
    with pytest.raises(overbar.OverbarError, match=f"{function} of a batch"):
        overbar.jvp(f, args, (np.ones_like(args[0]),), wrt=0)


@pytest.mark.parametrize("expression, inputs", BATCHES, ids=[e for e, _ in BATCHES])
def test_one_matrix_of_the_batch_is_differentiated(expression, inputs):
    """The same call on the first matrix of the batch: right, and no refusal."""
    args = [x[0] if np.ndim(x) == 3 else x for x in inputs(np.random.default_rng(4))]
    names = "abc"[: len(args)]
    f = define(f"""
def f({", ".join(names)}):
    return np.sum(np.sin({expression}))
""")
    overbar.check_grad(f, args, wrt=tuple(range(len(args))))
    direction = np.random.default_rng(5).normal(size=np.shape(args[0]))
    _, tangent = overbar.jvp(f, args, (direction,), wrt=0)
    eps = 1e-6
    numeric = (
        f(args[0] + eps * direction, *args[1:]) - f(args[0] - eps * direction, *args[1:])
    ) / (2 * eps)
    assert tangent == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_a_batch_refusal_names_the_shapes():
    assert linalg.expm(np.zeros((2, 3, 3))).shape == (2, 3, 3)
    f = define("""
def f(a):
    return np.sum(linalg.expm(a))
""")
    with pytest.raises(overbar.OverbarError, match=r"shapes \(2, 3, 3\)"):
        overbar.grad(f)(np.zeros((2, 3, 3)))
