"""Differentiate: the forward sweep followed by the reverse sweep, rule by rule.

Invariant established: ``Adjoint.tree`` is a function ``<name>_grad`` with the user's parameters
that runs the normal form (the forward sweep), seeds the result's adjoint, then walks the lines
backwards and, for every line whose output is active, inlines the adjoint rule of its primitive
and adds each contribution into the adjoint ``<input>_bar`` of each active input. The first
contribution is assigned (``x_bar = ...``), later ones added (``x_bar = x_bar + ...``), never in
place. An adjoint never assigned is a symbolic zero: no code is spent on it, and a ``wrt``
parameter that gets none is given ``zero_gradient(x)`` at the end. The function returns
``(result, gradients)``. Each reverse block starts with a comment marker naming the user's line.
"""

from __future__ import annotations

import ast
import copy
import inspect
import linecache
import textwrap
from dataclasses import dataclass
from typing import Any

from overbar.errors import MissingRuleError, RuleDefinitionError, UnsupportedSyntaxError
from overbar.primitives import Attribute, Method, describe
from overbar.runtime import Runtime
from overbar.runtime.registry import NON_DIFFERENTIABLE, Rule
from overbar.transpiler.activity import Activity
from overbar.transpiler.names import NameAllocator
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import MISSING, ParsedFunction
from overbar.transpiler.primitive import (
    CONSTANT,
    ELEMENTWISE_OPERATORS,
    IDENTITY,
    PACK,
    Application,
    application_of,
)

COMMENT_MARKER = "__overbar_comment__"


@dataclass(frozen=True)
class Adjoint:
    """The generated gradient function, before clean-up."""

    tree: ast.FunctionDef
    forward_length: int
    temporaries: frozenset[str]
    bindings: tuple[tuple[str, Any], ...]
    effects: frozenset[str]


def differentiate(
    parsed: ParsedFunction, form: NormalForm, activity: Activity, runtime: Runtime
) -> Adjoint:
    """Build the gradient function of ``form`` with respect to ``activity.wrt``."""
    return _ReverseSweep(parsed, form, activity, runtime).run()


def comment(text: str) -> ast.Expr:
    """A statement that ``emit`` turns into the comment ``# text``."""
    call = ast.Call(
        func=ast.Name(id=COMMENT_MARKER, ctx=ast.Load()),
        args=[ast.Constant(value=text)],
        keywords=[],
    )
    return ast.Expr(value=call)


def is_comment(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == COMMENT_MARKER
    )


# -- rule templates ---------------------------------------------------------------------------


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
        n.id for s in body[:-1] for t in s.targets for n in ast.walk(t) if isinstance(n, ast.Name)
    )
    parameter_names = {p.name for p in parameters}
    read = {
        n.id
        for s in body
        for n in ast.walk(s)
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


# -- the reverse sweep ------------------------------------------------------------------------


class _ReverseSweep:
    def __init__(
        self, parsed: ParsedFunction, form: NormalForm, activity: Activity, runtime: Runtime
    ):
        self.parsed = parsed
        self.form = form
        self.activity = activity
        self.runtime = runtime
        self.names = NameAllocator(form.taken_names | _namespace_names(parsed))
        self.adjoint_names: dict[str, str] = {}
        self.defined: set[str] = set()
        self.reverse: list[ast.stmt] = []
        self.temporaries: set[str] = set(form.temporaries)
        self.bindings: dict[str, Any] = {}
        self.binding_names: dict[int, str] = {}

    # names

    def bar(self, name: str) -> str:
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.names.fresh(f"{name}_bar")
            if name in self.form.temporaries:
                self.temporaries.add(self.adjoint_names[name])
        return self.adjoint_names[name]

    def temporary(self) -> str:
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        return name

    def bind(self, preferred: str, value: Any) -> str:
        """A name under which the generated code can read ``value``."""
        if id(value) in self.binding_names:
            return self.binding_names[id(value)]
        if (
            preferred not in self.form.local_names
            and self.parsed.namespace is not None
            and self.parsed.namespace.lookup(preferred) is value
        ):
            name = preferred
        else:
            name = self.names.fresh(preferred)
            self.bindings[name] = value
        self.names.take(name)
        self.binding_names[id(value)] = name
        return name

    # the sweep

    def run(self) -> Adjoint:
        body = self.form.tree.body
        forward, result = body[:-1], body[-1].value
        seed_name = self.bind("seed", self.runtime.seed)
        result_bar = self.bar(result.id) if isinstance(result, ast.Name) else self.temporary()
        self.reverse.append(_assign(result_bar, _call(seed_name, result)))
        if isinstance(result, ast.Name) and self.activity.is_active(result):
            self.defined.add(result.id)
        line = None
        for statement in reversed(forward):
            if not isinstance(statement, ast.Assign):
                continue
            if statement.lineno != line:
                line = statement.lineno
                self.reverse.append(comment(self.source_line(statement)))
            self.reverse_line(statement)
        gradients = []
        for name in self.activity.wrt:
            if name not in self.defined:
                zero = self.bind("zero_gradient", self.runtime.zero_gradient)
                self.reverse.append(_assign(self.bar(name), _call(zero, _load(name))))
            gradients.append(_load(self.bar(name)))
        returned = gradients[0] if len(gradients) == 1 else _tuple(gradients)
        self.reverse.append(ast.Return(value=_tuple([result, returned])))
        tree = ast.FunctionDef(
            name=self.names.fresh(f"{self.form.tree.name}_grad"),
            args=copy.deepcopy(self.form.tree.args),
            body=[*forward, *self.reverse],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        ast.copy_location(tree, self.form.tree)
        return Adjoint(
            tree=ast.fix_missing_locations(tree),
            forward_length=len(forward),
            temporaries=frozenset(self.temporaries),
            bindings=tuple(sorted(self.bindings.items())),
            effects=frozenset({seed_name}),
        )

    def source_line(self, statement: ast.stmt) -> str:
        text = linecache.getline(self.parsed.filename, statement.lineno).strip()
        return text or ast.unparse(statement)

    def reverse_line(self, statement: ast.Assign) -> None:
        target = statement.targets[0]
        outputs = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        live = [name for name in outputs if name in self.activity.active]
        if not live or not any(name in self.defined for name in live):
            return
        if isinstance(target, ast.Tuple):
            raise self.unsupported(
                statement, "unpacking a differentiated value into several names"
            )
        output = target.id
        application = application_of(statement.value, self.form, self.parsed.namespace)
        if application.primal is IDENTITY:
            self.accumulate(application.positional[0], _load(self.bar(output)))
        elif application.primal is PACK:
            raise self.unsupported(
                statement,
                "a tuple or list of differentiated values assigned to a name",
                "pass the display straight to the function, as in np.stack([a, b])",
            )
        elif application.primal is not CONSTANT:
            self.apply_rule(output, application)

    def apply_rule(self, output: str, application: Application) -> None:
        template, bound = self.choose_rule(application)
        statements, entries = self.inline(template, bound, output, application)
        self.reverse.extend(statements)
        for parameter, entry in zip(template.positional, entries, strict=True):
            argument = bound[parameter]
            if not self.activity.is_active(argument):
                continue
            if entry is None:
                raise MissingRuleError(
                    f"the adjoint rule for {application.description} "
                    f"({template.rule.function.__qualname__}) gives no gradient for its "
                    f"argument {parameter}, which depends on "
                    f"{', '.join(self.activity.wrt)} here; register a rule that does with "
                    "@overbar.adjoint",
                    self.parsed.location(application.node),
                )
            self.accumulate(argument, entry)

    def choose_rule(self, application: Application) -> tuple[Template, dict[str, ast.expr]]:
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
                name: _as_atom(value, self.parsed, application)
                for name, value in bound.arguments.items()
            }
            if all(_matches(arguments[key], expected) for key, expected in rule.where):
                return template_of(rule), arguments
            errors.append(
                "applies only where "
                + ", ".join(f"{key}={expected!r}" for key, expected in rule.where)
            )
        raise MissingRuleError(
            f"no adjoint rule of {application.description} fits this call ("
            + "; ".join(errors)
            + "); pass the arguments the rule supports, or register a rule with "
            "@overbar.adjoint",
            self.parsed.location(application.node),
        )

    def rules_for(self, application: Application) -> list[Rule]:
        primal = application.primal
        node = application.node
        if primal is MISSING:
            raise MissingRuleError(
                f"{application.description} is not defined where {self.form.tree.name} "
                "can see it",
                self.parsed.location(node),
            )
        try:
            found = self.runtime.rules.lookup(primal)
        except TypeError:
            found = None
        if found is NON_DIFFERENTIABLE:  # activity analysis keeps these inactive
            raise MissingRuleError(
                f"{application.description} has no gradient", self.parsed.location(node)
            )
        if found:
            return found
        name = application.description
        if isinstance(primal, Method | Attribute):
            kind = "method" if isinstance(primal, Method) else "attribute"
            advice = (
                f"overbar has no adjoint rule for the array {kind} "
                f"{primal} on a differentiated value; use the NumPy function instead, or "
                f"register a rule with @overbar.adjoint(overbar.{type(primal).__name__}"
                f"({primal.name!r}))"
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
            f"cannot differentiate the call of {name}: {advice}", self.parsed.location(node)
        )

    def inline(
        self,
        template: Template,
        bound: dict[str, ast.expr],
        output: str,
        application: Application,
    ) -> tuple[list[ast.stmt], list[ast.expr | None]]:
        replacements: dict[str, ast.expr] = {
            template.output: _load(output),
            template.output_bar: _load(self.bar(output)),
            **bound,
        }
        for local in sorted(template.local_names):
            replacements[local] = _load(self.temporary())
        for name, value in template.global_values:
            replacements[name] = _load(self.bind(name, value))
        same_shape = _operands_shaped_like_output(application)
        substitute = _Substitution(
            replacements, self.bind("unbroadcast", self.runtime.unbroadcast), same_shape
        )
        statements = [substitute.visit(copy.deepcopy(s)) for s in template.body]
        entries = [
            None if entry is None else substitute.visit(copy.deepcopy(entry))
            for entry in template.returns
        ]
        return statements, entries

    def accumulate(self, argument: ast.expr, contribution: ast.expr) -> None:
        if isinstance(argument, ast.Name):
            self.add_to(argument.id, contribution)
            return
        if not isinstance(argument, ast.Tuple | ast.List):
            raise UnsupportedSyntaxError(
                f"overbar cannot send a gradient into {ast.unparse(argument)}",
                self.parsed.location(argument),
            )
        if isinstance(contribution, ast.Tuple) and len(contribution.elts) == len(argument.elts):
            parts = contribution.elts
        else:
            names = [self.temporary() for _ in argument.elts]
            target = ast.Tuple(elts=[_store(n) for n in names], ctx=ast.Store())
            self.reverse.append(ast.Assign(targets=[target], value=contribution))
            parts = [_load(n) for n in names]
        for element, part in zip(argument.elts, parts, strict=True):
            if self.activity.is_active(element):
                self.accumulate(element, part)

    def add_to(self, name: str, contribution: ast.expr) -> None:
        adjoint = self.bar(name)
        if name in self.defined:
            contribution = ast.BinOp(left=_load(adjoint), op=ast.Add(), right=contribution)
        self.defined.add(name)
        self.reverse.append(_assign(adjoint, contribution))

    def unsupported(
        self, statement: ast.stmt, what: str, advice: str = "it is not supported yet"
    ) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} in {self.form.tree.name}: {advice}",
            self.parsed.location(statement.value),
        )


class _Substitution(ast.NodeTransformer):
    """Rename a rule's names to the user's, and drop ``unbroadcast`` where shapes agree."""

    def __init__(self, replacements: dict[str, ast.expr], unbroadcast: str, same_shape: list[str]):
        self.replacements = replacements
        self.unbroadcast = unbroadcast
        self.same_shape = same_shape

    def visit_Name(self, node: ast.Name) -> ast.expr:
        replacement = self.replacements.get(node.id)
        if replacement is None:
            return node
        if isinstance(node.ctx, ast.Store):
            return _store(replacement.id)
        return copy.deepcopy(replacement)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == self.unbroadcast
            and len(node.args) == 2
            and ast.dump(node.args[1]) in self.same_shape
        ):
            return node.args[0]
        return node


def _operands_shaped_like_output(application: Application) -> list[str]:
    """Operands known to have the output's shape: the array operand of ``x * 2.0`` and the like."""
    if application.primal not in ELEMENTWISE_OPERATORS:
        return []
    operands = application.positional
    shaped = []
    for index, operand in enumerate(operands):
        others = operands[:index] + operands[index + 1 :]
        if all(_is_number(other) for other in others):
            shaped.append(ast.dump(operand))
    return shaped


def _is_number(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _as_atom(value: Any, parsed: ParsedFunction, application: Application) -> ast.expr:
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
    return isinstance(atom, ast.Constant) and (
        atom.value is expected if expected is None else atom.value == expected
    )


def _namespace_names(parsed: ParsedFunction) -> set[str]:
    namespace = parsed.namespace
    if namespace is None:
        return set()
    return set(namespace.closure)


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _store(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[_store(name)], value=value)


def _call(function: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(func=_load(function), args=list(arguments), keywords=[])


def _tuple(elements: list[ast.expr]) -> ast.Tuple:
    return ast.Tuple(elts=list(elements), ctx=ast.Load())
