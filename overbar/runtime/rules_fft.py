"""Adjoint rules for the real-valued part of ``np.fft``: ``fftshift`` and ``ifftshift``, each
followed by its tangent rule (forward mode).

The transforms themselves (``fft``, ``rfft``, ``irfft``, ``fft2``, ...) have complex values or
arguments, and overbar differentiates real numbers only: they are refused as functions with no
adjoint rule (README, "What is supported"), even inside a composition whose result is real
(``np.abs(np.fft.fft(x))``, ``np.fft.irfft(np.fft.rfft(x))``), since the complex intermediate
has no real adjoint in overbar's rule form.
"""

from __future__ import annotations

import numpy as np

from overbar.runtime.registry import adjoint, tangent


@adjoint(np.fft.fftshift)
def fftshift(y, x, axes=None, *, y_bar):
    """y = x rolled by half its length along axes (a permutation):  x̄ = ȳ rolled back,
    ifftshift(ȳ)"""
    return np.fft.ifftshift(y_bar, axes)


@tangent(np.fft.fftshift)
def fftshift_tangent(y, x, axes=None, *, x_dot):
    """y = x rolled by half its length along axes (linear):  ẏ = fftshift(ẋ)"""
    return np.fft.fftshift(x_dot, axes)


@adjoint(np.fft.ifftshift)
def ifftshift(y, x, axes=None, *, y_bar):
    """y = x rolled back by half its length along axes (a permutation):  x̄ = fftshift(ȳ)"""
    return np.fft.fftshift(y_bar, axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(y, x, axes=None, *, x_dot):
    """y = x rolled back by half its length along axes (linear):  ẏ = ifftshift(ẋ)"""
    return np.fft.ifftshift(x_dot, axes)
