"""Forward mode's jvps in the disk cache, as adjoints are (tests/test_disk_cache.py): a second
run transforms nothing, and a changed tangent rule is a new entry."""

from __future__ import annotations

import numpy as np

import overbar
from overbar import cache
from overbar.transpiler import forward_pipeline
from tests.test_disk_cache import SOURCE, folder, forget, load_module  # noqa: F401


def expected_tangent(x, w, v):
    """d/dt of loss(x + t v, w) at 0: loss = 3 Σ (x w)² + Σ sin x."""
    return float(np.sum(6.0 * x * w * w * v + np.cos(x) * v))


def test_the_second_run_reads_the_jvp_and_its_helpers_jvp(
    tmp_path, folder, monkeypatch
):  # noqa: F811
    module = load_module(tmp_path, SOURCE)
    rng = np.random.default_rng(3)
    x, w, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    _, tangent = overbar.jvp(module.loss, (x, w), (v,), wrt=(0,))
    assert abs(tangent - expected_tangent(x, w, v)) < 1e-10
    assert len(cache.entries()) >= 1
    forget(module)

    def refuse(*args, **kwargs):
        raise AssertionError("transformed, where the disk cache should have served")

    monkeypatch.setattr(forward_pipeline, "transform_forward", refuse)
    monkeypatch.setattr(overbar.forward_api, "transform_forward", refuse)
    _, again = overbar.jvp(module.loss, (x, w), (v,), wrt=(0,))
    assert abs(again - expected_tangent(x, w, v)) < 1e-10
    kept = module.loss.__dict__["__overbar_cache__"]
    (compiled,) = [v for k, v in kept.items() if isinstance(k, tuple) and k[0] == "compiled"]
    cells = [cell.cell_contents for cell in compiled.__closure__ or ()]
    assert any(getattr(c, "__name__", "") == "square_jvp" for c in cells)  # linked in
    assert not any(isinstance(c, forward_pipeline.Jvp) for c in cells)


def test_tangent_rules_are_part_of_the_key():
    before = cache._rules_fingerprint()

    @overbar.tangent(np.unwrap)
    def unwrap_tangent(z, p, p_dot):
        """z = unwrap(p) (p plus multiples of 2π, constant where they do not jump):  ż = ṗ"""
        return p_dot

    try:
        assert cache._rules_fingerprint() != before
    finally:
        overbar.runtime.RULES.tangents.pop(np.unwrap, None)
    assert cache._rules_fingerprint() == before
