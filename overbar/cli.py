"""The command line: ``overbar show FILE.py:FUNCTION [--wrt a,b] [--stage adjoint|normalized]``.

Prints the generated adjoint of a function (or its normal form). Errors are one line on standard
error and exit status 2; no traceback, since they are about the user's input, not overbar.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from pathlib import Path

from overbar.errors import OverbarError


class CommandError(Exception):
    """A problem with the command line's arguments (missing file, function, ...)."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="overbar", description="Show the adjoint code overbar generates for a function."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the generated adjoint of FILE.py:FUNCTION")
    show.add_argument("target", metavar="FILE.py:FUNCTION")
    show.add_argument(
        "--wrt",
        default="0",
        help="parameters to differentiate, by name or position, comma-separated (default: 0)",
    )
    show.add_argument(
        "--stage",
        choices=("adjoint", "normalized"),
        default="adjoint",
        help="what to print: the adjoint (default) or the function in normal form",
    )
    arguments = parser.parse_args(argv)
    try:
        print(show_source(arguments.target, arguments.wrt, arguments.stage), end="")
    except (CommandError, OverbarError) as error:
        print(f"overbar: error: {error}", file=sys.stderr)
        return 2
    return 0


def show_source(target: str, wrt: str, stage: str = "adjoint") -> str:
    """The generated source for ``FILE.py:FUNCTION``."""
    from overbar.api import GradientFunction
    from overbar.transpiler.emit import to_source

    function = load_function(target)
    items = [item.strip() for item in wrt.split(",") if item.strip()]
    parsed_wrt = tuple(int(item) if item.lstrip("-").isdigit() else item for item in items)
    gradient = GradientFunction(function, parsed_wrt[0] if len(parsed_wrt) == 1 else parsed_wrt)
    stages = gradient.stages
    if stage == "normalized":
        return to_source(stages.normal_form.tree)
    return gradient.source


def load_function(target: str):
    """Import ``FILE.py`` (not as ``__main__``) and return its function ``FUNCTION``."""
    path_text, separator, name = target.rpartition(":")
    if not separator or not path_text or not name:
        raise CommandError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise CommandError(f"no such file: {path_text}")
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(f"overbar_show_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise CommandError(f"{path_text} has a syntax error: {error}") from None
    except Exception as error:  # the user's module failed while importing
        raise CommandError(
            f"importing {path_text} failed: {type(error).__name__}: {error}"
        ) from None
    function = getattr(module, name, None)
    if function is None:
        defined = sorted(
            node.name
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef)
        )
        raise CommandError(
            f"{path_text} defines no function {name!r} (functions: {', '.join(defined)})"
        )
    function = getattr(function, "__wrapped__", function)
    return function
