"""The guard: validate a newly compiled adjoint on its first call.

``overbar.grad(f, check=True)`` (or ``OVERBAR_CHECK=1`` in the environment, for a whole test run)
checks each adjoint the first time it runs for a new key of argument shapes, twice over:

- against the **literal adjoint** (every optimising pass off, one rule application per line), at
  the same arguments: the optimisers' rewrites are identities, so the two agree to rounding;
- against a **central difference** of the function along a random direction for each
  differentiated argument: the rules themselves are right.

Where an argument is a float16 or float32 array, the gradient is only as precise as it, and both
tolerances widen with that dtype's machine epsilon. A disagreement raises ``GradientCheckError``
with both numbers and both adjoints' sources. The global NumPy random state is set back before
every run of the function (so functions drawing from ``np.random`` are checked at the same
draws) and left as the user's call left it. A function
whose value changes between two runs at the same arguments (a generator object it draws from)
cannot be checked: the guard warns and lets the gradient through. Arrays of other libraries
(Dask, CuPy) are computed (or copied from their GPU) to be compared: the guard runs the
function and its adjoints several times, so a check of a Dask call runs tasks in the call.
"""

from __future__ import annotations

import copy
import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from overbar.errors import GradientCheckError
from overbar.runtime.arrays import is_array, like, to_numpy
from overbar.trees import described, leaves, map_leaves

ENVIRONMENT_VARIABLE = "OVERBAR_CHECK"

# Optimised against literal: the same rules, rewritten by identities that hold up to rounding.
ADJOINT_RTOL = 1e-7
ADJOINT_ATOL = 1e-9  # relative to the largest element of the gradient (or 1)
# Central differences: rounding of f over a step of 1e-6 and the step's own truncation error.
DIFFERENCE_RTOL = 1e-5
DIFFERENCE_STEP = 1e-6


def enabled_by_environment() -> bool:
    """Whether ``OVERBAR_CHECK`` asks for every new adjoint to be checked."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Subject:
    """What is checked: the user's function, its arguments, and which are differentiated."""

    function: Callable
    args: tuple
    kwargs: dict
    wrt: tuple[str, ...]
    positions: dict[str, int]  # wrt name -> index in args, or absent if passed by keyword
    with_value: bool


def validate(
    subject: Subject,
    returned: Any,
    literal: Callable | None,
    sources: Callable[[], tuple[str, str]],
    random_state: tuple,
) -> None:
    """Raise ``GradientCheckError`` if ``returned`` (what the optimised adjoint returned for
    ``subject``) disagrees with the ``literal`` adjoint or with central differences.
    ``sources()`` gives (optimised, literal) sources for the message; ``random_state`` is
    ``np.random.get_state()`` from before the optimised adjoint ran. ``literal`` None: there
    is none (reverse mode refuses what forward mode took), central differences alone."""
    after = np.random.get_state()
    try:
        _validate(subject, returned, literal, sources, random_state)
    finally:
        np.random.set_state(after)


def _validate(subject, returned, literal, sources, random_state) -> None:
    def run(function: Callable, args: tuple, kwargs: dict) -> Any:
        np.random.set_state(random_state)
        with np.errstate(all="ignore"):  # the literal adjoint computes unused terms too
            return function(*args, **kwargs)

    value = run(subject.function, subject.args, subject.kwargs)
    again = run(subject.function, subject.args, subject.kwargs)
    if not _same(value, again):
        warnings.warn(
            f"overbar check: {subject.function.__qualname__} gives different values at the same "
            "arguments (random draws not from np.random?), so its gradient cannot be checked",
            stacklevel=4,
        )
        return
    epsilon = _precision(subject)
    optimised = _gradients(subject, returned)
    reference = (
        optimised
        if literal is None
        else _gradients(subject, run(literal, subject.args, subject.kwargs))
    )
    problems = []
    for name, mine, theirs in zip(subject.wrt, optimised, reference, strict=True):
        if _structure(mine) != _structure(theirs):
            problems.append(f"  {name}: the gradients' structures differ")
            continue
        for (path, leaf), (_, other) in zip(leaves(mine), leaves(theirs), strict=True):
            problem = _adjoint_difference(described(name, path), leaf, other, epsilon)
            if problem:
                problems.append(problem)
    if problems:
        optimised_source, literal_source = sources()
        raise GradientCheckError(
            f"the optimised adjoint of {subject.function.__qualname__} disagrees with the "
            "literal adjoint (every optimisation off), which is the reference:\n"
            + "\n".join(problems)
            + f"\n\noptimised adjoint:\n{optimised_source}\nliteral adjoint:\n{literal_source}"
            + "\nThis is a bug in overbar: please report it with the function."
        )
    rng = np.random.default_rng(0)
    for name, gradient in zip(subject.wrt, optimised, strict=True):
        problem = _difference_check(subject, name, gradient, rng, run, value, epsilon)
        if problem:
            optimised_source, _ = sources()
            raise GradientCheckError(
                f"the gradient of {subject.function.__qualname__} disagrees with central "
                f"differences:\n{problem}\n\nadjoint:\n{optimised_source}\nEither a rule is "
                "wrong (a bug in overbar, or in a rule you registered) or the function is not "
                "differentiable at these arguments (a kink, a branch on a tie)."
            )


def _gradients(subject: Subject, returned: Any) -> tuple:
    gradients = returned[1] if subject.with_value else returned
    return (gradients,) if len(subject.wrt) == 1 else tuple(gradients)


def _scale(*arrays: Any) -> float:
    largest = 1.0
    for array in arrays:
        values = np.abs(to_numpy(array))
        if values.size:
            finite = values[np.isfinite(values)]
            if finite.size:
                largest = max(largest, float(finite.max()))
    return largest


def _precision(subject: Subject) -> float:
    """The machine epsilon of the narrowest floating-point argument, array or NumPy scalar
    (float16, float32), or 0: the gradient is computed in it, the central differences of the
    guard in float64 steps whose function values round in it."""
    epsilons = [
        float(np.finfo(value.dtype).eps)
        for argument in (*subject.args, *subject.kwargs.values())
        for _, value in leaves(argument)
        if (is_array(value) or isinstance(value, np.floating)) and value.dtype.kind == "f"
    ]
    return max(epsilons, default=0.0)


def _adjoint_difference(name: str, mine: Any, theirs: Any, epsilon: float = 0.0) -> str | None:
    if np.shape(mine) != np.shape(theirs):
        return f"  {name}: shapes differ, {np.shape(mine)} against {np.shape(theirs)}"
    mine_array, theirs_array = to_numpy(mine), to_numpy(theirs)
    # Both adjoints compute in the arguments' precision, in orders that differ.
    rtol = max(ADJOINT_RTOL, 100 * epsilon)
    atol = max(ADJOINT_ATOL, 100 * epsilon) * _scale(mine_array, theirs_array)
    close = np.isclose(mine_array, theirs_array, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(close):
        return None
    index = tuple(int(i) for i in np.unravel_index(np.argmin(close), close.shape))
    at = f"element {index}" if index else "the value"
    return (
        f"  {name}: {np.size(close) - np.count_nonzero(close)} of {np.size(close)} elements "
        f"differ; at {at}: optimised {mine_array[index]:.10g}, literal {theirs_array[index]:.10g}"
    )


def _parts(
    name: str, original: Any, gradient: Any, rebuilt: Callable = lambda moved: moved
) -> list[tuple[str, Any, Any, Callable]]:
    """What the central differences move, each with its label, value, gradient and how the
    argument is rebuilt around a moved value (``rebuilt``): the argument itself, or for an
    object (whose gradient is a dict by attribute name) each attribute in a shallow copy of
    it, and for a list an attribute holds, each element in a copy of the list."""
    if isinstance(gradient, tuple) and isinstance(original, list | tuple):  # self.layers

        def with_element(index: int, moved: Any) -> Any:
            changed = list(original)
            changed[index] = moved
            return rebuilt(type(original)(changed))

        return [
            part
            for index, (element, element_gradient) in enumerate(
                zip(original, gradient, strict=True)
            )
            for part in _parts(
                f"{name}[{index}]",
                element,
                element_gradient,
                functools.partial(with_element, index),
            )
        ]
    if not isinstance(gradient, dict) or isinstance(original, dict):
        return [(name, original, gradient, rebuilt)]

    def with_attribute(attribute: str, moved: Any) -> Any:
        changed = copy.copy(original)
        setattr(changed, attribute, moved)
        return rebuilt(changed)

    return [
        part
        for attribute in sorted(gradient)
        for part in _parts(
            f"{name}.{attribute}",
            getattr(original, attribute),
            gradient[attribute],
            functools.partial(with_attribute, attribute),
        )
    ]


def _difference_check(subject, name, gradient, rng, run, value, epsilon=0.0) -> str | None:
    """The central difference of f along a random unit direction in ``name`` against
    <gradient, direction>, for each part of it (``_parts``; a container of parameters is one
    part, moved in all its leaves at once); its own error estimated from a step twice as wide,
    its rounding from f's ``value``."""
    position = subject.positions.get(name)
    argument = subject.args[position] if position is not None else subject.kwargs[name]
    for label, original, part_gradient, rebuilt in _parts(name, argument, gradient):
        problem = _difference_check_part(
            subject, (name, label), original, part_gradient, rebuilt, rng, run, value, epsilon
        )
        if problem:
            return problem
    return None


def _difference_check_part(
    subject, names, original, gradient, rebuilt, rng, run, value, epsilon
) -> str | None:
    (name, label), position = names, subject.positions.get(names[0])
    args, kwargs = list(subject.args), dict(subject.kwargs)
    if _structure(gradient) != _structure(original):
        return (
            f"  {label}: the gradient is {_kind(gradient)} where the argument is "
            f"{_kind(original)}"
        )
    for (path, part), (_, leaf) in zip(leaves(gradient), leaves(original), strict=True):
        if np.shape(part) != np.shape(leaf):
            return (
                f"  {described(label, path)}: the gradient has shape {np.shape(part)} where the "
                f"argument has shape {np.shape(leaf)}"
            )
    bases = [to_numpy(leaf).astype(np.float64) for _, leaf in leaves(original)]
    if sum(base.size for base in bases) == 0:
        return None
    directions = [rng.standard_normal(base.shape) for base in bases]
    length = np.sqrt(sum(np.sum(direction * direction) for direction in directions))
    directions = [direction / length for direction in directions]
    largest = max((float(np.max(np.abs(base))) for base in bases if base.size), default=0.0)
    step = DIFFERENCE_STEP * max(1.0, largest)

    def value_at(offset: float) -> float:
        moved_leaves = iter(
            base + offset * direction for base, direction in zip(bases, directions, strict=True)
        )
        moved = rebuilt(map_leaves(lambda _, leaf: _like(leaf, next(moved_leaves)), original))
        if position is not None:
            args[position] = moved
        else:
            kwargs[name] = moved
        result = run(subject.function, tuple(args), kwargs)
        return float(np.sum(np.real(to_numpy(result))))

    central = (value_at(step) - value_at(-step)) / (2 * step)
    wider = (value_at(2 * step) - value_at(-2 * step)) / (4 * step)
    analytic = sum(
        float(np.sum(np.real(to_numpy(part)) * direction))
        for (_, part), direction in zip(leaves(gradient), directions, strict=True)
    )
    if not np.isfinite(central) or not np.isfinite(wider):
        return None  # the function overflows or leaves its domain this close: nothing to say
    if not np.isfinite(analytic):
        return (
            f"  {label}: the gradient is {analytic!r} where the function's differences are "
            "finite"
        )
    size = max(1.0, abs(float(np.sum(np.real(to_numpy(value))))))
    # f computed in float32 rounds by about epsilon * |f|, which a step of 1e-6 magnifies
    noise = abs(central - wider) + 1e-7 * size + 10 * epsilon * size / step
    rtol = max(DIFFERENCE_RTOL, 10 * epsilon)  # the gradient is as precise as its arguments
    if abs(analytic - central) <= rtol * (abs(analytic) + abs(central)) + 10 * noise:
        return None
    return (
        f"  {label}: along a random direction d, <gradient, d> = {analytic!r} but the central "
        f"difference (step {step:.3g}) gives {central!r}"
    )


def _like(leaf: Any, moved: np.ndarray) -> Any:
    """``moved`` in the place of ``leaf``: an array for an array (a Dask or CuPy one moved in
    its own library), a NumPy float of its type for a NumPy float (whose attributes, ``.shape``
    and the like, the function may read), a float for any other number."""
    if is_array(leaf):
        return like(moved, leaf)
    if isinstance(leaf, np.floating):
        return type(leaf)(moved)
    return float(moved)


def _kind(value: Any) -> str:
    return f"a {type(value).__name__}" + (f" of {len(value)}" if _structure(value) else "")


def _structure(value: Any) -> Any:
    """The kinds, keys and lengths of a gradient's containers (None for a leaf)."""
    return map_leaves(lambda _, leaf: None, value)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(to_numpy(a), to_numpy(b), equal_nan=True))
    except (TypeError, ValueError):
        return a is b
