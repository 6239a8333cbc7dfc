"""Origins: which line of the user's function each line of a generated function comes from.

An exception raised inside a generated adjoint (a shape mismatch in the user's own code, a
singular matrix) has a traceback into ``<overbar loss_grad of model.py>``; ``annotate`` adds a
note naming the user's file and the line of the forward function the failing line comes from:

    ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, ...
    in loss_grad (generated line 3), from model.py, line 9: b = a @ y

The forward sweep is the user's statements in normal form, each keeping its line in the user's
file; each block of the reverse sweep follows a comment naming the forward line it undoes (the
line's text, found again among the function's lines). ``line_origins`` reads both off the
adjoint's tree and its formatted source, which black leaves with the same statements in the same
order (comments aside).
"""

from __future__ import annotations

import ast
import contextlib
import linecache
import types
import weakref
from dataclasses import dataclass

from overbar.transpiler.reverse import is_comment


@dataclass(frozen=True)
class Origin:
    """Where the lines of one generated function come from."""

    name: str  # the generated function's name
    filename: str  # the user's file
    lines: tuple[tuple[int, int], ...]  # (line in the compiled file, line in the user's file)


_ORIGINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def line_origins(
    tree: ast.FunctionDef,
    source: str,
    filename: str,
    first: int,
    last: int,
    formatted: ast.stmt | None = None,
) -> dict[int, int]:
    """Line of ``source`` (the formatted ``tree``) -> line of the user's file, for the lines of a
    generated function whose forward function spans lines ``first`` to ``last`` of
    ``filename``. Lines that come from no forward line (the seed) are absent. ``formatted``:
    the function ``source`` defines, parsed, where the caller has it."""
    texts: dict[str, list[int]] = {}
    for line in range(first, last + 1):
        texts.setdefault(linecache.getline(filename, line).strip(), []).append(line)
    origins: dict[int, int] = {}
    if formatted is None:
        formatted = ast.parse(source).body[0]

    def walk(generated: list[ast.stmt], emitted: list[ast.stmt], current: int | None) -> None:
        statements = iter(s for s in emitted if not isinstance(s, ast.Pass))
        for statement in generated:
            if isinstance(statement, ast.Pass):
                continue
            if is_comment(statement):
                candidates = texts.get(statement.value.args[0].value, [])
                earlier = [line for line in candidates if current is None or line <= current]
                current = max(earlier or candidates or [current or 0]) or None
                continue
            twin = next(statements)
            if type(twin) is not type(statement):
                raise ValueError("the formatted source does not match the tree")
            own = statement.lineno if first < statement.lineno <= last else current
            header_end = twin.end_lineno
            blocks = [getattr(twin, field, []) for field in ("body", "orelse")]
            inner = [block[0].lineno for block in blocks if block]
            if inner:
                header_end = min(inner) - 1
            if own is not None:
                for line in range(twin.lineno, header_end + 1):
                    origins[line] = own
            for field in ("body", "orelse"):
                if getattr(statement, field, None):
                    walk(getattr(statement, field), getattr(twin, field), own or current)

    # A note is a help, not a promise: on a mismatch, keep what was matched.
    with contextlib.suppress(ValueError, StopIteration, AttributeError):
        walk(tree.body, formatted.body, None)
    return origins


def record(function: types.FunctionType, origin: Origin) -> None:
    """Remember where the lines of the compiled ``function`` come from."""
    _ORIGINS[function.__code__] = origin


def origin_of(
    function: types.FunctionType,
    tree: ast.FunctionDef,
    source: str,
    parsed_tree: ast.AST,
    filename: str,
) -> Origin:
    """The ``Origin`` of a compiled generated ``function`` made from ``tree``, formatted as
    ``source``, for the forward function ``parsed_tree`` in ``filename``."""
    formatted = ast.parse(source).body[0]
    last = parsed_tree.end_lineno or parsed_tree.lineno
    by_source_line = line_origins(tree, source, filename, parsed_tree.lineno, last, formatted)
    # The compiled file wraps the source in a factory: its def sits below the source's.
    offset = function.__code__.co_firstlineno - formatted.lineno
    return Origin(
        function.__name__,
        filename,
        tuple(sorted((line + offset, user) for line, user in by_source_line.items())),
    )


def annotate(error: BaseException) -> None:
    """Add to ``error`` a note for each frame of generated code in its traceback, naming the
    user's file and the line of the forward function the failing line comes from."""
    if getattr(error, "__overbar_annotated__", False):
        return
    traceback = error.__traceback__
    notes = []
    while traceback is not None:
        origin = _ORIGINS.get(traceback.tb_frame.f_code)
        if origin is not None:
            line = dict(origin.lines).get(traceback.tb_lineno)
            where = f"in {origin.name} (generated line {traceback.tb_lineno})"
            if line is None:
                notes.append(f"{where}, generated for a function in {origin.filename}")
            else:
                text = linecache.getline(origin.filename, line).strip()
                notes.append(f"{where}, from {origin.filename}, line {line}: {text}")
        traceback = traceback.tb_next
    for note in notes:
        error.add_note(note)
    with contextlib.suppress(AttributeError):
        error.__overbar_annotated__ = True
