"""The main job: bound kernel -> spec -> kernel source -> build -> validate -> time -> report.

The job is an ordered list of named stages (`STAGES`; each one's code is in uhop_cc/stages.py):

    spec        device fingerprint -> KernelSpec                         (spec.json)
    candidates  kernels to try, best first: template, then generic lowering
    launch      each candidate's @launch lines
    analyze     the C++ static analyzer (an untrusted kernel: the whole judge, in a child process)
    build       the device's compiler (NVRTC alone on a CUDA machine without a GPU; TT-Metal: the
                project's syntax check)
    validate    against the reference interpreter, where the device runs kernels
    time        median-of-runs timing and the roofline                  (report.json)
    ai          with `ai=`: an LLM's faster kernel, judged in a child process
    write       kernel source, spec.json, report.json [, host project] into the output folder

Strategy 'auto' takes the first matching fast template and falls back to the generic lowering
when the template does not match, does not build or does not validate; every attempt is recorded
in the report, so nothing is lost silently. A run can start later: `kernel_source` (a user's
kernel) skips `candidates`, and untrusted kernels enter the kernel stages at `analyze`.
A device that runs nothing (CUDA with NVRTC only; TT-Metal, whose candidate is a whole project:
`GeneratedKernel.files`) goes through the same stages; validation and timing then do nothing and
the result is NOT_RUN.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from . import targets
from .codegen import GeneratedKernel
from .compile_result import Attempt, CompileResult
from .ir.typed import BoundKernel
from .stages import (DONE, REJECT, Job, Trial, accept, ai_stage, analyze_stage, build_stage, candidates,
                     candidates_stage, first_stage, launch_stage, spec_stage, strategies, time_stage, user_kernel,
                     validate_stage, write_outputs, write_stage)

__all__ = ["compile_bound", "CompileResult", "Attempt", "Stage", "STAGES", "candidates", "strategies", "user_kernel",
           "write_outputs", "open_device", "pipeline_target", "run_stages"]


@dataclass(frozen=True)
class Stage:
    """One named step. A job stage runs once (`run(job)`); a kernel stage runs per candidate
    (`run(job, trial)` -> GO, REJECT or DONE, see uhop_cc.stages)."""
    name: str
    run: Callable[..., Any]
    per_kernel: bool = False


STAGES: Sequence[Stage] = (
    Stage("spec", spec_stage),
    Stage("candidates", candidates_stage),
    Stage("launch", launch_stage, per_kernel=True),
    Stage("analyze", analyze_stage, per_kernel=True),
    Stage("build", build_stage, per_kernel=True),
    Stage("validate", validate_stage, per_kernel=True),
    Stage("time", time_stage),
    Stage("ai", ai_stage),
    Stage("write", write_stage),
)


def pipeline_target(name: str):
    """The Target object of `name` (every registered target goes through the stages); ValueError
    listing the known ones otherwise."""
    return targets.get(name)


def open_device(target: str, selector: Any = None):
    """The device a compile for `target` runs on: the one `selector` names, else the target's
    default where it runs kernels, else its compile-only device (CUDA with NVRTC only; TT-Metal's
    syntax check). Raises ValueError for an unknown target, or one that cannot even build here."""
    t = pipeline_target(target)
    mode, why = t.mode()
    if selector is None and mode != "run":
        device = t.compile_only_device()
        if device is None:
            raise ValueError(f"target `{target}` can neither run nor build kernels here: {why}")
        return device
    return t.open_device(selector)


def run_stages(job: Job, stages: Sequence[Stage] = STAGES) -> CompileResult:
    """Run `stages` in order; each run of kernel stages tries the candidates until one is accepted."""
    i = 0
    while i < len(stages):
        if not stages[i].per_kernel:
            stages[i].run(job)
            i += 1
            continue
        group = []
        while i < len(stages) and stages[i].per_kernel:
            group.append(stages[i])
            i += 1
        for kernel in job.kernels or []:
            if _try(job, kernel, group):
                break
    return job.result


def _try(job: Job, kernel: GeneratedKernel, group: Sequence[Stage]) -> bool:
    """One candidate through the kernel stages, from the one it enters at: True when accepted."""
    trial = Trial(kernel, Attempt(kernel.strategy, dict(kernel.params), "ok"))
    job.result.attempts.append(trial.attempt)
    names = [s.name for s in group]
    if first_stage(kernel) not in names:  # e.g. an untrusted kernel and no `analyze`: it would run here
        trial.attempt.status = "skipped"
        trial.attempt.reason = f"enters at `{first_stage(kernel)}`, which this stage list lacks"
        return False
    start = names.index(first_stage(kernel))
    for stage in group[start:]:
        verdict = stage.run(job, trial)
        if verdict == REJECT:
            return False
        if verdict == DONE:
            return True
    accept(job, trial)
    return True


def compile_bound(bound: BoundKernel, *, target: str = targets.DEFAULT, device=None, strategy: str = "auto",
                  params: Optional[Dict[str, Any]] = None, validate: bool = True, time: bool = True,
                  outdir: Optional[Path] = None, emit_host: bool = False, time_budget_s: float = 2.0,
                  roofline: bool = False, progress=None, ai: Optional[Dict[str, Any]] = None,
                  use_cache: bool = True, kernel_source: Optional[GeneratedKernel] = None) -> CompileResult:
    """The compile job (see the module docstring). `device` defaults to `open_device(target)`.
    `kernel_source` (see `user_kernel`) replaces code generation: the user's kernel alone is
    judged, like every untrusted kernel, in a child process."""
    t = pipeline_target(target)
    if device is None:
        device = open_device(target)
    job = Job(bound, t, device, strategy=strategy, params=params, validate=validate, time=time,
              outdir=outdir, emit_host=emit_host, time_budget_s=time_budget_s, roofline=roofline, ai=ai,
              use_cache=use_cache, say=progress or (lambda msg: None),
              kernels=[kernel_source] if kernel_source is not None else None)
    return run_stages(job)
