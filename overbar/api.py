"""The public entry points: ``grad``, ``value_and_grad`` and ``check_grad``.

A ``GradientFunction`` resolves ``wrt`` against the function's signature when it is created,
transforms the function on first use, and keeps the compiled adjoint (cached per function and
``wrt``), so that a call is the generated function's own time plus a few checks.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from overbar.errors import ArgumentError, GradientMismatchError, NonScalarOutputError
from overbar.runtime import NUMPY
from overbar.transpiler.pipeline import Stages, all_sources, transform

Wrt = int | str | Sequence[int | str]

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FLOAT64 = np.dtype(np.float64)


def transformed(function: Callable, wrt: tuple[str, ...]) -> Stages:
    """The transformation of ``function`` for ``wrt``, computed once and cached."""
    per_function = _CACHE.setdefault(function, {})
    if wrt not in per_function:
        per_function[wrt] = transform(function, wrt, NUMPY)
    return per_function[wrt]


class GradientFunction:
    """``function``'s gradient (and, with ``with_value``, its value) as a callable."""

    __overbar_transform__ = True

    def __init__(self, function: Callable, wrt: Wrt = 0, with_value: bool = False):
        if not inspect.isfunction(function):
            raise ArgumentError(
                f"overbar.grad needs a Python function defined with def, not {function!r}"
            )
        functools.update_wrapper(self, function)
        self.__wrapped__ = function
        self.wrt, self._single = _resolve_wrt(function, wrt)
        # The generated code returns a bare gradient for one parameter; wrt=("x",) wants (g,).
        self._one_in_tuple = not self._single and len(self.wrt) == 1
        self._with_value = with_value
        positions = _positions(function)
        self._input_checks = tuple((positions.get(name), name) for name in self.wrt)
        self._compiled: Callable | None = None

    @property
    def stages(self) -> Stages:
        """Every stage of the transformation (parsed, normal form, ..., emitted)."""
        return transformed(self.__wrapped__, self.wrt)

    @property
    def source(self) -> str:
        """The generated adjoint, black-formatted (then the pullbacks of helpers it calls)."""
        return all_sources(self.stages)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self.stages.emitted.function
        for position, name in self._input_checks:
            if position is not None and position < len(args):
                value = args[position]
            elif name in kwargs:
                value = kwargs[name]
            else:
                continue
            # The common case (a float64 array) without a call; anything else is looked at.
            if type(value) is not np.ndarray or value.dtype is not _FLOAT64:
                self._check_input(name, value)
        try:
            value, gradients = compiled(*args, **kwargs)
        except NonScalarOutputError as error:
            location = self.stages.parsed.location(self.stages.parsed.tree.body[-1])
            raise NonScalarOutputError(
                f"{error.message} (in {self.__wrapped__.__qualname__})", location
            ) from None
        if self._one_in_tuple:
            gradients = (gradients,)
        return (value, gradients) if self._with_value else gradients

    def _check_input(self, name: str, value: Any) -> None:
        if not NUMPY.is_differentiable_input(value):
            self._refuse_input(name, value)

    def _refuse_input(self, name: str, value: Any) -> None:
        raise ArgumentError(
            f"{self.__wrapped__.__qualname__}: cannot differentiate with respect "
            f"to {name}, which is {NUMPY.describe_input(value)}; pass a NumPy array "
            "of numbers (np.asarray) or a Python number"
        )

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<overbar.{kind} of {self.__wrapped__.__qualname__} wrt {self.wrt}>"


def grad(function: Callable | None = None, *, wrt: Wrt = 0) -> Any:
    """The gradient of a scalar-valued ``function`` with respect to ``wrt``.

    ``wrt`` names parameters by position or by name; a tuple gives a tuple of gradients, each
    shaped like its argument. Use as ``@grad``, ``@grad(wrt=...)`` or ``grad(f, wrt=...)``.
    """
    if function is None:
        return lambda decorated: GradientFunction(decorated, wrt)
    return GradientFunction(function, wrt)


def value_and_grad(function: Callable | None = None, *, wrt: Wrt = 0) -> Any:
    """Like ``grad``, but the result is ``(function(...), gradients)`` from one run."""
    if function is None:
        return lambda decorated: GradientFunction(decorated, wrt, with_value=True)
    return GradientFunction(function, wrt, with_value=True)


def check_grad(
    function: Callable,
    args: Sequence[Any],
    wrt: Wrt = 0,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_elements: int = 400,
    seed: int = 0,
) -> float:
    """Compare overbar's gradient of ``function`` at ``args`` with central finite differences.

    Arguments with at most ``max_elements`` elements are checked element by element; larger
    ones along random directions (the dot-product test). Raises ``GradientMismatchError`` with a
    report of the worst element when they disagree; returns the largest absolute error.
    """
    gradient = GradientFunction(function, wrt)
    args = list(args)
    analytic = gradient(*args)
    analytic = (analytic,) if gradient._single else tuple(analytic)
    positions = _positions(function)
    rng = np.random.default_rng(seed)
    worst = 0.0
    problems = []
    for name, computed in zip(gradient.wrt, analytic, strict=True):
        position = positions.get(name)
        if position is None or position >= len(args):
            raise ArgumentError(f"check_grad: pass {name} positionally in args")
        original = args[position]
        if np.shape(computed) != np.shape(original):
            problems.append(
                f"  {name}: gradient has shape {np.shape(computed)}, "
                f"argument has shape {np.shape(original)}"
            )
            continue

        def loss_at(value, position=position):
            trial = list(args)
            trial[position] = value
            return float(np.sum(function(*trial)))

        base = np.array(original, dtype=np.float64)
        computed = np.asarray(computed, dtype=np.float64)
        if base.size <= max_elements:
            directions = [_unit(base.shape, i) for i in range(base.size)]
            analytic_values = computed.reshape(-1)
        else:
            directions = [rng.standard_normal(base.shape) for _ in range(4)]
            analytic_values = np.array([np.sum(computed * d) for d in directions])
        numeric_values = np.array(
            [
                (
                    loss_at(_like(original, base + eps * d))
                    - loss_at(_like(original, base - eps * d))
                )
                / (2 * eps)
                for d in directions
            ]
        )
        errors = np.abs(analytic_values - numeric_values)
        tolerance = atol + rtol * np.abs(numeric_values)
        if errors.size:
            worst = max(worst, float(errors.max()))
        bad = np.flatnonzero(errors > tolerance)
        if bad.size:
            k = bad[np.argmax(errors[bad])]
            where = (
                f"element {np.unravel_index(k, base.shape) if base.shape else '()'}"
                if base.size <= max_elements
                else f"random direction {k}"
            )
            problems.append(
                f"  {name}: {bad.size} of {errors.size} checks differ; worst at {where}: "
                f"overbar {analytic_values[k]:.10g}, finite differences "
                f"{numeric_values[k]:.10g} (abs error {errors[k]:.3g})"
            )
    if problems:
        raise GradientMismatchError(
            f"gradient of {function.__qualname__} disagrees with central finite differences "
            f"(eps={eps}, rtol={rtol}, atol={atol}):\n" + "\n".join(problems)
        )
    return worst


def _unit(shape: tuple[int, ...], index: int) -> np.ndarray:
    direction = np.zeros(shape)
    direction.reshape(-1)[index] = 1.0
    return direction


def _like(original: Any, value: np.ndarray) -> Any:
    if isinstance(original, np.ndarray):
        return value
    return float(value)


def _positions(function: Callable) -> dict[str, int]:
    parameters = inspect.signature(function).parameters.values()
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return {name: index for index, name in enumerate(positional)}


def _resolve_wrt(function: Callable, wrt: Wrt) -> tuple[tuple[str, ...], bool]:
    parameters = inspect.signature(function).parameters
    names = [
        p.name for p in parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    positional = list(_positions(function))
    single = isinstance(wrt, int | str)
    requested = [wrt] if single else list(wrt)
    if not requested:
        raise ArgumentError("wrt is empty: name at least one parameter to differentiate")
    resolved = []
    for item in requested:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ArgumentError(f"wrt entries are parameter names or positions, not {item!r}")
        if isinstance(item, int):
            if not 0 <= item < len(positional):
                raise ArgumentError(
                    f"wrt={item} is out of range: {function.__qualname__} has "
                    f"{len(positional)} positional parameters ({', '.join(positional)})"
                )
            item = positional[item]
        elif item not in names:
            raise ArgumentError(
                f"wrt names {item!r}, which is not a parameter of {function.__qualname__} "
                f"({', '.join(names)})"
            )
        if item in resolved:
            raise ArgumentError(f"wrt names {item!r} twice")
        resolved.append(item)
    return tuple(resolved), single
