"""Native (C++) timing harness: what every target's launch loop shares.

Each target's `timing.py` (under `uhop_cc/targets/<name>/`) drives its own C++ launch loop in
``uhop_cc._native.harness`` (the runtime libraries are dlopen'ed at run time, so a repetition
costs no Python) and turns what it measured into a `LoopRun` here. Every loop is the same:
warm-up, then repetitions until `min_runs` and either the median's relative 95% CI is at most
`target_rel_ci` ('precision') or `budget_s` is spent ('budget'), never more than `max_runs`
('max_runs'); `LoopRun.to_timing()` gives the `Timing` of `uhop_cc.verify.timing.time_launch`,
the Python loop every target falls back to.

Statistics (C++, identical in definition to `timing.summarize`): median and quartiles as
NumPy's linear percentile, std with ddof=1, cv = std/mean, outliers by Tukey's 1.5 IQR
fences. The median's CI is distribution-free, from order statistics: with n sorted samples
the ranks floor(n/2 - 1.96 sqrt(n)/2) and ceil(n/2 + 1.96 sqrt(n)/2) (normal approximation
of the Binomial(n, 1/2) rank of the median; no bootstrap); rel_ci = (hi - lo) / (2 median),
infinite while n < 3.

Device time of a repetition is the sum over its stages of the device's own clock (profiling
or timing events around each stage); host wall time is kept beside it (`Timing.wall`). With a
flush, every repetition is preceded by a fill of a scratch buffer larger than the last-level
cache, waited for, and excluded from both clocks (`flush_size` picks its size).

Rates: `roofline(flops, bytes, peak_gflops, peak_gbps, seconds)` and `performance(timing,
flops, bytes, peaks)`; `cached_peaks(key, measure)` keeps each device's measured peaks (a
target's `peaks(device)`) for the process.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .timing import Timing

try:
    from .. import _native as _native_mod

    _h = _native_mod.harness
    _IMPORT_ERROR: Optional[BaseException] = None
except (ImportError, AttributeError) as _exc:  # pragma: no cover - broken install
    _h = None
    _IMPORT_ERROR = _exc

__all__ = [
    "HarnessUnavailable", "LoopRun", "harness", "native_available", "import_error", "summarize", "median_ci",
    "loop_run", "loop_options", "repetitions_per_wait", "flush_size", "host_llc_bytes", "roofline", "performance",
    "cached_peaks", "forget_peaks",
]

_SUMMARY_INT = ("runs", "outliers")


class HarnessUnavailable(RuntimeError):
    """The native module, or the runtime a call needs, cannot be used."""


def harness() -> Any:
    """The native harness module (``uhop_cc._native.harness``); HarnessUnavailable without it."""
    if _h is None:
        raise HarnessUnavailable(f"uhop_cc._native.harness is not built ({_IMPORT_ERROR}): run pip install -e .")
    return _h


def native_available() -> bool:
    return _h is not None


def import_error() -> str:
    """Why the native module cannot be imported ('' when it can)."""
    return "" if _h is not None else str(_IMPORT_ERROR)


def _plain_summary(d: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: (int(v) if k in _SUMMARY_INT else float(v)) for k, v in d.items()}


# ------------------------------------------------------------------ statistics
def summarize(samples: Iterable[float]) -> Dict[str, Any]:
    """The C++ statistics of durations: the keys (and definitions) of `timing.summarize`."""
    return _plain_summary(harness().summarize([float(x) for x in samples]))


def median_ci(samples: Iterable[float]) -> Tuple[float, float]:
    """Order-statistics ~95% CI of the median (C++)."""
    lo, hi = harness().median_ci([float(x) for x in samples])
    return float(lo), float(hi)


# ------------------------------------------------------------------ results
@dataclass
class LoopRun:
    """Everything a native loop measured (seconds); `to_timing()` gives the `Timing`."""
    backend: str  # the target whose loop ran
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


def loop_run(backend: str, raw: Mapping[str, Any], names: Sequence[str]) -> LoopRun:
    """The `LoopRun` of a native loop's raw result (a dict from the harness); `names` one per stage."""
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


def repetitions_per_wait(mode: str, batch_size: int) -> int:
    """How many repetitions a loop enqueues before it waits: 1 in 'sync' mode, `batch_size` in 'batch'."""
    if mode == "sync":
        return 1
    if mode == "batch":
        return max(1, int(batch_size))
    raise ValueError(f"mode must be 'batch' or 'sync', got {mode!r}")


def loop_options(warmup: int, min_runs: int, max_runs: int, budget_s: float, target_rel_ci: float,
                 mode: str = "batch", batch_size: int = 64) -> Dict[str, Any]:
    """The stopping rule and batching every native loop takes, checked (ValueError when invalid)."""
    warmup = int(warmup)
    if warmup < 0:
        raise ValueError("warmup must be >= 0")
    min_runs = max(1, int(min_runs))
    max_runs = max(min_runs, int(max_runs))
    budget_s = float(budget_s)
    if not (budget_s >= 0 and math.isfinite(budget_s)):
        raise ValueError("budget_s must be a finite number >= 0")
    return dict(warmup=warmup, min_runs=min_runs, max_runs=max_runs, budget_s=budget_s,
                target_rel_ci=float(target_rel_ci), batch=repetitions_per_wait(mode, batch_size))


# ------------------------------------------------------------------ cache flush
def host_llc_bytes() -> int:
    """The host's last-level cache in bytes (sysfs; 0 where it cannot be read)."""
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


def flush_size(device_cache_bytes: int = 0, max_alloc_bytes: int = 0) -> int:
    """Scratch size for a cache flush: 4x the device's cache (e.g. its L2), 2x the host's last
    level cache, and at least 64 MiB; at most a quarter of the device's largest allocation
    (0: unknown), never under 1 MiB. A multiple of 4 (the fill writes 32-bit words)."""
    size = max(64 << 20, 2 * host_llc_bytes(), 4 * max(0, int(device_cache_bytes or 0)))
    cap = max(0, int(max_alloc_bytes or 0)) // 4
    if cap:
        size = min(size, max(cap, 1 << 20))
    return int(size) & ~3


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
    'gflops' and 'gbps', e.g. a target's `peaks(device)` or declared numbers) the roofline."""
    seconds = timing.median_s if isinstance(timing, Timing) else float(timing)
    ok = seconds is not None and seconds > 0 and math.isfinite(seconds)
    out: Dict[str, Any] = {"seconds": seconds, "gflops": flops / seconds / 1e9 if ok else None,
                           "gbps": nbytes / seconds / 1e9 if ok else None}
    if peaks and ok:
        out["roofline"] = roofline(flops, nbytes, peaks["gflops"], peaks["gbps"], seconds)
    return out


# ------------------------------------------------------------------ measured peaks
_PEAKS: Dict[str, Dict[str, Any]] = {}
_PEAKS_LOCK = threading.Lock()


def cached_peaks(key: str, measure: Callable[[], Dict[str, Any]], refresh: bool = False) -> Dict[str, Any]:
    """A device's peaks, measured once per process: `measure()` runs the first time `key` (a
    target's name for the device) is asked for, or with `refresh`; a copy is returned. The lock
    keeps two threads from measuring the same device at once (each would slow the other)."""
    with _PEAKS_LOCK:
        if refresh or key not in _PEAKS:
            _PEAKS[key] = dict(measure())
        return dict(_PEAKS[key])


def forget_peaks(key: Optional[str] = None) -> None:
    """Drop one device's cached peaks (every device's without `key`)."""
    with _PEAKS_LOCK:
        if key is None:
            _PEAKS.clear()
        else:
            _PEAKS.pop(key, None)
