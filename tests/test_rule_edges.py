"""The rule table at its edges (``tests/rule_edges.py``): every rule's samples moved to 0-d
arrays, length-1 and empty axes, broadcasting, negative axes, ``keepdims``, float32, and integer
and boolean operands, differentiated by the specialised, general and literal adjoints and by
forward mode; each case is right or refused, never a wrong array.

CI runs a fixed sample spread over the kinds of edge and the rule table (a few seconds);
``OVERBAR_RULE_EDGES=all`` runs every case (about 12,000; minutes), as does
``python -m tests.rule_edges``.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import overbar
from overbar.errors import InternalError
from overbar.primitives import describe
from overbar.runtime.helpers import unbroadcast
from overbar.runtime.registry import RULES, adjoint
from tests import rule_edges
from tests.test_rules import any_

EVERY_CASE = os.environ.get("OVERBAR_RULE_EDGES") == "all"
CASES = rule_edges.all_cases() if EVERY_CASE else rule_edges.ci_sample()


@pytest.fixture(autouse=True)
def _guard_left_to_the_harness(monkeypatch):
    # the harness runs the literal adjoint and central differences itself, and must see a
    # wrong gradient as its own outcome rather than as the guard's error
    monkeypatch.setenv(overbar.guard.ENVIRONMENT_VARIABLE, "0")


# Edges where an adjoint crashes (an error out of NumPy or SciPy, not a gradient): known, not
# fixed yet, by (primal, kind of edge). A wrong gradient is never listed here.
KNOWN_CRASHES: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_rule_at_an_edge_is_right_or_refused(case):
    outcome = rule_edges.check_case(case)
    known = KNOWN_CRASHES.get((describe(case.seed.primal), case.kind))
    if outcome.kind == "crashed" and known:
        pytest.xfail(known)
    assert outcome.kind in ("ok", "refused"), outcome.detail


def test_the_sample_covers_every_kind_of_edge():
    kinds = {case.kind for case in rule_edges.ci_sample()}
    assert kinds == set(rule_edges.KINDS) - {"base"}


def test_every_built_in_rule_has_edge_cases():
    """Each primal with a built-in adjoint rule is reached by some case (its samples, in the
    rule modules' tests, are the seeds); and most by a case of a shape edge, not only by
    float32 or a constant operand."""
    built_in = {
        describe(rule.primal)
        for rules in RULES.rules.values()
        for rule in rules
        if rule.function.__module__.startswith("overbar.runtime.rules")
        # the runtime's own helpers, which only generated code calls, are not the user's
        and not str(getattr(rule.primal, "__module__", "")).startswith("overbar.")
    }
    cases = rule_edges.derived_cases()
    reached = {describe(case.seed.primal) for case in cases}
    assert not built_in - reached, sorted(built_in - reached)
    shaped = {describe(c.seed.primal) for c in cases if c.kind in ("0-d", "size-1", "leading")}
    assert len(shaped & built_in) >= 0.8 * len(built_in)


def test_negative_axes_and_keepdims_are_derived_from_the_signature():
    texts = {(c.kind, c.expression) for c in rule_edges.derived_cases()}
    assert ("negative-axis", "np.sum(a, axis=-2)") in texts  # np.sum(a, axis=0) of a 2-d a
    assert ("negative-axis", "np.sum(a, -1)") in texts  # a positional axis: np.sum(a, 1)
    assert ("negative-axis", "np.swapaxes(a, -3, 2)") in texts  # each axis parameter
    assert ("keepdims", "np.sum(a, axis=0, keepdims=True)") in texts
    negative = [text for kind, text in texts if kind == "negative-axis"]
    assert negative and all(re.search(r"-\d", text) for text in negative)


def scaled_sum(x, y):
    return x + 2.0 * y


def scaled_sum_unsummed(z, x, y, z_bar):
    """A deliberately wrong rule: the adjoints are not summed back to the operands' shapes"""
    return z_bar, 2.0 * z_bar


@pytest.mark.unchecked
def test_a_rule_that_does_not_sum_back_a_broadcast_is_caught(monkeypatch):
    """The harness is not vacuous: a rule that forgets to sum its adjoint back to a broadcast
    operand's shape passes its sample of equal shapes, and fails at its size-1 edges."""
    from tests import support

    seed = rule_edges.Seed(
        "tests.test_rule_edges",
        scaled_sum,
        "scaled_sum(a, b)",
        {"a": any_(2, 3), "b": any_(2, 3)},
        rule_edges.seeds()[0].make,
    )
    monkeypatch.setitem(support.LIBRARIES, "scaled_sum", scaled_sum)
    adjoint(scaled_sum)(scaled_sum_unsummed)
    try:
        outcomes = {}
        for case in rule_edges.cases_of(seed):
            if case.kind in ("base", "size-1"):
                outcomes.setdefault(case.kind, []).append(rule_edges.check_case(case).kind)
    finally:
        RULES.rules.pop(scaled_sum, None)
    assert set(outcomes["base"]) <= {"ok", "refused"}  # (forward mode has no rule)
    assert set(outcomes["size-1"]) == {"wrong"}


def test_an_adjoint_smaller_than_its_operand_is_an_internal_error():
    """unbroadcast(g, x) sums g down to x's shape; a g that x's shape does not broadcast to is
    a rule's mistake, raised, not handed on with the wrong shape (issue 8)."""
    with pytest.raises(InternalError, match=r"shape \(4, 1\) cannot be summed to the shape"):
        unbroadcast(np.ones((4, 1)), np.ones((4, 3)))
    with pytest.raises(InternalError, match="cannot be summed"):
        unbroadcast(np.ones(3), np.ones((2, 3)))
    assert unbroadcast(np.ones((2, 3)), np.ones((1, 3))).shape == (1, 3)
    assert unbroadcast(np.ones((2, 3)), 0.5).shape == ()
