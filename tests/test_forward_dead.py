"""``forward_dead.tangent_alone``: the jvp without its value, and what it must keep."""

from __future__ import annotations

import ast

from overbar.transpiler.forward import ForwardCode
from overbar.transpiler.forward_dead import tangent_alone


def _alone(source: str, impure: tuple[int, ...] = (), checks=frozenset()) -> str:
    tree = ast.parse(source).body[0]
    pure = frozenset(
        id(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and node.lineno not in impure
    )
    code = ForwardCode(tree, (), (), (), frozenset(), pure)
    return ast.unparse(tangent_alone(code, checks).tree)


def test_lines_only_the_value_reads_go_transitively():
    source = """
def f_jvp(x, x_dot):
    a = x * 2
    b = a + 1
    b_dot = x_dot * 2
    return (b, b_dot)
"""
    assert _alone(source) == (
        "def f_jvp(x, x_dot):\n    b_dot = x_dot * 2\n    return (None, b_dot)"
    )


def test_a_name_read_by_a_loop_before_it_is_assigned_stays():
    """Side condition: reads anywhere count, the next trip's included."""
    source = """
def f_jvp(x, x_dot):
    h = x
    h_dot = x_dot
    for i in range(3):
        h_dot = h_dot * h
        h = h * h
    unread = h + 1
    return (h, h_dot)
"""
    alone = _alone(source)
    assert "h = h * h" in alone and "unread" not in alone


def test_lines_with_effects_and_checks_stay():
    """Side conditions: a line not known to be without effects (a pop) stays, and so does a
    check of an input (seed) whose result nothing reads."""
    source = """
def f_jvp(x, x_dot):
    stack = [x]
    y = stack.pop()
    result_bar = seed(x)
    y_dot = x_dot
    return (y, y_dot)
"""
    alone = _alone(source, impure=(4,), checks=frozenset({"seed"}))
    assert "y = stack.pop()" in alone
    assert "result_bar = seed(x)" in alone
    assert "stack = [x]" in alone  # the pop reads it
