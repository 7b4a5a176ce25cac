"""The pre-check (before any compiler) and the choice of test shapes."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from uhop_cc import ir
from uhop_cc.ai.checks import choose_shapes, precheck, static_checks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
K = """// @launch global=(roundup(N, 64)) local=(64)
__kernel void relu(__global const float* X, __global float* Y, const int N) {
    int i = get_global_id(0);
    if (i < N) Y[i] = fmax(X[i], 0.0f);
}
"""


@pytest.mark.parametrize("line", ['#include "/etc/passwd"', "#include </etc/passwd>", "  #  include <stdio.h>",
                                  '#inc\\\nlude "x.h"', '%:include "/etc/passwd"', '#import "a"', "#embed </etc/shadow>",
                                  '#include_next <x>'])
def test_file_directives_are_rejected(line):
    codes = [f.code for f in precheck(line + "\n" + K, "opencl")]
    assert codes and all(c.startswith("safety.") for c in codes)
    st = static_checks(line + "\n" + K, "opencl")
    assert not st.ok


def test_other_rules():
    assert [f.code for f in precheck(K.replace("int i", "__asm__(\"nop\"); int i"), "opencl")] == ["safety.asm"]
    assert precheck("??=include <x>\n" + K, "opencl")
    assert precheck("#include <cuda_fp16.h>\n" + K, "cuda") == []
    assert precheck('#include "cuda_fp16.h"\n' + K, "cuda")
    assert precheck("x" * 300_000, "opencl")[0].code == "safety.size"
    assert precheck(K, "opencl") == [] and static_checks(K, "opencl").ok


def test_launch_annotation_is_checked():
    st = static_checks(K.replace("// @launch global=(roundup(N, 64)) local=(64)\n", ""), "opencl")
    assert not st.ok and any("@launch" in f.message for f in st.errors)


@pytest.mark.parametrize("example,sizes", [("matmul.uir", {"M": 1024, "N": 1024, "K": 1024}),
                                           ("conv2d.uir", {"N": 2, "C": 3, "H": 40, "W": 40, "K": 4, "R": 3, "S": 3}),
                                           ("maxpool2.uir", {"N": 1, "C": 2, "H": 64, "W": 64}),
                                           ("axpy.uir", {"N": 300}), ("softmax.uir", {"R": 1, "C": 1})])
def test_choose_shapes(example, sizes):
    checked = ir.select_kernel(ir.load((EXAMPLES / example).read_text()))
    for seed in range(5):
        shapes = choose_shapes(checked, sizes, random.Random(seed))
        labels = [l for l, _ in shapes]
        big = example == "matmul.uir"
        assert ("requested" in labels) != big  # a large requested shape is not validated directly
        randoms = [s for l, s in shapes if l.startswith("random")]
        assert len(randoms) == 2 and randoms[0] != randoms[1]
        hidden = [s for l, s in shapes if l == "hidden"]
        assert len(hidden) == 1 and hidden[0] not in randoms and hidden[0] != sizes
        assert all(v == 1 or all(v % p for p in range(2, v)) for v in hidden[0].values()), hidden  # primes or 1
        assert len(shapes) >= 3
        for s in randoms + hidden:
            assert s != sizes and all(v % 16 for v in s.values()), s
            b = ir.bind_shapes(checked, s)  # the program's constraints hold
            assert all(all(d > 0 for d in b.shapes[p.name]) for p in checked.outputs)
