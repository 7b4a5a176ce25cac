"""Prompts: the task (spec, ABI, @launch syntax, UIR and its meaning, device, baseline) and the
corrective feedback after a failed candidate. Templates live in ai/templates/ (string.Template,
`${name}` placeholders): system.txt, user.txt, launch_<target>.txt, target_<target>.txt,
hints_<category>.txt.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import targets
from ..lower.spec import AbiArg

__all__ = ["PromptContext", "template", "compose", "feedback", "conversation", "render_messages",
           "abi_lines", "trim", "format_seconds"]

TEMPLATES = Path(__file__).with_name("templates")
GLOSSARY = ("UIR semantics: statements run in order; `T[i, j] = e` computes e at every point of T's shape; "
            "reductions `sum/max/min/prod(v) body` run over v's range (`v in a..b` is half open), an empty range "
            "gives the identity; relu(x) = max(x, 0), sigmoid(x) = 1 / (1 + exp(-x)), rsqrt(x) = 1 / sqrt(x), "
            "select(c, a, b) = c ? a : b evaluating only the chosen side; integer / truncates toward zero and % "
            "takes the sign of the dividend; the reference accumulates in float64 and rounds results to the "
            "stored dtype (results are compared with a tolerance that grows with the reduction length).")


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def template(_template: str, **values: Any) -> str:
    """Template `_template` (a file name without .txt) with `values` substituted; '' when it does not exist."""
    try:
        text = _read(_template + ".txt")
    except OSError:
        return ""
    return Template(text).safe_substitute({k: str(v) for k, v in values.items()})


def trim(text: str, limit: int = 4000, keep_tail: int = 800) -> str:
    """At most `limit` characters: the head and the tail, with a marker in between."""
    text = text or ""
    if len(text) <= limit:
        return text
    head = max(0, limit - keep_tail - 40)
    return text[:head] + f"\n[... {len(text) - head - keep_tail} characters trimmed ...]\n" + text[-keep_tail:]


def format_seconds(s: Optional[float]) -> str:
    if s is None:
        return "unknown"
    if s >= 1e-3:
        return f"{s * 1e3:.4g} ms"
    return f"{s * 1e6:.4g} us"


@dataclass
class PromptContext:
    """Everything a prompt says about the task; built once per improve() run."""
    spec: Any  # KernelSpec
    target: str
    abi: Sequence[Any]  # AbiArg, in order (spec.abi); the target writes their C types
    temps: Sequence[Any] = ()  # TensorSpec of the temporaries
    size_symbols: Sequence[str] = ()
    hardware: Mapping[str, Any] = field(default_factory=dict)
    baseline_strategy: Optional[str] = None
    baseline_params: Mapping[str, Any] = field(default_factory=dict)
    baseline_source: Optional[str] = None
    baseline_s: Optional[float] = None
    dataset_best_s: Optional[float] = None
    dataset_best_source: Optional[str] = None
    checks_only: str = ""  # why candidates are only analysed/compiled, not run

    @property
    def language(self) -> str:
        return targets.get(self.target).language

    @property
    def fence(self) -> str:
        return targets.get(self.target).fence


def abi_lines(ctx: PromptContext) -> str:
    spec = ctx.spec
    shapes = {t.name: t for t in list(spec.inputs) + list(spec.outputs) + list(ctx.temps)}
    tgt = targets.get(ctx.target)
    rows = []
    for i, a in enumerate(ctx.abi):
        t = shapes.get(a.name)
        if a.kind in ("input", "output"):
            what = f"{a.kind} tensor {a.name}: {a.dtype}[{', '.join(t.dims)}]" if t else f"{a.kind} {a.name}"
            if t:
                what += f" = {a.dtype}[{', '.join(map(str, t.shape))}] at the requested sizes"
        elif a.kind == "scalar":
            what = f"scalar {a.name} ({a.dtype}), passed by value"
        else:
            what = f"size {a.name} (= {spec.sizes.get(a.name)} at the requested sizes, different in the tests)"
        sep = "," if i < len(ctx.abi) - 1 else ")"
        rows.append(f"    {tgt.abi_decl(a)} {a.name}{sep}".ljust(44) + f"  // {i + 1}. {what}")
    text = f"{tgt.kernel_qualifier} {spec.name}(\n" + "\n".join(rows) + ("" if rows else ")")
    if ctx.temps and ctx.target in targets.c_style():  # C-style kernels may take them as arguments
        names = ", ".join(f"{tgt.abi_decl(AbiArg(x.name, 'temp', x.dtype))} {x.name}" for x in ctx.temps)
        text += ("\nThe program's temporaries (" + ", ".join(x.name for x in ctx.temps) + ") need not exist: keep "
                 "them in registers or local memory. A kernel that needs them in global memory takes all of them, "
                 f"in this order, between the outputs and the sizes: {names}.")
    text += (f"\nEvery kernel (stage) takes this same argument list. The entry kernel, `{spec.name}`, is the last "
             "annotated kernel in the source.")
    return text


def _meaning(spec) -> str:
    lines = []
    dims = {t.name: t.dims for t in list(spec.inputs) + list(spec.outputs) + list(spec.temps)}
    for s in spec.statements:
        sym = dims.get(s.target, ())
        ranges = ", ".join(f"{v} in 0..{sym[j]} (= {n} here)" if j < len(sym) and sym[j] != str(n)
                           else f"{v} in 0..{n}" for j, (v, n) in enumerate(s.indices)) or "once (0-d)"
        line = f"- `{s.text}` for every {ranges}"
        for r in s.reductions:
            vs = ", ".join(f"{v} in {lo}..{hi}" for v, lo, hi in r["vars"])
            line += f"; `{r['op']}` over {vs}"
        lines.append(line + f" ({s.flops} flops)")
    lines.append(GLOSSARY)
    return "\n".join(lines)


def _tensors(spec, temps) -> str:
    rows = []
    for role, ts in (("input", spec.inputs), ("output", spec.outputs), ("temporary", temps)):
        for t in ts:
            rows.append(f"- {role} {t.name}: {t.dtype}[{', '.join(t.dims)}] = [{', '.join(map(str, t.shape))}]")
    for name, dtype in spec.scalars:
        rows.append(f"- scalar {name}: {dtype}")
    rows.append(f"Work: {spec.flops} flops, at least {spec.bytes_min} bytes moved "
                f"(arithmetic intensity {spec.arithmetic_intensity:.3g} flop/byte).")
    return "\n".join(rows)


def _device(hw: Mapping[str, Any], target: str, checks_only: str) -> str:
    if not hw:
        return f"No {target} device here. " + checks_only
    keys = [("name", "name"), ("device_type", "type"), ("vendor", "vendor"), ("compute_units", "compute units"),
            ("max_clock_mhz", "max clock MHz"), ("max_work_group_size", "max work-group size"),
            ("max_work_item_sizes", "max work-item sizes"), ("local_mem_bytes", "local memory bytes"),
            ("global_mem_cache_bytes", "global cache bytes"), ("global_mem_cacheline_bytes", "cache line bytes"),
            ("preferred_vector_width", "preferred vector widths"), ("fp16", "fp16"), ("fp64", "fp64"),
            ("compute_capability", "compute capability"), ("multiprocessors", "multiprocessors"),
            ("warp_size", "warp size"), ("shared_mem_per_block", "shared memory per block")]
    out = [f"- {label}: {json.dumps(hw[k]) if isinstance(hw[k], (dict, list)) else hw[k]}"
           for k, label in keys if hw.get(k) is not None]
    if checks_only:
        out.append(f"- note: {checks_only}")
    return "\n".join(out)


def _constraints(spec) -> str:
    sc = {k: v for k, v in (spec.schedule_constraints or {}).items() if v is not None}
    if not sc:
        return ""
    return "Schedule constraints: " + ", ".join(f"{k} = {v}" for k, v in sc.items()) + "\n"


def _baseline(ctx: PromptContext) -> str:
    parts = []
    if ctx.baseline_strategy == "ai":
        parts.append("The current kernel (below) is an earlier LLM kernel that passed every check.")
    elif ctx.baseline_strategy:
        params = ", ".join(f"{k}={v}" for k, v in ctx.baseline_params.items())
        parts.append(f"The deterministic compiler chose strategy `{ctx.baseline_strategy}`"
                     + (f" with tuned parameters {params}" if params else "") + ".")
    if ctx.baseline_s is not None:
        parts.append(f"It runs in {format_seconds(ctx.baseline_s)} (median device time) at the requested sizes "
                     "on this device.")
    else:
        parts.append("Its time on this device is not known (no device to time on).")
    if ctx.dataset_best_s is not None:
        parts.append(f"The best kernel known for this device and shape runs in {format_seconds(ctx.dataset_best_s)}.")
    goal = min([t for t in (ctx.baseline_s, ctx.dataset_best_s) if t is not None], default=None)
    if goal is not None:
        parts.append(f"Your kernel must be correct and faster than {format_seconds(goal)}.")
    return " ".join(parts)


def _prior(ctx: PromptContext) -> str:
    out = []
    if ctx.baseline_source:
        what = "current" if ctx.baseline_strategy == "ai" else "deterministic"
        out.append(f"## The {what} kernel (correct; a starting point)\n```{ctx.fence}\n"
                   f"{trim(ctx.baseline_source.strip(), 6000)}\n```")
    if ctx.dataset_best_source and ctx.dataset_best_source != ctx.baseline_source:
        out.append(f"## The fastest known kernel (correct)\n```{ctx.fence}\n"
                   f"{trim(ctx.dataset_best_source.strip(), 6000)}\n```")
    return "\n\n".join(out) + ("\n" if out else "")


def compose(ctx: PromptContext) -> List[Dict[str, str]]:
    """The first messages of a conversation: [system, user]."""
    spec = ctx.spec
    values = dict(language=ctx.language, fence=ctx.fence, name=spec.name, category=spec.category,
                  size_symbols=", ".join(ctx.size_symbols) or "none",
                  example_size=ctx.size_symbols[0] if ctx.size_symbols else "1024")
    system = template("system", **values)
    hints = template(f"hints_{spec.category}", **values).strip()
    target_notes = template(f"target_{ctx.target}", **values).strip()
    hint_text = "\n".join(x for x in (hints, target_notes) if x)
    user = template(
        "user", **values, uir=spec.uir.strip(), meaning=_meaning(spec),
        sizes=", ".join(f"{k}={v}" for k, v in spec.sizes.items()) or "none",
        tensors=_tensors(spec, ctx.temps), abi=abi_lines(ctx), launch=template(f"launch_{ctx.target}", **values).strip(),
        device=_device(ctx.hardware, ctx.target, ctx.checks_only), constraints=_constraints(spec),
        baseline=_baseline(ctx), hints=("\n## Hints\n" + hint_text + "\n") if hint_text else "",
        prior=_prior(ctx))
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]


# ------------------------------------------------------------------ feedback
def _sizes(s: Optional[Mapping[str, int]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in (s or {}).items()) or "the requested sizes"


def feedback(status: str, details: Mapping[str, Any], ctx: PromptContext) -> str:
    """What went wrong with the previous candidate, and what to do about it."""
    d = details or {}
    fence = ctx.fence
    if status == "NO_CODE":
        return (f"Your reply held no usable kernel code ({d.get('reason') or 'no fenced code block'}). Reply with the "
                f"complete kernel `{ctx.spec.name}` in one ```{fence} block.")
    if status == "ANALYSIS_REJECTED":
        findings = d.get("findings") or []
        rows = "\n".join(f"- {f}" for f in findings[:20]) or f"- {d.get('reason', '')}"
        return ("The static analyzer rejected your kernel; nothing was compiled. Findings:\n" + rows +
                "\nFix every error and reply with the complete corrected kernel.")
    if status == "COMPILE_ERROR":
        log = trim((d.get("log") or d.get("reason") or "").strip(), 3000, 600)
        return (f"Your kernel did not compile. The compiler said:\n```\n{log}\n```\n"
                "Fix the errors and reply with the complete corrected kernel.")
    if status == "TIMEOUT":
        return (f"Your kernel did not finish within {d.get('timeout_s', '?')} s ({d.get('where') or 'while running'}); "
                "the process was killed. Look for loops that never end (wrong bounds or steps), and barriers "
                "that not every work-item reaches. Reply with the complete corrected kernel.")
    if status == "OUT_OF_BOUNDS":
        return (f"Your kernel wrote outside its buffers at sizes {_sizes(d.get('sizes'))}: {d.get('reason', '')}. "
                "Guard every store (and load) with the size arguments; remember the sizes are not multiples of your "
                "tile or vector width. Reply with the complete corrected kernel.")
    if status == "INCORRECT":
        where = d.get("mismatch") or {}
        extra = ""
        if where:
            extra = ("\nLargest errors: " + ", ".join(f"{k} max abs err {v.get('max_abs_err')}, max rel err "
                                                     f"{v.get('max_rel_err')}" for k, v in where.items()))
        return (f"Your kernel computed wrong results at sizes {_sizes(d.get('sizes'))} (fresh random inputs): "
                f"{d.get('reason', '')}{extra}\nThe UIR program is the reference. Check the indexing, the tails "
                "past the last full tile or vector, and that nothing depends on one particular size. Reply with the "
                "complete corrected kernel.")
    if status == "RUNTIME_ERROR":
        return (f"Your kernel built but failed to run: {d.get('reason', '')}. Check the argument list against the ABI "
                "and the @launch geometry against the device limits. Reply with the complete corrected kernel.")
    if status in ("SLOWER", "PASSED"):
        t, b = d.get("median_s"), d.get("baseline_s")
        ratio = f" ({b / t:.2f}x the baseline's speed)" if t and b else ""
        head = ("Your kernel is correct but slower than the baseline" if status == "SLOWER"
                else "Your kernel is correct and faster than the baseline")
        return (f"{head}: {format_seconds(t)} against {format_seconds(b)}{ratio}. Make it faster still (better "
                "memory access, more work per work-item, vectorisation, tiling) while keeping it correct. Reply with "
                "the complete kernel.")
    return f"The previous attempt failed ({status}: {d.get('reason', '')}). Reply with the complete kernel."


def conversation(base: Sequence[Mapping[str, str]], last_reply: Optional[str], feedback_text: Optional[str]
                 ) -> List[Dict[str, str]]:
    """The messages for a follow-up: the task, the previous answer (trimmed), and the feedback."""
    msgs = [dict(m) for m in base]
    if feedback_text:
        if last_reply:
            msgs.append({"role": "assistant", "content": trim(last_reply, 12000, 4000)})
            msgs.append({"role": "user", "content": feedback_text})
        else:  # no answer to reply to: one user turn, task then feedback
            msgs[-1] = dict(msgs[-1], content=msgs[-1]["content"] + "\n\n## Feedback on a previous attempt\n"
                            + feedback_text)
    return msgs


def render_messages(messages: Sequence[Mapping[str, str]]) -> str:
    """The messages as plain text, for prompt.txt."""
    return "\n\n".join(f"===== {m.get('role', '?')} =====\n{m.get('content', '')}" for m in messages) + "\n"
