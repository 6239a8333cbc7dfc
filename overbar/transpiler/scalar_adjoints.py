"""Scalar adjoints: a number broadcast to an array's shape stays a number until it must not.

The adjoint of ``np.sum(t)`` or ``np.mean(t)`` is a number broadcast to t's shape,
``t_bar = broadcast_like(g, t)``. Where that array is only copied and combined elementwise
with numbers, and then with an array of t's shape anyway, the broadcast makes an array the
arithmetic makes again. The peephole pass drops a broadcast inside one expression; this pass
follows the number through the reverse sweep's straight-line statements. Before::

    tmp5_bar = broadcast_like(1.0 / tmp7, tmp5)
    linear_bar = tmp5_bar
    quadratic_bar = 1.0 * tmp5_bar * quadratic
    a_bar = linear_bar
    quadratic_bar = quadratic_bar - linear_bar
    a_bar = a_bar + quadratic_bar * ((a < 1.0) + 0.5 * (a == 1.0))

and after (``tmp5`` and what only it read are then dead in the forward sweep)::

    tmp5_bar = 1.0 / tmp7
    linear_bar = tmp5_bar
    quadratic_bar = tmp5_bar * quadratic
    a_bar = linear_bar
    quadratic_bar = quadratic_bar - linear_bar
    a_bar = a_bar + quadratic_bar * ((a < 1.0) + 0.5 * (a == 1.0))

Identity: elementwise arithmetic commutes with broadcasting a number: for ``+ - * /``,
``broadcast_like(s, t) op e`` is ``broadcast_like(s op e, t)`` where ``e`` is a number, and is
``s op e`` where ``e``'s shape covers t's. So a name holding ``s`` where the literal adjoint
holds ``broadcast_like(s, t)`` (a *deferred* name) is exact while it flows through such
arithmetic, and ``broadcast_like(n, t)``, put in before any other read, gives every other
reader the value it read before. ``1.0 * s`` is ``s`` for a floating point ``s``.

Side conditions: only plain assignments of the reverse sweep's top level are followed (a
statement in a block, a call, an index, a return reads the broadcast value: the name is
broadcast just before it, so every gradient returned has its argument's shape); the number
``s`` is surely a floating point number (its shape is known to be ``()``, and it is a float
literal, a quotient, an adjoint, or arithmetic with one of these), so that arithmetic with it
gives floating point arrays as the broadcast did; the operand that makes a result whole has
a shape known to cover t's, the other operands are known numbers; a name t reads is not
rebound before the broadcast is put back (else t is put back first). A result combined from
numbers deferred to targets of different shapes is broadcast at once. The dtype of the
broadcast (t's for small arrays) is not kept: arithmetic with the number follows NumPy's
rules for a Python number, the kind (floating point) is the same. The pass is kept only if it
saves at least one broadcast.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import (
    is_elementwise_call,
    is_select,
    library_function,
    module_names,
)
from overbar.transpiler.names import names_loaded, names_with, walk
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint

_ELEMENTWISE = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def keep_adjoints_scalar(
    adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None
) -> Adjoint:
    """The adjoint with each ``n = broadcast_like(s, t)`` of its reverse sweep's top level, for a
    floating point number ``s``, bound as ``n = s`` while n (and what is computed from it) is
    only combined elementwise, and broadcast to t's shape where it is read otherwise."""
    broadcasters = {name for name, value in adjoint.bindings if value is runtime.broadcast_like}
    if not broadcasters:
        return adjoint
    body = adjoint.tree.body
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    sweep = _Sweep(adjoint, runtime, next(iter(sorted(broadcasters))), broadcasters)
    sweep.numpy_names = module_names(adjoint.bindings, namespace, runtime)
    rewritten = sweep.run(reverse)
    if rewritten is None:
        return adjoint
    tree = ast.FunctionDef(
        name=adjoint.tree.name,
        args=adjoint.tree.args,
        body=forward + rewritten,
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    ast.copy_location(tree, adjoint.tree)
    # A deferred adjoint may hold a number: no later pass may take it for an array.
    return replace(adjoint, tree=tree, maybe_zero=adjoint.maybe_zero | sweep.ever_deferred)


class _Sweep:
    def __init__(self, adjoint: Adjoint, runtime: Runtime, broadcast: str, broadcasters: set):
        self.facts, self.runtime = runtime.shapes, runtime
        self.numpy_names: frozenset[str] = frozenset()
        self.broadcast, self.broadcasters = broadcast, broadcasters
        self.shapes = dict(adjoint.shapes)
        self.adjoint_names = frozenset(bar for bar, _ in adjoint.adjoints)
        self.maybe_zero = adjoint.maybe_zero
        # an adjoint has its value's shape, unless it may hold the runtime zero (a number)
        self.adjoint_shapes = {
            bar: self.shapes.get(name)
            for bar, name in adjoint.adjoints
            if bar not in adjoint.maybe_zero and bar not in self.shapes
        }
        self.floating = adjoint.floating | self.adjoint_names
        self.deferred: dict[str, ast.expr] = {}  # name -> the target it stands broadcast to
        self.ever_deferred: frozenset[str] = frozenset()

    def run(self, reverse: list[ast.stmt]) -> list[ast.stmt] | None:
        """The reverse sweep rewritten, or None if that saves no broadcast."""
        out: list[ast.stmt] = []
        deferrals = materialised = 0
        for statement in reverse:
            value = _plain_value(statement)
            name = statement.targets[0].id if value is not None else None
            number = self.deferrable(value) if value is not None else None
            if number is not None and name not in names_loaded(value.args[1]):
                before = self.materialise(self.rebinding(statement))
                materialised += len(before)
                out += before
                target = value.args[1]
                self.deferred.pop(name, None)
                self.defer(name, target)
                out.append(_assign(name, number, statement))
                deferrals += 1
                continue
            if value is not None and self.read_deferred(value) and not self.rebinding(statement):
                outcome = self.combined(value)
                if outcome is not None:
                    kind, target = outcome
                    out.append(_assign(name, self.without_ones(value), statement))
                    self.deferred.pop(name, None)
                    if kind == "deferred":
                        self.defer(name, target)
                    continue
            before = self.materialise(self.read_deferred(statement) | self.rebinding(statement))
            materialised += len(before)
            out += before
            out.append(statement)
            if value is not None:
                self.deferred.pop(name, None)
        if deferrals == 0 or materialised >= deferrals:
            return None
        return out

    def defer(self, name: str, target: ast.expr) -> None:
        self.deferred[name] = target
        self.ever_deferred = self.ever_deferred | {name}

    def deferrable(self, value: ast.expr) -> ast.expr | None:
        """``s`` of ``broadcast_like(s, t)`` with s a floating point number, t stable."""
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in self.broadcasters
            and len(value.args) == 2
            and not value.keywords
        ):
            return None
        number, target = value.args
        if set(names_loaded(number)) & (self.maybe_zero | set(self.deferred)):
            return None
        if any(isinstance(node, ast.Call) for node in walk(target)):
            return None  # read again where the number is broadcast: names only, no call
        if self.facts.dims(self.shape_of(number)) != () or not self.surely_floating(number):
            return None
        return number

    def combined(self, value: ast.expr) -> tuple[str, ast.expr | None] | None:
        """("whole", None) if ``value`` (elementwise arithmetic reading deferred names) has, with
        them read as numbers, the shape it had; ("deferred", t) if it is then a number standing
        for its value broadcast to t; None if neither is surely so."""
        leaves = self.leaves(value)
        if leaves is None:
            return None
        deferred = [
            leaf for leaf in leaves if isinstance(leaf, ast.Name) and leaf.id in self.deferred
        ]
        others = [
            leaf
            for leaf in leaves
            if not (isinstance(leaf, ast.Name) and leaf.id in self.deferred)
        ]
        if any(set(names_loaded(leaf)) & set(self.deferred) for leaf in others):
            return None  # a deferred name read inside a call or an index
        targets = [self.deferred[leaf.id] for leaf in deferred]
        target_shapes = [self.shape_of(target) for target in targets]
        other_shapes = [self.shape_of(leaf) for leaf in others]
        if all(
            any(self.facts.covers(shape, target) for shape in other_shapes)
            for target in target_shapes
        ):
            return "whole", None
        if all(self.facts.dims(shape) == () for shape in other_shapes) and all(
            ast.dump(target) == ast.dump(targets[0]) for target in targets
        ):
            return "deferred", targets[0]
        return None

    def materialise(self, names: set[str]) -> list[ast.stmt]:
        """``n = broadcast_like(n, t)`` for each deferred name in ``names``, no longer deferred."""
        made = []
        for name in sorted(names & set(self.deferred)):
            target = self.deferred.pop(name)
            call = ast.Call(
                func=ast.Name(id=self.broadcast, ctx=ast.Load()),
                args=[ast.Name(id=name, ctx=ast.Load()), target],
                keywords=[],
            )
            made.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=call))
        for statement in made:
            ast.fix_missing_locations(statement)
        return made

    def read_deferred(self, node: ast.AST) -> set[str]:
        return set(names_loaded(node)) & set(self.deferred)

    def rebinding(self, statement: ast.stmt) -> set[str]:
        """The deferred names whose targets read a name ``statement`` binds (or that it binds,
        in a block, where it may not run)."""
        bound = set(names_with(statement, ast.Store))
        found = {
            name for name, target in self.deferred.items() if set(names_loaded(target)) & bound
        }
        if not isinstance(statement, ast.Assign):
            found |= bound & set(self.deferred)
        return found

    def shape_of(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.deferred:
                return ()
            if node.id in self.shapes:
                return self.shapes[node.id]
            return self.adjoint_shapes.get(node.id)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return ()
        if _is_dimension(node):
            return ()
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("size", "ndim")
            and isinstance(node.value, ast.Name)
            and self.facts.dims(self.shape_of(node.value)) is not None
        ):
            return ()  # an array's count of elements or of axes: a number
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self.shape_of(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ELEMENTWISE):
            return self.facts.broadcast(self.shape_of(node.left), self.shape_of(node.right))
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            return self.facts.broadcast(
                self.shape_of(node.left), self.shape_of(node.comparators[0])
            )
        if self.is_select(node) or self.is_ufunc_call(node):
            return self.facts.broadcast(*(self.shape_of(argument) for argument in node.args))
        return None

    def is_select(self, node: ast.expr) -> bool:
        return is_select(node, self.numpy_names, self.runtime)

    def is_ufunc_call(self, node: ast.expr) -> bool:
        return is_elementwise_call(node, self.numpy_names, self.runtime)

    def leaves(self, value: ast.expr) -> list[ast.expr] | None:
        """The operands of the elementwise expression ``value`` is (``+ - * /``, unary ``-`` and
        ``+``, the three of ``np.where(c, x, y)``), or None if it is none: a deferred name read
        in another leaf (a call, an index) is read as the broadcast."""
        if not (isinstance(value, ast.BinOp | ast.UnaryOp | ast.Name) or self.is_select(value)):
            return None
        leaves: list[ast.expr] = []
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.BinOp) and isinstance(node.op, _ELEMENTWISE):
                stack += [node.right, node.left]
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
                stack.append(node.operand)
            elif self.is_select(node):
                stack += reversed(node.args)
            elif isinstance(node, ast.BinOp | ast.UnaryOp):
                return None  # ** or @: not elementwise arithmetic of the kind followed here
            else:
                leaves.append(node)
        return leaves

    def surely_floating(self, node: ast.expr) -> bool:
        """Whether ``node`` is surely floating point: a float literal, a quotient, an adjoint, a
        name known floating, or arithmetic with one of these."""
        if isinstance(node, ast.Constant):
            return type(node.value) is float
        if isinstance(node, ast.Name):
            return node.id in self.floating or node.id in self.deferred
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self.surely_floating(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ELEMENTWISE):
            return (
                isinstance(node.op, ast.Div)
                or self.surely_floating(node.left)
                or self.surely_floating(node.right)
            )
        return False

    def without_ones(self, value: ast.expr) -> ast.expr:
        """``value`` with each ``1.0 * e`` (or ``e * 1.0``) of a surely floating ``e`` read ``e``:
        exact for floating point."""
        if isinstance(value, ast.UnaryOp):
            return ast.UnaryOp(op=value.op, operand=self.without_ones(value.operand))
        if not isinstance(value, ast.BinOp):
            return value
        left, right = self.without_ones(value.left), self.without_ones(value.right)
        if isinstance(value.op, ast.Mult):
            if _is_float_one(left) and self.surely_floating(right):
                return right
            if _is_float_one(right) and self.surely_floating(left):
                return left
        return ast.BinOp(left=left, op=value.op, right=right)


def _plain_value(statement: ast.stmt) -> ast.expr | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.value
    return None


def _assign(name: str, value: ast.expr, like: ast.stmt) -> ast.stmt:
    statement = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
    ast.copy_location(statement, like)
    return ast.fix_missing_locations(statement)


def _is_float_one(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 1.0


def _is_dimension(node: ast.expr) -> bool:
    """``x.shape[k]``: a number."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "shape"
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
    )


def without_unit_factors(
    adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None
) -> Adjoint:
    """The reverse sweep with ``1.0 * np.exp(x)`` (or ``np.exp(x) * 1.0``) read ``np.exp(x)``,
    as rematerialising a forward value leaves it (``1.0 * tmp1`` with ``tmp1 = np.exp(x)``).

    Identity: ``1.0 * a`` is ``a``, bit for bit, for floating point and complex ``a``.
    Side conditions: the other factor is a call of the array library's elementwise function
    every loop of which returns floating point, complex or object values (``np.exp``, not
    ``np.abs``), with positional arguments only: a new array of such a dtype (so dropping the
    product makes no alias of a value another name holds)."""
    names = module_names(adjoint.bindings, namespace, runtime)
    if not names:
        return adjoint

    def fresh_floating(node: ast.expr) -> bool:
        function = library_function(node, names, runtime)
        return (
            function is not None
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
            and runtime.is_elementwise(function)
            and _floating_results(function)
        )

    class _Fold(ast.NodeTransformer):
        changed = False

        def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
            self.generic_visit(node)
            if isinstance(node.op, ast.Mult):
                for one, other in ((node.left, node.right), (node.right, node.left)):
                    if _is_float_one(one) and fresh_floating(other):
                        self.changed = True
                        return other
            return node

    body = adjoint.tree.body
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    if not any(
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and (_is_float_one(node.left) or _is_float_one(node.right))
        for statement in reverse
        for node in walk(statement)
    ):
        return adjoint
    fold = _Fold()
    rewritten = [fold.visit(copy.deepcopy(statement)) for statement in reverse]
    if not fold.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + rewritten
    return replace(adjoint, tree=tree)


def _floating_results(ufunc: Any) -> bool:
    """Whether every loop of ``ufunc`` returns floating point, complex or object values
    (``np.exp``, ``np.sin``; not ``np.abs`` or ``np.sign``, which have integer loops)."""
    loops = getattr(ufunc, "types", None)
    if not loops:
        return False
    return all(
        isinstance(loop, str) and "->" in loop and set(loop.split("->")[1]) <= set("efdgFDGO")
        for loop in loops
    )
