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
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from overbar.api import Wrt, _resolve_wrt, transformed
from overbar.errors import ArgumentError, MissingRuleError, UnsupportedSyntaxError
from overbar.pullbacks import (
    Plan,
    _narrow_dtype,
    in_dtypes,
    jacobian_at,
    plan_of,
    vjp_stages,
)
from overbar.runtime.shapes import argument_shape
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.pipeline import Stages, all_sources


def gradient_function(plan: Plan, named: tuple[tuple[str, Any], ...]) -> Callable:
    """The adjoint ``grad(function, wrt=...)`` runs for arguments of the shapes ``named``
    (name and ``argument_shape`` pairs), as the plain function it is generated as (the
    gradients alone)."""
    # Its helpers' pullbacks run them again (no residuals): a call that unpacks a tuple of
    # residuals, ``lse_pullback(*lse_residuals, ...)``, cannot be differentiated again.
    first_order = replace(plan.optimisations, residuals=False)
    stages = transformed(
        plan.function, plan.names, named, with_value=False, optimisations=first_order
    )
    return stages.emitted.function


def hvp_stages(plan: Plan, named: tuple[tuple[str, Any], ...]) -> Stages:
    """The split adjoint of the adjoint, for arguments of the shapes ``named``, without its
    value (the gradient): its pullback at v is H v."""
    gradient = gradient_function(plan, named)
    with _explained(plan.function):
        return vjp_stages(gradient, plan.names, named, plan.optimisations, False)


@contextlib.contextmanager
def _explained(function: Callable) -> Iterator[None]:
    """A refusal of a line of ``function``'s generated adjoint, said to be that."""
    try:
        yield
    except (UnsupportedSyntaxError, MissingRuleError) as error:
        where = error.location.filename if error.location else ""
        if not where.startswith("<overbar "):
            raise
        loop = (
            "; the reverse sweep of a loop, which pops a stack, cannot be differentiated again "
            "yet"
            if "pop()" in error.message
            else ""
        )
        raise type(error)(
            f"{error.message}\n(this line is in the adjoint overbar generated for "
            f"{function.__qualname__}, which second derivatives differentiate again{loop})",
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
    plan = plan_of(function, wrt, optimise, "hvp")
    arguments = plan.arguments(tuple(args))
    given = (vectors,) if plan.single else vectors
    if not isinstance(given, tuple | list) or len(given) != len(plan.names):
        raise ArgumentError(
            f"hvp of {function.__qualname__}: wrt names {len(plan.names)} arguments "
            f"({', '.join(plan.names)}), so vectors must be a tuple of {len(plan.names)} "
            "arrays, one shaped like each"
        )
    for name, position, vector in zip(plan.names, plan.wrt_positions, given, strict=True):
        if np.shape(vector) != np.shape(arguments[position]):
            raise ArgumentError(
                f"hvp of {function.__qualname__}: the vector for {name} has shape "
                f"{np.shape(vector)}, but {name} has shape {np.shape(arguments[position])}"
            )
    emitted = plan.stages(arguments, "hvp").emitted
    _, residuals = plan.call(emitted.function, arguments)
    cotangent = given[0] if len(plan.names) == 1 else tuple(given)
    products = emitted.pullback(*residuals, result_bar=cotangent)
    products = in_dtypes(products, tuple(_narrow_dtype(arguments[k]) for k in plan.wrt_positions))
    return products[0] if plan.single else products


def hessian(function: Callable, wrt: Wrt = 0, optimise: bool | Optimisations = True):
    """A function of ``function``'s arguments giving its Hessian with respect to ``wrt``:
    shaped ``argument.shape + argument.shape`` for a single name; for a tuple ``wrt``, the
    blocks ``H[i][j]`` of ``∂²f/∂x_i∂x_j`` shaped ``x_i.shape + x_j.shape``."""
    names, single = _resolve_wrt(function, wrt)

    def hessian_of(*args: Any) -> Any:
        plan = plan_of(function, wrt, optimise, "hessian")
        arguments = plan.arguments(args)
        named = tuple(
            (name, argument_shape(value))
            for name, value in zip(plan.parameters, arguments, strict=True)
        )
        gradient = gradient_function(plan, named)
        with _explained(function):
            blocks = jacobian_at(gradient, args, wrt, plan.optimisations)
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
    return all_sources(hvp_stages(plan_of(function, wrt, optimisations, "hvp"), shapes))
