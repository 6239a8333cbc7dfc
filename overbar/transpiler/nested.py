"""Nested functions: a ``def`` inside the differentiated function becomes a helper of its own.

A function defined at the top level of the body and only called there reads the enclosing
function's names when it is called (a closure). This pass lifts it: it becomes a function of
its own (``parse.function_from_tree``) whose parameters are its own followed by the enclosing
function's names it reads (its free names), and each call passes their values at the call,
which are what the closure would read then. The def itself is removed. Before and after::

    def f(x, w):                               def f(x, w):
        def layer(v):                              h = layer(x, w)
            return np.tanh(w * v)                  return np.sum(layer(h, w))
        h = layer(x)
        return np.sum(layer(h))                (layer: def layer(v, w): return np.tanh(w * v))

The lifted function is a helper like any other (it gets a pullback), known to the enclosing
function's namespace (``Namespace.made``) and bound in its generated code. Refused, at the
user's line: a nested function that is returned, stored, passed on or called before its def,
one defined in a branch or a loop or defined twice, one with defaults, ``*args``,
``**kwargs``, decorators, ``global``/``nonlocal`` or ``yield``, one that calls another nested
function or itself, and a class or async def.

Invariant established: the body has no ``def``; each call of a lifted function passes every
name it reads from the enclosing function.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.inner_gradients import gradient_maker
from overbar.transpiler.parse import ParsedFunction, function_from_tree

_ADVICE = "define it at module level and pass what it reads as arguments"


def with_nested_functions(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with its nested functions lifted (above); unchanged where it has none."""
    tree = parsed.tree
    nested = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
    if not nested:
        return parsed
    names = [definition.name for definition in nested]
    for definition in nested:
        if names.count(definition.name) > 1:
            raise _refused(
                parsed, definition, f"a nested function {definition.name} defined twice"
            )
    enclosing = _bound_in(tree) | _parameters(tree.args)
    made = {}
    free_names = {}
    for definition in nested:
        _check_definition(parsed, definition, set(names))
        own = _bound_in(definition) | _parameters(definition.args)
        free = sorted(
            {
                node.id
                for node in ast.walk(definition)
                if isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and node.id in enclosing
                and node.id not in own
            }
        )
        lifted = copy.deepcopy(definition)
        lifted.args.args = [*lifted.args.args, *(ast.arg(arg=name) for name in free)]
        for argument in lifted.args.args[-len(free) :] if free else []:
            ast.copy_location(argument, definition)
        made[definition.name] = function_from_tree(lifted, parsed.function, parsed.filename)
        made[definition.name].__defaults__ = None
        free_names[definition.name] = free
    tree = copy.deepcopy(tree)
    tree.body = [s for s in tree.body if not isinstance(s, ast.FunctionDef)]
    _check_uses(parsed, tree, nested, {name for name, free in free_names.items() if not free})
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            extra = free_names.get(node.func.id)
            if extra:
                added = [ast.copy_location(ast.Name(id=n, ctx=ast.Load()), node) for n in extra]
                if node.keywords:  # keep the order Python binds them in: positional first
                    node.keywords = [
                        *node.keywords,
                        *(ast.keyword(arg=a.id, value=a) for a in added),
                    ]
                else:
                    node.args = [*node.args, *added]
    namespace = replace(parsed.namespace, made={**parsed.namespace.made, **made})
    return replace(parsed, tree=tree, namespace=namespace)


def _check_definition(parsed: ParsedFunction, definition: ast.FunctionDef, nested: set) -> None:
    arguments = definition.args
    if definition.decorator_list:
        raise _refused(parsed, definition, "a decorated nested function")
    if arguments.vararg or arguments.kwarg or arguments.defaults or arguments.kw_defaults:
        raise _refused(parsed, definition, "a nested function with defaults, *args or **kwargs")
    if arguments.posonlyargs or arguments.kwonlyargs:
        raise _refused(parsed, definition, "a nested function with keyword-only parameters")
    for node in ast.walk(definition):
        if isinstance(node, ast.Global | ast.Nonlocal):
            raise _refused(parsed, node, "a global or nonlocal statement in a nested function")
        if isinstance(node, ast.Yield | ast.YieldFrom):
            raise _refused(parsed, node, "a nested generator")
        inner = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        if isinstance(node, inner) and node is not definition:
            raise _refused(parsed, node, "a function defined in a nested function")
        if (
            isinstance(node, ast.Name)
            and node.id in nested
            and node.id not in _bound_in(definition)
        ):
            raise _refused(
                parsed, node, f"a use of the nested function {node.id} in a nested function"
            )


def _check_uses(
    parsed: ParsedFunction, tree: ast.FunctionDef, nested: list, closed: set[str]
) -> None:
    """Each nested function is only called, after its def, and never rebound; one that reads
    nothing of the enclosing function (``closed``) may also be the function of a gradient taken
    in the function (``overbar.grad(inner)``: the lifted function is the same function)."""
    names = {definition.name: definition for definition in nested}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    called |= {
        id(n.args[0])
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and n.args
        and isinstance(n.args[0], ast.Name)
        and n.args[0].id in closed
        and gradient_maker(parsed, n) is not None
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id not in names:
            continue
        if not isinstance(node.ctx, ast.Load):
            raise _refused(parsed, node, f"a name {node.id} bound to a nested function and more")
        if id(node) not in called:
            raise _refused(
                parsed,
                node,
                f"a use of the nested function {node.id} other than a call (returned, stored "
                "or passed on)",
            )
        if (node.lineno, node.col_offset) < (names[node.id].lineno, names[node.id].col_offset):
            raise _refused(parsed, node, f"a call of {node.id} before its def")


def _bound_in(tree: ast.FunctionDef) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node is not tree:
            found.add(node.name)
        elif isinstance(node, ast.comprehension):
            found |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return found


def _parameters(arguments: ast.arguments) -> set[str]:
    return {a.arg for a in ast.walk(arguments) if isinstance(a, ast.arg)}


def _refused(parsed: ParsedFunction, node: ast.AST, what: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate {what} in {parsed.name}: {_ADVICE}",
        parsed.location(node),
    )
