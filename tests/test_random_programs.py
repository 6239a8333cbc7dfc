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

def pair(p, q):
    return p * 0.5 + q, np.sin(q) * p
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
def blocks(draw, names, depth, indent):
    """Statements assigning new names (added to ``names``) at this nesting ``depth``."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        new = f"v{len(names)}"
        kinds = ["assign", "assign", "reassign", "unpack", "collect", "fill", "branch", "loop"]
        kinds = kinds if depth < 2 else ["assign", "unpack"]
        kind = draw(st.sampled_from(kinds))
        pad = "    " * indent
        if kind == "assign" or (kind == "reassign" and len(names) <= 3):
            lines.append(f"{pad}{new} = {draw(expressions(names))}")
            names.append(new)
        elif kind == "collect":
            steps = draw(st.integers(0, 3))
            lines.append(f"{pad}parts{len(names)} = [x * 0.0 + {draw(expressions(names))}]")
            lines.append(f"{pad}for j{depth} in range({steps}):")
            lines.append(
                f"{pad}    parts{len(names)}.append(x * 0.0 + {draw(expressions(names))})"
            )
            lines.append(f"{pad}{new} = np.sum(np.stack(parts{len(names)}), axis=0)")
            names.append(new)
        elif kind == "fill":
            steps = draw(st.integers(0, 4))
            array = f"filled{len(names)}"
            lines.append(f"{pad}{array} = np.zeros(3)")
            lines.append(f"{pad}for k{depth} in range({steps}):")
            lines.append(
                f"{pad}    {array}[k{depth} % 3] = {array}[k{depth} % 3] * 0.5"
                f" + np.sum({draw(expressions(names))})"
            )
            lines.append(f"{pad}{new} = {array} * 1.0")
            names.append(new)
        elif kind == "unpack":
            a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            second = f"v{len(names) + 1}"
            lines.append(f"{pad}{new}, {second} = pair({a}, {b})")
            names += [new, second]
        elif kind == "reassign":
            old = draw(st.sampled_from(names[3:]))
            lines.append(f"{pad}{old} = {old} * 0.5 + {draw(expressions(names))}")
        elif kind == "branch":
            test = draw(st.sampled_from(names))
            threshold = draw(st.sampled_from(["0.0", "0.3", "-0.4"]))
            lines.append(f"{pad}{new} = {draw(expressions(names))}")
            names.append(new)
            inner = list(names)
            lines.append(f"{pad}if np.sum({test}) > {threshold}:")
            lines += draw(blocks(inner, depth + 1, indent + 1))
            lines.append(f"{pad}    {new} = {new} + {draw(expressions(inner))}")
            lines.append(f"{pad}else:")
            other = list(names)
            lines += draw(blocks(other, depth + 1, indent + 1))
            lines.append(f"{pad}    {new} = {new} * {draw(expressions(other))}")
        else:
            steps = draw(st.integers(0, 3))
            lines.append(f"{pad}{new} = {draw(expressions(names))}")
            names.append(new)
            inner = list(names)
            lines.append(f"{pad}for i{depth} in range({steps}):")
            jump = draw(st.sampled_from(["", "break", "continue"]))
            if jump:
                lines.append(f"{pad}    if i{depth} == {draw(st.integers(0, 2))}:")
                lines.append(f"{pad}        {jump}")
            lines += draw(blocks(inner, depth + 1, indent + 1))
            lines.append(
                f"{pad}    {new} = np.tanh({new}) * 0.8 + {draw(expressions(inner))} * 0.1"
            )
    return lines


@st.composite
def programs(draw):
    names = ["x", "y", "s"]
    lines = draw(blocks(names, 0, 0))
    last, other = names[-1], draw(st.sampled_from(names))
    lines.append(f"return np.sum({last} * {other}) + np.sum(np.sin({last}))")
    return HELPER + "\ndef f(x, y, s):\n" + "\n".join("    " + line for line in lines) + "\n"


# Not round numbers: a branch on np.sum(0.5 * s) > 0.3 must not sit on its threshold.
ARGS = [np.array([0.3, -0.7, 1.1]), np.array([0.9, 0.2, -0.4]), 0.613]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_random_program_against_finite_differences(source):
    f = define(source)
    overbar.check_grad(f, ARGS, wrt=(0, 1, 2), rtol=1e-5, atol=1e-6)
    # The adjoint specialised on ARGS's shapes (what a call runs, checked above) and the
    # general one, for arguments of any shape, agree.
    gradient = overbar.grad(f, wrt=(0, 1, 2))
    general = gradient.stages.emitted.function(*ARGS)
    for specialised, other in zip(gradient(*ARGS), general, strict=True):
        np.testing.assert_allclose(specialised, other, rtol=1e-9, atol=1e-12)
