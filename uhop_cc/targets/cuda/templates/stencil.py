"""`stencil` in CUDA C++: the shared tiled-neighbourhood schedule (codegen/stencil.py) with CUDA's
shared memory, `__syncthreads`, thread/block ids, `__launch_bounds__` and grid limits."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

from ....codegen.cstyle import GeneratedKernel, c_name
from ....codegen.stencil import Dialect, StencilTemplate
from ....codegen.template import Match, local_mem, max_work_group
from ....ir.typed import CheckedKernel
from ..renderer import CUDARenderer
from .base import finish, signature

__all__ = ["TEMPLATE", "CUDA"]


def _launch(grid: Sequence[str], block: Sequence[int]) -> str:
    return f"// @launch grid=({', '.join(grid)}) block=({', '.join(map(str, block))})"


def _signature(ck: CheckedKernel, block: Sequence[int], bits: int) -> str:
    return signature(ck, c_name(ck.name), f"__launch_bounds__({math.prod(block)})", bits)


def _finish(match: Match, code: str, name: str, params: dict) -> GeneratedKernel:
    return finish(match.checked, [code], name, params)


def _limits(fp: Optional[dict]) -> Tuple[int, int]:
    # static __shared__ arrays are capped at 48 KiB whatever the opt-in limit
    return max_work_group(fp, 1024), min(local_mem(fp, 48 * 1024), 48 * 1024)


CUDA = Dialect("cuda", CUDARenderer, "__shared__", "__syncthreads();",
               lambda a: f"(int)threadIdx.{'xyz'[a]}", lambda a, t: f"({t})blockIdx.{'xyz'[a]}",
               (2 ** 31 - 1, 65535, 65535), _launch, _signature, _finish, _limits)
TEMPLATE = StencilTemplate(CUDA)
