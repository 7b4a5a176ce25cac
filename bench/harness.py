#!/usr/bin/env python3
"""Native timing harness vs the Python loop of uhop_cc.verify.timing, same OpenCL device.

    python3 bench/harness.py [--device N] [--launches 2000] [--repeats 10] [--out bench/results/harness.json]

1. Per-launch overhead on a tiny kernel (one work-group of 64 items adding 1.0): host time per
   launch of a fixed number of launches, minus the kernel's own device time (median of its
   profiling events), for
     - python-loop: `cl.enqueue_nd_range_kernel` + `event.wait()` + `queue.finish()` + reading
       the profiling info, per launch (the body of `timing.time_launch`);
     - time_launch: `timing.time_launch` itself on a PreparedLaunch-like object, runs fixed;
     - native-sync: `native_timing` waiting after every launch (same protocol as time_launch);
     - native-batch: `native_timing` default mode (up to 64 launches enqueued back to back,
       one wait; each launch keeps its own profiling event).
   Each is measured `--overhead-repeats` times; the table shows the median.
2. Run-to-run spread of the median: the generated relu kernel on 1M floats (a PreparedLaunch
   from the pipeline), timed `--repeats` times by each harness with the same settings
   (warm-up 2, 5..100 runs, 2% CI target, 0.5 s budget), methods interleaved;
   spread = (max - min) / median of the medians.
3. The device's measured peaks (`measure_peaks`) and the relu kernel's roofline fraction, with
   warm caches and with a cache flush before every launch.
Prints a table, writes JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyopencl as cl  # noqa: E402

from uhop_cc import ir  # noqa: E402
from uhop_cc.ir import interpreter  # noqa: E402
from uhop_cc.pipeline import compile_bound  # noqa: E402
from uhop_cc.targets.opencl.runtime import OpenCLDevice  # noqa: E402
from uhop_cc.targets.opencl import timing as ot  # noqa: E402
from uhop_cc.verify import native_timing as nt  # noqa: E402
from uhop_cc.verify.timing import time_launch  # noqa: E402

TINY = "__kernel void tiny(__global float* x) { x[get_global_id(0)] += 1.0f; }"
TARGET_RATIO = 0.25


class _TinyLaunch:
    """What `time_launch` needs of a PreparedLaunch, for one pyopencl kernel."""

    def __init__(self, queue, kernel, g, loc):
        self.queue, self.kernel, self.g, self.loc = queue, kernel, g, loc
        self.stage_names = ("tiny",)

    def launch(self):
        return [cl.enqueue_nd_range_kernel(self.queue, self.kernel, self.g, self.loc)]

    def finish(self):
        self.queue.finish()


def python_loop(queue, kernel, g, loc, n):
    for _ in range(3):
        cl.enqueue_nd_range_kernel(queue, kernel, g, loc).wait()
    dev = []
    t0 = time.perf_counter()
    for _ in range(n):
        ev = cl.enqueue_nd_range_kernel(queue, kernel, g, loc)
        ev.wait()
        queue.finish()
        dev.append((ev.profile.end - ev.profile.start) * 1e-9)
    return (time.perf_counter() - t0) / n, float(np.median(dev))


def time_launch_loop(queue, kernel, g, loc, n):
    t0 = time.perf_counter()
    t = time_launch(_TinyLaunch(queue, kernel, g, loc), warmup=0, min_runs=n, max_runs=n, budget_s=1e9,
                    target_rel_ci=0.0)
    return (time.perf_counter() - t0) / n, t.median_s


def native_loop(mode):
    def run(queue, kernel, g, loc, n):
        r = ot.opencl_run([(kernel, g, loc)], queue=queue, warmup=3, min_runs=n, max_runs=n, budget_s=1e9,
                          target_rel_ci=0.0, mode=mode)
        return r.loop_s / r.runs, r.summary["median_s"]
    return run


def overhead(device, launches, repeats):
    prg = cl.Program(device.context, TINY).build()
    k = cl.Kernel(prg, "tiny")
    buf = cl.Buffer(device.context, cl.mem_flags.READ_WRITE, 4 * 64)
    cl.enqueue_fill_buffer(device.queue, buf, np.float32(0), 0, 4 * 64)
    k.set_args(buf)
    methods = {"python-loop": python_loop, "time_launch": time_launch_loop,
               "native-sync": native_loop("sync"), "native-batch": native_loop("batch")}
    raw = {m: [] for m in methods}
    for _ in range(repeats):  # interleaved, so drift hits every method alike
        for name, fn in methods.items():
            per, dev = fn(device.queue, k, (64,), (64,), launches)
            raw[name].append({"per_launch_s": per, "device_s": dev, "overhead_s": max(0.0, per - dev)})
    out = {}
    for name, rows in raw.items():
        out[name] = {"per_launch_us": statistics.median(r["per_launch_s"] for r in rows) * 1e6,
                     "device_us": statistics.median(r["device_s"] for r in rows) * 1e6,
                     "overhead_us": statistics.median(r["overhead_s"] for r in rows) * 1e6,
                     "overhead_us_all": [r["overhead_s"] * 1e6 for r in rows]}
    buf.release()
    return out


def spread(device, repeats, n):
    k = ir.load_file(ROOT / "examples/relu.uir")[0]
    bound = ir.bind_shapes(k, {"N": n})
    res = compile_bound(bound, device=device, strategy="auto", validate=False, time=False)
    if not res.ok:
        raise SystemExit(f"relu did not compile: {res.reason}")
    prep = device.prepare(res.program, res.stages, bound, interpreter.random_inputs(bound, seed=3))
    settings = dict(warmup=2, min_runs=5, max_runs=100, budget_s=0.5, target_rel_ci=0.02)
    methods = {
        "time_launch": lambda: time_launch(prep, **settings),
        "native-sync": lambda: ot.time_opencl(prep, mode="sync", **settings),
        "native-batch": lambda: ot.time_opencl(prep, mode="batch", **settings),
    }
    rows = {m: [] for m in methods}
    try:
        for _ in range(repeats):
            for name, fn in methods.items():
                t0 = time.perf_counter()
                t = fn()
                rows[name].append({"median_s": t.median_s, "runs": t.runs, "stopped_by": t.stopped_by,
                                   "rel_ci": t.rel_ci, "seconds": time.perf_counter() - t0})
        cold = ot.time_opencl(prep, flush=True, **settings)  # caches flushed before every launch
    finally:
        prep.release()
    out = {}
    for name, rs in rows.items():
        med = [r["median_s"] for r in rs]
        m = statistics.median(med)
        out[name] = {"median_of_medians_us": m * 1e6, "spread": (max(med) - min(med)) / m,
                     "min_us": min(med) * 1e6, "max_us": max(med) * 1e6,
                     "mean_runs": statistics.mean(r["runs"] for r in rs),
                     "mean_seconds": statistics.mean(r["seconds"] for r in rs),
                     "stopped_by": {s: sum(r["stopped_by"] == s for r in rs) for s in ("precision", "budget", "max_runs")},
                     "medians_us": [x * 1e6 for x in med]}
    return out, res.spec, cold


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device")
    ap.add_argument("--launches", type=int, default=2000, help="launches per overhead measurement")
    ap.add_argument("--overhead-repeats", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=10, help="measurements of relu per harness (spread)")
    ap.add_argument("--n", type=int, default=1 << 20, help="relu size (floats)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/harness.json"))
    args = ap.parse_args()

    device = OpenCLDevice.open(int(args.device) if args.device and args.device.isdigit() else args.device)
    print(f"device: {device.name}   loader: {ot.opencl_library()}", flush=True)
    ov = overhead(device, args.launches, args.overhead_repeats)
    py = ov["python-loop"]["overhead_us"]
    print(f"\nper-launch overhead, tiny kernel ({args.launches} launches, median of {args.overhead_repeats})")
    print(f"{'loop':<14} {'per launch us':>14} {'device us':>10} {'overhead us':>12} {'vs python-loop':>15}")
    for name, r in ov.items():
        r["ratio_vs_python_loop"] = r["overhead_us"] / py if py > 0 else None
        print(f"{name:<14} {r['per_launch_us']:14.2f} {r['device_us']:10.2f} {r['overhead_us']:12.2f} "
              f"{r['ratio_vs_python_loop']:15.3f}")
    best = ov["native-batch"]["ratio_vs_python_loop"]
    print(f"target: native overhead < {TARGET_RATIO:.0%} of the python loop's -> native-batch "
          f"{best:.1%} ({'met' if best < TARGET_RATIO else 'NOT met'}), native-sync "
          f"{ov['native-sync']['ratio_vs_python_loop']:.1%}")

    print(f"\nrun-to-run spread of the median, relu on {args.n} floats ({args.repeats} measurements each)", flush=True)
    sp, spec, cold = spread(device, args.repeats, args.n)
    print(f"{'harness':<14} {'median us':>10} {'min us':>9} {'max us':>9} {'spread':>8} {'runs':>6} {'s/meas':>7}  stopped_by")
    for name, r in sp.items():
        print(f"{name:<14} {r['median_of_medians_us']:10.2f} {r['min_us']:9.2f} {r['max_us']:9.2f} "
              f"{r['spread']:8.1%} {r['mean_runs']:6.1f} {r['mean_seconds']:7.3f}  {r['stopped_by']}")

    peaks = ot.measure_peaks(device)
    warm = nt.performance(sp["native-batch"]["median_of_medians_us"] * 1e-6, spec.flops, spec.bytes_min, peaks)
    flushed = nt.performance(cold, spec.flops, spec.bytes_min, peaks)
    print(f"\npeaks (measure_peaks): {peaks['gbps']:.1f} GB/s copy, {peaks['gflops']:.1f} GFLOP/s "
          f"(mad x{peaks['fma_width']})")
    for label, perf in (("relu, warm caches", warm), ("relu, flushed   ", flushed)):
        r = perf["roofline"]
        print(f"{label}: {perf['seconds'] * 1e6:8.1f} us  {perf['gbps']:6.1f} GB/s  {perf['gflops']:6.2f} GFLOP/s  "
              f"{r['bound']}-bound, {r['fraction']:.0%} of the roofline")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": device.fingerprint(), "loader": ot.opencl_library(), "host": platform.node(),
            "python": platform.python_version(), "pyopencl": cl.VERSION_TEXT, "numpy": np.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "launches": args.launches,
            "overhead_repeats": args.overhead_repeats, "repeats": args.repeats, "relu_n": args.n,
            "target_ratio": TARGET_RATIO}
    out.write_text(json.dumps({"meta": meta, "overhead": ov, "spread": sp, "peaks": peaks,
                              "relu": {"flops": spec.flops, "bytes_min": spec.bytes_min, "warm": warm,
                                       "flushed": flushed, "flushed_timing": cold.to_json()}},
                              indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
