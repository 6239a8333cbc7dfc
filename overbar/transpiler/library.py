"""Where the generated code can see the runtime's array library, by name.

Passes that rewrite the generated code read calls such as ``np.cos(y)`` or ``np.outer(a, b)``;
``np`` means the array library only where the user's function sees it under that name, or the
adjoint binds it. This module answers that, and nothing of the library itself is known here:
the runtime says what its module is and which of its functions are elementwise or pure.
"""

from __future__ import annotations

import ast
from typing import Any

from overbar.runtime.interface import Runtime
from overbar.transpiler.parse import Namespace


def module_names(
    bindings: tuple[tuple[str, Any], ...], namespace: Namespace | None, runtime: Runtime
) -> frozenset[str]:
    """The names under which the generated function sees the runtime's array module."""
    module = runtime.array_module
    names = {name for name, value in bindings if value is module}
    if namespace is not None:
        names.update(name for name in ("np", "numpy", "xp") if namespace.lookup(name) is module)
    return frozenset(names)


def library_function(node: ast.expr, names: frozenset[str], runtime: Runtime) -> Any:
    """The array library's function ``node`` calls (``np.exp(x)``: ``np.exp``), or None."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in names
    ):
        return None
    return getattr(runtime.array_module, node.func.attr, None)


def is_select(node: ast.expr, names: frozenset[str], runtime: Runtime) -> bool:
    """Whether ``node`` is the array library's ``where(c, x, y)``: three positional arguments."""
    function = library_function(node, names, runtime)
    return (
        function is not None
        and function is getattr(runtime.array_module, "where", None)
        and len(node.args) == 3
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def is_elementwise_call(node: ast.expr, names: frozenset[str], runtime: Runtime) -> bool:
    """Whether ``node`` calls an elementwise function of the array library (``np.cos(x)``),
    every argument positional, one per input (no ``out=``)."""
    function = library_function(node, names, runtime)
    return (
        function is not None
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
        and runtime.is_elementwise(function)
        and getattr(function, "nin", None) == len(node.args)
    )


def surely_numeric(
    node: ast.expr, floating: frozenset[str], names: frozenset[str], runtime: Runtime
) -> bool:
    """Whether ``node``'s value is surely a number or numeric array, not booleans: a numeric
    literal, a forward value surely floating point, a call of a library function whose result
    is floating point, a quotient, or arithmetic with such an operand (NumPy promotes the
    other to it). Two boolean arrays add as a logical or, so ``a * b + a * c`` is
    ``a * (b + c)`` only where ``b`` or ``c`` is surely numeric."""
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float)
    if isinstance(node, ast.Name):
        return node.id in floating
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return surely_numeric(node.operand, floating, names, runtime)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            return True  # true division gives floats, of booleans too
        if isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Pow):
            return any(
                surely_numeric(side, floating, names, runtime) for side in (node.left, node.right)
            )
        return False
    function = library_function(node, names, runtime)
    try:
        return function is not None and function in runtime.shapes.FLOATING_FUNCTIONS
    except TypeError:  # an unhashable attribute of the library
        return False
