"""Kernel source generation: KernelSpec/checked IR -> source for a target."""
from __future__ import annotations

from .cstyle import CStyleRenderer, GeneratedKernel
from .launch import LaunchError, LaunchGeometry, Stage, parse_launch
from .cuda import CUDARenderer
from .opencl import OpenCLRenderer

RENDERERS = {"opencl": OpenCLRenderer, "cuda": CUDARenderer}

__all__ = ["CStyleRenderer", "GeneratedKernel", "LaunchError", "LaunchGeometry", "Stage", "parse_launch",
           "OpenCLRenderer", "CUDARenderer", "RENDERERS", "renderer"]


def renderer(target: str, index_bits: int = 32) -> CStyleRenderer:
    try:
        return RENDERERS[target](index_bits)
    except KeyError:
        raise ValueError(f"unknown target `{target}` (known: {', '.join(sorted(RENDERERS))})") from None
