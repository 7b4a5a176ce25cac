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

from ..cstyle import BALANCED_PARENS, CStyleTarget
from .renderer import OpenCLRenderer
from .dialect import DIALECT


__all__ = ["TARGET", "OpenCLTarget"]


class OpenCLTarget(CStyleTarget):
    renderer_class = OpenCLRenderer
    name = "opencl"
    file_name = "kernel.cl"
    language = "OpenCL C"
    fence = "opencl"  # the code-fence language of prompts and replies
    kernel_qualifier = "__kernel void"
    global_qualifier = "__global "  # before a pointer to device memory
    # a kernel definition; group 1 is its name (bounded: a scan never runs to the end of a reply)
    kernel_pattern = re.compile(r"(?:\b__kernel|\bkernel)\s+(?:__attribute__\s*\(\(" + BALANCED_PARENS + r"\)\)\s*)*"
                                r"void\s+([A-Za-z_]\w*)\s*\(")

    def mode(self) -> Tuple[str, str]:
        """('run', '') where candidates are built, run and timed; else the mode and why not."""
        return "run", ""

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
    def compile_only_device(self):
        """None: an OpenCL target without a device has nothing that builds (see CUDATarget's)."""
        return None

    def setup_error(self) -> str:
        """'': what is missing is reported when a device is opened (OpenCLUnavailable)."""
        return ""

    def devices(self) -> List[dict]:
        """Every OpenCL device (index, name, type, platform) for `uhopc devices`."""
        from .runtime import list_devices
        return [d.to_json() for d in list_devices()]

    def device_line(self, info: dict) -> str:
        return (f"opencl {info.get('index')}: {info.get('name')}  [{info.get('type', '')}]  "
                f"platform: {info.get('platform')}")

    # ---- what ai, campaign, verify and analyze ask (add below)
    dialect = DIALECT  # what the source analyzers (preprocess, races, bounds) need to know
    batch_builds = True  # one build of many kernels costs about one build (the campaign batches them)
    arena_launches = True  # the lean launch can hold its buffers in one arena (native timing, cache flush)
    runs_sanitizer = False  # a memory sanitizer runs the candidate first (CUDA's compute-sanitizer)
    allows_asm = False  # inline assembly in an untrusted source
    include_note = ": kernels may not read files (OpenCL needs no headers)"  # why an #include is refused
    offline_check = None  # the compile-only check where nothing runs ('nvrtc', 'syntax' or None)

    def include_allowed(self, header: str) -> bool:
        """Whether an untrusted source may `#include` `header` (`<x.h>` or `"x.h"`): never."""
        return False


    # ---- timing (add below)
    def time(self, prepared, budget_s: float, **options):
        """Median-of-runs `Timing` of a prepared launch: the native C++ loop, else the Python loop
        (timing.time_prepared: `options` such as flush_buffer=, repoison=, warmup=, min_runs=)."""
        from .timing import time_prepared
        return time_prepared(prepared, budget_s, **options)

    def peaks(self, device):
        """The device's measured compute and memory peaks for the roofline, cached per device."""
        from .timing import measure_peaks
        return measure_peaks(device)

    def flush_bytes(self, device) -> int:
        """Scratch size that flushes the caches in front of `device`'s memory between timed runs."""
        from .timing import default_flush_bytes
        return default_flush_bytes(device.cl_device)

TARGET = OpenCLTarget()
