#!/usr/bin/env python3
"""Generated CUDA kernels vs cuBLAS / cuDNN / PyTorch on the same NVIDIA GPU (and, with --opencl,
the OpenCL target on the same GPU through NVIDIA's OpenCL driver).

    python3 bench/cuda.py [--quick] [--opencl] [--sweep] [--cases sgemm-4096,relu-256M] [--out bench/results/cuda.json]

Per case: the kernel uhopc picks for CUDA (a CUDA template when one matches, else the generic
lowering), validated against the reference interpreter at a small shape (same source: sizes are
kernel arguments), checked at full size against PyTorch, and timed with CUDA events
(`verify.timing.time_launch`). Baselines, all fp32 and timed with CUDA events: SGEMM vs cuBLAS
through torch.matmul with TF32 off; relu, softmax and layernorm vs PyTorch; conv2d vs cuDNN (torch conv2d,
TF32 off); the 2-D and 3-D stencils vs the same stencil as a cuDNN convolution; every memory-bound case
also vs the device's copy bandwidth (torch clone of a large tensor, bytes read + written). --sweep
times every parameter set of the template's space too.

--opencl (the environment must already point the ICD loader at NVIDIA's driver, e.g.
`mkdir -p /tmp/icd && echo /usr/local/nvidia/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd &&
export OCL_ICD_VENDORS=/tmp/icd`) also compiles every case for OpenCL with
`uhop_cc.pipeline.compile_bound(bound, device=OpenCLDevice.open())` (timed at full size) and
validates the chosen source at the small shape. One failing case never stops the table.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# this file is named cuda.py: keep its folder off the path, or `import cuda.bindings` would find it
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

from uhop_cc import ir  # noqa: E402
from uhop_cc.codegen.launch import parse_launch  # noqa: E402

# name: (file, kernel, full sizes, quick sizes, small validation sizes, baseline kind)
CASES: Dict[str, tuple] = {
    "sgemm-4096": ("matmul.uir", None, dict(M=4096, K=4096, N=4096), dict(M=1024, K=1024, N=1024),
                   dict(M=256, K=96, N=320), "sgemm"),
    "sgemm-8192": ("matmul.uir", None, dict(M=8192, K=8192, N=8192), dict(M=2048, K=2048, N=2048),
                   dict(M=200, K=136, N=264), "sgemm"),
    "relu-256M": ("relu.uir", None, dict(N=256 << 20), dict(N=16 << 20), dict(N=100003), "relu"),
    "softmax-8192x8192": ("softmax.uir", None, dict(R=8192, C=8192), dict(R=2048, C=2048), dict(R=37, C=8192),
                          "softmax"),
    "layernorm-8192x8192": ("layernorm.uir", None, dict(R=8192, C=8192), dict(R=2048, C=2048), dict(R=37, C=8192),
                            "layernorm"),
    "conv2d-32x64x112-128x3x3": ("conv2d.uir", None, dict(N=32, C=64, H=112, W=112, K=128, R=3, S=3),
                                 dict(N=4, C=64, H=56, W=56, K=64, R=3, S=3),
                                 dict(N=2, C=5, H=9, W=11, K=4, R=3, S=3), "conv2d"),
    "jacobi2d-8192": ("stencil2d.uir", None, dict(H=8194, W=8194), dict(H=2050, W=2050), dict(H=37, W=45),
                      "jacobi2d"),
    "heat3d-512": ("stencil3d.uir", None, dict(D=514, H=514, W=514), dict(D=130, H=130, W=130),
                   dict(D=9, H=10, W=37), "heat3d"),
}
MEMORY_BOUND = ("relu", "softmax", "layernorm", "jacobi2d", "heat3d")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bind(case: str, sizes: Dict[str, int]):
    file, kname, *_ = CASES[case]
    ks = ir.load_file(ROOT / "examples" / file)
    k = ks[0] if kname is None else next(k for k in ks if k.name == kname)
    return ir.bind_shapes(k, sizes)


def random_inputs(bound, seed: int) -> Dict[str, np.ndarray]:
    """Uniform [-1, 1) float32 inputs, generated in float32 (fast at 256M elements)."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in bound.checked.inputs:
        shape = tuple(bound.shapes[p.name])
        a = rng.random(size=shape, dtype=np.float32)
        a *= 2.0
        a -= 1.0
        out[p.name] = a
    return out


# ------------------------------------------------------------------ torch side
def torch_time(fn: Callable[[], Any], warmup: int = 3, iters: int = 20, budget_s: float = 3.0) -> float:
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples: List[float] = []
    t_end = time.perf_counter() + budget_s
    while len(samples) < iters and (len(samples) < 5 or time.perf_counter() < t_end):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        samples.append(s.elapsed_time(e) * 1e-3)
    return statistics.median(samples)


def torch_reference(kind: str, inputs: Dict[str, np.ndarray]):
    """(function computing the reference on GPU tensors, its tensors) for a baseline kind."""
    import torch
    t = {k: torch.from_numpy(v).cuda() for k, v in inputs.items()}
    if kind == "sgemm":
        A, B = t["A"], t["B"]
        return (lambda: torch.matmul(A, B)), t
    if kind == "relu":
        X = t["X"]
        return (lambda: torch.relu(X)), t
    if kind == "softmax":
        X = t["X"]
        return (lambda: torch.softmax(X, dim=1)), t
    if kind == "layernorm":
        X, G, B = t["X"], t["G"], t["B"]
        return (lambda: torch.nn.functional.layer_norm(X, (X.shape[1],), G, B, eps=1e-5)), t
    if kind == "conv2d":
        X, F = t["X"], t["F"]
        return (lambda: torch.nn.functional.conv2d(X, F)), t
    if kind == "jacobi2d":  # the 5-point stencil as a 3x3 cuDNN convolution
        X = t["X"][None, None]
        Wt = torch.tensor([[0, 0.2, 0], [0.2, 0.2, 0.2], [0, 0.2, 0]], device="cuda")[None, None]
        return (lambda: torch.nn.functional.conv2d(X, Wt)[0, 0]), t
    if kind == "heat3d":  # the 7-point stencil as a 3x3x3 cuDNN convolution
        U, a = t["U"][None, None], float(inputs["alpha"])
        Wt = torch.zeros((3, 3, 3), device="cuda")
        for z, y, x in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
            Wt[z, y, x] = a
        Wt[1, 1, 1] = 1.0 - 6.0 * a
        Wt = Wt[None, None]
        return (lambda: torch.nn.functional.conv3d(U, Wt)[0, 0]), t
    raise ValueError(kind)


def copy_bandwidth(nbytes: int) -> float:
    """GB/s of a torch clone of `nbytes` (bytes read + written)."""
    import torch
    bufs = [torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()]
    sec = torch_time(lambda: bufs[0].clone(), warmup=3, iters=30)
    bufs.clear()
    torch.cuda.empty_cache()
    return 2 * nbytes / sec / 1e9


# ------------------------------------------------------------------ our kernels
def cuda_kernel(device, bound, params: Optional[dict] = None):
    """The kernel uhopc picks for CUDA: the first matching CUDA template (device defaults, or `params`),
    else the generic lowering."""
    from uhop_cc.targets.cuda.renderer import CUDARenderer
    from uhop_cc.targets.cuda.templates import select_template
    found = select_template(bound)
    if found:
        t, m = found
        try:
            return t.render(m, params or t.space(m, device.fingerprint())[0])
        except Exception as e:  # noqa: BLE001 - a template bug: fall back, but say so
            say(f"  template {t.name} failed to render: {e}; using the generic lowering")
    return CUDARenderer().generic(bound.checked)


def rel_error(got: np.ndarray, ref: np.ndarray) -> float:
    got = got.astype(np.float64).ravel()
    ref = ref.astype(np.float64).ravel()
    den = np.linalg.norm(ref)
    return float(np.linalg.norm(got - ref) / den) if den else float(np.linalg.norm(got))


def template_space(device, bound) -> List[dict]:
    """Every parameter set of the matching CUDA template's space for this device (none: generic)."""
    from uhop_cc.targets.cuda.templates import select_template
    found = select_template(bound)
    return found[0].space(found[1], device.fingerprint()) if found else []


def run_cuda(case: str, sizes, small, kind: str, device, budget: float, ref_out: Optional[np.ndarray],
             inputs, params: Optional[dict] = None) -> Dict[str, Any]:
    from uhop_cc.verify.timing import time_launch
    from uhop_cc.verify.validate import validate
    bound = bind(case, sizes)
    gen = cuda_kernel(device, bound, params)
    rec: Dict[str, Any] = {"target": "cuda" if params is None else "cuda-sweep", "strategy": gen.strategy,
                           "params": dict(gen.params)}
    stages = parse_launch(gen.source)
    build = device.build(gen.source)
    rec["build"] = {"ok": build.ok, "seconds": build.seconds, "functions": build.functions}
    if not build.ok:
        rec["error"] = "build failed: " + build.log[-2000:]
        return rec
    try:
        say(f"  cuda {gen.strategy}: validating at {small}")
        rep = validate(device, build, stages, bind(case, small))
        rec["validation"] = {"ok": rep.ok, "reason": rep.reason, "sizes": small}
        say(f"  cuda {gen.strategy}: timing at {sizes}")
        prep = device.prepare(build, stages, bound, inputs)
        try:
            timing = time_launch(prep, budget_s=budget, max_runs=200)
            if ref_out is not None:
                out = next(iter(prep.read_outputs().values()))
                rec["full_check_rel_err"] = rel_error(out, ref_out)
        finally:
            prep.release()
        rec["median_s"] = timing.median_s
        rec["timing"] = timing.to_json()
    finally:
        build.release()
    return rec


def run_opencl(case: str, sizes, small, ocl, budget: float) -> Dict[str, Any]:
    from uhop_cc.pipeline import compile_bound
    from uhop_cc.verify.validate import validate
    bound = bind(case, sizes)
    say(f"  opencl: compile_bound at {sizes}")
    res = compile_bound(bound, device=ocl, validate=False, time=True, time_budget_s=budget)
    rec: Dict[str, Any] = {"target": "opencl", "ok": res.ok, "reason": res.reason,
                           "strategy": res.kernel.strategy if res.kernel else None,
                           "params": dict(res.kernel.params) if res.kernel else None,
                           "attempts": [a.to_json() for a in res.attempts]}
    if not res.ok or not res.timing:
        rec["error"] = res.reason or "no timing"
        return rec
    rec["median_s"] = res.timing["median_s"]
    rec["timing"] = res.timing
    say(f"  opencl {rec['strategy']}: validating at {small}")
    rep = validate(ocl, res.program, parse_launch(res.kernel.source), bind(case, small))
    rec["validation"] = {"ok": rep.ok, "reason": rep.reason, "sizes": small}
    return rec


def perf_fields(kind: str, bound, sec: float) -> Dict[str, float]:
    from uhop_cc.lower import build_spec
    spec = build_spec(bound)
    return {"tflops": spec.flops / sec / 1e12 if spec.flops else None, "gbps": spec.bytes_min / sec / 1e9}


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a couple of minutes)")
    ap.add_argument("--opencl", action="store_true", help="also run the OpenCL target (ICD env must be set)")
    ap.add_argument("--cases", help="comma-separated case names (default: all)")
    ap.add_argument("--budget", type=float, default=2.0, help="timing budget per kernel, seconds")
    ap.add_argument("--device", default=None, help="CUDA device index or name part")
    ap.add_argument("--sweep", action="store_true",
                    help="also time every other parameter set of the template's space (rows `cuda-sweep`)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "cuda.json"))
    args = ap.parse_args(argv)

    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    from uhop_cc.targets.cuda.runtime import CUDADevice
    dev_arg = int(args.device) if args.device and args.device.isdigit() else args.device
    device = CUDADevice.open(dev_arg)
    torch.cuda.set_device(device.index)
    torch.cuda.init()
    fp = device.fingerprint()
    say(f"device: {fp['name']} (sm_{fp['compute_capability'].replace('.', '')}, {fp['sm_count']} SMs, "
        f"driver {fp['driver_version']}, NVRTC {fp['nvrtc_version']}, torch {torch.__version__})")
    ocl = None
    ocl_error = None
    if args.opencl:
        try:
            from uhop_cc.targets.opencl.runtime import OpenCLDevice
            ocl = OpenCLDevice.open("NVIDIA")
            say(f"opencl device: {ocl.name} ({ocl.fingerprint().get('platform')})")
        except Exception as e:  # noqa: BLE001
            ocl_error = f"{type(e).__name__}: {e}"
            say(f"opencl unavailable: {ocl_error}")

    cases = [c.strip() for c in args.cases.split(",")] if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")

    results: Dict[str, Any] = {"device": fp, "torch": torch.__version__, "python": platform.python_version(),
                               "quick": args.quick, "tf32": False, "opencl_error": ocl_error, "cases": []}
    copy_bytes = (256 << 20) * 4 if not args.quick else (16 << 20) * 4
    try:
        results["copy_gbps"] = copy_bandwidth(copy_bytes)
        say(f"copy bandwidth (torch clone of {copy_bytes >> 20} MiB): {results['copy_gbps']:.0f} GB/s")
    except Exception as e:  # noqa: BLE001
        results["copy_gbps"] = None
        say(f"copy bandwidth failed: {e}")

    for case in cases:
        file, _k, full, quick, small, kind = CASES[case]
        sizes = quick if args.quick else full
        entry: Dict[str, Any] = {"case": case, "sizes": sizes, "kind": kind, "runs": []}
        results["cases"].append(entry)
        say(f"[{case}] {sizes}")
        bound = bind(case, sizes)
        inputs = ref = None
        try:
            t0 = time.perf_counter()
            inputs = random_inputs(bound, 7)
            fn, tens = torch_reference(kind, inputs)
            sec = torch_time(fn)
            ref = fn().float().cpu().numpy()
            base = {"name": {"sgemm": "cuBLAS (torch.matmul, TF32 off)", "conv2d": "cuDNN (torch conv2d, TF32 off)",
                             "jacobi2d": "cuDNN (torch conv2d 3x3)", "heat3d": "cuDNN (torch conv3d 3x3x3)"}
                    .get(kind, f"PyTorch {kind}"), "median_s": sec, **perf_fields(kind, bound, sec)}
            entry["baseline"] = base
            del tens, fn
            torch.cuda.empty_cache()
            say(f"  baseline {base['name']}: {sec * 1e3:.3f} ms ({time.perf_counter() - t0:.1f} s with setup)")
        except Exception as e:  # noqa: BLE001
            entry["baseline_error"] = f"{type(e).__name__}: {e}"
            say(f"  baseline failed: {entry['baseline_error']}")
        try:
            if inputs is None:
                inputs = random_inputs(bound, 7)
            rec = run_cuda(case, sizes, small, kind, device, args.budget, ref, inputs)
        except Exception as e:  # noqa: BLE001
            rec = {"target": "cuda", "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-3000:]}
        entry["runs"].append(rec)
        if args.sweep:
            for params in template_space(device, bound)[1:]:
                try:
                    rec = run_cuda(case, sizes, small, kind, device, args.budget, ref, inputs, params)
                except Exception as e:  # noqa: BLE001
                    rec = {"target": "cuda-sweep", "params": params, "error": f"{type(e).__name__}: {e}"}
                entry["runs"].append(rec)
        del inputs, ref
        if ocl is not None:
            try:
                rec = run_opencl(case, sizes, small, ocl, args.budget)
            except Exception as e:  # noqa: BLE001
                rec = {"target": "opencl", "error": f"{type(e).__name__}: {e}",
                       "trace": traceback.format_exc()[-3000:]}
            entry["runs"].append(rec)
        for rec in entry["runs"]:
            if rec.get("median_s"):
                rec.update(perf_fields(kind, bound, rec["median_s"]))
                b = entry.get("baseline")
                if b and b.get("median_s"):
                    rec["ratio_vs_baseline"] = b["median_s"] / rec["median_s"]
                if kind in MEMORY_BOUND and results.get("copy_gbps"):
                    rec["ratio_vs_copy"] = rec["gbps"] / results["copy_gbps"]
            state = "error: " + rec["error"].splitlines()[0][:200] if rec.get("error") else \
                f"{rec['median_s'] * 1e3:.3f} ms, x{rec.get('ratio_vs_baseline', float('nan')):.2f} of baseline"
            say(f"  {rec['target']}: {state}")
        write(results, args.out)
    print_table(results)
    write(results, args.out)
    say(f"wrote {args.out}")
    return 0


def write(results, path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (np.floating, np.integer)):
            return x.item()
        return x

    p.write_text(json.dumps(clean(results), indent=2) + "\n")


def print_table(results) -> None:
    rows = [("case", "target", "kernel", "ms", "TFLOP/s", "GB/s", "baseline ms", "x baseline", "x copy", "valid")]
    for e in results["cases"]:
        b = e.get("baseline") or {}
        swept = any(r["target"] == "cuda-sweep" for r in e["runs"])
        rows.append((e["case"], "baseline", b.get("name", e.get("baseline_error", "?"))[:28],
                     f"{b['median_s'] * 1e3:.3f}" if b.get("median_s") else "-",
                     f"{b['tflops']:.2f}" if b.get("tflops") else "-",
                     f"{b['gbps']:.0f}" if b.get("gbps") else "-", "", "", "", ""))
        for r in e["runs"]:
            if r.get("error"):
                rows.append((e["case"], r["target"], r.get("strategy") or "-", "ERROR", "", "", "", "",
                             "", r["error"].splitlines()[0][:60]))
                continue
            v = r.get("validation") or {}
            label = str(r.get("strategy"))
            if swept and r["target"] in ("cuda", "cuda-sweep"):  # tell the parameter sets apart
                label += " " + ",".join(f"{k}{v}" for k, v in r["params"].items())
            rows.append((e["case"], r["target"], label,
                         f"{r['median_s'] * 1e3:.3f}",
                         f"{r['tflops']:.2f}" if r.get("tflops") else "-", f"{r['gbps']:.0f}",
                         f"{b['median_s'] * 1e3:.3f}" if b.get("median_s") else "-",
                         f"{r['ratio_vs_baseline']:.2f}" if r.get("ratio_vs_baseline") else "-",
                         f"{r['ratio_vs_copy']:.2f}" if r.get("ratio_vs_copy") else "-",
                         ("PASS" if v.get("ok") else "FAIL") + (f" err {r['full_check_rel_err']:.1e}"
                                                              if r.get("full_check_rel_err") is not None else "")))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    fpd = results["device"]
    print(f"\n{fpd['name']}  (copy bandwidth {results.get('copy_gbps') or 0:.0f} GB/s, torch {results['torch']})")
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main())
