"""The attempt archive and the best-kernel cache."""
from __future__ import annotations

import json
import sqlite3

import pytest

from uhop_cc import ir
from uhop_cc.dataset import cache
from uhop_cc.dataset.records import AttemptRecord, Scrubber, new_attempt_id
from uhop_cc.dataset.store import DatasetStore

SECRET = "sk-dataset-test-SECRET-000111222333"


def _rec(status="PASSED", median=1e-6, device="Dev A", kernel="axpy", category="elementwise", **kw):
    d = dict(id=new_attempt_id(kernel), created="2025-01-01T00:00:00Z", kernel=kernel, uir_hash="h1",
             category=category, target="opencl", device=device, sizes={"N": 300}, provider="openai-compatible",
             model="m", round=1, sample=1, status=status, median_s=median, baseline_s=2e-6,
             speedup=2e-6 / median if median else None, verified=status in ("PASSED", "SLOWER"))
    d.update(kw)
    return AttemptRecord(**d)


def test_add_get_query(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_API_KEY", SECRET)
    st = DatasetStore(tmp_path / "ds")
    a = _rec(reason=f"echoed {SECRET}")
    folder = st.add(a, {"kernel.cl": f"// {SECRET}\n__kernel void axpy() {{}}\n", "prompt.txt": "p",
                        "reply.txt": "r", "skip.txt": None})
    assert folder.name == a.id and sorted(p.name for p in folder.iterdir()) == \
        ["kernel.cl", "metadata.json", "prompt.txt", "reply.txt"]
    assert not list((tmp_path / "ds" / ".tmp").iterdir())
    st.add(_rec("INCORRECT", None, device="Other GPU", category="matmul", kernel="mm"), {"reply.txt": "x"})
    st.add(_rec("SLOWER", 3e-6), {"kernel.cl": "k"})
    meta = st.get(a.id[:-3])  # a unique prefix
    assert meta["id"] == a.id and meta["source_file"] == "kernel.cl" and "[REDACTED]" in meta["reason"]
    for p in (tmp_path / "ds").rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p
    assert len(st.query()) == 3
    assert [r["status"] for r in st.query(success_only=True, newest_first=False)] == ["PASSED", "SLOWER"]
    assert [r["kernel"] for r in st.query(device="other")] == ["mm"]
    assert [r["kernel"] for r in st.query(operation="matmul")] == ["mm"]
    assert len(st.query(status="incorrect")) == 1 and st.query(target="cuda") == []
    best = st.best("h1", "opencl", "Dev A", {"N": 300})
    assert best["id"] == a.id and best["sizes"] == {"N": 300}
    assert st.best("h1", "opencl", "Dev A", {"N": 301}) is None
    con = sqlite3.connect(st.db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = [r[1] for r in con.execute("PRAGMA table_info(attempts)")]
    for c in ("id", "created", "kernel", "uir_hash", "category", "target", "device", "sizes", "provider", "model",
              "round", "sample", "status", "median_s", "baseline_s", "speedup", "source_hash"):
        assert c in cols
    json.loads((folder / "metadata.json").read_text())
    with pytest.raises(KeyError):
        st.get("nope")


def test_reindex_and_bad_status(tmp_path):
    st = DatasetStore(tmp_path)
    a = _rec()
    st.add(a, {"kernel.cl": "k"})
    st.db_path.unlink()
    assert st.reindex() == 1 and st.query()[0]["id"] == a.id
    with pytest.raises(ValueError):
        _rec(status="GREAT")
    with pytest.raises(ValueError):
        st.add(_rec(), {"../evil": "x"})


def test_scrubber():
    s = Scrubber(["abcdefgh12345"], environ={"X_TOKEN": "tok-123456789", "PATH": "/usr/bin:/bin"})
    assert s.text("a abcdefgh12345 tok-123456789 /usr/bin") == "a [REDACTED] [REDACTED] /usr/bin"
    assert s.data({"k": ["tok-123456789"]}) == {"k": ["[REDACTED]"]}


def test_cache_lookup_store(tmp_path):
    k = ir.select_kernel(ir.load("kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"))
    b = ir.bind_shapes(k, {"N": 100})
    h = cache.uir_hash(b)
    assert h == cache.uir_hash(k) and len(h) == 64
    assert cache.lookup(h, "opencl", "Dev", {"N": 100}, dataset_dir=tmp_path) is None
    assert cache.store(h, "opencl", "Dev", {"N": 100}, "// v1", kernel="relu", median_s=2e-6, dataset_dir=tmp_path)
    assert not cache.store(h, "opencl", "Dev", {"N": 100}, "// slower", kernel="relu", median_s=3e-6,
                           dataset_dir=tmp_path)
    assert cache.store(h, "opencl", "Dev", {"N": 100}, "// v2", kernel="relu", median_s=1e-6, attempt_id="a1",
                       dataset_dir=tmp_path)
    hit = cache.lookup(h, "opencl", "Dev", {"N": 100}, dataset_dir=tmp_path)
    assert hit.source == "// v2" and hit.median_s == 1e-6
    g = hit.generated()
    assert g.strategy == "ai" and g.entry == "relu" and g.file_name == "kernel.cl" and g.params["attempt"] == "a1"
    assert cache.lookup(h, "opencl", "Dev", {"N": 101}, dataset_dir=tmp_path) is None
    assert cache.lookup(h, "cuda", "Dev", {"N": 100}, dataset_dir=tmp_path) is None
    assert cache.cached_candidate(b, "opencl", {"name": "Dev"}, dataset_dir=tmp_path).source == "// v2"
    assert cache.cached_candidate(b, "opencl", {"name": "Other"}, dataset_dir=tmp_path) is None
    assert cache.invalidate(h, "opencl", "Dev", {"N": 100}, dataset_dir=tmp_path)
    assert cache.cached_candidate(b, "opencl", {"name": "Dev"}, dataset_dir=tmp_path) is None
