"""The judge's own mechanisms, each isolated: timed runs refilled and checked, the physical roof,
large guard zones, resource limits of the child, the varied poisons, the sampled requested shape."""
from __future__ import annotations

import numpy as np
import pytest

from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.ai.checks import run_checks
from uhop_cc.targets.opencl.runtime import Poison
from uhop_cc.verify.judge import check_candidate, guard_bytes_for, sampled_check, suspicious
from uhop_cc.verify.sandbox import Limits, limits, run_isolated


def judge(*args, **kw):
    """check_candidate in a child, as always for untrusted code (a stray access kills the process)."""
    r = run_isolated(check_candidate, *args, timeout_s=120, **kw)
    return r.value if r.ok else {"ok": False, "died": r.signal or r.status, "error": r.error}

AXPY = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
HEAD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
        "__kernel void axpy(const float a, __global const float* X, __global const float* Y,\n"
        "                   __global float* Z, const int N) {\n    int i = get_global_id(0);\n")
GOOD = HEAD + "    if (i < N) Z[i] = a * X[i] + Y[i];\n}\n"
opencl = pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")


@opencl
def test_a_kernel_that_skips_work_in_timing_loops_is_caught_by_the_timed_outputs():
    # computes on every poison validation uses (NaN, random, zeros), skips on the refill pattern of timing
    src = HEAD + ("    if (i >= N) return;\n    if (Z[i] != 0.0f && fabs(Z[i]) < 1e-37f) return;\n"
                  "    Z[i] = a * X[i] + Y[i];\n}\n")
    out = judge(src, AXPY, None, "opencl", [("small", {"N": 300})], {"N": 300}, budget_s=0.05)
    assert out["shapes"][0]["ok"]  # validation alone would have passed it
    assert not out["ok"] and "timed runs are wrong" in out["failed"]["reason"]


@opencl
def test_an_honest_kernel_passes_and_its_timing_says_the_outputs_were_refilled():
    out = judge(GOOD, AXPY, None, "opencl", [("small", {"N": 257})], {"N": 100000}, budget_s=0.05)
    assert out["ok"] and out["timing"]["repoisoned"] and out["sanity"]["ok"] and out["sanity"]["sampled"] >= 200
    assert out["suspicious"] is None


@opencl
@pytest.mark.parametrize("access", ["if (i == 0) Z[N + 100000] = 1.0f;",  # a write 400 KB past Z
                                    "if (i == 0) Z[N] = 1.0f;",  # just past it
                                    "if (i == 0) Z[0] = X[N + 5000];"])  # a read 20 KB past X
def test_a_stray_access_faults_on_guard_pages_or_changes_a_canary(access):
    src = GOOD.replace("}\n", f"    {access}\n}}\n")
    out = judge(src, AXPY, None, "opencl", [("small", {"N": 300})], {"N": 300}, time_it=False)
    assert not out["ok"]
    assert out.get("died") == "SIGSEGV" or out["failed"]["oob"] or "differ" in out["failed"]["reason"], out


@opencl
def test_canary_zones_still_name_the_tensor_without_guard_pages(opencl_device):
    from uhop_cc.codegen import parse_launch
    from uhop_cc.verify.validate import validate
    src = GOOD.replace("}\n", "    if (i == 0) Z[N + 1000] = 1.0f;\n}\n")
    bound = ir.bind_shapes(ir.select_kernel(ir.load(AXPY)), {"N": 300})
    r = validate(opencl_device, opencl_device.build(src), parse_launch(src), bound, guard_bytes=1 << 16)
    assert not r.ok and "output Z: out-of-bounds write after the buffer" in r.reason


def test_guards_cover_the_largest_tensor_twice():
    bound = ir.bind_shapes(ir.select_kernel(ir.load(AXPY)), {"N": 1 << 20})
    assert guard_bytes_for(bound) == 2 * 4 * (1 << 20) + 4096
    small = ir.bind_shapes(ir.select_kernel(ir.load(AXPY)), {"N": 10})
    assert guard_bytes_for(small) == 1 << 20
    assert guard_bytes_for(small, reach_bytes=200 << 20) == 64 << 20


@opencl
def test_a_time_faster_than_the_roof_is_suspicious():
    bound_sizes = {"N": 300}
    co = run_checks(GOOD, AXPY, "axpy", "opencl", [("small", bound_sizes)], bound_sizes, seeds=[1], timeout_s=60,
                    budget_s=0.05, peaks={"gbps": 1e-12, "gflops": 1e-12, "llc_bytes": 1})
    assert co.status == "SUSPICIOUS" and "faster than physically possible" in co.reason


def test_suspicious_leaves_room_for_caches():
    peaks = {"gbps": 10.0, "gflops": 100.0, "llc_bytes": 1 << 20}
    assert suspicious(1e-6, 0, 1 << 30, peaks)  # 1 GiB in 1 us at 10 GB/s
    assert suspicious(1e-3, 0, 1 << 16, peaks) is None  # cache-resident: up to 16x the DRAM bandwidth
    assert suspicious(1e-6, 1e9, 0, peaks)  # a GFLOP in a microsecond
    assert suspicious(1e-6, 0, 0, None) is None


def _allocate(gib: float) -> int:
    return len(bytearray(int(gib * (1 << 30))))


def test_the_child_runs_under_a_memory_limit():
    r = run_isolated(_allocate, 2.0, timeout_s=60, resource_limits=Limits(1 << 30, 60))
    assert r.status == "error" and "MemoryError" in r.error
    assert run_isolated(_allocate, 0.01, timeout_s=60, resource_limits=Limits(1 << 30, 60)).value == int(0.01 * (1 << 30))


def test_limits_scale_with_the_work_and_can_be_overridden(monkeypatch):
    monkeypatch.delenv("UHOP_SANDBOX_MEMORY_MB", raising=False)
    small, big = limits(0), limits(1 << 30)
    assert small.memory_bytes < big.memory_bytes and small.memory_bytes >= 2 << 30
    monkeypatch.setenv("UHOP_SANDBOX_MEMORY_MB", "512")
    assert limits(1 << 30).memory_bytes == 512 << 20
    monkeypatch.setenv("UHOP_SANDBOX_MEMORY_MB", "0")
    assert limits(0).memory_bytes is None


def test_poisons_vary_between_nan_random_and_zero():
    kinds = [Poison.varied(k, 5).kind for k in range(6)]
    assert kinds == ["nan", "random", "zero"] * 2
    p = Poison.varied(1, 5)
    fill = p.fill("Z", (4, 3), "f32")
    assert np.all(np.isfinite(fill)) and np.all(p.mask(fill, "f32", "Z"))
    assert not np.any(p.mask(fill + 1, "f32", "Z")) and not np.array_equal(fill, p.fill("W", (4, 3), "f32"))
    z = Poison.varied(2).fill("Z", (5,), "i32")
    assert z.tolist() == [0] * 5
    assert np.isnan(Poison.varied(0).fill("Z", (2,), "f32")).all()


@opencl
def test_sampled_check_finds_a_wrong_element_of_a_large_output():
    from uhop_cc.ir import interpreter
    bound = ir.bind_shapes(ir.select_kernel(ir.load("kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) "
                                                    "{ C[i, j] = sum(k) A[i, k] * B[k, j] }")),
                           {"M": 300, "N": 200, "K": 50})
    inputs = interpreter.random_inputs(bound, 1)
    good = interpreter.run(bound, inputs)
    assert sampled_check(bound, inputs, good)[0] is True
    bad = {"C": good["C"].copy()}
    bad["C"][150:, :] *= 1.01  # half the rows 1% off: a sample of 256 finds it
    ok, why, n = sampled_check(bound, inputs, bad)
    assert ok is False and "sampled elements differ" in why and n >= 200


@opencl
def test_timing_can_flush_the_caches_between_repetitions():
    out = judge(GOOD, AXPY, None, "opencl", [("small", {"N": 257})], {"N": 4096}, budget_s=0.05, flush=True)
    assert out["ok"] and out["timing"]["cache_flush"] and out["timing"]["repoisoned"]


STAND_IN = """#!/bin/sh
# stands in for compute-sanitizer where no GPU exists: runs the command after the options,
# then reports an invalid access (exit 86, memcheck's format) when UHOP_TEST_FAULT says so
while [ "$#" -gt 0 ]; do case "$1" in --tool|--error-exitcode|--print-limit) shift 2;; *) break;; esac; done
"$@" || exit $?
if [ -n "$UHOP_TEST_FAULT" ]; then
  echo "========= Invalid __global__ write of size 4 bytes"
  echo "=========     at axpy+0x90"
  exit 86
fi
"""


@opencl
def test_compute_sanitizer_exit_86_is_out_of_bounds(tmp_path, monkeypatch):
    from uhop_cc.verify.sanitizer import memcheck, sanitizer_path
    tool = tmp_path / "compute-sanitizer"
    tool.write_text(STAND_IN)
    tool.chmod(0o755)
    monkeypatch.setenv("UHOP_COMPUTE_SANITIZER", str(tool))
    assert sanitizer_path() == str(tool)
    kw = {"source": GOOD, "uir_source": AXPY, "kernel_name": "axpy", "target": "opencl",
          "shapes": [("small", {"N": 300})], "requested": {"N": 300}, "seeds": [1]}
    assert memcheck(kw, 120) == (None, "")
    monkeypatch.setenv("UHOP_TEST_FAULT", "1")
    status, why = memcheck(kw, 120)
    assert status == "OUT_OF_BOUNDS" and "Invalid __global__ write of size 4 bytes" in why
    monkeypatch.setenv("UHOP_COMPUTE_SANITIZER", "0")
    assert sanitizer_path() is None and memcheck(kw, 120) == (None, "")
