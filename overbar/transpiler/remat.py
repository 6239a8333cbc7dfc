"""Forward values the reverse sweep reads once, computed where it reads them.

A forward line ``tmp2 = 1 + tmp1`` whose only reader is a line of the reverse sweep keeps its
array alive from the forward sweep to the end of the function. Invariant established: no
temporary of the forward sweep's top level is read exactly once, by a line of the reverse sweep's
top level, when its value could be computed there; before and after::

    tmp1 = np.exp(x)                tmp1 = np.exp(x)
    tmp2 = 1 + tmp1                 # return np.sum(np.log(1 + np.exp(x)))
    # return np.sum(...)            x_bar = tmp1 / (1 + tmp1)
    x_bar = tmp1 / tmp2

The value is computed once either way (moved, not repeated); it no longer lives beside the
others, and NumPy can reuse its buffer inside the reader's expression: the softplus above keeps
two arrays of x's size where it kept three.

Identity: substituting a name by the expression bound to it. Side conditions: the temporary is
bound once, by a plain assignment at the forward sweep's top level, and read exactly once in the
whole function, as an operand of arithmetic in a statement at the reverse sweep's top level (so
the line runs once, before its reader); every name the expression reads is bound at most once
(it holds the same value at the reader); the expression is pure: arithmetic, comparisons,
constants, names and calls of NumPy's functions (``np.exp``; not ``np.random``'s, not methods,
not those that write in place), whose results do not depend on when they run. A negation
moved into a negation is no negation (``_without_double_negations``).
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import library_function, module_names
from overbar.transpiler.names import ReplaceNames, clone, walk
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint


def rematerialise(adjoint: Adjoint, runtime: Runtime, namespace: Namespace) -> Adjoint:
    """The adjoint with the forward values above computed at their one reader. The adjoint's
    tree is not changed: a reader is copied before a value is put into it, the other
    statements are shared."""
    numpy_names = module_names(adjoint.bindings, namespace, runtime)
    body = list(adjoint.tree.body)
    bound: Counter = Counter()
    readers: dict[str, list[ast.AST]] = {}
    for statement in body:
        for node in walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound[node.id] += 1
            elif isinstance(node, ast.Name):
                readers.setdefault(node.id, []).append(statement)
    for argument in adjoint.tree.args.args + adjoint.tree.args.kwonlyargs:
        bound[argument.arg] += 1
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    places = {id(statement): index for index, statement in enumerate(reverse)}
    copied: set[int] = set()  # the places of the readers copied (and rewritten) so far
    moved: dict[int, ast.expr] = {}
    for statement in forward:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            continue
        name = statement.targets[0].id
        reading = readers.get(name, [])
        if (
            name not in adjoint.temporaries
            or bound[name] != 1
            or len(reading) != 1
            or id(reading[0]) not in places
            or not _pure(statement.value, numpy_names, runtime)
            or not _an_operand_in(reading[0], name)
            or any(bound[n.id] > 1 for n in walk(statement.value) if isinstance(n, ast.Name))
        ):
            continue
        moved[id(statement)] = statement.value
        index = places[id(reading[0])]
        reader = reverse[index] if index in copied else clone(reverse[index])
        copied.add(index)
        reverse[index] = _without_double_negations(
            ReplaceNames({name: statement.value}).visit(reader)
        )
    if not moved:
        return adjoint
    kept = [statement for statement in forward if id(statement) not in moved]
    tree = copy.copy(adjoint.tree)
    tree.body = kept + reverse
    return replace(adjoint, tree=tree, forward_length=len(kept))


def _without_double_negations(statement: ast.stmt) -> ast.stmt:
    """``statement`` (which the caller owns) with ``-(-e)`` written ``e``: a negation moved
    into a reader that negates it (``t = -np.abs(z)`` read as ``np.exp(-t)``). Identity:
    ``-(-e) = e``, exactly (negation is exact, for -0.0 and NaN too, and an involution on
    NumPy's integers, which wrap), as ``peephole``'s. Side conditions: none for numbers and
    numeric arrays (a boolean array refuses ``-``, in the forward sweep where e was negated
    first)."""
    for node in walk(statement):
        for field, value in ast.iter_fields(node):
            if (
                isinstance(value, ast.UnaryOp)
                and isinstance(value.op, ast.USub)
                and isinstance(value.operand, ast.UnaryOp)
                and isinstance(value.operand.op, ast.USub)
            ):
                setattr(node, field, value.operand.operand)
            elif isinstance(value, list):
                value[:] = [
                    (
                        item.operand.operand
                        if isinstance(item, ast.UnaryOp)
                        and isinstance(item.op, ast.USub)
                        and isinstance(item.operand, ast.UnaryOp)
                        and isinstance(item.operand.op, ast.USub)
                        else item
                    )
                    for item in value
                ]
    return statement


def _an_operand_in(statement: ast.stmt, name: str) -> bool:
    """Whether ``name`` is read in ``statement`` as an operand of arithmetic (not an argument
    a helper takes the shape of, which needs no value computed at all)."""
    for node in walk(statement):
        operands = []
        if isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            operands = [node.operand]
        if any(isinstance(o, ast.Name) and o.id == name for o in operands):
            return True
    return False


def _pure(node: ast.expr, numpy_names: frozenset[str], runtime: Runtime) -> bool:
    for inner in walk(node):
        if isinstance(inner, ast.Call):
            if not runtime.is_pure(library_function(inner, numpy_names, runtime)):
                return False
        elif isinstance(inner, ast.Attribute):
            if not any(isinstance(n, ast.Call) and n.func is inner for n in walk(node)):
                return False
        elif isinstance(inner, ast.Subscript | ast.Lambda | ast.NamedExpr):
            return False
    return True
