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

This module is the driver. The work is done by parts that share one ``SweepState``
(``sweep_state.py``: names, bindings, shapes, the adjoints written so far):

- ``recording.py``, the forward sweep and what it pushes on the stack for the reverse sweep;
- ``control.py``, the reverse of blocks: branches, loops, writes into arrays, appends, unpacking;
- ``lines.py``, the reverse of one line: its rule inlined, its contributions accumulated;
- ``rule_choice.py``, which rule of the table fits a line, and what kind of primal it calls.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import InternalError
from overbar.runtime.interface import Runtime
from overbar.transpiler.activity import Activity
from overbar.transpiler.control import ReverseBlocks
from overbar.transpiler.invariance import cancelled_subtrahends
from overbar.transpiler.lines import LineAdjoints
from overbar.transpiler.logistic import logistic_lines
from overbar.transpiler.names import (
    clone,
    fix_missing_locations,
    statements_breadth_first,
    walk_breadth_first,
)
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.optimisations import ALL, Optimisations
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.primitive import application_of
from overbar.transpiler.recording import Recording
from overbar.transpiler.rule_choice import RuleChoice
from overbar.transpiler.shapes import Shapes
from overbar.transpiler.sweep_state import SweepState, seed_parameter
from overbar.transpiler.syntax import (
    COMMENT_MARKER,
    assign,
    assigned_within,
    call,
    comment,
    is_comment,
    is_write,
    load,
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
    "without_local",
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
    maybe_zero: frozenset[str] = frozenset()  # adjoints that may hold the runtime zero somewhere
    adjoints: tuple[tuple[str, str], ...] = ()  # (adjoint, the name it is the adjoint of)
    stack: str = "stack"  # the name of the list the forward sweep saves values on


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
    vjp: bool = False,
    whole_cotangent: bool = True,
) -> Adjoint:
    """Build the gradient function of ``form`` with respect to ``activity.wrt``.

    ``pullback_of(function, wrt, shapes=...)`` gives a callable pullback for a call of the
    user's own ``function``; with ``as_pullback`` the result is such a pullback itself: it takes
    the result's adjoint as the keyword ``seed_parameter(...)`` and returns only the gradients.
    ``shapes`` (from ``shapes.infer``) specialises the rules on what is known of the shapes.
    Without ``with_value`` the function returns only the gradients, and a result known to be a
    number is seeded with 1.0 (``optimisations.seed``), so the lines that only compute the value
    can go; ``optimisations.stabilisers`` skips the gradient of softmax stabilisers. With
    ``vjp`` the pullback returns ``(value, gradients)`` (``(None, gradients)`` without
    ``with_value``): ``split`` cuts it into the forward function and the pullback of
    ``overbar.vjp``. Its cotangent is the user's, checked to be whole: an element of a tuple
    result's adjoint is then an array, never the runtime zero. Without ``whole_cotangent`` (a
    helper's split, whose cotangent is a caller's adjoint) no such thing is assumed.
    """
    return _Sweep(
        parsed,
        form,
        activity,
        runtime,
        pullback_of,
        as_pullback,
        shapes,
        with_value,
        optimisations,
        vjp,
        whole_cotangent,
    ).run()


def without_local(form: NormalForm, name: str) -> NormalForm:
    """``form`` with its local variable ``name`` (if it has one) renamed to a fresh name: a
    pullback takes its result's adjoint by the keyword ``name``, which a local of that name
    (a generated adjoint's own ``result_bar``, differentiated again) would overwrite. Done
    before any analysis of the normal form, which must see the new name."""
    if name not in form.local_names and name not in form.temporaries:
        return form
    fresh, number = f"{name}_local", 2
    while fresh in form.taken_names:
        fresh, number = f"{name}_local{number}", number + 1

    class Renamed(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.Name(id=fresh, ctx=node.ctx) if node.id == name else node

    tree = Renamed().visit(clone(form.tree))

    def swapped(names: frozenset[str]) -> frozenset[str]:
        return names - {name} | {fresh} if name in names else names

    return replace(
        form,
        tree=tree,
        local_names=swapped(form.local_names),
        temporaries=swapped(form.temporaries),
        taken_names=form.taken_names | {fresh},
    )


class _Sweep:
    """The parts of the sweep, wired together around one shared state; ``run`` assembles the
    gradient function from the forward sweep they record and the reverse sweep they write."""

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
        vjp: bool = False,
        whole_cotangent: bool = True,
    ):
        self.vjp = vjp
        self.whole_cotangent = whole_cotangent
        self.state = SweepState(parsed, form, activity, runtime, shapes)
        self.with_value = with_value
        self.literal_seed = optimisations.seed
        self.remove_dead = optimisations.simplify
        # s = a - m before a softmax: m gets no gradient from this line (see invariance.py)
        self.cancelled = (
            cancelled_subtrahends(form, parsed.namespace, runtime, self.state.shapes)
            if optimisations.stabilisers
            else {}
        )
        self.as_pullback = as_pullback
        suffix = "pullback" if as_pullback else "grad"
        # The order of these names is part of the output: the function's, the stack's (taken
        # by the recording), the reverse loops' counter (taken by the reverse blocks).
        self.function_name = self.state.names.fresh(f"{form.tree.name}_{suffix}")
        self.recording = Recording(self.state)
        self.rules = RuleChoice(self.state, pullback_of)
        self.lines = LineAdjoints(
            self.state,
            self.recording,
            self.rules,
            self.cancelled,
            pullback_of,
            (
                logistic_lines(form, parsed.namespace, runtime.array_module)
                if optimisations.idioms
                else {}
            ),
            optimisations.residuals,
        )
        self.control = ReverseBlocks(self.state, self.recording, self.rules, self.lines)
        # what the forward sweep runs for helpers' calls (assignments: statements)
        for node in statements_breadth_first(form.tree):
            if isinstance(node, ast.Assign) and (found := self.lines.forward_call(node)):
                self.recording.residual_calls[id(node)] = found
        self.state.classify_unpackings(self.control.built_as_tuple)

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
            and not self.state.may_turn_complex()
            and not self.state.may_be_truth_value(result)
        ):
            seed_value = ast.Constant(1.0)  # a number: nothing to check, its value not needed
        else:
            seed_value = call(seed_name, result)
        self.state.reverse = [assign(result_bar, seed_value)]
        if (
            self.vjp
            and self.whole_cotangent
            and isinstance(result, ast.Name)
            and self.bound_once(result.id)
        ):
            self.state.whole_cotangent = result.id
        if isinstance(result, ast.Name) and self.state.activity.is_active(result):
            self.state.defined.add(result.id)
        elif self.state.activity.is_active(result):
            raise InternalError(
                f"the result of {self.state.form.tree.name} is not a name in normal form",
                self.state.parsed.location(body[-1]),
            )
        self.state.reverse.extend(self.control.reverse_block(statements))
        gradients = []
        for name in self.state.activity.wrt:
            if name in self.state.objects:  # an object's gradient: its attributes', by name
                like = self.state.bind("attributes_like", self.state.runtime.attributes_like)
                attributes = tuple_of([ast.Constant(a) for a in sorted(self.state.objects[name])])
                so_far = (
                    load(self.state.bar(name)) if name in self.state.defined else ast.Constant(0.0)
                )
                self.state.reverse.append(
                    assign(self.state.bar(name), call(like, so_far, load(name), attributes))
                )
            elif not self.as_pullback and name in self.state.sequences:
                # a container of parameters: its gradient has its structure, every leaf an array
                structured = self.state.bind("structured_like", self.state.runtime.structured_like)
                adjoint = load(self.state.bar(name)) if name in self.state.defined else None
                self.state.reverse.append(
                    assign(
                        self.state.bar(name),
                        call(structured, adjoint or ast.Constant(0.0), load(name)),
                    )
                )
                self.state.defined.add(name)
                self.state.maybe_zero.discard(name)
            elif name not in self.state.defined:
                zero = self.state.bind("zero_gradient", self.state.runtime.zero_gradient)
                self.state.reverse.append(assign(self.state.bar(name), call(zero, load(name))))
            elif name in self.state.maybe_zero:
                self.state.reverse.append(self.state.shaped(name))
            gradients.append(load(self.state.bar(name)))
        returned = gradients[0] if len(gradients) == 1 else tuple_of(gradients)
        reverse = self.state.reverse
        if self.remove_dead:  # what only dead lines read need not be pushed
            from overbar.transpiler.simplify import without_dead_assignments  # imports Adjoint

            ending = ast.Return(value=tuple_of([result, returned]))
            reverse = without_dead_assignments([*reverse, ending], self.effects(seed_name))[:-1]
        prologue, forward, reverse = self.recording.remove_unread_pushes(forward, reverse)
        if isinstance(result, ast.Name) and self.recording.pops.get(result.id):
            value = self.state.names.fresh(f"{result.id}_value")
            forward.append(assign(value, result))  # the reverse sweep restores older values
            result = load(value)
        arguments = clone(self.state.form.tree.args)
        if self.as_pullback and self.vjp:
            value = result if self.with_value else ast.Constant(None)
            reverse.append(ast.Return(value=tuple_of([value, tuple_of(gradients)])))
            arguments.kwonlyargs.append(ast.arg(arg=seed_keyword))
            arguments.kw_defaults.append(None)
        elif self.as_pullback:
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
            tree=fix_missing_locations(tree),
            forward_length=len(prologue) + len(forward),
            temporaries=frozenset(self.state.temporaries),
            bindings=tuple(sorted(self.state.bindings.items())),
            effects=self.effects(seed_name),
            subroutines=tuple(self.lines.subroutines),
            shapes=tuple(sorted(self.state.adjoint_shapes().items())),
            pure=self.pure_names(statements),
            floating=self.floating_names(),
            maybe_zero=frozenset(
                self.state.adjoint_names[name]
                for name in self.state.ever_zero
                if name in self.state.adjoint_names
            ),
            stack=self.recording.stack,
            adjoints=tuple(sorted((bar, name) for name, bar in self.state.adjoint_names.items())),
        )

    def bound_once(self, name: str) -> bool:
        """Whether the normal form binds ``name`` once only (and it is no parameter)."""
        stores = sum(
            1
            for node in walk_breadth_first(self.state.form.tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name
        )
        return stores == 1 and name not in self.state.form.parameters

    def effects(self, seed_name: str) -> frozenset[str]:
        """The names of the functions (and objects whose methods) the adjoint calls for their
        effects: the seed's check, the stack, the runtime helpers that write in place."""
        in_place = (self.state.runtime.take_in_place, self.state.runtime.add_at)
        return frozenset(
            {seed_name, self.recording.stack}
            | {
                self.state.binding_names[id(helper)]
                for helper in in_place
                if id(helper) in self.state.binding_names
            }
        )

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
        for node in statements_breadth_first(self.state.form.tree):
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
