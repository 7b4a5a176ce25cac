"""CUDA timing: the native C++ launch loop over the driver API, and the device's roofline peaks.

`cuda_run` / `time_cuda` run the loop of `uhop_cc.verify.native_timing` in
C++ (libcuda is dlopen'ed at run time; a stage's device time is `cuEventElapsedTime` between
events recorded around it; with a flush, a `cuMemsetD32Async` of a scratch allocation larger
than the L2 precedes every repetition, outside the clock). `time_prepared` is what
`CUDATarget.time` does with a `CudaPrepared`: the native loop over its launches, the Python loop
(`verify.timing.time_launch`, CUDA events read from Python, the same statistics) where the
native module or libcuda is missing, or where the outputs must be refilled before every run.

`measure_peaks(device)` measures a device-to-device copy (a float4 copy kernel, read + write
counted) and an FMA-bound kernel, both compiled with NVRTC for the device and timed by the
native loop; cached per device for the process (`native_timing.cached_peaks`), as the OpenCL
target's peaks are. Only the measurement needs a GPU: the kernels compile anywhere NVRTC loads
(`peak_sources`, `compile_peak_kernels`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ...verify.native_timing import (HarnessUnavailable, LoopRun, cached_peaks, flush_size, harness, import_error,
                                     loop_options, loop_run, native_available)
from ...verify.timing import PYTHON_LOOP_OPTIONS, Timing, time_launch
from ..common import LaunchFailure

__all__ = ["cuda_available", "cuda_unavailable_reason", "cuda_param", "cuda_run", "time_cuda",
           "cuda_prepared_stages", "time_prepared", "CudaDriver", "peak_sources", "compile_peak_kernels",
           "peak_geometry", "measure_peaks", "device_flush_bytes", "HarnessUnavailable", "FMA_CHAINS"]

BACKEND = "cuda"
FMA_CHAINS = 8  # independent FMA chains per thread: enough to hide the FMA latency on every SM generation


# ------------------------------------------------------------------ availability
def cuda_available() -> bool:
    """libcuda.so.1 loads in the native harness, cuInit(0) succeeds and a device exists. Never raises."""
    if not native_available():
        return False
    try:
        return bool(harness().cuda_available())
    except Exception:  # noqa: BLE001
        return False


def cuda_unavailable_reason() -> str:
    if not native_available():
        return f"native module not built: {import_error()}"
    return str(harness().cuda_unavailable_reason())


# ------------------------------------------------------------------ the loop
def cuda_param(p: Any) -> Union[int, float, bytes]:
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


def _function_handle(fn: Any, what: str) -> int:
    if isinstance(fn, bool):
        raise TypeError(f"{what}: expected a CUfunction handle, got a bool")
    h = int(fn)  # cuda-bindings' CUfunction converts to its address
    if h < 0:
        raise ValueError(f"{what}: a handle cannot be negative")
    return h


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
    h = harness()
    if not cuda_available():
        raise HarnessUnavailable(f"CUDA unavailable: {cuda_unavailable_reason()}")
    norm = []
    for i, st in enumerate(stages):
        if len(st) != 5:
            raise ValueError(f"stage {i}: expected (function, grid, block, shared_bytes, params)")
        fn, grid, block, shared, params = st
        norm.append((_function_handle(fn, f"stage {i} function"), _dims3(grid, f"stage {i} grid"),
                     _dims3(block, f"stage {i} block"), int(shared), [cuda_param(p) for p in params]))
    if not norm:
        raise ValueError("nothing to launch")
    nm = list(names) if names is not None else [f"stage{i}" for i in range(len(norm))]
    if len(nm) != len(norm):
        raise ValueError("names must have one entry per stage")
    fb, fbuf = 0, 0
    if flush or flush_buffer is not None or flush_bytes:
        fbuf = int(flush_buffer) if flush_buffer is not None else 0
        fb = int(flush_bytes) if flush_bytes else flush_size()
        if fb < 0:
            raise ValueError("flush_bytes must be >= 0")
    kw = loop_options(warmup, min_runs, max_runs, budget_s, target_rel_ci, mode, batch_size)
    raw = h.cuda_time(norm, flush_bytes=fb, flush_buffer=fbuf, stream=int(stream), context=int(context), **kw)
    return loop_run(BACKEND, raw, nm)


def time_cuda(function: Any, grid: Any, block: Any, shared_bytes: int = 0, params: Sequence[Any] = (), *,
              name: str = "kernel", **kw: Any) -> Timing:
    """Time `cuLaunchKernel(function, grid, block, shared_bytes, stream, params)` natively.

    `function`: a CUfunction (an int, or a cuda-bindings CUfunction). `params`: one entry per
    kernel parameter: int (a 64-bit value: device pointers; on little-endian also fine for
    32-bit ints), float (float32), numpy scalars (their exact width: np.float64, np.int32...),
    bytes, or device arrays with `__cuda_array_interface__`. Keywords as `cuda_run`: `context`
    (a CUcontext pushed for the call; 0: the thread's current one), `stream`, the stopping rule
    (warmup, min_runs, max_runs, budget_s, target_rel_ci), `flush`/`flush_bytes`/`flush_buffer`
    and `mode` ('batch': up to `batch_size` repetitions per wait; 'sync': one)."""
    return cuda_run([(function, grid, block, shared_bytes, params)], names=[name], **kw).to_timing()


def cuda_prepared_stages(prepared: Any) -> Tuple[List[Tuple[int, Tuple[int, ...], Tuple[int, ...], int, List[Any]]],
                                                 List[str], int, int]:
    """(stages, names, stream, context) of a `CudaPrepared`: its non-empty launches with the
    parameter values it packed (one array per parameter), its device's stream and primary
    context, all as ints."""
    stages, names = [], []
    for launch, values in zip(prepared.plan.launches, prepared.param_values):
        if getattr(launch, "empty", False):
            continue
        stages.append((int(launch.function), tuple(launch.grid), tuple(launch.block), int(launch.smem),
                       [cuda_param(v) for v in values]))
        names.append(str(launch.name))
    dev = prepared.device
    return stages, names, int(dev.stream), int(dev.ctx)


def device_flush_bytes(device: Any) -> int:
    """Flush size for a CUDADevice: `flush_size` of its L2 and a quarter of its memory."""
    try:
        fp = device.fingerprint()
        return flush_size(int(fp.get("l2_cache_bytes") or 0), int(fp.get("global_mem_bytes") or 0))
    except Exception:  # noqa: BLE001 - a device that cannot say
        return flush_size()


def time_prepared(prepared: Any, budget_s: float, **options: Any) -> Timing:
    """Median-of-runs timing of a `CudaPrepared`: the native loop over its launches (`options` as
    `cuda_run`; `flush=True` sizes the scratch from the device's L2), the Python loop over CUDA
    events (`time_launch`) where the native module or libcuda is missing, and for
    `repoison=True` (refill the outputs before every repetition, which only the Python loop
    does). As the OpenCL target's: a `flush_buffer` (a device pointer, with `flush_bytes`) is
    refilled natively; the Python loop standing in refills the outputs instead (repoison). A launch
    the driver refuses or that faults raises `LaunchFailure`."""
    python_options = {k: v for k, v in options.items() if k in PYTHON_LOOP_OPTIONS}
    repoison = bool(options.pop("repoison", False))
    stand_in_repoison = repoison or options.get("flush_buffer") is not None
    if repoison or not cuda_available():
        return time_launch(prepared, budget_s=budget_s, repoison=stand_in_repoison, **python_options)
    stages, names, stream, ctx = cuda_prepared_stages(prepared)
    if not stages:  # every launch is empty: nothing for the native loop; the Python loop times nothing too
        return time_launch(prepared, budget_s=budget_s, **python_options)
    if options.get("flush") and not options.get("flush_bytes"):
        options["flush_bytes"] = device_flush_bytes(prepared.device)
    options.setdefault("stream", stream)
    options.setdefault("context", ctx)
    try:
        return cuda_run(stages, names=names, budget_s=budget_s, **options).to_timing()
    except HarnessUnavailable:
        return time_launch(prepared, budget_s=budget_s, repoison=stand_in_repoison, **python_options)
    except ValueError:
        raise
    except RuntimeError as e:  # the driver refused or faulted a launch
        raise LaunchFailure(str(e)) from None


# ------------------------------------------------------------------ driver helpers
class CudaDriver:
    """Minimal driver-API helpers (context, modules, memory) through the native harness, for
    tests and the peak probes. Handles are ints, in the device's primary context (the one a
    `CUDADevice` uses too)."""

    def __init__(self, device: int = 0):
        if not cuda_available():
            raise HarnessUnavailable(f"CUDA unavailable: {cuda_unavailable_reason()}")
        h = harness()
        self.context = int(h.cuda_primary_context(int(device)))
        self.name = str(h.cuda_device_name(int(device)))

    @staticmethod
    def load(image: Union[str, bytes]) -> int:
        data = image.encode() if isinstance(image, str) else bytes(image)
        return int(harness().cuda_module_load(data))

    @staticmethod
    def function(module: int, name: str) -> int:
        return int(harness().cuda_module_function(int(module), name))

    @staticmethod
    def unload(module: int) -> None:
        harness().cuda_module_unload(int(module))

    @staticmethod
    def alloc(nbytes: int) -> int:
        return int(harness().cuda_mem_alloc(int(nbytes)))

    @staticmethod
    def free(ptr: int) -> None:
        harness().cuda_mem_free(int(ptr))

    @staticmethod
    def upload(ptr: int, data: Any) -> None:
        harness().cuda_memcpy_htod(int(ptr), memoryview(data).cast("B"))

    @staticmethod
    def download(ptr: int, nbytes: int) -> bytes:
        return bytes(harness().cuda_memcpy_dtoh(int(ptr), int(nbytes)))


# ------------------------------------------------------------------ peaks
_PEAK_COPY = r"""
extern "C" __global__ void uhop_peak_copy(const float4* __restrict__ a, float4* __restrict__ b, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) b[i] = a[i];
}
"""


def _fma_source(chains: int) -> str:
    init = "\n".join(f"    float a{j} = x + {j * 0.1:.1f}f;" for j in range(chains))
    body = " ".join(f"a{j} = fmaf(a{j}, m, c);" for j in range(chains))
    red = " + ".join(f"a{j}" for j in range(chains))
    # m and c come in as arguments and the sum is stored, so nothing folds away
    return ('extern "C" __global__ void uhop_peak_fma(float* out, int iters, float m, float c) {\n'
            "    int t = blockIdx.x * blockDim.x + threadIdx.x;\n"
            f"    float x = (float)t * 1e-7f;\n{init}\n"
            "#pragma unroll 8\n"
            f"    for (int i = 0; i < iters; ++i) {{ {body} }}\n"
            f"    out[t] = {red};\n}}\n")


def peak_sources() -> Dict[str, str]:
    """The CUDA C++ of the peak kernels: {kernel name: source}."""
    return {"uhop_peak_copy": _PEAK_COPY, "uhop_peak_fma": _fma_source(FMA_CHAINS)}


def compile_peak_kernels(arch: Optional[str] = None) -> Dict[str, Any]:
    """Both peak kernels compiled with NVRTC for `arch` (None: the compile check's default, PTX):
    {kernel name: CudaBuild}. Needs NVRTC, not a GPU."""
    from .runtime import nvrtc_compile
    return {name: nvrtc_compile(src, arch, name=f"{name}.cu") for name, src in peak_sources().items()}


def peak_geometry(sm_count: int, total_mem: int, l2_bytes: int, copy_bytes: Optional[int] = None,
                  block: int = 256) -> Dict[str, int]:
    """The launch sizes of the peak probes on a device: a copy of `copy_bytes` (default 4x the
    L2, 64 MiB to 512 MiB, at most a quarter of the memory, whole 4 KiB pages) in float4s, and
    an FMA grid of 2048 threads per SM (a full SM on every generation since Volta)."""
    if copy_bytes is None:
        copy_bytes = min(max(4 * int(l2_bytes or 0), 64 << 20), 512 << 20)
    if total_mem:
        copy_bytes = min(int(copy_bytes), int(total_mem) // 4)
    copy_bytes = max(int(copy_bytes) & ~4095, 4096)
    n4 = copy_bytes // 16
    return {"copy_bytes": copy_bytes, "copy_n4": n4, "copy_grid": -(-n4 // block), "block": block,
            "fma_threads": max(1, int(sm_count)) * 2048, "fma_grid": max(1, int(sm_count)) * 2048 // block}


def measure_peaks(device: Any, *, refresh: bool = False, copy_bytes: Optional[int] = None,
                  budget_s: float = 0.5) -> Dict[str, Any]:
    """Measured peaks of a `CUDADevice` (or a device ordinal), cached per device for the process.

    Bandwidth: a float4 copy kernel between two device buffers of `copy_bytes` (see
    `peak_geometry`), counted as 2 x size (read + write, as STREAM's copy and the OpenCL
    target's probe). Compute: `FMA_CHAINS` independent `fmaf` chains per thread, 2 flops each,
    iterations scaled to ~20 ms. Both compiled with NVRTC for the device, timed by the native
    loop; peaks from the fastest repetition. Returns the keys of the OpenCL target's peaks:
    {'device', 'gbps', 'gflops', 'copy_bytes', 'copy_s', 'copy_median_s', 'fma_flops', 'fma_s',
    'fma_median_s', 'fma_width', 'source'}. Raises HarnessUnavailable without the native module
    or a GPU, CudaUnavailable without NVRTC."""
    if not hasattr(device, "fingerprint"):
        from .runtime import CUDADevice
        device = CUDADevice.open(device)
    key = f"CUDA:{device.index}/{device.name}"
    return cached_peaks(key, lambda: _measure(key, device, copy_bytes, budget_s), refresh)


def _measure(key: str, device: Any, copy_bytes: Optional[int], budget_s: float) -> Dict[str, Any]:
    import numpy as np

    drv = CudaDriver(device.index)
    fp = device.fingerprint()
    geo = peak_geometry(int(fp.get("sm_count") or 1), int(fp.get("global_mem_bytes") or 0),
                        int(fp.get("l2_cache_bytes") or 0), copy_bytes)
    builds = compile_peak_kernels(device.arch)
    for name, b in builds.items():
        if not b.ok:
            raise LaunchFailure(f"the peak kernel {name} did not compile: {b.log}")
    modules: Dict[str, int] = {}
    ptrs: List[int] = []
    try:
        for name, b in builds.items():
            modules[name] = drv.load(b.image)
        copy_fn = drv.function(modules["uhop_peak_copy"], "uhop_peak_copy")
        fma_fn = drv.function(modules["uhop_peak_fma"], "uhop_peak_fma")
        for nbytes in (geo["copy_bytes"], geo["copy_bytes"], 4 * geo["fma_threads"]):
            ptrs.append(drv.alloc(nbytes))  # one at a time: `finally` frees what was allocated
        a, b, out = ptrs
        loop = dict(context=drv.context, warmup=1, min_runs=3, max_runs=20, budget_s=budget_s, target_rel_ci=0.01)
        blk = (geo["block"],)
        t_copy = time_cuda(copy_fn, (geo["copy_grid"],), blk, 0, [a, b, np.int64(geo["copy_n4"])], name="copy", **loop)
        m, c = np.float32(0.999999), np.float32(1e-7)
        iters = 64
        probe = time_cuda(fma_fn, (geo["fma_grid"],), blk, 0, [out, np.int32(iters), m, c], name="fma",
                          context=drv.context, warmup=1, min_runs=1, max_runs=1, budget_s=0.0,
                          target_rel_ci=math.inf)
        iters = int(min(1 << 20, max(64, iters * 0.02 / max(probe.min_s, 1e-7))))
        t_fma = time_cuda(fma_fn, (geo["fma_grid"],), blk, 0, [out, np.int32(iters), m, c], name="fma", **loop)
    finally:
        for p in ptrs:
            drv.free(p)
        for mod in modules.values():
            drv.unload(mod)
    flops = float(geo["fma_threads"]) * iters * FMA_CHAINS * 2
    return {"device": key, "gbps": 2.0 * geo["copy_bytes"] / t_copy.min_s / 1e9, "gflops": flops / t_fma.min_s / 1e9,
            "copy_bytes": geo["copy_bytes"], "copy_s": t_copy.min_s, "copy_median_s": t_copy.median_s,
            "fma_flops": flops, "fma_s": t_fma.min_s, "fma_median_s": t_fma.median_s, "fma_width": 1,
            "source": "measured"}
