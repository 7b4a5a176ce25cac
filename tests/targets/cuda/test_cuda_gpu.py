"""CUDA on a GPU: every example and random programs validated against the reference
interpreter, the templates at edge shapes, canary guards, ABI errors, timing with CUDA
events. Every test here is marked `gpu` and skips without a CUDA device."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cuda_support import validate_on_device as check
from strategies import programs
from uhop_cc import ir
from uhop_cc.targets.cuda.renderer import CUDARenderer
from uhop_cc.targets.cuda.templates import select_template
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.verify.validate import validate

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.uir"))


def example_kernels():
    for path in EXAMPLES:
        for k in ir.load_file(path):
            yield pytest.param(path, k.name, id=f"{path.stem}-{k.name}")


def _bound(text_or_path, sizes, name=None):
    ks = ir.load_file(text_or_path) if isinstance(text_or_path, Path) else ir.load(text_or_path, "t.uir")
    k = next(k for k in ks if name is None or k.name == name)
    return ir.bind_shapes(k, sizes)


def test_fingerprint(cuda_device):
    fp = cuda_device.fingerprint()
    for key in ("name", "compute_capability", "sm_count", "shared_mem_per_block", "shared_mem_per_block_optin",
                "registers_per_block", "l2_cache_bytes", "clock_khz", "memory_clock_khz", "global_mem_bytes",
                "max_threads_per_block", "warp_size", "driver_version", "nvrtc_version"):
        assert fp[key], key
    assert fp["device_type"] == "GPU" and fp["arch"].startswith(("sm_", "compute_"))
    import json
    json.dumps(fp)


@pytest.mark.parametrize("path,name", list(example_kernels()))
def test_examples_generic(cuda_device, path, name):
    k = next(k for k in ir.load_file(path) if k.name == name)
    src = CUDARenderer().generic(k).source
    for n in (5, 37):
        sizes = {s: n for s in k.sizes}
        if {"R", "S", "H"} <= set(sizes):
            sizes.update(R=3, S=3, H=n + 2, W=n + 3)
        check(cuda_device, src, ir.bind_shapes(k, sizes))


SHAPES = {
    "matmul": [dict(M=1, K=1, N=1), dict(M=33, K=17, N=65), dict(M=128, K=8, N=128), dict(M=130, K=129, N=257),
               dict(M=256, K=256, N=256), dict(M=64, K=3, N=4)],
    "softmax": [dict(R=7, C=100), dict(R=3, C=1), dict(R=5, C=4096), dict(R=2, C=30000), dict(R=64, C=33)],
    "layernorm": [dict(R=7, C=100), dict(R=4, C=1024), dict(R=3, C=5)],
    "cosine": [dict(N=7, D=100), dict(N=3, D=2049)],
    "relu": [dict(N=1), dict(N=3), dict(N=4), dict(N=4099), dict(N=100003)],
    "gelu": [dict(N=5), dict(N=65536 + 7)],
    "axpy": [dict(N=13), dict(N=10000)],
    "conv2d": [dict(N=1, C=1, H=3, W=3, K=1, R=3, S=3), dict(N=2, C=5, H=9, W=11, K=70, R=3, S=3),
               dict(N=3, C=16, H=20, W=17, K=64, R=1, S=1), dict(N=1, C=3, H=40, W=41, K=130, R=5, S=2)],
}
FILES = {"matmul": "matmul", "softmax": "softmax", "layernorm": "layernorm", "cosine": "cosine", "relu": "relu",
         "gelu": "mlp", "axpy": "axpy", "conv2d": "conv2d"}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_templates_validate(cuda_device, name):
    path = ROOT / "examples" / f"{FILES[name]}.uir"
    fp = cuda_device.fingerprint()
    for sizes in SHAPES[name]:
        b = _bound(path, sizes, name)
        t, m = select_template(b)
        for params in t.space(m, fp)[:3]:
            check(cuda_device, t.render(m, params).source, b)


def test_sgemm_epilogue_and_offsets(cuda_device):
    text = ("kernel t(A: f32[M, K], B: f32[K, N], b: f32[N]) -> (C: f32[M, N]) "
            "{ C[i, j] = relu(b[j] + sum(k in 1..K) A[i, k] * B[k, j]) * 0.5 }")
    for sizes in (dict(M=9, N=10, K=11), dict(M=200, N=136, K=64)):
        b = _bound(text, sizes)
        t, m = select_template(b)
        assert t.name == "sgemm"
        check(cuda_device, t.render(m).source, b)


def test_gemm_tiles_validate(cuda_device):
    """Every tile of the sgemm and conv2d spaces, at edge shapes, against the reference."""
    fp = cuda_device.fingerprint()
    conv = ("kernel t(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (Y: f32[N, K, H - 2, W - 2]) "
            "{ Y[n, k, y, x] = relu(b[k] + sum(c in 1..C, r in 0..3, s in 0..3) X[n, c, y + r, x + s] * F[k, c, r, s]) }")
    for text, sizes in ((ROOT / "examples" / "matmul.uir", dict(M=130, K=37, N=257)),
                        (ROOT / "examples" / "conv2d.uir", dict(N=2, C=7, H=13, W=12, K=67, R=3, S=2)),
                        (conv, dict(N=2, C=6, H=11, W=10, K=33, R=3, S=3))):
        b = _bound(text, sizes)
        t, m = select_template(b)
        extra = [dict(BM=32, BN=256, BK=16, TM=8, TN=8)] if t.name == "conv2d" else []
        for params in t.space(m, fp) + extra:
            check(cuda_device, t.render(m, params).source, b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(programs())
def test_random_programs_match_reference(cuda_device, prog):
    text, sizes = prog
    b = _bound(text, sizes)
    check(cuda_device, CUDARenderer().generic(b.checked).source, b)
    found = select_template(b)
    if found:
        t, m = found
        check(cuda_device, t.render(m).source, b)


def test_dtypes_f64_f16_i32(cuda_device):
    text = """
kernel mixed(A: f64[N], H: f16[N], I: i32[N], s: f16) -> (X: f64[N], Y: f16[N], Z: i32[N], W: f32[N], V: f64[], U: i32[]) {
    X[i] = A[i] * 2.5 + f64(I[i]) + pow(abs(A[i]), 1.5) + sigmoid(A[i])
    Y[i] = H[i] * 0.5 + 1 + s + max(H[i], 0.0)
    Z[i] = I[i] / 3 + I[i] % 3 + i + max(I[i], 2) + abs(I[i])
    W[i] = f32(H[i]) + f32(select(I[i] > 0, 1, 0)) + tanh(f32(A[i]))
    V = max(i) A[i] + min(j) A[j]
    U = max(i) I[i] + min(j) I[j]
}
"""
    check(cuda_device, CUDARenderer().generic(ir.load(text)[0]).source, _bound(text, {"N": 37}))


RELU = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"


def _hand(body: str, params: str = "const float* X, float* Y, const int N") -> str:
    return ("// @launch grid=(cdiv(N, 64)) block=(64)\n"
            f'extern "C" __global__ void relu({params})\n{{\n'
            "    const int i = blockIdx.x * blockDim.x + threadIdx.x;\n" + body + "\n}\n")


def test_canary_catches_out_of_bounds_writes(cuda_device):
    b = _bound(RELU, {"N": 1000})
    bad = _hand("    if (i < N + 3) Y[i] = i < N ? fmaxf(X[i], 0.0f) : 1.0f;")
    report = check(cuda_device, bad, b, expect_ok=False)
    assert not report.ok and "out-of-bounds write after the buffer" in report.reason
    before = _hand("    if (i < N) Y[i] = fmaxf(X[i], 0.0f);\n    if (i == 0) Y[-2] = 5.0f;")
    report = check(cuda_device, before, b, expect_ok=False)
    assert "out-of-bounds write before the buffer" in report.reason


def test_unwritten_and_modified_inputs(cuda_device):
    b = _bound(RELU, {"N": 1000})
    report = check(cuda_device, _hand("    if (i < N - 1) Y[i] = fmaxf(X[i], 0.0f);"), b, expect_ok=False)
    assert "never written" in report.reason
    report = check(cuda_device, _hand("    if (i < N) { Y[i] = fmaxf(X[i], 0.0f); ((float*)X)[i] = 0.0f; }"), b,
                   expect_ok=False)
    assert "modified by the kernel" in report.reason


def test_abi_errors(cuda_device):
    from uhop_cc.targets.cuda.runtime import AbiError
    b = _bound(RELU, {"N": 10})
    src = _hand("    if (i < 10) Y[i] = X[i];", "const float* X, float* Y")
    built = cuda_device.build(src)
    assert built.ok
    with pytest.raises(AbiError, match="takes 2 parameter"):
        cuda_device.run(built, parse_launch(src), b, {"X": np.zeros(10, np.float32)})
    src = _hand("    if (i < N) Y[i] = X[i];", "const double* X, float* Y, const int N")
    built = cuda_device.build(src)
    with pytest.raises(AbiError, match="points to `double`"):
        cuda_device.run(built, parse_launch(src), b, {"X": np.zeros(10, np.float32)})
    report = validate(cuda_device, built, parse_launch(src), b)
    assert not report.ok and report.reason.startswith("ABI error")
    bad = cuda_device.build('extern "C" __global__ void relu(float* x) { x[0] = nope; }')
    assert not bad.ok and "nope" in bad.log


def test_timing_with_events(cuda_device):
    from uhop_cc.verify.timing import time_launch
    n = 1 << 22
    b = _bound(RELU, {"N": n})
    t, m = select_template(b)
    src = t.render(m).source
    built = cuda_device.build(src)
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    prep = cuda_device.prepare(built, parse_launch(src), b, {"X": x})
    try:
        timing = time_launch(prep, budget_s=0.5)
        out = prep.read_outputs()["Y"]
    finally:
        prep.release()
        built.release()
    assert np.array_equal(out, np.maximum(x, 0))
    assert timing.clock == "device" and timing.runs >= 5 and timing.stages == ["relu"]
    assert 0 < timing.median_s < 0.1
    gbps = 8 * n / timing.median_s / 1e9
    assert gbps > 50, gbps  # any GPU moves a 32 MiB relu faster than this


def test_multi_stage_timing_names(cuda_device):
    from uhop_cc.verify.timing import time_launch
    b = _bound(ROOT / "examples" / "softmax.uir", {"R": 64, "C": 256})
    src = CUDARenderer().generic(b.checked).source
    built = cuda_device.build(src)
    from uhop_cc.ir import interpreter
    prep = cuda_device.prepare(built, parse_launch(src), b, interpreter.random_inputs(b, 1))
    try:
        timing = time_launch(prep, budget_s=0.3, min_runs=3)
    finally:
        prep.release()
        built.release()
    assert timing.stages == ["softmax__m", "softmax__e", "softmax__s", "softmax"]
    assert set(timing.stage_median_s) == set(timing.stages)


def test_memory_is_released(cuda_device):
    from cuda.bindings import driver as cu
    b = _bound(ROOT / "examples" / "softmax.uir", {"R": 256, "C": 1000})
    src = CUDARenderer().generic(b.checked).source

    def free():
        cuda_device.synchronize()
        err, f, _total = cu.cuMemGetInfo()
        return int(f)

    check(cuda_device, src, b)  # warm-up: module loading, context growth
    before = free()
    for _ in range(3):
        check(cuda_device, src, b)
        built = cuda_device.build(src)
        from uhop_cc.ir import interpreter
        prep = cuda_device.prepare(built, parse_launch(src), b, interpreter.random_inputs(b, 0))
        prep.launch()
        prep.finish()
        prep.release()
        built.release()
    assert abs(free() - before) < (4 << 20), (before, free())
