"""The clean-ups after the other passes: pushes nothing reads any more (``pushes.py``) and
copies between names (``copies.py``), where they apply and where a side condition fails."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

FIXED_POINT = """
def f(x):
    for _ in range(20):
        x = x - 0.01 * (x ** 3 - 2 * x)
    return x
"""

SQUARES_IN_A_LOOP = """
def f(h0, W, targets):
    h = h0
    total = 0.0
    for t in range(targets.shape[0]):
        h = np.tanh(W @ h)
        total = total + 0.5 * np.sum((h - targets[t]) ** 2)
    return total
"""

READS_ITS_OLD_VALUE = """
def f(x, y):
    a = x
    for _ in range(3):
        b = a * y
        a = a * b + np.sin(a)
    return np.sum(a)
"""


def test_a_scalar_fixed_point_loop_reads_like_its_derivation():
    f = define(FIXED_POINT)
    reverse_mode = overbar.Optimisations(forward=False)  # its gradient is by forward mode
    text = overbar.grad(f, optimise=reverse_mode).source_for(0.7)
    reverse = text.split("for __")[1]
    assert "x = stack.pop()" in reverse
    assert "tmp6" not in reverse and " = x_bar\n" not in reverse  # no copies of the adjoint
    assert reverse.count("stack.pop()") == 1  # x**3 is not saved: nothing reads it
    assert text.count("stack.append(") == 2  # x, and the trip count
    for x in (0.7, -0.3, 1.2):
        overbar.check_grad(f, [x])


def test_a_value_read_only_for_a_folded_shape_is_not_saved():
    f = define(SQUARES_IN_A_LOOP)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(5, 3))]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "shape_of(" not in text
    overbar.check_grad(f, args, wrt=(0, 1))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_a_line_that_reads_its_old_value_keeps_what_its_rule_reads(shape):
    f = define(READS_ITS_OLD_VALUE)
    rng = np.random.default_rng(len(shape))
    x = rng.uniform(0.2, 0.8, size=shape)
    y = rng.uniform(0.2, 0.8, size=shape)
    x, y = (float(x), float(y)) if shape == () else (x, y)
    optimised = overbar.grad(f, wrt=(0, 1))(x, y)
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for mine, theirs in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    overbar.check_grad(f, [x, y], wrt=(0, 1))


SUMS = {
    "sin times x": "return np.sum(np.sin(x) * x)",
    "three contributions": "return np.sum(np.sin(x) * x + np.exp(x) * x)",
    "a contribution that reads the adjoint's name": "a = x * x\n    return np.sum(a * np.cos(a))",
    "integers": "return np.sum(x * 2 + x * 3)",
    "two arguments": "y = x * 0.5 + 1.0\n    return np.sum(x * y + np.sin(y))",
    "a line between reads the adjoint": "y = np.sin(x)\n    z = y * x\n    return np.sum(z * y + y)",
}


@pytest.mark.parametrize("name", SUMS)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_contributions_added_in_one_expression_give_the_same_gradient(name, shape):
    f = define(f"def f(x):\n    {SUMS[name]}\n")
    x = np.random.default_rng(len(shape)).uniform(0.2, 1.0, size=shape)
    x = float(x) if shape == () else x
    optimised = overbar.grad(f)(x)
    np.testing.assert_allclose(optimised, overbar.grad(f, optimise=False)(x), rtol=1e-12)
    overbar.check_grad(f, [x])


def test_the_gradient_of_sin_times_x_is_one_expression_without_copies():
    f = define(f"def f(x):\n    {SUMS['sin times x']}\n")
    text = overbar.grad(f).source_for(np.ones(5))
    assert "x_bar = np.sin(x) + x * np.cos(x)" in text, text  # as written by hand


REMAT = {
    "softplus": "return np.sum(np.log(1 + np.exp(x)))",
    "softplus by log1p": "return np.sum(np.log1p(np.exp(x)) * x)",
    "softplus read again": "e = np.exp(x)\n    return np.sum(np.log(1.0 + e) + e)",
    "read in a loop": "t = np.exp(x)\n    s = 0.0\n    for i in range(2):\n        s = s + np.sum(t * x)\n    return s",
    "random draw": "t = x * np.random.default_rng(0).normal(size=np.shape(x))\n    return np.sum(t * t)",
    "rebound operand": "a = np.exp(x)\n    t = a + 1.0\n    a = a * 2.0\n    return np.sum(np.log(t) * a)",
}


@pytest.mark.parametrize("name", REMAT)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_values_computed_at_their_reader_give_the_same_gradient(name, shape):
    f = define(f"def f(x):\n    {REMAT[name]}\n")
    x = np.random.default_rng(len(shape)).uniform(0.2, 1.0, size=shape)
    x = float(x) if shape == () else x
    np.testing.assert_allclose(overbar.grad(f)(x), overbar.grad(f, optimise=False)(x), rtol=1e-12)
    overbar.check_grad(f, [x])


def test_a_value_read_once_by_the_reverse_sweep_is_computed_there():
    f = define("def f(x):\n    return np.sum(np.log(2.0 + np.exp(x)))\n")
    text = overbar.grad(f).source_for(np.ones(5))
    assert "x_bar = tmp1 / (2.0 + tmp1)" in text, text


def test_softplus_written_out_is_differentiated_as_the_logistic_function_of_its_input():
    f = define(f"def f(x):\n    {REMAT['softplus']}\n")
    text = overbar.grad(f).source_for(np.ones(5))
    assert "x_bar = 1.0 / (1 + np.exp(-x))" in text, text
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])  # exp(x) overflows at the end
    np.testing.assert_allclose(overbar.grad(f, check=False)(x), 1 / (1 + np.exp(-x)))


SOFTPLUS_BY_LOGADDEXP = {
    "zero first": "return np.sum(np.logaddexp(0.0, x) * 2.0)",
    "zero last": "return np.sum(np.logaddexp(x, 0) * 2.0)",
    "read again": "s = np.logaddexp(0.0, x)\n    return np.sum(s * s)",
    "rebinding its argument": "x = np.logaddexp(0.0, x)\n    return np.sum(x * 2.0)",
    "of one": "return np.sum(np.logaddexp(1.0, x) * 2.0)",
    "of two variables": "return np.sum(np.logaddexp(x * 0.5, x) * 2.0)",
}


@pytest.mark.parametrize("name", SOFTPLUS_BY_LOGADDEXP)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_softplus_by_logaddexp_gives_the_literal_adjoints_gradient(name, shape):
    f = define(f"def f(x):\n    {SOFTPLUS_BY_LOGADDEXP[name]}\n")
    x = np.random.default_rng(len(shape)).normal(scale=3.0, size=shape)
    x = float(x) if shape == () else x
    np.testing.assert_allclose(overbar.grad(f)(x), overbar.grad(f, optimise=False)(x), rtol=1e-12)
    overbar.check_grad(f, [x])


def test_softplus_by_logaddexp_is_differentiated_without_the_logaddexp():
    for name in ("zero first", "zero last"):
        f = define(f"def f(x):\n    {SOFTPLUS_BY_LOGADDEXP[name]}\n")
        text = overbar.grad(f).source_for(np.ones(5))
        code = [line for line in text.splitlines() if not line.strip().startswith("#")]
        assert not any("logaddexp" in line for line in code), text
        assert "1 + np.exp(-x)" in text, text
    # where the other argument is not the constant zero, its own rule: exp(x - y)
    for name in ("of one", "of two variables"):
        f = define(f"def f(x):\n    {SOFTPLUS_BY_LOGADDEXP[name]}\n")
        assert "np.exp(-x)" not in overbar.grad(f).source_for(np.ones(5))
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    f = define(f"def f(x):\n    {SOFTPLUS_BY_LOGADDEXP['zero first']}\n")
    with np.errstate(over="ignore"):
        gradient = overbar.grad(f, check=False)(x)
    np.testing.assert_allclose(gradient, 2.0 * np.exp(x - np.logaddexp(0.0, x)), rtol=1e-13)


def test_a_negation_computed_where_it_is_negated_is_no_negation():
    f = define("def f(x):\n    return np.sum(np.log1p(np.exp(-np.abs(x))))\n")
    text = overbar.grad(f).source_for(np.linspace(-1.0, 1.5, 5))
    assert "--" not in text and "np.exp(np.abs(x))" in text, text
    overbar.check_grad(f, [np.linspace(-1.0, 1.5, 5)])


def test_contributions_to_one_adjoint_gather_past_other_lines():
    f = define("def f(x, y):\n    return np.sum(x * y + np.sin(y))\n")
    text = overbar.grad(f, wrt=(0, 1)).source_for(np.ones(4), np.ones(4))
    assert "y_bar = np.cos(y) + x" in text and "x_bar = 1.0 * y" in text, text
    x, y = np.linspace(0.1, 1.0, 4), np.linspace(1.0, 2.0, 4)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
