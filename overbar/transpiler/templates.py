"""Rule templates: an adjoint rule function taken apart so the reverse sweep can inline it.

A template is the rule's body (assignments, then a return of one adjoint per positional primal
parameter) with its names sorted into parameters, locals and globals. ``Substitution`` renames a
template into the user's names: parameters become the call's atoms, locals fresh temporaries,
globals the names the generated code reads them by; and it drops ``unbroadcast(g, x)`` where x is
known to have the output's shape.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overbar.errors import RuleDefinitionError
from overbar.runtime.registry import Rule
from overbar.transpiler.names import Transformer, clone, walk_breadth_first
from overbar.transpiler.parse import MISSING


@dataclass(frozen=True)
class Template:
    """A rule function taken apart for inlining."""

    rule: Rule
    output: str
    output_bar: str
    positional: tuple[str, ...]
    body: tuple[ast.stmt, ...]
    returns: tuple[ast.expr | None, ...]
    local_names: frozenset[str]
    global_values: tuple[tuple[str, Any], ...]


_TEMPLATES: dict[Any, Template] = {}


def template_of(rule: Rule) -> Template:
    """The parsed template of ``rule`` (cached per rule function)."""
    key = rule.function
    if key not in _TEMPLATES or _TEMPLATES[key].rule.function is not key:
        _TEMPLATES[key] = _parse_template(rule)
    return _TEMPLATES[key]


def _parse_template(rule: Rule) -> Template:
    function = rule.function
    name = function.__qualname__
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source).body[0]
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise RuleDefinitionError(f"adjoint rule {name} must end with `return <adjoints>`")
    for statement in body[:-1]:
        if not isinstance(statement, ast.Assign) or not all(
            isinstance(n, ast.Name | ast.Tuple) for n in statement.targets
        ):
            raise RuleDefinitionError(
                f"adjoint rule {name}: only assignments and a final return are allowed in a "
                f"rule (line {statement.lineno}: {ast.unparse(statement)})"
            )
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    output = parameters[0].name
    output_bar = output + "_bar"
    positional = tuple(
        p.name
        for p in parameters[1:]
        if p.name != output_bar
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    )
    returned = body[-1].value
    entries = list(returned.elts) if isinstance(returned, ast.Tuple) else [returned]
    if len(entries) > len(positional):
        raise RuleDefinitionError(
            f"adjoint rule {name} returns {len(entries)} adjoints for "
            f"{len(positional)} positional parameters"
        )
    returns = tuple(
        None if isinstance(e, ast.Constant) and e.value is None else e for e in entries
    ) + (None,) * (len(positional) - len(entries))
    local_names = frozenset(
        n.id
        for s in body[:-1]
        for t in s.targets
        for n in walk_breadth_first(t)
        if isinstance(n, ast.Name)
    )
    parameter_names = {p.name for p in parameters}
    read = {
        n.id
        for s in body
        for n in walk_breadth_first(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    global_values = []
    scope_builtins = function.__globals__.get("__builtins__", {})
    scope_builtins = getattr(scope_builtins, "__dict__", scope_builtins)
    for global_name in sorted(read - parameter_names - local_names):
        value = function.__globals__.get(global_name, scope_builtins.get(global_name, MISSING))
        if value is MISSING:
            raise RuleDefinitionError(f"adjoint rule {name} uses undefined name {global_name}")
        global_values.append((global_name, value))
    return Template(
        rule=rule,
        output=output,
        output_bar=output_bar,
        positional=positional,
        body=tuple(body[:-1]),
        returns=returns,
        local_names=local_names,
        global_values=tuple(global_values),
    )


_EXPRESSIONS: dict[Any, tuple[ast.expr, tuple[tuple[str, Any], ...]]] = {}


def expression(function: Any, bind: Callable[[str, Any], str], **arguments: ast.expr) -> ast.expr:
    """The expression that ``function`` (a body of one ``return``) computes, on ``arguments``
    (syntax trees, by parameter name); the globals it reads are named by ``bind(name, value)``."""
    if function not in _EXPRESSIONS:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
        returned = tree.body[-1].value
        parameters = {argument.arg for argument in tree.args.args}
        read = sorted(
            {n.id for n in walk_breadth_first(returned) if isinstance(n, ast.Name)} - parameters
        )
        _EXPRESSIONS[function] = (returned, tuple((n, function.__globals__[n]) for n in read))
    returned, global_values = _EXPRESSIONS[function]
    replacements = dict(arguments)
    for name, value in global_values:
        replacements[name] = ast.Name(id=bind(name, value), ctx=ast.Load())
    return Substitution(replacements, "", []).visit(clone(returned))


class Substitution(Transformer):
    """Rename a rule's names to the user's, and resolve ``unbroadcast`` where shapes are known:
    dropped where the operand has the output's shape, and given to ``summed_to(g, operand)``
    (which answers an expression, or None to keep the call) otherwise."""

    def __init__(
        self,
        replacements: dict[str, ast.expr],
        unbroadcast: str,
        same_shape: list[str],
        summed_to: Callable[[ast.expr, ast.expr], ast.expr | None] | None = None,
    ):
        self.replacements = replacements
        self.unbroadcast = unbroadcast
        self.same_shape = same_shape
        self.summed_to = summed_to

    def visit_Name(self, node: ast.Name) -> ast.expr:
        replacement = self.replacements.get(node.id)
        if replacement is None:
            return node
        if isinstance(node.ctx, ast.Store):
            return ast.Name(id=replacement.id, ctx=ast.Store())
        return clone(replacement)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == self.unbroadcast
            and len(node.args) == 2
        ):
            if ast.dump(node.args[1]) in self.same_shape:
                return node.args[0]
            if self.summed_to is not None:
                resolved = self.summed_to(node.args[0], node.args[1])
                if resolved is not None:
                    return resolved
        return node
