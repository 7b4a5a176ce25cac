"""Static analysis of kernel sources before any compiler sees them.

    from uhop_cc.analyze import analyze
    report = analyze(source, target="opencl", spec=kernel_spec)   # AnalysisReport
    if not report.ok:
        for f in report.errors:
            print(f)            # <source>:12:9: error: barrier() inside a branch ... [sync.barrier-divergent]

The work is done by the C++ analyzer in `uhop_cc._native` (a lexer, a structural parser and
one rule family per concern: resources, synchronisation, memory access, ABI/@launch, safety,
TT-Metal API protocols); `uhop_cc.analyze.pyref` is the pure-Python equivalent kept for the
speed comparison. `spec` may be a KernelSpec (its ABI becomes the expected kernel
signature), an `expected` dict ({name, args: [{name, kind, dtype, c_type}], arg_count,
local_mem_bytes, max_work_group_size, tile_bytes}) or None.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

from .report import (SEVERITIES, AbiSummary, AnalysisReport, CircularBuffer, Finding, KernelArg, KernelInfo,
                     LaunchAnnotation, MemorySummary, PrivateArray, Resources, Stats, SyncSummary)

__all__ = ["analyze", "analyze_dict", "expected_from_spec", "TARGETS", "SEVERITIES", "AnalysisReport", "Finding",
           "Resources", "SyncSummary", "MemorySummary", "AbiSummary", "KernelInfo", "KernelArg",
           "LaunchAnnotation", "PrivateArray", "CircularBuffer", "Stats"]

TARGETS = ("opencl", "cuda", "ttmetal")
_EXPECTED_KEYS = {"name", "args", "arg_count", "local_mem_bytes", "max_work_group_size", "tile_bytes"}
_ARG_KEYS = ("name", "kind", "dtype", "c_type")
_STORAGE = {"f32": "float", "f64": "double", "f16": "half", "i32": "int"}


def _native():
    try:
        from uhop_cc import _native as ext
    except ImportError as exc:  # pragma: no cover - only on a broken install
        raise ImportError("uhop_cc._native is not built: run pip install -e .") from exc
    return ext


def _c_name(name: str) -> str:
    from ..codegen.cstyle import c_name
    return c_name(name)


def _int_or_none(v: Any) -> Optional[int]:
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def expected_from_spec(spec: Any, target: str = "opencl") -> Dict[str, Any]:
    """The analyzer's `expected` dict for a KernelSpec (object or its JSON dict).

    The ABI is the spec's: inputs and scalars, outputs, then -- optional, as the runtime
    accepts both -- the temporaries, then the sizes as `const int`; names as the code
    generators spell them (`c_name`)."""
    if isinstance(spec, Mapping):
        name, abi, temps = spec.get("name"), spec.get("abi", ()), spec.get("temps", ())
        constraints, hardware = spec.get("schedule_constraints") or {}, spec.get("hardware") or {}
        get = lambda o, k: o[k]  # noqa: E731
    else:
        name, abi, temps = spec.name, spec.abi, spec.temps
        constraints, hardware = spec.schedule_constraints or {}, spec.hardware or {}
        get = getattr
    glob = "__global " if target == "opencl" else ""
    args = []
    for a in abi:
        c_type = str(get(a, "c_type"))
        if target != "opencl":
            c_type = c_type.replace("__global ", "")
        args.append({"name": _c_name(str(get(a, "name"))), "kind": str(get(a, "kind")),
                     "dtype": str(get(a, "dtype")), "c_type": c_type})
    first_size = next((i for i, a in enumerate(args) if a["kind"] == "size"), len(args))
    temp_args = [{"name": _c_name(str(get(t, "name"))), "kind": "temp", "dtype": str(get(t, "dtype")),
                  "c_type": f"{glob}{_STORAGE.get(str(get(t, 'dtype')), 'float')}*"} for t in temps]
    args[first_size:first_size] = temp_args
    exp: Dict[str, Any] = {"name": _c_name(str(name)), "args": args}
    lm = _int_or_none(constraints.get("local_mem_bytes")) or _int_or_none(hardware.get("local_mem_size"))
    wg = _int_or_none(constraints.get("max_work_group_size")) or _int_or_none(hardware.get("max_work_group_size"))
    if lm:
        exp["local_mem_bytes"] = lm
    if wg:
        exp["max_work_group_size"] = wg
    return exp


def _expected(spec: Any, target: str) -> Optional[Dict[str, Any]]:
    if spec is None:
        return None
    if isinstance(spec, Mapping) and "abi" not in spec:
        unknown = set(spec) - _EXPECTED_KEYS
        if unknown:
            raise ValueError(f"unknown expected key(s): {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(_EXPECTED_KEYS))})")
        exp: Dict[str, Any] = {}
        if spec.get("name") is not None:
            exp["name"] = str(spec["name"])
        if spec.get("args") is not None:
            exp["args"] = [{k: str(a[k]) for k in _ARG_KEYS if a.get(k) is not None} for a in spec["args"]]
        for k in ("arg_count", "local_mem_bytes", "max_work_group_size", "tile_bytes"):
            if spec.get(k) is not None:
                exp[k] = int(spec[k])
        return exp
    return expected_from_spec(spec, target)


def analyze_dict(source: Union[str, bytes], target: str = "opencl", spec: Any = None) -> Dict[str, Any]:
    """The native report as plain dicts (no conversion; the fastest entry point)."""
    if target not in TARGETS:
        raise ValueError(f"unknown target `{target}` (known: {', '.join(TARGETS)})")
    return _native().analyze(source, target, _expected(spec, target))


def analyze(source: Union[str, bytes], target: str = "opencl", spec: Any = None) -> AnalysisReport:
    """Analyse one kernel source for `target` ('opencl', 'cuda' or 'ttmetal').

    `spec`: a KernelSpec, its JSON dict, an `expected` dict, or None (no ABI expectations).
    Never raises on bad sources: unreadable input gives a report with errors."""
    return AnalysisReport.from_dict(analyze_dict(source, target, spec))
