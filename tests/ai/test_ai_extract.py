"""Code extraction from LLM replies."""
from __future__ import annotations

import pytest

from uhop_cc.ai.extract import extract_code, extract_roles, fenced_blocks, split_roles

K = """// @launch global=(roundup(N, 64)) local=(64)
__kernel void relu(__global const float* X, __global float* Y, const int N) {
    int i = get_global_id(0);
    if (i < N) Y[i] = fmax(X[i], 0.0f);
}"""


@pytest.mark.parametrize("lang", ["opencl", "cl", "c", "cpp", "c++", "", "OpenCL"])
def test_fence_languages(lang):
    ex = extract_code(f"Here it is:\n\n```{lang}\n{K}\n```\n\nThis kernel is fast.", "opencl", "relu")
    assert ex.ok and ex.source.strip() == K and ex.kernels == ["relu"]


def test_cuda_fences_and_tilde():
    cu = K.replace("__kernel void", 'extern "C" __global__ void').replace("__global const", "const") \
          .replace("__global float", "float")
    for lang in ("cuda", "cu"):
        ex = extract_code(f"~~~{lang}\n{cu}\n~~~", "cuda", "relu")
        assert ex.ok and "__global__ void relu" in ex.source


def test_several_blocks_pick_the_entry_kernel():
    helper = "```python\nprint('host side')\n```"
    first = f"```opencl\n{K.replace('fmax(X[i], 0.0f)', 'X[i]')}\n```"
    other = "```c\n__kernel void unrelated(__global float* A) { A[0] = 1; }\n```"
    final = f"```opencl\n{K}\n```"
    ex = extract_code(f"First try:\n{first}\n{helper}\nSomething else:\n{other}\nCorrected:\n{final}\n", "opencl",
                      "relu")
    assert ex.ok and "fmax" in ex.source and "unrelated" not in ex.source and ex.blocks == 3


def test_stage_blocks_are_joined():
    stage = """// @launch global=(N) local=auto
__kernel void relu__t(__global const float* X, __global float* Y, const int N) { }"""
    ex = extract_code(f"Stage one:\n```cl\n{stage}\n```\nStage two:\n```cl\n{K}\n```", "opencl", "relu")
    assert ex.ok and ex.kernels == ["relu__t", "relu"]


def test_no_fence_cut_out_of_prose():
    ex = extract_code(f"Sure! The kernel below is vectorised.\n{K}\nHope this helps.", "opencl", "relu")
    assert ex.ok and ex.source.strip() == K


def test_unclosed_block_is_taken():
    ex = extract_code(f"```opencl\n{K}\n", "opencl", "relu")
    assert ex.ok and "not closed" in ex.reason


@pytest.mark.parametrize("reply", ["", "I cannot help with that.", "```\nno kernel here;\n```",
                                   "```python\nimport os\n```"])
def test_no_code(reply):
    ex = extract_code(reply, "opencl", "relu")
    assert not ex.ok and ex.source is None and ex.reason


def test_wrong_language_is_no_code():
    ex = extract_code("```cuda\nextern \"C\" __global__ void relu(const float* X) {}\n```", "opencl", "relu")
    assert not ex.ok and "not opencl" in ex.reason


def test_fenced_blocks_info():
    bs = fenced_blocks("a\n````cpp title\nx\n```\ny\n````\n")
    assert len(bs) == 1 and bs[0].lang == "cpp" and "```" in bs[0].code


def test_ttmetal_roles():
    reply = ("Reader:\n```cpp\n// reader\nvoid kernel_main() { noc_async_read(0, 0, 0); }\n```\n"
             "```cpp\nnamespace NAMESPACE { void MAIN { } }\n```\n"
             "```cpp\n// writer\nvoid kernel_main() { noc_async_write(0, 0, 0); }\n```")
    ex = extract_roles(reply, "ttmetal")
    assert ex.ok and sorted(ex.sources) == ["compute", "reader", "writer"]
    assert split_roles(ex.source).keys() == ex.sources.keys()
    assert extract_code(reply, "ttmetal").sources == ex.sources
