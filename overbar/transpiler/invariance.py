"""Subtractions whose subtracted operand gets no gradient, because what follows cancels it.

``s = a - m`` followed only by a log-softmax ``s - log(sum(exp(s), axis=k, keepdims=True))``, or
a softmax ``exp(s) / sum(exp(s), axis=k, keepdims=True)``, where ``m`` is constant along axis k
(its size there is 1: ``m = np.max(a, axis=k, keepdims=True)``, the usual stabiliser): adding c to
m subtracts c from every element of s along k, and the normalisation adds it back, so the result
does not depend on m and m's adjoint is exactly zero. The reverse sweep then skips it; computing
it would cost a reduction, a comparison and a division only to sum rounding noise.

The same holds of a logsumexp that adds its stabiliser back, ``log(sum(exp(a - m), axis=k)) + m``
(with or without ``keepdims``, m or m reshaped: ``m[:, None]`` subtracted and ``m`` added, or
``np.squeeze(m, 1)`` added): the subtraction gives m the adjoint ``−Σₖ softmax · ḡ = −ḡ`` and the
addition ``+ḡ``; both are skipped, so m's adjoint gets nothing from them. Side conditions: each of
``a - m``, its ``exp``, the sum and the log is read only by the next of these lines; the subtracted
m, broadcast to the shape of a − m, is constant along k (k is an axis NumPy prepends to m's, or m's
size there is 1: ``X.T - m`` summed over axis 0; a number for a sum of every element); the added m
has the log's shape (no broadcasting).

The stabiliser may also be subtracted from another term that the log is subtracted from, as a
picked log-softmax reads (``row[label] - m - log(sum(exp(row - m)))``): ``c = x - m2`` then
``d = c - log(...)``, or ``c = x - log(...)`` then ``d = c - m2``. Both are ``x - (log(...) +
m2)``: the log gives m the adjoint ``−(−d̄) = d̄`` and the subtraction ``−d̄``, which cancel, so
both are skipped. Side conditions: as for the logsumexp above, and c is read only by d; x is
not m2 itself (its own adjoint stays); c, d, the log and m2 have one shape (no broadcasting:
each adjoint is d̄ itself).

The runtime says which primitives are exp, log and sum (``runtime.softmax_parts``: "sum" for
those that sum every axis unless told, "sum over the first axis" for those that sum the first,
``np.add.reduce``); shape inference says whether m is constant along k. Where either is not
known, nothing is skipped.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import bindings, names_read
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import Namespace
from overbar.transpiler.primitive import Application, application_of

_EVERY_AXIS = object()


def cancelled_subtrahends(
    form: NormalForm, namespace: Namespace, runtime: Runtime, shapes: dict[str, Any]
) -> dict[int, str]:
    """For each line ``s = a - m`` (by id) whose ``m`` gets no gradient: the name ``m``."""
    bound = bindings(form.tree.body)
    block_of: dict[int, int] = {}  # each statement's block (the list holding it)
    readers: dict[str, list[ast.AST]] = {}
    for block in _blocks(form.tree.body):
        for statement in block:
            block_of[id(statement)] = id(block)
            for name in names_read(statement):  # a loop's or branch's: its header's
                readers.setdefault(name, []).append(statement)
    # The lines of one block all run, or none does (each trip of a loop runs its body's).
    for name in list(readers):
        homes = {block_of[id(reader)] for reader in readers[name]}
        homes |= {block_of.get(id(line)) for line in bound.get(name, [])}
        if len(homes) != 1:
            readers[name] = []  # read in another block than its own: no line is its only reader
    analysis = _Analysis(form, namespace, runtime, shapes, bound, readers)
    found = {}
    for name, nodes in bound.items():
        if len(nodes) == 1 and id(nodes[0]) in block_of and analysis.is_cancelled(nodes[0], name):
            found[id(nodes[0])] = nodes[0].value.right.id
    for name, nodes in bound.items():
        if len(nodes) == 1 and id(nodes[0]) in block_of and id(nodes[0]) not in found:
            added_back = analysis.added_back(nodes[0], name)
            if added_back is not None:
                found[id(nodes[0])] = nodes[0].value.right.id
                found[id(added_back[0])] = added_back[1]
    return found


def _constant_along(dims: tuple, rank: int, axis: int) -> bool:
    """Whether a value of dimensions ``dims``, broadcast against an array of rank ``rank``
    (axes prepended to its own), is constant along ``axis``: an axis NumPy prepends, or one of
    its own of size 1 (a number is constant along every axis)."""
    if len(dims) > rank:
        return False
    prepended = rank - len(dims)
    return axis < prepended or dims[axis - prepended] == 1


def _blocks(statements: list[ast.stmt]):
    """``statements`` and every block nested in them (loop bodies, branches)."""
    yield statements
    for statement in statements:
        for field in ("body", "orelse"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _blocks(inner)


class _Analysis:
    def __init__(self, form, namespace, runtime, shapes, bindings, readers):
        self.form, self.namespace, self.runtime = form, namespace, runtime
        self.shapes, self.bindings, self.readers = shapes, bindings, readers
        self.parts = runtime.softmax_parts

    def application(self, statement: ast.AST) -> Application | None:
        if not isinstance(statement, ast.Assign) or not isinstance(statement.targets[0], ast.Name):
            return None
        return application_of(statement.value, self.form, self.namespace)

    def only_reader(self, name: str) -> ast.Assign | None:
        """The one line that reads ``name``, once (None if there are more, or it is bound
        more than once)."""
        found = self.readers.get(name, [])
        if len(self.bindings.get(name, [])) != 1 or len(found) != 1:
            return None
        return found[0] if names_read(found[0]).count(name) == 1 else None

    def is_a(self, application: Application | None, part: str) -> bool:
        if application is None:
            return False
        try:
            return application.primal in self.parts.get(part, ())
        except TypeError:  # an unhashable primal
            return False

    def summed_axis(self, statement: ast.AST, summed: str) -> int | None:
        """k for ``z = sum(summed, axis=k, keepdims=True)`` (a literal k), else None."""
        axis = self.reduced_axis(statement, summed)
        if axis is None or axis is _EVERY_AXIS:
            return None
        keepdims = dict(self.application(statement).keywords).get("keepdims")
        return axis if isinstance(keepdims, ast.Constant) and keepdims.value is True else None

    def is_cancelled(self, statement: ast.Assign, shifted: str) -> bool:
        application = self.application(statement)
        if application is None or application.primal is not operator.sub:
            return False
        a, m = application.positional
        if not (isinstance(a, ast.Name) and isinstance(m, ast.Name)):
            return False
        facts = self.runtime.shapes
        rank = facts.dims(self.shapes.get(shifted))
        m_dims = facts.dims(self.shapes.get(m.id))
        if not rank or m_dims is None or len(m_dims) > len(rank):
            return False
        uses = self.readers.get(shifted, [])
        exponentials = [u for u in uses if self.is_a(self.application(u), "exp")]
        if len(exponentials) != 1 or len(self.bindings.get(shifted, [])) != 1:
            return False
        exponential = exponentials[0].targets[0].id
        others = [u for u in uses if u is not exponentials[0]]
        axis = self.normalised_axis(exponential, shifted, others)
        if axis is None or not -len(rank) <= axis < len(rank):
            return False
        return _constant_along(m_dims, len(rank), axis % len(rank))

    def added_back(self, statement: ast.Assign, shifted: str) -> tuple[ast.Assign, str] | None:
        """For ``s = a - m1`` in a logsumexp ``log(sum(exp(s), axis=k)) + m2`` where m1 and m2
        are m (or m with axes of size 1 added or taken away, ``m[:, None]``, ``m[:, 0]``): the
        line that adds m2 back, and m2. Adding c to m subtracts c from the log and adds it
        back: the two contributions to m's adjoint cancel, so neither is computed."""
        application = self.application(statement)
        if application is None or application.primal is not operator.sub:
            return None
        a, m1 = application.positional
        if not (isinstance(a, ast.Name) and isinstance(m1, ast.Name)):
            return None
        exponential = self.only_reader(shifted)
        if not self.is_a(self.application(exponential), "exp"):
            return None
        total = self.only_reader(exponential.targets[0].id)
        axis = self.reduced_axis(total, exponential.targets[0].id)
        if axis is None:
            return None
        logarithm = self.only_reader(total.targets[0].id)
        if not self.is_a(self.application(logarithm), "log"):
            return None
        log_name = logarithm.targets[0].id
        subtracted = self.subtracted_with(log_name, m1.id)
        if subtracted is not None:
            return subtracted if self.constant_along(shifted, m1.id, axis) else None
        addition = self.only_reader(log_name)
        added = self.application(addition)
        if added is None or added.primal is not operator.add:
            return None
        others = [
            x for x in added.positional if not (isinstance(x, ast.Name) and x.id == log_name)
        ]
        if len(others) != 1 or not isinstance(others[0], ast.Name):
            return None
        m2 = others[0].id
        if self.origin(m1.id) != self.origin(m2):
            inner = self.added_before(m2, addition, m1.id)
            if inner is None:
                return None
            addition, m2 = inner
        facts = self.runtime.shapes
        rank = facts.dims(self.shapes.get(shifted))
        m1_dims = facts.dims(self.shapes.get(m1.id))
        log_dims = facts.dims(self.shapes.get(log_name))
        m2_dims = facts.dims(self.shapes.get(m2))
        if not rank or m1_dims is None or log_dims is None or m2_dims is None:
            return None
        if axis is _EVERY_AXIS:
            if m1_dims != ():
                return None  # a sum of every element: m1 must be a number
        elif not _constant_along(m1_dims, len(rank), axis % len(rank)):
            return None  # m1, broadcast to s's shape, must be constant along the summed axis
        if len(log_dims) != len(m2_dims) or not all(
            facts.same_length(x, y) or (x is not None and x == y)
            for x, y in zip(log_dims, m2_dims, strict=True)
        ):
            return None  # m2 added without broadcasting: its adjoint is the sum's own
        return addition, m2

    def constant_along(self, shifted: str, m: str, axis: Any) -> bool:
        """Whether ``m``, subtracted to give ``shifted``, is constant along the summed
        ``axis`` (a number, for a sum of every element)."""
        facts = self.runtime.shapes
        rank = facts.dims(self.shapes.get(shifted))
        m_dims = facts.dims(self.shapes.get(m))
        if not rank or m_dims is None:
            return False
        if axis is _EVERY_AXIS:
            return m_dims == ()
        return _constant_along(m_dims, len(rank), axis % len(rank))

    def subtracted_with(self, log_name: str, m: str) -> tuple[ast.Assign, str] | None:
        """For the log ``log_name`` and the subtracted stabiliser ``m``: where the log is
        subtracted from a term that m (or m reshaped), m2, is subtracted from too, the line
        that subtracts m2 and m2 (``c = x - m2; d = c - log`` or ``c = x - log; d = c - m2``,
        c read only by d, x not m2, all of one shape). Else None."""
        reader = self.only_reader(log_name)
        application = self.application(reader)
        if application is None or application.primal is not operator.sub:
            return None
        left, right = application.positional
        if not (isinstance(left, ast.Name) and isinstance(right, ast.Name)):
            return None
        if right.id != log_name or left.id == log_name:
            return None
        term = left.id  # d = term - log: is term = x - m2?
        lines = self.bindings.get(term, [])
        inner = self.application(lines[0]) if len(lines) == 1 else None
        if inner is not None and self.only_reader(term) is reader:
            found = self._minus_stabiliser(lines[0], inner, m)
            if found is not None:
                return self._of_one_shape(found, (term, log_name, reader.targets[0].id))
        partial = reader.targets[0].id  # partial = x - log: is partial - m2 read next?
        outer = self.only_reader(partial)
        application = self.application(outer)
        if application is None or application.primal is not operator.sub:
            return None
        first = application.positional[0]
        if not (isinstance(first, ast.Name) and first.id == partial):
            return None
        found = self._minus_stabiliser(outer, application, m)
        if found is None:
            return None
        return self._of_one_shape(found, (partial, log_name, outer.targets[0].id))

    def _minus_stabiliser(
        self, line: ast.Assign, application: Application, m: str
    ) -> tuple[ast.Assign, str] | None:
        """(line, m2) for ``line``, ``y = x - m2``, where m2 is m or m reshaped, x not m2."""
        if application.primal is not operator.sub:
            return None
        x, m2 = application.positional
        if not isinstance(m2, ast.Name) or self.origin(m2.id) != self.origin(m):
            return None
        if isinstance(x, ast.Name) and x.id == m2.id:
            return None
        return line, m2.id

    def _of_one_shape(
        self, found: tuple[ast.Assign, str], names: tuple[str, ...]
    ) -> tuple[ast.Assign, str] | None:
        """``found`` where m2 and each of ``names`` have one known shape, else None."""
        facts = self.runtime.shapes
        shapes = [facts.dims(self.shapes.get(name)) for name in (found[1], *names)]
        if any(d is None for d in shapes) or any(len(d) != len(shapes[0]) for d in shapes):
            return None
        for column in zip(*shapes, strict=True):
            if not all(facts.same_length(x, column[0]) for x in column[1:]):
                return None
        return found

    def added_before(
        self, partial: str, addition: ast.Assign, m: str
    ) -> tuple[ast.Assign, str] | None:
        """For ``partial = a + m2`` read only by ``addition`` (``total = total + m + log(s)``
        adds m and the log in two lines): that line and m2, when m2 is m (or m reshaped) and
        ``a``, m2 and ``partial`` have one shape (no broadcasting), so m2 gets the adjoint
        the log gets."""
        lines = self.bindings.get(partial, [])
        if len(lines) != 1 or self.only_reader(partial) is not addition:
            return None
        application = self.application(lines[0])
        if application is None or application.primal is not operator.add:
            return None
        facts = self.runtime.shapes
        partial_dims = facts.dims(self.shapes.get(partial))
        for operand in application.positional:
            if isinstance(operand, ast.Name) and self.origin(operand.id) == self.origin(m):
                others = [o for o in application.positional if o is not operand]
                shapes = [facts.dims(self.shapes.get(operand.id)), partial_dims]
                shapes += [
                    facts.dims(self.shapes.get(o.id)) if isinstance(o, ast.Name) else None
                    for o in others
                ]
                if any(d is None for d in shapes) or any(d != shapes[0] for d in shapes):
                    return None
                return lines[0], operand.id
        return None

    def reduced_axis(self, statement: ast.AST | None, summed: str) -> Any:
        """k for ``t = sum(summed, axis=k)``, with or without ``keepdims=True``;
        ``_EVERY_AXIS`` for a sum of every element."""
        application = self.application(statement) if statement is not None else None
        if self.is_a(application, "sum"):
            default = None  # np.sum: every axis unless told
        elif self.is_a(application, "sum over the first axis"):
            default = 0  # np.add.reduce: the first axis unless told
        else:
            return None
        arguments = list(application.positional)
        keywords = dict(application.keywords)
        if not (arguments and isinstance(arguments[0], ast.Name) and arguments[0].id == summed):
            return None
        if len(arguments) > 2 or set(keywords) - {"axis", "keepdims"}:
            return None
        axis = keywords.get("axis", arguments[1] if len(arguments) > 1 else ast.Constant(default))
        keepdims = keywords.get("keepdims", ast.Constant(False))
        if not (isinstance(keepdims, ast.Constant) and keepdims.value in (True, False)):
            return None
        if not (
            isinstance(axis, ast.Constant) and (axis.value is None or type(axis.value) is int)
        ):
            return None
        return _EVERY_AXIS if axis.value is None else axis.value

    def origin(self, name: str) -> str:
        """The name ``name`` is a reshaped view of (axes of size 1 added with None or taken
        away with 0 or -1, the others kept whole by ``:`` or ``...``; or by a function the
        runtime lists as adding or taking away only axes of length 1, ``np.squeeze(m, 1)``,
        ``np.expand_dims(m, 0)``: NumPy refuses to squeeze an axis of another length), or
        ``name`` itself."""
        lines = self.bindings.get(name, [])
        application = self.application(lines[0]) if len(lines) == 1 else None
        if self.is_a(application, "axes of length 1"):
            source = application.positional[0] if application.positional else None
            return self.origin(source.id) if isinstance(source, ast.Name) else name
        if application is None or application.primal is not operator.getitem:
            return name
        source, index = application.positional
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        dims = (
            self.runtime.shapes.dims(self.shapes.get(source.id))
            if isinstance(source, ast.Name)
            else None
        )
        if dims is None:
            return name
        axis = 0
        indexing = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
        for part in parts:
            if isinstance(part, ast.Constant) and part.value is None:
                continue
            if isinstance(part, ast.Constant) and part.value is Ellipsis:
                covered = len(dims) - (len(indexing) - 1)  # the axes the others do not index
                if covered < 0:
                    return name
                axis += covered
                continue
            if axis >= len(dims):
                return name
            full = isinstance(part, ast.Call) and all(
                isinstance(a, ast.Constant) and a.value is None for a in part.args
            )
            taken = isinstance(part, ast.Constant) and part.value in (0, -1) and dims[axis] == 1
            if not (full or taken):
                return name
            axis += 1
        return self.origin(source.id)

    def normalised_axis(self, exponential: str, shifted: str, others: list) -> int | None:
        """The axis k of a log-softmax or softmax that ``e = exp(s)`` takes part in, with
        ``others`` the other readers of s; None if e and s feed anything else."""
        readers = self.readers.get(exponential, [])
        if len(self.bindings.get(exponential, [])) != 1:
            return None
        rank = self.runtime.shapes.dims(self.shapes.get(exponential))
        sums = [r for r in readers if self.normalising_sum(r, exponential, rank) is not None]
        if len(sums) != 1:
            return None
        total = sums[0].targets[0].id
        axis, kept = self.normalising_sum(sums[0], exponential, rank)
        rest = [r for r in readers if r is not sums[0]]
        if not rest and len(others) == 1:  # log-softmax: s - log(total)
            total, kept = self.restored(total, axis, kept)
            logarithm = self.only_reader(total)
            if not self.is_a(self.application(logarithm), "log"):
                return None
            subtracted, kept = self.restored(logarithm.targets[0].id, axis, kept)
            difference = self.only_reader(subtracted)
            if difference is None or difference is not others[0] or not kept:
                return None
            application = self.application(difference)
            left, right = application.positional
            subtracts_the_logarithm = (
                application.primal is operator.sub
                and isinstance(left, ast.Name)
                and left.id == shifted
                and isinstance(right, ast.Name)
                and right.id == subtracted
            )
            return axis if subtracts_the_logarithm else None
        if not others and len(rest) == 1:  # softmax: e / total
            divisor, kept = self.restored(total, axis, kept)
            application = self.application(rest[0])
            if application is None or application.primal is not operator.truediv or not kept:
                return None
            left, right = application.positional
            if (
                isinstance(left, ast.Name)
                and left.id == exponential
                and isinstance(right, ast.Name)
                and right.id == divisor
                and self.only_reader(divisor) is rest[0]
            ):
                return axis
        return None

    def normalising_sum(self, statement: ast.AST, summed: str, rank) -> tuple | None:
        """(k, kept) for ``z = sum(summed, axis=k)`` (a literal k, normalised for ``summed``'s
        rank, which must be known), kept whether z holds the summed axis (``keepdims=True``)
        or, without, is broadcast against ``summed`` as if it did: the axis is the first
        (NumPy prepends the missing axis). None for anything else."""
        axis = self.reduced_axis(statement, summed)
        if axis is None or axis is _EVERY_AXIS or not rank or not -len(rank) <= axis < len(rank):
            return None
        if self.summed_axis(statement, summed) is not None:
            return axis % len(rank), True
        return axis % len(rank), axis % len(rank) == 0

    def restored(self, name: str, axis: int, kept: bool) -> tuple[str, bool]:
        """``name``, or the name of its only reader ``t = name[i]`` where ``name`` lacks the
        summed axis (reduced without ``keepdims``) and ``i`` inserts it back where it was
        (``t = total[:, None]`` after a sum over axis 1): then t is what ``keepdims=True``
        gives. With it, whether the value now holds the summed axis (or is broadcast as if
        it did)."""
        reader = self.only_reader(name)
        application = self.application(reader) if reader is not None else None
        if application is None or application.primal is not operator.getitem:
            return name, kept
        source, index = application.positional
        dims = self.runtime.shapes.dims(self.shapes.get(name))
        if not (isinstance(source, ast.Name) and source.id == name) or dims is None:
            return name, kept
        if _inserted_axis(index, len(dims)) != axis:
            return name, kept
        return reader.targets[0].id, True


def _inserted_axis(index: ast.expr, rank: int) -> int | None:
    """The axis of ``a[index]`` that ``index`` inserts, for ``a`` of rank ``rank``, when it is
    made of whole slices ``:``, one ``None`` and at most one ``...`` (None for other indices)."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    nones = [i for i, p in enumerate(parts) if isinstance(p, ast.Constant) and p.value is None]
    ellipses = [
        i for i, p in enumerate(parts) if isinstance(p, ast.Constant) and p.value is Ellipsis
    ]
    whole = [_is_whole_slice(p) for p in parts]
    if (
        len(nones) != 1
        or len(ellipses) > 1
        or len(nones) + len(ellipses) + sum(whole) != len(parts)
    ):
        return None
    if sum(whole) > rank:
        return None
    position = nones[0]
    if ellipses and ellipses[0] < position:  # the axes ... stands for come before the None
        return position - 1 + rank - sum(whole)
    return position


def _is_whole_slice(part: ast.expr) -> bool:
    """``:`` as the normal form's index holds it: ``slice(None)`` (``primitive.index_value``)."""
    return (
        isinstance(part, ast.Call)
        and isinstance(part.func, ast.Name)
        and part.func.id == "slice"
        and len(part.args) == 1
        and not part.keywords
        and isinstance(part.args[0], ast.Constant)
        and part.args[0].value is None
    )
