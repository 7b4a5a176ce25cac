"""`uhopc ai list|show|query|rerun`: the LLM kernel dataset; and the `compile --ai` options.

    from . import ai as ai_cli
    ai_cli.register(sub)                         # the `ai` command group
    ai_cli.add_compile_arguments(compile_parser) # --ai --provider --model --base-url --samples --rounds --no-cache
    opts = ai_cli.compile_options(args)          # None without --ai; else improve() keyword arguments
    compile_bound(..., ai=opts, use_cache=not args.no_cache)

Browsing opens the index read-only and never writes the dataset. An index out of step with the
attempt folders is a warning (an unusable one an error naming `uhopc dataset reindex`); a
locked, damaged or missing piece is a one-line error on stderr with exit 2, never a traceback.
"""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Dict, List, Optional

from .. import targets
from ..dataset.index import DatasetError, scan_dataset
from .device_args import open_device


def register(sub) -> None:
    p = sub.add_parser("ai", help="the LLM kernel dataset: list, show, query, rerun",
                       description="Browse the archive of LLM kernel attempts (UHOP_DATASET_DIR, default "
                                   "~/.uhop_ai_dataset) and re-validate archived kernels.")
    p.add_argument("--dataset", help="dataset folder (default: $UHOP_DATASET_DIR or ~/.uhop_ai_dataset)")
    asub = p.add_subparsers(dest="ai_command", metavar="SUBCOMMAND")
    asub.required = True

    q = asub.add_parser("list", help="the latest attempts")
    q.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0: all)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = asub.add_parser("show", help="one attempt: metadata, stages, and optionally its files")
    q.add_argument("id", help="attempt id (a unique prefix is enough)")
    q.add_argument("--source", action="store_true", help="print the kernel source")
    q.add_argument("--prompt", action="store_true", help="print prompt.txt")
    q.add_argument("--reply", action="store_true", help="print reply.txt")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_show)

    q = asub.add_parser("query", help="attempts matching filters")
    q.add_argument("--device", help="a part of the device name (case-insensitive)")
    q.add_argument("--operation", help="operation category (elementwise, matmul, ...) or kernel name")
    q.add_argument("--target", choices=targets.names())
    q.add_argument("--status", action="append", help="a status (repeatable): PASSED, SLOWER, INCORRECT, ...")
    q.add_argument("--success-only", action="store_true", help="only kernels that passed every check")
    q.add_argument("--limit", type=int, default=0)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_query)

    q = asub.add_parser("rerun", help="re-validate an archived kernel on the current device")
    q.add_argument("id")
    q.add_argument("--device", help="device index or name part (see `uhopc devices`)")
    q.add_argument("--shapes", help="sizes to check at instead of the archived ones (M=..,N=..)")
    q.add_argument("--timeout", type=float, default=60.0, help="time limit of the checking process, seconds")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_rerun)


# ------------------------------------------------------------------ compile --ai
def add_compile_arguments(p) -> None:
    """The `uhopc compile` options of the LLM loop and the kernel cache."""
    g = p.add_argument_group("LLM kernels")
    g.add_argument("--ai", action="store_true", help="ask an LLM for kernels that beat the deterministic one; only a "
                   "kernel that passed every check is used")
    g.add_argument("--provider", help="openai, deepseek, groq, anthropic or openai-compatible "
                   "(default: $UHOP_AI_PROVIDER, else openai)")
    g.add_argument("--model", help="model name (default: per provider, e.g. $UHOP_OPENAI_MODEL)")
    g.add_argument("--base-url", help="server URL for openai-compatible (vLLM, Ollama, llama.cpp); $UHOP_AI_BASE_URL")
    g.add_argument("--samples", type=int, default=2, help="candidates per round (default 2)")
    g.add_argument("--rounds", type=int, default=3, help="rounds of feedback (default 3)")
    g.add_argument("--no-cache", action="store_true", help="do not use the cached best kernel for this device/shape")


def compile_options(args) -> Optional[Dict[str, Any]]:
    """None without --ai; else the keyword arguments of `uhop_cc.ai.loop.improve` (provider, model,
    base_url, samples, rounds; `--no-cache` is `args.no_cache`, for compile_bound's use_cache). Checks the provider first: a missing key exits with
    status 2 and a one-line message naming the variable to set."""
    if not getattr(args, "ai", False):
        return None
    from ..ai.providers import ProviderConfigError, require_sdk, resolve_config
    try:
        resolve_config(args.provider, args.model, args.base_url)
        require_sdk()
    except ProviderConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    if args.samples < 1 or args.rounds < 1:
        print("error: --samples and --rounds must be at least 1", file=sys.stderr)
        raise SystemExit(2)
    return {"provider": args.provider, "model": args.model, "base_url": args.base_url, "samples": args.samples,
            "rounds": args.rounds}


# ------------------------------------------------------------------ commands
def _dataset_errors(cmd: Callable[[Any], int]) -> Callable[[Any], int]:
    """A dataset the command cannot use is a one-line error and exit 2, not a traceback."""
    @functools.wraps(cmd)
    def run(args) -> int:
        try:
            return cmd(args)
        except DatasetError as e:
            print(f"uhopc: {e}", file=sys.stderr)
            return 2
    return run


def _checked_store(args):
    """The store, after comparing its index with the folders: a warning when they are out of step,
    DatasetError when the index cannot answer (damaged, locked, or empty beside attempt folders)."""
    st = _store(args)
    scan = scan_dataset(st.root)
    if not scan.usable:
        raise DatasetError(scan.describe(), st.db_path, scan.state)
    if not scan.in_step:
        print(f"uhopc: warning: {scan.describe()}", file=sys.stderr)
    return st


def _store(args):
    from ..dataset.store import DatasetStore
    return DatasetStore(args.dataset)


def _fmt_s(v) -> str:
    if v is None:
        return "-"
    return f"{v * 1e3:.4f}ms"


def _table(rows: List[Dict[str, Any]]) -> str:
    if not rows:
        return "no attempts"
    head = ("id", "kernel", "category", "target", "device", "model", "r.s", "status", "median", "speedup")
    body = [(r["id"], r["kernel"] or "", r["category"] or "", r["target"] or "", (r["device"] or "")[:28],
             (r["model"] or "")[:20], f"{r['round']}.{r['sample']}", r["status"], _fmt_s(r["median_s"]),
             f"{r['speedup']:.2f}x" if r.get("speedup") else "-") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in (head, *body))


@_dataset_errors
def cmd_list(args) -> int:
    rows = _checked_store(args).query(limit=args.limit or None)
    print(json.dumps(rows, indent=2) if args.json else _table(rows))
    return 0


@_dataset_errors
def cmd_query(args) -> int:
    rows = _checked_store(args).query(device=args.device, operation=args.operation, target=args.target,
                              status=[s.upper() for s in args.status] if args.status else None,
                              success_only=args.success_only, limit=args.limit or None)
    print(json.dumps(rows, indent=2) if args.json else _table(rows))
    return 0


@_dataset_errors
def cmd_show(args) -> int:
    st = _store(args)
    try:
        meta = st.get(args.id)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 1
    extra: Dict[str, str] = {}
    wanted = {"source": args.source and meta.get("source_file"), "prompt": args.prompt and "prompt.txt",
              "reply": args.reply and "reply.txt"}
    for key, name in wanted.items():
        if name:
            try:
                extra[key] = st.read(meta["id"], name)
            except OSError as e:
                raise DatasetError(f"attempt {meta['id']}: cannot read {name} ({e.strerror or e})") from None
    if args.json:
        print(json.dumps(dict(meta, **extra), indent=2))
        return 0
    sizes = ", ".join(f"{k}={v}" for k, v in (meta.get("sizes") or {}).items())
    lines = [f"{meta['id']}  {meta['status']}" + (f": {meta['reason']}" if meta.get("reason") else ""),
             f"  kernel     {meta['kernel']} [{meta['category']}] ({sizes}) -> {meta['target']}",
             f"  device     {meta['device']}",
             f"  provider   {meta['provider']} ({meta['model']}), round {meta['round']}, sample {meta['sample']}",
             f"  time       {_fmt_s(meta.get('median_s'))} vs baseline {_fmt_s(meta.get('baseline_s'))}"
             + (f" ({meta['speedup']:.2f}x)" if meta.get("speedup") else ""),
             f"  created    {meta['created']}",
             f"  folder     {meta['folder']}  ({', '.join(meta['files'])})"]
    for s in (meta.get("extra") or {}).get("stages", []):
        ok = {True: "ok", False: "FAIL", None: "-"}.get(s.get("ok"), str(s.get("ok")))
        info = s.get("reason") or s.get("where") or ""
        secs = f" {s['seconds']:.3f}s" if isinstance(s.get("seconds"), (int, float)) else ""
        lines.append(f"  stage      {s.get('stage')}: {ok}{secs}" + (f"  {info}" if info else ""))
    print("\n".join(lines))
    for k, text in extra.items():
        print(f"\n----- {k} -----\n{text.rstrip()}")
    return 0


@_dataset_errors
def cmd_rerun(args) -> int:
    from ..ai.loop import rerun
    device = None
    st = _store(args)
    try:
        meta = st.get(args.id)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 1
    if args.device is not None and meta.get("target") in targets.runnable():
        device = open_device(args.device, meta["target"])
    sizes = None
    if args.shapes:
        from .. import ir
        try:
            uir = (meta.get("extra") or {}).get("uir") or st.read(meta["id"], "program.uir")
        except OSError as e:
            raise DatasetError(f"attempt {meta['id']}: no UIR program to re-shape ({e.strerror or e})") from None
        sizes = ir.parse_shapes(args.shapes, ir.select_kernel(ir.load(uir), meta.get("kernel")))
    try:
        res = rerun(meta["id"], dataset_dir=st.root, device=device, sizes=sizes, check_timeout_s=args.timeout)
    except OSError as e:  # a kernel file deleted from the folder
        raise DatasetError(f"attempt {meta['id']}: cannot read its files ({e.strerror or e}); "
                           f"run `uhopc dataset fsck {st.root}`") from None
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        sizes = ", ".join(f"{k}={v}" for k, v in (res.get("sizes") or {}).items())
        print(f"{res['id']}: {res['status']}" + (f" ({res['reason']})" if res.get("reason") else ""))
        print(f"  on {res.get('device')} at {sizes}; archived {res.get('archived_status')} on "
              f"{res.get('archived_device')}")
        if res.get("median_s"):
            rel = f" ({res['speedup_vs_archived']:.2f}x the archived time)" if res.get("speedup_vs_archived") else ""
            print(f"  time {_fmt_s(res['median_s'])}, archived {_fmt_s(res.get('archived_median_s'))}{rel}")
    return 0 if res["status"] in ("PASSED", "SLOWER") else 1
