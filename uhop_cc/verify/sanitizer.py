"""CUDA kernels under NVIDIA's compute-sanitizer, where it exists: a stray access is OUT_OF_BOUNDS.

GPU buffers cannot sit between PROT_NONE pages, and canary zones miss reads and far writes.
Where `compute-sanitizer` is on PATH (or named by UHOP_COMPUTE_SANITIZER), the judge's checks
run once more in a process under `compute-sanitizer --tool memcheck --error-exitcode 86`,
without timing (memcheck slows kernels 10-100x); exit status 86 means memcheck saw an invalid
access, and its first lines become the reason.

    python -m uhop_cc.verify.sanitizer < args.json      # what runs under the sanitizer
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, Optional, Tuple

__all__ = ["sanitizer_path", "memcheck", "ERROR_EXIT", "SANITIZER_ENV"]

ERROR_EXIT = 86
SANITIZER_ENV = "UHOP_COMPUTE_SANITIZER"


def sanitizer_path() -> Optional[str]:
    """compute-sanitizer's path: $UHOP_COMPUTE_SANITIZER (empty or 0 turns it off), else PATH."""
    env = os.environ.get(SANITIZER_ENV)
    if env is not None:
        return None if env.strip() in ("", "0") else env.strip()
    return shutil.which("compute-sanitizer")


def memcheck(kwargs: Dict[str, Any], timeout_s: float) -> Tuple[Optional[str], str]:
    """Run `judge.check_candidate(**kwargs)` (time_it off) under memcheck. (None, '') when the
    sanitizer found nothing (or is not installed); ('OUT_OF_BOUNDS', report) when it did;
    ('TIMEOUT', ...) when it ran past `timeout_s`."""
    tool = sanitizer_path()
    if tool is None:
        return None, ""
    from .sandbox import Limits, apply_limits, limits
    argv = [tool, "--tool", "memcheck", "--error-exitcode", str(ERROR_EXIT), "--print-limit", "10",
            sys.executable, "-m", "uhop_cc.verify.sanitizer"]
    lim = Limits(None, limits(0, timeout_s).cpu_s)  # memcheck's own shadow memory: no memory limit
    try:
        p = subprocess.run(argv, input=json.dumps(dict(kwargs, time_it=False)), capture_output=True, text=True,
                           timeout=timeout_s, preexec_fn=lambda: apply_limits(lim))
    except subprocess.TimeoutExpired:
        return "TIMEOUT", f"no result under compute-sanitizer within {timeout_s:g} s"
    except OSError as e:
        return None, f"compute-sanitizer could not start: {e}"
    if p.returncode == ERROR_EXIT:
        lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("=========") and ln.strip("= ")]
        return "OUT_OF_BOUNDS", "compute-sanitizer memcheck: " + " | ".join(x.strip("= ") for x in lines[:4])
    return None, ""


def _main() -> int:
    """The checks under the sanitizer: only its exit status matters (86: an invalid access)."""
    from .judge import check_candidate
    kwargs = json.loads(sys.stdin.read())
    source, uir = kwargs.pop("source"), kwargs.pop("uir_source")
    name, target = kwargs.pop("kernel_name"), kwargs.pop("target")
    shapes, requested = kwargs.pop("shapes"), kwargs.pop("requested")
    check_candidate(source, uir, name, target, [tuple(s) for s in shapes], requested, **kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
