"""Forward values the reverse sweep computes again, read from the forward sweep instead.

A rule may compute from the primal's inputs what the user's own lines have computed already:
the adjoint of ``np.var(x, axis=1, keepdims=True)`` reads ``x - np.mean(x, axis=1,
keepdims=True)``, which a layer norm has just bound (``mu = x.mean(axis=1, keepdims=True)``,
``centred = x - mu``). Before and after::

    mu = x.mean(axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    tmp1 = x - mu
    ...
    x_bar = x_bar + var_bar * (x - np.mean(x, axis=1, keepdims=True)) * (2 / ...)

    x_bar = x_bar + var_bar * tmp1 * (2 / ...)

Identity: a name bound once holds, wherever it is read after its binding, the value of the
expression it was bound to, when that expression is a pure function of names that are not
bound again (common subexpressions). The forward sweep's later lines read it too, where they
compute it again (a helper written ``(x - mu) / np.sqrt(var)`` after ``np.square(x - mu)``).
``a.mean(...)`` (the method) and ``np.mean(a, ...)`` are the same function of an array ``a``.

Side conditions: the forward name is bound once in the whole function (no rebinding, no write
into it, no loop target), by a statement of the forward sweep's top level (it has run before
the reverse sweep starts); every name the expression reads is a parameter or such a forward
name, never bound again (a write into an array, ``a[i] = v``, binds ``a`` again), and has a
known shape that is an array or a number (so the operators are NumPy's, not a user class's);
the forward sweep writes into no array (no ``a[i] = v``, ``+=``, ``out=`` or call made as a
statement: another name may alias the array); the expression is made of ``+ - * / **``,
negation, numbers, the array library's elementwise functions, and its reductions ``sum``,
``mean``, ``max`` and ``min`` (as functions or methods, with literal keywords): pure and
deterministic. Only expressions with at least one operation are replaced (a name is not
replaced by another), and in the forward sweep only after the binding.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.library import library_function, module_names
from overbar.transpiler.names import bindings, clone, with_reverse_cloned
from overbar.transpiler.parse import Namespace
from overbar.transpiler.reverse import Adjoint
from overbar.transpiler.syntax import is_comment

_REDUCTIONS = ("sum", "mean", "max", "min")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def reuse_forward_values(
    adjoint: Adjoint, runtime: Runtime, namespace: Namespace | None = None
) -> Adjoint:
    """The adjoint with the reverse sweep's recomputations of forward values replaced by the
    forward names that hold them."""
    body = with_reverse_cloned(adjoint.tree, adjoint.forward_length)
    forward = [clone(statement) for statement in body[: adjoint.forward_length]]
    reverse = body[adjoint.forward_length :]
    if _may_write_in_place(forward):
        return adjoint
    keys = _Keys(adjoint, runtime, namespace, forward + reverse)
    replacer = _Replacer(keys)
    for index, statement in enumerate(forward):
        statement = forward[index] = replacer.visit(statement)  # what is held so far
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and keys.is_stable(statement.targets[0].id)
        ):
            key = keys.of(statement.value)
            if key is not None and key[0] != "name":
                keys.held.setdefault(key, statement.targets[0].id)
                keys.bound[statement.targets[0].id] = statement.value
    if not keys.held:
        return adjoint
    reverse = [replacer.visit(statement) for statement in reverse]
    if not replacer.replaced:
        return adjoint
    tree = copy.copy(adjoint.tree)
    tree.body = forward + reverse
    return replace(adjoint, tree=tree)


def _may_write_in_place(statements: list[ast.stmt]) -> bool:
    """Whether the statements may change an array in place, which another name may alias
    (``y = x; y[0] = 1.0`` changes x, bound never): a write into a subscript or attribute,
    an augmented assignment, a keyword ``out=``, or a call made as a statement (``a.sort()``).
    Then nothing is replaced."""
    for node in (n for statement in statements for n in ast.walk(statement)):
        if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            return True
        if isinstance(node, ast.AugAssign) or (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and not is_comment(node)
        ):
            return True
        if isinstance(node, ast.keyword) and node.arg == "out":
            return True
    return False


class _Keys:
    """A key per pure expression: equal keys, equal values (value numbering)."""

    def __init__(self, adjoint: Adjoint, runtime: Runtime, namespace, body: list[ast.stmt]):
        self.runtime = runtime
        self.numpy_names = module_names(adjoint.bindings, namespace, runtime)
        self.shapes = dict(adjoint.shapes)
        self.bindings = bindings(body)
        self.parameters = {a.arg for a in adjoint.tree.args.args + adjoint.tree.args.kwonlyargs}
        # the statements of the forward sweep's top level (a replacement keeps the statement)
        self.forward_top = {id(statement) for statement in body[: adjoint.forward_length]}
        self.held: dict[Any, str] = {}  # key -> the forward name holding it
        self.bound: dict[str, ast.expr] = {}  # forward name -> the expression it holds
        # Value numbers: a composite key is its parts' numbers, so a key stays small however
        # deep the expressions it stands for (a name's key is found once: names are bound
        # once, each read of one would otherwise expand it again, exponentially in a chain)
        self.numbers: dict[tuple, tuple] = {}
        self.name_keys: dict[str, Any] = {}

    def numbered(self, key: tuple) -> tuple:
        """The value number standing for the composite ``key`` (equal keys, one number)."""
        return self.numbers.setdefault(key, ("value", len(self.numbers)))

    def is_stable(self, name: str) -> bool:
        """Whether ``name`` holds one value from its binding on: a parameter never bound,
        or a name bound once by a forward statement of the top level; of known shape."""
        found = self.bindings.get(name, [])
        if name in self.parameters:
            stable = not found
        else:
            stable = len(found) == 1 and id(found[0]) in self.forward_top
        return stable and self.runtime.shapes.dims(self.shapes.get(name)) is not None

    def of(self, node: ast.expr) -> Any:
        """The key of ``node``'s value, or None where it is not a pure expression of stable
        names."""
        if isinstance(node, ast.Name):
            if node.id in self.bound:
                if node.id not in self.name_keys:
                    self.name_keys[node.id] = self.of(self.bound[node.id])
                return self.name_keys[node.id]
            return ("name", node.id) if self.is_stable(node.id) else None
        if isinstance(node, ast.Constant):
            if type(node.value) in (int, float, bool) or node.value is None:
                return ("constant", type(node.value).__name__, node.value)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.of(node.operand)
            return None if operand is None else self.numbered(("negative", operand))
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
            left, right = self.of(node.left), self.of(node.right)
            if left is None or right is None:
                return None
            return self.numbered(("operator", type(node.op).__name__, left, right))
        if isinstance(node, ast.Tuple):
            elements = [self.of(e) for e in node.elts]
            if any(e is None for e in elements):
                return None
            return self.numbered(("tuple", *elements))
        if isinstance(node, ast.Call):
            return self.call(node)
        return None

    def call(self, node: ast.Call) -> Any:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return None
        function = library_function(node, self.numpy_names, self.runtime)
        module = self.runtime.array_module
        if function is not None:
            arguments = list(node.args)
            reduction = any(function is getattr(module, r, None) for r in _REDUCTIONS)
            if not (reduction or (self.runtime.is_elementwise(function) and not node.keywords)):
                return None  # (an elementwise function's keywords may be out= or where=)
            name = getattr(function, "__name__", None)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _REDUCTIONS:
            receiver = node.func.value
            dims = self.runtime.shapes.dims(
                self.shapes.get(receiver.id) if isinstance(receiver, ast.Name) else None
            )
            if not dims:  # the method of an array: NumPy's function of it
                return None
            arguments, name = [receiver, *node.args], node.func.attr
            if len(node.args) > 1:
                return None  # a second positional (dtype, out) differs between the two
        else:
            return None
        if name is None or (name in _REDUCTIONS and len(arguments) > 2):
            return None
        positional = [self.of(a) for a in arguments]
        keywords = sorted((k.arg, self.of(k.value)) for k in node.keywords)
        if name in _REDUCTIONS and len(positional) == 2:  # np.sum(a, 1): axis by position
            keywords = sorted([*keywords, ("axis", positional.pop())])
        if any(p is None for p in positional) or any(v is None for _, v in keywords):
            return None
        if name in _REDUCTIONS and any(k not in ("axis", "keepdims") for k, _ in keywords):
            return None
        return self.numbered(("call", name, *positional, *keywords))


class _Replacer(ast.NodeTransformer):
    def __init__(self, keys: _Keys):
        self.keys = keys
        self.replaced = False

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if (
            isinstance(node, ast.expr)
            and not isinstance(node, ast.Name | ast.Constant)
            and not isinstance(getattr(node, "ctx", None), ast.Store | ast.Del)
        ):
            key = self.keys.of(node)
            name = self.keys.held.get(key) if key is not None else None
            if name is not None:
                self.replaced = True
                return ast.Name(id=name, ctx=ast.Load())
        return super().generic_visit(node)
