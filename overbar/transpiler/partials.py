"""Calls of a ``functools.partial``: called through to the function it wraps.

A call of a name the function reads from outside itself (a global, a closure variable, or a
parameter a caller binds to a function it passes) whose value is a ``functools.partial``
object is a call of its ``func`` with its bound arguments first and its bound keywords merged
under the call's own. Before and after, for ``fun = partial(mvn.logpdf, allow_singular=False)``
and ``weighted = partial(loss, W)``::

    y = fun(x, mean, cov)          y = logpdf(x, mean, cov, allow_singular=False)
    z = weighted(x)                z = loss(weighted.args[0], x)

Identity: ``partial(f, *a, **k)(*b, **m)`` is ``f(*a, *b, **{**k, **m})`` (Python's own
definition; a partial of a partial is flattened when it is made). Side conditions: the value is
what the partial holds when the function is compiled (its ``func``, ``args`` and ``keywords``
are constants of the specialisation; a partial passed as an argument is part of the key of the
specialisation, so one made again is a new compilation); a bound argument that is a literal (a
bool, None, a string, an int or a float) is written into the call, so that a rule's ``where``
sees it; any other is read from the partial as compiled (``weighted.args[0]``, bound in the
generated code), a constant there, not differentiated. The function is called by its own name
where the function being differentiated reads it by that name, as a module's attribute
(``np.sum``) where it is one, else by a fresh name bound to it; the rule table or the helper's
pullback then applies to it as to any call of it, and a ``func`` with neither is refused as any
call of it would be (``MissingRuleError``, naming it).

Invariant established: no call in the function is of a ``functools.partial`` it reads from
outside itself.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import types
from dataclasses import replace
from typing import Any

from overbar.transpiler.names import NameAllocator, names_in, walk_breadth_first
from overbar.transpiler.parse import MISSING, Namespace, ParsedFunction


def with_partials_called_through(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each call of a ``functools.partial`` it reads from outside itself
    written as a call of the function it wraps (above); unchanged where it has none."""
    local = _local_names(parsed.tree)
    found = [
        (node, value)
        for node in walk_breadth_first(parsed.tree)
        if isinstance(node, ast.Call)
        and isinstance(value := _called(parsed, node.func, local), functools.partial)
    ]
    if not found:
        return parsed
    tree = copy.deepcopy(parsed.tree)
    calls = {
        id(original): copy_node
        for original, copy_node in zip(
            walk_breadth_first(parsed.tree), walk_breadth_first(tree), strict=True
        )
        if isinstance(original, ast.Call)
    }
    namespace = parsed.namespace
    names = NameAllocator(
        set(dir(builtins))
        | names_in(parsed.tree)
        | set(namespace.made)
        | set(namespace.globals)
        | set(namespace.closure)
        | set(namespace.functions)
    )
    made = dict(namespace.made)
    bound: dict[int, str] = {}  # the binding of each value bound already, by its id
    for original, partial in found:
        _call_through(calls[id(original)], partial, names, made, bound, namespace, local)
    namespace = replace(namespace, made=made)
    return replace(parsed, tree=tree, namespace=namespace)


def _local_names(tree: ast.FunctionDef) -> set[str]:
    stored = {
        node.id
        for node in walk_breadth_first(tree)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    parameters = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    return stored | parameters


def _called(parsed: ParsedFunction, node: ast.expr, local: set[str]) -> Any:
    """The value a call's function ``node`` names from outside the function, or ``MISSING``."""
    root = node
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return MISSING
    if root.id in local and root.id not in parsed.namespace.functions:
        return MISSING  # a local variable (a parameter bound to a function is not)
    return parsed.namespace.resolve(node)


def _call_through(
    call: ast.Call,
    partial: functools.partial,
    names: NameAllocator,
    made: dict[str, Any],
    bound: dict[int, str],
    namespace: Namespace,
    local: set[str],
) -> None:
    """``call`` (of ``partial``) made a call of ``partial.func``, in place."""
    function = partial.func
    base = getattr(function, "__name__", "")
    base = base if base.isidentifier() else "partial_func"
    if id(function) not in bound:
        bound[id(function)] = _spelling(function, base, names, made, namespace, local)
    held = _held(call.func, partial, names, made, namespace)
    called = call.func
    call.func = ast.copy_location(ast.parse(bound[id(function)], mode="eval").body, called)
    for node in ast.walk(call.func):
        ast.copy_location(node, called)
    arguments = [
        _argument(value, held, "args", index, call) for index, value in enumerate(partial.args)
    ]
    call.args = [*arguments, *call.args]
    own = {keyword.arg for keyword in call.keywords if keyword.arg is not None}
    keywords = [
        ast.copy_location(
            ast.keyword(arg=key, value=_argument(value, held, "keywords", key, call)), call
        )
        for key, value in partial.keywords.items()
        if key not in own
    ]
    call.keywords = [*keywords, *call.keywords]


def _held(
    called: ast.expr,
    partial: functools.partial,
    names: NameAllocator,
    made: dict[str, Any],
    namespace: Namespace,
) -> ast.expr:
    """What the generated code reads the partial's bound arguments from: the partial as it
    is when compiled, bound by the name the call reads it by (``weighted``), or for a dotted
    name by a fresh one; a parameter bound to it reads the argument itself (the function
    passed is what the adjoint is specialised on)."""
    if isinstance(called, ast.Name) and called.id in namespace.functions:
        return called
    if isinstance(called, ast.Name):
        made[called.id] = partial
        return called
    name = names.fresh(called.attr if isinstance(called, ast.Attribute) else "partial")
    made[name] = partial
    return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), called)


def _spelling(
    function: Any,
    base: str,
    names: NameAllocator,
    made: dict[str, Any],
    namespace: Namespace,
    local: set[str],
) -> str:
    """How the generated code calls ``function``: by its own name where the function reads
    it as that (``scaled_loss``), as an attribute of a module it reads (``np.sum``), or by a
    fresh name bound to it (``logpdf``)."""
    if base not in local and namespace.lookup(base) is function:
        return base
    for name, value in sorted(namespace.globals.items()):
        if (
            isinstance(value, types.ModuleType)
            and name not in local
            and getattr(value, base, None) is function
        ):
            return f"{name}.{base}"
    name = names.fresh(base)
    made[name] = function
    return name


def _argument(value: Any, held: ast.expr, field: str, key: int | str, call: ast.Call) -> ast.expr:
    """A bound argument of a partial as the call passes it: a literal, or read from the
    partial (``weighted.args[0]``, ``weighted.keywords["W"]``)."""
    if value is None or type(value) in (bool, int, float, str):
        return ast.copy_location(ast.Constant(value), call)
    read = ast.Subscript(
        value=ast.Attribute(value=copy.deepcopy(held), attr=field, ctx=ast.Load()),
        slice=ast.Constant(key),
        ctx=ast.Load(),
    )
    return ast.fix_missing_locations(ast.copy_location(read, call))
