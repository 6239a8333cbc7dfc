"""Hessian-vector products of the MLP loss and the RNN: overbar.hvp against hand-written ones
and the peers.

    OVERBAR_CACHE=0 python benchmarks/hvp.py           # every size of run.py's mlp and rnn
    OVERBAR_CACHE=0 python benchmarks/hvp.py --quick   # fewer rounds, no largest mlp size
    OVERBAR_CACHE=0 python benchmarks/hvp.py --workload rnn

The MLP of ``workloads.mlp`` (sigmoid written out, squared error), its Hessian with respect to
all four parameters times a random direction in each; the RNN of ``workloads.rnn`` (a loop over
time steps), with respect to W, U and h0. Contenders: the HVP written by hand in
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


def rnn_hvp_by_hand(W, U, h0, xs, VW, VU, v0):
    """H v for the RNN's loss Σ h_T², forward over reverse by hand: the forward loop carries
    each h's tangent along (VW, VU, v0), the backward loop the tangent of each adjoint."""
    hs, dots = [h0], [v0]
    for t in range(xs.shape[0]):
        h, h_dot = hs[-1], dots[-1]
        a_dot = VW @ h + W @ h_dot + VU @ xs[t]
        h_next = np.tanh(W @ h + U @ xs[t])
        hs.append(h_next)
        dots.append((1.0 - h_next**2) * a_dot)
    h_bar, h_bar_dot = 2.0 * hs[-1], 2.0 * dots[-1]
    W_bar_dot, U_bar_dot = np.zeros_like(W), np.zeros_like(U)
    for t in range(xs.shape[0] - 1, -1, -1):
        h_next, h_next_dot = hs[t + 1], dots[t + 1]
        slope = 1.0 - h_next**2
        a_bar = h_bar * slope
        a_bar_dot = h_bar_dot * slope - 2.0 * h_bar * h_next * h_next_dot
        W_bar_dot += np.outer(a_bar_dot, hs[t]) + np.outer(a_bar, dots[t])
        U_bar_dot += np.outer(a_bar_dot, xs[t])
        h_bar_dot = VW.T @ a_bar + W.T @ a_bar_dot
        h_bar = W.T @ a_bar
    return W_bar_dot, U_bar_dot, h_bar_dot


BY_HAND = {"mlp": mlp_hvp_by_hand, "rnn": rnn_hvp_by_hand}


def make_hvp(contender: str, workload, inputs, vectors):
    """A zero-argument callable computing H v as a tuple of arrays, one per parameter."""
    forward, wrt = workload.forward, workload.wrt
    if contender == "hand":
        return lambda: BY_HAND[workload.name](*inputs, *vectors)
    if contender == "overbar":
        return lambda: overbar.hvp(forward, inputs, vectors, wrt=wrt)
    if contender in ("jax", "jax.jit"):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        loss = with_numpy(forward, jnp)
        data = [jnp.asarray(a) for a in inputs[len(wrt) :]]
        params = tuple(jnp.asarray(a) for a in inputs[: len(wrt)])
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
        params = tuple(tensors[: len(wrt)])
        tangents = tuple(torch.tensor(v, dtype=torch.float64) for v in vectors)
        data = tensors[len(wrt) :]

        def loss(p):
            return workload.torch_forward(torch, *p, *data)

        return lambda: jvp(grad(loss), (params,), (tangents,))[1]
    raise ValueError(contender)


def as_numpy(values):
    return tuple(
        np.asarray(v.detach() if hasattr(v, "detach") else v, dtype=float) for v in values
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workload", choices=["mlp", "rnn", "both"], default="both")
    parser.add_argument(
        "--skip",
        default="",
        help="contenders left out, comma-separated (jax.jit unrolls the "
        "RNN's 200 steps, whose compilation takes more than a quarter of an hour)",
    )
    arguments = parser.parse_args(argv)
    chosen = ["mlp", "rnn"] if arguments.workload == "both" else [arguments.workload]
    missing = {c: available(c) for c in CONTENDERS if available(c)}
    missing.update({c: "left out (--skip)" for c in arguments.skip.split(",") if c})
    for contender, why in missing.items():
        print(f"{contender}: {why}, skipped")
    print("| size | hand-written HVP | " + " | ".join(CONTENDERS) + " |")
    print("|---|---|" + "---|" * len(CONTENDERS))
    for workload in (w for w in workloads.WORKLOADS if w.name in chosen):
        sizes = workload.sizes
        if arguments.quick and workload.name == "mlp":
            sizes = sizes[:-1]
        for size, make in sizes:
            rng = np.random.default_rng(0)
            inputs = make(rng)
            vectors = tuple(rng.normal(size=np.shape(inputs[k])) for k in workload.wrt)
            hand = make_hvp("hand", workload, inputs, vectors)
            expected = as_numpy(hand())
            cells, hand_time = [], None
            for contender in CONTENDERS:
                if contender in missing:
                    cells.append("—")
                    continue
                call = make_hvp(contender, workload, inputs, vectors)
                got = as_numpy(call())
                if not all(
                    np.allclose(g, e, rtol=1e-6, atol=1e-9)
                    for g, e in zip(got, expected, strict=True)
                ):
                    cells.append("wrong")
                    continue
                mine, theirs = paired_seconds(call, hand, arguments.quick)
                hand_time = theirs if hand_time is None else min(hand_time, theirs)
                cells.append(f"{mine / theirs:.2f}")
            shown = f"{hand_time * 1e3:.3f} ms" if hand_time is not None else "—"
            print(f"| {workload.name} {size} | {shown} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
