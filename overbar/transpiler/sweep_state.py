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
from collections.abc import Sequence
from typing import Any

from overbar.errors import UnsupportedSyntaxError
from overbar.runtime.interface import Runtime
from overbar.transpiler.activity import Activity
from overbar.transpiler.names import NameAllocator
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import ParsedFunction
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
        self.sequences = _sequence_names(
            form, {name for name, shape in self.shapes.items() if self.is_sequence_shape(shape)}
        )
        self.bindings: dict[str, Any] = {}
        self.binding_names: dict[int, str] = {}
        # The result bound once, whose adjoint is a vjp's cotangent, checked to be whole: the
        # elements of its tuple are arrays, never the runtime zero.
        self.whole_cotangent: str | None = None

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


def _is_literal_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 0.0


def _namespace_names(parsed: ParsedFunction) -> set[str]:
    namespace = parsed.namespace
    if namespace is None:
        return set()
    return set(namespace.closure)


def _sequence_names(form: NormalForm, known: set[str]) -> set[str]:
    """Names bound to tuples or lists: those ``known`` to be (shape inference sees tuples your
    helpers return), by a display, as the source of an unpacking, or by assignment from such a
    name. Their adjoints are tuples, added element by element."""
    sequences: set[str] = set(known)
    assignments = [n for n in ast.walk(form.tree) if isinstance(n, ast.Assign)]
    for node in assignments:
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Tuple | ast.List):
            sequences.add(target.id)
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Name):
            sequences.add(value.id)
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
