"""Differentiate: the forward sweep followed by the reverse sweep, rule by rule.

Invariant established: ``Adjoint.tree`` is a function ``<name>_grad`` with the user's parameters
that runs the normal form (the forward sweep), seeds the result's adjoint, then walks the lines
backwards and, for every line whose output is active, inlines the adjoint rule of its primitive
and adds each contribution into the adjoint ``<input>_bar`` of each active input. The first
contribution is assigned (``x_bar = ...``), later ones added (``x_bar = x_bar + ...``), never in
place. An adjoint never assigned is a symbolic zero: no code is spent on it, and a ``wrt``
parameter that gets none is given ``zero_gradient(x)`` at the end. The function returns
``(result, gradients)``. Each reverse block starts with a comment marker naming the user's line.
The adjoint of a tuple or list (one built, one a helper returns: shape inference tells) is a
tuple, added element by element; ``y = t[k]`` adds ``(0.0, ..., ȳ, ..., 0.0)`` to it.

Branches and loops: the reverse sweep mirrors them (``if c:`` replays the branch the forward sweep
took; a loop runs its reversed body as many times as the forward loop ran, a count the forward
sweep pushes on ``stack``). A name assigned again while its old value may still be needed is
pushed on ``stack`` before it is overwritten and popped back after its line is undone, so every
rule sees the values of its own line; pushes of names the reverse sweep never reads are removed
afterwards, so ``a = a + 1.0`` in a loop saves nothing. Inside a loop an adjoint may be the runtime
zero ``0.0``; ``adjoint_like`` gives it its value's shape before a rule reads it.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import InternalError, MissingRuleError, UnsupportedSyntaxError
from overbar.runtime.interface import Runtime
from overbar.transpiler.activity import Activity
from overbar.transpiler.fence import is_append
from overbar.transpiler.invariance import cancelled_subtrahends
from overbar.transpiler.names import clone, names_in
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.optimisations import ALL, Optimisations
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.primitive import (
    CONSTANT,
    ELEMENTWISE_OPERATORS,
    IDENTITY,
    PACK,
    Application,
    application_of,
    index_value,
    is_number,
)
from overbar.transpiler.recording import Recording
from overbar.transpiler.rule_choice import RuleChoice
from overbar.transpiler.shapes import Shapes
from overbar.transpiler.sweep_state import SweepState
from overbar.transpiler.syntax import (
    COMMENT_MARKER,
    Rename,
    assign,
    assigned,
    assigned_within,
    call,
    comment,
    if_statement,
    is_comment,
    is_read,
    is_write,
    load,
    method_call,
    store,
    tuple_of,
)
from overbar.transpiler.templates import Substitution, Template, expression

# Other passes and the tests import these from here.
__all__ = [
    "COMMENT_MARKER",
    "Adjoint",
    "comment",
    "differentiate",
    "is_comment",
    "is_write",
    "seed_parameter",
]


@dataclass(frozen=True)
class Adjoint:
    """The generated gradient function, before clean-up."""

    tree: ast.FunctionDef
    forward_length: int
    temporaries: frozenset[str]
    bindings: tuple[tuple[str, Any], ...]
    effects: frozenset[str]
    subroutines: tuple[Any, ...] = ()
    shapes: tuple[tuple[str, Any], ...] = ()  # what is known of the forward names' shapes
    pure: frozenset[str] = frozenset()  # forward names bound only by pure computations
    floating: frozenset[str] = frozenset()  # forward names surely bound to floating point


def seed_parameter(parameters: Sequence[str]) -> str:
    """The keyword a pullback takes its result's adjoint by (a name no parameter has)."""
    name = "result_bar"
    while name in parameters:
        name += "_"
    return name


def differentiate(
    parsed: ParsedFunction,
    form: NormalForm,
    activity: Activity,
    runtime: Runtime,
    pullback_of: Callable[..., Any] | None = None,
    as_pullback: bool = False,
    shapes: Shapes | None = None,
    with_value: bool = True,
    optimisations: Optimisations = ALL,
) -> Adjoint:
    """Build the gradient function of ``form`` with respect to ``activity.wrt``.

    ``pullback_of(function, wrt, shapes=...)`` gives a callable pullback for a call of the
    user's own ``function``; with ``as_pullback`` the result is such a pullback itself: it takes
    the result's adjoint as the keyword ``seed_parameter(...)`` and returns only the gradients.
    ``shapes`` (from ``shapes.infer``) specialises the rules on what is known of the shapes.
    Without ``with_value`` the function returns only the gradients, and a result known to be a
    number is seeded with 1.0 (``optimisations.seed``), so the lines that only compute the value
    can go; ``optimisations.stabilisers`` skips the gradient of softmax stabilisers.
    """
    return _ReverseSweep(
        parsed,
        form,
        activity,
        runtime,
        pullback_of,
        as_pullback,
        shapes,
        with_value,
        optimisations,
    ).run()


# -- the reverse sweep ------------------------------------------------------------------------


class _ReverseSweep:
    def __init__(
        self,
        parsed: ParsedFunction,
        form: NormalForm,
        activity: Activity,
        runtime: Runtime,
        pullback_of: Callable[..., Any] | None,
        as_pullback: bool,
        shapes: Shapes | None = None,
        with_value: bool = True,
        optimisations: Optimisations = ALL,
    ):
        self.state = SweepState(parsed, form, activity, runtime, shapes)
        self.with_value = with_value
        self.literal_seed = optimisations.seed
        # s = a - m before a softmax: m gets no gradient from this line (see invariance.py)
        self.cancelled = (
            cancelled_subtrahends(form, parsed.namespace, runtime, self.state.shapes)
            if optimisations.stabilisers
            else {}
        )
        self.pullback_of = pullback_of
        self.rules = RuleChoice(self.state, pullback_of)
        self.as_pullback = as_pullback
        self.subroutines: list[Any] = []
        suffix = "pullback" if as_pullback else "grad"
        # The order of these names is part of the output: the function's, then the stack's.
        self.function_name = self.state.names.fresh(f"{form.tree.name}_{suffix}")
        self.recording = Recording(self.state)  # takes the name of the stack
        # reverse loops count with it; nesting is harmless
        self.counter = self.state.names.fresh("_")

    # the sweep

    def run(self) -> Adjoint:
        body = self.state.form.tree.body
        statements, result = body[:-1], body[-1].value
        parameters = set(self.state.form.parameters)
        forward, _, _ = self.recording.forward_block(statements, set(parameters), set(parameters))
        seed_name = self.state.bind("seed", self.state.runtime.seed)
        result_bar = (
            self.state.bar(result.id) if isinstance(result, ast.Name) else self.state.temporary()
        )
        seed_keyword = seed_parameter(self.state.form.parameters)
        if self.as_pullback:
            self.state.names.take(seed_keyword)
            seed_value = load(seed_keyword)
        elif (
            self.literal_seed
            and not self.with_value
            and self.state.runtime.shapes.dims(self.state.shape_of(result)) == ()
        ):
            seed_value = ast.Constant(1.0)  # a number: nothing to check, its value not needed
        else:
            seed_value = call(seed_name, result)
        self.state.reverse = [assign(result_bar, seed_value)]
        if isinstance(result, ast.Name) and self.state.activity.is_active(result):
            self.state.defined.add(result.id)
        elif self.state.activity.is_active(result):
            raise InternalError(
                f"the result of {self.state.form.tree.name} is not a name in normal form",
                self.state.parsed.location(body[-1]),
            )
        self.state.reverse.extend(self.reverse_block(statements))
        gradients = []
        for name in self.state.activity.wrt:
            if name not in self.state.defined:
                zero = self.state.bind("zero_gradient", self.state.runtime.zero_gradient)
                self.state.reverse.append(assign(self.state.bar(name), call(zero, load(name))))
            elif name in self.state.maybe_zero:
                self.state.reverse.append(self.state.shaped(name))
            gradients.append(load(self.state.bar(name)))
        returned = gradients[0] if len(gradients) == 1 else tuple_of(gradients)
        prologue, forward, reverse = self.recording.remove_unread_pushes(
            forward, self.state.reverse
        )
        if isinstance(result, ast.Name) and self.recording.pops.get(result.id):
            value = self.state.names.fresh(f"{result.id}_value")
            forward.append(assign(value, result))  # the reverse sweep restores older values
            result = load(value)
        arguments = clone(self.state.form.tree.args)
        if self.as_pullback:
            reverse.append(ast.Return(value=tuple_of(gradients)))
            arguments.kwonlyargs.append(ast.arg(arg=seed_keyword))
            arguments.kw_defaults.append(None)
        elif self.with_value:
            reverse.append(ast.Return(value=tuple_of([result, returned])))
        else:
            reverse.append(ast.Return(value=returned))
        tree = ast.FunctionDef(
            name=self.function_name,
            args=arguments,
            body=[*prologue, *forward, *reverse],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        ast.copy_location(tree, self.state.form.tree)
        return Adjoint(
            tree=ast.fix_missing_locations(tree),
            forward_length=len(prologue) + len(forward),
            temporaries=frozenset(self.state.temporaries),
            bindings=tuple(sorted(self.state.bindings.items())),
            effects=frozenset(
                {seed_name, self.recording.stack}
                | {
                    self.state.binding_names[id(helper)]
                    for helper in (self.state.runtime.take_in_place, self.state.runtime.add_at)
                    if id(helper) in self.state.binding_names
                }
            ),
            subroutines=tuple(self.subroutines),
            shapes=tuple(sorted(self.state.adjoint_shapes().items())),
            pure=self.pure_names(statements),
            floating=self.floating_names(),
        )

    # forward sweep: the user's lines, plus pushes and trip counts

    # reverse sweep

    def reverse_block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        outer, self.state.reverse = self.state.reverse, []
        line = None
        for statement in reversed(statements):
            if isinstance(statement, ast.Assign | ast.Expr) and (
                isinstance(statement, ast.Assign) or is_append(statement)
            ):
                if statement.lineno != line:
                    line = statement.lineno
                    self.state.reverse.append(comment(self.source_line(statement)))
                if is_write(statement):
                    self.reverse_write(statement)
                elif isinstance(statement, ast.Assign):
                    self.reverse_line(statement)
                else:
                    self.reverse_append(statement)
            elif isinstance(statement, ast.If):
                line = None
                self.reverse_if(statement)
            elif isinstance(statement, ast.For | ast.While):
                line = None
                self.reverse_loop(statement)
        block, self.state.reverse = self.state.reverse, outer
        return block

    def reverse_if(self, statement: ast.If) -> None:
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
        self.state.restore(saved[0])
        self.recording.restore(saved[1])

    def reached_in(self, statements: list[ast.stmt]) -> set[str]:
        """Names whose adjoints the reverse sweep of ``statements`` may add to."""
        reached = set()
        for node in (n for s in statements for n in ast.walk(s)):
            if isinstance(node, ast.Expr) and is_append(node):
                names = [node.value.func.value.id, *names_in(node.value.args[0])]
                reached.update(n for n in names if n in self.state.activity.active)
                continue
            if is_write(node):
                names = [node.targets[0].value.id, *names_in(node.value)]
                reached.update(n for n in names if n in self.state.activity.active)
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
            reads = {n.id for n in ast.walk(statement) if is_read(n)}
            read_first |= reads - written
            if isinstance(statement, ast.Assign):
                written.update(assigned(statement))
            else:
                nested.update(assigned_within(statement))
        outside = {
            n.id for n in ast.walk(self.state.form.tree) if is_read(n) and not _within(n, loop)
        }
        return written - read_first - nested - outside

    def source_line(self, statement: ast.stmt) -> str:
        text = linecache.getline(self.state.parsed.filename, statement.lineno).strip()
        return text or ast.unparse(statement)

    def reverse_line(self, statement: ast.Assign) -> None:
        target = statement.targets[0]
        outputs = assigned(statement)
        pushed = self.recording.overwritten.get(id(statement), [])
        overwrites = bool(pushed)
        live = [name for name in outputs if name in self.state.activity.active]
        if not live or not any(name in self.state.defined for name in live):
            self.state.reverse.extend(self.recording.pop(name, name) for name in reversed(pushed))
            return
        if isinstance(target, ast.Tuple):
            self.reverse_unpack(statement, outputs, pushed)
            return
        output = target.id
        slice_name = self.state.bind("slice", builtins.slice)
        application = application_of(
            statement.value, self.state.form, self.state.parsed.namespace, slice_name
        )
        if (
            output in self.state.sequences
            and application.primal not in (PACK, IDENTITY)
            and not self.rules.is_subroutine(application.primal)
            and not self.indexes_a_sequence(application)  # u = t[1:]
            and not self.state.is_sequence_shape(
                self.state.shapes.get(output)
            )  # a ruled function's tuple
        ):
            raise self.state.unsupported(
                statement,
                f"a tuple or list that {application.description} returns",
                "only tuples you build, and those your own functions return, are supported",
            )
        if output in self.state.maybe_zero:
            self.state.reverse.append(self.state.shaped(output))
        output_bar = load(self.state.bar(output))
        reads_itself = output in application.input_names()
        earlier = output
        if reads_itself:  # `a = a * b`: the rule needs the adjoint and value of both a's
            captured = self.state.temporary()
            self.state.reverse.append(assign(captured, output_bar))
            output_bar = load(captured)
            if overwrites:
                earlier = self.state.temporary()
                self.state.previous[earlier] = output
                self.state.reverse.append(self.recording.pop(earlier, output))
        self.state.defined.discard(output)
        self.state.maybe_zero.discard(output)
        if not any(
            name in self.state.activity.active for name in application.input_names()
        ) or self.rules.has_no_gradient(application.primal):
            pass  # `h = np.zeros(n)`, `y = np.zeros_like(x)`: nothing to send the adjoint to
        elif application.primal is IDENTITY:
            self.state.accumulate(application.positional[0], output_bar)
        elif application.primal is PACK:  # t = (a, b):  ā += t̄[0],  b̄ += t̄[1]
            unread = self.unread_elements(output)  # their adjoints are zero: no code
            for index, element in enumerate(application.positional):
                if self.state.activity.is_active(element) and index not in unread:
                    part = ast.Subscript(
                        value=output_bar, slice=ast.Constant(index), ctx=ast.Load()
                    )
                    self.state.accumulate(element, part, may_be_zero=True)
        elif self.indexes_a_sequence(application):  # y = t[i]:  t̄ += (0, ..., ȳ, ..., 0)
            self.accumulate_item(application, output, output_bar, earlier)
        elif self.rules.is_subroutine(application.primal):
            self.apply_pullback(application, output, output_bar, earlier)
        elif application.primal is not CONSTANT:
            if (
                output in self.state.sequences
            ):  # the rule reads t̄ like t: arrays, no runtime zeros
                like = self.state.bind("elements_like", self.state.runtime.elements_like)
                shaped = self.state.temporary()
                self.state.reverse.append(assign(shaped, call(like, output_bar, load(earlier))))
                output_bar = load(shaped)
            skipped = self.cancelled.get(id(statement))
            self.apply_rule(output, _as_square(application), output_bar, earlier, skipped)
        if overwrites:
            restore = assign(output, load(earlier)) if reads_itself else None
            if restore is not None:
                self.recording.pops.setdefault(output, []).append(restore)
                self.state.reverse.append(restore)
            else:
                self.state.reverse.append(self.recording.pop(output, output))

    def indexes_a_sequence(self, application: Application) -> bool:
        """``t[index]`` of a tuple or list ``t``: its adjoint is a tuple, not an array."""
        if application.primal is not operator.getitem:
            return False
        container = application.positional[0]
        return isinstance(container, ast.Tuple | ast.List) or (
            isinstance(container, ast.Name) and container.id in self.state.sequences
        )

    def accumulate_item(
        self, application: Application, output: str, output_bar: ast.expr, earlier: str
    ) -> None:
        """``y = t[index]``:  t̄ += a tuple holding ȳ at ``index`` and zeros elsewhere. Where
        t's length and the index are known now, the tuple is written out with the literal 0.0
        in the other places (the elements of a display that it stands for get nothing);
        otherwise ``item_bar`` builds it with the runtime zero."""
        container, index = application.positional
        if earlier != output:  # t = t[0]: the tuple indexed is the overwritten value
            container = Rename(output, earlier).visit(clone(container))
            index = Rename(output, earlier).visit(clone(index))
        length = self.state.sequence_length(container)
        position = index.value if isinstance(index, ast.Constant) else None
        if length is not None and type(position) is int and -length <= position < length:
            parts: list[ast.expr] = [ast.Constant(0.0) for _ in range(length)]
            parts[position] = output_bar
            self.state.accumulate(container, tuple_of(parts))
            return
        item_bar = self.state.bind("item_bar", self.state.runtime.item_bar)
        contribution = call(item_bar, output_bar, container, index)
        self.state.accumulate(container, contribution, may_be_zero=True)

    def unread_elements(self, name: str) -> set[int]:
        """The positions of the tuple ``name`` that no line reads, when every read of it is
        ``y = name[k]`` for a literal k: the adjoint there is always zero (t̄ is added to only
        where t is read, and those reads give the literal 0.0 at every other position)."""
        length = self.state.sequence_length(load(name))
        if length is None:
            return set()
        allowed, read = set(), set()
        for node in ast.walk(self.state.form.tree):
            value = node.value if isinstance(node, ast.Assign) else None
            if (
                isinstance(value, ast.Subscript)
                and isinstance(value.value, ast.Name)
                and value.value.id == name
                and isinstance(value.slice, ast.Constant)
                and type(value.slice.value) is int
                and -length <= value.slice.value < length
            ):
                allowed.add(id(value.value))
                read.add(value.slice.value % length)
        for node in ast.walk(self.state.form.tree):
            if is_read(node) and node.id == name and id(node) not in allowed:
                return set()  # passed on whole, copied, unpacked, returned, ...
        return set(range(length)) - read

    def reverse_unpack(self, statement: ast.Assign, outputs: list[str], pushed: list[str]) -> None:
        """``a, b = t``:  t̄ += (ā, b̄), a runtime zero standing for an adjoint not reached."""
        source = statement.value
        if (
            not isinstance(source, ast.Name)
            or any(not isinstance(e, ast.Name) for e in statement.targets[0].elts)
            or not self.built_as_tuple(source.id)
        ):
            raise self.state.unsupported(
                statement,
                "unpacking a differentiated value that is not a tuple you built or one your "
                "own function returned",
                "index it instead (a = x[0])",
            )
        parts = []
        for name in outputs:
            defined = name in self.state.activity.active and name in self.state.defined
            parts.append(load(self.state.bar(name)) if defined else ast.Constant(0.0))
            self.state.defined.discard(name)
            self.state.maybe_zero.discard(name)
        if self.state.activity.is_active(source):
            self.state.accumulate(source, tuple_of(parts))
        self.state.reverse.extend(self.recording.pop(name, name) for name in reversed(pushed))

    def reverse_write(self, statement: ast.Assign) -> None:
        """``y[index] = v``:  v̄ += ȳ[index],  ȳ[index] = 0 (in a copy); then y[index] gets
        back what it held before."""
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
            if self.state.activity.is_active(value):
                unbroadcast = self.state.bind("unbroadcast", self.state.runtime.unbroadcast)
                self.state.accumulate(value, call(unbroadcast, load(part), clone(value)))
        restore = ast.Subscript(value=load(array), slice=clone(written.slice), ctx=ast.Store())
        self.state.reverse.append(
            ast.Assign(targets=[restore], value=method_call(self.recording.stack, "pop"))
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

    def built_as_tuple(self, name: str) -> bool:
        """Whether every binding of ``name`` is a display, a call of the user's own function,
        or a copy of such a name, or shape inference knows it is a tuple or list (a helper's
        parameter its caller passes one): so its adjoint may be a tuple."""
        if self.state.is_sequence_shape(self.state.shapes.get(name)):
            return True
        if name in self.state.form.parameters:
            return False
        bindings = [
            node
            for node in ast.walk(self.state.form.tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == name
        ]
        for node in bindings:
            application = application_of(node.value, self.state.form, self.state.parsed.namespace)
            if application.primal is PACK or self.rules.is_subroutine(application.primal):
                continue
            if application.primal is IDENTITY and self.built_as_tuple(node.value.id):
                continue
            return False
        return bool(bindings)

    def apply_rule(
        self,
        output: str,
        application: Application,
        output_bar: ast.expr,
        earlier: str,
        skipped: str | None = None,
    ) -> None:
        """Inline the rule of ``application`` and add its contributions to the adjoints of
        the active arguments (except ``skipped``, whose contribution cancels out)."""
        template, bound = self.rules.choose_rule(application)
        values = bound
        if earlier != output:  # the rule reads the overwritten value under its saved name
            values = {
                key: Rename(output, earlier).visit(clone(atom)) for key, atom in bound.items()
            }
        same_shape = _operands_shaped_like_output(application)
        if earlier != output:
            same_shape = [Rename(output, earlier).visit(clone(a)) for a in same_shape]
        statements, entries = self.inline(
            template, values, output, output_bar, [ast.dump(a) for a in same_shape]
        )
        self.state.reverse.extend(statements)
        for parameter, entry in zip(template.positional, entries, strict=True):
            argument = bound[parameter]
            if not self.state.activity.is_active(argument):
                continue
            if isinstance(argument, ast.Name) and argument.id == skipped:
                continue
            if entry is None:
                raise MissingRuleError(
                    f"the adjoint rule for {application.description} "
                    f"({template.rule.function.__qualname__}) gives no gradient for its "
                    f"argument {parameter}, which depends on "
                    f"{', '.join(self.state.activity.wrt)} here; register a rule that does with "
                    "@overbar.adjoint",
                    self.state.parsed.location(application.node),
                )
            self.state.accumulate(argument, entry)

    def pure_names(self, statements: list[ast.stmt]) -> frozenset[str]:
        """Names bound only by top-level lines that compute with a differentiable primitive
        (pure arithmetic: no effects, no random draws): lines the gradient may skip."""
        pure, impure = set(), set(self.state.form.parameters)
        for statement in statements:
            if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
                application = application_of(
                    statement.value, self.state.form, self.state.parsed.namespace
                )
                name = statement.targets[0].id
                (pure if self.rules.is_pure(application.primal) else impure).add(name)
            else:
                impure.update(assigned_within(statement))
        return frozenset(pure - impure)

    def floating_names(self) -> frozenset[str]:
        """Names every binding of which is a call of a function whose result is floating point
        (np.exp, np.sin, ...)."""
        floating, other = set(), set(self.state.form.parameters)
        for node in ast.walk(self.state.form.tree):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                application = application_of(
                    node.value, self.state.form, self.state.parsed.namespace
                )
                try:
                    is_floating = (
                        application.primal in self.state.runtime.shapes.FLOATING_FUNCTIONS
                    )
                except TypeError:
                    is_floating = False
                (floating if is_floating else other).add(node.targets[0].id)
            elif isinstance(node, ast.Assign | ast.For):
                other.update(assigned_within(node))
        return frozenset(floating - other)

    def apply_pullback(
        self, application: Application, output: str, output_bar: ast.expr, earlier: str
    ) -> None:
        """``x̄, ... += helper_pullback(x, ..., result_bar=ȳ)``: the helper's own reverse sweep."""
        function = application.primal
        signature = inspect.signature(function)
        kinds = {p.kind for p in signature.parameters.values()}
        if kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}:
            raise self.unsupported_call(application, "a helper with *args or **kwargs")
        try:
            bound = signature.bind(*application.positional, **dict(application.keywords))
        except TypeError as error:
            raise self.unsupported_call(application, f"this call ({error})") from None
        wrt = tuple(
            name for name, atom in bound.arguments.items() if self.state.activity.is_active(atom)
        )
        pullback = self.pullback_of(function, wrt, shapes=self.call_shapes(signature, bound))
        pullback.prepare()
        self.subroutines.append(pullback)
        name = self.state.bind(f"{function.__name__}_pullback", pullback)
        rename = Rename(output, earlier) if earlier != output else None

        def value(atom: ast.expr) -> ast.expr:
            atom = clone(atom)
            return rename.visit(atom) if rename else atom

        keywords = [ast.keyword(arg=k, value=value(a)) for k, a in application.keywords]
        keywords.append(
            ast.keyword(arg=seed_parameter(list(signature.parameters)), value=output_bar)
        )
        pullback_call = ast.Call(
            func=load(name), args=[value(a) for a in application.positional], keywords=keywords
        )
        parts = [self.state.temporary() for _ in wrt]
        target = ast.Tuple(elts=[store(p) for p in parts], ctx=ast.Store())
        self.state.reverse.append(ast.Assign(targets=[target], value=pullback_call))
        for parameter, part in zip(wrt, parts, strict=True):
            argument = bound.arguments[parameter]  # a tuple's adjoint may hold runtime zeros
            self.state.accumulate(argument, load(part), isinstance(argument, ast.Tuple | ast.List))

    def call_shapes(
        self, signature: inspect.Signature, bound: inspect.BoundArguments
    ) -> tuple[tuple[str, Any], ...]:
        """What is known here of the shapes of a helper's parameters, for its pullback (the
        same at every run of this call: shapes are inferred for all of them)."""
        known = []
        for name, parameter in signature.parameters.items():
            if name in bound.arguments:
                shape = self.state.shape_of(bound.arguments[name])
            elif parameter.default is not parameter.empty:
                shape = self.state.runtime.shapes.argument_shape(parameter.default)
            else:
                shape = None
            if shape is not None:
                known.append((name, shape))
        return tuple(known)

    def unsupported_call(self, application: Application, what: str) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} of {application.description} in "
            f"{self.state.form.tree.name}",
            self.state.parsed.location(application.node),
        )

    def inline(
        self,
        template: Template,
        bound: dict[str, ast.expr],
        output: str,
        output_bar: ast.expr,
        same_shape: list[str],
    ) -> tuple[list[ast.stmt], list[ast.expr | None]]:
        replacements: dict[str, ast.expr] = {
            template.output: load(output),
            template.output_bar: output_bar,
            **bound,
        }
        for local in sorted(template.local_names):
            replacements[local] = load(self.state.temporary())
        for name, value in template.global_values:
            replacements[name] = load(self.state.bind(name, value))
        substitute = Substitution(
            replacements,
            self.state.bind("unbroadcast", self.state.runtime.unbroadcast),
            same_shape,
            lambda g, operand: self.summed_to(g, self.state.shape_of(load(output)), operand),
        )
        statements = [substitute.visit(clone(s)) for s in template.body]
        entries = [
            None if entry is None else substitute.visit(clone(entry)) for entry in template.returns
        ]
        return statements, entries

    # shapes

    def summed_to(self, g: ast.expr, result: Any, operand: ast.expr) -> ast.expr | None:
        """``unbroadcast(g, operand)`` for a ``g`` shaped like ``result``, with the axes it sums
        known now: ``g``, ``g.sum(axis=0)``, ...; None where they are not known."""
        axes = self.state.runtime.shapes.unbroadcast_axes(result, self.state.shape_of(operand))
        if axes is None:
            return None
        leading, kept = axes
        if (leading or kept) and isinstance(g, ast.UnaryOp) and isinstance(g.op, ast.USub):
            summed = self.summed_to(g.operand, result, operand)  # negate the smaller array
            return ast.UnaryOp(op=ast.USub(), operand=summed)
        if kept:
            g = expression(self.state.runtime.sum_keeping, self.state.bind, g=g, axis=_axis(kept))
        if leading and self.state.rank_of(operand) == 0:
            return expression(self.state.runtime.sum_all, self.state.bind, g=g)
        if leading:
            g = expression(
                self.state.runtime.sum_leading, self.state.bind, g=g, axis=_axis(leading)
            )
        return g


def _as_square(application: Application) -> Application:
    """``x * x`` is differentiated as ``x ** 2``: one contribution, 2 x z̄, instead of two."""
    left, right = (application.positional + (None, None))[:2]
    if (
        application.primal is operator.mul
        and isinstance(left, ast.Name)
        and isinstance(right, ast.Name)
        and left.id == right.id
    ):
        return replace(application, primal=operator.pow, positional=(left, ast.Constant(2)))
    return application


def _axis(axes: tuple[int, ...]) -> ast.expr:
    if len(axes) == 1:
        return ast.Constant(axes[0])
    return ast.Tuple(elts=[ast.Constant(a) for a in axes], ctx=ast.Load())


def _operands_shaped_like_output(application: Application) -> list[ast.expr]:
    """Operands known to have the output's shape: the array operand of ``x * 2.0`` and the like."""
    if application.primal not in ELEMENTWISE_OPERATORS:
        return []
    operands = application.positional
    shaped = []
    for index, operand in enumerate(operands):
        others = operands[:index] + operands[index + 1 :]
        if all(is_number(other) for other in others):
            shaped.append(operand)
    return shaped


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
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(statement))


def _within(node: ast.AST, container: ast.AST) -> bool:
    return any(child is node for child in ast.walk(container))
