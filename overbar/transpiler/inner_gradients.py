"""Inner gradients: a gradient taken inside the differentiated function is a call of a helper.

In ``def d_fun(x): g = overbar.grad(fun)(x); return np.sum(np.sin(g))``, the inner gradient
``overbar.grad(fun)`` is known when ``d_fun`` is compiled (``fun`` is a global or a closure
variable, the other arguments of ``grad`` literals), and what it computes is overbar's own
generated adjoint of ``fun``: a plain Python function, which overbar differentiates like any
other helper (reverse over reverse, as ``overbar.hessian`` does). This pass binds each inner
gradient to a name of the function and records, for that name, the generated function a call
of it is differentiated as. Before and after::

    def d_fun(x):                            def d_fun(x):
        g = grad(fun)(x)                         grad_fun = grad(fun)
        return np.sum(np.sin(g))                 g = grad_fun(x)
                                                 return np.sum(np.sin(g))

with ``grad_fun`` standing for ``fun``'s generated gradient (``Namespace.functions``). Where
reverse over reverse refuses that generated gradient (a loop's reverse sweep pops a stack), the
reverse sweep calls a Hessian-vector product instead, ``x̄ += H(x) ḡ`` by forward over reverse
(``lines.Lines.hessian_product``, ``hessians.InnerHessianProduct``). A name
the user binds to a gradient (``d_fun = grad(fun)`` at the top of the body, bound nowhere else
and only called) is recorded as it is. The forward sweep runs the user's lines (the gradient
object computes ``g``); the reverse sweep calls the pullback of the generated gradient, which
computes the same ``g``.

What makes a gradient: a callable with an ``__overbar_gradient_of__`` attribute
(``overbar.grad`` has one, and a wrapper of it may have its own), which, called with the
arguments of the maker's call, returns the plain function the gradient runs. Invariant
established: every call of a gradient made in the function is a call of a name recorded in
``Namespace.functions``; what cannot be made so is refused at its line.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.errors import OverbarError, UnsupportedSyntaxError
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.parse import MISSING, ParsedFunction

MAKER = "__overbar_gradient_of__"


def with_inner_gradients(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each inner gradient bound to a name that stands for the generated
    gradient function (see above); unchanged where it makes none."""
    tree = parsed.tree
    local = _local_names(tree)
    held = _gradients_held(parsed, tree, local)
    if not held and not any(
        gradient_maker(parsed, node) is not None for node in walk_breadth_first(tree)
    ):
        return parsed
    taken = {node.id for node in walk_breadth_first(tree) if isinstance(node, ast.Name)} | local
    tree = copy.deepcopy(tree)
    functions: dict[str, Any] = dict(held)
    hoisted: list[ast.stmt] = []
    user_bound = _bound_by_user(parsed, tree, local)
    for name, value in user_bound.items():
        functions[name] = _gradient_function(parsed, value)
    for node in walk_breadth_first(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Call):
            continue
        maker = node.func
        if gradient_maker(parsed, maker) is None:
            continue
        function_name = _function_argument(maker)
        stem = f"grad_{function_name}" if function_name else "gradient"
        name, suffix = stem, 1
        while name in taken:
            suffix += 1
            name = f"{stem}_{suffix}"
        taken.add(name)
        functions[name] = _gradient_function(parsed, maker)
        binding = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=maker)
        hoisted.append(ast.copy_location(binding, maker))
        node.func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), maker)
    start = 1 if tree.body and _is_docstring(tree.body[0]) else 0
    tree.body[start:start] = [ast.fix_missing_locations(statement) for statement in hoisted]
    namespace = replace(parsed.namespace, functions={**parsed.namespace.functions, **functions})
    return replace(parsed, tree=tree, namespace=namespace)


def gradient_maker(parsed: ParsedFunction, node: ast.AST) -> Any:
    """The gradient maker ``node`` calls (``overbar.grad(fun)``), or None."""
    if not isinstance(node, ast.Call):
        return None
    path = node.func
    while isinstance(path, ast.Attribute):
        path = path.value
    if not isinstance(path, ast.Name):
        return None
    try:
        maker = parsed.namespace.resolve(node.func)
    except Exception:  # a property raising on access: not a maker
        return None
    if maker is MISSING or getattr(maker, MAKER, None) is None:
        return None
    # a name the function binds is not the global one (looked at last: a walk of the whole
    # function, which each call of every line would otherwise pay)
    return None if path.id in _local_names(parsed.tree) else maker


def _function_argument(maker: ast.Call) -> str | None:
    first = maker.args[0] if maker.args else None
    return first.id if isinstance(first, ast.Name) else None


def _gradient_function(parsed: ParsedFunction, maker: ast.Call) -> Any:
    """The plain function the gradient ``maker`` makes runs, from its arguments: the
    function (a name not bound in the function) and literals."""
    local = _local_names(parsed.tree)
    arguments = []
    for position, argument in enumerate([*maker.args, *(k.value for k in maker.keywords)]):
        if position == 0 and isinstance(argument, ast.Name | ast.Attribute):
            root = argument
            while isinstance(root, ast.Attribute):
                root = root.value
            value = MISSING
            if isinstance(root, ast.Name) and root.id not in local:
                value = parsed.namespace.resolve(argument)
            if value is MISSING or not callable(value):
                raise _refused(parsed, argument, "the function of an inner gradient")
            arguments.append(value)
            continue
        try:
            arguments.append(ast.literal_eval(argument))
        except ValueError:
            raise _refused(parsed, argument, "this argument of an inner gradient") from None
    if not maker.args or any(k.arg is None for k in maker.keywords):
        raise _refused(parsed, maker, "an inner gradient without its function")
    given = arguments[len(maker.args) :]
    keywords = {k.arg: v for k, v in zip(maker.keywords, given, strict=True)}
    maker_object = parsed.namespace.resolve(maker.func)
    try:
        return getattr(maker_object, MAKER)(*arguments[: len(maker.args)], **keywords)
    except OverbarError as error:
        raise UnsupportedSyntaxError(
            f"overbar cannot differentiate the inner gradient {ast.unparse(maker)} in "
            f"{parsed.name}: {error.message if hasattr(error, 'message') else error}",
            parsed.location(maker),
        ) from None


def _refused(parsed: ParsedFunction, node: ast.AST, what: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate {what} ({ast.unparse(node)}) in {parsed.name}: the "
        "function must be named by a global or closure variable, and the other arguments "
        "must be literals, so that the gradient is known when the function is compiled",
        parsed.location(node),
    )


def _gradients_held(
    parsed: ParsedFunction, tree: ast.FunctionDef, local: set[str]
) -> dict[str, Any]:
    """The global or closure names bound to a gradient overbar made (``d_fun =
    overbar.grad(fun)`` at module level) that the function only calls, each with what a call
    of it is differentiated as (its ``__overbar_as_inner__``)."""
    called = {id(n.func) for n in walk_breadth_first(tree) if isinstance(n, ast.Call)}
    found: dict[str, Any] = {}
    refused: set[str] = set()
    for node in walk_breadth_first(tree):
        if not isinstance(node, ast.Name) or node.id in local or node.id in refused:
            continue
        value = parsed.namespace.lookup(node.id)
        as_inner = getattr(type(value), "__overbar_as_inner__", None)
        if as_inner is None:
            continue
        if id(node) not in called:  # passed on, not only called: left as it is
            refused.add(node.id)
            found.pop(node.id, None)
            continue
        if node.id not in found:
            try:
                found[node.id] = as_inner(value)
            except OverbarError as error:
                raise UnsupportedSyntaxError(
                    f"overbar cannot differentiate the call of the gradient {node.id} in "
                    f"{parsed.name}: {error.message}",
                    parsed.location(node),
                ) from None
    return found


def _bound_by_user(
    parsed: ParsedFunction, tree: ast.FunctionDef, local: set[str]
) -> dict[str, ast.Call]:
    """``d_fun = grad(fun)`` at the top of the body: the names bound once to a gradient and
    read only as the function of a call afterwards, each with the maker's call."""
    found: dict[str, ast.Call] = {}
    stores: dict[str, int] = {}
    for node in walk_breadth_first(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] = stores.get(node.id, 0) + 1
    parameters = {a.arg for a in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and gradient_maker(parsed, statement.value) is not None
            and stores.get(statement.targets[0].id) == 1
            and statement.targets[0].id not in parameters
        ):
            found[statement.targets[0].id] = statement.value
    called = {id(n.func) for n in walk_breadth_first(tree) if isinstance(n, ast.Call)}
    for node in walk_breadth_first(tree):
        if (
            isinstance(node, ast.Name)
            and node.id in found
            and isinstance(node.ctx, ast.Load)
            and id(node) not in called
        ):
            found.pop(node.id)  # passed on or returned: not only called
    return found


def _local_names(tree: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in walk_breadth_first(tree.args) if isinstance(a, ast.arg)}
    names |= {
        node.id
        for node in walk_breadth_first(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
    }
    return names


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
