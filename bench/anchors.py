#!/usr/bin/env python3
"""Generated kernels against the best library on the device, in one process, with the issue's targets.

    python3 bench/anchors.py [--quick] [--plot bench/results/roofline.png] [--out bench/results/anchors.json]

On an OpenCL CPU device (PoCL): matmul vs CLBlast (through pyclblast, else ctypes on libclblast) and
NumPy/OpenBLAS, relu and softmax vs NumPy on the same arrays. On an NVIDIA GPU (when `uhop_cc.targets.cuda.runtime.cuda_available()`): the CUDA target vs cuBLAS,
PyTorch and the device's copy bandwidth, through bench/cuda.py. Prints each ratio next to its target,
writes JSON, and draws a roofline (PNG, needs matplotlib) of every kernel against measured peaks.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (case, what is compared, target ratio): ratio = baseline time / uhopc time
CPU_TARGETS = [
    ("matmul-1024", "clblast_s", 2.0), ("matmul-2048", "clblast_s", 2.0),
    ("relu-16M", "numpy_s", 0.8), ("softmax-4096x4096", "numpy_s", 0.8),
]
GPU_TARGETS = [  # (case, ratio field of bench/cuda.py, target)
    ("sgemm-4096", "ratio_vs_baseline", 0.8), ("sgemm-8192", "ratio_vs_baseline", 0.8),
    ("relu-256M", "ratio_vs_copy", 0.9), ("softmax-8192x8192", "ratio_vs_baseline", 1.3),
    ("layernorm-8192x8192", "ratio_vs_baseline", 1.3),
]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu_part(quick: bool, clblast_binding: str = "auto"):
    ocl = _load("opencl")
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    from uhop_cc.targets.opencl.timing import measure_peaks
    device = OpenCLDevice.open()
    clblast = ocl.open_clblast(clblast_binding)
    binding = clblast.binding if clblast else None
    print(f"device: {device.name}   CLBlast: {binding or 'not available'}", flush=True)
    peaks = measure_peaks(device)
    rows, checks = [], []
    for case, field, target in CPU_TARGETS:
        if quick and case == "matmul-2048":
            continue
        row = ocl.run_case(case, device, clblast)
        rows.append(row)
        base = row.get(field)
        ratio = base / row["uhopc_s"] if base and row.get("uhopc_s") else None
        checks.append({"device": device.name, "case": case, "baseline": field[:-2], "ratio": ratio, "target": target,
                       "met": ratio is not None and ratio >= target})
        print(f"  {case:<22} x{field[:-2]:<8} {ratio if ratio is None else round(ratio, 2)!s:>6}  target {target}",
              flush=True)
    print(ocl._table(rows), flush=True)
    return {"device": device.fingerprint(), "clblast_binding": binding, "peaks": peaks, "rows": rows}, checks


def gpu_part(quick: bool, cuda_json=None):
    if cuda_json:
        data = json.loads(Path(cuda_json).read_text())
    else:
        from uhop_cc.targets.cuda.runtime import cuda_available
        if not cuda_available():
            return None, []
        cuda = _load("cuda")
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "cuda.json"
            cuda.main((["--quick"] if quick else []) + ["--out", str(out)])
            data = json.loads(out.read_text())
    checks = []
    for case, field, target in GPU_TARGETS:
        entry = next((c for c in data["cases"] if c["case"] == case), None)
        run = next((r for r in (entry or {}).get("runs", []) if r.get("target") == "cuda"), None)
        ratio = run.get(field) if run else None
        checks.append({"device": data["device"]["name"], "case": case, "baseline": field, "ratio": ratio,
                       "target": target, "met": ratio is not None and ratio >= target})
    return data, checks


def plot(cpu, gpu, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no roofline plot)", file=sys.stderr)
        return False
    panels = [p for p in (("PoCL (CPU)", cpu), ("NVIDIA GPU (CUDA)", gpu)) if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
    for ax, (title, data) in zip(axes[0], panels):
        if "peaks" in data:
            pg, pb = data["peaks"]["gflops"], data["peaks"]["gbps"]
            pts = [(r["case"], r["flops"] / r["bytes"], r["flops"] / r["uhopc_s"] / 1e9)
                   for r in data["rows"] if r.get("uhopc_s") and r["flops"]]
        else:
            pb = data.get("copy_gbps") or 3000.0
            pg = 67000.0  # H100 SXM fp32 (declared); cuBLAS SGEMM reaches about 51.5 TFLOP/s here
            pts = []
            for c in data["cases"]:
                for r in c.get("runs", []):
                    if r.get("target") == "cuda" and r.get("tflops") and r.get("gbps"):
                        pts.append((c["case"], r["tflops"] * 1e3 / r["gbps"], r["tflops"] * 1e3))
        xs = [10 ** (i / 20) for i in range(-60, 81)]
        ax.loglog(xs, [min(pg, pb * x) for x in xs], "k-", lw=1.5, label=f"roof: {pg:.0f} GFLOP/s, {pb:.0f} GB/s")
        for name, x, y in pts:
            ax.loglog([x], [y], "o")
            ax.annotate(name, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("arithmetic intensity (FLOP/byte, minimal traffic)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-cpu", action="store_true", help="skip the OpenCL CPU (PoCL) part")
    ap.add_argument("--clblast-binding", choices=("auto", "pyclblast", "ctypes"), default="auto",
                    help="CLBlast binding for the CPU part; auto: pyclblast when importable, else ctypes")
    ap.add_argument("--cuda-json", help="read the GPU part from a bench/cuda.py result instead of running it")
    ap.add_argument("--out", default=str(ROOT / "bench/results/anchors.json"))
    ap.add_argument("--plot", default=str(ROOT / "bench/results/roofline.png"))
    args = ap.parse_args(argv)
    cpu, checks = (None, []) if args.no_cpu else cpu_part(args.quick, args.clblast_binding)
    gpu, gchecks = gpu_part(args.quick, args.cuda_json)
    checks += gchecks
    print("\ntargets (ratio = baseline time / uhopc time):")
    for c in checks:
        r = "-" if c["ratio"] is None else f"{c['ratio']:.2f}"
        print(f"  {c['device'][:34]:<34} {c['case']:<22} vs {c['baseline']:<18} {r:>6}  target {c['target']:<4} "
              f"{'MET' if c['met'] else 'missed'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "checks": checks, "cpu": cpu,
                               "gpu": gpu}, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    if plot(cpu, gpu, Path(args.plot)):
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
