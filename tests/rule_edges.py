"""The rule table at its edges: every rule's samples, moved to the shapes and kinds of input
where a rule that assumes too much goes wrong (issue 8: never silently wrong).

The samples of the rule test modules (``tests/test_rules*.py``) are one or a few cases per rule,
each in the middle of the rule's domain. Each is derived here into edge cases, from the
parameters the rule declares (its primal signature) and from the sample's inputs:

- ``0-d``: a Python float given as a 0-d array; a vector given as a float and as a 0-d array;
- ``size-1``: one axis of one input of length 1 (against a longer axis of another input, the
  broadcasting the adjoint must sum back: ``unbroadcast`` of a bar of the output's shape);
- ``leading``: one input given a new leading axis of length 2 (broadcast against the others);
- ``empty``: one axis of one input of length 0;
- ``negative-axis``: an axis parameter (``axis``, ``axes``, ``axis1``, ``source``, ...) given
  as the negative number of the same axis (chosen so that the forward value is unchanged);
- ``keepdims``: a ``keepdims`` parameter turned on, or off;
- ``float32``: every input in single precision;
- ``int`` and ``bool``: an input other than the first given as integers or as booleans (it is
  then a constant: the others are differentiated).

A case NumPy itself rejects (or whose value is not finite, or not floating point) is outside the
primal's domain and is dropped. Every other case is differentiated by ``overbar.grad`` (the
adjoint specialised on the case's shapes), by the general adjoint, and by the literal one (every
optimisation off), and by ``overbar.jvp`` (forward mode): each must either refuse with an
``OverbarError`` or give a gradient of the input's shape and a floating dtype that agrees with
central differences (the dot-product test) and with the other adjoints. A wrong array is the
one outcome that fails.

The test module ``tests/test_rule_edges.py`` runs a fixed sample of the cases (every kind of
edge, spread over the rule table) in CI; the command line runs them all::

    python -m tests.rule_edges [--kinds size-1,keepdims] [--match np.sum] [--limit N]
    OVERBAR_RULE_EDGES=all python -m pytest tests/test_rule_edges.py   # every case, in pytest
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import functools
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import overbar
from overbar.errors import OverbarError
from overbar.primitives import describe
from tests.support import define

KINDS = (
    "base",
    "0-d",
    "size-1",
    "leading",
    "empty",
    "negative-axis",
    "keepdims",
    "float32",
    "int",
    "bool",
)

# The parameters that name axes, in NumPy's, SciPy's and the rules' spellings.
AXIS_PARAMETERS = frozenset(
    {"axis", "axes", "axis1", "axis2", "source", "destination", "axisa", "axisb", "axisc"}
)

FD_STEP = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-7
FLOAT32_RTOL = 2e-3  # a single-precision gradient against float64 differences
FLOAT32_STEP = 1e-3  # a value computed in single precision: a step its rounding does not swamp
ADJOINT_RTOL = 1e-9


# ---------------------------------------------------------------------------------------------
# The samples of the rule modules, and how each module makes its inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """One sample of a rule test module: its primal, expression, input specs, and the maker
    that turns a spec into a value."""

    module: str
    primal: object
    expression: str
    inputs: dict
    make: Callable

    def __str__(self) -> str:
        return f"{describe(self.primal)}|{self.expression}"


@functools.cache
def seeds() -> list[Seed]:
    """Every sample of the rule test modules (SciPy's where SciPy is installed)."""
    from tests import (
        test_rules,
        test_rules_arrays,
        test_rules_fft,
        test_rules_linalg,
        test_rules_math,
        test_rules_science,
        test_rules_ufuncs,
    )

    modules = [
        (test_rules, test_rules._value),
        (test_rules_arrays, test_rules_arrays._value),
        (test_rules_fft, test_rules._value),
        (test_rules_linalg, test_rules_linalg.make_value),
        (test_rules_math, test_rules._value),
        (test_rules_science, test_rules._value),
        (test_rules_ufuncs, test_rules._value),
    ]
    try:
        from tests import test_rules_scipy
    except Exception:  # pragma: no cover - the test environment has SciPy  # noqa: BLE001
        pass
    else:
        modules.append((test_rules_scipy, test_rules_scipy.make_value))
    found = []
    for module, make in modules:
        for sample in module.SAMPLES:
            name = module.__name__.rsplit(".", 1)[-1]
            found.append(Seed(name, sample.primal, sample.expression, sample.inputs, make))
    return found


def _shape_of(spec) -> tuple | None:
    """The shape of a spec whose shape may be changed freely (plain random values), else
    None (a matrix with a structure: well-conditioned, symmetric, distinct elements)."""
    plain = getattr(spec, "kind", "any") in ("any", "pos")
    if dataclasses.is_dataclass(spec) and hasattr(spec, "shape") and plain:
        return tuple(spec.shape)
    return None


def _with_shape(spec, shape: tuple):
    return dataclasses.replace(spec, shape=tuple(shape))


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One edge case: a seed's expression (perhaps rewritten), its input specs (perhaps
    reshaped), and how each value is then given (``as_``: name -> "0-d", "float32", "int",
    "bool")."""

    seed: Seed
    kind: str
    expression: str
    inputs: dict
    as_: tuple = ()

    def __str__(self) -> str:
        shapes = ",".join(
            f"{k}{getattr(v, 'shape', v)}".replace(" ", "") for k, v in self.inputs.items()
        )
        given = "".join(f",{k}:{how}" for k, how in self.as_)
        return f"{describe(self.seed.primal)}|{self.kind}|{self.expression}|{shapes}{given}"

    def arguments(self) -> list:
        """The case's argument values: drawn from its sample, input specs and forms alone (an
        expression rewritten into the same function gets the same values)."""
        shapes = ",".join(f"{k}{v}" for k, v in self.inputs.items())
        rng = np.random.default_rng(zlib.crc32(f"{self.seed}|{shapes}|{self.as_}".encode()))
        given = dict(self.as_)
        values = []
        for name, spec in self.inputs.items():
            value = self.seed.make(spec, rng)
            how = given.get(name)
            if how == "0-d":
                value = np.array(value, dtype=np.float64)
            elif how == "float":
                value = float(np.asarray(value).reshape(-1)[0]) if np.size(value) else 0.5
            elif how == "float32":
                value = np.asarray(value, dtype=np.float32)
            elif how == "int":
                value = np.asarray(np.round(2.0 * np.asarray(value)), dtype=np.int64)
            elif how == "bool":
                value = np.asarray(value) > 0
            values.append(value)
        return values


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _evaluate(expression: str, names: dict):
    import builtins
    import math
    import operator

    from tests.support import LIBRARIES

    scope = {"np": np, "math": math, "operator": operator, "builtins": builtins}
    scope.update(LIBRARIES)
    scope.update(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return eval(expression, scope)  # noqa: S307 - the test's own expressions


def _forward(case: Case):
    """The case's value in plain NumPy, or None where NumPy rejects the case or its value is
    not finite floating point (outside the primal's domain)."""
    args = case.arguments()
    try:
        value = _evaluate(case.expression, dict(zip(case.inputs, args, strict=True)))
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any failure of NumPy's is outside the domain
        return None
    if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
        return None
    return array


def _rule_signature(primal):
    from overbar.runtime.registry import RULES

    rules = RULES.lookup(primal)
    if not isinstance(rules, list):
        return None
    return rules[-1].primal_signature()


def _called_primal(call: ast.Call, scope: dict):
    """The primal a call in a sample's expression calls (a Method for ``a.sum(...)``), or
    None."""
    from overbar.primitives import Method

    func = call.func
    if isinstance(func, ast.Attribute):
        try:
            owner = _evaluate(ast.unparse(func.value), scope)
        except Exception:  # noqa: BLE001
            return None
        if isinstance(owner, np.ndarray | np.generic):
            return Method(func.attr)
    try:
        return _evaluate(ast.unparse(func), scope)
    except Exception:  # noqa: BLE001
        return None


def _bound_arguments(call: ast.Call, primal) -> dict | None:
    """The call's argument nodes by the rule's parameter names (``self`` as the first for a
    method), or None where the rule's signature does not take them."""
    import inspect

    signature = _rule_signature(primal)
    if signature is None:
        return None
    from overbar.primitives import Method

    positional = list(call.args)
    if isinstance(primal, Method) and isinstance(call.func, ast.Attribute):
        positional = [call.func.value, *positional]
    if any(isinstance(a, ast.Starred) for a in positional) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    try:
        bound = signature.bind(*positional, **{k.arg: k.value for k in call.keywords})
    except TypeError:
        return None
    named = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL or kind is inspect.Parameter.VAR_KEYWORD:
            continue
        named[name] = value
    return named


def _axis_rewrites(case: Case) -> Iterator[str]:
    """The expression with one axis constant made negative (the same axis: the forward value
    must not change)."""
    values = case.arguments()
    scope = dict(zip(case.inputs, values, strict=True))
    original = _forward(case)
    if original is None:
        return
    tree = ast.parse(case.expression, mode="eval")
    for index, call in enumerate(_calls(tree)):
        primal = _called_primal(call, scope)
        if primal is None:
            continue
        named = _bound_arguments(call, primal)
        if not named:
            continue
        for name, node in named.items():
            if name not in AXIS_PARAMETERS:
                continue
            constants = _non_negative_ints(node)
            if not constants:
                continue
            for shift in range(max(constants) + 1, max(constants) + 7):
                rewritten = copy.deepcopy(tree)
                target = list(_calls(rewritten))[index]
                _negate_ints(_argument_node(target, call, node), shift)
                text = ast.unparse(rewritten)
                if text == case.expression:
                    continue
                trial = _forward(dataclasses.replace(case, expression=text))
                if (
                    trial is not None
                    and trial.shape == original.shape
                    and np.allclose(trial, original, rtol=1e-12, atol=1e-12)
                ):
                    yield text
                    break


def _argument_node(target: ast.Call, original: ast.Call, node: ast.AST) -> ast.AST:
    """In a deep copy ``target`` of ``original``, the copy of ``node``."""
    for old, new in zip(original.args, target.args, strict=True):
        if old is node:
            return new
    for old, new in zip(original.keywords, target.keywords, strict=True):
        if old.value is node:
            return new.value
    if isinstance(original.func, ast.Attribute) and original.func.value is node:
        return target.func.value
    raise LookupError("argument not found")


def _non_negative_ints(node: ast.AST) -> list[int]:
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List):
        found = [_non_negative_ints(e) for e in node.elts]
        if all(len(f) == 1 for f in found):
            return [f[0] for f in found]
    return []


def _negate_ints(node: ast.AST, shift: int) -> None:
    """Each non-negative int constant ``k`` in ``node`` becomes ``k - shift`` where that is
    negative (a number of dimensions, tried until the axis is the same)."""
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value - shift < 0:
        node.value = node.value - shift
    for child in ast.iter_child_nodes(node):
        _negate_ints(child, shift)


def _keepdims_rewrites(case: Case) -> Iterator[str]:
    """The expression with the ``keepdims`` of one call turned on (or off, where on)."""
    scope = dict(zip(case.inputs, case.arguments(), strict=True))
    tree = ast.parse(case.expression, mode="eval")
    for index, call in enumerate(_calls(tree)):
        primal = _called_primal(call, scope)
        signature = _rule_signature(primal) if primal is not None else None
        if signature is None or "keepdims" not in signature.parameters:
            continue
        rewritten = copy.deepcopy(tree)
        target = list(_calls(rewritten))[index]
        given = [k for k in target.keywords if k.arg == "keepdims"]
        if given:
            if isinstance(given[0].value, ast.Constant):
                given[0].value = ast.Constant(not given[0].value.value)
            else:
                continue
        else:
            target.keywords.append(ast.keyword("keepdims", ast.Constant(True)))
        yield ast.unparse(rewritten)


def cases_of(seed: Seed) -> Iterator[Case]:
    """The edge cases of one sample (before NumPy's domain is checked)."""
    base = Case(seed, "base", seed.expression, dict(seed.inputs))
    yield base
    names = list(seed.inputs)
    shapes = {n: _shape_of(seed.inputs[n]) for n in names}
    for name in names:
        shape = shapes[name]
        if shape == ():
            yield dataclasses.replace(base, kind="0-d", as_=((name, "0-d"),))
        elif shape is not None and len(shape) == 1:
            inputs = {**seed.inputs, name: _with_shape(seed.inputs[name], ())}
            yield Case(seed, "0-d", seed.expression, inputs)
            yield Case(seed, "0-d", seed.expression, inputs, ((name, "0-d"),))
    for name in names:
        shape = shapes[name]
        if not shape:
            continue
        for axis, length in enumerate(shape):
            if length != 1:
                reshaped = shape[:axis] + (1,) + shape[axis + 1 :]
                inputs = {**seed.inputs, name: _with_shape(seed.inputs[name], reshaped)}
                yield Case(seed, "size-1", seed.expression, inputs)
            if length != 0:
                emptied = shape[:axis] + (0,) + shape[axis + 1 :]
                inputs = {**seed.inputs, name: _with_shape(seed.inputs[name], emptied)}
                yield Case(seed, "empty", seed.expression, inputs)
    for name in names:
        shape = shapes[name]
        if shape is not None and len(shape) < 3:
            inputs = {**seed.inputs, name: _with_shape(seed.inputs[name], (2, *shape))}
            yield Case(seed, "leading", seed.expression, inputs)
    for text in _axis_rewrites(base):
        yield Case(seed, "negative-axis", text, dict(seed.inputs))
    for text in _keepdims_rewrites(base):
        yield Case(seed, "keepdims", text, dict(seed.inputs))
    yield dataclasses.replace(base, kind="float32", as_=tuple((n, "float32") for n in names))
    for name in names[1:]:
        yield dataclasses.replace(base, kind="int", as_=((name, "int"),))
        yield dataclasses.replace(base, kind="bool", as_=((name, "bool"),))


@functools.cache
def derived_cases() -> list[Case]:
    """Every edge case of every sample, deduplicated, in a fixed order (NumPy's domain not
    checked yet: some of them NumPy rejects)."""
    found, seen = [], set()
    for seed in seeds():
        try:
            derived = list(cases_of(seed))
        except Exception:  # noqa: BLE001 - a sample this module cannot rewrite: its base only
            derived = [Case(seed, "base", seed.expression, dict(seed.inputs))]
        for case in derived:
            key = str(case)
            if key not in seen:
                seen.add(key)
                found.append(case)
    return found


@functools.cache
def all_cases() -> list[Case]:
    """Every edge case of every sample that NumPy accepts, in a fixed order."""
    return [case for case in derived_cases() if _forward(case) is not None]


def ci_sample(per_kind: int = 20) -> list[Case]:
    """A fixed sample for CI: of each kind but ``base`` (the rule modules run those), the
    cases whose name hashes lowest, at most one per primal, ``per_kind`` of each."""
    chosen = []
    for kind in KINDS[1:]:
        ranked = sorted(
            (c for c in derived_cases() if c.kind == kind),
            key=lambda c: zlib.crc32(str(c).encode()),
        )
        primals = set()
        for case in ranked:  # NumPy's domain checked for the candidates alone
            key = describe(case.seed.primal)
            if key in primals or _forward(case) is None:
                continue
            primals.add(key)
            chosen.append(case)
            if len(primals) == per_kind:
                break
    return chosen


# ---------------------------------------------------------------------------------------------
# Checking one case
# ---------------------------------------------------------------------------------------------


class WrongGradient(AssertionError):
    """A gradient overbar gave that is not right: the one failure this harness looks for."""


@dataclass
class Outcome:
    case: Case
    kind: str  # "ok", "refused", "wrong", "crashed"
    detail: str = ""


def _differentiated(case: Case, args: list) -> tuple[int, ...]:
    """The positions of the floating inputs (int and bool ones are constants)."""
    return tuple(
        i
        for i, value in enumerate(args)
        if isinstance(value, float) or np.asarray(value).dtype.kind == "f"
    )


def _as_float64(value):
    if isinstance(value, float):
        return value
    array = np.asarray(value)
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def _directional(f, args, wrt, gradients, rng, step=FD_STEP):
    """<gradient, v> and the central difference of f along v, in double precision."""
    base = [_as_float64(a) for a in args]
    results = []
    for index, gradient in zip(wrt, gradients, strict=True):
        direction = rng.standard_normal(np.shape(base[index]))

        def at(step, index=index, direction=direction):
            trial = list(base)
            moved = np.asarray(base[index], dtype=np.float64) + step * direction
            trial[index] = float(moved) if isinstance(base[index], float) else np.asarray(moved)
            with np.errstate(all="ignore"):
                return float(np.sum(f(*trial)))

        numeric = (at(step) - at(-step)) / (2 * step)
        analytic = float(np.sum(np.asarray(gradient, dtype=np.float64) * direction))
        results.append((index, analytic, numeric))
    return results


def _close(analytic, numeric, single: bool) -> bool:
    rtol = FLOAT32_RTOL if single else FD_RTOL
    return abs(analytic - numeric) <= FD_ATOL + rtol * max(abs(analytic), abs(numeric))


def check_case(case: Case) -> Outcome:
    """Differentiate the case every way overbar can; ``wrong`` if any gradient is wrong."""
    try:
        _check(case)
    except WrongGradient as error:
        return Outcome(case, "wrong", str(error))
    except _Refused as refusal:
        return Outcome(case, "refused", str(refusal))
    except Exception:  # noqa: BLE001
        return Outcome(case, "crashed", traceback.format_exc(limit=-3))
    return Outcome(case, "ok")


class _Refused(Exception):
    pass


def _check(case: Case) -> None:
    names = list(case.inputs)
    args = case.arguments()
    rng = np.random.default_rng(zlib.crc32(str(case).encode()) + 1)
    value = _forward(case)
    if value is None:
        raise _Refused("outside the primal's domain: NumPy rejects the case")
    cotangent = rng.standard_normal(value.shape)
    wrt = _differentiated(case, args)
    if not wrt:
        return
    single = value.dtype == np.float32 or any(np.asarray(a).dtype == np.float32 for a in args)
    f = define(f"def f({', '.join([*names, 'u'])}):\n    return np.sum(({case.expression}) * u)\n")
    call = [*args, cotangent]
    # differences are taken in double precision (the arguments made float64), with a small
    # step; only a function that itself rounds to single precision needs a larger one
    upcast = dict(zip(names, [_as_float64(a) for a in args], strict=True))
    forced = np.asarray(_evaluate(case.expression, upcast)).dtype == np.float32
    gradient_function = overbar.grad(f, wrt=wrt)
    refusals = []
    results = {}
    ways = {
        "specialised": lambda: gradient_function(*call),
        "general": lambda: gradient_function.stages.emitted.function(*call),
        "literal": lambda: overbar.grad(f, wrt=wrt, optimise=False)(*call),
    }
    for way, run in ways.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gradients = run()
        except OverbarError as error:
            refusals.append(f"{way}: {type(error).__name__}: {str(error).splitlines()[0]}")
            continue
        if way == "general" and len(wrt) == 1:  # the general adjoint returns one bare
            gradients = (gradients,)
        gradients = tuple(gradients)
        results[way] = gradients
        for index, gradient in zip(wrt, gradients, strict=True):
            name = names[index]
            if np.shape(gradient) != np.shape(args[index]):
                raise WrongGradient(
                    f"{way}: the gradient of {name} has shape {np.shape(gradient)}, "
                    f"the input {np.shape(args[index])}"
                )
            if np.asarray(gradient).dtype.kind != "f":
                raise WrongGradient(
                    f"{way}: the gradient of {name} has dtype {np.asarray(gradient).dtype}"
                )
        if np.size(value) and all(np.size(args[i]) for i in wrt):
            step = FLOAT32_STEP if forced else FD_STEP
            for index, analytic, numeric in _directional(f, call, wrt, gradients, rng, step):
                if not _close(analytic, numeric, single):
                    raise WrongGradient(
                        f"{way}: <gradient of {names[index]}, v> = {analytic!r}, central "
                        f"differences {numeric!r}"
                    )
    _check_tangent(case, f, call, wrt, single, forced, rng, refusals)
    if not results:
        raise _Refused("; ".join(refusals))
    if refusals:
        # one way refused where another answered: a refusal is never wrong, but say so
        raise _Refused("partly: " + "; ".join(refusals))


def _check_tangent(case, f, call, wrt, single, forced, rng, refusals) -> None:
    tangents = []
    for index in wrt:
        t = rng.standard_normal(np.shape(call[index]))
        tangents.append(float(t) if isinstance(call[index], float) else t)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, derivative = overbar.jvp(f, call, tangents, wrt=wrt)
    except OverbarError as error:
        refusals.append(f"jvp: {type(error).__name__}: {str(error).splitlines()[0]}")
        return
    base = [_as_float64(a) for a in call]

    def at(step):
        moved = list(base)
        for index, t in zip(wrt, tangents, strict=True):
            shifted = np.asarray(base[index], dtype=np.float64) + step * np.asarray(t)
            moved[index] = (
                float(shifted) if isinstance(base[index], float) else np.asarray(shifted)
            )
        with np.errstate(all="ignore"):
            return float(np.sum(f(*moved)))

    step = FLOAT32_STEP if forced else FD_STEP
    numeric = (at(step) - at(-step)) / (2 * step)
    analytic = float(np.sum(np.asarray(derivative, dtype=np.float64)))
    if not _close(analytic, numeric, single):
        raise WrongGradient(f"jvp: {analytic!r}, central differences {numeric!r}")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rule_edges", description=__doc__)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--match", default="", help="only cases whose name contains this")
    parser.add_argument("--limit", type=int, default=0, help="at most this many cases")
    parser.add_argument("--start", type=int, default=0, help="skip this many cases first")
    parser.add_argument("--ci", action="store_true", help="only the cases CI runs")
    parser.add_argument("--verbose", action="store_true", help="print refusals too")
    options = parser.parse_args(argv)
    kinds = set(options.kinds.split(","))
    cases = ci_sample() if options.ci else all_cases()
    cases = [c for c in cases if c.kind in kinds and options.match in str(c)]
    cases = cases[options.start :]
    if options.limit:
        cases = cases[: options.limit]
    start = time.perf_counter()
    counts = Counter()
    for number, case in enumerate(cases, 1):
        if number % 500 == 0:
            print(f"... {number} of {len(cases)} cases", flush=True)
        outcome = check_case(case)
        counts[outcome.kind] += 1
        if outcome.kind in ("wrong", "crashed") or (options.verbose and outcome.kind != "ok"):
            print(f"{outcome.kind.upper()}: {case}\n    {outcome.detail.strip()}", flush=True)
    elapsed = time.perf_counter() - start
    print(
        f"{len(cases)} cases in {elapsed:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 1 if counts["wrong"] or counts["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
