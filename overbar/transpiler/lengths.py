"""Integers as linear forms over the parameters' dimension lengths and loop indices, for
shape inference: the length of a slice whose bounds are not literals (``x[k : k + m]``) and of
an array made with a length computed from others (``np.zeros(len(x) - len(w) + 1)``).

A form is a sum ``c₀ + Σ cᵢ sᵢ`` with integer coefficients over symbols: the length of a
parameter's dimension (``len(x)``, ``x.shape[0]``: at least 0), and the index of a ``for``
loop over ``range(a, b)`` (between ``a`` and ``b − 1`` wherever the loop's body runs). A name
has the form of the expression it is bound to where that is sure to be the value it holds
when it is read: it is bound once in the function, by a plain assignment, and read later in
the same block (or in a block inside it), so in the same pass through the loops around it;
a loop's index is a symbol only inside that loop's body. Forms with a loop's index name no
length (a length must mean one value everywhere); they serve to prove bounds, e.g. that
``0 ≤ k`` and ``k + m ≤ len(x)`` for ``k`` in ``range(len(w))`` and ``m = len(x) − len(w) + 1``.

Identity used (``slice_length``): ``x[s:e]`` along a dimension of length ``N`` has
``max(0, e − s)`` elements when ``0 ≤ s``, ``0 ≤ e`` and ``e ≤ N`` (NumPy clips bounds beyond
the ends and reads negative ones from the end: these rule both out). Side conditions: step
absent or 1; each bound's form is known and the three inequalities are proved by replacing
each loop index by the end of its range that makes the form smallest and each length by 0.
An array made with a length ``n`` (``np.zeros(n)``) has ``n`` elements where it is made (a
negative ``n`` raises): ``max(0, n)`` too, so both are the length named ``max(0, form)``.

Facts that help the proofs (``facts``): a statement that surely ran before the one read (it
comes before it, or before a statement holding it, in a block that holds it) and would have
raised otherwise: ``np.zeros(n)`` says ``n ≥ 0``, ``x[c]`` for a literal ``c`` says
``len(x) ≥ c + 1`` (or ``≥ −c`` for a negative ``c``), a convolution or correlation that its
operands have an element each (a full one of n and m elements has n + m − 1). A form is
≥ 0 if it is so with nothing, or once one fact is taken from it (``f = fact + rest`` with
``rest`` ≥ 0). Statements inside a nested function are not followed (it runs when called,
and has names of its own); a name stored anywhere else too (a nested function, a
comprehension, ``global`` or ``nonlocal``) has no form.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from typing import Any

from overbar.transpiler.names import walk
from overbar.transpiler.parse import MISSING
from overbar.transpiler.primitive import application_of

Form = dict[Any, int]  # symbol -> coefficient; the key 1 holds the constant

_DEEPEST = 24  # forms of names read through more bindings than this are not followed
LEAST = 4  # the least length of a dimension a statement needs is proved up to this


class Lengths:
    """The forms of a normal form's integers, read at the statement that reads them."""

    def __init__(self, normal_form: Any, namespace: Any, runtime: Any, assumed: set | None = None):
        tree, local_names = normal_form.tree, normal_form.local_names
        # where not None: the relations between the parameters' lengths a slice's bounds were
        # taken to satisfy, unproved (each a form's key, assumed ≥ 0), which the adjoint
        # checks at its entry (``pipeline.guarded``)
        self.assumed = assumed
        self.normal_form, self.namespace = normal_form, namespace
        self.runtime = runtime
        # ``range`` is the builtin where the function neither binds nor sees another
        self.builtin_range = "range" not in local_names and namespace.lookup("range") in (
            builtins.range,
            MISSING,
        )
        self.place: dict[int, tuple[list, int]] = {}  # statement -> (its block, its position)
        self.inside: dict[int, list[ast.stmt]] = {}  # statement -> the statements around it
        self.statement_of: dict[int, ast.stmt] = {}  # a bound value -> its assignment
        self.bound: dict[str, list[ast.stmt]] = {}
        self.parameters = {a.arg for a in tree.args.args + tree.args.kwonlyargs}
        # every place that stores a name, nested functions and comprehensions included; a name
        # declared global or nonlocal anywhere may change unseen: counted as stored twice
        self.stores: Counter = Counter()
        for node in walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                self.stores[node.id] += 1
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    self.stores[name] += 2
        self._walk(tree.body, [])

    def bound_once(self, name: str) -> ast.stmt | None:
        """The one statement that binds ``name``, where nothing else stores it."""
        bindings = self.bound.get(name, [])
        if len(bindings) != 1 or self.stores[name] != 1 or name in self.parameters:
            return None
        return bindings[0]

    def _walk(self, block: list[ast.stmt], around: list[ast.stmt]) -> None:
        for position, statement in enumerate(block):
            self.place[id(statement)] = (block, position)
            self.inside[id(statement)] = around
            if isinstance(statement, ast.Assign):
                self.statement_of[id(statement.value)] = statement
                for target in statement.targets:
                    for node in walk(target):
                        if isinstance(node, ast.Name):
                            self.bound.setdefault(node.id, []).append(statement)
            elif isinstance(statement, ast.For):
                for node in walk(statement.target):
                    if isinstance(node, ast.Name):
                        self.bound.setdefault(node.id, []).append(statement)
            elif not isinstance(statement, ast.If | ast.While | ast.Expr | ast.Return):
                for node in walk(statement):  # anything else that binds: not followed
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        self.bound.setdefault(node.id, []).extend([statement, statement])
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                # a nested function runs when called, with its own names: not followed
                self.bound.setdefault(statement.name, []).extend([statement, statement])
                continue
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    self._walk(inner, [*around, statement])

    # -- forms ---------------------------------------------------------------------------------

    def form(self, atom: ast.expr, reader: ast.stmt, known: dict, depth: int = 0) -> Form | None:
        """The form of the integer ``atom`` as ``reader`` reads it, or None."""
        if depth > _DEEPEST:
            return None
        if isinstance(atom, ast.Constant):
            value = atom.value
            return {1: value} if type(value) is int else None
        if isinstance(atom, ast.UnaryOp) and isinstance(atom.op, ast.USub):
            inner = self.form(atom.operand, reader, known, depth + 1)
            return None if inner is None else _scaled(inner, -1)
        if isinstance(atom, ast.BinOp):
            left = self.form(atom.left, reader, known, depth + 1)
            right = self.form(atom.right, reader, known, depth + 1)
            if left is None or right is None:
                return None
            if isinstance(atom.op, ast.Add):
                return _added(left, right)
            if isinstance(atom.op, ast.Sub):
                return _added(left, _scaled(right, -1))
            if isinstance(atom.op, ast.Mult) and set(left) <= {1}:
                return _scaled(right, left.get(1, 0))
            if isinstance(atom.op, ast.Mult) and set(right) <= {1}:
                return _scaled(left, right.get(1, 0))
            return None
        if not isinstance(atom, ast.Name):
            return None
        length = self.length_form(known.get(atom.id))
        if length is not None:
            return length
        binding = self.bound_once(atom.id)
        if binding is None:
            return None
        if isinstance(binding, ast.For):
            if binding in self.inside.get(id(reader), ()) and self.loop_range(binding, known):
                return {("index", atom.id): 1}
            return None
        if not (isinstance(binding, ast.Assign) and self.read_after(binding, reader)):
            return None
        return self.form(binding.value, binding, known, depth + 1)

    def length_form(self, shape: Any) -> Form | None:
        """The form of an integer of shape ``shape`` known to be a dimension's length."""
        facts = self.runtime.shapes
        if isinstance(shape, facts.Count):
            return self.size_form(shape.size)
        if isinstance(shape, facts.Integer):
            return dict(shape.key)
        return None

    def size_form(self, size: Any) -> Form | None:
        """The form of a dimension's length: 1, a constant, or a parameter's length."""
        facts = self.runtime.shapes
        if size == 1:
            return {1: 1}
        origin = size.origin if isinstance(size, facts.Size) else None
        if isinstance(origin, tuple) and len(origin) == 4 and origin[:2] == ("convolved", "full"):
            # a full convolution or correlation of n and m elements (neither empty: NumPy
            # raises) has n + m − 1
            parts = [self.size_form(part) for part in origin[2:]]
            if None in parts:
                return None
            return _added(_added(parts[0], parts[1]), {1: -1})
        if not isinstance(origin, tuple) or len(origin) != 2:
            return None
        if origin[0] == "constant" and type(origin[1]) is int:
            return {1: origin[1]}
        if origin[0] in self.parameters and type(origin[1]) is int:
            return {("length", origin): 1}
        return None

    def read_after(self, binding: ast.stmt, reader: ast.stmt) -> bool:
        """Whether ``reader`` runs after ``binding`` in the same pass through ``binding``'s
        block: it is that block's later statement, or inside one."""
        block, position = self.place[id(binding)]
        current = reader
        for enclosing in [*reversed(self.inside.get(id(reader), [])), None]:
            here = self.place.get(id(current))
            if here is not None and here[0] is block:
                return here[1] > position
            if enclosing is None:
                return False
            current = enclosing
        return False

    def loop_range(self, loop: ast.For, known: dict) -> tuple[Form, Form] | None:
        """The first and last index of ``for k in r`` with ``r = range(...)`` bound once
        before the loop (bounds of lengths and constants; a positive literal step)."""
        if not (isinstance(loop.iter, ast.Name) and not loop.orelse):
            return None
        binding = self.bound_once(loop.iter.id)
        if not isinstance(binding, ast.Assign):
            return None
        made = binding.value
        if not (
            self.read_after(binding, loop)
            and isinstance(made, ast.Call)
            and isinstance(made.func, ast.Name)
            and made.func.id == "range"
            and self.builtin_range
            and not made.keywords
            and 1 <= len(made.args) <= 3
        ):
            return None
        if len(made.args) == 3:
            step = made.args[2]
            if not (isinstance(step, ast.Constant) and type(step.value) is int and step.value > 0):
                return None
        arguments = made.args[:2] if len(made.args) > 1 else [ast.Constant(0), made.args[0]]
        forms = [self.form(a, binding, known) for a in arguments]
        if any(f is None or any(_is_index(s) for s in f) for f in forms):
            return None
        return forms[0], _added(forms[1], {1: -1})

    # -- proofs --------------------------------------------------------------------------------

    def facts(self, reader: ast.stmt, known: dict) -> list[Form]:
        """Forms known to be ≥ 0 where ``reader`` runs, from the statements that surely ran
        before it (those before it, or before a statement around it, in each block that holds
        it): an array made with a length (``np.zeros(n)``: a negative n raises) and an element
        read at a literal position (``w[0]``: len(w) ≥ 1, else IndexError)."""
        found = []
        current = reader
        for enclosing in [*reversed(self.inside.get(id(reader), [])), None]:
            block, position = self.place[id(current)]
            for statement in block[:position]:
                found.extend(self.facts_of(statement, known))
            if enclosing is None:
                break
            current = enclosing
        return found  # not kept: ``known`` grows less precise from one round to the next

    def facts_of(self, statement: ast.stmt, known: dict) -> list[Form]:
        """What ``statement`` having run says (see ``facts``)."""
        found = []
        fact = self.fact(statement, known)
        if fact is not None:
            found.append(fact)
        target = statement.targets[0] if isinstance(statement, ast.Assign) else None
        shape = known.get(target.id) if isinstance(target, ast.Name) else None
        origin = getattr(shape[0], "origin", None) if isinstance(shape, tuple) and shape else None
        if isinstance(origin, tuple) and len(origin) == 4 and origin[0] == "convolved":
            for part in origin[2:]:  # np.convolve and np.correlate raise on an empty operand
                length = self.size_form(part)
                if length is not None:
                    found.append(_added(length, {1: -1}))
        return found

    def fact(self, statement: ast.stmt, known: dict) -> Form | None:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            return None
        value = statement.value
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            position = value.slice
            if isinstance(position, ast.UnaryOp) and isinstance(position.op, ast.USub):
                position = (
                    ast.Constant(-position.operand.value)
                    if isinstance(position.operand, ast.Constant)
                    else None
                )
            if not (isinstance(position, ast.Constant) and type(position.value) is int):
                return None
            shape = known.get(value.value.id)
            if not isinstance(shape, tuple) or not shape:
                return None
            whole = self.size_form(shape[0])
            if whole is None:
                return None
            least = position.value + 1 if position.value >= 0 else -position.value
            return _added(whole, {1: -least})  # len(a) − least ≥ 0
        if not (isinstance(value, ast.Call) and value.args and not value.keywords):
            return None
        application = application_of(value, self.normal_form, self.namespace)
        if application.primal not in self.runtime.shapes.NEGATIVE_LENGTH_RAISES:
            return None
        length = self.form(value.args[0], statement, known)
        if length is None or any(_is_index(symbol) for symbol in length):
            return None
        return length

    def surely_nonnegative(
        self, form: Form, reader: ast.stmt, known: dict, assume: bool = False
    ) -> bool:
        """Whether ``form ≥ 0`` wherever ``reader`` runs: ``form`` less nothing or less one of
        the ``facts`` there, each loop index replaced by the end of its range that makes the
        form smallest, then each length by 0, leaves no negative coefficient or constant.
        With ``assume`` (and ``assumed`` kept), a form not proved so whose smallest value
        over the loops' ranges names lengths of parameters alone is assumed ≥ 0, and kept in
        ``assumed``: the adjoint is then valid only for arguments whose lengths satisfy it."""
        if any(
            self.lower_bound_nonnegative(_added(form, _scaled(fact, -1)), known)
            for fact in [{}, *self.facts(reader, known)]
        ):
            return True
        if not assume or self.assumed is None:
            return False
        lowest = self.lowest(form, known)
        if lowest is None or not all(
            s == 1 or (isinstance(s, tuple) and s[0] == "length") for s, c in lowest.items() if c
        ):
            return False
        self.assumed.add(_key(lowest))
        return True

    def least_length(self, origin: tuple, reader: ast.stmt, known: dict, most: int) -> int:
        """The largest ``k`` up to ``most`` such that the length of the parameter's
        dimension ``origin`` is surely at least ``k`` where ``reader`` runs (by the facts
        there: ``u[0]`` read before says 1); 0 where none is proved."""
        if origin[0] not in self.parameters or type(origin[1]) is not int:
            return 0
        length = {("length", origin): 1}
        least = 0
        while least < min(most, LEAST) and self.surely_nonnegative(
            _added(length, {1: -(least + 1)}), reader, known
        ):
            least += 1
        return least

    def lower_bound_nonnegative(self, form: Form, known: dict) -> bool:
        lowest = self.lowest(form, known)
        if lowest is None:
            return False
        return lowest.get(1, 0) >= 0 and all(c >= 0 for s, c in lowest.items() if s != 1)

    def lowest(self, form: Form, known: dict) -> Form | None:
        """``form`` with each loop index replaced by the end of its range that makes it
        smallest (None where a range is not known)."""
        lowest: Form = {}
        for symbol, coefficient in form.items():
            if coefficient == 0:
                continue
            if _is_index(symbol):
                loop = self.bound[symbol[1]][0]
                ends = self.loop_range(loop, known)
                if ends is None:
                    return None
                lowest = _added(
                    lowest, _scaled(ends[0] if coefficient > 0 else ends[1], coefficient)
                )
            else:
                lowest = _added(lowest, {symbol: coefficient})
        return lowest

    def slice_length(self, value: ast.expr, reader: ast.stmt, known: dict) -> Any:
        """The shape of ``a[s:e]`` (``value``) by the identity above, or None."""
        if not (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Name)
            and isinstance(value.slice, ast.Slice)
        ):
            return None
        part = value.slice
        step = part.step
        if step is not None and not (isinstance(step, ast.Constant) and step.value == 1):
            return None
        if all(b is None or isinstance(b, ast.Constant) for b in (part.lower, part.upper)):
            return None  # literal bounds: the runtime's rule knows them
        shape = known.get(value.value.id)
        facts = self.runtime.shapes
        if not isinstance(shape, tuple) or not shape:
            return None
        whole = self.size_form(shape[0])
        if whole is None:
            return None
        start = {} if part.lower is None else self.form(part.lower, reader, known)
        stop = whole if part.upper is None else self.form(part.upper, reader, known)
        if start is None or stop is None:
            return None
        proved = all(
            self.surely_nonnegative(f, reader, known, assume=True)
            for f in (start, stop, _added(whole, _scaled(stop, -1)))
        )
        if not proved:
            return None
        length = _added(stop, _scaled(start, -1))
        if any(_is_index(symbol) for symbol in length):
            return None
        many = self.surely_nonnegative(_added(length, {1: -2}), reader, known)
        return (facts.clamped_size(_key(length), many), *shape[1:])

    def integer(self, name: str, value: ast.expr, known: dict) -> Any:
        """The shape ``Integer`` of ``name`` bound to the integer ``value`` where its form
        names lengths alone, else None."""
        binding = self.statement_of.get(id(value))
        if binding is None or self.bound_once(name) is not binding:
            return None
        found = self.form(value, binding, known)
        if found is None or any(_is_index(symbol) for symbol in found) or set(found) <= {1}:
            return None
        return self.runtime.shapes.Integer(_key(found))


def _is_index(symbol: Any) -> bool:
    return isinstance(symbol, tuple) and symbol[0] == "index"


def _added(a: Form, b: Form) -> Form:
    total = dict(a)
    for symbol, coefficient in b.items():
        total[symbol] = total.get(symbol, 0) + coefficient
    return {s: c for s, c in total.items() if c != 0}


def _scaled(a: Form, factor: int) -> Form:
    return {s: c * factor for s, c in a.items() if c * factor != 0}


def _key(form: Form) -> tuple:
    return tuple(sorted(form.items(), key=repr))
