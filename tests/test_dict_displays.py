"""Dicts made in the function: displays with literal keys (``{"a": x, 0: y}``) and ``dict(...)``
with its keys written in the call (keywords, pairs, another display). The adjoint of a dict is a
dict of the keys a gradient reached; each value's adjoint is read from it under its key."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import MissingRuleError, UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(13)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 2)), ((), ())]

HELPERS = """
def make(x, y):
    return {"a": np.sin(x), "b": x * y}

def made_by_dict(x, y):
    return dict([("a", x)], b=y * 2.0)
"""

PROGRAMS = {
    "a display, read by key": (
        "d = {'a': x, 'b': np.tanh(y), 0: x * y}\n"
        "    return np.sum(d['a'] * d['b']) + np.sum(d[0])"
    ),
    "a helper returning a dict": "d = make(x, y)\n    return np.sum(d['a'] * d['b'])",
    "a value unread": "d = {'a': x, 'b': y}\n    return np.sum(np.exp(d['a']))",
    "a key given twice: the last value": (
        "d = {'a': x, 'a': y * 3.0}\n    return np.sum(d['a'] * x)"
    ),
    "dict(keywords)": "d = dict(p=x, q=np.sin(y))\n    return np.sum(d['p'] * d['q'])",
    "dict(pairs, keyword)": "d = made_by_dict(x, y)\n    return np.sum(d['a'] ** 2 * d['b'])",
    "dict(display, keyword overriding)": (
        "d = dict({'a': x, 'b': y}, a=y * 3.0)\n    return np.sum(d['a'] * d['b'] + x)"
    ),
    "a loop over a display": (
        "d = {'a': x, 'b': 2.0 * y}\n    total = 0.0\n    for k in d:\n"
        "        total = total + np.sum(np.tanh(d[k]))\n    return total"
    ),
    "a display in a branch": (
        "d = {'a': x, 'b': y}\n    if np.sum(x) > 0:\n        d = {'a': x * x, 'b': y}\n"
        "    return np.sum(d['a'] * d['b'])"
    ),
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_dict_made_in_the_function_is_differentiated(name, shapes):
    f = define(HELPERS + f"def f(x, y):\n    {PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    if shapes[0] == ():
        x, y = float(x), float(y)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_the_last_value_under_a_key_is_the_one_differentiated():
    f = define("def f(x, y):\n    d = dict([('a', x)], a=y)\n    return np.sum(d['a'] * 2.0)\n")
    gx, gy = overbar.grad(f, wrt=(0, 1))(np.ones(2), np.ones(2))
    np.testing.assert_array_equal(gx, [0.0, 0.0])
    np.testing.assert_array_equal(gy, [2.0, 2.0])


def test_the_adjoint_reads_each_value_under_its_key():
    f = define(HELPERS + "def f(x, y):\n    d = make(x, y)\n    return np.sum(d['a'] * d['b'])\n")
    source = overbar.grad(f, wrt=(0, 1)).source_for(np.ones(3), np.ones(3))
    assert 'entry_bar(d_bar, "a")' in source or "entry_bar(result_bar" in source


def test_a_dict_display_has_a_tangent_too():
    f = define("def f(x):\n    d = {'a': x, 'b': x * x}\n    return d['a'] * np.sin(d['b'])\n")
    x, v = RNG.uniform(-1.0, 1.0, size=(2, 3))
    _, tangent = overbar.jvp(f, (x,), (v,))
    expected = (np.sin(x * x) + x * np.cos(x * x) * 2 * x) * v
    np.testing.assert_allclose(tangent, expected, rtol=1e-12)


def test_dict_with_keys_known_only_when_it_runs_is_refused_at_its_line():
    source = "def f(x, keys):\n    d = dict(zip(keys, (x, x * 2.0)))\n    return np.sum(d['a'])\n"
    f = define(source)
    with pytest.raises(MissingRuleError, match="dict") as caught:
        overbar.grad(f)(np.ones(2), ("a", "b"))
    assert "d = dict(zip(keys, (x, x * 2.0)))" in str(caught.value)


@pytest.mark.parametrize("mode", ["grad", "jvp", "hvp"])
def test_a_key_computed_when_it_runs_is_refused_at_its_line(mode):
    """In the user's code in every mode (forward mode takes ``{k: v}`` only in the adjoints
    overbar generates, for a gradient with respect to a dict taken in the function)."""
    f = define("def f(x, k):\n    d = {k: x}\n    return np.sum(d[k])\n")
    x = np.ones(2)
    with pytest.raises(UnsupportedSyntaxError, match="a key computed when it runs"):
        if mode == "grad":
            overbar.grad(f)(x, "a")
        elif mode == "jvp":
            overbar.jvp(f, (x, "a"), (x,), wrt=0)
        else:
            overbar.hvp(f, (x, "a"), x)


OPAQUE = """
class Table:
    def __init__(self, entries):
        self.entries = entries

    def as_dict(self):
        return dict(self.entries)

    def as_list(self):
        return [value for _, value in self.entries]
"""


def test_a_loop_over_a_dict_whose_keys_are_not_known_is_refused_when_it_runs():
    # by position, the loop would read {1: 0.0, 0: 1.0}[0] = 1.0 as its first key
    f = define(
        OPAQUE + "\ndef f(x, table):\n    d = table.as_dict()\n    total = 0.0\n"
        "    for k in d:\n        total = total + np.sum(x * d[k]) * (k + 1.0)\n"
        "    return total\n"
    )
    table = f.__globals__["Table"]([(1, 0.0), (0, 1.0)])
    # the method written out where it is called (objects.py), the dict it makes is seen when
    # compiling: refused then; kept as a pullback (an object whose method cannot be written
    # out), when the loop runs
    refusal = "a loop over a dict whose keys were not|a loop over the dict d, whose keys are"
    with pytest.raises(overbar.OverbarError, match=refusal):
        overbar.grad(f)(np.ones(3), table)


def test_a_loop_over_a_list_a_method_returns_still_runs():
    f = define(
        OPAQUE + "\ndef f(x, table):\n    total = 0.0\n"
        "    for w in table.as_list():\n        total = total + np.sum(np.sin(x * w))\n"
        "    return total\n"
    )
    table = f.__globals__["Table"]([(1, 0.5), (0, 2.0)])
    x = RNG.uniform(-1.0, 1.0, size=3)
    expected = 0.5 * np.cos(0.5 * x) + 2.0 * np.cos(2.0 * x)
    np.testing.assert_allclose(overbar.grad(f)(x, table), expected, rtol=1e-12)
