"""Refuse what a dict of parameters cannot be differentiated through.

Invariant established: in a function that passes, no dict (a container of parameters, or an
element of one) is looped over, unpacked, or has its methods called; it is read by key, a
literal one (``params["W1"]``) or a value (``params[name]``). The normal form walks a loop's
iterable by position (``for v in xs`` becomes ``for i in range(len(xs)): v = xs[i]``), which
for a dict would read its values at the keys 0, 1, ... instead of taking its keys: refused here,
with the user's line, before the sweep. A read by the user's own counter
(``for i in range(len(d)): d[i]``) is what Python does, and passes.
"""

from __future__ import annotations

import ast

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.shapes import Shapes


def check_dict_reads(parsed: ParsedFunction, form: NormalForm, shapes: Shapes) -> None:
    """Raise ``UnsupportedSyntaxError`` at the first loop over a dict, unpacking of one, or
    call of its methods (``params.items()``)."""
    dicts = {
        name
        for name, shape in shapes.items()
        if getattr(shape, "mapping", False)  # a runtime.shapes.Sequence of a dict
    }
    if not dicts:
        return
    user_names = {node.id for node in ast.walk(parsed.tree) if isinstance(node, ast.Name)}
    counters = {
        node.target.id
        for node in ast.walk(form.tree)
        if isinstance(node, ast.For)
        and isinstance(node.target, ast.Name)
        and node.target.id not in user_names  # the normal form's own walk of an iterable
    }
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
                "read each entry by its key",
            )
        if isinstance(value, ast.Name) and value.id in dicts:
            if isinstance(node.targets[0], ast.Tuple):
                raise _refusal(
                    parsed, node, f"unpacking the dict {value.id}", "read each entry by its key"
                )
        elif (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Name)
            and value.value.id in dicts
            and isinstance(value.slice, ast.Name)
            and value.slice.id in counters
        ):
            raise _refusal(
                parsed,
                node,
                f"a loop over the dict {value.value.id}",
                "loop over a list of its keys (for key in KEYS: ... params[key]), or pass a "
                "list of parameters",
            )


def _refusal(parsed: ParsedFunction, node: ast.Assign, what: str, advice: str):
    return UnsupportedSyntaxError(
        f"overbar cannot differentiate {what}: {advice}", parsed.location(node.value)
    )
