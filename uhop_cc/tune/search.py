"""Schedule search: successive halving over a template's parameter space.

The space is the template's curated candidates for the device plus their
neighbours (one parameter doubled or halved at a time), pruned by what renders,
what the static analyzer says fits the device (local memory, work-group size)
and what builds. Every survivor is validated against the reference before it
is timed; then successive halving spends the budget on the promising ones:
each round times all remaining candidates with a growing per-candidate budget
and keeps the faster half.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .. import targets
from ..codegen import parse_launch
from ..ir import interpreter
from ..ir.typed import BoundKernel
from . import cache as tune_cache


@dataclass
class Candidate:
    params: Dict[str, Any]
    kernel: Any = None  # GeneratedKernel
    build: Any = None
    stages: tuple = ()
    status: str = "new"  # new, pruned, build_error, invalid, timed
    reason: str = ""
    medians: List[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.medians) if self.medians else math.inf

    def to_json(self) -> dict:
        return {"params": self.params, "status": self.status, "reason": self.reason,
                "median_s": None if math.isinf(self.best) else self.best}


@dataclass
class TuneResult:
    template: Optional[str]
    device: str
    target: str
    best: Optional[Candidate]
    default: Optional[Candidate]
    candidates: List[Candidate]
    seconds: float
    cached: Optional[tune_cache.TunedSchedule] = None
    reason: str = ""

    @property
    def speedup(self) -> Optional[float]:
        if self.best and self.default and self.default.medians and self.best.medians:
            return self.default.best / self.best.best
        return None

    def to_json(self) -> dict:
        return {"template": self.template, "device": self.device, "target": self.target, "reason": self.reason,
                "best": self.best.to_json() if self.best else None,
                "default": self.default.to_json() if self.default else None, "speedup_vs_default": self.speedup,
                "seconds": self.seconds, "candidates": [c.to_json() for c in self.candidates]}


def _neighbours(params: Dict[str, Any], fixed: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
    out = []
    for k, v in params.items():
        if k in fixed or isinstance(v, bool) or not isinstance(v, int) or v <= 0 or v & (v - 1):
            continue  # only sizes that are powers of two move; choices (`fixed`) never do
        for nv in (v * 2, v // 2):
            if nv >= 1 and nv != v:
                out.append(dict(params, **{k: nv}))
    return out


def _fits(kernel, hardware: Dict[str, Any], target: str) -> Optional[str]:
    """Why the analyzer says this kernel cannot run on the device (None when it fits)."""
    try:
        from ..analyze import analyze
    except ImportError:
        return None
    try:
        report = analyze(kernel.source, target)
    except Exception:  # noqa: BLE001 - the analyzer is advisory here; the build decides
        return None
    if getattr(report, "errors", None):
        return "analyzer: " + report.errors[0].message
    res = getattr(report, "resources", None) or {}
    res = res if isinstance(res, dict) else getattr(res, "__dict__", {})
    local = res.get("local_mem_bytes") or res.get("shared_mem_bytes")
    limit = hardware.get("local_mem_bytes") or hardware.get("local_mem_size")
    if local and limit and int(local) > int(limit):
        return f"needs {local} bytes of local memory, the device has {limit}"
    return None


def _median_s(timing) -> float:
    """The median of a target's timing (a verify.timing.Timing, or its JSON)."""
    return timing.median_s if hasattr(timing, "median_s") else timing["median_s"]


def space(template, match, hardware: Dict[str, Any], limit: int = 32) -> List[Dict[str, Any]]:
    base = [dict(p) for p in template.space(match, hardware)]
    seen, out = set(), []
    fixed = tuple(getattr(template, "categorical", ()))
    for p in base + [n for b in base for n in _neighbours(b, fixed)]:
        key = tuple(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            out.append(p)
        if len(out) >= limit:
            break
    return out


def _bar(done: int, total: int, label: str, stream=sys.stderr):
    width = 28
    filled = int(width * done / max(total, 1))
    stream.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}")
    stream.flush()


def tune(bound: BoundKernel, device, *, target: str = targets.DEFAULT, budget_s: float = 60.0, max_candidates: int = 24,
         progress: bool = True, store: bool = True, validate: bool = True) -> TuneResult:
    """Search the matching template's space for this device and shape; cache the winner."""
    from ..verify.validate import validate as run_validation  # verify/ loads the device runtimes

    t0 = time.perf_counter()
    hardware = device.fingerprint()
    name = hardware.get("name", "?")
    tgt = targets.get(target)
    found = None
    for t in tgt.templates():
        m = t.match(bound)
        if m is not None:
            found = (t, m)
            break
    if found is None:
        return TuneResult(None, name, target, None, None, [], time.perf_counter() - t0,
                          reason="no template matches this program; the generic lowering has nothing to tune")
    template, match = found
    cands = [Candidate(p) for p in space(template, match, hardware, max_candidates)]
    say = _bar if progress else (lambda *a, **k: None)

    # render, analyse, build, validate
    inputs = interpreter.random_inputs(bound, seed=11)
    for i, c in enumerate(cands):
        say(i, len(cands), f"build {c.params}"[:40])
        try:
            c.kernel = template.render(match, c.params)
        except (ValueError, KeyError) as e:
            c.status, c.reason = "pruned", f"render: {e}"
            continue
        why = _fits(c.kernel, hardware, target)
        if why:
            c.status, c.reason = "pruned", why
            continue
        c.build = device.build(c.kernel.source)
        if not c.build.ok:
            errors = [ln.strip() for ln in (c.build.log or "").splitlines() if "error" in ln]
            c.status, c.reason = "build_error", (errors or ["build failed"])[0]
            continue
        c.stages = parse_launch(c.kernel.source)
        if validate:
            try:
                rep = run_validation(device, c.build, c.stages, bound, seeds=(1,))
            except Exception as e:  # noqa: BLE001 - a launch the device refuses prunes the candidate
                c.status, c.reason = "invalid", str(e)
                continue
            if not rep.ok:
                c.status, c.reason = "invalid", rep.reason
                continue
        c.status = "valid"
    live = [c for c in cands if c.status == "valid"]
    default = cands[0] if cands and cands[0].status == "valid" else None

    # successive halving
    round_budget = 0.05
    rnd = 0
    while live:
        rnd += 1
        for i, c in enumerate(live):
            if time.perf_counter() - t0 > budget_s and c.medians:
                continue
            say(i, len(live), f"round {rnd}: time {c.params}"[:40])
            prepared = device.prepare(c.build, c.stages, bound, inputs)
            try:
                c.medians.append(_median_s(tgt.time(prepared, round_budget)))
            except Exception as e:  # noqa: BLE001
                c.status, c.reason = "invalid", f"timing: {e}"
            finally:
                prepared.release()
            c.status = "timed" if c.status != "invalid" else c.status
        live = sorted((c for c in live if c.status == "timed"), key=lambda c: c.best)
        if len(live) <= 1 or time.perf_counter() - t0 > budget_s:
            break
        live = live[: max(1, len(live) // 2)]
        round_budget = min(round_budget * 2, 1.0)
    if progress:
        sys.stderr.write("\r" + " " * 80 + "\r")
    timed = sorted((c for c in cands if c.medians), key=lambda c: c.best)
    best = timed[0] if timed else None
    result = TuneResult(template.name, name, target, best, default, cands, time.perf_counter() - t0)
    if best is None:
        result.reason = "no candidate built and validated"
    elif store:
        result.cached = tune_cache.store(name, target, bound, template.name, best.params, best.best,
                                         default.best if default and default.medians else None, len(cands))
    return result
