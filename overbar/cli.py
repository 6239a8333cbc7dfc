"""The command line: ``overbar show FILE.py:FUNCTION [--wrt a,b] [--shapes x=3x64,s=float]
[--mode grad|jvp|vjp|hvp] [--stage adjoint|normalized]``, ``overbar rules [PATTERN]
[--markdown]``, and ``overbar cache path|list|clear`` for the disk cache.

``show`` prints the generated adjoint of a function (with ``--mode jvp``, its forward-mode
code; or its normal form): the general one, or with
``--shapes`` the one a call with arguments of those shapes runs. ``rules`` lists the rule table:
each primitive with its rule's math and the conditions it applies under, then the primitives
with no gradient (``--markdown`` writes the table ``docs/rules.md`` holds). Errors are one line
on standard error and exit status 2; no traceback, since they are about the user's input, not
overbar.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import importlib.util
import sys
import textwrap
from pathlib import Path

from overbar.errors import OverbarError
from overbar.transpiler.optimisations import ALL, Optimisations


class CommandError(Exception):
    """A problem with the command line's arguments (missing file, function, ...)."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="overbar",
        description="Show the adjoint code overbar generates for a function, or its rules.",
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
        "--shapes",
        default="",
        help="specialise on argument shapes, e.g. W=8x3,b=8x1,x=3x64,s=float (others unknown)",
    )
    show.add_argument(
        "--optimise",
        default="all",
        help="optimising passes: all (default), none (the literal adjoint), or a list such as "
        "all,-peephole or none,simplify (passes: " + ", ".join(Optimisations.names()) + ")",
    )
    show.add_argument(
        "--mode",
        choices=("grad", "jvp", "vjp", "hvp"),
        default="grad",
        help="what to generate: the adjoint (grad, default), the forward-mode code overbar.jvp "
        "runs (jvp), the forward function and pullback of overbar.vjp (vjp), or those of the "
        "adjoint itself, which overbar.hvp runs (hvp)",
    )
    show.add_argument(
        "--stage",
        choices=("adjoint", "normalized"),
        default="adjoint",
        help="what to print: the adjoint (default) or the function in normal form",
    )
    cache_command = commands.add_parser(
        "cache", help="the disk cache of compiled adjoints: where it is, what is in it, clear it"
    )
    cache_command.add_argument("action", choices=("path", "list", "clear"))
    rules = commands.add_parser("rules", help="list the adjoint rules and the primitives")
    rules.add_argument(
        "pattern",
        nargs="?",
        default="",
        help="only primitives whose name contains this text (or matches it, with * ? [ ])",
    )
    rules.add_argument(
        "--markdown", action="store_true", help="a Markdown table (what docs/rules.md holds)"
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "cache":
        return cache_main(arguments.action)
    if arguments.command == "rules":
        print(rules_table(arguments.pattern, arguments.markdown), end="")
        return 0
    try:
        source = show_source(
            arguments.target,
            arguments.wrt,
            arguments.stage,
            arguments.shapes,
            Optimisations.parse(arguments.optimise),
            arguments.mode,
        )
        print(source, end="")
    except (CommandError, OverbarError, ValueError) as error:
        print(f"overbar: error: {error}", file=sys.stderr)
        return 2
    return 0


def cache_main(action: str) -> int:
    """``overbar cache path|list|clear``: print the directory, list its entries, or remove
    them."""
    from overbar import cache

    if action == "path":
        state = "on" if cache.enabled() else f"off ({cache.SWITCH_VARIABLE}=0)"
        print(f"{cache.directory()}  (disk cache {state})")
    elif action == "list":
        for entry in cache.entries():
            print(f"{entry.stat().st_size:>9}  {entry.name}")
    else:
        removed = cache.clear()
        print(
            f"removed {removed} {'entry' if removed == 1 else 'entries'} from {cache.directory()}"
        )
    return 0


def show_source(
    target: str,
    wrt: str,
    stage: str = "adjoint",
    shapes: str = "",
    optimisations: Optimisations = ALL,
    mode: str = "grad",
) -> str:
    """The generated source for ``FILE.py:FUNCTION`` (specialised on ``shapes`` if given),
    with the given ``optimisations``: ``grad``'s adjoint, with ``mode="jvp"`` the forward-mode
    code (where the optimisations do not apply), with ``mode="vjp"`` the forward function and
    pullback ``overbar.vjp`` runs, with ``mode="hvp"`` those of the adjoint (what
    ``overbar.hvp`` runs)."""
    from overbar.api import GradientFunction, gradient_sources, gradient_stages
    from overbar.transpiler.emit import to_source
    from overbar.transpiler.pipeline import all_sources

    function = load_function(target)
    items = [item.strip() for item in wrt.split(",") if item.strip()]
    parsed_wrt = tuple(int(item) if item.lstrip("-").isdigit() else item for item in items)
    gradient = GradientFunction(
        function,
        parsed_wrt[0] if len(parsed_wrt) == 1 else parsed_wrt,
        optimise=optimisations,
    )
    if mode == "jvp":
        from overbar.forward_api import forward_stages
        from overbar.transpiler.forward_pipeline import all_forward_sources

        given = parse_shapes(shapes, list(gradient._signature.parameters)) if shapes else ()
        stages = forward_stages(function, gradient.wrt, given)
        if stage == "normalized":
            return to_source(stages.normal_form.tree)
        return all_forward_sources(stages)
    if stage == "normalized":
        return to_source(gradient.stages.normal_form.tree)
    given = parse_shapes(shapes, list(gradient._signature.parameters)) if shapes else ()
    if mode == "vjp":
        from overbar.pullbacks import vjp_stages

        return all_sources(vjp_stages(function, gradient.wrt, given, optimisations))
    if mode == "hvp":
        from overbar.hessians import hvp_source

        return hvp_source(function, gradient.wrt, given, optimisations)
    if shapes:
        given = parse_shapes(shapes, list(gradient._signature.parameters))
        # what grad runs for arguments of these shapes (by forward mode for one number)
        return gradient_sources(
            gradient_stages(
                function, gradient.wrt, given, with_value=False, optimisations=optimisations
            )
        )
    return gradient.source


def parse_shapes(text: str, parameters: list[str]) -> tuple[tuple[str, object], ...]:
    """``W=8x3,b=8x1,s=float`` as (name, shape) pairs in the order of ``parameters``."""
    import numpy as np

    from overbar.runtime.shapes import argument_shape

    given = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, separator, dims = item.partition("=")
        name, dims = name.strip(), dims.strip()
        if not separator or name not in parameters:
            raise CommandError(
                f"--shapes: expected NAME=AxB (or NAME=float) for a parameter "
                f"({', '.join(parameters)}), got {item!r}"
            )
        if dims in ("float", "()", ""):
            given[name] = 0.0
            continue
        try:
            given[name] = np.empty(tuple(int(d) for d in dims.split("x")))
        except ValueError:
            raise CommandError(f"--shapes: {dims!r} is not a shape like 8x3") from None
    return tuple((name, argument_shape(given[name])) for name in parameters if name in given)


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


def rules_table(pattern: str = "", markdown: bool = False) -> str:
    """The rule table as text (or Markdown): each primitive whose name matches ``pattern``,
    with each of its rules' math (the docstring's first paragraph) and the conditions it
    applies under (constant arguments, ranks), its adjoint rules first, then its tangent rules
    (forward mode); then the primitives that have no gradient."""
    from overbar.primitives import describe
    from overbar.runtime import RULES, load_scipy_rules
    from overbar.runtime.registry import VARIABLE

    load_scipy_rules(import_scipy=True)

    def matches(name: str) -> bool:
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatchcase(name, pattern)
        return pattern.lower() in name.lower()

    def condition(key: str, value: object) -> str:
        return f"{key} not a constant" if value is VARIABLE else f"{key}={value!r}"

    rows = []
    keys = [*RULES.rules, *(key for key in RULES.tangents if key not in RULES.rules)]
    for key in keys:  # each primitive's adjoint rules, then its tangent rules
        entries = [*RULES.rules.get(key, []), *RULES.tangents.get(key, [])]
        name = describe(entries[0].primal)
        if not matches(name):
            continue
        for rule in entries:
            doc = (rule.function.__doc__ or "").strip().split("\n\n")[0]
            math = " ".join(doc.split())
            where = [condition(k, value) for k, value in rule.where]
            where += [f"rank of {k} = {rank}" for k, rank in rule.ranks]
            rows.append((name, rule.kind, math, ", ".join(where)))
    without = sorted(
        describe(p) for p in RULES.non_differentiable.values() if matches(describe(p))
    )
    adjoints = [row for row in rows if row[1] == "adjoint"]
    tangents = [row for row in rows if row[1] == "tangent"]
    if markdown:
        lines = [
            "# Supported primitives",
            "",
            "Generated from overbar's rule table by `python -m overbar rules --markdown > "
            "docs/rules.md`; do not edit by hand (a test fails when it is out of date).",
            "",
            f"{len({r[0] for r in adjoints})} primitives have adjoint rules ({len(adjoints)} "
            f"rules), {len({r[0] for r in tangents})} tangent rules ({len(tangents)} rules, for "
            f"forward mode); {len(without)} have no gradient.",
            "",
            "## Adjoint and tangent rules",
            "",
            "| Primitive | Mode | Rule | Applies where |",
            "| --- | --- | --- | --- |",
        ]
        for name, kind, math, where in rows:
            cells = [name, kind, math, where]
            lines.append("| " + " | ".join(_code_span(c) for c in cells) + " |")
        lines += ["", "## No gradient", "", ", ".join(_code_span(n) for n in without), ""]
        return "\n".join(lines)
    width = max((len(r[0]) for r in rows), default=0)
    lines = [
        f"{name:<{width}}  {math}" + (f"  [where {where}]" if where else "")
        for name, _, math, where in rows
    ]
    if without:
        lines += [""] if lines else []
        lines += textwrap.wrap(f"No gradient ({len(without)}): " + ", ".join(without), width=100)
    if not lines:
        lines.append(f"no primitive matches {pattern!r}")
    return "\n".join(lines) + "\n"


def _code_span(text: str) -> str:
    """``text`` as Markdown code (so that ``_`` and ``*`` stay as written) in a table cell."""
    return f"`{text}`".replace("|", "\\|") if text else ""
