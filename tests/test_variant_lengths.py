"""The benchmark variants at lengths the benchmark does not use: no step and one step (issue
9's variants are timed at their own lengths, and ``test_benchmark_variants.py`` checks them at
their small length). A loop of no trips, or of one, is where an adjoint's stacks, reversed
loops and per-step accumulations meet their edge; a function of one row is where a broadcast
over rows is of length 1.

Each variant's gradient, from the adjoint specialised on the arguments' shapes and from the
general one, must equal the function's hand-written adjoint (the guard of ``conftest.py``
compares the specialised one with the literal adjoint and central differences too, on its
first call; where the hand adjoint is not written for the length, the literal adjoint is the
reference); where the forward itself
fails at that length (a list read back by ``hs[-1]`` with no step), the gradient must fail too,
never return numbers.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import variants_functions  # noqa: E402
import variants_third  # noqa: E402

import overbar  # noqa: E402
from overbar.errors import OverbarError  # noqa: E402
from tests.test_benchmark_variants import REFUSED  # noqa: E402

CASES = [
    pytest.param(function, variant, length, id=f"{variant.name}-{length}")
    for family in (variants_functions, variants_third)
    for function in family.FUNCTIONS
    for variant in function.variants
    for length in ((0, 1) if variant.loops else (1,))
]

# Variants whose general adjoint (for arguments of any shape) refuses, with the reason: the
# adjoint specialised on the arguments is still checked.
GENERAL_REFUSES = {"fixed_point_countdown": "not known to be an int"}


def _fresh(inputs):
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in inputs]


def _agree(found, expected, what):
    found = found if isinstance(found, tuple) else (found,)
    assert len(found) == len(expected), what
    for one, other in zip(found, expected, strict=True):
        assert np.shape(one) == np.shape(other), what
        np.testing.assert_allclose(one, other, rtol=1e-8, atol=1e-10, err_msg=what)


@pytest.mark.parametrize(("function", "variant", "length"), CASES)
def test_variant_at_an_edge_length(function, variant, length):
    if variant.name in REFUSED:
        pytest.skip("refused at every length (test_benchmark_variants.REFUSED)")
    inputs = function.inputs(np.random.default_rng(length), length=length, small=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            value = variant.forward(*_fresh(inputs))
        except RecursionError:
            # Known, not fixed: the linear-recursion rewrite (and the tail-call one) turn a
            # recursion into a loop whose identity holds where the recursion ends; one that
            # never ends (horner_upto(c, x, -1)) meets RecursionError in Python, and under
            # grad a loop that never ends either, its list of levels growing without bound.
            pytest.xfail("an unending recursion loops forever under grad (linear_recursion.py)")
        except Exception:  # noqa: BLE001 - the function has no value here
            with pytest.raises(Exception):  # noqa: B017, PT011 - nor a gradient
                overbar.grad(variant.forward, wrt=function.wrt)(*_fresh(inputs))
            return
        if not np.isfinite(value):
            pytest.skip("the function is not finite at this length")
        try:
            expected = function.by_hand(*_fresh(inputs))
        except Exception:  # noqa: BLE001 - a hand adjoint written for one length or more
            expected = None
        if expected is None or not all(np.all(np.isfinite(g)) for g in expected):
            literal = overbar.grad(variant.forward, wrt=function.wrt, optimise=False)
            expected = literal(*_fresh(inputs))  # then the literal adjoint is the reference
            expected = expected if isinstance(expected, tuple) else (expected,)
        gradient = overbar.grad(variant.forward, wrt=function.wrt)
        _agree(gradient(*_fresh(inputs)), expected, "specialised")
        if variant.name in GENERAL_REFUSES:
            with pytest.raises(OverbarError, match=GENERAL_REFUSES[variant.name]):
                gradient.stages.emitted.function(*_fresh(inputs))
        else:
            _agree(gradient.stages.emitted.function(*_fresh(inputs)), expected, "general")
