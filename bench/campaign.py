#!/usr/bin/env python3
"""Campaign throughput: the generation + analysis stage (no device) and validated records on the device.

    python3 bench/campaign.py [--quick] [--workers 2] [--out bench/results/campaign.json]

Stage 1, programs/s: generate a random program (all categories in turn), check and bind it,
build its KernelSpec, hash its canonical UIR, lower it to OpenCL (template + generic lowering)
and run the static analyzer on every candidate kernel -- in one process and in a process pool.

Stage 2, validated records/s: a real campaign (build, validate against the interpreter, time,
write the record) on the OpenCL device, with batched builds and with one build per kernel,
on the same programs, with PoCL's kernel cache off (POCL_KERNEL_CACHE=0) so every build is real.
Prints a table; writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uhop_cc.campaign.generator import CATEGORIES, derive_seed, generate  # noqa: E402


def gen_analyze(args):
    """Stage 1 for programs [lo, hi): returns (programs, kernels analysed, analyzer available)."""
    lo, hi, seed = args
    from uhop_cc.campaign.dedup import kernel_key, uir_key
    from uhop_cc.lower import build_spec
    from uhop_cc.pipeline import candidates
    try:
        from uhop_cc.analyze import analyze_dict
        analyze_dict("__kernel void k() {}", "opencl", None)
    except Exception:  # noqa: BLE001 - measured without it, and said so
        analyze_dict = None
    kernels = 0
    cpu0 = time.process_time()
    for n in range(lo, hi):
        cat = CATEGORIES[n % len(CATEGORIES)]
        g = generate(cat, derive_seed(seed, cat, n), index=n)
        bound = g.bind(g.check())
        spec = build_spec(bound)
        uir_key(g.program, bound.sizes)
        for c in candidates(bound, "opencl", "auto", None, None, use_cache=False):
            if analyze_dict is not None:
                analyze_dict(c.source, "opencl", spec)
            kernels += 1
        kernel_key(c.source)  # the worker hashes the kernel it keeps
    return hi - lo, kernels, analyze_dict is not None, time.process_time() - cpu0


def stage1(n: int, workers: int, seed: int = 11) -> dict:
    gen_analyze((0, min(50, n), seed + 1))  # warm up imports and the analyzer
    t0 = time.perf_counter()
    progs, kernels, have_an, cpu = gen_analyze((0, n, seed))
    single = time.perf_counter() - t0
    out = {"programs": progs, "kernels": kernels, "analyzer": have_an, "single_process_s": round(single, 3),
           "single_process_programs_per_s": round(progs / single, 1),
           "programs_per_cpu_s": round(progs / cpu, 1),  # independent of other load on the machine
           "load_average_1min": os.getloadavg()[0]}
    if workers > 1:
        chunk = max(1, n // (workers * 8))
        parts = [(lo, min(n, lo + chunk), seed + 2) for lo in range(0, n, chunk)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(gen_analyze, [(0, 20, seed + 3)] * workers))  # start the workers
            t0 = time.perf_counter()
            res = list(pool.map(gen_analyze, parts))
            dt = time.perf_counter() - t0
        done, cpu = sum(r[0] for r in res), sum(r[3] for r in res)
        out.update(workers=workers, pool_s=round(dt, 3), pool_programs_per_s=round(done / dt, 1),
                   pool_programs_per_cpu_s=round(done / cpu, 1),
                   projected_programs_per_s_on_idle_cores=round(workers * done / cpu, 1))
    return out


def stage2(records_per_category: int, workers: int, batch: bool, seed: int, batch_size: int) -> dict:
    from uhop_cc.campaign import CampaignConfig, run_campaign
    tmp = Path(tempfile.mkdtemp(prefix="uhopc-bench-campaign-"))
    try:
        cfg = CampaignConfig(name="bench", seed=seed, records_per_category=records_per_category,
                             workers=workers, batch_size=batch_size, batch_build=batch, progress=False,
                             limits={"max_elements": 4096, "max_size": 64})
        res = run_campaign(cfg, tmp / "c")
        builds = []
        import glob
        for meta in glob.glob(str(tmp / "c" / "dataset" / "*" / "metadata.json")):
            m = json.loads(Path(meta).read_text())
            b = (m.get("extra") or {}).get("build") or {}
            if b.get("seconds") is not None:
                builds.append(b["seconds"])
        return {"batch_build": batch, "workers": workers, "batch_size": batch_size,
                "records": res.records_this_run, "items": res.items_this_run, "failures": res.failures_this_run,
                "elapsed_s": res.elapsed_s, "records_per_s": res.records_per_s, "items_per_s": res.items_per_s,
                "mean_build_s_per_kernel": round(sum(builds) / len(builds), 4) if builds else None}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--programs", type=int, help="stage 1 programs (default 3000; quick 1000)")
    ap.add_argument("--records", type=int, help="stage 2 records per category (default 15; quick 3)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--no-device", action="store_true", help="stage 1 only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "campaign.json"))
    a = ap.parse_args(argv)
    os.environ.setdefault("POCL_KERNEL_CACHE", "0")  # every build is a real build (workers inherit it)
    n = a.programs or (1000 if a.quick else 3000)
    recs = a.records or (3 if a.quick else 15)
    s1 = stage1(n, a.workers)
    runs = []
    if not a.no_device:
        for batch in (True, False):
            runs.append(stage2(recs, a.workers, batch, seed=101, batch_size=a.batch_size))
    rows = [["stage", "config", "count", "seconds", "rate"]]
    rows.append(["generation+analysis", "1 process", f"{s1['programs']} programs ({s1['kernels']} kernels)",
                 f"{s1['single_process_s']:.2f}", f"{s1['single_process_programs_per_s']:.0f} programs/s"])
    rows.append(["generation+analysis", "per CPU-second", "", "", f"{s1['programs_per_cpu_s']:.0f} programs/s"])
    if "pool_programs_per_s" in s1:
        rows.append(["generation+analysis", f"{s1['workers']} processes", f"{s1['programs']} programs",
                     f"{s1['pool_s']:.2f}", f"{s1['pool_programs_per_s']:.0f} programs/s"])
        rows.append(["generation+analysis", f"{s1['workers']} idle cores (CPU time)", "", "",
                     f"{s1['projected_programs_per_s_on_idle_cores']:.0f} programs/s"])
    for r in runs:
        rows.append(["validated records", f"{r['workers']} workers, " + (f"batched builds ({r['batch_size']})"
                                                                       if r["batch_build"] else "single builds"),
                     f"{r['records']} records / {r['items']} items", f"{r['elapsed_s']:.2f}",
                     f"{r['records_per_s']:.2f} records/s"])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if not s1["analyzer"]:
        print("note: the static analyzer was not available; stage 1 ran without it")
    try:
        from uhop_cc.targets.opencl.runtime import OpenCLDevice
        device = OpenCLDevice.open().name
    except Exception:  # noqa: BLE001
        device = None
    result = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "device": device, "load_average_after": os.getloadavg(),
                          "pocl_kernel_cache": os.environ.get("POCL_KERNEL_CACHE")},
              "generation_analysis": s1, "validated": runs,
              "speedup_batched_vs_single": (round(runs[0]["records_per_s"] / runs[1]["records_per_s"], 2)
                                            if len(runs) == 2 and runs[1]["records_per_s"] else None)}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
