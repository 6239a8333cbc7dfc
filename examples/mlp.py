"""The two-layer network of DESIGN.md, trained by gradient descent with overbar.

    z = W1 @ x + b1,  h = sigmoid(z),  y = W2 @ h + b2,  L = ½ ‖y − t‖²

Run it to see the generated adjoint and the loss falling:  python examples/mlp.py
"""

import numpy as np

import overbar


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@overbar.adjoint(sigmoid)
def sigmoid_adjoint(h, z, h_bar):
    """h = σ(z):  z̄ = h̄ ∘ h ∘ (1 − h)"""
    z_bar = h_bar * h * (1 - h)
    return z_bar


@overbar.tangent(sigmoid)
def sigmoid_tangent(h, z, z_dot):
    """h = σ(z):  ḣ = ż ∘ h ∘ (1 − h)  (for forward mode, overbar.jvp)"""
    return z_dot * h * (1 - h)


def loss(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = sigmoid(z)
    y = W2 @ h + b2
    L = 0.5 * np.sum((y - t) ** 2)
    return L


loss_grad = overbar.grad(loss, wrt=("W1", "b1", "W2", "b2"))


def make_task(n_in=3, n_out=2, batch=64, seed=0):
    """A smooth synthetic regression task: targets from a fixed random nonlinear map."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n_in, batch))
    A = rng.normal(size=(n_out, n_in))
    t = np.sin(A @ x) + 0.1 * (x[:1] ** 2)
    return x, t


def init(n_in=3, n_hidden=16, n_out=2, seed=1):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(scale=1 / np.sqrt(n_in), size=(n_hidden, n_in))
    b1 = np.zeros((n_hidden, 1))
    W2 = rng.normal(scale=1 / np.sqrt(n_hidden), size=(n_out, n_hidden))
    b2 = np.zeros((n_out, 1))
    return [W1, b1, W2, b2]


def train(steps=2000, learning_rate=0.05, report_every=250):
    x, t = make_task()
    params = init()
    losses = []
    for step in range(steps + 1):
        grads = loss_grad(*params, x, t)
        if step % report_every == 0:
            value = loss(*params, x, t) / x.shape[1]
            losses.append(value)
            print(f"step {step:5d}   loss per example {value:.5f}")
        params = [p - learning_rate * g / x.shape[1] for p, g in zip(params, grads, strict=True)]
    return params, losses


def specialised_source():
    """The adjoint the training below runs: compiled for its arguments' shapes."""
    x, t = make_task()
    return loss_grad.source_for(*init(), x, t)


if __name__ == "__main__":
    print("Generated adjoint of loss, for the shapes of this task:\n")
    print(specialised_source())
    train()
