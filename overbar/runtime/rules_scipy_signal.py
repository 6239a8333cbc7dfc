"""Adjoint rules for SciPy's convolution (``scipy.signal.convolve``), followed by its tangent
rule (forward mode). Registered where the program has imported ``scipy.signal``
(``runtime.load_scipy_rules``): importing it takes half a second.
"""

from __future__ import annotations

from scipy import signal

from overbar.runtime.helpers_scipy import convolution_embedded, convolved_back
from overbar.runtime.registry import adjoint, tangent


@adjoint(signal.convolve)
def convolve(z, in1, in2, mode="full", method="auto", *, z_bar):
    """z = in1 ∗ in2 (N-d), the part mode keeps of the full convolution; Z̄ = z̄ placed where
    it sits in the full convolution, zeros elsewhere:  in1̄ = Z̄ ∗ flip(in2),
    in2̄ = Z̄ ∗ flip(in1), each the valid part (zeros where an operand is empty)"""
    full_bar = convolution_embedded(z_bar, in1, in2, mode)
    return (
        convolved_back(full_bar, in2, in1, method),
        convolved_back(full_bar, in1, in2, method),
    )


@tangent(signal.convolve)
def convolve_tangent(z, in1, in2, mode="full", method="auto", *, in1_dot, in2_dot):
    """z = in1 ∗ in2 (bilinear):  ż = in1̇ ∗ in2 + in1 ∗ in2̇, the part mode keeps"""
    return signal.convolve(in1_dot, in2, mode, method), signal.convolve(in1, in2_dot, mode, method)
