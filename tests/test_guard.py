"""The guard: ``grad(f, check=True)`` validates each new adjoint on its first call."""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest

import overbar
from overbar import guard
from overbar.transpiler import pipeline
from tests.support import define


def _swap_first_product_for_a_sum(adjoint):
    """A broken optimiser: the first product of the reverse sweep becomes a sum."""
    for statement in adjoint.tree.body[adjoint.forward_length :]:
        for node in ast.walk(statement):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                node.op = ast.Add()
                return adjoint
    return adjoint


def test_a_wrong_optimiser_is_caught_with_both_sources(monkeypatch):
    real = pipeline.peephole
    monkeypatch.setattr(
        pipeline,
        "peephole",
        lambda a, runtime, namespace=None: _swap_first_product_for_a_sum(
            real(a, runtime, namespace)
        ),
    )
    f = define("def f(x):\n    return np.sum(np.sin(x) * x)\n")
    x = np.array([0.3, -0.8, 1.2])
    with pytest.raises(overbar.GradientCheckError) as caught:
        overbar.grad(f, check=True)(x)
    message = str(caught.value)
    assert "disagrees with the literal adjoint" in message
    assert "optimised adjoint:\ndef f_grad(x):" in message
    assert "literal adjoint:\ndef f_grad(x):" in message and "seed(result)" in message
    assert isinstance(caught.value, overbar.OverbarError)
    # Without the check the same wrong gradient would have been returned.
    wrong = overbar.grad(f, check=False)(x)
    assert not np.allclose(wrong, np.cos(x) * x + np.sin(x))


@pytest.mark.unchecked
def test_a_wrong_rule_is_caught_by_differences():
    f = define("""
        def triple(v):
            return v * 3.0

        @overbar.adjoint(triple)
        def triple_adjoint(y, v, y_bar):
            return y_bar * 2.0

        def f(x):
            return np.sum(triple(x) ** 2)
        """)
    with pytest.raises(overbar.GradientCheckError, match="central differences") as caught:
        overbar.grad(f, check=True)(np.array([0.5, 1.0]))
    assert "adjoint:\ndef f_grad(x):" in str(caught.value)
    # Unchecked, the wrong rule's gradient goes through: 2 (2 * 3x) where 3 (2 * 3x) is right.
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(overbar.grad(f, check=False)(x), 12.0 * x, rtol=1e-12)


@pytest.mark.unchecked
def test_the_environment_variable_turns_the_check_on_and_off(monkeypatch):
    calls = []
    real = guard.validate
    monkeypatch.setattr(guard, "validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    f = define("def f(x):\n    return np.sum(x * x)\n")
    x = np.ones(3)
    monkeypatch.setenv("OVERBAR_CHECK", "0")
    overbar.grad(f)(x)
    assert calls == []
    monkeypatch.setenv("OVERBAR_CHECK", "1")
    g = overbar.grad(f)  # the same gradient object: x's shapes are known to it, unchecked
    x = np.ones(4)
    g(x), g(x), g(2 * x)  # new shapes, seen first with the check on: checked once
    assert calls == [1]
    g(np.ones((2, 2)))  # new shapes: a new adjoint, checked
    assert calls == [1, 1]
    overbar.grad(f, check=False)(np.ones(5))
    assert calls == [1, 1]


def test_random_draws_from_numpy_are_checked_at_the_same_draws():
    f = define("def f(x):\n    return np.sum(x * x * np.random.normal(size=x.shape))\n")
    x = np.array([0.5, -1.0, 2.0])
    np.random.seed(5)
    expected = overbar.grad(f, check=False)(x)
    after_unchecked = np.random.get_state()[1].copy()
    np.random.seed(5)
    checked = overbar.grad(f, check=True)(x)
    np.testing.assert_allclose(checked, expected, rtol=1e-15)
    # the check leaves the generator where the user's own call left it
    np.testing.assert_array_equal(np.random.get_state()[1], after_unchecked)


def test_a_function_whose_value_changes_is_not_checked_and_says_so():
    generator = np.random.default_rng(0)
    f = define(
        "def f(x):\n    return np.sum(x * generator.normal(size=x.shape))\n",
        namespace={"generator": generator},
    )
    with pytest.warns(UserWarning, match="different values at the same arguments"):
        overbar.grad(f, check=True)(np.array([1.0, 2.0]))


def test_value_and_grad_and_several_arguments_are_checked():
    f = define("""
        def f(W, b, x):
            return np.sum(np.tanh(W @ x + b) ** 2)
        """)
    args = [np.full((2, 3), 0.3), np.array([0.1, -0.2]), np.array([1.0, 0.5, -0.5])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (W_bar, b_bar) = overbar.value_and_grad(f, wrt=(0, 1), check=True)(*args)
    assert np.isclose(value, f(*args))
    assert W_bar.shape == (2, 3) and b_bar.shape == (2,)


def test_arguments_by_keyword_by_default_and_integers_are_checked():
    f = define("""
        def f(x, s=1.5, *, k=2):
            return np.sum(np.sin(x) * s ** k)
        """)
    x = np.array([0.2, 0.4])
    grads = overbar.grad(f, wrt=("x", "s"), check=True)(x)
    np.testing.assert_allclose(grads[1], np.sum(np.sin(x)) * 2 * 1.5, rtol=1e-12)
    grads = overbar.grad(f, wrt=("x", "s"), check=True)(x=x, s=2, k=3)
    np.testing.assert_allclose(grads[1], np.sum(np.sin(x)) * 3 * 4.0, rtol=1e-12)
