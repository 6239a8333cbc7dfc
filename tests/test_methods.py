"""Methods: a model whose parameters are attributes, differentiated with respect to them.

The convention: ``overbar.grad(Model.loss, wrt="self")(model, x)`` (or ``wrt=0``), and for a
bound method ``overbar.grad(model.loss, wrt="self")(x)``, give a **dict** of the gradients of
the attributes the method reads (``self.W``, and those the methods it calls on ``self`` read),
each shaped like its attribute; an attribute holding a list of arrays gets a tuple; attributes
that hold no numbers (a string, a flag) are left out. ``self.helper(z)`` in a method, and
``model.loss(x)`` in a function whose argument ``model`` is an object, are differentiated
through the method's own pullback, checked when it runs to be the method the object's class
has (a subclass's override gets its own).
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import GradientCheckError, OverbarError
from tests.support import define

MODELS = """
class Model:
    def __init__(self, W, b, scale):
        self.W, self.b, self.scale = W, b, scale
        self.name = "tanh layer"

    def features(self, z):
        return np.tanh(self.W @ z + self.b)

    def loss(self, x):
        return np.sum(self.features(x) ** 2) * self.scale


class Sine(Model):
    def features(self, z):
        return np.sin(self.W @ z) * self.b


class Stack:
    def __init__(self, layers, kind):
        self.layers, self.kind = layers, kind

    def loss(self, x):
        h = x
        for W in self.layers:
            h = np.tanh(W @ h) if self.kind == "tanh" else W @ h
        return np.sum(h ** 2)


def plain_loss(W, b, scale, x):
    return np.sum(np.tanh(W @ x + b) ** 2) * scale


def outside(model, x):
    return model.loss(x) + np.sum(model.W ** 2)


def through_helper(model, x):
    return np.sum(read_weights(model) @ x)


def read_weights(m):
    return m.W * m.scale

"""

RNG = np.random.default_rng(5)
W, B, X = RNG.standard_normal((3, 3)), RNG.standard_normal(3), RNG.standard_normal(3)


@pytest.fixture(scope="module")
def space():
    """The names of the module the models are defined in."""
    return define(MODELS, name="plain_loss").__globals__


def test_the_gradient_with_respect_to_self_is_a_dict_of_the_attributes_read(space):
    model = space["Model"](W, B, 0.5)
    gradient = overbar.grad(space["Model"].loss, wrt="self")(model, X)
    assert set(gradient) == {"W", "b", "scale"}  # not name, which holds no numbers
    expected = overbar.grad(space["plain_loss"], wrt=(0, 1, 2))(W, B, 0.5, X)
    for key, value in zip(("W", "b", "scale"), expected, strict=True):
        np.testing.assert_allclose(gradient[key], value, rtol=1e-12)
        assert np.shape(gradient[key]) == np.shape(getattr(model, key))


def test_a_bound_method_differentiates_self_by_name(space):
    model = space["Model"](W, B, 0.5)
    by_self = overbar.grad(model.loss, wrt="self")(X)
    unbound = overbar.grad(space["Model"].loss, wrt=0)(model, X)
    for key in unbound:
        np.testing.assert_allclose(by_self[key], unbound[key], rtol=1e-12)
    self_bar, x_bar = overbar.grad(model.loss, wrt=("self", 0))(X)
    np.testing.assert_allclose(x_bar, overbar.grad(model.loss)(X), rtol=1e-12)
    np.testing.assert_allclose(self_bar["W"], by_self["W"], rtol=1e-12)
    value, gradient = overbar.value_and_grad(model.loss, wrt="self")(X)
    assert np.isclose(value, model.loss(X)) and set(gradient) == {"W", "b", "scale"}


def test_a_method_called_on_an_argument_is_differentiated_through(space):
    model = space["Model"](W, B, 0.5)
    gradient = overbar.grad(space["outside"])(model, X)
    alone = overbar.grad(space["Model"].loss)(model, X)
    np.testing.assert_allclose(gradient["W"], alone["W"] + 2 * W, rtol=1e-12)
    np.testing.assert_allclose(gradient["b"], alone["b"], rtol=1e-12)
    x_bar = overbar.grad(space["outside"], wrt="x")(model, X)
    np.testing.assert_allclose(x_bar, overbar.grad(model.loss)(X), rtol=1e-12)


def test_an_object_passed_to_a_helper_sends_its_attributes_gradients_back(space):
    model = space["Model"](W, B, 0.5)
    gradient = overbar.grad(space["through_helper"])(model, X)
    np.testing.assert_allclose(gradient["W"], 0.5 * np.outer(np.ones(3), X), rtol=1e-12)
    np.testing.assert_allclose(gradient["scale"], np.sum(W @ X), rtol=1e-12)


def test_a_subclass_override_is_the_method_differentiated(space):
    model = space["Sine"](W, B, 2.0)
    gradient = overbar.grad(space["Model"].loss)(model, X)  # loss calls Sine.features
    s = W @ X
    np.testing.assert_allclose(gradient["b"], 2.0 * 2 * np.sin(s) ** 2 * B, rtol=1e-12)
    bound = overbar.grad(model.loss, wrt="self")(X)
    np.testing.assert_allclose(bound["b"], gradient["b"], rtol=1e-12)


def test_the_general_adjoint_checks_the_method_it_differentiated(space):
    """Without the object's class (the adjoint for arguments of any kind), self.features is
    the method of the class loss is defined in: a subclass's override is refused when it
    runs, never differentiated as the other."""
    general = overbar.grad(space["Model"].loss).stages.emitted.function
    assert set(general(space["Model"](W, B, 1.0), X)) == {"W", "b", "scale"}
    with pytest.raises(OverbarError, match="Sine.features is not Model.features"):
        general(space["Sine"](W, B, 1.0), X)


def test_an_attribute_holding_a_list_of_arrays_gets_a_tuple(space):
    layers = [RNG.standard_normal((4, 3)), RNG.standard_normal((2, 4))]
    for kind in ("tanh", "linear"):
        model = space["Stack"](layers, kind)
        gradient = overbar.grad(model.loss, wrt="self")(X)
        assert set(gradient) == {"layers"}
        assert isinstance(gradient["layers"], tuple)
        assert [g.shape for g in gradient["layers"]] == [(4, 3), (2, 4)]


def test_the_guard_checks_each_attribute(space):
    """A wrong rule inside a method is caught, and named by the attribute it reaches."""
    wrong = define(
        "def doubled(v):\n    return 2.0 * v\n\n"
        "@overbar.adjoint(doubled)\ndef doubled_adjoint(y, v, y_bar):\n"
        "    return 3.0 * y_bar\n\n"
        "class Scaled:\n    def __init__(self, W):\n        self.W = W\n\n"
        "    def loss(self, x):\n        return np.sum(doubled(self.W) @ x)\n\n"
        "def f(x):\n    return x\n",
        name="Scaled",
    )
    with pytest.raises(GradientCheckError, match=r"self\.W"):
        overbar.grad(wrong.loss, check=True)(wrong(W), X)


def test_an_attribute_of_an_array_without_a_rule_is_refused(space):
    f = define("def f(x):\n    return np.sum(x.flat)\n")
    with pytest.raises(OverbarError, match=r"\.flat"):
        overbar.grad(f)(X)
    general = overbar.grad(f).stages.emitted.function  # x's kind unknown: refused as it runs
    with pytest.raises(OverbarError, match=r"attribute \.flat of an array"):
        general(X)


def test_adjoints_derived_from_an_objects_methods_are_not_written_to_the_disk_cache(space):
    """The disk cache's key holds the code of the functions a function names; an object's
    class gives it methods it does not name, which may change unseen."""
    from overbar import cache

    before = set(cache.entries())
    model = space["Model"](W, B, 0.5)
    overbar.grad(space["outside"])(model, X)
    overbar.grad(model.loss, wrt="self")(X)
    written = set(cache.entries()) - before
    assert not written
    plain = define("def f(x):\n    return np.sum(np.sin(x) ** 2)\n")
    overbar.grad(plain)(X)
    assert set(cache.entries()) - before  # the cache is on: a plain function is written


def test_an_attribute_named_like_an_arrays_is_the_objects_own():
    """A model's size or T is its own number, not an array's size or transpose."""
    named = define(
        "class Named:\n    def __init__(self):\n        self.size, self.T = 2.0, np.ones((3, 3))\n\n"
        "    def loss(self, x):\n        return np.sum(self.T @ x) * self.size\n\n"
        "def f(x):\n    return x\n",
        name="Named",
    )
    gradient = overbar.grad(named.loss, wrt="self")(named(), X)
    assert set(gradient) == {"size", "T"}
    np.testing.assert_allclose(gradient["size"], np.sum(np.ones((3, 3)) @ X), rtol=1e-12)
    np.testing.assert_allclose(gradient["T"], 2.0 * np.outer(np.ones(3), X), rtol=1e-12)


def test_check_grad_checks_an_object_attribute_by_attribute(space):
    model = space["Model"](W, B, 1.5)
    assert overbar.check_grad(space["Model"].loss, [model, X]) < 1e-6
    stack = space["Stack"]([W, W * 0.5], "tanh")
    assert overbar.check_grad(space["Stack"].loss, [stack, X]) < 1e-6  # a list attribute
    assert overbar.check_grad(space["outside"], [model, X]) < 1e-6
    assert model.W is W  # the trials perturbed copies


def test_check_grad_names_the_attribute_that_disagrees(space):
    # floor's derivative is 0 almost everywhere; across its jump at 0.0 differences see a step
    floored = define("def f(model, x):\n    return np.sum(np.floor(model.W) * 1.0) + x[0]\n")
    model = space["Model"](np.zeros((2, 2)), B, 1.5)
    with pytest.raises(overbar.GradientMismatchError, match=r"model\.W: 4 of 4"):
        overbar.check_grad(floored, [model, X], wrt=0)
