"""`uhopc tune`: search a template's schedule space and cache the best per device and shape."""
from __future__ import annotations

import json
import sys

from .. import targets
from .device_args import bind_args, open_device


def register(sub) -> None:
    p = sub.add_parser("tune", help="search schedules for a kernel and cache the fastest",
                       description="Search the matching template's schedule space (device-pruned neighbourhood "
                                   "of its curated candidates, successive halving), validate every candidate, "
                                   "time it with the native harness and cache the best per device, target, kernel "
                                   "and shape. `uhopc compile` then uses the cached schedule.")
    p.add_argument("file", nargs="?")
    p.add_argument("--target", default=targets.DEFAULT, choices=targets.runnable())
    p.add_argument("--shapes")
    p.add_argument("--kernel")
    p.add_argument("--device")
    p.add_argument("--budget", type=float, default=60.0, help="seconds to spend (default 60)")
    p.add_argument("--max-candidates", type=int, default=24)
    p.add_argument("--show", action="store_true", help="list the cached schedules instead of tuning")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tune)


def cmd_tune(args) -> int:
    from ..tune import cache_path, load_all, tune
    if args.show:
        entries = load_all()
        if args.json:
            print(json.dumps([e.to_json() for e in entries], indent=2))
            return 0
        print(f"tuned schedules in {cache_path()}:")
        if not entries:
            print("  (none yet: run `uhopc tune FILE.uir --shapes ...`)")
        for e in entries:
            sizes = ",".join(f"{k}={v}" for k, v in e.sizes.items())
            speed = f"  {e.speedup:.2f}x vs default" if e.speedup else ""
            print(f"  {e.device} | {e.target} | {e.kernel} ({sizes}) -> {e.template} {e.params}  "
                  f"{e.median_s * 1e3:.4f} ms{speed}")
        return 0
    if not args.file:
        print("error: a FILE.uir is needed (or --show)", file=sys.stderr)
        return 2
    from ..stages import device_runs
    bound = bind_args(args)
    device = open_device(args.device, args.target)
    if not device_runs(device):  # a compile-only device (CUDA with NVRTC only)
        print(f"error: no {args.target.upper()} device here; tuning needs to run kernels", file=sys.stderr)
        return 2
    print(f"tuning {bound.name} ({', '.join(f'{k}={v}' for k, v in bound.sizes.items())}) on {device.name} "
          f"for up to {args.budget:.0f} s", file=sys.stderr)
    res = tune(bound, device, target=args.target, budget_s=args.budget, max_candidates=args.max_candidates,
               progress=not args.json)
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
        return 0 if res.best else 1
    if res.best is None:
        print(f"{bound.name}: {res.reason}")
        return 1
    ok = sum(1 for c in res.candidates if c.medians)
    print(f"{bound.name}: template {res.template}, {len(res.candidates)} candidates "
          f"({ok} timed, {sum(1 for c in res.candidates if c.status in ('pruned', 'build_error', 'invalid'))} "
          f"pruned or failed) in {res.seconds:.1f} s")
    print(f"  best     {res.best.params}  {res.best.best * 1e3:.4f} ms")
    if res.default and res.default.medians:
        print(f"  default  {res.default.params}  {res.default.best * 1e3:.4f} ms  "
              f"-> {res.speedup:.2f}x")
    if res.cached:
        print("  cached for `uhopc compile` on this device")
    return 0
