"""OpenCL C: the C-style renderer with OpenCL's qualifiers, ids and half storage."""
from __future__ import annotations

from ...ir.typed import CheckedKernel
from ...codegen.cstyle import CStyleRenderer


def _uses(ck: CheckedKernel, dtype: str) -> bool:
    from ...ir import nodes as N
    if any(t.dtype == dtype for t in ck.tensors.values()) or dtype in ck.scalars.values():
        return True
    return any(getattr(n, "dtype", None) == dtype for s in ck.body for n in N.walk(s.value))


class OpenCLRenderer(CStyleRenderer):
    target = "opencl"
    file_name = "kernel.cl"
    kernel_qualifier = "__kernel void"
    global_ptr = "__global"
    block = 64

    def preamble(self, ck: CheckedKernel) -> str:
        lines = []
        if _uses(ck, "f64"):
            lines.append("#pragma OPENCL EXTENSION cl_khr_fp64 : enable")
        return "\n".join(lines)

    def thread_index(self) -> str:
        return "get_global_id(0)"

    def launch_annotation(self, total: str, block: int) -> str:
        return f"// @launch global=(roundup({total}, {block})) local=({block})"

    def load(self, ptr: str, index: str, dtype: str) -> str:
        if dtype == "f16":
            return f"vload_half({index}, {ptr})"
        return f"{ptr}[{index}]"

    def store(self, ptr: str, index: str, value: str, dtype: str) -> str:
        if dtype == "f16":
            return f"vstore_half({value}, {index}, {ptr});"
        return f"{ptr}[{index}] = {value};"
