"""Differential validation of hand-written OpenCL kernels against the reference interpreter."""
from __future__ import annotations

import json

import pytest

from uhop_cc import ir
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.verify import validate

pytestmark = pytest.mark.opencl

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
AXPY = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void axpy(const float a, __global const float* X, __global const float* Y,
                   __global float* Z, const int N) {
    int i = get_global_id(0);
    if (i < N) Z[i] = a * X[i] + Y[i];
}
"""
RELU_UIR = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"
RELU = """
// @launch global=(N)
__kernel void relu(__global const float* X, __global float* Y, const int N) {
    int i = get_global_id(0);
    Y[i] = fmax(X[i], 0.0f);
}
"""
SOFTMAX_UIR = """kernel softmax(X: f32[R, C]) -> (Y: f32[R, C]) {
    m[r] = max(c) X[r, c]
    e[r, c] = exp(X[r, c] - m[r])
    s[r] = sum(c) e[r, c]
    Y[r, c] = e[r, c] / s[r]
}"""
SOFTMAX_2STAGE = """
// @launch global=(R)
__kernel void softmax_stats(__global const float* X, __global float* Y, __global float* m,
                            __global float* e, __global float* s, const int R, const int C) {
    int r = get_global_id(0);
    float mx = -INFINITY;
    for (int c = 0; c < C; ++c) mx = fmax(mx, X[r * C + c]);
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) { float v = exp(X[r * C + c] - mx); e[r * C + c] = v; acc += v; }
    m[r] = mx;
    s[r] = acc;
}
// @launch global=(C, R)
__kernel void softmax(__global const float* X, __global float* Y, __global float* m,
                      __global float* e, __global float* s, const int R, const int C) {
    int c = get_global_id(0), r = get_global_id(1);
    Y[r * C + c] = e[r * C + c] / s[r];
}
"""
SOFTMAX_FUSED = """
// @launch global=(R)
__kernel void softmax(__global const float* X, __global float* Y, const int R, const int C) {
    int r = get_global_id(0);
    float mx = -INFINITY, acc = 0.0f;
    for (int c = 0; c < C; ++c) mx = fmax(mx, X[r * C + c]);
    for (int c = 0; c < C; ++c) acc += exp(X[r * C + c] - mx);
    for (int c = 0; c < C; ++c) Y[r * C + c] = exp(X[r * C + c] - mx) / acc;
}
"""
MATMUL_UIR = "kernel matmul(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }"
MATMUL = """
// @launch global=(roundup(N, 8), roundup(M, 8)) local=(8, 8)
__kernel void matmul(__global const float* A, __global const float* B, __global float* C,
                     const int M, const int K, const int N) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
    C[i * N + j] = acc;
}
"""
HALF_UIR = "kernel hscale(X: f16[N], s: f16) -> (Y: f16[N]) { Y[i] = X[i] * s }"
HALF = """
// @launch global=(N)
__kernel void hscale(__global const half* X, const float s, __global half* Y, const int N) {
    int i = get_global_id(0);
    if (i < N - SKIP) vstore_half(vload_half(i, X) * s, i, Y);
}
"""
INT_UIR = "kernel imix(A: i32[N], B: i32[N], k: i32) -> (C: i32[N]) { C[i] = A[i] * k - B[i] / 3 }"
INT = """
// @launch global=(N)
__kernel void imix(__global const int* A, __global const int* B, const int k, __global int* C, const int N) {
    int i = get_global_id(0);
    C[i] = A[i] * k - B[i] / 3;
}
"""


def bound_of(uir: str, sizes):
    return ir.bind_shapes(ir.load(uir)[0], sizes)


def check(dev, uir, src, sizes, **kw):
    b = dev.build(src)
    assert b.ok, b.log
    report = validate(dev, b.program, parse_launch(src), bound_of(uir, sizes), **kw)
    json.dumps(report.to_json(), allow_nan=False)
    return report


@pytest.mark.parametrize("uir,src,sizes", [
    (AXPY_UIR, AXPY, {"N": 1000}),
    (RELU_UIR, RELU, {"N": 777}),
    (SOFTMAX_UIR, SOFTMAX_2STAGE, {"R": 9, "C": 50}),
    (SOFTMAX_UIR, SOFTMAX_FUSED, {"R": 9, "C": 50}),
    (MATMUL_UIR, MATMUL, {"M": 33, "K": 300, "N": 17}),
    (HALF_UIR, HALF.replace("SKIP", "0"), {"N": 100}),
    (INT_UIR, INT, {"N": 64}),
], ids=["axpy", "relu", "softmax-2stage-temps", "softmax-fused", "matmul", "f16", "i32"])
def test_correct_kernels_pass(opencl_device, uir, src, sizes):
    r = check(opencl_device, uir, src, sizes)
    assert r.ok, r.reason
    assert r.reason == "" and len(r.runs) == 2
    assert r.runs[0]["poison"] != r.runs[1]["poison"]
    for o in r.outputs.values():
        assert o.ok and o.mismatches == 0 and o.unwritten == 0 and o.guard["ok"]


def test_reduction_length_scales_tolerance(opencl_device):
    r = check(opencl_device, MATMUL_UIR, MATMUL, {"M": 8, "K": 400, "N": 8})
    assert r.reduction_length == 400
    assert r.outputs["C"].tolerance["rtol"] == pytest.approx(1e-4 * 20)
    assert r.outputs["C"].max_abs_err > 0  # float32 accumulation really differs from float64


def test_write_past_the_end_is_out_of_bounds(opencl_device):
    src = AXPY.replace("if (i < N)", "if (i <= N)")
    r = check(opencl_device, AXPY_UIR, src, {"N": 1000})
    assert not r.ok
    assert "output Z: out-of-bounds write after the buffer (" in r.reason
    assert r.outputs["Z"].guard["after"] > 0 and r.outputs["Z"].guard["before"] == 0
    assert r.to_json()["outputs"]["Z"]["canary"]["ok"] is False


def test_skipping_the_last_element_is_unwritten(opencl_device):
    src = AXPY.replace("if (i < N)", "if (i < N - 1)")
    r = check(opencl_device, AXPY_UIR, src, {"N": 1000})
    assert not r.ok
    assert r.reason.startswith("output Z: 1 of 1000 elements never written (still poisoned); first at (999)")
    assert r.outputs["Z"].unwritten == 1 and r.outputs["Z"].mismatches == 1
    assert "differ" not in r.reason


def test_unwritten_f16_and_never_launched(opencl_device):
    r = check(opencl_device, HALF_UIR, HALF.replace("SKIP", "3"), {"N": 100})
    assert "output Y: 3 of 100 elements never written (still poisoned); first at (97)" in r.reason
    src = RELU.replace("Y[i] = fmax(X[i], 0.0f);", "")
    r = check(opencl_device, RELU_UIR, src, {"N": 50})
    assert "output Y: 50 of 50 elements never written (still poisoned)" in r.reason


def test_wrong_kernel_reports_first_mismatch(opencl_device):
    src = AXPY.replace("a * X[i] + Y[i]", "(i >= 500 ? a * X[i] - Y[i] : a * X[i] + Y[i])")
    r = check(opencl_device, AXPY_UIR, src, {"N": 1000})
    assert not r.ok
    assert r.reason.startswith("output Z: 500 of 1000 elements differ; first at (500): got ")
    fm = r.outputs["Z"].first_mismatch
    assert fm["index"] == [500] and fm["seed"] == 1
    assert abs(fm["got"] - fm["expected"]) > 1e-3
    assert r.outputs["Z"].nan_count == 0


def test_computed_nan_fails_and_is_not_taken_for_poison(opencl_device):
    src = AXPY.replace("a * X[i] + Y[i]", "(i == 7 ? NAN : a * X[i] + Y[i])")
    r = check(opencl_device, AXPY_UIR, src, {"N": 100})
    assert not r.ok
    assert r.reason.startswith("output Z: 1 of 100 elements differ; first at (7): got nan, expected ")
    assert r.outputs["Z"].nan_count == 1 and r.outputs["Z"].unwritten == 0
    assert r.to_json()["outputs"]["Z"]["first_mismatch"]["got"] == "nan"


def test_reading_the_output_before_writing_it_fails(opencl_device):
    src = AXPY.replace("Z[i] = a * X[i] + Y[i];", "Z[i] += a * X[i] + Y[i];")
    r = check(opencl_device, AXPY_UIR, src, {"N": 64})
    assert not r.ok and r.reason.endswith("(failed on 2 of 2 input sets: uniform (seed 1), normal (seed 2))")
    assert "64 of 64 elements differ; first at (0): got nan" in r.reason
    # CPUs keep the poison's NaN payload through arithmetic, so the cause can be named; GPUs
    # return a canonical NaN, and the report then says only that the values differ
    if "CPU" in str(opencl_device.fingerprint().get("device_type", "")).upper():
        assert "64 are NaNs computed from the poison: the kernel reads Z before writing it?" in r.reason
    assert r.outputs["Z"].unwritten == 0 and r.outputs["Z"].nan_count == 64


def test_abi_mismatch_is_a_failed_report(opencl_device):
    src = RELU.replace("const int N", "const int N, const int extra")
    r = check(opencl_device, RELU_UIR, src, {"N": 8})
    assert not r.ok and r.reason.startswith("ABI error: kernel `relu` takes 4 argument(s)")


def test_launch_geometry_error_is_a_failed_report(opencl_device):
    limit = opencl_device.cl_device.max_work_group_size
    src = RELU.replace("global=(N)", f"global=(N) local=({2 * limit})")  # larger than any work-group
    r = check(opencl_device, RELU_UIR, src, {"N": 2 * limit})
    assert not r.ok and r.reason.startswith("launch failed: enqueue of `relu`")
