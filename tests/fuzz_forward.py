"""The fuzzer's random programs (``tests/fuzzer.py``) differentiated in forward mode.

The programs are drawn from the primitives that have tangent rules (and those with no
gradient), with every statement form and pattern of the fuzzer: helpers, branches, loops, writes
into arrays, lists. Each program is checked along the fuzzer's random directions (two per
differentiated argument, one moving them all): ``overbar.jvp`` along the direction against the
central difference there (the fuzzer's tolerance), against ``<∇f, v>`` from the reverse-mode
gradient (to rounding: the two modes' rules must agree), and against the literal jvp (no shapes
known, no temporaries folded: every optimisation off), to rounding. Outcomes as the fuzzer's: ``ok``, ``wrong``,
``mismatch`` (forward against reverse, or optimised against literal), ``crashed``, ``refused``
(an OverbarError), ``invalid`` (the program is not valid as Python: the generator's bug).

    python -m tests.fuzz_forward --programs 2000 --seed 0 [--report FILE]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import math
import os
import sys
import traceback
import warnings

import numpy as np

import overbar
from overbar.errors import OverbarError
from overbar.runtime import NUMPY
from overbar.runtime.registry import NON_DIFFERENTIABLE, RULES
from overbar.transpiler.forward_pipeline import transform_forward
from tests import fuzzer
from tests.support import define

KINDS = ("ok", "wrong", "mismatch", "crashed", "refused", "invalid")
RTOL = 1e-9  # forward against reverse, general against specialised (relative to the scale)
ATOL = 1e-12


def _forward_primitive(primal) -> bool:
    try:
        found = RULES.lookup_tangent(primal)
    except TypeError:
        return False
    return found is NON_DIFFERENTIABLE or isinstance(found, list)


def forward_plan() -> dict:
    """The fuzzer's plan restricted to the primitives forward mode can differentiate."""
    plan: dict = {"num": [], "int": [], "bool": []}
    for primal in fuzzer.registered_primitives():
        if not _forward_primitive(primal):
            continue
        for maker in fuzzer.MAKERS.get(primal, []):
            plan[maker.kind].append((primal, maker))
    for name, (make, weight) in fuzzer.PATTERNS.items():
        plan["num"].append((f"pattern:{name}", fuzzer.Maker("num", make, weight)))
    return plan


def program(seed: int, index: int) -> fuzzer.Program:
    """Program ``index`` of ``seed`` over the forward-mode primitives."""
    fuzzer._PLAN = forward_plan()
    return fuzzer.generate_program(seed, index)


def check(program: fuzzer.Program) -> tuple[str, str]:
    """The outcome of ``program`` in forward mode, and what went wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function = define(program.source)
    except Exception as error:
        return "invalid", f"does not load: {error}"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _check(function, program)
    except Exception:
        return "invalid", "the checker failed:\n" + traceback.format_exc()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(function.__code__.co_filename)


def _check(function, program: fuzzer.Program) -> tuple[str, str]:
    args = copy.deepcopy(list(program.args))
    differences = fuzzer.central_differences(function, program, program.index)
    try:
        gradients = overbar.grad(function, wrt=program.wrt, check=False)(*copy.deepcopy(args))
    except OverbarError:
        gradients = None  # reverse mode refuses it: forward mode is still checked
    except Exception as error:
        gradients = None
        del error
    by_position = dict(zip(program.wrt, gradients, strict=True)) if gradients else None
    for number, difference in enumerate(differences):
        wrt = tuple(difference.direction)
        tangents = [difference.direction[k] for k in wrt]
        try:
            value, derivative = overbar.jvp(function, copy.deepcopy(args), tangents, wrt=wrt)
        except OverbarError as error:
            return "refused", f"{type(error).__name__}: {error}"
        except Exception as error:
            return "crashed", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
        if np.shape(derivative) != np.shape(value) or not np.all(np.isfinite(derivative)):
            return "wrong", f"direction {number}: tangent {derivative!r} for value {value!r}"
        derivative = float(derivative)
        scale = abs(difference.value) + sum(float(np.sum(np.abs(t))) for t in tangents) * max(
            1.0, abs(derivative)
        )
        if not abs(derivative - difference.value) <= fuzzer.FD_ATOL + fuzzer.FD_RTOL * scale:
            return "wrong", (
                f"direction {number} (arguments {wrt}): jvp {derivative:.10g}, central "
                f"differences {difference.value:.10g} (their spread {difference.noise:.3g})"
            )
        if by_position is not None:
            directional = sum(
                float(np.sum(np.asarray(by_position[k], dtype=float) * t))
                for k, t in zip(wrt, tangents, strict=True)
            )
            size = abs(directional) + abs(derivative)
            if not abs(directional - derivative) <= ATOL + RTOL * max(size, 1.0):
                return "mismatch", (
                    f"direction {number}: jvp {derivative!r}, <gradient, direction> "
                    f"{directional!r}"
                )
        literal = _literal(function, wrt)
        dots = dict(literal.folded.tangent_parameters)
        try:
            _, other = literal.emitted.function(
                *copy.deepcopy(args),
                **{dots[_name(function, k)]: t for k, t in zip(wrt, tangents)},
            )
        except Exception as error:
            return "crashed", f"the literal jvp: {type(error).__name__}: {error}"
        if not abs(float(other) - derivative) <= ATOL + RTOL * max(abs(derivative), 1.0):
            return (
                "mismatch",
                f"direction {number}: literal jvp {other!r}, optimised {derivative!r}",
            )
    return "ok", ""


def _literal(function, wrt: tuple[int, ...]):
    """The literal jvp: no shapes known (broadcast_tangent kept), no temporaries folded."""
    names = tuple(_name(function, k) for k in wrt)
    return transform_forward(function, names, NUMPY, None, fold_temporaries=False)


def _name(function, position: int) -> str:
    return function.__code__.co_varnames[position]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", default="")
    arguments = parser.parse_args(argv)
    counts: collections.Counter = collections.Counter()
    failures = []
    for index in range(arguments.programs):
        try:
            generated = program(arguments.seed, index)
        except RuntimeError:
            counts["invalid"] += 1
            continue
        kind, detail = check(generated)
        counts[kind] += 1
        if kind != "ok":
            failures.append((index, kind, detail, generated.source))
    lines = [
        f"seed {arguments.seed}, {arguments.programs} programs: "
        + ", ".join(f"{kind} {counts[kind]}" for kind in KINDS)
    ]
    for index, kind, detail, source in failures:
        lines += ["", f"## program {index}: {kind}", detail, "", source]
    text = "\n".join(lines) + "\n"
    if arguments.report:
        with open(arguments.report, "w") as handle:
            handle.write(text)
    print(lines[0])
    bad = sum(counts[k] for k in ("wrong", "mismatch", "crashed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
