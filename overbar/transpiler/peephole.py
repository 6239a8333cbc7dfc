"""Peephole rewrites of the simplified adjoint, for arithmetic a person would not write.

Invariant established: no ``broadcast_like(a, t)`` is left where the elementwise expression it
takes part in has, through another operand whose shape is known, at least t's shape anyway (the
adjoint of a sum, ``broadcast_like(L_bar, tmp) * 2 * tmp6``, becomes ``L_bar * 2 * tmp6``); a
temporary bound to such a broadcast goes too when every reader can take ``a`` instead. Double
negations are gone (``-(-a * b)`` is ``a * b``) and ``x + -y * z`` reads ``x - y * z``. A
gradient's seed ``L_bar = 1.0`` is read as the literal, and a factor 1.0 goes from a product of
two or more other factors one of which is surely floating point (the product is then a new
float array anyway). These give the same values, bit for bit, and the same shapes.

Three rewrites give the same values up to rounding, by the distributive law and the order of a
product, for fewer passes over arrays: in a product the factors that are numbers come first
(``g * x * 2`` becomes ``2 * g * x``); two contributions scaled by the same adjoint are added
before scaling (``s_bar = s_bar * (k * 0.1 + 0.9 * np.cos(s))``); two consecutive contributions
that end in the same factor are added before multiplying by it
(``x_bar = (2.0 / (1 + tmp6) - 2 * tmp1 * tmp4) * x``). Only the reverse sweep is rewritten:
the forward sweep is the user's own lines.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import is_select, library_function, module_names, surely_numeric
from overbar.transpiler.names import (
    ReplaceNames,
    Transformer,
    bindings,
    clone,
    statements_depth_first,
    walk,
    with_reverse_cloned,
)
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint

_ELEMENTWISE = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def peephole(adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None) -> Adjoint:
    """The adjoint with the rewrites above applied to its reverse sweep (``namespace``, the
    user's function's, says whether ``np`` there is NumPy: its elementwise functions keep
    their arguments' shapes)."""
    broadcasters = {name for name, value in adjoint.bindings if value is runtime.broadcast_like}
    counts = {name for name, value in adjoint.bindings if _is_number_valued(value, runtime)}
    rewriter = _Rewriter(
        dict(adjoint.shapes),
        broadcasters,
        runtime,
        adjoint.floating,
        module_names(adjoint.bindings, namespace, runtime),
    )
    rewriter.adjoint_names = frozenset(bar for bar, _ in adjoint.adjoints)
    rewriter.counts = frozenset(counts)
    # an adjoint has its value's shape, unless it may hold the runtime zero (a number)
    rewriter.adjoint_shapes = {
        bar: rewriter.shapes.get(name)
        for bar, name in adjoint.adjoints
        if bar not in adjoint.maybe_zero and bar not in rewriter.shapes
    }
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    reverse = _propagate_ones(reverse, body)
    body = forward + [rewriter.visit(statement) for statement in reverse]  # the user's lines stay
    for _ in range(8 if broadcasters else 0):  # each substitution may make room for another
        inlined = _inline_broadcasts(body, adjoint, rewriter)
        if inlined is body:
            break
        body = inlined
    temporaries = adjoint.temporaries
    if broadcasters:
        body, made = _broadcasts_left_to_readers(body, adjoint, rewriter)
        temporaries = temporaries | made
    reads = Counter(n.id for n in walk(ast.Module(body=body, type_ignores=[])) if _is_load(n))
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    movable = adjoint.temporaries - adjoint.effects
    # adjoints are sums of products with floating point seeds: numbers, never booleans
    numeric_names = adjoint.floating | {bar for bar, _ in adjoint.adjoints}
    numpy_names = module_names(adjoint.bindings, namespace, runtime)

    def numeric(node: ast.expr) -> bool:
        return surely_numeric(node, numeric_names, numpy_names, runtime)

    reverse = _factor_common_adjoints(reverse, movable, reads, adjoint.effects, numeric)
    body = forward + _factor_trailing_factors(reverse, adjoint.effects, numeric)
    tree = copy.copy(adjoint.tree)
    tree.body = body
    return replace(adjoint, tree=tree, temporaries=temporaries)


def _is_number_valued(value: Any, runtime: Runtime) -> bool:
    """Whether ``value`` (a bound helper) always returns a number (``runtime.number_valued``)."""
    try:
        return value in runtime.number_valued
    except TypeError:  # an unhashable value
        return False


def _propagate_ones(reverse: list[ast.stmt], body: list[ast.stmt]) -> list[ast.stmt]:
    """``L_bar = 1.0`` (the seed of a gradient) bound once, at the top of the reverse sweep:
    its readers read the literal, which the rewrites below and literal folding then use.

    Identity: a name bound to a constant holds that constant wherever it is read.
    Side conditions: the name has exactly one binding in the whole function (no rebinding, no
    loop target, no unpacking), the binding is a statement of the reverse sweep's top level
    (it runs once, before every reader of the sweep), and the constant is the float 1.0 (an
    int 1 or True would change the dtype of what it multiplies)."""
    bound = bindings(body)
    ones = {
        statement.targets[0].id
        for statement in reverse
        if isinstance(statement, ast.Assign)
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Constant)
        and type(statement.value.value) is float
        and statement.value.value == 1.0
        and len(bound.get(statement.targets[0].id, [])) == 1
    }
    if not ones:
        return reverse
    literal = {name: ast.Constant(1.0) for name in ones}
    return [ReplaceNames(literal).visit(statement) for statement in reverse]


class _Rewriter(Transformer):
    def __init__(
        self,
        shapes: dict[str, Any],
        broadcasters: set[str],
        runtime: Runtime,
        floating: frozenset[str] = frozenset(),
        numpy_names: frozenset[str] = frozenset(),
    ):
        self.numpy_names = numpy_names  # names that are NumPy in the generated function
        self.runtime = runtime
        facts = runtime.shapes
        self.shapes = shapes
        self.broadcasters = broadcasters
        self.facts = facts  # the runtime's shape module
        self.floating = floating
        self.adjoint_shapes: dict[str, Any] = {}
        self.adjoint_names: frozenset[str] = frozenset()
        self.counts: frozenset[str] = frozenset()  # helpers that return a number

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        """Identity: ``x + -y = x - y`` and ``x + (-y) * z = x - y * z`` (and with ``-`` for
        ``+``), exactly: IEEE subtraction is the addition of the negation, and negation is
        exact. Side conditions: none (the negation moved out of a product is its leftmost
        factor's, and a product's negation is exact)."""
        if isinstance(node.op, _ELEMENTWISE):
            self.drop_broadcasts(node)
        if isinstance(node.op, ast.Mult | ast.Div):
            node = self.scalars_first(node)
        self.generic_visit(node)
        if isinstance(node.op, _ELEMENTWISE):  # -broadcast_like(a, t) became one just now
            self.drop_broadcasts(node)
        if isinstance(node.op, ast.Add | ast.Sub):  # x + -y * z  is  x - y * z
            flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            if _is_negation(node.right):
                return ast.BinOp(left=node.left, op=flipped, right=node.right.operand)
            first = _leftmost_product(node.right)
            if first is not None and _is_negation(first.left):
                first.left = first.left.operand
                return ast.BinOp(left=node.left, op=flipped, right=node.right)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        """Identity: ``-(-a) = a`` and ``-((-a) * b) = a * b``, exactly (negation is exact, for
        -0.0 too); ``-broadcast_like(a, t) = broadcast_like(-a, t)`` (negating each copy of a
        is negating a), so the broadcast can go where it is read; ``-(c * b / d) = (-c) * b /
        d`` for a number literal or a name of a number (shape ``()``) c leading a chain of
        products and quotients, exactly (IEEE rounding is symmetric in sign; integers wrap
        alike), so the negation is the number's and no pass over an array (``X.T @ -(1.0 / n
        * 2 * r)`` reads ``X.T @ (-1.0 / n * 2 * r)``). Side conditions: none for numbers and
        numeric arrays (c an int or float literal, not a bool, or a name known to hold a
        number)."""
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            if _is_negation(node.operand):
                return node.operand.operand
            if self.is_broadcast(node.operand):
                value, like = node.operand.args
                negated = ast.UnaryOp(op=ast.USub(), operand=value)
                return ast.Call(node.operand.func, [negated, like], [])
            first = _leftmost_product(node.operand)
            if first is not None and _is_negation(first.left):
                first.left = first.left.operand
                return node.operand
            if (
                first is not None
                and isinstance(first.left, ast.Constant)
                and type(first.left.value) in (int, float)
            ):
                first.left = ast.Constant(-first.left.value)
                return node.operand
            if (
                first is not None
                and isinstance(first.left, ast.Name)
                and self.shape_of(first.left) == ()
            ):
                first.left = ast.UnaryOp(op=ast.USub(), operand=first.left)
                return node.operand
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        """Identity: ``sum(-a * b, axis) = -sum(a * b, axis)``, exactly (negation is exact, and
        IEEE rounding is symmetric, so a sum of negated terms is the negated sum, in any
        order): the negation is applied to the sum's result, an array smaller than the terms,
        instead of to the terms. Side conditions: the sum is the ``sum`` method or the array
        library's ``sum``, with no keyword but ``axis`` and ``keepdims`` (``initial`` or
        ``where`` would not negate along, ``dtype`` and ``out`` may change the arithmetic);
        the terms are surely floating point (a factor is an adjoint or a forward value
        known to be floating: unsigned integers would wrap before a widening sum).

        Identity: ``sum(a * c, axis=k) = sum(a, axis=k) * c`` and ``sum(a / c, axis=k) =
        sum(a, axis=k) / c`` where ``c`` is the same along the summed axes k (distributivity:
        equal up to rounding), so the product or quotient runs over the sum's result, not over
        every term (``constant_factors_out``)."""
        self.generic_visit(node)
        slot = self.summed_slot(node)
        if slot is None:
            return node
        factored = self.constant_factors_out(node, slot)
        if factored is not None:
            # the sum is now the leftmost operand of the product that multiplies it
            product = factored
            while isinstance(product.left, ast.BinOp):
                product = product.left
            product.left = self.negation_out(product.left, self.summed_slot(product.left))
            return factored
        return self.negation_out(node, slot)

    def constant_factors_out(self, node: ast.Call, slot: tuple[Any, Any]) -> ast.BinOp | None:
        """``sum(a * b / c, axis=k, keepdims=K) * b / c`` rewritten as ``sum(a, ...) * b' / c'``
        for the factors b, c of the terms that are the same along the summed axes, or None
        where none may move.

        Identity: for ``c`` the same along every summed axis k, ``Σ_k (a ∘ c) = (Σ_k a) ∘ c``
        with ∘ one of ``*`` and ``/`` (distributivity; the order of a product's factors
        changes rounding only; a parenthesised product is taken apart, ``a * (b / c)`` is
        ``a * b / c``). With ``keepdims=True`` the summed axes are kept with length 1, and
        ``c`` (length 1 or absent there) broadcasts against the sum as it did against the
        terms; without it, a ``c`` that has none of the summed axes (each is before c's first,
        counted as broadcasting aligns) still lines up with the axes that remain, the last
        ones. Side conditions: the sum is ``terms.sum(...)`` or the library's
        ``sum(terms, ...)`` with no positional argument but the terms, ``axis`` a literal
        integer or tuple of them (or absent: every axis), ``keepdims`` a literal True or False
        (or absent); the terms are a chain of ``*`` and ``/`` whose first factor stays and one
        staying factor is surely floating point (an adjoint, or a forward value known to be
        floating); each factor that moves has a known shape and is either a number (shape
        ``()``), or, with literal axes, of rank at most the terms' and, at each summed axis
        (counted from the right, as broadcasting aligns), without an axis there, or, with
        ``keepdims=True``, of length 1 there; the factors that stay have together a known
        shape of the terms' rank (so that the axes the sum names are the same axes).
        Otherwise the sum stays."""
        holder, key = slot
        if isinstance(holder, list) and len(node.args) != 1:
            return None  # np.sum(terms, 1): the axis given by position
        terms = holder[key] if isinstance(holder, list) else getattr(holder, key)
        keywords = {k.arg: k.value for k in node.keywords}
        kept = keywords.get("keepdims", ast.Constant(False))
        if not (isinstance(kept, ast.Constant) and type(kept.value) is bool):
            return None
        axis = keywords.get("axis", ast.Constant(None))
        if isinstance(axis, ast.Tuple) and all(isinstance(e, ast.Constant) for e in axis.elts):
            axes = tuple(e.value for e in axis.elts)
        elif isinstance(axis, ast.Constant) and (axis.value is None or type(axis.value) is int):
            axes = axis.value if axis.value is None else (axis.value,)
        else:
            return None
        if axes is not None and not all(type(a) is int for a in axes):
            return None
        chain = _flattened_chain(terms)
        if len(chain) < 2:
            return None
        full = self.facts.dims(self.shape_of(_chain(chain)))
        if not full:
            return None
        rank = len(full)
        if axes is not None:
            if not all(-rank <= a < rank for a in axes) or len({a % rank for a in axes}) != len(
                axes
            ):
                return None
            axes = tuple(a % rank for a in axes)
        moved, stay = [], [chain[0]]
        for op, factor in chain[1:]:
            shape = self.facts.dims(self.shape_of(factor))
            number = shape == ()
            # with keepdims, a factor of length 1 at a summed axis broadcasts the same way;
            # without, only a factor that lacks the summed axes (they are all before its own)
            movable = shape is not None and (
                number
                or axes is not None
                and len(shape) <= rank
                and all(
                    a - rank + len(shape) < 0 or kept.value and shape[a - rank + len(shape)] == 1
                    for a in axes
                )
            )
            (moved if movable else stay).append((op, factor))
        if not moved:
            return None
        floating = self.floating | self.adjoint_names
        staying = [f.operand if _is_negation(f) else f for _, f in stay]
        if not any(isinstance(f, ast.Name) and f.id in floating for f in staying):
            return None
        rest = _chain(stay)
        rest_shape = self.facts.dims(self.shape_of(rest))
        if rest_shape is None or len(rest_shape) != rank:
            return None
        if isinstance(holder, list):
            holder[key] = rest
        else:
            setattr(holder, key, rest)
        result: ast.expr = node
        for op, factor in moved:
            result = ast.BinOp(left=result, op=op, right=factor)
        return result

    def summed_slot(self, node: ast.Call) -> tuple[Any, Any] | None:
        """Where the terms of ``node`` are, if it is a sum whose negation and constant factors
        the rewrites of ``visit_Call`` may move: ``(node.args, 0)`` for the array library's
        ``sum(terms, ...)``, ``(node.func, "value")`` for ``terms.sum(...)``; None otherwise
        (a keyword other than ``axis`` and ``keepdims``, or another call)."""
        if any(k.arg not in ("axis", "keepdims") for k in node.keywords):
            return None
        if not (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "sum"
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            return None
        if library_function(node, self.numpy_names, self.runtime) is not None:
            function = library_function(node, self.numpy_names, self.runtime)
            if function is not self.runtime.array_module.sum or not node.args:
                return None
            return (node.args, 0)  # np.sum(terms, ...)
        if not node.args:
            return (node.func, "value")  # terms.sum(...)
        return None

    def negation_out(self, node: ast.Call, slot: tuple[Any, Any] | None) -> ast.expr:
        """``node``, a sum of negated terms, as the negated sum (``visit_Call``)."""
        if slot is None:
            return node
        holder, key = slot
        terms = holder[key] if isinstance(holder, list) else getattr(holder, key)
        positive = self.without_negation(terms)
        if positive is None:
            return node
        if isinstance(holder, list):
            holder[key] = positive
        else:
            setattr(holder, key, positive)
        return ast.UnaryOp(op=ast.USub(), operand=node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        """Identity: ``a.sum(axis=k, keepdims=True)[:, ..., :, 0]`` (k whole slices, then 0)
        is ``a.sum(axis=k)``, bit for bit: the kept axis has length 1, and the index takes
        its one element and keeps the other axes whole (``(-s)[e]`` is ``-(s[e])``, so a
        negated sum too). Side conditions: k is a literal integer of 0 or more, the axis
        keyword the same literal, no keyword but ``axis`` and ``keepdims``; the sum is the
        ``sum`` method or the array library's (where a's rank is k or less, both raise)."""
        self.generic_visit(node)
        value, negated = node.value, False
        if _is_negation(value):
            value, negated = value.operand, True
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
            return node
        if value.func.attr != "sum" or value.args and not self.is_library_sum(value):
            return node
        keywords = {k.arg: k.value for k in value.keywords}
        axis, kept = keywords.get("axis"), keywords.get("keepdims")
        if set(keywords) != {"axis", "keepdims"} or not (
            isinstance(axis, ast.Constant)
            and type(axis.value) is int
            and axis.value >= 0
            and isinstance(kept, ast.Constant)
            and kept.value is True
        ):
            return node
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        whole = all(
            isinstance(p, ast.Slice) and p.lower is p.upper is p.step is None for p in parts[:-1]
        )
        last = parts[-1]
        if not (
            whole
            and len(parts) == axis.value + 1
            and isinstance(last, ast.Constant)
            and type(last.value) is int
            and last.value == 0
        ):
            return node
        value.keywords = [k for k in value.keywords if k.arg != "keepdims"]
        return ast.UnaryOp(op=ast.USub(), operand=value) if negated else value

    def is_library_sum(self, call: ast.Call) -> bool:
        """Whether ``call`` is the array library's ``sum`` of one positional argument."""
        function = library_function(call, self.numpy_names, self.runtime)
        return function is self.runtime.array_module.sum and len(call.args) == 1

    def without_negation(self, terms: ast.expr) -> ast.expr | None:
        """``a * b`` for ``-a * b`` or ``-(a * b)`` whose factors include a floating point
        name, else None."""
        if _is_negation(terms):
            inner = terms.operand
        else:
            first = _leftmost_product(terms)
            if first is None or not _is_negation(first.left):
                return None
            inner = copy.deepcopy(terms)
            _leftmost_product(inner).left = first.left.operand
        factors = [inner]
        while isinstance(factors[0], ast.BinOp) and isinstance(factors[0].op, ast.Mult | ast.Div):
            node = factors.pop(0)
            factors[:0] = [node.left, node.right]
        floating = self.floating | self.adjoint_names
        if not any(isinstance(f, ast.Name) and f.id in floating for f in factors):
            return None
        return inner

    def drop_broadcasts(self, root: ast.BinOp) -> None:
        """Replace ``broadcast_like(a, t)`` operands of the elementwise tree at ``root`` by
        ``a`` where another operand's shape covers t's.

        Identity: broadcasting ``a`` to t's shape and then, through the elementwise operators,
        to the tree's shape, is broadcasting ``a`` to the tree's shape directly.
        Side conditions: every operator between the broadcast and the covering operand is
        elementwise (``+ - * /``), and the covering operand's shape is known and covers t's
        (t's rank at most its rank, each of t's dimensions equal to its own or 1), so the
        tree's result has the same shape with or without the broadcast."""
        slots = list(_operand_slots(root))
        for parent, field in slots:
            operand = getattr(parent, field)
            if self.is_broadcast(operand):
                broadcast, target = operand, self.shape_of(operand.args[1])
            elif self.is_broadcast_number_reshaped(operand):
                broadcast = operand.value
                target = _with_axes_inserted(self.shape_of(broadcast.args[1]), operand.slice)
            else:
                continue
            others = (getattr(p, f) for p, f in slots if getattr(p, f) is not operand)
            if any(self.facts.covers(self.shape_of(other), target) for other in others):
                setattr(parent, field, broadcast.args[0])

    def is_broadcast_number_reshaped(self, node: ast.expr) -> bool:
        """``broadcast_like(a, t)[e]`` with ``a`` a number and ``e`` only inserting axes of
        length 1 (``[:, None]``): ``a`` broadcast to t's shape with those axes added, which
        ``drop_broadcasts`` treats as it treats ``broadcast_like``."""
        return (
            isinstance(node, ast.Subscript)
            and self.is_broadcast(node.value)
            and self.facts.dims(self.shape_of(node.value.args[0])) == ()
            and _with_axes_inserted(self.shape_of(node.value.args[1]), node.slice) is not None
        )

    def scalars_first(self, root: ast.BinOp) -> ast.BinOp:
        """``g * 2 * x`` with g a number is computed ``g * 2`` first, then once over x: the
        numbers a product multiplies by come first, then its arrays in their order; a factor
        1.0 goes where two other factors, one of them floating point, make a new array.

        Identity: a chain of ``*`` and ``/`` is the product of its factors, each to the power
        +1 or -1, in any order (commutativity and associativity: equal up to rounding).
        ``1.0 * a * b`` is ``a * b``, and ``1.0 / a * b`` is ``b / a``.
        Side conditions: a factor moves only if its shape is known to be ``()`` and it
        multiplies (a divisor stays a divisor, after the numerator it divides); the 1.0 goes
        only if it is a float literal, at least two other factors remain and one of them is
        surely floating point (so the product is a new floating array with or without it);
        when every remaining factor divides (``1.0 / a / b``), the 1.0 stays as the numerator.
        A leading negation moves out of the chain (``-(a * b) * c`` is ``-(a * b * c)``).
        Literal numbers among the factors are multiplied now, into one (``0.5 * 2`` is 1.0).
        A selection ``np.where(c, x, 0.0)``'s shape is what c, x and y broadcast to, and it is
        surely floating point (``surely_floating_factor``)."""
        factors = []  # (operator, operand), the first one's operator None
        negated = False  # -(a * b) * c is -(a * b * c)
        node = root
        while True:
            while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
                factors.append((node.op, node.right))
                node = node.left
            if not (_is_negation(node) and _leftmost_product(node.operand) is not None):
                break
            negated = not negated
            node = node.operand
        if _is_negation(node):  # -a * b is -(a * b): the negation goes out of the chain
            negated = not negated
            node = node.operand
        factors.append((None, node))
        factors.reverse()
        is_number = [
            self.facts.dims(self.shape_of(operand)) == () and not isinstance(op, ast.Div)
            for op, operand in factors
        ]
        is_array = [bool(self.facts.dims(self.shape_of(operand))) for _, operand in factors]
        first_array = next((i for i, array in enumerate(is_array) if array), None)
        numbers = [f for f, number in zip(factors, is_number, strict=True) if number]
        others = [f for f, number in zip(factors, is_number, strict=True) if not number]
        # 1.0 * a * b with a floating point: a * b is a new floating array without the 1.0
        floating = len(others) >= 2 and any(self.surely_floating_factor(o) for _, o in others)
        drop_one = floating and any(_is_one(operand) for _, operand in numbers)
        if first_array is None or not (any(is_number[first_array:]) or drop_one):
            return root
        numbers = [f for f in numbers if not (floating and _is_one(f[1]))]
        numbers = _literals_multiplied(numbers)  # 0.5 * 2 is 1.0, which goes likewise
        numbers = [f for f in numbers if not (floating and _is_one(f[1]))]
        ordered = numbers + others
        # 1.0 / a * b: with the 1.0 gone, the product must start with a factor it multiplies
        # by (b / a); 1.0 / a / b keeps its 1.0.
        multiplied = [i for i, (op, _) in enumerate(ordered) if not isinstance(op, ast.Div)]
        if not multiplied:
            return root
        ordered.insert(0, ordered.pop(multiplied[0]))
        ordered = [(op or ast.Mult(), operand) for op, operand in ordered]
        result = ordered[0][1]
        for op, operand in ordered[1:]:
            result = ast.BinOp(left=result, op=op, right=operand)
        return ast.UnaryOp(op=ast.USub(), operand=result) if negated else result

    def is_broadcast(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.broadcasters
            and len(node.args) == 2
            and not node.keywords
        )

    def shape_of(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.shapes:
                return self.shapes[node.id]
            return self.adjoint_shapes.get(node.id)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return ()
        if _is_dimension(node):
            return ()
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self.shape_of(node.operand)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.counts  # degrees_of_freedom(x, y, 0): a number
        ):
            return ()
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ELEMENTWISE):
            return self.facts.broadcast(self.shape_of(node.left), self.shape_of(node.right))
        ufunc = self.ufunc_called(node)
        if ufunc is not None and len(node.args) == ufunc.nin:
            return self.facts.broadcast(*(self.shape_of(argument) for argument in node.args))
        if self.is_select(node):  # np.where(c, x, y): c, x and y broadcast together
            return self.facts.broadcast(*(self.shape_of(argument) for argument in node.args))
        return None

    def surely_floating_factor(self, node: ast.expr) -> bool:
        """A forward value surely floating point, or ``np.where(c, x, 0.0)`` (a float literal
        among the values: NumPy makes the selection floating point whatever ``x`` is)."""
        if isinstance(node, ast.Name):
            return node.id in self.floating
        return self.is_select(node) and any(
            isinstance(value, ast.Constant) and type(value.value) is float
            for value in node.args[1:]
        )

    def is_select(self, node: ast.expr) -> bool:
        return is_select(node, self.numpy_names, self.runtime)

    def ufunc_called(self, node: ast.expr) -> Any:
        """The elementwise function of the array library ``node`` calls (``np.exp(x)``), if it
        is one: no keywords (no ``out=``, ``where=``), every argument positional."""
        function = library_function(node, self.numpy_names, self.runtime)
        if function is None or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return None
        return function if self.runtime.is_elementwise(function) else None


def _literals_multiplied(numbers: list[tuple[Any, ast.expr]]) -> list[tuple[Any, ast.expr]]:
    """The factors ``numbers`` (operator, operand) with their literal numbers multiplied into
    one, where the first of them was (``0.5 * g * 2`` is ``1.0 * g``: the product computed
    now, as it would be first when the numbers are multiplied first)."""
    literal = [
        i
        for i, (_, operand) in enumerate(numbers)
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float)
    ]
    if len(literal) < 2:
        return numbers
    value = numbers[literal[0]][1].value
    for i in literal[1:]:
        value = value * numbers[i][1].value
    first = (numbers[literal[0]][0], ast.Constant(value))
    return [
        first if i == literal[0] else factor
        for i, factor in enumerate(numbers)
        if i == literal[0] or i not in literal
    ]


def _with_axes_inserted(shape: Any, index: ast.expr) -> tuple | None:
    """The shape of ``t[index]`` for ``t`` of this shape, where ``index`` is made of whole
    slices ``:`` and ``None`` only (one or more of these) and indexes at most t's axes."""
    if not isinstance(shape, tuple):
        return None
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    dims, axis = [], 0
    for part in parts:
        if isinstance(part, ast.Constant) and part.value is None:
            dims.append(1)
        elif isinstance(part, ast.Slice) and part.lower is part.upper is part.step is None:
            if axis >= len(shape):
                return None
            dims.append(shape[axis])
            axis += 1
        else:
            return None
    return (*dims, *shape[axis:])


def _is_dimension(node: ast.expr) -> bool:
    """``a.shape[0]`` or ``a.size`` (an integer) with a literal index."""
    if isinstance(node, ast.Attribute) and node.attr == "size":
        return isinstance(node.value, ast.Name)
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "shape"
        and isinstance(node.value.value, ast.Name)
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
    )


def _is_one(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 1.0


def _operand_slots(root: ast.BinOp):
    """(parent, field) of every operand of the elementwise tree at ``root``."""
    for field in ("left", "right"):
        child = getattr(root, field)
        if isinstance(child, ast.BinOp) and isinstance(child.op, _ELEMENTWISE):
            yield from _operand_slots(child)
        else:
            yield root, field


def _is_negation(node: ast.expr) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)


def _leftmost_product(node: ast.expr) -> ast.BinOp | None:
    """The innermost product or quotient whose left operand starts ``node``'s chain of
    ``*`` and ``/`` (a negation there can move out of the whole chain)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div)):
        return None
    while isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult | ast.Div):
        node = node.left
    return node


def _inline_broadcasts(
    body: list[ast.stmt], adjoint: Adjoint, rewriter: _Rewriter
) -> list[ast.stmt]:
    """``t_bar = broadcast_like(a, t)`` read several times: give every reader ``a`` instead,
    if in each of them the broadcast then goes (a temporary bound once; ``a`` bound at most
    once, so it holds the same value at every reader).

    Identity: substitution of a name by the expression bound to it, then ``drop_broadcasts``.
    Side conditions: the temporary (or adjoint: a gradient returned keeps its broadcast, so
    it is not substituted) is bound once, by a plain assignment of the reverse sweep's top
    level; ``a`` has the same value at every reader (constants, names with at most one
    binding, their attributes and arithmetic of these, no call); the substitution is kept only
    if no reader is left with the broadcast (else the broadcast would be computed once per
    reader instead of once)."""
    bound = bindings(body)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    # Found once: the position of each reverse-sweep statement, the statements that read
    # each name, and how often each call appears; a candidate then costs its readers only.
    positions = {id(statement): index for index, statement in enumerate(reverse)}
    readers: dict[str, set[int]] = {}
    calls: Counter = Counter()
    for index, statement in enumerate(reverse):
        for node in walk(statement):
            if _is_load(node):
                readers.setdefault(node.id, set()).add(index)
            elif isinstance(node, ast.Call) and rewriter.is_broadcast(node):
                calls[ast.dump(node)] += 1  # only a broadcast's count is asked for
    adjoints = {bar for bar, _ in adjoint.adjoints}
    for name, assignments in bound.items():
        if name not in adjoint.temporaries | adjoints or len(assignments) != 1:
            continue
        if not (
            isinstance(assignments[0], ast.Assign)
            and isinstance(assignments[0].targets[0], ast.Name)
        ):
            continue  # a loop, or an unpacking (tmp4, tmp5 = ...) that binds other names too
        own = positions.get(id(assignments[0]))
        if own is None:
            continue  # bound in the forward sweep or inside a block: left alone
        value = assignments[0].value
        if not rewriter.is_broadcast(value):
            continue
        if not _same_everywhere(value.args[0], bound):
            continue
        dumped = ast.dump(value)
        substituted = {
            index: rewriter.visit(ReplaceNames({name: value}).visit(clone(reverse[index])))
            for index in sorted(readers.get(name, set()) - {own})
        }
        left = calls[dumped] - _calls_like(reverse[own], dumped)
        left -= sum(_calls_like(reverse[index], dumped) for index in substituted)
        left += sum(_calls_like(statement, dumped) for statement in substituted.values())
        if left == 0:  # no statement but the binding is left with the broadcast
            # The rewritten sweep is made of copies, which the bindings found above are not:
            # no later candidate is found in it, so one substitution is the last.
            return forward + [
                substituted[index] if index in substituted else rewriter.visit(clone(statement))
                for index, statement in enumerate(reverse)
                if index != own
            ]
    return body


def _broadcasts_left_to_readers(
    body: list[ast.stmt], adjoint: Adjoint, rewriter: _Rewriter
) -> tuple[list[ast.stmt], frozenset[str]]:
    """``n = broadcast_like(a, t)`` whose every reader would drop the broadcast: bound as
    ``m = a`` (m a fresh temporary), each reader reading m. Unlike ``_inline_broadcasts``
    this moves no expression, so it holds in a loop's body, where the names ``a`` reads are
    rebound between the binding and its readers (``tmp5 = stack.pop()``)::

        tmp4_bar = broadcast_like(tmp6_bar / tmp5, tmp4)      tmp7 = tmp6_bar / tmp5
        tmp5 = stack.pop()                               ->   tmp5 = stack.pop()
        row_bar = tmp4_bar * tmp4                             row_bar = tmp7 * tmp4

    Identity: ``drop_broadcasts`` at each reader (broadcasting ``a`` to t's shape, then
    through elementwise operators to the tree's, is broadcasting it to the tree's), with ``a``
    evaluated where it was, once. Side conditions: n is bound once in the function, by a plain
    assignment of the reverse sweep (at any depth); every read of n is in a plain assignment
    of the reverse sweep (no loop or branch header, no return: a gradient keeps its shape),
    and in each the broadcast, put in n's place, is dropped by ``drop_broadcasts`` (an operand
    of the same elementwise tree has a known shape, fixed for a name, that covers t's); n is
    renamed, so no pass reads it as an adjoint shaped like its value."""
    bound = bindings(body)
    reverse = body[adjoint.forward_length :]
    loads = Counter(n.id for n in walk(ast.Module(body=body, type_ignores=[])) if _is_load(n))
    taken = {n.id for n in walk(ast.Module(body=body, type_ignores=[])) if isinstance(n, ast.Name)}
    taken |= {name for name, _ in adjoint.bindings}
    statements = [s for statement in reverse for s in statements_depth_first(statement)]
    readers: dict[str, list[ast.stmt]] = {}
    for statement in statements:
        if isinstance(statement, ast.Assign):
            for name in {n.id for n in walk(statement.value) if _is_load(n)}:
                readers.setdefault(name, []).append(statement)
    renames: dict[int, tuple[str, str]] = {}  # id of a binding or reader -> (n, m)
    bindings_of: dict[int, tuple[str, ast.expr]] = {}
    made: set[str] = set()
    for statement in statements:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and rewriter.is_broadcast(statement.value)
        ):
            continue
        name = statement.targets[0].id
        if len(bound.get(name, [])) != 1 or name in made:
            continue
        reading = [r for r in readers.get(name, []) if r is not statement]
        counted = sum(1 for r in reading for n in walk(r.value) if _is_load(n) and n.id == name)
        if not reading or counted != loads[name] or any(id(r) in renames for r in reading):
            continue  # read elsewhere (a header, a return), or a reader already renamed
        # Dropped means no broadcast to t is left: the rewrites may also move it, not drop
        # it (``-broadcast_like(a, t)`` is ``broadcast_like(-a, t)``), and a reader given the
        # bare ``a`` then would read a number where it needs t's shape.
        target = ast.dump(statement.value.args[1])
        if any(
            _broadcasts_to(
                rewriter.visit(ReplaceNames({name: statement.value}).visit(clone(r.value))),
                target,
                rewriter,
            )
            > _broadcasts_to(rewriter.visit(clone(r.value)), target, rewriter)
            for r in reading
        ):
            continue
        fresh = _fresh_temporary(taken)
        taken.add(fresh)
        made.add(fresh)
        bindings_of[id(statement)] = (fresh, statement.value.args[0])
        for r in reading:
            renames[id(r)] = (name, fresh)
    if not made:
        return body, frozenset()
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    return forward + [
        _renamed_in(statement, bindings_of, renames) for statement in reverse
    ], frozenset(made)


def _fresh_temporary(taken: set[str]) -> str:
    """``tmpK`` for the first K past every temporary's number in ``taken``."""
    numbers = [int(n[3:]) for n in taken if n.startswith("tmp") and n[3:].isdigit()]
    k = max(numbers, default=0) + 1
    while f"tmp{k}" in taken:
        k += 1
    return f"tmp{k}"


def _renamed_in(statement: ast.stmt, bindings_of: dict, renames: dict) -> ast.stmt:
    """``statement`` (and the statements in it) with the bindings and reads of
    ``_broadcasts_left_to_readers`` rewritten."""
    if id(statement) in bindings_of:
        fresh, value = bindings_of[id(statement)]
        if id(statement) in renames:  # a binding that reads another's: n2 = b_l(n1 / s, t)
            name, read = renames[id(statement)]
            value = ReplaceNames({name: ast.Name(read, ast.Load())}).visit(clone(value))
        return ast.copy_location(ast.Assign([ast.Name(fresh, ast.Store())], value), statement)
    if id(statement) in renames:
        name, fresh = renames[id(statement)]
        return ReplaceNames({name: ast.Name(fresh, ast.Load())}).visit(clone(statement))
    if not isinstance(statement, ast.For | ast.While | ast.If | ast.With | ast.Try):
        return statement
    statement = copy.copy(statement)
    for field in ("body", "orelse", "finalbody"):
        block = getattr(statement, field, None)
        if isinstance(block, list):
            setattr(statement, field, [_renamed_in(s, bindings_of, renames) for s in block])
    return statement


def _same_everywhere(source: ast.expr, bound: dict[str, list[ast.stmt]]) -> bool:
    """Whether ``source`` has the same value wherever it is read: constants, names bound at most
    once, their attributes (``y.size``), their dimensions (``X.shape[0]``) and arithmetic of
    these; no calls."""
    for node in walk(source):
        if isinstance(node, ast.Name) and len(bound.get(node.id, [])) > 1:
            return False
        if isinstance(node, ast.Subscript):  # only a dimension, X.shape[0]: a shape is fixed
            if not (isinstance(node.value, ast.Attribute) and node.value.attr == "shape"):
                return False
            continue
        if not isinstance(
            node,
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
    return True


def _broadcasts_to(node: ast.AST, target: str, rewriter: _Rewriter) -> int:
    """How many ``broadcast_like(a, t)`` calls in ``node`` have a ``t`` that dumps to
    ``target`` (whatever their ``a``)."""
    return sum(
        1
        for call in walk(node)
        if rewriter.is_broadcast(call) and ast.dump(call.args[1]) == target
    )


def _calls_like(statement: ast.stmt, dumped: str) -> int:
    """How many calls in ``statement`` dump to ``dumped``."""
    return sum(
        1 for node in walk(statement) if isinstance(node, ast.Call) and ast.dump(node) == dumped
    )


def _is_load(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)


def _product_factors(node: ast.expr) -> list[ast.expr] | None:
    """The factors of a product ``a * b * c`` (left to right), or None if it is not one."""
    factors = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        factors.append(node.right)
        node = node.left
    if not factors:
        return None
    factors.append(node)
    return factors[::-1]


def _flattened_chain(node: ast.expr) -> list[tuple[Any, ast.expr]]:
    """The factors of a chain of ``*`` and ``/`` with each operator (the first one's None),
    parenthesised products taken apart: ``a * (b / c)`` is ``a * b / c`` and ``a / (b * c)``
    is ``a / b / c`` (equal up to rounding)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div)):
        return [(None, node)]
    chain = _flattened_chain(node.left)
    right = _flattened_chain(node.right)
    dividing = isinstance(node.op, ast.Div)
    for op, factor in right:
        inverted = dividing != isinstance(op, ast.Div)  # op None: the right's first factor
        chain.append((ast.Div() if inverted else ast.Mult(), factor))
    return chain


def _chain(factors: list[tuple[Any, ast.expr]]) -> ast.expr:
    """The chain ``a * b / c`` of (operator, factor) pairs, the first one's operator None."""
    result = factors[0][1]
    for op, factor in factors[1:]:
        result = ast.BinOp(left=result, op=op, right=factor)
    return result


def _product(factors: list[ast.expr]) -> ast.expr:
    result = factors[0]
    for factor in factors[1:]:
        result = ast.BinOp(left=result, op=ast.Mult(), right=factor)
    return result


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, ast.Name)}


def _factor_common_adjoints(
    block: list[ast.stmt],
    temporaries: frozenset[str],
    reads: Counter,
    effects: frozenset[str],
    numeric,
) -> list[ast.stmt]:
    """Two contributions that share the adjoint they scale, as a line with two uses of ``s``
    gives them::

        t = s_bar                        # t: the adjoint before the first contribution
        s_bar = s_bar * x * 0.1
        ...                              # lines that neither read s_bar nor change x
        s_bar = s_bar + t * 0.9 * np.cos(s)

    become ``s_bar = t * (x * 0.1 + 0.9 * np.cos(s))``: one multiplication by the adjoint
    instead of two (distributivity, the same value up to rounding). Loop bodies too.

    Identity: ``t * A + t * B = t * (A + B)``, with broadcasting (both sides broadcast t, A
    and B to the same shape).
    Side conditions: ``t`` is a temporary read only in the second contribution; the lines
    between the copy and the first contribution neither read nor write ``s_bar`` or ``t``;
    the lines between the two contributions are assignments or expressions that do not read
    ``s_bar`` or ``t`` and do not rebind a name the first contribution's factors read (so A
    has the same value where it is moved to); no moved factor calls a function with effects;
    ``t`` does not occur in A or B; A or B is surely ``numeric`` (two boolean arrays add as a
    logical or)."""
    block = [
        _in_blocks(statement, _factor_common_adjoints, temporaries, reads, effects, numeric)
        for statement in block
    ]
    for i, copied in enumerate(block):
        saved = _simple_copy(copied)
        if saved is None or saved[0] not in temporaries or reads[saved[0]] != 1:
            continue
        saved_name, adjoint = saved
        for j in range(i + 1, len(block)):
            scaled = _scaled_by(block[j], adjoint, adjoint)
            if scaled is not None and not any(_names(f) & effects for f in scaled):
                break  # (a factor that calls a function with effects must not move)
            if _touches(block[j], {adjoint, saved_name}):
                j = None
                break
        else:
            j = None
        if j is None:
            continue
        for k in range(j + 1, len(block)):
            added = block[k]
            if (
                isinstance(added, ast.Assign)
                and _target(added) == adjoint
                and isinstance(added.value, ast.BinOp)
                and isinstance(added.value.op, ast.Add)
                and isinstance(added.value.left, ast.Name)
                and added.value.left.id == adjoint
            ):
                others = _scaled_by_expression(added.value.right, saved_name)
                if others is not None and (numeric(_product(scaled)) or numeric(others)):
                    scaled_sum = ast.BinOp(left=_product(scaled), op=ast.Add(), right=others)
                    new = ast.Assign(
                        targets=[ast.Name(id=adjoint, ctx=ast.Store())],
                        value=ast.BinOp(
                            left=ast.Name(id=saved_name, ctx=ast.Load()),
                            op=ast.Mult(),
                            right=scaled_sum,
                        ),
                    )
                    block = block[:j] + block[j + 1 : k] + [new] + block[k + 1 :]
                break
            written_or_read = _names(added)
            if (
                not isinstance(added, ast.Assign | ast.Expr)
                or adjoint in written_or_read
                or saved_name in written_or_read
                or _writes_any(added, set().union(*(_names(f) for f in scaled)))
            ):
                break
    return block


def _simple_copy(statement: ast.stmt) -> tuple[str, str] | None:
    """(t, s) for ``t = s``."""
    if (
        isinstance(statement, ast.Assign)
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Name)
    ):
        return statement.targets[0].id, statement.value.id
    return None


def _target(statement: ast.Assign) -> str | None:
    target = statement.targets[0]
    return target.id if isinstance(target, ast.Name) else None


def _scaled_by(statement: ast.stmt, adjoint: str, factor: str) -> list[ast.expr] | None:
    """The other factors of ``adjoint = factor * f1 * f2 ...``, else None."""
    if not isinstance(statement, ast.Assign) or _target(statement) != adjoint:
        return None
    return _scaled_by_expression(statement.value, factor, as_list=True)


def _scaled_by_expression(node: ast.expr, factor: str, as_list: bool = False):
    """For ``factor * f1 * f2`` (``factor`` anywhere in the product, which commutes:
    ``0.9 * factor * f2`` gives [0.9, f2]): [f1, f2] (``as_list``) or ``f1 * f2``; else
    None."""
    factors = _product_factors(node)
    where = next(
        (i for i, f in enumerate(factors or ()) if isinstance(f, ast.Name) and f.id == factor),
        None,
    )
    if where is None:
        return None
    rest = factors[:where] + factors[where + 1 :]
    if not rest:
        return None
    if any(factor in _names(f) for f in rest):
        return None
    return rest if as_list else _product(rest)


def _touches(statement: ast.stmt, names: set[str]) -> bool:
    return bool(_names(statement) & names)


def _writes_any(statement: ast.stmt, names: set[str]) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    return any(_names(target) & names for target in targets)


def _factor_trailing_factors(
    block: list[ast.stmt], effects: frozenset[str], numeric
) -> list[ast.stmt]:
    """Consecutive contributions to one adjoint that end in the same factor::

        x_bar = 2.0 / (1 + tmp6) * x
        x_bar = x_bar - 2 * tmp1 * tmp4 * x

    become ``x_bar = (2.0 / (1 + tmp6) - 2 * tmp1 * tmp4) * x``: one pass over x less (the same
    value up to rounding). Loop and branch bodies too.

    Identity: ``s ± A * x ± B * x = s + (±A ± B) * x`` (distributivity, with broadcasting).
    Side conditions: the two statements are consecutive contributions to the same adjoint, the
    second of the form ``x_bar = x_bar ± term``; both terms are products of at least two
    factors ending in the same plain name (not the adjoint itself); the second term does not
    read the adjoint (it would read the value the first contribution changed); no factor calls
    a function with effects; A or B is surely ``numeric`` (two boolean arrays add as a logical
    or)."""
    block = [
        _in_blocks(statement, _factor_trailing_factors, effects, numeric) for statement in block
    ]
    index = 0
    while index + 1 < len(block):
        merged = _merge_trailing(block[index], block[index + 1], effects, numeric)
        if merged is None:
            index += 1
        else:
            block[index : index + 2] = [merged]
    return block


def _in_blocks(statement: ast.stmt, rewrite, *arguments) -> ast.stmt:
    """``statement`` with ``rewrite(block, *arguments)`` applied to its blocks, if it has any."""
    if not isinstance(statement, ast.If | ast.For | ast.While):
        return statement
    statement = copy.copy(statement)
    statement.body = rewrite(statement.body, *arguments)
    if statement.orelse:
        statement.orelse = rewrite(statement.orelse, *arguments)
    return statement


def _contribution(
    statement: ast.stmt,
) -> tuple[str, ast.expr | None, ast.operator, ast.expr] | None:
    """(A, the sum so far or None, + or -, the term) for ``A = term`` or ``A = A ± term``."""
    if not isinstance(statement, ast.Assign) or _target(statement) is None:
        return None
    adjoint, value = _target(statement), statement.value
    if (
        isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Add | ast.Sub)
        and isinstance(value.left, ast.Name)
        and value.left.id == adjoint
    ):
        return adjoint, value.left, value.op, value.right
    if adjoint in _names(value):
        return None
    return adjoint, None, ast.Add(), value


def _merge_trailing(first: ast.stmt, second: ast.stmt, effects: frozenset[str], numeric):
    one, two = _contribution(first), _contribution(second)
    if one is None or two is None or one[0] != two[0] or two[1] is None:
        return None
    adjoint, start, first_sign, first_term = one
    _, _, second_sign, second_term = two
    first_factors, second_factors = _product_factors(first_term), _product_factors(second_term)
    if not first_factors or not second_factors:
        return None
    common = first_factors[-1]
    if not (
        isinstance(common, ast.Name)
        and isinstance(second_factors[-1], ast.Name)
        and second_factors[-1].id == common.id
        and common.id != adjoint
        and len(first_factors) > 1
        and len(second_factors) > 1
    ):
        return None
    if (_names(first_term) | _names(second_term)) & effects or adjoint in _names(second_term):
        return None  # (the second term would read the adjoint the first one changed)
    if not (numeric(_product(first_factors[:-1])) or numeric(_product(second_factors[:-1]))):
        return None
    left = _product(first_factors[:-1])
    if start is not None and isinstance(first_sign, ast.Sub):
        left = ast.UnaryOp(op=ast.USub(), operand=left)
    combined = ast.BinOp(left=left, op=second_sign, right=_product(second_factors[:-1]))
    term = ast.BinOp(left=combined, op=ast.Mult(), right=common)
    value = term if start is None else ast.BinOp(left=start, op=ast.Add(), right=term)
    return ast.Assign(targets=[ast.Name(id=adjoint, ctx=ast.Store())], value=value)
