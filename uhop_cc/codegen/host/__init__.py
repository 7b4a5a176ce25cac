"""Standalone host projects: a generated kernel plus a C++ host, its data and a CMake build.

`emit_opencl_project(bound, generated, outdir)` writes a project that builds with
`cmake -B build && cmake --build build` and runs, checks and times the kernel on its own;
`golden` reads and writes the raw data files and their manifest.
"""
from __future__ import annotations

from . import golden
from .opencl_host import cpp_launch_expr, emit_opencl_project

__all__ = ["emit_opencl_project", "cpp_launch_expr", "golden"]
