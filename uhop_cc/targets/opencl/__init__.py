"""The OpenCL target: OpenCL C kernels, run on any OpenCL device (PoCL on a CPU, NVIDIA's driver on
a GPU) through pyopencl.

    renderer.py   OpenCLRenderer: the C-style renderer's OpenCL dialect
    templates/    the fast templates, one file per category
    runtime.py    OpenCLDevice: build, checking launch (guards, poison), lean launch for timing
    host.py       a standalone C++ host project around a kernel (CMake, golden data)
"""
from __future__ import annotations

import re
from typing import Any, List, Tuple

from .renderer import OpenCLRenderer

_PARENS = r"(?:[^()]|\((?:[^()]|\([^()]*\))*\))*"  # balanced text, at most two levels of nested parens

__all__ = ["TARGET", "OpenCLTarget"]


class OpenCLTarget:
    name = "opencl"
    file_name = "kernel.cl"
    language = "OpenCL C"
    runs_kernels = True
    fence = "opencl"  # the code-fence language of prompts and replies
    kernel_qualifier = "__kernel void"
    global_qualifier = "__global "  # before a pointer to device memory
    # a kernel definition; group 1 is its name (bounded: a scan never runs to the end of a reply)
    kernel_pattern = re.compile(r"(?:\b__kernel|\bkernel)\s+(?:__attribute__\s*\(\(" + _PARENS + r"\)\)\s*)*"
                                r"void\s+([A-Za-z_]\w*)\s*\(")

    def mode(self) -> Tuple[str, str]:
        """('run', '') where candidates are built, run and timed; else the mode and why not."""
        return "run", ""

    def renderer(self, index_bits: int = 32) -> OpenCLRenderer:
        return OpenCLRenderer(index_bits)

    def templates(self) -> List[Any]:
        from .templates import TEMPLATES
        return list(TEMPLATES)

    def open_device(self, selector: Any = None):
        from .runtime import OpenCLDevice
        return OpenCLDevice.open(selector)

    def available(self) -> Tuple[bool, str]:
        from .runtime import OpenCLUnavailable, list_devices
        try:
            return (True, "") if list_devices() else (False, "no OpenCL device")
        except OpenCLUnavailable as e:
            return False, str(e)

    def emit_host(self, bound, generated, outdir, **kwargs):
        from .host import emit_opencl_project
        return emit_opencl_project(bound, generated, outdir, **kwargs)

    # ---- what pipeline, api, cli, tune and dataset ask (add below)

    # ---- what ai, campaign, verify and analyze ask (add below)

    # ---- timing (add below)
    def time(self, prepared, budget_s: float) -> dict:
        """Median-of-runs timing of a prepared launch: the native C++ loop, else the Python loop."""
        from ...verify.native_timing import HarnessUnavailable, time_opencl
        from ...verify.timing import time_launch
        try:
            return time_opencl(prepared, budget_s=budget_s)
        except HarnessUnavailable:
            return time_launch(prepared, budget_s=budget_s)

    def peaks(self, device):
        """The device's measured compute and memory peaks for the roofline (None: unknown)."""
        from ...verify.native_timing import measure_peaks
        return measure_peaks(device)


TARGET = OpenCLTarget()
