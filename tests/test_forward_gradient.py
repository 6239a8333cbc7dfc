"""The gradient with respect to one number by forward mode (``Optimisations.forward``).

Where the differentiated arguments have one element in all (a Python float, a NumPy float, a
0-d or size-1 array), ``grad`` runs the jvp along the tangent 1: ``x_dot`` carried beside
``x`` in one sweep. Checked here: the gradient against central differences and against the
reverse adjoint (every test also passes the guard, which compares it with the literal adjoint)
for every kind of one-element argument, loops, while loops, helpers, recursion and arguments
not differentiated; that the forward path is taken; that where forward mode refuses a function
the reverse adjoint is taken; and each side condition failing.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

import overbar
from overbar import api, cache
from overbar.errors import NonScalarOutputError, UnsupportedSyntaxError
from overbar.transpiler.forward_gradient import finished
from tests.support import define
from tests.test_disk_cache import folder, forget, load_module, no_transformation  # noqa: F401

REVERSE = overbar.Optimisations(forward=False)

FIXED_POINT = """
def f(x):
    for _ in range(20):
        x = x - 0.01 * (x ** 3 - 2 * x)
    return x
"""

WHILE_LOOP = """
def f(x):
    i = 0
    while i < 12:
        x = x - 0.05 * np.sin(x) * x
        i = i + 1
    return x
"""

HELPER = """
def drift(v):
    return v ** 3 - 2 * v

def f(x):
    for _ in range(10):
        x = x - 0.01 * drift(x)
    return x
"""

RECURSIVE = """
def f(x, steps=15):
    if steps == 0:
        return x
    return f(x - 0.01 * (x ** 3 - 2 * x), steps - 1)
"""

ARRAYS_NOT_DIFFERENTIATED = """
def f(s, W, v):
    h = v
    for _ in range(3):
        h = np.tanh(s * (W @ h))
    return np.sum(h * h)
"""

SUMMED = """
def f(x):
    return np.sum(np.exp(x) * x) + np.sum(x * x)
"""

NESTED_DEF = """
def f(x):
    def cube(y):
        return y * y * y
    return cube(x) + np.sin(x)
"""


def _one_element_arguments(value: float) -> list:
    return [
        value,
        np.float64(value),
        np.array(value),
        np.array([value]),
        np.array([[value]]),
    ]


def _agrees(f, args, wrt: int = 0) -> None:
    """The gradient against central differences and against the reverse adjoint's."""
    overbar.check_grad(f, args, wrt=wrt)
    forward = overbar.grad(f, wrt=wrt)(*args)
    reverse = overbar.grad(f, wrt=wrt, optimise=REVERSE)(*args)
    assert np.shape(forward) == np.shape(reverse) == np.shape(args[wrt])
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("x", _one_element_arguments(0.7), ids=lambda x: type(x).__name__)
@pytest.mark.parametrize(
    "source", [FIXED_POINT, WHILE_LOOP, HELPER, RECURSIVE, SUMMED], ids=lambda s: s.split()[1]
)
def test_the_gradient_of_one_element_agrees_with_differences_and_the_reverse_adjoint(source, x):
    _agrees(define(source), [x])


@pytest.mark.parametrize("source", [FIXED_POINT, WHILE_LOOP, HELPER, RECURSIVE, SUMMED])
def test_the_forward_path_is_taken(source, monkeypatch):
    f = define(source)
    made = []
    original = api.transform_forward
    monkeypatch.setattr(
        api, "transform_forward", lambda *a, **k: made.append(a[1]) or original(*a, **k)
    )
    gradient = overbar.grad(f)
    gradient(0.7)
    assert made == [("x",)]
    text = gradient.source_for(0.7)
    assert "x_dot = one_like(x)" in text and "stack" not in text and "_bar" not in text


def test_a_loop_carries_the_slope_as_written_by_hand():
    text = overbar.grad(define(FIXED_POINT)).source_for(0.7)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[1] == "x_dot = one_like(x)"
    loop = text.split("for _ in")[1]
    assert "x = x - 0.01 * (x**3 - 2 * x)" in loop
    # the slope's update, before the value it reads changes, factored and in floats
    assert loop.index("x_dot = x_dot * (1.0 - 0.01 * (3.0 * (x * x) - 2.0))") < loop.index("x = x")
    assert lines[-1] == "return x_dot"  # a number of a number: no check, no reshape


def test_a_size_one_array_gets_its_gradient_in_its_shape():
    f = define(SUMMED)
    for shape in [(1,), (1, 1), (1, 1, 1)]:
        x = np.full(shape, 0.3)
        gradient = overbar.grad(f)(x)
        assert gradient.shape == shape
        np.testing.assert_allclose(gradient, np.exp(x) * x + np.exp(x) + 2 * x, rtol=1e-12)


def test_a_result_of_another_shape_of_one_element_is_reshaped_like_the_argument():
    f = define("""
        def f(x):
            return np.reshape(x * x, (1, 1))
        """)
    gradient = overbar.grad(f)(np.array([0.5]))
    assert gradient.shape == (1,)
    np.testing.assert_allclose(gradient, [1.0])


@pytest.mark.parametrize("kind", ["array", "0-d", "scalar"])
def test_float32_stays_float32(kind):
    f = define(FIXED_POINT)
    x = {
        "array": np.array([0.7], dtype=np.float32),
        "0-d": np.array(0.7, dtype=np.float32),
        "scalar": np.float32(0.7),
    }[kind]
    gradient = overbar.grad(f)(x)
    reverse = overbar.grad(f, optimise=REVERSE)(x)
    assert np.result_type(gradient) == np.float32
    assert np.shape(gradient) == np.shape(x)
    np.testing.assert_allclose(gradient, reverse, rtol=1e-5)


def test_an_array_argument_not_differentiated():
    f = define(ARRAYS_NOT_DIFFERENTIATED)
    rng = np.random.default_rng(2)
    W, v = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    _agrees(f, [0.8, W, v], wrt=0)
    text = overbar.grad(f, wrt="s").source_for(0.8, W, v)
    assert "s_dot = one_like(s)" in text
    assert "W_dot" not in text and "v_dot" not in text  # no tangents for what does not vary


def test_wrt_naming_one_float_among_arrays():
    f = define(ARRAYS_NOT_DIFFERENTIATED)
    rng = np.random.default_rng(3)
    W, v = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    by_name = overbar.grad(f, wrt="s")(0.6, W, v)
    by_tuple = overbar.grad(f, wrt=("s",))(0.6, W, v)
    assert isinstance(by_tuple, tuple) and len(by_tuple) == 1
    assert by_tuple[0] == pytest.approx(by_name, rel=1e-14)
    value, slope = overbar.value_and_grad(f, wrt="s")(0.6, W, v)
    assert value == pytest.approx(f(0.6, W, v), rel=1e-14)
    assert slope == pytest.approx(by_name, rel=1e-14)


def test_value_and_grad_by_forward_mode():
    f = define(FIXED_POINT)
    value, slope = overbar.value_and_grad(f)(0.9)
    assert value == pytest.approx(f(0.9), rel=1e-14)
    assert slope == pytest.approx(overbar.grad(f, optimise=REVERSE)(0.9), rel=1e-12)
    assert "x_dot = one_like(x)" in overbar.value_and_grad(f).source_for(0.9)


def test_a_nested_def_is_lifted_in_forward_mode_too():
    f = define(NESTED_DEF)
    gradient = overbar.grad(f)
    assert gradient(0.5) == pytest.approx(3 * 0.25 + np.cos(0.5), rel=1e-12)
    assert "x_dot = one_like(x)" in gradient.source_for(0.5)


INNER_GRADIENT = """
import overbar

def cube(y):
    return y ** 3

def f(x):
    return overbar.grad(cube)(x) * x
"""


def test_where_forward_mode_refuses_the_reverse_adjoint_is_taken():
    f = define(INNER_GRADIENT)  # a gradient taken in the function: reverse mode only
    gradient = overbar.grad(f)
    assert gradient(0.5) == pytest.approx(9 * 0.25, rel=1e-12)
    text = gradient.source_for(0.5)
    assert "one_like" not in text and "x_bar" in text


def test_a_refusal_of_forward_mode_falls_back_silently(monkeypatch):
    def refuse(*args, **kwargs):
        raise UnsupportedSyntaxError("forward mode refuses this (a test)")

    monkeypatch.setattr(api, "transform_forward", refuse)
    f = define(FIXED_POINT)
    gradient = overbar.grad(f)
    assert gradient(0.7) == pytest.approx(overbar.grad(f, optimise=REVERSE)(0.7), rel=1e-12)
    assert "stack.pop()" in gradient.source_for(0.7)


def test_a_bug_in_forward_mode_is_not_hidden(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(api, "transform_forward", broken)
    with pytest.raises(KeyError):
        overbar.grad(define(FIXED_POINT))(0.7)


def test_two_numbers_are_differentiated_by_reverse_mode(monkeypatch):
    f = define("""
        def f(x, y):
            for _ in range(5):
                x = x - 0.1 * y * np.sin(x)
            return x
        """)
    gradient = overbar.grad(f, wrt=(0, 1))
    dx, dy = gradient(0.7, 0.4)
    assert "one_like" not in gradient.source_for(0.7, 0.4)
    overbar.check_grad(f, [0.7, 0.4], wrt=(0, 1))
    alone = overbar.grad(f, wrt="x")
    assert alone(0.7, 0.4) == pytest.approx(dx, rel=1e-12)
    assert "one_like" in alone.source_for(0.7, 0.4)


def test_an_array_of_several_elements_is_differentiated_by_reverse_mode():
    f = define(SUMMED)
    gradient = overbar.grad(f)
    x = np.array([0.1, 0.2])
    assert "one_like" not in gradient.source_for(x)
    np.testing.assert_allclose(gradient(x), np.exp(x) * x + np.exp(x) + 2 * x, rtol=1e-12)


def test_the_flag_off_gives_the_reverse_adjoint():
    text = overbar.grad(define(FIXED_POINT), optimise=REVERSE).source_for(0.7)
    assert "stack.pop()" in text and "one_like" not in text


def test_without_the_shapes_pass_a_number_and_an_array_get_their_own_gradients():
    f = define(SUMMED)
    gradient = overbar.grad(f, optimise=overbar.Optimisations(shapes=False))
    assert gradient(0.3) == pytest.approx(np.exp(0.3) * 1.3 + 0.6, rel=1e-12)
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(gradient(x), np.exp(x) * x + np.exp(x) + 2 * x, rtol=1e-12)
    assert gradient(0.5) == pytest.approx(np.exp(0.5) * 1.5 + 1.0, rel=1e-12)


@pytest.mark.parametrize("x", [0.7, np.array([0.7])], ids=["float", "size-1 array"])
def test_a_result_that_is_not_a_scalar_is_refused_as_before(x):
    f = define("""
        def f(x):
            return np.stack([x, 2 * x])
        """)
    with pytest.raises(NonScalarOutputError, match="scalar") as raised:
        overbar.grad(f)(x)
    assert raised.value.location is not None  # at the user's return line


def test_a_tuple_result_is_refused_as_before():
    f = define("""
        def f(x):
            return x, x * x
        """)
    with pytest.raises(NonScalarOutputError):
        overbar.grad(f)(0.5)


def test_second_derivatives_of_a_number():
    f = define(FIXED_POINT)
    eps = 1e-5
    first = overbar.grad(f)
    second = overbar.grad(first)
    expected = (first(0.7 + eps) - first(0.7 - eps)) / (2 * eps)
    assert second(0.7) == pytest.approx(expected, rel=1e-6)
    (product,) = overbar.hvp(f, (0.7,), (1.0,), wrt=(0,))
    assert product == pytest.approx(expected, rel=1e-6)


def test_a_helper_jvp_is_specialised_on_the_shapes_of_its_call():
    f = define(RECURSIVE)
    text = overbar.grad(f).source_for(0.7, 15)
    assert "broadcast_tangent" not in text  # its operands are known numbers
    assert overbar.grad(f)(0.7, 15) == pytest.approx(
        overbar.grad(f, optimise=REVERSE)(0.7, 15), rel=1e-12
    )


LOOP_MODULE = """
def loss(x, n):
    for _ in range(n):
        x = x - 0.1 * x * x
    return x
"""


def test_the_second_run_reads_the_forward_gradient(
    tmp_path, folder, no_transformation, monkeypatch  # noqa: F811
):
    module = load_module(tmp_path, LOOP_MODULE)
    gradient = overbar.grad(module.loss)
    first = gradient(0.5, 4)
    assert "x_dot = one_like(x)" in gradient.source_for(0.5, 4)
    assert len(cache.entries()) >= 1
    forget(module)
    no_transformation()

    def refuse(*args, **kwargs):
        raise AssertionError("transformed, where the disk cache should have served")

    monkeypatch.setattr(api, "transform_forward", refuse)
    assert overbar.grad(module.loss, check=False)(0.5, 4) == first


def test_where_forward_mode_refused_the_second_run_does_not_try_it_again(
    tmp_path, folder, no_transformation, monkeypatch  # noqa: F811
):
    def refuse(*args, **kwargs):
        raise UnsupportedSyntaxError("forward mode refuses this (a test)")

    monkeypatch.setattr(api, "transform_forward", refuse)
    module = load_module(tmp_path, LOOP_MODULE)
    gradient = overbar.grad(module.loss)
    first = gradient(0.5, 4)
    assert "stack.pop()" in gradient.source_for(0.5, 4)  # the reverse adjoint, stored
    forget(module)
    no_transformation()

    def tried(*args, **kwargs):
        raise AssertionError("forward mode tried again")

    monkeypatch.setattr(api, "transform_forward", tried)
    assert overbar.grad(module.loss, check=False)(0.5, 4) == first


def _finished(body: str, with_value: bool = False) -> str:
    tree = ast.parse(f"def f_grad(x, x_dot):\n{body}\n    return (None, y_dot)").body[0]
    return ast.unparse(finished(tree, with_value))


def _factored(line: str, active: tuple = ("x",)) -> str:
    tree = ast.parse(f"def f_grad(x):\n    {line}\n    return (None, y_dot)").body[0]
    tangents = frozenset({"x_dot", "y_dot", "b_dot"})
    return ast.unparse(finished(tree, False, tangents, frozenset(active))).splitlines()[1].strip()


def test_a_tangent_linear_in_one_tangent_is_factored_with_float_literals():
    line = "y_dot = x_dot - 0.01 * (x_dot * 3 * (x * x) - 2 * x_dot)"
    assert _factored(line) == "y_dot = x_dot * (1.0 - 0.01 * (3.0 * (x * x) - 2.0))"
    assert _factored("y_dot = -x_dot + x_dot / x") == "y_dot = x_dot * (-1.0 + 1.0 / x)"
    # inside a call: the call's argument is factored
    assert _factored("y_dot = float(x_dot - x_dot * x)") == "y_dot = float(x_dot * (1.0 - x))"
    # one occurrence: already a product, only its literal written as a float
    assert _factored("y_dot = x_dot * 3") == "y_dot = x_dot * 3.0"


@pytest.mark.parametrize(
    "line",
    [
        "y_dot = x_dot * x + b_dot * x",  # two tangents
        "y_dot = x_dot * x_dot + x_dot",  # not linear
        "y_dot = x / x_dot + x_dot",  # the tangent in a divisor
        "y_dot = x_dot * k + x_dot",  # k not active: maybe a NumPy integer
        "y_dot = np.cos(x_dot) + x_dot",  # inside a call
    ],
)
def test_a_tangent_is_not_factored_where_a_side_condition_fails(line):
    assert _factored(line) == line


def test_literals_are_written_as_floats_only_beside_a_tangent():
    assert _factored("y_dot = x_dot * (x * 2)") == "y_dot = x_dot * (x * 2)"  # x may be an int
    assert _factored("y_dot = x_dot * 2 ** 60") == "y_dot = x_dot * 2 ** 60"  # a power
    big = 2**54 + 1  # not exact as a float: left to Python's conversion
    assert _factored(f"y_dot = x_dot * {big}") == f"y_dot = x_dot * {big}"
    assert _factored("y_dot = x_dot * True") == "y_dot = x_dot * True"


def test_a_factor_that_is_not_active_keeps_the_products_in_floats():
    """k * k of int64 overflows (2 ** 64 is 0); x_dot * k * k is computed in floats."""
    f = define("""
        def f(x, k):
            return np.sum(x * k * k + x)
        """)
    k = np.array([2**32, 3], dtype=np.int64)
    gradient = overbar.grad(f)(0.5, k)
    assert gradient == 2.0**64 + 9.0 + 2.0
    assert "x_dot * k * k + x_dot" in overbar.grad(f).source_for(0.5, k)  # not factored


@pytest.mark.parametrize("line", ["ys = xs * 2", "ys = xs + xs", "ys = 2 * xs"])
def test_a_lists_tangent_keeps_its_int_factor(line):
    """A list's tangent is a list: ``xs_dot * 2`` repeats it (``* 2.0`` would raise), and a
    sum of it with itself is a concatenation, not a product to factor."""
    f = define(f"""
        def f(x):
            xs = [x, x * 2.0]
            {line}
            return ys[0] + ys[3] * 3.0
        """)
    assert overbar.grad(f)(0.7) == pytest.approx(7.0, rel=1e-15)
    text = overbar.grad(f).source_for(0.7)
    tangent = text.split("ys_dot =")[1]
    assert "2.0 *" not in tangent and "* 2.0" not in tangent, text


def test_a_while_loop_factored_matches_central_differences():
    f = define("""
        def f(x):
            i = 0
            while i < 30:
                x = x - 0.02 * x * (x * x - 2.0) + 0.01 * np.sin(x) * x
                i += 1
            return x
        """)
    overbar.check_grad(f, (0.9,))
    text = overbar.grad(f).source_for(0.9)
    assert "x_dot = x_dot * (" in text and "while i < 30:" in text


def _loop_finished(body: str) -> str:
    source = "def f_grad(x):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    source += "    return (None, y_dot)\n"
    return ast.unparse(finished(ast.parse(source).body[0], False))


def test_a_while_loops_test_is_written_in_the_loop_again():
    written = _loop_finished("""
        c = i < n
        while c:
            i = i + 1
            c = i < n
        """)
    assert "while i < n:\n        i = i + 1\n    return y_dot" in written and "c =" not in written


@pytest.mark.parametrize(
    "body",
    [
        # a continue would skip the second c = i < n
        "c = i < n\nwhile c:\n    i = i + 1\n    if i == 2:\n        continue\n    c = i < n\n",
        # c read after the loop
        "c = i < n\nwhile c:\n    i = i + 1\n    c = i < n\ny_dot = c\n",
        # not the same expression
        "c = i < n\nwhile c:\n    i = i + 1\n    c = i <= n\n",
    ],
)
def test_a_while_loops_test_stays_a_name_where_a_side_condition_fails(body):
    assert "while c:" in _loop_finished(body)


def test_a_square_of_a_name_is_written_as_its_product():
    assert "y_dot = x_dot * 2 * (x * x)" in _finished("    y_dot = x_dot * 2 * x ** 2")
    assert "x ** (3 - 1)" not in _finished("    y_dot = x_dot * 3 * x ** (3 - 1)")
    assert "return y_dot" in _finished("    y_dot = x_dot")
    assert "return (None, y_dot)" in _finished("    y_dot = x_dot", with_value=True)


@pytest.mark.parametrize(
    "line",
    [
        "    y_dot = x_dot * x ** 2.0",  # a float exponent: an int's square would be a float
        "    y_dot = x_dot * (x + 1.0) ** 2",  # not a name: computed once
        "    y_dot = x_dot * x ** 3",
    ],
)
def test_other_powers_are_left_as_they_are(line):
    assert "**" in _finished(line)


def test_finishing_leaves_its_input_as_it_was():
    tree = ast.parse("def f_grad(x):\n    y_dot = x ** (3 - 1)\n    return (None, y_dot)")
    before = ast.dump(tree)
    finished(tree.body[0], with_value=False)
    assert ast.dump(tree) == before


def test_a_helper_inlined_or_called_through_its_jvp():
    f = define(HELPER)
    inlined = overbar.grad(f).source_for(0.7)
    assert "drift" not in inlined.split("def ")[1].split("\n", 1)[1]  # spliced in
    kept = overbar.grad(f, optimise=overbar.Optimisations(inline=False))
    text = kept.source_for(0.7)
    assert "drift_jvp(" in text and "broadcast_tangent" not in text  # specialised on ()
    assert kept(0.7) == pytest.approx(overbar.grad(f, optimise=REVERSE)(0.7), rel=1e-12)


MATH_LOOP = """
import math

def f(x, steps):
    for _ in range(steps):
        x = x - 0.01 * (math.pow(x, 3) - 2.0 * math.sin(x)) + 0.001 * math.exp(-x * x)
    return x
"""


@pytest.mark.parametrize("x", [0.7, np.float64(0.7), np.array(0.7)])
def test_the_math_modules_functions_are_known_to_give_numbers(x):
    """math.pow, math.sin and math.exp return a Python float whatever number they are given, so
    a tangent beside them needs no ``broadcast_tangent``; the gradient is the reverse one's."""
    f = define(MATH_LOOP)
    text = overbar.grad(f).source_for(x, 12)
    assert "math.pow(" in text and "broadcast_tangent" not in text
    got = overbar.grad(f)(x, 12)
    assert got == pytest.approx(overbar.grad(f, optimise=REVERSE)(x, 12), rel=1e-12)
    eps = 1e-6
    assert got == pytest.approx((f(x + eps, 12) - f(x - eps, 12)) / (2 * eps), rel=1e-7)
