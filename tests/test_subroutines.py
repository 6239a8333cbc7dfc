"""Calls of the user's own functions: each gets a generated pullback, checked end to end."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

import overbar
from tests.support import define

rng = np.random.default_rng(11)
W = rng.normal(size=(3, 3)) * 0.5
V = rng.normal(size=3)

HELPERS = """
def affine(W, x, b=0.0, *, scale=1.0):
    return scale * (W @ x) + b

def cell(W, h, x):
    return np.tanh(affine(W, h) + x)

def power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    return x * power(x, n - 1)

def clipped_sum(v, limit):
    total = 0.0
    for i in range(v.shape[0]):
        if v[i] > limit:
            total = total + limit
        else:
            total = total + v[i] * v[i]
    return total
"""

PROGRAMS = {
    "keywords and defaults": """
        def f(W, x):
            return np.sum(affine(W, x) * affine(W, x, 0.5, scale=2.0))
        """,
    "helper calling helper in a loop": """
        def f(W, x):
            h = x * 0.0
            for t in range(3):
                h = cell(W, h, x)
            return np.sum(h ** 2)
        """,
    "recursion with a depth argument": """
        def f(W, x):
            return np.sum(power(W @ x, 4))
        """,
    "loop inside a branch inside a helper": """
        def f(W, x):
            return clipped_sum(W @ x, 0.2) + clipped_sum(x, -5.0)
        """,
    "helper result used twice": """
        def f(W, x):
            y = cell(W, x, x)
            return np.sum(y * y) + np.sum(cell(W, y, x))
        """,
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_helper_program_against_finite_differences(name):
    f = define(HELPERS + textwrap.dedent(PROGRAMS[name]))
    overbar.check_grad(f, [W, V], wrt=(0, 1))


def test_helper_returning_a_tuple_in_a_loop():
    f = define("""
        def step(x, v, k, dt):
            a = -k * x
            v = v + dt * a
            return x + dt * v, v

        def f(k, x0, v0):
            x = x0
            v = v0
            for i in range(20):
                x, v = step(x, v, k, 0.1)
            return np.sum(x ** 2) + 0.5 * np.sum(v)
        """)
    overbar.check_grad(f, [1.5, V, V * 0.3], wrt=(0, 1, 2))
    only_x = define("""
        def both(a, b):
            return a * b, a + b

        def f(x, y):
            p, q = both(x, y)
            return np.sum(np.sin(p))
        """)
    overbar.check_grad(only_x, [V, V * 2], wrt=(0, 1))


def test_tuples_and_lists_built_and_unpacked():
    f = define("""
        def f(x, y):
            pair = (x, y * 2.0)
            p, q = pair
            parts = [x, np.tanh(y)]
            stacked = np.stack(parts)
            alias = pair
            r, s = alias
            return np.sum(p * q) + np.sum(stacked ** 2) + np.sum(r * s) + np.sum(parts[1] * x)
        """)
    overbar.check_grad(f, [V, V * 0.5], wrt=(0, 1))


def test_helper_that_fills_an_array_of_its_own():
    f = define("""
        def fill(v, n):
            out = np.zeros(n)
            for i in range(n):
                out[i] = np.sum(v) * i + v[i % v.shape[0]]
            return out

        def f(x):
            a = fill(x, 5)
            b = fill(a, 3)
            return np.sum(a * a) + np.sum(np.sin(b))
        """)
    overbar.check_grad(f, [V])


def test_each_helper_has_one_pullback_in_the_source():
    f = define(HELPERS + textwrap.dedent(PROGRAMS["helper calling helper in a loop"]))
    source = overbar.grad(f, wrt=(0, 1)).source
    assert source.count("def cell_pullback(") == 1
    assert source.count("def affine_pullback(") == 1
    assert re.search(r"cell_pullback\(W, \w+, x, result_bar=h_bar\)", source)
    assert "np.tanh" not in source.split("def cell_pullback")[0].split("result_bar = seed")[1]


def test_helper_imported_from_another_module(tmp_path, monkeypatch):
    (tmp_path / "user_helpers.py").write_text(
        "import numpy as np\n\ndef softplus(v):\n    return np.log1p(np.exp(v))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    f = define("""
        from user_helpers import softplus

        def f(x):
            return np.sum(softplus(x) * x)
        """)
    overbar.check_grad(f, [V])
    assert "def softplus_pullback(v, *, result_bar):" in overbar.grad(f).source


def test_helper_only_on_constants_gets_no_pullback():
    f = define(HELPERS + "def f(x):\n    return np.sum(x * affine(np.eye(3), np.ones(3)))\n")
    assert "pullback" not in overbar.grad(f).source


def test_a_helpers_pullback_is_specialised_on_the_shapes_at_its_call():
    source = """
def layer(W, b, x):
    return np.tanh(W @ x + b)


def loss(W1, b1, W2, b2, x, t):
    h = layer(W1, b1, x)
    y = layer(W2, b2, h)
    return 0.5 * np.sum((y - t) ** 2)
"""
    loss = define(source, "loss")
    rng = np.random.default_rng(0)
    args = [rng.normal(size=shape) for shape in [(5, 3), (5, 1), (2, 5), (2, 1), (3, 7), (2, 7)]]
    text = overbar.grad(loss, wrt=(0, 1, 2, 3)).source_for(*args)
    assert "W_bar = tmp2_bar @ x.T" in text and "unbroadcast" not in text, text
    assert "W2_bar, b2_bar, h_bar = layer_pullback(W2, b2, h, result_bar=y_bar)" in text
    assert "W1_bar, b1_bar = layer_pullback_2(W1, b1, x, result_bar=h_bar)" in text
    assert "def layer_pullback(W, b, x, *, result_bar):" in text
    assert "def layer_pullback_2(W, b, x, *, result_bar):" in text  # listed as it is called
    overbar.check_grad(loss, args, wrt=(0, 1, 2, 3))
    batch_of_one = [a[:, :1] if a.shape[1] == 7 else a for a in args]
    overbar.check_grad(loss, batch_of_one, wrt=(0, 1, 2, 3))
