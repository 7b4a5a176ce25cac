"""The TT-Metal device of a machine without Tenstorrent hardware, and the candidate it builds.

A TT-Metal candidate is a whole project (`project_candidate`): the reader/compute/writer kernels
(joined as `source`, what the static analyzer reads, in the per-role form the AI loop archives)
and every file of the project (`files`: host program, kernels, CMake, README, plan, golden data,
sdk_decls). `TTMetalDevice` builds it by syntax-checking the project (checks.syntax_check) and runs
nothing, so the pipeline takes it through the same attempt loop as a GPU (the static analyzer,
the build) and stops before validation and timing: the result is NOT_RUN.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from ...codegen import GeneratedKernel
from .checks import SyntaxReport, syntax_check
from .kernels import KERNEL_FILES
from .project import ARCHS, CORES, emit_ttmetal_project

__all__ = ["TTMetalDevice", "ProjectBuild", "project_candidate", "join_roles", "DEFAULT_PARAMS"]

# the schedule of a project: `uhopc compile --cores/--arch` (params of the candidate)
DEFAULT_PARAMS = {"cores": CORES[0], "arch": ARCHS[0]}
SDK_NOTE = "build against the SDK: cmake -S . -B build && cmake --build build (see README.md there)"


def join_roles(sources: Mapping[str, str]) -> str:
    """One source holding every role's kernel, in the form ai.extract.split_roles reads back."""
    return "\n".join(f"// ==== {r} ====\n{sources[r].rstrip()}" for r in KERNEL_FILES if r in sources) + "\n"


def project_candidate(bound, params: Optional[Mapping[str, Any]] = None) -> GeneratedKernel:
    """The lowered project for `bound` as one candidate. Raises TTMetalError (a ValueError) naming
    the construct TT-Metal cannot express, ValueError for a bad `cores`/`arch` or an unknown param."""
    chosen = dict(DEFAULT_PARAMS, **(params or {}))
    unknown = sorted(set(chosen) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(f"ttmetal: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(DEFAULT_PARAMS)})")
    # emitted into a scratch folder and read back, so the files are byte for byte what the
    # project emitter writes (golden data included); the write stage puts them in the output folder
    with tempfile.TemporaryDirectory(prefix="uhop-ttmetal-") as d:
        project = emit_ttmetal_project(bound, d, cores=chosen["cores"], arch=chosen["arch"])
        files: Dict[str, Union[str, bytes]] = {rel: (Path(d) / rel).read_bytes() for rel in project.files}
    return GeneratedKernel("ttmetal", join_roles(project.kernels), bound.name, "generic", chosen, "kernel.cpp", files)


@dataclass
class ProjectBuild:
    """The syntax check of a project: what the pipeline's build stage keeps (`ok`, `log`, `to_json`)."""
    report: SyntaxReport
    plan: Dict[str, Any] = field(default_factory=dict)  # the project's plan.json

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)

    @property
    def log(self) -> str:
        return self.report.format()

    def summary(self) -> List[str]:
        """The project's files and the check, one line each (the CLI summary's `build` lines)."""
        p = self.plan
        lines = [f"TT-Metal project ({p.get('cores')}-core, {p.get('arch')})"] if p else []
        counts = p.get("runtime_arg_counts") or {}
        for role, path in (p.get("kernel_files") or {}).items():
            lines.append(f"{role:<8} {path}  ({counts.get(role, 0)} runtime args)")
        if p.get("host_file"):
            lines.append(f"host     {p['host_file']}")
        return lines + self.log.splitlines() + [SDK_NOTE]

    def to_json(self) -> Dict[str, Any]:
        r = self.report
        return {"ok": self.ok, "log": self.log, "summary": self.summary(), "project": dict(self.plan),  # plan.json
                "syntax_check": {"ok": r.ok, "skipped": r.skipped,
                                 "results": [{"label": label, "returncode": rc, "output": out}
                                             for label, rc, out in r.results]}}

    def release(self) -> None:
        """Nothing is loaded: a no-op, as for a compile-only CUDA build."""


class TTMetalDevice:
    """Syntax-checks TT-Metal projects; `runs_kernels` is False, so `run` and `prepare` refuse."""

    name = "none (TT-Metal project + syntax check only)"
    index = None  # no device ordinal: nothing is launched
    runs_kernels = False
    # why nothing ran: the CompileResult's reason and the summary's `status NOT_RUN` line
    not_run_reason = "TT-Metal project syntax-checked only: no Tenstorrent device to validate or time on"

    def fingerprint(self) -> Dict[str, Any]:
        return {"name": self.name}

    def build_message(self, strategy: str) -> str:
        """The progress line before a build."""
        return f"syntax-checking the {strategy} TT-Metal project (no Tenstorrent device: nothing will run)"

    def build(self, source: str, options: str = "", files: Optional[Mapping[str, Union[str, bytes]]] = None
              ) -> ProjectBuild:
        """The project's files written into a scratch folder and syntax-checked there. A bare
        source (no project files) cannot be checked: a failed build saying so."""
        if not files:
            return ProjectBuild(SyntaxReport(False, skipped="error: a TT-Metal candidate is a project: "
                                                            "no project files to check"))
        with tempfile.TemporaryDirectory(prefix="uhop-ttmetal-check-") as d:
            for rel, content in files.items():
                path = Path(d) / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content)
            plan = json.loads((Path(d) / "plan.json").read_text()) if (Path(d) / "plan.json").is_file() else {}
            return ProjectBuild(syntax_check(d), plan)

    def run(self, program, stages, bound, inputs, **kwargs):
        raise RuntimeError(f"{self.name}: no Tenstorrent device here to run kernels on")

    def prepare(self, program, stages, bound, inputs, **kwargs):
        raise RuntimeError(f"{self.name}: no Tenstorrent device here to run kernels on")
