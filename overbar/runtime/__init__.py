"""The NumPy runtime: what generated adjoint code calls, and the table of adjoint rules.

The transpiler sees the runtime only through a ``Runtime``: the rule table, and the few helpers
the generated code always needs (the seed of the result's adjoint, zero gradients, and
``unbroadcast``, which the compiler drops where shapes are known to be equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    is_differentiable_input: Callable
    describe_input: Callable


NUMPY = Runtime(
    rules=RULES,
    seed=helpers.seed,
    zero_gradient=helpers.zero_gradient,
    unbroadcast=helpers.unbroadcast,
    adjoint_like=helpers.adjoint_like,
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
