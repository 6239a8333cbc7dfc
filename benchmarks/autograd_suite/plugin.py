"""A pytest plugin that runs autograd's own test suite with overbar in autograd's place (or with
autograd itself, for comparison), and records what happened in each test.

Loaded with ``-p benchmarks.autograd_suite.plugin`` in the directory holding autograd's tests
(never copied into this repository: ``run.py`` fetches them). The environment says which
backend (``AUTOGRAD_SUITE_BACKEND``: ``overbar``, ``autograd``, or ``autograd-own-checks`` for
autograd checked as each test asks) and where the record goes
(``AUTOGRAD_SUITE_RECORD``, a JSON file).

Both backends are checked the same way: first-order reverse mode (autograd's ``check_grads``
with ``modes=["rev"], order=1``: a vector-Jacobian product against a central difference along a
random direction, autograd's tolerances), and checks whose arguments or values are complex are
skipped (counted apart), since overbar refuses complex numbers.

With overbar, ``autograd.numpy`` is NumPy itself (so the functions the tests differentiate call
NumPy, as a user's would), ``autograd.scipy`` is SciPy, and:

- ``grad(fun, argnum)`` is ``overbar.grad(fun, wrt=argnum)``, ``value_and_grad`` likewise;
- ``check_grads(fun, argnum)(*args, **kwargs)`` differentiates, for a cotangent ``v`` drawn at
  random, ``np.sum(fun(*args, **kwargs) * v)`` (summed over the elements of a tuple or list
  result) with respect to the arguments ``argnum``, written as a small module of its own that
  calls ``fun`` (a NumPy function, or the test's function as a helper), unless ``fun`` is a
  Python function with a scalar result called without keywords and without a rule of its own
  (SciPy's ``polygamma`` has one), which is differentiated directly. Arguments may be dicts,
  lists and tuples of arrays (containers of parameters).
  It compares with a central difference along a random direction; a disagreement is confirmed
  with other steps and a looser tolerance before it is recorded as a wrong gradient;
- autograd's spellings of builtins (``autograd.tuple``, ``list``, ``dict``, ``isinstance``) are
  the builtins; ``make_vjp`` and ``unary_to_nary`` (which test_core builds its ``grad`` from)
  make that ``grad`` overbar's; any other autograd API raises ``OutOfScope``.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import itertools
import json
import os
import sys
import tempfile
import textwrap
import traceback
import types
from pathlib import Path

import numpy as np
import pytest

BACKEND = os.environ.get("AUTOGRAD_SUITE_BACKEND", "overbar")
RECORD = os.environ.get("AUTOGRAD_SUITE_RECORD", "autograd_suite_record.json")

TOL = RTOL = EPS = 1e-6  # autograd.test_util's tolerances and step

_events: dict[str, list] = {}
_current = {"test": None}


class OutOfScope(Exception):
    """An autograd API with no counterpart in overbar (jacobian, hessian, primitive, ...)."""


class WrongGradient(AssertionError):
    """overbar returned a gradient that disagrees with central differences."""


def _event(kind: str, detail: str = "") -> None:
    test = _current["test"]
    if test is not None:
        _events.setdefault(test, []).append((kind, detail))


def _is_complex(values) -> bool:
    """Whether any of ``values`` (or a leaf of a container among them) is complex."""
    from overbar.trees import leaves

    return any(np.iscomplexobj(leaf) for value in values for _, leaf in leaves(value))


def _complex_check(fun, args: tuple, kwargs: dict) -> bool:
    """Whether a check is of complex numbers: complex arguments, or a complex value (np.fft.fft
    of a real array), which overbar refuses; skipped for both backends alike."""
    if _is_complex([*args, *kwargs.values()]):
        return True
    try:
        return _is_complex([fun(*args, **kwargs)])
    except Exception:  # the check itself will say what is wrong
        return False


def _scalar_close(a: float, b: float, tol: float = TOL, rtol: float = RTOL) -> bool:
    return abs(a - b) < tol or abs(a - b) / abs(a + b) < rtol


# --- overbar in autograd's place ------------------------------------------------------------

_FOLDER = Path(tempfile.mkdtemp(prefix="autograd-suite-"))
_COUNTER = itertools.count()


def _overbar():
    import overbar

    return overbar


def _module_function(source: str, name: str, namespace: dict):
    """``name`` from ``source`` written to a module file of its own (overbar reads sources)."""
    module_name = f"autograd_suite_target_{next(_COUNTER)}"
    path = _FOLDER / f"{module_name}.py"
    path.write_text("import numpy as np\n\n" + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(namespace)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _literal(value) -> str | None:
    """``value`` as source, where its repr reads back as itself."""
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, tuple) and all(_literal(v) is not None for v in value):
        return repr(value)
    return None


def _scalarised(fun, count: int, kwargs: dict, cotangent):
    """def target(a0, ...): return <fun(a0, ..., **kwargs), cotangent>, the inner product
    summed over the leaves of a result that is a tuple or list of arrays."""
    from overbar.trees import leaves

    namespace = {"fun": fun}
    keywords = []
    for key, value in kwargs.items():
        literal = _literal(value)
        if literal is None:
            namespace[f"keyword_{key}"] = value
            literal = f"keyword_{key}"
        keywords.append(f"{key}={literal}")
    parameters = ", ".join(f"a{i}" for i in range(count))
    call = ", ".join([*(f"a{i}" for i in range(count)), *keywords])
    terms = []
    for number, (path, leaf) in enumerate(leaves(cotangent)):
        namespace[f"c{number}"] = leaf
        part = "out" + "".join(f"[{step!r}]" for step in path)
        terms.append(f"np.sum({part} * c{number})")
    source = (
        f"def target({parameters}):\n    out = fun({call})\n"
        f"    return {' + '.join(terms) or '0.0'}\n"
    )
    return _module_function(source, "target", namespace)


def _as_tuple(argnum) -> tuple:
    return tuple(argnum) if isinstance(argnum, list | tuple) else (argnum,)


def _inner(a, b) -> float:
    """<a, b> summed over the leaves of two values of one structure."""
    from overbar.trees import leaves

    return sum(
        float(np.sum(np.asarray(x, dtype=float) * np.asarray(y, dtype=float)))
        for (_, x), (_, y) in zip(leaves(a), leaves(b), strict=True)
    )


def _random_like(value, rng):
    from overbar.trees import map_leaves

    return map_leaves(
        lambda _, leaf: rng.standard_normal(np.shape(leaf)) if np.ndim(leaf) else 1.0, value
    )


def _moved(value, direction, step):
    from overbar.trees import leaves, map_leaves

    steps = iter(d for _, d in leaves(direction))

    def move(_, leaf):
        moved = np.asarray(leaf, dtype=float) + step * next(steps)
        return moved if isinstance(leaf, np.ndarray) else float(moved)

    return map_leaves(move, value)


def _has_rule(fun) -> bool:
    """Whether overbar has an adjoint rule for ``fun`` (a library function, not the test's)."""
    from overbar.runtime import RULES

    return bool(RULES.lookup(fun))


def overbar_check_grads(fun, argnum=0, modes=("fwd", "rev"), order=2):
    """autograd's ``check_grads`` with overbar computing the gradient (first order, reverse)."""

    def check(*args, **kwargs):
        if _complex_check(fun, args, kwargs):
            _event("complex-skipped")
            return
        _event("check")
        overbar = _overbar()
        positions = _as_tuple(argnum)
        rng = np.random.default_rng(len(_events.get(_current["test"], [])))
        value = fun(*args, **kwargs)
        direct = (
            type(fun) is types.FunctionType
            and not _has_rule(fun)
            and not kwargs
            and not isinstance(value, tuple | list | dict)
            and np.size(value) == 1
        )
        if direct:
            cotangent = float(rng.standard_normal())
            target = fun
        else:
            cotangent = _random_like(value, rng)
            target = _scalarised(fun, len(args), kwargs, cotangent)
        gradients = overbar.grad(target, wrt=positions, check=False)(*args)
        directions = [_random_like(args[i], rng) for i in positions]

        def moved(step):
            trial = list(args)
            for i, d in zip(positions, directions, strict=True):
                trial[i] = _moved(args[i], d, step)
            return _inner(fun(*trial, **kwargs), cotangent)

        def numeric(eps):
            return (moved(eps / 2) - moved(-eps / 2)) / eps

        exact = sum(_inner(g, d) for g, d in zip(gradients, directions, strict=True))
        if direct:
            exact *= cotangent
        if _scalar_close(numeric(EPS), exact):
            return
        # Confirm with other steps before calling the gradient wrong (f may be badly scaled).
        if any(_scalar_close(numeric(eps), exact, 1e-5, 1e-4) for eps in (1e-4, 1e-5, 1e-7)):
            _event("imprecise", f"{exact!r} against {numeric(EPS)!r}")
            raise AssertionError(f"imprecise: analytic {exact!r}, numeric {numeric(EPS)!r}")
        detail = f"{getattr(fun, '__name__', fun)}: analytic {exact!r}, numeric {numeric(EPS)!r}"
        _event("wrong", detail)
        raise WrongGradient(detail)

    return check


def overbar_grad(fun, argnum=0):
    """overbar's gradient itself (a tuple of gradients for a tuple or list ``argnum``), so that
    ``grad(grad(f))`` differentiates overbar's adjoint as overbar does."""
    _event("grad")
    return _overbar().grad(
        fun, wrt=tuple(argnum) if isinstance(argnum, list) else argnum, check=False
    )


def _overbar_gradient_of(fun, argnum=0):
    """What ``grad(fun, argnum)`` called inside a function overbar differentiates stands for:
    overbar's ``grad(fun, wrt=argnum)`` (see ``overbar/transpiler/inner_gradients.py``)."""
    return _overbar().grad.__overbar_gradient_of__(fun, wrt=argnum)


overbar_grad.__overbar_gradient_of__ = _overbar_gradient_of


def overbar_value_and_grad(fun, argnum=0):
    _event("grad")
    return _overbar().value_and_grad(fun, wrt=argnum, check=False)


def combo_check(check_grads):
    """autograd's ``combo_check`` over the given ``check_grads``."""

    def combo(fun, *args, **kwargs):
        def _combo_check(*arg_lists, **kwarg_lists):
            pairs = [[(k, x) for x in xs] for k, xs in kwarg_lists.items()]
            for values in itertools.product(*arg_lists):
                for keywords in itertools.product(*pairs):
                    check_grads(fun, *args, **kwargs)(*values, **dict(keywords))

        return _combo_check

    return combo


def _out_of_scope_module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []
    module.__dict__.update(attributes)

    def missing(attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)

        def unavailable(*args, **kwargs):
            raise OutOfScope(f"{name}.{attribute} has no counterpart in overbar")

        return unavailable

    module.__getattr__ = missing
    return module


def _overbar_make_vjp(fun, x):
    """``make_vjp(fun, x)`` for a scalar ``fun`` of one argument: the pullback g -> g ∇fun(x)."""
    gradient = overbar_grad(fun)(x)
    return (lambda g: g * gradient), fun(x)


def _overbar_unary_to_nary(unary):
    """test_core's ``grad = unary_to_nary(lambda fun, x: make_vjp(fun, x)[0](1.0))``: the nary
    gradient, overbar's."""

    @functools.wraps(unary)
    def nary(fun, argnum=0):
        return overbar_grad(fun, argnum)

    return nary


def install_overbar() -> None:
    """Put overbar (and NumPy) where autograd's tests import autograd from."""
    test_util = _out_of_scope_module(
        "autograd.test_util",
        check_grads=overbar_check_grads,
        combo_check=combo_check(overbar_check_grads),
    )
    root = _out_of_scope_module(
        "autograd",
        grad=overbar_grad,
        value_and_grad=overbar_value_and_grad,
        tuple=builtins.tuple,
        list=builtins.list,
        dict=builtins.dict,
        isinstance=builtins.isinstance,
        numpy=np,
        test_util=test_util,
    )
    modules = {
        "autograd": root,
        "autograd.numpy": np,
        "autograd.numpy.random": np.random,
        "autograd.numpy.linalg": np.linalg,
        "autograd.test_util": test_util,
        "autograd.builtins": _out_of_scope_module(
            "autograd.builtins",
            isinstance=builtins.isinstance,
            tuple=builtins.tuple,
            list=builtins.list,
            dict=builtins.dict,
        ),
        "autograd.core": _out_of_scope_module("autograd.core", make_vjp=_overbar_make_vjp),
        "autograd.wrap_util": _out_of_scope_module(
            "autograd.wrap_util", unary_to_nary=_overbar_unary_to_nary
        ),
        "autograd.extend": _out_of_scope_module("autograd.extend"),
    }
    modules.update(_scipy_modules(root))
    sys.modules.update(modules)


def _scipy_modules(root: types.ModuleType) -> dict:
    """``autograd.scipy.*`` is SciPy itself, as ``autograd.numpy`` is NumPy (none without
    SciPy). autograd's own versions of some functions take other arguments (its
    ``scipy.signal.convolve`` takes ``axes`` and ``dot_axes``): there SciPy's refuses them."""
    try:
        import scipy
        import scipy.integrate
        import scipy.linalg
        import scipy.signal
        import scipy.special
        import scipy.stats
    except ImportError:
        return {}
    root.scipy = scipy
    modules = {"autograd.scipy": scipy}
    for name in ("integrate", "linalg", "signal", "special", "stats"):
        modules[f"autograd.scipy.{name}"] = getattr(scipy, name)
    for name in ("multivariate_normal", "norm", "t", "beta", "gamma", "chi2", "poisson"):
        modules[f"autograd.scipy.stats.{name}"] = getattr(scipy.stats, name)
    modules["autograd.scipy.stats.dirichlet"] = scipy.stats.dirichlet
    return modules


# --- autograd itself, checked the same way -----------------------------------------------


def install_autograd(own_checks: bool = False) -> None:
    """autograd as it is, its checks first-order reverse mode (with ``own_checks``, as each
    test asks: forward and reverse, second order by default) and complex checks skipped."""
    import autograd
    import autograd.test_util as test_util

    original_check, original_grad = test_util.check_grads, autograd.grad
    original_value_and_grad = autograd.value_and_grad

    def check_grads(fun, argnum=0, modes=("fwd", "rev"), order=2):
        if own_checks:
            checker = original_check(fun, argnum, modes=list(modes), order=order)
        else:
            checker = original_check(fun, argnum, modes=["rev"], order=1)

        def check(*args, **kwargs):
            if _complex_check(fun, args, kwargs):
                _event("complex-skipped")
                return
            _event("check")
            return checker(*args, **kwargs)

        return check

    def grad(fun, argnum=0, *args, **kwargs):
        _event("grad")
        return original_grad(fun, argnum, *args, **kwargs)

    def value_and_grad(fun, argnum=0, *args, **kwargs):
        _event("grad")
        return original_value_and_grad(fun, argnum, *args, **kwargs)

    test_util.check_grads = check_grads
    test_util.combo_check = combo_check(check_grads)
    autograd.grad, autograd.value_and_grad = grad, value_and_grad


# --- the record ---------------------------------------------------------------------------


def pytest_configure(config):
    if BACKEND == "overbar":
        install_overbar()
    else:
        install_autograd(own_checks=BACKEND == "autograd-own-checks")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _current["test"] = item.nodeid
    _events.setdefault(item.nodeid, [])
    outcome = yield
    _current["test"] = None
    error = outcome.excinfo
    if error is not None:
        kind, value, trace = error
        frames = traceback.extract_tb(trace)
        _events[item.nodeid].append(
            (
                "raised",
                json.dumps(
                    {
                        "type": kind.__name__,
                        "module": kind.__module__,
                        "message": str(value)[:2000],
                        "where": [f"{f.filename}:{f.lineno}" for f in frames[-3:]],
                    }
                ),
            )
        )


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _events.setdefault(report.nodeid, []).append(("outcome", report.outcome))


def pytest_collectreport(report):
    if report.outcome == "failed":
        _events.setdefault(report.nodeid, []).append(("collection-failed", str(report.longrepr)))


def pytest_unconfigure(config):
    Path(RECORD).write_text(json.dumps(_events, indent=1))
