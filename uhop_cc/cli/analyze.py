"""`uhopc analyze FILE --target opencl|cuda|ttmetal [--json]`: static checks of a kernel source.

Exit status: 0 when the report has no errors, 1 when it has errors, 2 when the file
cannot be read. Runs standalone too: `python -m uhop_cc.cli.analyze FILE ...`.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .. import targets


def register(sub) -> None:
    p = sub.add_parser("analyze", help="statically check a kernel source (no compiler needed)",
                       description="Lex and parse a kernel source and check it: resources (local/shared memory, "
                                   "private arrays, registers), synchronisation hazards, memory access patterns, "
                                   "the ABI and @launch annotation, safety (includes, asm, recursion, goto, "
                                   "unbounded loops...) and TT-Metal API protocols. Exit status 0: no errors, "
                                   "1: errors, 2: unreadable input.")
    _arguments(p)
    p.set_defaults(func=cmd_analyze)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="kernel source (.cl, .cu, .cpp); `-` reads standard input")
    p.add_argument("--target", default=targets.DEFAULT, choices=targets.names(), help="kernel dialect")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--kernel-name", help="the entry kernel must have this name")
    p.add_argument("--expect-args", type=int, metavar="N",
                   help="the entry kernel must take N arguments (TT-Metal: read N runtime args)")
    p.add_argument("--quiet", "-q", action="store_true", help="only errors and warnings, no notes")
    p.add_argument("--no-preprocess", action="store_true",
                   help="analyse the text as written; by default (OpenCL, CUDA) it is first expanded by the C "
                        "preprocessor under limits, so macros and line continuations hide nothing, and invisible "
                        "characters, redefined built-ins and reads of unwritten memory are reported")


def cmd_analyze(args) -> int:
    from ..analyze import analyze

    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as fh:
                data = fh.read()
    except OSError as e:
        print(f"uhopc analyze: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    expected = {}
    if args.kernel_name:
        expected["name"] = args.kernel_name
    if args.expect_args is not None:
        expected["arg_count"] = args.expect_args
    path = "<stdin>" if args.file == "-" else args.file
    pre, source = [], data
    if not args.no_preprocess and args.target in targets.c_style():
        from ..analyze.preprocess import expand
        ex = expand(data.decode("utf-8", "replace"), args.target)
        pre = [{"code": c, "message": m, "line": ln, "col": col, "severity": "error"} for c, m, ln, col in ex.findings]
        source = ex.text.encode() if ex.ok else data
    report = analyze(source, target=args.target, spec=expected or None)
    if args.json:
        print(json.dumps(dict(report.to_json(), preprocess=pre, preprocessed=bool(source is not data)), indent=2))
    else:
        for f in pre:
            print(f"{path}:{f['line']}:{f['col']}: error: {f['message']} [{f['code']}]")
        if source is not data:
            path += " (preprocessed)"
        print(report.format(path, "warning" if args.quiet else "info"))
    return 0 if report.ok and not pre else 1


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="uhopc analyze", description=__doc__.splitlines()[0])
    _arguments(ap)
    args = ap.parse_args(argv)
    try:
        return cmd_analyze(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
