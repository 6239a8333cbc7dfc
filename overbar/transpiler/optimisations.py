"""Which optimising passes a transformation runs.

The literal adjoint, every pass off (``Optimisations.none()``), applies one adjoint rule per
line of the normal form and nothing else: it is the reference every optimised adjoint is checked
against (``overbar.grad(f, check=True)``, the test harness, the fuzzer). Each flag switches one
pass, alone or with others, so a disagreement can be traced to the pass that causes it:

>>> Optimisations.none() == Optimisations(**{name: False for name in Optimisations.names()})
True
>>> print(*Optimisations.names())
shapes stabilisers idioms seed simplify peephole inline residuals forward
>>> Optimisations.parse("all,-peephole").peephole, Optimisations.parse("all,-peephole").simplify
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Optimisations:
    """The optimising passes, each on (True) or off."""

    shapes: bool = True
    """Specialise rules on inferred shapes: rank-specific rules, broadcast adjoints summed over
    axes known at compile time, a loop's trip count taken from its range (``shapes.py``), a
    value read only for its shape read from the parameter of that shape (``known_shapes.py``)."""
    stabilisers: bool = True
    """No gradient into the stabiliser ``m`` of ``a - m`` before a softmax (``invariance.py``)."""
    idioms: bool = True
    """Idioms written out differentiated as the function they compute: the logistic function
    ``1 / (1 + np.exp(-z))`` from its output, ``z̄ = h̄ h (1 − h)`` (``logistic.py``)."""
    seed: bool = True
    """A scalar result's adjoint is seeded with the literal 1.0 (instead of ``seed(result)``),
    propagated into the reverse sweep, so the lines that only compute the value can go."""
    simplify: bool = True
    """Dead code removed, temporaries folded, literals folded (``simplify.py``)."""
    peephole: bool = True
    """Arithmetic rewrites of the reverse sweep (``peephole.py``), and forward values it
    computes again read from the forward sweep (``reuse.py``)."""
    inline: bool = True
    """Small helpers' lines spliced into the caller's normal form instead of given a pullback
    each, which runs the helper again (``inline.py``); then tests of a name that holds only
    None (a helper's optional argument left to its default) decided, and the branch they rule
    out dropped (``none_tests.py``)."""
    residuals: bool = True
    """A helper kept as a pullback runs forward once: the caller's forward sweep calls its
    forward function, which returns its value and its residuals (what its reverse sweep
    reads), and the reverse sweep calls the pullback that reads them (``lines.forward_call``,
    ``split.py``). Off, the pullback runs the helper's forward sweep again."""
    forward: bool = True
    """The gradient with respect to one number taken by forward mode: ``grad`` of a function
    differentiated with respect to one parameter that has one element (a Python float, a NumPy
    float, a 0-d or size-1 array) runs its jvp along the tangent 1 (``x_dot = one_like(x)``):
    one sweep that carries the slope forward beside the value, with no stack and no second
    loop (``api.forward_gradient``; ``forward.py`` with ``gradient``).

    Identity: for a scalar ``f`` of one number ``x``, ``∂f/∂x = J·1 = Jᵀ·1``: the jvp along
    ``ẋ = 1`` is the gradient. Side conditions: ``wrt`` names one parameter, not a container,
    and the shapes key says it has one element (``()`` or every dimension 1); the result is a
    scalar (checked as the reverse seed checks it, where shapes do not say so); the tangent is
    given ``x``'s shape (a size-1 array's gradient is reshaped to it) and, as any gradient,
    ``x``'s float dtype (float32 stays float32). Where forward mode refuses the function at
    transformation time (a construct, or a helper, it has no tangent for) the reverse adjoint
    is taken instead, as without this flag. Off, or where a condition fails: the reverse
    adjoint."""

    @classmethod
    def none(cls) -> Optimisations:
        """Every pass off: the literal adjoint."""
        return cls(**{field.name: False for field in fields(cls)})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    @classmethod
    def parse(cls, text: str) -> Optimisations:
        """From a comma-separated list: ``all``, ``none``, ``NAME`` (on) and ``-NAME`` (off),
        applied left to right; unknown names raise ``ValueError``."""
        chosen = cls.none()
        for word in filter(None, (part.strip() for part in text.split(","))):
            if word in ("all", "none"):
                chosen = cls() if word == "all" else cls.none()
                continue
            name, on = (word[1:], False) if word.startswith("-") else (word, True)
            if name not in cls.names():
                raise ValueError(
                    f"unknown optimisation {name!r}: choose from all, none, "
                    + ", ".join(cls.names())
                )
            chosen = replace(chosen, **{name: on})
        return chosen


ALL = Optimisations()
LITERAL = Optimisations.none()
