"""Helpers of the campaign tests (imported by name: conftest.py puts this folder on sys.path)."""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def opencl_reason() -> str:
    try:
        import pyopencl as cl
        for p in cl.get_platforms():
            if p.get_devices():
                return ""
        return "no OpenCL device"
    except Exception as e:  # noqa: BLE001
        return f"OpenCL unavailable: {e}"


needs_opencl = pytest.mark.skipif(bool(opencl_reason()), reason="OpenCL unavailable")


def small_config(**kw):
    from uhop_cc.campaign import CampaignConfig
    base = dict(name="t", seed=5, records_per_category=1, workers=0, batch_size=4, progress=False,
                limits={"max_elements": 512, "max_size": 24}, time_budget_s=0.005)
    base.update(kw)
    return CampaignConfig(**base)


def cli(argv):
    """`uhopc ...` in-process through the campaign CLI module (the lead registers it in uhop_cc.cli)."""
    from uhop_cc.cli import campaign
    ap = argparse.ArgumentParser(prog="uhopc")
    sub = ap.add_subparsers(dest="command")
    campaign.register(sub)
    args = ap.parse_args([str(a) for a in argv])
    return args.func(args)


def records(dataset_dir):
    """metadata.json of every record folder (not the index): what is really on disk."""
    import json
    out = []
    for meta in sorted(Path(dataset_dir).glob("*/metadata.json")):
        out.append(json.loads(meta.read_text()))
    return out
