"""Shapes the reverse sweep can compute: a saved value read only for its shape, from parameters.

A runtime helper that reads an argument only for its shape (``index_bar(g, u, index)``,
``unbroadcast(g, x)``, the pieces of ``split_like(g, (a, b, c))``) makes the forward sweep save
that value, or its shape, wherever a loop overwrites it. Where shape inference knows the value's
shape as a parameter's, or as constant slices of a parameter's dimensions, the reverse sweep
reads that parameter, or a view of it, instead; where it knows each dimension as one of some
parameter's (or a constant), it reads a stand-in made from them, ``shape_like(x, x.shape[1:])``
for a row of ``x`` (a cached shape for NumPy, an empty array in the parameter's library for
another library). Nothing is saved then: the pass runs after the rewrites that read shapes
(``reduced_count(row, m)`` is folded into ``x.shape[1]`` first) and ``drop_unread_pushes``
drops the pushes after it. Before, ``u`` as long as the parameter ``u0`` on every trip::

    for _ in tmp1:
        ...
        stack.append(shape_of(u))
        u = np.concatenate((tmp10, interior, tmp11))
    for __2 in range(trips):
        t, i, s = split_like(u_bar, (tmp10, interior, tmp11), axis=0)
        u = stack.pop()
        u_bar = index_bar(s, u, slice(-1, None))

and after (``interior`` is ``u0[1:-1]`` long, as ``u0[:-2]`` is)::

    for _ in tmp1:
        ...
        u = np.concatenate((tmp10, interior, tmp11))
    for __2 in range(trips):
        t, i, s = split_like(u_bar, (u0[:1], u0[:-2], u0[:1]), axis=0)
        u_bar = index_bar(s, u0, slice(-1, None))

Identity: a function that reads an argument only for its shape gives the same result for any
argument of that shape. Side conditions: the argument's position is one the runtime lists as
read for its shape only (``Runtime.shape_only``, or an element of a tuple or list display at a
position of ``Runtime.shape_only_elements``); shape inference, which joins every binding of a
name and iterates to a fixed point through loops, knows every dimension of the name's shape as
the length of one dimension of the same parameter, axis by axis (equal, or a slice of it with
constant bounds, the same length for every length the parameter's dimension may have), or of the
parameters' named dimensions and constants for a stand-in; those parameters are never assigned
in the function (they hold the caller's values in the reverse sweep); only names the forward
sweep saves are replaced (a name read where it is never overwritten costs nothing to read),
and names the forward sweep computes only for the reverse sweep's shape reads (never read in
the forward sweep, never rebound in the reverse one): ``z = np.sin(w) + b`` read only by
``broadcast_like(s_bar, z)`` is read as ``w`` there, and its line goes (``without_dead_code``).
A length inference names after a parameter is that parameter's length: a helper's own names
for its arguments' lengths do not leave it (``shapes._unmarked``). Where the
shape is not known so (a join as long as no parameter's dimension, an array a loop grows, a
shape that depends on the step: the join of two lengths of different origins is not known),
the read stays and the value or its shape is saved as before.
"""

from __future__ import annotations

import ast
import copy
import functools
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import is_elementwise_call, is_select, module_names
from overbar.transpiler.names import names_loaded, names_stored, walk_breadth_first
from overbar.transpiler.parse import MISSING, Namespace
from overbar.transpiler.pushes import _is_pop, _pushed_name, _read_after_pops
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.shapes import Shapes

_BOUND = 30  # slice bounds tried, as runtime.shapes follows them


def read_known_shapes(
    adjoint: Adjoint, runtime: Runtime, shapes: Shapes, namespace: Namespace | None
) -> Adjoint:
    """The adjoint with each read, in its reverse sweep, of a saved name read only for its
    shape replaced by a parameter (or a view of it, or a stand-in for its rows) known to have
    that shape; ``drop_unread_pushes`` then drops the saves nothing else reads."""
    stack = adjoint.stack
    forward = adjoint.tree.body[: adjoint.forward_length]
    pushed = {
        name
        for statement in forward
        for node in walk_breadth_first(statement)
        if (name := _pushed_name(node, stack)) is not None
    }
    stored = {
        node.id
        for node in walk_breadth_first(adjoint.tree)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    pushed |= _read_for_shape_alone(
        adjoint,
        runtime,
        helper_of(adjoint, namespace),
        elementwise_calls(adjoint, runtime, namespace),
    )
    if not pushed:
        return adjoint
    arguments = adjoint.tree.args
    parameters = [
        (a.arg, shapes.get(a.arg))
        for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs
        if a.arg not in stored and isinstance(shapes.get(a.arg), tuple)
    ]
    if not parameters:
        return adjoint
    bound = dict(adjoint.bindings)
    helper = helper_of(adjoint, namespace)
    taken = {n.id for n in walk_breadth_first(adjoint.tree) if isinstance(n, ast.Name)}
    made = _ShapeHelper(runtime, bound, taken)
    witness = functools.partial(
        _witness, shapes=shapes, parameters=parameters, facts=runtime.shapes, made=made
    )
    tree = copy.deepcopy(adjoint.tree)
    replaced: list[tuple[list, int, ast.Name]] = []  # (the list it was in, where, the read)
    for statement in tree.body[adjoint.forward_length :]:
        for holder, k in _shape_only_places(statement, runtime, helper):
            read = holder[k]
            if isinstance(read, ast.Name) and read.id in pushed:
                found = witness(read.id)
                if found is not None:
                    holder[k] = found
                    replaced.append((holder, k, read))
    # A name the reverse sweep still reads once popped stays saved: its reads stay as they were.
    reverse = tree.body[adjoint.forward_length :]
    pop_targets = {
        id(node.targets[0])
        for statement in reverse
        for node in walk_breadth_first(statement)
        if _is_pop(node, stack)
    }
    still_read = _read_after_pops(reverse, stack, pop_targets)
    kept = 0
    for holder, k, read in replaced:
        if read.id in still_read:
            holder[k] = read
        else:
            kept += 1
    if not kept:
        return adjoint
    bindings = adjoint.bindings
    called = made.name is not None and any(
        isinstance(node, ast.Name) and node.id == made.name for node in walk_breadth_first(tree)
    )
    if called and made.name not in bound:
        bindings = (*bindings, (made.name, runtime.shape_like))
    return replace(adjoint, tree=tree, bindings=bindings)


def helper_of(adjoint: Adjoint, namespace: Namespace | None):
    """``node -> the function it names`` in the generated code (MISSING if none)."""
    bound = dict(adjoint.bindings)

    def helper(node: ast.expr) -> Any:
        if not isinstance(node, ast.Name):
            return MISSING
        if node.id in bound:
            return bound[node.id]
        return MISSING if namespace is None else namespace.lookup(node.id)

    return helper


def _shape_only_places(statement: ast.stmt, runtime: Runtime, helper) -> list[tuple[list, int]]:
    """(the list, the index) of each argument in ``statement`` a call reads only for its shape:
    a position ``Runtime.shape_only`` lists, or an element of a tuple or list display at a
    position ``Runtime.shape_only_elements`` lists."""
    places: list[tuple[list, int]] = []
    for node in walk_breadth_first(statement):
        if not isinstance(node, ast.Call):
            continue
        callee = helper(node.func)
        try:
            whole = runtime.shape_only.get(callee, ())
            parts = runtime.shape_only_elements.get(callee, ())
        except TypeError:
            continue
        places.extend((node.args, position) for position in whole if position < len(node.args))
        for position in parts:
            display = node.args[position] if position < len(node.args) else None
            if isinstance(display, ast.Tuple | ast.List):
                elements = display.elts
                places.extend((elements, k) for k in range(len(elements)))
    return places


def _read_for_shape_alone(adjoint: Adjoint, runtime: Runtime, helper, elementwise) -> set[str]:
    """The names the forward sweep binds and never reads, and the reverse sweep reads, never
    rebinding them, only where a call takes their shape: a forward value computed for its
    shape alone, which goes once a parameter (or a view of one) stands for it. (A value the
    forward sweep reads is computed anyway: its reads stay.)"""
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    bound_forward = {name for statement in forward for name in names_stored(statement)}
    read_forward = {name for statement in forward for name in names_loaded(statement)}
    bound_reverse = {name for statement in reverse for name in names_stored(statement)}
    for_shape: set[int] = set()
    for statement in reverse:
        for holder, k in _shape_only_places(statement, runtime, helper):
            if isinstance(holder[k], ast.Name):
                for_shape.add(id(holder[k]))
    read_otherwise: set[str] = set()
    read_for_shape: set[str] = set()
    for statement in reverse:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                (read_for_shape if id(node) in for_shape else read_otherwise).add(node.id)
    alone = read_for_shape - read_otherwise - read_forward
    shapes = dict(adjoint.shapes)
    unsafe = {
        name
        for statement in forward
        for name in names_stored(statement)
        if not cannot_raise(statement, shapes, runtime.shapes, elementwise)
    }
    return alone & bound_forward - bound_reverse - unsafe


_CANNOT_RAISE = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def elementwise_calls(adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None):
    """``node -> bool``: whether ``node`` calls an elementwise function of the array library
    (``np.sin(x)``, one positional argument per input) or its ``where(c, x, y)``."""
    names = module_names(adjoint.bindings, namespace, runtime)

    def elementwise(node: ast.expr) -> bool:
        return is_select(node, names, runtime) or is_elementwise_call(node, names, runtime)

    return elementwise


def cannot_raise(
    statement: ast.stmt, shapes: dict[str, Any], facts: Any, elementwise=None
) -> bool:
    """Whether ``statement`` surely raises no error, so that the forward sweep may drop it
    when nothing reads its value: ``name = e``, ``e`` elementwise arithmetic (``+ - * /``,
    ``**`` by a literal, unary ``-``) of names and literals whose shapes are known and are
    numbers' or one and the same array shape, with at least one array among them (NumPy's
    arithmetic, which warns where Python's raises, ``1 / 0``), comparisons, and calls
    ``elementwise`` (node -> bool) accepts (``np.sin(x)``, ``np.where(c, x, y)``: NumPy's
    elementwise functions warn too). ``z = x * y`` with x and y of
    lengths not known equal may raise (they may not broadcast): it stays, and raises where
    the user's function would."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return False
    leaves: list[ast.expr] = []
    stack = [statement.value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BinOp) and isinstance(node.op, _CANNOT_RAISE):
            if isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant)
                and type(node.right.value) in (int, float)
                and node.right.value >= 0
            ):
                return False
            stack += [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            if not isinstance(
                node.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.Eq | ast.NotEq
            ):
                return False
            stack += [node.left, node.comparators[0]]
        elif isinstance(node, ast.Call) and elementwise is not None and elementwise(node):
            stack += node.args
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            continue
        elif isinstance(node, ast.Name):
            leaves.append(node)
        else:
            return False
    arrays = []
    for leaf in leaves:
        shape = facts.dims(shapes.get(leaf.id))
        if shape is None:
            return False
        if shape:
            arrays.append(shape)
    if not arrays:
        return False
    first = arrays[0]
    return all(
        len(shape) == len(first)
        and all(facts.same_length(a, b) for a, b in zip(shape, first, strict=True))
        for shape in arrays
    )


class _ShapeHelper:
    """The name the generated code calls ``shape_like`` by, bound on first use."""

    def __init__(self, runtime: Runtime, bound: dict[str, Any], taken: set[str]):
        self.runtime, self.name, self.taken = runtime, None, taken
        for name, value in bound.items():
            if runtime.shape_like is not None and value is runtime.shape_like:
                self.name = name

    def call(self, library: str, dims: ast.expr) -> ast.expr | None:
        """``shape_like(library, dims)``."""
        if self.runtime.shape_like is None:
            return None
        if self.name is None:
            name, k = "shape_like", 1
            while name in self.taken:
                k += 1
                name = f"shape_like{k}"
            self.name = name
        return ast.Call(
            func=ast.Name(id=self.name, ctx=ast.Load()),
            args=[ast.Name(id=library, ctx=ast.Load()), dims],
            keywords=[],
        )


def _witness(name: str, shapes: Shapes, parameters, facts, made: _ShapeHelper) -> ast.expr | None:
    """A parameter, a view of one, or a stand-in made from parameters' dimensions, known to
    have ``name``'s shape (None if none is)."""
    target = shapes.get(name)
    if not isinstance(target, tuple) or any(size is None for size in target):
        return None
    for parameter, shape in parameters:
        if len(shape) != len(target):
            continue
        index = [_cut(size, own, facts) for size, own in zip(target, shape, strict=True)]
        if any(cut is None for cut in index):
            continue
        while index and index[-1] == slice(None):
            index.pop()
        if not index:
            return ast.Name(id=parameter, ctx=ast.Load())
        parts = [_slice_node(cut) for cut in index]
        view = parts[0] if len(parts) == 1 else ast.Tuple(elts=parts, ctx=ast.Load())
        return ast.Subscript(value=_load(parameter), slice=view, ctx=ast.Load())
    for parameter, shape in parameters:  # x[i] in a loop over x's rows: x.shape[1:]
        leading = len(shape) - len(target)
        if 0 < leading < len(shape) and all(
            size == own or facts.same_length(size, own)
            for size, own in zip(target, shape[leading:], strict=True)
        ):
            sizes = ast.Attribute(value=_load(parameter), attr="shape", ctx=ast.Load())
            rest = ast.Slice(lower=ast.Constant(leading), upper=None, step=None)
            return made.call(parameter, ast.Subscript(value=sizes, slice=rest, ctx=ast.Load()))
    return _dimensions_witness(target, parameters, facts, made)


def _dimensions_witness(target: tuple, parameters, facts, made: _ShapeHelper) -> ast.expr | None:
    """``shape_like(P, (P.shape[0], Q.shape[1]))``: each dimension 1, a constant, or known as
    one of a parameter's; None where one is not, or where no dimension is a parameter's."""
    names = {name for name, _ in parameters}
    dims: list[ast.expr] = []
    library = None
    for size in target:
        if size == 1:
            dims.append(ast.Constant(1))
            continue
        origin = size.origin if isinstance(size, facts.Size) else None
        if isinstance(origin, tuple) and len(origin) == 2 and origin[0] == "constant":
            dims.append(ast.Constant(origin[1]))
        elif (
            isinstance(origin, tuple)
            and len(origin) == 2
            and origin[0] in names
            and type(origin[1]) is int
        ):
            sizes = ast.Attribute(value=_load(origin[0]), attr="shape", ctx=ast.Load())
            dims.append(ast.Subscript(value=sizes, slice=ast.Constant(origin[1]), ctx=ast.Load()))
            library = library or origin[0]
        else:
            return None
    if library is None:
        return None
    return made.call(library, ast.Tuple(elts=dims, ctx=ast.Load()))


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _cut(size: Any, own: Any, shapes) -> slice | None:
    """The constant slice of a dimension of size ``own`` that is ``size`` long whatever length
    that dimension has (``slice(None)`` for the whole); None if there is none."""
    if size == own or shapes.same_length(size, own):
        return slice(None)
    if not (isinstance(size, shapes.Size) and isinstance(own, shapes.Size)):
        return None
    origin = size.origin
    if not (isinstance(origin, tuple) and len(origin) == 3 and origin[0] == "slice"):
        return None
    if own.origin is None or origin[1] != own.origin:
        return None
    return _slice_with_lengths(origin[2])


@functools.cache
def _slice_with_lengths(lengths: tuple) -> slice | None:
    """The first slice ``[start:stop]`` (constant bounds, simplest first) as long as
    ``lengths[n]`` of a dimension of every length ``n`` it lists (None: not a length the
    dimension may have)."""
    starts = [None, *range(1, _BOUND + 1), *range(-1, -_BOUND - 1, -1)]
    stops = [None, *range(-1, -_BOUND - 1, -1), *range(1, _BOUND + 1)]
    for start in starts:
        for stop in stops:
            bounds = slice(start, stop)
            if all(
                length is None or len(range(n)[bounds]) == length
                for n, length in enumerate(lengths)
            ):
                return bounds
    return None


def _slice_node(bounds: slice) -> ast.expr:
    def constant(value):
        if value is None:
            return None
        if value < 0:
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
        return ast.Constant(value)

    return ast.Slice(lower=constant(bounds.start), upper=constant(bounds.stop), step=None)
