"""A vanilla RNN trained with overbar to continue a noisy sine wave one step ahead.

    h_t = tanh(W h_{t-1} + U x_t + b),   y_t = V h_t,   L = mean_t ½ ‖y_t − target_t‖²

The loop over time is differentiated as written: the forward sweep saves each h it overwrites,
the reverse sweep runs the loop backwards (backpropagation through time).
Run it:  python examples/rnn.py
"""

import numpy as np

import overbar


def loss(W, U, b, V, xs, targets):
    h = np.zeros(W.shape[0])
    total = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
        y = V @ h
        total = total + 0.5 * np.sum((y - targets[t]) ** 2)
    return total / xs.shape[0]


loss_grad = overbar.grad(loss, wrt=("W", "U", "b", "V"))


def specialised_source():
    """The adjoint the training below runs: compiled for its arguments' shapes."""
    xs, targets = make_sequence()
    return loss_grad.source_for(*init(), xs, targets)


def make_sequence(steps=40, seed=0):
    """A sine wave with a little noise; the target at t is the input at t + 1."""
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 4 * np.pi, steps + 1)
    wave = np.sin(phase) + 0.05 * rng.normal(size=steps + 1)
    return wave[:-1, None], wave[1:, None]


def init(hidden=8, seed=1):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(scale=0.3, size=(hidden, hidden)),
        rng.normal(scale=0.5, size=(hidden, 1)),
        np.zeros(hidden),
        rng.normal(scale=0.3, size=(1, hidden)),
    ]


def train(steps=300, learning_rate=0.1, report_every=50):
    xs, targets = make_sequence()
    params = init()
    velocity = [np.zeros_like(p) for p in params]
    losses = []
    for step in range(steps + 1):
        grads = loss_grad(*params, xs, targets)
        if step % report_every == 0:
            losses.append(loss(*params, xs, targets))
            print(f"step {step:4d}   loss {losses[-1]:.5f}")
        velocity = [0.9 * v - learning_rate * g for v, g in zip(velocity, grads, strict=True)]
        params = [p + v for p, v in zip(params, velocity, strict=True)]
    return params, losses


if __name__ == "__main__":
    print("Generated adjoint of loss, for the shapes of this task:\n")
    print(specialised_source())
    train()
