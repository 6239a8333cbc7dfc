"""Every tangent rule against its adjoint rule and against finite differences.

The samples are those of the adjoint rules' tests (``tests/test_rules*.py``): each sample whose
primitive has a tangent rule is differentiated in forward mode, ``overbar.jvp``, at a random
tangent v (of every input, and of each input alone, so that the terms of inactive inputs are
left out and broadcast terms are wrapped), and checked three ways:

- the dot-product identity ``<J v, u> = <v, Jᵀ u>``, with ``Jᵀ u`` the reverse-mode gradient of
  ``sum(expression * u)`` at a random u: the tangent rule and the adjoint rule agree;
- the central difference of the expression along v;
- the jvp specialised on the sample's shapes against the general one, and the tangent's shape
  against the value's.

A module whose primitives get tangent rules is added to ``TANGENT_MODULES``; the meta-tests then
require a tangent rule for each of its adjoint rules, and samples for each tangent rule.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import overbar
from overbar.primitives import describe
from overbar.runtime import NUMPY
from overbar.runtime.registry import RULES
from tests import (
    test_rules,
    test_rules_arrays,
    test_rules_fft,
    test_rules_linalg,
    test_rules_math,
    test_rules_ufuncs,
    test_rules_science,
)
from tests.support import define, primal_key

# The rule modules whose every adjoint rule has a tangent rule beside it.
TANGENT_MODULES = [
    "overbar.runtime.rules",
    "overbar.runtime.rules_arrays",
    "overbar.runtime.rules_math",
    "overbar.runtime.rules_linalg",
    "overbar.runtime.rules_fft",
    "overbar.runtime.rules_ufuncs",
    "overbar.runtime.rules_science",
]

_SOURCES = [
    test_rules,
    test_rules_arrays,
    test_rules_math,
    test_rules_linalg,
    test_rules_fft,
    test_rules_ufuncs,
    test_rules_science,
]

try:  # SciPy's rules, where it is installed
    from tests import test_rules_scipy
except pytest.skip.Exception:  # pragma: no cover - the test environment has SciPy
    test_rules_scipy = None
else:
    TANGENT_MODULES.extend(test_rules_scipy.RULE_MODULES)
    _SOURCES.append(test_rules_scipy)


def _has_tangent(primal) -> bool:
    try:
        return isinstance(RULES.lookup_tangent(primal), list)
    except TypeError:
        return False


# each module's samples with the function that makes its inputs
_VALUES = {
    test_rules: test_rules._value,
    test_rules_arrays: test_rules_arrays._value,
    test_rules_math: test_rules._value,
    test_rules_linalg: test_rules_linalg.make_value,
    test_rules_fft: test_rules._value,
    test_rules_ufuncs: test_rules._value,
    test_rules_science: test_rules._value,
}
if test_rules_scipy is not None:
    _VALUES[test_rules_scipy] = test_rules_scipy.make_value
SAMPLES = [
    (sample, _VALUES[module])
    for module in _SOURCES
    for sample in module.SAMPLES
    if _has_tangent(sample.primal)
]


def _ids(entry) -> str:
    return str(entry[0])


def _float_arrays(values):
    return [np.asarray(v, dtype=np.float64) for v in values]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("entry", SAMPLES, ids=_ids)
def test_tangent_rule_against_adjoint_rule_and_differences(entry):
    sample, value_of = entry
    rng = np.random.default_rng(zlib.crc32(("tangent " + str(sample)).encode()))
    names = list(sample.inputs)
    args = [value_of(sample.inputs[n], rng) for n in names]
    probe = define(f"def probe({', '.join(names)}):\n    return {sample.expression}\n", "probe")
    value = probe(*args)
    cotangent = rng.standard_normal(np.shape(value))
    weighted = define(
        f"def f({', '.join([*names, 'u'])}):\n    return np.sum(({sample.expression}) * u)\n"
    )
    everything = tuple(range(len(names)))
    gradients = overbar.grad(weighted, wrt=everything)(*args, cotangent)  # a tuple
    choices = [everything] + ([(i,) for i in everything] if len(names) > 1 else [])
    for wrt in choices:
        tangents = [rng.standard_normal(np.shape(args[i])) for i in wrt]
        tangents = [float(t) if np.shape(args[i]) == () else t for i, t in zip(wrt, tangents)]
        computed, derivative = overbar.jvp(probe, args, tangents, wrt=wrt)
        label = f"{sample} wrt {[names[i] for i in wrt]}"
        if _makes_new_arrays(sample.primal):  # forward mode writes into such tangents
            for tangent in tangents:
                assert not np.shares_memory(derivative, tangent), label
        np.testing.assert_allclose(computed, value, rtol=1e-12, err_msg=label)
        assert np.shape(derivative) == np.shape(value), label
        # the dot-product identity: <J v, u> = <v, Jᵀ u>
        forward = float(np.sum(np.asarray(derivative) * cotangent))
        reverse = sum(float(np.sum(gradients[i] * t)) for i, t in zip(wrt, tangents))
        assert forward == pytest.approx(reverse, rel=1e-9, abs=1e-10), label
        # central differences along v
        eps = 1e-6

        def at(step, wrt=wrt, tangents=tangents):
            moved = list(args)
            for i, t in zip(wrt, tangents):
                shifted = np.asarray(args[i], dtype=np.float64) + step * np.asarray(t)
                moved[i] = float(shifted) if np.shape(args[i]) == () else shifted
            return np.asarray(probe(*moved), dtype=np.float64)

        numeric = (at(eps) - at(-eps)) / (2 * eps)
        np.testing.assert_allclose(derivative, numeric, rtol=1e-5, atol=1e-6, err_msg=label)
        # the general jvp (no shapes known) computes the same
        general = overbar.forward_api.jvp_stages(probe, None, wrt).emitted.function
        dots = dict(general_parameters(probe, wrt))
        _, other = general(*args, **{dots[names[i]]: t for i, t in zip(wrt, tangents)})
        assert np.shape(other) == np.shape(value), label
        np.testing.assert_allclose(other, derivative, rtol=1e-12, atol=1e-14, err_msg=label)


def _makes_new_arrays(primal) -> bool:
    try:
        return primal in NUMPY.array_makers
    except TypeError:
        return False


def general_parameters(function, wrt):
    return overbar.forward_api.jvp_stages(function, None, wrt).folded.tangent_parameters


def _in_tangent_modules(rule) -> bool:
    return rule.function.__module__ in TANGENT_MODULES


def test_every_adjoint_rule_of_the_tangent_modules_has_a_tangent_rule():
    """Each primitive whose general adjoint rule (the one without conditions) is in one of
    ``TANGENT_MODULES`` has a tangent rule."""
    missing = sorted(
        {
            describe(rules[0].primal)
            for rules in RULES.rules.values()
            if any(_in_tangent_modules(r) and not r.conditions for r in rules)
            and not _has_tangent(rules[0].primal)
        }
    )
    assert not missing, f"primitives with an adjoint rule but no tangent rule: {missing}"


def test_every_variant_of_an_adjoint_rule_has_a_tangent_rule():
    """Each adjoint rule of ``TANGENT_MODULES``, a ``where`` or ``ranks`` variant included, has
    a tangent rule for every call it takes: one whose conditions are among its own (the general
    tangent rule serves every variant). This covers the primitives whose adjoint rules all have
    conditions (``np.average``, ``np.median``, ``max``), which the test above passes over. A
    primitive with adjoint rules of other modules too is left until those join the list."""
    missing = sorted(
        f"{describe(rule.primal)} where {dict(rule.conditions)}"
        for rules in RULES.rules.values()
        if all(_in_tangent_modules(r) for r in rules)
        for rule in rules
        if not any(
            set(other.conditions) <= set(rule.conditions)
            for other in (RULES.lookup_tangent(rule.primal) or [])
        )
    )
    assert not missing, f"adjoint rules with no tangent rule for their calls: {missing}"


def test_every_tangent_rule_has_samples():
    sampled = {primal_key(sample.primal) for sample, _ in SAMPLES}
    missing = sorted(
        {
            describe(rules[0].primal)
            for rules in RULES.tangents.values()
            if any(_in_tangent_modules(rule) for rule in rules)
            and primal_key(rules[0].primal) not in sampled
        }
    )
    assert not missing, f"tangent rules without sample inputs: {missing}"


def test_the_rule_table_holds_tangent_rules_of_every_kind_of_primitive():
    assert len(RULES.tangents) >= 100
    kinds = {rule.kind for rules in RULES.tangents.values() for rule in rules}
    assert kinds == {"tangent"}
