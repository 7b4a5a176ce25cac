"""Device-free pieces: the progress display, and analyze/export on records of the AI loop."""
from __future__ import annotations

import io
import json

from uhop_cc.campaign.progress import Progress
from uhop_cc.dataset import AttemptRecord, DatasetStore
from uhop_cc.dataset.analyze import analyze_dataset, render_text
from uhop_cc.dataset.export import export


def test_progress_lines_on_a_non_terminal():
    buf = io.StringIO()
    p = Progress(4, ["arithmetic", "matrix"], stream=buf, interval=0.0)
    p.set_base({"arithmetic": 1})
    p.record("matrix")
    p.item(failed=True)
    p.item(duplicate=True)
    p.update()
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines and "2/4 records" in lines[-1] and "fail 1" in lines[-1] and "dup 1" in lines[-1]
    assert "arith 1" in lines[-1] and "mat 1" in lines[-1]
    s = p.stats()
    assert s["records"] == 2 and s["records_this_run"] == 1 and s["per_category"] == {"arithmetic": 1, "matrix": 1}
    quiet = io.StringIO()
    q = Progress(1, ["a"], stream=quiet, enabled=False)
    q.update(force=True)
    q.close()
    assert quiet.getvalue() == ""


def _ai_record(i, status):
    return AttemptRecord(id=f"ai-{i}", created=f"2025-01-01T00:00:0{i}Z", kernel="relu", uir_hash="h", category="elementwise",
                         target="opencl", device="Some GPU", sizes={"N": 8}, provider="openai", model="gpt", round=1,
                         sample=i, status=status, reason="" if status == "PASSED" else "output Y: 3 of 8 differ",
                         median_s=1e-5 if status == "PASSED" else None, verified=status == "PASSED")


def test_analyze_and_export_records_of_the_ai_loop(tmp_path):
    store = DatasetStore(tmp_path / "ds")
    src = "// @launch global=(N) local=(1)\n__kernel void relu(__global const float* X, __global float* Y, const int N)" \
          " { int i = get_global_id(0); Y[i] = fmax(X[i], 0.0f); }\n"
    store.add(_ai_record(1, "PASSED"), {"kernel.cl": src, "prompt.txt": "p"})
    store.add(_ai_record(2, "INCORRECT"), {"kernel.cl": src, "prompt.txt": "p"})
    r = analyze_dataset(tmp_path / "ds")
    assert r["records"] == 2 and r["passed"] == 1 and r["categories"]["elementwise"]["failed"] == 1
    assert r["providers"] == {"openai": 2} and r["devices"] == {"Some GPU": 2}
    assert r["complexity"]["kernel_source_chars"]["n"] == 2 and r["complexity"]["uir_chars"] is None
    assert "elementwise" in render_text(r)
    assert export(tmp_path / "ds", tmp_path / "x.jsonl") == 1
    row = json.loads((tmp_path / "x.jsonl").read_text())
    assert row["kernel_source"] == src and row["provider"] == "openai" and row["uir"] is None
