"""Forward mode: overbar.jvp of the MLP and of the RNN against a hand-written tangent in NumPy.

The hand-written tangents are what a person derives line by line (ż = Ẇ1 x + ḃ1, ḣ = ż h (1 − h),
...), written once here. Each is timed with ``overbar.jvp`` (the public call: argument checks,
the lookup of the jvp compiled for these shapes, then the generated code) and with the generated
function called directly; ratios are against the hand-written tangent, from one process run,
measured in alternation, each the fastest of its repeats (on a shared machine the least noisy
estimate of what the code costs). BLAS runs on one thread, for every contender alike. Where JAX
is installed, ``jax.jvp`` under ``jax.jit`` is shown too, for reference (XLA fuses the loop and
the elementwise work, which no NumPy code does). Set OVERBAR_CACHE=0 so nothing comes from disk.

Run:  OVERBAR_CACHE=0 python benchmarks/jvp.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before NumPy loads its BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import mlp  # noqa: E402
import rnn  # noqa: E402

import overbar  # noqa: E402
from overbar.forward_api import jvp_stages  # noqa: E402


def mlp_tangent_by_hand(W1, b1, W2, b2, x, t, W1_dot, b1_dot, W2_dot, b2_dot):
    z = W1 @ x + b1
    z_dot = W1_dot @ x + b1_dot
    h = 1.0 / (1.0 + np.exp(-z))
    h_dot = z_dot * h * (1 - h)
    y = W2 @ h + b2
    y_dot = W2_dot @ h + W2 @ h_dot + b2_dot
    r = y - t
    return 0.5 * np.sum(r * r), np.sum(r * y_dot)


def rnn_tangent_by_hand(W, U, b, V, xs, targets, W_dot, U_dot, b_dot, V_dot):
    h = np.zeros(W.shape[0])
    h_dot = np.zeros(W.shape[0])
    total = total_dot = 0.0
    for t in range(xs.shape[0]):
        h_dot_in = W_dot @ h + W @ h_dot + U_dot @ xs[t] + b_dot
        h = np.tanh(W @ h + U @ xs[t] + b)
        h_dot = h_dot_in * (1 - h * h)
        y = V @ h
        y_dot = V_dot @ h + V @ h_dot
        r = y - targets[t]
        total = total + 0.5 * np.sum(r * r)
        total_dot = total_dot + np.sum(r * y_dot)
    return total / xs.shape[0], total_dot / xs.shape[0]


def mlp_case(n_in, hidden, n_out, batch):
    rng = np.random.default_rng(0)
    args = [
        rng.normal(size=(hidden, n_in)) / np.sqrt(n_in),
        rng.normal(size=(hidden, 1)),
        rng.normal(size=(n_out, hidden)) / np.sqrt(hidden),
        rng.normal(size=(n_out, 1)),
        rng.uniform(-1, 1, size=(n_in, batch)),
        rng.normal(size=(n_out, batch)),
    ]
    tangents = [rng.normal(size=a.shape) for a in args[:4]]
    return (
        f"MLP {n_in}-{hidden}-{n_out}, batch {batch}",
        mlp.loss,
        mlp_tangent_by_hand,
        args,
        tangents,
    )


def rnn_case(hidden, steps):
    rng = np.random.default_rng(0)
    args = [
        rng.normal(scale=0.3, size=(hidden, hidden)),
        rng.normal(scale=0.5, size=(hidden, 1)),
        rng.normal(scale=0.1, size=hidden),
        rng.normal(scale=0.3, size=(1, hidden)),
        rng.normal(size=(steps, 1)),
        rng.normal(size=(steps, 1)),
    ]
    tangents = [rng.normal(size=a.shape) for a in args[:4]]
    return f"RNN hidden {hidden}, T={steps}", rnn.loss, rnn_tangent_by_hand, args, tangents


def timed(call, number):
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


def jax_jvp(function_by_hand, args, tangents):
    """jax.jit of jax.jvp of the same function written for jax.numpy, or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    if function_by_hand is mlp_tangent_by_hand:

        def f(W1, b1, W2, b2, x, t):
            h = 1.0 / (1.0 + jnp.exp(-(W1 @ x + b1)))
            return 0.5 * jnp.sum((W2 @ h + b2 - t) ** 2)

    else:

        def f(W, U, b, V, xs, targets):
            def step(h, row):
                x, target = row
                h = jnp.tanh(W @ h + U @ x + b)
                return h, 0.5 * jnp.sum((V @ h - target) ** 2)

            _, losses = jax.lax.scan(step, jnp.zeros(W.shape[0]), (xs, targets))
            return jnp.sum(losses) / xs.shape[0]

    fixed = args[4:]
    compiled = jax.jit(lambda p, v: jax.jvp(lambda *q: f(*q, *fixed), p, v))
    primals, directions = tuple(map(jnp.asarray, args[:4])), tuple(map(jnp.asarray, tangents))
    compiled(primals, directions)[1].block_until_ready()
    return lambda: compiled(primals, directions)[1].block_until_ready()


def measure(case, repeats=25):
    name, loss, by_hand, args, tangents = case
    wrt = (0, 1, 2, 3)
    value, derivative = overbar.jvp(loss, args, tangents, wrt=wrt)
    expected = by_hand(*args, *tangents)
    assert np.allclose(value, expected[0]) and np.allclose(derivative, expected[1])
    generated = jvp_stages(loss, args, wrt).emitted.function
    calls = {
        "hand-written": lambda: by_hand(*args, *tangents),
        "overbar.jvp": lambda: overbar.jvp(loss, args, tangents, wrt=wrt),
        "generated jvp": lambda: generated(*args, *tangents),
    }
    reference = jax_jvp(by_hand, args, tangents)
    if reference is not None:
        calls["jax.jit(jax.jvp)"] = reference
    single = timed(calls["hand-written"], 3)
    number = max(1, int(0.02 / max(single, 1e-7)))
    samples = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            samples[label].append(timed(call, number))
    return name, {label: min(times) for label, times in samples.items()}


def main():
    cases = [
        mlp_case(3, 16, 2, 64),
        mlp_case(64, 256, 10, 256),
        rnn_case(8, 40),
        rnn_case(64, 200),
    ]
    print("| case | hand-written (µs) | overbar.jvp | generated jvp | jax.jit(jax.jvp) |")
    print("|---|---|---|---|---|")
    for case in cases:
        name, best = measure(case)
        base = best["hand-written"]
        cells = [f"{base * 1e6:.1f}"]
        for label in ("overbar.jvp", "generated jvp", "jax.jit(jax.jvp)"):
            if label in best:
                cells.append(f"{best[label] / base:.2f}x ({best[label] * 1e6:.1f})")
            else:
                cells.append("n/a")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
