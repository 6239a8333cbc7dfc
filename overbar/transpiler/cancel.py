"""A number multiplied into a product and divided out of it again, cancelled.

Invariant established: no product of the reverse sweep both multiplies and divides by the same
name of a number (shape ``()``). The rules of a chain compose to such products: the adjoint of
``s = np.linalg.norm(r) ** 2`` is ``s̄ · 2 n`` for ``n = ‖r‖``, then ``r̄ = (s̄ · 2 n / n) r``
by the norm's rule; with n cancelled, ``r̄ = s̄ · 2 r`` is the derivative of ``‖r‖²`` as one
writes it, and the forward sweep no longer computes the norm, which nothing else reads::

    tmp3 = np.linalg.norm(tmp2)             # (gone)
    r_bar = c * 2 * tmp3 / tmp3 * tmp2      r_bar = c * 2 * tmp2

Identity: in a chain of ``*`` and ``/`` (``a * n / n * r``, left to right), dropping one ``* n``
and one ``/ n`` gives the same value up to rounding: ``(a n / n) r = a r``. Side conditions: n
is a name whose shape is known to be a number's (``()``), so that the chain's shape is the other
operands' with or without it; the chain keeps a division or a float literal after the two go,
so that its result is a float as before (``k * n / n`` of integers is a float, ``k`` is not);
the chain is one expression, so n holds one value at both places. Where n is 0, infinite or
NaN the chain gives NaN (``0 / 0``, ``inf / inf``) and the rewrite the limit of its value: for
``‖r‖²`` at ``r = 0``, the derivative ``0`` where the chain of rules gives NaN.

A sum of quotients multiplied by their divisors has its divisors cancelled too. The adjoint of
``p`` in a cross-entropy, ``log(p)`` and ``log(1 - p)``, is a sum of quotients by ``p`` and by
``1 - p``; the logistic function's rule multiplies it by ``p (1 - p)``::

    p_bar = c * (1 - y) / tmp8 - c * y / p      # (gone)
    z_bar = p_bar * p * tmp8                    z_bar = c * (1 - y) * p - c * y * tmp8

Identity: ``(Σ ± aᵢ / dᵢ) · F₁ ⋯ Fₖ = Σ ± aᵢ · Π_{j ≠ m(i)} Fⱼ`` where each dᵢ is the factor
F_m(i), up to rounding. Side conditions: the sum is bound to a name s by the statement just
before the product's (comments between), bound nowhere else and read only by the product, so
the names hold the same values in both; the product (the statement's value, or a part of it:
``X.T @ (p_bar * p * tmp8)``) is of ``*`` alone and holds s once; each
dᵢ is one of the product's factors written alike (``1 - p``, ``1.0 - p`` and ``1 + -p`` are
one value for a float p); those factors are two or more and have one known shape, so that every
term keeps one of them and the sum's shape is the product's; every term keeps a division or a
float literal (its value is a float as before); factors no term divides by multiply the sum.
Where a dᵢ is 0 (p rounds to 0 or 1) the product gives NaN (``a / 0 · 0``) and the rewrite the
limit, as for ``n / n`` above.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from overbar.transpiler.names import clone, walk
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.sums import sign_of_literal


def cancel_quotients(adjoint: Adjoint) -> Adjoint:
    """The adjoint with every product's number multiplied in and divided out cancelled (see
    the module docstring); its tree is not changed (a statement rewritten is a copy)."""
    numbers = {name for name, shape in adjoint.shapes if shape == ()}
    if not numbers:
        return adjoint
    body = list(adjoint.tree.body)
    changed = False
    for index in range(adjoint.forward_length, len(body)):
        statement = body[index]
        if not _has_cancellation(statement, numbers):
            continue
        body[index] = _Canceller(numbers).visit(clone(statement))
        changed = True
    if not changed:
        return adjoint
    tree = ast.FunctionDef(
        name=adjoint.tree.name,
        args=adjoint.tree.args,
        body=body,
        decorator_list=adjoint.tree.decorator_list,
        returns=adjoint.tree.returns,
        type_comment=None,
    )
    return replace(adjoint, tree=ast.copy_location(tree, adjoint.tree))


def _has_cancellation(statement: ast.stmt, numbers: set[str]) -> bool:
    return any(
        _chain_root(node) and _cancellable(_flattened(node), numbers) is not None
        for node in walk(statement)
    )


def _chain_root(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div)


def _flattened(node: ast.expr) -> list[tuple[type, ast.expr]]:
    """``a * b / c`` as ``[(Mult, a), (Mult, b), (Div, c)]`` (left to right)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        return [*_flattened(node.left), (type(node.op), node.right)]
    return [(ast.Mult, node)]


def _cancellable(chain: list[tuple[type, ast.expr]], numbers: set[str]) -> tuple | None:
    """The positions of a ``* n`` and a ``/ n`` that may go (the side conditions hold)."""
    for i, (op, operand) in enumerate(chain):
        if op is not ast.Mult or not (isinstance(operand, ast.Name) and operand.id in numbers):
            continue
        for j, (other_op, other) in enumerate(chain):
            if other_op is ast.Div and isinstance(other, ast.Name) and other.id == operand.id:
                rest = [pair for k, pair in enumerate(chain) if k not in (i, j)]
                if rest and _stays_float(rest):
                    return i, j
    return None


def _stays_float(chain: list[tuple[type, ast.expr]]) -> bool:
    return any(
        op is ast.Div or (isinstance(operand, ast.Constant) and type(operand.value) is float)
        for op, operand in chain
    )


def _rebuilt(chain: list[tuple[type, ast.expr]]) -> ast.expr:
    (first_op, first), *rest = chain
    node = first if first_op is ast.Mult else ast.BinOp(ast.Constant(1.0), ast.Div(), first)
    for op, operand in rest:
        node = ast.BinOp(left=node, op=op(), right=operand)
    return node


class _Canceller(ast.NodeTransformer):
    def __init__(self, numbers: set[str]):
        self.numbers = numbers

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if not _chain_root(node):
            self.generic_visit(node)
            return node
        chain = [(op, self.visit(operand)) for op, operand in _flattened(node)]
        while (found := _cancellable(chain, self.numbers)) is not None:
            chain = [pair for k, pair in enumerate(chain) if k not in found]
        return ast.fix_missing_locations(ast.copy_location(_rebuilt(chain), node))


# -- a sum of quotients times their divisors ---------------------------------------------------


def distribute_quotients(adjoint: Adjoint) -> Adjoint:
    """The adjoint with every sum of quotients that a product multiplies by their divisors
    written as the sum of the numerators times the other factors (see the module docstring;
    after the contributions to an adjoint are added in one expression, ``sums.py``); its
    tree is not changed."""
    shapes = dict(adjoint.shapes)
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    for node in walk(adjoint.tree):
        if isinstance(node, ast.Name):
            counts = loads if isinstance(node.ctx, ast.Load) else stores
            counts[node.id] = counts.get(node.id, 0) + 1
    body = list(adjoint.tree.body)
    definitions = {}
    for statement in body[: adjoint.forward_length]:
        name = _single_name_assignment(statement)
        if (
            name is not None
            and stores.get(name) == 1
            and _arithmetic(statement.value)
            and all(
                stores.get(n.id, 0) <= 1 for n in walk(statement.value) if isinstance(n, ast.Name)
            )
        ):
            definitions[name] = statement.value
    reverse = body[adjoint.forward_length :]
    rewritten = _distribute_block(reverse, shapes, stores, loads, definitions)
    if rewritten is None:
        return adjoint
    forward = _without_unread(body[: adjoint.forward_length], rewritten, definitions)
    tree = ast.FunctionDef(
        name=adjoint.tree.name,
        args=adjoint.tree.args,
        body=forward + rewritten,
        decorator_list=adjoint.tree.decorator_list,
        returns=adjoint.tree.returns,
        type_comment=None,
    )
    return replace(
        adjoint, tree=ast.copy_location(tree, adjoint.tree), forward_length=len(forward)
    )


def _without_unread(forward: list[ast.stmt], reverse: list[ast.stmt], definitions) -> list:
    """``forward`` without the lines of ``definitions`` (arithmetic, bound once) that nothing
    reads any more: a divisor the reverse sweep read (``tmp6 = 1.0 - p``)."""
    while True:
        read: set[str] = set()
        for statement in forward + reverse:
            read.update(
                n.id
                for n in walk(statement)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            )
        kept = [
            statement
            for statement in forward
            if _single_name_assignment(statement) not in definitions
            or _single_name_assignment(statement) in read
        ]
        if len(kept) == len(forward):
            return forward
        forward = kept


def _distribute_block(
    block: list[ast.stmt], shapes, stores, loads, definitions
) -> list[ast.stmt] | None:
    """``block`` with each sum of quotients and its product merged, or None for no change
    (only the reverse sweep's top level: a loop's statements run again, which the side
    conditions would have to follow)."""
    out: list[ast.stmt] = []
    changed = False
    for statement in block:
        earlier = _previous_statement(out)
        merged = (
            _merged(out[earlier], statement, shapes, stores, loads, definitions)
            if earlier is not None
            else None
        )
        if merged is None:
            out.append(statement)
            continue
        del out[earlier]
        out.append(ast.copy_location(merged, statement))
        changed = True
    return out if changed else None


def _previous_statement(out: list[ast.stmt]) -> int | None:
    """The index of the last statement of ``out`` that is not a comment."""
    for index in range(len(out) - 1, -1, -1):
        if not _is_comment(out[index]):
            return index
    return None


def _is_comment(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "__overbar_comment__"
    )


def _single_name_assignment(statement: ast.stmt) -> str | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.targets[0].id
    return None


def _merged(
    total: ast.stmt, product: ast.stmt, shapes, stores, loads, definitions
) -> ast.Assign | None:
    name = _single_name_assignment(total)
    if name is None or _single_name_assignment(product) is None:
        return None
    if stores.get(name) != 1 or loads.get(name) != 1:
        return None
    product = clone(product)
    chains = [
        node
        for node in walk(product.value)
        if (found := _factors(node)) is not None and any(_is_name(f, name) for f in found)
    ]
    if not chains:
        return None
    chain = max(chains, key=lambda node: len(_factors(node)))
    factors = _factors(chain)
    if sum(_is_name(f, name) for f in factors) != 1:
        return None
    others = [f for f in factors if not _is_name(f, name)]
    terms = _signed_terms(total.value)
    if terms is None:
        return None
    keys = [_canonical(f, definitions) for f in others]
    matched = []
    for _, numerator, divisor in terms:
        key = _canonical(divisor, definitions)
        if key not in keys or not _stays_float(_flattened(numerator)):
            return None
        matched.append(keys.index(key))
    divided = {keys[m] for m in matched}
    cancellable = [i for i, key in enumerate(keys) if key in divided]
    if len(cancellable) < 2:
        return None
    common = {_shape(others[i], shapes) for i in cancellable}
    if len(common) != 1 or None in common:
        return None
    value = None
    for (sign, numerator, _), match in zip(terms, matched, strict=True):
        term = clone(numerator)
        for i in cancellable:
            if i != match:
                term = ast.BinOp(left=term, op=ast.Mult(), right=clone(others[i]))
        term, flipped = sign_of_literal(term)  # + -1.0 / n * y is - 1.0 / n * y
        sign = -sign if flipped else sign
        if value is None:
            value = term if sign > 0 else ast.UnaryOp(op=ast.USub(), operand=term)
        else:
            value = ast.BinOp(left=value, op=ast.Add() if sign > 0 else ast.Sub(), right=term)
    rest = [clone(f) for i, f in enumerate(others) if i not in cancellable]
    for factor in rest:
        value = ast.BinOp(left=value, op=ast.Mult(), right=factor)
    if chain is product.value:
        product.value = value
    else:
        for node in walk(product.value):
            for field, child in ast.iter_fields(node):
                if child is chain:
                    setattr(node, field, value)
                elif isinstance(child, list) and any(item is chain for item in child):
                    setattr(node, field, [value if item is chain else item for item in child])
    return ast.fix_missing_locations(product)


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _factors(node: ast.expr) -> list[ast.expr] | None:
    """The factors of a product of ``*`` alone (None where it divides), left to right."""
    chain = _flattened(node)
    if len(chain) < 2 or any(op is not ast.Mult for op, _ in chain):
        return None
    return [operand for _, operand in chain]


def _signed_terms(node: ast.expr, sign: int = 1) -> list[tuple[int, ast.expr, ast.expr]] | None:
    """``a / d - b / e`` as ``[(1, a, d), (-1, b, e)]``; None unless every term is a quotient."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        left = _signed_terms(node.left, sign)
        right = _signed_terms(node.right, sign if isinstance(node.op, ast.Add) else -sign)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _signed_terms(node.operand, -sign)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return [(sign, node.left, node.right)]
    return None


def _canonical(node: ast.expr, definitions: dict) -> str:
    """A key equal for expressions that are one value for floats: number literals by value
    (``1`` and ``1.0``), ``a + -b`` as ``a - b``, a name of the forward sweep bound once to
    arithmetic of names bound at most once as that arithmetic (it holds its value)."""
    return ast.dump(_Canonical(definitions).visit(clone(node)))


def _arithmetic(node: ast.expr) -> bool:
    return all(
        isinstance(
            inner,
            ast.Name
            | ast.Constant
            | ast.BinOp
            | ast.UnaryOp
            | ast.operator
            | ast.unaryop
            | ast.expr_context,
        )
        for inner in walk(node)
    )


class _Canonical(ast.NodeTransformer):
    def __init__(self, definitions: dict):
        self.definitions = definitions

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.definitions:
            return self.visit(clone(self.definitions[node.id]))
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if type(node.value) is int:
            return ast.Constant(float(node.value))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.op, ast.Add)
            and isinstance(node.right, ast.UnaryOp)
            and isinstance(node.right.op, ast.USub)
        ):
            return ast.BinOp(left=node.left, op=ast.Sub(), right=node.right.operand)
        return node


def _shape(node: ast.expr, shapes: dict) -> object:
    """The shape of an expression of names of one known shape and number literals."""
    found = set()
    for inner in walk(node):
        if isinstance(inner, ast.Name):
            found.add(shapes.get(inner.id))
        elif not isinstance(
            inner, ast.Constant | ast.BinOp | ast.UnaryOp | ast.operator | ast.unaryop
        ) and not isinstance(inner, ast.expr_context):
            return None
    if len(found) != 1:
        return None
    (shape,) = found
    return shape if isinstance(shape, tuple) else None
