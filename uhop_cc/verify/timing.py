"""Timing of a prepared launch in Python: the loop every target falls back to.

A prepared launch (any target's: `launch()` returns one event per stage with `.wait()` and
`.profile.start/.end` in nanoseconds, `finish()` waits for the device) is timed by the sum over
its stages of (end - start) of those events; host wall time (enqueue to completion) is kept
beside it. The loop runs until `min_runs` launches and either the budget is spent or the median
is known to within `target_rel_ci` (95% distribution-free confidence interval, half-width over
median), and never more than `max_runs`. All statistics come from `summarize`, so a native
harness (`native_timing`, driven by each target's `timing.py`) feeds its samples through the
same definitions. A target picks its loop in `Target.time(prepared, budget_s)`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = ["Timing", "time_launch", "summarize", "median_ci", "PYTHON_LOOP_OPTIONS"]

# the options of a native loop that `time_launch` takes too, so a Python loop standing in honours them
PYTHON_LOOP_OPTIONS = ("warmup", "min_runs", "max_runs", "target_rel_ci")


def median_ci(sorted_samples: Sequence[float], z: float = 1.96) -> tuple:
    """Distribution-free ~95% confidence interval of the median (order statistics)."""
    n = len(sorted_samples)
    if n == 0:
        return (math.nan, math.nan)
    half = z * math.sqrt(n) / 2.0
    lo = max(0, int(math.floor(n / 2.0 - half)))
    hi = min(n - 1, int(math.ceil(n / 2.0 + half)))
    return (float(sorted_samples[lo]), float(sorted_samples[hi]))


def summarize(samples: Sequence[float]) -> Dict[str, Any]:
    """Statistics of a list of durations in seconds: the one place they are computed."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = int(x.size)
    if n == 0:
        return {"runs": 0, "median_s": math.nan, "min_s": math.nan, "max_s": math.nan, "mean_s": math.nan,
                "std_s": math.nan, "iqr_s": math.nan, "cv": math.nan, "outliers": 0,
                "ci_low_s": math.nan, "ci_high_s": math.nan, "rel_ci": math.inf}
    med = float(np.median(x))
    q1, q3 = (float(v) for v in np.percentile(x, [25, 75]))
    iqr = q3 - q1
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    outliers = int(np.count_nonzero((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)))
    lo, hi = median_ci(x)
    rel_ci = (hi - lo) / (2.0 * med) if med > 0 and n >= 3 else math.inf
    return {"runs": n, "median_s": med, "min_s": float(x[0]), "max_s": float(x[-1]), "mean_s": mean,
            "std_s": std, "iqr_s": iqr, "cv": std / mean if mean > 0 else math.nan, "outliers": outliers,
            "ci_low_s": lo, "ci_high_s": hi, "rel_ci": rel_ci}


def _jf(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass
class Timing:
    clock: str  # 'device' (the device's events) or 'wall' (when the device cannot time its stages)
    runs: int
    median_s: float
    min_s: float
    max_s: float
    mean_s: float
    std_s: float
    iqr_s: float
    cv: float
    outliers: int
    ci_low_s: float
    ci_high_s: float
    rel_ci: float
    wall: Dict[str, Any]  # summarize() of host wall time per launch
    warmup: int
    stages: List[str]
    stage_median_s: Dict[str, float]
    stopped_by: str  # 'precision', 'budget' or 'max_runs'
    samples_s: List[float] = field(repr=False, default_factory=list)

    def gflops(self, flops: float) -> float:
        return flops / self.median_s / 1e9 if self.median_s > 0 else math.nan

    def gbps(self, nbytes: float) -> float:
        return nbytes / self.median_s / 1e9 if self.median_s > 0 else math.nan

    def to_json(self, samples: bool = False) -> Dict[str, Any]:
        d = {k: _jf(getattr(self, k)) for k in ("clock", "runs", "median_s", "min_s", "max_s", "mean_s", "std_s",
                                                 "iqr_s", "cv", "outliers", "ci_low_s", "ci_high_s", "rel_ci",
                                                 "warmup", "stopped_by")}
        d["wall"] = {k: _jf(v) for k, v in self.wall.items()}
        d["stages"] = list(self.stages)
        d["stage_median_s"] = dict(self.stage_median_s)
        if samples:
            d["samples_s"] = list(self.samples_s)
        return d


def _event_seconds(ev) -> Optional[float]:
    try:
        return (ev.profile.end - ev.profile.start) * 1e-9
    except Exception:  # profiling not available on this queue/device
        return None


def time_launch(prepared, *, warmup: int = 2, min_runs: int = 5, max_runs: int = 100, budget_s: float = 2.0,
                target_rel_ci: float = 0.02, repoison: bool = False) -> Timing:
    """Time `prepared.launch()` (a `PreparedLaunch`): device time per launch, summed over stages.
    `repoison`: `prepared.repoison(k)` refills the outputs before every launch, outside the clock."""
    min_runs = max(1, int(min_runs))
    max_runs = max(min_runs, int(max_runs))
    fill = (lambda k: (prepared.repoison(k), prepared.finish())) if repoison else (lambda k: None)
    for w in range(max(0, int(warmup))):
        fill(w)
        prepared.launch()
        prepared.finish()
    device: List[float] = []
    wall: List[float] = []
    per_stage: List[List[float]] = []
    clock = "device"
    stopped_by = "max_runs"
    t_start = time.perf_counter()
    while len(wall) < max_runs:
        fill(len(wall) + int(warmup))
        t0 = time.perf_counter()
        events = prepared.launch()
        if events:
            events[-1].wait()
        prepared.finish()
        wall.append(time.perf_counter() - t0)
        secs = [_event_seconds(ev) for ev in events]
        if clock == "device" and any(s is None for s in secs):
            clock = "wall"
        if clock == "device":
            device.append(float(sum(secs)))
            per_stage.append([float(s) for s in secs])
        n = len(wall)
        if n >= min_runs:
            samples = device if clock == "device" else wall
            if summarize(samples)["rel_ci"] <= target_rel_ci:
                stopped_by = "precision"
                break
            if time.perf_counter() - t_start >= budget_s:
                stopped_by = "budget"
                break
    samples = device if clock == "device" else wall
    s = summarize(samples)
    names = list(getattr(prepared, "stage_names", ()))
    stage_median: Dict[str, float] = {}
    if per_stage and names and all(len(r) == len(names) for r in per_stage):
        for i, nm in enumerate(names):
            stage_median[nm] = float(np.median([r[i] for r in per_stage]))
    return Timing(clock=clock, runs=s["runs"], median_s=s["median_s"], min_s=s["min_s"], max_s=s["max_s"],
                  mean_s=s["mean_s"], std_s=s["std_s"], iqr_s=s["iqr_s"], cv=s["cv"], outliers=s["outliers"],
                  ci_low_s=s["ci_low_s"], ci_high_s=s["ci_high_s"], rel_ci=s["rel_ci"], wall=summarize(wall),
                  warmup=int(warmup), stages=names, stage_median_s=stage_median, stopped_by=stopped_by,
                  samples_s=list(samples))
