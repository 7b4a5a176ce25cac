"""The CUDA device of a machine without a GPU: it builds with NVRTC (a real compile check) and runs
nothing. The pipeline takes it through the same attempt loop as a GPU (launch lines, the static
analyzer, the build) and stops before validation and timing: the result is NOT_RUN."""
from __future__ import annotations

from typing import Any, Dict

from .runtime import CudaBuild, nvrtc_compile

__all__ = ["NVRTCDevice"]


class NVRTCDevice:
    """Builds CUDA sources with NVRTC; `runs_kernels` is False, so `run` and `prepare` refuse."""

    name = "none (NVRTC compile check only)"
    index = None  # no device ordinal: nothing is launched
    runs_kernels = False
    # why nothing ran: the CompileResult's reason and the summary's `status NOT_RUN` line
    not_run_reason = "compiled with NVRTC only: no CUDA device to validate or time on"

    def fingerprint(self) -> Dict[str, Any]:
        return {"name": self.name}

    def build_message(self, strategy: str) -> str:
        """The progress line before a build."""
        return f"compiling {strategy} kernel with NVRTC (no GPU: nothing will run)"

    def build(self, source: str, options: str = "") -> CudaBuild:
        return nvrtc_compile(source, options=tuple(options.split()))

    def run(self, program, stages, bound, inputs, **kwargs):
        raise RuntimeError(f"{self.name}: no CUDA GPU here to run kernels on")

    def prepare(self, program, stages, bound, inputs, **kwargs):
        raise RuntimeError(f"{self.name}: no CUDA GPU here to run kernels on")
