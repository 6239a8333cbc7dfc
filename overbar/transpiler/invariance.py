"""Subtractions whose subtracted operand gets no gradient, because what follows cancels it.

``s = a - m`` followed only by a log-softmax ``s - log(sum(exp(s), axis=k, keepdims=True))``, or
a softmax ``exp(s) / sum(exp(s), axis=k, keepdims=True)``, where ``m`` is constant along axis k
(its size there is 1: ``m = np.max(a, axis=k, keepdims=True)``, the usual stabiliser): adding c to
m subtracts c from every element of s along k, and the normalisation adds it back, so the result
does not depend on m and m's adjoint is exactly zero. The reverse sweep then skips it; computing
it would cost a reduction, a comparison and a division only to sum rounding noise.

The runtime says which primitives are exp, log and sum (``runtime.softmax_parts``); shape
inference says whether m is constant along k. Where either is not known, nothing is skipped.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.names import bindings
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import Namespace
from overbar.transpiler.primitive import Application, application_of


def cancelled_subtrahends(
    form: NormalForm, namespace: Namespace, runtime: Runtime, shapes: dict[str, Any]
) -> dict[int, str]:
    """For each line ``s = a - m`` (by id) whose ``m`` gets no gradient: the name ``m``."""
    bound = bindings(form.tree.body)
    readers: dict[str, list[ast.AST]] = {}
    for node in ast.walk(form.tree):
        if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef):
            for name in _names_read(node):
                readers.setdefault(name, []).append(node)
    # Only lines of the function's top level: they all run, or none does.
    top_level = {id(statement) for statement in form.tree.body}
    for name in list(readers):
        if any(id(reader) not in top_level for reader in readers[name]):
            readers[name] = []  # read inside a loop or branch: no line is its only reader
    analysis = _Analysis(form, namespace, runtime, shapes, bound, readers)
    found = {}
    for name, nodes in bound.items():
        if len(nodes) == 1 and id(nodes[0]) in top_level and analysis.is_cancelled(nodes[0], name):
            found[id(nodes[0])] = nodes[0].value.right.id
    return found


def _names_read(statement: ast.stmt) -> list[str]:
    """Names a simple statement reads (a compound one: those of its header)."""
    if isinstance(statement, ast.For):
        parts = [statement.iter]
    elif isinstance(statement, ast.If | ast.While):
        parts = [statement.test]
    else:
        parts = [statement]
    return [
        n.id
        for part in parts
        for n in ast.walk(part)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


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
        return found[0] if _names_read(found[0]).count(name) == 1 else None

    def is_a(self, application: Application | None, part: str) -> bool:
        if application is None:
            return False
        try:
            return application.primal in self.parts[part]
        except TypeError:  # an unhashable primal
            return False

    def summed_axis(self, statement: ast.AST, summed: str) -> int | None:
        """k for ``z = sum(summed, axis=k, keepdims=True)`` (a literal k), else None."""
        application = self.application(statement)
        if not self.is_a(application, "sum"):
            return None
        arguments = list(application.positional)
        keywords = dict(application.keywords)
        if not (arguments and isinstance(arguments[0], ast.Name) and arguments[0].id == summed):
            return None
        axis = keywords.get("axis", arguments[1] if len(arguments) > 1 else None)
        keepdims = keywords.get("keepdims")
        if len(arguments) > 2 or set(keywords) - {"axis", "keepdims"}:
            return None
        if not (isinstance(keepdims, ast.Constant) and keepdims.value is True):
            return None
        if not (isinstance(axis, ast.Constant) and type(axis.value) is int):
            return None
        return axis.value

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
        if not rank or m_dims is None or (m_dims and len(m_dims) != len(rank)):
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
        return not m_dims or m_dims[axis % len(rank)] == 1

    def normalised_axis(self, exponential: str, shifted: str, others: list) -> int | None:
        """The axis k of a log-softmax or softmax that ``e = exp(s)`` takes part in, with
        ``others`` the other readers of s; None if e and s feed anything else."""
        readers = self.readers.get(exponential, [])
        if len(self.bindings.get(exponential, [])) != 1:
            return None
        sums = [r for r in readers if self.summed_axis(r, exponential) is not None]
        if len(sums) != 1:
            return None
        total = sums[0].targets[0].id
        axis = self.summed_axis(sums[0], exponential)
        rest = [r for r in readers if r is not sums[0]]
        if not rest and len(others) == 1:  # log-softmax: s - log(total)
            logarithm = self.only_reader(total)
            if not self.is_a(self.application(logarithm), "log"):
                return None
            difference = self.only_reader(logarithm.targets[0].id)
            if difference is None or difference is not others[0]:
                return None
            application = self.application(difference)
            left, right = application.positional
            subtracts_the_logarithm = (
                application.primal is operator.sub
                and isinstance(left, ast.Name)
                and left.id == shifted
                and isinstance(right, ast.Name)
                and right.id == logarithm.targets[0].id
            )
            return axis if subtracts_the_logarithm else None
        if not others and len(rest) == 1:  # softmax: e / total
            application = self.application(rest[0])
            if application is None or application.primal is not operator.truediv:
                return None
            left, right = application.positional
            if (
                isinstance(left, ast.Name)
                and left.id == exponential
                and isinstance(right, ast.Name)
                and right.id == total
                and self.only_reader(total) is rest[0]
            ):
                return axis
        return None
