"""OpenCL C as the source analyzers see it (see targets/dialect.py)."""
from __future__ import annotations

from ..dialect import MATH, Dialect

__all__ = ["DIALECT"]

_BUILTINS = frozenset({
    "__kernel", "kernel", "__global", "global", "__local", "local", "__private", "private", "__constant",
    "constant", "__attribute__", "barrier", "mem_fence", "read_mem_fence", "write_mem_fence",
    "work_group_barrier", "get_global_id", "get_local_id", "get_group_id", "get_global_size",
    "get_local_size", "get_num_groups", "get_work_dim", "get_global_offset", "async_work_group_copy",
    "wait_group_events", "prefetch", "vload_half", "vstore_half", "CLK_LOCAL_MEM_FENCE",
    "CLK_GLOBAL_MEM_FENCE"}) | {f"{op}{n}" for op in ("vload", "vstore") for n in (2, 3, 4, 8, 16)} | {
    f"{p}_{op}" for p in ("atomic", "atom") for op in ("add", "sub", "xchg", "inc", "dec", "cmpxchg", "min", "max",
                                                     "and", "or", "xor")}

DIALECT = Dialect(
    name="opencl", file_name="kernel.cl", builtins=_BUILTINS | MATH,
    predefined={"__OPENCL_VERSION__": "120", "__OPENCL_C_VERSION__": "120", "CL_VERSION_1_0": "100",
                "CL_VERSION_1_1": "110", "CL_VERSION_1_2": "120", "__ENDIAN_LITTLE__": "1", "FP_FAST_FMAF": "1",
                "cl_khr_fp64": "1", "cl_khr_fp16": "1", "__OPENCL_C__": "1"},
    cpp_args=("-x", "c", "-std=c11"),
    bare_qualifiers=frozenset({"global", "local", "private", "constant", "read_only", "write_only"}),
    vec3_lanes=4)
