"""The functions a compiled adjoint was derived for, checked to be the ones the names hold now.

An adjoint is derived from what the user's function calls when it is compiled: ``act(x)``
with ``act = np.tanh`` at module level gets tanh's rule, and a call of a helper gets the
helper's code (inlined, or its pullback). The generated code reads those names again when it
runs. Rebind one afterwards (``act = np.sin``; a helper defined again, as a notebook's cell run
twice does) and the forward sweep would compute with the new function while the reverse sweep
applies the old one's derivative: a wrong gradient, silently. So what an adjoint was derived
for is recorded with it, and checked before it runs; where a name holds another function now,
the adjoints kept for the function are dropped and made again.

Recorded: each global or closure variable the function's code reads (nested code, lambdas and
comprehensions included) that holds something callable other than a module (a function, a
ufunc, a class, a partial, a gradient), and, through each Python function found, what that
one reads, and so on. Not recorded: modules (``np.tanh`` reads ``np`` and then its attribute:
rebinding NumPy's own functions is out of reach, as it is for every compiler), and data
(numbers, arrays), which the generated code reads when it runs.
"""

from __future__ import annotations

import types
from typing import Any

_MISSING = object()

Binding = tuple[Any, str | None, Any]  # (globals dict, name, value) or (cell, None, value)


def bindings_of(function: Any) -> tuple[Binding, ...]:
    """The callable globals and closure variables ``function`` reads, and those of the Python
    functions among them, in turn (each function looked at once)."""
    found: list[Binding] = []
    seen: set[int] = set()
    pending = [function]
    while pending:
        current = pending.pop()
        if not isinstance(current, types.FunctionType) or id(current) in seen:
            continue
        seen.add(id(current))
        scope = current.__globals__
        for name in sorted(_names_read(current.__code__)):
            value = scope.get(name, _MISSING)
            if _decides_code(value):
                found.append((scope, name, value))
                pending.append(value)
        cells = zip(current.__code__.co_freevars, current.__closure__ or (), strict=True)
        for _, cell in cells:
            try:
                value = cell.cell_contents
            except ValueError:  # not bound yet
                continue
            if _decides_code(value):
                found.append((cell, None, value))
                pending.append(value)
    return tuple(found)


def bindings_hold(bindings: tuple[Binding, ...] | list[Binding]) -> bool:
    """Whether every name recorded in ``bindings`` holds the value it held then."""
    for scope, name, value in bindings:
        if name is None:
            try:
                if scope.cell_contents is not value:
                    return False
            except ValueError:
                return False
        elif scope.get(name, _MISSING) is not value:
            return False
    return True


def _names_read(code: types.CodeType) -> set[str]:
    """The global (and attribute) names ``code`` and the code nested in it read."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_read(constant)
    return names


def _decides_code(value: Any) -> bool:
    """A value the derivation depends on by identity: something callable, not a module."""
    return value is not _MISSING and callable(value) and not isinstance(value, types.ModuleType)
