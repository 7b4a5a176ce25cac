"""`uhopc`: thin commands over the library. No logic lives only here."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..dataset.index import DatasetError
from ..ir import UirError
from . import ai, analyze, backend, campaign, frontend, tune

COMMANDS = (frontend, analyze, backend, tune, ai, campaign)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="uhopc",
        description="uhopc: write a kernel once in UIR, compile it for OpenCL, CUDA and TT-Metal.",
        epilog="Run `uhopc COMMAND --help` for the options of a command.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UirError as e:
        print(e, file=sys.stderr)
        return 2
    except DatasetError as e:  # e.g. `compile --ai` with a dataset path that is a file, or a locked index
        print(f"uhopc: {e}", file=sys.stderr)
        return 2
    except MemoryError:  # the estimate (verify/memory.py) let it start, but an allocation failed
        from ..verify.memory import LIMIT_ENV  # here: verify/ imports pyopencl, which `uhopc fmt` never needs
        print("error: out of memory: use smaller --shapes (or --no-validate for compile); "
              f"${LIMIT_ENV} sets the memory uhopc may plan for", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
