"""The TT-Metal target object (see the package docstring): its candidate is a TT-Metalium project;
no device here launches its kernels, so `open_device` says so and `compile_only_device` is the
syntax check (device.py)."""
from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

from ...codegen.cstyle import CStyleRenderer
from .device import TTMetalDevice, project_candidate
from .dialect import include_allowed as _include_allowed
from .project import project_names, ttmetal_supports

__all__ = ["TTMetalTarget", "TARGET"]


class TTMetalTarget:
    name = "ttmetal"
    file_name = "kernel.cpp"
    language = "TT-Metal C++"
    runs_kernels = False
    c_style = False  # its own lowering (lowering.py), no C-style renderer
    fence = "cpp"
    kernel_qualifier = "void"
    global_qualifier = ""
    kernel_pattern = re.compile(r"\bvoid\s+(kernel_main(?=\s*\()|MAIN\b)")

    def mode(self) -> Tuple[str, str]:
        return "ttmetal", "no TT-Metal hardware here: candidates are only analysed and syntax-checked"

    def renderer(self, index_bits: int = 32):
        raise NotImplementedError("TT-Metal kernels are lowered per program (targets/ttmetal/lowering.py), "
                                  "not by the C-style renderer")

    def templates(self) -> List[Any]:
        return []

    def open_device(self, selector: Any = None):
        raise RuntimeError("no TT-Metal device can run kernels here: projects are written and syntax-checked")

    def available(self) -> Tuple[bool, str]:
        return False, "no TT-Metal hardware here: projects are written and syntax-checked"

    # ---- what pipeline, api, cli, tune and dataset ask (add below)
    default_size = 1024  # `uhopc compile` without --shapes: a whole 32x32 tile per size
    compile_params: Tuple[str, ...] = ("cores", "arch")  # CLI options that are parameters of its candidates

    def compile_only_device(self):
        """The device without Tenstorrent hardware: it syntax-checks the project and runs nothing
        (NOT_RUN), after the same attempt loop as every target (device.py)."""
        return TTMetalDevice()

    def setup_error(self) -> str:
        return ""

    def unsupported(self, bound) -> Optional[str]:
        """Why this program has no TT-Metal lowering (the construct named), None when it has one."""
        return ttmetal_supports(bound)

    def generic(self, bound, params=None):
        """The one candidate: the lowered project (its files; its kernels as the analysed source).
        Raises TTMetalError (a ValueError) for a program it cannot lower."""
        return project_candidate(bound, params)

    def output_names(self, bound) -> Tuple[str, ...]:
        """What its candidate writes into an output folder besides report.json and spec.json."""
        return project_names(bound.name)

    def devices(self) -> List[dict]:
        return []

    def device_line(self, info: dict) -> str:
        return f"ttmetal {info.get('index')}: {info.get('name')}"

    # ---- what ai, campaign, verify and analyze ask (add below)
    dialect = None  # not C-style: no preprocessing, no interval analysis
    memory_checked = False
    batch_builds = False
    arena_launches = False
    runs_sanitizer = False
    allows_asm = False
    include_note = " (only known SDK headers may be included)"
    offline_check = "syntax"  # structure rules and g++ -fsyntax-only against the bundled SDK declarations
    kernel_roles: Tuple[str, ...] = ("reader", "compute", "writer")  # one kernel per role, one fenced block each

    def include_allowed(self, header: str) -> bool:
        """Whether an untrusted source may `#include` `header`: the bundled SDK headers, a few system ones."""
        return _include_allowed(header)

    def abi_decl(self, arg) -> str:
        """Plain C types (no address space): the prompt's reference signature."""
        return CStyleRenderer().abi_decl(arg)

    def prompt_baseline(self, bound):
        """('ttmetal', the deterministic reader/compute/writer kernels, or None without a lowering)."""
        try:
            from .kernels import all_sources
            from .lowering import plan_kernel
            src = all_sources(plan_kernel(bound))
            return self.name, "\n".join(f"// {role}\n{text.rstrip()}\n" for role, text in src.items())
        except Exception:  # noqa: BLE001 - the program has no TT-Metal lowering
            return self.name, None


    # ---- timing (add below)
    def time(self, prepared, budget_s: float, **options):
        raise RuntimeError("TT-Metal kernels are not run here")

    def peaks(self, device):
        return None

    def flush_bytes(self, device) -> int:
        return 0


TARGET = TTMetalTarget()
