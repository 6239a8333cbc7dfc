"""Errors raised by overbar.

User errors (``OverbarError`` and its subclasses except ``InternalError``) say what the
construct is, where it is in the user's source, and what to do instead. ``InternalError``
is a bug in overbar itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLocation:
    """A span of the user's source: file, 1-based line, 0-based columns, and the line text."""

    filename: str
    line: int
    column: int
    end_column: int | None
    text: str

    def render(self) -> str:
        """``file:line:col`` followed by the source line with a caret under the span."""
        header = f"{self.filename}:{self.line}:{self.column + 1}"
        if not self.text:
            return header
        stripped = self.text.rstrip()
        width = 1
        if self.end_column is not None and self.end_column > self.column:
            width = min(self.end_column, len(stripped)) - self.column
        caret = " " * self.column + "^" * max(width, 1)
        return f"{header}\n    {stripped}\n    {caret}"


class OverbarError(Exception):
    """Base class of every error overbar raises on purpose."""

    def __init__(self, message: str, location: SourceLocation | None = None):
        self.message = message
        self.location = location
        super().__init__(self._render())

    def _render(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location.render()}\n{self.message}"


class UnsupportedSyntaxError(OverbarError):
    """The function uses Python syntax that overbar cannot differentiate (yet)."""


class SourceUnavailableError(OverbarError):
    """The function's source cannot be read (made by ``exec``, typed at the prompt, ...)."""


class MissingRuleError(OverbarError):
    """A call on a differentiated value has no adjoint rule."""


class RuleDefinitionError(OverbarError):
    """A user-registered adjoint rule is malformed."""


class NonScalarOutputError(OverbarError, TypeError):
    """``grad`` was asked to differentiate a function whose result is not a real scalar (an
    array, a tuple, a complex number or a truth value). A ``TypeError`` too, as the result's
    type is what is wrong."""


class ArgumentError(OverbarError):
    """``wrt`` or the call arguments do not match the function's signature."""


class GradientMismatchError(OverbarError, AssertionError):
    """``check_grad`` found a gradient that disagrees with finite differences."""


class GradientCheckError(GradientMismatchError):
    """``grad(..., check=True)`` found an adjoint that disagrees with the literal adjoint or with
    central differences."""


class NoDerivativeError(OverbarError):
    """The function is called at an input where it has no derivative, or none overbar computes
    (repeated eigenvalues with eigenvector adjoints, a rank-deficient pseudo-inverse, ...)."""


class InternalError(OverbarError):
    """A bug in overbar: please report it with the function that triggered it."""
