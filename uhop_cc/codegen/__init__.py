"""Target-neutral code generation: the C-style renderer every C dialect subclasses, the `@launch`
grammar, the template API and the schedules written once over a dialect (stencil). Each target's
renderer and templates live in `uhop_cc.targets.<name>`."""
from __future__ import annotations

from .cstyle import CStyleRenderer, GeneratedKernel
from .launch import LaunchError, LaunchGeometry, Stage, parse_launch

__all__ = ["CStyleRenderer", "GeneratedKernel", "LaunchError", "LaunchGeometry", "Stage", "parse_launch"]
