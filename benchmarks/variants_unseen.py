"""Variants of the benchmark's functions that overbar's authors did not tune for: the same math
as ``variants_functions.py``, written in three more hands.

- research code: long expressions, chained methods, ``np.einsum`` where it is natural;
- a textbook: explicit loops, an intermediate name for every quantity;
- a library: small helpers with keyword arguments, ``axis=-1`` and ``keepdims=True``,
  ``np.clip`` for stability, ``x.T``, dtype arguments, ``np.float64`` constants,
  tuple-returning helpers, ``enumerate``, ``zip`` and ``reversed``, states made with
  ``np.zeros_like``.

Each function reuses the hand-written adjoint and the inputs of ``variants_functions.py``
(``FUNCTIONS`` here holds the same functions with these variants), so that
``python benchmarks/variants.py --unseen`` times them against the same reference.
"""

from __future__ import annotations

import numpy as np
import variants_functions as base

# -- rnn -----------------------------------------------------------------------------------------


def rnn_u_zeros_like_enumerate(W, U, b, xs, h0):
    h = np.zeros_like(h0)
    for t, x in enumerate(xs):  # noqa: B007 (written as people write it)
        h = np.tanh(x @ U + h @ W + b)
    return (h**2).sum()


def rnn_u_textbook(W, U, b, xs, h0):
    T = xs.shape[0]
    h = h0
    for t in range(T):
        x_t = xs[t]
        recurrent = np.dot(h, W)
        incoming = np.dot(x_t, U)
        pre_activation = recurrent + incoming + b
        h = np.tanh(pre_activation)
    loss = np.sum(h * h)
    return loss


def _linear(x, weight, bias=None):
    out = x @ weight
    if bias is not None:
        out = out + bias
    return out


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_u_library(W, U, b, xs, h0):
    h = np.zeros((xs.shape[1], W.shape[1]), dtype=np.float64)
    for x in xs:
        h = 2.0 * _sigmoid(2.0 * (_linear(h, W) + _linear(x, U, bias=b))) - 1.0
    return np.sum(np.square(h), axis=None)


def _rnn_cell_with_preactivation(h, x, W, U, b):
    a = h @ W + x @ U + b
    return np.tanh(a), a


def rnn_u_tuple_helper(W, U, b, xs, h0):
    h = h0
    for t in range(len(xs)):
        h, _ = _rnn_cell_with_preactivation(h, xs[t], W, U, b)
    return np.sum(h**2)


def rnn_u_list_zip(W, U, b, xs, h0):
    hs = [np.zeros(h0.shape)]
    for x, _ in zip(xs, range(len(xs))):  # noqa: B905 (written as people write it)
        hs.append(np.tanh(hs[-1] @ W + x @ U + b))
    return np.sum(np.square(hs[-1]))


def rnn_u_research(W, U, b, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(np.einsum("bh,hk->bk", h, W) + x.dot(U) + b[None, :])
    return np.einsum("bk,bk->", h, h)


# -- gru -----------------------------------------------------------------------------------------


def gru_u_textbook(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = np.zeros_like(h0)
    for t, x in enumerate(xs):  # noqa: B007 (written as people write it)
        z_pre = np.dot(x, Wz) + np.dot(h, Uz)
        z = _sigmoid(z_pre)
        r_pre = np.dot(x, Wr) + np.dot(h, Ur)
        r = _sigmoid(r_pre)
        candidate_pre = np.dot(x, Wn) + np.dot(r * h, Un)
        candidate = np.tanh(candidate_pre)
        h = z * h + (1.0 - z) * candidate
    return np.sum(h**2)


def _stable_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def _gru_step(h, x, params):
    Wz, Uz, Wr, Ur, Wn, Un = params
    z = _stable_sigmoid(x @ Wz + h @ Uz)
    r = _stable_sigmoid(x @ Wr + h @ Ur)
    n = np.tanh(x @ Wn + (r * h) @ Un)
    return (1.0 - z) * n + z * h


def gru_u_library(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    params = (Wz, Uz, Wr, Ur, Wn, Un)
    h = h0
    for x in xs:
        h = _gru_step(h, x, params)
    return np.square(h).sum()


def gru_u_research(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = h0
    for x in xs:
        z = 1 / (1 + np.exp(-x @ Wz - h @ Uz))
        h = h + (1 - z) * (np.tanh(x @ Wn + (h / (1 + np.exp(-x @ Wr - h @ Ur))) @ Un) - h)
    return (h * h).sum()


def _gates(x, h, W, U):
    return x.dot(W) + h.dot(U)


def gru_u_keyword_helper(Wz, Uz, Wr, Ur, Wn, Un, xs, h0):
    h = np.zeros(h0.shape, dtype=float)
    for t in range(xs.shape[0]):
        z = _sigmoid(_gates(xs[t], h, W=Wz, U=Uz))
        r = _sigmoid(_gates(xs[t], h, W=Wr, U=Ur))
        n = np.tanh(_gates(xs[t], r * h, W=Wn, U=Un))
        h = (1 - z) * n + z * h
    return np.sum(np.power(h, 2))


# -- lstm ----------------------------------------------------------------------------------------


def lstm_u_textbook(Wx, Wh, b, xs, h0):
    H = Wh.shape[0]
    h = h0
    c = np.zeros_like(h0)
    for t in range(xs.shape[0]):
        gates = xs[t] @ Wx + h @ Wh + b
        input_gate = _sigmoid(gates[:, 0:H])
        forget_gate = _sigmoid(gates[:, H : 2 * H])
        output_gate = _sigmoid(gates[:, 2 * H : 3 * H])
        candidate = np.tanh(gates[:, 3 * H : 4 * H])
        c = forget_gate * c + input_gate * candidate
        h = output_gate * np.tanh(c)
    return np.sum(h**2)


def _lstm_step(x, h, c, Wx, Wh, b):
    i, f, o, g = np.split(x @ Wx + h @ Wh + b, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def lstm_u_library(Wx, Wh, b, xs, h0):
    h, c = h0, np.zeros_like(h0)
    for t, x in enumerate(xs):  # noqa: B007 (written as people write it)
        h, c = _lstm_step(x, h, c, Wx=Wx, Wh=Wh, b=b)
    return np.sum(np.square(h))


def lstm_u_research(Wx, Wh, b, xs, h0):
    H = h0.shape[-1]
    h, c = h0, np.zeros(h0.shape)
    for x in xs:
        a = x.dot(Wx) + h.dot(Wh) + b
        s = 1 / (1 + np.exp(-a[:, : 3 * H]))
        c = s[:, H : 2 * H] * c + s[:, :H] * (2 / (1 + np.exp(-2 * a[:, 3 * H :])) - 1)
        h = s[:, 2 * H :] * np.tanh(c)
    return (h**2).sum()


# -- fixed point ---------------------------------------------------------------------------------


def fixed_point_u_textbook(x, steps):
    for step in range(steps):  # noqa: B007 (written as people write it)
        drift = x**3 - 2 * x
        x = x - 0.01 * drift
    return x


def _update(x, *, lr=0.01):
    return x - lr * (x**3 - 2.0 * x)


def fixed_point_u_keyword(x, steps):
    for _ in range(steps):
        x = _update(x, lr=0.01)
    return x


def fixed_point_u_float64(x, steps):
    x = np.float64(x)
    rate = np.float64(0.01)
    for _ in range(steps):
        x = x - rate * (x * x * x - 2.0 * x)
    return float(x)


def fixed_point_u_factored(x, steps):
    for _ in range(steps):
        x -= 0.01 * x * (x**2 - 2)
    return x


def fixed_point_u_while_break(x, steps):
    k = 0
    while True:
        if k >= steps:
            break
        x = x - 0.01 * (x**3.0 - 2.0 * x)
        k += 1
    return x


# -- horner --------------------------------------------------------------------------------------


def horner_u_textbook(coeffs, x):
    n = len(coeffs)
    result = np.zeros(x.shape)
    for i in range(n):
        result = result * x + coeffs[i]
    return result.sum()


def horner_u_reversed_powers(coeffs, x):
    total = np.zeros_like(x)
    for k, c in enumerate(reversed(coeffs)):
        total = total + c * x**k
    return np.sum(total)


def horner_u_full_like(coeffs, x):
    p = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        p = np.multiply(p, x) + c
    return np.sum(p, axis=0)


def horner_u_running_power(coeffs, x):
    power = np.ones_like(x)
    total = 0.0
    for c in coeffs[::-1]:
        total = total + c * power
        power = power * x
    return np.sum(total)


def horner_u_list(coeffs, x):
    p = np.zeros(x.shape, dtype=np.float64)
    for c in list(coeffs):
        p = x * p + c
    return float(p.sum())


# -- heat ----------------------------------------------------------------------------------------


def heat_u_textbook(u0, alpha, steps):
    n = len(u0)
    u = u0.copy()
    for step in range(steps):  # noqa: B007 (written as people write it)
        new = u.copy()
        for i in range(1, n - 1):
            new[i] = u[i] + alpha * (u[i + 1] - 2 * u[i] + u[i - 1])
        u = new
    return np.sum(u**2)


def _laplacian_1d(u):
    return u[:-2] - 2.0 * u[1:-1] + u[2:]


def heat_u_library(u0, alpha, steps):
    u = np.array(u0, dtype=float)
    for _ in range(steps):
        u[1:-1] += alpha * _laplacian_1d(u)
    return np.sum(np.square(u))


def heat_u_roll(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        lap = np.roll(u, -1) - 2 * u + np.roll(u, 1)
        u = np.concatenate([u[:1], u[1:-1] + alpha * lap[1:-1], u[-1:]])
    return (u**2).sum()


def heat_u_empty_ends(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_next = np.empty_like(u)
        u_next[0], u_next[-1] = u[0], u[-1]
        u_next[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_next
    return np.sum(u * u)


def heat_u_copy_augmented(u0, alpha, steps):
    u = u0
    for _ in range(steps):
        u_new = u.copy()
        u_new[1:-1] += alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.dot(u, u)


# -- logistic regression -------------------------------------------------------------------------


def logreg_u_textbook(w, b, X, y):
    n = X.shape[0]
    z = np.dot(X, w) + b
    p = 1 / (1 + np.exp(-z))
    log_likelihood = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = -log_likelihood / n
    return loss


def logreg_u_clip(w, b, X, y):
    eps = 1e-12
    p = np.clip(_sigmoid(X @ w + b), eps, 1.0 - eps)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def logreg_u_research(w, b, X, y):
    z = X.dot(w) + b
    return np.mean(np.log1p(np.exp(-z)) + (1 - y) * z)


def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def logreg_u_softplus(w, b, X, y):
    z = X @ w + b
    return np.mean(_softplus(z) - y * z, axis=0)


def logreg_u_zip(w, b, X, y):
    total = 0.0
    for xi, yi in zip(X, y):  # noqa: B905 (written as people write it)
        p = _sigmoid(xi @ w + b)
        total += -(yi * np.log(p) + (1 - yi) * np.log(1 - p))
    return total / len(y)


# -- mlp, batch in rows --------------------------------------------------------------------------


def _relu(x):
    return np.maximum(x, 0.0)


def _dense(x, W, b):
    return x @ W + b


def _mean_squared_error(prediction, target):
    return np.mean(np.square(prediction - target))


def mlp_rows_u_library(W1, b1, W2, b2, X, T):
    h = _relu(_dense(X, W1, b1))
    return _mean_squared_error(_dense(h, W2, b2), target=T)


def mlp_rows_u_textbook(W1, b1, W2, b2, X, T):
    z1 = np.dot(X, W1) + b1
    a1 = z1 * (z1 > 0)
    z2 = np.dot(a1, W2) + b2
    diff = z2 - T
    loss = np.sum(diff**2) / diff.size
    return loss


def mlp_rows_u_clip(W1, b1, W2, b2, X, T):
    h = np.clip(X @ W1 + b1, 0, None)
    err = h @ W2 + b2 - T
    return (err * err).mean()


def mlp_rows_u_research(W1, b1, W2, b2, X, T):
    return ((np.maximum(X @ W1 + b1[None, :], 0) @ W2 + b2 - T) ** 2).mean()


# -- mlp, batch in columns -----------------------------------------------------------------------


def mlp_cols_u_textbook(W1, b1, W2, b2, X, T):
    Z1 = W1.dot(X) + b1
    A1 = np.where(Z1 > 0, Z1, 0.0)
    Z2 = W2.dot(A1) + b2
    m = X.shape[1]
    loss = np.sum((Z2 - T) ** 2) / (Z2.shape[0] * m)
    return loss


def mlp_cols_u_rows_inside(W1, b1, W2, b2, X, T):
    H = np.maximum(X.T @ W1.T + b1.T, 0)
    Y = H @ W2.T + b2.T
    return np.mean((Y - T.T) ** 2)


def _layer(W, x, b, activation=None):
    z = W @ x + b
    return z if activation is None else activation(z)


def mlp_cols_u_library(W1, b1, W2, b2, X, T):
    h = _layer(W1, X, b1, activation=_relu)
    y = _layer(W2, h, b2)
    return ((y - T) ** 2).mean(axis=-1).mean()


def mlp_cols_u_research(W1, b1, W2, b2, X, T):
    return np.square(W2 @ np.maximum(0, W1 @ X + b1) + b2 - T).mean()


# -- softmax cross-entropy -----------------------------------------------------------------------


def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def xent_u_library(W, b, X, onehot, labels):
    return -(onehot * _log_softmax(X @ W + b)).sum(axis=-1).mean()


def xent_u_textbook(W, b, X, onehot, labels):
    n = X.shape[0]
    logits = np.dot(X, W) + b
    m = np.max(logits, axis=1)
    e = np.exp(logits - m[:, None])
    s = np.sum(e, axis=1)
    probs = e / s[:, None]
    loss = -np.sum(onehot * np.log(probs)) / n
    return loss


def xent_u_loop(W, b, X, onehot, labels):
    logits = X @ W + b
    loss = 0.0
    for i in range(len(labels)):
        row = logits[i]
        top = row.max()
        loss -= row[labels[i]] - top - np.log(np.sum(np.exp(row - top)))
    return loss / len(labels)


def xent_u_research(W, b, X, onehot, labels):
    z = X @ W + b
    m = z.max(1)
    return np.mean(np.log(np.exp(z - m[:, None]).sum(1)) + m - (z * onehot).sum(1))


def xent_u_fancy_index(W, b, X, onehot, labels):
    logits = X @ W + b
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    return -log_probs[np.arange(X.shape[0]), labels].mean()


# -- layer norm ----------------------------------------------------------------------------------


def _layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def layer_norm_u_library(x, gamma, beta, R):
    return np.sum(_layer_norm(x, gamma, beta) * R)


def layer_norm_u_textbook(x, gamma, beta, R):
    n = x.shape[1]
    mu = np.sum(x, axis=1) / n
    d = x - mu[:, None]
    var = np.sum(d * d, axis=1) / n
    inv_std = 1.0 / np.sqrt(var + 1e-5)
    x_hat = d * inv_std[:, None]
    y = gamma * x_hat + beta
    return np.sum(y * R)


def layer_norm_u_research(x, gamma, beta, R):
    xc = x - x.mean(1, keepdims=True)
    return np.sum((xc * (np.mean(xc**2, 1, keepdims=True) + 1e-5) ** -0.5 * gamma + beta) * R)


def layer_norm_u_zip_rows(x, gamma, beta, R):
    total = 0.0
    for row, r in zip(x, R):  # noqa: B905 (written as people write it)
        mu = row.mean()
        sigma = np.sqrt(((row - mu) ** 2).mean() + 1e-5)
        total += np.dot((row - mu) / sigma * gamma + beta, r)
    return total


# -- mse -----------------------------------------------------------------------------------------


def _predict(X, w):
    return X @ w


def _mse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)


def mse_u_library(w, X, y):
    return _mse(y_true=y, y_pred=_predict(X, w))


def mse_u_textbook(w, X, y):
    n = len(y)
    residual = X.dot(w) - y
    return residual.dot(residual) / n


def mse_u_zip(w, X, y):
    total = 0.0
    for xi, yi in zip(X, y):  # noqa: B905 (written as people write it)
        err = xi @ w - yi
        total += err * err
    return total / len(y)


def mse_u_einsum(w, X, y):
    r = np.einsum("ij,j->i", X, w) - y
    return np.einsum("i,i->", r, r) / y.shape[0]


def mse_u_float64(w, X, y):
    return np.float64(1.0) / len(y) * np.sum(np.square(np.subtract(X @ w, y)))


# -- logsumexp over rows -------------------------------------------------------------------------


def _logsumexp(a, axis=-1):
    a_max = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(a_max, axis) + np.log(np.sum(np.exp(a - a_max), axis=axis))


def logsumexp_u_library(X):
    return _logsumexp(X, axis=1).sum()


def logsumexp_u_textbook(X):
    total = 0.0
    for i in range(X.shape[0]):
        row = X[i]
        m = np.max(row)
        s = np.sum(np.exp(row - m))
        total = total + m + np.log(s)
    return total


def logsumexp_u_research(X):
    m = X.max(1)
    return np.sum(m + np.log(np.exp(X - m[:, None]).sum(1)))


def _lse(v):
    c = v.max()
    return c + np.log(np.exp(v - c).sum())


def logsumexp_u_generator(X):
    return sum(_lse(row) for row in X)


def logsumexp_u_append(X):
    values = []
    for row in X:
        values.append(_lse(row))
    return np.sum(np.array(values))


# -- the table -----------------------------------------------------------------------------------

VARIANTS = {
    "rnn": (
        rnn_u_zeros_like_enumerate,
        rnn_u_textbook,
        rnn_u_library,
        rnn_u_tuple_helper,
        rnn_u_list_zip,
        rnn_u_research,
    ),
    "gru": (gru_u_textbook, gru_u_library, gru_u_research, gru_u_keyword_helper),
    "lstm": (lstm_u_textbook, lstm_u_library, lstm_u_research),
    "fixed_point": (
        fixed_point_u_textbook,
        fixed_point_u_keyword,
        fixed_point_u_float64,
        fixed_point_u_factored,
        fixed_point_u_while_break,
    ),
    "horner": (
        horner_u_textbook,
        horner_u_reversed_powers,
        horner_u_full_like,
        horner_u_running_power,
        horner_u_list,
    ),
    "heat": (
        heat_u_textbook,
        heat_u_library,
        heat_u_roll,
        heat_u_empty_ends,
        heat_u_copy_augmented,
    ),
    "logreg": (
        logreg_u_textbook,
        logreg_u_clip,
        logreg_u_research,
        logreg_u_softplus,
        logreg_u_zip,
    ),
    "mlp_rows": (mlp_rows_u_library, mlp_rows_u_textbook, mlp_rows_u_clip, mlp_rows_u_research),
    "mlp_cols": (
        mlp_cols_u_textbook,
        mlp_cols_u_rows_inside,
        mlp_cols_u_library,
        mlp_cols_u_research,
    ),
    "softmax_xent": (
        xent_u_library,
        xent_u_textbook,
        xent_u_loop,
        xent_u_research,
        xent_u_fancy_index,
    ),
    "layer_norm": (
        layer_norm_u_library,
        layer_norm_u_textbook,
        layer_norm_u_research,
        layer_norm_u_zip_rows,
    ),
    "mse": (mse_u_library, mse_u_textbook, mse_u_zip, mse_u_einsum, mse_u_float64),
    "logsumexp": (
        logsumexp_u_library,
        logsumexp_u_textbook,
        logsumexp_u_research,
        logsumexp_u_generator,
        logsumexp_u_append,
    ),
}

FUNCTIONS = base.with_variants(VARIANTS)
