"""Simplify: clean the generated function up until it reads like a hand-written adjoint.

Invariant established: the reverse sweep holds no dead assignment; every temporary that is
assigned once and read once is folded back into the expression that reads it (unless a name it
reads is reassigned in between); arithmetic on two numeric literals is folded; comments whose block
became empty are gone. Nothing here changes a value, a shape or an object's identity: folding
moves an expression, it never replaces one by another (``y = x * 1.0`` stays as written).

>>> import ast
>>> from overbar.transpiler.reverse import Adjoint
>>> tree = ast.parse('''
... def f_grad(x):
...     tmp1 = x * 2
...     y = tmp1 + 1
...     y_bar = seed(y)
...     tmp2 = y_bar * (3 - 1)
...     unused = y_bar * 5
...     x_bar = tmp2
...     return (y, x_bar)
... ''').body[0]
>>> adjoint = Adjoint(tree, 2, frozenset({"tmp1", "tmp2", "unused"}), (), frozenset({"seed"}))
>>> print(ast.unparse(simplify(adjoint).tree))
def f_grad(x):
    y = x * 2 + 1
    y_bar = seed(y)
    x_bar = y_bar * 2
    return (y, x_bar)
"""

from __future__ import annotations

import ast
import copy
import operator
from dataclasses import replace

from overbar.transpiler.reverse import Adjoint, is_comment

_FOLDABLE_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def simplify(adjoint: Adjoint) -> Adjoint:
    """Remove dead code, fold temporaries and literals, and drop empty comment blocks."""
    body = [_fold_literals(statement) for statement in copy.deepcopy(adjoint.tree.body)]
    body = _remove_dead(body, adjoint.forward_length, adjoint.effects)
    body, forward_length = _fold_temporaries(body, adjoint.forward_length, adjoint.temporaries)
    body = _drop_empty_comments(body)
    tree = ast.FunctionDef(
        name=adjoint.tree.name,
        args=adjoint.tree.args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    ast.copy_location(tree, adjoint.tree)
    return replace(adjoint, tree=tree, forward_length=forward_length)


def _reads(node: ast.AST) -> list[str]:
    return [
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


def _writes(statement: ast.stmt) -> set[str]:
    if not isinstance(statement, ast.Assign):
        return set()
    return {n.id for t in statement.targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _calls_any(statement: ast.stmt, functions: frozenset[str]) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions
        for n in ast.walk(statement)
    )


def _remove_dead(
    body: list[ast.stmt], forward_length: int, effects: frozenset[str]
) -> list[ast.stmt]:
    """Drop reverse-sweep assignments whose targets are never read afterwards."""
    live: set[str] = set()
    kept: list[ast.stmt] = []
    for index in range(len(body) - 1, -1, -1):
        statement = body[index]
        targets = _writes(statement)
        removable = (
            index >= forward_length
            and isinstance(statement, ast.Assign)
            and not targets & live
            and not _calls_any(statement, effects)
        )
        if removable:
            continue
        live -= targets
        live.update(_reads(statement))
        kept.append(statement)
    kept.reverse()
    return kept


def _fold_temporaries(
    body: list[ast.stmt], forward_length: int, temporaries: frozenset[str]
) -> tuple[list[ast.stmt], int]:
    """Fold each single-use temporary into its one reader, in one pass over the body.

    A foldable assignment is held back until its reader comes and takes the expression; if a
    statement in between reassigns a name the expression reads, it is put back in place first.
    """
    uses: dict[str, int] = {}
    for statement in body:
        for name in _reads(statement):
            uses[name] = uses.get(name, 0) + 1
    pending: dict[str, tuple[ast.Assign, set[str], bool]] = {}
    folded: list[ast.stmt] = []
    new_forward_length = 0

    def put(statement: ast.stmt, in_forward: bool) -> None:
        nonlocal new_forward_length
        folded.append(statement)
        new_forward_length += in_forward

    for index, statement in enumerate(body):
        in_forward = index < forward_length
        written = _writes(statement)
        for name in [n for n, (_, reads, _) in pending.items() if reads & written]:
            held, _, was_forward = pending.pop(name)
            put(held, was_forward)
        taken = [name for name in _reads(statement) if name in pending]
        if taken:
            values = {name: pending.pop(name)[0].value for name in taken}
            statement = _Replace(values).visit(statement)
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in temporaries
            and uses.get(statement.targets[0].id) == 1
        ):
            pending[statement.targets[0].id] = (
                statement,
                set(_reads(statement.value)),
                in_forward,
            )
            continue
        put(statement, in_forward)
    for held, _, was_forward in pending.values():  # read only by itself: keep as written
        put(held, was_forward)
    return folded, new_forward_length


class _Replace(ast.NodeTransformer):
    def __init__(self, values: dict[str, ast.expr]):
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.values and isinstance(node.ctx, ast.Load):
            return self.values[node.id]
        return node


def _fold_literals(statement: ast.stmt) -> ast.stmt:
    class Folder(ast.NodeTransformer):
        def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
            self.generic_visit(node)
            fold = _FOLDABLE_ARITHMETIC.get(type(node.op))
            if fold and _is_number(node.left) and _is_number(node.right):
                return ast.copy_location(
                    ast.Constant(value=fold(node.left.value, node.right.value)), node
                )
            return node

    return Folder().visit(statement)


def _is_number(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _drop_empty_comments(body: list[ast.stmt]) -> list[ast.stmt]:
    kept = []
    for index, statement in enumerate(body):
        following = body[index + 1] if index + 1 < len(body) else None
        if is_comment(statement) and (
            following is None or is_comment(following) or isinstance(following, ast.Return)
        ):
            continue
        kept.append(statement)
    return kept
