"""Emit: the gradient function's tree becomes black-formatted source and a live function.

Invariant established: ``Emitted.source`` is the source of the gradient function exactly as the
user reads it (reverse blocks commented with the line they undo), the same bytes every time for
the same input. ``Emitted.function`` is compiled from that source, registered in ``linecache`` so
tracebacks and pdb show the generated lines, and runs in the user's own module globals; the user's
closure cells and the runtime helpers it needs reach it as closure variables, so nothing is added
to the user's module.
"""

from __future__ import annotations

import ast
import linecache
import re
import textwrap
import threading
import types
import zlib
from dataclasses import dataclass
from typing import Any

from overbar.errors import InternalError
from overbar.transpiler.contexts import under_contexts
from overbar.transpiler.names import fix_missing_locations, statements_breadth_first
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.reverse import COMMENT_MARKER, Adjoint, is_comment
from overbar.transpiler.split import Split

_COMMENT_LINE = re.compile(rf"^(\s*){COMMENT_MARKER}\((.*)\)\s*$", re.MULTILINE)
_FACTORY = "__overbar_closure__"


@dataclass(frozen=True)
class Emitted:
    """The generated gradient function: its source and the compiled function."""

    source: str
    function: types.FunctionType
    filename: str
    pullback: types.FunctionType | None = None  # a split adjoint's reverse sweep (vjp)


def to_source(tree: ast.FunctionDef) -> str:
    """``tree`` as black-formatted source, with comment markers turned into comments."""
    text = ast.unparse(fix_missing_locations(_without_empty_blocks(tree)))
    text = _COMMENT_LINE.sub(
        lambda match: f"{match.group(1)}# {ast.literal_eval(match.group(2))}", text
    )
    return formatted(_BlackOnUse(), text)


class _BlackOnUse:
    """black, imported when one of its attributes is first read: a function whose every line
    black would leave as it is (see ``formatted``) is emitted without importing it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_black(), name)


_OPENING = ("(", "[", "{")
# A star that unpacks (``f(*a)``, ``return *a, b``) rather than multiplies: black's treatment
# of it depends on the Python versions it infers from the whole file (see ``formatted``).
_UNPACKING_STAR = re.compile(
    r"(?:^|[(\[{,=:]|\b(?:return|in|yield|else|lambda))\s*\*", re.MULTILINE
)
_SEGMENT_MARKER = "# overbar: segment"


def formatted(black: Any, text: str) -> str:
    """``black.format_str(text, mode=black.Mode())`` for ``text`` as ``to_source`` makes it
    (``ast.unparse``'s output, markers made comments), at a fraction of its cost.

    ``format_str`` formats twice: a second pass over its own output, because a trailing comma
    the first pass adds where it splits a line is "magic" for the second, which may split that
    line differently. It has no other safety pass (the AST equivalence and stability checks
    belong to black's file-level entry points, not to ``format_str``), so there is no "fast
    mode" to choose: the saving is in what each pass is given.

    The first pass. Identity: black's first pass over the whole text gives the lines it would
    leave as they are, as they are, and in place of each other line what it gives for that
    line alone at its depth. Side conditions: every line is one logical line (no string on
    several lines), there is no blank line and nothing black surrounds with blank lines
    (nested definitions, decorators, imports), every comment has a line of its own depth
    after it, and the lines formatted alone neither continue a statement (``else:``), nor
    could be a docstring, nor hold a ``with`` or an unpacking star (the file-wide context
    black has, below). Which lines black leaves as they are is decided conservatively
    (``_settled``); where none is left, black is not imported at all.

    Identity: the second pass, restricted to the logical lines the first pass split over
    several lines, gives what it gives over the whole output. Side conditions: black formats
    each logical line on its own, from its tokens, its depth and the mode; a line the first
    pass left whole has no trailing comma it added, so the second pass leaves it as it is;
    the comment lines are separate lines that the second pass keeps. The one piece of
    context black shares between lines is the set of Python versions it infers from the whole
    file, which changes how it treats unpacking stars (a trailing comma after ``*args``) and
    ``with`` statements: where a split line has either, where the text has a string on
    several lines, or where the split lines cannot be delimited, the second pass runs over the
    whole output as ``format_str`` does. ``test_emit`` compares this with ``format_str``.
    """
    lines = text.split("\n")
    pending = _lines_black_changes(lines)
    if pending is not None and not pending:
        return "\n".join(lines).rstrip("\n") + "\n"
    mode = black.Mode()
    format_once = getattr(black, "_format_str_once", None)
    if format_once is None:  # a black without it: its public function, both passes
        return black.format_str(text, mode=mode)
    once = None
    if pending is not None:
        once = _format_lines_once(format_once, mode, lines, pending)
    if once is None:
        once = format_once(text, mode=mode)
    if once == text:
        return once
    lines = once.splitlines(keepends=True)
    spans = _split_lines(lines)
    if spans is None:
        return format_once(once, mode=mode)
    if not spans:
        return once
    pieces = []
    for start, end in spans:
        depth = _indentation(lines[start])
        wrappers = [" " * level + "if _:\n" for level in range(0, depth, 4)]
        body = lines[start:end]
        compound = body[-1].rstrip().endswith(":")
        tail = [" " * (depth + 4) + "pass\n"] if compound else []
        pieces.append(f"{_SEGMENT_MARKER}\n" + "".join(wrappers + body + tail))
    again = format_once("".join(pieces), mode=mode).splitlines(keepends=True)
    segments = _segments(again, spans, lines)
    if segments is None:
        return format_once(once, mode=mode)
    result, previous = [], 0
    for (start, end), segment in zip(spans, segments, strict=True):
        result += lines[previous:start] + segment
        previous = end
    return "".join(result + lines[previous:])


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# What black's first pass would change in a line ``ast.unparse`` wrote (see ``_settled``).
_LINE_LENGTH = 88  # black.Mode().line_length
_SETTLED_HEADERS = ("if ", "elif ", "else:", "for ", "while ", "try:", "finally:")
_REWRITTEN = re.compile(
    r"\*\*|[\\'\";#]|,(?![ )])|, (?:=|in\b)|:=|\b(?:yield|await|lambda|async|with|except)\b"
)
_NUMBER = re.compile(r"(?<![\w.])\d[\w.]*")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e)?")
_STANDS_ALONE = re.compile(r"(?:elif|else|except|finally|case)\b|[rRbBuUfFtT]{0,2}['\"]")
_BLOCK_OPENERS = re.compile(r"(?:def|async|class|@|import|from)\b")


def _lines_black_changes(given: list[str]) -> list[int] | None:
    """The positions of the ``given`` lines (of ``ast.unparse``'s output, markers made
    comments) that black's first pass may change, all others being settled (``_settled``);
    or None where black's output is not made line by line: a string on several lines, a
    blank line, or a block that black sets off with blank lines (a nested ``def`` or
    ``class``, a decorator, imports). A line whose only changes are the quotes of simple
    strings and the spaces around powers of simple operands is changed as black changes it
    (``_rewritten_as_black_does``), in ``given``, and is settled: where the answer is a list,
    each line of ``given`` not in it is as black's first pass writes it."""
    lines = given[:-1] if given and not given[-1] else given
    if not lines or any('"""' in line or "'''" in line for line in lines):
        return None
    pending: list[int] = []
    rewritten_lines: dict[int, str] = {}
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped or (index and _BLOCK_OPENERS.match(stripped)):
            return None
        if stripped.startswith("#"):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if not _settled_comment(line, following):
                return None
        elif not _settled(line, index):
            rewritten = _rewritten_as_black_does(line, index)
            if rewritten is None:
                pending.append(index)
            else:
                rewritten_lines[index] = rewritten
    for index, line in rewritten_lines.items():
        given[index] = line
    return pending


def _settled_comment(line: str, following: str) -> bool:
    """Whether black leaves the comment ``line`` as it is: it has a space after its ``#``,
    nothing black would strip or read as a line break, and the next line is at its depth
    (where a block ends after comments, black places them by its reading of the dedent)."""
    return (
        line.lstrip(" ").startswith("# ")
        and line == line.rstrip()
        and line.isprintable()
        and _indentation(following) == _indentation(line)
        and bool(following.strip())
    )


# A subscript that is one slice, each bound absent, a name or an integer, negated or not.
_SLICE_BOUND = r"(?:-?(?:[A-Za-z_]\w*|\d+))?"
_SIMPLE_SLICE = re.compile(rf"\[{_SLICE_BOUND}:{_SLICE_BOUND}(?::{_SLICE_BOUND})?\]")


def _without_colons(match: re.Match) -> str:
    return match.group().replace(":", " ")


def _settled(line: str, index: int, rewritten: re.Pattern = _REWRITTEN) -> bool:
    """Whether black's first pass leaves ``line``, a statement ``ast.unparse`` wrote on one
    line, as it is (a sufficient condition, not a necessary one).

    Black rewrites a logical line that fits in its length from its tokens alone: it recomputes
    the spaces between tokens, which ``ast.unparse`` puts where black does except around a
    power whose operands are simple (``x ** 2`` becomes ``x**2``) and around the colons of
    a slice with expressions for bounds (``x[i + 1:]``, ``x[i + 1 :]``); it normalises
    strings (quotes, prefixes, docstrings) and numbers (``1e+16`` becomes ``1e16``); of the
    parentheses ``ast.unparse`` writes around a whole expression (a tuple, a walrus, a
    ``yield``) it may remove a ``yield``'s only, and it adds them around a one-tuple that
    has none (``a, = f(x)``); and a trailing comma is "magic" (splits the line) except in a
    parenthesised one-tuple. So a line is settled when it fits, is printable ASCII, and has
    no string, power, backslash, semicolon, comment, colon but a block header's last and
    those of a subscript that is a slice of simple bounds (``u[1:-1]``, ``u[::2]``, ``u[a:n]``:
    each bound absent, a name or an integer, negated or not, which black leaves unspaced), comma
    but one followed by a space and not by ``=`` or ``in``, or one followed by ``)``, walrus,
    ``yield``, ``await``, ``lambda``, ``async``, ``with`` or ``except``, and every number is
    written as ``repr`` writes a float or an int with no exponent but a negative one. The
    block headers settled are those of ``if``, ``elif``, ``else``, ``for``, ``while``,
    ``try`` and ``finally``, and the function's own ``def`` on the first line.
    """
    if len(line) > _LINE_LENGTH or not line.isascii() or not line.isprintable():
        return False
    if rewritten.search(line):
        return False
    stripped = line.lstrip(" ")
    bare = _SIMPLE_SLICE.sub(_without_colons, line) if "[" in line else line
    colons = bare.count(":")
    if colons > 1 or colons == 1 and not bare.endswith(":"):
        return False
    if colons and not (
        stripped.startswith(_SETTLED_HEADERS) or index == 0 and stripped.startswith("def ")
    ):
        return False
    for match in _NUMBER.finditer(line):
        number = match.group()
        if not _PLAIN_NUMBER.fullmatch(number):
            return False
        if number.endswith("e") and not line.startswith("-", match.end()):
            return False
    return True


# A string of letters, digits and underscores in single quotes (what ``repr`` writes for a
# ``str`` without quotes or backslashes), standing alone: not a prefix's, nor one of several.
_SIMPLE_STRING = re.compile(r"(?<![\w'\"])'([A-Za-z0-9_]*)'(?![\w'\"])")
# The left operand of a power as the text before `` ** `` ends, when it is a name or a plain
# number after an opening bracket, an ``=``, a comma or a binary operator (which
# ``ast.unparse`` writes with spaces): not an attribute (``a.b``), nor negated (``-x ** 2``,
# which black writes ``-(x**2)``), nor after a keyword.
_POWER_LEFT = re.compile(r"(?:(?<=[(\[{=])|(?<=[-+*/%@&|^<>=,] ))(?:[A-Za-z_]\w*|\d+(?:\.\d+)?)$")
# The text between two powers when it is one operand (``y`` in ``x ** y ** 2``).
_POWER_MIDDLE = re.compile(r"(?:[A-Za-z_]\w*|\d+(?:\.\d+)?)$")
# The right operand as the text after `` ** `` starts: a name or a plain number, signed or not.
_POWER_RIGHT = re.compile(r"[-+~]?(?:(?P<name>[A-Za-z_]\w*)|\d+(?:\.\d+)?(?![\w.]))")
# What may follow a name on the right for black to find it simple: no call, subscript,
# attribute or keyword after it, which its look ahead would go on through.
_AFTER_RIGHT_NAME = re.compile(r" *(?:$|[)\]},+\-*/%@&|^<>=])")
# ``_REWRITTEN`` less the powers and quotes that ``_rewritten_as_black_does`` has dealt with.
_REWRITTEN_BUT_POWERS_AND_QUOTES = re.compile(
    r"[\\;#]|,(?![ )])|, (?:=|in\b)|:=|\b(?:yield|await|lambda|async|with|except)\b"
)


def _rewritten_as_black_does(line: str, index: int) -> str | None:
    """``line`` as black's first pass leaves it, where it changes nothing but what is below,
    and the line is otherwise settled (``_settled``); None where that is not sure.

    Identity: black writes a string in double quotes where that needs no more escapes than
    its single quotes: ``'a'`` becomes ``"a"``. Side conditions: the string holds letters,
    digits and underscores only (no quote or backslash to escape), has no prefix, is not
    next to another string, and is not a statement of its own (which could be a docstring).

    Identity: black writes a power without spaces where both operands are simple (its
    ``hug_power_op``): ``x ** 2`` becomes ``x**2``, ``2 ** -y`` becomes ``2**-y``. Side
    conditions, stricter than black's: every ``**`` of the line is a binary power (written
    `` ** ``; not an unpacking), its left operand is a name (not an attribute) or a plain
    number, not negated (black writes ``-x ** 2`` as ``-(x**2)``) and after a bracket, an
    ``=``, a comma or a binary operator, its right operand a plain number or a name, with
    or without a sign, after which comes an operator, a closing bracket, a comma or the end
    of the line (black looks on through names, dots and keywords for a call or a subscript,
    which makes it not simple).
    The line's length is the rewritten line's, as black measures it.
    """
    if line.lstrip(" ").startswith("'") or '"' in line or "\\" in line:
        return None
    rewritten = line
    if "'" in rewritten:
        rewritten = _SIMPLE_STRING.sub(r'"\1"', rewritten)
        if "'" in rewritten:
            return None
    if "**" in rewritten:
        pieces = rewritten.split(" ** ")
        if any("**" in piece for piece in pieces):
            return None  # an unpacking, or a power ast.unparse did not write
        for place, (left, right) in enumerate(zip(pieces[:-1], pieces[1:], strict=True)):
            operand = _POWER_RIGHT.match(right)
            chained = place and _POWER_MIDDLE.fullmatch(left)  # x ** y ** 2: y after a power
            simple_left = chained or _POWER_LEFT.search(left)
            if not simple_left or operand is None:
                return None
            if operand.group("name") is not None and not _AFTER_RIGHT_NAME.match(
                right, operand.end()
            ):
                return None
        rewritten = "**".join(pieces)
    if rewritten == line or not _settled(rewritten, index, _REWRITTEN_BUT_POWERS_AND_QUOTES):
        return None
    return rewritten


def _format_lines_once(
    format_once: Any, mode: Any, lines: list[str], pending: list[int]
) -> str | None:
    """Black's first pass over the text of ``lines``, run on the ``pending`` lines alone,
    each at its depth (under ``if _:`` lines) and, if it opens a block, over a ``pass``; or
    None where a pending line cannot be formatted alone (a clause that continues a statement,
    a string statement that could be a docstring, a with statement, an unpacking star: black
    formats these from what it infers of the whole file)."""
    if lines and not lines[-1]:
        lines = lines[:-1]
    pieces = []
    for index in pending:
        line = lines[index]
        stripped = line.lstrip(" ")
        if _STANDS_ALONE.match(stripped) or _UNPACKING_STAR.search(line):
            return None
        depth = _indentation(line)
        wrappers = [" " * level + "if _:\n" for level in range(0, depth, 4)]
        tail = [" " * (depth + 4) + "pass\n"] if line.rstrip().endswith(":") else []
        pieces.append(f"{_SEGMENT_MARKER}\n" + "".join(wrappers + [line + "\n"] + tail))
    try:
        again = format_once("".join(pieces), mode=mode).splitlines(keepends=True)
    except Exception:  # black refused a segment alone: format the whole text
        return None
    spans = [(index, index + 1) for index in pending]
    segments = _segments(again, spans, lines)
    if segments is None:
        return None
    result, previous = [], 0
    for index, segment in zip(pending, segments, strict=True):
        result += [line + "\n" for line in lines[previous:index]] + segment
        previous = index + 1
    return "".join(result + [line + "\n" for line in lines[previous:]])


def _split_lines(lines: list[str]) -> list[tuple[int, int]] | None:
    """The spans ``(start, end)`` of the logical lines black split over several lines, or
    None where they cannot be told apart safely (see ``formatted``). Black splits a line only
    at brackets: its first line ends with an opening bracket, the lines inside are indented
    deeper, and the line closing it (possibly opening another) is at the first line's depth."""
    if any('"""' in line or "'''" in line for line in lines):
        return None
    spans = []
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        stripped = line.lstrip()
        if stripped.startswith("#") or not line.endswith(_OPENING):
            index += 1
            continue
        depth = _indentation(line)
        end = index + 1
        while end < len(lines):
            inner = lines[end].rstrip()
            if inner and _indentation(inner) <= depth and not inner.endswith(_OPENING):
                break
            end += 1
        if end == len(lines) or _indentation(lines[end]) != depth:
            return None
        text = "".join(lines[index : end + 1])
        if _UNPACKING_STAR.search(text) or stripped.startswith(("with ", "async ")):
            return None
        if _STANDS_ALONE.match(stripped):  # an elif, else, except...: not a statement alone
            return None
        spans.append((index, end + 1))
        index = end + 1
    return spans


def _segments(
    formatted_lines: list[str], spans: list[tuple[int, int]], lines: list[str]
) -> list[list[str]] | None:
    """The segments of ``formatted`` back out of black's output of them: each one's lines,
    without the marker, the wrapping ``if`` lines and the ``pass`` added below a header."""
    groups: list[list[str]] = []
    for line in formatted_lines:
        if line.rstrip() == _SEGMENT_MARKER:
            groups.append([])
        elif groups:
            groups[-1].append(line)
        elif line.strip():
            return None
    if len(groups) != len(spans):
        return None
    segments = []
    for group, (start, end) in zip(groups, spans, strict=True):
        while group and not group[-1].strip():
            group.pop()
        depth = _indentation(lines[start])
        wrappers = [" " * level + "if _:\n" for level in range(0, depth, 4)]
        if group[: len(wrappers)] != wrappers:
            return None
        group = group[len(wrappers) :]
        if lines[end - 1].rstrip().endswith(":"):
            if not group or group[-1] != " " * (depth + 4) + "pass\n":
                return None
            group = group[:-1]
        if not group or _indentation(group[0]) != depth:
            return None
        segments.append(group)
    return segments


_IMPORTING = threading.Lock()


def _black() -> types.ModuleType:
    """black, imported on first use (a gradient read from the disk cache never needs it) under
    a lock: a thread importing it while another does could see the module partly initialised
    (``black`` without ``Mode`` yet)."""
    with _IMPORTING:
        import black
    return black


def _without_empty_blocks(tree: ast.FunctionDef) -> ast.FunctionDef:
    """``pass`` in every block the reverse sweep left empty or with comments only (the literal
    adjoint, unsimplified, can have a branch whose lines all had inactive outputs)."""
    for node in statements_breadth_first(tree):
        if isinstance(node, ast.If | ast.For | ast.While):
            for block in (node.body, node.orelse):
                if block and all(is_comment(statement) for statement in block):
                    block.append(ast.Pass())
            if not node.body:
                node.body = [ast.Pass()]
    return tree


def generated_filename(name: str, user_filename: str, source: str) -> str:
    """The file name the generated ``source`` is compiled and registered in ``linecache``
    under: ``<overbar loss_grad of model.py, 1c9a4e07>``. The checksum of the source tells
    apart the adjoints of one function (general, specialised on shapes, literal), so each
    finds its own lines again (tracebacks; ``grad`` of a generated adjoint reads them)."""
    return f"<overbar {name} of {user_filename}, {zlib.crc32(source.encode()):08x}>"


def emit(parsed: ParsedFunction, adjoint: Adjoint) -> Emitted:
    """Format, compile and bind the gradient function of ``parsed``."""
    source = to_source(under_contexts(adjoint.tree, parsed.contexts))
    filename = generated_filename(adjoint.tree.name, parsed.filename, source)
    function = compile_function(
        source, adjoint.tree.name, dict(adjoint.bindings), parsed.function, filename
    )
    return Emitted(source=source, function=function, filename=filename)


def emit_split(parsed: ParsedFunction, halves: Split) -> Emitted:
    """Format, compile and bind a split adjoint: ``function`` is its forward function,
    ``pullback`` its reverse sweep; ``source`` shows the one above the other."""
    source = (
        to_source(under_contexts(halves.forward, parsed.contexts))
        + "\n\n"
        + to_source(under_contexts(halves.reverse, parsed.contexts))
    )
    filename = generated_filename(halves.forward.name, parsed.filename, source)
    forward, reverse = compile_functions(
        source,
        (halves.forward.name, halves.reverse.name),
        dict(halves.bindings),
        parsed.function,
        filename,
    )
    reverse.__kwdefaults__ = None
    reverse.__defaults__ = None
    return Emitted(source=source, function=forward, filename=filename, pullback=reverse)


def compile_function(
    source: str,
    name: str,
    bindings: dict[str, Any],
    user_function: types.FunctionType,
    filename: str,
) -> types.FunctionType:
    """The function ``name`` defined by ``source``, running in ``user_function``'s globals, with
    ``bindings`` and ``user_function``'s closure cells as its closure variables; its lines are
    registered in ``linecache`` under ``filename``. (The disk cache rebuilds a gradient with
    this from its stored source and bindings.)"""
    return compile_functions(source, (name,), bindings, user_function, filename)[0]


def compile_functions(
    source: str,
    names: tuple[str, ...],
    bindings: dict[str, Any],
    user_function: types.FunctionType,
    filename: str,
) -> tuple[types.FunctionType, ...]:
    """The functions ``names`` that ``source`` defines, in this order, each compiled as
    ``compile_function`` compiles one."""
    values: dict[str, Any] = dict(bindings)
    cells = dict(
        zip(user_function.__code__.co_freevars, user_function.__closure__ or (), strict=True)
    )
    free = sorted(set(values) | set(cells))
    wrapped = f"def {_FACTORY}({', '.join(free)}):\n"
    wrapped += textwrap.indent(source, "    ") + f"    return {', '.join(names)}\n"
    code = compile(wrapped, filename, "exec")
    factory = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inners = [c for c in factory.co_consts if isinstance(c, types.CodeType)]
    if [c.co_name for c in inners] != list(names):
        raise InternalError(
            f"generated code for {user_function.__qualname__} did not compile to a function"
        )
    functions = []
    for inner in inners:
        closure = tuple(
            cells[free_name] if free_name in cells else types.CellType(values[free_name])
            for free_name in inner.co_freevars
        )
        function = types.FunctionType(
            inner,
            user_function.__globals__,
            inner.co_name,
            user_function.__defaults__,
            closure,
        )
        function.__kwdefaults__ = user_function.__kwdefaults__
        function.__doc__ = f"Gradient of {user_function.__qualname__}, generated by overbar."
        functions.append(function)
    lines = wrapped.splitlines(keepends=True)
    linecache.cache[filename] = (len(wrapped), None, lines, filename)
    return tuple(functions)
