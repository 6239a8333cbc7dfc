"""The table of adjoint rules, and the public decorators that fill it.

A rule is a plain Python function. Its first parameter is the primal output, then come the
primal's own parameters (as the primal spells them, defaults included), and the output's adjoint,
named after the output with ``_bar`` (keyword-only when defaults come before it). It returns the
adjoint of each positional primal parameter in order, as one value or a tuple display; ``None``
(or leaving trailing ones out) means a zero adjoint::

    @adjoint(np.tanh)
    def tanh(y, x, y_bar):
        \"\"\"y = tanh(x):  x̄ = ȳ (1 − y²)\"\"\"
        x_bar = y_bar * (1 - y * y)
        return x_bar

A tangent rule (forward mode) has the same form: the primal output, the primal's parameters,
then one tangent ``<p>_dot`` per differentiable positional parameter ``p``. It returns one term
per such parameter, the Jacobian applied to that parameter's tangent; the generated code adds the
terms of the active parameters only (an inactive one's term is left out, so no zeros are made)::

    @tangent(operator.mul, np.multiply)
    def multiply(z, x, y, x_dot, y_dot):
        \"\"\"z = x y:  ż = ẋ y + x ẏ\"\"\"
        return x_dot * y, x * y_dot

A term is shaped like the output, or is wrapped in ``broadcast_tangent(term, z)`` where it may be
smaller (the tangent of an operand NumPy broadcast); the generator wraps the sum once instead,
and drops the wrapper where shapes show a term of the output's shape.

The compiler inlines the body into the generated code by renaming, so a rule must be a single
straight-line body ending in ``return``, and it must be importable (its source is read).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from overbar.errors import RuleDefinitionError
from overbar.primitives import describe


@dataclass(frozen=True)
class Rule:
    """One registered rule for one primal: an adjoint rule (reverse mode) or, with ``kind``
    ``"tangent"``, a tangent rule (forward mode)."""

    primal: Any
    function: Callable
    where: tuple[tuple[str, Any], ...] = ()
    ranks: tuple[tuple[str, int], ...] = ()
    kind: str = "adjoint"
    adds: Any = None  # a tangent rule's terms are added with this function, not with +

    @property
    def conditions(self) -> tuple:
        return self.where + self.ranks

    def primal_signature(self) -> inspect.Signature:
        """The primal's call signature as the rule declares it (the output, and its adjoint or
        the parameters' tangents, removed)."""
        return _primal_signature(self.function, self.kind)


@functools.cache
def _primal_signature(function: Callable, kind: str) -> inspect.Signature:
    """``Rule.primal_signature``, made once per rule function: the sweep asks it at every line
    the rule differentiates, and ``inspect.signature`` was a tenth of the sweep's time. (A
    signature is immutable, and a function's parameters are fixed when it is defined.)"""
    parameters = list(rule_signature(function).parameters.values())
    output = parameters[0].name
    if kind == "tangent":
        tangents = set(tangent_parameters(function))
        return inspect.Signature([p for p in parameters[1:] if p.name not in tangents])
    return inspect.Signature([p for p in parameters[1:] if p.name != output + "_bar"])


@functools.cache
def rule_signature(function: Callable) -> inspect.Signature:
    """``inspect.signature(function)`` of a rule's function, made once per function."""
    return inspect.signature(function)


def tangent_parameters(function: Callable) -> list[str]:
    """The tangent parameters ``<p>_dot`` of a tangent rule, in order: the names ending in
    ``_dot`` whose stem is another parameter of the rule."""
    names = list(rule_signature(function).parameters)
    return [n for n in names[1:] if n.endswith("_dot") and n[: -len("_dot")] in names[1:]]


class NonDifferentiable:
    """Marks a primal whose output carries no gradient (zero or undefined derivative)."""

    def __repr__(self) -> str:
        return "NON_DIFFERENTIABLE"


NON_DIFFERENTIABLE = NonDifferentiable()


class Variable:
    """In a rule's ``where``: the argument is not a constant in the source (a name)."""

    def __repr__(self) -> str:
        return "VARIABLE"


VARIABLE = Variable()


# Loaders of rules registered only when first needed (SciPy's: importing scipy.signal and
# scipy.stats costs most of a second, which a program that never uses SciPy should not pay).
# Each registers its rules if it can and has not yet, and says whether it did.
_LATE_RULES: list[Callable[[], bool]] = []


def load_late_rules() -> bool:
    """Run every late loader; True if one registered rules now (a lookup that found nothing is
    then tried again)."""
    return any([loader() for loader in _LATE_RULES])


def register_late_rules(loader: Callable[[], bool]) -> None:
    """Call ``loader`` on a lookup that finds no rule (see ``load_late_rules``)."""
    _LATE_RULES.append(loader)


def _key(primal: Any) -> Any:
    try:
        hash(primal)
    except TypeError:
        return ("id", id(primal))
    return primal


@dataclass
class RuleTable:
    """Rules keyed by primal; a primal may have several rules guarded by ``where`` conditions."""

    rules: dict[Any, list[Rule]] = field(default_factory=dict)
    non_differentiable: dict[Any, Any] = field(default_factory=dict)
    tangents: dict[Any, list[Rule]] = field(default_factory=dict)

    def register(
        self,
        primal: Any,
        function: Callable,
        where: Mapping[str, Any],
        ranks: Mapping[str, int] | None = None,
        kind: str = "adjoint",
        adds: Any = None,
    ) -> None:
        rule = Rule(
            primal, function, tuple(where.items()), tuple((ranks or {}).items()), kind, adds
        )
        table = self.tangents if kind == "tangent" else self.rules
        entries = table.setdefault(_key(primal), [])
        # Specialised rules (with conditions) are tried before the general one; rules for
        # given ranks before those for given constants, which work for any rank. A rule for
        # any rank replaces those for given ranks too: a user's rule overrides the built-in one
        # for every rank, not only where no rank-specific built-in applies.
        entries[:] = [
            r
            for r in entries
            if r.conditions != rule.conditions and (rule.ranks or r.where != rule.where)
        ]
        entries.append(rule)
        entries.sort(key=lambda r: (not r.ranks, not r.where))
        self.non_differentiable.pop(_key(primal), None)

    def mark_non_differentiable(self, primal: Any) -> None:
        self.non_differentiable[_key(primal)] = primal
        self.rules.pop(_key(primal), None)
        self.tangents.pop(_key(primal), None)

    def lookup(self, primal: Any) -> list[Rule] | NonDifferentiable | None:
        """The rules for ``primal`` (most specific first), ``NON_DIFFERENTIABLE``, or ``None``."""
        key = _key(primal)
        if key not in self.rules and key not in self.non_differentiable and load_late_rules():
            return self.lookup(primal)
        if key in self.non_differentiable:
            return NON_DIFFERENTIABLE
        return self.rules.get(key)

    def lookup_tangent(self, primal: Any) -> list[Rule] | NonDifferentiable | None:
        """The tangent rules for ``primal`` (most specific first), ``NON_DIFFERENTIABLE``, or
        ``None``."""
        key = _key(primal)
        if key not in self.tangents and key not in self.non_differentiable and load_late_rules():
            return self.lookup_tangent(primal)
        if key in self.non_differentiable:
            return NON_DIFFERENTIABLE
        return self.tangents.get(key)

    def primals(self) -> list[Any]:
        """Every primal with at least one rule."""
        load_late_rules()
        return [rules[0].primal for rules in self.rules.values()]


RULES = RuleTable()


def _check_rule(function: Callable, primals: tuple, where: Mapping[str, Any]) -> None:
    """``where`` here is every parameter a condition names (constants and ranks alike)."""
    if not inspect.isfunction(function):
        raise RuleDefinitionError(
            f"an adjoint rule must be a plain function, not {type(function).__name__}"
        )
    parameters = list(inspect.signature(function).parameters.values())
    name = function.__qualname__
    if not parameters:
        raise RuleDefinitionError(
            f"adjoint rule {name} takes no parameters; it must take the primal output, "
            "the primal's parameters and the output adjoint, e.g. (y, x, y_bar)"
        )
    output = parameters[0].name
    if output + "_bar" not in {p.name for p in parameters}:
        raise RuleDefinitionError(
            f"adjoint rule {name} has no parameter {output}_bar for the adjoint of its "
            f"output {output}: declare it after the primal's parameters"
        )
    kinds = {p.name: p.kind for p in parameters}
    if inspect.Parameter.VAR_KEYWORD in kinds.values():
        raise RuleDefinitionError(f"adjoint rule {name} may not take **kwargs")
    for key in where:
        if key not in kinds or key in (output, output + "_bar"):
            raise RuleDefinitionError(
                f"adjoint rule {name}: where= names {key!r}, which is not a parameter "
                f"of the primal {', '.join(describe(p) for p in primals)}"
            )
    _require_source(function, "adjoint", name)


def _require_source(function: Callable, kind: str, name: str) -> None:
    """A rule's source must be readable: rules are inlined into the generated code."""
    try:
        inspect.getsource(function)
    except (OSError, TypeError) as error:
        raise RuleDefinitionError(
            f"cannot read the source of {kind} rule {name} ({error}); rules are inlined "
            "into the generated code, so define them in a file"
        ) from None


def adjoint(
    *primals: Any,
    where: Mapping[str, Any] | None = None,
    ranks: Mapping[str, int] | None = None,
) -> Callable:
    """Register the decorated function as the adjoint rule of each of ``primals``.

    ``where`` restricts the rule to calls whose arguments are these constants (for instance
    ``where={"axis": None}``); ``ranks`` to calls whose arguments are known, when the adjoint
    is compiled for the arguments at hand, to have these numbers of dimensions (for instance
    ``ranks={"x": 2, "y": 2}``). Such rules are preferred over the unrestricted one, which must
    exist for the cases they do not cover. A later registration for the same primal and
    conditions replaces the earlier one, so a user may override a built-in rule.
    """
    conditions = dict(where or {})
    rank_conditions = dict(ranks or {})

    def register(function: Callable) -> Callable:
        if not primals:
            raise RuleDefinitionError("@adjoint needs the function(s) it differentiates")
        _check_rule(function, primals, {**conditions, **rank_conditions})
        for primal in primals:
            RULES.register(primal, function, conditions, rank_conditions)
        return function

    return register


def _check_tangent_rule(function: Callable, primals: tuple, where: Mapping[str, Any]) -> None:
    """A tangent rule's form: a plain function of (output, parameters..., tangents...)."""
    name = getattr(function, "__qualname__", repr(function))
    if not inspect.isfunction(function):
        raise RuleDefinitionError(
            f"a tangent rule must be a plain function, not {type(function).__name__}"
        )
    parameters = list(inspect.signature(function).parameters.values())
    if len(parameters) < 2 or not tangent_parameters(function):
        raise RuleDefinitionError(
            f"tangent rule {name} must take the primal output, the primal's parameters and "
            "one tangent <p>_dot per differentiable parameter p, e.g. (y, x, x_dot)"
        )
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        raise RuleDefinitionError(f"tangent rule {name} may not take **kwargs")
    names = {p.name for p in parameters[1:]} - set(tangent_parameters(function))
    for key in where:
        if key not in names:
            raise RuleDefinitionError(
                f"tangent rule {name}: where= names {key!r}, which is not a parameter "
                f"of the primal {', '.join(describe(p) for p in primals)}"
            )
    _require_source(function, "tangent", name)


def tangent(
    *primals: Any,
    where: Mapping[str, Any] | None = None,
    ranks: Mapping[str, int] | None = None,
    adds: Any = None,
) -> Callable:
    """Register the decorated function as the tangent rule (forward mode) of each of
    ``primals``; ``where`` and ``ranks`` as for ``adjoint``. The rule takes the primal output,
    the primal's parameters, then ``<p>_dot`` for each differentiable positional parameter, and
    returns one term per such parameter (see the module docstring). The generated code adds
    the terms with ``+``, or with the function ``adds`` (of two terms) where given: for an
    output that is a tuple, whose terms ``+`` would join instead of adding."""
    conditions = dict(where or {})
    rank_conditions = dict(ranks or {})

    def register(function: Callable) -> Callable:
        if not primals:
            raise RuleDefinitionError("@tangent needs the function(s) it differentiates")
        _check_tangent_rule(function, primals, {**conditions, **rank_conditions})
        for primal in primals:
            RULES.register(
                primal, function, conditions, rank_conditions, kind="tangent", adds=adds
            )
        return function

    return register


def non_differentiable(*primals: Any) -> None:
    """Declare that the outputs of ``primals`` carry no gradient (as for ``np.argmax``)."""
    for primal in primals:
        RULES.mark_non_differentiable(primal)


def active_arguments(arguments: tuple) -> tuple[bool, ...]:
    """In a rule's body, ``active_arguments(operands)`` of its ``*operands`` parameter: for
    each argument, whether its adjoint is wanted (it depends on the inputs differentiated and
    reaches the result), so the rule computes no adjoint of a constant operand.

    Run as a plain function (a rule called on its own) it says every argument is wanted. The
    compiler, inlining the rule, writes the flags the activity analysis gives at that line
    instead (``(True, False)`` for ``np.einsum("ij,ij->", y, R)`` with ``R`` constant); where
    the arguments are not a tuple it can see (``np.einsum(s, *arrays)``) the call stays and
    every adjoint is made. Identity: an adjoint left out is one the sweep never adds anywhere
    (it adds only active arguments' adjoints), so leaving it out changes no gradient."""
    return (True,) * len(arguments)
