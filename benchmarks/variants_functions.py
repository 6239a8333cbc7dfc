"""The functions of the variant benchmark: each one written several ways, as different people
would write the same math, with one adjoint written by hand in plain NumPy (the fastest a
competent person writes: vectorised after the loop where the math allows, forward mode where the
input is one number).

Every variant of a function takes the same arguments, so that the one hand-written adjoint
serves all of them; a variant may ignore an argument (one that makes its initial state with
``np.zeros`` ignores ``h0``, which the inputs make zero). ``benchmarks/variants.py`` times them;
``tests/test_benchmark_variants.py`` checks that the variants agree and that each hand-written
adjoint agrees with central differences.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.special

# -- rnn: tanh cell, batch in rows, loop over time ----------------------------------------------


def rnn_matmul(W, U, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U + b)
    return np.sum(h**2)


def rnn_dot_iterate(W, U, b, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(np.dot(h, W) + np.dot(x, U) + b)
    return np.sum(np.square(h))


def rnn_method_zeros(W, U, b, xs, h0):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(len(xs)):
        h = np.tanh(h.dot(W) + xs[t].dot(U) + b)
    return np.sum(h * h)


def rnn_list(W, U, b, xs, h0):
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(hs[-1] @ W + xs[t] @ U + b))
    return np.sum(hs[-1] ** 2)


def rnn_step(h, x, W, U, b):
    return np.tanh(h @ W + x @ U + b)


def rnn_helper(W, U, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = rnn_step(h, xs[t], W, U, b)
    return np.sum(h**2)


def rnn_run_from(t, h, W, U, b, xs):
    if t == xs.shape[0]:
        return h
    return rnn_run_from(t + 1, np.tanh(h @ W + xs[t] @ U + b), W, U, b, xs)


def rnn_recursive(W, U, b, xs, h0):
    return np.sum(rnn_run_from(0, h0, W, U, b, xs) ** 2)


def rnn_hoisted(W, U, b, xs, h0):
    projected = xs @ U + b
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + projected[t])
    return np.sum(h**2)


def rnn_einsum(W, U, b, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.einsum("bi,ij->bj", h, W) + np.einsum("bf,fj->bj", xs[t], U) + b)
    return np.sum(h**2)


def rnn_enumerate_matmul(W, U, b, xs, h0):
    h = h0.copy()
    for t, x in enumerate(xs):  # noqa: B007 (written as people write it)
        h = np.tanh(np.matmul(h, W) + np.matmul(x, U) + b)
    return (h**2).sum()


def rnn_stack(W, U, b, xs, h0):
    states = []
    h = h0
    for x in xs:
        h = np.tanh(h @ W + x @ U + b)
        states.append(h)
    H = np.stack(states)
    return np.sum(H[-1] ** 2)


def rnn_while(W, U, b, xs, h0):
    h = np.zeros_like(h0)
    t = 0
    while t < len(xs):
        h = np.tanh(h @ W + xs[t] @ U + b)
        t += 1
    return float(np.sum(h * h))


class RnnCell:
    """A cell that holds its weights, called like a function (as a model class is)."""

    def __init__(self, W, U, b):
        self.W, self.U, self.b = W, U, b

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.b)


def rnn_class(W, U, b, xs, h0):
    cell = RnnCell(W, U, b)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h**2)


def rnn_closure(W, U, b, xs, h0):
    def step(h, x):
        return np.tanh(h @ W + x @ U + b)

    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h**2)


def rnn_lambda(W, U, b, xs, h0):
    step = lambda h, x: np.tanh(h @ W + x @ U + b)  # noqa: E731 (written as people write it)
    h = h0
    for t in range(len(xs)):
        h = step(h, xs[t])
    return np.sum(h**2)


def rnn_partial(W, U, b, xs, h0):
    step = functools.partial(rnn_step, W=W, U=U, b=b)
    h = h0
    for x in xs:
        h = step(h, x)
    return np.sum(h**2)


@dataclass(frozen=True)
class RnnWeights:
    """The weights as a frozen dataclass, with a method calling another of its own."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def preactivation(self, h, x):
        return h @ self.W + x @ self.U + self.b

    def step(self, h, x):
        return np.tanh(self.preactivation(h, x))


def rnn_dataclass(W, U, b, xs, h0):
    weights = RnnWeights(W, U, b)
    h = h0
    for x in xs:
        h = weights.step(h, x)
    return np.sum(h**2)


class RnnLayer:
    """A layer whose __init__ computes what it keeps: the bias as a row, its size."""

    def __init__(self, W, U, b):
        self.W = W
        self.U = U
        self.bias = b.reshape(1, -1)
        self.size = W.shape[0]

    def __call__(self, h, x):
        return np.tanh(h @ self.W + x @ self.U + self.bias)


def rnn_layer_class(W, U, b, xs, h0):
    layer = RnnLayer(W, U, b)
    h = np.zeros((xs.shape[1], layer.size))
    for t in range(xs.shape[0]):
        h = layer(h, xs[t])
    return np.sum(h**2)


def rnn_step_default(h, x, W, U, b, activation=np.tanh):
    return activation(h @ W + x @ U + b)


def rnn_default_argument(W, U, b, xs, h0):
    h = h0
    for t in range(len(xs)):
        h = rnn_step_default(h, xs[t], W, U, b)
    return np.sum(h**2)


def rnn_transposed(W, U, b, xs, h0):
    h = h0.T
    for x in xs:
        h = np.tanh(W.T @ h + U.T @ x.T + b[:, None])
    return np.linalg.norm(h) ** 2


def rnn_by_hand(W, U, b, xs, h0):
    steps, batch, hidden = xs.shape[0], h0.shape[0], W.shape[0]
    states = np.empty((steps + 1, batch, hidden))
    states[0] = h0
    x_flat = xs.reshape(-1, xs.shape[2])
    # one 2-D product: NumPy's matmul of a stack of matrices is many times slower
    projected = (x_flat @ U + b).reshape(steps, batch, hidden)
    for t in range(steps):
        states[t + 1] = np.tanh(states[t] @ W + projected[t])
    slopes = 1.0 - states[1:] ** 2
    a_bars = np.empty((steps, batch, hidden))
    h_bar = 2.0 * states[steps]
    for t in range(steps - 1, -1, -1):
        a_bars[t] = h_bar * slopes[t]
        if t:
            h_bar = a_bars[t] @ W.T
    a_flat = a_bars.reshape(-1, hidden)
    W_bar = states[:-1].reshape(-1, hidden).T @ a_flat
    U_bar = x_flat.T @ a_flat
    return W_bar, U_bar, a_flat.sum(axis=0)


def rnn_inputs(rng, length, small):
    batch, features, hidden = (3, 4, 5) if small else (32, 16, 64)
    return [
        rng.normal(scale=0.5 * hidden**-0.5, size=(hidden, hidden)),
        rng.normal(scale=features**-0.5, size=(features, hidden)),
        rng.normal(scale=0.1, size=hidden),
        rng.normal(size=(length, batch, features)),
        np.zeros((batch, hidden)),
    ]


# -- gru: a gated recurrent cell, batch in rows, loop over time ---------------------------------


def gru_inline(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        x = xs[t]
        z = 1.0 / (1.0 + np.exp(-(x @ Wz + h @ Uz)))
        r = 1.0 / (1.0 + np.exp(-(x @ Wr + h @ Ur)))
        n = np.tanh(x @ Wn + (r * h) @ Un)
        h = (1.0 - z) * n + z * h
    return np.sum(h**2)


def gru_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def gru_cell(h, x, Wz, Uz, Wr, Ur, Wn, Un):
    z = gru_sigmoid(x @ Wz + h @ Uz)
    r = gru_sigmoid(x @ Wr + h @ Ur)
    n = np.tanh(x @ Wn + (r * h) @ Un)
    return (1.0 - z) * n + z * h


def gru_helpers(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = gru_cell(h, xs[t], Wz, Uz, Wr, Ur, Wn, Un)
    return np.sum(h**2)


def gru_dot_iterate(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for x in xs:
        z = 0.5 * (np.tanh(0.5 * (np.dot(x, Wz) + np.dot(h, Uz))) + 1.0)
        r = 0.5 * (np.tanh(0.5 * (np.dot(x, Wr) + np.dot(h, Ur))) + 1.0)
        n = np.tanh(np.dot(x, Wn) + np.dot(r * h, Un))
        h = n + z * (h - n)
    return np.sum(np.square(h))


def gru_list(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    hs = [h0]
    for t in range(xs.shape[0]):
        h = hs[-1]
        z = 1.0 / (1.0 + np.exp(-(xs[t] @ Wz + h @ Uz)))
        r = 1.0 / (1.0 + np.exp(-(xs[t] @ Wr + h @ Ur)))
        n = np.tanh(xs[t] @ Wn + (r * h) @ Un)
        hs.append((1.0 - z) * n + z * h)
    return np.sum(hs[-1] * hs[-1])


def gru_zeros(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = np.zeros((xs.shape[1], Uz.shape[0]))
    for t in range(xs.shape[0]):
        z = 1.0 / (1.0 + np.exp(-(xs[t].dot(Wz) + h.dot(Uz))))
        r = 1.0 / (1.0 + np.exp(-(xs[t].dot(Wr) + h.dot(Ur))))
        n = np.tanh(xs[t].dot(Wn) + (r * h).dot(Un))
        h = (1.0 - z) * n + z * h
    return np.sum(h**2)


def gru_expit(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for x in xs:
        z = scipy.special.expit(x @ Wz + h @ Uz)
        r = scipy.special.expit(x @ Wr + h @ Ur)
        n = np.tanh(x @ Wn + (r * h) @ Un)
        h = z * h + (1 - z) * n
    return np.sum(h**2)


def gru_augmented(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0.copy()
    for x in xs:
        z = np.exp(-np.logaddexp(0.0, -(np.matmul(x, Wz) + np.matmul(h, Uz))))
        r = np.exp(-np.logaddexp(0.0, -(np.matmul(x, Wr) + np.matmul(h, Ur))))
        n = np.tanh(np.matmul(x, Wn) + np.matmul(r * h, Un))
        h += (1.0 - z) * (n - h)
    return np.sum(h**2)


class GruCell:
    """A GRU cell holding its six weights, its gates a method of its own."""

    def __init__(self, Wz, Uz, Wr, Ur, Wn, Un):
        self.Wz, self.Uz, self.Wr, self.Ur, self.Wn, self.Un = Wz, Uz, Wr, Ur, Wn, Un

    def gate(self, a):
        return 1.0 / (1.0 + np.exp(-a))

    def __call__(self, h, x):
        z = self.gate(x @ self.Wz + h @ self.Uz)
        r = self.gate(x @ self.Wr + h @ self.Ur)
        n = np.tanh(x @ self.Wn + (r * h) @ self.Un)
        return (1.0 - z) * n + z * h


def gru_class(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    cell = GruCell(Wz, Uz, Wr, Ur, Wn, Un)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h**2)


def gru_closure(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    def cell(h, x):
        z = gru_sigmoid(x @ Wz + h @ Uz)
        r = gru_sigmoid(x @ Wr + h @ Ur)
        n = np.tanh(x @ Wn + (r * h) @ Un)
        return (1.0 - z) * n + z * h

    h = h0
    for t in range(xs.shape[0]):
        h = cell(h, xs[t])
    return np.sum(h**2)


def gru_partial(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    cell = functools.partial(gru_cell, Wz=Wz, Uz=Uz, Wr=Wr, Ur=Ur, Wn=Wn, Un=Un)
    h = h0
    for x in xs:
        h = cell(h, x)
    return np.sum(h**2)


def gru_by_hand(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    steps, batch, hidden = xs.shape[0], h0.shape[0], Uz.shape[0]
    x_flat = xs.reshape(-1, xs.shape[2])
    xz = (x_flat @ Wz).reshape(steps, batch, hidden)
    xr = (x_flat @ Wr).reshape(steps, batch, hidden)
    xn = (x_flat @ Wn).reshape(steps, batch, hidden)
    previous, zs, rs, ns, gated = (np.empty((steps, batch, hidden)) for _ in range(5))
    h = h0
    for t in range(steps):
        previous[t] = h
        zs[t] = z = 1.0 / (1.0 + np.exp(-(xz[t] + h @ Uz)))
        rs[t] = r = 1.0 / (1.0 + np.exp(-(xr[t] + h @ Ur)))
        gated[t] = r * h
        ns[t] = n = np.tanh(xn[t] + gated[t] @ Un)
        h = (1.0 - z) * n + z * h
    az_bars, ar_bars, an_bars = (np.empty((steps, batch, hidden)) for _ in range(3))
    h_bar = 2.0 * h
    for t in range(steps - 1, -1, -1):
        z, r, n, h_previous = zs[t], rs[t], ns[t], previous[t]
        an_bars[t] = an_bar = h_bar * (1.0 - z) * (1.0 - n * n)
        gated_bar = an_bar @ Un.T
        ar_bars[t] = ar_bar = gated_bar * h_previous * r * (1.0 - r)
        az_bars[t] = az_bar = h_bar * (h_previous - n) * z * (1.0 - z)
        if t:
            h_bar = h_bar * z + gated_bar * r + az_bar @ Uz.T + ar_bar @ Ur.T
    az, ar, an = (a.reshape(-1, hidden) for a in (az_bars, ar_bars, an_bars))
    h_flat = previous.reshape(-1, hidden)
    return (
        x_flat.T @ az,
        h_flat.T @ az,
        x_flat.T @ ar,
        h_flat.T @ ar,
        x_flat.T @ an,
        gated.reshape(-1, hidden).T @ an,
    )


def gru_inputs(rng, length, small):
    batch, features, hidden = (3, 4, 5) if small else (32, 16, 64)
    weights = []
    for _ in range(3):
        weights.append(rng.normal(scale=features**-0.5, size=(features, hidden)))
        weights.append(rng.normal(scale=hidden**-0.5, size=(hidden, hidden)))
    return weights + [rng.normal(size=(length, batch, features)), np.zeros((batch, hidden))]


# -- fixed point: a scalar iteration on a Python float ------------------------------------------


def fixed_point_power(x, steps):
    for _ in range(steps):
        x = x - 0.01 * (x**3 - 2 * x)
    return x


def fixed_point_product(x, steps):
    for _ in range(steps):
        x = x - 0.01 * (x * x * x - 2.0 * x)
    return x


def fixed_point_drift(x):
    return x**3 - 2 * x


def fixed_point_helper(x, steps):
    for _ in range(steps):
        x = x - 0.01 * fixed_point_drift(x)
    return x


def fixed_point_recursive(x, steps):
    if steps == 0:
        return x
    return fixed_point_recursive(x - 0.01 * (x**3 - 2 * x), steps - 1)


def fixed_point_augmented(x, steps):
    for _ in range(steps):
        x -= 0.01 * (x**3 - 2 * x)
    return x


def fixed_point_while(x, steps):
    i = 0
    while i < steps:
        x = x - 0.01 * (x**3 - 2 * x)
        i = i + 1
    return x


def fixed_point_math(x, steps):
    for _ in range(steps):
        x = x - 0.01 * (math.pow(x, 3) - 2.0 * x)
    return x


def fixed_point_step(x, rate=0.01):
    return x - rate * (x * x * x - 2.0 * x)


def fixed_point_default(x, steps):
    for _ in range(steps):
        x = fixed_point_step(x)
    return x


def fixed_point_lambda(x, steps):
    drift = lambda v: v**3 - 2 * v  # noqa: E731 (written as people write it)
    for _ in range(steps):
        x = x - 0.01 * drift(x)
    return x


def fixed_point_countdown(x, steps):
    i = steps
    while i > 0:
        x = float(x - 0.01 * x * (x * x - 2.0))
        i -= 1
    return x


def fixed_point_by_hand(x, steps):
    slope = 1.0
    for _ in range(steps):
        slope *= 1.0 - 0.01 * (3.0 * x * x - 2.0)
        x = x - 0.01 * (x**3 - 2 * x)
    return (slope,)


def fixed_point_inputs(rng, length, small):
    return [float(rng.uniform(0.5, 1.2)), length]


# -- horner: a polynomial evaluated by Horner's rule at many points -----------------------------


def horner_iterate(coeffs, x):
    p = np.zeros_like(x)
    for c in coeffs:
        p = p * x + c
    return np.sum(p)


def horner_range(coeffs, x):
    p = coeffs[0] * np.ones_like(x)
    for i in range(1, len(coeffs)):
        p = p * x + coeffs[i]
    return np.sum(p)


def horner_augmented(coeffs, x):
    p = np.zeros_like(x)
    for c in coeffs:
        p *= x
        p += c
    return np.sum(p)


def horner_step(p, x, c):
    return p * x + c


def horner_helper(coeffs, x):
    p = np.zeros_like(x)
    for i in range(coeffs.shape[0]):
        p = horner_step(p, x, coeffs[i])
    return np.sum(p)


def horner_upto(coeffs, x, i):
    if i == 0:
        return coeffs[0] * np.ones_like(x)
    return horner_upto(coeffs, x, i - 1) * x + coeffs[i]


def horner_recursive(coeffs, x):
    return np.sum(horner_upto(coeffs, x, len(coeffs) - 1))


def horner_powers(coeffs, x):
    degree = len(coeffs) - 1
    total = 0.0
    for i in range(len(coeffs)):
        total = total + coeffs[i] * x ** (degree - i)
    return np.sum(total)


def horner_polyval(coeffs, x):
    return np.sum(np.polyval(coeffs, x))


def horner_vander(coeffs, x):
    powers = x[:, None] ** np.arange(len(coeffs) - 1, -1, -1)
    return np.sum(powers @ coeffs)


def horner_while(coeffs, x):
    p = np.full(x.shape, coeffs[0])
    i = 1
    while i < len(coeffs):
        p = coeffs[i] + x * p
        i = i + 1
    return p.sum()


def horner_by_hand(coeffs, x):
    p = np.zeros_like(x)
    slope = np.zeros_like(x)
    for c in coeffs:
        slope = slope * x + p
        p = p * x + c
    powers = np.empty((len(coeffs), x.shape[0]))
    powers[0] = 1.0
    powers[1:] = x
    coeffs_bar = np.cumprod(powers, axis=0).sum(axis=1)[::-1]
    return coeffs_bar, slope


def horner_inputs(rng, length, small):
    points = 6 if small else 1000
    return [rng.normal(size=length), rng.uniform(-0.9, 0.9, size=points)]


# -- heat: an explicit heat-equation stepper, ends held fixed -----------------------------------


def heat_copy(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u**2)


def heat_concatenate(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        interior = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = np.concatenate((u[:1], interior, u[-1:]))
    return np.sum(u * u)


def heat_in_place(u0, alpha, steps):
    u = u0.copy()
    for _ in range(steps):
        laplacian = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u[1:-1] = u[1:-1] + alpha * laplacian
    return np.sum(u**2)


def heat_laplacian(u):
    return u[2:] - 2 * u[1:-1] + u[:-2]


def heat_helper(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + alpha * heat_laplacian(u)
        u = u_new
    return np.sum(np.square(u))


def heat_zeros(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_new = np.zeros_like(u)
        u_new[0] = u[0]
        u_new[-1] = u[-1]
        u_new[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u**2)


def heat_diff(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.concatenate([u[:1], u[1:-1] + alpha * np.diff(u, n=2), u[-1:]])
    return np.sum(u**2)


def heat_augmented_slice(u0, alpha, steps):
    u = np.array(u0)
    for step in range(steps):  # noqa: B007 (written as people write it)
        u[1:-1] += alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
    return u @ u


def heat_convolve(u0, alpha, steps):
    kernel = np.array([1.0, -2.0, 1.0])
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * np.convolve(u, kernel, mode="valid")
    return np.dot(u, u)


def heat_roll(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        laplacian = np.roll(u, 1) - 2 * u + np.roll(u, -1)
        laplacian[0] = 0.0
        laplacian[-1] = 0.0
        u = u + alpha * laplacian
    return np.sum(u**2)


def heat_empty_like(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_next = np.empty_like(u)
        u_next[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_next[0] = u[0]
        u_next[-1] = u[-1]
        u = u_next
    return np.sum(u**2)


def heat_hstack(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.hstack([u[0], u[1:-1] + alpha * np.diff(u, 2), u[-1]])
    return float(u @ u)


def heat_pad(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = u + alpha * np.pad(np.diff(u, 2), 1)
    return np.sum(u**2)


def heat_r_(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u = np.r_[u[0], u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2]), u[-1]]
    return np.sum(u**2)


def heat_by_hand(u0, alpha, steps):
    states = np.empty((steps, u0.shape[0]))
    u = u0.copy()
    for k in range(steps):
        states[k] = u
        u[1:-1] += alpha * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    g = 2.0 * u
    interior_bars = np.empty((steps, u0.shape[0] - 2))
    for k in range(steps - 1, -1, -1):
        interior_bars[k] = g[1:-1]
        spread = alpha * g[1:-1]
        g[2:] += spread
        g[1:-1] -= 2.0 * spread
        g[:-2] += spread
    laplacians = states[:, 2:] - 2.0 * states[:, 1:-1] + states[:, :-2]
    return g, float(np.sum(interior_bars * laplacians))


def heat_inputs(rng, length, small):
    points = 7 if small else 200
    return [
        np.sin(np.linspace(0.0, 3.0, points)) + rng.normal(scale=0.1, size=points),
        0.2,
        length,
    ]


# -- logistic regression ------------------------------------------------------------------------


def logreg_sigmoid(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_logaddexp(w, b, X, y):
    z = np.dot(X, w) + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logreg_probability(z):
    return 1.0 / (1.0 + np.exp(-z))


def logreg_helper(w, b, X, y):
    p = logreg_probability(X.dot(w) + b)
    losses = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return np.sum(losses) / X.shape[0]


def logreg_log1p(w, b, X, y):
    z = X @ w + b
    return np.mean(np.log1p(np.exp(-z)) + (1 - y) * z)


def logreg_expit(w, b, X, y):
    p = scipy.special.expit(X @ w + b)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def logreg_stable(w, b, X, y):
    z = np.matmul(X, w) + b
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return losses.mean()


def logreg_tanh(w, b, X, y):
    p = 0.5 * (1.0 + np.tanh(0.5 * (X.dot(w) + b)))
    return -(y @ np.log(p) + (1 - y) @ np.log(1 - p)) / len(y)


def logreg_loop(w, b, X, y):
    total = 0.0
    for xi, yi in zip(X, y):  # noqa: B905 (written as people write it)
        z = float(xi @ w) + b
        if yi > 0.5:
            total += math.log1p(math.exp(-z))
        else:
            total += math.log1p(math.exp(z))
    return total / len(y)


def logreg_by_hand(w, b, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    z_bar = (p - y) / X.shape[0]
    return z_bar @ X, float(np.sum(z_bar))


def logreg_inputs(rng, length, small):
    samples, features = (8, 3) if small else (1000, 100)
    X = rng.normal(size=(samples, features))
    w = rng.normal(scale=features**-0.5, size=features)
    labels = (X @ rng.normal(size=features) + rng.normal(size=samples) > 0).astype(float)
    return [w, 0.1, X, labels]


# -- mlp, batch in rows: X (batch, 784) @ W1 (784, 256) -----------------------------------------


def mlp_rows_maximum(W1, b1, W2, b2, X, T):
    h = np.maximum(X @ W1 + b1, 0)
    y = h @ W2 + b2
    return np.mean((y - T) ** 2)


def mlp_rows_where(W1, b1, W2, b2, X, T):
    z = np.dot(X, W1) + b1
    h = np.where(z > 0, z, 0)
    y = np.dot(h, W2) + b2
    return np.sum(np.square(y - T)) / y.size


def mlp_rows_mask(W1, b1, W2, b2, X, T):
    z = X.dot(W1) + b1
    h = z * (z > 0)
    diff = h.dot(W2) + b2 - T
    return np.sum(diff * diff) / T.size


def dense_rows(x, W, b):
    return x @ W + b


def relu(z):
    return np.maximum(z, 0.0)


def mlp_rows_helper(W1, b1, W2, b2, X, T):
    y = dense_rows(relu(dense_rows(X, W1, b1)), W2, b2)
    return np.mean(np.square(y - T))


def mlp_rows_einsum(W1, b1, W2, b2, X, T):
    h = np.clip(np.einsum("bi,ih->bh", X, W1) + b1, 0.0, None)
    y = np.einsum("bh,ho->bo", h, W2) + b2
    return ((y - T) ** 2).mean()


def mlp_rows_abs(W1, b1, W2, b2, X, T):
    z = np.matmul(X, W1) + b1
    h = 0.5 * (z + np.abs(z))
    y = np.matmul(h, W2) + b2
    return np.linalg.norm(y - T) ** 2 / T.size


def mlp_rows_by_hand(W1, b1, W2, b2, X, T):
    z = X @ W1 + b1
    h = np.maximum(z, 0.0)
    y = h @ W2 + b2
    y_bar = (2.0 / y.size) * (y - T)
    z_bar = y_bar @ W2.T
    z_bar *= z > 0
    return X.T @ z_bar, z_bar.sum(axis=0), h.T @ y_bar, y_bar.sum(axis=0)


def mlp_rows_inputs(rng, length, small):
    n_in, n_hidden, n_out, batch = (5, 4, 3, 6) if small else (784, 256, 10, 128)
    return [
        rng.normal(scale=n_in**-0.5, size=(n_in, n_hidden)),
        rng.normal(scale=0.1, size=n_hidden),
        rng.normal(scale=n_hidden**-0.5, size=(n_hidden, n_out)),
        rng.normal(scale=0.1, size=n_out),
        rng.normal(size=(batch, n_in)),
        rng.normal(size=(batch, n_out)),
    ]


# -- mlp, batch in columns: W1 (256, 784) @ X (784, batch) --------------------------------------


def mlp_cols_matmul(W1, b1, W2, b2, X, T):
    h = np.maximum(W1 @ X + b1, 0)
    y = W2 @ h + b2
    return np.mean((y - T) ** 2)


def mlp_cols_dot(W1, b1, W2, b2, X, T):
    z = np.dot(W1, X) + b1
    h = np.where(z > 0, z, 0.0)
    y = np.dot(W2, h) + b2
    return np.sum((y - T) ** 2) / T.size


def mlp_cols_method(W1, b1, W2, b2, X, T):
    z = W1.dot(X) + b1
    h = z * (z > 0)
    diff = W2.dot(h) + b2 - T
    return np.mean(diff * diff)


def dense_cols(W, b, x):
    return W @ x + b


def mlp_cols_helper(W1, b1, W2, b2, X, T):
    y = dense_cols(W2, b2, relu(dense_cols(W1, b1, X)))
    return np.mean(np.square(y - T))


def mlp_cols_transposed(W1, b1, W2, b2, X, T):
    h = np.maximum(0.0, X.T @ W1.T + b1.T)
    y = h @ W2.T + b2.T
    return np.mean((y - T.T) ** 2)


def mlp_cols_einsum(W1, b1, W2, b2, X, T):
    z = np.einsum("hi,ib->hb", W1, X) + b1
    h = np.where(z < 0, 0.0, z)
    d = np.einsum("oh,hb->ob", W2, h) + b2 - T
    return np.einsum("ob,ob->", d, d) / d.size


def mlp_cols_by_hand(W1, b1, W2, b2, X, T):
    z = W1 @ X + b1
    h = np.maximum(z, 0.0)
    y = W2 @ h + b2
    y_bar = (2.0 / y.size) * (y - T)
    z_bar = W2.T @ y_bar
    z_bar *= z > 0
    return (
        z_bar @ X.T,
        z_bar.sum(axis=1, keepdims=True),
        y_bar @ h.T,
        y_bar.sum(axis=1, keepdims=True),
    )


def mlp_cols_inputs(rng, length, small):
    n_in, n_hidden, n_out, batch = (5, 4, 3, 6) if small else (784, 256, 10, 128)
    return [
        rng.normal(scale=n_in**-0.5, size=(n_hidden, n_in)),
        rng.normal(scale=0.1, size=(n_hidden, 1)),
        rng.normal(scale=n_hidden**-0.5, size=(n_out, n_hidden)),
        rng.normal(scale=0.1, size=(n_out, 1)),
        rng.normal(size=(n_in, batch)),
        rng.normal(size=(n_out, batch)),
    ]


# -- softmax cross-entropy ----------------------------------------------------------------------


def xent_keepdims(W, b, X, onehot, labels):
    logits = X @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot) / X.shape[0]


def xent_none(W, b, X, onehot, labels):
    logits = np.dot(X, W) + b
    shifted = logits - logits.max(axis=1)[:, None]
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]
    return -np.mean(np.sum(onehot * log_probs, axis=1))


def xent_probabilities(W, b, X, onehot, labels):
    logits = X @ W + b
    e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return -np.mean(np.log(np.sum(p * onehot, axis=1)))


def xent_labels(W, b, X, onehot, labels):
    logits = X.dot(W) + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(X.shape[0]), labels])


def log_softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def xent_helper(W, b, X, onehot, labels):
    return -np.sum(onehot * log_softmax(X @ W + b)) / len(X)


def xent_scipy(W, b, X, onehot, labels):
    logits = X @ W + b
    return np.mean(scipy.special.logsumexp(logits, axis=1) - np.sum(logits * onehot, axis=1))


def xent_unstable(W, b, X, onehot, labels):
    e = np.exp(np.dot(X, W) + b)
    p = e / e.sum(axis=1, keepdims=True)
    return -np.sum(onehot * np.log(p)) / len(labels)


def xent_take_along(W, b, X, onehot, labels):
    logits = np.matmul(X, W) + b
    m = logits.max(1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(1, keepdims=True)) + m
    picked = np.take_along_axis(logits - lse, labels[:, None], axis=1)
    return -picked.mean()


def xent_log_softmax(W, b, X, onehot, labels):
    log_probs = scipy.special.log_softmax(X @ W + b, axis=1)
    return -np.mean(np.sum(log_probs * onehot, axis=-1))


def xent_by_hand(W, b, X, onehot, labels):
    logits = X @ W + b
    probs = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    logits_bar = (probs - onehot) / X.shape[0]
    return X.T @ logits_bar, logits_bar.sum(axis=0)


def xent_inputs(rng, length, small):
    batch, features, classes = (6, 5, 3) if small else (128, 784, 10)
    labels = rng.integers(0, classes, size=batch)
    return [
        rng.normal(scale=features**-0.5, size=(features, classes)),
        rng.normal(scale=0.1, size=classes),
        rng.normal(size=(batch, features)),
        np.eye(classes)[labels],
        labels,
    ]


# -- layer norm over rows -----------------------------------------------------------------------


def layer_norm_keepdims(x, gamma, beta, R):
    mu = np.mean(x, axis=1, keepdims=True)
    centred = x - mu
    var = np.mean(centred**2, axis=1, keepdims=True)
    y = centred / np.sqrt(var + 1e-5) * gamma + beta
    return np.sum(y * R)


def layer_norm_none(x, gamma, beta, R):
    mu = x.mean(axis=1)
    centred = x - mu[:, None]
    var = (centred * centred).mean(axis=1)
    y = gamma * (centred / np.sqrt(var + 1e-5)[:, None]) + beta
    return np.sum(R * y)


def layer_norm_var(x, gamma, beta, R):
    mu = x.mean(axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    y = (x - mu) * (var + 1e-5) ** -0.5 * gamma + beta
    return np.sum(y * R)


def normalise_rows(x):
    mu = np.mean(x, axis=1, keepdims=True)
    var = np.mean(np.square(x - mu), axis=1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5)


def layer_norm_helper(x, gamma, beta, R):
    return np.sum((normalise_rows(x) * gamma + beta) * R)


def layer_norm_rows(x, gamma, beta, R):
    total = 0.0
    for i in range(x.shape[0]):
        row = x[i]
        centred = row - np.mean(row)
        normalised = centred / np.sqrt(np.mean(centred**2) + 1e-5)
        total = total + np.sum((normalised * gamma + beta) * R[i])
    return total


def layer_norm_sum_over_n(x, gamma, beta, R):
    n = x.shape[1]
    mu = x.sum(axis=1, keepdims=True) / n
    d = x - mu
    var = (d**2).sum(axis=1, keepdims=True) / n
    y = d * (1.0 / np.sqrt(var + 1e-5)) * gamma + beta
    return np.sum(y * R)


def layer_norm_transposed(x, gamma, beta, R):
    normalised = ((x.T - x.mean(axis=1)) / np.sqrt(x.var(axis=1) + 1e-5)).T
    return np.sum((gamma * normalised + beta) * R)


def layer_norm_einsum(x, gamma, beta, R):
    mu = np.mean(x, -1, keepdims=True)
    sigma = np.sqrt(np.mean((x - mu) ** 2, -1, keepdims=True) + 1e-5)
    return np.einsum("ij,ij->", (x - mu) / sigma * gamma + beta, R)


def layer_norm_std(x, gamma, beta, R):
    mu = x.mean(axis=1, keepdims=True)
    sigma = np.sqrt(np.std(x, axis=1, keepdims=True) ** 2 + 1e-5)
    return np.sum(((x - mu) / sigma * gamma + beta) * R)


def layer_norm_moments(x, gamma, beta, R):
    mu = x.mean(axis=1, keepdims=True)
    var = (x**2).mean(axis=1, keepdims=True) - mu**2  # E[x²] − E[x]²
    return np.sum(((x - mu) / np.sqrt(var + 1e-5) * gamma + beta) * R)


def layer_norm_columns(x, gamma, beta, R):
    features = x.T  # one column per row of x, normalised down its column
    mu = np.mean(features, axis=0)
    sd = np.sqrt(np.mean((features - mu) ** 2, axis=0) + 1e-5)
    y = ((features - mu) / sd).T * gamma + beta
    return np.sum(y * R)


def layer_norm_by_hand(x, gamma, beta, R):
    centred = x - x.mean(axis=1, keepdims=True)
    inverse = 1.0 / np.sqrt(np.mean(centred * centred, axis=1, keepdims=True) + 1e-5)
    normalised = centred * inverse
    g = R * gamma
    x_bar = inverse * (
        g
        - g.mean(axis=1, keepdims=True)
        - normalised * (g * normalised).mean(axis=1, keepdims=True)
    )
    return x_bar, (R * normalised).sum(axis=0), R.sum(axis=0)


def layer_norm_inputs(rng, length, small):
    width = 5 if small else 512
    return [
        rng.normal(loc=0.5, scale=2.0, size=(length, width)),
        rng.normal(loc=1.0, scale=0.1, size=width),
        rng.normal(scale=0.1, size=width),
        rng.normal(size=(length, width)),
    ]


# -- mse: linear least squares ------------------------------------------------------------------


def mse_mean(w, X, y):
    return np.mean((X @ w - y) ** 2)


def mse_sum(w, X, y):
    r = np.dot(X, w) - y
    return np.sum(r * r) / X.shape[0]


def mse_square(w, X, y):
    return np.mean(np.square(X.dot(w) - y))


def mse_loop(w, X, y):
    total = 0.0
    for i in range(X.shape[0]):
        r = X[i] @ w - y[i]
        total = total + r * r
    return total / X.shape[0]


def mse_loop_augmented(w, X, y):
    total = 0.0
    for xi, yi in zip(X, y):  # noqa: B905 (written as people write it)
        r = xi @ w - yi
        total += r**2
    return total / len(y)


def mse_norm(w, X, y):
    return np.linalg.norm(X @ w - y) ** 2 / len(y)


def mse_dot(w, X, y):
    r = X.dot(w) - y
    return r.dot(r) / y.shape[0]


def mse_average(w, X, y):
    return np.average(np.square(y - np.matmul(X, w)))


def mse_enumerate(w, X, y):
    total = 0.0
    for i, xi in enumerate(X):
        total += float(np.dot(xi, w) - y[i]) ** 2
    return total / X.shape[0]


def mse_by_hand(w, X, y):
    return ((2.0 / X.shape[0]) * (X @ w - y) @ X,)


def mse_inputs(rng, length, small):
    features = 3 if small else 50
    X = rng.normal(size=(length, features))
    return [rng.normal(size=features), X, X @ rng.normal(size=features) + rng.normal(size=length)]


# -- logsumexp over rows ------------------------------------------------------------------------


def logsumexp_keepdims(X):
    m = np.max(X, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(X - m), axis=1, keepdims=True)))


def logsumexp_none(X):
    m = X.max(axis=1)
    return np.sum(m + np.log(np.exp(X - m[:, None]).sum(axis=1)))


def logsumexp_naive(X):
    return np.sum(np.log(np.sum(np.exp(X), axis=1)))


def logsumexp_loop(X):
    total = 0.0
    for row in X:
        m = np.max(row)
        total = total + m + np.log(np.sum(np.exp(row - m)))
    return total


def row_logsumexp(z):
    m = np.max(z, axis=-1, keepdims=True)
    return np.log(np.sum(np.exp(z - m), axis=-1)) + m[..., 0]


def logsumexp_helper(X):
    return np.sum(row_logsumexp(X))


def logsumexp_scipy(X):
    return scipy.special.logsumexp(X, axis=1).sum()


def logsumexp_transposed(X):
    m = X.max(axis=1)
    return np.sum(np.log(np.sum(np.exp(X.T - m), axis=0)) + m)


def logsumexp_generator(X):
    return sum(np.log(np.exp(row).sum()) for row in X)


def logsumexp_amax(X):
    m = np.amax(X, 1, keepdims=True)
    return np.add.reduce(np.log(np.add.reduce(np.exp(X - m), axis=1)) + m[:, 0])


def logsumexp_rows_builtin_sum(X):
    total = 0.0
    for r in X:
        m = r.max()
        total = total + m + np.log(sum(np.exp(r - m)))
    return total


def logsumexp_by_hand(X):
    e = np.exp(X - X.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return (e,)


def logsumexp_inputs(rng, length, small):
    return [rng.normal(scale=2.0, size=(length, 4 if small else 1000))]


# -- huber: robust regression, threshold 1 ------------------------------------------------------


def huber_where(w, X, y):
    r = X @ w - y
    a = np.abs(r)
    return np.mean(np.where(a <= 1.0, 0.5 * r**2, a - 0.5))


def huber_clip(w, X, y):
    r = np.dot(X, w) - y
    c = np.clip(r, -1.0, 1.0)
    return np.sum(0.5 * c * c + (np.abs(r) - np.abs(c))) / len(y)


def huber_loop(w, X, y):
    total = 0.0
    for i in range(len(y)):
        r = X[i] @ w - y[i]
        if abs(r) <= 1.0:  # noqa: SIM108 (written as people write it)
            total = total + 0.5 * r * r
        else:
            total = total + abs(r) - 0.5
    return total / len(y)


def huber_mask(w, X, y):
    r = X @ w - y
    a = np.abs(r)
    small = (a <= 1.0) * 1.0
    return np.sum(small * 0.5 * r * r + (1.0 - small) * (a - 0.5)) / y.shape[0]


def huber_minimum(w, X, y):
    a = np.abs(X @ w - y)
    q = np.minimum(a, 1.0)
    return np.mean(q * (a - 0.5 * q))


def huber_minimum_linear(w, X, y):
    a = np.abs(X @ w - y)
    quadratic = np.minimum(a, 1.0)
    linear = a - quadratic
    return np.sum(0.5 * quadratic**2 + linear) / len(y)


def huber_by_hand(w, X, y):
    return (np.clip(X @ w - y, -1.0, 1.0) @ X / len(y),)


def huber_inputs(rng, length, small):
    features = 3 if small else 50
    X = rng.normal(size=(length, features))
    y = X @ rng.normal(size=features) + rng.normal(scale=2.0, size=length)
    return [rng.normal(size=features), X, y]


# -- lstm: a long short-term memory cell, gates i, f, o, g side by side, loop over time ---------


def lstm_slices(Wx, Wh, b, xs, h0):
    H = Wh.shape[0]
    state = (h0, np.zeros_like(h0))
    for x in xs:
        h, c = state
        a = x @ Wx + h @ Wh + b
        i = 1.0 / (1.0 + np.exp(-a[:, :H]))
        f = 1.0 / (1.0 + np.exp(-a[:, H : 2 * H]))
        o = 1.0 / (1.0 + np.exp(-a[:, 2 * H : 3 * H]))
        g = np.tanh(a[:, 3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        state = (h, c)
    return np.sum(state[0] ** 2)


def lstm_split(Wx, Wh, b, xs, h0):
    h, c = h0, np.zeros_like(h0)
    for t in range(len(xs)):
        gates = np.dot(xs[t], Wx) + np.dot(h, Wh) + b
        i, f, o, g = np.split(gates, 4, axis=1)
        c = scipy.special.expit(f) * c + scipy.special.expit(i) * np.tanh(g)
        h = scipy.special.expit(o) * np.tanh(c)
    return np.sum(h * h)


def lstm_cell(x, h, c, Wx, Wh, b):
    H = h.shape[-1]
    a = x @ Wx + h @ Wh + b
    sig = 0.5 * (1.0 + np.tanh(0.5 * a[:, : 3 * H]))
    c = sig[:, H : 2 * H] * c + sig[:, :H] * np.tanh(a[:, 3 * H :])
    return sig[:, 2 * H :] * np.tanh(c), c


def lstm_helper(Wx, Wh, b, xs, h0):
    h, c = h0, 0.0 * h0
    for x in xs:
        h, c = lstm_cell(x, h, c, Wx, Wh, b)
    return np.square(h).sum()


def lstm_by_hand(Wx, Wh, b, xs, h0):
    steps, batch, hidden = xs.shape[0], h0.shape[0], Wh.shape[0]
    x_flat = xs.reshape(-1, xs.shape[2])
    projected = (x_flat @ Wx + b).reshape(steps, batch, 4 * hidden)
    hs, cs = np.empty((steps + 1, batch, hidden)), np.empty((steps + 1, batch, hidden))
    gates = np.empty((steps, batch, 4 * hidden))  # i, f, o through the sigmoid, g through tanh
    hs[0], cs[0] = h0, 0.0
    for t in range(steps):
        a = projected[t] + hs[t] @ Wh
        gates[t, :, : 3 * hidden] = 1.0 / (1.0 + np.exp(-a[:, : 3 * hidden]))
        gates[t, :, 3 * hidden :] = np.tanh(a[:, 3 * hidden :])
        i, f, o, g = np.split(gates[t], 4, axis=1)
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
    a_bars = np.empty((steps, batch, 4 * hidden))
    h_bar, c_bar = 2.0 * hs[steps], np.zeros((batch, hidden))
    for t in range(steps - 1, -1, -1):
        i, f, o, g = np.split(gates[t], 4, axis=1)
        tanh_c = np.tanh(cs[t + 1])
        c_bar = c_bar + h_bar * o * (1.0 - tanh_c * tanh_c)
        a_bars[t, :, :hidden] = c_bar * g * i * (1.0 - i)
        a_bars[t, :, hidden : 2 * hidden] = c_bar * cs[t] * f * (1.0 - f)
        a_bars[t, :, 2 * hidden : 3 * hidden] = h_bar * tanh_c * o * (1.0 - o)
        a_bars[t, :, 3 * hidden :] = c_bar * i * (1.0 - g * g)
        c_bar = c_bar * f
        h_bar = a_bars[t] @ Wh.T
    a_flat = a_bars.reshape(-1, 4 * hidden)
    return x_flat.T @ a_flat, hs[:-1].reshape(-1, hidden).T @ a_flat, a_flat.sum(axis=0)


def lstm_inputs(rng, length, small):
    batch, features, hidden = (3, 4, 5) if small else (32, 16, 64)
    return [
        rng.normal(scale=features**-0.5, size=(features, 4 * hidden)),
        rng.normal(scale=0.5 * hidden**-0.5, size=(hidden, 4 * hidden)),
        rng.normal(scale=0.1, size=4 * hidden),
        rng.normal(size=(length, batch, features)),
        np.zeros((batch, hidden)),
    ]


# -- attention: one head of softmax(Q Kᵀ / √d) V, read out against R ----------------------------


def attention_stable(Wq, Wk, Wv, X, R):
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    S = Q @ K.T / np.sqrt(Q.shape[1])
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P = P / P.sum(axis=1, keepdims=True)
    return np.sum((P @ V) * R)


def attention_einsum(Wq, Wk, Wv, X, R):
    Q = np.einsum("nd,de->ne", X, Wq)
    K = np.einsum("nd,de->ne", X, Wk)
    V = np.einsum("nd,de->ne", X, Wv)
    S = np.einsum("qe,ke->qk", Q, K) / Q.shape[-1] ** 0.5
    P = np.exp(S) / np.exp(S).sum(-1, keepdims=True)
    return np.einsum("qe,qe->", np.einsum("qk,ke->qe", P, V), R)


def attention_batched_einsum(Wq, Wk, Wv, X, R):
    Xb = X[None]  # a batch of one sequence, as batched code holds it
    Q = np.einsum("bnd,de->bne", Xb, Wq)
    K = np.einsum("bnd,de->bne", Xb, Wk)
    V = np.einsum("bnd,de->bne", Xb, Wv)
    S = np.einsum("bqe,bke->bqk", Q, K) / np.sqrt(Q.shape[-1])
    P = np.exp(S - S.max(axis=-1, keepdims=True))
    P = P / P.sum(axis=-1, keepdims=True)
    return np.einsum("bqe,qe->", np.einsum("bqk,bke->bqe", P, V), R)


def softmax_rows(S):
    e = np.exp(S - np.max(S, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attention_helper(Wq, Wk, Wv, X, R):
    Q = np.dot(X, Wq)
    K = np.dot(X, Wk)
    P = softmax_rows(np.dot(Q, K.T) * (1.0 / np.sqrt(Wq.shape[1])))
    return np.vdot(np.dot(P, np.dot(X, Wv)), R)


def attention_scipy(Wq, Wk, Wv, X, R):
    Q, K = X.dot(Wq), X.dot(Wk)
    P = scipy.special.softmax(Q @ np.swapaxes(K, 0, 1) / math.sqrt(Q.shape[1]), axis=1)
    return np.sum(np.matmul(P, X.dot(Wv)) * R)


def attention_by_hand(Wq, Wk, Wv, X, R):
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    scale = 1.0 / np.sqrt(Q.shape[1])
    S = (Q @ K.T) * scale
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P_bar = R @ V.T
    S_bar = P * (P_bar - np.sum(P_bar * P, axis=1, keepdims=True)) * scale
    return X.T @ (S_bar @ K), X.T @ (S_bar.T @ Q), X.T @ (P.T @ R)


def attention_inputs(rng, length, small):
    tokens, width, head = (5, 4, 3) if small else (256, 128, 64)
    return [
        rng.normal(scale=width**-0.5, size=(width, head)),
        rng.normal(scale=width**-0.5, size=(width, head)),
        rng.normal(scale=width**-0.5, size=(width, head)),
        rng.normal(size=(tokens, width)),
        rng.normal(size=(tokens, head)),
    ]


# -- conv1d: a valid cross-correlation of a signal with a short filter, squared -----------------


def conv_slices(w, x):
    m = x.shape[0] - w.shape[0] + 1
    y = np.zeros(m)
    for k in range(w.shape[0]):
        y = y + w[k] * x[k : k + m]
    return np.sum(y**2)


def conv_augmented(w, x):
    m = len(x) - len(w) + 1
    y = w[0] * x[:m]
    for k in range(1, len(w)):
        y += w[k] * x[k : m + k]
    return y @ y


def conv_convolve(w, x):
    y = np.convolve(x, w[::-1], mode="valid")
    return np.sum(np.square(y))


def conv_correlate(w, x):
    y = np.correlate(x, w, mode="valid")
    return np.dot(y, y)


def conv_windows(w, x):
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[0])
    return np.sum((windows @ w) ** 2)


def conv_generator(w, x):
    n = len(x) - len(w) + 1
    y = sum(w[j] * x[j : j + n] for j in range(len(w)))
    return np.sum(y * y)


def conv_dot_loop(w, x):
    m = w.shape[0]
    outputs = []
    for i in range(x.shape[0] - m + 1):
        outputs.append(np.dot(x[i : i + m], w))
    y = np.array(outputs)
    return np.sum(y**2)


def conv_windows_sum(w, x):
    windows = np.lib.stride_tricks.sliding_window_view(x, len(w))
    y = np.sum(windows * w, axis=1)
    return np.sum(y**2)


def conv_full_sliced(w, x):
    y = np.convolve(x, w[::-1])[len(w) - 1 : len(x)]
    return np.sum(y**2)


def conv_by_hand(w, x):
    y_bar = 2.0 * np.correlate(x, w, mode="valid")
    return np.correlate(x, y_bar, mode="valid"), np.convolve(y_bar, w)


def conv_inputs(rng, length, small):
    return [rng.normal(size=length), rng.normal(size=(length + 6) if small else 4000)]


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way of writing a function; ``loops`` if its running time grows with the length."""

    name: str
    forward: Callable
    loops: bool


@dataclass(frozen=True)
class Function:
    """A function written several ways, its one hand-written adjoint, and its inputs.

    ``make_inputs(rng, length, small)`` returns the arguments; ``length`` is the loop's length
    (time steps, iterations, coefficients, or rows for the variants that loop over rows), and
    ``small`` asks for tiny sizes (tests). ``wrt`` names the differentiated arguments, in the
    order of ``by_hand``'s results.
    """

    name: str
    variants: tuple[Variant, ...]
    by_hand: Callable
    wrt: tuple[str, ...]
    make_inputs: Callable
    length: int
    small_length: int

    def inputs(self, rng: np.random.Generator, length: int | None = None, small=False) -> list:
        """Arguments for every variant: at ``length`` (default: the function's own)."""
        if length is None:
            length = self.small_length if small else self.length
        return self.make_inputs(rng, length, small)


def has_loop(function: Callable) -> bool:
    """Whether the function's own source, or a helper of its module it calls, has a loop or
    calls itself."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.While | ast.comprehension):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = function.__globals__.get(node.func.id)
            ours = inspect.isfunction(helper) and helper.__module__ == function.__module__
            if ours and (helper is function or has_loop(helper)):
                return True  # a loop, or a recursion: as deep as the length
    return False


def _function(name, variants, by_hand, wrt, make_inputs, length, small_length=4) -> Function:
    return Function(
        name,
        tuple(Variant(v.__name__, v, has_loop(v)) for v in variants),
        by_hand,
        wrt,
        make_inputs,
        length,
        small_length,
    )


FUNCTIONS = (
    _function(
        "rnn",
        (
            rnn_matmul,
            rnn_dot_iterate,
            rnn_method_zeros,
            rnn_list,
            rnn_helper,
            rnn_hoisted,
            rnn_recursive,
            rnn_einsum,
            rnn_enumerate_matmul,
            rnn_stack,
            rnn_while,
            rnn_class,
            rnn_default_argument,
            rnn_transposed,
            rnn_closure,
            rnn_lambda,
            rnn_partial,
            rnn_dataclass,
            rnn_layer_class,
        ),
        rnn_by_hand,
        ("W", "U", "b"),
        rnn_inputs,
        50,
    ),
    _function(
        "gru",
        (
            gru_inline,
            gru_helpers,
            gru_dot_iterate,
            gru_list,
            gru_zeros,
            gru_expit,
            gru_augmented,
            gru_class,
            gru_closure,
            gru_partial,
        ),
        gru_by_hand,
        ("Wz", "Uz", "Wr", "Ur", "Wn", "Un"),
        gru_inputs,
        50,
    ),
    _function(
        "fixed_point",
        (
            fixed_point_power,
            fixed_point_product,
            fixed_point_helper,
            fixed_point_augmented,
            fixed_point_while,
            fixed_point_recursive,
            fixed_point_math,
            fixed_point_default,
            fixed_point_lambda,
            fixed_point_countdown,
        ),
        fixed_point_by_hand,
        ("x",),
        fixed_point_inputs,
        100,
    ),
    _function(
        "horner",
        (
            horner_iterate,
            horner_range,
            horner_augmented,
            horner_helper,
            horner_powers,
            horner_recursive,
            horner_polyval,
            horner_vander,
            horner_while,
        ),
        horner_by_hand,
        ("coeffs", "x"),
        horner_inputs,
        50,
    ),
    _function(
        "heat",
        (
            heat_copy,
            heat_concatenate,
            heat_in_place,
            heat_helper,
            heat_zeros,
            heat_diff,
            heat_augmented_slice,
            heat_convolve,
            heat_roll,
            heat_empty_like,
            heat_hstack,
            heat_pad,
            heat_r_,
        ),
        heat_by_hand,
        ("u0", "alpha"),
        heat_inputs,
        100,
    ),
    _function(
        "logreg",
        (
            logreg_sigmoid,
            logreg_logaddexp,
            logreg_helper,
            logreg_log1p,
            logreg_expit,
            logreg_stable,
            logreg_tanh,
            logreg_loop,
        ),
        logreg_by_hand,
        ("w", "b"),
        logreg_inputs,
        0,
    ),
    _function(
        "mlp_rows",
        (
            mlp_rows_maximum,
            mlp_rows_where,
            mlp_rows_mask,
            mlp_rows_helper,
            mlp_rows_einsum,
            mlp_rows_abs,
        ),
        mlp_rows_by_hand,
        ("W1", "b1", "W2", "b2"),
        mlp_rows_inputs,
        0,
    ),
    _function(
        "mlp_cols",
        (
            mlp_cols_matmul,
            mlp_cols_dot,
            mlp_cols_method,
            mlp_cols_helper,
            mlp_cols_transposed,
            mlp_cols_einsum,
        ),
        mlp_cols_by_hand,
        ("W1", "b1", "W2", "b2"),
        mlp_cols_inputs,
        0,
    ),
    _function(
        "softmax_xent",
        (
            xent_keepdims,
            xent_none,
            xent_probabilities,
            xent_labels,
            xent_helper,
            xent_scipy,
            xent_unstable,
            xent_take_along,
            xent_log_softmax,
        ),
        xent_by_hand,
        ("W", "b"),
        xent_inputs,
        0,
    ),
    _function(
        "layer_norm",
        (
            layer_norm_keepdims,
            layer_norm_none,
            layer_norm_var,
            layer_norm_helper,
            layer_norm_rows,
            layer_norm_sum_over_n,
            layer_norm_transposed,
            layer_norm_einsum,
            layer_norm_std,
            layer_norm_moments,
            layer_norm_columns,
        ),
        layer_norm_by_hand,
        ("x", "gamma", "beta"),
        layer_norm_inputs,
        128,
    ),
    _function(
        "mse",
        (
            mse_mean,
            mse_sum,
            mse_square,
            mse_loop,
            mse_loop_augmented,
            mse_norm,
            mse_dot,
            mse_average,
            mse_enumerate,
        ),
        mse_by_hand,
        ("w",),
        mse_inputs,
        500,
        small_length=7,
    ),
    _function(
        "logsumexp",
        (
            logsumexp_keepdims,
            logsumexp_none,
            logsumexp_naive,
            logsumexp_loop,
            logsumexp_helper,
            logsumexp_scipy,
            logsumexp_transposed,
            logsumexp_generator,
            logsumexp_amax,
            logsumexp_rows_builtin_sum,
        ),
        logsumexp_by_hand,
        ("X",),
        logsumexp_inputs,
        256,
    ),
    _function(
        "huber",
        (
            huber_where,
            huber_clip,
            huber_loop,
            huber_mask,
            huber_minimum,
            huber_minimum_linear,
        ),
        huber_by_hand,
        ("w",),
        huber_inputs,
        500,
        small_length=7,
    ),
    _function(
        "lstm",
        (lstm_slices, lstm_split, lstm_helper),
        lstm_by_hand,
        ("Wx", "Wh", "b"),
        lstm_inputs,
        50,
    ),
    _function(
        "attention",
        (
            attention_stable,
            attention_einsum,
            attention_helper,
            attention_scipy,
            attention_batched_einsum,
        ),
        attention_by_hand,
        ("Wq", "Wk", "Wv"),
        attention_inputs,
        0,
    ),
    _function(
        "conv1d",
        (
            conv_slices,
            conv_augmented,
            conv_convolve,
            conv_correlate,
            conv_windows,
            conv_generator,
            conv_dot_loop,
            conv_windows_sum,
            conv_full_sliced,
        ),
        conv_by_hand,
        ("w", "x"),
        conv_inputs,
        9,
        small_length=3,
    ),
)


def with_variants(table: dict[str, tuple[Callable, ...]]) -> tuple[Function, ...]:
    """The functions named in ``table``, each with its variants given there instead (another
    hand's, against the same hand-written adjoint and inputs)."""
    return tuple(
        replace(function, variants=tuple(Variant(v.__name__, v, has_loop(v)) for v in table[name]))
        for function in FUNCTIONS
        if (name := function.name) in table
    )
