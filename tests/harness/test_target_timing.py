"""Each target's timing (`Target.time`, `Target.peaks`) and the target-neutral parts in verify/.

CPU here: the OpenCL target on PoCL (skips without an OpenCL device), the CUDA peak kernels
compiled with NVRTC (skip without NVRTC), CUDA's fallback to the Python loop. The tests marked
`gpu` run the CUDA native loop and the peak probes on a real device and skip without one:

    .venv/bin/python -m pytest -q tests/harness/test_target_timing.py tests/harness/test_cuda.py -m gpu
"""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest

from uhop_cc import ir, targets
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.targets.cuda import timing as ct
from uhop_cc.targets.cuda.runtime import cuda_available as driver_available, nvrtc_available
from uhop_cc.targets.opencl import timing as ot
from uhop_cc.verify import native_timing as nt
from uhop_cc.verify.timing import Timing, time_launch

ROOT = Path(__file__).resolve().parents[2]
RELU = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }"
requires_nvrtc = pytest.mark.skipif(not nvrtc_available(), reason="NVRTC unavailable")


# ------------------------------------------------------------------ target-neutral
@pytest.mark.parametrize("module", ["native_timing.py", "timing.py"])
def test_verify_timing_names_no_target(module):
    """The timing left in verify/ is target-neutral: no target name as a string constant."""
    tree = ast.parse((ROOT / "uhop_cc" / "verify" / module).read_text())
    names = set(targets.names())
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names]
    assert not found, f"verify/{module} names targets {found}: that belongs in targets/<name>/timing.py"


def test_flush_size():
    llc = nt.host_llc_bytes()
    assert nt.flush_size() == max(64 << 20, 2 * llc) & ~3
    assert nt.flush_size(device_cache_bytes=1 << 30) == 4 << 30
    assert nt.flush_size(device_cache_bytes=1 << 30, max_alloc_bytes=8 << 20) == 2 << 20  # a quarter of the cap
    assert nt.flush_size(max_alloc_bytes=1 << 20) == 1 << 20  # never under 1 MiB
    assert nt.flush_size() % 4 == 0


def test_cached_peaks_measures_once_per_key():
    calls = []

    def measure():
        calls.append(1)
        return {"gbps": 1.0, "gflops": 2.0}

    key = "test/cached_peaks"
    nt.forget_peaks(key)
    try:
        p = nt.cached_peaks(key, measure)
        p["gbps"] = 99.0  # a copy: the cache is not changed through it
        assert nt.cached_peaks(key, measure) == {"gbps": 1.0, "gflops": 2.0} and len(calls) == 1
        nt.cached_peaks(key, measure, refresh=True)
        assert len(calls) == 2
    finally:
        nt.forget_peaks(key)


def test_loop_options_checks():
    kw = nt.loop_options(1, 3, 2, 0.5, 0.02, "sync", 64)
    assert kw == dict(warmup=1, min_runs=3, max_runs=3, budget_s=0.5, target_rel_ci=0.02, batch=1)
    assert nt.loop_options(0, 1, 1, 0.0, 0.0, "batch", 16)["batch"] == 16
    for bad in (dict(warmup=-1), dict(budget_s=float("inf")), dict(mode="fast")):
        args = dict(warmup=0, min_runs=1, max_runs=1, budget_s=0.0, target_rel_ci=0.0, mode="batch", batch_size=1)
        args.update(bad)
        with pytest.raises(ValueError):
            nt.loop_options(**args)


def test_every_target_has_timing():
    for name in targets.names():
        t = targets.get(name)
        assert callable(t.time) and callable(t.peaks) and callable(t.flush_bytes)


# ------------------------------------------------------------------ OpenCL (PoCL here)
def _bound(sizes, text=RELU):
    return ir.bind_shapes(next(iter(ir.load(text, "t.uir"))), sizes)


def test_opencl_target_times_natively_and_measures_peaks(opencl_device):
    target = targets.get("opencl")
    b = _bound({"N": 1 << 16})
    src = target.renderer(32).generic(b.checked).source
    built = opencl_device.build(src)
    prep = opencl_device.prepare(built, parse_launch(src), b, interpreter.random_inputs(b, 1))
    try:
        t = target.time(prep, 0.2, warmup=1, min_runs=3, max_runs=10)
        again = target.time(prep, 0.2, warmup=0, min_runs=3, max_runs=3, repoison=True)  # the Python loop
    finally:
        prep.release()
    assert isinstance(t, Timing) and t.clock == "device" and 3 <= t.runs <= 10 and t.stages == ["relu"]
    assert isinstance(again, Timing) and again.runs == 3 and again.warmup == 0
    assert target.flush_bytes(opencl_device) == ot.default_flush_bytes(opencl_device.cl_device)
    p = target.peaks(opencl_device)
    assert p == ot.measure_peaks(opencl_device) and p["gbps"] > 0 and p["gflops"] > 0


# ------------------------------------------------------------------ CUDA without a GPU
class _Event:
    def __init__(self, ns):
        self.profile = NS(start=0, end=ns)

    def wait(self):
        pass


class _FakePrepared:
    """What the Python loop needs of a prepared launch: two stages of fixed device time."""
    stage_names = ("a", "b")

    def __init__(self):
        self.launches, self.refills = 0, []

    def launch(self):
        self.launches += 1
        return [_Event(1000), _Event(2000)]

    def finish(self):
        pass

    def repoison(self, k):
        self.refills.append(k)


@pytest.mark.skipif(ct.cuda_available(), reason="checks the fallback taken without a GPU")
def test_cuda_target_time_falls_back_to_python_loop_without_gpu():
    prep = _FakePrepared()
    t = targets.get("cuda").time(prep, 0.1, warmup=1, min_runs=4, max_runs=4, target_rel_ci=0.0, flush=True)
    assert isinstance(t, Timing) and t.clock == "device" and t.runs == 4 and prep.launches == 5
    assert t.median_s == pytest.approx(3e-6) and t.stage_median_s == pytest.approx({"a": 1e-6, "b": 2e-6})
    assert not prep.refills
    t = ct.time_prepared(prep, 0.1, warmup=0, min_runs=2, max_runs=2, repoison=True)
    assert t.runs == 2 and prep.refills == [0, 1]


def test_cuda_peak_geometry():
    g = ct.peak_geometry(sm_count=132, total_mem=80 << 30, l2_bytes=50 << 20)
    assert g["copy_bytes"] == 200 << 20 and g["copy_n4"] * 16 == g["copy_bytes"]
    assert g["copy_grid"] * g["block"] >= g["copy_n4"] and g["fma_threads"] == 132 * 2048
    assert g["fma_grid"] * g["block"] == g["fma_threads"]
    assert ct.peak_geometry(1, 0, 0)["copy_bytes"] == 64 << 20  # at least 64 MiB
    assert ct.peak_geometry(1, 0, 1 << 30)["copy_bytes"] == 512 << 20  # at most 512 MiB
    assert ct.peak_geometry(1, 128 << 20, 0)["copy_bytes"] == 32 << 20  # a quarter of a small memory


@requires_nvrtc
def test_cuda_peak_kernels_compile_with_nvrtc():
    builds = ct.compile_peak_kernels()  # PTX for the default architecture: no GPU needed
    assert set(builds) == {"uhop_peak_copy", "uhop_peak_fma"}
    for name, b in builds.items():
        assert b.ok, b.log
        ptx = b.image.decode(errors="replace")
        assert f".entry {name}" in ptx
    fma = builds["uhop_peak_fma"].image.decode(errors="replace")
    assert fma.count("fma.rn.f32") >= ct.FMA_CHAINS  # the chains survive as FMAs, not folded away
    assert "st.global.v4." in builds["uhop_peak_copy"].image.decode(errors="replace")  # float4 copies


@requires_nvrtc
def test_cuda_peak_kernels_compile_for_a_cubin():
    builds = ct.compile_peak_kernels("sm_90")
    assert all(b.ok and b.kind == "cubin" for b in builds.values())


# ------------------------------------------------------------------ CUDA on a GPU
@pytest.fixture(scope="module")
def cuda_device():
    if not (ct.cuda_available() and driver_available() and nvrtc_available()):
        pytest.skip("no CUDA GPU")
    from uhop_cc.targets.cuda.runtime import CUDADevice
    return CUDADevice.open()


def _cuda_prepared(device, sizes, text=RELU):
    b = _bound(sizes, text)
    src = targets.get("cuda").renderer(32).generic(b.checked).source
    built = device.build(src)
    assert built.ok, built.log
    inputs = interpreter.random_inputs(b, 1)
    return built, device.prepare(built, parse_launch(src), b, inputs), b, inputs


@pytest.mark.gpu
@pytest.mark.skipif(not ct.cuda_available(), reason="no CUDA GPU")
def test_cuda_target_times_natively_like_the_python_loop(cuda_device):
    target = targets.get("cuda")
    n = 1 << 22
    built, prep, b, inputs = _cuda_prepared(cuda_device, {"N": n})
    try:
        native = target.time(prep, 0.5, warmup=2, min_runs=20, max_runs=50)
        flushed = target.time(prep, 0.5, warmup=1, min_runs=5, max_runs=5, target_rel_ci=0.0, flush=True)
        python = time_launch(prep, warmup=2, min_runs=20, max_runs=50, budget_s=0.5)
        out = prep.read_outputs()["Y"]
    finally:
        prep.release()
        built.release()
    assert np.array_equal(out, np.maximum(inputs["X"], 0))
    assert native.clock == "device" and native.stages == ["relu"] and 20 <= native.runs <= 50
    assert native.iqr_s >= 0 and native.min_s <= native.median_s <= native.max_s
    assert flushed.runs == 5 and flushed.stopped_by == "max_runs"
    # same kernel, same events: the native median is within 30% of the Python loop's
    assert native.median_s == pytest.approx(python.median_s, rel=0.3)
    assert 8 * n / native.median_s / 1e9 > 50  # any GPU moves a 32 MiB relu faster than this


@pytest.mark.gpu
@pytest.mark.skipif(not ct.cuda_available(), reason="no CUDA GPU")
def test_cuda_target_times_every_stage(cuda_device):
    built, prep, _b, _inputs = _cuda_prepared(cuda_device, {"R": 64, "C": 256},
                                              (ROOT / "examples" / "softmax.uir").read_text())
    try:
        t = targets.get("cuda").time(prep, 0.3, min_runs=3)
    finally:
        prep.release()
        built.release()
    assert t.stages == ["softmax__m", "softmax__e", "softmax__s", "softmax"]
    assert set(t.stage_median_s) == set(t.stages)
    assert sum(t.stage_median_s.values()) == pytest.approx(t.median_s, rel=0.5)


@pytest.mark.gpu
@pytest.mark.skipif(not ct.cuda_available(), reason="no CUDA GPU")
def test_cuda_peaks_and_roofline(cuda_device):
    target = targets.get("cuda")
    p = target.peaks(cuda_device)
    assert p["source"] == "measured" and p["device"].endswith(cuda_device.name)
    fp = cuda_device.fingerprint()
    if fp.get("peak_dram_gbps"):  # a copy reaches a good part of the theoretical DRAM bandwidth, never more
        assert 0.3 * fp["peak_dram_gbps"] < p["gbps"] < 1.1 * fp["peak_dram_gbps"], (p, fp["peak_dram_gbps"])
    assert p["gflops"] > 1000, p  # any CUDA GPU of the last decade does a TFLOP/s of fp32 FMAs
    assert target.peaks(cuda_device) == p  # cached per device
    r = nt.roofline(0, 2 * p["copy_bytes"], p["gflops"], p["gbps"], seconds=p["copy_s"])
    assert r["bound"] == "memory" and r["fraction"] == pytest.approx(1.0)
    assert target.flush_bytes(cuda_device) >= 4 * int(fp.get("l2_cache_bytes") or 0)


def test_opencl_falls_back_to_python_loop_without_native_harness(monkeypatch):
    def unavailable(*_a, **_k):
        raise nt.HarnessUnavailable("not built")

    monkeypatch.setattr(ot, "time_opencl", unavailable)
    prep = _FakePrepared()
    t = targets.get("opencl").time(prep, 0.1, warmup=0, min_runs=2, max_runs=2, mode="sync")
    assert t.runs == 2 and not prep.refills
    # an arena flush stands for refilling the outputs: the Python loop repoisons instead
    t = targets.get("opencl").time(prep, 0.1, warmup=0, min_runs=3, max_runs=3, flush_buffer=object())
    assert t.runs == 3 and prep.refills == [0, 1, 2]
