"""The logistic regression of examples/dask_regression.py: gradient throughput on Dask.

    pip install ".[dask]" && python benchmarks/dask_regression.py [--rows N] [--repeats K]

Times one gradient step (``value_and_grad`` of the loss, then ``dask.compute``: one pass over the
data, each chunk of rows drawn in the task that reads it) on a ``LocalCluster`` of worker
processes with a memory limit per worker below the data's size, and reports:

- rows per second against the chunk size (two workers) and against the number of workers
  (one, two);
- each worker's peak resident memory (``ru_maxrss`` of the worker process, start-up
  included) against its limit;
- the cost of making the data alone (the same graph reduced to a sum of X and y), so the
  gradient's own share can be read off;
- the same gradient through plain NumPy, on data that fits in memory (made beforehand);
- the two-layer network's gradient on CuPy against PyTorch on CUDA, where both and a GPU are
  there (a row that says why it is skipped otherwise).

Every Dask gradient is checked against the NumPy gradient of the same rows first. The figures
go to benchmarks/results/dask.md (``--output``). Times are wall-clock medians of ``--repeats``
steps after one warm-up step; the machine is shared, so read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import overbar

ROOT = Path(__file__).resolve().parent.parent


def _example():
    path = ROOT / "examples" / "dask_regression.py"
    spec = importlib.util.spec_from_file_location("dask_regression_example", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _median_step(run, repeats: int) -> float:
    run()  # warm-up: compiles the adjoint, ships the functions to the workers
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def dask_row(rows, features, chunk_rows, workers, limit_mib, repeats) -> dict:
    """One configuration on a fresh cluster: seconds per gradient step, rows/s, peak memory."""
    import dask
    from distributed import Client, LocalCluster

    X, y = EXAMPLE.make_data(rows, features, chunk_rows)
    w = 0.1 * EXAMPLE.true_weights(features)
    gradient = overbar.value_and_grad(EXAMPLE.loss, wrt="w", check=False)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=f"{limit_mib}MiB",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        step = _median_step(lambda: dask.compute(*gradient(w, X, y)), repeats)
        making = _median_step(lambda: dask.compute(X.sum(), y.sum()), repeats)
        peaks = client.run(_peak_rss_mib)
    return {
        "rows": rows,
        "chunk_rows": chunk_rows,
        "workers": workers,
        "limit_mib": limit_mib,
        "step": step,
        "making": making,
        "peak_mib": max(peaks.values()),
    }


def numpy_row(rows, features, repeats) -> dict:
    """The same gradient on NumPy arrays made beforehand (the data fit in memory)."""
    import dask

    X, y = dask.compute(*EXAMPLE.make_data(rows, features, chunk_rows=rows), scheduler="sync")
    w = 0.1 * EXAMPLE.true_weights(features)
    gradient = overbar.value_and_grad(EXAMPLE.loss, wrt="w", check=False)
    step = _median_step(lambda: gradient(w, X, y), repeats)
    return {"rows": rows, "step": step}


def check_equal(rows, features, chunk_rows) -> None:
    """The Dask gradient equals NumPy's on the same rows (before anything is timed)."""
    import dask

    X, y = EXAMPLE.make_data(rows, features, chunk_rows)
    w = 0.1 * EXAMPLE.true_weights(features)
    gradient = overbar.value_and_grad(EXAMPLE.loss, wrt="w", check=False)
    value, lazy = dask.compute(*gradient(w, X, y), scheduler="threads")
    X_numpy, y_numpy = dask.compute(X, y, scheduler="threads")
    expected_value, expected = gradient(w, X_numpy, y_numpy)
    np.testing.assert_allclose(lazy, expected, rtol=1e-9)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)


def gpu_mlp_row(repeats: int) -> str:
    """The two-layer network's gradient on CuPy against PyTorch on CUDA, or why not."""
    try:
        import cupy
        import torch
    except ImportError as error:
        return f"skipped: {error.name} is not installed (it needs a CUDA GPU)"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0 or not torch.cuda.is_available():
            return "skipped: no CUDA device visible"
    except Exception as error:  # the CUDA driver or runtime is missing
        return f"skipped: CUDA not usable ({error})"
    rng = np.random.default_rng(0)
    sizes = (1024, 4096, 10, 1024)
    W1, b1 = rng.standard_normal((sizes[1], sizes[0])) / 32, np.zeros((sizes[1], 1))
    W2, b2 = rng.standard_normal((sizes[2], sizes[1])) / 64, np.zeros((sizes[2], 1))
    x, t = rng.standard_normal((sizes[0], sizes[3])), rng.standard_normal((sizes[2], sizes[3]))

    def loss(W1, b1, W2, b2, x, t):
        h = np.tanh(W1 @ x + b1)
        return 0.5 * np.sum((W2 @ h + b2 - t) ** 2)

    on_gpu = [cupy.asarray(a) for a in (W1, b1, W2, b2, x, t)]
    gradient = overbar.grad(loss, wrt=(0, 1, 2, 3), check=False)

    def run_cupy():
        gradient(*on_gpu)
        cupy.cuda.Device().synchronize()

    tensors = [torch.tensor(a, device="cuda") for a in (W1, b1, W2, b2, x, t)]
    for tensor in tensors[:4]:
        tensor.requires_grad_(True)

    def run_torch():
        W1_, b1_, W2_, b2_, x_, t_ = tensors
        value = 0.5 * ((W2_ @ torch.tanh(W1_ @ x_ + b1_) + b2_ - t_) ** 2).sum()
        torch.autograd.grad(value, tensors[:4])
        torch.cuda.synchronize()

    mine, theirs = _median_step(run_cupy, repeats), _median_step(run_torch, repeats)
    return (
        f"1024-4096-10 x1024, float64: overbar on CuPy {mine * 1e3:.2f} ms, PyTorch CUDA "
        f"{theirs * 1e3:.2f} ms (ratio {mine / theirs:.2f})"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunks", default="25000,50000,100000,200000", help="rows per chunk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numpy-rows", type=int, default=None, help="default: --rows")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "dask.md"))
    args = parser.parse_args(argv)
    rows, features = args.rows, args.features
    data_mib = rows * (features + 1) * 8 / 2**20
    limit = max(int(data_mib / 2), 256)
    chunk_sizes = [int(size) for size in args.chunks.split(",")]
    check_equal(min(rows, 20_000), features, min(chunk_sizes))
    load_before = os.getloadavg()[0]

    rows_out = []
    for chunk_rows in chunk_sizes:
        rows_out.append(_attempt(rows, features, chunk_rows, 2, limit, args.repeats))
    middle = chunk_sizes[len(chunk_sizes) // 2]
    rows_out.append(_attempt(rows, features, middle, 1, limit, args.repeats))
    numpy = numpy_row(args.numpy_rows or rows, features, args.repeats)
    print(numpy, flush=True)
    gpu = gpu_mlp_row(args.repeats)
    print(gpu, flush=True)

    import dask
    import distributed

    load = f"{load_before:.1f} and {os.getloadavg()[0]:.1f}"
    lines = [
        "# Logistic regression on Dask: gradient throughput",
        "",
        f"`python benchmarks/dask_regression.py --rows {rows}` on {platform.machine()}, "
        f"{_cores()} cores shared with other work (load average {load} at the start and "
        f"the end; numpy {np.__version__}, dask "
        f"{dask.__version__}, distributed {distributed.__version__}). {rows:,} rows x "
        f"{features} features, {data_mib:.0f} MiB of float64 with the labels, drawn chunk by "
        f"chunk in the tasks that read them at every step; worker processes with one thread "
        f"each and a memory limit of {limit} MiB each. A step is `value_and_grad` of the loss "
        "and `dask.compute` of the value and the gradient: one pass over the data.",
        "",
        "| chunk (rows) | workers | s / step | rows / s | making the data alone, s | "
        "gradient's share | peak memory per worker | limit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows_out:
        if "failed" in row:
            lines.append(
                f"| {row['chunk_rows']:,} | {row['workers']} | failed: {row['failed']} | | | | "
                f"| {row['limit_mib']} MiB |"
            )
            continue
        share = max(row["step"] - row["making"], 0.0) / row["step"]
        lines.append(
            f"| {row['chunk_rows']:,} | {row['workers']} | {row['step']:.2f} | "
            f"{row['rows'] / row['step']:,.0f} | {row['making']:.2f} | {share:.0%} | "
            f"{row['peak_mib']:.0f} MiB | {row['limit_mib']} MiB |"
        )
    lines += [
        "",
        f"The same gradient through plain NumPy, on {numpy['rows']:,} rows made beforehand "
        f"(in memory): {numpy['step']:.3f} s a step, {numpy['rows'] / numpy['step']:,.0f} rows/s.",
        "",
        f"CuPy against PyTorch on CUDA, the two-layer network: {gpu}.",
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


def _attempt(rows, features, chunk_rows, workers, limit_mib, repeats) -> dict:
    """``dask_row``, or what stopped it (a chunk whose task needs more than a worker's limit
    gets the worker restarted, and the task is given up after a few tries)."""
    import dask

    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            row = dask_row(rows, features, chunk_rows, workers, limit_mib, repeats)
    except Exception as error:  # distributed's KilledWorker, mostly
        row = {
            "chunk_rows": chunk_rows,
            "workers": workers,
            "limit_mib": limit_mib,
            "failed": (
                f"{type(error).__name__} (a worker went over its memory limit)"
                if "KilledWorker" in type(error).__name__
                else f"{type(error).__name__}: {error}"
            ),
        }
    print(row, flush=True)
    return row


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
