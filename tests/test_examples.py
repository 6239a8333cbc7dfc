"""The examples: golden files of their generated code, and a short run of each."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import overbar

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("OVERBAR_REGENERATE_GOLDEN") == "1"


def load_example(name: str):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check_golden(name: str, source: str) -> None:
    path = GOLDEN / f"{name}.py.txt"
    if REGENERATE:
        path.write_text(source)
    assert path.exists(), f"no golden file {path}; run with OVERBAR_REGENERATE_GOLDEN=1"
    assert source == path.read_text(), (
        f"generated code for {name} changed; if on purpose, regenerate with "
        "OVERBAR_REGENERATE_GOLDEN=1"
    )


@pytest.fixture(scope="module")
def mlp():
    return load_example("mlp")


def test_mlp_generated_code_matches_golden(mlp):
    check_golden("mlp_loss_grad", mlp.loss_grad.source)


def test_mlp_specialised_code_matches_golden(mlp):
    check_golden("mlp_loss_grad_specialised", mlp.specialised_source())


def test_mlp_specialised_reverse_sweep_is_the_hand_derivation(mlp):
    source = mlp.specialised_source()
    reverse = source[source.index("y = W2 @ h + b2") :].splitlines()[1:-1]
    statements = [line.strip() for line in reverse if not line.strip().startswith("#")]
    assert statements == [  # DESIGN.md's seven bars, in the order of the reverse sweep
        "y_bar = 1.0 * (y - t)",  # L̄ = 1 times ½·2 (y - t), computed where it is read
        "b2_bar = y_bar.sum(axis=1, keepdims=True)",
        "W2_bar = y_bar @ h.T",
        "h_bar = W2.T @ y_bar",
        "z_bar = h_bar * h * (1 - h)",
        "b1_bar = z_bar.sum(axis=1, keepdims=True)",
        "W1_bar = z_bar @ x.T",
    ]


def test_mlp_reverse_sweep_is_as_short_as_the_hand_derivation(mlp):
    source = mlp.loss_grad.source
    reverse = source[source.index("L_bar = seed(L)") :].splitlines()[1:-1]
    statements = [line for line in reverse if line.strip() and not line.strip().startswith("#")]
    # DESIGN.md's hand derivation has 7 bars (ȳ, W̄2, b̄2, h̄, z̄, W̄1, b̄1), plus the bias
    # unbroadcasts of the two matmul results.
    assert len(statements) <= 9, "\n".join(statements)
    assert "z_bar = h_bar * h * (1 - h)" in source


def test_mlp_gradient_against_finite_differences(mlp):
    x, t = mlp.make_task(batch=7)
    params = mlp.init(n_hidden=5)
    overbar.check_grad(mlp.loss, [*params, x, t], wrt=(0, 1, 2, 3))


def test_mlp_gradient_against_the_hand_derivation(mlp):
    x, t = mlp.make_task(batch=6)
    W1, b1, W2, b2 = mlp.init(n_hidden=5)
    z = W1 @ x + b1
    h = 1 / (1 + np.exp(-z))
    y = W2 @ h + b2
    y_bar = y - t
    h_bar = W2.T @ y_bar
    z_bar = h_bar * h * (1 - h)
    expected = (z_bar @ x.T, z_bar.sum(1, keepdims=True), y_bar @ h.T, y_bar.sum(1, keepdims=True))
    for got, want in zip(mlp.loss_grad(W1, b1, W2, b2, x, t), expected, strict=True):
        assert np.allclose(got, want)


def test_mlp_training_lowers_the_loss(mlp, capsys):
    _, losses = mlp.train(steps=200, report_every=100)
    assert losses[-1] < 0.5 * losses[0]


@pytest.fixture(scope="module")
def rnn():
    return load_example("rnn")


@pytest.fixture(scope="module")
def spring():
    return load_example("spring")


def test_rnn_generated_code_matches_golden(rnn):
    check_golden("rnn_loss_grad", rnn.loss_grad.source)


def test_rnn_specialised_code_matches_golden(rnn):
    check_golden("rnn_loss_grad_specialised", rnn.specialised_source())


def test_rnn_specialised_code_reads_like_backpropagation_through_time(rnn):
    source = rnn.specialised_source()
    for general in ("shape_of", "unbroadcast", "matmul_left_bar", "np.outer", "seed("):
        assert general not in source, general
    reverse = source.split("for _ in range(trips):")[1]
    assert not any(  # no copies: tmp = name, name = tmp
        line.strip().split(" = ")[1].isidentifier()
        for line in reverse.splitlines()
        if " = " in line and "stack.pop()" not in line and "_rows" not in line
    ), reverse
    assert "W_bar = W_bar + sum_of_outers(" in source  # one product after the loop


def test_rnn_gradient_against_finite_differences(rnn):
    xs, targets = rnn.make_sequence(steps=6)
    params = rnn.init(hidden=3)
    overbar.check_grad(rnn.loss, [*params, xs, targets], wrt=(0, 1, 2, 3))


def test_rnn_training_lowers_the_loss(rnn, capsys):
    _, losses = rnn.train(steps=60, report_every=30)
    assert losses[-1] < 0.2 * losses[0]


def test_spring_generated_code_matches_golden(spring):
    check_golden("spring_misfit_grad", spring.misfit_grad.source)


def test_spring_gradient_against_finite_differences(spring):
    observed = spring.observe(steps=30)
    overbar.check_grad(spring.misfit, [np.log(3.0), np.log(0.5), observed, 0.02], wrt=(0, 1))


def test_spring_fit_recovers_the_parameters(spring, capsys):
    stiffness, damping, _ = spring.fit(iterations=300, report_every=100)
    assert stiffness == pytest.approx(4.0, rel=0.02)
    assert damping == pytest.approx(0.3, abs=0.03)


@pytest.fixture(scope="module")
def mlp_dict():
    return load_example("mlp_dict")


def test_mlp_dict_specialised_code_matches_golden(mlp_dict):
    check_golden("mlp_dict_loss_grad_specialised", mlp_dict.specialised_source())


def test_mlp_dict_gradient_is_the_array_mlps_in_a_dict(mlp, mlp_dict):
    x, t = mlp_dict.make_task()
    params = mlp_dict.init()
    grads = mlp_dict.loss_grad(params, x, t)
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    expected = mlp.loss_grad(*params.values(), x, t)
    for key, value in zip(params, expected, strict=True):
        np.testing.assert_allclose(grads[key], value, rtol=1e-12)


def test_mlp_dict_gradient_against_finite_differences(mlp_dict):
    x, t = mlp_dict.make_task(batch=8)
    assert overbar.check_grad(mlp_dict.loss, (mlp_dict.init(), x, t)) < 1e-5


def test_mlp_dict_training_lowers_the_loss(mlp_dict, capsys):
    _, losses = mlp_dict.train(steps=200, report_every=100)
    assert losses[-1] < 0.5 * losses[0]
