"""Objects made in the differentiated function, taken apart into their attributes.

An object made in the function (``cell = Cell(W, U, b)``) and used there only by reading its
attributes and calling its methods (``cell(h, x)``, ``cell.step(h, x)``) is, to the function,
nothing but the values of its attributes: its ``__init__`` is written out where it is made,
each attribute a local named after the object (``cell_W``), its methods are spliced in where
they are called as helpers are (``inline.py``), with ``self`` the object, and each read of an
attribute reads that local. Before and after, for ``Cell.__init__`` storing ``self.W = W``
and ``self.scale = 1 / np.sqrt(n)``, and ``__call__`` returning
``np.tanh(self.scale * (h @ self.W))``::

    cell = Cell(W, n)                    tmp1 = np.sqrt(n)
    for x in xs:                         cell_scale = 1 / tmp1
        h = cell(h, x)                   for x in xs:
                                             tmp2 = h @ W
                                             tmp3 = cell_scale * tmp2
                                             h = np.tanh(tmp3)

(an attribute stored straight from a parameter, ``self.W = W``, is read as the argument
itself where that name is never bound again: ``W`` above). The loop then gets every
optimisation an inlined body gets: no pullback per step, the weights' adjoints summed once
after the loop.

Identity: an object's attributes hold what its ``__init__`` stored, changed by nothing but
stores into them; a method call is the method's body with ``self`` bound to the object. So a
function that only reads the object's attributes and calls its methods computes the same
with each attribute a local that ``__init__``'s body, written with those locals, binds.
Side conditions, each checked (an object that fails one is left as it is: its methods get
pullbacks as a model's do, or, for a class whose ``__init__`` does more than store its
arguments, the call is refused):

- its class meets ``constructors.initialiser``'s conditions (a plain class, or a dataclass,
  whose ``__init__`` stores each attribute on every run, reads ``self`` only as
  ``self.a`` already stored, and no attribute is a data descriptor), and the call binds
  ``__init__``'s parameters (a default left out a literal); every name ``__init__`` reads
  from outside itself means the same object in the function, and is not one it binds (as
  for a method spliced in: ``inline.py``);
- its name is bound once in the function, by that call, and is not a parameter;
- after every method it calls has been spliced in (methods calling methods of ``self``
  included), the name is read only as ``name.a`` of an attribute ``__init__`` stores: never
  passed to a function, returned, stored, compared, or the receiver of a method that could
  not be spliced (one that stores into ``self``, has several returns, calls itself, ...);
- a method is a plain function of the class (the one found on the class, as Python finds
  it), not shadowed by an attribute of that name.

An object passed in (a parameter the call's shapes say is an object of a class, never bound
again in the function, of a class that reads attributes as ``object`` does) is taken apart
the same way where every use of it is, once its methods are spliced in, a read of an
attribute it holds (not a data descriptor of its class): each attribute read is read once
where the function starts (``cell_W = cell.W``), and the lines read that local. Identity:
nothing in the function changes the object (the fence refuses stores into an argument's
attributes, the spliced methods were fenced as the function is, and no call is given the
object), so an attribute holds the same value all through the function. Its adjoint is
still the dict of its attributes' (``attribute_bar``, once per attribute).

Not an optimisation (the literal adjoint takes objects apart too): a class whose
``__init__`` computes has no pullback to stand for it, and an object held by an object, or a
static method, only this pass differentiates; the literal adjoint refusing what the
optimised one differentiates would make ``check=True`` refuse it.

Invariant established: no name the pass took apart is read in the function.
"""

from __future__ import annotations

import ast
import inspect
import types
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import OverbarError, UnsupportedSyntaxError
from overbar.runtime.interface import Runtime
from overbar.transpiler.constructors import Initialiser, initialiser, stored_arguments
from overbar.transpiler.fence import check_supported
from overbar.transpiler.inline import (
    DEPTH,
    Splicer,
    bound_arguments,
    inlinable_form,
    located,
)
from overbar.transpiler.names import clone, statements_breadth_first, walk_breadth_first
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.normalize_expressions import is_global_path
from overbar.transpiler.parse import ParsedFunction, parse


@dataclass(frozen=True)
class _Candidate:
    """An object the pass may take apart: its class, the attributes it holds, and for one
    made in the function its ``__init__`` written out (``made``) in normal form
    (``written``); both None for an argument."""

    kind: type
    attributes: tuple[str, ...]
    made: Initialiser | None = None
    written: NormalForm | None = None
    # attributes holding an object its __init__ makes (self.cell = Cell(W)), which the
    # function may call (self.cell(h)): after this pass, a call of that object's local
    objects: frozenset[str] = frozenset()


def with_objects_taken_apart(
    form: NormalForm,
    parsed: ParsedFunction,
    runtime: Runtime,
    parameter_shapes: dict[str, Any] | None = None,
) -> NormalForm:
    """``form`` with each object that meets the side conditions above taken apart (the
    arguments ``parameter_shapes`` says are objects too: below)."""
    candidates = _made_objects(form, parsed, runtime)
    candidates.update(_argument_objects(form, runtime, parameter_shapes or {}))
    while candidates:
        objects = {name: (c.kind, c.attributes) for name, c in candidates.items()}
        splicer = Splicer(form, parsed, runtime, helpers=False, objects=objects)
        body = splicer.block(clone(form.tree).body, (parsed.function,), DEPTH)
        kept = {
            name
            for name, candidate in candidates.items()
            if not _only_attributes_read(body, name, candidate.attributes, candidate.objects)
        }
        if kept:  # an object that escapes, or a method that could not be spliced
            for name in kept:
                kind, made = candidates[name].kind, candidates[name].made
                if made is not None and stored_arguments(kind) is None:  # nor can a pullback
                    raise _refusal(name, kind, body, parsed, runtime, objects[name][1])
            candidates = {n: c for n, c in candidates.items() if n not in kept}
            continue
        return _taken_apart(form, body, splicer, candidates)
    return form


def _argument_objects(
    form: NormalForm, runtime: Runtime, parameter_shapes: dict[str, Any]
) -> dict[str, _Candidate]:
    """The parameters bound to objects (``parameter_shapes`` says which, and their classes)
    that the function never binds again, and the locals bound once, at the top of the body,
    to an object such a parameter holds (``model_cell = model.cell``, which the pass bound
    taking ``model`` apart), of classes that read attributes as ``object`` does (an attribute
    read is then a value the object holds, which nothing in the function can change: the
    fence refuses stores into an argument's attributes, and the pass takes apart only an
    object whose every other use is a method it writes out, checked as the fence checks the
    function). Those already taken apart (read only by such lines at the top) are left."""
    stores: dict[str, int] = {}
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    instance = runtime.shapes.Instance
    shapes = {
        name: parameter_shapes.get(name)
        for name in form.parameters
        if isinstance(parameter_shapes.get(name), instance) and name not in stores
    }
    for statement in form.tree.body:
        value = getattr(statement, "value", None)
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and stores.get(statement.targets[0].id) == 1
            and isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id in shapes
        ):
            held = dict(shapes[value.value.id].attributes).get(value.attr)
            if isinstance(held, instance):
                shapes[statement.targets[0].id] = held
    found = {}
    for name, shape in shapes.items():
        kind = shape.kind
        if (
            inspect.getattr_static(kind, "__getattribute__", None) is not object.__getattribute__
            or inspect.getattr_static(kind, "__getattr__", None) is not None
            or _taken_apart_already(form.tree.body, name)
        ):
            continue
        held = tuple(
            attribute
            for attribute, _ in shape.attributes
            if not _is_descriptor(inspect.getattr_static(kind, attribute, None))
        )
        objects = frozenset(
            attribute
            for attribute, inner in shape.attributes
            if attribute in held and isinstance(inner, instance)
        )
        found[name] = _Candidate(kind, held, objects=objects)
    return found


def _taken_apart_already(body: list[ast.stmt], name: str) -> bool:
    """Whether ``name`` is read only by lines ``t = name.a`` at the top of ``body``."""
    for statement in body:
        reads = any(
            isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
            for n in walk_breadth_first(statement)
        )
        if reads and not (
            isinstance(statement, ast.Assign) and _attribute_of(statement.value, name)
        ):
            return False
    return True


def _is_descriptor(found: Any) -> bool:
    """Whether a class's attribute runs code when an object's attribute of its name is read
    or stored (a property, a slot)."""
    return hasattr(found, "__set__") or hasattr(found, "__delete__")


def _made_objects(
    form: NormalForm, parsed: ParsedFunction, runtime: Runtime
) -> dict[str, _Candidate]:
    """The local names bound once, each by a call of a class whose ``__init__`` can be written
    out (with the normal form of that ``__init__``)."""
    stores: dict[str, int] = {}
    for node in walk_breadth_first(form.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1
    found = {}
    checker = Splicer(form, parsed, runtime)
    for statement in statements_breadth_first(form.tree):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
        ):
            continue
        name, call = statement.targets[0].id, statement.value
        if stores.get(name) != 1 or name in form.parameters:
            continue
        if not (
            is_global_path(call.func, form.local_names)
            or (isinstance(call.func, ast.Name) and call.func.id not in form.local_names)
        ):
            continue
        kind = parsed.namespace.resolve(call.func)
        made = initialiser(kind)
        if made is None:
            continue
        arguments = bound_arguments(made.function, _with_receiver(call))
        written = inlinable_form(made.parsed, runtime, sized=False)
        reason = None
        if arguments is None:
            reason = "the call leaves out a parameter whose default is not a literal"
        elif written is None:
            reason = "its __init__, written out as a function, cannot be put in normal form"
            if stored_arguments(kind) is None:
                check_supported(made.parsed, runtime.array_makers, runtime.copying_functions)
        elif not checker.same_outside_names(made.parsed, written[1]):
            reason = (
                "a name its __init__ reads from its module is bound here, or means something "
                "else here"
            )
        if reason is None:
            inside = _made_inside(written[1], made.attributes, made.parsed.namespace)
            found[name] = _Candidate(kind, made.attributes, made, written[1], inside)
        elif stored_arguments(kind) is None:  # nor can a pullback do without it
            raise UnsupportedSyntaxError(
                f"overbar cannot differentiate the object {name} of class {kind.__name__} "
                f"made in {parsed.name}: its __init__ does more than store its arguments, so "
                f"overbar takes the object apart into its attributes, which it cannot do "
                f"here: {reason}",
                parsed.location(statement),
            )
    return found


def _refusal(
    name: str,
    kind: type,
    body: list[ast.stmt],
    parsed: ParsedFunction,
    runtime: Runtime,
    attributes: tuple[str, ...],
) -> UnsupportedSyntaxError:
    """Why the object ``name`` of ``kind`` (whose ``__init__`` does more than store its
    arguments) cannot be taken apart: the refusal of the method it calls that overbar cannot
    write out in place, where the fence gives one (``self.calls = ...``), else a refusal at
    the first line that uses the object other than by reading an attribute."""
    for statement in body:
        for node in walk_breadth_first(statement):
            if not (isinstance(node, ast.Assign) and _uses_otherwise(node, name, attributes)):
                continue
            called = getattr(node.value, "func", None)
            if isinstance(called, ast.Attribute) and isinstance(called.value, ast.Name):
                method = inspect.getattr_static(kind, called.attr, None)
                if isinstance(method, types.FunctionType):
                    try:
                        check_supported(parse(method), runtime.array_makers)
                    except UnsupportedSyntaxError as refusal:
                        return refusal
                    except (OverbarError, OSError, TypeError, SyntaxError):
                        pass
            return UnsupportedSyntaxError(
                f"overbar cannot differentiate the object {name} of class {kind.__name__} "
                f"made in {parsed.name}: its __init__ does more than store its arguments, so "
                "overbar takes the object apart into its attributes, which it can do only "
                "where the function reads its attributes and calls methods that can be written "
                "out in place (one return, at the end; no store into self; no recursion), "
                "never passing the object on",
                parsed.location(node),
            )
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate the object {name} of class {kind.__name__} made in "
        f"{parsed.name}: it is used other than by reading its attributes and calling its "
        "methods",
        parsed.location(parsed.tree),
    )


def _uses_otherwise(statement: ast.Assign, name: str, attributes: tuple[str, ...]) -> bool:
    """Whether ``statement`` reads ``name`` other than as ``t = name.a``."""
    value = statement.value
    if (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == name
        and value.attr in attributes
    ):
        return False
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        for node in walk_breadth_first(statement)
    )


def _attributes_read(body: list[ast.stmt], name: str) -> set[str]:
    """The attributes read as ``t = name.a``, or called as ``t = name.a(...)``, in ``body``."""
    found = set()
    for statement in body:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.Assign):
                value = node.value.func if isinstance(node.value, ast.Call) else node.value
                attribute = _attribute_of(value, name)
                if attribute is not None:
                    found.add(attribute)
    return found


def _with_receiver(call: ast.Call) -> ast.Call:
    """``call`` with a first argument standing for ``self``, to bind ``__init__``'s."""
    receiver = ast.Name("self", ast.Load())
    return ast.Call(func=call.func, args=[receiver, *call.args], keywords=call.keywords)


def _only_attributes_read(
    body: list[ast.stmt],
    name: str,
    attributes: tuple[str, ...],
    objects: frozenset[str] = frozenset(),
) -> bool:
    """Whether ``name`` is read in ``body`` only as ``t = name.a``, ``a`` one of
    ``attributes``, or called as ``t = name.a(...)``, ``a`` one of ``objects`` (its one
    binding is the call that makes it)."""
    reads = sum(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        for statement in body
        for node in walk_breadth_first(statement)
    )
    attribute_reads = sum(
        isinstance(node, ast.Assign)
        and (
            _attribute_of(node.value, name) in attributes
            or (
                isinstance(node.value, ast.Call)
                and _attribute_of(node.value.func, name) in objects
                and not any(_mentions(a, name) for a in node.value.args)
                and not any(_mentions(k.value, name) for k in node.value.keywords)
            )
        )
        for statement in body
        for node in walk_breadth_first(statement)
    )
    return reads == attribute_reads


def _attribute_of(node: ast.expr, name: str) -> str | None:
    """``a`` for ``name.a``; None for anything else."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    ):
        return node.attr
    return None


def _mentions(node: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in walk_breadth_first(node))


def _made_inside(written: NormalForm, attributes: tuple[str, ...], namespace: Any) -> frozenset:
    """The attributes ``__init__`` (in normal form) binds, once, to an object it makes of a
    class the function may make too (``self.cell = Cell(W, U, b)``)."""
    bindings: dict[str, list[ast.stmt]] = {}
    for node in walk_breadth_first(written.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bindings.setdefault(node.id, []).append(node)
    found = set()
    for statement in written.tree.body:
        if not (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in attributes
            and isinstance(statement.value, ast.Call)
            and len(bindings.get(statement.targets[0].id, [])) == 1
        ):
            continue
        kind = namespace.resolve(statement.value.func)
        if initialiser(kind) is not None or stored_arguments(kind) is not None:
            found.add(statement.targets[0].id)
    return frozenset(found)


def _taken_apart(
    form: NormalForm,
    body: list[ast.stmt],
    splicer: Splicer,
    candidates: dict[str, _Candidate],
) -> NormalForm:
    """``body`` with each object's making written out as its ``__init__`` and each read of
    an attribute a read of its local."""
    locals_of: dict[str, dict[str, ast.expr]] = {}
    copies: set[str] = set()  # the attributes' locals, and the names their reads bind

    def made(name: str, statement: ast.Assign) -> list[ast.stmt]:
        initialise, written = candidates[name].made, candidates[name].written
        arguments = bound_arguments(initialise.function, _with_receiver(statement.value))
        renames = dict(initialise.renamed)
        arguments = {renames.get(p, p): a for p, a in arguments.items() if p != "self"}
        lines = splicer.renamed(written, arguments, None, prefix=name)
        locals_of[name] = {a: splicer.replacements[a] for a in initialise.attributes}
        copies.update(local.id for local in locals_of[name].values())
        returned = written.tree.body[-1].value  # None, bound to a name of its own or not
        if isinstance(returned, ast.Name) and returned.id in splicer.replacements:
            unused = splicer.replacements[returned.id].id
            lines = [line for line in lines if not _binds(line, unused)]
        return [located(line, statement) for line in lines]

    def makings(statement: ast.stmt) -> list[ast.stmt] | None:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in candidates
            and isinstance(statement.value, ast.Call)
        ):
            return made(statement.targets[0].id, statement)
        return None

    def reads(statement: ast.stmt) -> list[ast.stmt] | None:
        value = getattr(statement, "value", None)
        if (
            isinstance(statement, ast.Assign)
            and isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id in candidates
        ):
            statement.value = clone(locals_of[value.value.id][value.attr])
            copies.update(n.id for n in statement.targets if isinstance(n, ast.Name))
        elif (
            isinstance(statement, ast.Assign)
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id in candidates
        ):  # model.cell(h): the object held, called (its __call__, taken apart in turn)
            held = clone(locals_of[value.func.value.id][value.func.attr])
            value.func = ast.Attribute(held, "__call__", ast.Load())
        return None

    # an argument's attributes, each read once where the function starts (an object it
    # holds: just after the line that reads that object)
    hoisted: dict[str | None, list[ast.stmt]] = {}
    for name, candidate in candidates.items():
        if candidate.made is not None:
            continue
        read = sorted(_attributes_read(body, name))
        locals_of[name] = {
            a: ast.Name(splicer.names.fresh(f"{name}_{a}"), ast.Load()) for a in read
        }
        after = None if name in form.parameters else name
        for attribute in read:
            local = locals_of[name][attribute].id
            splicer.bound.add(local)
            copies.add(local)
            value = ast.Attribute(ast.Name(name, ast.Load()), attribute, ast.Load())
            line = located(ast.Assign([ast.Name(local, ast.Store())], value), form.tree)
            hoisted.setdefault(after, []).append(line)
    body = _rewritten(_rewritten(body, makings), reads)
    if hoisted:
        placed = list(hoisted.get(None, []))
        for statement in body:
            placed.append(statement)
            if (
                isinstance(statement, ast.Assign)
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id in hoisted
            ):
                placed.extend(hoisted[statement.targets[0].id])
        body = placed
    body, dropped = _aliases_dropped(body, copies)
    tree = clone(form.tree)
    tree.body = body
    return replace(
        form,
        tree=tree,
        local_names=(form.local_names - {n for n, c in candidates.items() if c.made})
        | (splicer.bound - dropped),
        temporaries=form.temporaries | splicer.temporaries,
        taken_names=frozenset(splicer.names.taken),
    )


def _rewritten(statements: list[ast.stmt], rewrite) -> list[ast.stmt]:
    """``statements`` (and the blocks inside them) with each statement that ``rewrite``
    replaces by lines replaced by them."""
    result: list[ast.stmt] = []
    for statement in statements:
        for field in ("body", "orelse"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(statement, field, _rewritten(inner, rewrite))
        lines = rewrite(statement)
        result.extend([statement] if lines is None else lines)
    return result


def _binds(line: ast.stmt, name: str) -> bool:
    return (
        isinstance(line, ast.Assign)
        and len(line.targets) == 1
        and isinstance(line.targets[0], ast.Name)
        and line.targets[0].id == name
    )


def _aliases_dropped(body: list[ast.stmt], copies: set[str]) -> tuple[list[ast.stmt], set[str]]:
    """``body`` without the lines ``cell_W = W`` (or ``tmp4 = cell_W``) that bind one of
    ``copies`` (an attribute's local, or a read of one) to a name whose value never changes
    once bound (bound nowhere in the function, or once, at its top level), the copy read as
    that name instead; and the names so dropped.

    Identity: a name bound once to the value of a name that is never bound again holds the
    same object wherever either is read. Side conditions: the local is bound by that line
    only; the name it is bound to is bound at most once in the function, not in a branch or
    a loop (a parameter never bound again, or a value made before the object)."""
    stores: dict[str, int] = {}
    for statement in body:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                stores[node.id] = stores.get(node.id, 0) + 1
    at_top = {
        target.id
        for statement in body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    aliases: dict[str, str] = {}
    for statement in walk_breadth_first(ast.Module(body=body, type_ignores=[])):
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in copies
            and isinstance(statement.value, ast.Name)
        ):
            local, source = statement.targets[0].id, statement.value.id
            if stores.get(local) == 1 and (
                source not in stores or (stores[source] == 1 and source in at_top)
            ):
                aliases[local] = source
    if not aliases:
        return body, set()
    for local in aliases:  # cell_b = cell_a, cell_a = W: both W
        while aliases[local] in aliases:
            aliases[local] = aliases[aliases[local]]

    def dropped(statement: ast.stmt) -> list[ast.stmt] | None:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in aliases
        ):
            return []
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.Name) and node.id in aliases:
                node.id = aliases[node.id]
        return None

    body = _rewritten(body, dropped)
    return body, set(aliases)
