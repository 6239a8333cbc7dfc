"""A list's adjoint held as a Python list through a reverse loop, updated in place.

The adjoint of a list is a tuple with one adjoint per element. A loop that appends to a list and
reads its last element (``hs.append(f(hs[-1]))``) undoes, per step, the append
(``h_bar, hs_bar = split_last(hs_bar)``: the rest copied) and the read
(``hs_bar = add_elementwise(hs_bar, item_bar(g, hs, -1))``: a tuple as long as the list made and
added): work that grows with the list, so T steps cost T². A person keeps one list:

    hs_bar = listed(hs_bar, hs)              # once, before the loop
    for _ in range(trips):
        h_bar = hs_bar.pop()
        ...
        add_item(hs_bar, -1, g)
    hs_bar = tuple(hs_bar)                   # once, after it

Identity: ``split_last(L)`` is (the last element, the others) and ``list.pop()`` returns the
last element and leaves the others; ``add_elementwise(L, item_bar(g, xs, i))`` adds g to
element i of L (``item_bar`` is zeros but for g at i, as long as ``xs``, which is L's length:
``add_elementwise`` takes them element by element) and ``add_item(L, i, g)`` adds it in place.
Side conditions: in the loop's body the name L appears only in those two forms, at the body's
top level (so no other name can hold the list, and nothing reads it but them); the index ``i``
is an integer (a literal, or a name known to hold one), not a slice; ``listed`` makes the list
new (the runtime zero becomes a zero per element of ``xs``, the list the item was read from,
as long as L where the loop starts); after the loop L is a tuple again, as every other reader
of a list's adjoint expects.

A loop that only reads items, with no split (``for i in range(n): p = x * p + cs[i]`` over a
list ``cs``: one ``add_elementwise(L, item_bar(g, cs, i))`` per step, a tuple as long as the list
made and added at each) is the same rewrite. Side conditions: ``xs`` is known to be a tuple or
list (not a dict, whose ``item_bar`` is a dict) and the body names it only in those
``item_bar`` calls, so it keeps the length it has where the loop starts, which is L's (L is the
adjoint of ``xs``, one element per element, or the runtime zero).

A loop that only splits L, with no item read (a list made by appends and summed after the
loop, ``sum(f(x) for x in X)``: ``L = sum_bars(g, xs)`` once, then one ``split_last`` per
step), is the same rewrite with ``xs`` the list L is the adjoint of. Side conditions: the body
pops ``xs`` (``xs.pop()``, at its top level) at least as often as it splits L and names ``xs``
nowhere else, so ``xs`` holds at least as many elements as the loop pops from L where it
starts: where L is the runtime zero, ``listed`` gives a zero for each pop, as ``split_last``
of the runtime zero does.
"""

from __future__ import annotations

import ast
import builtins
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import walk_breadth_first, with_reverse_cloned
from overbar.transpiler.reverse import Adjoint


def own_list_adjoints(adjoint: Adjoint, runtime: Runtime) -> Adjoint:
    """The adjoint with the reverse loops' list adjoints kept as lists (see above)."""
    helpers = {value: name for name, value in adjoint.bindings}
    split, add, item = (
        helpers.get(runtime.split_last),
        helpers.get(runtime.add_elementwise),
        helpers.get(runtime.item_bar),
    )
    if split is None and (add is None or item is None):
        return adjoint
    taken = {n.id for n in walk_breadth_first(adjoint.tree) if isinstance(n, ast.Name)}
    names = {}
    for function, base in ((runtime.listed, "listed"), (runtime.add_item, "add_item")):
        names[base] = helpers.get(function) or (base if base not in taken else None)
    # builtins.tuple under its own name where the function does not use that name
    names["tuple"] = next((n for n in ("tuple", "as_tuple") if n not in taken), None)
    if None in names.values():
        return adjoint
    shapes = dict(adjoint.shapes)
    forms = _Forms(split, add, item, runtime, shapes)
    forms.listed_as = {bar: name for bar, name in adjoint.adjoints}
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = _block(reverse, forms, names)
    if not forms.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    bindings = adjoint.bindings
    for function, base in ((runtime.listed, "listed"), (runtime.add_item, "add_item")):
        if function not in helpers:
            bindings = (*bindings, (names[base], function))
    bindings = (*bindings, (names["tuple"], builtins.tuple))
    return replace(
        adjoint, tree=tree, bindings=bindings, effects=adjoint.effects | {names["add_item"]}
    )


class _Forms:
    def __init__(self, split: str, add: str, item: str, runtime: Runtime, shapes: dict):
        self.split, self.add, self.item = split, add, item
        self.runtime, self.shapes = runtime, shapes
        self.changed = False
        self.listed_as: dict[str, str] = {}  # a list's adjoint: the list

    def popped(self, statement: ast.stmt) -> str | None:
        """xs for ``xs.pop()``, a statement."""
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and statement.value.func.attr == "pop"
            and isinstance(statement.value.func.value, ast.Name)
            and not statement.value.args
            and not statement.value.keywords
        ):
            return statement.value.func.value.id
        return None

    def split_of(self, statement: ast.stmt) -> tuple[str, str] | None:
        """(a, L) for ``a, L = split_last(L)``."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Tuple)
            and len(statement.targets[0].elts) == 2
            and all(isinstance(e, ast.Name) for e in statement.targets[0].elts)
            and _is_call(statement.value, self.split, 1)
            and isinstance(statement.value.args[0], ast.Name)
        ):
            return None
        last, rest = (e.id for e in statement.targets[0].elts)
        adjoint = statement.value.args[0].id
        return (last, adjoint) if rest == adjoint and last != adjoint else None

    def added_item(self, statement: ast.stmt) -> tuple[str, ast.expr, ast.expr, str] | None:
        """(L, g, i, xs) for ``L = add_elementwise(L, item_bar(g, xs, i))``."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and _is_call(statement.value, self.add, 2)
        ):
            return None
        adjoint = statement.targets[0].id
        left, right = statement.value.args
        if not (
            isinstance(left, ast.Name)
            and left.id == adjoint
            and _is_call(right, self.item, 3)
            and isinstance(right.args[1], ast.Name)
        ):
            return None
        g, xs, index = right.args
        if _mentions(g, adjoint) or not self.is_integer(index):
            return None
        return adjoint, g, index, xs.id

    def is_integer(self, index: ast.expr) -> bool:
        if isinstance(index, ast.Constant):
            return type(index.value) is int
        if (
            isinstance(index, ast.UnaryOp)
            and isinstance(index.op, ast.USub)
            and isinstance(index.operand, ast.Constant)
        ):
            return type(index.operand.value) is int
        return isinstance(index, ast.Name) and self.runtime.shapes.is_integer(
            self.shapes.get(index.id)
        )


def _block(statements: list[ast.stmt], forms: _Forms, names: dict[str, str]) -> list[ast.stmt]:
    result: list[ast.stmt] = []
    for statement in statements:
        for field in ("body", "orelse"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(statement, field, _block(inner, forms, names))
        if not isinstance(statement, ast.For) or statement.orelse:
            result.append(statement)
            continue
        lists = _owned_lists(statement.body, forms)
        for adjoint, xs in sorted(lists.items()):
            statement.body = [_rewritten(s, adjoint, forms, names) for s in statement.body]
            result.append(_assign(adjoint, _call(names["listed"], _load(adjoint), _load(xs))))
        result.append(statement)
        for adjoint in sorted(lists):
            result.append(_assign(adjoint, _call(names["tuple"], _load(adjoint))))
        forms.changed = forms.changed or bool(lists)
    return result


def _owned_lists(body: list[ast.stmt], forms: _Forms) -> dict[str, str]:
    """The list adjoints the body touches only in the two forms: each with the list ``xs``
    an ``item_bar`` of it reads (as long as the adjoint where the loop starts)."""
    candidates: dict[str, str] = {}
    for statement in body:
        added = forms.added_item(statement)
        if added is not None:
            candidates.setdefault(added[0], added[3])
    split = _split_only(body, forms)
    for adjoint, xs in split.items():
        candidates.setdefault(adjoint, xs)
    for statement in body:
        split, added = forms.split_of(statement), forms.added_item(statement)
        own = {split[1]} if split else {added[0]} if added else set()
        for name in list(candidates):
            if name not in own and _mentions(statement, name):
                del candidates[name]
    splits = {forms.split_of(s)[1] for s in body if forms.split_of(s) is not None}
    for name, xs in list(candidates.items()):
        if name not in splits and not _read_as_items_only(body, name, xs, forms):
            del candidates[name]
    # the list xs must hold as many elements as the adjoint when the loop starts: it is the
    # list the forward loop appended to, which the reverse pops in step with the adjoint
    return {name: xs for name, xs in candidates.items() if not _binds(body, xs)}


def _read_as_items_only(body: list[ast.stmt], adjoint: str, xs: str, forms: _Forms) -> bool:
    """Whether ``xs`` is a tuple or list (not a dict) that the body names only as the list an
    ``item_bar`` reads in ``adjoint = add_elementwise(adjoint, item_bar(g, xs, i))``: it is
    neither popped nor appended to, so it keeps its length through the loop."""
    shape = forms.shapes.get(xs)
    if not isinstance(shape, forms.runtime.shapes.Sequence) or shape.mapping:
        return False
    allowed = set()
    for statement in body:
        added = forms.added_item(statement)
        if added is not None and added[0] == adjoint:
            allowed.add(id(statement.value.args[1].args[1]))
    return all(
        id(node) in allowed
        for statement in body
        for node in walk_breadth_first(statement)
        if isinstance(node, ast.Name) and node.id == xs
    )


def _split_only(body: list[ast.stmt], forms: _Forms) -> dict[str, str]:
    """The list adjoints L the body splits, with no item read, each with the list xs it is
    the adjoint of, where the body pops xs at its top level at least as often as it splits L
    and names xs nowhere else."""
    splits: dict[str, int] = {}
    pops: dict[str, int] = {}
    for statement in body:
        split, popped = forms.split_of(statement), forms.popped(statement)
        if split is not None:
            splits[split[1]] = splits.get(split[1], 0) + 1
        if popped is not None:
            pops[popped] = pops.get(popped, 0) + 1
    found = {}
    for adjoint, count in splits.items():
        xs = forms.listed_as.get(adjoint)
        if xs is None or pops.get(xs, 0) < count:
            continue
        if any(forms.popped(s) != xs and _mentions(s, xs) for s in body):
            continue
        found[adjoint] = xs
    return found


def _rewritten(statement: ast.stmt, adjoint: str, forms: _Forms, names: dict) -> ast.stmt:
    split = forms.split_of(statement)
    if split is not None and split[1] == adjoint:
        pop = ast.Call(ast.Attribute(_load(adjoint), "pop", ast.Load()), [], [])
        return ast.copy_location(_assign(split[0], pop), statement)
    added = forms.added_item(statement)
    if added is not None and added[0] == adjoint:
        _, g, index, _ = added
        call = _call(names["add_item"], _load(adjoint), index, g)
        return ast.copy_location(ast.Expr(call), statement)
    return statement


def _binds(body: list[ast.stmt], name: str) -> bool:
    """Whether the body rebinds ``name`` (its pops and appends keep it the same list)."""
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store | ast.Del)
        for statement in body
        for n in walk_breadth_first(statement)
    )


def _is_call(node: ast.expr, function: str, arguments: int) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == function
        and len(node.args) == arguments
        and not node.keywords
    )


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(node))


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(function: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(_load(function), list(arguments), [])


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(name, ast.Store())], value)
