"""Tests of a name that can only hold None, decided when compiling (``none_tests.py``): a
helper's optional argument left to its default of None, tested with ``is None``."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError
from overbar.transpiler.none_tests import without_none_tests
from overbar.transpiler.normalize import normalize
from overbar.transpiler.parse import parse
from tests.support import define

rng = np.random.default_rng(11)
W, U = rng.normal(size=(4, 4)) * 0.4, rng.normal(size=(3, 4))
B, XS = rng.normal(size=4), rng.normal(size=(5, 2, 3))

LINEAR = """
def linear(x, weight, bias=None):
    out = x @ weight
    if bias is not None:
        out = out + bias
    return out

def layer(W, x, b, activation=None):
    z = W @ x + b
    return z if activation is None else activation(z)

def relu(z):
    return np.maximum(z, 0.0)
"""


def test_a_default_of_none_tested_in_an_inlined_helper_takes_no_branch():
    f = define(LINEAR + """
def f(W, U, b, xs):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for x in xs:
        h = np.tanh(linear(h, W) + linear(x, U, bias=b))
    return np.sum(h ** 2)
""")
    gradient = overbar.grad(f, wrt=(0, 1, 2))
    source = gradient.source_for(W, U, B, XS)
    assert "linear_bias = None" in source  # the binding stays, its test's branch goes
    assert "+ linear_bias" not in source  # b's test stays: b is an argument, it may be None
    assert source.count("if ") == 2 and "if tmp" in source
    overbar.check_grad(f, [W, U, B, XS], wrt=(0, 1, 2))


def test_a_function_argument_left_to_none_and_called_is_still_refused():
    f = define("""
def apply(x, g=None):
    return g(x)

def f(x):
    return np.sum(apply(x))
""")
    with pytest.raises(OverbarError):
        overbar.grad(f)(B)


# Side conditions that fail: the test is not decided, and the branch stays.
UNDECIDED = {
    "bound to something else too": """
def f(x, c):
    b = None
    if c > 0:
        b = x * 2.0
    t = 0.0
    if b is not None:
        t = np.sum(b)
    return t + np.sum(x)
""",
    "bound only inside a branch before the test": """
def f(x, c):
    t = np.sum(x)
    for i in range(2):
        if c > 0:
            b = None
        else:
            b = 1.0
        if b is None:
            t = t * 2.0
    return t
""",
    "a parameter": """
def f(x, c, b=None):
    if b is None:
        return np.sum(x * c)
    return np.sum(x)
""",
}


def folded(source: str) -> bool:
    """Whether the pass decides a test of the normal form of ``f`` in ``source``."""
    form = normalize(parse(define(source)))
    return without_none_tests(form) is not form


@pytest.mark.parametrize("source", list(UNDECIDED.values()), ids=list(UNDECIDED))
@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_test_of_a_name_that_may_hold_more_than_none_stays(source, c):
    assert not folded(source)
    if "b = x * 2.0" in source:  # the counterpart whose every binding is None is decided
        assert folded(source.replace("b = x * 2.0", "b = None"))
    overbar.check_grad(define(source), [B, c])


LOOPED = """
def f(x):
    t = np.sum(x)
    for i in range(3):
        m = None
        if m is None:
            t = t * 1.5
        else:
            t = t * x[0]
    return t
"""


def test_a_none_bound_before_its_test_in_a_loop_is_decided():
    f = define(LOOPED)
    assert folded(LOOPED)
    assert not folded(
        LOOPED.replace("        m = None\n", "").replace("    t = np", "    m = 1\n    t = np")
    )
    source = overbar.grad(f).source_for(B)
    assert "x[0]" not in source  # the else branch went
    overbar.check_grad(f, [B])
