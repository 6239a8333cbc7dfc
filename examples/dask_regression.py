"""Logistic regression by gradient descent over more data than a worker may hold, on Dask.

    p = σ(X w),  L = −mean(y log p + (1 − y) log(1 − p))

The loss is plain NumPy code, and overbar's gradient of it is the adjoint NumPy arrays run:
given chunked Dask arrays ``X`` and ``y``, it returns a lazy Dask array, and each step's
``dask.compute`` runs the loss and the gradient in one pass over the data, chunk by chunk, on a
``dask.distributed`` cluster. The data are never whole in memory: each chunk of rows is drawn
from a seeded generator when a task needs it (and drawn again at the next step), so the cluster
holds a few chunks at a time, and each worker's memory limit is set below the data's size.

    python examples/dask_regression.py                  # 2 x 10^6 rows x 20 features: 0.3 GiB,
                                                        # 256 MiB per worker, about a minute
    python examples/dask_regression.py --rows 10000000  # the full size: 1.6 GiB of float64,
                                                        # 0.8 GiB per worker (about 30 s a
                                                        # step on two busy cores)

It prints the cluster's dashboard link (served where bokeh is installed) and the loss falling.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import overbar


def loss(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


loss_and_gradient = overbar.value_and_grad(loss, wrt="w")


def true_weights(features: int) -> np.ndarray:
    """The weights the labels are drawn from (what the fit should approach)."""
    return np.linspace(-1.0, 1.0, features)


def make_data(rows: int, features: int = 20, chunk_rows: int = 250_000, seed: int = 0):
    """``X`` (rows x features, standard normal) and labels ``y`` drawn with probability
    σ(X w_true), as Dask arrays built chunk by chunk: each chunk of rows comes from its own
    seeded generator, inside the task that needs it, so nothing is held whole."""
    import dask.array as da

    chunks = (chunk_rows,) * (rows // chunk_rows)
    if rows % chunk_rows:
        chunks += (rows % chunk_rows,)
    w_true = true_weights(features)

    def block(block_id=None, block_info=None):
        rows_here = block_info[None]["chunk-shape"][0]
        rng = np.random.default_rng([seed, block_id[0]])
        X = rng.standard_normal((rows_here, features))
        y = (rng.random(rows_here) < 1 / (1 + np.exp(-(X @ w_true)))).astype(np.float64)
        return np.concatenate([X, y[:, None]], axis=1)

    both = da.map_blocks(
        block, chunks=(chunks, (features + 1,)), dtype=np.float64, meta=np.empty((0, 0))
    )
    return both[:, :features], both[:, features]


def fit(X, y, steps: int = 8, learning_rate: float = 2.0, report=print) -> np.ndarray:
    """Gradient descent from zero weights; one pass over the data per step."""
    import dask

    w = np.zeros(X.shape[1])
    for step in range(steps):
        started = time.perf_counter()
        value, gradient = loss_and_gradient(w, X, y)  # lazy: no task has run yet
        value, gradient = dask.compute(value, gradient)
        w = w - learning_rate * gradient
        report(f"step {step:2d}  loss {float(value):.6f}  ({time.perf_counter() - started:.1f} s)")
    return w


def _served() -> str:
    try:
        import bokeh  # noqa: F401  (distributed serves its dashboard with bokeh)
    except ImportError:
        return " (not served: pip install bokeh to see it)"
    return ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--memory-limit", default=None, help="per worker (default: half the data, at least 256 MB)"
    )
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    data_bytes = args.rows * (args.features + 1) * 8
    limit = args.memory_limit or f"{max(data_bytes // 2, 256 * 2**20) // 2**20}MiB"
    X, y = make_data(args.rows, args.features, args.chunk_rows)
    print(
        f"{args.rows:,} rows x {args.features} features: {data_bytes / 2**30:.2f} GiB of "
        f"float64, in chunks of {args.chunk_rows:,} rows ({X.npartitions} chunks), made in "
        f"the tasks that read them; {args.workers} worker processes, {limit} each"
    )
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, memory_limit=limit
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"dashboard: {client.dashboard_link}{_served()}")
        w = fit(X, y, steps=args.steps)
    print("fitted weights, first five:", np.round(w[:5], 3))
    print("true weights, first five:  ", np.round(true_weights(args.features)[:5], 3))
    print("the gradient's adjoint, as overbar generated it for these shapes:\n")
    print(loss_and_gradient.source_for(w, X, y))


if __name__ == "__main__":
    main()
