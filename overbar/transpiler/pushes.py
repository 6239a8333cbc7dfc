"""Values saved for the reverse sweep that, after the other passes, it no longer reads.

The reverse sweep chooses what to push while it writes the adjoint, before simplification and
the peephole rewrites; a value it read then may be read no more (``broadcast_like(g, tmp13)``
folded into ``g``). Invariant established: no name is pushed whose every pop goes back into it
and which the reverse sweep reads nowhere else. Before and after::

    for t in tmp5:                          for t in tmp5:
        stack.append(shape_of(tmp13))           tmp13 = tmp12**2
        tmp13 = tmp12**2                        ...
        ...                                 ...
    for _ in range(trips):                  for _ in range(trips):
        tmp13 = stack.pop()                     ...
        ...

Identity: a value pushed and popped back into a name nothing reads can be neither pushed nor
popped. Side conditions: the pushes of ``N`` (``stack.append(N)``, ``stack.append(shape_of(N))``)
are as many as the pops into ``N`` (``N = stack.pop()``), so each of them is popped back into
``N`` (the stack is last in, first out, and a pop goes to the name its push saved, or to a fresh
name for a value a line reads while overwriting it: then the counts differ and nothing goes);
no statement of the reverse sweep reads ``N`` once a pop into it may have run (a read
before every pop sees the forward sweep's last value, which pushes and pops leave alone: in a
top-level statement before the first that pops into ``N``); taking them all away leaves
every other push paired with the same pop.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.copies import is_pop as _is_pop_call
from overbar.transpiler.library import library_function, module_names
from overbar.transpiler.names import clone, walk_breadth_first
from overbar.transpiler.parse import Namespace
from overbar.transpiler.primitive import index_value
from overbar.transpiler.reverse import Adjoint


def drop_unread_pushes(adjoint: Adjoint) -> Adjoint:
    """The adjoint without the pushes and pops of names its reverse sweep does not read."""
    stack = adjoint.stack
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    pushed = Counter(
        name
        for statement in forward
        for node in walk_breadth_first(statement)
        if (name := _pushed_name(node, stack)) is not None
    )
    if not pushed:
        return adjoint
    popped = Counter(
        node.targets[0].id
        for statement in reverse
        for node in walk_breadth_first(statement)
        if _is_pop(node, stack)
    )
    pop_targets = {
        id(node.targets[0])
        for statement in reverse
        for node in walk_breadth_first(statement)
        if _is_pop(node, stack)
    }
    read = _read_after_pops(reverse, stack, pop_targets)
    unread = {name for name, count in pushed.items() if popped[name] == count and name not in read}
    if not unread:
        return adjoint

    def keep(node: ast.AST) -> bool:
        if isinstance(node, ast.Expr):
            return _pushed_name(node, stack) not in unread
        return not (_is_pop(node, stack) and node.targets[0].id in unread)

    body = [_without(statement, keep, unread) for statement in adjoint.tree.body]
    kept = [statement for statement in body if statement is not None]
    lost_forward = sum(1 for statement in body[: adjoint.forward_length] if statement is None)
    tree = copy.copy(adjoint.tree)
    tree.body = kept
    return replace(adjoint, tree=tree, forward_length=adjoint.forward_length - lost_forward)


def _read_after_pops(reverse: list[ast.stmt], stack: str, pop_targets: set[int]) -> set[str]:
    """The names the reverse sweep reads once one of their pops may have run: in a top-level
    statement after the first that pops into them, or anywhere in a statement (a loop, a
    branch) that pops into them (a loop's later trips follow its earlier pops). A read before
    every pop sees the forward sweep's last value, which no push or pop changes."""
    popped: set[str] = set()
    read: set[str] = set()
    for statement in reverse:
        pops = {
            node.targets[0].id for node in walk_breadth_first(statement) if _is_pop(node, stack)
        }
        if not isinstance(statement, ast.Assign):
            popped |= pops
        read.update(
            node.id
            for node in walk_breadth_first(statement)
            if isinstance(node, ast.Name) and id(node) not in pop_targets and node.id in popped
        )
        popped |= pops
    return read


def pushes_and_pops(adjoint: Adjoint) -> tuple[Counter, Counter]:
    """How many times the forward sweep pushes each name onto the stack, and how many times
    the reverse sweep pops into each name."""
    stack, body = adjoint.stack, adjoint.tree.body
    forward, reverse = body[: adjoint.forward_length], body[adjoint.forward_length :]
    pushed = Counter(
        name
        for statement in forward
        for node in walk_breadth_first(statement)
        if (name := _pushed_name(node, stack)) is not None
    )
    popped = Counter(
        node.targets[0].id
        for statement in reverse
        for node in walk_breadth_first(statement)
        if _is_pop(node, stack)
    )
    return pushed, popped


def _pushed_name(node: ast.AST, stack: str) -> str | None:
    """``N`` for ``stack.append(N)`` and ``stack.append(shape_of(N))`` (any one-argument
    call of N: the recording saves a value or its shape)."""
    if not isinstance(node, ast.Expr):
        return None
    node = node.value
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == stack
        and len(node.args) == 1
    ):
        return None
    value = node.args[0]
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        value = value.args[0]
    return value.id if isinstance(value, ast.Name) else None


def _is_pop(node: ast.AST, stack: str) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "pop"
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == stack
        and not node.value.args
    )


def _without(statement: ast.stmt, keep, unread: set[str]) -> ast.stmt | None:
    """``statement`` without the pushes and pops ``keep`` refuses, in its blocks too; None if
    it goes itself. ``a = b = None`` (the prologue binding names pushed before their first
    assignment) loses the unread names."""
    if not keep(statement):
        return None
    if (
        isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is None
        and all(isinstance(t, ast.Name) for t in statement.targets)
    ):
        targets = [t for t in statement.targets if t.id not in unread]
        if len(targets) != len(statement.targets):
            return ast.Assign(targets, statement.value) if targets else None
        return statement
    blocks = [f for f in ("body", "orelse") if isinstance(getattr(statement, f, None), list)]
    if not blocks or isinstance(statement, ast.FunctionDef):
        return statement
    statement = copy.copy(statement)
    for field in blocks:
        inner = [_without(s, keep, unread) for s in getattr(statement, field)]
        inner = [s for s in inner if s is not None]
        if field == "body" and not inner:
            inner = [ast.Pass()]
        setattr(statement, field, inner)
    return statement


def drop_unread_restores(
    adjoint: Adjoint,
    runtime: Runtime,
    value_in_forward: bool = False,
    namespace: Namespace | None = None,
) -> Adjoint:
    """The adjoint without the saves and restores of regions no one reads again.

    A write ``y[J] = v`` of the forward sweep saves what it overwrites
    (``stack.append(saved_region(y, J))``) and the reverse sweep writes it back
    (``y[J] = stack.pop()``), so that every line undone sees the values its forward line saw.
    Where the reverse sweep reads no value that may share memory with ``y`` (``y`` itself, a
    name bound to it or to a view of it, a list holding it) but for its shape, the values
    written back are never seen: the save and the restore both go, and the save's check that
    ``y`` holds floats stays (``floating_target(y)``).

    Identity: writing into an array that nothing reads after changes nothing observed.
    Side conditions: the names that may share ``y``'s memory are found over the whole function
    (a name bound to one of them, to an expression reading one of them other than arithmetic
    or a call of one of the array library's functions that return a new array (``np.convolve``,
    ``runtime.copying_functions``, called without ``out`` or ``copy``), which make a new
    array, or a list one of them is appended to), and none is a parameter
    (the caller's array: its restores are how the caller gets it back); the reverse sweep reads
    none of them except as the target of a restore or an argument a runtime helper reads for
    its shape only; the saves and restores of each (array, index) pair are equally many, so
    removing them all leaves every other push paired with its pop. With ``value_in_forward``
    (an adjoint ``split`` cuts in two, ending ``return (value, gradients)``) the value is read
    where the forward sweep ends (``split`` moves it into the forward function), before any
    restore: it is no read of the reverse sweep's.
    """
    stack = adjoint.stack
    helpers = {value: name for name, value in adjoint.bindings}
    save = helpers.get(runtime.saved_region)
    if save is None:
        return adjoint
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    if value_in_forward and reverse and _returns_value_and_gradients(reverse[-1]):
        reverse = [*reverse[:-1], ast.Return(value=reverse[-1].value.elts[1])]
    saves = Counter(
        key
        for statement in forward
        for node in walk_breadth_first(statement)
        if (key := _saved_region_key(node, stack, save)) is not None
    )
    restores = Counter(
        key
        for statement in reverse
        for node in walk_breadth_first(statement)
        if (key := _restore_key(node, stack)) is not None
    )
    shape_only = _shape_only_positions(runtime, helpers)
    parameters = {a.arg for a in adjoint.tree.args.args + adjoint.tree.args.kwonlyargs}
    modules = module_names(adjoint.bindings, namespace, runtime)

    def fresh(value: ast.expr) -> bool:
        return _makes_new_array(value, modules, runtime)

    droppable = set()
    for array in {array for array, _ in saves}:
        sharing = _sharing(array, adjoint.tree, stack, shape_only, fresh)
        if sharing & parameters or _reads_contents(reverse, sharing, stack, shape_only):
            continue
        keys = {key for key in saves if key[0] == array}
        if all(saves[key] == restores[key] for key in keys):
            droppable |= keys
    if not droppable:
        return adjoint
    taken = {n.id for n in walk_breadth_first(adjoint.tree) if isinstance(n, ast.Name)}
    check = helpers.get(runtime.floating_target) or (
        "floating_target" if "floating_target" not in taken else None
    )
    if check is None:
        return adjoint

    def rewritten(node: ast.AST) -> ast.AST | None:
        key = _saved_region_key(node, stack, save)
        if key in droppable:
            checked = ast.Call(ast.Name(check, ast.Load()), [ast.Name(key[0], ast.Load())], [])
            return ast.copy_location(ast.Expr(checked), node)
        return None if _restore_key(node, stack) in droppable else node

    body = [_rewritten(statement, rewritten) for statement in adjoint.tree.body]
    kept = [statement for statement in body if statement is not None]
    lost_forward = sum(1 for statement in body[: adjoint.forward_length] if statement is None)
    tree = copy.copy(adjoint.tree)
    tree.body = kept
    bindings = adjoint.bindings
    if runtime.floating_target not in helpers:
        bindings = (*bindings, (check, runtime.floating_target))
    return replace(
        adjoint,
        tree=tree,
        forward_length=adjoint.forward_length - lost_forward,
        bindings=bindings,
        effects=adjoint.effects | {check},
    )


def _returns_value_and_gradients(statement: ast.stmt) -> bool:
    """``return (value, gradients)``, the end of an adjoint that ``split`` cuts in two."""
    return (
        isinstance(statement, ast.Return)
        and isinstance(statement.value, ast.Tuple)
        and len(statement.value.elts) == 2
    )


def _appended(node: ast.AST, stack: str) -> ast.expr | None:
    """``V`` for the statement ``stack.append(V)``."""
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "append"
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == stack
        and len(node.value.args) == 1
    ):
        return node.value.args[0]
    return None


def _saved_region_key(node: ast.AST, stack: str, save: str) -> tuple[str, str] | None:
    """(y, the index's dump) for ``stack.append(saved_region(y, index))``."""
    saved = _appended(node, stack)
    if (
        isinstance(saved, ast.Call)
        and isinstance(saved.func, ast.Name)
        and saved.func.id == save
        and len(saved.args) == 2
        and isinstance(saved.args[0], ast.Name)
    ):
        return saved.args[0].id, ast.dump(saved.args[1])
    return None


def _restore_key(node: ast.AST, stack: str) -> tuple[str, str] | None:
    """(y, the index's dump, as ``saved_region`` takes it) for ``y[index] = stack.pop()``."""
    if not (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Subscript)
        and isinstance(node.targets[0].value, ast.Name)
        and _is_pop_call(node.value, stack)
    ):
        return None
    index = index_value(clone(node.targets[0].slice))
    return node.targets[0].value.id, ast.dump(index)


def _sharing(
    array: str,
    tree: ast.FunctionDef,
    stack: str,
    shape_only: dict[str, tuple],
    fresh: Any = None,
) -> set[str]:
    """``array`` and every name that may share memory with it, anywhere in the function (a
    name read for its shape only by a runtime helper shares nothing through it, nor does a
    value ``fresh`` says is a new array)."""
    sizing = _shape_only_reads(tree, shape_only)
    pushed = {
        name
        for node in walk_breadth_first(tree)
        if (name := _pushed_reference(node, stack)) is not None
    }
    sharing = {array}
    changed = True
    while changed:
        changed = False
        for node in walk_breadth_first(tree):
            targets: list[str] = []
            if isinstance(node, ast.Assign) and _is_pop_call(node.value, stack):
                # a pop goes back to the name its push saved; one into another name may
                # receive any value pushed, one of these among them
                if pushed & sharing:
                    targets = [
                        t.id
                        for t in node.targets
                        if isinstance(t, ast.Name) and t.id not in pushed
                    ]
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                value = node.value
                if value is None or _is_arithmetic(value) or (fresh is not None and fresh(value)):
                    continue
                if any(
                    n.id in sharing and id(n) not in sizing
                    for n in walk_breadth_first(value)
                    if isinstance(n, ast.Name)
                ):
                    stores = node.targets if isinstance(node, ast.Assign) else [node.target]
                    targets = [
                        n.id
                        for t in stores
                        for n in walk_breadth_first(t)
                        if isinstance(n, ast.Name)
                    ]
            elif isinstance(node, ast.For):
                if any(
                    n.id in sharing
                    for n in walk_breadth_first(node.iter)
                    if isinstance(n, ast.Name)
                ):
                    targets = [
                        n.id for n in walk_breadth_first(node.target) if isinstance(n, ast.Name)
                    ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id != stack
                and any(
                    n.id in sharing
                    for a in node.args
                    for n in walk_breadth_first(a)
                    if isinstance(n, ast.Name)
                )
            ):
                targets = [node.func.value.id]  # xs.append(y): the list holds y
            new = set(targets) - sharing
            if new:
                sharing |= new
                changed = True
    return sharing


def _shape_only_reads(tree: ast.AST, shape_only: dict[str, tuple]) -> set[int]:
    """The ids of the names ``tree`` reads for their shape only: arguments of runtime helpers
    that read only their shape, and the receivers of ``.shape``, ``.ndim``, ``.size``,
    ``.dtype``."""
    found: set[int] = set()
    for node in walk_breadth_first(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for position in shape_only.get(node.func.id, ()):
                if position < len(node.args) and isinstance(node.args[position], ast.Name):
                    found.add(id(node.args[position]))
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("shape", "ndim", "size", "dtype")
            and isinstance(node.value, ast.Name)
        ):
            found.add(id(node.value))
    return found


def _pushed_reference(node: ast.AST, stack: str) -> str | None:
    """``N`` for ``stack.append(N)``: the array itself saved, not a copy or a shape."""
    saved = _appended(node, stack)
    if isinstance(saved, ast.Name):
        return saved.id
    return None


def _reads_contents(
    reverse: list[ast.stmt], sharing: set[str], stack: str, shape_only: dict[str, tuple]
) -> bool:
    """Whether the reverse sweep reads a value of one of ``sharing`` (not only its shape, and
    not as the array a restore writes into) once a restore may have run: from the first
    top-level statement that holds a restore of one of them on (a loop holding one is read
    whole: its later trips follow its earlier restores)."""
    allowed: set[int] = set()
    restoring = False
    for statement in reverse:
        restores = [
            node
            for node in walk_breadth_first(statement)
            if (key := _restore_key(node, stack)) is not None and key[0] in sharing
        ]
        restoring = restoring or bool(restores)
        if not restoring:
            continue
        allowed = _shape_only_reads(statement, shape_only) | {
            id(node.targets[0].value) for node in restores
        }
        if any(
            isinstance(node, ast.Name)
            and node.id in sharing
            and isinstance(node.ctx, ast.Load)
            and id(node) not in allowed
            for node in walk_breadth_first(statement)
        ):
            return True
    return False


def _shape_only_positions(runtime: Runtime, helpers: dict[Any, str]) -> dict[str, tuple]:
    """For each helper the generated code calls by name, the arguments it reads for their
    shape only (``own``, ``adjoint_like``, ``shape_of`` and ``zero_gradient`` besides those
    the runtime lists)."""
    known = dict(runtime.shape_only)
    known.update(
        {runtime.own: (1,), runtime.adjoint_like: (1,), runtime.shape_of: (0,)}
        | {runtime.zero_gradient: (0,)}
    )
    return {
        helpers[function]: positions
        for function, positions in known.items()
        if function in helpers
    }


def _makes_new_array(value: ast.expr, modules: frozenset[str], runtime: Runtime) -> bool:
    """A call of one of the array library's functions that return a new array or a number
    (``np.convolve(u, k)``), with no ``out`` (which returns the array given) or ``copy``
    (``np.array(x, copy=False)`` may return ``x``) keyword and no ``**`` argument."""
    function = library_function(value, modules, runtime)
    return (
        function is not None
        and function in runtime.copying_functions
        and all(k.arg not in (None, "out", "copy") for k in value.keywords)
    )


def _is_arithmetic(value: ast.expr) -> bool:
    """An expression whose value is a new array or a number, sharing no one's memory."""
    return isinstance(value, ast.BinOp | ast.UnaryOp | ast.Compare | ast.Constant)


def _rewritten(statement: ast.stmt, rewrite) -> ast.stmt | None:
    """``statement`` with each statement in it put through ``rewrite`` (None drops it)."""
    statement = rewrite(statement)
    if statement is None:
        return None
    for field in ("body", "orelse"):
        inner = getattr(statement, field, None)
        if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
            kept = [s for s in (_rewritten(s, rewrite) for s in inner) if s is not None]
            setattr(statement, field, kept or [ast.Pass()])
    return statement


def drop_invariant_pushes(adjoint: Adjoint, modules: frozenset[str] = frozenset()) -> Adjoint:
    """The adjoint without the pushes and pops of values a loop computes the same at every
    trip (``tmp10 = 2 * H`` for ``gates[:, H:2 * H]``, ``tmp3 = W.T``, ``tmp5 = 2 * np.pi``).

    Identity: where ``N`` holds the same value at every trip, restoring it before each undone
    trip restores the value it already holds. Side conditions: ``N`` is bound once in the
    forward sweep (the prologue ``N = None`` aside) and nowhere in the reverse sweep but by
    its pops; its pushes are as many as its pops (so taking them all away leaves every other
    push paired with the same pop); its value is arithmetic, an attribute, an element or a
    slice (no call: a call may draw a random number or read what changes) of constants and
    of names that do not change while the reverse sweep runs (parameters and names bound
    once at the top level before the loop, each never written into or updated in place, or
    other such values; and ``modules``, the names the function reads and never binds that
    are bound to modules, whose attributes, ``np.pi``, no program changes, a call of one of
    the module's functions, ``np.log(x)``, included, or to NumPy's and math's numbers, ``pi``
    after ``from math import pi``); nothing writes into ``N`` or updates it in place. A read
    of ``N`` the forward sweep makes before the trip that binds it would fail in the forward sweep
    too, so every read the reverse sweep makes sees that one value.
    """
    stack = adjoint.stack
    body = adjoint.tree.body
    forward = body[: adjoint.forward_length]
    pushed, popped = pushes_and_pops(adjoint)
    candidates = {name for name, count in pushed.items() if popped[name] == count}
    if not candidates:
        return adjoint
    steady, bound, changed_in_place, rebound_in_reverse = _steady_names(
        adjoint, candidates, modules
    )
    loop_bindings = [
        node
        for statement in forward
        if isinstance(statement, ast.For | ast.While)
        for node in walk_breadth_first(statement)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in candidates
    ]
    invariant: set[str] = set()
    growing = True
    while growing:
        growing = False
        for node in loop_bindings:
            name = node.targets[0].id
            if (
                name not in invariant
                and bound[name] == 1
                and name not in changed_in_place | rebound_in_reverse
                and _computed_from(node.value, steady | invariant)
            ):
                invariant.add(name)
                growing = True
    if not invariant:
        return adjoint

    def keep(node: ast.AST) -> bool:
        if isinstance(node, ast.Expr):
            return _pushed_name(node, stack) not in invariant
        return not (_is_pop(node, stack) and node.targets[0].id in invariant)

    kept_body = [_without(statement, keep, invariant) for statement in body]
    kept = [statement for statement in kept_body if statement is not None]
    lost_forward = sum(1 for s in kept_body[: adjoint.forward_length] if s is None)
    tree = copy.copy(adjoint.tree)
    tree.body = kept
    return replace(adjoint, tree=tree, forward_length=adjoint.forward_length - lost_forward)


def _steady_names(
    adjoint: Adjoint, pushed: set[str], modules: frozenset[str]
) -> tuple[set[str], Counter, set[str], set[str]]:
    """The names that hold one value while the reverse sweep runs, as ``drop_invariant_pushes``
    defines them (parameters and ``modules`` never bound, top-level single bindings other than
    the ``pushed`` names; none written into, updated in place or rebound by the reverse sweep
    other than by a pop), with what that takes: how often the forward sweep binds each name,
    the names changed in place and those the reverse sweep binds other than by a pop."""
    stack = adjoint.stack
    forward = adjoint.tree.body[: adjoint.forward_length]
    reverse = adjoint.tree.body[adjoint.forward_length :]
    bound = Counter(_bound_names(forward))
    rebound_in_reverse = set(
        name
        for statement in reverse
        for node in walk_breadth_first(statement)
        if not _is_pop(node, stack)
        for name in _targets_of(node)
    )
    written = changed_in_place(adjoint.tree, arrays=known_arrays(adjoint))
    parameters = {argument.arg for argument in adjoint.tree.args.args}
    parameters |= {argument.arg for argument in adjoint.tree.args.kwonlyargs}
    steady = {name for name in parameters | modules if bound[name] == 0}
    for statement in forward:  # top-level single bindings: before any loop reads them
        if isinstance(statement, ast.Assign) and not _is_prologue(statement):
            names = list(_targets_of(statement))
            if all(bound[name] == 1 and name not in pushed for name in names):
                steady.update(names)
    steady -= (written - modules) | rebound_in_reverse  # np.log(x) changes no np.pi
    return steady, bound, written, rebound_in_reverse


_STEADY_NODES = (
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.Load,
    ast.operator,
    ast.unaryop,
)


def _computed_from(value: ast.expr, steady: set[str]) -> bool:
    """Whether ``value`` is arithmetic, attributes, elements and slices of constants and of
    the names ``steady`` (no call, no comparison, nothing else)."""
    return all(
        isinstance(node, _STEADY_NODES) and (not isinstance(node, ast.Name) or node.id in steady)
        for node in ast.walk(value)
    )


def _is_prologue(statement: ast.stmt) -> bool:
    """``a = b = None``: the names pushed before their first binding, bound first."""
    return (
        isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is None
    )


def _targets_of(node: ast.AST) -> list[str]:
    """The names ``node`` binds, if it is a binding statement or a loop."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For):
        targets = [node.target]
    else:
        return []
    return [
        name.id
        for target in targets
        for name in ast.walk(target)
        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)
    ]


def _bound_names(statements: list[ast.stmt]):
    """Every binding of a name in ``statements`` (one entry per binding; prologues aside)."""
    for statement in statements:
        for node in walk_breadth_first(statement):
            if not _is_prologue(node):
                yield from _targets_of(node)


# Methods of an array that read it and write into nothing: ``row.max()`` leaves ``row`` as it
# was. (One that returns a view, ``u.reshape(...)``, shares its memory with the name it is bound
# to, which the walks of sharing names follow through that binding; ``out=`` is refused.)
ARRAY_READERS = frozenset(
    ["max", "min", "sum", "mean", "prod", "std", "var", "any", "all", "argmax", "argmin"]
    + ["copy", "dot", "reshape", "ravel", "flatten", "transpose", "swapaxes", "squeeze"]
    + ["astype", "clip", "round", "cumsum", "cumprod", "conj", "conjugate", "item", "tolist"]
    + ["trace", "diagonal", "take", "repeat", "nonzero", "argsort", "searchsorted", "view"]
)


def known_arrays(adjoint: Adjoint) -> frozenset[str]:
    """The names shape inference knows to hold an array or a number at every binding (their
    shape a tuple of dimensions): a method of ``ARRAY_READERS`` called on one is the array's
    own, which writes into nothing (a user's object, a list, may define it otherwise)."""
    return frozenset(name for name, shape in adjoint.shapes if isinstance(shape, tuple))


def changed_in_place(
    tree: ast.AST, harmless: frozenset[str] = frozenset(), arrays: frozenset[str] = frozenset()
) -> set[str]:
    """The names written into (``N[i] = v``), updated in place (``N += v``) or passed to a
    call as the target of an effect (``N.append(v)``, any method call on N but those named in
    ``harmless``, and for a name of ``arrays`` those of ``ARRAY_READERS``)."""
    changed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            base = node.value
            while isinstance(base, ast.Subscript | ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                changed.add(base.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed.add(node.target.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr not in harmless
            and not (node.func.value.id in arrays and node.func.attr in ARRAY_READERS)
        ):
            changed.add(node.func.value.id)
    return changed
