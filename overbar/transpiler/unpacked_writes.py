"""Writes into arrays as targets of an unpacking, made one write per line.

``u[0], u[-1] = a, b`` (or ``x, y[i] = pair``) assigns each element of the value to its target,
left to right. This pass writes it as an unpacking into new names followed by one assignment
per target, in the same order:

    u[0], u[-1] = a, b          becomes        tmp, tmp1 = a, b
                                               u[0] = tmp
                                               u[-1] = tmp1

so that the fence checks each write as every write into an array is checked, and the sweep
undoes it as one. Identity: Python evaluates the whole value first, then assigns its elements
to the targets from left to right, each target's own parts (``u`` and the index) evaluated when
it is assigned, after the targets before it; the rewrite evaluates the value, binds its
elements to names nothing else reads, then assigns them to the targets in that order. Side
conditions: the statement has one target, a tuple or list of names, subscripts and nested
tuples or lists (no starred element), at least one of them a subscript; any other is left as it
is (and the fence says what it refuses).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction

_BLOCKS = ("body", "orelse", "finalbody")


def with_unpacked_writes(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each unpacking that writes into an array written as above; unchanged
    where there is none."""
    if not any(_writes_in_unpacking(node) for node in ast.walk(parsed.tree)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    taken = NameAllocator(set(names_in(tree)) | set(parsed.namespace.made))

    def rewritten(block: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in block:
            for field in _BLOCKS:
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, rewritten(inner))
            if not _writes_in_unpacking(statement):
                result.append(statement)
                continue
            target = statement.targets[0]
            names = [taken.fresh("tmp") for _ in target.elts]
            unpacking = ast.Assign(
                targets=[
                    ast.Tuple(
                        elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store()
                    )
                ],
                value=statement.value,
            )
            result.append(_located(unpacking, statement))
            for element, name in zip(target.elts, names, strict=True):
                one = ast.Assign(targets=[element], value=ast.Name(id=name, ctx=ast.Load()))
                result.extend(rewritten([_located(one, element)]))  # nested writes too
        return result

    tree.body = rewritten(tree.body)
    return replace(parsed, tree=tree)


def _writes_in_unpacking(node: ast.AST) -> bool:
    """``a[i], b = v``: one tuple or list target holding a subscript, nothing starred."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return False
    target = node.targets[0]
    if not isinstance(target, ast.Tuple | ast.List):
        return False
    parts = list(ast.walk(target))
    return any(isinstance(p, ast.Subscript) for p in parts) and not any(
        isinstance(p, ast.Starred) for p in parts
    )


def _located(new: ast.stmt, old: ast.AST) -> ast.stmt:
    """``new`` with every node of its own given ``old``'s place in the user's file (the nodes
    it takes from the user's line keep theirs)."""
    for node in ast.walk(new):
        if not hasattr(node, "lineno"):
            ast.copy_location(node, old)
    return ast.copy_location(new, old)
