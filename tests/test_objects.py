"""Objects, closures and partials called in loops, written out as the same code inline
(``transpiler/objects.py``, ``partials.with_local_partials_called_through``): an object made
in the function (of a class that stores its arguments, computes attributes, or is a
dataclass) or passed in, its ``__call__`` and its methods (methods calling methods of
``self`` included); a ``def`` in the function, a lambda bound to a name, a
``functools.partial`` bound to a name. Each form: right at several shapes (against finite
differences and against the same code written inline), and its adjoint has no pullback per
step. Each side condition that fails: the form is left as it was (right through the methods'
pullbacks) or refused, never differentiated wrong.

Every gradient here is also checked by the guard (tests/conftest.py) against the literal
adjoint, which keeps the pullbacks of methods of classes that store their arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError, UnsupportedSyntaxError
from overbar.transpiler.constructors import initialiser
from tests.support import define

SOURCE = """
import dataclasses
import functools
from dataclasses import dataclass
from functools import partial


class Cell:
    def __init__(self, W, U, b):
        self.W = W
        self.U, self.b = U, b

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)

    def step(self, h, x):
        return self(h, x)

    def run(self, xs, h):
        for x in xs:
            h = self.step(h, x)
        return h


class SineCell(Cell):
    def __call__(self, h, x):
        return np.sin(h @ self.W) * self.b + x @ self.U


class Scaled:
    \"\"\"Attributes computed in __init__, one from another.\"\"\"

    def __init__(self, W, U, b, gain=1.0):
        self.W = W
        self.scale = gain / np.sqrt(W.shape[0])
        self.U = U * self.scale
        self.b = b

    def __call__(self, h, x):
        return np.tanh(self.scale * (h @ self.W) + x @ self.U + self.b)


@dataclass
class DataCell:
    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    leak: float = 0.0

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b) + self.leak * h


@dataclass(frozen=True)
class FrozenCell:
    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)


class Counter:
    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b
        self.calls = 0

    def __call__(self, h, x):
        self.calls = self.calls + 1
        return np.tanh(h @ self.W + x @ self.U + self.b)


class Remembering:
    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b

    def __call__(self, h, x):
        self.last = h
        return np.tanh(h @ self.W + x @ self.U + self.b)


class Slotted:
    __slots__ = ("W", "U", "b", "scale")

    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b
        self.scale = 2.0

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b) * self.scale


class Sometimes:
    def __init__(self, W, U, b):
        self.W, self.U = W, U
        if np.sum(b) > 0:
            self.b = b
        else:
            self.b = -b

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)


@dataclass
class Watched:
    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value * 2.0)

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)


@dataclass
class Factory:
    W: np.ndarray
    U: np.ndarray
    b: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1))

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)


class Derived(Cell):
    def __init__(self, W, U, b):
        super().__init__(W, U, b)
        self.scale = 2.0


class Gated:
    def __init__(self, W):
        self.W = W

    def gate(self, a):
        return 1.0 / (1.0 + np.exp(-a))

    def __call__(self, x):
        return self.gate(self.W @ x)


def gated(W, x):
    layer = Gated(W)
    return np.sum(layer(x) ** 2)


class Unread:
    def __init__(self, W, V):
        self.W, self.V = W, V

    def __call__(self, x):
        return self.W @ x


def unread(W, V, x):
    layer = Unread(W, V)
    return np.sum(np.sin(layer(x)))


class Shadow:
    def __init__(self, W, act):
        self.W = W
        self.act = act

    def act(self, z):
        return z

    def __call__(self, x):
        return self.act(self.W @ x)


def shadowed(W, x):
    layer = Shadow(W, np.tanh)
    return np.sum(layer(x))


def shadowed_passed(layer, x):
    return np.sum(layer(x))


class Model:
    \"\"\"An object that makes an object: its cell, called in a method with a loop.\"\"\"

    def __init__(self, W, U, b):
        self.cell = Cell(W, U, b)
        self.scaled = Scaled(W, U, b)

    def loss(self, xs, h):
        for x in xs:
            h = self.cell(h, x)
        return np.sum(h ** 2)

    def handed_on(self, xs, h):
        return np.sum(run_cell(self.cell, xs, h) ** 2)


def nested(W, U, b, xs, h0):
    model = Model(W, U, b)
    return model.loss(xs, h0)


def nested_handed_on(W, U, b, xs, h0):
    model = Model(W, U, b)
    return model.handed_on(xs, h0)


class Static:
    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b

    @staticmethod
    def act(z):
        return np.tanh(z)

    def __call__(self, h, x, gain=1.0):
        return self.act(gain * (h @ self.W) + x @ self.U + self.b)


def static(W, U, b, xs, h0):
    cell = Static(W, U, b)
    h = h0
    for x in xs:
        h = cell(h=h, x=x)
    return np.sum(h ** 2)


def model_passed(model, xs, h0):
    return model.loss(xs, h0)


def rnn_step(h, x, W, U, b):
    return np.tanh(h @ W + x @ U + b)


def weighted_step(W, U, b, h, x):
    return np.tanh(h @ W + x @ U + b)


def plain(W, U, b, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(h @ W + x @ U + b)
    return np.sum(h ** 2)


def made_called(W, U, b, xs, h0):
    cell = Cell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def made_method(W, U, b, xs, h0):
    cell = Cell(U=U, b=b, W=W)
    h = h0
    for t in range(len(xs)):
        h = cell.step(h, xs[t])
    return np.sum(h ** 2)


def made_running(W, U, b, xs, h0):
    return np.sum(Cell(W, U, b).run(xs, h0) ** 2)


def made_dataclass(W, U, b, xs, h0):
    cell = DataCell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def made_frozen(W, U, b, xs, h0):
    cell = FrozenCell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def made_closure(W, U, b, xs, h0):
    def step(h, x):
        return np.tanh(h @ W + x @ U + b)

    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h ** 2)


def made_lambda(W, U, b, xs, h0):
    step = lambda h, x: np.tanh(h @ W + x @ U + b)  # noqa: E731
    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h ** 2)


def made_partial(W, U, b, xs, h0):
    step = functools.partial(rnn_step, W=W, U=U, b=b)
    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h ** 2)


def made_partial_positional(W, U, b, xs, h0):
    step = partial(weighted_step, W, U, b)
    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h ** 2)


def with_computed_attributes(W, U, b, xs, h0):
    cell = Scaled(W, U, b, gain=1.5)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def computed_inline(W, U, b, xs, h0):
    scale = 1.5 / np.sqrt(W.shape[0])
    h = h0
    for x in xs:
        h = np.tanh(scale * (h @ W) + x @ (U * scale) + b)
    return np.sum(h ** 2)


def with_attributes_read(W, U, b, xs, h0):
    cell = Scaled(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2) + 0.1 * np.sum(cell.U ** 2) + cell.scale


def made_in_the_loop(W, U, b, xs, h0):
    h = h0
    for x in xs:
        cell = Scaled(W, U, b * np.sum(x))
        h = cell(h, x)
    return np.sum(h ** 2)


def subclass_made(W, U, b, xs, h0):
    cell = SineCell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def weights_rebound(W, U, b, xs, h0):
    cell = Cell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
        W = W * 0.5
    return np.sum(h ** 2) + np.sum(W)


def weights_rebound_inline(W, U, b, xs, h0):
    W0 = W
    h = h0
    for x in xs:
        h = np.tanh(h @ W0 + x @ U + b)
        W = W * 0.5
    return np.sum(h ** 2) + np.sum(W)


def partial_of_rebound(W, U, b, xs, h0):
    step = partial(rnn_step, W=W * 2.0, U=U, b=b)
    h = h0
    for x in xs:
        h = step(h, x)
        U = U * 0.5
    return np.sum(h ** 2) + np.sum(U)


def partial_of_rebound_inline(W, U, b, xs, h0):
    W2, U0 = W * 2.0, U
    h = h0
    for x in xs:
        h = np.tanh(h @ W2 + x @ U0 + b)
        U = U * 0.5
    return np.sum(h ** 2) + np.sum(U)


def run_cell(cell, xs, h):
    for x in xs:
        h = cell(h, x)
    return h


def stored_escapes(W, U, b, xs, h0):
    cell = Cell(W, U, b)
    return np.sum(run_cell(cell, xs, h0) ** 2)


def computed_escapes(W, U, b, xs, h0):
    cell = Scaled(W, U, b)
    return np.sum(run_cell(cell, xs, h0) ** 2)


def counting(W, U, b, xs, h0):
    cell = Counter(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def remembering(W, U, b, xs, h0):
    cell = Remembering(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def slotted(W, U, b, xs, h0):
    cell = Slotted(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def sometimes(W, U, b, xs, h0):
    cell = Sometimes(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def watched(W, U, b, xs, h0):
    cell = Watched(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def factory(W, U, b, xs, h0):
    cell = Factory(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def derived(W, U, b, xs, h0):
    cell = Derived(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)


def partial_passed_on(W, U, b, xs, h0):
    step = partial(rnn_step, W=W, U=U, b=b)
    again = step
    h = h0
    for x in xs:
        h = again(h, x)
    return np.sum(h ** 2)


def passed_in(cell, xs, h0):
    h = h0
    for x in xs:
        h = cell.step(h, x)
    return np.sum(h ** 2) + 0.1 * np.sum(cell.b ** 2)


def passed_in_inline(W, U, b, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(h @ W + x @ U + b)
    return np.sum(h ** 2) + 0.1 * np.sum(b ** 2)
"""

SHAPES = [  # (batch or None for one state, features, hidden, steps)
    (None, 2, 3, 4),
    (3, 4, 5, 6),
    (1, 3, 1, 2),
]


@pytest.fixture(scope="module")
def space():
    return define(SOURCE, name="plain").__globals__


def inputs(shape, seed=0):
    batch, features, hidden, steps = shape
    rng = np.random.default_rng(seed)
    states = (hidden,) if batch is None else (batch, hidden)
    return [
        rng.normal(scale=0.5, size=(hidden, hidden)),
        rng.normal(scale=0.5, size=(features, hidden)),
        rng.normal(scale=0.3, size=hidden),
        rng.normal(size=(steps, *states[:-1], features)),
        rng.normal(scale=0.5, size=states),
    ]


def assert_same_gradients(got, wanted):
    for a, b in zip(got, wanted, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


WRITTEN_OUT = [
    ("made_called", "plain"),
    ("static", "plain"),
    ("nested", "plain"),
    ("made_method", "plain"),
    ("made_running", "plain"),
    ("made_dataclass", "plain"),
    ("made_frozen", "plain"),
    ("made_closure", "plain"),
    ("made_lambda", "plain"),
    ("made_partial", "plain"),
    ("made_partial_positional", "plain"),
    ("with_computed_attributes", "computed_inline"),
    ("weights_rebound", "weights_rebound_inline"),
    ("partial_of_rebound", "partial_of_rebound_inline"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("name", "inline"), WRITTEN_OUT)
def test_each_form_is_right_and_has_no_pullback_per_step(space, name, inline, shape):
    args = inputs(shape)
    wrt = (0, 1, 2, 4)
    gradient = overbar.grad(space[name], wrt=wrt)
    assert_same_gradients(gradient(*args), overbar.grad(space[inline], wrt=wrt)(*args))
    assert overbar.check_grad(space[name], args, wrt=wrt) < 1e-6
    source = gradient.source_for(*args)
    assert "pullback" not in source and "same_method" not in source, source
    if shape[0] is not None and shape[2] > 1:  # the weights' adjoints: one product, after
        assert "sum_of_products" in source or "sum_of_outers" in source, source


@pytest.mark.parametrize("shape", SHAPES)
def test_an_object_made_in_the_loop_is_taken_apart_at_each_step(space, shape):
    args = inputs(shape)
    assert overbar.check_grad(space["made_in_the_loop"], args, wrt=(0, 1, 2, 3, 4)) < 1e-6
    source = overbar.grad(space["made_in_the_loop"], wrt=(0, 1, 2)).source_for(*args)
    assert "pullback" not in source and "cell_scale" in source, source


def test_attributes_read_in_the_function_are_the_locals(space):
    args = inputs(SHAPES[1])
    gradient = overbar.grad(space["with_attributes_read"], wrt=(0, 1, 2))
    source = gradient.source_for(*args)
    assert "cell_U = U * cell_scale" in source and "pullback" not in source, source
    assert overbar.check_grad(space["with_attributes_read"], args, wrt=(0, 1, 2, 4)) < 1e-6


def test_a_subclass_made_in_the_function_is_its_own_call(space):
    args = inputs(SHAPES[1])
    source = overbar.grad(space["subclass_made"], wrt=(0, 1, 2)).source_for(*args)
    assert "np.sin" in source and "np.tanh" not in source, source
    assert overbar.check_grad(space["subclass_made"], args, wrt=(0, 1, 2, 4)) < 1e-6


def test_an_attribute_stored_from_a_name_bound_again_keeps_its_own_value(space):
    """``cell.W`` is the W the object was made with: the loop binds W again, so the
    attribute's local is not replaced by W (the side condition of the aliases)."""
    args = inputs(SHAPES[1])
    source = overbar.grad(space["weights_rebound"], wrt=(0, 1, 2)).source_for(*args)
    assert "cell_W = W" in source, source
    source = overbar.grad(space["partial_of_rebound"], wrt=(0, 1, 2)).source_for(*args)
    assert "step_U = U" in source, source


@pytest.mark.parametrize("shape", SHAPES)
def test_an_object_passed_in_is_written_out_and_its_gradient_is_a_dict(space, shape):
    args = inputs(shape)
    cell = space["Cell"](*args[:3])
    gradient = overbar.grad(space["passed_in"], wrt=("cell", "h0"))
    cell_bar, h0_bar = gradient(cell, args[3], args[4])
    expected = overbar.grad(space["passed_in_inline"], wrt=(0, 1, 2, 4))(*args)
    assert set(cell_bar) == {"W", "U", "b"}
    assert_same_gradients([cell_bar["W"], cell_bar["U"], cell_bar["b"], h0_bar], expected)
    source = gradient.source_for(cell, args[3], args[4])
    assert "pullback" not in source and "cell_W = cell.W" in source, source
    assert overbar.check_grad(space["passed_in"], [cell, args[3], args[4]], wrt=(0, 2)) < 1e-6


def test_the_literal_adjoint_takes_objects_apart_too(space):
    """Taking an object apart is not an optimisation: the literal adjoint does it too (a
    class whose __init__ computes, a static method, an object an object holds have no
    pullback to stand for them)."""
    args = inputs(SHAPES[1])
    for name, inline in [
        ("made_called", "plain"),
        ("with_computed_attributes", "computed_inline"),
    ]:
        literal = overbar.grad(space[name], wrt=(0, 1, 2), optimise=False)
        assert "pullback" not in literal.source_for(*args)
        expected = overbar.grad(space[inline], wrt=(0, 1, 2))(*args)
        assert_same_gradients(literal(*args), expected)


def test_an_object_that_escapes_keeps_the_pullbacks_or_is_refused(space):
    """Passed to a helper, an object of a class that stores its arguments is differentiated
    through the helper's pullback; one whose __init__ computes attributes cannot be taken
    apart: refused at the line that passes it."""
    args = inputs(SHAPES[1])
    assert_same_gradients(
        overbar.grad(space["stored_escapes"], wrt=(0, 1, 2))(*args),
        overbar.grad(space["plain"], wrt=(0, 1, 2))(*args),
    )
    with pytest.raises(UnsupportedSyntaxError, match="takes the object apart") as refusal:
        overbar.grad(space["computed_escapes"])(*args)
    assert "run_cell(cell, xs, h0)" in str(refusal.value)


@pytest.mark.parametrize("name", ["counting", "remembering"])
def test_a_method_that_stores_into_self_in_the_loop_is_refused(space, name):
    """``self.calls = self.calls + 1`` (a class whose __init__ computes) and ``self.last = h``
    (one that stores its arguments): the method is not written out, and its own refusal
    says why."""
    with pytest.raises(UnsupportedSyntaxError, match="an attribute of the argument self"):
        overbar.grad(space[name])(*inputs(SHAPES[1]))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("slotted", "Slotted"),
        ("sometimes", "Sometimes"),
        ("derived", "Derived"),
        ("watched", "Watched"),
        ("factory", "Factory"),
    ],
)
def test_an_init_that_cannot_be_written_out_is_refused(space, name, kind):
    """Slots (data descriptors), an attribute stored in a branch, ``super().__init__``, a
    dataclass whose stores run its own ``__setattr__``, or whose field has a factory: the
    side conditions of ``constructors.initialiser``; the call is refused as before."""
    assert initialiser(space[kind]) is None
    with pytest.raises(OverbarError):
        overbar.grad(space[name])(*inputs(SHAPES[1]))


def test_a_partial_bound_to_a_name_used_otherwise_is_still_refused(space):
    with pytest.raises(UnsupportedSyntaxError, match="a call of the local variable again"):
        overbar.grad(space["partial_passed_on"])(*inputs(SHAPES[1]))


def test_initialiser_writes_init_out_without_self(space):
    made = initialiser(space["Scaled"])
    assert made.attributes == ("W", "scale", "U", "b")
    assert dict(made.renamed) == {"W": "W_2", "U": "U_2", "b": "b_2"}
    frozen = initialiser(space["FrozenCell"])
    assert frozen is not None and frozen.attributes == ("W", "U", "b")
    assert initialiser(np.ndarray) is None and initialiser(dict) is None


@pytest.mark.parametrize("optimise", [True, False])
def test_a_method_that_reads_no_attribute_sends_self_no_gradient(space, optimise):
    """``gate(self, a)`` reads nothing of ``self``: its pullback (the literal adjoint keeps
    it) gives ``self`` the gradient of an object no attribute of which is reached, ``{}``
    (it made zeros "of the object's dtype", a TypeError, before)."""
    rng = np.random.default_rng(3)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    gradient = overbar.grad(space["gated"], optimise=optimise)(W, x)
    s = 1.0 / (1.0 + np.exp(-(W @ x)))
    np.testing.assert_allclose(gradient, np.outer(2 * s * s * (1 - s), x), rtol=1e-10)


@pytest.mark.parametrize("optimise", [True, False])
def test_an_attribute_no_method_reads_gets_zeros_shaped_like_its_argument(space, optimise):
    """``self.V`` stored and never read: V's gradient is zeros of V's shape, also through the
    literal adjoint's ``entry_bar(layer_bar, "V")`` (the runtime zero there, returned as a
    bare 0.0 before: found by ``FUZZER_OBJECTS=1``)."""
    rng = np.random.default_rng(4)
    W, V, x = rng.normal(size=(3, 4)), rng.normal(size=(2, 1)), rng.normal(size=4)
    W_bar, V_bar = overbar.grad(space["unread"], wrt=(0, 1), optimise=optimise)(W, V, x)
    np.testing.assert_allclose(W_bar, np.outer(np.cos(W @ x), x), rtol=1e-12)
    assert V_bar.shape == V.shape and not V_bar.any()


@pytest.mark.parametrize("optimise", [True, False])
def test_a_method_hidden_by_an_attribute_of_the_object_is_refused(space, optimise):
    """``self.act = np.tanh`` hides the method ``act``: ``self.act(z)`` calls np.tanh. The
    object is not taken apart (a method's name held as an attribute), and the pullback of
    ``__call__``, derived for the method, checks when it runs which function ``self.act`` is:
    refused (it was differentiated as the method, the identity, before: a wrong gradient)."""
    rng = np.random.default_rng(5)
    W, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    with pytest.raises(OverbarError, match="hides the method"):
        overbar.grad(space["shadowed"], optimise=optimise)(W, x)
    layer = space["Shadow"](W, np.tanh)
    with pytest.raises(OverbarError, match="hides the method"):
        overbar.grad(space["shadowed_passed"], optimise=optimise)(layer, x)


def test_an_init_reading_a_name_the_function_binds_is_not_written_out():
    """``Far.__init__`` reads its module's SCALE; the function binds a SCALE of its own:
    written out there, the line would read the function's. Not taken apart (a class whose
    __init__ computes: refused), never differentiated with the wrong SCALE."""
    far = define(
        """
        SCALE = 2.0


        class Far:
            def __init__(self, W):
                self.W = W * SCALE

            def __call__(self, x):
                return np.tanh(self.W @ x)
        """,
        name="Far",
    )
    f = define(
        """
        def f(W, x):
            SCALE = 5.0
            layer = Far(W)
            return np.sum(layer(x)) * SCALE
        """,
        namespace={"Far": far},
    )
    rng = np.random.default_rng(6)
    W, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    with pytest.raises(UnsupportedSyntaxError, match="takes the object apart"):
        overbar.grad(f)(W, x)
    g = define(
        """
        def g(W, x):
            layer = Far(W)
            return np.sum(layer(x))
        """,
        name="g",
        namespace={"Far": far},
    )
    with pytest.raises(UnsupportedSyntaxError, match="takes the object apart"):
        overbar.grad(g)(W, x)  # SCALE is not g's global: the same check


def test_an_object_an_object_makes_and_hands_on_keeps_its_pullbacks(space):
    """``run_cell(self.cell, xs, h)``: the model is taken apart, its cell (made in its
    __init__) is handed to a helper, so the cell keeps the pullbacks of a class that stores
    its arguments; the model's other object (a Scaled, never used) is taken apart."""
    args = inputs(SHAPES[1])
    assert_same_gradients(
        overbar.grad(space["nested_handed_on"], wrt=(0, 1, 2, 4))(*args),
        overbar.grad(space["plain"], wrt=(0, 1, 2, 4))(*args),
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_a_model_passed_in_holding_a_cell_is_written_out(space, shape):
    """``model.loss(xs, h0)`` of a model passed in whose cell (an object it holds) is called
    in the loop: the cell's attributes read once where the function starts, the loop inline;
    the gradient is the dict of dicts ``{"cell": {"W": ..., "U": ..., "b": ...}}``."""
    args = inputs(shape)
    model = space["Model"](*args[:3])
    gradient = overbar.grad(space["model_passed"], wrt=("model", "h0"))
    model_bar, h0_bar = gradient(model, args[3], args[4])
    cell_bar = model_bar["cell"]
    expected = overbar.grad(space["plain"], wrt=(0, 1, 2, 4))(*args)
    assert_same_gradients([cell_bar["W"], cell_bar["U"], cell_bar["b"], h0_bar], expected)
    source = gradient.source_for(model, args[3], args[4])
    assert "model_cell_W = model_cell.W" in source and "pullback" not in source, source
