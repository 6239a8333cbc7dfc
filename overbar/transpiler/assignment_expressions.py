"""Assignment expressions (``:=``) written as the assignments they are, before anything else.

    if (s := np.sum(x ** 2)) > 1.0:          s = np.sum(x ** 2)
        return s                             if s > 1.0:
    ...                                          return s

    while (r := np.max(np.abs(g))) > tol:    r = np.max(np.abs(g))
        g = 0.5 * g                          while r > tol:
                                                 g = 0.5 * g
                                                 r = np.max(np.abs(g))

(a loop whose body has a ``continue`` runs the assignment at the top of each trip instead:
``while True:``, the assignment, ``if not r > tol: break``, the body.)

Identity: an assignment expression evaluates its value, binds it, and stands for it; the
statement's other parts are pure (overbar refuses what is not), so evaluating the value just
before the statement (a loop's test: wherever the test is evaluated) and reading the name
in its place computes the same values and binds the same names.

Side conditions, each keeping the ``:=`` where it is (the fence then refuses it, with its line):

- it is evaluated every time its statement runs: not in a lambda, a comprehension, a branch of
  a conditional expression (``a if c else b``) or an operand of ``and``/``or`` after the first;
- its name is not read in the statement before it (``s + (s := f(x))`` reads the old ``s``),
  in Python's order of evaluation (an expression's fields in order: left before right, a
  call's function before its arguments); reads inside its own value are evaluated before the
  binding, as the hoisted line does;
- a ``while`` with one in its test has no ``else`` (its ``break`` would skip the ``else``);
- its target is a plain name (Python allows nothing else).
"""

from __future__ import annotations

import ast
import copy

_CONDITIONAL = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def without_assignment_expressions(tree: ast.FunctionDef) -> ast.FunctionDef:
    """``tree`` with each assignment expression that meets the side conditions above written
    as an assignment before its statement (``tree`` itself where it has none)."""
    if not any(isinstance(node, ast.NamedExpr) for node in ast.walk(tree)):
        return tree
    tree = copy.deepcopy(tree)
    _rewrite_blocks(tree)
    return tree


def _rewrite_blocks(node: ast.AST) -> None:
    """Rewrite every block of statements in ``node``, nested ones included."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            setattr(node, field, [line for s in block for line in _rewritten(s)])
    for handler in getattr(node, "handlers", ()):
        _rewrite_blocks(handler)


def _rewritten(statement: ast.stmt) -> list[ast.stmt]:
    """``statement`` and the assignments hoisted out of its head expression."""
    _rewrite_blocks(statement)
    if isinstance(statement, ast.While):
        if statement.orelse:
            return [statement]
        assignments, test = _hoisted(statement.test)
        if not assignments:
            return [statement]
        if not _continues(statement.body):  # the test runs before the loop and after each trip
            again = copy.deepcopy(assignments)
            loop = ast.While(test=test, body=[*statement.body, *again], orelse=[])
            return [*(_located(a, statement) for a in assignments), _located(loop, statement)]
        stop = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=test), body=[ast.Break()], orelse=[])
        loop = ast.While(
            test=ast.Constant(True), body=[*assignments, stop, *statement.body], orelse=[]
        )
        return [_located(loop, statement)]
    head = _head(statement)
    if head is None:
        return [statement]
    read_first: frozenset[str] = frozenset()
    if isinstance(statement, ast.AugAssign):  # x += v reads x before v
        read_first = frozenset(n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name))
    assignments, value = _hoisted(getattr(statement, head), read_first)
    setattr(statement, head, value)
    return [*(_located(a, statement) for a in assignments), statement]


def _continues(body: list[ast.stmt]) -> bool:
    """Whether a ``continue`` in ``body`` goes back to the loop ``body`` belongs to."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Continue):
            return True
        if not isinstance(node, ast.For | ast.While | ast.FunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
        else:
            pending.extend(getattr(node, "orelse", ()))  # a loop's else belongs to this one
    return False


def _head(statement: ast.stmt) -> str | None:
    """The field of ``statement`` evaluated once each time it runs, before its body."""
    if isinstance(statement, ast.If | ast.Assert):
        return "test"
    if isinstance(statement, ast.For):
        return "iter"
    if isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr | ast.Return):
        return "value" if statement.value is not None else None
    return None


def _hoisted(
    expression: ast.expr, read_first: frozenset[str] = frozenset()
) -> tuple[list[ast.Assign], ast.expr]:
    """The assignments of ``expression``'s hoistable assignment expressions, in the order
    Python evaluates them, and ``expression`` with each replaced by its name (``read_first``:
    the names the statement reads before it, an augmented assignment's target)."""
    assignments: list[ast.Assign] = []
    read_so_far: set[str] = set(read_first)

    def visit(node: ast.AST, evaluated_always: bool) -> ast.AST:
        if isinstance(node, ast.NamedExpr):
            name = node.target.id
            read_before = name in read_so_far  # reads in its own value come before the binding
            node.value = visit(node.value, evaluated_always)
            if not evaluated_always or read_before:
                return node
            assignment = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=node.value)
            assignments.append(ast.copy_location(assignment, node))
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read_so_far.add(node.id)
            return node
        for field, value in ast.iter_fields(node):
            always = evaluated_always and not _sometimes(node, field)
            if isinstance(value, list):
                setattr(
                    node,
                    field,
                    [
                        (
                            visit(item, always and not (isinstance(node, ast.BoolOp) and k > 0))
                            if isinstance(item, ast.AST)
                            else item
                        )
                        for k, item in enumerate(value)
                    ],
                )
            elif isinstance(value, ast.AST):
                setattr(node, field, visit(value, always))
        return node

    return assignments, visit(expression, True)


def _sometimes(node: ast.AST, field: str) -> bool:
    """Whether ``node``'s ``field`` may not be evaluated when ``node`` is."""
    if isinstance(node, _CONDITIONAL):
        return True
    return isinstance(node, ast.IfExp) and field in ("body", "orelse")


def _located(node: ast.stmt, statement: ast.stmt) -> ast.stmt:
    """``node`` and its parts located at ``statement`` where they have no place of their own."""
    for part in ast.walk(node):
        if "lineno" in part._attributes and not getattr(part, "lineno", None):
            ast.copy_location(part, statement)
    return node
