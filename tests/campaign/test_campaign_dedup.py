"""Duplicate detection: renamed and reformatted programs and kernels hash alike; others do not."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uhop_cc import ir
from uhop_cc.campaign.dedup import (kernel_key, normalize_kernel_source, normalize_uir, top_level_functions,
                                    uir_key)
from uhop_cc.campaign.generator import CATEGORIES, generate
from uhop_cc.pipeline import candidates

MATMUL = """kernel matmul(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {
    C[i, j] = sum(k) A[i, k] * B[k, j]
}"""
MATMUL_RENAMED = """# the same program: other names, comments, another layout
kernel mm_other(Lhs: f32[P, Q],
                Rhs: f32[Q, R]) -> (Out: f32[P, R]) { Out[x, y] = sum(z) (Lhs[x, z] * Rhs[z, y]) }   # trailing
"""
MATMUL_NT = """kernel matmul(A: f32[M, K], B: f32[N, K]) -> (C: f32[M, N]) {
    C[i, j] = sum(k) A[i, k] * B[j, k]
}"""


def test_renamed_and_reformatted_uir_is_a_duplicate():
    assert normalize_uir(MATMUL) == normalize_uir(MATMUL_RENAMED)
    assert uir_key(MATMUL) == uir_key(MATMUL_RENAMED)
    # sizes are renamed the same way: equal bindings are equal, others are not
    assert uir_key(MATMUL, {"M": 4, "K": 5, "N": 6}) == uir_key(MATMUL_RENAMED, {"P": 4, "Q": 5, "R": 6})
    assert uir_key(MATMUL, {"M": 4, "K": 5, "N": 6}) != uir_key(MATMUL_RENAMED, {"P": 4, "Q": 6, "R": 5})
    assert uir_key(MATMUL) != uir_key(MATMUL_NT)
    assert uir_key(MATMUL, extra="opencl") != uir_key(MATMUL, extra="cuda")


def test_normal_form_is_canonical_uir():
    text = normalize_uir(MATMUL_RENAMED)
    assert text.startswith("kernel k(T0: f32[S0, S1], T1: f32[S1, S2]) -> (T2: f32[S0, S2])")
    assert ir.check_source(text).ok
    # temporaries and reduction variables are renamed too
    soft = open_example("softmax.uir")
    soft2 = """kernel sm(In: f32[Rows, Cols]) -> (Out: f32[Rows, Cols]) {
    mx[w] = max(q) In[w, q]
    ex[a, b] = exp(In[a, b] - mx[a])
    tot[z] = sum(v) ex[z, v]
    Out[p, q] = ex[p, q] / tot[p]
}"""
    assert ir.check_source(soft2).ok
    assert normalize_uir(soft) == normalize_uir(soft2)


def open_example(name):
    from campaign_helpers import ROOT
    return (ROOT / "examples" / name).read_text()


def _rename_tensors(src: str, mapping) -> str:
    for a, b in mapping.items():
        src = re.sub(rf"\b{re.escape(a)}\b", b, src)
    return src


@settings(max_examples=60, deadline=None)
@given(category=st.sampled_from(CATEGORIES), seed=st.integers(0, 2 ** 40))
def test_generated_programs_renamed_and_reformatted_are_duplicates(category, seed):
    g = generate(category, seed)
    k = g.kernel
    names = [p.name for p in k.inputs + k.outputs] + [s.target for s in k.body]
    mapping = {n: f"zz{i}_{n}" for i, n in enumerate(dict.fromkeys(names))}
    mapping[k.name] = "renamed_kernel"
    other = _rename_tensors(g.source, mapping)
    other = "# a comment\n" + other.replace("    ", "\t ").replace(", ", " ,  ")
    assert ir.check_source(other).ok, other
    sizes = dict(g.sizes)
    assert uir_key(other, sizes) == uir_key(g.program, sizes)
    # and the generated kernels of both are duplicates as kernel sources, too
    b1 = g.bind()
    b2 = ir.bind_shapes(ir.load(other)[0], sizes)
    c1 = candidates(b1, "opencl", "auto", None, None, use_cache=False)
    c2 = candidates(b2, "opencl", "auto", None, None, use_cache=False)
    assert [c.strategy for c in c1] == [c.strategy for c in c2]
    for a, b in zip(c1, c2):
        assert kernel_key(a.source, {"S": 1}) == kernel_key(b.source, {"S": 1}), (a.source, b.source)


def test_kernel_source_normalisation():
    k = ir.load(MATMUL)[0]
    b = ir.bind_shapes(k, {"M": 8, "K": 8, "N": 8})
    srcs = [c.source for c in candidates(b, "opencl", "auto", None, None, use_cache=False)]
    assert len(srcs) == 2  # the matmul template and the generic lowering
    for src in srcs:
        messy = "/* banner */\n" + re.sub(r"[ ]+", "   ", src.replace("(", " ( ").replace(";", " ;\n// x\n"))
        assert normalize_kernel_source(messy) == normalize_kernel_source(src)
        assert kernel_key(messy) == kernel_key(src)
        # identifiers renamed throughout, consistently
        names = top_level_functions(src)
        assert "matmul" in names
        renamed = re.sub(r"\bmatmul\b", "zork", re.sub(r"\bA\b", "AA", src))
        assert kernel_key(renamed) == kernel_key(src)
    assert kernel_key(srcs[0]) != kernel_key(srcs[1])
    # built-ins and operators are kept: another math function is another kernel
    g = "__kernel void f(__global float* x) { x[0] = exp(x[0]); }"
    assert kernel_key(g) != kernel_key(g.replace("exp", "log"))
    assert kernel_key(g) != kernel_key(g.replace("x[0] =", "x[1] ="))
    # the @launch geometry is part of the kernel
    s = srcs[1]
    assert "@launch" in normalize_kernel_source(s)
    assert kernel_key(s) != kernel_key(s.replace("local=(64)", "local=(128)").replace(", 64)", ", 128)"))
    # sizes take part when given
    assert kernel_key(s, {"S0": 4}) != kernel_key(s, {"S0": 5})


def test_top_level_functions_finds_helpers_and_kernels():
    src = """
    // @launch global=(N) local=(64)
    inline float helper(float x) { return x; }
    void store_it(__global float* y, int i, float v);   /* a prototype */
    __kernel __attribute__ ((reqd_work_group_size(64, 1, 1))) void main_k(__global float* y) { y[0] = helper(1.0f); }
    """
    assert top_level_functions(src) == ["helper", "main_k"]


@pytest.mark.parametrize("category", CATEGORIES)
def test_distinct_programs_are_not_duplicates(category):
    keys = {uir_key(generate(category, s).program) for s in range(25)}
    assert len(keys) >= 15
