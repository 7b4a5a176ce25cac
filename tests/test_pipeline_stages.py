"""The pipeline as data: the named, ordered stages, a run over a subset of them, and the device each
target compiles on (a compile-only device of CUDA where NVRTC works without a GPU)."""
from pathlib import Path

import pytest

from uhop_cc import ir, targets
from uhop_cc.pipeline import STAGES, compile_bound, open_device, run_stages
from uhop_cc.stages import Job, device_runs, first_stage, user_kernel

ROOT = Path(__file__).resolve().parents[1]


def _relu(n=1000):
    return ir.bind_shapes(ir.load_file(ROOT / "examples" / "relu.uir")[0], {"N": n})


def test_stages_are_a_named_ordered_list():
    assert [s.name for s in STAGES] == ["spec", "candidates", "launch", "analyze", "build", "validate", "time",
                                        "ai", "write"]
    assert [s.name for s in STAGES if s.per_kernel] == ["launch", "analyze", "build", "validate"]


def test_untrusted_kernels_enter_at_analyze():
    b = _relu()
    assert first_stage(user_kernel(b, targets.DEFAULT, "src", "k.cl")) == "analyze"
    assert first_stage(targets.renderer(targets.DEFAULT).generic(b.checked)) == "launch"
    assert user_kernel(b, "cuda", "src", "dir/k.cu").file_name == targets.get("cuda").file_name


def test_a_target_the_pipeline_does_not_compile_is_refused():
    with pytest.raises(ValueError, match="writes a project"):
        compile_bound(_relu(), target="ttmetal")


@pytest.mark.skipif(targets.get("cuda").mode()[0] != "nvrtc", reason="needs NVRTC without a CUDA GPU")
def test_cuda_without_a_gpu_opens_a_compile_only_device():
    dev = open_device("cuda")
    assert not device_runs(dev) and dev.fingerprint() == {"name": "none (NVRTC compile check only)"}
    r = compile_bound(_relu(), target="cuda")
    assert r.status == "NOT_RUN" and r.compile_only and r.analysis is not None and r.build["ok"]
    assert r.program is None and r.reason == dev.not_run_reason


@pytest.mark.opencl
def test_a_run_over_a_subset_of_the_stages(tmp_path):
    try:
        device = open_device(targets.DEFAULT)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no OpenCL device: {e}")
    job = Job(_relu(), targets.get(targets.DEFAULT), device, outdir=tmp_path / "o")
    result = run_stages(job, [s for s in STAGES if s.name not in ("validate", "time")])
    assert result.ok and result.validation is None and result.timing is None and result.status == "NOT_VALIDATED"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["kernel.cl", "report.json", "spec.json"]
