"""Objects made in the differentiated function: ``cell = Cell(W, U, b)`` whose ``__init__``
only stores its arguments as attributes.

A model or a cell made where it is used, then called (``cell(h, x)``, its ``__call__``) or
asked for a method (``cell.step(h)``), is an object whose attributes are the arguments it was
made from. Its adjoint is that of any object overbar differentiates: a dict of its attributes'
adjoints by name (``runtime.attribute_bar``), filled by the pullbacks of the methods that read
them. The line that made it sends each attribute's adjoint back to the argument stored there:

    cell = Cell(W, U, b)        (__init__: self.W = W; self.U = U; self.b = b)
    W̄ += cell̄["W"],  Ū += cell̄["U"],  b̄ += cell̄["b"]

Identity: after ``__init__`` ran, ``cell.W`` is the object ``W`` (stored, not copied), so a
read of ``cell.W`` is a read of ``W``, and its adjoint is ``W``'s. Side conditions, each
checked (a class that fails one is no such class: a call of it has no rule, and is refused):

- the class is a plain Python class: its metaclass is ``type``, it makes its objects with
  ``object.__new__`` and sets their attributes with ``object.__setattr__``;
- its ``__init__`` (its own or inherited) is a Python function overbar reads, with no
  ``*args`` or ``**kwargs``, whose body is only ``self.a = p`` (or ``self.a, self.b = p, q``)
  with ``p`` a parameter, each attribute stored once (a docstring and ``pass`` may be there);
- no attribute it stores is a data descriptor of the class (a property's setter would run).
"""

from __future__ import annotations

import ast
import inspect
import types
from dataclasses import dataclass
from typing import Any

from overbar.errors import OverbarError
from overbar.transpiler.kept import cache_of
from overbar.transpiler.parse import parse

_KEPT = "attributes its __init__ stores"  # the key of the analysis in what is kept of a class


@dataclass(frozen=True)
class StoredArguments:
    """What ``__init__`` of a class stores: each attribute with the parameter it holds, and the
    signature that binds a call's arguments to those parameters (without ``self``)."""

    attributes: tuple[tuple[str, str], ...]
    signature: inspect.Signature


def stored_arguments(cls: Any) -> StoredArguments | None:
    """The attributes ``cls.__init__`` stores its parameters in, for a class that meets the
    side conditions above; None for anything else (a function, a NumPy type, another class)."""
    if not isinstance(cls, type) or type(cls) is not type:
        return None
    if (cls.__module__ or "").split(".")[0] in ("builtins", "numpy", "overbar"):
        return None
    kept = cache_of(cls.__init__) if isinstance(cls.__init__, types.FunctionType) else None
    if kept is None:
        return None
    key = (_KEPT, cls)
    if key not in kept:
        kept[key] = _stored_arguments(cls)
    return kept[key]


def _stored_arguments(cls: type) -> StoredArguments | None:
    if (
        cls.__new__ is not object.__new__
        or inspect.getattr_static(cls, "__setattr__") is not object.__setattr__
    ):
        return None
    initialise = cls.__init__
    try:
        tree = parse(initialise).tree
    except (OverbarError, OSError, TypeError, SyntaxError):
        return None
    arguments = tree.args
    if arguments.vararg or arguments.kwarg or not arguments.args:
        return None
    own = arguments.args[0].arg
    parameters = {a.arg for a in [*arguments.args[1:], *arguments.kwonlyargs]}
    stored: dict[str, str] = {}
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        pairs = _stored_pairs(statement, own)
        if pairs is None:
            return None
        for attribute, parameter in pairs:
            if parameter not in parameters or attribute in stored:
                return None
            if hasattr(inspect.getattr_static(cls, attribute, None), "__set__"):
                return None
            stored[attribute] = parameter
    signature = inspect.signature(initialise)
    without_self = signature.replace(parameters=list(signature.parameters.values())[1:])
    return StoredArguments(tuple(stored.items()), without_self)


def _stored_pairs(statement: ast.stmt, own: str) -> list[tuple[str, str]] | None:
    """``self.a = p`` as [("a", "p")], ``self.a, self.b = p, q`` as both; None otherwise."""
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return None
    target, value = statement.targets[0], statement.value
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        if len(target.elts) != len(value.elts):
            return None
        pairs = [_stored_pair(t, v, own) for t, v in zip(target.elts, value.elts, strict=True)]
        return None if None in pairs else pairs
    pair = _stored_pair(target, value, own)
    return None if pair is None else [pair]


def _stored_pair(target: ast.expr, value: ast.expr, own: str) -> tuple[str, str] | None:
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == own
        and isinstance(value, ast.Name)
    ):
        return target.attr, value.id
    return None


def stored_atoms(application: Any) -> list[tuple[str, ast.expr]] | None:
    """For ``cell = Cell(W, U, b)`` (an application whose primal is such a class): each
    attribute with the argument (an atom of the normal form) stored there; None for any other
    application, or a call whose arguments do not bind to ``__init__``'s parameters."""
    stored = stored_arguments(application.primal)
    if stored is None:
        return None
    try:
        bound = stored.signature.bind(*application.positional, **dict(application.keywords))
    except TypeError:
        return None
    return [
        (attribute, bound.arguments[parameter])
        for attribute, parameter in stored.attributes
        if parameter in bound.arguments  # a default left out: a constant, no adjoint
    ]
