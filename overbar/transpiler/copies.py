"""Copies between names in the reverse sweep, gone.

A line that reads the value it overwrites (``x = x - 0.01 * x ** 3``) has the reverse sweep keep
the adjoint and the value it had under fresh names, then put them back; once the other passes
have run, what is left is often only the copies. Invariant established: in each block of the
reverse sweep, no temporary is a copy of a name that it could be replaced by, no name is copied
back from a temporary that still holds its value, and no value is popped into a temporary only to
be copied into a name. Before and after::

    tmp7 = stack.pop()                  x = stack.pop()
    tmp6 = x_bar                        tmp4_bar = -x_bar * 0.01
    x_bar = tmp6
    x = tmp7
    tmp4_bar = -tmp6 * 0.01

Identities, each within one block (straight-line statements; a statement that holds a block is
one statement that reads and binds every name it mentions):

- ``T = X`` then ``X = T``, with neither bound in between: the second changes nothing.
- ``T = X`` then reads of ``T``: each reads ``X``'s value, while neither is bound again. Side
  conditions: ``T`` is a temporary bound by this one statement only; every read of ``T`` in the
  function is in a later statement of the block, before ``X`` or ``T`` is bound again; then
  the copy goes.
- ``T = stack.pop()`` then ``X = T``: the pop goes straight into ``X``. Side conditions: ``T``
  is a temporary bound once and read only there; no statement in between reads or binds ``X``
  (its old value is still the one read there).
- ``T = 1.0 * A`` is ``T = A`` (the copy a rule makes so that an adjoint never shares a forward
  value's memory): multiplying by one is exact. Side conditions: ``A`` is a forward value
  surely floating point (so the dtype is the same); ``T`` is a temporary bound once, and every
  read of it is an operand of arithmetic, which makes a new array: no read returns it, stores
  it, passes it to a function or writes into it, so no one can see that it shares ``A``.
- ``T = 1.0 * A`` is ``T = as_floating(A)`` (``A`` itself where ``A`` is a floating point
  array, else ``1.0 * A``), for ``A`` a parameter the function never binds, whose dtype is
  the caller's (the adjoint of ``np.sum(y * R)`` is ``y_bar = 1.0 * R``; a value the
  function computes is left to be folded back where it is read). Side conditions: ``T`` is
  bound by this one statement only, a statement of the reverse sweep's top level; every read
  of ``T`` in the function is in a later statement of that level and is an operand of
  arithmetic or the array a ``T.sum(...)`` reduces (each makes a new array); every statement
  from the copy to the last read binds names only (``x = ...``, no write into an array, no
  call statement), so nothing writes into ``A`` while ``T`` may share it.
- ``T = X[J].copy()`` is ``T = +X[J]`` where every part of ``J`` is an integer (an element,
  as the adjoint of ``new[i] = ...`` takes it out of ``new_bar``): unary plus makes a new value
  (a NumPy scalar, or a new array for another library's 0-d view), exact, signs of zeros and
  NaNs included, where a NumPy scalar's ``.copy()`` goes through the array machinery at ten
  times the cost of reading the element. Side conditions: ``X`` is an adjoint (floats: unary
  plus refuses booleans); each part of ``J`` is an integer literal or a name shape inference
  knows to hold an integer.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import clone, names_loaded, names_stored, walk
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import is_comment


def remove_copies(adjoint: Adjoint, runtime: Runtime | None = None) -> Adjoint:
    """The adjoint with the copies above gone from its reverse sweep (``runtime`` gives
    ``as_floating``; without it, or without the helper, those copies stay). The adjoint's tree
    is not changed: a statement is copied where a rename rewrites it (``propagate``,
    ``pop_straight``), and the others are shared."""
    body = list(adjoint.tree.body)
    bound: Counter = Counter()
    reads: Counter = Counter()
    for statement in body:
        bound.update(names_stored(statement))
        reads.update(names_loaded(statement))
    once = {name for name in adjoint.temporaries if bound[name] == 1}
    reverse = list(body[adjoint.forward_length :])
    uncopied = _share_where_only_arithmetic_reads(body, reverse, once, adjoint.floating)
    bindings = adjoint.bindings
    if runtime is not None and runtime.as_floating is not None:
        helper = _helper_name(adjoint, runtime.as_floating, bound | reads)
        arguments = adjoint.tree.args
        parameters = {a.arg for a in [*arguments.posonlyargs, *arguments.args]}
        parameters |= {a.arg for a in arguments.kwonlyargs}
        if _share_as_floating(body, reverse, bound, helper, parameters - set(bound)):
            uncopied = True
            if (helper, runtime.as_floating) not in bindings:
                bindings = (*bindings, (helper, runtime.as_floating))
    remover = _Remover(once, reads, adjoint.stack)
    reverse = remover.block(reverse)
    if runtime is not None:
        integers = {name for name, shape in adjoint.shapes if runtime.shapes.is_integer(shape)}
        bars = {bar for bar, _ in adjoint.adjoints}
        elements = _ElementsUncopied(bars, integers)
        reverse = [elements.visit(clone(s)) if elements.finds(s) else s for s in reverse]
        uncopied = uncopied or elements.changed
    if not remover.changed and not uncopied:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = list(body[: adjoint.forward_length]) + reverse
    return replace(adjoint, tree=tree, bindings=bindings)


class _ElementsUncopied(ast.NodeTransformer):
    """``X[J].copy()`` as ``+X[J]`` for an adjoint ``X`` and an index of integers (above)."""

    def __init__(self, bars: set[str], integers: set[str]):
        self.bars, self.integers = bars, integers
        self.changed = False

    def element(self, node: ast.AST) -> ast.Subscript | None:
        """``X[J]`` for ``X[J].copy()`` of the kind above."""
        if not (
            isinstance(node, ast.Call)
            and not node.args
            and not node.keywords
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "copy"
            and isinstance(node.func.value, ast.Subscript)
            and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id in self.bars
        ):
            return None
        index = node.func.value.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return node.func.value if all(self.integer(part) for part in parts) else None

    def integer(self, part: ast.expr) -> bool:
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            part = part.operand
        if isinstance(part, ast.Constant):
            return type(part.value) is int
        return isinstance(part, ast.Name) and part.id in self.integers

    def finds(self, statement: ast.stmt) -> bool:
        return any(self.element(node) is not None for node in walk(statement))

    def visit_Call(self, node: ast.Call) -> ast.expr:
        region = self.element(node)
        if region is None:
            return self.generic_visit(node)
        self.changed = True
        return ast.copy_location(ast.UnaryOp(ast.UAdd(), region), node)


def _helper_name(adjoint: Adjoint, helper: Any, taken: Counter) -> str:
    """The name the generated code calls ``helper`` by: its binding's, or a fresh one."""
    for name, value in adjoint.bindings:
        if value is helper:
            return name
    bound = {name for name, _ in adjoint.bindings}
    name, k = "as_floating", 1
    while name in taken or name in bound:
        k += 1
        name = f"as_floating{k}"
    return name


def _is_one_times_name(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Mult)
        and isinstance(value.left, ast.Constant)
        and type(value.left.value) is float
        and value.left.value == 1.0
        and isinstance(value.right, ast.Name)
    )


def _share_as_floating(
    body: list[ast.stmt],
    reverse: list[ast.stmt],
    bound: Counter,
    helper: str,
    parameters: set[str],
) -> bool:
    """``T = 1.0 * A`` becomes ``T = as_floating(A)`` in ``reverse`` (in place, at its top
    level) where the side conditions above hold; whether any did."""
    changed = False
    for index, statement in enumerate(reverse):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and bound[statement.targets[0].id] == 1
            and _is_one_times_name(statement.value)
            and statement.value.right.id in parameters
        ):
            continue
        name = statement.targets[0].id
        everywhere = sum(
            1
            for node in walk(ast.Module(body=body, type_ignores=[]))
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        )
        seen, last = 0, None
        for later in range(index + 1, len(reverse)):
            reads = _reads_making_new_arrays(reverse[later], name)
            if reads is None:
                break
            if reads:
                seen, last = seen + reads, later
            if seen == everywhere:
                break
        if not everywhere or seen != everywhere:
            continue
        if not all(_binds_names_only(s) for s in reverse[index + 1 : last + 1]):
            continue
        call = ast.Call(ast.Name(helper, ast.Load()), [statement.value.right], [])
        reverse[index] = ast.copy_location(ast.Assign([statement.targets[0]], call), statement)
        changed = True
    return changed


def _reads_making_new_arrays(statement: ast.stmt, name: str) -> int | None:
    """How many times ``statement`` reads ``name``, if every read is an operand of arithmetic
    or the array of a ``name.sum(...)``; None where one is another read."""
    allowed, total = 0, 0
    for node in walk(statement):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            total += 1
        operands = []
        if isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            operands = [node.operand]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sum"
            and not node.args
            and all(k.arg in ("axis", "keepdims") for k in node.keywords)
        ):
            operands = [node.func.value]
        allowed += sum(1 for o in operands if isinstance(o, ast.Name) and o.id == name)
    return total if allowed == total else None


def _binds_names_only(statement: ast.stmt) -> bool:
    """Whether ``statement`` is ``x = ...`` (or ``x, y = ...``) or a comment: it writes into
    no array."""
    if is_comment(statement):
        return True
    if not isinstance(statement, ast.Assign):
        return False
    targets = []
    for target in statement.targets:
        targets.extend(target.elts if isinstance(target, ast.Tuple) else [target])
    return all(isinstance(t, ast.Name) for t in targets)


def _share_where_only_arithmetic_reads(
    body: list[ast.stmt], reverse: list[ast.stmt], once: set[str], floating: frozenset[str]
) -> bool:
    """``T = 1.0 * A`` becomes ``T = A`` in ``reverse`` (in place) where the side conditions
    above hold; whether any did."""
    in_arithmetic: Counter = Counter()
    everywhere: Counter = Counter()
    for statement in body:
        for node in walk(statement):
            operands = []
            if isinstance(node, ast.BinOp):
                operands = [node.left, node.right]
            elif isinstance(node, ast.UnaryOp):
                operands = [node.operand]
            for operand in operands:
                if isinstance(operand, ast.Name) and isinstance(operand.ctx, ast.Load):
                    in_arithmetic[operand.id] += 1
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                everywhere[node.id] += 1
    changed = False
    for index, statement in enumerate(reverse):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in once
            and isinstance(statement.value, ast.BinOp)
            and isinstance(statement.value.op, ast.Mult)
            and isinstance(statement.value.left, ast.Constant)
            and type(statement.value.left.value) is float
            and statement.value.left.value == 1.0
            and isinstance(statement.value.right, ast.Name)
            and statement.value.right.id in floating
        ):
            continue
        name = statement.targets[0].id
        if everywhere[name] and everywhere[name] == in_arithmetic[name]:
            reverse[index] = ast.copy_location(
                ast.Assign([statement.targets[0]], statement.value.right), statement
            )
            changed = True
    return changed


class _Remover:
    def __init__(self, once: set[str], reads: Counter, stack: str):
        self.once, self.reads, self.stack = once, reads, stack
        self.changed = False
        # id of a simple statement -> (the statement, how many times it reads each name)
        self.read_counts: dict[int, tuple[ast.stmt, dict[str, int]]] = {}

    def reads_of(self, statement: ast.stmt) -> dict[str, int]:
        """How many times ``statement`` reads each name: kept for a simple statement, whose
        reads this pass changes only in ``propagate``, which forgets them (a block's may
        change inside it), so that the scans forward from a copy look a statement up instead
        of walking it again. The statement is kept with its counts: its id is not reused."""
        kept = self.read_counts.get(id(statement))
        if kept is not None:
            return kept[1]
        reads: dict[str, int] = {}
        for name in names_loaded(statement):
            reads[name] = reads.get(name, 0) + 1
        if isinstance(statement, ast.Assign | ast.AugAssign | ast.Expr | ast.Return):
            self.read_counts[id(statement)] = (statement, reads)
        return reads

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        statements = [self.inner(statement) for statement in statements]
        index = 0
        while index < len(statements):
            statement = statements[index]
            copied = _copy(statement)
            if copied is not None:
                self.drop_copy_back(statements, index, *copied)
            if (
                copied is not None
                and copied[0] in self.once
                and self.propagate(statements, index, *copied)
            ):
                del statements[index]
                self.changed = True
                continue
            if self.popped_into_temporary(statement):
                self.pop_straight(statements, index)
            index += 1
        return statements

    def inner(self, statement: ast.stmt) -> ast.stmt:
        blocks = [f for f in ("body", "orelse") if getattr(statement, f, None)]
        if not blocks or not isinstance(getattr(statement, blocks[0])[0], ast.stmt):
            return statement
        statement = copy.copy(statement)
        for field in blocks:
            setattr(statement, field, self.block(list(getattr(statement, field))) or [ast.Pass()])
        return statement

    def drop_copy_back(self, statements: list[ast.stmt], index: int, t: str, x: str) -> None:
        """``T = X ... X = T``: the second goes."""
        for later in range(index + 1, len(statements)):
            statement = statements[later]
            if _copy(statement) == (x, t):
                del statements[later]
                self.reads[t] -= 1
                self.changed = True
                return
            if {t, x} & _binds(statement):
                return

    def propagate(self, statements: list[ast.stmt], index: int, t: str, x: str) -> bool:
        """Whether every read of ``t`` could read ``x``; if so they do."""
        replaced = 0
        pending = []
        for statement in statements[index + 1 :]:
            count = self.reads_of(statement).get(t, 0)
            if count:
                pending.append(statement)
                replaced += count
            if replaced == self.reads[t]:
                break
            if {t, x} & _binds(statement):
                return False
        simple = ast.Assign | ast.AugAssign | ast.Expr | ast.Return
        if replaced != self.reads[t] or not all(isinstance(s, simple) for s in pending):
            return False  # a block is not followed into: it may bind x before it reads t
        places = {id(statement): place for place, statement in enumerate(statements)}
        for statement in pending:
            renamed = clone(statement)  # the statement itself may be another stage's
            for node in walk(renamed):
                if _reads_name(node, t):
                    node.id = x
            statements[places[id(statement)]] = renamed
            self.read_counts.pop(id(statement), None)  # it reads x now
        self.reads[x] += replaced
        self.reads[t] = 0
        return True

    def popped_into_temporary(self, statement: ast.stmt) -> bool:
        return (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in self.once
            and self.reads[statement.targets[0].id] == 1
            and is_pop(statement.value, self.stack)
        )

    def pop_straight(self, statements: list[ast.stmt], index: int) -> None:
        """``T = stack.pop() ... X = T``: ``X = stack.pop()`` where the pop was."""
        t = statements[index].targets[0].id
        for later in range(index + 1, len(statements)):
            statement = statements[later]
            copied = _copy(statement)
            if copied is not None and copied[1] == t:
                x = copied[0]
                between = statements[index + 1 : later]
                if any(x in _binds(s) or x in self.reads_of(s) for s in between):
                    return
                popped = copy.copy(statements[index])  # the statement may be another stage's
                popped.targets = [ast.Name(x, ast.Store())]
                popped.__dict__.pop("_overbar_binds", None)
                statements[index] = popped
                del statements[later]
                self.changed = True
                return
            if t in self.reads_of(statement) or t in _binds(statement):
                return


def _copy(statement: ast.stmt) -> tuple[str, str] | None:
    """(T, X) for ``T = X``."""
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Name)
        and statement.targets[0].id != statement.value.id
    ):
        return statement.targets[0].id, statement.value.id
    return None


def _binds(statement: ast.stmt) -> frozenset[str]:
    """The names ``statement`` binds; kept on a simple statement, whose targets this pass
    changes only in ``pop_straight``, which forgets them (a block's may change inside it)."""
    bound = statement.__dict__.get("_overbar_binds")
    if bound is None:
        bound = frozenset(names_stored(statement))
        if isinstance(statement, ast.Assign | ast.AugAssign | ast.Expr | ast.Return):
            statement._overbar_binds = bound
    return bound


def _reads_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)


def is_pop(value: ast.expr, stack: str) -> bool:
    """Whether ``value`` is ``stack.pop()``."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id == stack
        and not value.args
    )
