"""The state the parts of the sweep share: names, bindings, shapes and adjoint bookkeeping.

One ``SweepState`` per differentiated function. It hands out fresh names (``bar(x)`` is the
adjoint of ``x``, ``temporary()`` a numbered temporary, ``bind(name, value)`` a name under which
the generated code reads a runtime helper), says what is known of shapes (``shape_of``), and
keeps the adjoints' bookkeeping: ``accumulate(x, c)`` writes ``x_bar = c`` for the first
contribution and ``x_bar = x_bar + c`` for later ones, into the reverse-sweep block being
written, element by element for a tuple's adjoint.
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from overbar.errors import UnsupportedSyntaxError
from overbar.primitives import Attribute, Method
from overbar.runtime.interface import Runtime
from overbar.transpiler.activity import Activity
from overbar.transpiler.names import NameAllocator, names_in, statements_breadth_first
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.primitive import application_of
from overbar.transpiler.recursion_depth import COMPILER_NAMES
from overbar.transpiler.shapes import Shapes
from overbar.transpiler.syntax import assign, call, load, store


def seed_parameter(parameters: Sequence[str]) -> str:
    """The keyword a pullback takes its result's adjoint by (a name no parameter has)."""
    name = "result_bar"
    while name in parameters:
        name += "_"
    return name


class SweepState:
    """What the parts of the sweep share: the function, its names, and the adjoints written.

    ``reverse`` is the block of the reverse sweep being written; ``defined`` the names whose
    adjoints have been assigned, ``maybe_zero`` those among them that may hold the runtime zero.
    ``previous`` maps the name an overwritten value was popped into back to its own name.
    """

    def __init__(
        self,
        parsed: ParsedFunction,
        form: NormalForm,
        activity: Activity,
        runtime: Runtime,
        shapes: Shapes | None = None,
    ):
        self.parsed = parsed
        self.form = form
        self.activity = activity
        self.runtime = runtime
        self.shapes = dict(shapes or {})
        self.names = NameAllocator(form.taken_names | _namespace_names(parsed))
        self.adjoint_names: dict[str, str] = {}
        self.defined: set[str] = set()
        self.ever_zero: set[str] = set()  # names whose adjoint may be the runtime zero somewhere
        self._maybe_zero: set[str] = set()
        self.reverse: list[ast.stmt] = []
        self.previous: dict[str, str] = {}
        self.temporaries: set[str] = set(form.temporaries)
        self.sequences = self._with_repetitions(_sequence_names(form, self._known_sequences()))
        # values unpacked (a, b = v) whose kind only the run knows, and objects whose
        # attributes are read (self.W): see ``classify_unpackings``
        self.unpacked: set[str] = set()
        self.objects: dict[str, set[str]] = {}
        self.bindings: dict[str, Any] = {}
        self.binding_names: dict[int, str] = {}
        made = parsed.namespace.made if parsed.namespace is not None else {}
        for name, value in made.items():  # nested functions lifted (nested.py)
            self.names.take(name)
            self.bindings[name] = value
            self.binding_names[id(value)] = name
        read = names_in(form.tree) if parsed.namespace is not None else set()
        for name, value in COMPILER_NAMES.items():  # a recursion's depth check
            if name in read and parsed.namespace.lookup(name) is value:
                self.names.take(name)
                self.bindings[name] = value
                self.binding_names[id(value)] = name
        # The result bound once, whose adjoint is a vjp's cotangent, checked to be whole: the
        # elements of its tuple are arrays, never the runtime zero.
        self.whole_cotangent: str | None = None

    def _with_repetitions(self, sequences: set[str]) -> set[str]:
        """``sequences`` and the names bound to ``xs * n`` (``n * xs``) of a differentiated
        tuple or list ``xs`` and an ``n`` whose kind is not known now (a parameter of an
        adjoint compiled for arguments of any kind): taken for Python's repetition, which
        ``repeated_bar`` checks when it runs (``lines.joins_known_sequences``)."""
        found = set(sequences)
        changed = True
        while changed:
            changed = False
            for node in statements_breadth_first(self.form.tree):
                if not (
                    isinstance(node, ast.Assign)
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id not in found
                    and isinstance(node.value, ast.BinOp)
                    and isinstance(node.value.op, ast.Mult)
                ):
                    continue
                operands = (node.value.left, node.value.right)
                for sequence, count in (operands, operands[::-1]):
                    if (
                        _is_sequence_atom(sequence, found)
                        and self.activity.is_active(sequence)
                        and not self.activity.is_active(count)
                        and self.shape_of(count) is None
                    ):
                        found = _copies_of(self.form, found | {node.targets[0].id})
                        changed = True
                        break
        return found

    def _known_sequences(self) -> set[str]:
        return {name for name, shape in self.shapes.items() if self.is_sequence_shape(shape)}

    def is_object_attribute(self, application: Any) -> bool:
        """``y = v.name`` where ``v`` is known to be an object, or ``name`` is no attribute
        with a rule (``.T``, ``.real``, ...) and ``v`` is not known to be an array or a number:
        an attribute of an object (a model's parameter, ``self.W``), whose adjoint is the
        object's, by name."""
        if not isinstance(application.primal, Attribute):
            return False
        receiver = application.positional[0]
        if not isinstance(receiver, ast.Name):
            return False
        if isinstance(self.shape_of(receiver), self.runtime.shapes.Instance):
            return True  # an object's, whatever its name (a model's size, or its T)
        try:
            found = self.runtime.rules.lookup(application.primal)
        except TypeError:
            found = None
        return found is None and self.runtime.shapes.dims(self.shape_of(receiver)) is None

    def resolved_method(self, application: Any) -> Any:
        """``model.loss(x)`` where ``model`` is known to be an object of a class with a method
        ``loss`` (a plain function): the application of that function to ``model`` and ``x``,
        which gets its pullback as a helper does. ``self.helper(z)`` in a method is found in
        the method's own class already; where the object's class is known, a subclass's
        override is found instead."""
        called = getattr(application.node, "func", None)
        method = self.called_method(application.primal)
        if method is not None and isinstance(called, ast.Name | ast.Attribute):
            # G(h) of a module-level object G: G.__call__(h), checked to be that method
            return replace(
                application, primal=method, positional=(called, *application.positional)
            )
        if not (
            isinstance(called, ast.Attribute)
            and isinstance(called.value, ast.Name)
            and called.value.id in self.form.local_names
            and application.positional[:1] == (called.value,)
        ):
            return application  # neither model.loss(x) nor self.helper(z)
        receiver = application.positional[0]
        shape = self.shape_of(receiver) if isinstance(receiver, ast.Name) else None
        if not isinstance(shape, self.runtime.shapes.Instance):
            return application
        found = inspect.getattr_static(shape.kind, called.attr, None)
        if not isinstance(found, types.FunctionType):
            return application
        return replace(application, primal=found)

    def called_method(self, value: Any) -> Any:
        """The method ``__call__`` (a plain function) of the class of ``value``, an object of
        the user's that a line calls by a global name (``G(h)``) and that has no rule of its
        own; None for anything else (a function, a class, a NumPy ufunc, overbar's own)."""
        if isinstance(value, type | types.FunctionType | types.MethodType | types.ModuleType):
            return None
        found = inspect.getattr_static(type(value), "__call__", None)
        if not isinstance(found, types.FunctionType):
            return None
        if (found.__module__ or "").split(".")[0] == "overbar":  # overbar.grad(f)'s objects
            return None
        try:
            if self.runtime.rules.lookup(value):
                return None
        except TypeError:
            pass
        return found

    def object_attributes(self) -> dict[str, set[str]]:
        """The names whose attributes are read as an object's (``self.W``), each with the
        attributes read, and the receivers of methods called on them (``self.helper(z)``)."""
        found: dict[str, set[str]] = {}
        for node in statements_breadth_first(self.form.tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
                continue
            application = application_of(node.value, self.form, self.parsed.namespace)
            if self.is_object_attribute(application):
                receiver = application.positional[0].id
                found.setdefault(receiver, set()).add(application.primal.name)
            called = getattr(node.value, "func", None)
            if (
                isinstance(called, ast.Attribute)
                and isinstance(called.value, ast.Name)
                and not isinstance(self.resolved_method(application).primal, Method)
            ):
                found.setdefault(called.value.id, set())
        return found

    def classify_unpackings(self, built_as_tuple: Callable[[str], bool]) -> None:
        """Sort the values the function unpacks (``a, b = v``): those ``built_as_tuple`` says
        are tuples join ``sequences`` (their adjoints are tuples); the others, arrays or values
        whose kind only the run knows, and the names they are copied from or to, are
        ``unpacked``: their adjoints are made in the value's own kind when the line runs
        (``unpacked_bar``) and added by ``add_in_kind``. So are the adjoints of ``objects``,
        whose attributes are read (dicts by attribute name)."""
        sources = _unpacked_sources(self.form)
        tuples = {name for name in sources if built_as_tuple(name)}
        self.sequences = self._with_repetitions(
            _sequence_names(self.form, self._known_sequences() | tuples)
        )
        self.objects = self.object_attributes()
        kinds_at_run_time = (sources - self.sequences) | set(self.objects)
        self.unpacked = _copies_of(self.form, kinds_at_run_time) - self.sequences

    @property
    def maybe_zero(self) -> set[str]:
        """The names whose adjoints may hold the runtime zero here (each is kept in
        ``ever_zero`` as well: later passes must not take such an adjoint for an array)."""
        return self._maybe_zero

    @maybe_zero.setter
    def maybe_zero(self, names: set[str]) -> None:
        self.ever_zero |= names
        self._maybe_zero = names

    def snapshot(self) -> tuple:
        """The names and adjoints handed out so far, to undo a dry run of a loop body."""
        return (
            set(self.names.taken),
            dict(self.names.counters),
            dict(self.adjoint_names),
            set(self.temporaries),
            dict(self.bindings),
            dict(self.binding_names),
            dict(self.previous),
        )

    def restore(self, saved: tuple) -> None:
        """Back to what ``snapshot`` saw."""
        (
            self.names.taken,
            self.names.counters,
            self.adjoint_names,
            self.temporaries,
            self.bindings,
            self.binding_names,
            self.previous,
        ) = saved

    # names

    def bar(self, name: str) -> str:
        """The name of the adjoint of ``name`` (``x_bar``, the same at every call)."""
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.names.fresh(f"{name}_bar")
            if name in self.form.temporaries:
                self.temporaries.add(self.adjoint_names[name])
        return self.adjoint_names[name]

    def temporary(self) -> str:
        """A fresh numbered temporary: ``tmp1``, ``tmp2``, ..."""
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        return name

    def bind(self, preferred: str, value: Any) -> str:
        """A name under which the generated code can read ``value``."""
        if id(value) in self.binding_names:
            return self.binding_names[id(value)]
        if (
            preferred not in self.form.local_names
            and self.parsed.namespace is not None
            and self.parsed.namespace.lookup(preferred) is value
        ):
            name = preferred
        else:
            name = self.names.fresh(preferred)
            self.bindings[name] = value
        self.names.take(name)
        self.binding_names[id(value)] = name
        return name

    def adjoint_owner(self, adjoint: str) -> str:
        """The name whose adjoint ``adjoint`` is."""
        return next(name for name, bar in self.adjoint_names.items() if bar == adjoint)

    def unsupported(
        self, statement: ast.stmt, what: str, advice: str = "it is not supported yet"
    ) -> UnsupportedSyntaxError:
        """The refusal of ``what`` in ``statement``, at the user's line."""
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} in {self.form.tree.name}: {advice}",
            self.parsed.location(statement.value),
        )

    # shapes

    def shape_of(self, atom: ast.expr) -> Any:
        """What is known of the shape of ``atom`` (None: nothing)."""
        if isinstance(atom, ast.Name):
            name = self.previous.get(atom.id, atom.id)
            return self.shapes.get(name)
        if isinstance(atom, ast.Constant):
            return self.runtime.shapes.constant_operand(atom.value).shape
        if isinstance(atom, ast.List):  # a display passed to a helper
            return self.runtime.shapes.Sequence()
        if isinstance(atom, ast.Tuple):
            return self.runtime.shapes.tuple_of(tuple(self.shape_of(e) for e in atom.elts))
        return None

    def rank_of(self, atom: ast.expr) -> int | None:
        dims = self.runtime.shapes.dims(self.shape_of(atom))
        return None if dims is None else len(dims)

    def is_sequence_shape(self, shape: Any) -> bool:
        return isinstance(shape, self.runtime.shapes.Sequence)

    def may_turn_complex(self) -> bool:
        """Whether a line may make a complex number of real ones: Python's ``a ** b`` of a
        negative number ``a`` (not an array: NumPy's gives nan) and an exponent not an
        integer (a literal integer, or ``2.0``). The result is then checked to be real
        (``seed``, which refuses a complex one) instead of taken to be."""
        for node in ast.walk(self.form.tree):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)):
                continue
            exponent, base_atom = node.right, node.left
            if isinstance(exponent, ast.Constant) and float(exponent.value).is_integer():
                continue  # x ** 3, x ** 2.0: real for every real x
            if isinstance(base_atom, ast.Constant) and base_atom.value >= 0:
                continue  # 2.0 ** x: real for every real x
            base = self.runtime.shapes.dims(self.shape_of(base_atom))
            if base is None or base == ():
                return True
        return False

    def may_be_truth_value(self, result: ast.expr) -> bool:
        """Whether the function's result ``result`` may be a truth value: a name bound (itself
        or through names it copies) to a comparison, ``and``/``or``/``not``, ``True``/``False``
        or a call of a predicate (``np.allclose``, ``np.any``, ``isinstance``, ...). Its seed is
        then checked (``seed`` refuses a bool) instead of taken to be 1.0, though its shape
        is that of a scalar."""
        bindings: dict[str, list[ast.expr]] = {}
        for node in ast.walk(self.form.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bindings.setdefault(target.id, []).append(node.value)
        seen: set[str] = set()
        pending = [result]
        while pending:
            value = pending.pop()
            if isinstance(value, ast.Name):
                if value.id not in seen:
                    seen.add(value.id)
                    pending.extend(bindings.get(value.id, ()))
            elif _is_truth_value(value):
                return True
        return False

    def sequence_length(self, atom: ast.expr) -> int | None:
        """The number of elements of the tuple or list ``atom``, if it is known now."""
        if isinstance(atom, ast.Tuple | ast.List):
            return len(atom.elts)
        shape = self.shape_of(atom)
        return shape.length if self.is_sequence_shape(shape) else None

    def adjoint_shapes(self) -> Shapes:
        """The shapes known of forward names, and of the adjoints of numbers (an adjoint has
        its value's shape, or is the runtime zero, a number too)."""
        known = dict(self.shapes)
        for name, adjoint in self.adjoint_names.items():
            if self.runtime.shapes.dims(self.shapes.get(name)) == ():
                known[adjoint] = ()
        return known

    # adjoint bookkeeping

    def shaped(self, name: str) -> ast.stmt:
        """``x_bar = adjoint_like(x_bar, x)``: a runtime zero becomes zeros shaped like x."""
        helper = self.bind("adjoint_like", self.runtime.adjoint_like)
        self.maybe_zero.discard(name)
        return assign(self.bar(name), call(helper, load(self.bar(name)), load(name)))

    def accumulate(
        self, argument: ast.expr, contribution: ast.expr, may_be_zero: bool = False
    ) -> None:
        """Add ``contribution`` to the adjoint of ``argument``: of a name, or element by element
        of a display (a literal 0.0 there is a symbolic zero: no code). ``may_be_zero``: it, or
        each element of it, may be the runtime zero."""
        if isinstance(argument, ast.Name):
            self.add_to(argument.id, contribution, may_be_zero)
            return
        if not isinstance(argument, ast.Tuple | ast.List):
            raise UnsupportedSyntaxError(
                f"overbar cannot send a gradient into {ast.unparse(argument)}",
                self.parsed.location(argument),
            )
        if isinstance(contribution, ast.Tuple) and len(contribution.elts) == len(argument.elts):
            parts = contribution.elts
        else:
            names = [self.temporary() for _ in argument.elts]
            target = ast.Tuple(elts=[store(n) for n in names], ctx=ast.Store())
            self.reverse.append(ast.Assign(targets=[target], value=contribution))
            parts = [load(n) for n in names]
        for element, part in zip(argument.elts, parts, strict=True):
            if self.activity.is_active(element) and not _is_literal_zero(part):
                self.accumulate(element, part, may_be_zero)

    def add_to(self, name: str, contribution: ast.expr, may_be_zero: bool = False) -> None:
        """``x_bar = c`` or ``x_bar = x_bar + c``; a tuple's adjoints add element by element.

        ``may_be_zero``: c may be the runtime zero (an element of a tuple's adjoint).
        """
        adjoint = self.bar(name)
        if name in self.defined and name in self.sequences:
            add = self.bind("add_elementwise", self.runtime.add_elementwise)
            contribution = call(add, load(adjoint), contribution)
        elif name in self.defined and name in self.unpacked:
            add = self.bind("add_in_kind", self.runtime.add_in_kind)
            contribution = call(add, load(adjoint), contribution)
        elif name in self.defined:
            contribution = ast.BinOp(left=load(adjoint), op=ast.Add(), right=contribution)
            may_be_zero = may_be_zero and name in self.maybe_zero
        if may_be_zero and name not in self.sequences:
            self.maybe_zero.add(name)
            self.ever_zero.add(name)
        else:
            self.maybe_zero.discard(name)
        self.defined.add(name)
        self.reverse.append(assign(adjoint, contribution))


def _is_sequence_atom(atom: ast.expr, sequences: set[str]) -> bool:
    return isinstance(atom, ast.Tuple | ast.List) or (
        isinstance(atom, ast.Name) and atom.id in sequences
    )


def _is_literal_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 0.0


def _namespace_names(parsed: ParsedFunction) -> set[str]:
    namespace = parsed.namespace
    if namespace is None:
        return set()
    return set(namespace.closure)


def _unpacked_sources(form: NormalForm) -> set[str]:
    """The names the function unpacks: ``v`` in ``a, b = v``."""
    return {
        node.value.id
        for node in statements_breadth_first(form.tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Tuple)
        and isinstance(node.value, ast.Name)
    }


def _sequence_names(form: NormalForm, known: set[str]) -> set[str]:
    """Names bound to tuples or lists: those ``known`` to be (shape inference sees tuples your
    helpers return, the sweep sees the tuples you unpack), by a display, or by assignment from
    such a name; and dicts, read by a literal string key (``layer["W"]``). Their adjoints are
    tuples or dicts, added element by element."""
    sequences: set[str] = set(known)
    assignments = [n for n in statements_breadth_first(form.tree) if isinstance(n, ast.Assign)]
    for node in assignments:
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Tuple | ast.List | ast.Dict):
            sequences.add(target.id)
        if (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Name)
            and isinstance(value.slice, ast.Constant)
            and isinstance(value.slice.value, str)
        ):
            sequences.add(value.value.id)
    return _copies_of(form, sequences)


def _copies_of(form: NormalForm, names: set[str]) -> set[str]:
    """``names`` and every name copied from or into one of them (``a = b``), transitively."""
    sequences = set(names)
    if not sequences:  # nothing to copy from or into
        return sequences
    assignments = [n for n in statements_breadth_first(form.tree) if isinstance(n, ast.Assign)]
    changed = True
    while changed:
        size = len(sequences)
        for node in assignments:
            target, value = node.targets[0], node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Name)
                and (value.id in sequences or target.id in sequences)
            ):
                sequences.update({target.id, value.id})
        changed = len(sequences) != size
    return sequences


_PREDICATES = frozenset(
    {
        "allclose",
        "isclose",
        "array_equal",
        "array_equiv",
        "any",
        "all",
        "isfinite",
        "isnan",
        "isinf",
        "isposinf",
        "isneginf",
        "signbit",
        "iscomplex",
        "isreal",
        "isin",
        "logical_and",
        "logical_or",
        "logical_not",
        "logical_xor",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "equal",
        "not_equal",
        "isinstance",
        "callable",
        "bool",
    }
)


def _is_truth_value(value: ast.expr) -> bool:
    """``value`` makes a truth value: a comparison, a boolean operation, a bool constant or a
    call of a predicate."""
    if isinstance(value, ast.Compare | ast.BoolOp):
        return True
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
        return True
    if isinstance(value, ast.Constant) and isinstance(value.value, bool):
        return True
    if isinstance(value, ast.Call):
        function = value.func
        name = (
            function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        )
        return name in _PREDICATES
    return False
