#!/usr/bin/env python3
"""64-bit indices: what they cost at small shapes, and that shapes past 2^31 elements run correctly.

    python3 bench/wide_indices.py [--target opencl|cuda ...] [--big] [--repeat 2] [--out FILE]

Part 1 (any device): each case is compiled twice in the same run, once with the width uhopc picks for
the shape (32-bit there) and once forced to 64-bit (`index_bits=64`), and timed; the ratio is
64-bit median / 32-bit median (1.00 = no cost). Part 2 (`--big`, a GPU with ~20 GB free): relu at
46341 x 46341 = 2,147,488,281 elements, past 2^31 - 1, compiled with uhopc's own choice (64-bit),
validated against the reference interpreter and timed. Prints a table, writes JSON.
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
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/cuda.py shadows `cuda`
sys.path.insert(0, str(ROOT))

from uhop_cc import ir  # noqa: E402
from uhop_cc.pipeline import compile_bound  # noqa: E402

RELU = "kernel relu(X: f32[M, N]) -> (Y: f32[M, N]) {\n    Y[i, j] = relu(X[i, j])\n}\n"
SMALL = {
    "relu-4096x4096": (RELU, {"M": 4096, "N": 4096}),
    "matmul-1024": ((ROOT / "examples" / "matmul.uir").read_text(), {"M": 1024, "K": 1024, "N": 1024}),
    "softmax-2048x2048": ((ROOT / "examples" / "softmax.uir").read_text(), {"R": 2048, "C": 2048}),
    "jacobi2d-2050": ((ROOT / "examples" / "stencil2d.uir").read_text(), {"H": 2050, "W": 2050}),
}
BIG = {"relu-46341x46341": (RELU, {"M": 46341, "N": 46341})}


def device_for(target: str):
    if target == "cuda":
        from uhop_cc.targets.cuda.runtime import CUDADevice
        return CUDADevice.open()
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    return OpenCLDevice.open()


def one(dev, target: str, text: str, sizes: dict, params, budget: float) -> dict:
    b = ir.bind_shapes(ir.load(text)[0], sizes)
    t0 = time.perf_counter()
    r = compile_bound(b, target=target, device=dev, params=params, time_budget_s=budget, use_cache=False)
    out = {"status": r.status, "reason": r.reason, "strategy": r.kernel.strategy if r.kernel else None,
           "index_bits": (r.kernel.params.get("index_bits", 32) if r.kernel else None),
           "spec_index_bits": r.spec.index_bits, "median_s": (r.timing or {}).get("median_s"),
           "validation": {k: v for k, v in (r.validation or {}).items() if k in ("ok", "reason", "max_abs_err")},
           "wall_s": round(time.perf_counter() - t0, 2)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", action="append", choices=["opencl", "cuda"])
    ap.add_argument("--big", action="store_true", help="also run the 2^31+ element case")
    ap.add_argument("--repeat", type=int, default=2, help="runs of the whole small table (to see how much it moves)")
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--out", default="bench/results/wide_indices.json")
    a = ap.parse_args()
    targets = a.target or ["opencl"]
    result = {"host": platform.node(), "runs": []}
    print(f"{'target':7} {'case':20} {'strategy':12} {'32-bit ms':>10} {'64-bit ms':>10} {'64/32':>6}  status")
    for target in targets:
        dev = device_for(target)
        result.setdefault("devices", {})[target] = dev.fingerprint().get("name")
        for rep in range(a.repeat):
            for case, (text, sizes) in SMALL.items():
                narrow = one(dev, target, text, sizes, None, a.budget)
                wide = one(dev, target, text, sizes, {"index_bits": 64}, a.budget)
                ratio = (wide["median_s"] / narrow["median_s"]) if narrow["median_s"] and wide["median_s"] else None
                result["runs"].append({"target": target, "case": case, "repeat": rep, "narrow": narrow,
                                       "wide": wide, "ratio": ratio})
                ms = lambda r: f"{r['median_s'] * 1e3:10.3f}" if r["median_s"] else f"{'-':>10}"  # noqa: E731
                print(f"{target:7} {case:20} {str(narrow['strategy']):12} {ms(narrow)} {ms(wide)} "
                      f"{ratio if ratio is None else f'{ratio:6.2f}'}  {narrow['status']}/{wide['status']} "
                      f"(bits {narrow['index_bits']}/{wide['index_bits']})", flush=True)
        if a.big:
            for case, (text, sizes) in BIG.items():
                r = one(dev, target, text, sizes, None, a.budget)
                result["runs"].append({"target": target, "case": case, "big": r})
                ms = f"{r['median_s'] * 1e3:.3f} ms" if r["median_s"] else "-"
                print(f"{target:7} {case:20} {str(r['strategy']):12} {ms:>21} {'':6}  {r['status']} "
                      f"(bits {r['index_bits']}, spec {r['spec_index_bits']}) {r['validation']} {r['reason']}",
                      flush=True)
    ratios = [r["ratio"] for r in result["runs"] if r.get("ratio")]
    if ratios:
        result["median_ratio"] = statistics.median(ratios)
        print(f"median 64/32 ratio over {len(ratios)} pairs: {result['median_ratio']:.3f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
