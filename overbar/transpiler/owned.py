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
  result; an operand is known to be an array from shapes, or because the walk saw it hold one:
  an owner, or a name ``a = b`` bound to one's array since) or ``index_bar`` (zeros with a part
  written);
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

An adjoint summed into at every trip (``w_bar = w_bar + r * row``, its first mention in the
body) is carried like a moved one: made the loop's own before it and added to in place. Between
the loops of a block, an adjoint a loop leaves owned (or ``own`` or ``zero_gradient`` makes) is
followed too: later lines add into it in place (``x_bar[:m] += b`` for ``x_bar = x_bar +
index_bar(b, x, slice(None, m))``), a later loop needs no ``own`` for it, its shaping
``adjoint_like(x_bar, x)`` goes, and ``x_bar = 0.0`` ... ``x_bar = own(x_bar, x)`` becomes
``x_bar = zero_gradient(x)`` (``block``). The forward sweep's own sums are written in place
where the user wrote them so (``forward_sums_in_place``).
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.accumulate import (
    added_term,
    basic_subscript,
    rebinds_slice,
    without_sign,
    without_zero_and_restore,
)
from overbar.transpiler.names import clone, walk_breadth_first, with_reverse_cloned
from overbar.transpiler.reverse import Adjoint

_COMPUTING_METHODS = frozenset({"sum", "copy", "mean", "max", "min", "prod", "dot"})


def own_loop_adjoints(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the reverse loops' owned arrays updated in place (see above)."""
    helpers = {value: name for name, value in adjoint.bindings}
    take = helpers.get(runtime.take_and_zero)
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
    facts = _Facts(adjoint, runtime, take, own, taken)
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = facts.block(reverse, frozenset().union(*map(_names, forward), _parameters(adjoint)))
    if not facts.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    bindings = adjoint.bindings
    if runtime.own not in helpers and any(
        isinstance(n, ast.Name) and n.id == own for n in walk_breadth_first(tree)
    ):
        bindings = (*bindings, (own, runtime.own))
    if facts.zeros_used and runtime.zero_gradient not in helpers:
        bindings = (*bindings, (facts.zeros, runtime.zero_gradient))
    if facts.take_in_place_used and runtime.take_in_place not in helpers:
        bindings = (*bindings, (facts.take_in_place, runtime.take_in_place))
    effects = adjoint.effects | ({facts.take_in_place} if facts.take_in_place_used else set())
    return replace(adjoint, tree=tree, bindings=bindings, effects=frozenset(effects))


class _Facts:
    def __init__(self, adjoint: Adjoint, runtime: Runtime, take: str, own: str, taken: set[str]):
        self.adjoint, self.runtime, self.take, self.own = adjoint, runtime, take, own
        self.shapes = dict(adjoint.shapes)
        self.primal = dict(adjoint.adjoints)
        self.maybe_zero = adjoint.maybe_zero
        helpers = {value: name for name, value in adjoint.bindings}
        self.scatter = helpers.get(runtime.index_bar)
        self.zeros = helpers.get(runtime.zero_gradient) or (
            "zero_gradient" if "zero_gradient" not in taken else None
        )
        self.zeros_used = False
        self.shaping = helpers.get(runtime.adjoint_like)
        self.bound_in_reverse = {
            n.id
            for statement in adjoint.tree.body[adjoint.forward_length :]
            for n in walk_breadth_first(statement)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
        }
        self.split = helpers.get(runtime.split_like)
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

    def block(self, statements: list[ast.stmt], outside: frozenset[str]) -> list[ast.stmt]:
        """``statements`` rewritten; ``outside``: the names mentioned anywhere else in the
        function (a loop's adjoint mentioned in none of them is dead when the loop ends).

        Between its loops the block's own statements are followed too (``follow``): an
        adjoint that a loop leaves owned, or that ``own`` or ``zero_gradient`` makes, is added
        to in place by the lines after it, and a later loop that adds to it needs no ``own``.
        """
        result: list[ast.stmt] = []
        mentioned = [_names(statement) for statement in statements]
        owned: set[str] = set()  # names holding an array no other name, list or view holds
        for position, statement in enumerate(statements):
            others = outside.union(*mentioned[:position], *mentioned[position + 1 :])
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    rest = others | _names_outside(statement, field)
                    setattr(statement, field, self.block(inner, rest))
            if isinstance(statement, ast.For) and not statement.orelse:
                loop_outside = others | _names_outside(statement, "body")
                before, statement.body, owned_at_end = self.loop(
                    statement.body, loop_outside, owned
                )
                result.extend(before)
                owned = self.owned_after_loop(statement, owned, owned_at_end)
                result.append(statement)
                continue
            followed = self.follow(statement, owned)
            if followed is not None:
                result.append(followed)
        return self.started_as_zeros(result) if self.zeros is not None else result

    def started_as_zeros(self, block: list[ast.stmt]) -> list[ast.stmt]:
        """``x = 0.0`` and, with nothing mentioning ``x`` between, ``x = own(x, u)`` (``u`` of
        array rank): ``x = zero_gradient(u)`` in the second's place. Identity: ``own`` of the
        runtime zero is ``zero_gradient(u)`` for an array ``u``."""
        result = list(block)
        for position, statement in enumerate(block):
            if not (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and isinstance(statement.value, ast.Constant)
                and type(statement.value.value) is float
                and statement.value.value == 0.0
            ):
                continue
            name = statement.targets[0].id
            later = next(
                (s for s in block[position + 1 :] if _mentions(s, name)),
                None,
            )
            if (
                isinstance(later, ast.Assign)
                and len(later.targets) == 1
                and isinstance(later.targets[0], ast.Name)
                and later.targets[0].id == name
                and isinstance(later.value, ast.Call)
                and isinstance(later.value.func, ast.Name)
                and later.value.func.id == self.own
                and self.makes_owner(name, later.value)
            ):
                later.value = ast.Call(_load(self.zeros), [_load(self.primal[name])], [])
                result = [s for s in result if s is not statement]
                self.changed = self.zeros_used = True
        return result

    def loop(
        self,
        body: list[ast.stmt],
        outside: frozenset[str] = frozenset(),
        owned_before: set[str] = frozenset(),
    ) -> tuple[list[ast.stmt], list[ast.stmt], set[str]]:
        """(statements to put before the loop, the loop's new body, the names it owns at the
        end of every trip); ``outside``: the names mentioned outside the loop's body;
        ``owned_before``: names owned where the loop starts (they need no ``own``)."""
        carried = [
            name
            for name in self.moved_at_the_top(body)
            if self.has_array_rank(name) and self.primal[name] in self.bound_before_loops
        ]
        rewritten, owned_at_end = _Walk(self, body, set(carried), outside).run()
        if rewritten is None:
            return [], body, set()
        kept = [name for name in carried if name in owned_at_end]
        if len(kept) != len(carried):  # a trip would start with an array someone else holds
            rewritten, owned_at_end = _Walk(self, body, set(), outside).run()
            if rewritten is None:
                return [], body, set()
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
            if name not in owned_before
        ]
        return before, rewritten, set(kept)

    def owned_after_loop(self, loop: ast.For, before: set[str], at_end: set[str]) -> set[str]:
        """The names owned after ``loop``: those it owns at the end of every trip (``at_end``:
        made its own before it, or owned already), and those owned before it that its body
        only reads to compute from or adds into a part of (``x[J] += e``), never binds. A
        loop with a ``break`` (a reverse sweep's loops have none) keeps none of them."""
        if any(isinstance(node, ast.Break) for node in walk_breadth_first(loop)):
            return set()
        return (before - kept_by(loop) - _bound_by(loop)) | at_end

    def shaped_already(self, name: str, value: ast.expr) -> bool:
        """``value`` is ``adjoint_like(name, u)``, ``u`` the value ``name`` is the adjoint of,
        which the reverse sweep never rebinds: for an owner ``name`` (made of ``u``'s shape by
        ``own`` or ``zero_gradient``, added to in place since) that is ``name`` itself, for
        ``adjoint_like(g, x)`` returns ``g`` where it has ``x``'s shape."""
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == self.shaping
            and not value.keywords
            and len(value.args) == 2
            and all(isinstance(a, ast.Name) for a in value.args)
            and [a.id for a in value.args] == [name, self.primal.get(name)]
            and self.primal[name] not in self.bound_in_reverse
        )

    def follow(self, statement: ast.stmt, owned: set[str]) -> ast.stmt | None:
        """``statement``, a line of a block outside its loops, rewritten where it adds to an
        owner (``summed_into_owner``); ``owned`` updated to the names owned after it.

        An owner is made by ``x = own(x, u)`` or ``x = zero_gradient(u)`` (``makes_owner``)
        and stays one through adds into it in place; any other binding of it, or a read that
        may keep its array (``kept_by``: an argument, an element, a view, ``a = x``), ends its
        ownership."""
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
            stays = name in owned and isinstance(statement.op, ast.Add | ast.Sub | ast.Mult)
            owned -= kept_by(statement.value) | {name}
            if stays and not _reads(statement.value, name):
                owned.add(name)
            return statement
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            owned -= kept_by(statement) | _bound_by(statement)
            return statement
        name, value = statement.targets[0].id, statement.value
        if name in owned and self.shaped_already(name, value):
            self.changed = True
            return None
        summed = self.summed_into_owner(name, value, owned)
        if summed is not None:
            self.changed = True
            owned -= kept_by(value) - {name}
            return ast.copy_location(summed, statement)
        owned -= kept_by(value) | {name}
        if self.makes_owner(name, value):
            owned.add(name)
        return statement

    def makes_owner(self, name: str, value: ast.expr) -> bool:
        """``name = own(name, u)`` or ``name = zero_gradient(u)``, ``u`` the value ``name``
        is the adjoint of, of array rank: a new array of ``u``'s shape only ``name`` holds."""
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and not value.keywords
            and all(isinstance(a, ast.Name) for a in value.args)
            and self.has_array_rank(name)
        ):
            return False
        arguments = [a.id for a in value.args]
        primal = self.primal.get(name)
        if value.func.id == self.own:
            return arguments == [name, primal]
        return value.func.id == self.zeros and arguments == [primal]

    def summed_into_owner(self, name: str, value: ast.expr, owned: set[str]) -> ast.stmt | None:
        """``x = x + e`` (or ``e + x``), ``x`` an owner that is the adjoint of a forward name
        and ``e`` not reading ``x``: ``x[J] += b`` where ``e`` is ``index_bar(b, u, J)`` with
        ``J`` basic and ``u`` of ``x``'s known shape, else ``x += e``.

        Identities and side conditions as ``_Walk.summed``'s: ``x`` holds an array no one else
        holds, so adding into it changes no other value; the sweep adds into ``x̄`` only terms
        shaped like ``x`` (an operand NumPy broadcast has its adjoint summed by
        ``unbroadcast``), so nothing broadcasts; the sum keeps ``x``'s float dtype, the one
        ``own`` and ``zero_gradient`` give it."""
        if not (
            name in owned
            and name in self.primal
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
        ):
            return None
        term = _other_term(value, name)
        if term is None:
            return None
        if _reads(term, name):
            return None
        if (
            isinstance(term, ast.Call)
            and isinstance(term.func, ast.Name)
            and term.func.id == self.scatter
            and len(term.args) == 3
            and not term.keywords
            and isinstance(term.args[1], ast.Name)
        ):
            subscript = basic_subscript(term.args[2], self.shapes, self.runtime)
            if subscript is not None and self.same_shape(name, term.args[1].id):
                return _added_at(name, subscript, term.args[0])
        return ast.AugAssign(ast.Name(name, ast.Store()), ast.Add(), term)

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
            added_to = _added_to(statement)
            if added_to is not None and added_to not in seen and added_to in self.primal:
                found.append(added_to)  # summed into across trips: ``x = x + e``
            split = self.split_of(statement)
            if split is not None and split[1] not in seen and split[1] in self.primal:
                found.append(split[1])  # cut into pieces, read for nothing else
            taken = self.take_of(statement)
            if taken is not None and taken not in seen and taken in self.primal:
                found.append(taken)  # a part taken out of it, the rest kept in its name
            seen |= names
        return found

    def take_of(self, statement: ast.stmt) -> str | None:
        """``p, g = take_and_zero(g, J)`` (``p`` not ``g``): ``g``."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Tuple)
            and len(statement.targets[0].elts) == 2
            and all(isinstance(e, ast.Name) for e in statement.targets[0].elts)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == self.take
            and len(statement.value.args) == 2
            and isinstance(statement.value.args[0], ast.Name)
        ):
            return None
        part, rest = (e.id for e in statement.targets[0].elts)
        whole = statement.value.args[0].id
        return whole if rest == whole and part != whole else None

    def split_of(self, statement: ast.stmt) -> tuple[list[str], str, list[str]] | None:
        """``a, b, c = split_like(g, (x, y, z), axis=0)`` (or a list display ``[x, y, z]``)
        with names only, the targets distinct and not ``g``: ([a, b, c], g, [x, y, z])."""
        if not (
            self.split is not None
            and isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Tuple)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == self.split
        ):
            return None
        call, targets = statement.value, statement.targets[0].elts
        axis = [k.value for k in call.keywords if k.arg == "axis"]
        if not (
            len(call.args) == 2
            and [k.arg for k in call.keywords] == ["axis"]
            and _integer(axis[0]) == 0
            and isinstance(call.args[0], ast.Name)
            and isinstance(call.args[1], ast.Tuple | ast.List)  # as the user wrote the join
            and all(isinstance(e, ast.Name) for e in call.args[1].elts)
            and all(isinstance(t, ast.Name) for t in targets)
            and len(targets) == len(call.args[1].elts)
        ):
            return None
        parts = [t.id for t in targets]
        whole = call.args[0].id
        if len(set(parts)) != len(parts) or whole in parts:
            return None
        return parts, whole, [e.id for e in call.args[1].elts]

    def regions(self, pieces: list[str], rank: int | None = None) -> list[ast.expr] | None:
        """The parts of the first axis of a join that the joined ``pieces`` fill, as constant
        slices (``[:1]``, ``[1:-1]``, ``[-1:]``), where shape inference knows every piece's
        length as a function of one origin's (or as a constant) and these slices select
        exactly the pieces' places at every length that origin may have: checked on every one
        of ``shapes.LENGTHS`` where the lengths are known, the two largest among them, and
        with bounds no larger than ``shapes.LARGEST_BOUND``, so that past those lengths no
        bound is clamped and every place is constant or grows with the length, as it does
        between the two largest (agreeing there, they agree at every larger length). A piece
        of one dimension fewer than the join's ``rank`` (a number ``np.hstack`` joined, which
        ``split_like`` gives one element of the join) fills one place: an integer (``[0]``,
        ``[-1]``)."""
        shapes = self.runtime.shapes
        tables = []
        elements = set()
        for position, piece in enumerate(pieces):
            dims = shapes.dims(self.shapes.get(piece))
            if dims is not None and rank is not None and len(dims) == rank - 1:
                elements.add(position)
                tables.append(shapes.length_table(1))
                continue
            table = None if not dims else shapes.length_table(dims[0])
            if table is None:
                return None
            tables.append(table)
        if len({origin for origin, _ in tables if origin is not None}) > 1:
            return None
        columns = list(zip(*(lengths for _, lengths in tables), strict=True))
        usable = [column for column in columns if None not in column]
        if len(usable) < 2 or None in columns[-1] or None in columns[-2]:
            return None
        large, larger = usable[-2], usable[-1]
        growing = [b - a for a, b in zip(large, larger, strict=True)]
        if any(g not in (0, 1) for g in growing) or sum(growing) > 1:
            return None
        constant = list(larger)
        bounds: list[ast.expr] = []
        for position in range(len(pieces)):
            low = self.bound(position, growing, constant)
            high = self.bound(position + 1, growing, constant)
            if low is None or high is None:
                return None
            if any(abs(b[1] or 0) > shapes.LARGEST_BOUND for b in (low, high)):
                return None
            if position in elements:  # one place: where it starts, from the start or the end
                if not any(growing[:position]):
                    place = sum(constant[:position])
                elif not any(growing[position:]):
                    place = -sum(constant[position:])
                else:
                    return None
                bounds.append(_integer_node(place))
                for column in usable:
                    if range(sum(column))[place] != sum(column[:position]):
                        return None
                continue
            bounds.append(ast.Slice(low[0], high[0], None))
            for column in usable:
                total = sum(column)
                start = sum(column[:position])
                want = range(start, start + column[position])
                if range(total)[slice(low[1], high[1])] != want:
                    return None
        return bounds

    @staticmethod
    def bound(position: int, growing: list[int], constant: list[int]):
        """The boundary before piece ``position`` counted from the start of the join where no
        piece before it grows, else from its end: (its syntax, its value as a bound)."""
        if not any(growing[:position]):
            offset = sum(constant[:position])
            return (None if offset == 0 else ast.Constant(offset)), (offset or None)
        if not any(growing[position:]):
            offset = -sum(constant[position:])
            if offset == 0:
                return None, None
            return ast.UnaryOp(ast.USub(), ast.Constant(-offset)), offset
        return None

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
        """An array NumPy allocates anew: arithmetic with an array operand (one known to be an
        array, or one of ``owned``: names the walk knows hold arrays), or a scatter."""
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

    def __init__(
        self,
        facts: _Facts,
        body: list[ast.stmt],
        owned: set[str],
        outside: frozenset[str] = frozenset(),
    ):
        self.facts, self.body, self.owned, self.outside = facts, body, set(owned), outside
        self.result: list[ast.stmt] = []
        self.scattered: dict[str, ast.stmt] = {}  # an owner bound by a scatter -> that line
        self.emptied: set[str] = set()  # owners this walk takes parts out of, in place
        self.cuts: list[tuple[ast.stmt, list[ast.stmt]]] = []  # a split, the takes it became
        self.arrays: set[str] = set(owned)  # names surely holding an array, owned or not

    def run(self) -> tuple[list[ast.stmt] | None, set[str]]:
        result = self.result
        changed = False
        for position, statement in enumerate(self.body):
            replacement = self.step(position, statement)
            if replacement is not None:
                result.extend(replacement)
                changed = True
            else:
                result.append(statement)
            self.note_scatter(statement, replacement)
        if changed:
            for name in list(self.scattered):
                self.reassemble(name)
            self.uncut()
            result = _without_unread_takes(
                without_zero_and_restore(self.result, self.outside), self.outside
            )
            if len(result) == len(self.body) and all(
                a is b for a, b in zip(result, self.body, strict=True)
            ):
                changed = False  # every split cut into takes was put back
        return (result if changed else None), self.owned

    def position(self, line: ast.stmt) -> int:
        """Where ``line`` (this very statement) is in the result so far."""
        return next(p for p, statement in enumerate(self.result) if statement is line)

    def uncut(self) -> None:
        """The splits whose takes ``reassemble`` did not use put back as they were (views,
        no copies): the takes cost more than the split where nothing adds them back."""
        for original, lines in self.cuts:
            present = {id(line) for line in self.result}
            if not all(id(line) in present for line in lines):
                continue  # used: its zeroings are gone
            first = next(p for p, line in enumerate(self.result) if line is lines[0])
            self.result[first : first + len(lines)] = [original]

    def reassemble(self, name: str) -> None:
        """``x = index_bar(b, u, K)`` filled with parts taken out of an owner ``y`` that the
        takes empty: ``y``'s array itself, with the contributions added in place.

        Before and after (the adjoint of ``y = np.zeros_like(u)`` with every part written)::

            p = y[1:-1].copy()              p = y[1:-1].copy()
            y[1:-1] = 0.0
            x = index_bar(b, u, K)          y[K] += b
                                            x = y
            x[1:-1] += p
            q = y[-1].copy()
            y[-1] = 0.0
            x[-1] += q
            r = y[0].copy()
            y[0] = 0.0
            x[0] += r

        Identity: taking the parts ``Jᵢ`` out of ``y`` in turn (each ``pᵢ`` a copy of what is
        left at ``Jᵢ``, then zeroed) and adding each back into ``x`` at its own ``Jᵢ`` adds
        every element of ``y`` into ``x`` once, where the ``Jᵢ`` together cover ``y``'s first
        axis: so ``x`` ends as ``y`` plus the contributions, computed in ``y``'s array. The sum
        is the same up to rounding (``y`` first) and up to ``y``'s dtype. Side conditions:

        - ``y`` is an owner this walk took the parts out of in place (``p = y[J].copy()``,
          ``y[J] = 0.0``), mentioned after its first take by takes only, dead when the body
          ends, surely an array; ``x``, ``y`` and ``u`` of one known shape; ``K`` basic;
        - the ``Jᵢ`` are basic, their first parts constant slices (step 1) or integers, the
          rest ``:``, and they chain from the start of the axis to its end (each one starts
          where another ends, in the same terms: ``[0]``, ``[1:-1]``, ``[-1]``), so that they
          cover it at every length;
        - each ``pᵢ`` is added back exactly once, ``x[Jᵢ] += pᵢ`` with the same index; a take
          after the scatter is read by its add-back only (it is dropped with it), or is read
          elsewhere, never written into, and copies what it copied before (its copy stays:
          ``copied_as_it_was``; it is then disjoint from every other take at every length); a
          take before it may be read elsewhere, never written into, and those takes are
          disjoint at every length (so no zeroing changed what a later one copies): read from
          their bounds, or known as the pieces of one split (``cut_into_takes``);
        - the scatter's own contribution may be one of the parts taken before it, put back at
          its own place (the adjoint of ``np.concatenate``): the scatter is its add-back then;
        - ``y`` may be ``x`` itself (the join's adjoint cut into pieces, then rebound by the
          scatter): its old array is then unreachable after the scatter, so it need not be
          dead when the body ends, but every take comes before the scatter;
        - after the scatter, ``x`` is mentioned only as the target of ``x[K] += c`` (or
          ``-=``), ``K`` and ``c`` not mentioning it.
        """
        facts, result = self.facts, self.result
        where = self.position(self.scattered[name])
        scatter = result[where]
        contribution, like, index = scatter.value.args
        takes = _takes(result)
        for array in sorted({array for array, *_ in takes.values()} & self.emptied):
            mine = {start: take for start, take in takes.items() if take[0] == array}
            mentions = [p for p, s in enumerate(result) if _mentions(s, array)]
            first = min(mine)
            taken_lines = {start for start in mine} | {start + 1 for start in mine}
            # the scatter rebinding the owner's own name: its old array is unreachable after
            same = array == name
            if any(
                p >= first and p not in taken_lines and not (same and p >= where) for p in mentions
            ):
                continue
            if not (
                facts.has_array_rank(array)  # an owner when taken: an array
                and facts.same_shape(name, array)
                and facts.same_shape(array, like.id)
                and (same and max(mine) < where or self.dead_at_the_top(array))
                and not _reads(contribution, name)
                and not _reads(contribution, array)
                and _covers([take[2] for take in mine.values()])
            ):
                continue
            # the scatter itself may put a taken part back at its own place
            scattered_back = next(
                (
                    start
                    for start, (_, part, region) in mine.items()
                    if isinstance(contribution, ast.Name)
                    and contribution.id == part
                    and start < where
                    and _basic_subscript(index) is not None
                    and _same_index(_basic_subscript(index), region)
                ),
                None,
            )
            after = result[where + 1 :]
            if not all(_only_added_into(statement, name) for statement in after):
                continue
            dropped: set[int] = set()
            early: list[int] = []
            late: list[int] = []  # takes after the scatter read elsewhere: their copies stay
            for start, (_, part, region) in sorted(mine.items()):
                backs = [
                    p
                    for p in range(where + 1, len(result))
                    if p != start and _adds_back_at(result[p], name, region, part)
                ]
                readers = [
                    p
                    for p, s in enumerate(result)
                    if p not in (start, *backs) and _mentions(s, part)
                ]
                if start == scattered_back:
                    readers = [p for p in readers if p != where]
                    backs = [where]
                if len(backs) != 1 or backs[0] < start or part in self.outside:
                    break
                if start > where and readers:
                    if not self.copied_as_it_was(where, start, name, region, index, mine):
                        break
                    late.append(start)
                if any(not _only_read(result[p], part) for p in readers):
                    break
                dropped |= {start + 1} | ({backs[0]} if backs[0] != where else set())
                if not readers:
                    dropped.add(start)
                if start < where:
                    early.append(start)
            else:
                if not all(
                    _disjoint([mine[start][2], take[2]])
                    for start in late
                    for other, take in mine.items()
                    if other != start
                ):
                    continue
                one_cut = any(
                    all(id(result[start]) in {id(line) for line in lines} for start in early)
                    for _, lines in self.cuts
                )  # the pieces of one split: disjoint by construction
                if not (one_cut or _disjoint([mine[start][2] for start in early])):
                    continue
                subscript = _basic_subscript(index)
                added = ast.copy_location(_added_at(array, subscript, contribution), scatter)
                moved = ast.copy_location(_assign(name, _load(array)), scatter)
                instead = ([] if scattered_back is not None else [added]) + (
                    [] if same else [moved]
                )
                self.result[:] = [
                    line
                    for p, statement in enumerate(result)
                    if p not in dropped
                    for line in (instead if p == where else [statement])
                ]
                del self.scattered[name]
                return

    def copied_as_it_was(
        self, where: int, start: int, name: str, region: ast.expr, index: ast.expr, mine: dict
    ) -> bool:
        """Whether the copy ``p = y[J].copy()`` at ``start``, after the scatter at ``where``
        of ``x = index_bar(b, u, K)``, copies the same values once the scatter is written
        into ``y``'s array (``reassemble``): ``K`` and ``J`` are disjoint at every length, and
        every statement between that mentions ``x`` adds into a part of it disjoint from
        ``J`` at every length (``x[K'] += c``), or is the add-back of another take (dropped
        with it). Then nothing added into ``y``'s array before the copy falls in ``J``; the
        other takes are disjoint from ``J`` too (checked by the caller), so no zeroing dropped
        falls there, and dropping this one's changes no other copy."""
        scattered = _basic_subscript(index)
        if scattered is None or not _disjoint([scattered, region]):
            return False
        adds_back = {
            p
            for p in range(where + 1, start)
            for other, (_, part, place) in mine.items()
            if other != start and _adds_back_at(self.result[p], name, place, part)
        }
        for p in range(where + 1, start):
            statement = self.result[p]
            if p in adds_back or not _mentions(statement, name):
                continue
            if not (
                isinstance(statement, ast.AugAssign)
                and isinstance(statement.target, ast.Subscript)
                and _disjoint([statement.target.slice, region])
            ):
                return False
        return True

    def note_scatter(self, statement: ast.stmt, replacement: list[ast.stmt] | None) -> None:
        """Remember where an owner was bound by ``x = index_bar(b, u, J)`` (``J`` basic)
        (``x += c`` adds into that array: ``x`` still holds it)."""
        added_in_place = isinstance(statement, ast.AugAssign) and isinstance(
            statement.target, ast.Name
        )
        for name in _bound_by(statement) if not added_in_place else ():
            self.scattered.pop(name, None)
        if (
            replacement is None
            and isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in self.owned
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == self.facts.scatter
            and len(statement.value.args) == 3
            and not statement.value.keywords
            and isinstance(statement.value.args[1], ast.Name)
            and _basic_subscript(statement.value.args[2]) is not None
        ):
            self.scattered[statement.targets[0].id] = self.result[-1]

    def step(self, position: int, statement: ast.stmt) -> list[ast.stmt] | None:
        facts, owned = self.facts, self.owned
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Subscript):
            owned -= kept_by(statement.value)
            owned -= kept_by(statement.target.slice)
            return None
        if (
            isinstance(statement, ast.AugAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(statement.op, ast.Add)
        ):  # ``x += y`` (``accumulate``'s ``x = x + y``): the same sum, the same rewrite
            name = statement.target.id
            summed = ast.BinOp(_load(name), ast.Add(), statement.value)
            into_dead = self.scattered_into_dead(position, name, summed)
            if into_dead is not None:
                return [ast.copy_location(into_dead, statement)]
        if (
            isinstance(statement, ast.AugAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id in owned
            and isinstance(statement.op, ast.Add | ast.Sub | ast.Mult)
        ):  # in place into the owner's array (an owner is an array): it still owns it
            owned -= kept_by(ast.BinOp(_load(statement.target.id), statement.op, statement.value))
            owned.add(statement.target.id)
            return None
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            owned -= kept_by(statement)
            owned -= _bound_by(statement)
            self.arrays -= _bound_by(statement)
            return None
        target, value = statement.targets[0], statement.value
        taken = self.taken(position, target, value)
        if taken is not None:
            return taken
        cut = self.cut_into_takes(position, statement)
        if cut is not None:
            return cut
        if not isinstance(target, ast.Name):
            owned -= kept_by(statement)
            owned -= _bound_by(statement)
            self.arrays -= _bound_by(statement)
            return None
        name = target.id
        if isinstance(value, ast.Name):
            moved = value.id in owned and self.dead_after(value.id, position)
            owned.discard(value.id)
            owned.discard(name)
            if moved:
                owned.add(name)
            if value.id in self.arrays:  # both names hold that array now
                self.arrays.add(name)
            else:
                self.arrays.discard(name)
            return None
        into_dead = self.scattered_into_dead(position, name, value)
        if into_dead is not None:
            return [ast.copy_location(into_dead, statement)]
        summed = self.summed(name, value)
        if summed is not None:
            owned -= kept_by(value) - {name}
            return [ast.copy_location(summed, statement)]
        fresh = facts.is_fresh(value, owned | self.arrays)
        owned -= kept_by(value)
        owned.discard(name)
        self.arrays.discard(name)
        if fresh:
            owned.add(name)
            self.arrays.add(name)
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
        elif subscript is not None:
            self.emptied.add(array)
        self.owned.discard(part)
        self.owned.add(rest)
        return lines

    def cut_into_takes(self, position: int, statement: ast.stmt) -> list[ast.stmt] | None:
        """``a, b, c = split_like(g, (x, y, z), axis=0)`` for an owner ``g`` dead after it,
        whose pieces' places are known constant slices: the pieces taken out of ``g`` in
        place (``a = g[:1].copy()``, ``g[:1] = 0.0``, ...), for ``reassemble`` to add them
        back where the join's adjoint puts them; put back as it was where it does not.

        Identity: ``split_like`` cuts ``g`` into the pieces at those places (views, which
        become copies: the same values); zeroing ``g`` there is unobservable, for no one else
        holds ``g``'s array and ``g`` is not read again."""
        split = self.facts.split_of(statement)
        if split is None:
            return None
        parts, whole, pieces = split
        if not (
            whole in self.owned  # so an array: ``own`` makes the runtime zero zeros
            and self.facts.has_array_rank(whole)
            and self.dead_after(whole, position)
        ):
            return None
        regions = self.facts.regions(pieces, self.facts.rank(whole))
        if regions is None:
            return None
        lines: list[ast.stmt] = []
        for part, region in zip(parts, regions, strict=True):
            place = ast.Subscript(_load(whole), region, ast.Load())
            lines.append(ast.copy_location(_assign(part, _method(place, "copy")), statement))
            zero = ast.Assign(
                [ast.Subscript(_load(whole), clone(region), ast.Store())], ast.Constant(0.0)
            )
            lines.append(ast.copy_location(zero, statement))
        self.owned -= set(parts)
        self.emptied.add(whole)
        self.cuts.append((statement, lines))
        return lines

    def summed(self, name: str, value: ast.expr) -> ast.stmt | None:
        """``x = x + y`` for an owner x of y's shape: ``x += y``; ``x = x + index_bar(b, u,
        J)`` for an owner ``x`` of ``u``'s shape and a basic ``J``: ``x[J] += b``; ``x = x +
        e`` (or ``e + x``) for an owner ``x`` that is the adjoint of a forward name, ``e`` not
        reading ``x``: ``x += e``.

        Identities: ``x + y`` is ``x`` with ``y`` added, written into ``x``'s array, which no
        one else holds; ``x + index_bar(b, u, J)`` is ``x`` with ``b`` added at ``J`` (a basic
        index names each element once). The sweep adds into the adjoint ``v̄`` of a forward
        name ``v`` only terms shaped like ``v`` (each rule returns an operand's adjoint in the
        operand's shape; ``unbroadcast`` sums an operand NumPy broadcast): so ``e`` has
        ``x``'s shape, and an in-place add, which cannot change its target's shape, gives the
        sum's values. The values are the same up to ``x``'s dtype (a float64 term added into
        a float32 ``x`` stays float32, the input's)."""
        if not (
            name in self.owned and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
        ):
            return None
        term = _other_term(value, name)
        if term is None:
            return None
        if isinstance(term, ast.Name) and self.facts.same_shape(name, term.id):
            return ast.AugAssign(ast.Name(name, ast.Store()), ast.Add(), _load(term.id))
        scattered = self.scattered_term(name, term)
        if scattered is not None:
            return scattered
        if name in self.facts.primal and not _reads(term, name):
            return ast.AugAssign(ast.Name(name, ast.Store()), ast.Add(), term)
        return None

    def scattered_term(self, name: str, term: ast.expr) -> ast.stmt | None:
        """``x[J] += b`` for a term ``index_bar(b, u, J)`` added into the owner ``x`` of
        ``u``'s shape, ``J`` basic and ``b`` not reading ``x`` (see ``summed``)."""
        facts = self.facts
        if not (
            isinstance(term, ast.Call)
            and isinstance(term.func, ast.Name)
            and term.func.id == facts.scatter
            and len(term.args) == 3
            and not term.keywords
            and isinstance(term.args[1], ast.Name)
        ):
            return None
        contribution, like, index = term.args
        subscript = _basic_subscript(index)
        if subscript is None or not facts.same_shape(name, like.id) or _reads(contribution, name):
            return None
        return _added_at(name, subscript, contribution)

    def scattered_into_dead(self, position: int, name: str, value: ast.expr) -> ast.stmt | None:
        """``x = x + y`` (or ``y + x``) where ``x`` was made by ``x = index_bar(b, u, J)`` and
        ``y`` is an owner dead after this line: the scatter written into ``y``'s array.

        Before and after::

            x = index_bar(b, u, J)          y[J] += b
            x[K] += c                       y[K] += c
            ...                             ...
            x = x + y                       x = y

        Identity: ``index_bar(b, u, J)`` is zeros of ``u``'s shape with ``b`` put at ``J``, so
        ``x + y`` is ``y`` with every contribution added at its place; adding them into
        ``y``'s array instead of a new one changes no other value when no one else holds it.
        The sum is the same up to rounding (``y`` comes first instead of last) and up to
        ``y``'s dtype (a float64 ``b`` added into a float32 ``y`` stays float32). Side
        conditions:

        - ``y`` is an owner (one name holds its array: no other name, list or view) and is
          dead after this line (not read before it is bound anew, in this trip or the next,
          and not mentioned outside the loop), and surely an array, not the runtime zero;
        - ``x``, ``y`` and ``u`` have one known shape (nothing broadcasts in ``x + y``) and
          ``J`` is basic (an index array's repeats add up in ``index_bar``, not in ``+=``);
        - between the scatter and this line nothing mentions ``y``, and ``x`` is mentioned
          only as the target of ``x[K] += c`` or ``x[K] -= c`` with ``K`` and ``c`` not
          reading ``x`` (so renaming ``x`` to ``y`` there reads and writes the same values).
        """
        facts = self.facts
        if not (
            isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and isinstance(value.right, ast.Name)
            and name in self.scattered
        ):
            return None
        left, right = value.left.id, value.right.id
        if left == right or name not in (left, right):
            return None
        other = right if left == name else left
        where = self.position(self.scattered[name])
        scatter = self.result[where]
        contribution, like, index = scatter.value.args
        if not (
            other in self.owned
            and facts.is_array(other)
            and facts.same_shape(name, other)
            and facts.same_shape(other, like.id)
            and self.dead_after(other, position, through_the_end=True)
            and not _reads(contribution, name)
        ):
            return None
        between = self.result[where + 1 :]
        if any(_mentions(statement, other) for statement in between):
            return None
        if not all(_only_added_into(statement, name) for statement in between):
            return None
        subscript = _basic_subscript(index)
        self.result[where] = ast.copy_location(_added_at(other, subscript, contribution), scatter)
        for statement in between:
            if _mentions(statement, name):
                _retargeted(statement, other)
        self.owned.discard(other)
        self.owned.add(name)
        del self.scattered[name]
        return _assign(name, _load(other))

    def dead_after(self, name: str, position: int, through_the_end: bool = False) -> bool:
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
        return through_the_end and self.dead_at_the_top(name)

    def dead_at_the_top(self, name: str) -> bool:
        """``name`` is mentioned nowhere outside the loop, and the body binds it before
        anything reads it (its first mention is ``name = E``, ``E`` not reading it, at the top
        level of the body): its value at the end of a trip is never read."""
        if name in self.outside:
            return False
        for statement in self.body:
            if not _mentions(statement, name):
                continue
            return (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == name
                and not _reads(statement.value, name)
            )
        return False


def _other_term(value: ast.BinOp, name: str) -> ast.expr | None:
    """In ``name + e`` or ``e + name`` (``name`` on one side only): ``e``."""
    sides = [value.left, value.right]
    mine = [side for side in sides if isinstance(side, ast.Name) and side.id == name]
    if len(mine) != 1:
        return None
    return sides[1] if sides[0] is mine[0] else sides[0]


def _added_to(statement: ast.stmt) -> str | None:
    """``x = x + e`` or ``x = e + x``, ``e`` not reading ``x``: ``x``."""
    found = added_term(statement)
    if found is None or _reads(found[1], found[0]):
        return None
    return found[0]


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(node))


_reads = _mentions


def _only_added_into(statement: ast.stmt, name: str) -> bool:
    """``statement`` does not mention ``name``, or is ``name[K] += c`` (or ``-=``) with ``K``
    and ``c`` not mentioning it, or ``name += c`` (or ``-=``) with ``c`` not mentioning it
    (in place into ``name``'s array, which keeps its shape: NumPy raises rather than
    broadcast the target of an in-place add)."""
    if not _mentions(statement, name):
        return True
    if not (isinstance(statement, ast.AugAssign) and isinstance(statement.op, ast.Add | ast.Sub)):
        return False
    if isinstance(statement.target, ast.Name):
        return statement.target.id == name and not _mentions(statement.value, name)
    return (
        isinstance(statement.target, ast.Subscript)
        and isinstance(statement.target.value, ast.Name)
        and statement.target.value.id == name
        and not _mentions(statement.target.slice, name)
        and not _mentions(statement.value, name)
    )


def _retargeted(statement: ast.AugAssign, name: str) -> None:
    """``statement`` (``x[K] += c`` or ``x += c``) made to add into ``name`` instead."""
    if isinstance(statement.target, ast.Name):
        statement.target = ast.Name(name, ast.Store())
    else:
        statement.target.value = _load(name)


def _takes(block: list[ast.stmt]) -> dict[int, tuple[str, str, ast.expr]]:
    """Where ``p = y[J].copy()`` is followed by ``y[J] = 0.0``: (y, p, J) by position."""
    found = {}
    for position, (statement, following) in enumerate(zip(block, block[1:], strict=False)):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and statement.value.func.attr == "copy"
            and not statement.value.args
            and isinstance(statement.value.func.value, ast.Subscript)
            and isinstance(statement.value.func.value.value, ast.Name)
        ):
            continue
        region = statement.value.func.value
        array, part = region.value.id, statement.targets[0].id
        if (
            part != array
            and isinstance(following, ast.Assign)
            and len(following.targets) == 1
            and isinstance(following.targets[0], ast.Subscript)
            and isinstance(following.targets[0].value, ast.Name)
            and following.targets[0].value.id == array
            and ast.dump(following.targets[0].slice) == ast.dump(region.slice)
            and isinstance(following.value, ast.Constant)
            and following.value.value == 0.0
        ):
            found[position] = (array, part, region.slice)
    return found


def _adds_back_at(statement: ast.stmt, array: str, region: ast.expr, part: str) -> bool:
    """``array[region] += part``."""
    return (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add)
        and isinstance(statement.target, ast.Subscript)
        and isinstance(statement.target.value, ast.Name)
        and statement.target.value.id == array
        and _same_index(statement.target.slice, region)
        and isinstance(statement.value, ast.Name)
        and statement.value.id == part
    )


def _same_index(a: ast.expr, b: ast.expr) -> bool:
    """Whether two indices select the same part: the same syntax, or the same part of the
    first axis with every other axis taken whole (``-1`` written as a constant or negated)."""
    if ast.dump(a) == ast.dump(b):
        return True
    first, second = _interval(a), _interval(b)
    return first is not None and first == second


def _only_read(statement: ast.stmt, name: str) -> bool:
    """``statement`` reads ``name`` and cannot write into its array: an assignment to other
    names (or a tuple of them), an addition into a part of another array, or ``rows.append(name)``.
    """
    if isinstance(statement, ast.Assign):
        bound = [
            e
            for t in statement.targets
            for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        ]
        return all(isinstance(t, ast.Name) and t.id != name for t in bound)
    if isinstance(statement, ast.AugAssign):
        return isinstance(statement.target, ast.Subscript) and not _mentions(
            statement.target, name
        )
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "append"
        and isinstance(statement.value.func.value, ast.Name)
        and statement.value.func.value.id != name
        and all(isinstance(a, ast.Name) for a in statement.value.args)
    )


def _integer(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _interval(index: ast.expr) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """The part of the first axis ``index`` selects, as bounds counted from the start
    ("start", k) or from the end ("end", k) of the axis (a negative index counts from the
    end, as NumPy reads it); None where that is not what the index says, or where the other
    axes are not taken whole."""
    if isinstance(index, ast.Tuple):
        if not index.elts or not all(
            isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None
            for e in index.elts[1:]
        ):
            return None
        index = index.elts[0]

    def bound(node: ast.expr | None, missing: tuple[str, int]) -> tuple[str, int] | None:
        if node is None or (isinstance(node, ast.Constant) and node.value is None):
            return missing
        k = _integer(node)
        if k is None:
            return None
        return ("end", k) if k < 0 else ("start", k)

    if isinstance(index, ast.Slice):
        if index.step is not None and _integer(index.step) != 1:
            return None
        low, high = bound(index.lower, ("start", 0)), bound(index.upper, ("end", 0))
        return None if low is None or high is None else (low, high)
    k = _integer(index)
    if k is None:
        return None
    return (("end", k), ("end", k + 1)) if k < 0 else (("start", k), ("start", k + 1))


def _covers(indices: list[ast.expr]) -> bool:
    """Whether the parts ``indices`` select cover the first axis at every length: they chain
    from its start to its end, each starting where another ends (the same bound, counted from
    the same end). Then every position lies in one link of the chain, clamped or not."""
    intervals = [_interval(index) for index in indices]
    if any(i is None for i in intervals):
        return False
    reached, unused = ("start", 0), list(intervals)
    while reached != ("end", 0):
        link = next((i for i in unused if i[0] == reached), None)
        if link is None:
            return False
        unused.remove(link)
        reached = link[1]
    return True


def _disjoint(indices: list[ast.expr]) -> bool:
    """Whether no two of the parts ``indices`` share a position at any length: one ends
    before the other starts, both bounds counted from the same end."""
    intervals = [_interval(index) for index in indices]
    if any(i is None for i in intervals):
        return False

    def before(a, b) -> bool:
        return a[1][0] == b[0][0] and a[1][1] <= b[0][1]

    return all(
        before(a, b) or before(b, a)
        for position, a in enumerate(intervals)
        for b in intervals[position + 1 :]
    )


def _added_at(array: str, subscript: ast.expr, contribution: ast.expr) -> ast.stmt:
    """``array[subscript] += contribution`` (``-= c`` for a contribution ``-c``)."""
    operator: ast.operator = ast.Add()
    positive = without_sign(contribution)
    if positive is not None:  # x + -b is x - b, and (-a) * b is -(a * b), exactly
        operator, contribution = ast.Sub(), positive
    return ast.AugAssign(
        ast.Subscript(_load(array), subscript, ast.Store()), operator, contribution
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in walk_breadth_first(node) if isinstance(n, ast.Name)}


def _names_outside(statement: ast.stmt, field: str) -> set[str]:
    """The names ``statement`` mentions outside its block ``field`` (a loop's target and
    iterable, a branch's test, its other block)."""
    inside = {id(n) for s in getattr(statement, field) for n in walk_breadth_first(s)}
    return {
        n.id
        for n in walk_breadth_first(statement)
        if isinstance(n, ast.Name) and id(n) not in inside
    }


def _parameters(adjoint: Adjoint) -> set[str]:
    arguments = adjoint.tree.args
    return {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}


def kept_by(node: ast.AST) -> set[str]:
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


def _without_unread_takes(block: list[ast.stmt], outside: frozenset[str]) -> list[ast.stmt]:
    """The block without the copies ``p = y[J].copy()`` of a take (``y[J] = 0.0`` after it)
    whose ``p`` nothing reads, in the block or outside it: the adjoint of a constant written
    into ``y`` (``laplacian[0] = 0.0``), which no one adds anywhere.

    Identity: a copy no one reads changes nothing observed (reading ``y[J]`` raises nowhere:
    ``J`` is where the forward sweep wrote into an array of ``y``'s shape). Side conditions:
    ``p`` is mentioned by no other statement of the block (at any depth) and by nothing
    outside it; the zeroing stays."""
    takes = _takes(block)
    mentioned = Counter(
        node.id
        for statement in block
        for node in walk_breadth_first(statement)
        if isinstance(node, ast.Name)
    )
    unread = {
        position
        for position, (_, part, _) in takes.items()
        if mentioned[part] == 1 and part not in outside
    }
    return [statement for position, statement in enumerate(block) if position not in unread]


def _integer_node(value: int) -> ast.expr:
    """A literal integer as NumPy's index syntax writes it (``-1``: a negated literal)."""
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(name, ast.Store())], value)


def _method(receiver: ast.expr, method: str) -> ast.Call:
    return ast.Call(ast.Attribute(receiver, method, ast.Load()), [], [])


def forward_sums_in_place(adjoint: Adjoint, user: ast.FunctionDef) -> Adjoint:
    """The forward sweep's ``y = y + e`` written ``y += e`` where the user wrote ``y += e``
    and the forward sweep owns ``y``'s array there.

    Before and after (a filter's taps summed into one output)::

        y = tmp4 * tmp5                     y = tmp4 * tmp5
        for k in tmp7:                      for k in tmp7:
            ...                                 ...
            y = y + tmp8 * tmp10                y += tmp8 * tmp10

    Identity: ``y += e`` is ``y + e`` written into ``y``'s array, so where no other name, list,
    view or push holds that array, no value but ``y``'s changes, and ``y`` is the same. Side
    conditions:

    - the user's line at that place is ``y += e`` (``-=`` or ``*=``: normalising wrote it as
      ``y = y + e``), the same name: the user's function updates ``y`` in place there, in its
      dtype and shape (where ``e`` would widen ``y``'s dtype or grow its shape, the user's
      line raises or keeps ``y``'s dtype, and so does this one), so the sweep computes what
      the user's function computes;
    - ``y`` is owned there (``_ForwardWalk``): bound by arithmetic with an array operand (a new
      array) and read since only to compute from (``kept_by``): not pushed on the stack, not
      appended, not bound to another name or taken a view of; through a loop, owned at the top
      of every trip (owned before it and at the end of its body); ``e`` does not read ``y``.

    The reverse sweep reads ``y`` only as the forward sweep leaves it (an old value it needs is
    pushed, which ends the ownership), so it reads the same values.
    """
    augmented = {
        (node.lineno, node.col_offset): (node.target.id, type(node.op))
        for node in ast.walk(user)
        if isinstance(node, ast.AugAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(node.op, ast.Add | ast.Sub | ast.Mult)
    }
    if not augmented:
        return adjoint
    body = with_reverse_cloned(adjoint.tree, 0)  # every statement a copy
    forward = body[: adjoint.forward_length]
    walk = _ForwardWalk(adjoint, augmented)
    walk.block(forward, set(), apply=True)
    if not walk.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = body
    return replace(adjoint, tree=tree)


class _ForwardWalk:
    """Ownership through the forward sweep's statements, and the in-place sums it allows."""

    def __init__(self, adjoint: Adjoint, augmented: dict[tuple[int, int], tuple[str, type]]):
        self.augmented = augmented
        self.shapes = dict(adjoint.shapes)
        self.changed = False

    def is_array(self, name: str) -> bool:
        shape = self.shapes.get(name)
        return isinstance(shape, tuple) and len(shape) >= 1

    def block(self, statements: list[ast.stmt], owned: set[str], apply: bool) -> set[str]:
        """The names owned after ``statements``, from those ``owned`` before; with ``apply``
        the sums the walk allows are rewritten in place in ``statements``."""
        owned = set(owned)
        for position, statement in enumerate(statements):
            if isinstance(statement, ast.For) and not statement.orelse:
                owned = self.loop(statement, owned, apply)
                continue
            if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                owned -= kept_by(statement) | _bound_by(statement)
                continue
            target, value = statement.targets[0], statement.value
            if not isinstance(target, ast.Name):
                owned -= kept_by(statement) | _bound_by(statement)
                continue
            name = target.id
            operator = self.augmentation(statement, name, owned)
            if operator is not None:
                owned -= kept_by(value.right)
                if apply:
                    line = ast.AugAssign(ast.Name(name, ast.Store()), operator, value.right)
                    statements[position] = ast.copy_location(line, statement)
                    self.changed = True
                continue
            fresh = isinstance(value, ast.BinOp | ast.UnaryOp) and any(
                leaf in owned or self.is_array(leaf) for leaf in _arithmetic_leaves(value)
            )
            owned -= kept_by(value) | {name}
            if fresh:
                owned.add(name)
        return owned

    def augmentation(self, statement: ast.Assign, name: str, owned: set[str]) -> ast.operator:
        """The operator of ``name = name OP e`` where the user wrote ``name OP= e`` on this
        line, ``name`` is owned and ``e`` does not read it; else None."""
        value = statement.value
        place = (getattr(statement, "lineno", None), getattr(statement, "col_offset", None))
        user = self.augmented.get(place)
        if not (
            user is not None
            and user[0] == name
            and name in owned
            and isinstance(value, ast.BinOp)
            and type(value.op) is user[1]
            and isinstance(value.left, ast.Name)
            and value.left.id == name
            and not _reads(value.right, name)
        ):
            return None
        return value.op

    def loop(self, loop: ast.For, owned: set[str], apply: bool) -> set[str]:
        """The names owned after ``loop``: those owned before it that its body, walked from
        them, owns at its end too (so every trip starts owning them), found by narrowing them
        down until they hold; its target and what it binds otherwise are owned by none."""
        owned = owned - kept_by(loop.iter) - _bound_by(loop.target)
        if any(isinstance(node, ast.Break) for node in walk_breadth_first(loop)):
            return owned - _bound_by(loop) - kept_by(loop)
        carried = set(owned)
        while True:
            at_end = self.block(loop.body, carried, apply=False)
            if carried <= at_end:
                break
            carried &= at_end
        self.block(loop.body, carried, apply=apply)
        outside_loop = owned - _names(loop)
        return outside_loop | carried
