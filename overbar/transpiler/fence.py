"""Fence: refuse, before anything else runs, every construct overbar cannot differentiate yet.

Invariant established: a function that passes ``check_supported`` is made of assignments to names
(plain, tuple and augmented), ``print`` and ``assert`` statements, ``if``/``elif``/``else``,
``for`` and ``while`` loops (without ``break``, ``continue`` or ``else``), and returns of a value
that end every path (inside branches too, not inside loops). Its expressions are arithmetic,
comparisons, conditional expressions, calls of named functions and methods with positional and
keyword arguments, attribute reads, subscripts, tuple or list displays and dict displays with
literal keys. It changes nothing
outside itself (no write into a module-level or closure variable, no attribute assignment) and
reaches no code or value by a name computed at run time (``eval``, ``getattr``, ``globals()``,
``__import__``, ... wherever the name a call reads resolves to one of them). Its signature names
each parameter (no ``*args`` or ``**kwargs``: a function with them is specialised on what a
call passes before it gets here, ``parse.with_arity``; nested functions are lifted by
``nested.py``), its calls unpack nothing (``f(*xs)`` and ``f(**kw)`` of a size known when
compiling are written out before, by ``unpacking.py``) and it is not a generator.
Everything else raises ``UnsupportedSyntaxError`` pointing at the construct.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import sys
from collections.abc import Mapping
from types import MappingProxyType

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.fence_scope import (
    CHANGES,
    bound_names,
    is_append,
    is_docstring,
)
from overbar.transpiler.in_place import InPlaceChecks
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.recursion_depth import is_depth_check

_STATEMENT_NAMES = {
    ast.AsyncFor: ("an async for loop", "asynchronous code cannot be differentiated"),
    ast.With: ("a with statement", "move it outside the differentiated function"),
    ast.AsyncWith: ("an async with statement", "move it outside the function"),
    ast.Try: ("a try statement", "exceptions cannot be differentiated; move it outside"),
    ast.Raise: ("a raise statement", "check inputs before calling the gradient"),
    ast.FunctionDef: ("a nested function", "define helpers at module level"),
    ast.AsyncFunctionDef: ("a nested async function", "define helpers at module level"),
    ast.ClassDef: ("a class definition", "define classes at module level"),
    ast.Import: ("an import inside the function", "import at module level"),
    ast.ImportFrom: ("an import inside the function", "import at module level"),
    ast.Global: ("a global statement", "pass the value in and return it instead"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in and return it instead"),
    ast.Delete: ("a del statement", "let the name go out of use instead"),
}

_EXPRESSION_NAMES = {
    ast.Lambda: (
        "a lambda here",
        "bind it to a name on a line of its own at the top of the function (f = lambda z: "
        "...) and only call it, or define it at module level",
    ),
    ast.SetComp: ("a set comprehension", "sets cannot be differentiated"),
    ast.DictComp: ("a dict comprehension", "dictionaries are not supported yet"),
    ast.Set: ("a set display", "sets cannot be differentiated"),
    ast.NamedExpr: (
        "an assignment expression (:=) here",
        "assign on a line of its own (one in a comprehension, a lambda, a branch of a "
        "conditional expression or a later operand of and/or runs only sometimes; one whose "
        "name the line reads before it would change that read)",
    ),
    ast.Await: ("await", "asynchronous code cannot be differentiated"),
    ast.Yield: ("yield", "generators cannot be differentiated"),
    ast.YieldFrom: ("yield from", "generators cannot be differentiated"),
    ast.Starred: (
        "a starred expression of a length not known when compiling",
        "pass the elements one by one, or unpack a tuple or list the lines before fix the "
        "length of (xs = [a, b], list(args), then xs[0] = v or xs.append(v))",
    ),
    ast.JoinedStr: ("an f-string", "strings are only allowed in print() calls"),
}

_STRINGS = (
    "overbar cannot see the code in the string, which would get no gradient; write the code "
    "itself in the function"
)
_BY_NAME = (
    "overbar cannot follow a value reached this way, which would get no gradient; use each "
    "variable by its own name"
)
_CHANGES = CHANGES
# Functions that run code from strings or reach values by a name computed at run time: what
# each does and what to write instead. Found by what a name resolves to, so an alias is too.
# (hasattr is allowed: it reaches no value, and a branch on it runs the same in the adjoint.)
DYNAMIC_FUNCTIONS = (
    (builtins.eval, "eval", "runs code from a string", _STRINGS),
    (builtins.exec, "exec", "runs code from a string", _STRINGS),
    (builtins.compile, "compile", "makes code from a string", _STRINGS),
    (
        builtins.getattr,
        "getattr",
        "reads an attribute by a name given at run time",
        "write the attribute itself (obj.name), or pass the value in as an argument",
    ),
    (
        builtins.setattr,
        "setattr",
        "changes an object's attribute",
        f"{_CHANGES}; pass the value in as an argument and return it instead",
    ),
    (
        builtins.delattr,
        "delattr",
        "removes an object's attribute",
        f"{_CHANGES}; pass the value in as an argument and return it instead",
    ),
    (builtins.globals, "globals", "reads variables by name", _BY_NAME),
    (builtins.locals, "locals", "reads variables by name", _BY_NAME),
    (builtins.vars, "vars", "reads variables or attributes by name", _BY_NAME),
    (sys._getframe, "sys._getframe", "reads variables by name", _BY_NAME),
    (inspect.currentframe, "inspect.currentframe", "reads variables by name", _BY_NAME),
    (
        builtins.__import__,
        "__import__",
        "imports a module by a name given at run time",
        "import the module at module level and use it by its name",
    ),
    (
        importlib.import_module,
        "importlib.import_module",
        "imports a module by a name given at run time",
        "import the module at module level and use it by its name",
    ),
)

# Calls that write into their arguments or into the array they are called on.
# Methods that change the array or list they are called on (x.sort(), xs.pop(), ...).
MUTATING_METHODS = frozenset(
    {
        "sort", "fill", "resize", "put", "itemset", "partition", "setflags", "setfield",
        "append", "extend", "insert", "pop", "remove", "clear", "update", "shuffle", "at",
    }
)  # fmt: skip
# Library functions that write into an argument (np.copyto(dst, src), np.add.at(a, i, v), ...).
MUTATING_FUNCTIONS = frozenset(
    {"copyto", "place", "putmask", "fill_diagonal", "put", "put_along_axis", "shuffle", "at"}
)


def check_supported(
    parsed: ParsedFunction,
    array_makers: frozenset = frozenset(),
    copying_functions: frozenset = frozenset(),
    generated_effects: frozenset = frozenset(),
    numbers: frozenset = frozenset(),
    copying_unless: Mapping = MappingProxyType({}),
) -> None:
    """Raise ``UnsupportedSyntaxError`` at the first construct overbar cannot handle.

    From the runtime: ``array_makers`` always return a new array (np.zeros, ...), so an array
    they made may be written into; ``copying_functions`` never return a view of an argument;
    ``copying_unless`` maps a function to the argument (name, position, value) at whose value
    it returns its input itself, and at no other (``np.diff(u, n=0)``).

    ``generated_effects`` is given for code overbar generated (an adjoint differentiated again
    in forward mode): the runtime helpers it calls for their effects (``add_at(x_bar, i, g)``).
    Such code may also pop its stacks and lists (``h = stack.pop()``, ``hs.pop()``), and its
    writes in place are not checked again: the generator writes only into arrays and lists it
    made, or that the user's function made and the fence checked when it was compiled.

    ``numbers`` are the parameters the call binds to integers (the specialisation's): a name
    bound from one holds a number, which an augmented assignment rebinds and never changes.
    """
    fence = _Fence(parsed, array_makers, copying_functions, generated_effects)
    fence.numbers = frozenset(numbers)
    fence.copying_unless = copying_unless
    fence.check()


def check_definition(parsed: ParsedFunction) -> None:
    """Raise ``UnsupportedSyntaxError`` if the ``def`` itself rules the function out, whatever
    its body: ``*args`` or ``**kwargs`` in its signature, or a ``yield`` (a generator). Needs
    only the source, not the module's names, so ``overbar.grad(f)`` runs it at once."""
    _Fence(parsed).check_definition()


class _Fence(InPlaceChecks):
    """The construct-by-construct checks, and the order they run in."""

    def __init__(
        self,
        parsed: ParsedFunction,
        array_makers: frozenset = frozenset(),
        copying_functions: frozenset = frozenset(),
        generated_effects: frozenset = frozenset(),
    ):
        super().__init__(parsed, array_makers, copying_functions)
        self.generated_effects = generated_effects

    def check_definition(self) -> None:
        arguments = self.tree.args
        for node, stars, advice in (
            (arguments.vararg, "*", "take them as one tuple or array parameter"),
            (arguments.kwarg, "**", "take them as one dict parameter"),
        ):
            if node is not None:
                error = self.refuse(
                    node,
                    f"{stars}{node.arg} (*args or **kwargs)",
                    f"name each parameter, or {advice}",
                )
                location = error.location
                if location.text[location.column - len(stars) : location.column] == stars:
                    error = UnsupportedSyntaxError(
                        error.message,
                        dataclasses.replace(location, column=location.column - len(stars)),
                    )
                raise error
        if self.parsed.function.__code__.co_flags & inspect.CO_GENERATOR:
            node = next(
                (
                    n
                    for n in walk_breadth_first(self.tree)
                    if isinstance(n, ast.Yield | ast.YieldFrom)
                ),
                self.tree,
            )
            raise self.refuse(
                node,
                "a generator (a function with yield)",
                "return the scalar result instead; the values a generator yields cannot be "
                "differentiated",
            )

    def check(self) -> None:
        self.check_definition()
        body = self.tree.body
        if body and is_docstring(body[0]):
            body = body[1:]
        self.check_block(body, loop_targets=())
        if not always_returns(body):
            raise self.refuse(
                body[-1] if body else self.tree,
                "a function without a final return",
                "end every path through the function with `return <scalar loss>`",
            )
        if self.generated_effects:  # the generator's writes, into what it owns
            return
        self.check_augmented_assignments(body)
        self.check_appends(body)
        self.check_writes(body)

    def check_block(self, body: list[ast.stmt], loop_targets: tuple[str, ...]) -> None:
        for index, statement in enumerate(body):
            if isinstance(statement, ast.Return) and index != len(body) - 1:
                raise self.refuse(
                    body[index + 1], "code after a return", "remove the unreachable lines"
                )
            self.check_statement(statement, loop_targets)

    def check_statement(self, statement: ast.stmt, loop_targets: tuple[str, ...]) -> None:
        kind = type(statement)
        if kind in _STATEMENT_NAMES:
            raise self.refuse(statement, *_STATEMENT_NAMES[kind])
        assigned = bound_names(statement) & set(loop_targets)
        if self.generated_effects:  # the reverse sweep's nested loops all count with _
            assigned.discard("_")
        if assigned:
            raise self.refuse(
                statement,
                f"an assignment to the loop variable {sorted(assigned)[0]} inside its loop",
                "use another name for the new value",
            )
        if isinstance(statement, ast.If):
            self.check_expression(statement.test)
            self.check_block(statement.body, loop_targets)
            self.check_block(statement.orelse, loop_targets)
        elif isinstance(statement, ast.For | ast.While):
            if statement.orelse:
                raise self.refuse(
                    statement.orelse[0], "an else clause on a loop", "test a flag after the loop"
                )
            if isinstance(statement, ast.For):
                self.check_target(statement.target)
                self.check_expression(statement.iter)
                over_range = (
                    isinstance(statement.iter, ast.Call)
                    and isinstance(statement.iter.func, ast.Name)
                    and statement.iter.func.id == "range"
                    and isinstance(statement.target, ast.Name)
                )
                returns = any(isinstance(n, ast.Return) for n in walk_breadth_first(statement))
                if (_breaks(statement.body) or returns) and not over_range:
                    what = "a break" if _breaks(statement.body) else "a return"
                    raise self.refuse(
                        statement,
                        f"{what} in a loop over anything but range(...)",
                        "loop over the indices instead: for i in range(len(xs)): x = xs[i]",
                    )
                targets = {
                    n.id for n in walk_breadth_first(statement.target) if isinstance(n, ast.Name)
                }
            else:
                self.check_expression(statement.test)
                targets = set()
            self.check_block(statement.body, (*loop_targets, *sorted(targets)))
        elif isinstance(statement, ast.Return):
            if statement.value is None:
                raise self.refuse(statement, "a bare return", "return the scalar result")
            self.check_expression(statement.value)
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                self.check_target(target)
            if any(statement.value is lam for lam in self.lambdas.values()):  # f = lambda z: ...
                self.check_expression(statement.value.body)
            else:
                self.check_expression(statement.value)
        elif isinstance(statement, ast.AnnAssign):
            self.check_target(statement.target)
            if statement.value is None:
                raise self.refuse(statement, "a bare annotation", "assign a value")
            self.check_expression(statement.value)
        elif isinstance(statement, ast.AugAssign):
            if not isinstance(statement.target, ast.Name):
                self.check_target(statement.target)
            self.check_expression(statement.value)
        elif isinstance(statement, ast.Expr) and is_depth_check(statement.value, self.resolve):
            self.check_expression(statement.value.args[0])  # made by a recursion's rewrite
        elif isinstance(statement, ast.Expr) and (
            is_append(statement) or self.is_generated_effect(statement.value)
        ):
            for argument in statement.value.args:
                self.check_expression(argument)
        elif isinstance(statement, ast.Expr):
            self.check_dynamic_names(statement.value)  # exec("...") is refused as exec
            if not _is_print(statement.value) and not is_docstring(statement):
                raise self.refuse(
                    statement,
                    "an expression statement",
                    "its result is unused, so it can only matter by changing something in "
                    "place; assign the result to a name",
                )
            for argument in statement.value.args if _is_print(statement.value) else []:
                self.check_expression(argument, allow_strings=True)
        elif isinstance(statement, ast.Assert):
            self.check_expression(statement.test)
        elif not isinstance(statement, ast.Pass | ast.Break | ast.Continue):
            raise self.refuse(statement, f"a {kind.__name__} statement", "it is not supported yet")

    def check_target(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            return
        if isinstance(target, ast.Tuple | ast.List):  # a, b = ... and (p, q), r = ...
            for element in target.elts:
                if isinstance(element, ast.Starred):
                    raise self.refuse(
                        element,
                        "a starred assignment target",
                        "unpack each element by name, or index the value (rest = v[1:])",
                    )
                if not isinstance(element, ast.Name | ast.Tuple | ast.List):
                    raise self.refuse(
                        element,
                        "this element of an unpacking",
                        "unpack into names, then assign from them",
                    )
                self.check_target(element)
            return
        if isinstance(target, ast.Subscript):
            if not isinstance(target.value, ast.Name):
                raise self.refuse(
                    target,
                    "a write into part of an array read from an expression",
                    "write into a named array: y[i, j] = v",
                )
            self.check_expression(target.slice)
            return
        if isinstance(target, ast.Attribute):
            root = target.value
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name) and root.id not in self.local_names:
                raise self.refuse(
                    target,
                    f"an assignment to an attribute of {root.id}, "
                    f"{self.describe_outside(root.id)},",
                    f"{_CHANGES}; pass the value in as an argument and return it instead",
                )
            if isinstance(root, ast.Name) and root.id in self.parameters:
                raise self.refuse(
                    target,
                    f"an assignment to an attribute of the argument {root.id}",
                    "it would change the caller's object; keep the value in a local name",
                )
            raise self.refuse(target, "an attribute assignment", "assign to a local name instead")
        raise self.refuse(target, "this assignment target", "assign to names or a tuple of names")

    def check_expression(self, expression: ast.expr, allow_strings: bool = False) -> None:
        self.check_dynamic_names(expression)
        for node in walk_breadth_first(expression):
            kind = type(node)
            if kind is ast.JoinedStr and allow_strings:
                continue
            if kind in _EXPRESSION_NAMES:
                raise self.refuse(node, *_EXPRESSION_NAMES[kind])
            if isinstance(node, ast.ListComp | ast.GeneratorExp):
                for generator in node.generators:
                    if generator.is_async:
                        raise self.refuse(node, "an async comprehension", "use a plain loop")
                    self.check_target(generator.target)
            if isinstance(node, ast.Call):
                self.check_call(node)
            if isinstance(node, ast.Dict):
                self.check_dict(node)

    def check_call(self, call: ast.Call) -> None:
        if not _is_dotted_name(call.func) and not (isinstance(call.func, ast.Attribute)):
            raise self.refuse(
                call.func,
                "a call of a computed function",
                "call a function or method by its name",
            )
        name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
        on_a_value = isinstance(call.func, ast.Attribute) and not self.is_global_path(call.func)
        if self.generated_effects and is_pop(call):
            return
        if is_pop(call) and self.parsed.location(call).filename.startswith("<overbar "):
            raise self.refuse(
                call,
                "the reverse sweep of a loop (its stack's pop()) in an adjoint overbar generated",
                "reverse mode does not differentiate an adjoint's loop again; for second "
                "derivatives through a loop use overbar.hessian or overbar.hvp (forward over "
                "reverse)",
            )
        if name in (MUTATING_METHODS if on_a_value else MUTATING_FUNCTIONS):
            raise self.refuse(
                call,
                f"a call of {name}(), which changes an array or list in place",
                "use the version that returns a new value (np.sort, np.concatenate, ...)",
            )
        for keyword in call.keywords:
            if keyword.arg is None:
                raise self.refuse(
                    keyword,
                    "**keyword unpacking of a dict whose keys are not known when compiling",
                    'name each argument, or unpack a dict display with literal keys ({"k": v})',
                )
            if keyword.arg == "out":
                raise self.refuse(
                    keyword, "an out= argument", "it writes in place; use the return value"
                )

    def is_generated_effect(self, expression: ast.expr) -> bool:
        """In generated code: a pop of a stack or list, or a call of a runtime helper the
        generator calls for its effect."""
        if not self.generated_effects or not isinstance(expression, ast.Call):
            return False
        if is_pop(expression):
            return True
        return isinstance(expression.func, ast.Name) and any(
            self.resolve(expression.func) is helper for helper in self.generated_effects
        )

    def check_dict(self, display: ast.Dict) -> None:
        """A dict display's keys are literal strings or integers (known when compiled: the
        adjoint reads the gradient of each value under its key); no ``**`` unpacking. In
        generated code, which only forward mode differentiates again, a key may be a name
        (``{k: tmp4_bar}``, a dict's adjoint at the key a loop read): the tangent is the
        display of the values' tangents under the same keys."""
        for key, value in zip(display.keys, display.values, strict=True):
            if key is None:
                raise self.refuse(value, "**unpacking in a dict display", "write each entry")
            if self.generated_effects and isinstance(key, ast.Name):
                continue
            if not (isinstance(key, ast.Constant) and type(key.value) in (str, int)):
                raise self.refuse(
                    key,
                    "a dict display with a key computed when it runs",
                    "use literal strings or integers as keys",
                )

    def check_dynamic_names(self, expression: ast.expr) -> None:
        # One walk: breadth first, a call is met before the function it calls.
        called = set()
        for node in walk_breadth_first(expression):
            if isinstance(node, ast.Call):
                called.add(id(node.func))
            elif isinstance(node, ast.Name | ast.Attribute):
                self.check_dynamic(node, id(node) in called)

    def check_dynamic(self, node: ast.Name | ast.Attribute, called: bool) -> None:
        """Refuse ``node`` if it names a function that runs strings or reaches values by name
        (``eval``, ``getattr``, ``globals``, ...), under its own name or another."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or root.id in self.local_names:
            return
        if not isinstance(node.ctx, ast.Load):
            return
        value = self.resolve(node)
        for function, name, does, advice in DYNAMIC_FUNCTIONS:
            if value is function:
                written = ast.unparse(node)
                shown = name if written == name else f"{written} ({name})"
                shown += "()" if called and written == name else ""
                what = f"{'a call of' if called else 'a use of'} {shown}, which {does},"
                raise self.refuse(node, what, advice)


def is_pop(call: ast.expr) -> bool:
    """``xs.pop()``: the last element of the list named xs, taken off it."""
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "pop"
        and isinstance(call.func.value, ast.Name)
        and not call.args
        and not call.keywords
    )


def always_returns(body: list[ast.stmt]) -> bool:
    """Whether every path through ``body`` ends in a return."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and always_returns(last.body) and always_returns(last.orelse)


def _is_print(expression: ast.expr) -> bool:
    return (
        isinstance(expression, ast.Call)
        and isinstance(expression.func, ast.Name)
        and expression.func.id == "print"
    )


def _is_dotted_name(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _breaks(statements: list[ast.stmt]) -> bool:
    """Whether ``statements`` break out of the loop they are the body of."""
    return any(
        isinstance(node, ast.Break)
        for statement in statements
        if not isinstance(statement, ast.For | ast.While)  # a nested loop's breaks are its own
        for node in _walk_this_loop(statement)
    )


def _walk_this_loop(node: ast.AST):
    """``ast.walk`` that does not enter nested loops (their breaks are their own)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.For | ast.While):
            yield from _walk_this_loop(child)
