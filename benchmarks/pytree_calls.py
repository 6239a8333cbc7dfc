"""What a dict of parameters costs against separate arrays: the two-layer network's gradient.

``examples/mlp.py`` takes W1, b1, W2, b2 as four arrays; ``examples/mlp_dict.py`` takes them in
a dict. Both adjoints do the same arithmetic; the dict's call also computes its key (the dict's
structure and its arrays' shapes) and returns a dict. This prints, in one process, the time per
gradient call of each, and of the hand-written NumPy adjoint, at a small size (where any
overhead shows) and a larger one, as ratios to the hand-written adjoint.

Run:  python benchmarks/pytree_calls.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's overbar
sys.path.insert(0, str(ROOT / "examples"))
os.environ.setdefault("OVERBAR_CACHE_DIR", tempfile.mkdtemp(prefix="overbar-pytree-calls-"))

import mlp  # noqa: E402
import mlp_dict  # noqa: E402


def by_hand(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = 1 / (1 + np.exp(-z))
    y = W2 @ h + b2
    y_bar = y - t
    h_bar = W2.T @ y_bar
    z_bar = h_bar * h * (1 - h)
    return z_bar @ x.T, z_bar.sum(1, keepdims=True), y_bar @ h.T, y_bar.sum(1, keepdims=True)


def main() -> None:
    print("| hidden x batch | by hand (µs) | overbar, 4 arrays | overbar, a dict |")
    print("|---|---|---|---|")
    for hidden, batch in ((16, 64), (256, 1024)):
        x, t = mlp_dict.make_task(batch=batch)
        params = mlp_dict.init(n_hidden=hidden)
        arrays = list(params.values())
        flat = mlp.loss_grad
        tree = mlp_dict.loss_grad
        flat(*arrays, x, t), tree(params, x, t)  # compiled
        number = 2000 if hidden == 16 else 50
        times = {}
        for name, call in (
            ("hand", lambda: by_hand(*arrays, x, t)),
            ("flat", lambda: flat(*arrays, x, t)),
            ("tree", lambda: tree(params, x, t)),
        ):
            times[name] = min(timeit.repeat(call, number=number, repeat=5)) / number
        hand = times["hand"]
        print(
            f"| {hidden} x {batch} | {hand * 1e6:.1f} | {times['flat'] / hand:.2f} | "
            f"{times['tree'] / hand:.2f} |"
        )


if __name__ == "__main__":
    main()
