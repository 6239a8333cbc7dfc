"""A dict of parameters' adjoint written entry by entry: ``params_bar["W2"] = ...``.

The reverse sweep adds each contribution to a dict's adjoint as a dict of the keys it reaches
(``params_bar = add_elementwise(params_bar, {"W2": y_bar @ h.T})``), which is right wherever
it stands (in loops, in branches, for keys not known now). Where the adjoint of a dict is built
in straight-line code, entry by entry under literal keys, this pass writes it the way it is
written by hand. Before and after::

    params_bar = {"b2": y_bar.sum(axis=1)}              params_bar = {"b2": y_bar.sum(axis=1)}
    params_bar = add_elementwise(params_bar,            params_bar["W2"] = y_bar @ h.T
                                 {"W2": y_bar @ h.T})
    params_bar = add_elementwise(params_bar,            params_bar["W2"] = params_bar["W2"] + g
                                 {"W2": g})

Identity: ``d = add_elementwise(d, {k: e})`` is ``d[k] = e`` where d, a dict, has no entry k,
and ``d[k] = d[k] + e`` where it has one whose value is an array or a number (the runtime zero
0.0 included): add_elementwise makes a dict holding d's entries and e at k, added to d's where
both have it. Side conditions: every statement that names ``d`` is at the top level of the
function (not in a loop or a branch, so which keys d has is known at each of them), the first
binds it to a dict display with literal keys, the others are ``d = add_elementwise(d, {k: e})``
with a literal k and an e that does not name d, then the last, ``d = structured_like(d, x)``,
which makes the gradient a new dict; so the dict d is bound to is made by the display and seen
by no other name, and writing into it changes nothing else. An entry whose value is a container
(a nested dict's adjoint, say), for which ``+`` is not the addition of adjoints, stays as it was.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import fix_missing_locations, walk_breadth_first
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import load


def write_dict_entries(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with each dict adjoint built in straight-line code written entry by entry."""
    names = {id(value): name for name, value in adjoint.bindings}
    add = names.get(id(runtime.add_elementwise))
    structured = names.get(id(runtime.structured_like))
    if add is None or structured is None:
        return adjoint
    shapes = dict(adjoint.shapes)
    body = list(adjoint.tree.body)
    changed = False
    for adjoint_name, owner in adjoint.adjoints:
        shape = shapes.get(owner)
        if not getattr(shape, "mapping", False) or shape.keys is None:
            continue
        leaves = dict(zip(shape.keys, shape.elements or (None,) * len(shape.keys), strict=True))
        rewritten = _entry_writes(body, adjoint_name, owner, leaves, add, structured, runtime)
        if rewritten is not None:
            body, changed = rewritten, True
    if not changed:
        return adjoint
    tree = fix_missing_locations(
        ast.copy_location(
            ast.FunctionDef(
                name=adjoint.tree.name,
                args=adjoint.tree.args,
                body=body,
                decorator_list=[],
                returns=None,
                type_comment=None,
            ),
            adjoint.tree,
        )
    )
    return replace(adjoint, tree=tree)


def _entry_writes(
    body: list[ast.stmt],
    d: str,
    owner: str,
    leaves: dict[Any, Any],
    add: str,
    structured: str,
    runtime: Runtime,
) -> list[ast.stmt] | None:
    """``body`` with the additions into the dict adjoint ``d`` written as entries, or None
    where the side conditions do not hold."""
    naming = [index for index, statement in enumerate(body) if _names(statement, d)]
    if naming and isinstance(body[naming[-1]], ast.Return):  # reads the gradient, once made
        naming.pop()
    nested = [
        node
        for statement in body
        if not isinstance(statement, ast.Assign | ast.Return | ast.Expr)
        for node in walk_breadth_first(statement)
    ]
    if not naming or any(isinstance(n, ast.Name) and n.id == d for n in nested):
        return None
    first, *middle = naming
    if not _is_display(body[first], d):
        return None
    keys = {key.value for key in body[first].value.keys}
    last = middle.pop() if middle else None
    if last is None or not _is_call_of(body[last], d, structured, (d, owner)):
        return None
    if any(isinstance(body[index], ast.Return) for index in middle):
        return None
    out = list(body)
    for index in middle:
        statement = body[index]
        if not _is_call_of(statement, d, add, None):
            return None
        display = statement.value.args[1]
        if not (
            isinstance(statement.value.args[0], ast.Name)
            and statement.value.args[0].id == d
            and _is_display(ast.Assign(targets=[ast.Name(id=d)], value=display), d)
            and len(display.keys) == 1
            and not _names(ast.Expr(value=display.values[0]), d)
        ):
            return None
        key, value = display.keys[0], display.values[0]
        entry = ast.Subscript(value=load(d), slice=ast.Constant(key.value), ctx=ast.Store())
        if key.value not in keys:
            keys.add(key.value)
            out[index] = ast.copy_location(ast.Assign(targets=[entry], value=value), statement)
        elif key.value in leaves and not isinstance(leaves[key.value], runtime.shapes.Sequence):
            current = ast.Subscript(value=load(d), slice=ast.Constant(key.value), ctx=ast.Load())
            total = ast.BinOp(left=current, op=ast.Add(), right=value)
            out[index] = ast.copy_location(ast.Assign(targets=[entry], value=total), statement)
    return out


def _names(statement: ast.stmt, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name for node in walk_breadth_first(statement)
    )


def _is_display(statement: ast.stmt, d: str) -> bool:
    """``d = {k: e, ...}`` with literal keys, its values not naming d."""
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == d
        and isinstance(statement.value, ast.Dict)
        and all(isinstance(key, ast.Constant) for key in statement.value.keys)
        and not any(_names(ast.Expr(value=value), d) for value in statement.value.values)
    )


def _is_call_of(statement: ast.stmt, d: str, function: str, arguments: tuple | None) -> bool:
    """``d = function(...)``, with these names as its arguments where ``arguments`` says."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == d
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == function
        and not statement.value.keywords
        and len(statement.value.args) == 2
    ):
        return False
    if arguments is None:
        return True
    return all(
        isinstance(argument, ast.Name) and argument.id == expected
        for argument, expected in zip(statement.value.args, arguments, strict=True)
    )
