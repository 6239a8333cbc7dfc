"""overbar: a source-transforming reverse-mode differentiation compiler for Python and NumPy.

>>> import numpy as np, overbar
>>> overbar.grad  # doctest: +ELLIPSIS
<function grad at ...>
"""

from overbar.api import GradientFunction, check_grad, grad, value_and_grad
from overbar.errors import (
    ArgumentError,
    GradientMismatchError,
    InternalError,
    MissingRuleError,
    NonScalarOutputError,
    OverbarError,
    RuleDefinitionError,
    UnsupportedSyntaxError,
)
from overbar.primitives import Attribute, Method
from overbar.runtime.registry import adjoint, non_differentiable

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "Attribute",
    "GradientFunction",
    "GradientMismatchError",
    "InternalError",
    "Method",
    "MissingRuleError",
    "NonScalarOutputError",
    "OverbarError",
    "RuleDefinitionError",
    "UnsupportedSyntaxError",
    "adjoint",
    "check_grad",
    "grad",
    "non_differentiable",
    "value_and_grad",
]
