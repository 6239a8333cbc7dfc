"""Unpacking of a size known when compiling (``transpiler/unpacking.py``): ``f(*xs)`` of a
tuple or list whose length the lines before fix, ``f(**kw)`` of a dict whose keys they fix,
a starred element of a display, and a write into a list no other name sees, each written
out; and what stays refused."""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.parse import parse
from overbar.transpiler.unpacking import with_known_unpacking
from tests.support import define

RNG = np.random.default_rng(17)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5))]

HELPERS = """
def three(a, b, c, scale=1.0):
    return np.sum(a * np.sin(b) * np.tanh(c)) * scale
"""

PROGRAMS = {
    "*display": "return three(*(x, y, x))",
    "*tuple named": "t = (x, y, y)\n    return three(*t)",
    "*list, then a write into it": "xs = [x, y, x]\n    xs[1] = np.cos(y)\n    return three(*xs)",
    "list(tuple), a write by a negative index": (
        "t = (x, y, y)\n    xs = list(t)\n    xs[-1] = xs[0] * 2.0\n    return three(*xs)"
    ),
    "an append, then *": "xs = [x]\n    xs.append(y)\n    xs.append(x * y)\n    return three(*xs)",
    "* of a slice": "xs = [y, x, y, x]\n    return three(*xs[1:])",
    "a starred element of a display": "xs = [x, y]\n    ys = [*xs, y]\n    return three(*ys)",
    "* and more arguments": "xs = (x,)\n    return three(y, *xs, x)",
    "**display": 'return three(x, y, x, **{"scale": 2.0})',
    "**dict named": 'kw = {"c": x, "scale": np.sum(y)}\n    return three(x, y, **kw)',
    "**dict(...)": "kw = dict(b=y, c=x * 2.0)\n    return three(x, **kw)",
    "* and ** in a branch where neither changes": (
        "xs = [x, y]\n    kw = {'scale': 3.0}\n    if np.sum(x) > 0:\n"
        "        s = three(*xs, x, **kw)\n    else:\n        s = three(x, *xs)\n    return s"
    ),
    "* in a loop where it does not change": (
        "xs = (x, y)\n    s = 0.0\n    for k in range(2):\n"
        "        s = s + three(*xs, y)\n    return s"
    ),
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_unpacking_of_a_known_size_is_differentiated(name, shapes):
    f = define(HELPERS + f"def f(x, y):\n    {PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def _written(source: str) -> str:
    f = define(textwrap.dedent(source))
    return ast.unparse(with_known_unpacking(parse(f)).tree)


def test_the_pass_writes_each_unpacking_out():
    written = _written("""
        def f(x, y):
            xs = list((x, y))
            xs[0] = x * 2.0
            kw = {"axis": 0, "keepdims": y}
            return g(*xs, **kw)
        """)
    assert "xs = [x * 2.0, xs[1]]" in written
    assert "return g(xs[0], xs[1], axis=0, keepdims=kw['keepdims'])" in written


def test_a_write_at_an_index_read_from_outside_is_checked_when_it_runs():
    f = define(
        HELPERS
        + "K = 2\n\ndef f(x, y):\n    xs = [x, y, y]\n    xs[K] = np.exp(x)\n"
        + "    return three(*xs)\n"
    )
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    gradient = overbar.grad(f, wrt=(0, 1))
    source = gradient.source_for(x, y)
    assert "assert K == 2" in source
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    f.__globals__["K"] = 1  # the adjoint made for K == 2 must not run for another K
    with pytest.raises(AssertionError, match="differentiated for K == 2"):
        gradient(x, y)


REFUSED = {
    "a length a branch changes": (
        "xs = [x]\n    if np.sum(x) > 0:\n        xs = [x, y]\n    return np.sum(np.add(*xs))",
        "a starred expression of a length not known",
        "*xs",
    ),
    "a length a loop changes, at a call in it": (
        "xs = []\n    for k in range(2):\n        xs.append(x)\n"
        "        s = np.sum(np.add(*xs))\n    return s",
        "a starred expression of a length not known",
        "*xs",
    ),
    "keys a branch changes": (
        "kw = {'axis': 0}\n    if np.sum(x) > 0:\n        kw = {}\n"
        "    return np.sum(np.sum(x, **kw))",
        "**keyword unpacking of a dict whose keys are not known",
        "**kw",
    ),
    "a write into a list another name sees": (
        "xs = [x, y]\n    ys = xs\n    xs[0] = y\n    return np.sum(ys[0])",
        "a write into xs",
        "xs = [x, y]",
    ),
    "a write at an index known only when it runs": (
        "xs = [x, y]\n    i = int(np.sum(x) > 0)\n    xs[i] = y\n    return np.sum(np.add(*xs))",
        "a write into xs",
        "xs = [x, y]",
    ),
    "a keyword given twice": (
        "kw = {'axis': 0}\n    return np.sum(np.sum(x, axis=0, **kw))",
        "**keyword unpacking",
        "**kw",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_what_stays_refused_is_refused_at_its_line(name):
    body, what, spot = REFUSED[name]
    f = define(f"def f(x, y):\n    {body}\n")
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(f)(np.ones(3), np.ones(3))
    message = str(caught.value)
    assert what in message
    source_line = message.splitlines()[1]
    assert spot in source_line
