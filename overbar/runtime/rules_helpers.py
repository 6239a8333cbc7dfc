"""Adjoint rules for the runtime's own helpers: a generated adjoint can be differentiated again.

``grad(grad(f))``, Hessians and Hessian-vector products differentiate the code overbar
generates, which calls the helpers of ``helpers.py``. Most of them are linear in the adjoint
they take, so their rules are their transposes: summing to a shape and broadcasting to it undo
each other, the two halves of a matrix product's adjoint are matrix products again. The helpers
that only say what a zero, a seed or a count is have no gradient. Helpers with no rule here
(the in-place writes of the reverse sweep, its stacks) make ``grad`` of an adjoint that calls
them refuse with ``MissingRuleError``, naming the helper.
"""

from __future__ import annotations

import numpy as np

from overbar.runtime.helpers import (
    add_elementwise,
    adjoint_like,
    broadcast_like,
    expand_reduced,
    in_order,
    index_bar,
    matmul_left_bar,
    matmul_right_bar,
    reduced_count,
    seed,
    shape_of,
    structured_like,
    structured_like_bar,
    unbroadcast,
    zero_gradient,
)
from overbar.runtime.registry import adjoint, non_differentiable
from overbar.runtime.shapes import SHAPE_RULES, Operand, Sequence, broadcast, tuple_of

# ---------------------------------------------------------------------------------------------
# Summing to a shape and broadcasting to it: each the other's transpose
# ---------------------------------------------------------------------------------------------


@adjoint(unbroadcast)
def unbroadcast_adjoint(s, g, x, s_bar):
    """s = g summed down to x's shape:  ḡ = s̄ broadcast to g's shape  (x: its shape only)"""
    return broadcast_like(s_bar, g), None


@adjoint(broadcast_like)
def broadcast_like_adjoint(b, g, x, b_bar):
    """b = g broadcast to x's shape:  ḡ = b̄ summed down to g's shape  (x: its shape only)"""
    return unbroadcast(b_bar, g), None


@adjoint(adjoint_like)
def adjoint_like_adjoint(a, g, x, a_bar):
    """a = g, made x's shape where g is the runtime zero:  ḡ = ā summed down to g's shape"""
    return unbroadcast(a_bar, g), None


@adjoint(expand_reduced)
def expand_reduced_adjoint(e, y_bar, x, axis=None, keepdims=False, *, e_bar):
    """e = ȳ broadcast back over the axes of x a reduction took:  ȳ's adjoint = ē summed over
    those axes (as the reduction shaped ȳ)"""
    return unbroadcast(np.sum(e_bar, axis=axis, keepdims=keepdims), y_bar), None


# ---------------------------------------------------------------------------------------------
# The adjoints of containers of parameters (tuples, lists and dicts of adjoints)
# ---------------------------------------------------------------------------------------------


@adjoint(in_order)
def in_order_adjoint(w, xs, w_bar):
    """w = xs (checked not to be a dict, which a loop walks by position):  x̄s = w̄"""
    return w_bar


SHAPE_RULES[in_order] = lambda xs: xs.shape


@adjoint(add_elementwise)
def add_elementwise_adjoint(s, a, b, s_bar):
    """s = a + b, element by element (adjoints of a tuple or dict):  ā = s̄,  b̄ = s̄"""
    return s_bar, s_bar


@adjoint(structured_like)
def structured_like_adjoint(s, g, xs, s_bar):
    """s = g as a container of xs's kind, each leaf shaped like xs's (zeros where g has
    none):  ḡ = s̄ in g's structure, each leaf summed down to g's  (xs: its structure only)"""
    return structured_like_bar(s_bar, g), None


def _added_elementwise(a, b):
    """The shape of ``add_elementwise(a, b)`` for two adjoints of one tuple or list: element by
    element, the shape the two broadcast to (the runtime zero 0.0, a number, broadcasts to the
    other's); where either's elements are not known, only the length."""
    shapes = [o.shape for o in (a, b) if isinstance(o.shape, Sequence)]
    if len(shapes) < 2:
        return None
    first, second = shapes
    if first.elements is None or second.elements is None:
        return Sequence(first.length if first.length is not None else second.length)
    if len(first.elements) != len(second.elements) or first.mapping or second.mapping:
        return None
    elements = []
    for x, y in zip(first.elements, second.elements, strict=True):
        if isinstance(x, Sequence) or isinstance(y, Sequence):
            elements.append(_added_elementwise(Operand(x), Operand(y)))
        else:
            elements.append(broadcast(x, y))
    return tuple_of(tuple(elements))


SHAPE_RULES[add_elementwise] = _added_elementwise
SHAPE_RULES[structured_like] = lambda g, xs: xs.shape if isinstance(xs.shape, Sequence) else None


# ---------------------------------------------------------------------------------------------
# The two halves of a matrix product's adjoint
# ---------------------------------------------------------------------------------------------


@adjoint(matmul_left_bar)
def matmul_left_bar_adjoint(w, z_bar, x, y, w_bar):
    """w = x̄ of z = x @ y at z̄ (z̄ yᵀ), bilinear in z̄ and y, with ⟨w̄, w⟩ = ⟨w̄ @ y, z̄⟩:
    z̄'s adjoint = w̄ @ y,  ȳ = (w̄)ᵀ z̄ as the adjoint of y in w̄ @ y  (x: its shape only)"""
    return w_bar @ y, None, matmul_right_bar(z_bar, w_bar, y)


@adjoint(matmul_right_bar)
def matmul_right_bar_adjoint(w, z_bar, x, y, w_bar):
    """w = ȳ of z = x @ y at z̄ (xᵀ z̄), bilinear in z̄ and x, with ⟨w̄, w⟩ = ⟨x @ w̄, z̄⟩:
    z̄'s adjoint = x @ w̄,  x̄ = z̄ w̄ᵀ as the adjoint of x in x @ w̄  (y: its shape only)"""
    return x @ w_bar, matmul_left_bar(z_bar, x, w_bar), None


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


@adjoint(index_bar)
def index_bar_adjoint(a, y_bar, x, index, a_bar):
    """a = zeros like x with ȳ added at [index] (repeats add up):  ȳ's adjoint = ā[index]"""
    return a_bar[index], None, None


# ---------------------------------------------------------------------------------------------
# No gradient: seeds, zeros, counts and shapes
# ---------------------------------------------------------------------------------------------

non_differentiable(seed, zero_gradient, reduced_count, shape_of)
