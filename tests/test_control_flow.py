"""Branches and loops, alone and combined, against finite differences; and what gets saved."""

from __future__ import annotations

import re

import numpy as np
import pytest

import overbar
from tests.support import define

rng = np.random.default_rng(3)
VECTOR = rng.normal(size=4)
MATRIX = rng.normal(size=(4, 4)) * 0.4

PROGRAMS = {
    "if/else on an array value": (
        """
        def f(x):
            if np.sum(x) > 0:
                y = np.sin(x) * 2
            else:
                y = np.cos(x)
            return np.sum(y * x)
        """,
        [[VECTOR], [-np.abs(VECTOR)]],
    ),
    "elif chain and nesting": (
        """
        def f(x, k):
            if k == 0:
                y = x * 2
            elif k == 1:
                if np.max(x) > 0.5:
                    y = x ** 3
                else:
                    y = np.exp(x)
            else:
                y = -x
            return np.sum(y)
        """,
        [[VECTOR, 0], [VECTOR, 1], [VECTOR * 0.1, 1], [VECTOR, 2]],
    ),
    "branch assigns in one path only": (
        """
        def f(x, y):
            z = x * y
            if np.sum(x) > 0:
                z = z + np.tanh(y)
            return np.sum(z ** 2)
        """,
        [[VECTOR, VECTOR * 2], [-np.abs(VECTOR), VECTOR]],
    ),
    "conditional expression": (
        """
        def f(x):
            s = np.sum(x)
            scale = s * 2 if s > 0 else s ** 2
            return scale * np.sum(x ** 2)
        """,
        [[VECTOR], [-np.abs(VECTOR)]],
    ),
    "early return": (
        """
        def f(x):
            norm = np.sqrt(np.sum(x ** 2))
            if norm > 10:
                return norm
            y = x / norm
            if y[0] > 0:
                return np.sum(y * x)
            return np.sum(np.sin(y))
        """,
        [[VECTOR * 10], [np.abs(VECTOR)], [-np.abs(VECTOR)]],
    ),
    "rnn over range": (
        """
        def f(h0, W, U, xs):
            h = h0
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + U @ xs[t])
            return np.sum(h ** 2)
        """,
        [[VECTOR, MATRIX, MATRIX * 0.5, rng.normal(size=(5, 4))]],
    ),
    "loop runs zero times": (
        """
        def f(x, n):
            y = x * 2
            for i in range(n):
                y = y * x
            return np.sum(y)
        """,
        [[VECTOR, 0], [VECTOR, 1], [VECTOR, 3]],
    ),
    "loop over rows, enumerate, zip and reversed": (
        """
        def f(x, w):
            total = 0.0
            for row in x:
                total = total + np.sum(row * w)
            for i, row in enumerate(x):
                total = total + i * np.sum(row ** 2)
            for row, weight in zip(x, w):
                total = total + np.sum(row) * weight
            for row in reversed(x):
                total = total * 0.5 + np.sum(np.sin(row))
            return total
        """,
        [[rng.normal(size=(4, 4)), VECTOR]],
    ),
    "enumerate of a zip, and zip's tuples unpacked or kept": (
        """
        def f(x, w):
            total = 0.0
            for i, (row, weight) in enumerate(zip(x, w)):
                total = total + (i + 1) * np.sum(row ** 2) * weight
            for (row,) in zip(x):
                total = total + np.sum(np.sin(row))
            for pair in zip(w, w[::-1]):
                total = total + pair[0] * pair[1]
            return total
        """,
        [[rng.normal(size=(4, 4)), VECTOR], [rng.normal(size=(3, 4)), VECTOR]],
    ),
    "reversed, walked by enumerate and zip": (
        """
        def f(c, x):
            total = np.zeros_like(x)
            for k, a in enumerate(reversed(c)):
                total = total + a * x ** k
            s = 0.0
            for a, b in zip(reversed(c), x):
                s = s + a * np.sin(b)
            for i, (a, b) in enumerate(zip(c, reversed(x))):
                s = s + a * b * i
            return np.sum(total) + s
        """,
        [[VECTOR, rng.normal(size=4)], [VECTOR[:3], rng.normal(size=5)]],
    ),
    # the tuple is built before the loop and unpacked in it: its adjoint is added to on every
    # reversed trip and reaches W and v after the loop (it was dropped: a zero gradient)
    "a tuple of weights unpacked inside a loop": (
        """
        def f(W, v, h):
            params = (W, v)
            for _ in range(3):
                A, b = params
                h = np.tanh(h @ A) * b
            k = 0
            while k < 2:
                A, b = params
                h = np.sin(h @ A + b)
                k = k + 1
            for i in range(2):
                for j in range(2):
                    A, _unused = params
                    h = h @ A
            return np.sum(h)
        """,
        [[MATRIX, VECTOR, rng.normal(size=(2, 4))]],
    ),
    "a tuple of weights passed to a helper in a loop": (
        """
        def step(h, params):
            A, b = params
            return np.tanh(h @ A + b)

        def f(W, v, h):
            params = (W, v)
            for _ in range(3):
                h = step(h, params)
            return np.sum(h ** 2)
        """,
        [[MATRIX, VECTOR, rng.normal(size=(2, 4))]],
    ),
    "while on a value": (
        """
        def f(x):
            y = x * 1.0
            while np.sum(y ** 2) > 1.0:
                y = y * 0.5
            return np.sum(np.sin(y))
        """,
        [[VECTOR * 3], [VECTOR * 0.1]],
    ),
    "nested loops": (
        """
        def f(A, v):
            for i in range(3):
                for j in range(2):
                    v = np.tanh(A @ v) + v * 0.1
            return np.sum(v)
        """,
        [[MATRIX, VECTOR]],
    ),
    "loop inside branch and branch inside loop": (
        """
        def f(x, n):
            y = x * 1.0
            if n > 0:
                for i in range(n):
                    if i % 2 == 0:
                        y = y * x
                    else:
                        y = y + np.sin(x)
            else:
                y = -y
            return np.sum(y)
        """,
        [[VECTOR, 3], [VECTOR, 0]],
    ),
    "horner polynomial on a python float": (
        """
        def f(x, coefficients):
            result = 0.0
            for c in coefficients:
                result = result * x + c
            return result
        """,
        [[0.7, np.array([1.0, -2.0, 0.5, 3.0])]],
    ),
    "euler integrator with several state variables": (
        """
        def f(k, damping, x0, v0):
            x = x0
            v = v0
            dt = 0.05
            for step in range(40):
                a = -k * x - damping * v
                x = x + dt * v
                v = v + dt * a
            return x ** 2 + 0.1 * v
        """,
        [[2.0, 0.3, 1.0, 0.0]],
    ),
    "augmented assignment in a loop": (
        """
        def f(x):
            total = 0.0
            for i in range(x.shape[0]):
                total += x[i] ** 2
                total *= 1.1
            return total
        """,
        [[VECTOR]],
    ),
    "parameter reassigned in a loop": (
        """
        def f(x, y):
            for i in range(3):
                x = x * y + 1.0
            return np.sum(x)
        """,
        [[VECTOR, VECTOR * 0.5]],
    ),
    "name first bound inside a loop": (
        """
        def f(x):
            for i in range(2):
                last = np.exp(x * i)
            return np.sum(last * x)
        """,
        [[VECTOR]],
    ),
    "lists built by append and stacked": (
        """
        def f(W, h0, xs):
            h = h0
            states = []
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + xs[t])
                states.append(h)
            outs = []
            for s in states:
                outs.append(s * 2.0)
            hs = np.stack(states)
            return np.sum(hs ** 2) + np.sum(sum(outs)) + np.sum(states[0] * outs[-1])
        """,
        [[MATRIX, VECTOR, rng.normal(size=(3, 4))]],
    ),
    "list appended in a branch and concatenated": (
        """
        def f(x, n):
            pieces = [x * 0.5]
            for i in range(n):
                if i % 2 == 0:
                    pieces.append(np.sin(x) * i)
                else:
                    pieces.append(x ** 2)
            return np.sum(np.concatenate(pieces) ** 2) + len(pieces)
        """,
        [[VECTOR, 3], [VECTOR, 0]],
    ),
    "a partial write keeps the rest of the array (Tangent's first bug)": (
        """
        def f(x, w):
            y = x * 1.0
            y[0] = 3.0
            return np.sum(y * w)
        """,
        [[VECTOR, VECTOR * 2]],
    ),
    "y[i] += e in a loop (Tangent's second bug)": (
        """
        def f(x, e):
            y = x * 2.0
            for i in range(3):
                y[i] += e * x[i]
            return np.sum(y ** 2)
        """,
        [[VECTOR, 0.7]],
    ),
    "array filled in a loop": (
        """
        def f(x, w):
            out = np.zeros(x.shape[0])
            for i in range(x.shape[0]):
                out[i] = np.sin(x[i]) * w
            return np.sum(out ** 2)
        """,
        [[VECTOR, 1.3]],
    ),
    "recurrence written into an array": (
        """
        def f(x, a):
            y = np.zeros(x.shape[0])
            y[0] = x[0]
            for i in range(1, x.shape[0]):
                y[i] = y[i - 1] * a + x[i]
            return np.sum(y * y)
        """,
        [[VECTOR, 0.8]],
    ),
    "columns of a matrix, masks and index arrays": (
        """
        def f(A, v):
            out = np.zeros((4, 4))
            for j in range(4):
                out[:, j] = A[:, j] * v[j] + np.tanh(out[:, j - 1] * 1.0)
            z = np.copy(v)
            z[v > 0] = v[v > 0] ** 2
            z[np.array([0, 2])] = np.sin(v[1]) * np.array([1.0, 2.0])
            return np.sum(out ** 2) + np.sum(out @ z)
        """,
        [[MATRIX, VECTOR]],
    ),
    "break and continue": (
        """
        def f(x, a):
            y = x * 1.0
            for i in range(10):
                if np.sum(y ** 2) > 4.0:
                    break
                if i % 3 == 1:
                    continue
                y = y * a + 0.1
            z = x * 1.0
            k = 0
            while True:
                k = k + 1
                if k > 5:
                    break
                if k == 2:
                    continue
                z = np.sin(z) * a
            return np.sum(y) + np.sum(z)
        """,
        [[VECTOR * 0.3, 1.3], [VECTOR * 0.3, 0.9]],
    ),
    "newton iteration stopped by a tolerance": (
        """
        def f(c):
            x = c * 0.5 + 1.0
            for i in range(50):
                step = (x * x - c) / (2.0 * x)
                x = x - step
                if np.abs(step) < 1e-12:
                    break
            return x
        """,
        [[2.0], [9.0]],
    ),
    "writes between reads of the same array": (
        """
        def f(x):
            y = np.zeros(4)
            y[0] = x[0]
            z = y * 2
            y[1] = x[1] * 3
            w = np.sum(y * y)
            y[0] = np.sin(x[2])
            return np.sum(z) + w + np.sum(y * x)
        """,
        [[VECTOR]],
    ),
    "rows of a matrix written in a loop, views read after": (
        """
        def f(W, x):
            H = np.zeros((4, 4))
            h = x * 1.0
            for t in range(4):
                h = np.tanh(W @ h)
                H[t] = h
            return np.sum(H ** 2) + np.sum(H[1:] * H[:-1])
        """,
        [[MATRIX, VECTOR]],
    ),
    "array rebound and written in a loop": (
        """
        def f(x):
            y = x * 1.0
            total = 0.0
            for k in range(3):
                y = y * 0.5 + 1.0
                y[k] = y[k] * x[k]
                total = total + np.sum(y ** 2)
            return total
        """,
        [[VECTOR]],
    ),
    "list stacked while it grows": (
        """
        def f(x):
            items = [x * 1.0]
            total = 0.0
            for i in range(3):
                items.append(np.tanh(items[-1] * 1.0) + x)
                total = total + np.sum(np.stack(items) ** 2)
            return total
        """,
        [[VECTOR]],
    ),
    "counter loop and an array made by zeros_like": (
        """
        def f(x):
            total = 0
            i = 0
            while i < 3:
                total = total + x[i] ** 2
                i += 1
            y = np.zeros_like(x)
            for j in range(len(x)):
                y[j] = x[j] ** 2 if x[j] > 0 else -x[j]
            return total + np.sum(y)
        """,
        [[VECTOR]],
    ),
    "list comprehensions and generator expressions": (
        """
        def f(x, A):
            v = 10.0
            rows = [np.tanh(A[i] * x[i]) for i in range(x.shape[0])]
            pairs = np.array([v * w for v in x for w in x if w > -1.0])
            positive = sum(u ** 2 for u in x if u > 0)
            tails = np.concatenate([x[i:] * x[i] for i in range(len(x))])
            return np.sum(np.stack(rows) ** 2) + np.sum(pairs) + positive + np.sum(tails) + v
        """,
        [[VECTOR, MATRIX]],
    ),
    "and / or in conditions and values": (
        """
        def f(x, tol):
            y = x * 1.0
            k = 0
            while np.sum(y ** 2) > tol and k < 20:
                y = y * 0.7 + 0.01
                k = k + 1
            small = np.max(np.abs(y)) < 0.1 or 10 < k <= 20
            scale = (small and 2.0) or 3.0
            return np.sum(y) * scale
        """,
        [[VECTOR, 0.05], [VECTOR, 10.0]],
    ),
    "constants written over part of an array in a loop": (
        """
        def f(x):
            y = x * 2.0
            for i in range(2):
                y[i] = 0.5
            return np.sum(y * x)
        """,
        [[VECTOR]],
    ),
    "returns inside loops": (
        """
        def f(x, a):
            y = x * 1.0
            for i in range(10):
                y = y * a + 0.1
                if np.sum(y ** 2) > 4.0:
                    return np.sum(y) * 2.0
                for j in range(2):
                    if j == 1 and i == 7:
                        return np.sum(np.sin(y))
            k = 0
            while True:
                k = k + 1
                y = np.tanh(y)
                if k > 3:
                    return np.sum(y * x)
            return np.sum(y)
        """,
        [[VECTOR * 0.3, 1.5], [VECTOR * 0.3, 1.01], [VECTOR * 0.3, 0.5]],
    ),
    "scalar loop of 100 steps": (
        """
        def f(x):
            s = x
            for i in range(100):
                s = np.sin(s) + 0.01 * s * s
            return s
        """,
        [[0.3]],
    ),
}


CASES = [(name, i) for name, (_, arg_sets) in PROGRAMS.items() for i in range(len(arg_sets))]


@pytest.mark.parametrize("name, case", CASES)
def test_program_against_finite_differences(name, case):
    source, arg_sets = PROGRAMS[name]
    f = define(source)
    args = arg_sets[case]
    wrt = tuple(i for i, a in enumerate(args) if not isinstance(a, int))
    value, _ = overbar.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args))
    overbar.check_grad(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)


def pushed(source: str) -> set[str]:
    return set(re.findall(r"stack\.append\((\w+)\)", source))


def test_values_the_reverse_sweep_does_not_read_are_not_saved():
    f = define("""
        def f(x, n):
            a = x * 1.0
            for i in range(n):
                a = a + 1.0
            return np.sum(a * x)
        """)
    source = overbar.grad(f).source
    assert "a" not in pushed(source) and "i" not in pushed(source)
    overbar.check_grad(f, [VECTOR, 3])


def test_loop_carried_state_is_saved_once_per_iteration():
    f = define(PROGRAMS["rnn over range"][0], "f")
    source = overbar.grad(f, wrt=(0, 1, 2)).source
    assert "h" in pushed(source)
    assert len(re.findall(r"stack\.append", source)) <= 5
    assert "for _ in range(trips):" in source


def test_row_adjoints_are_added_in_place_in_a_reverse_loop():
    f = define(PROGRAMS["rnn over range"][0], "f")
    source = overbar.grad(f, wrt=(0, 1, 2, 3)).source
    assert "xs_bar = own(xs_bar, xs)" in source  # one copy before the loop...
    assert "xs_bar[t] += " in source  # ...then no array of xs's size per step
    assert "index_bar" not in source


def test_branch_replay_reads_the_recorded_condition():
    f = define(PROGRAMS["if/else on an array value"][0], "f")
    source = overbar.grad(f).source
    assert source.count("if tmp") == 2  # the forward branch and its replay in reverse
    assert "stack" not in source  # nothing is overwritten in straight-line code


def test_the_returned_value_is_the_forward_value_after_restores():
    f = define("""
        def f(x):
            y = x * 1.0
            for i in range(3):
                y = y * 2.0
            return np.sum(y * y)
        """)
    value, gradient = overbar.value_and_grad(f)(VECTOR)
    assert value == pytest.approx(f(VECTOR))
    assert np.allclose(gradient, 2 * 64 * VECTOR)


def test_loop_does_not_modify_the_callers_arrays():
    f = define(PROGRAMS["parameter reassigned in a loop"][0], "f")
    x, y = VECTOR.copy(), VECTOR * 0.5
    overbar.grad(f, wrt=(0, 1))(x, y)
    assert np.array_equal(x, VECTOR) and np.array_equal(y, VECTOR * 0.5)


def test_loop_rewriting_refuses_a_shadowed_builtin():
    f = define("""
        def len(v):
            return 2

        def f(x):
            total = 0.0
            for row in x:
                total = total + np.sum(row)
            return total
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="builtin"):
        overbar.grad(f)(np.ones((3, 2)))


def test_loop_over_a_shadowed_range_is_refused():
    f = define("""
        import builtins

        def range(n):
            return builtins.range(n)

        def f(x):
            y = x * 1.0
            for i in range(3):
                y = y * x
            return np.sum(y)
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="rename your range"):
        overbar.grad(f)(VECTOR)


@pytest.mark.parametrize("optimise", [True, False])
def test_a_tuple_made_before_a_loop_and_unpacked_in_it_gets_every_iterations_adjoint(optimise):
    """``params = (W, b)`` before the loop, ``W2, b2 = params`` in it: params̄ sums the
    iterations' (W̄2, b̄2), and W̄, b̄ get it after the loop (the loop's reverse did not count
    an unpacked tuple among the adjoints it adds to: each trip overwrote params̄, and the
    line that made params sent nothing back, a zero gradient)."""
    f = define("""
        def f(W, b, xs, h0):
            params = (W, b)
            h = h0
            for x in xs:
                W2, b2 = params
                h = np.tanh(h @ W2 + x + b2)
            return np.sum(h ** 2)
        """)
    g = define(
        """
        def g(W, b, xs, h0):
            h = h0
            for x in xs:
                h = np.tanh(h @ W + x + b)
            return np.sum(h ** 2)
        """,
        name="g",
    )
    W, b, xs, h0 = MATRIX, VECTOR * 0.3, rng.normal(size=(3, 4)), VECTOR
    got = overbar.grad(f, wrt=(0, 1), optimise=optimise)(W, b, xs, h0)
    wanted = overbar.grad(g, wrt=(0, 1))(W, b, xs, h0)
    for a, c in zip(got, wanted, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-10)
    assert overbar.check_grad(f, [W, b, xs, h0], wrt=(0, 1)) < 1e-6
