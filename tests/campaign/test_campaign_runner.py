"""Campaign runs on the OpenCL device: records, balance, dedup, batching, resuming after a kill."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from campaign_helpers import needs_opencl, records, small_config

from uhop_cc.campaign import CATEGORIES, run_campaign
from uhop_cc.campaign.generator import ALLOWED
from uhop_cc.dataset import DatasetStore
from uhop_cc.dataset.records import STATUSES

pytestmark = [pytest.mark.opencl, needs_opencl]


def test_small_campaign_fills_every_category(small_campaign):
    cfg, res, out = small_campaign
    assert res.complete and not res.interrupted and res.executor == "inline"
    assert res.balance == {"opencl/default": {c: 1 for c in CATEGORIES}}
    recs = records(out / "dataset")
    passed = [r for r in recs if r["status"] == "PASSED"]
    assert Counter(r["extra"]["campaign"]["category"] for r in passed) == Counter({c: 1 for c in CATEGORIES})
    rows = DatasetStore(out / "dataset").query()
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in recs)  # index == folders


def test_record_format(small_campaign):
    _cfg, _res, out = small_campaign
    for r in records(out / "dataset"):
        assert r["status"] in STATUSES and r["provider"] == "deterministic"
        assert r["target"] == "opencl" and r["device"] and r["sizes"]
        x = r["extra"]
        c = x["campaign"]
        assert c["category"] in CATEGORIES and c["lowered"] in ALLOWED[c["category"]]
        assert x["spec"]["name"] == r["kernel"] and x["spec"]["category"] == r["category"]
        assert x["uir"].startswith("kernel ")
        folder = out / "dataset" / r["id"]
        assert (folder / "program.uir").read_text() == x["uir"]
        assert json.loads((folder / "spec.json").read_text())["name"] == r["kernel"]
        if r["status"] == "PASSED":
            assert r["verified"] and r["median_s"] > 0
            assert x["validation"]["ok"] and x["timing"]["median_s"] == r["median_s"]
            assert x["measurements"]["median_s"] == r["median_s"]
            assert (folder / "kernel.cl").read_text().count("__kernel") >= 1
            assert x["kernel"]["strategy"] == r["model"]
            assert x["ops"]["statements"] >= 1
            assert "analysis" in x
        assert c["uir_key"] and c["kernel_key"]


def test_rerun_is_a_no_op(small_campaign):
    cfg, _res, out = small_campaign
    before = sorted(p.name for p in (out / "dataset").iterdir())
    res = run_campaign(cfg, out)
    assert res.resumed and res.complete and res.records_this_run == 0 and res.items_this_run == 0
    assert sorted(p.name for p in (out / "dataset").iterdir()) == before


def test_changed_config_is_refused(small_campaign):
    cfg, _res, out = small_campaign
    from uhop_cc.campaign.state import StateError
    with pytest.raises(StateError):
        run_campaign(small_config(seed=cfg.seed + 1), out)


def test_duplicates_are_dropped(tmp_path):
    # a tiny shape space: many generated programs are the same program
    cfg = small_config(categories=("transform", "vector"), records_per_category=4,
                       limits={"max_elements": 4, "max_size": 2, "dtypes": ("f32",)})
    res = run_campaign(cfg, tmp_path / "c")
    recs = records(tmp_path / "c" / "dataset")
    assert res.duplicates_this_run > 0
    ukeys = [r["extra"]["campaign"]["uir_key"] for r in recs]
    kkeys = [r["extra"]["campaign"]["kernel_key"] for r in recs]
    assert len(ukeys) == len(set(ukeys)) and len(kkeys) == len(set(kkeys))
    con = sqlite3.connect(str(tmp_path / "c" / "state.sqlite"))
    dup = con.execute("SELECT COUNT(*) FROM programs WHERE status = 'duplicate'").fetchone()[0]
    assert dup > 0


def test_local_pool_with_batched_builds(tmp_path):
    cfg = small_config(categories=("arithmetic", "matrix", "stencil2d"), records_per_category=3, workers=2,
                       batch_size=4)
    res = run_campaign(cfg, tmp_path / "c")
    assert res.executor == "local" and res.complete
    recs = [r for r in records(tmp_path / "c" / "dataset") if r["status"] == "PASSED"]
    assert len(recs) == 9
    assert any(r["extra"]["build"].get("batched") for r in recs)
    assert all(r["extra"]["build"].get("batch_kernels", 1) <= 4 for r in recs)


def test_batch_that_fails_to_build_falls_back_to_single_builds(monkeypatch):
    """One broken candidate in a batch: the others still pass, the broken one is a COMPILE_ERROR."""
    from uhop_cc import pipeline
    from uhop_cc.campaign.config import CampaignConfig
    from uhop_cc.campaign.dedup import uir_key
    from uhop_cc.campaign.generator import derive_seed, generate
    from uhop_cc.campaign.worker import batched_source, process_batch
    from uhop_cc.codegen import GeneratedKernel

    real = pipeline.candidates

    def broken_first(bound, target, strategy, params, hw, notes=None, use_cache=True):
        out = real(bound, target, strategy, params, hw, notes, use_cache)
        if bound.name.endswith("_1"):  # the second item: a template that does not compile
            bad = GeneratedKernel("opencl", out[-1].source.replace("get_global_id(0)", "get_global_id(0) +* 1"),
                                  out[-1].entry, "broken", {})
            return [bad] + out
        return out

    monkeypatch.setattr(pipeline, "candidates", broken_first)
    cfg = CampaignConfig(limits={"max_elements": 256, "max_size": 16}, time_budget_s=0.002)
    items = []
    for n in range(3):
        g = generate("arithmetic", derive_seed(9, "arithmetic", n), cfg.limits, index=n)
        items.append({"item_id": f"i{n}", "program_id": f"p{n}", "category": "arithmetic", "n": n,
                      "seed": derive_seed(9, "arithmetic", n), "target": "opencl", "device": "default",
                      "grp": "opencl/default", "record_id": f"r{n}", "uir_key": uir_key(g.program, g.sizes)})
    out = process_batch(items, cfg.worker_settings())
    assert [o["status"] for o in out] == ["PASSED"] * 3
    second = out[1]["record"]["extra"]
    assert [a["status"] for a in second["attempts"]][0] == "build_error"
    # round 0 held the broken kernel, so its batch fell back to single builds
    first = out[0]["record"]["extra"]
    assert first["attempts"][0]["status"] == "ok"
    assert first["build"]["batched"] is False and first["build"]["batch_failed"] is True
    src, maps = batched_source(["__kernel void a(int x) {}", "__kernel void a(int x) {}"])
    assert maps == [{"a": "a__cb0"}, {"a": "a__cb1"}] and "a__cb1(" in src


def test_failures_are_archived_with_their_status(tmp_path, monkeypatch):
    """keep_failures: a kernel that computes the wrong values is archived as INCORRECT (and does
    not count towards the balance)."""
    from uhop_cc import pipeline
    from uhop_cc.codegen import GeneratedKernel
    real = pipeline.candidates

    def wrong(bound, target, strategy, params, hw, notes=None, use_cache=True):
        out = real(bound, target, "generic", params, hw, notes, use_cache)
        g = out[-1]
        if "_0" in bound.name:  # the first program of each category computes garbage
            src = g.source.replace("] = ", "] = 0.5f + ", 1) if "] = " in g.source else g.source
            return [GeneratedKernel("opencl", src, g.entry, "generic", dict(g.params))]
        return out

    monkeypatch.setattr(pipeline, "candidates", wrong)
    cfg = small_config(categories=("arithmetic", "reduction"), records_per_category=1)
    res = run_campaign(cfg, tmp_path / "c")
    recs = records(tmp_path / "c" / "dataset")
    st = Counter(r["status"] for r in recs)
    assert st["PASSED"] == 2 and st["INCORRECT"] >= 1
    assert res.balance["opencl/default"] == {"arithmetic": 1, "reduction": 1}
    q = res.summary["categories"]["arithmetic"]
    assert q["failed"] >= 1 and q["success_rate"] < 1 and any("INCORRECT" in k for k in q["failure_reasons"])


DRIVER = textwrap.dedent("""
    import sys
    from uhop_cc.campaign import CampaignConfig, run_campaign
    if __name__ == "__main__":
        cfg = CampaignConfig(name="kill", seed=3, categories=("arithmetic", "reduction", "transform", "select"),
                             records_per_category=4, workers=0, batch_size=2, progress=False,
                             limits={"max_elements": 512, "max_size": 24}, time_budget_s=0.005)
        run_campaign(cfg, sys.argv[1])
""")


def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "c"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    p = subprocess.Popen([sys.executable, str(script), str(out)], env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            if len(list((out / "dataset").glob("*/metadata.json"))) >= 3 if (out / "dataset").exists() else False:
                break
            time.sleep(0.05)
        assert p.poll() is None, "the campaign finished before it could be killed"
        os.killpg(p.pid, signal.SIGKILL)  # no chance to clean up
        p.wait(10)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    partial = len(records(out / "dataset"))
    assert 3 <= partial < 16
    from uhop_cc.campaign import CampaignConfig
    cfg = CampaignConfig(name="kill", seed=3, categories=("arithmetic", "reduction", "transform", "select"),
                         records_per_category=4, workers=0, batch_size=2, progress=False,
                         limits={"max_elements": 512, "max_size": 24}, time_budget_s=0.005)
    res = run_campaign(cfg, out)
    assert res.resumed and res.complete
    recs = records(out / "dataset")
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids))
    progs = [r["extra"]["campaign"]["program_id"] for r in recs]
    assert len(progs) == len(set(progs))  # no work item was done twice
    passed = Counter(r["extra"]["campaign"]["category"] for r in recs if r["status"] == "PASSED")
    assert passed == Counter({c: 4 for c in cfg.categories})  # none lost, balanced
    con = sqlite3.connect(str(out / "state.sqlite"))
    assert con.execute("SELECT COUNT(*) FROM items WHERE status IN ('pending', 'writing')").fetchone()[0] == 0
    done = {r[0] for r in con.execute("SELECT record_id FROM items WHERE status = 'done'")}
    assert done == set(ids)  # every record belongs to a finished item and vice versa
    rows = DatasetStore(out / "dataset").query()
    assert sorted(r["id"] for r in rows) == sorted(ids)


def test_ai_switch_calls_the_llm_loop_with_the_provider_settings(tmp_path, monkeypatch):
    """`ai = true`: every passing deterministic kernel is handed to uhop_cc.ai.loop.improve (faked here)."""
    from types import SimpleNamespace
    from uhop_cc.ai import loop
    calls = []

    def fake_improve(bound, **kw):
        calls.append((bound.name, kw))
        return SimpleNamespace(ok=False, summary="kept the deterministic kernel", speedup=None, session="s",
                               best_attempt=None, attempts=[])

    monkeypatch.setattr(loop, "improve", fake_improve)
    cfg = small_config(categories=("arithmetic",), records_per_category=1, ai=True, ai_provider="openai-compatible",
                       ai_model="m", ai_base_url="http://localhost:1", ai_samples=1, ai_rounds=1)
    run_campaign(cfg, tmp_path / "c")
    assert len(calls) == 1
    _name, kw = calls[0]
    assert kw["provider"] == "openai-compatible" and kw["model"] == "m" and kw["base_url"] == "http://localhost:1"
    assert kw["samples"] == 1 and kw["rounds"] == 1 and kw["baseline"].ok and kw["target"] == "opencl"
    assert kw["dataset_dir"] == str(tmp_path / "c" / "dataset")
    (rec,) = [r for r in records(tmp_path / "c" / "dataset") if r["status"] == "PASSED"]
    assert rec["extra"]["ai"]["summary"] == "kept the deterministic kernel"


def test_crash_between_folder_and_state_is_recovered(tmp_path):
    """A kill after the record folder was renamed into place but before the state said 'done'
    (and before the index row was inserted), and a kill before the folder existed."""
    import shutil
    cfg = small_config(name="rec", categories=("arithmetic", "transform"), records_per_category=2)
    out = tmp_path / "c"
    run_campaign(cfg, out)
    con = sqlite3.connect(str(out / "state.sqlite"))
    rows = con.execute("SELECT item_id, record_id FROM items WHERE status = 'done' AND record_status = 'PASSED' "
                       "ORDER BY item_id").fetchall()
    (a_item, a_rec), (b_item, b_rec) = rows[0], rows[1]
    con.execute("UPDATE items SET status = 'writing' WHERE item_id IN (?, ?)", (a_item, b_item))
    con.commit()
    store = DatasetStore(out / "dataset")
    c2 = store.connect()
    c2.execute("DELETE FROM attempts WHERE id IN (?, ?)", (a_rec, b_rec))
    c2.commit()
    c2.close()
    shutil.rmtree(out / "dataset" / b_rec)  # b: the folder never made it
    res = run_campaign(cfg, out)
    assert res.complete and res.records_this_run == 1  # b was run again, a was only re-indexed
    recs = records(out / "dataset")
    assert sorted(r["id"] for r in recs) == sorted(r["id"] for r in store.query())
    passed = Counter(r["extra"]["campaign"]["category"] for r in recs if r["status"] == "PASSED")
    assert passed == Counter({"arithmetic": 2, "transform": 2})
    assert con.execute("SELECT COUNT(*) FROM items WHERE status IN ('pending', 'writing')").fetchone()[0] == 0
