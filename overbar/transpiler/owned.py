"""Adjoint arrays a reverse loop owns, updated in place instead of copied.

The reverse of a stepper that writes into a copy of its state,

    u_new = u.copy()
    u_new[1:-1] = u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2])
    u = u_new

moves ū into ū_new, takes the written part out of ū_new (``take_and_zero`` copies the whole
array, so that whatever else holds it keeps its value) and adds ū_new into the new ū (one more
array). A person writes one array, updated in place:

    tmp = u_new_bar[1:-1].copy()          instead of   tmp, u_new_bar = take_and_zero(u_new_bar, J)
    u_new_bar[1:-1] = 0.0
    ...
    u_bar += u_new_bar                    instead of   u_bar = u_bar + u_new_bar

An array is *owned* at a point of a reverse loop's body when one name holds it and nothing else
does: no other name, no list, no view. The pass follows ownership through the body's top-level
statements:

- a fresh value makes its name the owner: arithmetic with an array operand (NumPy allocates its
  result) or ``index_bar`` (zeros with a part written);
- ``a = b`` with ``b`` the owner moves the array to ``a`` when ``b`` is not read again before it
  is bound anew (``b`` is then dead, so ``a`` alone holds the array);
- any other read of an owner's name that may keep the array (a call's argument, an element of a
  tuple or list, a view ``y = b[J]``, an operand of ``a = b`` that does not move it) ends its
  ownership; reads that only compute from it (arithmetic, ``.sum()``, ``.copy()``, a part read
  into arithmetic) and writes into parts of it (``b[J] += v``) do not;
- a name bound to anything else owns nothing.

A name read at the top of the body before it is bound (a loop-carried adjoint) is owned there
when the pass makes it so: ``x_bar = own(x_bar, x)`` (a copy) before the loop, and only if the
name owns its array again at the end of the body, so that every trip starts as the first.

Rewrites, each an identity with the side conditions above:

- ``p, r = take_and_zero(g, J)`` with ``g`` an owner that is dead after the line (or bound by
  it): ``p = g[J].copy()``, ``g[J] = 0.0``, ``r = g`` (``take_in_place`` for an index that is
  not basic).
  Identity: the helper returns a copy of ``g[J]`` and a copy of ``g`` zeroed at ``J``; with no
  one else holding ``g``'s array and ``g`` not read again, zeroing it in place is unobservable.
- ``x = x + y`` (or ``y + x``) with ``x`` an owner of a float array, and ``x`` and ``y`` of one
  shape (known, so nothing broadcasts): ``x += y``. Identity: the sum written into ``x``'s array
  instead of a new one, which no one else holds. The values are the same up to ``x``'s dtype (a
  float64 ``y`` added into a float32 ``x`` stays float32, the input's).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.accumulate import rebinds_slice
from overbar.transpiler.names import clone, walk_breadth_first, with_reverse_cloned
from overbar.transpiler.reverse import Adjoint

_COMPUTING_METHODS = frozenset({"sum", "copy", "mean", "max", "min", "prod", "dot"})


def own_loop_adjoints(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the reverse loops' owned arrays updated in place (see above)."""
    helpers = {value: name for name, value in adjoint.bindings}
    take = helpers.get(runtime.take_and_zero)
    if take is None:
        return adjoint
    taken = {n.id for n in walk_breadth_first(adjoint.tree) if isinstance(n, ast.Name)}
    own = helpers.get(runtime.own) or ("own" if "own" not in taken else None)
    if own is None:
        return adjoint
    if rebinds_slice(adjoint.tree):
        return adjoint
    if not any(
        isinstance(node, ast.For)
        for statement in adjoint.tree.body[adjoint.forward_length :]
        for node in walk_breadth_first(statement)
    ):
        return adjoint  # no reverse loop
    facts = _Facts(adjoint, runtime, take, own)
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = facts.block(reverse)
    if not facts.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    bindings = adjoint.bindings
    if runtime.own not in helpers:
        bindings = (*bindings, (own, runtime.own))
    if facts.take_in_place_used and runtime.take_in_place not in helpers:
        bindings = (*bindings, (facts.take_in_place, runtime.take_in_place))
    effects = adjoint.effects | ({facts.take_in_place} if facts.take_in_place_used else set())
    return replace(adjoint, tree=tree, bindings=bindings, effects=frozenset(effects))


class _Facts:
    def __init__(self, adjoint: Adjoint, runtime: Runtime, take: str, own: str):
        self.adjoint, self.runtime, self.take, self.own = adjoint, runtime, take, own
        self.shapes = dict(adjoint.shapes)
        self.primal = dict(adjoint.adjoints)
        self.maybe_zero = adjoint.maybe_zero
        helpers = {value: name for name, value in adjoint.bindings}
        self.scatter = helpers.get(runtime.index_bar)
        self.take_in_place = helpers.get(runtime.take_in_place, "take_in_place")
        self.take_in_place_used = False
        self.changed = False
        forward = adjoint.tree.body[: adjoint.forward_length]
        self.bound_before_loops = {a.arg for a in adjoint.tree.args.args} | {
            n.id
            for statement in forward
            if isinstance(statement, ast.Assign)
            for target in statement.targets
            for n in walk_breadth_first(target)
            if isinstance(n, ast.Name)
        }

    # -- the blocks, and the loops in them ---------------------------------------------------

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
            if isinstance(statement, ast.For) and not statement.orelse:
                before, statement.body = self.loop(statement.body)
                result.extend(before)
            result.append(statement)
        return result

    def loop(self, body: list[ast.stmt]) -> tuple[list[ast.stmt], list[ast.stmt]]:
        """(statements to put before the loop, the loop's new body)."""
        carried = [
            name
            for name in self.moved_at_the_top(body)
            if self.has_array_rank(name) and self.primal[name] in self.bound_before_loops
        ]
        rewritten, owned_at_end = _Walk(self, body, set(carried)).run()
        if rewritten is None:
            return [], body
        kept = [name for name in carried if name in owned_at_end]
        if len(kept) != len(carried):  # a trip would start with an array someone else holds
            rewritten, owned_at_end = _Walk(self, body, set()).run()
            if rewritten is None:
                return [], body
            kept = []
        self.changed = True
        before = [
            ast.Assign(
                [ast.Name(name, ast.Store())],
                ast.Call(
                    ast.Name(self.own, ast.Load()),
                    [ast.Name(name, ast.Load()), ast.Name(self.primal[name], ast.Load())],
                    [],
                ),
            )
            for name in kept
        ]
        return before, rewritten

    def moved_at_the_top(self, body: list[ast.stmt]) -> list[str]:
        """Names whose first mention in the body is ``a = name`` (a loop-carried adjoint)."""
        found, seen = [], set()
        for statement in body:
            names = {n.id for n in walk_breadth_first(statement) if isinstance(n, ast.Name)}
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and isinstance(statement.value, ast.Name)
                and statement.value.id not in seen
                and statement.value.id in self.primal
            ):
                found.append(statement.value.id)
            seen |= names
        return found

    # -- what is known of a name -------------------------------------------------------------

    def rank(self, name: str) -> int | None:
        dims = self.runtime.shapes.dims(self.shapes.get(self.primal.get(name, name)))
        return None if dims is None else len(dims)

    def has_array_rank(self, name: str) -> bool:
        """An array where it is not the runtime zero (``own`` makes that zeros)."""
        rank = self.rank(name)
        return rank is not None and rank >= 1

    def is_array(self, name: str) -> bool:
        """Surely an array (not the runtime zero, not a number) wherever it is bound."""
        return self.has_array_rank(name) and name not in self.maybe_zero

    def same_shape(self, a: str, b: str) -> bool:
        facts = self.runtime.shapes
        x = facts.dims(self.shapes.get(self.primal.get(a, a)))
        y = facts.dims(self.shapes.get(self.primal.get(b, b)))
        return (
            x is not None
            and y is not None
            and len(x) == len(y)
            and all(p == q == 1 or facts.same_length(p, q) for p, q in zip(x, y, strict=True))
        )

    def is_fresh(self, value: ast.expr, owned: set[str]) -> bool:
        """An array NumPy allocates anew: arithmetic with an array operand, or a scatter."""
        if isinstance(value, ast.BinOp | ast.UnaryOp):
            leaves = _arithmetic_leaves(value)
            return any(leaf in owned or self.is_array(leaf) for leaf in leaves)
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == self.scatter
        )


class _Walk:
    """One pass over a loop body's top-level statements, from the names owned at its top."""

    def __init__(self, facts: _Facts, body: list[ast.stmt], owned: set[str]):
        self.facts, self.body, self.owned = facts, body, set(owned)

    def run(self) -> tuple[list[ast.stmt] | None, set[str]]:
        result: list[ast.stmt] = []
        changed = False
        for position, statement in enumerate(self.body):
            replacement = self.step(position, statement)
            if replacement is not None:
                result.extend(replacement)
                changed = True
            else:
                result.append(statement)
        return (result if changed else None), self.owned

    def step(self, position: int, statement: ast.stmt) -> list[ast.stmt] | None:
        facts, owned = self.facts, self.owned
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Subscript):
            owned -= _kept_by(statement.value)
            owned -= _kept_by(statement.target.slice)
            return None
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            owned -= _kept_by(statement)
            owned -= _bound_by(statement)
            return None
        target, value = statement.targets[0], statement.value
        taken = self.taken(position, target, value)
        if taken is not None:
            return taken
        if not isinstance(target, ast.Name):
            owned -= _kept_by(statement)
            owned -= _bound_by(statement)
            return None
        name = target.id
        if isinstance(value, ast.Name):
            moved = value.id in owned and self.dead_after(value.id, position)
            owned.discard(value.id)
            owned.discard(name)
            if moved:
                owned.add(name)
            return None
        summed = self.summed(name, value)
        if summed is not None:
            owned -= _kept_by(value) - {name}
            return [ast.copy_location(summed, statement)]
        fresh = facts.is_fresh(value, owned)
        owned -= _kept_by(value)
        owned.discard(name)
        if fresh:
            owned.add(name)
        return None

    def taken(self, position: int, target: ast.expr, value: ast.expr) -> list[ast.stmt] | None:
        """``p, r = take_and_zero(g, J)`` for an owner g dead after it: in place."""
        facts = self.facts
        if not (
            isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and all(isinstance(e, ast.Name) for e in target.elts)
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == facts.take
            and len(value.args) == 2
            and not value.keywords
            and isinstance(value.args[0], ast.Name)
        ):
            return None
        part, rest = (e.id for e in target.elts)
        array, index = value.args[0].id, value.args[1]
        if (
            array not in self.owned
            or not (rest == array or self.dead_after(array, position))
            or part == array
        ):
            self.owned -= {array, part, rest}
            return None
        subscript = _basic_subscript(index)
        if subscript is not None:
            lines: list[ast.stmt] = [
                _assign(part, _method(ast.Subscript(_load(array), subscript, ast.Load()), "copy")),
                ast.Assign(
                    [ast.Subscript(_load(array), clone(subscript), ast.Store())],
                    ast.Constant(0.0),
                ),
            ]
        else:
            facts.take_in_place_used = True
            lines = [
                _assign(part, ast.Call(_load(facts.take_in_place), [_load(array), index], []))
            ]
        if rest != array:
            lines.append(_assign(rest, _load(array)))
            self.owned.discard(array)
        self.owned.discard(part)
        self.owned.add(rest)
        return lines

    def summed(self, name: str, value: ast.expr) -> ast.stmt | None:
        """``x = x + y`` for an owner x of y's shape: ``x += y``."""
        if not (
            name in self.owned
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and isinstance(value.right, ast.Name)
        ):
            return None
        left, right = value.left.id, value.right.id
        if left == right or name not in (left, right):
            return None
        other = right if left == name else left
        if not self.facts.same_shape(name, other):
            return None
        return ast.AugAssign(ast.Name(name, ast.Store()), ast.Add(), _load(other))

    def dead_after(self, name: str, position: int) -> bool:
        """``name`` is bound anew, at the top level of the body, before anything reads it."""
        for statement in self.body[position + 1 :]:
            reads = any(
                isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                for n in walk_breadth_first(statement)
            )
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in statement.targets
            ):
                return not any(
                    isinstance(n, ast.Name) and n.id == name
                    for n in walk_breadth_first(statement.value)
                )
            if reads or name in _bound_by(statement):
                return False
        return False


def _kept_by(node: ast.AST) -> set[str]:
    """Names read in ``node`` where their array may be kept: anything but arithmetic on it,
    a computing method of it, or a part of it read into arithmetic."""
    parents: dict[int, ast.AST] = {}
    for parent in walk_breadth_first(node):
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
    kept = set()
    for found in walk_breadth_first(node):
        loaded = isinstance(found, ast.Name) and isinstance(found.ctx, ast.Load)
        if loaded and not _only_computed_from(found, parents):
            kept.add(found.id)
    return kept


def _only_computed_from(node: ast.expr, parents: dict[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, ast.BinOp | ast.UnaryOp | ast.Compare):
        return True
    if isinstance(parent, ast.Attribute) and parent.value is node:
        call = parents.get(id(parent))
        return (
            parent.attr in _COMPUTING_METHODS
            and isinstance(call, ast.Call)
            and call.func is parent
        )
    if isinstance(parent, ast.Subscript) and parent.value is node:
        if isinstance(parent.ctx, ast.Store):
            return True
        return _only_computed_from(parent, parents)
    return False


def _bound_by(statement: ast.stmt) -> set[str]:
    return {
        n.id
        for n in walk_breadth_first(statement)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
    }


def _arithmetic_leaves(value: ast.expr) -> list[str]:
    if isinstance(value, ast.BinOp):
        return _arithmetic_leaves(value.left) + _arithmetic_leaves(value.right)
    if isinstance(value, ast.UnaryOp):
        return _arithmetic_leaves(value.operand)
    return [value.id] if isinstance(value, ast.Name) else []


def _basic_subscript(index: ast.expr) -> ast.expr | None:
    """``index`` (``slice(1, -1)``, a literal integer, ``None``, ``...`` or a tuple of them)
    as subscript syntax, if it is one of those."""
    if isinstance(index, ast.Tuple):
        parts = [_basic_subscript(part) for part in index.elts]
        return None if any(p is None for p in parts) else ast.Tuple(parts, ast.Load())
    if isinstance(index, ast.Constant) and (
        index.value is None or index.value is ... or type(index.value) is int
    ):
        return index
    if (
        isinstance(index, ast.Call)
        and isinstance(index.func, ast.Name)
        and index.func.id == "slice"
        and not index.keywords
        and 1 <= len(index.args) <= 3
        and all(
            isinstance(a, ast.Constant) and (a.value is None or type(a.value) is int)
            for a in index.args
        )
    ):
        bounds = [None if a.value is None else a for a in index.args]
        if len(bounds) == 1:
            return ast.Slice(None, bounds[0], None)
        return ast.Slice(*(bounds + [None] * (3 - len(bounds))))
    return None


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(name, ast.Store())], value)


def _method(receiver: ast.expr, method: str) -> ast.Call:
    return ast.Call(ast.Attribute(receiver, method, ast.Load()), [], [])
