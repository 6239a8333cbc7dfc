"""A function that calls itself once, not in tail position, is differentiated as two loops
(``transpiler/linear_recursion.py``): one going down, keeping what each level's ``return``
reads, one coming back up. Where a side condition fails the function stays a recursion, and
its gradient is still right. Every gradient here is also checked by the guard (against the
literal adjoint and central differences); the tests compare with central differences
themselves too, since the literal adjoint is made from the same loops."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import overbar
from overbar.transpiler.linear_recursion import with_linear_recursion_as_loops
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.parse import parse
from tests.support import define, directional_check

REVERSE = Optimisations(forward=False)
KEPT_AS_PULLBACKS = Optimisations.parse("all,-inline")
OPTIMISATIONS = {
    "default": True,
    "reverse": REVERSE,
    "helpers kept": KEPT_AS_PULLBACKS,
    "literal": Optimisations.none(),
}

HORNER = """
def upto(c, x, i):
    if i == 0:
        return c[0] * np.ones_like(x)
    return upto(c, x, i - 1) * x + c[i]

def f(c, x):
    return np.sum(upto(c, x, len(c) - 1))
"""

# Each program: its source, its arguments (a random generator in, a list out), the positions
# to differentiate with respect to.
PROGRAMS = {
    "horner": (HORNER, lambda rng: [rng.normal(size=6), rng.uniform(-0.9, 0.9, 5)], (0, 1)),
    "horner at one point": (
        HORNER,
        lambda rng: [rng.normal(size=4), rng.uniform(-1, 1, 1)],
        (0, 1),
    ),
    "horner on a matrix of points": (
        HORNER,
        lambda rng: [rng.normal(size=5), rng.uniform(-0.9, 0.9, (3, 2))],
        (0, 1),
    ),
    "horner at a float": (HORNER, lambda rng: [rng.normal(size=5), 0.7], (0, 1)),
    "a sum over x[i], the recursion in the branch": (
        """
def squares_from(x, i):
    if i < x.shape[0]:
        return x[i] * x[i] + squares_from(x, i + 1)
    return 0.0

def f(x):
    return squares_from(x, 0)
""",
        lambda rng: [rng.normal(size=7)],
        (0,),
    ),
    "a sum over the rows of a matrix, broadcast against a row": (
        """
def rows_from(a, w, i):
    if i == a.shape[0]:
        return np.zeros(a.shape[1])
    else:
        return np.tanh(a[i] * w) + 0.5 * rows_from(a, w, i + 1)

def f(a, w):
    return np.sum(rows_from(a, w, 0) ** 2)
""",
        lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=3)],
        (0, 1),
    ),
    "a list": (
        """
def total(xs):
    if not xs:
        return 0.0
    return np.sum(xs[0] ** 2) + total(xs[1:]) * 0.5

def f(x):
    return total([x[0], x[1] * 2.0, np.sin(x[2])])
""",
        lambda rng: [rng.normal(size=(3, 2))],
        (0,),
    ),
    "through a helper that is not tail": (
        """
def cell(h, x):
    return np.tanh(h * 0.8 + x)

def run(x, n):
    if n == 0:
        return x
    return cell(run(x, n - 1), x)

def f(x):
    return np.sum(run(x, 6) ** 2)
""",
        lambda rng: [rng.normal(size=4)],
        (0,),
    ),
    "statements between, their names read after the call": (
        """
def f(x, n):
    if n == 0:
        return np.sum(x)
    y = np.sin(x) * n
    z = y * 0.5
    return f(x * 0.9, n - 1) * np.cos(np.sum(z)) + np.sum(y * x)
""",
        lambda rng: [rng.normal(size=3), 5],
        (0,),
    ),
    "a parameter changed on the way down and read after the call": (
        """
def f(x, n):
    if n == 0:
        return np.sum(x)
    return x[0] * f(x * 1.5, n - 1)
""",
        lambda rng: [rng.normal(size=3), 4],
        (0,),
    ),
    "a parameter rebound before the call, handed on as itself": (
        """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    x = np.sin(x) + 0.1
    return f(x, n - 1) * np.sum(x)
""",
        lambda rng: [rng.normal(size=3), 4],
        (0,),
    ),
    "the base returns the parameter itself": (
        """
def grow(x, n):
    if n == 0:
        return x
    return grow(x, n - 1) * 0.5 + x

def f(x):
    return np.sum(np.sin(grow(x, 5)))
""",
        lambda rng: [rng.normal(size=3)],
        (0,),
    ),
    "nothing kept per level": (
        """
def power(v, n):
    if n == 0:
        return np.ones_like(v)
    return v * power(v, n - 1)

def f(x):
    return np.sum(power(x, 4))
""",
        lambda rng: [rng.normal(size=5)],
        (0,),
    ),
    "a name bound in the return (:= is its line's assignment before it)": (
        """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return (y := np.sum(x)) * f(x, n - 1) + y
""",
        lambda rng: [rng.normal(size=3), 3],
        (0,),
    ),
    "a conditional expression, keywords, a docstring": (
        '''
def f(x, n, scale):
    """The levels' product."""
    return np.sum(x * scale) if n <= 0 else np.tanh(f(n=n - 1, scale=scale, x=x)) * scale + x[0]
''',
        lambda rng: [rng.normal(size=3), 4, 0.7],
        (0, 2),
    ),
}


@pytest.mark.parametrize("optimise", list(OPTIMISATIONS))
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_a_linear_recursion_is_differentiated_as_loops(name, optimise):
    source, arguments, wrt = PROGRAMS[name]
    f = define(source)
    args = arguments(np.random.default_rng(len(name)))
    gradient = overbar.grad(f, wrt=wrt, optimise=OPTIMISATIONS[optimise])
    found = gradient(*args)  # a tuple: wrt is one
    for position, analytic, numeric in directional_check(f, args, wrt, found):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8), position
    for position, value in zip(wrt, found, strict=True):
        assert np.shape(value) == np.shape(args[position])
    text = gradient.source_for(*args)
    assert "while " in text and " in range(" in text, text
    if optimise in ("default", "reverse") or "def f(x, n" in source:
        # no helper called per level: not even one, where the recursion is inlined
        assert "_pullback(" not in text and "_forward(" not in text, text


def test_horner_reads_like_the_two_loops():
    """The recursion's body, before and after."""
    upto = define(HORNER, "upto")
    parsed = with_linear_recursion_as_loops(parse(upto))
    where = f"upto ({Path(upto.__code__.co_filename).name}:{upto.__code__.co_firstlineno})"
    assert ast.unparse(parsed.tree) == textwrap.dedent(f"""\
        def upto(c, x, i):
            levels = []
            while not i == 0:
                check_recursion_depth(len(levels), '{where}')
                levels.append(i)
                i = i - 1
            result = c[0] * np.ones_like(x)
            for i in reversed(levels):
                result = result * x + c[i]
            return result""")


def test_horner_accumulates_the_coefficients_gradient_in_place():
    """The quadratic this removes: each level's pullback made a gradient as long as the
    coefficients and added the deeper level's to it."""
    f = define(HORNER)
    args = [np.ones(5), np.linspace(-0.5, 0.5, 4)]
    text = overbar.grad(f, wrt=(0, 1)).source_for(*args)
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("    for _ in range("))
    loop = []
    for line in lines[start + 1 :]:
        if not line.startswith("        "):
            break
        loop.append(line.strip())
    assert "c_bar[upto_i] += upto_result_bar.sum()" in loop, text
    assert not any("index_bar(" in line or "c_bar = " in line for line in loop), text


def test_the_names_the_loops_make_do_not_collide_with_the_users():
    f = define("""
def f(x, levels, result):
    if levels == 0:
        return np.sum(x) * result
    reversed_ = np.cos(x)
    return f(x, levels - 1, result) * np.sum(reversed_) + result
""")
    tree = with_linear_recursion_as_loops(parse(f)).tree
    source = ast.unparse(tree)
    assert "levels_2 = []" in source and "result_2 = " in source, source
    args = [np.array([0.3, -0.2]), 3, 1.3]
    analytic, numeric = directional_check(f, args, (0,), (overbar.grad(f)(*args),))[0][1:]
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_as_deep_as_the_function_itself_and_no_deeper():
    """Loops have no frame per level, but keep Python's limit: where the function is too deep
    for the interpreter, its gradient raises ``RecursionError`` too (a few levels short of the
    limit, where the function still returns, the gradient is right)."""
    f = define(HORNER)
    x = np.array([0.5, -0.25])
    limit = sys.getrecursionlimit()
    too_deep = np.random.default_rng(0).normal(size=limit + 500)
    with pytest.raises(RecursionError):
        f(too_deep, x)
    with pytest.raises(RecursionError, match=r"maximum recursion depth exceeded in upto \("):
        overbar.grad(f, wrt=(0, 1), check=False)(too_deep, x)
    length = limit - 100
    c = np.random.default_rng(0).normal(size=length)
    f(c, x)  # deep, within the limit
    c_bar, x_bar = overbar.grad(f, wrt=(0, 1), check=False)(c, x)
    powers = x[None, :] ** np.arange(length - 1, -1, -1)[:, None]
    np.testing.assert_allclose(c_bar, powers.sum(axis=1), rtol=1e-12)
    slopes = np.arange(length - 1, 0, -1)[:, None] * x ** np.arange(length - 2, -1, -1)[:, None]
    np.testing.assert_allclose(x_bar, (c[:-1, None] * slopes).sum(axis=0), rtol=1e-9)


def test_forward_mode_goes_through_the_loops():
    f = define(HORNER)
    rng = np.random.default_rng(3)
    c, x = rng.normal(size=5), rng.uniform(-0.9, 0.9, 4)
    direction = rng.normal(size=5)
    value, tangent = overbar.jvp(f, (c, x), (direction,), wrt=0)
    eps = 1e-6
    numeric = (f(c + eps * direction, x) - f(c - eps * direction, x)) / (2 * eps)
    assert value == pytest.approx(f(c, x))
    assert tangent == pytest.approx(numeric, rel=1e-6)


# -- where a side condition fails, the recursion stays one, and its gradient is right ----------

STAYS = {
    "two calls of itself (a tree recursion)": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return f(x * 0.9, n - 1) + f(np.sin(x), n - 1) * 0.5
""",
    "the call in its own arguments": """
def f(x, n):
    if n <= 0:
        return np.sum(x ** 2)
    return f(x * f(x, n - 1), n - 2) * 0.5
""",
    "the call in a conditional expression": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return (f(x, n - 1) if n > 2 else np.sum(x)) * 0.9
""",
    "the call after and": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return np.sum(x) * (n > 0 and f(x, n - 1))
""",
    "the call in a comprehension": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return sum([f(x * 0.5, n - 1) for _ in range(1)]) + np.sum(x)
""",
    "an augmented assignment between": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    y = x * 2.0
    y += 1.0
    return f(x, n - 1) * np.sum(y)
""",
    "a loop between": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    for _ in range(2):
        x = x * 0.9
    return f(x, n - 1) * 0.5 + np.sum(x)
""",
    "a write into an array between": """
def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    y = x * 1.0
    y[0] = 2.0 * y[0]
    return f(y, n - 1) * 0.5 + np.sum(x)
""",
    "a default left to the parameter": """
def f(x, n, scale=0.5):
    if n == 0:
        return np.sum(x ** 2)
    return f(x, n - 1) * scale + np.sum(x)
""",
    "no parameter changes (the recursion would never end)": """
def f(x, n):
    if n >= 0:
        return np.sum(x ** 2)
    return f(x, n) * 0.5
""",
    "reversed rebound": """
reversed = list

def f(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return f(x, n - 1) * 0.5 + np.sum(x) * n
""",
    "the name bound to another function": """
def g(x, n):
    if n == 0:
        return np.sum(x ** 2)
    return g(x, n - 1) * 0.5 + np.sum(x)

def other(x, n):
    return np.sum(np.sin(x)) * n

f = g
g = other
""",
}


@pytest.mark.parametrize("name", list(STAYS))
def test_other_recursions_stay_recursions_and_are_right(name):
    f = define(STAYS[name])
    parsed = parse(f)
    assert with_linear_recursion_as_loops(parsed) is parsed
    args = [np.array([0.4, -0.3, 0.8]), 3]
    try:
        found = overbar.grad(f)(*args)
    except overbar.OverbarError:
        return  # refused with a message is right (a write into a copy made in a helper)
    analytic, numeric = directional_check(f, args, (0,), (found,))[0][1:]
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_mutual_recursion_stays_a_recursion_and_is_right():
    f = define("""
def even(x, n):
    if n == 0:
        return np.sum(x)
    return np.cos(odd(x, n - 1))

def odd(x, n):
    if n == 0:
        return np.sum(x * x)
    return np.sin(even(x, n - 1)) * 2.0

def f(x):
    return even(x, 5)
""")
    x = np.array([0.3, -0.6])
    analytic, numeric = directional_check(f, [x], (0,), (overbar.grad(f)(x),))[0][1:]
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_second_derivatives_through_the_loops():
    """Forward over reverse goes through the loops; reverse over reverse does not
    differentiate a generated loop again, and says so (as for any loop)."""
    f = define(PROGRAMS["nothing kept per level"][0])  # the sum of x ** 4
    x = np.array([0.5, -1.2, 0.3])
    np.testing.assert_allclose(overbar.hessian(f)(x), np.diag(12.0 * x**2), rtol=1e-10)
    direction = np.array([1.0, 0.5, -2.0])
    np.testing.assert_allclose(
        overbar.hvp(f, (x,), direction), 12.0 * x**2 * direction, rtol=1e-10
    )
    with pytest.raises(overbar.OverbarError, match="overbar.hessian or overbar.hvp"):
        overbar.jacobian(overbar.grad(f))(x)
