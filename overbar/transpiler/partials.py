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


# -- a partial made in the function and bound to a name ------------------------------------


def with_local_partials_called_through(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each ``functools.partial`` it makes and binds to a local name, and
    only calls, written out at its calls. Before and after::

        step = partial(rnn_step, W=W, U=U)       (the line removed: W and U are parameters
        for x in xs:                              never bound again)
            h = step(h, x)                       for x in xs:
                                                     h = rnn_step(h, x, W=W, U=U)

    Identity: ``partial(f, *a, **k)(*b, **m)`` is ``f(*a, *b, **{**k, **m})``, with ``a``
    and ``k`` the values they had when the partial was made. Side conditions, each checked (a
    partial that fails one is left as it is, and its call refused as a call of a local
    variable): the binding is a statement of the body itself (not in a branch or a loop),
    ``functools.partial`` called by a global path with a function named by a global path (or
    a function defined in the body) and no ``*`` or ``**`` arguments; the name is bound
    nowhere else and only called, each call after the binding and with no ``**`` argument.
    A bound value that is a literal, or a name bound nowhere in the function (a parameter
    never bound again, a global), is written at each call; any other is bound to a fresh
    name where the partial was made (``step_W = W * 2``), so that the calls read the value
    it had then.
    """
    tree = parsed.tree
    local = _local_names(tree)
    stored: dict[str, int] = {}
    for node in walk_breadth_first(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stored[node.id] = stored.get(node.id, 0) + 1
    found = []
    for index, statement in enumerate(tree.body):
        made = _local_partial(parsed, statement, local, stored)
        if made is not None and _only_called_after(tree.body, index, made[0]):
            found.append((index, *made))
    if not found:
        return parsed
    tree = copy.deepcopy(tree)
    names = NameAllocator(names_in(tree) | set(parsed.namespace.made))
    parameters = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    replaced: dict[int, list[ast.stmt]] = {}
    writers = {}
    for index, name, call in found:
        bindings: list[ast.stmt] = []
        fixed = _Fixed(name, call, bindings, names, stored, local, parameters)
        arguments = [fixed.value(a, str(i)) for i, a in enumerate(call.args[1:])]
        keywords = [(k.arg, fixed.value(k.value, k.arg)) for k in call.keywords]
        replaced[index] = [ast.fix_missing_locations(b) for b in bindings]
        writers[name] = (call.args[0], arguments, keywords)
    body: list[ast.stmt] = []
    for index, statement in enumerate(tree.body):
        if index in replaced:
            body.extend(replaced[index])
            continue
        for node in walk_breadth_first(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in writers
            ):
                function, arguments, keywords = writers[node.func.id]
                own = {k.arg for k in node.keywords}
                node.func = ast.copy_location(copy.deepcopy(function), node.func)
                node.args = [*copy.deepcopy(arguments), *node.args]
                node.keywords = [
                    ast.keyword(arg=key, value=copy.deepcopy(value))
                    for key, value in keywords
                    if key not in own
                ] + node.keywords
                for inner in walk_breadth_first(node):
                    if "lineno" in inner._attributes and not hasattr(inner, "lineno"):
                        ast.copy_location(inner, node)
        body.append(statement)
    tree.body = body
    return replace(parsed, tree=tree)


class _Fixed:
    """The bound values of one partial as its calls pass them: a literal, or a name whose
    value never changes in the function, as it is; any other bound to a fresh name where
    the partial is made (appended to ``bindings``)."""

    def __init__(self, name, call, bindings, names, stored, local, parameters):
        self.name, self.call, self.bindings, self.names = name, call, bindings, names
        self.stored, self.local, self.parameters = stored, local, parameters

    def value(self, value: ast.expr, label: str) -> ast.expr:
        if isinstance(value, ast.Constant) or (
            isinstance(value, ast.Name)
            and value.id not in self.stored
            and (value.id in self.parameters or value.id not in self.local)
        ):
            return value
        fresh = self.names.fresh(f"{self.name}_{label}")
        binding = ast.Assign([ast.Name(fresh, ast.Store())], value)
        self.bindings.append(ast.copy_location(binding, self.call))
        return ast.Name(fresh, ast.Load())


def _local_partial(
    parsed: ParsedFunction, statement: ast.stmt, local: set[str], stored: dict[str, int]
) -> tuple[str, ast.Call] | None:
    """``(name, call)`` for ``name = functools.partial(f, ...)`` as the side conditions above
    allow it; None otherwise."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
    ):
        return None
    name, call = statement.targets[0].id, statement.value
    if stored.get(name) != 1 or _called(parsed, call.func, local) is not functools.partial:
        return None
    if not call.args or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if any(k.arg is None for k in call.keywords):
        return None
    function = call.args[0]
    root = function
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name) or root.id in stored:
        return None  # a function held by a local variable
    return name, call


def _only_called_after(body: list[ast.stmt], index: int, name: str) -> bool:
    """Whether ``name`` is read only as the function of calls with no ``**`` argument, in
    the statements after ``body[index]``."""
    for position, statement in enumerate(body):
        reads = [
            node
            for node in walk_breadth_first(statement)
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        ]
        if not reads:
            continue
        if position <= index:
            return False
        calls = [
            node
            for node in walk_breadth_first(statement)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == name
            and all(k.arg is not None for k in node.keywords)
        ]
        if len(calls) != len(reads):
            return False
    return True
