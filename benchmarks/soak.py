"""Soak: 8 threads x 10^4 gradient calls over 50 functions with random shapes.

Outside CI (it runs for minutes). Fifty functions are written from templates (elementwise maps,
reductions, matrix products, broadcasting, helpers, loops) into a module; eight threads each make
10^4 calls, each of a random function at a random shape (batch 1 to 6, width 3 or 4, so the first
calls of each shape come from several threads at once and compile under contention). Every
result's shape and finiteness is checked, and one call in 50 is checked against a central
difference along a random direction. The process's memory (resident set, and what tracemalloc
sees NumPy and Python allocate) is printed after a warm-up pass and at the end: it must be flat.

Run:  python benchmarks/soak.py [--threads 8] [--calls 10000] [--functions 50] [--seed 0]
The disk cache points at a temporary directory unless OVERBAR_CACHE_DIR is set.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's overbar

import overbar  # noqa: E402
from overbar.transpiler import pipeline  # noqa: E402

TEMPLATES = [
    "np.sum(np.tanh(x * w) + {c} * x)",
    "np.sum(np.sin(x) * w) + {c} * np.sum(x * x)",
    "np.sum((x @ w.T) ** 2) * {c}",
    "np.sum(np.exp(-x * x * {c}) * w)",
    "np.sum(helper(x, w) * {c})",
    "np.mean(np.log(1.0 + np.exp(x * w))) + {c}",
    "np.sum(np.maximum(x * w, 0.0) + {c} * w * w)",
    "looped(x, w, {k})",
    "np.sum(x / (1.0 + w * w)) * {c}",
    "np.sum(np.sqrt(x * x + 1.0) * np.cos(w)) + {c}",
]

PRELUDE = """
import numpy as np


def helper(x, w):
    return np.tanh(x) * w


def looped(x, w, steps):
    total = 0.0
    h = x
    for _ in range(steps):
        h = np.tanh(h * w)
        total = total + np.sum(h * h)
    return total
"""


def write_functions(count: int, folder: Path):
    """A module with ``count`` functions ``f0 ... f{count-1}`` of (x, w), x shaped (batch,
    width) and w (width, width) or broadcastable."""
    lines = [PRELUDE]
    for index in range(count):
        body = TEMPLATES[index % len(TEMPLATES)].format(c=1.0 + index / 10, k=2 + index % 3)
        lines.append(f"\n\ndef f{index}(x, w):\n    return {body}\n")
    path = folder / "soak_functions.py"
    path.write_text("".join(lines))
    spec = importlib.util.spec_from_file_location("soak_functions", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak_functions"] = module
    spec.loader.exec_module(module)
    return [getattr(module, f"f{index}") for index in range(count)]


def arguments(function, rng: np.random.Generator):
    batch, width = int(rng.integers(1, 7)), int(rng.integers(3, 5))
    x = rng.normal(size=(batch, width)) * 0.5
    w_shape = (width, width) if "@" in _source(function) else (width,)
    return x, rng.normal(size=w_shape) * 0.5


_SOURCES: dict = {}


def _source(function) -> str:
    if function not in _SOURCES:
        import inspect

        _SOURCES[function] = inspect.getsource(function)
    return _SOURCES[function]


def check(function, gradient, x, w, rng) -> None:
    """The shapes and finiteness, and (one call in 50) a central difference."""
    gx, gw = gradient
    if gx.shape != x.shape or gw.shape != w.shape:
        raise AssertionError(f"{function.__name__}: shapes {gx.shape}, {gw.shape}")
    if not (np.isfinite(gx).all() and np.isfinite(gw).all()):
        raise AssertionError(f"{function.__name__}: not finite")
    if rng.random() < 0.02:
        dx, dw = rng.normal(size=x.shape), rng.normal(size=w.shape)
        step = 1e-6
        central = (
            function(x + step * dx, w + step * dw) - function(x - step * dx, w - step * dw)
        ) / (2 * step)
        analytic = np.sum(gx * dx) + np.sum(gw * dw)
        if abs(central - analytic) > 1e-5 * (abs(central) + abs(analytic)) + 1e-6:
            raise AssertionError(f"{function.__name__}: {analytic} against {central}")


def memory() -> tuple[float, float]:
    """Resident set (MB, from /proc where there is one) and tracemalloc's current (MB)."""
    resident = float("nan")
    statm = Path("/proc/self/statm")
    if statm.exists():
        resident = int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return resident, tracemalloc.get_traced_memory()[0] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--functions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    os.environ.setdefault("OVERBAR_CACHE_DIR", tempfile.mkdtemp(prefix="overbar-soak-cache-"))
    folder = Path(tempfile.mkdtemp(prefix="overbar-soak-"))
    functions = write_functions(options.functions, folder)
    compilations = []
    real_transform = pipeline.transform
    pipeline.transform = lambda *a, **k: compilations.append(1) or real_transform(*a, **k)
    tracemalloc.start()
    errors: list[str] = []
    calls = [0] * options.threads
    samples: list[tuple[str, int, float, float]] = []

    def run(worker: int, count: int, barrier: threading.Barrier) -> None:
        rng = np.random.default_rng(options.seed * 1000 + worker)
        barrier.wait()
        for _ in range(count):
            function = functions[int(rng.integers(len(functions)))]
            x, w = arguments(function, rng)
            try:
                check(function, overbar.grad(function, wrt=(0, 1))(x, w), x, w, rng)
            except Exception as error:  # the soak reports every error, then fails
                errors.append(f"{type(error).__name__}: {error}")
            calls[worker] += 1

    def phase(label: str, per_thread: int) -> float:
        barrier = threading.Barrier(options.threads)
        threads = [
            threading.Thread(target=run, args=(k, per_thread, barrier))
            for k in range(options.threads)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        gc.collect()
        resident, traced = memory()
        samples.append((label, sum(calls), resident, traced))
        return seconds

    warm = max(1, options.calls // 10)
    warm_seconds = phase("after warm-up", warm)
    remaining, seconds = options.calls - warm, 0.0
    for part in range(3):
        seconds += phase(f"part {part + 1}", remaining // 3)
    print(
        f"{options.threads} threads x {options.calls} calls over {options.functions} functions "
        f"(random shapes): {sum(calls)} calls, {len(errors)} errors, {len(compilations)} "
        f"compilations; warm-up {warm_seconds:.1f} s, then {seconds:.1f} s "
        f"({seconds / max(1, sum(calls) - warm * options.threads) * 1e6:.0f} µs a call)\n"
    )
    print("| after | calls | resident (MB) | traced (MB) |")
    print("|---|---:|---:|---:|")
    for label, count, resident, traced in samples:
        print(f"| {label} | {count} | {resident:.1f} | {traced:.2f} |")
    for error in errors[:5]:
        print("error:", error)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
