"""einsum's adjoint in generated code: only the active operands' adjoints are made
(``registry.active_arguments`` written as the line's flags), and the two-operand contractions,
batch labels included, are products of matrices; each checked against finite differences at
several shapes."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.runtime.registry import active_arguments
from tests.support import define


def test_active_arguments_run_on_their_own_want_every_argument():
    assert active_arguments((1.0, 2.0, 3.0)) == (True, True, True)
    assert active_arguments(()) == ()


def test_a_constant_operand_gets_no_adjoint():
    f = define("def f(x, R):\n    return np.einsum('ij,ij->', np.tanh(x), R)\n")
    g = overbar.grad(f)
    rng = np.random.default_rng(0)
    x, R = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    overbar.check_grad(f, (x, R))
    np.testing.assert_allclose(g(x, R), R * (1 - np.tanh(x) ** 2), rtol=1e-12)
    assert "(True, False)" in g.source_for(x, R)


def test_both_operands_active_both_adjoints_made():
    f = define("def f(a, b):\n    return np.sum(np.einsum('ij,jk->ik', a, b) ** 2)\n")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    overbar.check_grad(f, (a, b), wrt=(0, 1))
    assert "(True, True)" in overbar.grad(f, wrt=(0, 1)).source_for(a, b)


def test_the_same_array_twice_one_active():
    # a appears as both operands; only the second name is the parameter differentiated
    f = define("def f(a, c):\n    return np.einsum('ij,ij->', a * c, a)\n")
    rng = np.random.default_rng(2)
    overbar.check_grad(f, (rng.normal(size=(2, 3)), rng.normal(size=(2, 3))), wrt=(1,))
    overbar.check_grad(f, (rng.normal(size=(2, 3)), rng.normal(size=(2, 3))), wrt=(0,))


def test_operands_passed_starred_keep_every_adjoint():
    # the tuple is not a display at the line: the flags cannot be read, every adjoint is made
    f = define(
        "def f(x, y):\n    arrays = (x, y)\n    return np.sum(np.einsum('ij,jk->ik', *arrays))\n"
    )
    rng = np.random.default_rng(3)
    overbar.check_grad(f, (rng.normal(size=(2, 3)), rng.normal(size=(3, 2))))


def test_the_interleaved_form_with_a_constant_operand():
    f = define("def f(x, W):\n    return np.sum(np.einsum(x, [0, 1], W, [1, 2], [0, 2]) ** 2)\n")
    rng = np.random.default_rng(4)
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    overbar.check_grad(f, (x, W), wrt=(0,))
    overbar.check_grad(f, (x, W), wrt=(1,))


@pytest.mark.parametrize(
    "subscripts, shapes",
    [
        ("bqd,bkd->bqk", [(2, 3, 4), (2, 5, 4)]),
        ("bqd,bkd->bqk", [(1, 1, 1), (1, 2, 1)]),
        ("qbd,kbd->bkq", [(3, 2, 4), (5, 2, 4)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 2), (2, 2, 4, 2)]),
        ("bi,bi->b", [(4, 3), (4, 3)]),
        ("bi,bj->bij", [(3, 2), (3, 4)]),
        ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
        ("ij,jk", [(3, 4), (4, 2)]),
        ("bi,ij->bj", [(4, 1), (3, 2)]),  # a length 1 broadcast: einsum's own contraction
        ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),  # an ellipsis: einsum's own
    ],
)
def test_two_operand_contractions_against_differences(subscripts, shapes):
    f = define(f"def f(a, b):\n    return np.sum(np.sin(np.einsum('{subscripts}', a, b)))\n")
    rng = np.random.default_rng(5)
    a, b = (rng.normal(size=shape) for shape in shapes)
    overbar.check_grad(f, (a, b), wrt=(0, 1))
    overbar.check_grad(f, (a, b), wrt=(0,))
    overbar.check_grad(f, (a, b), wrt=(1,))


def test_a_hessian_through_einsum_with_a_constant_operand():
    f = define("def f(x, W):\n    return np.sum(np.einsum('bi,ij->bj', x, W) ** 3)\n")
    rng = np.random.default_rng(6)
    x, W = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    v = rng.normal(size=x.shape)
    product = overbar.hvp(f, (x, W), (v,), wrt=(0,))
    eps = 1e-6
    g = overbar.grad(f)
    expected = (g(x + eps * v, W) - g(x - eps * v, W)) / (2 * eps)
    np.testing.assert_allclose(
        np.asarray(product).reshape(x.shape), expected, rtol=1e-5, atol=1e-7
    )
