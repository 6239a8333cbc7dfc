"""What overbar keeps of a user's function, kept on the function itself.

Transformations, gradient objects, pullbacks and normal forms are kept per function. A weak
dictionary keyed by the function would never free an entry whose value holds the function (every
one of these does: a ``ParsedFunction`` holds it), so they live in a dictionary in the function's
own ``__dict__`` and go with it: nothing outside the function refers to them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from overbar.transpiler.bindings import bindings_hold, bindings_of

STORE = "__overbar_cache__"
OWNER = "__overbar_owner__"  # in the dictionary: a weak reference to the function it is for
BINDINGS = "__overbar_bindings__"  # in the dictionary: the functions it read when it was made


def cache_of(function: Callable) -> dict:
    """The dictionary in which overbar keeps what it made of ``function``, created on first
    use. A wrapper made with ``functools.wraps`` copies the wrapped function's ``__dict__``,
    this dictionary included: it holds which function it is for, and a function finding
    another's gets one of its own (else the wrapper would find the wrapped function's
    gradients as its own)."""
    kept = function.__dict__.get(STORE)
    if kept is None:
        kept = function.__dict__.setdefault(STORE, _new_store(function))
    if kept[OWNER]() is not function or not bindings_hold(kept[BINDINGS]):
        kept = function.__dict__[STORE] = _new_store(function)
    return kept


def _new_store(function: Callable) -> dict:
    """An empty store for ``function``, with the functions it reads now (``bindings.py``): when
    a name holds another one, what was made of the function is dropped with the store."""
    return {OWNER: _reference(function), BINDINGS: bindings_of(function)}


def _reference(function: Callable) -> Callable[[], Callable]:
    """A weak reference to ``function``, or for an object that takes none (a NumPy ufunc,
    which lives as long as NumPy does) a plain one."""
    try:
        return weakref.ref(function)
    except TypeError:
        return lambda: function


def is_own(kept: dict, function: Callable) -> bool:
    """Whether ``kept``, found in ``function.__dict__``, is ``function``'s own, and made while
    the names it reads held the functions they hold now."""
    return kept[OWNER]() is function and bindings_hold(kept[BINDINGS])
