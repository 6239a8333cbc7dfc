"""overbar against the hand-written NumPy adjoint and the peers, in one process.

    python benchmarks/run.py                 # every workload and size, with peak memory
    python benchmarks/run.py --quick         # fewer repeats, no memory, no largest sizes
    python benchmarks/run.py --workload rnn  # one workload

Prints Markdown tables: the time of each contender's gradient as a ratio to the hand-written
adjoint (medians of rounds that alternate the contender and the hand-written adjoint, after
warm-up), the time to transform (overbar) or compile
(jax.jit) each function, and each contender's peak memory (measured in a separate process).
Every contender's gradient is checked against the hand-written one before it is timed. The
peers (autograd, JAX, PyTorch) are optional: `pip install ".[bench]"`; a missing one is reported.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import time
import timeit
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

import overbar  # noqa: E402
from overbar.runtime.shapes import argument_shape  # noqa: E402
from overbar.transpiler.pipeline import transform  # noqa: E402

CONTENDERS = ["hand", "overbar", "autograd", "jax", "jax.jit", "torch"]


def numpy_threads() -> int:
    try:
        from threadpoolctl import threadpool_info

        return max(info["num_threads"] for info in threadpool_info()) or 1
    except Exception:  # threadpoolctl missing or no BLAS found: assume one thread per core
        return os.cpu_count() or 1


def with_numpy(function, module):
    """``function`` with ``np`` bound to ``module`` (autograd.numpy or jax.numpy)."""
    namespace = dict(function.__globals__, np=module)
    return types.FunctionType(function.__code__, namespace, function.__name__)


def parameter_names(function, wrt):
    names = function.__code__.co_varnames[: function.__code__.co_argcount]
    return tuple(names[i] for i in wrt)


def make_gradient(contender: str, workload, inputs):
    """A zero-argument callable computing the gradient as a tuple of NumPy arrays, or None."""
    wrt = workload.wrt
    if contender == "hand":
        return lambda: workload.by_hand(*inputs)
    if contender == "overbar":
        gradient = overbar.grad(workload.forward, wrt=wrt)
        return lambda: gradient(*inputs)
    if contender == "autograd":
        import autograd
        import autograd.numpy as anp

        gradient = autograd.grad(with_numpy(workload.forward, anp), argnum=wrt)
        return lambda: gradient(*inputs)
    if contender in ("jax", "jax.jit"):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        gradient = jax.grad(with_numpy(workload.forward, jnp), argnums=wrt)
        if contender == "jax.jit":
            gradient = jax.jit(gradient)
        arrays = [jnp.asarray(a) for a in inputs]

        def run():
            result = gradient(*arrays)
            jax.block_until_ready(result)
            return result

        return run
    if contender == "torch":
        import torch

        torch.set_num_threads(numpy_threads())
        tensors = [torch.tensor(a, dtype=torch.float64) for a in inputs]
        for i in wrt:
            tensors[i].requires_grad_(True)
        chosen = [tensors[i] for i in wrt]

        def run():
            loss = workload.torch_forward(torch, *tensors)
            return torch.autograd.grad(loss, chosen)

        return run
    raise ValueError(contender)


def available(contender: str) -> str | None:
    """None if the contender can run, else why not."""
    module = {"autograd": "autograd", "jax": "jax", "jax.jit": "jax", "torch": "torch"}.get(
        contender
    )
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return "not installed"
    return None


def as_numpy(values):
    return tuple(
        np.asarray(v.detach() if hasattr(v, "detach") else v, dtype=float) for v in values
    )


def agrees(got, expected) -> bool:
    got = as_numpy(got)
    return len(got) == len(expected) and all(
        np.shape(g) == np.shape(e) and np.allclose(g, e, rtol=1e-6, atol=1e-9)
        for g, e in zip(got, expected, strict=True)
    )


def paired_seconds(call, hand, quick: bool) -> tuple[float, float]:
    """Median seconds per call of ``call`` and of ``hand``, timed in alternating rounds, so that
    a change of clock speed or cache state between contenders does not enter their ratio."""
    for _ in range(3):
        call()
        hand()
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    budget = 0.02 if quick else 0.05
    number = max(1, int(budget / once))
    rounds = 7 if quick else 15
    mine, theirs = [], []
    for _ in range(rounds):
        mine.append(timeit.timeit(call, number=number) / number)
        theirs.append(timeit.timeit(hand, number=number) / number)
    return statistics.median(mine), statistics.median(theirs)


def transform_ms(workload, inputs) -> float:
    """Median time to transform the function for these arguments' shapes (a first call's work,
    black included)."""
    names = parameter_names(workload.forward, workload.wrt)
    signature = inspect.signature(workload.forward)
    shapes = {
        name: argument_shape(value)
        for name, value in zip(signature.parameters, inputs, strict=True)
    }
    times = []
    for _ in range(7):
        start = time.perf_counter()
        transform(workload.forward, names, parameter_shapes=shapes)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def call_overhead_us(workload, inputs) -> float:
    """What a call of the gradient adds to the compiled adjoint's own time, in microseconds:
    the gradient is timed with its compiled adjoint swapped for a function that does nothing,
    against that function called directly (a difference of two adjoint timings would drown
    the microseconds in the adjoint's own noise)."""
    gradient = overbar.grad(workload.forward, wrt=workload.wrt)
    gradient(*inputs)
    (key,) = gradient._specialised

    def nothing(*args, **kwargs):
        return None

    gradient._specialised[key] = nothing
    through_entry = min(timeit.repeat(lambda: gradient(*inputs), number=20000, repeat=7))
    direct = min(timeit.repeat(lambda: nothing(*inputs), number=20000, repeat=7))
    return (through_entry - direct) / 20000 * 1e6


def compile_ms(workload, inputs) -> float | None:
    if available("jax.jit"):
        return None
    start = time.perf_counter()
    make_gradient("jax.jit", workload, inputs)()
    return (time.perf_counter() - start) * 1e3


def peak_memory_mb(contender: str, workload_name: str, size_index: int) -> str:
    """Peak resident memory added by gradient calls, measured in a fresh process."""
    command = [
        sys.executable,
        __file__,
        "--memory-probe",
        contender,
        workload_name,
        str(size_index),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return result.stdout.strip() or "error"


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe(contender: str, workload_name: str, size_index: int) -> None:
    """Peak resident memory three gradient calls add over what the inputs already hold.

    One call first, so transformation (overbar) and compilation (jax.jit) are not counted. The
    peak (VmHWM) is reset then: a process started from a large one inherits its peak.
    """
    workload = next(w for w in workloads.WORKLOADS if w.name == workload_name)
    inputs = workload.sizes[size_index][1](np.random.default_rng(0))
    gradient = make_gradient(contender, workload, inputs)
    gradient()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status_kb("VmRSS")
    for _ in range(3):
        gradient()
    print(f"{(_status_kb('VmHWM') - before) / 1024:.1f}")


def format_ratio(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.2f}"


def format_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workload")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-probe", nargs=3, metavar=("CONTENDER", "WORKLOAD", "SIZE"))
    arguments = parser.parse_args(argv)
    if arguments.memory_probe:
        contender, name, size = arguments.memory_probe
        memory_probe(contender, name, int(size))
        return
    missing = {c: available(c) for c in CONTENDERS if available(c)}
    chosen = [w for w in workloads.WORKLOADS if arguments.workload in (None, w.name)]
    print(f"numpy {np.__version__}, {numpy_threads()} BLAS thread(s), {os.cpu_count()} cores")
    for contender, why in missing.items():
        print(f"{contender}: {why}")
    header = "| workload | size | hand-written | " + " | ".join(CONTENDERS[1:]) + " |"
    rows, compile_rows, memory_rows, overbar_ratios, peer_ratios = [], [], [], [], []
    transform_times, overheads = {}, {}
    for workload in chosen:
        sizes = list(enumerate(workload.sizes))
        if arguments.quick:
            sizes = sizes[:-1] or sizes
        for size_index, (size, make_inputs) in sizes:
            inputs = make_inputs(np.random.default_rng(0))
            expected = as_numpy(workload.by_hand(*inputs))
            hand_call = make_gradient("hand", workload, inputs)
            hand = paired_seconds(hand_call, hand_call, arguments.quick)[0]
            cells, times = [], {}
            for contender in CONTENDERS[1:]:
                if contender in missing:
                    cells.append("—")
                    continue
                gradient = make_gradient(contender, workload, inputs)
                if not agrees(gradient(), expected):
                    cells.append("WRONG")
                    continue
                mine, theirs = paired_seconds(gradient, hand_call, arguments.quick)
                times[contender] = mine / theirs * hand  # the ratio measured in pairs
                cells.append(format_ratio(mine / theirs))
            rows.append(
                f"| {workload.name} | {size} | {format_time(hand)} | " + " | ".join(cells) + " |"
            )
            if "overbar" in times:
                overbar_ratios.append((workload.name, size, times["overbar"] / hand))
                for peer in ("autograd", "torch"):
                    if peer in times and size_index < 2:
                        peer_ratios.append(
                            (peer, workload.name, size, times[peer] / times["overbar"])
                        )
            jit = compile_ms(workload, inputs) if size_index == 0 else None
            if size_index == 0:
                transform_times[workload.name] = transform_ms(workload, inputs)
                overheads[workload.name] = call_overhead_us(workload, inputs)
                compile_rows.append(
                    f"| {workload.name} | {transform_times[workload.name]:.1f} ms | "
                    f"{overheads[workload.name]:.2f} µs | "
                    + (f"{jit:.0f} ms" if jit is not None else "—")
                    + " |"
                )
            if not arguments.no_memory and not arguments.quick:
                mem = [
                    "—" if c in missing else peak_memory_mb(c, workload.name, size_index)
                    for c in CONTENDERS
                ]
                memory_rows.append(f"| {workload.name} | {size} | " + " | ".join(mem) + " |")
            print(rows[-1], flush=True)
    print("\n### Time, as a ratio to the hand-written NumPy adjoint (lower is better)\n")
    print(header)
    print("|" + "---|" * (len(CONTENDERS) + 2))
    print("\n".join(rows))
    print(
        "\n### Transformation (overbar, black included), what a cached gradient call adds to the "
        "compiled adjoint (overbar), and compilation (jax.jit)\n"
    )
    print("| workload | overbar transform | call overhead | jax.jit compile |\n|---|---|---|---|")
    print("\n".join(compile_rows))
    if memory_rows:
        print("\n### Peak memory added by gradient calls after the first, MB (own process each)\n")
        print("| workload | size | " + " | ".join(CONTENDERS) + " |")
        print("|" + "---|" * (len(CONTENDERS) + 2))
        print("\n".join(memory_rows))
    print("\n### Targets\n")
    worst = max(overbar_ratios, key=lambda r: r[2]) if overbar_ratios else None
    if worst:
        met = all(r[2] <= 1.10 for r in overbar_ratios)
        print(
            f"- overbar / hand-written <= 1.10 everywhere: {'met' if met else 'NOT met'} "
            f"(worst {worst[2]:.2f} on {worst[0]} {worst[1]})"
        )
    if "mlp" in transform_times:
        met = transform_times["mlp"] < 50
        print(
            f"- transformation of the MLP loss under 50 ms: {'met' if met else 'NOT met'} "
            f"({transform_times['mlp']:.1f} ms)"
        )
    if overheads:
        most = max(overheads.items(), key=lambda item: item[1])
        met = most[1] < 3
        print(
            f"- a cached gradient call adds under 3 µs: {'met' if met else 'NOT met'} "
            f"(most {most[1]:.2f} µs, on {most[0]})"
        )
    for peer in ("autograd", "torch"):
        ratios = [r for r in peer_ratios if r[0] == peer]
        if ratios:
            low = min(ratios, key=lambda r: r[3])
            met = all(r[3] >= 5 for r in ratios)
            print(
                f"- {peer} / overbar >= 5 on the tiny and small sizes: "
                f"{'met' if met else 'NOT met'} (lowest {low[3]:.1f} on {low[1]} {low[2]})"
            )


if __name__ == "__main__":
    main()
