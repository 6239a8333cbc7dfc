"""Cheap values of a loop's trip computed again in the reverse sweep instead of pushed at every
trip (``recompute.recompute_loop_values``), and the side conditions under which they are still
pushed. Every gradient here is also checked by the guard (against the literal adjoint and
central differences) and, below, against central differences directly."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from tests.support import define

CONVOLUTION = """
def f(w, x):
    m = len(x) - len(w) + 1
    y = np.zeros(m)
    for k in range(len(w)):
        wk = w[k]
        end = m + k
        window = x[k:end]
        y = y + wk * window
    return np.sum(y ** 2)
"""


def _arguments():
    rng = np.random.default_rng(3)
    return [rng.normal(size=4), rng.normal(size=11)]


def _numeric(f, args, position, eps=1e-6):
    """Central differences of ``f`` along each element of ``args[position]``."""
    base = args[position]
    found = np.zeros_like(base)
    for i in range(base.size):
        step = np.zeros_like(base)
        step.flat[i] = eps
        up = list(args)
        down = list(args)
        up[position], down[position] = base + step, base - step
        found.flat[i] = (f(*up) - f(*down)) / (2 * eps)
    return found


def _gradient_and_source(source, args, wrt=(0, 1)):
    f = define(source)
    gradient = overbar.grad(f, wrt=wrt)
    result = gradient(*args)
    for position, value in zip(wrt, result, strict=True):
        np.testing.assert_allclose(value, _numeric(f, args, position), rtol=1e-5, atol=1e-7)
    return gradient.source_for(*args)


def _bound_to(source: str, expression: str) -> str:
    """The name the forward sweep binds to ``expression``."""
    return next(
        line.split("=")[0].strip()
        for line in source.splitlines()
        if line.strip().endswith(f"= {expression}")
    )


def _reverse_sweep(source: str) -> str:
    return source[source.index("for _ in range(trips)") :]


def test_an_element_a_sum_of_integers_and_a_slice_are_computed_again_not_pushed():
    source = _gradient_and_source(CONVOLUTION, _arguments())
    for name in ("wk", "end", "window"):
        assert f"stack.append({name})" not in source
        assert f"{name} = stack.pop()" not in source
    reverse = _reverse_sweep(source)
    assert "wk = w[k]" in reverse and "end = m + k" in reverse and "window = x[k:end]" in reverse
    assert reverse.index("k = stack.pop()") < reverse.index("wk = w[k]")
    assert "stack.append(k)" in source  # the index itself is still saved


def test_a_vjp_pullback_still_pops_what_it_reads():
    """A vjp's pullback may run again after the caller changed an argument: its values are
    kept, not recomputed from the arguments."""
    f = define(CONVOLUTION)
    args = _arguments()
    value, pullback = overbar.vjp(f, *args, wrt=(0, 1))
    expected = overbar.grad(f, wrt=(0, 1))(*args)
    for got, want in zip(pullback(1.0), expected, strict=True):
        np.testing.assert_allclose(got, want)


def test_a_loop_that_may_end_a_trip_early_still_pushes():
    """With a ``break`` a trip may end before the value is bound (the pass-level tests below
    check the side conditions the fence keeps user code from reaching)."""
    source = CONVOLUTION.replace(
        "        y = y + wk * window\n",
        "        y = y + wk * window\n        if k > 20:\n            break\n",
    )
    generated = _gradient_and_source(source, _arguments())
    assert "stack.append(window)" in generated


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("wk = np.exp(w[k])", "wk"),  # a call: it may cost more than a push
        ("wk = x[k:end] * 2.0", "wk"),  # arithmetic of arrays: a new array, not a view
        ("wk = w[order[k]]", "wk"),  # an index not known to be an integer (order: a list)
        ("wk = y[k]", "wk"),  # an operand the loop rebinds
    ],
)
def test_a_value_that_is_not_cheap_or_whose_operand_changes_is_still_pushed(line, name):
    source = """
def f(w, x, order):
    m = len(x) - len(w) + 1
    y = np.zeros(m)
    for k in range(len(w)):
        end = m + k
        LINE
        y = y + w[k] * x[k:end] * wk
    return np.sum(y ** 2)
""".replace("LINE", line)
    args = [*_arguments(), [3, 1, 0, 2]]
    generated = _gradient_and_source(source, args)
    assert f"stack.append({name})" in generated
    assert "stack.append(end)" not in generated  # the loop's other values are computed again


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_an_element_picked_by_an_element_of_an_integer_array_is_computed_again(dtype):
    """``order[k]`` of an array of integers is an integer: ``w[order[k]]`` is an element,
    as cheap to read again as to push."""
    source = """
def f(w, x, order):
    m = len(x) - len(w) + 1
    y = np.zeros(m)
    for k in range(len(w)):
        end = m + k
        wk = w[order[k]]
        y = y + w[k] * x[k:end] * wk
    return np.sum(y ** 2)
"""
    args = [*_arguments(), np.array([3, 1, 0, 2], dtype=dtype)]
    generated = _gradient_and_source(source, args)
    assert "stack.append(wk)" not in generated and "wk = w[" in generated, generated


# The pass alone, on adjoints written out: the side conditions the user's code cannot reach
# past the fence (which refuses a view read before a write into its array) are checked here.

SWEEPS = """
def f_grad(w, x):
    stack = []
    a = None
    m = len(x) - len(w) + 1
    x_bar = np.zeros(len(x))
    tmp1 = range(len(w))
    for k in tmp1:
        stack.append(a)
        a = x[k:m + k]
        FORWARD
        stack.append(k)
    trips = len(tmp1)
    for _ in range(trips):
        BEFORE
        k = stack.pop()
        x_bar[k:m + k] += w[k] * a
        a = stack.pop()
        AFTER
    LAST
    return x_bar
"""


def _recomputed(
    forward="pass", before="pass", after="pass", last="pass", index_shape="integer"
) -> str:
    """The adjoint above through ``recompute_loop_values``, unparsed."""
    import ast

    from overbar.runtime import NUMPY
    from overbar.runtime.shapes import INTEGER, argument_shape
    from overbar.transpiler.recompute import recompute_loop_values
    from overbar.transpiler.reverse import Adjoint

    source = (
        SWEEPS.replace("FORWARD", forward)
        .replace("BEFORE", before)
        .replace("AFTER", after)
        .replace("LAST", last)
    )
    tree = ast.parse(source).body[0]
    forward_length = next(
        i
        for i, s in enumerate(tree.body)
        if isinstance(s, ast.Assign) and s.targets[0].id == "trips"
    )
    vector = argument_shape(np.zeros(5))
    adjoint = Adjoint(
        tree=tree,
        forward_length=forward_length,
        temporaries=frozenset({"a", "tmp1"}),
        bindings=(("np", np),),
        effects=frozenset(),
        shapes=(
            ("w", vector),
            ("x", vector),
            ("k", INTEGER if index_shape == "integer" else vector),
            ("m", INTEGER),
        ),
        adjoints=(("x_bar", "x"),),
    )
    return ast.unparse(recompute_loop_values(adjoint, NUMPY).tree)


def test_the_pass_computes_the_view_again_after_the_index_is_popped():
    source = _recomputed()
    assert "stack.append(a)" not in source and "a = stack.pop()" not in source
    reverse = source[source.index("for _ in range(trips)") :]
    assert reverse.index("k = stack.pop()") < reverse.index("a = x[k:m + k]")
    assert reverse.index("a = x[k:m + k]") < reverse.index("x_bar[k:m + k] +=")


@pytest.mark.parametrize("read", ["t = x.max()", "t = x.sum(axis=0)", "t = x.copy()"])
def test_an_array_read_by_its_own_method_is_not_written(read):
    """``x.max()`` reads ``x``: the view of it is computed again all the same."""
    source = _recomputed(forward=read)
    assert "stack.append(a)" not in source and "a = stack.pop()" not in source, source


@pytest.mark.parametrize(
    "where",
    [
        {"forward": "x[0] = 1.0"},  # the array written into
        {"forward": "v = x\n        v[0] = 1.0"},  # written into through another name
        {"forward": "x += 1.0"},  # updated in place
        {"forward": "x.sort()"},  # changed by a method
        {"forward": "if k > 2:\n            continue"},  # a trip may end before it is bound
        {"forward": "m = m + 1"},  # an operand rebound in the loop
        {"forward": "a = a * 2.0"},  # the name bound again
        {"forward": "a[0] = 1.0"},  # the value written into
        {"after": "print(a)"},  # the previous trip's value read, after the pop
        {"before": "print(a)"},  # read before the index is popped
        {"last": "print(a)"},  # read after the loop: the value before the loop
        {"last": "k = 0"},  # the index rebound in the reverse sweep
        {"index_shape": "vector"},  # the index not known to be an integer (a row, a view)
    ],
)
def test_the_pass_keeps_the_push_where_a_side_condition_fails(where):
    source = _recomputed(**where)
    assert "stack.append(a)" in source and "a = stack.pop()" in source


# Slice lengths resting on a relation between the parameters' lengths (``pipeline.guarded``).

OFFSET = """
def f(w, x):
    m = len(x) - len(w) + 1
    y = x[:m] * 2.0
    for k in range(1, len(w)):
        y = y + w[k] * x[k : m + k]
    return np.sum(y * y) + np.sum(w)
"""


def test_a_slice_length_resting_on_the_arguments_lengths_is_checked_at_the_entry():
    """``x[k : m + k]`` has ``m`` elements when ``len(x) ≥ len(w) − 1``: the adjoint checks
    that first, and needs no ``unbroadcast`` nor the shapes it would push."""
    rng = np.random.default_rng(4)
    args = [rng.normal(size=3), rng.normal(size=10)]
    source = _gradient_and_source(OFFSET, args)
    check = source.splitlines()[1]
    assert check.startswith("    if x.shape[0] - w.shape[0] + 1 < 0")
    assert "return f_grad_general(w, x)" in source
    assert "unbroadcast" not in source and "shape_of" not in source


def test_arguments_that_break_the_relation_get_the_general_adjoint():
    """With ``len(w) = 6`` and ``len(x) = 3``, ``m = -2``: ``x[:m]`` has one element, not
    ``max(0, m)``, and ``x[2:0]`` none, so ``y`` is broadcast to no elements; the same
    specialisation (the shapes key has no lengths) falls back to the adjoint made without the
    relation, which sums the broadcast back (the one that assumed it would add an empty
    array into one element of ``x_bar``, and raise)."""
    f = define("""
def f(w, x):
    m = len(x) - len(w) + 1
    y = w[0] * x[:m]
    for k in range(1, len(w)):
        y = y + w[k] * x[k : m + k]
    return np.sum(y * y) + np.sum(w * w)
""")
    rng = np.random.default_rng(5)
    gradient = overbar.grad(f, wrt=(0, 1))
    holds = [rng.normal(size=3), rng.normal(size=10)]
    breaks = [rng.normal(size=6), rng.normal(size=3)]
    stages = gradient.stages_for(*holds)  # kept, so the calls below run what it made
    general = dict(stages.simplified.bindings)["f_grad_general"]
    made = []  # after each call: whether the general adjoint has been made
    for args in (holds, breaks, holds):
        result = gradient(*args)
        for position in (0, 1):
            expected = _numeric(f, args, position)
            np.testing.assert_allclose(result[position], expected, rtol=1e-5, atol=1e-7)
        made.append(general._compiled is not None)
    assert made == [False, True, True]
    np.testing.assert_allclose(gradient(*breaks)[0], 2 * breaks[0])


def test_a_relation_that_is_proved_is_not_checked():
    """``np.zeros(m)`` raises for a negative ``m``: having run, it proves ``m ≥ 0``."""
    source = _gradient_and_source(CONVOLUTION, _arguments())
    assert "_general" not in source and "unbroadcast" not in source


def test_a_pullback_and_a_vjp_assume_nothing():
    """A helper's pullback is called by generated code, which checks nothing at its entry,
    and a vjp's two halves would both need the check: neither assumes a relation."""
    helper = define(OFFSET, name="f")
    caller = define(
        """
def g(w, x):
    return HELPER(w, x) * 2.0
""",
        name="g",
        namespace={"HELPER": helper},
    )
    rng = np.random.default_rng(6)
    args = [rng.normal(size=3), rng.normal(size=10)]
    gradient = overbar.grad(
        caller, wrt=(0, 1), optimise=overbar.Optimisations.parse("all,-inline")
    )
    result = gradient(*args)
    for position in (0, 1):
        np.testing.assert_allclose(result[position], _numeric(caller, args, position), rtol=1e-5)
    assert "_general" not in gradient.source_for(*args)
    value, pullback = overbar.vjp(helper, *args, wrt=(0, 1))
    for got, want in zip(pullback(1.0), overbar.grad(helper, wrt=(0, 1))(*args), strict=True):
        np.testing.assert_allclose(got, want)


DOTS = """
def f(w, x):
    m = w.shape[0]
    outputs = []
    for i in range(x.shape[0] - m + 1):
        outputs.append(PART)
    y = np.array(outputs)
    return np.sum(y ** 2)
"""


def test_the_adjoints_of_numbers_popped_from_a_list_are_not_shaped():
    """``adjoint_like(g, v)`` is ``g`` for a number ``v`` (``specialise.py``): the loop does not
    save the numbers it appended to shape their adjoints."""
    source = _gradient_and_source(DOTS.replace("PART", "np.dot(x[i : i + m], w)"), _arguments())
    assert "adjoint_like(tmp" not in source
    assert source.count("stack.append(") == 2  # the index and the trip count


def test_the_adjoints_of_arrays_popped_from_a_list_are_still_shaped():
    """An appended array's adjoint may be the runtime zero: it is still made its shape."""
    part = "x[i : i + m] * w"
    source = _gradient_and_source(DOTS.replace("PART", part), _arguments())
    assert "adjoint_like(tmp" in source


def test_a_row_iterated_and_its_element_are_read_again_from_the_matrix():
    """``for row in X`` is a loop over ``X``'s rows by index: the row is a view of ``X`` at
    an integer index, and ``X``, a parameter, is never written into."""
    source = """
def f(X, v):
    total = 0.0
    for row in X:
        first = row[0]
        total = total + first * np.sum(row * v)
    return total
"""
    rng = np.random.default_rng(11)
    generated = _gradient_and_source(source, [rng.normal(size=(4, 3)), rng.normal(size=3)])
    assert "stack.append(first)" not in generated and "stack.append(row)" not in generated
    assert "\n        first = row[0]\n" in _reverse_sweep(generated)


def test_second_derivatives_differentiate_the_adjoint_that_assumes_nothing():
    """A second derivative differentiates a gradient's adjoint again: it takes the one made
    without assuming lengths (the check's call of another adjoint has no derivative)."""
    f = define("""
def f(w, x):
    m = len(x) - len(w) + 1
    y = w[0] * x[:m]
    for k in range(1, len(w)):
        y = y + w[k] * x[k : m + k]
    return np.sum(y * y) + np.sum(w * w)
""")
    rng = np.random.default_rng(13)
    w, x = rng.normal(size=3), rng.normal(size=8)
    gradient = overbar.grad(f, wrt=0)
    assert "_general(w, x)" in gradient.source_for(w, x)
    eps = 1e-5
    numeric = np.array(
        [(gradient(w + eps * e, x) - gradient(w - eps * e, x)) / (2 * eps) for e in np.eye(3)]
    )
    np.testing.assert_allclose(overbar.hessian(f, wrt=0)(w, x), numeric, rtol=1e-6, atol=1e-6)
    (product,) = overbar.hvp(f, (w, x), (np.ones(3),), wrt=(0,))
    np.testing.assert_allclose(product, numeric @ np.ones(3), rtol=1e-6, atol=1e-6)
