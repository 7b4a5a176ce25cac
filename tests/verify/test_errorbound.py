"""Tolerances from error analysis: correct kernels in any summation order pass, mutants fail
(one term scaled, a block dropped, lower precision, 5% off), where the old sqrt(L)-relative
tolerance let some of them through."""
from __future__ import annotations

import numpy as np
import pytest

from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.codegen import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.verify.errorbound import error_bounds, magnitude_program
from uhop_cc.verify.inputs import DISTRIBUTIONS, make_inputs
from uhop_cc.verify.validate import validate

pytestmark = pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")

MSE = "kernel mse(A: f32[N], B: f32[N]) -> (L: f32[]) { L = sum(i) (A[i] - B[i]) * (A[i] - B[i]) / N }"
MSE_SRC = ("// @launch global=(1) local=(1)\n"
           "__kernel void mse(__global const float* A, __global const float* B, __global float* L, const int N) {\n"
           "    float s = 0.0f;\n    for (int i = 0; i < LIMIT; ++i) { float d = A[i] - B[i]; s += d * d; }\n"
           "    L[0] = SCALE * s / N;\n}\n")
MATMUL = "kernel matmul(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }"
MM_SRC = ("// @launch global=(roundup(N, 8), roundup(M, 8)) local=(8, 8)\n"
          "__kernel void matmul(__global const float* A, __global const float* B, __global float* C,\n"
          "                     const int M, const int K, const int N) {\n"
          "    int j = get_global_id(0), i = get_global_id(1);\n    if (i >= M || j >= N) return;\n"
          "    float acc = 0.0f;\n    for (int k = 0; k < LIMIT; ++k) { acc += TERM; }\n    C[i * N + j] = RESULT;\n}\n")


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    return OpenCLDevice.open()


def run(device, uir, src, sizes, bounded=True, dists=DISTRIBUTIONS):
    bound = ir.bind_shapes(ir.select_kernel(ir.load(uir)), sizes)
    build = device.build(src)
    assert build.ok, build.log
    return validate(device, build, parse_launch(src), bound, seeds=list(range(1, len(dists) + 1)),
                    distributions=list(dists), bounded=bounded)


def mm(**kw):
    parts = {"LIMIT": "K", "TERM": "A[i * K + k] * B[k * N + j]", "RESULT": "acc"}
    parts.update(kw)
    src = MM_SRC
    for k, v in parts.items():
        src = src.replace(k, v)
    return src


def test_a_naive_serial_sum_of_a_million_terms_passes_on_every_distribution(device):
    src = MSE_SRC.replace("LIMIT", "N").replace("SCALE", "1.0f")
    r = run(device, MSE, src, {"N": 1 << 20})
    assert r.ok, r.reason
    assert r.outputs["L"].worst_fraction < 0.5


@pytest.mark.parametrize("src", [
    mm(),  # serial k order
    mm(TERM="A[i * K + (K - 1 - k)] * B[(K - 1 - k) * N + j]"),  # reversed
    mm(LIMIT="K / 2", TERM="A[i * K + 2 * k] * B[2 * k * N + j] + A[i * K + 2 * k + 1] * B[(2 * k + 1) * N + j]"),
    mm(TERM="0.0f; acc = fma(A[i * K + k], B[k * N + j], acc)"),  # fused multiply-add
])
def test_correct_matmuls_in_any_order_pass(device, src):
    r = run(device, MATMUL, src, {"M": 9, "N": 7, "K": 1024})
    assert r.ok, r.reason


@pytest.mark.parametrize("name,src,sizes", [
    ("one term scaled", mm(TERM="(k == 517 ? 1.5f : 1.0f) * A[i * K + k] * B[k * N + j]"), {"K": 1024}),
    ("a block dropped", mm(LIMIT="K - K % 8"), {"K": 1003}),
    ("lower precision (10-bit mantissa)", mm(RESULT="as_float(as_uint(acc) & 0xFFFFE000u)"), {"K": 1024}),
    ("lower-precision accumulation", mm(TERM="0.0f; acc = as_float(as_uint(acc + A[i * K + k] * B[k * N + j]) "
                                             "& 0xFFFF0000u)"), {"K": 256}),
])
def test_mutants_fail(device, name, src, sizes):
    r = run(device, MATMUL, src, dict({"M": 9, "N": 7}, **sizes))
    assert not r.ok, f"{name} passed"
    assert "differ" in r.reason or "whole output" in r.reason


@pytest.mark.parametrize("scale", ["0.95f", "1.05f", "0.99f"])
def test_a_few_percent_wrong_mse_over_a_million_terms_fails(device, scale):
    src = MSE_SRC.replace("LIMIT", "N").replace("SCALE", scale)
    r = run(device, MSE, src, {"N": 1 << 20}, dists=("uniform", "normal"))
    assert not r.ok and "differ" in r.reason


def test_the_old_relative_tolerance_let_a_wrong_mse_through(device):
    """Why the tolerance changed: the sqrt(L)-relative one (rtol 0.1 at L = 10^6) passes a 5%-wrong MSE."""
    mse = MSE_SRC.replace("LIMIT", "N").replace("SCALE", "0.95f")
    assert run(device, MSE, mse, {"N": 1 << 20}, bounded=False, dists=("uniform",)).ok
    assert not run(device, MSE, mse, {"N": 1 << 20}, dists=("uniform",)).ok


@pytest.mark.parametrize("example", ["attention", "axpy", "blur_same", "bmm_nt", "conv2d", "cosine", "layernorm",
                                     "matmul", "maxpool2", "mlp", "relu", "softmax", "stats", "stencil2d", "stencil3d"])
def test_every_example_gets_error_bounds(example):
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "examples" / f"{example}.uir").read_text()
    for checked in ir.load(text):
        sizes = {s: 6 for s in checked.sizes}
        sizes.update({k: 3 for k in ("R", "S") if k in sizes})
        bound = ir.bind_shapes(checked, sizes)
        inputs = make_inputs(bound, "normal", 1)
        eb = error_bounds(bound, inputs)
        assert eb.method == "error-analysis", eb.method
        ref = interpreter.run(bound, inputs)
        for p in checked.outputs:
            m = eb.magnitudes[p.name]
            assert m.shape == ref[p.name].shape and np.all(m >= 0)
            # M covers at least the rounding of the stored result
            assert np.all(m[np.isfinite(m)] >= 0.999 * np.abs(ref[p.name].astype(np.float64))[np.isfinite(m)])


def test_the_magnitude_program_is_valid_uir():
    bound = ir.bind_shapes(ir.select_kernel(ir.load(MATMUL)), {"M": 2, "N": 3, "K": 4})
    text, outs = magnitude_program(bound)
    assert outs == {"C": "uhopm_C"} and "sum(k in 0..K) abs(f64(A[i, k])) * abs(f64(B[k, j]))" in text
    assert ir.load(text)  # parses and checks
