"""``hessian`` and ``hvp``: second derivatives, by differentiating the generated adjoint.

The gradient ``grad`` generates for the arguments' shapes is a plain Python function,
``g(x) = ∇f(x)``, and overbar differentiates it like any other (its runtime helpers have
adjoint rules: ``runtime/rules_helpers.py``). Its pullback at ``v`` is ``J_gᵀ v = H v`` (the
Hessian is symmetric): ``hvp`` runs ``g``'s forward sweep (the gradient's own forward and
reverse sweeps) once and its reverse sweep once. ``hessian`` is ``jacobian(g)``: one forward
sweep, one reverse sweep per element of the gradient. This is reverse over reverse; forward
over reverse (a jvp of ``g``) needs forward mode and the helpers' tangent rules.

What ``g`` calls must have adjoint rules: the stack of a loop's reverse sweep (``stack.pop()``)
and the pullback of a user's helper do not, and are refused (``UnsupportedSyntaxError`` /
``MissingRuleError`` naming the line of the generated adjoint).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from overbar.api import Wrt, _optimisations, _resolve_wrt, transformed
from overbar.errors import ArgumentError, MissingRuleError, UnsupportedSyntaxError
from overbar.pullbacks import _parameters, _prepared, jacobian_at, vjp, vjp_stages
from overbar.runtime.shapes import argument_shape
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.pipeline import all_sources


def gradient_function(
    function: Callable, args: tuple, wrt: Wrt, optimisations: Optimisations
) -> Callable:
    """The adjoint ``grad(function, wrt=...)`` runs for arguments shaped like ``args``, as the
    plain function it is generated as (returning the gradients alone)."""
    names, _, bound = _prepared(function, args, wrt, "hessian")
    shapes = tuple((name, argument_shape(bound.arguments[name])) for name in _parameters(function))
    stages = transformed(function, names, shapes, with_value=False, optimisations=optimisations)
    return stages.emitted.function


@contextlib.contextmanager
def _explained(function: Callable) -> Iterator[None]:
    """A refusal of a line of ``function``'s generated adjoint, said to be that."""
    try:
        yield
    except (UnsupportedSyntaxError, MissingRuleError) as error:
        where = error.location.filename if error.location else ""
        if not where.startswith("<overbar "):
            raise
        raise type(error)(
            f"{error.message}\n(this line is in the adjoint overbar generated for "
            f"{function.__qualname__}, which second derivatives differentiate again; the "
            "reverse sweep of a loop, which pops a stack, cannot be differentiated again yet)",
            error.location,
        ) from None


def hvp(
    function: Callable,
    args: tuple,
    vectors: Any,
    wrt: Wrt = 0,
    optimise: bool | Optimisations = True,
) -> Any:
    """The Hessian of ``function`` at ``args`` (a tuple of all its arguments) with respect to
    ``wrt``, times ``vectors``: one per differentiated argument, shaped like it (a tuple for a
    tuple ``wrt``, the vector itself for a single name). Returns ``H v`` in the same form:
    ``Σ_j ∂²f/∂x_i∂x_j v_j`` for each differentiated ``x_i``."""
    args = tuple(args)
    names, single = _resolve_wrt(function, wrt)
    given = (vectors,) if single else vectors
    if not isinstance(given, tuple | list) or len(given) != len(names):
        raise ArgumentError(
            f"hvp of {function.__qualname__}: wrt names {len(names)} arguments "
            f"({', '.join(names)}), so vectors must be a tuple of {len(names)} arrays, one "
            "shaped like each"
        )
    bound = inspect.signature(function).bind(*args)
    for name, vector in zip(names, given, strict=True):
        if np.shape(vector) != np.shape(bound.arguments[name]):
            raise ArgumentError(
                f"hvp of {function.__qualname__}: the vector for {name} has shape "
                f"{np.shape(vector)}, but {name} has shape {np.shape(bound.arguments[name])}"
            )
    optimisations = _optimisations(optimise)
    gradient = gradient_function(function, args, names if not single else names[0], optimisations)
    with _explained(function):
        _, pullback = vjp(gradient, *args, wrt=wrt, optimise=optimisations)
    cotangent = given[0] if len(names) == 1 else tuple(given)
    return pullback(cotangent)


def hessian(function: Callable, wrt: Wrt = 0, optimise: bool | Optimisations = True):
    """A function of ``function``'s arguments giving its Hessian with respect to ``wrt``:
    shaped ``argument.shape + argument.shape`` for a single name; for a tuple ``wrt``, the
    blocks ``H[i][j]`` of ``∂²f/∂x_i∂x_j`` shaped ``x_i.shape + x_j.shape``."""
    names, single = _resolve_wrt(function, wrt)
    optimisations = _optimisations(optimise)

    def hessian_of(*args: Any) -> Any:
        gradient = gradient_function(function, args, names[0] if single else names, optimisations)
        with _explained(function):
            blocks = jacobian_at(gradient, args, wrt, optimisations)
        if not single and len(names) == 1:
            return ((blocks[0],),)  # the gradient of wrt=("x",) is generated bare
        return blocks

    hessian_of.__wrapped__ = function
    hessian_of.__name__ = f"{function.__name__}_hessian"
    hessian_of.__qualname__ = f"{function.__qualname__}_hessian"
    hessian_of.__doc__ = f"The Hessian of {function.__qualname__}, by overbar."
    return hessian_of


def hvp_source(
    function: Callable,
    wrt: Wrt,
    shapes: tuple[tuple[str, Any], ...],
    optimisations: Optimisations,
) -> str:
    """The code ``hvp`` runs for arguments of these ``shapes`` (name and ``argument_shape``
    pairs): the gradient's forward function and pullback."""
    names, _ = _resolve_wrt(function, wrt)
    stages = transformed(function, names, shapes, with_value=False, optimisations=optimisations)
    gradient = stages.emitted.function
    return all_sources(vjp_stages(gradient, names, shapes, optimisations))
