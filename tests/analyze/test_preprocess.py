"""The preprocessor step of untrusted sources: what macros, continuations and invisible
characters hide is found, a macro bomb is stopped, honest sources come out unchanged in meaning."""
from __future__ import annotations

import time

import pytest

from uhop_cc.analyze.preprocess import MAX_EXPANDED_BYTES, expand, invisible_chars, redefinitions
from uhop_cc.analyze.uninit import uninitialised

GOOD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
        "__kernel void relu(__global const float* X, __global float* Y, const int N) {\n"
        "    int i = get_global_id(0);\n    if (i < N) Y[i] = fmax(X[i], 0.0f);\n}\n")


def codes(src: str, target: str = "opencl"):
    return [c for c, *_ in expand(src, target).findings]


def test_an_honest_source_expands_with_its_launch_line():
    ex = expand("#define ZERO 0.0f\n" + GOOD.replace("0.0f)", "ZERO)"), "opencl")
    assert ex.ok and not ex.findings
    assert ex.text.startswith("// @launch global=(roundup(N, 64)) local=(64)")
    assert "fmax(X[i], 0.0f)" in ex.text and "ZERO" not in ex.text


def test_line_continuations_and_macros_are_expanded():
    ex = expand("#define CALL_\\\nF relu\n" + GOOD.replace("}\n", "    CALL_F(X, Y, N - 1);\n}\n"), "opencl")
    assert ex.ok and "relu(X, Y, N - 1);" in ex.text  # the analyzer then sees the recursion


@pytest.mark.parametrize("src,code", [
    ("#define barrier(flags)\n" + GOOD, "safety.redefine-builtin"),
    ("#define get_global_id(d) 0\n" + GOOD, "safety.redefine-builtin"),
    ("#undef for\n" + GOOD, "safety.redefine-builtin"),
    ("%:define barrier(f)\n" + GOOD, "safety.redefine-builtin"),
    ("#def\\\nine barrier(f)\n" + GOOD, "safety.redefine-builtin"),
    ("void barrier(int f) { }\n" + GOOD, "safety.redefine-builtin"),
    ("#ifdef __SECRET_COMPILER__\n#define X 1\n#endif\n" + GOOD, "safety.unknown-macro"),
    ("#if defined(NOT_HERE) || 1\n#endif\n" + GOOD, "safety.unknown-macro"),
    (GOOD.replace("// @launch", "// \u202e @launch"), "safety.invisible-char"),
    (GOOD.replace("int i", "int\u200b i"), "safety.invisible-char"),
    (GOOD.replace("    int i = get_global_id(0);", "    float s;\n    int i = get_global_id(0);\n    s += 1.0f;"),
     "safety.uninitialised"),
])
def test_hidden_hazards_are_errors(src, code):
    assert code in codes(src)


def test_known_macros_may_be_tested():
    src = "#ifdef cl_khr_fp64\n#define REAL double\n#else\n#define REAL float\n#endif\n#if __OPENCL_VERSION__ >= 120\n#endif\n"
    assert not redefinitions(src + GOOD, "opencl")


def test_cuda_keeps_sdk_headers_out_of_the_expansion_and_knows_its_macros():
    src = ("#include <cuda_fp16.h>\n#ifdef __CUDA_ARCH__\n#define T float\n#endif\n"
           "// @launch grid=(cdiv(N, 64)) block=(64)\n"
           'extern "C" __global__ void k(const T* X, T* Y, const int N) {\n'
           "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n    if (i < N) Y[i] = X[i];\n}\n")
    ex = expand(src, "cuda")
    assert ex.ok, ex.findings
    assert "const float* X" in ex.text and "cuda_fp16" not in ex.text
    assert "safety.redefine-builtin" in codes("#define __syncthreads()\n" + src, "cuda")


def test_a_macro_bomb_is_stopped_quickly():
    bomb = "".join(f"#define A{k} " + " ".join([f"A{k - 1}" if k else "x"] * 10) + "\n" for k in range(8)) + "A7\n"
    t0 = time.perf_counter()
    ex = expand(bomb, "opencl")
    assert time.perf_counter() - t0 < 15
    assert not ex.ok and ex.findings[0][0] == "safety.macro-expansion"
    assert f"{MAX_EXPANDED_BYTES >> 20} MiB" in ex.findings[0][1]


def test_invisible_characters_are_located():
    found = invisible_chars("ok\nab\u2067c")
    assert [(line, col) for _c, _m, line, col in found] == [(2, 3)]
    assert "U+2067" in found[0][1]


def test_uninitialised_rules_do_not_flag_honest_code():
    honest = ("__kernel void f(__global float* Y, const int N) {\n    float acc;\n    acc = 0.0f;\n"
              "    int k;\n    for (k = 0; k < N; ++k) acc += Y[k];\n    __local float t[4];\n"
              "    t[get_local_id(0)] = acc;\n    barrier(CLK_LOCAL_MEM_FENCE);\n    Y[0] = t[0];\n}\n")
    assert uninitialised(honest) == []


def test_analyze_cli_preprocesses_by_default(tmp_path, capsys):
    from uhop_cc.cli.analyze import main
    f = tmp_path / "k.cl"
    f.write_text("#define CALL_\\\nF relu\n" + GOOD.replace("}\n", "    CALL_F(X, Y, N - 1);\n}\n"))
    assert main([str(f)]) == 1
    assert "safety.recursion" in capsys.readouterr().out
    assert main([str(f), "--no-preprocess"]) == 0  # the raw text hides the recursion


@pytest.mark.parametrize("body,racy", [
    ("    if (i < N) S[0] += X[i];\n", True),
    ("    if (i < N) S[0]++;\n", True),
    ("    if (i == 0) for (int k = 0; k < N; ++k) S[0] += X[k];\n", False),  # one work-item
    ("    if (get_local_id(0) == 0 && get_group_id(0) == 0) { S[0] += X[0]; }\n", False),
    ("    if (i < N) S[i] += X[i];\n", False),  # each its own element
    ("    if (i < N) atomic_add((volatile __global int*)S, 1);\n", False),
])
def test_read_modify_writes_of_one_global_element_by_every_work_item_are_races(body, racy):
    from uhop_cc.analyze.races import global_races
    src = ("// @launch global=(roundup(N, 64)) local=(64)\n"
           "__kernel void total(__global const float* X, __global float* S, const int N) {\n"
           "    int i = get_global_id(0);\n" + body + "}\n")
    assert bool(global_races(src, "opencl")) == racy
    assert not global_races(src.replace("global=(roundup(N, 64)) local=(64)", "global=(1) local=(1)"), "opencl")
