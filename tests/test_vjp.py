"""overbar.vjp and overbar.jacobian: pullbacks of functions whose results are not scalars.

Every pullback is checked against central differences by the dot-product identity
``⟨J_fᵀ ȳ, v⟩ = d/dt ⟨ȳ, f(x + t v)⟩`` at random ȳ and v, and called twice (the residuals of
the one forward sweep must serve both calls); Jacobians element by element against
differences.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

import overbar
from overbar import pullbacks
from overbar.errors import ArgumentError, NonScalarOutputError
from tests.support import define
from tests.test_examples import load_example


def _leaves(value):
    if isinstance(value, tuple | list):
        return [leaf for part in value for leaf in _leaves(part)]
    return [value]


def _inner(a, b) -> float:
    return float(sum(np.sum(np.asarray(x) * np.asarray(y)) for x, y in zip(a, b, strict=True)))


def _random_like(value, rng):
    if isinstance(value, tuple | list):
        return tuple(_random_like(part, rng) for part in value)
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(value))


def check_vjp(function, args, wrt, seed=0, eps=1e-6, rtol=1e-6, atol=1e-8):
    """vjp's value against ``function``, and its pullback at a random cotangent, called twice,
    against central differences along a random direction in each differentiated argument.
    Returns the gradients."""
    rng = np.random.default_rng(seed)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    before = copy.deepcopy(args)
    value, pullback = overbar.vjp(function, *args, wrt=wrt)
    expected = function(*copy.deepcopy(args))
    for got, want in zip(_leaves(value), _leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    cotangent = _random_like(value, rng)
    kept = copy.deepcopy(cotangent)
    first = pullback(cotangent)
    second = pullback(cotangent)
    first = first if isinstance(wrt, tuple) else (first,)
    second = second if isinstance(wrt, tuple) else (second,)
    for one, other in zip(first, second, strict=True):
        np.testing.assert_array_equal(one, other)  # the second call gives the same
    for left, right in zip(_leaves(kept), _leaves(cotangent), strict=True):
        np.testing.assert_array_equal(left, right)  # the cotangent is not written into
    for got, want in zip(_leaves(value), _leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)  # nor the value
    for left, right in zip(before, args, strict=True):
        np.testing.assert_array_equal(left, right)  # nor the arguments
    for position, gradient in zip(positions, first, strict=True):
        assert np.shape(gradient) == np.shape(args[position])
        direction = rng.standard_normal(np.shape(args[position]))

        def along(step, position=position, direction=direction):
            moved = list(copy.deepcopy(args))
            shifted = np.asarray(args[position], dtype=float) + step * direction
            moved[position] = shifted if isinstance(args[position], np.ndarray) else float(shifted)
            return _inner(_leaves(kept), _leaves(function(*moved)))

        numeric = (along(eps) - along(-eps)) / (2 * eps)
        analytic = float(np.sum(np.asarray(gradient) * direction))
        assert analytic == pytest.approx(numeric, rel=rtol, abs=atol)
    return first


def check_jacobian(function, args, wrt, eps=1e-6, rtol=1e-6, atol=1e-8):
    """jacobian(function, wrt)(*args) against central differences, column by column."""
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    jacobians = overbar.jacobian(function, wrt=wrt)(*args)
    jacobians = jacobians if isinstance(wrt, tuple) else (jacobians,)
    result_shape = np.shape(function(*copy.deepcopy(args)))
    for position, jacobian in zip(positions, jacobians, strict=True):
        argument = np.asarray(args[position], dtype=float)
        assert jacobian.shape == result_shape + argument.shape
        for index in np.ndindex(argument.shape):
            step = np.zeros(argument.shape)
            step[index] = eps

            def at(shift, position=position, argument=argument):
                moved = list(copy.deepcopy(args))
                shifted = argument + shift
                moved[position] = (
                    shifted if isinstance(args[position], np.ndarray) else float(shifted)
                )
                return np.asarray(function(*moved), dtype=float)

            column = (at(step) - at(-step)) / (2 * eps)
            got = jacobian[(Ellipsis, *index)] if index else jacobian
            np.testing.assert_allclose(got, column, rtol=rtol, atol=atol)
    return jacobians


RNG = np.random.default_rng(0)


# -- results of every shape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [((3,), (3,)), ((4, 3), (3,)), ((2, 4, 3), (4, 3)), ((4, 1), (1, 5))],
    ids=["vector", "matrix-vector", "matrix", "broadcast"],
)
def test_vector_and_matrix_results(shapes):
    f = define("def f(a, b):\n    return np.tanh(a * 2.0) * np.sin(b) + a\n")
    a, b = (RNG.standard_normal(s) for s in shapes)
    check_vjp(f, [a, b], (0, 1))


def test_matrix_product_result():
    f = define("def f(W, x, b):\n    return np.tanh(W @ x + b)\n")
    args = [RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5)), RNG.standard_normal((4, 1))]
    check_vjp(f, args, (0, 1, 2))
    check_jacobian(f, args, (0, 2))


def test_scalar_result_pullback_is_the_scaled_gradient():
    f = define("def f(x):\n    return np.sum(np.exp(x) * x)\n")
    x = RNG.standard_normal(5)
    value, pullback = overbar.vjp(f, x)
    np.testing.assert_allclose(pullback(2.5), 2.5 * overbar.grad(f)(x))
    assert value == pytest.approx(f(x))


def test_tuple_result():
    f = define("def f(x, y):\n    return np.sin(x) * y, np.sum(x**2), y\n")
    args = [RNG.standard_normal(3), RNG.standard_normal(3)]
    check_vjp(f, args, (0, 1))


def test_single_wrt_gives_the_gradient_itself_and_a_tuple_wrt_a_tuple():
    f = define("def f(x, y):\n    return x * y\n")
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    _, bare = overbar.vjp(f, x, y, wrt="x")
    _, tupled = overbar.vjp(f, x, y, wrt=("x",))
    c = np.ones(3)
    np.testing.assert_allclose(bare(c), y)
    assert isinstance(tupled(c), tuple) and len(tupled(c)) == 1
    np.testing.assert_allclose(tupled(c)[0], y)


def test_float32_arguments_get_float32_gradients():
    f = define("def f(x, W):\n    return W @ np.tanh(x)\n")
    x, W = RNG.standard_normal(3).astype(np.float32), RNG.standard_normal((2, 3))
    _, pullback = overbar.vjp(f, x, W, wrt=(0, 1))
    gx, gW = pullback(np.ones(2))
    assert gx.dtype == np.float32 and gW.dtype == np.float64


# -- control flow, helpers, writes ----------------------------------------------------------------


def test_loop_with_stack_called_many_times():
    f = define("""
        def f(W, h, xs):
            out = []
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + xs[t])
                out.append(h * h)
            return np.stack(out)
        """)
    args = [0.5 * RNG.standard_normal((3, 3)), RNG.standard_normal(3), RNG.standard_normal((4, 3))]
    check_vjp(f, args, (0, 1, 2))
    _, pullback = overbar.vjp(f, *args, wrt=0)
    cotangents = [RNG.standard_normal((4, 3)) for _ in range(3)]
    results = [pullback(c) for c in cotangents]
    again = [pullback(c) for c in cotangents]
    for one, other in zip(results, again, strict=True):
        np.testing.assert_array_equal(one, other)
    check_jacobian(f, args, (0, 1))


def test_while_loop_and_branches():
    f = define("""
        def f(x, a):
            y = x
            n = 0
            while n < 3:
                if a > 0.0:
                    y = np.sin(y) * a
                else:
                    y = y * y
                n = n + 1
            return y + x
        """)
    for a in (0.7, -0.4):
        check_vjp(f, [RNG.standard_normal(4), a], (0, 1))


def test_helper_called_in_a_loop():
    f = define("""
        def layer(W, h, x):
            return np.tanh(W @ h + x)

        def f(W, h, xs):
            for t in range(xs.shape[0]):
                h = layer(W, h, xs[t])
            return h
        """)
    args = [0.5 * RNG.standard_normal((3, 3)), RNG.standard_normal(3), RNG.standard_normal((5, 3))]
    check_vjp(f, args, (0, 1, 2))
    check_jacobian(f, args, (0, 2))


def test_writes_into_an_array_with_views_of_it():
    f = define(
        """
        def f(x):
            buf = np.ones(3)
            buf[:-1] *= np.sin(x[:2])
            buf[2] = np.tanh(x[2])
            return buf[:-1] * buf[1:] + buf[...][1:]
        """,
    )
    f2 = define("""
        def f(x):
            out = np.zeros(x.shape[0])
            for i in range(x.shape[0]):
                out[i] = np.sin(x[i]) * np.sum(out)
                out[i] += x[i]
            return out
        """)
    check_vjp(f, [RNG.standard_normal(3)], 0)
    check_vjp(f2, [RNG.standard_normal(4)], 0)
    check_jacobian(f2, [RNG.standard_normal(4)], 0)


def test_array_made_anew_in_each_step_is_written_into():
    """The reverse sweep writes old values back into arrays it pops from the stack: the
    pullback cannot reuse them, so it runs the forward function again before a second call."""
    f = define("""
        def f(x):
            total = np.zeros(3)
            for i in range(3):
                buf = np.zeros(3)
                buf[i] = x[i] * 2.0
                buf[(i + 1) % 3] = np.sin(x[i])
                total = total + np.tanh(buf) * x
            return total
        """)
    from overbar.pullbacks import vjp_stages
    from overbar.runtime.shapes import argument_shape
    from overbar.transpiler.optimisations import ALL

    x = RNG.standard_normal(3)
    stages = vjp_stages(f, ("x",), (("x", argument_shape(x)),), ALL)
    assert not stages.split.reusable
    check_vjp(f, [x], 0)
    check_jacobian(f, [x], 0)


def test_random_draws_are_replayed_when_the_forward_sweep_runs_again():
    f = define("""
        def f(x):
            total = np.zeros(3)
            for i in range(2):
                buf = np.zeros(3)
                buf[i] = x[i] * np.random.uniform(1.0, 2.0)
                total = total + buf * x
            return total
        """)
    x = RNG.standard_normal(3)
    np.random.seed(3)
    value, pullback = overbar.vjp(f, x)
    c = np.ones(3)
    first, second = pullback(c), pullback(c)
    np.testing.assert_array_equal(first, second)
    np.random.seed(3)
    np.testing.assert_allclose(f(x), value)


def test_recursive_helper():
    f = define("""
        def power(x, n):
            if n == 0:
                return x
            return np.sin(power(x, n - 1)) * x

        def f(x):
            return power(x, 3)
        """)
    check_vjp(f, [RNG.standard_normal(3)], 0)


def test_result_that_does_not_depend_on_wrt():
    f = define("def f(x, y):\n    return y * 2.0\n")
    _, pullback = overbar.vjp(f, np.ones(3), np.ones(2), wrt=0)
    np.testing.assert_array_equal(pullback(np.ones(2)), np.zeros(3))


# -- the examples ---------------------------------------------------------------------------------


def test_mlp_example():
    mlp = load_example("mlp")
    W1, b1, W2, b2 = mlp.init()
    x, t = mlp.make_task(batch=8)
    gradients = check_vjp(mlp.loss, [W1, b1, W2, b2, x, t], (0, 1, 2, 3))
    expected = overbar.grad(mlp.loss, wrt=(0, 1, 2, 3))(W1, b1, W2, b2, x, t)
    _, pullback = overbar.vjp(mlp.loss, W1, b1, W2, b2, x, t, wrt=(0, 1, 2, 3))
    for got, want in zip(pullback(1.0), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(gradients) == 4


def test_rnn_example_and_its_per_step_outputs():
    rnn = load_example("rnn")
    W, U, b, V = rnn.init(hidden=4)
    xs, targets = rnn.make_sequence(steps=6)
    check_vjp(rnn.loss, [W, U, b, V, xs, targets], (0, 1, 2, 3))
    outputs = define(
        """
        def outputs(W, U, b, V, xs):
            h = np.zeros(W.shape[0])
            ys = []
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + U @ xs[t] + b)
                ys.append(V @ h)
            return np.stack(ys)
        """,
        "outputs",
    )
    check_vjp(outputs, [W, U, b, V, xs], (0, 1, 2, 3))
    check_jacobian(outputs, [W, U, b, V, xs], (1, 3))


def test_spring_example():
    spring = load_example("spring")
    observed = spring.observe(steps=20)
    check_vjp(spring.misfit, [np.log(2.0), np.log(1.0), observed, 0.02], (0, 1))


# -- jacobian -------------------------------------------------------------------------------------


def test_jacobian_of_a_linear_map_is_its_matrix():
    f = define("def f(A, x):\n    return A @ x\n")
    A, x = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    np.testing.assert_allclose(overbar.jacobian(f, wrt=1)(A, x), A)
    J = overbar.jacobian(f, wrt=0)(A, x)
    assert J.shape == (4, 4, 3)
    np.testing.assert_allclose(J, np.einsum("ij,k->ijk", np.eye(4), x))


@pytest.mark.parametrize(
    "result, argument",
    [((), (3,)), ((2,), ()), ((2, 3), (3,)), ((2,), (2, 2)), ((0,), (3,))],
    ids=["scalar-result", "scalar-argument", "matrix-result", "matrix-argument", "empty"],
)
def test_jacobian_shapes(result, argument):
    f = define(
        "def f(x, c):\n    return np.sum(np.sin(x)) * c + np.sum(x * x) * np.ones(c.shape)\n"
    )
    x = RNG.standard_normal(argument) if argument else 0.3
    c = RNG.standard_normal(result)
    check_jacobian(f, [x, c], 0)


def test_jacobian_of_a_tuple_result_has_a_block_per_part():
    f = define("def f(x, y):\n    return np.sin(x) * y, np.sum(x * x)\n")
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    (first_x, first_y), (second_x, second_y) = overbar.jacobian(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(first_x, np.diag(np.cos(x) * y))
    np.testing.assert_allclose(first_y, np.diag(np.sin(x)))
    np.testing.assert_allclose(second_x, 2 * x)
    assert second_y.shape == (3,) and not second_y.any()
    blocks = overbar.jacobian(f, wrt=0)(x, y)
    assert isinstance(blocks, tuple) and blocks[1].shape == (3,)


# The Jacobian from forward columns (jvps) where the arguments have fewer elements in all than
# the result, from reverse rows (pullbacks) otherwise: both sides of the choice, spied on.


@pytest.fixture
def built_by(monkeypatch):
    """Which way each jacobian call built its Jacobian: "columns" or "rows"."""
    taken = []
    for way in ("columns", "rows"):
        original = getattr(pullbacks, f"_{way}")

        def spy(*args, original=original, way=way):
            taken.append(way)
            return original(*args)

        monkeypatch.setattr(pullbacks, f"_{way}", spy)
    return taken


@pytest.mark.parametrize(
    "source, shapes, wrt, way",
    [
        ("def f(x, c):\n    return np.outer(np.sin(x), c) * x[0]\n", [(2,), (4,)], 0, "columns"),
        (
            "def f(x, c):\n    return np.outer(np.sin(x), c) * x[0]\n",
            [(2,), (4,)],
            (0, 1),
            "columns",
        ),
        ("def f(x, c):\n    return np.sum(np.sin(x)) * c\n", [(4,), (3,)], 0, "rows"),
        ("def f(x, c):\n    return np.tanh(x * c)\n", [(3,), (3,)], 0, "rows"),
        ("def f(x, c):\n    return np.tanh(x * c)\n", [(3,), (3,)], (0, 1), "rows"),
        ("def f(x, c):\n    return np.exp(x) * c\n", [(), (5,)], 0, "columns"),
        ("def f(x, c):\n    return np.exp(x) * c\n", [(), (5,)], (0, 1), "rows"),
    ],
    ids=[
        "tall",
        "tall-tuple-wrt",
        "wide",
        "square",
        "square-tuple-wrt",
        "scalar-argument",
        "six-in-five-out",
    ],
)
def test_jacobian_takes_the_fewer_of_columns_and_rows(source, shapes, wrt, way, built_by):
    f = define(source)
    args = [RNG.standard_normal(shape) if shape else 0.4 for shape in shapes]
    check_jacobian(f, args, wrt)
    assert built_by == [way]


def test_jacobian_by_columns_through_a_loop_a_branch_and_a_tuple_result(built_by):
    f = define("""
        def f(x, W):
            h = x
            hs = []
            for i in range(3):
                h = np.tanh(W @ h)
                if np.sum(h) > 0.0:
                    h = h * x
                hs.append(h)
            return np.stack(hs), np.sum(h) * W
        """)
    x, W = RNG.standard_normal(2), RNG.standard_normal((2, 2))
    blocks = overbar.jacobian(f, wrt=(0, 1))(x, W)
    assert built_by == ["columns"]  # 6 arguments' elements, 10 of the result
    eps = 1e-6
    for position, argument in enumerate((x, W)):
        for index in np.ndindex(argument.shape):
            step = np.zeros(argument.shape)
            step[index] = eps
            moved = [x, W]
            moved[position] = argument + step
            plus = f(*moved)
            moved[position] = argument - step
            minus = f(*moved)
            for part, (p, m) in enumerate(zip(plus, minus, strict=True)):
                np.testing.assert_allclose(
                    blocks[part][position][(Ellipsis, *index)], (p - m) / (2 * eps), atol=1e-8
                )


def test_jacobian_columns_see_the_draws_of_one_run():
    """Each column runs the function again: from the same random state, so the Jacobian is
    that of the function with the draws of one run."""
    f = define("def f(x):\n    return x * np.random.uniform(1.0, 2.0, size=4)\n")
    x = np.array([0.5])
    np.random.seed(3)
    J = overbar.jacobian(f)(x)
    np.random.seed(3)
    np.testing.assert_allclose(J[:, 0], np.random.uniform(1.0, 2.0, size=4))


def test_jacobian_falls_back_to_rows_where_forward_mode_has_no_rule(built_by):
    f = define("""
        import overbar

        def double(x):
            return 2.0 * x

        @overbar.adjoint(double)
        def double_adjoint(y, x, y_bar):
            return 2.0 * y_bar

        def f(x):
            return np.outer(double(x), np.ones(3))
        """)
    x = RNG.standard_normal(2)
    J = overbar.jacobian(f)(x)
    assert built_by == ["columns", "rows"]  # forward mode refused double: no tangent rule
    np.testing.assert_allclose(J, 2.0 * np.einsum("ik,j->ijk", np.eye(2), np.ones(3)))


def test_jacobian_of_a_nested_tuple_result_is_refused():
    f = define("def f(x):\n    return x, (x, x)\n")
    with pytest.raises(ArgumentError, match="tuple within a tuple"):
        overbar.jacobian(f)(np.ones(2))


# -- what is refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cotangent, match",
    [
        (np.ones(3), r"shape \(3,\).*shape \(2, 3\)"),
        (np.ones((3, 2)), r"shape \(3, 2\)"),
        (1.0, r"shape \(\)"),
        ((np.ones((2, 3)),), "tuple"),
        (np.array(["a"] * 6).reshape(2, 3), "real numbers"),
        (None, "real numbers"),
    ],
)
def test_wrong_cotangent_is_refused(cotangent, match):
    f = define("def f(x):\n    return np.sin(x)\n")
    _, pullback = overbar.vjp(f, np.ones((2, 3)))
    with pytest.raises(ArgumentError, match=match) as caught:
        pullback(cotangent)
    assert "pullback of f" in str(caught.value)


def test_wrong_tuple_cotangent_is_refused():
    f = define("def f(x):\n    return np.sin(x), np.sum(x)\n")
    _, pullback = overbar.vjp(f, np.ones(3))
    with pytest.raises(ArgumentError, match="tuple of 2"):
        pullback(np.ones(3))
    with pytest.raises(ArgumentError, match=r"result\[1\] has shape \(\)"):
        pullback((np.ones(3), np.ones(3)))
    gradient = pullback((np.ones(3), 2.0))
    np.testing.assert_allclose(gradient, np.cos(np.ones(3)) + 2.0)


def test_cotangent_as_a_list_is_taken_as_an_array():
    f = define("def f(x):\n    return x * 3.0\n")
    _, pullback = overbar.vjp(f, np.ones(2))
    np.testing.assert_allclose(pullback([1.0, 2.0]), [3.0, 6.0])


def test_grad_of_a_vector_result_points_at_vjp():
    f = define("def f(x):\n    return x * 2\n")
    with pytest.raises(NonScalarOutputError, match=r"overbar\.vjp"):
        overbar.grad(f)(np.ones(3))


def test_refusals_of_the_arguments():
    f = define("def f(x, y):\n    return x * y\n")
    with pytest.raises(ArgumentError, match="cannot differentiate with respect to x"):
        overbar.vjp(f, "text", 1.0)
    with pytest.raises(ArgumentError, match="wrt names 'z'"):
        overbar.vjp(f, 1.0, 2.0, wrt="z")
    with pytest.raises(ArgumentError, match="missing"):
        overbar.vjp(f, 1.0)
    with pytest.raises(ArgumentError, match="defined with def"):
        overbar.vjp(np.sin, 1.0)


def test_unsupported_syntax_is_refused_with_its_line():
    f = define(
        "def f(x):\n    try:\n        y = x\n    except Exception:\n        y = x\n    return y\n"
    )
    with pytest.raises(overbar.UnsupportedSyntaxError, match="try statement"):
        overbar.vjp(f, np.ones(2))


# -- random programs ------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(24))
def test_fuzzer_programs(index):
    """The fuzzer's programs (loops, branches, helpers, writes, lists, every rule): the
    pullback of a number, called twice, is that number times grad's gradient."""
    from tests.fuzzer import generate_program

    program = generate_program(11, index)
    if not program.wrt:
        pytest.skip("no argument to differentiate")
    f = define(program.source)
    args = copy.deepcopy(list(program.args))
    try:
        expected = overbar.grad(f, wrt=program.wrt, check=False)(*copy.deepcopy(args))
    except overbar.OverbarError:
        pytest.skip("refused by grad too")
    with np.errstate(all="ignore"):
        value, pullback = overbar.vjp(f, *args, wrt=program.wrt)
        first, second = pullback(0.7), pullback(0.7)
    assert float(value) == pytest.approx(program.expected, rel=1e-9, abs=1e-9)
    for want, one, other in zip(expected, first, second, strict=True):
        np.testing.assert_allclose(one, 0.7 * np.asarray(want), rtol=1e-8, atol=1e-10)
        np.testing.assert_array_equal(one, other)


def test_defaults_and_keyword_only_parameters():
    f = define("def f(x, a=2.0, *, b=3.0):\n    return np.sin(x) * a * b\n")
    x = RNG.standard_normal(3)
    value, pullback = overbar.vjp(f, x)
    np.testing.assert_allclose(value, np.sin(x) * 6.0)
    np.testing.assert_allclose(pullback(np.ones(3)), np.cos(x) * 6.0)
    _, pullback = overbar.vjp(f, x, 1.5, wrt=(0, "a", "b"))
    gx, ga, gb = pullback(np.ones(3))
    np.testing.assert_allclose(gx, np.cos(x) * 4.5)
    assert ga == pytest.approx(np.sum(np.sin(x)) * 3.0)
    assert gb == pytest.approx(np.sum(np.sin(x)) * 1.5)


def test_a_local_named_like_the_cotangent_keyword():
    """A pullback takes its cotangent by the keyword result_bar: a local of that name (in a
    helper, or in a generated adjoint differentiated again) is renamed, not overwritten."""
    f = define("""
        def helper(x):
            result_bar = np.sin(x) * 2.0
            return result_bar * x

        def f(x):
            return helper(x) * 3.0
        """)
    x = RNG.standard_normal(3)
    check_vjp(f, [x], 0)
    g = define("def g(x):\n    return np.sum(f(x))\n", "g", {"f": f})
    np.testing.assert_allclose(
        overbar.grad(g, check=False)(x), 3.0 * (2.0 * np.cos(x) * x + 2.0 * np.sin(x))
    )


def test_a_pullback_called_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor

    f = define("""
        def f(x):
            buf = np.ones((x.shape[0], 20000))
            for i in range(x.shape[0]):
                buf[i] *= np.sin(x[i] * np.arange(20000.0))
                buf[(i + 1) % x.shape[0]] *= np.cos(x[i])
            return buf
        """)
    x = RNG.standard_normal(6)
    _, pullback = overbar.vjp(f, x)
    cotangents = [RNG.standard_normal((6, 20000)) for _ in range(24)]
    expected = [pullback(c) for c in cotangents]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch within a call, where they would collide
    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(pullback, cotangents * 2))
    finally:
        sys.setswitchinterval(interval)
    for one, other in zip(expected * 2, got, strict=True):
        np.testing.assert_array_equal(one, other)


# -- the split itself (transpiler/split.py) -------------------------------------------------------


def test_split_of_a_loop_hands_the_stack_over_and_pops_a_copy():
    rnn = load_example("rnn")
    W, U, b, V = rnn.init(hidden=4)
    xs, targets = rnn.make_sequence(steps=5)
    _, pullback = overbar.vjp(rnn.loss, W, U, b, V, xs, targets, wrt=(0, 1, 2, 3))
    source = pullback.source
    forward, reverse = source.split("\n\n\ndef ")[:2]
    assert forward.startswith("def loss_vjp(W, U, b, V, xs, targets):")
    assert "stack" in forward.splitlines()[-1] and "_bar" not in forward
    assert reverse.startswith("loss_pullback(")
    body = reverse[reverse.index("):") :].splitlines()[1:]
    assert body[0].strip() == "stack = stack.copy()"
    assert "*, result_bar" in reverse


def test_split_saves_an_array_written_into_and_writes_it_back():
    f = define("""
        def f(x):
            out = np.ones(x.shape[0]) * 2.0
            for i in range(x.shape[0]):
                out[i] = out[i] * np.sin(x[i])
            return out
        """)
    x = np.linspace(0.2, 0.9, 3)
    _, pullback = overbar.vjp(f, x)
    source = pullback.source
    assert "out_saved = copy_of(out)" in source, source
    assert "return (copy_of(out), (" in source  # the caller's value is not the residual
    reverse = source[source.index("def f_pullback") :].splitlines()
    assert reverse[0].startswith("def f_pullback(x, stack, "), reverse[0]
    assert "out, out_saved, *," in reverse[0]
    assert [line.strip() for line in reverse[1:3]] == [
        "stack = stack.copy()",
        "write_back(out, out_saved)",
    ]
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.cos(x))
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.cos(x))


def test_split_drops_the_restores_of_a_region_only_the_value_reads():
    """The value is read where the forward function ends, before any restore: the regions
    written need not be saved (the gradient reads none of them), nor the array copied."""
    f = define("""
        def f(x):
            out = np.zeros(x.shape[0])
            for i in range(x.shape[0]):
                out[i] = np.sin(x[i]) * 2.0
            return out
        """)
    x = np.linspace(0.2, 0.9, 3)
    value, pullback = overbar.vjp(f, x)
    source = pullback.source
    assert "saved_region" not in source and "copy_of" not in source, source
    assert "write_back" not in source
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.cos(x))
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.cos(x))
    np.testing.assert_allclose(value, 2.0 * np.sin(x))


@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_loop_of_any_length_even_none(n):
    f = define("""
        def f(x, n):
            s = x
            for i in range(n):
                t = np.sin(s)
                s = t * x
            return s
        """)
    check_vjp(f, [RNG.standard_normal(3), n], 0)


def test_the_literal_adjoint_split_agrees_with_the_optimised_one():
    rnn = load_example("rnn")
    args = [*rnn.init(hidden=4), *rnn.make_sequence(steps=5)]
    c = RNG.standard_normal()
    _, optimised = overbar.vjp(rnn.loss, *args, wrt=(0, 1, 2, 3))
    _, literal = overbar.vjp(rnn.loss, *args, wrt=(0, 1, 2, 3), optimise=False)
    assert "seed" not in optimised.source and "unbroadcast(" in literal.source
    for one, other in zip(optimised(c), literal(c), strict=True):
        np.testing.assert_allclose(one, other, rtol=1e-12, atol=1e-14)


def test_a_result_that_does_not_depend_on_the_argument():
    """Regression (autograd's test_no_relation): the value is a module-level array the adjoint
    never binds; vjp crashed with an InternalError ("the value reads c, which its forward
    sweep does not bind") instead of returning it with zero gradients."""
    f = define("c = np.arange(6.0).reshape(3, 2)\n\ndef f(x):\n    return c\n")
    value, pullback = overbar.vjp(f, np.ones((3, 2)))
    np.testing.assert_array_equal(value, np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(pullback(np.ones((3, 2))), np.zeros((3, 2)))
    assert overbar.jacobian(f)(np.ones((3, 2))).shape == (3, 2, 3, 2)
