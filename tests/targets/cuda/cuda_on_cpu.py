"""Run a generated CUDA kernel's own source on the CPU, so machines without a GPU test what it computes.

The source is compiled as C++20 with g++ behind a small shim: `__shared__` arrays become function
statics (one block runs at a time, so they are the block's), every thread of a block is a
std::thread with its own threadIdx, `__syncthreads()` is a std::barrier that exiting threads drop
out of, float4 is an aligned struct, `__umulhi` a 64-bit product. Blocks run one after another.
Warp shuffles (`__shfl_xor_sync`) exchange through a slot array between two barriers of the warp's
32 threads; other warp intrinsics (votes, other shuffles) are not provided. Inputs and outputs travel as raw files; the output buffers are
poisoned with NaN first, so unwritten elements show.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict

import numpy as np

from uhop_cc.codegen.cstyle import c_name
from uhop_cc.codegen.launch import parse_launch

SHIM = r"""
#include <barrier>
#include <memory>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include <algorithm>
using std::min; using std::max;
struct dim3 { unsigned x = 1, y = 1, z = 1; };
static thread_local dim3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static std::barrier<>* g_barrier = nullptr;
static char* g_dyn_shared = nullptr;  // the block's dynamic shared memory (`extern __shared__ T name[];`)
struct alignas(16) float4 { float x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
static inline void __syncthreads() { g_barrier->arrive_and_wait(); }
// warps: 32 consecutive threads exchange values through a slot array between two warp barriers
struct Warp { std::barrier<>* bar; double slot[32]; };
static std::vector<Warp>* g_warps = nullptr;
static thread_local unsigned t_linear = 0;
template <class T> static inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    Warp& w = (*g_warps)[t_linear / 32];
    const unsigned lane = t_linear % 32;
    w.slot[lane] = (double)v;
    w.bar->arrive_and_wait();
    const T r = (T)w.slot[lane ^ (unsigned)lane_mask];
    w.bar->arrive_and_wait();
    return r;
}
template <class T> static inline T __ldg(const T* p) { return *p; }
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline float __fdividef(float a, float b) { return a / b; }  // glibc already has __expf, __logf
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
"""

_CACHE: Dict[str, Path] = {}


def gxx_unavailable_reason() -> str:
    return "" if shutil.which("g++") else "g++ not found"


def _build(source: str, kernel: str, args: list, workdir: Path) -> Path:
    """An executable that reads each input file, runs the grid, writes each output file."""
    decls, calls, io = [], [], []
    for i, (kind, name, ctype) in enumerate(args):
        if kind == "size":
            decls.append(f"    const long long _ua{i} = std::atoll(argv[{i + 1}]);")  # `int` or `long long` sizes
        elif kind == "scalar":
            decls.append(f"    const {ctype} _ua{i} = ({ctype})std::atof(argv[{i + 1}]);")
        else:
            decls += [f"    std::vector<{ctype}> _uv{i};",
                      f"    {{ FILE* f = std::fopen(argv[{i + 1}], \"rb\"); std::fseek(f, 0, SEEK_END);"
                      f" long n = std::ftell(f); std::fseek(f, 0, SEEK_SET); _uv{i}.resize(n / sizeof({ctype}) + 1);"
                      f" if (n && std::fread(_uv{i}.data(), 1, n, f) != (size_t)n) return 3; std::fclose(f); }}",
                      f"    {ctype}* _ua{i} = _uv{i}.data();"]
            if kind == "output":
                io.append(f"    {{ FILE* f = std::fopen(argv[{i + 1}], \"rb\"); std::fseek(f, 0, SEEK_END);"
                          f" long n = std::ftell(f); std::fclose(f); f = std::fopen(argv[{i + 1}], \"wb\");"
                          f" std::fwrite(_uv{i}.data(), 1, n, f); std::fclose(f); }}")
        calls.append(f"_ua{i}")
    n = len(args)
    main = "\n".join([
        "int main(int argc, char** argv) {",
        f"    if (argc < {n + 8}) return 2;",
        f"    std::vector<double> _udyn(std::atol(argv[{n + 7}]) / 8 + 2);",
        *decls,
        f"    gridDim.x = std::atoi(argv[{n + 1}]); gridDim.y = std::atoi(argv[{n + 2}]);"
        f" gridDim.z = std::atoi(argv[{n + 3}]);",
        f"    blockDim.x = std::atoi(argv[{n + 4}]); blockDim.y = std::atoi(argv[{n + 5}]);"
        f" blockDim.z = std::atoi(argv[{n + 6}]);",
        "    const unsigned _uT = blockDim.x * blockDim.y * blockDim.z;",
        "    for (unsigned _ubz = 0; _ubz < gridDim.z; ++_ubz) for (unsigned _uby = 0; _uby < gridDim.y; ++_uby)",
        "    for (unsigned _ubx = 0; _ubx < gridDim.x; ++_ubx) {",
        "        std::barrier<> _ubar(_uT);",
        "        g_barrier = &_ubar;",
        "        std::fill(_udyn.begin(), _udyn.end(), 0.0); g_dyn_shared = reinterpret_cast<char*>(_udyn.data());",
        "        std::vector<std::unique_ptr<std::barrier<>>> _uwb;",
        "        std::vector<Warp> _uwarps((_uT + 31) / 32);",
        "        for (unsigned _uw = 0; _uw < _uwarps.size(); ++_uw) {",
        "            _uwb.emplace_back(new std::barrier<>(std::min(32u, _uT - 32 * _uw)));",
        "            _uwarps[_uw].bar = _uwb.back().get();",
        "        }",
        "        g_warps = &_uwarps;",
        "        std::vector<std::thread> _uts;  // `_u` names: reserved, no clash with a kernel's",
        "        for (unsigned _uu = 0; _uu < _uT; ++_uu) _uts.emplace_back([&, _uu] {",
        "            threadIdx.x = _uu % blockDim.x; threadIdx.y = (_uu / blockDim.x) % blockDim.y;",
        "            threadIdx.z = _uu / (blockDim.x * blockDim.y); t_linear = _uu;",
        "            blockIdx.x = _ubx; blockIdx.y = _uby; blockIdx.z = _ubz;",
        f"            {kernel}({', '.join(calls)});",
        "            _ubar.arrive_and_drop(); _uwarps[_uu / 32].bar->arrive_and_drop();",
        "        });",
        "        for (auto& _uth : _uts) _uth.join();",
        "    }",
        *io,
        "    return 0;",
        "}"])
    body = re.sub(r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?(\w+)\s+(\w+)\s*\[\s*\]\s*;",
                  r"\1* \2 = reinterpret_cast<\1*>(g_dyn_shared);", source.replace('extern "C"', ""))
    text = SHIM + "\n" + body + "\n" + main + "\n"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    if key in _CACHE and _CACHE[key].exists():
        return _CACHE[key]
    src = workdir / f"k{key}.cpp"
    exe = workdir / f"k{key}"
    src.write_text(text)
    r = subprocess.run(["g++", "-std=c++20", "-O1", "-pthread", "-w", "-o", str(exe), str(src)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise RuntimeError(f"g++ failed:\n{r.stderr[-4000:]}")
    _CACHE[key] = exe
    return exe


def run(source: str, bound, inputs: Dict[str, np.ndarray], workdir: Path = None) -> Dict[str, np.ndarray]:
    """Outputs of the kernel in `source` (one stage, f32/i32 tensors, scalars) on `inputs`."""
    ck = bound.checked
    (stage,) = parse_launch(source)
    geo = stage.geometry(bound.sizes)
    block = tuple(geo.local_size) + (1,) * (3 - len(geo.local_size))
    grid = tuple(g // b for g, b in zip(geo.global_size, block)) + (1,) * (3 - len(geo.global_size))
    ctypes_ = {"f32": "float", "i32": "int", "f64": "double"}
    np_types = {"f32": np.float32, "i32": np.int32, "f64": np.float64}
    workdir = Path(workdir or tempfile.mkdtemp(prefix="cuda_cpu_"))
    args, argv, outs = [], [], {}
    for p in ck.inputs:
        if p.is_scalar:
            args.append(("scalar", p.name, ctypes_[p.dtype]))
            argv.append(repr(float(inputs[p.name])))
        else:
            args.append(("input", p.name, ctypes_[p.dtype]))
            f = workdir / f"in_{p.name}.bin"
            np.ascontiguousarray(inputs[p.name], dtype=np_types[p.dtype]).tofile(f)
            argv.append(str(f))
    for p in ck.outputs:
        args.append(("output", p.name, ctypes_[p.dtype]))
        f = workdir / f"out_{p.name}.bin"
        shape = tuple(bound.shapes[p.name])
        np.full(shape, np.nan if p.dtype != "i32" else -7, dtype=np_types[p.dtype]).tofile(f)
        argv.append(str(f))
        outs[p.name] = (f, shape, np_types[p.dtype])
    for s in ck.sizes:
        args.append(("size", s, "int"))
        argv.append(str(int(bound.sizes[s])))
    exe = _build(source, c_name(ck.name), args, workdir)
    r = subprocess.run([str(exe), *argv, *map(str, grid), *map(str, block), str(geo.shared_bytes)],
                       capture_output=True, text=True,
                       timeout=600)
    if r.returncode:
        raise RuntimeError(f"kernel run failed ({r.returncode}): {r.stderr[-2000:]}")
    return {n: np.fromfile(f, dtype=t).reshape(shape) for n, (f, shape, t) in outs.items()}
