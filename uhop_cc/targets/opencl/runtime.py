"""OpenCL runtime: device selection, building, and running kernels under the uhopc ABI.

The kernel ABI (what generated code must follow):

* a source holds one or more ``__kernel`` functions, each a *stage* announced by a
  ``// @launch global=(...) local=(...)`` comment (parsed by ``uhop_cc.codegen.launch``);
  stages run in source order and the last one is named after the UIR kernel;
* every stage takes, in order: the inputs in declaration order (tensors as
  ``__global const T*``, scalars by value), the outputs (``__global T*``), then -- only if
  its argument count says so -- every temporary tensor (``__global T*``, in
  ``checked.tensors`` order), then every size symbol as ``const int`` in ``checked.sizes``
  order;
* tensors are dense and row-major; f32 -> float, f64 -> double, f16 -> half (stored as
  half, accessed with vload_half / vstore_half), i32 -> int.

`OpenCLDevice.run` is the checking launch: it poisons outputs and temporaries, surrounds
every tensor buffer with canary guard zones, and reports what changed outside the
tensors. `OpenCLDevice.prepare` is the lean launch used for timing.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

try:  # pyopencl is a dependency, but keep import errors readable for tools that only list devices
    import pyopencl as cl
except ImportError as _exc:  # pragma: no cover
    cl = None
    _IMPORT_ERROR: Optional[BaseException] = _exc
else:
    _IMPORT_ERROR = None

from ...ir.typed import BoundKernel
from ..common import (SCALAR_NP_DTYPE, TENSOR_NP_DTYPE, AbiError, GuardReport, LaunchFailure, Poison, RunResult,
                      host_inputs)
from ..placement import PlacedBuffer, round_up

__all__ = [
    "DeviceInfo", "list_devices", "OpenCLDevice", "OpenCLUnavailable", "BuildResult",
    "Poison", "GuardReport", "RunResult", "PreparedLaunch", "AbiError", "LaunchFailure",
    "TENSOR_NP_DTYPE", "SCALAR_NP_DTYPE", "C_BASE_TYPE", "DEVICE_ENV",
]

DEVICE_ENV = "UHOP_OPENCL_DEVICE"

C_BASE_TYPE = {"f32": "float", "f64": "double", "f16": "half", "i32": "int"}


class OpenCLUnavailable(RuntimeError):
    """No OpenCL platform or device can be used."""


def _require_cl() -> None:
    if cl is None:
        raise OpenCLUnavailable(f"pyopencl cannot be imported: {_IMPORT_ERROR}")


# ------------------------------------------------------------------ devices
@dataclass(frozen=True)
class DeviceInfo:
    index: int  # across all platforms, in list_devices() order
    platform_index: int
    device_index: int  # within its platform
    platform: str
    name: str
    vendor: str
    type: str  # 'GPU', 'CPU', 'ACCELERATOR', ...
    version: str

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def _device_type(dev) -> str:
    t = int(dev.type)
    names = [n for bit, n in ((cl.device_type.GPU, "GPU"), (cl.device_type.CPU, "CPU"),
                              (cl.device_type.ACCELERATOR, "ACCELERATOR"), (cl.device_type.CUSTOM, "CUSTOM"))
             if t & int(bit)]
    return "|".join(names) or "OTHER"


def _all_cl_devices() -> List[Tuple[int, int, Any, Any]]:
    _require_cl()
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        return []
    out = []
    for pi, plat in enumerate(platforms):
        try:
            devs = plat.get_devices()
        except cl.Error:
            continue
        for di, dev in enumerate(devs):
            out.append((pi, di, plat, dev))
    return out


def list_devices() -> List[DeviceInfo]:
    """Every OpenCL device, platform by platform; `index` is what `OpenCLDevice.open` takes."""
    if cl is None:
        return []
    return [DeviceInfo(i, pi, di, plat.name.strip(), dev.name.strip(), dev.vendor.strip(), _device_type(dev),
                       dev.version.strip())
            for i, (pi, di, plat, dev) in enumerate(_all_cl_devices())]


# ------------------------------------------------------------------ build
@dataclass
class BuildResult:
    ok: bool
    program: Any  # pyopencl.Program, or None when the build failed
    log: str
    seconds: float
    options: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "log": self.log, "seconds": self.seconds, "options": self.options}


@dataclass
class _Arg:
    name: str
    kind: str  # 'input', 'output', 'temp', 'scalar', 'size'
    dtype: str  # uir dtype ('i32' for sizes)
    value: Any = None  # numpy scalar for by-value args


class _Plan:
    """The ABI resolved for one program and bound kernel: the kernels and their argument lists."""

    def __init__(self, program, stages: Sequence[Any], bound: BoundKernel):
        _require_cl()
        if not stages:
            raise AbiError("no stages: the source needs at least one `// @launch` annotated __kernel")
        checked = bound.checked
        self.bound = bound
        self.stages = tuple(stages)
        from ...codegen.cstyle import c_name
        if self.stages[-1].kernel_name not in (bound.name, c_name(bound.name)):
            raise AbiError(f"the last stage is `{self.stages[-1].kernel_name}`; it must be the entry kernel "
                           f"named after the UIR kernel, `{bound.name}`")
        try:
            available = [n for n in program.get_info(cl.program_info.KERNEL_NAMES).split(";") if n]
        except cl.Error:
            available = None
        base: List[_Arg] = []
        for p in checked.inputs:
            base.append(_Arg(p.name, "scalar" if p.is_scalar else "input", p.dtype))
        for p in checked.outputs:
            base.append(_Arg(p.name, "output", p.dtype))
        temps = [_Arg(t.name, "temp", t.dtype) for t in checked.temps()]
        sizes = [_Arg(s, "size", "i32", int(bound.sizes[s])) for s in checked.sizes]  # width set per kernel
        self.temp_args = temps
        n_base, n_with = len(base) + len(sizes), len(base) + len(sizes) + len(temps)
        self.kernels = []  # (stage, kernel, args, geometry)
        self.temps_passed = False
        for stage in self.stages:
            name = stage.kernel_name
            if available is not None and name not in available:
                raise AbiError(f"the program has no kernel `{name}` (it defines: {', '.join(available) or 'none'})")
            try:
                kernel = cl.Kernel(program, name)
            except cl.Error as e:
                raise AbiError(f"cannot create kernel `{name}`: {_short_cl_error(e)}") from None
            nargs = kernel.num_args
            if nargs == n_base:
                args = base + sizes
            elif temps and nargs == n_with:
                args = base + temps + sizes
                self.temps_passed = True
            else:
                want = f"{n_base}"
                if temps:
                    want += f" (or {n_with} with the temporaries {', '.join(t.name for t in temps)})"
                listing = ", ".join(f"{a.name}" for a in base + sizes)
                raise AbiError(f"kernel `{name}` takes {nargs} argument(s); the ABI expects {want}: {listing}"
                               + (" with the temporaries before the sizes" if temps else ""))
            args = [self._checked_arg(kernel, i, a) for i, a in enumerate(args)]
            try:
                geo = stage.geometry(dict(bound.sizes))
            except ValueError as e:
                raise AbiError(f"stage `{name}`: bad launch geometry: {e}") from None
            gsize, lsize = _check_geometry(name, geo.global_size, geo.local_size)
            self.kernels.append((stage, kernel, args, gsize, lsize))

    @staticmethod
    def _checked_arg(kernel, i: int, a: _Arg) -> _Arg:
        """Compare argument `i` with the kernel's argument info when the driver provides it."""
        try:
            tname = kernel.get_arg_info(i, cl.kernel_arg_info.TYPE_NAME)
            aq = kernel.get_arg_info(i, cl.kernel_arg_info.ADDRESS_QUALIFIER)
            aname = kernel.get_arg_info(i, cl.kernel_arg_info.NAME)
        except (cl.Error, AttributeError):
            return size_arg(a, "int", f"kernel `{kernel.function_name}` argument {i}") if a.kind == "size" else a
        t = tname.replace("const", "").replace("restrict", "").replace("volatile", "").replace(" ", "")
        where = f"kernel `{kernel.function_name}` argument {i} (`{aname}`, for {a.kind} `{a.name}`)"
        if a.kind == "size" and not t.endswith("*"):
            return size_arg(a, t, where)
        is_ptr = t.endswith("*")
        base = t.rstrip("*").rstrip("0123456789")
        want = C_BASE_TYPE[a.dtype]
        if a.kind in ("input", "output", "temp"):
            if not is_ptr or aq != cl.kernel_arg_address_qualifier.GLOBAL:
                raise AbiError(f"{where} is `{tname}`; the ABI expects `__global {want}*`")
            if base != want and not (a.dtype == "f16" and base in ("ushort", "short")):
                raise AbiError(f"{where} is `{tname}`; the ABI expects `__global {want}*` ({a.dtype})")
            return a
        if is_ptr:
            raise AbiError(f"{where} is `{tname}`; the ABI expects a `{want}` passed by value")
        if a.kind == "scalar" and a.dtype == "f16":
            if t == "half":
                return _Arg(a.name, a.kind, a.dtype, a.value)  # np.float16 chosen at bind time
            if t != "float":
                raise AbiError(f"{where} is `{tname}`; the ABI expects `float` (or `half`)")
            return _Arg(a.name, a.kind, "f16:float", a.value)
        if t != want:
            raise AbiError(f"{where} is `{tname}`; the ABI expects `{want}`")
        return a


SIZE_TYPES = {"int": np.int32, "long": np.int64}  # OpenCL C: int is 32-bit, long 64-bit


def size_arg(a: _Arg, ctype: str, where: str) -> _Arg:
    """A size argument with the width the kernel declares (`int` or 64-bit `long`): sizes past
    2^31 - 1 need a kernel that takes them as `long` (uhopc renders such kernels at such shapes)."""
    width = SIZE_TYPES.get(ctype)
    if width is None:
        raise AbiError(f"{where} is `{ctype}`; sizes are `int` (or `long` for shapes past 2^31 - 1 elements)")
    if width is np.int32 and int(a.value) > 2 ** 31 - 1:
        raise AbiError(f"{where}: size `{a.name}` = {int(a.value)} does not fit the kernel's `int`; "
                       "a kernel for this shape must take sizes (and index) as `long`")
    return _Arg(a.name, a.kind, "i64" if width is np.int64 else "i32", width(int(a.value)))


def _check_geometry(name, gsize, lsize) -> Tuple[Tuple[int, ...], Optional[Tuple[int, ...]]]:
    g = tuple(int(x) for x in gsize)
    if not 1 <= len(g) <= 3 or any(x < 0 for x in g):
        raise AbiError(f"stage `{name}`: bad global size {g}")
    if lsize is None:
        return g, None
    loc = tuple(int(x) for x in lsize)
    if len(loc) != len(g) or any(x <= 0 for x in loc):
        raise AbiError(f"stage `{name}`: local size {loc} does not fit global size {g}")
    return g, loc


def _short_cl_error(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _scalar(a: _Arg, value) -> np.generic:
    if a.dtype == "f16:float":
        return np.float32(value)
    if a.dtype == "f16":
        return np.float16(value)
    return SCALAR_NP_DTYPE[a.dtype](value)


# ------------------------------------------------------------------ prepared launch (timing)
class PreparedLaunch:
    """Buffers allocated, arguments set: `launch()` enqueues every stage once."""

    def __init__(self, device: "OpenCLDevice", plan: _Plan, buffers: Dict[str, Any], keep: List[Any],
                 arena: Any = None):
        self.device = device
        self.plan = plan
        self.buffers = buffers
        self._keep = keep
        self._arena = arena
        self.queue = device.queue
        self.stage_names = tuple(s.kernel_name for s, *_ in plan.kernels)

    def launch(self) -> List[Any]:
        """Enqueue all stages once, in order; returns their events (skipped empty stages give none)."""
        events = []
        for stage, kernel, _args, g, loc in self.plan.kernels:
            if 0 in g:
                continue
            try:
                events.append(cl.enqueue_nd_range_kernel(self.queue, kernel, g, loc))
            except cl.Error as e:
                raise LaunchFailure(f"enqueue of `{stage.kernel_name}` (global={g}, local={loc}) failed: "
                                    f"{_short_cl_error(e)}") from None
        return events

    def finish(self) -> None:
        self.queue.finish()

    @property
    def arena(self) -> Any:
        """The one buffer that holds every output and temporary (prepare(..., arena=True)), else None:
        the native timing loop refills it before each repetition (its `flush_buffer`)."""
        return self._arena

    def repoison(self, k: int) -> None:
        """Fill every output and temporary with a pattern that changes with `k` (a finite, tiny
        float), so a timed launch cannot reuse an earlier launch's results."""
        pattern = np.uint32((k + 1) & 0x7FFFFF)
        inputs = {p.name for p in self.plan.bound.checked.inputs}
        targets = [self._arena] if self._arena is not None else [
            b for n, b in self.buffers.items() if n not in inputs]
        for b in targets:
            if b.size >= 4:
                cl.enqueue_fill_buffer(self.queue, b, pattern, 0, b.size // 4 * 4)

    def read_outputs(self) -> Dict[str, np.ndarray]:
        out = {}
        bound = self.plan.bound
        for p in bound.checked.outputs:
            arr = np.empty(tuple(bound.shapes[p.name]), TENSOR_NP_DTYPE[p.dtype])
            if arr.size:
                cl.enqueue_copy(self.queue, arr, self.buffers[p.name])
            out[p.name] = arr
        self.queue.finish()
        return out

    def release(self) -> None:
        for b in list(self.buffers.values()) + ([self._arena] if self._arena is not None else []):
            try:
                b.release()
            except cl.Error:
                pass
        self.buffers = {}
        self._arena = None


# ------------------------------------------------------------------ the device
class OpenCLDevice:
    """One OpenCL device (a context and a profiling queue on it): see common.Device."""

    runs_kernels = True
    not_run_reason = ""  # it runs what it builds
    index: int  # its ordinal (set when opened)

    def __init__(self, cl_device, index: int = 0):
        _require_cl()
        self.cl_device = cl_device
        self.index = index
        self.context = cl.Context([cl_device])
        self.queue = cl.CommandQueue(self.context, cl_device,
                                     properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.align_bytes = max(1, int(cl_device.mem_base_addr_align) // 8)

    # -- selection
    @classmethod
    def open(cls, index: Optional[Union[int, str]] = None) -> "OpenCLDevice":
        """Open device `index` (as numbered by `list_devices`). Without one: $UHOP_OPENCL_DEVICE
        (an index or a case-insensitive part of the device name), else the first GPU, else the
        first device."""
        devs = _all_cl_devices()
        if not devs:
            raise OpenCLUnavailable("no OpenCL device found (is an ICD such as PoCL installed?)")
        listing = "; ".join(f"{i}: {d.name.strip()}" for i, (_, _, _, d) in enumerate(devs))
        if index is None:
            env = os.environ.get(DEVICE_ENV, "").strip()
            if env:
                index = int(env) if env.lstrip("-").isdigit() else env
        if index is None:
            gpus = [i for i, (_, _, _, d) in enumerate(devs) if int(d.type) & int(cl.device_type.GPU)]
            index = gpus[0] if gpus else 0
        if isinstance(index, str):
            hits = [i for i, (_, _, _, d) in enumerate(devs) if index.lower() in d.name.lower()]
            if not hits:
                raise ValueError(f"no OpenCL device matches {index!r} (devices: {listing})")
            index = hits[0]
        if not 0 <= index < len(devs):
            raise ValueError(f"no OpenCL device {index} (devices: {listing})")
        return cls(devs[index][3], index)

    @property
    def name(self) -> str:
        return self.cl_device.name.strip()

    def __repr__(self) -> str:
        return f"OpenCLDevice({self.index}: {self.name!r})"

    def build_message(self, strategy: str) -> str:
        """The progress line before a build."""
        return f"building {strategy} kernel"

    # -- description
    def fingerprint(self) -> Dict[str, Any]:
        """What identifies the device and its performance-relevant limits (JSON-serialisable)."""
        d = self.cl_device

        def get(attr, default=None):
            try:
                v = getattr(d, attr)
            except (cl.Error, AttributeError):
                return default
            if isinstance(v, str):
                return v.strip()
            if isinstance(v, (list, tuple)):
                return [int(x) for x in v]
            return int(v) if isinstance(v, (int, np.integer)) else v

        exts = sorted(set(d.extensions.split()))
        keys = ("fp16", "fp64", "subgroup", "atomic", "int64", "dot_product", "3d_image", "image2d",
                "spir", "il_program", "mad", "printf", "command_buffer", "unified", "shuffle")
        relevant = [e for e in exts if any(k in e for k in keys)]
        return {
            "name": get("name"), "vendor": get("vendor"), "vendor_id": get("vendor_id"),
            "platform": d.platform.name.strip(), "platform_version": d.platform.version.strip(),
            "driver_version": get("driver_version"), "opencl_version": get("version"),
            "opencl_c_version": get("opencl_c_version"), "device_type": _device_type(d),
            "index": self.index,
            "compute_units": get("max_compute_units"), "max_clock_mhz": get("max_clock_frequency"),
            "max_work_group_size": get("max_work_group_size"), "max_work_item_sizes": get("max_work_item_sizes"),
            "local_mem_bytes": get("local_mem_size"),
            "local_mem_type": {1: "local", 2: "global"}.get(get("local_mem_type", 0), "none"),
            "global_mem_bytes": get("global_mem_size"), "max_alloc_bytes": get("max_mem_alloc_size"),
            "global_mem_cache_bytes": get("global_mem_cache_size"),
            "global_mem_cacheline_bytes": get("global_mem_cacheline_size"),
            "max_constant_buffer_bytes": get("max_constant_buffer_size"),
            "mem_base_addr_align_bytes": self.align_bytes,
            "preferred_vector_width": {k: get(f"preferred_vector_width_{k}") for k in ("float", "double", "half", "int")},
            "native_vector_width": {k: get(f"native_vector_width_{k}") for k in ("float", "double", "half", "int")},
            "fp64": "cl_khr_fp64" in exts or bool(get("double_fp_config", 0)),
            "fp16": "cl_khr_fp16" in exts,
            "profiling_timer_resolution_ns": get("profiling_timer_resolution"),
            "extensions": relevant,
        }

    # -- build
    def build(self, source: str, options: str = "") -> BuildResult:
        """Compile `source`; compile errors give ok=False and the log, never an exception."""
        opts = options.strip()
        if "-cl-kernel-arg-info" not in opts.split():
            opts = (opts + " -cl-kernel-arg-info").strip()
        t0 = time.perf_counter()
        prg = cl.Program(self.context, source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                prg.build(options=opts)
                ok, err = True, ""
            except cl.Error as e:
                ok, err = False, str(e)
        seconds = time.perf_counter() - t0
        log = ""
        try:
            if prg._prg is not None:  # the raw program, kept by pyopencl after an uncached build
                log = prg._prg.get_build_info(self.cl_device, cl.program_build_info.LOG) or ""
        except (cl.Error, AttributeError):
            log = ""
        log = log.strip()
        if not ok and not log:
            log = _clean_build_error(err)
        return BuildResult(ok, prg if ok else None, log, seconds, opts)

    # -- checking run
    def _plan(self, program, stages, bound) -> _Plan:
        if isinstance(program, BuildResult):
            if not program.ok:
                raise AbiError("the program did not build")
            program = program.program
        return _Plan(program, stages, bound)

    def run(self, program, stages: Sequence[Any], bound: BoundKernel, inputs: Mapping[str, Any], *,
            guard_bytes: int = 4096, poison: Optional[Poison] = None, guard_pages: bool = False) -> RunResult:
        """Run all stages once on `inputs`, with poisoned outputs/temporaries and canary guards.

        `guard_pages` (CPU devices, which work on host memory in place): every tensor sits in host
        memory between PROT_NONE pages `guard_bytes` long, with only the alignment slack as canary,
        so a read or write past a buffer faults at once (the checking child dies of SIGSEGV).

        Raises `AbiError` when the program does not follow the ABI, `LaunchFailure` when the
        runtime refuses a launch, ValueError for bad inputs."""
        poison = poison or Poison()
        plan = self._plan(program, stages, bound)
        host = host_inputs(bound, inputs)
        pages = guard_pages and self.works_in_host_memory
        guard = round_up(max(0, int(guard_bytes)), self.align_bytes) if guard_bytes and not pages else 0
        canary = poison.canary or b"\xa5"
        q = self.queue
        tensors: List[Tuple[str, str, str]] = []  # (name, role, dtype)
        for p in bound.checked.inputs:
            if not p.is_scalar:
                tensors.append((p.name, "input", p.dtype))
        for p in bound.checked.outputs:
            tensors.append((p.name, "output", p.dtype))
        if plan.temps_passed:
            for t in plan.temp_args:
                tensors.append((t.name, "temp", t.dtype))
        layout: Dict[str, PlacedBuffer] = {}
        try:
            for name, role, dtype in tensors:
                data = host[name] if role == "input" else poison.fill(name, tuple(bound.shapes[name]), dtype)
                body = data.reshape(-1).view(np.uint8)
                layout[name] = self._place(body, guard, canary, int(guard_bytes) if pages else 0)
            q.finish()
            for _stage, kernel, args, _g, _l in plan.kernels:
                _set_args(kernel, args, {n: (pl.parent, pl.view, pl.nbytes, None) for n, pl in layout.items()}, host)
            t0 = time.perf_counter()
            for stage, kernel, _args, g, loc in plan.kernels:
                if 0 in g:
                    continue
                try:
                    cl.enqueue_nd_range_kernel(q, kernel, g, loc)
                except cl.Error as e:
                    raise LaunchFailure(f"enqueue of `{stage.kernel_name}` (global={g}, local={loc}) failed: "
                                        f"{_short_cl_error(e)}") from None
            try:
                q.finish()
            except cl.Error as e:
                raise LaunchFailure(f"the launch failed: {_short_cl_error(e)}") from None
            seconds = time.perf_counter() - t0
            return self._collect(bound, tensors, layout, poison, plan, seconds)
        finally:
            for pl in layout.values():
                pl.release()

    @property
    def works_in_host_memory(self) -> bool:
        """CPU devices (PoCL) run kernels on host memory in place (USE_HOST_PTR is zero-copy)."""
        return bool(int(self.cl_device.type) & int(cl.device_type.CPU))

    def _place(self, body: np.ndarray, guard: int, canary: bytes, page_guard: int) -> PlacedBuffer:
        """A device buffer holding `body` between canary zones (and, with page_guard, PROT_NONE pages)."""
        nbytes = body.size
        vbytes = max(nbytes, 1)
        if page_guard:
            return PlacedBuffer.between_pages(self, body, canary, page_guard)
        total = guard + vbytes + guard
        blob = (np.frombuffer((canary * (total // len(canary) + 1))[:total], np.uint8).copy() if guard
                else np.zeros(vbytes, np.uint8))
        blob[guard:guard + nbytes] = body
        parent = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, total)
        cl.enqueue_copy(self.queue, parent, blob)
        view = parent.get_sub_region(guard, vbytes) if guard else parent
        return PlacedBuffer(parent, view, nbytes, blob, guard)

    def _collect(self, bound, tensors, layout, poison: Poison, plan, seconds: float) -> RunResult:
        outputs: Dict[str, np.ndarray] = {}
        temps: Dict[str, np.ndarray] = {}
        guards: Dict[str, GuardReport] = {}
        modified: List[str] = []
        q = self.queue
        for name, role, dtype in tensors:
            pl = layout[name]
            back = np.empty_like(pl.blob)
            cl.enqueue_copy(q, back, pl.parent)
            q.finish()
            lo, hi = pl.before, pl.before + pl.nbytes
            arr = back[lo:hi].view(TENSOR_NP_DTYPE[dtype]).reshape(tuple(bound.shapes[name])).copy()
            if pl.before or back.size > hi:
                changed = np.flatnonzero(back[hi:] != pl.blob[hi:])
                guards[name] = GuardReport(name, role, int(np.count_nonzero(back[:lo] != pl.blob[:lo])),
                                           int(changed.size), max(pl.before, back.size - hi),
                                           int(changed[0]) if changed.size else None)
            if role == "output":
                outputs[name] = arr
            elif role == "temp":
                temps[name] = arr
            elif not np.array_equal(back[lo:hi], pl.blob[lo:hi]):
                modified.append(name)
        return RunResult(outputs, temps, guards, poison, plan.temps_passed, modified, seconds, bound)

    # -- lean launch for timing
    def prepare(self, program, stages: Sequence[Any], bound: BoundKernel, inputs: Mapping[str, Any],
                arena: bool = False, scratch_bytes: int = 0) -> PreparedLaunch:
        """Allocate plain buffers, upload inputs, zero outputs/temporaries, and set all arguments.
        `arena`: outputs and temporaries are sub-buffers of one buffer (`PreparedLaunch.arena`), with
        `scratch_bytes` more at its end (refilling the arena then also flushes the caches)."""
        plan = self._plan(program, stages, bound)
        host = host_inputs(bound, inputs)
        ctx, q = self.context, self.queue
        buffers: Dict[str, Any] = {}
        names = [(p.name, p.dtype) for p in bound.checked.inputs if not p.is_scalar]
        names += [(p.name, p.dtype) for p in bound.checked.outputs]
        if plan.temps_passed:
            names += [(t.name, t.dtype) for t in plan.temp_args]
        sizes = {name: int(np.prod(bound.shapes[name], dtype=np.int64)) * np.dtype(TENSOR_NP_DTYPE[dtype]).itemsize
                 for name, dtype in names}
        offsets, parent, total = {}, None, 0
        if arena:
            for name, _d in names:
                if name not in host:
                    offsets[name] = total
                    total = round_up(total + max(sizes[name], 1), max(self.align_bytes, 4))
            total += max(0, int(scratch_bytes))
            if total:
                parent = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, total)
                cl.enqueue_fill_buffer(q, parent, np.uint8(0), 0, total)
        layout = {}
        for name, dtype in names:
            nbytes = sizes[name]
            if name in offsets:
                buf = parent.get_sub_region(offsets[name], max(nbytes, 1))
            else:
                buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, max(nbytes, 1))
                if name in host:
                    if nbytes:
                        cl.enqueue_copy(q, buf, host[name])
                else:
                    cl.enqueue_fill_buffer(q, buf, np.uint8(0), 0, max(nbytes, 1))
            buffers[name] = buf
            layout[name] = (buf, buf, nbytes, None)
        q.finish()
        for _stage, kernel, args, _g, _l in plan.kernels:
            _set_args(kernel, args, layout, host)
        return PreparedLaunch(self, plan, buffers, [host], parent)


def _set_args(kernel, args: List[_Arg], layout, host) -> None:
    for i, a in enumerate(args):
        if a.kind in ("input", "output", "temp"):
            kernel.set_arg(i, layout[a.name][1])
        elif a.kind == "scalar":
            kernel.set_arg(i, _scalar(a, host[a.name]))
        else:  # size
            kernel.set_arg(i, a.value)


def _clean_build_error(msg: str) -> str:
    """The compiler messages out of pyopencl's build exception text."""
    lines = msg.splitlines()
    keep = []
    for ln in lines:
        if ln.startswith("clBuildProgram failed") or ln.startswith("Build on <pyopencl.Device"):
            continue
        if ln.startswith("(options:") or ln.startswith("(source saved as"):
            continue
        keep.append(ln)
    return "\n".join(keep).strip() or msg.strip()
