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


# Lines black changes though they fit: each would be left as it is if ``emit._settled``
# missed the construct that makes black change it.
CHANGED_BY_BLACK = {
    "a power of simple operands": "y = x ** 2",
    "a slice with an expression for a bound": "y = x[i + 1:]",
    "a string in single quotes": "y = f(x, 'a')",
    "an exponent with a plus sign": "y = 1e+16 * x",
    "a complex number": "y = (1+2j) * x",
    "a one-tuple without parentheses as a target": "y, = f(x)",
    "a one-tuple without parentheses as a loop target": "for y, in x:\n        pass",
    "a parenthesised yield": "y = (yield x)",
    "a comment without a space": "#y = f(x)\n    y = x",
    "a trailing comma in a list": "y = [x,]",
}


@pytest.mark.parametrize("name", list(CHANGED_BY_BLACK))
def test_lines_black_changes_are_formatted(name):
    text = f"def f(x):\n    {CHANGED_BY_BLACK[name]}\n    return y"
    expected = black.format_str(text, mode=black.Mode())
    assert "    " + CHANGED_BY_BLACK[name].splitlines()[0] not in expected.splitlines()
    assert emit.formatted(black, text) == expected


# Texts where black's first pass is not line by line, or a line cannot be formatted alone.
WHOLE_TEXT = {
    "a comment ending a block": (
        "def f(x):\n    if x:\n        y = x\n        # done\n    return x\n"
    ),
    "a long elif": f"def f(x):\n    if x:\n        y = 1\n    elif {LONG} and {LONG} or {LONG}:\n"
    "        y = 2\n    return y\n",
    "a nested function": (
        "def f(x):\n    y = 1\n    def g(z):\n        return z\n    return g(x)\n"
    ),
    "an import": "def f(x):\n    import math\n    y = math.sin(x)\n    return y\n",
    "a long call with an unpacking star": f"def f(*a):\n    y = g(*a, {LONG}, {LONG}, {LONG})\n",
}


@pytest.mark.parametrize("name", list(WHOLE_TEXT))
def test_texts_not_formatted_line_by_line_are_black_format_str(name):
    text = WHOLE_TEXT[name]
    assert emit.formatted(black, text) == black.format_str(text, mode=black.Mode())


class _NoBlack:
    """Stands for black where a test shows it is not needed."""

    def __getattr__(self, name):
        raise AssertionError(f"black.{name} was read")


def test_settled_lines_need_no_black():
    text = (
        "def f(x, *, result_bar):\n    # y = g(x)\n    y = np.tanh(x @ W) + 0.5 * x[0]"
        "\n    for i in range(3):\n        y = y * 1e-05 - (y,)[0]\n    return (y, x)"
    )
    assert emit.formatted(_NoBlack(), text) == black.format_str(text, mode=black.Mode())


# Lines whose only change by black is the quotes of simple strings and the spaces around
# powers of simple operands: rewritten as black rewrites them, without black.
REWRITTEN_WITHOUT_BLACK = {
    "a string argument": "y = f(x, 'a')",
    "a key": "y = params['W_2'] + 1",
    "an empty string": "y = f(x, '')",
    "a power of a name": "y = x ** 2",
    "a power of a number": "y = 2.5 ** x",
    "a signed exponent": "y = 2 ** -x",
    "a power after a subtraction": "y = a - x ** 2",
    "a chain of powers": "y = x ** y ** 2",
    "a power in a product": "y = a ** b * c",
    "a power as a keyword argument": "y = f(a=x ** 2, b=y)",
    "a power made to fit": "y = " + " + ".join(["x ** 2"] * 10),  # 95 long, 75 hugged
    "both": "y = f(x ** 2, 'ij')",
}


@pytest.mark.parametrize("name", list(REWRITTEN_WITHOUT_BLACK))
def test_simple_strings_and_powers_need_no_black(name):
    text = f"def f(x):\n    {REWRITTEN_WITHOUT_BLACK[name]}\n    return y"
    expected = black.format_str(text, mode=black.Mode())
    assert "    " + REWRITTEN_WITHOUT_BLACK[name] not in expected.splitlines()  # changed
    assert emit.formatted(_NoBlack(), text) == expected


def test_strings_and_powers_are_rewritten_as_black_does_or_left_to_it():
    """Every line made of a few operands, strings and powers among them, formatted as
    ``black.format_str`` formats it: the ones ``_rewritten_as_black_does`` is not sure of
    (attributes, calls, subscripts, brackets, keywords after the exponent, strings with
    spaces or quotes, prefixes, exponents in scientific notation) are left to black."""
    operands = [
        "x",
        "2",
        "2.5",
        "-x",
        "x.a",
        "x[0]",
        "f(x)",
        "(x + 1)",
        "'a'",
        "'a b'",
        '"q"',
        "b'x'",
        "1e-05",
        "1j",
        "None",
        "x if c else f(z)",
        "**k",
        "not x",
        "~x",
        "-2",
    ]
    lines = []
    for left in operands:
        for right in operands:
            for operator in (" ** ", " * "):
                if "**" in left or "**" in right:
                    lines.append(f"y = g({left}, {right})")
                else:
                    lines.append(f"y = {left}{operator}{right}")
                    lines.append(f"y = h({left}{operator}{right}, k='w') ** 2")
    rewritten = 0
    for line in lines:
        text = f"def f(x):\n    {line}\n    return y"
        try:
            expected = black.format_str(text, mode=black.Mode())
        except black.InvalidInput:
            continue
        assert emit.formatted(black, text) == expected, line
        rewritten += emit._rewritten_as_black_does("    " + line, 1) is not None
    assert rewritten > 20  # the rule is exercised, not only its refusals


def test_slices_are_settled_where_black_leaves_them_and_formatted_where_it_does_not():
    """A subscript that is a slice of simple bounds (absent, names, integers, negated or
    not) is left as it is, by black and without it; any other slice is black's."""
    bounds = ["", "1", "-1", "n", "-n", "a.b", "f(a)", "a + 1", "~a", "+a", "2.5", "x[0]"]
    settled = 0
    for lower in bounds:
        for upper in bounds:
            for step in (None, "", "2", "-1", "k + 1"):
                piece = f"{lower}:{upper}" + ("" if step is None else f":{step}")
                for line in (f"y = u[{piece}] + v", f"u[{piece}] -= t", f"for x in u[{piece}]:"):
                    body = "\n        pass" if line.endswith(":") else ""
                    text = f"def f(u):\n    {line}{body}\n    return y"
                    expected = black.format_str(text, mode=black.Mode())
                    assert emit.formatted(black, text) == expected, line
                    if emit._settled("    " + line, 1):
                        settled += 1
                        assert "    " + line in expected.splitlines()
    assert settled > 100


def test_formatting_is_black_format_str_on_random_programs():
    """Over the general and specialised adjoints of random programs (every rule and syntax
    form the fuzzer draws), unformatted as ``to_source`` hands them to black."""
    from tests.fuzzer import generate_program

    for index in range(40):
        program = generate_program(7, index)
        f = define(program.source)
        try:
            g = overbar.grad(f, wrt=program.wrt, check=False)
            trees = [g.stages.simplified.tree, g.stages_for(*program.args).simplified.tree]
        except overbar.OverbarError:
            continue
        for tree in trees:
            text = unformatted(tree)
            assert emit.formatted(black, text) == black.format_str(text, mode=black.Mode())
