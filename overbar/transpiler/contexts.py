"""Contexts that change no value: ``with np.errstate(...)``, ``with np.printoptions(...)``,
``with warnings.catch_warnings(...)`` around differentiated lines.

Such a context changes how floating-point errors are reported (ignored, warned, raised) or how
arrays print, never a value. So its body is differentiated as if the ``with`` were not there
(``with_contexts_lifted``: the body takes the statement's place, and the context is kept with
the lines it covered, ``ParsedFunction.contexts``), and the generated code runs every line
that comes from those lines, the forward sweep's and the reverse sweep's, under the same
context (``under_contexts``): a user who silences divide warnings for ``np.log(x)`` silences
them for its adjoint ``x̄ += ȳ / x`` too. Before and after::

    def f(x):                                 def f_grad(x):
        with np.errstate(divide="ignore"):        with np.errstate(divide="ignore"):
            y = np.log(x)                             y = np.log(x)
        return np.sum(y)                          result = np.sum(y)
                                                  y_bar = ...
                                                  with np.errstate(divide="ignore"):
                                                      # y = np.log(x)
                                                      x_bar = y_bar / x

Identity: the context changes no value its lines compute, so the derivative of the body under
it is the body's. Side conditions, each checked (any other ``with`` stays, and the fence refuses
it at its line): each item is a call of ``np.errstate``, ``np.printoptions`` or
``warnings.catch_warnings`` by a global name, whose arguments are literals (so that the context
can be entered again, the same, for the reverse sweep), bound to no name (``as``). A generated
line is known to come from a covered line by its line number: the forward lines keep the user's
(and a helper inlined at a call, the call's), and the reverse sweep gives its lines the line of
the statement they undo. Lines the optimiser makes from several (or a helper's own pullback)
may run outside the context: that changes what is reported, never a value.
"""

from __future__ import annotations

import ast
import copy
import warnings
from dataclasses import replace

import numpy as np

from overbar.transpiler.parse import MISSING, ParsedFunction

_CONTEXTS = (np.errstate, np.printoptions, warnings.catch_warnings)
_BLOCKS = ("body", "orelse", "finalbody")


def with_contexts_lifted(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each ``with`` of contexts that change no value replaced by its body, and
    the contexts kept with the lines they cover; unchanged where there is none."""
    if not any(isinstance(node, ast.With) for node in ast.walk(parsed.tree)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    local = _local_names(tree)
    found: list[tuple[tuple[str, ...], int, int]] = []

    def lifted(block: list[ast.stmt]) -> list[ast.stmt]:
        result = []
        for statement in block:
            for field in _BLOCKS:
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, lifted(inner))
            if isinstance(statement, ast.With) and all(
                _changes_no_value(item, parsed, local) for item in statement.items
            ):
                items = tuple(ast.unparse(item.context_expr) for item in statement.items)
                found.append((items, statement.body[0].lineno, statement.end_lineno))
                result.extend(statement.body)
            else:
                result.append(statement)
        return result

    tree.body = lifted(tree.body)
    if not found:
        return parsed
    return replace(parsed, tree=tree, contexts=(*parsed.contexts, *found))


def _changes_no_value(item: ast.withitem, parsed: ParsedFunction, local: set[str]) -> bool:
    call = item.context_expr
    if item.optional_vars is not None or not isinstance(call, ast.Call):
        return False
    root = call.func
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name) or root.id in local:
        return False
    made_by = parsed.namespace.resolve(call.func)
    if made_by is MISSING or not any(made_by is known for known in _CONTEXTS):
        return False
    arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
    return all(keyword.arg is not None for keyword in call.keywords) and all(
        _is_literal(argument) for argument in arguments
    )


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _local_names(tree: ast.FunctionDef) -> set[str]:
    found = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    found |= {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
    }
    return found


def under_contexts(tree: ast.FunctionDef, contexts: tuple) -> ast.FunctionDef:
    """``tree`` (generated code) with each run of statements that come from lines a context
    covered inside a ``with`` of it (statements that come from no known line stay in the run
    they are in); the tree itself where there are no contexts."""
    if not contexts:
        return tree
    tree = copy.deepcopy(tree)
    tree.body = _wrapped(tree.body, (), contexts)
    return tree


def _contexts_at(line: int | None, contexts: tuple) -> tuple[str, ...] | None:
    """The items of every context covering ``line``, outermost first (None: no line)."""
    if line is None:
        return None
    covering = sorted(
        (context for context in contexts if context[1] <= line <= context[2]),
        key=lambda context: (context[1], -context[2]),
    )
    return tuple(item for items, _, _ in covering for item in items)


def _wrapped(block: list[ast.stmt], active: tuple[str, ...], contexts: tuple) -> list[ast.stmt]:
    groups: list[tuple[tuple[str, ...], list[ast.stmt]]] = []
    for statement in block:
        key = _contexts_at(getattr(statement, "lineno", None), contexts)
        if key is None:
            key = groups[-1][0] if groups else active
        elif not (len(key) > len(active) and key[: len(active)] == active):
            key = active
        if groups and groups[-1][0] == key:
            groups[-1][1].append(statement)
        else:
            groups.append((key, [statement]))
    result: list[ast.stmt] = []
    for key, statements in groups:
        for statement in statements:
            for field in _BLOCKS:
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, _wrapped(inner, key, contexts))
        if key == active:
            result.extend(statements)
            continue
        items = [
            ast.withitem(context_expr=ast.parse(item, mode="eval").body)
            for item in key[len(active) :]
        ]
        result.append(ast.With(items=items, body=statements))
    return result
