"""Containers of parameters: dicts, lists and tuples of arrays and numbers, nested (what autograd
and JAX call pytrees).

A differentiated argument may be such a container; its gradient is a container of the same kind,
keys and length, with an array shaped like each leaf. This module walks them for the parts of
overbar that look at arguments from outside the generated code: the checks of arguments, the
entry's key, ``check_grad`` and the guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

CONTAINERS = (dict, list, tuple)

Path = tuple  # the keys and positions from the argument to a leaf


def is_container(value: Any) -> bool:
    """Whether ``value`` is a dict, list or tuple (exactly: not a subclass, such as a named
    tuple or an OrderedDict, whose construction differs)."""
    return type(value) in CONTAINERS


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """The leaves of ``value`` with their paths, in order (a dict's in its keys' order); a value
    that is not a container is its own one leaf, at the path ()."""
    if type(value) is dict:
        for key, part in value.items():
            yield from leaves(part, (*path, key))
    elif type(value) in (list, tuple):
        for position, part in enumerate(value):
            yield from leaves(part, (*path, position))
    else:
        yield path, value


def map_leaves(function: Callable[[Path, Any], Any], value: Any, path: Path = ()) -> Any:
    """``value`` with each leaf replaced by ``function(path, leaf)``, containers of the same
    kinds and keys around them."""
    if type(value) is dict:
        return {key: map_leaves(function, part, (*path, key)) for key, part in value.items()}
    if type(value) in (list, tuple):
        return type(value)(
            map_leaves(function, part, (*path, position)) for position, part in enumerate(value)
        )
    return function(path, value)


def leaf_at(value: Any, path: Path) -> Any:
    """The part of ``value`` at ``path``."""
    for step in path:
        value = value[step]
    return value


def replaced(value: Any, path: Path, leaf: Any) -> Any:
    """A copy of the containers of ``value`` along ``path`` with ``leaf`` at its end (the other
    leaves are shared, not copied)."""
    if not path:
        return leaf
    step, rest = path[0], path[1:]
    if type(value) is dict:
        return {**value, step: replaced(value[step], rest, leaf)}
    parts = list(value)
    parts[step] = replaced(parts[step], rest, leaf)
    return type(value)(parts)


def described(name: str, path: Path) -> str:
    """How the user writes the leaf at ``path`` of the argument ``name``: ``params["W1"][0]``."""
    return name + "".join(f"[{step!r}]" for step in path)


class ContainerKey(tuple):
    """The part of a gradient call's key for a container argument: (its kind, its keys (a
    dict's) or its length, the key of each element), so that a call with another structure,
    or leaves of other shapes, finds another adjoint. A tuple (made and compared at C speed:
    it is computed on every call) of a type of its own, told apart from a shape."""

    __slots__ = ()


def container_key(value: Any, leaf_key: Callable[[Any], Any]) -> Any:
    """The key of ``value``: a ``ContainerKey`` for a container, ``leaf_key(value)`` for a
    leaf."""
    kind = type(value)
    if kind is dict:
        parts = [
            container_key(part, leaf_key) if type(part) in CONTAINERS else leaf_key(part)
            for part in value.values()
        ]
        return ContainerKey((dict, tuple(value), tuple(parts)))
    if kind is list or kind is tuple:
        parts = [
            container_key(part, leaf_key) if type(part) in CONTAINERS else leaf_key(part)
            for part in value
        ]
        return ContainerKey((kind, len(parts), tuple(parts)))
    return leaf_key(value)


def key_leaves(key: Any) -> Iterator[Any]:
    """The leaves' keys in a ``container_key``."""
    if isinstance(key, ContainerKey):
        for element in key[2]:
            yield from key_leaves(element)
    else:
        yield key
