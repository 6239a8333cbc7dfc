"""Fold the jvp's single-use temporaries back into the line that reads them.

Invariant established: a temporary of the normal form (or its tangent) that is assigned once and
read once, later in the same block by a simple statement, is replaced by its expression there,
so ``tmp1 = W1 @ x`` / ``z = tmp1 + b1`` reads ``z = W1 @ x + b1`` again, and
``tmp1_dot = W1_dot @ x + W1 @ x_dot`` / ``z_dot = tmp1_dot + b1_dot`` reads
``z_dot = W1_dot @ x + W1 @ x_dot + b1_dot``.

Identity: ``t = e; ...; s[t]`` computes what ``...; s[e]`` does. Side conditions: t is assigned
nowhere else and read nowhere else (so no other line sees it, and e is computed as often as
before: the reader is a simple statement of the same block, not inside a loop e was outside
of); no statement between them assigns (or writes into, or appends to) a name e reads; e has no
effects, and the statements between have none but appends to lists, which count as assigning
the list (the caller marks the statements that qualify as ``pure``), or writes into tangents
where e is a value of the function's own, which reads no tangent (``tangent_effects``,
``primal_values``); anything else between stops the fold, a write into an array of the
function's above all: e may read a view of it (``t = x[1:]`` then ``x[1:] = t * c``), so the
order of effects is kept.

>>> import ast
>>> tree = ast.parse("tmp1 = a @ x\\nz = tmp1 + b\\ntmp1_dot = a @ x_dot\\nz_dot = tmp1_dot")
>>> folded = fold(tree.body, {"tmp1", "tmp1_dot"}, {id(s) for s in tree.body})
>>> print(ast.unparse(folded))
z = a @ x + b
z_dot = a @ x_dot
"""

from __future__ import annotations

import ast
from collections import Counter

from overbar.transpiler.fence import is_append
from overbar.transpiler.names import ReplaceNames, clone, walk

_BLOCKS = ("body", "orelse")


def fold(
    statements: list[ast.stmt],
    temporaries: set[str] | frozenset[str],
    pure: set[int] | frozenset,
    tangent_effects: set[int] | frozenset = frozenset(),
    primal_values: set[int] | frozenset = frozenset(),
) -> list[ast.stmt]:
    """``statements`` (not changed) with the single-use ``temporaries`` folded into their
    readers; ``pure`` holds the ids of the statements known to have no effects,
    ``tangent_effects`` those whose effects are on tangents only (writes into them), which the
    lines in ``primal_values`` (the function's own values, which read no tangent) may pass."""
    copies = clone(statements)
    pairs = list(zip(_nodes(statements), _nodes(copies), strict=True))
    pure_copies = {id(copy) for original, copy in pairs if id(original) in pure}
    passable = {id(copy) for original, copy in pairs if id(original) in tangent_effects}
    values = {id(copy) for original, copy in pairs if id(original) in primal_values}
    assigned: Counter = Counter()
    read: Counter = Counter()
    for node in _nodes(copies):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                assigned[node.id] += 1
            else:
                read[node.id] += 1
    single = {t for t in temporaries if assigned[t] == 1 and read[t] == 1}
    while _fold_blocks(copies, single, _Kinds(pure_copies, passable, values)):
        pass
    return copies


class _Kinds:
    """What folding may move past what: the ids of the pure statements, of those whose
    effects are on tangents only, and of the lines computing the function's values."""

    def __init__(self, pure: set[int], tangent_effects: set[int], values: set[int]):
        self.pure, self.tangent_effects, self.values = pure, tangent_effects, values

    def may_pass(self, moved: ast.stmt, between: ast.stmt) -> bool:
        return id(between) in self.pure or (
            id(between) in self.tangent_effects and id(moved) in self.values
        )


def _nodes(statements: list[ast.stmt]):
    """Every node of ``statements``, in an order that depends on their structure alone."""
    for statement in statements:
        yield from walk(statement)


def _fold_blocks(statements: list[ast.stmt], single: set[str], kinds: _Kinds) -> bool:
    changed = _fold_block(statements, single, kinds)
    for statement in statements:
        for field in _BLOCKS:
            block = getattr(statement, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                changed = _fold_blocks(block, single, kinds) or changed
    return changed


def _fold_block(block: list[ast.stmt], single: set[str], kinds: _Kinds) -> bool:
    changed = False
    index = 0
    while index < len(block):
        statement = block[index]
        name = _single_assignment(statement, single)
        if name is None or id(statement) not in kinds.pure:
            index += 1
            continue
        value = statement.value
        reads = {n.id for n in walk(value) if isinstance(n, ast.Name)}
        reader = None
        for later in range(index + 1, len(block)):
            candidate = block[later]
            if any(isinstance(n, ast.Name) and n.id == name for n in walk(candidate)):
                reader = later if _is_simple(candidate) else None
                break
            if not kinds.may_pass(statement, candidate) or _binds(candidate) & reads:
                break
        if reader is None:
            index += 1
            continue
        target = block[reader]
        replaced = ReplaceNames({name: value}).visit(target)
        for kind in (kinds.pure, kinds.tangent_effects, kinds.values):
            if id(target) in kind:
                kind.add(id(replaced))
        block[reader] = replaced
        del block[index]
        single.discard(name)
        changed = True
    return changed


def _single_assignment(statement: ast.stmt, single: set[str]) -> str | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id in single
    ):
        return statement.targets[0].id
    return None


def _is_simple(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Assign | ast.Return | ast.Expr)


def _binds(statement: ast.stmt) -> set[str]:
    """Names a statement assigns, writes into or appends to (anywhere within it)."""
    found = set()
    for node in walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            found.update(n.id for n in walk(node.value) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Expr) and is_append(node):
            found.add(node.value.func.value.id)
    return found
