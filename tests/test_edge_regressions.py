"""Wrong gradients (and crashes) found at the edges of the rule table and at lengths the
benchmarks do not use (session 10: ``tests/rule_edges.py``, ``tests/other_suites.py``, the
benchmark variants at lengths 0 to 5), each kept with its cause.

Every function is checked three ways: the adjoint specialised on the arguments' shapes, the
general adjoint, and the literal one (every optimisation off), each against central
differences (``check_grad``) and against each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import overbar
from overbar.errors import InternalError
from overbar.runtime.helpers import unbroadcast
from tests.support import define

rng = np.random.default_rng(10)


def _every_adjoint(f, args, wrt):
    """The three adjoints' gradients, after check_grad of the specialised one; they agree."""
    overbar.check_grad(f, args, wrt=wrt)
    gradient = overbar.grad(f, wrt=wrt)
    specialised = gradient(*args)
    general = gradient.stages.emitted.function(*args)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    if not isinstance(wrt, tuple):
        specialised, general, literal = (specialised,), (general,), (literal,)
    elif len(wrt) == 1:  # the general adjoint returns one gradient bare
        general = (general,)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    for index, one, two, three in zip(positions, specialised, general, literal, strict=True):
        for other in (two, three):
            assert np.shape(other) == np.shape(one) == np.shape(args[index])
            np.testing.assert_allclose(other, one, rtol=1e-10, atol=1e-12)
    return specialised


# --- np.nanstd of one number per result --------------------------------------------------------
# A slice of one number has std ≡ 0: its derivative is 0. The rule divided by y = 0 and gave
# nan (np.std had the fix, np.nanstd not).

NANSTD = {
    "a float": ("np.nanstd(a)", 0.7),
    "one element": ("np.nanstd(a)", np.array([0.7])),
    "one number in a column": (
        "np.sum(np.nanstd(a, axis=0) * np.array([1.0, 2.0, 3.0]))",
        np.array([[0.3, np.nan, 1.0], [0.5, 2.0, np.nan]]),
    ),
    "one number in a row, keepdims": (
        "np.sum(np.nanstd(a, axis=1, keepdims=True) * np.array([[1.0], [2.0]]))",
        np.array([[0.3, np.nan, np.nan], [0.5, 2.0, 1.0]]),
    ),
}


@pytest.mark.parametrize("name", list(NANSTD))
def test_nanstd_of_one_number_has_derivative_zero(name):
    expression, x = NANSTD[name]
    f = define(f"def f(a):\n    return {expression}\n")
    direction = np.where(np.isnan(x), 0.0, rng.standard_normal(np.shape(x)))
    step = 1e-6
    numeric = (f(x + step * direction) - f(x - step * direction)) / (2 * step)
    gradient = overbar.grad(f)(x)
    general = overbar.grad(f).stages.emitted.function(x)
    tangent = overbar.jvp(f, (x,), (direction if np.ndim(x) else float(direction),))[1]
    for found in (gradient, general):
        assert np.all(np.isfinite(found))
        assert float(np.sum(found * direction)) == pytest.approx(numeric, abs=1e-7)
    assert float(tangent) == pytest.approx(numeric, abs=1e-7)


# --- an object's constructor arguments when no method of it runs ------------------------------
# cell = Cell(W, U, b) then `for x in xs: h = cell(h, x)`: with no trips, the object's adjoint
# stays the runtime zero 0.0 and so did W̄ = cell̄["W"]: the gradient of W was the float 0.0,
# not zeros of W's shape (the entries of an object's adjoint were not marked as maybe zero).

CELL = """
class Cell:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x + self.b)


def f(W, b, xs, h0):
    cell = Cell(W, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h ** 2)
"""


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_an_objects_arguments_get_gradients_of_their_shapes_with_no_trips(steps):
    f = define(CELL)
    args = [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=(steps, 2, 3))]
    args.append(rng.normal(size=(2, 3)))
    W_bar, b_bar = _every_adjoint(f, args, (0, 1))
    if steps == 0:
        assert np.array_equal(W_bar, np.zeros((3, 3))) and np.array_equal(b_bar, np.zeros(3))


def test_the_benchmarks_rnn_written_with_a_class_at_zero_steps():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import variants_functions

    rnn = next(f for f in variants_functions.FUNCTIONS if f.name == "rnn")
    variant = next(v for v in rnn.variants if v.name == "rnn_class")
    inputs = rnn.inputs(np.random.default_rng(0), length=0, small=True)
    gradients = overbar.grad(variant.forward, wrt=rnn.wrt)(*inputs)
    for gradient, expected in zip(gradients, rnn.by_hand(*inputs), strict=True):
        assert np.shape(gradient) == np.shape(expected)
        assert np.array_equal(gradient, expected)


# --- a broadcast moved into a negation, taken for one dropped -----------------------------------
# losses_bar = broadcast_like(a, losses); tmp_bar = -losses_bar: the peephole pass binds a
# broadcast every reader drops as a plain temporary (`_broadcasts_left_to_readers`). The reader
# -broadcast_like(a, t) is rewritten to broadcast_like(-a, t), a different call, which the check
# read as "dropped": the reader got the number a, and the general adjoint, where no operand's
# shape is known to cover t's, then crashed in unbroadcast (or had a number for an array).

LOSS = """
def f(w, X, y):
    z = X.dot(w)
    losses = -(y * np.log(z) + (1.0 - y) * np.log(z + 1.0))
    return np.sum(losses) / X.shape[0]
"""


def test_a_broadcast_moved_into_a_negation_is_kept():
    f = define(LOSS)
    X = np.abs(rng.normal(size=(5, 2))) + 0.1
    args = [np.array([0.3, 0.4]), X, rng.uniform(size=5)]
    _every_adjoint(f, args, 0)
    general = overbar.grad(f).stages.emitted.source
    assert "broadcast_like" in general  # no operand there has a shape known to cover it


def test_a_broadcast_dropped_where_an_operand_covers_it():
    """The rewrite still fires where its side condition holds: the shapes are known (the
    adjoint specialised on the arguments), and another operand covers the broadcast."""
    f = define(LOSS)
    X = np.abs(rng.normal(size=(5, 2))) + 0.1
    args = [np.array([0.3, 0.4]), X, rng.uniform(size=5)]
    specialised = overbar.grad(f).source_for(*args)
    assert "broadcast_like" not in specialised


def test_the_benchmarks_logistic_regression_with_a_helper_in_general():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import variants_functions

    logreg = next(f for f in variants_functions.FUNCTIONS if f.name == "logreg")
    variant = next(v for v in logreg.variants if v.name == "logreg_helper")
    inputs = logreg.inputs(np.random.default_rng(0), small=True)
    gradient = overbar.grad(variant.forward, wrt=logreg.wrt)
    general = gradient.stages.emitted.function(*inputs)
    for one, other in zip(general, logreg.by_hand(*inputs), strict=True):
        np.testing.assert_allclose(one, other, rtol=1e-10)


# --- scipy.special.logsumexp with weights b larger than a -------------------------------------
# SciPy broadcasts a and b together; the rule took y over a's shape, so b̄ had a's shape: (4, 1)
# for b of shape (4, 3), silently (the gradient of b had the wrong shape and values).

WEIGHTED = [
    ("special.logsumexp(a, b=b)", (4, 1), (4, 3)),
    ("special.logsumexp(a, axis=0, b=b)", (1, 3), (4, 3)),
    ("special.logsumexp(a, axis=1, b=b)", (4, 1), (4, 3)),
    ("special.logsumexp(a, b=b)", (), (4,)),
    ("special.logsumexp(a, axis=-1, b=b, keepdims=True)", (3,), (2, 3)),
    ("special.logsumexp(a, axis=0, b=b)", (3,), (2, 3)),
    ("special.logsumexp(a, axis=0, b=b)", (2, 3), (3,)),  # a the larger, as before
]


@pytest.mark.parametrize(("expression", "a_shape", "b_shape"), WEIGHTED)
def test_logsumexp_with_weights_larger_than_its_values(expression, a_shape, b_shape):
    from scipy import special

    a = rng.uniform(-1.0, 1.0, size=a_shape)
    b = rng.uniform(0.5, 2.0, size=b_shape)
    a = float(a) if a_shape == () else a
    u = rng.standard_normal(np.shape(eval(expression, {"special": special, "a": a, "b": b})))
    f = define(f"def f(a, b, u):\n    return np.sum({expression} * u)\n")
    _every_adjoint(f, [a, b, u], (0, 1))
    tangents = (rng.standard_normal(np.shape(a)), rng.standard_normal(b_shape))
    tangents = (float(tangents[0]) if a_shape == () else tangents[0], tangents[1])
    _, derivative = overbar.jvp(f, (a, b, u), tangents, wrt=(0, 1))
    step = 1e-6
    moved = [f(a + s * tangents[0], b + s * tangents[1], u) for s in (step, -step)]
    assert float(derivative) == pytest.approx((moved[0] - moved[1]) / (2 * step), rel=1e-6)


def test_an_adjoint_too_small_for_its_operand_is_raised_not_returned():
    """What let the logsumexp rule's mistake through silently: unbroadcast returned a bar
    smaller than its operand as it was. It is now an InternalError (a compiler bug)."""
    with pytest.raises(InternalError, match="cannot be summed"):
        unbroadcast(np.ones((4, 1)), np.ones((4, 3)))
    with pytest.raises(InternalError, match="cannot be summed"):
        unbroadcast(np.float64(2.0), np.ones(4))
    np.testing.assert_array_equal(unbroadcast(np.ones((2, 4, 3)), np.ones((4, 1))), 6.0)


# --- 0-d and empty inputs that crashed the adjoint ---------------------------------------------

CRASHED = {
    # NumPy takes a 0-d array along axis 0 as one element (its cumprod has shape (1,))
    "cumprod of a float": ("np.sum(np.cumprod(a, axis=0) * 2.0)", [0.7]),
    "cumprod of a 0-d": ("np.sum(np.cumprod(a, axis=0) * 2.0)", [np.array(0.7)]),
    # a ufunc's reduce over axis 0 of a 0-d array is the identity (no axis to insert back)
    "add.reduce of a 0-d": ("np.add.reduce(a) * 3.0", [np.array(0.7)]),
    "maximum.reduce of a 0-d": ("np.maximum.reduce(a) ** 2", [np.array(0.7)]),
    "multiply.reduce of a float": ("np.multiply.reduce(a) * 3.0", [0.7]),
    # the product of no elements is 1: its adjoint is empty
    "prod of an empty vector": ("np.prod(a) + np.sum(b ** 2)", [np.zeros(0), np.ones(2)]),
    "prod of empty columns": ("np.sum(np.prod(a, axis=0) * b)", [np.zeros((0, 2)), np.ones(2)]),
}


@pytest.mark.parametrize("name", list(CRASHED))
def test_edges_that_crashed_the_adjoint(name):
    expression, args = CRASHED[name]
    parameters = ", ".join("ab"[: len(args)])
    f = define(f"def f({parameters}):\n    return {expression}\n")
    wrt = tuple(range(len(args)))
    _every_adjoint(f, args, wrt)


def test_the_tangent_of_the_norm_of_nothing_is_zero():
    """‖x‖ of an empty x is the constant 0: its tangent Σ x ẋ / y was 0 / 0, nan."""
    whole = define("def f(a):\n    return np.linalg.norm(a)\n")
    rows = define("def f(a):\n    return np.sum(np.linalg.norm(a, axis=1))\n")
    for f, x in ((whole, np.zeros(0)), (whole, np.zeros((3, 0))), (rows, np.zeros((3, 0)))):
        _, derivative = overbar.jvp(f, (x,), (np.ones_like(x),))
        assert derivative == 0.0


# --- SciPy's solvers given a batch of right-hand sides --------------------------------------------
# SciPy (1.15 on) reads the leading axes of a 3-d b as a batch of systems; the rules of
# solve_triangular and solve_banded, written for one system, reshaped b̄ to (n, -1) columns and
# mixed the batch into them: ā was silently wrong (8.93 against -0.71 along one direction).
# Refused now, as the batch is not differentiated; one system still is.

BATCHED = {
    "solve_triangular, lower": "linalg.solve_triangular(a, b, lower=True)",
    "solve_triangular, unit diagonal": "linalg.solve_triangular(a, b, unit_diagonal=True)",
    "solve_banded": "linalg.solve_banded((1, 1), a[:3] + np.array([[0.0], [3.0], [0.0]]), b)",
}


@pytest.mark.parametrize("name", list(BATCHED))
def test_a_batch_of_systems_is_refused_and_one_system_is_right(name):
    from overbar.errors import NoDerivativeError

    f = define(f"def f(a, b):\n    return np.sum({BATCHED[name]} ** 2)\n")
    a = np.eye(3) * 2.0 + 0.3 * rng.standard_normal((3, 3))
    with pytest.raises(NoDerivativeError, match="a batch of systems"):
        overbar.grad(f, wrt=(0, 1))(a, rng.standard_normal((2, 3, 2)))
    _every_adjoint(f, [a, rng.standard_normal((3, 2))], (0, 1))
    _every_adjoint(f, [a, rng.standard_normal(3)], (0, 1))
