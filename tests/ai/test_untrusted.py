"""Kernels uhopc did not generate -- cache hits, AI kernels, `--kernel-source` -- are judged in a
child process and never run in this one; a failing cache hit is invalidated and archived; no
secret reaches any byte uhopc writes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai.fake_llm import FAKE_KEY, reply
from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.cli import main
from uhop_cc.dataset import cache
from uhop_cc.dataset.store import DatasetStore

pytestmark = pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")

RELU = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"
HEAD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
        "__kernel void relu(__global const float* X, __global float* Y, const int N) {\n"
        "    int i = get_global_id(0);\n")
GOOD = HEAD + "    if (i < N) Y[i] = fmax(X[i], 0.0f);\n}\n"
CLAMP = HEAD + "    if (i < N) Y[i] = clamp(X[i], 0.0f, 1.0f);\n}\n"


@pytest.fixture
def relu_file(tmp_path):
    f = tmp_path / "relu.uir"
    f.write_text(RELU + "\n")
    return f


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    return OpenCLDevice.open()


def _bound(n=1000):
    return ir.bind_shapes(ir.select_kernel(ir.load(RELU)), {"N": n})


def _cache(source, device, dataset):
    b = _bound()
    assert cache.store(cache.uir_hash(b), "opencl", device.name, b.sizes, source, kernel="relu", median_s=1e-9,
                       attempt_id="planted", model="m", dataset_dir=dataset)
    return b


def test_a_poisoned_cache_entry_is_rejected_invalidated_and_archived(device, tmp_path, monkeypatch):
    monkeypatch.setenv("UHOP_DATASET_DIR", str(tmp_path / "ds"))
    monkeypatch.setenv("UHOP_NO_CACHE", "0")
    b = _cache(CLAMP, device, tmp_path / "ds")
    from uhop_cc.pipeline import compile_bound
    r = compile_bound(b, device=device, time_budget_s=0.05)
    assert r.ok and r.kernel.strategy != "ai" and r.program is not None  # the deterministic kernel, run here
    first = r.attempts[0]
    assert first.strategy == "ai" and first.status == "rejected" and first.reason.startswith("INCORRECT")
    assert cache.lookup(cache.uir_hash(b), "opencl", device.name, b.sizes, dataset_dir=tmp_path / "ds") is None
    rows = DatasetStore(tmp_path / "ds").query()
    assert [(x["provider"], x["status"]) for x in rows] == [("cache", "INCORRECT")]
    assert "invalidated" in rows[0]["reason"]


def test_a_good_cache_entry_is_used_without_running_it_here(device, tmp_path, monkeypatch):
    monkeypatch.setenv("UHOP_DATASET_DIR", str(tmp_path / "ds"))
    monkeypatch.setenv("UHOP_NO_CACHE", "0")
    b = _cache(GOOD, device, tmp_path / "ds")
    from uhop_cc.pipeline import compile_bound
    r = compile_bound(b, device=device, time_budget_s=0.05)
    assert r.ok and r.kernel.strategy == "ai" and r.kernel.params["cached"]
    assert r.program is None and r.audit["status"] == "PASSED" and r.status == "PASSED"
    assert r.timing["median_s"] > 0 and r.timing["repoisoned"]
    assert "verdict    PASSED" in r.summary()


def test_the_python_api_never_runs_a_cached_kernel(device, tmp_path, monkeypatch):
    import numpy as np

    import uhop_cc
    monkeypatch.setenv("UHOP_DATASET_DIR", str(tmp_path / "ds"))
    monkeypatch.setenv("UHOP_NO_CACHE", "0")
    _cache(CLAMP, device, tmp_path / "ds")
    k = uhop_cc.compile(RELU)
    x = np.linspace(-3, 3, 1000, dtype=np.float32)
    assert np.array_equal(k(x), np.maximum(x, 0))
    assert k.specialize({"N": 1000}).kernel.strategy != "ai"


def test_kernel_source_passes_an_honest_kernel(relu_file, tmp_path, capsys):
    src = tmp_path / "mine.cl"
    src.write_text(GOOD)
    rc = main(["compile", str(relu_file), "--shapes", "N=5000", "--kernel-source", str(src), "-o", str(tmp_path / "o"),
               "--json", "--no-roofline"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["status"] == "PASSED" and d["strategy"] == "user" and d["audit"]["status"] == "PASSED"
    assert (tmp_path / "o" / "kernel.cl").read_text() == GOOD


@pytest.mark.parametrize("source,status", [
    (CLAMP, "INCORRECT"),
    ("#define fmax(a, b) (a)\n" + GOOD, "ANALYSIS_REJECTED"),
    (GOOD.replace("if (i < N) ", ""), "ANALYSIS_REJECTED"),  # proven to write past Y: never runs
    (GOOD.replace("Y[i] = fmax(X[i], 0.0f)", "Y[i + (int)(X[0] * 0.0f) + 100000] = fmax(X[i], 0.0f)"),
     "OUT_OF_BOUNDS"),  # a data-dependent index: unproven statically, caught by the guards
    (GOOD.replace("fmax(X[i], 0.0f)", "fmax(X[i], 0.0f) + undefined_name"), "COMPILE_ERROR"),
])
def test_kernel_source_rejects_a_bad_kernel_with_its_status(relu_file, tmp_path, capsys, source, status):
    src = tmp_path / "mine.cl"
    src.write_text(source)
    rc = main(["compile", str(relu_file), "--shapes", "N=1000", "--kernel-source", str(src), "--no-roofline"])
    out = capsys.readouterr().out
    assert rc == 1 and f"verdict    {status}" in out, out


def test_kernel_source_that_cannot_be_read_exits_2(relu_file, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compile", str(relu_file), "--kernel-source", "/nonexistent/k.cl"])
    assert e.value.code == 2
    assert "cannot read --kernel-source" in capsys.readouterr().err


def test_compile_only_cuda_is_not_run(relu_file, capsys):
    from uhop_cc.targets.cuda.runtime import cuda_available, nvrtc_available
    if cuda_available() or not nvrtc_available():
        pytest.skip("needs NVRTC without a GPU")
    rc = main(["compile", str(relu_file), "--target", "cuda", "--shapes", "N=1000", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["status"] == "NOT_RUN" and d["compile_only"]


def test_no_secret_reaches_any_written_byte(llm, relu_file, tmp_path, capsys, monkeypatch):
    """An LLM that echoes the key and the URL's password: report.json, --json, -o DIR, the dataset,
    stdout and stderr stay clean."""
    password = "url-pass-Q7x9"
    base = llm.url.replace("http://", f"http://someone:{password}@")
    secrets = (FAKE_KEY, password)
    echoed = f"```opencl\n// key: {FAKE_KEY} {password}\n{GOOD}```\nThe key {FAKE_KEY} was useful."
    llm.queue(reply(echoed), reply(echoed))
    out_dir = tmp_path / "out"
    rc = main(["compile", str(relu_file), "--shapes", "N=1000", "--ai", "--samples", "1", "--rounds", "1",
               "--base-url", base, "-o", str(out_dir), "--json", "--no-roofline"])
    captured = capsys.readouterr()
    assert rc == 0
    for secret in secrets:
        assert secret not in captured.out and secret not in captured.err
    written = [p for root in (out_dir, tmp_path / "dataset") for p in Path(root).rglob("*") if p.is_file()]
    assert len(written) >= 6
    for p in written:
        for secret in secrets:
            assert secret.encode() not in p.read_bytes(), f"a secret was written to {p}"
    assert json.loads(captured.out)["ai"]["attempts"][0]["status"] in ("PASSED", "SLOWER")


def test_the_summary_says_when_archiving_failed(llm, relu_file, tmp_path, capsys, monkeypatch):
    # a dataset path that is a file is refused before any work (exit 2); here the folder is fine but
    # every attempt's staging folder cannot be made, so archiving fails after the LLM has answered
    blocker = tmp_path / "dataset"
    blocker.mkdir()
    (blocker / ".tmp").write_text("a file where the staging folder should be")
    monkeypatch.setenv("UHOP_DATASET_DIR", str(blocker))
    llm.queue(reply(f"```opencl\n{GOOD}```"))
    rc = main(["compile", str(relu_file), "--shapes", "N=1000", "--ai", "--samples", "1", "--rounds", "1",
               "-o", str(tmp_path / "o"), "--no-roofline"])
    out = capsys.readouterr().out
    assert rc == 0 and "ARCHIVING FAILED for 1 of 1 attempts" in out and str(blocker) in out


@pytest.mark.parametrize("source,status", [
    (GOOD.replace("void relu(", "void not_relu("), "ANALYSIS_REJECTED"),  # wrong entry name
    (GOOD.replace("// @launch global=(roundup(N, 64)) local=(64)\n", ""), "ANALYSIS_REJECTED"),  # no @launch
    (GOOD.replace("const int N", "const int N, const int extra"), "ANALYSIS_REJECTED"),  # wrong ABI
    (GOOD.replace("int i", "int\u2067 i"), "ANALYSIS_REJECTED"),  # an invisible control
    ("", "ANALYSIS_REJECTED"),  # nothing at all
    ("\x00\x01garbage{{{", "ANALYSIS_REJECTED"),
])
def test_kernel_source_survives_hostile_files(relu_file, tmp_path, capsys, source, status):
    src = tmp_path / "mine.cl"
    src.write_text(source)
    rc = main(["compile", str(relu_file), "--shapes", "N=1000", "--kernel-source", str(src), "--no-roofline"])
    out = capsys.readouterr()
    assert rc == 1 and f"verdict    {status}" in out.out and "Traceback" not in out.err, out


def test_kernel_source_too_large_exits_2(relu_file, tmp_path, capsys):
    src = tmp_path / "big.cl"
    src.write_text(GOOD + "// " + "x" * (300 * 1024) + "\n")
    with pytest.raises(SystemExit) as e:
        main(["compile", str(relu_file), "--kernel-source", str(src)])
    assert e.value.code == 2 and "larger than" in capsys.readouterr().err


def test_kernel_source_at_a_huge_requested_shape_is_checked_by_sampling(relu_file, tmp_path, capsys):
    """2^24 elements: too many for the whole reference at every shape, so the requested shape is
    run once, every element must be written, and a sample must match."""
    src = tmp_path / "mine.cl"
    # only the last element, and only at large N: the sample always includes the first and last elements
    src.write_text(GOOD.replace("fmax(X[i], 0.0f)", "(N > 100000 && i == N - 1 ? 12345.0f : fmax(X[i], 0.0f))"))
    rc = main(["compile", str(relu_file), "--shapes", f"N={1 << 24}", "--kernel-source", str(src), "--no-roofline",
               "-o", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 1 and "verdict    INCORRECT" in out and "sampled" in out
