"""cancel.py: a number multiplied into a product and divided out of it again, cancelled.

Per rewrite: source in, source out; each side condition failing leaves the product as it is;
end to end, the derivative of ``‖r‖²`` computed without the norm, against central differences
(the guard compares it with the literal adjoint too), and its value at ``r = 0``.
"""

from __future__ import annotations

import ast
from dataclasses import replace

import numpy as np
import pytest

import overbar
from overbar.transpiler.cancel import cancel_quotients
from overbar.transpiler.reverse import Adjoint
from tests.support import define


def _cancelled(line: str, shapes: dict) -> str:
    tree = ast.parse(f"def f_grad(r):\n    {line}\n    return r_bar").body[0]
    adjoint = Adjoint(
        tree=tree,
        forward_length=0,
        temporaries=frozenset(),
        bindings=(),
        effects=frozenset(),
    )
    adjoint = replace(adjoint, shapes=tuple(shapes.items()))
    return ast.unparse(cancel_quotients(adjoint).tree.body[0])


def test_a_number_multiplied_in_and_divided_out_is_cancelled():
    line = "r_bar = 1.0 / m * 2 * n / n * r"
    assert _cancelled(line, {"n": ()}) == "r_bar = 1.0 / m * 2 * r"
    # first in the chain, and divided by first: the rest keeps its division
    assert _cancelled("r_bar = n * g / n / m", {"n": ()}) == "r_bar = g / m"
    inner = "r_bar = (n * a * 0.5 / n - b) * 2.0"  # a chain inside an expression
    assert _cancelled(inner, {"n": ()}) == "r_bar = (a * 0.5 - b) * 2.0"


def test_an_operand_cancelled_is_only_a_number_known_as_one():
    line = "r_bar = 2.0 * n / n * r"
    assert _cancelled(line, {"n": ("many",)}) == line  # an array: it broadcasts the chain
    assert _cancelled(line, {}) == line  # not known
    assert _cancelled("r_bar = 2.0 * n / m * r", {"n": (), "m": ()}) == "r_bar = 2.0 * n / m * r"


def test_a_chain_of_integers_keeps_its_division():
    line = "r_bar = k * n / n"  # integers: the quotient is a float, k need not be
    assert _cancelled(line, {"n": ()}) == line


SQUARED_NORM = """
def f(w, X, y):
    return np.linalg.norm(X @ w - y) ** 2 / len(y)
"""


def test_the_squared_norms_derivative_computes_no_norm():
    f = define(SQUARED_NORM)
    rng = np.random.default_rng(1)
    args = (rng.normal(size=3), rng.normal(size=(6, 3)), rng.normal(size=6))
    overbar.check_grad(f, args)
    text = overbar.grad(f).source_for(*args)
    code = [line for line in text.splitlines() if not line.strip().startswith("#")]
    assert not any("norm(" in line for line in code), text


@pytest.mark.unchecked  # the literal adjoint gives 0 / 0 there
def test_the_squared_norms_derivative_at_zero_is_zero():
    f = define(SQUARED_NORM)
    X = np.eye(3)
    gradient = overbar.grad(f)(np.ones(3), X, np.ones(3))
    np.testing.assert_array_equal(gradient, np.zeros(3))


def test_the_norm_alone_keeps_its_quotient():
    f = define("""
        def f(x):
            return 3.0 * np.linalg.norm(x)
        """)
    x = np.array([3.0, 4.0])
    np.testing.assert_allclose(overbar.grad(f)(x), 3.0 * x / 5.0, rtol=1e-14)


# -- a sum of quotients times their divisors ---------------------------------------------------

S = ("many",)


def _distributed(reverse: str, shapes: dict, forward: str = "") -> str:
    from overbar.transpiler.cancel import distribute_quotients

    forward_body = ast.parse(forward).body if forward else []
    source = "def f_grad(p, q, y):\n    pass\n"
    tree = ast.parse(source).body[0]
    tree.body = forward_body + ast.parse(reverse).body + ast.parse("return z_bar").body
    adjoint = Adjoint(
        tree=tree,
        forward_length=len(forward_body),
        temporaries=frozenset(),
        bindings=(),
        effects=frozenset(),
    )
    adjoint = replace(adjoint, shapes=tuple(shapes.items()))
    body = distribute_quotients(adjoint).tree.body[:-1]
    return "\n".join(ast.unparse(statement) for statement in body)


CROSS_ENTROPY = (
    "p_bar = 0.5 * a / q - 0.5 * y / p\n__overbar_comment__('p')\nz_bar = p_bar * p * q"
)


def test_a_sum_of_quotients_times_their_divisors_is_distributed():
    shapes = {"p": S, "q": S}
    written = _distributed(CROSS_ENTROPY, shapes)
    assert written == "__overbar_comment__('p')\nz_bar = 0.5 * a * p - 0.5 * y * q"
    # a factor no term divides by multiplies the sum; 1.0 - p, 1 - p and 1 + -p are one value
    other = "p_bar = 2.0 * a / (1.0 - p) + 3.0 * y / p\nz_bar = 0.5 * p_bar * p * (1 + -p)"
    assert _distributed(other, {"p": S}) == ("z_bar = (2.0 * a * p + 3.0 * y * (1 + -p)) * 0.5")
    # a divisor bound in the forward sweep to the factor's value, then read by nothing
    forward = "t = 1.0 - p"
    named = "p_bar = 2.0 * a / t - 2.0 * y / p\nz_bar = p_bar * p * (1 - p)"
    assert _distributed(named, {"p": S, "t": S}, forward) == (
        "z_bar = 2.0 * a * p - 2.0 * y * (1 - p)"
    )


@pytest.mark.parametrize(
    "reverse, shapes",
    [
        # the sum read again
        (CROSS_ENTROPY + "\nw_bar = p_bar", {"p": S, "q": S}),
        # a divisor that is no factor of the product
        ("p_bar = 0.5 * a / r - 0.5 * y / p\nz_bar = p_bar * p * q", {"p": S, "q": S, "r": S}),
        # factors of different shapes: a term would lose the larger
        (CROSS_ENTROPY, {"p": S, "q": ()}),
        # factors of shapes not known
        (CROSS_ENTROPY, {}),
        # one factor divided by: the terms would keep none
        ("p_bar = 0.5 * a / p - 0.5 * y / p\nz_bar = p_bar * p * q", {"p": S, "q": S}),
        # a product that divides
        ("p_bar = 0.5 * a / q - 0.5 * y / p\nz_bar = p_bar * p / q", {"p": S, "q": S}),
        # a statement between
        (
            "p_bar = 0.5 * a / q - 0.5 * y / p\ny = y + 1.0\nz_bar = p_bar * p * q",
            {"p": S, "q": S},
        ),
        # a term of integers: the quotient is a float, the product may not be
        ("p_bar = a / q - k * y / p\nz_bar = p_bar * p * q", {"p": S, "q": S}),
        # a term that is no quotient
        ("p_bar = 0.5 * a / q - 0.5 * y\nz_bar = p_bar * p * q", {"p": S, "q": S}),
    ],
)
def test_a_sum_of_quotients_stays_where_a_side_condition_fails(reverse, shapes):
    assert "p_bar" in _distributed(reverse, shapes)


CROSS_ENTROPY_OF_A_LOGISTIC = {
    "sigmoid": (
        "p = 1.0 / (1.0 + np.exp(-(X @ w)))\n"
        "    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))"
    ),
    "log1p": (
        "p = 1.0 / (1.0 + np.exp(-(X @ w)))\n"
        "    return -np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p))"
    ),
    "summed and divided": (
        "p = 1 / (1 + np.exp(-(X @ w)))\n"
        "    return -np.sum(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)) / len(y)"
    ),
}


@pytest.mark.parametrize("name", CROSS_ENTROPY_OF_A_LOGISTIC)
@pytest.mark.parametrize("samples", [1, 5])
def test_the_cross_entropy_of_a_logistic_is_differentiated_without_its_quotients(name, samples):
    f = define(f"def f(w, X, y):\n    {CROSS_ENTROPY_OF_A_LOGISTIC[name]}\n")
    rng = np.random.default_rng(samples)
    args = (
        rng.normal(size=3),
        rng.normal(size=(samples, 3)),
        (rng.normal(size=samples) > 0) * 1.0,
    )
    overbar.check_grad(f, args)
    text = overbar.grad(f).source_for(*args)
    assert "p_bar" not in text and "/ p" not in text, text


@pytest.mark.unchecked  # p rounds to 1: the loss is NaN, the literal adjoint gives 0 / 0
def test_the_cross_entropy_where_the_logistic_rounds_to_one_has_a_finite_gradient():
    f = define(f"def f(w, X, y):\n    {CROSS_ENTROPY_OF_A_LOGISTIC['sigmoid']}\n")
    gradient = overbar.grad(f)(np.array([40.0, 0.0, 0.0]), np.eye(3)[:2], np.array([1.0, 0.0]))
    np.testing.assert_allclose(gradient, [0.0, 0.25, 0.0], atol=1e-15)
