"""The disk cache: compiled adjoints kept between runs, so a second run transforms nothing.

A transformation (parse, normalise, differentiate, simplify, format with black) takes tens of
milliseconds per function and shape; what it produces is a source text and the objects the
source refers to (runtime helpers, the pullbacks of helpers it calls). An entry keeps the source
and those objects *by reference* (module and qualified name; a pullback as its helper, ``wrt``,
shapes and options), and is rebuilt with ``emit.compile_function`` in the user's own globals.

**Where.** ``OVERBAR_CACHE_DIR``, or ``$XDG_CACHE_HOME/overbar``, or ``~/.cache/overbar``.
``OVERBAR_CACHE=0`` turns the cache off; ``overbar cache clear`` empties it.

**Key.** A SHA-256 of: the function's module, qualified name, file, first line, source and
code; what every global or closure variable it reads is (a module by name, a function by its
code and what it reads in turn, a number by value, an array by dtype and shape and, up to 65536
elements, contents); the options (``wrt``,
shapes, value or not, passes); the rule table (each rule's primal, conditions and code);
overbar's version and a hash of its own source files; NumPy's and Python's versions. A function
reading something else (an object whose attributes the transformation might have looked into) is
not cached. The helpers it calls are functions it reads, so their code is in the key; their own
pullbacks are entries of their own.

**Trust.** Entries are code that will run, so the cache is the user's alone: the directory is
created 0700 and entries 0600; a directory or entry owned by another user, or writable by group
or others, or a symbolic link, is never read (nor written into), with one warning. Each entry
starts with a digest of its key and content; a truncated, corrupted or other-version entry fails
the check, is ignored and rewritten. An entry is written to a temporary file in the directory and
renamed into place, so a reader never sees a partly written one, even with two processes writing
the same entry. Unpickling an entry's references imports nothing: it finds only objects of
modules already imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import os
import pickle
import re
import stat
import sys
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from overbar import origins
from overbar.runtime import NUMPY
from overbar.runtime.registry import load_late_rules
from overbar.transpiler.emit import compile_function
from overbar.transpiler.parse import is_made
from overbar.transpiler.pipeline import HelperForward, HelperReverse, Pullback, link

DIRECTORY_VARIABLE = "OVERBAR_CACHE_DIR"
SWITCH_VARIABLE = "OVERBAR_CACHE"
MAGIC = b"overbar-cache 1\n"
SUFFIX = ".overbar"
_SMALL_ARRAY = 65536  # arrays read by the function up to this size are keyed by content too
_DIGEST = 64  # hex characters of a SHA-256
_DEEPEST = 12  # containers and helpers nested deeper make a function uncachable


def enabled() -> bool:
    """Whether the disk cache is on (``OVERBAR_CACHE`` is not 0, false, no or off)."""
    value = os.environ.get(SWITCH_VARIABLE, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def directory() -> Path:
    """The cache directory: ``OVERBAR_CACHE_DIR``, else ``$XDG_CACHE_HOME/overbar``, else
    ``~/.cache/overbar``."""
    given = os.environ.get(DIRECTORY_VARIABLE, "").strip()
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "overbar"


# -- trust --------------------------------------------------------------------------------------

_WARNED: set[str] = set()


def _refuse(path: Path | str, reason: str) -> None:
    if str(path) not in _WARNED:
        _WARNED.add(str(path))
        warnings.warn(
            f"overbar: not using the disk cache at {path}: {reason} (set {DIRECTORY_VARIABLE} "
            f"to a directory of your own, or {SWITCH_VARIABLE}=0)",
            stacklevel=4,
        )


def _owned_privately(status: os.stat_result) -> str | None:
    """Why a file or directory with this status is not to be trusted, or None."""
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        return f"it is owned by another user (uid {status.st_uid})"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "it is writable by other users"
    return None


def _usable_directory(create: bool) -> Path | None:
    """The cache directory if it is the user's alone (created 0700 if ``create``), else None."""
    path = directory()
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            _refuse(path, f"it cannot be created ({error})")
            return None
    try:
        status = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(status.st_mode):
        _refuse(path, "it is a symbolic link")
        return None
    if not stat.S_ISDIR(status.st_mode):
        _refuse(path, "it is not a directory")
        return None
    reason = _owned_privately(status)
    if reason:
        _refuse(path, reason)
        return None
    return path


# -- keys ---------------------------------------------------------------------------------------


class Uncachable(Exception):
    """The function reads something whose identity cannot be written in a key."""


_OVERBAR_FINGERPRINT: list[str] = []


def _overbar_fingerprint() -> str:
    """overbar's version and a hash of its own source files (a changed compiler makes new
    keys, without a version bump), with NumPy's and Python's versions; computed once."""
    if not _OVERBAR_FINGERPRINT:
        package = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
        version = getattr(sys.modules.get("overbar"), "__version__", "?")
        _OVERBAR_FINGERPRINT.append(
            f"overbar {version} {digest.hexdigest()} numpy {np.__version__} "
            f"python {sys.version_info[:3]}"
        )
    return _OVERBAR_FINGERPRINT[0]


def _code_fingerprint(code: types.CodeType) -> tuple:
    constants = tuple(
        _code_fingerprint(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    )
    return (
        code.co_name,
        code.co_firstlineno,
        code.co_filename,
        code.co_code.hex(),
        constants,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
    )


def _value_fingerprint(value: Any, depth: int = 0) -> Any:
    """What ``value`` is, as a deterministic, comparable description; ``Uncachable`` where that
    cannot be said (an object whose attributes a transformation might read)."""
    if depth > _DEEPEST:
        raise Uncachable("nested too deep")
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return (type(value).__name__, repr(value))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, repr(value.item()))
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, types.FunctionType):
        described = ("function", value.__module__, value.__qualname__)
        if value in _DESCRIBING.functions:  # a recursion: described where it started
            return described
        _DESCRIBING.functions.append(value)
        try:
            return described + (
                _code_fingerprint(value.__code__),
                _value_fingerprint(value.__defaults__, depth + 1),
                _environment(value, depth + 1),  # a helper's shapes depend on what it reads
            )
        finally:
            _DESCRIBING.functions.pop()
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray:
            raise Uncachable("an array subclass")
        content = ""
        if value.size <= _SMALL_ARRAY and value.dtype.kind in "biufc":
            content = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return ("array", value.dtype.str, value.shape, content)
    if isinstance(value, tuple | list):
        return (
            type(value).__name__,
            tuple(_value_fingerprint(item, depth + 1) for item in value),
        )
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return (
            "dict",
            tuple((k, _value_fingerprint(v, depth + 1)) for k, v in sorted(value.items())),
        )
    if isinstance(value, type | types.BuiltinFunctionType | np.ufunc | np.dtype):
        return (
            "object",
            type(value).__qualname__,
            getattr(value, "__module__", None),
            getattr(value, "__qualname__", getattr(value, "__name__", repr(value))),
        )
    raise Uncachable(f"a {type(value).__qualname__}")


_DESCRIBING = threading.local()  # the functions being described (a recursion stops there)


def _read_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _read_names(constant)
    return names


_MISSING = ("missing",)


def _environment(function: types.FunctionType, depth: int = 0) -> tuple:
    """What every global, builtin and closure variable ``function`` reads is."""
    scope = function.__globals__
    builtins = scope.get("__builtins__", {})
    builtins = builtins.__dict__ if isinstance(builtins, types.ModuleType) else builtins
    described = []
    for name in sorted(_read_names(function.__code__)):
        if name in scope:
            described.append((name, _value_fingerprint(scope[name], depth)))
        elif name in builtins:
            described.append((name, _value_fingerprint(builtins[name], depth)))
        else:
            described.append((name, _MISSING))  # an attribute's name, or not defined (yet)
    cells = zip(function.__code__.co_freevars, function.__closure__ or (), strict=True)
    for name, cell in cells:
        try:
            described.append((name, "cell", _value_fingerprint(cell.cell_contents, depth)))
        except ValueError:
            described.append((name, "cell", _MISSING))
    return tuple(described)


_RULES_FINGERPRINT: dict[tuple, str] = {}


def _rules_fingerprint() -> str:
    """A hash of the rule table (every adjoint and tangent rule's primal, conditions and code),
    recomputed only when the table holds other rule functions than last time. SciPy's rules,
    registered when first needed, are registered first where SciPy is imported, so that the
    key does not depend on whether a lookup has needed them yet."""
    load_late_rules()
    table = NUMPY.rules
    every_rule = [rule for rules in table.rules.values() for rule in rules] + [
        rule for rules in table.tangents.values() for rule in rules  # forward mode's
    ]
    identity = tuple((id(rule.function), repr(rule.conditions)) for rule in every_rule) + tuple(
        map(id, table.non_differentiable)
    )
    found = _RULES_FINGERPRINT.get(identity)
    if found is None:
        digest = hashlib.sha256()
        for rule in every_rule:
            digest.update(repr((rule.kind, _primal_name(rule.primal))).encode())
            digest.update(repr(rule.conditions).encode())
            digest.update(repr(_code_fingerprint(rule.function.__code__)).encode())
        for primal in table.non_differentiable.values():
            digest.update(repr(_primal_name(primal)).encode())
        found = digest.hexdigest()
        _RULES_FINGERPRINT.clear()
        _RULES_FINGERPRINT[identity] = found
    return found


def _primal_name(primal: Any) -> str:
    """A name of ``primal`` that is the same in every process: a repr's memory addresses
    (``Index(maker=<...RClass object at 0x7f...>)``, ``np.r_``) are left out, or the key would
    differ in every run and the disk cache would never be read."""
    module = getattr(primal, "__module__", None) or type(primal).__module__
    name = getattr(primal, "__qualname__", None) or getattr(primal, "__name__", None)
    return f"{module}.{name}" if name else _ADDRESS.sub("", repr(primal))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def key_of(function: types.FunctionType, options: tuple) -> str | None:
    """The hex key of ``function``'s adjoint with these ``options``, or None where the function
    cannot be cached (its source unreadable, or it reads something ``Uncachable``, or overbar
    made it from a tree of its own: ``parse.function_with_arity``)."""
    if is_made(function):
        return None
    _DESCRIBING.functions = [function]
    try:
        source = inspect.getsource(function)
        environment = _environment(function)
    except (OSError, TypeError, Uncachable):
        return None
    finally:
        _DESCRIBING.functions = []
    description = (
        _overbar_fingerprint(),
        _rules_fingerprint(),
        function.__module__,
        function.__qualname__,
        function.__code__.co_filename,
        function.__code__.co_firstlineno,
        source,  # for a lambda, its whole line: its code tells it from its neighbours
        _code_fingerprint(function.__code__),
        _value_fingerprint(function.__defaults__),
        environment,
        repr(options),
    )
    return hashlib.sha256(repr(description).encode()).hexdigest()


# -- entries ------------------------------------------------------------------------------------


class _ReferencesOnly(pickle.Unpickler):
    """Finds the objects an entry refers to among modules already imported; imports nothing."""

    def find_class(self, module: str, name: str) -> Any:
        found = sys.modules.get(module)
        if found is None:
            raise pickle.UnpicklingError(f"module {module} is not imported")
        for part in name.split("."):
            found = getattr(found, part)
        return found


def _encode(key: str, payload: bytes) -> bytes:
    digest = hashlib.sha256(key.encode() + b"\n" + payload).hexdigest()
    return MAGIC + digest.encode() + b"\n" + key.encode() + b"\n" + payload


def _decode(key: str, data: bytes) -> bytes | None:
    """The payload of an entry for ``key``, or None if it is not one (torn, corrupted, from
    another version, for another key)."""
    header = len(MAGIC) + 2 * (_DIGEST + 1)
    if len(data) < header or not data.startswith(MAGIC):
        return None
    digest = data[len(MAGIC) : len(MAGIC) + _DIGEST]
    stored_key = data[len(MAGIC) + _DIGEST + 1 : header - 1]
    payload = data[header:]
    if stored_key != key.encode():
        return None
    expected = hashlib.sha256(key.encode() + b"\n" + payload).hexdigest().encode()
    return payload if digest == expected else None


def _read(path: Path) -> bytes | None:
    """The bytes of the entry at ``path`` if it is a regular file of the user's alone."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None
        reason = _owned_privately(status)
        if reason:
            _refuse(path, reason)
            return None
        return file.read()


def _write(folder: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``folder/name`` through a temporary file renamed into place."""
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# -- the adjoints -------------------------------------------------------------------------------

_WRITING = threading.Lock()


def _costing_the_cache_only(operation: Callable) -> Callable:
    """``operation``, where an unexpected error (a bug of the cache's, a strange file system)
    warns once and costs the cache only: the gradient is transformed as without it."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except Exception as error:
            _refuse(_directory_or_none(), f"{operation.__name__} failed: {error!r}")
            return None

    guarded.__name__, guarded.__doc__ = operation.__name__, operation.__doc__
    return guarded


def _directory_or_none() -> Path | str:
    try:
        return directory()
    except Exception:  # no home directory to find
        return "(no cache directory)"


@_costing_the_cache_only
def load(function: types.FunctionType, options: tuple) -> Callable | None:
    """The compiled adjoint of ``function`` with ``options`` from the cache, or None (not
    there, not to be trusted, not valid, or the cache off)."""
    if not enabled():
        return None
    key = key_of(function, options)
    folder = _usable_directory(create=False) if key else None
    if folder is None:
        return None
    data = _read(folder / (key + SUFFIX))
    payload = _decode(key, data) if data is not None else None
    if payload is None:
        return None
    try:
        entry = _ReferencesOnly(io.BytesIO(payload)).load()
        name, source, filename, user_filename, bindings, lines = entry
        compiled = compile_function(source, name, bindings, function, filename)
    except Exception:  # an entry that does not rebuild is no entry: it is rewritten
        return None
    for value in bindings.values():
        if isinstance(value, Pullback):
            value.prepare()  # from the disk too, where it is there
        elif isinstance(value, HelperForward | HelperReverse):
            value.pullback.prepare_split()  # its forward and pullback, each an entry
    origins.record(compiled, origins.Origin(name, user_filename, tuple(lines)))
    link(compiled)
    return compiled


@_costing_the_cache_only
def store(function: types.FunctionType, options: tuple, stages: Any) -> None:
    """Write the compiled adjoint of ``stages`` to the cache, if ``function`` can be cached and
    everything the adjoint refers to can be written by reference."""
    if not enabled():
        return
    key = key_of(function, options)
    if key is None:
        return
    emitted = stages.emitted
    origin = origins.origin_of(
        emitted.function,
        stages.simplified.tree,
        emitted.source,
        stages.parsed.tree,
        stages.parsed.filename,
    )
    entry = (
        stages.simplified.tree.name,
        emitted.source,
        emitted.filename,
        stages.parsed.filename,
        dict(stages.simplified.bindings),
        origin.lines,
    )
    try:
        payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        _ReferencesOnly(io.BytesIO(payload)).load()  # what cannot be read back is not written
    except Exception:  # something referred to by value, or not findable by name
        return
    with _WRITING:
        folder = _usable_directory(create=True)
        if folder is None:
            return
        with contextlib.suppress(OSError):  # a full or read-only disk costs the cache only
            _write(folder, key + SUFFIX, _encode(key, payload))


def clear() -> int:
    """Remove every entry (and leftover temporary file) from the cache; the number removed."""
    folder = _usable_directory(create=False)
    if folder is None:
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.name.endswith(SUFFIX) and path.is_file() and not path.is_symlink():
            path.unlink()
            removed += 1
    return removed


def entries() -> list[Path]:
    """The entries in the cache directory (if it is usable)."""
    folder = _usable_directory(create=False)
    if folder is None:
        return []
    return sorted(
        p for p in folder.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith(".")
    )
