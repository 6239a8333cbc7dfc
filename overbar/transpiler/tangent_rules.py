"""Tangent rules as forward mode asks for them: taken apart for inlining, and chosen per line.

A tangent rule (``registry.tangent``) is ``rule(z, x, y, x_dot, y_dot)`` with a body of
assignments and a ``return`` of one term per tangent parameter. ``TangentTemplate`` is that body
with its names sorted (parameters, tangents, locals, globals), and ``TangentChoice`` finds the
rule of a line in the runtime's table of tangent rules, as ``RuleChoice`` does for adjoint rules,
with refusals that say how to register a tangent rule.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

from overbar.errors import MissingRuleError, RuleDefinitionError
from overbar.primitives import Attribute, Method
from overbar.runtime.registry import NON_DIFFERENTIABLE, Rule, tangent_parameters
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.parse import MISSING
from overbar.transpiler.primitive import Application
from overbar.transpiler.rule_choice import RuleChoice


@dataclass(frozen=True)
class TangentTemplate:
    """A tangent rule function taken apart for inlining.

    ``tangents`` maps each differentiable parameter to its tangent parameter (``x`` to
    ``x_dot``), ``terms`` each such parameter to the term the rule returns for it.
    """

    rule: Rule
    output: str
    positional: tuple[str, ...]
    tangents: tuple[tuple[str, str], ...]
    body: tuple[ast.Assign, ...]
    terms: tuple[tuple[str, ast.expr], ...]
    local_names: frozenset[str]
    global_values: tuple[tuple[str, Any], ...]


_TEMPLATES: dict[Any, TangentTemplate] = {}


def tangent_template_of(rule: Rule) -> TangentTemplate:
    """The parsed template of the tangent rule ``rule`` (cached per rule function)."""
    key = rule.function
    if key not in _TEMPLATES or _TEMPLATES[key].rule.function is not key:
        _TEMPLATES[key] = _parse(rule)
    return _TEMPLATES[key]


def _parse(rule: Rule) -> TangentTemplate:
    function = rule.function
    name = function.__qualname__
    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise RuleDefinitionError(f"tangent rule {name} must end with `return <terms>`")
    for statement in body[:-1]:
        if not isinstance(statement, ast.Assign) or not all(
            isinstance(t, ast.Name) for t in statement.targets
        ):
            raise RuleDefinitionError(
                f"tangent rule {name}: only assignments to names and a final return are "
                f"allowed in a rule (line {statement.lineno}: {ast.unparse(statement)})"
            )
    parameters = list(inspect.signature(function).parameters.values())
    dots = tangent_parameters(function)
    positional = tuple(
        p.name
        for p in parameters[1:]
        if p.name not in dots
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    )
    returned = body[-1].value
    entries = list(returned.elts) if isinstance(returned, ast.Tuple) else [returned]
    if len(entries) != len(dots):
        raise RuleDefinitionError(
            f"tangent rule {name} returns {len(entries)} terms for {len(dots)} tangent "
            f"parameters ({', '.join(dots)}): one term per tangent, in their order"
        )
    stems = [dot[: -len("_dot")] for dot in dots]
    local_names = frozenset(t.id for s in body[:-1] for t in s.targets)
    parameter_names = {p.name for p in parameters}
    read = {n.id for s in body for n in walk_breadth_first(s) if isinstance(n, ast.Name)}
    scope_builtins = function.__globals__.get("__builtins__", {})
    scope_builtins = getattr(scope_builtins, "__dict__", scope_builtins)
    global_values = []
    for global_name in sorted(read - parameter_names - local_names):
        value = function.__globals__.get(global_name, scope_builtins.get(global_name, MISSING))
        if value is MISSING:
            raise RuleDefinitionError(f"tangent rule {name} uses undefined name {global_name}")
        global_values.append((global_name, value))
    return TangentTemplate(
        rule=rule,
        output=parameters[0].name,
        positional=positional,
        tangents=tuple(zip(stems, dots, strict=True)),
        body=tuple(body[:-1]),
        terms=tuple(zip(stems, entries, strict=True)),
        local_names=local_names,
        global_values=tuple(global_values),
    )


def shape_only_parameters(rule: Rule) -> tuple[str, ...]:
    """The parameters the tangent rule ``rule`` gives the term ``None``: read for their shape
    (or other facts that do not vary) only, so no derivative flows from them (the x of a
    runtime helper's ``unbroadcast(g, x)``)."""
    return tuple(
        parameter
        for parameter, term in tangent_template_of(rule).terms
        if isinstance(term, ast.Constant) and term.value is None
    )


class TangentChoice(RuleChoice):
    """The table of tangent rules, as forward mode asks it about one function's lines."""

    kind = "tangent"

    def template(self, rule: Rule) -> TangentTemplate:
        return tangent_template_of(rule)

    def rules_for(self, application: Application) -> list[Rule]:
        """The tangent rules registered for the primal ``application`` calls; refused (naming
        the primal, the file and line, and how to register one) if none is."""
        primal = application.primal
        node = application.node
        location = self.state.parsed.location(node)
        if primal is MISSING:
            raise MissingRuleError(
                f"{application.description} is not defined where {self.state.form.tree.name} "
                "can see it",
                location,
            )
        try:
            found = self.state.runtime.rules.lookup_tangent(primal)
        except TypeError:
            found = None
        if found is NON_DIFFERENTIABLE:
            raise MissingRuleError(f"{application.description} has no derivative", location)
        if found:
            return found
        name = application.description
        if isinstance(primal, Method | Attribute):
            kind = "method" if isinstance(primal, Method) else "attribute"
            register = f"overbar.{type(primal).__name__}({primal.name!r})"
            advice = (
                f"overbar has no tangent rule for the array {kind} {primal}; use the NumPy "
                f"function instead, or register one with @overbar.tangent({register})"
            )
        elif inspect.isfunction(primal) and getattr(primal, "__module__", "").startswith(
            "overbar.runtime"
        ):
            advice = (
                f"{name} is one of overbar's runtime helpers (what generated adjoints call) "
                "and has no tangent rule yet, so the adjoint that calls it cannot be "
                "differentiated again (hvp and hessian run forward mode over it)"
            )
        elif self._has_adjoint_rule(primal):
            advice = (
                f"{name} has an adjoint rule but no tangent rule, which forward mode needs; "
                f"register one with @overbar.tangent({name})"
            )
        else:
            advice = f"register one with @overbar.tangent({name})"
        raise MissingRuleError(
            f"no tangent rule for {name} in forward mode: {advice}",
            location,
        )

    def _has_adjoint_rule(self, primal: Any) -> bool:
        try:
            return bool(self.state.runtime.rules.lookup(primal))
        except TypeError:
            return False

    def is_subroutine(self, primal: Any) -> bool:
        """A function of the user's own with neither rule registered: it gets its own jvp."""
        if not super().is_subroutine(primal):
            return False
        try:
            return not self.state.runtime.rules.lookup_tangent(primal)
        except TypeError:
            return False
