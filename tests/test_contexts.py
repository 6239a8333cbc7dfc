"""Contexts that change no value (``with np.errstate(...)``, ``np.printoptions(...)``,
``warnings.catch_warnings(...)``): the body is differentiated, and the generated lines that
come from it, the forward sweep's and the reverse sweep's, run under the same context
(``contexts.py``); every other ``with`` is refused at its line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

PROGRAMS = {
    "errstate in a loop": """
def f(x, w):
    a = np.sin(x) * w
    for _ in range(3):
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.log(a * a + 1.0)
            c = np.sqrt(b + 0.5)
        a = a + c
    return np.sum(a)
""",
    "a loop inside nested contexts": """
def f(x, w):
    with warnings.catch_warnings():
        with np.errstate(over="ignore"), np.printoptions(precision=3):
            h = x
            for _ in range(2):
                h = np.tanh(h * w) + x
    return np.sum(h ** 2)
""",
    "a branch around a context": """
def f(x, w):
    if np.sum(x) > 0:
        with np.errstate(all="warn"):
            y = np.exp(x * w) / (1.0 + x * x)
    else:
        y = x * w
    return np.sum(y)
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_the_body_of_a_context_that_changes_no_value_is_differentiated(name, shape):
    f = define("import warnings\n" + PROGRAMS[name])
    rng = np.random.default_rng(2)
    x = rng.uniform(0.1, 1.0, size=shape)
    x = float(x) if shape == () else x
    assert overbar.check_grad(f, [x, 0.7], wrt=(0, 1)) < 1e-6
    literal = overbar.grad(f, wrt=(0, 1), optimise=False)(x, 0.7)
    optimised = overbar.grad(f, wrt=(0, 1))(x, 0.7)
    for a, b in zip(literal, optimised, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_the_reverse_lines_run_under_the_context():
    """np.sqrt(0.0) is 0.0, silently; its adjoint divides by 2 * 0.0: under divide="raise",
    the reverse sweep raises as the forward lines would have."""
    f = define(
        "def f(x):\n    with np.errstate(divide='raise'):\n        y = np.sqrt(x)\n"
        "    return np.sum(y + x)\n"
    )
    x = np.array([0.0, 1.0])
    with pytest.raises(FloatingPointError):
        overbar.grad(f, check=False)(x)
    source = overbar.grad(f).source_for(x)
    assert source.count('with np.errstate(divide="raise"):') == 2, source
    ignoring = define(
        "def f(x):\n    with np.errstate(divide='ignore'):\n        y = np.sqrt(x)\n"
        "    return np.sum(y + x)\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning the context did not silence would raise
        gradient = overbar.grad(ignoring, check=False)(x)
    assert np.isinf(gradient[0]) and gradient[1] == pytest.approx(1.5)


@pytest.mark.parametrize(
    "header",
    [
        "with open('f.txt') as handle:",
        "with np.errstate(divide=mode):",
        "with warnings.catch_warnings(record=True) as caught:",
        "with np.errstate(**modes):",
    ],
)
def test_every_other_with_is_refused_at_its_line(header):
    f = define(
        "import warnings\n\ndef f(x, mode='ignore', modes={}):\n"
        f"    {header}\n        y = np.log(x)\n    return np.sum(y)\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="a with statement") as caught:
        overbar.grad(f)(np.ones(3))
    assert f"{f.__code__.co_filename}:{f.__code__.co_firstlineno + 1}:" in str(caught.value)


def test_a_with_of_a_local_name_is_refused():
    f = define(
        "def f(x):\n    np_ = np\n    with np_.errstate(divide='ignore'):\n"
        "        y = np.log(x)\n    return np.sum(y)\n"
    )
    with pytest.raises(UnsupportedSyntaxError, match="a with statement"):
        overbar.grad(f)(np.ones(3))


def test_a_vjps_reverse_sweep_runs_under_the_context():
    f = define(
        "def f(x):\n    with np.errstate(divide='raise'):\n        y = np.sqrt(x) * 2.0\n"
        "    return y + x\n"
    )
    x = np.array([0.0, 1.0])
    value, pullback = overbar.vjp(f, x)
    np.testing.assert_allclose(value, [0.0, 3.0])
    with pytest.raises(FloatingPointError):
        pullback(np.ones(2))
    value, pullback = overbar.vjp(f, np.array([4.0, 1.0]))
    np.testing.assert_allclose(pullback(np.ones(2)), [1.5, 2.0])
