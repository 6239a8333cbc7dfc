"""Forward mode's entry points: ``jvp`` (the value and a directional derivative, as
``jax.jvp`` gives them) and ``jvp_source`` (the generated code it runs).

The jvp is generated per function, ``wrt`` and the arguments' shapes (ranks and which
dimensions are 1, as for ``grad``), and kept with the function.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from overbar import cache as disk_cache
from overbar import origins
from overbar.api import _collects_args, _positions, _resolve_wrt, function_for_call
from overbar.entry import FAST_TYPES
from overbar.errors import ArgumentError
from overbar.runtime import NUMPY
from overbar.runtime.helpers_linalg import NoTangent
from overbar.runtime.shapes import argument_shape
from overbar.transpiler.fence import check_definition
from overbar.transpiler.forward import tangent_name
from overbar.transpiler.forward_pipeline import (
    ForwardStages,
    all_forward_sources,
    link_jvps,
    transform_forward,
)
from overbar.transpiler.kept import STORE, cache_of, is_own
from overbar.transpiler.parse import parse
from overbar.transpiler.pipeline import kept_once

Wrt = int | str | Sequence[int | str] | None


def jvp(
    function: Callable, args: Sequence[Any], tangents: Sequence[Any], wrt: Wrt = None
) -> tuple[Any, Any]:
    """``(function(*args), J v)``: the value and the derivative of ``function`` at ``args``
    along ``tangents``, by generated forward-mode code (the convention of ``jax.jvp``).

    Without ``wrt`` every argument is differentiated and ``tangents`` holds one tangent per
    argument; with ``wrt`` (parameter names or positions) only those, and ``tangents`` holds
    one per entry of ``wrt``, in its order. Each tangent is shaped like its argument. The
    output may be any array, number, or tuple of them; its tangent has the same structure.
    """
    try:  # arguments (and tangents) of shapes seen before: the jvp found by their key
        kept = function.__dict__[STORE]
        if not is_own(kept, function):  # a functools.wraps wrapper's copy of another's
            raise KeyError(STORE)
        calls = kept["jvp calls"]
        compiled, dots, positional = calls[(wrt, *map(_key, args), *map(_key, tangents))]
    except (KeyError, TypeError, AttributeError):
        compiled, positions, dots = _compiled(function, args, tangents, wrt)
        positional = _tangents_positional(compiled, args, dots)
        key = (*map(_key, args), *map(_key, tangents))
        if all(isinstance(k, tuple) or k in FAST_TYPES for k in key):
            calls = cache_of(function).setdefault("jvp calls", {})
            if len(calls) >= _MOST_KEYS:
                calls.clear()
            with contextlib.suppress(TypeError):  # a wrt that is a list is not remembered
                calls[(wrt, *key)] = (compiled, dots, positional)
    try:
        if positional:
            value, derivative = compiled(*args, *tangents)
        else:
            value, derivative = compiled(*args, **dict(zip(dots, tangents, strict=True)))
    except Exception as error:  # a note names the user's line the failing line comes from
        origins.annotate(error)
        raise
    _refuse_no_tangent(derivative)
    return value, derivative


def _refuse_no_tangent(derivative: Any) -> None:
    """A part of the result with no derivative at this input (``NoTangent``: eigenvectors of a
    repeated eigenvalue returned as they are) is refused with its reason, not handed back."""
    for part in derivative if isinstance(derivative, tuple | list) else (derivative,):
        if isinstance(part, tuple | list):
            _refuse_no_tangent(part)
        elif isinstance(part, NoTangent):
            part.refuse()


def _tangents_positional(compiled: Callable, args: Sequence[Any], dots: tuple[str, ...]) -> bool:
    """Whether the tangents may be passed by position: the generated function takes them
    right after the arguments, all of which are given."""
    names = compiled.__code__.co_varnames[: compiled.__code__.co_argcount]
    return names[len(args) :] == dots


_MOST_KEYS = 64  # shapes of arguments remembered per function


def _key(value: Any) -> Any:
    """What the fast path keys an argument or a tangent by: a float64 array's shape, else its
    type (only keys of shapes and of Python floats are stored: those need no other check; an
    argument and its tangent of different shapes never get past the check to be stored)."""
    if type(value) is np.ndarray and value.dtype is _FLOAT64:
        return value.shape
    return type(value)


_FLOAT64 = np.dtype(np.float64)


def jvp_source(function: Callable, args: Sequence[Any] | None = None, wrt: Wrt = None) -> str:
    """The source of the jvp ``jvp(function, args, ..., wrt)`` runs: specialised on the shapes
    of ``args`` where they are given, the general one otherwise (``wrt`` is then required
    unless every parameter is differentiated), followed by the jvps of the helpers it calls."""
    return all_forward_sources(jvp_stages(function, args, wrt))


def jvp_stages(
    function: Callable, args: Sequence[Any] | None = None, wrt: Wrt = None
) -> ForwardStages:
    """Every stage of the forward-mode transformation ``jvp_source`` shows."""
    if args is not None:
        function = _for_call(function, args)
    if args is None:
        names = _names(function, wrt, None)
        return forward_stages(function, names, ())
    names = _names(function, wrt, len(args))
    return forward_stages(function, names, _shapes(function, args))


def _for_call(function: Callable, args: Sequence[Any]) -> Callable:
    """``function``, or for one with ``*args`` the function specialised on the number of
    arguments it collects in this call (``parse.function_with_arity``: a parameter each, so
    that ``wrt`` positions count the call's arguments), made once per number."""
    if not _collects_args(function):
        return function
    return function_for_call(function, tuple(args), {})[0]


def _names(function: Callable, wrt: Wrt, count: int | None) -> tuple[str, ...]:
    if wrt is not None:
        return _resolve_wrt(function, wrt)[0]
    positional = list(_positions(function))
    if count is None:
        count = len(positional)
    if count > len(positional):
        raise ArgumentError(
            f"jvp: {function.__qualname__} takes {len(positional)} positional arguments, "
            f"{count} given"
        )
    if count == 0:
        raise ArgumentError("jvp: no arguments to differentiate")
    return tuple(positional[:count])


def _shapes(function: Callable, args: Sequence[Any]) -> tuple[tuple[str, Any], ...]:
    bound = inspect.signature(function).bind(*args)
    bound.apply_defaults()
    return tuple((name, argument_shape(value)) for name, value in bound.arguments.items())


def forward_stages(
    function: Callable, names: tuple[str, ...], shapes: tuple[tuple[str, Any], ...]
) -> ForwardStages:
    """The forward-mode transformation of ``function`` for the parameters ``names``,
    specialised on ``shapes`` (name and ``argument_shape`` pairs), made once and kept."""

    def make() -> ForwardStages:
        check_definition(parse(function))
        known = {name: shape for name, shape in shapes if shape is not None}
        return transform_forward(function, names, NUMPY, known or None)

    return kept_once(function, ("jvp", names, shapes), make)


def _compiled(
    function: Callable, args: Sequence[Any], tangents: Sequence[Any], wrt: Wrt
) -> tuple[Callable, tuple[int, ...], tuple[str, ...]]:
    """The generated jvp for these arguments (checked), the positions of the differentiated
    arguments and the names of their tangent parameters."""
    if not inspect.isfunction(function):
        raise ArgumentError(
            f"overbar.jvp needs a Python function defined with def, not {function!r}"
        )
    if not isinstance(args, tuple | list) or not isinstance(tangents, tuple | list):
        raise ArgumentError("jvp: args and tangents are tuples (or lists), one entry each")
    function = _for_call(function, args)
    names = _names(function, wrt, len(args))
    if len(tangents) != len(names):
        raise ArgumentError(
            f"jvp: {len(tangents)} tangents for {len(names)} differentiated arguments "
            f"({', '.join(names)}); give one tangent per argument, shaped like it"
        )
    positions = _positions(function)
    for name, tangent in zip(names, tangents, strict=True):
        position = positions.get(name)
        if position is None or position >= len(args):
            raise ArgumentError(f"jvp: pass {name} positionally in args")
        value = args[position]
        if not NUMPY.is_differentiable_input(value):
            raise ArgumentError(
                f"{function.__qualname__}: cannot differentiate with respect to {name}, which "
                f"is {NUMPY.describe_input(value)}; pass a NumPy array of numbers or a number"
            )
        if np.shape(tangent) != np.shape(value):
            raise ArgumentError(
                f"jvp: the tangent of {name} has shape {np.shape(tangent)}, the argument "
                f"{np.shape(value)}; a tangent is shaped like its argument"
            )
    compiled = compiled_jvp(function, names, _shapes(function, args))
    dots = tuple(tangent_name(name) for name in names)
    return compiled, tuple(positions[name] for name in names), dots


def compiled_jvp(
    function: Callable, names: tuple[str, ...], shapes: tuple[tuple[str, Any], ...]
) -> Callable:
    """The compiled jvp ``forward_stages`` makes, read from the disk cache where it holds it
    (``overbar.cache``, as adjoints are), and written there when it is made; the jvps of the
    helpers it calls are linked in."""
    key = ("jvp", names, shapes)

    def make() -> Callable:
        found = disk_cache.load(function, key)
        if found is None:
            stages = forward_stages(function, names, shapes)
            found = stages.emitted.function
            disk_cache.store(function, key, stages)
        link_jvps(found)
        return found

    return kept_once(function, ("compiled", *key), make)
