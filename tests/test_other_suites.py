"""The programs of ``tests/other_suites.py`` (written in the manner of autograd's, JAX's and
PyTorch's gradient tests) through ``overbar.check_grad`` (central differences, element by
element) and through the three adjoints overbar makes: specialised on the arguments' shapes,
general (any shapes), and literal (every optimisation off), which must agree to rounding. A
refusal (``OverbarError``) is allowed only where listed in ``REFUSED`` with its reason."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError
from tests.other_suites import PROGRAMS
from tests.support import define

# Programs overbar refuses, with the part of the message that says why.
REFUSED: dict[str, str] = {}


def _compile(name):
    source, make, wrt, parameters = PROGRAMS[name]
    args = make(np.random.default_rng(abs(hash(name)) % 2**32))
    names = [p.strip() for p in parameters.split(",")][: len(args)]
    f = define(f"def f({', '.join(names)}):\n    {source}\n")
    return f, args, wrt


def _agree(one, other, what, single):
    """Agreement to rounding: of double precision, or of single where an argument is float32
    (one adjoint may keep a float32 gradient in float32, another compute it in float64)."""
    rtol, atol = (1e-5, 1e-6) if single else (1e-8, 1e-10)
    for a, b in zip(one, other, strict=True):
        assert np.shape(a) == np.shape(b), what
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program_of_another_suite(name):
    f, args, wrt = _compile(name)
    if name in REFUSED:
        with pytest.raises(OverbarError, match=REFUSED[name]):
            overbar.grad(f, wrt=wrt)(*args)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        single = any(np.asarray(a).dtype == np.float32 for a in args)
        tolerance = {"rtol": 2e-3, "atol": 1e-4} if single else {}
        overbar.check_grad(f, args, wrt=wrt, **tolerance)
        gradient = overbar.grad(f, wrt=wrt)
        specialised = gradient(*args)
        general = gradient.stages.emitted.function(*args)
        literal = overbar.grad(f, wrt=wrt, optimise=False)(*args)
    if len(wrt) == 1:
        general = (general,)
    for index, g in zip(wrt, specialised, strict=True):
        assert np.shape(g) == np.shape(args[index]), f"gradient {index}: shape"
        assert np.asarray(g).dtype.kind == "f", f"gradient {index}: dtype"
    _agree(specialised, general, "general", single)
    _agree(specialised, literal, "literal", single)
