"""Forward values read again instead of computed again (``reuse.py``), a sum's negation moved
out of the sum and a kept axis taken away again (``peephole.py``), contributions led by the same
number factored (``sums.py``): where they apply, where a side condition fails, and the gradient
equal with every pass switched off, at several shapes."""

from __future__ import annotations

import ast
from dataclasses import replace

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define

# bodies of f(x, y), for x of rank one or more and y shaped like x
PROGRAMS = {
    "variance after the centred values": (
        "mu = x.mean(axis=-1, keepdims=True)\n"
        "    v = np.var(x, axis=-1, keepdims=True)\n"
        "    return np.sum((x - mu) * (v + 1.0) ** -0.5 * y)"
    ),
    "centred values written twice": (
        "mu = np.mean(x, axis=0, keepdims=True)\n"
        "    v = np.mean(np.square(x - mu), axis=0, keepdims=True)\n"
        "    return np.sum((x - mu) / np.sqrt(v + 1.0) * y)"
    ),
    "the mean rebound in a loop": (
        "mu = np.mean(x, axis=-1, keepdims=True)\n"
        "    for _ in range(2):\n"
        "        mu = mu * 0.5 + 0.1\n"
        "    v = np.var(x, axis=-1, keepdims=True)\n"
        "    return np.sum((x - mu) * v * y)"
    ),
    "written into between": (
        "z = x * 1.0\n"
        "    mu = np.mean(z, axis=-1, keepdims=True)\n"
        "    c = z - mu\n"
        "    z[..., 0] = 2.0\n"
        "    v = np.var(z, axis=-1, keepdims=True)\n"
        "    return np.sum(c * v * y)"
    ),
    "negated sum": (
        "m = np.sum(x * y, axis=-1, keepdims=True)\n    return np.sum(np.sin(x) / (2.0 + m * m))"
    ),
    "negated sum of integers": "return np.sum(x / (1.0 + np.sum(y, axis=0)))",
    "softplus less a product, averaged": "return np.mean(np.logaddexp(0.0, x) - y * x)",
    "two averages of products": "return np.mean(np.sin(x) * y) + np.mean(np.cos(x) * y) / 2.0",
}

SHAPES = {"vector": (5,), "matrix": (4, 3), "column": (4, 1), "row": (1, 4), "3-d": (3, 2, 4)}

SWITCHES = [Optimisations.none()] + [
    replace(Optimisations(), **{name: False}) for name in Optimisations.names()
]


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_pass_switched_off_gives_the_same_gradient(name, shape):
    f = define(f"def f(x, y):\n    {PROGRAMS[name]}\n")
    rng = np.random.default_rng(len(name) + len(shape))
    x = rng.uniform(0.3, 1.2, size=SHAPES[shape])
    y = rng.uniform(-1.0, 1.0, size=SHAPES[shape])
    optimised = overbar.grad(f, wrt=(0, 1))(x, y)
    overbar.check_grad(f, [x, y], wrt=(0, 1), rtol=1e-5, atol=1e-7)
    for optimisations in SWITCHES:
        other = overbar.grad(f, wrt=(0, 1), optimise=optimisations, check=False)(x, y)
        for mine, theirs in zip(optimised, other, strict=True):
            assert np.shape(mine) == np.shape(theirs)
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


def source_of(name, x, y):
    """The adjoint's source without its comments (which quote the user's lines)."""
    f = define(f"def f(x, y):\n    {PROGRAMS[name]}\n")
    text = overbar.grad(f, wrt=(0, 1)).source_for(x, y)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_the_variance_adjoint_reads_the_centred_values():
    text = source_of("variance after the centred values", np.ones((4, 3)), np.ones((4, 3)))
    assert "np.mean(x" not in text, text  # the method's mean, read as np.mean's
    assert text.count("x - mu") == 1, text


def test_centred_values_written_twice_are_computed_once():
    text = source_of("centred values written twice", np.ones((4, 3)), np.ones((4, 3)))
    assert text.count("x - mu") == 1, text


def test_a_rebound_name_is_not_read_for_its_old_value():
    text = source_of("the mean rebound in a loop", np.ones((4, 3)), np.ones((4, 3)))
    # the forward line, and the variance's adjoint: mu no longer holds the mean
    assert text.count("np.mean(x, axis=-1, keepdims=True)") == 2, text


def test_an_array_written_into_is_not_read_again():
    text = source_of("written into between", np.ones((4, 3)), np.ones((4, 3)))
    assert "z - np.mean(z, axis=-1, keepdims=True)" in text, text  # z changed since c


def test_nothing_is_read_again_without_shapes():
    f = define(f"def f(x, y):\n    {PROGRAMS['variance after the centred values']}\n")
    text = overbar.grad(f, wrt=(0, 1)).source  # shapes unknown: the operators may be a class's
    assert "np.mean(x, axis=-1, keepdims=True)" in text, text


def test_a_negated_sum_negates_its_result():
    text = source_of("negated sum", np.ones((4, 3)), np.ones((4, 3)))
    assert ".sum(axis=1, keepdims=True)" in text, text
    (m_bar,) = [line for line in text.splitlines() if line.strip().startswith("m_bar =")]
    assert m_bar.split("=", 1)[1].strip().startswith("-"), text  # the result negated, once
    assert "(-" not in text, text  # the terms are not negated one by one


def test_a_sum_of_terms_not_surely_floating_keeps_its_negation():
    from overbar.runtime import NUMPY
    from overbar.transpiler.peephole import _Rewriter

    rewriter = _Rewriter({}, set(), NUMPY, frozenset({"h"}), frozenset({"np"}))
    rewriter.adjoint_names = frozenset({"g_bar"})

    def rewritten(text):
        return ast.unparse(rewriter.visit(ast.parse(text, mode="eval").body))

    # unsigned integers would wrap before the sum widens them: the negation stays inside
    assert rewritten("np.sum(-k * k, axis=0)") == "np.sum(-k * k, axis=0)"
    assert rewritten("(-k * k).sum(axis=0)") == "(-k * k).sum(axis=0)"
    assert rewritten("np.sum(-g_bar * k, axis=0)") == "-np.sum(g_bar * k, axis=0)"
    assert rewritten("(-(h * k)).sum()") == "-(h * k).sum()"
    # a keyword the negation does not pass through
    assert rewritten("np.sum(-g_bar * k, initial=1.0)") == "np.sum(-g_bar * k, initial=1.0)"


def test_a_kept_axis_taken_away_again_is_not_kept():
    from overbar.runtime import NUMPY
    from overbar.transpiler.peephole import _Rewriter

    rewriter = _Rewriter({}, set(), NUMPY, frozenset(), frozenset({"np"}))

    def rewritten(text):
        return ast.unparse(rewriter.visit(ast.parse(text, mode="eval").body))

    assert rewritten("g.sum(axis=1, keepdims=True)[:, 0]") == "g.sum(axis=1)"
    assert rewritten("(-g.sum(axis=1, keepdims=True))[:, 0]") == "-g.sum(axis=1)"
    assert rewritten("np.sum(g, axis=0, keepdims=True)[0]") == "np.sum(g, axis=0)"
    for other in (
        "g.sum(axis=1, keepdims=True)[0]",  # takes the first row, not the kept axis
        "g.sum(axis=0, keepdims=True)[:, 0]",  # the kept axis is another one
        "g.sum(axis=-1, keepdims=True)[:, 0]",  # which axis depends on g's rank
        "g.sum(axis=1, keepdims=True)[:, 1]",  # out of range: raises, as it should
        "g.sum(axis=1)[:, 0]",  # the axis is not kept
    ):
        assert rewritten(other) == other
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(g.sum(axis=1, keepdims=True)[:, 0], g.sum(axis=1))


def test_contributions_led_by_the_same_number_are_factored():
    text = source_of("softplus less a product, averaged", np.ones(5), np.ones(5))
    assert "x_bar = 1.0 / x.size * (1.0 / (1 + np.exp(-x)) - y)" in text, text


def test_contributions_led_by_different_numbers_are_not_factored():
    from overbar.transpiler.sums import _factored

    def factored(left, op, right):
        node = _factored(
            ast.parse(left, mode="eval").body, op, ast.parse(right, mode="eval").body, bool
        )
        return None if node is None else ast.unparse(node)

    assert factored("-(1.0 / n) * y", ast.Add(), "1.0 / n * e") == "1.0 / n * (e - y)"
    assert factored("c * b", ast.Sub(), "-c * e") == "c * (b + e)"
    assert factored("1.0 / n * y", ast.Add(), "1.0 / m * e") is None  # not the same number
    assert factored("f(2.0) * y", ast.Add(), "f(2.0) * e") is None  # a call: may differ
    assert factored("-(1.0 / n) * y", ast.Sub(), "1.0 / n * e") is None  # -a b - a c
    # a quotient is led by its dividend: a / d = a * (1.0 / d)
    assert factored("-(1.0 / n) * y", ast.Add(), "1.0 / n / d") == "1.0 / n * (1.0 / d - y)"
    assert factored("-(1.0 / n) * y", ast.Add(), "1.0 / m / d") is None  # not the same number
    assert factored("-f(n) * y", ast.Add(), "f(n) / d") is None  # a call: may differ
    # a negative literal leads as the negated number
    assert factored("-2.0 * y", ast.Add(), "2.0 * e") == "2.0 * (e - y)"
    assert factored("-1.0 / n * y", ast.Add(), "1.0 / n * e") == "1.0 / n * (e - y)"
