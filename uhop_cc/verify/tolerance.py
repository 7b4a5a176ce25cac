"""How close a kernel's output must be to the reference interpreter's.

With error bounds (the default in validation, see errorbound.py): an element passes when
|got - expected| <= LAMBDA * eps * M + tiny, where M is the element's first-order rounding
error bound from a float64 pass over the program, and the whole output passes the normwise
check ||got - expected|| <= LAMBDA_NORM * eps * ||M||. Integers must match exactly.

Without them (the fallback, and `compare(..., tol)` alone): |got - expected| <= atol + rtol *
|expected| (both in float64), with rtol and atol grown by sqrt(reduction length) for floats.

Non-finite values: a NaN never passes where the reference is finite; where the reference
itself is NaN, +inf or -inf, the output must be NaN, +inf or -inf respectively.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

__all__ = ["Tolerance", "BASE_TOLERANCE", "tolerance_for", "Comparison", "compare", "reduction_length", "json_float"]


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def to_json(self) -> Dict[str, float]:
        return asdict(self)


# (rtol, atol) for a kernel without reductions.
BASE_TOLERANCE = {
    "f32": Tolerance(1e-4, 1e-5),
    "f16": Tolerance(1e-2, 1e-3),
    "f64": Tolerance(1e-10, 1e-12),
    "i32": Tolerance(0.0, 0.0),
}


def tolerance_for(dtype: str, reduction_length: int = 1) -> Tolerance:
    """Tolerance for an output of `dtype` computed through reductions of `reduction_length` terms."""
    if dtype not in BASE_TOLERANCE:
        raise ValueError(f"no tolerance for dtype {dtype!r}")
    base = BASE_TOLERANCE[dtype]
    if dtype == "i32":
        return base
    scale = math.sqrt(max(1, int(reduction_length)))
    return Tolerance(base.rtol * scale, base.atol * scale)


def reduction_length(bound) -> int:
    """The longest reduction of a bound kernel: the largest product of the ranges of one
    reduction and the reductions nested inside it (1 without reductions)."""
    from ..ir import nodes as N

    def walk(e, outer: int) -> int:
        best = outer
        if isinstance(e, N.Reduce):
            n = 1
            for v in e.vars:
                lo, hi = bound.range_of(v)
                n *= max(0, hi - lo)
            outer = outer * max(1, n)
            best = outer
        for c in N.children(e):
            best = max(best, walk(c, outer))
        return best

    best = 1
    for s in bound.checked.body:
        try:
            best = max(best, walk(s.value, 1))
        except Exception:  # an untyped range: be generous rather than fail
            continue
    return best


def json_float(x: float) -> Any:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


@dataclass
class Comparison:
    ok: bool
    elements: int
    mismatches: int
    max_abs_err: float  # over elements where both sides are finite
    max_rel_err: float  # |got - expected| / max(|expected|, atol), same elements
    nan_count: int  # NaNs in the output
    first_index: Optional[Tuple[int, ...]] = None  # of the first mismatch, row-major
    first_got: Any = None
    first_expected: Any = None
    tolerance: Optional[Tolerance] = None
    mismatch_mask: Optional[np.ndarray] = None  # not serialised
    # ||got - expected|| / ||expected|| (2-norms, finite elements): one figure of the whole output's accuracy
    # that elements near zero do not dominate, unlike max_rel_err
    norm_rel_err: float = 0.0
    # with error bounds: the normwise limit on ||got - expected|| and whether it held; the worst
    # |got - expected| / allowed over the elements (1.0 = at the limit)
    norm_limit: Optional[float] = None
    norm_ok: bool = True
    worst_fraction: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        return {
            "ok": self.ok, "elements": self.elements, "mismatches": self.mismatches,
            "max_abs_err": json_float(self.max_abs_err), "max_rel_err": json_float(self.max_rel_err),
            "norm_rel_err": json_float(self.norm_rel_err), "nan_count": self.nan_count,
            "first_mismatch": None if self.first_index is None else {
                "index": list(self.first_index), "got": json_float(self.first_got),
                "expected": json_float(self.first_expected)},
            "tolerance": self.tolerance.to_json() if self.tolerance else None,
            "norm_limit": None if self.norm_limit is None else json_float(self.norm_limit),
            "norm_ok": self.norm_ok, "worst_fraction": json_float(self.worst_fraction),
        }


def compare(got: np.ndarray, expected: np.ndarray, dtype: str, tol: Optional[Tolerance] = None,
            magnitude: Optional[np.ndarray] = None) -> Comparison:
    """Compare an output with the reference, element by element (and normwise, with `magnitude`:
    the error bound M of errorbound.py; where M is not finite, `tol` applies)."""
    with np.errstate(all="ignore"):  # signalling NaNs (poison) warn when cast
        return _compare(got, expected, dtype, tol, magnitude)


# Below these, a value counts as zero: OpenCL and CUDA may flush denormal results to zero (and fast
# math does), and the flushed error (up to the smallest normal) is then scaled by later products.
UNDERFLOW = {"f32": 2.0 ** -100, "f16": 2.0 ** -20, "f64": 2.0 ** -900, "i32": 0.0}


def _allowed(e: np.ndarray, dtype: str, tol: Tolerance, magnitude: Optional[np.ndarray]) -> np.ndarray:
    """The largest |got - expected| each element may have."""
    relative = tol.atol + tol.rtol * np.abs(e)
    if magnitude is None:
        return relative
    from .errorbound import EPS, LAMBDA
    m = np.broadcast_to(np.asarray(magnitude, np.float64), e.shape)
    return np.where(np.isfinite(m), LAMBDA * EPS.get(dtype, EPS["f32"]) * m + UNDERFLOW[dtype], relative)


def _compare(got, expected, dtype: str, tol: Optional[Tolerance], magnitude=None) -> Comparison:
    tol = tol or tolerance_for(dtype)
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise ValueError(f"shape mismatch: got {got.shape}, expected {expected.shape}")
    n = int(expected.size)
    if dtype == "i32":
        g = got.astype(np.int64)
        e = expected.astype(np.int64)
        bad = g != e
        diff = np.abs(g - e).astype(np.float64)
        nan_count = 0
        max_abs = float(diff.max()) if n else 0.0
        max_rel = float((diff / np.maximum(np.abs(e), 1)).max()) if n else 0.0
        norm_rel = _norm_rel(diff, e)
        worst = 0.0
    else:
        g = got.astype(np.float64)
        e = expected.astype(np.float64)
        g_fin, e_fin = np.isfinite(g), np.isfinite(e)
        both = g_fin & e_fin
        with np.errstate(all="ignore"):
            diff = np.where(both, np.abs(g - e), 0.0)
            allowed = _allowed(np.where(both, e, 0.0), dtype, tol, magnitude if dtype != "i32" else None)
            close = diff <= allowed
            same_kind = (np.isnan(g) & np.isnan(e)) | (np.isinf(g) & np.isinf(e) & (np.sign(g) == np.sign(e)))
            bad = np.where(e_fin, ~(both & close), ~same_kind)
            rel = diff / np.maximum(np.abs(e), max(tol.atol, np.finfo(np.float64).tiny))
        nan_count = int(np.isnan(g).sum())
        max_abs = float(diff.max()) if n else 0.0
        max_rel = float(np.where(both, rel, 0.0).max()) if n else 0.0
        norm_rel = _norm_rel(diff, np.where(both, e, 0.0))
        worst = float(np.max(np.where(both, diff / np.maximum(allowed, 1e-300), 0.0))) if n else 0.0
    mismatches = int(np.count_nonzero(bad))
    norm_limit, norm_ok = None, True
    from .errorbound import NORM_MIN_ELEMENTS
    if dtype != "i32" and magnitude is not None and n >= NORM_MIN_ELEMENTS:
        from .errorbound import EPS, LAMBDA_NORM
        m = np.broadcast_to(np.asarray(magnitude, np.float64), expected.shape)
        use = both & np.isfinite(m)
        norm_limit = LAMBDA_NORM * EPS.get(dtype, EPS["f32"]) * float(np.linalg.norm(np.where(use, m, 0.0).reshape(-1)))
        norm_limit += UNDERFLOW[dtype] * math.sqrt(n)
        norm_ok = float(np.linalg.norm(np.where(use, diff, 0.0).reshape(-1))) <= norm_limit
    first = None
    fg = fe = None
    if mismatches:
        flat = int(np.flatnonzero(bad.reshape(-1))[0])
        first = tuple(int(i) for i in np.unravel_index(flat, expected.shape)) if expected.ndim else ()
        fg = got.reshape(-1)[flat].item()
        fe = expected.reshape(-1)[flat].item()
    return Comparison(mismatches == 0 and norm_ok, n, mismatches, max_abs, max_rel, nan_count, first, fg, fe, tol,
                      np.asarray(bad), norm_rel, norm_limit, norm_ok, worst if dtype != "i32" else 0.0)


def _norm_rel(diff: np.ndarray, expected: np.ndarray) -> float:
    den = float(np.linalg.norm(expected.reshape(-1))) if expected.size else 0.0
    num = float(np.linalg.norm(diff.reshape(-1))) if diff.size else 0.0
    return num / den if den else num
