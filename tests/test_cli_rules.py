"""``overbar rules [PATTERN] [--markdown]``, run as a user runs it (in a subprocess, where the
rule table holds the built-in rules only), and the generated support table ``docs/rules.md``."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import ROOT, run

TABLE = Path(ROOT) / "docs" / "rules.md"


def test_the_committed_support_table_is_up_to_date():
    """Whoever adds or changes a rule regenerates the table:
    ``python -m overbar rules --markdown > docs/rules.md``."""
    result = run("rules", "--markdown")
    assert result.returncode == 0, result.stderr
    assert TABLE.read_text() == result.stdout, (
        "docs/rules.md is out of date with the rule table; regenerate it with "
        "`python -m overbar rules --markdown > docs/rules.md`"
    )


def test_rules_lists_each_rule_with_its_math_and_conditions():
    result = run("rules", "sum")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("np.sum ") and "ā = ȳ" in line and "[where axis=None]" in line
        for line in lines
    )
    assert any(line.startswith("np.nansum ") and "nan" in line for line in lines)
    assert any(line.startswith("sum ") for line in lines)  # Python's builtin
    assert not any(line.startswith("np.mean") for line in lines)


def test_rules_lists_the_primitives_without_gradient_that_match():
    result = run("rules", "argm")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No gradient (4): .argmax(), .argmin(), np.argmax")
    result = run("rules", "np.arg*")
    assert "np.argmax" in result.stdout and "np.argsort" in result.stdout
    assert "np.sum" not in result.stdout


def test_rules_says_when_nothing_matches():
    result = run("rules", "no-such-primitive")
    assert result.returncode == 0
    assert result.stdout == "no primitive matches 'no-such-primitive'\n"


def test_rules_lists_the_tangent_rules_after_the_adjoint_rules():
    result = run("rules", "np.tanh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "np.tanh  y = tanh(x): x̄ = ȳ (1 − y²)",
        "np.tanh  y = tanh(x): ẏ = ẋ (1 − y²)",
    ]
