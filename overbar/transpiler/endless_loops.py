"""A function that ends in a loop only a return leaves: ``while True:`` with a return inside and
no break of its own (Newton's method, a fixed point iterated to a tolerance).

Such a loop never falls through, so the function needs no return after it, and Python's
programmers write none; overbar's passes expect every path to end in a return (``fence.py``).
This pass appends one after the loop, ``return <the value of the loop's last return>``, which
no run reaches: the loop is left only by its returns (or an exception). Before and after::

    def f(a):                                   def f(a):
        x = a                                       x = a
        while True:                                 while True:
            x_new = 0.5 * (x + a / x)                   x_new = 0.5 * (x + a / x)
            if abs(x_new - x) < 1e-10:                  if abs(x_new - x) < 1e-10:
                return x_new                                return x_new
            x = x_new                                   x = x_new
                                                    return x_new

The same is done in each branch of a final ``if``. Left as they are (the fence then refuses a
function without a final return): a loop whose test is not a constant that is true, one with
a break of its own or an ``else``, and one with no return inside.

Invariant established: a function whose every path ends in a return or in such a loop ends
every path in a return.
"""

from __future__ import annotations

import ast
import copy


def with_final_returns(tree: ast.FunctionDef) -> ast.FunctionDef:
    """``tree`` with a return after each final loop that only a return leaves (above);
    ``tree`` itself where there is none."""
    body = _ended(tree.body)
    if body is tree.body:
        return tree
    tree = copy.copy(tree)
    tree.body = body
    return tree


def _ended(body: list[ast.stmt]) -> list[ast.stmt]:
    if not body:
        return body
    last = body[-1]
    if isinstance(last, ast.If):
        then, otherwise = _ended(last.body), _ended(last.orelse)
        if then is last.body and otherwise is last.orelse:
            return body
        changed = copy.copy(last)
        changed.body, changed.orelse = then, otherwise
        return [*body[:-1], changed]
    if not _is_endless(last):
        return body
    returns = [node for node in _own_nodes(last.body) if isinstance(node, ast.Return)]
    if not returns or returns[-1].value is None:
        return body
    final = ast.Return(value=copy.deepcopy(returns[-1].value))
    ast.copy_location(final, returns[-1])
    return [*body, final]


def _is_endless(statement: ast.stmt) -> bool:
    """``while <a true constant>:`` with no else and no break of its own."""
    return (
        isinstance(statement, ast.While)
        and isinstance(statement.test, ast.Constant)
        and bool(statement.test.value)
        and not statement.orelse
        and not any(isinstance(node, ast.Break) for node in _own_nodes(statement.body))
    )


def _own_nodes(statements: list[ast.stmt]):
    """The statements of ``statements`` and of their blocks, but not of inner loops' bodies
    (a break there is the inner loop's) nor of nested definitions; returns in an inner loop
    are the function's, and are found."""
    pending = list(statements)
    while pending:
        node = pending.pop(0)
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.For | ast.While):
            pending.extend(n for n in ast.walk(node) if isinstance(n, ast.Return))
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            pending.extend(getattr(node, field, []) or [])
