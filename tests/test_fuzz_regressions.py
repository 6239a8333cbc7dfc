"""Programs the fuzzer (tests/fuzzer.py) found wrong or crashing, shrunk, kept as regressions.

Each is checked by the guard (optimised against literal adjoint, central differences) and by
``check_grad`` element by element.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

rng = np.random.default_rng(11)


def _uniform(*shape):
    return rng.uniform(0.5, 1.2, size=shape) * rng.choice([-1.0, 1.0], size=shape)


REGRESSIONS = {
    # np.matmul is a generalised ufunc: shape inference took it for an elementwise one, so
    # 0.3 / (x @ x) had x's shape and its adjoint was not summed (silently wrong).
    "matmul of vectors is a number": (
        "def f(x):\n    v = 0.3 / np.matmul(x, x)\n    return np.prod(x + v)",
        [np.array([-0.615, -1.336, 0.655])],
    ),
    "matmul of vectors added to a number": (
        "def f(s, x):\n    return s + np.matmul(x, x)",
        [0.7, _uniform(3)],
    ),
    "matmul of vectors added to an element": (
        "def f(x):\n    return np.add(x[0], np.matmul(x, x))",
        [_uniform(4)],
    ),
    # x ** 0 is 1 everywhere: its derivative is 0, not 0 * x ** -1 (nan at x = 0).
    "zeroth power at zero": (
        "def f(a):\n    return np.sum((np.cosh(a) - np.cosh(a)).reshape(-1, 1) ** 0.0)",
        [_uniform(3, 2)],
    ),
    "zeroth powers": (
        "def f(x):\n    return np.sum(x ** 0 + x ** 0.0 * x) + 2.0 ** 0 * np.sum(x)",
        [np.array([0.0, 0.5, -1.0])],
    ),
    # Python's sum over an array adds its rows: the adjoint is an array, not a tuple.
    "builtin sum of an array": ("def f(x):\n    return sum(np.cos(x))", [_uniform(3)]),
    "builtin sum of a matrix's rows": (
        "def f(x):\n    return np.sum(sum(x * x, 0.5) * np.arange(3.0))",
        [_uniform(4, 3)],
    ),
    "builtin sum in a loop": (
        "def f(x):\n    for i in range(4):\n        v = sum(x, 0.5)\n    return v",
        [_uniform(3)],
    ),
    "einsum of a product": (
        "def f(r):\n    return np.std(np.einsum('ij,jk->ik', r, r))",
        [_uniform(3, 3)],
    ),
    "einsum with a kept axis": (
        "def f(c, a):\n    return np.sum(np.einsum('ij,jk->ik', a, c.var(0, keepdims=True)))",
        [_uniform(3, 2), _uniform(4, 1)],
    ),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_fuzzer_finding(name):
    source, args = REGRESSIONS[name]
    f = define(source)
    wrt = tuple(range(len(args)))
    overbar.grad(f, wrt=wrt, check=True)(*args)
    overbar.check_grad(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)
