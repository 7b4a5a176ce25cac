"""Native (C++) timing harness: OpenCL and CUDA launch loops with the statistics in C++.

`time_opencl` is a drop-in for `uhop_cc.verify.timing.time_launch`: it takes the same
`PreparedLaunch` (or raw pyopencl/int handles), runs the same loop -- warm-up, then
repetitions until `min_runs` and either the median's relative 95% CI is at most
`target_rel_ci` ('precision') or `budget_s` is spent ('budget'), never more than `max_runs`
('max_runs') -- and returns the same `Timing`. The launches, the waits and the event
reads happen in C++ (``uhop_cc._native.harness``, OpenCL and libcuda are dlopen'ed at run
time), so a repetition costs no Python.

Statistics (C++, identical in definition to `timing.summarize`): median and quartiles as
NumPy's linear percentile, std with ddof=1, cv = std/mean, outliers by Tukey's 1.5 IQR
fences. The median's CI is distribution-free, from order statistics: with n sorted samples
the ranks floor(n/2 - 1.96 sqrt(n)/2) and ceil(n/2 + 1.96 sqrt(n)/2) (normal approximation
of the Binomial(n, 1/2) rank of the median; no bootstrap); rel_ci = (hi - lo) / (2 median),
infinite while n < 3.

Device time of a repetition is the sum over its stages of END - START of their profiling
events (OpenCL) or `cuEventElapsedTime` between events recorded around each stage (CUDA);
host wall time (first enqueue to completion) is kept beside it (`Timing.wall`). With
`flush=True` every repetition is preceded by a fill of a scratch buffer larger than the
last-level cache, waited for, and excluded from both clocks.

Rates: `roofline(flops, bytes, peak_gflops, peak_gbps, seconds)` and `performance(timing,
flops, bytes, peaks)`; `measure_peaks(device)` measures copy bandwidth and FMA throughput
of an OpenCL device (cached per device name).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .timing import Timing

try:
    from .. import _native as _native_mod

    _h = _native_mod.harness
    _IMPORT_ERROR: Optional[BaseException] = None
except (ImportError, AttributeError) as _exc:  # pragma: no cover - broken install
    _h = None
    _IMPORT_ERROR = _exc

__all__ = [
    "HarnessUnavailable", "LoopRun", "native_available", "opencl_available", "opencl_library", "cuda_available",
    "cuda_unavailable_reason", "summarize", "median_ci", "opencl_run", "time_opencl", "cuda_run", "time_cuda",
    "time_cuda_stages", "cuda_prepared_stages", "default_flush_bytes", "host_llc_bytes", "roofline", "performance", "measure_peaks", "CudaDriver",
]

_SUMMARY_INT = ("runs", "outliers")


class HarnessUnavailable(RuntimeError):
    """The native module, or the runtime a call needs, cannot be used."""


def _need() -> Any:
    if _h is None:
        raise HarnessUnavailable(f"uhop_cc._native.harness is not built ({_IMPORT_ERROR}): run pip install -e .")
    return _h


def native_available() -> bool:
    return _h is not None


def _plain_summary(d: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: (int(v) if k in _SUMMARY_INT else float(v)) for k, v in d.items()}


# ------------------------------------------------------------------ statistics
def summarize(samples: Iterable[float]) -> Dict[str, Any]:
    """The C++ statistics of durations: the keys (and definitions) of `timing.summarize`."""
    return _plain_summary(_need().summarize([float(x) for x in samples]))


def median_ci(samples: Iterable[float]) -> Tuple[float, float]:
    """Order-statistics ~95% CI of the median (C++)."""
    lo, hi = _need().median_ci([float(x) for x in samples])
    return float(lo), float(hi)


# ------------------------------------------------------------------ results
@dataclass
class LoopRun:
    """Everything a native loop measured (seconds); `to_timing()` gives the `Timing`."""
    backend: str  # 'opencl' or 'cuda'
    clock: str
    stopped_by: str
    warmup: int
    stage_names: List[str]
    device_s: List[float]
    wall_s: List[float]
    stage_s: List[List[float]]  # [stage][repetition], empty when clock == 'wall'
    flush_s: List[float]  # per measured repetition; empty without flush
    flush_bytes: int
    flushes: int  # warm-up included
    loop_s: float
    waits: int  # host waits in the measured loop (== runs in 'sync' mode)
    batch: int  # most repetitions per wait (1: 'sync')
    summary: Dict[str, Any] = field(repr=False)
    wall_summary: Dict[str, Any] = field(repr=False)
    stage_median_s: Dict[str, float] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.wall_s)

    def to_timing(self) -> Timing:
        s = self.summary
        samples = self.device_s if self.clock == "device" else self.wall_s
        return Timing(clock=self.clock, runs=s["runs"], median_s=s["median_s"], min_s=s["min_s"], max_s=s["max_s"],
                      mean_s=s["mean_s"], std_s=s["std_s"], iqr_s=s["iqr_s"], cv=s["cv"], outliers=s["outliers"],
                      ci_low_s=s["ci_low_s"], ci_high_s=s["ci_high_s"], rel_ci=s["rel_ci"],
                      wall=dict(self.wall_summary), warmup=self.warmup, stages=list(self.stage_names),
                      stage_median_s=dict(self.stage_median_s), stopped_by=self.stopped_by,
                      samples_s=list(samples))


def _unique(names: Sequence[str]) -> List[str]:
    seen: Dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _loop_run(backend: str, raw: Mapping[str, Any], names: Sequence[str]) -> LoopRun:
    names = _unique(list(names))
    clock = str(raw["clock"])
    stage_s = [[float(x) for x in st] for st in raw["stage_s"]] if clock == "device" else []
    stage_median = ({n: float(m) for n, m in zip(names, raw["stage_median_s"])} if clock == "device" else {})
    return LoopRun(backend=backend, clock=clock, stopped_by=str(raw["stopped_by"]), warmup=int(raw["warmup"]),
                   stage_names=names, device_s=[float(x) for x in raw["device_s"]],
                   wall_s=[float(x) for x in raw["wall_s"]], stage_s=stage_s,
                   flush_s=[float(x) for x in raw["flush_s"]], flush_bytes=int(raw["flush_bytes"]),
                   flushes=int(raw["flushes"]), loop_s=float(raw["loop_s"]),
                   waits=int(raw["waits"]), batch=int(raw["batch"]),
                   summary=_plain_summary(raw["summary"]), wall_summary=_plain_summary(raw["wall_summary"]),
                   stage_median_s=stage_median)


def _batch(mode: str, batch_size: int) -> int:
    if mode == "sync":
        return 1
    if mode == "batch":
        return max(1, int(batch_size))
    raise ValueError(f"mode must be 'batch' or 'sync', got {mode!r}")


def _loop_kwargs(warmup, min_runs, max_runs, budget_s, target_rel_ci) -> Dict[str, Any]:
    warmup = int(warmup)
    if warmup < 0:
        raise ValueError("warmup must be >= 0")
    min_runs = max(1, int(min_runs))
    max_runs = max(min_runs, int(max_runs))
    budget_s = float(budget_s)
    if not (budget_s >= 0 and math.isfinite(budget_s)):
        raise ValueError("budget_s must be a finite number >= 0")
    return dict(warmup=warmup, min_runs=min_runs, max_runs=max_runs, budget_s=budget_s,
                target_rel_ci=float(target_rel_ci))


# ------------------------------------------------------------------ OpenCL
def opencl_available() -> bool:
    """The OpenCL ICD loader can be loaded (devices are not checked)."""
    if _h is None:
        return False
    _import_pyopencl()
    return bool(_h.opencl_available()[0])


def opencl_library() -> str:
    """Path or soname of the OpenCL loader the harness dispatches through."""
    _import_pyopencl()
    return str(_need().opencl_library())


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


def _host_llc_bytes() -> int:
    best = 0
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for idx in base.glob("index*"):
            txt = (idx / "size").read_text().strip().upper()
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(txt[-1:], 1)
            best = max(best, int(txt.rstrip("KMG")) * mult)
    except (OSError, ValueError):
        pass
    return best


def host_llc_bytes() -> int:
    """The host's last-level cache in bytes (sysfs; a guess where it cannot be read)."""
    return _host_llc_bytes()


def default_flush_bytes(cl_device: Any = None) -> int:
    """Scratch size for a cache flush: 4x the device's global memory cache, 2x the host's last
    level cache, and at least 64 MiB; at most a quarter of the device's max allocation."""
    size = max(64 << 20, 2 * _host_llc_bytes())
    cap = None
    if cl_device is not None:
        try:
            size = max(size, 4 * int(cl_device.global_mem_cache_size))
            cap = int(cl_device.max_mem_alloc_size) // 4
        except Exception:  # noqa: BLE001 - the device does not say
            pass
    if cap:
        size = min(size, max(cap, 1 << 20))
    return int(size) & ~3


def _launch_failure(msg: str) -> BaseException:
    try:
        from ..targets.opencl.runtime import LaunchFailure
        return LaunchFailure(msg)
    except Exception:  # noqa: BLE001 - pyopencl missing
        return RuntimeError(msg)


def opencl_run(launch: Any, *, queue: Any = None, warmup: int = 2, min_runs: int = 5, max_runs: int = 100,
               budget_s: float = 2.0, target_rel_ci: float = 0.02, flush: bool = False,
               flush_bytes: Optional[int] = None, flush_buffer: Any = None, mode: str = "batch",
               batch_size: int = 64) -> LoopRun:
    """Run the native OpenCL loop and return everything it measured (see `time_opencl`)."""
    h = _need()
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
    kw = _loop_kwargs(warmup, min_runs, max_runs, budget_s, target_rel_ci)
    try:
        raw = h.opencl_time(qh, [(k, list(g), None if loc is None else list(loc)) for _n, k, g, loc in stages],
                            flush_bytes=fb, flush_buffer=fbuf, batch=_batch(mode, batch_size), **kw)
    except ValueError:
        raise
    except RuntimeError as e:
        raise _launch_failure(str(e)) from None
    return _loop_run("opencl", raw, [n for n, *_ in stages])


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


# ------------------------------------------------------------------ CUDA
def cuda_available() -> bool:
    """libcuda.so.1 loads, cuInit(0) succeeds and a device exists. Never raises."""
    if _h is None:
        return False
    try:
        return bool(_h.cuda_available())
    except Exception:  # noqa: BLE001
        return False


def cuda_unavailable_reason() -> str:
    if _h is None:
        return f"native module not built: {_IMPORT_ERROR}"
    return str(_h.cuda_unavailable_reason())


def _cuda_param(p: Any) -> Union[int, float, bytes]:
    """A kernel parameter as the native side takes it: int (64-bit value, e.g. a device
    pointer), float (float32) or the raw bytes of the value."""
    try:  # numpy first: np.float64 is also a Python float
        import numpy as np
        if isinstance(p, np.generic):  # np.int32(5), np.float64(x): exact width
            return p.tobytes()
        if isinstance(p, np.ndarray):
            return np.ascontiguousarray(p).tobytes()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(p, bool):
        return int(p)
    if isinstance(p, (int, float, bytes)):
        return p
    cai = getattr(p, "__cuda_array_interface__", None)
    if cai is not None:  # cupy / torch / numba device arrays: their device pointer
        return int(cai["data"][0])
    if isinstance(p, (bytearray, memoryview)):
        return bytes(p)
    if hasattr(p, "__index__") or hasattr(p, "__int__"):  # e.g. pycuda DeviceAllocation
        return int(p)
    raise TypeError(f"unsupported CUDA kernel parameter {type(p).__name__}: pass an int, a float, a numpy scalar "
                    "or bytes")


def _dims3(v: Any, what: str) -> List[int]:
    if isinstance(v, int):
        v = (v,)
    t = [int(x) for x in v]
    if not 1 <= len(t) <= 3 or any(x < 1 for x in t):
        raise ValueError(f"{what} must have 1 to 3 positive dimensions, got {tuple(t)}")
    return t


def cuda_run(stages: Sequence[Tuple[Any, Any, Any, int, Sequence[Any]]], *, names: Optional[Sequence[str]] = None,
             stream: int = 0, context: int = 0, warmup: int = 2, min_runs: int = 5, max_runs: int = 100,
             budget_s: float = 2.0, target_rel_ci: float = 0.02, flush: bool = False,
             flush_bytes: Optional[int] = None, flush_buffer: Any = None, mode: str = "batch",
             batch_size: int = 64) -> LoopRun:
    """Run the native CUDA loop over stages [(function, grid, block, shared_bytes, params)]."""
    h = _need()
    if not cuda_available():
        raise HarnessUnavailable(f"CUDA unavailable: {cuda_unavailable_reason()}")
    norm = []
    for i, st in enumerate(stages):
        if len(st) != 5:
            raise ValueError(f"stage {i}: expected (function, grid, block, shared_bytes, params)")
        fn, grid, block, shared, params = st
        norm.append((_handle(int(fn) if not isinstance(fn, int) else fn, f"stage {i} function"),
                     _dims3(grid, f"stage {i} grid"), _dims3(block, f"stage {i} block"), int(shared),
                     [_cuda_param(p) for p in params]))
    if not norm:
        raise ValueError("nothing to launch")
    fb, fbuf = 0, 0
    if flush or flush_buffer is not None or flush_bytes:
        fbuf = int(flush_buffer) if flush_buffer is not None else 0
        fb = int(flush_bytes) if flush_bytes else default_flush_bytes()
    kw = _loop_kwargs(warmup, min_runs, max_runs, budget_s, target_rel_ci)
    raw = h.cuda_time(norm, flush_bytes=fb, flush_buffer=fbuf, batch=_batch(mode, batch_size), stream=int(stream),
                      context=int(context), **kw)
    nm = list(names) if names is not None else [f"stage{i}" for i in range(len(norm))]
    if len(nm) != len(norm):
        raise ValueError("names must have one entry per stage")
    return _loop_run("cuda", raw, nm)


def time_cuda(function: Any, grid: Any, block: Any, shared_bytes: int = 0, params: Sequence[Any] = (), *,
              name: str = "kernel", stream: int = 0, context: int = 0, warmup: int = 2, min_runs: int = 5,
              max_runs: int = 100, budget_s: float = 2.0, target_rel_ci: float = 0.02, flush: bool = False,
              flush_bytes: Optional[int] = None, flush_buffer: Any = None, mode: str = "batch",
              batch_size: int = 64) -> Timing:
    """Time `cuLaunchKernel(function, grid, block, shared_bytes, stream, params)` natively.

    `function`: a CUfunction as an int. `params`: one entry per kernel parameter: int (a
    64-bit value: device pointers; on little-endian also fine for 32-bit ints), float
    (float32), numpy scalars (their exact width: np.float64, np.int32...), bytes, or device
    arrays with `__cuda_array_interface__`. `context`: a CUcontext pushed for the call (0:
    the thread's current one). Device time from CUDA events around the launch; `mode` as in
    `time_opencl`."""
    return cuda_run([(function, grid, block, shared_bytes, params)], names=[name], stream=stream, context=context,
                    warmup=warmup, min_runs=min_runs, max_runs=max_runs, budget_s=budget_s,
                    target_rel_ci=target_rel_ci, flush=flush, flush_bytes=flush_bytes,
                    flush_buffer=flush_buffer, mode=mode, batch_size=batch_size).to_timing()


def time_cuda_stages(stages: Any, *, names: Optional[Sequence[str]] = None, **kw: Any) -> Timing:
    """Multi-stage `time_cuda`: stages [(function, grid, block, shared_bytes, params)], device
    time summed over the stages per repetition. Also takes a `CudaPrepared` of
    `uhop_cc.targets.cuda.runtime` (see `cuda_prepared_stages`)."""
    if hasattr(stages, "plan") and hasattr(stages.plan, "launches"):
        st, nm, stream, ctx = cuda_prepared_stages(stages)
        kw.setdefault("stream", stream)
        kw.setdefault("context", ctx)
        return cuda_run(st, names=names or nm, **kw).to_timing()
    return cuda_run(stages, names=names, **kw).to_timing()


def cuda_prepared_stages(prepared: Any) -> Tuple[List[Tuple[int, Tuple[int, ...], Tuple[int, ...], int, List[Any]]],
                                                 List[str], int, int]:
    """(stages, names, stream, context) of a `uhop_cc.targets.cuda.runtime.CudaPrepared`: its
    non-empty launches with the parameter values it packed (``_params[i][1]``, one array per
    parameter), its device's stream and primary context, all as ints."""
    stages, names = [], []
    for launch, (_block, values) in zip(prepared.plan.launches, prepared._params):
        if getattr(launch, "empty", False):
            continue
        stages.append((int(launch.function), tuple(launch.grid), tuple(launch.block), int(launch.smem),
                       [_cuda_param(v) for v in values]))
        names.append(str(launch.name))
    dev = prepared.device
    return stages, names, int(dev.stream), int(dev.ctx)


class CudaDriver:
    """Minimal driver-API helpers (context, PTX modules, memory) for tests and peak probes."""

    def __init__(self, device: int = 0):
        if not cuda_available():
            raise HarnessUnavailable(f"CUDA unavailable: {cuda_unavailable_reason()}")
        self.context = int(_h.cuda_primary_context(int(device)))
        self.name = str(_h.cuda_device_name(int(device)))

    @staticmethod
    def load(image: Union[str, bytes]) -> int:
        data = image.encode() if isinstance(image, str) else bytes(image)
        return int(_h.cuda_module_load(data))

    @staticmethod
    def function(module: int, name: str) -> int:
        return int(_h.cuda_module_function(int(module), name))

    @staticmethod
    def unload(module: int) -> None:
        _h.cuda_module_unload(int(module))

    @staticmethod
    def alloc(nbytes: int) -> int:
        return int(_h.cuda_mem_alloc(int(nbytes)))

    @staticmethod
    def free(ptr: int) -> None:
        _h.cuda_mem_free(int(ptr))

    @staticmethod
    def upload(ptr: int, data: Any) -> None:
        _h.cuda_memcpy_htod(int(ptr), memoryview(data).cast("B"))

    @staticmethod
    def download(ptr: int, nbytes: int) -> bytes:
        return bytes(_h.cuda_memcpy_dtoh(int(ptr), int(nbytes)))


# ------------------------------------------------------------------ rates and roofline
def roofline(flops: float, bytes: float, peak_gflops: float, peak_gbps: float,  # noqa: A002 - the issue's name
             seconds: Optional[float] = None) -> Dict[str, Any]:
    """Roofline of a kernel doing `flops` and moving `bytes` on a device of the given peaks.

    attainable_gflops = min(peak_gflops, intensity * peak_gbps); bound = 'memory' when the
    intensity (flops/byte) is below the ridge point peak_gflops/peak_gbps, else 'compute'.
    With the measured `seconds`: fraction = roofline time / measured time, where roofline time
    = max(flops/peak_flops, bytes/peak_bandwidth) -- for flops > 0 this equals achieved
    GFLOP/s over attainable GFLOP/s, and it stays meaningful for flops == 0 (pure data
    movement). Without `seconds`, fraction is None."""
    flops, nbytes = float(flops), float(bytes)
    pg, pb = float(peak_gflops), float(peak_gbps)
    if pg <= 0 or pb <= 0:
        raise ValueError("peaks must be positive")
    intensity = flops / nbytes if nbytes > 0 else math.inf
    ridge = pg / pb
    attainable = min(pg, intensity * pb) if math.isfinite(intensity) else pg
    t_compute = flops / (pg * 1e9)
    t_memory = nbytes / (pb * 1e9)
    t_roof = max(t_compute, t_memory)
    out: Dict[str, Any] = {
        "attainable_gflops": attainable, "bound": "memory" if intensity < ridge else "compute",
        "intensity_flop_per_byte": intensity, "ridge_flop_per_byte": ridge, "roofline_s": t_roof,
        "peak_gflops": pg, "peak_gbps": pb, "fraction": None, "achieved_gflops": None, "achieved_gbps": None,
    }
    if seconds is not None and seconds > 0:
        out["fraction"] = t_roof / float(seconds)
        out["achieved_gflops"] = flops / float(seconds) / 1e9
        out["achieved_gbps"] = nbytes / float(seconds) / 1e9
    return out


def performance(timing: Union[Timing, float], flops: float, nbytes: float,
                peaks: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """GFLOP/s and GB/s at the median (a `Timing` or seconds), and with `peaks` (a dict with
    'gflops' and 'gbps', e.g. `measure_peaks(device)` or declared numbers) the roofline."""
    seconds = timing.median_s if isinstance(timing, Timing) else float(timing)
    ok = seconds is not None and seconds > 0 and math.isfinite(seconds)
    out: Dict[str, Any] = {"seconds": seconds, "gflops": flops / seconds / 1e9 if ok else None,
                           "gbps": nbytes / seconds / 1e9 if ok else None}
    if peaks and ok:
        out["roofline"] = roofline(flops, nbytes, peaks["gflops"], peaks["gbps"], seconds)
    return out


# ------------------------------------------------------------------ peak measurement
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
_PEAKS: Dict[str, Dict[str, Any]] = {}
_PEAKS_LOCK = threading.Lock()


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
    import numpy as np
    import pyopencl as cl

    cl_dev, ctx, queue = _cl_parts(device)
    key = f"{cl_dev.platform.name.strip()}/{cl_dev.name.strip()}"
    with _PEAKS_LOCK:
        if not refresh and key in _PEAKS:
            return dict(_PEAKS[key])
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
        _PEAKS[key] = res
        return dict(res)
