"""CUDA runtime: NVRTC compilation and the driver API (through cuda-bindings) under the uhopc ABI.

The kernel ABI is OpenCL's (see `uhop_cc.targets.opencl.runtime`), written in CUDA C++:

* a source holds one or more ``extern "C" __global__ void`` functions, each a *stage*
  announced by ``// @launch grid=(...) block=(...) [smem=BYTES]`` (parsed by
  ``uhop_cc.codegen.launch``); stages run in source order and the last one is named after
  the UIR kernel;
* every stage takes the inputs in declaration order (tensors as ``const T*``, scalars by
  value), the outputs (``T*``), then -- only if its parameter count says so -- every
  temporary (``T*``, in ``checked.tensors`` order), then every size symbol as ``const int``;
  a CUfunction cannot tell its parameter count, so it is read from the kernel's signature
  in the source;
* tensors are dense and row-major; f32 -> float, f64 -> double, i32 -> int, f16 -> binary16
  bits in ``unsigned short`` (f16 scalars travel as float).

`nvrtc_compile` works without a GPU (it only needs the NVRTC library from the
nvidia-cuda-nvrtc wheel): with no architecture it emits PTX for compute_90, a compile
check. On a GPU, `CUDADevice.build` compiles straight to a cubin for the device's sm_XY, so
a newer NVRTC never hands an older driver PTX it cannot JIT.

`CUDADevice.run` is the checking launch (poisoned outputs/temporaries, canary guard zones
around every tensor: one allocation per tensor, the kernel gets the inner pointer) and
returns the OpenCL runtime's `RunResult`; `CUDADevice.prepare` is the lean launch for
`uhop_cc.verify.timing.time_launch`, timed with CUDA events. Both raise the OpenCL
runtime's `AbiError` and `LaunchFailure`, so `uhop_cc.verify.validate` works unchanged.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ...ir.typed import BoundKernel
from ..placement import round_up
from ..common import (SCALAR_NP_DTYPE, TENSOR_NP_DTYPE, AbiError, GuardReport, LaunchFailure, Poison, RunResult,
                      host_inputs)

__all__ = ["CudaBuild", "CUDADevice", "CudaUnavailable", "CudaPrepared", "nvrtc_compile", "nvrtc_available",
           "nvrtc_version", "cuda_available", "list_devices", "kernel_signatures", "DEVICE_ENV", "DEFAULT_ARCH",
           "AbiError", "LaunchFailure"]

DEVICE_ENV = "UHOP_CUDA_DEVICE"
DEFAULT_ARCH = "compute_90"  # the compile check without a GPU (Hopper PTX)

try:
    from cuda.bindings import nvrtc as _nvrtc
except Exception as _exc:  # pragma: no cover - depends on the installed wheels
    _nvrtc = None
    _NVRTC_ERROR: Optional[BaseException] = _exc
else:
    _NVRTC_ERROR = None

try:
    from cuda.bindings import driver as _cu
except Exception as _exc:  # pragma: no cover
    _cu = None
    _DRIVER_ERROR: Optional[BaseException] = _exc
else:
    _DRIVER_ERROR = None


class CudaUnavailable(RuntimeError):
    """No CUDA driver or no CUDA device can be used."""


class CudaError(RuntimeError):
    """A driver API call failed."""

    def __init__(self, what: str, code: Any, name: str, text: str = ""):
        self.code, self.name = code, name
        super().__init__(f"{what} failed: {name}" + (f" ({text})" if text and text != name else ""))


# ------------------------------------------------------------------ NVRTC
def nvrtc_available() -> bool:
    if _nvrtc is None:
        return False
    try:
        err, _maj, _min = _nvrtc.nvrtcVersion()
        return int(err) == 0
    except Exception:  # the wheel holds bindings but no library
        return False


def nvrtc_version() -> Optional[Tuple[int, int]]:
    if not nvrtc_available():
        return None
    _err, major, minor = _nvrtc.nvrtcVersion()
    return int(major), int(minor)


def _nvrtc_archs() -> List[int]:
    try:
        err, archs = _nvrtc.nvrtcGetSupportedArchs()
        return [int(a) for a in archs] if int(err) == 0 else []
    except Exception:
        return []


@dataclass
class CudaBuild:
    """A compiled CUDA source: the cubin or PTX image, the NVRTC log, and -- when built by a
    `CUDADevice` -- the loaded module."""
    ok: bool
    image: Optional[bytes]
    log: str
    seconds: float
    arch: str
    kind: str  # 'cubin' or 'ptx' ('' when the compilation failed)
    options: Tuple[str, ...] = ()
    source: str = field(default="", repr=False)
    module: Any = field(default=None, repr=False)  # CUmodule, loaded by CUDADevice.build
    functions: Dict[str, Dict[str, int]] = field(default_factory=dict)  # name -> registers, local bytes, ...

    @property
    def program(self):  # the OpenCL BuildResult's name for what runs
        return self.module

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "log": self.log, "seconds": self.seconds, "arch": self.arch, "kind": self.kind,
                "options": " ".join(self.options), "image_bytes": len(self.image) if self.image else 0,
                "functions": dict(self.functions)}

    def release(self) -> None:
        """Unload the module (a no-op for a compile-only build)."""
        if self.module is not None and _cu is not None:
            try:
                _cu.cuModuleUnload(self.module)
            except Exception:
                pass
            self.module = None


def _nvrtc_log(prog) -> str:
    try:
        err, n = _nvrtc.nvrtcGetProgramLogSize(prog)
        if int(err) != 0 or n <= 1:
            return ""
        buf = b" " * n
        _nvrtc.nvrtcGetProgramLog(prog, buf)
        return buf.rstrip(b"\x00").decode("utf-8", "replace").strip()
    except Exception:
        return ""


def nvrtc_compile(source: str, arch: Optional[str] = None, options: Sequence[str] = (),
                  name: str = "kernel.cu") -> CudaBuild:
    """Compile CUDA C++ with NVRTC. `arch`: 'sm_XY' gives a cubin, 'compute_XY' (or None, meaning
    compute_90) gives PTX. Compile errors give ok=False and the log, never an exception; a missing
    NVRTC library raises `CudaUnavailable`."""
    if not nvrtc_available():
        raise CudaUnavailable(f"NVRTC cannot be loaded: {_NVRTC_ERROR or 'the nvidia-cuda-nvrtc library is missing'}"
                              " (pip install 'cuda-bindings>=13' 'nvidia-cuda-nvrtc>=13')")
    arch = arch or DEFAULT_ARCH
    kind = "cubin" if arch.startswith("sm_") else "ptx"
    opts = [f"--gpu-architecture={arch}", "--std=c++17", *options]
    t0 = time.perf_counter()
    err, prog = _nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    if int(err) != 0:
        return CudaBuild(False, None, f"nvrtcCreateProgram failed: {err}", time.perf_counter() - t0, arch, "",
                         tuple(opts), source)
    try:
        (res,) = _nvrtc.nvrtcCompileProgram(prog, len(opts), [o.encode() for o in opts])
        log = _nvrtc_log(prog)
        if int(res) != 0:
            return CudaBuild(False, None, log or str(res), time.perf_counter() - t0, arch, "", tuple(opts), source)
        if kind == "cubin":
            err, n = _nvrtc.nvrtcGetCUBINSize(prog)
            image = b" " * n
            (err2,) = _nvrtc.nvrtcGetCUBIN(prog, image)
        else:
            err, n = _nvrtc.nvrtcGetPTXSize(prog)
            image = b" " * n
            (err2,) = _nvrtc.nvrtcGetPTX(prog, image)
        if int(err) != 0 or int(err2) != 0 or not n:
            return CudaBuild(False, None, (log + f"\nno {kind} image: {err} {err2}").strip(),
                             time.perf_counter() - t0, arch, "", tuple(opts), source)
        return CudaBuild(True, bytes(image), log, time.perf_counter() - t0, arch, kind, tuple(opts), source)
    finally:
        try:
            _nvrtc.nvrtcDestroyProgram(prog)
        except Exception:
            pass


def best_arch(major: int, minor: int) -> str:
    """sm_XY for a device NVRTC knows; otherwise PTX for the newest architecture it knows."""
    cc = major * 10 + minor
    archs = _nvrtc_archs()
    if not archs or cc in archs:
        return f"sm_{cc}"
    older = [a for a in archs if a <= cc]
    return f"compute_{max(older) if older else min(archs)}"


# ------------------------------------------------------------------ signatures in the source
_GLOBAL = re.compile(r"__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+"
                     r"(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), src, flags=re.S)
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), src)


def kernel_signatures(source: str) -> Dict[str, List[str]]:
    """Every `__global__ void name(params)` of a CUDA source: name -> parameter declarations."""
    src = _strip_comments(source)
    out: Dict[str, List[str]] = {}
    for m in _GLOBAL.finditer(src):
        i, depth, start = m.end(), 1, m.end()
        while i < len(src) and depth:
            depth += src[i] == "("
            depth -= src[i] == ")"
            i += 1
        text = src[start:i - 1]
        params, cur, d = [], "", 0
        for ch in text:
            if ch == "," and d == 0:
                params.append(cur.strip())
                cur = ""
                continue
            d += ch in "(<["
            d -= ch in ")>]"
            cur += ch
        if cur.strip():
            params.append(cur.strip())
        if params == ["void"]:
            params = []
        out[m.group(1)] = params
    return out


_QUALS = {"const", "__restrict__", "restrict", "__restrict", "volatile", "struct"}
_BASE_OK = {"f32": {"float"}, "f64": {"double"}, "i32": {"int", "int32_t", "signed int", "signed"},
            "f16": {"unsigned short", "__half", "half", "short", "uint16_t", "unsigned short int"}}


def param_type(decl: str) -> Tuple[str, bool]:
    """(base type, is pointer) of one parameter declaration."""
    is_ptr = "*" in decl or "[" in decl
    words = re.findall(r"[A-Za-z_]\w*", decl.split("[")[0])
    words = [w for w in words if w not in _QUALS]
    if len(words) > 1:
        words = words[:-1]  # drop the parameter name
    return " ".join(words), is_ptr


# ------------------------------------------------------------------ driver helpers
def _err_name(code) -> str:
    try:
        err, name = _cu.cuGetErrorName(code)
        if int(err) == 0 and name:
            return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        pass
    return str(code)


def _check(res, what: str):
    """Unpack a cuda-bindings result tuple, raising CudaError on failure."""
    if isinstance(res, tuple):
        code, rest = res[0], res[1:]
    else:
        code, rest = res, ()
    if int(code) != 0:
        raise CudaError(what, code, _err_name(code))
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


_DRIVER_STATE: Dict[str, Any] = {"init": None}


def _init_driver() -> None:
    if _DRIVER_STATE["init"] is True:
        return
    if _cu is None:
        raise CudaUnavailable(f"cuda-bindings cannot be imported: {_DRIVER_ERROR}")
    try:
        res = _cu.cuInit(0)
    except Exception as e:  # libcuda.so is missing: no driver on this machine
        raise CudaUnavailable(f"no CUDA driver: {type(e).__name__}: {e}") from None
    if int(res[0]) != 0:
        raise CudaUnavailable(f"cuInit failed: {_err_name(res[0])}")
    _DRIVER_STATE["init"] = True


def cuda_available() -> bool:
    """True when the CUDA driver loads and reports at least one device. Never raises."""
    try:
        _init_driver()
        err, n = _cu.cuDeviceGetCount()
        return int(err) == 0 and n > 0
    except Exception:
        return False


def _device_name(dev) -> str:
    name = _check(_cu.cuDeviceGetName(256, dev), "cuDeviceGetName")
    return bytes(name).split(b"\x00")[0].decode("utf-8", "replace").strip()


def list_devices() -> List[Dict[str, Any]]:
    """Every CUDA device: index, name, compute capability ([] without a driver)."""
    if not cuda_available():
        return []
    out = []
    n = _check(_cu.cuDeviceGetCount(), "cuDeviceGetCount")
    A = _cu.CUdevice_attribute
    for i in range(n):
        dev = _check(_cu.cuDeviceGet(i), "cuDeviceGet")
        major = _check(_cu.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attr")
        minor = _check(_cu.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attr")
        out.append({"index": i, "name": _device_name(dev), "compute_capability": f"{major}.{minor}",
                    "type": "GPU", "platform": "CUDA"})
    return out


_STICKY = {"CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_LAUNCH_FAILED", "CUDA_ERROR_MISALIGNED_ADDRESS",
           "CUDA_ERROR_ILLEGAL_INSTRUCTION", "CUDA_ERROR_INVALID_PC", "CUDA_ERROR_HARDWARE_STACK_ERROR",
           "CUDA_ERROR_ASSERT", "CUDA_ERROR_LAUNCH_TIMEOUT", "CUDA_ERROR_CONTEXT_IS_DESTROYED",
           "CUDA_ERROR_ECC_UNCORRECTABLE", "CUDA_ERROR_TOO_MANY_RESOURCES_REQUESTED_FOR_LAUNCH"}


# ------------------------------------------------------------------ the ABI for one program
@dataclass
class _Arg:
    name: str
    kind: str  # 'input', 'output', 'temp', 'scalar', 'size'
    dtype: str
    value: Any = None
    ctype: str = ""  # the parameter's base type in the source


@dataclass
class _Launch:
    name: str
    function: Any
    args: List[_Arg]
    grid: Tuple[int, int, int]
    block: Tuple[int, int, int]
    smem: int
    annotation: str = ""

    @property
    def empty(self) -> bool:
        return 0 in self.grid


class _Plan:
    def __init__(self, device: "CUDADevice", build: CudaBuild, stages: Sequence[Any], bound: BoundKernel):
        if not stages:
            raise AbiError("no stages: the source needs at least one `// @launch` annotated __global__ function")
        from ...codegen.cstyle import c_name
        checked = bound.checked
        self.bound = bound
        self.stages = tuple(stages)
        if self.stages[-1].kernel_name not in (bound.name, c_name(bound.name)):
            raise AbiError(f"the last stage is `{self.stages[-1].kernel_name}`; it must be the entry kernel "
                           f"named after the UIR kernel, `{bound.name}`")
        sigs = kernel_signatures(build.source)
        base: List[_Arg] = []
        for p in checked.inputs:
            base.append(_Arg(p.name, "scalar" if p.is_scalar else "input", p.dtype))
        for p in checked.outputs:
            base.append(_Arg(p.name, "output", p.dtype))
        temps = [_Arg(t.name, "temp", t.dtype) for t in checked.temps()]
        sizes = [_Arg(s, "size", "i32", int(bound.sizes[s])) for s in checked.sizes]  # width set per kernel
        self.temp_args = temps
        self.temps_passed = False
        n_base, n_with = len(base) + len(sizes), len(base) + len(sizes) + len(temps)
        size_env = dict(bound.sizes)
        for s in checked.sizes:
            size_env.setdefault(c_name(s), bound.sizes[s])
        limits = device.limits
        self.launches: List[_Launch] = []
        for stage in self.stages:
            name = stage.kernel_name
            try:
                fn = _check(_cu.cuModuleGetFunction(build.module, name.encode()), f"cuModuleGetFunction({name})")
            except CudaError as e:
                raise AbiError(f"the program has no kernel `{name}` ({e.name}; is it declared extern \"C\"?)") from None
            params = sigs.get(name)
            if params is None:
                raise AbiError(f"cannot find the signature of `{name}` in the source "
                               f"(expected `extern \"C\" __global__ void {name}(...)`)")
            nargs = len(params)
            if nargs == n_base:
                args = base + sizes
            elif temps and nargs == n_with:
                args = base + temps + sizes
                self.temps_passed = True
            else:
                want = f"{n_base}"
                if temps:
                    want += f" (or {n_with} with the temporaries {', '.join(t.name for t in temps)})"
                listing = ", ".join(a.name for a in base + sizes)
                raise AbiError(f"kernel `{name}` takes {nargs} parameter(s); the ABI expects {want}: {listing}"
                               + (" with the temporaries before the sizes" if temps else ""))
            args = [self._checked_arg(name, i, a, params[i]) for i, a in enumerate(args)]
            try:
                geo = stage.geometry(size_env)
            except ValueError as e:
                raise AbiError(f"stage `{name}`: bad launch geometry: {e}") from None
            glob = tuple(int(g) for g in geo.global_size)
            if geo.local_size is None:
                raise AbiError(f"stage `{name}`: CUDA stages need block=(...) (`{stage.annotation}`)")
            loc = tuple(int(v) for v in geo.local_size)
            if len(glob) != len(loc) or not 1 <= len(glob) <= 3:
                raise AbiError(f"stage `{name}`: grid and block need 1 to 3 matching dimensions")
            grid = tuple(g // l for g, l in zip(glob, loc)) + (1,) * (3 - len(glob))
            block = loc + (1,) * (3 - len(loc))
            smem = int(geo.shared_bytes or 0)
            threads = block[0] * block[1] * block[2]
            fmax = _func_attr(fn, "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK")
            if threads > (fmax or limits["max_threads_per_block"]) or block[2] > 64:
                raise AbiError(f"stage `{name}`: block {block} has {threads} threads; this kernel allows at most "
                               f"{fmax or limits['max_threads_per_block']} (block z at most 64)")
            if grid[0] > 2 ** 31 - 1 or grid[1] > 65535 or grid[2] > 65535:
                raise AbiError(f"stage `{name}`: grid {grid} exceeds the device limits (2^31-1, 65535, 65535)")
            static = _func_attr(fn, "CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES") or 0
            if smem + static > limits["shared_optin"]:
                raise AbiError(f"stage `{name}`: {smem} bytes of dynamic shared memory (+{static} static) exceed "
                               f"the device's {limits['shared_optin']} bytes per block")
            if smem > 48 * 1024:
                _check(_cu.cuFuncSetAttribute(
                    fn, _cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
                    f"cuFuncSetAttribute({name}, max dynamic shared memory {smem})")
            self.launches.append(_Launch(name, fn, args, grid, block, smem, stage.annotation))

    @staticmethod
    def _checked_arg(kernel: str, i: int, a: _Arg, decl: str) -> _Arg:
        base, is_ptr = param_type(decl)
        where = f"kernel `{kernel}` parameter {i} (`{decl}`, for {a.kind} `{a.name}`)"
        ok_bases = _BASE_OK.get(a.dtype, set())
        known = set().union(*_BASE_OK.values())
        if a.kind in ("input", "output", "temp"):
            if not is_ptr:
                raise AbiError(f"{where} is passed by value; the ABI expects a pointer to {a.dtype}")
            if base in known and base not in ok_bases:
                raise AbiError(f"{where} points to `{base}`; the ABI expects {a.dtype} "
                               f"({' or '.join(sorted(ok_bases))})")
            return _Arg(a.name, a.kind, a.dtype, a.value, base)
        if is_ptr:
            raise AbiError(f"{where} is a pointer; the ABI expects a {a.dtype} passed by value")
        if a.kind == "size":
            return _size_arg(a, base, where)
        if a.dtype == "f16":
            if base not in ("float", "unsigned short", "__half", "half", "short", "uint16_t"):
                raise AbiError(f"{where} is `{base}`; an f16 scalar travels as `float`")
            return _Arg(a.name, a.kind, a.dtype, a.value, base)
        if base in known and base not in ok_bases:
            raise AbiError(f"{where} is `{base}`; the ABI expects {a.dtype}")
        return _Arg(a.name, a.kind, a.dtype, a.value, base)


_WIDE = {"long long", "long", "long int", "long long int", "int64_t", "signed long long", "signed long"}


def _size_arg(a: _Arg, base: str, where: str) -> _Arg:
    """A size argument with the kernel's width: `int` (32-bit) or a 64-bit `long long`/`long`/`int64_t`
    (Linux hosts, where CUDA's `long` is 64-bit too). Sizes past 2^31 - 1 need the 64-bit form."""
    if base in _WIDE:
        return _Arg(a.name, a.kind, "i64", int(a.value), base)
    known = set().union(*_BASE_OK.values())
    if base in known and base not in _BASE_OK["i32"]:
        raise AbiError(f"{where} is `{base}`; sizes are `int` (or `long long` for shapes past 2^31 - 1 elements)")
    if int(a.value) > 2 ** 31 - 1:
        raise AbiError(f"{where}: size `{a.name}` = {int(a.value)} does not fit the kernel's `{base}`; "
                       "a kernel for this shape must take sizes (and index) as `long long`")
    return _Arg(a.name, a.kind, "i32", int(a.value), base)


def _func_attr(fn, attr: str) -> Optional[int]:
    try:
        err, v = _cu.cuFuncGetAttribute(getattr(_cu.CUfunction_attribute, attr), fn)
        return int(v) if int(err) == 0 else None
    except Exception:
        return None


def _scalar_value(a: _Arg, value) -> np.ndarray:
    if a.dtype == "f16":
        if a.ctype == "float":
            return np.array([value], np.float32)
        return np.array([value], np.float16).view(np.uint16)
    return np.array([value], SCALAR_NP_DTYPE[a.dtype])


def _param_block(args: List[_Arg], pointers: Mapping[str, int], host: Mapping[str, Any]):
    """The kernelParams array (pointers to each value) and the arrays it points into."""
    values = []
    for a in args:
        if a.kind in ("input", "output", "temp"):
            values.append(np.array([pointers[a.name]], np.uint64))
        elif a.kind == "scalar":
            values.append(_scalar_value(a, host[a.name]))
        else:
            values.append(np.array([a.value], np.int64 if a.dtype == "i64" else np.int32))
    block = np.array([v.ctypes.data for v in values], np.uint64)
    return block, values


# ------------------------------------------------------------------ timing events
class _Profile:
    def __init__(self, ns: float):
        self.start = 0
        self.end = ns


class _StageEvent:
    """A pair of CUDA events around one stage, shaped like a pyopencl event for `time_launch`:
    `.wait()` and `.profile.start/.end` (nanoseconds). The pair is reused by the next launch of
    the same PreparedLaunch, so read it before launching again."""

    def __init__(self, device: "CUDADevice", start, end):
        self.device, self.start, self.end = device, start, end

    def wait(self) -> None:
        self.device._sync_call(_cu.cuEventSynchronize(self.end), "cuEventSynchronize")

    @property
    def profile(self) -> _Profile:
        self.wait()
        ms = _check(_cu.cuEventElapsedTime(self.start, self.end), "cuEventElapsedTime")
        return _Profile(float(ms) * 1e6)


class CudaPrepared:
    """Buffers allocated, parameters packed: `launch()` runs every stage once (the OpenCL
    PreparedLaunch's contract, with CUDA events)."""

    def __init__(self, device: "CUDADevice", plan: _Plan, buffers: Dict[str, Tuple[Any, int]],
                 host: Mapping[str, Any]):
        self.device = device
        self.plan = plan
        self.buffers = buffers  # name -> (CUdeviceptr, nbytes)
        self.stage_names = tuple(l.name for l in plan.launches)
        pointers = {n: int(p) for n, (p, _b) in buffers.items()}
        self._params = [_param_block(l.args, pointers, host) for l in plan.launches]
        self._events: List[Tuple[Any, Any]] = []
        try:
            for l in plan.launches:
                if not l.empty:
                    self._events.append((device._event(), device._event()))
        except Exception:
            self.release()
            raise

    @property
    def param_values(self) -> List[List[Any]]:
        """The argument values of every launch in plan order (one per kernel parameter), empty
        launches included: what a native loop packs again."""
        return [list(values) for _block, values in self._params]

    def launch(self) -> List[_StageEvent]:
        dev = self.device
        dev._activate()
        out = []
        k = 0
        for l, (block, _keep) in zip(self.plan.launches, self._params):
            if l.empty:
                continue
            start, end = self._events[k]
            k += 1
            _check(_cu.cuEventRecord(start, dev.stream), "cuEventRecord")
            dev._launch(l, block)
            _check(_cu.cuEventRecord(end, dev.stream), "cuEventRecord")
            out.append(_StageEvent(dev, start, end))
        return out

    def finish(self) -> None:
        self.device.synchronize()

    def repoison(self, k: int) -> None:
        """Fill every output and temporary with a pattern that changes with `k` (a finite, tiny
        float), so a timed launch cannot reuse an earlier launch's results."""
        inputs = {p.name for p in self.plan.bound.checked.inputs}
        for name, (ptr, nbytes) in self.buffers.items():
            if name not in inputs and nbytes >= 4:
                _check(_cu.cuMemsetD32Async(ptr, (k + 1) & 0x7FFFFF, nbytes // 4, self.device.stream),
                       "cuMemsetD32Async")

    def read_outputs(self) -> Dict[str, np.ndarray]:
        bound = self.plan.bound
        out = {}
        for p in bound.checked.outputs:
            arr = np.empty(tuple(bound.shapes[p.name]), TENSOR_NP_DTYPE[p.dtype])
            ptr, nbytes = self.buffers[p.name]
            if nbytes:
                self.device._dtoh(arr, ptr, nbytes)
            out[p.name] = arr
        self.device.synchronize()
        return out

    def release(self) -> None:
        for start, end in self._events:
            for ev in (start, end):
                try:
                    _cu.cuEventDestroy(ev)
                except Exception:
                    pass
        self._events = []
        for ptr, _n in self.buffers.values():
            try:
                _cu.cuMemFree(ptr)
            except Exception:
                pass
        self.buffers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ------------------------------------------------------------------ the device
class CUDADevice:
    """One CUDA device through the driver API, in its primary context (shared with PyTorch/CuPy)."""

    align_bytes = 256
    runs_kernels = True
    not_run_reason = ""  # it runs what it builds
    index: int  # its ordinal (set when opened)

    def __init__(self, index: int = 0):
        _init_driver()
        self.index = int(index)
        self.dev = _check(_cu.cuDeviceGet(self.index), f"cuDeviceGet({index})")
        self.ctx = _check(_cu.cuDevicePrimaryCtxRetain(self.dev), "cuDevicePrimaryCtxRetain")
        _check(_cu.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")
        self.stream = _check(_cu.cuStreamCreate(0), "cuStreamCreate")
        self.broken: Optional[str] = None
        A = _cu.CUdevice_attribute
        self.cc = (self._attr(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                   self._attr(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))
        self.arch = best_arch(*self.cc) if nvrtc_available() else f"sm_{self.cc[0]}{self.cc[1]}"
        self.limits = {
            "max_threads_per_block": self._attr(A.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
            "shared_optin": max(self._attr(A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                                self._attr(A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)),
        }

    # -- selection
    @classmethod
    def open(cls, index: Optional[Union[int, str]] = None) -> "CUDADevice":
        """Open device `index` (an ordinal, or a case-insensitive part of the name). Without one:
        $UHOP_CUDA_DEVICE, else device 0. Raises CudaUnavailable without a driver or device."""
        _init_driver()
        n = _check(_cu.cuDeviceGetCount(), "cuDeviceGetCount")
        if n == 0:
            raise CudaUnavailable("the CUDA driver reports no device")
        if index is None:
            env = os.environ.get(DEVICE_ENV, "").strip()
            if env:
                index = int(env) if env.lstrip("-").isdigit() else env
        if index is None:
            index = 0
        if isinstance(index, str):
            names = [_device_name(_check(_cu.cuDeviceGet(i), "cuDeviceGet")) for i in range(n)]
            hits = [i for i, nm in enumerate(names) if index.lower() in nm.lower()]
            if not hits:
                raise ValueError(f"no CUDA device matches {index!r} (devices: "
                                 + "; ".join(f"{i}: {nm}" for i, nm in enumerate(names)) + ")")
            index = hits[0]
        if not 0 <= int(index) < n:
            raise ValueError(f"no CUDA device {index} (there are {n})")
        return cls(int(index))

    def _attr(self, attr) -> int:
        return int(_check(_cu.cuDeviceGetAttribute(attr, self.dev), f"cuDeviceGetAttribute({attr})"))

    @property
    def name(self) -> str:
        return _device_name(self.dev)

    def __repr__(self) -> str:
        return f"CUDADevice({self.index}: {self.name!r}, sm_{self.cc[0]}{self.cc[1]})"

    def _activate(self) -> None:
        if self.broken:
            raise LaunchFailure(f"the CUDA context is unusable after an earlier fault: {self.broken}")
        _check(_cu.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")

    def _sync_call(self, res, what: str):
        """Check a call that reports asynchronous kernel faults; sticky ones poison the context."""
        code = res[0] if isinstance(res, tuple) else res
        if int(code) != 0:
            name = _err_name(code)
            if name in _STICKY:
                self.broken = f"{what}: {name}"
            raise LaunchFailure(f"{what} failed: {name}" + (" (the CUDA context is now unusable: restart the "
                                                             "process)" if name in _STICKY else ""))
        return res

    def synchronize(self) -> None:
        self._sync_call(_cu.cuStreamSynchronize(self.stream), "the launch (cuStreamSynchronize)")

    def build_message(self, strategy: str) -> str:
        """The progress line before a build."""
        return f"building {strategy} kernel"

    # -- description
    def fingerprint(self) -> Dict[str, Any]:
        """Name, compute capability, SMs, shared memory, registers, L2, clocks... (JSON-serialisable).
        Keys shared with the OpenCL fingerprint (compute_units, max_work_group_size, local_mem_size,
        global_mem_bytes, device_type...) mean the same things."""
        A = _cu.CUdevice_attribute

        def get(name: str, default=None):
            try:
                return self._attr(getattr(A, "CU_DEVICE_ATTRIBUTE_" + name))
            except Exception:
                return default

        total = None
        try:
            total = int(_check(_cu.cuDeviceTotalMem(self.dev), "cuDeviceTotalMem"))
        except Exception:
            pass
        driver = None
        try:
            driver = int(_check(_cu.cuDriverGetVersion(), "cuDriverGetVersion"))
        except Exception:
            pass
        mem_khz, bus = get("MEMORY_CLOCK_RATE"), get("GLOBAL_MEMORY_BUS_WIDTH")
        peak = 2.0 * mem_khz * 1e3 * bus / 8 / 1e9 if mem_khz and bus else None
        sm = get("MULTIPROCESSOR_COUNT")
        clock = get("CLOCK_RATE")
        nv = nvrtc_version()
        smem = get("MAX_SHARED_MEMORY_PER_BLOCK")
        return {
            "name": self.name, "vendor": "NVIDIA", "platform": "CUDA", "device_type": "GPU", "index": self.index,
            "compute_capability": f"{self.cc[0]}.{self.cc[1]}", "arch": self.arch,
            "sm_count": sm, "compute_units": sm,
            "max_clock_mhz": clock // 1000 if clock else None, "clock_khz": clock,
            "memory_clock_khz": mem_khz, "memory_bus_bits": bus,
            "peak_dram_gbps": round(peak, 1) if peak else None,
            "global_mem_bytes": total, "l2_cache_bytes": get("L2_CACHE_SIZE"),
            "shared_mem_per_block": smem, "shared_mem_per_block_optin": get("MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"),
            "shared_mem_per_sm": get("MAX_SHARED_MEMORY_PER_MULTIPROCESSOR"),
            "local_mem_size": smem, "local_mem_bytes": smem,
            "registers_per_block": get("MAX_REGISTERS_PER_BLOCK"),
            "registers_per_sm": get("MAX_REGISTERS_PER_MULTIPROCESSOR"),
            "max_threads_per_block": get("MAX_THREADS_PER_BLOCK"), "max_work_group_size": get("MAX_THREADS_PER_BLOCK"),
            "max_threads_per_sm": get("MAX_THREADS_PER_MULTIPROCESSOR"),
            "max_blocks_per_sm": get("MAX_BLOCKS_PER_MULTIPROCESSOR"),
            "warp_size": get("WARP_SIZE"), "ecc": bool(get("ECC_ENABLED", 0)),
            "pci_bus_id": f"{get('PCI_DOMAIN_ID', 0):04x}:{get('PCI_BUS_ID', 0):02x}:{get('PCI_DEVICE_ID', 0):02x}",
            "driver_version": f"{driver // 1000}.{driver % 1000 // 10}" if driver else None,
            "nvrtc_version": f"{nv[0]}.{nv[1]}" if nv else None,
        }

    # -- build
    def build(self, source: str, options: Union[str, Sequence[str]] = ()) -> CudaBuild:
        """Compile `source` for this device (a cubin for its sm_XY) and load it. Compile and
        load errors give ok=False and the log, never an exception."""
        opts = options.split() if isinstance(options, str) else list(options)
        b = nvrtc_compile(source, self.arch, opts)
        if not b.ok:
            return b
        self._activate()
        t0 = time.perf_counter()
        try:
            b.module = _check(_cu.cuModuleLoadData(b.image), "cuModuleLoadData")
        except CudaError as e:
            b.ok, b.log = False, (b.log + f"\n{e}").strip()
            return b
        b.seconds += time.perf_counter() - t0
        for name in kernel_signatures(source):
            try:
                fn = _check(_cu.cuModuleGetFunction(b.module, name.encode()), "cuModuleGetFunction")
            except CudaError:
                continue
            b.functions[name] = {k.lower(): _func_attr(fn, "CU_FUNC_ATTRIBUTE_" + k) for k in
                                 ("NUM_REGS", "LOCAL_SIZE_BYTES", "SHARED_SIZE_BYTES", "MAX_THREADS_PER_BLOCK")}
        return b

    def _plan(self, program, stages, bound) -> _Plan:
        if not isinstance(program, CudaBuild):
            raise AbiError("a CUDA program must be a CudaBuild from CUDADevice.build")
        if not program.ok or program.module is None:
            raise AbiError("the program did not build (or was built without a device)")
        self._activate()
        return _Plan(self, program, stages, bound)

    # -- memory
    def _alloc(self, nbytes: int):
        try:
            return _check(_cu.cuMemAlloc(max(int(nbytes), 1)), f"cuMemAlloc({nbytes})")
        except CudaError as e:
            raise LaunchFailure(str(e)) from None

    def _htod(self, ptr, host: np.ndarray, nbytes: int) -> None:
        _check(_cu.cuMemcpyHtoDAsync(ptr, host.ctypes.data, nbytes, self.stream), "cuMemcpyHtoDAsync")

    def _dtoh(self, host: np.ndarray, ptr, nbytes: int) -> None:
        _check(_cu.cuMemcpyDtoHAsync(host.ctypes.data, ptr, nbytes, self.stream), "cuMemcpyDtoHAsync")

    def _event(self):
        return _check(_cu.cuEventCreate(_cu.CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate")

    def _launch(self, l: _Launch, params: np.ndarray) -> None:
        res = _cu.cuLaunchKernel(l.function, *l.grid, *l.block, l.smem, self.stream, params.ctypes.data, 0)
        code = res[0] if isinstance(res, tuple) else res
        if int(code) != 0:
            name = _err_name(code)
            if name in _STICKY:
                self.broken = f"launch of {l.name}: {name}"
            raise LaunchFailure(f"launch of `{l.name}` (grid={l.grid}, block={l.block}, smem={l.smem}) failed: "
                                f"{name}")

    # -- checking run
    def run(self, program, stages: Sequence[Any], bound: BoundKernel, inputs: Mapping[str, Any], *,
            guard_bytes: int = 4096, poison: Optional[Poison] = None) -> RunResult:
        """Run all stages once on `inputs`, with poisoned outputs/temporaries and canary guards.

        Raises `AbiError` when the program does not follow the ABI, `LaunchFailure` when a
        launch is refused or faults, ValueError for bad inputs."""
        poison = poison or Poison()
        plan = self._plan(program, stages, bound)
        host = host_inputs(bound, inputs)
        guard = round_up(max(0, int(guard_bytes)), self.align_bytes) if guard_bytes else 0
        canary = poison.canary or b"\xa5"

        tensors: List[Tuple[str, str, str]] = []
        for p in bound.checked.inputs:
            if not p.is_scalar:
                tensors.append((p.name, "input", p.dtype))
        for p in bound.checked.outputs:
            tensors.append((p.name, "output", p.dtype))
        if plan.temps_passed:
            for t in plan.temp_args:
                tensors.append((t.name, "temp", t.dtype))

        layout: Dict[str, Tuple[Any, int, int, np.ndarray]] = {}  # name -> (parent, inner address, nbytes, blob)
        try:
            for name, role, dtype in tensors:
                shape = tuple(bound.shapes[name])
                if role == "input":
                    data = host[name]
                else:
                    data = poison.fill(name, shape, dtype)
                body = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
                nbytes = body.size
                vbytes = round_up(max(nbytes, 1), 4)
                if guard:
                    total = guard + vbytes + guard
                    blob = np.frombuffer((canary * (total // len(canary) + 1))[:total], np.uint8).copy()
                    blob[guard:guard + nbytes] = body
                else:
                    total = vbytes
                    blob = np.zeros(vbytes, np.uint8)
                    blob[:nbytes] = body
                parent = self._alloc(total)
                layout[name] = (parent, int(parent) + guard, nbytes, blob)
                self._htod(parent, blob, total)
            self.synchronize()

            pointers = {n: v[1] for n, v in layout.items()}
            params = [_param_block(l.args, pointers, host) for l in plan.launches]
            t0 = time.perf_counter()
            for l, (block, _keep) in zip(plan.launches, params):
                if not l.empty:
                    self._launch(l, block)
            self.synchronize()
            seconds = time.perf_counter() - t0

            outputs: Dict[str, np.ndarray] = {}
            temps: Dict[str, np.ndarray] = {}
            guards: Dict[str, GuardReport] = {}
            modified: List[str] = []
            for name, role, dtype in tensors:
                parent, _inner, nbytes, blob = layout[name]
                back = np.empty_like(blob)
                self._dtoh(back, parent, blob.size)
                self.synchronize()
                body = back[guard:guard + nbytes]
                arr = body.view(TENSOR_NP_DTYPE[dtype]).reshape(tuple(bound.shapes[name])).copy()
                if guard:
                    before = int(np.count_nonzero(back[:guard] != blob[:guard]))
                    changed = np.flatnonzero(back[guard + nbytes:] != blob[guard + nbytes:])
                    guards[name] = GuardReport(name, role, before, int(changed.size), guard,
                                               int(changed[0]) if changed.size else None)
                if role == "output":
                    outputs[name] = arr
                elif role == "temp":
                    temps[name] = arr
                elif not np.array_equal(body, blob[guard:guard + nbytes]):
                    modified.append(name)
            return RunResult(outputs, temps, guards, poison, plan.temps_passed, modified, seconds, bound)
        finally:
            for parent, _inner, _n, _b in layout.values():
                try:
                    _cu.cuMemFree(parent)
                except Exception:
                    pass

    # -- lean launch for timing
    def prepare(self, program, stages: Sequence[Any], bound: BoundKernel, inputs: Mapping[str, Any]) -> CudaPrepared:
        """Allocate plain buffers, upload inputs, zero outputs/temporaries, pack the parameters."""
        plan = self._plan(program, stages, bound)
        host = host_inputs(bound, inputs)
        names = [(p.name, p.dtype) for p in bound.checked.inputs if not p.is_scalar]
        names += [(p.name, p.dtype) for p in bound.checked.outputs]
        if plan.temps_passed:
            names += [(t.name, t.dtype) for t in plan.temp_args]
        buffers: Dict[str, Tuple[Any, int]] = {}
        try:
            for name, dtype in names:
                nbytes = int(np.prod(bound.shapes[name], dtype=np.int64)) * np.dtype(TENSOR_NP_DTYPE[dtype]).itemsize
                ptr = self._alloc(nbytes)
                buffers[name] = (ptr, nbytes)
                if name in host:
                    if nbytes:
                        self._htod(ptr, host[name], nbytes)
                else:
                    _check(_cu.cuMemsetD8Async(ptr, 0, max(nbytes, 1), self.stream), "cuMemsetD8Async")
            self.synchronize()
            return CudaPrepared(self, plan, buffers, host)
        except BaseException:
            for ptr, _n in buffers.values():
                try:
                    _cu.cuMemFree(ptr)
                except Exception:
                    pass
            raise

    def close(self) -> None:
        """Destroy the stream and release the primary context (the device stays usable by others)."""
        if getattr(self, "stream", None) is not None:
            try:
                _cu.cuStreamDestroy(self.stream)
            except Exception:
                pass
            self.stream = None
        if getattr(self, "ctx", None) is not None:
            try:
                _cu.cuDevicePrimaryCtxRelease(self.dev)
            except Exception:
                pass
            self.ctx = None
