"""Jumps: returns inside branches and loops, ``break`` and ``continue``, rewritten into
straight control flow, before a function is normalised (see ``normalize.py``).

``lift_returns`` moves the code after an ``if`` that returns on some path into the paths that
do not. ``without_jumps`` turns a return inside a loop into a stored value, a flag and breaks;
``continue`` into a flag under which the rest of the iteration runs; ``break`` into a flag the
loop condition reads (a ``for`` loop over a range with a ``break`` becomes a ``while`` loop).

>>> from overbar.transpiler.names import names_in
>>> tree = ast.parse('''
... def f(x, n):
...     for i in range(n):
...         if i > 2:
...             break
...         x = x * 2
...     return x
... ''').body[0]
>>> print(ast.unparse(without_jumps(tree, NameAllocator(names_in(tree)))))
def f(x, n):
    stop = False
    steps = range(n)
    step = 0
    while False if stop else step < len(steps):
        i = steps[step]
        step = step + 1
        skip = False
        if i > 2:
            skip = True
            stop = True
        if not skip:
            x = x * 2
    return x
"""

from __future__ import annotations

import ast

from overbar.errors import InternalError
from overbar.transpiler.fence import always_returns
from overbar.transpiler.names import (
    NameAllocator,
    clone,
    fix_missing_locations,
    statements_breadth_first,
    walk_breadth_first,
)


def lift_returns(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Move the code after an ``if`` that returns on some path into the paths that do not.

    Afterwards a return is the last statement of every path, so each can become an assignment
    of the result.
    """
    for index, statement in enumerate(statements):
        if isinstance(statement, ast.If) and any(
            isinstance(node, ast.Return) for node in statements_breadth_first(statement)
        ):
            rest = statements[index + 1 :]
            body = statement.body if always_returns(statement.body) else statement.body + rest
            orelse = (
                statement.orelse if always_returns(statement.orelse) else statement.orelse + rest
            )
            lifted = ast.If(
                test=statement.test, body=lift_returns(body), orelse=lift_returns(orelse)
            )
            return [*statements[:index], ast.copy_location(lifted, statement)]
    return statements


def without_jumps(tree: ast.FunctionDef, names: NameAllocator) -> ast.FunctionDef:
    """``tree`` with every return inside a loop, break and continue replaced by flags (see the
    module docstring)."""
    jumps = any(isinstance(n, ast.Break | ast.Continue) for n in statements_breadth_first(tree))
    if not jumps and not _returns_in_loops(tree.body):
        return tree
    tree = clone(tree)
    if _returns_in_loops(tree.body):
        returned, value = names.fresh("returned"), names.fresh("returned_value")
        start = [
            ast.Assign(
                targets=[ast.Name(id=returned, ctx=ast.Store())], value=ast.Constant(False)
            ),
            ast.Assign(targets=[ast.Name(id=value, ctx=ast.Store())], value=ast.Constant(None)),
        ]
        for statement in start:
            fix_missing_locations(ast.copy_location(statement, tree.body[0]))
        tree.body = start + _returns_as_breaks(tree.body, returned, value, in_loop=False)
    tree.body = _rewrite_loops(tree.body, names)
    return tree


def _returns_in_loops(statements: list[ast.stmt]) -> bool:
    return any(
        isinstance(loop, ast.For | ast.While)
        and any(isinstance(n, ast.Return) for n in statements_breadth_first(loop))
        for statement in statements
        for loop in statements_breadth_first(statement)
    )


def _returns_as_breaks(
    statements: list[ast.stmt], returned: str, value: str, in_loop: bool
) -> list[ast.stmt]:
    """A return inside a loop becomes ``returned_value = e; returned = True; break``; after a
    loop that may have returned, ``if returned: break`` inside another loop, or
    ``if returned: return returned_value`` outside any."""

    def at(node: ast.stmt, where: ast.stmt) -> ast.stmt:
        return fix_missing_locations(ast.copy_location(node, where))

    out: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, ast.Return) and in_loop:
            out += [
                at(
                    ast.Assign(
                        targets=[ast.Name(id=value, ctx=ast.Store())], value=statement.value
                    ),
                    statement,
                ),
                at(
                    ast.Assign(
                        targets=[ast.Name(id=returned, ctx=ast.Store())], value=ast.Constant(True)
                    ),
                    statement,
                ),
                at(ast.Break(), statement),
            ]
            continue
        if isinstance(statement, ast.If):
            statement.body = _returns_as_breaks(statement.body, returned, value, in_loop)
            statement.orelse = _returns_as_breaks(statement.orelse, returned, value, in_loop)
            out.append(statement)
            continue
        if isinstance(statement, ast.For | ast.While) and _returns_in_loops([statement]):
            statement.body = _returns_as_breaks(statement.body, returned, value, in_loop=True)
            out.append(statement)
            exit_: ast.stmt = (
                ast.Break() if in_loop else ast.Return(value=ast.Name(id=value, ctx=ast.Load()))
            )
            test = ast.Name(id=returned, ctx=ast.Load())
            out.append(at(ast.If(test=test, body=[at(exit_, statement)], orelse=[]), statement))
            continue
        out.append(statement)
    return out


def _rewrite_loops(statements: list[ast.stmt], names: NameAllocator) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, ast.If):
            statement.body = _rewrite_loops(statement.body, names)
            statement.orelse = _rewrite_loops(statement.orelse, names)
            out.append(statement)
        elif isinstance(statement, ast.For | ast.While):
            statement.body = _rewrite_loops(statement.body, names)
            out.extend(_loop_without_jumps(statement, names))
        else:
            out.append(statement)
    return out


def _jumps(statements: list[ast.stmt], kind: type) -> bool:
    """Whether ``statements`` hold a ``kind`` (Break or Continue) of this loop level."""
    for statement in statements:
        if isinstance(statement, kind):
            return True
        if isinstance(statement, ast.If) and (
            _jumps(statement.body, kind) or _jumps(statement.orelse, kind)
        ):
            return True
    return False


def _loop_without_jumps(loop: ast.For | ast.While, names: NameAllocator) -> list[ast.stmt]:
    breaks, continues = _jumps(loop.body, ast.Break), _jumps(loop.body, ast.Continue)
    if not breaks and not continues:
        return [loop]

    def located(node: ast.AST) -> ast.AST:
        return fix_missing_locations(ast.copy_location(node, loop))

    def assign(name: str, value: ast.expr) -> ast.stmt:
        return located(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))

    skip = names.fresh("skip")
    stop = names.fresh("stop") if breaks else None
    body = [assign(skip, ast.Constant(False)), *_guarded(loop.body, skip, stop, assign)]
    before: list[ast.stmt] = []
    if stop is not None:
        before.append(assign(stop, ast.Constant(False)))
    if isinstance(loop, ast.While) or stop is None:
        if stop is not None:
            loop.test = located(
                ast.IfExp(
                    test=ast.Name(id=stop, ctx=ast.Load()),
                    body=ast.Constant(False),
                    orelse=loop.test,
                )
            )
        loop.body = body
        return [*before, loop]
    # `for target in range(...)` with a break: walk the range's indices while not stopped.
    steps, index = names.fresh("steps"), names.fresh("step")
    is_range = (
        isinstance(loop.iter, ast.Call)
        and isinstance(loop.iter.func, ast.Name)
        and loop.iter.func.id == "range"
        and isinstance(loop.target, ast.Name)
    )
    if not is_range:  # the fence refuses these
        raise InternalError("a break in a loop over something else than range reached normalize")
    length = ast.Call(
        func=ast.Name(id="len", ctx=ast.Load()),
        args=[ast.Name(id=steps, ctx=ast.Load())],
        keywords=[],
    )
    more = ast.Compare(
        left=ast.Name(id=index, ctx=ast.Load()), ops=[ast.Lt()], comparators=[length]
    )
    test = ast.IfExp(test=ast.Name(id=stop, ctx=ast.Load()), body=ast.Constant(False), orelse=more)
    step = ast.Subscript(
        value=ast.Name(id=steps, ctx=ast.Load()),
        slice=ast.Name(id=index, ctx=ast.Load()),
        ctx=ast.Load(),
    )
    advance = ast.BinOp(
        left=ast.Name(id=index, ctx=ast.Load()), op=ast.Add(), right=ast.Constant(1)
    )
    while_body = [assign(loop.target.id, step), assign(index, advance), *body]
    return [
        *before,
        assign(steps, loop.iter),
        assign(index, ast.Constant(0)),
        located(ast.While(test=located(test), body=while_body, orelse=[])),
    ]


def _guarded(statements: list[ast.stmt], skip: str, stop: str | None, assign) -> list[ast.stmt]:
    """``statements`` with break/continue turned into flag assignments, and the statements
    after one that may jump run only ``if not skip``."""
    out: list[ast.stmt] = []
    for index, statement in enumerate(statements):
        if isinstance(statement, ast.Continue | ast.Break):
            out.append(assign(skip, ast.Constant(True)))
            if isinstance(statement, ast.Break):
                out.append(assign(stop, ast.Constant(True)))
            return out  # the rest of this block never runs
        if isinstance(statement, ast.If) and (
            _jumps([statement], ast.Break) or _jumps([statement], ast.Continue)
        ):
            statement.body = _guarded(statement.body, skip, stop, assign) or [ast.Pass()]
            statement.orelse = _guarded(statement.orelse, skip, stop, assign)
            out.append(statement)
            rest = _guarded(statements[index + 1 :], skip, stop, assign)
            if rest:
                test = ast.UnaryOp(op=ast.Not(), operand=ast.Name(id=skip, ctx=ast.Load()))
                guard = ast.If(test=test, body=rest, orelse=[])
                out.append(fix_missing_locations(ast.copy_location(guard, statement)))
            return out
        out.append(statement)
    return out


def stored_names(statements: list[ast.stmt]) -> set[str]:
    """The names ``statements`` bind anywhere (assignments, loop targets, nested blocks)."""
    return {
        node.id
        for statement in statements
        for node in walk_breadth_first(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
