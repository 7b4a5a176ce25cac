"""What a dataset holds: distributions, coverage, complexity, quality (`uhopc dataset analyze`).

    from uhop_cc.dataset.analyze import analyze_dataset, render_text, render_html
    report = analyze_dataset("campaign-out")       # a dataset or a campaign directory
    print(render_text(report))
    render_html(report, "report.html")              # PNG plots embedded when matplotlib is installed

The report: category distribution (the campaign's categories, and the lowering categories),
status counts and success rate per category with the most common failure reasons, pattern
coverage from the static analyzer (barriers, local memory, vector loads and stores, atomics,
strided and irregular access, private arrays, multi-stage kernels, finding codes), complexity
(kernel source and UIR lengths: min, max, mean, median), operation frequency in the UIR,
strategies, targets, devices and dtypes. Records archived without an analysis (e.g. by the AI
loop) are analysed on the fly when the analyzer is available.
"""
from __future__ import annotations

import base64
import html
import io
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from .. import targets
from .export import Skipped, iter_records, resolve_dataset
from .index import describe_skipped, scan_dataset
from .records import SUCCESS

__all__ = ["analyze_dataset", "render_text", "render_html", "PATTERNS", "describe"]

# pattern name -> predicate over an analysis summary (worker.analysis_summary)
PATTERNS = {
    "barriers": lambda a: a.get("sync", {}).get("barriers", 0) > 0,
    "barriers_in_loops": lambda a: a.get("sync", {}).get("barriers_in_loops", 0) > 0,
    "local_memory": lambda a: (a.get("resources", {}).get("local_mem_bytes") or 0) > 0
    or bool(a.get("resources", {}).get("local_mem_unknown")),
    "vector_loads": lambda a: a.get("memory", {}).get("vector_loads", 0) > 0,
    "vector_stores": lambda a: a.get("memory", {}).get("vector_stores", 0) > 0,
    "atomics": lambda a: a.get("memory", {}).get("atomics", 0) > 0,
    "strided_access": lambda a: a.get("memory", {}).get("strided", 0) > 0,
    "irregular_access": lambda a: a.get("memory", {}).get("irregular", 0) > 0,
    "private_arrays": lambda a: (a.get("resources", {}).get("private_bytes") or 0) > 0,
    "fixed_work_group": lambda a: bool(a.get("resources", {}).get("reqd_work_group_size")),
    "multi_stage": lambda a: a.get("kernels", 1) > 1,
    "analyzer_warnings": lambda a: a.get("warnings", 0) > 0,
    "analyzer_errors": lambda a: a.get("errors", 0) > 0,
}


def describe(values: Iterable[float]) -> Optional[Dict[str, float]]:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"n": len(vals), "min": min(vals), "max": max(vals), "mean": round(statistics.fmean(vals), 4),
            "median": statistics.median(vals)}


def _summary_of(source: str, target: str, spec: Any) -> Optional[Dict[str, Any]]:
    try:
        from ..analyze import analyze_dict
        from ..campaign.worker import analysis_summary
        return analysis_summary(analyze_dict(source, target or targets.DEFAULT, spec))
    except Exception:  # noqa: BLE001 - the analyzer is optional here
        return None


def _ops_of(uir: Optional[str]) -> Dict[str, int]:
    if not uir:
        return {}
    try:
        from ..campaign.worker import op_counts
        from ..ir.parser import parse
        return op_counts(parse(uir).kernels[0])
    except Exception:  # noqa: BLE001
        return {}


def analyze_dataset(root: Union[str, Path], reanalyze: bool = True) -> Dict[str, Any]:
    """The report dict (JSON-serialisable) of every record under `root`. Records are read from the
    folders; `skipped` lists those that could not be read, `index_warning` an index out of step."""
    ds = resolve_dataset(root)
    scan = scan_dataset(ds)
    skipped: Skipped = []
    n = 0
    status = Counter()
    cats: Dict[str, Counter] = defaultdict(Counter)
    reasons: Dict[str, Counter] = defaultdict(Counter)
    lowered, targets, devices, providers, strategies, dtypes, variants = (Counter() for _ in range(7))
    patterns = Counter()
    codes = Counter()
    analysed = 0
    ops_total, ops_records = Counter(), Counter()
    src_chars, src_lines, uir_chars, uir_stmts, medians, gflops = [], [], [], [], [], []
    for meta in iter_records(ds, include_failures=True, skipped=skipped, scan=scan):
        n += 1
        extra = meta.get("extra") or {}
        camp = extra.get("campaign") or {}
        cat = camp.get("category") or meta.get("category") or "?"
        st = meta.get("status", "?")
        ok = st in SUCCESS
        status[st] += 1
        cats[cat]["records"] += 1
        cats[cat]["passed" if ok else "failed"] += 1
        if not ok:
            reasons[cat][f"{st}: {_short(meta.get('reason'))}"] += 1
        lowered[camp.get("lowered") or meta.get("category") or "?"] += 1
        if camp.get("variant"):
            variants[f"{cat}/{camp['variant']}"] += 1
        targets[meta.get("target") or "?"] += 1
        devices[meta.get("device") or "?"] += 1
        providers[meta.get("provider") or "?"] += 1
        strategies[(extra.get("kernel") or {}).get("strategy") or meta.get("model") or "?"] += 1
        spec = extra.get("spec") or {}
        for t in list(spec.get("inputs", [])) + list(spec.get("outputs", [])):
            dtypes[t.get("dtype", "?")] += 1
        src = meta.get("_source")
        if src:
            src_chars.append(len(src))
            src_lines.append(src.count("\n") + 1)
        uir = extra.get("uir")
        if uir:
            uir_chars.append(len(uir))
        ops = extra.get("ops") or _ops_of(uir)
        if ops:
            uir_stmts.append(ops.get("statements", 0))
            for k, v in ops.items():
                if k == "statements":
                    continue
                ops_total[k] += v
                ops_records[k] += 1
        a = extra.get("analysis")
        if (not a or "unavailable" in a) and reanalyze and src:
            a = _summary_of(src, meta.get("target"), spec or None)
        if a and "unavailable" not in a:
            analysed += 1
            for name, pred in PATTERNS.items():
                try:
                    if pred(a):
                        patterns[name] += 1
                except Exception:  # noqa: BLE001
                    pass
            for c in a.get("codes", []):
                codes[c] += 1
        if ok and meta.get("median_s"):
            medians.append(meta["median_s"])
            g = (extra.get("measurements") or {}).get("gflops")
            if g is not None:
                gflops.append(g)
    per_cat = {}
    for c in sorted(cats):
        d = cats[c]
        per_cat[c] = {"records": d["records"], "passed": d["passed"], "failed": d["failed"],
                      "success_rate": round(d["passed"] / d["records"], 4) if d["records"] else None,
                      "failure_reasons": dict(reasons[c].most_common(5))}
    passed = sum(status[s] for s in SUCCESS)
    return {
        "dataset": str(ds), "records": n, "passed": passed, "index_warning": scan.describe(),
        "skipped": [{"id": i, "why": why} for i, why in skipped],
        "success_rate": round(passed / n, 4) if n else None,
        "statuses": dict(status.most_common()), "categories": per_cat,
        "lowered_categories": dict(lowered.most_common()), "variants": dict(variants.most_common()),
        "targets": dict(targets.most_common()), "devices": dict(devices.most_common()),
        "providers": dict(providers.most_common()), "strategies": dict(strategies.most_common()),
        "dtypes": dict(dtypes.most_common()),
        "patterns": {"analysed": analysed, "counts": {k: patterns.get(k, 0) for k in PATTERNS},
                     "fraction": {k: round(patterns.get(k, 0) / analysed, 4) if analysed else None
                                  for k in PATTERNS},
                     "finding_codes": dict(codes.most_common(20))},
        "complexity": {"kernel_source_chars": describe(src_chars), "kernel_source_lines": describe(src_lines),
                       "uir_chars": describe(uir_chars), "uir_statements": describe(uir_stmts)},
        "operations": {"total": dict(ops_total.most_common()), "records_using": dict(ops_records.most_common())},
        "performance": {"median_s": describe(medians), "gflops": describe(gflops)},
        "_lengths": {"kernel_source_chars": src_chars, "uir_chars": uir_chars},  # for the plots, not for JSON
    }


def _short(reason: Optional[str], n: int = 80) -> str:
    import re
    text = (reason or "").strip().splitlines()[0] if reason else ""
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)[:n]


# ------------------------------------------------------------------ text
def _table(rows: List[List[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _fmt_desc(d: Optional[Dict[str, float]]) -> List[str]:
    if not d:
        return ["-"] * 4
    return [f"{d['min']:.4g}", f"{d['max']:.4g}", f"{d['mean']:.4g}", f"{d['median']:.4g}"]


def render_text(r: Dict[str, Any]) -> str:
    out = [f"dataset {r['dataset']}: {r['records']} records, {r['passed']} passing "
           f"({(r['success_rate'] or 0) * 100:.1f}%)", ""]
    rows = [["category", "records", "passed", "failed", "success", "top failure"]]
    for c, d in r["categories"].items():
        top = next(iter(d["failure_reasons"]), "")
        rows.append([c, d["records"], d["passed"], d["failed"],
                     f"{(d['success_rate'] or 0) * 100:.0f}%", top[:60]])
    out += [_table(rows), ""]
    if r.get("skipped"):
        out += [describe_skipped([(s["id"], s["why"]) for s in r["skipped"]]), ""]
    p = r["patterns"]
    if p["analysed"]:
        rows = [["pattern", "records", "fraction"]]
        for k, v in p["counts"].items():
            rows.append([k, v, f"{(p['fraction'][k] or 0) * 100:.1f}%"])
        out += [f"pattern coverage (analyzer, {p['analysed']} kernels)", _table(rows), ""]
    else:
        out += ["pattern coverage: no analysis available", ""]
    rows = [["complexity", "min", "max", "mean", "median"]]
    for k, d in r["complexity"].items():
        rows.append([k] + _fmt_desc(d))
    out += [_table(rows), ""]
    ops = list(r["operations"]["total"].items())[:15]
    if ops:
        out += ["operations: " + ", ".join(f"{k} {v}" for k, v in ops), ""]
    for key in ("lowered_categories", "strategies", "statuses", "targets", "devices", "dtypes", "providers"):
        if r.get(key):
            out.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in r[key].items()))
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ html
def _plots(r: Dict[str, Any]) -> List[tuple]:
    """(title, base64 PNG) pairs; [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 - plots are optional
        return []
    out = []

    def emit(fig, title):
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        out.append((title, base64.b64encode(buf.getvalue()).decode()))

    cats = r["categories"]
    if cats:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        names = list(cats)
        ax.bar(names, [cats[c]["passed"] for c in names], label="passed", color="#3a7")
        ax.bar(names, [cats[c]["failed"] for c in names], bottom=[cats[c]["passed"] for c in names],
               label="failed", color="#c54")
        ax.set_ylabel("records")
        ax.legend()
        ax.tick_params(axis="x", rotation=45)
        emit(fig, "Category distribution")
    p = r["patterns"]
    if p["analysed"]:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        names = list(p["counts"])
        ax.barh(names, [(p["fraction"][k] or 0) * 100 for k in names], color="#37a")
        ax.set_xlabel("% of analysed kernels")
        emit(fig, "Pattern coverage")
    ops = list(r["operations"]["total"].items())[:20]
    if ops:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar([k for k, _ in ops], [v for _, v in ops], color="#888")
        ax.tick_params(axis="x", rotation=60)
        ax.set_ylabel("occurrences")
        emit(fig, "Operation frequency")
    hist = [(k, r["complexity"][k]) for k in ("kernel_source_chars", "uir_chars") if r["complexity"].get(k)]
    if hist and r.get("_lengths"):
        fig, axes = plt.subplots(1, len(hist), figsize=(8, 3))
        axes = axes if len(hist) > 1 else [axes]
        for ax, (k, _d) in zip(axes, hist):
            ax.hist(r["_lengths"].get(k, []), bins=20, color="#a73")
            ax.set_title(k)
        emit(fig, "Complexity")
    for key, title in (("devices", "Devices"), ("statuses", "Statuses")):
        d = r.get(key) or {}
        if d:
            fig, ax = plt.subplots(figsize=(6, 2.8))
            ax.barh(list(d), list(d.values()), color="#5a8")
            emit(fig, title)
    return out


def render_html(r: Dict[str, Any], out: Union[str, Path], plots: bool = True) -> Path:
    out = Path(out)
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>uhopc dataset report</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}pre{background:#f4f4f4;padding:8px}"
             "</style></head><body>",
             f"<h1>Dataset report</h1><p>{e(r['dataset'])}: {r['records']} records, {r['passed']} passing "
             f"({(r['success_rate'] or 0) * 100:.1f}%)</p>"]

    def table(title, header, rows):
        parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in header) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>")
        parts.append("</table>")

    table("Categories and quality", ["category", "records", "passed", "failed", "success rate", "failure reasons"],
          [[c, d["records"], d["passed"], d["failed"], f"{(d['success_rate'] or 0) * 100:.1f}%",
            "; ".join(f"{k} ({v})" for k, v in d["failure_reasons"].items())] for c, d in r["categories"].items()])
    p = r["patterns"]
    table(f"Pattern coverage ({p['analysed']} analysed kernels)", ["pattern", "records", "fraction"],
          [[k, v, f"{(p['fraction'][k] or 0) * 100:.1f}%"] for k, v in p["counts"].items()])
    table("Complexity", ["metric", "min", "max", "mean", "median"],
          [[k] + _fmt_desc(d) for k, d in r["complexity"].items()])
    table("Operation frequency", ["operation", "occurrences", "records"],
          [[k, v, r["operations"]["records_using"].get(k, 0)] for k, v in r["operations"]["total"].items()])
    for key in ("lowered_categories", "strategies", "statuses", "targets", "devices", "dtypes", "providers"):
        table(key.replace("_", " ").capitalize(), ["value", "records"], list((r.get(key) or {}).items()))
    pics = _plots(r) if plots else []
    if pics:
        parts.append("<h2>Plots</h2>")
        for title, b64 in pics:
            parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{b64}'>")
    elif plots:
        parts.append("<p><i>Plots skipped: matplotlib is not installed.</i></p>")
    rr = {k: v for k, v in r.items() if not k.startswith("_")}
    parts.append("<h2>Raw report</h2><pre>" + e(json.dumps(rr, indent=1)) + "</pre></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
