"""Gradients under threads: first calls at once, one compilation per key, every gradient right.

Thirty-two threads wait at a barrier, then each makes its first call of one of several gradients
at one of several shapes. Every result is compared with the hand-written gradient, and the
transformations are counted: one per (function, shapes), however many threads asked at once.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

import overbar
from overbar.transpiler import pipeline
from tests.support import define

SOURCE = """
def scale(v, s):
    return v * s

def tanh_loss(x, w):
    return np.sum(np.tanh(x * w))

def quadratic(x, w):
    return np.sum(scale(x, 2.0) * x) + np.sum(w * x)

def softplus(x, w):
    return np.sum(np.log(1.0 + np.exp(x)) * w)
"""

EXPECTED = {
    "tanh_loss": lambda x, w: (1 - np.tanh(x * w) ** 2) * w,
    "quadratic": lambda x, w: 4.0 * x + w,
    "softplus": lambda x, w: w / (1.0 + np.exp(-x)),
}
SHAPES = [(5,), (3, 4), (1, 6)]


def _counting(monkeypatch, module, name: str) -> collections.Counter:
    """Count calls of ``module.name`` (a transformation) by function, wrt, shapes, options."""
    calls: collections.Counter = collections.Counter()
    real = getattr(module, name)
    lock = threading.Lock()

    def counted(function, wrt, *args, **kwargs):
        with lock:
            calls[(function.__name__, wrt, repr(args), repr(sorted(kwargs.items())))] += 1
        return real(function, wrt, *args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_32_threads_first_calls_at_once_compile_each_key_once(monkeypatch):
    functions = {name: define(SOURCE, name) for name in EXPECTED}
    calls = _counting(monkeypatch, pipeline, "transform")  # adjoints and pullbacks alike
    rng = np.random.default_rng(13)
    jobs = []
    for index in range(32):
        name = list(EXPECTED)[index % len(EXPECTED)]
        shape = SHAPES[(index // len(EXPECTED)) % len(SHAPES)]
        jobs.append((name, rng.normal(size=shape), rng.normal(size=shape)))
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def work(index: int) -> None:
        name, x, w = jobs[index]
        barrier.wait()
        try:
            results[index] = overbar.grad(functions[name])(x, w)
        except BaseException as error:  # reported below, with the job
            results[index] = error

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (name, x, w), result in zip(jobs, results, strict=True):
        assert not isinstance(result, BaseException), (name, x.shape, result)
        np.testing.assert_allclose(result, EXPECTED[name](x, w), rtol=1e-10, atol=1e-12)
    assert calls and all(count == 1 for count in calls.values()), calls
    # The helper's pullback was made (once) for the quadratic loss.
    assert any(key[0] == "scale" for key in calls)


def test_one_gradient_object_per_function_and_options_under_threads():
    f = define(SOURCE, "tanh_loss")
    barrier = threading.Barrier(16)
    made: list = []

    def work() -> None:
        barrier.wait()
        made.append(overbar.grad(f, wrt=(0, 1)))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(gradient) for gradient in made}) == 1


def test_compiled_gradients_called_from_8_threads_2000_times_each():
    f = define(SOURCE, "softplus")
    gradient = overbar.grad(f)
    rng = np.random.default_rng(5)
    inputs = [(rng.normal(size=(3,)), rng.normal(size=(3,))) for _ in range(8)]
    for x, w in inputs:
        gradient(x, w)  # compiled and checked once
    failures: list = []

    def work(x, w) -> None:
        expected = EXPECTED["softplus"](x, w)
        for _ in range(2000):
            if not np.allclose(gradient(x, w), expected, rtol=1e-12, atol=0):
                failures.append((x, w))
                return

    threads = [threading.Thread(target=work, args=pair) for pair in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_first_calls_in_a_fresh_interpreter_do_not_race_on_lazy_imports(tmp_path):
    """In a new process nothing is imported yet (black is imported on the first
    transformation): sixteen threads make their first calls at once."""
    module = tmp_path / "fresh_threads.py"
    module.write_text(textwrap.dedent("""
            import threading
            import numpy as np
            import overbar

            def f(x):
                return np.sum(np.sin(x) * x)

            barrier = threading.Barrier(16)
            errors = []

            def work(k):
                barrier.wait()
                try:
                    g = overbar.grad(f)(np.full(k + 1, 0.5))
                    assert np.allclose(g, np.cos(0.5) * 0.5 + np.sin(0.5))
                except BaseException as error:
                    errors.append(repr(error))

            threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(len(errors), errors[:2])
            """))
    root = str(Path(__file__).resolve().parent.parent)
    completed = subprocess.run(
        [sys.executable, str(module)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root, "OVERBAR_CACHE": "0"},
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("0 []"), completed.stdout
