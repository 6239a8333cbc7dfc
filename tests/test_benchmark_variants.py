"""The variant benchmark's functions at small sizes: the variants of each function compute the
same value, each hand-written adjoint (the benchmark's reference) agrees with central
differences, so that a wrong hand-written adjoint cannot pass overbar off as wrong or right, and
overbar's gradient of every variant agrees with the hand-written one (or is refused, for the
variants listed as refused, with the reason given)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import variants_functions  # noqa: E402
import variants_third  # noqa: E402
import variants_unseen  # noqa: E402

import overbar  # noqa: E402
from overbar.errors import OverbarError  # noqa: E402

FUNCTIONS = {function.name: function for function in variants_functions.FUNCTIONS}
VARIANTS = [
    pytest.param(function, variant, id=variant.name)
    for family in (variants_functions, variants_unseen, variants_third)
    for function in family.FUNCTIONS
    for variant in function.variants
]


def small_inputs(function, seed=0):
    return function.inputs(np.random.default_rng(seed), small=True)


def test_the_family_is_as_large_as_asked():
    assert len(FUNCTIONS) >= 12
    assert sum(len(f.variants) for f in FUNCTIONS.values()) >= 45
    unseen = variants_unseen.FUNCTIONS
    assert len(unseen) >= 10 and sum(len(f.variants) for f in unseen) >= 40
    third = variants_third.FUNCTIONS
    assert len(third) >= 10 and sum(len(f.variants) for f in third) >= 50
    for function in unseen + third:  # the same reference as the function of the same name
        assert function.by_hand is FUNCTIONS[function.name].by_hand


def test_loop_variants_are_found():
    loops = {v.name for f in FUNCTIONS.values() for v in f.variants if v.loops}
    assert {"rnn_helper", "mse_loop", "logsumexp_loop", "heat_zeros"} <= loops
    assert not {"mse_mean", "logsumexp_helper", "mlp_rows_helper"} & loops


@pytest.mark.parametrize(("function", "variant"), VARIANTS)
def test_variant_computes_the_functions_value(function, variant):
    inputs = small_inputs(function)
    expected = FUNCTIONS[function.name].variants[0].forward(*inputs)
    got = variant.forward(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in inputs])
    assert np.shape(got) == () and np.isfinite(got)
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)


def central_difference(function, inputs, position, direction, step=1e-6):
    def at(offset):
        moved = list(inputs)
        moved[position] = inputs[position] + offset * direction
        if not isinstance(inputs[position], np.ndarray):
            moved[position] = float(moved[position])
        return function.variants[0].forward(*moved)

    return (at(step) - at(-step)) / (2 * step)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_hand_written_adjoint_agrees_with_central_differences(name, seed):
    function = FUNCTIONS[name]
    inputs = small_inputs(function, seed)
    parameters = function.variants[0].forward.__code__.co_varnames
    gradients = function.by_hand(*inputs)
    assert len(gradients) == len(function.wrt)
    rng = np.random.default_rng(100 + seed)
    for wrt, gradient in zip(function.wrt, gradients, strict=True):
        position = parameters.index(wrt)
        assert np.shape(gradient) == np.shape(inputs[position]), wrt
        direction = rng.normal(size=np.shape(inputs[position]))
        expected = central_difference(function, inputs, position, direction)
        got = np.sum(gradient * direction)
        assert np.isclose(got, expected, rtol=1e-6, atol=1e-8), (wrt, got, expected)


def test_a_wrong_adjoint_would_be_caught():
    """The difference check above is not vacuous: a hand adjoint off by a small factor fails."""
    function = FUNCTIONS["mse"]
    inputs = small_inputs(function)
    (gradient,) = function.by_hand(*inputs)
    direction = np.random.default_rng(3).normal(size=gradient.shape)
    expected = central_difference(function, inputs, 0, direction)
    assert np.isclose(np.sum(gradient * direction), expected, rtol=1e-6)
    assert not np.isclose(np.sum(1.001 * gradient * direction), expected, rtol=1e-6)


def test_the_runner_takes_only_gradients_that_agree_to_rtol_1e_8():
    import variants

    expected = (np.array([1.0, -2.0, 3.0]), 0.5)
    assert variants.agrees((expected[0].copy(), 0.5), expected)
    assert not variants.agrees((expected[0] * (1 + 1e-6), 0.5), expected)
    assert not variants.agrees((expected[0][:2], 0.5), expected)
    assert not variants.agrees((expected[0], 0.5, 0.0), expected)
    assert not variants.agrees(expected[0], expected)


def test_a_refusal_is_reported_with_its_line_and_reason():
    import variants

    error = ValueError("/x/f.py:12:5\n    p *= x\n    ^^^^^^\noverbar cannot | do this")
    assert variants.short(error) == "ValueError: line 12 `p *= x`: overbar cannot \\| do this"


# Variants overbar refuses, each with the part of its message that names why: a refusal, not a
# wrong gradient, is what the benchmark reports for them.
REFUSED: dict[str, str] = {
    # the third hand's (variants_third.py), not fixed this session:
    # a step function made by a factory of closures
    "rnn_t_closure": "a function defined in a nested function",
    # x -= ... on a float argument: the specialisation does not tell a float from a 0-d array,
    # which the in-place update would change for the caller
    "fixed_point_t_math": "augmented assignment to x",
    # a function whose only return is inside its loop (no return after it)
    "fixed_point_t_early_return": "without a final return",
}


@pytest.mark.parametrize(("function", "variant"), VARIANTS)
def test_overbars_gradient_of_the_variant_is_the_hand_written_one(function, variant):
    """At the small sizes, overbar's gradient of every variant agrees with the function's
    hand-written adjoint to rtol 1e-8 (the benchmark's own check), or the variant is one of
    the refused ones, refused with its reason."""
    import variants

    inputs = small_inputs(function)
    gradient = overbar.grad(variant.forward, wrt=function.wrt)
    if variant.name in REFUSED:
        with pytest.raises(OverbarError, match=REFUSED[variant.name]):
            gradient(*inputs)
        return
    assert variants.agrees(gradient(*inputs), function.by_hand(*inputs))
