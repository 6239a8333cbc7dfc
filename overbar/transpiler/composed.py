"""Two functions of the reverse sweep applied one to the other's result, written as the one
runtime helper that computes what they compute together, without the value between them.

The adjoint of ``windows @ w`` with ``windows = sliding_window_view(x, m)`` is an outer product
that the windows' adjoint adds back into ``x`` slice by slice; together they are a convolution:

    windows_bar = np.outer(tmp3_bar, w)
    w_bar = windows.T @ tmp3_bar                  w_bar = windows.T @ tmp3_bar
    x_bar = windows_bar_2(windows_bar, x, m)      x_bar = windows_bar_of_outer(tmp3_bar, w, x, m)

The runtime says which pairs it has such a helper for (``Runtime.composed``: ``(f, g) -> h``).

Identity: ``h(a₁, …, aₖ, r₁, …) = f(g(a₁, …, aₖ), r₁, …)`` for every argument; ``h`` checks
the side conditions under which it computes the composition another way (for the windows: a
vector ``x``, real operands of matching lengths) and otherwise computes ``f(g(…), …)`` itself.
Side conditions of the rewrite here: ``g(…)`` is the first argument of the call of ``f``,
either written there or as a name ``t`` that the function binds once, by ``t = g(…)`` in the
reverse sweep, and reads in that argument in later statements of the same block (each such
read is rewritten; ``t = g(…)`` goes once every read of ``t`` is); no statement between the
binding and a rewritten read binds a name that ``g``'s arguments read, writes an element or an
attribute, or passes one of those names to a call (so they hold at
the call what they held at ``t = g(…)``); both calls take positional arguments alone, none
starred; ``g`` is pure. The forward sweep, the user's lines, is left alone.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import module_names
from overbar.transpiler.names import bindings, walk
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import is_comment


def compose_helpers(
    adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None
) -> Adjoint:
    """The adjoint with each composition above written as its one helper (``namespace``, the
    user's function's, says where ``np`` is the array library)."""
    composed = runtime.composed
    if not composed:
        return adjoint
    bound = dict(adjoint.bindings)
    library = module_names(adjoint.bindings, namespace, runtime)
    inner_functions = {g for _, g in composed}
    outer_functions = {f for f, _ in composed}
    body = adjoint.tree.body
    reverse = body[adjoint.forward_length :]
    whole = ast.Module(body=body, type_ignores=[])
    reads: dict[str, int] = {}
    for node in walk(whole):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads[node.id] = reads.get(node.id, 0) + 1
    bound_by = bindings(body)
    names = {node.id for node in walk(whole) if isinstance(node, ast.Name)}
    helper_names = {value: name for name, value in adjoint.bindings}
    added: list[tuple[str, Any]] = []

    def name_of(helper: Any) -> str:
        if helper in helper_names:
            return helper_names[helper]
        base, suffix = helper.__name__, 1
        name = base
        while name in names or name in bound:
            suffix += 1
            name = f"{base}_{suffix}"
        helper_names[helper] = name
        names.add(name)
        added.append((name, helper))
        return name

    def resolved(function: ast.expr) -> Any:
        if isinstance(function, ast.Name):
            return runtime.array_module if function.id in library else bound.get(function.id)
        if isinstance(function, ast.Attribute):
            owner = resolved(function.value)
            return None if owner is None else getattr(owner, function.attr, None)
        return None

    def plain_call(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
        )

    def inner_binding(statement: ast.stmt) -> tuple[str, ast.Call] | None:
        """``t = g(…)`` for a ``g`` some composition starts from, ``t`` bound only here."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and plain_call(statement.value)
            and resolved(statement.value.func) in inner_functions
        ):
            return None
        name = statement.targets[0].id
        if len(bound_by.get(name, ())) != 1 or not reads.get(name, 0):
            return None
        return name, statement.value

    def rewrite_block(statements: list[ast.stmt]) -> list[ast.stmt]:
        result = list(statements)
        dropped: set[int] = set()
        for position, statement in enumerate(result):
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    rewritten = rewrite_block(inner)
                    if rewritten is not inner:
                        statement = copy.copy(statement)
                        setattr(statement, field, rewritten)
                        result[position] = statement
            result[position] = rewrite_written_in(result[position])
            found = inner_binding(result[position])
            if found is None:
                continue
            name, inner_call = found
            argument_names = {n.id for n in walk(inner_call) if isinstance(n, ast.Name)}
            unread = reads[name]
            for later in range(position + 1, len(result)):
                reader = replaced = result[later]
                while replaced is not None:
                    result[later], unread = replaced, unread - (replaced is not reader)
                    replaced = rewrite_reader(result[later], name, inner_call)
                if unread == 0:
                    dropped.add(position)  # every read written as a composition
                    break
                if not _leaves_alone(reader, argument_names):
                    break  # the arguments may change here: later reads keep the name
                if result[later] is reader and _reads(reader, name):
                    break
        if not dropped and all(a is b for a, b in zip(result, statements, strict=True)):
            return statements
        return [s for position, s in enumerate(result) if position not in dropped]

    def outer_of(call: ast.Call) -> Any:
        return composed.get((resolved(call.func), resolved(call.args[0].func)))

    def rewrite_written_in(statement: ast.stmt) -> ast.stmt:
        """``f(g(…), …)`` written in one expression of a simple statement."""
        if not isinstance(statement, ast.Assign | ast.Expr | ast.AugAssign):
            return statement
        if not any(
            isinstance(node, ast.Call)
            and resolved(node.func) in outer_functions
            and node.args
            and isinstance(node.args[0], ast.Call)
            for node in walk(statement)
        ):
            return statement  # nothing to compose: not copied
        changed = False

        class Compose(ast.NodeTransformer):
            def visit_Call(self, node: ast.Call) -> ast.expr:
                nonlocal changed
                node = self.generic_visit(node)
                if plain_call(node) and node.args and plain_call(node.args[0]):
                    helper = outer_of(node)
                    if helper is not None:
                        changed = True
                        return _called(name_of(helper), node.args[0].args + node.args[1:], node)
                return node

        rewritten = Compose().visit(copy.deepcopy(statement))
        return rewritten if changed else statement

    def rewrite_reader(statement: ast.stmt, name: str, inner: ast.Call) -> ast.stmt | None:
        """``statement`` with its call ``f(name, …)`` written ``h(…g's arguments…, …)``; None
        where it does not read ``name`` so (or is not a simple statement)."""
        if not isinstance(statement, ast.Assign | ast.Expr | ast.AugAssign) or not _reads(
            statement, name
        ):
            return None
        done = False

        class Compose(ast.NodeTransformer):
            def visit_Call(self, node: ast.Call) -> ast.expr:
                nonlocal done
                node = self.generic_visit(node)
                first = node.args[0] if node.args else None
                if (
                    not done
                    and plain_call(node)
                    and isinstance(first, ast.Name)
                    and first.id == name
                ):
                    helper = composed.get((resolved(node.func), resolved(inner.func)))
                    if helper is not None:
                        done = True
                        arguments = [copy.deepcopy(a) for a in inner.args] + node.args[1:]
                        return _called(name_of(helper), arguments, node)
                return node

        rewritten = Compose().visit(copy.deepcopy(statement))
        return rewritten if done else None

    new_reverse = rewrite_block(reverse)
    if new_reverse is reverse:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = body[: adjoint.forward_length] + new_reverse
    return replace(adjoint, tree=tree, bindings=(*adjoint.bindings, *added))


def _called(name: str, arguments: list[ast.expr], like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), list(arguments), []), like)


def _leaves_alone(statement: ast.stmt, names: set[str]) -> bool:
    """Whether ``statement`` surely leaves the values of ``names`` as they were: an assignment
    to other names (no element or attribute written, no augmented assignment, no compound
    statement) that passes none of them to a call (which might write into it), or a comment."""
    if is_comment(statement):
        return True
    if not (
        isinstance(statement, ast.Assign)
        and all(isinstance(target, ast.Name) for target in statement.targets)
    ):
        return False
    if any(target.id in names for target in statement.targets):
        return False
    for node in walk(statement.value):
        if isinstance(node, ast.Call):
            passed = [*node.args, *(k.value for k in node.keywords)]
            if any(isinstance(n, ast.Name) and n.id in names for a in passed for n in walk(a)):
                return False
    return True


def _reads(statement: ast.stmt, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        for node in walk(statement)
    )
