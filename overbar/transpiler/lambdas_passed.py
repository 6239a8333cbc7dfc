"""Lambdas written as an argument of a call of the user's own helper: ``apply(lambda z: z * w,
x)``, ``layer(x, act=lambda z: np.maximum(z, 0))``.

The helper's parameter is bound to the lambda at that call, and the helper only calls it. This
pass gives the call a copy of the helper made for that lambda: its parameter is gone, and its
body starts by binding that name to the lambda (``f = lambda z: z * w_f``), which the normaliser
then writes into each call of it as it does any lambda bound at the top of a function
(``fence_scope.local_lambdas``). What the lambda reads of the caller's own names (``w``) becomes
a keyword-only parameter of the copy, given at the call. Before and after::

    def apply(f, v):                       def apply_f(v, *, w_f):
        return f(v) + f(2.0 * v)               f = lambda z: z * w_f
                                               return f(v) + f(2.0 * v)
    def loss(x, w):
        return np.sum(apply(lambda z: z * w, x))     ... np.sum(apply_f(x, w_f=w))

The copy is a helper like any other (inlined, or given a pullback), known to the caller's
namespace (``Namespace.made``). Identity: a call of the helper with its parameter bound to the
lambda computes what the copy computes, since the helper reads the parameter only as the
function of its calls, each of which computes the lambda's body with its arguments (Python
reads the body's other names when the call runs: the caller's, passed as the keyword
parameters, whose values do not change during the call, and the module's). Side conditions,
each checked; a call that fails one is left as it is, and the fence refuses its lambda:

- the function called is the user's own Python function, by a name the caller does not bind,
  with no ``*args`` or ``**kwargs``, and the call's arguments bind to its parameters;
- the lambda has plain positional parameters (no defaults, ``*args``, keyword-only ones) and
  no lambda or assignment expression in it;
- in the helper, the parameter is never rebound and is read only as the function of a call;
- every other name the lambda reads is the caller's own (a parameter or a name it binds), or
  means the same object in the helper's module as in the caller's.
"""

from __future__ import annotations

import ast
import copy
import inspect
import types
from dataclasses import replace

from overbar.errors import OverbarError
from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import MISSING, ParsedFunction, function_from_tree, parse

_LIBRARIES = ("numpy", "overbar", "scipy", "builtins", "math")


def with_lambdas_passed(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each call that passes a lambda to a helper calling a copy of the helper
    made for it (above); unchanged where there is none."""
    calls = [
        node
        for node in ast.walk(parsed.tree)
        if isinstance(node, ast.Call)
        and any(isinstance(a, ast.Lambda) for a in [*node.args, *(k.value for k in node.keywords)])
    ]
    if not calls:
        return parsed
    tree = copy.deepcopy(parsed.tree)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and any(isinstance(a, ast.Lambda) for a in [*node.args, *(k.value for k in node.keywords)])
    ]
    caller_names = _bound_in(tree)
    taken = NameAllocator(set(names_in(tree)) | set(parsed.namespace.made))
    made = {}
    for call in calls:
        copied = _copy_for(parsed, call, caller_names, taken)
        if copied is not None:
            name, function = copied
            made[name] = function
    if not made:
        return parsed
    namespace = replace(parsed.namespace, made={**parsed.namespace.made, **made})
    return replace(parsed, tree=tree, namespace=namespace)


def _copy_for(
    parsed: ParsedFunction, call: ast.Call, caller_names: set[str], taken: NameAllocator
) -> tuple[str, types.FunctionType] | None:
    """Rewrite ``call`` (in place) to call a copy of its helper made for the lambda it passes,
    and return the copy's name and function; None, leaving the call, where a side condition
    fails."""
    if not isinstance(call.func, ast.Name) or call.func.id in caller_names:
        return None
    helper = parsed.namespace.lookup(call.func.id)
    if (
        not isinstance(helper, types.FunctionType)
        or (helper.__module__ or "").split(".")[0] in _LIBRARIES
    ):
        return None
    lambdas = [
        a for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Lambda)
    ]
    if len(lambdas) != 1:
        return None
    (passed,) = lambdas
    try:
        helper_parsed = parse(helper)
        signature = inspect.signature(helper)
    except (OverbarError, OSError, TypeError, ValueError):
        return None
    definition = helper_parsed.tree
    if definition.args.vararg or definition.args.kwarg:
        return None
    marker = object()
    try:
        bound = signature.bind(
            *(marker if a is passed else None for a in call.args),
            **{k.arg: (marker if k.value is passed else None) for k in call.keywords if k.arg},
        )
    except TypeError:
        return None
    parameter = next((name for name, value in bound.arguments.items() if value is marker), None)
    if parameter is None or not _plain(passed) or not _only_called(definition, parameter):
        return None
    own = {a.arg for a in passed.args.args}
    read = sorted(
        {
            n.id
            for n in ast.walk(passed.body)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in own
        }
    )
    from_caller = [name for name in read if name in caller_names]
    for name in read:
        if name in from_caller:
            continue
        value = parsed.namespace.lookup(name)
        if value is MISSING or helper_parsed.namespace.lookup(name) is not value:
            return None
    helper_names = set(names_in(definition)) | own
    fresh = {}
    local = NameAllocator(helper_names | set(read))
    for name in from_caller:
        fresh[name] = local.fresh(f"{name}_{parameter}")
    body = copy.deepcopy(passed.body)
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and node.id in fresh:
            node.id = fresh[node.id]
    made_name = taken.fresh(f"{definition.name}_{parameter}")
    copied = copy.deepcopy(definition)
    copied.name = made_name
    arguments = copied.args
    _drop_parameter(arguments, parameter)
    for name in from_caller:
        extra = ast.arg(arg=fresh[name])
        arguments.kwonlyargs.append(ast.copy_location(extra, definition))
        arguments.kw_defaults.append(None)
    lam = ast.Lambda(args=copy.deepcopy(passed.args), body=body)
    binding = ast.Assign(targets=[ast.Name(id=parameter, ctx=ast.Store())], value=lam)
    for node in (binding, binding.targets[0], lam, lam.args):  # before every call of it
        ast.copy_location(node, definition)
    copied.body = [binding, *copied.body]
    try:
        function = function_from_tree(copied, helper, helper_parsed.filename)
    except (SyntaxError, ValueError, TypeError):
        return None
    function.__defaults__ = _defaults_without(helper, signature, parameter)
    function.__kwdefaults__ = {
        k: v for k, v in (helper.__kwdefaults__ or {}).items() if k != parameter
    } or None
    call.func = ast.copy_location(ast.Name(id=made_name, ctx=ast.Load()), call.func)
    call.args = [a for a in call.args if a is not passed]
    call.keywords = [k for k in call.keywords if k.value is not passed]
    call.keywords += [
        ast.keyword(
            arg=fresh[name], value=ast.copy_location(ast.Name(id=name, ctx=ast.Load()), passed)
        )
        for name in from_caller
    ]
    return made_name, function


def _plain(passed: ast.Lambda) -> bool:
    """A lambda of plain positional parameters, with no lambda or ``:=`` inside."""
    arguments = passed.args
    if (
        arguments.posonlyargs
        or arguments.vararg
        or arguments.kwonlyargs
        or arguments.kwarg
        or arguments.defaults
    ):
        return False
    return not any(isinstance(n, ast.Lambda | ast.NamedExpr) for n in ast.walk(passed.body))


def _only_called(definition: ast.FunctionDef, parameter: str) -> bool:
    """Whether the helper reads ``parameter`` only as the function of calls and never binds
    it again (nor does a function or lambda nested in it name it)."""
    called = {id(n.func) for n in ast.walk(definition) if isinstance(n, ast.Call)}
    for node in ast.walk(definition):
        nested = isinstance(node, ast.FunctionDef | ast.Lambda | ast.ClassDef)
        if nested and node is not definition and parameter in names_in(node):
            return False
        named = isinstance(node, ast.Name) and node.id == parameter
        if named and (not isinstance(node.ctx, ast.Load) or id(node) not in called):
            return False
        if isinstance(node, ast.Global | ast.Nonlocal) and parameter in node.names:
            return False
    return True


def _drop_parameter(arguments: ast.arguments, parameter: str) -> None:
    """Remove ``parameter`` (and its default) from a def's parameters."""
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    kept = [(a, d) for a, d in zip(positional, defaults, strict=True) if a.arg != parameter]
    count = len(arguments.posonlyargs)
    if any(a.arg == parameter for a in arguments.posonlyargs):
        count -= 1
    arguments.posonlyargs = [a for a, _ in kept[:count]]
    arguments.args = [a for a, _ in kept[count:]]
    arguments.defaults = [d for _, d in kept if d is not None]
    pairs = [
        (a, d)
        for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if a.arg != parameter
    ]
    arguments.kwonlyargs = [a for a, _ in pairs]
    arguments.kw_defaults = [d for _, d in pairs]


def _defaults_without(
    helper: types.FunctionType, signature: inspect.Signature, parameter: str
) -> tuple | None:
    """The helper's positional defaults, less ``parameter``'s."""
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != parameter
    ]
    defaults = tuple(p.default for p in positional if p.default is not p.empty)
    return defaults or None


def _bound_in(tree: ast.FunctionDef) -> set[str]:
    """The caller's own names: its parameters and every name it binds."""
    found = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node is not tree:
            found.add(node.name)
    return found
