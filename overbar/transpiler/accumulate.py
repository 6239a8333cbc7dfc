"""Contributions scattered into slices of one array added into one buffer, in place.

Invariant established: in the reverse sweep, no run of statements

    u_bar = index_bar(a, u, slice(None, -2))
    u_bar = u_bar + index_bar(b, u, slice(1, -1))
    u_bar = u_bar + index_bar(c, u, slice(2, None))

is left whose indices are basic (slices, integers, None, ``...``); it reads, as a person writes
the adjoint of a stencil:

    u_bar = index_bar(a, u, slice(None, -2))
    u_bar[1:-1] += b
    u_bar[2:] += c

one array of ``u``'s shape instead of one per contribution and one per sum.

Identity: ``X + index_bar(b, u, J)`` is ``X`` with ``b`` added at ``J`` (``index_bar`` is zeros
shaped like ``u`` with ``b`` put at ``J``), and ``X[J] += b`` adds ``b`` at ``J`` in place.
Side conditions:

- ``X`` was bound by ``index_bar`` itself and nothing read it since: it is a fresh array of
  ``u``'s shape that no other name holds, so writing into it changes no other value;
- the index ``J`` is basic (its parts are literal slices, integers known to be integers, None
  or ``...``): a basic index names each element once, where an array index may repeat one,
  which ``index_bar`` adds up (``np.add.at``) and ``+=`` would not;
- every contribution is to the same ``u`` (so to an array of the same shape), in statements
  of one block; a statement between them does not mention ``X`` (it does not read the
  buffer) and does not bind ``u`` (``index_bar`` reads only ``u``'s shape, which a read of
  ``u``, or a write into a part of it, leaves as it was).

A whole contribution added into the buffer is added in place too:

    u_bar = index_bar(a, u, slice(-1, None))      u_bar = index_bar(a, u, slice(-1, None))
    d = undiff(g, u, 2)[0]                        d = undiff(g, u, 2)[0]
    u_bar = u_bar + d                             u_bar += d

Identity: ``X + c`` is ``X`` with ``c`` added, where ``c`` has ``X``'s shape. Side conditions:
``X`` is fresh as above and is the adjoint of ``u`` itself (``X`` is ``u``'s bar name), ``c``
is a name other than ``X``: every term the sweep adds into ``ū`` is shaped like ``u`` (a rule
returns each operand's adjoint in the operand's shape; an operand NumPy broadcast has its
adjoint summed back by ``unbroadcast``), so nothing broadcasts; ``X`` stays fresh after it.

The values are the same up to the dtype of the buffer: the sum of float64 arrays is float64
either way; a float64 contribution added into a float32 buffer stays float32, the input's.

The same pass writes the reverse loops' in-place helpers as subscripts where their index is
basic, as a person writes them:

    add_at(u_bar, slice(1, -1), g)          u_bar[1:-1] += g
    part = take_in_place(u_bar, slice(1, -1))  part = u_bar[1:-1].copy()
                                               u_bar[1:-1] = 0.0

Identity: ``add_at(acc, J, g)`` is ``acc[J] += g`` and ``take_in_place(g, J)`` is a copy of
``g[J]`` followed by ``g[J] = 0``, for a basic ``J`` (the helpers' own code). Side condition:
``J`` is basic, as above (for an array index ``add_at`` adds repeats with ``np.add.at`` and
``take_in_place`` checks the indices are distinct); a call whose index is not is left alone.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import clone, walk_breadth_first, with_reverse_cloned
from overbar.transpiler.reverse import Adjoint, is_comment


def accumulate(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the runs above accumulated in place in its reverse sweep."""
    helpers = {
        helper: {name for name, value in adjoint.bindings if value is function}
        for helper, function in (
            ("scatter", runtime.index_bar),
            ("add", runtime.add_at),
            ("take", runtime.take_in_place),
        )
    }
    if not any(helpers.values()) or rebinds_slice(adjoint.tree):
        return adjoint
    shapes = dict(adjoint.shapes)
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = _Blocks(helpers, shapes, runtime, frozenset(adjoint.adjoints)).block(reverse)
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


def rebinds_slice(tree: ast.FunctionDef) -> bool:
    """Whether ``tree`` binds the name ``slice`` (then it may not be the builtin)."""
    return any(
        isinstance(node, ast.Name) and node.id == "slice" and isinstance(node.ctx, ast.Store)
        for node in walk_breadth_first(tree)
    ) or any(argument.arg == "slice" for argument in tree.args.args + tree.args.kwonlyargs)


class _Blocks:
    def __init__(
        self,
        helpers: dict[str, set[str]],
        shapes: dict[str, Any],
        runtime: Runtime,
        adjoints: frozenset[tuple[str, str]] = frozenset(),
    ):
        self.scatters, self.shapes, self.runtime = helpers["scatter"], shapes, runtime
        self.adders, self.takers = helpers["add"], helpers["take"]
        self.adjoints = adjoints  # (adjoint, the name it is the adjoint of)

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        fresh: tuple[str, str] | None = None  # (buffer, the array it is shaped like)
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
            in_place = self.in_place(statement)
            if in_place is not None:
                result.extend(in_place)
                fresh = None
                continue
            added = self.added_at(statement, fresh)
            if added is not None or is_comment(statement):
                result.append(added or statement)
                continue
            made = self.made(statement)
            if (
                made is not None
                or fresh is None
                or _mentions(statement, {fresh[0]})
                or fresh[1] in _bound_by(statement)
            ):
                fresh = made  # a statement that neither reads X nor rebinds u leaves X fresh
            result.append(statement)
        return without_zero_and_restore(result)

    def made(self, statement: ast.stmt) -> tuple[str, str] | None:
        """``X = index_bar(b, u, J)``: (X, u)."""
        call = _assigned_call(statement)
        if call is None or not self.is_scatter(call):
            return None
        target = statement.targets[0].id
        shaped_like = call.args[1].id
        if target == shaped_like or any(_reads(a, target) for a in call.args):
            return None
        return target, shaped_like

    def added_at(self, statement: ast.stmt, fresh: tuple[str, str] | None) -> ast.stmt | None:
        """``X = X + index_bar(b, u, J)`` right after X was made: ``X[J] += b``; ``X = X + c``
        (or ``c + X``) for ``X`` the adjoint of ``u``: ``X += c``."""
        if fresh is None or not isinstance(statement, ast.Assign):
            return None
        buffer, shaped_like = fresh
        target, value = statement.targets[0], statement.value
        whole = self.added_whole(statement, buffer, shaped_like)
        if whole is not None:
            return whole
        if not (
            isinstance(target, ast.Name)
            and target.id == buffer
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and value.left.id == buffer
            and isinstance(value.right, ast.Call)
            and self.is_scatter(value.right)
        ):
            return None
        contribution, like, index = value.right.args
        if like.id != shaped_like or _reads(contribution, buffer):
            return None
        subscript = self.basic_index(index)
        if subscript is None:
            return None
        place = ast.Subscript(ast.Name(buffer, ast.Load()), subscript, ast.Store())
        operator: ast.operator = ast.Add()
        positive = without_sign(contribution)
        if positive is not None:  # x + -b is x - b, and (-a) * b is -(a * b), exactly
            operator, contribution = ast.Sub(), positive
        return ast.copy_location(ast.AugAssign(place, operator, contribution), statement)

    def added_whole(self, statement: ast.Assign, buffer: str, shaped_like: str) -> ast.stmt | None:
        """``X = X + c`` or ``X = c + X``, ``c`` a name other than ``X``, for a fresh ``X``
        that is ``u``'s adjoint: ``X += c`` (see the module's docstring)."""
        target, value = statement.targets[0], statement.value
        if not (
            len(statement.targets) == 1
            and isinstance(target, ast.Name)
            and target.id == buffer
            and (buffer, shaped_like) in self.adjoints
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and isinstance(value.right, ast.Name)
        ):
            return None
        names = [value.left.id, value.right.id]
        if names.count(buffer) != 1:
            return None
        term = names[1] if names[0] == buffer else names[0]
        added = ast.AugAssign(ast.Name(buffer, ast.Store()), ast.Add(), ast.Name(term, ast.Load()))
        return ast.copy_location(added, statement)

    def in_place(self, statement: ast.stmt) -> list[ast.stmt] | None:
        """``add_at(X, J, g)`` as ``X[J] += g``; ``p = take_in_place(X, J)`` as
        ``p = X[J].copy()`` and ``X[J] = 0.0``: for a basic ``J``."""
        if isinstance(statement, ast.Expr):
            call, helpers = statement.value, self.adders
        else:
            call, helpers = _assigned_call(statement), self.takers
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id in helpers
            and len(call.args) == 3 - (helpers is self.takers)
            and not call.keywords
            and isinstance(call.args[0], ast.Name)
        ):
            return None
        subscript = self.basic_index(call.args[1])
        if subscript is None:
            return None
        array = call.args[0].id

        def place(context: ast.expr_context) -> ast.Subscript:
            return ast.Subscript(ast.Name(array, ast.Load()), clone(subscript), context)

        if helpers is self.adders:
            contribution = call.args[2]
            operator: ast.operator = ast.Add()
            positive = without_sign(contribution)
            if positive is not None:
                operator, contribution = ast.Sub(), positive
            lines = [ast.AugAssign(place(ast.Store()), operator, contribution)]
        else:
            copied = ast.Call(ast.Attribute(place(ast.Load()), "copy", ast.Load()), [], [])
            lines = [
                ast.Assign([statement.targets[0]], copied),
                ast.Assign([place(ast.Store())], ast.Constant(0.0)),
            ]
        return [ast.copy_location(line, statement) for line in lines]

    def is_scatter(self, call: ast.Call) -> bool:
        return (
            isinstance(call.func, ast.Name)
            and call.func.id in self.scatters
            and len(call.args) == 3
            and not call.keywords
            and isinstance(call.args[1], ast.Name)
        )

    def basic_index(self, index: ast.expr) -> ast.expr | None:
        """``index`` written as subscript syntax, if it is basic."""
        return basic_subscript(index, self.shapes, self.runtime)


def added_term(statement: ast.stmt) -> tuple[str, ast.expr] | None:
    """``x = x + e`` or ``x = e + x``: (x, e)."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.BinOp)
        and isinstance(statement.value.op, ast.Add)
    ):
        return None
    name = statement.targets[0].id
    left, right = statement.value.left, statement.value.right
    if isinstance(right, ast.Name) and right.id == name:
        left, right = right, left
    if isinstance(left, ast.Name) and left.id == name:
        return name, right
    return None


def basic_subscript(index: ast.expr, shapes: dict[str, Any], runtime: Runtime) -> ast.expr | None:
    """``index`` (an argument of ``index_bar``) written as subscript syntax, if it is basic:
    a literal integer, None or ``...``, a name ``shapes`` knows is an integer, a call of
    ``slice`` (whose bounds select each element once, whatever they are), or a tuple of
    them."""
    if isinstance(index, ast.Tuple):
        parts = [_basic_part(part, shapes, runtime) for part in index.elts]
        return None if any(p is None for p in parts) else ast.Tuple(parts, ast.Load())
    return _basic_part(index, shapes, runtime)


def _basic_part(part: ast.expr, shapes: dict[str, Any], runtime: Runtime) -> ast.expr | None:
    if isinstance(part, ast.Constant) and (
        part.value is None or part.value is ... or type(part.value) is int
    ):
        return part
    if isinstance(part, ast.Name) and runtime.shapes.is_integer(shapes.get(part.id)):
        return part
    if (
        isinstance(part, ast.Call)
        and isinstance(part.func, ast.Name)
        and part.func.id == "slice"
        and not part.keywords
        and 1 <= len(part.args) <= 3
    ):
        bounds = [None if _is_none(a) else a for a in part.args]
        if len(bounds) == 1:
            return ast.Slice(None, bounds[0], None)
        return ast.Slice(*(bounds + [None] * (3 - len(bounds))))
    return None


def without_zero_and_restore(
    block: list[ast.stmt], outside: frozenset[str] | None = None
) -> list[ast.stmt]:
    """The block without the pairs ``X[J] = 0.0`` ... ``X[J] += p`` that follow a copy
    ``p = X[J].copy()``, where nothing between them reads ``X`` or binds ``p``.

    Identity: after the copy, ``X[J]`` holds ``p``; zeroing it, adding contributions ``cₖ``
    into parts of ``X`` and adding ``p`` back leaves ``X[J]`` holding ``p + Σ cₖ`` (the
    parts of the ``cₖ`` that fall in ``J``), which is what adding the ``cₖ`` to ``X`` without
    the zeroing and the restore gives: ``0.0 + v`` is ``v`` for every float ``v``, up to the
    sign of a zero, and the sum is the same up to rounding (``p`` is added first instead of
    last). The adjoint of ``u[J] = u[J] + ...`` reads this way: the write takes ``ū[J]``
    and the read gives it back. Side conditions: the same array name and the same index
    (equal syntax; the index is basic, so its value is what its syntax says while the names
    in it are not rebound); each statement between either mentions neither ``X`` nor the
    names the index reads, or is ``X[K] += c`` (or ``-=``) whose ``K`` and ``c`` do not
    mention ``X`` (it binds no name, and reads no part of ``X``), or ``X += c`` (or ``-=``)
    whose ``c`` does not mention ``X`` (it adds into every part, ``J``'s as well); each one
    that mentions ``p`` does not write into it (an assignment to other names, an addition
    into ``X``, or ``rows.append(p)`` into a list the block only appends to, so that nothing
    writes into ``p``'s array through it);
    all are in one block. ``X`` is an array the reverse loop owns (the copy and the zeroing
    are ``take_in_place``'s), so no other name holds it.

    With ``outside`` (the names mentioned outside the block) given, a copy ``p`` that is then
    read nowhere (not in the block, not outside it) is dropped too.
    """
    result = list(block)
    position = 0
    while position + 1 < len(result):
        copied = _copied_region(result[position])
        if copied is None or not _zeroes(result[position + 1], copied[1]):
            position += 1
            continue
        part, region = copied
        array = region.value.id
        protected = {array} | {
            n.id for n in walk_breadth_first(region.slice) if isinstance(n, ast.Name)
        }
        for later in range(position + 2, len(result)):
            statement = result[later]
            if _adds_back(statement, region, part):
                del result[later]
                del result[position + 1]
                copy_read = any(_mentions(s, {part}) for s in result if s is not result[position])
                if outside is not None and part not in outside and not copy_read:
                    del result[position]
                    position -= 1
                break
            if _adds_into(statement, array) or _appended_only(statement, part, result):
                continue
            if _mentions(statement, protected) or (
                _mentions(statement, {part}) and not _only_reads(statement, part)
            ):
                break
        position += 1
    return result


def _appended_only(statement: ast.stmt, part: str, block: list[ast.stmt]) -> bool:
    """``rows.append(part)``, where every mention of ``rows`` in ``block`` is an append."""
    if not (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "append"
        and isinstance(statement.value.func.value, ast.Name)
        and len(statement.value.args) == 1
        and not statement.value.keywords
        and isinstance(statement.value.args[0], ast.Name)
        and statement.value.args[0].id == part
    ):
        return False
    rows = statement.value.func.value.id
    appends = {
        id(s.value.func.value)
        for s in block
        if isinstance(s, ast.Expr)
        and isinstance(s.value, ast.Call)
        and isinstance(s.value.func, ast.Attribute)
        and s.value.func.attr == "append"
        and isinstance(s.value.func.value, ast.Name)
        and s.value.func.value.id == rows
    }
    return rows != part and all(
        id(n) in appends
        for s in block
        for n in walk_breadth_first(s)
        if isinstance(n, ast.Name) and n.id == rows
    )


def _adds_into(statement: ast.stmt, array: str) -> bool:
    """``array[K] += c`` or ``array[K] -= c``, ``K`` and ``c`` not mentioning ``array``; or
    ``array += c`` (``-=``), ``c`` not mentioning it (an addition into every part of it)."""
    if (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add | ast.Sub)
        and isinstance(statement.target, ast.Name)
    ):
        return statement.target.id == array and not _mentions(statement.value, {array})
    return (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add | ast.Sub)
        and isinstance(statement.target, ast.Subscript)
        and isinstance(statement.target.value, ast.Name)
        and statement.target.value.id == array
        and not _mentions(statement.target.slice, {array})
        and not _mentions(statement.value, {array})
    )


def _mentions(statement: ast.stmt, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in walk_breadth_first(statement))


def _only_reads(statement: ast.stmt, name: str) -> bool:
    """``statement`` binds names only, none of them ``name`` (so it cannot change the array
    ``name`` holds)."""
    return isinstance(statement, ast.Assign) and all(
        isinstance(t, ast.Name) and t.id != name for t in statement.targets
    )


def _copied_region(statement: ast.stmt) -> tuple[str, ast.Subscript] | None:
    """``p = X[J].copy()``: (p, X[J])."""
    call = _assigned_call(statement)
    if (
        call is not None
        and not call.args
        and not call.keywords
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "copy"
        and isinstance(call.func.value, ast.Subscript)
        and isinstance(call.func.value.value, ast.Name)
    ):
        return statement.targets[0].id, call.func.value
    return None


def _zeroes(statement: ast.stmt, region: ast.Subscript) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and _same_region(statement.targets[0], region)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value == 0.0
    )


def _adds_back(statement: ast.stmt, region: ast.Subscript, part: str) -> bool:
    return (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add)
        and _same_region(statement.target, region)
        and isinstance(statement.value, ast.Name)
        and statement.value.id == part
    )


def _same_region(node: ast.expr, region: ast.Subscript) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == region.value.id
        and ast.dump(node.slice) == ast.dump(region.slice)
    )


def _assigned_call(statement: ast.stmt) -> ast.Call | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
    ):
        return statement.value
    return None


def without_sign(node: ast.expr) -> ast.expr | None:
    """``a * b / c`` for ``-a * b / c`` (a negation leading a product or quotient)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        left = without_sign(node.left)
        return None if left is None else ast.BinOp(left, node.op, node.right)
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _bound_by(statement: ast.stmt) -> set[str]:
    """The names ``statement`` binds, anywhere in it."""
    return {
        n.id
        for n in walk_breadth_first(statement)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
    }


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(node))
