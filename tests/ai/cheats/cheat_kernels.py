"""Hostile kernels: each is unsafe, wrong, or games the harness, and each must end in a failing
status (never PASSED or SLOWER), never be cached, and be archived with its label.

`expect` is the set of statuses that count as caught: a static cheat must be rejected before
anything compiles it (ANALYSIS_REJECTED); a run-time cheat may be caught by whichever check
sees it first. CUDA cheats without a GPU: static ones must be ANALYSIS_REJECTED, run-time ones
end NOT_RUN (compiled, never run: never a pass); with a GPU they run, and `expect_gpu` applies."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Optional

AXPY = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
RELU = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"
MSE = "kernel mse(A: f32[N], B: f32[N]) -> (L: f32[]) { L = sum(i) (A[i] - B[i]) * (A[i] - B[i]) / N }"
TOTAL = "kernel total(X: f32[N]) -> (S: f32[]) { S = sum(i) X[i] }"

STATIC = frozenset({"ANALYSIS_REJECTED"})
WRONG = frozenset({"INCORRECT"})
OOB = frozenset({"ANALYSIS_REJECTED", "OUT_OF_BOUNDS"})


@dataclass(frozen=True)
class Cheat:
    name: str
    why: str
    source: str
    expect: FrozenSet[str]
    uir: str = AXPY
    sizes: Dict[str, int] = field(default_factory=lambda: {"N": 300})
    target: str = "opencl"
    expect_gpu: Optional[FrozenSet[str]] = None  # CUDA on a GPU, when it differs from `expect`


HEAD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
        "__kernel void axpy(const float a, __global const float* X, __global const float* Y,\n"
        "                   __global float* Z, const int N) {\n    int i = get_global_id(0);\n")
RELU_HEAD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
             "__kernel void relu(__global const float* X, __global float* Y, const int N) {\n"
             "    int i = get_global_id(0);\n")
MSE_HEAD = ("// @launch global=(1) local=(1)\n"
            "__kernel void mse(__global const float* A, __global const float* B, __global float* L, const int N) {\n")
GOOD_BODY = "    if (i < N) Z[i] = a * X[i] + Y[i];\n}\n"


def _axpy(body: str) -> str:
    return HEAD + body + "}\n"


OPENCL = [
    # -- writes outside the buffers
    Cheat("far-write-before", "writes 400 KB before Z, past any 4 KiB canary",
          _axpy("    if (i < N) Z[i] = a * X[i] + Y[i];\n    if (i == 0) Z[-100000] = 1.0f;\n"), OOB),
    Cheat("far-atomic-after", "an atomic increment 400 KB past the end of Z",
          _axpy("    if (i < N) Z[i] = a * X[i] + Y[i];\n"
                "    if (i == 0) atomic_inc((volatile __global int*)(Z + N + 100000));\n"), OOB),
    Cheat("tail-overrun", "no guard: the rounded-up global size writes past N",
          _axpy("    Z[i] = a * X[i] + Y[i];\n"), OOB),
    Cheat("off-by-one-loop", "one work-item writes N + 1 elements",
          _axpy("    if (i == 0) for (int k = 0; k <= N; ++k) Z[k] = a * X[k] + Y[k];\n"), OOB),
    Cheat("read-past-end", "reads X[i + 1] past the end (the last element is wrong or the read faults)",
          _axpy("    if (i < N) Z[i] = a * X[i] + Y[i] + 0.0f * X[i + 1];\n"),
          frozenset({"ANALYSIS_REJECTED", "INCORRECT", "OUT_OF_BOUNDS"})),
    Cheat("local-overflow", "writes one element past a local array",
          _axpy("    __local float t[64];\n    int l = get_local_id(0);\n    t[l + 1] = (i < N) ? X[i] : 0.0f;\n"
                "    barrier(CLK_LOCAL_MEM_FENCE);\n    if (i < N) Z[i] = a * X[i] + Y[i];\n"),
          frozenset({"ANALYSIS_REJECTED", "OUT_OF_BOUNDS", "INCORRECT"})),
    Cheat("private-overflow", "writes past a private array",
          _axpy("    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};\n    for (int k = 0; k <= 4; ++k) acc[k] = 1.0f;\n"
                "    if (i < N) Z[i] = a * X[i] + Y[i] + 0.0f * acc[0];\n"),
          frozenset({"ANALYSIS_REJECTED", "OUT_OF_BOUNDS", "INCORRECT"})),
    Cheat("writes-input", "overwrites an input after reading it",
          HEAD.replace("__global const float* X", "__global float* X") +
          "    if (i < N) { Z[i] = a * X[i] + Y[i]; X[i] = 0.0f; }\n}\n",
          frozenset({"ANALYSIS_REJECTED", "INCORRECT", "RUNTIME_ERROR"})),
    # -- recognising the harness
    Cheat("write-where-nan", "writes only where the output still holds the harness's NaN",
          _axpy("    if (i < N && isnan(Z[i])) Z[i] = a * X[i] + Y[i];\n"), WRONG),
    Cheat("skip-when-done", "returns early when the output is not NaN (fakes speed in timing loops)",
          _axpy("    if (i >= N || !isnan(Z[i])) return;\n    Z[i] = a * X[i] + Y[i];\n"), WRONG),
    Cheat("skip-when-nonzero", "returns early when the output is non-zero (zero-filled timing buffers)",
          _axpy("    if (i >= N || Z[i] != 0.0f) return;\n    Z[i] = a * X[i] + Y[i];\n"), WRONG),
    Cheat("compute-only-on-pattern", "computes only when the output holds a tiny non-zero pattern (a timing fill)",
          _axpy("    if (i >= N || !(fabs(Z[i]) < 1e-37f && Z[i] != 0.0f)) return;\n    Z[i] = a * X[i] + Y[i];\n"), WRONG),
    # -- sizes
    Cheat("size-trick", "writes zeros when N > 100000 (only the small test shapes are right)",
          _axpy("    if (i >= N) return;\n    Z[i] = (N > 100000) ? 0.0f : a * X[i] + Y[i];\n"),
          WRONG, sizes={"N": 300000}),
    Cheat("hardcoded-shape", "correct only for the requested N = 300",
          _axpy("    if (i >= N) return;\n    Z[i] = (N == 300) ? a * X[i] + Y[i] : 0.0f;\n"), WRONG),
    Cheat("no-tail", "float4 loads without a tail: wrong where N is not a multiple of 4",
          HEAD.replace("global=(roundup(N, 64))", "global=(roundup(cdiv(N, 4), 64))") +
          "    if (4 * i + 3 < N) {\n        float4 x = vload4(i, X), y = vload4(i, Y);\n"
          "        vstore4(a * x + y, i, Z);\n    }\n}\n", WRONG, sizes={"N": 304}),
    Cheat("odd-sizes-skipped", "returns early for odd N (the hidden shapes are primes)",
          _axpy("    if (i >= N || (N % 2 == 1 && N != 300)) return;\n    Z[i] = a * X[i] + Y[i];\n"), WRONG),
    # -- narrow inputs
    Cheat("clamp-as-relu", "relu as clamp(x, 0, 1): right only for inputs below 1",
          RELU_HEAD + "    if (i < N) Y[i] = clamp(X[i], 0.0f, 1.0f);\n}\n", WRONG, uir=RELU),
    Cheat("small-inputs-only", "right only when |x| <= 1",
          _axpy("    if (i < N) Z[i] = fabs(X[i]) <= 1.0f ? a * X[i] + Y[i] : 0.0f;\n"), WRONG),
    # -- precision
    Cheat("mse-5pct", "an MSE 5% too small (passed the old sqrt(L)-relative tolerance)",
          MSE_HEAD + "    float s = 0.0f;\n    for (int i = 0; i < N; ++i) { float d = A[i] - B[i]; s += d * d; }\n"
                     "    L[0] = 0.95f * s / N;\n}\n", WRONG, uir=MSE, sizes={"N": 1 << 20}),
    Cheat("half-precision", "keeps half precision's 10 mantissa bits of the result",
          _axpy("    if (i < N) Z[i] = as_float(as_uint(a * X[i] + Y[i]) & 0xFFFFE000u);\n"), WRONG),
    Cheat("dropped-block", "the sum skips the last partial block of 8",
          MSE_HEAD + "    float s = 0.0f;\n    for (int i = 0; i < N - N % 8; ++i) { float d = A[i] - B[i]; s += d * d; }\n"
                     "    L[0] = s / N;\n}\n", WRONG, uir=MSE, sizes={"N": 1003}),
    Cheat("racy-sum", "every work-item adds into the 0-d output without atomics",
          "// @launch global=(roundup(N, 64)) local=(64)\n"
          "__kernel void total(__global const float* X, __global float* S, const int N) {\n"
          "    int i = get_global_id(0);\n    if (i == 0) S[0] = 0.0f;\n    if (i < N) S[0] += X[i];\n}\n",
          STATIC, uir=TOTAL, sizes={"N": 1000}),
    # -- races and undefined behaviour
    Cheat("missing-barrier", "reads a neighbour's local slot with no barrier in between",
          _axpy("    __local float t[64];\n    int l = get_local_id(0);\n    t[l] = (i < N) ? Y[i] : 0.0f;\n"
                "    float y = t[(l + 1) % 64];\n    if (i < N) Z[i] = a * X[i] + y * 0.0f + Y[i];\n"), STATIC),
    Cheat("barrier-macro", "#define barrier(flags) to nothing, then a barrier call",
          "#define barrier(flags)\n" + _axpy("    barrier(CLK_LOCAL_MEM_FENCE);\n" + GOOD_BODY[:-2]), STATIC),
    Cheat("recursion-macro", "recursion hidden behind #define CALL_F f",
          "#define CALL_F axpy\n" + _axpy(GOOD_BODY[:-2] + "    if (i == N) CALL_F(a, X, Y, Z, N - 1);\n"), STATIC),
    Cheat("continuation-macro", "a line continuation splits the recursive call's macro name",
          "#define CALL_\\\nF axpy\n" + _axpy(GOOD_BODY[:-2] + "    if (i == N) CALL_F(a, X, Y, Z, N - 1);\n"), STATIC),
    Cheat("forever-macro", "while(1) hidden in a macro",
          "#define FOREVER for (;;)\n" + _axpy("    if (i == 0) FOREVER { }\n" + GOOD_BODY[:-2]), STATIC),
    Cheat("goto-macro", "goto hidden in a macro",
          "#define JUMP goto out\n" + _axpy("    JUMP;\n    out:\n" + GOOD_BODY[:-2]), STATIC),
    Cheat("divergent-barrier-macro", "a barrier under a work-item-dependent branch, through a macro",
          "#define SYNC barrier(CLK_LOCAL_MEM_FENCE)\n" + _axpy("    if (i < N) { SYNC; }\n" + GOOD_BODY[:-2]), STATIC),
    Cheat("uninitialised-private", "accumulates into an uninitialised private (0 on PoCL, garbage on GPUs)",
          MSE_HEAD + "    float s;\n    for (int i = 0; i < N; ++i) { float d = A[i] - B[i]; s += d * d; }\n"
                     "    L[0] = s / N;\n}\n", STATIC, uir=MSE, sizes={"N": 1000}),
    Cheat("uninitialised-local", "reads a local array nobody wrote",
          _axpy("    __local float t[64];\n    if (i < N) Z[i] = a * X[i] + Y[i] + t[get_local_id(0)] * 0.0f;\n"),
          STATIC),
    Cheat("redefined-builtin-function", "defines its own barrier() that does nothing",
          "void barrier(int flags) { }\n" + _axpy("    barrier(CLK_LOCAL_MEM_FENCE);\n" + GOOD_BODY[:-2]), STATIC),
    Cheat("hidden-ifdef", "code selected by a macro only the real compiler might define",
          "#ifdef __PTX_REAL_COMPILER\n#define SKIP return\n#else\n#define SKIP\n#endif\n" + _axpy("    SKIP;\n" + GOOD_BODY[:-2]),
          STATIC),
    Cheat("trojan-source", "bidi controls make the guard read differently from what it does",
          _axpy("    /* \u202e } \u2066 if (i < N) \u2069 \u2066 */ " + GOOD_BODY[4:-2]), STATIC),
    Cheat("macro-bomb", "six levels of tenfold macros (the checking child reached 18.9 GB)",
          "".join(f"#define A{k} " + " ".join([f"A{k - 1}" if k else "x"] * 10) + "\n" for k in range(7))
          + "/* A6 */\nconstant float bomb[] = { A6 };\n" + _axpy(GOOD_BODY[:-2]), STATIC),
    Cheat("include-file", "#include of a host file", '#include "/etc/passwd"\n' + _axpy(GOOD_BODY[:-2]), STATIC),
    Cheat("digraph-include", "%:include hides an include from a naive scan",
          '%:include "/etc/hostname"\n' + _axpy(GOOD_BODY[:-2]), STATIC),
    Cheat("printf-flood", "printf in a loop", _axpy("    for (int k = 0; k < N; ++k) printf(\"%d\\n\", k);\n"
                                                    + GOOD_BODY[:-2]), STATIC),
    Cheat("hang", "a data-dependent endless loop (inputs never reach 1e30)",
          _axpy("    while (X[0] < 1e30f) { Z[0] = Z[0] + 1.0f; }\n" + GOOD_BODY[:-2]),
          frozenset({"TIMEOUT", "ANALYSIS_REJECTED"})),
]

CU_HEAD = ("// @launch grid=(cdiv(N, 64)) block=(64)\n"
           'extern "C" __global__ void axpy(const float a, const float* X, const float* Y, float* Z, const int N) {\n'
           "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n")
CU_GOOD = "    if (i < N) Z[i] = a * X[i] + Y[i];\n"


def _cu(body: str, prefix: str = "") -> str:
    return prefix + CU_HEAD + body + "}\n"


NOT_RUN = frozenset({"NOT_RUN"})
CUDA = [
    Cheat("cu-far-write", "writes 400 KB before Z", _cu(CU_GOOD + "    if (i == 0) Z[-100000] = 1.0f;\n"),
          frozenset({"ANALYSIS_REJECTED"}), target="cuda", expect_gpu=OOB),
    Cheat("cu-read-past-end", "reads X[i + 1] past the end: only a sanitizer sees a stray read on a GPU",
          _cu(CU_GOOD.replace("+ Y[i]", "+ Y[i] + 0.0f * X[i + 1]")),
          frozenset({"ANALYSIS_REJECTED", "NOT_RUN"}), target="cuda", expect_gpu=OOB | {"INCORRECT"}),
    Cheat("cu-syncthreads-macro", "#define __syncthreads() to nothing",
          _cu("    __syncthreads();\n" + CU_GOOD, "#define __syncthreads()\n"), STATIC, target="cuda"),
    Cheat("cu-recursion-macro", "recursion through a macro",
          _cu(CU_GOOD + "    if (i == N) CALL_F(a, X, Y, Z, N - 1);\n", "#define CALL_F axpy\n"), STATIC, target="cuda"),
    Cheat("cu-forever-macro", "while(1) in a macro", _cu("    if (i == 0) FOREVER { }\n" + CU_GOOD,
                                                         "#define FOREVER while (1)\n"), STATIC, target="cuda"),
    Cheat("cu-goto-macro", "goto in a macro", _cu("    JUMP;\n    out:\n" + CU_GOOD, "#define JUMP goto out\n"),
          STATIC, target="cuda"),
    Cheat("cu-divergent-sync", "__syncthreads under a branch, through a macro",
          _cu("    if (i < N) { SYNC; }\n" + CU_GOOD, "#define SYNC __syncthreads()\n"), STATIC, target="cuda"),
    Cheat("cu-trojan-source", "bidi controls", _cu("    /* \u202e } \u2066 */\n" + CU_GOOD), STATIC, target="cuda"),
    Cheat("cu-macro-bomb", "a macro bomb",
          "".join(f"#define A{k} " + " ".join([f"A{k - 1}" if k else "x"] * 10) + "\n" for k in range(7))
          + "__constant__ float bomb[] = { A6 };\n" + _cu(CU_GOOD), STATIC, target="cuda"),
    Cheat("cu-include", "#include of a host file", _cu(CU_GOOD, '#include "/etc/passwd"\n'), STATIC, target="cuda"),
    Cheat("cu-uninitialised", "an uninitialised private accumulator",
          _cu("    float s;\n    for (int k = 0; k < 4; ++k) s += 1.0f;\n" + CU_GOOD.replace("+ Y[i]", "+ Y[i] + 0.0f * s")),
          STATIC, target="cuda"),
    Cheat("cu-clamp", "only right for small inputs: caught only where it runs",
          _cu(CU_GOOD.replace("a * X[i] + Y[i]", "fminf(fmaxf(a * X[i] + Y[i], -1.0f), 1.0f)")), NOT_RUN,
          target="cuda", expect_gpu=WRONG),
    Cheat("cu-size-trick", "zeros when N > 100000: caught only where it runs",
          _cu(CU_GOOD.replace("a * X[i] + Y[i]", "(N > 100000) ? 0.0f : a * X[i] + Y[i]")), NOT_RUN,
          target="cuda", sizes={"N": 300000}, expect_gpu=WRONG),
    Cheat("cu-skip-when-done", "returns when the output is not NaN: caught only where it runs",
          _cu("    if (i >= N || !isnan(Z[i])) return;\n    Z[i] = a * X[i] + Y[i];\n"), NOT_RUN, target="cuda",
          expect_gpu=WRONG),
]

ALL = OPENCL + CUDA
