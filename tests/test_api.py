"""The public API: grad in its three forms, wrt, value_and_grad, check_grad, custom rules."""

from __future__ import annotations

import functools
import linecache
import traceback

import numpy as np
import pytest

import overbar
from overbar.api import transformed
from overbar.errors import ArgumentError, GradientMismatchError, RuleDefinitionError
from overbar.transpiler.pipeline import transform
from tests.support import define

LOSS = """
def loss(W, b, x, t):
    y = np.tanh(W @ x + b)
    return 0.5 * np.sum((y - t) ** 2)
"""


@pytest.fixture
def network():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    x, t = rng.normal(size=(2, 5)), rng.normal(size=(3, 5))
    return define(LOSS, "loss"), (W, b, x, t)


def hand_written(W, b, x, t):
    y = np.tanh(W @ x + b)
    y_bar = y - t
    z_bar = y_bar * (1 - y**2)
    return z_bar @ x.T, z_bar.sum(axis=1, keepdims=True)


def test_plain_decorator_differentiates_the_first_argument():
    f = define("@overbar.grad\ndef f(x, y):\n    return np.sum(x * y)\n")
    x, y = np.arange(3.0), np.ones(3) * 2
    assert np.allclose(f(x, y), y)


def test_parametrised_decorator_by_names(network):
    loss, args = network
    f = define("@overbar.grad(wrt=('W', 'b'))\n" + LOSS.strip() + "\n", "loss")
    W_bar, b_bar = f(*args)
    expected = hand_written(*args)
    assert np.allclose(W_bar, expected[0]) and np.allclose(b_bar, expected[1])


def test_function_form_by_positions_and_mixed(network):
    loss, args = network
    by_position = overbar.grad(loss, wrt=(0, 1))(*args)
    mixed = overbar.grad(loss, wrt=("W", 1))(*args)
    for a, b in zip(by_position, mixed, strict=True):
        assert np.array_equal(a, b)
    single = overbar.grad(loss, wrt=1)(*args)
    assert single.shape == args[1].shape
    one_tuple = overbar.grad(loss, wrt=("b",))(*args)
    assert isinstance(one_tuple, tuple) and len(one_tuple) == 1


def test_value_and_grad(network):
    loss, args = network
    value, (W_bar,) = overbar.value_and_grad(loss, wrt=("W",))(*args)
    assert value == pytest.approx(loss(*args))
    assert np.allclose(W_bar, hand_written(*args)[0])


def test_keyword_arguments_and_defaults():
    f = define("def f(x, scale=3.0, *, shift=1.0):\n    return np.sum(scale * x + shift)\n")
    g = overbar.grad(f, wrt=("x", "scale", "shift"))
    x = np.ones(4)
    x_bar, scale_bar, shift_bar = g(x=x, scale=2.0, shift=0.5)
    assert np.allclose(x_bar, 2.0) and scale_bar == pytest.approx(4.0)
    assert shift_bar == pytest.approx(4.0)
    assert np.allclose(overbar.grad(f)(x), 3.0)


def test_source_and_wrapped(network):
    loss, args = network
    g = overbar.grad(loss, wrt=("W", "b"))
    assert g.__wrapped__ is loss
    assert g.__name__ == "loss"
    assert g.source.startswith("def loss_grad(W, b, x, t):")
    assert "W_bar" in g.source and "b_bar" in g.source
    assert "x_bar" not in g.source  # inactive inputs get no adjoint code


def test_wrt_errors(network):
    loss, _ = network
    with pytest.raises(ArgumentError, match="not a parameter"):
        overbar.grad(loss, wrt="Q")
    with pytest.raises(ArgumentError, match="out of range"):
        overbar.grad(loss, wrt=7)
    with pytest.raises(ArgumentError, match="twice"):
        overbar.grad(loss, wrt=("W", 0))
    with pytest.raises(ArgumentError, match="empty"):
        overbar.grad(loss, wrt=())
    with pytest.raises(ArgumentError, match=r"wrt=None: give a parameter's name or position"):
        overbar.grad(loss, wrt=None)
    with pytest.raises(ArgumentError, match="wrt=1.5"):
        overbar.value_and_grad(loss, wrt=1.5)


def test_transformation_is_cached_per_function_and_wrt(network):
    loss, args = network
    first = overbar.grad(loss, wrt=("W",))
    second = overbar.grad(loss, wrt=("W",))
    assert first.stages is second.stages
    assert overbar.grad(loss, wrt=("b",)).stages is not first.stages
    first(*args)
    specialised = first.stages_for(*args)
    assert specialised is not first.stages  # the general adjoint serves `source` and the CLI
    # A call keeps the compiled adjoint, not the stages (``stages_for`` makes them again): the
    # one it runs is compiled from the source ``stages_for`` shows (its file name holds the
    # source's checksum).
    (running,) = first._specialised.values()
    assert running.__code__.co_filename == specialised.emitted.function.__code__.co_filename
    assert specialised is first.stages_for(*args)  # kept once asked for


def test_generated_source_is_deterministic(network):
    loss, _ = network
    sources = {transform(loss, ("W", "b")).emitted.source for _ in range(3)}
    assert len(sources) == 1
    twin = define(LOSS, "loss")
    assert transform(twin, ("W", "b")).emitted.source in sources


def test_gradient_has_argument_shape_and_float_dtype():
    f = define("def f(x, y):\n    return np.sum(x * y)\n")
    g = overbar.grad(f, wrt=(0, 1))
    x32 = np.ones(3, dtype=np.float32)
    x_bar, y_bar = g(x32, np.float32(2.0))
    assert x_bar.dtype == np.float32 and np.shape(y_bar) == ()
    ints = np.arange(3)
    x_bar, y_bar = g(ints, 2)
    assert x_bar.dtype.kind == "f" and np.allclose(x_bar, 2.0)
    assert float(y_bar) == pytest.approx(3.0)


def test_unused_input_gets_a_zero_gradient_of_its_shape():
    f = define("def f(x, y):\n    return np.sum(x ** 2)\n")
    x_bar, y_bar = overbar.grad(f, wrt=(0, 1))(np.ones(2), np.ones((2, 3), dtype=int))
    assert np.allclose(x_bar, 2.0)
    assert y_bar.shape == (2, 3) and y_bar.dtype.kind == "f" and not y_bar.any()
    constant = define("def f(x):\n    return 3.0\n")
    assert overbar.grad(constant)(1.5) == 0.0


def test_gradient_does_not_modify_the_callers_arrays():
    f = define("""
        def f(x, y):
            z = x * y
            z += x
            return np.sum(z[1:] ** 2) + np.sum(y)
        """)
    x, y = np.arange(4.0), np.arange(4.0) + 1
    x_copy, y_copy = x.copy(), y.copy()
    overbar.grad(f, wrt=(0, 1))(x, y)
    assert np.array_equal(x, x_copy) and np.array_equal(y, y_copy)
    overbar.check_grad(f, [x, y], wrt=(0, 1))


def test_copy_by_multiplication_is_not_folded_into_an_alias():
    f = define("def f(x):\n    y = x * 1.0\n    return np.sum(y * x)\n")
    g = overbar.grad(f)
    assert "x * 1.0" in g.source
    assert np.allclose(g(np.arange(3.0)), 2 * np.arange(3.0))


def test_globals_closures_and_import_styles():
    f = define(
        """
        from numpy import exp
        import numpy

        SCALE = 2.0

        def make(offset):
            def f(x):
                return numpy.sum(exp(x) * SCALE + offset * x)
            return f
        """,
        "make",
    )(0.5)
    x = np.array([0.1, -0.3])
    assert np.allclose(overbar.grad(f)(x), np.exp(x) * 2.0 + 0.5)
    f.__closure__[0].cell_contents = 4.0  # the generated code sees the live closure cell
    assert np.allclose(overbar.grad(f)(x), np.exp(x) * 2.0 + 4.0)


def test_generated_code_uses_a_helper_name_the_user_shadowed():
    f = define("""
        def unbroadcast(v):
            return v

        seed = 42

        def f(x, b):
            return np.sum((x + b) * seed)
        """)
    x_bar, b_bar = overbar.grad(f, wrt=(0, 1))(np.ones((2, 3)), np.ones(3))
    assert np.allclose(x_bar, 42.0) and np.allclose(b_bar, 84.0)


def test_traceback_shows_the_generated_line():
    f = define("def f(x, w):\n    return np.sum(np.log(x) @ w)\n")
    g = overbar.grad(f)
    with pytest.raises(ValueError) as caught:
        g(np.ones((2, 3)), np.ones((2, 2)))
    frames = traceback.extract_tb(caught.value.__traceback__)
    generated = [fr for fr in frames if fr.filename.startswith("<overbar f_grad")]
    assert generated, frames
    assert "@" in generated[-1].line
    assert linecache.getline(generated[-1].filename, generated[-1].lineno).strip()


@pytest.mark.unchecked  # a deliberately wrong rule / ties: no derivative
def test_check_grad_passes_and_reports_mismatch():
    f = define("""
        def wrong(v):
            return v * 3.0

        @overbar.adjoint(wrong)
        def wrong_adjoint(y, v, y_bar):
            return y_bar * 2.0

        def f(x):
            return np.sum(wrong(x) ** 2)
        """)
    good = define("def f(x):\n    return np.sum(np.sin(x) ** 2)\n")
    assert overbar.check_grad(good, [np.linspace(0, 1, 5)]) < 1e-7
    with pytest.raises(GradientMismatchError) as caught:
        overbar.check_grad(f, [np.linspace(0.5, 1, 4)])
    message = str(caught.value)
    assert "x:" in message and "finite differences" in message and "worst" in message
    assert isinstance(caught.value, AssertionError)


def test_check_grad_on_a_large_argument_uses_random_directions():
    f = define("def f(x):\n    return np.sum(np.tanh(x) * x)\n")
    x = np.random.default_rng(0).normal(size=(30, 40))
    assert overbar.check_grad(f, [x], max_elements=100) < 1e-6


def test_custom_rule_reads_like_math_in_the_generated_code():
    f = define("""
        def softplus(v):
            return np.log1p(np.exp(v))

        @overbar.adjoint(softplus)
        def softplus_adjoint(y, v, y_bar):
            v_bar = y_bar / (1 + np.exp(-v))
            return v_bar

        def f(x):
            return np.sum(softplus(x))
        """)
    g = overbar.grad(f)
    assert "/ (1 + np.exp(-x))" in g.source
    overbar.check_grad(f, [np.linspace(-2, 2, 5)])


def test_malformed_rules_are_refused():
    with pytest.raises(RuleDefinitionError, match="y_bar"):

        @overbar.adjoint(np.sinc)
        def no_bar(y, x):
            return x

    with pytest.raises(RuleDefinitionError, match="where="):

        @overbar.adjoint(np.sinc, where={"axis": 0})
        def bad_where(y, x, y_bar):
            return y_bar

    looping = define("""
        def cube(v):
            return v ** 3

        @overbar.adjoint(cube)
        def cube_adjoint(y, v, y_bar):
            for _ in range(1):
                pass
            return y_bar * 3 * v * v

        def f(x):
            return np.sum(cube(x))
        """)
    with pytest.raises(RuleDefinitionError, match="only assignments"):
        overbar.grad(looping)(np.ones(2))


def test_non_differentiable_registration():
    f = define("""
        def quantize(v):
            return np.round(v * 4) / 4

        overbar.non_differentiable(quantize)

        def f(x):
            return np.sum(quantize(x) * x)
        """)
    x = np.array([0.3, 0.7])
    assert np.allclose(overbar.grad(f)(x), np.round(x * 4) / 4)


def test_cache_survives_new_grad_objects():
    f = define("def f(x):\n    return np.sum(x * x)\n")
    stages = transformed(f, ("x",), with_value=False)
    assert overbar.grad(f).stages is stages


def test_a_rule_for_any_rank_replaces_the_rules_for_given_ranks():
    from overbar.runtime.registry import RuleTable

    def general(z, x, y, z_bar):
        return z_bar, z_bar

    def for_matrices(z, x, y, z_bar):
        return z_bar, z_bar

    def users(z, x, y, z_bar):
        return z_bar, z_bar

    table = RuleTable()
    table.register(np.matmul, general, {})
    table.register(np.matmul, for_matrices, {}, {"x": 2, "y": 2})
    assert [rule.function for rule in table.lookup(np.matmul)] == [for_matrices, general]
    table.register(np.matmul, users, {})  # a user's override, after the built-in table
    assert [rule.function for rule in table.lookup(np.matmul)] == [users]


def test_a_functools_wraps_wrapper_does_not_find_the_wrapped_functions_gradient():
    # functools.wraps copies __dict__, where overbar keeps a function's gradients: the wrapper
    # found the wrapped function's gradient as its own (a silently wrong gradient of 2 f)
    f = define("def f(x):\n    return np.sum(x ** 3)\n")
    x = np.arange(1.0, 4.0)
    np.testing.assert_allclose(overbar.grad(f)(x), 3 * x**2)

    @functools.wraps(f)
    def doubled(x):
        return 2.0 * f(x)

    with pytest.raises(overbar.OverbarError, match="through a decorator"):
        overbar.grad(doubled)(x)
    np.testing.assert_allclose(overbar.grad(f)(x), 3 * x**2)  # f's own is still found
