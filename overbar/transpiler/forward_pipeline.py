"""Forward mode's passes, in order: the reverse pipeline's front (parse, fence, normalize,
activity, shapes), then ``forward.differentiate_forward``, ``forward_fold.fold`` and emit.

``transform_forward`` hands back every stage. A user helper called with active arguments gets
its own jvp, a ``Jvp`` compiled on first call (so a helper may call itself), kept with the helper.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from overbar import origins
from overbar.runtime import NUMPY, Runtime
from overbar.transpiler.activity import Activity, analyze
from overbar.transpiler.contexts import under_contexts, with_contexts_lifted
from overbar.transpiler.emit import Emitted, compile_function, to_source
from overbar.transpiler.fence import check_supported
from overbar.transpiler.forward import ForwardCode, differentiate_forward
from overbar.transpiler.forward_dead import tangent_alone
from overbar.transpiler.forward_fold import fold
from overbar.transpiler.forward_gradient import finished
from overbar.transpiler.inline import inline_helpers
from overbar.transpiler.kept import cache_of
from overbar.transpiler.lambdas_passed import with_lambdas_passed
from overbar.transpiler.linear_recursion import with_recursion_as_loops
from overbar.transpiler.made_and_called import with_objects_named
from overbar.transpiler.nested import with_nested_functions
from overbar.transpiler.none_tests import without_none_tests
from overbar.transpiler.normalize import NormalForm, normalize
from overbar.transpiler.parse import ParsedFunction, parse, with_arity, with_functions
from overbar.transpiler.partials import with_partials_called_through
from overbar.transpiler.pipeline import COMPILING, built_once, is_generated, replace_in_closures
from overbar.transpiler.reduce_loops import with_reduce_as_loops
from overbar.transpiler.shapes import Shapes, infer
from overbar.transpiler.ufunc_at import with_ufunc_writes
from overbar.transpiler.unpacked_writes import with_unpacked_writes
from overbar.transpiler.unpacking import with_known_unpacking


@dataclass(frozen=True)
class ForwardStages:
    """Every intermediate result of one forward-mode transformation."""

    parsed: ParsedFunction
    normal_form: NormalForm
    activity: Activity
    forward: ForwardCode  # the jvp, one rule application per line
    folded: ForwardCode  # with single-use temporaries folded back
    emitted: Emitted
    shapes: Shapes

    @property
    def simplified(self) -> ForwardCode:
        """The code emitted (the name the disk cache reads it by, as for an adjoint)."""
        return self.folded


def transform_forward(
    function: Callable,
    wrt: tuple[str, ...],
    runtime: Runtime = NUMPY,
    parameter_shapes: Shapes | None = None,
    fold_temporaries: bool = True,
    tangent_only: bool = False,
    functions: tuple[tuple[str, Any], ...] = (),
    arity: int | None = None,
    gradient: tuple | None = None,
    inline: bool = False,
) -> ForwardStages:
    """The jvp of ``function`` with respect to the parameters named in ``wrt``, specialised on
    ``parameter_shapes`` (name -> ``argument_shape``) where given, on the ``functions`` a
    caller passes it and on the number of arguments its ``*args`` collects (``arity``), as a
    pullback is (``pipeline.pullback_of``); with ``tangent_only``, returning ``(None,
    tangent)`` without the lines only the value needed (``forward_dead.py``). With
    ``gradient`` (the dims of the one parameter in ``wrt``, which has one element) the
    gradient by forward mode (``forward.differentiate_forward``), which returns ``(value,
    gradient)``, or with ``tangent_only`` the gradient alone. With ``inline`` small helpers
    are spliced into the normal form (``inline.py``), as the reverse pipeline does, instead of
    called through their jvps."""
    collecting = gc.isenabled()
    gc.disable()  # as in pipeline.transform: many nodes, no cycles to collect meanwhile
    try:
        parsed = with_functions(with_arity(parse(function), arity), dict(functions))
        parsed = with_contexts_lifted(parsed)  # with np.errstate(...): its body
        parsed = with_ufunc_writes(parsed, runtime.ufunc_writes)  # np.add.at(y, i, v): a write
        parsed = with_unpacked_writes(parsed)  # u[0], u[-1] = a, b: one write per line
        parsed = with_objects_named(parsed)  # Cell(W)(h): cell = Cell(W), then cell(h)
        parsed = with_reduce_as_loops(parsed)  # functools.reduce(f, xs, h0): a for loop
        parsed = with_partials_called_through(with_known_unpacking(parsed))
        parsed = with_recursion_as_loops(with_nested_functions(parsed))  # helpers, loops
        parsed = with_lambdas_passed(parsed)  # apply(lambda z: z * w, x)
        effects = generated_effects(runtime) if is_generated(function.__code__) else frozenset()
        integers = frozenset(
            name
            for name, shape in (parameter_shapes or {}).items()
            if runtime.shapes.is_integer(shape)
        )
        check_supported(
            parsed, runtime.array_makers, runtime.copying_functions, effects, numbers=integers
        )
        normal_form = normalize(parsed)
        if inline:
            normal_form = inline_helpers(normal_form, parsed, runtime)
        if parsed.namespace.nones:  # a helper's parameters its call binds to None
            normal_form = without_none_tests(normal_form, parsed.namespace.nones)
        activity = analyze(normal_form, wrt, parsed.namespace, runtime.rules)
        shapes = infer(normal_form, parameter_shapes or {}, parsed.namespace, runtime)

        def helpers(
            helper: Callable,
            helper_wrt: tuple[str, ...],
            known: tuple = (),
            functions: tuple[tuple[str, Any], ...] = (),
            arity: int | None = None,
        ) -> Jvp:
            return jvp_of(helper, helper_wrt, runtime, known, functions, arity)

        forward = differentiate_forward(
            parsed, normal_form, activity, runtime, helpers, shapes, gradient
        )
        if tangent_only:
            called = {
                node.func.id
                for node in ast.walk(forward.tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            }
            checks = frozenset(
                name
                for name in called
                if parsed.namespace.lookup(name) is runtime.seed or name == "seed"
            )
            forward = tangent_alone(forward, checks)
        folded = forward
        if fold_temporaries:
            tree = forward.tree
            body = fold(
                tree.body,
                forward.temporaries,
                forward.pure,
                forward.tangent_effects,
                forward.primal_values,
            )
            folded_tree = ast.FunctionDef(
                name=tree.name,
                args=tree.args,
                body=body,
                decorator_list=[],
                returns=None,
                type_comment=None,
            )
            folded = replace(forward, tree=ast.copy_location(folded_tree, tree))
        if gradient is not None:  # read like the slope carried forward by hand
            tree = finished(
                folded.tree, not tangent_only, forward.numeric_tangents, activity.active
            )
            folded = replace(folded, tree=tree)
        emitted = emit_forward(parsed, folded)
        origin = origins.origin_of(
            emitted.function, folded.tree, emitted.source, parsed.tree, parsed.filename
        )
        origins.record(emitted.function, origin)  # for notes on exceptions raised in it
        return ForwardStages(parsed, normal_form, activity, forward, folded, emitted, shapes)
    finally:
        if collecting:
            gc.enable()


def generated_effects(runtime: Runtime) -> frozenset:
    """The runtime helpers generated adjoints call for their effects: forward mode over an
    adjoint (``overbar.hvp``) meets them."""
    return frozenset({runtime.add_at, runtime.add_item, runtime.floating_target})


def emit_forward(parsed: ParsedFunction, code: ForwardCode) -> Emitted:
    """Format, compile and bind the jvp function of ``parsed``."""
    source = to_source(under_contexts(code.tree, parsed.contexts))
    filename = f"<overbar {code.tree.name} of {parsed.filename}>"
    function = compile_function(
        source, code.tree.name, dict(code.bindings), parsed.function, filename
    )
    function.__doc__ = f"Jacobian-vector product of {parsed.function.__qualname__}, by overbar."
    return Emitted(source=source, function=function, filename=filename)


class Jvp:
    """The generated jvp of a user helper for one ``wrt``, compiled on first call.

    A call of the helper with active arguments from a function in forward mode calls this
    instead, with the helper's arguments and the tangents of those in ``wrt`` as keywords; it
    returns ``(value, tangent)``. Compiling lazily lets a helper call itself. The compiled
    function comes from the disk cache where it is there (for the NumPy runtime), as a
    pullback's does.
    """

    def __init__(
        self,
        function: Callable,
        wrt: tuple[str, ...],
        runtime: Runtime,
        shapes: tuple[tuple[str, Any], ...] = (),
        functions: tuple[tuple[str, Any], ...] = (),
        arity: int | None = None,
    ):
        self.function, self.wrt, self.runtime, self.shapes = function, wrt, runtime, shapes
        self.functions, self.arity = functions, arity
        self._stages: ForwardStages | None = None
        self._compiled: Callable | None = None
        self._building = False

    @property
    def stages(self) -> ForwardStages:
        """Every stage of the helper's forward-mode transformation (made on first use)."""
        if self._stages is None:
            with COMPILING:
                if self._stages is None:
                    self._stages = transform_forward(
                        self.function,
                        self.wrt,
                        self.runtime,
                        dict(self.shapes) or None,
                        functions=self.functions,
                        arity=self.arity,
                    )
        return self._stages

    @property
    def compiled(self) -> Callable:
        """The generated jvp function: from the disk cache, else transformed (and stored)."""
        return built_once(self, "_compiled", "_building", self._load_or_build)

    def _load_or_build(self) -> Callable:
        from overbar import cache  # imported with overbar's api, long before any call

        options = ("jvp of a helper", self.wrt)
        if self.shapes:
            options += (self.shapes,)
        if self.arity is not None:
            options += (("arity", self.arity),)
        # a function passed in is not in the disk cache's key (what it is may change unseen)
        cachable = self.runtime is NUMPY and not self.functions
        found = cache.load(self.function, options) if cachable else None
        if found is None:
            stages = self.stages
            found = stages.emitted.function
            if cachable:
                cache.store(self.function, options, stages)
        return found

    def prepare(self) -> None:
        """Compile now (so errors surface with the caller's), unless this is a recursion."""
        with COMPILING:  # another thread's build is not a recursion: wait for it
            if not self._building:
                _ = self.compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled(*args, **kwargs)

    def __reduce__(self) -> Any:
        """Pickled by reference (for the disk cache): the helper, ``wrt`` and shapes."""
        if self.runtime is not NUMPY:
            raise TypeError("only jvps for the NumPy runtime are written by reference")
        arguments = (self.function, self.wrt, self.shapes, self.functions, self.arity)
        return (numpy_jvp, arguments)

    def __repr__(self) -> str:
        return f"<overbar jvp of {self.function.__qualname__} wrt {self.wrt}>"


def jvp_of(
    function: Callable,
    wrt: tuple[str, ...],
    runtime: Runtime = NUMPY,
    shapes: tuple[tuple[str, Any], ...] = (),
    functions: tuple[tuple[str, Any], ...] = (),
    arity: int | None = None,
) -> Jvp:
    """The (cached) jvp of the user helper ``function`` with respect to ``wrt``, specialised
    on what is known of its parameters' ``shapes`` at the call (name and shape pairs), on the
    ``functions`` the call passes (name and function pairs) and on ``arity``."""
    passed = tuple((name, id(value)) for name, value in functions)
    key = ("jvp-helper", wrt, id(runtime), shapes, passed, arity)
    cache = cache_of(function)
    found = cache.get(key)
    if found is None:
        with COMPILING:
            made = Jvp(function, wrt, runtime, shapes, functions, arity)
            found = cache.setdefault(key, made)
    return found


def numpy_jvp(
    function: Callable,
    wrt: tuple[str, ...],
    shapes: tuple[tuple[str, Any], ...] = (),
    functions: tuple[tuple[str, Any], ...] = (),
    arity: int | None = None,
) -> Jvp:
    """``jvp_of`` for the NumPy runtime (what a pickled ``Jvp`` is rebuilt with)."""
    return jvp_of(function, wrt, NUMPY, shapes, functions, arity)


def link_jvps(function: Callable) -> None:
    """Where the compiled ``function`` (and the generated functions it reaches) calls a built
    ``Jvp``, call its compiled function instead: one frame per call, as the helper takes.

    Identity: calling a built ``Jvp`` calls its compiled function with the same arguments.
    Side condition: the jvp is built (it is built here, unless it is a recursion still being
    built: that one is left as it is, and linked when its outermost caller is).
    """
    replace_in_closures(function, _compiled_jvp)


def _compiled_jvp(value: Any) -> Callable | None:
    """A ``Jvp``'s compiled function, built now (read from the disk, where the caller was);
    None for anything else, or a recursion still being built."""
    if not isinstance(value, Jvp):
        return None
    value.prepare()
    return value._compiled


def all_forward_sources(stages: ForwardStages) -> str:
    """The generated jvp's source followed by those of the helpers' jvps it calls."""
    sources, seen = [stages.emitted.source], set()
    pending = list(stages.folded.subroutines)
    while pending:
        jvp = pending.pop(0)
        if id(jvp) in seen:
            continue
        seen.add(id(jvp))
        sources.append(jvp.stages.emitted.source)
        pending.extend(jvp.stages.folded.subroutines)
    return "\n\n".join(sources)
