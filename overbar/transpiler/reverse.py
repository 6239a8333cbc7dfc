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
import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overbar.errors import InternalError
from overbar.runtime.interface import Runtime
from overbar.transpiler.activity import Activity
from overbar.transpiler.fence import is_append
from overbar.transpiler.invariance import cancelled_subtrahends
from overbar.transpiler.lines import LineAdjoints
from overbar.transpiler.names import clone, names_in
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.optimisations import ALL, Optimisations
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.primitive import (
    IDENTITY,
    PACK,
    application_of,
    index_value,
)
from overbar.transpiler.recording import Recording
from overbar.transpiler.rule_choice import RuleChoice
from overbar.transpiler.shapes import Shapes
from overbar.transpiler.sweep_state import SweepState, seed_parameter
from overbar.transpiler.syntax import (
    COMMENT_MARKER,
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
        self.as_pullback = as_pullback
        suffix = "pullback" if as_pullback else "grad"
        # The order of these names is part of the output: the function's, then the stack's.
        self.function_name = self.state.names.fresh(f"{form.tree.name}_{suffix}")
        self.recording = Recording(self.state)  # takes the name of the stack
        # reverse loops count with it; nesting is harmless
        self.counter = self.state.names.fresh("_")
        self.rules = RuleChoice(self.state, pullback_of)
        self.lines = LineAdjoints(
            self.state, self.recording, self.rules, self.cancelled, pullback_of
        )

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
            subroutines=tuple(self.lines.subroutines),
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
                    self.reverse_assignment(statement)
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

    # shapes


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
