"""Every hostile kernel of cheat_kernels.py, served by the loopback LLM server through the real
loop (`improve`): none passes, none is cached, every one is archived with its status."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai.cheats.cheat_kernels import CUDA, OPENCL, Cheat
from ai.fake_llm import reply
from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.ai.loop import improve
from uhop_cc.dataset import cache
from uhop_cc.dataset.store import DatasetStore


def _fenced(c: Cheat) -> str:
    return f"Here is a much faster kernel.\n\n```{'cuda' if c.target == 'cuda' else 'opencl'}\n{c.source}```\n"


@pytest.fixture(scope="module")
def device():
    reason = opencl_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    return OpenCLDevice.open()


class _SlowBaseline:
    """A deterministic result that took 1 s: any candidate that passed would be PASSED."""
    ok = True
    kernel = None
    spec = None
    timing = {"median_s": 1.0}


def _run(c: Cheat, device, llm):
    bound = ir.bind_shapes(ir.select_kernel(ir.load(c.uir)), dict(c.sizes))
    llm.queue(reply(_fenced(c)))
    if c.target == "cuda":
        from uhop_cc.targets.cuda.runtime import CUDADevice, cuda_available
        device = CUDADevice.open() if cuda_available() else None
    out = improve(bound, target=c.target, device=device,
                  baseline=_SlowBaseline(), samples=1, rounds=1, time_budget_s=0.05, check_timeout_s=20)
    assert len(out.attempts) == 1
    return bound, out, out.attempts[0]


def _assert_caught(c: Cheat, bound, out, a, on_gpu: bool = False) -> None:
    expect = c.expect_gpu if on_gpu and c.expect_gpu else c.expect
    assert a.status in expect, f"{c.name} ({c.why}): {a.status}: {a.reason}"
    assert a.status not in ("PASSED", "SLOWER") and not a.verified and out.kernel is None
    # never cached
    assert cache.lookup(cache.uir_hash(bound), c.target, out.device, bound.sizes, dataset_dir=out.dataset_dir) is None
    # archived with its label
    rows = DatasetStore(out.dataset_dir).query()
    assert [r["status"] for r in rows] == [a.status]
    meta = json.loads((Path(a.folder) / "metadata.json").read_text())
    assert meta["status"] == a.status and meta["verified"] is False and meta["reason"]


@pytest.mark.parametrize("c", OPENCL, ids=[c.name for c in OPENCL])
def test_opencl_cheat_is_caught(c, device, llm):
    _assert_caught(c, *_run(c, device, llm))


@pytest.mark.parametrize("c", CUDA, ids=[c.name for c in CUDA])
def test_cuda_cheat_is_caught(c, llm):
    """Without a GPU: analysed and compiled (NVRTC); with one, run like the OpenCL cheats."""
    from uhop_cc.targets.cuda.runtime import cuda_available, nvrtc_available
    on_gpu = cuda_available()
    if not on_gpu and not nvrtc_available() and c.expect != {"ANALYSIS_REJECTED"}:
        pytest.skip("needs NVRTC")
    _assert_caught(c, *_run(c, None, llm), on_gpu=on_gpu)


def test_a_correct_kernel_still_passes(device, llm):
    """The control: the same path accepts an honest kernel."""
    from ai.cheats.cheat_kernels import GOOD_BODY, HEAD
    honest = Cheat("honest", "correct", HEAD + GOOD_BODY, frozenset({"PASSED"}))
    bound, out, a = _run(honest, device, llm)
    assert a.status == "PASSED" and a.verified, a.reason
    assert cache.lookup(cache.uir_hash(bound), "opencl", out.device, bound.sizes, dataset_dir=out.dataset_dir)


def test_a_correct_serial_mse_over_a_million_terms_passes(device, llm):
    from ai.cheats.cheat_kernels import MSE, MSE_HEAD
    src = MSE_HEAD + "    float s = 0.0f;\n    for (int i = 0; i < N; ++i) { float d = A[i] - B[i]; s += d * d; }\n" \
                     "    L[0] = s / N;\n}\n"
    bound, out, a = _run(Cheat("serial-mse", "correct", src, frozenset({"PASSED"}), uir=MSE, sizes={"N": 1 << 20}),
                         device, llm)
    assert a.status == "PASSED", a.reason


def test_cheat_corpus_is_large_enough():
    names = [c.name for c in OPENCL + CUDA]
    assert len(set(names)) == len(names) and len(OPENCL) >= 37 and len(CUDA) >= 10
