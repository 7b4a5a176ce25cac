"""Differential validation: a built kernel against the reference interpreter.

Every run uses fresh random inputs (`interpreter.random_inputs`) and a different poison
in outputs and temporaries, so a kernel that leaves elements unwritten, reads an output
before writing it, or writes outside its buffers is caught, not only one that computes
wrong values.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..ir import interpreter
from ..ir.typed import BoundKernel
from ..runtime.opencl import AbiError, LaunchFailure, OpenCLDevice, Poison
from .tolerance import Comparison, Tolerance, _json_float, compare, reduction_length as _reduction_length, tolerance_for

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

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape, "elements": self.elements,
                "ok": self.ok, "max_abs_err": _json_float(self.max_abs_err),
                "max_rel_err": _json_float(self.max_rel_err), "norm_rel_err": _json_float(self.norm_rel_err),
                "mismatches": self.mismatches,
                "unwritten": self.unwritten, "nan_count": self.nan_count, "first_mismatch": self.first_mismatch,
                "canary": dict(self.guard), "tolerance": self.tolerance}


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
               tols: Mapping[str, Tolerance]) -> tuple:
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
        c = compare(got, exp, dtype, tols[name])
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
        g = res.guards.get(name)
        d = c.to_json()
        d["unwritten"] = n_unwritten
        d["canary"] = g.to_json() if g else None
        per_output[name] = d
    return reasons, per_output, cmps


def validate(device: OpenCLDevice, program, stages: Sequence[Any], bound: BoundKernel, *,
             seeds: Sequence[int] = (1, 2), reduction_length: Optional[int] = None,
             tolerances: Optional[Mapping[str, Tolerance]] = None, guard_bytes: int = 4096,
             poisons: Optional[Sequence[Poison]] = None) -> ValidationReport:
    """Run the program on one random input set per seed and compare with the interpreter.

    `tolerances` may override the tolerance per output name or per dtype; `poisons`
    (one per seed) override the default family `Poison.numbered(k)`."""
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
    runs: List[Dict[str, Any]] = []
    first_reasons: List[str] = []
    failing_seeds: List[int] = []

    def report(ok: bool, reason: str) -> ValidationReport:
        return ValidationReport(ok, reason, bound.name, dict(bound.sizes), outputs, runs, red,
                                time.perf_counter() - t0, getattr(device, "name", ""))

    for k, seed in enumerate(seeds):
        poison = poisons[k] if poisons is not None else Poison.numbered(k)
        run: Dict[str, Any] = {"seed": int(seed), "poison": poison.describe()}
        runs.append(run)
        inputs = interpreter.random_inputs(bound, int(seed))
        try:
            expected = interpreter.run(bound, inputs)
        except Exception as e:  # the specification itself fails on these inputs
            run.update(ok=False, reasons=[f"reference interpreter failed: {e}"])
            return report(False, f"reference interpreter failed (seed {seed}): {e}")
        try:
            res = device.run(program, stages, bound, inputs, guard_bytes=guard_bytes, poison=poison)
        except AbiError as e:
            run.update(ok=False, reasons=[f"ABI error: {e}"])
            return report(False, f"ABI error: {e}")
        except LaunchFailure as e:
            run.update(ok=False, reasons=[f"launch failed: {e}"])
            return report(False, f"launch failed: {e}")
        except ValueError as e:
            run.update(ok=False, reasons=[f"bad inputs: {e}"])
            return report(False, f"bad inputs: {e}")
        reasons, per_output, cmps = _check_run(bound, res, expected, tols)
        run.update(ok=not reasons, reasons=reasons, seconds=res.seconds, temps_passed=res.temps_passed,
                   inputs_modified=list(res.inputs_modified), outputs=per_output,
                   guards={n: g.to_json() for n, g in res.guards.items()})
        if reasons:
            failing_seeds.append(int(seed))
            if not first_reasons:
                first_reasons = reasons
        for name, o in outputs.items():
            d, c = per_output[name], cmps[name]
            o.max_abs_err = max(o.max_abs_err, c.max_abs_err)
            o.max_rel_err = max(o.max_rel_err, c.max_rel_err)
            o.norm_rel_err = max(o.norm_rel_err, c.norm_rel_err)
            o.mismatches = max(o.mismatches, c.mismatches)
            o.unwritten = max(o.unwritten, d["unwritten"])
            o.nan_count = max(o.nan_count, c.nan_count)
            if o.first_mismatch is None and d["first_mismatch"] is not None:
                o.first_mismatch = dict(d["first_mismatch"], seed=int(seed))
            g = res.guards.get(name)
            if g is not None:
                o.guard = {"ok": o.guard["ok"] and g.ok, "before": max(o.guard["before"], g.before),
                           "after": max(o.guard["after"], g.after)}
            o.ok = o.ok and c.ok and o.guard["ok"]
    if first_reasons:
        reason = "; ".join(first_reasons)
        reason += f" (failed with seed{'s' if len(failing_seeds) > 1 else ''} {', '.join(map(str, failing_seeds))}" \
                  f" of {', '.join(map(str, seeds))})"
        return report(False, reason)
    return report(True, "")
