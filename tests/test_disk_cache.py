"""The disk cache of compiled adjoints: a second run transforms nothing, and nothing but the
user's own, intact, current entries is ever read.

Each test points ``OVERBAR_CACHE_DIR`` at a directory of its own. "A second run" is simulated by
dropping what the function keeps in memory and making every transformation fail: the gradient
must then come from the disk, or not at all.
"""

from __future__ import annotations

import importlib.util
import itertools
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import types
import warnings

import numpy as np
import pytest

import overbar
from overbar import cache
from overbar.cli import main
from overbar.transpiler import pipeline

_COUNTER = itertools.count()

SOURCE = """
import numpy as np

SCALE = 3.0

def square(v):
    return v * v

def loss(x, w):
    return np.sum(square(x * w)) * SCALE + np.sum(np.sin(x))

def reads_an_object(x):
    return np.sum(x * CONFIG.scale)

class Config:
    scale = 2.0

CONFIG = Config()
"""


def expected(x, w):
    return 6.0 * x * w * w + np.cos(x)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "overbar-cache"
    monkeypatch.setenv(cache.DIRECTORY_VARIABLE, str(path))
    monkeypatch.delenv(cache.SWITCH_VARIABLE, raising=False)
    return path


def load_module(tmp_path, source: str = SOURCE):
    """A module written to a file and imported under a unique name (in ``sys.modules``, so
    its helpers can be referred to by name)."""
    name = f"overbar_cache_test_{next(_COUNTER)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def forget(module) -> None:
    """What the process keeps of the module's functions: as if the script ran anew."""
    for value in vars(module).values():
        if isinstance(value, types.FunctionType):
            value.__dict__.pop("__overbar_cache__", None)


@pytest.fixture
def no_transformation(monkeypatch):
    """Make any transformation fail (a run that must read everything from the disk)."""

    def refuse(*args, **kwargs):
        raise AssertionError("transformed, where the disk cache should have served")

    def switch_on():
        monkeypatch.setattr(pipeline, "transform", refuse)

    return switch_on


def arguments():
    rng = np.random.default_rng(7)
    return rng.normal(size=(3, 4)), rng.normal(size=(3, 4))


def test_the_second_run_reads_the_adjoint_and_its_helpers_pullback(
    tmp_path, folder, no_transformation
):
    module = load_module(tmp_path)
    x, w = arguments()
    np.testing.assert_allclose(overbar.grad(module.loss)(x, w), expected(x, w), rtol=1e-12)
    assert len(cache.entries()) >= 2  # the adjoint and the helper's pullback
    forget(module)
    no_transformation()
    np.testing.assert_allclose(
        overbar.grad(module.loss, check=False)(x, w), expected(x, w), rtol=1e-12
    )


RECURSIVE = """
import numpy as np

def power(v, n):  # calls itself twice: a recursion (once, it would be loops)
    if n == 0:
        return np.ones_like(v)
    return power(v, n // 2) * power(v, n - 1 - n // 2) * v

def loss(x, w):
    total = 0.0
    for k in range(2):
        total = total + np.sum(power(x * w, 3))
    return total
"""


def test_the_second_run_reads_a_helpers_forward_and_its_pullback_of_the_residuals(
    tmp_path, folder, no_transformation
):
    module = load_module(tmp_path, RECURSIVE)
    x, w = arguments()
    gradient = overbar.grad(module.loss)
    first = gradient(x, w)
    assert "power_forward(" in gradient.source_for(x, w)
    np.testing.assert_allclose(first, 6.0 * (x * w) ** 2 * w, rtol=1e-12)
    forget(module)
    no_transformation()
    np.testing.assert_allclose(overbar.grad(module.loss, check=False)(x, w), first, rtol=1e-12)


def test_the_directory_is_private_and_the_entries_are_the_users_alone(tmp_path, folder):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for entry in cache.entries():
        assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
        assert os.stat(entry).st_uid == os.getuid()
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


def _second_run_transforms(module, monkeypatch) -> int:
    """Forget the module's gradients, run again; how many times the loss itself was
    transformed (its helper's pullback is an entry of its own)."""
    forget(module)
    counted = []
    real = pipeline.transform

    def counting(function, *args, **kwargs):
        counted.append(function.__name__)
        return real(function, *args, **kwargs)

    monkeypatch.setattr(pipeline, "transform", counting)
    overbar.grad(module.loss, check=False)(*arguments())
    monkeypatch.setattr(pipeline, "transform", real)
    return counted.count("loss")


def test_a_directory_writable_by_others_is_never_read(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    os.chmod(folder, 0o777)
    with pytest.warns(UserWarning, match="writable by other users"):
        assert _second_run_transforms(module, monkeypatch) == 1


def test_an_entry_writable_by_others_is_never_read(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    for entry in cache.entries():
        os.chmod(entry, 0o666)
    with pytest.warns(UserWarning, match="writable by other users"):
        assert _second_run_transforms(module, monkeypatch) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_a_directory_or_entry_owned_by_another_user_is_never_read(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    for entry in cache.entries():
        os.chown(entry, 4242, -1)
    with pytest.warns(UserWarning, match="owned by another user"):
        assert _second_run_transforms(module, monkeypatch) == 1
    os.chown(folder, 4242, -1)
    with pytest.warns(UserWarning, match="owned by another user"):
        assert _second_run_transforms(module, monkeypatch) == 1


def test_a_symbolic_link_as_entry_is_never_read(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    for entry in cache.entries():
        target = tmp_path / f"elsewhere-{entry.name}"
        entry.rename(target)
        entry.symlink_to(target)
    assert _second_run_transforms(module, monkeypatch) == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped in the content
        lambda data: data.replace(b"overbar-cache 1", b"overbar-cache 0", 1),  # another format
        lambda data: b"",
    ],
    ids=["truncated", "corrupted", "other version", "empty"],
)
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path, folder, monkeypatch, damage):
    module = load_module(tmp_path)
    overbar.grad(module.loss, check=False)(*arguments())  # no literal adjoint for the guard
    entries = cache.entries()
    originals = {entry: entry.read_bytes() for entry in entries}
    for entry, data in originals.items():
        entry.write_bytes(damage(data))
    assert _second_run_transforms(module, monkeypatch) == 1
    for entry, data in originals.items():
        assert entry.read_bytes() == data  # rewritten, whole


def test_an_entry_of_another_overbar_is_another_key(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    monkeypatch.setattr(cache, "_OVERBAR_FINGERPRINT", ["overbar 9.9 another build"])
    assert _second_run_transforms(module, monkeypatch) == 1


def test_a_changed_helper_or_global_is_another_key(tmp_path, folder, monkeypatch):
    module = load_module(tmp_path)
    x, w = arguments()
    overbar.grad(module.loss)(x, w)
    options = ("adjoint", ("x",), (), False, overbar.Optimisations())
    before = cache.key_of(module.loss, options)
    module.SCALE = 4.0
    assert cache.key_of(module.loss, options) != before
    module.SCALE = 3.0
    assert cache.key_of(module.loss, options) == before
    changed = load_module(tmp_path, SOURCE.replace("return v * v", "return v * v * 1.0"))
    changed.loss.__code__ = module.loss.__code__.replace(co_filename=changed.__file__)
    assert cache.key_of(changed.loss, options) != cache.key_of(module.loss, options)


def test_a_new_rule_is_another_key(tmp_path, folder):
    module = load_module(tmp_path)
    options = ("adjoint", ("x",), (), False, overbar.Optimisations())
    before = cache.key_of(module.loss, options)
    rules = overbar.runtime.NUMPY.rules
    saved = {key: list(value) for key, value in rules.rules.items()}
    saved_tangents = {key: list(value) for key, value in rules.tangents.items()}
    try:
        rules.mark_non_differentiable(np.sinc)  # drops its adjoint and its tangent rules
        assert cache.key_of(module.loss, options) != before
    finally:
        rules.rules.clear()
        rules.rules.update(saved)
        rules.tangents.clear()
        rules.tangents.update(saved_tangents)
        rules.non_differentiable.pop(np.sinc, None)
    assert cache.key_of(module.loss, options) == before


def test_a_function_reading_an_arbitrary_object_is_not_cached(tmp_path, folder):
    module = load_module(tmp_path)
    np.testing.assert_allclose(overbar.grad(module.reads_an_object)(np.ones(3)), 2.0)
    assert cache.entries() == []


def test_the_switch_turns_the_cache_off(tmp_path, folder, monkeypatch):
    monkeypatch.setenv(cache.SWITCH_VARIABLE, "0")
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    assert not folder.exists() or cache.entries() == []


def test_overbar_cache_clear_empties_the_directory(tmp_path, folder, capsys):
    module = load_module(tmp_path)
    overbar.grad(module.loss)(*arguments())
    count = len(cache.entries())
    assert count >= 2
    assert main(["cache", "path"]) == 0
    assert str(folder) in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert f"removed {count} " in capsys.readouterr().out
    assert cache.entries() == []


def _write_many(arguments) -> None:
    folder, name, data, times = arguments
    for _ in range(times):
        cache._write(folder, name, data)


def test_two_processes_writing_one_entry_never_leave_it_torn(tmp_path, folder):
    folder.mkdir(mode=0o700)
    key = "ab" * 32
    payloads = [bytes([k]) * 200_000 for k in (1, 2)]
    name = key + cache.SUFFIX
    jobs = [(folder, name, cache._encode(key, payload), 60) for payload in payloads]
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        pending = pool.map_async(_write_many, jobs)
        seen = 0
        while not pending.ready() or seen == 0:
            data = cache._read(folder / name)
            if data is not None:
                assert cache._decode(key, data) in payloads
                seen += 1
        pending.get()
    assert cache._decode(key, (folder / name).read_bytes()) in payloads
    assert [p.name for p in folder.iterdir()] == [name]  # no temporary file left


def test_an_unusable_directory_costs_the_cache_only(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.DIRECTORY_VARIABLE, str(blocker / "cache"))
    module = load_module(tmp_path)
    x, w = arguments()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(overbar.grad(module.loss)(x, w), expected(x, w))


def test_two_lambdas_on_one_line_have_their_own_keys(tmp_path, folder):
    module = load_module(
        tmp_path,
        "import numpy as np\n"
        "first, second = (lambda x: np.sum(x * 2.0)), (lambda x: np.sum(x**3))\n",
    )
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(overbar.grad(module.first)(x), [2.0, 2.0])
    np.testing.assert_allclose(overbar.grad(module.second)(x), 3 * x**2)
    forget(module)
    np.testing.assert_allclose(overbar.grad(module.second, check=False)(x), 3 * x**2)


def test_what_a_helper_reads_is_in_its_callers_key(tmp_path, folder):
    module = load_module(
        tmp_path,
        """
import numpy as np

OFFSET = np.zeros(3)

def shifted(v):
    return v + OFFSET

def loss(x):
    return np.sum(shifted(x) ** 2)
""",
    )
    options = ("adjoint", ("x",), (), False, overbar.Optimisations())
    before = cache.key_of(module.loss, options)
    module.OFFSET = np.zeros((2, 3))  # the helper's result now broadcasts to another shape
    assert cache.key_of(module.loss, options) != before


def test_an_unexpected_failure_of_the_cache_costs_the_cache_only(tmp_path, folder, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a cache bug")

    monkeypatch.setattr(cache, "key_of", broken)
    module = load_module(tmp_path)
    x, w = arguments()
    with pytest.warns(UserWarning, match="a cache bug"):
        np.testing.assert_allclose(overbar.grad(module.loss)(x, w), expected(x, w))


CONVOLUTION = """
import numpy as np

def loss(w, x):
    m = len(x) - len(w) + 1
    y = w[0] * x[:m]
    for k in range(1, len(w)):
        y = y + w[k] * x[k : m + k]
    return np.sum(y * y) + np.sum(w * w)
"""


def test_an_adjoint_checking_lengths_is_read_with_its_general_adjoint(
    tmp_path, folder, monkeypatch
):
    """The adjoint that assumes ``len(x) ≥ len(w) − 1`` (``pipeline.guarded``) is read back
    with the adjoint it calls where that fails, written by reference and made when needed."""
    module = load_module(tmp_path, CONVOLUTION)
    rng = np.random.default_rng(12)
    holds = (rng.normal(size=3), rng.normal(size=10))
    breaks = (rng.normal(size=6), rng.normal(size=3))  # x[:m] has one element, y none
    first = overbar.grad(module.loss, wrt=(0, 1))(*holds)
    assert "_general(w, x)" in overbar.grad(module.loss, wrt=(0, 1)).source_for(*holds)
    forget(module)
    real = pipeline.transform
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("assume_lengths", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "transform", counted)
    gradient = overbar.grad(module.loss, wrt=(0, 1), check=False)
    for got, want in zip(gradient(*holds), first, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert calls == []  # read from the disk
    w_bar, x_bar = gradient(*breaks)
    np.testing.assert_allclose(w_bar, 2 * breaks[0])  # y is empty: only sum(w * w) is left
    np.testing.assert_allclose(x_bar, np.zeros(3))
    assert calls == [False]  # the general adjoint, made now, assuming nothing


SECOND_RUN = """
import sys

import numpy as np

import overbar
from overbar.transpiler import pipeline


def loss(x, w):
    joined = np.r_[x, w]  # np.r_'s rule: its primal's repr holds a memory address
    return np.sum(np.tanh(joined) ** 2) + np.sum(np.linalg.norm(x))


if sys.argv[1] == "second":
    def refuse(*args, **kwargs):
        raise AssertionError("transformed, where the disk cache should have served")

    pipeline.transform = refuse
x, w = np.linspace(0.1, 0.9, 4), np.linspace(-1.0, 1.0, 3)
print(overbar.grad(loss, wrt=("x", "w"))(x, w)[0][0])
"""


def test_a_second_process_reads_what_the_first_wrote(tmp_path, folder):
    """The key is the same in every process (no memory address in it), so the second run of a
    script transforms nothing."""
    script = tmp_path / "second_run.py"
    script.write_text(SECOND_RUN)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ, PYTHONPATH=root)
    outputs = []
    for run in ("first", "second"):
        result = subprocess.run(
            [sys.executable, str(script), run], capture_output=True, text=True, env=environment
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
