"""The gradient of one number by forward mode, finished: how its code reads and runs.

``forward.differentiate_forward`` with ``gradient`` writes the jvp along ``x_dot = one_like(x)``
(``Optimisations.forward``). This pass, after the temporaries are folded back, makes the code
read like the slope carried forward by hand:

- the tangent alone returned, where the value is not asked for (``return x_dot``, not
  ``return (None, x_dot)``);
- literals folded (``x ** (3 - 1)`` from the power rule is written ``x ** 2``;
  ``simplify.fold_literals``, whose identity and side conditions hold here alike);
- the square of a name written as its product (``x ** 2`` as ``x * x``);
- a while loop's test written in the loop again (``while i < n:``, not a name assigned before
  the loop and at the end of its body; ``_restore_while_tests``);
- a tangent line's int literals written as floats, and a sum linear in one tangent factored
  (``x_dot * (1.0 - 0.01 * (3.0 * (x * x) - 2.0))``, as the slope is carried by hand;
  ``_Factoring``).

Identity of the last: ``v ** 2 == v * v`` for a Python float (both correctly rounded: the
square is exact before rounding), an int, and a NumPy array or number (NumPy computes
``v ** 2`` as ``np.square(v)``, which is ``v * v``). Side conditions: the exponent is the int
literal 2 (``v ** 2.0`` of an int is a float, ``v * v`` an int); the base is a name (read twice,
computed once). A Python float's ``v * v`` is one multiplication, ``v ** 2`` a call of ``pow``:
in a loop over numbers the difference is a seventh of the time.

>>> import ast
>>> tree = ast.parse("def f_grad(x):\\n    y_dot = x_dot * 3 * x ** (3 - 1)\\n"
...                  "    return (None, y_dot)").body[0]
>>> print(ast.unparse(finished(tree, with_value=False)))
def f_grad(x):
    y_dot = x_dot * 3 * (x * x)
    return y_dot
"""

from __future__ import annotations

import ast

from overbar.transpiler.names import clone, walk
from overbar.transpiler.simplify import fold_literals


def finished(
    tree: ast.FunctionDef,
    with_value: bool,
    tangents: frozenset[str] = frozenset(),
    active: frozenset[str] = frozenset(),
) -> ast.FunctionDef:
    """``tree`` (not changed), the gradient's function, as the module docstring says; the
    lines assigning the names in ``tangents`` (tangents of numbers and arrays: shape
    inference knows their values' shapes, not a list's or tuple's) are tangent lines, whose
    literals are written as floats and whose sums are factored (reading the values named in
    ``active``)."""
    tree = _SQUARES.visit(fold_literals(clone(tree)))
    _restore_while_tests(tree)
    if tangents:
        factoring = _Factoring(tangents, active)
        for node in walk(tree):
            for field in ("body", "orelse"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    block[:] = [factoring.line(statement) for statement in block]
    if not with_value:
        returned = tree.body[-1]
        alone = ast.copy_location(ast.Return(value=returned.value.elts[1]), returned)
        tree.body[-1] = alone
    return ast.fix_missing_locations(tree)


class _SquaresAsProducts(ast.NodeTransformer):
    """``v ** 2`` written ``v * v`` for a name ``v`` (see the module docstring)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.op, ast.Pow)
            and isinstance(node.left, ast.Name)
            and isinstance(node.right, ast.Constant)
            and type(node.right.value) is int
            and node.right.value == 2
        ):
            product = ast.BinOp(left=node.left, op=ast.Mult(), right=clone(node.left))
            return ast.copy_location(product, node)
        return node


_SQUARES = _SquaresAsProducts()


def _restore_while_tests(tree: ast.FunctionDef) -> None:
    """``c = e; while c: B; c = e`` (the normal form's loop test, a name) written
    ``while e: B`` in ``tree``, which the caller owns.

    Identity: both evaluate e before the first pass and after each pass through the body, and
    leave the loop where it is false. Side conditions: the line before the loop and the last
    line of its body assign the one name c the same expression; c is read by the loop's test
    alone; the body holds no ``continue`` (which would skip the second ``c = e``, and run e
    in the rewritten loop). A name stored and loaded per pass costs a tenth of a loop that
    does a few operations on numbers."""
    loads: dict[str, int] = {}
    for node in walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
    for node in list(walk(tree)):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for index in range(len(block) - 1, 0, -1):
                loop, before = block[index], block[index - 1]
                if not (
                    isinstance(loop, ast.While)
                    and isinstance(loop.test, ast.Name)
                    and loads.get(loop.test.id) == 1
                    and loop.body
                    and _assigns(before, loop.test.id)
                    and _assigns(loop.body[-1], loop.test.id)
                    and ast.dump(before.value) == ast.dump(loop.body[-1].value)
                    and not any(isinstance(n, ast.Continue) for n in walk(loop))
                ):
                    continue
                loop.test = ast.copy_location(before.value, loop.test)
                del loop.body[-1]
                if not loop.body:
                    loop.body.append(ast.copy_location(ast.Pass(), loop))
                del block[index - 1]


def _assigns(statement: ast.stmt, name: str) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == name
    )


class _Factoring:
    """A tangent line's int literals written as floats and its sum factored over its tangent.

    Float literals. Identity: ``c op e == float(c) op e`` for an int literal ``c`` and an
    operator ``op`` of ``+ - * /`` on either side, where ``e`` holds a tangent. Side
    conditions: ``e`` is a float (a Python or NumPy float, or an array of floats: a tangent
    is one, by ``one_like``, and so is every sum and product holding one), so the line assigns
    the tangent of a value whose shape is known to be an array's or a number's (a list's
    tangent is a list: ``xs_dot * 2`` repeats it, ``xs_dot * 2.0`` raises, and the line may
    read tangents of lists); ``|c| <= 2 ** 53``,
    so that the int converts exactly, as Python and NumPy (which takes a Python number as the
    array's own type) convert it anyway. A Python float times an int is a generic operation,
    a float times a float a specialised one: in a loop over numbers, a fifth of the time.

    Factoring. Identity: an expression linear in one tangent ``t``, made of ``+ - *``, ``/``
    by an expression without t and unary ``-``, is ``t * c``, c the same expression with t
    written 1 (``t - 0.01 * (t * 3.0 * (x * x) - 2.0 * t)`` is
    ``t * (1.0 - 0.01 * (3.0 * (x * x) - 2.0))``): distributivity, elementwise where the
    values are arrays (the broadcast shape is the same). Side conditions: the expression holds
    one tangent name, at least twice (once, it is already a product); t is in no divisor,
    not multiplied by itself, and not inside a call (``float(t - t * a)`` is factored inside
    the call); every value c combines is a literal or reads active values only (the values of
    the function the seed reaches, floats, which the new operations cannot overflow as NumPy
    integers would: ``t * k * m`` is ``(t * k) * m`` in floats, ``k * m`` in integers). The
    rounding may differ in the last places, as any reassociation's does.
    """

    def __init__(self, tangents: frozenset[str], active: frozenset[str]):
        self.tangents, self.active = tangents, active

    def line(self, statement: ast.stmt) -> ast.stmt:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in self.tangents
        ):
            return statement
        value = self.factored(self.with_float_literals(statement.value))
        return ast.copy_location(ast.Assign(targets=statement.targets, value=value), statement)

    def holds_tangent(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.tangents for n in walk(node))

    def with_float_literals(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.BinOp) and isinstance(node.op, _LINEAR):
            left = self.with_float_literals(node.left)
            right = self.with_float_literals(node.right)
            if self.holds_tangent(right):
                left = _as_float(left)
            if self.holds_tangent(left):
                right = _as_float(right)
            return ast.copy_location(ast.BinOp(left=left, op=node.op, right=right), node)
        if isinstance(node, ast.AST):
            copy = clone(node)
            for field, value in ast.iter_fields(copy):
                if isinstance(value, ast.expr):
                    setattr(copy, field, self.with_float_literals(value))
                elif isinstance(value, list):
                    setattr(
                        copy,
                        field,
                        [
                            self.with_float_literals(v) if isinstance(v, ast.expr) else v
                            for v in value
                        ],
                    )
            return copy
        return node

    def factored(self, node: ast.expr) -> ast.expr:
        tangents = [n.id for n in walk(node) if isinstance(n, ast.Name) and n.id in self.tangents]
        if (
            isinstance(node, ast.BinOp | ast.UnaryOp)
            and len(tangents) >= 2
            and len(set(tangents)) == 1
        ):
            tangent = tangents[0]
            coefficient = self.coefficient(node, tangent)
            if coefficient is not None and coefficient is not _ONE:
                product = ast.BinOp(
                    left=ast.Name(id=tangent, ctx=ast.Load()), op=ast.Mult(), right=coefficient
                )
                return ast.fix_missing_locations(ast.copy_location(product, node))
        copy = clone(node)
        for field, value in ast.iter_fields(copy):
            if isinstance(value, ast.expr):
                setattr(copy, field, self.factored(value))
            elif isinstance(value, list):
                setattr(
                    copy,
                    field,
                    [self.factored(v) if isinstance(v, ast.expr) else v for v in value],
                )
        return copy

    def coefficient(self, node: ast.expr, tangent: str):
        """c with ``node == tangent * c`` (``_ONE`` for 1), or ``None`` where the side
        conditions do not hold."""
        if isinstance(node, ast.Name) and node.id == tangent:
            return _ONE
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.coefficient(node.operand, tangent)
            if inner is None:
                return None
            if inner is _ONE:
                return ast.Constant(-1.0)
            return ast.UnaryOp(op=ast.USub(), operand=inner)
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, _LINEAR)):
            return None
        in_left, in_right = self.holds_tangent(node.left), self.holds_tangent(node.right)
        if isinstance(node.op, ast.Add | ast.Sub):
            if not (in_left and in_right):
                return None
            left = self.coefficient(node.left, tangent)
            right = self.coefficient(node.right, tangent)
            if left is None or right is None:
                return None
            return ast.BinOp(left=_written(left), op=type(node.op)(), right=_written(right))
        if in_left == in_right or (isinstance(node.op, ast.Div) and in_right):
            return None  # t times t, or t in a divisor: not linear
        varying, other = (node.left, node.right) if in_left else (node.right, node.left)
        if not self.float_valued(other):
            return None
        inner = self.coefficient(varying, tangent)
        if inner is None:
            return None
        if inner is _ONE:
            if isinstance(node.op, ast.Div):
                return ast.BinOp(left=ast.Constant(1.0), op=ast.Div(), right=clone(other))
            return clone(other)
        if in_left:
            return ast.BinOp(left=inner, op=type(node.op)(), right=clone(other))
        return ast.BinOp(left=clone(other), op=ast.Mult(), right=inner)

    def float_valued(self, piece: ast.expr) -> bool:
        """Whether every value ``piece`` combines is a literal or an active value."""
        if isinstance(piece, ast.Constant):
            return type(piece.value) in (int, float)
        names = []
        stack = [piece]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call):
                stack.extend(node.args)
                stack.extend(keyword.value for keyword in node.keywords)
                continue
            if isinstance(node, ast.Name):
                names.append(node.id)
                continue
            stack.extend(ast.iter_child_nodes(node))
        return bool(names) and all(name in self.active for name in names)


_LINEAR = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_ONE = object()  # the coefficient 1, written only where an operation needs it


def _written(coefficient) -> ast.expr:
    return ast.Constant(1.0) if coefficient is _ONE else coefficient


def _as_float(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) <= 2**53:
        return ast.copy_location(ast.Constant(float(node.value)), node)
    return node
