"""The NumPy runtime: what generated adjoint code calls, and the table of adjoint rules.

The transpiler sees the runtime only through a ``Runtime``: the rule table, and the few helpers
the generated code always needs (the seed of the result's adjoint, zero gradients, and
``unbroadcast``, which the compiler drops where shapes are known to be equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from overbar.runtime import helpers, rules  # noqa: F401  (rules registers the built-in table)
from overbar.runtime.registry import (
    NON_DIFFERENTIABLE,
    RULES,
    Rule,
    RuleTable,
    adjoint,
    non_differentiable,
)


@dataclass(frozen=True)
class Runtime:
    """One array library as the transpiler sees it."""

    rules: RuleTable
    seed: Callable
    zero_gradient: Callable
    unbroadcast: Callable
    adjoint_like: Callable
    add_elementwise: Callable
    split_last: Callable
    shape_of: Callable
    shape_only: Mapping[Callable, tuple[int, ...]]
    is_differentiable_input: Callable
    describe_input: Callable


NUMPY = Runtime(
    rules=RULES,
    seed=helpers.seed,
    zero_gradient=helpers.zero_gradient,
    unbroadcast=helpers.unbroadcast,
    adjoint_like=helpers.adjoint_like,
    add_elementwise=helpers.add_elementwise,
    split_last=helpers.split_last,
    shape_of=helpers.shape_of,
    # Arguments (by position) these functions only take the shape of: a value read only there
    # is saved for the reverse sweep as its shape.
    shape_only={
        helpers.unbroadcast: (1,),
        helpers.broadcast_like: (1,),
        helpers.expand_reduced: (1,),
        helpers.index_bar: (1,),
        helpers.reduced_count: (0, 1),
        np.shape: (0,),
        np.size: (0,),
        np.ndim: (0,),
    },
    is_differentiable_input=helpers.is_differentiable_input,
    describe_input=helpers.describe_input,
)

__all__ = [
    "NON_DIFFERENTIABLE",
    "NUMPY",
    "RULES",
    "Rule",
    "RuleTable",
    "Runtime",
    "adjoint",
    "non_differentiable",
]
