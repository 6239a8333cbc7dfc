"""What generated forward-mode code calls besides the tangent rules' own helpers."""

from __future__ import annotations

import numpy as np


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
