"""Faults: interrupted compilations, errors inside generated code, deep recursion, collection.

- A ``KeyboardInterrupt`` (or an exception) at any pass of a compilation, or while an entry is
  written to the disk cache, leaves no broken entry in memory or on disk: the next call compiles
  again and is right.
- An exception raised inside a generated adjoint carries a note naming the user's file and the
  line of the forward function it comes from.
- A recursive function goes at least as deep under ``grad`` as plain Python evaluates it.
- A function defined, differentiated and deleted is collected.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import overbar
from overbar import cache
from overbar.transpiler import pipeline
from overbar.transpiler.kept import cache_of
from tests.support import define

SOURCE = """
def double(v):
    return 2.0 * v

def loss(x, w):
    h = np.tanh(double(x) * w)
    return np.sum(h * h)
"""

PASSES = [
    "parse",
    "check_supported",
    "normalize",
    "analyze",
    "infer",
    "differentiate",
    "simplify",
    "peephole",
    "emit",
    "finish",
]


def expected(x, w):
    h = np.tanh(2.0 * x * w)
    return 2 * h * (1 - h * h) * 2.0 * w


def _interrupting(monkeypatch, module, name: str, at_call: int, exception: BaseException):
    """``module.name`` raising ``exception`` at its ``at_call``-th call."""
    real = getattr(module, name)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            raise exception
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted)
    return calls


def _intact(function) -> None:
    """Nothing half-made is kept: every kept pullback is compiled or not started."""
    for value in cache_of(function).values():
        if isinstance(value, pipeline.Pullback):
            assert not value._building
            assert value._compiled is None or callable(value._compiled)


def _disk_intact() -> None:
    folder = cache.directory()
    if not folder.exists():
        return
    for path in folder.iterdir():
        assert not path.name.startswith(".tmp-"), path
        key = path.name.removesuffix(cache.SUFFIX)
        assert cache._decode(key, path.read_bytes()) is not None, path


@pytest.mark.parametrize("at_call", [1, 2])  # the loss's own pass, or its helper's
@pytest.mark.parametrize("name", PASSES)
@pytest.mark.parametrize(
    "exception", [KeyboardInterrupt, RuntimeError], ids=["interrupt", "error"]
)
def test_an_interrupted_compilation_leaves_nothing_broken(monkeypatch, name, at_call, exception):
    loss = define(SOURCE, "loss")
    double = loss.__globals__["double"]
    x, w = np.linspace(-1, 1, 4), np.linspace(0.5, 1.5, 4)
    calls = _interrupting(monkeypatch, pipeline, name, at_call, exception("stop"))
    gradient = overbar.grad(loss)
    try:
        first = gradient(x, w)
    except exception:
        pass
    else:  # the pass ran fewer times than at_call: nothing was interrupted
        assert len(calls) < at_call
        np.testing.assert_allclose(first, expected(x, w), rtol=1e-12)
    monkeypatch.undo()
    _intact(loss)
    _intact(double)
    _disk_intact()
    np.testing.assert_allclose(gradient(x, w), expected(x, w), rtol=1e-12)
    np.testing.assert_allclose(overbar.grad(loss)(2 * x, w), expected(2 * x, w), rtol=1e-12)


@pytest.mark.parametrize("exception", [KeyboardInterrupt, OSError])
def test_an_interrupted_disk_write_leaves_no_entry_and_no_temporary_file(monkeypatch, exception):
    loss = define(SOURCE, "loss")
    x, w = np.ones(3), np.ones(3)
    _interrupting(monkeypatch, cache.os, "replace", 1, exception("stop"))
    with contextlib.suppress(exception):  # an interrupt goes through; an OSError is swallowed
        overbar.grad(loss)(x, w)
    monkeypatch.undo()
    _disk_intact()
    np.testing.assert_allclose(overbar.grad(loss)(x, w), expected(x, w), rtol=1e-12)


# -- errors inside generated code ---------------------------------------------------------------

SHAPES = """
def bad_shape(x, y):
    a = np.sin(x)
    b = a @ y
    return np.sum(b)

def inner(v, m):
    s = np.tanh(v)
    return np.sum(np.linalg.solve(m, s))

def outer(v, m):
    t = v * 2.0
    return inner(t, m) + np.sum(t)
"""


def _line_of(function, text: str) -> int:
    source = Path(function.__code__.co_filename).read_text().splitlines()
    return next(i for i, line in enumerate(source, 1) if line.strip() == text)


def test_an_error_in_the_forward_sweep_names_the_users_line():
    f = define(SHAPES, "bad_shape")
    gradient = overbar.grad(f)
    for _ in range(2):  # the first call (slow path) and a later one (the entry)
        with pytest.raises(ValueError) as caught:
            gradient(np.ones((2, 3)), np.ones(4))
        notes = getattr(caught.value, "__notes__", [])
        line = _line_of(f, "b = a @ y")
        assert any(f"{f.__code__.co_filename}, line {line}: b = a @ y" in n for n in notes), notes
        assert len(notes) == 1
        gradient(np.ones((2, 3)), np.ones((3, 5)))  # the key is now known: the entry path


@pytest.mark.parametrize(
    "inline, residuals",
    [(True, True), (False, True), (False, False)],
    ids=["inlined", "forward function", "pullback"],
)
def test_an_error_in_a_helper_called_from_the_adjoint_names_the_calling_line(inline, residuals):
    f = define(SHAPES, "outer")
    options = overbar.Optimisations(inline=inline, residuals=residuals)
    gradient = overbar.grad(f, optimise=options)
    gradient(np.ones(3), np.eye(3))
    with pytest.raises(np.linalg.LinAlgError) as caught:
        gradient(np.ones(3), np.zeros((3, 3)))
    notes = getattr(caught.value, "__notes__", [])
    assert "outer_grad" in notes[0]
    assert f"line {_line_of(f, 'return inner(t, m) + np.sum(t)')}: " in notes[0]
    if inline:
        assert len(notes) == 1
        return  # the helper's lines are the caller's: no frame of its own
    if residuals:  # the helper's generated forward function: a note names its line
        assert len(notes) == 2 and "inner_forward" in notes[1], notes
        line = _line_of(f, "return np.sum(np.linalg.solve(m, s))")
        assert f"line {line}: return np.sum(np.linalg.solve(m, s))" in notes[1]
        return
    assert len(notes) == 1
    # The helper's own line is a frame of the user's file in the traceback.
    frames = []
    traceback = caught.value.__traceback__
    while traceback is not None:
        frames.append((traceback.tb_frame.f_code.co_name, traceback.tb_lineno))
        traceback = traceback.tb_next
    assert ("inner", _line_of(f, "return np.sum(np.linalg.solve(m, s))")) in frames


def test_a_reverse_sweep_line_is_named_by_the_forward_line_it_undoes():
    f = define(
        """
def f(x, m):
    y = np.tanh(x)
    z = m @ y
    return np.sum(z)
""",
        "f",
    )
    stages = overbar.grad(f).stages
    from overbar import origins

    lines = dict(
        origins.line_origins(
            stages.simplified.tree,
            stages.emitted.source,
            stages.parsed.filename,
            stages.parsed.tree.lineno,
            stages.parsed.tree.end_lineno,
        )
    )
    source = stages.emitted.source.splitlines()
    forward = _line_of(f, "z = m @ y")
    # The reverse line computing y's adjoint from z's undoes z = m @ y.
    reverse = [i for i, text in enumerate(source, 1) if text.strip().startswith("y_bar")]
    assert reverse and all(lines[i] == forward for i in reverse)


# -- recursion ----------------------------------------------------------------------------------

RECURSIVE = """
def nested(x, n):
    if n == 0:
        return np.sum(x * x)
    return nested(x * 1.0, n - 1)
"""


def _deepest(function, x, ceiling: int) -> int:
    """The largest depth ``function(x, depth)`` reaches from this frame (binary search)."""
    low, high = 1, ceiling
    while low < high:
        middle = (low + high + 1) // 2
        try:
            function(x, middle)
            low = middle
        except RecursionError:
            high = middle - 1
    return low


def test_a_recursive_function_goes_as_deep_under_grad_as_plain_python():
    f = define(RECURSIVE, "nested")
    x = np.array([0.5, -1.0])
    limit = sys.getrecursionlimit()
    plain = _deepest(f, x, 2 * limit)
    assert plain < limit  # the search found the interpreter's limit
    gradient = overbar.grad(f, check=False)
    np.testing.assert_allclose(gradient(x, plain), 2 * x)
    np.testing.assert_allclose(gradient(x, plain), 2 * x)  # through the entry, too
    assert _deepest(gradient, x, 2 * limit) >= plain
    assert sys.getrecursionlimit() == limit  # the margin was given back


TREE_RECURSIVE = """
def nested(x, n):
    if n == 0:
        return np.sum(x * x)
    return nested(x * 1.0, n - 1) * 0.5 + nested(x * 2.0, n - 1) * 0.5
"""


def test_a_recursive_helper_is_linked_to_its_compiled_pullback():
    # two calls of itself: a recursion that calls itself once is differentiated as loops
    # (tail_calls.py, linear_recursion.py)
    f = define(TREE_RECURSIVE, "nested")
    gradient = overbar.grad(f, check=False)
    gradient(np.ones(2), 3)
    compiled = gradient._specialised[next(iter(gradient._specialised))]
    pending, seen = [compiled], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for cell in current.__closure__ or ():
            assert not isinstance(cell.cell_contents, pipeline.Pullback)
            if pipeline.is_generated(
                getattr(cell.cell_contents, "__code__", compile("", "", "exec"))
            ):
                pending.append(cell.cell_contents)
    assert len(seen) >= 2


def test_unbounded_recursion_still_raises_recursion_error():
    f = define("def f(x):\n    return f(x * 1.0)\n", "f")
    with pytest.raises(RecursionError):
        overbar.grad(f, check=False)(np.ones(2))


# -- collection ---------------------------------------------------------------------------------


def test_a_function_defined_differentiated_and_deleted_is_collected():
    loss = define(SOURCE, "loss")
    module_globals = loss.__globals__
    double = module_globals["double"]
    x, w = np.ones(3), np.ones(3)
    overbar.grad(loss)(x, w)
    overbar.value_and_grad(loss, wrt=(0, 1))(x, w)
    overbar.grad(loss).source  # noqa: B018 (every stage made and kept)
    references = [weakref.ref(loss), weakref.ref(double)]
    del loss, double
    module_globals.clear()
    gc.collect()
    assert [reference() for reference in references] == [None, None]
