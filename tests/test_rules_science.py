"""The rules of ``overbar/runtime/rules_science.py`` (integration, interpolation, convolution,
covariance, polynomials) against central finite differences at several shapes, the way
``test_rules.py`` checks the others (the tangent rules are checked by ``test_tangent_rules.py``
on the same samples); then the calls they refuse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import overbar
from overbar.errors import NoDerivativeError, OverbarError
from tests.support import define, rules_without_samples
from tests.test_rules import S, any_, pos
from tests.test_rules import test_rule_against_finite_differences as _check_sample

# increasing knots for interp: cumulative sums of positive steps, shifted to straddle [-1, 1]
KNOTS = "np.cumsum(k) - 2.5"

SAMPLES = [
    # integration
    S(np.trapezoid, "np.trapezoid(a)", a=any_(5)),
    S(np.trapezoid, "np.trapezoid(a, dx=0.3)", a=any_(2, 4)),
    S(np.trapezoid, "np.trapezoid(a, dx=b)", a=any_(4), b=pos()),
    S(np.trapezoid, "np.trapezoid(a, axis=0)", a=any_(3, 2)),
    S(np.trapezoid, "np.trapezoid(a, np.cumsum(b))", a=any_(4), b=pos(4)),
    S(np.trapezoid, "np.trapezoid(a, b)", a=any_(2, 4), b=any_(4)),  # x 1-D, y 2-D
    S(np.trapezoid, "np.trapezoid(a, b, axis=0)", a=any_(3, 2), b=any_(3)),
    S(np.trapezoid, "np.trapezoid(a, b, axis=1)", a=any_(2, 3), b=any_(2, 3)),  # x like y
    S(np.trapezoid, "np.trapezoid(a, b, axis=-1)", a=any_(2, 3), b=any_(1, 3)),  # x broadcast
    S(np.trapezoid, "np.trapezoid(a, x=b, dx=c)", a=any_(3), b=any_(3), c=pos()),  # dx ignored
    S(np.ediff1d, "np.ediff1d(a)", a=any_(5)),
    S(np.ediff1d, "np.ediff1d(a)", a=any_(2, 3)),
    S(np.ediff1d, "np.ediff1d(a, to_begin=b)", a=any_(4), b=any_(2)),
    S(np.ediff1d, "np.ediff1d(a, to_end=b, to_begin=c)", a=any_(3), b=any_(), c=any_(2)),
    S(np.ediff1d, "np.ediff1d(a, b)", a=any_(1), b=any_(2)),
    # interpolation
    S(np.interp, f"np.interp(a, {KNOTS}, f)", a=any_(6), k=pos(5), f=any_(5)),
    S(np.interp, f"np.interp(a, {KNOTS}, f)", a=any_(2, 3), k=pos(4), f=any_(4)),
    S(np.interp, f"np.interp(a, {KNOTS}, f)", a=any_(), k=pos(3), f=any_(3)),
    S(np.interp, "np.interp(3.0 * a, np.cumsum(k) - 2.0, f)", a=any_(7), k=pos(3), f=any_(3)),
    S(
        np.interp,
        "np.interp(3.0 * a, np.cumsum(k) - 2.0, f, left=b, right=c)",
        a=any_(8),
        k=pos(3),
        f=any_(3),
        b=any_(),
        c=any_(),
    ),
    S(np.interp, "np.interp(a, np.array([-0.2, 0.1, 0.5]), f)", a=any_(5), f=any_(3)),
    # convolution and correlation, every mode, either operand the longer
    *[
        S(primal, f"np.{primal.__name__}(a, b, mode='{mode}')", a=any_(n), b=any_(m))
        for primal in (np.convolve, np.correlate)
        for mode in ("full", "same", "valid")
        for n, m in ((5, 3), (2, 5), (4, 4), (4, 7))
    ],
    S(np.convolve, "np.convolve(a, b)", a=any_(4), b=any_(1)),
    S(np.correlate, "np.correlate(a, b)", a=any_(6), b=any_(2)),
    # covariance and correlation coefficients
    S(np.cov, "np.cov(a)", a=any_(3, 6)),
    S(np.cov, "np.cov(a)", a=any_(5)),
    S(np.cov, "np.cov(a, rowvar=False)", a=any_(6, 2)),
    S(np.cov, "np.cov(a, b)", a=any_(5), b=any_(5)),
    S(np.cov, "np.cov(a, b, rowvar=False)", a=any_(6, 2), b=any_(6)),
    S(np.cov, "np.cov(a, b)", a=any_(2, 5), b=any_(1, 5)),
    S(np.cov, "np.cov(a, bias=True)", a=any_(2, 4)),
    S(np.cov, "np.cov(a, ddof=2)", a=any_(2, 5)),
    S(np.corrcoef, "np.corrcoef(a)", a=any_(3, 6)),
    S(np.corrcoef, "np.corrcoef(a, b)", a=any_(6), b=any_(6)),
    S(np.corrcoef, "np.corrcoef(a, rowvar=False)", a=any_(5, 2)),
    # the modified Bessel function I₀
    S(np.i0, "np.i0(a)", a=any_()),
    S(np.i0, "np.i0(a)", a=any_(4)),
    S(np.i0, "np.i0(3.0 * a)", a=any_(2, 3)),
    S(np.i0, "np.i0(30.0 * a) / 1e10", a=pos(3)),
    # polynomials
    S(np.vander, "np.vander(a)", a=any_(3)),
    S(np.vander, "np.vander(a, 4)", a=any_(5)),
    S(np.vander, "np.vander(a, 3, increasing=True)", a=any_(2)),
    S(np.vander, "np.vander(a, 1)", a=any_(3)),
    S(np.polyadd, "np.polyadd(a, b)", a=any_(3), b=any_(5)),
    S(np.polyadd, "np.polyadd(a, b)", a=any_(4), b=any_(2)),
    S(np.polysub, "np.polysub(a, b)", a=any_(2), b=any_(4)),
    S(np.polysub, "np.polysub(a, b)", a=any_(3), b=any_(3)),
    S(np.polymul, "np.polymul(a, b)", a=any_(3), b=any_(4)),
    S(np.polymul, "np.polymul(a, b)", a=any_(1), b=any_(2)),
    S(np.polymul, "np.polymul(a * [0.0, 1.0, 1.0], b)", a=any_(3), b=any_(2)),  # leading 0
    S(np.polyder, "np.polyder(a)", a=any_(4)),
    S(np.polyder, "np.polyder(a, 2)", a=any_(5)),
    S(np.polyder, "np.polyder(a, 3) + np.sum(a)", a=any_(2)),
    S(np.polyint, "np.polyint(a)", a=any_(3)),
    S(np.polyint, "np.polyint(a, 2)", a=any_(3)),
    S(np.polyint, "np.polyint(a, 1, b)", a=any_(4), b=any_()),
    S(np.polyint, "np.polyint(a, 2, b)", a=any_(2), b=any_()),
    S(np.polyint, "np.polyint(a, 3, [b, 2.0 * b, c])", a=any_(2), b=any_(), c=any_()),
    S(np.polyint, "np.polyint(a, 2, b)", a=any_(3), b=any_(2)),
    S(np.polyint, "np.polyint(a, 0, b) * b", a=any_(3), b=any_()),  # p itself
    S(np.polyfit, "np.polyfit(np.cumsum(a), b, 2)", a=pos(6), b=any_(6)),
    S(np.polyfit, "np.polyfit(np.cumsum(a), b, 1)", a=pos(4), b=any_(4, 2)),
    S(np.polyfit, "np.polyfit(np.cumsum(a), b, 3)", a=pos(4), b=any_(4)),  # interpolating
]


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    _check_sample(sample)


def test_every_rule_of_the_module_has_samples():
    missing = rules_without_samples("overbar.runtime.rules_science", SAMPLES)
    assert not missing, f"rules without sample inputs: {missing}"


def _grad(source: str, wrt=0):
    return overbar.grad(define(source), wrt=wrt)


# -- values the rules must reproduce ---------------------------------------------------------


def test_trapezoid_of_a_line_has_the_widths_as_gradient():
    """∫ y dx by the trapezoidal rule: ∂A/∂yᵢ is half the two neighbouring widths."""
    x = np.array([0.0, 1.0, 3.0, 3.5])
    g = _grad("def f(y, x):\n    return np.trapezoid(y, x)\n")
    np.testing.assert_allclose(g(np.ones(4), x), [0.5, 1.5, 1.25, 0.25])


def test_interp_slope_is_the_segment_slope_and_zero_outside():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    g = _grad("def f(x, xp, fp):\n    return np.sum(np.interp(x, xp, fp))\n")
    x = np.array([-1.0, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(g(x, xp, fp), [0.0, 2.0, 0.5, 0.0])


def test_interp_values_gradient_weights_the_two_knots():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    g = _grad("def f(x, xp, fp):\n    return np.interp(x, xp, fp)\n", wrt=2)
    np.testing.assert_allclose(g(0.25, xp, fp), [0.75, 0.25, 0.0])
    np.testing.assert_allclose(g(5.0, xp, fp), [0.0, 0.0, 1.0])  # right of the knots: fp[-1]


def test_cov_gradient_of_a_variance_is_twice_the_centred_data():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    g = _grad("def f(x):\n    return np.cov(x)\n")
    np.testing.assert_allclose(g(x), 2 * (x - x.mean()) / 3)


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "np.interp(x, xp, fp, period=2.0)",
        "np.cov(x, fweights=np.array([1, 2, 1, 1]))",
        "np.cov(x, aweights=np.ones(4))",
        "np.polyfit(xp, x, 1, w=np.ones(4))",
        "np.polyfit(xp, x, 1, cov=True)[0]",
        "np.polyfit(xp, x, 1, full=True)[0]",
    ],
)
def test_calls_the_rules_do_not_cover_are_refused(call):
    f = define(f"def f(x, xp, fp):\n    return np.sum({call})\n")
    with pytest.raises(OverbarError):
        overbar.grad(f)(np.arange(4.0), np.arange(4.0), np.arange(4.0))


def test_polyfit_of_too_few_distinct_points_is_refused():
    g = _grad("def f(y, x):\n    return np.sum(np.polyfit(x, y, 2))\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's RankWarning
        with pytest.raises(NoDerivativeError, match="full column rank"):
            g(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.0, 1.0, 1.0]))


def test_forward_mode_of_interp_and_convolve():
    f = define("def f(x, v):\n    return np.convolve(np.interp(x, [0.0, 1.0, 2.0], v), v)\n")
    x, v = np.array([0.3, 1.7]), np.array([1.0, -2.0, 0.5])
    dx, dv = np.array([0.1, -0.2]), np.array([0.3, 0.2, -0.1])
    value, derivative = overbar.jvp(f, (x, v), (dx, dv))
    step = 1e-6
    numeric = (f(x + step * dx, v + step * dv) - f(x - step * dx, v - step * dv)) / (2 * step)
    np.testing.assert_allclose(value, f(x, v))
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-9)


def test_the_derivative_of_i0_is_scipys_i1():
    special = pytest.importorskip("scipy.special")
    from overbar.runtime.helpers_science import bessel_i1

    x = np.concatenate([np.linspace(-40.0, 40.0, 801), [1e-9, -1e-5, 300.0, -650.0]])
    np.testing.assert_allclose(bessel_i1(x), special.i1(x), rtol=1e-13, atol=1e-300)


LISTS = {
    "interp": "np.interp(x, [0.0, 1.0], [a, b * 2.0])",
    "trapezoid": "np.trapezoid([a, b, x * a])",
    "convolve": "np.sum(np.convolve([a, b], [x, 1.0, x]) ** 2)",
    "polyint": "np.sum(np.polyint(np.array([x, 1.0]), 2, [a, b]) ** 2)",
    "cov": "np.sum(np.cov([x, a, b, 2.0], [a, a * b, x, 1.0]))",
    "corrcoef": "np.sum(np.corrcoef([x, a, b, 2.0], [a, a * b, x, 1.0]))",
    "ediff1d": "np.sum(np.ediff1d([a, b, x], to_begin=[a]) ** 2)",
    "vander": "np.sum(np.vander([x, a, b], 3) ** 2)",
    "polyder": "np.sum(np.polyder([x, a, b]) ** 2)",
    "polyfit": "np.sum(np.polyfit([0.0, 1.0, 2.5, 4.0], [x, a, b, 1.0], 1) ** 2)",
    "i0": "np.sum(np.i0([x, a, b]))",
    "insert": "np.sum(np.insert([x, 2.0], 1, [a, b]) ** 2)",
    "delete": "np.sum(np.delete([x, a, b], 1) ** 2)",
    "resize": "np.sum(np.resize([x, a, b], 5) ** 2)",
    "compress": "np.sum(np.compress([True, False, True], [x, a, b]) ** 2)",
    "block": "np.sum(np.block([[a, b], [x, 1.0]]) ** 2)",
    "vector_norm": "np.linalg.vector_norm([x, a, b], ord=3)",
    "vecdot": "np.vecdot([a, b], [x, 1.0])",
    "cumulative_prod": "np.sum(np.cumulative_prod([a, b, x], include_initial=True) ** 2)",
}


@pytest.mark.parametrize("name", list(LISTS))
def test_arguments_given_as_lists_of_numbers(name):
    """A list display of differentiated numbers as an argument: its adjoint reaches each."""
    f = define(f"def f(x, a, b):\n    return {LISTS[name]}\n")
    overbar.check_grad(f, (0.3, 1.5, -0.5), wrt=(0, 1, 2))


def test_polyfit_refuses_where_its_cut_off_drops_a_singular_value():
    """rcond large enough that NumPy's least squares treats the fit as rank-deficient: its
    solution is then not the one the full-rank derivative is of."""
    g = _grad("def f(y, x):\n    return np.sum(np.polyfit(x, y, 2, rcond=0.5))\n")
    x = np.array([0.0, 1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's RankWarning
        with pytest.raises(NoDerivativeError, match="full column rank"):
            g(np.array([1.0, 0.5, 2.0, 3.0]), x)
