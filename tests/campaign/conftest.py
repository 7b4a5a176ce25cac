"""Campaign tests: one small campaign, run once per session and shared."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from campaign_helpers import opencl_reason, small_config  # noqa: E402


@pytest.fixture(scope="session")
def small_campaign(tmp_path_factory):
    """Every category once, in-process (workers = 0): (config, result, campaign dir)."""
    if opencl_reason():
        pytest.skip(opencl_reason())
    from uhop_cc.campaign import run_campaign
    out = tmp_path_factory.mktemp("campaign") / "c"
    cfg = small_config()
    res = run_campaign(cfg, out)
    return cfg, res, out
