"""Parse: a function object becomes its syntax tree, with where it came from and what it sees.

Invariant established: ``ParsedFunction.tree`` is the function's ``def`` with decorators removed
(a lambda ``lambda x: e`` on line 12 becomes ``def lambda_12(x): return e``), and its line and
column numbers are those of the user's file, so any later error can point at the user's own line;
the tree is the code that runs when the function is called (a function a decorator replaced with
a wrapper is refused). ``Namespace`` resolves the names the function reads from its globals,
closure and builtins, without copying them.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import linecache
import re
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from overbar.errors import (
    ArgumentError,
    OverbarError,
    SourceLocation,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)
from overbar.transpiler.assignment_expressions import without_assignment_expressions
from overbar.transpiler.endless_loops import with_final_returns
from overbar.transpiler.local_imports import without_local_imports
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.recursion_depth import COMPILER_NAMES

_MISSING = object()


@dataclass(frozen=True)
class Namespace:
    """The names a function reads from outside itself: globals, closure cells and builtins;
    and, for a helper's pullback specialised on the functions its caller passes it,
    ``functions``: the parameters bound to a function at every run of the call (``f`` of
    ``apply_twice(f, v)`` called as ``apply_twice(np.tanh, x)``), which the helper calls; and
    ``nones``: the parameters bound to ``None`` at every run of the call (``b`` of ``def
    dense(x, W, b=None)`` called as ``dense(x, W)``), whose tests ``b is None`` are decided
    (``none_tests.py``)."""

    globals: Mapping[str, Any]
    closure: Mapping[str, types.CellType]
    builtins: Mapping[str, Any]
    functions: Mapping[str, Any] = field(default_factory=dict)
    nones: frozenset[str] = frozenset()
    # functions overbar made from the function's own nested defs (``nested.py``), which its
    # generated code reads as bindings of its own
    made: Mapping[str, Any] = field(default_factory=dict)
    # for a method: its first parameter (self) and the class it is defined in
    owner: tuple[str, type] | None = None

    def method(self, node: ast.expr) -> Any:
        """The function ``self.name`` calls, in a method whose class is known (``self`` its
        first parameter): the class's own method ``name`` (a plain function, not a static or
        class method), or ``MISSING``. A subclass may override it: the adjoint checks, when
        it runs, that the method called is this one."""
        if (
            self.owner is None
            or not isinstance(node, ast.Attribute)
            or not isinstance(node.value, ast.Name)
            or node.value.id != self.owner[0]
        ):
            return _MISSING
        found = inspect.getattr_static(self.owner[1], node.attr, _MISSING)
        return found if isinstance(found, types.FunctionType) else _MISSING

    def lookup(self, name: str) -> Any:
        """The value ``name`` has for the function now, or ``MISSING`` if it is unbound."""
        if name in self.made:
            return self.made[name]
        if name in self.functions:
            return self.functions[name]
        if name in self.closure:
            try:
                return self.closure[name].cell_contents
            except ValueError:
                return _MISSING
        if name in self.globals:
            return self.globals[name]
        # the names overbar's own rewrites read (a recursion's depth check), where the
        # function's globals and the builtins do not bind them
        return self.builtins.get(name, COMPILER_NAMES.get(name, _MISSING))

    def resolve(self, node: ast.expr) -> Any:
        """The object a dotted name such as ``np.linalg.inv`` refers to, or ``MISSING``."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            if owner is _MISSING:
                return _MISSING
            return getattr(owner, node.attr, _MISSING)
        return _MISSING


MISSING = _MISSING


@dataclass(frozen=True)
class ParsedFunction:
    """A user function as overbar sees it."""

    function: types.FunctionType
    tree: ast.FunctionDef
    filename: str
    namespace: Namespace
    # contexts that change no value whose ``with`` was lifted (``contexts.py``): each as the
    # source of its items and the first and last lines of the body it covered
    contexts: tuple = ()

    @property
    def name(self) -> str:
        return self.tree.name

    def location(self, node: ast.AST) -> SourceLocation:
        """Where ``node`` is in the user's file, with the text of its line."""
        line = getattr(node, "lineno", self.tree.lineno)
        column = getattr(node, "col_offset", 0)
        end_column = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", line) != line:
            end_column = None
        text = linecache.getline(self.filename, line)
        return SourceLocation(self.filename, line, column, end_column, text)


def parse(function: Any) -> ParsedFunction:
    """Read ``function``'s source and resolve the namespace it runs in.

    A ``def`` is read with ``inspect``; a lambda from the statement around it in its file, found
    by its line and, where more than one lambda starts on that line, by the columns its code
    object records (Python 3.11 and later), so ``overbar.grad(lambda x: x * x)`` works wherever
    the lambda's source can be told apart from its neighbours'. Refused, each with the user's
    file and line: a function overbar made, one replaced by a decorator (a wrapper runs, not the
    def), one whose source cannot be read, and ``async def``.
    """
    if hasattr(function, "__overbar_transform__"):
        raise OverbarError(
            "overbar cannot read a function returned by overbar.grad as source; pass the "
            "gradient itself to overbar.grad, overbar.vjp or overbar.jacobian, which "
            "differentiate the adjoint it generates"
        )
    if not isinstance(function, types.FunctionType) or _wrapped_function(function) is not None:
        raise _not_a_plain_function(function)
    if function.__code__ in _MADE:
        tree, filename = _MADE[function.__code__]
        tree = copy.deepcopy(tree)
    elif function.__code__.co_name == "<lambda>":
        tree, filename = _lambda_definition(function)
    else:
        tree, filename = _definition(function)
    tree = without_assignment_expressions(tree)
    closure = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    namespace = _namespace(function, closure)
    tree = with_final_returns(tree)  # after a final `while True:` (endless_loops.py)
    tree, imported = without_local_imports(tree, function)
    if imported:  # imports in the body: names of the namespace (local_imports.py)
        namespace = replace(namespace, made=imported)
    owner = owner_class(function)
    parameters = [a.arg for a in [*tree.args.posonlyargs, *tree.args.args]]
    if owner is not None and parameters:
        namespace = replace(namespace, owner=(parameters[0], owner))
    return ParsedFunction(function, tree, filename, namespace)


def owner_class(function: types.FunctionType) -> type | None:
    """The class ``function`` is a method of, found from its qualified name in its module's
    globals (None for a function, a static method, or a class made inside a function)."""
    parts = function.__qualname__.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    owner = function.__globals__.get(parts[0], _MISSING)
    for part in parts[1:-1]:
        owner = getattr(owner, part, _MISSING)
    if not isinstance(owner, type) or inspect.getattr_static(owner, parts[-1], None) is not (
        function
    ):
        return None
    return owner


def with_functions(parsed: ParsedFunction, functions: Mapping[str, Any]) -> ParsedFunction:
    """``parsed`` specialised on the functions its caller passes it: each parameter named in
    ``functions`` (and never assigned in the function) resolves to the function bound to it,
    so that a call of it is a call of that function; one bound to ``None`` there is one of
    ``Namespace.nones`` instead."""
    if not functions:
        return parsed
    assigned = {
        node.id
        for node in walk_breadth_first(parsed.tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
    }
    kept = {
        name: value
        for name, value in functions.items()
        if name not in assigned and value is not None
    }
    nones = frozenset(
        name for name, value in functions.items() if name not in assigned and value is None
    )
    return replace(parsed, namespace=replace(parsed.namespace, functions=kept, nones=nones))


def _namespace(function: types.FunctionType, closure: Mapping[str, Any]) -> Namespace:
    scope_builtins = function.__globals__.get("__builtins__", builtins)
    if isinstance(scope_builtins, types.ModuleType):
        scope_builtins = vars(scope_builtins)
    return Namespace(function.__globals__, closure, scope_builtins)


def _definition(function: types.FunctionType) -> tuple[ast.FunctionDef, str]:
    """The ``def`` of ``function`` (decorators removed) and its file name."""
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError) as error:
        raise _source_unavailable(function, str(error)) from None
    filename = inspect.getsourcefile(function) or function.__code__.co_filename
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_width(text) - _indent_width(dedented)
    try:
        # parsed below as many empty lines as come before it in the file, its lines are
        # numbered as there (what ``ast.increment_lineno`` would do, in a walk of its own)
        module = ast.parse("\n" * (first_line - 1) + dedented)
    except SyntaxError:
        raise _source_unavailable(function, "its file has changed since it was loaded") from None
    tree = module.body[0] if module.body else None
    if indent:  # a method or a nested def: its columns are those of the indented lines
        for node in walk_breadth_first(module):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
                if getattr(node, "end_col_offset", None) is not None:
                    node.end_col_offset += indent
    if isinstance(tree, ast.AsyncFunctionDef):
        raise UnsupportedSyntaxError(
            f"overbar cannot differentiate an async function (async def) in {tree.name}: "
            "asynchronous code cannot be differentiated; define it with def",
            header_location(filename, tree),
        )
    if not isinstance(tree, ast.FunctionDef) or tree.name != function.__code__.co_name:
        raise _source_unavailable(function, "the source at its line is not its def")
    tree.decorator_list = []
    return tree, filename


def _lambda_definition(function: types.FunctionType) -> tuple[ast.FunctionDef, str]:
    """A lambda as the ``def`` it stands for: ``lambda x: e`` on line 12 becomes
    ``def lambda_12(x): return e``, with the positions of the lambda in the user's file."""
    code = function.__code__
    try:
        filename = inspect.getsourcefile(function) or code.co_filename
    except TypeError:
        filename = code.co_filename
    lines = linecache.getlines(filename, function.__globals__)
    if not lines:
        raise _source_unavailable(function, "could not get source code")
    try:
        module = ast.parse("".join(lines))
    except SyntaxError:
        raise _source_unavailable(function, "its file has changed since it was loaded") from None
    parameters = code.co_varnames[: _parameter_count(code)]
    candidates = [
        node
        for node in walk_breadth_first(module)
        if isinstance(node, ast.Lambda)
        and node.lineno == code.co_firstlineno
        and _parameter_names(node.args) == parameters
    ]
    spans = _expression_spans(code)
    if spans is not None:
        candidates = [c for c in candidates if all(_within(span, c.body) for span in spans)]
    if not candidates:
        raise _source_unavailable(function, "no lambda at its line: has the file changed?")
    if len(candidates) > 1:
        line = code.co_firstlineno
        raise UnsupportedSyntaxError(
            f"overbar cannot tell which of the {len(candidates)} lambdas on line {line} it is "
            "asked to differentiate: put the lambda on a line of its own, or define it with def",
            SourceLocation(filename, line, 0, None, linecache.getline(filename, line)),
        )
    node = candidates[0]
    tree = ast.parse(f"def lambda_{node.lineno}():\n    return None").body[0]
    tree.args = node.args
    tree.body[0].value = node.body
    ast.copy_location(tree, node)
    ast.copy_location(tree.body[0], node.body)
    return tree, filename


def _parameter_count(code: types.CodeType) -> int:
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS)
    return count + bool(code.co_flags & inspect.CO_VARKEYWORDS)


def _parameter_names(arguments: ast.arguments) -> tuple[str, ...]:
    """In the order of ``co_varnames``: positional, keyword-only, ``*args``, ``**kwargs``."""
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return tuple(names)


def _expression_spans(code: types.CodeType) -> list[tuple[int, int, int, int]] | None:
    """The source spans the code's instructions come from (None before Python 3.11)."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return None
    return [
        span
        for span in positions()
        if None not in span and (span[0], span[2]) != (span[1], span[3])  # not zero-width
    ]


def _within(span: tuple[int, int, int, int], node: ast.expr) -> bool:
    line, end_line, column, end_column = span
    return (line, column) >= (node.lineno, node.col_offset) and (end_line, end_column) <= (
        node.end_lineno,
        node.end_col_offset,
    )


def _wrapped_function(function: Any) -> types.FunctionType | None:
    """The function a decorator wrapped (``functools.wraps`` records it), if any."""
    try:
        inner = inspect.unwrap(function)
    except ValueError:  # a cycle of __wrapped__
        return None
    if inner is function or not isinstance(inner, types.FunctionType):
        return None
    return inner


def _not_a_plain_function(function: Any) -> OverbarError:
    """The refusal of something that is not the function its source defines."""
    inner = _wrapped_function(function)
    if inner is None:
        return ArgumentError(
            "overbar differentiates Python functions (def or lambda), not "
            f"{function!r}; define a function that calls it"
        )
    if isinstance(function, types.FunctionType):
        code = function.__code__
        wrapper = f"{code.co_name}, defined at {code.co_filename}:{code.co_firstlineno}"
    else:
        wrapper = f"a {type(function).__module__}.{type(function).__qualname__}"
    try:
        decorators = _decorators(inner)
    except (OSError, TypeError, SyntaxError, IndexError):
        decorators = []
    if decorators:
        decorator, location = decorators[0]
        decorator = f"the decorator @{decorator}"
    else:
        code = inner.__code__
        text = linecache.getline(code.co_filename, code.co_firstlineno)
        location = SourceLocation(code.co_filename, code.co_firstlineno, 0, None, text)
        decorator = "a decorator"
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate {inner.__qualname__} through {decorator}, which replaces "
        f"it with another function ({wrapper}): that function runs, not the def; differentiate "
        f"the undecorated function ({inner.__name__}.__wrapped__) and leave the decorator "
        "outside",
        location,
    )


def _decorators(function: types.FunctionType) -> list[tuple[str, SourceLocation]]:
    """The decorators on ``function``'s def that are not overbar's own, outermost first."""
    lines, first_line = inspect.getsourcelines(function)
    filename = inspect.getsourcefile(function) or function.__code__.co_filename
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_width(text) - _indent_width(dedented)
    tree = ast.parse(dedented).body[0]
    tree = without_assignment_expressions(tree)
    closure = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    namespace = _namespace(function, closure)
    found = []
    for decorator in getattr(tree, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        try:
            value = namespace.resolve(target)
        except Exception:  # a property raising on access: not overbar's
            value = _MISSING
        module = getattr(value, "__module__", None) or ""
        if module == "overbar" or module.startswith("overbar."):
            continue
        line = decorator.lineno + first_line - 1
        end = (
            decorator.end_col_offset + indent if decorator.end_lineno == decorator.lineno else None
        )
        text = linecache.getline(filename, line)
        column = decorator.col_offset + indent
        if text[column - 1 : column] == "@":  # the caret under @name
            column -= 1
        found.append((ast.unparse(target), SourceLocation(filename, line, column, end, text)))
    return found


def _source_unavailable(function: types.FunctionType, reason: str) -> SourceUnavailableError:
    """The refusal of a function whose source cannot be read, saying where it was made."""
    code = function.__code__
    filename = code.co_filename
    if filename == "<stdin>":
        origin = "typed at the interactive prompt"
    elif filename == "<string>":
        origin = "made from a string by exec, compile or python -c"
    elif filename.startswith("<"):
        origin = f"made in {filename}, which is not a file"
    else:
        origin = f"defined in {filename} ({reason})"
    return SourceUnavailableError(
        f"overbar cannot read the source of {function.__qualname__}, {origin}: overbar reads "
        "a function's source to differentiate it; define the function in a module (a .py "
        "file) and import it",
        SourceLocation(
            filename,
            code.co_firstlineno,
            0,
            None,
            linecache.getline(filename, code.co_firstlineno) if filename[:1] != "<" else "",
        ),
    )


def header_location(filename: str, tree: ast.AST) -> SourceLocation:
    """Where ``def name`` (or ``async def name``) is, with a caret under it."""
    line = tree.lineno
    text = linecache.getline(filename, line)
    header = re.compile(rf"def\s+{re.escape(getattr(tree, 'name', ''))}\b")
    found = header.search(text, tree.col_offset)
    end = found.end() if found else None
    return SourceLocation(filename, line, tree.col_offset, end, text)


def _indent_width(text: str) -> int:
    first = text.splitlines()[0] if text else ""
    return len(first) - len(first.lstrip())


def positional_names(function: types.FunctionType, count: int) -> tuple[str, ...]:
    """The names ``with_arity`` gives the ``count`` arguments ``*args`` collects in a call of
    ``function``: ``args_0``, ``args_1``, ... (after the ``*args`` parameter's own name), each
    one no name in the function's code (its nested functions' included) already is."""
    code = function.__code__
    vararg = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
    taken: set[str] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        taken.update(current.co_varnames, current.co_names, current.co_freevars)
        taken.update(current.co_cellvars)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    names = []
    for index in range(count):
        name, suffix = f"{vararg}_{index}", 0
        while name in taken:
            suffix += 1
            name = f"{vararg}_{index}_{suffix}"
        names.append(name)
    return tuple(names)


# The keywords ``**kwargs`` collects at a call, in the call's order: a key that becomes a
# keyword-only parameter of its own, or a pair of a key and the constant the call passes (a
# bool, None or a string: a constant of the specialisation, which a rule's ``where`` can see).
Keywords = tuple[str | tuple[str, Any], ...]


def with_arity(
    parsed: ParsedFunction, arity: int | None | tuple[int | None, Keywords | None] | None
) -> ParsedFunction:
    """``parsed`` specialised on what its ``*args`` and ``**kwargs`` collect at a call:
    ``arity`` is the number of arguments ``*args`` collects, or that number and the keywords
    ``**kwargs`` collects (None: unspecialised; see ``Keywords``). ``def f(x, **options)``
    called with ``scale=2.0`` becomes ``def f(x, *, options_scale)`` whose body starts with
    ``options = {"scale": options_scale}`` (a new dict at each call, as Python makes it); a
    keyword collected as a constant, ``("singular", False)``, is written into the dict
    (``{"singular": False}``) and is no parameter.
    ``def f(x, *args)`` called with three arguments becomes
    ``def f(x, args_0, args_1)``, and its body reads ``args`` as the tuple ``(args_0,
    args_1)``: where ``args`` is never rebound, ``args[1]`` reads ``args_1``, ``args[1:]`` is
    ``(args_1,)``, ``len(args)`` is 2, and ``g(*args[1:])`` is ``g(args_1)``; otherwise the
    body starts with ``args = (args_0, args_1)``. The parameters before ``*args`` lose their
    defaults (a call that fills ``*args`` gives each of them)."""
    count, keywords = arity if isinstance(arity, tuple) else (arity, None)
    if keywords is not None and parsed.tree.args.kwarg is not None:
        parsed = _with_keywords(parsed, keywords)
    arguments = parsed.tree.args
    if count is None or arguments.vararg is None:
        return parsed
    names = positional_names(parsed.function, count)
    tree = _ArgsAsTuple(arguments.vararg.arg, names, parsed.namespace).visit(
        copy.deepcopy(parsed.tree)
    )
    new = tree.args
    added = [ast.copy_location(ast.arg(arg=name), new.vararg) for name in names]
    new.args = [*new.args, *added]
    if count:
        new.defaults = []
    new.vararg = None
    if arguments.vararg.arg in _stored_names(parsed.tree):
        elements = [ast.Name(id=name, ctx=ast.Load()) for name in names]
        packed = ast.Assign(
            targets=[ast.Name(id=arguments.vararg.arg, ctx=ast.Store())],
            value=ast.Tuple(elts=elements, ctx=ast.Load()),
        )
        first = tree.body[0]
        tree.body.insert(0, ast.fix_missing_locations(ast.copy_location(packed, first)))
    return replace(parsed, tree=tree)


def keyword_names(function: types.FunctionType, keywords: tuple[str, ...]) -> tuple[str, ...]:
    """The parameter names ``with_arity`` gives the keywords ``**kwargs`` collects at a call of
    ``function``: ``options_scale`` for ``scale`` (after the ``**options`` parameter's own
    name), each one no name in the function's code already is."""
    code = function.__code__
    flags = code.co_flags
    position = code.co_argcount + code.co_kwonlyargcount + bool(flags & inspect.CO_VARARGS)
    kwarg = code.co_varnames[position]
    taken = set(_names_in_code(code))
    names = []
    for key in keywords:
        name, suffix = f"{kwarg}_{key}", 1
        while name in taken:
            suffix += 1
            name = f"{kwarg}_{key}_{suffix}"
        taken.add(name)
        names.append(name)
    return tuple(names)


def _names_in_code(code: types.CodeType) -> set[str]:
    taken: set[str] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        taken.update(current.co_varnames, current.co_names, current.co_freevars)
        taken.update(current.co_cellvars)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return taken


def _with_keywords(parsed: ParsedFunction, keywords: Keywords) -> ParsedFunction:
    """``**kwargs`` as keyword-only parameters, one per keyword the call passes (a constant
    the call passes is written in place), and the dict made from them at the start of the
    body (see ``with_arity``)."""
    tree = copy.deepcopy(parsed.tree)
    kwarg = tree.args.kwarg
    named = tuple(key for key in keywords if isinstance(key, str))
    names = iter(keyword_names(parsed.function, named))
    values = [
        ast.Name(id=next(names), ctx=ast.Load()) if isinstance(key, str) else ast.Constant(key[1])
        for key in keywords
    ]
    tree.args.kwonlyargs = [
        *tree.args.kwonlyargs,
        *(
            ast.copy_location(ast.arg(arg=value.id), kwarg)
            for value in values
            if isinstance(value, ast.Name)
        ),
    ]
    tree.args.kw_defaults = [*tree.args.kw_defaults, *(None for _ in named)]
    tree.args.kwarg = None
    display = ast.Dict(
        keys=[ast.Constant(key if isinstance(key, str) else key[0]) for key in keywords],
        values=values,
    )
    made = ast.Assign(targets=[ast.Name(id=kwarg.arg, ctx=ast.Store())], value=display)
    first = tree.body[0]
    start = 1 if _is_docstring(first) and len(tree.body) > 1 else 0
    tree.body.insert(start, ast.fix_missing_locations(ast.copy_location(made, tree.body[start])))
    return replace(parsed, tree=tree)


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _stored_names(tree: ast.FunctionDef) -> set[str]:
    return {
        node.id
        for node in walk_breadth_first(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
    }


class _ArgsAsTuple(ast.NodeTransformer):
    """Reads of ``*args`` (never rebound) as the elements it holds (see ``with_arity``)."""

    def __init__(self, vararg: str, names: tuple[str, ...], namespace: Namespace):
        self.vararg, self.names, self.namespace = vararg, names, namespace
        self.active = True

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.active = self.vararg not in _stored_names(node)
        node.body = [self.visit(statement) for statement in node.body]
        return node

    def elements(self, node: ast.expr) -> list[ast.expr] | None:
        """The elements ``node`` reads, where it is ``args`` or a slice of it by constants."""
        if isinstance(node, ast.Name) and node.id == self.vararg:
            chosen = list(self.names)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == self.vararg
            and isinstance(node.slice, ast.Slice)
            and all(
                part is None or (isinstance(part, ast.Constant) and type(part.value) is int)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            )
            and not (isinstance(node.slice.step, ast.Constant) and node.slice.step.value == 0)
        ):
            bounds = (node.slice.lower, node.slice.upper, node.slice.step)
            chosen = list(self.names)[slice(*(b.value if b else None for b in bounds))]
        else:
            return None
        return [ast.copy_location(ast.Name(id=n, ctx=ast.Load()), node) for n in chosen]

    def spliced(self, items: list[ast.expr]) -> list[ast.expr]:
        """``items`` with each ``*args`` (or ``*args[i:j]``, or ``*(a, b)``) written out."""
        result = []
        for item in items:
            if isinstance(item, ast.Starred):
                inner = self.visit(item.value)
                if isinstance(inner, ast.Tuple | ast.List):
                    result.extend(inner.elts)
                    continue
                item.value = inner
                result.append(item)
            else:
                result.append(self.visit(item))
        return result

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not self.active:
            return self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and self.namespace.lookup(node.func.id) is builtins.len
            and len(node.args) == 1
            and not node.keywords
            and self.elements(node.args[0]) is not None
        ):
            return ast.copy_location(ast.Constant(len(self.elements(node.args[0]))), node)
        node.func = self.visit(node.func)
        node.args = self.spliced(node.args)
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node

    def visit_Tuple(self, node: ast.Tuple) -> ast.AST:
        if self.active and isinstance(node.ctx, ast.Load):
            node.elts = self.spliced(node.elts)
            return node
        return self.generic_visit(node)

    visit_List = visit_Tuple

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if not self.active or not isinstance(node.ctx, ast.Load):
            return self.generic_visit(node)
        elements = self.elements(node)
        if elements is not None:
            return ast.copy_location(ast.Tuple(elts=elements, ctx=ast.Load()), node)
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == self.vararg
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is int
            and -len(self.names) <= node.slice.value < len(self.names)
        ):
            name = self.names[node.slice.value]
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        return self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        if self.vararg in _parameter_names(node.args):
            return node  # its own parameter of that name
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        elements = self.elements(node) if self.active else None
        if elements is not None and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Tuple(elts=elements, ctx=ast.Load()), node)
        return node


# Functions overbar made from a syntax tree of its own (``function_with_arity``): code -> tree.
_MADE: dict[types.CodeType, tuple[ast.FunctionDef, str]] = {}


def function_with_arity(
    function: types.FunctionType, count: int | tuple[int | None, Keywords | None]
) -> types.FunctionType:
    """``function`` (with ``*args`` or ``**kwargs``) as a function of its own whose ``*args``
    is ``count`` positional parameters (``with_arity``; ``count`` may also be that number and
    the keywords ``**kwargs`` collects), running in the same globals with the same closure
    cells: ``lambda *args: g(args[0])`` for one argument is ``def lambda_23(args_0): return
    g(args_0)``. ``parse`` reads it as the tree it was made from."""
    parsed = with_arity(parse(function), count)
    made = function_from_tree(parsed.tree, function, parsed.filename)
    if (count[0] if isinstance(count, tuple) else count) and function.__code__.co_flags & (
        inspect.CO_VARARGS
    ):
        made.__defaults__ = None
    return made


def function_from_tree(
    tree: ast.FunctionDef, like: types.FunctionType, filename: str
) -> types.FunctionType:
    """The function the ``def`` ``tree`` defines, compiled as if written in ``filename`` where
    ``like`` is, running in ``like``'s globals with ``like``'s closure cells for the names it
    reads from there (and ``like``'s defaults). ``parse`` reads it as ``tree``."""
    tree = copy.deepcopy(tree)
    code = like.__code__
    cells = dict(zip(code.co_freevars, like.__closure__ or (), strict=True))
    factory = ast.FunctionDef(
        name="__overbar_factory__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=name) for name in code.co_freevars],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=[tree, ast.Return(value=ast.Name(id=tree.name, ctx=ast.Load()))],
        decorator_list=[],
    )
    ast.copy_location(factory, tree)
    module = ast.fix_missing_locations(ast.Module(body=[factory], type_ignores=[]))
    made = compile(module, filename, "exec")
    inner = next(
        constant
        for outer in made.co_consts
        if isinstance(outer, types.CodeType)
        for constant in outer.co_consts
        if isinstance(constant, types.CodeType) and constant.co_name == tree.name
    )
    made_function = types.FunctionType(
        inner,
        like.__globals__,
        tree.name,
        like.__defaults__,
        tuple(cells[name] for name in inner.co_freevars),
    )
    made_function.__kwdefaults__ = like.__kwdefaults__
    made_function.__qualname__ = f"{like.__qualname__}.<locals>.{tree.name}"
    if tree.name == like.__name__:
        made_function.__qualname__ = like.__qualname__
    made_function.__module__ = like.__module__
    _MADE[inner] = (copy.deepcopy(tree), filename)
    return made_function


def is_made(function: Any) -> bool:
    """Whether overbar made ``function`` from a tree (``function_with_arity``)."""
    return getattr(function, "__code__", None) in _MADE
