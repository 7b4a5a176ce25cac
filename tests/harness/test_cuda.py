"""CUDA through the driver API: `cuda_available()` everywhere, real launches where a GPU exists."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from uhop_cc.targets.cuda import timing as ct
from uhop_cc.verify.timing import Timing

# x[i] = 2 * x[i] for i < n (hand-written PTX: no toolkit needed, the driver JIT-compiles it)
SCALE_PTX = r"""
.version 7.0
.target sm_70
.address_size 64

.visible .entry scale2(
    .param .u64 scale2_x,
    .param .u32 scale2_n
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<3>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [scale2_x];
    ld.param.u32 %r1, [scale2_n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.s32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd2, %rd1;
    mul.wide.s32 %rd3, %r5, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.f32 %f1, [%rd4];
    add.f32 %f2, %f1, %f1;
    st.global.f32 [%rd4], %f2;
DONE:
    ret;
}
"""

requires_gpu = pytest.mark.skipif(not ct.cuda_available(), reason="CUDA unavailable")


def test_cuda_available_is_a_bool_without_crashing():
    ok = ct.cuda_available()
    assert isinstance(ok, bool)
    if not ok:
        assert ct.cuda_unavailable_reason()
        with pytest.raises(ct.HarnessUnavailable, match="CUDA unavailable"):
            ct.time_cuda(1, (1,), (1,), 0, [])
        with pytest.raises(ct.HarnessUnavailable):
            ct.CudaDriver()


def test_param_normalisation():
    assert ct.cuda_param(5) == 5 and ct.cuda_param(True) == 1 and ct.cuda_param(1.5) == 1.5
    assert ct.cuda_param(np.int32(7)) == struct.pack("<i", 7)
    assert ct.cuda_param(np.float64(0.5)) == struct.pack("<d", 0.5)

    class Dev:
        __cuda_array_interface__ = {"data": (0xABC000, False)}
    assert ct.cuda_param(Dev()) == 0xABC000
    with pytest.raises(TypeError):
        ct.cuda_param(object())


@pytest.fixture(scope="module")
def cuda():
    if not ct.cuda_available():
        pytest.skip(f"CUDA unavailable: {ct.cuda_unavailable_reason()}")
    drv = ct.CudaDriver(0)
    mod = drv.load(SCALE_PTX)
    fn = drv.function(mod, "scale2")
    n = 1 << 20
    ptr = drv.alloc(4 * n)
    yield drv, fn, ptr, n
    drv.free(ptr)
    drv.unload(mod)


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("mode", ["sync", "batch"])
def test_cuda_times_a_real_kernel(cuda, mode):
    drv, fn, ptr, n = cuda
    drv.upload(ptr, np.ones(n, np.float32))
    t = ct.time_cuda(fn, ((n + 255) // 256,), (256,), 0, [ptr, np.int32(n)], warmup=1, min_runs=5, max_runs=5,
                     target_rel_ci=0.0, context=drv.context, mode=mode)
    assert isinstance(t, Timing) and t.clock == "device" and t.runs == 5 and t.stopped_by == "max_runs"
    assert t.median_s > 0 and t.min_s <= t.median_s <= t.max_s and t.iqr_s >= 0
    out = np.frombuffer(drv.download(ptr, 4 * n), np.float32)
    assert np.all(out == 2.0 ** 6)  # 1 warm-up + 5 runs, each doubling


@pytest.mark.gpu
@requires_gpu
def test_cuda_multi_stage_and_flush(cuda):
    drv, fn, ptr, n = cuda
    st = (fn, ((n + 255) // 256,), (256,), 0, [ptr, np.int32(n)])
    run = ct.cuda_run([st, st], names=["a", "b"], warmup=1, min_runs=6, max_runs=6, target_rel_ci=0.0,
                      flush=True, flush_bytes=64 << 20)
    assert run.stage_names == ["a", "b"] and run.flushes == 7 and len(run.flush_s) == 6
    for i, total in enumerate(run.device_s):
        assert total == pytest.approx(run.stage_s[0][i] + run.stage_s[1][i], rel=1e-9)


@pytest.mark.gpu
@requires_gpu
def test_cuda_invalid_handles(cuda):
    drv, fn, ptr, n = cuda
    with pytest.raises(ValueError, match="function handle is 0"):
        ct.time_cuda(0, (1,), (1,), 0, [ptr, np.int32(n)])
    with pytest.raises(ValueError, match="block"):
        ct.time_cuda(fn, (1,), (0,), 0, [ptr, np.int32(n)])
    with pytest.raises(RuntimeError, match="cuLaunchKernel"):
        ct.time_cuda(fn, (1,), (4096,), 0, [ptr, np.int32(n)])  # more threads per block than allowed


def test_cuda_prepared_adapter_without_gpu():
    """A CudaPrepared (uhop_cc.targets.cuda.runtime) becomes int handles and parameter bytes."""
    from types import SimpleNamespace as NS
    live = NS(function=77, grid=(4, 1, 1), block=(256, 1, 1), smem=128, name="relu", empty=False)
    empty = NS(function=78, grid=(0, 1, 1), block=(64, 1, 1), smem=0, name="skip", empty=True)
    prep = NS(plan=NS(launches=[live, empty]),
              param_values=[[np.array([0xBEEF00], np.uint64), np.array([5], np.int32)], []],
              device=NS(stream=9, ctx=8))
    stages, names, stream, ctx = ct.cuda_prepared_stages(prep)
    assert names == ["relu"] and (stream, ctx) == (9, 8)
    assert stages == [(77, (4, 1, 1), (256, 1, 1), 128, [struct.pack("<Q", 0xBEEF00), struct.pack("<i", 5)])]
