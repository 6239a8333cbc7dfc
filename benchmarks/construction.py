"""What `overbar.grad(loss)(params)` in a loop costs against a held gradient's call.

The idiom from autograd and JAX builds the gradient inside the training loop. overbar keeps the
gradient object of each function, `wrt` and options with the function, so building it again is
a lookup; this prints, for a small loss (where the call itself is short and any overhead shows),
the time per step of:

- a held gradient's call: `g = overbar.grad(loss, wrt=(0, 1))` once, then `g(w, x)`;
- inline: `overbar.grad(loss, wrt=(0, 1))(w, x)` every step;
- construction alone: `overbar.grad(loss, wrt=(0, 1))`;
- the first construction of a gradient for a new function (what a lookup saves).

Run:  python benchmarks/construction.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import timeit
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's overbar
os.environ.setdefault("OVERBAR_CACHE_DIR", tempfile.mkdtemp(prefix="overbar-construction-"))

import overbar  # noqa: E402

SOURCE = """
import numpy as np

def loss(w, x):
    return np.sum(np.tanh(w * x))
"""


def define_loss(counter: list[int]) -> types.FunctionType:
    """A fresh module-level ``loss`` whose source overbar can read (written to linecache)."""
    import linecache

    counter[0] += 1
    filename = f"<construction benchmark {counter[0]}>"
    source = textwrap.dedent(SOURCE)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"construction_{counter[0]}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["loss"]


def best(statement, number: int) -> float:
    """Best of five, in microseconds per run."""
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


def main() -> None:
    counter = [0]
    loss = define_loss(counter)
    w, x = np.linspace(-1.0, 1.0, 16), np.linspace(0.5, 1.5, 16)
    held = overbar.grad(loss, wrt=(0, 1))
    held(w, x)  # compiled
    held_call = best(lambda: held(w, x), 20000)
    inline = best(lambda: overbar.grad(loss, wrt=(0, 1))(w, x), 20000)
    construction = best(lambda: overbar.grad(loss, wrt=(0, 1)), 20000)
    first = best(lambda: overbar.grad(define_loss(counter), wrt=(0, 1)), 20)
    print("| step | µs |")
    print("|---|---:|")
    print(f"| held gradient's call `g(w, x)` | {held_call:.2f} |")
    print(f"| inline `overbar.grad(loss, wrt=(0, 1))(w, x)` | {inline:.2f} |")
    print(f"| inline minus held | {inline - held_call:.2f} |")
    print(f"| `overbar.grad(loss, wrt=(0, 1))` alone | {construction:.2f} |")
    print(f"| first construction for a new function | {first:.1f} |")


if __name__ == "__main__":
    main()
