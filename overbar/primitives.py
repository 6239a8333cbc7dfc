"""Keys for the primitives that are not plain callables: method calls and attribute reads.

Both halves of overbar share this vocabulary. The transpiler turns ``x.sum(axis=0)`` into an
application of ``Method("sum")`` to ``x``, and ``x.T`` into one of ``Attribute("T")``; the runtime
registers adjoint rules under the same keys; ``np.r_[a, b]`` is an application of
``Index(np.r_)`` to ``a`` and ``b``. Operators are keyed by the functions of the standard
``operator`` module (``a + b`` is ``operator.add``), calls by the callable object itself.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Index:
    """An index expression on an object that builds a value from its index rather than reading
    one out of itself, ``np.r_[a, 0:3, b]``: the object is the primitive, the elements of the
    index (a slice as ``slice(...)``) are its inputs in order. ``name`` is how the source
    spells the object, for messages."""

    maker: object
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.name or repr(self.maker)}[...]"


def is_index_maker(value: object) -> bool:
    """Whether indexing ``value`` makes a value from the index (``np.r_``, ``np.c_``) rather
    than reading an element of a container: an object with ``__getitem__`` that is neither an
    array (it has no shape), a builtin container, nor a class."""
    return (
        not isinstance(value, list | tuple | dict | str | bytes | range | type)
        and not hasattr(value, "shape")
        and callable(getattr(type(value), "__getitem__", None))
    )


# Public modules whose functions may not say where they live (SciPy's ufuncs have no module).
_NAMESPACES = ("scipy.special",)


def _public(module: str) -> str:
    """A module's path without its private parts (``scipy.special._ufuncs``: ``scipy.special``)."""
    return ".".join(part for part in module.split(".") if not part.startswith("_"))


def _public_name(primal: object) -> str | None:
    """How a library's user spells ``primal``, where its public module holds it:
    ``scipy.special.logsumexp`` (defined in ``scipy.special._logsumexp``),
    ``scipy.special.gammaln`` (a ufunc with no module), ``scipy.stats.norm.pdf`` (a method of
    the object ``scipy.stats.norm``)."""
    owner = getattr(primal, "__self__", None)
    if inspect.ismethod(primal) and owner is not None and not isinstance(owner, type):
        module = sys.modules.get(_public(type(owner).__module__))
        for attribute, value in vars(module).items() if module is not None else ():
            if value is owner:
                return f"{module.__name__}.{attribute}.{primal.__name__}"
        return None
    name = getattr(primal, "__name__", None)
    module = getattr(primal, "__module__", None)
    candidates = [_public(module)] if module else list(_NAMESPACES)
    for candidate in candidates:
        found = sys.modules.get(candidate)
        if found is not None and name and getattr(found, name, None) is primal:
            return f"{candidate}.{name}"
    return None


def _bound_to_named(primal: object) -> str | None:
    """How a user spells a builtin method of a library's named object that is not a module
    (``np.add.reduce``, a method of the ufunc ``np.add``; ``scipy.special.xlogy.outer``)."""
    owner = getattr(primal, "__self__", None)
    if (
        not inspect.isbuiltin(primal)
        or owner is None
        or inspect.ismodule(owner)
        or isinstance(owner, type)
        or not getattr(owner, "__name__", None)
    ):
        return None
    return f"{describe(owner)}.{primal.__name__}"


def describe(primal: object) -> str:
    """A short human name for a primitive, for error messages."""
    if isinstance(primal, (Method, Attribute, Index)):
        return str(primal)
    if (bound := _bound_to_named(primal)) is not None:
        return bound
    module = getattr(primal, "__module__", None) or ""
    name = getattr(primal, "__qualname__", None) or getattr(primal, "__name__", None)
    if name is None:
        return repr(primal)
    if not module.startswith(("numpy", "builtins", "_operator", "operator", "math")) and (
        public := _public_name(primal)
    ):
        return public
    if module in ("numpy", "builtins", "_operator", "operator") or not module:
        prefix = {"numpy": "np.", "_operator": "operator.", "operator": "operator."}
        return prefix.get(module, "") + name
    if module.startswith("numpy"):
        return "np." + module.removeprefix("numpy.") + "." + name
    return f"{module}.{name}"
