"""Values saved for the reverse sweep that, after the other passes, it no longer reads.

The reverse sweep chooses what to push while it writes the adjoint, before simplification and
the peephole rewrites; a value it read then may be read no more (``broadcast_like(g, tmp13)``
folded into ``g``). Invariant established: no name is pushed whose every pop goes back into it
and which the reverse sweep reads nowhere else. Before and after::

    for t in tmp5:                          for t in tmp5:
        stack.append(shape_of(tmp13))           tmp13 = tmp12**2
        tmp13 = tmp12**2                        ...
        ...                                 ...
    for _ in range(trips):                  for _ in range(trips):
        tmp13 = stack.pop()                     ...
        ...

Identity: a value pushed and popped back into a name nothing reads can be neither pushed nor
popped. Side conditions: the pushes of ``N`` (``stack.append(N)``, ``stack.append(shape_of(N))``)
are as many as the pops into ``N`` (``N = stack.pop()``), so each of them is popped back into
``N`` (the stack is last in, first out, and a pop goes to the name its push saved, or to a fresh
name for a value a line reads while overwriting it: then the counts differ and nothing goes);
no statement of the reverse sweep reads ``N``; taking them all away leaves every other push
paired with the same pop.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace

from overbar.transpiler.reverse import Adjoint


def drop_unread_pushes(adjoint: Adjoint) -> Adjoint:
    """The adjoint without the pushes and pops of names its reverse sweep does not read."""
    stack = adjoint.stack
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    pushed = Counter(
        name
        for statement in forward
        for node in ast.walk(statement)
        if (name := _pushed_name(node, stack)) is not None
    )
    if not pushed:
        return adjoint
    popped = Counter(
        node.targets[0].id
        for statement in reverse
        for node in ast.walk(statement)
        if _is_pop(node, stack)
    )
    pop_targets = {
        id(node.targets[0])
        for statement in reverse
        for node in ast.walk(statement)
        if _is_pop(node, stack)
    }
    read = {
        node.id
        for statement in reverse
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and id(node) not in pop_targets
    }
    unread = {name for name, count in pushed.items() if popped[name] == count and name not in read}
    if not unread:
        return adjoint

    def keep(node: ast.AST) -> bool:
        if isinstance(node, ast.Expr):
            return _pushed_name(node, stack) not in unread
        return not (_is_pop(node, stack) and node.targets[0].id in unread)

    body = [_without(statement, keep, unread) for statement in adjoint.tree.body]
    kept = [statement for statement in body if statement is not None]
    lost_forward = sum(1 for statement in body[: adjoint.forward_length] if statement is None)
    tree = copy.copy(adjoint.tree)
    tree.body = kept
    return replace(adjoint, tree=tree, forward_length=adjoint.forward_length - lost_forward)


def _pushed_name(node: ast.AST, stack: str) -> str | None:
    """``N`` for ``stack.append(N)`` and ``stack.append(shape_of(N))`` (any one-argument
    call of N: the recording saves a value or its shape)."""
    if not isinstance(node, ast.Expr):
        return None
    node = node.value
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == stack
        and len(node.args) == 1
    ):
        return None
    value = node.args[0]
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        value = value.args[0]
    return value.id if isinstance(value, ast.Name) else None


def _is_pop(node: ast.AST, stack: str) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "pop"
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == stack
        and not node.value.args
    )


def _without(statement: ast.stmt, keep, unread: set[str]) -> ast.stmt | None:
    """``statement`` without the pushes and pops ``keep`` refuses, in its blocks too; None if
    it goes itself. ``a = b = None`` (the prologue binding names pushed before their first
    assignment) loses the unread names."""
    if not keep(statement):
        return None
    if (
        isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is None
        and all(isinstance(t, ast.Name) for t in statement.targets)
    ):
        targets = [t for t in statement.targets if t.id not in unread]
        if len(targets) != len(statement.targets):
            return ast.Assign(targets, statement.value) if targets else None
        return statement
    blocks = [f for f in ("body", "orelse") if isinstance(getattr(statement, f, None), list)]
    if not blocks or isinstance(statement, ast.FunctionDef):
        return statement
    statement = copy.copy(statement)
    for field in blocks:
        inner = [_without(s, keep, unread) for s in getattr(statement, field)]
        inner = [s for s in inner if s is not None]
        if field == "body" and not inner:
            inner = [ast.Pass()]
        setattr(statement, field, inner)
    return statement
