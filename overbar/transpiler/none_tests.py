"""Tests of a name that can only hold ``None`` decided when compiling, and their branches
dropped.

A helper written with an optional argument (``def linear(x, W, bias=None)``: ``if bias is not
None: out = out + bias``) and inlined where the call leaves the default binds a local to
``None`` (``linear_bias = None``), then tests it at every call. Before and after, in normal
form::

    linear_bias = None                       linear_bias = None
    tmp3 = linear_bias is not None           tmp3 = linear_bias is not None
    if tmp3:                                 (the branch not taken: gone)
        linear_out = linear_out + linear_bias

Identity: a name every binding of which (in the whole function) is ``name = None``, bound on
every path to a test of it, holds ``None`` there; so ``name is None`` is True and ``name is not
None`` False, and ``if t:`` on a temporary bound once, to such a test, runs the branch that
test decides, every time. Side conditions: the name is not a parameter and is bound only by
assignments of the literal ``None``; the binding comes before the test in the same block or a
block enclosing it (a binding inside a branch or a loop body counts only inside it); the test
is ``a is None``, ``a is not None`` (either way round, or of two such names) and ``t`` has no
other binding. A parameter holds ``None`` at every test of it where the function (a helper's
pullback or jvp) is specialised on a call that binds it to ``None`` (``Namespace.nones``: a
literal ``None`` passed, or a default ``None`` left) and no line of the function assigns it.
The reverse sweep then records no branch there, and shapes are not joined over
a path that never runs.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.normalize import NormalForm


def without_none_tests(form: NormalForm, nones: frozenset[str] = frozenset()) -> NormalForm:
    """``form`` with each branch on a test decided as above replaced by the branch it takes
    (``nones``: the parameters the call binds to ``None``); unchanged where there is none."""
    lines = fold_none_tests(form.tree.body, form.tree, set(form.parameters), nones)
    if lines is form.tree.body:
        return form
    tree = copy.copy(form.tree)
    tree.body = lines
    return replace(form, tree=tree)


def fold_none_tests(
    lines: list[ast.stmt],
    scope: ast.AST,
    parameters: set[str],
    nones: frozenset[str] = frozenset(),
) -> list[ast.stmt]:
    """``lines`` (of ``scope``, whose bindings decide which names hold only None) with the
    decided branches replaced; the same list where nothing is decided. ``nones``: parameters
    bound to None on entry to ``lines``, where no line assigns them."""
    stores: dict[str, list[ast.AST]] = {}
    for node in walk_breadth_first(scope):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores.setdefault(node.id, []).append(node)
    none_bound = {
        id(node.targets[0])
        for node in walk_breadth_first(scope)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and node.value.value is None
    }
    only_none = {
        name
        for name, nodes in stores.items()
        if name not in parameters and all(id(n) in none_bound for n in nodes)
    }
    entry = {name for name in nones if name in parameters and name not in stores}
    only_none |= entry
    if not only_none:
        return lines
    once = {name for name, nodes in stores.items() if len(nodes) == 1}
    folder = _Folder(only_none, once)
    folded = folder.block(lines, entry, {})
    return folded if folder.changed else lines


class _Folder:
    def __init__(self, only_none: set[str], once: set[str]):
        self.only_none, self.once = only_none, once
        self.changed = False

    def block(self, lines: list[ast.stmt], bound: set[str], known: dict[str, bool]) -> list:
        """``lines`` folded; ``bound`` (names holding None here) and ``known`` (temporaries
        holding a decided test) grow with what every later line of the block sees."""
        result: list[ast.stmt] = []
        for line in lines:
            if isinstance(line, ast.Assign) and isinstance(line.targets[0], ast.Name):
                name = line.targets[0].id
                if name in self.only_none:
                    bound.add(name)
                elif (
                    name in self.once and (decided := self.decided(line.value, bound)) is not None
                ):
                    known[name] = decided
                result.append(line)
            elif (
                isinstance(line, ast.If)
                and isinstance(line.test, ast.Name)
                and line.test.id in known
            ):
                self.changed = True
                taken = line.body if known[line.test.id] else line.orelse
                result.extend(self.block(taken, bound, known))  # it runs: its bindings count
            elif isinstance(line, ast.If | ast.For | ast.While):
                body = self.block(line.body, set(bound), dict(known))
                if body:  # else the line stays as it was (a block needs a statement)
                    line = copy.copy(line)
                    line.body = body
                    line.orelse = self.block(line.orelse, set(bound), dict(known))
                result.append(line)
            else:
                result.append(line)
        return result

    def decided(self, value: ast.expr, bound: set[str]) -> bool | None:
        """True or False for ``a is None`` or ``a is not None`` with ``a`` holding None here;
        None for any other value."""
        if not (
            isinstance(value, ast.Compare)
            and len(value.ops) == 1
            and isinstance(value.ops[0], ast.Is | ast.IsNot)
        ):
            return None
        sides = [value.left, value.comparators[0]]
        if not all(
            (isinstance(s, ast.Constant) and s.value is None)
            or (isinstance(s, ast.Name) and s.id in bound)
            for s in sides
        ):
            return None
        return isinstance(value.ops[0], ast.Is)
