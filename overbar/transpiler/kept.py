"""What overbar keeps of a user's function, kept on the function itself.

Transformations, gradient objects, pullbacks and normal forms are kept per function. A weak
dictionary keyed by the function would never free an entry whose value holds the function (every
one of these does: a ``ParsedFunction`` holds it), so they live in a dictionary in the function's
own ``__dict__`` and go with it: nothing outside the function refers to them.
"""

from __future__ import annotations

from collections.abc import Callable

STORE = "__overbar_cache__"


def cache_of(function: Callable) -> dict:
    """The dictionary in which overbar keeps what it made of ``function``, created on first
    use."""
    try:
        return function.__dict__[STORE]
    except KeyError:
        return function.__dict__.setdefault(STORE, {})
