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
    # np.ascontiguousarray (and asfortranarray) of a number is an array of one element: the
    # adjoint was that array, not a number (wrong shape, or a crash downstream; seed 132).
    "ascontiguousarray of a number": (
        "def f(s, x):\n    v = np.ascontiguousarray(s, dtype=float) * x\n    return np.sum(v * v)",
        [1.065, _uniform(3)],
    ),
    "ascontiguousarray of a number subtracted from a matrix": (
        "def f(a, b):\n    a = a - np.ascontiguousarray(math.log2(np.max(b)))\n"
        "    return np.sum(a * np.tanh(a))",
        [_uniform(2, 4), rng.uniform(2.0, 3.0, size=(2, 4))],
    ),
    "asfortranarray of a 0-d element of an unstack": (
        "def f(x):\n    v = np.asfortranarray(np.unstack(x, axis=-1)[0]).T\n"
        "    return np.sum(np.outer(x, v) ** 2)",
        [_uniform(4)],
    ),
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
    # A for loop walks the object it started with, even when the body rebinds the name: the
    # index read the new value (all three adjoints silently wrong, or math.acos out of domain).
    "a loop over an array its body rebinds": (
        "def f(x):\n    for row in x:\n        x = x + row.min()\n    return np.sum(x)",
        [np.array([1.633, 0.688, 1.209, 1.565])],
    ),
    "a loop whose body rebinds the array to another value": (
        "def f(r, x):\n    for row in x:\n        v = row\n        x = r.cumsum()\n    return v",
        [np.array([[0.844, 0.118, 1.291]]), np.array([0.808, -1.482, -0.358])],
    ),
    "enumerate and zip over arrays their bodies rebind": (
        "def f(a):\n    for i, row in enumerate(a):\n        a = a + math.acos(row[0]) * i\n"
        "    for p, q in zip(a, a):\n        a = a * p[0] + q\n    return np.sum(a)",
        [np.array([[0.221, -1.066, 1.313], [0.415, -0.239, 0.99]]) * 0.3],
    ),
    # einsum broadcasts a label of size 1 against a larger one: its adjoint is summed back.
    "einsum broadcasting a label": (
        "def f(c):\n    return np.linalg.norm(np.einsum('ij,i->j', c, c[0]))",
        [np.array([[1.201], [1.998], [0.409], [0.302]])],
    ),
    "einsum broadcasting a label of a row": (
        "def f(r):\n    return np.mean(np.einsum('ij,i->j', r.cumsum(axis=1), np.sum(r, axis=0)))",
        [np.array([[-0.107, 1.135, 1.115]])],
    ),
    "einsum broadcasting a contracted label": (
        "def f(p, q):\n    return np.sum(np.einsum('ij,jk->ik', p, q) ** 2)",
        [_uniform(2, 1), _uniform(2, 3)],
    ),
    # The reverse sweep replays a branch by its test before undoing the branch's lines: a
    # test its own branch assigns (the flag of a return in a loop) read the later value.
    "returns in two loops": (
        "def f(x):\n    for i in range(1):\n        if np.sum(x) < -5.0:\n"
        "            return np.sum(x)\n    for j in range(1):\n        return np.sum(x * x)\n"
        "    return np.sum(x)",
        [np.array([0.3, -1.0, -0.3])],
    ),
    "returns in two loops after an einsum": (
        "def f(x, a):\n    v = np.einsum('ij,j->i', a, x).min()\n    for i in range(4):\n"
        "        if np.sum(x) <= -1.88:\n            return v\n        a = a\n"
        "    for k in range(1):\n        return v\n    return v",
        [np.array([0.308, -1.032, -0.277]), _uniform(2, 3)],
    ),
    "a branch that flips its own test": (
        "def f(x):\n    c = np.sum(x) > 0\n    for i in range(3):\n        if c:\n"
        "            x = x * 2.0\n            c = False\n        else:\n"
        "            x = np.sin(x)\n            c = True\n    return np.sum(x)",
        [np.array([0.3, 0.5])],
    ),
    # A break of a range loop nested directly in a loop over an array's rows was taken for
    # a break of the outer loop, and the function refused.
    "a break in a loop nested in a loop over rows": (
        "def f(r1, r2):\n    for row1 in r1:\n        for i1 in range(2):\n"
        "            if i1 == 1:\n                break\n"
        "            r2 = r2 + np.prod(row1, axis=-1, keepdims=True)\n"
        "        r1 = r1 * np.cos(row1 * r2)\n    return np.sum(r1)",
        [np.array([[-0.451, -1.369, -1.443]]), np.array([[1.114, 1.951, 1.578]])],
    ),
    # x ** i with a variable exponent that is 0 at a base that is exactly 0: 0 * 0 ** -1 was
    # nan; the rule for a variable exponent gives 0 there (found by the 10^5-program run).
    "a variable exponent that is zero at a zero base": (
        "def f(x):\n    for i in range(2):\n        v = (x * np.around(x)) ** i\n"
        "        x = x + v.sum()\n    return x[0]",
        [np.array([-1.355, -0.165])],
    ),
    "variable exponents": (
        "def f(x, y):\n    return np.sum(x ** y) + np.sum(np.power(x, y * 2.0))",
        [np.array([0.5, 1.2]), np.array([0.0, 1.5])],
    ),
    "einsum of a product": (
        "def f(r):\n    return np.std(np.einsum('ij,jk->ik', r, r))",
        [_uniform(3, 3)],
    ),
    "einsum with a kept axis": (
        "def f(c, a):\n    return np.sum(np.einsum('ij,jk->ik', a, c.var(0, keepdims=True)))",
        [_uniform(3, 2), _uniform(4, 1)],
    ),
    # An array a helper returns, unpacked, was given a tuple adjoint (a helper's result was
    # taken for a tuple): its pullback crashed on it.
    "the rows of an array a helper returns": (
        "def helper2(p0, p1):\n    return p1\n\n"
        "def f(c1):\n    v3, v4 = helper2(c1, c1)\n    return np.linalg.norm(v4)",
        [np.array([[1.126], [1.216]])],
    ),
    "the elements of a mean a helper returns": (
        "def helper1(p0, p1):\n    return np.mean(p0, axis=0)\n\n"
        "def f(A3):\n    v3, v4, v5 = helper1(A3, A3)\n    return v5",
        [np.array([[-0.834, 0.054, 0.149], [-0.083, 0.504, 0.146]])],
    ),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_fuzzer_finding(name):
    source, args = REGRESSIONS[name]
    f = define(source)
    wrt = tuple(range(len(args)))
    overbar.grad(f, wrt=wrt, check=True)(*args)
    overbar.check_grad(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)


def test_repeat_of_a_value_saved_as_its_shape_sums_its_copies():
    # seed 77 program 7138: unrepeat ravelled the shape stand-in the forward sweep saved
    f = define(
        "def f(s1):\n"
        "    hs1 = [np.linspace(s1, 1.0, 3).repeat(2) * i1 for i1 in range(1, 4)]\n"
        "    v1 = np.stack(hs1)\n"
        "    return np.mean(np.einsum('ij,i->j', np.absolute(v1), np.absolute(v1)[:, 0]))\n"
    )
    overbar.check_grad(f, [1.999])


def test_singular_vectors_of_a_rank_deficient_matrix_are_refused():
    # seed 77 program 1527: a singular value of 1e-16 (not exactly 0) passed the rank check
    f = define(
        "def f(x1):\n"
        "    u = np.linalg.svd(np.broadcast_to(x1, (3, 2)), full_matrices=False)[0]\n"
        "    return np.linalg.norm(u ** 2)\n"
    )
    with pytest.raises(overbar.NoDerivativeError, match="rank-deficient"):
        overbar.grad(f, check=False)(np.array([0.76, 1.138]))


def test_factoring_never_adds_two_boolean_arrays():
    # seed 92 program 357: g * isfinite(t) + g * isfinite(t) was factored into
    # g * (isfinite(t) + isfinite(t)), a logical or of booleans: half the gradient
    f = define("""
        def f(x1, c1, s1):
            s1 = s1 - np.fmax(np.arccos(s1 + 1.0), s1)
            return np.nan_to_num(s1 + s1, nan=0.5)
        """)
    overbar.check_grad(f, [np.zeros(3), np.ones((3, 1)), -1.348], wrt=(2,))
    g = define(
        """
        def g(x):
            y = np.sin(x)
            return np.sum(np.where(y > 0.0, y, 0.0) * np.isfinite(y) + np.isfinite(y) * y)
        """,
        "g",
    )
    overbar.check_grad(g, [np.linspace(-1.0, 1.0, 6)])


@pytest.mark.parametrize(
    "body, args, expected",
    [
        # seed 4242 program 1278, shrunk: s1 + s1 under nan_to_num
        ("return np.nan_to_num(np.positive(s1 + s1))", [1.426], 2.0),
        ("return np.sum(np.nan_to_num(s1 + s1))", [np.array([0.5, -2.0])], [2.0, 2.0]),
        ("return np.nan_to_num(np.positive(s1 + s1)) * s1", [1.5], 6.0),
    ],
)
def test_two_boolean_masks_scaled_by_one_adjoint_are_added_not_ored(body, args, expected):
    # The sum of a * np.isfinite(u) + a * np.isfinite(u) was factored as
    # a * (np.isfinite(u) + np.isfinite(u)): two boolean arrays add as their logical or, so the
    # gradient was 1 where 2 is right (silently wrong: only the guard saw it).
    f = define(f"def f(s1):\n    {body}\n")
    for optimise in (True, False):
        gradient = overbar.grad(f, check=False, optimise=optimise)(*args)
        np.testing.assert_allclose(gradient, expected)
    source = overbar.grad(f).source_for(*args)
    assert "np.isfinite(tmp2) + np.isfinite(tmp2)" not in source


def test_qr_of_a_rank_deficient_matrix_is_refused():
    """Found by the fuzzer: the rows of broadcast_to(x, (2, 2)) are equal, R[1, 1] is rounding,
    and the solve by R gave a finite gradient, wrong (every adjoint agreed on it)."""
    f = define("def f(x1):\n    return np.mean(np.linalg.qr(np.broadcast_to(x1, (2, 2))))\n")
    with pytest.raises(overbar.NoDerivativeError, match="qr of a rank-deficient matrix"):
        overbar.grad(f, check=False)(np.array([0.599, -0.484]))
    r_only = define("def f(a):\n    return np.sum(np.linalg.qr(a)[1])\n")
    with pytest.raises(overbar.NoDerivativeError, match="rank-deficient"):
        overbar.grad(r_only, check=False)(np.array([[1.0, 2.0], [2.0, 4.0]]))


def test_jvp_of_qr_of_a_rank_deficient_matrix_is_refused():
    """Found by the forward fuzzer (seed 32, program 437): qr of a rank-1 outer product; the
    tangent rule did not check R's diagonal as the adjoint's does, and gave 0.80 where the
    central differences give 0."""
    f = define("""
        def f(x1):
            return np.mean(np.linalg.qr(np.outer(x1, x1))[0] ** 2)
        """)
    x = np.array([0.3, -1.2, 0.7])
    with pytest.raises(overbar.NoDerivativeError, match="qr of a rank-deficient matrix"):
        overbar.jvp(f, (x,), (np.ones(3),))
    r_only = define("def f(a):\n    return np.linalg.qr(a, mode='r')\n")
    with pytest.raises(overbar.NoDerivativeError, match="rank-deficient"):
        overbar.jvp(r_only, (np.array([[1.0, 2.0], [2.0, 4.0]]),), (np.eye(2),))


def test_softplus_is_not_read_as_the_function_of_a_rebound_argument():
    # seed 96 program 1652: v = exp(x) before a loop that rebinds x, then log1p(v) in the loop
    # (a helper's line, inlined): the softplus rule read the new x, not the one exp read
    f = define("""
        def f(x):
            v = np.exp(x)
            for _ in range(3):
                s = np.log1p(v)
                x = x * 0.5 + s
            return np.sum(x)
        """)
    overbar.check_grad(f, [np.array([0.579, 1.809, 1.655, 1.919])])
    g = define(
        """
        def g(x):
            v = np.exp(x)
            return np.sum(np.log1p(v) * x)
        """,
        "g",
    )
    assert "logistic" in overbar.grad(g).source or "np.exp(-x)" in overbar.grad(g).source
    overbar.check_grad(g, [np.array([0.5, -1.0])])


def test_a_list_used_as_an_index_picks_rows_not_axes():
    # seed 114 program 585: buf1[[0, 2]] read as buf1[0, 2] once list displays had shapes
    # (for np.concatenate([x, h])): the adjoint of the factor lost its sum over the rows
    f = define("""
        def f(c1, c2):
            buf1 = np.ones((3, 2))
            buf1[[0, 2]] *= c2[0] - np.sum(c1, axis=0)
            rows = [0, 2]
            return np.sum(buf1 ** 2) + np.sum(np.sin(buf1[rows]))
        """)
    overbar.check_grad(
        f, [np.array([[0.493], [-0.475], [0.75]]), np.array([[-1.1], [0.49], [0.3]])]
    )
