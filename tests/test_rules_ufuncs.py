"""The rules of ``rules_ufuncs.py`` (ufunc methods and the array methods that read elements)
against central finite differences, in the manner of ``test_rules.py``; each sample is also
differentiated in forward mode by ``test_tangent_rules.py``. Then the conventions at ties (a
maximum's ȳ shared as ``np.max`` shares it), the derived ``outer`` rules of every binary ufunc,
and the calls the rules refuse.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipy.special as special

import overbar
from overbar.errors import MissingRuleError, OverbarError
from overbar.primitives import Method, describe
from overbar.runtime.helpers_ufuncs import added_at
from overbar.runtime.registry import NON_DIFFERENTIABLE, RULES
from tests.support import check_rule_sample, define, primal_key
from tests.test_forward import check_jvp
from tests.test_rules import S, U, _value, any_, pos

SHAPES_AND_AXES = [((4,), 0), ((2, 3), 1), ((2, 3), -2), ((2, 3, 2), 2)]

SAMPLES = [
    # reduce: np.sum's, np.prod's, np.max's and logsumexp's math, axis 0 by default
    S(np.add.reduce, "np.add.reduce(a)", a=any_(3)),
    S(np.add.reduce, "np.add.reduce(a)", a=any_(2, 3)),
    S(np.add.reduce, "np.add.reduce(a, axis=1)", a=any_(2, 3)),
    S(np.add.reduce, "np.add.reduce(a, None)", a=any_(2, 3)),
    S(np.add.reduce, "np.add.reduce(a, axis=(0, 2), keepdims=True)", a=any_(2, 3, 2)),
    S(np.add.reduce, "np.add.reduce(a, -1) * b", a=any_(2, 3), b=any_(2)),
    S(np.add.reduce, "np.add.reduce(a, axis=()) * b", a=any_(2, 3), b=any_(3)),
    S(np.multiply.reduce, "np.multiply.reduce(a)", a=any_(4)),
    S(np.multiply.reduce, "np.multiply.reduce(a, axis=1, keepdims=True)", a=any_(3, 2)),
    S(np.multiply.reduce, "np.multiply.reduce(a, axis=None) * b", a=any_(2, 2), b=any_(3)),
    S(np.multiply.reduce, "np.multiply.reduce(a * b, (0, 1))", a=any_(2, 3), b=any_(3)),
    S(np.maximum.reduce, "np.maximum.reduce(a)", a=any_(5)),
    S(np.maximum.reduce, "np.maximum.reduce(a, axis=1)", a=any_(3, 4)),
    S(np.maximum.reduce, "np.maximum.reduce(a, None, keepdims=True) * b", a=any_(2, 3), b=any_(3)),
    S(np.minimum.reduce, "np.minimum.reduce(a)", a=any_(2, 3)),
    S(np.minimum.reduce, "np.minimum.reduce(a, axis=(0, 1))", a=any_(2, 3, 2)),
    S(np.fmax.reduce, "np.fmax.reduce(a, axis=-1)", a=any_(3, 4)),
    S(np.fmin.reduce, "np.fmin.reduce(a)", a=any_(4, 2)),
    S(np.logaddexp.reduce, "np.logaddexp.reduce(a)", a=any_(4)),
    S(np.logaddexp.reduce, "np.logaddexp.reduce(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.logaddexp.reduce, "np.logaddexp.reduce(a * 300.0, None)", a=any_(2, 3)),
    S(np.logaddexp2.reduce, "np.logaddexp2.reduce(a)", a=any_(3, 2)),
    S(np.logaddexp2.reduce, "np.logaddexp2.reduce(a, axis=(0, 1))", a=any_(2, 2, 3)),
    # accumulate: cumsum's and cumprod's math, the running extremum, the running logsumexp
    *[
        S(primal, f"np.{primal.__self__.__name__}.accumulate(a, axis={axis})", a=domain(*shape))
        for primal, domain in [
            (np.add.accumulate, any_),
            (np.multiply.accumulate, any_),
            (np.maximum.accumulate, any_),
            (np.minimum.accumulate, any_),
            (np.fmax.accumulate, any_),
            (np.fmin.accumulate, any_),
            (np.logaddexp.accumulate, any_),
            (np.logaddexp2.accumulate, any_),
        ]
        for shape, axis in SHAPES_AND_AXES
    ],
    S(np.add.accumulate, "np.add.accumulate(a) * b", a=any_(3, 2), b=any_(2)),
    S(np.multiply.accumulate, "np.multiply.accumulate(a)", a=any_(1, 3)),
    S(np.maximum.accumulate, "np.maximum.accumulate(a) * b", a=any_(4, 2), b=any_(2)),
    S(np.minimum.accumulate, "np.minimum.accumulate(a * b)", a=any_(5), b=any_()),
    S(np.logaddexp.accumulate, "np.logaddexp.accumulate(a * 400.0)", a=any_(6)),
    # subtract and divide: the first element apart (a₀ − a₁ − …, a₀ / a₁ / …), one axis
    S(np.subtract.reduce, "np.subtract.reduce(a)", a=any_(4)),
    S(np.subtract.reduce, "np.subtract.reduce(a, None)", a=any_(3)),
    S(np.subtract.reduce, "np.subtract.reduce(a, axis=1)", a=any_(2, 3)),
    S(np.subtract.reduce, "np.subtract.reduce(a, -1, keepdims=True) * b", a=any_(2, 3), b=any_(3)),
    S(np.subtract.reduce, "np.subtract.reduce(a * b, axis=(0,))", a=any_(3, 2), b=any_(2)),
    S(np.divide.reduce, "np.divide.reduce(a)", a=pos(4)),
    S(np.divide.reduce, "np.divide.reduce(a, axis=1)", a=pos(2, 3)),
    S(np.divide.reduce, "np.divide.reduce(a, 0, keepdims=True) * b", a=pos(3, 2), b=any_(2)),
    S(np.divide.reduce, "np.divide.reduce(a, axis=2)", a=pos(2, 2, 3)),
    *[
        S(primal, f"np.{primal.__self__.__name__}.accumulate(a, axis={axis})", a=domain(*shape))
        for primal, domain in [(np.subtract.accumulate, any_), (np.divide.accumulate, pos)]
        for shape, axis in SHAPES_AND_AXES
    ],
    S(np.subtract.accumulate, "np.subtract.accumulate(a) * b", a=any_(3, 2), b=any_(2)),
    S(np.divide.accumulate, "np.divide.accumulate(a * b)", a=pos(4), b=pos()),
    # reduceat: segments from each index to the next (the element alone where it goes back)
    *[
        S(primal, f"np.{primal.__self__.__name__}.reduceat(a, {indices}, axis={axis})", a=a)
        for primal in (np.add.reduceat, np.multiply.reduceat)
        for a, indices, axis in [
            (any_(5), [0, 2, 3], 0),
            (any_(5), [1, 3, 2, 4], 0),
            (any_(2, 5), [0, 3, 3, 1], 1),
            (any_(4, 2, 3), [2, 0], 0),
            (any_(2, 4), [0, 1, 2, 3], -1),
        ]
    ],
    *[
        S(primal, f"np.{primal.__self__.__name__}.reduceat(a, {indices}, axis={axis})", a=a)
        for primal in (np.maximum.reduceat, np.minimum.reduceat)
        for a, indices, axis in [
            (any_(6), [0, 2, 5], 0),
            (any_(2, 5), [3, 1, 4], 1),
            (any_(4, 3), [0, 2], 0),
        ]
    ],
    S(np.add.reduceat, "np.add.reduceat(a, np.array([0, 2])) * b", a=any_(4, 3), b=any_(3)),
    S(np.maximum.reduceat, "np.maximum.reduceat(a * b, [0, 1])", a=any_(3), b=any_()),
    # np.add.at as a value (a statement np.add.at(y, i, v) is made y[()] = added_at(y, i, v))
    *[
        S(added_at, f"overbar.runtime.helpers_ufuncs.added_at(a, {indices}, b)", a=a, b=b)
        for a, indices, b in [
            (any_(4), [0, 2, 0, 3], any_(4)),
            (any_(4), [1, 1], any_()),
            (any_(3, 2), [2, 0, 2], any_(2)),
            (any_(3, 2), "(np.array([0, 0]), np.array([1, 1]))", any_(2)),
        ]
    ],
    # the array methods that read elements
    S(Method("item"), "a.item()", a=any_(1)),
    S(Method("item"), "a.item() * b", a=any_(1, 1), b=any_(3)),
    S(Method("item"), "a.item(4)", a=any_(2, 3)),
    S(Method("item"), "a.item(-1) * a.item(0)", a=any_(3)),
    S(Method("item"), "a.item(1, 0)", a=any_(2, 3)),
    S(Method("item"), "a.item((0, 2)) * b", a=any_(2, 3), b=any_(2)),
    S(Method("tolist"), "np.array(a.tolist())", a=any_(3)),
    S(Method("tolist"), "np.array(a.tolist()) * b", a=any_(2, 3), b=any_(3)),
    S(Method("tolist"), "a.tolist()[1] * b", a=any_(3), b=any_(2)),
    S(Method("tolist"), "a.tolist()", a=any_(1, 2)),
    S(Method("compress"), "a.compress([True, False, True])", a=any_(3)),
    S(Method("compress"), "a.compress([False, True], axis=0)", a=any_(2, 3)),
    S(Method("compress"), "a.compress(np.array([1, 0, 1]), axis=-1) * b", a=any_(2, 3), b=any_(2)),
    S(Method("compress"), "a.compress([True, True, False, True])", a=any_(2, 3)),
    S(np.compress, "np.compress([True, False, True], a)", a=any_(3)),
    S(np.compress, "np.compress(np.array([0, 1]), a, 1)", a=any_(3, 2)),
    S(np.compress, "np.compress([False, True], a, axis=0)", a=any_(2, 2, 2)),
    S(np.choose, "np.choose(np.array([0, 1, 1, 0]), [a, b])", a=any_(4), b=any_(4)),
    S(np.choose, "np.choose(np.array([[0, 2], [1, 0]]), [a, b, 2.0])", a=any_(2), b=any_(2, 2)),
    S(np.choose, "np.choose(np.array([0, 3, 1]), (a, b), mode='wrap')", a=any_(3), b=any_(1)),
    S(np.choose, "np.choose(np.array([-1, 0, 5]), [a, b], mode='clip')", a=any_(3), b=any_(3)),
    S(np.choose, "np.choose(np.array([1, 0]), a)", a=any_(3, 2)),
    S(Method("choose"), "np.array([0, 1, 1]).choose([a, b])", a=any_(3), b=any_()),
]

# ufunc.outer, derived from each binary ufunc's elementwise rules: the operands' domains
OUTER_DOMAINS = {
    np.add: (any_, any_),
    np.subtract: (any_, any_),
    np.multiply: (any_, any_),
    np.divide: (any_, pos),
    np.power: (pos, any_),
    np.maximum: (any_, any_),
    np.minimum: (any_, any_),
    np.fmax: (any_, any_),
    np.fmin: (any_, any_),
    np.hypot: (any_, any_),
    np.arctan2: (any_, any_),
    np.logaddexp: (any_, any_),
    np.logaddexp2: (any_, any_),
    np.remainder: (any_, pos),
    np.fmod: (pos, pos),
    np.copysign: (pos, any_),
    np.float_power: (pos, any_),
    np.heaviside: (any_, any_),
    np.nextafter: (any_, any_),
    special.xlogy: (any_, pos),
    special.xlog1py: (any_, pos),
    special.beta: (pos, pos),
    special.betaln: (pos, pos),
}
# ufuncs whose first operand is an order or a shape parameter: outer with constant orders
# (ldexp's second: an integer exponent)
OUTER_OF_ORDERS = {
    np.ldexp: "np.ldexp.outer(a, np.array([1, -2]))",
    special.gammainc: "special.gammainc.outer(np.array([1.0, 2.5]), a)",
    special.gammaincc: "special.gammaincc.outer(np.array([1.0, 2.5]), a)",
    special.jv: "special.jv.outer(np.array([0.5, 2.0]), a)",
    special.yv: "special.yv.outer(np.array([0.5, 2.0]), a)",
    special.yn: "special.yn.outer(np.array([1, 2]), a)",
    special.iv: "special.iv.outer(np.array([0.5, 2.0]), a)",
    special.ive: "special.ive.outer(np.array([0.5, 2.0]), a)",
}
OUTER_SHAPES = [((3,), (2,)), ((2, 2), (3,)), ((), (3,)), ((2,), ()), ((2, 1), (1, 3))]


def _spelling(ufunc) -> str:
    """How a sample's module (``tests.support.define``, which binds ``special``) names it."""
    return describe(ufunc.outer).removesuffix(".outer").replace("scipy.special.", "special.")


SAMPLES += [
    S(ufunc.outer, f"{_spelling(ufunc)}.outer(a, b)", a=left(*p), b=right(*q))
    for ufunc, (left, right) in OUTER_DOMAINS.items()
    for p, q in OUTER_SHAPES
]
SAMPLES += [
    S(ufunc.outer, expression, a=U(shape, 0.5, 3.0))
    for ufunc, expression in OUTER_OF_ORDERS.items()
    for shape in [(3,), (2, 2)]
]
SAMPLES += [
    # the outer rules of power's variants: a constant exponent, the square, the zeroth power
    S(np.power.outer, "np.power.outer(a, 2)", a=any_(3)),
    S(np.power.outer, "np.power.outer(a, 0)", a=any_(2, 2)),
    S(np.power.outer, "np.power.outer(a, 3.0)", a=any_(3)),
    S(np.power.outer, "np.power.outer(a, np.array([1.0, 2.0, 0.5]))", a=pos(2)),
    S(np.add.outer, "np.add.outer(a, a) * b", a=any_(3), b=any_(3, 3)),
    S(np.multiply.outer, "np.multiply.outer(a, np.ones(2))", a=any_(2, 3)),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [_value(sample.inputs[n], rng) for n in names]
    check_rule_sample(sample.expression, names, args, rng)


def test_every_rule_of_the_module_has_samples():
    """The derived outer rules included: every binary ufunc with a rule has a sample of its
    outer, so a ufunc given a rule later needs a domain in ``OUTER_DOMAINS``."""
    sampled = {primal_key(sample.primal) for sample in SAMPLES}
    missing = sorted(
        {
            describe(rule.primal)
            for table in (RULES.rules, RULES.tangents)
            for rules in table.values()
            for rule in rules
            if rule.function.__module__ == "overbar.runtime.rules_ufuncs"
            and primal_key(rule.primal) not in sampled
        }
    )
    assert not missing, f"rules without sample inputs: {missing}"


def test_every_binary_ufunc_with_a_rule_has_an_outer_rule():
    ufuncs = [
        key
        for key in RULES.rules
        if isinstance(key, np.ufunc) and key.nin == 2 and key.nout == 1 and not key.signature
    ]
    assert len(ufuncs) >= 15
    for ufunc in ufuncs:
        adjoints, tangents = RULES.lookup(ufunc.outer), RULES.lookup_tangent(ufunc.outer)
        assert isinstance(adjoints, list) and len(adjoints) == len(RULES.lookup(ufunc)), ufunc
        assert isinstance(tangents, list), ufunc


def test_an_outer_rule_reads_like_the_elementwise_rule_on_a_widened_operand():
    g = overbar.grad(define("def f(x, y):\n    return np.sum(np.multiply.outer(x, y))\n"))
    g(np.ones(2), np.ones(3))
    source = g.stages.emitted.source
    assert "widened(x, y)" in source and "np.reshape(" in source, source


def test_the_outer_of_a_ufunc_without_gradient_has_none():
    assert RULES.lookup(np.greater.outer) is NON_DIFFERENTIABLE
    assert RULES.lookup(np.logical_and.reduce) is NON_DIFFERENTIABLE
    f = define("def f(x, y):\n    return np.sum(np.greater.outer(x, y) * np.add.outer(x, y))\n")
    overbar.check_grad(f, [np.array([0.1, 0.7, -0.4]), np.array([0.3, -0.2])], wrt=(0, 1))


def test_describe_names_a_ufunc_method_as_the_user_spells_it():
    assert describe(np.maximum.accumulate) == "np.maximum.accumulate"
    assert describe(special.xlogy.outer) == "scipy.special.xlogy.outer"


# -- ties: a maximum's ȳ shared as np.max shares it ---------------------------------------------


@pytest.mark.unchecked  # a tie: no derivative, the convention below
def test_maximum_reduce_shares_ties_as_np_max_does():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.5, 0.5, 0.5, -1.0]])
    reduce_ = overbar.grad(define("def f(x):\n    return np.sum(np.maximum.reduce(x, axis=1))\n"))
    max_ = overbar.grad(define("def f(x):\n    return np.sum(np.max(x, axis=1))\n"))
    expected = [[0.0, 0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0]]
    np.testing.assert_allclose(reduce_(x), expected)
    np.testing.assert_allclose(max_(x), expected)


@pytest.mark.unchecked  # a tie: no derivative, the convention below
def test_minimum_reduce_shares_ties():
    f = define("def f(x):\n    return np.minimum.reduce(x)\n")
    np.testing.assert_allclose(overbar.grad(f)(np.array([2.0, -1.0, 4.0, -1.0])), [0, 0.5, 0, 0.5])


ACCUMULATE_TIES = {
    "maximum": (np.array([1.0, 3.0, 2.0, 3.0, 0.0]), [1.0, 3.0, 0.0, 1.0, 0.0]),
    "minimum": (np.array([1.0, -3.0, 2.0, -3.0, -3.0]), [1.0, 17 / 6, 0.0, 5 / 6, 1 / 3]),
}


@pytest.mark.unchecked  # a tie: no derivative, the convention below
@pytest.mark.parametrize("name", list(ACCUMULATE_TIES))
def test_running_extremum_shares_each_step_among_its_ties(name):
    """ȳᵢ goes to the elements j ≤ i equal to yᵢ, shared equally: with ȳ = 1 everywhere and
    x = [1, 3, 2, 3, 0], y = [1, 3, 3, 3, 3]: x̄ = [1, 1 + 1 + ½ + ½, 0, ½ + ½, 0]. The same as
    differentiating Σᵢ max(x[:i+1]) with np.max's rule."""
    x, expected = ACCUMULATE_TIES[name]
    accumulate = define(f"def f(x):\n    return np.sum(np.{name}.accumulate(x))\n")
    prefixes = define(
        f"def f(x):\n    return sum(np.{name[:3]}(x[: i + 1]) for i in range({len(x)}))\n"
    )
    np.testing.assert_allclose(overbar.grad(accumulate)(x), expected)
    np.testing.assert_allclose(overbar.grad(prefixes)(x), expected)


@pytest.mark.unchecked  # a tie: no derivative, the convention below
def test_running_extremum_ties_along_an_axis_of_a_matrix():
    x = np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0], [2.0, 1.0, 5.0]])
    weights = np.arange(1.0, 10.0).reshape(3, 3)
    f = define("def f(x, w):\n    return np.sum(np.maximum.accumulate(x, axis=0) * w)\n")
    # column 0: y = [2, 2, 2], ties x00, x20 from row 2 on; column 1: y = [2, 5, 5];
    # column 2: y = [1, 5, 5], ties x12, x22 at row 2
    expected = [[1 + 4 + 7 / 2, 2, 3], [0, 5 + 8, 6 + 9 / 2], [7 / 2, 0, 9 / 2]]
    np.testing.assert_allclose(overbar.grad(f)(x, weights), expected)


@pytest.mark.unchecked  # a tie: no derivative, the convention below
def test_the_tangent_at_ties_is_the_transpose_of_the_adjoint():
    x = np.array([[1.0, 3.0, 2.0, 3.0, 3.0], [4.0, 4.0, 0.0, 4.0, 5.0]])
    f = define("def f(x):\n    return np.maximum.accumulate(x, axis=1)\n")
    rng = np.random.default_rng(0)
    for _ in range(3):
        v, u = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
        _, tangent = overbar.jvp(f, [x], [v])
        weighted = define(
            "def g(x, u):\n    return np.sum(np.maximum.accumulate(x, axis=1) * u)\n", "g"
        )
        gradient = overbar.grad(weighted)(x, u)
        assert np.sum(tangent * u) == pytest.approx(np.sum(gradient * v), rel=1e-12)


def test_running_log_sum_exp_does_not_overflow():
    """The weights e^(yⱼ − yⱼ₊₁) are at most 1: inputs in the thousands give a finite
    gradient (e^1000 would overflow)."""
    x = np.array([1000.0, 1001.0, 999.0, 1002.0])
    f = define("def f(x):\n    return np.sum(np.logaddexp.accumulate(x) * np.arange(4.0))\n")
    gradient = overbar.grad(f)(x)
    assert np.all(np.isfinite(gradient))
    overbar.check_grad(f, [x])


# -- forward mode of whole functions ----------------------------------------------------------

FORWARD = {
    "sum of a reduce": "def f(x):\n    return np.add.reduce(x, axis=1) * 2.0\n",
    "product": "def f(x):\n    return np.multiply.reduce(x)\n",
    "running maximum": "def f(x):\n    return np.maximum.accumulate(np.sin(x), axis=0)\n",
    "running minimum": "def f(x):\n    return np.minimum.accumulate(x, axis=-1)\n",
    "cumulative product": "def f(x):\n    return np.multiply.accumulate(x, axis=1)\n",
    "log-sum-exp": "def f(x):\n    return np.logaddexp.reduce(x, axis=None)\n",
    "outer difference": "def f(x):\n    return np.subtract.outer(x, x[0])\n",
    "outer power": "def f(x):\n    return np.power.outer(np.abs(x) + 1.0, x[1])\n",
    "item": "def f(x):\n    return x.item(3) * x\n",
    "tolist": "def f(x):\n    rows = x.tolist()\n    return rows[0][1] * rows[1][0]\n",
}


@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_mode(name):
    x = np.random.default_rng(4).normal(size=(2, 3))
    check_jvp(define(FORWARD[name]), [x])


# -- refusals ---------------------------------------------------------------------------------

REFUSED = {
    "reduce with initial": ("np.sum(np.add.reduce(x, initial=1.0))", "initial"),
    "reduce with where": ("np.maximum.reduce(x, where=x > 0, initial=-1.0)", "where"),
    "reduce to a dtype": ("np.add.reduce(x, dtype=np.float32)", "dtype=None"),
    "accumulate to a dtype": ("np.sum(np.add.accumulate(x, 0, np.float32))", "dtype=None"),
    "power.reduce": ("np.power.reduce(x)", "np.power.reduce"),
    "power.accumulate": ("np.sum(np.power.accumulate(x))", "np.power.accumulate"),
    "subtract.reduceat": ("np.sum(np.subtract.reduceat(x, [0, 2]))", "np.subtract.reduceat"),
    "reduceat to a dtype": ("np.sum(np.add.reduceat(x, [0, 2], 0, np.float32))", "dtype=None"),
    "view": ("np.sum(x.view())", ".view()"),
    "byteswap": ("np.sum(x.byteswap())", ".byteswap()"),
    "getfield": ("np.sum(x.getfield(np.float64))", ".getfield()"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_calls_the_rules_do_not_cover_are_refused(name):
    expression, said = REFUSED[name]
    f = define(f"def f(x):\n    return {expression}\n")
    with pytest.raises(MissingRuleError, match=None) as error:
        overbar.grad(f)(np.arange(1.0, 5.0))
    assert said in str(error.value), str(error.value)
    with pytest.raises(MissingRuleError) as error:
        overbar.jvp(f, [np.arange(1.0, 5.0)], [np.ones(4)])
    assert said in str(error.value), str(error.value)


IN_PLACE = ["y.sort()", "y.fill(0.0)", "y.put([0], [1.0])", "y.partition(1)", "y.resize(2)"]


@pytest.mark.parametrize("statement", IN_PLACE)
def test_in_place_methods_on_a_differentiated_array_are_refused(statement):
    """They change the array and return None: refused where they stand, not taken as
    having no gradient (which would lose the change)."""
    f = define(f"def f(x):\n    y = x * 2.0\n    {statement}\n    return np.sum(y * x)\n")
    with pytest.raises(OverbarError, match="in place"):
        overbar.grad(f)(np.arange(1.0, 5.0))


def test_the_index_methods_have_no_gradient():
    f = define(
        "def f(x):\n    i = x.argpartition(1)\n    j = x.nonzero()\n"
        "    k = x.searchsorted(0.5)\n    return np.sum(x[i] * x[j]) * x[k]\n"
    )
    overbar.check_grad(f, [np.array([0.3, -0.2, 0.9, 0.1])])


# -- lists of arrays as the operand, float32 --------------------------------------------------

LISTS = {
    "maximum.reduce of a list": "def f(x, y):\n    return np.sum(np.maximum.reduce([x, y * 2.0, x * y]))\n",
    "add.reduce of a list": "def f(x, y):\n    return np.sum(np.add.reduce([x, y * 2.0]) ** 2)\n",
    "multiply.accumulate of a list": "def f(x, y):\n    return np.sum(np.multiply.accumulate([x, y]) ** 2)\n",
    "subtract.outer of a list": "def f(x, y):\n    return np.sum(np.subtract.outer([x, y], y) ** 2)\n",
}


@pytest.mark.parametrize("name", list(LISTS))
def test_a_list_of_arrays_as_the_operand(name):
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.1, 0.4, -0.25])
    overbar.check_grad(define(LISTS[name]), [x, y], wrt=(0, 1))


def test_float32_in_float32_out():
    f = define(
        "def f(x, y):\n"
        "    return np.sum(np.maximum.accumulate(x) * np.add.outer(x, y)[:, 0])"
        " + np.logaddexp.reduce(x * y[0]) + x.item(1) * np.sum(np.array(y.tolist()))\n"
    )
    x, y = np.array([0.3, -1.2, 2.0], np.float32), np.array([1.1, 0.4], np.float32)
    for gradient in overbar.grad(f, wrt=(0, 1))(x, y):
        assert gradient.dtype == np.float32


# -- second derivatives: forward mode over the generated adjoint -------------------------------

SECOND = {
    "outer": "def f(x):\n    return np.sum(np.multiply.outer(x, x[:2]) ** 2 + np.maximum.outer(x, 0.1 * x))\n",
    "outer power": "def f(x):\n    return np.sum(np.power.outer(x * x + 1.0, x[1:]))\n",
    "log-sum-exp reduce": "def f(x):\n    return np.sum(np.logaddexp.reduce(x * x, axis=0))\n",
    "product reduce": "def f(x):\n    return np.sum(np.multiply.reduce(x, axis=1) ** 2)\n",
    "maximum reduce": "def f(x):\n    return np.sum(np.maximum.reduce(x ** 3, axis=1))\n",
    "running maximum": "def f(x):\n    return np.sum(np.maximum.accumulate(x ** 3, axis=1) * x)\n",
    "running sums and products": "def f(x):\n    return np.sum(np.multiply.accumulate(x) + np.add.accumulate(x) ** 2)\n",
    "running log-sum-exp": "def f(x):\n    return np.sum(np.logaddexp.accumulate(x * x, axis=1) ** 2)\n",
    "running log2-sum-exp2": "def f(x):\n    return np.sum(np.logaddexp2.accumulate(x * x) ** 2)\n",
    "item": "def f(x):\n    return x.item(1) ** 3 * np.sum(x)\n",
    "tolist": "def f(x):\n    r = x.tolist()\n    return r[0][1] ** 2 * r[1][2]\n",
    "compress": "def f(x):\n    return np.sum(x.compress([True, False, True], axis=1) ** 3)\n",
    "choose": "def f(x):\n    return np.sum(np.choose(np.array([[0, 1, 0], [1, 1, 0]]), [x ** 2, np.sin(x)]) ** 2)\n",
}


@pytest.mark.parametrize("name", list(SECOND))
def test_hessian_vector_products_against_differences_of_the_gradient(name):
    f = define(SECOND[name])
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    product = overbar.hvp(f, [x], v)
    gradient = overbar.grad(f)
    numeric = (gradient(x + 1e-5 * v) - gradient(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(product, numeric, rtol=1e-5, atol=1e-6)


def test_divide_reduce_and_accumulate_never_divide_by_the_first_element():
    """a₀ = 0: y = 0 / (a₁ ⋯) is 0, and ∂y/∂a₀ = 1 / (a₁ ⋯) is finite; the rules never divide
    by a₀ (computing it as y / a₀ would give nan)."""
    a = np.array([0.0, 2.0, 4.0])
    reduced = define("def f(a):\n    return np.divide.reduce(a)\n")
    np.testing.assert_allclose(overbar.grad(reduced)(a), [1 / 8, 0.0, 0.0])
    accumulated = define("def f(a):\n    return np.sum(np.divide.accumulate(a))\n")
    np.testing.assert_allclose(overbar.grad(accumulated)(a), [1 + 1 / 2 + 1 / 8, 0.0, 0.0])
    assert overbar.check_grad(accumulated, [np.array([0.0, 2.0, -4.0, 1.5])]) < 1e-6


def test_reduceat_of_multiply_is_exact_with_zeros_and_of_maximum_shares_ties():
    product = define("def f(a):\n    return np.sum(np.multiply.reduceat(a, [0, 3]))\n")
    a = np.array([0.0, 2.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(overbar.grad(product)(a), [6.0, 0.0, 0.0, 0.0, 0.0])
    tied = define("def f(a):\n    return np.sum(np.maximum.reduceat(a, [0, 3, 1]))\n")
    b = np.array([1.0, 5.0, 5.0, 2.0, 0.5])
    # segments [0, 3) with a tie at 5.0, [3] alone (3 ≥ 1), and [1, 5) with the same tie
    np.testing.assert_allclose(overbar.grad(tied, check=False)(b), [0.0, 1.0, 1.0, 1.0, 0.0])
