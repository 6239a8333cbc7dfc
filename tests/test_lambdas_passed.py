"""Lambdas written as an argument of a call of the user's own helper (``apply(lambda z: z * w,
x)``, ``layer(x, act=lambda z: np.maximum(z, 0))``): the call gets a copy of the helper made for
the lambda, which the normaliser writes into each call of it (``lambdas_passed.py``). Where a
side condition fails, the call is left as it is and the lambda refused at its line."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

HELPERS = """
def apply(f, v):
    return f(v) + f(2.0 * v)

def layer(v, W, act=np.tanh, scale=1.0):
    return scale * act(W @ v)

def pair(g, a, b):
    return g(a, b) * g(b, a)

def passes_on(f, v):
    return apply(f, v)

def rebinds(f, v):
    f = np.cos if v.shape[0] > 10 else f
    return f(v)

def keeps(f, v):
    fs = [f]
    return fs[0](v)

w_global = 0.7
"""

PROGRAMS = {
    "a lambda reading the caller's parameter": (
        "def f(x, w):\n    return np.sum(apply(lambda z: z * w, x) ** 2)\n",
        "def f(x, w):\n    return np.sum((x * w + 2.0 * x * w) ** 2)\n",
    ),
    "a keyword replacing a default": (
        "def f(x, W):\n    h = layer(x, W, act=lambda z: np.maximum(z, 0.1 * z), scale=2.0)\n"
        "    return np.sum(h ** 2)\n",
        "def f(x, W):\n    a = W @ x\n    return np.sum((2.0 * np.maximum(a, 0.1 * a)) ** 2)\n",
    ),
    "a lambda reading a local and a global": (
        "def f(x, w):\n    s = np.sin(w)\n    return np.sum(apply(lambda z: np.exp(z * s) * w_global, x))\n",
        "def f(x, w):\n    s = np.sin(w)\n"
        "    return np.sum(np.exp(x * s) * w_global + np.exp(2.0 * x * s) * w_global)\n",
    ),
    "a lambda of two parameters, in a loop": (
        "def f(x, y, w):\n    total = 0.0\n    for _ in range(3):\n"
        "        total = total + np.sum(pair(lambda a, b: a * np.tanh(b * w), x, y))\n"
        "        x = x * 0.9\n    return total\n",
        "def f(x, y, w):\n    total = 0.0\n    for _ in range(3):\n"
        "        total = total + np.sum((x * np.tanh(y * w)) * (y * np.tanh(x * w)))\n"
        "        x = x * 0.9\n    return total\n",
    ),
    "two lambdas to one helper": (
        "def f(x, w):\n    return np.sum(apply(lambda z: z * w, x) * apply(lambda z: np.sin(z), x))\n",
        "def f(x, w):\n    return np.sum((x * w + 2.0 * x * w) * (np.sin(x) + np.sin(2.0 * x)))\n",
    ),
}

RNG = np.random.default_rng(3)


def _arguments(source: str) -> list:
    names = source.split("(", 1)[1].split(")", 1)[0].split(", ")
    values = {"x": RNG.uniform(-1, 1, 3), "y": RNG.uniform(-1, 1, 3), "w": 0.8}
    values["W"] = RNG.uniform(-1, 1, (3, 3))
    return [values[name] for name in names]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("optimise", [True, False])
def test_a_lambda_passed_to_a_helper_is_differentiated(name, optimise):
    written, by_hand = PROGRAMS[name]
    f, g = define(HELPERS + written), define(HELPERS + by_hand)
    args = _arguments(written)
    wrt = tuple(range(len(args)))
    np.testing.assert_allclose(f(*args), g(*args), rtol=1e-12)
    got = overbar.grad(f, wrt=wrt, optimise=optimise)(*args)
    expected = overbar.grad(g, wrt=wrt)(*args)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert overbar.check_grad(f, args, wrt=wrt) < 1e-6


def test_the_copy_of_the_helper_binds_the_lambda_and_takes_what_it_reads():
    f = define(HELPERS + PROGRAMS["a lambda reading the caller's parameter"][0])
    x = RNG.uniform(-1, 1, 3)
    literal = overbar.grad(f, optimise=False).source_for(x, 0.8)
    assert "apply_f(x, w_f=w)" in literal  # the call of the copy, w passed by keyword


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("def f(x, w):\n    return np.sum(passes_on(lambda z: z * w, x))\n", "passed on"),
        ("def f(x, w):\n    return np.sum(rebinds(lambda z: z * w, x))\n", "rebound"),
        ("def f(x, w):\n    return np.sum(keeps(lambda z: z * w, x))\n", "stored"),
        ("def f(x, w):\n    return np.sum(apply(lambda z, k=2.0: z * k, x))\n", "default"),
        ("def f(x, w):\n    return np.sum(apply(lambda *zs: zs[0] * w, x))\n", "*args"),
        ("def f(x, w):\n    return np.sum(np.apply_along_axis(lambda r: r * w, 0, x))\n", "numpy"),
        ("def f(x, w):\n    g = apply\n    return np.sum(g(lambda z: z * w, x))\n", "local"),
    ],
)
def test_a_lambda_the_helper_does_not_only_call_is_refused_at_its_line(source, why):
    f = define(HELPERS + source)
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(f, wrt=0)(RNG.uniform(-1, 1, (3, 3)), 0.8)
    assert f"{f.__code__.co_filename}:{f.__code__.co_firstlineno + 1 + (why == 'local')}:" in str(
        caught.value
    ), why
