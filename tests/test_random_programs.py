"""Property test: random small programs, differentiated by overbar, against finite differences.

Programs mix straight-line arithmetic and NumPy calls, branches on values, bounded loops with
loop-carried state, and calls of a helper. Functions are smooth (tanh, sin, products of bounded
values) so that central differences are accurate. The run is bounded for CI; set
OVERBAR_RANDOM_PROGRAMS to a larger count for a longer search.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import overbar
from tests.support import define

EXAMPLES = int(os.environ.get("OVERBAR_RANDOM_PROGRAMS", "25"))

HELPER = """
def helper(p, q):
    return np.tanh(p) * q + 0.5 * p
"""

BINARY = ["{a} + {b}", "{a} * {b}", "{a} - {b}", "{a} / (1.5 + {b} * {b})", "helper({a}, {b})"]
UNARY = [
    "np.sin({a})",
    "np.tanh({a})",
    "0.5 * {a}",
    "np.exp(-{a} * {a})",
    "np.sum({a}) * {a}",
    "np.mean({a} * {a}) + {a}",
    "np.flip({a})",
    "np.maximum({a}, -2.0) * 0.7",
]


@st.composite
def expressions(draw, names):
    a = draw(st.sampled_from(names))
    if draw(st.booleans()):
        return draw(st.sampled_from(UNARY)).format(a=a)
    b = draw(st.sampled_from(names))
    return draw(st.sampled_from(BINARY)).format(a=a, b=b)


@st.composite
def programs(draw):
    names = ["x", "y", "s"]
    lines = []
    for index in range(draw(st.integers(1, 5))):
        new = f"v{index}"
        kind = draw(st.sampled_from(["assign", "assign", "branch", "loop"]))
        if kind == "assign":
            lines.append(f"{new} = {draw(expressions(names))}")
        elif kind == "branch":
            test = draw(st.sampled_from(names))
            lines += [
                f"if np.sum({test}) > {draw(st.sampled_from(['0.0', '0.3', '-0.4']))}:",
                f"    {new} = {draw(expressions(names))}",
                "else:",
                f"    {new} = {draw(expressions(names))}",
            ]
        else:
            steps = draw(st.integers(0, 3))
            lines += [
                f"{new} = {draw(expressions(names))}",
                f"for i in range({steps}):",
                f"    {new} = np.tanh({new}) * 0.8 + {draw(expressions(names))} * 0.1",
            ]
        names.append(new)
    last, other = names[-1], draw(st.sampled_from(names))
    lines.append(f"return np.sum({last} * {other}) + np.sum(np.sin({last}))")
    return HELPER + "\ndef f(x, y, s):\n" + "\n".join("    " + line for line in lines) + "\n"


ARGS = [np.array([0.3, -0.7, 1.1]), np.array([0.9, 0.2, -0.4]), 0.6]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_random_program_against_finite_differences(source):
    f = define(source)
    overbar.check_grad(f, ARGS, wrt=(0, 1, 2), rtol=1e-5, atol=1e-6)
