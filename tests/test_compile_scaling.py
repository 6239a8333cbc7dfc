"""The transformation's work grows with the function, not faster (issue 9, item 5).

Counted, not timed: the number of Python function calls (and generator resumptions) the
transformation of a straight-line function makes, for 80 lines and for three times as many.
A pass that walks the whole function once per statement makes that count grow nine-fold; the
passes as they are grow it a little over three-fold (some are n log n). A merge brought in such
a walk once (inner gradients resolving every call's names against a whole-function walk: the
800-line first call went from 1.8 to 6.9 s) and no test noticed. The same for the adjoint
specialised on the arguments' shapes, which runs the passes that need them: a value-numbering
pass once expanded each name it read into the whole expression behind it (exponential in a
chain: 200 lines took a minute), which only a specialised adjoint showed.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from overbar.runtime.shapes import argument_shape
from overbar.transpiler.optimisations import ALL
from overbar.transpiler.pipeline import transform
from tests.support import define


def _straight_line_function(lines: int):
    rng = np.random.default_rng(lines)
    names, body = ["x", "v"], []
    for i in range(lines - 1):
        a = names[-1 - int(rng.integers(0, min(len(names), 6)))]
        b = names[int(rng.integers(0, len(names)))]
        expression = [
            f"np.tanh(W @ {a})",
            f"np.sin({a}) * {b}",
            f"{a} + 0.5 * {b}",
            f"np.exp(-{a} * {a}) - {b}",
            f"np.tanh({a} - np.mean({b}, axis=0, keepdims=True))",
            f"np.sqrt(1.0 + {a} ** 2)",
        ][i % 6]
        body.append(f"    a{i} = {expression}")
        names.append(f"a{i}")
    body.append("    return " + " + ".join(f"np.sum({n} * {n})" for n in names[-3:]))
    return define("def f(W, x, v):\n" + "\n".join(body) + "\n")


SHAPES = {
    "W": argument_shape(np.ones((32, 32))),
    "x": argument_shape(np.ones((32, 16))),
    "v": argument_shape(np.ones((32, 16))),
}


def _calls_to_transform(function, shapes=None) -> int:
    count = 0

    def profile(frame, event, argument):
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        transform(function, ("W", "x", "v"), optimisations=ALL, parameter_shapes=shapes)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shapes", [None, SHAPES], ids=["general", "specialised"])
def test_the_transformations_work_grows_with_the_function(shapes):
    short, long = _straight_line_function(80), _straight_line_function(240)
    _calls_to_transform(short, shapes)  # imports and first-use set-ups are not the function's
    growth = _calls_to_transform(long, shapes) / _calls_to_transform(short, shapes)
    assert growth < 4.5, f"three times the lines cost {growth:.1f} times the calls"
