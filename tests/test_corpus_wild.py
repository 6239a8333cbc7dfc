"""The corpus of functions written as people write them in the wild (``tests/corpus_wild.py``):
optimisation test functions, likelihoods, small networks, simulations stepped in loops, in
mixed Python styles. Each is differentiated with respect to every float argument at two sizes
and compared with central differences element by element (``check_grad``; the conftest's
guard also compares each compiled adjoint with the literal one). A function overbar still
refuses is listed in ``REFUSED`` with the refusal it must give: it is checked to be refused
that way, never skipped, and the entry goes when the refusal does.
"""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.corpus_wild import CASES

SIZES = (3, 6)

# name -> (the error, a pattern of its message)
REFUSED = {
    "cholesky_jitter_fallback": (UnsupportedSyntaxError, r"a try statement"),
}


def _arguments(name, size):
    function, make, wrt = CASES[name]
    return function, make(np.random.default_rng(size), size), wrt


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", [name for name in CASES if name not in REFUSED])
def test_a_function_from_the_wild_against_finite_differences(name, size):
    function, args, wrt = _arguments(name, size)
    overbar.check_grad(function, args, wrt=wrt, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_function_from_the_wild_still_refused_names_the_construct(name):
    function, args, wrt = _arguments(name, SIZES[0])
    error, message = REFUSED[name]
    with pytest.raises(error, match=message):
        overbar.grad(function, wrt=wrt)(*args)


def test_the_corpus_is_large_and_every_refusal_is_of_a_function_in_it():
    assert len(CASES) >= 60
    assert set(REFUSED) <= set(CASES)
