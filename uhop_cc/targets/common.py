"""What every target shares: the contracts a target implements (as Protocols) and the runtime
types its devices return.

A target (`uhop_cc.targets.<name>`) is one object, registered in `uhop_cc.targets`, that knows how
to render kernels for its dialect, which fast templates it has, how to open a device and what that
device can do. Its device builds sources and launches them under the kernel ABI; the checking launch
returns a `RunResult` (outputs, poison left, guard zones), the lean launch a prepared object that the
timing loop repeats. Code outside `targets/` asks the registry and these contracts, never a name.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

from ..ir.typed import BoundKernel

if TYPE_CHECKING:  # for annotations only: the timing statistics live in verify
    from ..verify.timing import Timing

__all__ = ["Target", "Device", "Build", "Prepared", "TENSOR_NP_DTYPE", "SCALAR_NP_DTYPE", "AbiError", "LaunchFailure",
           "Poison", "GuardReport", "RunResult", "pattern", "host_inputs"]

# Storage dtypes of tensor buffers and of by-value scalar arguments.
TENSOR_NP_DTYPE = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "i32": np.int32}
# f16 scalars are passed as float unless the kernel's argument info says `half`.
SCALAR_NP_DTYPE = {"f32": np.float32, "f64": np.float64, "f16": np.float32, "i32": np.int32}


class AbiError(ValueError):
    """The program does not follow the kernel ABI (missing kernel, wrong argument list...)."""


class LaunchFailure(RuntimeError):
    """A device's runtime (OpenCL, the CUDA driver...) refused to launch a stage, or a launch failed
    while running."""


# ------------------------------------------------------------------ poison and guards
def pattern(seed: int, n: int = 16) -> bytes:
    rng = np.random.default_rng(seed)
    b = rng.integers(1, 255, size=n, dtype=np.uint8)
    return bytes(b)


@dataclass(frozen=True)
class Poison:
    """What outputs and temporaries hold before a launch, and what fills the guard zones.

    `kind` 'nan' (the default): float elements get a *signalling* NaN carrying `nan_payload` in
    its mantissa, so an element still holding the poison can be told from a NaN the kernel
    computed, and from one computed *from* the poison (arithmetic quiets a signalling NaN but, on
    most hardware, keeps its payload: `tainted`); i32 elements get `int_value`. 'random': finite
    random values (seeded by `seed` and the tensor's name), 'zero': zeros -- so a kernel cannot
    learn to recognise the harness by its poison (`isnan(Y)`). The guard zones repeat `canary`."""
    nan_payload: int = 0x1BAD
    int_value: int = -0x2A2A2A2B
    canary: bytes = b"\xca\xfe\xf0\x0d\x5a\xa5\x3c\xc3"
    kind: str = "nan"  # 'nan', 'random' or 'zero'
    seed: int = 0

    # dtype -> (uint type, exponent bits, quiet bit, payload mask)
    _FLOAT_BITS = {"f16": (np.uint16, 0x7C00, 0x200, 0x1FF),
                   "f32": (np.uint32, 0x7F800000, 0x400000, 0x3FFFFF),
                   "f64": (np.uint64, 0x7FF0000000000000, 0x8000000000000, 0x7FFFFFFFFFFFF)}
    _NP = {"f16": np.float16, "f32": np.float32, "f64": np.float64}

    def _bits(self, dtype: str) -> int:
        _u, exp, _q, mask = self._FLOAT_BITS[dtype]
        return exp | ((self.nan_payload & mask) or 1)  # quiet bit clear, payload non-zero: a signalling NaN

    def element(self, dtype: str) -> np.ndarray:
        """The NaN-kind poison as a 0-d array of the tensor's storage dtype."""
        if dtype in self._FLOAT_BITS:
            u = self._FLOAT_BITS[dtype][0]
            return np.array(self._bits(dtype), u).view(self._NP[dtype])
        if dtype == "i32":
            return np.array(self.int_value, np.int32)
        raise ValueError(f"unknown dtype {dtype!r}")

    def fill(self, name: str, shape: Tuple[int, ...], dtype: str) -> np.ndarray:
        """The poisoned contents of tensor `name` before a launch."""
        if self.kind == "nan":
            return np.broadcast_to(self.element(dtype), shape).copy()
        npd = TENSOR_NP_DTYPE[dtype]
        if self.kind == "zero":
            return np.zeros(shape, npd)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, *name.encode()])
        if dtype == "i32":
            return rng.integers(-(1 << 30), 1 << 30, size=shape).astype(np.int32)
        return rng.uniform(-1e3, 1e3, size=shape).astype(npd)

    def _view(self, arr: np.ndarray, dtype: str) -> np.ndarray:
        p = self.element(dtype)
        a = np.ascontiguousarray(arr, dtype=p.dtype)
        u = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[p.dtype.itemsize]
        return a.view(u), p.reshape(()).view(u)

    def mask(self, arr: np.ndarray, dtype: str, name: str = "") -> np.ndarray:
        """True where `arr` (tensor `name`) still holds exactly the poison bits."""
        if self.kind != "nan":
            want = self.fill(name, np.shape(arr), dtype)
            a = np.ascontiguousarray(arr, dtype=want.dtype)
            u = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[want.dtype.itemsize]
            return a.view(u) == want.view(u)
        a, p = self._view(arr, dtype)
        return a == p

    def tainted(self, arr: np.ndarray, dtype: str) -> np.ndarray:
        """True where a float element is a NaN computed from the poison (quieted, maybe negated)."""
        if dtype not in self._FLOAT_BITS or self.kind != "nan":
            return np.zeros(np.shape(arr), bool)
        a, p = self._view(arr, dtype)
        u, _exp, quiet, _mask = self._FLOAT_BITS[dtype]
        sign = u(1) << u(8 * np.dtype(u).itemsize - 1)
        return (a & ~sign) == (p | u(quiet))

    def describe(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"kind": self.kind, "canary": self.canary.hex()}
        if self.kind == "nan":
            d.update(nan_payload=hex(self.nan_payload), int_value=self.int_value)
        elif self.kind == "random":
            d["seed"] = self.seed
        return d

    @staticmethod
    def numbered(k: int) -> "Poison":
        """The k-th of a family of distinct NaN poisons (k = 0 is the default one)."""
        if k == 0:
            return Poison()
        return Poison(nan_payload=(0x1BAD + 0x9E37 * k) & 0x1FF or 1,
                      int_value=int(np.int32(np.uint32((0xD5A5D5A5 + 0x1F3D5B79 * k) & 0xFFFFFFFF).view(np.int32))),
                      canary=pattern(1000 + k, 8))

    @staticmethod
    def varied(k: int, seed: int = 0) -> "Poison":
        """The k-th poison of a validation: NaN, random finite values and zeros in turn (each with
        its own canary), so no kernel can tell the harness's outputs from a user's."""
        kind = ("nan", "random", "zero")[k % 3]
        base = Poison.numbered(k)
        return Poison(base.nan_payload, base.int_value, base.canary, kind, seed + k)


@dataclass
class GuardReport:
    """Bytes changed in the guard zones around one tensor's buffer."""
    tensor: str
    role: str  # 'input', 'output' or 'temp'
    before: int = 0  # bytes changed in the guard zone before the tensor
    after: int = 0  # bytes changed in the guard zone after the tensor
    guard_bytes: int = 0
    first_after_offset: Optional[int] = None  # offset past the end of the first changed byte after it

    @property
    def ok(self) -> bool:
        return self.before == 0 and self.after == 0

    def describe(self) -> str:
        parts = []
        if self.before:
            parts.append(f"out-of-bounds write before the buffer ({self.before} bytes changed)")
        if self.after:
            parts.append(f"out-of-bounds write after the buffer ({self.after} bytes changed)")
        return "; ".join(parts) or "guards intact"

    def to_json(self) -> Dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


# ------------------------------------------------------------------ results
@dataclass
class RunResult:
    outputs: Dict[str, np.ndarray]
    temps: Dict[str, np.ndarray]  # only when the kernels take temporaries
    guards: Dict[str, GuardReport]  # every tensor buffer (inputs too) when guard_bytes > 0
    poison: Poison
    temps_passed: bool
    inputs_modified: List[str]
    seconds: float  # host wall time from the first enqueue to completion
    bound: BoundKernel = field(repr=False, default=None)

    def poisoned(self, name: str) -> np.ndarray:
        """Boolean mask of the elements of output/temp `name` that still hold the poison."""
        arr = self.outputs[name] if name in self.outputs else self.temps[name]
        return self.poison.mask(arr, self.bound.dtype(name), name)

    @property
    def oob_writes(self) -> List[GuardReport]:
        return [g for g in self.guards.values() if not g.ok]


def host_inputs(bound: BoundKernel, inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """The inputs of one launch, checked against the bound kernel: tensors as contiguous arrays of
    their storage dtype and bound shape, scalars as given. Raises ValueError naming what is wrong."""
    checked = bound.checked
    out: Dict[str, Any] = {}
    known = {p.name for p in checked.inputs}
    unknown = [k for k in inputs if k not in known]
    if unknown:
        raise ValueError(f"unknown input(s) {', '.join(unknown)} for kernel `{bound.name}`")
    for p in checked.inputs:
        if p.name not in inputs:
            raise ValueError(f"missing input `{p.name}`")
        v = inputs[p.name]
        if p.is_scalar:
            out[p.name] = v
            continue
        arr = np.ascontiguousarray(np.asarray(v), dtype=TENSOR_NP_DTYPE[p.dtype])
        want = tuple(bound.shapes[p.name])
        if arr.shape != want:
            raise ValueError(f"input `{p.name}`: expected shape {want}, got {arr.shape}")
        out[p.name] = arr
    return out


@runtime_checkable
class Build(Protocol):
    """What `Device.build` returns: the build stage keeps `ok`, `log` (the compiler's messages,
    the first error line becomes the attempt's reason) and `to_json()` (report.json's "build"); the
    object itself is the `program` that `Device.run` and `Device.prepare` take."""
    ok: bool
    log: str

    def to_json(self) -> Dict[str, Any]:
        """The build as report.json holds it (at least 'ok' and 'log')."""


@runtime_checkable
class Prepared(Protocol):
    """What `Device.prepare` returns: buffers allocated and arguments set, so that timing repeats
    `launch()` alone (verify/timing.time_launch, or the target's native loop in `Target.time`).
    A target whose `arena_launches` is True also has `arena`: the one buffer holding every output
    and temporary (None when prepared without one), which its native loop refills between runs."""
    stage_names: Sequence[str]  # one name per non-empty stage, in launch order

    def launch(self) -> List[Any]:
        """Every stage once; one event per launched stage (`.wait()`, `.profile.start/.end` in ns)."""

    def finish(self) -> None:
        """Wait until the device is done."""

    def repoison(self, k: int) -> None:
        """Refill every output and temporary with a pattern that changes with `k`."""

    def read_outputs(self) -> Dict[str, np.ndarray]:
        """The outputs after the last launch, by name."""

    def release(self) -> None:
        """Free the buffers (the object is unusable afterwards)."""


@runtime_checkable
class Device(Protocol):
    """A device of one target: it builds sources and launches them under the kernel ABI.

    `run` is the checking launch (poisoned outputs, guard zones, inputs compared before and after;
    raises AbiError, LaunchFailure, ValueError); `prepare` the lean launch that timing repeats. A
    compile-only device (NVRTC without a GPU, TT-Metal's syntax check) has `runs_kernels` False:
    the pipeline stops after its build (NOT_RUN, `not_run_reason`), and `run`/`prepare` raise.
    Optional: `works_in_host_memory` (True: kernels work on host memory in place, e.g. PoCL on a
    CPU, so the judge puts tensors between PROT_NONE pages; absent means False)."""
    name: str
    index: Any  # what `Target.open_device` was given to find it again (an ordinal), None where nothing runs
    runs_kernels: bool  # False: builds only
    not_run_reason: str  # why nothing ran, for a device that runs nothing ('' otherwise)

    def fingerprint(self) -> Dict[str, Any]:
        """What schedules are fitted to and reports name: at least 'name'; limits, caches, units."""

    def build_message(self, strategy: str) -> str:
        """The progress line before building a `strategy` kernel."""

    def build(self, source: str, options: str = "") -> Build:
        """Compile `source` (a multi-file candidate: `files=` too, TT-Metal); never raises for a
        compile error (`ok` False, the messages in `log`)."""

    def run(self, program, stages: Sequence[Any], bound: BoundKernel, inputs, **kwargs) -> RunResult:
        """The checking launch of a built `program` (a Build) over the @launch `stages` (kwargs:
        guard_bytes=, poison=, guard_pages=, ... as verify/validate passes them)."""

    def prepare(self, program, stages: Sequence[Any], bound: BoundKernel, inputs, **kwargs) -> Prepared:
        """The lean launch for timing; kwargs only where the target has `arena_launches`
        (arena=True, scratch_bytes=)."""


@runtime_checkable
class Target(Protocol):
    """One kernel dialect and the machinery around it (targets/opencl/__init__.py is a whole example;
    README "Adding a target" walks through it). Code outside targets/ reads these, never a name.
    Optional members: `emit_host(bound, generated, outdir, **kwargs)` (the standalone host project
    of `--emit-host`; every target whose `runs_kernels` is True has it), `generic(bound, params=None)`
    (the candidate of a target that is not `c_style`; C-style ones render `renderer(bits).generic`)."""
    # facts
    name: str  # the registry key and the `--target` value
    file_name: str  # the kernel file's name in an output folder (`kernel.cl`)
    language: str  # the dialect's name in prompts and messages
    fence: str  # the code-fence language of prompts and replies
    kernel_qualifier: str  # how a kernel definition starts (`__kernel void`)
    global_qualifier: str  # before a pointer to device memory ('' where there is none)
    kernel_pattern: Any  # a compiled regex; group 1 names each kernel a source defines
    kernel_roles: Tuple[str, ...]  # one kernel per role in a candidate (TT-Metal's reader/compute/writer); ()
    dialect: Any  # targets/<name>/dialect.py's table for the source analyzers; None where they do not apply
    default_size: int  # every size of a `uhopc compile` without --shapes
    compile_params: Tuple[str, ...]  # CLI options that are parameters of its candidates (TT-Metal: cores, arch)
    # capabilities
    runs_kernels: bool  # its devices launch kernels (False: candidates are built or checked only)
    c_style: bool  # rendered by codegen/cstyle (generic lowering, templates)
    memory_checked: bool  # the interval analysis (analyze/bounds) checks every launch before a run
    batch_builds: bool  # one build of many kernels costs about one (the campaign batches them)
    arena_launches: bool  # `prepare` can hold outputs and temporaries in one arena (see Prepared)
    runs_sanitizer: bool  # a memory sanitizer (CUDA's compute-sanitizer) runs a candidate before the judge
    allows_asm: bool  # inline assembly is allowed in an untrusted source
    include_note: str  # appended to the message that refuses an untrusted #include
    offline_check: Optional[str]  # the check where nothing runs: 'nvrtc', 'syntax' or None

    def mode(self) -> Tuple[str, str]:
        """('run', '') where candidates are built, run and timed here; else ('nvrtc'|'static'|...,
        why nothing runs)."""

    def renderer(self, index_bits: int = 32):
        """The C-style renderer of the dialect at 32 or 64-bit indices (raises where there is none)."""

    def templates(self) -> List[Any]:
        """The fast templates, in the order they are tried."""

    def open_device(self, selector: Any = None) -> Device:
        """A device that runs this target's kernels (`selector`: an index or a name substring)."""

    def compile_only_device(self) -> Optional[Device]:
        """A device that builds but runs nothing (NVRTC without a GPU), or None."""

    def available(self) -> Tuple[bool, str]:
        """Whether a device can run kernels here, and why not."""

    def setup_error(self) -> str:
        """Why nothing can be built for this target here, naming what to install ('' when it can)."""

    def devices(self) -> List[Dict[str, Any]]:
        """Every device of this target here, as JSON (`uhopc devices`); [] without a driver."""

    def device_line(self, info: Dict[str, Any]) -> str:
        """One line of `uhopc devices` for an entry of `devices()`."""

    def abi_decl(self, arg) -> str:
        """The C declaration of one ABI argument (lower/spec.AbiArg) in this dialect."""

    def include_allowed(self, header: str) -> bool:
        """Whether an untrusted source may `#include` `header` (`<x.h>` or `"x.h"`)."""

    def prompt_baseline(self, bound) -> Optional[Tuple[str, str]]:
        """(strategy, source) of a baseline for prompts when no compiled kernel is given, or None."""

    def unsupported(self, bound) -> Optional[str]:
        """Why this target cannot compile `bound` (the construct named), None when it can."""

    def output_names(self, bound) -> Tuple[str, ...]:
        """What its candidate writes into an output folder besides report.json and spec.json."""

    def time(self, prepared: Prepared, budget_s: float, **options) -> Timing:
        """Median-of-runs timing of a prepared launch: the native loop where
        there is one, else the Python loop. Options every target takes: warmup=, min_runs=, max_runs=,
        target_rel_ci= (the stopping rule), repoison=True (refill outputs before every run: the
        Python loop), flush=True (flush the caches between runs), flush_buffer= (a buffer to refill
        between runs instead, e.g. Prepared.arena; the Python loop standing in repoisons)."""

    def peaks(self, device: Device) -> Optional[Dict[str, Any]]:
        """Measured compute and memory peaks of `device` for the roofline (None: unknown)."""

    def flush_bytes(self, device: Device) -> int:
        """Bytes to write between timed runs so no run reads a warm cache (0: none)."""
