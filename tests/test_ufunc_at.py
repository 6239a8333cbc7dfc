"""``np.add.at(y, indices, v)``: a write into an array the function made, repeated indices
adding up (``ufunc_at.py`` makes it ``y[()] = added_at(y, indices, v)``); refused as every
write is where y is an argument or shared with another name, and left to the fence's refusal
where the call is not of that form."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from overbar.runtime.helpers_ufuncs import added_at
from tests.support import define

PROGRAMS = {
    "repeated indices into zeros": """
def f(x, v):
    y = np.zeros(4)
    np.add.at(y, [0, 2, 0, 3, 0], v * x[:5])
    return np.sum(np.sin(y) * x[1:5])
""",
    "into a copy, in a loop": """
def f(x, v):
    y = x * 1.0
    for k in range(3):
        np.add.at(y, np.array([1, 1, 2]), v * k + x[0])
        y = np.tanh(y)
    return np.sum(y ** 2)
""",
    "rows of a matrix, a broadcast value": """
def f(x, v):
    y = np.outer(x[:3], x[3:6])
    np.add.at(y, np.array([2, 0, 2]), v)
    return np.sum(y * y)
""",
    "a mask index and a branch": """
def f(x, v):
    y = np.ones_like(x)
    if np.sum(x) > -10.0:
        np.add.at(y, x > 0, v * 2.0)
    return np.sum(np.exp(y) * x)
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("v_shape", [(), "broadcast"])
def test_add_at_is_differentiated_with_every_repeated_index_adding(name, v_shape):
    f = define(PROGRAMS[name])
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 6)
    v = 0.7 if v_shape == () else rng.uniform(-1, 1, 3 if "rows" in name else 1)
    assert overbar.check_grad(f, [x, v], wrt=(0, 1)) < 1e-6
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, v)
    optimised = overbar.grad(f, wrt=(0, 1))(x, v)
    for a, b in zip(literal, optimised, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_each_repeated_index_reads_the_adjoint_where_it_was_added():
    f = define(PROGRAMS["repeated indices into zeros"])
    x, v = np.linspace(0.1, 0.6, 6), 1.0
    y = np.zeros(4)
    np.add.at(y, [0, 2, 0, 3, 0], x[:5])
    y_bar = np.cos(y) * x[1:5]  # ∂/∂y of sum(sin(y) * x[1:5])
    expected_v = np.sum(y_bar[[0, 2, 0, 3, 0]] * x[:5])
    np.testing.assert_allclose(overbar.grad(f, wrt=1)(x, v), expected_v, rtol=1e-12)
    source = overbar.grad(f, wrt=(0, 1)).source_for(x, v)
    assert "y[()] = added_at(y, [0, 2, 0, 3, 0]," in source, source


def test_added_at_is_add_at_as_a_value():
    y = np.arange(4.0)
    z = added_at(y, [1, 1, 3], np.array([1.0, 2.0, 5.0]))
    np.testing.assert_array_equal(z, [0.0, 4.0, 2.0, 8.0])
    np.testing.assert_array_equal(y, np.arange(4.0))  # a new array: y unchanged


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("    np.add.at(x, [0], v)\n    return np.sum(x)\n", "a write into the argument x"),
        (
            "    y = x * 1.0\n    z = y[1:]\n    np.add.at(y, [0], v)\n    return np.sum(z)\n",
            "a read of y that may be a view",
        ),
        (
            "    y = x * 1.0\n    w = y\n    np.add.at(y, [0], v)\n    return np.sum(w)\n",
            "a read of y that may be a view",
        ),
        (
            "    w = x * 1.0\n    y = w\n    np.add.at(y, [0], v)\n    return np.sum(w)\n",
            "may share its memory",
        ),
        ("    y = x * 1.0\n    np.subtract.at(y, [0], v)\n    return np.sum(y)\n", "expression"),
        ("    y = x * 1.0\n    np.add.at(y[1:], [0], v)\n    return np.sum(y)\n", "expression"),
    ],
)
def test_add_at_where_another_name_sees_the_change_is_refused(body, said):
    f = define(f"def f(x, v):\n{body}")
    with pytest.raises(UnsupportedSyntaxError, match=said):
        overbar.grad(f, wrt=1)(np.ones(4), 0.5)
