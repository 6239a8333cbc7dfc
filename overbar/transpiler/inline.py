"""Small helpers inlined: their normal form spliced into the caller's at the call.

A user helper called from a differentiated function otherwise gets a forward function and a
pullback of its own (the forward function returns its residuals, ``lines.forward_call``; with
``Optimisations.residuals`` off the pullback runs the helper forward again), each a Python call
per call, optimised alone, without what the caller knows. Inlined, the helper's lines are the
caller's: its values are recorded like the caller's own, its adjoint is specialised on the
caller's shapes, and the optimiser sees across the call. For

    def lse(v):                          total = total + lse(X[i])
        m = np.max(v)
        return m + np.log(np.sum(np.exp(v - m)))

the caller's normal form reads ``lse_v = X[i]``-free code: ``lse_m = np.max(tmp3)``, ...,
``tmp4 = lse_m + ...``, ``total = total + tmp4``.

Identity: a call ``t = h(a, b)`` of a Python function computes what its body computes with its
parameters bound to the arguments, and the result is what its one ``return`` returns. Side
conditions, each checked, a call that fails one keeps its pullback:

- ``h`` is the user's own function with no rule registered for it (a rule wins), not being
  inlined already (recursion) and not the function being differentiated;
- overbar reads ``h`` (source, supported syntax) and its normal form has one ``return``, its
  last statement, no ``global``/``nonlocal``, no nested function or lambda, and at most
  ``_LARGEST_HELPER`` statements (a speed heuristic: a method of an object taken apart,
  ``objects.py``, is spliced whatever its length, since the object cannot be taken apart
  otherwise);
- the call binds every parameter to an atom (no ``*args``/``**kwargs``; defaults that are
  literals, or global paths naming the default: ``activation=np.tanh``); a parameter bound to
  a function (``apply(np.cos, x)``, that default) by a global path the caller reads as the same
  object, and never rebound in ``h``, is replaced by that path, so that the spliced call is a
  call of the function; a parameter ``h`` calls that holds anything else keeps the pullback;
- every name ``h`` reads from outside itself means the same object in the caller's namespace,
  and is not a name the caller binds (else the spliced lines would read the caller's);
- ``h``'s own names are renamed to names the caller does not use; a parameter ``h`` rebinds,
  or whose argument is not a name or a number, is a fresh local bound to the argument (as a
  call binds it: the same object); one it does not is replaced by the argument itself.

The spliced lines carry the call's line, so errors and the adjoint's comments name the user's
line of the call.
"""

from __future__ import annotations

import ast
import inspect
import types
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import OverbarError
from overbar.runtime.interface import Runtime
from overbar.transpiler.fence import check_supported
from overbar.transpiler.kept import cache_of
from overbar.transpiler.linear_recursion import with_recursion_as_loops
from overbar.transpiler.made_and_called import with_objects_named
from overbar.transpiler.names import NameAllocator, clone, walk_breadth_first
from overbar.transpiler.normalize import NormalForm, normalize
from overbar.transpiler.parse import MISSING, ParsedFunction, parse, with_functions
from overbar.transpiler.partials import with_partials_called_through
from overbar.transpiler.reduce_loops import with_reduce_as_loops
from overbar.transpiler.unpacked_writes import with_unpacked_writes
from overbar.transpiler.unpacking import with_known_unpacking

_LARGEST_HELPER = 60  # statements of a helper's normal form, nested ones included
DEPTH = 4  # helpers inlined into inlined helpers, at most this deep
_KEPT = "normal form for inlining"  # the key of (parsed, form) in what is kept of a function


def inline_helpers(form: NormalForm, parsed: ParsedFunction, runtime: Runtime) -> NormalForm:
    """``form`` with every call of a helper that meets the side conditions above inlined."""
    splicer = Splicer(form, parsed, runtime)
    body = splicer.block(form.tree.body, (parsed.function,), DEPTH)
    if not splicer.inlined:
        return form
    tree = clone(form.tree)
    tree.body = body
    return replace(
        form,
        tree=tree,
        local_names=form.local_names | splicer.bound,
        temporaries=form.temporaries | splicer.temporaries,
        taken_names=frozenset(splicer.names.taken),
    )


class Splicer:
    """Splices helpers' bodies into ``form``; with ``helpers`` false, only the methods of
    ``objects`` (local names, each with its class and the attributes its objects hold:
    ``objects.py``), whose ``self`` is the object's name."""

    def __init__(
        self,
        form: NormalForm,
        parsed: ParsedFunction,
        runtime: Runtime,
        helpers: bool = True,
        objects: dict[str, tuple[type, tuple[str, ...]]] | None = None,
    ):
        self.form, self.parsed, self.runtime = form, parsed, runtime
        self.names = NameAllocator(form.taken_names | form.local_names | set(form.parameters))
        self.bound: set[str] = set()
        self.temporaries: set[str] = set()
        self.inlined = False
        self.helpers = helpers
        self.objects = objects or {}
        self.replacements: dict[str, ast.expr] = {}  # the last splice's names

    def block(self, statements: list[ast.stmt], inside: tuple, depth: int) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(statement, field, self.block(inner, inside, depth))
            spliced = self.spliced(statement, inside, depth)
            result.extend(spliced if spliced is not None else [statement])
        return result

    def spliced(self, statement: ast.stmt, inside: tuple, depth: int) -> list[ast.stmt] | None:
        """The lines that replace ``t = h(...)``, or None to keep it."""
        if depth == 0 or not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
        ):
            return None
        call = statement.value
        helper = self.method_called(call)
        prefix = None
        if isinstance(helper, _Static):  # a static method: its function, called as it is
            helper, prefix = helper.function, call.func.attr
        elif helper is not None:  # cell.step(h): Cell.step(cell, h)
            receiver = call.func.value
            call = ast.Call(func=call.func, args=[receiver, *call.args], keywords=call.keywords)
            prefix = receiver.id if call.func.attr == "__call__" else call.func.attr
        elif self.helpers:
            helper = self.parsed.namespace.resolve(call.func)
        if not self.is_helper(helper) or helper in inside:
            return None
        arguments = bound_arguments(helper, call)
        functions = None if arguments is None else self.functions_passed(helper, arguments)
        if functions is None:
            return None
        # a method of an object taken apart is spliced whatever its length: the object
        # cannot be taken apart otherwise
        read = _read(helper, self.runtime, functions, sized=prefix is None)
        if read is None:
            return None
        helper_parsed, helper_form = read
        if not self.same_outside_names(helper_parsed, helper_form):
            return None
        called = {
            node.func.id
            for node in walk_breadth_first(helper_form.tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        } & set(helper_form.parameters)
        if called - set(functions) or set(functions) & _assigned(helper_form.tree):
            return None  # it calls a parameter that holds no function known here
        lines = self.renamed(
            helper_form, arguments, statement.targets[0].id, set(functions), prefix
        )
        lines = self.block(lines, (*inside, helper), depth - 1)
        self.inlined = True
        return [located(line, statement) for line in lines]

    def method_called(self, call: ast.Call) -> Any:
        """The method ``call`` calls on one of ``objects`` (``cell.step(h)``, ``cell(h)`` as
        ``cell.__call__(h)``): a plain function of its class (or a static method's function,
        as ``_Static``), not shadowed by an attribute its objects hold; None for any other
        call."""
        called = call.func
        if not (
            isinstance(called, ast.Attribute)
            and isinstance(called.value, ast.Name)
            and called.value.id in self.objects
        ):
            return None
        kind, attributes = self.objects[called.value.id]
        found = inspect.getattr_static(kind, called.attr, None)
        if isinstance(found, staticmethod):  # cell.act(z): Cell.act(z), no self
            found = found.__func__
            if not isinstance(found, types.FunctionType) or called.attr in attributes:
                return None
            return _Static(found)
        if not isinstance(found, types.FunctionType) or called.attr in attributes:
            return None
        return found

    def is_helper(self, primal: Any) -> bool:
        """A function of the user's own with no rule: what the reverse sweep gives a pullback."""
        if not inspect.isfunction(primal) or primal.__name__ == "<lambda>":
            return False
        if (primal.__module__ or "").startswith("numpy") or hasattr(
            primal, "__overbar_transform__"
        ):
            return False
        try:
            return not self.runtime.rules.lookup(primal)
        except TypeError:
            return False

    def is_function(self, argument: ast.expr) -> bool:
        """Whether the argument names a function (``np.cos``, a helper, a lambda)."""
        if not isinstance(argument, ast.Name | ast.Attribute):
            return False
        if isinstance(argument, ast.Name) and argument.id in self.form.local_names:
            return False  # a value computed in the function
        value = self.parsed.namespace.resolve(argument)
        return value is not MISSING and callable(value) and not hasattr(value, "shape")

    def functions_passed(
        self, helper: Any, arguments: dict[str, ast.expr]
    ) -> dict[str, Any] | None:
        """The parameters bound to a function by a global path the caller reads as the same
        object (``np.tanh``, ``sigmoid``, a parameter its own caller bound to one; a default
        ``activation=np.tanh`` the call leaves): the spliced lines call that path instead.
        None where an argument names a function any other way (a local value)."""
        functions = {}
        signature = inspect.signature(helper)
        for parameter, argument in arguments.items():
            if not self.is_function(argument):
                continue
            root = argument
            while isinstance(root, ast.Attribute):
                root = root.value
            if not isinstance(root, ast.Name) or root.id in self.form.local_names:
                return None
            default = signature.parameters[parameter].default
            if getattr(argument, "_overbar_default", False) and (
                self.parsed.namespace.resolve(argument) is not default
            ):
                return None  # the default's path means something else in the caller
            functions[parameter] = self.parsed.namespace.resolve(argument)
        return functions

    def same_outside_names(self, helper: ParsedFunction, form: NormalForm) -> bool:
        own = form.local_names | set(form.parameters)
        mine = self.form.local_names | set(self.form.parameters)
        for node in walk_breadth_first(form.tree):
            if not isinstance(node, ast.Name) or node.id in own:
                continue
            value = helper.namespace.lookup(node.id)
            if (
                node.id in mine
                or value is MISSING
                or self.parsed.namespace.lookup(node.id) is not value
            ):
                return False
        return True

    def renamed(
        self,
        form: NormalForm,
        arguments: dict[str, ast.expr],
        result: str | None,
        functions: set[str] = frozenset(),
        prefix: str | None = None,
    ) -> list:
        """The helper's body with its names made the caller's and its return an assignment
        to ``result`` (dropped where ``result`` is None), a parameter in ``functions``
        replaced by the path of the function it is bound to; its names prefixed by ``prefix``
        (the helper's name by default). ``replacements`` keeps what each name became."""
        rebound = _assigned(form.tree)
        replacements: dict[str, ast.expr] = {}
        self.replacements = replacements
        lines: list[ast.stmt] = []
        prefix = prefix or form.tree.name
        for parameter in form.parameters:
            argument = arguments[parameter]
            if parameter in functions:
                replacements[parameter] = argument
            elif parameter in rebound or not _is_atom(argument):
                fresh = self.names.fresh(f"{prefix}_{parameter}")
                self.bound.add(fresh)
                lines.append(ast.Assign([ast.Name(fresh, ast.Store())], clone(argument)))
                replacements[parameter] = ast.Name(fresh, ast.Load())
            else:
                replacements[parameter] = argument
        returned = form.tree.body[-1].value
        direct = _bound_once_at_top(form, returned) if result is not None else None
        for local in sorted(form.local_names - set(form.parameters)):
            if local == direct:
                fresh = result  # the returned value is made in the caller's name
            elif local in form.temporaries:
                fresh = self.names.numbered("tmp")
                self.temporaries.add(fresh)
            else:
                fresh = self.names.fresh(f"{prefix}_{local}")
            self.bound.add(fresh)
            replacements[local] = ast.Name(fresh, ast.Load())
        body = [_Renamer(replacements).visit(clone(line)) for line in form.tree.body]
        returned = body.pop()
        lines.extend(body)
        if direct is None and result is not None:
            lines.append(ast.Assign([ast.Name(result, ast.Store())], returned.value))
        return lines


@dataclass(frozen=True)
class _Static:
    """A static method of an object's class: its function, called without the object."""

    function: Any


def _is_atom(argument: ast.expr) -> bool:
    """A name or a number: what may stand wherever the helper reads its parameter."""
    return isinstance(argument, ast.Name) or (
        isinstance(argument, ast.Constant)
        and isinstance(argument.value, int | float)
        and not isinstance(argument.value, bool)
    )


def _bound_once_at_top(form: NormalForm, returned: ast.expr) -> str | None:
    """The helper's local that ``return`` returns, if one top-level line binds it and nothing
    else does (it can then be bound in the caller's name directly)."""
    if not isinstance(returned, ast.Name) or returned.id in form.parameters:
        return None
    name = returned.id
    stores = [
        node
        for node in walk_breadth_first(form.tree)
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load)
    ]
    top = [
        statement
        for statement in form.tree.body
        if isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == name
    ]
    return name if len(stores) == 1 and len(top) == 1 else None


def _read(
    helper: Any, runtime: Runtime, functions: dict[str, Any], sized: bool = True
) -> tuple[ParsedFunction, NormalForm] | None:
    """The helper parsed and in normal form, its parameters in ``functions`` calls of the
    functions bound to them, if it can be inlined (kept with the function)."""
    kept = cache_of(helper)
    key = (_KEPT, tuple(sorted(functions.items(), key=lambda item: item[0])), sized)
    if key not in kept:
        kept[key] = _inlinable(helper, runtime, functions, sized)
    return kept[key]


def _inlinable(
    helper: Any, runtime: Runtime, functions: dict[str, Any], sized: bool = True
) -> tuple[ParsedFunction, NormalForm] | None:
    try:
        parsed = with_known_unpacking(with_functions(parse(helper), functions))
        parsed = with_objects_named(with_unpacked_writes(parsed))
        parsed = with_reduce_as_loops(parsed)
        if with_partials_called_through(parsed) is not parsed:
            return None  # it calls a partial: its pullback reads the function bound to it
        parsed = with_recursion_as_loops(parsed)  # a recursion: as the pullback sees it
    except (OverbarError, OSError, TypeError, ValueError, SyntaxError):
        return None  # its pullback says why, if the call needs one
    return inlinable_form(parsed, runtime, sized)


def inlinable_form(
    parsed: ParsedFunction, runtime: Runtime, sized: bool = True
) -> tuple[ParsedFunction, NormalForm] | None:
    """``parsed`` and its normal form, if a call of it can be spliced (the side conditions
    on its body above); None otherwise."""
    try:
        check_supported(
            parsed,
            runtime.array_makers,
            runtime.copying_functions,
            copying_unless=runtime.copying_unless,
        )
        form = normalize(parsed)
    except (OverbarError, OSError, TypeError, ValueError, SyntaxError):
        return None  # its pullback says why, if the call needs one
    body = form.tree.body
    returns = [node for node in walk_breadth_first(form.tree) if isinstance(node, ast.Return)]
    if (
        len(returns) != 1
        or body[-1] is not returns[0]
        or returns[0].value is None
        or sized
        and sum(isinstance(node, ast.stmt) for node in walk_breadth_first(form.tree))
        > _LARGEST_HELPER
        or any(
            isinstance(
                node,
                ast.Global | ast.Nonlocal | ast.Lambda | ast.FunctionDef | ast.Yield | ast.Try,
            )
            for statement in body
            for node in walk_breadth_first(statement)
        )
    ):
        return None
    arguments = form.tree.args
    if arguments.vararg or arguments.kwarg:
        return None
    return parsed, form


def bound_arguments(helper: Any, call: ast.Call) -> dict[str, ast.expr] | None:
    """Each parameter's argument at ``call`` (a default as a literal, or as the global path
    its ``def`` writes where that path names the default, ``activation=np.tanh``), or None."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    signature = inspect.signature(helper)
    try:
        bound = signature.bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError:
        return None
    arguments: dict[str, ast.expr] = {}
    for name, parameter in signature.parameters.items():
        if name in bound.arguments:
            arguments[name] = bound.arguments[name]
        elif isinstance(parameter.default, bool | int | float | str | type(None)):
            arguments[name] = ast.Constant(parameter.default)
        elif (path := _default_path(helper, name, parameter.default)) is not None:
            path._overbar_default = True  # checked to mean the same in the caller
            arguments[name] = path
        else:
            return None
    return arguments


def _default_path(helper: Any, name: str, default_value: Any) -> ast.expr | None:
    """The expression the ``def`` of ``helper`` writes as parameter ``name``'s default, if it
    is a dotted global path (``np.tanh``, ``sigmoid``) naming ``default_value`` there, else
    None. The helper's source is read only here, for a default that is not a literal."""
    try:
        parsed = parse(helper)
    except (OverbarError, OSError, TypeError, ValueError, SyntaxError):
        return None
    arguments = parsed.tree.args
    positional = [*arguments.posonlyargs, *arguments.args]
    with_defaults = positional[len(positional) - len(arguments.defaults) :]
    pairs = list(zip(with_defaults, arguments.defaults, strict=True))
    pairs += [
        (a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d
    ]
    for parameter, default in pairs:
        if parameter.arg == name:
            node = default
            while isinstance(node, ast.Attribute):
                node = node.value
            if isinstance(node, ast.Name) and parsed.namespace.resolve(default) is default_value:
                return clone(default)
            return None
    return None


def _assigned(tree: ast.FunctionDef) -> set[str]:
    """Names bound anywhere in the body (targets, loop variables)."""
    return {
        node.id
        for node in walk_breadth_first(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
    }


class _Renamer(ast.NodeTransformer):
    def __init__(self, replacements: dict[str, ast.expr]):
        self.replacements = replacements

    def visit_Name(self, node: ast.Name) -> ast.expr:
        replacement = self.replacements.get(node.id)
        if replacement is None:
            return node
        if isinstance(replacement, ast.Name):
            return ast.Name(replacement.id, node.ctx)
        return clone(replacement)


def located(line: ast.stmt, call: ast.stmt) -> ast.stmt:
    """``line`` with every node placed at the call's line."""
    for node in walk_breadth_first(line):
        if "lineno" in node._attributes:
            node.lineno, node.col_offset = call.lineno, call.col_offset
            node.end_lineno, node.end_col_offset = call.end_lineno, call.end_col_offset
    return line
