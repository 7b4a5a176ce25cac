"""The native OpenCL launch loop on the real (PoCL) device: no mocks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.targets.opencl import timing as ot
from uhop_cc.verify import native_timing as nt
from uhop_cc.verify.timing import Timing

from harness_kernels import RELU_N

pytestmark = pytest.mark.opencl

SOFTMAX_UIR = """kernel softmax(X: f32[R, C]) -> (Y: f32[R, C]) {
    m[r] = max(c) X[r, c]
    e[r, c] = exp(X[r, c] - m[r])
    s[r] = sum(c) e[r, c]
    Y[r, c] = e[r, c] / s[r]
}"""
SOFTMAX_2STAGE = """
// @launch global=(R)
__kernel void softmax_stats(__global const float* X, __global float* Y, __global float* m,
                            __global float* e, __global float* s, const int R, const int C) {
    int r = get_global_id(0);
    float mx = -INFINITY, acc = 0.0f;
    for (int c = 0; c < C; ++c) mx = fmax(mx, X[r * C + c]);
    for (int c = 0; c < C; ++c) acc += exp(X[r * C + c] - mx);
    m[r] = mx; s[r] = acc;
}
// @launch global=(C, R) local=(16, 1)
__kernel void softmax(__global const float* X, __global float* Y, __global float* m,
                      __global float* e, __global float* s, const int R, const int C) {
    int c = get_global_id(0), r = get_global_id(1);
    Y[r * C + c] = exp(X[r * C + c] - m[r]) / s[r];
}
"""


def check_consistent(t: Timing, min_runs: int, max_runs: int) -> None:
    assert isinstance(t, Timing)
    assert min_runs <= t.runs <= max_runs
    assert t.median_s > 0 and t.min_s <= t.median_s <= t.max_s
    assert t.iqr_s >= 0 and t.std_s >= 0 and t.outliers >= 0
    assert t.ci_low_s <= t.median_s <= t.ci_high_s
    assert len(t.samples_s) == t.runs and t.wall["runs"] == t.runs
    assert t.stopped_by in ("precision", "budget", "max_runs")
    assert all(isinstance(v, float) for v in t.samples_s)  # plain Python values, no pybind11 objects
    t.to_json(samples=True)


def test_uses_pyopencl_loader():
    assert ot.opencl_available()
    assert "OpenCL" in ot.opencl_library()


@pytest.mark.parametrize("mode", ["sync", "batch"])
def test_times_a_real_kernel(opencl_device, kernels, mode):
    t = ot.time_opencl([(kernels.relu, (RELU_N,), None)], queue=opencl_device.queue, warmup=1, min_runs=5,
                       max_runs=40, budget_s=0.3, target_rel_ci=0.02, mode=mode)
    check_consistent(t, 5, 40)
    assert t.clock == "device" and t.warmup == 1 and t.stages == ["relu"]
    assert t.stage_median_s["relu"] == pytest.approx(t.median_s)
    # the kernel really ran: y = relu(-1.5) = 0 everywhere
    import pyopencl as cl
    y = np.full(RELU_N, 7.0, np.float32)
    cl.enqueue_copy(opencl_device.queue, y, kernels.y)
    assert not y.any()


def test_single_stage_tuple_and_int_handles(opencl_device, kernels):
    run = ot.opencl_run((kernels.tiny.int_ptr, (64,), (64,)), queue=opencl_device.queue.int_ptr, warmup=0,
                        min_runs=3, max_runs=3, target_rel_ci=0.0)
    assert run.runs == 3 and run.stopped_by == "max_runs" and run.stage_names == ["stage0"]
    assert len(run.device_s) == 3 and all(d >= 0 for d in run.device_s)


def test_prepared_launch_multi_stage_sums_stages(opencl_device):
    bound = ir.bind_shapes(ir.load(SOFTMAX_UIR)[0], {"R": 128, "C": 256})
    build = opencl_device.build(SOFTMAX_2STAGE)
    assert build.ok, build.log
    prep = opencl_device.prepare(build.program, parse_launch(SOFTMAX_2STAGE), bound,
                                 interpreter.random_inputs(bound, 1))
    try:
        for mode in ("sync", "batch"):
            run = ot.opencl_run(prep, warmup=1, min_runs=8, max_runs=8, target_rel_ci=0.0, mode=mode)
            assert run.stage_names == ["softmax_stats", "softmax"]
            assert len(run.stage_s) == 2 and all(len(s) == 8 for s in run.stage_s)
            for i, total in enumerate(run.device_s):
                assert total == pytest.approx(run.stage_s[0][i] + run.stage_s[1][i], rel=1e-12)
            assert all(min(s) > 0 for s in run.stage_s)
        t = ot.time_opencl(prep, warmup=1, min_runs=5, max_runs=30, budget_s=0.3)
        check_consistent(t, 5, 30)
        assert t.stages == ["softmax_stats", "softmax"] and set(t.stage_median_s) == set(t.stages)
        # the launch computed a softmax
        out = prep.read_outputs()["Y"]
        assert np.allclose(out.sum(axis=1), 1.0, atol=1e-4)
    finally:
        prep.release()


def test_tight_target_small_budget_stops_by_budget(opencl_device, kernels):
    run = ot.opencl_run([(kernels.relu, (RELU_N,))], queue=opencl_device.queue, warmup=0, min_runs=5,
                        max_runs=1_000_000, budget_s=0.15, target_rel_ci=1e-12, mode="sync")
    assert run.stopped_by == "budget"
    assert 5 <= run.runs < 1_000_000 and run.loop_s >= 0.15
    assert run.waits == run.runs  # sync: one wait per repetition
    batch = ot.opencl_run([(kernels.relu, (RELU_N,))], queue=opencl_device.queue, warmup=0, min_runs=5,
                          max_runs=1_000_000, budget_s=0.15, target_rel_ci=1e-12, mode="batch")
    assert batch.stopped_by == "budget" and batch.loop_s >= 0.15 and batch.waits < batch.runs
    assert batch.loop_s < 0.15 + 1.0  # batches are sized to the remaining budget


def test_loose_target_stops_by_precision(opencl_device, kernels):
    for mode in ("sync", "batch"):
        run = ot.opencl_run([(kernels.relu, (RELU_N,))], queue=opencl_device.queue, warmup=1, min_runs=5,
                            max_runs=500, budget_s=30.0, target_rel_ci=10.0, mode=mode)
        assert run.stopped_by == "precision" and run.runs == 5
        assert run.summary["rel_ci"] <= 10.0


def test_max_runs_bounds_the_loop(opencl_device, kernels):
    run = ot.opencl_run([(kernels.tiny, (64,))], queue=opencl_device.queue, warmup=2, min_runs=3, max_runs=7,
                        budget_s=30.0, target_rel_ci=0.0)
    assert run.stopped_by == "max_runs" and run.runs == 7 and run.warmup == 2


def test_cache_flush(opencl_device, kernels):
    q = opencl_device.queue
    kw = dict(queue=q, warmup=1, min_runs=9, max_runs=9, target_rel_ci=0.0)
    plain = ot.opencl_run([(kernels.relu, (RELU_N,))], **kw)
    assert plain.flushes == 0 and plain.flush_s == [] and plain.flush_bytes == 0
    flush_bytes = 48 << 20  # larger than this host's last-level cache
    for mode in ("sync", "batch"):
        flushed = ot.opencl_run([(kernels.relu, (RELU_N,))], flush=True, flush_bytes=flush_bytes, mode=mode, **kw)
        assert flushed.flush_bytes == flush_bytes
        assert flushed.flushes == 1 + 9 and len(flushed.flush_s) == 9 and min(flushed.flush_s) > 0
        # the fill is excluded from the kernel's time, yet on a CPU the kernel now reads from memory
        # (a GPU's L2 and write-back policy make the slowdown device-specific: not asserted there)
        if "CPU" in str(opencl_device.fingerprint().get("device_type", "")).upper():
            assert np.median(flushed.flush_s) > flushed.summary["median_s"]
            assert flushed.summary["median_s"] > plain.summary["median_s"]
    # a scratch buffer given by the caller
    import pyopencl as cl
    scratch = cl.Buffer(opencl_device.context, cl.mem_flags.READ_WRITE, 8 << 20)
    try:
        own = ot.opencl_run([(kernels.relu, (RELU_N,))], flush_buffer=scratch, **kw)
        assert own.flush_bytes == 8 << 20 and own.flushes == 10
    finally:
        scratch.release()
    assert ot.default_flush_bytes(opencl_device.cl_device) >= 64 << 20


def test_null_kernel_handle_is_a_clear_error(opencl_device):
    with pytest.raises(ValueError, match="kernel handle is 0"):
        ot.time_opencl([(0, (64,), None)], queue=opencl_device.queue)


def test_invalid_handles_and_geometry(opencl_device, kernels):
    q = opencl_device.queue
    with pytest.raises(ValueError, match="queue handle is 0"):
        ot.time_opencl([(kernels.tiny, (64,), None)], queue=0)
    with pytest.raises(ValueError, match="queue= is needed"):
        ot.time_opencl([(kernels.tiny, (64,), None)])
    with pytest.raises(TypeError, match="kernel"):
        ot.time_opencl([("tiny", (64,), None)], queue=q)
    with pytest.raises(ValueError, match="differ in dimensions"):
        ot.time_opencl([(kernels.tiny, (64,), (8, 8))], queue=q)
    with pytest.raises(ValueError, match="nothing to launch"):
        ot.time_opencl([(kernels.tiny, (0,), None)], queue=q)
    # pyopencl objects are type-checked before their handles reach the runtime
    with pytest.raises(TypeError, match="expected a pyopencl Kernel, got Buffer"):
        ot.time_opencl([(kernels.small, (64,), None)], queue=q)
    with pytest.raises(TypeError, match="expected a pyopencl CommandQueue"):
        ot.time_opencl([(kernels.tiny, (64,), None)], queue=kernels.small)
    with pytest.raises(TypeError, match="MemoryObjectHolder"):
        ot.time_opencl([(kernels.tiny, (64,), None)], queue=q, flush_buffer=kernels.tiny)
    # the runtime refuses the launch: 64 is not a multiple of 48
    from uhop_cc.targets.opencl.runtime import LaunchFailure
    with pytest.raises(LaunchFailure, match="CL_INVALID_WORK_GROUP_SIZE"):
        ot.time_opencl([(kernels.tiny, (64,), (48,))], queue=q)
    with pytest.raises(ValueError, match="mode"):
        ot.time_opencl([(kernels.tiny, (64,), None)], queue=q, mode="fast")
    # the queue is still usable afterwards
    t = ot.time_opencl([(kernels.tiny, (64,), None)], queue=q, warmup=0, min_runs=2, max_runs=2)
    assert t.runs == 2


def test_queue_without_profiling_falls_back_to_wall(opencl_device, kernels):
    import pyopencl as cl
    q = cl.CommandQueue(opencl_device.context, opencl_device.cl_device)
    run = ot.opencl_run([(kernels.tiny, (64,))], queue=q, warmup=0, min_runs=4, max_runs=4, target_rel_ci=0.0,
                        mode="batch")
    assert run.clock == "wall" and run.device_s == [] and run.waits == 4  # forced to sync
    t = run.to_timing()
    assert t.clock == "wall" and t.samples_s == run.wall_s and t.stage_median_s == {}


def test_agrees_with_the_python_loop(opencl_device):
    """Same PreparedLaunch, both harnesses: device medians of the same order."""
    from uhop_cc.verify.timing import time_launch
    bound = ir.bind_shapes(ir.load(SOFTMAX_UIR)[0], {"R": 256, "C": 512})
    build = opencl_device.build(SOFTMAX_2STAGE)
    prep = opencl_device.prepare(build.program, parse_launch(SOFTMAX_2STAGE), bound,
                                 interpreter.random_inputs(bound, 2))
    try:
        py = time_launch(prep, warmup=2, min_runs=10, max_runs=30, budget_s=0.5)
        na = ot.time_opencl(prep, warmup=2, min_runs=10, max_runs=30, budget_s=0.5)
        assert na.stages == list(py.stages)
        assert 1 / 4 < na.median_s / py.median_s < 4
    finally:
        prep.release()


def test_roofline_math():
    r = nt.roofline(flops=2e9, bytes=1e9, peak_gflops=100.0, peak_gbps=10.0)
    assert r["bound"] == "memory" and r["attainable_gflops"] == pytest.approx(20.0) and r["fraction"] is None
    r = nt.roofline(2e9, 1e9, 100.0, 10.0, seconds=0.2)  # roofline time 0.1 s
    assert r["fraction"] == pytest.approx(0.5) and r["achieved_gflops"] == pytest.approx(10.0)
    c = nt.roofline(1e12, 1e6, 100.0, 10.0, seconds=20.0)
    assert c["bound"] == "compute" and c["attainable_gflops"] == pytest.approx(100.0)
    assert c["fraction"] == pytest.approx(0.5)
    copy = nt.roofline(0, 8e9, 100.0, 10.0, seconds=1.6)  # no flops: bandwidth fraction
    assert copy["bound"] == "memory" and copy["fraction"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        nt.roofline(1, 1, 0, 1)


def test_measure_peaks_and_performance(opencl_device, kernels):
    p = ot.measure_peaks(opencl_device, copy_bytes=32 << 20, budget_s=0.2)
    assert p["gbps"] > 0.1 and p["gflops"] > 0.1 and p["source"] == "measured"
    assert ot.measure_peaks(opencl_device) == p  # cached per device name
    t = ot.time_opencl([(kernels.relu, (RELU_N,))], queue=opencl_device.queue, warmup=1, min_runs=5, max_runs=5)
    perf = nt.performance(t, flops=RELU_N, nbytes=8 * RELU_N, peaks=p)
    assert perf["gbps"] == pytest.approx(8 * RELU_N / t.median_s / 1e9)
    assert perf["roofline"]["bound"] == "memory" and 0 < perf["roofline"]["fraction"]
    assert math.isclose(perf["gflops"], t.gflops(RELU_N))
