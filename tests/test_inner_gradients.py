"""A gradient taken inside the differentiated function (``g = overbar.grad(f)(x)``, or
``d_f = overbar.grad(f)`` then ``d_f(x)``): differentiated as a call of the adjoint overbar
generates for ``f`` (reverse over reverse), specialised on the arguments' shapes at the call;
where reverse over reverse refuses that adjoint (a loop), by forward over reverse: the inner
gradient's pullback is a Hessian-vector product, ``x̄ += H(x) ḡ``."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

RNG = np.random.default_rng(7)
SHAPES = [(3,), (2, 3), ()]

HELPERS = """
def energy(x, y):
    return np.sum(np.sin(x) * y + 0.5 * x ** 2 * y ** 2)

def scalar_energy(x):
    return np.sum(np.tanh(x) ** 2)

def looped(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(np.sin(x * i))
    return total

def of_container(params):
    return np.sum(np.sin(params[0]) * params[1])
"""

PROGRAMS = {
    "called at once": "np.sum(np.sin(overbar.grad(scalar_energy)(x)) * y)",
    "bound to a name, called twice": (
        "d_energy = overbar.grad(energy)\n"
        "    return np.sum(d_energy(x, y) * y) + np.sum(np.cos(d_energy(y, x)))"
    ),
    "two gradients, unpacked": (
        "gx, gy = overbar.grad(energy, wrt=(0, 1))(x, y)\n    return np.sum(gx * gy + np.tanh(gx))"
    ),
    "by keyword": "np.sum(overbar.grad(energy, wrt='y')(x, y) ** 2)",
    "inside a loop": (
        "total = 0.0\n    for i in range(2):\n"
        "        total = total + np.sum(overbar.grad(scalar_energy)(x * (i + 1.0)) * y)\n"
        "    return total"
    ),
}


def _program(name: str) -> str:
    body = PROGRAMS[name]
    if "return" not in body:
        body = f"return {body}"
    return HELPERS + f"def f(x, y):\n    {body}\n"


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_taken_in_the_function_is_differentiated(name, shape):
    f = define(_program(name))
    x, y = RNG.uniform(-1.0, 1.0, size=(2, *shape))
    if not shape:
        x, y = float(x), float(y)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_the_second_derivative_is_the_one_by_hand():
    # f(x) = sum(sin(∇g(x))) with g = sum(tanh(x)^2): ∇g = 2 t (1 - t²), t = tanh(x)
    f = define(HELPERS + "def f(x):\n    return np.sum(np.sin(overbar.grad(scalar_energy)(x)))\n")
    x = RNG.uniform(-1.0, 1.0, size=4)
    t = np.tanh(x)
    inner = 2 * t * (1 - t**2)
    second = 2 * (1 - t**2) * (1 - 3 * t**2)
    np.testing.assert_allclose(overbar.grad(f)(x), np.cos(inner) * second, rtol=1e-12)


def test_the_reverse_sweep_calls_the_pullback_of_the_generated_gradient():
    f = define(HELPERS + "def f(x):\n    return np.sum(np.sin(overbar.grad(scalar_energy)(x)))\n")
    source = overbar.grad(f).source_for(np.ones(3))
    assert "grad_scalar_energy = overbar.grad(scalar_energy)" in source
    assert "scalar_energy_grad_pullback(" in source


def test_a_wrapper_of_grad_that_says_what_it_makes_is_followed():
    f = define(
        HELPERS
        + "def my_grad(function, argnum=0):\n    return overbar.grad(function, wrt=argnum)\n\n"
        + "my_grad.__overbar_gradient_of__ = lambda function, argnum=0: (\n"
        + "    overbar.grad.__overbar_gradient_of__(function, wrt=argnum))\n\n"
        + "def f(x, y):\n    return np.sum(my_grad(energy, 1)(x, y) * x)\n"
    )
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    overbar.check_grad(f, [x, y], wrt=(0, 1))


LOOPED_HELPERS = """
def looped(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(np.sin(x * i))
    return total

def while_looped(x):
    y = x
    n = 0
    while n < 3:
        y = np.sin(y) * 1.1 + 0.1 * x
        n += 1
    return np.sum(y * y)

def coupled(x, y):
    for _ in range(2):
        x = np.tanh(x * y) + 0.5 * x
    return np.sum(x * x * y)

d_looped = overbar.grad(looped)
"""

LOOPED_PROGRAMS = {
    "a for loop": "np.sum(overbar.grad(looped)(x) ** 2) + np.sum(y)",
    "a while loop": "np.sum(np.sin(overbar.grad(while_looped)(x)) * y)",
    "two gradients, unpacked": (
        "gx, gy = overbar.grad(coupled, wrt=(0, 1))(x, y)\n"
        "    return np.sum(gx * gy + np.tanh(gx))"
    ),
    "with respect to one, differentiated in both": (
        "np.sum(overbar.grad(coupled, wrt=0)(x, y) * y)"
    ),
    "by keyword": "np.sum(overbar.grad(coupled, wrt='y')(x, y) ** 2)",
    "inside a loop": (
        "total = 0.0\n    for i in range(2):\n"
        "        total = total + np.sum(overbar.grad(looped)(x * (i + 1.0)) * y)\n"
        "    return total"
    ),
    "bound to a name": (
        "d_coupled = overbar.grad(coupled)\n"
        "    return np.sum(d_coupled(x, y) * d_coupled(y, x))"
    ),
    "made at module level": "np.sum(np.cos(d_looped(x * y)))",
}


@pytest.mark.parametrize("name", LOOPED_PROGRAMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_of_a_function_with_a_loop_is_differentiated_by_forward_over_reverse(
    name, shape
):
    """Reverse over reverse refuses the reverse sweep of a loop (its stack's pops): the inner
    gradient's pullback is then a Hessian-vector product, x̄ += H(x) ḡ."""
    body = LOOPED_PROGRAMS[name]
    if "return" not in body:
        body = f"return {body}"
    f = define(LOOPED_HELPERS + f"def f(x, y):\n    {body}\n")
    x, y = RNG.uniform(0.2, 1.0, size=(2, *shape))
    if not shape:
        x, y = float(x), float(y)
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, y)
    for got, expected in zip(overbar.grad(f, wrt=(0, 1))(x, y), literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_the_hessian_vector_product_is_the_one_by_hand():
    # looped(x) = Σ_i Σ sin(i x), ∇ = Σ_i i cos(i x), H = diag(-Σ_i i² sin(i x));
    # f = Σ ∇² :  f' = 2 ∇ ∘ diag(H)
    f = define(LOOPED_HELPERS + "def f(x):\n    return np.sum(overbar.grad(looped)(x) ** 2)\n")
    x = RNG.uniform(-1.0, 1.0, size=4)
    inner = sum(i * np.cos(i * x) for i in range(3))
    curvature = -sum(i * i * np.sin(i * x) for i in range(3))
    np.testing.assert_allclose(overbar.grad(f)(x), 2 * inner * curvature, rtol=1e-12)


def test_the_reverse_sweep_calls_the_hessian_vector_product():
    f = define(LOOPED_HELPERS + "def f(x):\n    return np.sum(overbar.grad(looped)(x) ** 2)\n")
    source = overbar.grad(f).source_for(np.ones(3))
    assert "(x_bar,) = looped_hvp(x, result_bar=2.0 * tmp1)" in source, source
    assert "pullback" not in source


def test_the_second_derivative_of_a_gradient_with_a_loop_inside():
    """grad(grad(f)) where f takes a gradient of a function with a loop: the outer adjoint
    calls the Hessian-vector product, which is not differentiated again: refused, naming it."""
    f = define(LOOPED_HELPERS + "def f(x):\n    return np.sum(overbar.grad(looped)(x) ** 2)\n")
    with pytest.raises(overbar.OverbarError, match="looped_hvp"):
        overbar.grad(lambda_free_sum(f))(np.ones(3))


def lambda_free_sum(f):
    """Σ ∇f, a function of its own (its source read by overbar)."""
    return define(
        "def summed(x):\n    return np.sum(gradient(x))\n",
        "summed",
        namespace={"gradient": overbar.grad(f)},
    )


def test_a_gradient_with_a_loop_forward_mode_cannot_take_is_refused_saying_why():
    """A rule of the user's with no tangent rule in the looped function: reverse over reverse
    refuses the loop, forward over reverse the rule; the refusal gives both reasons."""
    f = define("""
        def quartic(v):
            return v ** 4

        @overbar.adjoint(quartic)
        def quartic_adjoint(y, v, y_bar):
            v_bar = y_bar * 4 * y / v
            return v_bar

        def looped_quartic(x):
            total = 0.0
            for i in range(2):
                total = total + np.sum(quartic(x * (i + 1.0)))
            return total

        def f(x):
            return np.sum(overbar.grad(looped_quartic)(x) ** 2)
        """)
    with pytest.raises(UnsupportedSyntaxError, match="pops a stack") as caught:
        overbar.grad(f)(np.ones(3))
    message = str(caught.value)
    assert "nor by forward over reverse" in message, message
    assert "no tangent rule for quartic" in message, message
    assert "overbar.grad(looped_quartic)(x)" in message.splitlines()[1]


CONTAINER_LOOPS = """
def over_keys(d):
    A = 0.0
    B = 0.0
    for i, k in enumerate(sorted(d)):
        A = A + np.sum(np.sin(d[k])) * (i + 1.0)
        B = B + np.sum(np.cos(d[k]))
    return A + B

def over_items(d):
    A = 0.0
    for i, (k, v) in enumerate(sorted(d.items())):
        A = A + np.sum(np.sin(v) * d["w"]) * (i + 1.0)
    for v in d.values():
        A = A + np.sum(np.cos(v))
    return A

def over_elements(p):
    total = 0.0
    for i in range(len(p)):
        total = total + np.sum(np.tanh(p[i] * p[0]))
    return total
"""


@pytest.mark.parametrize("helper", ["over_keys", "over_items"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_with_respect_to_a_dict_through_loops(helper, shape):
    """autograd's test_dict forms: a gradient with respect to a dict, of a function looping
    over its keys, items and values, taken in the function: a Hessian-vector product whose
    vector and result are dicts."""
    program = (
        f"def f(d):\n    g = overbar.grad({helper})(d)\n"
        "    return np.sum(g['w']) + np.sum(np.sin(g['w'])) + np.sum(np.sin(g['b']))\n"
    )
    f = define(CONTAINER_LOOPS + program)
    params = dict(zip("wbx", RNG.uniform(-1.0, 1.0, size=(3, *shape)), strict=True))
    overbar.check_grad(f, [params])
    gradient = overbar.grad(f)(params)
    assert set(gradient) == set(params)
    literal = overbar.grad(f, optimise=False)(params)
    for key in params:
        np.testing.assert_allclose(gradient[key], literal[key], rtol=1e-10, atol=1e-12)
    assert f"{helper}_hvp(d, result_bar=" in overbar.grad(f).source_for(params)


@pytest.mark.parametrize("kind", [tuple, list])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_with_respect_to_a_tuple_or_list_through_a_loop(kind, shape):
    program = (
        "def f(p, y):\n    g = overbar.grad(over_elements)(p)\n"
        "    return np.sum(g[0] * np.sin(g[1]) * y) + np.sum(g[2] ** 2)\n"
    )
    f = define(CONTAINER_LOOPS + program)
    p = kind(RNG.uniform(-1.0, 1.0, size=(3, *shape)))
    y = RNG.uniform(-1.0, 1.0, size=shape)
    y = float(y) if not shape else y
    overbar.check_grad(f, [p, y], wrt=(0, 1))
    gradient, _ = overbar.grad(f, wrt=(0, 1))(p, y)
    assert type(gradient) is kind
    literal, _ = overbar.grad(f, wrt=(0, 1), optimise=False)(p, y)
    for got, expected in zip(gradient, literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", [tuple, list])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_with_respect_to_a_tuple_or_list_is_differentiated(kind, shape):
    program = (
        "def f(params):\n    g = overbar.grad(of_container)(params)\n"
        "    return np.sum(g[0] * np.sin(g[1])) + np.sum(g[1] ** 2)\n"
    )
    f = define(HELPERS + program)
    params = kind(RNG.uniform(-1.0, 1.0, size=(2, *shape)))
    overbar.check_grad(f, [params])
    gradient = overbar.grad(f)(params)
    assert type(gradient) is kind
    literal = overbar.grad(f, optimise=False)(params)
    for got, expected in zip(gradient, literal, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_with_respect_to_a_dict_is_differentiated(shape):
    program = (
        "def of_dict(d):\n    return np.sum(np.sin(d['w']) * d['b'])\n\n"
        "def f(params):\n    g = overbar.grad(of_dict)(params)\n"
        "    return np.sum(g['w'] ** 2) + np.sum(np.cos(g['b']))\n"
    )
    f = define(HELPERS + program)
    params = dict(zip("wbx", RNG.uniform(-1.0, 1.0, size=(3, *shape)), strict=True))
    overbar.check_grad(f, [params])
    gradient = overbar.grad(f)(params)
    assert set(gradient) == set(params)
    literal = overbar.grad(f, optimise=False)(params)
    for key in params:
        np.testing.assert_allclose(gradient[key], literal[key], rtol=1e-10, atol=1e-12)


def test_a_gradient_of_a_function_known_only_when_it_runs_is_refused():
    f = define(HELPERS + "def f(x, g):\n    return np.sum(overbar.grad(g)(x))\n")
    with pytest.raises(UnsupportedSyntaxError, match="the function of an inner gradient"):
        overbar.grad(f)(np.ones(3), f.__globals__["scalar_energy"])


def test_value_and_grad_inside_is_refused():
    f = define(
        HELPERS + "def f(x):\n    v, g = overbar.value_and_grad(scalar_energy)(x)\n"
        "    return v + np.sum(g)\n"
    )
    with pytest.raises(overbar.OverbarError):
        overbar.grad(f)(np.ones(3))


def test_a_gradient_of_a_nested_function_reading_nothing_outside_it():
    f = define(
        "def f(x):\n    def product(y):\n        return y[0] * y[1]\n\n"
        "    return np.sum(np.sin(np.array(overbar.grad(product)((x, 2.0 * x)))))\n"
    )
    # ∇product((x, 2x)) = (2x, x): f = sin(2x) + sin(x)
    assert overbar.grad(f)(0.3) == pytest.approx(2 * np.cos(0.6) + np.cos(0.3))
    overbar.check_grad(f, [0.3])


def test_a_gradient_of_a_nested_function_reading_the_enclosing_names_is_refused():
    f = define(
        "def f(x):\n    def scaled(y):\n        return np.sum(y * x)\n\n"
        "    return np.sum(overbar.grad(scaled)(x))\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="other than a call"):
        overbar.grad(f)(np.ones(3))


def test_a_gradient_made_at_module_level_and_called_in_the_function():
    f = define(
        HELPERS + "d_energy = overbar.grad(scalar_energy)\n\n"
        "def f(x, y):\n    return np.sum(np.sin(d_energy(x)) * y)\n"
    )
    x, y = RNG.uniform(-1.0, 1.0, size=(2, 3))
    overbar.check_grad(f, [x, y], wrt=(0, 1))
    assert "scalar_energy_grad_pullback(" in overbar.grad(f).source_for(x, y)


def test_a_gradient_returning_its_value_too_called_in_the_function_is_refused():
    f = define(
        HELPERS + "both = overbar.value_and_grad(scalar_energy)\n\n"
        "def f(x):\n    return np.sum(both(x)[1])\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="returns the value with the gradient"):
        overbar.grad(f)(np.ones(3))


def test_the_second_and_third_derivatives_through_a_tuple_of_numbers():
    """The second and third derivatives of a function taking a gradient with respect to a
    tuple (autograd's test_nested_higher_order): the adjoint of the adjoint calls the
    container helpers (``sequence_bar``, ``elements_like``, ``structured_like_bar``), which
    have adjoint rules. f(x) = sin(x) + sin(x): f' = 2 cos x, f'' = -2 sin x, f''' = -2 cos x."""
    f = define(
        "def f(x):\n    def product(y):\n        return y[0] * y[1]\n\n"
        "    return np.sum(np.sin(np.array(overbar.grad(product)(tuple((x, x))))))\n"
    )
    first = overbar.grad(f)
    second = overbar.grad(first)
    third = overbar.grad(second)
    for x in (10.0, -0.4):
        assert first(x) == pytest.approx(2 * np.cos(x), rel=1e-12)
        assert second(x) == pytest.approx(-2 * np.sin(x), rel=1e-12)
        assert third(x) == pytest.approx(-2 * np.cos(x), rel=1e-12)
        eps = 1e-5
        assert third(x) == pytest.approx((second(x + eps) - second(x - eps)) / (2 * eps), rel=1e-6)


def test_a_gradient_of_numbers_that_is_exactly_zero_still_varies():
    """g = ∇f((x, y)) = (y², 2xy) with f = p₀p₁²: at y = 0 the number g₀ is 0.0, which is not
    the runtime zero (a constant): ∂/∂y (3 g₀ + g₁) = 6y + 2x = 2x there."""
    f = define(
        "def cube(p):\n    return p[0] * p[1] * p[1]\n\n"
        "def f(x, y):\n    g = overbar.grad(cube)((x, y))\n    return g[0] * 3.0 + g[1]\n"
    )
    for y in (0.0, 0.1):
        got = overbar.grad(f, wrt=(0, 1))(1.5, y)
        assert got == pytest.approx((2 * y, 6 * y + 3.0), abs=1e-12)


def test_a_hessian_vector_product_of_a_tuple_of_gradients_along_the_runtime_zero():
    """ḡ is 0.0, the runtime zero, where no gradient reached the tuple of gradients: the
    product is zeros shaped like each argument; along a tuple of vectors, overbar.hvp's."""
    coupled = define(LOOPED_HELPERS, "coupled")
    inner = overbar.api._inner_gradient(coupled, wrt=(0, 1))
    product = inner.__overbar_hessian_product__(("x", "y"), "result_bar", ())
    x, y = RNG.uniform(0.2, 1.0, size=(2, 3))
    zeros = product(x, y, result_bar=0.0)
    assert [np.shape(z) for z in zeros] == [(3,), (3,)] and not np.any(zeros)
    gx, gy = RNG.standard_normal((2, 3))
    expected = overbar.hvp(coupled, (x, y), (gx, gy), wrt=(0, 1))
    for got, want in zip(product(x, y, result_bar=(gx, gy)), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_second_derivative_called_in_a_function_is_differentiated_again():
    """grad(grad(f)) held and called in a function (as autograd's check_grads of it does),
    where f takes a gradient of a tuple: the generated second derivative, differentiated as
    a helper, calls its helpers' pullbacks without residuals (a call unpacking a tuple of
    residuals is not differentiated again). d/dx (0.7 f''(x)) = -1.4 cos x."""
    f = define(
        "def f(x):\n    def product(y):\n        return y[0] * y[1]\n\n"
        "    return np.sum(np.sin(np.array(overbar.grad(product)(tuple((x, x))))))\n"
    )
    second = overbar.grad(overbar.grad(f))
    target = define(
        "def target(x):\n    return second(x) * 0.7\n", "target", namespace={"second": second}
    )
    for x in (10.0, 0.3):
        assert overbar.grad(target)(x) == pytest.approx(-1.4 * np.cos(x), rel=1e-12)
