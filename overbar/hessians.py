"""``hessian`` and ``hvp``: second derivatives, by forward mode over the generated adjoint.

The gradient ``grad`` generates for the arguments' shapes is a plain Python function,
``g(x) = ∇f(x)``, and overbar differentiates it like any other, here in forward mode: the jvp
of ``g`` at ``x`` along ``v`` is ``(∇f(x), H v)``. That is forward over reverse: one run of
the gradient with a tangent carried beside each of its values, about two to three gradients'
work whatever the number of arguments. ``hessian`` takes one such jvp per element of the
differentiated arguments (the Hessian's columns, ``columns.py``).

The runtime helpers the adjoint calls have tangent rules (``runtime/rules_helpers.py``); a
loop's reverse sweep pops a stack, and the jvp keeps a stack of tangents beside it
(``stack_dot.append(h_dot)`` where the adjoint pushes h, ``h_dot = stack_dot.pop()`` where it
pops it), so functions with loops, branches, writes into arrays, lists and helpers all have
Hessians. ``overbar show --mode hvp`` prints the jvp of the adjoint that runs.

Reverse over reverse (the adjoint of the adjoint, through the helpers' adjoint rules) is kept
for ``grad(grad(f))`` only, where the outer gradient is of a scalar and so one reverse sweep.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from overbar.api import Wrt, _collects_args, _resolve_wrt, for_positional_call, transformed
from overbar.columns import jacobian_from_columns
from overbar.errors import ArgumentError, MissingRuleError, UnsupportedSyntaxError
from overbar.pullbacks import Plan, _narrow_dtype, in_dtypes, plan_of
from overbar.runtime import NUMPY
from overbar.runtime.helpers import structured_like
from overbar.runtime.shapes import argument_shape, container_shape
from overbar.transpiler.fence import check_definition
from overbar.transpiler.forward import tangent_name
from overbar.transpiler.forward_pipeline import (
    ForwardStages,
    all_forward_sources,
    link_jvps,
    transform_forward,
)
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.parse import parse
from overbar.transpiler.pipeline import kept_once
from overbar.trees import is_container


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


def hvp_stages(plan: Plan, named: tuple[tuple[str, Any], ...]) -> ForwardStages:
    """The jvp of the adjoint, for arguments of the shapes ``named``: along the tangents
    ``<x>_dot`` it returns ``(None, H v)``, without the lines only the gradient itself needs
    (``forward_dead.py``). Its helpers' jvps are linked in."""
    gradient = gradient_function(plan, named)

    def make() -> ForwardStages:
        known = {name: shape for name, shape in named if shape is not None}
        with _explained(plan.function):
            check_definition(parse(gradient))
            stages = transform_forward(
                gradient, plan.names, NUMPY, known or None, tangent_only=True
            )
        link_jvps(stages.emitted.function)  # the pullbacks' jvps called directly, once built
        return stages

    return kept_once(gradient, ("hvp", plan.names, named), make)


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
            f"{function.__qualname__}, which second derivatives differentiate again)",
            error.location,
        ) from None


def _tangent_call(plan: Plan, arguments: tuple) -> Callable[[tuple], tuple[Any, Any]]:
    """A function of the tangents of the differentiated arguments (one each, shaped like it)
    giving H v at ``arguments`` as a tuple, twice: as the parts of the result
    ``jacobian_from_columns`` reads the shapes of (the gradient's), and as their tangents."""
    jvp = plan.stages(arguments, "hvp").emitted.function
    count = len(plan.parameters) - len(plan.keyword_only)
    positional, keywords = arguments[:count], dict(
        zip(plan.keyword_only, arguments[count:], strict=True)
    )
    dots = tuple(tangent_name(name) for name in plan.names)

    def call(tangents: tuple) -> tuple[Any, Any]:
        _, product = jvp(*positional, **keywords, **dict(zip(dots, tangents, strict=True)))
        if len(plan.names) == 1:  # the gradient of one name is generated bare
            return (product,), (product,)
        return product, product  # H v has the gradient's parts and shapes

    return call


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
    function = for_positional_call(function, args)  # *args: specialised on their number
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
    _, products = _tangent_call(plan, arguments)(tuple(given))
    products = in_dtypes(products, tuple(_narrow_dtype(arguments[k]) for k in plan.wrt_positions))
    return products[0] if plan.single else products


def hessian(function: Callable, wrt: Wrt = 0, optimise: bool | Optimisations = True):
    """A function of ``function``'s arguments giving its Hessian with respect to ``wrt``:
    shaped ``argument.shape + argument.shape`` for a single name; for a tuple ``wrt``, the
    blocks ``H[i][j]`` of ``∂²f/∂x_i∂x_j`` shaped ``x_i.shape + x_j.shape``. Column by column:
    one jvp of the gradient per element of the differentiated arguments."""
    single = isinstance(wrt, int | str)
    if not _collects_args(function):  # with *args, wrt counts the call's arguments
        _resolve_wrt(function, wrt)  # refused now, not at the first call

    def hessian_of(*args: Any) -> Any:
        specialised = for_positional_call(function, args)  # *args: on their number
        plan = plan_of(specialised, wrt, optimise, "hessian")
        arguments = plan.arguments(args)
        differentiated = tuple(arguments[k] for k in plan.wrt_positions)
        blocks = jacobian_from_columns(_tangent_call(plan, arguments), differentiated)
        # blocks[i][j]: the column of the gradient's part i along argument j
        if single:
            return blocks[0][0]
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
    pairs): the jvp of the gradient, then the jvps of the pullbacks it calls."""
    return all_forward_sources(hvp_stages(plan_of(function, wrt, optimisations, "hvp"), shapes))


class InnerHessianProduct:
    """The pullback of a gradient taken inside a differentiated function, ``g = grad(f,
    wrt=w)(x, ...)``, by forward over reverse: where reverse over reverse refuses the adjoint
    of ``f``'s generated gradient (a loop's reverse sweep pops a stack), its pullback is a
    Hessian-vector product.

    For each argument ``p`` the outer function differentiates, ``p̄ += ∂/∂p ⟨ḡ, ∇_w f⟩ =
    Σ_w H_pw ḡ_w``: ``(H v)_p`` for the vector ``v`` holding ``ḡ_w`` at each ``w`` and zeros
    at the other arguments, with ``H`` the Hessian of ``f`` in all of them (symmetric for a
    twice continuously differentiable ``f``, as reverse over reverse assumes no less). One
    jvp of ``f``'s gradient, whatever the number of arguments (``hvp``); an argument that is
    a dict, list or tuple of parameters has a tangent of the same structure.

    Called as the generated gradient's pullback is, ``f_hvp(x, ..., result_bar=ḡ)``; returns
    one adjoint per name in ``wrt``. Built when the outer function is compiled, for what is
    known then of the arguments' ``shapes``, so that forward mode's refusals come then.
    """

    def __init__(
        self,
        function: Callable,
        inner_wrt: tuple[str, ...],
        single: bool,
        optimise: bool | Optimisations,
        wrt: tuple[str, ...],
        seed: str,
        shapes: tuple[tuple[str, Any], ...],
    ):
        self.function, self.inner_wrt, self.single = function, inner_wrt, single
        self.wrt, self.seed = wrt, seed
        self.names = tuple(dict.fromkeys((*inner_wrt, *wrt)))
        self.__name__ = f"{function.__name__}_hvp"
        self.__qualname__ = self.__name__
        self.plan = plan_of(function, self.names, optimise, "hvp")
        known = dict(shapes)
        hvp_stages(self.plan, tuple((name, known.get(name)) for name in self.plan.parameters))

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:
        """``(p̄, ...)`` for each name in ``wrt``, from ``ḡ`` (the keyword ``seed``)."""
        g_bar = kwargs.pop(self.seed)
        plan = self.plan
        bound = plan.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = tuple(bound.arguments[name] for name in plan.parameters)
        named = tuple(
            (name, self._shape(name, value))
            for name, value in zip(plan.parameters, arguments, strict=True)
        )
        jvp = hvp_stages(plan, named).emitted.function
        if self.single:
            parts = (g_bar,)
        elif isinstance(g_bar, float):  # the runtime zero, for the whole tuple of gradients
            parts = (g_bar,) * len(self.inner_wrt)
        else:
            parts = tuple(g_bar)
        tangents = {}
        for name in self.names:
            argument = bound.arguments[name]
            part = parts[self.inner_wrt.index(name)] if name in self.inner_wrt else 0.0
            tangents[tangent_name(name)] = _shaped_like(part, argument)
        count = len(plan.parameters) - len(plan.keyword_only)
        keywords = dict(zip(plan.keyword_only, arguments[count:], strict=True))
        _, product = jvp(*arguments[:count], **keywords, **tangents)
        products = (product,) if len(self.names) == 1 else product
        return tuple(products[self.names.index(name)] for name in self.wrt)

    def _shape(self, name: str, value: Any) -> Any:
        """What the gradient is specialised on for this argument (as ``grad`` does)."""
        if type(value) is dict or (name in self.names and is_container(value)):
            return container_shape(value)
        return argument_shape(value)

    def __reduce__(self) -> Any:
        raise TypeError("a Hessian-vector product is built again, not written to the disk cache")

    def __repr__(self) -> str:
        return f"<overbar Hessian-vector product of {self.function.__qualname__}>"


def _shaped_like(part: Any, argument: Any) -> Any:
    """An adjoint ``part`` of the gradient with respect to ``argument`` as a tangent of it: of
    its shape and structure (the runtime zero 0.0 made zeros of it, a container's missing
    keys and elements too) and floating point."""
    if is_container(argument):
        return structured_like(part, argument)
    if np.shape(part) == np.shape(argument):
        return part
    return np.zeros(np.shape(argument), dtype=np.result_type(argument, 1.0)) + part
