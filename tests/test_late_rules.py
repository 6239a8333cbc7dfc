"""SciPy's rules are registered when first needed, so that a program that never imports SciPy
does not pay for importing it (each test runs a fresh interpreter: the test process has SciPy
loaded already)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("scipy")

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(tmp_path, source: str) -> str:
    """Run ``source`` as a script in a fresh interpreter with the disk cache off; its output."""
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(source))
    environment = {"OVERBAR_CACHE": "0", "PYTHONPATH": str(ROOT), "PATH": ""}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_overbar_does_not_import_scipy(tmp_path):
    output = run_fresh(
        tmp_path,
        """
        import sys
        import numpy as np
        import overbar

        def f(x):
            return np.sum(np.tanh(x) ** 2)

        overbar.grad(f)(np.ones(3))
        print("scipy" in sys.modules)
        """,
    )
    assert output.split() == ["False"]


def test_rules_are_there_for_scipy_imported_after_overbar(tmp_path):
    output = run_fresh(
        tmp_path,
        """
        import numpy as np
        import overbar
        from scipy import signal, special

        def f(x):
            return np.sum(special.expit(x) * special.gammaln(x + 2)) + np.sum(
                signal.convolve(x, x)
            )

        def g(x):
            return np.sum(special.xlogy.outer(x, x))  # a rule derived from xlogy's

        x = np.linspace(0.5, 1.5, 4)
        print(overbar.check_grad(f, [x]) < 1e-6, overbar.check_grad(g, [x]) < 1e-6)
        """,
    )
    assert output.split() == ["True", "True"]


def test_rules_are_there_for_scipy_imported_in_the_function(tmp_path):
    output = run_fresh(
        tmp_path,
        """
        import numpy as np
        import overbar

        def f(x):
            from scipy.special import gammaln

            return np.sum(gammaln(x + 1.0))

        print(overbar.check_grad(f, [np.linspace(0.5, 1.5, 4)]) < 1e-6)
        """,
    )
    assert output.split() == ["True"]


def test_the_rule_listing_has_scipy_rules_without_a_scipy_import(tmp_path):
    output = run_fresh(
        tmp_path,
        """
        import contextlib, io
        from overbar.cli import main

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            main(["rules", "gammaln"])
        print("gammaln" in buffer.getvalue())
        """,
    )
    assert output.split() == ["True"]
