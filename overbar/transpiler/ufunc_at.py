"""``np.add.at(y, indices, v)``: a write into ``y``, made the write of its value.

``np.add.at`` adds each element of v into y at its index, in place, repeated indices adding up.
It is a write into y, as ``y[i] = v`` is: this pass makes it one,

    np.add.at(y, idx, v)        becomes        y[()] = added_at(y, idx, v)

with ``added_at`` the runtime's function that returns the array written as a new value (a copy
of y, added into; ``runtime.ufunc_writes``). The fence then checks it as every write into an
array (y made in the function, shared with no other name, read as a view of it only after the
last write; ``in_place.py``), and the reverse sweep undoes it as every write: the whole of y
is overwritten, its adjoint goes to the value, whose rule sends ȳ to y and z̄[idx] to v.

Identity: after ``np.add.at(y, idx, v)``, y holds ``added_at(y, idx, v)``, and ``y[()] = z``
writes every element of z into y (in place, as the call does). Side conditions, each checked
(a call that fails one is left as it is, and the fence refuses it as a call that changes a
value in place): the call is a statement of its own, of a ufunc's ``at`` the runtime has a
value for (``np.add.at``), by a global name, with three positional arguments, the first a
name.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import MISSING, ParsedFunction

_BLOCKS = ("body", "orelse")


def with_ufunc_writes(parsed: ParsedFunction, writes: Any) -> ParsedFunction:
    """``parsed`` with each ``np.add.at(y, idx, v)`` statement written ``y[()] = added_at(y,
    idx, v)`` (``writes``: the runtime's, by the ``at`` method); unchanged where there is
    none."""
    if not writes or not any(
        isinstance(node, ast.Expr) and _value_function(node, parsed, writes) is not None
        for node in ast.walk(parsed.tree)
    ):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    taken = NameAllocator(set(names_in(tree)) | set(parsed.namespace.made))
    made: dict[str, Any] = {}
    named: dict[int, str] = {}

    def rewritten(block: list[ast.stmt]) -> list[ast.stmt]:
        result = []
        for statement in block:
            for field in _BLOCKS:
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, rewritten(inner))
            function = (
                _value_function(statement, parsed, writes)
                if isinstance(statement, ast.Expr)
                else None
            )
            if function is None:
                result.append(statement)
                continue
            if id(function) not in named:
                named[id(function)] = taken.fresh(function.__name__)
                made[named[id(function)]] = function
            call = statement.value
            target, indices, value = call.args
            write = ast.Assign(
                targets=[
                    ast.Subscript(
                        value=ast.Name(id=target.id, ctx=ast.Load()),
                        slice=ast.Tuple(elts=[], ctx=ast.Load()),
                        ctx=ast.Store(),
                    )
                ],
                value=ast.Call(
                    func=ast.Name(id=named[id(function)], ctx=ast.Load()),
                    args=[ast.Name(id=target.id, ctx=ast.Load()), indices, value],
                    keywords=[],
                ),
            )
            for node in ast.walk(write):
                if not hasattr(node, "lineno") or node in (write, *write.targets):
                    ast.copy_location(node, statement)
            ast.copy_location(write.value, call)
            ast.copy_location(write.value.func, call.func)
            result.append(write)
        return result

    tree.body = rewritten(tree.body)
    namespace = replace(parsed.namespace, made={**parsed.namespace.made, **made})
    return replace(parsed, tree=tree, namespace=namespace)


def _value_function(statement: ast.Expr, parsed: ParsedFunction, writes: Any) -> Any:
    """The function returning the value ``statement`` writes (``added_at`` for a statement
    ``np.add.at(y, idx, v)``); None for any other statement."""
    call = statement.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "at"
        and len(call.args) == 3
        and not call.keywords
        and isinstance(call.args[0], ast.Name)
        and not any(isinstance(a, ast.Starred) for a in call.args)
    ):
        return None
    root = call.func
    while isinstance(root, ast.Attribute):
        root = root.value
    local = {a.arg for a in ast.walk(parsed.tree.args) if isinstance(a, ast.arg)} | {
        n.id
        for n in ast.walk(parsed.tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    if not isinstance(root, ast.Name) or root.id in local:
        return None
    method = parsed.namespace.resolve(call.func)
    if method is MISSING:
        return None
    for at, function in writes.items():
        if method == at:
            return function
    return None
