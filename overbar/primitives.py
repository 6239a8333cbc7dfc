"""Keys for the primitives that are not plain callables: method calls and attribute reads.

Both halves of overbar share this vocabulary. The transpiler turns ``x.sum(axis=0)`` into an
application of ``Method("sum")`` to ``x``, and ``x.T`` into one of ``Attribute("T")``; the runtime
registers adjoint rules under the same keys. Operators are keyed by the functions of the standard
``operator`` module (``a + b`` is ``operator.add``), calls by the callable object itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """A method call ``receiver.name(...)``; the receiver is the first input."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}()"


@dataclass(frozen=True)
class Attribute:
    """An attribute read ``value.name``; the value is the only input."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


def describe(primal: object) -> str:
    """A short human name for a primitive, for error messages."""
    if isinstance(primal, (Method, Attribute)):
        return str(primal)
    module = getattr(primal, "__module__", None) or ""
    name = getattr(primal, "__qualname__", None) or getattr(primal, "__name__", None)
    if name is None:
        return repr(primal)
    if module in ("numpy", "builtins", "_operator", "operator") or not module:
        prefix = {"numpy": "np.", "_operator": "operator.", "operator": "operator."}
        return prefix.get(module, "") + name
    if module.startswith("numpy"):
        return "np." + module.removeprefix("numpy.") + "." + name
    return f"{module}.{name}"
