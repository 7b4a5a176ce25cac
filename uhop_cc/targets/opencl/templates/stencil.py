"""`stencil` in OpenCL C: the shared tiled-neighbourhood schedule (codegen/stencil.py) with OpenCL's
local memory, barrier, work-item ids and `reqd_work_group_size`."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

from ....codegen.cstyle import GeneratedKernel
from ....codegen.stencil import Dialect, StencilTemplate
from ....codegen.template import Match, local_mem, max_work_group
from ....ir.typed import CheckedKernel
from ..renderer import OpenCLRenderer
from .base import finish, signature

__all__ = ["TEMPLATE", "OPENCL"]


def _launch(grid: Sequence[str], block: Sequence[int]) -> str:
    glob = ", ".join(f"{g} * {b}" for g, b in zip(grid, block))
    return f"// @launch global=({glob}) local=({', '.join(map(str, block))})"


def _signature(ck: CheckedKernel, block: Sequence[int], bits: int) -> str:
    dims = ", ".join(str(b) for b in list(block) + [1] * (3 - len(block)))
    return signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({dims})))", bits)


def _finish(match: Match, code: str, name: str, params: dict) -> GeneratedKernel:
    return finish(match, [code], name, params)


def _limits(fp: Optional[dict]) -> Tuple[int, int]:
    return max_work_group(fp, 256), local_mem(fp, 32 * 1024)


OPENCL = Dialect("opencl", OpenCLRenderer, "__local", "barrier(CLK_LOCAL_MEM_FENCE);",
                 lambda a: f"(int)get_local_id({a})", lambda a, t: f"({t})get_group_id({a})", (2 ** 63 - 1,) * 3,
                 _launch, _signature, _finish, _limits)
TEMPLATE = StencilTemplate(OPENCL)
