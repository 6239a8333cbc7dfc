"""A gradient accumulated through a loop starts as zeros of its parameter's shape.

The reverse sweep starts an adjoint that a loop adds to as the runtime zero ``0.0`` (no array
is made for an adjoint nothing reaches) and shapes it at the end:

    W_bar = 0.0                              W_bar = zero_gradient(W)
    for _ in range(trips):                   for _ in range(trips):
        W_bar = W_bar + ...                      W_bar = W_bar + ...
    W_bar = adjoint_like(W_bar, W)

A person writes the right-hand column (``dW = np.zeros_like(W)``).

Identity: ``adjoint_like(g, W)`` is ``g`` where g has W's shape and ``zero_gradient(W) + g``
otherwise (the runtime zero, or a smaller adjoint broadcast up); starting from
``zero_gradient(W)`` instead of ``0.0``, every sum has W's shape from the start, and
``zero_gradient(W) + Σ e`` equals ``0.0 + Σ e`` made W's shape, exactly (adding zeros is
exact). Side conditions: ``W`` is a parameter known to be an array (its rank is one or more:
``zero_gradient`` of a number would be a NumPy scalar, and of a tuple a tuple); the start is
``W_bar = 0.0`` at the top level of the reverse sweep and the shaping ``W_bar =
adjoint_like(W_bar, W)`` at the top level after it; every other statement that mentions
``W_bar`` adds to it (``W_bar = W_bar + e``, ``W_bar = W_bar - e``, ``W_bar += e`` with ``e``
not reading it), so nothing reads it but the sums and the shaping.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import walk
from overbar.transpiler.reverse import Adjoint


def start_gradients_as_zeros(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the gradients above started as zeros (see the module's docstring)."""
    helpers = {value: name for name, value in adjoint.bindings}
    shaping = helpers.get(runtime.adjoint_like)
    if shaping is None:
        return adjoint
    parameters = {a.arg for a in adjoint.tree.args.args + adjoint.tree.args.kwonlyargs}
    primal = dict(adjoint.adjoints)
    shapes = dict(adjoint.shapes)
    reverse = adjoint.tree.body[adjoint.forward_length :]
    starts: dict[str, int] = {}
    shaped: dict[str, int] = {}
    for position, statement in enumerate(reverse):
        target, value = _assignment(statement)
        if target is None:
            continue
        if isinstance(value, ast.Constant) and value.value == 0.0 and type(value.value) is float:
            starts.setdefault(target, position)
        elif (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == shaping
            and len(value.args) == 2
            and all(isinstance(a, ast.Name) for a in value.args)
            and value.args[0].id == target
            and value.args[1].id == primal.get(target)
        ):
            shaped[target] = position
    chosen = set()
    for name, start in starts.items():
        parameter = primal.get(name)
        dims = runtime.shapes.dims(shapes.get(parameter))
        if (
            parameter in parameters
            and dims
            and shaped.get(name, -1) > start
            and _only_added_to(reverse[start + 1 : shaped[name]], name)
        ):
            chosen.add(name)
    if not chosen:
        return adjoint
    taken = {n.id for n in walk(adjoint.tree) if isinstance(n, ast.Name)}
    zeros = helpers.get(runtime.zero_gradient) or (
        "zero_gradient" if "zero_gradient" not in taken else None
    )
    if zeros is None:
        return adjoint
    dropped = {shaped[name] for name in chosen}
    new_reverse = []
    for position, statement in enumerate(reverse):
        if position in dropped:
            continue
        target, _ = _assignment(statement)
        if target in chosen and position == starts[target]:
            made = ast.Call(
                ast.Name(zeros, ast.Load()), [ast.Name(primal[target], ast.Load())], []
            )
            statement = ast.copy_location(
                ast.Assign([ast.Name(target, ast.Store())], made), statement
            )
        new_reverse.append(statement)
    tree = copy.copy(adjoint.tree)
    tree.body = adjoint.tree.body[: adjoint.forward_length] + new_reverse
    bindings = adjoint.bindings
    if runtime.zero_gradient not in helpers:
        bindings = (*bindings, (zeros, runtime.zero_gradient))
    return replace(adjoint, tree=tree, bindings=bindings)


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.targets[0].id, statement.value
    return None, None


def _only_added_to(between: list[ast.stmt], name: str) -> bool:
    """Whether every statement (nested ones included) of ``between`` (the start's and the
    shaping's) that mentions ``name`` adds to it, reading it nowhere else."""
    for top in between:
        for statement in walk(top):
            if not isinstance(statement, ast.stmt) or not _mentions(statement, name):
                continue
            if isinstance(statement, ast.For | ast.While | ast.If):
                if _mentions(
                    statement.iter if isinstance(statement, ast.For) else statement.test, name
                ):
                    return False
                continue  # its blocks' statements are walked in turn
            if not _adds_to(statement, name):
                return False
    return True


def _adds_to(statement: ast.stmt, name: str) -> bool:
    if isinstance(statement, ast.AugAssign):
        return (
            isinstance(statement.target, ast.Name)
            and statement.target.id == name
            and isinstance(statement.op, ast.Add | ast.Sub)
            and not _mentions(statement.value, name)
        )
    target, value = _assignment(statement)
    if target != name:
        return False
    # name + a - b + ...: down the left of a run of additions and subtractions to the name
    terms = []
    while isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add | ast.Sub):
        terms.append(value.right)
        value = value.left
    if isinstance(value, ast.Name) and value.id == name and terms:
        return not any(_mentions(term, name) for term in terms)
    return False


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk(node))
