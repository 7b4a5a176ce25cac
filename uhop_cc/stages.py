"""The compile pipeline's stages, one function each; `uhop_cc.pipeline.STAGES` lists them in order.

A `Job` carries what the caller asked for and what the stages produced so far. Job stages
(`spec`, `candidates`, `time`, `ai`, `write`) run once; kernel stages (`launch`, `analyze`,
`build`, `validate`) run per candidate (a `Trial`) and answer GO (on to the next stage), REJECT
(recorded on the attempt; the next candidate is tried) or DONE (accepted, later kernel stages
skipped: an untrusted kernel judged whole in a child process). No stage names a target: each asks
the Target object (`job.target`) or its device.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from . import targets
from .ai.audit import audit_source
from .ai.loop import apply_outcome, improve, scrubber_for
from .codegen import GeneratedKernel, LaunchError, parse_launch
from .compile_result import Attempt, CompileResult
from .dataset import cache as kernel_cache
from .dataset.records import Scrubber
from .ir import interpreter
from .ir.typed import BoundKernel
from .lower import build_spec, index_bits
from .output_folder import OutputFolderError, write_folder
from .tune import cache as tune_cache
from .verify.judge import cache_bytes_of, roof_peaks, roofline_at
from .verify.validate import validate as run_validation

GO, REJECT, DONE = "go", "reject", "done"


@dataclass
class Job:
    """One compile: the request, then each stage's output (spec -> result, candidates -> kernels)."""
    bound: BoundKernel
    target: Any  # the Target object (uhop_cc.targets)
    device: Any
    strategy: str = "auto"
    params: Optional[Dict[str, Any]] = None
    validate: bool = True
    time: bool = True
    outdir: Optional[Path] = None
    emit_host: bool = False
    time_budget_s: float = 2.0
    roofline: bool = False
    ai: Optional[Dict[str, Any]] = None
    use_cache: bool = True
    say: Callable[[str], None] = lambda msg: None
    kernels: Optional[List[GeneratedKernel]] = None  # given: the run starts after `candidates`
    result: Optional[CompileResult] = None
    hardware: Optional[Dict[str, Any]] = None  # what schedules are fitted to (None: a device that runs nothing)

    @property
    def runs(self) -> bool:
        return device_runs(self.device)


@dataclass
class Trial:
    """One candidate kernel in the kernel stages."""
    kernel: GeneratedKernel
    attempt: Attempt
    launch: Any = ()  # the @launch stages
    build: Any = None


def device_runs(device) -> bool:
    """Whether `device` launches kernels: a compile-only device (CUDA with NVRTC only) says
    `runs_kernels = False`, and the pipeline stops after its build (NOT_RUN)."""
    return bool(getattr(device, "runs_kernels", True))


def untrusted(kernel: GeneratedKernel) -> bool:
    """Kernels that uhopc did not generate: a cached LLM kernel, a user's --kernel-source."""
    return kernel.strategy == "user" or bool(kernel.params.get("cached"))


def first_stage(kernel: GeneratedKernel) -> str:
    """Where a candidate enters the kernel stages: an untrusted kernel at `analyze`, where it is
    judged whole in a child process (launch lines, build, validation, timing); ours at `launch`."""
    return "analyze" if untrusted(kernel) else "launch"


# ------------------------------------------------------------------ job stages
def spec_stage(job: Job) -> None:
    """The device's fingerprint and the KernelSpec; the result every later stage fills."""
    hardware = job.device.fingerprint()
    job.hardware = hardware if job.runs else None
    job.result = CompileResult(build_spec(job.bound, hardware), None, False, compile_only=not job.runs)


def candidates_stage(job: Job) -> None:
    if job.kernels is None:
        job.kernels = candidates(job.bound, job.target.name, job.strategy, job.params, job.hardware,
                                 job.result.attempts, job.use_cache)
        if not job.kernels and job.result.attempts:  # e.g. a program the target cannot express
            job.result.reason = job.result.attempts[-1].reason


def time_stage(job: Job) -> None:
    """Median-of-runs timing on the device (the target's loop), and the roofline at its peaks."""
    result, bound = job.result, job.bound
    if not (result.ok and job.time and job.runs):
        return
    empty = [p.name for p in bound.checked.outputs if 0 in bound.shapes[p.name]]
    if empty and len(empty) == len(bound.checked.outputs):
        result.notes.append(f"not timed: every output is empty ({', '.join(f'{n}{list(bound.shapes[n])}' for n in empty)})"
                            ", so there is nothing to launch")
        return
    if result.program is None:  # judged in a child process, which timed it
        return
    job.say("timing")
    try:
        prepared = job.device.prepare(result.program, result.stages, bound, interpreter.random_inputs(bound, seed=3))
    except Exception as e:  # noqa: BLE001 - a validated kernel that cannot be prepared: say so, keep the result
        result.notes.append(f"not timed: {type(e).__name__}: {e}")
        return
    try:
        result.timing = timing_json(job.target.time(prepared, job.time_budget_s))
    except Exception as e:  # noqa: BLE001 - a launch fault while timing (native loop): a note, not a traceback
        result.notes.append(f"not timed: {type(e).__name__}: {e}")
    finally:
        prepared.release()
    if job.roofline and result.timing:
        try:
            peaks = job.target.peaks(job.device)
        except Exception as e:  # noqa: BLE001 - peaks that cannot be measured leave the roofline out
            peaks = None
            result.notes.append(f"no roofline: the peaks could not be measured ({type(e).__name__}: {e})")
        if peaks:
            result.roofline = roofline_at(result.spec, peaks, result.timing["median_s"], cache_bytes_of(job.device))


def ai_stage(job: Job) -> None:
    """With `ai`: ask an LLM for faster kernels; the winner (judged in a child process) replaces ours."""
    if job.ai is None:
        return
    device = job.device if job.runs else None  # nothing to time against on a compile-only device
    job.say("asking the LLM for faster kernels")
    outcome = improve(job.bound, target=job.target.name, device=device, baseline=job.result, progress=job.say,
                      **job.ai)
    job.result = apply_outcome(job.result, outcome, device, job.bound)
    job.say(outcome.summary)


def write_stage(job: Job) -> None:
    """kernel source, spec.json, report.json (and the host project) into the output folder, all or nothing."""
    if job.outdir is None:
        return
    result = job.result
    try:
        result.outdir = write_outputs(result, Path(job.outdir), job.bound, job.emit_host, scrubber_for(job.ai))
    except OutputFolderError as e:  # kept on the result: the summary says it, the CLI exits 2
        result.outdir, result.write_error = None, str(e)


# ------------------------------------------------------------------ kernel stages
def launch_stage(job: Job, trial: Trial) -> str:
    if not job.target.c_style:  # its own lowering: no @launch lines (TT-Metal's host program sets the grid)
        return GO
    try:
        trial.launch = parse_launch(trial.kernel.source)
    except LaunchError as e:
        trial.attempt.status, trial.attempt.reason = "launch_error", str(e)
        return REJECT
    return GO


def analyze_stage(job: Job, trial: Trial) -> str:
    """The C++ static analyzer on our kernels; an untrusted kernel goes whole to the judge."""
    if untrusted(trial.kernel):
        return judge(job, trial)
    from .analyze import analyze
    try:
        report = analyze(trial.kernel.source, job.target.name, job.result.spec)
    except ImportError:  # the native module is not built: nothing to report (raised by the call)
        return GO
    result = job.result
    result.analysis = report.to_json()
    if not report.ok:
        first = report.errors[0]
        trial.attempt.status, trial.attempt.reason = "analysis_rejected", f"line {first.line}: {first.message}"
        result.reason = f"{trial.kernel.strategy} kernel rejected by the static analyzer"
        return REJECT
    return GO


def build_stage(job: Job, trial: Trial) -> str:
    kernel, result = trial.kernel, job.result
    describe = getattr(job.device, "build_message", None)
    job.say(describe(kernel.strategy) if describe else f"building {kernel.strategy} kernel")
    # a multi-file candidate (a TT-Metal project) is built from its files
    trial.build = (job.device.build(kernel.source, files=kernel.files) if kernel.files
                   else job.device.build(kernel.source))
    result.kernel, result.build = kernel, trial.build.to_json()
    if not trial.build.ok:
        log_lines = [ln for ln in (trial.build.log or "").splitlines() if "error" in ln] or ["build failed"]
        trial.attempt.status, trial.attempt.reason = "build_error", log_lines[0].strip()
        result.reason = f"{kernel.strategy} kernel did not build"
        return REJECT
    return GO


def validate_stage(job: Job, trial: Trial) -> str:
    if not (job.validate and job.runs):
        return GO
    result = job.result
    job.say("validating against the reference interpreter")
    try:
        report = run_validation(job.device, trial.build, trial.launch, job.bound)
    except Exception as e:  # noqa: BLE001 - an ABI or launch the runtime refused
        trial.attempt.status, trial.attempt.reason = "launch_error", str(e)
        result.reason = str(e)
        return REJECT
    result.validation = report.to_json()
    if not report.ok:
        trial.attempt.status, trial.attempt.reason = "invalid", report.reason
        result.reason = f"{trial.kernel.strategy} kernel failed validation: {report.reason}"
        return REJECT
    return GO


def accept(job: Job, trial: Trial) -> None:
    """A candidate that went through every kernel stage: the result's kernel. On a device that
    runs nothing there is no program to keep, and the reason says why nothing ran."""
    result = job.result
    result.ok = True
    result.reason = "" if job.runs else job.device.not_run_reason
    result.program = trial.build if job.runs else None
    result.stages = trial.launch


def judge(job: Job, trial: Trial) -> str:
    """An untrusted kernel through every check in a child process (ai.audit.audit_source): DONE
    when it passed (PASSED; NOT_RUN on a device that runs nothing), else REJECT; a failing cache
    hit is invalidated and archived with its reason."""
    kernel, attempt, result, device = trial.kernel, trial.attempt, job.result, job.device
    job.say(f"checking the {'cached' if kernel.params.get('cached') else 'user'} kernel in a child process")
    peaks = roof_peaks(device, job.target.name) if job.runs else None  # with llc_bytes, for `suspicious`
    audit = audit_source(kernel.source, job.bound, job.target.name, run=job.runs, spec=result.spec,
                         device_index=getattr(device, "index", None), budget_s=job.time_budget_s, peaks=peaks)
    result.audit = audit.to_json()
    if audit.static.report is not None:
        result.analysis = audit.static.report
    result.kernel = kernel
    if audit.status != ("PASSED" if job.runs else "NOT_RUN"):
        attempt.status, attempt.reason = "rejected", f"{audit.status}: {audit.reason}"
        result.reason = f"{kernel.strategy} kernel rejected: {audit.status}: {audit.reason}"
        if kernel.params.get("cached"):
            kernel_cache.reject(job.bound, kernel, job.target.name, str(result.spec.hardware.get("name", "")),
                                audit.status, audit.reason)
        return REJECT
    result.ok, result.program, result.stages = True, None, tuple(audit.static.stages or ())
    if not job.runs:
        attempt.reason, result.reason = audit.reason, device.not_run_reason
        return DONE
    result.reason = ""
    co = audit.outcome
    shapes = (co.validation or {}).get("shapes") or []
    result.validation = dict(shapes[-1] if shapes else {}, ok=True, shapes=shapes,
                             runs=[{"label": x.get("label")} for x in shapes for _ in x.get("run_reasons") or [0]],
                             sanity=(co.validation or {}).get("sanity"))
    result.timing = co.timing
    if job.roofline and peaks and co.timing and co.timing.get("median_s"):
        roof_at = {k: v for k, v in peaks.items() if k != "llc_bytes"}  # the target's peaks, as time_stage keeps them
        result.roofline = roofline_at(result.spec, roof_at, co.timing["median_s"], peaks["llc_bytes"])
    return DONE


# ------------------------------------------------------------------ helpers of the stages
def timing_json(timing) -> Dict[str, Any]:
    """A target's timing (a verify.timing.Timing, or already its JSON) as report.json holds it."""
    return timing.to_json() if hasattr(timing, "to_json") else dict(timing)


def candidates(bound: BoundKernel, target: str, strategy: str, params: Optional[Dict[str, Any]],
               hardware: Optional[Dict[str, Any]], notes: Optional[List[Attempt]] = None,
               use_cache: bool = True) -> List[GeneratedKernel]:
    """Kernels to try, best first: the matching template (unless 'generic'), then the generic lowering.

    A template that raises while matching or rendering is a bug in that template, not in the
    user's program: it is recorded in `notes` and the generic lowering still runs."""
    out: List[GeneratedKernel] = []
    notes = notes if notes is not None else []
    if use_cache and strategy == "auto":  # the best LLM kernel archived for this device and shape, re-validated
        hit = kernel_cache.cached_candidate(bound, target, hardware)
        if hit is not None:
            out.append(hit)
    if strategy != "generic":
        for t in templates_of(target):
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
    t = targets.get(target)
    try:  # the generic lowering: the C-style renderer's, or the target's own (TT-Metal: a project)
        out.append(t.renderer(index_bits(bound)).generic(bound.checked) if t.c_style else t.generic(bound, params))
    except ValueError as e:  # a construct the target cannot express (named in the message)
        notes.append(Attempt("generic", dict(params or {}), "unsupported", str(e)))
    return out


def templates_of(target: str) -> list:
    """The target's fast templates ([] where they cannot be imported)."""
    try:
        return list(targets.get(target).templates())
    except ImportError:
        return []


def strategies(bound: BoundKernel, target: str) -> Dict[str, List[str]]:
    """{'known': every --strategy for the target, 'applicable': those that apply to this kernel}."""
    known = templates_of(target)
    applicable = ["auto", "generic"]
    for t in known:
        try:
            if t.match(bound) is not None:
                applicable.append(t.name)
        except Exception:  # noqa: BLE001 - a template bug: it does not apply
            continue
    return {"known": ["auto", "generic"] + [t.name for t in known], "applicable": applicable}


def _tuned(bound: BoundKernel, target: str, hardware: Optional[Dict[str, Any]], template: str):
    """The schedule `uhopc tune` cached for this device, kernel and shape, if it is for this template."""
    if not hardware:
        return None
    hit = tune_cache.lookup(str(hardware.get("name", "")), target, bound)
    return hit if hit is not None and hit.template == template else None


def user_kernel(bound: BoundKernel, target: str, source: str, file_name: str) -> GeneratedKernel:
    """A user's own kernel source (`uhopc compile --kernel-source`) as the one candidate."""
    return GeneratedKernel(target, source, bound.name, "user", {"file": Path(file_name).name},
                           targets.get(target).file_name)


def write_outputs(result: CompileResult, outdir: Path, bound: BoundKernel, emit_host: bool, scrub=None) -> Path:
    """The kernel, spec.json and report.json, with every secret scrubbed (`scrub`, default: key-like
    environment variables and .env values): an LLM that echoes a key must not put it on disk.
    All or nothing (output_folder.write_folder): OutputFolderError leaves `outdir` as it was."""
    scrub = scrub if scrub is not None else Scrubber()

    files = result.kernel.files if result.kernel is not None else {}

    def fill(folder: Path) -> None:
        if result.kernel is not None and not files:
            (folder / result.kernel.file_name).write_text(scrub.text(result.kernel.source))
        (folder / "spec.json").write_text(scrub.text(result.spec.dumps()) + "\n")
        (folder / "report.json").write_text(scrub.json(result.to_json()) + "\n")
        for rel, content in files.items():  # last: a project's own files (its spec.json too) as its target wrote them
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):  # our emitter's bytes (golden data among them): written as they are
                path.write_bytes(content)
            else:
                path.write_text(scrub.text(content))
        if emit_host and result.kernel is not None:
            targets.get(result.kernel.target).emit_host(bound, result.kernel, folder / "host")

    return write_folder(outdir, fill, also={Path(rel).parts[0] for rel in files})
