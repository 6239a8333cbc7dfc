"""Hessian-vector products of the MLP loss: overbar.hvp against a hand-written one and the peers.

    OVERBAR_CACHE=0 python benchmarks/hvp.py           # every size of benchmarks/run.py's mlp
    OVERBAR_CACHE=0 python benchmarks/hvp.py --quick   # fewer rounds, no largest size

The MLP of ``workloads.mlp`` (sigmoid written out, squared error), its Hessian with respect to
all four parameters times a random direction in each. Contenders: the HVP written by hand in
NumPy (forward over reverse, derived line by line: the limit), ``overbar.hvp``, JAX eager and
``jax.jit`` of ``jax.jvp`` of ``jax.grad``, and PyTorch's ``torch.func.jvp`` of
``torch.func.grad`` (threads matched to NumPy's). Each contender's result is checked against the
hand-written one before it is timed; each is timed in rounds alternating with the hand-written
HVP, and its ratio is the median of those rounds' (as in ``run.py``). A missing peer is
reported and skipped. Prints a Markdown table of ratios to the hand-written HVP.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from run import available, numpy_threads, paired_seconds, with_numpy  # noqa: E402

import overbar  # noqa: E402

CONTENDERS = ["overbar", "jax", "jax.jit", "torch"]


def mlp_hvp_by_hand(W1, b1, W2, b2, x, t, V1, c1, V2, c2):
    """H v for the MLP loss, each line of the gradient followed by its directional derivative
    along (V1, c1, V2, c2) (a dot is d/dε at W + ε V)."""
    z = W1 @ x + b1
    z_dot = V1 @ x + c1
    h = 1.0 / (1.0 + np.exp(-z))
    h_dot = h * (1.0 - h) * z_dot
    y = W2 @ h + b2
    y_dot = V2 @ h + W2 @ h_dot + c2
    y_bar = y - t
    h_bar = W2.T @ y_bar
    h_bar_dot = V2.T @ y_bar + W2.T @ y_dot
    z_bar_dot = h_bar_dot * h * (1.0 - h) + h_bar * h_dot * (1.0 - 2.0 * h)
    W2_bar_dot = y_dot @ h.T + y_bar @ h_dot.T
    b2_bar_dot = y_dot.sum(axis=1, keepdims=True)
    return (z_bar_dot @ x.T, z_bar_dot.sum(axis=1, keepdims=True), W2_bar_dot, b2_bar_dot)


def make_hvp(contender: str, inputs, vectors):
    """A zero-argument callable computing H v as a tuple of four arrays."""
    forward = workloads.mlp
    if contender == "hand":
        return lambda: mlp_hvp_by_hand(*inputs, *vectors)
    if contender == "overbar":
        return lambda: overbar.hvp(forward, inputs, vectors, wrt=(0, 1, 2, 3))
    if contender in ("jax", "jax.jit"):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        loss = with_numpy(forward, jnp)
        data = [jnp.asarray(a) for a in inputs[4:]]
        params = tuple(jnp.asarray(a) for a in inputs[:4])
        tangents = tuple(jnp.asarray(v) for v in vectors)

        def product(params, tangents):
            gradient = jax.grad(lambda p: loss(*p, *data))
            return jax.jvp(gradient, (params,), (tangents,))[1]

        if contender == "jax.jit":
            product = jax.jit(product)

        def run():
            return jax.block_until_ready(product(params, tangents))

        return run
    if contender == "torch":
        import torch
        from torch.func import grad, jvp

        torch.set_num_threads(numpy_threads())
        tensors = [torch.tensor(a, dtype=torch.float64) for a in inputs]
        params = tuple(tensors[:4])
        tangents = tuple(torch.tensor(v, dtype=torch.float64) for v in vectors)
        data = tensors[4:]

        def loss(p):
            return workloads.mlp_torch(torch, *p, *data)

        return lambda: jvp(grad(loss), (params,), (tangents,))[1]
    raise ValueError(contender)


def as_numpy(values):
    return tuple(
        np.asarray(v.detach() if hasattr(v, "detach") else v, dtype=float) for v in values
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args(argv)
    mlp = next(w for w in workloads.WORKLOADS if w.name == "mlp")
    sizes = mlp.sizes[:-1] if arguments.quick else mlp.sizes
    missing = {c: available(c) for c in CONTENDERS if available(c)}
    for contender, why in missing.items():
        print(f"{contender}: {why}, skipped")
    print("| size | hand-written HVP | " + " | ".join(CONTENDERS) + " |")
    print("|---|---|" + "---|" * len(CONTENDERS))
    for size, make in sizes:
        rng = np.random.default_rng(0)
        inputs = make(rng)
        vectors = tuple(rng.normal(size=np.shape(a)) for a in inputs[:4])
        hand = make_hvp("hand", inputs, vectors)
        expected = as_numpy(hand())
        cells, hand_time = [], None
        for contender in CONTENDERS:
            if contender in missing:
                cells.append("—")
                continue
            call = make_hvp(contender, inputs, vectors)
            got = as_numpy(call())
            if not all(
                np.allclose(g, e, rtol=1e-6, atol=1e-9) for g, e in zip(got, expected, strict=True)
            ):
                cells.append("wrong")
                continue
            mine, theirs = paired_seconds(call, hand, arguments.quick)
            hand_time = theirs if hand_time is None else min(hand_time, theirs)
            cells.append(f"{mine / theirs:.2f}")
        shown = f"{hand_time * 1e3:.3f} ms" if hand_time is not None else "—"
        print(f"| mlp {size} | {shown} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
