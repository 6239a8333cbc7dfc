"""Jacobians from forward columns: one jvp per element of the differentiated arguments.

The Jacobian of y = f(x₁, ..., xₙ) with respect to x_j, shaped ``y.shape + x_j.shape``, has as
its column at index k of x_j the jvp along the unit tangent e_k of x_j (zeros for the other
arguments): ``J[..., k] = J e_k``. That costs one jvp per element of the arguments, against one
reverse sweep per element of the result by rows (``pullbacks.jacobian_at``), so ``jacobian``
takes columns where the arguments have fewer elements in all than the result, and ``hessian``
always (the jvp of the gradient: its result has as many elements as its arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def jacobian_from_columns(
    call: Callable[[tuple], tuple[tuple, tuple]], arguments: tuple
) -> tuple[tuple[np.ndarray, ...], ...]:
    """``blocks[i][j]``, the Jacobian of part i of the result with respect to ``arguments[j]``
    (shaped ``part_i.shape + arguments[j].shape``), from ``call(tangents)``, which gives the
    result's parts and their tangents along ``tangents`` (one per argument, shaped like it)."""
    zeros = tuple(_zero_tangent(argument) for argument in arguments)
    parts: tuple | None = None
    columns: list[list[list[Any]]] = []  # columns[j][i]: part i's tangents along x_j's units
    for j, argument in enumerate(arguments):
        along: list[list[Any]] = []
        for k in range(np.size(argument)):
            unit = np.zeros(np.shape(argument), dtype=getattr(zeros[j], "dtype", np.float64))
            unit.flat[k] = 1.0
            tangent = unit if np.ndim(argument) else float(unit)
            parts, derivatives = call((*zeros[:j], tangent, *zeros[j + 1 :]))
            along.append(list(derivatives))
        columns.append(along)
    if parts is None:  # no argument has an element: one call for the result's shapes
        parts, _ = call(zeros)
    blocks = []
    for i, part in enumerate(parts):
        row = []
        for j, argument in enumerate(arguments):
            shape = np.shape(part) + np.shape(argument)
            if columns[j]:
                stacked = np.stack([np.asarray(column[i]) for column in columns[j]], axis=-1)
                row.append(stacked.reshape(shape))
            else:
                row.append(np.zeros(shape, dtype=np.result_type(part, 1.0)))
        blocks.append(tuple(row))
    return tuple(blocks)


def _zero_tangent(argument: Any) -> Any:
    """A zero tangent of ``argument``: of its float dtype for an array, 0.0 for a number."""
    if isinstance(argument, np.ndarray):
        dtype = argument.dtype if argument.dtype.kind in "fc" else np.float64
        return np.zeros(argument.shape, dtype=dtype)
    return 0.0
