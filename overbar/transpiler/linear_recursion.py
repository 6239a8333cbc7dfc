"""A function that calls itself once, not in tail position, becomes two loops.

A linear recursion such as ::

    def upto(c, x, i):                         def upto(c, x, i):
        if i == 0:                                 levels = []
            return c[0] * np.ones_like(x)          while not i == 0:
        return upto(c, x, i - 1) * x + c[i]  ->        check_recursion_depth(len(levels), ...)
                                                       levels.append(i)
                                                       i = i - 1
                                                   result = c[0] * np.ones_like(x)
                                                   for i in reversed(levels):
                                                       result = result * x + c[i]
                                                   return result

goes down to its base case, then back up through the levels, applying at each what is left of
its ``return`` once the call has returned. The first loop goes down, keeping of each level
what the way back up reads and the next level does not share (here ``i``); the second climbs
back. Differentiated, the loops get what loops get (``owned.py`` accumulates ``c``'s gradient
in place, ``c_bar[i] += ...``) where the recursion's pullbacks each made a gradient as long
as ``c`` and added the deeper level's to it: a cost that grew with the square of the depth.
There is no Python call per level, no residual tuple threaded through the levels, and no
frame per level. The loop going down checks its depth against Python's recursion limit
(``recursion_depth.py``): where the recursion never ends, or goes deeper than the function
itself could, the gradient raises ``RecursionError`` as the function does, rather than run
for ever.

Identity: calling ``f(p)`` where ``f``'s body is ``[if c: return b] S; return E[f(e)]`` (or
the same with ``else:``, or the branches the other way round, ``if c: S; return E[f(e)]``
then ``return b``, or ``return b if c else E[f(e)]`` either way round), ``E[·]`` an
expression with the one call ``f(e)`` in it, returns what the two loops above return: level
``k`` evaluates ``c`` on its parameters, runs ``S``, hands ``e`` on as level ``k + 1``'s
parameters, and once the deeper levels have returned ``r`` returns ``E[r]``, which reads
level ``k``'s names. The loop going down runs the same ``c``, ``S`` and ``e`` on the same
values; ``levels`` keeps, per level, the names ``E`` reads that may differ between levels
(the locals ``S`` binds and the parameters ``e`` does not hand on unchanged); a name ``E``
reads that is neither (a parameter handed on as itself, a global) has the same value at every
level, which the loops leave it. The loop coming up evaluates ``E`` with the call replaced by
the deeper levels' result, deepest first, as the levels return.

Side conditions (else the function is left as it is, and stays a recursion):

- the function calls itself nowhere else (not in ``c``, ``b``, ``S``, the arguments ``e``, or
  a second time in ``E``), only by its own name (which resolves to the function itself), and
  ``E`` is not the call alone (a tail call: ``tail_calls.py``);
- ``E`` evaluates the call exactly once whenever it is evaluated: the call is not inside a
  conditional expression, ``and``/``or``, a comprehension or a lambda within ``E``, and
  ``E`` binds no name (no ``:=``);
- the call binds every parameter, positionally or by keyword, with no ``*`` or ``**``, and the
  function has no ``*args``, ``**kwargs``, keyword-only or positional-only parameters;
- ``S`` holds assignments to names only (no augmented assignment, no write into an array or
  attribute, no statement run for its effect, no control flow), reading only names it has
  bound before, parameters and globals; ``c`` and ``b`` read no local ``S`` binds but the
  parameters (a parameter ``S`` rebinds is what the level hands on, unless ``e`` says
  otherwise: the loop rebinds it likewise);
- a parameter changes from one level to the next: the call hands one on as something else
  than itself, or ``S`` rebinds one (else the recursion never ends, where Python raises
  ``RecursionError``: the loops would not end either);
- ``reversed`` and ``len`` (or ``range``, where nothing is kept per level and the levels
  are counted) are the builtins, and ``check_recursion_depth`` is not a name of the user's.

Evaluating ``E``'s other parts after the deeper levels rather than before changes nothing:
nothing the levels evaluate changes a value in place (``S`` assigns names only, and the fence
refuses a write into an argument, in the function or in a helper it calls).
"""

from __future__ import annotations

import ast
import builtins
import copy
from dataclasses import dataclass, replace

from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.recursion_depth import CHECK_NAME, check_recursion_depth, depth_check
from overbar.transpiler.tail_calls import (
    binds_before_reading,
    calls_itself_only_there,
    changed_parameters,
    is_self_call,
    locals_of,
    located,
    new_parameters,
    reads,
    with_tail_calls_as_loop,
)

# Where the call sits inside these, ``E`` may evaluate it not at all, or more than once.
_CONDITIONAL = (
    ast.IfExp,
    ast.BoolOp,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


@dataclass(frozen=True)
class _LinearRecursion:
    """The parts of a body ``[if c: return b] S; return E[f(e)]``."""

    condition: ast.expr  # c
    recurse_when_true: bool  # the recursion runs where c holds (else where it does not)
    base: ast.expr  # b
    between: list[ast.stmt]  # S
    expression: ast.expr  # E[f(e)]
    call: ast.Call  # f(e)


def with_recursion_as_loops(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with a tail recursion written as one loop (``tail_calls.py``), or a linear
    recursion as two (above); unchanged otherwise."""
    return with_linear_recursion_as_loops(with_tail_calls_as_loop(parsed))


def with_linear_recursion_as_loops(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with its linear recursion written as two loops (above); unchanged
    otherwise."""
    tree = parsed.tree
    parts = _linear_recursion(tree)
    if parts is None or parts.expression is parts.call:
        return parsed
    if not calls_itself_only_there(parsed, parts.call) or not _called_once(parts):
        return parsed
    arguments = new_parameters(tree, parts.call)
    parameters = [argument.arg for argument in tree.args.args]
    if arguments is None or not _assigns_names_only(parts.between):
        return parsed
    if not binds_before_reading(parts.between, set(parameters)):
        return parsed
    bound_between = locals_of(parts.between)
    if (reads(parts.condition) | reads(parts.base)) & (bound_between - set(parameters)):
        return parsed  # a level reads them unbound where the loop would read the last trip's
    changed = changed_parameters(tree, arguments)
    if not changed and not set(parameters) & bound_between:
        return parsed  # the recursion never ends: the loops would not either
    kept = _kept_per_level(parts, parameters, changed, bound_between)
    needed = ("reversed", "len") if kept else ("range",)
    if any(parsed.namespace.lookup(name) is not getattr(builtins, name) for name in needed):
        return parsed
    if parsed.namespace.lookup(CHECK_NAME) is not check_recursion_depth:
        return parsed  # the depth check's name means something else here
    new_tree = copy.copy(tree)
    new_tree.body = _two_loops(parsed, parts, arguments, changed, kept)
    ast.fix_missing_locations(new_tree)
    return replace(parsed, tree=new_tree)


def _linear_recursion(tree: ast.FunctionDef) -> _LinearRecursion | None:
    """The parts of ``tree``'s body where it has one of the forms above; None otherwise."""
    body = tree.body
    if body and _is_docstring(body[0]):
        body = body[1:]
    if len(body) == 1 and isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.IfExp):
        test, when_true, when_false = (
            body[0].value.test,
            body[0].value.body,
            body[0].value.orelse,
        )
        return _oriented(tree.name, test, [ast.Return(when_true)], [ast.Return(when_false)])
    if not body or not isinstance(body[0], ast.If):
        return None
    branch = body[0]
    if branch.orelse:
        if len(body) != 1:
            return None
        return _oriented(tree.name, branch.test, branch.body, branch.orelse)
    return _oriented(tree.name, branch.test, branch.body, body[1:])


def _oriented(
    name: str, test: ast.expr, when_true: list[ast.stmt], when_false: list[ast.stmt]
) -> _LinearRecursion | None:
    """The parts, whichever of the two branches is the base case (a lone ``return b`` that
    does not call the function) and which the recursion (``S; return E``)."""
    for recurse_when_true, base, recursion in (
        (False, when_true, when_false),
        (True, when_false, when_true),
    ):
        if not (
            len(base) == 1
            and isinstance(base[0], ast.Return)
            and base[0].value is not None
            and not _calls(base[0].value, name)
        ):
            continue
        if not recursion or not isinstance(recursion[-1], ast.Return):
            continue
        expression = recursion[-1].value
        if expression is None:
            continue
        calls = [node for node in ast.walk(expression) if is_self_call(node, name)]
        if len(calls) != 1:
            continue
        return _LinearRecursion(
            test, recurse_when_true, base[0].value, recursion[:-1], expression, calls[0]
        )
    return None


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _calls(node: ast.AST, name: str) -> bool:
    return any(is_self_call(inner, name) for inner in ast.walk(node))


def _called_once(parts: _LinearRecursion) -> bool:
    """Whether evaluating ``E`` evaluates the call exactly once, and binds no name."""
    if any(isinstance(node, ast.NamedExpr) for node in ast.walk(parts.expression)):
        return False
    return _path_to(parts.expression, parts.call) is not None and not any(
        isinstance(node, _CONDITIONAL) for node in _path_to(parts.expression, parts.call)
    )


def _path_to(root: ast.AST, target: ast.AST) -> list[ast.AST] | None:
    """The nodes from ``root`` down to ``target``'s parent, or None if ``target`` is not in it."""
    if root is target:
        return []
    for child in ast.iter_child_nodes(root):
        below = _path_to(child, target)
        if below is not None:
            return [root, *below]
    return None


def _assigns_names_only(statements: list[ast.stmt]) -> bool:
    """Whether each statement is an assignment whose targets are names (or tuples of them)."""
    return all(
        isinstance(statement, ast.Assign)
        and all(_is_names(target) for target in statement.targets)
        for statement in statements
    )


def _is_names(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, ast.Tuple | ast.List) and all(_is_names(t) for t in target.elts)


def _kept_per_level(
    parts: _LinearRecursion, parameters: list[str], changed: list[str], bound: set[str]
) -> list[str]:
    """The names ``E`` reads (the call aside) that may differ between levels: the parameters
    the call does not hand on as themselves and the locals ``S`` binds; parameters first, in
    the signature's order, then the locals in the order ``S`` binds them."""
    read = _reads_around(parts.expression, parts.call)
    varying = [*changed, *(name for name in parameters if name in bound)]
    varying += sorted(bound - set(varying), key=_first_binding(parts.between).get)
    kept: list[str] = []
    for name in varying:
        if name in read and name not in kept:
            kept.append(name)
    return kept


def _reads_around(expression: ast.expr, call: ast.Call) -> set[str]:
    """The names ``expression`` reads outside ``call``."""
    found: set[str] = set()
    pending: list[ast.AST] = [expression]
    while pending:
        node = pending.pop()
        if node is call:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            found.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _first_binding(statements: list[ast.stmt]) -> dict[str, int]:
    """Each name ``statements`` bind, with the position of the first statement binding it."""
    order: dict[str, int] = {}
    for position, statement in enumerate(statements):
        for name in sorted(locals_of([statement])):
            order.setdefault(name, position)
    return order


def _two_loops(
    parsed: ParsedFunction,
    parts: _LinearRecursion,
    arguments: dict[str, ast.expr],
    changed: list[str],
    kept: list[str],
) -> list[ast.stmt]:
    """The body written as the loop going down and the loop coming back up."""
    tree = parsed.tree
    names = NameAllocator(names_in(tree) | {"reversed", "len", CHECK_NAME})
    result = names.fresh("result")

    def at(node: ast.AST) -> ast.AST:
        return located(node, parts.call)

    def load(name: str) -> ast.Name:
        return ast.Name(name, ast.Load())

    def store(names_: list[str]) -> ast.expr:
        if len(names_) == 1:
            return ast.Name(names_[0], ast.Store())
        return ast.Tuple([ast.Name(n, ast.Store()) for n in names_], ast.Store())

    def value(names_: list[str]) -> ast.expr:
        if len(names_) == 1:
            return load(names_[0])
        return ast.Tuple([load(n) for n in names_], ast.Load())

    condition = copy.deepcopy(parts.condition)
    if not parts.recurse_when_true:
        condition = ast.copy_location(ast.UnaryOp(ast.Not(), condition), parts.condition)
    rebind = (
        [
            ast.Assign(
                targets=[store(changed)],
                value=(
                    copy.deepcopy(arguments[changed[0]])
                    if len(changed) == 1
                    else ast.Tuple([copy.deepcopy(arguments[n]) for n in changed], ast.Load())
                ),
            )
        ]
        if changed
        else []
    )
    if kept:
        levels = names.fresh("levels")
        start = ast.Assign(targets=[store([levels])], value=ast.List([], ast.Load()))
        record = ast.Expr(
            ast.Call(
                ast.Attribute(load(levels), "append", ast.Load()),
                [value(kept)],
                [],
            )
        )
        climbed = ast.Call(load("reversed"), [load(levels)], [])
        target = store(kept)
        depth = ast.Call(load("len"), [load(levels)], [])
    else:  # nothing differs between the levels but their number
        levels = names.fresh("depth")
        start = ast.Assign(targets=[store([levels])], value=ast.Constant(0))
        record = ast.Assign(
            targets=[store([levels])],
            value=ast.BinOp(load(levels), ast.Add(), ast.Constant(1)),
        )
        climbed = ast.Call(load("range"), [load(levels)], [])
        target = store([names.fresh("level")])
        depth = load(levels)
    check = depth_check(depth, tree.name, parsed.filename, tree.lineno)
    down = ast.While(
        test=condition,
        body=[at(check), *copy.deepcopy(parts.between), at(record), *map(at, rebind)],
        orelse=[],
    )
    ast.copy_location(down, parts.condition)
    base = ast.copy_location(
        ast.Assign(targets=[store([result])], value=copy.deepcopy(parts.base)), parts.base
    )
    up = ast.For(
        target=target,
        iter=climbed,
        body=[
            ast.copy_location(
                ast.Assign(
                    targets=[store([result])],
                    value=_with_call_replaced(parts.expression, parts.call, result),
                ),
                parts.expression,
            )
        ],
        orelse=[],
    )
    at(up.target)
    at(up.iter)
    ast.copy_location(up, parts.expression)
    returned = ast.copy_location(ast.Return(load(result)), parts.expression)
    return [at(start), down, base, up, returned]


def _with_call_replaced(expression: ast.expr, call: ast.Call, name: str) -> ast.expr:
    """A copy of ``expression`` with ``call`` replaced by the name ``name``."""
    copies: dict[int, ast.AST] = {}
    copied = copy.deepcopy(expression, copies)
    copied_call = copies[id(call)]

    class _Replace(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            if node is copied_call:
                return ast.copy_location(ast.Name(name, ast.Load()), node)
            return self.generic_visit(node)

    return _Replace().visit(copied)
