"""Fit the stiffness and damping of a spring to an observed trajectory, through the simulation.

The simulator is a plain loop (semi-implicit Euler); overbar differentiates the whole run, so
gradient descent on the squared distance to the observations recovers the parameters.
Run it:  python examples/spring.py
"""

import numpy as np

import overbar


def misfit(log_stiffness, log_damping, observed, dt):
    stiffness = np.exp(log_stiffness)
    damping = np.exp(log_damping)
    x = 1.0
    v = 0.0
    total = 0.0
    for i in range(observed.shape[0]):
        a = -stiffness * x - damping * v
        v = v + dt * a
        x = x + dt * v
        total = total + (x - observed[i]) ** 2
    return total / observed.shape[0]


misfit_grad = overbar.grad(misfit, wrt=("log_stiffness", "log_damping"))


def observe(stiffness=4.0, damping=0.3, steps=200, dt=0.02, seed=0):
    """Positions of the true spring, with measurement noise."""
    rng = np.random.default_rng(seed)
    x, v, positions = 1.0, 0.0, []
    for _ in range(steps):
        v = v + dt * (-stiffness * x - damping * v)
        x = x + dt * v
        positions.append(x)
    return np.array(positions) + 0.01 * rng.normal(size=steps)


def fit(iterations=400, learning_rate=0.5, report_every=50):
    dt = 0.02
    observed = observe(dt=dt)
    log_stiffness, log_damping = np.log(2.0), np.log(1.0)
    history = []
    for iteration in range(iterations + 1):
        grad_stiffness, grad_damping = misfit_grad(log_stiffness, log_damping, observed, dt)
        if iteration % report_every == 0:
            value = misfit(log_stiffness, log_damping, observed, dt)
            history.append((value, np.exp(log_stiffness), np.exp(log_damping)))
            print(
                f"iteration {iteration:4d}   misfit {value:.6f}   "
                f"stiffness {np.exp(log_stiffness):.3f}   damping {np.exp(log_damping):.3f}"
            )
        log_stiffness -= learning_rate * grad_stiffness
        log_damping -= learning_rate * grad_damping
    return np.exp(log_stiffness), np.exp(log_damping), history


if __name__ == "__main__":
    print("Generated adjoint of misfit:\n")
    print(misfit_grad.source)
    fit()
