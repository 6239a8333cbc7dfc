"""Activity analysis: which values depend on the differentiated inputs and reach the result.

Invariant established: a name is *active* when it is both *varied* (computed, through operations
that carry a gradient, from a ``wrt`` parameter) and *useful* (the result is computed from it
through such operations). Only active names get an adjoint; every other line of the function is
left alone by the reverse sweep.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

from overbar.primitives import Attribute
from overbar.runtime.registry import NON_DIFFERENTIABLE, RuleTable
from overbar.transpiler.fence import is_append, is_pop
from overbar.transpiler.names import names_in, statements_breadth_first, walk_breadth_first
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import Namespace
from overbar.transpiler.primitive import CONSTANT, application_of


@dataclass(frozen=True)
class Activity:
    """The outcome of activity analysis for one choice of ``wrt``."""

    wrt: tuple[str, ...]
    varied: frozenset[str]
    useful: frozenset[str]

    @functools.cached_property
    def active(self) -> frozenset[str]:
        """Varied and useful (computed once: the reverse sweep asks at every line)."""
        return self.varied & self.useful

    def is_active(self, node: ast.expr) -> bool:
        """Whether the atom ``node`` holds an active value (a display: any of its elements)."""
        return any(
            isinstance(n, ast.Name) and n.id in self.varied and n.id in self.useful
            for n in walk_breadth_first(node)
        )


def analyze(
    form: NormalForm,
    wrt: tuple[str, ...],
    namespace: Namespace,
    rules: RuleTable,
    objects: frozenset[str] = frozenset(),
) -> Activity:
    """Compute which names of ``form`` are active with respect to the parameters ``wrt``.

    The analysis is flow-insensitive (a name is active if any of its assignments is), which is
    exact for straight-line code in normal form and safe for branches and loops. Both sets
    are least fixed points, the same whatever order the lines are visited in; visiting them in
    the direction values flow (forward for varied, backward for useful) reaches each in a pass
    or two over straight-line code, instead of one pass per line. ``objects`` are the
    parameters known to be objects of a user's class: their attributes carry gradients
    whatever their names (a model's ``size`` is not an array's).
    """
    assignments = [
        node
        for node in statements_breadth_first(form.tree)
        if isinstance(node, ast.Assign | ast.Return)
    ]
    lines = [_line(node, form, namespace, rules, objects) for node in assignments]
    aliases = _aliases(assignments)
    lines = [  # a write into part of y changes every name holding y's object
        (_with_aliases(targets, aliases), inputs, carries) if _writes_part(node) else line
        for node, line in zip(assignments, lines, strict=True)
        for targets, inputs, carries in [line]
    ]
    restores = _restoring_pops(form.tree)
    varying = [
        line for node, line in zip(assignments, lines, strict=True) if id(node) not in restores
    ]
    for node in statements_breadth_first(form.tree):  # xs.append(v) acts as xs = xs + [v]
        if isinstance(node, ast.Expr) and is_append(node):
            receiver = node.value.func.value.id
            changed_names = _with_aliases([receiver], aliases)
            lines.append((changed_names, [receiver, *names_in(node.value.args[0])], True))
            varying.append(lines[-1])
        elif isinstance(node, ast.Expr) and _is_helper_effect(node.value):
            # generated code's add_at(acc, index, g) acts as acc = f(acc, index, g)
            changed_name = node.value.args[0].id
            lines.append((_with_aliases([changed_name], aliases), names_in(node.value), True))
            varying.append(lines[-1])
    varied = set(wrt)
    changed = True
    while changed:
        size = len(varied)
        for targets, inputs, carries_gradient in varying:
            if targets and carries_gradient and varied.intersection(inputs):
                varied.update(targets)
        changed = len(varied) != size
    useful: set[str] = set()
    changed = True
    while changed:
        size = len(useful)
        for targets, inputs, carries_gradient in reversed(lines):
            returned = targets is None
            if returned or (carries_gradient and useful.intersection(targets)):
                useful.update(inputs)
        changed = len(useful) != size
    return Activity(tuple(wrt), frozenset(varied), frozenset(useful))


def _aliases(assignments: list[ast.stmt]) -> dict[str, set[str]]:
    """The names each name may share its object with: ``a = b`` binds ``a`` to ``b``'s object
    (anywhere in the function: flow-insensitive, as the analysis is), and so on, transitively.
    A write into part of one (``a[J] = v``, ``a.append(v)``, ``add_at(a, ...)``) changes the
    others: in generated code, ``x_bar = own(...)`` then ``g_bar = x_bar`` then
    ``g_bar[J] += v`` in a reverse loop varies ``x_bar`` too, and its tangent must be carried
    (forward over reverse: an HVP through such a loop was silently zero there)."""
    linked: dict[str, set[str]] = {}
    for node in assignments:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Name)
        ):
            a, b = node.targets[0].id, node.value.id
            linked.setdefault(a, {a}).add(b)
            linked.setdefault(b, {b}).add(a)
    classes: dict[str, set[str]] = {}
    for start in linked:
        if start in classes:
            continue
        group, pending = set(), [start]
        while pending:
            name = pending.pop()
            if name not in group:
                group.add(name)
                pending.extend(linked[name])
        for name in group:
            classes[name] = group
    return classes


def _with_aliases(names: list[str], aliases: dict[str, set[str]]) -> list[str]:
    """``names`` and every name that may share an object with one of them."""
    found = list(names)
    for name in names:
        found.extend(sorted(aliases.get(name, set()) - set(found)))
    return found


def _writes_part(statement: ast.stmt) -> bool:
    """``y[J] = v``: a write into part of an array (or list), changing its object."""
    return isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Subscript)


def _restoring_pops(tree: ast.FunctionDef) -> set[int]:
    """The ids of the lines ``N = xs.pop()`` of generated code that pop into a name N pushed
    onto xs (``xs.append(N)``, ``xs.append(shape_of(N))``): by the adjoint generator's
    invariant (``pushes.py``), such a pop gives N back a value N held, so it varies N only if
    N's other bindings do. A pop into any other name (``tmp16 = stack.pop()``) may give any
    value pushed, and varies its target where the list varies. Either makes the list useful
    where N is: its pushed values' tangents are then kept beside it."""
    pushed: dict[str, set[str]] = {}
    for node in statements_breadth_first(tree):  # pushes and pops are statements
        if isinstance(node, ast.Expr) and is_append(node):
            value = node.value.args[0]
            if isinstance(value, ast.Call) and len(value.args) == 1:
                value = value.args[0]  # shape_of(N)
            if isinstance(value, ast.Name):
                pushed.setdefault(node.value.func.value.id, set()).add(value.id)
    if not pushed:
        return set()
    return {
        id(node)
        for node in statements_breadth_first(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and is_pop(node.value)
        and node.targets[0].id in pushed.get(node.value.func.value.id, ())
    }


def _is_helper_effect(call: ast.expr) -> bool:
    """A call made for its effect on its first argument, a name (in generated code only: the
    fence lets no other through but ``print``)."""
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id != "print"
        and bool(call.args)
        and isinstance(call.args[0], ast.Name)
    )


def _line(
    statement: ast.stmt,
    form: NormalForm,
    namespace: Namespace,
    rules: RuleTable,
    objects: frozenset[str] = frozenset(),
) -> tuple[list[str] | None, list[str], bool]:
    """(names assigned, names read, whether a gradient flows from the read to the assigned)."""
    if isinstance(statement, ast.Return):
        return None, names_in(statement.value), True
    target = statement.targets[0]
    if isinstance(target, ast.Subscript):  # y[i] = v acts as y = f(y, v)
        array = target.value.id
        return [array], [array, *names_in(target.slice), *names_in(statement.value)], True
    targets = [n.id for n in walk_breadth_first(target) if isinstance(n, ast.Name)]
    if isinstance(target, ast.Tuple):
        return targets, names_in(statement.value), True
    application = application_of(statement.value, form, namespace)
    receiver = application.positional[0] if application.positional else None
    if (
        isinstance(application.primal, Attribute)
        and isinstance(receiver, ast.Name)
        and receiver.id in objects
    ):
        return targets, application.input_names(), True
    carries = _carries_gradient(application.primal, rules)
    return targets, _differentiable_inputs(application, rules), carries


def _differentiable_inputs(application: Any, rules: RuleTable) -> set[str]:
    """The names the application reads, less those its tangent rules read for their shape
    only (a term ``None`` for that parameter in every tangent rule of the primal: a runtime
    helper's ``x`` in ``unbroadcast(g, x)``), which no derivative flows from."""
    try:
        found = rules.lookup_tangent(application.primal)
    except TypeError:
        found = None
    if not isinstance(found, list):
        return application.input_names()
    # imported here: the tangent rules' module reaches this one through the sweep's state
    from overbar.transpiler.tangent_rules import shape_only_parameters

    shape_only = set.intersection(*(set(shape_only_parameters(rule)) for rule in found))
    if not shape_only:
        return application.input_names()
    try:
        bound = (
            found[0].primal_signature().bind(*application.positional, **dict(application.keywords))
        )
    except TypeError:
        return application.input_names()
    return set().union(
        *(names_in(atom) for p, atom in bound.arguments.items() if p not in shape_only)
    )


def _carries_gradient(primal: Any, rules: RuleTable) -> bool:
    if primal is CONSTANT:
        return False
    try:
        return rules.lookup(primal) is not NON_DIFFERENTIABLE
    except TypeError:
        return True
