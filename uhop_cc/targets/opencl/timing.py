"""OpenCL timing: the native C++ launch loop over pyopencl handles, and the device's peaks.

`time_opencl` takes the same `PreparedLaunch` as `uhop_cc.verify.timing.time_launch` (or raw
pyopencl/int handles), runs the loop of `uhop_cc.verify.native_timing` in C++ (the ICD loader
is dlopen'ed at run time; device time from the profiling events of each stage) and returns the
same `Timing`. `time_prepared` is what `OpenCLTarget.time` does: the native loop, the Python
loop where the native module is missing.

`measure_peaks(device)` measures copy bandwidth and FMA throughput of an OpenCL device, cached
per device name (`native_timing.cached_peaks`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ...verify.native_timing import (HarnessUnavailable, LoopRun, cached_peaks, flush_size, harness, loop_options,
                                     loop_run, native_available)
from ...verify.timing import PYTHON_LOOP_OPTIONS, Timing, time_launch
from ..common import LaunchFailure

__all__ = ["opencl_available", "opencl_library", "opencl_run", "time_opencl", "time_prepared", "default_flush_bytes",
           "measure_peaks", "HarnessUnavailable"]

BACKEND = "opencl"


def opencl_available() -> bool:
    """The OpenCL ICD loader can be loaded (devices are not checked)."""
    if not native_available():
        return False
    _import_pyopencl()
    return bool(harness().opencl_available()[0])


def opencl_library() -> str:
    """Path or soname of the OpenCL loader the harness dispatches through."""
    _import_pyopencl()
    return str(harness().opencl_library())


def _import_pyopencl():
    # Imported first so that the harness finds pyopencl's own ICD loader already mapped and
    # dispatches through the same one.
    try:
        import pyopencl  # noqa: F401
        return pyopencl
    except ImportError:
        return None


def _handle(obj: Any, what: str, kind: Optional[str] = None) -> int:
    """The int handle of a pyopencl object (checked to be a `kind`, e.g. 'Kernel') or an int.

    An int handle is trusted: 0 is refused (by the native side, with a clear message) and the
    runtime's own checks apply, but a non-zero int that is not a live object of the right
    type cannot be detected safely and may crash the OpenCL runtime."""
    if isinstance(obj, bool):
        raise TypeError(f"{what}: expected a handle, got a bool")
    if isinstance(obj, int):
        if obj < 0:
            raise ValueError(f"{what}: a handle cannot be negative")
        return obj
    ptr = getattr(obj, "int_ptr", None)
    if ptr is None:
        raise TypeError(f"{what}: expected a pyopencl object or an int handle, got {type(obj).__name__}")
    if kind is not None and not any(c.__name__ == kind for c in type(obj).__mro__):
        raise TypeError(f"{what}: expected a pyopencl {kind}, got {type(obj).__name__}")
    return int(ptr)


def _dims(v: Any, what: str) -> Optional[Tuple[int, ...]]:
    if v is None:
        return None
    if isinstance(v, int):
        v = (v,)
    t = tuple(int(x) for x in v)
    if not 1 <= len(t) <= 3 or any(x < 0 for x in t):
        raise ValueError(f"{what} must have 1 to 3 non-negative dimensions, got {t}")
    return t


def _is_stage_tuple(x: Any) -> bool:
    return (isinstance(x, (tuple, list)) and len(x) in (2, 3) and (isinstance(x[0], int) or hasattr(x[0], "int_ptr"))
            and not isinstance(x[1], (str, bytes)))


def _opencl_stages(launch: Any, queue: Any) -> Tuple[Any, List[Tuple[str, int, Tuple[int, ...], Optional[Tuple[int, ...]]]]]:
    """(queue, [(name, kernel handle, global, local)]) of a PreparedLaunch or of raw stages."""
    plan = getattr(launch, "plan", None)
    if plan is not None and hasattr(plan, "kernels"):  # PreparedLaunch
        q = queue if queue is not None else launch.queue
        stages = []
        for stage, kernel, _args, g, loc in plan.kernels:
            name = getattr(stage, "kernel_name", None) or getattr(kernel, "function_name", "kernel")
            stages.append((str(name), kernel, g, loc))
    else:
        if queue is None:
            raise ValueError("queue= is needed with raw kernel handles (a pyopencl CommandQueue or its int_ptr)")
        q = queue
        items = [launch] if _is_stage_tuple(launch) else list(launch)
        stages = []
        for i, item in enumerate(items):
            if not _is_stage_tuple(item):
                raise TypeError(f"stage {i}: expected (kernel, global[, local]), got {item!r}")
            kernel, g = item[0], item[1]
            loc = item[2] if len(item) == 3 else None
            name = getattr(kernel, "function_name", None) if not isinstance(kernel, int) else None
            stages.append((str(name or f"stage{i}"), kernel, g, loc))
    out = []
    for i, (name, kernel, g, loc) in enumerate(stages):
        gd = _dims(g, f"stage {i} global size")
        ld = _dims(loc, f"stage {i} local size")
        if ld is not None and len(ld) != len(gd):
            raise ValueError(f"stage {i}: local size {ld} and global size {gd} differ in dimensions")
        if 0 in gd:  # an empty stage launches nothing, as PreparedLaunch.launch does
            continue
        out.append((name, _handle(kernel, f"stage {i} kernel", "Kernel"), gd, ld))
    if not out:
        raise ValueError("nothing to launch: no stage, or every stage has an empty global size")
    return q, out


def default_flush_bytes(cl_device: Any = None) -> int:
    """Scratch size for a cache flush on `cl_device` (`native_timing.flush_size` of its global
    memory cache and largest allocation; the host's cache alone without a device)."""
    cache = cap = 0
    if cl_device is not None:
        try:
            cache, cap = int(cl_device.global_mem_cache_size), int(cl_device.max_mem_alloc_size)
        except Exception:  # noqa: BLE001 - the device does not say
            cache = cap = 0
    return flush_size(cache, cap)


def opencl_run(launch: Any, *, queue: Any = None, warmup: int = 2, min_runs: int = 5, max_runs: int = 100,
               budget_s: float = 2.0, target_rel_ci: float = 0.02, flush: bool = False,
               flush_bytes: Optional[int] = None, flush_buffer: Any = None, mode: str = "batch",
               batch_size: int = 64) -> LoopRun:
    """Run the native OpenCL loop and return everything it measured (see `time_opencl`)."""
    h = harness()
    cl = _import_pyopencl()
    ok, why = h.opencl_available()
    if not ok:
        raise HarnessUnavailable(why)
    q, stages = _opencl_stages(launch, queue)
    qh = _handle(q, "queue", "CommandQueue")
    fb, fbuf = 0, 0
    if flush or flush_buffer is not None or flush_bytes:
        if flush_buffer is not None:
            fbuf = _handle(flush_buffer, "flush_buffer", "MemoryObjectHolder")
            fb = int(flush_bytes or 0)
        else:
            dev = getattr(q, "device", None) if cl is not None and not isinstance(q, int) else None
            fb = int(flush_bytes) if flush_bytes else default_flush_bytes(dev)
        if fb < 0:
            raise ValueError("flush_bytes must be >= 0")
    kw = loop_options(warmup, min_runs, max_runs, budget_s, target_rel_ci, mode, batch_size)
    try:
        raw = h.opencl_time(qh, [(k, list(g), None if loc is None else list(loc)) for _n, k, g, loc in stages],
                            flush_bytes=fb, flush_buffer=fbuf, **kw)
    except ValueError:
        raise
    except RuntimeError as e:
        raise LaunchFailure(str(e)) from None
    return loop_run(BACKEND, raw, [n for n, *_ in stages])


def time_opencl(launch: Any, *, queue: Any = None, warmup: int = 2, min_runs: int = 5, max_runs: int = 100,
                budget_s: float = 2.0, target_rel_ci: float = 0.02, flush: bool = False,
                flush_bytes: Optional[int] = None, flush_buffer: Any = None, mode: str = "batch",
                batch_size: int = 64) -> Timing:
    """Time an OpenCL launch natively; the same `Timing` as `timing.time_launch`.

    `launch`: a `PreparedLaunch` (stages, geometry and queue taken from it; its arguments are
    already set), or raw stages `[(kernel, global, local_or_None), ...]` (or one such tuple)
    with `queue=`; kernels and queue as pyopencl objects or their `int_ptr`. The queue should
    have profiling enabled, else the clock is 'wall'. `flush=True` flushes caches before every
    repetition by filling a scratch buffer (`flush_buffer`, a pyopencl Buffer or cl_mem handle
    on the queue's context, else one allocated here of `flush_bytes`, default
    `default_flush_bytes`); its time is excluded.

    `mode='batch'` (default) enqueues up to `batch_size` repetitions back to back on the
    in-order queue and waits once: every repetition keeps its own device time from its own
    events, the host cost per launch is one enqueue, and `Timing.wall` holds the batch's wall
    time shared equally (flush time removed). `mode='sync'` waits after every repetition as
    `time_launch` does (per-repetition wall time). Without profiling, or on an out-of-order
    queue, the loop is always 'sync'.

    Raises ValueError for invalid handles/geometry, `LaunchFailure` when the runtime refuses
    or fails a launch, `HarnessUnavailable` without the native module or an OpenCL loader."""
    return opencl_run(launch, queue=queue, warmup=warmup, min_runs=min_runs, max_runs=max_runs, budget_s=budget_s,
                      target_rel_ci=target_rel_ci, flush=flush, flush_bytes=flush_bytes,
                      flush_buffer=flush_buffer, mode=mode, batch_size=batch_size).to_timing()


def time_prepared(prepared: Any, budget_s: float, **options: Any) -> Timing:
    """Median-of-runs timing of a `PreparedLaunch`: the native loop (`time_opencl`, `options` as
    there), the Python loop (`time_launch`) where the native module or the loader is missing.
    `repoison=True` (refill the outputs before every repetition) needs the Python loop. With a
    `flush_buffer` (e.g. a PreparedLaunch's arena, outputs included), the Python loop that stands
    in for the native one refills the outputs instead (repoison), the nearest it can do."""
    python_options = {k: v for k, v in options.items() if k in PYTHON_LOOP_OPTIONS}
    if options.pop("repoison", False):
        return time_launch(prepared, budget_s=budget_s, repoison=True, **python_options)
    try:
        return time_opencl(prepared, budget_s=budget_s, **options)
    except HarnessUnavailable:
        return time_launch(prepared, budget_s=budget_s, repoison=options.get("flush_buffer") is not None,
                           **python_options)


# ------------------------------------------------------------------ peaks
_PEAK_COPY = r"""
__kernel void uhop_peak_copy(__global const float4* restrict a, __global float4* restrict b) {
    size_t i = get_global_id(0);
    b[i] = a[i];
}
"""


def _fma_source(width: int, chains: int) -> str:
    t = "float" if width == 1 else f"float{width}"
    init = "\n".join(f"    {t} a{j} = ({t})(x + {j * 0.1:.1f}f);" for j in range(chains))
    body = " ".join(f"a{j} = mad(a{j}, m, c);" for j in range(chains))
    red = " + ".join(f"a{j}" for j in range(chains))
    lanes = "s" if width == 1 else " + ".join(f"s.s{k:x}" for k in range(width))
    return (f"__kernel void uhop_peak_fma(__global float* out, const int iters, const float m, const float c) {{\n"
            f"    float x = (float)get_global_id(0) * 1e-7f;\n{init}\n"
            f"    for (int i = 0; i < iters; ++i) {{ {body} }}\n"
            f"    {t} s = {red};\n    out[get_global_id(0)] = {lanes};\n}}\n")


_FMA_CHAINS = 8


def _cl_parts(device: Any):
    """(pyopencl device, context, profiling queue) of an OpenCLDevice or a pyopencl queue."""
    import pyopencl as cl
    if hasattr(device, "cl_device") and hasattr(device, "queue"):
        return device.cl_device, device.context, device.queue
    if isinstance(device, cl.CommandQueue):
        return device.device, device.context, device
    if isinstance(device, cl.Device):
        ctx = cl.Context([device])
        return device, ctx, cl.CommandQueue(ctx, device, properties=cl.command_queue_properties.PROFILING_ENABLE)
    raise TypeError(f"measure_peaks needs an OpenCLDevice, a pyopencl Device or CommandQueue, got {type(device).__name__}")


def measure_peaks(device: Any, *, refresh: bool = False, copy_bytes: Optional[int] = None,
                  budget_s: float = 0.5) -> Dict[str, Any]:
    """Measured peaks of an OpenCL device, cached per device name for the process.

    Bandwidth: a float4 copy kernel over a buffer of `copy_bytes` (default 4x the device
    cache, 64 MiB to 512 MiB), counted as 2 x size (read + write, as STREAM's copy).
    Compute: 8 independent `mad` chains per work-item on vectors of the device's preferred
    float width (so CPU devices use their SIMD lanes), 2 flops per lane, iterations scaled to
    ~20 ms. Both timed by the native harness; peaks from the fastest repetition.
    Returns {'device', 'gbps', 'gflops', 'copy_bytes', 'copy_s', 'fma_flops', 'fma_s', 'fma_width',
    'source'}."""
    cl_dev, ctx, queue = _cl_parts(device)
    key = f"{cl_dev.platform.name.strip()}/{cl_dev.name.strip()}"
    return cached_peaks(key, lambda: _measure(key, cl_dev, ctx, queue, copy_bytes, budget_s), refresh)


def _measure(key: str, cl_dev: Any, ctx: Any, queue: Any, copy_bytes: Optional[int], budget_s: float) -> Dict[str, Any]:
    import numpy as np
    import pyopencl as cl

    width = int(getattr(cl_dev, "preferred_vector_width_float", 1) or 1)
    width = width if width in (1, 2, 4, 8, 16) else 1
    copy_k = cl.Kernel(cl.Program(ctx, _PEAK_COPY).build(), "uhop_peak_copy")
    fma_k = cl.Kernel(cl.Program(ctx, _fma_source(width, _FMA_CHAINS)).build(), "uhop_peak_fma")
    max_alloc = int(cl_dev.max_mem_alloc_size)
    if copy_bytes is None:
        cache = int(getattr(cl_dev, "global_mem_cache_size", 0) or 0)
        copy_bytes = min(max(4 * cache, 64 << 20), 512 << 20)
    copy_bytes = int(min(copy_bytes, max_alloc, int(cl_dev.global_mem_size) // 4)) & ~(4095)
    a = cl.Buffer(ctx, cl.mem_flags.READ_ONLY, copy_bytes)
    b = cl.Buffer(ctx, cl.mem_flags.WRITE_ONLY, copy_bytes)
    cl.enqueue_fill_buffer(queue, a, np.float32(1.0), 0, copy_bytes)
    copy_k.set_args(a, b)
    n4 = copy_bytes // 16
    t_copy = time_opencl([(copy_k, (n4,), None)], queue=queue, warmup=1, min_runs=3, max_runs=20,
                         budget_s=budget_s, target_rel_ci=0.01)
    cu = max(1, int(cl_dev.max_compute_units))
    wg = min(256, int(cl_dev.max_work_group_size))
    gsize = cu * 2048
    gsize -= gsize % wg
    out = cl.Buffer(ctx, cl.mem_flags.WRITE_ONLY, gsize * 4)
    m, c = np.float32(0.999999), np.float32(1e-7)
    iters = 64
    fma_k.set_args(out, np.int32(iters), m, c)
    probe = time_opencl([(fma_k, (gsize,), (wg,))], queue=queue, warmup=1, min_runs=1, max_runs=1,
                        budget_s=0.0, target_rel_ci=math.inf)
    scale = 0.02 / max(probe.min_s, 1e-7)
    iters = int(min(1 << 20, max(64, iters * scale)))
    fma_k.set_args(out, np.int32(iters), m, c)
    t_fma = time_opencl([(fma_k, (gsize,), (wg,))], queue=queue, warmup=1, min_runs=3, max_runs=20,
                        budget_s=budget_s, target_rel_ci=0.01)
    for buf in (a, b, out):
        buf.release()
    flops = float(gsize) * iters * _FMA_CHAINS * width * 2
    res = {"device": key, "gbps": 2.0 * copy_bytes / t_copy.min_s / 1e9, "gflops": flops / t_fma.min_s / 1e9,
           "copy_bytes": copy_bytes, "copy_s": t_copy.min_s, "copy_median_s": t_copy.median_s,
           "fma_flops": flops, "fma_s": t_fma.min_s, "fma_median_s": t_fma.median_s, "fma_width": width, "source": "measured"}
    return res
