"""The work of one task: (program, target, device) items -> validated records.

`process_batch(items, settings)` runs in a worker process (local pool or Ray) and returns plain
dicts; the driver writes them. Per item: regenerate the program from its seed (deterministic),
check and bind it, build the KernelSpec, lower it (`pipeline.candidates`, the same order as
`compile_bound`: the matching template, then the generic lowering), run the static analyzer,
build, validate against the reference interpreter and time the first candidate that passes.

OpenCL builds are batched: the r-th candidates of all items of a batch are renamed with a
unique suffix per candidate (every function defined at file scope: kernels and helpers),
concatenated and built as one program; each candidate's kernels are then looked up by their
new names. PoCL's per-build cost is mostly fixed, so one build of N kernels is much cheaper
than N builds. A batch that fails to build falls back to one build per candidate, which also
attributes the compile error to the right kernel.
"""
from __future__ import annotations

import dataclasses
import re
import time
import traceback
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import targets
from .dedup import kernel_key, normalize_uir, top_level_functions, uir_key
from .generator import GENERATOR_VERSION, Limits, generate

__all__ = ["process_batch", "process_item", "open_device", "rename_functions", "batched_source", "build_reason",
           "failure_status", "op_counts", "analysis_summary"]

_DEVICES: Dict[Tuple[str, str], Any] = {}
_FINGERPRINTS: Dict[Tuple[str, str], Dict[str, Any]] = {}


# ------------------------------------------------------------------ devices
def open_device(target: str, selector: str = "default"):
    """The device for (target, selector), opened once per process. None where the target's kernels
    cannot run here (CUDA without a GPU: its candidates are compile-checked instead)."""
    key = (target, str(selector))
    if key not in _DEVICES:
        sel: Any = None if str(selector) in ("", "default") else \
            (int(selector) if str(selector).lstrip("-").isdigit() else str(selector))
        t = targets.get(target)
        if not t.runs_kernels:
            raise ValueError(f"target `{target}` does not run kernels (campaign targets: "
                             f"{', '.join(targets.runnable())})")
        _DEVICES[key] = t.open_device(sel) if t.mode()[0] == "run" else None
    return _DEVICES[key]


def _fingerprint(target: str, selector: str, dev) -> Dict[str, Any]:
    key = (target, str(selector))
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = dict(dev.fingerprint()) if dev is not None else \
            {"name": "none (NVRTC compile check only)"}
    return _FINGERPRINTS[key]


# ------------------------------------------------------------------ batching
def rename_functions(source: str, mapping: Dict[str, str]) -> str:
    """Every whole-word occurrence of each name in `mapping` replaced (longest names first)."""
    if not mapping:
        return source
    pat = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True)) + r")\b")
    return pat.sub(lambda m: mapping[m.group(1)], source)


def batched_source(sources: Sequence[str], tag: str = "cb") -> Tuple[str, List[Dict[str, str]]]:
    """One source holding every candidate, each with its file-scope functions suffixed `__<tag><k>`;
    returns the source and, per candidate, old name -> new name."""
    parts, maps = [], []
    for k, src in enumerate(sources):
        mapping = {n: f"{n}__{tag}{k}" for n in top_level_functions(src)}
        parts.append(f"// ---- candidate {k}\n" + rename_functions(src, mapping))
        maps.append(mapping)
    return "\n\n".join(parts) + "\n", maps


def _renamed_bound(bound, name: str):
    ck = bound.checked
    ck2 = dataclasses.replace(ck, kernel=dataclasses.replace(ck.kernel, name=name))
    return dataclasses.replace(bound, checked=ck2)


# ------------------------------------------------------------------ small helpers
_LOG_LOCATION = re.compile(r"(?:\S+\.(?:cl|cu|h|c|cpp)|<[^>\s]+>):\d+(?::\d+)?(?:\s*<Spelling=[^>]*>)?:?\s*")


def build_reason(log: Optional[str]) -> str:
    """The first compiler error of a build log, without file paths and positions."""
    lines = [ln for ln in (log or "").splitlines() if "error" in ln.lower()] or ["build failed"]
    return _LOG_LOCATION.sub("", lines[0]).strip()[:300]



def failure_status(stage: str, reason: str = "") -> str:
    """The dataset status (records.STATUSES) of a failed attempt."""
    r = (reason or "").lower()
    if stage in ("build_error",):
        return "COMPILE_ERROR"
    if stage in ("launch_error", "error", "timing_error"):
        return "RUNTIME_ERROR"
    if stage == "analysis_rejected":
        return "ANALYSIS_REJECTED"
    if stage == "invalid":
        if "out-of-bounds" in r:
            return "OUT_OF_BOUNDS"
        if r.startswith("abi error") or r.startswith("launch failed") or "reference interpreter failed" in r:
            return "RUNTIME_ERROR"
        return "INCORRECT"
    return "RUNTIME_ERROR"


def op_counts(kernel) -> Dict[str, int]:
    """Operation frequency of a UIR kernel (nodes.Kernel): operators, functions, reductions."""
    from ..ir import nodes as N
    c: Counter = Counter()
    for s in kernel.body:
        for e in N.walk(s.value):
            if isinstance(e, N.Binary):
                c[e.op] += 1
            elif isinstance(e, N.Unary):
                c["neg" if e.op == "-" else "not"] += 1
            elif isinstance(e, N.Call):
                c[e.fn] += 1
            elif isinstance(e, N.Reduce):
                c[f"reduce:{e.op}"] += 1
            elif isinstance(e, N.Access):
                c["access"] += 1
    c["statements"] = len(kernel.body)
    return dict(c)


def analysis_summary(d: Dict[str, Any]) -> Dict[str, Any]:
    """The analyzer's report (analyze_dict) reduced to what the dataset keeps."""
    findings = d.get("findings", [])
    res = d.get("resources", {})
    return {
        "errors": sum(1 for f in findings if f.get("severity") == "error"),
        "warnings": sum(1 for f in findings if f.get("severity") == "warning"),
        "codes": sorted({str(f.get("code")) for f in findings}),
        "first_error": next((f"{f.get('code')}: {f.get('message')}" for f in findings
                             if f.get("severity") == "error"), None),
        "sync": dict(d.get("sync", {})), "memory": dict(d.get("memory", {})),
        "resources": {k: res.get(k) for k in ("local_mem_bytes", "local_mem_unknown", "private_bytes",
                                               "registers_estimate", "reqd_work_group_size")},
        "stats": dict(d.get("stats", {})),
        "kernels": len(d.get("abi", {}).get("kernels", [])),
    }


def _compact_validation(v: Dict[str, Any]) -> Dict[str, Any]:
    return {"ok": v.get("ok"), "reason": v.get("reason"), "seconds": v.get("seconds"),
            "reduction_length": v.get("reduction_length"), "runs": len(v.get("runs", [])),
            "outputs": {n: {k: o.get(k) for k in ("max_abs_err", "max_rel_err", "mismatches", "unwritten",
                                                   "nan_count", "tolerance")}
                        for n, o in (v.get("outputs") or {}).items()}}


def _time_launch(prepared, budget_s: float, target: Optional[str] = None) -> Dict[str, Any]:
    """The target's timing (its native loop, else the Python loop), cut short for a campaign."""
    from ..targets import DEFAULT, get
    return get(target or DEFAULT).time(prepared, budget_s, warmup=1, min_runs=3, max_runs=50).to_json()


# ------------------------------------------------------------------ one job
class _Job:
    def __init__(self, item: Dict[str, Any]):
        self.item = item
        self.t: Dict[str, float] = Counter()
        self.gen = self.checked = self.bound = self.spec = None
        self.cands: List[Any] = []
        self.attempts: List[Dict[str, Any]] = []
        self.status: Optional[str] = None
        self.reason = ""
        self.fail: Tuple[str, str] = ("RUNTIME_ERROR", "no candidate kernel")
        self.kernel = None  # the chosen (or last tried) GeneratedKernel
        self.analysis: Optional[Dict[str, Any]] = None
        self.validation: Optional[Dict[str, Any]] = None
        self.timing: Optional[Dict[str, Any]] = None
        self.build: Optional[Dict[str, Any]] = None
        self.error: Optional[str] = None
        self.validated = False
        self.canon_sizes: Dict[str, int] = {}
        self.ai: Optional[Dict[str, Any]] = None


def _prepare(job: _Job, settings: Dict[str, Any], hardware: Dict[str, Any]) -> None:
    from ..lower import build_spec
    from ..pipeline import Attempt, candidates
    it = job.item
    t0 = time.perf_counter()
    limits = Limits(**{k: (tuple(v) if k == "dtypes" else v) for k, v in settings["limits"].items()})
    job.gen = generate(it["category"], int(it["seed"]), limits, index=int(it["n"]))
    t1 = time.perf_counter()
    job.checked = job.gen.check()
    job.bound = job.gen.bind(job.checked)
    _text, job.canon_sizes = normalize_uir(job.gen.program, job.bound.sizes)
    if it.get("uir_key") and settings.get("verify_uir_key", True):
        k = uir_key(job.gen.program, job.bound.sizes if settings.get("dedup_sizes", True) else None)
        if k != it["uir_key"]:
            raise RuntimeError("the regenerated program differs from the planned one (generator version?)")
    job.spec = build_spec(job.bound, hardware)
    t2 = time.perf_counter()
    notes: List[Attempt] = []
    job.cands = candidates(job.bound, it["target"], settings.get("strategy", "auto"), None, hardware, notes,
                           use_cache=False)
    for a in notes:
        job.attempts.append(a.to_json())
    t3 = time.perf_counter()
    job.t.update(generate=t1 - t0, check=t2 - t1, lower=t3 - t2)


def _try_round(jobs: List[_Job], r: int, dev, settings: Dict[str, Any], target: str) -> None:
    """Build, validate and time the r-th candidate of every unresolved job (a target whose
    devices build many kernels as one program cheaply: `batch_builds`)."""
    from ..codegen import LaunchError, parse_launch
    from ..ir import interpreter
    from ..verify.validate import validate as run_validation
    entries = []
    for j in jobs:
        if j.status is not None or r >= len(j.cands):
            continue
        cand = j.cands[r]
        j.kernel = cand
        att = {"strategy": cand.strategy, "params": dict(cand.params), "status": "ok", "reason": ""}
        j.attempts.append(att)
        try:
            stages = parse_launch(cand.source)
        except LaunchError as e:
            att.update(status="launch_error", reason=str(e))
            j.fail = (failure_status("launch_error"), str(e))
            continue
        if settings.get("analysis", True):
            t = time.perf_counter()
            try:
                from ..analyze import analyze_dict
                j.analysis = analysis_summary(analyze_dict(cand.source, target, j.spec))
            except Exception as e:  # noqa: BLE001 - the analyzer is optional (another helper's work)
                j.analysis = {"unavailable": f"{type(e).__name__}: {e}"}
            j.t["analyze"] += time.perf_counter() - t
            if settings.get("analysis_gate") and j.analysis.get("errors"):
                reason = j.analysis.get("first_error") or "analyzer errors"
                att.update(status="analysis_rejected", reason=reason)
                j.fail = ("ANALYSIS_REJECTED", reason)
                continue
        entries.append((j, cand, stages, att))
    if not entries:
        return

    # -- build: batched when possible
    built: List[Tuple[Any, Any, Any, Dict[str, Any]]] = []
    batch_ok = False
    if settings.get("batch_build", True) and len(entries) > 1:
        src, maps = batched_source([c.source for _j, c, _s, _a in entries])
        t = time.perf_counter()
        br = dev.build(src)
        secs = time.perf_counter() - t
        if br.ok:
            batch_ok = True
            share = secs / len(entries)
            for (j, cand, stages, att), mapping in zip(entries, maps):
                try:
                    st2 = tuple(dataclasses.replace(s, kernel_name=mapping[s.kernel_name]) for s in stages)
                    b2 = _renamed_bound(j.bound, mapping[stages[-1].kernel_name])
                except KeyError:  # a stage whose function the scanner missed: build it alone
                    built.append(None)
                    continue
                j.t["build"] += share
                built.append((dataclasses.replace(br, seconds=share), st2, b2,
                              {"ok": True, "seconds": share, "batched": True, "batch_kernels": len(entries),
                               "batch_seconds": secs}))
    if not batch_ok:
        built = [None] * len(entries)
    for k, (j, cand, stages, att) in enumerate(entries):
        if built[k] is None:
            t = time.perf_counter()
            br = dev.build(cand.source)
            secs = time.perf_counter() - t
            j.t["build"] += secs
            built[k] = (br, stages, j.bound, {"ok": br.ok, "seconds": secs, "batched": False,
                                              "batch_failed": bool(settings.get("batch_build", True)
                                                                   and len(entries) > 1 and not batch_ok),
                                              "log": (br.log or "")[:2000] if not br.ok else ""})

    # -- validate and time
    for (j, cand, _stages, att), (br, st2, b2, info) in zip(entries, built):
        j.build = info
        if not br.ok:
            att.update(status="build_error", reason=build_reason(br.log))
            j.fail = ("COMPILE_ERROR", att["reason"])
            continue
        if settings.get("validate", True):
            t = time.perf_counter()
            try:
                rep = run_validation(dev, br, st2, b2, seeds=tuple(settings.get("seeds", (1, 2))))
            except Exception as e:  # noqa: BLE001 - a runtime refusal is a result, not a crash
                att.update(status="launch_error", reason=f"{type(e).__name__}: {e}"[:300])
                j.fail = ("RUNTIME_ERROR", att["reason"])
                j.t["validate"] += time.perf_counter() - t
                continue
            j.t["validate"] += time.perf_counter() - t
            j.validation = _compact_validation(rep.to_json())
            if not rep.ok:
                att.update(status="invalid", reason=rep.reason[:500])
                j.fail = (failure_status("invalid", rep.reason), rep.reason[:500])
                continue
            j.validated = True
        if settings.get("time", True):
            t = time.perf_counter()
            prepared = None
            try:
                prepared = dev.prepare(br, st2, b2, interpreter.random_inputs(b2, seed=3))
                j.timing = _time_launch(prepared, float(settings.get("time_budget_s", 0.02)), target)
            except Exception as e:  # noqa: BLE001
                att.update(status="launch_error", reason=f"timing: {type(e).__name__}: {e}"[:300])
                j.fail = ("RUNTIME_ERROR", att["reason"])
                j.t["time"] += time.perf_counter() - t
                continue
            finally:
                if prepared is not None:
                    prepared.release()
            j.t["time"] += time.perf_counter() - t
        j.status, j.reason = "PASSED", ""


def _run_compiled(job: _Job, dev, settings: Dict[str, Any]) -> None:
    """One job through compile_bound (targets that do not batch builds; without a device, compile-only)."""
    from ..pipeline import compile_bound
    target = job.item["target"]
    t = time.perf_counter()
    res = compile_bound(job.bound, target=target, device=dev, strategy=settings.get("strategy", "auto"),
                        validate=settings.get("validate", True), time=settings.get("time", True),
                        time_budget_s=float(settings.get("time_budget_s", 0.02)), use_cache=False)
    job.t["build"] += time.perf_counter() - t
    job.attempts += [a.to_json() for a in res.attempts]
    job.kernel = res.kernel
    job.build = {k: v for k, v in (res.build or {}).items() if k != "log"} or None
    job.validation = _compact_validation(res.validation) if res.validation else None
    job.timing = res.timing
    job.validated = bool(res.validation and res.validation.get("ok"))
    if res.ok:
        job.status, job.reason = "PASSED", res.reason if res.compile_only else ""
    else:
        last = res.attempts[-1] if res.attempts else None
        job.fail = (failure_status(last.status, last.reason) if last else "RUNTIME_ERROR", res.reason)
    if res.kernel is not None and settings.get("analysis", True):
        try:
            from ..analyze import analyze_dict
            job.analysis = analysis_summary(analyze_dict(res.kernel.source, target, job.spec))
        except Exception as e:  # noqa: BLE001
            job.analysis = {"unavailable": f"{type(e).__name__}: {e}"}


def _run_ai(job: _Job, dev, settings: Dict[str, Any]) -> None:
    """The optional LLM pass (config `ai = true`): improve() archives its own attempts."""
    from ..pipeline import CompileResult
    try:
        from ..ai.loop import improve
        baseline = CompileResult(job.spec, job.kernel, True, timing=job.timing)
        ai = {k: v for k, v in dict(settings.get("ai_settings") or {}).items() if v is not None}
        outcome = improve(job.bound, target=job.item["target"], device=dev, baseline=baseline,
                          dataset_dir=settings.get("dataset_dir"), use_cache=False, **ai)
        job.ai = {"ok": outcome.ok, "summary": outcome.summary, "speedup": outcome.speedup,
                  "session": outcome.session, "best_attempt": outcome.best_attempt,
                  "attempts": len(outcome.attempts)}
    except Exception as e:  # noqa: BLE001 - a provider problem must not lose the deterministic record
        job.ai = {"ok": False, "error": f"{type(e).__name__}: {e}"}


# ------------------------------------------------------------------ results
def _result(job: _Job, settings: Dict[str, Any], hardware: Dict[str, Any]) -> Dict[str, Any]:
    from ..dataset.cache import uir_hash
    from ..dataset.records import AttemptRecord, sha256
    from .state import now_iso
    it = job.item
    if job.error is not None:
        return {"item_id": it["item_id"], "error": job.error, "seconds": sum(job.t.values())}
    status = job.status or job.fail[0]
    reason = job.reason if job.status else job.fail[1]
    k = job.kernel
    kkey = kernel_key(k.source, job.canon_sizes if settings.get("dedup_sizes", True) else None,
                      extra=it["target"]) if k is not None else None
    spec_json = job.spec.to_json()
    median = (job.timing or {}).get("median_s")
    meas = {"median_s": median, "flops": job.spec.flops, "bytes_min": job.spec.bytes_min,
            "gflops": (job.spec.flops / median / 1e9) if median else None,
            "gbps": (job.spec.bytes_min / median / 1e9) if median else None,
            "build_s": (job.build or {}).get("seconds"),
            "validate_s": (job.validation or {}).get("seconds")}
    extra = {
        "campaign": {"name": settings.get("name"), "program_id": it["program_id"], "item_id": it["item_id"],
                     "category": it["category"], "variant": job.gen.variant, "n": it["n"], "seed": it["seed"],
                     "generator_version": GENERATOR_VERSION, "intended": job.gen.intended,
                     "lowered": job.spec.category, "group": it["grp"], "device_selector": it["device"],
                     "uir_key": it.get("uir_key"), "kernel_key": kkey, "canonical_sizes": job.canon_sizes},
        "uir": job.gen.source,
        "spec": spec_json,
        "kernel": k.to_json() if k is not None else None,
        "attempts": job.attempts,
        "analysis": job.analysis,
        "validation": job.validation,
        "timing": job.timing,
        "build": job.build,
        "measurements": meas,
        "ops": op_counts(job.gen.kernel),
        "stage_seconds": {n: round(v, 6) for n, v in job.t.items()},
    }
    if job.ai is not None:
        extra["ai"] = job.ai
    rec = AttemptRecord(
        id=it["record_id"], created=now_iso(), kernel=job.gen.name, uir_hash=uir_hash(job.bound),
        category=job.spec.category, target=it["target"], device=str(hardware.get("name") or it["device"]),
        sizes=dict(job.bound.sizes), provider="deterministic", model=(k.strategy if k is not None else ""),
        round=0, sample=0, status=status, reason=reason or "", median_s=median,
        source_hash=sha256(k.source) if k is not None else None,
        verified=bool(job.validated), session=str(settings.get("name")),
        extra=extra)
    files = {targets.get(it["target"]).file_name: k.source if k is not None else None,
             "program.uir": job.gen.source, "spec.json": job.spec.dumps() + "\n"}
    return {"item_id": it["item_id"], "status": status, "reason": reason or "", "record": rec.to_json(),
            "files": files, "kernel_key": kkey, "lowered": job.spec.category,
            "seconds": sum(job.t.values()), "stage_seconds": extra["stage_seconds"]}


# ------------------------------------------------------------------ entry points
def process_batch(items: Sequence[Dict[str, Any]], settings: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Run items that share a (target, device). Never raises for one item's failure."""
    if not items:
        return []
    target, selector = items[0]["target"], items[0]["device"]
    try:
        dev = open_device(target, selector)
        hardware = _fingerprint(target, selector, dev)
    except Exception as e:  # noqa: BLE001
        return [{"item_id": it["item_id"], "error": f"device {target}/{selector}: {type(e).__name__}: {e}"}
                for it in items]
    jobs = [_Job(dict(it)) for it in items]
    for j in jobs:
        try:
            _prepare(j, settings, hardware)
        except Exception as e:  # noqa: BLE001
            j.error = f"{type(e).__name__}: {e}\n" + traceback.format_exc(limit=3)
    live = [j for j in jobs if j.error is None]
    if not targets.get(target).batch_builds:
        for j in live:
            try:
                _run_compiled(j, dev, settings)
            except Exception as e:  # noqa: BLE001
                j.error = f"{type(e).__name__}: {e}"
    else:
        rounds = max((len(j.cands) for j in live), default=0)
        for r in range(rounds):
            try:
                _try_round(live, r, dev, settings, target)
            except Exception as e:  # noqa: BLE001 - a bug here must not lose the batch
                for j in live:
                    if j.status is None and j.error is None:
                        j.error = f"{type(e).__name__}: {e}\n" + traceback.format_exc(limit=3)
                break
    if settings.get("ai"):
        for j in live:
            if j.status == "PASSED" and j.error is None:
                _run_ai(j, dev, settings)
    out = []
    for j in jobs:
        try:
            out.append(_result(j, settings, hardware))
        except Exception as e:  # noqa: BLE001
            out.append({"item_id": j.item["item_id"], "error": f"{type(e).__name__}: {e}"})
    return out


def process_item(item: Dict[str, Any], settings: Dict[str, Any]) -> Dict[str, Any]:
    """One (program, target, device) item: the Ray task body."""
    return process_batch([item], settings)[0]
