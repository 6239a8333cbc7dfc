"""The tangent alone: a jvp that returns no value, without the lines only the value needed.

Invariant established: the jvp returns ``(None, result_dot)``, and no statement known to have
no effects (``ForwardCode.pure``) assigns only names that nothing reads, but those that check
an input (``seed``: the gradient of a non-scalar is refused). ``hvp`` asks for this: of the
jvp of the adjoint it needs H v, not the gradient, and the lines computing the gradient itself
(``W1_bar = z_bar @ x.T``) go, as a person deriving H v by hand leaves them out.

Identity: a computation without effects whose result nothing reads can be left out. Side
conditions: "reads" counts every read anywhere in the function (a loop may read a name before
the line that assigns it, on the next trip); the statement has no effects (appends, writes
into arrays and calls of the user's helpers are not in ``pure``); it is removed whole (all its
targets unread). Repeated until nothing more goes, since a removed line may have been the only
reader of another.

>>> import ast
>>> tree = ast.parse("def f_jvp(x, x_dot):\\n    a = x * 2\\n    b = a + 1\\n"
...                  "    b_dot = x_dot * 2\\n    return (b, b_dot)").body[0]
>>> from overbar.transpiler.forward import ForwardCode
>>> code = ForwardCode(tree, (), (), (), frozenset(), frozenset(id(s) for s in tree.body[:3]))
>>> print(ast.unparse(tangent_alone(code, frozenset()).tree))
def f_jvp(x, x_dot):
    b_dot = x_dot * 2
    return (None, b_dot)
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from overbar.transpiler.forward import ForwardCode

_BLOCKS = ("body", "orelse")


def tangent_alone(code: ForwardCode, checks: frozenset[Any]) -> ForwardCode:
    """``code`` returning ``(None, tangent)``, its effect-free lines nothing reads left out;
    ``checks`` are the names of the functions whose calls are kept all the same."""
    tree = code.tree
    returned = tree.body[-1]
    tangent = returned.value.elts[1]
    body = [*tree.body[:-1], ast.Return(value=ast.Tuple(elts=[ast.Constant(None), tangent]))]
    while True:
        read = {
            node.id
            for statement in body
            for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        kept = _kept(body, code.pure, read, checks)
        if _size(kept) == _size(body):
            break
        body = kept
    new = ast.FunctionDef(
        name=tree.name,
        args=tree.args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    return replace(code, tree=ast.fix_missing_locations(ast.copy_location(new, tree)))


def _kept(
    body: list[ast.stmt], pure: frozenset[int], read: set[str], checks: frozenset[Any]
) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, ast.If | ast.For | ast.While):
            fields = {name: getattr(statement, name) for name in statement._fields}
            for block in _BLOCKS:
                if block in fields:
                    inner = _kept(fields[block], pure, read, checks)
                    fields[block] = inner or ([ast.Pass()] if block == "body" else [])
            out.append(ast.copy_location(type(statement)(**fields), statement))
        elif _unread(statement, pure, read, checks):
            continue
        else:
            out.append(statement)
    return out


def _unread(statement: ast.stmt, pure: frozenset[int], read: set[str], checks) -> bool:
    if not isinstance(statement, ast.Assign) or id(statement) not in pure:
        return False
    targets = [node for node in ast.walk(statement.targets[0]) if isinstance(node, ast.expr)]
    if not all(isinstance(t, ast.Name | ast.Tuple | ast.List) for t in targets):
        return False  # a write into an array
    if any(isinstance(t, ast.Name) and t.id in read for t in targets):
        return False
    return not any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in checks
        for node in ast.walk(statement.value)
    )


def _size(body: list[ast.stmt]) -> int:
    return sum(1 for statement in body for _ in ast.walk(statement))
