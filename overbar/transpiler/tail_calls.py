"""A function that calls itself only in tail position becomes a loop.

A recursion such as ::

    def settle(x, steps):                         def settle(x, steps):
        if steps == 0:                                depth = 0
            return x                      ->          while not steps == 0:
        return settle(step(x), steps - 1)                 check_recursion_depth(depth, ...)
                                                          depth = depth + 1
                                                          x, steps = step(x), steps - 1
                                                      return x

runs its levels one after the other: each returns what the next returns, so the loop computes
the same value with one frame instead of one per level. Differentiated, the loop needs no
helper called per level (a Python call with keywords and a tuple returned, and CPython's frame
stack growing at every depth it has not reached before), and gets what loops get: forward mode
carries the tangent along, reverse mode pushes what it needs. The loop counts its trips and
checks the count against Python's recursion limit (``recursion_depth.py``): a recursion that
never ends raises ``RecursionError`` under the gradient as it does when called.

Identity: calling ``f(a)`` where ``f``'s body is ``[if c: return b] S; return f(e)`` (or the
same with ``else:``, or ``return b if c else f(e)``) returns what the loop above returns, since
each level evaluates ``c`` on its own parameters, runs ``S``, and hands ``e`` on as the next
level's parameters; a parameter handed on as itself (``f(x, n - 1)``'s x) keeps its value
without being rebound. Side conditions (else the function is left as it is): the function calls
itself nowhere else (not in ``c``, ``b``, ``S`` or inside ``e``), and only by its own name
(which resolves to the function itself); the call binds every parameter, positionally or by
keyword, with no ``*`` or ``**``, and the function has no ``*args``, ``**kwargs`` or
keyword-only parameters; ``S`` has no ``return``, ``yield``, ``def``, ``global`` or ``nonlocal``,
and reads no local name before binding it on every path (a level starts with fresh locals, a
loop's trip with the last trip's: a name read before it is bound would differ); the parameters
are rebound together (one tuple assignment), after ``S``; one of them is handed on as
something else than itself (else the recursion never ends, where Python raises
``RecursionError``: the loop would not end either); ``check_recursion_depth`` is not a name
of the user's.
"""

from __future__ import annotations

import ast
import copy
import inspect
from dataclasses import replace

from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.recursion_depth import CHECK_NAME, check_recursion_depth, depth_check


def with_tail_calls_as_loop(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with its tail recursion written as a loop (above); unchanged otherwise."""
    tree = parsed.tree
    parts = _tail_recursion(tree)
    if parts is None:
        return parsed
    condition, base, between, call = parts
    if not calls_itself_only_there(parsed, call):
        return parsed
    arguments = new_parameters(tree, call)
    if arguments is None or not binds_before_reading(between, _parameters(tree)):
        return parsed
    if reads(condition) & locals_of(between) or reads(base) & locals_of(between):
        return parsed  # a level reads them unbound where the loop would read the last trip's
    names = changed_parameters(tree, arguments)
    if not names:
        return parsed  # the recursion never ends: the loop would not either
    if len(names) == 1:
        rebind = ast.Assign(
            targets=[ast.Name(names[0], ast.Store())], value=copy.deepcopy(arguments[names[0]])
        )
    else:
        rebind = ast.Assign(
            targets=[ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())],
            value=ast.Tuple([copy.deepcopy(arguments[n]) for n in names], ast.Load()),
        )
    if parsed.namespace.lookup(CHECK_NAME) is not check_recursion_depth:
        return parsed  # the depth check's name means something else here
    depth = NameAllocator(names_in(tree) | {CHECK_NAME}).fresh("depth")
    start = ast.Assign(targets=[ast.Name(depth, ast.Store())], value=ast.Constant(0))
    deeper = ast.Assign(
        targets=[ast.Name(depth, ast.Store())],
        value=ast.BinOp(ast.Name(depth, ast.Load()), ast.Add(), ast.Constant(1)),
    )
    check = depth_check(ast.Name(depth, ast.Load()), tree.name, parsed.filename, tree.lineno)
    for statement in (rebind, start, deeper, check):
        located(statement, call)
    loop = ast.While(
        test=ast.UnaryOp(ast.Not(), copy.deepcopy(condition)),
        body=[check, deeper, *copy.deepcopy(between), rebind],
        orelse=[],
    )
    ast.copy_location(loop, condition)
    ast.copy_location(loop.test, condition)
    returned = ast.copy_location(ast.Return(copy.deepcopy(base)), base)
    new_tree = copy.copy(tree)
    new_tree.body = [start, loop, returned]
    ast.fix_missing_locations(new_tree)
    return replace(parsed, tree=new_tree)


def located(node: ast.AST, at: ast.AST) -> ast.AST:
    """``node`` with every node in it placed at ``at``'s position in the user's source."""
    for inner in ast.walk(node):
        if "lineno" in inner._attributes:
            ast.copy_location(inner, at)
    return node


def _tail_recursion(tree: ast.FunctionDef):
    """(c, b, S, the call) where the body is ``if c: return b``, ``S``, ``return f(e)`` (or an
    if/else or a conditional expression of the two returns); None otherwise."""
    body = tree.body
    if (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, ast.IfExp)
        and is_self_call(body[0].value.orelse, tree.name)
    ):
        expression = body[0].value
        return expression.test, expression.body, [], expression.orelse
    if not body or not isinstance(body[0], ast.If):
        return None
    branch = body[0]
    if not (len(branch.body) == 1 and isinstance(branch.body[0], ast.Return)):
        return None
    if branch.body[0].value is None:
        return None
    if branch.orelse:
        if len(body) != 1:
            return None
        tail = branch.orelse
    else:
        tail = body[1:]
    if not tail or not isinstance(tail[-1], ast.Return):
        return None
    call = tail[-1].value
    if not is_self_call(call, tree.name):
        return None
    return branch.test, branch.body[0].value, tail[:-1], call


def is_self_call(node: ast.AST | None, name: str) -> bool:
    """Whether ``node`` is a call of the plain name ``name``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def calls_itself_only_there(parsed: ParsedFunction, call: ast.Call) -> bool:
    """The name resolves to the function itself, and the tail call is the only use of it."""
    if parsed.namespace.lookup(parsed.tree.name) is not parsed.function:
        return False
    uses = [
        node
        for node in ast.walk(parsed.tree)
        if isinstance(node, ast.Name) and node.id == parsed.tree.name
    ]
    return len(uses) == 1 and uses[0] is call.func


def new_parameters(tree: ast.FunctionDef, call: ast.Call) -> dict[str, ast.expr] | None:
    """Each parameter's expression in the tail call, every one bound; None where the call or
    the signature is not that simple."""
    args = tree.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        return None
    names = [argument.arg for argument in args.args]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    try:
        bound = inspect.Signature(parameters).bind(
            *call.args, **{k.arg: k.value for k in call.keywords}
        )
    except TypeError:
        return None
    if set(bound.arguments) != set(names):
        return None  # a parameter left to its default: not handled
    return dict(bound.arguments)


def changed_parameters(tree: ast.FunctionDef, arguments: dict[str, ast.expr]) -> list[str]:
    """The parameters the call does not hand on as themselves (``f(x, n - 1)``: n), in the
    signature's order: the others need no rebinding, they keep their value."""
    return [
        argument.arg
        for argument in tree.args.args
        if not (
            isinstance(arguments[argument.arg], ast.Name)
            and arguments[argument.arg].id == argument.arg
        )
    ]


def _parameters(tree: ast.FunctionDef) -> set[str]:
    return {argument.arg for argument in tree.args.args}


def binds_before_reading(statements: list[ast.stmt], bound: set[str]) -> bool:
    """Whether ``statements`` are plain assignments and expressions (no return, no control
    flow) that read only names bound before them, globals or the parameters ``bound``: then a
    trip of the loop reads nothing the previous trip left behind."""
    bound = set(bound)
    for statement in statements:
        if not isinstance(statement, ast.Assign | ast.AugAssign | ast.Expr):
            return False
        value = statement.value
        read = {
            node.id
            for node in ast.walk(value)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        if isinstance(statement, ast.AugAssign):
            read |= {n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)}
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        for target in targets:
            read |= {
                n.id
                for n in ast.walk(target)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            }
        assigned = {
            n.id
            for target in targets
            for n in ast.walk(target)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        if read & (locals_of(statements) - bound):
            return False
        bound |= assigned
    return True


def reads(node: ast.AST) -> set[str]:
    """The names ``node`` reads."""
    return {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def locals_of(statements: list[ast.stmt]) -> set[str]:
    """The names ``statements`` bind."""
    return {
        node.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
