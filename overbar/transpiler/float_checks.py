"""The check that an array written in a loop holds floats, made once before the loop.

A write of a differentiated value into an array ``y`` whose old values nothing reads again
keeps only its check that ``y`` holds floats (``floating_target(y)``, see
``pushes.drop_unread_restores``); in a loop over elements that check is a call per element.
Invariant established: no such check is left at the top level of a loop over a range whose
body never binds ``y``; before and after::

    for i in tmp3:                          if tmp3:
        ...                                     floating_target(new)
        floating_target(new)                for i in tmp3:
        new[i] = u[i] + alpha * tmp12           ...
                                                new[i] = u[i] + alpha * tmp12

Identity: the check reads only ``y``'s dtype, which no write changes, so where ``y`` is the
same array at every trip each trip's check gives the first one's answer, and the first one
runs exactly where the loop runs a trip: where the range is not empty. Side conditions: the
loop's iterable is a name known to hold a ``range`` (its truth is whether it is empty; the
name is bound before the loop and read again by nothing that runs before the check); the
body holds no ``break``, ``continue``, ``return`` or ``yield`` (every trip reaches the check,
which is at the body's top level) and binds ``y`` nowhere (nested loops included). The check
raises before the first trip's lines instead of after them; those lines only compute values
and push them (an error in them is raised either way, another one first).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.reverse import Adjoint


def checks_before_loops(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the forward sweep's float checks made once before their loops."""
    check = next((n for n, v in adjoint.bindings if v is runtime.floating_target), None)
    if check is None:
        return adjoint
    shapes = dict(adjoint.shapes)
    ranges = {name for name, shape in shapes.items() if shape == runtime.shapes.RANGE}
    hoister = _Hoister(check, ranges)
    forward = hoister.block(adjoint.tree.body[: adjoint.forward_length])
    if not hoister.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + adjoint.tree.body[adjoint.forward_length :]
    return replace(adjoint, tree=tree, forward_length=len(forward))


class _Hoister:
    def __init__(self, check: str, ranges: set[str]):
        self.check, self.ranges = check, ranges
        self.changed = False

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                result.append(statement)
                continue
            changed = None
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    new = self.block(inner)
                    if new != inner:
                        changed = changed or copy.copy(statement)
                        setattr(changed, field, new)
            statement = changed or statement
            if isinstance(statement, ast.For):
                hoisted = self.hoisted(statement)
                if hoisted is not None:
                    guard, statement = hoisted
                    result.append(guard)
                    self.changed = True
            result.append(statement)
        return result

    def hoisted(self, loop: ast.For) -> tuple[ast.If, ast.For] | None:
        """(``if R: check(y)``, the loop without its checks) where the conditions hold."""
        if not (isinstance(loop.iter, ast.Name) and loop.iter.id in self.ranges):
            return None
        if loop.orelse or any(
            isinstance(n, ast.Break | ast.Continue | ast.Return | ast.Yield | ast.YieldFrom)
            for n in walk_breadth_first(loop)
        ):
            return None
        bound = {
            n.id
            for n in walk_breadth_first(loop)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
        }
        if loop.iter.id in bound:
            return None
        checked = [s for s in loop.body if (y := self.checked(s)) is not None and y not in bound]
        if not checked:
            return None
        arrays = list(dict.fromkeys(self.checked(s) for s in checked))
        calls = [
            ast.Expr(ast.Call(ast.Name(self.check, ast.Load()), [ast.Name(y, ast.Load())], []))
            for y in arrays
        ]
        guard = ast.If(ast.Name(loop.iter.id, ast.Load()), calls, [])
        new = copy.copy(loop)
        new.body = [s for s in loop.body if all(s is not c for c in checked)]
        if not new.body:
            new.body = [ast.Pass()]
        return ast.copy_location(guard, loop), new

    def checked(self, statement: ast.stmt) -> str | None:
        """y for ``check(y)``."""
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == self.check
            and len(statement.value.args) == 1
            and not statement.value.keywords
            and isinstance(statement.value.args[0], ast.Name)
        ):
            return statement.value.args[0].id
        return None
