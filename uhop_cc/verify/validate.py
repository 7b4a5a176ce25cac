"""Differential validation: a built kernel against the reference interpreter.

Every run uses fresh random inputs from its own distribution (`inputs.make_inputs`: uniform,
normal, wide, heavy-tailed, large, constant, sparse, special values) and a different poison in
outputs and temporaries (NaN, random finite values, zeros: `Poison.varied`), so a kernel that
leaves elements unwritten, reads an output before writing it, recognises the harness by its
poison, or writes outside its buffers is caught, not only one that computes wrong values.
Outputs are compared within per-element rounding-error bounds (errorbound.py). With
`repeat=True` the first input set runs twice (another poison): the two results must be
bitwise equal (`deterministic`) or both within the bounds, so uninitialised reads and races
that happen to pass once are caught.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..ir import interpreter
from ..ir.typed import BoundKernel
from ..targets.common import AbiError, Device, LaunchFailure, Poison
from .errorbound import error_bounds
from .inputs import make_inputs
from .tolerance import Comparison, Tolerance, json_float, compare, reduction_length as _reduction_length, tolerance_for

__all__ = ["validate", "ValidationReport", "OutputReport", "format_index", "format_value"]


def format_index(idx) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ")"


def format_value(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


@dataclass
class OutputReport:
    """One output, over all runs: the worst of each figure."""
    name: str
    dtype: str
    shape: List[int]
    elements: int
    ok: bool = True
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    norm_rel_err: float = 0.0  # ||got - ref|| / ||ref||, worst run
    mismatches: int = 0  # most in one run, poisoned elements included
    unwritten: int = 0  # most elements still holding the poison in one run (and expected otherwise)
    nan_count: int = 0
    first_mismatch: Optional[Dict[str, Any]] = None  # from the first failing run
    guard: Dict[str, Any] = field(default_factory=lambda: {"ok": True, "before": 0, "after": 0})
    tolerance: Optional[Dict[str, float]] = None
    worst_fraction: float = 0.0  # worst |got - expected| / allowed over elements and runs

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape, "elements": self.elements,
                "ok": self.ok, "max_abs_err": json_float(self.max_abs_err),
                "max_rel_err": json_float(self.max_rel_err), "norm_rel_err": json_float(self.norm_rel_err),
                "mismatches": self.mismatches,
                "unwritten": self.unwritten, "nan_count": self.nan_count, "first_mismatch": self.first_mismatch,
                "canary": dict(self.guard), "tolerance": self.tolerance,
                "worst_fraction": json_float(self.worst_fraction)}


@dataclass
class ValidationReport:
    ok: bool
    reason: str  # empty when ok
    kernel: str
    sizes: Dict[str, int]
    outputs: Dict[str, OutputReport]
    runs: List[Dict[str, Any]]  # per seed: seed, poison, ok, reasons, outputs, guards, ...
    reduction_length: int
    seconds: float
    device: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "kernel": self.kernel, "sizes": dict(self.sizes),
                "device": self.device, "reduction_length": self.reduction_length, "seconds": self.seconds,
                "outputs": {k: v.to_json() for k, v in self.outputs.items()}, "runs": self.runs}


def _check_run(bound: BoundKernel, res, expected: Mapping[str, np.ndarray],
               tols: Mapping[str, Tolerance], magnitudes: Optional[Mapping[str, np.ndarray]] = None) -> tuple:
    """Reasons and per-output figures for one run."""
    reasons: List[str] = []
    per_output: Dict[str, Dict[str, Any]] = {}
    cmps: Dict[str, Comparison] = {}
    # writes outside the buffers first: they make everything else suspect
    for g in res.guards.values():
        if not g.ok:
            what = {"output": "output", "temp": "temporary", "input": "input"}[g.role]
            if g.before:
                reasons.append(f"{what} {g.tensor}: out-of-bounds write before the buffer ({g.before} bytes changed)")
            if g.after:
                reasons.append(f"{what} {g.tensor}: out-of-bounds write after the buffer ({g.after} bytes changed)")
    for name in res.inputs_modified:
        reasons.append(f"input {name}: modified by the kernel (inputs are read-only)")
    for p in bound.checked.outputs:
        name, dtype = p.name, p.dtype
        got, exp = res.outputs[name], expected[name]
        c = compare(got, exp, dtype, tols[name], (magnitudes or {}).get(name))
        cmps[name] = c
        poisoned = res.poisoned(name)
        unwritten = poisoned & c.mismatch_mask
        n_unwritten = int(np.count_nonzero(unwritten))
        wrong = c.mismatch_mask & ~unwritten
        n_wrong = int(np.count_nonzero(wrong))
        if n_unwritten:
            msg = f"output {name}: {n_unwritten} of {c.elements} elements never written (still poisoned)"
            if 0 < n_unwritten < c.elements and exp.ndim:
                first = np.unravel_index(int(np.flatnonzero(unwritten.reshape(-1))[0]), exp.shape)
                msg += f"; first at {format_index(first)}"
            reasons.append(msg)
        if n_wrong:
            flat = int(np.flatnonzero(wrong.reshape(-1))[0])
            gv, ev = got.reshape(-1)[flat].item(), exp.reshape(-1)[flat].item()
            at = f" at {format_index(np.unravel_index(flat, exp.shape))}" if exp.ndim else ""
            msg = (f"output {name}: {n_wrong} of {c.elements} elements differ; first{at}: "
                   f"got {format_value(gv)}, expected {format_value(ev)}")
            n_tainted = int(np.count_nonzero(res.poison.tainted(got, dtype) & wrong))
            if n_tainted:
                msg += (f" ({n_tainted} are NaNs computed from the poison: "
                        f"the kernel reads {name} before writing it?)")
            reasons.append(msg)
        if not c.norm_ok and not n_wrong and not n_unwritten:
            reasons.append(f"output {name}: every element is within its bound but the whole output is not "
                           f"(||got - expected|| / ||expected|| = {c.norm_rel_err:.3g}; the normwise limit on "
                           f"||got - expected|| is {c.norm_limit:.3g})")
        g = res.guards.get(name)
        d = c.to_json()
        d["unwritten"] = n_unwritten
        d["canary"] = g.to_json() if g else None
        per_output[name] = d
    return reasons, per_output, cmps


def _run_once(device, program, stages, bound, inputs, guard_bytes: int, poison: Poison, guard_pages: bool = False):
    """(RunResult, None) or (None, reason) when the runtime refuses the launch."""
    kw = {"guard_pages": True} if guard_pages else {}
    try:
        return device.run(program, stages, bound, inputs, guard_bytes=guard_bytes, poison=poison, **kw), None
    except AbiError as e:
        return None, f"ABI error: {e}"
    except LaunchFailure as e:
        return None, f"launch failed: {e}"
    except ValueError as e:
        return None, f"bad inputs: {e}"


def _disagreement(bound: BoundKernel, a, b, deterministic: bool, expected, tols, magnitudes) -> List[str]:
    """Reasons why two runs on the same inputs disagree (bitwise; within the bounds when the
    kernel may legitimately be non-deterministic, e.g. float atomics)."""
    out = []
    for p in bound.checked.outputs:
        x, y = a.outputs[p.name], b.outputs[p.name]
        if not x.size:
            continue
        rows = lambda arr: np.ascontiguousarray(arr).reshape(arr.size, 1).view(np.uint8)  # noqa: E731
        differ = int(np.count_nonzero(np.any(rows(x) != rows(y), axis=1)))
        if not differ:
            continue
        if deterministic or not compare(y, expected[p.name], p.dtype, tols[p.name],
                                        (magnitudes or {}).get(p.name)).ok:
            out.append(f"output {p.name}: two runs on the same inputs disagree in {differ} of {x.size} elements "
                       "(a race, or a read of uninitialised memory)")
    return out


def validate(device: Device, program, stages: Sequence[Any], bound: BoundKernel, *,
             seeds: Sequence[int] = (1, 2), reduction_length: Optional[int] = None,
             tolerances: Optional[Mapping[str, Tolerance]] = None, guard_bytes: int = 4096,
             poisons: Optional[Sequence[Poison]] = None, distributions: Optional[Sequence[str]] = None,
             bounded: bool = True, repeat: bool = False, deterministic: bool = True,
             guard_pages: bool = False) -> ValidationReport:
    """Run the program on one input set per seed and compare with the interpreter.

    Input set k is drawn from `distributions[k]` (default: 'uniform', 'normal', ... in turn);
    `poisons` (one per seed) override `Poison.varied(k)`; `tolerances` override the fallback
    tolerance per output name or dtype; `bounded` compares within error bounds (errorbound.py).
    A distribution on which the reference itself fails (a division by zero on sparse data) is
    skipped and noted, except the first. `repeat`: run the first input set again (see module).
    `guard_pages`: buffers between PROT_NONE pages where the device works in host memory (a stray
    read or write kills the process: only for a child, see verify/judge.py)."""
    t0 = time.perf_counter()
    checked = bound.checked
    red = int(reduction_length) if reduction_length is not None else _reduction_length(bound)
    tolerances = dict(tolerances or {})
    tols = {p.name: tolerances.get(p.name) or tolerances.get(p.dtype) or tolerance_for(p.dtype, red)
            for p in checked.outputs}
    outputs = {p.name: OutputReport(p.name, p.dtype, list(bound.shapes[p.name]),
                                    int(np.prod(bound.shapes[p.name], dtype=np.int64)),
                                    tolerance=tols[p.name].to_json())
               for p in checked.outputs}
    from .inputs import DISTRIBUTIONS
    dists = list(distributions) if distributions else [DISTRIBUTIONS[k % len(DISTRIBUTIONS)] for k in range(len(seeds))]
    runs: List[Dict[str, Any]] = []
    first_reasons: List[str] = []

    def report(ok: bool, reason: str) -> ValidationReport:
        return ValidationReport(ok, reason, bound.name, dict(bound.sizes), outputs, runs, red,
                                time.perf_counter() - t0, getattr(device, "name", ""))

    for k, seed in enumerate(seeds):
        poison = poisons[k] if poisons is not None else Poison.varied(k, int(seed))
        dist = dists[k % len(dists)]
        run: Dict[str, Any] = {"seed": int(seed), "distribution": dist, "poison": poison.describe()}
        runs.append(run)
        inputs = make_inputs(bound, dist, int(seed))
        try:
            expected = interpreter.run(bound, inputs)
        except Exception as e:  # the specification itself fails on these inputs
            if k and dist != "uniform":
                run.update(ok=True, skipped=f"the reference is undefined on {dist} inputs: {e}", reasons=[])
                continue
            run.update(ok=False, reasons=[f"reference interpreter failed: {e}"])
            return report(False, f"reference interpreter failed (seed {seed}): {e}")
        eb = error_bounds(bound, inputs, correlated=dist == "constant") if bounded else None
        mags = eb.magnitudes if eb is not None else None
        run["tolerance"] = eb.method if eb is not None else "relative"
        res, why = _run_once(device, program, stages, bound, inputs, guard_bytes, poison, guard_pages)
        if res is None:
            run.update(ok=False, reasons=[why])
            return report(False, why)
        reasons, per_output, cmps = _check_run(bound, res, expected, tols, mags)
        if repeat and k == 0 and not reasons:
            again, why = _run_once(device, program, stages, bound, inputs, guard_bytes, Poison.varied(k + 1, seed + 7),
                                   guard_pages)
            reasons = [why] if again is None else _disagreement(bound, res, again, deterministic, expected, tols, mags)
            run["repeated"] = True
        run.update(ok=not reasons, reasons=reasons, seconds=res.seconds, temps_passed=res.temps_passed,
                   inputs_modified=list(res.inputs_modified), outputs=per_output,
                   guards={n: g.to_json() for n, g in res.guards.items()})
        if reasons:
            if not first_reasons:
                first_reasons = reasons
        _merge(outputs, per_output, cmps, res, int(seed))
    if first_reasons:
        failing = [r for r in runs if not r.get("ok")]
        names = ", ".join(f"{r.get('distribution')} (seed {r['seed']})" for r in failing[:3])
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        reason = "; ".join(first_reasons) + f" (failed on {len(failing)} of {len(runs)} input sets: {names}{more})"
        return report(False, reason)
    return report(True, "")


def _merge(outputs: Dict[str, OutputReport], per_output, cmps, res, seed: int) -> None:
    """Fold one run's figures into the per-output worst."""
    for name, o in outputs.items():
        d, c = per_output[name], cmps[name]
        o.max_abs_err = max(o.max_abs_err, c.max_abs_err)
        o.max_rel_err = max(o.max_rel_err, c.max_rel_err)
        o.norm_rel_err = max(o.norm_rel_err, c.norm_rel_err)
        o.mismatches = max(o.mismatches, c.mismatches)
        o.unwritten = max(o.unwritten, d["unwritten"])
        o.nan_count = max(o.nan_count, c.nan_count)
        o.worst_fraction = max(o.worst_fraction, c.worst_fraction)
        if o.first_mismatch is None and d["first_mismatch"] is not None:
            o.first_mismatch = dict(d["first_mismatch"], seed=seed)
        g = res.guards.get(name)
        if g is not None:
            o.guard = {"ok": o.guard["ok"] and g.ok, "before": max(o.guard["before"], g.before),
                       "after": max(o.guard["after"], g.after)}
        o.ok = o.ok and c.ok and o.guard["ok"]
