"""Memory the RNN example's reverse sweep keeps, against keeping every intermediate value.

overbar saves only what its reverse sweep reads after an older value is restored: the hidden
state h, the input row (a view of xs, so no copy) and the output residual, plus the shapes of
values it needs only the shape of. A tape that keeps every intermediate of every step (what a
tracing AD tool records) holds each step's W@h, U@x, their sum, tanh's input and output, y, the
residual, its square, and the partial loss. Measured with tracemalloc on the gradient call.

Run:  python benchmarks/rnn_memory.py [T] [hidden]
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import rnn  # noqa: E402


def every_intermediate(W, U, b, V, xs, targets):
    """A forward pass that keeps each step's intermediates, as a tape would."""
    tape = []
    h = np.zeros(W.shape[0])
    total = 0.0
    for t in range(xs.shape[0]):
        wh, ux = W @ h, U @ xs[t]
        pre = wh + ux
        pre_b = pre + b
        h = np.tanh(pre_b)
        y = V @ h
        residual = y - targets[t]
        squared = residual**2
        partial = 0.5 * np.sum(squared)
        total = total + partial
        tape.append((wh, ux, pre, pre_b, h, y, residual, squared, partial, total))
    return total, tape


def peak_bytes(function, *args) -> int:
    tracemalloc.start()
    function(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(steps: int = 1000, hidden: int = 64) -> None:
    rng = np.random.default_rng(0)
    params = [
        rng.normal(scale=0.1, size=(hidden, hidden)),
        rng.normal(scale=0.1, size=(hidden, 1)),
        np.zeros(hidden),
        rng.normal(scale=0.1, size=(1, hidden)),
    ]
    xs, targets = rng.normal(size=(steps, 1)), rng.normal(size=(steps, 1))
    rnn.loss_grad(*params, xs, targets)  # transform and compile outside the measurement
    overbar_peak = peak_bytes(rnn.loss_grad, *params, xs, targets)
    tape_peak = peak_bytes(every_intermediate, *params, xs, targets)
    state = steps * hidden * 8
    print(f"RNN, T={steps}, hidden={hidden} (h is {hidden * 8} bytes per step)")
    print(f"  overbar gradient, peak:         {overbar_peak / 1e6:8.2f} MB")
    print(f"  every intermediate kept, peak:  {tape_peak / 1e6:8.2f} MB")
    print(f"  ratio:                          {tape_peak / overbar_peak:8.2f}x")
    print(f"  (the T hidden states alone:     {state / 1e6:8.2f} MB)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
