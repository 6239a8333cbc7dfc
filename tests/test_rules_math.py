"""The rules of ``overbar/runtime/rules_math.py`` (and ``var``/``std`` with ``ddof``), checked
against central finite differences at several shapes, broadcasting included, the way
``test_rules.py`` checks the others; then their conventions at ties, zeros and nan, and the
calls they refuse."""

from __future__ import annotations

import builtins
import inspect
import math
import operator
import warnings

import numpy as np
import pytest

import overbar
from overbar.errors import MissingRuleError, OverbarError
from overbar.primitives import Attribute, Method
from tests.support import define, rules_without_samples
from tests.test_rules import S, U, any_, binary, pos, unary
from tests.test_rules import test_rule_against_finite_differences as _check_sample


def negative_fraction(*shape):
    """Away from Γ's poles at 0 and −1."""
    return U(shape, -0.9, -0.1)


SAMPLES = [
    # remainders: the quotient's jumps are far from the drawn values (measure zero)
    *binary(operator.mod, "a % b", right=pos),
    S(operator.mod, "a % 0.3", a=any_(4)),
    S(operator.mod, "a % (-b)", a=any_(3), b=pos()),
    S(operator.mod, "2.5 % b", b=pos(3)),
    *binary(np.remainder, "np.remainder(a, b)", right=pos),
    S(np.remainder, "np.mod(a, b)", a=any_(2, 3), b=pos(3)),
    *binary(np.fmod, "np.fmod(a, b)", right=pos),
    S(np.fmod, "np.fmod(a, -b)", a=any_(4), b=pos()),
    S(math.fmod, "math.fmod(a, b)", a=U((), -3.0, 3.0), b=pos()),
    S(math.remainder, "math.remainder(a, b)", a=U((), -3.0, 3.0), b=pos()),
    # elementwise
    *unary(np.fabs, "np.fabs(a)"),
    *unary(np.sinc, "np.sinc(a)", lambda *s: U(s, -2.0, 2.0)),
    S(np.sinc, "np.sinc(a)", a=U((4,), -1e-4, 1e-4)),  # the series near 0
    S(np.sinc, "np.sinc(a * 0.0)", a=any_(3)),  # at 0 exactly
    *binary(np.logaddexp2, "np.logaddexp2(a, b)"),
    *unary(np.real, "np.real(a)"),
    *unary(np.imag, "np.imag(a) + a"),
    *unary(np.conjugate, "np.conj(a)"),
    S(np.conjugate, "np.conjugate(a)", a=any_(3)),
    S(Method("conj"), "a.conj()", a=any_(2, 3)),
    S(Method("conjugate"), "a.conjugate()", a=any_(3)),
    S(Attribute("real"), "a.real", a=any_(2, 2)),
    S(Attribute("imag"), "a.imag + a", a=any_(3)),
    *unary(np.angle, "np.angle(a) + a"),
    S(np.angle, "np.angle(a, deg=True) * a", a=any_(3)),
    *unary(np.nan_to_num, "np.nan_to_num(a)"),
    *unary(np.real_if_close, "np.real_if_close(a)"),
    S(np.real_if_close, "np.real_if_close(a, tol=1000) * a", a=any_(3)),
    S(Method("astype"), "a.astype(np.float64)", a=any_(2, 3)),
    S(Method("astype"), "a.astype('float64') * b", a=any_(3), b=any_(2, 3)),
    S(Method("astype"), "(a * 3.0).astype(int) * a", a=any_(4)),  # the jumps: measure zero
    S(Method("astype"), "a.astype(bool) + a", a=any_(3)),
    S(np.float32, "np.float32(a) - np.float32(a) + a", a=any_(2)),  # float32's own steps
    S(np.float64, "np.float64(a) * b", a=any_(), b=any_(3)),
    S(np.float64, "np.float64(a)", a=any_(2, 3)),  # of an array: an array
    S(np.float64, "np.double(a * b)", a=any_(), b=any_()),
    S(np.select, "np.select([a > 0], [a * b])", a=any_(4), b=any_(4)),
    S(
        np.select,
        "np.select([a > 0, b > 0], [a, b], default=c)",
        a=any_(2, 3),
        b=any_(2, 3),
        c=any_(3),
    ),
    S(np.select, "np.select([a > 0, a > -0.5], [b, a * a], default=1.5)", a=any_(3, 2), b=any_(2)),
    S(np.select, "np.select([a > 0, b > 0], (a, b), default=np.tanh(a))", a=any_(3), b=any_()),
    S(np.select, "np.select([a > 0, a < 0], np.stack([a, 2.0 * a]))", a=any_(2, 3)),
    S(np.nan_to_num, "np.nan_to_num(a, nan=1.0, posinf=2.0)", a=any_(3)),
    # math's special functions
    S(math.erf, "math.erf(a)", a=U((), -2.0, 2.0)),
    S(math.erfc, "math.erfc(a)", a=U((), -2.0, 2.0)),
    S(math.gamma, "math.gamma(a)", a=pos()),
    S(math.gamma, "math.gamma(a)", a=U((), 3.0, 15.0)),
    S(math.gamma, "math.gamma(a)", a=negative_fraction()),
    S(math.lgamma, "math.lgamma(a)", a=U((), 0.1, 30.0)),
    S(math.lgamma, "math.lgamma(a)", a=negative_fraction()),
    S(math.hypot, "math.hypot(a, b)", a=any_(), b=any_()),
    S(math.hypot, "math.hypot(a, b, 2.0 * a)", a=any_(), b=any_()),
    S(math.hypot, "math.hypot(a)", a=any_()),
    # Python's builtins
    S(builtins.max, "max(a, b)", a=any_(), b=any_()),
    S(builtins.max, "max(a, 2.0 * b, 0.5)", a=any_(), b=any_()),
    S(builtins.max, "max([a, b])", a=any_(), b=any_()),
    S(builtins.max, "max(a)", a=any_(4)),
    S(builtins.max, "max(a[0], a[1]) * a", a=any_(3)),
    S(builtins.min, "min(a, b, a * b)", a=any_(), b=any_()),
    S(builtins.min, "min((a, b))", a=any_(), b=any_()),
    S(builtins.min, "min(a)", a=any_(5)),
    S(builtins.tuple, "tuple([a, 2.0 * b])[1] * a", a=any_(3), b=any_(3)),
    S(builtins.tuple, "tuple(a)[1]", a=any_(3, 2)),
    S(builtins.tuple, "np.array(tuple(a)) * b", a=any_(3), b=any_(3)),
    S(builtins.list, "list(a)[0] * list(a)[2]", a=any_(4, 2)),
    S(builtins.list, "list((a, b * b))[1]", a=any_(), b=any_(2)),
    S(builtins.sorted, "sorted([a, b, a * b])[0] * sorted([a, b, a * b])[2]", a=any_(), b=any_()),
    S(builtins.sorted, "sorted(a, reverse=True)[1] * a", a=any_(4)),
    S(builtins.sorted, "sorted(a)[0] - sorted(a)[-1] ** 2", a=any_(5)),
    S(
        builtins.sorted,
        "sorted((a, b), key=np.sum)[0] + 2.0 * sorted((a, b), key=np.sum)[1]",
        a=any_(3),
        b=any_(3),
    ),
    # reductions
    S(np.nansum, "np.nansum(a)", a=any_(4)),
    S(np.nansum, "np.nansum(a, axis=0)", a=any_(3, 2)),
    S(np.nansum, "np.nansum(a, axis=-1, keepdims=True)", a=any_(2, 3)),
    S(np.nanmean, "np.nanmean(a)", a=any_(2, 3)),
    S(np.nanmean, "np.nanmean(a, axis=1)", a=any_(2, 3)),
    S(np.nanmean, "np.nanmean(a, axis=(0, 2), keepdims=True)", a=any_(2, 3, 2)),
    S(np.nanvar, "np.nanvar(a)", a=any_(5)),
    S(np.nanvar, "np.nanvar(a, axis=0, ddof=1)", a=any_(4, 3)),
    S(np.nanvar, "np.nanvar(a, axis=1, keepdims=True)", a=any_(2, 4)),
    S(np.nanstd, "np.nanstd(a)", a=any_(5)),
    S(np.nanstd, "np.nanstd(a, axis=1, ddof=1)", a=any_(3, 4)),
    S(np.nanstd, "np.nanstd(a, axis=(0, 2), keepdims=True)", a=any_(2, 3, 2)),
    S(np.nanprod, "np.nanprod(a)", a=any_(4)),
    S(np.nanprod, "np.nanprod(a, axis=0)", a=any_(3, 2)),
    S(np.nanprod, "np.nanprod(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.nancumsum, "np.nancumsum(a)", a=any_(2, 3)),
    S(np.nancumsum, "np.nancumsum(a, axis=1)", a=any_(2, 3)),
    S(np.nancumprod, "np.nancumprod(a)", a=any_(2, 3)),
    S(np.nancumprod, "np.nancumprod(a, axis=0)", a=any_(3, 2)),
    S(np.nanmax, "np.nanmax(a)", a=any_(5)),
    S(np.nanmax, "np.nanmax(a, axis=0)", a=any_(3, 4)),
    S(np.nanmin, "np.nanmin(a, axis=1, keepdims=True)", a=any_(3, 4)),
    S(np.polyval, "np.polyval(p, x)", p=any_(4), x=any_(3)),
    S(np.polyval, "np.polyval(p, x)", p=any_(3), x=any_(2, 3)),
    S(np.polyval, "np.polyval(p, x)", p=any_(5), x=any_()),
    S(np.polyval, "np.polyval(p, x)", p=any_(1), x=any_(3)),
    S(np.polyval, "np.polyval(p, x)", p=any_(3, 2), x=any_(2)),  # a polynomial per column
    S(np.polyval, "np.polyval(p, x)", p=any_(3, 1), x=any_(4)),  # broadcast against x
    S(np.average, "np.average(a)", a=any_(4)),
    S(np.average, "np.average(a, axis=1)", a=any_(2, 3)),
    S(np.average, "np.average(a, axis=0, keepdims=True)", a=any_(3, 2)),
    S(np.average, "np.average(a, weights=w)", a=any_(4), w=pos(4)),
    S(np.average, "np.average(a, axis=1, weights=w)", a=any_(2, 3), w=pos(2, 3)),
    S(np.average, "np.average(a, axis=0, weights=w)", a=any_(3, 2), w=pos(3)),
    S(np.average, "np.average(a, axis=-1, weights=w, keepdims=True)", a=any_(2, 3), w=pos(3)),
    S(np.average, "np.average(a, axis=(1, 2), weights=w)", a=any_(2, 3, 2), w=pos(3, 2)),
    S(np.average, "np.average(a, axis=(2, 0), weights=w)", a=any_(4, 3, 2), w=pos(2, 4)),
    S(np.ptp, "np.ptp(a)", a=any_(5)),
    S(np.ptp, "np.ptp(a, axis=0)", a=any_(3, 4)),
    S(np.ptp, "np.ptp(a, axis=1, keepdims=True)", a=any_(3, 4)),
    S(np.cumprod, "np.cumprod(a)", a=any_(2, 3)),
    S(np.cumprod, "np.cumprod(a, axis=1)", a=any_(2, 3)),
    S(np.cumprod, "np.cumprod(a, axis=0)", a=any_(4)),
    S(Method("cumprod"), "a.cumprod(axis=0)", a=any_(3, 2)),
    S(np.median, "np.median(a)", a=any_(5)),
    S(np.median, "np.median(a)", a=any_(4)),
    S(np.median, "np.median(a, axis=0)", a=any_(4, 3)),
    S(np.median, "np.median(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.median, "np.median(a, axis=(0, 2))", a=any_(2, 3, 3)),
    S(np.quantile, "np.quantile(a, 0.3)", a=any_(6)),
    S(np.quantile, "np.quantile(a, [0.2, 0.9], axis=1)", a=any_(3, 5)),
    S(np.quantile, "np.quantile(a, 0.7, axis=0, keepdims=True)", a=any_(4, 2)),
    S(np.quantile, "np.quantile(a, [[0.1], [0.5]], axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.quantile, "np.quantile(a, 0.35, method='lower')", a=any_(6)),
    S(np.quantile, "np.quantile(a, 0.35, method='nearest')", a=any_(6)),
    S(np.quantile, "np.quantile(a, 0.35, method='midpoint')", a=any_(6)),
    S(np.quantile, "np.quantile(a, 0.35, method='weibull')", a=any_(6)),
    S(np.percentile, "np.percentile(a, 40)", a=any_(5)),
    S(np.percentile, "np.percentile(a, [25.0, 75.0], axis=0)", a=any_(4, 2)),
    S(np.nanmedian, "np.nanmedian(a)", a=any_(5)),
    S(np.nanmedian, "np.nanmedian(a)", a=any_(4)),
    S(np.nanmedian, "np.nanmedian(a, axis=0)", a=any_(4, 3)),
    S(np.nanmedian, "np.nanmedian(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.nanmedian, "np.nanmedian(a, axis=(0, 2))", a=any_(2, 3, 3)),
    S(np.nanmedian, "np.nanmedian(a, axis=0) * b", a=any_(3, 4), b=any_(4)),  # broadcast after
    S(np.nanquantile, "np.nanquantile(a, 0.3)", a=any_(6)),
    S(np.nanquantile, "np.nanquantile(a, [0.2, 0.9], axis=1)", a=any_(3, 5)),
    S(np.nanquantile, "np.nanquantile(a, 0.7, axis=0, keepdims=True)", a=any_(4, 2)),
    S(np.nanquantile, "np.nanquantile(a, [[0.1], [0.5]], axis=1, keepdims=True)", a=any_(2, 3)),
    S(np.nanquantile, "np.nanquantile(a, 0.35, method='lower')", a=any_(6)),
    S(np.nanquantile, "np.nanquantile(a, 0.35, method='nearest')", a=any_(6)),
    S(np.nanquantile, "np.nanquantile(a, 0.35, method='midpoint', axis=-1)", a=any_(2, 6)),
    S(np.nanquantile, "np.nanquantile(a, 0.35, method='weibull')", a=any_(6)),
    S(np.nanpercentile, "np.nanpercentile(a, 40)", a=any_(5)),
    S(np.nanpercentile, "np.nanpercentile(a, [25.0, 75.0], axis=0)", a=any_(4, 2)),
    S(np.nanpercentile, "np.nanpercentile(a + b, 60.0, axis=(1, 2))", a=any_(2, 3, 2), b=any_(2)),
    S(np.var, "np.var(a, ddof=2)", a=any_(5)),
    S(np.std, "np.std(a, axis=0, ddof=1.5)", a=any_(4, 3)),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    _check_sample(sample)


def test_every_rule_of_the_module_has_samples():
    missing = rules_without_samples("overbar.runtime.rules_math", SAMPLES)
    assert not missing, f"rules without sample inputs: {missing}"


def _grad(source: str, wrt=0):
    return overbar.grad(define(source), wrt=wrt)


def _both(g, *args):
    """The adjoint specialised on the arguments' shapes, and the general one, called directly:
    at ties the gradient guard's finite differences would (rightly) disagree with either."""
    return g.stages_for(*args).emitted.function(*args), g.stages.emitted.function(*args)


# -- conventions: ties, zeros, nan ------------------------------------------------------------


@pytest.mark.parametrize(
    "x, expected",
    [
        ([1.0, 2.0, 2.0, 3.0], [0.0, 0.5, 0.5, 0.0]),  # the two middle ones, tied
        ([2.0, 2.0, 2.0], [1 / 3, 1 / 3, 1 / 3]),
        ([3.0, 1.0, 3.0, 0.0, 3.0], [1 / 3, 0.0, 1 / 3, 0.0, 1 / 3]),
        ([4.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.5, 0.5]),
    ],
)
def test_median_ties_share_the_gradient_evenly(x, expected):
    g = _grad("def f(x):\n    return np.median(x)\n")
    for gradient in _both(g, np.array(x)):
        np.testing.assert_allclose(gradient, expected)


def test_the_quantile_one_has_the_max_gradient_and_zero_the_min():
    x = np.array([[1.0, 5.0, 5.0], [2.0, 2.0, 0.5]])
    top = _grad(
        "def f(x):\n    return np.sum(np.quantile(x, 1.0, axis=1) * np.array([1.0, 3.0]))\n"
    )
    top_max = _grad("def f(x):\n    return np.sum(np.max(x, axis=1) * np.array([1.0, 3.0]))\n")
    np.testing.assert_allclose(top(x), top_max(x))
    bottom = _grad("def f(x):\n    return np.percentile(x, 0)\n")
    np.testing.assert_allclose(bottom(x), [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


NAN = np.nan


@pytest.mark.parametrize(
    "source, x, expected",
    [
        ("np.nanmedian(x)", [NAN, 3.0, 1.0, NAN, 2.0], [0.0, 0.0, 0.0, 0.0, 1.0]),
        ("np.nanmedian(x)", [4.0, NAN, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.5, 0.5]),
        ("np.nanmedian(x)", [2.0, NAN, 2.0, 1.0], [0.5, 0.0, 0.5, 0.0]),  # tied middle ones
        ("np.nanquantile(x, 1.0)", [1.0, NAN, 5.0, 5.0], [0.0, 0.0, 0.5, 0.5]),
        ("np.nanquantile(x, 0.25)", [4.0, 1.0, NAN, 3.0, 2.0], [0.0, 0.25, 0.0, 0.0, 0.75]),
        ("np.nanpercentile(x, 0.0)", [NAN, 3.0, 2.0], [0.0, 0.0, 1.0]),
        # each row its own count of numbers; a row of nan alone: nan, and no gradient
        (
            "np.nansum(np.nanmedian(x, axis=1)[:2] * np.array([1.0, 3.0]))",
            [[1.0, NAN, 2.0, 7.0], [NAN, NAN, 5.0, 4.0], [NAN, NAN, NAN, NAN]],
            [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.5, 1.5], [0.0, 0.0, 0.0, 0.0]],
        ),
    ],
)
def test_nan_order_statistics_skip_nan(source, x, expected):
    g = _grad(f"def f(x):\n    return {source}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-nan slice
        for gradient in _both(g, np.array(x)):
            np.testing.assert_allclose(gradient, expected, atol=1e-15)


def test_nan_order_statistics_equal_the_plain_ones_on_the_numbers():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7))
    holes = x.copy()
    holes[0, 2] = holes[2, [0, 5]] = NAN
    numbers = [row[~np.isnan(row)] for row in holes]
    for function, q in (("nanquantile", 0.3), ("nanpercentile", 80.0)):
        g = _grad(
            f"def f(x):\n    return np.sum(np.{function}(x, {q}, axis=1) * np.arange(3.0))\n"
        )
        plain = "quantile" if function == "nanquantile" else "percentile"
        h = _grad(f"def f(x):\n    return np.{plain}(x, {q})\n")
        gradient = g.stages_for(holes).emitted.function(holes)
        for row, values in enumerate(numbers):
            np.testing.assert_allclose(
                gradient[row][~np.isnan(holes[row])], row * h(values), rtol=1e-12
            )
            assert np.all(gradient[row][np.isnan(holes[row])] == 0.0)


def test_the_nan_quantile_with_respect_to_q_is_refused():
    g = _grad("def f(x, q):\n    return np.nanquantile(x, q)\n", wrt=1)
    with pytest.raises(OverbarError, match="with respect to q"):
        g(np.arange(4.0), 0.3)


def test_builtin_max_splits_ties_evenly():
    g = _grad("def f(x):\n    return max(x[0], x[1], x[2] - 1.0)\n")
    for gradient in _both(g, np.array([2.0, 2.0, 3.0])):
        np.testing.assert_allclose(gradient, [1 / 3, 1 / 3, 1 / 3])
    g = _grad("def f(x):\n    return min(x)\n")
    for gradient in _both(g, np.array([0.5, 1.0, 0.5])):
        np.testing.assert_allclose(gradient, [0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    "x",
    [
        [1.5, 0.0, 2.0, -1.0],
        [0.0, 0.0, 2.0, 3.0],
        [2.0, -1.0, 0.5, 0.0],
        [[0.0, 2.0, 1.5], [3.0, 0.0, 0.0]],
        [0.0, 0.0, 0.0],
        [[1.0, 2.0], [0.0, 3.0], [4.0, 0.0], [0.5, 0.0]],
    ],
)
def test_cumprod_is_right_where_the_input_holds_zeros(x):
    x = np.array(x)
    for axis in (None, -1):
        source = f"def f(x, u):\n    return np.sum(np.cumprod(x, axis={axis}) * u)\n"
        g = overbar.grad(define(source))
        # the exact gradient: each cumulative product is a polynomial, linear in each x_j
        flat = x.reshape(-1) if axis is None else x
        weights = u = np.linspace(0.5, 1.5, x.size).reshape(flat.shape)
        expected = np.zeros(flat.shape)
        for j in np.ndindex(flat.shape):
            bumped = flat.copy()
            bumped[j] = 1.0
            at_one = np.sum(np.cumprod(bumped, axis=-1) * weights)
            bumped[j] = 0.0
            at_zero = np.sum(np.cumprod(bumped, axis=-1) * weights)
            expected[j] = at_one - at_zero
        for gradient in _both(g, x, u):
            np.testing.assert_allclose(gradient, expected.reshape(x.shape), atol=1e-14)


def test_nan_reductions_send_nothing_to_nan():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5]])
    cases = {
        "np.nansum(x * w)": [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
        "np.sum(np.nanmean(x, axis=1))": [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]],
        "np.sum(np.nanmax(x, axis=1))": [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
        "np.nanmin(x)": [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        "np.nanprod(x)": [[3.0, 0.0, 1.0], [0.0, 1.5, 6.0]],
        "np.sum(np.nancumsum(x, axis=1))": [[3.0, 0.0, 1.0], [0.0, 2.0, 1.0]],
        "np.sum(np.nancumprod(x, axis=1))": [[5.0, 0.0, 1.0], [0.0, 1.5, 2.0]],
        "np.sum(np.nanvar(x, axis=1) * np.array([1.0, 2.0]))": [
            [-1.0, 0.0, 1.0],
            [0.0, 1.5, -1.5],
        ],
        "np.sum(np.nan_to_num(x) * w)": [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
    }
    for expression, expected in cases.items():
        g = _grad(f"def f(x):\n    w = np.ones((2, 3))\n    return {expression}\n")
        for gradient in _both(g, x):
            np.testing.assert_array_equal(gradient, expected, err_msg=expression)


def test_nan_to_num_sends_the_replacements_gradient_to_them():
    x = np.array([1.0, np.nan, np.inf, -np.inf, np.nan])
    g = _grad("def f(x, v):\n    return np.sum(np.nan_to_num(x, nan=v, posinf=2.0 * v))\n", wrt=1)
    assert _both(g, x, 0.5) == (4.0, 4.0)


@pytest.mark.parametrize("function", ["np.var", "np.std"])
def test_ddof_at_least_n_gives_nan_not_an_exception(function):
    g = _grad(f"def f(x):\n    return {function}(x, ddof=3)\n")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for gradient in _both(g, np.array([1.0, 2.0, 4.0])):
            assert np.isnan(gradient).all()


def test_digamma_against_finite_differences_of_lgamma():
    from overbar.runtime.helpers_math import digamma

    for x in (0.01, 0.3, 1.0, 2.5, 11.9, 12.0, 40.0, 1e4, -0.5, -1.7, -3.2):
        step = 1e-6 * max(1.0, abs(x))
        numeric = (math.lgamma(x + step) - math.lgamma(x - step)) / (2 * step)
        assert digamma(x) == pytest.approx(numeric, rel=1e-6, abs=1e-6)
    assert digamma(1.0) == pytest.approx(-0.5772156649015329, rel=1e-14)
    assert math.isnan(digamma(-2.0))


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "np.sum(np.average(x, weights=x, returned=True)[0])",
        "max(x, 1.0, key=abs)",
        "max([x], default=0.0)",
        "np.sum(np.nan_to_num(x, copy=False))",
        "np.median(x * 2.0, overwrite_input=True)",
        "np.sum(np.quantile(x * 2.0, 0.3, overwrite_input=True))",
        "np.percentile(x * 2.0, 30, weights=x, method='inverted_cdf')",
    ],
)
def test_unsupported_arguments_are_refused_when_compiling(expression):
    g = _grad(f"def f(x):\n    return {expression}\n")
    with pytest.raises(MissingRuleError, match="fits this call"):
        g(np.array(0.5))


@pytest.mark.parametrize("function", ["np.real", "np.imag", "np.conj", "np.angle"])
def test_complex_values_are_refused_at_run_time(function):
    g = _grad(f"def f(x):\n    return np.sum({function}(x * (1.0 + 1.0j)) + x)\n")
    with pytest.raises(OverbarError, match="complex"):
        g(np.array([0.5, 2.0]))


def test_the_gradient_with_respect_to_q_is_refused():
    g = _grad("def f(x, q):\n    return np.quantile(x, q)\n", wrt=(0, 1))
    with pytest.raises(OverbarError, match="with respect to q"):
        g(np.array([1.0, 2.0, 3.0]), 0.4)
    # with respect to the data alone, q may be a variable
    g = _grad("def f(x, q):\n    return np.quantile(x, q)\n")
    np.testing.assert_allclose(g(np.array([1.0, 2.0, 3.0]), 0.25), [0.5, 0.5, 0.0])


def test_empty_inputs_give_empty_gradients():
    x = np.zeros((0, 3))
    for expression in ("np.sum(np.cumprod(x, axis=0))", "np.sum(np.nansum(x, axis=0))"):
        g = _grad(f"def f(x):\n    return {expression}\n")
        for gradient in _both(g, x):
            assert gradient.shape == (0, 3)


def test_builtin_max_of_one_row_sends_it_the_whole_gradient():
    """max of an array of one row returns the row itself, compared with nothing."""
    g = _grad("def f(x):\n    return np.sum(max(x) * np.array([1.0, 2.0]))\n")
    for gradient in _both(g, np.array([[0.5, 0.5]])):
        np.testing.assert_allclose(gradient, [[1.0, 2.0]])
    g = _grad("def f(x):\n    return np.sum(max(x) * 3.0)\n")
    for gradient in _both(g, np.array([[0.5], [1.5], [1.5]])):
        np.testing.assert_allclose(gradient, [[0.0], [1.5], [1.5]])


# -- forward mode: the same conventions, and the same refusals -----------------------------------


def _jvp_both(function, args, tangents, wrt=0):
    """The jvp specialised on the arguments' shapes, and the general one, called directly (at
    ties and zeros finite differences are not the reference): their tangents."""
    wrt = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    results = []
    for shapes_of in (args, None):
        stages = overbar.forward_api.jvp_stages(function, shapes_of, wrt)
        dots = dict(stages.folded.tangent_parameters)
        names = list(inspect.signature(function).parameters)
        given = {dots[names[i]]: t for i, t in zip(wrt, tangents, strict=True)}
        results.append(stages.emitted.function(*args, **given)[1])
    return results


def _columns(function, x):
    """The Jacobian of ``function`` at ``x`` column by column, along each basis vector, by
    both jvps."""
    specialised, general = [], []
    for position in np.ndindex(x.shape):
        basis = np.zeros(x.shape)
        basis[position] = 1.0
        one, other = _jvp_both(function, (x,), (basis,))
        specialised.append(one)
        general.append(other)
    return np.array(specialised), np.array(general)


@pytest.mark.parametrize(
    "expression, x",
    [
        ("np.median(x)", [1.0, 2.0, 2.0, 3.0]),
        ("np.median(x)", [2.0, 2.0, 2.0]),
        ("np.median(x)", [3.0, 1.0, 3.0, 0.0, 3.0]),
        ("np.sum(np.median(x, axis=0) * np.array([1.0, 3.0]))", [[1.0, 2], [1, 0.5], [3, 0.5]]),
        ("np.sum(np.quantile(x, 1.0, axis=1) * np.array([1.0, 3.0]))", [[1.0, 5, 5], [2, 2, 0.5]]),
        ("np.sum(np.quantile(x, [0.0, 0.5], axis=1))", [[1.0, 5, 5], [2, 2, 0.5]]),
        ("np.percentile(x, 0)", [[1.0, 5.0, 5.0], [2.0, 2.0, 0.5]]),
        ("max(x[0], x[1], x[2] - 1.0)", [2.0, 2.0, 3.0]),
        ("min(x)", [0.5, 1.0, 0.5]),
        ("np.sum(max(x) * 3.0)", [[0.5], [1.5], [1.5]]),
        ("np.ptp(x)", [1.0, 3.0, 1.0, 3.0, 2.0]),
        ("np.sum(np.nanmax(x, axis=1))", [[1.0, np.nan, 1.0], [np.nan, 2.0, 0.5]]),
        ("np.nanmin(x)", [[0.5, np.nan, 1.0], [np.nan, 2.0, 0.5]]),
        ("np.nansum(x * 2.0)", [[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5]]),
        ("np.sum(np.nanmean(x, axis=1))", [[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5]]),
        ("np.nanprod(x)", [[1.0, np.nan, 3.0], [np.nan, 0.0, 0.5]]),
        ("np.sum(np.nancumsum(x, axis=1))", [[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5]]),
        ("np.sum(np.nancumprod(x, axis=1))", [[1.0, np.nan, 3.0], [np.nan, 2.0, 0.0]]),
        (
            "np.sum(np.nanvar(x, axis=1) * np.array([1.0, 2.0]))",
            [[1.0, np.nan, 3], [np.nan, 2, 0.5]],
        ),
        ("np.nanstd(x)", [[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5]]),
        ("np.sum(np.nan_to_num(x, posinf=3.0))", [1.0, np.nan, np.inf, -np.inf, 2.0]),
        ("np.prod(np.cumprod(x) + 1.0)", [[0.5, 0.0], [2.0, 0.0]]),
    ],
)
def test_forward_and_reverse_mode_agree_at_ties_zeros_and_nan(expression, x):
    """The tangent along each basis vector is the gradient's element there: the tangent rules
    take the same one-sided values and the same shares among ties as the adjoint rules."""
    x = np.array(x)
    function = define(f"def f(x):\n    return {expression}\n")
    gradient, _ = _both(overbar.grad(function), x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for columns in _columns(function, x):
            np.testing.assert_allclose(columns, gradient.reshape(-1), atol=1e-14)


@pytest.mark.parametrize(
    "x",
    [
        [1.5, 0.0, 2.0, -1.0],
        [0.0, 0.0, 2.0, 3.0],
        [[0.0, 2.0, 1.5], [3.0, 0.0, 0.0]],
        [0.0, 0.0, 0.0],
        [[1.0, 2.0], [0.0, 3.0], [4.0, 0.0], [0.5, 0.0]],
    ],
)
def test_the_cumprod_tangent_is_right_where_the_input_holds_zeros(x):
    x = np.array(x)
    for axis in (None, -1, 0):
        function = define(f"def f(x):\n    return np.cumprod(x, axis={axis})\n")
        for column, position in enumerate(np.ndindex(x.shape)):
            # each cumulative product is affine in each x_j: the column is a difference
            bumped = x.copy()
            bumped[position] = 1.0
            at_one = np.cumprod(bumped, axis=axis)
            bumped[position] = 0.0
            expected = at_one - np.cumprod(bumped, axis=axis)
            basis = np.zeros(x.shape)
            basis[position] = 1.0
            for tangent in _jvp_both(function, (x,), (basis,)):
                np.testing.assert_allclose(tangent, expected, atol=1e-14, err_msg=str(column))


@pytest.mark.parametrize(
    "expression",
    [
        "np.nansum(x * c)",
        "np.nanmean(x * c, axis=0)",
        "np.nanvar(x * c, axis=1)",
        "np.nanstd(x * c)",
        "np.nanprod(x * c, axis=0)",
        "np.nancumsum(x * c, axis=1)",
        "np.nancumprod(x * c)",
        "np.nan_to_num(x * c)",
        "np.nan_to_num(np.exp(x * 400.0) - np.exp(-x * 400.0))",
    ],
)
def test_forward_mode_reads_no_tangent_where_the_value_is_skipped(expression):
    """Where an element is nan (or ±∞ for nan_to_num) the nan-reductions skip it, and its
    tangent (here nan or ∞ too: ẋ c with c = nan) is not read: the tangent is the derivative of
    what the reduction computes, finite, as central differences find it."""
    c = np.array([[1.5, np.nan, 0.5], [np.nan, -1.0, 2.0]])
    x = np.array([[0.3, 1.2, -0.7], [2.0, 0.9, -1.1]])
    function = define(f"def f(x, c):\n    return {expression}\n")
    v = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    eps = 1e-6
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan slice
        numeric = (function(x + eps * v, c) - function(x - eps * v, c)) / (2 * eps)
        tangents = _jvp_both(function, (x, c), (v,))
    assert np.all(np.isfinite(numeric))
    for tangent in tangents:
        np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "expression",
    [
        "np.sum(np.average(x, weights=x, returned=True)[0])",
        "max(x, 1.0, key=abs)",
        "max([x], default=0.0)",
        "np.sum(np.nan_to_num(x, copy=False))",
        "np.median(x * 2.0, overwrite_input=True)",
        "np.sum(np.quantile(x * 2.0, 0.3, overwrite_input=True))",
        "np.percentile(x * 2.0, 30, weights=x, method='inverted_cdf')",
    ],
)
def test_forward_mode_refuses_the_arguments_reverse_mode_refuses(expression):
    function = define(f"def f(x):\n    return {expression}\n")
    with pytest.raises(MissingRuleError, match="no tangent rule .* fits this call"):
        overbar.jvp(function, (np.array(0.5),), (np.array(1.0),))


@pytest.mark.parametrize("function", ["np.real", "np.imag", "np.conj", "np.angle"])
def test_forward_mode_refuses_complex_values_at_run_time(function):
    f = define(f"def f(x):\n    return np.sum({function}(x * (1.0 + 1.0j)) + x)\n")
    with pytest.raises(OverbarError, match="complex"):
        overbar.jvp(f, (np.array([0.5, 2.0]),), (np.array([1.0, 0.0]),))


@pytest.mark.parametrize("function", ["np.quantile(x, q)", "np.percentile(x, q * 100)"])
def test_forward_mode_refuses_the_tangent_of_q(function):
    f = define(f"def f(x, q):\n    return {function}\n")
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(OverbarError, match="with respect to q"):
        overbar.jvp(f, (x, 0.4), (np.zeros(3), 1.0))
    # along the data alone, q may be a variable
    _, tangent = overbar.jvp(f, (x, 0.25), (np.array([1.0, 2.0, 4.0]),), wrt=0)
    assert tangent == pytest.approx(0.5 * 1.0 + 0.5 * 2.0)


def test_forward_mode_on_empty_inputs_gives_empty_tangents():
    x = np.zeros((0, 3))
    for expression, shape in [
        ("np.cumprod(x, axis=0)", (0, 3)),
        ("np.cumprod(x)", (0,)),
        ("np.nansum(x, axis=0)", (3,)),
        ("np.median(x, axis=1)", (0,)),
    ]:
        function = define(f"def f(x):\n    return {expression}\n")
        for tangent in _jvp_both(function, (x,), (np.ones((0, 3)),)):
            assert np.shape(tangent) == shape, expression
            assert not np.any(tangent), expression


def test_astype_sends_the_gradient_back_in_the_input_dtype():
    g = _grad("def f(x):\n    return np.sum(np.sin(x.astype('float64')))\n")
    x = np.arange(3, dtype="float32")
    gradient = g(x)
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient, np.cos(x), rtol=1e-6)


@pytest.mark.parametrize(
    "expression",
    ["np.float64(x)", "np.asarray(x, dtype=np.float64)", "np.array(x, dtype=float)"],
)
def test_a_cast_to_float64_sends_the_gradient_back_in_the_input_dtype(expression):
    g = _grad(f"def f(x):\n    return np.sum(np.sin({expression}))\n")
    x = np.arange(3, dtype="float32")
    for gradient in (g(x), *_both(g, x)):
        assert gradient.dtype == np.float32
        np.testing.assert_allclose(gradient, np.cos(x), rtol=1e-6)
    gradient = g(np.float32(0.5))  # by forward mode: a NumPy number's gradient is one too
    assert type(gradient) is np.float32 and np.isclose(gradient, np.cos(0.5))


def test_np_array_with_ndmin_is_refused():
    g = _grad("def f(x):\n    return np.sum(np.array(x, ndmin=2))\n")
    with pytest.raises(OverbarError, match="ndmin"):
        g(np.ones(3))


def test_astype_to_an_integer_dtype_gives_a_zero_gradient():
    g = _grad("def f(x):\n    return np.sum(x.astype(np.int64) * 1.0)\n")
    for gradient in _both(g, np.array([0.5, 1.5, -2.25])):
        np.testing.assert_array_equal(gradient, [0.0, 0.0, 0.0])


def test_astype_to_a_complex_dtype_is_refused_at_run_time():
    g = _grad("def f(x):\n    return np.sum(np.real(x.astype(complex)))\n")
    with pytest.raises(OverbarError, match="complex"):
        g(np.array([0.5, 2.0]))


def test_np_real_if_close_of_a_complex_value_is_refused_at_run_time():
    g = _grad("def f(x):\n    return np.sum(np.real_if_close(x * (1.0 + 1.0j)) + x)\n")
    with pytest.raises(OverbarError, match="complex"):
        g(np.array([0.5, 2.0]))


def test_select_sends_the_gradient_to_the_first_true_condition_only():
    source = "def f(x, y):\n    return np.sum(np.select([x > 0, x > -1.0], [x, y], default=-y))\n"
    g = overbar.grad(define(source), wrt=(0, 1))
    x = np.array([0.5, -0.5, -2.0])
    x_bar, y_bar = g(x, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x_bar, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(y_bar, [0.0, 1.0, -1.0])


@pytest.mark.parametrize("cast", ["np.int64", "np.int32", "np.intp", "np.uint8"])
def test_an_index_cast_to_integers_from_the_input_sends_it_no_gradient(cast):
    """np.int64(x) is piecewise constant (as int(x) is): an index made from the input by it
    carries no gradient, and the values it picks carry theirs."""
    source = f"def f(w):\n    rows = {cast}(w[:, -1])\n    return np.sum(w[:, :-1][rows] ** 2)\n"
    w = np.arange(20.0).reshape(5, 4) / 8
    expected = np.zeros_like(w)
    for row in np.int64(w[:, -1]):
        expected[row, :-1] += 2 * w[row, :-1]
    np.testing.assert_allclose(_grad(source)(w), expected)


def test_polyval_has_second_derivatives_in_both_arguments():
    f = define("def f(p, x):\n    return np.sum(np.polyval(p, x) ** 2)\n")
    p, x = np.array([0.5, -1.0, 2.0, 0.3]), np.array([0.2, -0.7, 1.1])
    for wrt, at in ((0, p), (1, x)):
        hessian = overbar.hessian(f, wrt=wrt)(p, x)
        gradient = overbar.grad(f, wrt=wrt)
        eps = 1e-5
        columns = []
        for e in np.eye(at.size):
            moved = [p, x]
            moved[wrt] = at + eps * e
            high = gradient(*moved)
            moved[wrt] = at - eps * e
            columns.append((high - gradient(*moved)) / (2 * eps))
        np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-6, atol=1e-8)


# -- NumPy 2's running sums and products, signs, binary exponents, tuples of parts -------------

NEW_SAMPLES = [
    *binary(np.copysign, "np.copysign(a, b)"),
    S(np.copysign, "np.copysign(a, -1.0)", a=any_(3)),
    S(np.heaviside, "np.heaviside(a, b)", a=any_(3), b=any_(2, 3)),
    S(np.heaviside, "np.heaviside(a * 0.0, b)", a=any_(3), b=any_(3)),  # at 0: the value h
    S(np.heaviside, "np.heaviside(np.array([0.0, 1.0, -1.0]), b)", b=any_(2, 1)),
    S(np.ldexp, "np.ldexp(a, 3)", a=any_(4)),
    S(np.ldexp, "np.ldexp(a, np.array([1, -2, 0]))", a=any_(2, 3)),
    S(np.nextafter, "np.nextafter(a, b)", a=any_(3), b=any_(2, 3)),
    S(np.nextafter, "np.nextafter(a, 5.0) * a", a=any_(4)),
    S(np.modf, "np.modf(3.0 * a)[0]", a=any_(5)),
    S(np.modf, "np.modf(3.0 * a)[0] * np.modf(3.0 * a)[1]", a=any_(2, 3)),
    S(np.frexp, "np.frexp(a)[0]", a=any_(4)),
    S(np.frexp, "np.frexp(a)[0] * np.frexp(a)[1]", a=any_(2, 2)),
    S(np.divmod, "np.divmod(a, b)[1]", a=any_(4), b=pos(4)),
    S(np.divmod, "np.divmod(3.0 * a, b)[1] * np.divmod(3.0 * a, b)[0]", a=any_(2, 3), b=pos(3)),
    S(builtins.divmod, "divmod(a, b)[1]", a=any_(), b=pos()),
    S(np.cumulative_sum, "np.cumulative_sum(a)", a=any_(4)),
    S(np.cumulative_sum, "np.cumulative_sum(a, axis=1)", a=any_(2, 3)),
    S(np.cumulative_sum, "np.cumulative_sum(a, include_initial=True)", a=any_(3)),
    S(np.cumulative_sum, "np.cumulative_sum(a, axis=0, include_initial=True)", a=any_(3, 2)),
    S(np.cumulative_prod, "np.cumulative_prod(a)", a=any_(4)),
    S(np.cumulative_prod, "np.cumulative_prod(a, axis=0)", a=any_(3, 2)),
    S(np.cumulative_prod, "np.cumulative_prod(a, axis=-1, include_initial=True)", a=any_(2, 3)),
]
SAMPLES.extend(NEW_SAMPLES)  # checked by test_rule_against_finite_differences above


def test_copysign_takes_the_sign_of_both():
    g = _grad("def f(x, y):\n    return np.sum(np.copysign(x, y))\n")
    x, y = np.array([1.0, -1.0, 2.0, -3.0]), np.array([-1.0, -3.0, 0.5, 1.0])
    np.testing.assert_allclose(g(x, y), [-1.0, 1.0, 1.0, -1.0])


def test_parts_unpacked_from_modf_divmod_and_frexp():
    f = define(
        "def f(x, y):\n"
        "    frac, whole = np.modf(3.0 * x)\n"
        "    q, r = np.divmod(x, y)\n"
        "    m, e = np.frexp(x)\n"
        "    return np.sum(frac * whole + r * r + m * e)\n"
    )
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-1.0, 1.0, 5), rng.uniform(0.5, 2.0, 5)
    overbar.check_grad(f, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("source", ["np.heaviside(x, 0.5)", "np.spacing(x)"])
def test_steps_have_no_gradient(source):
    g = _grad(f"def f(x):\n    return np.sum({source} * x)\n")
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g(x), eval(source, {"np": np, "x": x}))


def test_a_running_sum_into_out_is_refused():
    g = _grad("def f(x):\n    return np.sum(np.cumulative_sum(x, dtype=np.float32))\n")
    with pytest.raises(OverbarError):
        g(np.ones(3))
