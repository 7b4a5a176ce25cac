"""Every hostile kernel of tests/ai/cheats/cheat_kernels.py through the real LLM loop (a loopback
OpenAI-compatible server serves it), with the status each got and what the check cost.

    .venv/bin/python bench/cheats.py [--out bench/results/cheats.json] [--only NAME,...]

Prints a table (name, target, status, seconds, reason) and writes JSON. Needs OpenCL (PoCL) for
the OpenCL cheats and NVRTC (or a GPU) for the CUDA ones.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/cuda.py would shadow the `cuda` package of cuda-bindings (NVRTC): drop this folder from the path
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))

from ai.cheats.cheat_kernels import ALL  # noqa: E402
from ai.fake_llm import FAKE_KEY, FakeLLM, reply  # noqa: E402


class _SlowBaseline:
    ok, kernel, spec, timing = True, None, None, {"median_s": 1.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "cheats.json"))
    ap.add_argument("--only", help="comma-separated cheat names")
    args = ap.parse_args()
    from uhop_cc import ir
    from uhop_cc.ai.loop import improve
    from uhop_cc.targets.cuda.runtime import CUDADevice, cuda_available
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    llm = FakeLLM().start()
    tmp = tempfile.mkdtemp(prefix="uhop-cheats-")
    os.environ.update({"UHOP_AI_PROVIDER": "openai-compatible", "UHOP_AI_BASE_URL": llm.url,
                       "UHOP_AI_API_KEY": FAKE_KEY, "UHOP_AI_MODEL": "cheater", "UHOP_DATASET_DIR": tmp})
    devices = {"opencl": OpenCLDevice.open(), "cuda": CUDADevice.open() if cuda_available() else None}
    only = set(args.only.split(",")) if args.only else None
    rows = []
    for c in ALL:
        if only and c.name not in only:
            continue
        bound = ir.bind_shapes(ir.select_kernel(ir.load(c.uir)), dict(c.sizes))
        llm.queue(reply(f"```{c.target}\n{c.source}```"))
        t0 = time.perf_counter()
        out = improve(bound, target=c.target, device=devices[c.target], baseline=_SlowBaseline(), samples=1,
                      rounds=1, time_budget_s=0.05, check_timeout_s=20)
        a = out.attempts[0]
        rows.append({"name": c.name, "target": c.target, "why": c.why, "status": a.status,
                     "caught": a.status not in ("PASSED", "SLOWER"), "seconds": round(time.perf_counter() - t0, 2),
                     "reason": a.reason})
        r = rows[-1]
        print(f"{r['name']:<28} {r['target']:<7} {r['status']:<18} {r['seconds']:>6.2f}s  {r['reason'][:90]}",
              flush=True)
    llm.stop()
    caught = sum(r["caught"] for r in rows)
    secs = [r["seconds"] for r in rows]
    print(f"\n{caught} of {len(rows)} caught; median {statistics.median(secs):.2f} s per candidate "
          f"(max {max(secs):.2f} s)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "caught": caught, "total": len(rows),
                                          "median_s": statistics.median(secs)}, indent=2) + "\n")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
