"""What generated forward-mode code calls besides the tangent rules' own helpers."""

from __future__ import annotations

import numpy as np

from overbar.runtime.arrays import is_array
from overbar.runtime.helpers import seed


def own_tangent(t, y):
    """A new writable array holding the tangent ``t`` of ``y``, shaped like ``y`` (of ``t``'s
    float dtype): the tangent of an array the function writes into, where the rule's tangent
    might share memory with another one (``y = x + 2.0`` gives ``x_dot`` itself)."""
    if not isinstance(y, np.ndarray):
        return t
    dtype = np.result_type(t, 1.0) if np.ndim(t) or isinstance(t, np.ndarray) else y.dtype
    if dtype.kind not in "fc":
        dtype = np.result_type(dtype, 1.0)
    owned = np.empty(y.shape, dtype=dtype)
    owned[...] = t
    return owned


def one_like(x):
    """The tangent 1 along the one-element ``x`` whose gradient forward mode takes (the seed
    ``x_dot = one_like(x)``): ``1.0`` for a Python number, a NumPy float of ``x``'s type for
    a NumPy float (float32 stays float32), ones shaped like an array, of its float dtype."""
    if type(x) is float:
        return 1.0
    if isinstance(x, np.floating):
        return x.dtype.type(1.0)
    if is_array(x):
        dtype = x.dtype if x.dtype.kind == "f" else np.result_type(x.dtype, 1.0)
        return np.ones_like(x, dtype=dtype)
    return 1.0


def tangent_as_gradient(y, y_dot, x):
    """y = f(x), x with one element, ẏ its tangent along ẋ = 1:  ∂f/∂x = ẏ, shaped like x.

    The result ``y`` must be a scalar (a number, a 0-d or size-1 array): otherwise refused as
    ``seed`` refuses it in a reverse adjoint. ``ẏ`` has ``y``'s shape, which may differ from
    ``x``'s where both have one element (``np.sum`` of a ``(1,)`` array): reshaped to it."""
    seed(y)
    shape = np.shape(x)
    if np.shape(y_dot) == shape:
        return y_dot
    return np.reshape(y_dot, shape)
