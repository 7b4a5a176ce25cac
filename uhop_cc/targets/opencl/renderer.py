"""OpenCL C: the C-style renderer with OpenCL's qualifiers, ids and half storage."""
from __future__ import annotations

from ...ir.typed import CheckedKernel
from ...codegen.cstyle import CStyleRenderer, uses_dtype


class OpenCLRenderer(CStyleRenderer):
    target = "opencl"
    file_name = "kernel.cl"
    kernel_qualifier = "__kernel void"
    global_ptr = "__global"
    block = 64

    def preamble(self, ck: CheckedKernel) -> str:
        lines = []
        if uses_dtype(ck, "f64"):
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
