r"""The fence's view of a function's scope: its parameters and local names, what a name that is
not local resolves to, and how a refusal points at the construct.

Every check of the fence (``fence.py``, construct by construct, and ``in_place.py``, over the
whole function) asks the same questions of the same function, so they are answered here once:
the names the function binds anywhere are collected in one walk of its tree, when the scope is
made, and looked up after that.

>>> import ast
>>> tree = ast.parse("def f(x, n):\n    for i in range(n):\n        x, y = x + i, x\n    return y")
>>> sorted(assigned_anywhere(tree.body[0]))
['i', 'x', 'y']
"""

from __future__ import annotations

import ast
import types
from collections.abc import Mapping

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.names import statements_breadth_first, walk_breadth_first
from overbar.transpiler.parse import MISSING, ParsedFunction

CHANGES = "a differentiated function must not change anything outside itself"


def local_lambdas(tree: ast.FunctionDef) -> dict[str, ast.Lambda]:
    """The lambdas bound to a name in the function that a call can stand in for: ``f = lambda
    z: z * z`` at the top level of the body, ``f`` assigned nowhere else and not a parameter,
    read only as the function of calls that come after it; the lambda of plain positional
    parameters, not calling itself. The normaliser writes each call of ``f`` as the lambda's
    body with the call's arguments for its parameters (Python reads the body's other names
    when the call runs, as the normal form does there)."""
    found: dict[str, ast.Lambda] = {}
    parameters = {a.arg for a in all_arguments(tree.args)}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Lambda)
        ):
            found.setdefault(statement.targets[0].id, statement.value)
    arguments_of = {name: lam.args for name, lam in found.items()}
    for name, arguments in arguments_of.items():
        if (
            name in parameters
            or arguments.posonlyargs
            or arguments.vararg
            or arguments.kwonlyargs
            or arguments.kwarg
            or arguments.defaults
        ):
            found.pop(name)
    if not found:  # no lambda bound at the top: the function's reads need not be looked at
        return found
    called = {id(n.func) for n in walk_breadth_first(tree) if isinstance(n, ast.Call)}
    for node in walk_breadth_first(tree):
        if not isinstance(node, ast.Name) or node.id not in found:
            continue
        definition = found[node.id]
        if isinstance(node.ctx, ast.Store):
            assignment_target = any(
                isinstance(s, ast.Assign) and s.value is definition and s.targets[0] is node
                for s in tree.body
            )
            if not assignment_target:
                found.pop(node.id)
        elif (
            id(node) not in called
            or (node.lineno, node.col_offset) < (definition.lineno, definition.col_offset)
            or any(inner is node for inner in walk_breadth_first(definition))
        ):
            found.pop(node.id)
    return found


class FenceScope:
    """The function being checked: its tree, parameters, local names and module namespace;
    the runtime's ``array_makers`` (functions that return a new array) and
    ``copying_functions`` (that never return a view of an argument)."""

    def __init__(
        self,
        parsed: ParsedFunction,
        array_makers: frozenset = frozenset(),
        copying_functions: frozenset = frozenset(),
    ):
        self.array_makers = array_makers
        self.copying_functions = copying_functions
        self.parsed = parsed
        self.tree = parsed.tree
        self.parameters = {a.arg for a in all_arguments(self.tree.args)}
        # Every name local to the function: the rest are read from its module or closure.
        self.local_names = self.parameters | assigned_anywhere(self.tree)
        self.local_names |= {
            node.id
            for comprehension in walk_breadth_first(self.tree)
            if isinstance(comprehension, ast.comprehension)
            for node in walk_breadth_first(comprehension.target)
            if isinstance(node, ast.Name)
        }
        self.lambdas = local_lambdas(self.tree)
        # the parameters bound to integers at the call, where the adjoint is specialised
        self.numbers: frozenset = frozenset()
        # functions that copy but at one value of one argument (check_supported's)
        self.copying_unless: Mapping = {}

    def refuse(self, node: ast.AST, what: str, advice: str) -> UnsupportedSyntaxError:
        message = f"overbar cannot differentiate {what} in {self.tree.name}: {advice}"
        return UnsupportedSyntaxError(message, self.parsed.location(node))

    def resolve(self, node: ast.expr):
        namespace = self.parsed.namespace
        try:
            return namespace.resolve(node) if namespace is not None else None
        except Exception:  # a property raising on access: not a known function
            return None

    def describe_outside(self, name: str) -> str:
        """What a name the function does not bind refers to: ``a module-level list``."""
        namespace = self.parsed.namespace
        if name in namespace.closure:
            qualified = self.parsed.function.__qualname__
            enclosing = qualified.rsplit(".<locals>.", 1)[0] if ".<locals>." in qualified else ""
            return f"a variable of the enclosing function {enclosing}".rstrip()
        value = namespace.lookup(name)
        kind = type(value).__name__
        if value is MISSING:
            return "a name the function does not define"
        if name in namespace.globals:
            return f"a module-level {kind}"
        return f"a builtin {kind}"

    def is_global_path(self, node: ast.expr) -> bool:
        """``np.linalg.inv``: a dotted name rooted at something that is not a local variable,
        whose owner (``np.linalg``) is a module or a class, so not a method of a value: a
        module-level list's ``state.pop()`` is a method call that changes the list."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or root.id in self.local_names:
            return False
        if not isinstance(node, ast.Attribute):
            return True
        owner = self.resolve(node.value)
        return owner is MISSING or owner is None or isinstance(owner, types.ModuleType | type)


def all_arguments(arguments: ast.arguments) -> list[ast.arg]:
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]


def is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def is_append(statement: ast.Expr) -> bool:
    """``name.append(value)`` as a statement."""
    call = statement.value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name)
        and len(call.args) == 1
        and not call.keywords
    )


def assigned_anywhere(tree: ast.FunctionDef) -> set[str]:
    """Every name a statement anywhere in ``tree`` binds (one walk of the whole tree)."""
    return {
        name
        for node in statements_breadth_first(tree)
        if isinstance(node, ast.stmt)
        for name in bound_names(node)
    }


def bound_names(statement: ast.stmt) -> set[str]:
    """Names ``statement`` binds (a write into ``y[i]`` or ``y.a`` binds none)."""
    names = set()
    targets = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign | ast.For):
        targets = [statement.target]
    for target in targets:
        if isinstance(target, ast.Subscript | ast.Attribute):
            continue
        for node in walk_breadth_first(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
    return names
