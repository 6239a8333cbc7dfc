"""The rules of ``overbar/runtime/rules_fft.py`` (``np.fft.fftshift`` and ``ifftshift``)
against central finite differences (their tangent rules in ``test_tangent_rules.py``), and the
transforms of ``np.fft``, which have complex values, refused."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import overbar
from overbar.errors import OverbarError
from overbar.runtime.registry import RULES
from tests.support import check_rule_sample, define
from tests.test_rules import S, _value, any_

SAMPLES = [
    S(np.fft.fftshift, "np.fft.fftshift(a)", a=any_(5)),
    S(np.fft.fftshift, "np.fft.fftshift(a)", a=any_(4, 5)),
    S(np.fft.fftshift, "np.fft.fftshift(a, axes=1)", a=any_(3, 4)),
    S(np.fft.fftshift, "np.fft.fftshift(a * b, (0,))", a=any_(5, 2), b=any_(2)),
    S(np.fft.ifftshift, "np.fft.ifftshift(a)", a=any_(5)),
    S(np.fft.ifftshift, "np.fft.ifftshift(a)", a=any_(4, 4)),
    S(np.fft.ifftshift, "np.fft.ifftshift(a, axes=(0, 2))", a=any_(3, 2, 5)),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_rule_against_finite_differences(sample):
    rng = np.random.default_rng(zlib.crc32(str(sample).encode()))
    names = list(sample.inputs)
    args = [_value(sample.inputs[n], rng) for n in names]
    check_rule_sample(sample.expression, names, args, rng)


def test_every_rule_of_the_module_has_samples():
    sampled = {sample.primal for sample in SAMPLES}
    missing = [
        rules[0].primal
        for rules in RULES.rules.values()
        if rules[0].function.__module__ == "overbar.runtime.rules_fft"
        and rules[0].primal not in sampled
    ]
    assert not missing


@pytest.mark.parametrize(
    "expression",
    [
        "np.sum(np.abs(np.fft.fft(x)))",
        "np.sum(np.fft.irfft(np.fft.rfft(x)) ** 2)",
        "np.sum(np.real(np.fft.fft(x)))",
    ],
)
def test_the_transforms_are_refused_as_complex(expression):
    f = define(f"def f(x):\n    return {expression}\n")
    with pytest.raises(OverbarError, match="np.fft"):
        overbar.grad(f)(np.linspace(0.0, 1.0, 6))
