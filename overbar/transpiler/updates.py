"""Two in-place updates of one part of an adjoint made one.

The reverse sweep of a stencil updates one element of an adjoint once per term that reads it:
for ``new[i] = u[i] + alpha * (u[i + 1] - 2 * u[i] + u[i - 1])`` it writes

    u_bar[tmp10] += tmp12_bar               u_bar[tmp10] += tmp12_bar
    u_bar[i] -= tmp12_bar * 2               u_bar[tmp5] += tmp12_bar
    u_bar[tmp5] += tmp12_bar                u_bar[i] += tmp16 - tmp12_bar * 2
    u_bar[i] += tmp16

and each update of an element costs a read and a write of the array (in a loop over elements,
most of the step's time). Invariant established: in each block of the reverse sweep, no part
``X[J]`` is updated twice where the first update can be moved down to the second.

Identity: ``X[J] += a`` (or ``-=``) then ``X[J] += b`` (or ``-=``) is ``X[J] += a + b`` with the
signs carried (``-= a`` then ``+= b`` is ``+= b - a``; two ``-=`` are ``-= a + b``): the same
additions, up to rounding (``a`` and ``b`` are added to each other first). Side conditions: both
statements are in one block and name one array ``X`` with the same index (equal syntax, made of
names, literals and slices of them: no call, so its value is the same in both while its names
are not rebound); neither ``a`` nor ``b`` nor the index mentions ``X`` or a name that may share
its memory (a view of it: found as ``pushes._sharing`` finds them), so ``a`` moved down reads
the values it read; each statement between them is a comment or ``X[K] += c`` (or ``-=``) of
the same kind (it binds no name and reads no part of ``X``; where ``K`` names ``J``'s elements
too, its addition is merely done in another order).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import module_names
from overbar.transpiler.names import walk_breadth_first, with_reverse_cloned
from overbar.transpiler.parse import Namespace
from overbar.transpiler.pushes import _makes_new_array, _shape_only_positions, _sharing
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import is_comment

_INDEX_NODES = (
    ast.Name,
    ast.Constant,
    ast.Slice,
    ast.Tuple,
    ast.UnaryOp,
    ast.USub,
    ast.Load,
    ast.BinOp,
    ast.Add,
    ast.Sub,
)


def combine_updates(adjoint: Adjoint, runtime: Runtime, namespace: Namespace) -> Adjoint:
    """The adjoint with each pair of updates above made one, in its reverse sweep."""
    helpers = {value: name for name, value in adjoint.bindings}
    shape_only = _shape_only_positions(runtime, helpers)
    modules = module_names(adjoint.bindings, namespace, runtime)
    found: dict[str, set[str]] = {}

    def sharing(array: str) -> set[str]:
        if array not in found:
            fresh = lambda value: _makes_new_array(value, modules, runtime)  # noqa: E731
            found[array] = _sharing(array, adjoint.tree, adjoint.stack, shape_only, fresh)
        return found[array]

    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    combiner = _Combiner(sharing)
    reverse = combiner.block(reverse)
    if not combiner.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


class _Combiner:
    def __init__(self, sharing) -> None:
        self.sharing = sharing  # an array's name -> the names that may share its memory
        self.changed = False

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
        result = list(statements)
        position = 0
        while position < len(result):
            later = self.partner(result, position)
            if later is None:
                position += 1
                continue
            result[later] = _combined(result[position], result[later])
            del result[position]
            self.changed = True
        return result

    def partner(self, statements: list[ast.stmt], position: int) -> int | None:
        """The place of the later update of the same part that ``statements[position]``
        may be moved down to (see above), or None."""
        first = _update(statements[position])
        if first is None:
            return None
        array, index, _, term = first
        for later in range(position + 1, len(statements)):
            statement = statements[later]
            if is_comment(statement):
                continue
            update = _update(statement)
            if update is None or update[0] != array:
                return None
            if ast.dump(update[1]) != ast.dump(index):
                continue  # another part of X: an addition that reads nothing of X
            terms = _names(term) | _names(update[3]) | _names(index)
            return later if not terms & self.sharing(array) else None
        return None


def _update(statement: ast.stmt) -> tuple[str, ast.expr, ast.operator, ast.expr] | None:
    """(X, J, the operator, c) for ``X[J] += c`` or ``X[J] -= c``, where neither J nor c
    mentions X and J is made of names, literals and slices of them."""
    if not (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add | ast.Sub)
        and isinstance(statement.target, ast.Subscript)
        and isinstance(statement.target.value, ast.Name)
    ):
        return None
    array = statement.target.value.id
    index = statement.target.slice
    if not all(isinstance(node, _INDEX_NODES) for node in walk_breadth_first(index)):
        return None
    if array in _names(index) or array in _names(statement.value):
        return None
    return array, index, statement.op, statement.value


def _combined(first: ast.AugAssign, second: ast.AugAssign) -> ast.AugAssign:
    """``X[J] op c`` for the two updates of ``X[J]``, ``first`` moved down to ``second``."""
    a, b = first.value, second.value
    if isinstance(first.op, ast.Add):
        op, value = ast.Add(), ast.BinOp(a, copy.copy(second.op), b)
    elif isinstance(second.op, ast.Add):  # -= a, += b: += b - a
        op, value = ast.Add(), ast.BinOp(b, ast.Sub(), a)
    else:  # -= a, -= b: -= a + b
        op, value = ast.Sub(), ast.BinOp(a, ast.Add(), b)
    return ast.copy_location(ast.AugAssign(second.target, op, value), second)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in walk_breadth_first(node) if isinstance(n, ast.Name)}
