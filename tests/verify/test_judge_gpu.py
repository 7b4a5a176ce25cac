"""The judge on a CUDA GPU (skipped without one): an honest kernel passes with refilled timing; a
stray write and a stray read are OUT_OF_BOUNDS (guards, or compute-sanitizer where it exists)."""
from __future__ import annotations

import shutil

import pytest

from uhop_cc.ai.checks import run_checks

AXPY = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
HEAD = ("// @launch grid=(cdiv(N, 64)) block=(64)\n"
        'extern "C" __global__ void axpy(const float a, const float* X, const float* Y, float* Z, const int N) {\n'
        "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
GOOD = HEAD + "    if (i < N) Z[i] = a * X[i] + Y[i];\n}\n"


def _gpu() -> bool:
    try:
        from uhop_cc.targets.cuda.runtime import cuda_available
        return cuda_available()
    except Exception:  # noqa: BLE001
        return False


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _gpu(), reason="no CUDA GPU")]


def check(src, sizes=None):
    sizes = sizes or {"N": 300}
    return run_checks(src, AXPY, "axpy", "cuda", [("small", {"N": 257}), ("hidden", {"N": 13})], sizes, seeds=[1],
                      timeout_s=120, budget_s=0.1)


def test_an_honest_cuda_kernel_passes_with_refilled_timing():
    co = check(GOOD, {"N": 1 << 20})
    assert co.status is None, co.reason
    assert co.timing["median_s"] > 0 and co.timing["repoisoned"]


def test_a_cuda_kernel_that_skips_work_when_timed_is_caught():
    src = HEAD + "    if (i >= N) return;\n    if (Z[i] != 0.0f && fabsf(Z[i]) < 1e-37f) return;\n" \
                 "    Z[i] = a * X[i] + Y[i];\n}\n"
    co = check(src)
    assert co.status == "INCORRECT" and "timed runs" in co.reason


@pytest.mark.parametrize("access", ["if (i == 0) Z[N + 100000] = 1.0f;", "if (i == 0) Z[-100000] = 1.0f;"])
def test_a_stray_cuda_write_is_out_of_bounds(access):
    co = check(GOOD.replace("}\n", f"    {access}\n}}\n"))
    assert co.status == "OUT_OF_BOUNDS", co.reason


@pytest.mark.skipif(shutil.which("compute-sanitizer") is None, reason="no compute-sanitizer")
def test_a_stray_cuda_read_is_found_by_compute_sanitizer():
    co = check(GOOD.replace("+ Y[i];", "+ Y[i] + 0.0f * X[i + 300000];"))
    assert co.status == "OUT_OF_BOUNDS" and "compute-sanitizer" in co.reason, co.reason
