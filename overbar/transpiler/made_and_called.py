"""An object made and called in one expression, given a name first.

``Polynomial(coeffs)(x)`` makes an object of a class of the user's and calls it at once. The
objects pass (``objects.py``) takes apart an object bound to a name (``cell = Cell(W)``, then
``cell(h, x)``), so this pass names the object on a line of its own, just before the statement
that makes it::

    return Polynomial(coeffs)(x).sum()     becomes     polynomial = Polynomial(coeffs)
                                                       return polynomial(x).sum()

Identity: the statement evaluates ``Polynomial(coeffs)`` once, then calls the object; binding
it to a name nothing else reads and calling the name computes the same. Side conditions, each
checked (a statement that fails one is left as it is, and the fence says what it refuses):

- the callee of the inner call is a class (not a function returning a function: a closure is
  refused either way), read by a dotted name;
- the statement is an assignment, an augmented assignment, an expression or a ``return``,
  and the call is evaluated once whenever the statement runs: not inside a lambda, a
  comprehension, a conditional expression or ``and``/``or``;
- moving the making of the object before the statement moves it before nothing that could
  see it or change what it reads: every other call in the statement either contains it
  (``np.sum(...)`` around it, evaluated after it) or is evaluated after it (its own
  arguments, and the call of the object).

One object per statement is named (the first such call); a statement with two is left.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from dataclasses import replace

from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction

_BLOCKS = ("body", "orelse", "finalbody")
_ONCE_BREAKERS = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_ONCE_BREAKERS += (ast.IfExp, ast.BoolOp)


def with_objects_named(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each object made and called at once named first (above); unchanged
    where there is none."""
    if not any(_made_and_called(node, parsed) for node in ast.walk(parsed.tree)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    taken = NameAllocator(set(names_in(tree)) | set(parsed.namespace.made))

    def named_first(statement: ast.stmt) -> list[ast.stmt]:
        call = _movable_call(statement, parsed)
        if call is None:
            return [statement]
        made = call.func
        name = taken.fresh(_snake_case(_last_part(made.func)))
        binding = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=made)
        ast.fix_missing_locations(ast.copy_location(binding, made))
        call.func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), made)
        return [binding, statement]

    tree.body = each_statement_rewritten(tree.body, named_first)
    return replace(parsed, tree=tree)


def each_statement_rewritten(
    block: list[ast.stmt], one: Callable[[ast.stmt], list[ast.stmt]]
) -> list[ast.stmt]:
    """``block`` with each statement replaced by the statements ``one`` gives for it, the
    blocks nested in it (a loop's or a branch's body) rewritten first."""
    result: list[ast.stmt] = []
    for statement in block:
        for field in _BLOCKS:
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(statement, field, each_statement_rewritten(inner, one))
        result.extend(one(statement))
    return result


def _made_and_called(node: ast.AST, parsed: ParsedFunction) -> bool:
    """``C(...)(...)`` with ``C`` a dotted name of a class."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Call)
        and is_dotted_name(node.func.func)
        and isinstance(parsed.namespace.resolve(node.func.func), type)
    )


def _movable_call(statement: ast.stmt, parsed: ParsedFunction) -> ast.Call | None:
    """The call ``C(...)(...)`` of ``statement`` whose object may be made just before it, or
    None (the side conditions above)."""
    simple = ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr | ast.Return
    if not isinstance(statement, simple):
        return None
    value = statement.value
    if value is None:
        return None
    found = [node for node in ast.walk(value) if _made_and_called(node, parsed)]
    if len(found) != 1:
        return None
    (call,) = found
    return call if runs_first_and_once(value, call) else None


def runs_first_and_once(value: ast.expr, call: ast.Call) -> bool:
    """Whether ``call``, in the statement's ``value``, runs once whenever the statement does
    (not inside a lambda, a comprehension, a conditional expression, ``and`` or ``or``), and
    before every other call of the statement but those it is inside of (which run after
    it) and those inside it, with no assignment expression: so that the call may run on a
    line of its own just before the statement, its result given a name the statement reads."""
    ancestors = _ancestors(value, call)
    if ancestors is None or any(isinstance(a, _ONCE_BREAKERS) for a in ancestors):
        return False
    after = {id(node) for node in ast.walk(call)} | {id(a) for a in ancestors}
    if any(isinstance(n, ast.Call) and id(n) not in after for n in ast.walk(value)):
        return False
    return not any(isinstance(n, ast.NamedExpr | ast.Await | ast.Yield) for n in ast.walk(value))


def _ancestors(root: ast.AST, target: ast.AST) -> list[ast.AST] | None:
    """The nodes from ``root`` down to ``target``'s parent, or None if it is not below."""
    if root is target:
        return []
    for child in ast.iter_child_nodes(root):
        below = _ancestors(child, target)
        if below is not None:
            return [root, *below]
    return None


def is_dotted_name(node: ast.expr) -> bool:
    """``a``, ``a.b``, ``a.b.c``: a name, or attributes read from one."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _last_part(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id


def _snake_case(name: str) -> str:
    """``LayerNorm`` -> ``layer_norm``, ``GRUCell`` -> ``gru_cell``."""
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words).lower().lstrip("_") or "made"
