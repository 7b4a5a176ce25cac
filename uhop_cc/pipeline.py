"""The main job: bound kernel -> spec -> kernel source -> build -> validate -> time -> report.

Strategy 'auto' takes the first matching fast template and falls back to the
generic lowering when the template does not match, does not build or does not
validate; every attempt is recorded in the report, so nothing is lost silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional

from .codegen import GeneratedKernel, LaunchError, parse_launch
from .targets import renderer
from .ir.typed import BoundKernel
from .lower import KernelSpec, build_spec, index_bits
from .output_folder import OutputFolderError, write_folder


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
    compile_only: bool = False  # CUDA without a GPU: NVRTC compiled it, nothing ran
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
            lines.extend(_roofline_lines(self.roofline))
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


def _roofline_lines(r: Dict[str, Any]) -> List[str]:
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


def candidates(bound: BoundKernel, target: str, strategy: str, params: Optional[Dict[str, Any]],
               hardware: Optional[Dict[str, Any]], notes: Optional[List[Attempt]] = None,
               use_cache: bool = True) -> List[GeneratedKernel]:
    """Kernels to try, best first: the matching template (unless 'generic'), then the generic lowering.

    A template that raises while matching or rendering is a bug in that template, not in the
    user's program: it is recorded in `notes` and the generic lowering still runs."""
    out: List[GeneratedKernel] = []
    notes = notes if notes is not None else []
    if use_cache and strategy == "auto":  # the best LLM kernel archived for this device and shape, re-validated
        from .dataset.cache import cached_candidate
        hit = cached_candidate(bound, target, hardware)
        if hit is not None:
            out.append(hit)
    if strategy != "generic":
        for t in _registry(target):
            if strategy not in ("auto", t.name):
                continue
            try:
                m = t.match(bound)
                if m is None:
                    continue
                chosen = dict(t.space(m, hardware)[0])
                tuned = _tuned(bound, target, hardware, t.name) if use_cache and not params else None
                if tuned is not None:
                    chosen = dict(tuned.params)
                chosen.update(params or {})
                kernel = t.render(m, chosen)
                if tuned is not None:
                    kernel = replace(kernel, params=dict(kernel.params, tuned=True))
                out.append(kernel)
            except Exception as e:  # noqa: BLE001 - recorded, then the generic lowering runs
                notes.append(Attempt(t.name, dict(params or {}), "template_error", f"{type(e).__name__}: {e}"))
            break
        if strategy != "auto" and not out and not notes:
            raise ValueError(f"strategy `{strategy}` does not apply to kernel `{bound.name}`")
    out.append(renderer(target, index_bits(bound)).generic(bound.checked))
    return out


def _registry(target: str) -> list:
    try:
        if target == "cuda":
            from .targets.cuda import templates
        else:
            from .targets.opencl import templates
        return list(getattr(templates, "TEMPLATES", []))
    except ImportError:
        return []


def strategies(bound: BoundKernel, target: str) -> Dict[str, List[str]]:
    """{'known': every --strategy for the target, 'applicable': those that apply to this kernel}."""
    names = [t.name for t in _registry(target)]
    applicable = ["auto", "generic"]
    for t in _registry(target):
        try:
            if t.match(bound) is not None:
                applicable.append(t.name)
        except Exception:  # noqa: BLE001 - a template bug: it does not apply
            continue
    return {"known": ["auto", "generic"] + names, "applicable": applicable}


def _tuned(bound: BoundKernel, target: str, hardware: Optional[Dict[str, Any]], template: str):
    """The schedule `uhopc tune` cached for this device, kernel and shape, if it is for this template."""
    if not hardware:
        return None
    from .tune.cache import lookup
    hit = lookup(str(hardware.get("name", "")), target, bound)
    return hit if hit is not None and hit.template == template else None


def _untrusted(kernel: GeneratedKernel) -> bool:
    """Kernels that uhopc did not generate: a cached LLM kernel, a user's --kernel-source."""
    return kernel.strategy == "user" or bool(kernel.params.get("cached"))


def user_kernel(bound: BoundKernel, target: str, source: str, file_name: str) -> GeneratedKernel:
    """A user's own kernel source (`uhopc compile --kernel-source`) as the one candidate."""
    return GeneratedKernel(target, source, bound.name, "user", {"file": Path(file_name).name},
                           "kernel.cu" if target == "cuda" else "kernel.cl")


def _judge(result: CompileResult, kernel: GeneratedKernel, attempt: Attempt, bound: BoundKernel, target: str,
           device, spec: KernelSpec, time_budget_s: float, roofline: bool, say) -> bool:
    """An untrusted kernel through every check, in a child process (ai.checks.audit_source): True
    when it passed; a failing cache hit is invalidated and archived with its reason."""
    from .ai.audit import audit_source
    say(f"checking the {'cached' if kernel.params.get('cached') else 'user'} kernel in a child process")
    from .verify.judge import roof_peaks
    peaks = roof_peaks(device) if target == "opencl" else None
    audit = audit_source(kernel.source, bound, target, spec=spec, device_index=getattr(device, "index", None),
                         budget_s=time_budget_s, peaks=peaks)
    result.audit = audit.to_json()
    if audit.static.report is not None:
        result.analysis = audit.static.report
    if not audit.passed:
        attempt.status, attempt.reason = "rejected", f"{audit.status}: {audit.reason}"
        result.kernel, result.reason = kernel, f"{kernel.strategy} kernel rejected: {audit.status}: {audit.reason}"
        if kernel.params.get("cached"):
            from .dataset.cache import reject
            reject(bound, kernel, target, str(spec.hardware.get("name", "")), audit.status, audit.reason)
        return False
    co = audit.outcome
    shapes = (co.validation or {}).get("shapes") or []
    result.kernel, result.ok, result.reason = kernel, True, ""
    result.validation = dict(shapes[-1] if shapes else {}, ok=True, shapes=shapes,
                             runs=[{"label": x.get("label")} for x in shapes for _ in x.get("run_reasons") or [0]],
                             sanity=(co.validation or {}).get("sanity"))
    result.timing = co.timing
    result.program, result.stages = None, tuple(audit.static.stages or ())
    if roofline and peaks and co.timing and co.timing.get("median_s"):
        result.roofline = _roofline(device, spec, co.timing["median_s"])  # peaks are cached per device
    return True


def compile_bound(bound: BoundKernel, *, target: str = "opencl", device=None, strategy: str = "auto",
                  params: Optional[Dict[str, Any]] = None, validate: bool = True, time: bool = True,
                  outdir: Optional[Path] = None, emit_host: bool = False, time_budget_s: float = 2.0,
                  roofline: bool = False, progress=None, ai: Optional[Dict[str, Any]] = None,
                  use_cache: bool = True, kernel_source: Optional[GeneratedKernel] = None) -> CompileResult:
    """The compile job. `kernel_source` (see `user_kernel`) replaces code generation: the user's
    kernel alone is judged, like every untrusted kernel, in a child process."""
    from .verify.validate import validate as run_validation

    say = progress or (lambda msg: None)
    if target not in ("opencl", "cuda"):
        raise ValueError(f"unknown target `{target}` (choose opencl or cuda; ttmetal writes a project: "
                         "uhop_cc.targets.ttmetal)")
    if target == "cuda" and device is None:
        from .targets.cuda.runtime import cuda_available
        if not cuda_available():
            return compile_only_cuda(bound, strategy, params, outdir, emit_host, say, ai, kernel_source)
    if device is None:
        if target == "cuda":
            from .targets.cuda.runtime import CUDADevice
            device = CUDADevice.open()
        else:
            from .targets.opencl.runtime import OpenCLDevice
            device = OpenCLDevice.open()
    hardware = device.fingerprint()
    spec = build_spec(bound, hardware)
    result = CompileResult(spec, None, False)
    kernels = [kernel_source] if kernel_source is not None else \
        candidates(bound, target, strategy, params, hardware, result.attempts, use_cache)
    for kernel in kernels:
        attempt = Attempt(kernel.strategy, dict(kernel.params), "ok")
        result.attempts.append(attempt)
        if _untrusted(kernel):
            if _judge(result, kernel, attempt, bound, target, device, spec, time_budget_s, roofline, say):
                break
            continue
        try:
            stages = parse_launch(kernel.source, target)
        except LaunchError as e:
            attempt.status, attempt.reason = "launch_error", str(e)
            continue
        report = _analyze(kernel, target, spec)
        if report is not None:
            result.analysis = report.to_json()
            if not report.ok:
                first = report.errors[0]
                attempt.status, attempt.reason = "analysis_rejected", f"line {first.line}: {first.message}"
                result.reason = f"{kernel.strategy} kernel rejected by the static analyzer"
                continue
        say(f"building {kernel.strategy} kernel")
        build = device.build(kernel.source)
        result.kernel, result.build = kernel, build.to_json()
        if not build.ok:
            log_lines = [ln for ln in (build.log or "").splitlines() if "error" in ln] or ["build failed"]
            attempt.status, attempt.reason = "build_error", log_lines[0].strip()
            result.reason = f"{kernel.strategy} kernel did not build"
            continue
        if validate:
            say("validating against the reference interpreter")
            try:
                report = run_validation(device, build, stages, bound)
            except Exception as e:  # ABI or launch refused by the runtime
                attempt.status, attempt.reason = "launch_error", str(e)
                result.reason = str(e)
                continue
            result.validation = report.to_json()
            if not report.ok:
                attempt.status, attempt.reason = "invalid", report.reason
                result.reason = f"{kernel.strategy} kernel failed validation: {report.reason}"
                continue
        result.ok, result.reason = True, ""
        result.program, result.stages = build, stages
        break
    empty = [p.name for p in bound.checked.outputs if 0 in bound.shapes[p.name]]
    if result.ok and time and empty and len(empty) == len(bound.checked.outputs):
        result.notes.append(f"not timed: every output is empty ({', '.join(f'{n}{list(bound.shapes[n])}' for n in empty)})"
                            ", so there is nothing to launch")
    elif result.ok and time and result.program is not None:
        say("timing")
        from .ir import interpreter
        prepared = device.prepare(result.program, result.stages, bound, interpreter.random_inputs(bound, seed=3))
        try:
            result.timing = _time(prepared, time_budget_s, target).to_json()
            if roofline and target == "opencl":
                result.roofline = _roofline(device, spec, result.timing["median_s"])
        finally:
            prepared.release()
    if ai is not None:
        from .ai.loop import apply_outcome, improve
        say("asking the LLM for faster kernels")
        outcome = improve(bound, target=target, device=device, baseline=result, progress=progress, **ai)
        result = apply_outcome(result, outcome, device, bound)
        say(outcome.summary)
    if outdir is not None:
        _write(result, Path(outdir), bound, emit_host, _scrubber(ai))
    return result


def _scrubber(ai: Optional[Dict[str, Any]]):
    from .ai.loop import scrubber_for
    return scrubber_for(ai)


def _analyze(kernel: GeneratedKernel, target: str, spec: KernelSpec):
    """The C++ static analyzer's report (None when the native module lacks it)."""
    try:
        from .analyze import analyze
        return analyze(kernel.source, target, spec)
    except ImportError:
        return None


def _time(prepared, budget_s: float, target: str = "opencl"):
    """The native C++ launch loop when the extension has it; the Python loop otherwise."""
    from .verify.native_timing import HarnessUnavailable, time_opencl
    from .verify.timing import time_launch
    if target != "opencl":
        return time_launch(prepared, budget_s=budget_s)
    try:
        return time_opencl(prepared, budget_s=budget_s)
    except HarnessUnavailable:
        return time_launch(prepared, budget_s=budget_s)


def compile_only_cuda(bound: BoundKernel, strategy: str, params, outdir, emit_host, say, ai=None,
                      kernel_source: Optional[GeneratedKernel] = None) -> CompileResult:
    """No GPU: generate and compile with NVRTC (a real compile check), run nothing."""
    from .targets.cuda.runtime import nvrtc_compile
    spec = build_spec(bound, {"name": "none (NVRTC compile check only)"})
    result = CompileResult(spec, None, False, compile_only=True)
    if kernel_source is not None:  # a user's kernel: static checks of the expanded source, then NVRTC
        from .ai.audit import audit_source
        audit = audit_source(kernel_source.source, bound, "cuda", run=False, spec=spec)
        result.kernel, result.audit = kernel_source, audit.to_json()
        result.attempts.append(Attempt("user", dict(kernel_source.params), "ok" if audit.status == "NOT_RUN"
                                       else "rejected", audit.reason))
        result.ok = audit.status == "NOT_RUN"
        result.reason = ("compiled with NVRTC only: no CUDA device to validate or time on" if result.ok
                         else f"user kernel rejected: {audit.status}: {audit.reason}")
        if outdir is not None:
            _write(result, Path(outdir), bound, emit_host)
        return result
    for kernel in candidates(bound, "cuda", strategy, params, None, result.attempts):
        attempt = Attempt(kernel.strategy, dict(kernel.params), "ok")
        result.attempts.append(attempt)
        try:
            parse_launch(kernel.source, "cuda")
        except LaunchError as e:
            attempt.status, attempt.reason = "launch_error", str(e)
            continue
        say(f"compiling {kernel.strategy} kernel with NVRTC (no GPU: nothing will run)")
        build = nvrtc_compile(kernel.source)
        result.kernel, result.build = kernel, build.to_json()
        if not build.ok:
            attempt.status, attempt.reason = "build_error", (build.log or "build failed").strip().splitlines()[0]
            result.reason = f"{kernel.strategy} kernel did not compile"
            continue
        result.ok, result.reason = True, "compiled with NVRTC only: no CUDA device to validate or time on"
        break
    if ai is not None:
        from .ai.loop import apply_outcome, improve
        outcome = improve(bound, target="cuda", device=None, baseline=result, progress=say, **ai)
        result = apply_outcome(result, outcome, None, bound)
    if outdir is not None:
        _write(result, Path(outdir), bound, emit_host, _scrubber(ai))
    return result


def _roofline(device, spec: KernelSpec, seconds: float) -> Dict[str, Any]:
    """The roofline at the measured peaks, with whether it applies (a cache-resident working set
    is not bounded by the DRAM roof) and whether the time beat it: see judge.roofline_verdict."""
    from .verify.judge import cache_bytes_of, roofline_verdict
    from .verify.native_timing import measure_peaks, roofline
    peaks = measure_peaks(device)
    out = roofline(spec.flops, spec.bytes_min, peaks["gflops"], peaks["gbps"], seconds=seconds)
    out["peaks"] = peaks
    return roofline_verdict(out, spec.bytes_min, cache_bytes_of(device))


def write_outputs(result: CompileResult, outdir: Path, bound: BoundKernel, emit_host: bool, scrub=None) -> Path:
    """The kernel, spec.json and report.json, with every secret scrubbed (`scrub`, default: key-like
    environment variables and .env values): an LLM that echoes a key must not put it on disk.
    All or nothing (output_folder.write_folder): OutputFolderError leaves `outdir` as it was."""
    if scrub is None:
        from .dataset.records import Scrubber
        scrub = Scrubber()

    def fill(folder: Path) -> None:
        if result.kernel is not None:
            (folder / result.kernel.file_name).write_text(scrub.text(result.kernel.source))
        (folder / "spec.json").write_text(scrub.text(result.spec.dumps()) + "\n")
        (folder / "report.json").write_text(scrub.json(result.to_json()) + "\n")
        if emit_host and result.kernel is not None:
            if result.kernel.target == "cuda":
                from .targets.cuda.host import emit_cuda_project
                emit_cuda_project(bound, result.kernel, folder / "host")
            else:
                from .codegen.host import emit_opencl_project
                emit_opencl_project(bound, result.kernel, folder / "host")

    return write_folder(outdir, fill)


def _write(result: CompileResult, outdir: Path, bound: BoundKernel, emit_host: bool, scrub=None) -> None:
    """write_outputs, its failure kept on the result (the summary says it; the CLI exits 2)."""
    try:
        result.outdir = write_outputs(result, outdir, bound, emit_host, scrub)
    except OutputFolderError as e:
        result.outdir, result.write_error = None, str(e)
