"""The NumPy runtime: what generated adjoint code calls, and the table of adjoint rules.

The transpiler sees the runtime only through a ``Runtime``: the rule table, and the few helpers
the generated code always needs (the seed of the result's adjoint, zero gradients, and
``unbroadcast``, which the compiler drops where shapes are known to be equal).
"""

from __future__ import annotations

import importlib
import sys
import threading

import numpy as np

from overbar.primitives import Method
from overbar.runtime import (
    helpers,
    helpers_arrays,
    helpers_forward,
    helpers_math,
    helpers_science,
    helpers_ufuncs,
    rules,  # noqa: F401  (importing it registers the built-in table)
    rules_arrays,  # noqa: F401
    rules_fft,  # noqa: F401
    rules_helpers,  # noqa: F401  (a generated adjoint differentiated again: its helpers)
    rules_linalg,  # noqa: F401
    rules_math,  # noqa: F401
    rules_science,  # noqa: F401
    rules_ufuncs,  # (after the other rules: it derives ufunc.outer's from theirs)
    shapes,
    shapes_arrays,  # noqa: F401  (the shapes of the lists and tuples its functions return)
)
from overbar.runtime.interface import Runtime
from overbar.runtime.registry import (
    NON_DIFFERENTIABLE,
    RULES,
    Rule,
    RuleTable,
    adjoint,
    non_differentiable,
    register_late_rules,
    tangent,
)

# Functions that always return a new array: an array made by one may be written into.
ARRAY_MAKERS = frozenset(
    [np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like, np.empty_like]
    + [np.full_like, np.copy, np.array, np.arange, np.linspace, np.eye, np.identity]
)

# Functions whose result never shares memory with an argument (every ufunc, reductions, linear
# algebra, joins): an array may be passed to them between writes into it.
COPYING_FUNCTIONS = set(
    {primal for primal in RULES.primals() if isinstance(primal, np.ufunc)}
    | {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}
    | {np.cumsum, np.dot, np.inner, np.outer, np.einsum, np.trace, np.where, np.clip}
    | {np.stack, np.concatenate, np.array, np.copy, np.tril, np.triu, np.linalg.norm}
    | {np.linalg.inv, np.linalg.solve, np.linalg.det, np.argmax, np.argmin, np.allclose}
    | {np.linalg.slogdet, np.linalg.cholesky, np.linalg.eigh, np.linalg.eigvalsh}
    | {np.linalg.svd, np.linalg.pinv, np.linalg.qr, np.linalg.multi_dot, np.tensordot}
    | {np.kron, np.cross, np.vdot, np.convolve, np.correlate}
    | {np.isnan, np.isfinite, np.any, np.all, np.count_nonzero, np.shape, np.ndim, np.size}
    | {len, float, int, abs, sum, print, round}
    | {np.hstack, np.vstack, np.row_stack, np.dstack, np.column_stack, np.append, np.take}
    | {np.take_along_axis, np.tile, np.repeat, np.roll, np.pad, np.diagflat, np.partition}
    | {np.gradient}
    | {np.nansum, np.nanmean, np.nanmax, np.nanmin, np.average, np.ptp, np.cumprod, np.median}
    | {np.quantile, np.percentile, np.sinc, np.angle, np.imag, np.nan_to_num}
    | {np.nanvar, np.nanstd, np.nanprod, np.nancumsum, np.nancumprod}
    | {np.nanmedian, np.nanquantile, np.nanpercentile}
    | {np.compress, np.choose}
    | rules_ufuncs.COPYING_METHODS
)

NUMPY = Runtime(
    rules=RULES,
    seed=helpers.seed,
    zero_gradient=helpers.zero_gradient,
    unbroadcast=helpers.unbroadcast,
    adjoint_like=helpers.adjoint_like,
    add_elementwise=helpers.add_elementwise,
    add_in_kind=helpers.add_in_kind,
    unpacked_bar=helpers.unpacked_bar,
    attribute_bar=helpers.attribute_bar,
    attributes_like=helpers.attributes_like,
    same_method=helpers.same_method,
    split_last=helpers.split_last,
    listed=helpers.listed,
    add_item=helpers.add_item,
    shape_of=helpers.shape_of,
    # Arguments (by position) these functions only take the shape of: a value read only there
    # is saved for the reverse sweep as its shape.
    shape_only={
        helpers.unbroadcast: (1,),
        helpers.broadcast_like: (1,),
        helpers.expand_reduced: (1,),
        helpers.index_bar: (1,),
        helpers.reduced_count: (0, 1),
        helpers_math.degrees_of_freedom: (0, 1),
        helpers_science.convolve_a_bar: (1,),
        np.shape: (0,),
        np.size: (0,),
        np.ndim: (0,),
        **helpers_arrays.SHAPE_ONLY,
    },
    value_unread={
        helpers.unbroadcast: (1,),
        helpers.broadcast_like: (1,),
        helpers.expand_reduced: (1,),
        helpers.index_bar: (1,),
        helpers_science.convolve_a_bar: (1,),
        helpers.adjoint_like: (1,),
        np.full_like: (0,),  # the shape and dtype of the array it copies
        helpers.matmul_left_bar: (1,),
        helpers.matmul_right_bar: (2,),
        helpers.structured_like: (1,),  # the structure, kinds and dtypes of the container
        helpers.elements_like: (1,),  # the structure and the elements' shapes
        helpers.structured_like_bar: (1,),  # the structure and the leaves' shapes
        helpers.elements_like_bar: (1, 2),
        helpers.structured_like_bar_bar: (1, 2),
        helpers_math.sequence_bar_bar: (1, 2),
        helpers_math.sequence_bar: (1,),  # the kind and shape of the iterable
    },
    array_makers=ARRAY_MAKERS,
    copying_functions=COPYING_FUNCTIONS,
    copying_unless={np.diff: ("n", 1, 0)},  # np.diff(a, 0) returns a itself
    saved_region=helpers.saved_region,
    floating_target=helpers.floating_target,
    take_and_zero=helpers.take_and_zero,
    index_bar=helpers.index_bar,
    item_bar=helpers.item_bar,
    joined_bar=helpers.joined_bar,
    repeated_bar=helpers.repeated_bar,
    entry_bar=helpers.entry_bar,
    in_order=helpers.in_order,
    elements_like=helpers.elements_like,
    structured_like=helpers.structured_like,
    own=helpers.own,
    add_at=helpers.add_at,
    take_in_place=helpers.take_in_place,
    is_differentiable_input=helpers.is_differentiable_input,
    describe_input=helpers.describe_input,
    shapes=shapes,
    broadcast_like=helpers.broadcast_like,
    sum_all=helpers.sum_all,
    sum_leading=helpers.sum_leading,
    sum_keeping=helpers.sum_keeping,
    expand_reduced=helpers.expand_reduced,
    reduced_count=helpers.reduced_count,
    sum_of_outers=helpers.sum_of_outers,
    sum_of_products=helpers.sum_of_products,
    sum_of_values=helpers.sum_of_values,
    sum_of_sums=helpers.sum_of_sums,
    stacked_rows=helpers.stacked_rows,
    sum_of_scaled=helpers.sum_of_scaled,
    sum_of_inner=helpers.sum_of_inner,
    split_like=helpers.split_like,
    array_module=np,
    is_elementwise=helpers.is_elementwise,
    is_pure=helpers.is_pure,
    logistic=rules.LOGISTIC,
    softplus=rules.SOFTPLUS,
    softmax_parts={
        "exp": frozenset({np.exp}),
        "log": frozenset({np.log}),
        "sum": frozenset({np.sum, Method("sum")}),
        "sum over the first axis": frozenset({np.add.reduce}),
        # the same elements with axes of length 1 taken away or added
        "axes of length 1": frozenset({np.squeeze, Method("squeeze"), np.expand_dims}),
    },
    broadcast_tangent=helpers.broadcast_tangent,
    zero_tangent=helpers.zero_tangent,
    own_tangent=helpers_forward.own_tangent,
    copy_of=helpers.copy_of,
    write_back=helpers.write_back,
    shape_only_elements={helpers.split_like: (1,), helpers.unstack: (1,)},
    number_valued=frozenset({helpers.reduced_count, helpers_math.degrees_of_freedom}),
    shape_like=helpers.shape_like,
    as_floating=helpers.as_floating,
    ufunc_writes={np.add.at: helpers_ufuncs.added_at},
    split_joins={
        helpers_arrays.unjoin: helpers_arrays.split_axis,
        helpers_arrays.unjoin_index: helpers_arrays.split_axis,
    },
    unpad_constant=helpers_arrays.unpad_constant,
    one_like=helpers_forward.one_like,
    tangent_as_gradient=helpers_forward.tangent_as_gradient,
    composed={
        (helpers_arrays.windows_bar, np.outer): helpers_arrays.windows_bar_of_outer,
        (helpers_science.convolve_a_bar, helpers.index_bar): (
            helpers_science.convolve_a_bar_of_part
        ),
        (helpers_science.correlate_bars, helpers.index_bar): (
            helpers_science.correlate_bars_of_part
        ),
    },
)

# SciPy's rule modules, each registered once the program has imported the SciPy module whose
# functions it differentiates (importing scipy.signal and scipy.stats takes most of a second,
# which a program that does not use them should not pay).
_SCIPY_RULE_MODULES = {
    "rules_scipy": "scipy.special",
    "rules_scipy_linalg": "scipy.linalg",
    "rules_scipy_signal": "scipy.signal",
    "rules_scipy_stats": "scipy.stats",
    "rules_scipy_helpers": "scipy",  # the tangents of the helpers the others' adjoints call
}
_SCIPY_RULES_LOADED: set[str] = set()
_SCIPY_RULES_LOADING = threading.local()
_SCIPY_LOCK = threading.RLock()


def load_scipy_rules(import_scipy: bool = False) -> bool:
    """Register the rules of each SciPy module the program has imported (with
    ``import_scipy``, of every one, wherever SciPy is installed: ``overbar rules`` lists them),
    once. True if this call registered some.

    Called on every rule lookup that finds nothing: a function that calls a SciPy function has
    imported its module by the time it is differentiated, so its rules are there when looked
    up. Another thread's lookup waits until they are all registered; the registering thread's
    own lookups (while it registers) find what is there."""
    if len(_SCIPY_RULES_LOADED) == len(_SCIPY_RULE_MODULES):
        return False
    wanted = [
        module
        for module, needs in _SCIPY_RULE_MODULES.items()
        if module not in _SCIPY_RULES_LOADED and (import_scipy or needs in sys.modules)
    ]
    if not wanted or getattr(_SCIPY_RULES_LOADING, "active", False):
        return False
    with _SCIPY_LOCK:
        wanted = [module for module in wanted if module not in _SCIPY_RULES_LOADED]
        if not wanted:
            return False
        try:
            import scipy  # noqa: F401
        except ImportError:  # SciPy is optional (pip install overbar[scipy])
            return False
        _SCIPY_RULES_LOADING.active = True
        try:
            _register_scipy_rules(wanted)
        finally:
            _SCIPY_RULES_LOADED.update(wanted)
            _SCIPY_RULES_LOADING.active = False
    return True


def _register_scipy_rules(modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(f"overbar.runtime.{module}")  # importing it registers its rules
    derived = {*RULES.rules, *RULES.tangents, *RULES.non_differentiable}
    added = [ufunc for ufunc in rules_ufuncs.binary_ufuncs() if ufunc.outer not in derived]
    rules_ufuncs.derive_outer_rules(added)
    COPYING_FUNCTIONS.update(p for p in RULES.primals() if isinstance(p, np.ufunc))
    COPYING_FUNCTIONS.update(rules_ufuncs.copying_methods(added))


register_late_rules(load_scipy_rules)

__all__ = [
    "NON_DIFFERENTIABLE",
    "NUMPY",
    "RULES",
    "Rule",
    "RuleTable",
    "Runtime",
    "adjoint",
    "load_scipy_rules",
    "non_differentiable",
    "tangent",
]
