"""The fuzzer (tests/fuzzer.py) on a fixed seed: random programs drawn from the whole rule table,
each differentiated by overbar and checked against central differences, the literal adjoint and
the general adjoint. A longer search: ``python -m tests.fuzzer --programs 100000 --jobs 2``.
"""

from __future__ import annotations

import ast
import inspect
import os
import re

import numpy as np
import pytest

import overbar
from overbar.primitives import Index, describe
from tests import fuzzer

PROGRAMS = int(os.environ.get("OVERBAR_FUZZ_PROGRAMS", "500"))
SEED = 20240601


def test_every_registered_primitive_is_generated_or_listed_as_unfuzzed():
    missing = fuzzer.uncovered_primitives()
    assert not missing, (
        "primitives in the rule table the fuzzer cannot generate: "
        + ", ".join(describe(p) for p in missing)
        + ". Add a maker in tests/fuzzer.py (MAKERS), or list them in UNFUZZED with the reason."
    )
    for primal, reason in fuzzer.UNFUZZED.items():
        assert reason.strip(), f"{describe(primal)} is listed in UNFUZZED without a reason"


def test_every_callee_the_makers_write_names_the_primitive():
    """The text a maker writes for a call (np.amax, math.fabs, ...) is the primitive itself."""
    namespace = {"np": fuzzer.np, "math": fuzzer.math}
    for primal in fuzzer.MAKERS:
        if isinstance(primal, Index):  # np.r_[...]: the object indexed
            assert eval(primal.name, namespace) is primal.maker, primal.name
            continue
        name = describe(primal)
        if name.startswith(("np.", "math.")):
            found = eval(name, namespace)
            # a ufunc's method (np.add.reduce) is a new bound method at each reading: equal
            assert found is primal or (inspect.isbuiltin(primal) and found == primal), name


def test_programs_are_deterministic():
    first = [fuzzer.generate_program(SEED, index) for index in range(5)]
    again = [fuzzer.generate_program(SEED, index) for index in range(5)]
    for a, b in zip(first, again, strict=True):
        assert a.source == b.source
        assert fuzzer.arguments_text(a.args) == fuzzer.arguments_text(b.args)
        ast.parse(a.source)


def scaled_sin(x):
    return np.sin(x)


@overbar.adjoint(scaled_sin)
def scaled_sin_adjoint(y, x, y_bar):
    """Wrong on purpose (2 cos x for cos x): the checker must say so."""
    return 2.0 * y_bar * np.cos(x)


def test_the_checker_tells_right_from_wrong():
    x = np.array([0.3, -0.7, 1.1])
    right = "def f(x, s):\n    return np.sum(np.log(1.0 + np.exp(x * s)) * x)\n"
    assert fuzzer.check_program(fuzzer.Program(right, (x, 0.5), (0, 1))).kind == "ok"
    wrong = (
        "from tests.test_fuzz import scaled_sin\n\n"
        "def f(x):\n    return np.sum(scaled_sin(x) * x)\n"
    )
    outcome = fuzzer.check_program(fuzzer.Program(wrong, (x,), (0,)))
    assert outcome.kind == "wrong", outcome
    invalid = "def f(x):\n    return np.sum(np.log(x))\n"
    assert fuzzer.check_program(fuzzer.Program(invalid, (x,), (0,))).kind == "invalid"


def test_programs_in_a_dict_are_checked_leaf_by_leaf():
    """FUZZER_CONTAINERS=1 takes a program's differentiated parameters in a dict: the checker
    compares the dict's gradient leaf by leaf, and tells right from wrong."""
    right = "def f(x, s, n):\n    return np.sum(np.log(1.0 + np.exp(x * s)) * x) * n\n"
    args = (np.array([0.3, -0.7, 1.1]), 0.5, 2.0)
    source, values, wrt = fuzzer.in_a_dict(right, args, (0, 1))
    assert "def f(params, n):" in source and "params['x'] * params['s']" in source
    assert list(values[0]) == ["x", "s"] and values[1] == 2.0 and wrt == (0,)
    outcome = fuzzer.check_program(fuzzer.Program(source, values, wrt))
    assert outcome.kind == "ok", outcome
    wrong = (
        "from tests.test_fuzz import scaled_sin\n\n"
        "def f(x, y):\n    return np.sum(scaled_sin(x) * x) + np.sum(y ** 2)\n"
    )
    source, values, wrt = fuzzer.in_a_dict(wrong, (args[0], args[0]), (0, 1))
    outcome = fuzzer.check_program(fuzzer.Program(source, values, wrt))
    assert outcome.kind == "wrong", outcome
    assigned = "def f(x, s):\n    x = x * 2.0\n    return np.sum(x * s)\n"
    source, values, wrt = fuzzer.in_a_dict(assigned, (args[0], 0.5), (0, 1))
    assert "def f(params, x):" in source and list(values[0]) == ["s"] and wrt == (0, 1)
    assert fuzzer.check_program(fuzzer.Program(source, values, wrt)).kind == "ok"


@pytest.mark.parametrize("computed", [False, True])
def test_programs_as_an_objects_call_are_checked(computed):
    """FUZZER_OBJECTS=1 makes a program's body the ``__call__`` of an object its function
    makes of its differentiated parameters: the same arguments and gradients, and the
    checker tells right from wrong through it."""
    right = "def f(x, s, n):\n    return np.sum(np.log(1.0 + np.exp(x * s)) * x) * n\n"
    args = (np.array([0.3, -0.7, 1.1]), 0.5, 2.0)
    source = fuzzer.as_an_object(right, (0, 1), computed)
    assert "model = Model(x, s)" in source and "return model(n)" in source, source
    assert "self.x * self.s" in source and ("self.calls = 0" in source) == computed
    outcome = fuzzer.check_program(fuzzer.Program(source, args, (0, 1)))
    assert outcome.kind == "ok", outcome
    wrong = (
        "from tests.test_fuzz import scaled_sin\n\n"
        "def f(x, y):\n    return np.sum(scaled_sin(x) * x) + np.sum(y ** 2)\n"
    )
    source = fuzzer.as_an_object(wrong, (0, 1), computed)
    outcome = fuzzer.check_program(fuzzer.Program(source, (args[0], args[0]), (0, 1)))
    assert outcome.kind == "wrong", outcome


def test_shrinking_keeps_the_failure_and_drops_the_rest():
    source = (
        "from tests.test_fuzz import scaled_sin\n\n"
        "def helper(p):\n    return np.tanh(p) * 2.0\n\n"
        "def f(x, s):\n"
        "    a = helper(x) + s\n"
        "    b = np.exp(a * 0.1)\n"
        "    c = np.sum(scaled_sin(x) * b)\n"
        "    for i in range(2):\n"
        "        c = c * 0.5 + np.mean(b)\n"
        "    return c\n"
    )
    program = fuzzer.Program(source, (np.array([0.3, -0.7, 1.1]), 0.4), (0, 1))
    outcome = fuzzer.check_program(program)
    assert outcome.kind == "wrong"
    shrunk, shrunk_outcome = fuzzer.shrink(program, outcome, seconds=60)
    assert shrunk_outcome.kind == "wrong"
    assert "scaled_sin" in shrunk.source
    assert "helper" not in shrunk.source and "for" not in shrunk.source
    assert shrunk.source.count("\n") < source.count("\n")


@pytest.fixture
def unformatted():
    """Generated code compiled without black (the same syntax tree, a third of the time)."""
    undo = fuzzer.skip_formatting()
    yield
    undo()


@pytest.mark.parametrize("chunk", range(4))
def test_random_programs(chunk, unformatted):
    """Programs of a fixed seed: no wrong gradient, no disagreement between the optimised,
    general and literal adjoints, no crash, no invalid program."""
    size = PROGRAMS // 4
    failures = []
    for index in range(chunk * size, (chunk + 1) * size):
        program = fuzzer.generate_program(SEED, index)
        outcome = fuzzer.check_program(program)
        if outcome.kind in fuzzer.FAILURES:
            failures.append(
                f"--- {outcome.kind}: seed {SEED} program {index} "
                f"(python -m tests.fuzzer --seed {SEED} --show {index})\n{outcome.detail}\n"
                f"{program.source}args = {fuzzer.arguments_text(program.args)}"
            )
    assert not failures, f"{len(failures)} of {size} programs failed:\n\n" + "\n\n".join(failures)


def test_programs_step_states_through_copies_zeros_joins_and_in_place():
    """The stepper statement's four forms appear among the programs of one seed."""
    forms = {
        "copy": re.compile(r"s_new\d+ = s\d+\.copy\(\)"),
        "zeros_like": re.compile(r"s_new\d+ = np\.zeros_like\(s\d+\)"),
        "concatenate": re.compile(r"s\d+ = np\.concatenate\(\(s\d+\[:1\], interior\d+"),
        "in place": re.compile(r"\n\s+s\d+\[1:-1\] = "),
    }
    seen = set()
    for index in range(1000):
        source = fuzzer.generate_program(3, index).source
        seen |= {form for form, pattern in forms.items() if pattern.search(source)}
        if len(seen) == len(forms):
            break
    assert seen == set(forms)
