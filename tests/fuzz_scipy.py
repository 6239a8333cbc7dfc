"""The fuzzer's makers for SciPy's functions (``overbar/runtime/rules_scipy*.py``), where SciPy
is installed: its special functions, elementwise on the domains where they are smooth with a
margin (Γ away from its poles, Bessel functions of the second kind away from 0, the exponentially
scaled ones away from the kink of e^(−|x|) at 0), with the orders and shape parameters that get
no gradient as constants; log-sum-exp and the softmaxes over all elements or the last axis.
The distributions, matrix functions and convolution are listed in ``UNFUZZED_SCIPY`` (their
rules are checked in tests/test_rules_scipy.py). The fuzzer imports this module from
``_table()`` and calls ``add_scipy_makers``, handing it the fuzzer module; the programs see
SciPy's modules as ``special``, ``stats``, ``linalg`` and ``signal`` (tests/support.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg, signal, special, stats

if TYPE_CHECKING:
    from tests.fuzzer import Expr, Generator

# The names the programs call SciPy's modules by (tests/support.py gives them to each program).
MODULES = {"special": special, "stats": stats, "linalg": linalg, "signal": signal}

# The fuzzer module, as add_scipy_makers receives it (see tests/fuzz_math.py).
fuzzer: Any = None

# name: (low, high, away): the domain of each elementwise function of one argument
UNARY = {
    "expit": (-6.0, 6.0, ()),
    "logit": (0.1, 0.9, ()),
    "log_expit": (-8.0, 8.0, ()),
    "gammaln": (0.3, 20.0, ()),
    "gamma": (0.3, 5.0, ()),
    "rgamma": (0.3, 5.0, ()),
    "digamma": (0.3, 10.0, ()),
    "erf": (-2.5, 2.5, ()),
    "erfc": (-2.5, 2.5, ()),
    "erfcx": (-2.0, 3.0, ()),
    "erfinv": (-0.9, 0.9, ()),
    "erfcinv": (0.1, 1.9, ()),
    "ndtr": (-3.0, 3.0, ()),
    "log_ndtr": (-6.0, 3.0, ()),
    "ndtri": (0.05, 0.95, ()),
    "j0": (-10.0, 10.0, ()),
    "j1": (-10.0, 10.0, ()),
    "y0": (0.5, 10.0, ()),
    "y1": (0.5, 10.0, ()),
    "i0": (-3.0, 3.0, ()),
    "i1": (-3.0, 3.0, ()),
    "i0e": (-3.0, 3.0, (0.0,)),
    "i1e": (-3.0, 3.0, (0.0,)),
}

# name: (the constant orders or shapes written before x, the domain of x)
WITH_CONSTANTS = {
    "polygamma": (("0", "1", "2"), (0.3, 10.0, ())),
    "jv": (("0.5", "1", "2.5"), (0.5, 10.0, ())),
    "yv": (("0.5", "1", "2.5"), (0.5, 10.0, ())),
    "yn": (("1", "2"), (0.5, 10.0, ())),
    "iv": (("0.5", "1", "2.5"), (0.2, 5.0, ())),
    "ive": (("0.5", "1", "2.5"), (0.2, 5.0, ())),
    "gammainc": (("0.5", "1.5", "3.0"), (0.2, 5.0, ())),
    "gammaincc": (("0.5", "1.5", "3.0"), (0.2, 5.0, ())),
    "betainc": (("1.5, 2.0", "0.5, 3.0"), (0.1, 0.9, ())),
}

# name: (domain of the first operand, domain of the second)
BINARY = {
    "xlogy": ((None, None, ()), (0.2, None, ())),
    "xlog1py": ((None, None, ()), (-0.8, None, ())),
    "beta": ((0.3, 5.0, ()), (0.3, 5.0, ())),
    "betaln": ((0.3, 20.0, ()), (0.3, 20.0, ())),
}


def _domain(spec: tuple) -> Any:
    low, high, away = spec
    return fuzzer.Domain(low=low, high=high, away=away)


def make_unary(name: str) -> Callable:
    def make(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
        operand = g.fit(g.operand(depth, want), _domain(UNARY[name]))
        return None if operand is None else g.call(f"special.{name}", primal, [operand])

    return make


def make_with_constants(name: str) -> Callable:
    def make(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
        constants, domain = WITH_CONSTANTS[name]
        operand = g.fit(g.operand(depth, want), _domain(domain))
        if operand is None:
            return None
        chosen = [g.const(text) for text in g.pick(constants).split(", ")]
        return g.call(f"special.{name}", primal, [*chosen, operand])

    return make


def make_binary(name: str) -> Callable:
    def make(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
        first, second = BINARY[name]
        left = g.fit(g.operand(depth, want), _domain(first))
        if left is None:
            return None
        right = g.fit(g.operand(depth, fuzzer.broadcasts_with(left.value)), _domain(second))
        if right is None:
            return None
        return g.call(f"special.{name}", primal, [left, right])

    return make


def make_multigammaln(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """special.multigammaln(a, d), a > (d − 1)/2 with a margin."""
    d = int(g.pick((1, 2, 3)))
    a = g.fit(g.operand(depth, want), fuzzer.Domain(low=(d - 1) / 2 + 0.3, high=10.0))
    return None if a is None else g.call("special.multigammaln", primal, [a, g.integer(d)])


def make_log_sum(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """special.logsumexp(a), softmax(a) or log_softmax(a), over all elements or, of an array,
    the last axis; logsumexp sometimes with positive weights b=."""
    name = {special.logsumexp: "logsumexp", special.softmax: "softmax"}.get(primal, "log_softmax")
    operand = g.operand(depth, want)
    if operand is None:
        return None
    keywords = []
    if np.ndim(operand.value) >= 1 and g.chance(0.5):
        keywords.append(("axis", g.integer(-1)))
    if primal is special.logsumexp and g.chance(0.3):
        weight = g.fit(g.operand(depth, fuzzer.broadcasts_with(operand.value)), fuzzer.POSITIVE)
        if weight is not None and np.shape(
            np.broadcast_arrays(weight.value, operand.value)[0]
        ) == np.shape(operand.value):
            keywords.append(("b", weight))
    return g.call(f"special.{name}", primal, [operand], keywords)


UNFUZZED_SCIPY = {
    **{
        method: "a method of a scipy.stats distribution: its rule is checked at several shapes, "
        "broadcasting included, in tests/test_rules_scipy.py"
        for distribution, methods in (
            (stats.norm, ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")),
            (stats.t, ("pdf", "logpdf", "cdf", "logcdf")),
            (stats.gamma, ("pdf", "logpdf", "cdf")),
            (stats.chi2, ("pdf", "logpdf", "cdf")),
            (stats.beta, ("pdf", "logpdf", "cdf")),
            (stats.poisson, ("pmf", "logpmf", "cdf")),
            (stats.multivariate_normal, ("pdf", "logpdf", "entropy")),
            (stats.dirichlet, ("pdf", "logpdf")),
        )
        for method in (getattr(distribution, name) for name in methods)
    },
    **{
        function: "a SciPy matrix function or convolution (square, triangular or positive "
        "definite operands the generator does not make): its rule is checked in "
        "tests/test_rules_scipy.py"
        for function in (
            linalg.solve_sylvester,
            linalg.sqrtm,
            linalg.expm,
            linalg.solve_triangular,
            linalg.solve_banded,
            linalg.cholesky,
            linalg.cho_factor,
            linalg.cho_solve,
            signal.convolve,
        )
    },
}


def add_scipy_makers(add: Callable, module: Any) -> None:
    """Register the makers of this module with ``_table()``'s ``add``; ``module`` is the
    fuzzer itself, whose helpers the makers use."""
    global fuzzer
    fuzzer = module
    for name in UNARY:
        add([getattr(special, name)], make_unary(name), weight=0.3)
    for name in WITH_CONSTANTS:
        add([getattr(special, name)], make_with_constants(name), weight=0.3)
    for name in BINARY:
        add([getattr(special, name)], make_binary(name), weight=0.3)
    add([special.multigammaln], make_multigammaln, weight=0.3)
    add([special.logsumexp, special.softmax, special.log_softmax], make_log_sum, weight=0.5)
    add([special.gammasgn], make_unary_gammasgn, weight=0.1)


def make_unary_gammasgn(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """special.gammasgn(a) * a, a away from Γ's poles (gammasgn is constant between them)."""
    operand = g.fit(g.operand(depth, want), fuzzer.Domain(low=0.3, high=5.0))
    if operand is None:
        return None
    return g.call("special.gammasgn", primal, [operand])
