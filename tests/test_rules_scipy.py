"""The rules of ``overbar/runtime/rules_scipy*.py`` (SciPy's special functions, distributions and
matrix functions), checked against central finite differences at several shapes, broadcasting
included, the way ``test_rules.py`` checks the others (``test_tangent_rules.py`` checks their
tangent rules on the same samples); then the spellings a user reaches them by, and the
arguments they refuse. Skipped where SciPy is not installed."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")

from scipy import linalg, signal, special, stats  # noqa: E402

import overbar  # noqa: E402
from overbar.errors import MissingRuleError, NoDerivativeError, OverbarError  # noqa: E402
from overbar.primitives import describe  # noqa: E402
from overbar.runtime.registry import RULES  # noqa: E402
from tests.support import check_rule_sample, define, primal_key  # noqa: E402
from tests.test_rules import S, U, _value, any_, binary, pos, unary  # noqa: E402

RULE_MODULES = (
    "overbar.runtime.rules_scipy",
    "overbar.runtime.rules_scipy_stats",
    "overbar.runtime.rules_scipy_linalg",
)


def between(low, high):
    def draw(*shape):
        return U(shape, low, high)

    return draw


def matrix(n):
    """A well-conditioned n × n matrix, not symmetric (2 I plus noise)."""
    return ("well-conditioned", n)


def upper_spectrum(n):
    """An n × n matrix with eigenvalues in [1, 2] and no negative real one (for sqrtm)."""
    return ("upper-spectrum", n)


def make_value(spec, rng):
    if isinstance(spec, tuple) and spec[0] == "upper-spectrum":
        n = spec[1]
        return np.eye(n) * 1.5 + 0.1 * rng.standard_normal((n, n))
    return _value(spec, rng)


unit = between(-0.9, 0.9)
fraction = between(0.1, 0.9)
bessel = between(0.5, 10.0)

SAMPLES = [
    # logistic functions, log-sum-exp, softmax
    *unary(special.expit, "special.expit(a)"),
    *unary(special.logit, "special.logit(a)", fraction),
    *unary(special.log_expit, "special.log_expit(a)", between(-4.0, 4.0)),
    S(special.logsumexp, "special.logsumexp(a)", a=any_(4)),
    S(special.logsumexp, "special.logsumexp(a)", a=any_(2, 3)),
    S(special.logsumexp, "special.logsumexp(a, axis=0)", a=any_(2, 3)),
    S(special.logsumexp, "special.logsumexp(a, axis=1, keepdims=True)", a=any_(2, 3)),
    S(special.logsumexp, "special.logsumexp(a, axis=(0, 2))", a=any_(2, 3, 2)),
    S(special.logsumexp, "special.logsumexp(a, keepdims=True)", a=any_(1, 5)),
    S(special.logsumexp, "special.logsumexp(a, b=b)", a=any_(4), b=pos(4)),
    S(special.logsumexp, "special.logsumexp(a, axis=1, b=b)", a=any_(2, 3), b=pos(3)),
    S(special.logsumexp, "special.logsumexp(a, 0, b, True)", a=any_(2, 3), b=pos(2, 3)),
    S(special.softmax, "special.softmax(a)", a=any_(4)),
    S(special.softmax, "special.softmax(a, axis=0)", a=any_(2, 3)),
    S(special.softmax, "special.softmax(a, axis=-1)", a=any_(3, 4)),
    S(special.log_softmax, "special.log_softmax(a)", a=any_(4)),
    S(special.log_softmax, "special.log_softmax(a, axis=1)", a=any_(2, 3)),
    S(special.log_softmax, "special.log_softmax(a, axis=0)", a=any_(3, 2)),
    *binary(special.xlogy, "special.xlogy(a, b)", right=pos),
    *binary(special.xlog1py, "special.xlog1py(a, b)", right=pos),
    # the gamma function and its relatives
    *unary(special.gammaln, "special.gammaln(a)", pos),
    S(special.gammaln, "special.gammaln(a)", a=between(-0.9, -0.1)(3)),
    *unary(special.gamma, "special.gamma(a)", between(0.3, 3.0)),
    *unary(special.rgamma, "special.rgamma(a)", between(0.3, 3.0)),
    *unary(special.digamma, "special.digamma(a)", between(0.3, 3.0)),
    S(special.digamma, "special.psi(a)", a=pos(3)),
    S(special.polygamma, "special.polygamma(0, a)", a=pos(3)),
    S(special.polygamma, "special.polygamma(1, a)", a=pos(2, 3)),
    S(special.polygamma, "special.polygamma(np.array([1, 2]), a)", a=pos(3, 1)),
    S(special.multigammaln, "special.multigammaln(a, 1)", a=between(1.0, 3.0)()),
    S(special.multigammaln, "special.multigammaln(a, 3)", a=between(2.0, 4.0)(4)),
    S(special.multigammaln, "special.multigammaln(a, 2)", a=between(2.0, 4.0)(2, 3)),
    *binary(special.beta, "special.beta(a, b)", left=pos, right=pos),
    *binary(special.betaln, "special.betaln(a, b)", left=pos, right=pos),
    S(special.gammainc, "special.gammainc(2.5, a)", a=pos(4)),
    S(special.gammainc, "special.gammainc(np.array([1.0, 1.5, 3.0]), a)", a=pos(2, 3)),
    S(special.gammainc, "special.gammainc(1.0, a)", a=pos()),
    S(special.gammaincc, "special.gammaincc(2.5, a)", a=pos(4)),
    S(special.gammaincc, "special.gammaincc(np.array([1.0, 4.0]), a)", a=pos(3, 1)),
    S(special.betainc, "special.betainc(2.0, 3.0, a)", a=fraction(4)),
    S(special.betainc, "special.betainc(np.array([0.5, 2.0, 1.0]), 1.5, a)", a=fraction(2, 3)),
    S(special.betainc, "special.betainc(1.0, 1.0, a)", a=fraction()),
    # error functions and the normal distribution function
    *unary(special.erf, "special.erf(a)", between(-2.0, 2.0)),
    *unary(special.erfc, "special.erfc(a)", between(-2.0, 2.0)),
    *unary(special.erfcx, "special.erfcx(a)", between(-2.0, 3.0)),
    *unary(special.erfinv, "special.erfinv(a)", unit),
    *unary(special.erfcinv, "special.erfcinv(a)", between(0.1, 1.9)),
    *unary(special.ndtr, "special.ndtr(a)", between(-3.0, 3.0)),
    *unary(special.log_ndtr, "special.log_ndtr(a)", between(-6.0, 3.0)),
    *unary(special.ndtri, "special.ndtri(a)", between(0.05, 0.95)),
    # Bessel functions
    *unary(special.j0, "special.j0(a)", bessel),
    *unary(special.j1, "special.j1(a)", bessel),
    *unary(special.y0, "special.y0(a)", bessel),
    *unary(special.y1, "special.y1(a)", bessel),
    S(special.jv, "special.jv(1.5, a)", a=bessel(4)),
    S(special.jv, "special.jn(2, a)", a=bessel(2, 3)),
    S(special.jv, "special.jv(np.array([0.5, 3.0]), a)", a=bessel(3, 1)),
    S(special.yv, "special.yv(1.5, a)", a=bessel(4)),
    S(special.yv, "special.yv(np.array([0.0, 2.5]), a)", a=bessel(3, 1)),
    S(special.yn, "special.yn(2, a)", a=bessel(2, 3)),
    *unary(special.i0, "special.i0(a)", between(-3.0, 3.0)),
    *unary(special.i1, "special.i1(a)", between(-3.0, 3.0)),
    S(special.i1, "special.i1(a * 0.0)", a=any_(3)),  # I₁′(0) = ½
    *unary(special.i0e, "special.i0e(a)", between(-3.0, 3.0)),
    *unary(special.i1e, "special.i1e(a)", between(-3.0, 3.0)),
    S(special.iv, "special.iv(0.5, a)", a=pos(4)),
    S(special.iv, "special.iv(np.array([1.0, 7.5, 30.0]), a)", a=between(1.0, 20.0)(2, 3)),
    S(special.ive, "special.ive(1.5, a)", a=pos(4)),  # nan at x < 0 for an order not whole
    S(special.ive, "special.ive(2.0, a)", a=between(-3.0, 3.0)(4)),
    S(special.ive, "special.ive(np.array([0.0, 2.0]), a)", a=between(-3.0, 3.0)(3, 1)),
    # the normal distribution
    *[
        sample
        for method in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")
        for sample in (
            S(getattr(stats.norm, method), f"stats.norm.{method}(a)", a=any_(4)),
            S(
                getattr(stats.norm, method),
                f"stats.norm.{method}(a, b, c)",
                a=any_(4),
                b=any_(4),
                c=pos(4),
            ),
            S(
                getattr(stats.norm, method),
                f"stats.norm.{method}(a, b, c)",
                a=any_(4, 3),
                b=any_(1, 3),
                c=pos(4, 1),
            ),
            S(getattr(stats.norm, method), f"stats.norm.{method}(a, scale=c)", a=any_(3), c=pos()),
            S(
                getattr(stats.norm, method),
                f"stats.norm.{method}(a, loc=b)",
                a=any_(),
                b=any_(2, 2),
            ),
        )
    ],
    S(stats.norm.logcdf, "stats.norm.logcdf(a * 10.0 - 20.0)", a=any_(3)),  # far in the tail
    # Student's t
    *[
        sample
        for method in ("pdf", "logpdf")
        for sample in (
            S(
                getattr(stats.t, method),
                f"stats.t.{method}(a, d)",
                a=any_(4),
                d=between(2.1, 6.0)(4),
            ),
            S(
                getattr(stats.t, method),
                f"stats.t.{method}(a, d, b, c)",
                a=any_(4, 3),
                d=between(2.1, 6.0)(1, 3),
                b=any_(4, 3),
                c=pos(4, 1),
            ),
            S(
                getattr(stats.t, method),
                f"stats.t.{method}(a, d, scale=c)",
                a=any_(3),
                d=pos(),
                c=pos(),
            ),
        )
    ],
    *[
        sample
        for method in ("cdf", "logcdf")
        for sample in (
            S(getattr(stats.t, method), f"stats.t.{method}(a, 3.5)", a=any_(4)),
            S(
                getattr(stats.t, method),
                f"stats.t.{method}(a, np.array([2.5, 4.0, 9.0]), b, c)",
                a=any_(4, 3),
                b=any_(4, 3),
                c=pos(4, 1),
            ),
        )
    ],
    # gamma, chi-squared and beta
    *[
        sample
        for method in ("pdf", "logpdf")
        for sample in (
            S(getattr(stats.gamma, method), f"stats.gamma.{method}(a, d)", a=pos(4), d=pos(4)),
            S(
                getattr(stats.gamma, method),
                f"stats.gamma.{method}(a, d, b, c)",
                a=between(1.0, 3.0)(2, 3),
                d=pos(3),
                b=unit(2, 1),
                c=pos(),
            ),
            S(
                getattr(stats.chi2, method),
                f"stats.chi2.{method}(a, d)",
                a=pos(4),
                d=between(1.0, 5.0)(4),
            ),
            S(
                getattr(stats.chi2, method),
                f"stats.chi2.{method}(a, d, b, c)",
                a=between(1.0, 3.0)(2, 3),
                d=between(1.0, 5.0)(),
                b=unit(3),
                c=pos(2, 1),
            ),
            S(
                getattr(stats.beta, method),
                f"stats.beta.{method}(a, d, e)",
                a=fraction(4),
                d=pos(4),
                e=pos(4),
            ),
            S(
                getattr(stats.beta, method),
                f"stats.beta.{method}(a, d, e, b, c)",
                a=between(0.3, 0.6)(2, 3),
                d=pos(3),
                e=pos(2, 1),
                b=between(-0.1, 0.1)(),
                c=between(0.9, 1.1)(),
            ),
        )
    ],
    S(stats.gamma.cdf, "stats.gamma.cdf(a, 2.5)", a=pos(4)),
    S(
        stats.gamma.cdf,
        "stats.gamma.cdf(a, np.array([0.5, 3.0]), b, c)",
        a=between(1.0, 3.0)(3, 2),
        b=unit(),
        c=pos(3, 1),
    ),
    S(stats.chi2.cdf, "stats.chi2.cdf(a, 3.0)", a=pos(4)),
    S(
        stats.chi2.cdf,
        "stats.chi2.cdf(a, np.array([1.0, 2.0, 5.0]), b, c)",
        a=between(1.0, 3.0)(2, 3),
        b=unit(),
        c=pos(),
    ),
    S(stats.beta.cdf, "stats.beta.cdf(a, 2.0, 3.0)", a=fraction(4)),
    S(
        stats.beta.cdf,
        "stats.beta.cdf(a, 1.5, np.array([0.5, 2.0]), b, c)",
        a=between(0.3, 0.6)(3, 2),
        b=between(-0.1, 0.1)(),
        c=between(0.9, 1.1)(3, 1),
    ),
    # Poisson, with respect to the rate
    *[
        sample
        for method in ("pmf", "logpmf", "cdf")
        for sample in (
            S(
                getattr(stats.poisson, method),
                f"stats.poisson.{method}(np.array([0.0, 1.0, 3.0, 6.0]), a)",
                a=pos(4),
            ),
            S(
                getattr(stats.poisson, method),
                f"stats.poisson.{method}(np.array([0.0, 2.0, 5.0]), a)",
                a=pos(2, 1),
            ),
            S(getattr(stats.poisson, method), f"stats.poisson.{method}(4.0, a, 1.0)", a=pos(3)),
        )
    ],
    S(stats.poisson.cdf, "stats.poisson.cdf(np.array([0.5, 2.7]), a)", a=pos(2)),  # ⌊k⌋
    # the multivariate normal (the covariance not symmetric: SciPy reads its lower triangle)
    *[
        sample
        for method in ("pdf", "logpdf")
        for sample in (
            S(
                getattr(stats.multivariate_normal, method),
                f"stats.multivariate_normal.{method}(a, b, c)",
                a=any_(3),
                b=any_(3),
                c=matrix(3),
            ),
            S(
                getattr(stats.multivariate_normal, method),
                f"stats.multivariate_normal.{method}(a, b, c)",
                a=any_(5, 3),
                b=any_(3),
                c=matrix(3),
            ),
            S(
                getattr(stats.multivariate_normal, method),
                f"stats.multivariate_normal.{method}(a, mean=b, cov=c, allow_singular=False)",
                a=any_(2, 4, 2),
                b=any_(2),
                c=matrix(2),
            ),
        )
    ],
    S(
        stats.multivariate_normal.entropy,
        "stats.multivariate_normal.entropy(b, c)",
        b=any_(3),
        c=matrix(3),
    ),
    S(stats.multivariate_normal.entropy, "stats.multivariate_normal.entropy(cov=c)", c=matrix(4)),
    # the Dirichlet distribution (x normalised, so that a step off the simplex stays on it)
    *[
        sample
        for method in ("pdf", "logpdf")
        for sample in (
            S(
                getattr(stats.dirichlet, method),
                f"stats.dirichlet.{method}(a / np.sum(a), b)",
                a=pos(3),
                b=between(1.2, 3.0)(3),
            ),
            S(
                getattr(stats.dirichlet, method),
                f"stats.dirichlet.{method}(a / np.sum(a, axis=0), b)",
                a=pos(4, 2),
                b=between(0.5, 3.0)(4),
            ),
        )
    ],
    # matrix equations and functions
    S(
        linalg.solve_sylvester,
        "linalg.solve_sylvester(a, b, c)",
        a=matrix(3),
        b=matrix(3),
        c=any_(3, 3),
    ),
    S(
        linalg.solve_sylvester,
        "linalg.solve_sylvester(a, b, c)",
        a=matrix(2),
        b=matrix(4),
        c=any_(2, 4),
    ),
    S(linalg.sqrtm, "linalg.sqrtm(a)", a=upper_spectrum(3)),
    S(linalg.sqrtm, "linalg.sqrtm(a @ a.T + np.eye(4))", a=any_(4, 4)),
    S(linalg.expm, "linalg.expm(a)", a=any_(3, 3)),
    S(linalg.expm, "linalg.expm(a)", a=any_(1, 1)),
    S(linalg.solve_triangular, "linalg.solve_triangular(a, b)", a=matrix(3), b=any_(3)),
    S(
        linalg.solve_triangular,
        "linalg.solve_triangular(a, b, lower=True)",
        a=matrix(3),
        b=any_(3, 2),
    ),
    S(
        linalg.solve_triangular,
        "linalg.solve_triangular(a, b, lower=True, unit_diagonal=True)",
        a=matrix(4),
        b=any_(4),
    ),
    S(
        linalg.solve_triangular,
        "linalg.solve_triangular(a, b, unit_diagonal=True)",
        a=matrix(3),
        b=any_(3, 3),
    ),
    S(linalg.cholesky, "linalg.cholesky(a)", a=matrix(3)),
    S(linalg.cholesky, "linalg.cholesky(a, lower=True)", a=matrix(4)),
    S(linalg.cholesky, "linalg.cholesky(a @ a.T + np.eye(3), True)", a=any_(3, 3)),
    # cho_factor's C: the factor on one triangle, A's own entries on the other
    S(linalg.cho_factor, "linalg.cho_factor(a)[0]", a=matrix(3)),
    S(linalg.cho_factor, "linalg.cho_factor(a, lower=True)[0]", a=matrix(4)),
    S(linalg.cho_factor, "linalg.cho_factor(a @ a.T + np.eye(2), True)[0]", a=any_(2, 2)),
    S(linalg.cho_solve, "linalg.cho_solve((a, False), b)", a=matrix(3), b=any_(3)),
    S(linalg.cho_solve, "linalg.cho_solve((a, True), b)", a=matrix(3), b=any_(3, 2)),
    S(
        linalg.cho_solve,
        "linalg.cho_solve(linalg.cho_factor(a @ a.T + np.eye(4)), b)",
        a=any_(4, 4),
        b=any_(4, 1),
    ),
    S(
        linalg.cho_solve,
        "linalg.cho_solve(linalg.cho_factor(a, lower=True), b)",
        a=matrix(1),
        b=any_(1),
    ),
    S(
        linalg.solve_banded,
        "linalg.solve_banded((1, 1), a + np.array([[0.0], [3.0], [0.0]]), b)",
        a=any_(3, 5),
        b=any_(5),
    ),
    S(
        linalg.solve_banded,
        "linalg.solve_banded((2, 0), a + np.array([[3.0], [0.0], [0.0]]), b)",
        a=any_(3, 4),
        b=any_(4, 2),
    ),
    S(
        linalg.solve_banded,
        "linalg.solve_banded((0, 1), a + np.array([[0.0], [3.0]]), b)",
        a=any_(2, 3),
        b=any_(3),
    ),
    # convolution
    *[
        S(signal.convolve, f"signal.convolve(a, b, mode={mode!r})", a=any_(*p), b=any_(*q))
        for mode in ("full", "same", "valid")
        for p, q in (
            ((5,), (3,)),
            ((3,), (5,)),
            ((4, 3), (2, 2)),
            ((6, 7), (4, 2)),
            ((2, 3, 4), (2, 2, 2)),
        )
    ],
    S(signal.convolve, "signal.convolve(a, b)", a=any_(4), b=any_(4)),
    S(signal.convolve, "signal.convolve(a, b, 'same')", a=any_(4, 3), b=any_(3, 4)),
    S(signal.convolve, "signal.convolve(a, b, method='fft')", a=any_(6), b=any_(3)),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [make_value(sample.inputs[n], rng) for n in names]
    check_rule_sample(sample.expression, names, args, rng)


def test_every_scipy_rule_has_samples():
    sampled = {primal_key(sample.primal) for sample in SAMPLES}
    missing = sorted(
        {
            describe(rule.primal)
            for rules in RULES.rules.values()
            for rule in rules
            if rule.function.__module__ in RULE_MODULES and primal_key(rule.primal) not in sampled
        }
    )
    assert not missing, f"rules without sample inputs: {missing}"


# --- how a user reaches them -----------------------------------------------------------------

SPELLINGS = {
    "from scipy.special import": "from scipy.special import gammaln\n\ndef f(x):\n    return np.sum(gammaln(x))\n",
    "import scipy.special as sp": "import scipy.special as sp\n\ndef f(x):\n    return np.sum(sp.gammaln(x))\n",
    "scipy.special.x": "import scipy.special\n\ndef f(x):\n    return np.sum(scipy.special.gammaln(x))\n",
    "from scipy import special": "from scipy import special as s\n\ndef f(x):\n    return np.sum(s.gammaln(x))\n",
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_a_special_function_is_recognised_however_it_is_imported(name):
    f = define(SPELLINGS[name])
    x = np.array([0.7, 1.5, 4.0])
    np.testing.assert_allclose(overbar.grad(f)(x), special.digamma(x), rtol=1e-12)


def test_a_distribution_method_is_recognised_under_its_module_and_by_name():
    f = define(
        "import scipy.stats\nfrom scipy.stats import norm\n\n"
        "def f(x, m, s):\n"
        "    return np.sum(scipy.stats.norm.logpdf(x, m, s) + norm.logcdf(x, loc=m, scale=s))\n"
    )
    x, m, s = np.array([0.3, -1.2]), 0.5, 1.7
    gradients = overbar.grad(f, wrt=(0, 1, 2))(x, m, s)
    eps = 1e-6
    for index in range(3):
        moved = [x, m, s]
        direction = np.ones_like(x) if index == 0 else 1.0
        moved[index] = [x, m, s][index] + eps * direction
        up = f(*moved)
        moved[index] = [x, m, s][index] - eps * direction
        numeric = (up - f(*moved)) / (2 * eps)
        assert float(np.sum(gradients[index] * direction)) == pytest.approx(numeric, rel=1e-6)


def test_the_generated_code_reads_like_the_rule():
    f = define("from scipy.special import expit\n\ndef f(x):\n    return np.sum(expit(x))\n")
    source = overbar.grad(f).source_for(np.zeros(3))
    assert "expit(x)" in source and "* (1 - " in source


def test_logsumexp_and_softmax_in_a_classifier_loss_forward_and_second_order():
    f = define(
        "from scipy.special import logsumexp, log_softmax\n\n"
        "def f(W, x, labels):\n"
        "    scores = W @ x\n"
        "    return np.sum(logsumexp(scores, axis=0)) - np.sum(log_softmax(scores, axis=0) * labels)\n"
    )
    rng = np.random.default_rng(3)
    W, x = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    labels = np.eye(4)[:, rng.integers(0, 4, 5)]
    overbar.check_grad(f, (W, x, labels))
    v = rng.standard_normal((4, 3))
    hv = overbar.hvp(f, (W, x, labels), v)
    g = overbar.grad(f)
    eps = 1e-5
    numeric = (g(W + eps * v, x, labels) - g(W - eps * v, x, labels)) / (2 * eps)
    np.testing.assert_allclose(hv, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_the_hvp_of_a_convolution_runs_forward_mode_over_its_adjoint(mode):
    """The adjoint of convolve places z̄ in the full convolution's shape (convolution_embedded,
    a runtime helper): its tangent rule is what the hvp runs."""
    f = define(
        "def f(x, k):\n"
        f"    return np.sum(np.tanh(signal.convolve(x * x, k, mode={mode!r})) ** 2)\n"
    )
    rng = np.random.default_rng(5)
    x, k = rng.standard_normal((5, 4)), rng.standard_normal((3, 2))
    v, w = rng.standard_normal((5, 4)), rng.standard_normal((3, 2))
    hv = overbar.hvp(f, (x, k), (v, w), wrt=(0, 1))
    g = overbar.grad(f, wrt=(0, 1))
    eps = 1e-5
    up, down = g(x + eps * v, k + eps * w), g(x - eps * v, k - eps * w)
    for computed, high, low in zip(hv, up, down, strict=True):
        np.testing.assert_allclose(computed, (high - low) / (2 * eps), rtol=1e-5, atol=1e-7)


SECOND_ORDER = {
    "logsumexp with weights": ("np.sum(special.logsumexp(a, axis=0, b=b))", (3, 2), (2,)),
    "softmax": ("np.sum(special.softmax(a, axis=1) * b)", (3, 2), (3, 2)),
    "gammaln and digamma": (
        "np.sum(special.gammaln(a * a + 1.0) * special.digamma(b * b + 1))",
        (3,),
        (3,),
    ),
    "Bessel functions": (
        "np.sum(special.iv(1.5, a * a + 0.5) + special.j1(b) * special.i1e(a))",
        (3,),
        (3,),
    ),
    "norm.logcdf": ("np.sum(stats.norm.logcdf(a, b, 1.5))", (4,), (4,)),
    "t.logpdf": ("np.sum(stats.t.logpdf(a, b * b + 2.0, 0.3, 1.2))", (4,), (4,)),
    "multivariate_normal.logpdf": (
        "np.sum(stats.multivariate_normal.logpdf(a, b, np.eye(2) * 2.0 + np.outer(b, b)))",
        (3, 2),
        (2,),
    ),
    "dirichlet.logpdf": ("stats.dirichlet.logpdf(a * a / np.sum(a * a), b * b + 1.0)", (3,), (3,)),
    "sqrtm": ("np.sum(linalg.sqrtm(a @ a.T + np.eye(3)) * b)", (3, 3), (3, 3)),
    "cholesky": ("np.sum(linalg.cholesky(a @ a.T + np.eye(3)) * b)", (3, 3), (3, 3)),
    "cho_factor and cho_solve": (
        "np.sum(linalg.cho_solve(linalg.cho_factor(a @ a.T + np.eye(3)), b) ** 2)",
        (3, 3),
        (3,),
    ),
    "solve_triangular": (
        "np.sum(linalg.solve_triangular(a + 3.0 * np.eye(3), b, lower=True) ** 2)",
        (3, 3),
        (3,),
    ),
    "solve_banded": (
        "np.sum(linalg.solve_banded((1, 1), a + np.array([[0.0], [3.0], [0.0]]), b) ** 2)",
        (3, 4),
        (4,),
    ),
    "solve_sylvester": (
        "np.sum(linalg.solve_sylvester(a + 3.0 * np.eye(2), b + 3.0 * np.eye(2), a) ** 2)",
        (2, 2),
        (2, 2),
    ),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_second_derivatives_run_forward_mode_over_the_adjoint_rules(name):
    """hvp is forward mode over the generated adjoint: the functions a rule's body calls need
    tangent rules of their own (polygamma after digamma, solve_sylvester after sqrtm, ...)."""
    expression, first, second = SECOND_ORDER[name]
    f = define(f"def f(a, b):\n    return {expression}\n")
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a, b = rng.uniform(0.2, 1.0, first), rng.uniform(0.2, 1.0, second)
    v, w = rng.standard_normal(first), rng.standard_normal(second)
    hv = overbar.hvp(f, (a, b), (v, w), wrt=(0, 1))
    g = overbar.grad(f, wrt=(0, 1))
    eps = 1e-5
    up, down = g(a + eps * v, b + eps * w), g(a - eps * v, b - eps * w)
    for computed, high, low in zip(hv, up, down, strict=True):
        np.testing.assert_allclose(computed, (high - low) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_the_hvp_of_expm_is_refused_as_expm_frechet_has_no_derivative_rule():
    f = define("def f(a):\n    return np.sum(linalg.expm(a) ** 2)\n")
    a = np.eye(2) * 0.3
    overbar.check_grad(f, (a,))
    with pytest.raises(OverbarError, match="expm_frechet"):
        overbar.hvp(f, (a,), np.ones((2, 2)))


def test_gammasgn_has_no_gradient():
    f = define(
        "from scipy.special import gammasgn\n\ndef f(x):\n    return np.sum(gammasgn(x) * x)\n"
    )
    x = np.array([-0.5, 1.5, 2.5])
    np.testing.assert_array_equal(overbar.grad(f)(x), special.gammasgn(x))


# --- what they refuse ----------------------------------------------------------------------

REFUSED = {
    "the first argument of gammainc": (
        "def f(a, x):\n    return np.sum(special.gammainc(a, x))\n",
        (1.5, np.array([0.5, 1.0])),
        "argument a",
    ),
    "a and b of betainc": (
        "def f(a, x):\n    return np.sum(special.betainc(a, 2.0, x))\n",
        (1.5, np.array([0.5, 0.2])),
        "argument a",
    ),
    "the order of a Bessel function": (
        "def f(v, x):\n    return np.sum(special.iv(v, x))\n",
        (1.5, np.array([0.5, 1.0])),
        "argument v",
    ),
    "the degrees of freedom of t.cdf": (
        "def f(df, x):\n    return np.sum(stats.t.cdf(x, df))\n",
        (3.5, np.array([0.5, 1.0])),
        "argument df",
    ),
    "the count of a Poisson pmf": (
        "def f(k, mu):\n    return np.sum(stats.poisson.pmf(k, mu))\n",
        (2.0, np.array([0.5, 1.0])),
        "argument k",
    ),
    "logsumexp with return_sign": (
        "def f(a, x):\n    return special.logsumexp(x * a, return_sign=True)[0]\n",
        (1.5, np.array([0.5, 1.0])),
        "return_sign=False",
    ),
    "a singular multivariate normal": (
        "def f(a, x):\n"
        "    return stats.multivariate_normal.logpdf(x * a, np.zeros(2), np.eye(2), allow_singular=True)\n",
        (1.5, np.array([0.5, 1.0])),
        "allow_singular=False",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_arguments_without_a_derivative_in_closed_form_are_refused(name):
    source, args, phrase = REFUSED[name]
    f = define(source)
    with pytest.raises(MissingRuleError, match=phrase):
        overbar.grad(f, wrt=0)(*args)


def test_a_multivariate_normal_without_its_mean_is_refused():
    f = define("def f(x):\n    return stats.multivariate_normal.logpdf(x, cov=np.eye(2))\n")
    with pytest.raises(MissingRuleError, match="mean"):
        overbar.grad(f)(np.array([0.5, 1.0]))


@pytest.mark.parametrize("cov", ["2.0", "np.array([1.0, 2.0])"])
def test_a_multivariate_normal_with_a_covariance_not_a_matrix_is_refused(cov):
    f = define(
        "def f(x):\n" f"    return stats.multivariate_normal.logpdf(x, np.zeros(2), {cov})\n"
    )
    with pytest.raises(NoDerivativeError, match="full covariance matrix"):
        overbar.grad(f)(np.array([0.5, 1.0]))


def test_a_frozen_distribution_is_refused_with_its_line():
    f = define("def f(x):\n    return np.sum(stats.norm(0.0, 1.0).logpdf(x))\n")
    with pytest.raises(OverbarError, match="logpdf"):
        overbar.grad(f)(np.array([0.5, 1.0]))


def test_polygamma_of_an_active_order_is_refused():
    f = define("def f(n, x):\n    return np.sum(special.polygamma(n * 1.0, x))\n")
    with pytest.raises(MissingRuleError, match="argument n"):
        overbar.grad(f, wrt=0)(1.0, np.array([0.5, 1.0]))


LOGSUMEXP_CROSS_ENTROPY = """
def f(W, X, onehot):
    logits = X @ W
    return np.mean(special.logsumexp(logits, axis=1) - np.sum(logits * onehot, axis=1))
"""

WEIGHTED_LOGSUMEXP = """
def f(W, X, onehot):
    logits = X @ W
    return np.mean(special.logsumexp(logits, axis=1, b=onehot + 1.0))
"""


def test_logsumexp_is_a_reduction_to_shape_inference():
    """logsumexp(a, axis=1) has a's shape less axis 1, as np.sum's: the adjoint of a cross
    entropy written with it needs no runtime helper for broadcasting back."""
    f = define(LOGSUMEXP_CROSS_ENTROPY, namespace={"special": special})
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(5, 3)), rng.normal(size=(4, 5)), np.eye(3)[[0, 2, 1, 1]]]
    source = overbar.grad(f).source_for(*args)
    assert "expand_reduced" not in source and "unbroadcast" not in source
    overbar.check_grad(f, args)


def test_weighted_logsumexp_keeps_the_general_helpers():
    """The condition failing: with weights b (which broadcast with a) the shape is not
    inferred, the helpers stay, and the gradient is right."""
    f = define(WEIGHTED_LOGSUMEXP, namespace={"special": special})
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(5, 3)), rng.normal(size=(4, 5)), np.eye(3)[[0, 2, 1, 1]]]
    assert "expand_reduced" in overbar.grad(f).source_for(*args)
    overbar.check_grad(f, args)


def test_cho_solve_with_a_stack_of_factors_is_refused():
    """cho_solve's rule takes one n × n factor: with a stack, whether B is n × k or a stack of
    vectors is ambiguous, so its gradient is refused rather than guessed."""
    f = define("""
        from scipy import linalg

        def f(a, b):
            return np.sum(linalg.cho_solve(linalg.cho_factor(a), b) ** 2)
        """)
    a = np.stack([np.eye(3) * 2.0, np.eye(3) * 3.0])
    b = np.ones((2, 3, 1))
    f(a, b)  # SciPy solves it
    with pytest.raises(OverbarError, match="cho_solve of a batch"):
        overbar.grad(f, wrt=(0, 1))(a, b)
