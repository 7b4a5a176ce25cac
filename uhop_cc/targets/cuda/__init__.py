"""The CUDA target: CUDA C++ kernels compiled by NVRTC (from pip wheels, so machines without a GPU
still get a real compile check) and, with a GPU, loaded, checked and timed through the driver API.

    renderer.py   CUDARenderer: the C-style renderer's CUDA dialect
    templates/    the fast templates (sgemm, rowreduce, elementwise, conv2d, stencil)
    runtime.py    CUDADevice and NVRTC: build, checking launch, lean launch for timing
    host.py       a standalone CUDA host project around a kernel (CMake, golden data)
"""
from __future__ import annotations

import re
from typing import Any, List, Tuple

from .renderer import CUDARenderer

_PARENS = r"(?:[^()]|\((?:[^()]|\([^()]*\))*\))*"  # balanced text, at most two levels of nested parens

__all__ = ["TARGET", "CUDATarget"]


class CUDATarget:
    name = "cuda"
    file_name = "kernel.cu"
    language = "CUDA C++"
    runs_kernels = True
    fence = "cuda"
    kernel_qualifier = 'extern "C" __global__ void'
    global_qualifier = ""
    kernel_pattern = re.compile(r"__global__\s+(?:__launch_bounds__\s*\(" + _PARENS + r"\)\s*)?(?:static\s+)?"
                                r"void\s+([A-Za-z_]\w*)\s*\(")

    def mode(self) -> Tuple[str, str]:
        """('run', '') with a GPU; ('nvrtc', why) where NVRTC compiles but nothing runs; ('static', why)."""
        from .runtime import cuda_available, nvrtc_available
        if cuda_available():
            return "run", ""
        if nvrtc_available():
            return "nvrtc", "no CUDA GPU here: candidates are analysed and compiled with NVRTC, not run or timed"
        return "static", "no CUDA GPU and no NVRTC here: candidates are only analysed"

    def renderer(self, index_bits: int = 32) -> CUDARenderer:
        return CUDARenderer(index_bits)

    def templates(self) -> List[Any]:
        from .templates import TEMPLATES
        return list(TEMPLATES)

    def open_device(self, selector: Any = None):
        from .runtime import CUDADevice
        return CUDADevice.open(selector)

    def available(self) -> Tuple[bool, str]:
        from .runtime import cuda_available
        return (True, "") if cuda_available() else (False, "no CUDA driver or device")

    def emit_host(self, bound, generated, outdir, **kwargs):
        from .host import emit_cuda_project
        return emit_cuda_project(bound, generated, outdir, **kwargs)

    # ---- what pipeline, api, cli, tune and dataset ask (add below)

    # ---- what ai, campaign, verify and analyze ask (add below)

    # ---- timing (add below)
    def time(self, prepared, budget_s: float) -> dict:
        """Median-of-runs timing of a prepared launch (the Python loop over CUDA events)."""
        from ...verify.timing import time_launch
        return time_launch(prepared, budget_s=budget_s)

    def peaks(self, device):
        """The device's measured peaks for the roofline: not measured for CUDA yet (None)."""
        return None


TARGET = CUDATarget()
