"""A small campaign on a local Ray instance: one task per (program, target, device)."""
from __future__ import annotations

from collections import Counter

import pytest

from campaign_helpers import needs_opencl, records, small_config

pytestmark = [pytest.mark.opencl, needs_opencl]
ray = pytest.importorskip("ray")


def test_campaign_on_local_ray(tmp_path):
    from uhop_cc.campaign import run_campaign
    cfg = small_config(name="ray", categories=("arithmetic", "reduction", "stencil2d"), records_per_category=2,
                       workers=2)
    started = not ray.is_initialized()
    try:
        res = run_campaign(cfg, tmp_path / "c", ray_address="local")
    finally:
        if started and ray.is_initialized():
            ray.shutdown()
    assert res.executor == "ray" and res.complete
    recs = records(tmp_path / "c" / "dataset")
    passed = Counter(r["extra"]["campaign"]["category"] for r in recs if r["status"] == "PASSED")
    assert passed == Counter({"arithmetic": 2, "reduction": 2, "stencil2d": 2})
    # one task per item: nothing was built in batches
    assert all(not r["extra"]["build"].get("batched") for r in recs if r["extra"].get("build"))
