"""autograd's own test suite, run with overbar in autograd's place and with autograd itself.

    python benchmarks/autograd_suite/run.py [--tests DIR] [--output FILE]

autograd's tests are not in its wheel, nor in this repository: they are read from ``DIR``
(default /tmp/autograd-tests), fetched there from autograd's source distribution
(``pip download autograd --no-binary :all: --no-deps``) when missing. Each backend runs in a
pytest process of its own with ``plugin.py`` (which says how overbar takes autograd's place);
the real-valued gradient tests are those in which autograd computes at least one gradient of
real arguments. Each is counted, per file, as

- **pass**: the test passes;
- **refused**: overbar raised an ``OverbarError``: a missing rule, or a form it refuses;
- **wrong**: a gradient disagreed with central differences (confirmed with other steps);
- **fail**: anything else (an assertion of the test, an error in overbar or in the test);
- **out of scope**: the test uses an autograd API with no counterpart in overbar (jacobian,
  primitive, ...).

The figures and the failures grouped by cause go to ``--output`` (default
benchmarks/results/autograd_suite.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "test_numpy.py",
    "test_scalar_ops.py",
    "test_binary_ops.py",
    "test_linalg.py",
    "test_systematic.py",
    "test_dict.py",
    "test_list.py",
    "test_tuple.py",
    "test_core.py",
    "test_builtins.py",
    "test_truediv.py",
    "test_logic.py",
    "test_scipy.py",
    "test_fft.py",
]


def fetch(directory: Path) -> None:
    """autograd's tests from its source distribution, into ``directory``."""
    if (directory / "test_numpy.py").exists():
        return
    download = Path(tempfile.mkdtemp(prefix="autograd-sdist-"))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "autograd", "--no-binary", ":all:"]
        + ["--no-deps", "-d", str(download)],
        check=True,
    )
    archive = next(download.glob("autograd-*.tar.gz"))
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "tests" and member.isfile():
                member.name = parts[2]
                tar.extract(member, directory, filter="data")


def run_backend(backend: str, directory: Path) -> dict:
    record = Path(tempfile.mkstemp(prefix=f"autograd-suite-{backend}-", suffix=".json")[1])
    environment = {
        **os.environ,
        "AUTOGRAD_SUITE_BACKEND": backend,
        "AUTOGRAD_SUITE_RECORD": str(record),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(directory)]),
        "OVERBAR_CHECK": "0",
        "OVERBAR_CACHE": "0",
        "PYTHONWARNINGS": "ignore",
    }
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["-p", "benchmarks.autograd_suite.plugin", "-W", "ignore", *FILES],
        cwd=directory,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return json.loads(record.read_text())


def verdict(events: list) -> tuple[str, str]:
    """The category of one test under overbar, and the cause of a failure."""
    kinds = [kind for kind, _ in events]
    outcome = next((detail for kind, detail in events if kind == "outcome"), "failed")
    raised = next((json.loads(detail) for kind, detail in events if kind == "raised"), None)
    if "wrong" in kinds:
        return "wrong", next(detail for kind, detail in events if kind == "wrong")
    if outcome == "passed":
        return "pass", ""
    if raised is None:
        return "fail", outcome
    if raised["type"] == "OutOfScope":
        return "out of scope", raised["message"]
    missing = re.match(r"module '(numpy[\w.]*)' has no attribute '(\w+)'", raised["message"])
    if raised["type"] == "AttributeError" and missing:  # autograd.numpy's own functions
        return "out of scope", f"autograd.numpy's own {missing[2]} (not NumPy's)"
    if raised["module"].startswith("overbar") and raised["type"] != "InternalError":
        return "refused", f"{raised['type']}: {_cause(raised['message'])}"
    return "fail", f"{raised['type']}: {_cause(raised['message'])} ({raised['where'][-1]})"


def _cause(message: str) -> str:
    """The sentence of an error message that names its cause, without file names and numbers."""
    lines = [line for line in message.splitlines() if line.strip()]
    text = next(
        (
            line
            for line in lines
            if not re.match(r"^\s*(/|<|\^|\.\.\.|    )", line) and ":" not in line[:3]
        ),
        lines[-1] if lines else "",
    )
    text = re.sub(r" in [\w.<>]+ at .*", "", text)
    text = re.sub(r"\[[^\]]*\]", "[...]", text)  # np.r_[x, c] and np.r_[x]: one cause
    text = re.sub(r"-?\d+\.\d+(e-?\d+)?", "N", text)
    return text.strip()[:200]


def report(overbar: dict, autograd: dict, autograd_own: dict) -> str:
    gradient_tests = [
        test
        for test, events in autograd.items()
        if any(kind in ("check", "grad") for kind, _ in events)
    ]
    by_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    causes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    complex_only = sum(
        1
        for test, events in autograd.items()
        if test not in gradient_tests and any(kind == "complex-skipped" for kind, _ in events)
    )
    for test in sorted(gradient_tests):
        events = autograd[test]
        name = test.split("::")[0]
        mine = overbar.get(test, [("outcome", "failed")])
        category, cause = verdict(mine)
        by_file[name][category] += 1
        theirs = next((detail for kind, detail in events if kind == "outcome"), "failed")
        by_file[name]["autograd pass"] += theirs == "passed"
        own = autograd_own.get(test, [])
        by_file[name]["autograd, own checks"] += ("outcome", "passed") in [tuple(e) for e in own]
        by_file[name]["tests"] += 1
        if category == "refused":  # grouped by what would fix it
            group = "missing rule" if cause.startswith("MissingRuleError") else "refused form"
        else:
            group = category
        if category != "pass":
            causes[group][cause] += 1
            examples[(group, cause)].append(test.replace(".py::", ":"))
    columns = ["tests", "autograd, own checks", "autograd pass"]
    columns += ["pass", "refused", "wrong", "fail", "out of scope"]
    lines = [
        "# autograd's test suite with overbar in autograd's place",
        "",
        "`python benchmarks/autograd_suite/run.py` (autograd "
        f"{_version('autograd')}, NumPy {_version('numpy')}). Real-valued gradient tests:"
        " those in which autograd computes a gradient of real arguments; both backends checked"
        " the same way (first-order reverse mode, autograd's tolerances, complex checks"
        " skipped; *autograd pass*), and autograd also as each test asks (forward and reverse"
        " mode, second order by default: *autograd, own checks*). A test passes when every"
        " check in it passes; the last five columns are overbar's.",
        "",
        "| file | " + " | ".join(columns) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    total: collections.Counter = collections.Counter()
    for name in sorted(by_file):
        counts = by_file[name]
        total.update(counts)
        lines.append(f"| {name} | " + " | ".join(str(counts[c]) for c in columns) + " |")
    lines.append("| **all** | " + " | ".join(f"**{total[c]}**" for c in columns) + " |")
    lines += [
        "",
        f"Tests whose every check had complex arguments or values (not counted): {complex_only}.",
    ]
    for category in ("wrong", "missing rule", "refused form", "fail", "out of scope"):
        if not causes[category]:
            continue
        lines += ["", f"## {category}: {sum(causes[category].values())} tests, by cause", ""]
        for cause, count in causes[category].most_common():
            tests = examples[(category, cause)]
            shown = ", ".join(tests[:6]) + (", ..." if len(tests) > 6 else "")
            lines.append(f"- {count} × {cause or '(no message)'} — {shown}")
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 (a report line, not a check)
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="/tmp/autograd-tests")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/autograd_suite.md"))
    parser.add_argument("--records", help="keep the two JSON records in this directory")
    options = parser.parse_args()
    directory = Path(options.tests)
    fetch(directory)
    autograd = run_backend("autograd", directory)
    autograd_own = run_backend("autograd-own-checks", directory)
    overbar = run_backend("overbar", directory)
    if options.records:
        folder = Path(options.records)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "autograd.json").write_text(json.dumps(autograd, indent=1))
        (folder / "overbar.json").write_text(json.dumps(overbar, indent=1))
        (folder / "autograd-own-checks.json").write_text(json.dumps(autograd_own, indent=1))
    text = report(overbar, autograd, autograd_own)
    Path(options.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
