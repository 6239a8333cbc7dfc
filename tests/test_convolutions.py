"""Convolutions however they are written: the 'valid' adjoints of np.convolve and np.correlate
without padding (at every mode, against their Jacobians), the windows' adjoint of an outer
product as one convolution (``composed.py``), a reversal's adjoint as a reversal, and the
lengths of slices whose bounds are not literals (``lengths.py``): where each applies, and where
a side condition fails (the rewrite does not fire, the gradient is still right)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

import overbar
from overbar.runtime import NUMPY
from overbar.runtime.helpers import index_bar
from overbar.runtime.helpers_arrays import windows_bar, windows_bar_of_outer
from overbar.runtime.helpers_science import (
    convolve_a_bar_of_part,
    convolve_bars,
    correlate_bars,
    correlate_bars_of_part,
)
from overbar.transpiler.composed import compose_helpers
from overbar.transpiler.normalize import normalize
from overbar.transpiler.parse import parse
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.shapes import infer
from tests.support import define, directional_check

SIZES = [(7, 3), (3, 3), (5, 1), (2, 6), (1, 4), (4, 2)]


def _jacobian_adjoints(function, g, a, v, mode):
    """ā and v̄ from the Jacobians of the bilinear ``function``, column by column."""
    a_bar = np.array([g @ function(np.eye(a.size)[i], v, mode) for i in range(a.size)])
    v_bar = np.array([g @ function(a, np.eye(v.size)[j], mode) for j in range(v.size)])
    return a_bar, v_bar


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, m", SIZES)
@pytest.mark.parametrize(
    "function, bars", [(np.convolve, convolve_bars), (np.correlate, correlate_bars)]
)
def test_adjoints_agree_with_the_jacobian_at_every_mode(function, bars, mode, n, m):
    rng = np.random.default_rng(n * 10 + m)
    a, v = rng.normal(size=n), rng.normal(size=m)
    g = rng.normal(size=function(a, v, mode).shape)
    got = bars(g, a, v, mode)
    expected = _jacobian_adjoints(function, g, a, v, mode)
    for value, reference, operand in zip(got, expected, (a, v), strict=True):
        assert value.shape == operand.shape
        np.testing.assert_allclose(value, reference, atol=1e-12)


@pytest.mark.parametrize(
    "function, bars", [(np.convolve, convolve_bars), (np.correlate, correlate_bars)]
)
def test_operands_not_numpy_vectors_take_the_general_way(function, bars):
    rng = np.random.default_rng(3)
    a, v = rng.normal(size=6), rng.normal(size=3)
    g = rng.normal(size=4)
    reference = _jacobian_adjoints(function, g, a, v, "valid")
    for arguments in [(g, list(a), v, "valid"), (list(g), a, tuple(v), "valid")]:
        got = bars(*arguments)
        for value, expected in zip(got, reference, strict=True):
            np.testing.assert_allclose(value, expected, atol=1e-12)


def test_a_convolution_with_a_reversed_filter_reads_like_two_correlations():
    f = define("""
        def f(w, x):
            y = np.convolve(x, w[::-1], mode="valid")
            return np.sum(np.square(y))
        """)
    gradient = overbar.grad(f, wrt=(0, 1))
    w, x = np.random.default_rng(0).normal(size=(2, 4)) @ np.eye(4, 4)
    x = np.random.default_rng(1).normal(size=12)
    got = gradient(w, x)
    source = gradient.source_for(w, x)
    assert "index_bar" not in source and "[::-1]" in source
    assert "broadcast_like" not in source  # np.square(y) is known to have y's shape
    for _, analytic, numeric in directional_check(f, [w, x], (0, 1), got):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_a_reversal_of_a_number_or_with_a_bound_keeps_index_bar():
    f = define("""
        def f(w):
            return np.sum(w[:1:-1] * np.arange(3.0))
        """)
    w = np.linspace(0.5, 2.0, 5)
    gradient = overbar.grad(f)
    got = gradient(w)
    assert "index_bar" in gradient.source_for(w)
    np.testing.assert_allclose(got, [0.0, 0.0, 2.0, 1.0, 0.0])


# -- windows of a vector times a filter ----------------------------------------------------------

WINDOWS = """
def f(w, x):
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[0])
    return np.sum((windows @ w) ** 2)
"""


def test_the_windows_adjoint_of_an_outer_product_is_one_convolution():
    f = define(WINDOWS)
    rng = np.random.default_rng(2)
    w, x = rng.normal(size=3), rng.normal(size=11)
    gradient = overbar.grad(f, wrt=(0, 1))
    got = gradient(w, x)
    source = gradient.source_for(w, x)
    assert "windows_bar_of_outer(" in source and "np.outer" not in source
    for _, analytic, numeric in directional_check(f, [w, x], (0, 1), got):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_windows_of_a_matrix_take_the_general_way_inside_the_helper():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 6))
    a, b = rng.normal(size=5), rng.normal(size=2)
    # the windows of x along its last axis are (4, 5, 2): an outer product of vectors is not
    # their adjoint, so windows_bar itself is called (and refuses the shape as NumPy does)
    with pytest.raises(ValueError):
        windows_bar_of_outer(a, b, x, 2, -1)
    vector = rng.normal(size=6)
    np.testing.assert_allclose(
        windows_bar_of_outer(a, b, vector, 2), windows_bar(np.outer(a, b), vector, 2)
    )
    np.testing.assert_allclose(  # lengths that do not fit a window: the general way
        windows_bar_of_outer(a[:4], b, vector[:5], (2,)),
        windows_bar(np.outer(a[:4], b), vector[:5], (2,)),
    )


def test_an_outer_product_read_twice_or_changed_before_the_windows_stays():
    f = define("""
        def f(w, x):
            windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[0])
            y = windows @ w
            return np.sum(y ** 2) + np.sum(windows * windows)
        """)
    rng = np.random.default_rng(5)
    w, x = rng.normal(size=3), rng.normal(size=9)
    gradient = overbar.grad(f, wrt=(0, 1))
    got = gradient(w, x)
    source = gradient.source_for(w, x)
    assert "windows_bar_of_outer" not in source  # the windows' adjoint has two terms
    for _, analytic, numeric in directional_check(f, [w, x], (0, 1), got):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


# -- slices with bounds that are not literals ----------------------------------------------------

SHIFTED_SUM = """
def f(w, x):
    m = x.shape[0] - w.shape[0] + 1
    y = np.zeros(m)
    for k in range(w.shape[0]):
        y = y + w[k] * x[k : k + m]
    return np.sum(y ** 2)
"""


def _checked(f, args, wrt=(0, 1)):
    gradient = overbar.grad(f, wrt=wrt)
    got = gradient(*args)
    for _, analytic, numeric in directional_check(f, list(args), wrt, got):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    return gradient.source_for(*args)


def test_a_slice_from_a_loop_index_has_the_length_of_the_array_it_is_added_to():
    rng = np.random.default_rng(6)
    source = _checked(define(SHIFTED_SUM), (rng.normal(size=3), rng.normal(size=10)))
    assert "shape_of" not in source and "unbroadcast" not in source


def test_without_the_array_made_with_the_length_the_stop_may_be_negative():
    # m may be negative (x shorter than w): x[k : k + m] then reads from the end, so its length
    # is not m, and nothing before the loop says m ≥ 0 (np.ones_like does not raise)
    f = define("""
        def f(w, x):
            m = x.shape[0] - w.shape[0] + 1
            y = np.ones_like(x[:1]) * 0.0
            for k in range(w.shape[0]):
                y = y + w[k] * x[k : k + m]
            return np.sum(y ** 2)
        """)
    rng = np.random.default_rng(7)
    source = _checked(f, (rng.normal(size=3), rng.normal(size=10)))
    assert "unbroadcast" in source or "shape_of" in source
    # and where m < 0 the gradient is still right: y has one element broadcast against slices
    # x[k : k + m] of one element each (x has 2, w 4: m = -1, x[k : k - 1] is x[k : 1])
    _checked(f, (rng.normal(size=4) * np.array([1.0, 0.0, 0.0, 0.0]), rng.normal(size=2)))


def _slice_lengths(f, args):
    """What shape inference knows of each slice of f with bounds that are not literals."""
    parsed = parse(f)
    form = normalize(parsed)
    given = {
        name: NUMPY.shapes.argument_shape(a) for name, a in zip(form.parameters, args, strict=True)
    }
    known = infer(form, given, parsed.namespace, NUMPY)
    found = []
    for node in ast.walk(form.tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.slice, ast.Slice)
            and not all(
                b is None or isinstance(b, ast.Constant)
                for b in (node.value.slice.lower, node.value.slice.upper)
            )
        ):
            found.append(known.get(node.targets[0].id))
    return found


def test_a_stop_past_the_end_is_not_given_a_length():
    # k + m passes len(x) at the last step: that slice is one shorter
    f = define("""
        def f(w, x):
            m = x.shape[0] - w.shape[0] + 1
            y = np.zeros(m)
            total = 0.0
            for k in range(w.shape[0] + 1):
                z = x[k : k + m]
                total = total + np.sum(z * z) * w[0]
            return total + np.sum(y)
        """)
    rng = np.random.default_rng(8)
    args = (rng.normal(size=3), rng.normal(size=10))
    assert _slice_lengths(f, args) == [(None,)]
    _checked(f, args)
    g = define(SHIFTED_SUM)  # the loop of as many steps as w has elements: known
    (length,) = _slice_lengths(g, args)
    assert length[0].origin[0] == "clamped"


def test_a_start_that_may_be_negative_is_not_given_a_length():
    f = define("""
        def f(w, x):
            m = x.shape[0] - w.shape[0]
            y = np.zeros(m)
            for k in range(w.shape[0]):
                y = y + w[k] * x[k - 1 : k - 1 + m]
            return np.sum(y ** 2)
        """)
    rng = np.random.default_rng(9)
    # k = 0 reads x[-1 : m - 1]: empty, broadcast against y only if y has one element
    with pytest.raises(ValueError):
        overbar.grad(f, wrt=(0, 1))(rng.normal(size=3), rng.normal(size=10))
    _checked(f, (rng.normal(size=2), rng.normal(size=3)))


def test_a_bound_rebound_in_the_loop_or_read_before_it_is_bound_is_not_followed():
    f = define("""
        def f(w, x):
            m = x.shape[0] - w.shape[0] + 1
            y = np.zeros(m)
            s = 0
            for k in range(w.shape[0]):
                y = y + w[k] * x[s : s + m]
                s = k + 1
            return np.sum(y ** 2)
        """)
    rng = np.random.default_rng(10)
    source = _checked(f, (rng.normal(size=3), rng.normal(size=10)))
    assert "unbroadcast" in source or "shape_of" in source


def test_an_element_read_proves_a_length_and_a_slice_to_the_end_has_it():
    f = define("""
        def f(w, x):
            first = x[0]
            n = x.shape[0] - 1
            return np.sum((w[0] * x[1 : n + 1] - first * x[:n]) ** 2)
        """)
    rng = np.random.default_rng(11)
    args = (rng.normal(size=3), rng.normal(size=10))
    source = _checked(f, args)
    assert "unbroadcast" not in source
    assert len(set(_slice_lengths(f, args))) == 1  # both slices: len(x) − 1 elements
    g = define("""
        def f(w, x):
            n = x.shape[0] - 1
            return np.sum((w[0] * x[1 : n + 1] - x[:n]) ** 2)
        """)  # without x[0] read first, x may be empty: n = −1, and x[:n] is not n long
    assert _slice_lengths(g, args)[1] == (None,)
    _checked(g, args)


@pytest.mark.parametrize("n, m", [(10, 3), (3, 3), (4, 1)])
def test_shifted_sums_agree_with_the_hand_written_correlation(n, m):
    rng = np.random.default_rng(n + m)
    w, x = rng.normal(size=m), rng.normal(size=n)
    w_bar, x_bar = overbar.grad(define(SHIFTED_SUM), wrt=(0, 1))(w, x)
    y_bar = 2.0 * np.correlate(x, w, "valid")
    np.testing.assert_allclose(w_bar, np.correlate(x, y_bar, "valid"), atol=1e-12)
    np.testing.assert_allclose(x_bar, np.convolve(y_bar, w), atol=1e-12)


# -- the valid part of a full convolution --------------------------------------------------------


def _convolve_bars_of_part(y_bar, z, index, a, v, mode):
    """Both operands' adjoints of a part of a convolution, as np.convolve's rule makes them
    (one ``convolve_a_bar`` per operand, each composed with the part's ``index_bar``)."""
    return (
        convolve_a_bar_of_part(y_bar, z, index, a, v, mode),
        convolve_a_bar_of_part(y_bar, z, index, v, a, mode),
    )


@pytest.mark.parametrize(
    "function, bars, of_part",
    [
        (np.convolve, convolve_bars, _convolve_bars_of_part),
        (np.correlate, correlate_bars, correlate_bars_of_part),
    ],
)
@pytest.mark.parametrize("n, m", [(7, 3), (3, 3), (2, 5), (4, 1)])
@pytest.mark.parametrize(
    "index", [slice(2, 7), slice(2, -2), slice(None, 4), slice(None, None, -1), slice(1, 3)]
)
def test_adjoints_of_a_part_of_a_full_convolution(function, bars, of_part, n, m, index):
    rng = np.random.default_rng(n * m)
    a, v = rng.normal(size=n), rng.normal(size=m)
    z = function(a, v, "full")
    g = rng.normal(size=z[index].shape)
    expected = bars(index_bar(g, z, index), a, v, "full")
    for got, reference in zip(of_part(g, z, index, a, v, "full"), expected, strict=True):
        np.testing.assert_allclose(got, reference, atol=1e-12)
    # the valid part, however its slice is written: the same as the 'valid' mode's adjoints
    valid = slice(m - 1, n)
    if n >= m:
        g = rng.normal(size=z[valid].shape)
        expected = _jacobian_adjoints(function, g, a, v, "valid")
        for got, reference in zip(of_part(g, z, valid, a, v, "full"), expected, strict=True):
            np.testing.assert_allclose(got, reference, atol=1e-12)


def test_the_valid_part_of_a_full_convolution_is_differentiated_as_the_valid_mode():
    f = define("""
        def f(w, x):
            y = np.convolve(x, w[::-1])[len(w) - 1 : len(x)]
            return np.sum(y ** 2)
        """)
    rng = np.random.default_rng(12)
    args = (rng.normal(size=3), rng.normal(size=10))
    source = _checked(f, args)
    assert "convolve_a_bar_of_part(" in source and "index_bar" not in source
    assert "broadcast_like" not in source  # the part's length: len(x) − len(w) + 1
    _checked(f, (rng.normal(size=5), rng.normal(size=3)))  # longer filter: other lengths


def test_a_start_computed_in_the_loop_and_a_length_from_len_are_followed():
    f = define("""
        def f(w, x):
            m = len(x) - len(w) + 1
            y = np.ones(m)
            for k in range(1, len(w)):
                start = k - 1
                stop = start + m
                y = y * (1.0 + w[k] * x[start:stop])
            return np.sum(y)
        """)
    rng = np.random.default_rng(13)
    args = (rng.normal(size=4), rng.normal(size=9))
    source = _checked(f, args)
    assert "shape_of" not in source and "unbroadcast" not in source
    assert _slice_lengths(f, args)[0][0].origin[0] == "clamped"


# -- the composition pass itself, on reverse sweeps written out ----------------------------------


def _composed(body: str) -> str:
    tree = ast.parse(f"def f_grad(a, b, x):\n{body}").body[0]
    adjoint = Adjoint(
        tree=tree,
        forward_length=0,
        temporaries=frozenset(),
        bindings=(("windows_bar", windows_bar), ("np", np)),
        effects=frozenset(),
    )
    return ast.unparse(compose_helpers(adjoint, NUMPY).tree)


def test_an_outer_product_read_once_by_the_windows_adjoint_is_composed():
    source = _composed(
        "    t = np.outer(a, b)\n    c = a * 2.0\n    x_bar = windows_bar(t, x, 3)\n"
        "    return x_bar, c\n"
    )
    assert "windows_bar_of_outer(a, b, x, 3)" in source and "np.outer" not in source
    written_in = _composed("    x_bar = windows_bar(np.outer(a, b), x, 3)\n    return x_bar\n")
    assert "windows_bar_of_outer(a, b, x, 3)" in written_in


@pytest.mark.parametrize(
    "between",
    [
        "a = a * 2.0",  # an argument of the outer product rebound
        "a[0] = 1.0",  # written into
        "c = np.negative(a, out=a)",  # passed to a call, which may write into it
        "if b[0] > 0:\n        c = 1.0",  # a compound statement
        "c = t + 1.0",  # the outer product read twice
    ],
)
def test_an_outer_product_changed_or_read_before_the_windows_adjoint_stays(between):
    source = _composed(
        f"    t = np.outer(a, b)\n    {between}\n    x_bar = windows_bar(t, x, 3)\n"
        "    return x_bar\n"
    )
    assert "windows_bar_of_outer" not in source and "np.outer" in source


def test_an_outer_product_read_by_two_windows_adjoints_is_composed_in_both():
    source = _composed(
        "    t = np.outer(a, b)\n    x_bar = windows_bar(t, x, 3)\n"
        "    y_bar = windows_bar(t, x, 2)\n    return x_bar, y_bar\n"
    )
    assert source.count("windows_bar_of_outer(a, b, x, ") == 2 and "np.outer" not in source


def test_a_second_read_after_its_arguments_change_keeps_the_name():
    source = _composed(
        "    t = np.outer(a, b)\n    x_bar = windows_bar(t, x, 3)\n    a = a * 2.0\n"
        "    y_bar = windows_bar(t, x, 2)\n    return x_bar, y_bar\n"
    )
    assert "windows_bar_of_outer(a, b, x, 3)" in source
    assert "t = np.outer(a, b)" in source and "windows_bar(t, x, 2)" in source
