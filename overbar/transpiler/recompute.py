"""Cheap values of a loop's trip computed again in the reverse sweep, not pushed at every trip.

The forward sweep of a loop saves, before each trip rebinds them, the values the reverse sweep
reads; for ``y += w[k] * x[k : m + k]`` it pushes ``w[k]``, ``m + k`` and the view
``x[k : m + k]`` at every trip and pops them back in the undone trip. Each is as cheap to
compute again as to push and pop, from the loop's index (which the reverse sweep restores
first) and names that do not change. Invariant established: no value of the kinds below is
pushed in a loop where the reverse sweep can compute it; before and after::

    for k in tmp7:                          for k in tmp7:
        stack.append(tmp8)                      tmp8 = w[k]
        tmp8 = w[k]                             tmp9 = m + k
        stack.append(tmp9)                      tmp10 = x[k:tmp9]
        tmp9 = m + k                            ...
        stack.append(tmp10)                     stack.append(k)
        tmp10 = x[k:tmp9]                   ...
        ...                                 for _ in range(trips):
        stack.append(k)                         k = stack.pop()
    ...                                         tmp8 = w[k]
    for _ in range(trips):                      tmp9 = m + k
        k = stack.pop()                         tmp10 = x[k:tmp9]
        ...                                     ...
        tmp10 = stack.pop()
        tmp9 = stack.pop()
        tmp8 = stack.pop()

Identity: where ``N = e`` runs at every trip of a loop and ``e``'s operands hold, at the start
of the undone trip, the values they held when ``N`` was bound, computing ``e`` there gives the
value the pop-less reverse trip reads (``N``'s value of that trip); the pop that restored the
previous trip's value may go once nothing reads that value.

Side conditions, for a loop ``for T in ...`` of the forward sweep and its undoing loop in the
reverse sweep: the loop holds no ``break``, ``continue`` or ``return`` (every trip runs every
statement of its body); its body's top level holds ``stack.append(N)`` followed at once by
``N = e``, and ``stack.append(T)``; ``N`` and ``T`` are each pushed (plainly, not as a shape)
once and popped once, ``N``'s pop at the top level of the undoing loop's body, ``T``'s pop at
the top level too, before it, with no read of ``N`` in that body before ``T``'s pop; ``N`` is
bound by the forward sweep only there (a prologue ``N = None`` aside), by the reverse sweep
only by its pop, and is written into or updated in place nowhere; the reverse sweep reads
``N`` nowhere but in the undoing loop's body, before ``N``'s pop (after it, or after the
loop, the previous trip's value was read); ``T`` is bound only by the loop in the forward
sweep and only by its pop in the reverse sweep, and changed in place nowhere. ``e``'s
operands are constants, ``T`` where it is known to be an integer (not a row of an array
iterated, which may be a view of an array written later), names that hold one value while
the reverse sweep runs (``pushes._steady_names``: parameters, modules, single top-level
bindings, none changed in place) and names recomputed so by an earlier statement of the
same body. No cost greater
than a push: ``e`` is arithmetic of numbers (every operand's shape a number's), or an
element or a basic slice of an array (a name whose shape is an array's, indexed by constants
and integers, ``None`` and slices of them): a number, or a view sharing the array's memory
as the pushed value did. The contents an element is read from are those the trip saw: no
name that may share the array's memory (its views, found as ``pushes._sharing`` finds them)
is written into, updated in place or changed by a method anywhere (an adjoint aside, which
the reverse sweep owns), and the fence refuses a view read before a write into its array
through another name. Split adjoints (``vjp``) are left alone by the pipeline: their
pullback may run again after the caller changed an argument.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import module_names
from overbar.transpiler.names import clone, walk_breadth_first
from overbar.transpiler.parse import Namespace
from overbar.transpiler.pushes import (
    _is_pop,
    _makes_new_array,
    _pushed_name,
    _pushed_reference,
    _shape_only_positions,
    _sharing,
    _steady_names,
    _without,
    changed_in_place,
    known_arrays,
    pushes_and_pops,
)
from overbar.transpiler.reverse import Adjoint

_ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.operator, ast.unaryop, ast.Load)
_INDEX = (
    ast.Name,
    ast.Constant,
    ast.Slice,
    ast.Tuple,
    ast.BinOp,
    ast.UnaryOp,
    ast.operator,
    ast.unaryop,
    ast.Load,
)


def recompute_loop_values(
    adjoint: Adjoint,
    runtime: Runtime,
    namespace: Namespace | None = None,
    modules: frozenset[str] = frozenset(),
) -> Adjoint:
    """The adjoint with the cheap values above computed in the undoing loop, not pushed.
    ``modules`` are the names the function reads and never binds that are bound to modules."""
    stack = adjoint.stack
    body = adjoint.tree.body
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    pushes, pops = pushes_and_pops(adjoint)
    once = {name for name, count in pushes.items() if count == 1 and pops[name] == 1}
    if not once:
        return adjoint
    steady, bound, changed_in_place, rebound_in_reverse = _steady_names(
        adjoint, set(pushes), modules
    )
    shapes = dict(adjoint.shapes)
    facts = runtime.shapes
    undoing = _undoing_loops(reverse, stack)
    helpers = {value: name for name, value in adjoint.bindings}
    shape_only = _shape_only_positions(runtime, helpers)
    library = module_names(adjoint.bindings, namespace, runtime)
    unwritten: dict[str, bool] = {}
    bars = {bar for bar, _ in adjoint.adjoints}
    writers = _memory_writers(adjoint.tree, known_arrays(adjoint)) - bars - modules - library
    forward_only = copy.copy(adjoint.tree)
    forward_only.body = forward

    def never_written(name: str) -> bool:
        """Whether no name that may share ``name``'s memory in the forward sweep is written
        into anywhere (an adjoint aside: the reverse sweep writes only into adjoints it owns,
        and into arrays the forward sweep wrote into, restoring them)."""
        if name not in unwritten:
            sharing = _sharing(
                name,
                forward_only,
                stack,
                shape_only,
                lambda value: _makes_new_array(value, library, runtime),
            )
            unwritten[name] = not (sharing & writers)
        return unwritten[name]

    recomputed: dict[str, ast.expr] = {}  # name -> its value, computed again
    # id(undoing loop) -> the place of its index's pop and the lines to put after it
    inserted: dict[int, tuple[int, list[ast.stmt]]] = {}

    for loop in (loop for s in forward for loop in _loops(s)):
        if not isinstance(loop.target, ast.Name) or _jumps_out(loop):
            continue
        index = loop.target.id
        top = loop.body
        if not any(_pushed_reference(s, stack) == index for s in top) or index not in once:
            continue
        if bound[index] != 1 or index in changed_in_place | rebound_in_reverse:
            continue
        found = undoing.get(index)
        if found is None:
            continue
        undo, index_place = found
        # an index that is not an integer (a row of an array iterated) may be a view of an
        # array written later: its elements are read only as the trip saw them
        available = steady | ({index} if facts.is_integer(shapes.get(index)) else set())
        lines: list[ast.stmt] = []
        for place, statement in enumerate(top[:-1]):
            name = _pushed_reference(statement, stack)
            binding = top[place + 1]
            if (
                name is None
                or name not in once
                or name == index
                or not _binds(binding, name)
                or bound[name] != 1
                or name in changed_in_place | rebound_in_reverse
                or not _cheap(binding.value, available, shapes, facts)
                or not all(
                    never_written(n.id)
                    for n in ast.walk(binding.value)
                    if isinstance(n, ast.Name)
                    and n.id in steady
                    and n.id not in modules
                    and not facts.is_integer(shapes.get(n.id))
                )
                or not _read_only_before_its_pop(name, undo, index_place, reverse, stack)
            ):
                continue
            available = available | {name}
            recomputed[name] = binding.value
            line = ast.Assign([ast.Name(name, ast.Store())], clone(binding.value))
            lines.append(ast.copy_location(line, binding))
        if lines:
            inserted[id(undo)] = (index_place, lines)
    if not recomputed:
        return adjoint

    def keep(node: ast.AST) -> bool:
        if isinstance(node, ast.Expr):
            return _pushed_name(node, stack) not in recomputed
        return not (_is_pop(node, stack) and node.targets[0].id in recomputed)

    names = set(recomputed)
    new_forward = [_without(s, keep, names) for s in forward]
    new_forward = [s for s in new_forward if s is not None]
    new_reverse = [_without(_inserted(s, inserted), keep, names) for s in reverse]
    tree = copy.copy(adjoint.tree)
    tree.body = new_forward + [s for s in new_reverse if s is not None]
    return replace(adjoint, tree=tree, forward_length=len(new_forward))


def _loops(statement: ast.stmt):
    """The ``for`` loops in ``statement``, itself included, outside nested functions (whose
    pushes are their own)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return
    if isinstance(statement, ast.For):
        yield statement
    for field in ("body", "orelse", "finalbody"):
        for inner in getattr(statement, field, None) or []:
            if isinstance(inner, ast.stmt):
                yield from _loops(inner)
    for handler in getattr(statement, "handlers", None) or []:
        for inner in handler.body:
            yield from _loops(inner)


_LIST_CHANGES = frozenset({"append", "pop", "extend", "insert"})  # write no array's memory


def _memory_writers(tree: ast.AST, arrays: frozenset[str]) -> set[str]:
    """The names whose memory may be written: written into (``N[i] = v``), updated in place
    (``N += v``) or the receiver of a method call (``N.sort()``) other than a list's
    ``append``, ``pop``, ``extend`` or ``insert`` and an array's reading method (``row.max()``,
    for a name of ``arrays``)."""
    return changed_in_place(tree, harmless=_LIST_CHANGES, arrays=arrays)


def _undoing_loops(reverse: list[ast.stmt], stack: str) -> dict[str, tuple[ast.For, int]]:
    """For each name popped at the top level of a reverse loop's body: the loop and the place
    of the pop in its body."""
    found: dict[str, tuple[ast.For, int]] = {}
    for statement in reverse:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.For):
                for place, inner in enumerate(node.body):
                    if _is_pop(inner, stack):
                        found.setdefault(inner.targets[0].id, (node, place))
    return found


def _jumps_out(loop: ast.For) -> bool:
    """Whether a trip of ``loop`` may end before its body's last statement."""
    return bool(loop.orelse) or any(
        isinstance(n, ast.Break | ast.Continue | ast.Return | ast.Yield | ast.YieldFrom)
        for n in walk_breadth_first(loop)
    )


def _binds(statement: ast.stmt, name: str) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == name
    )


def _cheap(value: ast.expr, available: set[str], shapes: dict[str, Any], facts: Any) -> bool:
    """Arithmetic of numbers, or an element or basic slice of an array, of ``available``
    names and constants: no more work than a push."""
    if isinstance(value, ast.Subscript):
        base = value.value
        if not (
            isinstance(base, ast.Name)
            and base.id in available
            and isinstance(shapes.get(base.id), tuple)
            and len(shapes[base.id]) > 0
        ):
            return False
        return all(
            isinstance(n, _INDEX)
            and not (
                isinstance(n, ast.Name)
                and (n.id not in available or not facts.is_integer(shapes.get(n.id)))
            )
            and not (isinstance(n, ast.Constant) and not _index_constant(n.value))
            for n in ast.walk(value.slice)
        )
    if not isinstance(value, ast.BinOp | ast.UnaryOp):
        return False
    return all(
        isinstance(n, _ARITHMETIC)
        and not (
            isinstance(n, ast.Name)
            and (n.id not in available or not _a_number(shapes.get(n.id), facts))
        )
        and not (isinstance(n, ast.Constant) and not isinstance(n.value, int | float | complex))
        for n in ast.walk(value)
    )


def _index_constant(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _a_number(shape: Any, facts: Any) -> bool:
    return shape == () or facts.is_integer(shape)


def _read_only_before_its_pop(
    name: str, undo: ast.For, index_place: int, reverse: list[ast.stmt], stack: str
) -> bool:
    """Whether the reverse sweep reads ``name`` only in ``undo``'s body, after the index's pop
    (at ``index_place``) and before ``name``'s own pop (at its body's top level)."""
    pop_place = next(
        (p for p, s in enumerate(undo.body) if _is_pop(s, stack) and s.targets[0].id == name),
        None,
    )
    if pop_place is None or pop_place < index_place:
        return False
    allowed = {
        id(n) for s in undo.body[index_place + 1 : pop_place] for n in walk_breadth_first(s)
    }
    allowed.add(id(undo.body[pop_place].targets[0]))
    return all(
        id(n) in allowed
        for s in reverse
        for n in walk_breadth_first(s)
        if isinstance(n, ast.Name) and n.id == name
    )


def _inserted(statement: ast.stmt, inserted: dict[int, tuple[int, list[ast.stmt]]]) -> ast.stmt:
    """``statement`` with each undoing loop in it given its lines right after its index's pop
    (copied where something changes, shared elsewhere)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement
    new = None
    for field in ("body", "orelse"):
        block = getattr(statement, field, None)
        if not (isinstance(block, list) and block and isinstance(block[0], ast.stmt)):
            continue
        inner = [_inserted(s, inserted) for s in block]
        if field == "body" and id(statement) in inserted:
            place, lines = inserted[id(statement)]
            inner = inner[: place + 1] + [clone(line) for line in lines] + inner[place + 1 :]
        if len(inner) != len(block) or any(a is not b for a, b in zip(inner, block, strict=True)):
            new = new or copy.copy(statement)
            setattr(new, field, inner)
    return new or statement
