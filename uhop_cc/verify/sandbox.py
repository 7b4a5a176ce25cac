"""Run untrusted kernels in a child process: hangs, crashes and resource blow-ups become statuses.

A generated kernel may loop forever, crash the OpenCL driver (and with it the process), or
make the compiler eat the machine (a macro bomb drove a child to 18.9 GB). `run_isolated`
runs a picklable top-level function in a fresh `spawn` child under resource limits -- writable
memory (RLIMIT_DATA: heap and private writable mappings; not RLIMIT_AS, which GPU drivers break
with their reservations of address space, and which the judge's PROT_NONE guard pages would
count), CPU seconds (RLIMIT_CPU), file size (RLIMIT_FSIZE), no core dumps -- kills it when the
wall-clock limit passes, and reports how it ended. `limits()` gives the defaults
(UHOP_SANDBOX_MEMORY_MB overrides the memory limit) and `apply_limits` sets them, also for
plain subprocesses (the preprocessor, compilers) through `preexec_fn`.
"""
from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import signal as _signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Union

__all__ = ["IsolatedResult", "run_isolated", "validate_isolated", "build_and_validate", "Limits", "limits",
           "apply_limits", "MEMORY_ENV"]

MEMORY_ENV = "UHOP_SANDBOX_MEMORY_MB"
_BASE_MEMORY = 2 << 30  # PoCL, LLVM and NumPy take a few hundred MB before any work


@dataclass(frozen=True)
class Limits:
    memory_bytes: Optional[int]  # RLIMIT_DATA; None: unlimited
    cpu_s: Optional[int]  # RLIMIT_CPU
    file_bytes: Optional[int] = 1 << 30  # RLIMIT_FSIZE (compiler caches)

    def to_json(self) -> Dict[str, Any]:
        return {"memory_mb": None if self.memory_bytes is None else self.memory_bytes >> 20, "cpu_s": self.cpu_s,
                "file_mb": None if self.file_bytes is None else self.file_bytes >> 20}


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def limits(work_bytes: int = 0, timeout_s: float = 60.0) -> Limits:
    """Limits for a child that handles `work_bytes` of tensors (host copies, guard zones and the
    reference's float64 arrays are counted by the factor 8): at most 3/4 of the machine."""
    env = os.environ.get(MEMORY_ENV, "").strip()
    if env:
        try:
            mb = int(env)
        except ValueError:
            mb = 0
        memory = None if mb <= 0 else mb << 20
    else:
        memory = min(_BASE_MEMORY + 8 * max(0, int(work_bytes)), _physical_memory() * 3 // 4)
    cpu = int(max(10.0, timeout_s) * max(1, os.cpu_count() or 1) + 10)
    return Limits(memory, cpu)


def apply_limits(lim: Optional[Limits]) -> None:
    """Set `lim` on the calling process (a child: the limits cannot be raised again)."""
    if lim is None:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    for what, value in ((resource.RLIMIT_DATA, lim.memory_bytes), (resource.RLIMIT_CPU, lim.cpu_s),
                        (resource.RLIMIT_FSIZE, lim.file_bytes), (resource.RLIMIT_CORE, 0)):
        if value is None:
            continue
        try:
            _soft, hard = resource.getrlimit(what)
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass


@dataclass
class IsolatedResult:
    status: str  # 'ok', 'timeout', 'crashed' or 'error'
    value: Any = None  # the function's return value when ok
    error: str = ""  # traceback text ('error'), or what happened ('timeout', 'crashed')
    exitcode: Optional[int] = None
    signal: Optional[str] = None  # e.g. 'SIGSEGV' when the child died of a signal
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> Dict[str, Any]:
        value = self.value
        if hasattr(value, "to_json"):
            value = value.to_json()
        return {"status": self.status, "value": value, "error": self.error, "exitcode": self.exitcode,
                "signal": self.signal, "seconds": self.seconds}


def _child(conn, fn, args, kwargs, lim: Optional[Limits] = None) -> None:
    try:
        _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
        apply_limits(lim)
        value = fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        msg = ("error", "".join(traceback.format_exception(type(e), e, e.__traceback__)))
    else:
        msg = ("ok", value)
    try:
        conn.send(msg)
    except Exception as e:  # an unpicklable value
        conn.send(("error", f"the result could not be sent back: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _signame(code: Optional[int]) -> Optional[str]:
    if code is None or code >= 0:
        return None
    try:
        return _signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def run_isolated(fn, *args, timeout_s: float = 60.0, resource_limits: Optional[Limits] = None,
                 **kwargs) -> IsolatedResult:
    """Call `fn(*args, **kwargs)` in a spawned child process, with a wall-clock limit and
    `resource_limits` (default `limits(0, timeout_s)`).

    `fn`, its arguments and its value must be picklable (`fn` a top-level function).
    Never raises for what happens in the child."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    lim = resource_limits if resource_limits is not None else limits(0, timeout_s)
    proc = ctx.Process(target=_child, args=(send, fn, args, kwargs, lim), daemon=True)
    t0 = time.perf_counter()
    try:
        proc.start()
    except Exception as e:  # e.g. unpicklable arguments
        send.close()
        recv.close()
        return IsolatedResult("error", error=f"could not start the child: {type(e).__name__}: {e}",
                              seconds=time.perf_counter() - t0)
    send.close()  # the child holds the other end; EOF once it exits
    deadline = t0 + float(timeout_s)
    msg = None
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            ready = mpc.wait([recv, proc.sentinel], timeout=left)
            if recv in ready:
                try:
                    msg = recv.recv()
                except (EOFError, OSError):
                    msg = None
                break
            if proc.sentinel in ready:
                if recv.poll(0):
                    try:
                        msg = recv.recv()
                    except (EOFError, OSError):
                        msg = None
                break
        if msg is None and proc.is_alive() and time.perf_counter() >= deadline:
            proc.kill()
            proc.join(5)
            return IsolatedResult("timeout", error=f"no result within {timeout_s:g} s; the child was killed",
                                  exitcode=proc.exitcode, signal=_signame(proc.exitcode),
                                  seconds=time.perf_counter() - t0)
        proc.join(max(1.0, deadline - time.perf_counter()))
        if proc.is_alive():  # sent its result but does not exit (a stuck driver thread)
            proc.kill()
            proc.join(5)
        seconds = time.perf_counter() - t0
        code = proc.exitcode
        if msg is not None:
            status, payload = msg
            if status == "ok":
                return IsolatedResult("ok", value=payload, exitcode=code, signal=_signame(code), seconds=seconds)
            return IsolatedResult("error", error=payload, exitcode=code, signal=_signame(code), seconds=seconds)
        sig = _signame(code)
        what = f"the child died of {sig}" if sig else f"the child exited with code {code} without a result"
        return IsolatedResult("crashed", error=what, exitcode=code, signal=sig, seconds=seconds)
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
            proc.join(5)


# ------------------------------------------------------------------ build + validate in a child
def build_and_validate(source: str, uir_source: str, kernel_name: Optional[str], sizes: Union[str, Mapping[str, int]],
                       *, device_index: Optional[Union[int, str]] = None, build_options: str = "",
                       seeds: Sequence[int] = (1, 2), stages: Optional[Sequence[Any]] = None,
                       guard_bytes: int = 4096, target: Optional[str] = None) -> Dict[str, Any]:
    """Build `source` and validate it against the UIR kernel on a device of `target` (a registry
    name; default: the default target); a JSON-serialisable dict.

    The dict is a `ValidationReport.to_json()` with a "build" entry added; when the build
    or the launch annotations fail, "ok" is False, "stage" says where, "reason" says why."""
    from .. import ir
    from ..codegen.launch import LaunchError, parse_launch
    from ..targets import DEFAULT, get
    from .validate import validate

    checked = ir.select_kernel(ir.load(uir_source), kernel_name)
    bound = ir.bind_shapes(checked, sizes)
    device = get(target or DEFAULT).open_device(device_index)
    if stages is None:
        try:
            stages = parse_launch(source)
        except LaunchError as e:
            return {"ok": False, "stage": "launch", "reason": f"bad @launch annotations: {e}", "build": None}
    built = device.build(source, build_options)
    if not built.ok:
        first = next((ln for ln in built.log.splitlines() if "error" in ln), built.log.splitlines()[0] if built.log else "")
        return {"ok": False, "stage": "build", "reason": f"build failed: {first.strip()}", "build": built.to_json()}
    report = validate(device, built, stages, bound, seeds=seeds, guard_bytes=guard_bytes).to_json()
    report["stage"] = "validate"
    report["build"] = built.to_json()
    return report


def validate_isolated(source: str, uir_source: str, kernel_name: Optional[str], sizes: Union[str, Mapping[str, int]],
                      *, timeout_s: float = 120.0, target: Optional[str] = None, **kwargs) -> IsolatedResult:
    """`build_and_validate` on a device of `target` (default: the default target) in a child
    process. The result's value is the report dict when the child finished; a hang is 'timeout',
    a driver crash 'crashed'."""
    sizes = sizes if isinstance(sizes, str) else dict(sizes)
    return run_isolated(build_and_validate, source, uir_source, kernel_name, sizes, timeout_s=timeout_s,
                        target=target, **kwargs)
