"""The LLM closed loop: ask for kernels that beat the deterministic one; keep one only when it
passed every check.

    outcome = improve(bound, target=target, device=device, baseline=compile_result)
    result = apply_outcome(compile_result, outcome, device, bound)

Per candidate, each stage recorded: prompt -> provider -> extract -> analyze (pre-check,
@launch, the C++ analyzer) -> compile + micro-tests on several shapes + profiling (one child
process with a time limit) -> status (see status.py) -> archive (dataset/store.py). R rounds of
K samples; each sample is a conversation that carries the previous answer and corrective
feedback; the loop stops after a round in which a candidate PASSED (correct and faster).
"""
from __future__ import annotations

import os
import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import prompts
from .. import targets
from ..verify.judge import guard_bytes_for, roof_peaks, roofline_at
from .audit import audit_source, memory_checks
from .checks import CheckOutcome, choose_shapes, offline_check, run_checks, static_checks, uses_atomics
from .extract import extract_code
from .providers import ChatClient, ProviderConfigError, ProviderError, resolve_config
from .status import tally

__all__ = ["AiAttempt", "AiOutcome", "improve", "apply_outcome", "rerun", "scrubber_for", "MIN_SPEEDUP",
           "ProviderConfigError"]

MIN_SPEEDUP = 1.02  # "beats the baseline": at least 2% faster (timing noise is not a win)


@dataclass
class AiAttempt:
    id: str
    round: int
    sample: int
    status: str
    reason: str = ""
    source: Optional[str] = field(default=None, repr=False)
    median_s: Optional[float] = None
    speedup: Optional[float] = None
    verified: bool = False  # validated and timed on a device
    stages: List[Dict[str, Any]] = field(default_factory=list)
    details: Dict[str, Any] = field(default_factory=dict, repr=False)
    timing: Optional[Dict[str, Any]] = field(default=None, repr=False)
    validation: Optional[Dict[str, Any]] = field(default=None, repr=False)
    reply: Optional[str] = field(default=None, repr=False)
    folder: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "round": self.round, "sample": self.sample, "status": self.status,
                "reason": self.reason, "median_s": self.median_s, "speedup": self.speedup, "verified": self.verified,
                "stages": self.stages, "folder": self.folder}


@dataclass
class AiOutcome:
    kernel: Any  # GeneratedKernel (strategy 'ai') or None: keep the deterministic kernel
    timing: Optional[Dict[str, Any]]
    speedup: Optional[float]
    attempts: List[AiAttempt]
    summary: str
    target: str = ""
    device: str = ""
    provider: str = ""
    model: str = ""
    session: str = ""
    baseline_s: Optional[float] = None
    dataset_best_s: Optional[float] = None
    checks_only: str = ""  # non-empty: candidates could not be run here (TT-Metal, CUDA without GPU)
    validation: Optional[Dict[str, Any]] = None
    stages: List[Dict[str, Any]] = field(default_factory=list)
    dataset_dir: Optional[str] = None
    best_attempt: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.kernel is not None

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, "target": self.target, "device": self.device,
                "provider": self.provider, "model": self.model, "session": self.session,
                "kernel": self.kernel.to_json() if self.kernel is not None else None, "timing": self.timing,
                "speedup": self.speedup, "baseline_s": self.baseline_s, "dataset_best_s": self.dataset_best_s,
                "checks_only": self.checks_only or None, "best_attempt": self.best_attempt,
                "dataset_dir": self.dataset_dir, "stages": self.stages,
                "attempts": [a.to_json() for a in self.attempts]}


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _mode(target: str) -> Tuple[str, str]:
    """('run'|'nvrtc'|'static'|'ttmetal', why not run); ValueError for an unknown target."""
    return targets.get(target).mode()


def _stage(name: str, t0: float, ok: Optional[bool] = True, **info) -> Dict[str, Any]:
    d = {"stage": name, "ok": ok, "seconds": round(time.perf_counter() - t0, 4)}
    d.update({k: v for k, v in info.items() if v is not None})
    return d


def improve(bound, *, target: str, device=None, baseline=None, provider: Optional[str] = None,
            model: Optional[str] = None, base_url: Optional[str] = None, samples: int = 2, rounds: int = 3,
            dataset_dir: Optional[Union[str, Path]] = None, progress: Optional[Callable[[str], None]] = None,
            client: Optional[ChatClient] = None, check_timeout_s: Optional[float] = None,
            time_budget_s: Optional[float] = None, seed: Optional[int] = None, min_speedup: float = MIN_SPEEDUP,
            use_cache: bool = True) -> AiOutcome:
    """Ask an LLM for kernels that beat `baseline` (the deterministic CompileResult).

    Returns an AiOutcome whose `kernel` is the fastest candidate that passed every check and beat
    the baseline, or None with `summary` saying why the deterministic kernel stays. Raises
    ProviderConfigError (one line naming the variable to set) before anything else when the
    provider is not configured; nothing the provider, the kernels or the device do raises."""
    from ..dataset import cache as kcache
    from ..dataset.records import AttemptRecord, Scrubber, new_attempt_id
    from ..dataset.store import DatasetStore
    from ..lower import build_spec

    say = progress or (lambda msg: None)
    samples, rounds = max(1, int(samples)), max(1, int(rounds))
    loop_stages: List[Dict[str, Any]] = []

    # -- 0. provider (fails fast, one line)
    config = client.config if client is not None else resolve_config(provider, model, base_url)
    client = client or ChatClient(config)
    scrub = Scrubber.for_config(config)  # the key and the base URL's credentials
    store = DatasetStore(dataset_dir)
    mode, checks_only = _mode(target)
    file_name = targets.get(target).file_name
    check_timeout = check_timeout_s if check_timeout_s is not None else _env_float("UHOP_AI_CHECK_TIMEOUT", 60.0)
    budget = time_budget_s if time_budget_s is not None else _env_float("UHOP_AI_TIME_BUDGET", 1.0)
    rng = random.Random(seed if seed is not None else secrets.randbits(64))
    session = new_attempt_id("session")

    # -- 1. spec: KernelSpec, hardware fingerprint, constraints, best known times
    t0 = time.perf_counter()
    hardware: Dict[str, Any] = {}
    if device is not None:
        try:
            hardware = dict(device.fingerprint())
        except Exception:  # noqa: BLE001
            hardware = {}
    spec = getattr(baseline, "spec", None)
    if spec is None or (hardware and spec.hardware.get("name") != hardware.get("name")):
        spec = build_spec(bound, hardware)
    if not hardware:
        hardware = dict(spec.hardware or {})
    device_name = str(hardware.get("name") or f"none ({target}: {checks_only or 'no device'})")
    device_index = getattr(device, "index", None)
    uir_text = spec.uir
    h = kcache.uir_hash(bound)
    base_kernel = getattr(baseline, "kernel", None)
    base_timing = getattr(baseline, "timing", None) or {}
    baseline_s = base_timing.get("median_s") if getattr(baseline, "ok", True) else None
    peaks = roof_peaks(device, target) if mode == "run" else None
    if baseline_s is None and mode == "run" and base_kernel is not None and getattr(baseline, "ok", False):
        say("timing the deterministic kernel")
        bt = run_checks(base_kernel.source, uir_text, bound.name, target, [], dict(bound.sizes),
                        seeds=[rng.randrange(1, 2 ** 31)], timeout_s=check_timeout + budget, budget_s=budget,
                        device_index=device_index)
        if bt.status is None and bt.timing:
            baseline_s = bt.timing.get("median_s")
    best_row = None
    try:
        best_row = store.best(h, target, device_name, bound.sizes)
    except Exception:  # noqa: BLE001 - an unreadable dataset is not fatal
        best_row = None
    dataset_best_s = best_row["median_s"] if best_row else None
    dataset_best_src = None
    if best_row:
        try:
            dataset_best_src = store.source(best_row["id"])
        except Exception:  # noqa: BLE001
            dataset_best_src = None
    loop_stages.append(_stage("spec", t0, True, category=spec.category, device=device_name, baseline_s=baseline_s,
                              dataset_best_s=dataset_best_s, mode=mode))

    # -- 2. prompt context
    # without a compiled baseline a target may still show one (TT-Metal: its deterministic kernels)
    fallback = targets.get(target).prompt_baseline(bound) if base_kernel is None else None
    ctx = prompts.PromptContext(
        spec=spec, target=target, abi=spec.abi, temps=spec.temps,
        size_symbols=tuple(bound.checked.sizes), hardware=hardware,
        baseline_strategy=base_kernel.strategy if base_kernel is not None else (fallback or (None, None))[0],
        baseline_params=dict(base_kernel.params) if base_kernel is not None else {},
        baseline_source=base_kernel.source if base_kernel is not None else (fallback or (None, None))[1],
        baseline_s=baseline_s, dataset_best_s=dataset_best_s, dataset_best_source=dataset_best_src,
        checks_only=checks_only)
    base_messages = prompts.compose(ctx)

    attempts: List[AiAttempt] = []
    lineage: List[Dict[str, Optional[str]]] = [{"reply": None, "feedback": None} for _ in range(samples)]
    for r in range(1, rounds + 1):
        for k in range(1, samples + 1):
            lin = lineage[k - 1]
            messages = prompts.conversation(base_messages, lin["reply"], lin["feedback"])
            say(f"AI round {r}/{rounds}, sample {k}/{samples}: asking {config.provider} ({config.model})")
            try:
                a = _attempt(client, messages, bound, spec, ctx, target, mode, r, k, samples, uir_text, rng,
                             check_timeout, budget, baseline_s, min_speedup, device_index, peaks)
            except Exception as e:  # noqa: BLE001 - a bug of ours must not end the loop or lose the archive
                a = AiAttempt("", r, k, "RUNTIME_ERROR", f"uhopc internal error while checking: "
                                                          f"{type(e).__name__}: {e}")
            a.id = new_attempt_id(bound.name)
            # -- 9. archive
            t1 = time.perf_counter()
            rec = AttemptRecord(
                id=a.id, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), kernel=bound.name, uir_hash=h,
                category=spec.category, target=target, device=device_name, sizes=dict(bound.sizes),
                provider=config.provider, model=config.model, round=r, sample=k, status=a.status, reason=a.reason,
                median_s=a.median_s, baseline_s=baseline_s, speedup=a.speedup,
                source_hash=_sha(a.source), verified=a.verified, session=session,
                extra={"stages": a.stages, "details": a.details, "timing": a.timing, "validation": a.validation,
                       "uir": uir_text, "provider": config.to_json(), "mode": mode, "checks_only": checks_only or None,
                       "hardware": hardware, "dataset_best_s": dataset_best_s})
            files = {file_name: a.source, "prompt.txt": prompts.render_messages(messages),
                     "reply.txt": a.reply if a.reply is not None else "", "program.uir": uir_text + "\n"}
            try:
                a.folder = str(store.add(rec, files, scrub))
                a.stages.append(_stage("archive", t1, True))
            except Exception as e:  # noqa: BLE001 - a full disk must not lose the result in hand
                a.stages.append(_stage("archive", t1, False, error=f"{type(e).__name__}: {e}"))
            attempts.append(a)
            say(f"AI candidate {r}.{k}: {a.status}" + (f" ({a.reason})" if a.reason else ""))
            if a.status != "PROVIDER_ERROR":
                lin["reply"] = a.reply
                fb = dict(a.details, reason=a.reason, median_s=a.median_s, baseline_s=baseline_s)
                lin["feedback"] = prompts.feedback(a.status, fb, ctx)
        # stop after a win; without a device, after a candidate that passed everything that can be checked here
        if any(a.round == r and (a.status == "PASSED" or (checks_only and a.status == "NOT_RUN")) for a in attempts):
            break

    # -- choose
    t2 = time.perf_counter()
    passed = [a for a in attempts if a.status == "PASSED" and a.verified and a.median_s]
    best = min(passed, key=lambda a: a.median_s) if passed else None
    from ..codegen import GeneratedKernel
    outcome = AiOutcome(None, None, None, attempts, "", target, device_name, config.provider, config.model, session,
                        baseline_s, dataset_best_s, checks_only, None, loop_stages, str(store.root))
    if best is not None:
        outcome.kernel = GeneratedKernel(target, best.source, bound.name, "ai",
                                         {"provider": config.provider, "model": config.model, "attempt": best.id},
                                         file_name)
        outcome.timing, outcome.speedup, outcome.validation = best.timing, best.speedup, best.validation
        outcome.best_attempt = best.id
        if use_cache:
            try:
                kcache.store(h, target, device_name, bound.sizes, best.source, kernel=bound.name, entry=bound.name,
                             file_name=file_name, median_s=best.median_s, baseline_s=baseline_s,
                             speedup=best.speedup, attempt_id=best.id, provider=config.provider, model=config.model,
                             dataset_dir=store.root, scrubber=scrub)
            except Exception:  # noqa: BLE001
                pass
    outcome.summary = _summary(outcome, best, attempts, checks_only, min_speedup)
    lost = [st.get("error", "") for a in attempts for st in a.stages if st.get("stage") == "archive" and not st.get("ok")]
    if lost:  # said in the summary, not only in the JSON: these attempts are not in the dataset
        outcome.summary += (f"; ARCHIVING FAILED for {len(lost)} of {len(attempts)} attempts "
                            f"({lost[0]}; dataset {store.root})")
    loop_stages.append(_stage("choose", t2, best is not None, best=best.id if best else None))
    return outcome


def scrubber_for(ai_opts: Optional[Dict[str, Any]]):
    """The Scrubber for whatever a compile writes or prints: every key-like environment variable,
    and with `ai_opts` (improve's provider/model/base_url) the key and the base URL's credentials."""
    from ..dataset.records import Scrubber
    if not ai_opts:
        return Scrubber()
    try:
        return Scrubber.for_config(resolve_config(ai_opts.get("provider"), ai_opts.get("model"),
                                                  ai_opts.get("base_url")))
    except Exception:  # noqa: BLE001 - the provider was checked before the run; keep the env-based scrub
        return Scrubber()


def _sha(text: Optional[str]) -> Optional[str]:
    from ..dataset.records import sha256
    return sha256(text) if text else None


def _summary(o: AiOutcome, best: Optional[AiAttempt], attempts: Sequence[AiAttempt], checks_only: str,
             min_speedup: float) -> str:
    counts = tally(a.status for a in attempts)
    if best is not None:
        base = (f"{best.speedup:.2f}x faster than the deterministic kernel "
                f"({prompts.format_seconds(best.median_s)} vs {prompts.format_seconds(o.baseline_s)})"
                if best.speedup else f"{prompts.format_seconds(best.median_s)}; no baseline time to compare")
        return (f"using the AI kernel from {o.provider} ({o.model}), attempt {best.id}: {base}; "
                f"passed every check ({counts})")
    if checks_only:
        return f"kept the deterministic kernel: {checks_only} ({counts})"
    if attempts and all(a.status == "PROVIDER_ERROR" for a in attempts):
        return f"kept the deterministic kernel: the provider failed ({counts}; last: {attempts[-1].reason})"
    slower = [a for a in attempts if a.status in ("SLOWER", "PASSED") and a.speedup]
    if slower:
        top = max(a.speedup for a in slower)
        return (f"kept the deterministic kernel: no candidate beat it by {(min_speedup - 1) * 100:.0f}% "
                f"(best {top:.2f}x; {counts})")
    return f"kept the deterministic kernel: no candidate passed ({counts})"


def _attempt(client: ChatClient, messages, bound, spec, ctx, target: str, mode: str, r: int, k: int, samples: int,
             uir_text: str, rng: random.Random, check_timeout: float, budget: float, baseline_s: Optional[float],
             min_speedup: float, device_index, peaks=None) -> AiAttempt:
    a = AiAttempt("", r, k, "PROVIDER_ERROR")
    a.stages.append({"stage": "prompt", "ok": True, "messages": len(messages),
                     "chars": sum(len(m["content"]) for m in messages)})
    # -- provider
    t0 = time.perf_counter()
    temperature = min(1.0, 0.2 + 0.4 * (k - 1)) if samples > 1 else 0.2
    try:
        reply = client.complete(messages, temperature=temperature)
    except ProviderError as e:
        a.status, a.reason = "PROVIDER_ERROR", str(e)
        a.details = {"kind": e.kind, "status": e.status, "tries": e.attempts, "history": e.history}
        a.stages.append(_stage("provider", t0, False, tries=e.attempts, kind=e.kind))
        return a
    a.reply = reply.text
    a.stages.append(_stage("provider", t0, True, tries=reply.attempts, model=reply.model,
                           finish_reason=reply.finish_reason, chars=len(reply.text), usage=reply.usage or None,
                           retries=reply.history or None, truncated=reply.truncated or None))
    # -- extract
    t0 = time.perf_counter()
    ex = extract_code(reply.text, target, bound.name)
    a.stages.append(_stage("extract", t0, ex.ok, **{k: v for k, v in ex.to_json().items() if k != "ok"}))
    if not ex.ok:
        a.status, a.reason = "NO_CODE", ex.reason
        a.details = {"reason": ex.reason}
        return a
    a.source = ex.source
    # -- static analysis (before any compiler sees the source): of the preprocessed source, which is what gets built
    st = static_checks(ex.source, target, spec)
    a.stages.append({"stage": "analyze", "ok": st.ok, "seconds": round(st.seconds, 4), "analyzer": st.analyzer,
                     "findings": [f.to_json() for f in st.findings]})
    if not st.ok:
        a.status = "ANALYSIS_REJECTED"
        a.reason = "; ".join(str(f) for f in st.errors[:3])
        a.details = {"findings": [str(f) for f in st.findings]}
        return a
    # -- memory safety for every launch the checks will make, then compile, micro-tests, profile
    built = st.source or ex.source
    shapes = choose_shapes(bound.checked, bound.sizes, rng)
    reach = None
    if targets.get(target).memory_checked:  # memory safety of every launch the checks will make
        from .. import ir
        t1 = time.perf_counter()
        mem, reach = memory_checks(built, target, [ir.bind_shapes(bound.checked, s) for _, s in shapes] + [bound])
        errors = [f for f in mem if f.severity == "error"]
        a.stages.append({"stage": "memory", "ok": not errors, "seconds": round(time.perf_counter() - t1, 4),
                         "findings": [f.to_json() for f in mem], "reach_bytes": reach})
        if errors:
            a.status, a.reason = "ANALYSIS_REJECTED", "; ".join(str(f) for f in errors[:3])
            a.details = {"findings": [str(f) for f in mem]}
            return a
    t0 = time.perf_counter()
    if mode == "run":
        seeds = [rng.randrange(1, 2 ** 31) for _ in range(2)]
        co = run_checks(built, uir_text, bound.name, target, shapes, dict(bound.sizes), seeds=seeds,
                        timeout_s=check_timeout + budget, budget_s=budget, device_index=device_index, peaks=peaks,
                        deterministic=not uses_atomics(built),
                        guard_bytes=None if reach is None else guard_bytes_for(bound, reach))
        _child_stages(a, co, t0)
    elif mode != "static":  # nothing runs here, but the target can compile (or syntax-check) the candidate
        co, tool = offline_check(built, target)
        a.stages.append(_stage("compile", t0, co.status is None, reason=co.reason or None, tool=tool))
    else:
        co = CheckOutcome(None, "analysed only")
    a.details = dict(co.details)
    a.timing, a.validation = co.timing, co.validation
    if co.status is not None:
        a.status, a.reason = co.status, co.reason
        return a
    if mode != "run":  # compiled (or syntax-checked) but never run: not a pass
        a.status, a.reason = "NOT_RUN", (co.reason or "static checks passed") + f" ({ctx.checks_only})"
        return a
    a.verified = True
    a.median_s = (co.timing or {}).get("median_s")
    a.speedup = (baseline_s / a.median_s) if baseline_s and a.median_s else None
    if a.speedup is None or a.speedup >= min_speedup:
        a.status = "PASSED"
        a.reason = (f"{a.speedup:.2f}x the baseline ({prompts.format_seconds(a.median_s)})" if a.speedup
                    else f"{prompts.format_seconds(a.median_s)}")
    else:
        a.status = "SLOWER"
        a.reason = (f"{a.speedup:.2f}x the baseline ({prompts.format_seconds(a.median_s)} vs "
                    f"{prompts.format_seconds(baseline_s)})")
    return a


def _child_stages(a: AiAttempt, co: CheckOutcome, t0: float) -> None:
    """compile / validate / profile records out of one child run (ok None: not reached)."""
    v = co.validation or {}
    shapes = v.get("shapes") or []
    st, where = co.status, co.details.get("where", "")
    if st == "COMPILE_ERROR":
        compiled = False
    elif st in ("TIMEOUT", "RUNTIME_ERROR", "OUT_OF_BOUNDS") and where in ("", "starting", "compiling"):
        compiled = None if st == "TIMEOUT" else False
    else:
        compiled = True
    validated = None
    if compiled:
        validated = True if st is None else (False if where.startswith(("validating", "sanity")) or shapes else None)
    a.stages.append({"stage": "compile", "ok": compiled, "reason": co.reason if compiled is False else None,
                     "build_s": co.details.get("build_s")})
    a.stages.append({"stage": "validate", "ok": validated,
                     "shapes": [{"sizes": x.get("sizes"), "label": x.get("label"), "ok": x.get("ok"),
                                 "reason": x.get("reason") or None} for x in shapes],
                     "sanity": v.get("sanity"), "reason": co.reason if validated is False else None})
    a.stages.append({"stage": "profile", "ok": (co.timing is not None) if st is None else None,
                     "median_s": (co.timing or {}).get("median_s"), "runs": (co.timing or {}).get("runs")})
    a.stages.append(_stage("check", t0, st is None, child_seconds=co.details.get("child_seconds"), status=st,
                           where=where or None))


# ------------------------------------------------------------------ for the pipeline
def apply_outcome(result, outcome: AiOutcome, device=None, bound=None):
    """The CompileResult to return after improve(): the AI kernel when there is one (with the
    validation and timing its child process measured; it is never built or run in this process,
    so `program` is None), else a copy of `result`. Sets `.ai` to the outcome's JSON either way."""
    import dataclasses

    from ..compile_result import Attempt
    notes = Attempt("ai", {"attempts": len(outcome.attempts)}, "ok", outcome.summary)
    if not outcome.ok or device is None:  # the deterministic kernel stays; result.ai says why
        out = dataclasses.replace(result)
        out.ai = outcome.to_json()
        return out
    from ..codegen import LaunchError, parse_launch
    kernel = outcome.kernel
    try:
        stages = tuple(parse_launch(kernel.source))
    except LaunchError:
        stages = ()
    shapes = (outcome.validation or {}).get("shapes") or []
    last = dict(shapes[-1]) if shapes else {"ok": True, "outputs": {}}
    runs = [{"sizes": s.get("sizes"), "ok": s.get("ok")} for s in shapes for _ in (s.get("run_reasons") or [None])]
    validation = dict(last, ok=True, reason="", runs=runs, shapes=shapes, sanity=(outcome.validation or {}).get("sanity"))
    roof = result.roofline
    if roof and roof.get("peaks") and outcome.timing and outcome.timing.get("median_s"):
        try:
            roof = roofline_at(result.spec, roof["peaks"], outcome.timing["median_s"],
                               int(roof.get("cache_bytes") or 0))
        except Exception:  # noqa: BLE001
            roof = None
    out = dataclasses.replace(result, kernel=kernel, ok=True, reason="", build=None, validation=validation,
                              timing=outcome.timing, roofline=roof, program=None, stages=stages,
                              attempts=list(result.attempts) + [notes],
                              audit={"status": "PASSED", "reason": f"AI attempt {outcome.best_attempt}: every check "
                                                                    "passed in the child process"})
    out.ai = outcome.to_json()
    return out


# ------------------------------------------------------------------ re-validation of an archived kernel
def rerun(attempt_id: str, *, dataset_dir: Optional[Union[str, Path]] = None, device=None,
          sizes: Optional[Dict[str, int]] = None, check_timeout_s: float = 60.0, time_budget_s: float = 1.0,
          seed: Optional[int] = None) -> Dict[str, Any]:
    """Re-check an archived kernel on the current device: static checks, then (where the target can
    run here) build, micro-tests on the archived shape (or `sizes`) plus random ones, and timing.
    Returns {id, status, reason, median_s, archived_median_s, speedup_vs_archived, device, sizes, ...};
    the status is PASSED when every check passed (SLOWER is not used: there is no baseline here)."""
    from .. import ir
    from ..dataset.store import DatasetStore
    from ..lower import build_spec

    store = DatasetStore(dataset_dir)
    meta = store.get(attempt_id)
    source = store.source(meta["id"])
    out: Dict[str, Any] = {"id": meta["id"], "kernel": meta.get("kernel"), "target": meta.get("target"),
                           "archived_status": meta.get("status"), "archived_device": meta.get("device"),
                           "archived_median_s": meta.get("median_s"), "median_s": None, "speedup_vs_archived": None}
    if not source:
        return dict(out, status="NO_CODE", reason="the attempt has no kernel source")
    target = meta["target"]
    uir = (meta.get("extra") or {}).get("uir")
    if not uir:
        try:
            uir = store.read(meta["id"], "program.uir")
        except OSError:
            return dict(out, status="RUNTIME_ERROR", reason="the attempt has no UIR program archived")
    checked = ir.select_kernel(ir.load(uir), meta.get("kernel"))
    want = dict(sizes) if sizes else {k: int(v) for k, v in (meta.get("sizes") or {}).items()}
    bound = ir.bind_shapes(checked, want)
    out["sizes"] = dict(bound.sizes)
    mode, checks_only = _mode(target)
    if mode == "run" and device is None:
        device = targets.get(target).open_device()
    hw = dict(device.fingerprint()) if device is not None else {}
    out["device"] = hw.get("name") or f"none ({checks_only})"
    spec = build_spec(bound, hw)
    audit = audit_source(source, bound, target, run=mode == "run", spec=spec,
                         device_index=getattr(device, "index", None), budget_s=time_budget_s,
                         timeout_s=check_timeout_s, peaks=roof_peaks(device, target) if mode == "run" else None, seed=seed)
    st, co = audit.static, audit.outcome or CheckOutcome(audit.status, audit.reason)
    if mode == "run" and co.details.get("shapes") is not None:
        out["shapes"] = co.details["shapes"]
    out["findings"] = [str(f) for f in st.findings]
    if not st.ok:
        return dict(out, status="ANALYSIS_REJECTED", reason="; ".join(str(f) for f in st.errors[:3]))
    if co.status is not None:
        return dict(out, status=co.status, reason=co.reason)
    out["median_s"] = (co.timing or {}).get("median_s")
    if out["median_s"] and out["archived_median_s"] and out["device"] == out["archived_device"]:
        out["speedup_vs_archived"] = out["archived_median_s"] / out["median_s"]
    if mode != "run":
        return dict(out, status="NOT_RUN", reason=(co.reason or "static checks passed") + f" ({checks_only})",
                    verified=False)
    return dict(out, status="PASSED", reason=co.reason or "every check passed", verified=True)
