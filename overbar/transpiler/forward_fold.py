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

Where a line between binds a name e reads (``t_dot = c * x_dot * x``, ``x = x - c * x``,
``x_dot = x_dot - t_dot``: the value changes after its slope's term is computed), the reader
moves up instead, to the temporary's line (``_may_rise``, whose docstring has the identity and
its side conditions).

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
        reader, rising = None, False
        for later in range(index + 1, len(block)):
            candidate = block[later]
            if any(isinstance(n, ast.Name) and n.id == name for n in walk(candidate)):
                reader = later if _is_simple(candidate) else None
                break
            if not kinds.may_pass(statement, candidate):
                break
            rising = rising or bool(_binds(candidate) & reads)
        if reader is not None and rising and not _may_rise(block, index, reader, name, kinds):
            reader = None
        if reader is None:
            index += 1
            continue
        target = block[reader]
        replaced = ReplaceNames({name: value}).visit(target)
        for kind in (kinds.pure, kinds.tangent_effects, kinds.values):
            if id(target) in kind:
                kind.add(id(replaced))
        if rising:  # the reader moves up to the temporary's line, which it replaces
            block[index] = replaced
            del block[reader]
        else:
            block[reader] = replaced
            del block[index]
        single.discard(name)
        changed = True
    return changed


def _may_rise(block: list[ast.stmt], index: int, reader: int, name: str, kinds: _Kinds) -> bool:
    """Whether ``block[reader]``, which reads the temporary ``name`` that ``block[index]``
    assigns, may move up to that line (where the temporary's expression is then folded into
    it): the lines between bind something the expression reads, so it cannot move down.

    Identity: ``t = e; s; u = r(t)`` computes what ``u = r(e); s`` does. Side conditions: r
    and the lines s between are pure (no effects, so only their order of binding names is at
    stake), assignments to names (no write into an array, which may be a view of another); u
    is one or more names; s binds no name r reads, and reads or binds none r binds.
    """
    moved = block[reader]
    if id(moved) not in kinds.pure or not _assigns_names(moved):
        return False
    targets = {n.id for target in moved.targets for n in walk(target) if isinstance(n, ast.Name)}
    reads = {n.id for n in walk(moved.value) if isinstance(n, ast.Name) and n.id != name}
    for between in block[index + 1 : reader]:
        if id(between) not in kinds.pure or not _assigns_names(between):
            return False
        if _binds(between) & (reads | targets):
            return False
        if any(isinstance(n, ast.Name) and n.id in targets for n in walk(between)):
            return False
    return True


def _assigns_names(statement: ast.stmt) -> bool:
    """Whether ``statement`` is an assignment that binds names only, writing into nothing."""
    return isinstance(statement, ast.Assign) and all(map(_names_only, statement.targets))


def _names_only(target: ast.expr) -> bool:
    """Whether an assignment's target binds names only (``u``, ``a, b``), writing into nothing."""
    if isinstance(target, ast.Tuple | ast.List):
        return all(_names_only(element) for element in target.elts)
    return isinstance(target, ast.Name)


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
