"""``vjp`` and ``jacobian``: pullbacks of functions whose results are not scalars.

``vjp(f, *args, wrt=...)`` runs ``f``'s forward sweep once and returns ``(f(*args), pullback)``;
``pullback(ȳ)`` runs the reverse sweep alone and returns ``J_fᵀ ȳ``, one gradient per
differentiated argument (the convention of ``jax.vjp``; a single ``wrt`` name gives the gradient
itself, as ``grad`` does). The code it runs is the adjoint cut in two (``transpiler/split.py``):
the forward function returns the value and the residuals, the values the reverse sweep reads; the
pullback takes them and the cotangent. ``jacobian(f, wrt=...)(*args)`` stacks the pullbacks of the
unit cotangents, one reverse sweep per element of the result after one forward sweep.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from overbar.api import (
    Wrt,
    _collects_args,
    _optimisations,
    _redefines_operators,
    _resolve_wrt,
    differentiable_form,
    for_positional_call,
)
from overbar.columns import jacobian_from_columns
from overbar.errors import ArgumentError, MissingRuleError, UnsupportedSyntaxError
from overbar.runtime import NUMPY
from overbar.runtime.shapes import argument_shape
from overbar.transpiler import pipeline
from overbar.transpiler.fence import check_definition
from overbar.transpiler.optimisations import Optimisations
from overbar.transpiler.parse import parse
from overbar.transpiler.pipeline import Stages, all_sources, kept_once, link

_FLOAT64 = np.dtype(np.float64)


def vjp_stages(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...],
    optimisations: Optimisations,
    with_value: bool = True,
) -> Stages:
    """The split transformation of ``function`` for ``wrt``, specialised on the parameters'
    ``shapes`` (none: for arguments of any shape): made once, kept with the function. Without
    ``with_value`` the forward function returns None for the value, and computes only what the
    pullback reads."""
    if not optimisations.shapes:
        shapes = ()
    shapes = tuple((name, shape) for name, shape in shapes if shape is not None)

    def make() -> Any:
        stages = pipeline.transform(
            function,
            wrt,
            NUMPY,
            parameter_shapes=dict(shapes) or None,
            with_value=with_value,
            optimisations=optimisations,
            vjp=True,
        )
        link(stages.emitted.pullback)
        return stages

    return kept_once(function, ("vjp", wrt, shapes, optimisations, with_value), make)


class Pullback:
    """``pullback(cotangent)``: the gradients ``J_fᵀ cotangent`` of one evaluation of ``f``.

    Holds the residuals of the forward sweep; each call runs the reverse sweep on them (and
    leaves them as they were, so any number of calls, with any cotangents, can follow). Where
    the reverse sweep changes values the forward sweep saved (``Split.reusable``), ``rerun``
    gives fresh residuals before each call after the first: the forward sweep runs again, with
    ``np.random`` replayed from the state the first run started at. Calls from several
    threads run one at a time (the reverse sweep writes old values back into the residuals).
    ``source`` is the generated code: the forward function, then the pullback.
    """

    def __init__(
        self,
        stages: Stages,
        residuals: tuple,
        value: Any,
        single: bool,
        name: str,
        dtypes: tuple[Any, ...],
        rerun: Callable[[], tuple] | None = None,
    ):
        self._stages, self._reverse = stages, stages.emitted.pullback
        self._residuals, self._value = residuals, value
        self._single, self._name, self._dtypes = single, name, dtypes
        self._rerun, self._used = rerun, False
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        """The generated code: the forward function, the pullback, the helpers' pullbacks."""
        return all_sources(self._stages)

    def __call__(self, cotangent: Any) -> Any:
        """The gradients for ``cotangent``, which is shaped like the function's result."""
        cotangent = _checked_cotangent(cotangent, self._value, self._name, "")
        with self._lock:
            residuals = self._residuals
            if self._rerun is not None and self._used:
                residuals = self._rerun()
            self._used = True
            gradients = self._reverse(*residuals, result_bar=cotangent)
        gradients = in_dtypes(gradients, self._dtypes)
        return gradients[0] if self._single else gradients

    def __repr__(self) -> str:
        return f"<overbar pullback of {self._name}>"


class Plan:
    """What ``vjp`` needs of one function, ``wrt`` and options, made once: the parameters,
    the checks of the definition, and the split adjoints compiled so far, by the arguments'
    shapes (``argument_shape``: ranks and which dimensions are 1)."""

    def __init__(self, function: Callable, wrt: Wrt, optimisations: Optimisations, entry: str):
        if not inspect.isfunction(function):
            raise ArgumentError(
                f"overbar.{entry} needs a Python function defined with def, not {function!r}"
            )
        check_definition(parse(function))
        self.function, self.optimisations, self.entry = function, optimisations, entry
        self.names, self.single = _resolve_wrt(function, wrt)
        self.signature = inspect.signature(function)
        self.parameters = _parameters(function)
        self.positional_only = len(self.parameters) == len(self.signature.parameters) and all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in self.signature.parameters.values()
        )
        self.wrt_positions = tuple(self.parameters.index(name) for name in self.names)
        kinds = [self.signature.parameters[name].kind for name in self.parameters]
        self.keyword_only = tuple(
            name
            for name, kind in zip(self.parameters, kinds, strict=True)
            if kind is inspect.Parameter.KEYWORD_ONLY
        )
        self.compiled: dict[tuple, Stages] = {}  # by argument_shape
        self.by_key: dict[tuple, Stages] = {}  # by fast_key

    def call(self, generated: Callable, arguments: tuple) -> Any:
        """``generated`` (with the function's parameters) called with ``arguments``: by
        position, but the keyword-only parameters by keyword."""
        if not self.keyword_only:
            return generated(*arguments)
        count = len(self.parameters) - len(self.keyword_only)
        keywords = dict(zip(self.keyword_only, arguments[count:], strict=True))
        return generated(*arguments[:count], **keywords)

    def arguments(self, args: tuple) -> tuple:
        """``args`` bound to every parameter (defaults filled in), checked as ``grad`` checks
        them."""
        if not (self.positional_only and len(args) == len(self.parameters)):
            try:
                bound = self.signature.bind(*args)
            except TypeError as error:
                raise ArgumentError(
                    f"overbar.{self.entry} of {self.function.__qualname__}: {error}"
                ) from None
            bound.apply_defaults()
            args = tuple(bound.arguments[name] for name in self.parameters)
        for name, position in zip(self.names, self.wrt_positions, strict=True):
            value = args[position]
            usual = type(value) is np.ndarray and value.dtype is _FLOAT64
            if not usual and not NUMPY.is_differentiable_input(value):
                raise ArgumentError(
                    f"{self.function.__qualname__}: cannot differentiate with respect to "
                    f"{name}, which is {NUMPY.describe_input(value)}; pass a NumPy array of "
                    "numbers (np.asarray) or a Python number"
                )
        for name, value in zip(self.parameters, args, strict=True):
            if isinstance(value, np.ndarray) and _redefines_operators(type(value)):
                raise ArgumentError(
                    f"{self.function.__qualname__}: argument {name} is "
                    f"{NUMPY.describe_input(value)}, whose operators differ from an ndarray's; "
                    "pass np.asarray(value)"
                )
        return args

    def stages(self, arguments: tuple, kind: str = "vjp") -> Stages:
        """The split adjoint (``kind`` "vjp"; "hvp": of the adjoint, see ``hessians.py``) for
        arguments shaped like ``arguments`` (all the parameters): found by their exact shapes
        where all are float64 arrays or Python numbers, else by ``argument_shape``."""
        key = fast_key(kind, arguments)
        found = self.by_key.get(key) if key is not None else None
        if found is None:
            shapes = tuple(argument_shape(value) for value in arguments)
            found = self.compiled.get((kind, *shapes))
            if found is None:
                found = self.make(kind, arguments, shapes)
                self.compiled[(kind, *shapes)] = found
            if key is not None:
                if len(self.by_key) >= _MOST_KEYS:
                    self.by_key.clear()
                self.by_key[key] = found
        return found

    def make(self, kind: str, arguments: tuple, shapes: tuple) -> Stages:
        """The split adjoint of ``kind`` for arguments of these ``shapes``, transformed."""
        named = tuple(zip(self.parameters, shapes, strict=True))
        if kind == "hvp":
            from overbar.hessians import hvp_stages  # hessians imports this module

            return hvp_stages(self, named)
        return vjp_stages(self.function, self.names, named, self.optimisations)


_MOST_KEYS = 64  # exact shapes remembered per plan (a new batch size is a new key)


def fast_key(kind: str, arguments: tuple) -> tuple | None:
    """The arguments' exact shapes, where each is a float64 array or a Python float (whose
    ``argument_shape`` they decide), else None."""
    key: list = [kind]
    for value in arguments:
        kind_of_value = type(value)
        if kind_of_value is np.ndarray and value.dtype is _FLOAT64:
            key.append(value.shape)
        elif kind_of_value is float:
            key.append(float)
        else:
            return None
    return tuple(key)


def plan_of(function: Callable, wrt: Wrt, optimise: bool | Optimisations, entry: str) -> Plan:
    """The ``Plan`` of ``function`` for ``wrt`` and ``optimise``, made once and kept with the
    function."""
    function = differentiable_form(function)  # grad(f): its generated adjoint
    optimisations = _optimisations(optimise)
    key = ("vjp plan", tuple(wrt) if isinstance(wrt, list) else wrt, optimisations)
    return kept_once(function, key, lambda: Plan(function, wrt, optimisations, entry))


def vjp(function: Callable, *args: Any, wrt: Wrt = 0, optimise: bool | Optimisations = True):
    """``(function(*args), pullback)``: ``pullback(ȳ)`` gives the gradients of ``⟨ȳ, f⟩``
    with respect to ``wrt`` (by name or position; a tuple gives a tuple of gradients, a single
    name the gradient itself), ``J_fᵀ ȳ``, without running ``function`` again.

    ``ȳ`` has the result's shape (for a tuple of arrays, a tuple of arrays of their shapes);
    another shape is refused with ``ArgumentError``. ``optimise`` as in ``grad``.
    """
    function = for_positional_call(function, args)  # *args: specialised on their number
    plan = plan_of(function, wrt, optimise, "vjp")
    arguments = plan.arguments(args)
    stages = plan.stages(arguments)
    forward = stages.emitted.function
    random_state = np.random.get_state() if not stages.split.reusable else None
    value, residuals = plan.call(forward, arguments)
    dtypes = tuple(_narrow_dtype(arguments[k]) for k in plan.wrt_positions)

    def rerun() -> tuple:
        current = np.random.get_state()
        np.random.set_state(random_state)
        try:
            return plan.call(forward, arguments)[1]
        finally:
            np.random.set_state(current)

    pullback = Pullback(
        stages,
        residuals,
        value,
        plan.single,
        function.__qualname__,
        dtypes,
        None if stages.split.reusable else rerun,
    )
    return value, pullback


def jacobian(function: Callable, wrt: Wrt = 0, optimise: bool | Optimisations = True):
    """A function of ``function``'s arguments giving its Jacobian with respect to ``wrt``:
    shaped ``result.shape + argument.shape`` (a tuple of them for a tuple ``wrt``; for a
    result that is a tuple of arrays, a tuple of those, one per part, as ``jax.jacobian``).
    Built from whichever is fewer: reverse rows, the pullbacks of unit cotangents (one forward
    sweep, one reverse sweep per element of the result), or forward columns, jvps along unit
    tangents (one per element of the differentiated arguments: ``columns.py``), taken where
    those have fewer elements in all than the result."""
    if not _collects_args(function):  # with *args, wrt counts the call's arguments
        _resolve_wrt(function, wrt)  # refused now, not at the first call

    def jacobian_of(*args: Any) -> Any:
        return jacobian_at(function, args, wrt, optimise)

    jacobian_of.__wrapped__ = function
    jacobian_of.__name__ = f"{function.__name__}_jacobian"
    jacobian_of.__qualname__ = f"{function.__qualname__}_jacobian"
    jacobian_of.__doc__ = f"The Jacobian of {function.__qualname__}, by overbar."
    return jacobian_of


def jacobian_at(
    function: Callable, args: tuple, wrt: Wrt, optimise: bool | Optimisations = True
) -> Any:
    """The Jacobian of ``function`` at ``args`` (see ``jacobian``): the forward sweep of the
    vjp runs first, which gives the result's size; then rows from its pullback, or columns
    where the differentiated arguments have fewer elements than the result."""
    function = for_positional_call(function, args)  # *args: specialised on their number
    random_state = np.random.get_state()  # each column runs the function again from here
    value, pullback = vjp(function, *args, wrt=wrt, optimise=optimise)
    names, single = _resolve_wrt(function, wrt)
    bound = inspect.signature(function).bind(*args)
    bound.apply_defaults()
    differentiated = tuple(bound.arguments[name] for name in names)
    shapes = [np.shape(argument) for argument in differentiated]
    parts = list(value) if isinstance(value, tuple | list) else [value]
    if any(isinstance(part, tuple | list) for part in parts):
        raise ArgumentError(
            f"jacobian of {function.__qualname__}: its result holds a tuple within a tuple; "
            "the Jacobian is taken of an array or of a tuple of arrays"
        )
    several = isinstance(value, tuple | list)
    inputs = sum(int(np.size(argument)) for argument in differentiated)
    if inputs < sum(int(np.size(part)) for part in parts):
        after = np.random.get_state()
        np.random.set_state(random_state)
        try:
            columns = _columns(function, args, names, differentiated, several)
        except (MissingRuleError, UnsupportedSyntaxError):
            # forward mode refuses what reverse mode takes (a user's rule with no tangent):
            # the rows, which the pullback at hand gives
            np.random.set_state(after)
        else:
            formed = [row[0] if single else tuple(row) for row in columns]
            return tuple(formed) if several else formed[0]
    blocks = _rows(pullback, value, parts, shapes, single)
    return tuple(blocks) if several else blocks[0]


def _rows(pullback: Pullback, value: Any, parts: list, shapes: list, single: bool) -> list:
    """Each part's Jacobian blocks (one per argument) from its rows: the pullbacks of the
    unit cotangents."""
    zeros = [np.zeros(np.shape(part), dtype=_cotangent_dtype(part)) for part in parts]
    blocks = []
    for k, part in enumerate(parts):
        rows = []
        for index in range(np.size(part)):
            unit = zeros[k].copy()
            unit.flat[index] = 1
            cotangent = (*zeros[:k], unit, *zeros[k + 1 :])
            gradients = pullback(cotangent if isinstance(value, tuple | list) else unit)
            rows.append((gradients,) if single else gradients)
        jacobians = []
        for position, shape in enumerate(shapes):
            if rows:
                stacked = np.stack([np.asarray(row[position]) for row in rows])
            else:
                stacked = np.zeros((0, *shape))
            jacobians.append(stacked.reshape(np.shape(part) + shape))
        blocks.append(jacobians[0] if single else tuple(jacobians))
    return blocks


def _columns(
    function: Callable, args: tuple, names: tuple, differentiated: tuple, several: bool
) -> tuple:
    """Each part's Jacobian blocks, ``blocks[part][argument]``, from forward columns: the
    generated jvp of ``function`` along each unit tangent."""
    from overbar.forward_api import jvp  # forward_api imports api, as this module does

    plain = differentiable_form(function)

    def call(tangents: tuple) -> tuple[tuple, tuple]:
        value, derivative = jvp(plain, args, list(tangents), wrt=names)
        return (tuple(value), tuple(derivative)) if several else ((value,), (derivative,))

    return jacobian_from_columns(call, differentiated)


def _cotangent_dtype(part: Any) -> Any:
    """A unit cotangent's dtype: the result's, where it is floating point, else float64."""
    dtype = np.asarray(part).dtype
    return dtype if dtype.kind == "f" else np.float64


def in_dtypes(gradients: tuple, dtypes: tuple) -> tuple:
    """Each gradient in the dtype given for it (``_narrow_dtype``; None: as it is)."""
    if all(dtype is None for dtype in dtypes):
        return gradients
    return tuple(
        (
            np.asarray(gradient).astype(dtype)
            if dtype is not None and getattr(gradient, "dtype", dtype) != dtype
            else gradient
        )
        for gradient, dtype in zip(gradients, dtypes, strict=True)
    )


def _parameters(function: Callable) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _narrow_dtype(argument: Any) -> Any:
    """The dtype a gradient is given back in: a float array's own, where it is not float64
    (the adjoint computes in the widest dtype it meets), else None (as computed)."""
    floating = type(argument) is np.ndarray and argument.dtype.kind == "f"
    return argument.dtype if floating and argument.dtype is not _FLOAT64 else None


def _checked_cotangent(cotangent: Any, value: Any, name: str, where: str) -> Any:
    """``cotangent`` checked against the result ``value`` it is the adjoint of (the same
    structure of tuples and lists, arrays of the same shapes, real numbers), with arrays made
    of array-likes; refused with ``ArgumentError`` otherwise."""
    if isinstance(value, tuple | list):
        if not isinstance(cotangent, tuple | list) or len(cotangent) != len(value):
            raise ArgumentError(
                f"pullback of {name}: the result{where} is a {type(value).__name__} of "
                f"{len(value)}, so the cotangent must be a tuple of {len(value)}, not "
                f"{_describe(cotangent)}"
            )
        return tuple(
            _checked_cotangent(c, v, name, f"{where}[{k}]")
            for k, (c, v) in enumerate(zip(cotangent, value, strict=True))
        )
    if isinstance(cotangent, tuple):
        raise ArgumentError(
            f"pullback of {name}: the result{where} is {_describe(value)}, so the cotangent"
            f"{where} must be an array of its shape, not a tuple"
        )
    array = np.asarray(cotangent) if not isinstance(cotangent, np.ndarray) else cotangent
    if array.dtype.kind not in "fiub":
        raise ArgumentError(
            f"pullback of {name}: the cotangent{where} must hold real numbers, not "
            f"{_describe(cotangent)}"
        )
    if array.shape != np.shape(value):
        raise ArgumentError(
            f"pullback of {name}: the cotangent{where} has shape {array.shape}, but the "
            f"result{where} has shape {np.shape(value)}; pass an array shaped like the result"
        )
    if isinstance(value, np.ndarray) and not isinstance(cotangent, np.ndarray):
        return array.astype(np.result_type(array.dtype, 1.0))
    return cotangent


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"{type(value).__name__} {value!r}"
