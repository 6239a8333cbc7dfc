"""Variants of the benchmark's functions in a third hand, written without reading the variants
of ``variants_functions.py`` or ``variants_unseen.py``: the same math as people write it in

- a researcher's notebook: short names, methods chained (``x.T.dot(y)``, ``.mean(axis=-1)``),
  in-place updates of fresh arrays, ``np.linalg.norm`` for a sum of squares, states started with
  ``np.zeros``;
- a textbook: ``while`` loops with a counter, ``for t, x in enumerate(xs)``, one name per
  quantity, an early ``return`` inside a loop, ``math`` on floats, a loop over rows;
- a library: small classes and dataclasses holding parameters, closures, ``functools.reduce``,
  comprehensions and ``np.stack`` of a list, ``np.einsum``, ``np.add.reduce``, negative axes,
  ``np.float64`` constants, helpers with keyword arguments.

Each function reuses the hand-written adjoint and the inputs of ``variants_functions.py``
(``FUNCTIONS`` here holds the same functions with these variants), so that
``python benchmarks/variants.py --third`` times them against the same reference.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import variants_functions as base

# -- RNN: h = tanh(h W + x U + b) over the steps, loss sum(h^2) ---------------------------------


def rnn_t_notebook(W, U, b, xs, h0):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(len(xs)):
        h = np.tanh(h.dot(W) + xs[t].dot(U) + b)
    return (h**2).sum()


def rnn_t_stack_states(W, U, b, xs, h0):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(hs[-1] @ W + x @ U + b))
    H = np.stack(hs)
    return np.sum(H[-1] ** 2)


def rnn_t_reduce(W, U, b, xs, h0):
    h = functools.reduce(lambda h, x: np.tanh(h @ W + x @ U + b), xs, h0)
    return np.einsum("ij,ij->", h, h)


@dataclasses.dataclass
class ElmanCell:
    """The parameters of an Elman cell; calling it makes one step."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __call__(self, h, x):
        return np.tanh(np.dot(h, self.W) + np.dot(x, self.U) + self.b)


def rnn_t_dataclass(W, U, b, xs, h0):
    cell = ElmanCell(W, U, b)
    h = h0
    for t, x in enumerate(xs):
        h = cell(h, x)
    return np.square(h).sum()


def rnn_t_while_inplace(W, U, b, xs, h0):
    h = h0
    t = 0
    while t < xs.shape[0]:
        a = h @ W
        a += xs[t] @ U
        a += b
        h = np.tanh(a)
        t += 1
    return np.linalg.norm(h) ** 2


def rnn_t_closure(W, U, b, xs, h0):
    def make_step(weights, inputs, bias):
        def step(state, x):
            return np.tanh(state @ weights + x @ inputs + bias)

        return step

    step = make_step(W, U, b)
    state = h0
    for x in xs:
        state = step(state, x)
    return np.sum(state * state, axis=-1).sum()


# -- GRU: gates z, r; candidate n from r * h; h = (1 - z) n + z h --------------------------------


def gru_t_notebook(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = np.zeros_like(h0)
    for x in xs:
        z = 1 / (1 + np.exp(-(x @ Wz + h @ Uz)))
        r = 1 / (1 + np.exp(-(x @ Wr + h @ Ur)))
        n = np.tanh(x @ Wn + (r * h) @ Un)
        h = (1 - z) * n + z * h
    return np.sum(h**2)


class GRUCell:
    """A GRU cell as a small model class: its weights as attributes, a gate method."""

    def __init__(self, Wz, Uz, Wr, Ur, Wn, Un):
        self.Wz, self.Uz, self.Wr, self.Ur, self.Wn, self.Un = Wz, Uz, Wr, Ur, Wn, Un

    @staticmethod
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    def forward(self, x, h):
        z = self.sigmoid(x.dot(self.Wz) + h.dot(self.Uz))
        r = self.sigmoid(x.dot(self.Wr) + h.dot(self.Ur))
        n = np.tanh(x.dot(self.Wn) + (r * h).dot(self.Un))
        return n + z * (h - n)


def gru_t_class(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    cell = GRUCell(Wz, Uz, Wr, Ur, Wn, Un)
    h = h0
    for t in range(xs.shape[0]):
        h = cell.forward(xs[t], h)
    return (h * h).sum()


def gru_t_tanh_sigmoid(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for t, x in enumerate(xs):
        z = 0.5 * (1.0 + np.tanh(0.5 * (x @ Wz + h @ Uz)))
        r = 0.5 * (1.0 + np.tanh(0.5 * (x @ Wr + h @ Ur)))
        n = np.tanh(x @ Wn + np.dot(r * h, Un))
        h = z * h + (1.0 - z) * n
    return np.linalg.norm(h) ** 2


def gru_t_list_stack(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    states = [h0]
    for x in xs:
        h = states[-1]
        z = sigmoid(x @ Wz + h @ Uz)
        r = sigmoid(x @ Wr + h @ Ur)
        n = np.tanh(x @ Wn + (r * h) @ Un)
        states.append((1.0 - z) * n + z * h)
    return np.sum(np.stack(states)[-1] ** 2)


def gru_t_einsum(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for x in xs:
        z = 1.0 / (1.0 + np.exp(-(np.einsum("bf,fh->bh", x, Wz) + np.einsum("bk,kh->bh", h, Uz))))
        r = 1.0 / (1.0 + np.exp(-(np.einsum("bf,fh->bh", x, Wr) + np.einsum("bk,kh->bh", h, Ur))))
        n = np.tanh(np.einsum("bf,fh->bh", x, Wn) + np.einsum("bk,kh->bh", r * h, Un))
        h = (1.0 - z) * n + z * h
    return np.einsum("bh,bh->", h, h)


# -- LSTM: a = x Wx + h Wh + b cut in i, f, o (sigmoid) and g (tanh) -----------------------------


def lstm_t_notebook(Wx, Wh, b, xs, h0):
    H = h0.shape[-1]
    h, c = h0, np.zeros_like(h0)
    for x in xs:
        a = x @ Wx + h @ Wh + b
        i = 1 / (1 + np.exp(-a[:, :H]))
        f = 1 / (1 + np.exp(-a[:, H : 2 * H]))
        o = 1 / (1 + np.exp(-a[:, 2 * H : 3 * H]))
        g = np.tanh(a[:, 3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return (h**2).sum()


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm_t_split(Wx, Wh, b, xs, h0):
    h = h0
    c = np.zeros(h0.shape)
    t = 0
    while t < len(xs):
        i, f, o, g = np.split(xs[t].dot(Wx) + h.dot(Wh) + b, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        t += 1
    return np.sum(np.square(h))


def _lstm_cell(x, state, Wx, Wh, b):
    h, c = state
    hidden = h.shape[1]
    a = x @ Wx + h @ Wh + b
    gates = _sigmoid(a[:, : 3 * hidden])
    c = gates[:, hidden : 2 * hidden] * c + gates[:, :hidden] * np.tanh(a[:, 3 * hidden :])
    return gates[:, 2 * hidden :] * np.tanh(c), c


def lstm_t_tuple_state(Wx, Wh, b, xs, h0):
    state = (h0, np.zeros_like(h0))
    for x in xs:
        state = _lstm_cell(x, state, Wx, Wh, b)
    return np.sum(state[0] ** 2)


def lstm_t_reshape_gates(Wx, Wh, b, xs, h0):
    h = h0
    c = 0.0 * h0
    for x in xs:
        a = (x @ Wx + h @ Wh + b).reshape(h.shape[0], 4, -1)
        i, f, o = _sigmoid(a[:, 0]), _sigmoid(a[:, 1]), _sigmoid(a[:, 2])
        c = f * c + i * np.tanh(a[:, 3])
        h = o * np.tanh(c)
    return np.vdot(h, h)


# -- scalar fixed point: x <- x - 0.01 (x^3 - 2x) ---------------------------------------------


def fixed_point_t_math(x, steps):
    for _ in range(steps):
        x -= 0.01 * (math.pow(x, 3) - 2.0 * x)
    return x


def fixed_point_t_while_chained(x, steps):
    k = 0
    while 0 <= k < steps:
        x = x - 0.01 * (x * x * x - 2 * x)
        k += 1
    return x


def fixed_point_t_early_return(x, steps):
    for k in range(steps + 1):
        if k == steps:
            return x
        x = x - 0.01 * (x**3 - 2.0 * x)


def fixed_point_t_reduce(x, steps):
    return functools.reduce(lambda x, _: x - 0.01 * (x**3 - 2 * x), range(steps), x)


def fixed_point_t_float64(x, steps):
    rate = np.float64(0.01)
    for _ in range(steps):
        x = x + rate * (2.0 * x - x**3)
    return x


def _potential_slope(x):
    return x**3 - 2.0 * x


def _descend(x, steps, learning_rate=0.01):
    for _ in range(steps):
        x = x - learning_rate * _potential_slope(x)
    return x


def fixed_point_t_helpers(x, steps):
    return _descend(x, steps, learning_rate=0.01)


# -- Horner: p <- p x + c over the coefficients, highest degree first -----------------------


def horner_t_reduce(coeffs, x):
    p = functools.reduce(lambda acc, c: acc * x + c, coeffs, np.zeros_like(x))
    return np.sum(p)


def horner_t_inplace(coeffs, x):
    p = np.zeros_like(x)
    for c in coeffs:
        p *= x
        p += c
    return p.sum()


def horner_t_while(coeffs, x):
    i = 0
    p = 0.0 * x
    while i < coeffs.size:
        p = x * p + coeffs[i]
        i += 1
    return np.add.reduce(p)


def horner_t_powers(coeffs, x):
    n = len(coeffs)
    return np.sum(sum(c * x ** (n - 1 - k) for k, c in enumerate(coeffs)))


class Polynomial:
    """Coefficients, highest degree first, evaluated by Horner's rule."""

    def __init__(self, coefficients):
        self.coefficients = coefficients

    def __call__(self, x):
        result = np.zeros(x.shape)
        for c in self.coefficients:
            result = result * x + c
        return result


def horner_t_class(coeffs, x):
    return Polynomial(coeffs)(x).sum()


def horner_t_index(coeffs, x):
    p = np.zeros(len(x))
    for k in range(len(coeffs)):
        p = p * x + coeffs[k]
    return np.dot(p, np.ones(len(x)))


# -- heat: u[1:-1] <- u[1:-1] + alpha (u[2:] - 2 u[1:-1] + u[:-2]), loss sum(u^2) ----------------


def heat_t_notebook(u0, alpha, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
    return (u**2).sum()


def heat_t_laplacian_inplace(u0, alpha, steps):
    u = np.array(u0)
    for n in range(steps):
        lap = u[:-2] - 2.0 * u[1:-1] + u[2:]
        u[1:-1] += alpha * lap
    return u @ u


def heat_t_new_array(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        new = u.copy()
        new[1:-1] += alpha * (u[2:] + u[:-2] - 2 * u[1:-1])
        u = new
    return np.linalg.norm(u) ** 2


def heat_t_diff(u0, alpha, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] += alpha * np.diff(u, 2)
    return np.sum(u * u)


def _heat_step(u, r):
    out = u.copy()
    out[1:-1] = (1.0 - 2.0 * r) * u[1:-1] + r * (u[:-2] + u[2:])
    return out


def heat_t_helper_while(u0, alpha, steps):
    u = u0
    k = 0
    while k < steps:
        u = _heat_step(u, alpha)
        k += 1
    return np.sum(u**2)


def heat_t_concatenate(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        interior = u[1:-1] + alpha * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = np.concatenate(([u[0]], interior, [u[-1]]))
    return np.dot(u, u)


# -- logistic regression: mean of log(1 + exp(z)) - y z, z = X w + b ----------------------------


def logreg_t_textbook(w, b, X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_t_logaddexp(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logreg_t_dot_method(w, b, X, y):
    z = X.dot(w) + b
    return np.sum(np.log1p(np.exp(-z)) + (1 - y) * z) / len(y)


def logreg_t_rows_math(w, b, X, y):
    total = 0.0
    for xi, yi in zip(X, y):
        z = xi @ w + b
        total += math.log(1.0 + math.exp(z)) - yi * z
    return total / len(X)


def logreg_t_where_stable(w, b, X, y):
    z = X @ w + b
    softplus = np.where(z > 0, z + np.log1p(np.exp(-np.abs(z))), np.log1p(np.exp(-np.abs(z))))
    return np.mean(softplus - y * z, axis=-1)


class LogisticRegression:
    """A model object: weights and bias, a method for the logits and one for the loss."""

    def __init__(self, w, b):
        self.w = w
        self.b = b

    def logits(self, X):
        return X @ self.w + self.b

    def loss(self, X, y):
        z = self.logits(X)
        return np.mean(np.log(1.0 + np.exp(z)) - y * z)


def logreg_t_class(w, b, X, y):
    return LogisticRegression(w, b).loss(X, y)


# -- MLP, batch in rows: mean((relu(X W1 + b1) W2 + b2 - T)^2) -----------------------------------


def mlp_rows_t_where(W1, b1, W2, b2, X, T):
    z = X @ W1 + b1
    h = np.where(z > 0, z, 0.0)
    return np.mean(np.square(h @ W2 + b2 - T))


def mlp_rows_t_mask(W1, b1, W2, b2, X, T):
    z = X.dot(W1) + b1
    h = z * (z > 0)
    err = h.dot(W2) + b2 - T
    return (err * err).sum() / err.size


def mlp_rows_t_layers_list(W1, b1, W2, b2, X, T):
    layers = [(W1, b1), (W2, b2)]
    a = X
    for i, (W, b) in enumerate(layers):
        a = a @ W + b
        if i < len(layers) - 1:
            a = np.maximum(a, 0)
    return ((a - T) ** 2).mean()


def mlp_rows_t_clip_axis(W1, b1, W2, b2, X, T):
    h = np.clip(X @ W1 + b1, 0.0, None)
    y = h @ W2 + b2
    return np.mean((y - T) ** 2, axis=-1).mean()


def mlp_rows_t_einsum(W1, b1, W2, b2, X, T):
    h = np.maximum(0, np.einsum("ni,ih->nh", X, W1) + b1)
    y = np.einsum("nh,ho->no", h, W2) + b2
    return np.einsum("no,no->", y - T, y - T) / y.size


# -- MLP, batch in columns: mean((W2 relu(W1 X + b1) + b2 - T)^2) --------------------------------


def mlp_cols_t_notebook(W1, b1, W2, b2, X, T):
    H = np.maximum(W1 @ X + b1, 0)
    Y = W2 @ H + b2
    return ((Y - T) ** 2).mean()


def mlp_cols_t_reshape_bias(W1, b1, W2, b2, X, T):
    z = W1.dot(X) + b1.reshape(-1, 1)
    h = np.where(z > 0.0, z, 0.0)
    out = W2.dot(h) + b2.ravel()[:, None]
    return np.mean(np.square(out - T))


def mlp_cols_t_rows_inside(W1, b1, W2, b2, X, T):
    H = np.maximum(X.T @ W1.T + b1.T, 0.0)
    Y = H @ W2.T + b2.T
    return np.sum((Y - T.T) ** 2) / Y.size


def mlp_cols_t_inplace_mask(W1, b1, W2, b2, X, T):
    z = W1 @ X
    z += b1
    h = z * (z > 0)
    err = W2 @ h + b2 - T
    return np.sum(err**2) / np.float64(err.size)


def _dense(W, x, b, relu=False):
    z = W @ x + b
    return np.maximum(z, 0.0) if relu else z


def mlp_cols_t_helper_flag(W1, b1, W2, b2, X, T):
    y = _dense(W2, _dense(W1, X, b1, relu=True), b2)
    return np.mean((y - T) ** 2)


# -- softmax cross-entropy: -mean over rows of log softmax at the label ---------------------------


def xent_t_notebook(W, b, X, onehot, labels):
    logits = X @ W + b
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -(onehot * logp).sum() / X.shape[0]


def xent_t_label_index(W, b, X, onehot, labels):
    z = X.dot(W) + b
    z = z - np.max(z, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def xent_t_probabilities(W, b, X, onehot, labels):
    z = X @ W + b
    e = np.exp(z - z.max(axis=-1)[:, None])
    p = e / e.sum(axis=-1)[:, None]
    return -np.mean(np.log(np.sum(p * onehot, axis=-1)))


def _softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _cross_entropy(p, targets):
    return -np.sum(targets * np.log(p)) / len(targets)


def xent_t_helpers(W, b, X, onehot, labels):
    return _cross_entropy(_softmax(X @ W + b), onehot)


def xent_t_rows_loop(W, b, X, onehot, labels):
    logits = X @ W + b
    loss = 0.0
    for i, row in enumerate(logits):
        m = row.max()
        loss -= row[labels[i]] - m - np.log(np.sum(np.exp(row - m)))
    return loss / len(labels)


def xent_t_einsum(W, b, X, onehot, labels):
    z = np.einsum("nf,fc->nc", X, W) + b
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -np.einsum("nc,nc->", onehot, logp) / z.shape[0]


# -- layer norm: sum(R * (gamma (x - mean) / sqrt(var + 1e-5) + beta)) ----------------------------


def layer_norm_t_notebook(x, gamma, beta, R):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = gamma * (x - mu) / np.sqrt(var + 1e-5) + beta
    return np.sum(R * y)


def layer_norm_t_var(x, gamma, beta, R):
    eps = 1e-5
    mu = np.mean(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    return np.sum(R * ((x - mu) / np.sqrt(var + eps) * gamma + beta))


def layer_norm_t_none_index(x, gamma, beta, R):
    mu = x.mean(-1)[:, None]
    sigma = np.sqrt(np.mean((x - mu) ** 2, axis=-1) + 1e-5)[:, None]
    out = gamma * ((x - mu) / sigma) + beta
    return np.einsum("nd,nd->", R, out)


def layer_norm_t_norm(x, gamma, beta, R):
    centred = x - x.mean(axis=-1, keepdims=True)
    rms = np.linalg.norm(centred, axis=-1, keepdims=True) / np.sqrt(x.shape[-1])
    std = np.sqrt(rms**2 + 1e-5)
    return np.sum(R * (gamma * centred / std + beta))


@dataclasses.dataclass(frozen=True)
class LayerNorm:
    """A layer norm's parameters; calling it normalises the last axis."""

    gamma: np.ndarray
    beta: np.ndarray
    eps: float = 1e-5

    def __call__(self, x):
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return self.gamma * centred / np.sqrt(variance + self.eps) + self.beta


def layer_norm_t_dataclass(x, gamma, beta, R):
    return (R * LayerNorm(gamma, beta)(x)).sum()


def layer_norm_t_rows_math(x, gamma, beta, R):
    total = 0.0
    for i in range(x.shape[0]):
        row = x[i]
        m = row.mean()
        v = ((row - m) ** 2).mean()
        total += np.dot(R[i], gamma * (row - m) / math.sqrt(v + 1e-5) + beta)
    return total


# -- MSE: mean((X w - y)^2) ------------------------------------------------------------------


def mse_t_norm(w, X, y):
    return np.linalg.norm(X @ w - y) ** 2 / len(y)


def mse_t_dot_self(w, X, y):
    r = X.dot(w) - y
    return r.dot(r) / r.shape[0]


def mse_t_add_reduce(w, X, y):
    return np.add.reduce((X @ w - y) ** 2) / y.size


def mse_t_rows_loop(w, X, y):
    total = 0.0
    for i in range(len(y)):
        e = X[i] @ w - y[i]
        total += e * e
    return total / len(y)


def mse_t_generator(w, X, y):
    return sum((xi @ w - yi) ** 2 for xi, yi in zip(X, y)) / len(y)


def mse_t_negative_axis(w, X, y):
    return np.mean(np.square(np.dot(X, w) - y), axis=-1)


# -- logsumexp over rows, summed ----------------------------------------------------------------


def logsumexp_t_notebook(X):
    m = X.max(axis=1)
    return np.sum(m + np.log(np.sum(np.exp(X - m[:, None]), axis=1)))


def logsumexp_t_negative_axis(X):
    m = np.max(X, axis=-1, keepdims=True)
    return np.sum(np.log(np.exp(X - m).sum(-1)) + m.squeeze(-1))


def _row_lse(v):
    m = v.max()
    return m + np.log(np.exp(v - m).sum())


def logsumexp_t_stack_list(X):
    return np.stack([_row_lse(row) for row in X]).sum()


def logsumexp_t_while_math(X):
    i = 0
    total = 0.0
    while i < X.shape[0]:
        m = np.max(X[i])
        total += m + math.log(np.exp(X[i] - m).sum())
        i += 1
    return total


def logsumexp_t_logaddexp_reduce(X):
    return np.logaddexp.reduce(X, axis=1).sum()


def logsumexp_t_matvec_ones(X):
    m = X.max(axis=-1, keepdims=True)
    s = np.exp(X - m) @ np.ones(X.shape[1])
    return np.sum(np.log(s) + m[:, 0])


# -- the table -----------------------------------------------------------------------------------

VARIANTS = {
    "rnn": (
        rnn_t_notebook,
        rnn_t_stack_states,
        rnn_t_reduce,
        rnn_t_dataclass,
        rnn_t_while_inplace,
        rnn_t_closure,
    ),
    "gru": (gru_t_notebook, gru_t_class, gru_t_tanh_sigmoid, gru_t_list_stack, gru_t_einsum),
    "lstm": (lstm_t_notebook, lstm_t_split, lstm_t_tuple_state, lstm_t_reshape_gates),
    "fixed_point": (
        fixed_point_t_math,
        fixed_point_t_while_chained,
        fixed_point_t_early_return,
        fixed_point_t_reduce,
        fixed_point_t_float64,
        fixed_point_t_helpers,
    ),
    "horner": (
        horner_t_reduce,
        horner_t_inplace,
        horner_t_while,
        horner_t_powers,
        horner_t_class,
        horner_t_index,
    ),
    "heat": (
        heat_t_notebook,
        heat_t_laplacian_inplace,
        heat_t_new_array,
        heat_t_diff,
        heat_t_helper_while,
        heat_t_concatenate,
    ),
    "logreg": (
        logreg_t_textbook,
        logreg_t_logaddexp,
        logreg_t_dot_method,
        logreg_t_rows_math,
        logreg_t_where_stable,
        logreg_t_class,
    ),
    "mlp_rows": (
        mlp_rows_t_where,
        mlp_rows_t_mask,
        mlp_rows_t_layers_list,
        mlp_rows_t_clip_axis,
        mlp_rows_t_einsum,
    ),
    "mlp_cols": (
        mlp_cols_t_notebook,
        mlp_cols_t_reshape_bias,
        mlp_cols_t_rows_inside,
        mlp_cols_t_inplace_mask,
        mlp_cols_t_helper_flag,
    ),
    "softmax_xent": (
        xent_t_notebook,
        xent_t_label_index,
        xent_t_probabilities,
        xent_t_helpers,
        xent_t_rows_loop,
        xent_t_einsum,
    ),
    "layer_norm": (
        layer_norm_t_notebook,
        layer_norm_t_var,
        layer_norm_t_none_index,
        layer_norm_t_norm,
        layer_norm_t_dataclass,
        layer_norm_t_rows_math,
    ),
    "mse": (
        mse_t_norm,
        mse_t_dot_self,
        mse_t_add_reduce,
        mse_t_rows_loop,
        mse_t_generator,
        mse_t_negative_axis,
    ),
    "logsumexp": (
        logsumexp_t_notebook,
        logsumexp_t_negative_axis,
        logsumexp_t_stack_list,
        logsumexp_t_while_math,
        logsumexp_t_logaddexp_reduce,
        logsumexp_t_matvec_ones,
    ),
}

FUNCTIONS = base.with_variants(VARIANTS)
