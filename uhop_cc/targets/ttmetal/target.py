"""The TT-Metal target object (see the package docstring): it writes TT-Metalium projects; no
device here launches its kernels, so `open_device` says so."""
from __future__ import annotations

import re
from typing import Any, List, Tuple

from ...codegen.cstyle import CStyleRenderer
from .dialect import include_allowed as _include_allowed

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
    def compile_only_device(self):
        """None: TT-Metal programs become projects (`write_project`), not pipeline candidates."""
        return None

    def setup_error(self) -> str:
        return ""

    def write_project(self, bound, outdir, *, cores: str = "single", arch: str = "wormhole_b0"):
        """The standalone project for `bound` written into `outdir` and syntax-checked (a
        WrittenProject); raises TTMetalError (a ValueError) for a program it cannot lower."""
        from .written import write_checked_project
        return write_checked_project(bound, outdir, cores=cores, arch=arch)

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
