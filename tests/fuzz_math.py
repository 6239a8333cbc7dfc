"""The fuzzer's makers for the primitives of ``overbar/runtime/rules_math.py``: elementwise
functions, reductions and Python's builtins on numbers.

As in ``tests/fuzzer.py``, each maker builds a call together with values that keep it where
its derivative is smooth with a margin: remainders away from the quotient's jumps, maxima,
medians and quantiles without ties at the selected elements, Γ away from its poles. The fuzzer
imports this module from ``_table()`` and calls ``add_math_makers``, handing it the fuzzer module.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from overbar.primitives import Attribute, Method

if TYPE_CHECKING:
    from tests.fuzzer import Expr, Generator

# The fuzzer module, as add_math_makers receives it: run as ``python -m tests.fuzzer`` it is
# ``__main__``, and importing ``tests.fuzzer`` here would load a second copy of it.
fuzzer: Any = None

REMAINDERS = {
    operator.mod: "%",
    np.remainder: "np.remainder",
    np.fmod: "np.fmod",
    math.fmod: "math.fmod",
    math.remainder: "math.remainder",
}


def no_jump_near(function: Callable) -> Callable:
    """A check that ``function(a, b)`` (a remainder) is continuous within fuzzer.MARGIN of (a, b):
    its quotient is the same at a ± fuzzer.MARGIN and at b ± fuzzer.MARGIN / 4."""

    def quotient(a: Any, b: Any) -> Any:
        return np.round((np.asarray(a) - function(a, b)) / np.asarray(b))

    def check(result: Any, a: Any, b: Any) -> bool:
        if np.any(np.abs(np.asarray(b)) < 0.3):
            return False
        at = quotient(a, b)
        nearby = [
            (a + fuzzer.MARGIN, b),
            (a - fuzzer.MARGIN, b),
            (a, b + fuzzer.MARGIN / 4),
            (a, b - fuzzer.MARGIN / 4),
        ]
        return all(np.array_equal(quotient(x, y), at) for x, y in nearby)

    return check


def make_remainder(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a % c, np.remainder(a, b), np.fmod, math.fmod, math.remainder, away from the jumps."""
    scalar = primal in (math.fmod, math.remainder)
    a = g.operand(depth, fuzzer.both(want, fuzzer.is_scalar) if scalar else want)
    if a is None:
        return None
    if g.chance(0.6):
        b = g.const(g.pick(("0.7", "1.0", "2.0", "1.5", "-1.3", "3")))
    else:
        b = g.operand(depth, fuzzer.is_scalar if scalar else fuzzer.broadcasts_with(a.value))
        b = g.fit(b, fuzzer.Domain(low=0.5, high=3.0))
        if b is None:
            return None
    check = no_jump_near(primal)
    if primal is operator.mod:
        return g.binop("%", a, b, check)
    return g.call(fuzzer.callee(primal), primal, [a, b], check=check)


def make_pair(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.logaddexp2(a, b) of two operands that broadcast together."""
    left = g.operand(depth, want)
    right = g.operand(depth, fuzzer.broadcasts_with(left.value)) if left is not None else None
    if right is None:
        return None
    return g.call(fuzzer.callee(primal), primal, [left, right])


def make_real_part(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.real, np.imag, np.conj, a.conj(), a.real, a.imag, np.angle of a real operand (angle
    away from 0, where it jumps from π to 0); np.imag and np.angle added to another value."""
    domain = fuzzer.Domain(away=(0.0,)) if primal is np.angle else fuzzer.ANYWHERE
    a = g.fit(
        g.operand(depth, fuzzer.is_array if isinstance(primal, Method | Attribute) else want),
        domain,
    )
    if a is None:
        return None
    if isinstance(primal, Attribute):
        part = g.attribute(a, primal.name)
    elif isinstance(primal, Method):
        part = g.method(a, primal.name)
    else:
        name = (
            g.pick(("np.conj", "np.conjugate"))
            if primal is np.conjugate
            else fuzzer.callee(primal)
        )
        check = (
            (lambda result, value, **named: domain.holds(value)) if primal is np.angle else None
        )
        part = g.call(name, primal, [a], check=check)
    if primal in (np.imag, np.angle, Attribute("imag")):
        return g.binop("+", part, a)
    return part


def make_astype(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a.astype(np.float64), a.astype(float) or a.astype("float64") of an array (the identity
    on float64)."""
    a = g.operand(depth, fuzzer.both(want, fuzzer.is_array))
    if a is None:
        return None
    dtype = g.pick(("np.float64", "float", "'float64'"))
    if dtype == "'float64'":
        return g.method(a, "astype", [g.const(dtype)])
    value = {"np.float64": np.float64, "float": float}[dtype]
    return g.method(a, "astype", [g.node(dtype, lambda env: value)])


def make_select(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.select([c1, c2], [a, b], default=d), the conditions comparisons decided with a margin
    (overlapping: the first true one wins), the default sometimes a constant."""
    a = g.operand(depth, want)
    if a is None:
        return None
    shape = np.shape(a.value)
    b = g.operand(depth, fuzzer.broadcasts_to(shape))
    if b is None:
        return None
    conditions = []
    for _ in range(2):
        test = g.operand(depth, fuzzer.broadcasts_to(shape))
        threshold = g.threshold(test.value) if test is not None else None
        if threshold is None:
            return None
        conditions.append(g.compare(g.pick(("<", ">")), test, threshold))
    keywords = []
    if g.chance(0.6):
        default = g.operand(depth, fuzzer.broadcasts_to(shape)) if g.chance(0.5) else None
        keywords = [("default", default if default is not None else g.const("0.5"))]
    choices = g.display([a, b], g.pick(("[]", "()")))
    return g.call("np.select", np.select, [g.display(conditions, "[]"), choices], keywords)


def make_nan_to_num(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.nan_to_num(a) of finite values (nothing replaced), sometimes with replacements."""
    a = g.operand(depth, want)
    if a is None:
        return None
    keywords = [("nan", g.const("0.5"))] if g.chance(0.3) else []
    return g.call("np.nan_to_num", np.nan_to_num, [a], keywords)


def make_hypot(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """math.hypot(a, b) or math.hypot(a, b, c) of scalars away from the origin."""
    coordinates = [
        g.operand(depth, fuzzer.both(want, fuzzer.is_scalar)) for _ in range(g.pick((2, 2, 3)))
    ]
    if any(c is None for c in coordinates):
        return None

    def away(result: Any, *values: Any) -> bool:
        return result >= 0.3

    return g.call("math.hypot", math.hypot, coordinates, check=away)


def _one_winner(primal: Any) -> Callable:
    """A check that max (or min) of the values is ahead of the others by fuzzer.MARGIN."""

    def check(result: Any, *values: Any) -> bool:
        items = values[0] if len(values) == 1 else values
        flat = np.sort(np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in items]))
        if flat.size < 2:
            return True
        return bool(
            flat[-1] - flat[-2] >= fuzzer.MARGIN
            if primal is builtins.max
            else flat[1] - flat[0] >= fuzzer.MARGIN
        )

    return check


def make_builtin_extremum(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """max(a, b), max(a, b, c), max([a, b]), max(vector) (or min), without ties."""
    form = g.pick(("numbers", "numbers", "display", "vector"))
    if form == "vector":
        items = g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) == 1)
        arguments = [items]
    else:
        numbers = [
            g.operand(depth, fuzzer.both(want, fuzzer.is_scalar)) for _ in range(g.pick((2, 2, 3)))
        ]
        if any(n is None for n in numbers):
            return None
        arguments = [g.display(numbers)] if form == "display" else numbers
    if any(a is None for a in arguments):
        return None
    return g.call(fuzzer.callee(primal), primal, arguments, check=_one_winner(primal))


def make_sequence(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """tuple([a, b])[k], list((a, b))[k], tuple(rows)[k], list(vector)[k]."""
    if g.chance(0.5):
        a = g.operand(depth, lambda v: fuzzer.is_array(v) and np.ndim(v) >= 1 and len(v) >= 1)
        if a is None:
            return None
        length = len(a.value)
        made = g.call(fuzzer.callee(primal), primal, [a])
    else:
        first = g.operand(depth, want)
        second = g.operand(depth, want)
        if first is None or second is None:
            return None
        length = 2
        made = g.call(
            fuzzer.callee(primal), primal, [g.display([first, second], g.pick(("[]", "()")))]
        )
    position = int(g.rng.integers(-length, length))
    return g.subscript(made, fuzzer.constant_index(str(position)))


def make_method_round(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a.round() away from the rounding boundaries (at every evaluation: in a loop, the
    operand changes), times another value."""
    away = fuzzer.Domain(grid=(1.0, 0.5))
    a = g.fit(g.operand(depth, fuzzer.is_array), away)
    if a is None:
        return None
    rounded = g.method(a, "round", check=lambda result, value: away.holds(value))
    other = g.operand(depth, fuzzer.broadcasts_with(rounded.value))
    return rounded if other is None else g.binop("*", other, rounded)


def _axis_keywords(g: Generator, ndim: int, keepdims: bool = True) -> tuple[Any, list]:
    axis = fuzzer.choose_axis(g, ndim)
    keywords = [] if axis is None else [("axis", g.const(fuzzer.axis_text(axis)))]
    if keepdims and g.chance(0.3):
        keywords.append(("keepdims", g.const(repr(bool(g.chance(0.5))))))
    return axis, keywords


def make_nan_reduction(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """np.nansum, nanmean, nanvar, nanstd, nanprod, nanmax, nanmin, ptp over every axis or
    some (no nan in the values; no ties at the extremes for nanmax, nanmin and ptp; nanstd
    away from 0)."""
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    axis, keywords = _axis_keywords(g, np.ndim(a.value))
    if primal in (np.nanvar, np.nanstd) and g.chance(0.4):
        keywords.append(("ddof", g.integer(1)))
    extremes = {np.nanmax: (False, True), np.nanmin: (True, False), np.ptp: (True, True)}

    def check(result: Any, value: Any, **named: Any) -> bool:
        if primal is np.nanstd:
            return bool(np.all(np.asarray(result) >= fuzzer.MARGIN))
        if primal not in extremes:
            return True
        lowest, highest = extremes[primal]
        return fuzzer.gaps_ok(value, axis, lowest=lowest, highest=highest)

    return g.call(fuzzer.callee(primal), primal, [a], keywords, check)


def make_average(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.average(a), over an axis, with positive weights shaped like a or (1-d) along the axis."""
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick((None, *range(-ndim, ndim)))
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    if g.chance(0.6):
        shape = np.shape(a.value)
        if axis is not None and g.chance(0.4):
            shape = (shape[axis],)
        weights = g.fit(
            g.operand(depth, lambda v: fuzzer.is_num(v) and np.shape(v) == shape),
            fuzzer.Domain(low=0.3, high=3.0),
        )
        if weights is None:
            return None
        keywords.append(("weights", weights))
    if g.chance(0.2):
        keywords.append(("keepdims", g.const("True")))
    return g.call("np.average", np.average, [a], keywords)


def make_cumprod(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.cumprod / a.cumprod() / np.nancumprod / np.nancumsum over every axis or one, of
    values in [-1.5, 1.5]."""
    a = g.fit(g.operand(depth, fuzzer.is_array), fuzzer.Domain(low=-1.5, high=1.5))
    if a is None or np.ndim(a.value) == 0:
        return None
    axis = fuzzer.choose_axis(g, np.ndim(a.value), tuples=False)
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    if isinstance(primal, Method):
        return g.method(a, "cumprod", [], keywords)
    return g.call(fuzzer.callee(primal), primal, [a], keywords)


def make_order_statistic(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """np.median, np.quantile, np.percentile and their nan-skipping forms over every axis or
    some, of values without ties (every element fuzzer.MARGIN from the others along the
    axis)."""
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1 and np.size(v) <= 12)
    if a is None:
        return None
    axis, keywords = _axis_keywords(g, np.ndim(a.value))
    arguments = [a]
    if primal not in (np.median, np.nanmedian):
        fractions = g.pick(("0.3", "0.75", "[0.25, 0.5]", "0.1", "1.0"))
        if primal in (np.percentile, np.nanpercentile):
            fractions = {"0.3": "30", "0.75": "75.0", "[0.25, 0.5]": "[25, 50]"}.get(
                fractions, "90.0"
            )
        arguments.append(g.const(fractions))
        if g.chance(0.3):
            keywords.append(("method", g.const(repr(g.pick(("lower", "nearest", "midpoint"))))))

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        if axis is None or isinstance(axis, int):
            return fuzzer.all_gaps_ok(value, axis)
        moved = np.moveaxis(np.asarray(value), axis, (-2, -1))
        return fuzzer.all_gaps_ok(moved.reshape(moved.shape[:-2] + (-1,)), -1)

    return g.call(fuzzer.callee(primal), primal, arguments, keywords, check)


def add_math_makers(add: Callable, module: Any) -> None:
    """Register the makers of this module with ``_table()``'s ``add``; ``module`` is the
    fuzzer itself, whose helpers the makers use."""
    global fuzzer
    fuzzer = module
    add(list(REMAINDERS), make_remainder)
    add([np.fabs], fuzzer.unary(fuzzer.Domain(away=(0.0,))))
    add([np.sinc], fuzzer.unary(fuzzer.Domain(low=-3.0, high=3.0)))
    add([np.logaddexp2], make_pair)
    parts = [np.real, np.imag, np.conjugate, np.angle, Method("conj"), Method("conjugate")]
    add(parts + [Attribute("real"), Attribute("imag")], make_real_part, weight=0.5)
    add([np.nan_to_num], make_nan_to_num)
    add([np.real_if_close], fuzzer.unary(fuzzer.ANYWHERE), weight=0.3)
    add([Method("astype")], make_astype, weight=0.3)
    add([np.select], make_select)
    add([math.erf, math.erfc], fuzzer.unary(fuzzer.Domain(low=-2.5, high=2.5), scalar=True))
    add([math.gamma], fuzzer.unary(fuzzer.Domain(low=0.3, high=5.0), scalar=True))
    add([math.lgamma], fuzzer.unary(fuzzer.Domain(low=0.3, high=20.0), scalar=True))
    add([math.hypot], make_hypot)
    add([builtins.max, builtins.min], make_builtin_extremum)
    add([builtins.tuple, builtins.list], make_sequence)
    add([builtins.pow], fuzzer.make_power)
    add([Method("round")], make_method_round)
    nan_reductions = [np.nansum, np.nanmean, np.nanvar, np.nanstd, np.nanprod]
    add(nan_reductions + [np.nanmax, np.nanmin, np.ptp], make_nan_reduction)
    add([np.average], make_average)
    add([np.cumprod, Method("cumprod"), np.nancumprod, np.nancumsum], make_cumprod)
    order_statistics = [np.median, np.quantile, np.percentile]
    add(order_statistics + [np.nanmedian, np.nanquantile, np.nanpercentile], make_order_statistic)
