"""The rules of ``rules_arrays.py`` (stacking, splitting, rearranging), against central
finite differences, in the manner of ``test_rules.py``: each sample differentiates
``sum(expression * u)`` for a fixed random cotangent ``u`` with respect to every input, and
compares the specialised adjoint with the general one and each gradient with the directional
difference. Then the conventions (ties of partition), and the calls the rules refuse.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import overbar
from overbar.errors import NoDerivativeError, OverbarError
from overbar.primitives import Index, Method
from tests.support import check_rule_sample, define, rules_without_samples

SLIDING = np.lib.stride_tricks.sliding_window_view
from tests.test_forward import check_jvp
from tests.test_rules import S, any_


def distinct(*shape):
    """Values far apart from each other (no ties for partition): a shuffled grid with noise."""
    return ("distinct", shape)


R_, C_ = Index(np.r_, "np.r_"), Index(np.c_, "np.c_")

SAMPLES = [
    # stacking
    S(np.hstack, "np.hstack([a, b])", a=any_(2), b=any_(3)),
    S(np.hstack, "np.hstack((a, b, a))", a=any_(2, 2), b=any_(2, 3)),
    S(np.hstack, "np.hstack([a, b])", a=any_(), b=any_(3)),
    S(np.hstack, "np.hstack([a, 2.0 * a])", a=any_(2, 1, 3)),
    S(np.vstack, "np.vstack([a, b])", a=any_(3), b=any_(2, 3)),
    S(np.vstack, "np.vstack((a, b))", a=any_(), b=any_(1)),
    S(np.vstack, "np.vstack([a, b, a])", a=any_(2, 2, 2), b=any_(1, 2, 2)),
    S(np.row_stack, "np.row_stack([a, b])", a=any_(3), b=any_(3)),
    # index expressions: np.r_ joins along axis 0, np.c_ along the last (vectors as columns)
    S(R_, "np.r_[a, b]", a=any_(2), b=any_(3)),
    S(R_, "np.r_[a, 2.0, b, a]", a=any_(2), b=any_(3)),
    S(R_, "np.r_[a, b]", a=any_(), b=any_(3)),  # a number as a vector of one
    S(R_, "np.r_[a, 0:3, b]", a=any_(2), b=any_(2)),  # a slice: the range it stands for
    S(R_, "np.r_[0.0:1.0:4j, a]", a=any_(3)),  # a complex step: a linspace
    S(R_, "np.r_[a, b]", a=any_(2, 3), b=any_(1, 3)),
    S(R_, "np.r_[a]", a=any_(2, 2)),
    S(R_, "np.r_[a, b] * b[0]", a=any_(3, 2), b=any_(2, 2)),
    S(C_, "np.c_[a, b]", a=any_(3), b=any_(3)),
    S(C_, "np.c_[a, b, a]", a=any_(3, 2), b=any_(3)),
    S(C_, "np.c_[a, b]", a=any_(2, 1), b=any_(2, 3)),
    S(C_, "np.c_[a, b] * b", a=any_(2, 2, 3), b=any_(2, 2, 1)),
    S(np.dstack, "np.dstack([a, b])", a=any_(3), b=any_(3)),
    S(np.dstack, "np.dstack([a, b])", a=any_(2, 3), b=any_(2, 3, 2)),
    S(np.dstack, "np.dstack([a, b])", a=any_(), b=any_()),
    S(np.column_stack, "np.column_stack([a, b])", a=any_(3), b=any_(3, 2)),
    S(np.column_stack, "np.column_stack((a, b))", a=any_(4), b=any_(4)),
    S(np.append, "np.append(a, b)", a=any_(2, 2), b=any_(3)),
    S(np.append, "np.append(a, b)", a=any_(), b=any_(2, 1)),
    S(np.append, "np.append(a, b, axis=0)", a=any_(2, 3), b=any_(1, 3)),
    S(np.append, "np.append(a, b, axis=-1)", a=any_(2, 3), b=any_(2, 2)),
    S(np.append, "np.append(a, [1.0, 2.0])", a=any_(3)),
    S(np.atleast_1d, "np.atleast_1d(a)", a=any_()),
    S(np.atleast_1d, "np.atleast_1d(a)", a=any_(2, 3)),
    S(np.atleast_2d, "np.atleast_2d(a)", a=any_(3)),
    S(np.atleast_2d, "np.atleast_2d(a) * b", a=any_(), b=any_(2, 2)),
    S(np.atleast_3d, "np.atleast_3d(a)", a=any_(3)),
    S(np.atleast_3d, "np.atleast_3d(a)", a=any_(2, 3)),
    S(np.atleast_1d, "np.atleast_1d(a, b)[1] * np.atleast_1d(a, b)[0]", a=any_(), b=any_(3)),
    S(np.atleast_2d, "np.atleast_2d(a, b, a)[2]", a=any_(2), b=any_(3)),
    S(np.broadcast_arrays, "np.broadcast_arrays(a, b)[0]", a=any_(3), b=any_(2, 1)),
    S(np.broadcast_arrays, "np.broadcast_arrays(a, b)[1] * 2.0", a=any_(3), b=any_(2, 1)),
    S(
        np.broadcast_arrays,
        "np.broadcast_arrays(a, b)[0] * np.broadcast_arrays(a, b)[1]",
        a=any_(),
        b=any_(2, 2),
    ),
    # splitting: lists of pieces
    S(np.split, "np.split(a, 3)[1]", a=any_(6)),
    S(np.split, "np.split(a, 2)[0] * np.split(a, 2)[1]", a=any_(4, 3)),
    S(np.split, "np.split(a, [1, 3], axis=1)[2]", a=any_(2, 5)),
    S(np.split, "np.split(a, [3, 1])[2] + 1.0", a=any_(5)),  # pieces overlap
    S(np.split, "np.split(a, [-2])[0]", a=any_(5, 2)),
    S(np.array_split, "np.array_split(a, 3)[0]", a=any_(7)),
    S(np.array_split, "np.array_split(a, 2, axis=-1)[1]", a=any_(2, 3)),
    S(np.hsplit, "np.hsplit(a, 2)[1]", a=any_(2, 4)),
    S(np.hsplit, "np.hsplit(a, [1])[0]", a=any_(3)),
    S(np.vsplit, "np.vsplit(a, 2)[1]", a=any_(4, 2)),
    S(np.dsplit, "np.dsplit(a, [1])[1]", a=any_(2, 2, 3)),
    # reading by index
    S(np.take, "np.take(a, [0, 2, 0])", a=any_(2, 2)),
    S(np.take, "np.take(a, np.array([[1, 0], [1, 1]]), axis=1)", a=any_(2, 3)),
    S(np.take, "np.take(a, 1, axis=0)", a=any_(3, 2)),
    S(np.take, "np.take(a, [5, -1], axis=-1, mode='wrap')", a=any_(2, 3)),
    S(np.take, "np.take(a, [5, -1], mode='clip')", a=any_(4)),
    S(Method("take"), "a.take([1, 1])", a=any_(3)),
    S(np.take_along_axis, "np.take_along_axis(a, np.array([[0, 0], [1, 0]]), 1)", a=any_(2, 3)),
    S(np.take_along_axis, "np.take_along_axis(a, np.array([[2, 0, 0]]), axis=0)", a=any_(3, 3)),
    S(np.take_along_axis, "np.take_along_axis(a, np.array([[1], [0]]), axis=-1)", a=any_(1, 2)),
    S(np.take_along_axis, "np.take_along_axis(a, np.array([2, 2, 0]), axis=None)", a=any_(2, 2)),
    # rearranging
    S(np.tile, "np.tile(a, 2)", a=any_(3)),
    S(np.tile, "np.tile(a, (2, 1, 3))", a=any_(2, 2)),
    S(np.tile, "np.tile(a, (2,))", a=any_(2, 3)),
    S(np.tile, "np.tile(a, (2, 2))", a=any_()),
    S(np.repeat, "np.repeat(a, 2)", a=any_(2, 2)),
    S(np.repeat, "np.repeat(a, [1, 0, 3], axis=0)", a=any_(3, 2)),
    S(np.repeat, "np.repeat(a, 3, axis=-1)", a=any_(2, 2)),
    S(np.repeat, "np.repeat(a, 2)", a=any_()),
    S(Method("repeat"), "a.repeat(2, axis=1)", a=any_(2, 2)),
    S(np.roll, "np.roll(a, 2)", a=any_(5)),
    S(np.roll, "np.roll(a, -1, axis=1)", a=any_(2, 3)),
    S(np.roll, "np.roll(a, (1, 2), axis=(0, 1))", a=any_(2, 3)),
    S(np.roll, "np.roll(a, 4)", a=any_(2, 3)),
    S(np.rollaxis, "np.rollaxis(a, 2)", a=any_(2, 3, 4)),
    S(np.rollaxis, "np.rollaxis(a, 0, 3)", a=any_(2, 3, 4)),
    S(np.rollaxis, "np.rollaxis(a, -1, 1)", a=any_(2, 3, 4)),
    S(np.rot90, "np.rot90(a)", a=any_(2, 3)),
    S(np.rot90, "np.rot90(a, 3)", a=any_(2, 3)),
    S(np.rot90, "np.rot90(a, k=-2, axes=(1, 2))", a=any_(2, 3, 4)),
    S(np.flipud, "np.flipud(a)", a=any_(3)),
    S(np.flipud, "np.flipud(a)", a=any_(3, 2)),
    S(np.fliplr, "np.fliplr(a)", a=any_(3, 2, 2)),
    S(np.pad, "np.pad(a, 1)", a=any_(3)),
    S(np.pad, "np.pad(a, ((1, 0), (0, 2)))", a=any_(2, 2)),
    S(np.pad, "np.pad(a, (2, 1), constant_values=b)", a=any_(2, 3), b=any_()),
    S(np.pad, "np.pad(a, 1, 'constant', constant_values=b)", a=any_(2), b=any_(2)),
    S(np.pad, "np.pad(a, 1, constant_values=b)", a=any_(2, 3), b=any_(2, 2)),
    S(np.pad, "np.pad(a, 1, constant_values=b)", a=any_(2, 3), b=any_(2, 1)),
    S(np.pad, "np.pad(a, [(1, 2)], mode='edge')", a=any_(3)),
    S(np.pad, "np.pad(a, 2, 'edge')", a=any_(2, 2)),
    S(np.pad, "np.pad(a, (2, 3), mode='reflect')", a=any_(3)),
    S(np.pad, "np.pad(a, ((1, 1), (3, 0)), mode='reflect')", a=any_(3, 2)),
    S(np.pad, "np.pad(a, 3, mode='symmetric')", a=any_(2)),
    S(np.pad, "np.pad(a, (1, 4), mode='wrap')", a=any_(3)),
    S(np.diag, "np.diag(a)", a=any_(3)),
    S(np.diag, "np.diag(a, -1)", a=any_(2)),
    S(np.diag, "np.diag(a)", a=any_(3, 3)),
    S(np.diag, "np.diag(a, k=1)", a=any_(2, 4)),
    S(np.diag, "np.diag(a, -2)", a=any_(4, 3)),
    S(np.diagonal, "np.diagonal(a)", a=any_(3, 2)),
    S(np.diagonal, "np.diagonal(a, 1, 1, 2)", a=any_(2, 3, 3)),
    S(np.diagonal, "np.diagonal(a, offset=-1, axis1=2, axis2=0)", a=any_(3, 2, 4)),
    S(Method("diagonal"), "a.diagonal(1)", a=any_(3, 3)),
    S(np.diagflat, "np.diagflat(a)", a=any_(2, 2)),
    S(np.diagflat, "np.diagflat(a, -1)", a=any_(3)),
    S(np.convolve, "np.convolve(a, b)", a=any_(5), b=any_(3)),
    S(np.convolve, "np.convolve(a, b)", a=any_(2), b=any_(6)),
    S(np.convolve, "np.convolve(a, b)", a=any_(3), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, 'full')", a=any_(5), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, 'full')", a=any_(2), b=any_(6)),
    S(np.convolve, "np.convolve(a, b, 'full')", a=any_(3), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, 'same')", a=any_(5), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, 'same')", a=any_(2), b=any_(6)),
    S(np.convolve, "np.convolve(a, b, 'same')", a=any_(3), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, mode='valid')", a=any_(5), b=any_(3)),
    S(np.convolve, "np.convolve(a, b, mode='valid')", a=any_(2), b=any_(6)),
    S(np.convolve, "np.convolve(a, b, mode='valid')", a=any_(3), b=any_(3)),
    S(np.correlate, "np.correlate(a, b)", a=any_(5), b=any_(3)),
    S(np.correlate, "np.correlate(a, b)", a=any_(2), b=any_(6)),
    S(np.correlate, "np.correlate(a, b)", a=any_(3), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, 'full')", a=any_(5), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, 'full')", a=any_(2), b=any_(6)),
    S(np.correlate, "np.correlate(a, b, 'full')", a=any_(3), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, 'same')", a=any_(5), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, 'same')", a=any_(2), b=any_(6)),
    S(np.correlate, "np.correlate(a, b, 'same')", a=any_(3), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, mode='valid')", a=any_(5), b=any_(3)),
    S(np.correlate, "np.correlate(a, b, mode='valid')", a=any_(2), b=any_(6)),
    S(np.correlate, "np.correlate(a, b, mode='valid')", a=any_(3), b=any_(3)),
    S(SLIDING, "np.lib.stride_tricks.sliding_window_view(a, 3)", a=any_(6)),
    S(SLIDING, "np.lib.stride_tricks.sliding_window_view(a, (2, 3))", a=any_(3, 4)),
    S(
        SLIDING,
        "np.lib.stride_tricks.sliding_window_view(a, 2, axis=1) @ b",
        a=any_(3, 4),
        b=any_(2),
    ),
    S(
        SLIDING,
        "np.lib.stride_tricks.sliding_window_view(a, (2, 2), axis=(2, 0))",
        a=any_(3, 2, 4),
    ),
    S(SLIDING, "np.lib.stride_tricks.sliding_window_view(a, (2, 2), axis=(1, 1))", a=any_(2, 5)),
    S(np.diff, "np.diff(a)", a=any_(4)),
    S(np.diff, "np.diff(a, 2, axis=0)", a=any_(4, 2)),
    S(np.diff, "np.diff(a, n=3)", a=any_(2, 5)),
    S(np.diff, "np.diff(a, prepend=b)", a=any_(4), b=any_()),
    S(np.diff, "np.diff(a, axis=0, append=b)", a=any_(3, 2), b=any_(2, 2)),
    S(np.diff, "np.diff(a, 2, prepend=b, append=c)", a=any_(2, 3), b=any_(2, 1), c=any_()),
    S(np.diff, "np.diff(a, 0)", a=any_(3)),
    S(np.diff, "np.diff(a, n=3)", a=any_(6)),  # a vector: the adjoint is one convolution
    S(np.diff, "np.diff(a, 2)", a=any_(3)),
    S(np.tril, "np.tril(a, 1)", a=any_(3)),
    S(np.triu, "np.triu(a, -1)", a=any_(4)),
    S(np.triu, "np.triu(a, 2)", a=any_(2, 3, 4)),
    S(np.tril, "np.tril(a, -2)", a=any_(2, 4, 3)),
    S(np.partition, "np.partition(a, 2)", a=distinct(5)),
    S(np.partition, "np.partition(a, (0, 2), axis=0)", a=distinct(4, 3)),
    S(np.partition, "np.partition(a, 1, axis=None)", a=distinct(2, 3)),
    S(np.linspace, "np.linspace(a, b, 5)", a=any_(), b=any_()),
    S(np.linspace, "np.linspace(a, b, 4, endpoint=False)", a=any_(3), b=any_()),
    S(np.linspace, "np.linspace(a, b, num=3, axis=-1)", a=any_(2, 1), b=any_(3)),
    S(np.linspace, "np.linspace(a, b, 1)", a=any_(2), b=any_(2)),
    S(np.linspace, "np.linspace(0.0, a, 6)", a=any_(2)),
    S(np.linspace, "np.linspace(a, b, 3, axis=1)", a=any_(3), b=any_(2, 3)),
    S(np.gradient, "np.gradient(a)", a=any_(5)),
    S(np.gradient, "np.gradient(a, 0.5)", a=any_(4)),
    S(np.gradient, "np.gradient(a, 2.0, edge_order=2)", a=any_(5)),
    S(np.gradient, "np.gradient(a)[1]", a=any_(3, 4)),
    S(np.gradient, "np.gradient(a, 0.5, 2.0)[0] * np.gradient(a, 0.5, 2.0)[1]", a=any_(3, 3)),
    S(np.gradient, "np.gradient(a, axis=1)", a=any_(3, 4)),
    S(np.gradient, "np.gradient(a, np.array([0.0, 0.5, 1.5, 3.0]))", a=any_(4)),
    S(np.gradient, "np.gradient(a, axis=(0, 2))[1]", a=any_(3, 2, 3)),
    # deleting, inserting, selecting; NumPy 2's unstack
    S(np.delete, "np.delete(a, 1)", a=any_(4)),
    S(np.delete, "np.delete(a, [0, 2], axis=1)", a=any_(2, 4)),
    S(np.delete, "np.delete(a, slice(0, 3, 2))", a=any_(2, 3)),  # flattened
    S(np.delete, "np.delete(a, np.array([True, False, True]), axis=0)", a=any_(3, 2)),
    S(np.insert, "np.insert(a, 1, b)", a=any_(4), b=any_()),
    S(np.insert, "np.insert(a, [0, 2], b)", a=any_(3), b=any_(2)),
    S(np.insert, "np.insert(a, 1, b, axis=1)", a=any_(2, 3), b=any_(2)),
    S(np.insert, "np.insert(a, 2, b, axis=0)", a=any_(3, 2), b=any_(1)),  # broadcast
    S(np.insert, "np.insert(a, [1, 1], b, axis=1)", a=any_(2, 2), b=any_(2, 2)),
    S(np.insert, "np.insert(a, 3, 0.5)", a=any_(2, 2)),
    S(np.compress, "np.compress([True, False, True], a)", a=any_(3)),
    S(np.compress, "np.compress(np.array([False, True]), a, axis=1)", a=any_(3, 2)),
    S(np.compress, "np.compress([True, True], a)", a=any_(2, 2)),  # flattened, the first two
    S(np.extract, "np.extract(a > 0, a)", a=any_(5)),
    S(
        np.extract,
        "np.extract(np.array([[True, False], [True, True]]), a * b)",
        a=any_(2, 2),
        b=any_(2),
    ),
    S(np.resize, "np.resize(a, (2, 3))", a=any_(4)),
    S(np.resize, "np.resize(a, 7)", a=any_(2, 2)),  # repeated elements
    S(np.resize, "np.resize(a, (2,))", a=any_(3)),
    S(np.choose, "np.choose(np.array([0, 1, 0, 1]), [a, b])", a=any_(4), b=any_(4)),
    S(
        np.choose,
        "np.choose(np.array([[0, 2], [1, 0]]), (a, b, c))",
        a=any_(2, 2),
        b=any_(2),
        c=any_(),
    ),
    S(np.choose, "np.choose(np.array([0, 3, 5]), [a, b], mode='wrap')", a=any_(3), b=any_(3)),
    S(np.choose, "np.choose(np.array([-1, 1, 4]), [a, b], mode='clip')", a=any_(3), b=any_(1)),
    S(np.choose, "np.choose(np.array([1, 0, 1]), a)", a=any_(2, 3)),  # an array's rows
    S(np.unstack, "np.unstack(a)[1]", a=any_(3, 2)),
    S(np.unstack, "np.unstack(a, axis=1)[0] * np.unstack(a, axis=1)[2]", a=any_(2, 3)),
    S(np.unstack, "np.unstack(a, axis=-1)[0]", a=any_(2, 2, 2)),
    S(np.block, "np.block([a, b])", a=any_(2), b=any_(3)),
    S(np.block, "np.block([[a, b], [b * 2.0, a]])", a=any_(2, 2), b=any_(2, 3)),
    S(np.block, "np.block([a, 1.0, b])", a=any_(3), b=any_()),
    S(np.block, "np.block([[a], [np.ones(3)]])", a=any_(1, 3)),
    S(np.block, "np.block([[[a, a]], [[b, b]]])", a=any_(2, 1, 2), b=any_(1, 1, 2)),
]


def _value(spec, rng):
    if isinstance(spec, tuple) and spec[0] == "distinct":
        shape = spec[1]
        grid = rng.permutation(np.prod(shape)).astype(float)
        return np.reshape(grid + rng.uniform(-0.2, 0.2, grid.shape), shape)
    value = rng.uniform(spec.low, spec.high, size=spec.shape)
    return float(value) if spec.shape == () else value


@pytest.mark.filterwarnings("ignore:`row_stack` alias is deprecated:DeprecationWarning")
@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [_value(sample.inputs[n], rng) for n in names]
    check_rule_sample(sample.expression, names, args, rng)


def test_every_rule_of_the_module_has_samples():
    missing = rules_without_samples("overbar.runtime.rules_arrays", SAMPLES)
    assert not missing, f"rules without sample inputs: {missing}"


def test_partition_sends_each_adjoint_to_the_element_it_holds():
    """The gradient follows the permutation partition applied: ȳ at each output position goes
    to the input element whose value is there (not to the same position)."""
    f = define("def f(a, u):\n    return np.sum(np.partition(a, 2) * u)\n")
    a = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    u = np.arange(1.0, 6.0)
    y = np.partition(a, 2)
    expected = np.zeros(5)
    for position, value in enumerate(y):
        expected[np.flatnonzero(a == value)[0]] = u[position]
    np.testing.assert_array_equal(overbar.grad(f)(a, u), expected)


@pytest.mark.unchecked  # a tie: no derivative, the convention below
def test_partition_ties_go_to_equal_elements_in_order():
    """Among equal values, the i-th in y takes its adjoint to the i-th in a (a subgradient):
    each equal element gets exactly one of the adjoints of the equal outputs."""
    f = define("def f(a, u):\n    return np.sum(np.partition(a, 1) * u)\n")
    a = np.array([2.0, 1.0, 2.0, 0.0])
    u = np.array([10.0, 20.0, 30.0, 40.0])
    y = np.partition(a, 1)
    gradient = overbar.grad(f)(a, u)
    ties = np.flatnonzero(y == 2.0)
    np.testing.assert_array_equal(gradient[a == 2.0], u[ties])
    assert gradient.sum() == u.sum()


def test_lists_and_tuples_returned_unpacked_and_looped_over():
    for source in (
        "def f(x):\n    a, b = np.split(x, 2)\n    return np.sum(a * b)\n",
        "def f(x):\n    t = 0.0\n    for p in np.split(x, 3):\n        t = t + np.sum(p ** 2)\n"
        "    return t\n",
        "def f(x):\n    return sum(np.sum(p) ** 2 for p in np.array_split(x, 3))\n",
        "def f(x):\n    a, b = np.atleast_2d(x[0], x)\n    return np.sum(a * b)\n",
    ):
        f = define(source)
        x = np.random.default_rng(3).normal(size=6)
        overbar.check_grad(f, [x])
        overbar.grad(f)(x)  # the guard compares it with the literal adjoint


def test_pieces_not_read_have_zero_adjoints():
    f = define("def f(x):\n    parts = np.split(x, [1, 3])\n    return np.sum(parts[1] ** 2)\n")
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(overbar.grad(f)(x), [0.0, 4.0, 6.0, 0.0, 0.0])


REFUSED = {
    "hstack with a dtype": "np.hstack([a, a], dtype=np.float32)",
    "a pad mode that is not a copy": "np.pad(a, 1, mode='linear_ramp')",
    "linspace returning its step": "np.linspace(a, 1.0, 4, retstep=True)[0]",
    "linspace rounding to integers": "np.linspace(a, 4.0, 4, dtype=int)",
    "a differentiated spacing": "np.gradient(a, a[0])",
    "take into an output array": "np.take(a, [0, 1], out=np.empty(2))",
    "np.r_ with a directive string": "np.r_['0,2', a, a]",
    "np.c_ with a directive string": "np.c_['0', a, a]",
    "an index expression without a rule": "np.index_exp[a]",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_calls_the_rules_do_not_cover_are_refused(name):
    f = define(f"def f(a):\n    return np.sum({REFUSED[name]})\n")
    with pytest.raises(OverbarError) as error:
        overbar.grad(f)(np.linspace(1.0, 2.0, 3))
    assert "np." in str(error.value)


@pytest.mark.parametrize("mode", ["constant", "edge", "wrap", "reflect", "symmetric"])
@pytest.mark.parametrize("width", ["2", "((1, 3), (0, 2))", "(3,)"])
def test_a_pad_mode_known_when_it_runs_gives_the_literal_modes_gradient(mode, width):
    variable = define(f"def f(a, u, m):\n    return np.sum(np.pad(a, {width}, m) * u)\n")
    literal = define(f"def f(a, u):\n    return np.sum(np.pad(a, {width}, mode={mode!r}) * u)\n")
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3))
    u = rng.normal(size=np.pad(a, eval(width), mode=mode).shape)
    overbar.check_grad(variable, [a, u, mode])
    np.testing.assert_allclose(overbar.grad(variable)(a, u, mode), overbar.grad(literal)(a, u))


def test_a_pad_mode_computed_in_the_function_is_read_when_it_runs():
    f = define("def f(a):\n    return np.sum(np.pad(a, 1, mode=['edge'][0]) ** 2)\n")
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(overbar.grad(f)(a), [4.0, 4.0, 12.0])


@pytest.mark.parametrize("mode", ["mean", "linear_ramp", "maximum"])
def test_a_pad_mode_known_when_it_runs_that_is_not_a_copy_is_refused_then(mode):
    f = define("def f(a, m):\n    return np.sum(np.pad(a, 1, m) ** 2)\n")
    with pytest.raises(OverbarError, match=f"np.pad in mode '{mode}'"):
        overbar.grad(f)(np.linspace(1.0, 2.0, 3), mode)


def test_an_odd_reflection_is_refused_when_it_runs():
    f = define("def f(a):\n    return np.sum(np.pad(a, 2, mode='reflect', reflect_type='odd'))\n")
    with pytest.raises(OverbarError, match="reflect_type='even'"):
        overbar.grad(f)(np.linspace(1.0, 2.0, 3))


EDGES = {
    "a piece of a split that is empty": "np.sum(np.split(a, [0, 2])[1] ** 2)",
    "no indices taken": "np.sum(np.take(a, np.zeros(0, dtype=int))) + np.sum(a)",
    "a pad of width 0": "np.sum(np.pad(a, 0) ** 2)",
    "every repeat 0": "np.sum(np.repeat(a, 0) ** 2) + np.sum(a)",
    "a tile of no copies": "np.sum(np.tile(a, 0)) + np.sum(a ** 2)",
    "more differences than elements": "np.sum(np.diff(a, 5)) + np.sum(a * a)",
    "as many differences as elements, appended": "np.sum(np.diff(a, 4, append=a[0]) ** 2)",
    "no differences, with values prepended": "np.sum(np.diff(a, 0, prepend=a[1]) ** 2)",
    "an empty linspace": "np.sum(np.linspace(a, 1.0, 0)) + np.sum(a)",
    "a diagonal outside the matrix": "np.sum(np.diag(a[:, None] * a, 5)) + np.sum(a)",
    "numbers stacked": "np.sum(np.vstack([a[0], a[1]]) ** 2) + np.sum(np.dstack([a[2]]))",
    "a 0-d array rolled": "np.sum(np.roll(np.sum(a), 1) * 2.0)",
}


@pytest.mark.parametrize("name", list(EDGES))
def test_empty_and_0d_edges(name):
    f = define(f"def f(a):\n    return {EDGES[name]}\n")
    a = np.array([0.3, -1.2, 0.8])
    gradient = overbar.grad(f)(a)  # the guard checks it against finite differences
    assert np.shape(gradient) == (3,)
    overbar.check_grad(f, [a])


DISPLAYS = {
    "appended rows of values": "np.sum(np.append(a, [[b, c * b]], axis=0) ** 2)",
    "a stack of an array and values": "np.sum(np.hstack([a[0], [b, c]]) ** 2)",
    "a tiled list": "np.sum(np.tile([b, c], 2) ** 2)",
    "a number broadcast against an array": "np.sum(np.broadcast_arrays(b, a)[0] * a)",
}


@pytest.mark.parametrize("name", list(DISPLAYS))
def test_lists_of_values_as_arguments(name):
    """An argument written as a list of differentiated values gets one adjoint per element."""
    f = define(f"def f(a, b, c):\n    return {DISPLAYS[name]}\n")
    args = [np.array([[0.3, -1.2], [0.8, 0.5]]), 0.3, 0.7]
    gradients = overbar.grad(f, wrt=(0, 1, 2))(*args)
    assert [np.shape(g) for g in gradients] == [(2, 2), (), ()]
    overbar.check_grad(f, args, wrt=(0, 1, 2))


LOOPED = [
    "np.tanh(np.take(h, [1, 0, 2, 3]) * 1.5)",
    "np.tanh(np.take_along_axis(h, np.array([1, 0, 3, 2]), 0))",
    "np.tanh(np.tile(h, 2)[1:5])",
    "np.tanh(np.repeat(h, [2, 0, 1, 1]))",
    "np.tanh(np.diag(h[:, None] * h, 0) + np.diag(h) @ h)",
    "np.tanh(np.diagonal(h[:, None] * h, 1))[np.array([0, 1, 2, 2])]",
    "np.tanh(np.split(h, [1, 3])[1])[np.array([0, 1, 1, 0])]",
    "np.tanh(np.diff(h, prepend=h[0] * 0.5))",
    "np.tanh(np.pad(h, 1, constant_values=h[0])[1:5])",
    "np.tanh(np.pad(h, (2, 0), mode='reflect')[:4])",
    "np.tanh(np.gradient(h, edge_order=2) + h)",
    "np.tanh(np.rollaxis(h[:, None] * h, 1) @ h)",
]


@pytest.mark.parametrize("expression", LOOPED)
def test_values_a_loop_overwrites_saved_as_their_shapes(expression):
    """Where a rule's helper takes only the shape of a value a loop overwrites, the forward
    sweep saves the shape alone (``SHAPE_ONLY``): the helper must read nothing else."""
    source = f"def f(x):\n    h = x\n    for i in range(3):\n        h = {expression}\n"
    f = define(source + "    return np.sum(h * np.arange(1.0, 5.0))\n")
    x = np.array([0.3, -0.6, 0.8, 0.1])
    overbar.grad(f)(x)  # the guard compares it with the literal adjoint and differences
    overbar.check_grad(f, [x])


PAD_WIDTHS = [
    "2",
    "(1, 3)",
    "((1, 3),)",
    "((1,), (2,))",
    "[[0, 2], [3, 1]]",
    "np.array([[1], [2]])",
]
PAD_WIDTHS += ["{1: 2}", "{0: (1, 2), -1: 1}", "((0, 0), (0, 0))"]


@pytest.mark.parametrize("width", PAD_WIDTHS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_pad_widths_in_every_form(width, mode):
    """The adjoint reads pad_width as np.pad does: a number, a pair, a pair per axis, a
    dict (a module-level constant: the compiler refuses dict displays)."""
    f = define(
        f"WIDTH = {width}\n\ndef f(a, u):\n    return np.sum(np.pad(a, WIDTH, mode={mode!r}) * u)\n"
    )
    a = np.random.default_rng(5).normal(size=(2, 3))
    u = np.random.default_rng(6).normal(size=np.pad(a, eval(width), mode=mode).shape)
    gradient = overbar.grad(f)(a, u)  # checked by the guard
    assert np.shape(gradient) == (2, 3)
    overbar.check_grad(f, [a, u])


def test_index_expressions_are_refused_by_name():
    directive = define("def f(a):\n    return np.sum(np.r_['0,2', a, a] ** 2)\n")
    with pytest.raises(OverbarError, match="directive string '0,2'.*np.concatenate"):
        overbar.grad(directive)(np.ones(3))
    no_rule = define("def f(a):\n    return np.sum(np.index_exp[a][0])\n")
    with pytest.raises(OverbarError, match=r"np.index_exp\[...\]") as error:
        overbar.grad(no_rule)(np.ones(3))
    assert f"{no_rule.__code__.co_filename}:{no_rule.__code__.co_firstlineno + 1}:" in str(
        error.value
    )


def test_an_array_global_is_still_indexed_not_joined():
    table = np.array([1.0, 2.0, 3.0])
    f = define("def f(a):\n    return np.sum(a * TABLE[1:])\n", namespace={"TABLE": table})
    np.testing.assert_allclose(overbar.grad(f)(np.ones(2)), [2.0, 3.0])


# -- forward mode: the tangent rules beside the adjoint rules ----------------------------------
# (each sample above is also differentiated in forward mode by test_tangent_rules.py)


def check_jvp_of_pieces(f, args, seed=0, eps=1e-6):
    """overbar.jvp of ``f`` (whose result is an array or a list or tuple of arrays) along a
    random tangent of each argument, piece by piece against central differences."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    value, derivative = overbar.jvp(f, args, tangents)
    plus = f(*[a + eps * t for a, t in zip(args, tangents)])
    minus = f(*[a - eps * t for a, t in zip(args, tangents)])
    expected = f(*args)
    pieces = isinstance(expected, list | tuple)
    assert isinstance(derivative, list | tuple) == pieces
    if not pieces:
        value, derivative, plus, minus, expected = [
            [x] for x in (value, derivative, plus, minus, expected)
        ]
    assert len(derivative) == len(expected)
    for one, part, high, low, wanted in zip(value, derivative, plus, minus, expected):
        np.testing.assert_allclose(one, wanted, rtol=1e-12)
        assert np.shape(part) == np.shape(wanted)
        np.testing.assert_allclose(part, (high - low) / (2 * eps), rtol=1e-5, atol=1e-6)


PIECES = {
    "pieces unpacked": "def f(x):\n    a, b = np.split(x, 2)\n    return a * b\n",
    "pieces looped over": "def f(x):\n    t = 0.0\n    for p in np.split(x, 3):\n"
    "        t = t + np.sum(p ** 2)\n    return t\n",
    "pieces in a generator": "def f(x):\n    return sum(np.sum(p) ** 2 for p in "
    "np.array_split(x, 4))\n",
    "arrays made 2-d, unpacked": "def f(x):\n    a, b = np.atleast_2d(x[0], x)\n"
    "    return a * b\n",
    "a list of pieces returned": "def f(x):\n    return np.split(x, [1, 3])\n",
    "a piece not read": "def f(x):\n    parts = np.split(x, [1, 3])\n    return parts[1] ** 2\n",
    "a tuple of gradients returned": "def f(x):\n    return np.gradient(x[:, None] * x, 0.5)\n",
    "arrays broadcast, returned": "def f(x):\n    return np.broadcast_arrays(x, x[:3, None])\n",
}


@pytest.mark.parametrize("name", list(PIECES))
def test_tangents_of_lists_and_tuples_returned_unpacked_and_looped_over(name):
    check_jvp_of_pieces(define(PIECES[name]), [np.random.default_rng(3).normal(size=6)])


@pytest.mark.parametrize("name", list(EDGES))
def test_tangents_at_empty_and_0d_edges(name):
    f = define(f"def f(a):\n    return {EDGES[name]}\n")
    value, derivative = check_jvp(f, [np.array([0.3, -1.2, 0.8])])
    assert np.shape(derivative) == np.shape(value)


@pytest.mark.parametrize("name", list(DISPLAYS))
def test_tangents_of_lists_of_values_as_arguments(name):
    """An argument written as a list of values, some differentiated and some not: the tangent
    of the list holds zeros for those that are not."""
    f = define(f"def f(a, b, c):\n    return {DISPLAYS[name]}\n")
    args = [np.array([[0.3, -1.2], [0.8, 0.5]]), 0.3, 0.7]
    for wrt in [(0, 1, 2), (0,), (1,), (2,)]:
        check_jvp(f, args, wrt=wrt)


@pytest.mark.parametrize("expression", LOOPED)
def test_tangents_carried_through_a_loop(expression):
    source = f"def f(x):\n    h = x\n    for i in range(3):\n        h = {expression}\n"
    f = define(source + "    return h * np.arange(1.0, 5.0)\n")
    check_jvp(f, [np.array([0.3, -0.6, 0.8, 0.1])])


@pytest.mark.parametrize("width", PAD_WIDTHS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_tangents_with_widths_in_every_form(width, mode):
    f = define(f"WIDTH = {width}\n\ndef f(a):\n    return np.pad(a, WIDTH, mode={mode!r})\n")
    check_jvp(f, [np.random.default_rng(5).normal(size=(2, 3))])


@pytest.mark.parametrize("name", list(REFUSED))
def test_calls_the_rules_do_not_cover_are_refused_in_forward_mode(name):
    f = define(f"def f(a):\n    return np.sum({REFUSED[name]})\n")
    with pytest.raises(OverbarError) as error:
        overbar.jvp(f, [np.linspace(1.0, 2.0, 3)], [np.ones(3)])
    assert "np." in str(error.value)


def test_a_reflection_whose_type_is_a_name_is_checked_when_its_tangent_runs():
    """Forward mode refuses what reverse mode refuses: an odd reflection, when it runs (the
    type may be a variable); an even one given by a variable is differentiated."""
    f = define(
        "def f(a, kind):\n    return np.pad(a, (2, 1), mode='reflect', reflect_type=kind)\n"
    )
    check_jvp(f, [np.array([0.3, -1.2, 0.8]), "even"], wrt=(0,))
    with pytest.raises(OverbarError, match="reflect_type='even'"):
        overbar.jvp(f, [np.array([0.3, -1.2, 0.8]), "odd"], [np.ones(3)], wrt=(0,))
    odd = define("def f(a):\n    return np.pad(a, 2, mode='symmetric', reflect_type='odd')\n")
    with pytest.raises(OverbarError, match="reflect_type='even'"):
        overbar.jvp(odd, [np.array([0.3, -1.2, 0.8])], [np.ones(3)])


def test_partition_tangent_follows_the_elements():
    """ẏ at each output position is the tangent of the input element whose value is there."""
    f = define("def f(a):\n    return np.partition(a, 2)\n")
    a = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    a_dot = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    y, y_dot = overbar.jvp(f, [a], [a_dot])
    expected = [a_dot[np.flatnonzero(a == value)[0]] for value in y]
    np.testing.assert_array_equal(y_dot, expected)


@pytest.mark.unchecked  # a tie: no derivative; the convention must be the adjoint's
@pytest.mark.parametrize("axis", [0, -1, None])
def test_partition_tangent_at_ties_is_the_transpose_of_the_adjoint(axis):
    """With ties, the tangent moves ȧ as the adjoint moves ȳ back: <J v, u> = <v, Jᵀ u>."""
    a = np.array([[2.0, 1.0, 2.0, 0.0], [1.0, 1.0, 3.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    f = define(f"def f(a):\n    return np.partition(a, 1, axis={axis})\n")
    weighted = define(f"def f(a, u):\n    return np.sum(np.partition(a, 1, axis={axis}) * u)\n")
    rng = np.random.default_rng(8)
    v = rng.standard_normal(a.shape)
    y, y_dot = overbar.jvp(f, [a], [v])
    u = rng.standard_normal(np.shape(y))
    a_bar = overbar.grad(weighted)(a, u)
    assert np.sum(y_dot * u) == pytest.approx(np.sum(v * a_bar), rel=1e-12)


def test_the_tangent_of_a_linspace_is_a_new_array_the_function_may_write_into():
    f = define("""
        def f(a, b):
            y = np.linspace(a, b, 5)
            y[2] = y[0] * y[4]
            return y
        """)
    check_jvp(f, [np.array([0.3, -1.2]), 0.7])


def test_the_usual_calls_get_the_plain_tangent():
    """Without values joined, np.diff's tangent is np.diff of the tangent; an even reflection
    (written out) needs no check when the tangent runs; np.take in range needs no mode."""
    for expression, plain, avoided in [
        ("np.diff(a, 2)", "np.diff(a_dot, 2, -1)", "differences"),
        ("np.pad(a, 2, mode='reflect')", 'np.pad(a_dot, 2, "reflect")', "even_reflection"),
        ("np.take(a, [0, 2], axis=0)", "np.take(a_dot, [0, 2], 0)", "mode"),
    ]:
        f = define(f"def f(a):\n    return {expression}\n")
        source = overbar.forward_api.jvp_stages(f, None, (0,)).emitted.source
        assert plain in source and avoided not in source.split("\n", 2)[2], source


def test_a_correlation_of_complex_vectors_is_refused():
    """np.correlate conjugates v, which has no complex derivative: refused, not guessed."""
    f = define("""
        def f(x):
            c = x * (1.0 + 0.5j)
            return np.sum(np.abs(np.correlate(c, c[:2], "same")) ** 2)
        """)
    with pytest.raises(NoDerivativeError, match="conjugates v"):
        overbar.grad(f)(np.array([1.0, 0.5, -2.0]))


@pytest.mark.parametrize("function", ["convolve", "correlate"])
def test_a_convolution_is_known_to_be_a_vector(function):
    """np.convolve and np.correlate give vectors: np.dot of one with itself is specialised as
    a product of vectors (no rank-testing dot_left_bar), and the gradient is right."""
    f = define(f"""
        def f(w, x):
            y = np.{function}(x, w, "valid")
            return np.dot(y, y)
        """)
    rng = np.random.default_rng(5)
    w, x = rng.normal(size=3), rng.normal(size=8)
    assert "dot_left_bar" not in overbar.grad(f, wrt=(0, 1)).source_for(w, x)
    overbar.check_grad(f, [w, x], wrt=(0, 1))


def test_windows_of_a_vector_are_known_to_be_a_matrix():
    """sliding_window_view(x, k) of a vector has rank 2: windows @ w is specialised as a
    matrix times a vector (no rank-testing matmul_left_bar); a window given by a variable
    tuple leaves the rank unknown and the general helpers, and both gradients are right."""
    known = define("""
        def f(w, x):
            return np.sum((np.lib.stride_tricks.sliding_window_view(x, w.shape[0]) @ w) ** 2)
        """)
    unknown = define("""
        def f(w, x):
            window = tuple(int(n) for n in w.shape)
            return np.sum((np.lib.stride_tricks.sliding_window_view(x, window) @ w) ** 2)
        """)
    rng = np.random.default_rng(6)
    w, x = rng.normal(size=3), rng.normal(size=9)
    assert "matmul_left_bar" not in overbar.grad(known, wrt=(0, 1)).source_for(w, x)
    overbar.check_grad(known, [w, x], wrt=(0, 1))
    assert "matmul_left_bar" in overbar.grad(unknown, wrt=(0, 1)).source_for(w, x)
    overbar.check_grad(unknown, [w, x], wrt=(0, 1))


def test_unstacked_rows_unpacked():
    f = define("def f(x):\n    a, b, c = np.unstack(x, axis=1)\n    return np.sum(a * b + c)\n")
    overbar.check_grad(f, (np.random.default_rng(0).standard_normal((2, 3)),))


@pytest.mark.parametrize(
    "call",
    ["np.compress([True, False], x, out=np.zeros(1))", "np.choose([0, 1], [x, x], out=x)"],
)
def test_selections_into_out_are_refused(call):
    g = overbar.grad(define(f"def f(x):\n    return np.sum({call})\n"))
    with pytest.raises(OverbarError):
        g(np.ones(2))


def test_put_along_axis_is_refused_as_a_write_in_place():
    f = define(
        "def f(x):\n    y = x * 1.0\n"
        "    np.put_along_axis(y, np.array([0, 1]), x[:2] * 2.0, axis=0)\n"
        "    return np.sum(y * y)\n"
    )
    with pytest.raises(OverbarError, match="expression statement"):
        overbar.grad(f)(np.array([1.0, -2.0, 3.0]))


def test_piecewise_is_refused_naming_it():
    f = define(
        "def neg(v):\n    return -v\n\n\ndef square(v):\n    return v * v\n\n\n"
        "def f(x):\n    return np.sum(np.piecewise(x, [x < 0, x >= 0], [neg, square]))\n"
    )
    with pytest.raises(OverbarError, match="np.piecewise"):
        overbar.grad(f)(np.array([1.0, -2.0, 3.0]))
