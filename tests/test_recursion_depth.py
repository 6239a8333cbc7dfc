"""A recursion keeps Python's recursion limit under every transformation overbar makes of it
(``transpiler/recursion_depth.py``).

Where the function reaches its base case, the gradient (and jvp and hvp) is right; where it
never does, the function raises ``RecursionError`` and so does everything overbar makes of it,
in a thousand levels or so: the loops a tail or linear recursion becomes check their depth
against ``sys.getrecursionlimit()`` on every trip, and a recursion kept as one (mutual, or
calling itself twice) runs out of frames as the function does. No test here can hang when
the code is right: each recursion that never ends meets the limit within about a thousand
trips; one test lowers the limit, and restores it."""

from __future__ import annotations

import ast
import contextlib
import sys

import numpy as np
import pytest

import overbar
from overbar.transpiler.linear_recursion import with_recursion_as_loops
from overbar.transpiler.parse import parse
from tests.support import define, directional_check

# Each form: its source (f the function differentiated), arguments where it ends, arguments
# where it never does (the recursion counts past its base case), and whether overbar writes
# it as loops.
FORMS = {
    "linear, through a helper": (
        """
def upto(c, x, i):
    if i == 0:
        return c[0] * np.ones_like(x)
    return upto(c, x, i - 1) * x + c[i]

def f(c, x):
    return np.sum(upto(c, x, len(c) - 1))
""",
        lambda: [np.array([0.5, -1.0, 2.0, 0.25]), np.array([0.3, -0.7, 0.9])],
        lambda: [np.zeros(0), np.array([0.3, -0.7, 0.9])],  # len(c) - 1 is -1
        True,
    ),
    "linear, the function itself": (
        """
def f(x, n):
    if n == 0:
        return np.sum(x * x)
    return np.sin(f(x, n - 2)) + np.sum(x) * n
""",
        lambda: [np.array([0.3, -0.8]), 6],
        lambda: [np.array([0.3, -0.8]), 5],  # odd: steps over 0
        True,
    ),
    "tail, through a helper": (
        """
def settle(x, steps):
    if steps == 0:
        return x
    return settle(x * 0.9 + np.sin(x) * 0.3, steps - 1)

def f(x, steps):
    return np.sum(settle(x, steps) ** 2)
""",
        lambda: [np.array([0.4, -1.1, 0.2]), 5],
        lambda: [np.array([0.4, -1.1, 0.2]), -1],
        True,
    ),
    "tail, the function itself": (
        """
def f(x, steps):
    if steps <= 0 and steps >= 0:
        return np.sum(np.tanh(x))
    y = np.sin(x) * 0.9
    return f(y, steps - 1)
""",
        lambda: [np.array([0.4, -1.1]), 4],
        lambda: [np.array([0.4, -1.1]), -2],
        True,
    ),
    "mutual": (
        """
def even(x, n):
    if n == 0:
        return np.sum(x * x)
    return np.cos(odd(x, n - 1))

def odd(x, n):
    if n == 0:
        return np.sum(x)
    return np.sin(even(x * 0.5, n - 1)) * 2.0

def f(x, n):
    return even(x, n)
""",
        lambda: [np.array([0.3, -0.6]), 5],
        lambda: [np.array([0.3, -0.6]), -1],
        False,
    ),
    "calling itself twice": (
        """
def f(x, n):
    if n == 0 or n == 1:
        return np.sum(np.sin(x))
    return f(x, n - 1) * 0.5 + f(x * 0.5, n - 2) * 0.25
""",
        lambda: [np.array([0.3, -0.6]), 5],
        lambda: [np.array([0.3, -0.6]), -1],
        False,
    ),
}

GRADIENTS = {
    "default": {},
    "literal": {"optimise": False},
    "checked": {"check": True},
}


def _top(source: str):
    return define(source)


def _helper(source: str):
    """The recursive function in ``source``: the one f calls, or f itself."""
    tree = ast.parse(source)
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    return define(source, names[0])


@pytest.mark.parametrize("name", list(FORMS))
def test_the_rewrite_applies_where_expected(name):
    source, _, _, as_loops = FORMS[name]
    parsed = parse(_helper(source))
    rewritten = with_recursion_as_loops(parsed)
    assert (rewritten is not parsed) == as_loops
    if as_loops:
        assert "check_recursion_depth(" in ast.unparse(rewritten.tree)


@pytest.mark.parametrize("mode", list(GRADIENTS))
@pytest.mark.parametrize("name", list(FORMS))
def test_where_the_recursion_ends_the_gradient_is_right(name, mode):
    source, ends, _, _ = FORMS[name]
    f = _top(source)
    args = ends()
    found = overbar.grad(f, **GRADIENTS[mode])(*args)
    [(_, analytic, numeric)] = directional_check(f, args, (0,), (found,))
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("mode", list(GRADIENTS))
@pytest.mark.parametrize("name", list(FORMS))
def test_where_the_recursion_never_ends_the_gradient_raises(name, mode):
    source, _, never, _ = FORMS[name]
    f = _top(source)
    with pytest.raises(RecursionError):
        f(*never())
    with pytest.raises(RecursionError):
        overbar.grad(f, **GRADIENTS[mode])(*never())


@pytest.mark.parametrize("name", list(FORMS))
def test_forward_mode_ends_or_raises_as_the_function_does(name):
    source, ends, never, _ = FORMS[name]
    f = _top(source)
    args = ends()
    direction = np.random.default_rng(1).normal(size=np.shape(args[0]))
    value, tangent = overbar.jvp(f, args, (direction,), wrt=0)
    eps = 1e-6
    moved = [args[0] + eps * direction, *args[1:]], [args[0] - eps * direction, *args[1:]]
    assert value == pytest.approx(f(*args))
    assert tangent == pytest.approx((f(*moved[0]) - f(*moved[1])) / (2 * eps), rel=1e-6)
    args = never()
    with pytest.raises(RecursionError):
        overbar.jvp(f, args, (np.ones_like(args[0]),), wrt=0)


@pytest.mark.parametrize("name", list(FORMS))
def test_second_derivatives_end_or_raise_as_the_function_does(name):
    source, ends, never, _ = FORMS[name]
    f = _top(source)
    args = ends()
    direction = np.random.default_rng(2).normal(size=np.shape(args[0]))
    product = overbar.hvp(f, tuple(args), direction)
    gradient = overbar.grad(f)
    eps = 1e-6
    numeric = (
        gradient(args[0] + eps * direction, *args[1:])
        - gradient(args[0] - eps * direction, *args[1:])
    ) / (2 * eps)
    np.testing.assert_allclose(product, numeric, rtol=1e-5, atol=1e-8)
    args = never()
    with pytest.raises(RecursionError):
        overbar.hvp(f, tuple(args), np.ones_like(args[0]))


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextlib.contextmanager
def _recursion_limit(limit: int):
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.parametrize("name", [name for name, form in FORMS.items() if form[3]])
def test_the_loops_check_the_limit_in_force_when_they_run(name):
    source, _, never, _ = FORMS[name]
    gradient = overbar.grad(_top(source))
    with pytest.raises(RecursionError):
        gradient(*never())  # compiled, at the usual limit
    limit = _depth() + 120
    with _recursion_limit(limit), pytest.raises(RecursionError) as raised:
        gradient(*never())
    assert f"the recursion limit is {limit}" in str(raised.value)
    assert "maximum recursion depth exceeded in " in str(raised.value)
    assert ".py:" in str(raised.value)  # the user's function, its file and line


def test_a_global_of_the_checks_name_leaves_the_recursion_as_it_is():
    """The check's name means the user's object there: no loops are made (they could not
    check their depth), the pullbacks recurse, and run out of frames as the function does."""
    source = FORMS["tail, through a helper"][0]
    source = "check_recursion_depth = 3.0\n" + source.replace(
        "** 2", "** 2 * check_recursion_depth"
    )
    parsed = parse(define(source, "settle"))
    assert with_recursion_as_loops(parsed) is parsed
    f = define(source)
    args = FORMS["tail, through a helper"][1]()
    found = overbar.grad(f)(*args)
    [(_, analytic, numeric)] = directional_check(f, args, (0,), (found,))
    assert analytic == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(RecursionError):
        overbar.grad(f)(*FORMS["tail, through a helper"][2]())


def test_the_check_reads_like_the_recursion_it_keeps():
    """One line in the loop going down, naming the function, its file and its line."""
    source = FORMS["tail, the function itself"][0]
    f = define(source)
    text = overbar.grad(f).source_for(*FORMS["tail, the function itself"][1]())
    where = f"f ({f.__code__.co_filename.rsplit('/', 1)[-1]}:{f.__code__.co_firstlineno})"
    assert f'check_recursion_depth(depth, "{where}")' in text, text
