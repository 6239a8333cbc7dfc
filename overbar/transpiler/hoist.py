"""Products accumulated once per step of a reverse loop, summed in one product after it.

Invariant established: no reverse loop adds a product of two of its values to an adjoint that
it reads nowhere else, one product per step. Before and after, for the weights of an RNN::

    for _ in range(trips):
        tmp8_bar = h_bar * (1 - h * h)
        h = stack.pop()
        W_bar = W_bar + np.outer(tmp8_bar, h)
        h_bar = W.T @ tmp8_bar

    tmp8_bar_rows, h_rows = [], []
    for _ in range(trips):
        tmp8_bar = h_bar * (1 - h * h)
        h = stack.pop()
        tmp8_bar_rows.append(tmp8_bar)
        h_rows.append(h)
        h_bar = W.T @ tmp8_bar
    W_bar = W_bar + sum_of_outers(tmp8_bar_rows, h_rows)

as backpropagation through time is written by hand: one matrix product of the stacked values
(``sum_of_outers`` is ``np.array(a_rows).T @ np.array(b_rows)``) instead of an ``n x n`` array
made and added at every step.

Identities: ``Σₜ outer(aₜ, bₜ) = Aᵀ B`` where the rows of ``A`` and ``B`` are the vectors ``aₜ``
and ``bₜ``; ``Σₜ aₜ bₜᵀ = [a₁ … a_T] [b₁ … b_T]ᵀ`` for matrices (their columns side by side);
``Σₜ aₜᵀ bₜ = [a₁; …; a_T]ᵀ [b₁; …; b_T]`` (their rows stacked); ``Σₜ sₜ bₜ = s · B`` for
numbers ``sₜ`` (a loop over the rows of a matrix: ``w_bar = w_bar + r_bar * row``);
``Σₜ Σᵢ (aₜ ∘ bₜ)ᵢ = Σ (A ∘ B)`` for the steps' inner products ``(a * b).sum()`` (the adjoint
of a number that scales an array at every step, ``alpha_bar = alpha_bar + (g * d).sum()``:
one product of the stacked arrays, as a person writes ``np.sum(G * D)`` after the loop); a
plain ``Σₜ aₜ`` where the ``aₜ`` are collected for a product anyway; and, likewise,
``Σₜ Σ_K aₜ = Σ_{0, K+1} A`` for the steps' sums ``aₜ.sum(axis=K)`` (the adjoint of a bias
broadcast over a batch, ``b_bar = b_bar + a_bar.sum(axis=0)``: one sum of the stacked rows
over the steps' axis and the axes ``K`` shifted past it, as backpropagation through time sums
``b̄`` once after the loop; with ``keepdims=True`` the steps' axis is summed first, then
``K`` keeping them). A product's transpose added at each step
(``W_bar = W_bar + (a @ h.T).T``, as column-major code gets) is the same sum with the two
operands swapped: ``Σₜ (aₜ bₜᵀ)ᵀ = Σₜ bₜ aₜᵀ``, ``Σₜ (aₜᵀ bₜ)ᵀ = Σₜ bₜᵀ aₜ``,
``Σₜ outer(aₜ, bₜ)ᵀ = Σₜ outer(bₜ, aₜ)``.
Side conditions:

- the loop body adds to the adjoint ``X`` in that one statement, ``X = X + P``, and reads or
  binds ``X`` nowhere else (so adding the steps' products after the loop gives the same ``X``);
- ``aₜ`` and ``bₜ`` are names the loop body never writes into (no ``a[...] = ``, ``+=`` or
  in-place helper), so the arrays appended are the values the product would have read;
- ``np.outer`` is NumPy's (``np`` is NumPy in the generated function); ``.sum()`` is called
  with no arguments on the product ``a * b`` (an array, or a NumPy number: a Python number has
  no ``sum``, so the loop would have failed on it too);
- a transposed product is ``np.outer``'s, or a matrix product of two names known (from the
  shapes; an adjoint from its value's, where it cannot hold the runtime zero) to hold arrays
  of one or two axes each;
- a step's sum is ``a.sum(...)`` of a name with no argument but ``axis`` (a literal number,
  tuple of numbers or None) and ``keepdims`` (a literal truth value), and, as a plain sum, is
  hoisted only where its ``aₜ`` are collected for a product anyway (so it keeps no array the
  loop would not keep; its rows are the product's, the name bound nowhere between the two);
- the loop has no ``break`` (a reverse loop runs its trip count).

The runtime helpers take one product of the stacked values where every ``aₜ`` (and every
``bₜ``) is an array of one shape of the rank the product needs, and otherwise add the steps'
products one by one, as the loop did (a runtime zero, the number 0.0, among them; a step's sum
whose axis is out of its array's range raises there, as in the loop).

The sum is the same up to rounding: the matrix product adds the steps in another order.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.accumulate import added_term
from overbar.transpiler.library import library_function, module_names
from overbar.transpiler.names import (
    names_in,
    statements_breadth_first,
    walk_breadth_first,
    with_reverse_cloned,
)
from overbar.transpiler.owned import kept_by
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint


def hoist(adjoint: Adjoint, runtime: Runtime, namespace: Namespace) -> Adjoint:
    """The adjoint with the per-step products above summed after their loops (none where
    the reverse sweep has no loop: then nothing is copied or looked at further)."""
    reverse_sweep = adjoint.tree.body[adjoint.forward_length :]
    if not any(
        isinstance(statement, ast.For)
        for top in reverse_sweep
        for statement in statements_breadth_first(top)
    ):
        return adjoint
    hoister = _Hoister(runtime, module_names(adjoint.bindings, namespace, runtime), adjoint)
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = hoister.block(reverse)
    if not hoister.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree, bindings=adjoint.bindings + tuple(hoister.new_bindings))


class _Hoister:
    def __init__(self, runtime: Runtime, numpy_names: set[str], adjoint: Adjoint):
        self.runtime, self.numpy_names = runtime, numpy_names
        self.shapes = dict(adjoint.shapes)
        # an adjoint has its value's shape, unless it may hold the runtime zero (a number)
        for bar, name in adjoint.adjoints:
            if bar not in adjoint.maybe_zero and bar not in self.shapes and name in self.shapes:
                self.shapes[bar] = self.shapes[name]
        self.effects = adjoint.effects
        self.bound = {id(value): name for name, value in adjoint.bindings}
        self.taken = names_in(adjoint.tree) | {name for name, _ in adjoint.bindings}
        self.new_bindings: list[tuple[str, Any]] = []
        self.changed = False
        self.forward = adjoint.tree.body[: adjoint.forward_length]
        self.tree = adjoint.tree
        self.parameters = {a.arg for a in adjoint.tree.args.args + adjoint.tree.args.kwonlyargs}
        self.private_names: dict[str, bool] = {}
        self.stack = adjoint.stack
        self.take = {name for name, value in adjoint.bindings if value is runtime.take_and_zero}
        self.bound_in_reverse = {
            n.id
            for statement in adjoint.tree.body[adjoint.forward_length :]
            for n in walk_breadth_first(statement)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result = []
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
            if isinstance(statement, ast.For) and not statement.orelse:
                result.extend(self.loop(statement))
            else:
                result.append(statement)
        return result

    def loop(self, loop: ast.For) -> list[ast.stmt]:
        if any(isinstance(node, ast.Break) for node in walk_breadth_first(loop)):
            return [loop]
        found = [(index, self.accumulation(s, loop)) for index, s in enumerate(loop.body)]
        products = [(index, f) for index, f in found if f and f[1] not in _PLAIN_SUMS]
        if not products:
            return [loop]
        sums = [(index, f) for index, f in found if f and f[1] in _PLAIN_SUMS]
        collected: dict[str, tuple[str, int]] = {}  # a name -> its rows and where it is added
        lists: list[str] = []
        replaced: dict[int, list[ast.stmt]] = {}
        after = []
        for index, (target, kind, names) in products + sums:
            shared = [collected.get(name) for name in names]
            if kind in _PLAIN_SUMS and not all(
                place and not _bound_between(loop.body, place[1], index, name)
                for place, name in zip(shared, names, strict=True)
            ):
                continue  # a sum of its own costs an append a step: only with a product's rows
            rows = []
            for name, place in zip(names, shared, strict=True):
                if place and not _bound_between(loop.body, place[1], index, name):
                    rows.append(place[0])
                    continue
                rows.append(self.fresh(f"{name}_rows"))
                lists.append(rows[-1])
                collected[name] = (rows[-1], index)
                replaced.setdefault(index, []).append(_append(rows[-1], name))
            replaced.setdefault(index, [])
            total = self.product(kind, rows, loop.body[index])
            after.append(ast.Assign([_store(target)], ast.BinOp(_load(target), ast.Add(), total)))
        loop.body = [
            s
            for index, statement in enumerate(loop.body)
            for s in replaced.get(index, [statement])
        ] or [ast.Pass()]
        empty = ast.Tuple([ast.List([], ast.Load()) for _ in lists], ast.Load())
        targets = ast.Tuple([_store(name) for name in lists], ast.Store())
        before = ast.Assign([targets], empty) if len(lists) > 1 else None
        if before is None:
            before = ast.Assign([_store(lists[0])], ast.List([], ast.Load()))
        self.changed = True
        return [before, loop, *self.stacked_once(lists, after), *after]

    def stacked_once(self, lists: list[str], after: list[ast.stmt]) -> list[ast.stmt]:
        """``rows = stacked_rows(rows)`` for each list that two or more of the sums ``after``
        read, so that the values are stacked once rather than by each sum."""
        reads = [
            node.id
            for statement in after
            for node in walk_breadth_first(statement.value.right)
            if isinstance(node, ast.Name)
        ]
        shared = [name for name in lists if reads.count(name) > 1]
        if not shared:
            return []
        helper = self.bind("stacked_rows", self.runtime.stacked_rows)
        return [
            ast.Assign([_store(name)], ast.Call(_load(helper), [_load(name)], []))
            for name in shared
        ]

    def accumulation(self, statement: ast.stmt, loop: ast.For) -> tuple | None:
        """``X = X + P`` with P a product this pass sums after the loop, ``X = X + a`` or
        ``X = X + a.sum(...)``: (X, kind, the names P is a product of, or a)."""
        found = added_term(statement)
        if found is None:
            return None
        target, right = found
        if isinstance(right, ast.Name):
            kind, names = "sum", (right.id,)
        elif _reduction_keywords(right) is not None:
            kind, names = "reduced", (right.func.value.id,)
        else:
            product = self.product_of(right)
            if product is None:
                return None
            kind, names = product[0], product[1:]
        if target in names or len(set(names)) != len(names):
            return None
        if self.mentions_elsewhere(loop, statement, target):
            return None
        if any(self.written_into(loop, name) for name in names):
            return None
        if self.writes_in_place(loop) and not all(self.stable(loop, name) for name in names):
            return None
        return target, kind, names

    def writes_in_place(self, loop: ast.For) -> bool:
        """Whether the loop body writes into any array (``x[J] = ``, ``x[J] += ``, an in-place
        helper) but a private one (``private``): a row appended might then be a view of it."""
        for node in walk_breadth_first(loop):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(
                    isinstance(t, ast.Subscript)
                    and not (isinstance(t.value, ast.Name) and self.private(t.value.id))
                    for t in targets
                ):
                    return True
            if isinstance(node, ast.Call):
                function = node.func.value if isinstance(node.func, ast.Attribute) else node.func
                pushes = function is not node.func and getattr(function, "id", "") == self.stack
                if isinstance(function, ast.Name) and function.id in self.effects and not pushes:
                    return True
        return False

    def private(self, name: str) -> bool:
        """Whether no name, list or view but ``name`` ever holds ``name``'s arrays, so that a
        write into a part of it changes no row another name appended: every binding of it in
        the function makes a new array (``own``, ``zero_gradient``, ``0.0``, arithmetic) or
        is ``adjoint_like(name, u)`` (``name`` itself, or a new array), and every other read
        of it computes from it (``kept_by``), but in the ``return`` that ends the function."""
        known = self.private_names.get(name)
        if known is None:
            known = self.private_names[name] = self.find_private(name)
        return known

    def find_private(self, name: str) -> bool:
        making = {self.bound.get(id(f)) for f in (self.runtime.own, self.runtime.zero_gradient)}
        shaping = self.bound.get(id(self.runtime.adjoint_like))
        if name in self.parameters:
            return False
        last = self.tree.body[-1]
        for statement in statements_breadth_first(self.tree):
            if statement is self.tree or statement is last:
                continue
            if isinstance(statement, ast.For | ast.While | ast.If):
                heads = [getattr(statement, f, None) for f in ("target", "iter", "test")]
                if any(h is not None and name in names_in(h) for h in heads):
                    return False
                continue
            if name not in names_in(statement):
                continue
            if name in _stored(statement):
                if not self.makes_new(statement, name, making, shaping):
                    return False
            elif name in kept_by(statement):
                return False
        return isinstance(last, ast.Return)

    @staticmethod
    def makes_new(statement: ast.stmt, name: str, making: set, shaping: str | None) -> bool:
        """``statement`` binds only ``name``, to a new array or to its own: ``name += e``,
        arithmetic, a number, ``own``, ``zero_gradient`` or ``adjoint_like(name, u)``."""
        if isinstance(statement, ast.AugAssign):
            return isinstance(statement.target, ast.Name)
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            return False
        value = statement.value
        if isinstance(value, ast.Constant | ast.BinOp | ast.UnaryOp):
            return True
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and (
                value.func.id in making
                or (
                    value.func.id == shaping
                    and len(value.args) == 2
                    and isinstance(value.args[0], ast.Name)
                    and value.args[0].id == name
                )
            )
        )

    def stable(self, loop: ast.For, name: str) -> bool:
        """Whether ``name`` holds, wherever the loop body reads it, an array no other name,
        list or view holds (so no write into another name changes it after it is appended):

        - bound in the loop body only to a new array (arithmetic, ``.copy()``, the part a
          ``take_and_zero`` copies out) or to a value popped off the stack, and read there only
          to compute from it (``kept_by``);
        - where it is not bound in the reverse sweep or is popped: a value of the forward sweep
          bound there only by arithmetic and read there only to compute from it or to be pushed.
        """
        popped = False
        for statement in loop.body:
            bound = {
                n.id
                for n in walk_breadth_first(statement)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            if name in bound:
                kind = self.binding_kind(statement, name)
                if kind is None:
                    return False
                popped = popped or kind == "popped"
            elif name in kept_by(statement) and not (
                _appends(statement, name) or _added_into_a_part(statement, name, kept_by)
            ):
                return False
        if popped or name not in self.bound_in_reverse:
            return self.fresh_in_forward(name)
        return True

    def binding_kind(self, statement: ast.stmt, name: str) -> str | None:
        """'new' or 'popped' for a statement binding ``name`` to a new array or a popped
        value; None for anything else."""
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            return None
        target, value = statement.targets[0], statement.value
        if isinstance(target, ast.Tuple):
            return (
                "new"
                if len(target.elts) == 2
                and isinstance(target.elts[0], ast.Name)
                and target.elts[0].id == name
                and not any(isinstance(e, ast.Name) and e.id == name for e in target.elts[1:])
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in self.take
                else None
            )
        if not isinstance(target, ast.Name):
            return None
        if isinstance(value, ast.BinOp | ast.UnaryOp):
            return "new"
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("copy", "pop")
            and not value.args
            and not value.keywords
        ):
            if value.func.attr == "copy":
                return "new"
            if isinstance(value.func.value, ast.Name) and value.func.value.id == self.stack:
                return "popped"
        return None

    def fresh_in_forward(self, name: str) -> bool:
        """Whether the forward sweep binds ``name`` only to new arrays (arithmetic; a number)
        and never lets another name, list or view hold them, but the stack."""
        bound = False
        for statement in self.forward:
            for inner in walk_breadth_first(statement):
                if not isinstance(inner, ast.stmt):
                    continue
                if isinstance(inner, ast.For | ast.While | ast.If | ast.With | ast.Try):
                    header = [
                        value
                        for field, value in ast.iter_fields(inner)
                        if field not in ("body", "orelse", "finalbody", "handlers")
                    ]
                    if any(name in names_in(part) for part in header if isinstance(part, ast.AST)):
                        return False
                    continue
                if name in {
                    n.id
                    for n in walk_breadth_first(inner)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
                }:
                    if not (
                        isinstance(inner, ast.Assign)
                        and all(isinstance(t, ast.Name) for t in inner.targets)
                        and (
                            isinstance(inner.value, ast.Constant)
                            or len(inner.targets) == 1
                            and isinstance(inner.value, ast.BinOp | ast.UnaryOp)
                        )
                    ):
                        return False
                    bound = True
                if _appends(inner, name, self.stack):
                    continue
                if isinstance(inner, ast.Assign):
                    kept = kept_by(inner.value).union(
                        *(kept_by(t) for t in inner.targets if isinstance(t, ast.Subscript))
                    )
                else:
                    kept = kept_by(inner)
                if name in kept:
                    return False
        return bound

    def product_of(self, node: ast.expr) -> tuple[str, str, str] | None:
        """('outer', a, b) for np.outer(a, b); ('columns', a, b) for a @ b.T; ('rows', a, b)
        for a.T @ b; ('scaled', a, b) for a * b or b * a where a is known to be a number and b
        an array; ('inner', a, b) for (a * b).sum(); and the transpose of the first three as
        the same product of the two swapped (``outer(a, b).T = outer(b, a)``,
        ``(a @ b.T).T = b @ a.T``, ``(a.T @ b).T = b.T @ a``), for ``a`` and ``b`` known to
        have one or two axes each (``.T`` of more axes reverses them all)."""
        if isinstance(node, ast.Attribute) and node.attr == "T":
            inner = self.product_of(node.value)
            if inner is None or inner[0] not in ("outer", "columns", "rows"):
                return None
            kind, a, b = inner
            if kind != "outer" and not all(self.rank(n) in (1, 2) for n in (a, b)):
                return None
            return kind, b, a
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sum"
            and not node.args
            and not node.keywords
            and isinstance(node.func.value, ast.BinOp)
            and isinstance(node.func.value.op, ast.Mult)
            and isinstance(node.func.value.left, ast.Name)
            and isinstance(node.func.value.right, ast.Name)
        ):
            return "inner", node.func.value.left.id, node.func.value.right.id
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mult)
            and isinstance(node.left, ast.Name)
            and isinstance(node.right, ast.Name)
        ):
            ranks = [self.rank(node.left.id), self.rank(node.right.id)]
            if ranks[0] == 0 and ranks[1]:
                return "scaled", node.left.id, node.right.id
            if ranks[1] == 0 and ranks[0]:
                return "scaled", node.right.id, node.left.id
            return None
        outer = getattr(self.runtime.array_module, "outer", None)
        if (
            outer is not None
            and library_function(node, self.numpy_names, self.runtime) is outer
            and len(node.args) == 2
            and not node.keywords
            and all(isinstance(a, ast.Name) for a in node.args)
        ):
            a, b = (arg.id for arg in node.args)
            return "outer", a, b
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            left, right = node.left, node.right
            if isinstance(left, ast.Name) and _is_transpose(right):
                a, b = left.id, right.value.id
                kind = "columns"
            elif _is_transpose(left) and isinstance(right, ast.Name):
                a, b = left.value.id, right.id
                kind = "rows"
            else:
                return None
            return kind, a, b
        return None

    def rank(self, name: str) -> int | None:
        dims = self.runtime.shapes.dims(self.shapes.get(name))
        return None if dims is None else len(dims)

    def mentions_elsewhere(self, loop: ast.For, statement: ast.stmt, name: str) -> bool:
        own = {id(node) for node in walk_breadth_first(statement)}
        return any(
            isinstance(other, ast.Name) and other.id == name and id(other) not in own
            for other in walk_breadth_first(loop)
        )

    def written_into(self, loop: ast.For, name: str) -> bool:
        for node in walk_breadth_first(loop):
            if isinstance(node, ast.AugAssign | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript) and name in names_in(target.value):
                        return True
                    if isinstance(node, ast.AugAssign) and name in names_in(target):
                        return True
            if isinstance(node, ast.Call):
                function = node.func.value if isinstance(node.func, ast.Attribute) else node.func
                in_place = isinstance(function, ast.Name) and function.id in self.effects
                if in_place and any(name in names_in(a) for a in node.args):
                    return True
        return False

    def product(self, kind: str, rows: list[str], statement: ast.stmt) -> ast.expr:
        if kind == "reduced":
            helper = self.bind("sum_of_sums", self.runtime.sum_of_sums)
            added = statement.value  # X = X + a.sum(...) or X = a.sum(...) + X
            step_sum = added.right if isinstance(added.right, ast.Call) else added.left
            keywords = [ast.keyword(k.arg, copy.deepcopy(k.value)) for k in step_sum.keywords]
            return ast.Call(_load(helper), [_load(rows[0])], keywords)
        if kind == "sum":
            helper = self.bind("sum_of_values", self.runtime.sum_of_values)
            return ast.Call(_load(helper), [_load(rows[0])], [])
        if kind == "scaled":
            helper = self.bind("sum_of_scaled", self.runtime.sum_of_scaled)
            return ast.Call(_load(helper), [_load(r) for r in rows], [])
        if kind == "inner":
            helper = self.bind("sum_of_inner", self.runtime.sum_of_inner)
            return ast.Call(_load(helper), [_load(r) for r in rows], [])
        if kind == "outer":
            helper = self.bind("sum_of_outers", self.runtime.sum_of_outers)
            return ast.Call(_load(helper), [_load(r) for r in rows], [])
        helper = self.bind("sum_of_products", self.runtime.sum_of_products)
        transposed = ast.Constant("b" if kind == "columns" else "a")
        return ast.Call(_load(helper), [*(_load(r) for r in rows), transposed], [])

    def bind(self, name: str, value: Any) -> str:
        if id(value) not in self.bound:
            self.bound[id(value)] = self.fresh(name)
            self.new_bindings.append((self.bound[id(value)], value))
        return self.bound[id(value)]

    def fresh(self, name: str) -> str:
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name


_PLAIN_SUMS = ("sum", "reduced")  # kinds hoisted only with a product's rows


def _reduction_keywords(node: ast.expr) -> list[ast.keyword] | None:
    """The keywords of ``a.sum(axis=..., keepdims=...)`` (``a`` a name, ``axis`` a literal
    number, tuple of numbers or None, ``keepdims`` a literal truth value, nothing else given),
    or None for anything else."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sum"
        and isinstance(node.func.value, ast.Name)
        and not node.args
    ):
        return None
    seen = set()
    for keyword in node.keywords:
        if keyword.arg in seen:
            return None
        seen.add(keyword.arg)
        value = keyword.value
        if keyword.arg == "axis":
            parts = value.elts if isinstance(value, ast.Tuple) else [value]
            if not all(_literal_axis(part) for part in parts) and not (
                isinstance(value, ast.Constant) and value.value is None
            ):
                return None
        elif keyword.arg == "keepdims":
            if not (isinstance(value, ast.Constant) and isinstance(value.value, bool)):
                return None
        else:
            return None
    return node.keywords


def _literal_axis(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    )


def _bound_between(body: list[ast.stmt], first: int, last: int, name: str) -> bool:
    """Whether a statement strictly between ``body[first]`` and ``body[last]`` binds ``name``."""
    low, high = sorted((first, last))
    for statement in body[low + 1 : high]:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
                return True
    return False


def _is_transpose(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.value, ast.Name)
    )


def _added_into_a_part(statement: ast.stmt, name: str, kept_by) -> bool:
    """``x[J] += name`` (or another operator), ``J`` not keeping ``name``: it reads ``name``'s
    values only."""
    return (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.target, ast.Subscript)
        and isinstance(statement.value, ast.Name)
        and statement.value.id == name
        and name not in kept_by(statement.target)
    )


def _appends(statement: ast.stmt, name: str, rows: str | None = None) -> bool:
    """``statement`` is ``rows.append(name)`` (any list, for no ``rows``)."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "append"
        and isinstance(statement.value.func.value, ast.Name)
        and (rows is None or statement.value.func.value.id == rows)
        and len(statement.value.args) == 1
        and isinstance(statement.value.args[0], ast.Name)
        and statement.value.args[0].id == name
    )


def _append(rows: str, name: str) -> ast.stmt:
    call = ast.Call(ast.Attribute(_load(rows), "append", ast.Load()), [_load(name)], [])
    return ast.Expr(call)


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _store(name: str) -> ast.Name:
    return ast.Name(name, ast.Store())


def _stored(statement: ast.stmt) -> set[str]:
    """The names ``statement`` binds (a write into a part of a name binds none)."""
    return {
        n.id
        for n in walk_breadth_first(statement)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
