"""overbar: a source-transforming reverse-mode differentiation compiler for Python and NumPy.

>>> import numpy as np, overbar
>>> overbar.grad  # doctest: +ELLIPSIS
<function grad at ...>
"""

from overbar.api import GradientFunction, check_grad, grad, value_and_grad
from overbar.errors import (
    ArgumentError,
    GradientCheckError,
    GradientMismatchError,
    InternalError,
    MissingRuleError,
    NoDerivativeError,
    NonScalarOutputError,
    OverbarError,
    RuleDefinitionError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)
from overbar.forward_api import jvp, jvp_source
from overbar.hessians import hessian, hvp
from overbar.primitives import Attribute, Method
from overbar.pullbacks import jacobian, vjp
from overbar.runtime.registry import adjoint, non_differentiable, tangent
from overbar.transpiler.optimisations import Optimisations

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "Attribute",
    "GradientCheckError",
    "GradientFunction",
    "GradientMismatchError",
    "InternalError",
    "Method",
    "MissingRuleError",
    "NoDerivativeError",
    "Optimisations",
    "NonScalarOutputError",
    "OverbarError",
    "RuleDefinitionError",
    "SourceUnavailableError",
    "UnsupportedSyntaxError",
    "adjoint",
    "check_grad",
    "grad",
    "jvp",
    "jvp_source",
    "hessian",
    "hvp",
    "jacobian",
    "non_differentiable",
    "tangent",
    "value_and_grad",
    "vjp",
]
