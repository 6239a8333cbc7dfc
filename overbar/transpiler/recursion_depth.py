"""The depth check in the loops a recursion becomes: Python's ``RecursionError``, kept.

A recursion that never reaches its base case (``upto(c, x, len(c) - 1)`` with ``c`` empty
counts ``i`` down from -1, past 0) raises ``RecursionError`` in Python once it is
``sys.getrecursionlimit()`` frames deep. Written as a loop (``tail_calls.py``,
``linear_recursion.py``) it has no frames to run out of: unchecked, it would run for ever,
keeping a level per trip. So the loop going down checks its depth on every trip ::

    while not i == 0:
        check_recursion_depth(len(levels), "upto (poly.py:12)")
        levels.append(i)
        i = i - 1

and raises ``RecursionError`` where the depth reaches the recursion limit. Python would have
raised by then: the recursion's frames sit on top of at least the caller's. (Where the caller
is already deep, Python raises a little sooner than the loop does; between the two depths
the recursion ends, and the loop's gradient is the gradient of what it returns.)

The check is a call for its effect, as the runtime's ``add_at`` is in generated code:
``fence.py`` lets it through, ``normalize.py`` keeps it as an effect, the sweeps copy it to
the forward sweep, and no pass drops it. Its name resolves in every function's namespace
(``Namespace.lookup``) unless the function's globals bind the name to something else, where
the recursion is left as it is.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any

CHECK_NAME = "check_recursion_depth"


def check_recursion_depth(depth: int, where: str) -> None:
    """Raise ``RecursionError`` where the recursion ``where`` (its name, file and line), run
    as a loop, is ``depth`` levels deep and Python's recursion limit is not more than that."""
    limit = sys.getrecursionlimit()
    if depth >= limit:
        raise RecursionError(
            f"maximum recursion depth exceeded in {where}: it calls itself {depth} levels "
            f"deep (the recursion limit is {limit}; overbar runs the recursion as a loop and "
            "keeps Python's limit)"
        )


COMPILER_NAMES: dict[str, Any] = {CHECK_NAME: check_recursion_depth}


def depth_check(depth: ast.expr, function: str, filename: str, line: int) -> ast.stmt:
    """The statement ``check_recursion_depth(depth, "f (file.py, line 12)")``."""
    where = f"{function} ({os.path.basename(filename)}:{line})"
    call = ast.Call(ast.Name(CHECK_NAME, ast.Load()), [depth, ast.Constant(where)], [])
    return ast.Expr(call)


def is_depth_check(expression: ast.expr, resolve: Any) -> bool:
    """Whether ``expression`` calls the depth check (``resolve`` giving a name's value)."""
    return (
        isinstance(expression, ast.Call)
        and isinstance(expression.func, ast.Name)
        and expression.func.id == CHECK_NAME
        and resolve(expression.func) is check_recursion_depth
    )
