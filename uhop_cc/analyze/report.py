"""Typed, immutable view of an analyzer report (what `uhop_cc.analyze.analyze` returns).

The native analyzer hands back plain dicts; `AnalysisReport.from_dict` turns them into
frozen dataclasses of ints, strs, bools and tuples, so nothing of the extension leaks out.
Findings are ordered by severity (error, warning, info), then line and column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

__all__ = ["SEVERITIES", "Finding", "PrivateArray", "CircularBuffer", "Resources", "SyncSummary",
           "MemorySummary", "KernelArg", "KernelInfo", "AbiSummary", "LaunchAnnotation", "Stats",
           "AnalysisReport"]

SEVERITIES = ("error", "warning", "info")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _opt_tuple(v: Optional[Iterable[Any]]) -> Optional[Tuple[Any, ...]]:
    return None if v is None else tuple(v)


def _new(cls, **fields):
    """A frozen dataclass instance built without running its __init__: the report is
    converted once per analysis on hot paths and the values already have the right types."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    code: str      # stable id, e.g. `sync.barrier-divergent`
    message: str
    line: int
    col: int
    function: str = ""

    @property
    def rank(self) -> int:
        return _RANK.get(self.severity, len(SEVERITIES))

    def to_json(self) -> Dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "line": self.line,
                "col": self.col, "function": self.function}

    def format(self, path: str = "<source>") -> str:
        return f"{path}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.code}]"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class PrivateArray:
    name: str
    bytes: Optional[int]  # None: size not a compile-time constant
    line: int


@dataclass(frozen=True)
class CircularBuffer:
    cb: str
    tiles: Optional[int]
    bytes: Optional[int]


@dataclass(frozen=True)
class Resources:
    local_mem_bytes: int = 0
    local_mem_unknown: bool = False
    dynamic_shared: bool = False
    private_bytes: int = 0
    private_arrays: Tuple[PrivateArray, ...] = ()
    registers_estimate: int = 0
    reqd_work_group_size: Optional[Tuple[int, ...]] = None
    launch_bounds: Optional[Tuple[int, ...]] = None
    circular_buffers: Tuple[CircularBuffer, ...] = ()
    cb_bytes: int = 0


@dataclass(frozen=True)
class SyncSummary:
    barriers: int = 0
    barriers_in_loops: int = 0
    divergent_barriers: int = 0


@dataclass(frozen=True)
class MemorySummary:
    vector_loads: int = 0
    vector_stores: int = 0
    vector_casts: int = 0
    unit_stride: int = 0
    strided: int = 0
    uniform: int = 0
    irregular: int = 0
    atomics: int = 0


@dataclass(frozen=True)
class KernelArg:
    name: str
    type: str
    space: str
    pointer: int
    const: bool


@dataclass(frozen=True)
class KernelInfo:
    name: str
    line: int
    col: int
    entry: bool
    nargs: int
    args: Tuple[KernelArg, ...]  # listed for the entry kernel (every stage shares its ABI)
    local_mem_bytes: int
    local_mem_unknown: bool
    dynamic_shared: bool
    private_bytes: int
    registers: int
    barriers: int
    reqd_work_group_size: Optional[Tuple[int, ...]]
    launch_bounds: Optional[Tuple[int, ...]]
    launch: Optional[int]  # index into AnalysisReport.launch


@dataclass(frozen=True)
class AbiSummary:
    entry: Optional[str] = None
    kernels: Tuple[KernelInfo, ...] = ()
    runtime_args: Optional[int] = None       # TT-Metal: get_arg_val indices used
    compile_time_args: Optional[int] = None  # TT-Metal: get_compile_time_arg_val indices used


@dataclass(frozen=True)
class LaunchAnnotation:
    kernel: str
    line: int
    text: str
    ok: bool
    error: Optional[str]
    grid_style: bool
    global_size: Tuple[str, ...]  # the grid for grid_style annotations
    local_size: Optional[Tuple[str, ...]]  # the block for grid_style annotations
    smem: Optional[str]


@dataclass(frozen=True)
class Stats:
    bytes: int = 0
    lines: int = 0
    tokens: int = 0
    functions: int = 0


def _kernel(d: Mapping[str, Any]) -> KernelInfo:
    return _new(KernelInfo, name=d["name"], line=d["line"], col=d["col"], entry=d["entry"], nargs=d["nargs"],
                args=tuple(_new(KernelArg, name=a["name"], type=a["type"], space=a["space"], pointer=a["pointer"],
                                const=a["const"]) for a in d["args"]),
                local_mem_bytes=d["local_mem_bytes"], local_mem_unknown=d["local_mem_unknown"],
                dynamic_shared=d["dynamic_shared"], private_bytes=d["private_bytes"], registers=d["registers"],
                barriers=d["barriers"], reqd_work_group_size=_opt_tuple(d["reqd_work_group_size"]),
                launch_bounds=_opt_tuple(d["launch_bounds"]), launch=d["launch"])


def _launch(l: Mapping[str, Any]) -> LaunchAnnotation:
    return _new(LaunchAnnotation, kernel=l["kernel"], line=l["line"], text=l["text"], ok=l["ok"], error=l["error"],
                grid_style=l["grid_style"], global_size=tuple(l["global"]), local_size=_opt_tuple(l["local"]),
                smem=l["smem"])


def _rank_key(f: Finding):
    return (f.rank, f.line, f.col, f.code)


@dataclass(frozen=True)
class AnalysisReport:
    """`abi` and `launch` are built on first use (from the report's own plain data): most
    callers of a campaign only look at `ok`, the findings and the resources."""
    target: str
    findings: Tuple[Finding, ...]
    resources: Resources = field(default_factory=Resources)
    sync: SyncSummary = field(default_factory=SyncSummary)
    memory: MemorySummary = field(default_factory=MemorySummary)
    stats: Stats = field(default_factory=Stats)
    fatal: bool = False  # the analysis stopped before the rules ran (unreadable source)
    abi_data: Any = field(default=None, repr=False, compare=False)     # plain dicts behind `abi`
    launch_data: Any = field(default=None, repr=False, compare=False)  # plain dicts behind `launch`

    @property
    def abi(self) -> AbiSummary:
        v = self.__dict__.get("_abi")
        if v is None:
            a = self.abi_data
            v = AbiSummary() if a is None else _new(
                AbiSummary, entry=a["entry"], kernels=tuple(_kernel(k) for k in a["kernels"]),
                runtime_args=a["runtime_args"], compile_time_args=a["compile_time_args"])
            self.__dict__["_abi"] = v
        return v

    @property
    def launch(self) -> Tuple[LaunchAnnotation, ...]:
        v = self.__dict__.get("_launch")
        if v is None:
            v = tuple(_launch(l) for l in (self.launch_data or ()))
            self.__dict__["_launch"] = v
        return v

    # ---- views
    @property
    def errors(self) -> Tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> Tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def infos(self) -> Tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "info")

    @property
    def ok(self) -> bool:
        """No errors (warnings and infos allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def clean(self) -> bool:
        """No errors and no warnings."""
        return all(f.severity == "info" for f in self.findings)

    @property
    def codes(self) -> FrozenSet[str]:
        return frozenset(f.code for f in self.findings)

    def by_code(self, code: str) -> Tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code == code)

    # ---- conversion
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AnalysisReport":
        """From the plain dict of `uhop_cc._native.analyze` (or tests/analyze/pyref.py's `analyze_dict`)."""
        findings = tuple(_new(Finding, **f) for f in d["findings"])
        if len(findings) > 1:
            findings = tuple(sorted(findings, key=_rank_key))
        r = d["resources"]
        res = _new(Resources, local_mem_bytes=r["local_mem_bytes"], local_mem_unknown=r["local_mem_unknown"],
                   dynamic_shared=r["dynamic_shared"], private_bytes=r["private_bytes"],
                   private_arrays=tuple(_new(PrivateArray, name=p["name"], bytes=p["bytes"], line=p["line"])
                                        for p in r["private_arrays"]),
                   registers_estimate=r["registers_estimate"],
                   reqd_work_group_size=_opt_tuple(r["reqd_work_group_size"]),
                   launch_bounds=_opt_tuple(r["launch_bounds"]),
                   circular_buffers=tuple(_new(CircularBuffer, cb=c["cb"], tiles=c["tiles"], bytes=c["bytes"])
                                          for c in r["circular_buffers"]),
                   cb_bytes=r["cb_bytes"])
        return _new(cls, target=d["target"], findings=findings, resources=res,
                    sync=_new(SyncSummary, **d["sync"]), memory=_new(MemorySummary, **d["memory"]),
                    stats=_new(Stats, **d["stats"]), fatal=bool(d.get("fatal", False)),
                    abi_data=d["abi"], launch_data=d["launch"])

    def to_json(self) -> Dict[str, Any]:
        res = self.resources
        return {
            "target": self.target,
            "ok": self.ok,
            "fatal": self.fatal,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "infos": len(self.infos),
            "findings": [f.to_json() for f in self.findings],
            "resources": {
                "local_mem_bytes": res.local_mem_bytes, "local_mem_unknown": res.local_mem_unknown,
                "dynamic_shared": res.dynamic_shared, "private_bytes": res.private_bytes,
                "private_arrays": [{"name": p.name, "bytes": p.bytes, "line": p.line} for p in res.private_arrays],
                "registers_estimate": res.registers_estimate,
                "reqd_work_group_size": list(res.reqd_work_group_size) if res.reqd_work_group_size else None,
                "launch_bounds": list(res.launch_bounds) if res.launch_bounds else None,
                "circular_buffers": [{"cb": c.cb, "tiles": c.tiles, "bytes": c.bytes} for c in res.circular_buffers],
                "cb_bytes": res.cb_bytes,
            },
            "sync": dict(vars(self.sync)),
            "memory": dict(vars(self.memory)),
            "abi": {
                "entry": self.abi.entry,
                "kernels": [{
                    "name": k.name, "line": k.line, "col": k.col, "entry": k.entry, "nargs": k.nargs,
                    "args": [dict(vars(x)) for x in k.args],
                    "local_mem_bytes": k.local_mem_bytes, "local_mem_unknown": k.local_mem_unknown,
                    "dynamic_shared": k.dynamic_shared, "private_bytes": k.private_bytes,
                    "registers": k.registers, "barriers": k.barriers,
                    "reqd_work_group_size": list(k.reqd_work_group_size) if k.reqd_work_group_size else None,
                    "launch_bounds": list(k.launch_bounds) if k.launch_bounds else None,
                    "launch": k.launch,
                } for k in self.abi.kernels],
                "runtime_args": self.abi.runtime_args,
                "compile_time_args": self.abi.compile_time_args,
            },
            "launch": [{
                "kernel": l.kernel, "line": l.line, "text": l.text, "ok": l.ok, "error": l.error,
                "grid_style": l.grid_style, "global": list(l.global_size),
                "local": list(l.local_size) if l.local_size is not None else None, "smem": l.smem,
            } for l in self.launch],
            "stats": dict(vars(self.stats)),
        }

    def format(self, path: str = "<source>", min_severity: str = "info") -> str:
        """Compiler-style lines, most severe first, then a one-line summary."""
        limit = _RANK.get(min_severity, 2)
        lines: List[str] = [f.format(path) for f in self.findings if f.rank <= limit]
        lines.append(f"{path}: {len(self.errors)} error(s), {len(self.warnings)} warning(s), "
                     f"{len(self.infos)} note(s) [{self.target}]")
        return "\n".join(lines)
