"""Shapes the reverse sweep can compute: a value read only for its shape, read from a parameter.

A runtime helper that reads an argument only for its shape (``index_bar(g, u, index)``,
``unbroadcast(g, x)``, the pieces of ``split_like(g, (a, b, c))``) makes the forward sweep save
that value, or its shape, wherever a loop overwrites it. Where shape inference knows the value's
shape as a parameter's, or as constant slices of a parameter's dimensions, the reverse sweep
reads that parameter, or a view of it, instead, and nothing is saved (``remove_unread_pushes``
then drops the pushes). Before, ``u`` as long as the parameter ``u0`` on every trip::

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
read for its shape only (``Runtime.shape_only``, or an element of a tuple display at a position
of ``Runtime.shape_only_elements``); shape inference, which joins every binding of a name and
iterates to a fixed point through loops, knows every dimension of the name's shape as the length
of one dimension of the same parameter, axis by axis (equal, or a slice of it with constant
bounds, the same length for every length the parameter's dimension may have); that parameter
is never assigned in the function (it holds the caller's value in the reverse sweep). Where the
shape is not known so (a join as long as no parameter's dimension, an array a loop grows, a
shape that depends on the step: the join of two lengths of different origins is not known),
the read stays and the value or its shape is saved as before.
"""

from __future__ import annotations

import ast
import functools
from typing import Any

from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.sweep_state import SweepState

_BOUND = 30  # slice bounds tried, as runtime.shapes follows them


def read_known_shapes(reverse: list[ast.stmt], state: SweepState, helpers) -> None:
    """Replace, in ``reverse`` (in place), each name read only for its shape whose shape is a
    parameter's (or a view's of one) by that parameter (or view). ``helpers`` maps a name the
    generated code calls to the runtime function it is bound to (MISSING if none)."""
    shapes = state.runtime.shapes
    stored = {
        node.id
        for node in walk_breadth_first(state.form.tree)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    parameters = [
        (name, state.shapes.get(name))
        for name in state.form.parameters
        if name not in stored and isinstance(state.shapes.get(name), tuple)
    ]
    if not parameters:
        return
    for statement in reverse:
        for node in walk_breadth_first(statement):
            if not isinstance(node, ast.Call):
                continue
            callee = helpers(node.func)
            try:
                whole = state.runtime.shape_only.get(callee, ())
                parts = state.runtime.shape_only_elements.get(callee, ())
            except TypeError:
                continue
            for position in whole:
                if position < len(node.args) and isinstance(node.args[position], ast.Name):
                    witness = _witness(node.args[position], state, parameters, shapes)
                    if witness is not None:
                        node.args[position] = witness
            for position in parts:
                if position < len(node.args) and isinstance(node.args[position], ast.Tuple):
                    elements = node.args[position].elts
                    for k, element in enumerate(elements):
                        if isinstance(element, ast.Name):
                            witness = _witness(element, state, parameters, shapes)
                            if witness is not None:
                                elements[k] = witness


def _witness(name: ast.Name, state: SweepState, parameters, shapes) -> ast.expr | None:
    """A parameter, or a view of one, known to have ``name``'s shape (None if none is)."""
    if name.id in state.form.parameters:
        return None
    target = state.shape_of(name)
    if not isinstance(target, tuple) or any(size is None for size in target):
        return None
    for parameter, shape in parameters:
        if len(shape) != len(target):
            continue
        index = [_cut(size, own, shapes) for size, own in zip(target, shape, strict=True)]
        if any(cut is None for cut in index):
            continue
        while index and index[-1] == slice(None):
            index.pop()
        if not index:
            return ast.Name(id=parameter, ctx=ast.Load())
        parts = [_slice_node(cut) for cut in index]
        view = parts[0] if len(parts) == 1 else ast.Tuple(elts=parts, ctx=ast.Load())
        return ast.Subscript(
            value=ast.Name(id=parameter, ctx=ast.Load()), slice=view, ctx=ast.Load()
        )
    return None


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
