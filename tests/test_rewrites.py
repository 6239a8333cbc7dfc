"""Translation validation: every optimising pass against the literal adjoint.

Each rewrite of ``simplify.py`` and ``peephole.py`` is an identity with side conditions. The
programs here sit where a side condition fails or nearly does (1.0 as a numerator, a divisor and
an exponent; -0.0; integer and bool operands; broadcasting that changes shape; an operand written
later; nested expressions inside a returned reduction, where the optimiser was once wrong). Each
is differentiated with every optimisation on, with each one off alone, and with all off (the
literal adjoint), at several shapes; all must agree with each other and with central differences.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import overbar
from overbar import Optimisations
from tests.support import define

rng = np.random.default_rng(3)

# (body of f(x, y), whether y is differentiated too)
PROGRAMS = {
    # the 1.0 of a numerator
    "softplus": "return np.sum(np.log(1.0 + np.exp(x)))",
    "log of exp": "return np.sum(np.log(np.exp(x)))",
    "log of a sum of exp": "return np.log(np.sum(np.exp(x)))",
    "log cosh": "return np.sum(np.log(np.cosh(x)))",
    "logsumexp with its stabiliser": (
        "m = np.max(x)\n    return m + np.log(np.sum(np.exp(x - m)))"
    ),
    "one over, times": "return np.sum(1.0 / x * np.exp(y))",
    "one over, over": "return np.sum(1.0 / x / np.exp(y))",
    "one over a product, times": "return np.sum(1.0 / (x * y) * x)",
    "integer one over": "return np.sum(1 / x * y)",
    # the 1.0 of a divisor and of an exponent
    "over one": "return np.sum(x / 1.0 * y)",
    "exp over one": "return np.sum(np.exp(x) / 1.0)",
    "power one": "return np.sum(x ** 1.0 * np.exp(y))",
    "one to a power": "return np.sum(1.0 ** x * y + 2.0 ** x)",
    "times one, twice": "return np.sum(1.0 * x * 1.0 * y)",
    # signed zeros
    "minus zero times": "return np.sum(-0.0 * x + x * y)",
    "minus zero minus": "return np.sum(x * -0.0 - (-x) * np.sin(y))",
    "negations": "return np.sum(-(-x * y) - -(x * -y) + -x / -y)",
    "negated product led by a literal": "return np.mean(np.square(y - x * 2.0))",
    "negated product led by an integer": "return np.sum(-(3 * x) * y)",
    "negated product led by a number, of a log": "return -np.sum(y * np.log(x)) / np.size(x)",
    # a number multiplied in and divided out (cancel.py), of the norm and of an integer
    "squared norm": "return np.linalg.norm(x * y) ** 2 / 3.0",
    "norm over itself": "return np.sum(np.linalg.norm(x) * y / np.linalg.norm(x))",
    "integer count cancelled": "n = np.size(x)\n    return np.sum(n * x / n * y)",
    # softplus by logaddexp (logistic.py)
    "log of one plus exp by logaddexp": "return np.sum(np.logaddexp(0.0, x) * y)",
    # integers and bools
    "integer factors": "return np.sum(2 * x * 3 * y)",
    "bool factor": "return np.sum((x > 0.1) * x * np.exp(y))",
    "true factor": "return np.sum(x * True * y)",
    "integer division factors": "return np.sum(3 * x / 2 * y / 4)",
    # shapes that change by broadcasting
    "broadcast product": "return np.sum(x * y * 2.0)",
    "broadcast quotient": "return np.sum(1.0 / (1.0 + x * x) * y)",
    "broadcast sum of products": "return np.sum(x * y + 0.5 * x - y * y)",
    "mean and broadcast": "return np.mean(x * y) * np.sum(x)",
    # operands written later
    "rebound operand": ("a = x * 2.0\n    b = a * y\n    a = a + 1.0\n    return np.sum(b * a)"),
    "array written later": (
        "a = np.zeros(x.shape)\n    a[..., 0] = x[..., 0] * 2.0\n    b = a * x\n"
        "    a[..., -1] = x[..., -1] * 3.0\n    return np.sum(b * a * y)"
    ),
    "loop carried": (
        "s = x\n    for _ in range(3):\n        s = s - 0.1 * (s * s * s - 2.0 * s) * y\n"
        "    return np.sum(s)"
    ),
    "shared adjoint factored": (
        "s = np.sin(x)\n    t = s * y * 0.1 + 0.9 * np.cos(s)\n    return np.sum(t * t)"
    ),
    "trailing factors": (
        "a = 2.0 * np.log(1.0 + x * x)\n    b = a - np.sin(x) * np.cos(y)\n    return np.sum(b)"
    ),
}

# x, y pairs: vectors, matrices, a row against a column, numbers, a 0-d array.
SHAPES = {
    "vectors": ((4,), (4,)),
    "matrices": ((2, 3), (2, 3)),
    "row and column": ((1, 3), (2, 1)),
    "vector and matrix": ((3,), (2, 3)),
    "numbers": (None, None),
    "0-d and vector": ((), (3,)),
}


def _value(shape):
    if shape is None:
        return float(rng.uniform(0.4, 1.3))
    return rng.uniform(0.4, 1.3, size=shape) * rng.choice([-1.0, 1.0], size=shape) + 0.0


def _positive(value):
    return np.abs(value) + 0.3 if isinstance(value, np.ndarray) else abs(value) + 0.3


CASES = [
    (name, shapes)
    for name in PROGRAMS
    for shapes in SHAPES
    if not (name == "array written later" and SHAPES[shapes][0] in (None, ()))
]

SWITCHES = [Optimisations.none()] + [
    replace(Optimisations(), **{name: False}) for name in Optimisations.names()
]


@pytest.mark.parametrize("name, shapes", CASES)
def test_every_pass_switched_off_gives_the_same_gradient(name, shapes):
    f = define(f"def f(x, y):\n    {PROGRAMS[name]}\n")
    x_shape, y_shape = SHAPES[shapes]
    x, y = _value(x_shape), _value(y_shape)
    if "log" in name or "one over" in name or "power" in name or "over one" in name:
        x = _positive(x)
    optimised = overbar.grad(f, wrt=(0, 1))(x, y)
    overbar.check_grad(f, [x, y], wrt=(0, 1), rtol=1e-5, atol=1e-7)
    for optimisations in SWITCHES:
        other = overbar.grad(f, wrt=(0, 1), optimise=optimisations, check=False)(x, y)
        for mine, theirs in zip(optimised, other, strict=True):
            assert np.shape(mine) == np.shape(theirs)
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_literal_adjoint_is_one_rule_application_per_line():
    f = define("def f(x, y):\n    return np.sum(np.log(1.0 + np.exp(x)) * y)\n")
    x, y = np.array([0.5, -1.0]), np.ones((3, 2))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)
    source = literal.source_for(x, y)
    assert "result_bar = seed(result)" in source  # no literal seed
    assert "broadcast_like(result_bar, tmp" in source  # the rule for sum, not folded away
    assert "unbroadcast(" in source and ".sum(axis" not in source  # no shape specialisation
    assert source.count("\n    tmp") >= 4  # temporaries not folded
    np.testing.assert_allclose(literal(x, y)[0], 3 / (1 + np.exp(-x)), rtol=1e-12)


def test_optimisations_parse_and_refuse_unknown_names():
    assert Optimisations.parse("all") == Optimisations()
    assert Optimisations.parse("none,peephole") == replace(Optimisations.none(), peephole=True)
    with pytest.raises(ValueError, match="unknown optimisation 'fold'"):
        Optimisations.parse("all,-fold")
    with pytest.raises(overbar.ArgumentError, match="optimise is True, False"):
        overbar.grad(define("def f(x):\n    return x * x\n"), optimise="none")


# -- a broadcast bound once and dropped at every reader (peephole._broadcasts_left_to_readers)


def test_a_broadcast_in_a_loop_is_left_to_its_readers():
    # tmp4_bar = broadcast_like(tmp6_bar / tmp5, tmp4) read once as tmp4_bar * tmp4, with
    # tmp5 popped in between: the scale is bound instead, the reader broadcasts it
    f = define("def f(X):\n    return sum(np.log(np.exp(r).sum()) for r in X)\n")
    X = np.random.default_rng(4).normal(size=(5, 3))
    text = overbar.grad(f).source_for(X)
    assert "broadcast_like" not in text, text
    overbar.check_grad(f, [X])


def test_a_broadcast_read_by_another_broadcast_left_to_readers_keeps_its_value():
    # v2_bar = broadcast_like(a, v2) read by e1_bar = broadcast_like((v2_bar / s)[:, None],
    # e1), itself read by A1_bar = e1_bar * e1: both bindings are renamed, and the second
    # must read the first's new name (it read v2_bar, bound nowhere: fuzz seed 142, 780)
    source = (
        "def f(A):\n    m = np.max(A, axis=-1)\n    e = np.exp(A - m[..., None])\n"
        "    v = m + np.log(np.sum(e, axis=-1))\n    return np.tanh(np.sin(np.sum(v, axis=0)))\n"
    )
    f = define(source)
    A = np.random.default_rng(6).normal(size=(3, 2))
    overbar.check_grad(f, [A])
    (gradient,) = overbar.grad(f, wrt=("A",))(A)
    (literal,) = overbar.grad(f, wrt=("A",), optimise=False)(A)
    np.testing.assert_allclose(gradient, literal, rtol=1e-12)


@pytest.mark.parametrize(
    "source",
    [
        # a reader multiplies by a number: the broadcast is needed there (and so kept)
        "def f(X):\n    total = 0.0\n    for r in X:\n        m = np.mean(r)\n"
        "        total = total + np.sum((r - m) * r[0])\n    return total\n",
        # a reader adds into an array (an augmented assignment, not a plain one)
        "def f(X):\n    total = 0.0\n    for r in X:\n"
        "        total = total + np.sum(r) * 2.0\n    return total\n",
        # the broadcast is a gradient returned: it keeps the argument's shape
        "def f(X):\n    return np.sum(X) * 2.0\n",
    ],
    ids=["a reader that needs it", "an augmented reader", "a returned gradient"],
)
def test_a_broadcast_some_reader_needs_stays(source):
    f = define(source)
    X = np.random.default_rng(5).normal(size=(5, 3))
    g = overbar.grad(f)
    assert "broadcast_like" in g.source_for(X)
    assert g(X).shape == X.shape
    overbar.check_grad(f, [X])


def test_a_count_helper_is_a_number_in_a_product():
    # var's adjoint ends in * (2 / degrees_of_freedom(x, var, 0)): a number, which goes to the
    # front of the product (numbers first, then one pass over the arrays)
    f = define(
        "def f(x, R):\n    mu = x.mean(axis=1, keepdims=True)\n"
        "    var = np.var(x, axis=1, keepdims=True)\n"
        "    return np.sum((x - mu) / np.sqrt(var + 1e-5) * R)\n"
    )
    rng = np.random.default_rng(8)
    x, R = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    text = overbar.grad(f).source_for(x, R)
    assert "2 / degrees_of_freedom(x, var, 0) * " in text, text
    overbar.check_grad(f, [x, R])
    # with ddof, read against a column: the gradient still right
    g = define("def g(x):\n    return np.sum(np.var(x, axis=1, ddof=1) * x[:, 0])\n", "g")
    overbar.check_grad(g, [rng.normal(size=(3, 4))])
