"""Random programs over overbar's whole rule table, checked against finite differences and
against overbar's literal adjoint (GitHub issue 8, item 2).

In the manner of Csmith and YARPGen, every program is valid by construction. Each operation is
generated together with the values it will see at the program's arguments, and is applied only
where its derivative is smooth with a margin: logarithms of values above 0.2, no ties for max,
sort or maximum, no value near the kink of abs, branch thresholds away from the values they
test. Central differences are then reliable, and a disagreement is overbar's. The generator draws
from every primitive in the rule table (read at run time, so a new rule is fuzzed as soon as it
is registered; a primitive this module cannot call is listed in ``UNFUZZED`` with the reason),
in nested one-line expressions, broadcasting between Python floats, 0-d arrays, vectors, rows,
columns and matrices, with user helpers, branches, loops, writes into arrays and lists.

Program ``k`` of seed ``s`` is always the same text and arguments::

    python -m tests.fuzzer --programs 100000 --seed 0 --jobs 2 [--report FILE] [--shrink]
    python -m tests.fuzzer --seed 0 --show 1234      # one program, its arguments and outcome

Each program is checked three ways: ``overbar.grad`` (the adjoint specialised on the arguments'
shapes), the general adjoint (``g.stages.emitted.function``) and the literal adjoint
(``optimise=False``, every optimising pass off), each against central differences along random
directions, and the optimised ones against the literal one to rounding. A third of the programs with
several arguments of numbers, one of which has one element, are differentiated with respect to
that one alone (``one_number``): their gradient is taken by forward mode. The command line
compiles generated code without black formatting it (the same syntax tree, a third of the
time; ``--black`` formats). ``FUZZER_DEBUG=1`` raises this module's own errors.
``FUZZER_OPTIMISE=all,-inline`` (a list as ``Optimisations.parse`` reads it) chooses the passes
of the optimised adjoint: with ``-inline``, every helper the programs call is kept as a pullback
(its forward function returning its residuals). ``FUZZER_HVP=1`` also checks each program's
Hessian-vector product (``overbar.hvp``) against central differences of its gradient.
``FUZZER_OBJECTS=1`` makes each program's body the ``__call__`` of an object its function makes
of its differentiated parameters (``as_an_object``). ``FUZZER_CONTAINERS=1`` passes each
program's differentiated parameters in a dict, read by key
wherever the program reads them (``params["x"]``): containers of parameters, fuzzed through every
form the programs take (the "general" adjoint is then the one that knows only the dict's
structure, the shapes optimisation off). Each program
has one outcome:

- ``ok``: every check passed;
- ``wrong``: a gradient disagrees with central differences (or has the wrong shape, is not
  finite, or changed an argument);
- ``literal-mismatch``: the optimised adjoint disagrees with the literal one (every optimising
  pass off), while both are within the tolerance of the finite differences;
- ``general-mismatch``: the general adjoint (for arguments of any shape) disagrees with the one
  specialised on the arguments' shapes, while both are within that tolerance;
- ``crashed``: an exception out of overbar that is not a deliberate refusal (``InternalError``
  included);
- ``refused``: an ``overbar.OverbarError`` refusal (unsupported syntax, a missing rule, ...);
- ``invalid``: the program fails, or is not finite, when run as plain Python, or finite
  differences are unstable at its arguments: a bug in this generator.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import copy
import functools
import inspect
import itertools
import math
import multiprocessing
import operator
import os
import re
import signal
import sys
import textwrap
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import overbar
from overbar.primitives import Attribute, Method, describe, is_index_maker
from overbar.primitives import Index as IndexExpression
from overbar.runtime.registry import RULES
from tests.fuzz_linalg import add_linalg_makers
from tests.fuzz_arrays import UNFUZZED_ARRAYS, add_arrays_makers
from tests.fuzz_math import add_math_makers
from tests.fuzz_ufuncs import add_ufunc_makers, unfuzzed_ufuncs
from tests.fuzz_numpy2 import add_numpy2_makers

try:  # SciPy's functions join the pool where it is installed
    from tests import fuzz_scipy as SCIPY  # noqa: N812
except ImportError:  # pragma: no cover - the test environment has SciPy
    SCIPY = None
from tests.support import define

# ---------------------------------------------------------------------------------------------
# Limits of the generated programs
# ---------------------------------------------------------------------------------------------

MARGIN = 0.05  # distance kept from kinks, ties, domain edges and branch thresholds
LIMIT = 200.0  # the largest magnitude of any value a program computes
MAX_SIZE = 40  # the most elements of any array
MAX_NDIM = 3
MAX_DEPTH = 3  # the deepest nesting of calls and operators on one line
NEST = (0.5, 0.2, 0.05, 0.0)  # probability that an operand at each depth is itself an operation
MOST_LOOP_STEPS = 4

# Checking
FD_STEP = 1e-4  # central differences at FD_STEP and FD_STEP / 2, combined (Richardson)
FD_RTOL = 1e-5
FD_ATOL = 1e-6
ADJOINT_RTOL = 1e-9  # optimised against literal, general against specialised (relative to the
ADJOINT_ATOL = 1e-12  # largest element of the gradient)
PROGRAM_SECONDS = 30  # a program that takes longer than this has crashed (it loops forever)
DEBUG = bool(os.environ.get("FUZZER_DEBUG"))  # raise the generator's own errors

KINDS = ("ok", "wrong", "literal-mismatch", "general-mismatch", "crashed", "refused", "invalid")
FAILURES = ("wrong", "literal-mismatch", "general-mismatch", "crashed", "invalid")
HVP_KINDS = ("hvp-wrong", "hvp-crashed", "hvp-refused")  # with FUZZER_HVP=1 (see below)


class Invalid(Exception):
    """A generated operation would fail, or leave the domain where its derivative is smooth and
    finite differences are reliable: the generator chooses something else."""


# ---------------------------------------------------------------------------------------------
# Expressions: source text, a function computing the value in an environment, and the value
# at the point of the program where the expression was generated
# ---------------------------------------------------------------------------------------------

CONDITIONAL, OR, AND, NOT, COMPARE, BIT_OR, BIT_XOR, BIT_AND = 1, 2, 3, 4, 5, 6, 7, 8
SUM, PRODUCT, UNARY, POWER, ATOM = 10, 11, 12, 13, 20

BINARY_OPERATORS = {
    "+": (operator.add, SUM),
    "-": (operator.sub, SUM),
    "*": (operator.mul, PRODUCT),
    "/": (operator.truediv, PRODUCT),
    "//": (operator.floordiv, PRODUCT),
    "%": (operator.mod, PRODUCT),
    "@": (operator.matmul, PRODUCT),
    "**": (operator.pow, POWER),
    "&": (operator.and_, BIT_AND),
    "|": (operator.or_, BIT_OR),
    "^": (operator.xor, BIT_XOR),
}
IN_PLACE = {"+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv}
COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, eq=False)
class Expr:
    """An expression of a generated program."""

    text: str
    run: Callable[[dict], Any]
    value: Any
    precedence: int = ATOM

    def wrapped(self, precedence: int) -> str:
        """The text, in parentheses where an operator of ``precedence`` needs them."""
        return f"({self.text})" if self.precedence < precedence else self.text


_KINDS = {float: "num", np.float64: "num", int: "int", bool: "bool", list: "list", tuple: "tuple"}
_ARRAY_KINDS = {"f": "num", "b": "bool", "i": "int", "u": "int"}


def kind_of(value: Any) -> str:
    """``num`` (floats), ``int``, ``bool``, ``list``, ``tuple`` or ``other``."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, np.ndarray):
        return _ARRAY_KINDS.get(value.dtype.kind, "other")
    for types, kind in (
        (bool | np.bool_, "bool"),
        (int | np.integer, "int"),
        (float | np.floating, "num"),
        (list, "list"),
        (tuple, "tuple"),
    ):
        if isinstance(value, types):
            return kind
    return "other"


# FUZZER_CONTAINERS=1: each program takes its differentiated arguments in a dict, read by key
# wherever the program reads them (``params["a"]``), and is differentiated with respect to the
# dict (a container of parameters, whose gradient is a dict); off, programs are as generated.
CONTAINERS = os.environ.get("FUZZER_CONTAINERS", "") == "1"
# FUZZER_OBJECTS=1: each program's body is the method __call__ of an object the function makes
# of its differentiated arguments (``model = Model(a, b); return model(c)``): objects made in
# the function, taken apart (transpiler/objects.py) or given their methods' pullbacks
OBJECTS = os.environ.get("FUZZER_OBJECTS", "") == "1"
# FUZZER_OPTIMISE=all,-inline: the passes of the optimised adjoint (default: all)
OPTIMISE = os.environ.get("FUZZER_OPTIMISE", "")


def in_a_dict(source: str, values: tuple, wrt: tuple[int, ...]) -> tuple[str, tuple, tuple]:
    """The program with the differentiated parameters of its function (the last ``def``) that
    it never assigns taken in one dict parameter, first, every read of ``a`` becoming
    ``params["a"]``; the arguments and ``wrt`` to match. Unchanged where no parameter fits."""
    module = ast.parse(source)
    function = module.body[-1]
    parameters = [a.arg for a in function.args.args]
    assigned = {
        node.id
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    packed = [parameters[k] for k in wrt if parameters[k] not in assigned]
    if not packed or function.args.vararg or function.args.kwonlyargs or function.args.defaults:
        return source, values, wrt
    taken = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)} | set(parameters)
    name = "params"
    while name in taken:
        name += "_"

    class Reads(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in packed and isinstance(node.ctx, ast.Load):
                return ast.copy_location(
                    ast.Subscript(
                        value=ast.Name(id=name, ctx=ast.Load()),
                        slice=ast.Constant(node.id),
                        ctx=ast.Load(),
                    ),
                    node,
                )
            return node

    function.body = [Reads().visit(statement) for statement in function.body]
    kept = [k for k, parameter in enumerate(parameters) if parameter not in packed]
    function.args.args = [ast.arg(arg=name)] + [function.args.args[k] for k in kept]
    parameter_values = {parameters[k]: values[k] for k in wrt if parameters[k] in packed}
    new_values = (parameter_values, *(values[k] for k in kept))
    new_wrt = (0,) + tuple(1 + kept.index(k) for k in wrt if k in kept)
    return ast.unparse(ast.fix_missing_locations(module)) + "\n", new_values, new_wrt


def as_an_object(source: str, wrt: tuple[int, ...], computed: bool) -> str:
    """The program with its function (the last ``def``) calling an object it makes of the
    differentiated parameters it never assigns (``model = Model(a, b); return model(c)``),
    whose ``__call__`` is the function's body reading them as ``self.a``; its ``__init__``
    stores them, and with ``computed`` a constant too (``self.calls = 0``: a class whose
    ``__init__`` does more than store its arguments). The arguments are unchanged.
    Unchanged where no parameter fits."""
    module = ast.parse(source)
    function = module.body[-1]
    parameters = [a.arg for a in function.args.args]
    assigned = {
        node.id
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    stored = [parameters[k] for k in wrt if parameters[k] not in assigned]
    if not stored or function.args.vararg or function.args.kwonlyargs or function.args.defaults:
        return source
    taken = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)} | set(parameters)
    kind, own, made = "Model", "self", "model"
    while kind in taken or own in taken or made in taken:
        kind, own, made = kind + "_", own + "_", made + "_"

    class Reads(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in stored and isinstance(node.ctx, ast.Load):
                receiver = ast.Name(id=own, ctx=ast.Load())
                return ast.copy_location(ast.Attribute(receiver, node.id, ast.Load()), node)
            return node

    rest = [p for p in parameters if p not in stored]
    stores = "".join(f"        {own}.{p} = {p}\n" for p in stored)
    if computed:
        stores += f"        {own}.calls = 0\n"
    method = copy.deepcopy(function)
    method.name = "__call__"
    method.args.args = [ast.arg(arg=own)] + [ast.arg(arg=p) for p in rest]
    method.body = [Reads().visit(statement) for statement in method.body]
    body = textwrap.indent(ast.unparse(ast.fix_missing_locations(method)), "    ")
    text = (
        f"class {kind}:\n    def __init__({own}, {', '.join(stored)}):\n{stores}\n{body}\n\n\n"
        f"def {function.name}({', '.join(parameters)}):\n"
        f"    {made} = {kind}({', '.join(stored)})\n"
        f"    return {made}({', '.join(rest)})\n"
    )
    module.body = module.body[:-1]
    head = ast.unparse(module) + "\n\n\n" if module.body else ""
    return head + text


# A share of the programs with several arguments of numbers, one of which has one element, are
# differentiated with respect to that one alone: the gradient of one number is taken by forward
# mode (Optimisations.forward), which only programs with one argument of numbers reach otherwise.
ONE_NUMBER_SHARE = 1 / 3


def one_number(wrt: tuple[int, ...], values: list, rng: np.random.Generator) -> tuple[int, ...]:
    """``wrt``, or for a share of the programs (``ONE_NUMBER_SHARE``) one of its arguments
    that has one element (a number, a 0-d or size-1 array) alone."""
    single = [k for k in wrt if np.size(values[k]) == 1]
    if len(wrt) > 1 and single and rng.random() < ONE_NUMBER_SHARE:
        return (single[int(rng.integers(len(single)))],)
    return wrt


def differentiated(value: Any) -> bool:
    """Whether a program's argument is differentiated: a number or array of numbers."""
    return kind_of(value) == "num"


def _leaves(value: Any) -> list:
    """The arrays and numbers of a value, a dict's in its keys' order."""
    if type(value) is dict:
        return [leaf for key in value for leaf in _leaves(value[key])]
    return [value]


def _iterable(value: Any) -> bool:
    """An array of numbers with at least one axis, or a list of them."""
    if isinstance(value, list):
        return bool(value) and all(kind_of(item) == "num" for item in value)
    return kind_of(value) == "num" and isinstance(value, np.ndarray) and value.ndim >= 1


def layout(value: Any) -> Any:
    """The kind and shape of a value (of each element, for lists and tuples)."""
    if isinstance(value, list | tuple):
        return (kind_of(value), tuple(layout(item) for item in value))
    return (kind_of(value), np.shape(value))


def settle(value: Any) -> Any:
    """``value``, if it is finite, moderate and small; otherwise ``Invalid``."""
    if isinstance(value, list | tuple):
        for item in value:
            settle(item)
        return value
    if isinstance(value, np.dtype):
        return value
    kind = kind_of(value)
    if kind in ("bool", "int"):
        if np.size(value) > MAX_SIZE:
            raise Invalid("too large")
        return value
    if kind != "num":
        raise Invalid(f"unexpected {type(value).__name__}")
    array = np.asarray(value)
    if array.size > MAX_SIZE or array.ndim > MAX_NDIM:
        raise Invalid("too large")
    if array.size == 0:
        raise Invalid("empty")
    if array.size and not (np.all(np.isfinite(array)) and np.max(np.abs(array)) <= LIMIT):
        raise Invalid("not finite or too large")
    return value


def guarded(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, with any failure (NumPy's warnings included) as Invalid."""
    try:
        return function(*args, **kwargs)
    except (Invalid, Signal):
        raise
    except Exception as error:
        raise Invalid(f"{type(error).__name__}: {error}") from None


def read(name: str) -> Callable[[dict], Any]:
    """The run function of a name: its value in the environment."""

    def run(env: dict) -> Any:
        if name not in env:
            raise Invalid(f"{name} is not defined")
        return env[name]

    return run


# ---------------------------------------------------------------------------------------------
# Statements and functions, which render as text and run in an environment
# ---------------------------------------------------------------------------------------------


class Signal(Exception):
    """Break, continue and return, while a generated function runs."""


class BreakSignal(Signal):
    """``break`` in a running loop."""


class ContinueSignal(Signal):
    """``continue`` in a running loop."""


class ReturnSignal(Signal):
    """``return`` in a running function, with the value."""

    def __init__(self, value: Any):
        super().__init__()
        self.value = value


def run_block(statements: list, env: dict) -> None:
    """Run ``statements`` in ``env``."""
    for statement in statements:
        statement.run(env)


def render_block(statements: list, indent: int) -> list[str]:
    """The lines of ``statements`` at ``indent`` (``pass`` for none)."""
    lines = [line for statement in statements for line in statement.lines(indent)]
    return lines or ["    " * indent + "pass"]


@dataclass(eq=False)
class Assign:
    """``name = value``."""

    target: str
    value: Expr

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"{self.target} = {self.value.text}"]

    def run(self, env: dict) -> None:
        env[self.target] = self.value.run(env)


@dataclass(eq=False)
class Unpack:
    """``a, b = value`` (a helper returning a pair, or an array's rows or elements)."""

    targets: list[str]
    value: Expr

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"{', '.join(self.targets)} = {self.value.text}"]

    def run(self, env: dict) -> None:
        values = self.value.run(env)
        if isinstance(values, np.ndarray) and values.ndim >= 1:
            values = tuple(values)
        if not isinstance(values, tuple) or len(values) != len(self.targets):
            raise Invalid("cannot unpack")
        env.update(zip(self.targets, values, strict=True))


@dataclass(eq=False)
class AugmentedAssign:
    """``name op= value``, in place on an array as Python does it."""

    target: str
    symbol: str
    value: Expr

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"{self.target} {self.symbol}= {self.value.text}"]

    def run(self, env: dict) -> None:
        value = self.value.run(env)
        env[self.target] = settle(guarded(IN_PLACE[self.symbol], env[self.target], value))


@dataclass(eq=False)
class Write:
    """``name[index] = value`` or ``name[index] op= value``."""

    target: str
    index: Index
    value: Expr
    symbol: str = ""

    def lines(self, indent: int) -> list[str]:
        return [
            "    " * indent + f"{self.target}[{self.index.text}] {self.symbol}= {self.value.text}"
        ]

    def run(self, env: dict) -> None:
        array, index, value = env[self.target], self.index.run(env), self.value.run(env)
        if self.symbol:
            value = guarded(IN_PLACE[self.symbol], guarded(operator.getitem, array, index), value)
        guarded(operator.setitem, array, index, value)
        settle(array)


@dataclass(eq=False)
class Append:
    """``name.append(value)`` onto a list the function made."""

    target: str
    value: Expr

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"{self.target}.append({self.value.text})"]

    def run(self, env: dict) -> None:
        env[self.target].append(self.value.run(env))


@dataclass(eq=False)
class If:
    """``if test: body else: orelse`` (``elif`` for a lone nested if)."""

    test: Expr
    body: list
    orelse: list

    def lines(self, indent: int, keyword: str = "if") -> list[str]:
        pad = "    " * indent
        lines = [f"{pad}{keyword} {self.test.text}:", *render_block(self.body, indent + 1)]
        if len(self.orelse) == 1 and isinstance(self.orelse[0], If):
            return lines + self.orelse[0].lines(indent, "elif")
        if self.orelse:
            lines += [f"{pad}else:", *render_block(self.orelse, indent + 1)]
        return lines

    def run(self, env: dict) -> None:
        taken = self.test.run(env)
        run_block(self.body if taken else self.orelse, env)


@dataclass(eq=False)
class For:
    """``for target in range(*bounds): body``."""

    target: str
    bounds: list[Expr]  # the arguments of range
    body: list

    def lines(self, indent: int) -> list[str]:
        bounds = ", ".join(bound.text for bound in self.bounds)
        header = "    " * indent + f"for {self.target} in range({bounds}):"
        return [header, *render_block(self.body, indent + 1)]

    def run(self, env: dict) -> None:
        for value in range(*[bound.run(env) for bound in self.bounds]):
            env[self.target] = value
            try:
                run_block(self.body, env)
            except ContinueSignal:
                continue
            except BreakSignal:
                break


@dataclass(eq=False)
class ForEach:
    """``for item in values:`` over the first axis of an array or over a list (or over
    ``enumerate``, ``zip`` or ``reversed`` of them, with two targets for the first two)."""

    targets: list[str]
    iterable: Expr
    body: list

    def lines(self, indent: int) -> list[str]:
        header = "    " * indent + f"for {', '.join(self.targets)} in {self.iterable.text}:"
        return [header, *render_block(self.body, indent + 1)]

    def run(self, env: dict) -> None:
        for value in self.iterable.run(env):
            if len(self.targets) == 1:
                env[self.targets[0]] = value
            else:
                env.update(zip(self.targets, value, strict=True))
            run_block(self.body, env)


@dataclass(eq=False)
class While:
    """``while test: body``, at most 50 steps."""

    test: Expr
    body: list

    def lines(self, indent: int) -> list[str]:
        header = "    " * indent + f"while {self.test.text}:"
        return [header, *render_block(self.body, indent + 1)]

    def run(self, env: dict) -> None:
        for _ in range(50):
            if not self.test.run(env):
                return
            try:
                run_block(self.body, env)
            except ContinueSignal:
                continue
            except BreakSignal:
                return
        raise Invalid("a while loop runs too long")


@dataclass(eq=False)
class Jump:
    """``break`` or ``continue``."""

    word: str  # "break" or "continue"

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + self.word]

    def run(self, env: dict) -> None:
        raise BreakSignal() if self.word == "break" else ContinueSignal()


@dataclass(eq=False)
class Return:
    """``return value``."""

    value: Expr

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"return {self.value.text}"]

    def run(self, env: dict) -> None:
        raise ReturnSignal(self.value.run(env))


@dataclass(eq=False)
class Function:
    """A generated function: the one differentiated, or a helper it calls."""

    name: str
    parameters: list[str]
    body: list = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)  # parameter -> constant's text

    def lines(self) -> list[str]:
        parameters = [
            p + (f"={self.defaults[p]}" if p in self.defaults else "") for p in self.parameters
        ]
        return [f"def {self.name}({', '.join(parameters)}):", *render_block(self.body, 1)]

    def call(self, values: list) -> Any:
        given = dict(zip(self.parameters, values, strict=False))
        env = {p: ast.literal_eval(text) for p, text in self.defaults.items()} | given
        if len(env) != len(self.parameters):
            raise Invalid(f"{self.name} called with {len(values)} arguments")
        try:
            run_block(self.body, env)
        except ReturnSignal as returned:
            return returned.value
        except (BreakSignal, ContinueSignal):
            raise Invalid("break outside a loop") from None
        raise Invalid(f"{self.name} does not return")


@dataclass(frozen=True, eq=False)
class Index:
    """What goes between the brackets of a subscript."""

    text: str
    run: Callable[[dict], Any]


@functools.lru_cache(maxsize=512)
def constant_index(text: str) -> Index:
    """An index that is a constant (``1:, 0``, ``[0, 2]``, ``None``), parsed once."""
    value = eval(f"_[{text}]", {"_": _IndexReader(), "np": np})
    return Index(text, lambda env: copy.copy(value))


class _IndexReader:
    def __getitem__(self, index: Any) -> Any:
        return index


# ---------------------------------------------------------------------------------------------
# Domains: where a function of one argument is smooth, with a margin
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """Values ``x`` with ``low <= x <= high``, at least ``clearance`` from each point of
    ``away``, and (with ``grid``) at least MARGIN from every ``offset + k * step``."""

    low: float | None = None
    high: float | None = None
    away: tuple[float, ...] = ()
    clearance: float = MARGIN
    grid: tuple[float, float] | None = None

    def holds(self, value: Any) -> bool:
        if kind_of(value) != "num":
            return False
        x = np.asarray(value, dtype=float)
        if self.low is not None and not np.all(x >= self.low):
            return False
        if self.high is not None and not np.all(x <= self.high):
            return False
        if any(np.any(np.abs(x - point) < self.clearance) for point in self.away):
            return False
        if self.grid is not None:
            step, offset = self.grid
            position = np.mod((x - offset) / step, 1.0)
            if np.any(position < MARGIN / step) or np.any(position > 1 - MARGIN / step):
                return False
        return True


ANYWHERE = Domain()
POSITIVE = Domain(low=0.2)
NONZERO = Domain(away=(0.0,), clearance=0.2)


def gaps_ok(value: Any, axis: Any, lowest: bool = True, highest: bool = True) -> bool:
    """Whether the largest and smallest elements along ``axis`` (all axes for None) are each at
    least MARGIN from the next: no ties for max, min, argmax, ..."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return True
    if axis is None:
        groups = a.reshape(1, -1)
    else:
        axes = tuple(sorted(np.lib.array_utils.normalize_axis_tuple(axis, a.ndim)))
        moved = np.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
        count = int(np.prod([a.shape[i] for i in axes]))
        groups = moved.reshape(-1, count)
    if groups.shape[1] < 2:
        return True
    ordered = np.sort(groups, axis=1)
    ok = True
    if highest:
        ok = ok and bool(np.all(ordered[:, -1] - ordered[:, -2] >= MARGIN))
    if lowest:
        ok = ok and bool(np.all(ordered[:, 1] - ordered[:, 0] >= MARGIN))
    return ok


def all_gaps_ok(value: Any, axis: Any) -> bool:
    """Whether all elements along ``axis`` are at least MARGIN apart (for sort and argsort)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return True
    if axis is None:
        a, axis = a.reshape(-1), 0
    ordered = np.sort(a, axis=axis)
    return bool(np.all(np.diff(ordered, axis=axis) >= MARGIN))


def apart(a: Any, b: Any) -> bool:
    """Whether a and b (broadcast) differ by at least MARGIN everywhere."""
    try:
        return bool(np.all(np.abs(np.asarray(a, float) - np.asarray(b, float)) >= MARGIN))
    except (TypeError, ValueError):
        return False


def is_num(value: Any) -> bool:
    """A float or an array of floats."""
    return kind_of(value) == "num"


def is_scalar(value: Any) -> bool:
    """A float, a NumPy float or a 0-d array of floats."""
    return is_num(value) and np.ndim(value) == 0


def is_array(value: Any) -> bool:
    """A NumPy array or scalar of floats: something with array methods."""
    return isinstance(value, np.ndarray | np.floating) and is_num(value)


def has_shape(shape: tuple) -> Callable[[Any], bool]:
    """Values of floats of exactly this shape."""
    return lambda value: is_num(value) and np.shape(value) == shape


def broadcasts_to(shape: tuple) -> Callable[[Any], bool]:
    """Values of floats that broadcast to this shape."""

    def accept(value: Any) -> bool:
        if not is_num(value):
            return False
        try:
            return np.broadcast_shapes(np.shape(value), shape) == shape
        except ValueError:
            return False

    return accept


def broadcasts_with(value: Any) -> Callable[[Any], bool]:
    """Values of floats that broadcast with ``value`` into a small enough array."""

    def accept(other: Any) -> bool:
        if not is_num(other):
            return False
        try:
            shape = np.broadcast_shapes(np.shape(value), np.shape(other))
        except ValueError:
            return False
        return int(np.prod(shape)) <= MAX_SIZE and len(shape) <= MAX_NDIM

    return accept


def both(first: Callable | None, second: Callable) -> Callable:
    """Values both predicates accept (``first`` may be None)."""
    if first is None:
        return second
    return lambda value: first(value) and second(value)


def nice(value: float, step: float = 0.1) -> float:
    """``value`` rounded to a multiple of ``step``, as a short decimal."""
    return round(round(value / step) * step, 6)


def float_text(value: float) -> str:
    """The shortest text of a float that reads back as it (``0.3``, ``-2.0``)."""
    return repr(float(value))


# Constants the programs use as operands: numerators, denominators, exponents, shifts.
CONSTANTS = ("1.0", "2.0", "0.5", "2", "3", "1", "0.0", "-0.0", "-1.0", "1.5", "0.1", "10.0")
CONSTANTS += ("0.25", "-2.0", "4.0", "0.3", "-0.5")
EXPONENTS = ("2", "2.0", "3", "0.5", "1.0", "1", "-1.0", "-2", "1.5", "0", "0.0", "-0.5", "3.0")
BASES = ("2.0", "0.5", "3.0", "1.5", "2", "0.9")


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A generated program: module source (helpers, then ``f``), arguments, and which of them
    are differentiated. ``expected`` is f's value as the generator computed it."""

    source: str
    args: tuple
    wrt: tuple[int, ...]
    expected: float = math.nan
    seed: int = -1
    index: int = -1
    primitives: tuple[str, ...] = ()
    maker_errors: tuple[str, ...] = ()  # makers that raised while generating (bugs here)


@dataclass
class State:
    """What the generator knows at one point of the program: concrete values of the names,
    which names expressions may read, and how often each was read."""

    env: dict
    scope: list[str]
    uses: dict[str, int]
    loop_bounds: dict[str, int | None]  # loop variable -> its largest value (None: not an int)
    frozen: set[str]  # names no expression may read (arrays being written, lists, ...)


MakerFunction = Callable[["Generator", Any, int, Callable | None], "Expr | None"]


@dataclass(frozen=True)
class Maker:
    """How to generate calls of one primitive: the kind of value they give and the function."""

    kind: str
    make: MakerFunction
    weight: float = 1.0


class Generator:
    """Generates one program from ``rng``, drawing primitives from ``plan``."""

    def __init__(self, rng: np.random.Generator, plan: dict[str, list[tuple[Any, Maker]]]):
        self.rng = rng
        self.plan = plan
        self.cumulative = {
            kind: np.cumsum([maker.weight for _, maker in entries])
            for kind, entries in plan.items()
        }
        self.state = State({}, [], {}, {}, set())
        self.counter = Counter()
        self.helpers: list[Function] = []
        self.callable_helpers: list[Function] = []
        self.helper_results: dict[str, int] = {}
        self.helper_shapes: dict[str, list[tuple]] = {}
        self.in_helper = False
        self.returned = False  # f has returned (from inside a loop) at the arguments
        self.used: Counter = Counter()
        self.maker_errors: Counter = Counter()
        self.effort = 0

    # -- randomness -------------------------------------------------------------------------

    def chance(self, probability: float) -> bool:
        return bool(self.rng.random() < probability)

    def pick(self, options: Any) -> Any:
        options = list(options)
        return options[int(self.rng.integers(len(options)))]

    def weighted(self, options: dict) -> Any:
        keys = list(options)
        weights = np.array([options[key] for key in keys], dtype=float)
        return keys[int(self.rng.choice(len(keys), p=weights / weights.sum()))]

    def fresh(self, prefix: str) -> str:
        self.counter[prefix] += 1
        return f"{prefix}{self.counter[prefix]}"

    # -- state ------------------------------------------------------------------------------

    def snapshot(self) -> tuple:
        s = self.state
        return (
            State(
                copy.deepcopy(s.env),
                list(s.scope),
                dict(s.uses),
                dict(s.loop_bounds),
                set(s.frozen),
            ),
            Counter(self.counter),
            len(self.helpers),
            len(self.callable_helpers),
            Counter(self.used),
        )

    def rewind(self, saved: tuple) -> None:
        """Back to the values and names of ``saved``, keeping the helpers made since (a loop's
        body is generated at its first step, then the whole loop run from its start)."""
        state = saved[0]
        self.state = State(
            copy.deepcopy(state.env),
            list(state.scope),
            dict(state.uses),
            dict(state.loop_bounds),
            set(state.frozen),
        )

    def restore(self, saved: tuple) -> None:
        """Back to ``saved`` entirely: a statement that failed leaves nothing behind."""
        state, counter, helpers, callable_helpers, used = saved
        self.used = Counter(used)
        self.state = State(
            copy.deepcopy(state.env),
            list(state.scope),
            dict(state.uses),
            dict(state.loop_bounds),
            set(state.frozen),
        )
        self.counter = Counter(counter)
        for helper in self.helpers[helpers:]:
            self.helper_results.pop(helper.name, None)
            self.helper_shapes.pop(helper.name, None)
        del self.helpers[helpers:]
        del self.callable_helpers[callable_helpers:]

    @property
    def env(self) -> dict:
        return self.state.env

    def execute(self, statement: Any) -> Any:
        statement.run(self.env)
        return statement

    def declare(self, name: str) -> None:
        if name not in self.state.scope:
            self.state.scope.append(name)
        self.state.uses.setdefault(name, 0)

    def readable(self, kind: str | None = None, want: Callable | None = None) -> list[str]:
        names = []
        for name in self.state.scope:
            if name in self.state.frozen or name not in self.env:
                continue
            value = self.env[name]
            if kind is not None and kind_of(value) != kind:
                continue
            if want is not None and not want(value):
                continue
            names.append(name)
        return names

    # -- building expressions ---------------------------------------------------------------

    def node(self, text: str, run: Callable, precedence: int = ATOM) -> Expr:
        self.effort += 1
        if self.effort > 20000:
            raise GenerationExhausted()
        return Expr(text, run, run(self.env), precedence)

    def var(self, name: str) -> Expr:
        self.state.uses[name] = self.state.uses.get(name, 0) + 1
        return self.node(name, read(name))

    def const(self, text: str) -> Expr:
        value = ast.literal_eval(text)
        return self.node(text, lambda env: value, UNARY if text.startswith("-") else ATOM)

    def number(self, value: float, step: float = 0.1) -> Expr:
        return self.const(float_text(nice(value, step)))

    def integer(self, value: int) -> Expr:
        return self.const(str(int(value)))

    def call(
        self,
        callee: str,
        function: Callable,
        args: list[Expr],
        keywords: list[tuple[str, Expr]] = (),
        check: Callable | None = None,
    ) -> Expr:
        parts = [a.text for a in args] + [f"{k}={v.text}" for k, v in keywords]
        return self.node(f"{callee}({', '.join(parts)})", compute(function, args, keywords, check))

    def method(
        self,
        receiver: Expr,
        name: str,
        args: list[Expr] = (),
        keywords: list[tuple[str, Expr]] = (),
        check: Callable | None = None,
    ) -> Expr:
        parts = [a.text for a in args] + [f"{k}={v.text}" for k, v in keywords]
        text = f"{receiver.wrapped(ATOM)}.{name}({', '.join(parts)})"

        def bound(target: Any, *values: Any, **named: Any) -> Any:
            if not isinstance(target, np.ndarray | np.generic):
                raise Invalid(f"no method {name}")
            return getattr(target, name)(*values, **named)

        def checked(result: Any, target: Any, *values: Any, **named: Any) -> bool:
            return check is None or check(result, target, *values, **named)

        return self.node(text, compute(bound, [receiver, *args], keywords, checked))

    def attribute(self, receiver: Expr, name: str) -> Expr:
        def get(target: Any) -> Any:
            if not isinstance(target, np.ndarray | np.generic):
                raise Invalid(f"no attribute {name}")
            return getattr(target, name)

        return self.node(f"{receiver.wrapped(ATOM)}.{name}", compute(get, [receiver]))

    def binop(self, symbol: str, left: Expr, right: Expr, check: Callable | None = None) -> Expr:
        function, precedence = BINARY_OPERATORS[symbol]
        if symbol == "**":
            text = f"{left.wrapped(POWER + 1)} ** {right.wrapped(UNARY)}"
        else:
            text = f"{left.wrapped(precedence)} {symbol} {right.wrapped(precedence + 1)}"
        return self.node(text, compute(function, [left, right], (), check), precedence)

    def unary(self, symbol: str, operand: Expr) -> Expr:
        function = {"-": operator.neg, "+": operator.pos, "~": operator.invert}[symbol]
        return self.node(f"{symbol}{operand.wrapped(UNARY)}", compute(function, [operand]), UNARY)

    def compare(self, symbol: str, left: Expr, right: Expr) -> Expr:
        """``left symbol right``, refused unless every element is decided with a margin (exact
        comparisons of integers need none)."""

        def decided(result: Any, a: Any, b: Any) -> bool:
            if kind_of(a) in ("int", "bool") and kind_of(b) in ("int", "bool"):
                return True
            return apart(a, b)

        text = f"{left.wrapped(COMPARE + 1)} {symbol} {right.wrapped(COMPARE + 1)}"
        return self.node(text, compute(COMPARISONS[symbol], [left, right], (), decided), COMPARE)

    def logical(self, word: str, left: Expr, right: Expr) -> Expr:
        precedence = AND if word == "and" else OR
        left_run, right_run = left.run, right.run

        def run(env: dict) -> Any:
            first = left_run(env)
            if (word == "and") != bool(first):
                return first
            return right_run(env)

        text = f"{left.wrapped(precedence)} {word} {right.wrapped(precedence + 1)}"
        return self.node(text, run, precedence)

    def negation(self, operand: Expr) -> Expr:
        return self.node(f"not {operand.wrapped(NOT)}", compute(operator.not_, [operand]), NOT)

    def conditional(self, body: Expr, test: Expr, orelse: Expr) -> Expr:
        body_run, test_run, orelse_run = body.run, test.run, orelse.run

        def run(env: dict) -> Any:
            return body_run(env) if test_run(env) else orelse_run(env)

        text = f"{body.wrapped(OR)} if {test.wrapped(OR)} else {orelse.wrapped(CONDITIONAL)}"
        return self.node(text, run, CONDITIONAL)

    def display(self, items: list[Expr], brackets: str = "[]") -> Expr:
        runs = [item.run for item in items]
        text = ", ".join(item.text for item in items)
        if brackets == "()":
            text += "," if len(items) == 1 else ""
            return self.node(f"({text})", lambda env: tuple(r(env) for r in runs))
        return self.node(f"[{text}]", lambda env: [r(env) for r in runs])

    def subscript(self, value: Expr, index: Index) -> Expr:
        index_run = index.run
        run = compute(lambda v, i: v[i], [value, Expr(index.text, index_run, None)])
        return self.node(f"{value.wrapped(ATOM)}[{index.text}]", run)

    # -- choosing operands ------------------------------------------------------------------

    def operand(self, depth: int, want: Callable | None = None, kind: str = "num") -> Expr | None:
        """An operand at nesting ``depth``: a name, a constant or a nested operation."""
        nest = depth < MAX_DEPTH and self.chance(NEST[depth])
        if nest:
            expression = self.expression(depth + 1, want, kind)
            if expression is not None:
                return expression
        expression = self.leaf(want, kind)
        if expression is None and not nest and depth < MAX_DEPTH:
            # No name fits: an operation rarely makes what none of the names is; try twice.
            expression = self.expression(depth + 1, want, kind, tries=2)
        return expression

    def leaf(self, want: Callable | None = None, kind: str = "num") -> Expr | None:
        names = self.readable(kind, want)
        if not names and kind == "int" and self.chance(0.8):
            value = int(self.rng.integers(0, 4))
            if want is None or want(value):
                return self.integer(value)
        if not names:
            return self.adapted(want, kind)
        weights = np.array(
            [
                (4.0 if self.state.uses.get(n, 0) == 0 else 1.0) * (1 + i)
                for i, n in enumerate(names)
            ]
        )
        return self.var(names[int(self.rng.choice(len(names), p=weights / weights.sum()))])

    def adapted(self, want: Callable | None, kind: str) -> Expr | None:
        """A leaf made from a name that does not fit as it is: an element of a list or tuple, a
        transpose, a row, a sum over an axis (values tried first, the expression built once)."""
        options: list[tuple[Any, Callable[[], Expr]]] = []
        for name in self.readable():
            value = self.env[name]
            if isinstance(value, list) and value:
                for k in ("-1", "0"):
                    options.append((value[int(k)], lambda n=name, k=k: self.element(n, k)))
            elif isinstance(value, tuple):
                for k in range(len(value)):
                    options.append((value[k], lambda n=name, k=k: self.element(n, str(k))))
            elif kind == "num" and isinstance(value, np.ndarray) and value.ndim and value.size:
                options += [
                    (value.T, lambda n=name: self.attribute(self.var(n), "T")),
                    (value[0], lambda n=name: self.element(n, "0")),
                    (value.ravel(), lambda n=name: self.method(self.var(n), "ravel")),
                    (
                        np.sum(value, axis=0),
                        lambda n=name: self.call(
                            "np.sum", np.sum, [self.var(n)], [("axis", self.integer(0))]
                        ),
                    ),
                ]
                if value.ndim >= 2:
                    options.append((value[:, 0], lambda n=name: self.element(n, ":, 0")))
        fitting = [
            build
            for value, build in options
            if kind_of(value) == kind and (not want or want(value))
        ]
        if not fitting:
            return None
        try:
            return self.pick(fitting)()
        except Invalid:
            return None

    def element(self, name: str, index: str) -> Expr:
        return self.subscript(self.var(name), constant_index(index))

    def expression(
        self, depth: int = 0, want: Callable | None = None, kind: str = "num", tries: int = 6
    ) -> Expr | None:
        """A call of a primitive from the plan (or a composite pattern) giving a ``kind``."""
        entries = self.plan.get(kind, [])
        if not entries:
            return None
        cumulative = self.cumulative[kind]
        for _ in range(tries):
            chosen = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], "right"))
            primal, maker = entries[min(chosen, len(entries) - 1)]
            try:
                expression = maker.make(self, primal, depth, want)
            except GenerationExhausted:
                raise
            except Invalid:
                continue
            except Exception:
                # A bug of this module's maker: counted, and shown by --debug.
                self.maker_errors[name_of(primal)] += 1
                if DEBUG:
                    raise
                continue
            if expression is None or kind_of(expression.value) != kind:
                continue
            if np.ndim(expression.value) > MAX_NDIM or (want and not want(expression.value)):
                continue
            self.used[primal] += 1
            return expression
        return None

    def fit(
        self, expression: Expr | None, domain: Domain, accept: Callable | None = None
    ) -> Expr | None:
        """``expression``, moved into ``domain`` (or to values ``accept`` accepts) if it is not
        there: shifted, scaled or squashed by constants chosen from its value."""
        accept = accept or domain.holds
        if expression is None or accept(expression.value):
            return expression
        if not is_num(expression.value):
            return None
        x = np.asarray(expression.value, dtype=float)
        candidates: list[Callable[[], Expr]] = []
        e = expression
        if domain.low is not None:
            shift = max(domain.low - float(x.min()) + 0.1 + 0.4 * self.rng.random(), 0.1)
            candidates.append(lambda: self.binop("+", e, self.number(shift + 0.05, 0.1)))
            candidates.append(lambda: self.binop("+", self.number(shift + 0.05, 0.1), e))
            floor = max(domain.low, 0.0) + 0.3
            candidates.append(
                lambda: self.binop("+", self.binop("*", e, e), self.number(floor + 0.05))
            )
        if domain.high is not None:
            shift = float(x.max()) - domain.high + 0.1 + 0.4 * self.rng.random()
            candidates.append(lambda: self.binop("-", e, self.number(shift + 0.05, 0.1)))
        if domain.low is not None and domain.high is not None:
            half = (domain.high - domain.low) / 2 * 0.9
            middle = (domain.high + domain.low) / 2

            def squashed() -> Expr:
                tanh = self.call("np.tanh", np.tanh, [e])
                return self.binop("*", tanh, self.number(half - 0.05, 0.1))

            candidates.append(
                squashed
                if abs(middle) < 0.05
                else lambda: self.binop("+", squashed(), self.number(middle, 0.1))
            )
            scale = min(domain.high, -domain.low) / max(float(np.abs(x).max()), 1e-3)
            if scale > 0.05:
                candidates.append(lambda: self.binop("*", e, self.number(scale - 0.05, 0.1)))
        for shift in (0.5, -0.5, 1.0, -1.0, 0.3, 2.0, -0.3):
            candidates.append(lambda c=shift: self.binop("+", e, self.const(float_text(c))))
        for scale in (0.5, 0.1, 0.25):
            candidates.append(lambda c=scale: self.binop("*", e, self.const(float_text(c))))
        first = candidates[:2]
        rest = [candidates[k] for k in self.rng.permutation(len(candidates) - 2) + 2]
        for candidate in (first if self.chance(0.7) else []) + rest + first:
            try:
                fitted = candidate()
            except Invalid:
                continue
            if accept(fitted.value):
                return fitted
        return None

    def threshold(self, value: Any) -> Expr | None:
        """A constant at least 2 MARGIN from every element of ``value``."""
        x = np.unique(np.asarray(value, dtype=float).reshape(-1))
        if x.size == 0:
            return None
        points = [x[0] - 0.3 - self.rng.random(), x[-1] + 0.3 + self.rng.random()]
        points += [(a + b) / 2 for a, b in itertools.pairwise(x) if b - a >= 5 * MARGIN]
        self.rng.shuffle(points)
        for point in points:
            t = round(float(point), 2)
            if np.all(np.abs(x - t) >= 2 * MARGIN) and abs(t) <= LIMIT:
                return self.const(float_text(t))
        return None

    # -- conditions -------------------------------------------------------------------------

    def condition(self, depth: int = 1) -> Expr | None:
        """A scalar boolean decided with a margin: mostly a value against a threshold."""
        condition = None
        if self.chance(0.5):
            condition = self.expression(depth, lambda v: np.ndim(v) == 0, "bool")
        if condition is None:
            left = self.operand(depth, is_scalar)
            right = self.threshold(left.value) if left is not None else None
            if right is None:
                return None
            condition = self.compare(self.pick(("<", ">", "<=", ">=")), left, right)
        if self.chance(0.12):
            other = self.expression(depth, lambda v: np.ndim(v) == 0, "bool")
            if other is not None:
                condition = self.logical(self.pick(("and", "or")), condition, other)
        return condition

    # -- statements -------------------------------------------------------------------------

    def block(self, depth: int, count: int) -> list:
        statements = []
        for _ in range(count):
            if self.returned:
                break
            statements += self.statement(depth)
        return statements

    def statement(self, depth: int) -> list:
        kinds = {
            "assign": 5.0,
            "reassign": 1.5,
            "helper": 0.8 if not self.in_helper or self.callable_helpers else 0.0,
            "conditional": 0.4,
        }
        if depth == 0:
            kinds.update(augmented=0.5, buffer=0.6, list=0.6, softmax=0.4, unpack=0.4, stepper=0.4)
        if depth < 2:
            compound = 1.0 if depth == 0 else 0.2
            kinds.update({"if": 1.0 * compound, "for": 0.8 * compound, "while": 0.3 * compound})
        for _ in range(4):
            kind = self.weighted(kinds)
            saved = self.snapshot()
            try:
                return getattr(self, "make_" + kind.replace("-", "_"))(depth)
            except (Invalid, ReturnSignal):
                self.restore(saved)
        return []

    def assigned_value(self, depth: int, want: Callable | None = None) -> Expr:
        value = self.expression(0, want)
        if value is None:
            raise Invalid("no expression")
        return value

    def make_assign(self, depth: int) -> list:
        value = self.assigned_value(depth)
        name = self.fresh("v")
        statement = self.execute(Assign(name, value))
        self.declare(name)
        return [statement]

    def make_unpack(self, depth: int) -> list:
        """``a, b = v`` of an array of two or three rows (or a vector's elements)."""
        value = self.assigned_value(
            depth, lambda v: is_num(v) and np.ndim(v) >= 1 and np.shape(v)[0] in (2, 3)
        )
        names = [self.fresh("v") for _ in range(np.shape(value.value)[0])]
        statement = self.execute(Unpack(names, value))
        for name in names:
            self.declare(name)
        return [statement]

    def make_reassign(self, depth: int) -> list:
        names = [n for n in self.readable("num") if n not in self.state.loop_bounds]
        if not names:
            raise Invalid("nothing to reassign")
        name = self.pick(names)
        shape = np.shape(self.env[name])
        other = self.expression(0, broadcasts_to(shape))
        if other is None:
            raise Invalid("no expression")
        value = self.carried_update(name, other)
        if np.shape(value.value) != shape:
            raise Invalid("shape changed")
        return [self.execute(Assign(name, value))]

    def carried_update(self, name: str, other: Expr) -> Expr:
        """A new value for ``name`` from its old one and ``other``, moderate across steps."""
        old = self.var(name)
        form = self.pick(("scaled", "tanh", "sum", "product", "sin"))
        if form == "scaled":
            return self.binop(
                "+", self.binop("*", old, self.const(self.pick(("0.5", "0.8")))), other
            )
        if form == "tanh":
            return self.call("np.tanh", np.tanh, [self.binop("+", old, other)])
        if form == "sum":
            return self.binop(self.pick(("+", "-")), old, other)
        if form == "product":
            return self.binop("*", old, self.call("np.cos", np.cos, [other]))
        return self.binop("+", self.call("np.sin", np.sin, [old]), other)

    def make_augmented(self, depth: int) -> list:
        """v = a fresh arithmetic result; v op= e (in place on an array, which overbar allows
        only where v shares its memory with nothing)."""
        value = self.expression(0)
        if value is None or value.precedence not in (SUM, PRODUCT, POWER, UNARY):
            raise Invalid("an augmented assignment needs a fresh arithmetic result")
        name = self.fresh("v")
        statements = [self.execute(Assign(name, value))]
        symbol = self.pick(("+", "-", "*", "/"))
        other = self.expression(0, broadcasts_to(np.shape(value.value)))
        if other is None:
            raise Invalid("no expression")
        if symbol == "/":
            other = self.fit(other, NONZERO)
        if other is None:
            raise Invalid("no denominator")
        statements.append(self.execute(AugmentedAssign(name, symbol, other)))
        self.declare(name)
        return statements

    def make_conditional(self, depth: int) -> list:
        test = self.condition()
        body = self.expression(1)
        if test is None or body is None:
            raise Invalid("no condition")
        orelse = self.expression(1, has_shape(np.shape(body.value)))
        if orelse is None:
            raise Invalid("no alternative")
        name = self.fresh("v")
        statement = self.execute(Assign(name, self.conditional(body, test, orelse)))
        self.declare(name)
        return [statement]

    def make_if(self, depth: int) -> list:
        test = self.condition()
        if test is None:
            raise Invalid("no condition")
        statements = []
        # A name both branches update, so the branch matters after it.
        names = [n for n in self.readable("num") if n not in self.state.loop_bounds]
        if not names or self.chance(0.4):
            statements += self.make_assign(depth)
            names = [statements[-1].target]
        target = self.pick(names)
        before = self.snapshot()
        branches, counters = [], []
        for _ in range(2):
            # Both branches start from the same names, so a name both assign is the same one.
            self.rewind(before)
            self.counter = Counter(before[1])
            body = self.block(depth + 1, int(self.rng.integers(0, 2)))
            other = self.expression(1, broadcasts_to(np.shape(self.env[target])))
            if other is not None:
                update = self.carried_update(target, other)
                body.append(self.execute(Assign(target, update)))
            new = [n for n in self.state.scope if n not in before[0].scope]
            shapes = {n: layout(self.env[n]) for n in self.state.scope if n in self.env}
            branches.append((body, new, shapes))
            counters.append(Counter(self.counter))
        (body, new, shapes), (orelse, other_new, other_shapes) = branches
        self.rewind(before)
        self.counter = counters[0] | counters[1]
        for name in before[0].scope:
            if shapes.get(name) != other_shapes.get(name):
                raise Invalid("the branches leave a name with different shapes")
        if self.chance(0.5) and not orelse:
            orelse = []
        statement = self.execute(If(test, body, orelse if orelse or self.chance(0.3) else []))
        for name in new:
            if name in other_new and shapes.get(name) == other_shapes.get(name):
                self.declare(name)
        return [*statements, statement]

    def loop_count(self) -> tuple[list[Expr], int]:
        """The arguments of a range and the number of steps."""
        ints = [n for n in self.readable("int") if n not in self.state.loop_bounds]
        form = self.weighted({"constant": 6, "name": 2 if ints else 0, "len": 1, "start": 1})
        if form == "name":
            name = self.pick(ints)
            count = int(self.env[name])
            if not 0 <= count <= MOST_LOOP_STEPS:
                raise Invalid("too many steps")
            return [self.var(name)], count
        if form == "len":
            arrays = self.readable("num", lambda v: np.ndim(v) >= 1 and len(v) <= 4)
            if arrays:
                name = self.pick(arrays)
                return [self.call("len", len, [self.var(name)])], len(self.env[name])
        count = int(self.rng.integers(0, MOST_LOOP_STEPS + 1))
        if form == "start" and count >= 1:
            return [self.integer(1), self.integer(count + 1)], count
        return [self.integer(count)], count

    def make_for(self, depth: int) -> list:
        statements = []
        names = [n for n in self.readable("num") if n not in self.state.loop_bounds]
        if not names or self.chance(0.5):
            if self.chance(0.2):
                name = self.fresh("total")
                statements.append(self.execute(Assign(name, self.const("0.0"))))
                self.declare(name)
            else:
                statements += self.make_assign(depth)
                name = statements[-1].target
        else:
            name = self.pick(names)
        sequences = self.readable(None, lambda v: _iterable(v) and 1 <= len(v) <= 4)
        each = bool(sequences) and self.chance(0.25)
        if each:
            # for row in A: (over a list, enumerate, zip, reversed): overbar walks an index
            iterable, targets = self.iteration(sequences)
            bounds, count, index = [iterable], len(iterable.value), targets[-1]
        else:
            bounds, count = self.loop_count()
            index = self.fresh("i")
            targets = [index]
        before = self.snapshot()
        if each:
            first = iterable.value[0]
            self.env.update(zip(targets, first if len(targets) == 2 else [first], strict=True))
            if iterable.text.startswith("enumerate"):
                self.state.loop_bounds[targets[0]] = count - 1
        else:
            self.env[index] = bounds[0].value if len(bounds) == 2 else 0
            self.state.loop_bounds[index] = (
                count - 1 + (bounds[0].value if len(bounds) == 2 else 0)
            )
        for target in targets:
            self.declare(target)
            self.state.loop_bounds.setdefault(target, None)  # never assigned in the loop
        body = []
        if not each and self.chance(0.15):
            jump = self.make_jump(index)
            if jump is not None:
                body.append(jump)
        if not each and depth == 0 and not self.in_helper and self.chance(0.1):
            # A return inside the loop: overbar stores it, breaks out and returns after.
            test, value = self.condition(), self.scalar_result()
            if test is not None and value is not None:
                body.append(If(test, [Return(value)], []))
        body += self.block(depth + 1, int(self.rng.integers(0, 2)))
        if name in self.env:
            scalar_total = name.startswith("total")
            other = self.expression(
                1, is_scalar if scalar_total else broadcasts_to(np.shape(self.env[name]))
            )
            if other is not None:
                update = self.binop("+", self.var(name), other) if scalar_total else None
                update = update or self.carried_update(name, other)
                body.append(self.execute(Assign(name, update)))
        new = [n for n in self.state.scope if n not in before[0].scope and n not in targets]
        self.rewind(before)
        loop = ForEach(targets, bounds[0], body) if each else For(index, bounds, body)
        try:
            self.execute(loop)
        except ReturnSignal:
            self.returned = True  # the loop returns at these arguments: what follows is dead
        jumps = any(isinstance(s, Jump | Return) for s in _walk(body))
        if count >= 1 and not jumps:
            for name in new:
                if name in self.env:
                    self.declare(name)
        return [*statements, loop]

    def iteration(self, sequences: list[str]) -> tuple[Expr, list[str]]:
        """What a for loop walks, and its targets: a sequence (an array's first axis, a list),
        or enumerate, zip or reversed of sequences."""
        name = self.pick(sequences)
        length = len(self.env[name])
        partners = [n for n in sequences if n != name and len(self.env[n]) == length]
        form = self.weighted(
            {"plain": 4, "enumerate": 1, "zip": 1 if partners else 0, "reversed": 1}
        )
        sequence = self.var(name)
        if form == "plain":
            return sequence, [self.fresh("row")]
        if form == "reversed":
            items = self.node(f"reversed({name})", lambda env: list(reversed(env[name])))
            return items, [self.fresh("row")]
        if form == "enumerate":
            items = self.node(f"enumerate({name})", lambda env: list(enumerate(env[name])))
            return items, [self.fresh("j"), self.fresh("row")]
        other = self.pick(partners)
        self.var(other)
        items = self.node(
            f"zip({name}, {other})", lambda env: list(zip(env[name], env[other], strict=True))
        )
        return items, [self.fresh("a"), self.fresh("b")]

    def make_jump(self, index: str) -> If | None:
        """if i == c: break (or continue), or the same under a condition on a value."""
        word = self.pick(("break", "continue"))
        if self.chance(0.5):
            test = self.compare("==", self.var(index), self.integer(int(self.rng.integers(0, 3))))
        else:
            test = self.condition()
        if test is None:
            return None
        return If(test, [Jump(word)], [])

    def make_while(self, depth: int) -> list:
        statements = []
        names = [n for n in self.readable("num") if n not in self.state.loop_bounds]
        if not names or self.chance(0.4):
            statements += self.make_assign(depth)
            names = [statements[-1].target]
        name = self.pick(names)
        counter = self.fresh("k")
        statements.append(self.execute(Assign(counter, self.integer(0))))
        count = int(self.rng.integers(1, MOST_LOOP_STEPS + 1))
        test = self.compare("<", self.var(counter), self.integer(count))
        if self.chance(0.4):
            value = self.condition()
            if value is not None:
                test = self.logical("and", value, test)
        before = self.snapshot()
        self.state.loop_bounds[counter] = count
        body = self.block(depth + 1, int(self.rng.integers(0, 2)))
        other = self.expression(1, broadcasts_to(np.shape(self.env[name])))
        if other is not None:
            body.append(self.execute(Assign(name, self.carried_update(name, other))))
        body.append(
            self.execute(Assign(counter, self.binop("+", self.var(counter), self.integer(1))))
        )
        self.rewind(before)
        statements.append(self.execute(While(test, body)))
        return statements

    def make_buffer(self, depth: int) -> list:
        """An array made by the function, written into (in a loop or not), then read."""
        sources = self.readable("num", lambda v: isinstance(v, np.ndarray) and v.ndim >= 1)
        if not sources:
            raise Invalid("no array to shape a buffer on")
        like = self.pick(sources)
        shape = np.shape(self.env[like])
        name = self.fresh("buf")
        shape_text = str(shape[0]) if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
        form = self.pick(("zeros", "zeros", "zeros_like", "ones", "copy", "copy-method", "arith"))
        form = "empty_like" if self.chance(0.1) else form
        maker = {
            "zeros": lambda: self.call("np.zeros", np.zeros, [self.const(shape_text)]),
            "zeros_like": lambda: self.call("np.zeros_like", np.zeros_like, [self.var(like)]),
            "ones": lambda: self.call("np.ones", np.ones, [self.const(shape_text)]),
            "copy": lambda: self.call("np.copy", np.copy, [self.var(like)]),
            "copy-method": lambda: self.method(self.var(like), "copy"),
            "arith": lambda: self.binop("*", self.var(like), self.const("1.0")),
            "empty_like": lambda: self.call("np.empty_like", np.empty_like, [self.var(like)]),
        }[form]
        statements = [self.execute(Assign(name, maker()))]
        self.state.frozen.add(name)
        if form == "empty_like":
            value = self.expression(1, broadcasts_to(shape))
            if value is None:
                raise Invalid("nothing to fill the buffer with")
            statements.append(self.execute(Write(name, constant_index(":"), value)))
        if self.chance(0.5) and shape[0] >= 2:
            bounds, count = self.loop_count()
            if count > shape[0]:
                raise Invalid("the loop would write past the end")
            index = self.fresh("i")
            before = self.snapshot()
            self.env[index] = bounds[0].value if len(bounds) == 2 else 0
            self.declare(index)
            self.state.loop_bounds[index] = (
                count - 1 + (bounds[0].value if len(bounds) == 2 else 0)
            )
            if self.state.loop_bounds[index] >= shape[0]:
                raise Invalid("the loop would write past the end")
            region = np.shape(self.env[name][0])
            value = self.expression(1, broadcasts_to(region))
            if value is None:
                raise Invalid("nothing to write")
            if self.chance(0.6):
                previous = self.subscript(
                    self.var(name), Index(f"{index} - 1", lambda env, i=index: env[i] - 1)
                )
                value = self.binop("+", self.binop("*", previous, self.const("0.5")), value)
            target = Index(index, read(index))
            write = self.execute(Write(name, target, value, self.pick(("", "", "+"))))
            self.rewind(before)
            statements.append(self.execute(For(index, bounds, [write])))
        else:
            for _ in range(int(self.rng.integers(1, 3))):
                index = self.write_index(shape)
                region = np.shape(self.env[name][index.run(self.env)])
                value = self.expression(1, broadcasts_to(region))
                if value is None:
                    raise Invalid("nothing to write")
                symbol = self.pick(("", "", "", "+", "*"))
                statements.append(self.execute(Write(name, index, value, symbol)))
        self.state.frozen.discard(name)
        self.declare(name)
        return statements

    def make_stepper(self, depth: int) -> list:
        """A state stepped by a stencil in a loop, as explicit time steppers are written: each
        step writes the interior ``[1:-1]`` of a new array, made by ``s.copy()``, by
        ``np.zeros_like(s)`` with the ends copied in, or joined from the ends and the new
        interior by ``np.concatenate``; or the state (a fresh array) is written in place."""
        sources = self.readable(
            "num", lambda v: isinstance(v, np.ndarray) and v.ndim in (1, 2) and len(v) >= 3
        )
        if not sources:
            raise Invalid("no array to step")
        state = self.fresh("s")
        statements = [
            self.execute(
                Assign(state, self.binop("*", self.var(self.pick(sources)), self.const("1.0")))
            )
        ]
        self.declare(state)
        scale = self.expression(1, is_scalar)
        coefficient = self.const(self.pick(("0.2", "-0.1", "0.25")))
        if scale is not None and self.chance(0.6):
            tanh = self.call("np.tanh", np.tanh, [scale])
            coefficient = self.binop("*", coefficient, tanh)
        bounds, count = self.loop_count()
        index = self.fresh("i")
        before = self.snapshot()
        self.env[index] = bounds[0].value if len(bounds) == 2 else 0
        self.declare(index)
        self.state.loop_bounds[index] = count - 1 + (bounds[0].value if len(bounds) == 2 else 0)
        form = self.pick(("copy", "zeros_like", "concatenate", "in_place"))

        def part(text: str) -> Expr:
            return self.subscript(self.var(state), constant_index(text))

        laplacian = self.binop(
            "+",
            self.binop("-", part("2:"), self.binop("*", self.const("2.0"), part("1:-1"))),
            part(":-2"),
        )
        old = part("1:-1") if self.chance(0.7) else self.call("np.sin", np.sin, [part("1:-1")])
        value = self.binop("+", old, self.binop("*", coefficient, laplacian))
        body: list = []
        if form == "in_place":
            body.append(self.execute(Write(state, constant_index("1:-1"), value)))
        elif form == "concatenate":
            interior = self.fresh("interior")
            body.append(self.execute(Assign(interior, value)))
            ends = [part(":1"), self.var(interior), part("-1:")]
            joined = self.node(
                "(" + ", ".join(e.text for e in ends) + ")",
                lambda env, ends=ends: tuple(e.run(env) for e in ends),
            )
            body.append(
                self.execute(Assign(state, self.call("np.concatenate", np.concatenate, [joined])))
            )
        else:
            new = self.fresh("s_new")
            if form == "copy":
                made = self.method(self.var(state), "copy")
            else:
                made = self.call("np.zeros_like", np.zeros_like, [self.var(state)])
            body.append(self.execute(Assign(new, made)))
            if form == "zeros_like":
                for end in ("0", "-1"):
                    body.append(self.execute(Write(new, constant_index(end), part(end))))
            body.append(self.execute(Write(new, constant_index("1:-1"), value)))
            body.append(self.execute(Assign(state, self.var(new))))
        self.rewind(before)
        statements.append(self.execute(For(index, bounds, body)))
        return statements

    def write_index(self, shape: tuple) -> Index:
        n = shape[0]
        options = [str(int(self.rng.integers(-n, n))), "1:", ":-1", "::2", f"{n - 1}"]
        if len(shape) >= 2:
            m = shape[1]
            k, j = int(self.rng.integers(n)), int(self.rng.integers(m))
            options += [f"{k}, {j}", f":, {j}", f"1:, :{max(m - 1, 1)}", f"{k}, :"]
            options.append(f"..., {int(self.rng.integers(shape[-1]))}")
        if n >= 3:
            options.append("[0, 2]")
        masks = self.readable("num", has_shape(shape))
        if masks and self.chance(0.2):
            mask = self.var(self.pick(masks))
            threshold = self.threshold(mask.value)
            if threshold is not None:
                comparison = self.compare(">", mask, threshold)
                return Index(comparison.text, comparison.run)
        return constant_index(self.pick(options))

    def make_list(self, depth: int) -> list:
        """A list grown by append in a loop (or a comprehension), then stacked or indexed."""
        name = self.fresh("hs")
        first = self.expression(1, lambda v: np.ndim(v) >= 1 or self.chance(0.5))
        if first is None:
            raise Invalid("no first element")
        shape = np.shape(first.value)
        statements = []
        bounds, count = self.loop_count()
        index = self.fresh("i")
        if self.chance(0.25):
            before = self.snapshot()
            self.env[index] = bounds[0].value if len(bounds) == 2 else 0
            self.declare(index)
            self.state.loop_bounds[index] = count
            item = self.expression(1, has_shape(shape))
            if item is None or index not in item.text:
                item = self.binop("*", first, self.var(index))
            self.rewind(before)
            bounds_text = ", ".join(b.text for b in bounds)
            item_run, bound_runs = item.run, [b.run for b in bounds]

            def comprehension(env: dict) -> list:
                inner = dict(env)
                items = []
                for value in range(*[r(env) for r in bound_runs]):
                    inner[index] = value
                    items.append(item_run(inner))
                return items

            value = self.node(f"[{item.text} for {index} in range({bounds_text})]", comprehension)
            statements.append(self.execute(Assign(name, value)))
        else:
            start = self.pick(("one", "one", "empty"))
            initial = self.display([first] if start == "one" else [])
            statements.append(self.execute(Assign(name, initial)))
            self.declare(name)
            before = self.snapshot()
            self.env[index] = bounds[0].value if len(bounds) == 2 else 0
            self.declare(index)
            self.state.loop_bounds[index] = count
            if start == "empty":
                self.env[name].append(first.value)
            body = self.block(depth + 1, int(self.rng.integers(0, 2)))
            self.state.frozen.add(name)
            last = self.subscript(self.var(name), constant_index("-1"))
            other = self.expression(1, has_shape(shape))
            if other is None:
                raise Invalid("nothing to append")
            body.append(self.execute(Append(name, self.carried_update_of(last, other))))
            self.rewind(before)
            statements.append(self.execute(For(index, bounds, body)))
        self.declare(name)
        self.state.frozen.discard(name)
        if not self.env[name]:
            raise Invalid("an empty list")
        consumers = ["np.stack", "np.stack", "sum", "last", "np.array", "first-last"]
        if len(shape) >= 1:
            consumers.append("np.concatenate")
        consumer = self.pick(consumers)
        hs = self.var(name)
        value = {
            "np.stack": lambda: self.call("np.stack", np.stack, [hs], self.stack_axis(shape)),
            "sum": lambda: self.call("sum", builtins.sum, [hs]),
            "last": lambda: self.binop(
                "*", self.subscript(hs, constant_index("-1")), self.const("1.0")
            ),
            "np.array": lambda: self.call("np.array", np.array, [hs]),
            "first-last": lambda: self.binop(
                "*",
                self.subscript(hs, constant_index("0")),
                self.subscript(self.var(name), constant_index("-1")),
            ),
            "np.concatenate": lambda: self.call("np.concatenate", np.concatenate, [hs]),
        }[consumer]()
        result = self.fresh("v")
        statements.append(self.execute(Assign(result, value)))
        self.declare(result)
        return statements

    def carried_update_of(self, old: Expr, other: Expr) -> Expr:
        form = self.pick(("tanh", "scaled", "sin"))
        if form == "tanh":
            return self.binop("+", self.call("np.tanh", np.tanh, [old]), other)
        if form == "scaled":
            return self.binop("+", self.binop("*", old, self.const("0.5")), other)
        return self.binop("*", self.call("np.sin", np.sin, [old]), other)

    def stack_axis(self, shape: tuple) -> list:
        if self.chance(0.6):
            return []
        return [("axis", self.integer(int(self.rng.integers(-len(shape) - 1, len(shape) + 1))))]

    def make_softmax(self, depth: int) -> list:
        """The stabilised softmax or log-sum-exp, over lines of their own."""
        a = self.operand(0, lambda v: is_array(v) and np.ndim(v) >= 1)
        if a is None:
            raise Invalid("no array")
        axis = int(self.rng.integers(-np.ndim(a.value), np.ndim(a.value)))
        kept = self.chance(0.65)  # else without keepdims, the axis put back by indexing
        keywords = [("axis", self.integer(axis))]
        keywords += [("keepdims", self.const("True"))] if kept else []
        m = self.fresh("m")
        statements = [
            self.execute(
                Assign(
                    m,
                    self.call("np.max", np.max, [a], keywords, lambda r, v, **k: gaps_ok(v, axis)),
                )
            )
        ]
        self.declare(m)
        ndim = np.ndim(a.value)
        restore = (lambda v: v) if kept else (lambda v: reduced(self, v, ndim, axis))
        shifted = self.binop("-", a, restore(self.var(m)))
        e = self.fresh("e")
        statements.append(self.execute(Assign(e, self.call("np.exp", np.exp, [shifted]))))
        self.declare(e)
        total = self.call("np.sum", np.sum, [self.var(e)], keywords)
        name = self.fresh("v")
        if self.chance(0.5):
            value = self.binop("/", self.var(e), restore(total))
        elif kept or self.chance(0.5):
            value = self.binop("+", self.var(m), self.call("np.log", np.log, [total]))
        else:  # a log-softmax: the shifted values less the log of their total
            logarithm = restore(self.call("np.log", np.log, [total]))
            value = self.binop("-", shifted, logarithm)
        statements.append(self.execute(Assign(name, value)))
        self.declare(name)
        return statements

    def make_helper(self, depth: int) -> list:
        returns = self.pick((1, 2, 2))
        call = self.helper_call(depth, returns)
        if call is None:
            raise Invalid("no helper")
        if returns == 1:
            name = self.fresh("v")
            statement = self.execute(Assign(name, call))
            self.declare(name)
            return [statement]
        if self.chance(0.6):
            names = [self.fresh("v"), self.fresh("v")]
            statement = self.execute(Unpack(names, call))
        else:
            names = [self.fresh("t")]
            statement = self.execute(Assign(names[0], call))
        for name in names:
            self.declare(name)
        return [statement]

    def helper_call(self, depth: int, returns: int) -> Expr | None:
        """A call of a helper returning ``returns`` values: an existing one, or a new one."""
        existing = [h for h in self.callable_helpers if self.helper_results[h.name] == returns]
        if existing and (self.in_helper or self.chance(0.5)):
            helper = self.pick(existing)
            args = []
            for shape in self.helper_shapes[helper.name]:
                arg = self.operand(depth + 1, has_shape(shape))
                if arg is None:
                    return None
                args.append(arg)
            return self.helper_call_expression(helper, args)
        if self.in_helper or len(self.helpers) >= 2:
            return None
        args = [
            self.operand(depth + 1, lambda v: is_num(v))
            for _ in range(int(self.rng.integers(1, 4)))
        ]
        if any(a is None for a in args):
            return None
        helper = self.new_helper([a.value for a in args], returns)
        return self.helper_call_expression(helper, args)

    def helper_call_expression(self, helper: Function, args: list[Expr]) -> Expr:
        """helper(a, b), or helper(a, p1=b): the last argument by keyword, sometimes."""
        runs = [a.run for a in args]
        texts = [a.text for a in args]
        if texts and self.chance(0.2):
            texts[-1] = f"{helper.parameters[len(texts) - 1]}={texts[-1]}"
        text = f"{helper.name}({', '.join(texts)})"
        return self.node(text, lambda env: helper.call([r(env) for r in runs]))

    def new_helper(self, values: list, returns: int) -> Function:
        name = f"{'pair' if returns == 2 else 'helper'}{len(self.helpers) + 1}"
        parameters = [f"p{k}" for k in range(len(values))]
        defaults = {}
        if self.chance(0.15):
            # A parameter with a default the calls leave out.
            defaults[f"p{len(values)}"] = self.pick(("0.5", "2.0", "1.0", "3"))
            parameters.append(f"p{len(values)}")
        outer = (self.state, self.in_helper)
        env = dict(zip(parameters, copy.deepcopy(values), strict=False))
        env.update({p: ast.literal_eval(text) for p, text in defaults.items()})
        self.state = State(env, list(parameters), {}, {}, set())
        self.in_helper = True
        try:
            body = self.block(1, int(self.rng.integers(0, 2)))
            results = [self.expression(0) for _ in range(returns)]
            if any(r is None for r in results):
                raise Invalid("no result")
            if returns == 1 and self.chance(0.15) and is_array(results[0].value):
                results = [self.attribute(results[0], "T")]
            value = results[0] if returns == 1 else self.display(results, "()")
            if returns == 2 and self.chance(0.5):
                value = Expr(value.text[1:-1], value.run, value.value, CONDITIONAL)
            body.append(Return(value))
        finally:
            self.state, self.in_helper = outer
        helper = Function(name, parameters, body, defaults)
        self.helpers.append(helper)
        self.callable_helpers.append(helper)
        self.helper_results[name] = returns
        self.helper_shapes[name] = [np.shape(v) for v in values]
        return helper

    # -- the program ------------------------------------------------------------------------

    def arguments(self) -> tuple[list[str], list]:
        m, n = (int(v) for v in self.rng.choice([2, 3, 4], size=2, replace=self.chance(0.3)))
        shapes = {
            "float": None,
            "zero-d": (),
            "vector": (n,),
            "row": (1, n),
            "column": (m, 1),
            "matrix": (m, n),
            "tensor": (2, m, n),
        }
        weights = {"float": 2, "zero-d": 1, "vector": 3, "row": 1.2, "column": 1.2}
        weights.update(matrix=3, tensor=0.4)
        prefixes = {"float": "s", "zero-d": "z", "vector": "x", "row": "r", "column": "c"}
        prefixes.update(matrix="A", tensor="T")
        names, values = [], []
        for _ in range(int(self.rng.integers(1, 5))):
            kind = self.weighted(weights)
            names.append(self.fresh(prefixes[kind]))
            low, high = (0.3, 2.0) if self.chance(0.3) else (-1.5, 1.5)
            shape = shapes[kind]
            if shape is None:
                values.append(round(float(self.rng.uniform(low, high)), 3))
            else:
                values.append(np.asarray(np.round(self.rng.uniform(low, high, shape), 3)))
        if self.chance(0.15):
            names.append("n")
            values.append(int(self.rng.integers(2, 4)))
        return names, values

    def program(self) -> tuple[list[Function], Function, list]:
        parameters, values = self.arguments()
        self.state = State(
            dict(zip(parameters, copy.deepcopy(values), strict=True)),
            list(parameters),
            {},
            {},
            set(),
        )
        body = self.block(0, self.pick((1, 2, 2, 3)))
        body += self.result()
        return self.helpers, Function("f", parameters, body), values

    def result(self) -> list:
        """The final return (sometimes an earlier one under a condition): a scalar, often a
        reduction of nested expressions of the names not read yet."""
        statements = []
        if self.chance(0.1):
            test = self.condition()
            early = self.scalar_result()
            if test is not None and early is not None:
                statements.append(If(test, [Return(early)], []))
        value = self.scalar_result()
        if value is None:
            raise Invalid("no scalar result")
        return [*statements, Return(value)]

    def scalar_result(self) -> Expr | None:
        unread = [n for n in self.readable("num") if self.state.uses.get(n, 0) == 0]
        terms = []
        for _ in range(1 + (len(unread) > 1 and self.chance(0.5))):
            term = self.reduced() if self.chance(0.6) else self.expression(0, is_scalar)
            if term is not None:
                terms.append(term)
        if not terms:
            return None
        value = terms[0]
        for term in terms[1:]:
            value = self.binop(self.pick(("+", "+", "-", "*")), value, term)
        if isinstance(value.value, np.ndarray) and self.chance(0.5):
            value = self.call("float", builtins.float, [value])
        return value

    def reduced(self) -> Expr | None:
        """A whole reduction of a nested expression, as a loss is (np.sum(np.log(...)))."""
        inner = self.expression(1, lambda v: is_num(v) and np.ndim(v) >= 1)
        if inner is None:
            return None
        form = self.weighted({"np.sum": 4, "np.mean": 2, ".sum": 2, ".mean": 1, "np.max": 1})
        form = self.weighted({form: 10, "np.linalg.norm": 1, "np.var": 0.5, "np.prod": 0.5})
        if form.startswith(".") and isinstance(inner.value, np.ndarray):
            return self.method(inner, form[1:])
        if form == "np.max":
            return self.call("np.max", np.max, [inner], check=lambda r, v: gaps_ok(v, None))
        if form == "np.linalg.norm":
            return self.call(form, np.linalg.norm, [inner], check=lambda r, v: r >= 0.2)
        function = {"np.mean": np.mean, "np.var": np.var, "np.prod": np.prod}.get(form, np.sum)
        return self.call(form if form != ".sum" else "np.sum", function, [inner])


class GenerationExhausted(Exception):
    """The generator spent its effort on one program: start it again from another draw."""


def _walk(statements: list) -> Iterator:
    for statement in statements:
        yield statement
        for attribute in ("body", "orelse"):
            yield from _walk(getattr(statement, attribute, []))


def compute(
    function: Callable,
    operands: list[Expr],
    keywords: list[tuple[str, Expr]] = (),
    check: Callable | None = None,
) -> Callable[[dict], Any]:
    """The run function of an operation: operands' values in, checked result out."""
    runs = [operand.run for operand in operands]
    named = [(name, value.run) for name, value in keywords]

    def run(env: dict) -> Any:
        values = [r(env) for r in runs]
        keyword_values = {name: r(env) for name, r in named}
        result = guarded(function, *values, **keyword_values)
        if check is not None and not guarded(check, result, *values, **keyword_values):
            raise Invalid("outside the smooth domain")
        return settle(result)

    return run


# ---------------------------------------------------------------------------------------------
# Makers: how to generate a valid call of each primitive
# ---------------------------------------------------------------------------------------------


def callee(primal: Any) -> str:
    """How a program spells a call of ``primal`` (``np.amax``, ``math.exp``, ``abs``)."""
    return describe(primal)


def unary(domain: Domain = ANYWHERE, scalar: bool = False) -> MakerFunction:
    """f(a), elementwise, on ``domain`` (``scalar``: Python floats and 0-d arrays only)."""

    def make(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
        operand = g.fit(g.operand(depth, both(want, is_scalar) if scalar else want), domain)
        if operand is None:
            return None
        name = callee(primal)
        if primal is np.absolute and g.chance(0.5):
            name = "np.abs"
        return g.call(name, primal, [operand])

    return make


def make_sign(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """-a or +a."""
    operand = g.operand(depth, want)
    return None if operand is None else g.unary("-" if primal is operator.neg else "+", operand)


OPERATOR_SYMBOLS = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    np.add: "+",
    np.subtract: "-",
    np.multiply: "*",
    np.divide: "/",
}


def binary_operands(
    g: Generator, depth: int, want: Callable | None, symbol: str
) -> tuple[Expr | None, Expr | None]:
    """Two operands that broadcast together, one of them often a constant or an integer."""
    form = g.weighted(
        {"constant-left": 2, "constant-right": 2.5, "int": 0.6, "mask": 0.3, "both": 5}
    )
    if form == "constant-left":
        numerators = ("1.0", "2.0", "1", "0.5", "-1.0") if symbol == "/" else CONSTANTS
        return g.const(g.pick(numerators)), g.operand(depth, want)
    left = g.operand(depth, want)
    if left is None:
        return None, None
    shape_ok = broadcasts_to(np.shape(left.value)) if want else broadcasts_with(left.value)
    if form == "constant-right":
        pool = [c for c in CONSTANTS if symbol != "/" or ast.literal_eval(c) != 0]
        return left, g.const(g.pick(pool))
    if form == "int":
        right = g.leaf(None, "int") if g.chance(0.3) else g.expression(depth + 1, None, "int")
        if right is not None and symbol == "/" and right.value == 0:
            return left, None
        return (left, right) if g.chance(0.7) or symbol == "/" else (right, left)
    if form == "mask" and symbol in ("*", "+"):
        mask = g.expression(depth + 1, lambda v: shape_ok(np.asarray(v, dtype=float)), "bool")
        if mask is not None:
            return left, mask
    right = g.operand(depth, shape_ok)
    if right is not None and right.text == left.text:
        right = g.operand(depth, shape_ok) or right  # a - a, a / a: once more for another
    return left, right


def make_arithmetic(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a + b, a - b, a * b, a / b, as operators or as NumPy calls."""
    symbol = OPERATOR_SYMBOLS[primal]
    left, right = binary_operands(g, depth, want, symbol)
    if symbol == "/" and right is not None and kind_of(right.value) == "num":
        right = g.fit(right, NONZERO)
    if left is None or right is None:
        return None
    if isinstance(primal, np.ufunc):
        return g.call(callee(primal), primal, [left, right])
    return g.binop(symbol, left, right)


def power_domain(exponent: Any) -> Domain:
    """Where x ** exponent is smooth: anywhere for natural powers, away from 0 for negative
    integers, positive otherwise."""
    if float(exponent).is_integer():
        return ANYWHERE if exponent >= 0 else NONZERO
    return POSITIVE


def make_power(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a ** c, c ** a, a ** b, a ** i (as an operator, np.power or math.pow)."""
    scalar = primal is math.pow
    value_want = both(want, is_scalar) if scalar else want
    form = g.weighted({"exponent": 5, "base": 2, "both": 2, "int": 1})
    if form == "exponent":
        exponent = g.const(g.pick(EXPONENTS))
        base = g.fit(g.operand(depth, value_want), power_domain(exponent.value))
    elif form == "base":
        base = g.const(g.pick(BASES))
        exponent = g.fit(g.operand(depth, value_want), Domain(low=-4.0, high=4.0))
    elif form == "both":
        base = g.fit(g.operand(depth, value_want), POSITIVE)
        if base is None:
            return None
        shape_ok = is_scalar if scalar else broadcasts_with(base.value)
        exponent = g.fit(g.operand(depth, shape_ok), Domain(low=-3.0, high=3.0))
    else:
        base = g.operand(depth, value_want)
        exponent = g.leaf(lambda v: 0 <= v <= 3, "int")
    if base is None or exponent is None:
        return None
    if primal is operator.pow:
        return g.binop("**", base, exponent)
    return g.call(callee(primal), primal, [base, exponent])


def fits_matmul(function: Callable, left: Any) -> Callable[[Any], bool]:
    """Right operands ``function(left, right)`` (np.matmul or np.dot) accepts."""

    def accept(right: Any) -> bool:
        if not is_array(right) or np.ndim(right) == 0:
            return False
        if function is np.dot and np.ndim(right) > 2:
            return False
        try:
            return np.size(function(left, right)) <= MAX_SIZE
        except ValueError:
            return False

    return accept


def make_matmul(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a @ b (np.matmul, np.dot, a.dot(b)) for vectors, matrices and stacks."""
    dot = primal in (np.dot, Method("dot"))
    left = g.operand(depth, lambda v: is_array(v) and 1 <= np.ndim(v) <= 3)
    if left is None:
        return None
    function = np.dot if dot else np.matmul
    right = g.operand(depth, fits_matmul(function, left.value))
    if right is None:
        return None
    if primal is operator.matmul:
        return g.binop("@", left, right)
    if isinstance(primal, Method):
        return g.method(left, "dot", [right])
    return g.call(callee(primal), primal, [left, right])


def make_inner(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.inner(a, b) with equal last axes."""
    left = g.operand(depth, lambda v: is_array(v) and np.ndim(v) >= 1)
    if left is None:
        return None
    right = g.operand(depth, fits_matmul(np.inner, left.value))
    return None if right is None else g.call("np.inner", np.inner, [left, right])


def make_outer(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.outer(a, b) of small arrays (flattened)."""
    left = g.operand(depth, lambda v: is_num(v) and np.size(v) <= 6)
    right = g.operand(depth, lambda v: is_num(v) and np.size(v) <= 6)
    if left is None or right is None:
        return None
    return g.call("np.outer", np.outer, [left, right])


# Without repeated indices in one operand ("ii->"), which overbar refuses with a clear message.
EINSUM_ONE = {1: ["i->", "i->i"], 2: ["ij->ji", "ij->", "ij->i", "ij->j"]}
EINSUM_TWO = {
    1: ["i,i->", "i,i->i", "i,j->ij", "i,ij->j", "i,ji->j"],
    2: ["ij,j->i", "ij,i->j", "ij,jk->ik", "ij,ij->", "ij,ij->i", "ij,kj->ik"],
}


def make_einsum(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.einsum of one or two operands, subscripts chosen by their ranks."""
    first = g.operand(depth, lambda v: is_array(v) and np.ndim(v) in (1, 2))
    if first is None:
        return None
    rank = np.ndim(first.value)
    subscripts = g.pick(EINSUM_ONE[rank] + EINSUM_TWO[rank])
    operands = [first]
    if "," in subscripts:

        def accept(value: Any) -> bool:
            if not is_array(value):
                return False
            try:
                return np.size(np.einsum(subscripts, first.value, value)) <= MAX_SIZE
            except ValueError:
                return False

        second = g.operand(depth, accept)
        if second is None:
            return None
        operands.append(second)
    return g.call("np.einsum", np.einsum, [g.const(repr(subscripts)), *operands])


def make_polyval(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.polyval(p, x): a vector of a few coefficients, at x of moderate size."""
    p = g.operand(depth, lambda v: is_array(v) and np.ndim(v) == 1 and 1 <= np.size(v) <= 5)
    if p is None:
        return None
    x = g.operand(depth, lambda v: is_array(v) and np.all(np.abs(v) < 3.0))
    if x is None:
        return None
    return g.call("np.polyval", np.polyval, [p, x])


def make_trace(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.trace(a) or a.trace(), with an offset or not."""
    a = g.operand(depth, lambda v: is_array(v) and np.ndim(v) >= 2)
    if a is None:
        return None
    offset = g.pick((0, 0, 1, -1))
    if isinstance(primal, Method):
        args = [] if offset == 0 else [g.integer(offset)]
        return g.method(a, "trace", args)
    keywords = [("offset", g.integer(offset))] if offset and g.chance(0.5) else []
    args = [a, g.integer(offset)] if offset and not keywords else [a]
    return g.call("np.trace", np.trace, args, keywords)


def well_conditioned(value: Any) -> bool:
    """A square matrix whose inverse and determinant are moderate."""
    return bool(np.linalg.cond(value) < 30 and abs(np.linalg.det(value)) >= 0.05)


def square_matrix(g: Generator, depth: int) -> Expr | None:
    """A well-conditioned square matrix: one at hand, or a @ a.T + c I."""
    a = g.operand(depth, lambda v: is_array(v) and np.ndim(v) == 2)
    if a is None:
        return None
    rows, columns = np.shape(a.value)
    if rows == columns and well_conditioned(a.value):
        return a
    gram = g.binop("@", a, g.attribute(a, "T"))
    eye = g.call("np.eye", np.eye, [g.integer(rows)])
    shifted = g.binop("+", gram, g.binop("*", g.const(g.pick(("0.5", "1.0", "2.0"))), eye))
    return shifted if well_conditioned(shifted.value) else None


def make_linear_solve(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.linalg.inv, det and solve of well-conditioned matrices."""
    a = square_matrix(g, depth)
    if a is None:
        return None
    if primal is np.linalg.solve:
        size = np.shape(a.value)[0]
        b = g.operand(depth, lambda v: is_array(v) and 1 <= np.ndim(v) <= 2 and len(v) == size)
        if b is None:
            return None
        return g.call("np.linalg.solve", np.linalg.solve, [a, b])
    return g.call(callee(primal), primal, [a])


REDUCTIONS = {
    np.sum: "sum",
    np.mean: "mean",
    np.prod: "prod",
    np.max: "max",
    np.amax: "max",
    np.min: "min",
    np.amin: "min",
    np.var: "var",
    np.std: "std",
}
REDUCTIONS.update({Method(name): name for name in ("sum", "mean", "prod", "max", "min")})
REDUCTIONS.update({Method("var"): "var", Method("std"): "std"})


def choose_axis(g: Generator, ndim: int, tuples: bool = True) -> Any:
    """None (every axis), one axis (possibly negative), or a pair of axes."""
    if ndim == 0:
        return None
    options = [None, *range(-ndim, ndim)]
    if tuples and ndim >= 2:
        options.append(tuple(sorted(g.rng.choice(ndim, size=2, replace=False).tolist())))
    return g.pick(options)


def axis_text(axis: Any) -> str:
    """An axis (None, an int or a pair) as the program writes it."""
    return repr(axis) if not isinstance(axis, tuple) else f"({axis[0]}, {axis[1]})"


def make_reduction(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """sum, mean, prod, max, min, var, std, over every axis or some, keeping dims or not."""
    reduction = REDUCTIONS[primal]
    is_method = isinstance(primal, Method)
    a = g.operand(depth, is_array if is_method else is_num)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = choose_axis(g, ndim)
    keepdims = g.pick((None, None, True, False))
    ddof = g.pick((None, None, 0, 1)) if reduction in ("var", "std") else None
    positional = axis is not None and g.chance(0.3)
    args = [g.const(axis_text(axis))] if positional else []
    keywords = [] if positional or axis is None else [("axis", g.const(axis_text(axis)))]
    if ddof is not None:
        keywords.append(("ddof", g.integer(ddof)))
    if keepdims is not None:
        keywords.append(("keepdims", g.const(repr(keepdims))))

    def check(result: Any, value: Any, *rest: Any, **named: Any) -> bool:
        if reduction in ("max", "min"):
            return gaps_ok(value, axis)
        if reduction == "std":
            return bool(np.all(np.asarray(result) >= MARGIN))
        return True

    if is_method:
        return g.method(a, reduction, args, keywords, check)
    return g.call(callee(primal), primal, [a, *args], keywords, check)


def make_cumsum(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.cumsum / a.cumsum() over every axis or one."""
    a = g.operand(depth, is_array)
    if a is None:
        return None
    axis = choose_axis(g, np.ndim(a.value), tuples=False)
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    if isinstance(primal, Method):
        return g.method(a, "cumsum", [], keywords)
    return g.call("np.cumsum", np.cumsum, [a], keywords)


def make_norm(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.linalg.norm (the 2-norm, ord=None) away from 0, over every axis or one."""
    a = g.operand(depth, lambda v: is_num(v) and 1 <= np.ndim(v) <= 2)
    if a is None:
        return None
    axis = g.pick((None, None, *range(np.ndim(a.value))))
    keywords = [] if axis is None else [("axis", g.integer(axis))]
    if g.chance(0.2):
        keywords.append(("keepdims", g.const("True")))
    if g.chance(0.1):
        keywords.insert(0, ("ord", g.const("None")))

    def check(result: Any, *args: Any, **named: Any) -> bool:
        return bool(np.all(np.asarray(result) >= 0.2))

    return g.call("np.linalg.norm", np.linalg.norm, [a], keywords, check)


def make_sort(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.sort along an axis (or all) of values without ties."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    axis = g.pick(("default", "default", None, *range(-np.ndim(a.value), np.ndim(a.value))))
    keywords = [] if axis == "default" else [("axis", g.const(repr(axis)))]
    checked_axis = -1 if axis == "default" else axis
    return g.call(
        "np.sort", np.sort, [a], keywords, lambda r, v, **k: all_gaps_ok(v, checked_axis)
    )


def make_builtin_sum(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """sum(array) over its first axis, sum([a, b, ...]), sum(list), with a start or not."""
    form = g.pick(("array", "display", "display", "list"))
    if form == "list":
        lists = g.readable("list", lambda v: len(v) > 0)
        if lists:
            items = g.var(g.pick(lists))
        else:
            form = "display"
    if form == "array":
        items = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1)
    elif form == "display":
        first = g.operand(depth, want)
        if first is None:
            return None
        rest = [g.operand(depth, broadcasts_with(first.value)) for _ in range(g.pick((1, 2)))]
        if any(r is None for r in rest):
            return None
        items = g.display([first, *rest])
    if items is None:
        return None
    args = [items]
    if g.chance(0.2):
        args.append(g.const(g.pick(("0.5", "1.0", "0"))))
    return g.call("sum", builtins.sum, args)


def make_float(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """float(s) of a scalar."""
    a = g.operand(depth, is_scalar)
    return None if a is None else g.call("float", builtins.float, [a])


def make_apart_pair(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """maximum, minimum, fmax, fmin: the two sides apart everywhere (no ties)."""
    left = g.operand(depth, want)
    if left is None:
        return None
    if g.chance(0.3):
        right = g.threshold(left.value)
    else:
        right = g.operand(depth, broadcasts_with(left.value))
        if right is not None and not apart(left.value, right.value):
            right = g.fit(right, Domain(), lambda v: apart(left.value, v))
    if right is None:
        return None
    args = [left, right] if g.chance(0.7) else [right, left]
    return g.call(callee(primal), primal, args, check=lambda r, a, b: apart(a, b))


def make_radius(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """hypot and arctan2 (math.atan2 on scalars): away from the origin."""
    scalar = primal is math.atan2
    left = g.operand(depth, both(want, is_scalar) if scalar else want)
    if left is None:
        return None
    right = g.operand(depth, is_scalar if scalar else broadcasts_with(left.value))
    if right is None:
        return None
    right = g.fit(right, Domain(), lambda v: bool(np.all(np.hypot(left.value, v) >= 0.3)))
    if right is None:
        return None

    def away(result: Any, a: Any, b: Any) -> bool:
        return bool(np.all(np.hypot(a, b) >= 0.3))

    return g.call(callee(primal), primal, [left, right], check=away)


def make_logaddexp(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.logaddexp(a, b)."""
    left = g.operand(depth, want)
    right = g.operand(depth, broadcasts_with(left.value)) if left is not None else None
    if right is None:
        return None
    return g.call("np.logaddexp", np.logaddexp, [left, right])


def make_where(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.where(c, a, b), c a comparison decided with a margin."""
    x = g.operand(depth, want)
    if x is None:
        return None
    shape = np.shape(x.value)
    condition = g.expression(
        depth + 1, lambda v: broadcasts_to(shape)(np.asarray(v, float)), "bool"
    )
    if condition is None:
        test = g.operand(depth, broadcasts_to(shape))
        threshold = g.threshold(test.value) if test is not None else None
        if threshold is None:
            return None
        condition = g.compare(g.pick(("<", ">")), test, threshold)
    if g.chance(0.4):
        y = g.const(g.pick(("0.0", "1.0", "-1.0", "0")))
    else:
        y = g.operand(depth, broadcasts_to(shape))
    if y is None:
        return None
    args = [condition, x, y] if g.chance(0.7) else [condition, y, x]
    return g.call("np.where", np.where, args)


def make_clip(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """clip(a, lo, hi) with bounds (constants, None or arrays) away from a's values."""
    a = g.operand(depth, both(want, is_array) if isinstance(primal, Method) else want)
    if a is None:
        return None
    values = np.sort(np.asarray(a.value, dtype=float).reshape(-1))
    form = g.pick(("constants", "constants", "low", "high", "arrays"))
    if form == "arrays":
        low = g.operand(depth, broadcasts_with(a.value))
        if low is None:
            return None
        high = g.binop("+", low, g.const(g.pick(("0.5", "1.0", "2.0"))))
    else:
        cuts = sorted(g.rng.uniform(values[0] - 0.5, values[-1] + 0.5, size=2).tolist())
        low, high = (g.number(c, 0.01) for c in cuts)
        if form == "low":
            high = g.const("None")
        elif form == "high":
            low = g.const("None")

    def check(result: Any, value: Any, lo: Any, hi: Any) -> bool:
        bounds = [b for b in (lo, hi) if b is not None]
        ordered = lo is None or hi is None or bool(np.all(np.asarray(hi) - lo >= 4 * MARGIN))
        return ordered and all(apart(value, b) for b in bounds)

    if isinstance(primal, Method):
        return g.method(a, "clip", [low, high], check=check)
    return g.call("np.clip", np.clip, [a, low, high], check=check)


# -- shapes -----------------------------------------------------------------------------------


def make_transpose(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.transpose, a.transpose(...), a.T, a.mT."""
    a = g.operand(depth, is_array)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    if primal is Attribute("T"):
        return g.attribute(a, "T")
    if primal is Attribute("mT") or primal == Attribute("mT"):
        return g.attribute(a, "mT") if ndim >= 2 else None
    if primal == Attribute("T"):
        return g.attribute(a, "T")
    axes = tuple(g.rng.permutation(ndim).tolist()) if ndim >= 2 and g.chance(0.5) else None
    if isinstance(primal, Method):
        if axes is None:
            return g.method(a, "transpose")
        if g.chance(0.5):
            return g.method(a, "transpose", [g.integer(k) for k in axes])
        return g.method(a, "transpose", [g.const(repr(axes))])
    args = [a] if axes is None else [a, g.const(repr(axes))]
    return g.call("np.transpose", np.transpose, args)


def make_swapaxes(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.swapaxes, a.swapaxes, np.moveaxis of arrays with two axes or more."""
    a = g.operand(depth, lambda v: is_array(v) and np.ndim(v) >= 2)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    first, second = (g.integer(int(g.rng.integers(-ndim, ndim))) for _ in range(2))
    if primal is np.moveaxis:
        return g.call("np.moveaxis", np.moveaxis, [a, first, second])
    if isinstance(primal, Method):
        return g.method(a, "swapaxes", [first, second])
    return g.call("np.swapaxes", np.swapaxes, [a, first, second])


def reshape_targets(size: int) -> list[tuple]:
    """Shapes an array of ``size`` elements can be reshaped to."""
    targets = [(-1,), (size,), (1, -1), (-1, 1)]
    targets += [(p, size // p) for p in range(2, size) if size % p == 0]
    targets += [(1, p, size // p) for p in range(2, size) if size % p == 0][:1]
    return targets


def make_reshape(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.reshape / a.reshape to another shape of the same size."""
    a = g.operand(depth, lambda v: is_array(v) and np.size(v) >= 1)
    if a is None:
        return None
    target = g.pick(reshape_targets(int(np.size(a.value))))
    if isinstance(primal, Method):
        if len(target) > 1 and g.chance(0.5):
            return g.method(a, "reshape", [g.integer(k) for k in target])
        return g.method(a, "reshape", [g.const(repr(target))])
    keywords = [("order", g.const("'F'"))] if g.chance(0.1) else []
    shape = g.const(repr(target)) if len(target) > 1 or g.chance(0.5) else g.integer(target[0])
    return g.call("np.reshape", np.reshape, [a, shape], keywords)


def make_ravel(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.ravel, a.ravel(), a.flatten()."""
    a = g.operand(depth, is_array)
    if a is None:
        return None
    if isinstance(primal, Method):
        return g.method(a, primal.name)
    return g.call("np.ravel", np.ravel, [a])


def make_squeeze(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.squeeze / a.squeeze() of arrays with axes of length 1."""
    a = g.operand(depth, lambda v: is_array(v) and 1 in np.shape(v))
    if a is None:
        return None
    ones = [k for k, size in enumerate(np.shape(a.value)) if size == 1]
    keywords = [("axis", g.integer(g.pick(ones)))] if g.chance(0.4) else []
    if isinstance(primal, Method):
        return g.method(a, "squeeze", [], keywords)
    return g.call("np.squeeze", np.squeeze, [a], keywords)


def make_expand_dims(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.expand_dims at any position."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) < MAX_NDIM)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = int(g.rng.integers(-ndim - 1, ndim + 1))
    return g.call("np.expand_dims", np.expand_dims, [a, g.integer(axis)])


def make_broadcast_to(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.broadcast_to a shape with a new leading axis or a stretched one."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) <= 2)
    if a is None:
        return None
    shape = np.shape(a.value)
    targets = [(int(g.rng.integers(2, 4)), *shape)]
    if len(shape) == 2 and shape[0] == 1:
        targets.append((int(g.rng.integers(2, 5)), shape[1]))
    if len(shape) == 2 and shape[1] == 1:
        targets.append((shape[0], int(g.rng.integers(2, 5))))
    target = g.pick(targets)
    return g.call("np.broadcast_to", np.broadcast_to, [a, g.const(repr(tuple(target)))])


def _ends_in(value: Any, row: tuple) -> bool:
    """Whether a value's last dimensions are ``row`` (a fill of shape ``row`` broadcasts)."""
    return not row or np.shape(value)[-len(row) :] == row


def make_full(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.full of a shape, and np.full_like of another operand, filled with an operand that
    broadcasts to it (a number, or a row)."""
    fill = g.operand(depth, lambda v: is_num(v) and np.ndim(v) <= 1)
    if fill is None:
        return None
    row = np.shape(fill.value)
    if primal is np.full_like:
        model = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1 and _ends_in(v, row))
        if model is None:
            return None
        return g.call("np.full_like", np.full_like, [model, fill])
    shape = (int(g.rng.integers(1, 4)), *row)
    return g.call("np.full", np.full, [g.const(repr(shape)), fill])


def make_convolution(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.convolve and np.correlate of two vectors (of any lengths), in one of the modes."""
    vector = lambda v: is_num(v) and np.ndim(v) == 1  # noqa: E731
    a, v = g.operand(depth, vector), g.operand(depth, vector)
    if a is None or v is None:
        return None
    mode = g.pick(["'full'", "'same'", "'valid'"])
    name = "np.convolve" if primal is np.convolve else "np.correlate"
    return g.call(name, primal, [a, v, g.const(mode)])


def make_add_reduce(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.add.reduce over its default first axis, a given one or every one, maybe keeping it."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    keywords = []
    axis = g.pick([None, "none", *range(-ndim, ndim)])
    if axis is not None:
        keywords.append(("axis", g.const("None" if axis == "none" else str(axis))))
    if g.chance(0.3):
        keywords.append(("keepdims", g.const("True")))
    return g.call("np.add.reduce", np.add.reduce, [a], keywords)


def make_windows(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """sliding_window_view of a vector or a matrix: windows along every axis, or one."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) in (1, 2) and min(np.shape(v)) >= 2)
    if a is None:
        return None
    shape = np.shape(a.value)
    keywords = []
    if len(shape) == 1 or g.chance(0.5):
        axis = int(g.rng.integers(len(shape)))
        window = g.const(str(int(g.rng.integers(1, shape[axis] + 1))))
        if len(shape) == 2:
            keywords.append(("axis", g.integer(axis)))
    else:
        window = g.const(repr(tuple(int(g.rng.integers(1, n + 1)) for n in shape)))
    name = "np.lib.stride_tricks.sliding_window_view"
    return g.call(name, primal, [a, window], keywords)


def make_join(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.concatenate and np.stack, of list displays or of a list the program grew."""
    stack = primal is np.stack
    lists = g.readable("list", lambda v: len(v) > 0)
    if lists and g.chance(0.3):
        items = g.var(g.pick(lists))
        shape = np.shape(items.value[0])
    else:
        first = g.operand(depth, lambda v: is_num(v) and (stack or np.ndim(v) >= 1))
        if first is None:
            return None
        shape = np.shape(first.value)
        axis = int(g.rng.integers(len(shape))) if shape else 0

        def joinable(value: Any) -> bool:
            if not is_num(value) or np.ndim(value) != len(shape):
                return False
            if stack:
                return np.shape(value) == shape
            other = list(np.shape(value))
            other[axis] = shape[axis]
            return tuple(other) == shape

        rest = [g.operand(depth, joinable) for _ in range(g.pick((1, 1, 2)))]
        if any(r is None for r in rest):
            return None
        items = g.display([first, *rest])
    ndim = len(shape) + stack
    keywords = []
    if ndim and g.chance(0.5):
        choices = list(range(-ndim, ndim)) + ([] if stack else [None])
        keywords = [("axis", g.const(repr(g.pick(choices))))]
    return g.call(callee(primal), primal, [items], keywords)


def make_array(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.array / np.asarray (np.asanyarray, ...) of scalars in a list display, of arrays, or
    of an array; sometimes with a floating dtype (``dtype=float``, ``np.float64``)."""
    form = g.pick(("scalars", "scalars", "arrays", "array"))
    keywords = []
    if g.chance(0.3):
        dtype = g.pick(("float", "np.float64"))
        keywords = [("dtype", g.node(dtype, lambda env: {"float": float}.get(dtype, np.float64)))]
    if form == "array" or primal is not np.array:
        a = g.operand(depth, want)
        return None if a is None else g.call(callee(primal), primal, [a], keywords)
    if form == "scalars":
        # Constants among them too: np.array([1.0, a * a, 2.0 * a]).
        items = [
            g.const(g.pick(CONSTANTS)) if k and g.chance(0.3) else g.operand(depth, is_scalar)
            for k in range(g.pick((2, 3)))
        ]
        g.rng.shuffle(items)
    else:
        first = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1)
        if first is None:
            return None
        items = [first, g.operand(depth, has_shape(np.shape(first.value)))]
    if any(item is None for item in items):
        return None
    return g.call(callee(primal), primal, [g.display(items)], keywords)


def make_numpy_float(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.float64(a) of a number or an array (an array stays one)."""
    a = g.operand(depth, want)
    return None if a is None else g.call("np.float64", np.float64, [a])


def make_copy(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.copy(a) or a.copy()."""
    a = g.operand(depth, both(want, is_array) if isinstance(primal, Method) else want)
    if a is None:
        return None
    if isinstance(primal, Method):
        return g.method(a, "copy")
    return g.call("np.copy", np.copy, [a])


def make_flip(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.flip over every axis, one or a pair."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    axis = choose_axis(g, np.ndim(a.value))
    if axis is None:
        return g.call("np.flip", np.flip, [a])
    if g.chance(0.5):
        return g.call("np.flip", np.flip, [a, g.const(axis_text(axis))])
    return g.call("np.flip", np.flip, [a], [("axis", g.const(axis_text(axis)))])


def make_triangle(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.tril / np.triu with a diagonal offset or not."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) >= 2)
    if a is None:
        return None
    k = g.pick((None, 0, 1, -1))
    if k is None:
        return g.call(callee(primal), primal, [a])
    if g.chance(0.5):
        return g.call(callee(primal), primal, [a, g.integer(k)])
    return g.call(callee(primal), primal, [a], [("k", g.integer(k))])


def read_index(g: Generator, shape: tuple) -> Index | None:
    """An index into an array of ``shape``: integers, slices, lists, masks, None, Ellipsis,
    loop indices."""
    if not shape:
        return constant_index(g.pick(("()", "None", "...")))
    n = shape[0]
    options = [
        str(int(g.rng.integers(-n, n))),
        "1:",
        ":-1",
        "::2",
        "::-1",
        f"{n - 1}::-1",
        "None",
        "...",
        ":, None",
        "[0, 0, 1]" if n >= 2 else "[0, 0]",
        f"[{n - 1}, 0]",
        "np.array([1, 0])" if n >= 2 else "np.array([0])",
    ]
    if len(shape) >= 2:
        m = shape[1]
        k, j = int(g.rng.integers(-n, n)), int(g.rng.integers(-m, m))
        options += [f"{k}, {j}", f":, {j}", f"1:, :{max(m - 1, 1)}", f"..., {j}", f"::-1, {j}"]
        options += [f"{k}, ::2", f":, [{m - 1}, 0]"]
    if len(shape) >= 3:
        options += ["0, :, 1", ":, 1", "..., 0, 1"]
    loops = [
        name
        for name, top in g.state.loop_bounds.items()
        if top is not None and 0 <= top < n and name in g.env
    ]
    if loops and g.chance(0.5):
        name = g.pick(loops)
        form = g.pick(("{i}", "{i}:", ":{i} + 1", "-{i} - 1"))
        text = form.format(i=name)
        return Index(text, lambda env: eval(f"_[{text}]", {"_": _IndexReader()}, env))
    masks = g.readable("num", has_shape(shape))
    if masks and g.chance(0.15):
        mask = g.var(g.pick(masks))
        threshold = g.threshold(mask.value)
        if threshold is not None:
            comparison = g.compare(g.pick((">", "<")), mask, threshold)
            if np.any(comparison.value):
                return Index(comparison.text, comparison.run)
    return constant_index(g.pick(options))


def make_getitem(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a[index]: integers, slices, lists, masks, None, Ellipsis, loop indices."""
    a = g.operand(depth, lambda v: is_num(v) and not isinstance(v, float))
    if a is None:
        return None
    index = read_index(g, np.shape(a.value))
    if index is None:
        return None
    result = g.subscript(a, index)
    return result if np.size(result.value) > 0 else None


# -- no gradient: results that are numbers ----------------------------------------------------


def make_piecewise(grid: tuple[float, float] | None, scalar: bool = False) -> MakerFunction:
    """sign, floor, ceil, round, ... of values away from their jumps, times another value so
    that the result is not constant."""

    def make(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
        domain = Domain(grid=grid) if grid else Domain(away=(0.0,))
        a = g.fit(g.operand(depth, both(want, is_scalar) if scalar else want), domain)
        if a is None:
            return None
        args = [a]
        if primal in (np.round, np.around) and g.chance(0.5):
            a = g.fit(a, Domain(grid=(0.1, 0.05)))
            if a is None:
                return None
            args = [a, g.integer(1)]
        jump = g.call(callee(primal), primal, args)
        other = g.operand(depth, broadcasts_with(jump.value))
        return jump if other is None else g.binop("*", other, jump)

    return make


def make_floordiv(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a // c and np.floor_divide(a, c), away from the jumps."""
    divisor = g.pick((0.5, 1.0, 2.0, 0.25))
    a = g.fit(g.operand(depth, want), Domain(grid=(divisor, 0.0)))
    if a is None:
        return None
    if primal is operator.floordiv:
        return g.binop("//", a, g.const(repr(divisor)))
    return g.call("np.floor_divide", np.floor_divide, [a, g.const(repr(divisor))])


def make_round(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """round(s, 1) (a float) on a scalar away from the rounding boundaries."""
    a = g.fit(g.operand(depth, is_scalar), Domain(grid=(0.1, 0.05)))
    if a is None:
        return None
    rounded = g.call("round", builtins.round, [a, g.integer(1)])
    other = g.operand(depth, want)
    return rounded if other is None else g.binop("+", other, rounded)


def make_like(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a + np.zeros_like(a), a * np.ones_like(b), ...: constant arrays in arithmetic."""
    a = g.operand(depth, want)
    if a is None:
        return None
    keywords = []
    if g.chance(0.3) and isinstance(a.value, np.ndarray):
        keywords = [("dtype", g.attribute(a, "dtype"))]
        g.used[Attribute("dtype")] += 1
    like = g.call(callee(primal), primal, [a], keywords)
    symbols = ("+", "-") if primal is np.zeros_like else ("*", "+")
    return g.binop(g.pick(symbols), g.operand(depth, has_shape(np.shape(a.value))) or a, like)


def make_dtype(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a * np.ones_like(b, dtype=a.dtype): a dtype read from a value."""
    a = g.operand(depth, both(want, lambda v: isinstance(v, np.ndarray)))
    if a is None:
        return None
    ones = g.call("np.ones_like", np.ones_like, [a], [("dtype", g.attribute(a, "dtype"))])
    return g.binop("*", a, ones)


def make_index_of(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """argmax, argmin, argsort, nonzero, flatnonzero, used to index another value."""
    a = g.operand(depth, lambda v: is_num(v) and np.ndim(v) == 1)
    if a is None:
        return None
    b = g.operand(depth, has_shape(np.shape(a.value)))
    if b is None:
        return None
    name = primal.name if isinstance(primal, Method) else getattr(primal, "__name__", "")
    if name in ("argmax", "argmin", "argsort"):

        def no_ties(result: Any, value: Any) -> bool:
            return gaps_ok(value, None) if name != "argsort" else all_gaps_ok(value, None)

        if isinstance(primal, Method):
            index = g.method(b, name, check=no_ties)
        else:
            index = g.call(callee(primal), primal, [b], check=no_ties)
    else:
        threshold = g.threshold(b.value)
        if threshold is None:
            return None
        mask = g.compare(g.pick((">", "<")), b, threshold)
        if not np.any(mask.value):
            return None
        index = g.call(callee(primal), primal, [mask])
    return g.subscript(a, Index(index.text, index.run))


def make_searchsorted(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a * np.searchsorted(edges, a), a away from the edges."""
    a = g.fit(g.operand(depth, want), Domain(away=(-0.5, 0.5)))
    if a is None:
        return None
    edges = g.call("np.array", np.array, [g.const("[-0.5, 0.5]")])
    position = g.call("np.searchsorted", np.searchsorted, [edges, a])
    return g.binop("*", a, position)


def make_count_nonzero(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """a / (1 + np.count_nonzero(mask))."""
    mask = g.expression(depth + 1, lambda v: np.ndim(v) >= 1, "bool")
    a = g.operand(depth, want)
    if mask is None or a is None:
        return None
    count = g.call("np.count_nonzero", np.count_nonzero, [mask])
    return g.binop("/", a, g.binop("+", g.integer(1), count))


# -- no gradient: integers --------------------------------------------------------------------


def make_size(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """len(a), np.size(a), np.ndim(a), np.shape(a)[k], a.shape[k], a.ndim, a.size."""
    a = g.operand(depth + 1, lambda v: is_array(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    if primal is np.shape:
        k = int(g.rng.integers(np.ndim(a.value)))
        return g.subscript(g.call("np.shape", np.shape, [a]), constant_index(str(k)))
    if primal == Attribute("shape"):
        k = int(g.rng.integers(np.ndim(a.value)))
        return g.subscript(g.attribute(a, "shape"), constant_index(str(k)))
    if isinstance(primal, Attribute):
        return g.attribute(a, primal.name)
    return g.call(callee(primal), primal, [a])


def make_integer_of(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """int(s), round(s), math.floor / ceil / trunc, np.int64(s) and NumPy's other integer and
    boolean casts of a scalar away from the jumps (non-negative for the unsigned ones)."""
    grid = (1.0, 0.5) if primal is builtins.round else (1.0, 0.0)
    low = 0.0 if primal in (np.uint8, np.uint16, np.uint32, np.uint64) else -3.0
    a = g.fit(g.operand(depth + 1, is_scalar), Domain(grid=grid, low=low, high=3.0))
    if a is None:
        return None
    return g.call(callee(primal), primal, [a])


def make_integer_division(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """i // 2 of an integer."""
    a = g.leaf(None, "int")
    if a is None:
        return None
    return g.binop("//", a, g.integer(2))


# -- no gradient: booleans --------------------------------------------------------------------

COMPARISON_SYMBOLS = {
    operator.lt: "<",
    operator.le: "<=",
    operator.gt: ">",
    operator.ge: ">=",
    operator.eq: "==",
    operator.ne: "!=",
}
COMPARISON_FUNCTIONS = {
    np.less: operator.lt,
    np.less_equal: operator.le,
    np.greater: operator.gt,
    np.greater_equal: operator.ge,
    np.equal: operator.eq,
    np.not_equal: operator.ne,
}


def make_comparison(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """a < t, a > b, np.less(a, b), ... decided with a margin everywhere."""
    left = g.operand(depth, want)
    if left is None:
        return None
    right = None
    if g.chance(0.35):
        right = g.operand(depth, lambda v: broadcasts_with(left.value)(v) and apart(left.value, v))
    right = right or g.threshold(left.value)
    if right is None:
        return None
    if primal in COMPARISON_SYMBOLS:
        return g.compare(COMPARISON_SYMBOLS[primal], left, right)
    return g.call(callee(primal), primal, [left, right], check=lambda r, a, b: apart(a, b))


def make_mask(g: Generator, depth: int, want: Callable | None = None) -> Expr | None:
    """A boolean array or scalar from a comparison with a margin."""
    left = g.operand(depth, want)
    if left is None:
        return None
    threshold = g.threshold(left.value)
    if threshold is None:
        return None
    return g.compare(g.pick(("<", ">")), left, threshold)


def make_logic(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """&, |, ^, ~, np.logical_*, of masks."""
    first = make_mask(g, depth, want)
    if first is None:
        return None
    if primal in (operator.invert, np.logical_not):
        if primal is operator.invert:
            return g.unary("~", first)
        return g.call("np.logical_not", np.logical_not, [first])
    second = make_mask(g, depth, broadcasts_with(first.value) if want is None else want)
    if second is None:
        return None
    symbols = {operator.and_: "&", operator.or_: "|", operator.xor: "^"}
    if primal in symbols:
        return g.binop(symbols[primal], first, second)
    return g.call(callee(primal), primal, [first, second])


def make_test(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.isnan, isinf, isfinite (all robustly false or true at finite values); math's on
    scalars."""
    scalar = primal in (math.isnan, math.isinf, math.isfinite)
    a = g.operand(depth, is_scalar if scalar else want)
    return None if a is None else g.call(callee(primal), primal, [a])


def make_close(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.isclose, np.allclose, np.array_equal: of values clearly apart, or identical."""
    a = g.operand(depth, want if primal is np.isclose else None)
    if a is None:
        return None
    if g.chance(0.3):
        b = a
    else:
        b = g.operand(depth, lambda v: broadcasts_with(a.value)(v) and apart(a.value, v))
        if b is None:
            return None
    return g.call(callee(primal), primal, [a, b])


def make_any_all(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.any / np.all / a.any() / a.all() of a mask, over an axis or all."""
    mask = make_mask(g, depth, lambda v: is_array(v) and np.ndim(v) >= 1)
    if mask is None:
        return None
    keywords = []
    if g.chance(0.3):
        keywords = [("axis", g.integer(int(g.rng.integers(np.ndim(mask.value)))))]
    if isinstance(primal, Method):
        return g.method(mask, primal.name, [], keywords)
    return g.call(callee(primal), primal, [mask], keywords)


def make_scalar_test(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """not c, bool(c), s is None, s is not None, n in (2, 3)."""
    if primal in (operator.is_, operator.is_not):
        a = g.leaf(None, "num")
        if a is None:
            return None
        return g.node(
            f"{a.wrapped(COMPARE + 1)} {'is' if primal is operator.is_ else 'is not'} None",
            compute(lambda v: primal(v, None), [a]),
            COMPARE,
        )
    if primal is operator.contains:
        a = g.leaf(None, "int") or g.expression(depth + 1, None, "int")
        if a is None:
            return None
        return g.node(
            f"{a.wrapped(COMPARE + 1)} in (0, 2, 3)",
            compute(lambda v: v in (0, 2, 3), [a]),
            COMPARE,
        )
    condition = make_mask(g, depth, is_scalar)
    if condition is None:
        return None
    if primal is operator.not_:
        return g.negation(condition)
    return g.call("bool", builtins.bool, [condition])


# -- composite patterns (not primitives of their own) -----------------------------------------


def pattern_softplus(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """np.log(1.0 + np.exp(a)): the softplus, nested in one line."""
    a = g.fit(g.operand(depth, want), Domain(high=3.0))
    if a is None:
        return None
    return g.call("np.log", np.log, [g.binop("+", g.const("1.0"), g.call("np.exp", np.exp, [a]))])


def pattern_sigmoid(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """1.0 / (1.0 + np.exp(-a)), nested in one line."""
    a = g.fit(g.operand(depth, want), Domain(low=-3.0))
    if a is None:
        return None
    exp = g.call("np.exp", np.exp, [g.unary("-", a)])
    return g.binop("/", g.const("1.0"), g.binop("+", g.const("1.0"), exp))


def stabiliser(g: Generator, a: Expr) -> tuple[Expr, list]:
    """np.max(a, axis=k, keepdims=True) without ties, and its keywords; or, as often written,
    without keepdims and with the axis put back by indexing (``np.max(a, axis=1)[:, None]``),
    the sums then spelt so too (``reduced``)."""
    ndim = np.ndim(a.value)
    axis = int(g.rng.integers(-ndim, ndim))
    if g.chance(0.35):
        keywords = [("axis", g.integer(axis))]
        maximum = g.call("np.max", np.max, [a], keywords, lambda r, v, **k: gaps_ok(v, axis))
        return reduced(g, maximum, ndim, axis), keywords
    keywords = [("axis", g.integer(axis)), ("keepdims", g.const("True"))]
    return g.call("np.max", np.max, [a], keywords, lambda r, v, **k: gaps_ok(v, axis)), keywords


def reduced(g: Generator, value: Expr, ndim: int, axis: int) -> Expr:
    """``value``, a reduction of an array of rank ``ndim`` over ``axis`` without keepdims,
    with an axis of length 1 put back by indexing: where it was (``[:, None]``, ``[..., None]``)
    or, now and then, elsewhere (broadcast along another axis: no softmax, when it runs)."""
    where = axis % ndim
    if g.chance(0.15):
        where = int(g.rng.integers(0, ndim))
    if where == ndim - 1 and g.chance(0.5):
        text = "..., None"
    else:
        text = ", ".join([":"] * where + ["None"])
    return g.subscript(value, constant_index(text))


def pattern_stabilised(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """a - np.max(a, axis=k, keepdims=True), often inside exp (a softmax's numerator)."""
    a = g.operand(depth, lambda v: is_array(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    maximum, keywords = stabiliser(g, a)
    shifted = g.binop("-", a, maximum)
    form = g.pick(("shifted", "exp", "softmax", "logsumexp"))
    if form == "shifted":
        return shifted
    exp = g.call("np.exp", np.exp, [shifted])
    if form == "exp":
        return exp
    total = g.call("np.sum", np.sum, [exp], keywords)
    if len(keywords) == 1:  # without keepdims: the axis put back by indexing
        total = reduced(g, total, np.ndim(a.value), int(keywords[0][1].text))
    if form == "softmax":
        return g.binop("/", exp, total)
    return g.binop("+", maximum, g.call("np.log", np.log, [total]))


def pattern_normalised(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """a / np.sum(a, axis, keepdims=True) of positive a, or (a - mean) / std."""
    a = g.operand(depth, lambda v: is_array(v) and np.ndim(v) >= 1)
    if a is None:
        return None
    ndim = np.ndim(a.value)
    axis = g.pick((None, *range(-ndim, ndim)))
    keywords = [("keepdims", g.const("True"))]
    if axis is not None:
        keywords.insert(0, ("axis", g.integer(axis)))
    if g.chance(0.5):
        a = g.fit(a, POSITIVE)
        if a is None:
            return None
        return g.binop("/", a, g.call("np.sum", np.sum, [a], keywords))
    centred = g.binop("-", a, g.call("np.mean", np.mean, [a], keywords))
    spread = g.call(
        "np.std", np.std, [a], keywords, lambda r, *v, **k: bool(np.all(np.asarray(r) >= 0.2))
    )
    return g.binop("/", centred, spread)


def pattern_squared_error(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """np.mean((a - b) ** 2) (or np.sum)."""
    a = g.operand(depth, is_num)
    if a is None:
        return None
    b = g.operand(depth, broadcasts_with(a.value))
    if b is None:
        return None
    square = g.binop("**", g.binop("-", a, b), g.const(g.pick(("2", "2.0"))))
    name, function = g.pick((("np.mean", np.mean), ("np.sum", np.sum)))
    return g.call(name, function, [square])


def pattern_conditional(
    g: Generator, primal: Any, depth: int, want: Callable | None
) -> Expr | None:
    """a if c else b, inline."""
    test = g.condition(depth + 1)
    body = g.operand(depth, want)
    if test is None or body is None:
        return None
    orelse = g.operand(depth, has_shape(np.shape(body.value)))
    return None if orelse is None else g.conditional(body, test, orelse)


def pattern_helper(g: Generator, primal: Any, depth: int, want: Callable | None) -> Expr | None:
    """A call of a helper inline: one result, or one of a pair (helper(a)[1])."""
    returns = g.pick((1, 1, 2))
    call = g.helper_call(depth, returns)
    if call is None:
        return None
    if returns == 2:
        return g.subscript(call, constant_index(str(g.pick((0, 1, -1)))))
    return call


# -- the table --------------------------------------------------------------------------------

UNARY_DOMAINS = {
    np.exp: Domain(high=3.0),
    np.exp2: Domain(high=4.0),
    np.expm1: Domain(high=3.0),
    np.log: POSITIVE,
    np.log2: POSITIVE,
    np.log10: POSITIVE,
    np.log1p: Domain(low=-0.8),
    np.sqrt: POSITIVE,
    np.cbrt: NONZERO,
    np.square: ANYWHERE,
    np.reciprocal: NONZERO,
    np.sin: ANYWHERE,
    np.cos: ANYWHERE,
    np.tan: Domain(low=-1.2, high=1.2),
    np.arcsin: Domain(low=-0.85, high=0.85),
    np.arccos: Domain(low=-0.85, high=0.85),
    np.arctan: ANYWHERE,
    np.sinh: Domain(low=-3.0, high=3.0),
    np.cosh: Domain(low=-3.0, high=3.0),
    np.tanh: ANYWHERE,
    np.arcsinh: ANYWHERE,
    np.arccosh: Domain(low=1.2),
    np.arctanh: Domain(low=-0.85, high=0.85),
    np.absolute: Domain(away=(0.0,)),
    builtins.abs: Domain(away=(0.0,)),
    np.deg2rad: ANYWHERE,
    np.radians: ANYWHERE,
    np.rad2deg: Domain(low=-2.0, high=2.0),
    np.degrees: Domain(low=-2.0, high=2.0),
    np.negative: ANYWHERE,
    np.positive: ANYWHERE,
}
MATH_DOMAINS = {
    math.exp: Domain(high=3.0),
    math.expm1: Domain(high=3.0),
    math.log: POSITIVE,
    math.log2: POSITIVE,
    math.log10: POSITIVE,
    math.log1p: Domain(low=-0.8),
    math.sqrt: POSITIVE,
    math.sin: ANYWHERE,
    math.cos: ANYWHERE,
    math.tan: Domain(low=-1.2, high=1.2),
    math.asin: Domain(low=-0.85, high=0.85),
    math.acos: Domain(low=-0.85, high=0.85),
    math.atan: ANYWHERE,
    math.sinh: Domain(low=-3.0, high=3.0),
    math.cosh: Domain(low=-3.0, high=3.0),
    math.tanh: ANYWHERE,
    math.fabs: Domain(away=(0.0,)),
}


def _table() -> dict[Any, list[Maker]]:
    table: dict[Any, list[Maker]] = {}

    def add(primals: Any, make: MakerFunction, kind: str = "num", weight: float = 1.0) -> None:
        for primal in primals:
            table.setdefault(primal, []).append(Maker(kind, make, weight))

    common = {np.exp: 3.0, np.log: 3.0, np.tanh: 2.0, np.sqrt: 1.5, np.square: 1.5}
    for primal, domain in UNARY_DOMAINS.items():
        add([primal], unary(domain), weight=common.get(primal, 1.0))
    for primal, domain in MATH_DOMAINS.items():
        add([primal], unary(domain, scalar=True))
    add([operator.neg, operator.pos], make_sign)
    add([operator.add, operator.sub, operator.mul, operator.truediv], make_arithmetic, weight=5)
    add([np.add, np.subtract, np.multiply, np.divide], make_arithmetic)
    add([operator.pow], make_power, weight=3)
    add([np.power, math.pow], make_power)
    add([operator.matmul], make_matmul, weight=2)
    add([np.matmul, np.dot, Method("dot")], make_matmul)
    add([np.inner], make_inner)
    add([np.outer], make_outer)
    add([np.einsum], make_einsum)
    add([np.trace, Method("trace")], make_trace)
    add([np.polyval], make_polyval)
    add([np.linalg.inv, np.linalg.det, np.linalg.solve], make_linear_solve)
    add(list(REDUCTIONS), make_reduction, weight=1.5)
    add([np.sum, Method("sum")], make_reduction, weight=1.5)
    add([np.cumsum, Method("cumsum")], make_cumsum)
    add([np.linalg.norm], make_norm)
    add([np.sort], make_sort)
    add([builtins.sum], make_builtin_sum)
    add([builtins.float], make_float)
    add([np.maximum, np.minimum, np.fmax, np.fmin], make_apart_pair)
    add([np.hypot, np.arctan2, math.atan2], make_radius)
    add([np.logaddexp], make_logaddexp)
    add([np.where], make_where, weight=1.5)
    add([np.clip, Method("clip")], make_clip)
    add([np.transpose, Method("transpose"), Attribute("T"), Attribute("mT")], make_transpose)
    add([np.swapaxes, Method("swapaxes"), np.moveaxis], make_swapaxes)
    add([np.reshape, Method("reshape")], make_reshape)
    add([np.ravel, Method("ravel"), Method("flatten")], make_ravel)
    add([np.squeeze, Method("squeeze")], make_squeeze)
    add([np.expand_dims], make_expand_dims)
    add([np.broadcast_to], make_broadcast_to)
    add([np.full, np.full_like], make_full)
    add([np.convolve, np.correlate], make_convolution)
    add([np.add.reduce], make_add_reduce)
    add([np.lib.stride_tricks.sliding_window_view], make_windows)
    add([np.concatenate, np.stack], make_join)
    add([np.array], make_array, weight=3)
    add([np.asarray], make_array)
    add([np.asanyarray, np.ascontiguousarray, np.asfortranarray], make_array, weight=0.3)
    add([np.float64], make_numpy_float, weight=0.3)
    add([np.copy, Method("copy")], make_copy)
    add([np.flip], make_flip)
    add([np.tril, np.triu], make_triangle)
    add([operator.getitem], make_getitem, weight=3)
    # No gradient: numbers
    add([np.sign], make_piecewise(None))
    add([np.floor, np.ceil, np.trunc, np.fix], make_piecewise((1.0, 0.0)))
    add([np.round, np.around, np.rint], make_piecewise((1.0, 0.5)))
    add([operator.floordiv, np.floor_divide], make_floordiv)
    add([builtins.round], make_round)
    add([np.zeros_like, np.ones_like], make_like)
    add([Attribute("dtype")], make_dtype)
    add([np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero], make_index_of)
    add([Method("argmax"), Method("argmin"), Method("argsort")], make_index_of)
    add([np.searchsorted], make_searchsorted)
    add([np.count_nonzero], make_count_nonzero)
    # No gradient: integers
    add([builtins.len, np.size, np.ndim, np.shape], make_size, "int")
    add([Attribute("shape"), Attribute("ndim"), Attribute("size")], make_size, "int")
    add([builtins.int, builtins.round, math.floor, math.ceil, math.trunc], make_integer_of, "int")
    numpy_integers = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32]
    add(numpy_integers + [np.uint64], make_integer_of, "int", weight=0.2)
    add([np.bool_], make_integer_of, "bool", weight=0.2)
    add([operator.floordiv], make_integer_division, "int")
    # No gradient: booleans
    add([operator.lt, operator.le, operator.gt, operator.ge], make_comparison, "bool", 2)
    add([operator.eq, operator.ne, np.equal, np.not_equal], make_comparison, "bool", 0.3)
    add([np.less, np.less_equal, np.greater, np.greater_equal], make_comparison, "bool")
    add([operator.and_, operator.or_, operator.xor, operator.invert], make_logic, "bool")
    add([np.logical_and, np.logical_or, np.logical_xor, np.logical_not], make_logic, "bool")
    tests = [np.isnan, np.isinf, np.isfinite, math.isnan, math.isinf, math.isfinite]
    add(tests, make_test, "bool", 0.4)
    add([np.isclose, np.allclose, np.array_equal], make_close, "bool", 0.5)
    add([np.any, np.all, Method("any"), Method("all")], make_any_all, "bool")
    add([operator.not_, builtins.bool], make_scalar_test, "bool")
    add([operator.is_, operator.is_not, operator.contains], make_scalar_test, "bool", 0.15)
    add_linalg_makers(add)
    add_arrays_makers(add)
    add_math_makers(add, sys.modules[__name__])
    add_ufunc_makers(add, sys.modules[__name__])
    add_numpy2_makers(add, sys.modules[__name__])
    add([np.fft.fftshift, np.fft.ifftshift], unary(ANYWHERE), weight=0.3)
    if SCIPY is not None:
        SCIPY.add_scipy_makers(add, sys.modules[__name__])
    return table


MAKERS = _table()

# Composite patterns, drawn like primitives: where optimisers have been wrong before.
PATTERNS = {
    "softplus": (pattern_softplus, 1.5),
    "sigmoid": (pattern_sigmoid, 1.0),
    "stabilised": (pattern_stabilised, 1.5),
    "normalised": (pattern_normalised, 1.0),
    "squared-error": (pattern_squared_error, 0.7),
    "conditional": (pattern_conditional, 0.7),
    "helper": (pattern_helper, 1.5),
}

# Primitives generated by statements rather than by the expression generator.
MADE_BY_STATEMENTS = {np.empty_like: "the buffer statement: np.empty_like(v), then v[:] = ..."}

# Registered primitives the fuzzer does not generate, each with the reason.
UNFUZZED: dict[Any, str] = {}
UNFUZZED.update(UNFUZZED_ARRAYS)
UNFUZZED.update(unfuzzed_ufuncs(RULES))
if SCIPY is not None:
    UNFUZZED.update(SCIPY.UNFUZZED_SCIPY)
UNFUZZED[np.float32] = (
    "float32 rounding: central differences with eps=1e-6 cannot check it; its values and dtype "
    "are tested in tests/test_rules_math.py"
)
UNFUZZED[builtins.sorted] = (
    "a permutation of its elements: the generator keeps no set of operands away from ties "
    "(where sorted has kinks); its rule is checked in tests/test_rules_math.py"
)
UNFUZZED.update(
    {
        rules[0].primal: "a runtime helper only generated adjoints call (differentiated again "
        "for second derivatives): its rule is checked in tests/test_hessians.py"
        for rules in RULES.rules.values()
        if rules[0].function.__module__ == "overbar.runtime.rules_helpers"
    }
)


def _is_library(primal: Any) -> bool:
    if isinstance(primal, Method | Attribute):
        return True
    module = getattr(primal, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "math", "operator", "_operator", "builtins")


def registered_primitives() -> list[Any]:
    """Every built-in primitive of the rule table, in the order of registration: those with a
    rule of overbar's own (a user's rule, for a function of their own, is not fuzzed), and the
    library functions declared to have no gradient."""
    with_rules = [
        rules[0].primal
        for rules in RULES.rules.values()
        if any(rule.function.__module__.startswith("overbar.runtime.rules") for rule in rules)
    ]
    without = [p for p in RULES.non_differentiable.values() if _is_library(p)]
    return with_rules + without


def uncovered_primitives() -> list[Any]:
    """Registered primitives neither generated nor listed in UNFUZZED."""
    return [
        p
        for p in registered_primitives()
        if p not in MAKERS and p not in MADE_BY_STATEMENTS and p not in UNFUZZED
    ]


def build_plan() -> dict[str, list[tuple[Any, Maker]]]:
    """The makers the generator draws from, by the kind of value they give: every registered
    primitive with a maker (read from the rule table now), then the patterns."""
    plan: dict[str, list[tuple[Any, Maker]]] = {"num": [], "int": [], "bool": []}
    for primal in registered_primitives():
        for maker in MAKERS.get(primal, []):
            plan[maker.kind].append((primal, maker))
    for name, (make, weight) in PATTERNS.items():
        plan["num"].append((f"pattern:{name}", Maker("num", make, weight)))
    return plan


# ---------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------

_PLAN: dict | None = None
_REGISTERED: set[str] | None = None


def registered_names() -> set[str]:
    """The names of the registered primitives, read from the rule table on first use."""
    global _REGISTERED
    if _REGISTERED is None:
        _REGISTERED = {name_of(p) for p in registered_primitives()}
    return _REGISTERED


def plan() -> dict:
    """The makers drawn from, built from the rule table on first use in this process."""
    global _PLAN
    if _PLAN is None:
        _PLAN = build_plan()
    return _PLAN


def generate_program(seed: int, index: int) -> Program:
    """Program ``index`` of ``seed``: always the same text and arguments."""
    rng = np.random.default_rng([seed, index])
    for _ in range(50):
        generator = Generator(rng, plan())
        try:
            with np.errstate(all="raise"), warnings.catch_warnings():
                warnings.simplefilter("error")
                helpers, function, values = generator.program()
                expected = function.call(copy.deepcopy(values))
        except (Invalid, GenerationExhausted):
            continue
        if not is_scalar(expected) or not smooth_at(function, values, rng):
            continue
        lines = []
        for helper in [*helpers, function]:
            lines += [*helper.lines(), "", ""]
        source = "\n".join(lines[:-2]) + "\n"
        wrt = tuple(k for k, value in enumerate(values) if differentiated(value))
        wrt = one_number(wrt, values, rng)
        patterns = {name_of(p) for p in generator.used if isinstance(p, str)}
        used = tuple(sorted(primitives_in(source) | patterns))
        errors = tuple(sorted(generator.maker_errors))
        values = tuple(values)
        if CONTAINERS:
            source, values, wrt = in_a_dict(source, values, wrt)
        if OBJECTS:
            source = as_an_object(source, wrt, computed=index % 2 == 0)
        return Program(source, values, wrt, float(expected), seed, index, used, errors)
    raise RuntimeError(f"no valid program for seed {seed}, index {index}")


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: operator.contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_MODULES = {"np": np, "math": math}
if SCIPY is not None:  # the names programs call SciPy's modules by (tests/support.py)
    _MODULES.update(SCIPY.MODULES)


def _global_path(node: ast.expr) -> Any:
    """The object a dotted name like ``np.linalg.norm``, ``np.add.reduce`` or ``abs`` names, or
    None."""
    if isinstance(node, ast.Name):
        return _MODULES.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        owner = _global_path(node.value)
        if owner is not None and (inspect.ismodule(owner) or isinstance(owner, np.ufunc)):
            return getattr(owner, node.attr, None)  # a ufunc's method: np.add.reduce
    return None


def primitives_in(source: str) -> set[str]:
    """The registered primitives a program's source applies (by their ``describe`` names)."""
    registered = registered_names()
    found: list[Any] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) or (
            isinstance(node, ast.UnaryOp) and not isinstance(node.operand, ast.Constant)
        ):
            found.append(_OPERATORS.get(type(node.op)))
        elif isinstance(node, ast.Compare):
            found += [_OPERATORS.get(type(op)) for op in node.ops]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            maker = _global_path(node.value)  # np.r_[a, b] joins, it does not index
            index_made = maker is not None and is_index_maker(maker)
            joined = IndexExpression(maker, ast.unparse(node.value)) if index_made else None
            found.append(joined or operator.getitem)
        elif isinstance(node, ast.Call):
            function = _global_path(node.func)
            if function is not None:
                found.append(function)
            elif isinstance(node.func, ast.Attribute):
                found.append(Method(node.func.attr))
        elif (
            isinstance(node, ast.Attribute)
            and _global_path(node) is None
            and _global_path(node.value) is None
        ):
            found.append(Attribute(node.attr))
    names = {name_of(p) for p in found if p is not None}
    return names & registered


def smooth_at(function: Function, values: list, rng: np.random.Generator) -> bool:
    """Whether ``function``, run by the generator (which checks every margin on the way), is
    smooth along a random direction through its arguments: the points a central difference
    evaluates stay inside every domain, and two step sizes agree."""
    direction = {}
    for k, value in enumerate(values):
        if kind_of(value) == "num":
            d = rng.standard_normal(np.shape(value))
            direction[k] = d / max(float(np.max(np.abs(d))), 1e-12)

    def at(step: float) -> float:
        trial = [
            (
                (type(v)(v + step * direction[k]) if type(v) is float else v + step * direction[k])
                if k in direction
                else copy.deepcopy(v)
            )
            for k, v in enumerate(values)
        ]
        return float(function.call(trial))

    try:
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            wide = (at(FD_STEP) - at(-FD_STEP)) / (2 * FD_STEP)
            narrow = (at(FD_STEP / 2) - at(-FD_STEP / 2)) / FD_STEP
    except (Invalid, Signal, TypeError, ValueError):
        return False
    derivative = (4 * narrow - wide) / 3
    return abs(wide - narrow) <= 1e-6 * (1 + abs(derivative)) and abs(derivative) <= 1e4


def name_of(primal: Any) -> str:
    """A primitive's name in reports (``describe``), or a pattern's."""
    return primal if isinstance(primal, str) else describe(primal)


def arguments_text(args: tuple) -> str:
    """The arguments as Python source, to reproduce a program."""
    parts = []
    for value in args:
        if isinstance(value, np.ndarray):
            parts.append(f"np.array({value.tolist()!r})")
        else:
            parts.append(repr(value))
    return "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------------------------------------
# Checking one program
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The outcome of one program: its kind and what went wrong."""

    kind: str
    detail: str = ""
    literal_checked: bool = False

    @property
    def signature(self) -> str:
        """What identifies the failure when shrinking: the kind, and for exceptions their
        type and the gist of the message (names and numbers left out)."""
        if self.kind in ("crashed", "refused", "invalid"):
            first = self.detail.strip().splitlines()[0] if self.detail.strip() else ""
            return f"{self.kind}: {_gist(first)}"
        if self.kind == "wrong":
            # Which adjoints are wrong tells an optimiser's bug (the literal one is right) from
            # a rule's or the normaliser's (all three are wrong).
            found = [
                name
                for name in ("optimised", "general", "literal")
                if f"the {name} adjoint disagrees" in self.detail
                or f"the {name} adjoint: " in self.detail
            ]
            how = "not finite" if "not finite" in self.detail else "disagrees"
            if "shape" in self.detail:
                how = "wrong shape"
            return f"wrong ({how}): {', '.join(found) or 'arguments changed'} adjoint(s)"
        return self.kind


def _gist(message: str) -> str:
    message = re.sub(r"\S*/\S+\.py\S*", "<file>", message)
    message = re.sub(r"'[^']*'", "'…'", message)
    message = re.sub(r"\b[A-Za-z_]*\d+\b", "N", message)
    return message[:90]


def grad_options() -> dict:
    """``check=False`` (overbar's own guard off: this harness does its checks) where the
    installed overbar has the keyword."""
    parameters = inspect.signature(overbar.grad).parameters
    return {"check": False} if "check" in parameters else {}


def optimised_options() -> dict:
    """``grad_options`` with the passes ``FUZZER_OPTIMISE`` chooses, where it is set."""
    if not OPTIMISE:
        return grad_options()
    return {**grad_options(), "optimise": overbar.Optimisations.parse(OPTIMISE)}


def literal_available() -> bool:
    """Whether overbar.grad takes ``optimise=False`` (the literal adjoint)."""
    return "optimise" in inspect.signature(overbar.grad).parameters


class _Crash(Exception):
    def __init__(self, where: str, error: BaseException):
        super().__init__(where)
        self.where, self.error = where, error


def _describe_error(error: BaseException) -> str:
    """The error's type and message on the first line (overbar's own errors: the message before
    the source location), then where in overbar it was raised."""
    if isinstance(error, overbar.OverbarError):
        text = f"{type(error).__module__}.{type(error).__name__}: {error.message}"
        if error.location is not None:
            text += "\n" + _indent(error.location.render())
    else:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = traceback.extract_tb(error.__traceback__)
    inside = [f for f in frames if "overbar" in f.filename and "tests" not in f.filename]
    if inside:
        last = inside[-1]
        text += f"\n    (raised at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def _is_refusal(error: BaseException) -> bool:
    return isinstance(error, overbar.OverbarError) and not isinstance(error, overbar.InternalError)


def _gradients(returned: Any, count: int, bare_single: bool = False) -> tuple:
    """The gradients in a tuple, one per differentiated argument. ``overbar.grad`` with a
    tuple ``wrt`` returns a tuple; a generated adjoint returns one gradient bare."""
    if bare_single and count == 1:
        return (returned,)
    gradients = tuple(returned)
    if len(gradients) != count:
        raise ValueError(f"the adjoint returned {len(gradients)} gradients for {count} arguments")
    return gradients


def _same_arguments(before: tuple, after: list) -> bool:
    if any(type(a) is dict for a in before):  # each leaf of a dict's
        if [list(a) for a in before if type(a) is dict] != [
            list(b) for b in after if type(b) is dict
        ]:
            return False
        before = tuple(leaf for a in before for leaf in _leaves(a))
        after = [leaf for b in after for leaf in _leaves(b)]
    for a, b in zip(before, after, strict=True):
        if type(a) is not type(b) or np.shape(a) != np.shape(b):
            return False
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            return False
    return True


def _gradient_problems(name: str, gradients: tuple, program: Program, args: list) -> list[str]:
    problems = []
    for position, gradient in zip(program.wrt, gradients, strict=True):
        argument = program.args[position]
        if type(argument) is dict:
            if type(gradient) is not dict or list(gradient) != list(argument):
                problems.append(
                    f"{name}: the gradient of argument {position}, a dict, is "
                    f"{type(gradient).__name__} {list(gradient) if type(gradient) is dict else ''}"
                )
                continue
            problems += _gradient_problems(
                name,
                tuple(gradient.values()),
                replace(program, args=tuple(argument.values()), wrt=tuple(range(len(argument)))),
                args,
            )
        elif np.shape(gradient) != np.shape(argument):
            problems.append(
                f"{name}: the gradient of argument {position} has shape {np.shape(gradient)}, "
                f"the argument {np.shape(argument)}"
            )
        elif not np.all(np.isfinite(np.asarray(gradient, dtype=float))):
            problems.append(f"{name}: the gradient of argument {position} is not finite")
        elif isinstance(gradient, np.ndarray) and any(
            isinstance(a, np.ndarray) and np.shares_memory(gradient, a) for a in args
        ):
            problems.append(
                f"{name}: the gradient of argument {position} shares an argument's memory"
            )
    return problems


@dataclass(frozen=True)
class Difference:
    """A central difference of f along a direction (Richardson-combined), and how much the two
    step sizes disagree (large where f is not smooth)."""

    direction: dict[int, Any]
    value: float
    noise: float


def central_differences(function: Callable, program: Program, seed: int) -> list[Difference]:
    """Central differences of f along random directions: two per differentiated argument, and
    one moving them all."""
    rng = np.random.default_rng(seed)
    args = program.args

    def unit(value: Any) -> Any:
        if type(value) is float:
            return float(rng.choice([-1.0, 1.0]))
        if type(value) is dict:  # a container of parameters: a direction in each leaf
            return {key: unit(item) for key, item in value.items()}
        d = rng.standard_normal(np.shape(value))
        return d / max(float(np.max(np.abs(d))), 1e-12)

    directions = [{k: unit(args[k])} for k in program.wrt for _ in range(2)]
    if len(program.wrt) > 1:
        directions.append({k: unit(args[k]) for k in program.wrt})
    differences = []
    for direction in directions:

        def at(step: float, direction: dict = direction) -> float:
            trial = [
                (
                    (
                        float(a + step * direction[k])
                        if type(a) is float
                        else (
                            {
                                key: (
                                    float(item + step * direction[k][key])
                                    if type(item) is float
                                    else item + step * direction[k][key]
                                )
                                for key, item in a.items()
                            }
                            if type(a) is dict
                            else a + step * direction[k]
                        )
                    )
                    if k in direction
                    else copy.deepcopy(a)
                )
                for k, a in enumerate(args)
            ]
            return float(function(*trial))

        h = FD_STEP
        wide = (at(h) - at(-h)) / (2 * h)
        narrow = (at(h / 2) - at(-h / 2)) / h
        differences.append(Difference(direction, (4 * narrow - wide) / 3, abs(wide - narrow)))
    return differences


def _disagreement(name: str, gradients: tuple, program: Program, differences: list) -> str | None:
    """Where ``gradients`` disagree with the central differences, or None."""
    by_position = dict(zip(program.wrt, gradients, strict=True))
    for number, difference in enumerate(differences):
        terms = [
            np.asarray(g, dtype=float) * d
            for k, v in difference.direction.items()
            for g, d in zip(_leaves(by_position[k]), _leaves(v), strict=True)
        ]
        analytic = float(sum(np.sum(t) for t in terms))
        scale = float(sum(np.sum(np.abs(t)) for t in terms)) + abs(difference.value)
        error = abs(analytic - difference.value)
        if not error <= FD_ATOL + FD_RTOL * scale:
            which = ", ".join(str(k) for k in difference.direction)
            return (
                f"{name} disagrees with central differences along direction {number} "
                f"(arguments {which}): overbar {analytic:.10g}, differences "
                f"{difference.value:.10g} (error {error:.3g}, differences' own spread "
                f"{difference.noise:.3g})"
            )
    return None


def _adjoint_difference(gradients: tuple, reference: tuple) -> str | None:
    if any(type(g) is dict for g in (*gradients, *reference)):  # each leaf of a dict's
        gradients = tuple(leaf for g in gradients for leaf in _leaves(g))
        reference = tuple(leaf for g in reference for leaf in _leaves(g))
    for k, (mine, theirs) in enumerate(zip(gradients, reference, strict=True)):
        a, b = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
        if a.shape != b.shape:
            return f"gradient {k}: shapes {a.shape} and {b.shape}"
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
        error = float(np.max(np.abs(a - b), initial=0.0))
        if not error <= ADJOINT_ATOL + ADJOINT_RTOL * scale:
            worst = np.unravel_index(int(np.argmax(np.abs(a - b))), a.shape) if a.shape else ()
            return (
                f"gradient {k} at {worst}: {a[worst]:.17g} against {b[worst]:.17g} "
                f"(error {error:.3g}, largest element {scale:.3g})"
            )
    return None


def check_program(program: Program) -> Outcome:
    """Run ``program`` as plain Python, then through overbar; compare the optimised gradient
    (specialised on the arguments' shapes), the general one and the literal one with each other
    and with central differences."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a shrunk program's 0.0[0] warns as it compiles
            function = define(program.source)
    except Exception as error:
        return Outcome("invalid", f"the program does not load: {_describe_error(error)}")
    try:
        return _check(function, program)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(function.__code__.co_filename)


def _check(function: Callable, program: Program) -> Outcome:
    try:
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            value = function(*copy.deepcopy(program.args))
        value = float(value)
    except Exception as error:
        return Outcome("invalid", f"the program fails as plain Python: {_describe_error(error)}")
    if not math.isfinite(value):
        return Outcome("invalid", f"the program's value is {value}")
    expected = program.expected
    if not math.isnan(expected) and abs(value - expected) > 1e-9 * (1 + abs(expected)):
        return Outcome("invalid", f"the program gives {value!r}, the generator {expected!r}")
    literal = literal_available()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return _compare(function, program, literal)
        except _Crash as crash:
            if crash.where == "optimised adjoint" and _is_refusal(crash.error):
                return Outcome("refused", _describe_error(crash.error), literal)
            return Outcome("crashed", f"{crash.where}: {_describe_error(crash.error)}", literal)
        except Exception:
            return Outcome("invalid", "the checker failed:\n" + traceback.format_exc(), literal)


def _compare(function: Callable, program: Program, literal: bool) -> Outcome:
    count = len(program.wrt)
    args = copy.deepcopy(list(program.args))
    options = grad_options()
    try:
        gradient = overbar.grad(function, wrt=program.wrt, **optimised_options())
        optimised = _gradients(gradient(*args), count)
    except Exception as error:
        raise _Crash("optimised adjoint", error) from error
    problems = [] if _same_arguments(program.args, args) else ["the adjoint changed an argument"]
    problems += _gradient_problems("the optimised adjoint", optimised, program, args)
    try:
        if any(type(args[k]) is dict for k in program.wrt):  # the structure is needed: only it
            without_shapes = overbar.Optimisations.parse("all,-shapes")
            structural = overbar.grad(
                function, wrt=program.wrt, optimise=without_shapes, **options
            )
            general = _gradients(structural(*args), count)
        else:
            general = _gradients(gradient.stages.emitted.function(*args), count, bare_single=True)
    except Exception as error:
        raise _Crash("general adjoint", error) from error
    problems += _gradient_problems("the general adjoint", general, program, args)
    reference = None
    if literal:
        try:
            literal_gradient = overbar.grad(function, wrt=program.wrt, optimise=False, **options)
            reference = _gradients(literal_gradient(*args), count)
        except Exception as error:
            raise _Crash("literal adjoint", error) from error
        problems += _gradient_problems("the literal adjoint", reference, program, args)
    if problems:
        return Outcome("wrong", "\n".join(problems), literal)
    try:
        differences = central_differences(
            function, program, seed=zlib.crc32(program.source.encode())
        )
    except Exception as error:
        return Outcome("invalid", f"finite differences fail: {_describe_error(error)}", literal)
    if not all(math.isfinite(d.value) for d in differences):
        return Outcome("invalid", "finite differences are not finite", literal)
    versions = {"the optimised adjoint": optimised, "the general adjoint": general}
    if reference is not None:
        versions["the literal adjoint"] = reference
    wrong = {
        name: message
        for name, gradients in versions.items()
        if (message := _disagreement(name, gradients, program, differences)) is not None
    }
    if wrong:
        unstable = [d for d in differences if d.noise > 1e-3 * (1 + abs(d.value))]
        if unstable:
            return Outcome(
                "invalid", "finite differences are unstable: " + "; ".join(wrong.values()), literal
            )
        right = [name for name in versions if name not in wrong]
        detail = "\n".join(wrong.values())
        if right:
            detail += f"\n({' and '.join(right)} agree{'s' if len(right) == 1 else ''})"
        return Outcome("wrong", detail, literal)
    if reference is not None:
        for name, gradients in (("optimised", optimised), ("general", general)):
            mismatch = _adjoint_difference(gradients, reference)
            if mismatch is not None:
                return Outcome(
                    "literal-mismatch", f"the {name} adjoint against the literal: {mismatch}", True
                )
    mismatch = _adjoint_difference(general, optimised)
    if mismatch is not None:
        return Outcome("general-mismatch", f"general against specialised: {mismatch}", literal)
    if HVP:
        return _hvp_outcome(function, program, literal)
    return Outcome("ok", "", literal)


# FUZZER_HVP=1: a program whose gradients pass is also given a Hessian-vector product,
# overbar.hvp (forward mode over the optimised adjoint) along a random direction, checked
# against central differences of overbar's gradient along it (at two steps, whose disagreement
# bounds the differences' own error). Outcomes: ok, hvp-wrong, hvp-refused (an OverbarError of
# hvp's: a helper with no tangent rule, ...), hvp-crashed, invalid (unstable differences).
HVP = os.environ.get("FUZZER_HVP", "") == "1"
if HVP:
    KINDS += HVP_KINDS
    FAILURES += HVP_KINDS[:2]


def _hvp_outcome(function: Callable, program: Program, literal: bool) -> Outcome:
    args = copy.deepcopy(list(program.args))
    if any(type(a) is dict for a in args):  # containers: hvp takes arrays and numbers
        return Outcome("ok", "", literal)
    wrt = tuple(program.wrt)
    rng = np.random.default_rng(zlib.crc32(b"hvp " + program.source.encode()))
    vectors = tuple(
        (
            float(rng.choice([-1.0, 1.0]))
            if type(args[k]) is float
            else rng.standard_normal(np.shape(args[k]))
        )
        for k in wrt
    )
    try:
        products = overbar.hvp(function, tuple(args), vectors, wrt=wrt)
    except overbar.OverbarError as error:
        return Outcome("hvp-refused", _describe_error(error), literal)
    except Exception as error:
        return Outcome("hvp-crashed", _describe_error(error), literal)
    gradient = overbar.grad(function, wrt=wrt, **grad_options())

    def along(step: float) -> list[np.ndarray]:
        moved = copy.deepcopy(list(program.args))
        for k, v in zip(wrt, vectors, strict=True):
            shifted = np.asarray(moved[k], dtype=float) + step * np.asarray(v)
            moved[k] = float(shifted) if type(moved[k]) is float else shifted
        return [np.asarray(g, dtype=float) for g in _gradients(gradient(*moved), len(wrt))]

    estimates = []
    for eps in (1e-5, 2e-5):
        plus, minus = along(eps), along(-eps)
        estimates.append([(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)])
    for k, (product, fine, coarse) in enumerate(zip(products, *estimates, strict=True)):
        product = np.asarray(product, dtype=float)
        if product.shape != fine.shape:
            return Outcome("hvp-wrong", f"H v {k}: shape {product.shape}, not {fine.shape}")
        if not np.all(np.isfinite(fine)) or not np.all(np.isfinite(coarse)):
            return Outcome("invalid", "central differences of the gradient are not finite")
        scale = max(float(np.max(np.abs(fine), initial=0.0)), 1.0)
        noise = float(np.max(np.abs(fine - coarse), initial=0.0))
        error = float(np.max(np.abs(product - fine), initial=0.0))
        if error > 1e-5 * scale + 10 * noise:
            if noise > 1e-3 * scale:
                return Outcome("invalid", f"differences of the gradient unstable ({noise:.1e})")
            return Outcome(
                "hvp-wrong",
                f"H v {k}: {product.ravel()[:4]} against differences {fine.ravel()[:4]} "
                f"(error {error:.2e}, noise {noise:.1e})",
                literal,
            )
    return Outcome("ok", "", literal)


# ---------------------------------------------------------------------------------------------
# Shrinking: the fewest lines that fail the same way
# ---------------------------------------------------------------------------------------------


def _fields(node: ast.AST) -> Iterator[tuple[str, Any]]:
    for name in node._fields:
        yield name, getattr(node, name, None)


def _paths(node: ast.AST, path: tuple = ()) -> Iterator[tuple[tuple, ast.AST]]:
    """Every node under ``node`` with its path (field name and list index at each step)."""
    yield path, node
    for name, value in _fields(node):
        if isinstance(value, list):
            for k, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _paths(item, (*path, (name, k)))
        elif isinstance(value, ast.AST):
            yield from _paths(value, (*path, (name, None)))


def _at(node: ast.AST, path: tuple) -> Any:
    for name, k in path:
        node = getattr(node, name) if k is None else getattr(node, name)[k]
    return node


_NOT_REPLACEABLE = {"targets", "target", "func", "ctx", "keywords", "args_of_def", "slice"}


def _candidates(tree: ast.Module) -> Iterator[Callable[[ast.Module], bool]]:
    """Edits of a program, largest first; each edits a copy of the tree in place and says
    whether it applied."""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    for k, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name != "f":

            def drop_function(t: ast.Module, k: int = k) -> bool:
                del t.body[k]
                return True

            yield drop_function
    for function in functions:
        for k, statement in enumerate(function.body):
            inlined = _inlining(function, k, statement)
            if inlined is not None:
                yield inlined
    paths = list(_paths(tree))
    for path, node in paths:
        if not isinstance(node, ast.stmt) or not path or path[-1][1] is None:
            continue
        owner_path, (name, k) = path[:-1], path[-1]

        def drop(
            t: ast.Module, owner_path: tuple = owner_path, name: str = name, k: int = k
        ) -> bool:
            block = getattr(_at(t, owner_path), name)
            del block[k]
            if not block:
                block.append(ast.Pass())
            return True

        yield drop
        for part in ("body", "orelse"):
            if isinstance(node, ast.If | ast.For | ast.While) and getattr(node, part):

                def unwrap(
                    t: ast.Module,
                    owner_path: tuple = owner_path,
                    name: str = name,
                    k: int = k,
                    part: str = part,
                ) -> bool:
                    block = getattr(_at(t, owner_path), name)
                    block[k : k + 1] = getattr(block[k], part)
                    return True

                yield unwrap
    for path, node in paths:
        if not isinstance(node, ast.expr) or not path or path[-1][0] in _NOT_REPLACEABLE:
            continue
        replacements = [
            (child_path, child)
            for child_path, child in _paths(node)
            if child_path
            and child_path[0][0] not in ("func", "ctx", "keywords")
            and isinstance(child, ast.expr)
            and not (isinstance(child, ast.Name) and child.id in _MODULES)
            and len(child_path) <= 2
        ]
        for child_path, _ in replacements:

            def replace(t: ast.Module, path: tuple = path, child_path: tuple = child_path) -> bool:
                owner = _at(t, path[:-1])
                name, k = path[-1]
                child = _at(_at(t, path), child_path)
                if k is None:
                    setattr(owner, name, child)
                else:
                    getattr(owner, name)[k] = child
                return True

            yield replace
        if isinstance(node, ast.Call) and node.keywords:
            for j in range(len(node.keywords)):

                def drop_keyword(t: ast.Module, path: tuple = path, j: int = j) -> bool:
                    del _at(t, path).keywords[j]
                    return True

                yield drop_keyword
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and node.value > 1:

            def smaller(t: ast.Module, path: tuple = path) -> bool:
                _at(t, path).value -= 1
                return True

            yield smaller


def _inlining(
    function: ast.FunctionDef, k: int, statement: ast.stmt
) -> Callable[[ast.Module], bool] | None:
    """An edit replacing the reads of ``name`` by ``value`` after ``name = value`` (the k-th
    statement of ``function``), and dropping the assignment: for names bound once."""
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return None
    name = statement.targets[0].id
    bindings = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
    ]
    parameters = {a.arg for a in function.args.args}
    if len(bindings) != 1 or name in parameters:
        return None
    function_name = function.name

    def inline(t: ast.Module) -> bool:
        owner = next(
            n for n in t.body if isinstance(n, ast.FunctionDef) and n.name == function_name
        )
        value = owner.body[k].value
        del owner.body[k]

        class Substitute(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                if node.id == name and isinstance(node.ctx, ast.Load):
                    return copy.deepcopy(value)
                return node

        owner.body[k:] = [Substitute().visit(s) for s in owner.body[k:]]
        return True

    return inline


def _without_unused_parameters(source: str, args: tuple) -> tuple[str, tuple]:
    tree = ast.parse(source)
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "f")
    used = {
        n.id for statement in main.body for n in ast.walk(statement) if isinstance(n, ast.Name)
    }
    keep = [k for k, a in enumerate(main.args.args) if a.arg in used]
    if len(keep) == len(main.args.args) or not keep:
        return source, args
    main.args.args = [main.args.args[k] for k in keep]
    return ast.unparse(tree) + "\n", tuple(args[k] for k in keep)


def smooth_enough(program: Program) -> bool:
    """Whether ``program``'s function is smooth at its arguments along two random directions.
    Shrinking removes the shifts that kept values away from kinks (std of equal values, abs at
    0), so a shrunk program is checked before it is kept."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            function = define(program.source)
            rng = np.random.default_rng(0)
            for _ in range(2):
                direction = {}
                for k in program.wrt:
                    d = rng.standard_normal(np.shape(program.args[k]))
                    direction[k] = d / max(float(np.max(np.abs(d))), 1e-12)

                def at(step: float, direction: dict = direction) -> float:
                    trial = [
                        (
                            (
                                float(a + step * direction[k])
                                if type(a) is float
                                else a + step * direction[k]
                            )
                            if k in direction
                            else copy.deepcopy(a)
                        )
                        for k, a in enumerate(program.args)
                    ]
                    return float(function(*trial))

                middle, h = at(0.0), FD_STEP
                wide, narrow = (at(step) - 2 * middle + at(-step) for step in (h, h / 2))
                # Second differences shrink with the step squared where f is smooth (by 4 when
                # it halves), only linearly across a kink (by 2).
                if abs(narrow) > 1e-10 * (1 + abs(middle)) and abs(narrow) > 0.4 * abs(wide):
                    return False
    except Exception:
        return False
    return True


def _program_from(source: str, args: tuple, seed: int, index: int, like: Program) -> Program:
    """A shrunk program, differentiated as ``like`` is: with respect to its one number alone
    where ``like`` is (``one_number``) and that parameter is still there, else to every
    argument of numbers."""
    wrt = tuple(k for k, value in enumerate(args) if differentiated(value) or type(value) is dict)
    if len(like.wrt) == 1 and len(wrt) > 1:
        name = _parameter_names(like.source)[like.wrt[0]]
        names = _parameter_names(source)
        if name in names and names.index(name) in wrt:
            wrt = (names.index(name),)
    return Program(source, args, wrt, math.nan, seed, index)


def _parameter_names(source: str) -> list[str]:
    """The parameters of a program's function (its last def)."""
    function = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)][-1]
    return [argument.arg for argument in function.args.args]


def shrink(program: Program, outcome: Outcome, seconds: float = 180.0) -> tuple[Program, Outcome]:
    """Delta debugging: drop statements, unwrap branches and loops, replace expressions by
    their parts, drop parameters, while the program still fails with the same signature."""
    target = outcome.signature
    deadline = time.monotonic() + seconds
    current, current_outcome = program, outcome
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        source, args = _without_unused_parameters(current.source, current.args)
        if source != current.source:
            trial = _program_from(source, args, program.seed, program.index, current)
            result = check_program(trial)
            if result.signature == target and smooth_enough(trial):
                current, current_outcome, progress = trial, result, True
                continue
        tree = ast.parse(current.source)
        for edit in _candidates(tree):
            if time.monotonic() > deadline:
                break
            edited = copy.deepcopy(tree)
            try:
                edit(edited)
                source = ast.unparse(ast.fix_missing_locations(edited)) + "\n"
            except Exception:
                continue
            if len(source) >= len(current.source) and source.count("\n") >= current.source.count(
                "\n"
            ):
                continue
            trial = _program_from(source, current.args, program.seed, program.index, current)
            result = check_program(trial)
            if result.signature == target and smooth_enough(trial):
                current, current_outcome, progress = trial, result, True
                break
    return current, current_outcome


# ---------------------------------------------------------------------------------------------
# Running many programs
# ---------------------------------------------------------------------------------------------


def _unformatted(text: str, mode: Any = None) -> str:
    return text if text.endswith("\n") else text + "\n"


def skip_formatting() -> Callable[[], None]:
    """Compile generated code without formatting it with black, in this process; returns the
    function that formats again.

    black formats the source overbar shows; the code it compiles is the same with or without
    (formatting does not change the syntax tree), and formatting is more than half the time of
    a transformation. ``--black`` keeps it.
    """
    import black

    original = black.format_str
    black.format_str = _unformatted

    def undo() -> None:
        black.format_str = original

    return undo


class _Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _start_worker() -> None:
    """Each worker writes its programs' modules to a folder of its own."""
    import tempfile

    from tests import support

    support._FOLDER = Path(tempfile.mkdtemp(prefix=f"overbar-fuzz-{os.getpid()}-"))
    support._COUNTER = itertools.count()


def _forget_compiled() -> None:
    """Drop what overbar keeps of the programs checked so far. Each program's functions are new
    objects, so nothing kept could serve another program; but overbar's caches hold them for
    good (an entry of the weak cache of adjoints holds its own key), and a worker's heap, and
    with it the garbage collector's pauses, would grow without end."""
    from overbar import api
    from overbar.transpiler import pipeline

    for cache in (getattr(api, "_CACHE", None), getattr(pipeline, "_PULLBACKS", None)):
        if cache is not None:
            cache.clear()


def run_one(task: tuple[int, int]) -> dict:
    """Generate and check program ``index`` of ``seed``; a summary for the report."""
    seed, index = task
    started, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"seed": seed, "index": index}
    try:
        program = generate_program(seed, index)
    except Exception:
        record.update(kind="invalid", detail="the generator failed:\n" + traceback.format_exc())
        record.update(source="", args="[]", seconds=time.perf_counter() - started, used=())
        return record
    generated = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(PROGRAM_SECONDS)
    try:
        outcome = check_program(program)
    except _Timeout:
        outcome = Outcome("crashed", f"timed out after {PROGRAM_SECONDS} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    _forget_compiled()
    record.update(
        kind=outcome.kind,
        detail=outcome.detail,
        signature=outcome.signature,
        literal=outcome.literal_checked,
        generate_seconds=generated - started,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        used=program.primitives,
        maker_errors=program.maker_errors,
        lines=program.source.count("\n"),
    )
    if outcome.kind != "ok":
        record.update(source=program.source, args=arguments_text(program.args))
    return record


def shrink_one(task: tuple[int, int]) -> dict:
    """Shrink program ``index`` of ``seed`` while it fails the same way."""
    seed, index = task
    try:
        program = generate_program(seed, index)
        outcome = check_program(program)
        if outcome.kind == "ok":
            return {"seed": seed, "index": index, "source": "", "detail": "(passes now)"}
        shrunk, shrunk_outcome = shrink(program, outcome)
    except Exception:
        return {"seed": seed, "index": index, "source": "", "detail": traceback.format_exc()}
    return {
        "seed": seed,
        "index": index,
        "source": shrunk.source,
        "args": arguments_text(shrunk.args),
        "wrt": shrunk.wrt,
        "detail": shrunk_outcome.detail,
    }


def run(
    programs: int, seed: int = 0, jobs: int = 1, start: int = 0, progress: bool = False
) -> Iterator[dict]:
    """Check programs ``start`` to ``start + programs`` of ``seed``, in ``jobs`` processes."""
    tasks = [(seed, index) for index in range(start, start + programs)]
    if jobs <= 1:
        yield from map(run_one, tasks)
        return
    plan()  # built once, before the workers fork
    registered_names()
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, _start_worker, maxtasksperchild=500) as pool:
        yield from pool.imap_unordered(run_one, tasks, chunksize=8)


@dataclass
class Summary:
    """Counts per outcome, the failures grouped by signature, timings and primitives used."""

    counts: Counter = field(default_factory=Counter)
    groups: dict[str, list[dict]] = field(default_factory=dict)
    used: Counter = field(default_factory=Counter)
    maker_errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    program_seconds: float = 0.0
    cpu_seconds: float = 0.0
    generate_seconds: float = 0.0
    lines: int = 0
    literal: int = 0

    def add(self, record: dict) -> None:
        self.counts[record["kind"]] += 1
        self.used.update(record.get("used", ()))
        self.maker_errors.update(record.get("maker_errors", ()))
        self.program_seconds += record.get("seconds", 0.0)
        self.cpu_seconds += record.get("cpu_seconds", 0.0)
        self.generate_seconds += record.get("generate_seconds", 0.0)
        self.lines += record.get("lines", 0)
        self.literal += bool(record.get("literal"))
        if record["kind"] != "ok":
            key = record.get("signature", record["kind"])
            self.groups.setdefault(key, []).append(record)


def report(
    summary: Summary, seed: int, jobs: int, examples: int = 2, shrunk: dict | None = None
) -> str:
    """The report of a run: counts, timings, coverage, failures grouped, shrunk programs."""
    total = sum(summary.counts.values())
    per = 1000 / max(total, 1)
    lines = [
        f"overbar fuzzer: {total} programs of seed {seed}, {summary.seconds:.1f} s with {jobs} "
        f"job(s): {per * summary.seconds * jobs:.1f} ms per program per job "
        f"({per * summary.cpu_seconds:.1f} ms of CPU, generation "
        f"{per * summary.generate_seconds:.1f} ms; {summary.lines / max(total, 1):.1f} lines "
        f"per program; load average "
        f"{os.getloadavg()[0]:.1f})",
    ]
    for kind in KINDS:
        lines.append(f"  {kind:18} {summary.counts.get(kind, 0):7}")
    lines.append(
        f"literal adjoint compared on {summary.literal} of {total} programs"
        + ("" if summary.literal else " (overbar.grad has no optimise keyword)")
    )
    never = [name_of(p) for p in registered_primitives() if name_of(p) not in summary.used]
    never = [n for n in never if n not in {name_of(p) for p in UNFUZZED}]
    if never:
        lines.append(f"registered primitives no program used: {', '.join(never)}")
    if summary.maker_errors:
        lines.append(
            "makers that raised (bugs of tests/fuzzer.py; FUZZER_DEBUG=1 shows them): "
            + ", ".join(f"{name} ({count})" for name, count in summary.maker_errors.most_common())
        )
    missing = uncovered_primitives()
    if missing:
        lines.append(
            "registered primitives without a maker (add one, or list them in UNFUZZED): "
            + ", ".join(name_of(p) for p in missing)
        )
    for kind in KINDS[1:]:
        groups = {k: v for k, v in summary.groups.items() if v[0]["kind"] == kind}
        if not groups:
            continue
        count = sum(len(v) for v in groups.values())
        lines += ["", f"=== {kind}: {count} programs, {len(groups)} distinct ==="]
        for signature, records in sorted(groups.items(), key=lambda item: -len(item[1])):
            lines += ["", f"--- {len(records)} x {signature}"]
            for record in sorted(records, key=lambda r: r["index"])[:examples]:
                lines += [
                    f"seed {record['seed']} program {record['index']}:",
                    _indent(record["detail"]),
                    _indent(record.get("source", "")),
                    f"    args = {record.get('args', '')}",
                ]
                key = (record["seed"], record["index"])
                if shrunk and key in shrunk:
                    small = shrunk[key]
                    lines += [
                        "  shrunk:",
                        _indent(small["source"]),
                        f"    args = {small.get('args', '')}",
                        _indent(small["detail"]),
                    ]
    failing = [r for records in summary.groups.values() for r in records if r["kind"] in FAILURES]
    if failing:
        lines += ["", "=== every failing program ==="]
        for record in sorted(failing, key=lambda r: r["index"]):
            lines.append(
                f"  seed {record['seed']} program {record['index']}: "
                + record.get("signature", record["kind"])
            )
    return "\n".join(lines) + "\n"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def main(argv: list[str] | None = None) -> int:
    """The command line; see the module docstring."""
    # Every program is new: the disk cache would only fill with entries never read again.
    os.environ.setdefault("OVERBAR_CACHE", "0")
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzzer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="the first program's index")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    parser.add_argument("--shrink", action="store_true", help="shrink the failing programs shown")
    parser.add_argument("--examples", type=int, default=2, help="programs shown per failure")
    parser.add_argument("--show", type=int, help="print program INDEX and its outcome, and exit")
    parser.add_argument(
        "--black", action="store_true", help="format generated code with black (slower)"
    )
    options = parser.parse_args(argv)
    if not options.black:
        skip_formatting()
    if options.show is not None:
        program = generate_program(options.seed, options.show)
        print(program.source + f"\nargs = {arguments_text(program.args)}\nwrt = {program.wrt}")
        print(check_program(program))
        return 0
    summary = Summary()
    started = time.perf_counter()
    for done, record in enumerate(
        run(options.programs, options.seed, options.jobs, options.start), start=1
    ):
        summary.add(record)
        if done % 500 == 0:
            failures = sum(summary.counts[k] for k in FAILURES)
            print(
                f"  {done} programs, {failures} failures, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    summary.seconds = time.perf_counter() - started
    shrunk = None
    if options.shrink:
        if options.report:  # kept should shrinking be interrupted
            options.report.write_text(
                report(summary, options.seed, options.jobs, options.examples)
            )
        tasks = [
            (r["seed"], r["index"])
            for records in summary.groups.values()
            if records[0]["kind"] in FAILURES
            for r in sorted(records, key=lambda r: r["index"])[: options.examples]
            if r.get("source")
        ]
        context = multiprocessing.get_context("fork")
        with context.Pool(max(options.jobs, 1), _start_worker) as pool:
            shrunk = {(r["seed"], r["index"]): r for r in pool.map(shrink_one, tasks, chunksize=1)}
    text = report(summary, options.seed, options.jobs, options.examples, shrunk)
    print(text)
    if options.report:
        options.report.write_text(text)
    return 0 if not any(summary.counts[k] for k in FAILURES) else 1


if __name__ == "__main__":
    sys.exit(main())
