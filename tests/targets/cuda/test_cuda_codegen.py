"""CUDA code generation without a GPU: the renderer, @launch annotations, template matching,
and NVRTC compile checks of every example's generic and template kernels and of random
programs (NVRTC from the nvidia-cuda-nvrtc wheel needs no GPU)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cuda_support import requires_nvrtc
from strategies import programs
from uhop_cc import ir
from uhop_cc.targets.cuda.renderer import F16_HELPERS, CUDARenderer
from uhop_cc.targets.cuda.templates import TEMPLATES, get_template, select_template
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.targets.cuda.runtime import kernel_signatures

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.uir"))


def example_sizes(k) -> dict:
    sizes = {s: 5 for s in k.sizes}
    if {"R", "S", "H"} <= set(sizes):
        sizes.update(R=3, S=3, H=7, W=8)
    return sizes


def all_example_kernels():
    for path in EXAMPLES:
        for k in ir.load_file(path):
            yield pytest.param(path, k.name, id=f"{path.stem}-{k.name}")


def load(path, name):
    return next(k for k in ir.load_file(path) if k.name == name)


# ------------------------------------------------------------------ renderer
def test_renderer_dialect():
    k = ir.load("kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }")[0]
    g = CUDARenderer().generic(k)
    assert g.target == "cuda" and g.file_name == "kernel.cu" and g.entry == "relu" and g.strategy == "generic"
    src = g.source
    assert 'extern "C" __global__ void relu(const float* __restrict__ X,' in src
    assert "float* __restrict__ Y" in src and "const int N" in src
    assert "blockIdx.x * blockDim.x + threadIdx.x" in src
    assert "// @launch grid=(cdiv(N, 256)) block=(256)" in src
    assert "fmaxf(X[i], 0.0f)" in src
    assert "__global " not in src and "get_global_id" not in src and "_uh2f" not in src


def test_math_names_per_dtype():
    r = CUDARenderer()
    assert r.math("exp", "f32", ["x"]) == "expf(x)"
    assert r.math("exp", "f16", ["x"]) == "expf(x)"
    assert r.math("exp", "f64", ["x"]) == "exp(x)"
    assert r.math("rsqrt", "f32", ["x"]) == "rsqrtf(x)"
    assert r.math("pow", "f32", ["x", "y"]) == "powf(x, y)"
    assert r.math("pow", "f64", ["x", "y"]) == "pow(x, y)"
    assert r.math("max", "f32", ["a", "b"]) == "fmaxf(a, b)"
    assert r.math("min", "f64", ["a", "b"]) == "fmin(a, b)"
    assert r.math("abs", "f32", ["a"]) == "fabsf(a)"
    assert r.math("abs", "i32", ["a"]) == "abs(a)"
    assert r.math("max", "i32", ["a", "b"]) == "max(a, b)"
    assert r.math("relu", "i32", ["a"]) == "max(a, 0)"
    assert r.math("sigmoid", "f32", ["x"]) == "(1.0f / (1.0f + expf(-x)))"
    assert r.math("sigmoid", "f64", ["x"]) == "(1.0 / (1.0 + exp(-x)))"
    for fn in ("log", "sqrt", "sin", "cos", "tanh", "floor", "ceil"):
        assert r.math(fn, "f32", ["x"]) == f"{fn}f(x)"


def test_identities_and_literals_need_no_headers():
    r = CUDARenderer()
    assert r.identity("max", "f32") == "(-__int_as_float(0x7f800000))"
    assert r.identity("min", "f32") == "__int_as_float(0x7f800000)"
    assert r.identity("max", "f64") == "(-__longlong_as_double(0x7ff0000000000000LL))"
    assert r.identity("max", "i32") == "(-2147483647 - 1)"
    assert r.identity("min", "i32") == "2147483647"
    assert r.identity("sum", "f32") == "0.0f" and r.identity("prod", "i32") == "1"
    assert r.literal(float("inf"), "f32") == "__int_as_float(0x7f800000)"
    assert r.literal(float("-inf"), "f64") == "(-__longlong_as_double(0x7ff0000000000000LL))"
    assert r.literal(2.5, "f32") == "2.5f" and r.literal(2, "f64") == "2.0"
    assert r.literal(-2 ** 31, "i32") == "(-2147483647 - 1)"


def test_f16_storage_and_helpers_only_when_used():
    k = ir.load("kernel h(X: f16[N]) -> (Y: f16[N]) { Y[i] = X[i] * 2.0 }")[0]
    src = CUDARenderer().generic(k).source
    assert "const unsigned short* __restrict__ X" in src
    assert "Y[_ugid] = _uf2h((_uh2f(X[i]) * 2.0f));" in src
    assert src.count("_uh2f(const unsigned short h)") == 1
    assert "#include" not in src


def test_reserved_names_are_mangled():
    k = ir.load("kernel halves(int: f32[N], float: f32[N]) -> (double: f32[N]) {\n"
                "    exp[i] = int[i] + float[i]\n    double[i] = exp[i] * 2.0\n}")[0]
    src = CUDARenderer().generic(k).source
    assert "const float* __restrict__ int_" in src and "float* __restrict__ exp_" in src


# ------------------------------------------------------------------ launch annotations and signatures
def test_launch_annotations_parse_as_cuda():
    k = load(ROOT / "examples" / "softmax.uir", "softmax")
    src = CUDARenderer().generic(k).source
    stages = parse_launch(src)
    assert [s.kernel_name for s in stages] == ["softmax__m", "softmax__e", "softmax__s", "softmax"]
    assert all(s.grid_style for s in stages)
    geo = stages[1].geometry({"R": 7, "C": 100})
    assert geo.local_size == (256,) and geo.global_size == (768,)  # cdiv(700, 256) blocks of 256
    assert stages[0].geometry({"R": 7, "C": 100}).global_size == (256,)


def test_kernel_signatures():
    src = """
    // @launch grid=(1) block=(32)
    extern "C" __global__ __launch_bounds__(32) void a(const float* __restrict__ X, float* Y, const int N) {}
    /* extern "C" __global__ void commented(int x) {} */
    extern "C" __global__ void b(void) {}
    extern "C" __global__ void __launch_bounds__(64, 2) c(const unsigned short* H, const float s, int N) {}
    """
    sigs = kernel_signatures(src)
    assert set(sigs) == {"a", "b", "c"}
    assert sigs["a"] == ["const float* __restrict__ X", "float* Y", "const int N"]
    assert sigs["b"] == [] and len(sigs["c"]) == 3
    from uhop_cc.targets.cuda.runtime import param_type
    assert param_type("const float* __restrict__ X") == ("float", True)
    assert param_type("const unsigned short* H") == ("unsigned short", True)
    assert param_type("const int N") == ("int", False)


# ------------------------------------------------------------------ templates
def test_template_matching_on_examples():
    want = {"matmul": "sgemm", "softmax": "rowreduce", "layernorm": "rowreduce", "cosine": "rowreduce",
            "relu": "elementwise", "gelu": "elementwise", "axpy": "elementwise",
            "jacobi2d": "stencil", "heat3d": "stencil", "blur_same": "stencil", "conv2d": "conv2d"}
    for path in EXAMPLES:
        for k in ir.load_file(path):
            b = ir.bind_shapes(k, example_sizes(k))
            found = select_template(b)
            got = found[0].name if found else None
            assert got == want.get(k.name), (k.name, got)
            if not found:
                assert all(t.why_not(b) for t in TEMPLATES)


def test_template_refusals():
    sg = get_template("sgemm")
    for text in ("kernel t(A: f32[M, K], B: f32[N, K]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[j, k] }",
                 "kernel t(A: f64[M, K], B: f64[K, N]) -> (C: f64[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }",
                 "kernel t(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = max(k) A[i, k] * B[k, j] }"):
        k = ir.load(text)[0]
        assert sg.match(ir.bind_shapes(k, {s: 8 for s in k.sizes})) is None
    ew = get_template("elementwise")
    k = ir.load("kernel t(X: f32[N, M], b: f32[M]) -> (Y: f32[N, M]) { Y[i, j] = X[i, j] + b[j] }")[0]
    assert "own indices" in ew.why_not(ir.bind_shapes(k, {"N": 4, "M": 4}))


def test_sgemm_epilogue_matches():
    k = ir.load("kernel t(A: f32[M, K], B: f32[K, N], b: f32[N]) -> (C: f32[M, N]) "
                "{ C[i, j] = relu(b[j] + sum(k) A[i, k] * B[k, j]) }")[0]
    bnd = ir.bind_shapes(k, {"M": 9, "N": 10, "K": 11})
    t, m = select_template(bnd)
    assert t.name == "sgemm" and m.info["epilogue"]
    src = t.render(m).source
    assert "fmaxf(" in src and "_uacc[_um][_uh * 4 + _uq]" in src


# ------------------------------------------------------------------ NVRTC
def _compile(src: str, arch=None):
    from uhop_cc.targets.cuda.runtime import nvrtc_compile
    b = nvrtc_compile(src, arch)
    assert b.ok, b.log + "\n" + src
    assert b.image and b.kind == ("ptx" if arch is None else "cubin")
    return b


@requires_nvrtc
@pytest.mark.parametrize("path,name", list(all_example_kernels()))
def test_examples_compile_with_nvrtc(path, name):
    k = load(path, name)
    g = CUDARenderer().generic(k)
    stages = parse_launch(g.source)
    sigs = kernel_signatures(g.source)
    assert [s.kernel_name for s in stages] == list(sigs)
    _compile(g.source)
    b = ir.bind_shapes(k, example_sizes(k))
    for t in TEMPLATES:
        m = t.match(b)
        if m is None:
            continue
        for params in t.space(m)[:3]:
            tk = t.render(m, params)
            assert tk.target == "cuda" and tk.file_name == "kernel.cu" and tk.strategy == t.name
            assert parse_launch(tk.source)[-1].kernel_name == tk.entry
            _compile(tk.source)


@requires_nvrtc
def test_cubin_and_errors():
    from uhop_cc.targets.cuda.runtime import nvrtc_compile
    k = load(ROOT / "examples" / "matmul.uir", "matmul")
    _compile(CUDARenderer().generic(k).source, "sm_90")
    bad = nvrtc_compile('extern "C" __global__ void f(float* x) { x[0] = undefined_thing; }')
    assert not bad.ok and "undefined_thing" in bad.log and bad.image is None


@requires_nvrtc
def test_mixed_dtypes_compile():
    text = """
kernel mixed(A: f64[N], H: f16[N], I: i32[N], s: f16) -> (X: f64[N], Y: f16[N], Z: i32[N], W: f32[N], V: f64[], U: i32[]) {
    X[i] = A[i] * 2.5 + f64(I[i]) + A[i] % 2.0 + pow(A[i], 2.0) + sigmoid(A[i]) + rsqrt(abs(A[i]) + 1.0)
    Y[i] = H[i] * 0.5 + 1 + s + H[i] % 1.5 + max(H[i], 0.0) + exp(H[i]) + relu(H[i])
    Z[i] = I[i] / 3 + I[i] % 3 + i + max(I[i], 2) + abs(I[i]) + relu(I[i])
    W[i] = f32(H[i]) + f32(select(I[i] > 0 and I[i] < 5 or not (I[i] == 2), 1, 0)) + tanh(f32(A[i]))
    V = max(i) A[i] + min(j) A[j]
    U = max(i) I[i] + min(j) I[j] + prod(k) I[k]
}
"""
    _compile(CUDARenderer().generic(ir.load(text)[0]).source)


@requires_nvrtc
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_programs_compile_with_nvrtc(prog):
    text, sizes = prog
    k = ir.load(text, "rand.uir")[0]
    g = CUDARenderer().generic(k)
    parse_launch(g.source)
    _compile(g.source)
    b = ir.bind_shapes(k, sizes)
    found = select_template(b)
    if found:
        t, m = found
        _compile(t.render(m).source)


# ------------------------------------------------------------------ f16 conversions, checked on the host CPU
_SHIM = r"""
#include <cstdio>
#include <cstring>
#include <cstdint>
#define __device__
#define __forceinline__ inline
static inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
@HELPERS@
int main() {
    for (unsigned int h = 0; h < 65536u; ++h) {
        float f = _uh2f((unsigned short)h);
        std::fwrite(&f, 4, 1, stdout);
    }
    unsigned int u;
    while (std::fread(&u, 4, 1, stdin) == 1) {
        unsigned short h = _uf2h(__uint_as_float(u));
        std::fwrite(&h, 2, 1, stdout);
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found")
def test_f16_helpers_match_numpy(tmp_path):
    src = tmp_path / "f16.cpp"
    src.write_text(_SHIM.replace("@HELPERS@", F16_HELPERS))
    exe = tmp_path / "f16"
    subprocess.run(["g++", "-O1", "-std=c++17", str(src), "-o", str(exe)], check=True, capture_output=True)
    rng = np.random.default_rng(0)
    floats = np.concatenate([
        np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32),  # exact halves
        rng.standard_normal(20000).astype(np.float32) * np.float32(100),
        rng.standard_normal(20000).astype(np.float32) * np.float32(1e-5),  # subnormal halves
        (rng.random(20000) * 70000).astype(np.float32),  # around the overflow threshold
        np.array([65504, 65519.99, 65520, 2 ** -25, 2 ** -25 * 1.0001, 2 ** -24 * 1.5, 2 ** -24 * 2.5, 1e-30,
                  np.inf, -np.inf], np.float32),
    ])
    out = subprocess.run([str(exe)], input=floats.view(np.uint32).tobytes(), capture_output=True, check=True).stdout
    h2f = np.frombuffer(out[:65536 * 4], np.float32)
    want = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
    same = (h2f.view(np.uint32) == want.view(np.uint32)) | (np.isnan(h2f) & np.isnan(want))
    assert same.all()
    # NaN payloads survive: the runtime's f16 poison (a signalling NaN) reads back with its bits
    assert h2f.view(np.uint32)[0x7C00 | 0x1AD] == 0x7F800000 | (0x1AD << 13)
    f2h = np.frombuffer(out[65536 * 4:], np.uint16)
    with np.errstate(over="ignore"):
        want_h = floats.astype(np.float16).view(np.uint16)
    finite = ~np.isnan(floats)
    assert np.array_equal(f2h[finite], want_h[finite])
    assert np.array_equal(f2h[:65536][~finite[:65536]], np.arange(65536, dtype=np.uint16)[~finite[:65536]])


# ------------------------------------------------------------------ rowreduce schedules
RMS = ("kernel rms(X: f32[R, C], G: f32[C]) -> (Y: f32[R, C], S: f32[R]) {\n"
       "    ss[r] = sum(c) X[r, c] * X[r, c] / C\n    S[r] = rsqrt(ss[r] + 1e-6)\n"
       "    Y[r, c] = X[r, c] * S[r] * G[c]\n}")
MIXED_ROWS = ("kernel mx(X: f16[R, C], I: i32[R, C], w: f32[C], h: f16[C], b: f32[R], s: f32) "
              "-> (Y: f16[R, C], Z: i32[R]) {\n"
              "    m[r] = max(c) f32(X[r, c]) * w[c] + f32(h[c])\n    Z[r] = sum(c) I[r, c] * c\n"
              "    Y[r, c] = f16(f32(X[r, c]) - m[r] + b[r] * s + f32(c))\n}")


def test_rowreduce_keeps_long_rows_in_registers():
    t = get_template("rowreduce")
    b = ir.bind_shapes(load(ROOT / "examples" / "layernorm.uir", "layernorm"), {"R": 8192, "C": 8192})
    m = t.match(b)
    p = t.space(m)[0]
    assert p["REGS"] > 0 and 4 * p["THREADS"] * p["REGS"] >= 8192 and p["CACHE"] == 0
    src = t.render(m, p).source
    assert f"if (_uC <= {4 * p['THREADS'] * p['REGS']})" in src  # the loop path still serves longer rows
    assert "float4 _ux_X[" in src and "reinterpret_cast<const float4*>(X + _urow + _ucb)" in src
    assert "reinterpret_cast<const float4*>(G + _ucb)" in src and "reinterpret_cast<float4*>(Y + _urow + _ucb)" in src
    assert "smem=" not in src and "_ush" not in src
    reg_path = src.split("} else {\n        float _ured1")[0]
    assert reg_path.count("__syncthreads()") == 2  # one barrier per block reduction
    assert "X[_urow + _uc]" not in reg_path


def test_rowreduce_short_rows_share_blocks():
    t = get_template("rowreduce")
    b = ir.bind_shapes(load(ROOT / "examples" / "softmax.uir", "softmax"), {"R": 37, "C": 100})
    m = t.match(b)
    p = t.space(m)[0]
    assert p["ROWS"] > 1 and p["THREADS"] * p["ROWS"] <= 256
    src = t.render(m, p).source
    geo = parse_launch(src)[-1].geometry({"R": 37, "C": 100})
    assert geo.local_size == (p["THREADS"], p["ROWS"])
    assert geo.global_size == (-(-37 // p["ROWS"]) * p["THREADS"], p["ROWS"])
    assert "_uact" in src  # rows past R compute on a clamped row and store nothing


def test_rowreduce_space_and_params():
    t = get_template("rowreduce")
    b = ir.bind_shapes(load(ROOT / "examples" / "cosine.uir", "cosine"), {"N": 4, "D": 1 << 20})
    m = t.match(b)
    assert all(p["REGS"] == 0 for p in t.space(m))  # rows too long for registers: loops only
    b = ir.bind_shapes(load(ROOT / "examples" / "layernorm.uir", "layernorm"), {"R": 4, "C": 64})
    m = t.match(b)
    for bad in (dict(THREADS=48), dict(THREADS=512, ROWS=4), dict(THREADS=64, REGS=17)):
        with pytest.raises(ValueError):
            t.render(m, bad)
    old = t.render(m, dict(THREADS=256, CACHE=1)).params  # parameters of the former space still render
    assert old == {"THREADS": 256, "ROWS": 1, "REGS": 0, "CACHE": 1}


@requires_nvrtc
@pytest.mark.parametrize("C", [1, 5, 33, 1000, 2049, 8192, 40000])
def test_rowreduce_space_compiles(C):
    t = get_template("rowreduce")
    kernels = [(load(ROOT / "examples" / "softmax.uir", "softmax"), "R", "C"),
               (load(ROOT / "examples" / "layernorm.uir", "layernorm"), "R", "C"),
               (load(ROOT / "examples" / "cosine.uir", "cosine"), "N", "D"),
               (ir.load(RMS)[0], "R", "C"), (ir.load(MIXED_ROWS)[0], "R", "C")]
    for k, rn, cn in kernels:
        m = t.match(ir.bind_shapes(k, {rn: 7, cn: C}))
        assert m is not None
        sp = t.space(m)
        for params in sp + [dict(sp[0], HINT=1), dict(sp[0], MINB=2)]:
            src = t.render(m, params).source
            assert parse_launch(src)[-1].kernel_name == k.name
            _compile(src)


# ------------------------------------------------------------------ GEMM tiles (sgemm, conv2d)
def test_gemm_tile_checks():
    from uhop_cc.targets.cuda.templates.gemm import GemmTile
    GemmTile().check()
    assert GemmTile().threads == 256 and GemmTile(64, 64, 16, 4, 4).threads == 256
    for bad, why in ((GemmTile(128, 128, 8, 6, 8), "multiples of 4"), (GemmTile(256, 128, 8, 8, 8), "whole loads"),
                     (GemmTile(256, 256, 32, 8, 8), "shared memory"), (GemmTile(128, 128, 6, 8, 8), "BK")):
        with pytest.raises(ValueError, match=why):
            bad.check()


def test_sgemm_space_fills_the_device():
    k = load(ROOT / "examples" / "matmul.uir", "matmul")
    sg = get_template("sgemm")
    big = sg.match(ir.bind_shapes(k, dict(M=4096, N=4096, K=4096)))
    assert sg.space(big, {"sm_count": 132})[0] == dict(BM=128, BN=128, BK=8, TM=8, TN=8)
    small = sg.match(ir.bind_shapes(k, dict(M=512, N=512, K=4096)))  # 16 blocks of 128x128 for 132 SMs
    first = sg.space(small, {"sm_count": 132})[0]
    assert first["BM"] * first["BN"] < 128 * 128
    with pytest.raises(ValueError, match="invalid GEMM tile"):
        sg.render(big, dict(BM=256, BN=128, BK=8, TM=8, TN=8))
    # a schedule cached before THREADS was derived from the tile still renders
    assert sg.render(big, dict(BM=128, BN=128, BK=8, TM=8, TN=8, THREADS=256)).params["BM"] == 128


def test_conv2d_matches_and_refuses():
    conv = get_template("conv2d")
    k = load(ROOT / "examples" / "conv2d.uir", "conv2d")
    m = conv.match(ir.bind_shapes(k, dict(N=8, C=3, H=66, W=66, K=64, R=3, S=3)))
    assert m is not None and conv.space(m)[0]["BM"] == 64  # no half-empty blocks for 64 channels
    strided = ir.load("kernel t(X: f32[N, C, H, W], F: f32[C, K, R, S]) -> (Y: f32[N, K, H - R + 1, W - S + 1]) "
                      "{ Y[n, k, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * F[c, k, r, s] }")[0]
    assert "filter" in conv.why_not(ir.bind_shapes(strided, {"N": 1, "C": 2, "H": 5, "W": 5, "K": 2, "R": 3,
                                                             "S": 3}))


@requires_nvrtc
@pytest.mark.parametrize("which", ["sgemm", "conv2d", "conv2d-epilogue"])
def test_gemm_spaces_compile(which):
    if which == "sgemm":
        b = ir.bind_shapes(load(ROOT / "examples" / "matmul.uir", "matmul"), dict(M=300, N=260, K=100))
    elif which == "conv2d":
        b = ir.bind_shapes(load(ROOT / "examples" / "conv2d.uir", "conv2d"), dict(N=2, C=5, H=9, W=11, K=70, R=3, S=3))
    else:
        k = ir.load("kernel t(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (Y: f32[N, K, H - 2, W - 2]) "
                    "{ Y[n, k, y, x] = relu(b[k] + sum(c in 1..C, r in 0..3, s in 0..3) "
                    "X[n, c, y + r, x + s] * F[k, c, r, s]) }")[0]
        b = ir.bind_shapes(k, dict(N=2, C=5, H=9, W=11, K=70, R=3, S=3))
    t, m = select_template(b)
    assert t.name == which.split("-")[0]
    space = t.space(m, {"sm_count": 132})
    assert len(space) >= 5
    if t.name == "conv2d":  # fewer threads than tile columns: per-load columns instead of one shared base
        space.append(dict(BM=32, BN=256, BK=16, TM=8, TN=8))
    for params in space:
        src = t.render(m, params).source
        assert parse_launch(src)[-1].kernel_name == m.checked.name
        _compile(src, "sm_90")
