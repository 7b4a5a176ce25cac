"""A TT-Metal project written and syntax-checked: what `uhopc compile --target ttmetal` reports
(the CLI asks the target for it: TT-Metal kernels are not run here, so they skip the pipeline)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Union

from .checks import SyntaxReport, syntax_check
from .project import TTMetalProject, emit_ttmetal_project

__all__ = ["WrittenProject", "write_checked_project"]


@dataclass
class WrittenProject:
    kernel: str
    outdir: Path
    project: TTMetalProject
    check: SyntaxReport

    @property
    def ok(self) -> bool:
        return bool(self.check.ok)

    def to_json(self) -> Dict[str, Any]:
        check = self.check.to_json() if hasattr(self.check, "to_json") else str(self.check)
        return {"ok": self.check.ok, "project": self.project.to_json(), "syntax_check": check}

    def summary(self) -> str:
        p = self.project
        lines = [f"{self.kernel}: TT-Metal project ({p.cores}-core, {p.arch}) in {self.outdir}"]
        for role, path in p.kernel_files.items():
            lines.append(f"  {role:<8} {path}  ({p.runtime_arg_counts.get(role, 0)} runtime args)")
        lines.append(f"  host     {p.host_file}")
        lines.append("  " + self.check.format().replace("\n", "\n  "))
        lines.append("  build against the SDK: cmake -S . -B build && cmake --build build (see README.md there)")
        return "\n".join(lines)


def write_checked_project(bound, outdir: Union[str, Path], *, cores: str = "single",
                          arch: str = "wormhole_b0") -> WrittenProject:
    """Emit the project (raises TTMetalError when the program cannot be lowered), then check it."""
    project = emit_ttmetal_project(bound, outdir, cores=cores, arch=arch)
    return WrittenProject(bound.name, Path(outdir), project, syntax_check(outdir))
