"""The judge: build an untrusted kernel, test it against the reference, time it honestly.

Runs in a child process (`ai.checks.run_checks` puts it there, under resource limits); returns
a JSON-like dict whose "stage" says how far it got. What it checks, and why:

* every test shape (the requested one when small, a random one below and above it, and a
  hidden one the LLM never sees: primes or size 1) with several input distributions
  (`inputs.py`; the first shape gets all eight), a different poison per run (NaN, random
  finite, zeros), inputs compared before and after, and the first input set run twice (the
  runs must agree); every buffer sits between guards as large as the launch can reach: on a
  CPU device PROT_NONE pages (a stray read or write kills the child: OUT_OF_BOUNDS), elsewhere
  canary zones checked after the run;
* the requested shape always: when the full reference is too expensive, a random sample of
  output elements (plus the first and last) is evaluated pointwise by the reference
  (`interpreter.run_at`), and every element must have been written;
* the timed runs: outputs and temporaries are refilled with a changing pattern before every
  repetition (outside the clock; with UHOP_TIME_FLUSH=1 a buffer larger than the last-level
  cache is refilled with them, flushing the caches), and the outputs of the last repetition are
  checked like the others -- a kernel that skips work when its output looks done is caught;
* the time itself: faster than the physical roof (bytes over the measured bandwidth, flops
  over the measured peak, with headroom for caches) is SUSPICIOUS.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..targets import get as target_of
from ..targets.common import TENSOR_NP_DTYPE, Poison
from .native_timing import host_llc_bytes, roofline

__all__ = ["check_candidate", "sampled_check", "guard_bytes_for", "suspicious", "roof_peaks", "roofline_verdict",
           "roofline_at", "cache_bytes_of", "SAMPLES"]

SAMPLES = 256  # random output elements checked at a shape too large for the whole reference
_TEMP_BUDGET = 1 << 24  # elements of temporaries the reference may evaluate whole for a sampled check
_FLUSH_CAP = 256 << 20  # a cache flush buffer within the child's memory limit (servers report huge L3s)
_FIRST_DISTRIBUTIONS = ("uniform", "normal", "wide", "heavy", "large", "constant", "sparse", "special")
_OTHER_DISTRIBUTIONS = (("uniform", "wide", "normal"), ("normal", "large", "uniform"), ("wide", "heavy", "uniform"))


def _mark(path: Optional[str], what: str) -> None:
    if path:
        try:
            with open(path, "w") as f:
                f.write(what)
        except OSError:
            pass


def _quiet() -> None:
    """The child's stdout/stderr to /dev/null: compiler chatter stays out of the user's terminal."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:
        pass


def _tensor_bytes(bound) -> List[int]:
    return [int(np.prod(shape, dtype=np.int64)) * np.dtype(TENSOR_NP_DTYPE[bound.dtype(n)]).itemsize
            for n, shape in bound.shapes.items()]


def guard_bytes_for(bound, reach_bytes: Optional[int] = None) -> int:
    """Guard zones large enough for any index the launch can reach: the static analysis's reach
    past the buffers when known, else twice the largest tensor; at least 1 MiB, at most 64 MiB."""
    largest = max(_tensor_bytes(bound) or [0])
    want = reach_bytes if reach_bytes is not None else 2 * largest
    return int(min(max(want + 4096, 1 << 20), 64 << 20))


def _slim(report: Dict[str, Any], label: str) -> Dict[str, Any]:
    """A validation report without the bulky per-run detail."""
    r = dict(report)
    runs = r.pop("runs", []) or []
    r["run_reasons"] = [x.get("reasons", []) for x in runs]
    r["distributions"] = [x.get("distribution") for x in runs]
    r["oob"] = any(not g.get("ok", True) for x in runs for g in (x.get("guards") or {}).values())
    r["inputs_modified"] = sorted({n for x in runs for n in (x.get("inputs_modified") or [])})
    r["label"] = label
    return r


def _sample_points(bound, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    pts = {}
    for p in bound.checked.outputs:
        shape = tuple(bound.shapes[p.name])
        n = int(np.prod(shape, dtype=np.int64))
        if not shape or not n:
            pts[p.name] = np.zeros((1 if not shape else 0, len(shape)), np.int64)
            continue
        flat = np.unique(np.concatenate([[0, n - 1], rng.integers(0, n, size=min(SAMPLES, n))]))
        pts[p.name] = np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)
    return pts


def sampled_check(bound, inputs, outputs: Mapping[str, np.ndarray], seed: int = 0) -> Tuple[Optional[bool], str, int]:
    """Outputs at a random sample of elements against the pointwise reference, within error
    bounds. (ok, reason, elements checked); ok None when the reference cannot afford it."""
    from ..ir import interpreter
    from .errorbound import error_bounds_at
    from .tolerance import compare, reduction_length, tolerance_for
    temps = sum(int(np.prod(bound.shapes[t.name], dtype=np.int64)) for t in bound.checked.temps())
    if temps > _TEMP_BUDGET:
        return None, f"not value-checked: its temporaries hold {temps} elements, more than the reference's " \
                     f"budget of {_TEMP_BUDGET} for a sampled check", 0
    pts = _sample_points(bound, np.random.default_rng(seed))
    expected = interpreter.run_at(bound, inputs, pts)
    mags = error_bounds_at(bound, inputs, pts).magnitudes or {}
    red = reduction_length(bound)
    checked = 0
    for p in bound.checked.outputs:
        idx = tuple(pts[p.name].T)
        got = np.asarray(outputs[p.name])[idx] if outputs[p.name].ndim else np.asarray(outputs[p.name]).reshape(1)
        c = compare(got, expected[p.name], p.dtype, tolerance_for(p.dtype, red), mags.get(p.name))
        checked += c.elements
        if not c.ok:
            at = tuple(int(i) for i in pts[p.name][c.first_index[0]]) if c.first_index else ()
            return False, (f"output {p.name}: {c.mismatches} of {c.elements} sampled elements differ; first at "
                           f"{at}: got {c.first_got}, expected {c.first_expected}"), checked
    return True, "", checked


def _requested(device, build, stages, bound, guard: int, seed: int, pages: bool = False) -> Dict[str, Any]:
    """The requested shape when it is too large for the whole reference: one run, every element
    written, guards intact, inputs untouched, and a sample of values right."""
    from .inputs import make_inputs
    inputs = make_inputs(bound, "normal", seed)
    kw = {"guard_pages": True} if pages else {}
    res = device.run(build, stages, bound, inputs, guard_bytes=guard, poison=Poison.varied(1, seed), **kw)
    bad = [f"{g.tensor}: {g.describe()}" for g in res.guards.values() if not g.ok]
    unwritten = {p.name: int(res.poisoned(p.name).sum()) for p in bound.checked.outputs}
    reasons = [f"out-of-bounds write: {b}" for b in bad]
    reasons += [f"output {k}: {v} elements never written" for k, v in unwritten.items() if v]
    reasons += [f"input {n}: modified by the kernel" for n in res.inputs_modified]
    if reasons:
        return {"ok": False, "reason": "; ".join(reasons), "oob": bool(bad), "inputs_modified": res.inputs_modified}
    ok, why, n = sampled_check(bound, inputs, res.outputs, seed)
    if ok is False:
        return {"ok": False, "reason": why, "oob": False, "sampled": n}
    return {"ok": True, "sampled": n, "note": why or None}


def roof_peaks(device, target: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The measured peaks of a device of `target` (default: the default target) with the cache in
    front of its memory (cache_bytes_of): what `suspicious` needs. None where they cannot be
    measured (the check is then skipped, not the candidate)."""
    try:
        from ..targets import DEFAULT, get
        peaks = get(target or DEFAULT).peaks(device)
        return dict(peaks, llc_bytes=cache_bytes_of(device)) if peaks else None
    except Exception:  # noqa: BLE001
        return None


def cache_bytes_of(device) -> int:
    """The last-level cache in front of the device's memory: the host's for a device that works
    in host memory (PoCL on the CPU), the device's global memory cache otherwise (0: unknown)."""
    if getattr(device, "works_in_host_memory", False):
        return host_llc_bytes()
    try:
        fp = device.fingerprint() or {}
        return int(fp.get("global_mem_cache_bytes") or fp.get("l2_cache_bytes") or 0)
    except Exception:  # noqa: BLE001 - a device that cannot say
        return 0


def roofline_verdict(roof: Dict[str, Any], nbytes: float, cache_bytes: int) -> Dict[str, Any]:
    """`roof` (native_timing.roofline) with what its fraction means here. The memory roof is
    the measured DRAM copy bandwidth, so it does not bound a working set that fits in the
    cache ('applies' False); a time faster than a roof that does apply means the peak estimate
    was exceeded ('exceeded'), not that the kernel did more than 100%. 'fraction' is kept only
    when it is a real fraction of a roof that applies (0..1]; 'measured_fraction' is the raw
    ratio, 'note' says why when there is no fraction."""
    out = dict(roof, measured_fraction=roof.get("fraction"), working_set_bytes=int(nbytes),
               cache_bytes=int(cache_bytes), applies=True, exceeded=False, note=None)
    frac = roof.get("fraction")
    if roof.get("bound") == "memory" and cache_bytes and 0 < nbytes <= cache_bytes:
        out.update(applies=False, fraction=None,
                   note=(f"working set {_size(nbytes)} fits in the {_size(cache_bytes)} cache; the DRAM roof "
                         f"({roof.get('peak_gbps', 0):.0f} GB/s measured) does not bound it"))
    elif frac is not None and frac > 1.0:
        what = ("bandwidth" if roof.get("bound") == "memory" else "compute peak")
        out.update(exceeded=True, fraction=None,
                   note=(f"faster than the {roof.get('bound')}-bound roof estimate ({frac:.2f}x): the measured {what} "
                         "underestimates this device for this kernel, so no percentage is given"))
    return out


def roofline_at(spec, peaks: Mapping[str, Any], seconds: float, cache_bytes: int) -> Dict[str, Any]:
    """The roofline of `spec` (lower.KernelSpec: flops, bytes_min) at the measured `peaks` and time
    `seconds`, the peaks kept in it, with its verdict (roofline_verdict) for a device whose memory
    sits behind a `cache_bytes` cache."""
    out = roofline(spec.flops, spec.bytes_min, peaks["gflops"], peaks["gbps"], seconds=seconds)
    out["peaks"] = peaks
    return roofline_verdict(out, spec.bytes_min, cache_bytes)


def _size(n: float) -> str:
    for unit, k in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= k:
            return f"{n / k:.0f} {unit}"
    return f"{int(n)} B"


def suspicious(seconds: float, flops: float, nbytes: float, peaks: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Why a time cannot be true (faster than the roof with generous headroom), or None."""
    if not peaks or not seconds or seconds <= 0:
        return None
    gbps, gflops = float(peaks.get("gbps") or 0), float(peaks.get("gflops") or 0)
    llc = float(peaks.get("llc_bytes") or 32 << 20)
    bw_room = 16.0 if nbytes <= llc else 2.0  # a cache-resident working set beats the measured DRAM bandwidth
    t_mem = nbytes / (bw_room * gbps * 1e9) if gbps > 0 else 0.0
    t_flop = flops / (2.0 * gflops * 1e9) if gflops > 0 else 0.0
    roof = max(t_mem, t_flop)
    if seconds < roof:
        return (f"{seconds * 1e6:.3g} us is faster than physically possible here ({roof * 1e6:.3g} us for "
                f"{nbytes:.3g} bytes at {bw_room:g}x {gbps:.3g} GB/s and {flops:.3g} flops at 2x {gflops:.3g} GFLOP/s)")
    return None


def _timed(device, build, stages, bound, target: str, budget_s: float, seed: int,
           flush: bool = False) -> Tuple[Dict[str, Any], Any]:
    """Time with the outputs refilled before every repetition (and, with `flush`, a buffer larger
    than the last-level cache with them); (timing json, outputs after it)."""
    from .inputs import make_inputs
    inputs = make_inputs(bound, "normal", seed)
    tgt = target_of(target)
    arena = tgt.arena_launches  # buffers in one arena: native timing, and a scratch that flushes
    if arena:
        scratch = min(tgt.flush_bytes(device), _FLUSH_CAP) if flush else 0
        prepared = device.prepare(build, stages, bound, inputs, arena=True, scratch_bytes=scratch)
    else:
        prepared = device.prepare(build, stages, bound, inputs)
    # refilling the arena (outputs, temporaries and the scratch) before every run is the native
    # loop's flush; without an arena the loop refills the outputs itself (repoison)
    try:
        arena_buf = prepared.arena if arena else None
        options = {"flush_buffer": arena_buf} if arena_buf is not None else {"repoison": True}
        t = tgt.time(prepared, budget_s, **options)
        outputs = prepared.read_outputs()
    finally:
        prepared.release()
    tj = t.to_json()
    tj.pop("samples_s", None)
    tj["repoisoned"] = True
    tj["cache_flush"] = bool(flush and arena)
    return tj, (inputs, outputs)


def check_candidate(source: str, uir_source: str, kernel_name: Optional[str], target: str,
                    shapes: Sequence[Tuple[str, Mapping[str, int]]], requested: Mapping[str, int], *,
                    seeds: Sequence[int] = (1, 2), time_it: bool = True, budget_s: float = 1.0,
                    progress_path: Optional[str] = None, device_index: Any = None, guard_bytes: Optional[int] = None,
                    peaks: Optional[Mapping[str, Any]] = None, deterministic: bool = True,
                    flush: Optional[bool] = None) -> Dict[str, Any]:
    """See the module docstring. `seeds[0]` seeds everything (the rest is kept for the record).
    `flush` (default: $UHOP_TIME_FLUSH=1): flush the caches between timed repetitions."""
    _mark(progress_path, "starting")
    _quiet()
    from .. import ir
    from ..codegen.launch import LaunchError, parse_launch
    from .validate import validate

    checked = ir.select_kernel(ir.load(uir_source), kernel_name)
    device = target_of(target).open_device(device_index)
    try:
        stages = parse_launch(source)
    except LaunchError as e:
        return {"stage": "launch", "ok": False, "reason": f"bad @launch annotations: {e}"}
    _mark(progress_path, "compiling")
    build = device.build(source)
    bj = build.to_json()
    if not build.ok:
        return {"stage": "build", "ok": False, "log": build.log or "", "build": bj}
    seed = int(seeds[0]) if seeds else 1
    # on a CPU device the kernel works on host memory: tensors between PROT_NONE pages, so stray reads fault too
    pages = bool(getattr(device, "works_in_host_memory", False))
    out: Dict[str, Any] = {"stage": "validate", "ok": False, "build": bj, "shapes": [], "guard_pages": pages}
    for k, (label, sizes) in enumerate(shapes):
        _mark(progress_path, f"validating at {'a hidden shape' if label == 'hidden' else _fmt(sizes)}")
        bound = ir.bind_shapes(checked, dict(sizes))
        dists = _FIRST_DISTRIBUTIONS if k == 0 else _OTHER_DISTRIBUTIONS[k % len(_OTHER_DISTRIBUTIONS)]
        guard = guard_bytes if guard_bytes is not None else guard_bytes_for(bound)
        rep = validate(device, build, stages, bound, seeds=[seed * 1000 + k * 10 + j for j in range(len(dists))],
                       distributions=dists, guard_bytes=guard, repeat=True, deterministic=deterministic,
                       guard_pages=pages).to_json()
        rep = _slim(rep, label)
        out["shapes"].append(rep)
        if not rep["ok"]:
            out["failed"] = rep
            return out
    bound = ir.bind_shapes(checked, dict(requested))
    guard = guard_bytes if guard_bytes is not None else guard_bytes_for(bound)
    if not any(dict(s) == dict(requested) for _, s in shapes):
        _mark(progress_path, "checking the requested sizes")
        out["stage"] = "requested"
        try:
            r = _requested(device, build, stages, bound, guard, seed + 7, pages)
        except Exception as e:  # noqa: BLE001
            r = {"ok": False, "reason": f"launch failed: {e}", "oob": False}
        r.update(sizes=dict(requested), label="requested")
        out["sanity"] = r
        if not r["ok"]:
            out["failed"] = r
            return out
    out["ok"], out["stage"] = True, "validated"
    if time_it:
        _mark(progress_path, "timing at the requested sizes")
        out["stage"] = "time"
        if flush is None:
            flush = os.environ.get("UHOP_TIME_FLUSH", "").strip() not in ("", "0")
        tj, (inputs, outputs) = _timed(device, build, stages, bound, target, budget_s, seed + 11, flush)
        out["timing"] = tj
        _mark(progress_path, "checking the timed runs' outputs")
        ok, why, _n = sampled_check(bound, inputs, outputs, seed + 13)
        if ok is False:
            out["ok"] = False
            out["failed"] = {"ok": False, "reason": f"the outputs of the timed runs are wrong: {why}",
                             "sizes": dict(requested), "label": "timed", "oob": False}
            return out
        from ..lower import build_spec
        spec = build_spec(bound)
        out["suspicious"] = suspicious(tj.get("median_s") or 0.0, spec.flops, spec.bytes_min, peaks)
        out["stage"] = "timed"
    return out


def _fmt(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())
