"""Parse: a function object becomes its syntax tree, with where it came from and what it sees.

Invariant established: ``ParsedFunction.tree`` is the function's ``def`` with decorators removed,
and its line and column numbers are those of the user's file, so any later error can point at
the user's own line. ``Namespace`` resolves the names the function reads from its globals,
closure and builtins, without copying them.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overbar.errors import OverbarError, SourceLocation

_MISSING = object()


@dataclass(frozen=True)
class Namespace:
    """The names a function reads from outside itself: globals, closure cells and builtins."""

    globals: Mapping[str, Any]
    closure: Mapping[str, types.CellType]
    builtins: Mapping[str, Any]

    def lookup(self, name: str) -> Any:
        """The value ``name`` has for the function now, or ``MISSING`` if it is unbound."""
        if name in self.closure:
            try:
                return self.closure[name].cell_contents
            except ValueError:
                return _MISSING
        if name in self.globals:
            return self.globals[name]
        return self.builtins.get(name, _MISSING)

    def resolve(self, node: ast.expr) -> Any:
        """The object a dotted name such as ``np.linalg.inv`` refers to, or ``MISSING``."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            if owner is _MISSING:
                return _MISSING
            return getattr(owner, node.attr, _MISSING)
        return _MISSING


MISSING = _MISSING


@dataclass(frozen=True)
class ParsedFunction:
    """A user function as overbar sees it."""

    function: types.FunctionType
    tree: ast.FunctionDef
    filename: str
    namespace: Namespace

    @property
    def name(self) -> str:
        return self.tree.name

    def location(self, node: ast.AST) -> SourceLocation:
        """Where ``node`` is in the user's file, with the text of its line."""
        line = getattr(node, "lineno", self.tree.lineno)
        column = getattr(node, "col_offset", 0)
        end_column = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", line) != line:
            end_column = None
        text = linecache.getline(self.filename, line)
        return SourceLocation(self.filename, line, column, end_column, text)


def parse(function: Any) -> ParsedFunction:
    """Read ``function``'s source and resolve the namespace it runs in."""
    if hasattr(function, "__overbar_transform__"):
        raise OverbarError(
            "overbar cannot differentiate a function returned by overbar.grad "
            "(higher-order derivatives are not supported yet)"
        )
    if not isinstance(function, types.FunctionType):
        raise OverbarError(
            f"overbar differentiates Python functions defined with def, not {function!r}"
        )
    if function.__name__ == "<lambda>":
        raise OverbarError("overbar cannot differentiate a lambda; define it with def")
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError) as error:
        raise OverbarError(
            f"cannot read the source of {function.__qualname__} ({error}); overbar "
            "differentiates functions defined in a file"
        ) from None
    filename = inspect.getsourcefile(function) or function.__code__.co_filename
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_width(text) - _indent_width(dedented)
    module = ast.parse(dedented)
    tree = module.body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise OverbarError(f"{function.__qualname__} is not defined by a plain def")
    ast.increment_lineno(tree, first_line - 1)
    for node in ast.walk(tree):
        if hasattr(node, "col_offset"):
            node.col_offset += indent
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset += indent
    tree.decorator_list = []
    closure = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    scope_builtins = function.__globals__.get("__builtins__", builtins)
    if isinstance(scope_builtins, types.ModuleType):
        scope_builtins = vars(scope_builtins)
    namespace = Namespace(function.__globals__, closure, scope_builtins)
    return ParsedFunction(function, tree, filename, namespace)


def _indent_width(text: str) -> int:
    first = text.splitlines()[0] if text else ""
    return len(first) - len(first.lstrip())
