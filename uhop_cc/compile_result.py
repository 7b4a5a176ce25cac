"""What a compile returns: the attempts made (`Attempt`) and the `CompileResult` with its summary,
JSON report and status. The pipeline (uhop_cc.pipeline) fills it stage by stage."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .codegen import GeneratedKernel
from .lower import KernelSpec

__all__ = ["Attempt", "CompileResult", "roofline_lines"]


@dataclass
class Attempt:
    strategy: str
    params: Dict[str, Any]
    status: str  # ok, build_error, launch_error, invalid, skipped
    reason: str = ""

    def to_json(self) -> dict:
        return {"strategy": self.strategy, "params": self.params, "status": self.status, "reason": self.reason}


@dataclass
class CompileResult:
    spec: KernelSpec
    kernel: Optional[GeneratedKernel]
    ok: bool
    reason: str = ""
    build: Optional[Dict[str, Any]] = None
    validation: Optional[Dict[str, Any]] = None
    timing: Optional[Dict[str, Any]] = None
    attempts: List[Attempt] = field(default_factory=list)
    outdir: Optional[Path] = None
    roofline: Optional[Dict[str, Any]] = None
    analysis: Optional[Dict[str, Any]] = None
    compile_only: bool = False  # built on a device that runs nothing (CUDA with NVRTC only): NOT_RUN
    program: Any = None  # the built program, for callers that keep running it
    stages: tuple = ()
    ai: Optional[Dict[str, Any]] = None  # uhop_cc.ai.loop.AiOutcome.to_json() when compiled with ai=...
    # an untrusted kernel (cache hit, AI kernel, --kernel-source) was judged in a child process and never
    # built here: `program` is None; `audit` is the verdict
    audit: Optional[Dict[str, Any]] = None
    notes: List[str] = field(default_factory=list)  # what the summary should say besides the figures
    write_error: str = ""  # why the output folder could not be written (it was left as it was)

    @property
    def status(self) -> str:
        """PASSED (validated on the device), NOT_RUN (compiled only), NOT_VALIDATED (--no-validate),
        the untrusted kernel's failing status, or FAILED."""
        if self.ok:
            if self.compile_only:
                return "NOT_RUN"
            return "PASSED" if self.validation and self.validation.get("ok") else "NOT_VALIDATED"
        return (self.audit or {}).get("status") or "FAILED"

    @property
    def gflops(self) -> Optional[float]:
        if not self.timing or not self.timing.get("median_s"):
            return None
        return self.spec.flops / self.timing["median_s"] / 1e9

    @property
    def gbps(self) -> Optional[float]:
        if not self.timing or not self.timing.get("median_s"):
            return None
        return self.spec.bytes_min / self.timing["median_s"] / 1e9

    def to_json(self) -> dict:
        return {
            "ok": self.ok, "status": self.status, "reason": self.reason, "kernel": self.spec.name,
            "target": self.kernel.target if self.kernel else None, "compile_only": self.compile_only,
            "sizes": self.spec.sizes, "category": self.spec.category,
            "strategy": self.kernel.strategy if self.kernel else None,
            "params": dict(self.kernel.params) if self.kernel else None,
            "device": self.spec.hardware.get("name"),
            "flops": self.spec.flops, "bytes_min": self.spec.bytes_min,
            "gflops": self.gflops, "gbps": self.gbps,
            "build": self.build, "validation": self.validation, "timing": self.timing, "roofline": self.roofline,
            "analysis": self.analysis,
            "attempts": [a.to_json() for a in self.attempts], "ai": self.ai, "audit": self.audit, "notes": self.notes,
            "write_error": self.write_error or None,
        }

    def summary(self) -> str:
        s = self.spec
        sizes = ", ".join(f"{k}={v}" for k, v in s.sizes.items())
        lines = [f"{s.name} [{s.category}] ({sizes}) on {s.hardware.get('name', '?')}"]
        if self.kernel:
            params = ", ".join(f"{k}={v}" for k, v in self.kernel.params.items())
            lines.append(f"  kernel     {self.kernel.strategy}" + (f" ({params})" if params else ""))
        for a in self.attempts:
            if a.status != "ok" and a.status != "rejected":  # a rejected untrusted kernel: see `verdict`
                lines.append(f"  fallback   {a.strategy}: {a.status}: {a.reason}")
        if self.analysis is not None:
            a = self.analysis
            res, sync, mem = a.get("resources") or {}, a.get("sync") or {}, a.get("memory") or {}
            notes = [f"{a.get('errors', 0)} errors", f"{a.get('warnings', 0)} warnings",
                     f"~{res.get('registers_estimate', '?')} registers"]
            if res.get("local_mem_bytes"):
                notes.append(f"{res['local_mem_bytes']} B local memory")
            if sync.get("barriers"):
                notes.append(f"{sync['barriers']} barriers")
            if mem.get("vector_loads"):
                notes.append(f"{mem['vector_loads']} vector loads")
            lines.append("  analysis   " + ", ".join(notes))
        for i, line in enumerate((self.build or {}).get("summary") or ()):  # a build that describes itself (a project)
            lines.append(f"  {'build' if i == 0 else '':<10} {line}")
        if self.validation is not None:
            v = self.validation
            if v.get("ok"):
                errs = ", ".join(f"{n} rel err {o['norm_rel_err']:.1e}, max abs err {o['max_abs_err']:.1e}"
                                 if o.get("norm_rel_err") is not None and o.get("max_abs_err") is not None
                                 else n for n, o in v.get("outputs", {}).items())
                lines.append(f"  validation PASS on {len(v.get('runs', []))} input sets ({errs})")
            else:
                lines.append(f"  validation FAIL: {v.get('reason')}")
        if self.timing:
            t = self.timing
            perf = []
            if s.flops:
                perf.append(f"{self.gflops:.2f} GFLOP/s")
            perf.append(f"{self.gbps:.2f} GB/s")
            lines.append(f"  time       median {t['median_s'] * 1e3:.4f} ms over {t['runs']} runs "
                         f"(IQR {t['iqr_s'] * 1e3:.4f} ms)  " + "  ".join(perf))
        if self.roofline:
            lines.extend(roofline_lines(self.roofline))
        if self.audit is not None:
            lines.append(f"  verdict    {self.audit.get('status')}: {self.audit.get('reason')} (checked in a child "
                         "process; never run in this one)")
        for note in self.notes:
            lines.append(f"  note       {note}")
        if self.compile_only and self.ok:
            lines.append(f"  status     NOT_RUN: {self.reason}")
        if not self.ok:
            lines.append(f"  error      {self.reason}")
        if self.ai:
            lines.append(f"  ai         {self.ai['summary']}")
        if self.outdir:
            lines.append(f"  wrote      {self.outdir}")
        if self.write_error:
            lines.append(f"  error      {self.write_error}")
        return "\n".join(lines)


def roofline_lines(r: Dict[str, Any]) -> List[str]:
    """The summary's roofline line: a percentage only of a roof that applies and was not beaten."""
    peaks = f"({r['peak_gflops']:.0f} GFLOP/s, {r['peak_gbps']:.0f} GB/s measured)"
    if r.get("applies") is False:
        return [f"  roofline   n/a: {r.get('note')}"]
    if r.get("note"):
        return [f"  roofline   above the roof estimate: {r['note']} {peaks}"]
    frac = r.get("fraction")
    if frac is None:
        return []
    if frac > 1.0:  # a roofline computed without the verdict (an older report, another caller)
        return [f"  roofline   above the roof estimate: faster than the {r['bound']}-bound roof ({frac:.2f}x), so "
                f"the measured peak underestimates this device here {peaks}"]
    return [f"  roofline   {frac * 100:.1f}% of the {r['bound']}-bound roof {peaks}"]
