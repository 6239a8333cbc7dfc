"""The adjoint specialised on the arguments' shapes: shape inference, the rules and rewrites it
enables, and the entry that finds the adjoint for a call's arguments."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.primitives import Method
from overbar.errors import ArgumentError, NonScalarOutputError
from overbar.runtime import NUMPY
from overbar.runtime.shapes import (
    INTEGER,
    MANY,
    Operand,
    Sequence,
    Size,
    anonymous,
    argument_shape,
    covers,
    infer_shape,
    is_many,
    same_length,
    slice_length,
    tuple_of,
    unbroadcast_axes,
)
from overbar.transpiler.kept import cache_of
from overbar.transpiler.normalize import normalize
from overbar.transpiler.parse import parse
from overbar.transpiler.shapes import infer
from tests.support import define

MLP = """
def loss(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = np.tanh(z)
    y = W2 @ h + b2
    return 0.5 * np.sum((y - t) ** 2)
"""


def mlp_arguments(batch, rng, bias_shape=None):
    return [
        rng.normal(size=(5, 3)),
        rng.normal(size=bias_shape or (5, 1)),
        rng.normal(size=(2, 5)),
        rng.normal(size=(2, 1)),
        rng.normal(size=(3, batch)),
        rng.normal(size=(2, batch)),
    ]


def shapes_of(source, name, **arguments):
    """What inference knows of each name, with the origins of lengths forgotten."""
    return {
        name: anonymous(shape)
        for name, shape in named_shapes_of(source, name, **arguments).items()
    }


def named_shapes_of(source, name, **arguments):
    function = define(source, name)
    parsed = parse(function)
    form = normalize(parsed)
    given = {key: argument_shape(value) for key, value in arguments.items()}
    return infer(form, given, parsed.namespace, NUMPY)


# -- the shape facts ---------------------------------------------------------------------------


def test_argument_shapes_keep_rank_and_which_dimensions_are_one():
    assert argument_shape(np.zeros((3, 1))) == (MANY, 1)
    assert argument_shape(np.zeros((0, 4))) == (MANY, MANY)  # empty is not one
    assert argument_shape(2.5) == ()
    assert argument_shape(3) == INTEGER
    assert argument_shape(True) is None  # a bool index adds an axis
    assert argument_shape([1.0, 2.0]) is None
    with pytest.warns(PendingDeprecationWarning):
        matrix = np.matrix([[1.0]])
    assert argument_shape(matrix) is None  # a subclass with other operators


def test_unbroadcast_axes_are_known_only_when_sizes_do_not_matter():
    assert unbroadcast_axes((MANY, MANY), (MANY, 1)) == ((), (1,))
    assert unbroadcast_axes((MANY, MANY), (MANY,)) == ((0,), ())
    assert unbroadcast_axes((MANY,), ()) == ((0,), ())
    assert unbroadcast_axes((MANY, 1), (MANY, 1)) == ((), ())
    assert unbroadcast_axes((MANY, MANY), (None, MANY)) is None  # 1 or not: not known
    assert unbroadcast_axes(None, (MANY,)) is None
    assert covers((MANY, MANY), (MANY, 1)) and covers((MANY, MANY), ())
    assert not covers((MANY, 1), (MANY, MANY)) and not covers((None,), (MANY,))


def test_inference_follows_matmul_broadcasting_reductions_and_indexing():
    source = """
def f(W, b, xs, n):
    h = W @ xs[0] + b
    s = np.sum(h, axis=0, keepdims=True)
    m = xs[:, 1:]
    k = xs.shape[0]
    r = xs[k - 1]
    v = W.T
    return np.sum(h) + np.sum(s) + np.sum(m) + np.sum(r) + np.sum(v) * n
"""
    rng = np.random.default_rng(0)
    known = shapes_of(
        source,
        "f",
        W=rng.normal(size=(4, 3)),
        b=rng.normal(size=(4, 1)),
        xs=rng.normal(size=(7, 3)),
        n=2,
    )
    assert known["h"] == (MANY, MANY)  # (4,) + (4, 1) broadcasts to (4, 4)
    assert known["s"] == (1, MANY)
    assert known["m"] == (MANY, None)  # a slice's length is not known
    assert known["k"] == INTEGER
    assert known["r"] == (MANY,)
    assert known["v"] == (MANY, MANY)


def test_a_numpy_float_made_of_a_value_has_the_values_shape():
    """np.float64(x) of a number is a 0-d NumPy float, of an array an array of its shape: a
    loop state made one keeps its shape (a float state's tangent was broadcast every step)."""
    source = """
def f(x, v, s):
    a = np.float64(x)
    b = np.float32(v)
    c = np.float64(s)
    for i in range(3):
        a = a - 0.1 * a ** 3
    return a + np.sum(b) + np.sum(c)
"""
    known = shapes_of(source, "f", x=0.5, v=np.ones((3, 2)), s=[1.0, 2.0])
    assert known["a"] == () and known["b"] == (MANY, MANY)
    assert "c" not in known  # a list whose length is not known
    assert np.shape(np.float64(np.ones((3, 2)))) == (3, 2)  # the fact the rule rests on
    f = define(source, "f")
    for x in (0.5, np.float64(0.7)):
        overbar.check_grad(f, (x, np.ones((3, 2)), [1.0, 2.0]))  # float32: too coarse for it
    f = define(source.replace("a + np.sum(b) + np.sum(c)", "a"), "f")
    source = overbar.grad(f, wrt=(0,)).source_for(0.5, np.ones((3, 2)), [1.0, 2.0])
    assert "broadcast_tangent" not in source and "unbroadcast" not in source


def test_squeeze_expand_dims_and_a_one_sided_clip_keep_shapes_known():
    source = """
def f(x, m, c):
    a = np.squeeze(m, 1)
    b = m.squeeze(axis=(1,))
    s = np.squeeze(m)
    t = np.squeeze(c)
    e = np.expand_dims(x, 0)
    g = np.expand_dims(x, (0, 2))
    h = np.clip(m, 0, None)
    k = x.clip(None, 1.0)
    l = np.clip(x, a_min=None, a_max=c)
    return np.sum(a) + np.sum(b) + np.sum(s) + np.sum(e) + np.sum(g) + np.sum(h) + np.sum(k) + np.sum(l)
"""
    rng = np.random.default_rng(0)
    arguments = {"x": rng.normal(size=4), "m": rng.normal(size=(4, 1)), "c": np.ones((2, 1))}
    known = shapes_of(source, "f", **arguments)
    assert known["a"] == known["b"] == known["s"] == (MANY,)
    assert known["t"] == (MANY,)  # (2, 1): the 1 goes, the 2 stays
    assert known["e"] == (1, MANY) and known["g"] == (1, MANY, 1)
    assert known["h"] == (MANY, 1) and known["k"] == (MANY,) and known["l"] == (MANY, MANY)
    assert define(source, "f")(**arguments) == pytest.approx(
        f_value := define(source, "f")(*arguments.values())
    ) and np.isfinite(f_value)
    assert np.expand_dims(arguments["x"], (0, 2)).shape == (1, 4, 1)  # the facts relied on
    assert np.clip(arguments["x"], None, arguments["c"]).shape == (2, 4)
    # a squeeze of dimensions whose lengths may be 1 is not known
    known = shapes_of(source.replace("np.squeeze(c)", "np.squeeze(x[1:2])"), "f", **arguments)
    assert "t" not in known
    overbar.check_grad(define(source, "f"), list(arguments.values()), wrt=(0, 1, 2))


def test_inference_joins_the_shapes_a_loop_gives_a_name():
    source = """
def f(x, v):
    a = x
    for i in range(3):
        a = a * v
    return np.sum(a)
"""
    known = shapes_of(source, "f", x=np.ones(3), v=np.ones((3, 3)))
    assert "a" not in known  # (3,) then (3, 3): the rank is not known
    known = shapes_of(source, "f", x=np.ones((1, 3)), v=np.ones((2, 3)))
    assert known["a"] == (None, MANY)


def test_bool_and_unknown_indices_leave_the_shape_unknown():
    source = """
def f(x, c, idx):
    a = x[c]
    b = x[idx]
    return np.sum(a) + np.sum(b)
"""
    known = shapes_of(source, "f", x=np.ones((3, 2)), c=True, idx=np.array([0, 2]))
    assert "a" not in known and "b" not in known


def test_inference_follows_arrays_made_in_the_function():
    source = """
def f(W, x, n):
    h = np.zeros(W.shape[0])
    g = np.zeros((len(x), 3))
    o = np.ones_like(W)
    e = np.eye(W.shape[1])
    z = np.zeros(n)
    k = np.full((1, 4), 2.0)
    a = np.arange(5)
    l = np.linspace(0.0, 1.0, 7)
    c = np.zeros(W.shape)
    return np.sum(h) + np.sum(g) + np.sum(o) + np.sum(e) + np.sum(z) + np.sum(k) + np.sum(a) + np.sum(l) + np.sum(c)
"""
    known = shapes_of(source, "f", W=np.ones((4, 1)), x=np.ones(5), n=3)
    assert known["h"] == (MANY,)
    assert known["g"] == (MANY, MANY)
    assert known["o"] == (MANY, 1)
    assert known["e"] == (1, 1)
    assert known["z"] == (None,)  # an integer argument may be 1
    assert known["k"] == (1, MANY)
    assert known["a"] == (MANY,) and known["l"] == (MANY,)
    assert known["c"] == (MANY, 1)


def test_a_made_state_keeps_its_shape_through_a_loop():
    source = """
def f(W, U, xs):
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ x + U @ h)
    return np.sum(h)
"""
    known = named_shapes_of(source, "f", W=np.ones((4, 3)), U=np.ones((4, 4)), xs=np.ones((6, 3)))
    assert anonymous(known["h"]) == (MANY,)
    assert known["h"] == known["W"][:1]  # known to be as long as W's rows


def test_slices_of_one_length_are_known_equal_though_each_may_be_one():
    source = """
def f(u):
    a = u[2:]
    b = u[1:-1]
    c = u[:-2]
    d = u[1:]
    e = u[:]
    g = u[None, :, None]
    k = u[..., 0:2]
    return np.sum(a - 2.0 * b + c) + np.sum(d) + np.sum(e) + np.sum(g) + np.sum(k)
"""
    known = named_shapes_of(source, "f", u=np.ones(6))
    assert known["a"] == known["b"] == known["c"] != known["d"]
    assert anonymous(known["a"]) == (None,)  # u of 3 elements gives 1
    assert known["e"] == known["u"]
    assert anonymous(known["g"]) == (1, MANY, 1)
    assert anonymous(known["k"]) == (MANY,)  # 2 elements, or none: never 1
    assert unbroadcast_axes(known["a"], known["b"]) == ((), ())
    assert unbroadcast_axes(known["a"], known["d"]) is None
    constant = named_shapes_of(
        source.replace("(u)", "(w)").replace("u[", "np.zeros(8)["), "f", w=1.0
    )
    assert anonymous(constant["a"]) == (MANY,)


def test_a_list_read_back_knows_what_its_elements_have_in_common():
    source = """
def f(h0, W, n):
    hs = [h0]
    for i in range(n):
        hs.append(np.tanh(W @ hs[-1]))
    last = hs[-1]
    return np.sum(last)
"""
    known = shapes_of(source, "f", h0=np.ones(4), W=np.ones((4, 4)), n=3)
    assert known["last"] == (MANY,)


def test_a_list_changed_other_than_by_appends_is_not_followed():
    source = """
def f(h0, W, n):
    hs = [h0]
    other = hs
    other.append(np.ones((2, 2)))
    last = hs[-1]
    ws = [h0]
    ws[0] = W
    first = ws[0]
    return np.sum(last) + np.sum(first)
"""
    known = shapes_of(source, "f", h0=np.ones(4), W=np.ones((4, 4)), n=3)
    assert "last" not in known and "first" not in known


# -- what the specialised adjoint reads like ---------------------------------------------------


def test_mlp_reads_like_the_derivation_by_hand():
    loss = define(MLP, "loss")
    gradient = overbar.grad(loss, wrt=("W1", "b1", "W2", "b2"))
    source = gradient.source_for(*mlp_arguments(8, np.random.default_rng(0)))
    assert "W2_bar = y_bar @ h.T" in source
    assert "h_bar = W2.T @ y_bar" in source
    assert "W1_bar = z_bar @ x.T" in source
    assert "b1_bar = z_bar.sum(axis=1, keepdims=True)" in source
    for helper in ("unbroadcast", "matmul_left_bar", "matmul_right_bar", "broadcast_like"):
        assert helper not in source, helper
    assert "unbroadcast" in gradient.source  # the general adjoint cannot know


def test_a_batch_of_one_needs_no_sum_over_the_batch():
    loss = define(MLP, "loss")
    gradient = overbar.grad(loss, wrt=("b1",))
    source = gradient.source_for(*mlp_arguments(1, np.random.default_rng(0)))
    assert "b1_bar = z_bar\n" in source and "keepdims" not in source


def test_vector_and_matrix_products_get_their_own_rules():
    f = define("def f(W, v, u):\n    return np.sum((W @ v) * (u @ W)) + v @ u\n")
    gradient = overbar.grad(f, wrt=(0, 1, 2))
    rng = np.random.default_rng(1)
    arguments = (rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3))
    source = gradient.source_for(*arguments)
    assert "np.outer(" in source and "matmul_left_bar" not in source
    overbar.check_grad(f, arguments, wrt=(0, 1, 2))


# -- the entry: the right adjoint for each call --------------------------------------------------


def test_a_new_batch_size_reuses_the_adjoint_and_a_batch_of_one_gets_its_own():
    loss = define(MLP, "loss")
    gradient = overbar.grad(loss, wrt=("W1", "b1", "W2", "b2"))
    rng = np.random.default_rng(2)
    for batch in (8, 5, 1, 3):
        arguments = mlp_arguments(batch, rng)
        overbar.check_grad(loss, arguments, wrt=(0, 1, 2, 3))
        gradient(*arguments)
    # the specialised adjoints compiled (shapes known)
    transformations = [key for key in cache_of(loss) if key[0] == "adjoint" and key[2]]
    assert len(transformations) == 2  # batch > 1 and batch 1
    assert len(gradient._specialised) == 4  # one entry per exact shape, two adjoints


def test_broadcasting_that_depends_on_a_size_of_one_is_right_either_way():
    f = define("def f(x, b):\n    return np.sum(np.sin(x + b) * x)\n")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    for b_shape in [(4, 1), (4, 3), (1, 3), (3,), (1,), ()]:
        b = rng.normal(size=b_shape) if b_shape else 0.7
        overbar.check_grad(f, [x, b], wrt=(0, 1))
        x_bar, b_bar = overbar.grad(f, wrt=(0, 1))(x, b)
        assert np.shape(b_bar) == np.shape(b)


def test_keywords_defaults_and_special_parameters_pass_through_the_entry():
    source = """
def f(x, /, scale=2.0, *, power=2):
    return scale * np.sum(x ** power)
"""
    f = define(source)
    gradient = overbar.grad(f)
    x = np.array([1.0, 2.0, 3.0])
    assert np.allclose(gradient(x), 4.0 * x)
    assert np.allclose(gradient(x, 3.0), 6.0 * x)
    assert np.allclose(gradient(x, 1.0, power=3), 3.0 * x**2)
    assert np.allclose(gradient(x, scale=0.5), x)
    with pytest.raises(TypeError):
        gradient(x=x)  # positional-only, as in the user's function
    with pytest.raises(TypeError):
        gradient(x, 1.0, 2)  # power is keyword-only


def test_arguments_to_differentiate_are_checked_on_every_call():
    f = define("def f(x, y):\n    return np.sum(x * y)\n")
    gradient = overbar.grad(f)
    y = np.ones(3)
    gradient(np.ones(3), y)
    with pytest.raises(ArgumentError, match="cannot differentiate"):
        gradient(np.ones(3, dtype=complex), y)  # the same shape, but complex
    assert gradient(np.ones(3, dtype=np.float32), y).dtype.kind == "f"
    assert gradient(np.arange(3), y).dtype.kind == "f"
    with pytest.raises(ArgumentError, match="cannot differentiate"):
        gradient(np.ones(3, dtype=complex), y)  # refused again: such keys are not remembered


def test_arguments_of_unknown_shape_get_the_general_adjoint():
    f = define("def f(x, parts):\n    return np.sum(x * np.stack(parts))\n")
    gradient = overbar.grad(f)
    parts = [np.ones(2), 2.0 * np.ones(2)]
    assert np.allclose(gradient(np.ones((2, 2)), parts), np.stack(parts))
    overbar.check_grad(f, [np.ones((2, 2)), parts])


def test_python_floats_specialise_as_scalars():
    f = define("""
def f(x, a):
    s = x
    for _ in range(5):
        s = np.sin(s) * a + 0.1 * s * x
    return np.sum(s)
""")
    gradient = overbar.grad(f, wrt=(0, 1))
    source = gradient.source_for(0.3, 0.9)
    assert "unbroadcast" not in source and "shape_of" not in source
    overbar.check_grad(f, [0.3, 0.9], wrt=(0, 1))
    overbar.check_grad(f, [np.array([0.3, 0.4]), 0.9], wrt=(0, 1))


def test_a_non_scalar_result_is_still_refused_with_the_users_line():
    f = define("def f(x):\n    return x * 2.0\n")
    with pytest.raises(NonScalarOutputError, match="scalar") as error:
        overbar.grad(f)(np.ones(3))
    assert error.value.location is not None
    with pytest.raises(NonScalarOutputError):
        overbar.grad(f)(np.ones(3))  # the second call goes through the entry's fast path


# -- the peephole rewrites ---------------------------------------------------------------------


def test_the_adjoint_of_a_sum_is_not_broadcast_when_a_product_broadcasts_it_anyway():
    f = define("def f(x):\n    return np.sum(np.sin(x) * np.exp(-x) + np.log1p(x * x))\n")
    gradient = overbar.grad(f)
    x = np.linspace(0.1, 1.0, 7)
    source = gradient.source_for(x)
    assert "broadcast_like" not in source and "+ -" not in source
    overbar.check_grad(f, [x])


def test_a_broadcast_that_sets_the_shape_is_kept():
    f = define("def f(x, y):\n    return np.sum(x) * np.sum(y)\n")
    gradient = overbar.grad(f, wrt=(0, 1))
    x, y = np.ones(3), np.ones((2, 2))
    x_bar, y_bar = gradient(x, y)
    assert x_bar.shape == (3,) and y_bar.shape == (2, 2)
    assert np.allclose(x_bar, 4.0) and np.allclose(y_bar, 3.0)


def test_double_negations_cancel():
    f = define("def f(z):\n    return np.sum(1.0 / (1.0 + np.exp(-z)))\n")
    z = np.linspace(-2.0, 2.0, 5)
    source = overbar.grad(f).source_for(z)
    assert "-(-" not in source and "--" not in source
    overbar.check_grad(f, [z])


@pytest.mark.unchecked  # a deliberately wrong rule / ties: no derivative
def test_ties_share_the_adjoint_of_a_maximum_with_or_without_kept_axes():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    kept = define("def f(a):\n    return np.sum(np.max(a, axis=1, keepdims=True) * a[:, :1])\n")
    dropped = define("def f(a):\n    return np.sum(np.max(a, axis=1) * a[:, 0])\n")
    expected = np.array([[3.0 + 0.0, 0.5, 0.5], [2.0 + 2 / 3, 2 / 3, 2 / 3]])
    for f in (kept, dropped):
        gradient = overbar.grad(f)
        assert np.allclose(gradient(a), expected)
        assert np.allclose(gradient.stages.emitted.function(a), expected)


def test_shapes_flow_through_the_users_own_functions():
    source = """
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def twice(v):
    return v + v


def f(W, x):
    h = sigmoid(W @ x)
    return np.sum(twice(h) @ x.T)
"""
    f = define(source)
    rng = np.random.default_rng(4)
    W, x = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    known = shapes_of(source, "f", W=W, x=x)
    assert known["h"] == (MANY, MANY)
    assert any(shape == (MANY, MANY) for name, shape in known.items() if name.startswith("tmp"))
    overbar.check_grad(f, [W, x], wrt=(0, 1))


def test_the_seed_is_multiplied_in_only_where_it_matters():
    f = define("def f(x):\n    return np.sum(np.exp(x) * np.sin(x))\n")
    x = np.linspace(-1.0, 1.0, 5)
    source = overbar.grad(f).source_for(x)
    assert "1.0 *" not in source  # exp(x) is floating point: the product is a new float array
    overbar.check_grad(f, [x])


def test_a_gradient_never_aliases_an_argument_and_stays_floating_point():
    product = define("def f(x, y):\n    return np.sum(x * y)\n")
    y = np.arange(3.0)
    x_bar = overbar.grad(product)(np.ones(3), y)
    assert x_bar is not y and not np.shares_memory(x_bar, y)
    integers = define("def f(x, k, m):\n    return np.sum(x * k * m)\n")
    k, m = np.array([1, 2, 3]), np.array([2, 2, 2])
    x_bar = overbar.grad(integers)(np.ones(3), k, m)
    assert x_bar.dtype.kind == "f" and np.array_equal(x_bar, k * m)


def test_a_complex_result_is_refused_even_where_shapes_are_known():
    f = define("def f(x, c):\n    return np.sum(x * c)\n")
    gradient = overbar.grad(f)
    x = np.ones(3)
    assert np.allclose(gradient(x, np.full(3, 2.0)), 2.0)
    for _ in range(2):  # the second call would find a remembered adjoint if the key allowed it
        with pytest.raises(NonScalarOutputError, match="real"):
            gradient(x, np.full(3, 2.0 + 1.0j))


def test_two_contributions_scaled_by_the_same_adjoint_are_factored():
    source = """
def f(x, k):
    s = x
    for _ in range(20):
        s = np.sin(s) * 0.9 + 0.1 * s * k
    return np.sum(s)
"""
    f = define(source)
    gradient = overbar.grad(f, wrt=(0, 1))
    cases = [(0.3, 0.7), (np.linspace(0.1, 0.5, 4), 0.7), (0.3, np.array([0.2, 0.6]))]
    for x, k in cases:
        if np.ndim(x) >= np.ndim(k):  # else s changes rank in the loop: its shape is not known
            text = gradient.source_for(x, k)
            assert "s_bar = s_bar * (k * 0.1 + 0.9 * np.cos(s))" in text, text
        overbar.check_grad(f, [x, k], wrt=(0, 1))
        general = gradient.stages.emitted.function(x, k)
        for got, expected in zip(gradient(x, k), general, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_contributions_are_not_factored_across_a_change_of_a_factor():
    source = """
def f(x, k):
    a = x * k
    b = np.sin(x)
    return np.sum(a * b)
"""
    f = define(source)
    overbar.check_grad(f, [np.linspace(0.1, 0.9, 3), 1.3], wrt=(0, 1))


def test_contributions_ending_in_the_same_factor_are_added_first():
    f = define("def f(x):\n    return np.sum(np.sin(x) * np.exp(-(x**2)) + np.log1p(x * x))\n")
    x = np.linspace(-1.0, 1.0, 6)
    source = overbar.grad(f).source_for(x)
    assert "x_bar = (2.0 / (1 + x * x) - 2 * np.sin(x) * tmp4) * x" in source, source
    overbar.check_grad(f, [x])


def test_a_term_that_reads_the_adjoint_it_adds_to_is_not_merged():
    source = """
def f(x, y):
    a = x * y
    b = a * y
    return np.sum(b + a)
"""
    f = define(source)
    rng = np.random.default_rng(5)
    overbar.check_grad(f, [rng.normal(size=4), rng.normal(size=4)], wrt=(0, 1))


def test_parameters_named_like_the_entrys_own_names_are_passed_untouched():
    source = """
def f(x, key, type, compiled, returned, slow):
    return np.sum(x * key) * type + compiled - returned + slow
"""
    f = define(source)
    gradient = overbar.grad(f)
    for _ in range(2):  # the slow path, then the remembered adjoint
        assert np.allclose(gradient(np.ones(3), np.arange(3.0), 2.0, 1.0, 1.0, 1.0), [0, 2, 4])


def test_inference_knows_tuples_their_lengths_and_elements_through_helpers():
    """A tuple's adjoint is a tuple: the reverse sweep must know which values are tuples, also
    ones a helper returns (issue 8). A list's length and elements change with appends; one
    that nothing can change (only read by index here) is known as its display made it."""
    source = """
def pair(p):
    return np.sum(p), p

def f(x, n):
    t = pair(x)
    u = (t, x * 2.0)
    a = t[1]
    b = u[0][0]
    s = u[1:]
    lst = [x, n]
    c = lst[0]
    for i in range(n):
        d = t[i]
    return a, b, c, d, s
"""
    known = shapes_of(source, "f", x=np.ones((3, 1)), n=2)
    assert known["t"] == Sequence(2, ((), (MANY, 1)))
    assert known["u"] == Sequence(2, (known["t"], (MANY, 1)))
    assert known["a"] == (MANY, 1) and known["b"] == () and known["s"] == Sequence(1, ((MANY, 1),))
    assert known["lst"].length == 2 and known["c"] == (MANY, 1)
    assert "d" not in known  # () or (MANY, 1): the rank is not known
    function = define(source, "f")
    parsed = parse(function)
    literal = infer(normalize(parsed), {}, parsed.namespace, NUMPY, specialise=False)
    assert literal["t"] == Sequence(2, (None, None)) and literal["lst"].length == 2
    assert "a" not in literal and "n" not in literal  # nothing to specialise on


def test_np_dot_and_the_dot_method_get_the_rules_for_their_ranks():
    source = """
def f(W, U, h, x):
    return np.sum(np.tanh(np.dot(W, h) + U.dot(x)))
"""
    function = define(source, "f")
    rng = np.random.default_rng(0)
    arguments = [rng.normal(size=(4, 4)), rng.normal(size=(4, 3)), rng.normal(size=4)]
    arguments.append(rng.normal(size=3))
    text = overbar.grad(function, wrt=(0, 1, 2)).source_for(*arguments)
    assert "dot_left_bar" not in text and "dot_right_bar" not in text
    assert "np.outer(" in text and "W.T @" in text
    overbar.check_grad(function, arguments, wrt=(0, 1, 2))


def test_a_state_made_with_zeros_keeps_the_adjoint_specialised():
    source = """
def f(W, xs):
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
    return np.sum(h)
"""
    function = define(source, "f")
    rng = np.random.default_rng(1)
    for size in (1, 4):
        arguments = [rng.normal(size=(size, size)) * 0.5, rng.normal(size=(3, size))]
        text = overbar.grad(function).source_for(*arguments)
        assert "matmul_left_bar" not in text and "unbroadcast" not in text
        overbar.check_grad(function, arguments)


@pytest.mark.parametrize("size", [3, 4, 9])
def test_a_stencil_of_slices_needs_no_unbroadcast_even_where_a_slice_has_one_element(size):
    source = """
def f(u, r):
    v = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(v ** 2)
"""
    function = define(source, "f")
    arguments = [np.random.default_rng(size).normal(size=size), 0.3]
    text = overbar.grad(function, wrt=(0, 1)).source_for(*arguments)
    assert "unbroadcast(" not in text.split("r_bar")[0]
    overbar.check_grad(function, arguments, wrt=(0, 1))


def test_slices_laid_end_to_end_have_the_length_they_were_cut_from():
    n = Size(("u", 0), True)
    pieces = [
        slice_length(n, bounds) for bounds in (slice(None, 1), slice(1, -1), slice(-1, None))
    ]
    joined = infer_shape(np.concatenate, (Operand(tuple_of(tuple((p,) for p in pieces))),), {})
    assert joined == (n,)
    # without the first piece: shorter, by one, for every length u may have
    shorter = infer_shape(
        np.concatenate, (Operand(tuple_of(tuple((p,) for p in pieces[1:]))),), {}
    )
    assert shorter != (n,) and not same_length(shorter[0], n)
    assert same_length(shorter[0], slice_length(n, slice(1, None)))
    # u may have length 1 when not known not to: then u[:1], u[1:-1], u[-1:] make 2
    maybe_one = Size(("u", 0), False)
    pieces = [slice_length(maybe_one, b) for b in (slice(None, 1), slice(1, -1), slice(-1, None))]
    joined = infer_shape(np.concatenate, (Operand(tuple_of(tuple((p,) for p in pieces))),), {})
    assert joined is None or not same_length(joined[0], maybe_one)


def test_a_stack_adds_an_axis_as_long_as_its_pieces():
    n = Size(("x", 0), True)
    stacked = infer_shape(
        np.stack, (Operand(tuple_of(((n,), (n,), (n,)))),), {"axis": Operand(1, 1, True)}
    )
    assert stacked[0] == n and stacked[1] == Size(("constant", 3), True)


def test_pieces_each_known_not_to_have_length_one_join_to_a_length_not_one():
    n, m = Size(("x", 0), True), Size(("h", 1), True)
    joined = infer_shape(np.concatenate, (Operand(tuple_of(((n,), (m,)))),), {})
    assert joined is not None and is_many(joined[0])  # no sum of lengths other than 1 is 1
    maybe_one = Size(("h", 1), False)
    joined = infer_shape(np.concatenate, (Operand(tuple_of(((n,), (maybe_one,)))),), {})
    assert joined is None or not is_many(joined[0])  # 0 + 1 is 1


LSTM_CELL = """
def f(Wi, Wg, xs, h0):
    h = h0
    c = np.zeros_like(h0)
    for x in xs:
        PIECES
        i = 1.0 / (1.0 + np.exp(-(z @ Wi)))
        g = np.tanh(z @ Wg)
        c = i * c + i * g
        h = np.tanh(c)
    return np.mean(h ** 2)
"""


@pytest.mark.parametrize(
    "pieces",
    [
        "z = np.concatenate([x, h], axis=1)",
        "z = np.concatenate((x, h), axis=1)",
        "parts = [x, h]\n        z = np.concatenate(parts, axis=1)",
        "z = np.hstack([x, h])",
    ],
)
def test_a_state_joined_to_the_input_keeps_the_adjoint_specialised(pieces):
    source = LSTM_CELL.replace("PIECES", pieces)
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(7, 4)), rng.normal(size=(7, 4)), rng.normal(size=(5, 2, 3))]
    args.append(rng.normal(size=(2, 4)))
    known = shapes_of(source, "f", **dict(zip(("Wi", "Wg", "xs", "h0"), args)))
    assert known["z"] == (MANY, MANY) and known["h"] == (MANY, MANY)
    f = define(source, "f")
    gradient = overbar.grad(f, wrt=(0, 1))
    gradient(*args)  # checked by the guard against the literal adjoint and differences
    source = gradient.source_for(*args)
    for general in ("matmul_left_bar", "matmul_right_bar", "unbroadcast", "shape_of"):
        assert general not in source


@pytest.mark.parametrize(
    "change",
    ["parts.append(x)", "parts[0] = x * 2.0", "keep = parts", "grow(parts, x)"],
)
def test_a_list_that_may_change_is_not_read_as_its_display(change):
    source = f"""
def grow(items, item):
    items.append(item)
    return 0.0

def f(x, h):
    parts = [x, h]
    {change}
    z = np.concatenate(parts, axis=1)
    return np.sum(z * z)
"""
    known = shapes_of(source, "f", x=np.ones((2, 3)), h=np.ones((2, 4)))
    assert known.get("parts") is None or known["parts"].elements is None


def test_hstack_and_vstack_have_the_shapes_numpy_gives():
    n, m = Size(("x", 0), True), Size(("y", 0), True)
    rows = Operand(tuple_of(((n,), (n,), (n,))))
    assert infer_shape(np.vstack, (rows,), {}) == (Size(("constant", 3), True), n)
    assert is_many(infer_shape(np.hstack, (rows,), {})[0])  # three pieces end to end
    blocks = Operand(tuple_of(((n, m), (n, 1))))
    assert infer_shape(np.hstack, (blocks,), {})[0] == n
    for made in (np.hstack, np.vstack):
        for pieces in ([np.ones(3), np.ones(3)], [np.ones((2, 3)), np.ones((2, 3))]):
            shapes = tuple(argument_shape(p) for p in pieces)
            known = infer_shape(made, (Operand(tuple_of(shapes)),), {})
            assert len(known) == made(pieces).ndim


def test_reshape_and_ravel_have_the_shapes_numpy_gives():
    n, m = Size(("x", 0), True), Size(("x", 1), True)
    vector, matrix = Operand((n,)), Operand((n, m))
    minus_one, one = Operand((), -1, True), Operand((), 1, True)
    method = Method("reshape")
    assert infer_shape(method, (vector, minus_one, one), {}) == (n, 1)
    assert infer_shape(method, (vector, Operand(None, (-1, 1), True)), {}) == (n, 1)
    assert infer_shape(np.reshape, (vector, Operand(None, (1, -1), True)), {}) == (1, n)
    assert is_many(infer_shape(np.reshape, (matrix, minus_one), {})[0])  # n m, never 1
    # (n m / 3, 3): the first length may be 1
    assert infer_shape(method, (matrix, minus_one, Operand((), 3, True)), {})[0] is None
    assert infer_shape(Method("ravel"), (Operand((n, 1)),), {}) == (n,)
    assert infer_shape(np.ravel, (Operand((1, 1)),), {}) == (1,)
    assert infer_shape(Method("flatten"), (Operand((n, Size(None, False))),), {}) == (None,)
    assert infer_shape(np.average, (matrix,), {"axis": Operand((), 1, True)}) == (n,)
    assert infer_shape(np.average, (matrix,), {"weights": Operand((n, m))}) is None
    for shape, spec in [((3,), (-1, 1)), ((2, 3), (-1,)), ((1, 4), (4, -1)), ((5,), (1, 5))]:
        known = infer_shape(
            np.reshape, (Operand(argument_shape(np.ones(shape))), Operand(None, spec, True)), {}
        )
        made = np.ones(shape).reshape(spec).shape
        assert len(known) == len(made)
        assert all(k is None or (k == 1) == (d == 1) for k, d in zip(known, made))


@pytest.mark.parametrize(
    "body",
    [
        "m = X.max(axis=1).reshape(-1, 1)\n    return np.sum(np.log(np.exp(X - m).sum(axis=1)) + m.ravel())",
        "m = np.reshape(np.max(X, axis=1), (-1, 1))\n    return np.sum(np.log(np.sum(np.exp(X - m), axis=1)) + m.flatten())",
        "return np.average((X @ np.ones(X.shape[1]) - 1.0) ** 2)",
    ],
)
def test_reshaped_and_averaged_values_keep_the_adjoint_specialised(body):
    f = define(f"def f(X):\n    {body}\n")
    X = np.random.default_rng(2).normal(size=(4, 3))
    gradient = overbar.grad(f)
    gradient(X)  # checked by the guard against the literal adjoint and differences
    source = gradient.source_for(X)
    for general in ("seed(", "unbroadcast", "expand_reduced", "reduced_count", "shape_of"):
        assert general not in source


def test_norms_reduce_the_axes_they_are_taken_over():
    n, m = Size(("x", 0), True), Size(("x", 1), True)
    matrix, vector = Operand((n, m)), Operand((n,))
    norm = np.linalg.norm
    assert infer_shape(norm, (vector,), {}) == ()
    assert infer_shape(norm, (matrix, Operand((), "fro", True)), {}) == ()
    assert infer_shape(norm, (matrix,), {"axis": Operand((), 1, True)}) == (n,)
    kept = {"axis": Operand((), (0, 1), True), "keepdims": Operand((), True, True)}
    assert infer_shape(norm, (matrix,), kept) == (1, 1)
    f = define("def f(w, X, y):\n    return np.linalg.norm(X @ w - y) ** 2 / len(y)\n")
    rng = np.random.default_rng(4)
    args = [rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)]
    gradient = overbar.grad(f)
    gradient(*args)
    assert "seed(" not in gradient.source_for(*args)
    assert "unbroadcast" not in gradient.source_for(*args)


def test_einsum_gives_each_output_label_the_length_an_operand_gives_it():
    b, i, j = (Size(("x", k), True) for k in range(3))
    text = lambda s: Operand((), s, True)  # noqa: E731
    matrix, weights = Operand((b, i)), Operand((i, j))
    assert infer_shape(np.einsum, (text("bi,ij->bj"), matrix, weights), {}) == (b, j)
    assert infer_shape(np.einsum, (text("bi,ij"), matrix, weights), {}) == (b, j)  # implicit
    assert infer_shape(np.einsum, (text("ij->ji"), weights), {}) == (j, i)
    assert infer_shape(np.einsum, (text("ij->"), weights), {}) == ()
    ones = Operand((1, j))  # a label of length 1 broadcast against j
    assert infer_shape(np.einsum, (text("ij,ij->ij"), ones, weights), {}) == (i, j)
    assert infer_shape(np.einsum, (text("...i,ij->...j"), matrix, weights), {}) is None
    assert infer_shape(np.einsum, (text("bi,ij->bj"), matrix), {}) is None  # one too few


def test_an_rnn_written_with_einsum_keeps_its_adjoint_specialised():
    f = define("""
        def f(W, U, b, xs, h0):
            h = h0
            for t in range(len(xs)):
                h = np.tanh(np.einsum("bi,ij->bj", h, W) + np.einsum("bi,ij", xs[t], U) + b)
            return np.sum(h ** 2)
        """)
    rng = np.random.default_rng(5)
    args = [rng.normal(size=(3, 3)), rng.normal(size=(2, 3)), rng.normal(size=3)]
    args += [rng.normal(size=(4, 5, 2)), rng.normal(size=(5, 3))]
    gradient = overbar.grad(f, wrt=(0, 1, 2))
    gradient(*args)  # checked by the guard against the literal adjoint and differences
    source = gradient.source_for(*args)
    assert "unbroadcast" not in source and "shape_of" not in source


def test_a_python_power_that_turns_complex_is_refused_not_returned():
    f = define("def f(a, b):\n    return a ** b\n")
    gradient = overbar.grad(f)
    assert gradient(1.7, 2.1) == pytest.approx(2.1 * 1.7**1.1)
    with pytest.raises(NonScalarOutputError, match="real"):
        gradient(-1.7, 2.1)  # Python's (-1.7) ** 2.1 is complex
    squares = define("def f(a):\n    return a ** 2.0 + 2.0 ** a + a ** 3\n")
    squared = overbar.grad(squares)
    assert squared(-1.5) == pytest.approx(-3.0 + np.log(2.0) * 2.0**-1.5 + 3 * 2.25)
    assert "seed(" not in squared.source_for(-1.5)  # real for every real a: nothing to check


@pytest.mark.parametrize(
    "display, rank",
    [
        ("[a, b, 1.0]", 1),
        ("([a, b], [b, a])", 2),
        ("[v, w]", 2),
        ("[v, 2.0 * v]", 2),
        ("[v, a]", None),  # NumPy refuses elements of other ranks
        ("[a]", 1),
    ],
)
def test_np_array_of_a_display_has_its_length_then_what_every_element_has(display, rank):
    source = f"""
def f(a, b, v, w):
    y = np.array({display}, dtype=float)
    return np.sum(y)
"""
    found = named_shapes_of(source, "f", a=1.0, b=2.0, v=np.ones(4), w=np.ones(4)).get("y")
    assert (None if found is None else len(found)) == rank
    if display == "[v, 2.0 * v]":  # the length of v, known to be v's
        assert (
            found[1]
            == named_shapes_of(source, "f", a=1.0, b=2.0, v=np.ones(4), w=np.ones(4))["v"][0]
        )
    if display == "[a]":
        assert found == (1,)
