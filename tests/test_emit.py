"""emit's formatting: one pass of black over the function, a second over the lines it split,
gives exactly what ``black.format_str`` (two passes over everything) gives."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import black
import pytest

import overbar
from overbar.transpiler import emit
from tests.support import define

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import transform_time  # noqa: E402

LONG = "argument_with_a_long_name"
TEXTS = {
    "short lines only": "def f(x):\n    y = x ** 2\n    return (y, 'a')\n",
    "a long call, split": f"def f(x):\n    y = g({', '.join([LONG] * 5)})\n    return y\n",
    "a long line deep in blocks": (
        "def f(x):\n    for i in range(3):\n        if x:\n            while x:\n"
        f"                y = h(g({LONG}, {LONG}), {LONG} + {LONG} * {LONG})\n    return y\n"
    ),
    "a long header": (
        f"def f({', '.join(f'a{k}_{LONG}' for k in range(4))}):\n"
        f"    if {LONG} and {LONG} or {LONG} and {LONG}({LONG}, {LONG}):\n        pass\n"
    ),
    "nested brackets": (
        f"def f(x):\n    y = a[{LONG}:{LONG} + 1, g({LONG}, [{LONG}, {LONG}])]"
        f".attribute({LONG}, k={{1: {LONG}}})\n"
    ),
    "an unpacking star in a split line": (
        f"def f(*args):\n    y = g(*args, {LONG}, {LONG}, {LONG}, {LONG}, **{LONG})\n"
    ),
    "a comment before a split line": (
        f"def f(x):\n    # y = g(x)\n    y = g({LONG}, {LONG}, {LONG}, {LONG})\n    # done\n"
    ),
    "a split return of many gradients": (
        f"def f(x):\n    return ({', '.join(f'{LONG}_{k}_bar' for k in range(6))})\n"
    ),
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_formatting_is_black_format_str(name):
    text = TEXTS[name]
    assert emit.formatted(black, text) == black.format_str(text, mode=black.Mode())


def unformatted(tree: ast.FunctionDef) -> str:
    """What ``to_source`` hands black for ``tree``."""
    text = ast.unparse(ast.fix_missing_locations(emit._without_empty_blocks(tree)))
    return emit._COMMENT_LINE.sub(
        lambda match: f"{match.group(1)}# {ast.literal_eval(match.group(2))}", text
    )


@pytest.mark.parametrize("kind", transform_time.KINDS)
def test_formatting_generated_adjoints_is_black_format_str(kind):
    source, args, wrt = transform_time.dump_cases()[f"{kind}_50"]
    f = define(textwrap.dedent(source))
    g = overbar.grad(f, wrt=wrt, check=False)
    for stages in (g.stages, g.stages_for(*args)):
        text = unformatted(stages.simplified.tree)
        expected = black.format_str(text, mode=black.Mode())
        assert emit.formatted(black, text) == expected
        assert stages.emitted.source == expected
