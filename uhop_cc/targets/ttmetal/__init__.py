"""The TT-Metal (Tenstorrent) target: UIR -> a standalone TT-Metalium project.

    from uhop_cc.targets.ttmetal import emit_ttmetal_project, ttmetal_supports
    reason = ttmetal_supports(bound)            # None, or why the program cannot be lowered
    proj = emit_ttmetal_project(bound, "out/add", cores="multi", arch="wormhole_b0")

Lowers elementwise programs (binary/unary ops and fused chains of them) and 2-D matmul with
tile-multiple shapes; anything else raises `TTMetalError` naming the construct. Without
Tenstorrent hardware, `syntax_check` and `check_structure` verify the emitted sources.
"""
from __future__ import annotations

from .checks import SyntaxReport, check_structure, syntax_check
from .lowering import TTMetalError, TTMetalPlan, plan_kernel
from .target import TARGET, TTMetalTarget
from .project import ARCHS, CORES, TTMetalProject, bf16_round, bf16_tolerance, emit_ttmetal_project, ttmetal_supports

__all__ = ["TARGET", "TTMetalTarget", "emit_ttmetal_project", "ttmetal_supports", "TTMetalProject", "TTMetalError", "TTMetalPlan", "plan_kernel",
           "syntax_check", "SyntaxReport", "check_structure", "bf16_round", "bf16_tolerance", "CORES", "ARCHS"]
