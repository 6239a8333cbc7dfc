"""The interface between the two halves: what the transpiler may know of a runtime.

This module imports no array library, so the transpiler can depend on it and stay ignorant of
NumPy; ``overbar.runtime`` builds the NumPy instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from overbar.runtime.registry import RuleTable


@dataclass(frozen=True)
class Runtime:
    """One array library as the transpiler sees it."""

    rules: RuleTable
    seed: Callable
    zero_gradient: Callable
    unbroadcast: Callable
    adjoint_like: Callable
    add_elementwise: Callable
    add_in_kind: Callable  # a+b, or element by element where either is a tuple
    unpacked_bar: Callable  # the adjoint of a value unpacked, in its own kind
    attribute_bar: Callable  # the adjoint of an object whose attribute is read: {name: ȳ}
    attributes_like: Callable  # the gradient with respect to an object, by attribute name
    same_method: Callable  # checks that self.name is the method differentiated
    split_last: Callable
    listed: Callable  # a list's adjoint as a list a reverse loop updates in place
    add_item: Callable  # one element of such a list added to
    shape_of: Callable
    shape_only: Mapping[Callable, tuple[int, ...]]
    # Arguments (by position) a function reads only for their shape and type, so that no
    # gradient flows into them: shape_only's, and the helpers' that also test a type or rank.
    value_unread: Mapping[Callable, tuple[int, ...]]
    array_makers: frozenset
    copying_functions: Set  # grows when SciPy's rules are loaded
    saved_region: Callable
    floating_target: Callable  # saved_region's check alone, where nothing need be saved
    take_and_zero: Callable
    index_bar: Callable
    item_bar: Callable  # the adjoint of indexing a tuple or list
    joined_bar: Callable  # the adjoints of two tuples or lists joined (a + b)
    repeated_bar: Callable  # the adjoint of a tuple or list repeated (xs * n)
    entry_bar: Callable  # the adjoint of one value of a dict display, read from the dict's
    in_order: Callable  # a value a loop walks by position, refused if it is a dict
    elements_like: Callable  # a tuple's adjoint with an array for every element
    structured_like: Callable  # a container parameter's adjoint as its gradient (same kind)
    own: Callable
    add_at: Callable
    take_in_place: Callable
    is_differentiable_input: Callable
    describe_input: Callable
    shapes: Any  # the module of shape facts (overbar.runtime.shapes for NumPy)
    broadcast_like: Callable
    sum_all: Callable  # templates of unbroadcast with its axes known: g.sum(), ...
    sum_leading: Callable
    sum_keeping: Callable
    expand_reduced: Callable  # a reduction's adjoint broadcast back over the reduced axes
    reduced_count: Callable  # how many elements a reduction took into each of its results
    sum_of_outers: Callable  # Σₜ outer(aₜ, bₜ) of values collected over a loop's steps
    sum_of_products: Callable  # Σₜ aₜ bₜᵀ or Σₜ aₜᵀ bₜ, likewise
    sum_of_values: Callable  # Σₜ aₜ, likewise
    sum_of_sums: Callable  # Σₜ aₜ.sum(axis=..., keepdims=...), likewise
    stacked_rows: Callable  # the values collected, stacked once for the sums above to read
    sum_of_scaled: Callable  # Σₜ sₜ aₜ for numbers sₜ, likewise
    sum_of_inner: Callable  # Σₜ (aₜ * bₜ).sum(), likewise
    split_like: Callable  # the adjoint of a join: ȳ cut into pieces shaped like the joined
    array_module: Any  # the array library (numpy): the generated code calls its functions
    is_elementwise: Callable  # f -> whether f is one of its elementwise functions (a ufunc)
    is_pure: Callable  # f -> whether calling f has no effect and depends on nothing else
    logistic: Any  # the rule of the logistic function written out (a registry.Rule)
    softplus: Any  # the rule of softplus written out, likewise
    # the primitives that are "exp", "log", "sum" and "sum over the first axis" (np.add.reduce)
    softmax_parts: Mapping[str, frozenset]
    broadcast_tangent: Callable  # forward mode's unbroadcast: a term broadcast to the output
    zero_tangent: Callable  # the tangent of a value that does not vary, shaped like it
    own_tangent: Callable  # a tangent as a new writable array shaped like its value
    copy_of: Callable  # a fresh copy of a list or an array (a vjp's pullback writes into)
    write_back: Callable  # write_back(x, saved): saved's values into x, in place
    # Arguments (by position) that are tuples whose elements a function reads only for their
    # shape (split_like's pieces), though it reads the tuple's kind.
    shape_only_elements: Mapping[Callable, tuple[int, ...]] = field(default_factory=dict)
    # helpers whose result is always a number, never an array (a count of elements): a
    # factor the peephole pass may move to the front of a product, as it moves a literal
    number_valued: frozenset = frozenset()
    # shape_like(x, dims): a stand-in for a value of shape dims, in x's library
    shape_like: Callable | None = None
    # as_floating(a): 1.0 * a, or a itself where that has its dtype (a floating point array)
    as_floating: Callable | None = None
    # forward mode's gradient of one number: the seed x_dot = one_like(x), and the result's
    # tangent checked (a scalar) and shaped like x (tangent_as_gradient(y, y_dot, x))
    one_like: Callable | None = None
    tangent_as_gradient: Callable | None = None
    # (f, g) -> h with h(*g_arguments, *rest) == f(g(*g_arguments), *rest): a helper that
    # computes two functions of the reverse sweep together, without the value between them
    composed: Mapping[tuple[Callable, Callable], Callable] = field(default_factory=dict)
    # the adjoints of joins whose pieces' ranks decide whether they are split_like's: the
    # helper (unjoin) -> f(promote, axis, ranks), the axis split_like cuts along, or None
    split_joins: Mapping[Callable, Callable] = field(default_factory=dict)
    # the adjoint of a pad with constants, ȳ's middle (unpad_constant(ȳ, a, width))
    unpad_constant: Callable | None = None
    # the writes of ufuncs' ``at`` method (np.add.at), each with the function that returns the
    # array written as a new value (``ufunc_at.py``): np.add.at(y, i, v) is y[()] = f(y, i, v)
    ufunc_writes: Mapping[Any, Callable] = field(default_factory=dict)
    # functions that return a new array except for one value of one argument, where they
    # return their input itself: f -> (the argument's name, its position, that value); a call
    # copies where the argument is left out or is a constant other than that value
    # (np.diff(u, 2) is new, np.diff(u, 0) is u)
    copying_unless: Mapping[Callable, tuple[str, int, Any]] = field(default_factory=dict)
