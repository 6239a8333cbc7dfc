"""``functools.reduce(f, items, initial)`` written as the loop it runs.

``reduce`` folds ``f`` over ``items`` from ``initial``: ``f(f(f(initial, a), b), c)``. Written
as a loop, its body is differentiated as any loop's is (an inlined helper, or a lambda's body
with its parameters named), where a call of ``reduce`` has no adjoint rule::

    h = functools.reduce(lambda h, x: np.tanh(h @ W + x), xs, h0)

becomes::

    h = h0
    for x in xs:
        h = np.tanh(h @ W + x)

and ``p = reduce(step, coeffs, p0)`` with a helper ``step`` becomes ``p = p0``, then
``for c in coeffs: p = step(p, c)``; where the result is not simply assigned to a name
(``return np.sum(reduce(...))``) the loop folds into a new name the statement then reads.

Identity: ``reduce(f, items, initial)`` sets an accumulator to ``initial``, then for each item
in order sets it to ``f(accumulator, item)``, and returns it. Side conditions, each checked (a
call that fails one is left as it is: a lambda in it is refused by the fence, a helper has no
adjoint rule):

- ``reduce`` is ``functools.reduce`` (read as ``functools.reduce`` or ``reduce``, a name the
  function does not bind), called with three arguments by position, the first a lambda of
  two plain parameters whose body has no lambda or comprehension of its own, or a dotted name;
- the call runs once whenever its statement does, and before every other call of it but
  those around it (``made_and_called.runs_first_and_once``), so that it may run just before
  the statement; the statement is an assignment, an expression or a ``return``;
- the order of evaluation is kept: ``items`` is evaluated before ``initial`` in the call; the
  loop reads ``items`` after ``initial`` is bound, so ``initial`` must make no call (its value
  then cannot depend on whether ``items`` was evaluated first) and ``items`` must not read the
  accumulator's name; otherwise ``items`` is bound to a name of its own first;
- the lambda's parameters are names the rest of the function does not use (or they are given
  new ones), so the loop's bindings of them change nothing else; where the statement is
  ``name = reduce(...)``, the accumulator is ``name`` itself unless ``items``, ``initial`` or
  the lambda's body reads it.
"""

from __future__ import annotations

import ast
import copy
import functools
from dataclasses import replace

from overbar.transpiler.made_and_called import (
    each_statement_rewritten,
    is_dotted_name,
    runs_first_and_once,
)
from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction

_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return)


def with_reduce_as_loops(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each ``functools.reduce`` call that meets the side conditions above
    written as a loop; unchanged where there is none."""
    bound = _bound_names(parsed.tree)
    if not any(_is_reduce(node, parsed, bound) for node in ast.walk(parsed.tree)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    taken = NameAllocator(set(names_in(tree)) | set(parsed.namespace.made))

    def as_loop(statement: ast.stmt) -> list[ast.stmt]:
        call = _reduce_to_write(statement, parsed, bound)
        if call is None:
            return [statement]
        loop, accumulator = _as_loop(tree, statement, call, taken)
        if _assigns_to(statement, call, accumulator):
            return loop
        _replace(statement, call, ast.Name(id=accumulator, ctx=ast.Load()))
        return [*loop, statement]

    tree.body = each_statement_rewritten(tree.body, as_loop)
    ast.fix_missing_locations(tree)
    return replace(parsed, tree=tree)


def _bound_names(tree: ast.AST) -> set[str]:
    names = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    names |= {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    return names | {
        alias.asname or alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for alias in n.names
    }


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id


def _is_reduce(node: ast.AST, parsed: ParsedFunction, bound: set[str]) -> bool:
    """``functools.reduce(f, items, initial)`` with ``f`` a lambda of two plain parameters or
    a dotted name."""
    if not (
        isinstance(node, ast.Call)
        and is_dotted_name(node.func)
        and _root(node.func) not in bound
        and parsed.namespace.resolve(node.func) is functools.reduce
        and len(node.args) == 3
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        return False
    function = node.args[0]
    if is_dotted_name(function):
        return True
    if not isinstance(function, ast.Lambda):
        return False
    arguments = function.args
    plain = (
        len(arguments.args) == 2
        and not arguments.posonlyargs
        and not arguments.kwonlyargs
        and arguments.vararg is None
        and arguments.kwarg is None
        and not arguments.defaults
    )
    nested = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    return plain and not any(isinstance(n, nested) for n in ast.walk(function.body))


def _reduce_to_write(
    statement: ast.stmt, parsed: ParsedFunction, bound: set[str]
) -> ast.Call | None:
    if not isinstance(statement, _SIMPLE) or statement.value is None:
        return None
    calls = [n for n in ast.walk(statement.value) if _is_reduce(n, parsed, bound)]
    if len(calls) != 1 or not runs_first_and_once(statement.value, calls[0]):
        return None
    return calls[0]


def _as_loop(
    tree: ast.FunctionDef, statement: ast.stmt, call: ast.Call, taken: NameAllocator
) -> tuple[list[ast.stmt], str]:
    """The statements that run the fold, and the name that holds its result."""
    function, items, initial = call.args
    outside = _names_outside(tree, function)
    target = _single_name_target(statement, call)
    reads = {n.id for part in (items, initial) for n in ast.walk(part) if isinstance(n, ast.Name)}
    if isinstance(function, ast.Lambda):  # its body may read the name as it was
        parameters = {a.arg for a in function.args.args}
        reads |= {n.id for n in ast.walk(function.body) if isinstance(n, ast.Name)} - parameters
    accumulator = target if target is not None and target not in reads else None
    accumulator = accumulator or taken.fresh("folded")
    statements: list[ast.stmt] = []
    makes_a_call = any(isinstance(n, ast.Call) for n in ast.walk(initial))
    if makes_a_call and not isinstance(items, ast.Name | ast.Constant):
        name = taken.fresh("items")
        statements.append(_assign(name, items, call))
        items = ast.Name(id=name, ctx=ast.Load())
    statements.append(_assign(accumulator, initial, call))
    if isinstance(function, ast.Lambda):
        first, second = (a.arg for a in function.args.args)
        renamed = {}
        if first != accumulator:
            renamed[first] = accumulator
        item = second if second not in outside and second != accumulator else taken.fresh(second)
        if item != second:
            renamed[second] = item
        body = _renamed(function.body, renamed)
    else:
        item = taken.fresh("item")
        body = ast.Call(
            func=function,
            args=[ast.Name(id=accumulator, ctx=ast.Load()), ast.Name(id=item, ctx=ast.Load())],
            keywords=[],
        )
    loop = ast.For(
        target=ast.Name(id=item, ctx=ast.Store()),
        iter=items,
        body=[_assign(accumulator, body, call)],
        orelse=[],
    )
    statements.append(ast.copy_location(loop, call))
    return statements, accumulator


def _names_outside(tree: ast.FunctionDef, skipped: ast.AST) -> set[str]:
    inside = {id(n) for n in ast.walk(skipped)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in inside}
    return names | {
        a.arg for a in ast.walk(tree) if isinstance(a, ast.arg) and id(a) not in inside
    }


def _single_name_target(statement: ast.stmt, call: ast.Call) -> str | None:
    """``name`` of ``name = reduce(...)``, where the call is the whole value."""
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.value is call
    ):
        return statement.targets[0].id
    return None


def _assigns_to(statement: ast.stmt, call: ast.Call, name: str) -> bool:
    return _single_name_target(statement, call) == name


def _assign(name: str, value: ast.expr, where: ast.AST) -> ast.Assign:
    assignment = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
    return ast.copy_location(assignment, where)


def _renamed(expression: ast.expr, names: dict[str, str]) -> ast.expr:
    expression = copy.deepcopy(expression)
    for node in ast.walk(expression):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    return expression


def _replace(statement: ast.stmt, old: ast.expr, new: ast.expr) -> None:
    """``statement`` with the node ``old`` (found by identity) replaced by ``new``."""
    for parent in ast.walk(statement):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, ast.copy_location(new, old))
                return
            if isinstance(value, list):
                for index, element in enumerate(value):
                    if element is old:
                        value[index] = ast.copy_location(new, old)
                        return
