"""Functions the generated adjoint code calls, besides NumPy itself.

Each is small and runs on plain NumPy values; the rules in ``rules.py`` name them.
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
import types

import numpy as np

from overbar.errors import InternalError, NonScalarOutputError, OverbarError
from overbar.runtime import arrays
from overbar.runtime.arrays import is_array, is_foreign_array, library_name, like

_NUMBER_TYPES = (float, int, np.floating, np.integer)


def seed(y):
    """The adjoint of the function's result: one, shaped like the scalar result ``y``."""
    kind = type(y)
    if kind is float or kind is np.float64:
        return 1.0
    if isinstance(y, (tuple, list)) or arrays.size(y) != 1:
        raise NonScalarOutputError(
            f"grad needs a scalar result, but the function returned {_describe_value(y)}; "
            "reduce it to a scalar (for example with np.sum) to differentiate it, or use "
            "overbar.vjp(f, *args) for its vector-Jacobian products (overbar.jacobian for the "
            "whole Jacobian)"
        )
    if kind is bool or getattr(y, "dtype", None) == np.bool_:
        raise NonScalarOutputError(
            "grad needs a real scalar result, but the function returned a truth value "
            f"({_describe_value(y)}), which has no derivative; differentiate the number it "
            "compares instead"
        )
    if is_foreign_array(y) and y.dtype.kind in "fiub":  # lazy: no look at its value
        return np.ones_like(y, dtype=np.result_type(y.dtype, 1.0))
    if np.iscomplexobj(y):
        raise NonScalarOutputError(
            "grad needs a real scalar result, but the function returned a complex value"
        )
    if isinstance(y, np.ndarray):
        return np.ones_like(y, dtype=np.result_type(y, 1.0))
    if isinstance(y, np.floating):
        return y.dtype.type(1.0)  # keeps float32 results' gradients in float32
    return 1.0


def logistic(z):
    """The logistic function, 1 / (1 + exp(−z)), as users write it."""
    return 1 / (1 + np.exp(-z))


def softplus(x):
    """Softplus, log(1 + exp(x)), as users write it."""
    return np.log(1 + np.exp(x))


def zero_gradient(x):
    """The gradient of an input the result does not depend on: zeros shaped like ``x`` (for a
    tuple or list, which a helper may take: the runtime zero 0.0 for each element; for an
    object, ``self`` of a method that reads none of its attributes, no attribute's)."""
    if isinstance(x, tuple | list):
        return tuple(0.0 for _ in x)
    if isinstance(x, dict):
        return {}  # a dict's adjoint holds only the keys some gradient reached
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=np.result_type(x, 1.0))
    if is_foreign_array(x):  # zeros of x's library (a Dask array chunked like x)
        return np.zeros_like(x, dtype=np.result_type(x.dtype, 1.0))
    if not hasattr(x, "dtype") and is_object_of_attributes(x):
        return {}  # an object's adjoint: its attributes', none reached
    return np.result_type(x, 1.0).type(0)


def _is_runtime_zero(value) -> bool:
    return type(value) is float and value == 0.0


def adjoint_like(g, x):
    """``g`` if it has ``x``'s shape; a scalar zero adjoint becomes zeros shaped like ``x``
    (for a tuple ``x``: a tuple of zeros, which its elements' adjoints then shape)."""
    if isinstance(x, tuple | list):
        return tuple(0.0 for _ in x) if _is_runtime_zero(g) else g
    if isinstance(x, dict):
        return {} if _is_runtime_zero(g) else g
    if _shape(g) == _shape(x):
        return g
    return zero_gradient(x) + g


def add_elementwise(a, b):
    """The sum of two adjoints of a tuple, element by element (either, or any element, may be
    the runtime zero 0.0, which adds nothing; an adjoint that a NumPy rule gave as one stacked
    array adds by rows; the adjoints of nested tuples add element by element too)."""
    if _is_runtime_zero(a):
        return b
    if _is_runtime_zero(b):
        return a
    if type(a) is dict or type(b) is dict:  # a dict's adjoint: a key missing is a zero
        return {
            key: _add_adjoints(a[key], b[key]) if key in a and key in b else a.get(key, b.get(key))
            for key in {**a, **b}
        }
    return tuple(_add_adjoints(x, y) for x, y in zip(a, b, strict=True))


def _add_adjoints(x, y):
    if _is_runtime_zero(x) or x is None:  # None: the adjoint of what has none (a subscript)
        return y
    if _is_runtime_zero(y) or y is None:
        return x
    if type(x) in (tuple, dict) or type(y) in (tuple, dict):
        return add_elementwise(x, y)
    return x + y


def unpacked_bar(value, parts):
    """``a, b, ... = value``:  v̄ = (ā, b̄, ...) in the kind of ``value``, which is known only
    when the line runs: a tuple for a tuple or list (an element's runtime zero stays one); for
    an array, the array of its rows' adjoints, a row the result does not reach getting zeros
    (its rows are what unpacking takes: v̄[i] = āᵢ)."""
    if isinstance(value, tuple | list):
        return tuple(parts)
    rows = [adjoint_like(part, row) for part, row in zip(parts, value, strict=True)]
    return np.stack(rows) if rows else zero_gradient(value)


def add_in_kind(a, b):
    """The sum of two adjoints of a value whose kind is known only when the line runs (one
    unpacked, or an object whose attributes are read): element by element for a tuple's
    (``add_elementwise``), attribute by attribute for an object's (dicts of attribute names),
    ``a + b`` for an array's (either may be the runtime zero 0.0, which adds nothing)."""
    if _is_runtime_zero(a):
        return b
    if _is_runtime_zero(b):
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **b} | {name: add_in_kind(a[name], b[name]) for name in a.keys() & b.keys()}
    if isinstance(a, tuple | list) or isinstance(b, tuple | list):
        return add_elementwise(a, b)
    return a + b


def attribute_bar(value, name, g):
    """``y = value.name`` of an object (a model whose parameters are attributes):
    v̄ = {name: ȳ}, the adjoint of an object being the adjoints of the attributes read. An
    array or a number has no such attribute to differentiate: refused."""
    if isinstance(value, np.ndarray | np.generic | numbers.Number | tuple | list | dict):
        raise OverbarError(
            f"overbar has no adjoint rule for the attribute .{name} of {_describe_value(value)}"
        )
    return {name: g}


def attributes_like(g, value, names):
    """The gradient with respect to an object: its attributes' adjoints, by name, for each
    attribute ``g`` holds and each of ``names`` (those the function reads) that holds numbers,
    each shaped like the attribute (zeros for one the result does not reach)."""
    g = {} if _is_runtime_zero(g) else g
    numbers_read = [name for name in names if is_differentiable_input(getattr(value, name))]
    every = sorted(set(g) | set(numbers_read))
    return {name: _shaped_like(g.get(name, 0.0), getattr(value, name)) for name in every}


def _shaped_like(g, x):
    """``g`` as the gradient of ``x``: zeros for the runtime zero, element by element for a
    tuple or list (``elements_like``)."""
    return elements_like(g, x) if isinstance(x, tuple | list) else adjoint_like(g, x)


def same_method(value, name, method):
    """``value``, once checked that ``value.name`` is ``method``, the function overbar
    differentiated for the call ``self.name(...)`` (a subclass may override it; an attribute
    of the object's own may hide it: ``self.act = act`` and a method ``act``). ``value(...)``
    calls its class's ``__call__`` whatever the object holds."""
    if name == "__call__":
        found = getattr(type(value), name, None)
    else:
        found = getattr(value, name, None)
        found = getattr(found, "__func__", found)  # a bound method: its function
    if found is not method:
        held = name != "__call__" and name in getattr(value, "__dict__", {})
        what = (
            f"the attribute {name} of the {type(value).__qualname__} object (it hides the "
            "method of that name)"
            if held
            else f"{type(value).__qualname__}.{name}"
        )
        raise OverbarError(
            f"{what} is not {method.__qualname__}, whose adjoint overbar derived for "
            f"self.{name}(...): differentiate the method of {type(value).__qualname__} "
            f"itself (overbar.grad({type(value).__qualname__}.method) or a bound method), "
            "and give no attribute a method's name"
        )
    return value


def elements_like(g, xs):
    """The adjoint ``g`` of a tuple ``xs`` as a rule reads it: one adjoint per element, shaped
    like it (the runtime zero, for the whole tuple or for an element, becomes zeros)."""
    if isinstance(xs, dict):
        g = {} if _is_runtime_zero(g) else g
        return {key: _element_like(g.get(key, 0.0), x) for key, x in xs.items()}
    if _is_runtime_zero(g):
        g = (0.0,) * len(xs)
    return tuple(_element_like(part, x) for part, x in zip(g, xs, strict=True))


def _element_like(g, x):
    return elements_like(g, x) if isinstance(x, tuple | list | dict) else adjoint_like(g, x)


def elements_like_bar(a_bar, g, xs):
    """Adjoint of a = elements_like(g, xs) with respect to g: ā in g's structure, each
    element summed down to the shape of g's (the transpose of ``adjoint_like``, which
    broadcasts it); for a g that is one array of stacked elements (an adjoint a NumPy rule
    gave), an array of g's shape. Where g, or an element of it that stands for a nested
    container, is a Python number, it is the runtime zero, a constant: it gets nothing. An
    element of ā that is the runtime zero gives nothing either."""
    if _is_runtime_zero(a_bar) or _is_number(g):
        return 0.0
    if isinstance(xs, dict):
        return {key: _element_bar(a_bar.get(key, 0.0), part, xs[key]) for key, part in g.items()}
    parts = [_element_bar(p_bar, part, x) for p_bar, part, x in zip(a_bar, g, xs, strict=True)]
    return stacked_like(parts, g)


def _element_bar(a_bar, g, x):
    if isinstance(x, tuple | list | dict):
        return elements_like_bar(a_bar, g, x)
    return 0.0 if _is_runtime_zero(a_bar) else unbroadcast(a_bar, g)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0)


def stacked_like(parts, g):
    """The adjoints ``parts`` of the elements of ``g`` as one adjoint of ``g``: a tuple for a
    tuple or list g; for an array g (elements stacked), an array of its shape, with zeros for
    the runtime zeros among them."""
    if not isinstance(g, np.ndarray) and not is_foreign_array(g):
        return tuple(parts)
    out = zero_gradient(g)
    for position, part in enumerate(parts):
        if not _is_runtime_zero(part):
            out[position] = part
    return out


def _leaf_like(g, x):
    """``structured_like(g, x)``, at once where it is ``g`` itself: an array of x's shape and
    dtype (what an adjoint mostly is: this is on every call's path)."""
    if (
        type(g) is np.ndarray
        and type(x) is np.ndarray
        and g.shape == x.shape
        and (g.dtype == x.dtype or x.dtype.kind != "f")
        and g.dtype.kind == "f"
    ):
        return g
    return structured_like(g, x)


def structured_like(g, xs):
    """The adjoint ``g`` of a container of parameters ``xs`` (a dict, list or tuple of arrays
    and numbers, nested) as its gradient: a container of ``xs``'s own kind and keys, each leaf's
    gradient an array shaped like the leaf (zeros where no gradient reached it), in the leaf's
    floating-point dtype."""
    if isinstance(xs, dict):
        g = {} if _is_runtime_zero(g) else g
        return {key: _leaf_like(g.get(key, 0.0), x) for key, x in xs.items()}
    if isinstance(xs, tuple | list):
        parts = (0.0,) * len(xs) if _is_runtime_zero(g) else g
        return type(xs)([_leaf_like(part, x) for part, x in zip(parts, xs, strict=True)])
    gradient = adjoint_like(g, xs)
    dtype = getattr(xs, "dtype", None)
    if dtype is not None and dtype.kind == "f" and getattr(gradient, "dtype", dtype) != dtype:
        gradient = np.asarray(gradient).astype(dtype)
    return gradient


def structured_like_bar(s_bar, g):
    """Adjoint of s = structured_like(g, xs) with respect to g: s̄ in g's structure, each
    leaf summed down to g's leaf's shape. A number in g where s̄ holds a container is the
    runtime zero, a constant: it gets nothing. A number leaf of g is not taken for one: the
    gradient of a Python number may be 0.0 and still vary (y² at y = 0)."""
    if _is_runtime_zero(s_bar):
        return 0.0
    if isinstance(g, dict):
        return {key: structured_like_bar(s_bar.get(key, 0.0), part) for key, part in g.items()}
    if isinstance(g, tuple | list):
        return tuple(
            structured_like_bar(part_bar, part) for part_bar, part in zip(s_bar, g, strict=True)
        )
    if isinstance(s_bar, tuple | list | dict):
        return 0.0
    return unbroadcast(s_bar, g)


def structured_like_bar_bar(t_bar, s_bar, g):
    """Adjoint of t = structured_like_bar(s̄, g) with respect to s̄: t̄ in s̄'s structure, each
    leaf broadcast to the shape of s̄'s (the transpose of summing down to g's); for an s̄ that
    is one array of stacked elements, an array of its shape. Where s̄ or t̄ is a Python number
    in place of a container, it is the runtime zero: nothing flows."""
    if isinstance(g, tuple | list | dict):
        if _is_number(s_bar) or _is_number(t_bar):
            return 0.0
        if isinstance(g, dict):
            return {
                key: structured_like_bar_bar(t_bar.get(key, 0.0), s_bar[key], part)
                for key, part in g.items()
                if key in s_bar
            }
        parts = [
            structured_like_bar_bar(part_bar, s_part, part)
            for part_bar, s_part, part in zip(t_bar, s_bar, g, strict=True)
        ]
        return stacked_like(parts, s_bar)
    if isinstance(s_bar, tuple | list | dict):
        return 0.0
    return broadcast_like(t_bar, s_bar)


def in_order(xs):
    """``xs``, which a loop walks by position (``xs[0]``, ``xs[1]``, ...): refused when it
    runs if it is a dict, whose keys the loop takes (by position, its values would be read as
    keys), which overbar did not know when it compiled (a helper's or a method's result)."""
    if isinstance(xs, dict):
        raise OverbarError(
            "overbar cannot differentiate a loop over a dict whose keys were not known when "
            "the gradient was compiled (a value a helper or a method returned): loop over "
            "list(d), d.keys() or d.items() made into a list first, or pass the dict in as an "
            "argument"
        )
    return xs


def entry_bar(d_bar, key):
    """Adjoint of the value under ``key`` in d = {..., key: v, ...}: v̄ = d̄[key], where d̄,
    the adjoint of a dict, holds it (a key missing from d̄, or d̄ the runtime zero: 0.0)."""
    if _is_runtime_zero(d_bar):
        return 0.0
    return d_bar.get(key, 0.0)


def item_bar(y_bar, xs, index):
    """Adjoint of y = xs[index] for a tuple or list xs: a tuple holding ȳ where xs[index] was
    (ȳ's elements, for a slice) and the runtime zero 0.0 everywhere else; for a dict xs, the
    dict {index: ȳ} (a key missing from a dict's adjoint is a zero)."""
    if isinstance(xs, dict):  # a dict's adjoint holds the keys a gradient reached
        return {index: y_bar}
    parts = [0.0] * len(xs)
    if not isinstance(index, slice):
        parts[index] = y_bar
    elif not _is_runtime_zero(y_bar):
        for position, part in zip(range(*index.indices(len(xs))), y_bar, strict=True):
            parts[position] = part
    return tuple(parts)


def joined_bar(z_bar, a, b):
    """Adjoint of z = a + b for tuples or lists a and b, which Python joins: (ā, b̄), z̄
    split after a's ``len(a)`` elements (slices of z̄: tuples, or rows of an adjoint a NumPy
    rule gave as one stacked array). For z̄ the runtime zero, tuples of runtime zeros. Refused
    where a or b is not a tuple or list: NumPy then added elementwise."""
    _check_sequences("+", a, b)
    if _is_runtime_zero(z_bar):
        return (0.0,) * len(a), (0.0,) * len(b)
    return z_bar[: len(a)], z_bar[len(a) :]


def repeated_bar(z_bar, xs, count):
    """Adjoint of z = xs * count (or count * xs) for a tuple or list xs and an integer count,
    which Python repeats: x̄ₖ = Σᵣ z̄[r·len(xs) + k], the pieces of z̄ added element by element
    (``_add_adjoints``: an element may be the runtime zero, or a nested tuple's adjoint). A
    count below 1 made z empty: x̄ holds runtime zeros. Refused where count is not an integer:
    NumPy then multiplied elementwise."""
    _check_sequences("*", xs)
    try:
        times = operator.index(count)
    except TypeError:
        raise OverbarError(
            f"overbar differentiated {type(xs).__name__} * {type(count).__name__} as Python's "
            "repetition of a tuple or list, but the count is not an integer (NumPy multiplied "
            "elementwise): convert the tuple or list with np.array first"
        ) from None
    parts = [0.0] * len(xs)
    if _is_runtime_zero(z_bar):
        return tuple(parts)
    for repeat in range(max(times, 0)):
        for position in range(len(xs)):
            parts[position] = _add_adjoints(parts[position], z_bar[repeat * len(xs) + position])
    return tuple(parts)


def _check_sequences(operator_symbol, *operands):
    for operand in operands:
        if not isinstance(operand, tuple | list):
            raise OverbarError(
                f"overbar differentiated {operator_symbol} as Python's join of tuples or lists, "
                f"but an operand is {type(operand).__name__} (NumPy computed elementwise): "
                "convert the tuple or list with np.array first"
            )


class ShapeOnly:
    """What the reverse sweep keeps of a value it only needs the shape of."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __repr__(self) -> str:
        return f"ShapeOnly({self.shape})"


_SHAPES: dict[tuple, ShapeOnly] = {}


def shape_of(x):
    """A stand-in for ``x`` that np.shape, np.ndim and np.size see as x (one per shape); for
    another library's array, the array itself: an adjoint made from the stand-in (zeros, a
    number broadcast) is made in x's library, which a NumPy shape would not say (CuPy refuses
    to mix NumPy's arrays with its own; a Dask array is a node of a graph, held anyway)."""
    if is_foreign_array(x):
        return x
    shape = _shape(x)
    stand_in = _SHAPES.get(shape)
    if stand_in is None:
        stand_in = _SHAPES[shape] = ShapeOnly(shape)
    return stand_in


def as_floating(a):
    """``1.0 * a``, which is ``a`` itself where ``a`` is an array of floating point (or
    complex) numbers: multiplying by one is exact and keeps such a dtype, so the copy is not
    made. The generated code calls it only where no one reads the result but arithmetic and
    reductions, which make new arrays (``copies.py``): sharing ``a``'s memory is then unseen.
    An integer or boolean ``a`` is multiplied, as ``1.0 * a`` would be (a new float array)."""
    dtype = getattr(a, "dtype", None)
    if dtype is not None and dtype.kind in "fc" and getattr(a, "ndim", 0) > 0:
        return a
    return 1.0 * a


def shape_like(x, dims):
    """A stand-in for a value of shape ``dims`` in ``x``'s library, as ``shape_of`` makes one:
    the reverse sweep reads it where it needs only a shape it computes from its parameters'
    (``x.shape[1:]`` for a row of ``x``). For another library's array, an empty array of that
    shape in ``x``'s library (an adjoint made from it is made there)."""
    dims = tuple(dims)
    if is_foreign_array(x):
        return np.empty_like(x, shape=dims)
    stand_in = _SHAPES.get(dims)
    if stand_in is None:
        stand_in = _SHAPES[dims] = ShapeOnly(dims)
    return stand_in


def saved_region(y, index):
    """A copy of ``y[index]``, saved before a write of a differentiated value overwrites it;
    for a list ``y``, the element itself (the write replaces it, changing no array)."""
    if type(y) is list:
        return y[index]
    floating_target(y)
    return np.copy(y[index])


def floating_target(y):
    """Refuse a write of a differentiated value into ``y`` unless ``y`` holds floats (or is
    a list, whose element the write replaces)."""
    if type(y) is list:
        return
    if y.dtype.kind != "f":
        raise OverbarError(
            f"a differentiated value is written into an array of dtype {y.dtype}, which "
            "rounds or truncates it; create the array with a float dtype"
        )


def of_float_result(value, y):
    """``value``, once the array ``y`` a fill made (np.full, np.full_like) is known to hold
    floats: refuse an integer or boolean ``y``, which rounded or truncated the fill value (its
    derivative is then zero almost everywhere, not the fill's)."""
    if np.result_type(y).kind not in "fc":
        raise OverbarError(
            f"a differentiated fill value went into an array of dtype {np.result_type(y)}, "
            "which rounds or truncates it; make the array with a float dtype"
        )
    return value


def take_and_zero(g, index):
    """For a write y[index] = v: (ȳ[index], ȳ with zeros at index), leaving ȳ as it was;
    for a list y, whose adjoint is a tuple, the runtime zero 0.0 at that element."""
    if _is_runtime_zero(g):
        return 0.0, 0.0
    if type(g) is tuple:
        parts = list(g)
        part, parts[index] = parts[index], 0.0
        return part, tuple(parts)
    if not _is_basic_index(index):
        _check_distinct(index)
    part = np.copy(g[index])
    rest = np.copy(g)
    rest[index] = 0
    return part, rest


def _check_distinct(index) -> None:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        array = np.asarray(part)
        if array.dtype.kind in "iu" and np.unique(array).size != array.size:
            raise OverbarError(
                "a write through an index array that repeats an index keeps only the last "
                "value, whose gradient overbar does not derive; write each element once"
            )


def listed(g, xs):
    """A list's adjoint as a Python list a reverse loop updates in place (``add_item``,
    ``.pop()``); the runtime zero becomes a zero per element of ``xs``. A vector of float64
    numbers gives Python floats (``tolist``: the same values), which multiply an array about a
    third faster than NumPy's scalars do when they come first in a product."""
    if _is_runtime_zero(g):
        return [0.0] * len(xs)
    if type(g) is np.ndarray and g.ndim == 1 and g.dtype == np.float64:
        return g.tolist()
    return list(g)


def add_item(g, index, y_bar):
    """``g[index] += ȳ`` for a list's adjoint held as a Python list (``listed``): in place,
    the runtime zero adding nothing, nested tuples element by element."""
    g[index] = _add_adjoints(g[index], y_bar)


def split_last(g):
    """The adjoint of a list split into (its last element's, the rest): undoing an append."""
    if _is_runtime_zero(g):
        return 0.0, 0.0
    return g[-1], g[:-1]


def sum_bars(y_bar, xs):
    """Adjoints of each element of ``xs`` for y = sum(xs): ȳ summed to each one's shape. For
    an array, whose elements are its rows, the adjoint is an array: ȳ summed to a row's
    shape, in every row."""
    if hasattr(xs, "shape") and hasattr(xs, "dtype"):
        if is_foreign_array(xs):
            return np.zeros_like(xs, dtype=np.result_type(xs.dtype, 1.0)) + unbroadcast(
                y_bar, xs[0]
            )
        xs_bar = np.zeros(xs.shape, dtype=np.result_type(xs, y_bar, 1.0))
        if len(xs):
            xs_bar += unbroadcast(y_bar, xs[0])
        return xs_bar
    return tuple(unbroadcast(y_bar, x) for x in xs)


def _shape(x):
    kind = type(x)
    if kind is np.ndarray:
        return x.shape
    if kind is float or kind is np.float64:
        return ()
    return arrays.shape(x)


def unbroadcast(g, x):
    """Sum ``g`` (shaped like a broadcast result) down to the shape of the operand ``x``.

    ``x``'s shape must broadcast to ``g``'s (``g`` is the adjoint of a result ``x`` took part
    in). A ``g`` smaller than ``x`` is an adjoint rule's or a rewrite's mistake, which
    summing could not make right: it is raised as one, not returned with the wrong shape."""
    shape = _shape(x)
    g_shape = _shape(g)
    if g_shape == shape:
        return g
    leading = len(g_shape) - len(shape)
    if leading < 0 or any(
        size != 1 and size != g_shape[leading + i] for i, size in enumerate(shape)
    ):
        raise InternalError(
            f"an adjoint of shape {tuple(g_shape)} cannot be summed to the shape "
            f"{tuple(shape)} of the value it is the adjoint of (a rule or a rewrite made it "
            "smaller than the result the value took part in)"
        )
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and g_shape[leading + i] != 1
    )
    if type(g) is np.ndarray:
        g = np.add.reduce(g, axis=axes, keepdims=True)
    else:  # np.sum dispatches to another library's array (np.add.reduce does not for Dask)
        g = np.sum(g, axis=axes, keepdims=True)
    return g.reshape(shape) if leading else g


# unbroadcast(g, x) with the axes known when the adjoint is compiled: the compiler inlines these.


def sum_all(g):
    return g.sum()


def sum_leading(g, axis):
    return g.sum(axis=axis)


def sum_keeping(g, axis):
    return g.sum(axis=axis, keepdims=True)


def broadcast_like(g, x):
    """``g`` (a scalar or a reduced adjoint) broadcast to ``x``'s shape, as a new array when
    small (cheaper than a view there) and as a read-only view when large."""
    shape = _shape(x)
    if type(x) is not np.ndarray and is_foreign_array(x):
        if not is_foreign_array(g) and np.ndim(g) == 0:
            # made in x's library, chunked like x: a NumPy view would be copied into every task
            return np.full_like(x, g, dtype=np.result_type(x.dtype, g, 1.0))
    elif np.ndim(g) == 0 and math.prod(shape) <= 4096 and not is_foreign_array(g):
        # x's float dtype when g is a Python number (the seed 1.0): float32 stays float32
        dtype = np.result_type(g, x, 1.0) if isinstance(x, np.ndarray) else np.result_type(g, 1.0)
        out = np.empty(shape, dtype=dtype)
        out.fill(g)
        return out
    return np.broadcast_to(g, shape)


def broadcast_tangent(t, z):
    """The tangent term ``t`` (of an operand NumPy may have broadcast) broadcast to the shape of
    the output ``z``: a read-only view where it is smaller, ``t`` itself where it is not.

    Forward mode's counterpart of ``unbroadcast``. A tangent rule wraps in it only a term that
    is an elementwise function of one operand's tangent and of operands (so the term is shaped
    at least like that operand); the generator drops it where shapes say the operand has the
    output's shape, or where a term of the same line has that shape.
    """
    shape = np.shape(z)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


def zero_tangent(x):
    """The tangent of a value that does not depend on the differentiated inputs but is read
    where tangents are (an element of a list, a name before a loop makes it vary): zeros shaped
    like ``x``, of its float dtype; a tuple or list of them for a tuple or list."""
    if isinstance(x, tuple):
        return tuple(zero_tangent(element) for element in x)
    if isinstance(x, list):
        return [zero_tangent(element) for element in x]
    if isinstance(x, np.ndarray):
        dtype = x.dtype if x.dtype.kind in "fc" else np.result_type(x.dtype, 1.0)
        return np.zeros(x.shape, dtype=dtype)
    return 0.0


def transposed(t, axes):
    """``t.transpose(*axes)`` for the axes a ``.transpose(...)`` call was given (none, a tuple,
    or the axes one by one), also where ``t`` is a Python number."""
    if len(axes) == 1 and isinstance(axes[0], tuple | list):
        axes = axes[0]
    return np.transpose(t, axes or None)


def _normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral):
        axis = (axis,)
    return tuple(int(a) % ndim if ndim else int(a) for a in axis)


def expand_reduced(y_bar, x, axis=None, keepdims=False):
    """Broadcast the adjoint of a reduction of ``x`` over ``axis`` back to ``x``'s shape. (A
    0-d ``x`` reduced over its axis 0 or -1, as NumPy allows, stays 0-d: no axis to insert.)"""
    shape = _shape(x)
    if axis is not None and not keepdims and shape:
        y_bar = np.expand_dims(y_bar, _normalize_axes(axis, len(shape)))
    return broadcast_like(y_bar, x)


def reduced_count(x, y):
    """How many elements of ``x`` were reduced into each element of ``y``."""
    return arrays.size(x) // max(arrays.size(y), 1)


def extremum_bar(y_bar, y, x, axis=None, keepdims=False):
    """Adjoint of max/min: ȳ goes to the elements equal to the extremum, ties share it."""
    y_full = expand_reduced(y, x, axis, keepdims)
    winners = x == y_full
    count = np.sum(winners, axis=axis, keepdims=True)
    return expand_reduced(y_bar, x, axis, keepdims) * winners / count


def prod_bar(y_bar, x, axis=None, keepdims=False):
    """Adjoint of prod: ȳ times the product of all *other* elements (exact with zeros)."""
    x = x if is_array(x) else np.asarray(x)
    if arrays.size(x) == 0:  # no elements, no products of others: an empty adjoint
        return expand_reduced(y_bar, x, axis, keepdims) * x
    axes = _normalize_axes(axis, x.ndim) if x.ndim else ()  # a 0-d x: its one element
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    ones = np.ones_like(flat, shape=flat.shape[:-1] + (1,))  # in flat's library
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (before * after).reshape(moved.shape)
    others = np.transpose(others, np.argsort(kept + list(axes)).tolist())
    return expand_reduced(y_bar, x, axis, keepdims) * others


def unsort(y_bar, x, axis=-1):
    """Adjoint of sort(x, axis): each element of ȳ goes back where its value came from."""
    if is_foreign_array(x) or is_foreign_array(y_bar):
        return _foreign_unsort(y_bar, x, axis)
    if axis is None:
        order = np.argsort(np.ravel(x))
        x_bar = np.empty(np.size(x), dtype=np.result_type(y_bar, 1.0))
        x_bar[order] = np.ravel(y_bar)
        return x_bar.reshape(np.shape(x))
    order = np.argsort(x, axis=axis)
    x_bar = np.empty(np.shape(x), dtype=np.result_type(y_bar, 1.0))
    np.put_along_axis(x_bar, order, y_bar, axis=axis)
    return x_bar


def cumsum_bar(y_bar, x, axis=None):
    """Adjoint of cumsum: the reversed cumulative sum of ȳ, shaped like ``x``."""
    if axis is None:
        flat = np.ravel(y_bar)
        return np.reshape(np.cumsum(flat[::-1])[::-1], np.shape(x))
    reversed_ = np.flip(y_bar, axis)
    return np.flip(np.cumsum(reversed_, axis=axis), axis)


def _as_column(v):
    return np.expand_dims(v, -1)


def matmul_left_bar(z_bar, x, y):
    """For z = x @ y, the adjoint of x: z̄ yᵀ, with NumPy's rules for vectors and stacks."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 == y.ndim:
        return z_bar @ y.T
    x_ndim, y_ndim = arrays.ndim(x), arrays.ndim(y)
    if x_ndim == 1 and y_ndim == 1:
        return z_bar * y
    if x_ndim == 1:
        y = y if is_array(y) else np.asarray(y)
        return unbroadcast(np.squeeze(y @ _as_column(z_bar), -1), x)
    if y_ndim == 1:
        return unbroadcast(_as_column(z_bar) * y, x)
    return unbroadcast(z_bar @ np.swapaxes(y, -1, -2), x)


def matmul_right_bar(z_bar, x, y):
    """For z = x @ y, the adjoint of y: xᵀ z̄, with NumPy's rules for vectors and stacks."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 == y.ndim:
        return x.T @ z_bar
    x_ndim, y_ndim = arrays.ndim(x), arrays.ndim(y)
    if x_ndim == 1 and y_ndim == 1:
        return z_bar * x
    if x_ndim == 1:
        return unbroadcast(_as_column(x) * np.expand_dims(z_bar, -2), y)
    if y_ndim == 1:
        return unbroadcast(np.sum(np.swapaxes(x, -1, -2) @ _as_column(z_bar), axis=-1), y)
    return unbroadcast(np.swapaxes(x, -1, -2) @ z_bar, y)


def untranspose(y_bar, axes):
    """Adjoint of transpose(x, axes): transpose ȳ by the inverse permutation."""
    if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
        axes = axes[0]
    if axes is None or len(axes) == 0:
        return np.transpose(y_bar)
    return np.transpose(y_bar, np.argsort(axes).tolist())


def split_like(y_bar, xs, axis=0):
    """Adjoint of concatenate(xs, axis): ȳ cut into pieces shaped like each of ``xs`` (for an
    array ``xs``, whose rows were joined: the pieces stacked back into its shape). A piece of
    one dimension fewer than ȳ (a number joined by np.hstack, a vector by np.vstack: made
    one element long along ``axis`` by the join) takes that one element, ȳ[..., start]."""
    if axis is None:
        sizes = [arrays.size(x) for x in xs]
        pieces = np.split(np.ravel(y_bar), np.cumsum(sizes)[:-1])
        pieces = [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs, strict=True)]
    else:  # slices, which every array library takes (np.split does not dispatch to Dask)
        rank = np.ndim(y_bar)
        index = [slice(None)] * rank
        pieces, start = [], 0
        for x in xs:
            if np.ndim(x) == rank - 1:
                index[axis] = start
                start += 1
            else:
                stop = start + np.shape(x)[axis]
                index[axis] = slice(start, stop)
                start = stop
            pieces.append(y_bar[tuple(index)])
    return as_rows_of(pieces, xs)


def unstack(y_bar, xs, axis=0):
    """Adjoint of stack(xs, axis): the slices of ȳ along ``axis`` (for an array ``xs``, whose
    rows were stacked: ȳ with that axis moved first, an array shaped like ``xs``)."""
    return as_rows_of(np.moveaxis(y_bar, axis, 0), xs)


def as_rows_of(pieces, xs):
    """The adjoints ``pieces`` of the elements of ``xs``, as the adjoint of ``xs``: a tuple for
    a tuple or list, an array shaped like it for an array (a function that joins arrays takes an
    array's rows as its arrays)."""
    if isinstance(xs, np.ndarray):
        if len(pieces) == 0:
            return np.zeros(xs.shape, dtype=np.result_type(xs, 1.0))
        return np.reshape(np.stack([np.asarray(p) for p in pieces]), xs.shape)
    return tuple(pieces)


def _foreign_unsort(y_bar, x, axis):
    """``unsort`` in another library's arrays: ȳ read at each element's rank, the inverse of
    the sorting permutation (the argsort of the argsort), found by the library's own argsort.
    Dask has none (NumPy would compute the array): refused there."""
    if library_name(x).startswith("dask.") or library_name(y_bar).startswith("dask."):
        raise OverbarError(
            "the gradient of np.sort of a Dask array is not derived: Dask has no sort or "
            "argsort, so the permutation would be computed; compute the array first "
            "(x.compute()) and pass the NumPy array"
        )
    if axis is None:
        return np.reshape(_foreign_unsort(np.reshape(y_bar, (-1,)), np.ravel(x), 0), x.shape)
    if not is_foreign_array(y_bar):
        y_bar = like(np.broadcast_to(y_bar, x.shape), x)
    rank = np.argsort(np.argsort(x, axis=axis), axis=axis)
    return np.take_along_axis(y_bar, rank, axis=axis)


def index_bar(y_bar, x, index):
    """Adjoint of x[index]: zeros shaped like x with ȳ added at ``index`` (repeats add up)."""
    if is_foreign_array(x) or is_foreign_array(y_bar):
        return _foreign_index_bar(y_bar, x, index)
    x_bar = np.zeros(np.shape(x), dtype=np.result_type(y_bar, 1.0))
    if _is_basic_index(index):
        x_bar[index] = y_bar
    else:
        np.add.at(x_bar, index, y_bar)
    return x_bar


def _foreign_index_bar(y_bar, x, index):
    """``index_bar`` in another library's arrays: zeros like ``x`` with ȳ written at a basic
    index (Dask writes by building a new graph); an index array, whose repeats must add up,
    is refused there (``np.add.at`` has no dispatch)."""
    if not _is_basic_index(index):
        raise OverbarError(
            "the adjoint of indexing a Dask or CuPy array with an index array is not derived "
            "(np.add.at does not dispatch to it); index with integers and slices"
        )
    like = x if is_foreign_array(x) else y_bar
    dtype = np.result_type(like.dtype, getattr(y_bar, "dtype", float), 1.0)
    x_bar = np.zeros_like(like, dtype=dtype, shape=_shape(x))
    x_bar[index] = y_bar
    return x_bar


def own(g, x):
    """A fresh writable array holding the adjoint ``g`` of ``x`` (zeros for the runtime zero)."""
    if _is_runtime_zero(g):
        return zero_gradient(x) if is_array(x) else np.zeros(np.shape(x))
    if is_foreign_array(g):
        return g.astype(np.result_type(g.dtype, 1.0), copy=True)
    return np.array(g, dtype=np.result_type(g, 1.0), copy=True)


def copy_of(x):
    """A fresh copy of the list or array ``x`` (anything else as it is): what a vjp's pullback
    changes in place, saved so that each call of it starts from the forward sweep's values."""
    if isinstance(x, list | np.ndarray):
        return x.copy()
    return x


def write_back(x, saved):
    """``x`` given the values ``saved`` (a ``copy_of`` it) in place: views of it see them."""
    if isinstance(x, np.ndarray):
        x[...] = saved
    elif isinstance(x, list):
        x[:] = saved


def add_at(acc, index, g):
    """``acc[index] += g`` in place, repeated indices adding up (for an ``acc`` owned by the
    reverse loop calling it)."""
    if _is_basic_index(index):
        acc[index] += g
    else:
        np.add.at(acc, index, g)


def take_in_place(g, index):
    """``take_and_zero`` for an adjoint array the reverse loop owns: zero ``g[index]`` in place
    and return a copy of what it held."""
    if not _is_basic_index(index):
        _check_distinct(index)
    part = np.copy(g[index])
    g[index] = 0
    return part


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        part is None
        or part is Ellipsis
        or isinstance(part, slice)
        or (isinstance(part, numbers.Integral) and not isinstance(part, bool))
        for part in parts
    )


def _describe_value(y) -> str:
    if is_foreign_array(y):
        return f"a {arrays.library_name(y)} of shape {y.shape}"
    if isinstance(y, np.ndarray):
        return f"an array of shape {y.shape}"
    if isinstance(y, (tuple, list)):
        return f"a {type(y).__name__} of length {len(y)}"
    return f"a value of type {type(y).__name__}"


_DIFFERENTIABLE_KINDS = frozenset("fiu")


_FLOAT64 = np.dtype(np.float64)


def is_differentiable_input(value) -> bool:
    """Whether ``value`` is something overbar can differentiate with respect to."""
    kind = type(value)
    if kind is np.ndarray:
        dtype = value.dtype
        return dtype is _FLOAT64 or dtype.kind in _DIFFERENTIABLE_KINDS
    if is_foreign_array(value):  # Dask, CuPy: floats, with a shape known without computing
        return value.dtype.kind == "f" and not arrays.unknown_shape(value)
    if kind is float or kind is np.float64:
        return True
    if is_object_of_attributes(value):
        return True
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, (bool, np.ndarray))


def is_object_of_attributes(value) -> bool:
    """An instance of a user's class (a model), differentiated through the attributes the
    function reads (``self.W``): its gradient is a dict of theirs, by attribute name. One
    whose class defines ``__call__`` as a plain function is one too (``cell(h)`` runs that
    method); other callables (functions, methods, ufuncs) are not."""
    return (
        hasattr(value, "__dict__")
        and not isinstance(
            value, type | types.ModuleType | types.FunctionType | types.MethodType | np.ndarray
        )
        and (not callable(value) or _called_as_a_method(value))
    )


def _called_as_a_method(value) -> bool:
    """An object whose class defines ``__call__`` as a plain function of the user's (not
    NumPy's, SciPy's or overbar's)."""
    found = inspect.getattr_static(type(value), "__call__", None)
    module = getattr(found, "__module__", None) or ""
    return isinstance(found, types.FunctionType) and module.split(".")[0] not in (
        "numpy",
        "scipy",
        "overbar",
    )


def describe_input(value) -> str:
    """A short description of an argument, for error messages."""
    if is_foreign_array(value):
        known = "" if not arrays.unknown_shape(value) else f", shape {value.shape} not known"
        return f"a {arrays.library_name(value)} of dtype {value.dtype}{known}"
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}" + (
            "" if type(value) is np.ndarray else f" (subclass {type(value).__name__})"
        )
    return f"a {type(value).__name__}"


def stacked_rows(rows):
    """The arrays a loop's steps collected, as one array with the steps along its first axis
    where they are NumPy arrays of one shape (so that the sums below read one array, stacked
    once however many of them read it), the list itself otherwise (a runtime zero among them,
    shapes that differ, another library's arrays, no step)."""
    if len(rows) and _stackable(rows, arrays.ndim(rows[0])):
        return np.array(rows)
    return rows


def _as_stacked(rows, ndim):
    """The rows, arrays of one shape and ``ndim`` dimensions, stacked (as they are where
    ``stacked_rows`` stacked them already); None where they are not such arrays."""
    if isinstance(rows, np.ndarray):
        return rows if rows.ndim == ndim + 1 else None
    return np.array(rows) if _stackable(rows, ndim) else None


def _joined(rows, axis):
    """The steps' matrices joined along ``axis`` (stacked ones along the first: a view), or
    None where they are not matrices that agree on the other axis."""
    if isinstance(rows, np.ndarray):
        if rows.ndim != 3:
            return None
        if axis == 0:
            return rows.reshape(-1, rows.shape[2])
        rows = list(rows)
    return np.concatenate(rows, axis=axis) if _joinable(rows, axis) else None


def _listed(rows):
    """Stacked rows as the list of their rows (views, the values collected); a list as it is."""
    return list(rows) if isinstance(rows, np.ndarray) else rows


def sum_of_outers(a_rows, b_rows):
    """Σₜ outer(aₜ, bₜ): one product of the stacked vectors where they are vectors of one shape
    each (``Aᵀ B``), the outer products added one by one otherwise; 0.0 for none."""
    if not len(a_rows):
        return 0.0
    a, b = _as_stacked(a_rows, 1), _as_stacked(b_rows, 1)
    if a is not None and b is not None:
        return a.T @ b
    a_rows, b_rows = _listed(a_rows), _listed(b_rows)
    return _added(np.outer(a, b) for a, b in zip(a_rows, b_rows, strict=True))


def sum_of_values(rows):
    """Σₜ aₜ: one sum over the stacked arrays where they are arrays of one shape, added one by
    one otherwise; 0.0 for none."""
    if not len(rows):
        return 0.0
    if isinstance(rows, np.ndarray):
        return np.sum(rows, axis=0)
    if _stackable(rows, rows[0].ndim if isinstance(rows[0], np.ndarray) else -1):
        return np.sum(rows, axis=0)
    return _added(rows)


def sum_of_sums(rows, axis=None, keepdims=False):
    """Σₜ Σ_axis aₜ, the steps' sums ``aₜ.sum(axis=axis, keepdims=keepdims)`` added: one sum
    over the stacked arrays where they are NumPy arrays of one shape and ``axis`` names each of
    their axes once (the steps' axis is summed with the others), the steps' sums added one by
    one otherwise (an axis out of range then raises as the step's sum would); 0.0 for none."""
    if not len(rows):
        return 0.0
    if isinstance(rows, np.ndarray):
        stacked, axes = rows, _axes_within(axis, rows.ndim - 1)
    else:
        first = rows[0]
        alike = isinstance(first, np.ndarray) and _stackable(rows, first.ndim)
        axes = _axes_within(axis, first.ndim) if alike else None
        stacked = np.array(rows) if axes is not None else None
    if axes is not None:
        if keepdims:
            return np.sum(stacked, axis=0).sum(axis=axes, keepdims=True)
        return np.sum(stacked, axis=(0, *(a + 1 for a in axes)))
    return _added(r.sum(axis=axis, keepdims=keepdims) for r in _listed(rows))


def _axes_within(axis, ndim):
    """``axis`` (None, a number or a tuple of them) as a tuple of distinct axes in
    ``range(ndim)``, or None where one is out of range, repeated or not an integer."""
    if axis is None:
        return tuple(range(ndim))
    parts = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in parts):
        return None
    if not all(-ndim <= a < ndim for a in parts):
        return None
    axes = tuple(int(a) % ndim for a in parts)
    return axes if len(set(axes)) == len(axes) else None


def sum_of_scaled(scale_rows, array_rows):
    """Σₜ sₜ aₜ: one product of the numbers and the stacked arrays where the aₜ are arrays of
    one shape and the sₜ numbers, the products added one by one otherwise; 0.0 for none."""
    if not len(scale_rows):
        return 0.0
    scale_rows, array_rows = _listed(scale_rows), _listed(array_rows)
    first = array_rows[0]
    if (
        _all_numbers(scale_rows)
        or all(arrays.ndim(s) == 0 for s in scale_rows)
        and not any(is_foreign_array(s) for s in scale_rows)  # lazy numbers stay lazy
    ) and _stackable(array_rows, arrays.ndim(first)):
        scales = np.asarray(scale_rows, dtype=np.result_type(first, scale_rows[0]))
        return np.tensordot(scales, np.array(array_rows), axes=1)
    return _added(s * a for s, a in zip(scale_rows, array_rows, strict=True))


def sum_of_products(a_rows, b_rows, transposed):
    """Σₜ aₜ bₜᵀ (``transposed="b"``) or Σₜ aₜᵀ bₜ (``"a"``): one product of the matrices side
    by side (or stacked) where they are matrices that fit, one by one otherwise; 0.0 for none."""
    if not len(a_rows):
        return 0.0
    axis = 1 if transposed == "b" else 0
    a = _joined(a_rows, axis)
    b = _joined(b_rows, axis) if a is not None else None
    if b is not None:
        return a @ b.T if transposed == "b" else a.T @ b
    a_rows, b_rows = _listed(a_rows), _listed(b_rows)
    if transposed == "b":
        return _added(a @ b.T for a, b in zip(a_rows, b_rows, strict=True))
    return _added(a.T @ b for a, b in zip(a_rows, b_rows, strict=True))


def sum_of_inner(a_rows, b_rows):
    """Σₜ Σᵢ (aₜ ∘ bₜ)ᵢ, the steps' inner products (``(a * b).sum()``) added: one product of
    the stacked arrays where the aₜ are arrays of one shape, the bₜ too, of one rank (so that
    each row of the stacked product is its step's ``aₜ * bₜ``, broadcast alike), the inner
    products added one by one otherwise; 0.0 for none."""
    if not len(a_rows):
        return 0.0
    first = a_rows[0]
    ndim = first.ndim if isinstance(first, np.ndarray) else -1
    a = _as_stacked(a_rows, ndim) if ndim >= 0 else None
    b = _as_stacked(b_rows, ndim) if a is not None else None
    if b is not None:
        return np.sum(a * b)
    a_rows, b_rows = _listed(a_rows), _listed(b_rows)
    return _added((a * b).sum() for a, b in zip(a_rows, b_rows, strict=True))


def _stackable(rows, ndim):
    """NumPy arrays of one shape and ``ndim`` dimensions (another library's arrays are added
    one by one: ``np.array`` of a list of them would make them NumPy arrays)."""
    first = rows[0]
    if not (isinstance(first, np.ndarray) and first.ndim == ndim):
        return False
    if set(map(type, rows)) == {np.ndarray}:  # the common case, checked without a Python loop
        return len(set(map(_SHAPE, rows))) == 1
    return all(isinstance(r, np.ndarray) and r.shape == first.shape for r in rows)


_SHAPE = operator.attrgetter("shape")
# Python's and NumPy's real numbers: a row of them is a number, never a lazy array
_SCALAR_TYPES = frozenset({float, int, np.float64, np.float32, np.float16, np.int64, np.int32})


def _all_numbers(values) -> bool:
    """Whether every one of ``values`` is a Python or NumPy real number, checked by type
    without a Python loop (a 0-d array, another library's number: not so found)."""
    return set(map(type, values)) <= _SCALAR_TYPES


def _joinable(rows, axis):
    """Matrices that agree on every axis but ``axis``."""
    first = rows[0]
    if not (isinstance(first, np.ndarray) and first.ndim == 2):
        return False
    kept = first.shape[1 - axis]
    return all(
        isinstance(r, np.ndarray) and r.ndim == 2 and r.shape[1 - axis] == kept for r in rows
    )


def _added(terms):
    total = 0.0
    for term in terms:
        total = total + term
    return total


_WRITE_IN_PLACE = frozenset(
    {np.put, np.place, np.putmask, np.copyto, np.fill_diagonal, np.put_along_axis}
)


def is_elementwise(function):
    """Whether ``function`` is a NumPy ufunc of one output applied element by element (not a
    generalised ufunc such as ``np.matmul``)."""
    return isinstance(function, np.ufunc) and function.nout == 1 and function.signature is None


def is_pure(function):
    """Whether a call of the NumPy function ``function`` has no effect and gives the same
    result whenever it runs: not a type, not one that writes into an argument, not a draw."""
    if isinstance(function, np.ufunc):
        return True
    module = getattr(function, "__module__", "") or ""
    return (
        callable(function)
        and not isinstance(function, type)
        and function not in _WRITE_IN_PLACE
        and module.startswith("numpy")
        and not module.startswith("numpy.random")
    )
