"""Helpers for the tests: functions compiled from source text into real files.

overbar reads a function's source, so a test's forward function must live in a file; ``define``
writes the text to a fresh module in a temporary folder, imports it and returns the function.
"""

from __future__ import annotations

import importlib.util
import itertools
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import overbar
from overbar.primitives import describe
from overbar.runtime.registry import RULES

_FOLDER = Path(tempfile.mkdtemp(prefix="overbar-tests-"))
_COUNTER = itertools.count()

PRELUDE = (
    "import builtins\nimport math\nimport operator\n\nimport numpy as np\n\nimport overbar\n\n"
)

try:  # SciPy's modules, where it is installed, for the samples of tests/test_rules_scipy.py
    from scipy import linalg, signal, special, stats
except ImportError:  # pragma: no cover - the test environment has SciPy
    LIBRARIES: dict = {}
else:  # given to each module define writes (not imported in its text: its lines stay put)
    LIBRARIES = {"linalg": linalg, "signal": signal, "special": special, "stats": stats}


def define(source: str, name: str = "f", namespace: dict | None = None):
    """Write ``source`` (after a prelude importing numpy as np) to a module; return ``name``."""
    module_name = f"overbar_test_module_{next(_COUNTER)}"
    path = _FOLDER / f"{module_name}.py"
    path.write_text(PRELUDE + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update({**LIBRARIES, **(namespace or {})})
    spec.loader.exec_module(module)
    return getattr(module, name)


def directional_check(function, args, wrt, gradients, eps=1e-6, seed=0):
    """The dot-product test: <grad, v> against the central difference of f along v.

    Returns a list of (name, analytic, numeric) for each checked argument.
    """
    rng = np.random.default_rng(seed)
    results = []
    for index, gradient in zip(wrt, gradients, strict=True):
        original = args[index]
        direction = rng.standard_normal(np.shape(original))

        def at(step, index=index, original=original, direction=direction):
            trial = list(args)
            moved = np.asarray(original, dtype=np.float64) + step * direction
            trial[index] = moved if isinstance(original, np.ndarray) else float(moved)
            return float(np.sum(function(*trial)))

        numeric = (at(eps) - at(-eps)) / (2 * eps)
        analytic = float(np.sum(np.asarray(gradient) * direction))
        results.append((index, analytic, numeric))
    return results


def check_rule_sample(expression, names, args, rng):
    """The rule check every rule module's samples go through: ``f(names..., u) =
    sum(expression * u)`` for a random cotangent u, differentiated with respect to each name;
    the gradients specialised on these shapes must match the general adjoint's, have the
    arguments' shapes and a float dtype, and agree with central differences (the dot-product
    test)."""
    probe = define(f"def probe({', '.join(names)}):\n    return {expression}\n", "probe")
    cotangent = rng.standard_normal(np.shape(probe(*args)))
    parameters = ", ".join([*names, "u"])
    f = define(f"def f({parameters}):\n    return np.sum(({expression}) * u)\n")
    wrt = tuple(range(len(names)))
    gradient_function = overbar.grad(f, wrt=wrt)
    gradients = gradient_function(*args, cotangent)  # specialised on these shapes
    general = gradient_function.stages.emitted.function(*args, cotangent)
    general = (general,) if len(wrt) == 1 else general
    for name, arg, gradient, other in zip(names, args, gradients, general, strict=True):
        assert np.shape(gradient) == np.shape(arg), name
        assert np.asarray(gradient).dtype.kind == "f", name
        assert np.shape(other) == np.shape(arg), name
        np.testing.assert_allclose(gradient, other, rtol=1e-12, atol=1e-14, err_msg=name)
    checks = directional_check(f, [*args, cotangent], wrt, gradients)
    for index, analytic, numeric in checks:
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7), names[index]


def primal_key(primal):
    """A primal as a set or dict key: itself, or its id where it cannot be hashed."""
    try:
        hash(primal)
        return primal
    except TypeError:
        return id(primal)


def rules_without_samples(module: str, samples: list) -> list[str]:
    """The primals (as a user spells them) of the adjoint rules defined in the module named
    ``module`` that no sample in ``samples`` exercises."""
    sampled = {sample.primal for sample in samples}
    return sorted(
        {
            describe(rule.primal)
            for rules in RULES.rules.values()
            for rule in rules
            if rule.function.__module__ == module and rule.primal not in sampled
        }
    )
