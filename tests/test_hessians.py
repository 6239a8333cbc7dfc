"""Second derivatives: grad(grad(f)), overbar.hvp and overbar.hessian, and the adjoint rules of
the runtime helpers that generated adjoints call (what lets overbar differentiate its own
output). Each against central differences of the gradient; Hessians symmetric.
"""

from __future__ import annotations

import copy
import zlib

import numpy as np
import pytest

import overbar
from overbar.errors import (
    ArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    UnsupportedSyntaxError,
)
from overbar.hessians import hvp_source
from overbar.runtime import helpers, helpers_math, helpers_ufuncs
from overbar.runtime.shapes import argument_shape
from overbar.transpiler.optimisations import Optimisations
from overbar.runtime.registry import RULES
from tests.support import define
from tests.test_examples import load_example

RNG = np.random.default_rng(2)

# -- the helpers' rules ---------------------------------------------------------------------------

HELPERS = {
    name: getattr(helpers, name)
    for name in (
        "unbroadcast",
        "broadcast_like",
        "adjoint_like",
        "as_floating",
        "expand_reduced",
        "matmul_left_bar",
        "matmul_right_bar",
        "index_bar",
        "in_order",
    )
}
HELPERS["widened"] = helpers_ufuncs.widened

# (expression, {name: shape}); () is a Python float
HELPER_SAMPLES = [
    ("as_floating(g)", {"g": (2, 3)}),
    ("as_floating(g)", {"g": ()}),
    ("unbroadcast(g, x)", {"g": (2, 3), "x": (3,)}),
    ("unbroadcast(g, x)", {"g": (2, 3), "x": (2, 1)}),
    ("unbroadcast(g, x)", {"g": (4,), "x": ()}),
    ("unbroadcast(g, x)", {"g": (3,), "x": (3,)}),
    ("broadcast_like(g, x)", {"g": (3,), "x": (2, 3)}),
    ("broadcast_like(g, x)", {"g": (), "x": (2, 2)}),
    ("broadcast_like(g, x)", {"g": (2, 1), "x": (2, 3)}),
    ("broadcast_like(g, x)", {"g": (), "x": (70, 70)}),
    ("adjoint_like(g, x)", {"g": (3,), "x": (3,)}),
    ("adjoint_like(g, x)", {"g": (), "x": (2, 3)}),
    ("expand_reduced(g, x, axis=0)", {"g": (3,), "x": (2, 3)}),
    ("expand_reduced(g, x, axis=1, keepdims=True)", {"g": (2, 1), "x": (2, 3)}),
    ("expand_reduced(g, x)", {"g": (), "x": (2, 3)}),
    ("expand_reduced(g, x, axis=(0, 2))", {"g": (3,), "x": (2, 3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (4,), "x": (3,), "y": (3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (2,), "x": (2, 3), "y": (3,)}),
    ("matmul_left_bar(z, x, y)", {"z": (), "x": (3,), "y": (3,)}),
    ("matmul_left_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 2, 3), "y": (3, 4)}),
    ("matmul_left_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 3), "y": (2, 3, 4)}),
    ("matmul_right_bar(z, x, y)", {"z": (2, 4), "x": (2, 3), "y": (3, 4)}),
    ("matmul_right_bar(z, x, y)", {"z": (4,), "x": (3,), "y": (3, 4)}),
    ("matmul_right_bar(z, x, y)", {"z": (2,), "x": (2, 3), "y": (3,)}),
    ("matmul_right_bar(z, x, y)", {"z": (), "x": (3,), "y": (3,)}),
    ("matmul_right_bar(z, x, y)", {"z": (2, 2, 4), "x": (2, 2, 3), "y": (3, 4)}),
    ("index_bar(g, x, 2)", {"g": (), "x": (4,)}),
    ("index_bar(g, x, (slice(None), 1))", {"g": (3,), "x": (3, 4)}),
    ("index_bar(g, x, np.array([0, 2, 0]))", {"g": (3,), "x": (4,)}),
    ("in_order(g)", {"g": (2, 3)}),
    ("widened(x, y)", {"x": (2,), "y": (3,)}),
    ("widened(x, y)", {"x": (2, 3), "y": ()}),
]


def _draw(shape, rng):
    return float(rng.uniform(-1, 1)) if shape == () else rng.uniform(-1, 1, size=shape)


@pytest.mark.parametrize("expression, shapes", HELPER_SAMPLES, ids=lambda v: str(v))
def test_helper_rule_against_finite_differences(expression, shapes):
    """f(args..., u) = Σ helper(args...) ∘ u, differentiated with respect to every argument
    (those read for their shape only get zeros), against central differences."""
    rng = np.random.default_rng(zlib.crc32(f"{expression}{shapes}".encode()))
    names = list(shapes)
    args = [_draw(shapes[n], rng) for n in names]
    value = eval(expression, {**HELPERS, "np": np}, dict(zip(names, args, strict=True)))
    u = rng.standard_normal(np.shape(value))
    source = f"def f({', '.join(names)}, u):\n    return np.sum(({expression}) * u)\n"
    f = define(source, namespace=HELPERS)
    gradients = overbar.grad(f, wrt=tuple(range(len(names))))(*args, u)
    gradients = tuple(gradients)  # wrt is a tuple: a tuple of gradients, one or more
    for index, gradient in enumerate(gradients):
        assert np.shape(gradient) == np.shape(args[index])
        direction = rng.standard_normal(np.shape(args[index]))

        def at(step, index=index, direction=direction):
            moved = list(args)
            shifted = np.asarray(args[index]) + step * direction
            moved[index] = float(shifted) if shapes[names[index]] == () else shifted
            return f(*moved, u)

        numeric = (at(1e-6) - at(-1e-6)) / 2e-6
        assert float(np.sum(gradient * direction)) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


# Helpers on the adjoints of containers of parameters (tuples and lists of arrays and numbers):
# f(a, b, c, u, v) = Σ helper(...)[0] ∘ u + Σ helper(...)[1] ∘ v, with a, b, c arrays or numbers.
CONTAINER_SAMPLES = [
    ("add_elementwise((a, b), (c, 0.0))", {"a": (3,), "b": (), "c": (3,)}),
    ("add_elementwise((a, 0.0), (b, c))", {"a": (2, 3), "b": (2, 3), "c": (4,)}),
    ("structured_like((a, b), (c, c))", {"a": (3,), "b": (3,), "c": (3,)}),
    ("structured_like([a, 0.0], (c, b))", {"a": (), "b": (2,), "c": ()}),
    ("structured_like((a, b), (c, np.ones((2, 3))))", {"a": (), "b": (2, 3), "c": ()}),
    ("elements_like((a, b), (c, c))", {"a": (3,), "b": (), "c": (3,)}),
    ("elements_like((a, 0.0), (c, b))", {"a": (2, 1), "b": (4,), "c": (2, 3)}),
    ("elements_like([a, b], [c, b])", {"a": (), "b": (), "c": ()}),
    ("sequence_bar((a, b), c)", {"a": (3,), "b": (1,), "c": (2, 3)}),
    ("sequence_bar((a, b), (c, c))", {"a": (3,), "b": (), "c": (3,)}),
    ("structured_like_bar((a, b), (c, b))", {"a": (2, 3), "b": (), "c": (3,)}),
    ("structured_like_bar((a, b), (c, 0.0))", {"a": (2,), "b": (2, 2), "c": (2,)}),
    ("structured_like_bar([a, b], (c, d))", {"a": (), "b": (), "c": (), "d": ()}),
    (
        "elements_like_bar((a, b), (c, d), (e, e))",
        {"a": (3,), "b": (3,), "c": (), "d": (3,), "e": (3,)},
    ),
    ("elements_like_bar((a, b), c, (d, d))", {"a": (3,), "b": (3,), "c": (2, 3), "d": (3,)}),
    ("elements_like(c, (d, d))", {"c": (2, 1), "d": (3,)}),
    ("sequence_bar_bar((a, b), c, (d, d))", {"a": (3,), "b": (3,), "c": (2, 3), "d": (3,)}),
    ("structured_like_bar(c, (d, b))", {"b": (), "c": (2, 3), "d": (3,)}),
    (
        "structured_like_bar_bar((a, b), c, (d, d))",
        {"a": (3,), "b": (3,), "c": (2, 3), "d": (3,)},
    ),
    ("sequence_bar_bar(a, (b, c), a)", {"a": (2, 3), "b": (3,), "c": ()}),
    ("sequence_bar_bar((a, b), (c, d), (c, d))", {"a": (3,), "b": (), "c": (3,), "d": ()}),
    (
        "structured_like_bar_bar((a, b), (c, d), (e, d))",
        {"a": (3,), "b": (), "c": (2, 3), "d": (), "e": (3,)},
    ),
]


@pytest.mark.parametrize("expression, shapes", CONTAINER_SAMPLES, ids=lambda v: str(v))
def test_container_helper_rule_against_finite_differences(expression, shapes):
    rng = np.random.default_rng(zlib.crc32(f"{expression}{shapes}".encode()))
    names = list(shapes)
    args = [_draw(shapes[n], rng) for n in names]
    value = eval(expression, {**CONTAINER_HELPERS, "np": np}, dict(zip(names, args, strict=True)))
    u, v = (rng.standard_normal(np.shape(part)) for part in value)
    source = (
        f"def f({', '.join(names)}, u, v):\n    out = {expression}\n"
        "    return np.sum(out[0] * u) + np.sum(out[1] * v)\n"
    )
    f = define(source, namespace=CONTAINER_HELPERS)
    gradients = overbar.grad(f, wrt=tuple(range(len(names))))(*args, u, v)
    for index, gradient in enumerate(gradients):
        assert np.shape(gradient) == np.shape(args[index])
        direction = rng.standard_normal(np.shape(args[index]))

        def at(step, index=index, direction=direction):
            moved = list(args)
            shifted = np.asarray(args[index]) + step * direction
            moved[index] = float(shifted) if shapes[names[index]] == () else shifted
            return f(*moved, u, v)

        numeric = (at(1e-6) - at(-1e-6)) / 2e-6
        assert float(np.sum(gradient * direction)) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


CONTAINER_HELPERS = {
    "add_elementwise": helpers.add_elementwise,
    "structured_like": helpers.structured_like,
    "elements_like": helpers.elements_like,
    "elements_like_bar": helpers.elements_like_bar,
    "sequence_bar": helpers_math.sequence_bar,
    "sequence_bar_bar": helpers_math.sequence_bar_bar,
    "structured_like_bar": helpers.structured_like_bar,
    "structured_like_bar_bar": helpers.structured_like_bar_bar,
}


def test_every_helper_rule_has_samples():
    sampled = {expression.split("(")[0] for expression, _ in HELPER_SAMPLES + CONTAINER_SAMPLES}
    ruled = {
        rules[0].primal.__name__
        for rules in RULES.rules.values()
        if rules[0].function.__module__ == "overbar.runtime.rules_helpers"
    }
    assert ruled and ruled <= sampled, f"helper rules without samples: {ruled - sampled}"


# -- grad(grad(f)) --------------------------------------------------------------------------------


def _second_difference(f, x, eps=1e-4):
    gradient = overbar.grad(f)
    return (gradient(x + eps) - gradient(x - eps)) / (2 * eps)


@pytest.mark.parametrize(
    "source",
    [
        "def f(x):\n    return np.sin(x) * x ** 3\n",
        "def f(x):\n    return np.exp(-x * x) / (1.0 + x * x)\n",
        "def f(x):\n    y = np.tanh(x)\n    return np.log(1.0 + y * y) * x\n",
        "def f(x):\n    if x > 0.1:\n        return x ** 3\n    return np.exp(x)\n",
        "def f(x):\n    return np.sum(np.linspace(0.0, 1.0, 4) * x) ** 2 * np.cos(x)\n",
    ],
    ids=["product", "quotient", "chain", "branch", "array"],
)
@pytest.mark.parametrize("x", [0.3, -0.7, 1.4])
def test_grad_of_grad(source, x):
    f = define(source)
    second = overbar.grad(overbar.grad(f))
    assert second(x) == pytest.approx(_second_difference(f, x), rel=1e-6, abs=1e-8)


def test_grad_of_grad_of_grad():
    f = define("def f(x):\n    return np.sin(x) * x ** 3\n")
    third = overbar.grad(overbar.grad(overbar.grad(f)))
    second = overbar.grad(overbar.grad(f))
    x, eps = 0.4, 1e-4
    numeric = (second(x + eps) - second(x - eps)) / (2 * eps)
    assert third(x) == pytest.approx(numeric, rel=1e-6)


def test_grad_of_grad_through_a_helper():
    f = define("""
        def layer(x, a):
            return np.tanh(x * a) * x

        def f(x):
            return layer(x, 2.0) * layer(x, 0.5)
        """)
    second = overbar.grad(overbar.grad(f))
    for x in (0.2, -0.9):
        assert second(x) == pytest.approx(_second_difference(f, x), rel=1e-6)


def test_grad_of_grad_of_a_vector_function_points_at_hessian():
    f = define("def f(x):\n    return np.sum(x ** 3)\n")
    with pytest.raises(NonScalarOutputError, match="scalar"):
        overbar.grad(overbar.grad(f))(np.ones(3))


def test_grad_of_grad_through_a_loop_by_forward_over_reverse():
    """Reverse over reverse cannot differentiate a loop's reverse sweep (its stack's pops);
    grad(grad(f)) of a function of a number then runs forward over reverse (hvp)."""
    f = define("""
        def f(x):
            for _ in range(5):
                x = x - 0.1 * (x ** 3 - 2 * x)
            return x
        """)
    second = overbar.grad(overbar.grad(f))
    for x in (0.7, -0.3):
        assert second(x) == pytest.approx(_second_difference(f, x), rel=1e-6)
    value, slope = overbar.value_and_grad(overbar.grad(f))(0.7)
    assert value == pytest.approx(overbar.grad(f)(0.7), rel=1e-12)
    assert slope == pytest.approx(_second_difference(f, 0.7), rel=1e-6)


def test_mixed_second_derivatives_through_a_loop():
    f = define("""
        def f(x, a):
            for _ in range(4):
                x = x - a * np.sin(x) * a
            return x
        """)
    inner = overbar.grad(f, wrt="x")
    eps = 1e-5
    by_x = (inner(0.7 + eps, 0.3) - inner(0.7 - eps, 0.3)) / (2 * eps)
    by_a = (inner(0.7, 0.3 + eps) - inner(0.7, 0.3 - eps)) / (2 * eps)
    d_x, d_a = overbar.grad(inner, wrt=("x", "a"))(0.7, 0.3)
    assert (d_x, d_a) == pytest.approx((by_x, by_a), rel=1e-6)
    (alone,) = overbar.grad(inner, wrt=("a",))(0.7, 0.3)
    assert alone == pytest.approx(by_a, rel=1e-6)


def test_grad_of_a_loops_adjoint_elsewhere_is_forward_over_reverse():
    """An adjoint's loop differentiated in reverse outside grad(grad(f)) of a number (here an
    inner gradient with respect to an array, summed): its pullback is the Hessian-vector
    product, ∇ Σ ∇f = H 1."""
    f = define("""
        def f(x):
            for _ in range(3):
                x = np.sin(x) * x
            return np.sum(x)
        """)
    g = overbar.grad(f)
    outer = define("def h(x):\n    return np.sum(g(x))\n", "h", namespace={"g": g})
    x = np.array([0.3, 0.5])
    expected = overbar.hvp(f, (x,), np.ones(2))
    np.testing.assert_allclose(overbar.grad(outer)(x), expected, rtol=1e-12)
    overbar.check_grad(outer, [x])
    assert "f_hvp(x, result_bar=" in overbar.grad(outer).source_for(x)


def test_grad_of_value_and_grad_is_refused():
    f = define("def f(x):\n    return x ** 3\n")
    with pytest.raises(ArgumentError, match="value with the gradient"):
        overbar.grad(overbar.value_and_grad(f))


# -- hvp and hessian ------------------------------------------------------------------------------


def check_hvp(f, args, wrt, eps=1e-6, rtol=1e-6, atol=1e-8, optimise=True):
    """hvp at random vectors against central differences of overbar's gradient."""
    names = wrt if isinstance(wrt, tuple) else (wrt,)
    vectors = tuple(RNG.standard_normal(np.shape(args[k])) for k in names)
    given = vectors if isinstance(wrt, tuple) else vectors[0]
    before = copy.deepcopy(args)
    products = overbar.hvp(f, tuple(args), given, wrt=wrt, optimise=optimise)
    products = products if isinstance(wrt, tuple) else (products,)
    for left, right in zip(before, args, strict=True):
        np.testing.assert_array_equal(left, right)
    gradient = overbar.grad(f, wrt=names)

    def at(step):
        moved = list(args)
        for k, v in zip(names, vectors, strict=True):
            moved[k] = np.asarray(args[k]) + step * v
            moved[k] = moved[k] if isinstance(args[k], np.ndarray) else float(moved[k])
        return gradient(*moved)

    plus, minus = at(eps), at(-eps)
    for product, p, m, k in zip(products, plus, minus, names, strict=True):
        assert np.shape(product) == np.shape(args[k])
        np.testing.assert_allclose(product, (p - m) / (2 * eps), rtol=rtol, atol=atol)


def check_hessian(f, args, wrt, optimise=True):
    """hessian against central differences of the gradient, symmetric, and shaped
    x_i.shape + x_j.shape."""
    names = wrt if isinstance(wrt, tuple) else (wrt,)
    blocks = overbar.hessian(f, wrt=wrt, optimise=optimise)(*args)
    blocks = blocks if isinstance(wrt, tuple) else ((blocks,),)
    for i, k in enumerate(names):
        for j, m in enumerate(names):
            block = blocks[i][j]
            assert block.shape == np.shape(args[k]) + np.shape(args[m])
            mirror = blocks[j][i]
            ndim = np.ndim(args[m])
            axes = tuple(range(ndim, block.ndim)) + tuple(range(ndim))
            np.testing.assert_allclose(block, np.transpose(mirror, axes), rtol=1e-9, atol=1e-12)
    gradient = overbar.grad(f, wrt=names)
    eps = 1e-6
    for j, m in enumerate(names):
        for index in np.ndindex(np.shape(args[m])):
            moved_plus, moved_minus = list(args), list(args)
            step = np.zeros(np.shape(args[m]))
            step[index] = eps
            moved_plus[m] = args[m] + step
            moved_minus[m] = args[m] - step
            if not isinstance(args[m], np.ndarray):
                moved_plus[m], moved_minus[m] = float(moved_plus[m]), float(moved_minus[m])
            columns = [
                (p - q) / (2 * eps)
                for p, q in zip(gradient(*moved_plus), gradient(*moved_minus), strict=True)
            ]
            for i in range(len(names)):
                got = blocks[i][j][(Ellipsis, *index)] if index else blocks[i][j]
                np.testing.assert_allclose(got, columns[i], rtol=1e-6, atol=1e-7)


def test_hvp_and_hessian_of_the_mlp_example():
    mlp = load_example("mlp")
    W1, b1, W2, b2 = mlp.init(n_hidden=4)
    x, t = mlp.make_task(batch=5)
    args = [W1, b1, W2, b2, x, t]
    check_hvp(mlp.loss, args, (0, 1, 2, 3))
    check_hvp(mlp.loss, args, 0)
    check_hessian(mlp.loss, args, (1, 2, 3))


@pytest.mark.parametrize(
    "shapes", [((3,), ()), ((2, 3), (3,)), ((2, 3), (2, 1))], ids=["vector", "row", "column"]
)
def test_broadcasting(shapes):
    f = define(
        "def f(a, b):\n    return np.sum(np.tanh(a * b + b) ** 2) + np.sum(a) * np.sum(b)\n"
    )
    a = RNG.standard_normal(shapes[0])
    b = RNG.standard_normal(shapes[1]) if shapes[1] else 0.4
    check_hvp(f, [a, b], (0, 1))
    check_hessian(f, [a, b], (0, 1))


def test_hessian_of_a_quadratic_form_is_its_symmetric_part():
    f = define("def f(x, A):\n    return x @ A @ x\n")
    A, x = RNG.standard_normal((4, 4)), RNG.standard_normal(4)
    np.testing.assert_allclose(overbar.hessian(f)(x, A), A + A.T)
    np.testing.assert_allclose(overbar.hvp(f, (x, A), np.ones(4)), (A + A.T) @ np.ones(4))


@pytest.mark.parametrize("ufunc", ["subtract", "divide"])
def test_hessian_through_a_ufunc_reduce_that_treats_its_first_element_apart(ufunc):
    # the adjoint calls single_axis and first_along (an axis, a mask): no gradient, so the
    # second derivative passes them (fuzz seed 144 refused 75 of 1000 programs there)
    f = define(f"def f(x):\n    return np.sin(np.{ufunc}.reduce(x)) * np.sum(x * x)\n")
    x = np.array([1.3, 0.7, 1.1, 0.9])
    check_hvp(f, [x], (0,))
    check_hessian(f, [x], (0,))


def test_branches_and_helpers():
    f = define("""
        def energy(x, k):
            return 0.5 * k * np.sum(x * x)

        def f(x, W):
            h = np.tanh(W @ x)
            if np.sum(h) > 0.0:
                e = energy(h, 2.0)
            else:
                e = energy(h, 3.0) + np.sum(np.exp(h))
            return e + np.sum(np.log(1.0 + x * x))
        """)
    W = RNG.standard_normal((3, 3))
    for x in (np.array([0.5, 0.3, 0.9]), np.array([-0.5, -0.3, -0.9])):
        check_hvp(f, [x, W], (0, 1))
        check_hessian(f, [x, W], 0)


def test_single_name_in_a_tuple():
    f = define("def f(x):\n    return np.sum(np.sin(x) * x)\n")
    x = RNG.standard_normal(3)
    ((block,),) = overbar.hessian(f, wrt=("x",))(x)
    np.testing.assert_allclose(block, overbar.hessian(f)(x))
    (product,) = overbar.hvp(f, (x,), (np.ones(3),), wrt=("x",))
    np.testing.assert_allclose(product, block @ np.ones(3))


def test_wrong_vectors_are_refused():
    f = define("def f(x, y):\n    return np.sum(x * y)\n")
    x, y = np.ones(3), np.ones(2)
    with pytest.raises(ArgumentError, match=r"vector for x has shape \(2,\)"):
        overbar.hvp(f, (x, y), np.ones(2))
    with pytest.raises(ArgumentError, match="tuple of 2"):
        overbar.hvp(f, (x, y), np.ones(3), wrt=(0, 1))


# -- through loops, branches, writes, lists and helpers (forward over reverse) --------------------

LOOPS = {
    "for over range": """
        def f(x, W):
            h = x
            for i in range(3):
                h = np.tanh(W @ h) * x
            return np.sum(h * h)
        """,
    "while": """
        def f(x, W):
            h = x
            k = 0
            while k < 3:
                h = np.sin(W @ h) + x[0]
                k = k + 1
            return np.sum(h ** 3)
        """,
    "list grown in a loop": """
        def f(x, W):
            hs = []
            h = x
            for i in range(3):
                h = np.tanh(W @ h + x)
                hs.append(h)
            return np.sum(hs[0] * hs[2]) + np.sum(np.stack(hs) ** 2)
        """,
    "branch in a loop": """
        def f(x, W):
            h = x
            for i in range(4):
                z = W @ h
                if np.sum(z) > 0.0:
                    h = np.tanh(z) * x
                else:
                    h = z * z + x
            return np.sum(h ** 2)
        """,
    "writes into an array": """
        def f(x, W):
            y = np.zeros(3)
            for i in range(3):
                y[i] = np.sum(W[i] * x) ** 2
            z = np.zeros((2, 3))
            z[0] = np.sin(x)
            z[1, 1:] = x[:2] * y[1:]
            return np.sum(y * x) + np.sum(z ** 2)
        """,
    "helper called in a loop": """
        def cell(h, W, x):
            return np.tanh(W @ h + x) * np.exp(-x * x)

        def f(x, W):
            h = x
            for i in range(3):
                h = cell(h, W, x)
                if i == 1:
                    h = cell(h, W * 0.5, x)
            return np.sum(h ** 2) + np.sum(x ** 4)
        """,
    "a list's last element read in a loop": """
        def f(x, W):
            hs = [np.asarray(x)]
            for i in range(2):
                hs.append(np.sin(hs[-1]) * -x)
            v = np.concatenate(hs)
            return np.sum(v**3) + np.sum(np.tanh(W @ x))
        """,
    "nested loops": """
        def f(x, W):
            h = x
            for i in range(2):
                for j in range(2):
                    h = np.sin(W @ h) * x[j]
                h = h + np.tanh(h)
            return np.sum(h**2)
        """,
    "reads of one element in a loop": """
        def f(x, W):
            s = 0.0
            for i in range(3):
                s = s + np.sin(x[i] * W[i, i]) * x[0]
            return s * s
        """,
}


@pytest.mark.parametrize("name", list(LOOPS), ids=list(LOOPS))
@pytest.mark.parametrize("optimise", [True, False], ids=["optimised", "literal"])
def test_hvp_and_hessian_through_loops(name, optimise):
    """Loops, branches, lists, writes and helpers: the adjoint pops a stack, which the jvp of
    the adjoint mirrors; against central differences of the gradient, Hessians symmetric."""
    f = define(LOOPS[name])
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x, W = rng.uniform(-0.8, 0.8, 3), rng.uniform(-0.6, 0.6, (3, 3))
    check_hvp(f, [x, W], (0, 1), optimise=optimise)
    check_hvp(f, [x, W], 0, optimise=optimise)
    check_hessian(f, [x, W], (0, 1), optimise=optimise)


def test_hvp_source_carries_a_stack_of_tangents():
    """What runs reads like the derivation: the tangent of each pushed value pushed beside
    it and popped with it."""
    f = define(LOOPS["for over range"])
    shapes = (("x", argument_shape(np.ones(3))), ("W", argument_shape(np.eye(3))))
    source = hvp_source(f, ("x", "W"), shapes, Optimisations())
    assert "def f_grad_jvp(x, W, x_dot, W_dot):" in source
    assert "stack_dot.append(h_dot)" in source
    assert "h_dot = stack_dot.pop()" in source


def test_rnn_example_hvp_and_hessian():
    rnn = load_example("rnn")
    W, U, b, V = rnn.init(hidden=3)
    xs, targets = rnn.make_sequence(steps=5)
    args = [W, U, b, V, xs, targets]
    check_hvp(rnn.loss, args, (0, 1, 2, 3))
    check_hessian(rnn.loss, args, (1, 2))


def test_a_runtime_helper_without_a_tangent_rule_is_named(monkeypatch):
    """Every helper generated adjoints call has a tangent rule now: one is taken out of the
    table for this test, and the HVP that needs it is refused, naming it and the line."""
    from overbar.runtime.helpers import prod_bar
    from overbar.runtime.registry import RULES, _key

    monkeypatch.delitem(RULES.tangents, _key(prod_bar))
    f = define("def f(x):\n    return np.sum(np.prod(x, axis=0) ** 2) + 0.125\n")
    with pytest.raises(MissingRuleError, match="prod_bar is one of overbar's runtime"):
        overbar.hvp(f, (RNG.standard_normal((3, 2)),), np.ones((3, 2)))
    with pytest.raises(MissingRuleError, match="adjoint overbar generated for f"):
        overbar.hessian(f)(RNG.standard_normal((3, 2)))


@pytest.mark.parametrize(
    "body, shape",
    [
        ("np.sum(np.prod(x, axis=0) ** 2)", (3, 2)),  # prod_bar
        ("np.sum(np.cumprod(x, axis=1) ** 2)", (2, 3)),  # cumprod_bar
        ("np.linalg.norm(x[0], 3) + np.linalg.norm(x, 'nuc')", (3, 2)),  # norm_bar
        ("np.sum(np.einsum('ij,jk->ik', x, x.T) ** 2)", (2, 3)),  # einsum_bars
        ("np.sum(np.linalg.eigvalsh(x @ x.T) ** 3)", (3, 3)),  # eigvalsh_bar
        ("np.sum(np.linalg.svd(x, full_matrices=False)[0] ** 3)", (3, 2)),  # svd_bar
        ("np.sum(np.linalg.matrix_power(x, 3) ** 2)", (3, 3)),  # matrix_power_bar
    ],
)
def test_hvp_through_helpers_that_read_the_values(body, shape):
    """Helpers whose adjoints are nonlinear in the values they read (a product's adjoint reads
    the other factors): the HVP against central differences of the gradient, with a zero
    element where a product's adjoint must not divide by it."""
    f = define(f"def f(x):\n    return {body}\n")
    x = RNG.standard_normal(shape)
    if "prod" in body:
        x[1, 0] = 0.0
    check_hvp(f, [x], 0)


def test_the_literal_hvp_agrees_with_the_optimised_one():
    mlp = load_example("mlp")
    args = (*mlp.init(n_hidden=4), *mlp.make_task(batch=5))
    vectors = tuple(RNG.standard_normal(np.shape(a)) for a in args[:4])
    optimised = overbar.hvp(mlp.loss, args, vectors, wrt=(0, 1, 2, 3))
    literal = overbar.hvp(mlp.loss, args, vectors, wrt=(0, 1, 2, 3), optimise=False)
    for one, other in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(one, other, rtol=1e-10, atol=1e-12)


def test_the_jacobian_of_a_gradient_is_the_hessian():
    f = define("def f(x, W):\n    return np.sum(np.tanh(W @ x) ** 2)\n")
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    from_gradient = overbar.jacobian(overbar.grad(f))(x, W)
    np.testing.assert_allclose(from_gradient, overbar.hessian(f)(x, W), rtol=1e-12)
    value, pullback = overbar.vjp(overbar.grad(f), x, W)
    np.testing.assert_allclose(value, overbar.grad(f)(x, W))
    np.testing.assert_allclose(pullback(np.ones(3)), from_gradient @ np.ones(3), rtol=1e-12)


def test_hvp_through_a_reverse_loop_that_updates_an_aliased_adjoint_in_place():
    """The reverse loop of a stepper updates its state's adjoint in place through a second
    name (``s_new_bar = s_bar; s_new_bar[:-2] += ...``); with a linear loss ``s_bar`` does not
    vary with the direction, but the writes through its alias do. Forward over reverse carried
    no tangent for it: the HVP was silently zero (fuzzer seed 121, program 217)."""
    f = define("""
        def f(x, c, n):
            s = x * 1.0
            for _ in range(n):
                s_new = s.copy()
                s_new[1:-1] = s[1:-1] + 0.25 * np.tanh(1 / c) * (s[2:] - 2.0 * s[1:-1] + s[:-2])
                s = s_new
            return np.sum(s)
        """)
    x, c = np.array([-0.356, 0.996, -1.289, 0.4]), 1.528
    for direction in ([np.zeros(4), 1.0], [np.array([1.0, -0.5, 0.25, 2.0]), 0.5]):
        found = overbar.hvp(f, [x, c, 3], direction, wrt=(0, 1))
        g = overbar.grad(f, wrt=(0, 1))
        eps = 1e-6
        ahead = g(x + eps * direction[0], c + eps * direction[1], 3)
        behind = g(x - eps * direction[0], c - eps * direction[1], 3)
        for value, plus, minus in zip(found, ahead, behind, strict=True):
            np.testing.assert_allclose(value, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_hvp_through_a_differentiated_fill():
    """np.full and np.full_like of a differentiated value: the adjoint checks the array holds
    floats (``of_float_result``), which forward mode differentiates as the value it passes on
    (it refused the HVP: fuzzer seed 138, program 21)."""
    f = define("""
        def f(s, x):
            return np.full((2,), s**3).mean() + np.sum(np.full_like(x, s) * x**2)
        """)
    s, x = 0.7, np.array([0.5, -1.0, 2.0])
    found = overbar.hvp(f, [s, x], [1.0, np.zeros(3)], wrt=(0, 1))
    # ∂²f/∂s² = 6s, ∂²f/∂x∂s = 2x
    np.testing.assert_allclose(found[0], 6 * s, rtol=1e-12)
    np.testing.assert_allclose(found[1], 2 * x, rtol=1e-12)
