"""Shape inference: what is known of every local name's shape, given the arguments' shapes.

Invariant established: ``infer(...)[name]`` holds for the value of ``name`` at every point of the
function where it is bound (the analysis is flow-insensitive: it joins the shapes of all the
bindings of a name, iterating to a fixed point through loops). A name absent from the result, or
mapped to ``None``, is not known. The runtime says what each primitive does to shapes
(``runtime.shapes``); this pass only walks the normal form.

The reverse sweep uses the result to pick rules for the ranks at hand (``z̄ @ y.T`` for two
matrices) and to sum broadcast adjoints over axes known now instead of asking at run time.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
from typing import Any

import numpy as np

from overbar.errors import OverbarError
from overbar.runtime.interface import Runtime
from overbar.transpiler.constructors import stored_atoms
from overbar.transpiler.fence import check_supported
from overbar.transpiler.kept import cache_of
from overbar.transpiler.lengths import LEAST, Lengths
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.normalize import NormalForm, normalize
from overbar.transpiler.parse import Namespace, parse
from overbar.transpiler.primitive import CONSTANT, IDENTITY, MAP, PACK, application_of, keys_of

Shapes = dict[str, Any]

_UNBOUND_PART = object()  # a slice bound that is not a literal

# The numbers NumPy and math define (np.pi, math.e, ...), by identity: a name bound to one of
# them (``np.pi``, or ``pi`` after ``from math import pi``) reads the module's own float, which
# no program changes, so its shape, a number's, holds at every call.
_LIBRARY_CONSTANTS = {
    id(value)
    for module in (np, math)
    for name in ("pi", "e", "tau", "inf", "nan", "euler_gamma")
    for value in [getattr(module, name, None)]
    if type(value) is float
}


def infer(
    form: NormalForm,
    parameters: Shapes,
    namespace: Namespace,
    runtime: Runtime,
    specialise: bool = True,
    assumed: set | None = None,
) -> Shapes:
    """The shape of every local name that can be known from the parameters' ``shapes``.

    Without ``specialise`` only what the adjoint needs to be right at all is kept, nothing it
    would be specialised on: which values are tuples or lists (their adjoints are tuples).
    Given ``assumed`` (a set), a slice's length may rest on a relation between the
    parameters' lengths that is not proved (``lengths.Lengths.surely_nonnegative``): each
    such relation is added to it, and the shapes hold only for arguments that satisfy them.
    """
    known: Shapes = {
        name: runtime.shapes.named(parameters.get(name), name) for name in form.parameters
    }
    plain = _plain_lists(form)
    fixed = _fixed_lists(form, namespace)
    changed_joins = _changed_joins(form, namespace)
    bindings = [
        (name, value)
        for name, value in _bindings(form.tree.body)
        if not isinstance(value, _Appended) or name in plain
    ]
    lengths = Lengths(form, namespace, runtime, assumed) if specialise else None
    changed = True
    while changed:
        changed = False
        for name, value in bindings:
            shape = _shape_of(value, known, form, namespace, runtime)
            if shape is _BOTTOM:
                continue
            if lengths is not None:
                shape = _with_lengths(lengths, name, value, shape, known, runtime)
            if isinstance(value, ast.List) and name in fixed:  # never changed: a tuple's
                shape = _as_fixed(value, known, form, runtime)
            elif isinstance(value, ast.List) and name not in plain:  # changed unseen
                shape = runtime.shapes.Sequence()
            elif name in changed_joins and isinstance(shape, runtime.shapes.Sequence):
                shape = changed_joins[name](shape)
            if shape is _BOTTOM:
                continue
            if name not in known:
                known[name] = shape
                changed = True
            else:
                joined = runtime.shapes.join(known[name], shape)
                if joined != known[name]:
                    known[name] = joined
                    changed = True
    if not specialise:
        known = {name: _sequence_only(shape, runtime) for name, shape in known.items()}
    return {name: shape for name, shape in known.items() if shape is not None}


def _with_lengths(
    lengths: Lengths, name: str, value: Any, shape: Any, known: Shapes, runtime: Runtime
) -> Any:
    """``shape`` with what ``lengths`` adds: a slice's length where its bounds are not
    literals, an integer's value as a form of lengths (``lengths.py``)."""
    reader = lengths.statement_of.get(id(value))
    if reader is None:
        return shape
    if isinstance(value, ast.Subscript) and (shape is None or isinstance(shape, tuple)):
        sliced = lengths.slice_length(value, reader, known)
        if sliced is not None and (shape is None or len(shape) == len(sliced)):
            return sliced if shape is None else runtime.shapes.dims_like(shape, sliced)
    if shape == runtime.shapes.INTEGER:
        integer = lengths.integer(name, value, known)
        if integer is not None:
            return integer
    if isinstance(shape, tuple) and any(_short_of_origin(size, runtime) for size in shape):
        where = (_where_it_runs(size, reader, lengths, known, runtime) for size in shape)
        return runtime.shapes.dims_like(shape, where)
    return shape


def _short_of_origin(size: Any, runtime: Runtime) -> tuple[Any, int] | None:
    """(the origin, a parameter's dimension, and the least length it must have) where
    ``size``'s length is a function of that origin's by a table (``runtime.shapes.
    length_table``) that gives the origin's own length at every length from that least one
    on, the least no more than ``lengths.LEAST`` (``u[:1]``, ``u[1:-1]`` and ``u[-1:]``
    joined: 0; a number, ``u[1:-1]`` and a number: 1); None for any other size."""
    table = runtime.shapes.length_table(size)
    if table is None or not isinstance(size, runtime.shapes.Size):
        return None
    origin, lengths = table
    if not (isinstance(size.origin, tuple) and size.origin[0] == "slice"):
        return None  # a dimension's own length, a constant: nothing to learn
    if not (isinstance(origin, tuple) and len(origin) == 2):
        return None
    pairs = zip(runtime.shapes.LENGTHS, lengths, strict=True)
    differing = [n for n, t in pairs if t is not None and t != n]
    least = max(differing, default=-1) + 1
    return (origin, least) if 0 < least <= LEAST else None


def _where_it_runs(size: Any, reader: ast.stmt, lengths: Lengths, known: Shapes, runtime) -> Any:
    """``size``, a function of a parameter's dimension's length by a table that gives that
    dimension's own length at every length from a least one on, as that length itself where
    the facts before ``reader`` prove the dimension at least that long (``u[0]`` read before:
    at least 1). ``u[0]``, ``u[1:-1]`` and ``u[-1]`` joined are as long as ``u``.

    Identity: a value made where ``reader`` runs exists only at the lengths the statements
    that surely ran before it allow (each would have raised otherwise), so what its length
    would be at any other length of the dimension is never seen. Side conditions: the least
    length is proved by ``Lengths.least_length`` (only sizes cut so are asked: the proof walks
    the statements before ``reader``)."""
    short = _short_of_origin(size, runtime)
    if short is None:
        return size
    origin, least = short
    if lengths.least_length(origin, reader, known, least) < least:
        return size
    return runtime.shapes.from_length(size, least)


def _sequence_only(shape: Any, runtime: Runtime) -> Any:
    """What ``shape`` says of tuples and lists and of objects' classes, nothing of arrays."""
    if isinstance(shape, runtime.shapes.Instance):  # its class, its objects' classes
        return runtime.shapes.classes_only(shape)
    if not isinstance(shape, runtime.shapes.Sequence):
        return None
    if shape.elements is None:
        return shape
    elements = tuple(_sequence_only(element, runtime) for element in shape.elements)
    return runtime.shapes.Sequence(shape.length, elements, keys=shape.keys, mapping=shape.mapping)


_BOTTOM = object()  # not yet known to be bound to anything


class _LoopElement:
    """The binding of a for loop's target: an element of the iterable."""

    def __init__(self, iterable: ast.expr):
        self.iterable = iterable


class _Unpacked:
    """The binding of an element of ``a, b = value``: the element at ``position``."""

    def __init__(self, value: ast.expr, position: int):
        self.value, self.position = value, position


class _Appended:
    """``name.append(value)``: the list ``name`` holds one more element, ``value``."""

    def __init__(self, value: ast.expr):
        self.value = value


def _bindings(statements: list[ast.stmt]):
    for statement in statements:
        if isinstance(statement, ast.Assign):
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                yield target.id, statement.value
            elif isinstance(target, ast.Tuple) and all(
                isinstance(element, ast.Name) for element in target.elts
            ):
                for position, element in enumerate(target.elts):
                    yield element.id, _Unpacked(statement.value, position)
            elif isinstance(target, ast.Tuple):
                for element in walk_breadth_first(target):
                    if isinstance(element, ast.Name):
                        yield element.id, None
        elif isinstance(statement, ast.For):
            if isinstance(statement.target, ast.Name):
                yield statement.target.id, _LoopElement(statement.iter)
            else:
                for element in walk_breadth_first(statement.target):
                    if isinstance(element, ast.Name):
                        yield element.id, None
            yield from _bindings(statement.body)
        elif _is_append(statement):
            yield statement.value.func.value.id, _Appended(statement.value.args[0])
        elif isinstance(statement, ast.While | ast.If):
            yield from _bindings(statement.body)
            yield from _bindings(statement.orelse)


def _plain_lists(form: NormalForm) -> set[str]:
    """The names bound only to list displays and used only by appends, reads of elements,
    ``len`` and loops: what their elements have in common is what the displays and the appended
    values have in common (no alias, write or other method changes them unseen)."""
    bound: dict[str, bool] = {}
    allowed: set[int] = set()
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    listed = isinstance(node.value, ast.List)
                    bound[target.id] = bound.get(target.id, True) and listed
                    allowed.add(id(target))
        elif isinstance(node, ast.Expr) and _is_append(node):
            allowed.add(id(node.value.func.value))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            allowed.add(id(node.value))
        elif isinstance(node, ast.For):
            allowed.add(id(node.iter))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and len(node.args) == 1
        ):
            allowed.add(id(node.args[0]))
    plain = {name for name, listed in bound.items() if listed and name not in form.parameters}
    if not plain:  # no list display bound: nothing to look for in a second walk
        return plain
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Name) and node.id in plain and id(node) not in allowed:
            plain.discard(node.id)
    return plain


def _fixed_lists(form: NormalForm, namespace: Namespace) -> set[str]:
    """The names bound only to list displays and read only as an argument of a library
    function (``np.concatenate([x, h], axis=1)``, ``np.stack``, ``len``), an element, a
    loop's iterable, or an operand of an operator (``xs + [y]``, a new list): no append,
    write, alias or method changes such a list, so each binding holds the display's elements
    as they were made, as a tuple would."""
    bound: dict[str, bool] = {}
    allowed: set[int] = set()
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    listed = isinstance(node.value, ast.List)
                    bound[target.id] = bound.get(target.id, True) and listed
                    allowed.add(id(target))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            allowed.add(id(node.value))
        elif isinstance(node, ast.For):
            allowed.add(id(node.iter))
        elif isinstance(node, ast.Call) and _is_library_function(node.func, form, namespace):
            allowed.update(id(argument) for argument in node.args)
        elif isinstance(node, ast.BinOp):  # xs + [y], xs * 2: a new list, xs unchanged
            allowed.update((id(node.left), id(node.right)))
    fixed = {name for name, listed in bound.items() if listed and name not in form.parameters}
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Name) and node.id in fixed and id(node) not in allowed:
            fixed.discard(node.id)
    return fixed


def _changed_joins(form: NormalForm, namespace: Namespace) -> dict[str, Any]:
    """The names bound to a join or repetition of tuples or lists (``hs = [h0] * T``, ``zs = xs
    + ys``: a new list, in Python) that a later line may change, each with what is still known
    of its shape then: written by index only (``hs[t] = v``), its length but not its elements'
    shapes; read in any other way than by indexing, ``len``, a library function, a loop or a
    further join (appended to, passed to a helper, aliased), nothing but that it is a list."""
    joins = {
        node.targets[0].id
        for node in walk_breadth_first(form.tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Add | ast.Mult)
    }
    if not joins:
        return {}
    allowed: set[int] = set()
    written: set[int] = set()
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    allowed.add(id(target))
                elif isinstance(target, ast.Subscript):
                    written.add(id(target.value))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            allowed.add(id(node.value))
        elif isinstance(node, ast.For):
            allowed.add(id(node.iter))
        elif isinstance(node, ast.BinOp):
            allowed.update((id(node.left), id(node.right)))
        elif isinstance(node, ast.Call) and _is_library_function(node.func, form, namespace):
            allowed.update(id(argument) for argument in node.args)
    changed: dict[str, Any] = {}
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Name) and node.id in joins and id(node) not in allowed:
            if id(node) in written and changed.get(node.id) is not _unknown_list:
                changed[node.id] = _elements_unknown
            else:
                changed[node.id] = _unknown_list
    return changed


def _elements_unknown(shape: Any) -> Any:
    return type(shape)(shape.length)


def _unknown_list(shape: Any) -> Any:
    return type(shape)()


def _is_library_function(called: ast.expr, form: NormalForm, namespace: Namespace) -> bool:
    """Whether ``called`` names a function of a library (NumPy's, math's, a builtin): one
    that reads a list it is given without changing or keeping it (a function of the user's
    may append to it)."""
    if isinstance(called, ast.Name) and called.id in form.local_names:
        return False
    if not isinstance(called, ast.Name | ast.Attribute):
        return False
    function = namespace.resolve(called)
    module = getattr(function, "__module__", None) or ""
    library = module.split(".")[0] in ("numpy", "math", "builtins", "_operator")
    return library and callable(function) and not isinstance(function, type)


def _as_fixed(value: ast.List, known: Shapes, form: NormalForm, runtime: Runtime) -> Any:
    """The shape of a list display that nothing changes: its length and its elements'."""
    elements = [_operand(atom, known, form, runtime) for atom in value.elts]
    if any(element is _BOTTOM for element in elements):
        return _BOTTOM
    built = runtime.shapes.tuple_of(tuple(element.shape for element in elements))
    common = runtime.shapes.NO_ELEMENT
    for element in elements:
        common = (
            element.shape
            if common == runtime.shapes.NO_ELEMENT
            else runtime.shapes.join(common, element.shape)
        )
    return runtime.shapes.Sequence(built.length, built.elements, common)


def _is_append(statement: ast.stmt) -> bool:
    call = statement.value if isinstance(statement, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name)
        and len(call.args) == 1
        and not call.keywords
    )


def shape_of_value(value: ast.expr, known: Shapes, form, namespace, runtime: Runtime) -> Any:
    """What ``known`` tells of the shape of the normal-form expression ``value`` (None: not
    known), e.g. of ``u[1:-1]``, the region a write replaces."""
    shape = _shape_of(value, known, form, namespace, runtime)
    return None if shape is _BOTTOM else shape


def _shape_of(value: Any, known: Shapes, form, namespace, runtime: Runtime) -> Any:
    if value is None:
        return None
    if isinstance(value, _Appended):
        element = _operand(value.value, known, form, runtime, namespace)
        return _BOTTOM if element is _BOTTOM else runtime.shapes.Sequence(element=element.shape)
    if isinstance(value, _Unpacked):  # a tuple's element where known, else an array's row
        source = _operand(value.value, known, form, runtime, namespace)
        if source is _BOTTOM:
            return _BOTTOM
        shape = source.shape
        if isinstance(shape, runtime.shapes.Sequence) and shape.elements is not None:
            in_range = value.position < len(shape.elements)
            return shape.elements[value.position] if in_range else None
        if isinstance(shape, runtime.shapes.Sequence):
            return runtime.shapes.element_shape(shape)
        return runtime.shapes.row_shape(shape)
    if isinstance(value, _LoopElement):
        iterable = _operand(value.iterable, known, form, runtime, namespace)
        return _BOTTOM if iterable is _BOTTOM else runtime.shapes.element_shape(iterable.shape)
    application = application_of(value, form, namespace)
    if application.primal is CONSTANT:
        return _operand(value, known, form, runtime, namespace).shape
    if application.primal is MAP:  # a dict display: its literal keys and its values' shapes
        elements = [
            _operand(atom, known, form, runtime, namespace) for atom in application.positional
        ]
        if any(element is _BOTTOM for element in elements):
            return _BOTTOM
        shapes = tuple(element.shape for element in elements)
        keys = keys_of(application)
        if keys is None:  # keys known only when it runs, some perhaps the same
            return runtime.shapes.Sequence(mapping=True)
        return runtime.shapes.Sequence(len(shapes), shapes, keys=keys, mapping=True)
    if application.primal is PACK:  # a list's length and elements change with appends
        elements = [_operand(atom, known, form, runtime, namespace) for atom in value.elts]
        if any(element is _BOTTOM for element in elements):
            return _BOTTOM
        shapes = [element.shape for element in elements]
        common = runtime.shapes.NO_ELEMENT
        for shape in shapes:
            common = (
                shape
                if common == runtime.shapes.NO_ELEMENT
                else runtime.shapes.join(common, shape)
            )
        if isinstance(value, ast.List):
            return runtime.shapes.Sequence(element=common)
        built = runtime.shapes.tuple_of(tuple(shapes))
        return runtime.shapes.Sequence(built.length, built.elements, common)
    operands = []
    for atom in application.positional:
        operand = _operand(atom, known, form, runtime, namespace)
        if operand is _BOTTOM:
            return _BOTTOM
        operands.append(operand)
    keywords = {}
    for key, atom in application.keywords:
        operand = _operand(atom, known, form, runtime, namespace)
        if operand is _BOTTOM:
            return _BOTTOM
        keywords[key] = operand
    if application.primal is IDENTITY:
        return operands[0].shape
    stored = stored_atoms(application)
    if stored is not None:  # cell = Cell(W, U, b): an object of that class (constructors.py)
        sequences = frozenset(
            attribute
            for attribute, atom in stored
            if isinstance(_operand(atom, known, form, runtime).shape, runtime.shapes.Sequence)
        )
        return runtime.shapes.Instance(application.primal, sequences)
    shape = runtime.shapes.infer_shape(application.primal, tuple(operands), keywords)
    if shape is None and inspect.isfunction(application.primal):
        shape = _returned_shape(application.primal, operands, keywords, runtime)
    return shape


_INSIDE: dict = {}  # functions being inferred right now: their _Recursion
_FORM = "normal form for shapes"  # the key of (parsed, form) in what is kept of a function
_MOST_ROUNDS = 6  # rounds of a recursive function's inference before its result is unknown


class _Recursion:
    """What a recursive call of a function being inferred returns: the current ``estimate``
    of its result's shape (``_BOTTOM`` at first: bound to nothing yet), for the shapes its
    outermost call was ``given``; ``other`` once a recursive call passes other shapes."""

    def __init__(self, given: dict):
        self.given, self.estimate, self.other, self.met = given, _BOTTOM, False, False


def _returned_shape(function, operands: list, keywords: dict, runtime: Runtime) -> Any:
    """The shape a call of the user's own ``function`` (a helper, or one with its own adjoint
    rule, like ``sigmoid``) returns: its body inferred for these arguments.

    A recursive function's, to a fixed point: its recursive calls return nothing at first
    (``_BOTTOM``: the lines they bind are left out, so only the branches that do not recurse
    bind the result), then the shape the previous round gave the result, until a round gives
    the same shape again (Kleene iteration: the least fixed point, since ``join`` only grows).
    Identity: the shape holds of every level of a recursion that ends, by induction on its
    depth (the deepest level takes a branch that does not recurse). Side conditions: every
    recursive call passes arguments of the shapes the outermost call was given (else the
    estimate is of other calls: unknown); a round limit (``_MOST_ROUNDS``), then unknown."""
    if (function.__module__ or "").startswith("numpy"):
        return None
    try:
        bound = inspect.signature(function).bind(*operands, **keywords)
    except (TypeError, ValueError):
        return None
    inside = _INSIDE.get(function)
    if inside is not None:  # a recursive call: the current estimate, for the same shapes
        inside.met = True
        shapes = {name: getattr(o, "shape", None) for name, o in bound.arguments.items()}
        if shapes != inside.given:
            inside.other = True
            return None
        return inside.estimate
    kept = cache_of(function)
    if _FORM not in kept:
        try:
            parsed = parse(function)
            # only what overbar reads: the normaliser expects the fence's checks to have run
            check_supported(parsed, runtime.array_makers, runtime.copying_functions)
            kept[_FORM] = (parsed, normalize(parsed))
        except (TypeError, ValueError, OSError, SyntaxError, OverbarError):
            kept[_FORM] = None  # not a function overbar can read: not known
    if kept[_FORM] is None:
        return None
    parsed, form = kept[_FORM]
    returned = form.tree.body[-1]
    if not (isinstance(returned, ast.Return) and isinstance(returned.value, ast.Name)):
        return None
    marker = object()  # the helper's own names for its arguments' unnamed lengths
    given = {
        name: _marked(getattr(operand, "shape", None), marker, name, runtime)
        for name, operand in bound.arguments.items()  # *args and **kwargs: not known
    }
    recursion = _INSIDE[function] = _Recursion(given)
    try:
        for _ in range(_MOST_ROUNDS):
            known = infer(form, given, parsed.namespace, runtime)
            shape = known.get(returned.value.id)
            if not recursion.met or shape is None:
                break  # no recursion (one round is all), or nothing known of the result
            if recursion.other:
                shape = None
                break
            if shape == recursion.estimate:
                break
            recursion.estimate, recursion.met = shape, False
        else:
            shape = None
    finally:
        del _INSIDE[function]
    return _unmarked(shape, marker, runtime)


def _marked(shape: Any, marker: object, name: str, runtime: Runtime) -> Any:
    """An argument's shape with each length of no known origin named for this call alone
    (inference would name it after the helper's parameter, a name the caller's own
    parameters may have: lengths of one name are taken to be equal)."""
    facts = runtime.shapes
    if not isinstance(shape, tuple):
        return shape
    return facts.dims_like(
        shape,
        (
            (
                facts.Size((marker, name, axis), True)
                if facts.is_many(size) and size.origin is None
                else size
            )
            for axis, size in enumerate(shape)
        ),
    )


def _unmarked(shape: Any, marker: object, runtime: Runtime) -> Any:
    """``shape`` with the lengths ``_marked`` named (and slices of them) unnamed again: their
    names mean nothing outside the call."""
    facts = runtime.shapes

    def size_of(size: Any) -> Any:
        origin = size.origin if isinstance(size, facts.Size) else None
        if isinstance(origin, tuple) and origin and origin[0] == "slice":
            origin = origin[1]
        if isinstance(origin, tuple) and origin and origin[0] is marker:
            return facts.MANY if size.many else None
        return size

    if isinstance(shape, tuple):
        return facts.dims_like(shape, (size_of(size) for size in shape))
    if isinstance(shape, facts.Sequence) and shape.elements is not None:
        elements = tuple(_unmarked(element, marker, runtime) for element in shape.elements)
        return facts.Sequence(
            shape.length,
            elements,
            _unmarked(shape.element, marker, runtime),
            shape.keys,
            shape.mapping,
        )
    if isinstance(shape, facts.Sequence):
        return facts.Sequence(
            shape.length,
            None,
            _unmarked(shape.element, marker, runtime),
            shape.keys,
            shape.mapping,
        )
    if isinstance(shape, facts.Count):
        return facts.Count(size_of(shape.size))
    if isinstance(shape, facts.Sizes) and shape.dims is not None:
        return facts.Sizes(_unmarked(shape.dims, marker, runtime))
    return shape


def _operand(
    atom: ast.expr,
    known: Shapes,
    form: NormalForm,
    runtime: Runtime,
    namespace: Namespace | None = None,
) -> Any:
    make = runtime.shapes.Operand
    if isinstance(atom, ast.Name) and atom.id in form.local_names:
        return make(known[atom.id]) if atom.id in known else _BOTTOM
    if isinstance(atom, ast.Name) and atom.id in known:
        return make(known[atom.id])
    if namespace is not None and _is_library_constant(atom, form, namespace):
        return make(())  # np.pi, math.e, ...: a number
    if isinstance(atom, ast.Name):
        return make(None)
    if isinstance(atom, ast.Constant):
        return runtime.shapes.constant_operand(atom.value)
    if (
        isinstance(atom, ast.UnaryOp)
        and isinstance(atom.op, ast.USub)
        and isinstance(atom.operand, ast.Constant)
        and isinstance(atom.operand.value, int | float)
    ):
        return runtime.shapes.constant_operand(-atom.operand.value)
    if isinstance(atom, ast.Tuple | ast.List):
        parts = [_operand(element, known, form, runtime) for element in atom.elts]
        if any(part is _BOTTOM for part in parts):
            return _BOTTOM
        shape = runtime.shapes.tuple_of(tuple(part.shape for part in parts))
        if isinstance(atom, ast.List):  # its elements' shapes, for the call it is made for;
            return make(shape)  # not a constant: as an index it picks elements, not axes
        return make(shape, tuple(parts), True)
    if (
        isinstance(atom, ast.Call)
        and isinstance(atom.func, ast.Name)
        and atom.func.id not in form.local_names
        and not atom.keywords
    ):  # slice(...) in an index
        bounds = [a.value if isinstance(a, ast.Constant) else _UNBOUND_PART for a in atom.args]
        return make(None, builtins.slice(*bounds), True)
    return make(None)


def _is_library_constant(atom: ast.expr, form: NormalForm, namespace: Namespace) -> bool:
    """Whether ``atom`` (``np.pi``, ``math.e``, ``pi``; not a local name) reads one of the
    numbers NumPy and math define (``_LIBRARY_CONSTANTS``)."""
    if isinstance(atom, ast.Name) and atom.id in form.local_names:
        return False
    if not isinstance(atom, ast.Name | ast.Attribute):
        return False
    return is_library_constant(namespace.resolve(atom))


def is_library_constant(value: Any) -> bool:
    """Whether ``value`` is one of the numbers NumPy and math define (``np.pi``, ``math.e``)."""
    return id(value) in _LIBRARY_CONSTANTS
