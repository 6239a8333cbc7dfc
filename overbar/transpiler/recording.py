"""The forward sweep's recording: what the reverse sweep needs of values the forward sweep loses.

``Recording.forward_block`` writes the forward sweep, the user's lines in normal form, and
records on a stack what they would otherwise lose: a name assigned again while its old value may
still be needed is pushed before it is overwritten (``pop`` restores it in the reverse sweep, after
its line is undone), ``y[index] = v`` first saves the region it overwrites (``save_region``), and
a loop pushes its trip count. Once the reverse sweep is written, ``remove_unread_pushes`` drops the
pushes and pops of names it never reads again, and saves only the shape of those it takes only the
shape of, so that ``a = a + 1.0`` in a loop records nothing. In normal form, before and after
(the reverse sweep pops ``trips``, then ``h`` once per trip)::

    tmp1 = range(n)                 stack = []
    for i in tmp1:                  tmp1 = range(n)
        h = np.tanh(h)      ->      for i in tmp1:
                                        stack.append(h)
                                        h = np.tanh(h)
                                    trips = len(tmp1)
                                    stack.append(trips)
"""

from __future__ import annotations

import ast
import builtins
import copy
from typing import Any

from overbar.transpiler.names import clone, walk_breadth_first
from overbar.transpiler.parse import MISSING
from overbar.transpiler.primitive import index_value
from overbar.transpiler.sweep_state import SweepState
from overbar.transpiler.syntax import (
    assign,
    assigned,
    assigned_within,
    call,
    if_statement,
    is_read,
    is_write,
    load,
    loop_target,
    method_call,
    store,
)


class Recording:
    """The stack of the forward sweep, and the pushes and pops that go through it."""

    def __init__(self, state: SweepState):
        self.state = state
        self.stack = state.names.fresh("stack")
        self.pushes: dict[str, list[ast.stmt]] = {}
        self.pops: dict[str, list[ast.stmt]] = {}
        self.overwritten: dict[int, list[str]] = {}  # statement -> the names pushed before it
        self.maybe_unbound: set[str] = set()
        self.trips: dict[int, str] = {}  # loop -> the name of its trip count
        self.writes = False  # whether a region of an array is saved
        # y = helper(x) -> (y, helper_residuals = helper_forward(x), helper_residuals)
        self.residual_calls: dict[int, tuple[ast.stmt, str]] = {}

    def snapshot(self) -> tuple:
        """The pushes and pops so far, to undo a dry run of a loop body."""
        return (
            {name: list(nodes) for name, nodes in self.pushes.items()},
            {name: list(nodes) for name, nodes in self.pops.items()},
        )

    def restore(self, saved: tuple) -> None:
        """Back to what ``snapshot`` saw."""
        self.pushes, self.pops = saved

    # the forward sweep

    def forward_block(
        self, statements: list[ast.stmt], bound: set[str], definite: set[str]
    ) -> tuple[list[ast.stmt], set[str], set[str]]:
        """The forward sweep of ``statements``; ``bound`` and ``definite`` are the names that
        may be and surely are bound on entry, updated for the exit."""
        out: list[ast.stmt] = []
        for statement in statements:
            if is_write(statement):
                out.extend([self.save_region(statement), statement])
            elif isinstance(statement, ast.Assign):
                targets = assigned(statement)
                line = statement
                if id(statement) in self.residual_calls:
                    # the residuals pushed first: a line reading its own output pops that first
                    line, residuals = self.residual_calls[id(statement)]
                    targets = [residuals, *targets]
                for name in targets:
                    if name in bound:
                        out.append(self.push(name))
                        self.overwritten.setdefault(id(statement), []).append(name)
                        if name not in definite:
                            self.maybe_unbound.add(name)
                out.append(line)
                bound.update(targets)
                definite.update(targets)
            elif isinstance(statement, ast.If):
                body, bound_body, definite_body = self.forward_block(
                    statement.body, set(bound), set(definite)
                )
                orelse, bound_else, definite_else = self.forward_block(
                    statement.orelse, set(bound), set(definite)
                )
                out.append(if_statement(statement.test, body, orelse, statement))
                bound = bound_body | bound_else
                definite = definite_body & definite_else
            elif isinstance(statement, ast.For | ast.While):
                trips = self.state.names.fresh("trips")
                self.trips[id(statement)] = trips
                inside = bound | assigned_within(statement) | self.residuals_within(statement)
                body, _, _ = self.forward_block(
                    statement.body, inside, definite | loop_target(statement)
                )
                if isinstance(statement, ast.For):
                    body.append(self.push(statement.target.id))
                loop = copy.copy(statement)
                loop.body = body
                if self.runs_through_a_range(statement):  # as many trips as the range is long
                    length = call(self.state.bind("len", builtins.len), statement.iter)
                    out.extend([loop, assign(trips, length)])
                else:
                    counted = ast.BinOp(left=load(trips), op=ast.Add(), right=ast.Constant(1))
                    body.append(assign(trips, counted))
                    out.extend([assign(trips, ast.Constant(0)), loop])
                out.append(ast.Expr(value=method_call(self.stack, "append", load(trips))))
                bound = inside
            else:
                out.append(statement)
        return out, bound, definite

    def residuals_within(self, statement: ast.stmt) -> set[str]:
        """The names of the residuals of the helpers' calls inside ``statement``."""
        return {
            self.residual_calls[id(node)][1]
            for node in walk_breadth_first(statement)
            if id(node) in self.residual_calls
        }

    def runs_through_a_range(self, statement: ast.stmt) -> bool:
        """A for loop over a range its body does not rebind (a loop with a break is a while
        loop in normal form): it makes exactly ``len(range)`` trips."""
        return (
            isinstance(statement, ast.For)
            and isinstance(statement.iter, ast.Name)
            and statement.iter.id not in assigned_within(statement)
            and self.state.shapes.get(statement.iter.id) == self.state.runtime.shapes.RANGE
        )

    def push(self, name: str) -> ast.stmt:
        statement = ast.Expr(value=method_call(self.stack, "append", load(name)))
        self.pushes.setdefault(name, []).append(statement)
        return statement

    def save_region(self, statement: ast.Assign) -> ast.stmt:
        """Push a copy of what ``y[index] = v`` overwrites; the reverse sweep writes it back."""
        self.writes = True
        written = statement.targets[0]
        array = load(written.value.id)
        if self.state.activity.is_active(statement.value):
            index = index_value(clone(written.slice), self.state.bind("slice", builtins.slice))
            saved = call(
                self.state.bind("saved_region", self.state.runtime.saved_region), array, index
            )
        else:
            region = ast.Subscript(value=array, slice=clone(written.slice), ctx=ast.Load())
            method = ast.Attribute(value=region, attr="copy", ctx=ast.Load())
            saved = ast.Call(func=method, args=[], keywords=[])
        return ast.Expr(value=method_call(self.stack, "append", saved))

    def pop(self, target: str, name: str) -> ast.stmt:
        """``target = stack.pop()``, restoring ``name`` (removed with ``name``'s pushes)."""
        return self.restores(name, assign(target, method_call(self.stack, "pop")))

    def restores(self, name: str, statement: ast.stmt) -> ast.stmt:
        """Note ``statement`` as a restore of ``name``'s older value (removed with ``name``'s
        pushes, where the reverse sweep never reads it)."""
        self.pops.setdefault(name, []).append(statement)
        return statement

    def restore_region(self, written: ast.Subscript) -> ast.stmt:
        """``y[index] = stack.pop()``: what ``save_region`` saved, written back."""
        region = ast.Subscript(
            value=load(written.value.id), slice=clone(written.slice), ctx=ast.Store()
        )
        return ast.Assign(targets=[region], value=method_call(self.stack, "pop"))

    # after the reverse sweep

    def remove_unread_pushes(
        self, forward: list[ast.stmt], reverse: list[ast.stmt]
    ) -> tuple[list[ast.stmt], list[ast.stmt], list[ast.stmt]]:
        """Drop the pushes and pops of names the reverse sweep never reads."""
        popped_by = {id(node): name for name, nodes in self.pops.items() for node in nodes}
        previous = self.state.previous
        # which reads take a shape only matters for reads after a restore: none without one
        shape_only = self.shape_only_arguments(reverse) if popped_by or previous else set()
        read, value_read = _read_after_restore(reverse, popped_by, previous, shape_only)
        unread = {name for name in self.pushes if name not in read}
        # Names the reverse sweep only takes the shape of are saved as their shape.
        for name in sorted(read - value_read):
            shape_of = self.state.bind("shape_of", self.state.runtime.shape_of)
            for push in self.pushes.get(name, []):
                push.value.args = [call(shape_of, load(name))]
        drop = {id(n) for name in unread for n in self.pushes[name] + self.pops.get(name, [])}
        for name in unread:
            self.pops.pop(name, None)
        forward, reverse = _without(forward, drop), _without(reverse, drop)
        prologue = []
        kept = sorted(self.maybe_unbound - unread - set(self.state.form.parameters))
        if kept:  # first bound inside a loop or branch, but saved before every assignment
            targets = [store(name) for name in kept]
            prologue.append(ast.Assign(targets=targets, value=ast.Constant(None)))
        if self.trips or self.writes or any(name not in unread for name in self.pushes):
            prologue.insert(0, assign(self.stack, ast.List(elts=[], ctx=ast.Load())))
        return prologue, forward, reverse

    def shape_only_arguments(self, statements: list[ast.stmt]) -> set[int]:
        """Ids of the name nodes in ``statements`` that a call only takes the shape of."""
        found = set()
        for node in (n for s in statements for n in walk_breadth_first(s)):
            if not isinstance(node, ast.Call):
                continue
            callee = self.generated_value(node.func)
            try:
                positions = self.state.runtime.shape_only.get(callee, ())
            except TypeError:
                continue
            for position in positions:
                if position < len(node.args) and isinstance(node.args[position], ast.Name):
                    found.add(id(node.args[position]))
        return found

    def generated_value(self, node: ast.expr) -> Any:
        """What a name or dotted name in the generated code refers to (or MISSING)."""
        if isinstance(node, ast.Attribute):
            owner = self.generated_value(node.value)
            return MISSING if owner is MISSING else getattr(owner, node.attr, MISSING)
        if not isinstance(node, ast.Name) or node.id in self.state.form.local_names:
            return MISSING
        if node.id in self.state.bindings:
            return self.state.bindings[node.id]
        return self.state.parsed.namespace.lookup(node.id)


def _read_after_restore(
    statements: list[ast.stmt],
    popped_by: dict[int, str],
    previous: dict[str, str],
    shape_only: set[int],
) -> tuple[set[str], set[str]]:
    """Names the reverse sweep reads after one of their older values was popped back, and
    those of them it reads for more than their shape (``shape_only`` holds the ids of the
    name nodes that only a shape is taken of).

    Only such reads need the pushes: before its first pop a name still holds its final forward
    value. In a loop, a read anywhere in the body follows the previous iteration's pops.
    """
    popped: set[str] = set()
    read: set[str] = set()
    value_read: set[str] = set()

    def note(node: ast.Name) -> None:
        name = previous.get(node.id, node.id)
        if name in popped or node.id in previous:
            read.add(name)
            if id(node) not in shape_only:
                value_read.add(name)

    def visit(block: list[ast.stmt]) -> None:
        for statement in block:
            if id(statement) in popped_by:
                popped.add(popped_by[id(statement)])
                continue
            if isinstance(statement, ast.For | ast.While):
                popped.update(
                    popped_by[id(node)]
                    for node in walk_breadth_first(statement)
                    if id(node) in popped_by
                )
            blocks = [
                getattr(statement, f) for f in ("body", "orelse") if getattr(statement, f, None)
            ]
            if blocks:
                header = (
                    statement.test if isinstance(statement, ast.If | ast.While) else statement.iter
                )
                for node in walk_breadth_first(header):
                    if is_read(node):
                        name = previous.get(node.id, node.id)
                        read.add(name)
                        value_read.add(name)
                for inner in blocks:
                    visit(inner)
                continue
            if not popped and not previous:
                continue  # nothing restored yet: no read of this statement is noted
            for node in walk_breadth_first(statement):
                if is_read(node):
                    note(node)

    visit(statements)
    return read, value_read


def _without(statements: list[ast.stmt], drop: set[int]) -> list[ast.stmt]:
    """``statements`` (and the blocks inside them) without the statements in ``drop``."""
    kept = []
    for statement in statements:
        if id(statement) in drop:
            continue
        for field in ("body", "orelse"):
            block = getattr(statement, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(
                    statement,
                    field,
                    _without(block, drop) or ([ast.Pass()] if field == "body" else []),
                )
        kept.append(statement)
    return kept
