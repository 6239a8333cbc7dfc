"""The small syntax-tree builders and queries the forward and reverse sweeps share.

Builders (``load``, ``assign``, ``call``, ...) write the nodes of generated code; queries
(``assigned``, ``is_write``, ...) read the normal form. ``comment`` is a statement that ``emit``
turns into a comment line: ``comment("y = W @ x")`` becomes ``# y = W @ x``.
"""

from __future__ import annotations

import ast

from overbar.transpiler.names import Transformer, clone, walk_breadth_first

COMMENT_MARKER = "__overbar_comment__"


def comment(text: str) -> ast.Expr:
    """A statement that ``emit`` turns into the comment ``# text``."""
    marker = ast.Call(
        func=ast.Name(id=COMMENT_MARKER, ctx=ast.Load()),
        args=[ast.Constant(value=text)],
        keywords=[],
    )
    return ast.Expr(value=marker)


def is_comment(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == COMMENT_MARKER
    )


# -- builders ---------------------------------------------------------------------------------


def load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def store(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[store(name)], value=value)


def call(function: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(func=load(function), args=list(arguments), keywords=[])


def tuple_of(elements: list[ast.expr]) -> ast.Tuple:
    return ast.Tuple(elts=list(elements), ctx=ast.Load())


def method_call(owner: str, method: str, *arguments: ast.expr) -> ast.Call:
    function = ast.Attribute(value=load(owner), attr=method, ctx=ast.Load())
    return ast.Call(func=function, args=list(arguments), keywords=[])


def if_statement(test: ast.expr, body: list, orelse: list, where: ast.stmt) -> ast.If:
    """``if test: body else: orelse`` at the location of ``where`` (an empty body passes)."""
    statement = ast.If(test=clone(test), body=body or [ast.Pass()], orelse=orelse)
    return ast.copy_location(statement, where)


class Rename(Transformer):
    """Replace the name ``old`` by ``new`` wherever it is read."""

    def __init__(self, old: str, new: str):
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return load(self.new) if node.id == self.old else node


# -- queries ----------------------------------------------------------------------------------


def assigned(statement: ast.Assign) -> list[str]:
    """The names ``statement`` binds (a write into ``y[i]`` binds none)."""
    return [
        n.id
        for t in statement.targets
        if not isinstance(t, ast.Subscript)
        for n in walk_breadth_first(t)
        if isinstance(n, ast.Name)
    ]


def is_write(statement: ast.stmt) -> bool:
    """``y[index] = value``: a write into an array."""
    return isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Subscript)


def assigned_within(statement: ast.stmt) -> set[str]:
    """The names bound anywhere in ``statement``, loop targets included."""
    names = set()
    for node in walk_breadth_first(statement):
        if isinstance(node, ast.Assign):
            names.update(assigned(node))
        elif isinstance(node, ast.For):
            names.update(loop_target(node))
    return names


def loop_target(statement: ast.stmt) -> set[str]:
    """The names a for loop binds on each trip (none for anything else)."""
    if isinstance(statement, ast.For):
        return {n.id for n in walk_breadth_first(statement.target) if isinstance(n, ast.Name)}
    return set()


def is_read(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
