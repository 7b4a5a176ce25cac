"""Malformed and huge inputs give an error report: never a crash, a hang or an exception."""
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhop_cc.analyze import TARGETS, analyze, analyze_dict

TOKENS = ["__kernel", "kernel", "void", "__global__", "kernel_main", "MAIN", "namespace", "float", "int", "const",
          "__global", "__local", "__shared__", "*", "&", "(", ")", "[", "]", "{", "}", ";", ",", "=", "+=", "+", "-",
          "/", "%", "<", ">", "<<", "?", ":", "::", "if", "else", "for", "while", "do", "switch", "case", "default",
          "return", "break", "continue", "goto", "barrier", "__syncthreads", "(CLK_LOCAL_MEM_FENCE)",
          "get_local_id(0)", "get_global_id", "threadIdx.x", "x", "y", "N", "0", "1", "64", "1.5f", "\"s\"",
          "'c'", "#include", "#define", "\n", "// @launch global=(N) local=(64)\n", "/*", "*/", "//", "asm",
          "printf", "vload4", "cb_reserve_back", "cb_push_back", "cb_wait_front", "cb_pop_front",
          "noc_async_read_tile", "noc_async_read_barrier", "tile_regs_acquire", "tile_regs_commit",
          "tile_regs_wait", "tile_regs_release", "pack_tile", "add_tiles", "template", "<true>", "struct",
          "typedef", "sizeof", "reinterpret_cast<uintptr_t>", "__attribute__((reqd_work_group_size(8,8,1)))",
          "\\\n", "#", "...", "->", "++", "--", "!", "~", "^"]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(report_dict):
    assert isinstance(report_dict, dict)
    assert isinstance(report_dict["findings"], list)
    for f in report_dict["findings"]:
        assert f["severity"] in ("error", "warning", "info") and f["line"] >= 0


@settings(max_examples=150, **SETTINGS)
@given(st.binary(max_size=3000), st.sampled_from(TARGETS))
def test_random_bytes(data, target):
    check(analyze_dict(data, target))


@settings(max_examples=150, **SETTINGS)
@given(st.text(max_size=1500), st.sampled_from(TARGETS))
def test_random_text(text, target):
    r = analyze(text, target)
    assert r.target == target


@settings(max_examples=200, **SETTINGS)
@given(st.lists(st.sampled_from(TOKENS), max_size=400), st.sampled_from(TARGETS))
def test_token_soup(tokens, target):
    check(analyze_dict(" ".join(tokens), target))


@settings(max_examples=60, **SETTINGS)
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.integers(1, 40), st.sampled_from(TARGETS))
def test_token_soup_inside_a_kernel(tokens, reps, target):
    body = " ".join(tokens) * reps
    head = {"opencl": "// @launch global=(N) local=(64)\n__kernel void k(__global float* X, const int N) {",
            "cuda": "// @launch grid=(N) block=(64)\n__global__ void k(float* X, const int N) {",
            "ttmetal": "void kernel_main() {"}[target]
    check(analyze_dict(f"{head}\n{body}\n}}\n", target))


def _timed(source, target="opencl"):
    t0 = time.perf_counter()
    r = analyze(source, target)
    return r, time.perf_counter() - t0


def test_ten_megabytes_returns_quickly():
    line = "__kernel void k(__global float* X) { X[get_global_id(0)] = 1.0f; } // padding padding\n"
    source = line * (10 * 1024 * 1024 // len(line) + 1)
    assert len(source) >= 10 * 1024 * 1024
    r, dt = _timed(source)
    assert dt < 2.0
    assert not r.ok and r.errors[0].code == "input.too-large" and r.fatal


@pytest.mark.parametrize("make", [
    lambda n: "(" * n + ")" * n,
    lambda n: "{" * n + "}" * n,
    lambda n: "__kernel void k() { x = " + "-" * n + "1; }",
    lambda n: "__kernel void k() { x = " + " + ".join(["a"] * n) + "; }",
    lambda n: "__kernel void k() { " + "if (a) " * n + "x = 1; }",
    lambda n: "__kernel void k() { x = " + "a ? " * n + "b" + " : c" * n + "; }",
    lambda n: "__kernel void k() { x = " + "a = " * n + "1; }",
    lambda n: "__kernel void k() { " + "for (;;) " * n + "; }",
    lambda n: "void f() {}\n" * n,
    lambda n: "__kernel void k() { " + "x; " * n + "}",
    lambda n: "x" * (n * 20),
    lambda n: "// @launch global=(" + "(" * n + "N" + ")" * n + ") local=(1)\n__kernel void k(const int N) {}",
    lambda n: "// @launch global=(" + "-" * n + "N) local=(1)\n__kernel void k(const int N) {}",
    lambda n: "#define A " + "(" * n + "1" + ")" * n + "\n__kernel void k() { int a[A]; }",
    lambda n: "__kernel void k() { while (1) { " * 50 + "}" * 50 + "}",
], ids=["parens", "braces", "unary", "sum", "if-chain", "ternary", "assign-chain", "for-chain", "many-functions",
        "many-statements", "long-identifier", "launch-parens", "launch-unary", "macro-parens", "nested-loops"])
@pytest.mark.parametrize("target", TARGETS)
def test_pathological_nesting(make, target):
    r, dt = _timed(make(40000), target)
    assert dt < 2.0
    assert r.target == target


@pytest.mark.parametrize("source,code", [
    ("__kernel void k() { /* never closed ", "lex.unterminated-comment"),
    ('__kernel void k() { char* s = "never closed;\n }', "lex.unterminated-string"),
    ("__kernel void k() { char c = 'x;\n }", "lex.unterminated-string"),
    ("__kernel void k() { if (x) { }", "parse.unbalanced"),
    ("__kernel void k() { x = (1 + 2; }", "parse.unbalanced"),
    ("__kernel void k() { x = a[1); }", "parse.unbalanced"),
    ("}", "parse.unbalanced"),
    ("__kernel void k() { x = 1; } \x00\x01\xff", "lex.invalid-char"),
    ("(" * 300 + ")" * 300, "parse.too-deep"),
    ("__kernel void k() { x = " + "-" * 5000 + "1; }", "parse.too-deep"),
])
def test_malformed_sources_are_errors(source, code):
    r = analyze(source, "opencl")
    assert code in r.codes and not r.ok, r.format()
    f = r.by_code(code)[0]
    assert f.severity == "error" and f.line >= 1


def test_wrapper_handles_str_bytes_and_surrogates():
    assert analyze(b"\xff\xfe garbage", "cuda").errors
    assert analyze("x = '\ud800';", "opencl").errors
