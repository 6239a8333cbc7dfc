"""Functions as people write them in the wild, for ``tests/test_corpus_wild.py``.

Each function is written the way a tutorial, a textbook exercise or a piece of scientific code
writes it (NumPy translations of autograd, JAX and PyTorch examples among them), in mixed
styles: loops over rows, ``+=``, ``np.dot``/``@``/``.dot``, tuples unpacked, lists appended and
stacked, early returns, helpers with keyword defaults, classes and dicts of parameters.

``CASES`` lists, for each function, a maker of its arguments at a given size and the names of
the arguments to differentiate with respect to (every float argument).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, logsumexp
from scipy.stats import norm

# ---------------------------------------------------------------------------------------------
# Optimisation test functions, several spellings


def rosenbrock_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


def rosenbrock_vector(x, a=1.0, b=100.0):
    return np.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)


def rosenbrock_2d(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rastrigin(x):
    A = 10
    n = x.shape[0]
    return A * n + np.sum(x**2 - A * np.cos(2 * np.pi * x))


def ackley(x):
    d = x.size
    s1 = np.sum(x**2)
    s2 = np.sum(np.cos(2.0 * np.pi * x))
    return -20.0 * np.exp(-0.2 * np.sqrt(s1 / d)) - np.exp(s2 / d) + 20.0 + np.e


def styblinski_tang(x):
    return 0.5 * np.sum(np.power(x, 4) - 16 * np.power(x, 2) + 5 * x)


def beale(p):
    x, y = p[0], p[1]
    t1 = (1.5 - x + x * y) ** 2
    t2 = (2.25 - x + x * y**2) ** 2
    t3 = (2.625 - x + x * y**3) ** 2
    return t1 + t2 + t3


def griewank(x):
    i = np.arange(1, len(x) + 1)
    return 1 + np.sum(x**2) / 4000.0 - np.prod(np.cos(x / np.sqrt(i)))


# ---------------------------------------------------------------------------------------------
# Statistics and machine learning losses


def gp_neg_log_marginal_likelihood(log_ell, log_sf, log_sn, X, y):
    ell = np.exp(log_ell)
    sf2 = np.exp(2 * log_sf)
    sn2 = np.exp(2 * log_sn)
    sq = np.sum(X**2, 1)
    d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    K = sf2 * np.exp(-0.5 * d2 / ell**2) + sn2 * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    n = len(y)
    return 0.5 * y.dot(alpha) + np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2 * np.pi)


def gp_nll_slogdet(params, X, y):
    ell, sf, sn = params[0], params[1], params[2]
    diff = X[:, None, :] - X[None, :, :]
    K = sf**2 * np.exp(-0.5 * np.sum(diff**2, axis=-1) / ell**2)
    K = K + (sn**2 + 1e-6) * np.eye(len(X))
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet


def vae_kl(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def gaussian_kl(mu_q, sigma_q, mu_p, sigma_p):
    kl = np.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5
    return kl.sum()


def poisson_regression_nll(beta, X, counts):
    eta = X @ beta
    mu = np.exp(eta)
    return np.sum(mu - counts * eta)


def negbin_nll(beta, log_alpha, X, y):
    from scipy.special import gammaln

    mu = np.exp(X.dot(beta))
    r = np.exp(-log_alpha)
    ll = (
        gammaln(y + r)
        - gammaln(r)
        - gammaln(y + 1)
        + r * np.log(r / (r + mu))
        + y * np.log(mu / (r + mu))
    )
    return -np.sum(ll)


def softplus(z):
    return np.logaddexp(0, z)


def logistic_loss_l2(w, b, X, y, lam=0.01):
    margins = y * (X @ w + b)
    return np.mean(softplus(-margins)) + 0.5 * lam * np.dot(w, w)


def logistic_loss_rows(w, X, y):
    loss = 0.0
    for i in range(X.shape[0]):
        z = np.dot(X[i], w)
        p = 1.0 / (1.0 + np.exp(-z))
        loss -= y[i] * np.log(p) + (1 - y[i]) * np.log(1 - p)
    return loss / X.shape[0]


def kmeans_soft_assignment(centers, X, beta):
    d2 = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    logits = -beta * d2
    logits = logits - logits.max(axis=1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(axis=1, keepdims=True)
    return np.sum(r * d2)


def pca_reconstruction(W, X):
    Z = X @ W
    X_hat = Z @ W.T
    return np.mean((X - X_hat) ** 2)


def ridge_closed_form(log_lam, X, y, X_val, y_val):
    lam = np.exp(log_lam)
    d = X.shape[1]
    w = np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)
    resid = X_val @ w - y_val
    return resid @ resid


def cross_entropy_label_smoothing(logits, labels, eps=0.1):
    n, k = logits.shape
    targets = np.full((n, k), eps / (k - 1))
    targets[np.arange(n), labels] = 1.0 - eps
    m = np.max(logits, axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.sum(targets * logp) / n


def gumbel_softmax(logits, gumbel, tau=0.5):
    y = (logits + gumbel) / tau
    y = y - np.max(y, axis=-1, keepdims=True)
    e = np.exp(y)
    soft = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(soft * np.arange(soft.shape[-1]))


def hinge_loss(w, X, y, C=1.0):
    margins = 1 - y * X.dot(w)
    return 0.5 * w.dot(w) + C * np.sum(np.maximum(0, margins))


def huber_mask(pred, target, delta=1.0):
    r = np.abs(pred - target)
    quad = np.minimum(r, delta)
    lin = r - quad
    return np.mean(0.5 * quad**2 + delta * lin)


def student_t_nll(mu, log_scale, x, nu=4.0):
    s = np.exp(log_scale)
    z = (x - mu) / s
    return np.sum(log_scale + 0.5 * (nu + 1) * np.log1p(z**2 / nu))


def mixture_nll(means, log_stds, logits, x):
    w = np.exp(logits - np.max(logits))
    w = w / w.sum()
    stds = np.exp(log_stds)
    comp = -0.5 * ((x[:, None] - means[None, :]) / stds) ** 2 - log_stds - 0.5 * np.log(2 * np.pi)
    a = comp + np.log(w)
    amax = a.max(axis=1, keepdims=True)
    lse = amax[:, 0] + np.log(np.exp(a - amax).sum(axis=1))
    return -lse.sum()


def black_scholes_call(S, K, T, r, sigma):
    d1 = (np.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return np.sum(S * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2))


def phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black_scholes_erf(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + sigma * sigma / 2.0) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * phi(d1) - K * math.exp(-r * T) * phi(d2)


# ---------------------------------------------------------------------------------------------
# Neural networks


def two_layer_dropout(W1, b1, W2, b2, X, y, mask):
    h = np.maximum(0, X @ W1 + b1)
    h = h * mask / 0.5
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def batch_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return np.sum(np.tanh(out))


def conv1d_pad(w, x):
    k = len(w)
    xp = np.pad(x, (k // 2, k // 2))
    out = np.zeros(len(x))
    for i in range(len(x)):
        out[i] = np.sum(xp[i : i + k] * w)
    return np.sum(np.tanh(out) ** 2)


def conv2d_net(kernel, bias, image, w_out):
    H, W = image.shape
    kh, kw = kernel.shape
    padded = np.pad(image, ((1, 1), (1, 1)), mode="constant")
    feature = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            feature[i, j] = np.sum(padded[i : i + kh, j : j + kw] * kernel) + bias
    act = np.maximum(feature, 0.0)
    return np.sum(act * w_out)


def causal_attention(Wq, Wk, Wv, x):
    T, d = x.shape
    q = x @ Wq
    k = x @ Wk
    v = x @ Wv
    scores = q @ k.T / np.sqrt(d)
    mask = np.triu(np.ones((T, T)), k=1)
    scores = scores - 1e9 * mask
    scores = scores - scores.max(axis=-1, keepdims=True)
    att = np.exp(scores)
    att = att / att.sum(axis=-1, keepdims=True)
    return np.sum((att @ v) ** 2)


def init_params_forward(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    return np.mean((logits - y) ** 2)


def mlp_list_layers(weights, x):
    h = x
    for W in weights[:-1]:
        h = np.tanh(h @ W)
    out = h @ weights[-1]
    return np.sum(out**2)


class Linear:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def loss(self, x, y):
        pred = self.predict(x)
        return np.mean((pred - y) ** 2)

    def predict(self, x):
        return x @ self.W + self.b


def model_loss(model, x, y):
    return model.loss(x, y)


def rnn_zeros_start(Wxh, Whh, Why, xs, ys):
    h = np.zeros(Whh.shape[0])
    loss = 0
    for t in range(len(xs)):
        h = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, h))
        y = np.dot(Why, h)
        loss += np.sum((y - ys[t]) ** 2)
    return loss


def lstm_cell_loop(Wf, Wi, Wo, Wc, xs):
    n = Wf.shape[0]
    h = np.zeros(n)
    c = np.zeros(n)
    hs = []
    for x in xs:
        z = np.concatenate([h, x])
        f = 1 / (1 + np.exp(-Wf @ z))
        i = 1 / (1 + np.exp(-Wi @ z))
        o = 1 / (1 + np.exp(-Wo @ z))
        g = np.tanh(Wc @ z)
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H**2)


def gru_step(h, x, Wz, Wr, Wh):
    hx = np.hstack([h, x])
    z = 1.0 / (1.0 + np.exp(-(Wz @ hx)))
    r = 1.0 / (1.0 + np.exp(-(Wr @ hx)))
    hc = np.tanh(Wh @ np.hstack([r * h, x]))
    return (1 - z) * h + z * hc


def gru_loop(Wz, Wr, Wh, xs):
    h = np.zeros(Wz.shape[0])
    for t in range(xs.shape[0]):
        h = gru_step(h, xs[t], Wz, Wr, Wh)
    return h.sum()


def layer_norm_helper(x, g, b, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(var + eps) + b


def transformer_block(x, g, b, W):
    y = layer_norm_helper(x, g, b)
    return np.sum(np.tanh(y @ W) + x.sum())


def float32_mlp(W, x):
    h = np.tanh(x @ W)
    return (h * h).sum()


# ---------------------------------------------------------------------------------------------
# Simulations and numerical methods


def mass_spring_euler(k, m, x0, v0, dt=0.01, steps=50):
    x = x0
    v = v0
    for _ in range(steps):
        a = -k / m * x
        x = x + dt * v
        v = v + dt * a
    return 0.5 * m * np.sum(v**2) + 0.5 * k * np.sum(x**2)


def nbody_leapfrog(pos, vel, masses, dt=0.01, steps=10):
    n = pos.shape[0]

    def accel(p):
        diff = p[None, :, :] - p[:, None, :]
        r2 = np.sum(diff**2, axis=-1) + 0.1
        inv = r2**-1.5
        inv = inv * (1 - np.eye(n))
        return np.sum(diff * (masses[None, :] * inv)[:, :, None], axis=1)

    a = accel(pos)
    for step in range(steps):
        vel = vel + 0.5 * dt * a
        pos = pos + dt * vel
        a = accel(pos)
        vel = vel + 0.5 * dt * a
    return np.sum(pos[:, 0]) + np.sum(vel**2)


def rk4_decay(k, y0, t1=1.0, n=20):
    def f(y):
        return -k * y + np.sin(y)

    h = t1 / n
    y = y0
    for _ in range(n):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y)


def lotka_volterra(params, state0, dt=0.01, n=100):
    alpha, beta, delta, gamma = params
    x, y = state0[0], state0[1]
    xs = []
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x, y = x + dt * dx, y + dt * dy
        xs.append(x)
    return np.sum(np.array(xs))


def kalman_loglik(q, r, ys, a=0.9):
    m = 0.0
    P = 1.0
    ll = 0.0
    for y in ys:
        m = a * m
        P = a * P * a + q
        S = P + r
        K = P / S
        ll += -0.5 * (np.log(2 * np.pi * S) + (y - m) ** 2 / S)
        m = m + K * (y - m)
        P = (1 - K) * P
    return -ll


def cubic_spline_energy(y, h=1.0):
    d2 = (y[2:] - 2 * y[1:-1] + y[:-2]) / h**2
    return np.sum(d2**2) * h


def total_variation_denoise(u, f, lam=0.1, eps=1e-3):
    dx = np.diff(u, axis=0)
    dy = np.diff(u, axis=1)
    tv = np.sum(np.sqrt(dx[:, :-1] ** 2 + dy[:-1, :] ** 2 + eps))
    return 0.5 * np.sum((u - f) ** 2) + lam * tv


def heat_explicit(u0, kappa, steps=20):
    u = u0.copy()
    for _ in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + kappa * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u**2)


def newton_sqrt(a, tol=1e-10):
    x = a
    while True:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < tol:
            return x_new
        x = x_new


def fixed_point_while(x, c):
    it = 0
    while it < 30:
        x = x - 0.01 * (x**3 - c * x)
        it += 1
    return np.sum(x)


def horner(coeffs, x):
    result = 0.0
    for c in coeffs:
        result = result * x + c
    return np.sum(result)


def trapezoid_energy(v, dt):
    total = 0.0
    for i in range(1, len(v)):
        total += 0.5 * dt * (v[i] ** 2 + v[i - 1] ** 2)
    return total


def pendulum_verlet(theta0, omega0, g, L, dt=0.02, steps=40):
    theta, omega = theta0, omega0
    traj = []
    for _ in range(steps):
        omega = omega - dt * g / L * np.sin(theta)
        theta = theta + dt * omega
        traj.append(theta)
    return np.mean(np.array(traj) ** 2)


def gradient_descent_inner(w0, X, y, lr=0.1, steps=10):
    w = w0
    for _ in range(steps):
        g = X.T @ (X @ w - y) / len(y)
        w = w - lr * g
    return np.sum((X @ w - y) ** 2)


# ---------------------------------------------------------------------------------------------
# Python forms: early returns, branches, keyword defaults, tuples, lists


def piecewise_early_return(x, y, scale=2.0):
    s = np.sum(x * y)
    if s > 0:
        return scale * s**2
    return np.sum(np.exp(x)) - s


def smooth_l1_branch(x, beta=1.0):
    out = 0.0
    for v in x:
        if abs(v) < beta:
            out += 0.5 * v**2 / beta
        else:
            out += abs(v) - 0.5 * beta
    return out


def stats_tuple(x):
    return x.mean(), x.std()


def coefficient_of_variation(x):
    mean, std = stats_tuple(x)
    return std / mean


def stacked_features(x, w):
    feats = []
    for p in range(1, 4):
        feats.append(x**p)
    F = np.stack(feats, axis=1)
    return np.sum((F @ w) ** 2)


def vstack_rows(a, b):
    M = np.vstack([a, b, a * b])
    return np.sum(np.sin(M) @ M.T)


def soft_threshold_norm(x, lam):
    y = np.sign(x) * np.maximum(np.abs(x) - lam, 0)
    return np.linalg.norm(y) ** 2 + np.linalg.norm(x, 1)


def logdet_inverse_trace(A):
    S = A @ A.T + np.eye(A.shape[0])
    sign, ld = np.linalg.slogdet(S)
    return ld + np.trace(np.linalg.inv(S))


def eigen_energy(A):
    S = 0.5 * (A + A.T)
    w, v = np.linalg.eigh(S)
    return np.sum(w**2) + np.sum(v[:, -1] ** 4)


def svd_nuclear(A):
    s = np.linalg.svd(A, compute_uv=False)
    return np.sum(s)


def einsum_bilinear(A, x, y):
    return np.einsum("ij,i,j->", A, x, y) + np.einsum("ii", A)


def cumsum_prices(returns):
    prices = 100.0 * np.exp(np.cumsum(returns))
    return np.mean(np.maximum(prices - 100.0, 0.0))


def where_clip(x, lo, hi):
    y = np.clip(x, lo, hi)
    z = np.where(x > 0, y, 0.1 * y)
    return np.sum(z**2)


def cosine_similarity(a, b):
    return a.dot(b) / (np.linalg.norm(a) * np.linalg.norm(b))


def pairwise_distance_loss(X):
    total = 0.0
    n = X.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            d = X[i] - X[j]
            total += 1.0 / np.sqrt(d @ d + 0.1)
    return total


def augmented_accumulate(x, w):
    acc = np.zeros_like(x)
    acc += x * w
    acc *= 2.0
    acc -= np.tanh(x)
    return acc.sum()


def chained_and_swap(a, b):
    x = y = a * b
    x, y = y + 1.0, x * 2.0
    return np.sum(x * y)


def kwargs_helper(x, power=3, weight=0.5):
    return weight * np.sum(np.abs(x) ** power)


def uses_kwargs_helper(x, y):
    return kwargs_helper(x, power=2) + kwargs_helper(y, weight=1.5)


def dict_model(params, x):
    out = x
    for name in ["layer1", "layer2"]:
        out = np.tanh(out @ params[name]["W"] + params[name]["b"])
    return np.sum(out)


def tuple_params(params, x):
    W, b = params
    return np.sum(np.logaddexp(0.0, x @ W + b))


def poly_fit_loss(coeffs, xs, ys):
    pred = np.polyval(coeffs, xs)
    return np.sum((pred - ys) ** 2)


def log_sum_exp_rows(X):
    m = np.max(X, axis=1)
    return np.sum(m + np.log(np.sum(np.exp(X - m[:, None]), axis=1)))


def weighted_average(x, w):
    return np.average(x, weights=np.exp(w))


def kron_tile(a, b):
    K = np.kron(a, b)
    T = np.tile(a, 2)
    return np.sum(K**2) + np.sum(T * np.roll(T, 1))


# ---------------------------------------------------------------------------------------------
# More spellings: comprehensions, generators, zip/enumerate, SciPy helpers, asserts


def dot_generator(w, x):
    return sum(w[i] * x[i] for i in range(len(w))) ** 2


def list_comprehension_losses(W, xs):
    losses = [np.sum(np.tanh(W @ x) ** 2) for x in xs]
    return np.mean(losses)


def zip_enumerate_loss(w, xs, ys):
    total = 0.0
    for i, (x, y) in enumerate(zip(xs, ys)):
        weight = 1.0 / (i + 1)
        total = total + weight * (np.dot(w, x) - y) ** 2
    return total


def sinkhorn(cost, a, b, eps=0.5, iters=20):
    K = np.exp(-cost / eps)
    u = np.ones_like(a)
    v = np.ones_like(b)
    for _ in range(iters):
        u = a / (K @ v)
        v = b / (K.T @ u)
    P = u[:, None] * K * v[None, :]
    return np.sum(P * cost)


def soft_dtw(x, y, gamma=1.0):
    n, m = len(x), len(y)
    R = np.full((n + 1, m + 1), 1e10)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = (x[i - 1] - y[j - 1]) ** 2
            r = -np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]]) / gamma
            rmax = np.max(r)
            softmin = -gamma * (rmax + np.log(np.sum(np.exp(r - rmax))))
            R[i, j] = cost + softmin
    return R[n, m]


def scipy_helpers_loss(w, X, y):
    from_logits = X @ w
    p = expit(from_logits)
    return -np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)) + logsumexp(w)


def cho_solve_gp(log_ell, X, y):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(-0.5 * d2 / np.exp(2 * log_ell)) + 0.1 * np.eye(len(X))
    c, low = cho_factor(K)
    alpha = cho_solve((c, low), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(c)))


def assert_and_print(x):
    assert x.ndim == 1, "expects a vector"
    s = np.sum(x**2)
    if s > 1e6:
        print("large input", s)
    return np.sqrt(s)


SCALE = np.array([1.0, 2.0, 3.0])


def module_constant(x):
    return np.sum((x * SCALE[: len(x)]) ** 2)


def reversed_flip_sort(x):
    y = x[::-1] * np.flip(x)
    z = np.sort(x)
    return np.sum(y) + np.sum(z * np.arange(len(z)))


def norm_axis_keepdims(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = X / n
    G = Xn @ Xn.T
    return np.sum(G.clip(0) ** 2)


def batched_einsum(A, B):
    C = np.einsum("bij,bjk->bik", A, B)
    return np.sum(C**2) + np.trace(A[0] @ B[0])


def append_time_series(alpha, x0, n=15):
    xs = np.array([x0])
    for _ in range(n):
        xs = np.append(xs, alpha * xs[-1] + 0.1 * np.sin(xs[-1]))
    return np.sum(xs**2)


def float_math_helpers(a, b):
    r = math.sqrt(a * a + b * b)
    theta = math.atan2(b, a)
    return r * math.cos(theta) ** 2 + math.log(r) * math.tanh(b)


def max_builtin(x, y):
    return max(np.sum(x**2), np.sum(y**2)) + min(np.dot(x, y), 0.0)


def softmax_naive(z, t):
    e = np.exp(z)
    p = e / e.sum()
    return -np.log(p[t])


def outer_trace(u, v, M):
    A = np.outer(u, v)
    return np.trace(A @ M) + np.linalg.det(M + np.eye(len(u)))


def mutable_default(x, ws=[1.0, 2.0]):
    return sum(w * np.sum(x**2) for w in ws)


def tuple_return_helper(x, W):
    def forward(x, W):
        z = W @ x
        return np.tanh(z), z

    h, z = forward(x, W)
    return np.sum(h * z)


def cholesky_with_jitter_fallback(log_ell, X, y):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(-0.5 * d2 / np.exp(2 * log_ell))
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        L = np.linalg.cholesky(K + 1e-6 * np.eye(len(X)))
    alpha = np.linalg.solve(L, y)
    return 0.5 * alpha @ alpha + np.sum(np.log(np.diag(L)))


def while_tolerance(x, a):
    err = 1.0
    y = x
    count = 0
    while err > 1e-8 and count < 100:
        y_new = 0.5 * (y + a / y)
        err = np.max(np.abs(y_new - y))
        y = y_new
        count += 1
    return np.sum(y)


# ---------------------------------------------------------------------------------------------
# The cases: name -> (function, maker of the arguments at size n, names to differentiate)


def _spd(rng, n):
    A = rng.normal(size=(n, n))
    return A @ A.T / n + np.eye(n)


def _cases():
    def c(function, make, wrt):
        return function, make, tuple(wrt.split())

    def linear(rng, n):
        return Linear(rng.normal(size=(3, 2)), rng.normal(size=2))

    return {
        "rosenbrock_loop": c(rosenbrock_loop, lambda r, n: [r.normal(size=n)], "x"),
        "rosenbrock_vector": c(rosenbrock_vector, lambda r, n: [r.normal(size=n)], "x"),
        "rosenbrock_2d": c(rosenbrock_2d, lambda r, n: [r.normal(), r.normal()], "x y"),
        "rastrigin": c(rastrigin, lambda r, n: [r.normal(size=n)], "x"),
        "ackley": c(ackley, lambda r, n: [r.normal(size=n)], "x"),
        "styblinski_tang": c(styblinski_tang, lambda r, n: [r.normal(size=n)], "x"),
        "beale": c(beale, lambda r, n: [r.normal(size=2)], "p"),
        "griewank": c(griewank, lambda r, n: [r.normal(size=n) * 3], "x"),
        "gp_nlml_cholesky": c(
            gp_neg_log_marginal_likelihood,
            lambda r, n: [0.1, -0.2, -1.0, r.normal(size=(n, 2)), r.normal(size=n)],
            "log_ell log_sf log_sn",
        ),
        "gp_nll_slogdet": c(
            gp_nll_slogdet,
            lambda r, n: [np.array([1.1, 0.9, 0.3]), r.normal(size=(n, 2)), r.normal(size=n)],
            "params",
        ),
        "vae_kl": c(
            vae_kl, lambda r, n: [r.normal(size=(2, n)), r.normal(size=(2, n))], "mu logvar"
        ),
        "gaussian_kl": c(
            gaussian_kl,
            lambda r, n: [
                r.normal(size=n),
                r.random(n) + 0.5,
                r.normal(size=n),
                r.random(n) + 0.5,
            ],
            "mu_q sigma_q mu_p sigma_p",
        ),
        "poisson_regression": c(
            poisson_regression_nll,
            lambda r, n: [r.normal(size=3) * 0.3, r.normal(size=(n, 3)), r.poisson(2.0, n) * 1.0],
            "beta",
        ),
        "negbin_nll": c(
            negbin_nll,
            lambda r, n: [
                r.normal(size=3) * 0.3,
                -0.5,
                r.normal(size=(n, 3)),
                r.poisson(2.0, n) * 1.0,
            ],
            "beta log_alpha",
        ),
        "logistic_loss_l2": c(
            logistic_loss_l2,
            lambda r, n: [r.normal(size=3), 0.2, r.normal(size=(n, 3)), np.sign(r.normal(size=n))],
            "w b",
        ),
        "logistic_loss_rows": c(
            logistic_loss_rows,
            lambda r, n: [r.normal(size=3), r.normal(size=(n, 3)), (r.random(n) > 0.5) * 1.0],
            "w",
        ),
        "kmeans_soft": c(
            kmeans_soft_assignment,
            lambda r, n: [r.normal(size=(3, 2)), r.normal(size=(n, 2)), 2.0],
            "centers beta",
        ),
        "pca_reconstruction": c(
            pca_reconstruction, lambda r, n: [r.normal(size=(4, 2)), r.normal(size=(n, 4))], "W X"
        ),
        "ridge_closed_form": c(
            ridge_closed_form,
            lambda r, n: [
                -1.0,
                r.normal(size=(n, 3)),
                r.normal(size=n),
                r.normal(size=(4, 3)),
                r.normal(size=4),
            ],
            "log_lam X y",
        ),
        "label_smoothing_ce": c(
            cross_entropy_label_smoothing,
            lambda r, n: [r.normal(size=(n, 4)), r.integers(0, 4, n)],
            "logits",
        ),
        "gumbel_softmax": c(
            gumbel_softmax, lambda r, n: [r.normal(size=(n, 4)), r.gumbel(size=(n, 4))], "logits"
        ),
        "hinge_loss": c(
            hinge_loss,
            lambda r, n: [r.normal(size=3), r.normal(size=(n, 3)), np.sign(r.normal(size=n))],
            "w",
        ),
        "huber_mask": c(
            huber_mask, lambda r, n: [r.normal(size=n) * 2, r.normal(size=n)], "pred target"
        ),
        "student_t_nll": c(
            student_t_nll, lambda r, n: [0.3, -0.2, r.normal(size=n)], "mu log_scale x"
        ),
        "mixture_nll": c(
            mixture_nll,
            lambda r, n: [
                r.normal(size=3),
                r.normal(size=3) * 0.2,
                r.normal(size=3),
                r.normal(size=n),
            ],
            "means log_stds logits",
        ),
        "black_scholes_norm_cdf": c(
            black_scholes_call,
            lambda r, n: [100 + r.normal(size=n), 100.0 + r.normal(size=n), 1.0, 0.05, 0.2],
            "S K T r sigma",
        ),
        "black_scholes_erf": c(
            black_scholes_erf, lambda r, n: [100.0, 95.0, 0.5, 0.03, 0.25], "S K T r sigma"
        ),
        "two_layer_dropout": c(
            two_layer_dropout,
            lambda r, n: [
                r.normal(size=(3, 5)),
                r.normal(size=5),
                r.normal(size=(5, 2)),
                r.normal(size=2),
                r.normal(size=(n, 3)),
                r.normal(size=(n, 2)),
                (r.random((n, 5)) > 0.5) * 1.0,
            ],
            "W1 b1 W2 b2 X",
        ),
        "batch_norm": c(
            batch_norm,
            lambda r, n: [r.normal(size=(n, 3)), r.normal(size=3), r.normal(size=3)],
            "x gamma beta",
        ),
        "conv1d_pad": c(conv1d_pad, lambda r, n: [r.normal(size=3), r.normal(size=n)], "w x"),
        "conv2d_net": c(
            conv2d_net,
            lambda r, n: [
                r.normal(size=(3, 3)),
                0.1,
                r.normal(size=(n, n)),
                r.normal(size=(n, n)),
            ],
            "kernel bias image w_out",
        ),
        "causal_attention": c(
            causal_attention,
            lambda r, n: [r.normal(size=(3, 3)) for _ in range(3)] + [r.normal(size=(n, 3))],
            "Wq Wk Wv x",
        ),
        "dict_params_mlp": c(
            init_params_forward,
            lambda r, n: [
                {
                    "W1": r.normal(size=(3, 4)),
                    "b1": r.normal(size=4),
                    "W2": r.normal(size=(4, 2)),
                    "b2": r.normal(size=2),
                },
                r.normal(size=(n, 3)),
                r.normal(size=(n, 2)),
            ],
            "params",
        ),
        "mlp_list_layers": c(
            mlp_list_layers,
            lambda r, n: [
                [r.normal(size=(3, 4)), r.normal(size=(4, 4)), r.normal(size=(4, 1))],
                r.normal(size=(n, 3)),
            ],
            "weights",
        ),
        "class_method_loss": c(
            model_loss,
            lambda r, n: [linear(r, n), r.normal(size=(n, 3)), r.normal(size=(n, 2))],
            "model",
        ),
        "rnn_zeros_start": c(
            rnn_zeros_start,
            lambda r, n: [
                r.normal(size=(4, 2)) * 0.5,
                r.normal(size=(4, 4)) * 0.5,
                r.normal(size=(1, 4)),
                r.normal(size=(n, 2)),
                r.normal(size=(n, 1)),
            ],
            "Wxh Whh Why",
        ),
        "lstm_cell_loop": c(
            lstm_cell_loop,
            lambda r, n: [r.normal(size=(3, 5)) * 0.5 for _ in range(4)] + [r.normal(size=(n, 2))],
            "Wf Wi Wo Wc",
        ),
        "gru_helper_loop": c(
            gru_loop,
            lambda r, n: [r.normal(size=(3, 5)) * 0.5 for _ in range(3)] + [r.normal(size=(n, 2))],
            "Wz Wr Wh xs",
        ),
        "transformer_block": c(
            transformer_block,
            lambda r, n: [
                r.normal(size=(n, 4)),
                r.normal(size=4),
                r.normal(size=4),
                r.normal(size=(4, 4)),
            ],
            "x g b W",
        ),
        "float32_mlp": c(
            float32_mlp,
            lambda r, n: [
                r.normal(size=(3, 2)).astype(np.float32),
                r.normal(size=(n, 3)).astype(np.float32),
            ],
            "W x",
        ),
        "mass_spring_euler": c(
            mass_spring_euler,
            lambda r, n: [2.0, 1.5, r.normal(size=n), r.normal(size=n)],
            "k m x0 v0",
        ),
        "nbody_leapfrog": c(
            nbody_leapfrog,
            lambda r, n: [r.normal(size=(n, 2)), r.normal(size=(n, 2)) * 0.1, r.random(n) + 0.5],
            "pos vel masses",
        ),
        "rk4_decay": c(rk4_decay, lambda r, n: [0.7, r.normal(size=n)], "k y0"),
        "lotka_volterra": c(
            lotka_volterra,
            lambda r, n: [np.array([1.1, 0.4, 0.1, 0.4]), np.array([10.0, 5.0])],
            "params state0",
        ),
        "kalman_loglik": c(kalman_loglik, lambda r, n: [0.3, 0.5, r.normal(size=n)], "q r ys"),
        "cubic_spline_energy": c(cubic_spline_energy, lambda r, n: [r.normal(size=n), 0.5], "y h"),
        "total_variation": c(
            total_variation_denoise,
            lambda r, n: [r.normal(size=(n, n)), r.normal(size=(n, n))],
            "u f",
        ),
        "heat_explicit_copy": c(heat_explicit, lambda r, n: [r.normal(size=n), 0.2], "u0 kappa"),
        "newton_sqrt_while": c(newton_sqrt, lambda r, n: [2.0 + n], "a"),
        "fixed_point_while": c(fixed_point_while, lambda r, n: [r.normal(size=n), 2.0], "x c"),
        "horner": c(horner, lambda r, n: [r.normal(size=n), r.normal(size=3)], "coeffs x"),
        "trapezoid_energy": c(trapezoid_energy, lambda r, n: [r.normal(size=n), 0.1], "v dt"),
        "pendulum_verlet": c(
            pendulum_verlet, lambda r, n: [0.5, 0.0, 9.81, 1.0], "theta0 omega0 g L"
        ),
        "gradient_descent_inner": c(
            gradient_descent_inner,
            lambda r, n: [r.normal(size=3), r.normal(size=(n, 3)), r.normal(size=n)],
            "w0 X y",
        ),
        "piecewise_early_return": c(
            piecewise_early_return, lambda r, n: [r.normal(size=n), r.normal(size=n)], "x y"
        ),
        "smooth_l1_branch": c(smooth_l1_branch, lambda r, n: [r.normal(size=n) * 2], "x"),
        "coefficient_of_variation": c(
            coefficient_of_variation, lambda r, n: [r.random(n) + 1.0], "x"
        ),
        "stacked_features": c(
            stacked_features, lambda r, n: [r.normal(size=n), r.normal(size=3)], "x w"
        ),
        "vstack_rows": c(vstack_rows, lambda r, n: [r.normal(size=n), r.normal(size=n)], "a b"),
        "soft_threshold_norm": c(
            soft_threshold_norm, lambda r, n: [r.normal(size=n), 0.3], "x lam"
        ),
        "logdet_inverse_trace": c(logdet_inverse_trace, lambda r, n: [r.normal(size=(n, n))], "A"),
        "eigen_energy": c(eigen_energy, lambda r, n: [r.normal(size=(n, n))], "A"),
        "svd_nuclear": c(svd_nuclear, lambda r, n: [r.normal(size=(n, n + 1))], "A"),
        "einsum_bilinear": c(
            einsum_bilinear,
            lambda r, n: [r.normal(size=(n, n)), r.normal(size=n), r.normal(size=n)],
            "A x y",
        ),
        "cumsum_prices": c(cumsum_prices, lambda r, n: [r.normal(size=n) * 0.1], "returns"),
        "where_clip": c(where_clip, lambda r, n: [r.normal(size=n) * 2, -1.0, 1.0], "x lo hi"),
        "cosine_similarity": c(
            cosine_similarity, lambda r, n: [r.normal(size=n), r.normal(size=n)], "a b"
        ),
        "pairwise_distance": c(pairwise_distance_loss, lambda r, n: [r.normal(size=(n, 2))], "X"),
        "augmented_accumulate": c(
            augmented_accumulate, lambda r, n: [r.normal(size=n), r.normal(size=n)], "x w"
        ),
        "chained_and_swap": c(
            chained_and_swap, lambda r, n: [r.normal(size=n), r.normal(size=n)], "a b"
        ),
        "kwargs_helper": c(
            uses_kwargs_helper, lambda r, n: [r.normal(size=n), r.normal(size=n)], "x y"
        ),
        "dict_of_layers": c(
            dict_model,
            lambda r, n: [
                {
                    "layer1": {"W": r.normal(size=(3, 3)), "b": r.normal(size=3)},
                    "layer2": {"W": r.normal(size=(3, 2)), "b": r.normal(size=2)},
                },
                r.normal(size=(n, 3)),
            ],
            "params",
        ),
        "tuple_params": c(
            tuple_params,
            lambda r, n: [(r.normal(size=(3, 2)), r.normal(size=2)), r.normal(size=(n, 3))],
            "params",
        ),
        "polyval_fit": c(
            poly_fit_loss,
            lambda r, n: [r.normal(size=3), r.normal(size=n), r.normal(size=n)],
            "coeffs xs ys",
        ),
        "logsumexp_rows": c(log_sum_exp_rows, lambda r, n: [r.normal(size=(n, 4))], "X"),
        "weighted_average": c(
            weighted_average, lambda r, n: [r.normal(size=n), r.normal(size=n)], "x w"
        ),
        "kron_tile_roll": c(kron_tile, lambda r, n: [r.normal(size=n), r.normal(size=2)], "a b"),
        "dot_generator": c(
            dot_generator, lambda r, n: [r.normal(size=n), r.normal(size=n)], "w x"
        ),
        "list_comprehension": c(
            list_comprehension_losses,
            lambda r, n: [r.normal(size=(2, 3)), r.normal(size=(n, 3))],
            "W xs",
        ),
        "zip_enumerate": c(
            zip_enumerate_loss,
            lambda r, n: [r.normal(size=3), r.normal(size=(n, 3)), r.normal(size=n)],
            "w xs ys",
        ),
        "sinkhorn": c(
            sinkhorn,
            lambda r, n: [r.random((n, n)), np.full(n, 1.0 / n), np.full(n, 1.0 / n)],
            "cost a b",
        ),
        "soft_dtw": c(soft_dtw, lambda r, n: [r.normal(size=n), r.normal(size=n + 1)], "x y"),
        "scipy_expit_logsumexp": c(
            scipy_helpers_loss,
            lambda r, n: [r.normal(size=3), r.normal(size=(n, 3)), (r.random(n) > 0.5) * 1.0],
            "w",
        ),
        "scipy_cho_solve_gp": c(
            cho_solve_gp, lambda r, n: [0.2, r.normal(size=(n, 2)), r.normal(size=n)], "log_ell y"
        ),
        "assert_and_print": c(assert_and_print, lambda r, n: [r.normal(size=n)], "x"),
        "module_constant": c(module_constant, lambda r, n: [r.normal(size=3)], "x"),
        "reversed_flip_sort": c(reversed_flip_sort, lambda r, n: [r.normal(size=n)], "x"),
        "norm_axis_keepdims": c(norm_axis_keepdims, lambda r, n: [r.normal(size=(n, 3))], "X"),
        "batched_einsum": c(
            batched_einsum,
            lambda r, n: [r.normal(size=(2, n, 3)), r.normal(size=(2, 3, n))],
            "A B",
        ),
        "append_time_series": c(append_time_series, lambda r, n: [0.8, 0.5], "alpha x0"),
        "float_math_helpers": c(float_math_helpers, lambda r, n: [1.3, 0.4], "a b"),
        "max_min_builtins": c(
            max_builtin, lambda r, n: [r.normal(size=n), r.normal(size=n)], "x y"
        ),
        "softmax_naive": c(softmax_naive, lambda r, n: [r.normal(size=n), 1], "z"),
        "outer_trace_det": c(
            outer_trace,
            lambda r, n: [r.normal(size=n), r.normal(size=n), r.normal(size=(n, n)) * 0.3],
            "u v M",
        ),
        "mutable_default": c(mutable_default, lambda r, n: [r.normal(size=n)], "x"),
        "nested_tuple_helper": c(
            tuple_return_helper, lambda r, n: [r.normal(size=3), r.normal(size=(n, 3))], "x W"
        ),
        "cholesky_jitter_fallback": c(
            cholesky_with_jitter_fallback,
            lambda r, n: [0.2, r.normal(size=(n, 2)), r.normal(size=n)],
            "log_ell y",
        ),
        "while_tolerance": c(while_tolerance, lambda r, n: [r.random(n) + 1.0, 2.0], "x a"),
    }


CASES = _cases()
