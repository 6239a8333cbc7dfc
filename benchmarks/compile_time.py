"""How long overbar takes to make a gradient, against jax.jit's compile time, on long functions.

    python benchmarks/compile_time.py                 # every case, overbar and (if installed) JAX
    python benchmarks/compile_time.py --repeats 3     # median of three fresh processes per figure
    python benchmarks/compile_time.py --output benchmarks/results/compile-time.md

The cases are straight-line functions of 50, 200 and 800 lines, generated from a fixed seed
(matrix products, elementwise functions, sums over an axis broadcast back, and reuse of values
made many lines earlier), and functions with loops from ``variants_functions.py`` (an RNN and a
GRU over 50 steps, a heat-equation stepper and a scalar iteration over 100).

Every figure is taken in a fresh Python process, as a user meets it (the numbers of a process
that has already transformed something would hide the imports of black and the first
compilations). For overbar:

- *general transformation*: ``transform(f, wrt)``, the adjoint for arguments of any shape
  (parse, normalise, differentiate, simplify, black, compile); what ``grad(f).source`` costs;
- *first call*: the first call of ``overbar.grad(f, wrt=...)`` on the arguments, which transforms
  for their shapes, formats, compiles and runs the adjoint;
- *later call*: the second call, the compiled adjoint's own time; first minus later is what
  making the gradient cost.
- *first call, second run*: the first call in a second run of the same script, which reads the
  compiled adjoint from the disk cache a first run filled (the other figures are taken with the
  cache off, ``OVERBAR_CACHE=0``).

For JAX (``pip install ".[bench]"``), ``jax.jit(jax.grad(f))`` on the same function with ``np``
bound to ``jax.numpy`` and 64-bit floats: its first call (trace, compile, run) and its second.
The imports (numpy and overbar; jax) are timed apart and are not in the other figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

STRAIGHT_LINE_LENGTHS = (50, 200, 800)
LOOP_CASES = {
    # case name: (function in variants_functions, function name there, length)
    "rnn T=50": ("rnn", "rnn_matmul", 50),
    "gru T=50": ("gru", "gru_inline", 50),
    "heat 100 steps": ("heat", "heat_concatenate", 100),
    "fixed point 100 steps": ("fixed_point", "fixed_point_power", 100),
}
ROWS, COLUMNS = 32, 16


def straight_line_source(lines: int, seed: int = 0) -> str:
    """A function of ``lines`` assignments on (32, 16) arrays and a (32, 32) matrix, each from
    one or two operations on values made earlier (a quarter of them more than ten lines
    earlier), returning the sum of squares of the last few; values stay bounded (tanh, sin,
    exp of a negative square, products scaled by a half)."""
    rng = np.random.default_rng(seed)
    names = ["x", "v"]
    body = []

    def operand() -> str:
        if len(names) > 12 and rng.random() < 0.25:
            return names[int(rng.integers(0, len(names) - 10))]
        return names[-1 - int(rng.integers(0, min(len(names), 6)))]

    for i in range(lines - 1):
        a, b = operand(), operand()
        kind = int(rng.integers(0, 9))
        expression = [
            f"np.tanh(W @ {a})",
            f"np.sin({a}) * {b}",
            f"0.5 * {a} * {b}",
            f"{a} + 0.5 * {b}",
            f"np.exp(-{a} * {a}) - {b}",
            f"np.tanh({a} - np.mean({b}, axis=0, keepdims=True))",
            f"{a} * np.sum({b}, axis=1, keepdims=True) / {COLUMNS}",
            f"np.sqrt(1.0 + {a} ** 2)",
            f"np.tanh({a} @ M) + {b}",
        ][kind]
        name = f"a{i}"
        body.append(f"    {name} = {expression}")
        names.append(name)
    last = " + ".join(f"np.sum({n} * {n})" for n in names[-4:])
    body.append(f"    return {last}")
    return f"def straight_{lines}(W, M, x, v):\n" + "\n".join(body) + "\n"


def straight_line_inputs() -> list:
    rng = np.random.default_rng(1)
    return [
        rng.normal(scale=ROWS**-0.5, size=(ROWS, ROWS)),
        rng.normal(scale=COLUMNS**-0.5, size=(COLUMNS, COLUMNS)),
        rng.normal(size=(ROWS, COLUMNS)),
        rng.normal(size=(ROWS, COLUMNS)),
    ]


def load_case(case: str, directory: str):
    """The function, its arguments, ``wrt`` and the positions JAX must treat as static."""
    if case.startswith("straight "):
        lines = int(case.split()[1])
        path = Path(directory) / f"straight_{lines}.py"
        path.write_text("import numpy as np\n\n\n" + straight_line_source(lines))
        spec = importlib.util.spec_from_file_location(f"straight_{lines}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        function = getattr(module, f"straight_{lines}")
        return function, straight_line_inputs(), ("W", "M", "x"), ()
    sys.path.insert(0, str(BENCHMARKS))
    import variants_functions

    function_name, variant_name, length = LOOP_CASES[case]
    family = next(f for f in variants_functions.FUNCTIONS if f.name == function_name)
    function = next(v.forward for v in family.variants if v.name == variant_name)
    inputs = family.inputs(np.random.default_rng(0), length)
    static = tuple(i for i, value in enumerate(inputs) if isinstance(value, int))
    return function, inputs, family.wrt, static


class Stopwatch:
    """CPU time of the process (every thread's) and wall time, from its start."""

    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> dict:
        return {"cpu": time.process_time() - self.cpu, "wall": time.perf_counter() - self.wall}


def probe(contender: str, case: str) -> dict:
    """Run in a fresh process: the figures of one contender on one case, in seconds of CPU
    and of wall time."""
    figures = {}
    start = Stopwatch()
    if contender == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
    else:
        sys.path.insert(0, str(ROOT))
        import overbar
        from overbar.transpiler.pipeline import transform
    figures["import"] = start.read()
    with tempfile.TemporaryDirectory() as directory:
        function, inputs, wrt, static = load_case(case, directory)
        parameters = function.__code__.co_varnames[: function.__code__.co_argcount]
        if contender == "general":
            start = Stopwatch()
            transform(function, wrt)
            figures["general"] = start.read()
            return figures
        if contender == "overbar":
            gradient = overbar.grad(function, wrt=wrt)

            def call():
                return gradient(*inputs)

        else:
            sys.path.insert(0, str(BENCHMARKS))
            from run import with_numpy

            positions = tuple(parameters.index(name) for name in wrt)
            jitted = jax.jit(
                jax.grad(with_numpy(function, jnp), argnums=positions), static_argnums=static
            )
            arguments = [a if i in static else jnp.asarray(a) for i, a in enumerate(inputs)]

            def call():
                return jax.block_until_ready(jitted(*arguments))

        start = Stopwatch()
        call()
        figures["first"] = start.read()
        start = Stopwatch()
        call()
        figures["later"] = start.read()
    return figures


def fresh_process(contender: str, case: str, cache_directory: str | None = None) -> dict | str:
    """One probe in a fresh process: overbar's disk cache off, or on in ``cache_directory``."""
    command = [sys.executable, __file__, "--probe", contender, case]
    environment = dict(os.environ, OVERBAR_CACHE="0")
    if cache_directory:
        environment.update(OVERBAR_CACHE="1", OVERBAR_CACHE_DIR=cache_directory)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, cwd=ROOT, env=environment
    )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return last.replace("|", "\\|")[:120]
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_of(contender: str, case: str, repeats: int) -> dict | str:
    """The median figures of ``repeats`` fresh processes. For ``cached``, overbar's first call
    in a second run of the script: a first process fills an empty disk cache, then each timed
    process reads it."""
    if contender == "cached":
        with tempfile.TemporaryDirectory() as directory:
            fresh_process("overbar", case, directory)
            runs = [fresh_process("overbar", case, directory) for _ in range(repeats)]
    else:
        runs = [fresh_process(contender, case) for _ in range(repeats)]
    failed = [r for r in runs if isinstance(r, str)]
    if failed:
        return failed[0]
    return {
        key: {clock: statistics.median(r[key][clock] for r in runs) for clock in ("cpu", "wall")}
        for key in runs[0]
    }


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.0f}" if seconds >= 0.01 else f"{seconds * 1e3:.2f}"


def cell(figures: dict | str, key: str) -> str:
    """CPU milliseconds, wall milliseconds in brackets."""
    if isinstance(figures, str):
        return figures
    return f"{milliseconds(figures[key]['cpu'])} ({milliseconds(figures[key]['wall'])})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per figure")
    parser.add_argument("--output", help="also write the table to this Markdown file")
    parser.add_argument("--probe", nargs=2, metavar=("CONTENDER", "CASE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.probe:
        print(json.dumps(probe(*arguments.probe)))
        return
    cases = [f"straight {n}" for n in STRAIGHT_LINE_LENGTHS] + list(LOOP_CASES)
    with_jax = jax_available()
    lines = [
        f"Fresh process per figure, median of {arguments.repeats}; {os.cpu_count()} cores; "
        f"JAX {'installed' if with_jax else 'not installed'}. Milliseconds of CPU time (every "
        "thread of the process), wall time in brackets.",
        "",
        "| case | overbar general transformation | overbar first call | overbar later call | "
        "overbar first - later | overbar first call, second run | jax.jit first call | "
        "jax.jit later call | jax.jit first - later |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    imports = {}
    for case in cases:
        general = median_of("general", case, arguments.repeats)
        first = median_of("overbar", case, arguments.repeats)
        cached = median_of("cached", case, arguments.repeats)
        jax_figures = median_of("jax", case, arguments.repeats) if with_jax else "—"
        cells = [cell(general, "general")]
        for figures in (first, jax_figures):
            if isinstance(figures, str):
                cells += [figures, "", ""]
            else:
                made = {
                    clock: figures["first"][clock] - figures["later"][clock]
                    for clock in ("cpu", "wall")
                }
                cells += [cell(figures, "first"), cell(figures, "later")]
                cells.append(cell({"made": made}, "made"))
            if figures is first:
                cells.append(cached if isinstance(cached, str) else cell(cached, "first"))
        for name, figures in (("numpy + overbar", first), ("jax", jax_figures)):
            if isinstance(figures, dict):
                imports.setdefault(name, []).append(figures["import"]["cpu"])
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines.append("")
    lines.append(
        "Imports, not counted above: "
        + "; ".join(f"{name} {statistics.median(t) * 1e3:.0f} ms" for name, t in imports.items())
        + " of CPU time."
    )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if arguments.output:
        Path(arguments.output).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.output).write_text(text)


if __name__ == "__main__":
    main()
