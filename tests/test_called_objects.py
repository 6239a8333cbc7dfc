"""Objects called like functions (``cell(h, x)``, the method ``__call__`` of their class) and
objects made in the differentiated function (``cell = Cell(W, U, b)``, whose ``__init__``
stores its arguments): passed as an argument, made in the function, or defined at module
level. The call is differentiated as the method ``__call__``, found in the object's class as
methods are (a subclass's override is the one differentiated); the object made in the function
sends each stored attribute's adjoint back to the argument stored there (constructors.py)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import MissingRuleError, OverbarError, UnsupportedSyntaxError
from overbar.transpiler.constructors import stored_arguments
from tests.support import define

CELLS = """
class Cell:
    def __init__(self, W, U, b):
        self.W = W
        self.U, self.b = U, b

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)

    def step(self, h, x):
        return self(h, x)


class SineCell(Cell):
    def __call__(self, h, x):
        return np.sin(h @ self.W) * self.b + x @ self.U


class Scaled:
    def __init__(self, W, scale=2.0):
        \"\"\"A layer scaled by a number.\"\"\"
        self.W = W
        self.scale = scale

    def __call__(self, x):
        return self.scale * np.tanh(self.W @ x)


class Counting:
    def __init__(self, W):
        self.W = W
        self.calls = 0

    def __call__(self, x):
        return self.W @ x


class Copying:
    def __init__(self, W):
        self.W = W.copy()

    def __call__(self, x):
        return self.W @ x


class Guarded:
    def __init__(self, W):
        self.W = W

    @property
    def W(self):
        return self._W * 2.0

    @W.setter
    def W(self, value):
        self._W = value

    def __call__(self, x):
        return self.W @ x


def plain(W, U, b, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(h @ W + x @ U + b)
    return np.sum(h ** 2)


def made_inside(W, U, b, xs, h0):
    cell = Cell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def made_by_keywords(W, U, b, xs, h0):
    cell = Cell(U=U, b=b, W=W)
    h = h0
    for t in range(len(xs)):
        h = cell.step(h, xs[t])
    return np.sum(h ** 2)


def passed_in(cell, xs, h0):
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def through_helper(cell, xs, h0):
    return np.sum(run(cell, xs, h0) ** 2)


def run(cell, xs, h):
    for x in xs:
        h = cell(h, x)
    return h


def handed_on(W, U, b, xs, h0):
    cell = Cell(W, U, b)
    return np.sum(run(cell, xs, h0) ** 2)


def with_default(W, x):
    layer = Scaled(W)
    return np.sum(layer(x) ** 2)


def with_scale(W, s, x):
    layer = Scaled(W, scale=s)
    return np.sum(layer(x) ** 2)


def counting(W, x):
    layer = Counting(W)
    return np.sum(layer(x) ** 2)


def copying(W, x):
    layer = Copying(W)
    return np.sum(layer(x) ** 2)


def guarded(W, x):
    layer = Guarded(W)
    return np.sum(layer(x) ** 2)


def made_in_a_branch(W, x):
    if np.sum(x) > 0:
        layer = Scaled(W)
    else:
        layer = np.tanh
    return np.sum(layer(x) ** 2)


LAYER = Scaled(np.eye(3) * 0.5, 1.5)


def module_level(x):
    return np.sum(LAYER(x) ** 2)
"""

RNG = np.random.default_rng(9)
W, U = RNG.standard_normal((3, 3)) * 0.5, RNG.standard_normal((2, 3)) * 0.5
B, XS, H0 = RNG.standard_normal(3) * 0.5, RNG.standard_normal((4, 2)), RNG.standard_normal(3)
X = RNG.standard_normal(3)


@pytest.fixture(scope="module")
def space():
    """The names of the module the cells are defined in."""
    return define(CELLS, name="plain").__globals__


@pytest.mark.parametrize("name", ["made_inside", "made_by_keywords"])
def test_an_object_made_in_the_function_and_called_is_differentiated(space, name):
    gradient = overbar.grad(space[name], wrt=(0, 1, 2, 4))(W, U, B, XS, H0)
    expected = overbar.grad(space["plain"], wrt=(0, 1, 2, 4))(W, U, B, XS, H0)
    for got, wanted in zip(gradient, expected, strict=True):
        np.testing.assert_allclose(got, wanted, rtol=1e-10)
    assert overbar.check_grad(space[name], [W, U, B, XS, H0], wrt=(0, 1, 2, 3, 4)) < 1e-6


def test_an_object_handed_on_sends_each_stored_attributes_adjoint_to_its_argument(space):
    """An object used only in the function is taken apart (objects.py, tests/test_objects.py);
    handed to a helper, it stays an object, and the line that made it sends each stored
    attribute's adjoint to its argument."""
    source = overbar.grad(space["handed_on"], wrt=(0, 1, 2)).source_for(W, U, B, XS, H0)
    assert 'W_bar = entry_bar(cell_bar, "W")' in source
    assert "Cell_call_pullback(" in source, source  # run(cell, ...) inlined, cell kept
    expected = overbar.grad(space["plain"], wrt=(0, 1, 2))(W, U, B, XS, H0)
    got = overbar.grad(space["handed_on"], wrt=(0, 1, 2))(W, U, B, XS, H0)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_an_object_passed_in_and_called_is_differentiated_with_its_attributes(space):
    cell = space["Cell"](W, U, B)
    h_bar = overbar.grad(space["passed_in"], wrt="h0")(cell, XS, H0)
    expected = overbar.grad(space["plain"], wrt=(0, 1, 2, 4))(W, U, B, XS, H0)
    np.testing.assert_allclose(h_bar, expected[3], rtol=1e-10)
    cell_bar = overbar.grad(space["passed_in"], wrt="cell")(cell, XS, H0)
    assert set(cell_bar) == {"W", "U", "b"}
    for key, wanted in zip(("W", "U", "b"), expected[:3], strict=True):
        np.testing.assert_allclose(cell_bar[key], wanted, rtol=1e-10)
    assert overbar.check_grad(space["passed_in"], [cell, XS, H0], wrt=(0, 2)) < 1e-6
    assert overbar.check_grad(space["through_helper"], [cell, XS, H0], wrt=(0, 2)) < 1e-6


def test_a_subclass_override_of_call_is_the_one_differentiated(space):
    cell = space["SineCell"](W, U, B)
    assert overbar.check_grad(space["passed_in"], [cell, XS, H0], wrt=(0, 2)) < 1e-6
    h = H0
    for x in XS:
        h = np.sin(h @ W) * B + x @ U
    np.testing.assert_allclose(space["passed_in"](cell, XS, H0), np.sum(h**2))


def test_the_general_adjoint_checks_the_call_it_differentiated(space):
    """Compiled for arguments of any kind, a parameter called is not known to be an object:
    refused when compiled, with the reason; a module-level object's call is checked, when the
    adjoint runs, to be the method it differentiated."""
    with pytest.raises(MissingRuleError, match="cell is a parameter this adjoint does not know"):
        overbar.grad(space["passed_in"], wrt="h0").source  # noqa: B018
    general = overbar.grad(space["module_level"]).stages.emitted.function
    np.testing.assert_allclose(general(X), overbar.grad(space["module_level"])(X), rtol=1e-12)
    layer = space["LAYER"]
    try:
        layer.__class__ = space["Counting"]  # the object's class changed under the adjoint
        with pytest.raises(OverbarError, match="Counting.__call__ is not Scaled.__call__"):
            general(X)
    finally:
        layer.__class__ = space["Scaled"]


def test_a_module_level_object_called_is_differentiated(space):
    assert overbar.check_grad(space["module_level"], [X]) < 1e-6
    layer = space["LAYER"]
    expected = 2 * layer.scale**2 * np.tanh(layer.W @ X) * (1 - np.tanh(layer.W @ X) ** 2)
    np.testing.assert_allclose(overbar.grad(space["module_level"])(X), layer.W.T @ expected)


def test_a_default_of_init_left_out_is_a_constant_and_one_given_is_differentiated(space):
    assert overbar.check_grad(space["with_default"], [W, X], wrt=(0, 1)) < 1e-6
    assert overbar.check_grad(space["with_scale"], [W, 0.7, X], wrt=(0, 1, 2)) < 1e-6


@pytest.mark.parametrize(("name", "kind"), [("counting", "Counting"), ("copying", "Copying")])
def test_a_class_whose_init_computes_attributes_is_taken_apart(space, name, kind):
    """__init__ storing a constant (self.calls = 0) or a copy (W.copy()): not a class whose
    attributes are its arguments, but one whose __init__ can be written out where the object
    is made (objects.py): differentiated as that code, never as if it stored its arguments."""
    assert stored_arguments(space[kind]) is None
    gradient = overbar.grad(space[name])(W, X)
    y = W @ X
    np.testing.assert_allclose(gradient, np.outer(2 * y, X), rtol=1e-12)
    assert overbar.check_grad(space[name], [W, X], wrt=(0, 1)) < 1e-6


def test_a_class_whose_init_stores_through_a_property_is_refused(space):
    """A property's setter runs in __init__ (self.W = W stores W in _W, the getter doubles
    it): neither stored arguments nor attributes that can be written out; refused, never
    differentiated as if it were."""
    assert stored_arguments(space["Guarded"]) is None
    with pytest.raises(OverbarError):
        overbar.grad(space["guarded"])(W, X)


def test_a_name_bound_to_an_object_only_sometimes_is_still_refused(space):
    with pytest.raises(UnsupportedSyntaxError, match="a call of the local variable layer"):
        overbar.grad(space["made_in_a_branch"])(W, X)


def test_stored_arguments_reads_init():
    Cell = define(CELLS, name="Cell")
    stored = stored_arguments(Cell)
    assert stored.attributes == (("W", "W"), ("U", "U"), ("b", "b"))
    assert list(stored.signature.parameters) == ["W", "U", "b"]
    assert stored_arguments(np.ndarray) is None and stored_arguments(dict) is None
    assert stored_arguments(lambda z: z) is None


def test_functions_making_or_calling_objects_are_kept_from_the_disk_cache(space):
    """The disk cache's key holds the code of the functions a function names, not of a class's
    __init__ and __call__, which may change unseen: such a function's adjoint is not written
    (``reads_methods``, which also keeps it from forward mode, which does not resolve them).
    (Today its adjoint binds the method's pullback, which the cache cannot write by
    reference either; this holds once methods are inlined.)"""
    from overbar.transpiler.pipeline import reads_methods

    assert reads_methods(space["made_inside"], ())
    assert reads_methods(space["module_level"], ())
    assert not reads_methods(space["plain"], ())


def test_a_librarys_callable_object_is_not_taken_for_the_users_class():
    """SciPy's interp1d defines __call__ in Python, but it is not the user's code: it stays a
    function passed (refused where it has no rule), not a method overbar reads."""
    from scipy.interpolate import interp1d

    from overbar.runtime.helpers import is_object_of_attributes
    from overbar.runtime.shapes import argument_shape

    table = interp1d(np.arange(3.0), np.arange(3.0) ** 2)
    assert argument_shape(table) is None and not is_object_of_attributes(table)
    cell = define(CELLS, name="Cell")(W, U, B)
    assert argument_shape(cell) is not None and is_object_of_attributes(cell)
