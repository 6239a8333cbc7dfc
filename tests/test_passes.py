"""Each transpiler pass on its own: source in, expected source (or analysis) out."""

from __future__ import annotations

import ast
import re
import textwrap

import numpy as np

from overbar.runtime import NUMPY
from overbar.transpiler.activity import analyze
from overbar.transpiler.emit import to_source
from overbar.transpiler.fence import check_supported
from overbar.transpiler.normalize import normalize
from overbar.transpiler.parse import parse
from overbar.transpiler.peephole import peephole
from overbar.transpiler.pipeline import transform
from overbar.transpiler.reverse import Adjoint, comment
from overbar.transpiler.simplify import simplify
from tests.support import define


def normal_form(source: str) -> str:
    parsed = parse(define(source))
    check_supported(parsed)
    return ast.unparse(normalize(parsed).tree)


def expect(actual: str, expected: str) -> None:
    assert actual.strip() == textwrap.dedent(expected).strip()


# -- parse -------------------------------------------------------------------------------------


def test_parse_keeps_the_users_line_numbers_and_columns():
    f = define("class Holder:\n    @staticmethod\n    def f(x):\n        return x * 2\n", "Holder")
    parsed = parse(f.f)
    returned = parsed.tree.body[0]
    location = parsed.location(returned.value)
    assert location.text.strip() == "return x * 2"
    assert location.text[location.column :].startswith("x * 2")
    assert parsed.tree.decorator_list == []


# -- normalize ---------------------------------------------------------------------------------


def test_reversed_walked_by_enumerate_or_zip_is_read_backwards_by_slicing():
    """``enumerate(reversed(c))`` walks ``c[::-1]``, where the loop does not change c (a
    write into an array read so is refused by the fence, as it is for any view)."""
    walked = normal_form(
        "def f(c, x):\n"
        "    t = 0.0\n"
        "    for k, a in enumerate(reversed(c)):\n"
        "        for b, y in zip(reversed(x), c):\n"
        "            t = t + a * b * y * k\n"
        "    return t\n"
    )
    assert "c[::-1]" in walked and "x[::-1]" in walked and "reversed" not in walked
    for made, changes in (
        ("c * 1.0", "d = d * 2.0"),
        ("[c[0], c[1]]", "d.append(1.0)"),
    ):
        kept = normal_form(
            "def f(c, x):\n"
            f"    d = {made}\n"
            "    t = 0.0\n"
            "    for k, a in enumerate(reversed(d)):\n"
            f"        {changes}\n"
            "        t = t + a * k\n"
            "    return t\n"
        )
        assert "reversed(d)" in kept and "d[::-1]" not in kept, changes


def test_normalize_one_operation_per_line():
    expect(
        normal_form("def f(W, x, b):\n    return np.sum(np.tanh(W @ x + b) ** 2)\n"),
        """
        def f(W, x, b):
            tmp1 = W @ x
            tmp2 = tmp1 + b
            tmp3 = np.tanh(tmp2)
            tmp4 = tmp3 ** 2
            result = np.sum(tmp4)
            return result
        """,
    )


def test_normalize_renames_reassignments_and_desugars_augmented_assignment():
    expect(
        normal_form(
            "def f(x):\n    '''doc'''\n    y = x * 2\n    y += x\n    x = y - 1\n"
            "    y = x / y\n    return y\n"
        ),
        """
        def f(x):
            y = x * 2
            y_2 = y + x
            x_2 = y_2 - 1
            y_3 = x_2 / y_2
            return y_3
        """,
    )


def test_normalize_tuple_assignment_reads_before_it_writes():
    expect(
        normal_form("def f(a, b):\n    a, b = b, a * 2\n    return a - b\n"),
        """
        def f(a, b):
            tmp1 = a * 2
            a_2 = b
            b_2 = tmp1
            result = a_2 - b_2
            return result
        """,
    )


def test_normalize_methods_attributes_subscripts_and_constants():
    expect(
        normal_form(
            "def f(x, i):\n    s = x.T.sum(axis=-1)\n    v = x[1:, i + 1] * np.pi\n"
            "    print('s', s)\n    return s[0] + v[-1]\n"
        ),
        """
        def f(x, i):
            tmp1 = x.T
            s = tmp1.sum(axis=-1)
            tmp2 = i + 1
            tmp3 = x[1:, tmp2]
            v = tmp3 * np.pi
            print('s', s)
            tmp4 = s[0]
            tmp5 = v[-1]
            result = tmp4 + tmp5
            return result
        """,
    )


def test_normalize_keeps_displays_as_atoms():
    expect(
        normal_form("def f(a, b):\n    return np.sum(np.stack([a, b * 2], axis=0))\n"),
        """
        def f(a, b):
            tmp1 = b * 2
            tmp2 = np.stack([a, tmp1], axis=0)
            result = np.sum(tmp2)
            return result
        """,
    )


def test_normalize_gives_every_return_a_name():
    expect(
        normal_form("def f(p):\n    return (p * p).T\n"),
        """
        def f(p):
            tmp1 = p * p
            result = tmp1.T
            return result
        """,
    )
    expect(
        normal_form("def f(p):\n    return (p * p)[0], p.sum(axis=0), np.pi\n"),
        """
        def f(p):
            tmp1 = p * p
            tmp2 = tmp1[0]
            tmp3 = p.sum(axis=0)
            result = (tmp2, tmp3, np.pi)
            return result
        """,
    )
    expect(
        normal_form("def f(p):\n    return 1.0\n"),
        """
        def f(p):
            result = 1.0
            return result
        """,
    )


def test_normalize_takes_an_attribute_of_a_temporary_or_a_new_version_as_an_operation():
    """``tmp1.T`` and ``p_2.T`` are not global paths like ``np.pi``: each gets its own line."""
    expect(
        normal_form("def f(p):\n    p = p * 2\n    return np.sum(p.T) + np.sum((p * p).T)\n"),
        """
        def f(p):
            p_2 = p * 2
            tmp1 = p_2.T
            tmp2 = np.sum(tmp1)
            tmp3 = p_2 * p_2
            tmp4 = tmp3.T
            tmp5 = np.sum(tmp4)
            result = tmp2 + tmp5
            return result
        """,
    )


# -- activity ----------------------------------------------------------------------------------


def activity_of(source: str, wrt: tuple[str, ...]):
    parsed = parse(define(source))
    form = normalize(parsed)
    return analyze(form, wrt, parsed.namespace, NUMPY.rules)


def test_activity_needs_both_a_path_from_wrt_and_a_path_to_the_result():
    activity = activity_of(
        """
        def f(x, y):
            a = x * 2
            unused = a + 1
            b = y * 3
            mask = a > 0
            c = np.where(mask, a, b)
            return np.sum(c)
        """,
        ("x",),
    )
    assert {"a", "c", "x"} <= activity.active
    assert "unused" not in activity.active  # varied but never reaches the result
    assert "b" not in activity.active and "y" not in activity.active  # reaches it, not varied
    assert "mask" not in activity.active  # comparisons carry no gradient


def test_activity_stops_at_non_differentiable_calls():
    activity = activity_of(
        "def f(x):\n    i = np.argmax(x)\n    n = x.shape[0]\n    return x[i] * n\n", ("x",)
    )
    assert "i" not in activity.active and "n" not in activity.active


# -- differentiate -----------------------------------------------------------------------------


def test_differentiate_inlines_rules_and_accumulates_without_in_place_updates():
    f = define("def f(x):\n    y = np.sin(x)\n    return np.sum(y * x)\n")
    stages = transform(f, ("x",))
    raw = ast.unparse(stages.adjoint.tree)
    assert "+=" not in raw
    assert "np.cos(x)" in raw
    expect(
        stages.emitted.source,
        """
        def f_grad(x):
            y = np.sin(x)
            tmp1 = y * x
            result = np.sum(tmp1)
            result_bar = seed(result)
            # return np.sum(y * x)
            tmp1_bar = broadcast_like(result_bar, tmp1)
            y_bar = unbroadcast(tmp1_bar * x, y)
            x_bar = unbroadcast(tmp1_bar * y, x)
            # y = np.sin(x)
            x_bar = x_bar + y_bar * np.cos(x)
            return (result, x_bar)
        """,
    )


def test_differentiate_spends_no_code_on_inactive_values():
    f = define(
        "def f(x, t):\n    scale = np.exp(t)\n    return np.sum(x * scale) + np.sum(t ** 2)\n"
    )
    source = transform(f, ("x",)).emitted.source
    assert not re.search(r"\bt_bar\b", source) and "scale_bar" not in source


def test_unbroadcast_is_dropped_only_where_shapes_are_known_equal():
    f = define("def f(x, b):\n    y = x * 2.0 + b\n    return np.sum(y)\n")
    source = transform(f, ("x", "b")).emitted.source
    assert "b_bar = unbroadcast(y_bar, b)" in source  # b may have been broadcast
    assert "x_bar = unbroadcast(y_bar, tmp1) * 2.0" in source  # x has tmp1's shape


def test_differentiate_gives_parameters_without_a_path_a_zero_gradient():
    f = define("def f(x, y):\n    return np.sum(x)\n")
    source = transform(f, ("x", "y")).emitted.source
    assert "y_bar = zero_gradient(y)" in source


# -- simplify ----------------------------------------------------------------------------------


def test_simplify_does_not_fold_past_a_reassignment_of_what_it_reads():
    tree = ast.parse(textwrap.dedent("""
            def f_grad(x):
                x_bar = seed(x)
                tmp1 = x_bar * 2
                x_bar = x_bar + 1
                y = tmp1 + x_bar
                return (x, y)
            """)).body[0]
    adjoint = Adjoint(tree, 0, frozenset({"tmp1"}), (), frozenset({"seed"}))
    assert "tmp1 = x_bar * 2" in ast.unparse(simplify(adjoint).tree)


def test_simplify_drops_dead_reverse_code_and_empty_comments_but_not_the_forward():
    tree = ast.parse(textwrap.dedent("""
            def f_grad(x):
                unused_forward = x * 3
                x_bar = seed(x)
                dead = x_bar * 2
                return (x, x_bar)
            """)).body[0]
    tree.body.insert(2, comment("a block that vanishes"))
    adjoint = Adjoint(tree, 1, frozenset(), (), frozenset({"seed"}))
    result = ast.unparse(simplify(adjoint).tree)
    assert "unused_forward = x * 3" in result
    assert "dead" not in result and "__overbar_comment__" not in result


def test_peephole_keeps_an_unpacking_of_a_broadcast():
    """``tmp4, tmp5 = broadcast_like(...)`` binds tmp5 too: it is no single-name temporary to
    inline (dropping it left tmp5 unbound)."""
    tree = ast.parse(textwrap.dedent("""
            def f_grad(a, y):
                y_bar = seed(y)
                tmp4, tmp5 = broadcast_like(y_bar, y)
                a_bar = tmp5 * 2.0
                return (y, a_bar)
            """)).body[0]
    bindings = (("broadcast_like", NUMPY.broadcast_like),)
    adjoint = Adjoint(tree, 0, frozenset({"tmp4", "tmp5"}), bindings, frozenset({"seed"}))
    assert "tmp4, tmp5 = broadcast_like(y_bar, y)" in ast.unparse(peephole(adjoint, NUMPY).tree)


# -- emit --------------------------------------------------------------------------------------


def test_emit_turns_markers_into_comments_and_formats_with_black():
    tree = ast.parse("def g(x):\n    return x").body[0]
    tree.body.insert(0, comment("y = f(x)  # ȳ"))
    assert to_source(tree) == "def g(x):\n    # y = f(x)  # ȳ\n    return x\n"


def test_emitted_function_runs_in_the_users_globals_without_touching_them():
    f = define("def f(x):\n    return np.sum(np.exp(x))\n")
    before = set(f.__globals__)
    stages = transform(f, ("x",))
    assert stages.emitted.function.__globals__ is f.__globals__
    assert set(f.__globals__) == before
    assert np.allclose(stages.emitted.function(np.zeros(2))[1], 1.0)
