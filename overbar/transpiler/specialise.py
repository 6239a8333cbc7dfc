"""Runtime helpers replaced by the indexing they do, where the shapes they read are known now.

Invariant established: no ``expand_reduced(g, a, axis=A, keepdims=K)`` is left whose ``a`` has a
known rank and whose ``A`` and ``K`` are constants, and no ``reduced_count(a, y)`` whose ``y`` is
known to be a number and ``a`` an array. Before and after, for a matrix ``tmp2`` reduced over its
rows and a mean of all elements of ``tmp3``::

    tmp2_bar = expand_reduced(g, tmp2, axis=1, keepdims=False) * tmp2
    t_bar = expand_reduced(1.0 / reduced_count(tmp3, result), tmp3, axis=None, keepdims=False)

    tmp2_bar = broadcast_like(g[:, None], tmp2) * tmp2
    t_bar = broadcast_like(1.0 / tmp3.size, tmp3)

which the peephole pass then reads as ``g[:, None] * tmp2``: what a person writes by hand.

Identities (NumPy's definitions of the helpers, see ``overbar.runtime.helpers``):

- ``expand_reduced(g, a, axis, keepdims) = broadcast_like(g[e], a)``, where ``e`` indexes every
  axis of ``g`` with ``:`` and inserts ``None`` at each reduced axis; ``e`` is empty (and ``g``
  is taken whole) with ``keepdims``, ``axis=None`` or axes naming every axis of ``a`` (``g``
  is then the reduction of every element: a number, which broadcasts as ``g[e]`` would,
  whether it is an array or the runtime zero). Side conditions: ``a``'s rank is known
  (the normalised axes and ``e`` depend on it) and ``axis`` and ``keepdims`` are literal
  constants (an integer, a tuple of them, or None; True or False) that are valid for that rank;
  where ``e`` is not empty, ``g`` is surely an array (arithmetic with a forward array), not
  an adjoint's name, which may hold the runtime zero, a number; otherwise the call stays.
- ``reduced_count(a, y) = a.shape[i] * ...`` (a's dimensions that y does not have), for y not
  a number: ``a.size // y.size`` is the product of a's dimensions over the product of y's,
  which is the product of what remains of a's once each of y's (other than 1) is matched to
  one of a's of the same length and taken away. Side conditions: every dimension of y other
  than 1 is known to have the length of a distinct dimension of a (the same origin), and each
  of a's remaining dimensions is 1, a constant, or known to have the length of a parameter's
  dimension (read as ``X.shape[k]``, which is then that length: shape inference says so only
  for a parameter bound once). Otherwise the call stays. (With y empty, NumPy's count is
  a's size; the count only divides y's adjoint, which is then empty too.)
- ``reduced_count(a, y) = a.size``. Side conditions: ``y`` is known to be a number (shape
  ``()``: the count is then every element of ``a``, ``np.size(a) // max(1, 1)``) and ``a`` is
  known to be an array of rank one or more (so ``a.size`` is an attribute it has). A parameter
  known to have a's shape, each dimension of the same length (the same origin), gives the
  same size: its ``.size`` is read instead, so ``a`` (the loss's terms, say) need not be
  computed only for its size; failing that, the product of parameters' dimensions that a's
  dimensions are known to have (``X.shape[0]``).

- ``index_bar(g, a, i) = g[e]``, where ``a[i]`` only inserts axes of size 1: ``i`` is made of
  ``None`` (at least one), whole slices ``slice(None)`` and at most one ``...``, and ``e`` is
  ``i`` with each ``None`` replaced by ``0``. ``a[i]`` is then ``a`` with axes of length 1
  added, every element of ``a`` read once, so ``index_bar`` (zeros, ``g`` written at ``i``)
  writes every element: it is ``g`` with those axes taken away. Side conditions: ``a`` is
  known to be an array of rank one or more, and ``g`` is surely an array (not the runtime zero,
  a number, which cannot be indexed); ``slice`` is the builtin. ``g[e]`` is a view of ``g``
  where ``index_bar`` made a new array: adjoints are never written in place except where
  ``accumulate.py`` made them itself (from an ``index_bar``, which this one no longer is).
- ``index_bar(g, a, slice(None, None, -1)) = g[::-1]``: ``a[::-1]`` reads every element of
  ``a`` once, along the first axis in reverse (a permutation), so the zeros ``index_bar``
  makes are all written, with ``g`` reversed back. Side conditions: ``a`` is known to be an
  array of rank one or more, ``g`` surely an array, the index exactly ``slice(None, None,
  -1)`` with ``slice`` the builtin (another step or a bound reads a part, or repeats).

- ``unjoin(g, D, promote, axis=A) = split_like(g, D, axis=k)`` (the adjoint of np.hstack,
  np.vstack, np.dstack, np.column_stack; ``unjoin_index(g, D, np.r_, axis=0)`` of ``np.r_``):
  where each piece, as ``promote`` makes it, is the piece itself or the piece with one axis of
  length 1 inserted at the axis ``k`` the join runs along, the join is a concatenation of the
  pieces along ``k``, whose adjoint is each piece's part of ``g`` (``split_like`` takes the one
  element at ``k`` for a piece given that axis). The runtime says when that is so and which
  ``k`` (``runtime.split_joins``: ``helpers_arrays.split_axis``). Side conditions: ``D`` is a
  tuple or list display; every element's rank is known (a name's from shape inference, a
  literal number's 0); ``promote`` is a function of the array library or a bound helper, ``A``
  a literal integer or a bound helper called on the same display (``hstack_axis(D)``), and
  the runtime gives an axis for them and those ranks; otherwise the call stays.
- ``unpad_constant(g, a, k) = g[k:-k, ..., k:-k]`` (the adjoint of ``np.pad(a, k)`` with
  constants): ``g`` is ``a`` with ``k`` elements added at both ends of every axis, so ``a``'s
  elements are ``g``'s middle along each. Side conditions: ``k`` is a literal integer of at
  least 1 (``g[0:-0]`` would be empty), ``a``'s rank is known and at least 1, ``g`` is surely an
  array; ``g[...]`` is a view where the helper made a copy (as for ``index_bar`` above).
- ``adjoint_like(g, x) = g`` where ``x`` is known to be a number (its shape is ``()``: a
  Python number, a NumPy scalar or a 0-d array; not a tuple, list or dict): ``g``, the adjoint
  of a number, is then a number too, or the runtime zero ``0.0``, and the helper returns it as
  it is when its shape is ``x``'s, ``()``; any other ``g`` it would return as
  ``zero_gradient(x) + g``, zeros of no axes added to ``g``: ``g``'s values. Side conditions:
  ``x`` is a name whose shape is ``()``, the call has its two arguments by position. (A loop
  popping the adjoints of the numbers it appended, ``tmp9_bar = adjoint_like(tmp9_bar,
  tmp9)``, then no longer saves ``tmp9`` at every step for it.)

Only the reverse sweep is rewritten: the forward sweep is the user's own lines.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.accumulate import rebinds_slice
from overbar.transpiler.library import module_names
from overbar.transpiler.names import Transformer, clone, names_in, names_loaded
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint


def specialise(adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None) -> Adjoint:
    """The adjoint with the replacements above made in its reverse sweep (``namespace``, the
    user's function's, says under which names the generated code sees the array library)."""
    named = {name: value for name, value in adjoint.bindings}
    helpers = {
        "expand": {name for name, value in named.items() if value is runtime.expand_reduced},
        "count": {name for name, value in named.items() if value is runtime.reduced_count},
        "broadcast": next(
            (name for name, value in named.items() if value is runtime.broadcast_like), None
        ),
    }
    helpers["index"] = {name for name, value in named.items() if value is runtime.index_bar}
    helpers["slice"] = {name for name, value in named.items() if value is slice}
    if "slice" not in named and not rebinds_slice(adjoint.tree):  # the builtin, unbound
        helpers["slice"].add("slice")
    helpers["joins"] = {
        name: runtime.split_joins[value]
        for name, value in named.items()
        if _is_key(value, runtime.split_joins)
    }
    helpers["unpad"] = {
        name
        for name, value in named.items()
        if runtime.unpad_constant is not None and value is runtime.unpad_constant
    }
    helpers["like"] = {name for name, value in named.items() if value is runtime.adjoint_like}
    helpers["split"] = next(
        (name for name, value in named.items() if value is runtime.split_like), None
    )
    # Only a statement that calls a helper can change (the rewrite is of those calls): the
    # others are kept as they are, neither copied nor visited.
    called = (
        helpers["expand"]
        | helpers["count"]
        | helpers["index"]
        | set(helpers["joins"])
        | helpers["unpad"]
        | helpers["like"]
    )
    if not called:
        return adjoint
    reverse = adjoint.tree.body[adjoint.forward_length :]
    calling = [not called.isdisjoint(names_loaded(statement)) for statement in reverse]
    if not any(calling):
        return adjoint
    taken = names_in(adjoint.tree) | set(named)
    rewriter = _Rewriter(dict(adjoint.shapes), runtime, helpers, taken)
    rewriter.maybe_zero, rewriter.adjoints = adjoint.maybe_zero, dict(adjoint.adjoints)
    rewriter.named, rewriter.modules = named, module_names(adjoint.bindings, namespace, runtime)
    rewriter.parameters = [argument.arg for argument in adjoint.tree.args.args]
    forward = list(adjoint.tree.body[: adjoint.forward_length])
    reverse = [
        rewriter.visit(clone(statement)) if calls else statement
        for statement, calls in zip(reverse, calling, strict=True)
    ]
    bindings = adjoint.bindings
    if rewriter.broadcast_name is not None and rewriter.broadcast_name not in named:
        bindings = bindings + ((rewriter.broadcast_name, runtime.broadcast_like),)
    if rewriter.split_name is not None and rewriter.split_name not in named:
        bindings = bindings + ((rewriter.split_name, runtime.split_like),)
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree, bindings=bindings)


class _Rewriter(Transformer):
    def __init__(self, shapes: dict[str, Any], runtime: Runtime, helpers: dict, taken: set):
        self.shapes, self.runtime, self.helpers, self.taken = shapes, runtime, helpers, taken
        self.broadcast_name: str | None = None
        self.split_name: str | None = helpers.get("split")
        self.named: dict[str, Any] = {}
        self.modules: frozenset[str] = frozenset()
        self.maybe_zero: frozenset[str] = frozenset()
        self.adjoints: dict[str, str] = {}
        self.parameters: list[str] = []

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Name):
            return node
        if node.func.id in self.helpers["expand"]:
            return self.expanded(node) or node
        if node.func.id in self.helpers["count"]:
            return self.counted(node) or node
        if node.func.id in self.helpers["index"]:
            return self.unexpanded(node) or node
        if node.func.id in self.helpers["joins"]:
            return self.split(node) or node
        if node.func.id in self.helpers["unpad"]:
            return self.middle(node) or node
        if node.func.id in self.helpers["like"]:
            return self.of_a_number(node) or node
        return node

    def split(self, call: ast.Call) -> ast.expr | None:
        """``split_like(g, (x, y, z), axis=k)`` for the adjoint of a join whose pieces' ranks
        are known, along the axis the runtime says (``runtime.split_joins``; see above)."""
        arguments = _arguments(call, ("y_bar", "arrays", "promote", "axis"), {})
        if arguments is None or not isinstance(arguments["arrays"], ast.Tuple | ast.List):
            return None
        promote = self.value_of(arguments["promote"])
        axis = arguments["axis"]
        if isinstance(axis, ast.Call) and isinstance(axis.func, ast.Name) and not axis.keywords:
            if not (
                len(axis.args) == 1 and ast.dump(axis.args[0]) == ast.dump(arguments["arrays"])
            ):
                return None  # hstack_axis of the same pieces
            axis = self.named.get(axis.func.id, _UNKNOWN)
        else:
            axis = _constant(axis)
        ranks = [self.rank_of_piece(piece) for piece in arguments["arrays"].elts]
        if promote is _UNKNOWN or axis is _UNKNOWN or None in ranks:
            return None
        along = self.helpers["joins"][call.func.id](promote, axis, ranks)
        if type(along) is not int:
            return None
        if self.split_name is None:
            name = "split_like"
            while name in self.taken:
                name += "_"
            self.split_name = name
            self.taken.add(name)
        return ast.Call(
            ast.Name(self.split_name, ast.Load()),
            [arguments["y_bar"], arguments["arrays"]],
            [ast.keyword("axis", ast.Constant(along))],
        )

    def middle(self, call: ast.Call) -> ast.expr | None:
        """``g[k:-k, k:-k]`` for ``unpad_constant(g, a, k)`` (see above)."""
        arguments = _arguments(call, ("y_bar", "array", "pad_width"), {})
        if arguments is None:
            return None
        g, a, width = arguments["y_bar"], arguments["array"], _constant(arguments["pad_width"])
        rank = self.rank(a)
        if not rank or type(width) is not int or width < 1 or not self.surely_array(g):
            return None
        cut = ast.Slice(ast.Constant(width), ast.UnaryOp(ast.USub(), ast.Constant(width)), None)
        parts = [clone(cut) for _ in range(rank)]
        index = parts[0] if rank == 1 else ast.Tuple(parts, ast.Load())
        return ast.Subscript(g, index, ast.Load())

    def value_of(self, node: ast.expr) -> Any:
        """What ``node`` names: a bound helper, or a function of the array library
        (``np.atleast_1d``, ``np.r_``); ``_UNKNOWN`` otherwise."""
        if isinstance(node, ast.Name):
            return self.named.get(node.id, _UNKNOWN)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.modules
        ):
            return getattr(self.runtime.array_module, node.attr, _UNKNOWN)
        return _UNKNOWN

    def rank_of_piece(self, piece: ast.expr) -> int | None:
        """The rank of a joined piece: a name's where known, a literal number's 0."""
        if isinstance(piece, ast.Constant) and type(piece.value) in (int, float):
            return 0
        return self.rank(piece)

    def of_a_number(self, call: ast.Call) -> ast.expr | None:
        """``g`` for ``adjoint_like(g, x)`` where ``x`` is a number (see above)."""
        if len(call.args) != 2 or call.keywords:
            return None
        g, x = call.args
        if isinstance(x, ast.Name) and self.runtime.shapes.dims(self.shapes.get(x.id)) == ():
            return g
        return None

    def rank(self, atom: ast.expr) -> int | None:
        if not isinstance(atom, ast.Name):
            return None
        dims = self.runtime.shapes.dims(self.shapes.get(atom.id))
        return None if dims is None else len(dims)

    def expanded(self, call: ast.Call) -> ast.expr | None:
        arguments = _arguments(call, ("y_bar", "x", "axis", "keepdims"), {"axis": None})
        if arguments is None:
            return None
        g, a, axis, keepdims = (arguments.get(k) for k in ("y_bar", "x", "axis", "keepdims"))
        rank = self.rank(a)
        axes = _constant(axis)
        kept = False if keepdims is None else _constant(keepdims)
        if rank is None or axes is _UNKNOWN or kept not in (True, False):
            return None
        if axes is not None and not kept:
            values = axes if isinstance(axes, tuple) else (axes,)
            if not all(type(v) is int and -rank <= v < rank for v in values):
                return None
            reduced = {v % rank for v in values}
            if len(reduced) != len(values):
                return None
            if len(reduced) == rank:  # every axis: g is a number, e is empty, as for None
                return ast.Call(ast.Name(self.broadcast(), ast.Load()), [g, a], [])
            if not self.surely_array(g):  # a runtime zero (the number 0.0) cannot be indexed
                return None
            parts = [
                ast.Constant(None) if i in reduced else ast.Slice(None, None, None)
                for i in range(rank)
            ]
            g = ast.Subscript(
                g, ast.Tuple(parts, ast.Load()) if rank > 1 else parts[0], ast.Load()
            )
        return ast.Call(ast.Name(self.broadcast(), ast.Load()), [g, a], [])

    def unexpanded(self, call: ast.Call) -> ast.expr | None:
        """``g[e]`` for ``index_bar(g, a, i)`` where ``a[i]`` only inserts axes (see above)."""
        arguments = _arguments(call, ("y_bar", "x", "index"), {})
        if arguments is None:
            return None
        g, a, index = arguments["y_bar"], arguments["x"], arguments["index"]
        if not self.rank(a) or not self.surely_array(g):
            return None
        if self.is_reversal(index):
            return ast.Subscript(g, ast.Slice(None, None, ast.Constant(-1)), ast.Load())
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        removed = []
        for part in parts:
            if isinstance(part, ast.Constant) and part.value is None:
                removed.append(ast.Constant(0))
            elif isinstance(part, ast.Constant) and part.value is Ellipsis:
                removed.append(ast.Constant(Ellipsis))
            elif (
                isinstance(part, ast.Call)
                and isinstance(part.func, ast.Name)
                and part.func.id in self.helpers["slice"]
                and len(part.args) == 1
                and not part.keywords
                and isinstance(part.args[0], ast.Constant)
                and part.args[0].value is None
            ):
                removed.append(ast.Slice(None, None, None))
            else:
                return None
        ellipses = sum(isinstance(p, ast.Constant) and p.value is Ellipsis for p in removed)
        if ellipses > 1 or not any(isinstance(p, ast.Constant) and p.value == 0 for p in removed):
            return None
        if len(removed) - ellipses - len([p for p in parts if _is_none(p)]) > self.rank(a):
            return None  # more slices than a has axes: NumPy raises in the forward sweep
        e = ast.Tuple(removed, ast.Load()) if len(removed) > 1 else removed[0]
        return ast.Subscript(g, e, ast.Load())

    def is_reversal(self, index: ast.expr) -> bool:
        """Whether ``index`` is ``slice(None, None, -1)`` (``[::-1]``), slice the builtin."""
        return (
            isinstance(index, ast.Call)
            and isinstance(index.func, ast.Name)
            and index.func.id in self.helpers["slice"]
            and len(index.args) == 3
            and not index.keywords
            and all(isinstance(part, ast.Constant) for part in index.args)
            and [part.value for part in index.args] == [None, None, -1]
            and type(index.args[2].value) is int
        )

    def surely_array(self, node: ast.expr) -> bool:
        """Whether ``node`` is surely an array: a forward value of rank one or more, or
        arithmetic with one (an adjoint's name may stand for the runtime zero, a number)."""
        if isinstance(node, ast.Name):
            if node.id in self.maybe_zero:
                return False
            if node.id in self.adjoints:  # an adjoint has its value's shape, or is a zero
                return bool(self.rank(ast.Name(self.adjoints[node.id])))
            return bool(self.rank(node))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.surely_array(node.operand)
        if (  # a.sum(axis=k, keepdims=True) of an array is an array of a's rank
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("sum", "mean")
            and any(
                k.arg == "keepdims" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
        ):
            return self.surely_array(node.func.value)
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow
        ):
            return self.surely_array(node.left) or self.surely_array(node.right)
        return False

    def counted(self, call: ast.Call) -> ast.expr | None:
        arguments = _arguments(call, ("x", "y"), {})
        if arguments is None:
            return None
        a, y = arguments["x"], arguments["y"]
        if not isinstance(y, ast.Name) or not self.rank(a):
            return None
        if self.runtime.shapes.dims(self.shapes.get(y.id)) != ():
            return self.count_per_element(a, y)
        parameter = self.same_shaped_parameter(a)
        if parameter is a:
            return self.size_from_parameters(a) or ast.Attribute(a, "size", ast.Load())
        return ast.Attribute(parameter, "size", ast.Load())

    def count_per_element(self, a: ast.Name, y: ast.Name) -> ast.expr | None:
        """``a.size // y.size`` for a reduction ``y`` of ``a`` over some of its axes, as the
        product of a's dimensions that y does not have (``x.shape[1]``): each of y's
        dimensions not 1 is known to have the length of one of a's (the same origin), taken
        away once, and each of a's others is a parameter's dimension or a constant. The
        quotient of the products is then the product of what remains (1 if nothing does)."""
        facts = self.runtime.shapes
        a_dims = list(facts.dims(self.shapes.get(a.id)) or ())
        y_dims = facts.dims(self.shapes.get(y.id))
        if not a_dims or y_dims is None:
            return None
        for size in y_dims:
            if size == 1:
                continue
            match = next((i for i, d in enumerate(a_dims) if facts.same_length(d, size)), None)
            if match is None:
                return None
            del a_dims[match]
        factors = [self.length_of(size) for size in a_dims if size != 1]
        if any(factor is None for factor in factors):
            return None
        if not factors:
            return ast.Constant(1)
        product = factors[0]
        for factor in factors[1:]:
            product = ast.BinOp(product, ast.Mult(), factor)
        return product

    def length_of(self, size: Any) -> ast.expr | None:
        """A dimension's length read from a parameter (``X.shape[0]``) or a constant, if
        ``size`` says where it comes from, else None."""
        facts = self.runtime.shapes
        origin = getattr(size, "origin", None)
        if isinstance(origin, tuple) and len(origin) == 2 and origin[0] == "constant":
            return ast.Constant(origin[1]) if type(origin[1]) is int else None
        if not (isinstance(origin, tuple) and len(origin) == 2 and origin[0] in self.parameters):
            return None
        name, axis = origin
        dims = facts.dims(self.shapes.get(name))
        if dims is None or type(axis) is not int or axis >= len(dims):
            return None
        if not facts.same_length(dims[axis], size):
            return None
        shape = ast.Attribute(ast.Name(name, ast.Load()), "shape", ast.Load())
        return ast.Subscript(shape, ast.Constant(axis), ast.Load())

    def size_from_parameters(self, atom: ast.Name) -> ast.expr | None:
        """``atom``'s size as a product of parameters' dimensions (``X.shape[0]``), where each
        of its dimensions is 1 or known to have the length of a parameter's (whose every
        binding has that length too), so ``atom`` need not be kept for its size."""
        facts = self.runtime.shapes
        factors: list[ast.expr] = []
        for size in facts.dims(self.shapes.get(atom.id)) or ():
            if size == 1:
                continue
            origin = getattr(size, "origin", None)
            if not (
                isinstance(origin, tuple) and len(origin) == 2 and origin[0] in self.parameters
            ):
                return None
            name, axis = origin
            dims = facts.dims(self.shapes.get(name))
            if dims is None or axis >= len(dims) or not facts.same_length(dims[axis], size):
                return None
            shape = ast.Attribute(ast.Name(name, ast.Load()), "shape", ast.Load())
            factors.append(ast.Subscript(shape, ast.Constant(axis), ast.Load()))
        if not factors:
            return None
        product = factors[0]
        for factor in factors[1:]:
            product = ast.BinOp(product, ast.Mult(), factor)
        return product

    def same_shaped_parameter(self, atom: ast.Name) -> ast.Name:
        """A parameter known to have ``atom``'s shape, every dimension the same length (its
        size is the same, and reading it keeps no value alive only for its size), or
        ``atom``."""
        facts = self.runtime.shapes
        dims = facts.dims(self.shapes.get(atom.id))
        if not dims:
            return atom
        for name in self.parameters:
            other = facts.dims(self.shapes.get(name))
            if (
                other is not None
                and len(other) == len(dims)
                and all(facts.same_length(x, y) for x, y in zip(dims, other, strict=True))
            ):
                return ast.Name(name, ast.Load())
        return atom

    def broadcast(self) -> str:
        if self.broadcast_name is None:
            existing = self.helpers.get("broadcast")
            name = "broadcast_like"
            while name in self.taken:
                name += "_"
            self.broadcast_name = existing or name
            self.taken.add(self.broadcast_name)
        return self.broadcast_name


_UNKNOWN = object()


def _is_key(value: Any, table: Any) -> bool:
    try:
        return value in table
    except TypeError:  # an unhashable value
        return False


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _constant(node: ast.expr | None) -> Any:
    """The literal value of ``node`` (an int, a tuple of ints, None, True or False)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _constant(node.operand)
        return -value if type(value) is int else _UNKNOWN
    if isinstance(node, ast.Tuple):
        values = tuple(_constant(element) for element in node.elts)
        return _UNKNOWN if any(type(v) is not int for v in values) else values
    return _UNKNOWN


def _arguments(call: ast.Call, names: tuple[str, ...], defaults: dict) -> dict | None:
    """The call's arguments by the helper's parameter names, or None for ``*`` and ``**``."""
    if any(isinstance(a, ast.Starred) for a in call.args) or len(call.args) > len(names):
        return None
    found = dict(zip(names, call.args, strict=False))
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg not in names or keyword.arg in found:
            return None
        found[keyword.arg] = keyword.value
    for name in names:
        if name not in found and name not in defaults and name != "keepdims":
            return None
    return found
