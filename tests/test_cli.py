"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "examples" / "mlp.py")


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "overbar", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_show_prints_the_generated_adjoint():
    result = run("show", f"{MLP}:loss", "--wrt", "W1,b1,W2,b2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def loss_grad(W1, b1, W2, b2, x, t):")
    assert "return (W1_bar, b1_bar, W2_bar, b2_bar)" in result.stdout


def test_show_the_literal_adjoint_and_passes_one_by_one():
    shapes = "W1=16x3,b1=16x1,W2=2x16,b2=2x1,x=3x64,t=2x64"
    literal = run("show", f"{MLP}:loss", "--shapes", shapes, "--optimise", "none")
    assert literal.returncode == 0, literal.stderr
    assert "L_bar = seed(L)" in literal.stdout and "unbroadcast(y_bar, tmp2)" in literal.stdout
    no_peephole = run("show", f"{MLP}:loss", "--shapes", shapes, "--optimise", "all,-peephole")
    assert no_peephole.returncode == 0 and "W1_bar = z_bar @ x.T" in no_peephole.stdout
    bad = run("show", f"{MLP}:loss", "--optimise", "all,-fold")
    assert bad.returncode == 2 and "unknown optimisation 'fold'" in bad.stderr


def test_show_specialised_on_shapes():
    shapes = "W1=16x3,b1=16x1,W2=2x16,b2=2x1,x=3x64,t=2x64"
    result = run("show", f"{MLP}:loss", "--wrt", "W1,b1,W2,b2", "--shapes", shapes)
    assert result.returncode == 0, result.stderr
    assert "W1_bar = z_bar @ x.T" in result.stdout and "unbroadcast" not in result.stdout
    bad = run("show", f"{MLP}:loss", "--shapes", "Q=3x3")
    assert bad.returncode == 2 and "--shapes" in bad.stderr
    bad = run("show", f"{MLP}:loss", "--shapes", "x=3xq")
    assert bad.returncode == 2 and "not a shape" in bad.stderr


FIXED_POINT = """
def f(x, steps):
    for _ in range(steps):
        x = x - 0.01 * (x ** 3 - 2 * x)
    return x
"""


def test_show_the_gradient_of_one_number_by_forward_mode(tmp_path):
    path = tmp_path / "fixed_point.py"
    path.write_text(FIXED_POINT)
    result = run("show", f"{path}:f", "--shapes", "x=float")
    assert result.returncode == 0, result.stderr
    assert "x_dot = one_like(x)" in result.stdout and "return x_dot" in result.stdout
    reverse = run("show", f"{path}:f", "--shapes", "x=float", "--optimise", "all,-forward")
    assert reverse.returncode == 0, reverse.stderr
    assert "stack.pop()" in reverse.stdout and "one_like" not in reverse.stdout


def test_show_normalized_stage_and_positional_wrt():
    result = run("show", f"{MLP}:loss", "--wrt", "0", "--stage", "normalized")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def loss(W1, b1, W2, b2, x, t):")
    assert "tmp1 = W1 @ x" in result.stdout and "_bar" not in result.stdout


def test_errors_are_one_line_without_traceback(tmp_path):
    cases = [
        (("show", "missing.py:f"), "no such file"),
        (("show", f"{MLP}:nope"), "defines no function 'nope'"),
        (("show", f"{MLP}:loss", "--wrt", "W9"), "not a parameter"),
        (("show", MLP), "expected FILE.py:FUNCTION"),
    ]
    looped = tmp_path / "looped.py"
    looped.write_text(
        "def f(x):\n    try:\n        y = x\n    except ValueError:\n        y = x\n    return y\n"
    )
    cases.append((("show", f"{looped}:f"), "a try statement"))
    for arguments, message in cases:
        result = run(*arguments)
        assert result.returncode == 2, arguments
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("overbar: error:")


def test_console_script_is_the_same_program():
    from overbar.cli import main

    assert main(["show", f"{MLP}:loss", "--wrt", "W1"]) == 0


def test_show_the_forward_mode_code():
    shapes = "W1=16x3,b1=16x1,W2=2x16,b2=2x1,x=3x64,t=2x64"
    result = run(
        "show", f"{MLP}:loss", "--wrt", "W1,b1,W2,b2", "--shapes", shapes, "--mode", "jvp"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "def loss_jvp(W1, b1, W2, b2, x, t, W1_dot, b1_dot, W2_dot, b2_dot):"
    )
    assert "    y_dot = W2_dot @ h + W2 @ h_dot + b2_dot\n" in result.stdout
    assert "return (L, L_dot)" in result.stdout
    general = run("show", f"{MLP}:loss", "--wrt", "W1", "--mode", "jvp")
    assert general.returncode == 0, general.stderr
    assert "z_dot = broadcast_tangent(W1_dot @ x, z)" in general.stdout
    grad = run("show", f"{MLP}:loss", "--wrt", "W1")
    assert grad.stdout.startswith("def loss_grad(")  # grad stays the default


def test_show_mode_vjp_prints_the_forward_function_and_the_pullback():
    shapes = "W1=16x3,b1=16x1,W2=2x16,b2=2x1,x=3x64,t=2x64"
    result = run("show", f"{MLP}:loss", "--wrt", "W1,b1", "--mode", "vjp", "--shapes", shapes)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def loss_vjp(W1, b1, W2, b2, x, t):")
    assert "def loss_pullback(" in result.stdout and "*, result_bar" in result.stdout
    assert "return (W1_bar, b1_bar)" in result.stdout


def test_show_mode_hvp_prints_the_jvp_of_the_adjoint():
    shapes = "W1=16x3,b1=16x1,W2=2x16,b2=2x1,x=3x64,t=2x64"
    result = run("show", f"{MLP}:loss", "--wrt", "W2", "--mode", "hvp", "--shapes", shapes)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def loss_grad_jvp(W1, b1, W2, b2, x, t, W2_dot):")
    assert "y_dot = W2_dot @ h" in result.stdout  # forward over reverse
    assert "W2_bar_dot = y_bar_dot @ h.T" in result.stdout
    assert "return (None, W2_bar_dot)" in result.stdout  # H v, not the gradient
    assert "W2_bar =" not in result.stdout
    bad = run("show", f"{MLP}:loss", "--mode", "jacobian")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
