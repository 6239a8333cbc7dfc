"""Which adjoint rule applies to a line, and what kind of primal it calls.

``RuleChoice.choose_rule`` finds, in the runtime's rule table, the first rule of a primal whose
signature binds the call's arguments, whose ranks match what is known of the arguments' shapes,
and whose ``where`` conditions hold (``x ** 2`` has a rule of its own, ``x ** y`` with a
variable ``y`` another); it returns the rule's template with the arguments it binds, defaults
included. A primal with no rule, or with none that fits, is refused with a ``MissingRuleError``
that says how to register one. The other questions are about the primal alone: a user function
that gets its own pullback (``is_subroutine``), one declared non-differentiable
(``has_no_gradient``), a pure computation the gradient may skip (``is_pure``).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any

from overbar.errors import MissingRuleError
from overbar.primitives import Attribute, Method, describe
from overbar.runtime.registry import NON_DIFFERENTIABLE, VARIABLE, Rule
from overbar.transpiler.parse import MISSING, ParsedFunction
from overbar.transpiler.primitive import CONSTANT, IDENTITY, MAP, PACK, Application
from overbar.transpiler.sweep_state import SweepState
from overbar.transpiler.templates import Template, template_of


class RuleChoice:
    """The rule table, as the sweep asks it about one function's lines.

    ``pullback_of`` gives the pullback of a user function (None: user functions are not
    differentiated through, and a call of one needs a registered rule).
    """

    def __init__(self, state: SweepState, pullback_of: Callable[..., Any] | None):
        self.state = state
        self.pullback_of = pullback_of

    def choose_rule(self, application: Application) -> tuple[Template, dict[str, ast.expr]]:
        """The template of the first rule that fits ``application``, and the atoms its
        parameters are bound to; a ``MissingRuleError`` if none does."""
        found = self.rules_for(application)
        errors = []
        for rule in found:
            try:
                bound = rule.primal_signature().bind(
                    *application.positional, **dict(application.keywords)
                )
            except TypeError as error:
                errors.append(f"{rule.primal_signature()}: {error}")
                continue
            bound.apply_defaults()
            arguments = {
                name: _as_atom(value, self.state.parsed, application)
                for name, value in bound.arguments.items()
            }
            if rule.ranks and not all(
                self.state.rank_of(arguments[key]) == rank for key, rank in rule.ranks
            ):
                continue  # a rule for other ranks; the general one comes later
            if all(_matches(arguments[key], expected) for key, expected in rule.where):
                return self.template(rule), arguments
            errors.append(
                "applies only where "
                + ", ".join(f"{key}={expected!r}" for key, expected in rule.where)
            )
        raise MissingRuleError(
            f"no {self.kind} rule of {application.description} fits this call ("
            + "; ".join(errors)
            + "); pass the arguments the rule supports, or register a rule with "
            f"@overbar.{self.kind}",
            self.state.parsed.location(application.node),
        )

    kind = "adjoint"  # which rules these are, for messages: "adjoint" or "tangent"

    def template(self, rule: Rule) -> Any:
        """The inlinable template of ``rule``."""
        return template_of(rule)

    def rules_for(self, application: Application) -> list[Rule]:
        """The rules registered for the primal ``application`` calls; refused if none is."""
        primal = application.primal
        node = application.node
        if primal is MISSING:
            raise MissingRuleError(
                f"{application.description} is not defined where {self.state.form.tree.name} "
                "can see it",
                self.state.parsed.location(node),
            )
        try:
            found = self.state.runtime.rules.lookup(primal)
        except TypeError:
            found = None
        if found is NON_DIFFERENTIABLE:  # activity analysis keeps these inactive
            raise MissingRuleError(
                f"{application.description} has no gradient", self.state.parsed.location(node)
            )
        if found:
            return found
        name = application.description
        if isinstance(primal, Method) and primal.name == "__call__":  # cell(h), cell unknown
            receiver = ast.unparse(application.positional[0])
            advice = (
                f"{receiver} is a parameter this adjoint does not know to be a function or an "
                "object whose class defines __call__ (the adjoint compiled for arguments of "
                "any kind knows neither); call the gradient itself, which is specialised on "
                f"what {receiver} is, or call the function by its global name"
            )
        elif isinstance(primal, Method | Attribute):
            kind = "method" if isinstance(primal, Method) else "attribute"
            advice = (
                f"overbar has no adjoint rule for the array {kind} "
                f"{primal} on a differentiated value; use the NumPy function instead, or "
                f"register a rule with @overbar.adjoint(overbar.{type(primal).__name__}"
                f"({primal.name!r}))"
            )
        elif inspect.isfunction(primal) and getattr(primal, "__module__", "").startswith(
            "overbar.runtime"
        ):
            advice = (
                f"{name} is one of overbar's runtime helpers (what generated adjoints call) "
                "and has no adjoint rule yet, so the adjoint that calls it cannot be "
                "differentiated again"
            )
        elif inspect.isfunction(primal) and not getattr(primal, "__module__", "").startswith(
            "numpy"
        ):
            advice = (
                f"{name} is your own function: calls to user functions are not "
                f"differentiated yet; register its adjoint with @overbar.adjoint({name}) "
                "or write its body inline"
            )
        else:
            advice = (
                f"overbar has no adjoint rule for {describe(primal)}; register one with "
                f"@overbar.adjoint({name})"
            )
        raise MissingRuleError(
            f"cannot differentiate the call of {name}: {advice}", self.state.parsed.location(node)
        )

    # kinds of primal

    def is_subroutine(self, primal: Any) -> bool:
        """A function of the user's own, with no rule registered: it gets a pullback. (Not
        one of overbar's runtime helpers, which a generated adjoint differentiated again
        calls: one with no rule is a missing rule, not code to differentiate.)"""
        if self.pullback_of is not None and hasattr(primal, "__overbar_function_for__"):
            return True  # a gradient taken in the function (inner_gradients.py)
        if self.pullback_of is None or not inspect.isfunction(primal):
            return False
        module = primal.__module__ or ""
        if module.startswith(("numpy", "overbar.runtime")) or hasattr(
            primal, "__overbar_transform__"
        ):
            return False
        try:
            return not self.state.runtime.rules.lookup(primal)
        except TypeError:
            return False

    def has_no_gradient(self, primal: Any) -> bool:
        """A primal declared non-differentiable: its output's adjoint goes nowhere."""
        try:
            return self.state.runtime.rules.lookup(primal) is NON_DIFFERENTIABLE
        except TypeError:
            return False

    def is_pure(self, primal: Any) -> bool:
        """A computation with no effects and no random draws: a differentiable primitive."""
        if primal is IDENTITY or primal is CONSTANT or primal is PACK or primal is MAP:
            return True
        if self.is_subroutine(primal):
            return False
        try:
            found = self.state.runtime.rules.lookup(primal)
        except TypeError:
            return False
        return isinstance(found, list)


def _as_atom(value: Any, parsed: ParsedFunction, application: Application) -> ast.expr:
    """A bound argument (an atom, or a default value) as an expression."""
    if isinstance(value, ast.AST):
        return value
    if isinstance(value, tuple) and all(isinstance(v, ast.AST) for v in value):
        return ast.Tuple(elts=list(value), ctx=ast.Load())
    if value is None or isinstance(value, bool | int | float | str | tuple):
        return ast.Constant(value=value)
    raise MissingRuleError(
        f"the adjoint rule for {application.description} has a default value {value!r} "
        "that cannot be written into the generated code",
        parsed.location(application.node),
    )


def _matches(atom: ast.expr, expected: Any) -> bool:
    """Whether ``atom`` is the constant a rule's ``where`` expects (or any variable)."""
    if expected is VARIABLE:
        return not isinstance(atom, ast.Constant)
    return isinstance(atom, ast.Constant) and (
        atom.value is expected if expected is None else atom.value == expected
    )
