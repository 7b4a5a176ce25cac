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


def test_every_target_goes_through_the_stages(tmp_path):
    """TT-Metal too: its compile-only device syntax-checks the project after the static analyzer
    (tests/targets/ttmetal/test_pipeline.py checks the project it writes)."""
    dev = open_device("ttmetal")
    assert not device_runs(dev)
    r = compile_bound(_relu(1024), target="ttmetal", outdir=tmp_path / "o")
    assert r.status == "NOT_RUN" and r.compile_only and r.analysis is not None and r.reason == dev.not_run_reason
    assert r.kernel.files and (tmp_path / "o" / "report.json").is_file() and (tmp_path / "o" / "plan.json").is_file()
    with pytest.raises(ValueError, match="unknown target"):
        compile_bound(_relu(), target="nosuch")


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


def _opencl_device():
    try:
        return open_device(targets.DEFAULT)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no OpenCL device: {e}")


def test_an_untrusted_kernel_never_runs_without_its_entry_stage():
    """A stage list without `analyze` (where untrusted kernels are sent to the judge's child process)
    skips the user's kernel instead of building and running it in this process."""
    device = _opencl_device()
    b = _relu()
    src = targets.renderer(targets.DEFAULT).generic(b.checked).source
    job = Job(b, targets.get(targets.DEFAULT), device, kernels=[user_kernel(b, targets.DEFAULT, src, "k.cl")])
    result = run_stages(job, [s for s in STAGES if s.name != "analyze"])
    assert not result.ok and result.program is None
    assert [a.status for a in result.attempts] == ["skipped"] and "analyze" in result.attempts[0].reason


def test_a_missing_analyzer_is_skipped_not_a_traceback(monkeypatch):
    """Without the native module the analyzer raises ImportError when called: the compile goes on."""
    import uhop_cc.analyze as analyze_pkg

    def missing():
        raise ImportError("uhop_cc._native is not built")
    monkeypatch.setattr(analyze_pkg, "_native", missing)
    r = compile_bound(_relu(), device=_opencl_device(), time=False, use_cache=False)
    assert r.ok and r.analysis is None


def test_a_timing_fault_is_a_note(monkeypatch):
    """A launch fault while timing (the native loop raises) leaves a validated result with a note."""
    from uhop_cc.targets.common import LaunchFailure
    target = targets.get(targets.DEFAULT)

    def faulty(prepared, budget_s, **options):
        raise LaunchFailure("the launch failed: CL_OUT_OF_RESOURCES")
    monkeypatch.setattr(target, "time", faulty)
    r = compile_bound(_relu(), device=_opencl_device(), use_cache=False)
    assert r.ok and r.timing is None and any("not timed: LaunchFailure" in n for n in r.notes), r.notes
