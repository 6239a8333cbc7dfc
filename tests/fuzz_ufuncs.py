"""The fuzzer's makers for the rules of ``overbar/runtime/rules_ufuncs.py``: the methods of
NumPy's ufuncs (``reduce``, ``accumulate``, ``outer``) and the array methods that read elements
(``item``, ``tolist``, ``compress``, ``choose``), and the index methods without gradient.

As in ``tests/fuzzer.py``, each maker builds a call together with the values it sees, and keeps
it where its derivative is smooth with a margin: a maximum's reduce without ties at the maximum,
a running maximum along an axis whose elements are all apart, an outer product's every pair in
the ufunc's domain. ``add_ufunc_makers(add, fuzzer)`` registers them from ``fuzzer._table``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from overbar.primitives import Method
from overbar.runtime.helpers_ufuncs import added_at
from tests.fuzz_math import no_jump_near

if TYPE_CHECKING:
    from tests.fuzzer import Expr, Generator

# The fuzzer module, as add_ufunc_makers receives it (run as ``python -m tests.fuzzer`` it is
# ``__main__``: importing ``tests.fuzzer`` here would load a second copy of it).
fuzzer: Any = None

REDUCED = (np.add, np.multiply, np.maximum, np.minimum, np.fmax, np.fmin)
REDUCED += (np.logaddexp, np.logaddexp2)
EXTREMA = (np.maximum, np.minimum, np.fmax, np.fmin)


def _spelled(method: Any) -> str:
    return f"np.{method.__self__.__name__}.{method.__name__}"


def _one_axis(g: Generator, ndim: int) -> tuple[Any, list, list]:
    """One axis of ``ndim`` or "default" (more often), and the arguments that pass it: by
    position or as ``axis=``."""
    axis = g.pick(("default", "default", *range(-ndim, ndim)))
    args, keywords = [], []
    if axis != "default":
        if g.chance(0.3):
            args.append(g.integer(axis))
        else:
            keywords.append(("axis", g.integer(axis)))
    return axis, args, keywords


def make_reduce(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.<ufunc>.reduce(a), along axis 0 (the default), another axis, a pair or all, keeping
    dims or not; a maximum's or minimum's reduce without ties at the extreme."""
    ufunc = primal.__self__
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick(("default", "default", *range(-ndim, ndim), None))
    if ndim >= 2 and g.chance(0.2):
        axis = tuple(sorted(g.rng.choice(ndim, size=2, replace=False).tolist()))
    args, keywords = [], []
    if axis != "default":
        if g.chance(0.3):
            args.append(g.const(fuzzer.axis_text(axis)))
        else:
            keywords.append(("axis", g.const(fuzzer.axis_text(axis))))
    if g.chance(0.3):
        keywords.append(("keepdims", g.const(repr(g.pick((True, False))))))
    checked_axis = 0 if axis == "default" else axis

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        return ufunc not in EXTREMA or fuzzer.gaps_ok(value, checked_axis)

    return g.call(_spelled(primal), primal, [a, *args], keywords, check)


def make_accumulate(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.<ufunc>.accumulate(a) along axis 0 or another; a running maximum or minimum of
    elements all apart along the axis (each running extreme is one element, with a margin)."""
    ufunc = primal.__self__
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    axis, args, keywords = _one_axis(g, np.ndim(a.value))
    checked_axis = 0 if axis == "default" else axis

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        return ufunc not in EXTREMA or fuzzer.all_gaps_ok(value, checked_axis)

    return g.call(_spelled(primal), primal, [a, *args], keywords, check)


def _divisors_apart_from_zero(value: Any, axis: int) -> bool:
    """For divide's reduce and accumulate: every element after the first along ``axis`` at
    least 0.3 from zero (a₁, a₂, ... divide), and the quotients not huge."""
    moved = np.moveaxis(np.asarray(value, dtype=float), axis, 0)
    rest = moved[1:]
    if rest.size and np.min(np.abs(rest)) < 0.3:
        return False
    return bool(np.all(np.abs(moved[:1]) / np.prod(np.abs(rest) + (rest.size == 0), axis=0) < 1e3))


def make_ordered(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.subtract.reduce(a) or np.divide.accumulate(a), ...: one axis (these ufuncs are not
    reorderable), 0 by default, keeping dims or not for reduce; divide's divisors (all
    elements but the first along the axis) away from zero."""
    ufunc, method = primal.__self__, primal.__name__
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    axis, args, keywords = _one_axis(g, np.ndim(a.value))
    if method == "reduce" and g.chance(0.3):
        keywords.append(("keepdims", g.const(repr(g.pick((True, False))))))
    checked_axis = 0 if axis == "default" else axis

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        return ufunc is not np.divide or _divisors_apart_from_zero(value, checked_axis)

    return g.call(_spelled(primal), primal, [a, *args], keywords, check)


def make_reduceat(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.add.reduceat(a, [i, j, ...]) along axis 0 or another: indices in range, some going
    back (a segment of one element); a maximum's or minimum's segments without ties."""
    ufunc = primal.__self__
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick(("default", *range(-ndim, ndim)))
    checked_axis = 0 if axis == "default" else axis
    length = np.shape(a.value)[checked_axis]
    count = int(g.rng.integers(1, length + 2))
    indices = sorted(int(i) for i in g.rng.integers(0, length, size=count))
    if g.chance(0.3):
        g.rng.shuffle(indices)
    args = [a, g.const(repr(indices))]
    if axis != "default":
        args.append(g.integer(axis))

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        return ufunc not in EXTREMA or fuzzer.all_gaps_ok(value, checked_axis)

    return g.call(_spelled(primal), primal, args, [], check)


def _pairs(check: Callable[[Any, Any], bool]) -> Callable:
    """A check of ``f.outer(a, b)``'s operands: ``check`` on every pair (a widened, b)."""

    def checked(result: Any, a: Any, b: Any) -> bool:
        widened = np.reshape(a, np.shape(a) + (1,) * np.ndim(b))
        return bool(check(widened, np.asarray(b)))

    return checked


def _any(a: Any, b: Any) -> bool:
    return True


def _away_from_origin(a: Any, b: Any) -> bool:
    return bool(np.all(np.hypot(a, b) >= 0.3))


def _positive_base(a: Any, b: Any) -> bool:
    return bool(np.all(a >= 0.2) and np.all(np.abs(b) <= 3.0))


def _nonzero_divisor(a: Any, b: Any) -> bool:
    return bool(np.all(np.abs(b) >= 0.2))


def _no_jump(function: Callable) -> Callable[[Any, Any], bool]:
    """A remainder's operands away from its quotient's jumps (``fuzz_math.no_jump_near``)."""
    check = no_jump_near(function)
    return lambda a, b: check(None, a, b)


# the checks of every pair of an outer product's operands, by ufunc
OUTER_PAIRS: dict[Any, Callable[[Any, Any], bool]] = {
    np.add: _any,
    np.subtract: _any,
    np.multiply: _any,
    np.divide: _nonzero_divisor,
    np.power: _positive_base,
    np.maximum: lambda a, b: fuzzer.apart(a, b),
    np.minimum: lambda a, b: fuzzer.apart(a, b),
    np.fmax: lambda a, b: fuzzer.apart(a, b),
    np.fmin: lambda a, b: fuzzer.apart(a, b),
    np.hypot: _away_from_origin,
    np.arctan2: _away_from_origin,
    np.logaddexp: _any,
    np.logaddexp2: _any,
    np.copysign: lambda a, b: bool(np.all(np.abs(a) > 0.1) and np.all(np.abs(b) > 0.1)),
    np.float_power: _positive_base,
    np.heaviside: lambda a, b: bool(np.all(np.abs(a) > 0.1)),  # away from the step
    np.nextafter: _any,
}


def make_outer(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.<ufunc>.outer(a, b) of small operands (any ranks, 0-d included), every pair (aᵢ, bⱼ)
    where the ufunc is smooth: the second operand fitted into that domain where it is not."""
    ufunc = primal.__self__
    pairs = _pairs(OUTER_PAIRS[ufunc]) if ufunc in OUTER_PAIRS else _pairs(_no_jump(ufunc))
    small = lambda v: fuzzer.is_num(v) and np.size(v) <= 6 and np.ndim(v) <= 2  # noqa: E731
    left = g.operand(depth, small)
    if left is None:
        return None
    if ufunc is np.power:
        left = g.fit(left, fuzzer.POSITIVE)
    if left is None:
        return None

    def fits(v: Any) -> bool:
        if not small(v) or np.size(left.value) * np.size(v) > fuzzer.MAX_SIZE:
            return False
        return np.ndim(left.value) + np.ndim(v) <= fuzzer.MAX_NDIM and pairs(None, left.value, v)

    right = g.fit(g.operand(depth, small), fuzzer.Domain(low=-3.0, high=3.0), fits)
    if right is None:
        return None
    return g.call(_spelled(primal), primal, [left, right], check=pairs)


def make_item(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a.item() of a one-element array, a.item(k) at a flat position, a.item(i, j) or
    a.item((i, j)) at an index."""
    a = g.operand(depth, lambda v: isinstance(v, np.ndarray) and v.dtype.kind == "f")
    if a is None:
        return None
    shape = np.shape(a.value)
    size = int(np.prod(shape))
    if size == 0:
        return None
    forms = ["flat"] + (["none"] if size == 1 else []) + (["index", "tuple"] if shape else [])
    form = g.pick(forms)
    if form == "none":
        return g.method(a, "item")
    if form == "flat":
        return g.method(a, "item", [g.integer(g.pick(range(-size, size)))])
    index = [g.integer(g.pick(range(n))) for n in shape]
    if form == "tuple":
        return g.method(a, "item", [g.display(index, "()")])
    return g.method(a, "item", index)


def make_tolist(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.array(a.tolist()), or an element read out of the list: a.tolist()[k]."""
    a = g.operand(depth, lambda v: isinstance(v, np.ndarray) and v.dtype.kind == "f")
    if a is None:
        return None
    listed = g.method(a, "tolist")
    if np.ndim(a.value) >= 1 and len(a.value) > 0 and g.chance(0.4):
        row = g.pick(range(len(a.value)))
        return g.call("np.array", np.array, [g.subscript(listed, fuzzer.constant_index(str(row)))])
    return g.call("np.array", np.array, [listed])


def make_compress(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.compress(condition, a, axis) or a.compress(condition, axis): a constant condition
    (a list of booleans, at most as long as the axis, keeping at least one slice)."""
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick((None, *range(-ndim, ndim)))
    length = np.size(a.value) if axis is None else np.shape(a.value)[axis]
    if length == 0:
        return None
    kept = [bool(k) for k in g.rng.integers(0, 2, size=g.pick(range(1, length + 1)))]
    kept[g.pick(range(len(kept)))] = True
    condition = g.const(repr(kept))
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    if isinstance(primal, Method):
        return g.method(a, "compress", [condition], keywords)
    return g.call("np.compress", np.compress, [condition, a], keywords)


def make_choose(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.choose(index, [a, b]) (or index.choose(...)), the index an integer array of the
    broadcast shape, constant."""
    a = g.operand(depth, want)
    if a is None:
        return None
    b = g.operand(depth, fuzzer.broadcasts_with(a.value))
    if b is None:
        return None
    shape = np.broadcast_shapes(np.shape(a.value), np.shape(b.value))
    picks = g.rng.integers(0, 2, size=shape)
    index = g.call("np.array", np.array, [g.const(repr(picks.tolist()))])
    choices = g.display([a, b], g.pick(("[]", "()")))
    if isinstance(primal, Method):
        return g.method(index, "choose", [choices])
    return g.call("np.choose", np.choose, [index, choices])


def make_index_method(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """b[mask.nonzero()], b[a.argpartition(k)] (or np.argpartition; a without ties), and
    a * edges.searchsorted(a) (a away from the edges): indices, without gradient."""
    if primal == Method("searchsorted"):
        a = g.fit(g.operand(depth, want), fuzzer.Domain(away=(-0.5, 0.5)))
        if a is None:
            return None
        edges = g.call("np.array", np.array, [g.const("[-0.5, 0.5]")])
        return g.binop("*", a, g.method(edges, "searchsorted", [a]))
    a = g.operand(depth, lambda v: fuzzer.is_num(v) and np.ndim(v) == 1 and np.size(v) >= 2)
    if a is None:
        return None
    b = g.operand(depth, fuzzer.has_shape(np.shape(a.value)))
    if b is None:
        return None
    if primal == Method("nonzero"):
        threshold = g.threshold(a.value)
        if threshold is None:
            return None
        mask = g.compare(g.pick((">", "<")), a, threshold)
        if not np.any(mask.value):
            return None
        index = g.method(mask, "nonzero")
    else:
        kth = g.integer(g.pick(range(np.size(a.value))))

        def no_ties(result: Any, value: Any, *rest: Any) -> bool:
            return fuzzer.all_gaps_ok(value, None)

        if isinstance(primal, Method):
            index = g.method(a, "argpartition", [kth], check=no_ties)
        else:
            index = g.call("np.argpartition", np.argpartition, [a, kth], check=no_ties)
    return g.subscript(b, fuzzer.Index(index.text, index.run))


def add_ufunc_makers(add: Callable, module: Any) -> None:
    """Register the makers of this module with ``_table()``'s ``add``; ``module`` is the
    fuzzer itself, whose helpers the makers use."""
    global fuzzer
    fuzzer = module
    add([ufunc.reduce for ufunc in REDUCED], make_reduce, weight=0.5)
    add([ufunc.accumulate for ufunc in REDUCED], make_accumulate, weight=0.5)
    ordered = [np.subtract.reduce, np.divide.reduce, np.subtract.accumulate]
    add([*ordered, np.divide.accumulate], make_ordered, weight=0.4)
    reduceat = [np.add.reduceat, np.multiply.reduceat, np.maximum.reduceat]
    add([*reduceat, np.minimum.reduceat], make_reduceat, weight=0.4)
    outers = list(OUTER_PAIRS) + [np.remainder, np.fmod]
    add([ufunc.outer for ufunc in outers], make_outer, weight=0.4)
    add([Method("item")], make_item, weight=0.5)
    add([Method("tolist")], make_tolist, weight=0.5)
    add([np.compress, Method("compress")], make_compress, weight=0.5)
    add([np.choose, Method("choose")], make_choose, weight=0.5)
    indices = [Method("nonzero"), Method("argpartition"), np.argpartition]
    add(indices + [Method("searchsorted")], make_index_method, weight=0.3)


def unfuzzed_ufuncs(rules: Any) -> dict[Any, str]:
    """The outer rules of SciPy's binary ufuncs, with the reason they are not drawn."""
    return {
        np.ldexp.outer: "its second operand is an integer exponent; derived from ldexp's rule "
        "(fuzzed) as every outer rule is; checked in tests/test_rules_ufuncs.py",
        added_at: "np.add.at(y, i, v) is a statement, a write into y that overbar makes "
        "y[()] = added_at(y, i, v); the fuzzer writes expressions; checked in "
        "tests/test_ufunc_at.py",
    } | {
        ufunc.outer: "derived from its elementwise rule (fuzzed) by the code that derives the "
        "outer rules of NumPy's ufuncs (fuzzed); the order parameters of most SciPy ufuncs "
        "are not differentiable; checked in tests/test_rules_ufuncs.py"
        for ufunc in list(rules.rules)
        if isinstance(ufunc, np.ufunc)
        and ufunc.nin == 2
        and getattr(np, ufunc.__name__, None) is not ufunc
        and isinstance(rules.lookup(ufunc.outer), list)
    }
