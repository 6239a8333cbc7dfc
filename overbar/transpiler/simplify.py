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
import itertools
import operator
from dataclasses import replace

from overbar.transpiler.names import (
    ReplaceNames,
    Transformer,
    clone,
    names_loaded,
    names_with,
    push_children,
    statements_depth_first,
)
from overbar.transpiler.primitive import is_number
from overbar.transpiler.reverse import Adjoint, is_comment

_FOLDABLE_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def simplify(adjoint: Adjoint) -> Adjoint:
    """Remove dead code, fold temporaries and literals, and drop empty comment blocks.

    The adjoint's tree is not changed: a statement is copied where it is rewritten (literals
    folded, a temporary folded into it, an unpacking renamed) or a block of it is, and
    shared with the adjoint where it is kept as it is, which most are (copying the whole
    tree first was a fifth of the pass)."""
    body = [fold_literals(statement) for statement in adjoint.tree.body]
    reads: dict[int, tuple[ast.stmt, list[str]]] = {}
    body, forward_length = _remove_dead(
        body, adjoint.forward_length, adjoint.effects, adjoint.pure, reads
    )
    body, forward_length = _fold_temporaries(
        body, forward_length, adjoint.temporaries, adjoint.effects, reads
    )
    body = _unpack_into_names(body, adjoint.temporaries)
    body = _drop_idle_loops(_drop_self_assignments(body), forward_length)
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


def without_dead_code(adjoint: Adjoint, removable=None) -> Adjoint:
    """The adjoint without the assignments ``simplify`` finds dead (its first step alone): for
    a late pass that makes forward values unread, whose lines then go. With ``removable``
    (statement -> bool), a forward line it refuses stays (with what it reads), dead or not:
    a line that may raise the user's error is kept, so that the error is raised."""
    pure = adjoint.pure
    while True:
        body, forward_length = _remove_dead(
            adjoint.tree.body, adjoint.forward_length, adjoint.effects, pure
        )
        if removable is None:
            break
        kept = {id(statement) for statement in body}
        refused = {
            name
            for statement in adjoint.tree.body[: adjoint.forward_length]
            if id(statement) not in kept and not removable(statement)
            for name in names_with(statement, ast.Store)
        }
        if not refused & pure:
            break
        pure = pure - refused
    if len(body) == len(adjoint.tree.body):
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = body
    return replace(adjoint, tree=tree, forward_length=forward_length)


def _reads(node: ast.AST) -> list[str]:
    return names_loaded(node)


def _reads_kept(
    statement: ast.stmt, known: dict[int, tuple[ast.stmt, list[str]]] | None
) -> list[str]:
    """``_reads(statement)``, kept in ``known`` (by the statement's id, with the statement,
    so that an id reused by another object is not mistaken for it) for a later step of the
    same pass to read instead of walking the statement again."""
    if known is None:
        return _reads(statement)
    found = known.get(id(statement))
    if found is not None and found[0] is statement:
        return found[1]
    reads = _reads(statement)
    known[id(statement)] = (statement, reads)
    return reads


def _writes(statement: ast.stmt) -> set[str]:
    """Every name ``statement`` assigns, or writes into (``y[i] = v``), inside its blocks too."""
    if isinstance(statement, ast.Assign):
        nodes = [statement]  # an expression holds no assignment: its value need not be walked
    elif isinstance(statement, ast.Expr | ast.Return | ast.Pass | ast.Assert):
        return set()
    else:
        nodes = statements_depth_first(statement)  # assignments and loops are statements
    return {
        n
        for node in nodes
        if isinstance(node, ast.Assign | ast.For)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for n in names_with(target.value if isinstance(target, ast.Subscript) else target)
    }


def _has_effect(statement: ast.stmt, effects: frozenset[str]) -> bool:
    """Whether ``statement`` calls one of ``effects`` (a function, or methods of an object).
    (A walk without a generator: it is asked of most statements.)"""
    stack: list = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute):
                function = function.value
            if isinstance(function, ast.Name) and function.id in effects:
                return True
        elif isinstance(node, ast.Name):
            continue  # its only node is its context
        push_children(stack, node)
    return False


def without_dead_assignments(
    statements: list[ast.stmt], effects: frozenset[str]
) -> list[ast.stmt]:
    """``statements`` (a reverse sweep ending in its return) without the assignments whose
    values nothing reads, as ``_remove_dead`` finds them: before the stack's pushes are chosen,
    a value that only a dead statement reads need not be saved."""
    return _live_block(statements, set(), effects)[0]


def _blocks(statement: ast.stmt) -> list[str]:
    return [f for f in ("body", "orelse") if getattr(statement, f, None)]


def _remove_dead(
    body: list[ast.stmt],
    forward_length: int,
    effects: frozenset[str],
    pure: frozenset[str],
    reads: dict[int, tuple[ast.stmt, list[str]]] | None = None,
) -> tuple[list[ast.stmt], int]:
    """Drop reverse-sweep assignments whose targets are never read afterwards, and forward-sweep
    ones to names bound only by pure computations (a gradient needs no value that nothing
    reads); the new length of the forward sweep.

    Identity: an assignment whose value is never read, and that does nothing else, can go.
    Side conditions: the target is not live after it (liveness through branches, and through
    loops to a fixed point: a loop body's entry feeds its next iteration); it is not a write
    into an array (``y[i] = v`` changes y); it calls no function with effects (the stack's
    pushes and pops, the seed's check of the result, in-place runtime helpers); in the forward
    sweep only names every binding of which is a pure computation go (a random draw, a print
    or a call of the user's helper stays). ``reads``, if given, keeps what each statement
    of ``body`` reads (``_reads_kept``)."""
    kept, _ = _live_block(
        body, set(), effects, removable_from=forward_length, pure=pure, reads=reads
    )
    kept_ids = {id(statement) for statement in kept}
    forward = sum(1 for statement in body[:forward_length] if id(statement) in kept_ids)
    return kept, forward


def _live_block(
    body: list[ast.stmt],
    live: set[str],
    effects: frozenset[str],
    removable_from: int = 0,
    pure: frozenset[str] = frozenset(),
    reads: dict[int, tuple[ast.stmt, list[str]]] | None = None,
) -> tuple[list[ast.stmt], set[str]]:
    """``body`` without dead assignments, given the names ``live`` after it; and the names live
    before it. Statements before ``removable_from`` (the forward sweep) are kept unless they
    bind a name of ``pure``. ``reads`` keeps what the statements of ``body`` it reads whole
    read (``_reads_kept``)."""
    live = set(live)
    kept: list[ast.stmt] = []
    for index in range(len(body) - 1, -1, -1):
        statement = body[index]
        removable = index >= removable_from or (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in pure
        )
        if isinstance(statement, ast.Assign):
            targets = _writes(statement)
            written_into = isinstance(statement.targets[0], ast.Subscript)
            if (
                removable
                and not written_into
                and not targets & live
                and not _has_effect(statement, effects)
            ):
                continue
            if written_into:  # y[i] = v keeps the rest of y: y stays live
                targets = set()
            live -= targets
            live.update(_reads_kept(statement, reads))
        elif isinstance(statement, ast.If) and removable:
            statement = copy.copy(statement)
            statement.body, live_body = _live_block(statement.body, live, effects)
            statement.orelse, live_else = _live_block(statement.orelse, live, effects)
            statement.body = statement.body or [ast.Pass()]
            live = live_body | live_else | set(_reads(statement.test))
        elif isinstance(statement, ast.For | ast.While) and removable:
            header = set(
                _reads(statement.iter if isinstance(statement, ast.For) else statement.test)
            )
            loop_live = live | header
            while True:  # the body's entry feeds the next iteration's exit
                _, entry = _live_block(statement.body, loop_live, effects)
                if entry <= loop_live:
                    break
                loop_live |= entry
            statement = copy.copy(statement)
            statement.body, _ = _live_block(statement.body, loop_live, effects)
            statement.body = statement.body or [ast.Pass()]
            live = loop_live
        else:
            live.update(_reads_kept(statement, reads))
        kept.append(statement)
    kept.reverse()
    return kept, live


def _fold_temporaries(
    body: list[ast.stmt],
    forward_length: int,
    temporaries: frozenset[str],
    effects: frozenset[str],
    reads: dict[int, tuple[ast.stmt, list[str]]] | None = None,
) -> tuple[list[ast.stmt], int]:
    """Fold each single-use temporary into its one reader (never one whose value has effects),
    and each temporary that is only a copy of another name (``tmp_bar = y_bar``) into all of its
    readers.

    Identity: substitution: reading a name bound to an expression is evaluating the expression
    there, if nothing it reads has changed in between.
    Side conditions: the name is a temporary overbar made (never the user's), bound once and
    read once, or bound once to another name; its value calls nothing with effects; no
    statement between the binding and the reader rebinds or writes into a name the value
    reads (else the binding stays where it is); the reader is a simple statement of the same
    block (never a loop or branch header, which may run many times or not at all); nothing
    moves out of the forward sweep. ``reads``: what statements read, where already known
    (``_reads_kept``)."""
    uses: dict[str, int] = {}
    reads_of = [_reads_kept(statement, reads) for statement in body]
    for reads in reads_of:
        for name in reads:
            uses[name] = uses.get(name, 0) + 1
    assignments: dict[str, list[ast.Assign]] = {}
    for statement in body:
        for node in statements_depth_first(statement):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                assignments.setdefault(node.targets[0].id, []).append(node)
    foldable = set()
    for name, nodes in assignments.items():
        if name not in temporaries or _has_effect(nodes[0], effects):
            continue
        if uses.get(name) == 1 or (len(nodes) == 1 and isinstance(nodes[0].value, ast.Name)):
            foldable.add(name)
    return _fold_block(body, forward_length, frozenset(foldable), uses, reads_of)


def _fold_block(
    body: list[ast.stmt],
    forward_length: int,
    temporaries: frozenset[str],
    uses: dict[str, int],
    reads_of: list[list[str]] | None = None,
) -> tuple[list[ast.stmt], int]:
    """One pass over a block: a foldable assignment is held back until its readers (simple
    statements of the same block) have taken the expression; if a statement in between
    reassigns a name the expression reads, or a reader is a branch or loop, it is put back in
    place. ``uses`` counts the reads still to come of each name; ``reads_of``, if given, the
    names each statement of ``body`` reads (as ``_reads`` finds them, before any folding)."""
    pending: dict[str, tuple[ast.Assign, set[str], bool]] = {}
    # For each name, the pending names whose values read it (a superset: entries are not
    # removed when a name leaves ``pending``), and each pending name's place in ``pending``'s
    # order: which held assignments a statement puts back is found from what it writes,
    # without going through them all (which made the pass grow with the square of the
    # function), and they are put back in ``pending``'s order, as a walk through it would.
    readers: dict[str, set[str]] = {}
    places: dict[str, int] = {}
    counter = itertools.count()
    folded: list[ast.stmt] = []
    new_forward_length = 0

    def put(statement: ast.stmt, in_forward: bool) -> None:
        nonlocal new_forward_length
        folded.append(statement)
        new_forward_length += in_forward

    for index, statement in enumerate(body):
        in_forward = index < forward_length
        if index == forward_length and forward_length:
            # The forward sweep keeps its lines: nothing computed there moves into the reverse.
            for held, _, was_forward in pending.values():
                put(held, was_forward)
            pending.clear()
        written = _writes(statement)
        compound = isinstance(statement, ast.If | ast.For | ast.While)
        reads = reads_of[index] if reads_of is not None else _reads(statement)
        candidates = {n for name in written for n in readers.get(name, ())}
        if compound:
            candidates.update(reads)
        for name in sorted(
            (
                n
                for n in candidates
                if n in pending
                and (
                    (compound and n in reads)
                    # a statement that reads the last uses of n may write what n's value reads
                    or (pending[n][1] & written and (compound or reads.count(n) < uses[n]))
                )
            ),
            key=places.__getitem__,
        ):
            held, _, was_forward = pending.pop(name)
            put(held, was_forward)
        if compound:
            statement = copy.copy(statement)
            for field in _blocks(statement):
                block, _ = _fold_block(getattr(statement, field), 0, temporaries, uses)
                setattr(statement, field, block)
            put(statement, in_forward)
            continue
        taken = [name for name in reads if name in pending]
        if taken:
            values = {name: pending[name][0].value for name in taken}
            statement = ReplaceNames(values).visit(clone(statement))  # rewritten in place
            for name in taken:
                uses[name] -= 1
                if uses[name] == 0:  # every reader has it: the assignment is gone
                    pending.pop(name, None)
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in temporaries
            and uses.get(statement.targets[0].id, 0) > 0
        ):
            # A name target reads nothing: the value's reads are the statement's, unless
            # folding just changed the value.
            needs = set(_reads(statement.value) if taken else reads)
            target = statement.targets[0].id
            if target not in pending:  # a name still pending keeps its place
                places[target] = next(counter)
            pending[target] = (statement, needs, in_forward)
            for name in needs:
                readers.setdefault(name, set()).add(target)
            continue
        put(statement, in_forward)
    for held, _, was_forward in pending.values():  # read only later, or by itself: keep it
        put(held, was_forward)
    return folded, new_forward_length


def fold_literals(statement: ast.stmt) -> ast.stmt:
    """Identity: ``c1 op c2`` for two numeric literals and op one of ``+ - *`` is the number
    Python computes for it, which is what the generated code would compute at run time.
    Side conditions: both operands are int or float literals (not bools, not strings, which
    ``*`` would repeat); division and powers are left (``1 / 2`` and ``2 ** -1`` change type).

    Folding goes from the innermost operation out, so a statement with no operation on two
    number literals has none to fold and is returned as it is without the rewrite's visit
    (which costs several times a walk)."""
    if not _has_literal_arithmetic(statement):
        return statement
    return _LITERAL_FOLDER.visit(clone(statement))  # the rewrite changes what it visits


def _has_literal_arithmetic(node: ast.AST) -> bool:
    """Whether ``node`` holds an operation on two number literals (what ``fold_literals``
    folds), found without a generator: it is asked of every statement."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BinOp) and is_number(current.left) and is_number(current.right):
            return True
        push_children(stack, current)
    return False


class _LiteralFolder(Transformer):
    """``fold_literals``'s rewrite (stateless: one instance serves every statement)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        fold = _FOLDABLE_ARITHMETIC.get(type(node.op))
        if fold and is_number(node.left) and is_number(node.right):
            return ast.copy_location(
                ast.Constant(value=fold(node.left.value, node.right.value)), node
            )
        return node


_LITERAL_FOLDER = _LiteralFolder()


def _drop_empty_comments(body: list[ast.stmt]) -> list[ast.stmt]:
    kept = []
    for index, statement in enumerate(body):
        if _blocks(statement):
            statement = copy.copy(statement)
            for field in _blocks(statement):
                setattr(statement, field, _drop_empty_comments(getattr(statement, field)))
            statement.body = statement.body or [ast.Pass()]
        following = body[index + 1] if index + 1 < len(body) else None
        if is_comment(statement) and (
            following is None
            or is_comment(following)
            or isinstance(following, ast.Return | ast.Pass)
        ):
            continue
        kept.append(statement)
    return kept


def _drop_idle_loops(body: list[ast.stmt], forward_length: int) -> list[ast.stmt]:
    """``for _ in range(trips): pass`` (or comments alone) in the reverse sweep does nothing:
    it goes (the reverse of a loop whose trips only restored what nothing reads).

    Identity: a ``for`` loop over ``range`` whose body is ``pass`` only binds its target.
    Side conditions: the loop is a statement of the reverse sweep's top level, has no
    ``else``, its ``range`` has names and numbers for arguments (evaluating them does
    nothing), and nothing in the function reads its target."""
    loaded = None
    kept = body[:forward_length]
    for statement in body[forward_length:]:
        if (
            isinstance(statement, ast.For)
            and all(isinstance(inner, ast.Pass) or is_comment(inner) for inner in statement.body)
            and not statement.orelse
            and isinstance(statement.target, ast.Name)
            and isinstance(statement.iter, ast.Call)
            and isinstance(statement.iter.func, ast.Name)
            and statement.iter.func.id == "range"
            and not statement.iter.keywords
            and all(isinstance(a, ast.Name | ast.Constant) for a in statement.iter.args)
        ):
            if loaded is None:
                loaded = {name for top in body for name in _reads(top)}
            if statement.target.id not in loaded:
                continue
        kept.append(statement)
    return kept


def _drop_self_assignments(body: list[ast.stmt]) -> list[ast.stmt]:
    """``x = x`` does nothing; folding a captured adjoint back can leave one.

    Identity: rebinding a name to its own value changes nothing. Side conditions: the target
    and the value are the same plain name (not an attribute or subscript, whose assignment
    could call ``__setitem__``)."""
    kept = []
    for statement in body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Name)
            and statement.targets[0].id == statement.value.id
        ):
            continue
        if _blocks(statement):
            statement = copy.copy(statement)
            for field in _blocks(statement):
                setattr(statement, field, _drop_self_assignments(getattr(statement, field)))
            statement.body = statement.body or [ast.Pass()]
        kept.append(statement)
    return kept


def _unpack_into_names(body: list[ast.stmt], temporaries: frozenset[str]) -> list[ast.stmt]:
    """``tmp4, tmp5 = pullback(...)`` then ``W_bar = tmp4``: unpack into ``W_bar`` directly
    (when tmp4 is read only there, and nothing in between touches W_bar). Blocks too.

    Identity: renaming a temporary to the name it is copied into. Side conditions: the
    temporary is read only by that copy; the receiver is not another target of the same
    unpacking, and no statement between reads or writes it; nothing between is a branch or
    loop, or reads the temporary."""
    if not any(
        isinstance(statement, ast.Assign)
        and isinstance(statement.targets[0], ast.Tuple)
        and any(isinstance(e, ast.Name) and e.id in temporaries for e in statement.targets[0].elts)
        for top in body
        for statement in statements_depth_first(top)
    ):
        return body  # no unpacking into a temporary: nothing to count the reads for
    reads: dict[str, int] = {}
    for name in _reads(ast.Module(body=body, type_ignores=[])):
        reads[name] = reads.get(name, 0) + 1
    return _unpack_block(body, temporaries, reads)


def _unpack_block(block: list[ast.stmt], temporaries, reads) -> list[ast.stmt]:
    block = list(block)
    for index, statement in enumerate(block):
        if _blocks(statement):
            statement = copy.copy(statement)
            for field in _blocks(statement):
                setattr(
                    statement, field, _unpack_block(getattr(statement, field), temporaries, reads)
                )
            block[index] = statement
    index = 0
    while index < len(block):
        statement = block[index]
        if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Tuple):
            if any(
                isinstance(e, ast.Name) and e.id in temporaries and reads.get(e.id) == 1
                for e in statement.targets[0].elts
            ):  # an element may be renamed: in a copy
                statement = block[index] = clone(statement)
            for element in statement.targets[0].elts:
                if isinstance(element, ast.Name) and element.id in temporaries:
                    _unpack_one(block, index, element, reads)
        index += 1
    return block


def _unpack_one(block: list[ast.stmt], index: int, element: ast.Name, reads) -> None:
    if reads.get(element.id) != 1:
        return
    names_in_target = {e.id for e in block[index].targets[0].elts if isinstance(e, ast.Name)}
    for later in range(index + 1, len(block)):
        statement = block[later]
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Name)
            and statement.value.id == element.id
        ):
            receiver = statement.targets[0].id
            between = block[index + 1 : later]
            if receiver in names_in_target or any(
                receiver in _reads(s) or receiver in _writes(s) for s in between
            ):
                return
            element.id = receiver
            del block[later]
            return
        if element.id in _reads(statement) or _blocks(statement):
            return
