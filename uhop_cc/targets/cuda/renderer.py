"""CUDA C++: the C-style renderer with CUDA's qualifiers, thread index, math names and f16 storage.

Kernels are `extern "C" __global__ void` (unmangled names, so the driver API finds them by
the UIR name) and follow the same ABI as OpenCL: inputs, outputs, temporaries (when the
stage takes them), then every size symbol as `const int`. Each stage is announced by

    // @launch grid=(cdiv(TOTAL, 256)) block=(256)

f16 tensors are stored as `unsigned short` (binary16 bit patterns) and converted with two
small device functions written in plain C++ bit manipulation: the NVRTC wheels ship no
`cuda_fp16.h`, so the generated code needs no header at all. Infinities and INT_MIN/INT_MAX
are written as literals for the same reason (no math.h / limits.h under NVRTC).
"""
from __future__ import annotations

import math
from typing import List

from ...ir.typed import CheckedKernel
from ...codegen.cstyle import CStyleRenderer, uses_dtype

__all__ = ["CUDARenderer", "F16_HELPERS"]

# binary16 <-> binary32, round to nearest even; NaN payloads (the runtime's poison) survive.
F16_HELPERS = r"""// f16 is stored as binary16 bits in `unsigned short`; these convert without cuda_fp16.h.
static __device__ __forceinline__ float _uh2f(const unsigned short h)
{
    const unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    const unsigned int e = ((unsigned int)h >> 10) & 0x1fu;
    const unsigned int m = (unsigned int)h & 0x3ffu;
    if (e == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    if (e != 0u) return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
    const float f = (float)m * 5.9604644775390625e-8f;
    return sign ? -f : f;
}
static __device__ __forceinline__ unsigned short _uf2h(const float f)
{
    const unsigned int x = __float_as_uint(f);
    const unsigned int sign = (x >> 16) & 0x8000u;
    const unsigned int ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        if (ax == 0x7f800000u) return (unsigned short)(sign | 0x7c00u);
        const unsigned int m = (ax >> 13) & 0x3ffu;
        return (unsigned short)(sign | 0x7c00u | (m ? m : 0x200u));
    }
    if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);
    if (ax >= 0x38800000u) {
        const unsigned int r = ax - 0x38000000u;
        unsigned int h = r >> 13;
        const unsigned int rem = r & 0x1fffu;
        h += (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;
        return (unsigned short)(sign | h);
    }
    if (ax <= 0x33000000u) return (unsigned short)sign;
    const unsigned int e = ax >> 23;
    const unsigned int m = (ax & 0x7fffffu) | 0x800000u;
    const unsigned int shift = 126u - e;
    unsigned int h = m >> shift;
    const unsigned int rem = m & ((1u << shift) - 1u);
    const unsigned int halfway = 1u << (shift - 1u);
    h += (rem > halfway || (rem == halfway && (h & 1u))) ? 1u : 0u;
    return (unsigned short)(sign | h);
}"""

F32_INF = "__int_as_float(0x7f800000)"
F32_NAN = "__int_as_float(0x7fc00000)"
F64_INF = "__longlong_as_double(0x7ff0000000000000LL)"
F64_NAN = "__longlong_as_double(0x7ff8000000000000LL)"
INT_MIN = "(-2147483647 - 1)"
INT_MAX = "2147483647"

_UNARY = ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "floor", "ceil")


class CUDARenderer(CStyleRenderer):
    target = "cuda"
    file_name = "kernel.cu"
    kernel_qualifier = 'extern "C" __global__ void'
    global_ptr = ""
    restrict = "__restrict__"
    block = 256
    wide_index_ctype = "long long"  # `long` is 32-bit on Windows hosts

    def preamble(self, ck: CheckedKernel) -> str:
        return F16_HELPERS if uses_dtype(ck, "f16") else ""

    def thread_index(self) -> str:
        if self.index_bits == 64:
            return "(long long)blockIdx.x * blockDim.x + threadIdx.x"
        # computed in 64 bits and clamped, so a grid rounded up past 2^31 - 1 work items never wraps
        # to a negative index (which would pass the `_ugid >= total` test)
        return "(int)min((unsigned long long)blockIdx.x * blockDim.x + threadIdx.x, 2147483647ULL)"

    def launch_annotation(self, total: str, block: int) -> str:
        return f"// @launch grid=(cdiv({total}, {block})) block=({block})"

    def storage_type(self, dtype: str) -> str:
        return {"f32": "float", "f64": "double", "f16": "unsigned short", "i32": "int"}[dtype]

    def load(self, ptr: str, index: str, dtype: str) -> str:
        if dtype == "f16":
            return f"_uh2f({ptr}[{index}])"
        return f"{ptr}[{index}]"

    def store(self, ptr: str, index: str, value: str, dtype: str) -> str:
        if dtype == "f16":
            return f"{ptr}[{index}] = _uf2h({value});"
        return f"{ptr}[{index}] = {value};"

    def literal(self, value, dtype: str) -> str:
        if dtype not in ("i32", "bool"):
            x = float(value)
            if math.isinf(x) or math.isnan(x):
                inf, nan = (F64_INF, F64_NAN) if dtype == "f64" else (F32_INF, F32_NAN)
                return nan if math.isnan(x) else (inf if x > 0 else f"(-{inf})")
        elif dtype == "i32" and int(value) == -2 ** 31:
            return INT_MIN
        return super().literal(value, dtype)

    def _fname(self, fn: str, dtype: str) -> str:
        """The C math function for `fn` at `dtype`: f32/f16 compute in float (suffix f), f64 in double."""
        return fn if dtype == "f64" else fn + "f"

    def math(self, fn: str, dtype: str, args: List[str]) -> str:
        flt = dtype in ("f16", "f32", "f64")
        if not flt:  # i32 (bool never reaches a math function)
            if fn == "abs":
                return f"abs({args[0]})"
            if fn == "relu":
                return f"max({args[0]}, 0)"
            if fn in ("min", "max"):
                return f"{fn}({args[0]}, {args[1]})"
            if fn == "pow":  # the checker only allows float pow; keep a defined meaning anyway
                return f"((int)pow((double)({args[0]}), (double)({args[1]})))"
            return f"{fn}({', '.join(args)})"
        f = lambda name: self._fname(name, dtype)  # noqa: E731
        one, zero = self.literal(1.0, dtype), self.literal(0.0, dtype)
        if fn == "sigmoid":
            return f"({one} / ({one} + {f('exp')}(-{args[0]})))"
        if fn == "relu":
            return f"{f('fmax')}({args[0]}, {zero})"
        if fn == "abs":
            return f"{f('fabs')}({args[0]})"
        if fn in ("min", "max"):
            return f"{f('f' + fn)}({args[0]}, {args[1]})"
        if fn in _UNARY or fn in ("pow", "fmod"):
            return f"{f(fn)}({', '.join(args)})"
        return f"{fn}({', '.join(args)})"

    def identity(self, op: str, dtype: str) -> str:
        flt = dtype in ("f16", "f32", "f64")
        if op in ("sum", "prod"):
            return super().identity(op, dtype)
        if flt:
            inf = F64_INF if dtype == "f64" else F32_INF
            return f"(-{inf})" if op == "max" else inf
        return INT_MIN if op == "max" else INT_MAX
