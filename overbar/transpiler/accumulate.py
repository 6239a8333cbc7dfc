"""Contributions scattered into slices of one array added into one buffer, in place.

Invariant established: in the reverse sweep, no run of statements

    u_bar = index_bar(a, u, slice(None, -2))
    u_bar = u_bar + index_bar(b, u, slice(1, -1))
    u_bar = u_bar + index_bar(c, u, slice(2, None))

is left whose indices are basic (slices, integers, None, ``...``); it reads, as a person writes
the adjoint of a stencil:

    u_bar = index_bar(a, u, slice(None, -2))
    u_bar[1:-1] += b
    u_bar[2:] += c

one array of ``u``'s shape instead of one per contribution and one per sum.

Identity: ``X + index_bar(b, u, J)`` is ``X`` with ``b`` added at ``J`` (``index_bar`` is zeros
shaped like ``u`` with ``b`` put at ``J``), and ``X[J] += b`` adds ``b`` at ``J`` in place.
Side conditions:

- ``X`` was bound by ``index_bar`` itself and nothing read it since: it is a fresh array of
  ``u``'s shape that no other name holds, so writing into it changes no other value;
- the index ``J`` is basic (its parts are literal slices, integers known to be integers, None
  or ``...``): a basic index names each element once, where an array index may repeat one,
  which ``index_bar`` adds up (``np.add.at``) and ``+=`` would not;
- every contribution is to the same ``u`` (so to an array of the same shape), in consecutive
  statements of one block.

The values are the same up to the dtype of the buffer: the sum of float64 arrays is float64
either way; a float64 contribution added into a float32 buffer stays float32, the input's.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import clone
from overbar.transpiler.reverse import Adjoint, is_comment


def accumulate(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the runs above accumulated in place in its reverse sweep."""
    scatters = {name for name, value in adjoint.bindings if value is runtime.index_bar}
    if not scatters or _rebinds_slice(adjoint.tree):
        return adjoint
    shapes = dict(adjoint.shapes)
    body = clone(adjoint.tree.body)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = _Blocks(scatters, shapes, runtime).block(reverse)
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


def _rebinds_slice(tree: ast.FunctionDef) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == "slice" and isinstance(node.ctx, ast.Store)
        for node in ast.walk(tree)
    ) or any(argument.arg == "slice" for argument in tree.args.args + tree.args.kwonlyargs)


class _Blocks:
    def __init__(self, scatters: set[str], shapes: dict[str, Any], runtime: Runtime):
        self.scatters, self.shapes, self.runtime = scatters, shapes, runtime

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        fresh: tuple[str, str] | None = None  # (buffer, the array it is shaped like)
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
            added = self.added_at(statement, fresh)
            if added is not None or is_comment(statement):
                result.append(added or statement)
                continue
            fresh = self.made(statement)
            result.append(statement)
        return result

    def made(self, statement: ast.stmt) -> tuple[str, str] | None:
        """``X = index_bar(b, u, J)``: (X, u)."""
        call = _assigned_call(statement)
        if call is None or not self.is_scatter(call):
            return None
        target = statement.targets[0].id
        shaped_like = call.args[1].id
        if target == shaped_like or any(_reads(a, target) for a in call.args):
            return None
        return target, shaped_like

    def added_at(self, statement: ast.stmt, fresh: tuple[str, str] | None) -> ast.stmt | None:
        """``X = X + index_bar(b, u, J)`` right after X was made: ``X[J] += b``."""
        if fresh is None or not isinstance(statement, ast.Assign):
            return None
        buffer, shaped_like = fresh
        target, value = statement.targets[0], statement.value
        if not (
            isinstance(target, ast.Name)
            and target.id == buffer
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and value.left.id == buffer
            and isinstance(value.right, ast.Call)
            and self.is_scatter(value.right)
        ):
            return None
        contribution, like, index = value.right.args
        if like.id != shaped_like or _reads(contribution, buffer):
            return None
        subscript = self.basic_index(index)
        if subscript is None:
            return None
        place = ast.Subscript(ast.Name(buffer, ast.Load()), subscript, ast.Store())
        operator: ast.operator = ast.Add()
        positive = _without_sign(contribution)
        if positive is not None:  # x + -b is x - b, and (-a) * b is -(a * b), exactly
            operator, contribution = ast.Sub(), positive
        return ast.copy_location(ast.AugAssign(place, operator, contribution), statement)

    def is_scatter(self, call: ast.Call) -> bool:
        return (
            isinstance(call.func, ast.Name)
            and call.func.id in self.scatters
            and len(call.args) == 3
            and not call.keywords
            and isinstance(call.args[1], ast.Name)
        )

    def basic_index(self, index: ast.expr) -> ast.expr | None:
        """``index`` written as subscript syntax, if it is basic."""
        if isinstance(index, ast.Tuple):
            parts = [self.basic_part(part) for part in index.elts]
            return None if any(p is None for p in parts) else ast.Tuple(parts, ast.Load())
        return self.basic_part(index)

    def basic_part(self, part: ast.expr) -> ast.expr | None:
        if isinstance(part, ast.Constant) and (
            part.value is None or part.value is ... or type(part.value) is int
        ):
            return part
        if isinstance(part, ast.Name) and self.runtime.shapes.is_integer(self.shapes.get(part.id)):
            return part
        if (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Name)
            and part.func.id == "slice"
            and not part.keywords
            and 1 <= len(part.args) <= 3
        ):
            bounds = [None if _is_none(a) else a for a in part.args]
            if len(bounds) == 1:
                return ast.Slice(None, bounds[0], None)
            return ast.Slice(*(bounds + [None] * (3 - len(bounds))))
        return None


def _assigned_call(statement: ast.stmt) -> ast.Call | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
    ):
        return statement.value
    return None


def _without_sign(node: ast.expr) -> ast.expr | None:
    """``a * b / c`` for ``-a * b / c`` (a negation leading a product or quotient)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        left = _without_sign(node.left)
        return None if left is None else ast.BinOp(left, node.op, node.right)
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))
