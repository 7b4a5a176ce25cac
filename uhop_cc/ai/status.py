"""Candidate statuses: what each means and how it is detected.

| status            | detected by |
| PASSED            | every check passed, and faster than the baseline (or no baseline time to compare) |
| SLOWER            | every check passed, not faster than the baseline (median device time) |
| ANALYSIS_REJECTED | the pre-check (#include, inline asm, digraph/trigraph preprocessor, size), a missing or malformed
|                   | @launch annotation, or an error finding of the static analyzer (uhop_cc.analyze); never compiled |
| COMPILE_ERROR     | the device compiler (OpenCL build / NVRTC / g++ -fsyntax-only for TT-Metal) failed |
| RUNTIME_ERROR     | built, but the runtime refused it (ABI mismatch, bad launch geometry, launch failure), or the
|                   | checking process crashed (not with SIGSEGV/SIGBUS) |
| TIMEOUT           | the checking child process passed its time limit and was killed |
| OUT_OF_BOUNDS     | a canary guard zone around a buffer changed, or the child died of SIGSEGV/SIGBUS |
| INCORRECT         | outputs differ from the reference interpreter, or elements were left unwritten (poisoned), or
|                   | an input was modified, on one of the test shapes |
| NO_CODE           | no kernel code could be extracted from the reply |
| PROVIDER_ERROR    | the LLM request failed for good (after the retries of transient errors) |
| NOT_RUN           | passed the static checks and a compile check, but nothing ran here (CUDA without a GPU, TT-Metal
|                   | without hardware): never counts as PASSED, never cached |
| SUSPICIOUS        | passed the value checks but timed faster than the physical roof (bytes over the measured
|                   | bandwidth, flops over the measured peak): never cached or reported as a speedup |
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from ..dataset.records import STATUSES, SUCCESS

__all__ = ["STATUSES", "SUCCESS", "FAILURES", "DESCRIPTIONS", "is_success", "tally"]

PASSED, SLOWER, ANALYSIS_REJECTED, COMPILE_ERROR, RUNTIME_ERROR, TIMEOUT, OUT_OF_BOUNDS, INCORRECT, NO_CODE, \
    PROVIDER_ERROR, NOT_RUN, SUSPICIOUS = STATUSES
FAILURES = tuple(s for s in STATUSES if s not in SUCCESS)

DESCRIPTIONS = {
    PASSED: "passed every check and beat the baseline",
    SLOWER: "passed every check but was not faster than the baseline",
    ANALYSIS_REJECTED: "rejected by static analysis before compiling",
    COMPILE_ERROR: "did not compile",
    RUNTIME_ERROR: "compiled but failed at run time",
    TIMEOUT: "did not finish in time (killed)",
    OUT_OF_BOUNDS: "wrote outside its buffers",
    INCORRECT: "computed wrong results",
    NO_CODE: "the reply held no kernel code",
    PROVIDER_ERROR: "the LLM request failed",
    NOT_RUN: "checked statically and compiled, but not run (no device here)",
    SUSPICIOUS: "faster than the physical roof: the timing cannot be trusted",
}


def is_success(status: str) -> bool:
    return status in SUCCESS


def tally(statuses: Iterable[str]) -> str:
    """'2 INCORRECT, 1 COMPILE_ERROR' (most frequent first, then in STATUSES order)."""
    c = Counter(statuses)
    order = sorted(c, key=lambda s: (-c[s], STATUSES.index(s) if s in STATUSES else 99))
    return ", ".join(f"{c[s]} {s}" for s in order)
