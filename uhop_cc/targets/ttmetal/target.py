"""The TT-Metal target object (see the package docstring): it writes TT-Metalium projects; no
device here launches its kernels, so `open_device` says so."""
from __future__ import annotations

import re
from typing import Any, List, Tuple

__all__ = ["TTMetalTarget", "TARGET"]


class TTMetalTarget:
    name = "ttmetal"
    file_name = "kernel.cpp"
    language = "TT-Metal C++"
    runs_kernels = False
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

    # ---- what ai, campaign, verify and analyze ask (add below)

    # ---- timing (add below)
    def time(self, prepared, budget_s: float) -> dict:
        raise RuntimeError("TT-Metal kernels are not run here")

    def peaks(self, device):
        return None


TARGET = TTMetalTarget()
