"""Refuse what a dict of parameters cannot be differentiated through.

Invariant established: in a function that passes, every read of a value known to be a dict
(a container of parameters, or an element of one) takes an entry by a literal key
(``params["W1"]``), and no dict is unpacked or looped over. The normal form walks a loop's
iterable by position (``for v in xs`` reads ``xs[i]``), which for a dict would read its values by
keys 0, 1, ... instead of taking its keys: refused here, with the user's line, before the sweep.
So are calls of a dict's methods (``params.items()``, ``params.get("W")``).
"""

from __future__ import annotations

import ast

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.shapes import Shapes


def check_dict_reads(parsed: ParsedFunction, form: NormalForm, shapes: Shapes) -> None:
    """Raise ``UnsupportedSyntaxError`` at the first read of a dict by a key that is not a
    literal constant (a loop over it included), unpacking of one, or call of its methods."""
    dicts = {
        name
        for name, shape in shapes.items()
        if getattr(shape, "mapping", False)  # a runtime.shapes.Sequence of a dict
    }
    if not dicts:
        return
    for node in ast.walk(form.tree):
        if not isinstance(node, ast.Assign):
            continue
        value = node.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id in dicts
        ):
            raise _refusal(
                parsed,
                node,
                f"the call of {value.func.value.id}.{value.func.attr}() on a dict",
                "",
            )
        if not isinstance(value, ast.Subscript | ast.Name):
            continue
        if isinstance(value, ast.Name):
            if value.id in dicts and isinstance(node.targets[0], ast.Tuple):
                raise _refusal(parsed, node, f"unpacking the dict {value.id}", "")
            continue
        if not isinstance(value.value, ast.Name) or value.value.id not in dicts:
            continue
        if not isinstance(value.slice, ast.Constant):
            raise _refusal(
                parsed,
                node,
                f"reading the dict {value.value.id} with a key that is not a literal constant "
                "(or a loop over it)",
                ' (params["W1"]), or pass a list of parameters to loop over',
            )


def _refusal(parsed: ParsedFunction, node: ast.Assign, what: str, example: str):
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate {what}: read each entry by its literal key{example}",
        parsed.location(node.value),
    )
