"""The concrete interval analysis of kernel memory accesses (uhop_cc.analyze.bounds).

Our own generated kernels (generic lowering and every template candidate, OpenCL and CUDA, at
odd shapes) must produce no error; hostile kernels must; guarded forms must be proved; and
no input makes `check_memory` raise or run long.
"""
from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhop_cc import ir
from uhop_cc.analyze.bounds import ArgValue, Launch, MemReport, check_memory, launches_for
from uhop_cc.targets import renderer
from uhop_cc.targets.cuda import templates as cuda_templates
from uhop_cc.targets.opencl import templates

try:  # random valid programs (tests/strategies.py)
    from strategies import programs
except ImportError:  # pragma: no cover
    programs = None

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HARDWARE = (None, {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_size": 1 << 20},
            {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 48 * 1024, "compute_units": 80})


# ------------------------------------------------------------------ helpers
def sources(bound, hardware=HARDWARE):
    """(source, target, label) of the generic lowering and of every candidate of every matching template."""
    ck = bound.checked
    out = [(renderer(t).generic(ck).source, t, f"generic {t}") for t in ("opencl", "cuda")]
    for mod, target in ((templates, "opencl"), (cuda_templates, "cuda")):
        for tpl in mod.TEMPLATES:
            m = tpl.match(bound)
            if m is None:
                continue
            params = []
            for hw in hardware:
                params += [p for p in tpl.space(m, hw) if p not in params]
            out += [(tpl.render(m, p).source, target, f"{target} {tpl.name} {p}") for p in params]
    return out


def analyse(source, target, bound) -> MemReport:
    return check_memory(source, target, launches_for(source, target, bound))


def opencl(body: str, n: int = 300, glob=(320,), local=(64,), extra: str = "") -> MemReport:
    src = (f"{extra}// @launch global=(roundup(N, 64)) local=(64)\n"
           f"__kernel void k(__global const float* X, __global float* Y, const int N)\n{{\n{body}\n}}\n")
    args = (ArgValue("buffer", n, name="X"), ArgValue("buffer", n, name="Y"), ArgValue("int", value=n, name="N"))
    return check_memory(src, "opencl", [Launch("k", args, glob, local)])


def cuda(body: str, n: int = 300, grid=(5,), block=(64,)) -> MemReport:
    src = (f"// @launch grid=(cdiv(n, 64)) block=(64)\n"
           f"extern \"C\" __global__ void k(const float* __restrict__ X, float* __restrict__ out, const int n)\n"
           f"{{\n{body}\n}}\n")
    args = (ArgValue("buffer", n, name="X"), ArgValue("buffer", n, name="out"), ArgValue("int", value=n, name="n"))
    return check_memory(src, "cuda", [Launch("k", args, tuple(g * b for g, b in zip(grid, block)), block)])


def assert_error(report: MemReport, code: str, buffer: str, element: str) -> None:
    errs = report.errors()
    assert errs, report.findings
    assert any(f.code == code and f.buffer == buffer and element in f.message for f in errs), errs


# ------------------------------------------------------------------ our own kernels
CASES = [  # (file, kernel, sizes for v): small odd shapes
    ("matmul.uir", None, lambda v: {"M": v, "K": max(1, v - 16), "N": v + 2}),
    ("mlp.uir", "dense_relu", lambda v: {"Bt": 2, "I": v, "O": max(1, v - 3)}),
    ("mlp.uir", "gelu", lambda v: {"N": v}),
    ("bmm_nt.uir", None, lambda v: {"Bt": 2, "K": v, "M": max(1, v - 4), "N": v + 1}),
    ("relu.uir", None, lambda v: {"N": v}),
    ("axpy.uir", None, lambda v: {"N": v}),
    ("softmax.uir", None, lambda v: {"R": max(1, v // 4), "C": v}),
    ("layernorm.uir", None, lambda v: {"R": 3, "C": v}),
    ("cosine.uir", None, lambda v: {"N": 2, "D": v}),
    ("conv2d.uir", None, lambda v: {"N": 1, "C": 2, "H": min(v, 9), "W": v, "K": 3, "R": min(v, 3), "S": min(v, 2)}),
    ("stencil2d.uir", None, lambda v: {"H": v + 2, "W": v + 2}),
    ("stencil3d.uir", None, lambda v: {"D": 3, "H": min(v, 9) + 2, "W": v + 2}),
    ("blur_same.uir", None, lambda v: {"H": min(v, 9), "W": v}),
    ("attention.uir", None, lambda v: {"L": min(v, 9), "S": v, "D": 3}),
    ("stats.uir", None, lambda v: {"N": v}),
    ("maxpool2.uir", None, lambda v: {"N": 1, "C": 2, "H": 2 * max(1, v // 8), "W": 2 * max(1, v // 2)}),
]


@pytest.mark.parametrize("path,name,sizes", CASES, ids=lambda x: x if isinstance(x, str) else "")
def test_own_kernels_have_no_error(path, name, sizes):
    ck = ir.select_kernel(ir.load_file(EXAMPLES / path), name)
    for v in (1, 17, 33, 65, 129):
        bound = ir.bind_shapes(ck, sizes(v))
        for src, target, label in sources(bound, HARDWARE if v in (1, 33) else HARDWARE[:1]):
            report = analyse(src, target, bound)
            assert not report.errors(), f"{label} at {bound.sizes}: {report.errors()}"


@pytest.mark.parametrize("path,name,sizes", [c for c in CASES if c[0] != "conv2d.uir"],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_own_kernels_are_proved(path, name, sizes):
    """Everything but conv2d is proved outright (no warning either)."""
    ck = ir.select_kernel(ir.load_file(EXAMPLES / path), name)
    bound = ir.bind_shapes(ck, sizes(17))
    for src, target, label in sources(bound, HARDWARE[:1]):
        report = analyse(src, target, bound)
        assert not report.findings, f"{label}: {report.findings}"
        assert all(lo is not None and hi is not None and lo >= 0 for lo, hi in report.reach.values())


def test_conv2d_warnings_are_only_warnings():
    ck = ir.select_kernel(ir.load_file(EXAMPLES / "conv2d.uir"), None)
    bound = ir.bind_shapes(ck, {"N": 2, "C": 3, "H": 9, "W": 37, "K": 10, "R": 3, "S": 2})
    warned = set()
    for src, target, label in sources(bound):
        report = analyse(src, target, bound)
        assert not report.errors(), label
        warned.update((target, f.buffer) for f in report.findings)
    # offsets read back from local memory (OpenCL ALGO=1) and magic-number division (CUDA) are not followed
    assert warned <= {("opencl", "X"), ("cuda", "X")}


DTYPE_PROGRAMS = [
    """kernel mixed(A: f64[N], H: f16[N], I: i32[N]) -> (X: f64[N], Y: f16[N], Z: i32[N], W: f32[N]) {
        X[i] = A[i] * 2.5 + f64(I[i])
        Y[i] = H[i] * 0.5 + 1
        Z[i] = I[i] / 3 + I[i] % 3 + i
        W[i] = f32(H[i]) + f32(select(I[i] > 0, 1, 0)) }""",
    "kernel hf(X: f16[N], Y: f32[N]) -> (Z: f16[N]) { Z[i] = X[i] * f16(Y[i]) }",
    "kernel rints(X: i32[R, C]) -> (Y: i32[R]) { Y[r] = sum(c) X[r, c] * 2 }",
    "kernel sc(X: f32[N], k: i32, a: f32) -> (Y: f32[N]) { Y[i] = X[i] * f32(k) + a }",
    """kernel bc(X: f32[A, B, C], b: f32[C], s: f32[A], z: f32[]) -> (Y: f32[A, B, C]) {
        t[a] = s[a] * 2.0
        Y[a, q, c] = max(X[a, q, c] + b[c], 0.0) * t[a] + z[] }""",
]


@pytest.mark.parametrize("text", DTYPE_PROGRAMS, ids=lambda t: t.split("(")[0].split()[1])
def test_dtypes_and_temporaries_are_proved(text):
    ck = ir.load(text)[0]
    for v in (1, 37):
        bound = ir.bind_shapes(ck, {s: v for s in ck.sizes})
        for src, target, label in sources(bound, HARDWARE[:1]):
            report = analyse(src, target, bound)
            assert not report.findings, f"{label}: {report.findings}"


@pytest.mark.skipif(programs is None, reason="tests/strategies.py not importable")
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(prog=programs() if programs is not None else st.nothing())
def test_random_programs_have_no_error(prog):
    text, sizes = prog
    ck = ir.load(text)[0]
    bound = ir.bind_shapes(ck, sizes)
    for src, target, label in sources(bound, HARDWARE[:1]):
        assert not analyse(src, target, bound).errors(), f"{label}\n{text}\n{sizes}"


# ------------------------------------------------------------------ hostile kernels: errors
def test_constant_negative_index():
    r = opencl("Y[-100000] = 1.0f;")
    assert_error(r, "mem.oob-write", "Y", "element -100000")
    assert "Y has 300 elements" in r.errors()[0].message and "N=300" in r.errors()[0].message
    assert r.reach["Y"] == (-100000, -100000)


def test_atomic_far_past_the_end():
    assert_error(opencl("atomic_inc((volatile __global int*)&Y[N + 100000]);"), "mem.oob-write", "Y", "100300")
    assert_error(cuda("atomicAdd(&out[n + 100000], 1.0f);"), "mem.oob-write", "out", "100300")
    assert_error(cuda("atomicAdd(out + n + 5, 1.0f);"), "mem.oob-write", "out", "305")


def test_unguarded_shifted_index():
    r = opencl("int i = get_global_id(0);\nY[i + N] = 1.0f;")
    assert_error(r, "mem.oob-write", "Y", "619")
    assert r.errors()[0].line == 5
    assert r.reach["Y"] == (300, 619)


def test_global_rounded_up_without_guard():
    assert_error(opencl("Y[get_global_id(0)] = X[get_global_id(0)];"), "mem.oob-write", "Y", "319")
    assert_error(opencl("Y[get_global_id(0)] = X[get_global_id(0)];"), "mem.oob-read", "X", "319")
    assert_error(cuda("out[blockIdx.x * blockDim.x + threadIdx.x] = X[0];"), "mem.oob-write", "out", "319")


def test_off_by_one_loop():
    assert_error(opencl("for (int k = 0; k <= N; ++k) Y[k] = 0;"), "mem.oob-write", "Y", "element 300")
    assert_error(cuda("for (int k = n - 1; k >= -1; k--) out[k] = 0;"), "mem.oob-write", "out", "element -1")


def test_local_and_shared_overflow():
    assert_error(opencl("__local float t[64];\nt[get_local_id(0) + 1] = X[0];"), "mem.oob-write", "t", "reach 64")
    assert_error(opencl("__local float t[16][17];\nt[get_local_id(0) % 16][get_local_id(0) % 18] = 0;"),
               "mem.oob-write", "t", "reach 17")
    assert_error(cuda("__shared__ float s[64];\ns[threadIdx.x + 1] = X[0];\n__syncthreads();"), "mem.oob-write", "s",
               "reach 64")


def test_private_array_overflow():
    assert_error(opencl("float acc[8] = {0};\nfor (int j = 0; j <= 8; ++j) acc[j] += 1.0f;\nY[0] = acc[0];"),
               "mem.oob-write", "acc", "reach 8")
    assert_error(cuda("float p[4];\nint i = threadIdx.x;\np[i % 5] = 1.0f;\nout[0] = p[0];"), "mem.oob-write", "p",
               "reach 4")


def test_vector_store_past_the_end():
    r = opencl("int i = get_global_id(0);\nif (i < N / 2) vstore4((float4)(0.0f), i, Y);")
    assert_error(r, "mem.oob-write", "Y", "element 599")
    assert_error(opencl("int i = get_global_id(0);\nif (i < N) ((__global float4*)Y)[i] = (float4)(0.0f);"),
               "mem.oob-write", "Y", "element 1199")
    assert_error(cuda("int i = threadIdx.x;\nreinterpret_cast<float4*>(out)[i + 60] = make_float4(0, 0, 0, 0);"),
               "mem.oob-write", "out", "element 495")


def test_reads_are_errors_too():
    assert_error(opencl("int i = get_global_id(0);\nif (i < N) Y[i] = X[i + 1];"), "mem.oob-read", "X", "300")
    assert_error(opencl("int i = get_global_id(0);\nif (i < N) Y[i] = vload4(i, X).x;"), "mem.oob-read", "X", "1199")


def test_helper_functions_are_followed():
    helper = "void put(__global float* p, int j) { p[j] = 1.0f; }\n"
    r = opencl("int i = get_global_id(0);\nif (i < N) put(Y, i + 1);", extra=helper)
    assert_error(r, "mem.oob-write", "Y", "300")
    assert "put()" in r.errors()[0].message
    assert not opencl("int i = get_global_id(0);\nif (i < N) put(Y, i);", extra=helper).findings


# ------------------------------------------------------------------ guarded forms: proved
@pytest.mark.parametrize("body", [
    "int i = get_global_id(0);\nif (i < N) Y[i] = X[i];",
    "int i = get_global_id(0);\nif (i >= N) return;\nY[i] = X[i];",
    "const int i = get_global_id(0);\nif (!(i < N)) return;\nY[i] = 2.0f * X[i];",
    "int i = get_global_id(0);\nif (i + 4 <= N) vstore4(vload4(0, X + i), 0, Y + i);",
    "int i = get_global_id(0);\nif (4 * i + 3 < N) vstore4(vload4(i, X), i, Y);",
    "int i = get_global_id(0);\nbool ok = i < N;\nY[ok ? i : 0] = 1.0f;",
    "for (int i = get_global_id(0); i < N; i += get_global_size(0)) Y[i] = X[i];",
    "int i = get_global_id(0);\nwhile (i < N) { Y[i] = 0; i += 320; }",
    "__local float t[64];\nint l = get_local_id(0);\nt[l] = X[min((int)get_global_id(0), N - 1)];\n"
    "barrier(CLK_LOCAL_MEM_FENCE);\nfor (int s = 32; s > 0; s >>= 1) { if (l < s) t[l] += t[l + s]; "
    "barrier(CLK_LOCAL_MEM_FENCE); }\nif (l == 0) Y[get_group_id(0)] = t[0];",
    "int i = get_global_id(0);\nif (i < N) { for (int k = 0; k < 8; ++k) { if (i + k >= N) break; Y[i + k] = 0; } }",
    "int i = get_global_id(0);\nif ((unsigned)(i - 1) < (unsigned)(N - 1)) Y[i] = X[i - 1];",
])
def test_guarded_1d_forms_are_proved(body):
    r = opencl(body)
    assert not r.findings, r.findings


def test_guarded_2d_matmul_is_proved():
    src = """// @launch global=(roundup(N, 16), roundup(M, 16)) local=(16, 16)
__kernel void mm(__global const float* A, __global const float* B, __global float* C,
                 const int M, const int K, const int N) {
    const int r = get_global_id(1), c = get_global_id(0);
    if (r < M && c < N) {
        float acc = 0.0f;
        for (int k = 0; k < K; ++k)
            acc += A[r * K + k] * B[k * N + c];
        C[r * N + c] = acc;
    }
}"""
    M, K, N = 33, 17, 65
    args = (ArgValue("buffer", M * K, name="A"), ArgValue("buffer", K * N, name="B"),
            ArgValue("buffer", M * N, name="C"), ArgValue("int", value=M, name="M"),
            ArgValue("int", value=K, name="K"), ArgValue("int", value=N, name="N"))
    r = check_memory(src, "opencl", [Launch("mm", args, (80, 48), (16, 16))])
    assert not r.findings, r.findings
    assert r.reach == {"A": (0, M * K - 1), "B": (0, K * N - 1), "C": (0, M * N - 1)}
    r = check_memory(src.replace("r < M && c < N", "r < M"), "opencl", [Launch("mm", args, (80, 48), (16, 16))])
    assert_error(r, "mem.oob-read", "B", "")
    assert {f.buffer for f in r.errors()} == {"B", "C"}


def test_cuda_guarded_forms_are_proved():
    assert not cuda("int i = blockIdx.x * blockDim.x + threadIdx.x;\nif (i < n) out[i] = X[i];").findings
    assert not cuda("int i = blockIdx.x * blockDim.x + threadIdx.x;\nif (i >= n) return;\n"
                    "atomicAdd(&out[i], X[i]);").findings
    assert not cuda("for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)\n"
                    "    out[i] = __ldg(X + i);").findings


# safe kernels the analysis cannot fully prove: warnings at most, never an error
TRICKY_SAFE = [
    "int i = get_global_id(0);\nY[(uchar)i] = 0;",
    "int i = get_global_id(0);\nshort s = i * 1000;\nif (s >= 0 && s < N) Y[s] = 0;",
    "int i = get_global_id(0);\nunsigned u = i - 1;\nif (u < N) Y[u] = 0;",
    "uint i = get_global_id(0) - 1;\nif (i < (uint)N) Y[i] = 0;",
    "int i = get_global_id(0);\nY[min(i - (int)get_local_id(0), N - 1)] = 0;",
    "int k = 0;\nfor (k = 0; k < 1000; k++) { if (X[k % N] > 0) break; }\nif (k < N) Y[k] = 0;",
    "int k = 0;\nwhile (k < N && X[k] != 0) k++;\nif (k < N) Y[k] = 1;",
    "int i = get_global_id(0);\nbool ok = i < N;\ni = 0;\nif (ok) Y[i] = 1;",
    "int i = get_global_id(0);\nint j = i;\ni = 1000;\nif (j < N) Y[j] = 1;",
    "int i = get_global_id(0);\nswitch (i % 3) { case 0: if (i < N) Y[i] = 0; break; default: Y[0] = 1; }",
    "int i = get_global_id(0);\nint p = i < N ? i : -1;\nif (p >= 0) Y[p] = 1;",
    "int i = get_global_id(0);\nif (i < N) { __global uchar* b = (__global uchar*)Y; b[4 * i + 3] = 0; }",
    "int i = get_global_id(0);\ndo { if (i < N) Y[i] = 0; i += 320; } while (i < N);",
    "int i = get_global_id(0);\nint idx = i;\nif (idx > N - 1) idx = N - 1;\nY[idx] = 0;",
    "int i = get_global_id(0);\nif (i < N) { int r = i / 10, c = i - r * 10; Y[r * 10 + c] = 0; }",
    "int i = get_global_id(0);\nif (i < N) { Y[i] = X[i]; if (X[i] > 0) return; }\nif (i < N) Y[i] = 2;",
    "int i = get_global_id(0);\nif (i < 100) { if (X[i] > 0) return; }\nif (i < N) Y[i] = 1;",
    "int i = get_global_id(0);\nfor (int k = 0; k < 4; ++k) { if (i + k * 80 >= N) continue; Y[i + k * 80] = 0; }",
    "int i = get_global_id(0);\nif (i >= N) i = N - 1;\nY[i] = 0;",
    "__local int idx[64];\nidx[get_local_id(0)] = get_local_id(0);\nbarrier(CLK_LOCAL_MEM_FENCE);\n"
    "int j = idx[63 - get_local_id(0)];\nif (j >= 0 && j < N) Y[j] = 0;",
    # paths that no work-item takes, though every interval on them is non-empty (found by differential fuzzing)
    "int l = get_local_id(0), g = get_group_id(0);\nif (l > g) { if (get_global_id(0) <= 0) Y[N + 5] = 0; }",
    "if (get_group_id(0) % 7 < get_group_id(0)) Y[N] = 0;",
    "int i = get_global_id(0);\nfor (int k = 1; k < i - 62; k++) Y[N - get_group_id(0)] = 0;",
    "int i = get_global_id(0);\nif (i < i) Y[-9] = 0;",
    "int i = get_global_id(0);\nif ((i >= i ? N : 0) == (get_local_id(0) & 1)) Y[N] = 0;",
]


@pytest.mark.parametrize("body", TRICKY_SAFE)
def test_safe_kernels_never_get_an_error(body):
    assert not opencl(body).errors()


def test_shadowed_variables_lose_exactness_after_a_guarded_return():
    body = "int i = get_global_id(0);\n{ int i = get_global_id(0) * 2; if (i >= 100) return; }\nY[i + 1000] = 0;"
    r = opencl(body, n=1100)  # only i < 50 gets past the block: i + 1000 < 1100 really holds
    assert not r.errors() and r.findings


def test_cpp_references_are_not_followed_blindly():
    r = cuda("int j = 0;\nint& r = j;\nr = 1000;\nout[j] = 0;")
    assert [f.code for f in r.findings] == ["mem.unproven-write"]


# ------------------------------------------------------------------ warnings, not errors
def test_data_dependent_guard_is_only_a_warning():
    r = opencl("int i = get_global_id(0);\nif (X[i % 300] > 0.0f) Y[i] = 1.0f;")
    assert not r.errors() and [f.code for f in r.findings] == ["mem.unproven-write"]


def test_data_dependent_index_is_unproven():
    r = opencl("int i = get_global_id(0);\nif (i < N) { int j = (int)X[i]; Y[j] = 1.0f; }")
    assert [f.code for f in r.findings] == ["mem.unproven-write"]
    assert r.reach["Y"] == (None, None)


def test_unknown_local_size_is_only_a_warning():
    r = opencl("__local float t[64];\nt[get_local_id(0)] = 0.0f;", local=None)
    assert not r.errors() and [f.code for f in r.findings] == ["mem.unproven-write"]


def test_products_of_ids_are_not_claimed():
    r = opencl("int i = get_global_id(0);\nif (i < N) Y[i * i % 400] = 0.0f;")
    assert not r.errors() and r.findings


def test_unknown_function_receiving_a_buffer():
    r = opencl("mystery(Y, 3);")
    assert [(f.code, f.buffer) for f in r.findings] == [("mem.unproven-write", "Y")]
    assert r.reach["Y"] == (None, None)


# ------------------------------------------------------------------ sources, ABI, report
def test_raw_source_with_macros_and_comments():
    src = """#define TILE 64
#define IDX(r, c) ((r) * N + (c))
#ifdef NO_SUCH_MACRO
#define TILE 1
#endif
/* a block comment
   over lines */
// @launch global=(roundup(N, TILE), M) local=(TILE, 1)
__kernel void k(__global float* Y, const int M, const int N) {
    int c = get_global_id(0), r = get_global_id(1);  // columns, rows
    if (c < N) Y[IDX(r, c)] = 1.0f;
    Y[IDX(r, c + TILE)] = 0.0f;
}
"""
    args = (ArgValue("buffer", 5 * 100, name="Y"), ArgValue("int", value=5, name="M"),
            ArgValue("int", value=100, name="N"))
    r = check_memory(src, "opencl", [Launch("k", args, (128, 5), (64, 1))])
    assert [(f.code, f.line) for f in r.errors()] == [("mem.oob-write", 12)]
    assert "591" in r.errors()[0].message  # (5 - 1) * 100 + 127 + 64


def test_preprocessor_conditionals_and_variadic_macros():
    src = r"""#define A 4
#define SQ(x) ((x) * (x))
#define CALL(f, ...) f(__VA_ARGS__)
#if A > 3 && defined(A)
#define SHIFT 0
#elif 1
#define SHIFT 7
#endif
#if 0
this is not C at all {{{{
#endif
#define ADD(a, b) \
    ((a) + \
     (b))
__kernel void k(__global float* Y, const int N) {
    int i = get_global_id(0);
    if (i < N) Y[ADD(i, SHIFT)] = SQ(A);
    CALL(atomic_add, (__global int*)Y + SQ(A) + N, 1);
}
"""
    args = (ArgValue("buffer", 300, name="Y"), ArgValue("int", value=300, name="N"))
    r = check_memory(src, "opencl", [Launch("k", args, (320,), (64,))])
    assert [(f.code, f.line) for f in r.findings] == [("mem.oob-write", 18)]
    assert "element 316" in r.findings[0].message


def test_launches_follow_the_abi():
    ck = ir.select_kernel(ir.load_file(EXAMPLES / "attention.uir"), None)
    bound = ir.bind_shapes(ck, {"L": 4, "S": 5, "D": 3})
    src = renderer("opencl").generic(ck).source
    launches = launches_for(src, "opencl", bound)
    assert [x.kernel for x in launches][-1] == "attention"
    first = launches[0]
    assert [a.name for a in first.args] == ["Q", "K", "V", "O", "s", "m", "p", "l", "L", "D", "S"]
    assert [a.kind for a in first.args[:8]] == ["buffer"] * 8 and first.args[4].elements == 20
    assert first.args[-3:] == (ArgValue("int", 0, 4, "L"), ArgValue("int", 0, 3, "D"), ArgValue("int", 0, 5, "S"))
    assert first.global_size == (64,) and first.local_size == (64,)
    ck = ir.load("kernel hf(X: f16[N], a: f32) -> (Z: f16[N]) { Z[i] = X[i] * f16(a) }")[0]
    bound = ir.bind_shapes(ck, {"N": 37})
    src = renderer("cuda").generic(ck).source
    (launch,) = launches_for(src, "cuda", bound)
    assert launch.args == (ArgValue("buffer", 37, name="X"), ArgValue("float", name="a"),
                           ArgValue("buffer", 37, name="Z"), ArgValue("int", value=37, name="N"))
    assert launch.global_size[0] % launch.local_size[0] == 0 and launch.global_size[0] >= 37


def test_report_json_and_errors():
    r = opencl("int i = get_global_id(0);\nY[i] = X[i % 300];\nif (X[i % 300] > 0) Y[i + 1] = 0;")
    j = json.loads(json.dumps(r.to_json()))
    assert j["errors"] == len(r.errors()) == 1
    assert {f["severity"] for f in j["findings"]} == {"error", "warning"}
    assert j["reach"] == {"X": [0, 299], "Y": [0, 320]}


def test_several_launches_and_missing_kernel():
    args = (ArgValue("buffer", 300, name="X"), ArgValue("buffer", 300, name="Y"), ArgValue("int", value=300, name="N"))
    src = "__kernel void k(__global const float* X, __global float* Y, const int N) { Y[get_global_id(0)] = 0; }"
    r = check_memory(src, "opencl", [Launch("k", args, (256,), (64,)), Launch("k", args, (320,), (64,)),
                                     Launch("nope", args, (64,), None), Launch("k", args, (0,), None)])
    assert [f.code for f in r.errors()] == ["mem.oob-write"] and "global=(320,)" in r.errors()[0].message
    assert any(f.kernel == "nope" and f.severity == "warning" for f in r.findings)
    assert r.reach["Y"] == (None, None)


# ------------------------------------------------------------------ robustness
def _real_sources():
    out = []
    for path, name, sizes in CASES[::3]:
        ck = ir.select_kernel(ir.load_file(EXAMPLES / path), name)
        bound = ir.bind_shapes(ck, sizes(17))
        out += [(s, t) for s, t, _ in sources(bound, HARDWARE[:1])[:4]]
    return out


def _launches(target):
    args = tuple(ArgValue("buffer", 100, name=f"B{i}") for i in range(4)) + \
        (ArgValue("float"),) + tuple(ArgValue("int", value=17, name=s) for s in "MNK")
    names = ("matmul", "conv2d", "softmax", "relu", "k", "axpy", "dense_relu", "heat3d")
    return [Launch(k, args, (64, 8), (16, 4) if target == "cuda" else None) for k in names]


def test_never_raises_on_damaged_sources():
    rng = random.Random(7)
    real = _real_sources()
    worst = 0.0
    for it in range(300):
        src, target = rng.choice(real)
        mode = it % 5
        if mode == 0:
            src = src[:rng.randrange(len(src))]
        elif mode == 1:
            chars = list(src)
            for _ in range(rng.randrange(1, 30)):
                chars[rng.randrange(len(chars))] = rng.choice("(){}[];+-*/<>=!&|?:,.#0123456789xiN \n\"'\\")
            src = "".join(chars)
        elif mode == 2:
            lines = src.split("\n")
            rng.shuffle(lines)
            src = "\n".join(lines)
        elif mode == 3:
            i, j = sorted(rng.randrange(len(src)) for _ in range(2))
            src = src[:i] + src[j:] + src[i:j]
        else:
            src = bytes(rng.randrange(256) for _ in range(rng.randrange(3000))).decode("latin-1")
        t = time.process_time()
        report = check_memory(src, target, _launches(target))
        worst = max(worst, time.process_time() - t)
        assert isinstance(report, MemReport)
    assert worst < 2.0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Y[]()i{};=+-*/%<>!&|?:,. 0123456789xN#\nforwhileifreturn")),
               max_size=400))
def test_never_raises_on_random_text(text):
    src = "__kernel void k(__global float* Y, const int N) {\n" + text + "\n}"
    report = check_memory(src, "opencl", [Launch("k", (ArgValue("buffer", 10, name="Y"), ArgValue("int", value=10)),
                                                 (16,), (4,))])
    assert all(f.severity in ("error", "warning") for f in report.findings)


@pytest.mark.parametrize("body", [
    "(" * 5000 + "1" + ")" * 5000 + ";",
    "int x = " + " + ".join(["1"] * 3000) + ";",
    "{" * 3000 + "}" * 3000,
    "if (N) " * 2000 + "Y[0] = 1;",
])
def test_deep_or_huge_inputs_do_not_crash(body):
    report = opencl(body)
    assert isinstance(report, MemReport)


def test_two_thousand_lines_are_fast():
    rng = random.Random(0)
    lines = ["// @launch global=(roundup(N, 64), 8) local=(64, 1)",
             "__kernel void big(__global const float* X, __global float* Y, const int N, const int M) {",
             "  const int i = get_global_id(0), j = get_global_id(1);",
             "  __local float t[64]; float acc = 0.0f; int idx = 0;",
             "  for (int o = 0; o < 3; ++o) {"]
    b = 0
    while len(lines) < 2000:
        b += 1
        lines += rng.choice([
            [f"  if (i < N) {{ for (int k{b} = 0; k{b} < M; ++k{b}) {{", f"    acc += X[(i * M + k{b}) % N];",
             f"    if (i + k{b} < N) Y[i + k{b}] = acc; }} }}"],
            [f"  t[get_local_id(0)] = X[min(i, N - 1)];", "  barrier(CLK_LOCAL_MEM_FENCE);",
             f"  {{ const int r = i / 8, c = i % 8; if (r * 8 + c < N) Y[r * 8 + c] = t[(c + {b}) % 64]; }}"],
            [f"  idx = (idx + {b}) & 63;", "  for (int q = 0; q < 4; q++) for (int w = 0; w < 4; w++)",
             "    acc += t[(q * 16 + w + idx) & 63];"],
            ["  { int s = i; while (s < N) { Y[s] += 1.0f; s += get_global_size(0); } }"]])
    lines += ["  }", "  if (i < N && j == 0) Y[i] = acc;", "}"]
    args = (ArgValue("buffer", 1000, name="X"), ArgValue("buffer", 1000, name="Y"),
            ArgValue("int", value=1000, name="N"), ArgValue("int", value=7, name="M"))
    t = time.process_time()  # CPU time: robust to a busy machine
    report = check_memory("\n".join(lines), "opencl", [Launch("big", args, (1024, 8), (64, 1))])
    elapsed = time.process_time() - t
    assert not report.findings, report.findings[:3]
    assert elapsed < 1.5, elapsed  # about 0.5 s


# ------------------------------------------------------------------ differential: verdicts against real runs
class _RandomKernel:
    """Random integer kernels whose accesses only record the indices they would touch."""

    def __init__(self, rng: random.Random):
        self.rng, self.vars, self.kinds, self.lines, self.names = rng, ["i", "j", "l", "g", "N", "M"], [], [], 0

    def expr(self, d=0):
        r, rng = self.rng, self.rng
        if d > 2 or r.random() < 0.35:
            return rng.choice(self.vars + [str(rng.randrange(-3, 40))])
        a, b = self.expr(d + 1), self.expr(d + 1)
        return rng.choice([f"({a} + {b})", f"({a} - {b})", f"({a} * {rng.randrange(-3, 5)})",
                           f"({a} / {rng.choice([1, 2, 3, -3])})", f"({a} % {rng.choice([2, 4, 7])})",
                           f"({a} >> {rng.randrange(3)})", f"({a} & {rng.choice([3, 15])})", f"min({a}, {b})",
                           f"max({a}, {b})", f"({self.cond(d + 1)} ? {a} : {b})"])

    def cond(self, d=0):
        rng = self.rng
        if d < 2 and rng.random() < 0.25:
            return f"({self.cond(d + 1)} {rng.choice(['&&', '||'])} {self.cond(d + 1)})"
        if rng.random() < 0.1:
            return f"(uint)({self.expr(d + 1)}) < (uint)({self.expr(d + 1)})"
        return f"{self.expr(d + 1)} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {self.expr(d + 1)}"

    def stmts(self, ind, n):
        scope = len(self.vars)
        for _ in range(n):
            r, p = self.rng.random(), "  " * ind
            self.names += 1
            if r < 0.35 or ind > 3:
                self.kinds.append(self.rng.choice(["REC", "LREC", "VREC"]))
                self.lines.append(f"{p}{self.kinds[-1]}({len(self.kinds) - 1}, {self.expr()});")
            elif r < 0.5:
                self.lines.append(f"{p}int v{self.names} = {self.expr()};")
                self.vars.append(f"v{self.names}")
            elif r < 0.7:
                self.lines.append(f"{p}if ({self.cond()}) {{")
                self.stmts(ind + 1, self.rng.randrange(1, 3))
                self.lines.append(f"{p}}} else {{")
                self.stmts(ind + 1, self.rng.randrange(0, 2))
                self.lines.append(f"{p}}}")
            elif r < 0.8:
                self.lines.append(f"{p}if ({self.cond()}) return;")
            else:
                k = f"k{self.names}"
                bound, step = self.rng.choice(["N", "5", "i", "j"]), self.rng.choice([k + "++", k + " += 2"])
                self.lines.append(f"{p}for (int {k} = {self.rng.randrange(-2, 3)}; "
                                  f"{k} {self.rng.choice(['<', '<='])} {bound}; {step}) {{")
                self.vars.append(k)
                self.stmts(ind + 1, self.rng.randrange(1, 3))
                if self.rng.random() < 0.3:
                    self.lines.append(f"{p}  if ({self.cond()}) {self.rng.choice(['break', 'continue'])};")
                self.lines.append(f"{p}}}")
                self.vars.remove(k)
        del self.vars[scope:]


@pytest.mark.opencl
@pytest.mark.filterwarnings("ignore::UserWarning")  # pyopencl's compiler output
def test_verdicts_match_real_runs():
    """Random kernels run on the OpenCL device record the indices each access would touch: every proof
    holds, and every error names an index some work-item really touches."""
    cl = pytest.importorskip("pyopencl")
    import numpy as np
    try:
        ctx = cl.Context([cl.get_platforms()[0].get_devices()[0]])
    except Exception:  # noqa: BLE001
        pytest.skip("no OpenCL device")
    queue = cl.CommandQueue(ctx)
    rng = random.Random(11)
    head = ("__kernel void k({}, const int N, const int M) {{\n  __local int T[16];\n"
            "  int i = get_global_id(0), j = get_global_id(1), l = get_local_id(0), g = get_group_id(0);\n")
    checked = errors = 0
    for _ in range(40):
        gen = _RandomKernel(rng)
        gen.stmts(1, rng.randrange(2, 7))
        body = "\n".join(gen.lines) + "\n}\n"
        n, N, M, L0 = rng.randrange(5, 60), rng.randrange(1, 30), rng.randrange(1, 30), rng.choice([1, 2, 4, 8])
        glob = (L0 * rng.randrange(1, 6), rng.randrange(1, 4))
        src = ("#define REC(id, e) Y[e] = 0\n#define LREC(id, e) T[e] = 0\n"
               "#define VREC(id, e) vstore2((int2)(0), e, Y)\n" + head.format("__global int* Y") + body)
        report = check_memory(src, "opencl", [Launch("k", (ArgValue("buffer", n, name="Y"), ArgValue("int", value=N),
                                                           ArgValue("int", value=M)), glob, (L0, 1))])
        run = ("#define REC(id, e) { int t_ = (e); atomic_min(&lo[id], t_); atomic_max(&hi[id], t_); }\n"
               "#define LREC(id, e) REC(id, e)\n"
               "#define VREC(id, e) { int t_ = 2 * (e); atomic_min(&lo[id], t_); atomic_max(&hi[id], t_ + 1); }\n"
               + head.format("__global int* lo, __global int* hi") + body)
        lo = np.full(max(1, len(gen.kinds)), 2 ** 31 - 1, np.int32)
        hi = np.full(max(1, len(gen.kinds)), -2 ** 31, np.int32)
        mf = cl.mem_flags
        blo, bhi = (cl.Buffer(ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=a) for a in (lo, hi))
        cl.Program(ctx, run).build().k(queue, glob, (L0, 1), blo, bhi, np.int32(N), np.int32(M))
        cl.enqueue_copy(queue, lo, blo)
        cl.enqueue_copy(queue, hi, bhi)
        queue.finish()
        lines = src.split("\n")
        for rid, kind in enumerate(gen.kinds):
            line = next(k + 1 for k, t in enumerate(lines) if f"REC({rid}, " in t and "define" not in t)
            found = [f for f in report.findings if f.line == line]
            limit = 16 if kind == "LREC" else n
            oob = lo[rid] <= hi[rid] and (lo[rid] < 0 or hi[rid] >= limit)
            checked += 1
            assert found or not oob, f"unsound proof at line {line} ({lo[rid]}..{hi[rid]}, {limit})\n{src}"
            if found and found[0].severity == "error":
                errors += 1
                claim = int(re.search(r"(?:element|reach) (-?\d+)", found[0].message).group(1))
                assert oob and claim in (lo[rid], hi[rid]), f"false error at line {line}: {found[0].message}\n{src}"
    assert checked > 80 and errors >= 5
