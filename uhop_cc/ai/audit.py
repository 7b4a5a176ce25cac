"""One untrusted kernel source through every check: the verdict used by the pipeline (cache hits,
`--kernel-source`), `uhopc ai rerun` and the LLM loop's memory-safety stage.

    audit = audit_source(source, bound, target)       # Audit: status PASSED, NOT_RUN or a failure
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import targets
from ..targets.common import TENSOR_NP_DTYPE
from .checks import (CheckOutcome, Finding, StaticResult, choose_shapes, offline_check, run_checks, static_checks,
                     uses_atomics)

__all__ = ["Audit", "audit_source", "memory_checks"]


# ------------------------------------------------------------------ memory safety, per shape
def memory_checks(source: str, target: str, bounds: Sequence[Any]) -> Tuple[List[Finding], Optional[int]]:
    """The interval analysis of analyze/bounds/ over the launches of every bound kernel (the test
    shapes and the requested one): errors for accesses that provably leave a buffer, warnings for
    those it cannot prove inside; and the bytes past (or before) any buffer an access can reach,
    None when some reach is unbounded (the guards then take their default size)."""
    from ..analyze.bounds import check_memory, launches_for
    seen: Dict[Tuple[str, int, str], Finding] = {}
    reach: Optional[int] = 0
    for b in bounds:
        try:
            launches = launches_for(source, target, b)
        except Exception:  # noqa: BLE001 - bad @launch lines are reported by static_checks
            return [], None
        rep = check_memory(source, target, launches)
        at = ", ".join(f"{k}={v}" for k, v in b.sizes.items())
        for f in rep.findings:
            key = (f.code, f.line, f.buffer)
            if key not in seen or (f.severity == "error" and seen[key].severity != "error"):
                seen[key] = Finding(f.code, f"{f.message} (at {at})" if at not in f.message else f.message, f.line, 0,
                                    "error" if f.severity == "error" else "warning", "memory")
        for name, (lo, hi) in rep.reach.items():
            if reach is None or name not in b.shapes:
                continue
            if lo is None or hi is None:
                reach = None
                continue
            n = int(np.prod(b.shapes[name], dtype=np.int64))
            size = np.dtype(TENSOR_NP_DTYPE[b.dtype(name)]).itemsize
            reach = max(reach, int(max(0, -lo, hi - (n - 1))) * size)
    return sorted(seen.values(), key=lambda f: (f.severity != "error", f.line)), reach


def _guard(bound, reach: Optional[int]) -> Optional[int]:
    """Guard zones for the judge: the static reach past the buffers when it is known."""
    if reach is None:
        return None
    from ..verify.judge import guard_bytes_for
    return guard_bytes_for(bound, reach)


@dataclass
class Audit:
    """The verdict on one untrusted kernel source (a cache hit, `--kernel-source`, an archived
    attempt): `status` is PASSED when every check passed, NOT_RUN when nothing could run here,
    else the failing status of statuses.py."""
    status: str
    reason: str
    static: StaticResult
    outcome: Optional[CheckOutcome] = None
    source: str = ""  # what was built (the preprocessed source)

    @property
    def passed(self) -> bool:
        return self.status == "PASSED"

    def to_json(self) -> Dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "static": self.static.to_json(),
                "check": self.outcome.to_json() if self.outcome is not None else None}


def audit_source(source: str, bound, target: str, *, run: bool = True, spec=None, device_index: Any = None,
                 budget_s: float = 1.0, timeout_s: float = 60.0, peaks: Optional[Mapping[str, Any]] = None,
                 seed: Optional[int] = None, time_it: bool = True) -> Audit:
    """Static checks of the preprocessed source, then (with `run`) the judge in a child process on
    every test shape and the requested one; without `run`, the target's compile-only check (NOT_RUN).
    Nothing here builds or runs the source in this process."""
    if spec is None:
        from ..lower import build_spec
        spec = build_spec(bound)
    st = static_checks(source, target, spec)
    if not st.ok:
        return Audit("ANALYSIS_REJECTED", "; ".join(str(f) for f in st.errors[:3]), st)
    built = st.source or source
    rng = random.Random(seed)
    shapes = choose_shapes(bound.checked, bound.sizes, rng)
    from .. import ir
    from ..ir import printer
    reach: Optional[int] = None
    if targets.get(target).memory_checked:
        mem, reach = memory_checks(built, target, [ir.bind_shapes(bound.checked, s) for _, s in shapes] + [bound])
        st.findings.extend(mem)
        if any(f.severity == "error" for f in mem):
            st.ok = False
            return Audit("ANALYSIS_REJECTED", "; ".join(str(f) for f in st.errors[:3]), st, None, built)
    if not run:
        co, _tool = offline_check(built, target)
        return Audit(co.status or "NOT_RUN", co.reason or "static checks passed; nothing ran here", st, co, built)
    uir = printer.kernel(bound.checked.kernel)
    co = run_checks(built, uir, bound.name, target, shapes, dict(bound.sizes),
                    seeds=[rng.randrange(1, 2 ** 31) for _ in range(2)], timeout_s=timeout_s + budget_s,
                    time_it=time_it, budget_s=budget_s, device_index=device_index, peaks=peaks,
                    deterministic=not uses_atomics(built), guard_bytes=_guard(bound, reach))
    if co.status is not None:
        return Audit(co.status, co.reason, st, co, built)
    return Audit("PASSED", "every check passed", st, co, built)
