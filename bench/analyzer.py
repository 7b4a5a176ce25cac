#!/usr/bin/env python3
"""The static analyzer: native (C++) vs the equivalent pure-Python check, one core, one run.

    python3 bench/analyzer.py [--quick] [--seconds S] [--out bench/results/analyzer.json]

Corpus: the project's own generated kernels (the generic OpenCL and CUDA lowerings of every
example, every fast OpenCL/CUDA template that matches one with a few parameter sets each,
the TT-Metal reader/compute/writer kernels where the program lowers) plus hand-written hard
cases (tests/analyze: reference kernels for OpenCL, CUDA and TT-Metal and one kernel per
hazard). Each engine analyses the whole corpus repeatedly with the same `expected` ABI;
throughput is the best of several rounds, in analyses per CPU second of the one benchmarking
thread (wall-clock rates are written to the JSON too: on a shared host they drop when the
process is descheduled).
Rows: the whole corpus, its 2-4 KB kernels (the typical candidate) and each source family.
Also checks that both engines report the same findings. Prints a table, writes JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "analyze"))  # the hard cases and pyref, the pure-Python analyzer

import pyref  # noqa: E402
from uhop_cc import _native, ir  # noqa: E402
from uhop_cc.analyze import analyze, expected_from_spec  # noqa: E402
from uhop_cc.targets import renderer  # noqa: E402
from uhop_cc.lower.spec import build_spec  # noqa: E402

KERNELS = ROOT / "tests" / "analyze" / "kernels"
TARGET_OF = {".cl": "opencl", ".cu": "cuda", ".cpp": "ttmetal"}


def corpus():
    """[(family, name, target, source, expected)]"""
    out = []
    examples = sorted((ROOT / "examples").glob("*.uir"))
    try:
        from uhop_cc.targets.opencl.templates import TEMPLATES
    except Exception:  # templates are optional
        TEMPLATES = []
    for path in examples:
        for k in ir.load_file(str(path)):
            bound = ir.bind_shapes(k, {s: 64 for s in k.sizes})
            exp = expected_from_spec(build_spec(bound))
            out.append(("generic", k.name, "opencl", renderer("opencl").generic(k).source, exp))
            for tpl in TEMPLATES:
                try:
                    m = tpl.match(bound)
                    space = tpl.space(m, None) if m is not None else []
                except Exception:
                    continue
                for i, params in enumerate(space[:4]):
                    try:
                        src = tpl.render(m, params).source
                    except Exception:
                        continue
                    out.append(("template", f"{tpl.name}:{k.name}:{i}", "opencl", src, exp))
    # CUDA and TT-Metal generators, where present
    try:
        from uhop_cc.targets.cuda import templates as cuda_templates
        if True:  # the CUDA generator is always there; NVRTC is what may be missing
            for path in examples:
                for k in ir.load_file(str(path)):
                    bound = ir.bind_shapes(k, {s: 64 for s in k.sizes})
                    exp = expected_from_spec(build_spec(bound), "cuda")
                    out.append(("generic", f"cuda:{k.name}", "cuda", renderer("cuda").generic(k).source, exp))
                    for tpl in cuda_templates.TEMPLATES:
                        try:
                            m = tpl.match(bound)
                            space = tpl.space(m, None) if m is not None else []
                        except Exception:
                            continue
                        for i, params in enumerate(space[:2]):
                            try:
                                src = tpl.render(m, params).source
                            except Exception:
                                continue
                            out.append(("template", f"cuda:{tpl.name}:{k.name}:{i}", "cuda", src, exp))
    except Exception:
        pass
    try:
        from uhop_cc.targets.ttmetal import plan_kernel, ttmetal_supports
        from uhop_cc.targets.ttmetal.kernels import all_sources
        for path in examples:
            for k in ir.load_file(str(path)):
                bound = ir.bind_shapes(k, {s: 1024 for s in k.sizes})
                if ttmetal_supports(bound) is None:
                    for role, src in all_sources(plan_kernel(bound)).items():
                        out.append(("generic", f"ttmetal:{k.name}:{role}", "ttmetal", src, None))
    except Exception:
        pass
    for path in sorted(KERNELS.iterdir()):
        if path.suffix in TARGET_OF:
            out.append(("hand-written", path.name, TARGET_OF[path.suffix], path.read_text(), None))
    try:
        from cases import CASES
        for c in CASES:
            out.append(("hazard", c.name, c.target, c.source, c.expected))
    except ImportError:
        pass
    return out


def rate(fn, items, seconds, rounds):
    """Best analyses/second over `rounds` rounds of at least `seconds` each: (per CPU second of
    the benchmarking thread, per wall-clock second). The CPU figure is the one-core throughput;
    it does not drop when the host deschedules the process (shared machines)."""
    best_cpu = best_wall = 0.0
    for _ in range(rounds):
        n = 0
        c0, w0 = time.thread_time(), time.perf_counter()
        while True:
            for _fam, _name, target, src, exp in items:
                fn(src, target, exp)
            n += len(items)
            dc, dw = time.thread_time() - c0, time.perf_counter() - w0
            if dw >= seconds:
                break
        best_cpu = max(best_cpu, n / max(dc, 1e-9))
        best_wall = max(best_wall, n / dw)
    return best_cpu, best_wall


def findings(d):
    return [(f["severity"], f["code"], f["line"], f["col"]) for f in d["findings"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter rounds")
    ap.add_argument("--seconds", type=float, default=None, help="minimum seconds per round (native)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "analyzer.json"))
    args = ap.parse_args(argv)
    seconds = args.seconds or (0.3 if args.quick else 1.0)
    rounds = args.rounds or (3 if args.quick else 7)

    items = corpus()
    native = lambda s, t, e: _native.analyze(s, t, e)  # noqa: E731
    wrapper = lambda s, t, e: analyze(s, t, e)  # noqa: E731
    python = lambda s, t, e: pyref.analyze_dict(s, t, e)  # noqa: E731

    # the same answers from both engines
    mismatches = []
    for fam, name, target, src, exp in items:
        if findings(_native.analyze(src, target, exp)) != findings(pyref.analyze_dict(src, target, exp)):
            mismatches.append(name)

    groups = [("all", items),
              ("2-4 KB", [x for x in items if 2048 <= len(x[3].encode()) <= 4096])]
    for fam in ("generic", "template", "hand-written", "hazard"):
        sub = [x for x in items if x[0] == fam]
        if sub:
            groups.append((fam, sub))

    rows = []
    for label, sub in groups:
        if not sub:
            continue
        sizes = [len(x[3].encode()) for x in sub]
        n_rate, n_wall = rate(native, sub, seconds, rounds)
        w_rate, w_wall = rate(wrapper, sub, seconds, rounds)
        p_rate, p_wall = rate(python, sub, seconds / 2, max(2, rounds - 2))
        rows.append({"set": label, "sources": len(sub), "mean_bytes": round(statistics.mean(sizes)),
                     "native_per_s": round(n_rate), "wrapper_per_s": round(w_rate), "python_per_s": round(p_rate, 1),
                     "native_us": round(1e6 / n_rate, 1), "python_us": round(1e6 / p_rate, 1),
                     "ratio": round(n_rate / p_rate, 1),
                     "wall": {"native_per_s": round(n_wall), "wrapper_per_s": round(w_wall),
                              "python_per_s": round(p_wall, 1), "ratio": round(n_wall / p_wall, 1)}})

    head = (f"{'set':<14}{'sources':>8}{'bytes':>8}{'native/s':>11}{'wrapper/s':>11}{'python/s':>10}"
            f"{'native us':>11}{'python us':>11}{'ratio':>8}")
    print(f"analyzer benchmark: {len(items)} kernels, one thread, best of {rounds} rounds, analyses per CPU "
          f"second of that thread (wall-clock figures in the JSON); native = uhop_cc._native.analyze (dict), "
          f"wrapper = uhop_cc.analyze.analyze (AnalysisReport), python = tests/analyze/pyref.py (same dict)")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['set']:<14}{r['sources']:>8}{r['mean_bytes']:>8}{r['native_per_s']:>11,}{r['wrapper_per_s']:>11,}"
              f"{r['python_per_s']:>10,.0f}{r['native_us']:>11}{r['python_us']:>11}{r['ratio']:>7}x")
    print(f"findings identical on {len(items) - len(mismatches)}/{len(items)} kernels"
          + (f" (differ: {', '.join(mismatches[:5])})" if mismatches else ""))

    result = {
        "benchmark": "analyzer",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "native_build": _native.build_info(),
        "rounds": rounds,
        "clock": "thread CPU time (time.thread_time); rows[].wall: wall-clock",
        "seconds_per_round": seconds,
        "corpus": {"kernels": len(items),
                   "families": {f: sum(1 for x in items if x[0] == f) for f in ("generic", "template", "hand-written",
                                                                              "hazard")},
                   "bytes_total": sum(len(x[3].encode()) for x in items)},
        "rows": rows,
        "parity": {"identical": len(items) - len(mismatches), "differ": mismatches},
        "targets": {"analyses_per_s_2_4kb": 20000, "ratio": 20},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
