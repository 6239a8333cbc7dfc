"""``(a * b).sum()`` of two vectors of one length read as ``a @ b`` in the reverse sweep
(``inner_products.py``), and where it is not. Every gradient here is also checked by the guard
(against the literal adjoint and central differences) and against central differences below."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define


def _checked_source(source, args, wrt):
    f = define(source)
    gradient = overbar.grad(f, wrt=wrt)
    result = gradient(*args)
    result = result if isinstance(result, tuple) else (result,)
    eps = 1e-6
    for position, value in zip(wrt, result, strict=True):
        base = np.asarray(args[position], dtype=float)
        numeric = np.zeros_like(base)
        for i in range(base.size):
            step = np.zeros_like(base)
            step.flat[i] = eps
            up, down = list(args), list(args)
            up[position], down[position] = base + step, base - step
            numeric.flat[i] = (f(*up) - f(*down)) / (2 * eps)
        np.testing.assert_allclose(value, numeric, rtol=1e-5, atol=1e-7)
    return gradient.source_for(*args)


def _reverse_lines(source: str) -> str:
    """The reverse sweep's lines, its comments (the forward lines they undo) left out."""
    reverse = source.split("# return", 1)[1].splitlines()[1:]
    return "\n".join(line for line in reverse if not line.strip().startswith("#"))


SCALED = """
def f(s, v, t):
    y = s * v
    return np.sum(np.sin(y) * t)
"""


def test_the_adjoint_of_a_number_scaling_a_vector_is_an_inner_product():
    rng = np.random.default_rng(7)
    args = [0.7, rng.normal(size=6), rng.normal(size=6)]
    source = _checked_source(SCALED, args, wrt=(0, 1))
    reverse = _reverse_lines(source)
    assert "sum(" not in reverse and "s_bar = y_bar @ v" in reverse


@pytest.mark.parametrize(
    ("v", "t"),
    [
        ((1,), (6,)),  # v has one element: broadcast by *, refused by @
        ((4, 6), (4, 6)),  # matrices: @ is a matrix product, not a sum
    ],
)
def test_a_product_that_may_broadcast_or_is_not_of_vectors_is_summed(v, t):
    rng = np.random.default_rng(8)
    args = [0.7, rng.normal(size=v), rng.normal(size=t)]
    source = _checked_source(SCALED, args, wrt=(0, 1))
    assert "sum(" in _reverse_lines(source)


PASS_INPUT = """
def f_grad(a, b, c, m, g):
    s_bar = EXPRESSION
    return s_bar
"""


@pytest.mark.parametrize(
    ("expression", "rewritten"),
    [
        ("(a * b).sum()", True),
        ("np.sum(a * b)", True),
        ("(a * b).sum(axis=0)", False),  # an argument: kept (only the plain sum is read)
        ("np.sum(a * b, dtype=np.float32)", False),  # a keyword may change the arithmetic
        ("(a * c).sum()", False),  # c has one element: * broadcasts it, @ would raise
        ("(a * m).sum()", False),  # a matrix: @ is a matrix product
        ("(a * g).sum()", False),  # an adjoint that may hold the runtime zero, a number
        ("(a + b).sum()", False),  # not a product
    ],
)
def test_the_pass_reads_only_plain_sums_of_products_of_vectors_of_one_length(
    expression, rewritten
):
    import ast

    from overbar.runtime import NUMPY
    from overbar.runtime.shapes import argument_shape, named
    from overbar.transpiler.inner_products import inner_products
    from overbar.transpiler.reverse import Adjoint

    tree = ast.parse(PASS_INPUT.replace("EXPRESSION", expression)).body[0]
    vector = named(argument_shape(np.zeros(5)), "a")
    adjoint = Adjoint(
        tree=tree,
        forward_length=0,
        temporaries=frozenset(),
        bindings=(("np", np),),
        effects=frozenset(),
        shapes=(
            ("a", vector),
            ("b", vector),
            ("c", argument_shape(np.zeros(1))),
            ("m", argument_shape(np.zeros((5, 5)))),
            ("x", vector),
        ),
        maybe_zero=frozenset({"g"}),
        adjoints=(("g", "x"),),
    )
    source = ast.unparse(inner_products(adjoint, NUMPY).tree)
    assert ("s_bar = a @ " in source) == rewritten


def test_an_adjoint_popped_from_a_list_and_shaped_is_a_vector_of_its_values_length():
    source = """
def f(w, x):
    n = len(x) - len(w) + 1
    y = sum(w[j] * x[j : j + n] for j in range(len(w)))
    return np.sum(y * y)
"""
    rng = np.random.default_rng(10)
    args = [rng.normal(size=3), rng.normal(size=9)]
    generated = _checked_source(source, args, wrt=(0, 1))
    assert "sum(" not in _reverse_lines(generated).replace("sum_bars(", "")
    assert " @ " in _reverse_lines(generated)


@pytest.mark.parametrize(
    ("between", "rewritten"),
    [
        ("", True),
        ("g = h", False),  # rebound after it was shaped: its shape is not known
        ("for i in r:\n        g = h", False),  # rebound in a loop between
    ],
)
def test_a_name_is_known_shaped_until_it_is_rebound(between, rewritten):
    import ast

    from overbar.runtime import NUMPY
    from overbar.runtime.helpers import adjoint_like
    from overbar.runtime.shapes import argument_shape, named
    from overbar.transpiler.inner_products import inner_products
    from overbar.transpiler.reverse import Adjoint

    source = """
def f_grad(a, g, h, r):
    g = adjoint_like(g, a)
    BETWEEN
    s_bar = (g * a).sum()
    return s_bar
""".replace("BETWEEN", between or "pass")
    tree = ast.parse(source).body[0]
    adjoint = Adjoint(
        tree=tree,
        forward_length=0,
        temporaries=frozenset(),
        bindings=(("np", np), ("adjoint_like", adjoint_like)),
        effects=frozenset(),
        shapes=(("a", named(argument_shape(np.zeros(5)), "a")),),
    )
    result = ast.unparse(inner_products(adjoint, NUMPY).tree)
    assert ("s_bar = g @ a" in result) == rewritten
