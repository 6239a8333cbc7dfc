"""Helpers with ``*args`` (``def total(*args)``, ``lambda *args: ...``): each call passes a fixed
number of positional arguments, so the helper's pullback is specialised on that number
(``parse.with_arity``): ``*args`` becomes one parameter per argument, and ``args[0]``,
``args[1:]``, ``len(args)`` and ``g(*args)`` read them."""

from __future__ import annotations

import re

import numpy as np
import pytest

import overbar
from overbar.transpiler.optimisations import Optimisations
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(5)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5))]

HELPERS = """
def product(*args):
    p = args[0]
    for a in args[1:]:
        p = p * a
    return p

def head_and_rest(first, *rest):
    s = np.sum(np.tanh(first))
    for r in rest:
        s = s + np.sum(np.sin(r) * first)
    return s

def counted(*args):
    return np.sum(args[-1]) * len(args)

def forwarded(*args):
    return head_and_rest(args[0] * 2.0, *args[1:])

def rebinds(*args):
    args = args[1:]
    return np.sum(args[0] ** 2)

def with_default(a, b=2.0, *args):
    return np.sum(a * b) + np.sum(product(*args, a)) if args else np.sum(a * b)

pair = lambda *args: args[0] * np.exp(args[1])
"""

PROGRAMS = {
    "two arguments": "np.sum(product(x, y))",
    "three arguments, then two": "np.sum(product(x, y, x)) + np.sum(product(y, x))",
    "one argument": "np.sum(product(x))",
    "a named parameter before *rest": "head_and_rest(x, y) + head_and_rest(y, x, x)",
    "no argument for *rest": "head_and_rest(x)",
    "len(args) and args[-1]": "counted(x, y, x)",
    "forwarded with *args[1:]": "forwarded(x, y, y)",
    "args rebound in the helper": "rebinds(x, y)",
    "a default before *args": "with_default(x) + with_default(x, y) + with_default(x, y, y)",
    "a lambda with *args": "np.sum(pair(x, y))",
}


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_helper_with_star_args_is_differentiated(name, shapes):
    f = define(HELPERS + f"def f(x, y):\n    return {PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_the_product_of_star_args_has_the_product_rule():
    f = define(HELPERS + "def f(x, y):\n    return np.sum(product(x, y, x))\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    gx, gy = overbar.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 2 * x * y, rtol=1e-12)
    np.testing.assert_allclose(gy, x * x, rtol=1e-12)


def test_each_arity_gets_its_own_pullback_with_a_parameter_per_argument():
    program = "def f(x, y):\n    return np.sum(product(x, y)) + np.sum(product(x, y, y))\n"
    f = define(HELPERS + program)
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    source = overbar.grad(f, wrt=(0, 1)).source_for(x, y)
    # each call's helper runs forward once, keeping its residuals (helpers kept as pullbacks)
    assert "def product_forward(args_0, args_1):" in source
    assert "def product_forward_2(args_0, args_1, args_2):" in source
    recomputing = overbar.grad(f, wrt=(0, 1), optimise=Optimisations(residuals=False))
    source = recomputing.source_for(x, y)
    assert "def product_pullback(args_0, args_1, args_2, *, result_bar):" in source
    assert "def product_pullback_2(args_0, args_1, *, result_bar):" in source


def test_a_name_args_0_in_the_helper_is_not_taken():
    source = "def g(*args):\n    args_0 = args[0] * 3.0\n    return args_0 * args[1]\n\n"
    f = define(source + "def f(x, y):\n    return np.sum(g(x, y))\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    gx, gy = overbar.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 3.0 * y, rtol=1e-12)
    np.testing.assert_allclose(gy, 3.0 * x, rtol=1e-12)


def test_a_starred_argument_of_unknown_length_is_still_refused_at_its_line():
    source = (
        "def g(*args):\n    args = list(args) if len(args) > 1 else [args[0], args[0]]\n"
        "    return np.sum(np.add(*args))\n\n"
    )
    f = define(source + "def f(x, y):\n    return g(x, y)\n")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    with pytest.raises(UnsupportedSyntaxError, match="a starred expression") as caught:
        overbar.grad(f)(x, y)
    assert "return np.sum(np.add(*args))" in str(caught.value)


KEYWORDS = """
def scaled(x, **options):
    return np.sum(np.tanh(x * options["scale"]) * options.get("weight", 1.0))

def both(x, *args, **named):
    total = np.sum(x * named["a"])
    for v in args:
        total = total + np.sum(v * named["b"])
    return total
"""

KEYWORD_PROGRAMS = {
    "a keyword collected": "scaled(x, scale=2.0)",
    "two, one of them differentiated": "scaled(x, scale=y, weight=x)",
    "none collected": "np.sum(x) if False else scaled(x, scale=1.5)",
    "*args and **kwargs": "both(x, y, x, a=y, b=3.0) + both(y, a=x)",
}


@pytest.mark.parametrize("name", KEYWORD_PROGRAMS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_helper_with_star_star_kwargs_is_differentiated(name, shapes):
    f = define(KEYWORDS + f"def f(x, y):\n    return {KEYWORD_PROGRAMS[name]}\n")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_each_keyword_collected_is_a_keyword_parameter_of_the_pullback():
    f = define(KEYWORDS + "def f(x, y):\n    return scaled(x, scale=y, weight=2.0)\n")
    source = overbar.grad(f, wrt=(0, 1)).source_for(np.ones(3), np.ones(3))
    assert "def scaled_pullback(x, *, options_scale, options_weight, result_bar):" in source
    assert 'options = {"scale": options_scale, "weight": options_weight}' in source


TOP_LEVEL = """
def scaled_terms(scale, *terms):
    total = 0.0
    for t in terms:
        total = total + np.sum(np.sin(t) * t) * scale
    return total

first_or_pair = lambda *args: (
    np.sum(np.sin(args[0]) * args[1]) if len(args) > 1 else np.sum(np.cos(args[0]))
)
"""


@pytest.mark.parametrize("shapes", SHAPES)
def test_a_differentiated_function_with_star_args_is_specialised_per_call(shapes):
    scaled_terms = define(TOP_LEVEL, "scaled_terms")
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    for args, wrt in (((1.5, x), (0, 1)), ((1.5, x, y), (0, 1, 2)), ((1.5, x, y, x), (1, 3))):
        overbar.check_grad(scaled_terms, list(args), wrt=wrt)
    gx, gy = overbar.grad(scaled_terms, wrt=(1, 2))(2.0, x, y)
    np.testing.assert_allclose(gx, 2.0 * (np.cos(x) * x + np.sin(x)), rtol=1e-12)
    np.testing.assert_allclose(gy, 2.0 * (np.cos(y) * y + np.sin(y)), rtol=1e-12)


def test_a_lambda_with_star_args_differentiated_itself():
    first_or_pair = define(TOP_LEVEL, "first_or_pair")
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 4))
    gx, gy = overbar.grad(first_or_pair, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y, rtol=1e-12)
    np.testing.assert_allclose(gy, np.sin(x), rtol=1e-12)
    np.testing.assert_allclose(overbar.grad(first_or_pair)(x), -np.sin(x), rtol=1e-12)
    source = overbar.grad(first_or_pair, wrt=(0, 1)).source_for(x, y)
    assert re.search(r"def lambda_\d+_grad\(args_0, args_1\):", source)


def test_wrt_naming_star_args_is_refused():
    scaled_terms = define(TOP_LEVEL, "scaled_terms")
    with pytest.raises(overbar.OverbarError, match=r"wrt names \*terms"):
        overbar.grad(scaled_terms, wrt="terms")


# -- a differentiated function with **kwargs ------------------------------------------------


def numeric_gradient(function, args, kwargs, at, eps=1e-6):
    """Central differences of ``function(*args, **kwargs)`` with respect to the argument at
    position ``at`` (an int) or the keyword ``at`` (a string)."""
    value = kwargs[at] if isinstance(at, str) else args[at]
    base = np.array(value, dtype=np.float64)
    gradient = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        for sign in (1.0, -1.0):
            moved = base.copy()
            moved[index] += sign * eps
            moved = moved if isinstance(value, np.ndarray) else float(moved)
            trial_args, trial_kwargs = list(args), dict(kwargs)
            if isinstance(at, str):
                trial_kwargs[at] = moved
            else:
                trial_args[at] = moved
            gradient[index] += sign * function(*trial_args, **trial_kwargs) / (2 * eps)
    return gradient


KWARGS = """
def weighted(x, *rest, **options):
    total = np.sum(np.tanh(x) * options["scale"])
    for r in rest:
        total = total + np.sum(np.sin(r) * x)
    if options.get("squared", False):
        total = total * total
    return total

def only_keywords(x, **options):
    return np.sum(x ** 2 * options["a"]) + np.sum(np.exp(x) * options["b"])
"""

KWARGS_CALLS = {
    "one positional, a keyword": ((0,), {"scale": 1.5}),
    "wrt lands in *rest": ((0, 1, 2), {"scale": 0.5}),
    "wrt only in *rest": ((2,), {"scale": 2.0}),
    "a flag the call passes (a constant)": ((0, 1), {"scale": 0.7, "squared": True}),
    "the keyword differentiated": ((0, "scale"), {"scale": 1.3}),
    "the keyword alone, with a flag": (("scale",), {"scale": 0.9, "squared": True}),
}


@pytest.mark.parametrize("name", KWARGS_CALLS)
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_differentiated_function_with_kwargs_against_finite_differences(name, shapes):
    weighted = define(KWARGS, "weighted")
    wrt, kwargs = KWARGS_CALLS[name]
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    args = (x, y, RNG.uniform(-1.0, 1.0, size=shapes[1]))
    gradients = overbar.grad(weighted, wrt=wrt)(*args, **kwargs)
    for at, got in zip(wrt, gradients, strict=True):
        expected = numeric_gradient(weighted, args, kwargs, at)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    literal = overbar.grad(weighted, wrt=wrt, optimise=False)(*args, **kwargs)
    for got, expected in zip(gradients, literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_a_keyword_is_differentiated_only_where_wrt_names_it():
    only_keywords = define(KWARGS, "only_keywords")
    x = RNG.uniform(-1.0, 1.0, size=4)
    a, b = RNG.uniform(0.5, 1.5, size=(2, 4))
    gx = overbar.grad(only_keywords)(x, a=a, b=b)
    np.testing.assert_allclose(gx, 2 * x * a + np.exp(x) * b, rtol=1e-12)
    gx, ga, gb = overbar.grad(only_keywords, wrt=(0, "a", "b"))(x, a=a, b=b)
    np.testing.assert_allclose(ga, x**2, rtol=1e-12)
    np.testing.assert_allclose(gb, np.exp(x), rtol=1e-12)
    value, gb = overbar.value_and_grad(only_keywords, wrt="b")(x, b=b, a=2.0)
    assert value == pytest.approx(only_keywords(x, a=2.0, b=b))
    np.testing.assert_allclose(gb, np.exp(x), rtol=1e-12)


def test_each_call_of_another_count_or_other_keywords_gets_its_own_adjoint():
    weighted = define(KWARGS, "weighted")
    gradient = overbar.grad(weighted, wrt=0)
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    one = gradient.source_for(x, scale=2.0)
    two = gradient.source_for(x, y, y, scale=2.0)
    flagged = gradient.source_for(x, y, scale=2.0, squared=True)
    assert "def weighted_grad(x, *, options_scale):" in one
    assert "def weighted_grad(x, rest_0, rest_1, *, options_scale):" in two
    # a bool the call passes is a constant of the adjoint, not a parameter
    assert "def weighted_grad(x, rest_0, *, options_scale):" in flagged
    assert '"squared": True' in flagged
    for args, kwargs in (((x,), {"scale": 2.0}), ((x, y, y), {"scale": 2.0})):
        np.testing.assert_allclose(
            gradient(*args, **kwargs),
            numeric_gradient(weighted, args, kwargs, 0),
            rtol=1e-6,
            atol=1e-8,
        )
    # the flag's other value is another adjoint, not the one made for True
    squared = gradient(x, y, scale=2.0, squared=True)
    plain = gradient(x, y, scale=2.0, squared=False)
    np.testing.assert_allclose(
        plain, numeric_gradient(weighted, (x, y), {"scale": 2.0, "squared": False}, 0), rtol=1e-6
    )
    assert not np.allclose(squared, plain)


def test_wrt_naming_kwargs_or_a_keyword_not_passed_is_refused():
    weighted = define(KWARGS, "weighted")
    x = RNG.uniform(-1.0, 1.0, size=3)
    with pytest.raises(overbar.OverbarError, match=r"wrt names \*\*options of weighted"):
        overbar.grad(weighted, wrt="options")
    with pytest.raises(overbar.OverbarError, match=r"wrt names \*rest"):
        overbar.grad(weighted, wrt=(0, "rest"))
    gradient = overbar.grad(weighted, wrt="weight")
    with pytest.raises(overbar.OverbarError, match="nor a keyword this call passes to"):
        gradient(x, scale=1.0)
    with pytest.raises(overbar.OverbarError, match="a bool, None or a string has no derivative"):
        overbar.grad(weighted, wrt="squared")(x, scale=1.0, squared=True)


STAR_ARGS = """
def chain(x, *rest):
    total = np.sum(np.sin(x))
    for r in rest:
        total = total + np.sum(np.tanh(r) * x)
    return total

def vector_chain(x, *rest):
    out = np.sin(x)
    for r in rest:
        out = out * np.tanh(r)
    return out
"""


def test_vjp_jacobian_hvp_and_hessian_of_a_function_with_star_args():
    chain = define(STAR_ARGS, "chain")
    vector_chain = define(STAR_ARGS, "vector_chain")
    x, y, z = RNG.uniform(-1.0, 1.0, size=(3, 3))
    value, pullback = overbar.vjp(vector_chain, x, y, z, wrt=(0, 2))
    np.testing.assert_allclose(value, vector_chain(x, y, z))
    cotangent = RNG.uniform(-1.0, 1.0, size=3)
    gx, gz = pullback(cotangent)
    np.testing.assert_allclose(gx, cotangent * np.cos(x) * np.tanh(y) * np.tanh(z), rtol=1e-12)
    np.testing.assert_allclose(
        gz, cotangent * np.sin(x) * np.tanh(y) / np.cosh(z) ** 2, rtol=1e-12
    )
    jacobian = overbar.jacobian(vector_chain, wrt=2)(x, y, z)
    np.testing.assert_allclose(
        jacobian, np.diag(np.sin(x) * np.tanh(y) / np.cosh(z) ** 2), rtol=1e-12
    )
    _, tangent = overbar.jvp(chain, (x, y, z), (np.ones(3),), wrt=1)
    assert tangent == pytest.approx(np.sum(x / np.cosh(y) ** 2))
    # H of chain with respect to (x, y): d²/dx² = -sin x; d²/dxdy = sech² y; d²/dy² = ...
    hessian = overbar.hessian(chain, wrt=1)(x, y)
    expected = np.diag(-2 * x * np.tanh(y) / np.cosh(y) ** 2)
    np.testing.assert_allclose(hessian, expected, rtol=1e-10, atol=1e-12)
    v = RNG.uniform(-1.0, 1.0, size=3)
    np.testing.assert_allclose(
        overbar.hvp(chain, (x, y), v, wrt=1), expected @ v, rtol=1e-10, atol=1e-12
    )
    product = overbar.hvp(chain, (x, y, z), (v, v), wrt=(0, 2))
    np.testing.assert_allclose(
        product[0], -np.sin(x) * v + v / np.cosh(z) ** 2, rtol=1e-10, atol=1e-12
    )


SYMMETRIZED = """
def symmetrize_matrix_arg(fun, argnum):
    def T(X):
        return np.swapaxes(X, -1, -2) if np.ndim(X) > 1 else X

    def symmetrize(X):
        return 0.5 * (X + T(X))

    def symmetrized_fun(*args, **kwargs):
        args = list(args)
        args[argnum] = symmetrize(args[argnum])
        return fun(*args, **kwargs)

    return symmetrized_fun

def through_a_call(x, mean, cov):
    return np.sum(logpdf(x, mean, cov, allow_singular=False))

logpdf = symmetrize_matrix_arg(stats.multivariate_normal.logpdf, 2)
pdf = symmetrize_matrix_arg(stats.multivariate_normal.pdf, 2)
entropy = symmetrize_matrix_arg(stats.multivariate_normal.entropy, 1)
"""


def covariance(n):
    a = RNG.uniform(-1.0, 1.0, size=(n, n))
    return a.T @ a + np.eye(n)


@pytest.mark.parametrize("points", [(4,), (5, 4)])
@pytest.mark.parametrize("name", ["logpdf", "pdf"])
def test_autograds_symmetrizing_wrapper_of_the_multivariate_normal(name, points):
    pytest.importorskip("scipy")
    wrapped = define(SYMMETRIZED, name)
    x, mean, cov = RNG.uniform(-1.0, 1.0, size=points), RNG.uniform(-1.0, 1.0, 4), covariance(4)
    args, kwargs = (x, mean, cov), {"allow_singular": False}

    def scalar(*args, **kwargs):
        return float(np.sum(wrapped(*args, **kwargs)))

    if len(points) == 1:  # a scalar: the wrapper itself is differentiated, with its keyword
        gradients = overbar.grad(wrapped, wrt=(0, 1, 2))(*args, **kwargs)
    else:  # through a call of it, as autograd's check does for an array result
        through = define(SYMMETRIZED.replace("logpdf(x,", f"{name}(x,"), "through_a_call")
        gradients = overbar.grad(through, wrt=(0, 1, 2))(*args)
    for at, got in enumerate(gradients):
        expected = numeric_gradient(scalar, args, kwargs, at)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)


def test_autograds_symmetrizing_wrapper_of_the_entropy():
    pytest.importorskip("scipy")
    entropy = define(SYMMETRIZED, "entropy")
    mean, cov = RNG.uniform(-1.0, 1.0, 3), covariance(3)
    g_mean, g_cov = overbar.grad(entropy, wrt=(0, 1))(mean, cov)
    np.testing.assert_allclose(g_mean, np.zeros(3))
    np.testing.assert_allclose(g_cov, numeric_gradient(entropy, (mean, cov), {}, 1), rtol=1e-6)


def test_a_gradient_taken_inside_of_a_function_with_kwargs_is_refused():
    outer = define(
        KWARGS + "def outer(x):\n    return np.sum(overbar.grad(only_keywords)(x, a=x, b=x))\n",
        "outer",
    )
    with pytest.raises(overbar.OverbarError, match=r"takes \*args or \*\*kwargs"):
        overbar.grad(outer)(RNG.uniform(-1.0, 1.0, size=3))


@pytest.mark.parametrize("shapes", SHAPES)
def test_forward_mode_specialises_a_helpers_kwargs_on_each_call(shapes):
    f = define("""
        def h(x, *args, **kw):
            scale = 2.0 if kw.get("double", False) else 1.0
            return np.sum(np.tanh(x * kw["s"]) * args[0]) * scale

        def f(x, y):
            return h(x, y, s=2.0, double=True) + h(y, x, s=x)
        """)
    x, y = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    u, v = (RNG.uniform(-1.0, 1.0, size=shape) for shape in shapes)
    value, tangent = overbar.jvp(f, (x, y), (u, v))
    assert value == pytest.approx(f(x, y))
    eps = 1e-6
    numeric = (f(x + eps * u, y + eps * v) - f(x - eps * u, y - eps * v)) / (2 * eps)
    assert tangent == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    source = overbar.jvp_source(f, (x, y))
    assert "def h_jvp(x, args_0, *, kw_s, x_dot, args_0_dot):" in source
    assert 'kw = {"s": kw_s, "double": True}' in source  # the flag a constant


def test_the_hessian_through_a_keyword_a_helper_collects():
    f = define("""
        def h(x, *args, **kw):
            return np.sum(np.tanh(x * kw["s"]) * args[0])

        def f(x, y):
            return h(x, y, s=2.0) + h(y, x, s=x)
        """)
    x, y, v = RNG.uniform(-1.0, 1.0, size=(3, 4))
    product = overbar.hvp(f, (x, y), v, wrt=0)
    eps = 1e-5

    def gradient(x):
        return overbar.grad(f)(x, y)

    numeric = (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(product, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(overbar.hessian(f)(x, y) @ v, product, rtol=1e-10, atol=1e-12)
