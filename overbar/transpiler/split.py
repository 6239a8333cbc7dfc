"""Split: the adjoint's forward sweep and its reverse sweep become two functions.

``overbar.vjp`` runs the forward sweep once and the reverse sweep once per cotangent, and a
differentiated caller of a helper runs the helper's forward function in its forward sweep and
its pullback in its reverse sweep (``<helper>_forward``, ``pipeline.Pullback``). The
adjoint (made as a pullback that returns ``(value, gradients)``) is cut where its forward sweep
ends: the forward function runs the user's lines and returns the value with the *residuals*,
the values its reverse sweep reads; the pullback takes the residuals and the cotangent (the
keyword ``result_bar``) and runs the reverse sweep. Before and after::

    def g_pullback(W, h, *, result_bar):        def g_vjp(W, h):
        stack = []                                  stack = []
        h = np.tanh(W @ h)   (pushes h)             ...
        ...                                         ...
        return (y, (W_bar, h_bar))                  return (y, (W, h, stack))
                                                def g_pullback(W, h, stack, *, result_bar):
                                                    stack = stack.copy()
                                                    ...
                                                    return (W_bar, h_bar)

Invariant established: calling the pullback any number of times, with any cotangents, gives
what the one adjoint gives for each. The reverse sweep pops the stack, writes old values back
into arrays the function wrote into and pops lists it appended to: the pullback pops a copy of
the stack, and a residual it changes in place (``out``) is saved by the forward function as it
leaves it (``out_saved = copy_of(out)``) and written back into, in place, as the pullback
starts (``write_back(out, out_saved)``), so that views of it (``tmp1 = out[:-1]``) see its
values too. The value returned is a copy where it is such an array. Where a name changed in
place is also bound again by the reverse sweep (an array made anew on each step of a loop,
restored from the stack), the saved values themselves change: ``Split.reusable`` is False, and
``overbar.vjp`` runs the forward function again before each call of the pullback after the
first. A residual the forward sweep may leave unbound (a name bound only in a loop that ran no
steps) starts as ``None``: the reverse sweep reads it only where the forward sweep bound it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from overbar.errors import InternalError
from overbar.transpiler.names import clone, fix_missing_locations, walk_breadth_first
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import assign, call, load, loop_target, tuple_of

# Methods of a list that change it: a pullback that calls one on a residual copies it first.
_CHANGING_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"}
)


@dataclass(frozen=True)
class Split:
    """The forward function, the pullback, and the names the one hands the other."""

    forward: ast.FunctionDef
    reverse: ast.FunctionDef
    residuals: tuple[str, ...]
    bindings: tuple[tuple[str, Any], ...]
    reusable: bool = True  # whether the pullback may run again on the same residuals
    # whether the residuals are the function's own arguments alone (parameters the forward
    # sweep never binds again): the reverse sweep reads nothing the forward sweep computed
    only_arguments: bool = False


def split(
    adjoint: Adjoint,
    copy_of: Any,
    write_back: Any,
    name: str,
    forward_suffix: str = "vjp",
    shape_of: Any = None,
    shape_only: dict[Any, tuple[int, ...]] | None = None,
) -> Split:
    """Cut ``adjoint`` (a pullback returning ``(value, gradients)``) into the forward function
    ``<name>_vjp`` (``<name>_<forward_suffix>``) and the pullback ``<name>_pullback`` (numbered
    where the adjoint uses these names: a recursive function's pullback calls its own helper
    pullback); ``copy_of`` is the runtime's copy of a list or an array, ``write_back(x, saved)``
    writes ``saved`` into ``x`` in place.

    ``shape_only`` maps the runtime's functions to the positions of the arguments they read
    only the shape of (``unbroadcast(g, x)``); a residual the reverse sweep reads only there,
    computed by the forward sweep (not a parameter, not changed in place, surely bound), is
    handed over as ``shape_of(x)``, so the array need not be kept alive. Identity: such a
    reader gives the same result for the array and for its stand-in (as for a value the stack
    saves as its shape, ``recording.py``)."""
    tree = adjoint.tree
    taken = _all_names(tree, dict(adjoint.bindings))
    forward_name = next(n for n in _fresh(f"{name}_{forward_suffix}") if n not in taken)
    reverse_name = next(n for n in _fresh(f"{name}_pullback") if n not in taken)
    copy_name = next(n for n in _fresh("copy_of") if n not in taken)
    write_back_name = next(n for n in _fresh("write_back") if n not in taken)
    body = clone(tree.body)
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    ending = reverse.pop() if reverse else None
    if not (
        isinstance(ending, ast.Return)
        and isinstance(ending.value, ast.Tuple)
        and len(ending.value.elts) == 2
    ):
        raise InternalError(f"the adjoint of {name} does not end by returning its value")
    value, gradients = ending.value.elts
    reverse.append(ast.Return(value=gradients))

    parameters = [a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs]
    seed = tree.args.kwonlyargs[-1].arg  # the pullback's cotangent (see reverse.py)
    parameters.remove(seed)
    forward_names = _bound_in(forward)
    available = set(parameters) | forward_names
    # a name the adjoint never binds is a global (or a closure's): the forward function reads
    # it as the user's function does
    local = available | _bound_in(reverse)
    read = {n.id for n in walk_breadth_first(value) if isinstance(n, ast.Name)}
    missing = (read - available) & local
    if missing:
        raise InternalError(
            f"the value of {name} reads {sorted(missing)}, which its forward sweep does not bind"
        )
    exposed = _read_before_bound(reverse, set())
    order = parameters + [n for n in _binding_order(forward) if n not in parameters]
    residuals = [n for n in order if n in exposed and n in available]

    bindings = dict(adjoint.bindings)
    in_place = adjoint.effects - {adjoint.stack}
    changed = _changed_in(reverse, in_place) & set(residuals)
    # Changed and bound again in the reverse sweep (restored from the stack): the values the
    # forward sweep saved are changed themselves; such a pullback runs once per forward sweep.
    reusable = not (changed & _bound_in(reverse))
    entry: list[ast.stmt] = []
    saved: list[tuple[str, str]] = []
    if reusable:
        for n in residuals:
            if n == adjoint.stack and n in changed:
                copied = ast.Call(ast.Attribute(load(n), "copy", ast.Load()), [], [])
                entry.append(assign(n, copied))
            elif n in changed:
                snapshot = next(c for c in _fresh(f"{n}_saved") if c not in taken)
                taken.add(snapshot)
                saved.append((n, snapshot))
                entry.append(ast.Expr(call(write_back_name, load(n), load(snapshot))))
    definite = set(parameters) | _bound_at_top(forward)
    unbound = [n for n in residuals if n not in definite]
    forward_saves = [assign(snapshot, call(copy_name, load(n))) for n, snapshot in saved]
    residuals += [snapshot for _, snapshot in saved]
    # The value the caller keeps must not be what the pullback writes old values back into.
    if isinstance(value, ast.Name) and value.id in changed:
        value = call(copy_name, value)
    elif isinstance(value, ast.Tuple):
        value.elts = [
            call(copy_name, e) if isinstance(e, ast.Name) and e.id in changed else e
            for e in value.elts
        ]
    if saved or changed - {adjoint.stack}:
        bindings[copy_name] = copy_of
    if saved:
        bindings[write_back_name] = write_back
    shaped = set()
    if shape_of is not None and shape_only:
        by_name = {n: shape_only[v] for n, v in bindings.items() if _hashable_in(v, shape_only)}
        value_read = _read_for_value(reverse, by_name)
        shaped = {
            n
            for n in residuals
            if n not in value_read
            and n not in parameters
            and n in definite
            and n not in changed
            and n != adjoint.stack
        }
    shape_name = next((n for n, v in bindings.items() if v is shape_of), None)
    if shaped and shape_name is None:
        shape_name = next(n for n in _fresh("shape_of") if n not in taken)
        bindings[shape_name] = shape_of
    prologue = [assign(unbound[0], ast.Constant(None))] if unbound else []
    if len(unbound) > 1:
        prologue[0].targets = [ast.Name(id=n, ctx=ast.Store()) for n in unbound]
    returned = tuple_of(
        [
            value,
            tuple_of([call(shape_name, load(n)) if n in shaped else load(n) for n in residuals]),
        ]
    )
    forward_arguments = clone(tree.args)
    forward_arguments.kwonlyargs = forward_arguments.kwonlyargs[:-1]
    forward_arguments.kw_defaults = forward_arguments.kw_defaults[:-1]
    forward_tree = ast.FunctionDef(
        name=forward_name,
        args=forward_arguments,
        body=[*prologue, *forward, *forward_saves, ast.Return(value=returned)],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    reverse_arguments = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=n) for n in residuals],
        vararg=None,
        kwonlyargs=[ast.arg(arg=seed)],
        kw_defaults=[None],
        kwarg=None,
        defaults=[],
    )
    reverse_tree = ast.FunctionDef(
        name=reverse_name,
        args=reverse_arguments,
        body=[*entry, *reverse],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    for function in (forward_tree, reverse_tree):
        ast.copy_location(function, tree)
        fix_missing_locations(function)
    only_arguments = set(residuals) <= set(parameters) and not (set(residuals) & forward_names)
    return Split(
        forward_tree,
        reverse_tree,
        tuple(residuals),
        tuple(sorted(bindings.items())),
        reusable,
        only_arguments,
    )


def _hashable_in(value: Any, table: dict[Any, Any]) -> bool:
    try:
        return value in table
    except TypeError:  # an unhashable binding (a list, an array) is no runtime function
        return False


def _read_for_value(statements: list[ast.stmt], shape_only: dict[str, tuple[int, ...]]) -> set:
    """The names ``statements`` read other than as an argument a function named in
    ``shape_only`` reads the shape of."""
    sizing = set()
    for node in (n for s in statements for n in ast.walk(s)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for position in shape_only.get(node.func.id, ()):
                if position < len(node.args) and isinstance(node.args[position], ast.Name):
                    sizing.add(id(node.args[position]))
    return {
        n.id
        for s in statements
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in sizing
    }


def _fresh(base: str):
    yield base
    number = 2
    while True:
        yield f"{base}_{number}"
        number += 1


def _all_names(tree: ast.FunctionDef, bindings: dict[str, Any]) -> set[str]:
    names = {n.id for n in walk_breadth_first(tree) if isinstance(n, ast.Name)}
    return (
        names | {a.arg for a in walk_breadth_first(tree) if isinstance(a, ast.arg)} | set(bindings)
    )


def _bound_in(statements: list[ast.stmt]) -> set[str]:
    """Every name bound anywhere in ``statements`` (loop targets included)."""
    return {
        n.id
        for statement in statements
        for n in walk_breadth_first(statement)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _binding_order(statements: list[ast.stmt]) -> list[str]:
    """The names bound in ``statements``, in the order their first bindings appear."""
    order: dict[str, None] = {}
    for statement in statements:
        for n in walk_breadth_first(statement):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                order.setdefault(n.id, None)
    return list(order)


def _bound_at_top(statements: list[ast.stmt]) -> set[str]:
    """The names bound by the top-level assignments of ``statements``: surely bound after."""
    return {
        n.id
        for statement in statements
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        for n in walk_breadth_first(target)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _reads(node: ast.AST) -> set[str]:
    return {
        n.id
        for n in walk_breadth_first(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _read_before_bound(statements: list[ast.stmt], bound: set[str]) -> set[str]:
    """The names ``statements`` may read before binding them (given ``bound``, the names
    surely bound before them): what the reverse sweep needs from the forward sweep. A loop's
    or a branch's bindings count only inside it (the loop may run no steps)."""
    exposed: set[str] = set()
    bound = set(bound)
    for statement in statements:
        if isinstance(statement, ast.For):
            exposed |= _reads(statement.iter) - bound
            inner = bound | loop_target(statement)
            exposed |= _read_before_bound(statement.body, inner)
            exposed |= _read_before_bound(statement.orelse, bound)
        elif isinstance(statement, ast.While | ast.If):
            exposed |= _reads(statement.test) - bound
            exposed |= _read_before_bound(statement.body, bound)
            exposed |= _read_before_bound(statement.orelse, bound)
        else:
            exposed |= _reads(statement) - bound
            if isinstance(statement, ast.Assign):
                bound |= _bound_at_top([statement])
    return exposed


def _changed_in(statements: list[ast.stmt], in_place: frozenset[str]) -> set[str]:
    """The names whose values ``statements`` change in place: written into by index, called
    a list's changing method on, or passed first to a helper that writes (``in_place``)."""
    changed = set()
    for statement in statements:
        for node in walk_breadth_first(statement):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign):
                targets = [node.target]
            for target in targets:
                for element in walk_breadth_first(target):
                    if isinstance(element, ast.Subscript):
                        base = element.value
                        while isinstance(base, ast.Subscript | ast.Attribute):
                            base = base.value
                        if isinstance(base, ast.Name):
                            changed.add(base.id)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.attr in _CHANGING_METHODS
            ):
                changed.add(node.func.value.id)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in in_place
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                changed.add(node.args[0].id)
    return changed
