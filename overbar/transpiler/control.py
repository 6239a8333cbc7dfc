"""The reverse of control flow and of the lines that have no rule, block by block.

``ReverseBlocks.reverse_block`` walks a block backwards, each line's reverse under a comment
that names the user's line, and sends each statement where it belongs: an assignment to its
rule (``lines.py``) or, for ``a, b = t``, to unpacking (t̄ += (ā, b̄)); ``y[index] = v`` and
``xs.append(v)`` are undone here, the overwritten region and the appended value restored.
Branches replay the branch the forward sweep took (the same test, on restored values); a loop
runs its reversed body as many times as the forward loop ran, a count it pops::

    if c:                    if c:
        y = a * x      ->        # y = a * x
    else:                        x_bar = unbroadcast(y_bar * a, x)
        y = x                else:
                                 # y = x
                                 x_bar = y_bar

Adjoints that only one branch, or a loop body, defines are set to the runtime zero ``0.0``
where the other path leaves them unset, so both paths leave the same names defined. Inside a
reverse loop, an adjoint that only scattered additions touch is made the loop's own and updated
in place (``own_scattered_adjoints``).
"""

from __future__ import annotations

import ast
import builtins
import linecache
from typing import Any

from overbar.errors import InternalError
from overbar.transpiler.fence import is_append
from overbar.transpiler.lines import LineAdjoints
from overbar.transpiler.names import clone, names_in, statements_breadth_first, walk_breadth_first
from overbar.transpiler.primitive import IDENTITY, PACK, application_of, index_value
from overbar.transpiler.recording import Recording
from overbar.transpiler.rule_choice import RuleChoice
from overbar.transpiler.shapes import shape_of_value
from overbar.transpiler.sweep_state import SweepState
from overbar.transpiler.syntax import (
    assign,
    assigned,
    assigned_within,
    call,
    comment,
    if_statement,
    is_read,
    is_write,
    load,
    method_call,
    store,
    tuple_of,
)


class ReverseBlocks:
    """Writes the reverse sweep of blocks of the normal form into ``state``'s adjoints."""

    def __init__(
        self, state: SweepState, recording: Recording, rules: RuleChoice, lines: LineAdjoints
    ):
        self.state = state
        self.recording = recording
        self.rules = rules
        self.lines = lines
        # reverse loops count with it; nesting is harmless
        self.counter = state.names.fresh("_")

    def reverse_block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """The reverse sweep of ``statements``, last first; ``state.reverse`` is kept."""
        outer, self.state.reverse = self.state.reverse, []
        line = None
        for statement in reversed(statements):
            made = len(self.state.reverse)
            if isinstance(statement, ast.Assign | ast.Expr) and (
                isinstance(statement, ast.Assign) or is_append(statement)
            ):
                if statement.lineno != line:
                    line = statement.lineno
                    self.state.reverse.append(comment(self.source_line(statement)))
                if is_write(statement):
                    self.reverse_write(statement)
                elif isinstance(statement, ast.Assign):
                    self.reverse_assignment(statement)
                else:
                    self.reverse_append(statement)
            elif isinstance(statement, ast.If):
                line = None
                self.reverse_if(statement)
            elif isinstance(statement, ast.For | ast.While):
                line = None
                self.reverse_loop(statement)
            if self.state.parsed.contexts:  # what undoes the statement has its line (contexts.py)
                for undoing in self.state.reverse[made:]:
                    undoing.lineno = statement.lineno
                    undoing.end_lineno = getattr(statement, "end_lineno", statement.lineno)
        block, self.state.reverse = self.state.reverse, outer
        return block

    def source_line(self, statement: ast.stmt) -> str:
        """The user's line ``statement`` comes from, for the comment above its reverse."""
        text = linecache.getline(self.state.parsed.filename, statement.lineno).strip()
        return text or ast.unparse(statement)

    # branches and loops

    def reverse_if(self, statement: ast.If) -> None:
        """``if c: A else: B``  ->  ``if c: reverse(A) else: reverse(B)``."""
        entry = (set(self.state.defined), set(self.state.maybe_zero))
        branches = []
        for block in (statement.body, statement.orelse):
            self.state.defined, self.state.maybe_zero = set(entry[0]), set(entry[1])
            reversed_block = self.reverse_block(block)
            branches.append((reversed_block, self.state.defined, self.state.maybe_zero))
        defined = branches[0][1] | branches[1][1]
        maybe_zero = branches[0][2] | branches[1][2]
        for reversed_block, defined_here, _ in branches:
            for name in sorted(defined - defined_here):
                reversed_block.append(assign(self.state.bar(name), ast.Constant(0.0)))
                maybe_zero.add(name)
        self.state.defined, self.state.maybe_zero = defined, maybe_zero & defined
        self.state.reverse.append(
            if_statement(statement.test, branches[0][0], branches[1][0], statement)
        )

    def reverse_loop(self, statement: ast.For | ast.While) -> None:
        """A loop  ->  ``for _ in range(trips): reverse(body)``, the trip count popped; a for
        loop's target is popped at the top of each reversed trip."""
        trips = self.recording.trips[id(statement)]
        self.state.reverse.append(self.recording.pop(trips, "\0trips"))
        local = self.iteration_local(statement)
        reached = self.reached_in(statement.body) - local
        for name in sorted(reached - self.state.defined):
            self.state.reverse.append(assign(self.state.bar(name), ast.Constant(0.0)))
        entry = (self.state.defined | reached) - local
        # An adjoint may hold the runtime zero at the top of the reversed body if it did before
        # the loop, was set to zero just now, or the body leaves it unset (a dry run tells).
        maybe_zero = (self.state.maybe_zero | (reached - self.state.defined)) & entry
        saved = self.snapshot()
        self.state.defined, self.state.maybe_zero = set(entry), set(entry)
        self.reverse_block(statement.body)
        maybe_zero |= entry - self.state.defined
        self.restore(saved)
        self.state.defined, self.state.maybe_zero = set(entry), set(maybe_zero)
        head = []
        if isinstance(statement, ast.For):
            head.append(self.recording.pop(statement.target.id, statement.target.id))
        body = head + self.reverse_block(statement.body)
        for name in sorted(entry - self.state.defined):
            body.append(assign(self.state.bar(name), ast.Constant(0.0)))
        self.state.defined, self.state.maybe_zero = set(entry), maybe_zero
        counter = self.counter
        steps = call(self.state.bind("range", builtins.range), load(trips))
        loop = ast.For(target=store(counter), iter=steps, body=body, orelse=[])
        self.state.reverse.extend(self.own_scattered_adjoints(loop))
        self.state.reverse.append(ast.copy_location(loop, statement))

    def reached_in(self, statements: list[ast.stmt]) -> set[str]:
        """Names whose adjoints the reverse sweep of ``statements`` may add to."""
        reached = set()
        for node in (n for s in statements for n in walk_breadth_first(s)):
            if isinstance(node, ast.Expr) and is_append(node):
                names = [node.value.func.value.id, *names_in(node.value.args[0])]
                reached.update(n for n in names if n in self.state.activity.active)
                continue
            if is_write(node):
                names = [node.targets[0].value.id, *names_in(node.value)]
                reached.update(n for n in names if n in self.state.activity.active)
                continue
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
                # a, b = t: t̄ += (ā, b̄) where a or b is active (a tuple made before the loop
                # and unpacked in it gets the sum over its iterations)
                if any(n in self.state.activity.active for n in assigned(node)):
                    reached.update(
                        n for n in names_in(node.value) if n in self.state.activity.active
                    )
                continue
            if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
                continue
            if node.targets[0].id not in self.state.activity.active:
                continue
            application = application_of(node.value, self.state.form, self.state.parsed.namespace)
            reached.update(n for n in application.input_names() if n in self.state.activity.active)
        return reached

    def iteration_local(self, loop: ast.For | ast.While) -> set[str]:
        """Names each iteration assigns before reading, and nothing outside the loop reads."""
        written: set[str] = set()
        read_first: set[str] = set()
        nested: set[str] = set()
        for statement in loop.body:
            reads = {n.id for n in walk_breadth_first(statement) if is_read(n)}
            read_first |= reads - written
            if isinstance(statement, ast.Assign):
                written.update(assigned(statement))
            else:
                nested.update(assigned_within(statement))
        inside = {id(node) for node in walk_breadth_first(loop)}
        outside = {
            n.id
            for n in walk_breadth_first(self.state.form.tree)
            if is_read(n) and id(n) not in inside
        }
        return written - read_first - nested - outside

    def own_scattered_adjoints(self, loop: ast.For) -> list[ast.stmt]:
        """Inside a reverse loop, add ``x[i]``'s adjoint into x̄ in place, and zero the written
        part of ȳ for ``y[i] = v`` in place, instead of copying a whole array per step.

        Only for an adjoint that the loop body touches in no other way: then no other name can
        hold its array, and it is made the loop's own (a fresh copy) just before the loop.
        Returns the statements that make those copies.
        """
        scatter_name = self.state.binding_names.get(id(self.state.runtime.index_bar))
        take_name = self.state.binding_names.get(id(self.state.runtime.take_and_zero))
        found: dict[str, list[tuple[int, str, tuple]]] = {}
        for position, statement in enumerate(loop.body):
            for kind, match in (
                ("scatter", _scatter_accumulation(statement, scatter_name)),
                ("take", _take_and_zero(statement, take_name)),
            ):
                if match is not None:
                    found.setdefault(match[0], []).append((position, kind, match[1]))
        owned: list[ast.stmt] = []
        for adjoint, uses in sorted(found.items()):
            positions = {position for position, _, _ in uses}
            if any(_mentions(s, adjoint) for k, s in enumerate(loop.body) if k not in positions):
                continue
            for position, kind, parts in uses:
                statement = loop.body[position]
                if kind == "scatter":
                    g, _, index = parts
                    add_at = self.state.bind("add_at", self.state.runtime.add_at)
                    replacement = ast.Expr(value=call(add_at, load(adjoint), index, g))
                else:
                    part, index = parts
                    take = self.state.bind("take_in_place", self.state.runtime.take_in_place)
                    replacement = assign(part, call(take, load(adjoint), index))
                loop.body[position] = ast.copy_location(replacement, statement)
            own = self.state.bind("own", self.state.runtime.own)
            array = load(self.state.adjoint_owner(adjoint))
            owned.append(assign(adjoint, call(own, load(adjoint), array)))
        return owned

    def snapshot(self) -> tuple:
        """The generator's state, to undo a dry run of a loop body."""
        return self.state.snapshot(), self.recording.snapshot()

    def restore(self, saved: tuple) -> None:
        """Back to what ``snapshot`` saw."""
        self.state.restore(saved[0])
        self.recording.restore(saved[1])

    # lines without a rule

    def reverse_assignment(self, statement: ast.Assign) -> None:
        """``y = f(x)`` by its rule, ``a, b = t`` by unpacking; where no adjoint reaches what
        ``statement`` assigns, only the values it overwrote are popped back."""
        outputs = assigned(statement)
        pushed = self.recording.overwritten.get(id(statement), [])
        live = [name for name in outputs if name in self.state.activity.active]
        if not live or not any(name in self.state.defined for name in live):
            self.state.reverse.extend(self.recording.pop(name, name) for name in reversed(pushed))
        elif isinstance(statement.targets[0], ast.Tuple):
            self.reverse_unpack(statement, outputs, pushed)
        else:
            self.lines.reverse_line(statement)

    def reverse_unpack(self, statement: ast.Assign, outputs: list[str], pushed: list[str]) -> None:
        """``a, b = t`` of a tuple:  t̄ += (ā, b̄), a runtime zero standing for an adjoint not
        reached. Of an array, or of a value whose kind only the run knows:
        v̄ += unpacked_bar(v, (ā, b̄)), the rows' adjoints stacked for an array, a tuple for a
        tuple."""
        source = statement.value
        if not isinstance(source, ast.Name) or any(
            not isinstance(e, ast.Name) for e in statement.targets[0].elts
        ):
            raise InternalError(
                "normalize left an unpacking of something other than a name into names",
                self.state.parsed.location(statement),
            )
        parts = []
        for name in outputs:
            defined = name in self.state.activity.active and name in self.state.defined
            parts.append(load(self.state.bar(name)) if defined else ast.Constant(0.0))
            self.state.defined.discard(name)
            self.state.maybe_zero.discard(name)
        if self.state.activity.is_active(source):
            if source.id in self.state.sequences:
                self.state.accumulate(source, tuple_of(parts))
            else:
                helper = self.state.bind("unpacked_bar", self.state.runtime.unpacked_bar)
                self.state.accumulate(source, call(helper, load(source.id), tuple_of(parts)))
        self.state.reverse.extend(self.recording.pop(name, name) for name in reversed(pushed))

    def built_as_tuple(self, name: str) -> bool:
        """Whether every binding of ``name`` is a display or a copy of such a name, or shape
        inference knows it is a tuple or list (one a helper returns, a helper's parameter its
        caller passes one): so its adjoint is a tuple. What a helper returns is otherwise
        unpacked in the kind it has when the line runs (it may return an array)."""
        if self.state.is_sequence_shape(self.state.shapes.get(name)):
            return True
        if name in self.state.form.parameters:
            return False
        bindings = [
            node
            for node in statements_breadth_first(self.state.form.tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == name
        ]
        for node in bindings:
            application = application_of(node.value, self.state.form, self.state.parsed.namespace)
            if application.primal is PACK:
                continue
            if application.primal is IDENTITY and self.built_as_tuple(node.value.id):
                continue
            return False
        return bool(bindings)

    def reverse_write(self, statement: ast.Assign) -> None:
        """``y[index] = v``:  v̄ += ȳ[index],  ȳ[index] = 0 (in a copy); then y[index] gets
        back what it held before. For a list y, ȳ is a tuple and ȳ[index] v's own adjoint
        (the element replaced is v: nothing broadcast), or the runtime zero."""
        written = statement.targets[0]
        array, value = written.value.id, statement.value
        if array in self.state.activity.active and array in self.state.defined:
            if array in self.state.maybe_zero:
                self.state.reverse.append(self.state.shaped(array))
            index = index_value(clone(written.slice), self.state.bind("slice", builtins.slice))
            take = self.state.bind("take_and_zero", self.state.runtime.take_and_zero)
            part = self.state.temporary()
            target = ast.Tuple(elts=[store(part), store(self.state.bar(array))], ctx=ast.Store())
            self.state.reverse.append(
                ast.Assign(targets=[target], value=call(take, load(self.state.bar(array)), index))
            )
            if self.state.activity.is_active(value) and array in self.state.sequences:
                # a list's element replaced (hs[t] = h, hs = [h0] * T): v̄ += ȳ[index], an
                # element of a tuple's adjoint, which may be the runtime zero
                self.state.accumulate(value, load(part), may_be_zero=True)
            elif self.state.activity.is_active(value):
                region = self.region_shape(written)
                summed = (
                    None if region is None else self.lines.summed_to(load(part), region, value)
                )
                if summed is None:
                    unbroadcast = self.state.bind("unbroadcast", self.state.runtime.unbroadcast)
                    summed = call(unbroadcast, load(part), clone(value))
                self.state.accumulate(value, summed)
        self.state.reverse.append(self.recording.restore_region(written))

    def region_shape(self, written: ast.Subscript) -> Any:
        """What is known of the shape of ``y[index]``, the region a write replaces."""
        array = written.value.id
        region = ast.Subscript(
            value=load(self.state.previous.get(array, array)),
            slice=clone(written.slice),
            ctx=ast.Load(),
        )
        return shape_of_value(
            region,
            self.state.shapes,
            self.state.form,
            self.state.parsed.namespace,
            self.state.runtime,
        )

    def reverse_append(self, statement: ast.Expr) -> None:
        """``xs.append(v)``:  v̄ += the last element of x̄s, which loses it; xs loses v."""
        receiver = statement.value.func.value.id
        value = statement.value.args[0]
        if receiver in self.state.activity.active and receiver in self.state.defined:
            split = self.state.bind("split_last", self.state.runtime.split_last)
            last = self.state.temporary()
            target = ast.Tuple(
                elts=[store(last), store(self.state.bar(receiver))], ctx=ast.Store()
            )
            self.state.reverse.append(
                ast.Assign(targets=[target], value=call(split, load(self.state.bar(receiver))))
            )
            if self.state.activity.is_active(value):
                self.state.accumulate(value, load(last), may_be_zero=True)
        self.state.reverse.append(ast.Expr(value=method_call(receiver, "pop")))


def _scatter_accumulation(statement: ast.stmt, index_bar: str | None):
    """``x_bar = x_bar + index_bar(g, x, index)``: (``x_bar``, (g, x, index)), else None."""
    if not (
        index_bar is not None
        and isinstance(statement, ast.Assign)
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.BinOp)
        and isinstance(statement.value.op, ast.Add)
        and isinstance(statement.value.left, ast.Name)
        and statement.value.left.id == statement.targets[0].id
        and isinstance(statement.value.right, ast.Call)
        and isinstance(statement.value.right.func, ast.Name)
        and statement.value.right.func.id == index_bar
        and len(statement.value.right.args) == 3
    ):
        return None
    return statement.targets[0].id, tuple(statement.value.right.args)


def _take_and_zero(statement: ast.stmt, take_and_zero: str | None):
    """``part, y_bar = take_and_zero(y_bar, index)``: (``y_bar``, (part, index)), else None."""
    if not (
        take_and_zero is not None
        and isinstance(statement, ast.Assign)
        and isinstance(statement.targets[0], ast.Tuple)
        and len(statement.targets[0].elts) == 2
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == take_and_zero
        and isinstance(statement.value.args[0], ast.Name)
        and statement.targets[0].elts[1].id == statement.value.args[0].id
    ):
        return None
    part = statement.targets[0].elts[0].id
    return statement.value.args[0].id, (part, statement.value.args[1])


def _mentions(statement: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(statement))
