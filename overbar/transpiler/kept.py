"""What overbar keeps of a user's function, kept on the function itself.

Transformations, gradient objects, pullbacks and normal forms are kept per function. A weak
dictionary keyed by the function would never free an entry whose value holds the function (every
one of these does: a ``ParsedFunction`` holds it), so they live in a dictionary in the function's
own ``__dict__`` and go with it: nothing outside the function refers to them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

STORE = "__overbar_cache__"
OWNER = "__overbar_owner__"  # in the dictionary: a weak reference to the function it is for


def cache_of(function: Callable) -> dict:
    """The dictionary in which overbar keeps what it made of ``function``, created on first
    use. A wrapper made with ``functools.wraps`` copies the wrapped function's ``__dict__``,
    this dictionary included: it holds which function it is for, and a function finding
    another's gets one of its own (else the wrapper would find the wrapped function's
    gradients as its own)."""
    kept = function.__dict__.get(STORE)
    if kept is None:
        kept = function.__dict__.setdefault(STORE, {OWNER: _reference(function)})
    if kept[OWNER]() is not function:
        kept = function.__dict__[STORE] = {OWNER: _reference(function)}
    return kept


def _reference(function: Callable) -> Callable[[], Callable]:
    """A weak reference to ``function``, or for an object that takes none (a NumPy ufunc,
    which lives as long as NumPy does) a plain one."""
    try:
        return weakref.ref(function)
    except TypeError:
        return lambda: function


def is_own(kept: dict, function: Callable) -> bool:
    """Whether ``kept``, found in ``function.__dict__``, is ``function``'s own."""
    return kept[OWNER]() is function
