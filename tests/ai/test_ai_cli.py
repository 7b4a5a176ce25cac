"""`uhopc ai list|show|query|rerun` and the `compile --ai` options."""
from __future__ import annotations

import argparse
import json

import pytest

from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc.cli import ai as ai_cli
from uhop_cc.dataset.records import AttemptRecord, new_attempt_id
from uhop_cc.dataset.store import DatasetStore

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
GOOD = """// @launch global=(roundup(N, 64)) local=(64)
__kernel void axpy(const float a, __global const float* X, __global const float* Y, __global float* Z, const int N) {
    int i = get_global_id(0);
    if (i < N) Z[i] = a * X[i] + Y[i];
}
"""


def _parser():
    ap = argparse.ArgumentParser(prog="uhopc")
    sub = ap.add_subparsers(dest="command")
    ai_cli.register(sub)
    c = sub.add_parser("compile")
    ai_cli.add_compile_arguments(c)
    return ap


def _run(capsys, *argv) -> tuple:
    args = _parser().parse_args(list(argv))
    rc = args.func(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def dataset(tmp_path):
    st = DatasetStore(tmp_path / "ds")
    ids = []
    for status, src, device in (("PASSED", GOOD, "pthread-cpu"), ("INCORRECT", GOOD.replace("+ Y", "- Y"), "gpu-x")):
        rec = AttemptRecord(id=new_attempt_id("axpy"), created="2025-01-01T00:00:00Z", kernel="axpy", uir_hash="h",
                            category="elementwise", target="opencl", device=device, sizes={"N": 300},
                            provider="openai-compatible", model="m", round=1, sample=1, status=status,
                            median_s=1e-6 if status == "PASSED" else None, verified=status == "PASSED",
                            extra={"uir": AXPY_UIR, "stages": [{"stage": "prompt", "ok": True}]})
        st.add(rec, {"kernel.cl": src, "prompt.txt": "the prompt", "reply.txt": "the reply", "program.uir": AXPY_UIR})
        ids.append(rec.id)
    return st, ids


def test_list_query_show(capsys, dataset):
    st, (good, bad) = dataset
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "list", "--json")
    assert rc == 0 and {r["id"] for r in json.loads(out)} == {good, bad}
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "list")
    assert "PASSED" in out and "INCORRECT" in out and "elementwise" in out
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "query", "--success-only", "--json")
    assert [r["id"] for r in json.loads(out)] == [good]
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "query", "--device", "GPU", "--operation",
                      "elementwise", "--target", "opencl", "--status", "incorrect", "--json")
    assert [r["id"] for r in json.loads(out)] == [bad]
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "show", good, "--json", "--source")
    d = json.loads(out)
    assert rc == 0 and d["status"] == "PASSED" and "__kernel void axpy" in d["source"]
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "show", good[:-2], "--prompt")
    assert "stage      prompt: ok" in out and "the prompt" in out
    rc, _, err = _run(capsys, "ai", "--dataset", str(st.root), "show", "nope")
    assert rc == 1 and "no attempt" in err


@pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")
def test_rerun(capsys, dataset):
    st, (good, bad) = dataset
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "rerun", good, "--json")
    d = json.loads(out)
    assert rc == 0 and d["status"] == "PASSED" and d["median_s"] > 0 and d["sizes"] == {"N": 300}
    rc, out, _ = _run(capsys, "ai", "--dataset", str(st.root), "rerun", bad, "--shapes", "N=77")
    assert rc == 1 and "INCORRECT" in out and "N=77" in out


def test_compile_ai_options(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("UHOP_AI_PROVIDER", raising=False)
    monkeypatch.delenv("UHOP_AI_BASE_URL", raising=False)
    args = _parser().parse_args(["compile"])
    assert ai_cli.compile_options(args) is None
    args = _parser().parse_args(["compile", "--ai", "--provider", "openai"])
    with pytest.raises(SystemExit) as e:
        ai_cli.compile_options(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "OPENAI_API_KEY" in err and err.count("\n") == 1
    args = _parser().parse_args(["compile", "--ai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                 "--samples", "3", "--rounds", "1", "--no-cache"])
    assert ai_cli.compile_options(args) == {"provider": None, "model": "m", "base_url": "http://127.0.0.1:9/v1",
                                            "samples": 3, "rounds": 1}
    assert args.no_cache
