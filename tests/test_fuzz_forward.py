"""Forward mode on the fuzzer's random programs (``tests/fuzz_forward.py``), on a fixed seed:
each jvp against central differences, the reverse-mode gradient and the general jvp. A longer
search: ``python -m tests.fuzz_forward --programs 2000 --seed 0``."""

from __future__ import annotations

import os

import numpy as np

from overbar.runtime.registry import RULES
from tests import fuzz_forward

PROGRAMS = int(os.environ.get("OVERBAR_FUZZ_FORWARD_PROGRAMS", "40"))
SEED = 20261130


def test_random_programs_in_forward_mode():
    failures = []
    counts = {kind: 0 for kind in fuzz_forward.KINDS}
    for index in range(PROGRAMS):
        program = fuzz_forward.program(SEED, index)
        kind, detail = fuzz_forward.check(program)
        counts[kind] += 1
        if kind in ("wrong", "mismatch", "crashed", "invalid"):
            failures.append(f"program {index}: {kind}\n{detail}\n{program.source}")
        elif kind == "refused":  # only for a primitive that has no tangent rule yet
            assert "no tangent rule for" in detail, detail
    assert not failures, "\n\n".join(failures)
    assert counts["ok"] >= PROGRAMS * 0.8, counts


def test_the_plan_holds_only_primitives_with_tangent_rules():
    plan = fuzz_forward.forward_plan()
    primals = [p for entries in plan.values() for p, _ in entries if not isinstance(p, str)]
    assert primals and np.exp in primals
    for primal in primals:
        assert RULES.lookup_tangent(primal), primal
