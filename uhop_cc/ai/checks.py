"""The checks a candidate goes through: pre-check and static analysis (in this process, on the
text only), then build + micro-tests + profiling in a child process with a time limit.

Nothing here hands a source to a compiler before `static_checks` accepted it.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import targets
from ..verify.judge import check_candidate
from .extract import split_roles

__all__ = ["Finding", "StaticResult", "precheck", "static_checks", "choose_shapes", "check_candidate", "UNTRUSTED_ERRORS",
           "uses_atomics",
           "CheckOutcome", "run_checks", "offline_check", "nvrtc_check", "ttmetal_check", "MAX_SOURCE_BYTES"]

MAX_SOURCE_BYTES = 256 * 1024
SMALL_ELEMENTS = 1 << 18  # the requested shape is validated when all its tensors hold fewer elements ...
SMALL_FLOPS = 50_000_000  # ... and it costs fewer flops than this
RANDOM_ELEMENTS = 1 << 16  # budget of a random test shape (all tensors)
_CAPS = {1: 3000, 2: 120, 3: 48, 4: 20}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    line: int = 0
    col: int = 0
    severity: str = "error"
    source: str = "precheck"  # precheck, launch, analyzer

    def __str__(self) -> str:
        where = f"line {self.line}" + (f":{self.col}" if self.col else "") + ": " if self.line else ""
        return f"{where}{self.severity} [{self.code}] {self.message}"

    def to_json(self) -> Dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line, "col": self.col,
                "severity": self.severity, "source": self.source}


@dataclass
class StaticResult:
    ok: bool
    findings: List[Finding] = field(default_factory=list)
    analyzer: str = "unavailable"  # 'ran', 'unavailable: ...', 'failed: ...'
    report: Optional[Dict[str, Any]] = None  # the analyzer's to_json()
    stages: Any = None  # parsed @launch stages (C-style targets)
    seconds: float = 0.0
    source: Optional[str] = None  # what the compiler gets: the preprocessed source (untrusted C-style sources)

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "analyzer": self.analyzer, "findings": [f.to_json() for f in self.findings],
                "seconds": self.seconds}


# ------------------------------------------------------------------ pre-check
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*([A-Za-z_]\w*)[ \t]*(.*)$", re.M)
_FILE_DIRECTIVES = ("include", "include_next", "import", "embed")


def _logical_lines(source: str) -> str:
    return re.sub(r"\\\r?\n", "", source)


def precheck(source: str, target: str) -> List[Finding]:
    """Our own safety rules, always applied (before and besides the analyzer)."""
    t = targets.get(target)
    out: List[Finding] = []
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        return [Finding("safety.size", f"the source is larger than {MAX_SOURCE_BYTES} bytes")]
    if "\x00" in source:
        out.append(Finding("safety.nul", "the source holds NUL characters"))
    text = _logical_lines(source)
    line_of = lambda pos: text.count("\n", 0, pos) + 1  # noqa: E731
    if re.search(r"\?\?[=/'()!<>\-]", text):
        out.append(Finding("safety.trigraph", "trigraphs are not allowed"))
    if re.search(r"%:\s*(?:%:)?\s*(include|include_next|import|embed)\b", text):
        out.append(Finding("safety.digraph", "digraph preprocessor directives (%:include) are not allowed"))
    for m in _DIRECTIVE.finditer(text):
        name, rest = m.group(1), m.group(2).strip()
        if name not in _FILE_DIRECTIVES:
            continue
        ln = line_of(m.start())
        header = re.match(r'^(<[^>]*>|"[^"]*")', rest)
        h = header.group(1) if header else rest
        if name == "include" and header and t.include_allowed(h):
            continue
        out.append(Finding("safety.include", f"`#{name} {h}` is not allowed{t.include_note}", ln))
    if re.search(r"__has_include|__has_embed|\b_Pragma\s*\(\s*\"\s*(?:GCC|clang)?\s*(?:system_header|include)", text):
        out.append(Finding("safety.include", "__has_include / __has_embed / include pragmas are not allowed"))
    if not t.allows_asm:
        for m in re.finditer(r"\b(__asm__|__asm|asm)\b\s*(volatile\b|__volatile__\b)?\s*[({]", text):
            out.append(Finding("safety.asm", "inline assembly is not allowed", line_of(m.start())))
    return out


# findings that are warnings for our own kernels but errors for untrusted ones
UNTRUSTED_ERRORS = frozenset({"sync.local-race", "sync.barrier-divergent"})


def static_checks(source: str, target: str, spec=None, *, untrusted: bool = True) -> StaticResult:
    """The pre-check, the preprocessor (untrusted C-style sources: analysed and compiled as
    expanded, see analyze/preprocess.py), the @launch annotations and the C++ analyzer."""
    t0 = time.perf_counter()
    res = StaticResult(True, source=source)
    res.findings.extend(precheck(source, target))
    fatal = any(f.code in ("safety.size", "safety.nul") for f in res.findings)
    c_style = target in targets.c_style()  # preprocessed, and annotated with @launch lines
    if untrusted and c_style and not fatal:
        from ..analyze.preprocess import expand
        ex = expand(source, target)
        res.findings.extend(Finding(c, m, ln, col, "error", "preprocess") for c, m, ln, col in ex.findings)
        if ex.ok:
            kept = "".join(m.group(0) + "\n" for m in re.finditer(r"^[ \t]*#[ \t]*include[ \t]*<[^>\n]*>[ \t]*$",
                                                                    source, re.M))
            res.source = kept + ex.text
        else:
            fatal = True
    if c_style and not fatal:
        from ..codegen.launch import LaunchError, parse_launch
        try:
            res.stages = parse_launch(res.source)
            if spec is not None and res.stages and res.stages[-1].kernel_name != spec.name:
                res.findings.append(Finding("abi.entry", f"the last annotated kernel is "
                                            f"`{res.stages[-1].kernel_name}`; the entry kernel must be the last one "
                                            f"and be named `{spec.name}`", source="launch"))
        except LaunchError as e:
            res.findings.append(Finding("launch.annotation", str(e), source="launch"))
    if not fatal:
        _run_analyzer(res, target, spec, untrusted)
    res.ok = not res.errors
    res.seconds = time.perf_counter() - t0
    return res


def _run_analyzer(res: StaticResult, target: str, spec, untrusted: bool) -> None:
    try:
        from ..analyze import analyze  # the C++ analyzer, when built
    except ImportError as e:
        res.analyzer = f"unavailable: {e}"
        return
    where = "analyzer" if res.source is None or not untrusted else "analyzer (on the preprocessed source)"
    try:
        report = analyze(res.source, target=target, spec=spec)
    except Exception as e:  # noqa: BLE001 - an analyzer bug must not pass for a kernel error
        res.analyzer = f"failed: {type(e).__name__}: {e}"
        res.findings.append(Finding("analyzer.failed", f"the analyzer failed: {type(e).__name__}: {e}",
                                    source="analyzer"))
        return
    res.analyzer = "ran"
    res.report = report.to_json() if hasattr(report, "to_json") else None
    for f in list(getattr(report, "errors", ())) + list(getattr(report, "warnings", ())):
        sev = str(getattr(f, "severity", "error") or "error").lower()
        sev = "error" if sev.startswith("err") else "warning" if sev.startswith("warn") else sev
        code = str(getattr(f, "code", "analyzer"))
        if untrusted and code in UNTRUSTED_ERRORS:
            sev = "error"
        res.findings.append(Finding(code, str(getattr(f, "message", f)), int(getattr(f, "line", 0) or 0),
                                    int(getattr(f, "col", 0) or 0), sev, where))
    if hasattr(report, "ok") and not report.ok and not any(x.source.startswith("analyzer") and x.severity == "error"
                                                          for x in res.findings):
        res.findings.append(Finding("analyzer", "the analyzer rejected the kernel", source="analyzer"))


# ------------------------------------------------------------------ test shapes
def _elements(bound) -> int:
    n = 0
    for shape in bound.shapes.values():
        k = 1
        for d in shape:
            k *= int(d)
        n += k
    return n


def _outputs_nonempty(bound) -> bool:
    return all(all(int(d) > 0 for d in bound.shapes[p.name]) for p in bound.checked.outputs)


def _flops(bound) -> int:
    try:
        from ..lower import build_spec
        return int(build_spec(bound).flops)
    except Exception:  # noqa: BLE001
        return 0


def small_enough(bound) -> bool:
    return _elements(bound) <= SMALL_ELEMENTS and _flops(bound) <= SMALL_FLOPS


def _pick(rng: random.Random, lo: int, hi: int) -> int:
    lo, hi = max(1, lo), max(1, hi)
    if hi < lo:
        lo, hi = hi, lo
    for _ in range(20):
        v = rng.randint(lo, hi)
        if v % 16:
            return v
    v = rng.randint(lo, hi)
    return v + 1 if v % 16 == 0 else v


def choose_shapes(checked, requested: Mapping[str, int], rng: random.Random, n_random: int = 2
                  ) -> List[Tuple[str, Dict[str, int]]]:
    """(label, sizes) to validate on: the requested sizes when small enough, then `n_random` random
    ones (one below and one above the requested sizes where the budget allows), with sizes that are
    not multiples of 16, that bind (the program's constraints hold) and give non-empty outputs."""
    from .. import ir
    out: List[Tuple[str, Dict[str, int]]] = []
    req = {k: int(v) for k, v in requested.items()}
    try:
        if small_enough(ir.bind_shapes(checked, req)):
            out.append(("requested", dict(req)))
    except Exception:  # noqa: BLE001
        pass
    syms = list(checked.sizes)
    cap0 = _CAPS.get(len(syms), 12)
    for k in range(n_random):
        variant = "below" if k % 2 == 0 else "above"
        found = None
        for attempt in range(80):
            cap = max(2, int(cap0 / (1.5 ** (attempt // 10))))
            sizes = {}
            for s in syms:
                r = req.get(s, 16)
                if variant == "below":
                    sizes[s] = _pick(rng, max(1, min(3, r - 1)), min(r - 1, cap)) if r > 1 else _pick(rng, 1, cap)
                else:
                    sizes[s] = _pick(rng, r + 1, max(r + 1, cap)) if r < cap else _pick(rng, max(1, cap // 2), cap)
            if sizes == req or any(sizes == o for _, o in out):
                continue
            try:
                b = ir.bind_shapes(checked, sizes)
            except Exception:  # noqa: BLE001 - the constraints do not hold for these sizes
                continue
            if _elements(b) > RANDOM_ELEMENTS or not _outputs_nonempty(b):
                continue
            found = sizes
            break
        if found is not None:
            out.append((f"random-{variant}", found))
    hidden = _hidden_shape(checked, req, rng, [o for _, o in out])
    if hidden is not None:
        out.append(("hidden", hidden))
    if not out:
        out.append(("requested", dict(req)))
    return out


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 127,
           131, 257, 521, 1031, 2053)


def _hidden_shape(checked, req: Mapping[str, int], rng: random.Random, taken) -> Optional[Dict[str, int]]:
    """A shape the LLM is never shown (feedback names it 'a hidden test shape'): primes, so no tile
    divides it, and in every other attempt one size at 1."""
    from .. import ir
    syms = list(checked.sizes)
    cap0 = _CAPS.get(len(syms), 12)
    for attempt in range(60):
        cap = max(2, int(cap0 / (1.5 ** (attempt // 12))))
        primes = [p for p in _PRIMES if p <= cap] or [2]
        sizes = {s: rng.choice(primes) for s in syms}
        if syms and attempt % 2:
            sizes[rng.choice(syms)] = 1
        if sizes == dict(req) or sizes in taken:
            continue
        try:
            b = ir.bind_shapes(checked, sizes)
        except Exception:  # noqa: BLE001 - the program's constraints do not hold here
            continue
        if _elements(b) <= RANDOM_ELEMENTS and _outputs_nonempty(b):
            return sizes
    return None


# ------------------------------------------------------------------ the child (verify/judge.py)
def clean_log(log: str, file_name: str = "kernel.cl") -> str:
    """Compiler logs name temporary files (PoCL: ~/.cache/pocl/kcache/tempfile_XXXX.cl): call it kernel.cl."""
    return re.sub(r"(?:[^\s:'\"]*/)?(?:tempfile|kernel|source)[\w.-]*\.(?:cl|cu)\b", file_name, log or "")


# ------------------------------------------------------------------ the parent side
@dataclass
class CheckOutcome:
    status: Optional[str]  # None when every check passed (PASSED/SLOWER is decided by the caller)
    reason: str = ""
    details: Dict[str, Any] = field(default_factory=dict)  # for feedback and metadata
    timing: Optional[Dict[str, Any]] = None
    validation: Optional[Dict[str, Any]] = None
    seconds: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "details": self.details, "timing": self.timing,
                "seconds": self.seconds}


def _first_error_line(log: str) -> str:
    lines = [ln.strip() for ln in (log or "").splitlines() if ln.strip()]
    return next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "build failed")


def _work_bytes(uir_source: str, kernel_name: str, shapes, requested) -> int:
    """Bytes of tensors of the largest shape the child handles (for its memory limit)."""
    from .. import ir
    try:
        checked = ir.select_kernel(ir.load(uir_source), kernel_name)
        sizes = [dict(requested)] + [dict(s) for _, s in shapes]
        return max(4 * sum(int(np.prod(sh, dtype=np.int64)) for sh in ir.bind_shapes(checked, z).shapes.values())
                   for z in sizes)
    except Exception:  # noqa: BLE001 - the child reports the real problem
        return 0


def run_checks(source: str, uir_source: str, kernel_name: str, target: str,
               shapes: Sequence[Tuple[str, Mapping[str, int]]], requested: Mapping[str, int], *,
               seeds: Sequence[int], timeout_s: float, time_it: bool = True, budget_s: float = 1.0,
               device_index: Any = None, peaks: Optional[Mapping[str, Any]] = None,
               guard_bytes: Optional[int] = None, deterministic: bool = True) -> CheckOutcome:
    """verify.judge.check_candidate in a child process under resource limits, its end turned
    into a status. Failures at the hidden shape never name its sizes (they feed the LLM)."""
    from ..verify.sandbox import limits, run_isolated
    fd, progress = tempfile.mkstemp(prefix="uhop-ai-check-", suffix=".txt")
    os.close(fd)
    lim = limits(_work_bytes(uir_source, kernel_name, shapes, requested), timeout_s)
    if targets.get(target).runs_sanitizer:
        from ..verify.sanitizer import memcheck
        status, why = memcheck({"source": source, "uir_source": uir_source, "kernel_name": kernel_name,
                                "target": target, "shapes": [(l, dict(s)) for l, s in shapes],
                                "requested": dict(requested), "seeds": list(seeds), "device_index": device_index,
                                "deterministic": deterministic}, timeout_s * 10)
        if status is not None:
            return CheckOutcome(status, why, {"labels": [l for l, _ in shapes], "sanitizer": True})
    try:
        r = run_isolated(check_candidate, source, uir_source, kernel_name, target,
                         [(l, dict(s)) for l, s in shapes], dict(requested), seeds=list(seeds), time_it=time_it,
                         budget_s=budget_s, progress_path=progress, device_index=device_index, timeout_s=timeout_s,
                         peaks=dict(peaks) if peaks else None, guard_bytes=guard_bytes, deterministic=deterministic,
                         resource_limits=lim)
        try:
            where = Path(progress).read_text().strip()
        except OSError:
            where = ""
    finally:
        try:
            os.unlink(progress)
        except OSError:
            pass
    base = {"shapes": [dict(s) for l, s in shapes if l != "hidden"], "labels": [l for l, _ in shapes],
            "seeds": list(seeds), "where": where, "child_seconds": round(r.seconds, 3), "limits": lim.to_json()}
    return _outcome(r, base, target, timeout_s, where, lim)


def _outcome(r, base: Dict[str, Any], target: str, timeout_s: float, where: str, lim) -> CheckOutcome:
    if r.status == "timeout":
        return CheckOutcome("TIMEOUT", f"no result within {timeout_s:g} s ({where or 'starting'}); the child was killed",
                            dict(base, timeout_s=timeout_s), seconds=r.seconds)
    memory = "MemoryError" in (r.error or "") or "bad_alloc" in (r.error or "")
    if r.status == "crashed":
        if r.signal in ("SIGSEGV", "SIGBUS"):
            return CheckOutcome("OUT_OF_BOUNDS", f"the checking process died of {r.signal} while {where}: an invalid "
                                "memory access", dict(base, signal=r.signal), seconds=r.seconds)
        if r.signal in ("SIGXCPU", "SIGKILL", "SIGABRT") or memory:
            why = {"SIGXCPU": f"its CPU limit ({lim.cpu_s} s)"}.get(r.signal, "its memory limit "
                                                                           f"({lim.to_json()['memory_mb']} MB) or a "
                                                                           "fatal error")
            status = "COMPILE_ERROR" if where == "compiling" else "RUNTIME_ERROR"
            return CheckOutcome(status, f"the checking process was stopped ({r.signal}) while {where or 'starting'}: "
                                f"{why}", dict(base, signal=r.signal), seconds=r.seconds)
        status = "COMPILE_ERROR" if where == "compiling" else "RUNTIME_ERROR"
        return CheckOutcome(status, f"{r.error} while {where or 'starting'}", dict(base, signal=r.signal),
                            seconds=r.seconds)
    if r.status == "error":
        last = (r.error or "").strip().splitlines()[-1:] or ["error"]
        status = "COMPILE_ERROR" if where == "compiling" else "RUNTIME_ERROR"
        note = f" (out of the child's {lim.to_json()['memory_mb']} MB memory limit)" if memory else ""
        return CheckOutcome(status, f"{last[0]}{note} (while {where or 'starting'})",
                            dict(base, traceback=r.error[-4000:]), seconds=r.seconds)
    v = r.value or {}
    base["build_s"] = (v.get("build") or {}).get("seconds")
    if v.get("stage") == "launch":
        return CheckOutcome("ANALYSIS_REJECTED", v.get("reason", ""), base, seconds=r.seconds)
    if v.get("stage") == "build":
        log = clean_log(v.get("log", ""), targets.get(target).file_name)
        return CheckOutcome("COMPILE_ERROR", _first_error_line(log), dict(base, log=log), seconds=r.seconds)
    validation = {"shapes": [_hide(x) for x in v.get("shapes", [])], "sanity": v.get("sanity")}
    if not v.get("ok"):
        return _failure(v.get("failed") or {}, base, validation, r.seconds)
    if v.get("suspicious"):
        return CheckOutcome("SUSPICIOUS", v["suspicious"], base, timing=v.get("timing"), validation=validation,
                            seconds=r.seconds)
    return CheckOutcome(None, "", base, timing=v.get("timing"), validation=validation, seconds=r.seconds)


def _hide(rep: Dict[str, Any]) -> Dict[str, Any]:
    """A shape's report as it may reach the LLM: the hidden shape's sizes kept out."""
    if rep.get("label") != "hidden":
        return rep
    return dict(rep, sizes=None, hidden_sizes=rep.get("sizes"))


def _failure(f: Dict[str, Any], base: Dict[str, Any], validation, seconds: float) -> CheckOutcome:
    reason = f.get("reason", "validation failed")
    hidden = f.get("label") == "hidden"
    det = dict(base, sizes=None if hidden else f.get("sizes"), label=f.get("label"), reason=reason)
    if hidden:
        det["hidden_sizes"] = f.get("sizes")
    mism = {k: {"max_abs_err": o.get("max_abs_err"), "max_rel_err": o.get("max_rel_err"),
                "first_mismatch": o.get("first_mismatch")}
            for k, o in (f.get("outputs") or {}).items() if not o.get("ok", True)}
    if mism:
        det["mismatch"] = mism
    if f.get("oob"):
        status = "OUT_OF_BOUNDS"
    elif re.match(r"(ABI error|launch failed|bad inputs|reference interpreter failed)", reason):
        status = "RUNTIME_ERROR"
    else:
        status = "INCORRECT"
    at = "a hidden test shape" if hidden else ", ".join(f"{k}={x}" for k, x in (f.get("sizes") or {}).items())
    return CheckOutcome(status, f"at {at}: {reason}" if at else reason, det, validation=validation, seconds=seconds)


# ------------------------------------------------------------------ compile-only checks
def offline_check(source: str, target: str) -> Tuple[CheckOutcome, Optional[str]]:
    """Where nothing runs the candidate: the target's compile-only check (NVRTC for CUDA, the
    structure rules and a syntax check for TT-Metal) and the tool's name, or 'analysed only'."""
    kind = targets.get(target).offline_check
    if kind == "nvrtc":
        return nvrtc_check(source), "nvrtc"
    if kind == "syntax":
        return ttmetal_check(split_roles(source)), "g++ -fsyntax-only"
    return CheckOutcome(None, "analysed only"), None


def nvrtc_check(source: str) -> CheckOutcome:
    """CUDA without a GPU: NVRTC compiles the kernel (in a child: a compiler crash is a status)."""
    from ..verify.sandbox import run_isolated
    r = run_isolated(_nvrtc_child, source, timeout_s=120)
    if r.status == "timeout":
        return CheckOutcome("TIMEOUT", "NVRTC did not finish in 120 s", seconds=r.seconds)
    if r.status != "ok":
        return CheckOutcome("COMPILE_ERROR", (r.error or "NVRTC failed").strip().splitlines()[-1], seconds=r.seconds)
    ok, log = r.value
    if not ok:
        return CheckOutcome("COMPILE_ERROR", _first_error_line(log), {"log": log}, seconds=r.seconds)
    return CheckOutcome(None, "compiled with NVRTC", {"log": log}, seconds=r.seconds)


def _nvrtc_child(source: str):
    from ..targets.cuda.runtime import nvrtc_compile
    b = nvrtc_compile(source)
    return bool(b.ok), b.log or ""


def ttmetal_check(sources: Mapping[str, str]) -> CheckOutcome:
    """TT-Metal without hardware: the structure rules and g++ -fsyntax-only against the bundled SDK
    declarations, per kernel with its processor's defines."""
    t0 = time.perf_counter()
    try:
        from ..targets.ttmetal.checks import DECLS_DIR, check_structure
    except Exception as e:  # noqa: BLE001
        return CheckOutcome("COMPILE_ERROR", f"the TT-Metal checks are unavailable: {e}")
    missing = [r for r in ("reader", "compute", "writer") if r not in sources]
    if missing:
        return CheckOutcome("NO_CODE", f"missing TT-Metal kernel(s): {', '.join(missing)}")
    problems = check_structure(dict(sources))
    if problems:
        return CheckOutcome("ANALYSIS_REJECTED", "; ".join(problems[:5]), {"findings": problems})
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        return CheckOutcome(None, "structure checked; no C++ compiler for the syntax check",
                            seconds=time.perf_counter() - t0)
    logs = []
    with tempfile.TemporaryDirectory(prefix="uhop-ai-tt-") as d:
        runs = [("reader", ["-DCOMPILE_FOR_NCRISC"]), ("writer", ["-DCOMPILE_FOR_BRISC"])]
        runs += [("compute", ["-DCOMPILE_FOR_TRISC", f"-DTRISC_{s}"]) for s in ("UNPACK", "MATH", "PACK")]
        for role, defs in runs:
            f = Path(d) / f"{role}.cpp"
            f.write_text(sources[role])
            argv = [cxx, "-std=c++17", "-fsyntax-only", f"-I{DECLS_DIR / 'device'}", f"-I{DECLS_DIR / 'common'}",
                    "-DARCH_WORMHOLE", *defs, str(f)]
            try:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                return CheckOutcome("TIMEOUT", f"g++ -fsyntax-only of the {role} kernel took over 60 s")
            if p.returncode:
                log = (p.stdout + p.stderr).replace(d + "/", "")
                logs.append(f"{role} ({' '.join(defs)}):\n{log}")
                return CheckOutcome("COMPILE_ERROR", f"{role}: {_first_error_line(log)}", {"log": "\n".join(logs)},
                                    seconds=time.perf_counter() - t0)
    return CheckOutcome(None, "structure and syntax checked (no TT-Metal hardware to run on)",
                        seconds=time.perf_counter() - t0)


def uses_atomics(source: str) -> bool:
    """Float atomics may sum in any order: two runs then agree within the bounds, not bitwise."""
    return bool(re.search(r"\batomic\w*\s*\(|\batom_\w+\s*\(", source))
