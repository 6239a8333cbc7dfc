"""Imports inside the function: ``from scipy.special import gammaln`` in the body becomes a name
of the function's namespace, bound when overbar reads the function.

An import statement binds a name to a module or to an attribute of one; importing it again
gives the same object (Python keeps each module once, in ``sys.modules``). So where the import
is a statement at the top level of the body, before any read of the names it binds, and no
other statement binds those names, every read of them in the function sees the object the
import gives now: this pass imports it, binds the names in the namespace (``Namespace.made``,
bound in the generated code as a nested function's lift is) and removes the statement.
Before and after::

    def f(beta, X, y):                          def f(beta, X, y):
        from scipy.special import gammaln           mu = np.exp(X @ beta)
        mu = np.exp(X @ beta)                       return np.sum(gammaln(y + mu))
        return np.sum(gammaln(y + mu))          (gammaln: scipy.special.gammaln)

Left in place, for the fence to refuse at the user's line: an import in a branch, a loop or a
nested block (it may not run), one whose names are bound elsewhere in the
function or read before it, and one that fails (the function itself would fail there).

Invariant established: no import statement at the top level of the body binds a name that the
function binds otherwise or reads before it.
"""

from __future__ import annotations

import ast
import copy
import importlib
import types
from typing import Any

_FAILED = object()


def without_local_imports(
    tree: ast.FunctionDef, function: types.FunctionType
) -> tuple[ast.FunctionDef, dict[str, Any]]:
    """``tree`` without the imports this pass lifts (above), and the names they bind with the
    objects they bind them to; ``tree`` itself and ``{}`` where it lifts none."""
    if not any(isinstance(s, ast.Import | ast.ImportFrom) for s in tree.body):
        return tree, {}
    package = function.__globals__.get("__package__") or None
    bound_elsewhere = _bindings(tree)
    lifted: dict[str, Any] = {}
    removed: set[int] = set()
    for position, statement in enumerate(tree.body):
        if not isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        names = _imported(statement, package)
        if names is None or any(value is _FAILED for value in names.values()):
            continue
        read_before = _reads(tree.body[:position])
        if any(bound_elsewhere.get(name, 0) > 1 or name in read_before for name in names):
            continue
        lifted.update(names)
        removed.add(position)
    if not removed:
        return tree, {}
    tree = copy.copy(tree)
    tree.body = [s for position, s in enumerate(tree.body) if position not in removed]
    if not tree.body:
        tree.body = [ast.copy_location(ast.Pass(), tree)]
    return tree, lifted


def _imported(statement: ast.Import | ast.ImportFrom, package: str | None) -> dict | None:
    """The names ``statement`` binds and their objects (``_FAILED`` where the import fails);
    None for ``from m import *`` (which Python allows only at module level)."""
    found: dict[str, Any] = {}
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            module = _module(alias.name, package)
            if alias.asname is not None:
                found[alias.asname] = module
            else:  # import a.b.c binds a, the package at the top
                top = alias.name.split(".")[0]
                found[top] = _FAILED if module is _FAILED else _module(top, package)
        return found
    if any(alias.name == "*" for alias in statement.names):
        return None
    source = "." * statement.level + (statement.module or "")
    module = _module(source, package)
    for alias in statement.names:
        name = alias.asname or alias.name
        if module is _FAILED:
            found[name] = _FAILED
            continue
        value = getattr(module, alias.name, _FAILED)
        if value is _FAILED:  # from package import submodule
            value = _module(f"{source}.{alias.name}", package)
        found[name] = value
    return found


def _module(name: str, package: str | None) -> Any:
    try:
        return importlib.import_module(name, package if name.startswith(".") else None)
    except (ImportError, TypeError, ValueError):
        return _FAILED


def _bindings(tree: ast.FunctionDef) -> dict[str, int]:
    """How many times each name is bound in ``tree``: by assignment, deletion, a loop or
    comprehension target, a def or class, an import, or as a parameter."""
    counts: dict[str, int] = {}

    def bind(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for argument in ast.walk(tree.args):
        if isinstance(argument, ast.arg):
            bind(argument.arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bind(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node is not tree:
                bind(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bind(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                bind(name)
                bind(name)  # a global name is the module's: never lifted
    return counts


def _reads(statements: list[ast.stmt]) -> set[str]:
    return {
        node.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
