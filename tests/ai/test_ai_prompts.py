"""Prompt contents: the ABI in order, @launch syntax, UIR, baseline, hints, feedback."""
from __future__ import annotations

from pathlib import Path

from uhop_cc import ir
from uhop_cc.ai import prompts
from uhop_cc.lower import build_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HW = {"name": "Test Device", "compute_units": 8, "max_work_group_size": 1024, "local_mem_bytes": 65536}


def _ctx(example: str, sizes, target="opencl", **kw):
    k = ir.select_kernel(ir.load((EXAMPLES / example).read_text()))
    b = ir.bind_shapes(k, sizes)
    spec = build_spec(b, HW)
    return prompts.PromptContext(spec=spec, target=target, abi=spec.abi,
                                 temps=spec.temps, size_symbols=tuple(k.sizes), hardware=HW, **kw)


def test_opencl_prompt_states_abi_launch_uir_and_baseline():
    ctx = _ctx("axpy.uir", {"N": 300}, baseline_strategy="elementwise", baseline_params={"VW": 16, "LOCAL": 64},
               baseline_s=4.5e-6, dataset_best_s=4.0e-6, baseline_source="// the baseline kernel source")
    system, user = prompts.compose(ctx)
    assert system["role"] == "system" and "```opencl" in system["content"]
    u = user["content"]
    lines = [ln.strip() for ln in u.splitlines()]
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(t)) for t in
             ("const float a,", "__global const float* X,", "__global const float* Y,", "__global float* Z,",
              "const int N)")]
    assert order == sorted(order), "ABI arguments out of order"
    assert "__kernel void axpy(" in u
    assert "// @launch global=(" in u and "roundup(a, b)" in u and "cdiv(a, b)" in u
    assert "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N])" in u
    assert "N=300" in u and "VW=16" in u and "4.5 us" in u and "4 us" in u and "the baseline kernel source" in u
    assert "Test Device" in u and "elementwise" in u.lower() and "vector" in u


def test_cuda_prompt_and_temporaries():
    ctx = _ctx("softmax.uir", {"R": 10, "C": 37}, target="cuda")
    _, user = prompts.compose(ctx)
    u = user["content"]
    assert 'extern "C" __global__ void softmax(' in u and "const float* X," in u and "__global " not in u
    assert "grid=(" in u and "block=(" in u
    assert "temporaries (m, e, s)" in u and "float* m, float* e, float* s" in u
    assert "fused" in u and "barrier" in u  # category hints


def test_matmul_hints():
    u = prompts.compose(_ctx("matmul.uir", {"M": 40, "N": 50, "K": 60}))[1]["content"]
    assert "matmul" in u and "tile" in u and "sum(k" in u


def test_feedback_carries_the_failure():
    ctx = _ctx("axpy.uir", {"N": 300})
    fb = prompts.feedback("COMPILE_ERROR", {"log": "kernel.cl:5:34: error: use of undeclared identifier 'Yy'"}, ctx)
    assert "undeclared identifier 'Yy'" in fb and "did not compile" in fb
    fb = prompts.feedback("INCORRECT", {"sizes": {"N": 37}, "reason": "output Z: 3 of 37 elements differ; first at "
                                        "(36): got 0, expected 1.5",
                                        "mismatch": {"Z": {"max_abs_err": 1.5, "max_rel_err": 1.0}}}, ctx)
    assert "N=37" in fb and "got 0, expected 1.5" in fb and "max abs err 1.5" in fb
    fb = prompts.feedback("ANALYSIS_REJECTED", {"findings": ["line 1: error [safety.include] not allowed"]}, ctx)
    assert "safety.include" in fb
    fb = prompts.feedback("SLOWER", {"median_s": 2e-6, "baseline_s": 1e-6}, ctx)
    assert "slower" in fb and "2 us" in fb and "0.50x" in fb
    fb = prompts.feedback("OUT_OF_BOUNDS", {"sizes": {"N": 99}, "reason": "output Z: out-of-bounds write after"}, ctx)
    assert "N=99" in fb and "out-of-bounds" in fb
    assert "TIMEOUT" not in prompts.feedback("TIMEOUT", {"timeout_s": 5}, ctx) and "5 s" in \
        prompts.feedback("TIMEOUT", {"timeout_s": 5}, ctx)


def test_conversation_and_render():
    base = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    msgs = prompts.conversation(base, "old answer", "fix it")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"] and msgs[-1]["content"] == "fix it"
    msgs = prompts.conversation(base, None, "fix it")
    assert len(msgs) == 2 and "fix it" in msgs[-1]["content"]
    assert "===== assistant =====" in prompts.render_messages(prompts.conversation(base, "a", "b"))


def test_abi_types_are_the_targets():
    """The spec's ABI is target-neutral; each target writes its own C types into the prompt."""
    ocl = prompts.abi_lines(_ctx("axpy.uir", {"N": 300}))
    cu = prompts.abi_lines(_ctx("axpy.uir", {"N": 300}, target="cuda"))
    tt = prompts.abi_lines(_ctx("axpy.uir", {"N": 300}, target="ttmetal"))
    assert "__kernel void axpy(" in ocl and "__global const float* X," in ocl
    assert 'extern "C" __global__ void axpy(' in cu and "    const float* X," in cu and "__global " not in cu
    assert tt.startswith("void axpy(") and "__global" not in tt
    assert not hasattr(_ctx("axpy.uir", {"N": 300}).spec.abi[0], "c_type")
