"""Tuples and lists joined (``s + t``) or repeated (``s * 3``) by Python's operators.

Python concatenates there, where NumPy would add elementwise: the join's adjoint splits the
result's adjoint by the operands' lengths (written out where they are known now, else
``joined_bar``), and a repetition's adds the pieces (``repeated_bar``). ``+=`` on a tuple, or
on a new list no other name holds, is the same join. Where the kind or the length of an
operand is not known, the line is refused at the user's line; a constant tuple of numbers
multiplying or added to an array is NumPy's elementwise operation, and is differentiated as
one.
"""

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError, UnsupportedSyntaxError
from overbar.runtime import helpers
from tests.support import define, directional_check

JOINED = {
    "list_repeated": """
        def f(x, y):
            xs = [x, y]
            ys = xs * 2
            return np.sum(ys[0] * ys[1] + 3.0 * ys[2] + ys[3] ** 2)
    """,
    "tuple_joined": """
        def f(x, y):
            t = (x, y * x)
            u = t + t
            return np.sum(u[0] + 2.0 * u[2] + u[3])
    """,
    "tuple_repeated": """
        def f(x, y):
            t = (x, y)
            u = t * 3
            return np.sum(u[0] * u[1] * u[4])
    """,
    "repeated_on_the_left": """
        def f(x, y):
            ys = 3 * [x, y]
            return np.sum(np.stack(ys) ** 2)
    """,
    "joined_with_a_display": """
        def f(x, y):
            xs = [x * y]
            ys = xs + [y]
            return np.sum(ys[0] * ys[1])
    """,
    "display_on_the_left": """
        def f(x, y):
            t = (y, x * y)
            u = (np.sin(x),) + t
            return np.sum(u[0] * u[2] + u[1])
    """,
    "constants_joined_to_a_differentiated_list": """
        def f(x, y):
            xs = [x, y]
            ys = [np.ones(3), 2.0 * np.ones(3)] + xs + [np.full(3, 0.5)]
            return np.sum(ys[0] * ys[2] + ys[1] * ys[3] * ys[4])
    """,
    "repeated_then_indexed_from_the_end": """
        def f(x, y):
            ys = [x * y] * 4
            return np.sum(ys[-1] * ys[0] + np.tanh(ys[2]))
    """,
    "pairs_repeated": """
        def f(x, y):
            pairs = [(x, y)] * 2 + [(y, x)]
            total = 0.0
            for a, b in pairs:
                total = total + np.sum(a * np.sin(b))
            return total
    """,
    "repeated_then_replaced_by_index": """
        def f(x, y):
            hs = [x] * 3
            for t in range(1, 3):
                hs[t] = np.tanh(hs[t - 1] * y)
            return np.sum(hs[2] + hs[0] * hs[1])
    """,
    "replaced_element_never_read": """
        def f(x, y):
            hs = [x] * 3
            for t in range(1, 3):
                hs[t] = np.tanh(hs[t - 1] * y)
            return np.sum(hs[1] * y)
    """,
    "zeros_repeated_then_replaced_by_arrays": """
        def f(x, y):
            hs = [0.0] * 3
            for t in range(1, 3):
                hs[t] = np.tanh(hs[t - 1] + x * y * t)
            return np.sum(hs[2] * hs[1] + hs[0])
    """,
    "one_array_repeated_read_many_times": """
        def f(x, y):
            a = x * y
            hs = [a] * 3
            s = 0.0
            for h in hs:
                s = s + np.sum(h * h)
            b = hs[0] + hs[1]
            return s + np.sum(b * a)
    """,
    "a_tuple_joined_to_itself_read_in_a_loop": """
        def f(x, y):
            t = (x, x * y)
            u = t + t
            acc = u[0] * 1.0
            for k in range(1, 4):
                acc = acc + u[k] * k
            return np.sum(acc * u[1] + t[0])
    """,
    "pairs_joined_then_read_by_two_indices": """
        def f(x, y):
            ps = [(x, y)] * 2
            ps = ps + [(y, x * y)]
            total = 0.0
            for a, b in ps:
                total = total + np.sum(a * b)
            return total + np.sum(ps[0][0] * ps[2][1])
    """,
    "joined_in_a_loop": """
        def f(x, y):
            hs = []
            h = x
            for t in range(3):
                h = np.tanh(h * y)
                hs = hs + [h]
            return np.sum(np.stack(hs) ** 2)
    """,
    "tuple_of_a_length_not_known_repeated": """
        def f(x, y):
            hs = ()
            h = x
            for t in range(3):
                h = np.tanh(h * y)
                hs = (h,) + hs
            out = hs * 2
            return np.sum(out[0] * out[-1] + out[1])
    """,
    "parameter_tuple_joined_in_a_helper": """
        def g(params):
            every = params + (params[0] * 2.0,)
            return np.sum(every[0] * every[1] + every[2] ** 2)

        def f(x, y):
            return g((x, y))
    """,
    "starred_displays": """
        def f(x, y):
            xs = [x, y]
            ys = (*xs, x * y)
            zs = [*xs, *ys]
            return np.sum(zs[0] * zs[4] + zs[3])
    """,
    "list_extended_in_place": """
        def f(x, y):
            xs = [x]
            xs += [y * x]
            return np.sum(xs[1] * xs[0])
    """,
    "list_extended_in_place_in_a_loop": """
        def f(x, y):
            hs = [x]
            for t in range(3):
                hs += [np.tanh(hs[-1] * y)]
            return np.sum(np.stack(hs) ** 2)
    """,
    "tuple_joined_in_place_another_name_holds": """
        def f(x, y):
            t = (x,)
            u = t
            t += (y * x, y)
            return np.sum(t[1] * u[0] + t[2] * t[0])
    """,
    "list_repeated_in_place": """
        def f(x, y):
            t = [x, y]
            t *= 2
            return np.sum(t[1] * t[2] + t[3])
    """,
}

ELEMENTWISE = {
    "array_times_constant_tuple": """
        def f(x, y):
            s = (1.0, 2.0, 3.0)
            return np.sum(x * s + y)
    """,
    "array_plus_constant_list": """
        def f(x, y):
            s = [1.0, 2.0, 3.0]
            return np.sum((x + s) * y)
    """,
    "array_times_tuple_display": """
        def f(x, y):
            return np.sum(x * (0.5, 1.0, 2.0) * y)
    """,
}

REFUSED = {
    "a_name_sometimes_an_array": (
        """
        def f(x, y):
            t = [x, y]
            if np.sum(x) > 100.0:
                t = x
            u = t + [y]
            return np.sum(u[0] * u[2])
        """,
        "joins or repeats a tuple or list whose length or kind is not known",
    ),
    "a_list_extended_in_place_that_another_name_holds": (
        """
        def f(x, y):
            xs = [x]
            alias = xs
            xs += [y * x]
            return np.sum(alias[1] * alias[0])
        """,
        "another name holds too",
    ),
    "a_list_extended_in_place_by_a_name": (
        """
        def f(x, y):
            xs = [x]
            ys = [y]
            xs += ys
            return np.sum(xs[1] * xs[0])
        """,
        "augmented assignment to xs",
    ),
}

ARGUMENTS = (np.arange(1.0, 4.0), np.linspace(-1.0, 1.0, 3))


def _assert_gradients_right(f, gradients, arguments):
    for _, analytic, numeric in directional_check(f, list(arguments), [0, 1], gradients):
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(JOINED))
def test_a_differentiated_sequence_joined_or_repeated(name, optimise):
    f = define(JOINED[name])
    gradients = overbar.grad(f, wrt=("x", "y"), optimise=optimise)(*ARGUMENTS)
    _assert_gradients_right(f, gradients, ARGUMENTS)


@pytest.mark.parametrize("name", sorted(JOINED))
def test_the_literal_and_the_optimised_adjoint_agree(name):
    f = define(JOINED[name])
    overbar.grad(f, wrt=("x", "y"), check=True)(*ARGUMENTS)


@pytest.mark.parametrize("name", sorted(JOINED))
def test_the_general_adjoint_agrees(name):
    """The adjoint compiled for arguments of any shape (lengths known from displays only)."""
    f = define(JOINED[name])
    gradient = overbar.grad(f, wrt=("x", "y"))
    general = gradient.stages.emitted.function(*ARGUMENTS)
    for a, b in zip(general, gradient(*ARGUMENTS), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(JOINED))
def test_jvp_of_a_join(name):
    f = define(JOINED[name])
    rng = np.random.default_rng(1)
    x, y = ARGUMENTS
    u, v = rng.standard_normal(3), rng.standard_normal(3)
    eps = 1e-6
    _, tangent = overbar.jvp(f, (x, y), (u, v))
    numeric = (f(x + eps * u, y + eps * v) - f(x - eps * u, y - eps * v)) / (2 * eps)
    assert tangent == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(JOINED))
def test_hvp_of_a_join(name, optimise):
    f = define(JOINED[name])
    rng = np.random.default_rng(2)
    x, y = ARGUMENTS
    u, v = rng.standard_normal(3), rng.standard_normal(3)
    products = overbar.hvp(f, (x, y), (u, v), wrt=(0, 1), optimise=optimise)
    gradient = overbar.grad(f, wrt=(0, 1))
    eps = 1e-6
    ahead, behind = gradient(x + eps * u, y + eps * v), gradient(x - eps * u, y - eps * v)
    for product, a, b in zip(products, ahead, behind, strict=True):
        np.testing.assert_allclose(product, (a - b) / (2 * eps), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_a_list_repeated_by_a_count_passed_in(steps, optimise):
    """``hs = [h0] * T``, then each element replaced by index: a count the literal adjoint
    does not know to be an integer is checked to be one when it runs."""
    f = define("""
        def f(x, y, steps):
            hs = [x] * (steps + 1)
            for t in range(1, steps + 1):
                hs[t] = np.tanh(hs[t - 1] * y + 0.1 * t)
            return np.sum(hs[-1] ** 2 + hs[0] * hs[steps // 2])
        """)
    x, y = ARGUMENTS
    gradients = overbar.grad(f, wrt=(0, 1), optimise=optimise)(x, y, steps)
    _assert_gradients_right(lambda a, b: f(a, b, steps), gradients, ARGUMENTS)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("length", [1, 2, 4])
def test_a_parameter_tuple_joined(length, optimise):
    """A tuple passed in and differentiated, joined to a display on either side and
    repeated: its gradient is a tuple of its length."""
    f = define("""
        def f(params, x):
            every = (x,) + params + (x * x,)
            twice = every * 2
            total = 0.0
            for k in range(len(twice)):
                total = total + (k + 1.0) * np.sum(np.sin(twice[k]) * twice[-1 - k])
            return total
        """)
    rng = np.random.default_rng(length)
    params = tuple(rng.standard_normal(3) for _ in range(length))
    x = rng.standard_normal(3)
    gradient, x_gradient = overbar.grad(f, wrt=(0, 1), optimise=optimise)(params, x)
    assert isinstance(gradient, tuple) and len(gradient) == length
    eps = 1e-6
    for position in range(length):
        direction = rng.standard_normal(3)
        moved = [list(params), list(params)]
        moved[0][position] = params[position] + eps * direction
        moved[1][position] = params[position] - eps * direction
        numeric = (f(tuple(moved[0]), x) - f(tuple(moved[1]), x)) / (2 * eps)
        analytic = float(np.sum(gradient[position] * direction))
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    direction = rng.standard_normal(3)
    numeric = (f(params, x + eps * direction) - f(params, x - eps * direction)) / (2 * eps)
    assert float(np.sum(x_gradient * direction)) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("steps", [0, 1, 3])
def test_a_list_joined_in_a_loop_of_several_lengths(steps, optimise):
    f = define("""
        def f(x, y, steps):
            hs = [x]
            for t in range(steps):
                hs = [np.tanh(hs[0] * y)] + hs
            return np.sum(np.stack(hs + hs) ** 2) + np.sum(hs[-1] * hs[0])
        """)
    x, y = ARGUMENTS
    gradients = overbar.grad(f, wrt=(0, 1), optimise=optimise)(x, y, steps)
    _assert_gradients_right(lambda a, b: f(a, b, steps), gradients, ARGUMENTS)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_join_whose_kind_is_not_known_is_refused(name, optimise):
    source, message = REFUSED[name]
    f = define(source)
    with pytest.raises(UnsupportedSyntaxError, match=message) as error:
        overbar.grad(f, wrt=("x", "y"), optimise=optimise)(*ARGUMENTS)
    assert "overbar_test_module" in str(error.value)  # the user's file and line


@pytest.mark.parametrize("optimise", [True, False])
def test_a_count_that_is_an_array_is_refused_when_it_runs(optimise):
    """``[x, y] * s`` for an ``s`` not known when compiling is taken for a repetition; an
    array ``s`` (NumPy's elementwise product) is refused when the adjoint runs."""
    f = define("""
        SCALES = {"s": np.array([1.0, 2.0, 3.0])}

        def f(x, y):
            ys = [x, y] * SCALES["s"]
            return np.sum(ys[0] * ys[1])
        """)
    with pytest.raises(OverbarError, match="count is not an integer"):
        overbar.grad(f, wrt=("x", "y"), optimise=optimise)(*ARGUMENTS)


@pytest.mark.parametrize("optimise", [True, False])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_a_constant_tuple_with_an_array_is_elementwise(name, optimise):
    f = define(ELEMENTWISE[name])
    gradients = overbar.grad(f, wrt=("x", "y"), optimise=optimise)(*ARGUMENTS)
    _assert_gradients_right(f, gradients, ARGUMENTS)


def test_a_sequence_of_constants_repeated_is_not_differentiated():
    f = define("""
        def f(x):
            sizes = (1.0, 2.0) * 2
            return np.sum(x * np.array(sizes))
        """)
    x = np.arange(4.0)
    (gradient,) = overbar.grad(f, wrt=("x",))(x)
    np.testing.assert_allclose(gradient, [1.0, 2.0, 1.0, 2.0])


def test_a_join_written_out_where_the_lengths_are_known():
    """The adjoint of ``ys = xs + [y]`` with both lengths known reads ys̄ element by element:
    no helper call."""
    f = define(JOINED["joined_with_a_display"])
    source = overbar.grad(f, wrt=("x", "y")).source_for(*ARGUMENTS)
    assert "joined_bar" not in source


def test_the_runtime_helpers_of_joins():
    a, b = np.ones(2), np.arange(2.0)
    assert helpers.joined_bar(0.0, (a,), [a, a]) == ((0.0,), (0.0, 0.0))
    head, tail = helpers.joined_bar((a, 0.0, b), [a], (a, a))
    assert head == (a,) and tail[0] == 0.0 and tail[1] is b
    assert helpers.repeated_bar((a, b, b, a), [a, a], 0) == (0.0, 0.0)  # [a, a] * 0 == []
    assert helpers.repeated_bar(0.0, (a,), 3) == (0.0,)
    summed = helpers.repeated_bar((a, 0.0, b), (a,), 3)
    np.testing.assert_array_equal(summed[0], a + b)
    with pytest.raises(OverbarError, match="count is not an integer"):
        helpers.repeated_bar((a, a), [a], np.float64(2.0))
    with pytest.raises(OverbarError, match="NumPy computed elementwise"):
        helpers.joined_bar((a, a), a, [a])


@pytest.mark.parametrize("optimise", [True, False])
def test_an_array_extended_by_a_display_keeps_the_checks_of_arrays(optimise):
    """Side condition of the in-place join: ``v += [...]`` where v is an array (bound by
    arithmetic) is NumPy's in-place sum, which a view of v taken before would see."""
    f = define("""
        def f(x, y):
            v = x * 1.0
            w = v[:2]
            v += [1.0, 2.0, 3.0]
            return np.sum(w * y[:2])
        """)
    with pytest.raises(UnsupportedSyntaxError, match="augmented assignment to v"):
        overbar.grad(f, wrt=("x", "y"), optimise=optimise)(*ARGUMENTS)
