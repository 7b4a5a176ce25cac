"""The closed loop end to end: a real HTTP server scripts the LLM; kernels really build and run
(PoCL); every attempt is archived; no key reaches the disk."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from ai.fake_llm import FAKE_KEY, drop, reply, slow, status
from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.ai.loop import apply_outcome, improve
from uhop_cc.ai.providers import ProviderConfigError
from uhop_cc.dataset import cache
from uhop_cc.dataset.store import DatasetStore

pytestmark = pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
HEAD = "// @launch global=(roundup(N, 64)) local=(64)\n" \
       "__kernel void axpy(const float a, __global const float* X, __global const float* Y,\n" \
       "                   __global float* Z, const int N) {\n    int i = get_global_id(0);\n"
GOOD_SRC = HEAD + "    if (i < N) Z[i] = a * X[i] + Y[i];\n}\n"


def fenced(src: str, lang: str = "opencl") -> str:
    return f"Here is a faster kernel.\n\n```{lang}\n{src}```\n\nIt handles the tail."


GOOD = fenced(f"// leaked {FAKE_KEY}\n" + GOOD_SRC)  # an LLM echoing a key must not put it on disk
COMPILE_ERROR = fenced(GOOD_SRC.replace("+ Y[i]", "+ Yy[i]"))
WRONG = fenced(GOOD_SRC.replace("+ Y[i]", "- Y[i]"))
HANG = fenced(HEAD + "    while (X[0] < 2.0f) { Z[i] = Z[i] + 1.0f; }\n}\n")  # X is in [-1, 1): never ends
OOB = fenced(HEAD + "    if (i < N) Z[i] = a * X[i] + Y[i];\n    if (i == 0) Z[N + 2] = 0.0f;\n}\n")
INCLUDE = fenced('#include "/etc/passwd"\n' + GOOD_SRC)
NO_CODE = "I am sorry, but I cannot write that kernel. Consider using a library."
HARDCODED = fenced(HEAD + "    if (i >= N || i >= 300) return;  /* tuned for N = 300 */\n"
                          "    Z[i] = a * X[i] + Y[i];\n}\n")


@pytest.fixture(scope="module")
def axpy():
    from uhop_cc.pipeline import compile_bound
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    bound = ir.bind_shapes(ir.select_kernel(ir.load(AXPY_UIR)), {"N": 300})
    device = OpenCLDevice.open()
    baseline = compile_bound(bound, device=device, time_budget_s=0.1)
    assert baseline.ok and baseline.timing
    return bound, device, baseline


def _slow_baseline(baseline):
    """The deterministic kernel with a (pretend) 1 s median: any correct candidate beats it."""
    return dataclasses.replace(baseline, timing=dict(baseline.timing, median_s=1.0))


def _improve(axpy, llm, *, baseline=None, **kw):
    bound, device, base = axpy
    kw.setdefault("samples", 1)
    kw.setdefault("time_budget_s", 0.05)
    return improve(bound, target="opencl", device=device, baseline=baseline or base, **kw)


def _archive_ok(outcome, n: int) -> DatasetStore:
    """Every attempt archived (folder + row), and the fake key nowhere in the dataset."""
    st = DatasetStore(outcome.dataset_dir)
    assert len(outcome.attempts) == n and len(st.query()) == n
    for a in outcome.attempts:
        folder = Path(a.folder)
        files = {p.name for p in folder.iterdir()}
        assert {"metadata.json", "prompt.txt", "reply.txt", "program.uir"} <= files, files
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["status"] == a.status and meta["session"] == outcome.session
        assert [s["stage"] for s in meta["extra"]["stages"]][:2] == ["prompt", "provider"]
    for p in Path(outcome.dataset_dir).rglob("*"):
        if p.is_file():
            assert FAKE_KEY.encode() not in p.read_bytes(), f"API key written to {p}"
    return st


def test_compile_error_then_fix(axpy, llm):
    llm.queue(reply(COMPILE_ERROR), reply(GOOD))
    out = _improve(axpy, llm, baseline=_slow_baseline(axpy[2]), rounds=3)
    assert [a.status for a in out.attempts] == ["COMPILE_ERROR", "PASSED"]  # stopped early after the pass
    assert len(llm.requests) == 2
    second = llm.prompts()[1]
    assert "use of undeclared identifier 'Yy'" in second and "did not compile" in second
    assert "undeclared identifier" in out.attempts[0].reason
    assert out.ok and out.kernel.strategy == "ai" and out.speedup > 1 and out.timing["median_s"] > 0
    assert out.summary.startswith("using the AI kernel") and "1 COMPILE_ERROR" in out.summary
    st = _archive_ok(out, 2)
    assert FAKE_KEY not in out.kernel.source or True  # the in-memory kernel is what the LLM sent
    assert "[REDACTED]" in st.source(out.attempts[1].id)
    hit = cache.lookup(cache.uir_hash(axpy[0]), "opencl", axpy[1].name, {"N": 300}, dataset_dir=out.dataset_dir)
    assert hit is not None and hit.attempt_id == out.best_attempt
    res = apply_outcome(axpy[2], out, axpy[1], axpy[0])
    # the AI kernel is untrusted: judged in the child, never built or run in this process
    assert res.ok and res.kernel.strategy == "ai" and res.program is None and res.stages
    assert res.audit["status"] == "PASSED" and res.status == "PASSED"
    assert res.timing == out.timing and res.ai["ok"] and "ai" in res.summary()


def test_wrong_result_then_fix_is_kept_only_if_faster(axpy, llm):
    llm.queue(reply(WRONG), reply(GOOD))
    out = _improve(axpy, llm, rounds=2, min_speedup=1e9)  # nothing can be a billion times faster
    assert [a.status for a in out.attempts] == ["INCORRECT", "SLOWER"]
    wrong = out.attempts[0]
    assert "differ" in wrong.reason and "expected" in wrong.reason
    second = llm.prompts()[1]
    assert "wrong results" in second and "expected" in second and "max abs err" in second
    assert not out.ok and out.kernel is None
    assert out.summary.startswith("kept the deterministic kernel: no candidate beat it")
    _archive_ok(out, 2)
    res = apply_outcome(axpy[2], out, axpy[1], axpy[0])
    assert res.kernel.strategy != "ai" and res.ai["ok"] is False and res.ai["summary"] == out.summary


def test_hang_oob_include_nocode_hardcoded(axpy, llm):
    llm.queue(reply(HANG), reply(OOB), reply(INCLUDE), reply(NO_CODE), reply(HARDCODED))
    t0 = time.perf_counter()
    out = _improve(axpy, llm, rounds=5, check_timeout_s=8.0)
    statuses = [a.status for a in out.attempts]
    # the stray write is found before anything runs: the interval analysis proves Z[N + 2] leaves Z
    assert statuses == ["TIMEOUT", "ANALYSIS_REJECTED", "ANALYSIS_REJECTED", "NO_CODE", "INCORRECT"], \
        [(a.status, a.reason) for a in out.attempts]
    hang, oob, inc, nocode, hard = out.attempts
    assert "killed" in hang.reason
    assert "mem.oob-write" in oob.reason and "Z" in oob.reason
    assert "include" in inc.reason and not any(s["stage"] in ("compile", "check") for s in inc.stages)
    assert "/etc/passwd" in llm.prompts()[3]  # its findings went back as feedback
    assert nocode.source is None
    assert "never written" in hard.reason and hard.details["sizes"]["N"] > 300  # fails on another shape
    shapes = hard.details["shapes"]
    assert shapes[0] == {"N": 300} and all(s["N"] % 16 for s in shapes[1:])
    assert out.kernel is None and out.summary.startswith("kept the deterministic kernel: no candidate passed (")
    for s in ("1 TIMEOUT", "2 ANALYSIS_REJECTED", "1 NO_CODE", "1 INCORRECT"):
        assert s in out.summary
    _archive_ok(out, 5)
    assert time.perf_counter() - t0 < 60


def test_transient_provider_errors_are_retried(axpy, llm, monkeypatch):
    monkeypatch.setenv("UHOP_AI_MAX_RETRIES", "3")
    llm.queue(status(429, retry_after=0), status(500), drop(), reply(GOOD))
    out = _improve(axpy, llm, baseline=_slow_baseline(axpy[2]), rounds=1)
    assert [a.status for a in out.attempts] == ["PASSED"] and len(llm.requests) == 4
    prov = next(s for s in out.attempts[0].stages if s["stage"] == "provider")
    assert prov["tries"] == 4 and [r["kind"] for r in prov["retries"]] == ["rate_limit", "server", "connection"]
    _archive_ok(out, 1)


def test_slow_provider_is_a_provider_error(axpy, llm, monkeypatch):
    monkeypatch.setenv("UHOP_AI_TIMEOUT", "0.3")
    monkeypatch.setenv("UHOP_AI_MAX_RETRIES", "1")
    llm.queue(slow(2.0, GOOD), slow(2.0, GOOD))
    t0 = time.perf_counter()
    out = _improve(axpy, llm, rounds=1)
    assert time.perf_counter() - t0 < 5
    assert [a.status for a in out.attempts] == ["PROVIDER_ERROR"] and len(llm.requests) == 2
    assert "no reply within 0.3 s" in out.attempts[0].reason
    assert out.summary.startswith("kept the deterministic kernel: the provider failed")
    _archive_ok(out, 1)


def test_missing_key_fails_before_any_request(axpy, llm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY"):
        _improve(axpy, llm, provider="openai")
    assert llm.requests == []


def test_cuda_without_gpu_is_compile_checked_only(llm):
    from uhop_cc.targets.cuda.runtime import cuda_available, nvrtc_available
    if cuda_available() or not nvrtc_available():
        pytest.skip("needs NVRTC without a CUDA GPU")
    cu = GOOD_SRC.replace("__kernel void", 'extern "C" __global__ void').replace("__global const", "const") \
        .replace("__global float", "float").replace("get_global_id(0)", "blockIdx.x * blockDim.x + threadIdx.x") \
        .replace("global=(roundup(N, 64)) local=(64)", "grid=(cdiv(N, 64)) block=(64)")
    llm.queue(reply(fenced(cu, "cuda")))
    bound = ir.bind_shapes(ir.select_kernel(ir.load(AXPY_UIR)), {"N": 300})
    out = improve(bound, target="cuda", device=None, baseline=None, samples=1, rounds=2)
    assert [a.status for a in out.attempts] == ["NOT_RUN"] and not out.attempts[0].verified  # compiled, never run
    assert out.kernel is None and "NVRTC" in out.summary and out.checks_only
    _archive_ok(out, 1)


def test_ttmetal_candidates_are_only_checked(llm):
    import shutil
    try:
        from uhop_cc.targets.ttmetal.kernels import all_sources
        from uhop_cc.targets.ttmetal.lowering import plan_kernel
    except ImportError:
        pytest.skip("no TT-Metal lowering")
    if not shutil.which("g++"):
        pytest.skip("no g++ for the syntax check")
    bound = ir.bind_shapes(ir.select_kernel(ir.load("kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }")),
                           {"N": 4096})
    src = all_sources(plan_kernel(bound))
    good = "\n".join(f"{role.title()} kernel:\n```cpp\n// {role}\n{text}```" for role, text in src.items())
    broken = good.replace("relu_tile(0);", "relu_tile(0)  // missing semicolon", 1)
    assert broken != good
    llm.queue(reply(broken), reply(good))
    out = improve(bound, target="ttmetal", device=None, baseline=None, samples=1, rounds=2)
    assert [a.status for a in out.attempts] == ["COMPILE_ERROR", "NOT_RUN"], [a.reason for a in out.attempts]
    assert "compute" in out.attempts[0].reason and "did not compile" in llm.prompts()[1]
    assert out.kernel is None and "TT-Metal" in out.summary and "syntax-checked" in out.summary
    _archive_ok(out, 2)


def test_large_shape_validated_on_small_shapes_then_sanity_run(axpy, llm):
    """N = 300000 is too large for the reference on every candidate: the micro-tests use small random
    shapes, and a guarded run at the requested shape catches what only shows there."""
    bound = ir.bind_shapes(axpy[0].checked, {"N": 300000})
    limited = fenced(HEAD + "    if (i >= N || i >= 100000) return;\n    Z[i] = a * X[i] + Y[i];\n}\n")
    llm.queue(reply(limited), reply(GOOD))
    out = improve(bound, target="opencl", device=axpy[1], baseline=None, samples=1, rounds=2, time_budget_s=0.05)
    assert [a.status for a in out.attempts] == ["INCORRECT", "PASSED"], [a.reason for a in out.attempts]
    first = out.attempts[0]
    assert "N=300000" in first.reason and "never written" in first.reason
    assert all(s["N"] < 300000 for s in first.details["shapes"])
    assert out.ok and out.speedup is None and "no baseline time" in out.summary
    _archive_ok(out, 2)
