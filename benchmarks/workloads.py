"""The benchmark workloads: a forward function in plain NumPy, its adjoint written by hand (the
limit every contender is measured against), inputs at several sizes, and the same function for
PyTorch (whose API differs enough that it is written out again).

The NumPy forward functions are differentiated by overbar as they are; autograd and JAX run the
same code with ``np`` bound to ``autograd.numpy`` or ``jax.numpy``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# -- mlp: the two-layer network of DESIGN.md, batched over columns ------------------------------


def mlp(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = 1.0 / (1.0 + np.exp(-z))
    y = W2 @ h + b2
    return 0.5 * np.sum((y - t) ** 2)


def mlp_by_hand(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = 1.0 / (1.0 + np.exp(-z))
    y = W2 @ h + b2
    y_bar = y - t
    h_bar = W2.T @ y_bar
    z_bar = h_bar * h * (1.0 - h)
    grads = (z_bar @ x.T, z_bar.sum(axis=1, keepdims=True), y_bar @ h.T)
    return grads + (y_bar.sum(axis=1, keepdims=True),)


def mlp_torch(torch, W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = 1.0 / (1.0 + torch.exp(-z))
    y = W2 @ h + b2
    return 0.5 * torch.sum((y - t) ** 2)


def mlp_inputs(n_in, n_hidden, n_out, batch, rng):
    return [
        rng.normal(scale=n_in**-0.5, size=(n_hidden, n_in)),
        rng.normal(size=(n_hidden, 1)),
        rng.normal(scale=n_hidden**-0.5, size=(n_out, n_hidden)),
        rng.normal(size=(n_out, 1)),
        rng.normal(size=(n_in, batch)),
        rng.normal(size=(n_out, batch)),
    ]


# -- rnn: a vanilla RNN unrolled by a Python loop -----------------------------------------------


def rnn(W, U, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h * h)


def rnn_by_hand(W, U, h0, xs):
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W @ hs[-1] + U @ xs[t]))
    h_bar = 2.0 * hs[-1]
    W_bar = np.zeros_like(W)
    U_bar = np.zeros_like(U)
    for t in range(xs.shape[0] - 1, -1, -1):
        a_bar = h_bar * (1.0 - hs[t + 1] ** 2)
        W_bar += np.outer(a_bar, hs[t])
        U_bar += np.outer(a_bar, xs[t])
        h_bar = W.T @ a_bar
    return W_bar, U_bar, h_bar


def rnn_torch(torch, W, U, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(W @ h + U @ xs[t])
    return torch.sum(h * h)


def rnn_inputs(steps, n, rng):
    return [
        rng.normal(scale=0.5 * n**-0.5, size=(n, n)),
        rng.normal(scale=n**-0.5, size=(n, n)),
        rng.normal(size=n),
        rng.normal(size=(steps, n)),
    ]


# -- elementwise ---------------------------------------------------------------------------------


def elementwise(x):
    return np.sum(np.sin(x) * np.exp(-(x**2)) + np.log1p(x * x))


def elementwise_by_hand(x):
    s, e = np.sin(x), np.exp(-(x**2))
    return (np.cos(x) * e - 2.0 * x * s * e + 2.0 * x / (1.0 + x * x),)


def elementwise_torch(torch, x):
    return torch.sum(torch.sin(x) * torch.exp(-(x**2)) + torch.log1p(x * x))


# -- scalar: a 100-iteration loop on a Python float ----------------------------------------------


def scalar(x):
    s = x
    for _ in range(100):
        s = np.sin(s) * 0.9 + 0.1 * s * x
    return s


def scalar_by_hand(x):
    values = [x]
    s = x
    for _ in range(100):
        s = np.sin(s) * 0.9 + 0.1 * s * x
        values.append(s)
    s_bar, x_bar = 1.0, 0.0
    for i in range(99, -1, -1):
        previous = values[i]
        x_bar += s_bar * 0.1 * previous
        s_bar = s_bar * (0.9 * np.cos(previous) + 0.1 * x)
    return (x_bar + s_bar,)


def scalar_torch(torch, x):
    s = x
    for _i in range(100):
        s = torch.sin(s) * 0.9 + 0.1 * s * x
    return s


# -- softmax cross-entropy classifier ------------------------------------------------------------


def softmax_xent(W, b, x, onehot):
    logits = x @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs * onehot) / x.shape[0]


def softmax_xent_by_hand(W, b, x, onehot):
    logits = x @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    logits_bar = (probs - onehot) / x.shape[0]
    return x.T @ logits_bar, logits_bar.sum(axis=0)


def softmax_xent_torch(torch, W, b, x, onehot):
    logits = x @ W + b
    shifted = logits - torch.max(logits, dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
    return -torch.sum(log_probs * onehot) / x.shape[0]


def softmax_inputs(batch, classes, features, rng):
    labels = rng.integers(0, classes, size=batch)
    return [
        rng.normal(scale=features**-0.5, size=(features, classes)),
        np.zeros(classes),
        rng.normal(size=(batch, features)),
        np.eye(classes)[labels],
    ]


@dataclass(frozen=True)
class Workload:
    name: str
    forward: Callable
    by_hand: Callable
    torch_forward: Callable
    wrt: tuple[int, ...]
    sizes: tuple[tuple[str, Callable[[Any], list]], ...]


WORKLOADS = [
    Workload(
        "mlp",
        mlp,
        mlp_by_hand,
        mlp_torch,
        (0, 1, 2, 3),
        (
            ("4-8-2 x1", lambda r: mlp_inputs(4, 8, 2, 1, r)),
            ("64-128-10 x32", lambda r: mlp_inputs(64, 128, 10, 32, r)),
            ("512-1024-10 x256", lambda r: mlp_inputs(512, 1024, 10, 256, r)),
            ("1024-4096-10 x1024", lambda r: mlp_inputs(1024, 4096, 10, 1024, r)),
        ),
    ),
    Workload(
        "rnn",
        rnn,
        rnn_by_hand,
        rnn_torch,
        (0, 1, 2),
        (
            ("T50 n8", lambda r: rnn_inputs(50, 8, r)),
            ("T200 n64", lambda r: rnn_inputs(200, 64, r)),
        ),
    ),
    Workload(
        "elementwise",
        elementwise,
        elementwise_by_hand,
        elementwise_torch,
        (0,),
        (
            ("10", lambda r: [r.normal(size=10)]),
            ("10^4", lambda r: [r.normal(size=10**4)]),
            ("10^6", lambda r: [r.normal(size=10**6)]),
        ),
    ),
    Workload(
        "scalar", scalar, scalar_by_hand, scalar_torch, (0,), (("100 steps", lambda r: [0.3]),)
    ),
    Workload(
        "softmax-xent",
        softmax_xent,
        softmax_xent_by_hand,
        softmax_xent_torch,
        (0, 1),
        (("128x10x784", lambda r: softmax_inputs(128, 10, 784, r)),),
    ),
]
