"""`uhopc campaign run|status` and `uhopc dataset analyze|export|fsck|reindex`.

Browsing (campaign status, dataset analyze/export/fsck) opens the databases read-only; a
locked, damaged or unreadable database is a one-line error (exit 2), records that could not be
read are named on stderr (exit 1), and `dataset reindex` rebuilds the index from the folders.

    from . import campaign
    campaign.register(sub)   # adds the `campaign` and `dataset` command groups
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any, Dict

from ..dataset.index import DatasetError, describe_skipped, index_error


def register(sub) -> None:
    p = sub.add_parser("campaign", help="produce validated training records: random UIR programs by category",
                       description="Generate random UIR programs across categories, lower them, validate and "
                                   "time them on the device, and archive the records in the dataset. "
                                   "Interrupted campaigns resume where they stopped.")
    csub = p.add_subparsers(dest="campaign_command", metavar="SUBCOMMAND")
    csub.required = True
    q = csub.add_parser("run", help="run or resume a campaign from a TOML config")
    q.add_argument("config", help="campaign TOML (see examples/campaign.toml)")
    q.add_argument("--ray", metavar="ADDRESS", help="run the work items on Ray: a cluster address, `auto` "
                   "(the running cluster) or `local` (start one here)")
    q.add_argument("--workers", type=int, help="local worker processes (0: in this process; default from config)")
    q.add_argument("--out", help="campaign directory (default: the config's campaign.out)")
    q.add_argument("--records", type=int, help="records per category to reach (overrides the config)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.set_defaults(func=cmd_run)
    q = csub.add_parser("status", help="what a campaign directory holds: balance, success rates, failures")
    q.add_argument("dir")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_status)

    p = sub.add_parser("dataset", help="analyse or export a kernel dataset (campaign or AI loop)",
                       description="Reports and training exports of a dataset directory (or a campaign directory).")
    dsub = p.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND")
    dsub.required = True
    q = dsub.add_parser("analyze", help="distributions, pattern coverage, complexity, quality")
    q.add_argument("dir", help="dataset directory or campaign directory")
    q.add_argument("--html", metavar="OUT", help="also write an HTML report with plots")
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.add_argument("--no-reanalyze", action="store_true", help="do not run the analyzer on records without analysis")
    q.set_defaults(func=cmd_analyze)
    q = dsub.add_parser("export", help="write the records for training (JSON Lines or Parquet)")
    q.add_argument("dir", help="dataset directory or campaign directory")
    q.add_argument("--format", choices=["jsonl", "parquet"], help="default: from the output suffix")
    q.add_argument("-o", "--output", required=True, help="output file")
    q.add_argument("--include-failures", action="store_true", help="also export failing kernels")
    q.set_defaults(func=cmd_export)
    q = dsub.add_parser("fsck", help="check the index against the attempt folders (read-only)",
                        description="Report index rows without folders, folders without index rows and records "
                                    "that cannot be read. Writes nothing. Exit 0: consistent, 1: problems found.")
    q.add_argument("dir", help="dataset directory or campaign directory")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_fsck)
    q = dsub.add_parser("reindex", help="rebuild the index from the attempt folders",
                        description="The attempt folders are the source of truth: index every readable record, "
                                    "drop rows whose folder is gone (the old index is copied to "
                                    "index.sqlite.bak-<time> first) and move a damaged index aside to "
                                    "index.sqlite.bad-<time>. Unreadable records are reported, never deleted.")
    q.add_argument("dir", help="dataset directory or campaign directory")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_reindex)


def _err(msg: str) -> int:
    print(f"uhopc: {msg}", file=sys.stderr)
    return 2


def cmd_run(args) -> int:
    from ..campaign import ConfigError, load_config, run_campaign
    from ..campaign.state import StateError
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        return _err(str(e))
    if args.records is not None:
        cfg.records_per_category = args.records
    if args.no_progress:
        cfg.progress = False
    try:
        res = run_campaign(cfg, args.out, ray_address=args.ray, workers=args.workers)
    except (StateError, RuntimeError, ConfigError) as e:
        return _err(str(e))
    if args.json:
        print(json.dumps(res.to_json(), indent=2, default=str))
    else:
        print(f"campaign {cfg.name}: {res.records_this_run} records this run "
              f"({res.records_per_s:.2f} records/s, {res.items_per_s:.2f} items/s, {res.executor}), "
              f"{res.failures_this_run} failures, {res.duplicates_this_run} duplicates"
              + (" [resumed]" if res.resumed else "") + (" [interrupted]" if res.interrupted else "")
              + ("" if res.complete or res.interrupted else " [incomplete: out of programs]"))
        print(_status_table(res.summary, res.balance))
        print(f"dataset: {res.dataset_dir}")
    return 130 if res.interrupted else 0


def _status_table(summary: Dict[str, Any], balance: Dict[str, Dict[str, int]]) -> str:
    rows = [["category", "records", "reserved", "passed", "failed", "dup", "success", "top failure"]]
    for c, d in summary.get("categories", {}).items():
        rate = d.get("success_rate")
        top = next(iter(d.get("failure_reasons") or {}), "")
        rows.append([c, d["records"], d["reserved"], d["passed"], d["failed"], d["duplicates"],
                     "-" if rate is None else f"{rate * 100:.0f}%", top[:70]])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    for g, counts in (balance or {}).items():
        if counts:
            lines.append(f"balance {g}: min {min(counts.values())}, max {max(counts.values())}")
    return "\n".join(lines)


def cmd_status(args) -> int:
    from ..campaign import campaign_status
    from ..campaign.state import StateError
    try:
        st = campaign_status(args.dir)
    except (FileNotFoundError, StateError, DatasetError) as e:
        return _err(str(e))
    except sqlite3.Error as e:
        return _err(str(index_error(e, Path(args.dir) / "state.sqlite")))
    if args.json:
        print(json.dumps(st, indent=2, default=str))
        return 0
    print(f"campaign {st['name']} in {st['dir']} (runs: {st['runs']}, target {st['target_per_category']} "
          f"per category, dataset {st['dataset']})")
    print(_status_table(st["summary"], st["balance"]))
    last = st.get("last_run") or {}
    if last:
        rate = last.get("records_per_s")
        print(f"last run: {last.get('records_this_run', '?')} records, "
              f"{rate if rate is not None else '?'} records/s")
    return 0


def _warn(msg: str) -> None:
    if msg:
        print(f"uhopc: warning: {msg}", file=sys.stderr)


def cmd_analyze(args) -> int:
    from ..dataset.analyze import analyze_dataset, render_html, render_text
    try:
        report = analyze_dataset(args.dir, reanalyze=not args.no_reanalyze)
    except (FileNotFoundError, NotADirectoryError, DatasetError) as e:
        return _err(str(e))
    _warn(report.get("index_warning", ""))
    skipped = [(s["id"], s["why"]) for s in report.get("skipped", [])]
    _warn(describe_skipped(skipped))
    if args.html:
        try:
            out = render_html(report, args.html)
        except OSError as e:
            return _err(f"cannot write {args.html}: {e.strerror or e}")
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if not k.startswith("_")}, indent=2, default=str))
    else:
        sys.stdout.write(render_text(report))
    return 1 if skipped else 0


def cmd_export(args) -> int:
    from ..dataset.export import export, resolve_dataset
    from ..dataset.index import scan_dataset
    skipped: list = []
    try:
        _warn(scan_dataset(resolve_dataset(args.dir)).describe())
        n = export(args.dir, args.output, args.format, include_failures=args.include_failures, skipped=skipped)
    except (ImportError, ValueError, FileNotFoundError, NotADirectoryError, DatasetError) as e:
        return _err(str(e))
    except OSError as e:
        return _err(f"cannot write {args.output}: {e.strerror or e}")
    print(f"wrote {n} records to {Path(args.output)}", file=sys.stderr)
    _warn(describe_skipped(skipped))
    return 1 if skipped else 0


def _dataset_dir(arg: str) -> Path:
    """The dataset folder of a dataset or campaign directory; DatasetError when there is none."""
    from ..dataset.export import resolve_dataset
    try:
        root = resolve_dataset(arg)
    except FileNotFoundError as e:
        raise DatasetError(str(e)) from None
    if not root.is_dir():
        raise DatasetError(f"{root}: not a dataset directory", root, "not_a_dir")
    return root


def cmd_fsck(args) -> int:
    from ..dataset.fsck import fsck
    try:
        report = fsck(_dataset_dir(args.dir))
    except DatasetError as e:
        return _err(str(e))
    if report.scan.state in ("locked", "unreadable"):  # nothing to compare the folders with
        return _err(report.scan.message)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def cmd_reindex(args) -> int:
    from ..dataset.store import DatasetStore
    try:
        store = DatasetStore(_dataset_dir(args.dir))
        res = store.rebuild_index()
    except DatasetError as e:
        return _err(str(e))
    if args.json:
        print(json.dumps({"dataset": str(store.root), "indexed": res.indexed, "added": res.added,
                          "dropped": res.dropped, "unreadable": [{"id": i, "why": w} for i, w in res.unreadable],
                          "moved_aside": str(res.moved_aside) if res.moved_aside else None,
                          "backup": str(res.backup) if res.backup else None}, indent=2))
    else:
        if res.moved_aside:
            print(f"the damaged index was moved aside to {res.moved_aside}")
        if res.backup:
            print(f"the old index was copied to {res.backup}")
        print(f"indexed {res.indexed} attempts in {store.db_path} ({len(res.added)} added, "
              f"{len(res.dropped)} rows without folders dropped)")
        for i, why in res.unreadable:
            print(f"  not indexed: {i}: {why}")
    _warn(f"{len(res.unreadable)} attempt folders could not be read (see `uhopc dataset fsck {args.dir}`)"
          if res.unreadable else "")
    return 1 if res.unreadable else 0
