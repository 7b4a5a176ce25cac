"""CUDA C++ as the source analyzers see it (see targets/dialect.py)."""
from __future__ import annotations

from ..dialect import MATH, Dialect

__all__ = ["DIALECT", "SYSTEM_HEADERS"]

_BUILTINS = frozenset({
    "__global__", "__device__", "__host__", "__shared__", "__constant__", "__syncthreads", "__syncwarp",
    "__threadfence", "__threadfence_block", "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize",
    "__launch_bounds__", "__restrict__", "asm", "__ldg", "atomicAdd", "atomicSub", "atomicExch", "atomicMin",
    "atomicMax", "atomicInc", "atomicDec", "atomicCAS", "atomicAnd", "atomicOr", "atomicXor",
    "__shfl_sync", "__shfl_down_sync", "__shfl_up_sync", "__shfl_xor_sync", "__ballot_sync", "__any_sync",
    "__all_sync", "extern"})

DIALECT = Dialect(
    name="cuda", file_name="kernel.cu", builtins=_BUILTINS | MATH,
    predefined={"__CUDACC__": "1", "__CUDACC_RTC__": "1", "__CUDA_ARCH__": "900", "__cplusplus": "201703L",
                "__NVCC__": "1"},
    cpp_args=("-x", "c++", "-std=c++17"),
    pointers_global=True, launch_shared_memory=True)

# <headers> an untrusted CUDA source may include (NVRTC ships them; none reads user files)
SYSTEM_HEADERS = frozenset({"cuda_fp16.h", "cuda_bf16.h", "stdint.h", "cstdint", "math_constants.h",
                            "cuda/std/cstdint", "float.h", "cfloat", "climits", "limits.h"})
