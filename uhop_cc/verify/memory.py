"""Memory before work: refuse a shape that cannot fit, before allocating anything.

`uhopc compile` once reached 7.1 GB of RSS before failing at N=6e8, and `uhopc run` with a huge
shape ended in a traceback. `estimate` counts the bytes of every input, output and temporary at
the bound shapes and multiplies them by the copies each job holds at its peak; `available`
reads what the process may still use (/proc/meminfo MemAvailable, the cgroup's memory.max,
RLIMIT_AS and RLIMIT_DATA, or $UHOP_MEMORY_LIMIT_MB); `refusal` says why a job cannot run.

The multipliers were measured (peak RSS from getrusage, less the same command at a tiny shape;
PoCL on a 2-core Xeon) on relu, softmax, layernorm, matmul, conv2d and attention at 30-300 MB of
tensors; T is the tensors' bytes once, I the float64 bytes of the largest array the interpreter
materialises (`interpreter.largest_intermediate`):
  * `uhopc run` (the reference alone): 3.7-4.5x T on kernels without large intermediates, and
    3T + 2I fits every case within 20% (float64 inputs drawn then cast, the rounded store,
    float64 results cast back, two live intermediates);
  * `uhopc compile` validating: 9-13x T, 12T + 2I fits within 40% (the reference, the
    error-bound program's float64 magnitudes, the run's poisoned host copies, guards, masks and
    comparisons; on a CPU device the buffers are host memory and are in the figure);
  * `--no-validate`: only the timed run's buffers and its inputs (drawn in float64, then cast):
    1.0-1.5x T measured, 2T planned where the device works in host memory; elsewhere T of device
    memory and 3x the inputs of host memory.
"""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple


__all__ = ["MemoryEstimate", "estimate", "available", "refusal", "tensor_bytes", "tensor_bytes_of", "device_facts",
           "LIMIT_ENV", "format_bytes"]

LIMIT_ENV = "UHOP_MEMORY_LIMIT_MB"
_ITEM = {"f32": 4, "i32": 4, "f16": 2, "bf16": 2, "f64": 8, "bool": 1}
_REFERENCE_TENSORS, _REFERENCE_INTERMEDIATES = 3.0, 2.0
_VALIDATE_TENSORS, _VALIDATE_INTERMEDIATES = 12.0, 2.0
_TIMING_TENSORS = 2.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a job needs at its peak, by part (host memory; `device` is the accelerator's)."""
    tensors: Tuple[int, int, int]  # inputs, outputs, temporaries: each once, at its dtype
    reference: int  # the interpreter and the validation's host copies (the tensors included)
    buffers: int  # the timed run's buffers in host memory (CPU devices) and its host inputs
    device: int  # buffers on an accelerator with its own memory

    @property
    def host(self) -> int:
        return self.reference + self.buffers

    def describe(self) -> str:
        names = ("inputs", "outputs", "temporaries")
        parts = [", ".join(f"{n} {format_bytes(b)}" for n, b in zip(names, self.tensors) if b)]
        if self.reference:
            parts.append(f"the reference's copies and intermediates {format_bytes(self.reference)}")
        if self.buffers:
            parts.append(f"buffers and host copies {format_bytes(self.buffers)}")
        return "; ".join(p for p in parts if p)

    def to_json(self) -> Dict[str, Any]:
        return {"inputs": self.tensors[0], "outputs": self.tensors[1], "temporaries": self.tensors[2],
                "reference": self.reference, "buffers": self.buffers, "device": self.device, "host": self.host}


def format_bytes(n: float) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MB"
    return f"{n / (1 << 10):.0f} KB"


def tensor_bytes_of(bound, name: str) -> int:
    """Bytes of one tensor at its bound shape (Python integers: no overflow at absurd sizes)."""
    n = 1
    for d in bound.shapes[name]:
        n *= int(d)
    return n * _ITEM.get(bound.dtype(name), 4)


def tensor_bytes(bound) -> int:
    """Bytes of every tensor (inputs, outputs, temporaries) at the bound shapes, once."""
    return sum(tensor_bytes_of(bound, name) for name in bound.shapes)


def _intermediate_bytes(bound) -> int:
    from ..ir.interpreter import CHUNK_ELEMENTS, largest_intermediate
    try:
        return 8 * int(largest_intermediate(bound))
    except Exception:  # noqa: BLE001 - an expression the estimate cannot size: assume a full chunk
        return 8 * CHUNK_ELEMENTS


def estimate(bound, job: str, host_buffers: bool = True) -> MemoryEstimate:
    """The peak of `job` on `bound`: 'run' (the reference alone), 'validate' (compile: the
    reference and validation; the timing after it needs less), 'time' (compile --no-validate:
    the timed run's buffers only), 'build' (nothing runs). `host_buffers`: the device works in
    host memory, so its buffers count against the host (they are in the measured figures)."""
    parts = _split(bound)
    t = sum(parts)
    if job == "run":
        ref = int(_REFERENCE_TENSORS * t + _REFERENCE_INTERMEDIATES * _intermediate_bytes(bound))
        return MemoryEstimate(parts, ref, 0, 0)
    if job == "validate":
        ref = int(_VALIDATE_TENSORS * t + _VALIDATE_INTERMEDIATES * _intermediate_bytes(bound))
        return MemoryEstimate(parts, ref, 0, 0 if host_buffers else t)
    if job == "time":
        return MemoryEstimate(parts, 0, int(_TIMING_TENSORS * t) if host_buffers else 3 * parts[0],
                              0 if host_buffers else t)
    return MemoryEstimate(parts, 0, 0, 0)


def _split(bound) -> Tuple[int, int, int]:
    ins = sum(tensor_bytes_of(bound, p.name) for p in bound.checked.inputs if not p.is_scalar)
    outs = sum(tensor_bytes_of(bound, p.name) for p in bound.checked.outputs)
    return ins, outs, tensor_bytes(bound) - ins - outs


def _proc_kib(path: str, key: str) -> Optional[int]:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_left() -> Optional[int]:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def available() -> Tuple[Optional[int], str]:
    """(bytes this process may still allocate, where that figure comes from); (None, why) when
    nothing says. $UHOP_MEMORY_LIMIT_MB, when set, is the answer (tests, shared machines)."""
    env = os.environ.get(LIMIT_ENV, "").strip()
    if env:
        try:
            return int(float(env) * (1 << 20)), f"${LIMIT_ENV}"
        except ValueError:
            pass
    found = []
    mem = _proc_kib("/proc/meminfo", "MemAvailable")
    if mem is not None:
        found.append((mem, "MemAvailable"))
    cg = _cgroup_left()
    if cg is not None:
        found.append((max(cg, 0), "the cgroup's memory.max"))
    for lim, name, key in ((resource.RLIMIT_AS, "RLIMIT_AS", "VmSize"),
                           (resource.RLIMIT_DATA, "RLIMIT_DATA", "VmData")):
        soft = resource.getrlimit(lim)[0]
        if soft != resource.RLIM_INFINITY:
            found.append((max(soft - (_proc_kib("/proc/self/status", key) or 0), 0), name))
    if not found:
        return None, "unknown"
    return min(found)


def refusal(need: MemoryEstimate, device_memory: Optional[int] = None,
            hint: str = "use smaller --shapes") -> Optional[str]:
    """Why the job cannot fit (one line for the user), or None."""
    have, source = available()
    if have is not None and need.host > have:
        return (f"needs about {format_bytes(need.host)} of memory ({need.describe()}); "
                f"{format_bytes(have)} available ({source}); {hint}")
    if device_memory and need.device > device_memory:
        return (f"needs about {format_bytes(need.device)} of device memory for its buffers; the device has "
                f"{format_bytes(device_memory)}; {hint}")
    return None


def device_facts(device: Any) -> Tuple[bool, Optional[int]]:
    """(its buffers live in host memory, its global memory in bytes if known)."""
    in_host = bool(getattr(device, "works_in_host_memory", False))
    try:
        mem = (device.fingerprint() or {}).get("global_mem_bytes")
    except Exception:  # noqa: BLE001 - a device that cannot say
        mem = None
    return in_host, int(mem) if mem else None
