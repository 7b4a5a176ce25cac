"""Static analysis of kernel sources before any compiler sees them.

    from uhop_cc.analyze import analyze
    report = analyze(source, target=name, spec=kernel_spec)      # AnalysisReport (name: a registered target)
    if not report.ok:
        for f in report.errors:
            print(f)            # <source>:12:9: error: barrier() inside a branch ... [sync.barrier-divergent]

The work is done by the C++ analyzer in `uhop_cc._native` (a lexer, a structural parser and
one rule family per concern: resources, synchronisation, memory access, ABI/@launch, safety,
TT-Metal API protocols); tests/analyze/pyref.py is its pure-Python equivalent, the tests'
parity oracle and the speed baseline of bench/analyzer.py. `spec` may be a KernelSpec (its ABI becomes the expected kernel
signature), an `expected` dict ({name, args: [{name, kind, dtype, c_type}], arg_count,
local_mem_bytes, max_work_group_size, tile_bytes}) or None.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

from .. import targets
from ..lower.spec import AbiArg
from .report import (SEVERITIES, AbiSummary, AnalysisReport, CircularBuffer, Finding, KernelArg, KernelInfo,
                     LaunchAnnotation, MemorySummary, PrivateArray, Resources, Stats, SyncSummary)

__all__ = ["analyze", "analyze_dict", "expected_from_spec", "TARGETS", "RULES", "SEVERITIES", "AnalysisReport", "Finding",
           "Resources", "SyncSummary", "MemorySummary", "AbiSummary", "KernelInfo", "KernelArg",
           "LaunchAnnotation", "PrivateArray", "CircularBuffer", "Stats"]

TARGETS = targets.names()

# Every finding code with its severity and what it means.
RULES: Dict[str, Tuple[str, str]] = {
    # unreadable sources (the rules do not run)
    "input.too-large": ("error", "source larger than 1 MiB"),
    "lex.invalid-char": ("error", "a byte that cannot appear outside strings and comments"),
    "lex.unterminated-comment": ("error", "/* comment never closed"),
    "lex.unterminated-string": ("error", "string or character literal never closed"),
    "parse.unbalanced": ("error", "unbalanced ( [ {"),
    "parse.too-deep": ("error", "brackets, statements or expressions nested too deeply"),
    # resources
    "res.local-mem-limit": ("error", "local/shared memory (or TT-Metal circular buffers) over the device budget"),
    "res.work-group-size": ("error", "reqd_work_group_size, __launch_bounds__ or @launch local size over the limit"),
    "res.private-array": ("warning", "private array over 1 KiB, or of non-constant size"),
    "res.register-pressure": ("warning", "more than ~128 32-bit values live per work-item"),
    # synchronisation
    "sync.barrier-divergent": ("error", "barrier under work-item-dependent control flow (branch, loop, earlier "
                                         "return/break)"),
    "sync.local-race": ("warning", "local/shared memory read after a write with no barrier in between"),
    "sync.barrier-in-loop": ("info", "barrier inside a loop"),
    # memory access
    "mem.strided-access": ("info", "global access strided along the fastest work-item id"),
    "mem.irregular-access": ("info", "global access not affine in the fastest work-item id"),
    "mem.vector-cast": ("info", "pointer cast to a vector type (alignment requirement)"),
    "mem.atomic": ("info", "atomic operation"),
    # ABI and @launch
    "abi.no-kernel": ("error", "no kernel entry for the target"),
    "abi.kernel-name": ("error", "no kernel with the expected name"),
    "abi.entry-not-last": ("error", "the entry kernel is not the last stage"),
    "abi.arg-count": ("error", "wrong number of kernel (TT-Metal: runtime) arguments"),
    "abi.arg-order": ("error", "arguments in the wrong order"),
    "abi.address-space": ("error", "buffer argument not in __global memory"),
    "abi.arg-type": ("error", "argument type, pointer-ness or constness differs from the ABI"),
    "abi.arg-name": ("warning", "argument named differently from the ABI"),
    "launch.missing": ("error", "kernel without a `// @launch` annotation"),
    "launch.malformed": ("error", "@launch does not parse (the runtime's own message)"),
    "launch.unknown-symbol": ("error", "@launch uses a name that is not a size symbol"),
    "launch.dims": ("error", "@launch global and local have different dimension counts"),
    "launch.not-multiple": ("error", "global size not a multiple of the local size (warning when only symbolic)"),
    "launch.reqd-mismatch": ("error", "@launch local size differs from reqd_work_group_size"),
    "launch.bounds-exceeded": ("error", "@launch block larger than __launch_bounds__"),
    "launch.smem-missing": ("error", "extern __shared__ memory but no smem= in @launch"),
    # safety
    "safety.include": ("error", "#include (TT-Metal: outside the SDK headers)"),
    "safety.preprocessor-path": ("error", "#include_next, #import, #embed, #line \"file\", __has_include..."),
    "safety.asm": ("error", "inline assembly"),
    "safety.goto": ("error", "goto"),
    "safety.recursion": ("error", "a function that calls itself, directly or not"),
    "safety.unbounded-loop": ("error", "constant-true loop without break or return"),
    "safety.pointer-to-int": ("error", "pointer cast to an integer (alignment tests excepted)"),
    "safety.printf-flood": ("error", "printf in a loop, or more than 4 printf calls"),
    "safety.printf": ("warning", "printf left in the kernel"),
    # TT-Metal API protocols
    "tt.cb-reserve-push": ("error", "cb_reserve_back / cb_push_back not paired in a block (or tile counts differ)"),
    "tt.cb-wait-pop": ("error", "cb_pop_front without cb_wait_front, or a wait in a loop never popped"),
    "tt.noc-read-barrier": ("error", "noc_async_read* not completed by noc_async_read_barrier before the CB push"),
    "tt.noc-write-barrier": ("error", "noc_async_write* not completed by noc_async_write_barrier before the CB pop "
                                      "or the end"),
    "tt.tile-regs-order": ("error", "tile register protocol acquire -> commit -> wait -> release broken"),
    "report.truncated": ("info", "more than 400 findings: the rest left out"),
}
_EXPECTED_KEYS = {"name", "args", "arg_count", "local_mem_bytes", "max_work_group_size", "tile_bytes"}


_EXT = None


def _native():
    global _EXT
    if _EXT is None:
        try:
            from .. import _native as ext
        except ImportError as exc:  # pragma: no cover - only on a broken install
            raise ImportError("uhop_cc._native is not built: run pip install -e .") from exc
        _EXT = ext
    return _EXT


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


def expected_from_spec(spec: Any, target: str = targets.DEFAULT) -> Dict[str, Any]:
    """The analyzer's `expected` dict for a KernelSpec (object or its JSON dict).

    The ABI is the spec's: inputs and scalars, outputs, then -- optional, as the runtime
    accepts both -- the temporaries, then the sizes; names as the code generators spell them
    (`c_name`), C types as the target writes them (`abi_decl`, shown in the analyzer's messages)."""
    if isinstance(spec, Mapping):
        name, abi, temps = spec.get("name"), spec.get("abi", ()), spec.get("temps", ())
        constraints, hardware = spec.get("schedule_constraints") or {}, spec.get("hardware") or {}
        get = lambda o, k: o[k]  # noqa: E731
    else:
        name, abi, temps = spec.name, spec.abi, spec.temps
        constraints, hardware = spec.schedule_constraints or {}, spec.hardware or {}
        get = getattr
    t = targets.get(target)

    def arg(n: Any, kind: str, dtype: Any) -> Dict[str, str]:
        a = AbiArg(_c_name(str(n)), kind, str(dtype))
        return {"name": a.name, "kind": a.kind, "dtype": a.dtype, "c_type": t.abi_decl(a)}

    args = [arg(get(a, "name"), str(get(a, "kind")), get(a, "dtype")) for a in abi]
    first_size = next((i for i, a in enumerate(args) if a["kind"] == "size"), len(args))
    args[first_size:first_size] = [arg(get(x, "name"), "temp", get(x, "dtype")) for x in temps]
    exp: Dict[str, Any] = {"name": _c_name(str(name)), "args": args}
    lm = _int_or_none(constraints.get("local_mem_bytes")) or _int_or_none(hardware.get("local_mem_size"))
    wg = _int_or_none(constraints.get("max_work_group_size")) or _int_or_none(hardware.get("max_work_group_size"))
    if target in targets.c_style():  # an OpenCL/CUDA device's limits say nothing of a Tensix core's L1
        if lm:
            exp["local_mem_bytes"] = lm
        if wg:
            exp["max_work_group_size"] = wg
    return exp


def _expected(spec: Any, target: str) -> Optional[Dict[str, Any]]:
    if spec is None:
        return None
    if isinstance(spec, Mapping) and "abi" not in spec:
        if not _EXPECTED_KEYS.issuperset(spec):
            unknown = set(spec) - _EXPECTED_KEYS
            raise ValueError(f"unknown expected key(s): {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(_EXPECTED_KEYS))})")
        # the native side checks the value types (TypeError on a bad one)
        return spec if isinstance(spec, dict) else dict(spec)
    return expected_from_spec(spec, target)


def analyze_dict(source: Union[str, bytes], target: str = targets.DEFAULT, spec: Any = None) -> Dict[str, Any]:
    """The native report as plain dicts (no conversion; the fastest entry point)."""
    if target not in TARGETS:
        raise ValueError(f"unknown target `{target}` (known: {', '.join(TARGETS)})")
    return _native().analyze(source, target, _expected(spec, target))


def analyze(source: Union[str, bytes], target: str = targets.DEFAULT, spec: Any = None) -> AnalysisReport:
    """Analyse one kernel source for `target` (a name in `TARGETS`, the registry's).

    `spec`: a KernelSpec, its JSON dict, an `expected` dict, or None (no ABI expectations).
    Never raises on bad sources: unreadable input gives a report with errors."""
    return AnalysisReport.from_dict(analyze_dict(source, target, spec))
