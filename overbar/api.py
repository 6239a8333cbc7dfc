"""The public entry points: ``grad``, ``value_and_grad`` and ``check_grad``.

A ``GradientFunction`` resolves ``wrt`` against the function's signature when it is created,
transforms the function on first use, and keeps the compiled adjoints (cached per function,
``wrt`` and the shapes of the arguments), so that a call is the generated function's own time
plus a lookup.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from overbar import cache as disk_cache
from overbar import guard, origins
from overbar.entry import argument_key, make_entry, storable
from overbar.errors import (
    ArgumentError,
    GradientMismatchError,
    NonScalarOutputError,
    OverbarError,
    UnsupportedSyntaxError,
)
from overbar.runtime import NUMPY
from overbar.runtime import shapes as shape_kinds
from overbar.runtime.arrays import is_foreign_array, library_name, unknown_shape
from overbar.runtime.shapes import (
    INTEGER,
    Instance,
    argument_shape,
    classes_only,
    container_shape,
    is_integer,
    skeleton,
)
from overbar.transpiler import pipeline
from overbar.transpiler.bindings import bindings_hold, bindings_of
from overbar.transpiler.fence import check_definition
from overbar.transpiler.forward_pipeline import (
    ForwardStages,
    all_forward_sources,
    link_jvps,
    transform_forward,
)
from overbar.transpiler.kept import STORE, cache_of, is_own
from overbar.transpiler.optimisations import ALL, LITERAL, Optimisations
from overbar.transpiler.parse import function_with_arity, keyword_names, parse
from overbar.transpiler.pipeline import Stages, all_sources, finish, kept_once
from overbar.trees import (
    Path,
    described,
    is_container,
    leaf_at,
    leaves,
    map_leaves,
    replaced,
)

Wrt = int | str | Sequence[int | str]

_FLOAT64 = np.dtype(np.float64)
_MOST_KEYS = 64  # argument keys remembered per gradient (a new batch size is a new key)


def transformed(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...] = (),
    with_value: bool = True,
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
    assume_lengths: bool = False,
) -> Stages:
    """The transformation of ``function`` for ``wrt``, specialised on the parameters' ``shapes``
    (pairs of name and ``argument_shape``; none for the general adjoint; ignored where
    ``optimisations.shapes`` is off) and on the ``functions`` the call binds parameters to
    (name and function pairs: a call of such a parameter is a call of that function),
    returning the value with the gradients or not; computed once (one thread computes it, the
    others wait) and kept with the function. This is the reverse adjoint always (what a second
    derivative differentiates again); ``gradient_stages`` is what a gradient runs. With
    ``assume_lengths``, what a gradient runs: an adjoint that may check relations between the
    arguments' lengths at its entry and call another adjoint where they fail
    (``pipeline.guarded``), which a second derivative could not differentiate again."""
    key = _stages_key(wrt, shapes, with_value, optimisations, functions, assume_lengths)
    return kept_once(function, key, lambda: _transform(function, key))


def gradient_stages(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...] = (),
    with_value: bool = True,
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
) -> Stages | ForwardStages:
    """The transformation a gradient for arguments of these ``shapes`` runs: by forward mode
    where ``forward_dims`` says so and forward mode takes the function
    (``forward_gradient_stages``), else the reverse adjoint (``transformed``)."""
    found = forward_gradient_stages(function, wrt, shapes, with_value, optimisations, functions)
    if found is not None:
        return found
    return transformed(
        function, wrt, shapes, with_value, optimisations, functions, assume_lengths=True
    )


def gradient_sources(stages: Stages | ForwardStages) -> str:
    """The source of what a gradient runs, then those of the helpers' pullbacks (or jvps)."""
    if isinstance(stages, ForwardStages):
        return all_forward_sources(stages)
    return all_sources(stages)


def forward_dims(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...],
    optimisations: Optimisations,
    functions: tuple[tuple[str, Any], ...] = (),
) -> tuple | None:
    """The dims of the one parameter a gradient is taken with respect to by forward mode
    (``Optimisations.forward``), or None for the reverse adjoint: where ``wrt`` names one
    parameter whose shape (a number's, or an array's) says it has one element, and the
    function is not specialised on functions passed to it, nor a method or given an object
    (what only the reverse pipeline specialises on)."""
    if not optimisations.forward or len(wrt) != 1 or functions:
        return None
    shape = dict(shapes).get(wrt[0])
    if not isinstance(shape, tuple) or any(size != 1 for size in shape):
        return None
    if pipeline.reads_methods(function, shapes):
        return None
    return shape


_REFUSED = "refused by forward mode"  # kept where forward mode refused: the reverse is taken


def forward_gradient_stages(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...] = (),
    with_value: bool = True,
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
) -> ForwardStages | None:
    """The gradient by forward mode (``x_dot = one_like(x)`` carried beside ``x``), made once
    and kept; None where ``forward_dims`` says the reverse adjoint, or where forward mode
    refuses the function at transformation time (an ``OverbarError``): the reverse adjoint
    then stands, and says what it refuses itself."""
    dims = forward_dims(function, wrt, shapes, optimisations, functions)
    if dims is None:
        return None
    known = _known(shapes, optimisations)
    key = ("forward gradient", wrt, known, dims, with_value, optimisations.inline)

    def make() -> Any:
        try:
            with pipeline.collector_paused():
                stages = transform_forward(
                    function,
                    wrt,
                    NUMPY,
                    dict(known) or None,
                    tangent_only=not with_value,
                    gradient=dims,
                    inline=optimisations.inline,
                )
                link_jvps(stages.emitted.function)
        except OverbarError:
            return _REFUSED
        return stages

    found = kept_once(function, key, make)
    return None if found is _REFUSED else found


def _stages_key(
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...],
    with_value: bool,
    optimisations: Optimisations,
    functions: tuple[tuple[str, Any], ...] = (),
    assume_lengths: bool = False,
) -> tuple:
    # the functions themselves are in the key (held, so that no other takes their ids)
    known = _known(shapes, optimisations)
    return ("stages", wrt, known, with_value, optimisations, functions, assume_lengths)


def _transform(function: Callable, key: tuple) -> Stages:
    """The transformation ``transformed`` keeps under ``key``, made (and finished) now."""
    _, wrt, shapes, with_value, optimisations, functions, assume_lengths = key
    # Looked up on the module each time: a test (or a profiler) may wrap it.
    stages = pipeline.transform(
        function,
        wrt,
        NUMPY,
        parameter_shapes=dict(shapes) or None,
        with_value=with_value,
        optimisations=optimisations,
        functions=functions,
        assume_lengths=assume_lengths,
    )
    finish(stages)
    return stages


def compiled_adjoint(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...] = (),
    with_value: bool = True,
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
) -> Callable:
    """The compiled adjoint ``transformed`` makes, read from the disk cache where it holds it
    (``overbar.cache``), and written there when it is made (not where it is specialised on
    functions passed to it: what they are is not in the cache's key)."""
    dims = forward_dims(function, wrt, shapes, optimisations, functions)
    given, shapes = shapes, _known(shapes, optimisations)
    key = ("adjoint", wrt, shapes, with_value, optimisations)
    if functions:
        key += (functions,)
    if dims is not None:  # without the shapes pass, the known shapes do not say it
        key += (("forward", dims),)

    def make() -> Callable:
        on_disk = not functions and not pipeline.reads_methods(function, shapes)
        found = disk_cache.load(function, key) if on_disk else None
        if found is not None and dims is not None:
            link_jvps(found)  # the helpers' jvps a gradient by forward mode calls
        if found is None and dims is not None:
            # Stored under the adjoint's key: where forward mode refused the function in an
            # earlier run, the reverse adjoint stored then is found, and it is not tried again.
            forward = forward_gradient_stages(function, wrt, given, with_value, optimisations)
            if forward is not None:
                found = forward.emitted.function
                if on_disk:
                    disk_cache.store(function, key, forward)
        if found is None:
            # The stages are kept if something asked for them (``stages_for``), not for a
            # call, which needs the compiled function alone: the syntax trees of every stage
            # (a hundred thousand nodes for 800 lines) are then freed as soon as it is made,
            # instead of being kept for good, and scanned again and again by the garbage
            # collector (a tenth of the first call). ``stages_for`` transforms again.
            stages_key = _stages_key(
                wrt, shapes, with_value, optimisations, functions, assume_lengths=True
            )
            with pipeline.collector_paused():  # until the trees are freed
                stages = cache_of(function).get(stages_key) or _transform(function, stages_key)
                found = stages.emitted.function
                if on_disk:
                    disk_cache.store(function, key, stages)
                del stages
        return found

    return kept_once(function, key, make)


def _known(
    shapes: tuple[tuple[str, Any], ...], optimisations: Optimisations
) -> tuple[tuple[str, Any], ...]:
    """The shapes a transformation is specialised on: all that is known, or without the
    ``shapes`` optimisation the classes of objects (their methods are called), the structure
    of containers of parameters (their adjoints are containers) and which arguments are ints
    (``i = steps; i -= 1`` rebinds a number): what the adjoint needs to be right at all."""
    if not optimisations.shapes:
        shapes = tuple(
            (
                name,
                (
                    classes_only(shape)
                    if isinstance(shape, Instance)
                    else INTEGER if is_integer(shape) else skeleton(shape)
                ),
            )
            for name, shape in shapes
        )
    return tuple((name, shape) for name, shape in shapes if shape is not None)


class GradientFunction:
    """``function``'s gradient (and, with ``with_value``, its value) as a callable.

    A call runs the adjoint compiled for its arguments' shapes (ranks and which dimensions are
    1): the first call with new shapes transforms the function for them, later ones find the
    adjoint through a generated entry function (see ``overbar.entry``). ``optimise`` chooses
    the optimising passes (False: the literal adjoint); ``check`` validates each new adjoint on
    its first call (``overbar.guard``; None: as the environment variable OVERBAR_CHECK says).
    """

    __overbar_transform__ = True

    def __new__(cls, function: Any = None, wrt: Wrt = 0, *args: Any, **kwargs: Any) -> Any:
        """The gradient of a bound method ``obj.loss`` is that of ``loss`` bound to ``obj``
        (a ``types.MethodType``): ``wrt`` counts the method's own parameters, not ``self``;
        ``wrt="self"`` (the first parameter's name) differentiates with respect to ``obj``,
        whose gradient is a dict of the gradients of the attributes ``loss`` reads.
        Its other attributes are those of ``loss``'s gradient: ``source_for(obj, x, ...)``."""
        if inspect.ismethod(function) and inspect.isfunction(function.__func__):
            names, single = _resolve_wrt_of_method(function, wrt)
            gradient = cls(function.__func__, names[0] if single else names, *args, **kwargs)
            return types.MethodType(gradient, function.__self__)
        return super().__new__(cls)

    def __init__(
        self,
        function: Callable,
        wrt: Wrt = 0,
        with_value: bool = False,
        optimise: bool | Optimisations = True,
        check: bool | None = None,
    ):
        # grad(grad(f)): what reverse over reverse refuses (a loop) is forward over reverse
        self._inner = function if isinstance(function, GradientFunction) else None
        self._by_forward_mode: set[tuple] = set()  # the shapes it is taken for so (see there)
        function = differentiable_form(function)
        # What the def alone rules out (its source unreadable, *args, ...) is refused now.
        parsed = parse(function)
        check_definition(parsed)
        if not inspect.isfunction(function):
            raise ArgumentError(
                f"overbar.grad needs a Python function defined with def, not {function!r}"
            )
        functools.update_wrapper(self, function)
        self.__dict__.pop(STORE, None)  # the function's own cache is not the gradient's
        self.__wrapped__ = function
        self._optimise, self._wrt_given = optimise, wrt
        self.wrt, self._single = _resolve_wrt(function, wrt)
        # The generated code returns a bare gradient for one parameter; wrt=("x",) wants (g,).
        self._one_in_tuple = not self._single and len(self.wrt) == 1
        self._with_value = with_value
        self.optimisations = _optimisations(optimise)
        self._check = check
        self._checked: set[tuple] = set()
        self._signature = inspect.signature(function)
        self._parameters = [
            p
            for p in self._signature.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        self._differentiated = tuple(
            p.name in self.wrt for p in self._signature.parameters.values()
        )
        self._specialised: dict[tuple, Callable] = {}
        self._bindings: list = []  # what the adjoints read (transpiler/bindings.py)
        self._parsed = parsed
        result = self._result_expression()
        self._finish = eval(f"lambda returned: {result}")  # what the slow path returns, too
        entry = make_entry(
            function,
            self.wrt,
            self._specialised,
            self._call_slow,
            result,
            self._located,
            NonScalarOutputError,
            origins.annotate,
            self._bindings,
        )
        # Each gradient gets a class of its own whose __call__ is the entry itself: a __call__
        # forwarding to the entry would double the time a call adds to the adjoint's own.
        self.__class__ = type(
            type(self).__name__, (type(self),), {"__call__": staticmethod(entry)}
        )

    def __overbar_as_inner__(self) -> InnerGradient:
        """This gradient as a call of it inside a differentiated function is differentiated
        (``InnerGradient``). Refused (``ArgumentError``): one returning the value too, or a
        tuple of one gradient (``wrt=("x",)``)."""
        if self._one_in_tuple:
            raise ArgumentError('wrt names one parameter in a tuple; name it alone (wrt="x")')
        if self._with_value:
            raise ArgumentError("it returns the value with the gradient; take overbar.grad")
        return InnerGradient(self)

    @property
    def stages(self) -> Stages:
        """Every stage of the general transformation (for arguments of any shape)."""
        return transformed(
            self.__wrapped__,
            self.wrt,
            with_value=self._with_value,
            optimisations=self.optimisations,
        )

    @property
    def source(self) -> str:
        """The general adjoint, black-formatted (then the pullbacks of helpers it calls)."""
        return all_sources(self.stages)

    def stages_for(self, *args: Any, **kwargs: Any) -> Stages | ForwardStages:
        """Every stage of the transformation specialised for arguments shaped like these (of
        the gradient by forward mode, where that is what such a call runs)."""
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        shapes = self._shapes(bound.arguments)
        functions = _passed_functions(bound.arguments, self.wrt)
        return gradient_stages(
            self.__wrapped__, self.wrt, shapes, self._with_value, self.optimisations, functions
        )

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The code a call with these arguments runs: specialised on their shapes."""
        return gradient_sources(self.stages_for(*args, **kwargs))

    def _shapes(self, arguments: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        """What the adjoint for these arguments is specialised on: each one's shape, and the
        structure of each container of parameters (a dict, list or tuple to differentiate) and
        of each dict (its keys: a loop over a dict walks them)."""
        return tuple(
            (
                p.name,
                (
                    container_shape(arguments[p.name])
                    if type(arguments[p.name]) is dict
                    or (p.name in self.wrt and is_container(arguments[p.name]))
                    else argument_shape(arguments[p.name])
                ),
            )
            for p in self._parameters
        )

    def _second_derivative_by_forward_mode(
        self, bound: inspect.BoundArguments, error: UnsupportedSyntaxError
    ) -> bool:
        """Whether this is ``grad(grad(f, wrt=x))`` with ``x`` a number, which reverse over
        reverse refused for a loop in ``f``'s adjoint (its stack's pops): then forward over
        reverse gives it (``_second_derivative``)."""
        return (
            self._inner is not None
            and "reverse sweep of a loop" in error.message
            and np.ndim(bound.arguments[self._inner.wrt[0]]) == 0
        )

    def _second_derivative(self, bound: inspect.BoundArguments) -> Any:
        """``∂/∂y (∂f/∂x)`` for each differentiated ``y``, where the inner gradient is with
        respect to the number ``x``: by forward over reverse, the Hessian of ``f`` times the
        unit vector along ``x`` (``overbar.hvp``), read at each ``y`` (the mixed partials of a
        twice continuously differentiable ``f`` agree, as reverse over reverse assumes no less).
        """
        from overbar.hessians import hvp  # hessians is built on this module

        inner = self._inner
        x = inner.wrt[0]
        names = tuple(dict.fromkeys((x, *self.wrt)))
        arguments = tuple(bound.arguments[p.name] for p in self._parameters)
        vectors = tuple(
            np.ones_like(bound.arguments[n]) if n == x else np.zeros_like(bound.arguments[n])
            for n in names
        )
        products = hvp(inner.__wrapped__, arguments, vectors, wrt=names, optimise=inner._optimise)
        blocks = tuple(products[names.index(n)] for n in self.wrt)
        gradients = blocks[0] if self._single else blocks
        if self._one_in_tuple:
            gradients = gradients[0]
        if not self._with_value:
            return self._finish(gradients)
        return self._finish((inner(*arguments), gradients))

    def _result_expression(self) -> str:
        """What the entry returns, of ``returned``, what the adjoint returns: (value, gradients)
        for value_and_grad, the gradients for grad."""
        if not self._with_value:
            return "(returned,)" if self._one_in_tuple else "returned"
        return "(returned[0], (returned[1],))" if self._one_in_tuple else "returned"

    def _call_slow(self, *args: Any, **kwargs: Any) -> Any:
        """A call whose key is not remembered: check the arguments, find (or make) the adjoint
        for their shapes, remember it under the key if the key says all there is to check."""
        if not bindings_hold(self._bindings):  # a function it read was rebound: derive again
            self._specialised.clear()
            self._checked.clear()
            self._by_forward_mode.clear()
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for name in self.wrt:
            value = bound.arguments[name]
            if type(value) is not np.ndarray or value.dtype is not _FLOAT64:
                self._check_input(name, value)
        for name, value in bound.arguments.items():
            parts = leaves(value) if name in self.wrt else [((), value)]
            for path, part in parts:
                if isinstance(part, np.ndarray) and _redefines_operators(type(part)):
                    self._refuse_subclass(described(name, path), part)
                if unknown_shape(part):
                    self._refuse_unknown_shape(described(name, path), part)
        shapes = self._shapes(bound.arguments)
        functions = _passed_functions(bound.arguments, self.wrt)
        if (shapes, functions) in self._by_forward_mode:
            return self._second_derivative(bound)
        try:
            compiled = compiled_adjoint(
                self.__wrapped__, self.wrt, shapes, self._with_value, self.optimisations, functions
            )
        except UnsupportedSyntaxError as error:
            if not self._second_derivative_by_forward_mode(bound, error):
                raise
            self._by_forward_mode.add((shapes, functions))  # not refused again at each call
            return self._second_derivative(bound)
        key = tuple(
            (
                None
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                else argument_key(bound.arguments[p.name], p.name in self.wrt)
            )
            for p in self._signature.parameters.values()
        )
        checking = self._check if self._check is not None else guard.enabled_by_environment()
        random_state = np.random.get_state() if checking else None
        try:
            returned = compiled(*args, **kwargs)
        except NonScalarOutputError as error:
            raise self._located(error) from None
        except Exception as error:
            origins.annotate(error)
            raise
        if checking and (key not in self._checked or functions):
            self._validate(shapes, args, kwargs, returned, random_state, functions)
            self._checked.add(key)
        if storable(key, self._differentiated):  # remembered once it ran (and passed a check)
            if len(self._specialised) >= _MOST_KEYS:
                self._specialised.clear()
            self._specialised[key] = compiled
            self._bindings[:] = bindings_of(self.__wrapped__)
        return self._finish(self._in_argument_dtypes(bound.arguments, returned))

    def _in_argument_dtypes(self, arguments: dict[str, Any], returned: Any) -> Any:
        """``returned`` with the gradient of each array (or NumPy number) of floats in its
        argument's dtype, where one is not float64: the adjoint computes in the widest dtype it
        meets, so where the function mixes float32 with float64 values a float32 argument's
        gradient would come out float64 (and a float64 argument's float32 where it only meets
        float32 values)."""
        floats = [
            name
            for name in self.wrt
            if (
                type(arguments[name]) is np.ndarray
                or isinstance(arguments[name], np.floating)
                or is_foreign_array(arguments[name])
            )
            and arguments[name].dtype.kind == "f"
        ]
        if all(arguments[name].dtype is _FLOAT64 for name in floats):
            return returned
        narrow = {name: arguments[name].dtype for name in floats}
        gradients = returned[1] if self._with_value else returned
        listed = [gradients] if len(self.wrt) == 1 else list(gradients)
        for index, name in enumerate(self.wrt):
            gradient = listed[index]
            if name in narrow and getattr(gradient, "dtype", narrow[name]) != narrow[name]:
                if isinstance(arguments[name], np.floating):  # a NumPy number's: a number
                    listed[index] = narrow[name].type(gradient)
                    continue
                if not is_foreign_array(gradient):  # another library's array stays its own
                    gradient = np.asarray(gradient)
                listed[index] = gradient.astype(narrow[name])
        gradients = listed[0] if len(self.wrt) == 1 else tuple(listed)
        return (returned[0], gradients) if self._with_value else gradients

    def _validate(self, shapes, args, kwargs, returned, random_state, functions=()) -> None:
        """The guard: ``returned`` against the literal adjoint and central differences. Where
        the gradient ran by forward mode and reverse mode refuses the function (the loop of an
        adjoint differentiated again, ``grad(grad(f))``), against central differences alone."""
        wrapped, wrt, with_value = self.__wrapped__, self.wrt, self._with_value
        try:
            literal = compiled_adjoint(wrapped, wrt, shapes, with_value, LITERAL, functions)
        except UnsupportedSyntaxError:
            if forward_dims(wrapped, wrt, shapes, self.optimisations, functions) is None:
                raise
            literal = None

        def sources() -> tuple[str, str]:
            optimised = gradient_stages(
                wrapped, wrt, shapes, with_value, self.optimisations, functions
            )
            if literal is None:
                return gradient_sources(optimised), "(refused by reverse mode)"
            reference = transformed(wrapped, wrt, shapes, with_value, LITERAL, functions)
            return gradient_sources(optimised), all_sources(reference)

        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()  # an argument to differentiate may be a default
        args, kwargs = bound.args, bound.kwargs
        positions = _positions(self.__wrapped__)
        subject = guard.Subject(
            self.__wrapped__,
            args,
            kwargs,
            self.wrt,
            {name: index for name, index in positions.items() if index < len(args)},
            self._with_value,
        )
        guard.validate(
            subject,
            returned,
            literal,
            sources,
            random_state,
        )

    def _located(self, error: NonScalarOutputError) -> NonScalarOutputError:
        parsed = self._parsed
        return NonScalarOutputError(
            f"{error.message} (in {self.__wrapped__.__qualname__})",
            parsed.location(parsed.tree.body[-1]),
        )

    def _check_input(self, name: str, value: Any) -> None:
        if not is_container(value):
            if not NUMPY.is_differentiable_input(value):
                self._refuse_input(name, value)
            return
        for path, leaf in leaves(value):  # a container of parameters: each leaf
            if not NUMPY.is_differentiable_input(leaf):
                self._refuse_input(described(name, path), leaf, container=True)

    def _refuse_input(self, name: str, value: Any, container: bool = False) -> None:
        within = (
            " (a dict, list or tuple of parameters may hold only arrays, numbers and such "
            "containers)"
            if container or is_container(value)
            else ""
        )
        if is_foreign_array(value):
            advice = "pass an array of floats (x.astype(float))"
        else:
            advice = (
                "pass a NumPy array of numbers (np.asarray), an array of floats of a library "
                "that NumPy's functions dispatch to (Dask, CuPy), or a Python number"
            )
        raise ArgumentError(
            f"{self.__wrapped__.__qualname__}: cannot differentiate with respect "
            f"to {name}, which is {NUMPY.describe_input(value)}{within}; {advice}"
        )

    def _refuse_unknown_shape(self, name: str, value: Any) -> None:
        raise ArgumentError(
            f"{self.__wrapped__.__qualname__}: argument {name} is a {library_name(value)} "
            f"of shape {value.shape}, whose sizes are not known without computing it (NaN: "
            "unknown chunk sizes, after a boolean mask, say); the adjoint needs every "
            f"argument's shape: call {name}.compute_chunk_sizes() first"
        )

    def _refuse_subclass(self, name: str, value: Any) -> None:
        raise ArgumentError(
            f"{self.__wrapped__.__qualname__}: argument {name} is "
            f"{NUMPY.describe_input(value)}, whose operators differ from an ndarray's (for "
            "np.matrix, * is a matrix product), so the adjoint rules do not hold for it; pass "
            "np.asarray(value)"
        )

    def __reduce__(self) -> Any:
        """Pickled by reference where the gradient is what its module's attribute names (a
        decorated module-level function), otherwise as its function and options: the other
        side builds it again (and compiles, or reads the disk cache, on first call)."""
        module = sys.modules.get(self.__module__)
        if module is not None and _attribute(module, self.__qualname__) is self:
            return self.__qualname__
        function = self.__wrapped__
        # A def decorated with another gradient: its module holds that gradient, not the def.
        holder = _attribute(sys.modules.get(function.__module__), function.__qualname__)
        reference = holder if getattr(holder, "__wrapped__", None) is function else function
        return (
            _rebuild,
            (reference, self._wrt_given, self._with_value, self._optimise, self._check),
        )

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<overbar.{kind} of {self.__wrapped__.__qualname__} wrt {self.wrt}>"


def differentiable_form(function: Any) -> Any:
    """``function``, or where it is a gradient overbar made (``grad(f)``), its generated
    adjoint for arguments of any shape: a plain function, which overbar differentiates like
    any other (``grad(grad(f))``; the runtime helpers it calls have adjoint rules in
    ``runtime/rules_helpers.py``). Its helpers' pullbacks run them again (``residuals`` off):
    a call unpacking a tuple of residuals, ``lse_pullback(*lse_residuals, ...)``, cannot be
    differentiated again."""
    if isinstance(function, GradientFunction):
        if function._with_value:
            raise ArgumentError(
                f"cannot differentiate {function!r}: it returns the value with the gradient; "
                "differentiate overbar.grad of the function instead"
            )
        first_order = replace(function.optimisations, residuals=False)
        return transformed(
            function.__wrapped__, function.wrt, with_value=False, optimisations=first_order
        ).emitted.function
    return function


def grad(
    function: Callable | None = None,
    *,
    wrt: Wrt = 0,
    optimise: bool | Optimisations = True,
    check: bool | None = None,
) -> Any:
    """The gradient of a scalar-valued ``function`` with respect to ``wrt``.

    ``wrt`` names parameters by position or by name; a tuple gives a tuple of gradients, each
    shaped like its argument. Use as ``@grad``, ``@grad(wrt=...)`` or ``grad(f, wrt=...)``.
    ``optimise=False`` compiles the literal adjoint (one rule application per line; an
    ``Optimisations`` chooses passes one by one). ``check=True`` validates each newly compiled
    adjoint on its first call against the literal adjoint and central differences, and raises
    ``GradientCheckError`` where they disagree; the default follows the environment variable
    ``OVERBAR_CHECK``.
    """
    if function is None:
        return lambda decorated: gradient_of(decorated, wrt, False, optimise, check)
    return gradient_of(function, wrt, False, optimise, check)


def _inner_gradient(
    function: Callable | None = None,
    *,
    wrt: Wrt = 0,
    optimise: bool | Optimisations = True,
    check: bool | None = None,
) -> Callable:
    """What ``overbar.grad(function, wrt=...)`` called inside a differentiated function is
    differentiated as: the adjoint overbar generates for ``function`` (``InnerGradient``)."""
    if function is None:
        raise ArgumentError("overbar.grad inside a differentiated function needs the function")
    gradient = grad(function, wrt=wrt, optimise=optimise, check=check)
    if isinstance(gradient, ArityGradient):
        raise ArgumentError(
            f"{function.__qualname__} takes *args or **kwargs; name its parameters"
        )
    return gradient.__overbar_as_inner__()


def _holds_dict(shape: Any) -> bool:
    """Whether a shape is that of a dict, or of a tuple or list holding one (at any depth)."""
    if not isinstance(shape, shape_kinds.Sequence):
        return False
    parts = [*(shape.elements or ()), shape.element]
    return shape.mapping or any(_holds_dict(part) for part in parts)


class InnerGradient:
    """A gradient called inside a differentiated function, as the reverse sweep sees it: a
    helper whose pullback is that of the adjoint overbar generates for the wrapped function,
    specialised on what is known of the arguments' shapes at the call (the structure of a
    container of parameters among them)."""

    def __init__(self, gradient: GradientFunction):
        self.gradient = gradient
        self.__signature__ = inspect.signature(gradient.__wrapped__)
        self.__name__ = f"{gradient.__wrapped__.__name__}_grad"
        self.__qualname__ = self.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.gradient(*args, **kwargs)

    def __overbar_result_shape__(self, operands: tuple, keywords: dict) -> Any:
        """The shape of the gradient for arguments of these shapes (``Operand``s): that of
        the argument it is taken with respect to, or the tuple of theirs."""
        try:
            bound = self.__signature__.bind(*operands, **keywords)
        except TypeError:
            return None
        shapes = [getattr(bound.arguments.get(name), "shape", None) for name in self.gradient.wrt]
        return shapes[0] if self.gradient._single else shape_kinds.tuple_of(tuple(shapes))

    def __overbar_function_for__(self, shapes: tuple[tuple[str, Any], ...]) -> Callable:
        """The generated gradient function for arguments of these shapes (a plain function).
        Its helpers' pullbacks run them again (``residuals`` off, as in
        ``differentiable_form``): a call unpacking a tuple of residuals cannot be
        differentiated again. For a gradient with respect to a dict, the adjoint is built
        without the pass that writes a dict's gradient entry by entry (a write into a dict is
        not differentiated)."""
        gradient = self.gradient
        optimisations = dataclasses.replace(gradient.optimisations, residuals=False)
        if any(_holds_dict(shape) for name, shape in shapes if name in gradient.wrt):
            # a dict's gradient written entry by entry (d_bar["W"] = ...) is a write into a
            # dict, which is not differentiated; built by displays and sums of dicts, it is
            optimisations = dataclasses.replace(optimisations, simplify=False)
        stages = transformed(gradient.__wrapped__, gradient.wrt, shapes, False, optimisations)
        return stages.emitted.function

    def __overbar_hessian_product__(
        self, wrt: tuple[str, ...], seed: str, shapes: tuple[tuple[str, Any], ...]
    ) -> Callable:
        """The pullback of this gradient with respect to the parameters ``wrt`` by forward
        over reverse (``hessians.InnerHessianProduct``), for arguments of these ``shapes``,
        taking the gradient's adjoint by the keyword ``seed``. Refused (``OverbarError``)
        where forward mode refuses the gradient."""
        from overbar.hessians import InnerHessianProduct  # hessians is built on this module

        gradient = self.gradient
        return InnerHessianProduct(
            gradient.__wrapped__,
            gradient.wrt,
            gradient._single,
            gradient._optimise,
            wrt,
            seed,
            shapes,
        )

    def __repr__(self) -> str:
        return f"<overbar inner gradient of {self.gradient.__wrapped__.__qualname__}>"


grad.__overbar_gradient_of__ = _inner_gradient


def value_and_grad(
    function: Callable | None = None,
    *,
    wrt: Wrt = 0,
    optimise: bool | Optimisations = True,
    check: bool | None = None,
) -> Any:
    """Like ``grad``, but the result is ``(function(...), gradients)`` from one run."""
    if function is None:
        return lambda decorated: gradient_of(decorated, wrt, True, optimise, check)
    return gradient_of(function, wrt, True, optimise, check)


def gradient_of(
    function: Any, wrt: Wrt, with_value: bool, optimise: bool | Optimisations, check: bool | None
) -> Any:
    """The ``GradientFunction`` of ``function`` for these options: made once, then found (in
    well under a microsecond) where ``function`` keeps overbar's cache, so that
    ``overbar.grad(loss)(params)`` in a loop costs what a held gradient's call does. It goes
    when the function goes."""
    inner = function if isinstance(function, GradientFunction) else None
    function = differentiable_form(function)
    key = ("gradient", wrt, with_value, optimise, check)
    if type(function) is types.FunctionType:
        try:
            kept = function.__dict__[STORE]
            if is_own(kept, function):
                return kept[key]
        except (KeyError, TypeError):  # not made yet, or wrt is a list
            pass
    if inspect.ismethod(function) and inspect.isfunction(function.__func__):
        names, single = _resolve_wrt_of_method(function, wrt)
        unbound = gradient_of(
            function.__func__, names[0] if single else names, with_value, optimise, check
        )
        return types.MethodType(unbound, function.__self__)
    if _collects_args(function):
        gradient = ArityGradient(function, wrt, with_value, optimise, check)
    else:
        gradient = GradientFunction(function, wrt, with_value, optimise, check)
        gradient._inner = inner
    try:
        hash(key)
    except TypeError:
        key = ("gradient", tuple(wrt), with_value, optimise, check)
    return cache_of(function).setdefault(key, gradient)


def _passed_functions(arguments: dict[str, Any], wrt: tuple[str, ...]) -> tuple:
    """The arguments (not differentiated) that are functions (a NumPy function, one of the
    user's, a lambda; its default included), as name and function pairs: the adjoint is
    specialised on them, so that a call of such a parameter is a call of its function."""
    return tuple(
        (name, value)
        for name, value in arguments.items()
        if name not in wrt and _is_function(value)
    )


def _is_function(value: Any) -> bool:
    if isinstance(value, type | np.ndarray) or not callable(value):
        return False
    if argument_shape(value) is not None or is_container(value):
        return False
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _collects_args(function: Any) -> bool:
    """Whether ``function`` is a Python function with ``*args`` or ``**kwargs``."""
    if type(function) is not types.FunctionType:
        return False
    return bool(function.__code__.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))


def call_arity(function: types.FunctionType, args: tuple, kwargs: dict) -> tuple:
    """What a call of ``function`` (with ``*args`` or ``**kwargs``) passing ``args`` and
    ``kwargs`` is specialised on (``parse.with_arity``): the number of arguments its ``*args``
    collects (None without one) and the keywords its ``**kwargs`` collects, in the call's
    order (None without one), each its name, or the key and the value where that is a bool,
    None or a string (``allow_singular=False``: a constant of the specialisation)."""
    code = function.__code__
    count = max(0, len(args) - code.co_argcount) if code.co_flags & inspect.CO_VARARGS else None
    if not code.co_flags & inspect.CO_VARKEYWORDS:
        return count, None
    named = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    named -= set(code.co_varnames[: code.co_posonlyargcount])
    keywords = tuple(
        (key, value) if value is None or type(value) in (bool, str) else key
        for key, value in kwargs.items()
        if key not in named
    )
    return count, keywords


def function_for_call(function: types.FunctionType, args: tuple, kwargs: dict) -> Any:
    """``function`` (with ``*args`` or ``**kwargs``) specialised for a call passing ``args``
    and ``kwargs`` (``parse.function_with_arity``), made once per ``call_arity`` and kept
    with the function, and the keywords of the call as it takes them: ``**kwargs``'s
    renamed (``options_scale``), its constants left out."""
    arity = call_arity(function, args, kwargs)
    made = cache_of(function).setdefault("specialised on arity", {})
    if arity not in made:
        made[arity] = function_with_arity(function, arity)
    count, keywords = arity
    if not keywords:
        return made[arity], kwargs
    parameters = iter(keyword_names(function, tuple(k for k in keywords if isinstance(k, str))))
    renamed = {key: next(parameters) for key in keywords if isinstance(key, str)}
    constants = {key[0] for key in keywords if isinstance(key, tuple)}
    passed = {renamed.get(k, k): v for k, v in kwargs.items() if k not in constants}
    return made[arity], passed


def for_positional_call(function: Any, args: Sequence[Any]) -> Any:
    """``function``, or where it has ``*args`` or ``**kwargs``, the function specialised for a
    call passing ``args`` by position and no keyword (``function_for_call``): what ``vjp``,
    ``jacobian``, ``hvp`` and ``hessian``, which take the arguments by position, differentiate.
    """
    if not _collects_args(function):
        return function
    return function_for_call(function, tuple(args), {})[0]


class ArityGradient:
    """The gradient of a function with ``*args`` or ``**kwargs`` (``lambda *args: ...``,
    ``def wrapped(*args, **kwargs)``): each call passes a number of positional arguments and
    some keywords, and is differentiated as the function specialised on them
    (``function_for_call``: ``*args`` becomes a parameter per argument, ``**kwargs`` a
    keyword-only parameter per keyword, or the constant a keyword passes), whose
    ``GradientFunction`` is made once per specialisation. ``wrt`` counts positions in the
    call, as autograd's ``argnum`` does (``wrt=1`` is ``args[0]`` of ``f(x, *args)``), or
    names the parameters before ``*args``, or a keyword ``**kwargs`` collects in this call
    (``wrt="scale"`` of ``f(x, scale=s)``): a keyword is differentiated only where ``wrt``
    names it. ``wrt`` naming ``*args`` or ``**kwargs`` itself is refused (``ArgumentError``):
    give the positions, or the keywords' names."""

    __overbar_transform__ = True

    def __init__(
        self,
        function: types.FunctionType,
        wrt: Wrt,
        with_value: bool,
        optimise: bool | Optimisations,
        check: bool | None,
    ):
        parsed = parse(function)  # its source readable
        requested = [wrt] if isinstance(wrt, int | str) else list(wrt)
        arguments = parsed.tree.args
        if arguments.vararg is not None and arguments.vararg.arg in requested:
            vararg = arguments.vararg.arg
            raise ArgumentError(
                f"wrt names *{vararg} of {function.__qualname__}: give the positions of the "
                f"arguments it collects instead (wrt=1 for f(x, *{vararg}) called as f(x, y))"
            )
        if arguments.kwarg is not None and arguments.kwarg.arg in requested:
            kwarg = arguments.kwarg.arg
            raise ArgumentError(
                f"wrt names **{kwarg} of {function.__qualname__}: name the keywords it "
                f'collects instead (wrt="scale" for f(x, **{kwarg}) called as f(x, scale=s))'
            )
        functools.update_wrapper(self, function)
        self.__dict__.pop(STORE, None)
        self.__wrapped__ = function
        self._wrt = wrt
        self._options = (with_value, optimise, check)
        self._made: dict[Any, Any] = {}

    def for_call(self, args: tuple, kwargs: dict) -> tuple[Any, dict]:
        """The ``GradientFunction`` of the function specialised for a call passing ``args``
        and ``kwargs``, and the keywords it takes them by."""
        made, passed = function_for_call(self.__wrapped__, args, kwargs)
        found = self._made.get(made)
        if found is None:
            wrt = self._specialised_wrt(made, kwargs)
            found = self._made.setdefault(made, GradientFunction(made, wrt, *self._options))
        return found, passed

    def for_arity(self, count: int) -> Any:
        """The ``GradientFunction`` of the function specialised on ``count`` arguments in
        ``*args`` (and no keyword in ``**kwargs``)."""
        named = self.__wrapped__.__code__.co_argcount
        return self.for_call((None,) * (named + count), {})[0]

    def _specialised_wrt(self, made: types.FunctionType, kwargs: dict) -> Wrt:
        """``wrt`` for the specialised function: a keyword ``**kwargs`` collects is named by
        the parameter it became; one this call does not pass is refused."""
        function = self.__wrapped__
        if not function.__code__.co_flags & inspect.CO_VARKEYWORDS:
            return self._wrt
        single = isinstance(self._wrt, int | str)
        requested = [self._wrt] if single else list(self._wrt)
        parameters = inspect.signature(made).parameters
        code = function.__code__
        kwarg = code.co_varnames[
            code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS)
        ]
        resolved = []
        for item in requested:
            if isinstance(item, str) and item not in parameters:
                if item not in kwargs:
                    raise ArgumentError(
                        f"wrt names {item!r}, which is neither a parameter of "
                        f"{function.__qualname__} nor a keyword this call passes to "
                        f"**{kwarg}; pass {item}=... or differentiate another argument"
                    )
                if kwargs[item] is None or type(kwargs[item]) in (bool, str):
                    raise ArgumentError(
                        f"wrt names {item!r}, which this call passes as "
                        f"{kwargs[item]!r}; a bool, None or a string has no derivative"
                    )
                item = keyword_names(function, (item,))[0]
            resolved.append(item)
        return resolved[0] if single else tuple(resolved)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        gradient, passed = self.for_call(args, kwargs)
        return gradient(*args, **passed)

    def stages_for(self, *args: Any, **kwargs: Any) -> Stages:
        """Every stage of the transformation for a call with these arguments."""
        gradient, passed = self.for_call(args, kwargs)
        return gradient.stages_for(*args, **passed)

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The adjoint a call with these arguments runs."""
        gradient, passed = self.for_call(args, kwargs)
        return gradient.source_for(*args, **passed)


def _rebuild(
    function: Any, wrt: Wrt, with_value: bool, optimise: bool | Optimisations, check: bool | None
) -> Any:
    """A gradient unpickled: ``function`` may be a gradient of the same def (see
    ``GradientFunction.__reduce__``)."""
    function = getattr(function, "__wrapped__", function)
    return gradient_of(function, wrt, with_value, optimise, check)


_OPERATORS = [
    *("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__neg__"),
    *("__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__"),
    *("__array_ufunc__", "__array_function__"),
]


def _redefines_operators(kind: type) -> bool:
    """Whether an ndarray subclass defines an arithmetic operator or NumPy's dispatch its own
    way (np.matrix, masked arrays), unlike np.memmap or np.recarray."""
    return kind is not np.ndarray and any(
        getattr(kind, name, None) is not getattr(np.ndarray, name) for name in _OPERATORS
    )


def _attribute(module: Any, qualname: str) -> Any:
    value = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
    return value


def _optimisations(optimise: bool | Optimisations) -> Optimisations:
    if isinstance(optimise, Optimisations):
        return optimise
    if isinstance(optimise, bool):
        return ALL if optimise else LITERAL
    raise ArgumentError(f"optimise is True, False or an overbar.Optimisations, not {optimise!r}")


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
    ones along random directions (the dot-product test). A dict, list or tuple of parameters
    is checked leaf by leaf, an object (a model, a dataclass) attribute by attribute. Raises
    ``GradientMismatchError`` with a report of the worst element when they disagree; returns
    the largest absolute error.
    """
    args = list(args)
    differentiated = function
    if _collects_args(function):  # *args: the function specialised on this many arguments
        differentiated = function_for_call(function, tuple(args), {})[0]
    gradient = GradientFunction(differentiated, wrt)
    analytic = gradient(*args)
    analytic = (analytic,) if gradient._single else tuple(analytic)
    positions = _positions(differentiated)
    rng = np.random.default_rng(seed)
    worst = 0.0
    problems = []
    for name, gradient_of_name in zip(gradient.wrt, analytic, strict=True):
        position = positions.get(name)
        if position is None or position >= len(args):
            raise ArgumentError(f"check_grad: pass {name} positionally in args")
        argument = args[position]
        if is_container(argument) and _kinds(argument) != _kinds(gradient_of_name):
            problems.append(f"  {name}: the gradient's structure differs from the argument's")
            continue
        as_object = _is_model_object(argument, gradient_of_name)
        parameters = _attributes(argument, gradient_of_name) if as_object else argument
        for path, original in leaves(parameters):  # a container of parameters: every leaf
            label = _attribute_path(name, path) if as_object else described(name, path)
            computed = leaf_at(gradient_of_name, path)
            if np.shape(computed) != np.shape(original):
                problems.append(
                    f"  {label}: gradient has shape {np.shape(computed)}, "
                    f"argument has shape {np.shape(original)}"
                )
                continue

            def loss_at(value, position=position, path=path, as_object=as_object):
                trial = list(args)
                if as_object:
                    trial[position] = _with_attribute(args[position], path, value)
                else:
                    trial[position] = replaced(args[position], path, value)
                return float(np.sum(function(*trial)))

            worst = max(
                worst,
                _compare_leaf(
                    label,
                    original,
                    computed,
                    loss_at,
                    eps,
                    rtol,
                    atol,
                    max_elements,
                    rng,
                    problems,
                ),
            )
    if problems:
        raise GradientMismatchError(
            f"gradient of {function.__qualname__} disagrees with central finite differences "
            f"(eps={eps}, rtol={rtol}, atol={atol}):\n" + "\n".join(problems)
        )
    return worst


def _is_model_object(argument: Any, gradient: Any) -> bool:
    """``argument`` is an object whose gradient ``grad`` gave by attribute name (a model, a
    dataclass of parameters): not a container, array or number, its gradient a dict."""
    return (
        type(gradient) is dict
        and not is_container(argument)
        and not isinstance(argument, np.ndarray | np.generic | int | float)
        and hasattr(argument, "__dict__")
    )


def _attributes(argument: Any, gradient: dict) -> dict:
    """The attributes of the object ``argument`` that ``gradient`` names, by name."""
    return {attribute: getattr(argument, attribute) for attribute in gradient}


def _attribute_path(name: str, path: Path) -> str:
    """How the user writes the leaf at ``path`` of the object ``name``: ``model.W[0]``."""
    return described(f"{name}.{path[0]}", path[1:])


def _with_attribute(argument: Any, path: Path, leaf: Any) -> Any:
    """A shallow copy of the object ``argument`` with ``leaf`` at ``path`` (an attribute, then
    the path in its value)."""
    trial = copy.copy(argument)
    setattr(trial, path[0], replaced(getattr(argument, path[0]), path[1:], leaf))
    return trial


def _compare_leaf(
    label, original, computed, loss_at, eps, rtol, atol, max_elements, rng, problems
) -> float:
    """Check one argument (or leaf of a container): element by element up to ``max_elements``
    elements, else along four random directions; a disagreement is added to ``problems``.
    Returns the largest absolute error."""
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
            (loss_at(_like(original, base + eps * d)) - loss_at(_like(original, base - eps * d)))
            / (2 * eps)
            for d in directions
        ]
    )
    errors = np.abs(analytic_values - numeric_values)
    tolerance = atol + rtol * np.abs(numeric_values)
    bad = np.flatnonzero(errors > tolerance)
    if bad.size:
        k = bad[np.argmax(errors[bad])]
        where = (
            f"element {np.unravel_index(k, base.shape) if base.shape else '()'}"
            if base.size <= max_elements
            else f"random direction {k}"
        )
        problems.append(
            f"  {label}: {bad.size} of {errors.size} checks differ; worst at {where}: "
            f"overbar {analytic_values[k]:.10g}, finite differences "
            f"{numeric_values[k]:.10g} (abs error {errors[k]:.3g})"
        )
    return float(errors.max()) if errors.size else 0.0


def _kinds(value: Any) -> Any:
    """The kinds, keys and lengths of the containers in ``value`` (None for each leaf)."""
    return map_leaves(lambda _, leaf: None, value)


def _unit(shape: tuple[int, ...], index: int) -> np.ndarray:
    direction = np.zeros(shape)
    direction.reshape(-1)[index] = 1.0
    return direction


def _like(original: Any, value: np.ndarray) -> Any:
    """``value`` in the kind of ``original``: an array, a NumPy float of its type (whose
    attributes the function may read), or a float."""
    if isinstance(original, np.ndarray):
        return value
    if isinstance(original, np.floating):
        return type(original)(value)
    return float(value)


def _positions(function: Callable) -> dict[str, int]:
    parameters = inspect.signature(function).parameters.values()
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return {name: index for index, name in enumerate(positional)}


def _resolve_wrt_of_method(method: Any, wrt: Wrt) -> tuple[tuple[str, ...], bool]:
    """``wrt`` of a bound method: positions count its own parameters; names may include its
    first one, ``self`` (the object it is bound to)."""
    first = next(iter(inspect.signature(method.__func__).parameters), None)
    requested = [wrt] if isinstance(wrt, int | str) else list(wrt)
    if first is None or first not in requested:
        return _resolve_wrt(method, wrt)
    shifted = [
        item + 1 if isinstance(item, int) and not isinstance(item, bool) else item
        for item in requested
    ]
    names, _ = _resolve_wrt(method.__func__, shifted)
    return names, isinstance(wrt, int | str)


def _resolve_wrt(function: Callable, wrt: Wrt) -> tuple[tuple[str, ...], bool]:
    parameters = inspect.signature(function).parameters
    names = [
        p.name for p in parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    positional = list(_positions(function))
    single = isinstance(wrt, int | str)
    if not single and not isinstance(wrt, tuple | list):
        raise ArgumentError(
            f"wrt={wrt!r}: give a parameter's name or position, or a tuple of them "
            "(the default, 0, is the first parameter)"
        )
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
