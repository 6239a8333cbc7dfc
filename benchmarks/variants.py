"""overbar on the same math written different ways, against one hand-written NumPy adjoint.

    python benchmarks/variants.py                     # every variant of every function
    python benchmarks/variants.py --scaling           # and the loop variants at length 50 and 200
    python benchmarks/variants.py --quick             # fewer, shorter rounds
    python benchmarks/variants.py --function rnn      # one function's variants
    python benchmarks/variants.py --variant rnn_list  # one variant (repeatable)
    python benchmarks/variants.py --scaling --output benchmarks/results/variants-baseline.md
    python benchmarks/variants.py --anatomy           # count helper calls in the adjoints
    python benchmarks/variants.py --optimise all,-inline   # helpers kept as pullbacks
    python benchmarks/variants.py --unseen            # the family of variants_unseen.py instead
    python benchmarks/variants.py --third             # the family of variants_third.py instead

Three choices make the figures stable on a busy shared machine (a 2-core VM at load 10 gave
wall-clock medians 50% apart for the same call):

- the clock is the process's CPU time (``time.process_time``), not the wall clock: time spent
  waiting for the scheduler is not the code's (``--wall-clock`` for the wall clock);
- BLAS runs on one thread unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) says
  otherwise, so that CPU time is the work done and threads do not wait for each other;
- glibc is asked to keep the memory it frees (``mallopt``; ``--release-memory`` to leave it
  as it is): by default it hands large freed blocks back to the kernel, and every call then
  pays a page fault per 4 KiB of each large temporary it makes again. On this VM that doubled
  the hand-written RNN adjoint's time, a cost of the machine rather than of the code.

The overbar imported is the one in this checkout (the repository root is put first on
``sys.path``), not whichever one the interpreter has installed.

The functions and their hand-written adjoints are in ``variants_functions.py``; with ``--unseen``
the variants are those of ``variants_unseen.py``, with ``--third`` those of ``variants_third.py``
(written in other hands, against the same hand-written adjoints). Each variant's
overbar gradient is checked against the hand-written adjoint (rtol 1e-8, atol 1e-8 times the
largest entry) before it is timed; a refusal (an ``OverbarError``), a crash or a wrong gradient
is reported as such in the table, not timed. Times are medians of rounds that alternate the
contender and the hand-written adjoint after warm-up (``run.paired_seconds``): the forward
function is paired with the hand adjoint once, overbar's gradient once. The hand adjoint's
median in those two pairings is a measure of the noise, printed at the end.

Prints Markdown tables: per variant (forward, hand adjoint, overbar, overbar/hand,
overbar/forward), per function (median and worst ratio), overall, and with ``--scaling`` the
time of each loop variant's gradient at length 50 and 200 (time steps, iterations, coefficients
or rows) and their ratio, beside the hand adjoint's.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import functools
import os
import re
import statistics
import sys
import time
import timeit
import types
from dataclasses import dataclass
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import run  # noqa: E402
import variants_functions  # noqa: E402
import variants_third  # noqa: E402
import variants_unseen  # noqa: E402
from run import format_time, paired_seconds  # noqa: E402

import overbar  # noqa: E402
from overbar.errors import GradientMismatchError, OverbarError  # noqa: E402

SCALING_LENGTHS = (50, 200)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def time_on_cpu_clock() -> None:
    """Make ``run.paired_seconds`` (whose method this benchmark shares) time with the process's
    CPU clock: it calls ``timeit.timeit`` through the module name ``timeit`` of ``run``."""
    run.timeit = types.SimpleNamespace(
        timeit=functools.partial(timeit.timeit, timer=time.process_time)
    )


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process (no trimming, no fresh mappings for
    large blocks); False where the C library has no ``mallopt``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        trim = libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        mmap = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        return False
    return bool(trim and mmap)


@dataclass
class Outcome:
    """What became of one variant at one length: a status ("ok", "refused", "WRONG", "crash"),
    why if not ok, and the medians in seconds if it was timed."""

    status: str
    detail: str = ""
    forward: float = float("nan")
    hand: float = float("nan")
    overbar: float = float("nan")
    ratio: float = float("nan")  # overbar / hand, from their own alternating rounds
    hand_spread: float = float("nan")  # |hand median in one pairing / in the other - 1|


def agrees(got, expected) -> bool:
    """Every gradient has the expected shape and agrees to rtol 1e-8 (atol 1e-8 of its scale)."""
    if not isinstance(got, tuple) or len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g, dtype=float), np.asarray(e, dtype=float)
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        if g.shape != e.shape or not np.allclose(g, e, rtol=1e-8, atol=1e-8 * scale):
            return False
    return True


def short(error: BaseException) -> str:
    """The error's class, the line it points at (an OverbarError's message starts with the
    file, line and source line) and its last line, which says what is wrong."""
    lines = [line.strip() for line in str(error).strip().splitlines()] or [""]
    where = ""
    if len(lines) > 2 and lines[0].count(":") >= 2:
        where = f"line {lines[0].split(':')[-2]} `{lines[1]}`: "
    text = f"{type(error).__name__}: {where}{lines[-1]}".replace("|", "\\|")
    return text if len(text) <= 300 else text[:297] + "..."


OPTIMISE = overbar.Optimisations()  # the passes overbar runs (``--optimise``)


def gradient_call(function, variant, inputs):
    """A zero-argument call of overbar's gradient of the variant, checked against the
    hand-written adjoint; or an Outcome saying why it cannot be timed."""
    expected = function.by_hand(*inputs)
    try:
        gradient = overbar.grad(variant.forward, wrt=function.wrt, optimise=OPTIMISE)
        got = gradient(*inputs)
    except GradientMismatchError as error:  # the guard, if OVERBAR_CHECK=1 turned it on
        return Outcome("WRONG", short(error))
    except OverbarError as error:
        return Outcome("refused", short(error))
    except Exception as error:  # a crash of generated code is a bug to report, not to hide
        return Outcome("crash", short(error))
    if not agrees(got, expected):
        return Outcome("WRONG", "differs from the hand-written adjoint")
    return lambda: gradient(*inputs)


def measure(function, variant, length: int | None, quick: bool) -> Outcome:
    inputs = function.inputs(np.random.default_rng(0), length)
    call = gradient_call(function, variant, inputs)
    if isinstance(call, Outcome):
        return call

    def hand():
        return function.by_hand(*inputs)

    def forward():
        return variant.forward(*inputs)

    forward_time, hand_first = paired_seconds(forward, hand, quick)
    overbar_time, hand_second = paired_seconds(call, hand, quick)
    return Outcome(
        "ok",
        forward=forward_time,
        hand=hand_second,
        overbar=overbar_time,
        ratio=overbar_time / hand_second,
        hand_spread=abs(hand_first / hand_second - 1.0),
    )


def cell(outcome: Outcome, value: float, kind: str) -> str:
    if outcome.status != "ok":
        return outcome.status
    return format_time(value) if kind == "time" else f"{value:.2f}"


def variant_table(results) -> list[str]:
    lines = [
        "| function | variant | forward | hand adjoint | overbar | overbar/hand | "
        "overbar/forward | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for function, variant, outcome in results:
        lines.append(
            f"| {function.name} | {variant.name} | {cell(outcome, outcome.forward, 'time')} | "
            f"{cell(outcome, outcome.hand, 'time')} | {cell(outcome, outcome.overbar, 'time')} | "
            f"{cell(outcome, outcome.ratio, 'ratio')} | "
            f"{cell(outcome, outcome.overbar / outcome.forward, 'ratio')} | {outcome.detail} |"
        )
    return lines


def summary_tables(results) -> list[str]:
    lines = [
        "| function | variants | timed | refused | wrong/crash | median overbar/hand | "
        "worst overbar/hand |",
        "|---|---|---|---|---|---|---|",
    ]
    every = []
    for function in dict.fromkeys(f for f, _, _ in results):
        outcomes = [(v, o) for f, v, o in results if f is function]
        ratios = [(o.ratio, v.name) for v, o in outcomes if o.status == "ok"]
        every += ratios
        refused = sum(o.status == "refused" for _, o in outcomes)
        broken = sum(o.status in ("WRONG", "crash") for _, o in outcomes)
        median = f"{statistics.median(r for r, _ in ratios):.2f}" if ratios else "—"
        worst = "{:.2f} ({})".format(*max(ratios)) if ratios else "—"
        lines.append(
            f"| {function.name} | {len(outcomes)} | {len(ratios)} | {refused} | {broken} | "
            f"{median} | {worst} |"
        )
    if every:
        lines += [
            "",
            f"Overall, {len(every)} variants timed of {len(results)}: median overbar/hand "
            f"{statistics.median(r for r, _ in every):.2f}, worst "
            "{:.2f} ({}).".format(*max(every)),
        ]
        spreads = [o.hand_spread for _, _, o in results if o.status == "ok"]
        lines.append(
            f"Noise: the hand adjoint's median differed between its two pairings by "
            f"{100 * statistics.median(spreads):.1f}% (median over variants), "
            f"{100 * max(spreads):.1f}% at most."
        )
    return lines


def scaling_table(rows) -> list[str]:
    short_length, long_length = SCALING_LENGTHS
    lines = [
        f"| function | variant | overbar at {short_length} | overbar at {long_length} | "
        f"overbar ratio | hand at {short_length} | hand at {long_length} | hand ratio | "
        f"overbar/hand at {long_length} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for function, variant, first, second in rows:
        if first.status != "ok" or second.status != "ok":
            status = first.status if first.status != "ok" else second.status
            lines.append(f"| {function.name} | {variant.name} | {status} |  |  |  |  |  |  |")
            continue
        lines.append(
            f"| {function.name} | {variant.name} | {format_time(first.overbar)} | "
            f"{format_time(second.overbar)} | {second.overbar / first.overbar:.2f} | "
            f"{format_time(first.hand)} | {format_time(second.hand)} | "
            f"{second.hand / first.hand:.2f} | {second.ratio:.2f} |"
        )
    return lines


ANATOMY = {
    "pushes": r"stack\.append\(",
    "of which shapes": r"stack\.append\(shape_of\(",
    "unbroadcast": r"\bunbroadcast\(",
    "broadcast_like": r"\bbroadcast_like\(",
    "expand_reduced": r"\bexpand_reduced\(",
    "seed": r"\bseed\(",
    "matmul/dot _bar": r"\b(matmul|dot)_(left|right)_bar\(",
    "index_bar": r"\bindex_bar\(",
    "extremum_bar": r"\bextremum_bar\(",
    "pullback calls": r"(?<!def )\b\w+_pullback\(",
    "copies": r"^\s*(\w+) = (\w+_bar)\n\s*\2 = \1$",
}


def anatomy_table(selection) -> list[str]:
    """How often the calls a person would not write appear in each variant's adjoint as
    compiled for the benchmark's arguments (``source_for``): counted in the source, so a call in
    a loop counts once; ``copies`` are the pairs ``tmp = x_bar`` then ``x_bar = tmp``."""
    lines = [
        "| function | variant | lines | " + " | ".join(ANATOMY) + " |",
        "|---|---|---|" + "---|" * len(ANATOMY),
    ]
    for function, variant in selection:
        inputs = function.inputs(np.random.default_rng(0))
        try:
            gradient = overbar.grad(variant.forward, wrt=function.wrt, optimise=OPTIMISE)
            source = gradient.source_for(*inputs)
        except OverbarError as error:
            lines.append(f"| {function.name} | {variant.name} | {short(error)} |")
            continue
        counts = [len(re.findall(p, source, flags=re.MULTILINE)) for p in ANATOMY.values()]
        lines.append(
            f"| {function.name} | {variant.name} | {len(source.splitlines())} | "
            + " | ".join(str(c) for c in counts)
            + " |"
        )
    return lines


def chosen_variants(arguments):
    family = variants_functions
    if arguments.unseen:
        family = variants_unseen
    elif arguments.third:
        family = variants_third
    for function in family.FUNCTIONS:
        if arguments.function not in (None, function.name):
            continue
        for variant in function.variants:
            if not arguments.variant or variant.name in arguments.variant:
                yield function, variant


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timing rounds")
    parser.add_argument("--function", help="only this function's variants")
    parser.add_argument("--variant", action="append", help="only this variant (repeatable)")
    parser.add_argument(
        "--scaling", action="store_true", help="also time the loop variants at length 50 and 200"
    )
    parser.add_argument("--output", help="also write the tables to this Markdown file")
    parser.add_argument(
        "--unseen", action="store_true", help="the variants of variants_unseen.py instead"
    )
    parser.add_argument(
        "--third", action="store_true", help="the variants of variants_third.py instead"
    )
    parser.add_argument("--wall-clock", action="store_true", help="time with the wall clock")
    parser.add_argument(
        "--release-memory", action="store_true", help="leave glibc's trimming of freed memory on"
    )
    parser.add_argument(
        "--optimise",
        default="all",
        help="the passes overbar runs, as overbar show takes them (all,-inline: every helper "
        "kept as a pullback; all,-inline,-residuals: and its pullback running it again)",
    )
    parser.add_argument(
        "--anatomy",
        action="store_true",
        help="only count, in each variant's generated adjoint, the calls a person would not write",
    )
    arguments = parser.parse_args(argv)
    global OPTIMISE
    OPTIMISE = overbar.Optimisations.parse(arguments.optimise)
    if arguments.anatomy:
        text = "\n".join(anatomy_table(list(chosen_variants(arguments)))) + "\n"
        print(text)
        if arguments.output:
            Path(arguments.output).write_text(text)
        return
    if not arguments.wall_clock:
        time_on_cpu_clock()
    kept = False if arguments.release_memory else keep_freed_memory()
    selection = list(chosen_variants(arguments))
    if not selection:
        parser.error("no variant matches")
    header = [
        f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
        f"{os.cpu_count()} cores; {'quick' if arguments.quick else 'full'} rounds; "
        f"{'wall clock' if arguments.wall_clock else 'CPU time'}; freed memory "
        f"{'kept' if kept else 'returned to the kernel'}; overbar from "
        f"{Path(overbar.__file__).parent}",
        "",
    ]
    print("\n".join(header), flush=True)
    results = []
    for function, variant in selection:
        outcome = measure(function, variant, None, arguments.quick)
        results.append((function, variant, outcome))
        print(variant_table([results[-1]])[-1], flush=True)
    lines = header + ["### Each variant", ""] + variant_table(results)
    lines += ["", "### Per function", ""] + summary_tables(results)
    if arguments.scaling:
        rows = []
        for function, variant in selection:
            if variant.loops:
                first, second = (
                    measure(function, variant, length, arguments.quick)
                    for length in SCALING_LENGTHS
                )
                rows.append((function, variant, first, second))
                print(scaling_table(rows[-1:])[-1], flush=True)
        lines += ["", "### Loop variants: length 50 against 200", ""] + scaling_table(rows)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if arguments.output:
        Path(arguments.output).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.output).write_text(text)


if __name__ == "__main__":
    main()
