"""Added peak memory of a gradient call against the hand-written adjoint, on large elementwise
functions, each measured in a process of its own.

For each function below and an input of N float64 elements (10^7 by default), a child process
compiles the gradient on a small input of the same rank, then measures with tracemalloc (NumPy
reports its buffers to it) the peak memory a gradient call adds above what is allocated before
it (the inputs), and the same for the hand-written NumPy adjoint written the way a person would,
without in-place tricks. Prints a Markdown table with the ratio; issue 13 asks for at most 1.25.

Run:  python benchmarks/elementwise_memory.py [N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's overbar

import overbar  # noqa: E402


def sin_times_x(x):
    return np.sum(np.sin(x) * x)


def sin_times_x_hand(x):
    return np.cos(x) * x + np.sin(x)


def tanh_squared(x):
    return np.sum(np.tanh(x) ** 2)


def tanh_squared_hand(x):
    t = np.tanh(x)
    return 2.0 * t * (1.0 - t * t)


def gaussian(x):
    return np.sum(np.exp(-x * x))


def gaussian_hand(x):
    return -2.0 * x * np.exp(-x * x)


def softplus(x):
    return np.sum(np.log(1.0 + np.exp(x)))


def softplus_hand(x):
    return 1.0 / (1.0 + np.exp(-x))


def product_and_sine(x, y):
    return np.sum(x * y + np.sin(y))


def product_and_sine_hand(x, y):
    return y, x + np.cos(y)


def product_and_sine_hand_copying(x, y):
    """The same, with x's gradient a copy of y rather than y itself (a gradient that is the
    caller's own array changes when they change it; overbar never returns one)."""
    return y.copy(), x + np.cos(y)


FUNCTIONS = {
    "np.sum(np.sin(x) * x)": (sin_times_x, sin_times_x_hand, 1),
    "np.sum(np.tanh(x) ** 2)": (tanh_squared, tanh_squared_hand, 1),
    "np.sum(np.exp(-x * x))": (gaussian, gaussian_hand, 1),
    "np.sum(np.log(1 + np.exp(x)))": (softplus, softplus_hand, 1),
    "np.sum(x * y + np.sin(y)), wrt x, y": (product_and_sine, product_and_sine_hand, 2),
    "the same, x's gradient a copy of y by hand too": (
        product_and_sine,
        product_and_sine_hand_copying,
        2,
    ),
}


def added_peak(call, arguments) -> int:
    """Bytes a call allocates at its peak above what is allocated before it."""
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = call(*arguments)
    _, peak = tracemalloc.get_traced_memory()
    del result
    tracemalloc.stop()
    return peak - before


def measure(name: str, size: int, contender: str) -> int:
    forward, hand, arity = FUNCTIONS[name]
    rng = np.random.default_rng(0)
    if contender == "hand":
        call = hand
    else:
        call = overbar.grad(forward, wrt=tuple(range(arity)), check=False)
        call(*[rng.normal(size=8) for _ in range(arity)])  # compiled for rank 1, not measured
    arguments = [rng.normal(size=size) for _ in range(arity)]
    return added_peak(call, arguments)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        name, size, contender = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        print(json.dumps(measure(name, size, contender)))
        return
    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**7
    environment = dict(os.environ, OVERBAR_CACHE_DIR=tempfile.mkdtemp(prefix="overbar-memory-"))
    print(f"Added peak memory of one gradient call, N = {size:.0e} float64 elements per input\n")
    print("| function | hand-written (MB) | overbar (MB) | ratio |")
    print("|---|---:|---:|---:|")
    for name in FUNCTIONS:
        peaks = {}
        for contender in ("hand", "overbar"):
            output = subprocess.run(
                [sys.executable, __file__, "--one", name, str(size), contender],
                capture_output=True,
                text=True,
                check=True,
                env=environment,
            ).stdout
            peaks[contender] = json.loads(output) / 1e6
        ratio = peaks["overbar"] / peaks["hand"]
        print(f"| `{name}` | {peaks['hand']:.0f} | {peaks['overbar']:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
