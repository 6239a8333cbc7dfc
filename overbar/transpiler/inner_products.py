"""The sum of the elementwise product of two vectors of one length read as their inner product.

The adjoint of a number that scales a vector (``y = s * v``: ``s̄ = Σᵢ ȳᵢ vᵢ``) is written by
the rules as ``(y_bar * v).sum()``: a new array of the product, then a second pass to sum it.
A person writes ``y_bar @ v``, one pass and no array. Invariant established: no ``(a * b).sum()``
or ``np.sum(a * b)`` is left in the reverse sweep where ``a`` and ``b`` are known to be vectors
of one length; before and after::

    tmp8_bar = (y_bar * tmp10).sum()        tmp8_bar = y_bar @ tmp10

Identity: for vectors ``a`` and ``b`` of one length ``n``, ``Σᵢ aᵢ bᵢ = a @ b`` (the same
terms, summed in another order: equal up to rounding). Side conditions: ``a`` and ``b`` are
names whose shapes are known to have one axis each, of lengths known to be equal (the same
origin, or cut from one origin alike: ``shapes.coexisting_same_length``), so that nothing
broadcasts (a length-1 operand would broadcast in ``*`` and raise in ``@``); an adjoint's
shape is its value's, unless it may hold the runtime zero (a number: ``@`` would raise);
``.sum()`` is called with no argument, ``np.sum`` with the product alone (an ``axis`` of 0 or
None sums the same, but ``dtype``, ``out``, ``initial`` or ``where`` would not); ``np`` is the
array library. Only the reverse sweep is rewritten: the forward sweep is the user's lines.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import library_function, module_names
from overbar.transpiler.names import Transformer, clone
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint


def inner_products(
    adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None
) -> Adjoint:
    """The adjoint with the sums of products above read as inner products."""
    shapes = dict(adjoint.shapes)
    for bar, name in adjoint.adjoints:
        if bar not in adjoint.maybe_zero and bar not in shapes and name in shapes:
            shapes[bar] = shapes[name]
    shapes.update(_bound_once_to_arithmetic(adjoint, shapes, runtime))
    rewriter = _Rewriter(shapes, runtime, module_names(adjoint.bindings, namespace, runtime))
    shaping = {name for name, value in adjoint.bindings if value is runtime.adjoint_like}
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    rewritten = _rewritten_block(reverse, rewriter, shaping)
    if rewritten is reverse:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + rewritten
    return replace(adjoint, tree=tree)


def _rewritten_block(block: list[ast.stmt], rewriter: _Rewriter, shaping: set[str]) -> list:
    """``block`` with its sums of products rewritten (``block`` itself where none is).

    Besides the shapes known throughout, a name is known to have ``x``'s shape from a
    statement ``N = adjoint_like(g, x)`` of the block (``x`` an array of known shape: the
    helper returns ``g`` if it has ``x``'s shape, else ``zeros of x's shape + g``, and an
    adjoint is never larger than its value) to the next statement that stores ``N``; a
    block inside starts knowing none of these."""
    local: dict[str, Any] = {}
    rewritten = []
    for statement in block:
        new = statement
        if isinstance(statement, ast.For | ast.AsyncFor | ast.While | ast.If | ast.With):
            inner = {}
            for field in ("body", "orelse"):
                part = getattr(statement, field, None)
                if isinstance(part, list) and part:
                    done = _rewritten_block(part, rewriter, shaping)
                    if done is not part:
                        inner[field] = done
            if inner:
                new = copy.copy(statement)
                for field, done in inner.items():
                    setattr(new, field, done)
        elif _sums_a_product(statement):
            rewriter.changed, rewriter.local = False, local
            visited = rewriter.visit(clone(statement))
            new = visited if rewriter.changed else statement
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                local.pop(node.id, None)
        shaped = _shaped_like(statement, shaping, rewriter.shapes)
        if shaped is not None:
            local[shaped[0]] = shaped[1]
        rewritten.append(new)
    if all(a is b for a, b in zip(rewritten, block, strict=True)):
        return block
    return rewritten


def _shaped_like(
    statement: ast.stmt, shaping: set[str], shapes: dict[str, Any]
) -> tuple[str, Any] | None:
    """(N, x's shape) for ``N = adjoint_like(g, x)`` where ``x``'s shape is an array's."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id in shaping
        and len(statement.value.args) == 2
        and not statement.value.keywords
        and isinstance(statement.value.args[1], ast.Name)
    ):
        return None
    shape = shapes.get(statement.value.args[1].id)
    if not (isinstance(shape, tuple) and shape):
        return None
    return statement.targets[0].id, shape


def _bound_once_to_arithmetic(
    adjoint: Adjoint, shapes: dict[str, Any], runtime: Runtime
) -> dict[str, Any]:
    """The shapes of the names the function binds once, by a plain assignment of arithmetic
    whose operands' shapes are all known (``y_bar = 2.0 * y``: ``y``'s): their broadcast.
    Bound once (and no parameter), the name holds that value wherever it is read."""
    stores: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for node in ast.walk(adjoint.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, ast.arg):
            stores[node.arg] = stores.get(node.arg, 0) + 2
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            values[node.targets[0].id] = node.value
    found: dict[str, Any] = {}
    for name, value in values.items():
        if stores.get(name) == 1 and name not in shapes:
            shape = _arithmetic_shape(value, shapes, runtime)
            if shape is not None:
                found[name] = shape
    return found


def _arithmetic_shape(value: ast.expr, shapes: dict[str, Any], runtime: Runtime) -> Any:
    """The shape of ``+ - * /`` of numeric constants and names of known shapes, or None."""
    if isinstance(value, ast.Constant):
        return () if type(value.value) in (int, float) else None
    if isinstance(value, ast.Name):
        return shapes.get(value.id)
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub | ast.UAdd):
        return _arithmetic_shape(value.operand, shapes, runtime)
    if isinstance(value, ast.BinOp) and isinstance(
        value.op, ast.Add | ast.Sub | ast.Mult | ast.Div
    ):
        left = _arithmetic_shape(value.left, shapes, runtime)
        right = _arithmetic_shape(value.right, shapes, runtime)
        if isinstance(left, tuple) and isinstance(right, tuple):
            return runtime.shapes.broadcast(left, right)
    return None


def _sums_a_product(statement: ast.stmt) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sum"
        for node in ast.walk(statement)
    )


class _Rewriter(Transformer):
    def __init__(self, shapes: dict[str, Any], runtime: Runtime, numpy_names: frozenset[str]):
        self.shapes, self.runtime, self.numpy_names = shapes, runtime, numpy_names
        self.changed = False
        self.local: dict[str, Any] = {}  # shapes known where the statement visited is

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Attribute) and node.func.attr == "sum"):
            return node
        if node.keywords:
            return node
        function = library_function(node, self.numpy_names, self.runtime)
        if function is not None:
            if function is not self.runtime.array_module.sum or len(node.args) != 1:
                return node
            product = node.args[0]
        elif not node.args:
            product = node.func.value
        else:
            return node
        if not (
            isinstance(product, ast.BinOp)
            and isinstance(product.op, ast.Mult)
            and self.vectors_of_one_length(product.left, product.right)
        ):
            return node
        self.changed = True
        return ast.BinOp(product.left, ast.MatMult(), product.right)

    def vectors_of_one_length(self, a: ast.expr, b: ast.expr) -> bool:
        if not (isinstance(a, ast.Name) and isinstance(b, ast.Name)):
            return False
        first = self.local.get(a.id, self.shapes.get(a.id))
        second = self.local.get(b.id, self.shapes.get(b.id))
        facts = self.runtime.shapes
        return (
            isinstance(first, tuple)
            and isinstance(second, tuple)
            and len(first) == len(second) == 1
            and facts.coexisting_same_length(first[0], second[0])
        )
