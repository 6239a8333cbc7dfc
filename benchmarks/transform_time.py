"""How long overbar takes to transform a function, as the function grows (GitHub issue 9).

    python benchmarks/transform_time.py                    # 50, 200 and 800 lines, and the
                                                           # functions with loops and branches
    python benchmarks/transform_time.py --lines 200        # one size
    python benchmarks/transform_time.py --profile 800      # cProfile of one size's first call
    python benchmarks/transform_time.py --show 50          # print a generated function

Each function is timed in a fresh process (nothing cached, black imported before the clock
starts; its import is reported on its own line): ``overbar.grad(f, wrt=...)`` (construction),
``g.stages`` (the general transformation, for arguments of any shape) and the first call
``g(*args)`` (the transformation specialised on the arguments' shapes, black, compile, run),
with the time of each pass of the transformations (the pass functions ``pipeline.transform``
calls, wrapped with a clock; ``emit`` is split into ``black``, unparsing and formatting, and
``compile``, the rest). Times are medians over ``--repeats`` fresh processes, in seconds of wall
time, or with ``--clock cpu`` of the process's CPU time (steadier on a machine shared with other
jobs).

The functions are generated, always the same for the same size: straight-line NumPy code of
matrix products, elementwise functions, sums and means, reuse of earlier values and a few
constants; the ``loops`` and ``branches`` kinds wrap some of the lines in a ``for`` loop over
``range`` or an ``if`` on a value. A time that grows faster than the number of lines points at
a pass that walks the whole function per statement.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's overbar, not an installed one
PASSES = (
    "parse",
    "fence",
    "normalize",
    "activity",
    "shapes",
    "differentiate",
    "simplify",
    "peephole",
    "black",
    "compile",
)
SIZES = (50, 200, 800)
KINDS = ("straight", "loops", "branches")
ROWS, COLUMNS = 6, 5  # the matrices' shapes: W is ROWS x ROWS, x is ROWS x COLUMNS


def generated_source(lines: int, kind: str = "straight", seed: int = 0) -> str:
    """A forward function ``f(W, b, x)`` of about ``lines`` lines, returning a scalar."""
    rng = np.random.default_rng([seed, lines, KINDS.index(kind)])
    body = ["v0 = W @ x + b"]
    names = ["v0"]
    scalars: list[str] = []

    def earlier() -> str:  # recent values mostly, now and then one from far back
        if rng.random() < 0.2:
            return names[int(rng.integers(len(names)))]
        return names[-1 - int(rng.integers(min(4, len(names))))]

    def line(target: str) -> str:
        a, b = earlier(), earlier()
        choice = int(rng.integers(10))
        if choice == 0:
            return f"{target} = np.tanh(W @ {a}) + b"
        if choice == 1:
            return f"{target} = np.tanh({a}) * {b}"
        if choice == 2:
            return f"{target} = {a} + 0.5 * {b}"
        if choice == 3:
            return f"{target} = np.sin({a}) - {b} / (1.0 + {a} ** 2)"
        if choice == 4:
            return f"{target} = {a} * np.mean({b}, axis=1, keepdims=True)"
        if choice == 5:
            return f"{target} = np.exp(-{a} ** 2) + {b}"
        if choice == 6:
            return f"{target} = {a} / (1.0 + np.abs({b}))"
        if choice == 7:
            return f"{target} = np.maximum({a}, 0.0) + np.sum({b}, axis=0) * 0.1"
        if choice == 8:
            return f"{target} = 0.25 * (W.T @ {a}) - {b}"
        return f"{target} = np.tanh({a} + {b}) * 0.9"

    count = 1
    while count < lines - 1:
        structured = kind != "straight" and rng.random() < 0.1 and count + 6 < lines
        if structured and kind == "loops":
            body.append(f"for i{count} in range(3):")
            for _ in range(3):
                target = earlier()  # a loop carries a value from one iteration to the next
                body.append("    " + line(target))
            count += 4
            continue
        if structured and kind == "branches":
            target = f"v{len(names)}"
            body.append(f"if np.sum({earlier()}) > 0.0:")
            body.append("    " + line(target))
            body.append("else:")
            body.append("    " + line(target))
            names.append(target)
            count += 4
            continue
        if rng.random() < 0.05:
            target = f"s{len(scalars)}"
            body.append(f"{target} = np.sum({earlier()} ** 2) * 0.01")
            scalars.append(target)
        else:
            target = f"v{len(names)}"
            body.append(line(target))
            names.append(target)
        count += 1
    result = " + ".join([f"np.sum({names[-1]} ** 2)", *scalars[-3:]])
    body.append(f"return {result}")
    return "def f(W, b, x):\n" + "".join(f"    {text}\n" for text in body)


def arguments() -> tuple:
    rng = np.random.default_rng(0)
    W = rng.normal(scale=ROWS**-0.5, size=(ROWS, ROWS))
    return W, rng.normal(size=(ROWS, 1)), rng.normal(size=(ROWS, COLUMNS))


def dump_cases() -> dict:
    """The generated functions, for the generated-code diff: name -> (source, args, wrt)."""
    return {
        f"{kind}_{lines}": (generated_source(lines, kind), arguments(), ("W", "b"))
        for kind in KINDS
        for lines in (50, 200)
    }


def define(source: str):
    """``f`` from ``source``, written to a file so that ``inspect`` finds its lines."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"overbar_transform_time_{os.getpid()}"
    folder.mkdir(exist_ok=True)
    path = folder / "generated.py"
    path.write_text("import numpy as np\n\n\n" + source)
    namespace: dict = {"__name__": "generated", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["f"]


CLOCK = time.perf_counter


def instrument(clock: dict) -> None:
    """Wrap the pass functions ``pipeline.transform`` calls so that each adds its time to
    ``clock`` (per name); ``emit`` is split into ``black`` (``to_source``) and ``compile``."""
    from overbar.transpiler import emit as emit_module
    from overbar.transpiler import pipeline

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = CLOCK()
            try:
                return function(*args, **kwargs)
            finally:
                clock[name] = clock.get(name, 0.0) + CLOCK() - start

        return wrapper

    names = {
        "parse": "parse",
        "check_supported": "fence",
        "normalize": "normalize",
        "analyze": "activity",
        "infer": "shapes",
        "differentiate": "differentiate",
        "simplify": "simplify",
        "peephole": "peephole",
        "emit": "emit",
    }
    for attribute, name in names.items():
        setattr(pipeline, attribute, timed(name, getattr(pipeline, attribute)))
    emit_module.to_source = timed("black", emit_module.to_source)


def measure_one(lines: int, kind: str, profile: str | None = None) -> dict:
    """The times of one function's transformation, in this (fresh) process."""
    start = CLOCK()
    import black  # noqa: F401  (imported by emit on first use; timed on its own)

    black_import = CLOCK() - start
    import overbar

    f = define(generated_source(lines, kind))
    args = arguments()
    clock: dict = {}
    instrument(clock)
    start = CLOCK()
    g = overbar.grad(f, wrt=("W", "b"), check=False)
    construction = CLOCK() - start
    start = CLOCK()
    _ = g.stages
    general = CLOCK() - start
    general_passes = dict(clock)
    clock.clear()
    profiler = cProfile.Profile() if profile else None
    start = CLOCK()
    if profiler:
        profiler.enable()
    g(*args)
    if profiler:
        profiler.disable()
    first_call = CLOCK() - start
    if profiler:
        profiler.dump_stats(profile)
    for passes in (general_passes, clock):
        passes["compile"] = passes.pop("emit", 0.0) - passes.get("black", 0.0)
    return {
        "black_import": black_import,
        "construction": construction,
        "general": general,
        "first_call": first_call,
        "general_passes": general_passes,
        "first_call_passes": dict(clock),
    }


def measure(lines: int, kind: str, repeats: int, clock: str = "wall") -> dict:
    """Medians of ``repeats`` fresh processes' ``measure_one``."""
    runs = []
    for _ in range(repeats):
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(lines), "--kind", kind, "--clock", clock],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        runs.append(json.loads(output))

    def median(select):
        return statistics.median(select(run) for run in runs)

    result = {key: median(lambda run, key=key: run[key]) for key in runs[0] if "passes" not in key}
    for key in ("general_passes", "first_call_passes"):
        result[key] = {
            name: median(lambda run, key=key, name=name: run[key].get(name, 0.0))
            for name in PASSES
        }
    return result


def report(results: dict) -> None:
    print("| function | lines | grad() | general | first call | black import |")
    print("|---|---|---|---|---|---|")
    for (kind, lines), r in results.items():
        print(
            f"| {kind} | {lines} | {r['construction']:.3f} s | {r['general']:.3f} s "
            f"| {r['first_call']:.3f} s | {r['black_import']:.3f} s |"
        )
    for key, title in (("general_passes", "general"), ("first_call_passes", "first call")):
        print(f"\nPer pass, {title} (s):\n")
        print("| function | lines | " + " | ".join(PASSES) + " |")
        print("|---|---|" + "---|" * len(PASSES))
        for (kind, lines), r in results.items():
            cells = " | ".join(f"{r[key][name]:.3f}" for name in PASSES)
            print(f"| {kind} | {lines} | {cells} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="sizes (default 50 200 800)")
    parser.add_argument("--kind", choices=KINDS, action="append", help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per function")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=int, metavar="LINES", help="profile the first call")
    parser.add_argument("--show", type=int, metavar="LINES", help="print a generated function")
    options = parser.parse_args(argv)
    kinds = options.kind or list(KINDS)
    global CLOCK
    CLOCK = time.process_time if options.clock == "cpu" else time.perf_counter
    if options.show:
        print(generated_source(options.show, kinds[0]))
        return 0
    if options.one:
        print(json.dumps(measure_one(options.one, kinds[0])))
        return 0
    if options.profile:
        path = f"/tmp/overbar_transform_time_{options.profile}.prof"
        times = measure_one(options.profile, kinds[0], profile=path)
        print(f"first call {times['first_call']:.3f} s; profile in {path}")
        pstats.Stats(path).sort_stats("cumulative").print_stats(40)
        return 0
    sizes = options.lines or list(SIZES)
    results = {}
    for kind in kinds:
        for lines in sizes if kind == "straight" else [n for n in sizes if n <= 200]:
            results[(kind, lines)] = measure(lines, kind, options.repeats, options.clock)
            print(f"measured {kind} {lines}", file=sys.stderr)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
