"""The harness: every gradient the test suite compiles is checked by the guard.

With ``OVERBAR_CHECK=1`` (set here unless the environment already says otherwise) each newly
compiled adjoint is compared, on its first call, with the literal adjoint (every optimisation
off) and with central differences (``overbar/guard.py``). So every program in the suite (rule
samples, control flow, helpers, examples, random programs) is run through both pipelines.
A test that registers a deliberately wrong rule, or differentiates at a point where the function
has no derivative, is marked ``@pytest.mark.unchecked``.

The disk cache of compiled adjoints (``overbar/cache.py``) points at a temporary directory of
this run's own, removed at the end: the tests never write into the user's cache directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from overbar import cache, guard

os.environ.setdefault(guard.ENVIRONMENT_VARIABLE, "1")
_CACHE_DIRECTORY = tempfile.mkdtemp(prefix="overbar-test-cache-")
os.environ[cache.DIRECTORY_VARIABLE] = os.path.join(_CACHE_DIRECTORY, "cache")


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_DIRECTORY, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "unchecked: the guard is off (a deliberately wrong rule, or a kink)"
    )


@pytest.fixture(autouse=True)
def _guard_off_where_marked(request, monkeypatch):
    if request.node.get_closest_marker("unchecked"):
        monkeypatch.setenv(guard.ENVIRONMENT_VARIABLE, "0")
