"""The transpiler's passes, in order, as a flat list of calls.

``transform`` runs them all and hands back every stage, so the command line can show the normal
form as well as the adjoint, and tests can look at any pass's output.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import functools
import gc
import re
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from overbar import origins
from overbar.runtime import NUMPY, Runtime
from overbar.transpiler.accumulate import accumulate
from overbar.transpiler.activity import Activity, analyze
from overbar.transpiler.cancel import cancel_quotients, distribute_quotients
from overbar.transpiler.composed import compose_helpers
from overbar.transpiler.constructors import stored_arguments
from overbar.transpiler.containers import walk_dicts
from overbar.transpiler.contexts import with_contexts_lifted
from overbar.transpiler.copies import remove_copies
from overbar.transpiler.dict_writes import write_dict_entries
from overbar.transpiler.emit import (
    Emitted,
    compile_function,
    emit,
    emit_split,
    generated_filename,
)
from overbar.transpiler.fence import check_supported
from overbar.transpiler.float_checks import checks_before_loops
from overbar.transpiler.hoist import hoist
from overbar.transpiler.inline import DEPTH, inline_helpers
from overbar.transpiler.inner_gradients import with_inner_gradients
from overbar.transpiler.inner_products import inner_products
from overbar.transpiler.kept import cache_of
from overbar.transpiler.known_shapes import (
    cannot_raise,
    elementwise_calls,
    read_known_shapes,
)
from overbar.transpiler.lambdas_passed import with_lambdas_passed
from overbar.transpiler.linear_recursion import with_recursion_as_loops
from overbar.transpiler.list_adjoints import own_list_adjoints
from overbar.transpiler.made_and_called import with_objects_named
from overbar.transpiler.names import NameAllocator, walk
from overbar.transpiler.nested import with_nested_functions
from overbar.transpiler.none_tests import without_none_tests
from overbar.transpiler.normalize import NormalForm, normalize
from overbar.transpiler.objects import with_objects_taken_apart
from overbar.transpiler.optimisations import ALL, Optimisations
from overbar.transpiler.owned import forward_sums_in_place, own_loop_adjoints
from overbar.transpiler.parse import (
    Namespace,
    ParsedFunction,
    owner_class,
    parse,
    with_arity,
    with_functions,
)
from overbar.transpiler.partials import (
    with_local_partials_called_through,
    with_partials_called_through,
)
from overbar.transpiler.peephole import peephole
from overbar.transpiler.pushes import (
    drop_invariant_pushes,
    drop_unread_pushes,
    drop_unread_restores,
)
from overbar.transpiler.recompute import recompute_loop_values
from overbar.transpiler.reduce_loops import with_reduce_as_loops
from overbar.transpiler.remat import rematerialise
from overbar.transpiler.reuse import reuse_forward_values
from overbar.transpiler.reverse import Adjoint, differentiate, seed_parameter, without_local
from overbar.transpiler.scalar_adjoints import keep_adjoints_scalar, without_unit_factors
from overbar.transpiler.shapes import Shapes, infer, is_library_constant
from overbar.transpiler.simplify import simplify, without_dead_code
from overbar.transpiler.specialise import specialise
from overbar.transpiler.split import Split, split
from overbar.transpiler.sums import add_in_one_expression, add_like_terms
from overbar.transpiler.ufunc_at import with_ufunc_writes
from overbar.transpiler.unpacked_writes import with_unpacked_writes
from overbar.transpiler.unpacking import with_known_unpacking
from overbar.transpiler.updates import combine_updates
from overbar.transpiler.zeros import start_gradients_as_zeros

# Held while anything is compiled: one compilation per key, the other threads wait for it and
# then find its result. Reentrant, because a transformation prepares its helpers' pullbacks.
COMPILING = threading.RLock()


def kept_once(function: Callable, key: Any, make: Callable[[], Any]) -> Any:
    """What ``make()`` gives, made once per ``key`` and kept with ``function``: one thread
    makes it under ``COMPILING``, the others wait, and it is kept only when complete."""
    kept = cache_of(function)
    found = kept.get(key)
    if found is None:
        with COMPILING:
            found = kept.get(key)
            if found is None:
                found = make()
                kept[key] = found
    return found


def built_once(owner: Any, attribute: str, building: str, build: Callable[[], Any]) -> Any:
    """``owner``'s ``attribute``, made by ``build()`` on first use: one thread builds it under
    ``COMPILING`` (the others wait, then find it) with ``owner``'s flag ``building`` true
    meanwhile, so that a recursion met during the build can tell it is inside it."""
    found = getattr(owner, attribute)
    if found is None:
        with COMPILING:
            found = getattr(owner, attribute)
            if found is None:
                setattr(owner, building, True)
                try:
                    found = build()
                finally:
                    setattr(owner, building, False)
                setattr(owner, attribute, found)
    return found


class Pullback:
    """The generated pullback of a user helper for one ``wrt``, compiled on first call.

    Calls of the helper from a differentiated function run, in the forward sweep, the helper's
    forward function (``forward``), which returns its value and its residuals, and in the
    reverse sweep the pullback that reads them (``reverse``): the helper cut in two
    (``split_stages``, ``split.py``). Where that is not cheaper (``keeps_residuals``), or with
    ``Optimisations.residuals`` off, they run the helper itself in the forward sweep and this
    pullback (which recomputes the helper's forward sweep, then runs its reverse sweep from the
    given adjoint) in the reverse sweep. Compiling lazily lets a helper call
    itself: its pullback refers to its own ``Pullback``. Once everything is compiled,
    ``link`` puts the compiled functions themselves where the generated code calls a pullback,
    so a recursive helper costs one frame per level, as the helper does. A helper that takes a
    function (``apply_twice(f, v)``) gets a pullback for each function its callers pass it
    (``functions``): the function is part of what the pullback differentiates.
    """

    def __init__(
        self,
        function: Callable,
        wrt: tuple[str, ...],
        runtime: Runtime,
        shapes: tuple[tuple[str, Any], ...] = (),
        optimisations: Optimisations = ALL,
        functions: tuple[tuple[str, Any], ...] = (),
        arity: int | None = None,
    ):
        self.function, self.wrt, self.runtime, self.shapes = function, wrt, runtime, shapes
        self.optimisations = optimisations
        self.functions = functions
        self.arity = arity
        self._stages: Stages | None = None
        self._compiled: Callable | None = None
        self._building = False
        self._split_stages: Stages | None = None
        self._splitting = False
        self._compiled_split: tuple[Callable, Callable] | None = None
        self._loading_split = False
        self._forward = HelperForward(self)
        self._reverse = HelperReverse(self)

    @property
    def stages(self) -> Stages:
        """Every stage of the pullback's transformation (made on first use)."""
        if self._stages is None:
            with COMPILING:
                if self._stages is None:
                    self._stages = self._transform()
        return self._stages

    def _transform(self) -> Stages:
        stages = transform(
            self.function,
            self.wrt,
            self.runtime,
            as_pullback=True,
            parameter_shapes=dict(self.shapes) or None,
            optimisations=self.optimisations,
            functions=self.functions,
            arity=self.arity,
        )
        finish(stages)
        return stages

    @property
    def compiled(self) -> Callable:
        """The generated pullback function: from the disk cache where it is there (for the
        NumPy runtime), else transformed (and written there)."""
        return built_once(self, "_compiled", "_building", self._load_or_build)

    def _load_or_build(self) -> Callable:
        from overbar import cache  # imported with overbar's api, long before any call

        options = ("pullback", self.wrt, self.shapes, self.optimisations)
        if self.arity is not None:
            options += (("arity", self.arity),)
        # a function passed in, or the methods an object's class has, are not in the disk
        # cache's key (what they are may change unseen)
        cachable = (
            self.runtime is NUMPY
            and not self.functions
            and not reads_methods(self.function, self.shapes)
        )
        found = cache.load(self.function, options) if cachable else None
        if found is None:
            # Its stages are kept only if asked for (as a gradient's are: see ``api``).
            with collector_paused():
                stages = self._stages if self._stages is not None else self._transform()
                found = stages.emitted.function
                if cachable:
                    cache.store(self.function, options, stages)
                del stages
        return found

    def prepare(self) -> None:
        """Compile now (so errors surface with the caller's), unless this is a recursion."""
        with COMPILING:  # another thread's build is not a recursion: wait for it
            if not self._building:
                _ = self.compiled

    # the helper split in two: its forward returns its residuals, its pullback reads them

    @property
    def split_stages(self) -> Stages:
        """The helper's adjoint cut where its forward sweep ends (``split.py``): a forward
        function returning ``(value, residuals)`` and a pullback taking them (made on first
        use)."""
        return built_once(self, "_split_stages", "_splitting", self._split)

    def _split(self) -> Stages:
        stages = transform(
            self.function,
            self.wrt,
            self.runtime,
            as_pullback=True,
            parameter_shapes=dict(self.shapes) or None,
            optimisations=self.optimisations,
            functions=self.functions,
            residuals=True,
            arity=self.arity,
        )
        finish(stages)
        return stages

    @property
    def compiled_split(self) -> tuple[Callable, Callable]:
        """The split's forward function and pullback: from the disk cache where they are
        there (for the NumPy runtime), else made (and written there, each an entry)."""
        return built_once(self, "_compiled_split", "_loading_split", self._load_or_build_split)

    def _load_or_build_split(self) -> tuple[Callable, Callable]:
        from overbar import cache  # imported with overbar's api, long before any call

        options = ("helper split", self.wrt, self.shapes, self.optimisations)
        if self.arity is not None:
            options += (("arity", self.arity),)
        cachable = (
            self.runtime is NUMPY
            and not self.functions
            and not reads_methods(self.function, self.shapes)
        )
        if cachable and self._split_stages is None:
            forward = cache.load(self.function, (*options, "forward"))
            reverse = cache.load(self.function, (*options, "reverse")) if forward else None
            if forward is not None and reverse is not None:
                return forward, reverse
        stages = self.split_stages
        if cachable:
            for half in (stages.split.forward, stages.split.reverse):
                which = "forward" if half is stages.split.forward else "reverse"
                cache.store(self.function, (*options, which), _half_of(stages, half))
        return stages.emitted.function, stages.emitted.pullback

    def prepare_split(self) -> None:
        """Compile the split now, unless this is a recursion (as ``prepare``)."""
        with COMPILING:
            if not (self._splitting or self._loading_split):
                _ = self.compiled_split

    def keeps_residuals(self) -> bool:
        """Whether a call of the helper should run its forward function and keep its residuals
        (``y, lse_residuals = lse_forward(v)``; the reverse sweep calls
        ``lse_pullback(*lse_residuals, result_bar=y_bar)``) rather than call the helper itself
        and, in the reverse sweep, the pullback that runs its forward sweep again.

        The rule: residuals, unless the split's pullback reads nothing but the helper's own
        arguments (``Split.only_arguments``): then the recomputing pullback recomputes nothing
        either, and calling the helper itself saves the tuple of residuals and the forward
        function's records. A recursive call met while the split is being made keeps
        residuals: the helper's forward calls its own forward.
        """
        with COMPILING:
            if self._splitting:
                return True
            return not self.split_stages.split.only_arguments

    @property
    def forward(self) -> HelperForward:
        """What the caller's forward sweep calls: the helper's forward function."""
        return self._forward

    @property
    def reverse(self) -> HelperReverse:
        """What the caller's reverse sweep calls: the pullback reading the residuals."""
        return self._reverse

    @property
    def reusable(self) -> bool:
        """Whether the split's pullback may run again on the same residuals (a recursion
        being made is taken to be: its reusability is the outer call's)."""
        return self._splitting or self.split_stages.split.reusable

    def __call__(self, *args, **kwargs):
        return self.compiled(*args, **kwargs)

    def __reduce__(self) -> Any:
        """Pickled by reference (for the disk cache): the helper, ``wrt``, shapes, passes."""
        if self.runtime is not NUMPY:
            raise TypeError("only pullbacks for the NumPy runtime are written by reference")
        arguments = (self.function, self.wrt, self.shapes, self.optimisations, self.functions)
        return (numpy_pullback, (*arguments, self.arity))

    def __repr__(self) -> str:
        return f"<overbar pullback of {self.function.__qualname__} wrt {self.wrt}>"


class _HelperHalf:
    """One half of a helper cut in two (``Pullback.split_stages``), compiled on first call.
    ``link`` puts the compiled function where the generated code calls this."""

    _half = 0  # its place in Pullback.compiled_split

    def __init__(self, pullback: Pullback):
        self.pullback = pullback

    @property
    def compiled(self) -> Callable:
        return self.pullback.compiled_split[self._half]

    def __call__(self, *args, **kwargs):
        return self.compiled(*args, **kwargs)


class HelperForward(_HelperHalf):
    """A helper's forward function: runs the helper once and returns ``(value, residuals)``."""

    _half = 0

    def __reduce__(self) -> Any:
        return (_forward_of, (self.pullback,))

    def __repr__(self) -> str:
        return (
            f"<overbar forward of {self.pullback.function.__qualname__} wrt {self.pullback.wrt}>"
        )


class HelperReverse(_HelperHalf):
    """A helper's pullback that reads the residuals its forward function returned
    (``lse_pullback(*lse_residuals, result_bar=y_bar)``)."""

    _half = 1

    def __reduce__(self) -> Any:
        return (_reverse_of, (self.pullback,))

    def __repr__(self) -> str:
        return f"<overbar pullback of {self.pullback.function.__qualname__} from residuals>"


def _half_of(stages: Stages, half: ast.FunctionDef) -> Any:
    """One function of a split, as ``cache.store`` takes a transformation: its own source
    (cut from the split's), compiled alone under a file name of its own, its bindings."""
    source = stages.emitted.source
    start = re.search(rf"^def {half.name}\(", source, re.MULTILINE).start()
    ending = re.search(r"^def ", source[start + 1 :], re.MULTILINE)
    text = source[start : start + 1 + ending.start()] if ending else source[start:]
    text = text.rstrip() + "\n"
    bindings = dict(stages.split.bindings)
    filename = generated_filename(half.name, stages.parsed.filename, text)
    function = compile_function(text, half.name, bindings, stages.parsed.function, filename)
    emitted = Emitted(source=text, function=function, filename=filename)
    return types.SimpleNamespace(
        emitted=emitted,
        simplified=types.SimpleNamespace(tree=half, bindings=stages.split.bindings),
        parsed=stages.parsed,
    )


def _forward_of(pullback: Pullback) -> HelperForward:
    return pullback.forward


def _reverse_of(pullback: Pullback) -> HelperReverse:
    return pullback.reverse


def reads_methods(function: Callable, shapes: tuple[tuple[str, Any], ...]) -> bool:
    """Whether ``function``'s adjoint may be derived from methods its source does not name: it
    is a method (``self.helper(z)``), one of its arguments is an object (``model.loss(x)``),
    or it names a class it makes objects of (``cell = Cell(W)``) or a module-level object it
    calls (``LAYER(x)``: its class's ``__call__``). Such an adjoint is not written to the disk
    cache, whose key holds the code of the functions a function names, not of those an
    object's class gives it."""
    instance = getattr(NUMPY.shapes, "Instance", ())
    return (
        owner_class(function) is not None
        or any(isinstance(shape, instance) for _, shape in shapes)
        or _names_objects(function)
    )


def _names_objects(function: Callable) -> bool:
    """Whether ``function`` reads, from its module or closure, a class whose objects it may
    make (``constructors.stored_arguments``) or an object whose class defines ``__call__``."""
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    values = [function.__globals__.get(name) for name in code.co_names]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    instance = getattr(NUMPY.shapes, "Instance", ())
    return any(
        stored_arguments(value) is not None
        or (
            not isinstance(value, type)
            and isinstance(NUMPY.shapes.argument_shape(value), instance)
            and callable(value)
        )
        for value in values
    )


def pullback_of(
    function: Callable,
    wrt: tuple[str, ...],
    runtime: Runtime = NUMPY,
    shapes: tuple[tuple[str, Any], ...] = (),
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
    arity: int | None = None,
) -> Pullback:
    """The (cached) pullback of ``function`` with respect to ``wrt``, specialised on what is
    known of its parameters' ``shapes`` at the call (name and shape pairs), on the
    ``functions`` the call passes (name and function pairs) and, for a function with
    ``*args``, on the number of arguments it collects (``arity``, ``parse.with_arity``),
    transformed with the caller's ``optimisations``."""
    passed = tuple((name, id(value)) for name, value in functions)
    key = ("pullback", wrt, id(runtime), shapes, optimisations, passed, arity)
    cache = cache_of(function)
    found = cache.get(key)
    if found is None:
        with COMPILING:
            made = Pullback(function, wrt, runtime, shapes, optimisations, functions, arity)
            found = cache.setdefault(key, made)
    return found


def numpy_pullback(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...],
    optimisations: Optimisations,
    functions: tuple[tuple[str, Any], ...] = (),
    arity: int | None = None,
) -> Pullback:
    """``pullback_of`` for the NumPy runtime (what a pickled ``Pullback`` is rebuilt with)."""
    return pullback_of(function, wrt, NUMPY, shapes, optimisations, functions, arity)


def link(function: Callable) -> None:
    """Where the compiled ``function`` (and the pullbacks it reaches) calls a ``Pullback``
    object, call the pullback's compiled function instead.

    Identity: calling a built ``Pullback`` calls its compiled function with the same arguments.
    Side condition: the pullback is built; one that is not (a recursion still being built when
    this runs) is left as it is, and is linked when its outermost caller finishes. Calling an
    object runs its ``__call__`` in a frame of its own (two levels of the interpreter's
    recursion limit with the C call in between), the compiled function in one: without this, a
    recursive helper went a third as deep under ``grad`` as plain Python takes it. Likewise a
    helper's ``HelperForward`` and ``HelperReverse``, once its split is built.
    """
    replace_in_closures(function, _compiled_if_built)


def _compiled_if_built(value: Any) -> Callable | None:
    """The compiled function a built ``Pullback`` (or half of a built split) calls; None for
    anything else."""
    if isinstance(value, Pullback):
        return value._compiled
    if isinstance(value, HelperForward | HelperReverse) and (
        value.pullback._split_stages is not None or value.pullback._compiled_split is not None
    ):
        return value.compiled
    return None


def replace_in_closures(function: Callable, replacement: Callable[[Any], Any]) -> None:
    """In the closure cells of the generated ``function`` and of the generated functions they
    reach, each value that ``replacement`` maps to something (not None) replaced by that."""
    pending, seen = [function], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for cell in current.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            replaced = replacement(value)
            if replaced is not None:
                cell.cell_contents = value = replaced
            if isinstance(value, types.FunctionType) and is_generated(value.__code__):
                pending.append(value)


def finish(stages: Stages) -> None:
    """What follows a transformation before its function is called: remember where its lines
    come from (for notes on exceptions raised in it) and ``link`` it."""
    emitted = stages.emitted
    origins.record(
        emitted.function,
        origins.origin_of(
            emitted.function,
            stages.simplified.tree,
            emitted.source,
            stages.parsed.tree,
            stages.parsed.filename,
        ),
    )
    link(emitted.function)
    if emitted.pullback is not None:
        link(emitted.pullback)


def is_generated(code: types.CodeType) -> bool:
    """Whether ``code`` is that of a function overbar generated (see ``emit``)."""
    return code.co_filename.startswith("<overbar ")


def all_sources(stages: Stages) -> str:
    """The generated function's source followed by those of the pullbacks it calls, each under
    the name its first caller calls it by (``layer_pullback_2``, where two pullbacks of
    ``layer`` are called: one per set of differentiated arguments and shapes)."""
    sources, seen = [stages.emitted.source], set()
    pending = [(pullback, stages) for pullback in stages.simplified.subroutines]
    while pending:
        pullback, caller = pending.pop(0)
        if id(pullback) in seen:
            continue
        seen.add(id(pullback))
        bindings = caller.split.bindings if caller.split else caller.simplified.bindings
        if isinstance(pullback, HelperReverse):  # the forward function, then the pullback
            own_stages = pullback.pullback.split_stages
            source = own_stages.emitted.source
            for own, value in (
                (own_stages.split.forward.name, pullback.pullback.forward),
                (own_stages.split.reverse.name, pullback),
            ):
                called = next((name for name, v in bindings if v is value), own)
                source = source.replace(f"def {own}(", f"def {called}(", 1)
        else:
            own_stages = pullback.stages
            own = own_stages.simplified.tree.name
            called = next((name for name, value in bindings if value is pullback), own)
            source = own_stages.emitted.source.replace(f"def {own}(", f"def {called}(", 1)
        sources.append(source)
        pending.extend((p, own_stages) for p in own_stages.simplified.subroutines)
    return "\n\n".join(sources)


@dataclass(frozen=True)
class Stages:
    """Every intermediate result of one transformation."""

    parsed: ParsedFunction
    normal_form: NormalForm
    activity: Activity
    adjoint: Adjoint
    simplified: Adjoint  # specialised on shapes, cleaned up (simplify), rewritten (peephole)
    emitted: Emitted
    shapes: Shapes
    split: Split | None = None  # for overbar.vjp: the forward function and the pullback


def transform(
    function: Callable,
    wrt: tuple[str, ...],
    runtime: Runtime = NUMPY,
    as_pullback: bool = False,
    parameter_shapes: Shapes | None = None,
    with_value: bool = True,
    optimisations: Optimisations = ALL,
    functions: tuple[tuple[str, Any], ...] = (),
    vjp: bool = False,
    residuals: bool = False,
    arity: int | None = None,
    assume_lengths: bool = False,
) -> Stages:
    """Differentiate ``function`` with respect to the parameters named in ``wrt``.

    With ``as_pullback`` the result is the pullback a caller of ``function`` uses. With
    ``parameter_shapes`` (name -> ``runtime.shapes.argument_shape(value)``) the adjoint is
    specialised on them, and valid only for arguments with those shapes. The generated function
    returns ``(value, gradients)``, or without ``with_value`` the gradients alone.
    ``optimisations`` says which optimising passes run (``Optimisations.none()``: the literal
    adjoint, one rule application per line); helpers' pullbacks are transformed with the same.
    ``functions`` (name and function pairs) are the parameters a caller binds to a function,
    which a pullback is specialised on (``parse.with_functions``); ``arity``, for a function
    with ``*args``, the number of arguments it collects at the call (``parse.with_arity``).
    With ``vjp`` the result is split in two (``Stages.split``): ``emitted.function`` runs the
    forward sweep and returns ``(value, residuals)``, ``emitted.pullback(*residuals,
    result_bar=cotangent)`` runs the reverse sweep and returns the gradients. With
    ``residuals`` (and ``as_pullback``) the result is split likewise for a caller's sweeps: the
    forward function ``<name>_forward`` is what a differentiated caller runs in its forward
    sweep, keeping the residuals, and the pullback what its reverse sweep calls on them; the
    cotangent is a caller's adjoint (a tuple's may hold runtime zeros), and the pullback runs
    once per forward call, so values may be recomputed in it (``rematerialise``).
    With ``assume_lengths`` (for a gradient specialised on shapes, not a pullback or a split
    adjoint) a slice's length may rest on a relation between the parameters' lengths that
    shape inference cannot prove (``x[k : m + k]`` with ``m = len(x) − len(w) + 1`` has ``m``
    elements when ``len(x) ≥ len(w) − 1``): the adjoint then checks the relations at its
    entry and, where one fails, returns what the adjoint made without them returns
    (``guarded``).
    """
    with collector_paused():
        return _transform(
            function,
            wrt,
            runtime,
            as_pullback,
            parameter_shapes,
            with_value,
            optimisations,
            functions,
            vjp,
            residuals,
            arity,
            assume_lengths,
        )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile (as it was after).

    The passes allocate a great many syntax-tree nodes and make no reference cycles that
    need collecting meanwhile; the cyclic collector's full scans of the growing heap made the
    transformation grow faster than the function (a fifth of an 800-line function's time).
    A caller that keeps only the compiled function (``api.compiled_adjoint``) holds the pause
    until the trees are freed, which reference counting does: they hold no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _transform(
    function: Callable,
    wrt: tuple[str, ...],
    runtime: Runtime,
    as_pullback: bool,
    parameter_shapes: Shapes | None,
    with_value: bool,
    optimisations: Optimisations,
    functions: tuple[tuple[str, Any], ...] = (),
    vjp: bool = False,
    residuals: bool = False,
    arity: int | None = None,
    assume_lengths: bool = False,
) -> Stages:
    # the function as this call sees it: *args as the arguments the call passes, parameters
    # bound to the functions it passes, nested defs lifted to helpers, gradients taken in it
    # standing for overbar's generated adjoints
    parsed = with_functions(with_arity(parse(function), arity), dict(functions))
    parsed = with_contexts_lifted(parsed)  # with np.errstate(...): its body
    parsed = with_ufunc_writes(parsed, runtime.ufunc_writes)  # np.add.at(y, i, v): a write
    parsed = with_unpacked_writes(parsed)  # u[0], u[-1] = a, b: one write per line
    parsed = with_objects_named(parsed)  # Cell(W)(h): cell = Cell(W), then cell(h)
    parsed = with_reduce_as_loops(parsed)  # functools.reduce(f, xs, h0): a for loop
    parsed = with_partials_called_through(with_known_unpacking(parsed))
    parsed = with_local_partials_called_through(parsed)  # step = partial(f, W=W); step(h)
    parsed = with_inner_gradients(with_recursion_as_loops(with_nested_functions(parsed)))
    parsed = with_lambdas_passed(parsed)  # apply(lambda z: z * w, x)
    integers = frozenset(
        name
        for name, shape in (parameter_shapes or {}).items()
        if runtime.shapes.is_integer(shape)
    )
    check_supported(
        parsed,
        runtime.array_makers,
        runtime.copying_functions,
        numbers=integers,
        copying_unless=runtime.copying_unless,
    )
    normal_form = normalize(parsed)
    # cell = Cell(W, U, b): its attributes as locals, its methods spliced in where called
    for _ in range(DEPTH):  # objects an object holds (self.cell = Cell(W)): taken apart next
        taken_apart = with_objects_taken_apart(normal_form, parsed, runtime, parameter_shapes)
        if taken_apart is normal_form:
            break
        normal_form = taken_apart
    nones = parsed.namespace.nones  # a helper's parameters its call binds to None
    if optimisations.inline:
        normal_form = without_none_tests(inline_helpers(normal_form, parsed, runtime), nones)
    elif nones:  # the literal adjoint is specialised on them too: `b is None` decided
        normal_form = without_none_tests(normal_form, nones)
    split_in_two = vjp or residuals
    if as_pullback or split_in_two:  # the result's adjoint comes by a keyword no local may take
        normal_form = without_local(normal_form, seed_parameter(normal_form.parameters))
    objects = frozenset(
        name
        for name, shape in (parameter_shapes or {}).items()
        if isinstance(shape, runtime.shapes.Instance)
    )
    # Off, shapes still say which values are tuples: their adjoints must be tuples to be right.
    signature = parsed.tree.args
    assumed: set | None = (
        set()
        if assume_lengths
        and optimisations.shapes
        and parameter_shapes
        and not (as_pullback or vjp or residuals or functions)
        and not (signature.vararg or signature.kwarg or signature.kwonlyargs)
        and not signature.posonlyargs
        else None
    )
    shapes = infer(
        normal_form,
        parameter_shapes or {},
        parsed.namespace,
        runtime,
        optimisations.shapes,
        assumed,
    )
    in_order = NameAllocator(
        normal_form.taken_names | normal_form.local_names | set(parsed.namespace.made)
    ).fresh("in_order")
    walked = walk_dicts(parsed, normal_form, shapes, in_order)  # dicts walked through their keys
    if walked is not normal_form:
        normal_form = walked
        if any(isinstance(n, ast.Name) and n.id == in_order for n in ast.walk(walked.tree)):
            made = {**parsed.namespace.made, in_order: runtime.in_order}
            parsed = dataclasses.replace(
                parsed, namespace=dataclasses.replace(parsed.namespace, made=made)
            )
        if assumed is not None:
            assumed.clear()
        shapes = infer(
            normal_form,
            parameter_shapes or {},
            parsed.namespace,
            runtime,
            optimisations.shapes,
            assumed,
        )
    activity = analyze(normal_form, wrt, parsed.namespace, runtime.rules, objects)
    helpers = functools.partial(pullback_of, runtime=runtime, optimisations=optimisations)
    adjoint = differentiate(
        parsed,
        normal_form,
        activity,
        runtime,
        helpers,
        as_pullback or split_in_two,
        shapes,
        with_value,
        optimisations,
        split_in_two,
        whole_cotangent=vjp,
    )
    # Simplified twice: the peephole rewrites need folded expressions, and leave dead code.
    simplified = adjoint
    if optimisations.shapes:
        simplified = specialise(simplified, runtime, parsed.namespace)
    if optimisations.simplify:
        simplified = simplify(simplified)
    if optimisations.peephole:
        simplified = peephole(simplified, runtime, parsed.namespace)
        simplified = cancel_quotients(simplified)
        simplified = compose_helpers(simplified, runtime, parsed.namespace)
        if optimisations.simplify:
            simplified = simplify(simplified)
        simplified = reuse_forward_values(simplified, runtime, parsed.namespace)
        simplified = accumulate(simplified, runtime)
        simplified = hoist(simplified, runtime, parsed.namespace)
        simplified = add_in_one_expression(simplified, runtime, parsed.namespace)
        simplified = distribute_quotients(simplified)
        owned = own_loop_adjoints(simplified, runtime)
        if owned is not simplified:  # a join's pieces may have become copies to collect
            owned = hoist(owned, runtime, parsed.namespace)
        simplified = owned
        simplified = own_list_adjoints(simplified, runtime)
        simplified = start_gradients_as_zeros(simplified, runtime)
    if optimisations.simplify:
        simplified = drop_unread_restores(
            remove_copies(simplified, runtime),
            runtime,
            value_in_forward=split_in_two,
            namespace=parsed.namespace,
        )
        simplified = checks_before_loops(simplified, runtime)
        reading_values = simplified
        if optimisations.peephole:
            simplified = keep_adjoints_scalar(simplified, runtime, parsed.namespace)
        if optimisations.shapes:
            simplified = read_known_shapes(simplified, runtime, shapes, parsed.namespace)
        if simplified is not reading_values:  # forward values read for their shapes alone
            known = dict(simplified.shapes)
            elementwise = elementwise_calls(simplified, runtime, parsed.namespace)
            simplified = without_dead_code(
                simplified, lambda line: cannot_raise(line, known, runtime.shapes, elementwise)
            )
        if optimisations.shapes and optimisations.peephole:
            simplified = inner_products(simplified, runtime, parsed.namespace)
        modules = _modules_read(simplified, parsed.namespace)
        simplified = drop_invariant_pushes(drop_unread_pushes(simplified), modules)
        # A vjp's pullback may run many times: a forward value is computed once, not in it.
        if not vjp:
            simplified = recompute_loop_values(simplified, runtime, parsed.namespace, modules)
            simplified = rematerialise(simplified, runtime, parsed.namespace)
        if optimisations.peephole:
            simplified = without_unit_factors(simplified, runtime, parsed.namespace)
            simplified = add_like_terms(simplified, runtime, parsed.namespace)
            simplified = combine_updates(simplified, runtime, parsed.namespace)
        simplified = write_dict_entries(simplified, runtime)
        if optimisations.peephole:  # last: the pushes the reverse sweep does not read are gone
            simplified = forward_sums_in_place(simplified, parsed.tree)
    if split_in_two:
        halves = split(
            simplified,
            runtime.copy_of,
            runtime.write_back,
            parsed.tree.name,
            "forward" if residuals else "vjp",
            runtime.shape_of,
            runtime.shape_only,
        )
        if not all(
            callee.pullback.reusable
            for _, callee in halves.bindings
            if isinstance(callee, HelperReverse)
        ):  # a helper's pullback that changes its residuals: so does this one
            halves = replace(halves, reusable=False)
        emitted = emit_split(parsed, halves)
        return Stages(parsed, normal_form, activity, adjoint, simplified, emitted, shapes, halves)
    if assumed:
        general = Unassumed(
            function, wrt, runtime, tuple(parameter_shapes.items()), with_value, optimisations
        )
        simplified = guarded(simplified, _weakest(assumed), general)
    emitted = emit(parsed, simplified)
    return Stages(parsed, normal_form, activity, adjoint, simplified, emitted, shapes)


def guarded(adjoint: Adjoint, assumed: list[tuple], general: Any) -> Adjoint:
    """The adjoint that first checks the relations between its parameters' lengths that its
    shapes rest on (each a form's key, ``Σ cᵢ·len(xᵢ) + c₀``, assumed ≥ 0) and, where one
    fails, returns what ``general`` (the adjoint made without assuming them) returns::

        if x.shape[0] - w.shape[0] + 1 < 0:
            return conv_grad_general(w, x)

    Identity: for arguments satisfying the relations the adjoint is the one inferred under
    them; for the others, the general one, made as if nothing were assumed. Side conditions:
    the parameters are positional (the general adjoint is called with them in order), and
    the check comes first, before any of them is rebound; a length ``("length", (x, k))`` is
    ``x.shape[k]``, the dimension of the argument ``x`` the shapes named it after."""
    taken = {n.id for n in walk(adjoint.tree) if isinstance(n, ast.Name)}
    taken |= {name for name, _ in adjoint.bindings}
    name = NameAllocator(taken).fresh(f"{adjoint.tree.name}_general")
    failing = [
        ast.Compare(_length_expression(key), [ast.Lt()], [ast.Constant(0)]) for key in assumed
    ]
    test = failing[0] if len(failing) == 1 else ast.BoolOp(ast.Or(), failing)
    parameters = [ast.Name(a.arg, ast.Load()) for a in adjoint.tree.args.args]
    check = ast.If(
        test,
        [ast.Return(ast.Call(ast.Name(name, ast.Load()), parameters, []))],
        [],
    )
    tree = copy.copy(adjoint.tree)
    tree.body = [check, *adjoint.tree.body]
    return replace(
        adjoint,
        tree=tree,
        forward_length=adjoint.forward_length + 1,
        bindings=(*adjoint.bindings, (name, general)),
    )


def _weakest(assumed: set[tuple]) -> list[tuple]:
    """The relations of ``assumed`` that no other implies (of ``L + c ≥ 0`` for one ``L``,
    the one with the least ``c``), in a fixed order."""
    least: dict[tuple, int] = {}
    for key in assumed:
        lengths = tuple(term for term in key if term[0] != 1)
        constant = sum(c for symbol, c in key if symbol == 1)
        least[lengths] = min(constant, least.get(lengths, constant))
    return sorted(
        (tuple(sorted((*lengths, (1, c)), key=repr)) for lengths, c in least.items()), key=repr
    )


def _length_expression(key: tuple) -> ast.expr:
    """``x.shape[0] - w.shape[0] + 1`` for the form ``len(x) − len(w) + 1`` (``lengths``)."""
    terms = sorted(key, key=lambda term: (term[0] == 1, term[1] < 0))
    expression: ast.expr | None = None
    for symbol, coefficient in terms:
        if coefficient == 0:
            continue
        if symbol == 1:
            part: ast.expr = ast.Constant(abs(coefficient))
        else:
            _, (parameter, axis) = symbol
            part = ast.Subscript(
                ast.Attribute(ast.Name(parameter, ast.Load()), "shape", ast.Load()),
                ast.Constant(axis),
                ast.Load(),
            )
            if abs(coefficient) != 1:
                part = ast.BinOp(ast.Constant(abs(coefficient)), ast.Mult(), part)
        if expression is None:
            expression = part if coefficient > 0 else ast.UnaryOp(ast.USub(), part)
        else:
            expression = ast.BinOp(expression, ast.Add() if coefficient > 0 else ast.Sub(), part)
    return expression if expression is not None else ast.Constant(0)


class Unassumed:
    """The adjoint of ``function`` specialised on ``shapes`` without assuming any relation
    between its parameters' lengths (``guarded``): what an adjoint that assumed some calls
    where its arguments do not satisfy them. Compiled on first call (rarely: a relation
    assumed is one the function's arguments satisfy whenever it is used as meant)."""

    def __init__(self, function, wrt, runtime, shapes, with_value, optimisations):
        self.function, self.wrt, self.runtime, self.shapes = function, wrt, runtime, shapes
        self.with_value, self.optimisations = with_value, optimisations
        self._compiled: Callable | None = None
        self._building = False

    @property
    def compiled(self) -> Callable:
        return built_once(self, "_compiled", "_building", self._build)

    def _build(self) -> Callable:
        with collector_paused():
            stages = transform(
                self.function,
                self.wrt,
                self.runtime,
                parameter_shapes=dict(self.shapes) or None,
                with_value=self.with_value,
                optimisations=self.optimisations,
            )
            finish(stages)
            return stages.emitted.function

    def __call__(self, *args):
        return self.compiled(*args)

    def __reduce__(self) -> Any:
        """Pickled by reference (for the disk cache), as a ``Pullback`` is."""
        if self.runtime is not NUMPY:
            raise TypeError("only adjoints for the NumPy runtime are written by reference")
        arguments = (self.function, self.wrt, self.shapes, self.with_value, self.optimisations)
        return (numpy_unassumed, arguments)

    def __repr__(self) -> str:
        return f"<overbar adjoint of {self.function.__qualname__} assuming no lengths>"


def numpy_unassumed(function, wrt, shapes, with_value, optimisations) -> Unassumed:
    """An ``Unassumed`` for the NumPy runtime (what a pickled one is rebuilt with)."""
    return Unassumed(function, wrt, NUMPY, shapes, with_value, optimisations)


def _modules_read(adjoint: Adjoint, namespace: Namespace) -> frozenset[str]:
    """The names the adjoint reads, never binds, and finds bound to a module (``np``) or to
    one of the numbers NumPy and math define (``pi`` after ``from math import pi``)."""
    bound: set[str] = set()
    read: set[str] = set()
    for node in walk(adjoint.tree):  # one walk: the adjoint of a long function is large
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return frozenset(
        name
        for name in read - bound
        if isinstance(namespace.lookup(name), types.ModuleType)
        or is_library_constant(namespace.lookup(name))
    )
