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

from ..cstyle import BALANCED_PARENS, CStyleTarget
from .renderer import CUDARenderer
from .dialect import DIALECT, SYSTEM_HEADERS


__all__ = ["TARGET", "CUDATarget"]


class CUDATarget(CStyleTarget):
    renderer_class = CUDARenderer
    name = "cuda"
    file_name = "kernel.cu"
    language = "CUDA C++"
    fence = "cuda"
    kernel_qualifier = 'extern "C" __global__ void'
    global_qualifier = ""
    kernel_pattern = re.compile(r"__global__\s+(?:__launch_bounds__\s*\(" + BALANCED_PARENS + r"\)\s*)?(?:static\s+)?"
                                r"void\s+([A-Za-z_]\w*)\s*\(")

    def mode(self) -> Tuple[str, str]:
        """('run', '') with a GPU; ('nvrtc', why) where NVRTC compiles but nothing runs; ('static', why)."""
        from .runtime import cuda_available, nvrtc_available
        if cuda_available():
            return "run", ""
        if nvrtc_available():
            return "nvrtc", "no CUDA GPU here: candidates are analysed and compiled with NVRTC, not run or timed"
        return "static", "no CUDA GPU and no NVRTC here: candidates are only analysed"

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
    def compile_only_device(self):
        """Where NVRTC compiles but no GPU runs (mode 'nvrtc'): a device that builds and runs
        nothing, so the pipeline's attempt loop stops after the build (NOT_RUN). None otherwise."""
        if self.mode()[0] != "nvrtc":
            return None
        from .nvrtc_device import NVRTCDevice
        return NVRTCDevice()

    def setup_error(self) -> str:
        """Why nothing can be built for this target here, naming what to install ('' when it can)."""
        if self.mode()[0] != "static":
            return ""
        return ('--target cuda needs the CUDA extra (NVRTC, and the driver API where a GPU exists): '
                'pip install "uhopc[cuda]"  (cuda-bindings and nvidia-cuda-nvrtc)')

    def devices(self) -> List[dict]:
        """Every CUDA device (index, name, compute capability) for `uhopc devices`; [] without a driver."""
        try:
            from .runtime import list_devices
        except ImportError:
            return []
        return list_devices()

    def device_line(self, info: dict) -> str:
        return f"cuda   {info.get('index')}: {info.get('name')}"

    # ---- what ai, campaign, verify and analyze ask (add below)
    dialect = DIALECT  # what the source analyzers (preprocess, races, bounds) need to know
    batch_builds = False  # each kernel is built (and checked) through compile_bound
    arena_launches = False
    runs_sanitizer = True  # compute-sanitizer memcheck runs the candidate before the judge
    allows_asm = True  # inline PTX
    include_note = " (only known SDK headers may be included)"
    offline_check = "nvrtc"  # without a GPU, NVRTC compiles the candidate

    def include_allowed(self, header: str) -> bool:
        """Whether an untrusted source may `#include` `header`: the CUDA system headers NVRTC ships."""
        return header.startswith("<") and header[1:-1].strip() in SYSTEM_HEADERS


    # ---- timing (add below)
    def time(self, prepared, budget_s: float, **options):
        """Median-of-runs `Timing` of a prepared launch: the native C++ loop over the driver API,
        else the Python loop over CUDA events (timing.time_prepared: `options` such as flush=,
        repoison=, warmup=, min_runs=)."""
        from .timing import time_prepared
        return time_prepared(prepared, budget_s, **options)

    def peaks(self, device):
        """The device's measured copy bandwidth and FMA throughput for the roofline (NVRTC-compiled
        probes timed by the native loop), cached per device."""
        from .timing import measure_peaks
        return measure_peaks(device)

    def flush_bytes(self, device) -> int:
        """Scratch size that flushes the L2 in front of `device`'s memory between timed runs."""
        from .timing import device_flush_bytes
        return device_flush_bytes(device)

TARGET = CUDATarget()
