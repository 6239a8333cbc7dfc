"""A vjp's pullback over a loop: copying the stack before each call, against reading it by index.

A pullback called twice must find the stack as the forward sweep left it. overbar's pullback
pops a copy (``stack = stack.copy()`` as it starts); the alternative reads it by a falling
index (``top -= 1; h = stack[top]``) and leaves it whole. This script times, on the RNN of
``examples/rnn.py``, the pullback as generated, the same source rewritten to index the stack,
and the copy alone, and prints the ratios. CPU time, best of rounds.

Run:  OVERBAR_CACHE=0 python benchmarks/vjp_stack.py [T] [hidden]
"""

from __future__ import annotations

import re
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import rnn  # noqa: E402

import overbar  # noqa: E402
from overbar.pullbacks import vjp_stages  # noqa: E402
from overbar.runtime.shapes import argument_shape  # noqa: E402
from overbar.transpiler.optimisations import ALL  # noqa: E402


def indexed(source: str) -> str:
    """The pullback's source with the stack read by a falling index instead of popped."""
    source = source.replace("stack = stack.copy()", "top = len(stack)")
    return re.sub(
        r"^(\s*)(\w+) = stack\.pop\(\)$",
        lambda m: f"{m.group(1)}top -= 1\n{m.group(1)}{m.group(2)} = stack[top]",
        source,
        flags=re.MULTILINE,
    )


def best(function, *args, rounds: int = 7, number: int = 20, **kwargs) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(number):
            function(*args, **kwargs)
        times.append((time.process_time() - start) / number)
    return min(times)


def main(steps: int = 1000, hidden: int = 16) -> None:
    rng = np.random.default_rng(0)
    params = [
        rng.normal(scale=0.1, size=(hidden, hidden)),
        rng.normal(scale=0.1, size=(hidden, 1)),
        np.zeros(hidden),
        rng.normal(scale=0.1, size=(1, hidden)),
    ]
    xs, targets = rng.normal(size=(steps, 1)), rng.normal(size=(steps, 1))
    args = [*params, xs, targets]
    wrt = ("W", "U", "b", "V")
    names = ("W", "U", "b", "V", "xs", "targets")
    shapes = tuple((n, argument_shape(a)) for n, a in zip(names, args, strict=True))
    stages = vjp_stages(rnn.loss, wrt, shapes, ALL)
    _, residuals = stages.emitted.function(*args)
    reverse = stages.emitted.pullback
    halves = stages.split
    source = overbar.transpiler.emit.to_source(halves.reverse)
    namespace = dict(halves.bindings)
    namespace.update(rnn.__dict__)
    exec(compile(textwrap.dedent(indexed(source)), "<indexed>", "exec"), namespace)
    by_index = namespace[halves.reverse.name]
    stack = residuals[halves.residuals.index("stack")]
    copied = reverse(*residuals, result_bar=1.0)
    for one, other in zip(copied, by_index(*residuals, result_bar=1.0), strict=True):
        np.testing.assert_allclose(one, other, rtol=1e-12)
    popping = best(reverse, *residuals, result_bar=1.0)
    indexing = best(by_index, *residuals, result_bar=1.0)
    copy_alone = best(stack.copy, number=2000)
    print(f"RNN T={steps} hidden={hidden}: stack of {len(stack)} entries")
    print(f"  pullback, popping a copy of the stack: {popping * 1e3:8.3f} ms")
    print(f"  pullback, reading the stack by index:  {indexing * 1e3:8.3f} ms")
    print(f"  the copy alone:                         {copy_alone * 1e6:8.2f} us")
    print(f"  index / copy: {indexing / popping:.3f};  copy's share: {copy_alone / popping:.2%}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
