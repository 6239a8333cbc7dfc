"""The logistic function and softplus written out, differentiated as the functions they are.

In the normal form the logistic function is four lines::

    t1 = -z                 # or -1 * z, -1.0 * z, np.negative(z)
    t2 = np.exp(t1)
    t3 = 1 + t2             # or t2 + 1, 1.0 + t2
    h = 1 / t3              # or 1.0 / t3, np.reciprocal(t3), t3 ** -1

and the chain of their rules gives ``z̄ = h̄ h / t3 · t2``, which keeps ``t2`` and ``t3``, two
arrays the size of ``z``, alive from the forward sweep to the reverse one. This pass finds such
chains; the reverse sweep then applies the logistic function's own rule to the last line,
``z̄ = h̄ h (1 − h)``, and nothing to the three others, so only ``h`` is kept (the simplifier
folds the unread temporaries back into ``h = 1 / (1 + np.exp(-z))``), as in the adjoint a
person writes.

Softplus, ``y = np.log(1 + np.exp(x))`` (or ``np.log1p(np.exp(x))``), is three lines whose rules
give ``x̄ = ȳ e / (1 + e)``, keeping ``e = exp(x)`` and ``1 + e``; its own rule is the logistic
function of ``x``, ``x̄ = ȳ / (1 + exp(−x))``, which keeps nothing: its ``exp`` runs in the
reverse sweep (where the forward sweep's value is not needed, ``grad``, its ``exp`` is gone from
there). Identity: ``e / (1 + e) = 1 / (1 + 1/e)`` with ``1/e = exp(−x)``. Side conditions: the
two temporaries are bound once and read only by the next line; the constant is exactly one;
``x`` is bound once (or a parameter never bound anew), so at the log's line, where the rule
reads it, it holds what the exp read (a loop may rebind it between the two: seed 96, program
1652 of the fuzzer).
Rounding: the same to an ulp; where ``exp(x)`` overflows (x above 709) the chain gives nan
(inf / inf) and this gives the limit, ``ȳ``.

Softplus written with ``logaddexp``, ``y = np.logaddexp(0, x)`` (or ``logaddexp(x, 0)``), is
one line whose rule, ``x̄ = ȳ eˣ⁻ʸ``, reads y: where the forward sweep does not keep y (``grad``,
y read by nothing else) the reverse sweep computes the logaddexp again, three times the cost of
an exp, for ``exp(x − y)``. Softplus's own rule reads x alone. Identity: ``eˣ⁻ʸ = eˣ / (1 + eˣ)
= 1 / (1 + e⁻ˣ)`` for ``y = log(1 + eˣ)``. Side conditions: the other argument is the constant
zero (so its adjoint is none); the rule reads x at the line itself, so it is the x logaddexp
read. Rounding: the same to an ulp; below x = −709 ``e⁻ˣ`` overflows (NumPy warns) and the
rule gives 0, the limit, as ``exp(x − y)`` does (it underflows there).

The logistic function written with ``logaddexp`` (which does not overflow), ``h = exp(-t2)``,
``t2 = logaddexp(0, t1)``, ``t1 = -z``, is the same function, ``exp(−log(1 + e⁻ᶻ)) = 1 / (1 +
e⁻ᶻ)``: its chain of rules gives ``z̄ = h̄ h e^(t1 − t2)``, an exp more in the reverse sweep and
``t1`` and ``t2`` kept, where ``h (1 − h)`` needs only ``h``. Side conditions as below (each
temporary bound once and read only by the next line; the constant exactly zero).

Identity: for ``h = 1 / (1 + e)`` with ``e = exp(−z)``, ``dh/dz = e / (1 + e)² = h (1 − h)``,
since ``e / (1 + e) = 1 − h``. Side conditions: ``t1``, ``t2`` and ``t3`` are each bound once,
by these lines, and read only by the next line of the chain (so no other line needs their
adjoints), and the constants are exactly one. Rounding: where ``h`` rounds to 1 (``z`` above
about 37), ``1 − h`` is 0 where the chain gives ``e^−z``, below 1e−16: an absolute difference
far under the gradient's scale (a quarter at ``z = 0``), as every framework's logistic rule has.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from overbar.transpiler.names import (
    bindings,
    names_read,
    statements_breadth_first,
)
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import Namespace
from overbar.transpiler.primitive import Application, application_of


def logistic_lines(
    form: NormalForm, namespace: Namespace, library: Any
) -> dict[int, tuple[str, str]]:
    """For each line (by id) that ends a logistic chain (``h = 1 / t3``) or a softplus
    (``y = log(t2)``): its argument's name and which (``"logistic"`` or ``"softplus"``).
    ``library`` is the runtime's array module (numpy), whose exp, log, ... the lines call."""
    bound = bindings(form.tree.body)
    readers: dict[str, list[ast.stmt]] = {}
    for node in statements_breadth_first(form.tree):
        if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef):
            for name in names_read(node):
                readers.setdefault(name, []).append(node)

    def only_line(name: str, reader: ast.stmt) -> ast.Assign | None:
        """The one line that binds ``name``, if ``reader`` is the one line that reads it."""
        lines = bound.get(name, [])
        if len(lines) != 1 or readers.get(name, []) != [reader] or name in form.parameters:
            return None
        line = lines[0]
        return line if isinstance(line, ast.Assign) and len(line.targets) == 1 else None

    def application(line: ast.Assign) -> Application:
        return application_of(line.value, form, namespace)

    found = {}
    for nodes in bound.values():
        for line in nodes:
            if not isinstance(line, ast.Assign) or not isinstance(line.targets[0], ast.Name):
                continue
            t3 = _reciprocal_of(application(line), library)
            sum_line = t3 and only_line(t3, line)
            t2 = sum_line and _one_plus(application(sum_line), library)
            exp_line = t2 and only_line(t2, sum_line)
            t1 = exp_line and _exp_of(application(exp_line), library)
            negation_line = t1 and only_line(t1, exp_line)
            z = negation_line and _negation_of(application(negation_line), library)
            if z:
                found[id(line)] = (z, "logistic")
                continue
            z = _stable_logistic(line, application, only_line, library)
            if z:
                found[id(line)] = (z, "logistic")
                continue
            x = _softplus_of(application(line), library)
            if x:  # logaddexp(0, x): softplus of x, read at the line itself
                found[id(line)] = (x, "softplus")
                continue
            softplus = _softplus(line, application, only_line, library)
            # its rule reads x at the log's line: x must hold there what it held at the exp's
            if all(_bound_once(x, bound, form) for x, _ in softplus.values()):
                found.update(softplus)
    return found


def _stable_logistic(line: ast.Assign, application, only_line, lib) -> str | None:
    """``h = exp(-logaddexp(0, -z))`` (the logistic function written with logaddexp, which
    does not overflow) ending at ``line``: z."""
    t3 = _exp_of(application(line), lib)
    negation_line = t3 and only_line(t3, line)
    t2 = negation_line and _negation_of(application(negation_line), lib)
    softplus_line = t2 and only_line(t2, negation_line)
    t1 = softplus_line and _softplus_of(application(softplus_line), lib)
    inner_line = t1 and only_line(t1, softplus_line)
    return (inner_line and _negation_of(application(inner_line), lib)) or None


def _softplus_of(application: Application, lib: Any) -> str | None:
    """``logaddexp(0, t)`` or ``logaddexp(t, 0)`` (log(1 + eᵗ)): t."""
    if not _plain(application, (lib.logaddexp,), 2):
        return None
    left, right = application.positional
    if _is_zero(left):
        return _name(right)
    return _name(left) if _is_zero(right) else None


def _is_zero(atom: ast.expr) -> bool:
    return isinstance(atom, ast.Constant) and type(atom.value) in (int, float) and atom.value == 0


def _bound_once(name: str, bound: dict, form: NormalForm) -> bool:
    """Whether ``name`` holds one value wherever it is read: one binding, or a parameter that
    is never bound anew."""
    return len(bound.get(name, [])) + (name in form.parameters) <= 1


def _softplus(line: ast.Assign, application, only_line, lib) -> dict[int, tuple[str, str]]:
    """``y = log(1 + exp(x))`` (or ``log1p(exp(x))``) ending at ``line``: {id: (x, ...)}."""
    outer = application(line)
    if _plain(outer, (lib.log,), 1):
        inner = _name(outer.positional[0])
        sum_line = inner and only_line(inner, line)
        t1 = sum_line and _one_plus(application(sum_line), lib)
        exp_line = t1 and only_line(t1, sum_line)
    elif _plain(outer, (lib.log1p,), 1):
        t1 = _name(outer.positional[0])
        exp_line = t1 and only_line(t1, line)
    else:
        return {}
    x = exp_line and _exp_of(application(exp_line), lib)
    return {id(line): (x, "softplus")} if x else {}


def _is_one(atom: ast.expr) -> bool:
    return isinstance(atom, ast.Constant) and type(atom.value) in (int, float) and atom.value == 1


def _is_minus_one(atom: ast.expr) -> bool:
    return (
        isinstance(atom, ast.UnaryOp)
        and isinstance(atom.op, ast.USub)
        and _is_one(atom.operand)
        or isinstance(atom, ast.Constant)
        and type(atom.value) in (int, float)
        and atom.value == -1
    )


def _name(atom: ast.expr) -> str | None:
    return atom.id if isinstance(atom, ast.Name) else None


def _plain(application: Application, primals: tuple[Any, ...], count: int) -> bool:
    return (
        application.primal in primals
        and len(application.positional) == count
        and not application.keywords
    )


def _reciprocal_of(application: Application, lib: Any) -> str | None:
    """``1 / t``, ``np.reciprocal(t)``, ``t ** -1``: t."""
    if _plain(application, (operator.truediv, lib.divide), 2):
        one, t = application.positional
        return _name(t) if _is_one(one) else None
    if _plain(application, (lib.reciprocal,), 1):
        return _name(application.positional[0])
    if _plain(application, (operator.pow, lib.power), 2):
        t, exponent = application.positional
        return _name(t) if _is_minus_one(exponent) else None
    return None


def _one_plus(application: Application, lib: Any) -> str | None:
    """``1 + e`` or ``e + 1``: e."""
    if not _plain(application, (operator.add, lib.add), 2):
        return None
    left, right = application.positional
    if _is_one(left):
        return _name(right)
    return _name(left) if _is_one(right) else None


def _exp_of(application: Application, lib: Any) -> str | None:
    return _name(application.positional[0]) if _plain(application, (lib.exp,), 1) else None


def _negation_of(application: Application, lib: Any) -> str | None:
    """``-z``, ``np.negative(z)``, ``-1 * z`` or ``z * -1``: z."""
    if _plain(application, (operator.neg, lib.negative), 1):
        return _name(application.positional[0])
    if _plain(application, (operator.mul, lib.multiply), 2):
        left, right = application.positional
        if _is_minus_one(left):
            return _name(right)
        return _name(left) if _is_minus_one(right) else None
    return None
