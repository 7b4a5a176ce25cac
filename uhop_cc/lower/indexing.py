"""How wide a kernel's indices must be at a bound shape: 32 bits when every index fits, else 64.

Kernels index with `int` when they can (cheaper address arithmetic and fewer registers on every
GPU) and with 64-bit integers when some index may pass 2^31 - 1: a tensor or iteration space of
more elements, or a size symbol that large. The choice is per shape, so small shapes pay nothing.

What can reach past `int`, and why the margin: flat element offsets are below the largest
tensor's element count (accesses are proved in bounds by the checker); loop variables and
work-item ids are below a size or an iteration space; launches round the work-item count up to
whole groups/blocks, and templates let one work-item cover several elements, so ids can pass the
element count by up to a few groups' worth. `MARGIN` (2^24) covers that with room to spare.
"""
from __future__ import annotations

from ..ir import nodes as N
from ..ir.typed import BoundKernel

INT32_MAX = 2 ** 31 - 1
MARGIN = 2 ** 24
INT32_SAFE = INT32_MAX - MARGIN  # the largest count a 32-bit kernel is allowed to index

__all__ = ["INT32_MAX", "INT32_SAFE", "index_bits", "largest_index"]


def largest_index(bound: BoundKernel) -> int:
    """An upper bound on any element count, size, loop bound or iteration space of the kernel."""
    top = max(bound.sizes.values(), default=0)
    for shape in bound.shapes.values():
        n = 1
        for d in shape:
            n *= int(d)
        top = max(top, n)
    for s in bound.checked.body:
        for node in N.walk(s.value):
            if isinstance(node, N.Reduce):
                space = 1
                for v in node.vars:
                    lo, hi = bound.range_of(v)
                    top = max(top, abs(int(lo)), abs(int(hi)))
                    space *= max(int(hi) - int(lo), 0)
                top = max(top, space)
    return top


def index_bits(bound: BoundKernel) -> int:
    """32 when every index of the kernel at this shape fits `int` with margin, else 64."""
    return 32 if largest_index(bound) <= INT32_SAFE else 64
