"""Tests found by mutation testing (GitHub issue 8): each one kills mutants of the optimising
passes or of the rules that the rest of the suite let through.

A rewrite here is checked by what it must preserve: a pass applied to a hand-written adjoint must
compute the same values as the adjoint it was given (``rewritten``), and a gradient must agree
with central differences (``overbar.check_grad``) and with the literal adjoint
(``overbar.grad(f, optimise=False)``).
"""

from __future__ import annotations

import ast
import copy
import textwrap
import threading

import numpy as np
import pytest

import overbar
from overbar.runtime import NUMPY, helpers
from overbar.runtime.shapes import argument_shape
from overbar.transpiler.peephole import peephole
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.simplify import simplify
from tests.support import define

rng = np.random.default_rng(8)


def _compile(tree: ast.FunctionDef):
    namespace = {"np": np, "broadcast_like": helpers.broadcast_like}
    module = ast.fix_missing_locations(ast.Module(body=[tree], type_ignores=[]))
    exec(compile(module, "<test_mutants>", "exec"), namespace)
    return namespace[tree.name]


def _within(seconds: float, function, *arguments):
    """``function(*arguments)``, failing if it takes longer than ``seconds`` (a rewrite that
    keeps finding more to rewrite would otherwise hang the suite)."""
    results = []
    worker = threading.Thread(target=lambda: results.append(function(*arguments)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert results, f"{function.__name__} did not finish in {seconds} s"
    return results[0]


def rewritten(pass_, source: str, forward_length: int, temporaries=(), effects=(), **arguments):
    """``pass_`` applied to the adjoint ``source`` (its arguments' shapes known from
    ``arguments``); checks that the rewritten function computes what the given one does, and
    returns the rewritten source."""
    tree = ast.parse(textwrap.dedent(source)).body[0]
    adjoint = Adjoint(
        tree,
        forward_length,
        frozenset(temporaries),
        (("broadcast_like", helpers.broadcast_like),),
        frozenset(effects),
        shapes=tuple((name, argument_shape(value)) for name, value in arguments.items()),
    )
    expected = _compile(copy.deepcopy(tree))(**copy.deepcopy(arguments))  # before the pass
    result = _within(30.0, pass_, adjoint).tree
    actual = _compile(result)(**copy.deepcopy(arguments))
    for mine, theirs in zip(actual, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=0)
    return ast.unparse(result)


def check_against_the_literal_adjoint(f, args, wrt=0):
    """``f``'s optimised gradient at ``args`` agrees with central differences and with the
    literal adjoint."""
    overbar.check_grad(f, args, wrt=wrt)
    optimised = overbar.grad(f, wrt=wrt)(*args)
    literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    if not isinstance(wrt, tuple):
        optimised, literal = (optimised,), (literal,)
    for mine, theirs in zip(optimised, literal, strict=True):
        assert np.shape(mine) == np.shape(theirs)
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


def run_peephole(adjoint: Adjoint) -> Adjoint:
    return peephole(adjoint, NUMPY)


# -- peephole ----------------------------------------------------------------------------------


def test_a_broadcast_is_not_inlined_when_what_it_broadcasts_is_rebound():
    # tmp = broadcast_like(g, t) read twice; g changes before the readers: they must keep the
    # value g had, so the broadcast may not be inlined into them.
    rewritten(
        run_peephole,
        """
        def f_grad(g0, t, w):
            g = g0 * 2.0
            tmp = broadcast_like(g, t)
            g = g + 1.0
            a_bar = tmp * w
            b_bar = tmp * w * 3.0
            return (a_bar, b_bar, g)
        """,
        0,
        temporaries={"tmp"},
        g0=1.5,
        t=rng.normal(size=3),
        w=rng.normal(size=3),
    )


def test_trailing_factors_merge_only_when_both_end_in_the_same_name():
    # The second contribution's second factor is a name, its last one a call: no merge.
    source = rewritten(
        run_peephole,
        """
        def f_grad(x, a, b, c):
            x_bar = a * x
            x_bar = x_bar + b * c * np.cos(a)
            return (x_bar,)
        """,
        0,
        x=rng.normal(size=3),
        a=rng.normal(size=3),
        b=rng.normal(size=3),
        c=rng.normal(size=3),
    )
    assert "np.cos(a)" in source


def test_a_broadcast_is_not_inlined_into_the_readers_of_a_later_binding():
    # tmp is bound twice: the readers of its second value must keep reading that value.
    rewritten(
        run_peephole,
        """
        def f_grad(g, t, w):
            tmp = broadcast_like(g, t)
            a_bar = tmp * w
            c_bar = tmp * w * 2.0
            tmp = w * 5.0
            b_bar = tmp * w
            return (a_bar, b_bar, c_bar)
        """,
        0,
        temporaries={"tmp"},
        g=1.5,
        t=rng.normal(size=3),
        w=rng.normal(size=3),
    )


def test_trailing_factors_merge_only_contributions_to_the_same_adjoint():
    rewritten(
        run_peephole,
        """
        def f_grad(x, p, q):
            b_bar = q * 2.0
            a_bar = p * x
            b_bar = b_bar + q * x
            return (a_bar, b_bar)
        """,
        0,
        x=rng.normal(size=3),
        p=rng.normal(size=3),
        q=rng.normal(size=3),
    )


def test_trailing_factors_merge_at_the_start_of_a_block():
    # The pair to merge is the first two lines of the reverse sweep, and of a loop body (0.5:
    # a factor surely numeric, so the merged sum is not of two boolean arrays).
    source = rewritten(
        run_peephole,
        """
        def f_grad(x, a, b):
            x_bar = 0.5 * a * x
            x_bar = x_bar + b * x
            y_bar = a * 2.0
            for _ in range(2):
                y_bar = y_bar + 0.5 * a * x
                y_bar = y_bar - b * x
            return (x_bar, y_bar)
        """,
        0,
        x=rng.normal(size=3),
        a=rng.normal(size=3),
        b=rng.normal(size=3),
    )
    assert source.count("* x") == 2  # one multiplication by x per merged pair


def test_factoring_a_shared_adjoint_keeps_the_lines_after_it():
    # s_bar = t * (x * w + c * w) replaces the two contributions; the line after them stays.
    source = rewritten(
        run_peephole,
        """
        def f_grad(s_bar, x, w, c):
            t = s_bar
            s_bar = s_bar * x * w
            s_bar = s_bar + t * c * w
            y_bar = s_bar * c
            return (s_bar, y_bar)
        """,
        0,
        temporaries={"t"},
        s_bar=rng.normal(size=3),
        x=rng.normal(size=3),
        w=rng.normal(size=3),
        c=rng.normal(size=3),
    )
    assert source.count("t *") == 1  # the adjoint multiplies once


class _Shrinking:
    """An object with effects: ``step(x)`` halves x in place."""

    def step(self, x):
        x *= 0.5
        return 2.0


def test_trailing_factors_do_not_move_a_call_with_effects():
    # acc.step(x) changes x: the first contribution must read x before it does.
    rewritten(
        run_peephole,
        """
        def f_grad(x, a, acc):
            x_bar = a * x
            x_bar = x_bar + acc.step(x) * x
            return (x_bar,)
        """,
        0,
        effects={"acc"},
        x=rng.normal(size=3),
        a=rng.normal(size=3),
        acc=_Shrinking(),
    )


# -- simplify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("in_a_loop", [False, True])
def test_a_pair_of_adjoints_is_unpacked_into_its_names_at_the_start_of_a_block(in_a_loop):
    body = "tmp4, tmp5 = np.modf(x)\na_bar = tmp4\nb_bar = tmp5 * 2.0\n"
    if in_a_loop:
        body = "for _ in range(2):\n" + textwrap.indent(body, "    ")
    source = rewritten(
        simplify,
        "def f_grad(x):\n" + textwrap.indent(body + "return (a_bar, b_bar)", "    "),
        0,
        temporaries={"tmp4", "tmp5"},
        x=rng.normal(size=3) * 4.0,
    )
    assert "a_bar, tmp5 = np.modf(x)" in source


@pytest.mark.parametrize(
    "body",
    [
        # tmp4 has another reader
        "tmp4, tmp5 = np.modf(x)\na_bar = tmp4\nc_bar = tmp4 * 3.0\nreturn (a_bar, c_bar, tmp5)",
        # a_bar is read between the unpacking and the copy
        "a_bar = x * 2.0\nw = x * 5.0\ntmp4, tmp5 = np.modf(x)\nc_bar = a_bar * w\n"
        "a_bar = tmp4\nreturn (a_bar, c_bar, tmp5)",
        # b_bar is bound by the unpacking itself
        "tmp4, b_bar = np.modf(x)\nb_bar = tmp4\nreturn (b_bar,)",
        # w_bar = x is a copy, but of another name
        "tmp4, tmp5 = np.modf(x)\nw_bar = x\na_bar = tmp4\nreturn (a_bar, w_bar, tmp5)",
    ],
    ids=["read twice", "read between", "in the target", "a copy of another name"],
)
def test_a_pair_of_adjoints_is_not_unpacked_where_that_changes_a_value(body):
    rewritten(
        simplify,
        "def f_grad(x):\n" + textwrap.indent(body, "    "),
        0,
        temporaries={"tmp4", "tmp5"},
        x=rng.normal(size=3) * 4.0,
    )


@pytest.mark.parametrize("x", [0.5, -0.5])
def test_dead_code_removal_keeps_what_a_branch_tests(x):
    rewritten(
        simplify,
        """
        def f_grad(x):
            c = x > 0
            if c:
                y_bar = x * 2.0
            else:
                y_bar = x * 3.0
            return (y_bar,)
        """,
        0,
        x=x,
    )


def test_dead_code_removal_keeps_what_a_loop_header_reads():
    rewritten(
        simplify,
        """
        def f_grad(x):
            n = 3
            s = x * 1.0
            for _ in range(n):
                s = s * x
            y_bar = s + n
            return (y_bar,)
        """,
        0,
        x=rng.normal(size=3),
    )


def test_dead_code_removal_keeps_a_call_with_effects():
    # Nothing reads what acc.step(x) returns, but it changes x: it stays, and in place.
    rewritten(
        simplify,
        """
        def f_grad(x, acc):
            unused = acc.step(x)
            y_bar = x * 2.0
            return (y_bar,)
        """,
        0,
        temporaries={"unused"},
        effects={"acc"},
        x=rng.normal(size=3),
        acc=_Shrinking(),
    )


@pytest.mark.parametrize("y", [0.7, -0.7])
def test_dead_code_removal_through_a_branch(y):
    f = define("""
        def f(x, y):
            t = x * 3.0
            if y > 0:
                z = np.sin(x) * y
            else:
                z = t * 2.0
            return np.sum(z * z)
        """)
    check_against_the_literal_adjoint(f, [rng.normal(size=3), y])


# -- invariance --------------------------------------------------------------------------------


STABILISED = """
def f(a, u):
    m = np.max(a, axis=1, keepdims=True)
    s = a - m
    e = np.exp(s)
    t = np.sum(e, {axis}, keepdims=True)
    return np.sum(({result}) * u)
"""


@pytest.mark.parametrize(
    "result",
    ["s + np.log(t)", "s * np.log(t)", "e * t", "e + t"],
    ids=["s + log", "s * log", "e * total", "e + total"],
)
def test_the_stabiliser_keeps_its_gradient_unless_the_normalisation_cancels_it(result):
    # Only s - log(sum(exp(s))) and exp(s) / sum(exp(s)) do not depend on m.
    f = define(STABILISED.format(axis="axis=1", result=result))
    check_against_the_literal_adjoint(f, [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))])


@pytest.mark.parametrize("result", ["s - np.log(t)", "e / t"], ids=["log-softmax", "softmax"])
def test_the_stabiliser_gets_no_gradient_with_the_axis_given_by_position(result):
    f = define(STABILISED.format(axis="1", result=result))
    args = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    assert " == " not in overbar.grad(f).source_for(*args)  # no winners of the max
    check_against_the_literal_adjoint(f, args)


# -- rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, shape",
    [
        ("np.triu(a)", (3, 3)),  # the rule's default k
        ("np.triu(a)", (3, 4)),
        ("np.clip(a, None, 0.5)", (6,)),
        ("np.clip(a, -0.5, None)", (6,)),
    ],
)
def test_rules_with_their_default_arguments(expression, shape):
    f = define(f"def f(a, u):\n    return np.sum(({expression}) * u)\n")
    a = rng.uniform(-1.0, 1.0, size=shape)
    u = rng.normal(size=np.shape(eval(expression, {"np": np, "a": a})))
    check_against_the_literal_adjoint(f, [a, u])


@pytest.mark.parametrize("function", ["np.minimum", "np.maximum"])
def test_ties_share_the_adjoint(function):
    # At x == y central differences give each operand half: the rule's convention.
    f = define(f"def f(x, y):\n    return np.sum({function}(x, y) * np.arange(1.0, 4.0))\n")
    x = rng.normal(size=3)
    overbar.check_grad(f, [x, x.copy()], wrt=(0, 1))
    x_bar, y_bar = overbar.grad(f, wrt=(0, 1))(x, x.copy())
    np.testing.assert_allclose(x_bar, [0.5, 1.0, 1.5], rtol=1e-12)
    np.testing.assert_allclose(y_bar, [0.5, 1.0, 1.5], rtol=1e-12)


def test_det_of_a_stack_of_matrices():
    f = define("def f(a, u):\n    return np.sum(np.linalg.det(a) * u)\n")
    a = np.eye(3) * 2.0 + 0.3 * rng.normal(size=(2, 3, 3))
    check_against_the_literal_adjoint(f, [a, rng.normal(size=2)])


def test_contributions_scaled_by_two_boolean_arrays_are_not_factored():
    # a * m1 + a * m2 with boolean m1, m2 is not a * (m1 + m2): booleans add as a logical or
    mask = rng.normal(size=4) > 0.0
    source = rewritten(
        run_peephole,
        """
        def f_grad(x, m1, m2):
            x_bar = m1 * x
            x_bar = x_bar + m2 * x
            return (x_bar,)
        """,
        0,
        x=rng.normal(size=4),
        m1=mask,
        m2=mask.copy(),
    )
    assert "m1 + m2" not in source
