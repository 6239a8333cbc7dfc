"""A list's adjoint kept as a Python list through a reverse loop (``list_adjoints.py``).

Each gradient is checked by the guard against the literal adjoint and central differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

RNG = np.random.default_rng(3)
W, U = RNG.normal(size=(4, 4)) * 0.4, RNG.normal(size=(3, 4)) * 0.4
XS, H0 = RNG.normal(size=(6, 3)), RNG.normal(size=4)


def test_a_list_grown_and_read_at_its_end_gets_one_list_adjoint():
    f = define("""
        def f(W, U, xs, h0):
            hs = [h0]
            for t in range(xs.shape[0]):
                hs.append(np.tanh(hs[-1] @ W + xs[t] @ U))
            return np.sum(hs[-1] ** 2)
        """)
    text = overbar.grad(f, wrt=(0, 1, 3)).source_for(W, U, XS, H0)
    assert "split_last" not in text and "add_elementwise" not in text, text
    assert "hs_bar = listed(hs_bar, hs)" in text and "= hs_bar.pop()" in text
    assert "add_item(hs_bar, -1, " in text and "hs_bar = tuple(hs_bar)" in text
    overbar.check_grad(f, [W, U, XS, H0], wrt=(0, 1, 3))


@pytest.mark.parametrize(
    "read",
    [
        "hs[-1] + 0.5 * hs[0]",  # another element read in the loop: an integer index too
        "hs[-1] + 0.1 * sum(hs)",  # the whole list read: it stays a tuple
        "hs[-1] + 0.5 * hs[-2:][0]",  # a slice: not an element
        "hs[len(hs) - 1]",  # an index computed in the loop
    ],
    ids=["two elements", "the whole list", "a slice", "a computed index"],
)
def test_other_reads_of_the_list_stay_right(read):
    f = define(f"""
        def f(W, xs, h0):
            hs = [h0, h0 * 0.5]
            for t in range(xs.shape[0]):
                hs.append(np.tanh(({read}) @ W + np.sum(xs[t])))
            return np.sum(hs[-1] ** 2) + np.sum(hs[1])
        """)
    overbar.check_grad(f, [W, XS, H0], wrt=(0, 2))
    literal = overbar.grad(f, wrt=(0, 2), optimise=False)(W, XS, H0)
    optimised = overbar.grad(f, wrt=(0, 2))(W, XS, H0)
    for a, b in zip(optimised, literal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_list_of_numbers_read_at_its_end():
    f = define("""
        def f(x, steps):
            xs = [x]
            for _ in range(steps):
                xs.append(xs[-1] - 0.1 * (xs[-1] ** 3 - 2.0 * xs[-1]))
            return xs[-1]
        """)
    overbar.check_grad(f, [0.7, 20])
    reverse_mode = overbar.Optimisations(forward=False)  # by forward mode, it has no adjoint
    assert "add_item" in overbar.grad(f, optimise=reverse_mode).source_for(0.7, 20)


@pytest.mark.parametrize(
    "display, rebind, read",
    [
        ("[x[0], x[1], x[2]]", "xs = xs[1:]", "xs[0]"),
        ("(x[0], x[1], x[2])", "xs = xs[1:]", "xs[0]"),
        ("[x[0], x[1], x[2]]", "xs = xs[0:2]", "xs[1]"),
        ("[x[0], x[1] * 2.0, np.sin(x[2])]", "xs = xs[-2:]", "xs[-1] * xs[0]"),
    ],
)
def test_a_sequence_rebound_to_its_own_slice_in_a_loop(display, rebind, read):
    """``xs = xs[1:]`` in a loop: the adjoint of the overwritten list is what flows on (it went
    to the name the older value was popped into, and the gradient was zero)."""
    f = define(f"""
        def f(x):
            xs = {display}
            for k in range(2):
                {rebind}
            return np.sum(({read}) ** 2)
        """)
    x = RNG.normal(size=(3, 2))
    gradient = overbar.grad(f, check=False)(x)
    eps = 1e-6
    direction = RNG.normal(size=x.shape)
    numeric = (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)
    assert np.sum(gradient * direction) == pytest.approx(numeric, rel=1e-6)
    overbar.check_grad(f, [x])


# -- a list only split in the reverse loop (made by appends, summed after the loop) -----------


@pytest.mark.parametrize(
    "body",
    [
        "return sum(np.log(np.exp(r).sum()) for r in X)",
        "items = []\n    for r in X:\n        items.append(np.sum(r * r))\n    return sum(items)",
        "items = []\n    for r in X:\n        items.append(np.tanh(r))\n"
        "    return np.sum(sum(items) ** 2)",
        "return sum([np.max(r) + np.log(np.sum(np.exp(r - np.max(r)))) for r in X])",
    ],
    ids=["generator", "appends", "rows summed", "list comprehension"],
)
def test_a_list_summed_after_its_loop_is_popped_not_split(body):
    f = define(f"def f(X):\n    {body}\n")
    X = RNG.normal(size=(6, 4))
    text = overbar.grad(f).source_for(X)
    assert "split_last" not in text and ".pop()" in text and "listed(" in text, text
    overbar.check_grad(f, [X])
    literal = overbar.grad(f, optimise=False)(X)
    np.testing.assert_allclose(overbar.grad(f)(X), literal, rtol=1e-10, atol=1e-12)


def _split_only_of(body_source: str, listed_as: dict[str, str]) -> dict[str, str]:
    import ast
    import textwrap

    from overbar.runtime import NUMPY
    from overbar.transpiler import list_adjoints

    forms = list_adjoints._Forms("split_last", "add_elementwise", "item_bar", NUMPY, {})
    forms.listed_as = listed_as
    return list_adjoints._split_only(ast.parse(textwrap.dedent(body_source)).body, forms)


def test_split_only_side_conditions():
    """``L = listed(L, xs)`` before the loop, pops in it: only where the body pops xs at
    least as often as it splits L and names xs nowhere else, L being xs's adjoint."""
    split_and_pop = "a, L = split_last(L)\nxs.pop()\n"
    assert _split_only_of(split_and_pop, {"L": "xs"}) == {"L": "xs"}
    assert _split_only_of(split_and_pop, {}) == {}  # L the adjoint of no list known
    assert _split_only_of("a, L = split_last(L)\n", {"L": "xs"}) == {}  # xs never popped
    twice = "a, L = split_last(L)\nb, L = split_last(L)\nxs.pop()\n"
    assert _split_only_of(twice, {"L": "xs"}) == {}  # fewer pops than splits
    named = split_and_pop + "y = xs[0]\n"
    assert _split_only_of(named, {"L": "xs"}) == {}  # xs read otherwise
    appended = split_and_pop + "xs.append(a)\n"
    assert _split_only_of(appended, {"L": "xs"}) == {}  # xs grown in the loop


# -- a list read by index in a loop, never split ---------------------------------------------

READ_BY_INDEX = {
    "for over list()": """
        def f(coeffs, x):
            p = np.zeros(x.shape, dtype=np.float64)
            for c in list(coeffs):
                p = x * p + c
            return float(p.sum())
        """,
    "index into list()": """
        def f(coeffs, x):
            cs = list(coeffs)
            p = np.zeros_like(x)
            for i in range(len(cs)):
                p = p * x + cs[i]
            return np.sum(p)
        """,
    "index into tuple(), from the end": """
        def f(coeffs, x):
            cs = tuple(coeffs)
            p = np.zeros_like(x)
            for i in range(1, len(cs) + 1):
                p = p * x + cs[-i] * 0.5
            return np.sum(p)
        """,
}


@pytest.mark.parametrize("source", list(READ_BY_INDEX.values()), ids=list(READ_BY_INDEX))
@pytest.mark.parametrize(("terms", "points"), [(1, 1), (4, 1), (5, 3)])
def test_a_list_read_by_index_in_a_loop_gets_one_list_adjoint(source, terms, points):
    f = define(source)
    rng = np.random.default_rng(terms * 7 + points)
    args = [rng.normal(size=terms), rng.uniform(-0.9, 0.9, size=points)]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    assert "item_bar" not in text and "add_item(" in text, text
    overbar.check_grad(f, args, wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(*args)
    for got, want in zip(overbar.grad(f, wrt=(0, 1))(*args), literal, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_list_of_parameters_read_by_index_gets_one_list_adjoint():
    f = define("""
        def f(weights, x):
            total = 0.0
            for i in range(len(weights)):
                total = total + np.sum(np.tanh(weights[i] * x))
            return total
        """)
    weights = [np.linspace(0.1, 0.5, 3), np.linspace(-0.4, 0.2, 3), np.ones(3)]
    x = np.array([0.3, -0.2, 0.5])
    text = overbar.grad(f, wrt=(0, 1)).source_for(weights, x)
    assert "add_item(" in text, text
    overbar.check_grad(f, [weights, x], wrt=(0, 1))


@pytest.mark.parametrize(
    "body",
    [
        # the list grown in the loop: it does not keep its length
        "p = p * x + cs[i]\n                cs.append(p[0] * 0.1)",
        # the whole list read in the loop
        "p = p * x + cs[i] + 0.1 * sum(cs)",
    ],
)
def test_a_list_changed_or_read_whole_in_the_loop_keeps_its_tuple(body):
    f = define(f"""
        def f(coeffs, x):
            cs = []
            for c in coeffs:
                cs.append(c * 1.0)
            p = np.zeros_like(x)
            for i in range(len(coeffs)):
                {body}
            return np.sum(p)
        """)
    rng = np.random.default_rng(5)
    args = [rng.normal(size=4), rng.uniform(-0.9, 0.9, size=3)]
    overbar.check_grad(f, args, wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(*args)
    for got, want in zip(overbar.grad(f, wrt=(0, 1))(*args), literal, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_dict_with_integer_keys_read_in_a_loop_keeps_its_dict_adjoint():
    f = define("""
        def f(a, b, x):
            d = {0: a, 1: b}
            total = 0.0
            for i in range(2):
                total = total + np.sum(d[i] * x)
            return total
        """)
    args = [np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.3, 0.7])]
    overbar.check_grad(f, args, wrt=(0, 1, 2))


def test_a_list_element_replaced_in_the_loop_is_refused_at_its_line():
    f = define("""
        def f(coeffs, x):
            cs = []
            for c in coeffs:
                cs.append(c * 1.0)
            p = np.zeros_like(x)
            for i in range(len(coeffs)):
                cs[i] = cs[i] * 2.0
                p = p * x + cs[i]
            return np.sum(p)
        """)
    with pytest.raises(overbar.OverbarError, match="a write into cs"):
        overbar.grad(f, wrt=(0, 1))(np.ones(3), np.ones(2))
