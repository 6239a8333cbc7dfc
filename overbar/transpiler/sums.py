"""The contributions to one adjoint added in one expression.

The reverse sweep adds each line's contribution to an adjoint in a statement of its own. On
large arrays every statement makes a new array while the one before is still held, and NumPy
can reuse the buffer of a temporary only inside one expression. Invariant established: in each
block of the reverse sweep, no run of consecutive statements

    x_bar = 1.0 * tmp1
    x_bar = x_bar + x * np.cos(x)

is left; it reads ``x_bar = tmp1 + x * np.cos(x)``: one array where there were three (the
copy, the product and the sum), as a person writes ``np.cos(x) * x + np.sin(x)``.

Identities: ``X = E1; X = X ± E2; X = X ± E3`` is ``X = E1 ± E2 ± E3`` (the same additions in
the same order, left to right); a statement between them that assigns another name, reads
neither ``X`` nor binds a name a later term reads, may be passed (nothing it or the terms call
but NumPy's functions, so their order of evaluation is free); and where the
run has two terms or more, ``1.0 * A + E2`` is ``A + E2`` (multiplying by one is exact; the sum
is a new array either way, so the copy ``1.0 * A`` made to keep the adjoint from sharing ``A``'s
memory is not needed). Side conditions: the statements are consecutive in one block (a comment
naming a forward line ends a run) and bind the same name ``X``; no term but the accumulated
``X`` reads ``X``; ``1.0`` goes only where ``A`` is a forward value surely floating point (so
the sum's dtype is unchanged).

Two terms led by the same name, or the same expression of constants, names and dimensions
(``1.0 / X.shape[0]``: no call, so the same value in both), are factored: ``a * b ± a * c`` is
``a * (b ± c)``, and ``-a * b + a * c`` is ``a * (c - b)`` (the distributive law: the same value
up to rounding, as the peephole pass's factorings; one array fewer), a quotient ``a / d`` taken
as the product ``a * (1.0 / d)`` (the same up to rounding; the reciprocal is a float), where
``b`` or ``c`` is
surely numeric (``np.isfinite(x) + np.isfinite(x)`` is a
logical or of booleans, not 2). Within a term, ``1.0 * a * f(b)`` is ``a * f(b)`` where ``f``
is a NumPy function whose result is floating point whatever its argument (``np.cos``,
``np.exp``): the product is then floating point and a new array either way, and multiplying
by one is exact (the peephole pass removes such factors where the floating factor is a name;
here it is a call the simplifier folded in later).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import library_function, module_names, surely_numeric
from overbar.transpiler.names import walk_breadth_first, with_reverse_cloned
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint


def add_in_one_expression(adjoint: Adjoint, runtime: Runtime, namespace: Namespace) -> Adjoint:
    """The adjoint with the runs above written as one sum each in its reverse sweep."""
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    names = module_names(adjoint.bindings, namespace, runtime)
    folder = _Folder(adjoint.floating, runtime, names)
    # adjoints are sums of products with floating point seeds: numbers, never booleans
    folder.numeric_names = adjoint.floating | {bar for bar, _ in adjoint.adjoints}
    reverse = folder.block(reverse)
    if not folder.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


def add_like_terms(adjoint: Adjoint, runtime: Runtime, namespace: Namespace) -> Adjoint:
    """The adjoint with like terms of each sum in its reverse sweep added
    (``_Folder.like_terms_in``): ``g * (t * r) + g * r * t`` is ``2 * (g * (t * r))``, as the
    product rule of ``t * r * r`` gives it. Run last, once the forward values read once are
    folded into the sums that read them (``t * r`` is then seen as such, not as a name)."""
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    folder = _Folder(adjoint.floating, runtime, module_names(adjoint.bindings, namespace, runtime))
    folder.numeric_names = adjoint.floating | {bar for bar, _ in adjoint.adjoints}
    reverse = [folder.like_terms_in(statement) for statement in reverse]
    if not folder.changed:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


class _Folder:
    def __init__(self, floating: frozenset[str], runtime: Runtime, numpy_names: frozenset[str]):
        self.floating, self.runtime, self.numpy_names = floating, runtime, numpy_names
        self.functions = runtime.shapes.FLOATING_FUNCTIONS
        self.changed = False

    def without_one(self, node: ast.expr) -> ast.expr:
        """``a * f(b)`` for ``1.0 * a * f(b)`` (see above), else ``node``."""
        factors = []
        product = node
        while isinstance(product, ast.BinOp) and isinstance(product.op, ast.Mult):
            factors.append(product.right)
            product = product.left
        factors.append(product)
        factors.reverse()
        if len(factors) < 3 or not _is_one(factors[0]):
            return node
        if not any(self.surely_floating_call(factor) for factor in factors[1:]):
            return node
        self.changed = True
        result = factors[1]
        for factor in factors[2:]:
            result = ast.BinOp(result, ast.Mult(), factor)
        return result

    def numeric(self, node: ast.expr) -> bool:
        return surely_numeric(node, self.numeric_names, self.numpy_names, self.runtime)

    def like_terms_in(self, statement: ast.stmt) -> ast.stmt:
        """``statement`` with like terms of its sums added (``a * b + b * a`` is ``2 * (a *
        b)``), in the blocks inside it too.

        Identity: two products of the same factors, in any order and grouping, are equal up
        to rounding (multiplication commutes, and associates up to rounding), so their sum is
        twice either (doubling is exact). Side conditions: the terms are added with ``+`` in
        one chain of additions (no subtraction between them: ``x - a * b + b * a`` is left);
        the 2 multiplies the kept term's leftmost factor (``2 * a * b``: the same up to
        rounding);
        a factor is surely numeric (two boolean arrays add as a logical or, not to 2); every
        call in them is of a pure function of the array library (computed once instead of
        twice: nothing is seen to change)."""
        for field in ("body", "orelse"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(statement, field, [self.like_terms_in(s) for s in inner])
        if isinstance(statement, ast.Assign):
            statement.value = self.like_terms(statement.value)
        return statement

    def like_terms(self, node: ast.expr) -> ast.expr:
        for field in ("left", "right", "operand"):
            child = getattr(node, field, None)
            if isinstance(child, ast.expr):
                setattr(node, field, self.like_terms(child))
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
            return node
        terms = []
        chain = node
        while isinstance(chain, ast.BinOp) and isinstance(chain.op, ast.Add):
            terms.append(chain.right)
            chain = chain.left
        terms.append(chain)
        terms.reverse()
        keys = [self.factors_key(term) for term in terms]
        for i, key in enumerate(keys):
            if key is None:
                continue
            j = next((j for j in range(i + 1, len(terms)) if keys[j] == key), None)
            if j is None:
                continue
            terms[i] = _doubled(terms[i])
            del terms[j]
            self.changed = True
            result = terms[0]
            for term in terms[1:]:
                result = ast.BinOp(result, ast.Add(), term)
            return self.like_terms(result)
        return node

    def factors_key(self, term: ast.expr) -> tuple | None:
        """The factors of the product ``term`` (in any grouping), as a sorted tuple of their
        syntax, where it is a product of two or more factors, one surely numeric, calling
        only pure functions; else None."""
        factors, pending = [], [term]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                pending += [node.left, node.right]
            else:
                factors.append(node)
        if len(factors) < 2 or not any(self.numeric(factor) for factor in factors):
            return None
        if not self.calls_only_pure(term):
            return None
        return tuple(sorted(ast.dump(factor) for factor in factors))

    def surely_floating_call(self, node: ast.expr) -> bool:
        function = library_function(node, self.numpy_names, self.runtime)
        try:
            return function is not None and function in self.functions
        except TypeError:  # an unhashable attribute of the library
            return False

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner))
            start = self.run_start(result, statement)
            if start is not None:
                result[start] = self.added(result[start], statement)
                continue
            result.append(statement)
        return result

    def run_start(self, result: list[ast.stmt], statement: ast.stmt) -> int | None:
        """Where the sum that ``statement`` (``X = X ± E``) adds to was started: the last
        statement, or an earlier one if the statements after it can be passed (plain
        assignments of other names, reading neither X nor binding what E reads, and E and they
        calling nothing but NumPy's functions, so the order of their evaluation is free)."""
        for index in range(len(result) - 1, -1, -1):
            candidate = result[index]
            if _starts(candidate) and self.extends(candidate, statement):
                passed = result[index + 1 :]
                if passed and not self.movable(passed, candidate, statement.value.right):
                    return None
                return index
            if not (isinstance(candidate, ast.Assign) and len(candidate.targets) == 1):
                return None  # a comment, a block, an unpacking: the run ends here
        return None

    def movable(self, passed: list[ast.stmt], total: ast.Assign, term: ast.expr) -> bool:
        name = total.targets[0].id
        term_reads = {n.id for n in walk_breadth_first(term) if isinstance(n, ast.Name)}
        if not self.calls_only_pure(term):
            return False
        for statement in passed:
            target = statement.targets[0]
            if not isinstance(target, ast.Name) or target.id == name or target.id in term_reads:
                return False
            if _reads(statement.value, name) or not self.calls_only_pure(statement.value):
                return False
        return True

    def calls_only_pure(self, node: ast.AST) -> bool:
        """Whether every call in ``node`` is of a pure function of the array library."""
        return all(
            self.runtime.is_pure(library_function(call, self.numpy_names, self.runtime))
            for call in walk_breadth_first(node)
            if isinstance(call, ast.Call)
        )

    def extends(self, total: ast.Assign, statement: ast.stmt) -> bool:
        """Whether ``statement`` is ``X = X ± E`` for the ``X`` that ``total`` binds."""
        name = total.targets[0].id
        return (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == name
            and isinstance(statement.value, ast.BinOp)
            and isinstance(statement.value.op, ast.Add | ast.Sub)
            and isinstance(statement.value.left, ast.Name)
            and statement.value.left.id == name
            and not _reads(statement.value.right, name)
        )

    def added(self, total: ast.Assign, statement: ast.Assign) -> ast.Assign:
        first = total.value
        if self.is_copy(first) or self.is_copy_of_floating_call(first):
            first = first.right
        term = statement.value.right
        if self.surely_floating(first) and _is_one_times_name(term):
            term = term.right  # f + 1.0 * x is f + x for a floating f: x converts the same
        left, right = self.without_one(first), self.without_one(term)
        value = _factored(left, statement.value.op, right, self.numeric) or ast.BinOp(
            left, statement.value.op, right
        )
        self.changed = True
        return ast.copy_location(ast.Assign([total.targets[0]], value), total)

    def is_copy_of_floating_call(self, node: ast.expr) -> bool:
        """``1.0 * f(b)`` for a NumPy function f whose result is floating point (a new array)."""
        return (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mult)
            and _is_one(node.left)
            and self.surely_floating_call(node.right)
        )

    def surely_floating(self, node: ast.expr) -> bool:
        """A floating call, a forward value surely floating, or arithmetic with one first."""
        if isinstance(node, ast.Name):
            return node.id in self.floating
        if isinstance(node, ast.BinOp):
            return self.surely_floating(node.left)
        return self.surely_floating_call(node)

    def is_copy(self, node: ast.expr) -> bool:
        """``1.0 * A`` for a forward value ``A`` surely floating point."""
        return (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mult)
            and isinstance(node.left, ast.Constant)
            and type(node.left.value) is float
            and node.left.value == 1.0
            and isinstance(node.right, ast.Name)
            and node.right.id in self.floating
        )


def _doubled(term: ast.expr) -> ast.expr:
    """``2 * a * b`` for the product ``a * b``: the 2 multiplies its leftmost factor, computed
    first (a number, where that is one: no pass over an array for it)."""
    if isinstance(term, ast.BinOp) and isinstance(term.op, ast.Mult):
        return ast.BinOp(_doubled(term.left), ast.Mult(), term.right)
    return ast.BinOp(ast.Constant(2), ast.Mult(), term)


def _factored(left: ast.expr, op: ast.operator, right: ast.expr, numeric) -> ast.expr | None:
    """``a * (b ± c)`` for ``a * b ± a * c`` (the same leading factor ``a`` in both products),
    and ``a * (c - b)`` for ``-a * b + a * c``, where ``b`` or ``c`` is surely ``numeric``
    (two boolean arrays would add as a logical or)."""
    first, second = _leading(left), _leading(right)
    if first is None or second is None or ast.dump(first[0]) != ast.dump(second[0]):
        return None
    if not (numeric(first[1]) or numeric(second[1])):
        return None
    (leader, b, b_negated), (_, c, c_negated) = first, second
    if b_negated and (c_negated or not isinstance(op, ast.Add)):
        return None
    if b_negated:  # -a * b + a * c
        inner = ast.BinOp(c, ast.Sub(), b)
    elif c_negated:  # a * b ± -a * c
        inner = ast.BinOp(b, ast.Sub() if isinstance(op, ast.Add) else ast.Add(), c)
    else:
        inner = ast.BinOp(b, op, c)
    return ast.BinOp(leader, ast.Mult(), inner)


def _leading(node: ast.expr) -> tuple[ast.expr, ast.expr, bool] | None:
    """(a, b, negated) for the product ``a * b`` or ``-a * b`` (``b`` the product of the other
    factors), where ``a`` is a name or an expression of constants, names, their attributes
    and dimensions (``1.0 / X.shape[0]``): it has the same value in both products, and
    computing it once calls nothing."""
    factors = []
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and (isinstance(node.left, ast.Name) or _without_calls(node.left))
    ):  # a / d, led by a: a * (1.0 / d)
        leader, negated = sign_of_literal(node.left)
        return leader, ast.BinOp(ast.Constant(1.0), ast.Div(), node.right), negated
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        factors.append(node.right)
        node = node.left
    negated = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    if negated:
        node = node.operand
    if not factors or not (isinstance(node, ast.Name) or _without_calls(node)):
        return None
    if not negated:
        node, negated = sign_of_literal(node)
    factors.reverse()
    rest = factors[0]
    for factor in factors[1:]:
        rest = ast.BinOp(rest, ast.Mult(), factor)
    return node, rest, negated


def sign_of_literal(node: ast.expr) -> tuple[ast.expr, bool]:
    """(a, True) for ``-c ⋯`` whose leading literal is negative (``-1.0 / n`` is ``-(1.0 /
    n)``, exactly: IEEE rounding is symmetric in sign), else (node, False)."""
    first = node
    while isinstance(first, ast.BinOp) and isinstance(first.op, ast.Mult | ast.Div):
        first = first.left
    magnitude = _negative_literal(first)
    if magnitude is None:
        return node, False
    if node is first:
        return ast.Constant(magnitude), True
    positive = copy.deepcopy(node)
    leftmost = positive
    while isinstance(leftmost.left, ast.BinOp) and isinstance(
        leftmost.left.op, ast.Mult | ast.Div
    ):
        leftmost = leftmost.left
    leftmost.left = ast.Constant(magnitude)
    return positive, True


def _negative_literal(node: ast.expr) -> int | float | None:
    """c for the literal ``-c`` (a negative constant, or the negation of a positive one)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if (
            isinstance(inner, ast.Constant)
            and type(inner.value) in (int, float)
            and inner.value > 0
        ):
            return inner.value
        return None
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value < 0:
        return -node.value
    return None


def _without_calls(node: ast.expr) -> bool:
    """Constants, names, attributes, ``.shape[k]`` and arithmetic of these, with a number in
    it (a name alone is led by its own case)."""
    for part in ast.walk(node):
        if isinstance(part, ast.Subscript):
            if not (isinstance(part.value, ast.Attribute) and part.value.attr == "shape"):
                return False
        elif not isinstance(
            part,
            ast.Constant
            | ast.Name
            | ast.Attribute
            | ast.BinOp
            | ast.UnaryOp
            | ast.operator
            | ast.unaryop
            | ast.expr_context,
        ):
            return False
    return any(isinstance(part, ast.Constant) for part in ast.walk(node))


def _is_one_times_name(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and _is_one(node.left)
        and isinstance(node.right, ast.Name)
    )


def _is_one(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 1.0


def _starts(statement: ast.stmt) -> bool:
    """``X = E`` where E does not read X."""
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and not _reads(statement.value, statement.targets[0].id)
    )


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(node))
