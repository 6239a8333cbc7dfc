"""The transpiler's passes, in order, as a flat list of calls.

``transform`` runs them all and hands back every stage, so the command line can show the normal
form as well as the adjoint, and tests can look at any pass's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from overbar.runtime import NUMPY, Runtime
from overbar.transpiler.activity import Activity, analyze
from overbar.transpiler.emit import Emitted, emit
from overbar.transpiler.fence import check_supported
from overbar.transpiler.normalize import NormalForm, normalize
from overbar.transpiler.parse import ParsedFunction, parse
from overbar.transpiler.reverse import Adjoint, differentiate
from overbar.transpiler.simplify import simplify


@dataclass(frozen=True)
class Stages:
    """Every intermediate result of one transformation."""

    parsed: ParsedFunction
    normal_form: NormalForm
    activity: Activity
    adjoint: Adjoint
    simplified: Adjoint
    emitted: Emitted


def transform(function: Callable, wrt: tuple[str, ...], runtime: Runtime = NUMPY) -> Stages:
    """Differentiate ``function`` with respect to the parameters named in ``wrt``."""
    parsed = parse(function)
    check_supported(parsed)
    normal_form = normalize(parsed)
    activity = analyze(normal_form, wrt, parsed.namespace, runtime.rules)
    adjoint = differentiate(parsed, normal_form, activity, runtime)
    simplified = simplify(adjoint)
    emitted = emit(parsed, simplified)
    return Stages(parsed, normal_form, activity, adjoint, simplified, emitted)
