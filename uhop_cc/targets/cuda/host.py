"""Emit a standalone CMake + CUDA project that runs a CUDA kernel, checks it and times it.

    emit_cuda_project(bound, generated, "out/matmul")

writes

    kernel.cu          the kernel source (`generated.source`), compiled into the host by nvcc
    main.cu            the host: CUDA runtime API only (cudaMalloc, cudaMemcpy, kernel<<<grid, block,
                       smem>>>, cudaEvent timing); sizes/scalars/tolerances baked in, launch geometry
                       computed from the @launch annotations
    CMakeLists.txt     enable_language(CUDA), one executable `<kernel>_host`; the architecture is
                       the local GPU's (nvidia-smi), else 90, unless -DCMAKE_CUDA_ARCHITECTURES=...
    README.md, spec.json, data/<input>.bin, data/<output>.golden.bin, data/manifest.json

Arguments follow the generic ABI; whether a stage takes the temporaries is decided here,
from its parameter count in the source, and each pointer is cast to the type the kernel
declares (f16 tensors are binary16 bits, `unsigned short` in generated kernels).
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, List, Mapping, Optional, Union

import numpy as np

from ...ir import interpreter
from ...ir.typed import BoundKernel
from ...lower.spec import KernelSpec, build_spec
from ...verify.tolerance import tolerance_for
from ...codegen.cstyle import GeneratedKernel, c_name
from ...codegen.launch import LaunchError, Stage, parse_launch
from ...codegen import golden
from ..hostgen import cpp_launch_expr, cstr, ident, output_reduction_lengths, size_symbols, tensor_rows

__all__ = ["emit_cuda_project", "MAIN_TEMPLATE"]

_SCALAR_TYPE = {"f32": "float", "f64": "double", "f16": "float", "i32": "int"}
_INT32_MAX = 2 ** 31 - 1


def _scalar_literal(dtype: str, value: Union[int, float]) -> str:
    if dtype == "i32":
        return str(int(value)) if int(value) != -2 ** 31 else "(-2147483647 - 1)"
    t = _SCALAR_TYPE[dtype]
    x = float(value)
    if math.isnan(x):
        return f"std::numeric_limits<{t}>::quiet_NaN()"
    if math.isinf(x):
        return ("" if x > 0 else "-") + f"std::numeric_limits<{t}>::infinity()"
    mant, _, exp = x.hex().partition("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}" + ("f" if t == "float" else "")


def _stage_code(i: int, st: Stage, params: List[str], bound: BoundKernel, spec: KernelSpec,
                index: Mapping[str, int], symbols: Mapping[str, str]) -> str:
    """One `case` of launch_stage: geometry, then the kernel launch with ABI-ordered arguments."""
    from .runtime import param_type
    ck = bound.checked
    n_base = len(ck.inputs) + len(ck.outputs) + len(ck.sizes)
    n_temps = len(spec.temps)
    if len(params) == n_base:
        with_temps = False
    elif n_temps and len(params) == n_base + n_temps:
        with_temps = True
    else:
        raise LaunchError(f"kernel `{st.kernel_name}` takes {len(params)} parameters; the ABI expects {n_base}"
                          + (f" (or {n_base + n_temps} with the temporaries)" if n_temps else ""))
    if not st.grid_style:
        raise LaunchError(f"{st.kernel_name}: CUDA stages need `// @launch grid=(...) block=(...)`")
    grid = [cpp_launch_expr(e, symbols) for e in st.global_expr]
    block = [cpp_launch_expr(e, symbols) for e in (st.local_expr or ())]
    if len(block) != len(grid):
        raise LaunchError(f"{st.kernel_name}: grid has {len(grid)} dims but block has {len(block)}")
    grid += ["1"] * (3 - len(grid))
    block += ["1"] * (3 - len(block))
    smem = cpp_launch_expr(st.shared_expr, symbols) if st.shared_expr is not None else "0"
    order: List[tuple] = []
    for p in ck.inputs:
        order.append(("scalar" if p.is_scalar else "tensor", p.name, p.dtype))
    for p in ck.outputs:
        order.append(("tensor", p.name, p.dtype))
    if with_temps:
        for t in spec.temps:
            order.append(("tensor", t.name, t.dtype))
    for s in ck.sizes:
        order.append(("size", s, "i32"))
    args = []
    for (kind, name, dtype), decl in zip(order, params):
        base, is_ptr = param_type(decl)
        if kind == "tensor":
            if not is_ptr:
                raise LaunchError(f"kernel `{st.kernel_name}`: parameter `{decl}` for tensor `{name}` is not a pointer")
            base = base or {"f32": "float", "f64": "double", "f16": "unsigned short", "i32": "int"}[dtype]
            args.append(f"reinterpret_cast<{base}*>(_ubuffers[{index[name]}])")
        elif kind == "scalar":
            if dtype == "f16" and base not in ("float", ""):
                args.append(f"half_bits(scalars::{ident(name)})")
            else:
                args.append(f"static_cast<{base or _SCALAR_TYPE[dtype]}>(scalars::{ident(name)})")
        else:
            args.append(f"static_cast<{base or 'int'}>(sizes::{ident(name)})")  # int, or long long past 2^31
    note = st.annotation.lstrip("/ ").strip()
    name = st.kernel_name
    return "\n".join([
        f"    case {i}: {{  // {name}: {note}",
        f"        const long long _ug[3] = {{{', '.join(grid)}}};",
        f"        const long long _ub[3] = {{{', '.join(block)}}};",
        f"        const long long _usmem = {smem};",
        f"        if (!check_geometry({i}, _ug, _ub, _usmem)) return false;",
        "        if (_usmem > 48 * 1024)",
        f"            CUDA_CHECK(cudaFuncSetAttribute(::{name}, cudaFuncAttributeMaxDynamicSharedMemorySize, "
        f"static_cast<int>(_usmem)));",
        f"        ::{name}<<<dim3(static_cast<unsigned>(_ug[0]), static_cast<unsigned>(_ug[1]), "
        f"static_cast<unsigned>(_ug[2])), dim3(static_cast<unsigned>(_ub[0]), static_cast<unsigned>(_ub[1]), "
        f"static_cast<unsigned>(_ub[2])), static_cast<size_t>(_usmem), _ustream>>>(",
        "            " + ",\n            ".join(args) + ");",
        "        CUDA_CHECK(cudaGetLastError());",
        "        return true;",
        "    }",
    ])


def _generated_section(bound: BoundKernel, spec: KernelSpec, stages, sigs: Mapping[str, List[str]],
                       scalars: Mapping[str, Any], tolerances: Mapping[str, Any]) -> str:
    ck = bound.checked
    symbols = size_symbols(bound)
    L: List[str] = []
    L.append(f"static const char* const kKernelName = {cstr(ck.name)};")
    sizes_text = " ".join(f"{s}={bound.sizes[s]}" for s in ck.sizes) or "(none)"
    L.append(f"static const char* const kSizesText = {cstr(sizes_text)};")
    L.append("")
    L.append("namespace sizes {")
    for s in ck.sizes:
        L.append(f"constexpr long long {ident(s)} = {int(bound.sizes[s])};")
    L.append("}  // namespace sizes")
    if ck.scalars:
        L.append("namespace scalars {")
        for p in ck.inputs:
            if p.is_scalar:
                v = scalars[p.name]
                L.append(f"constexpr {_SCALAR_TYPE[p.dtype]} {ident(p.name)} = {_scalar_literal(p.dtype, v)};"
                         f"  // {p.dtype} {v!r}")
        L.append("}  // namespace scalars")
    L.append(f"static const double kFlops = {float(spec.flops)!r};")
    L.append(f"static const double kBytes = {float(spec.bytes_min)!r};")
    L.append("")
    index, rows = tensor_rows(spec, tolerances)
    L.append("static const Tensor kTensors[] = {")
    L.extend(rows)
    L.append("};")
    L.append("static const Stage kStages[] = {")
    for st in stages:
        L.append(f"    {{{cstr(st.kernel_name)}, {cstr(st.annotation)}}},")
    L.append("};")
    L.append("")
    L.append("// Launch stage `s` on `stream` with the ABI's arguments; false when its grid is empty.")
    L.append("static bool launch_stage(int s, void* const* _ubuffers, cudaStream_t _ustream) {")
    L.append("    switch (s) {")
    for i, st in enumerate(stages):
        if st.kernel_name not in sigs:
            raise LaunchError(f"cannot find the signature of `{st.kernel_name}` in the source")
        L.append(_stage_code(i, st, sigs[st.kernel_name], bound, spec, index, symbols))
    L.append("    }")
    L.append('    die("no stage " + std::to_string(s));')
    L.append("}")
    return "\n".join(L)


def _cmake(name: str) -> str:
    exe = f"{name}_host"
    return f"""cmake_minimum_required(VERSION 3.18)
# The GPU architecture: -DCMAKE_CUDA_ARCHITECTURES=... wins; else the local GPU's (nvidia-smi); else 90 (Hopper).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  execute_process(COMMAND nvidia-smi --query-gpu=compute_cap --format=csv,noheader
                  OUTPUT_VARIABLE _uhop_cc RESULT_VARIABLE _uhop_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_uhop_rc EQUAL 0 AND _uhop_cc MATCHES "^([0-9]+)\\\\.([0-9]+)")
    set(CMAKE_CUDA_ARCHITECTURES "${{CMAKE_MATCH_1}}${{CMAKE_MATCH_2}}" CACHE STRING "CUDA architectures")
  else()
    set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures")
  endif()
endif()
project({exe} LANGUAGES CXX)
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "no CUDA compiler (nvcc) found: install the CUDA toolkit or set CMAKE_CUDA_COMPILER")
endif()
enable_language(CUDA)

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

add_executable({exe} main.cu)
# kernel.cu is #included by main.cu: an edited kernel needs a rebuild.
set_source_files_properties(main.cu PROPERTIES OBJECT_DEPENDS ${{CMAKE_CURRENT_SOURCE_DIR}}/kernel.cu)
# data/ is read at run time from this folder (override with --dir DIR).
target_compile_definitions({exe} PRIVATE "UHOP_PROJECT_DIR=\\"${{CMAKE_CURRENT_SOURCE_DIR}}\\"")

enable_testing()
add_test(NAME {name}_check COMMAND {exe} --repeat 0)
"""


MAIN_TEMPLATE = r"""// @NAME@_host: a standalone CUDA host for the uhopc kernel `@NAME@`.
//
// Generated by uhopc (see README.md). The kernel (kernel.cu) is compiled into this program;
// the inputs and the reference outputs are read from data/ (the project folder baked in at
// configure time, or --dir). It runs every stage in order, compares the outputs with the
// reference interpreter's and times the kernel with CUDA events.
//
// Exit status: 0 PASS, 1 FAIL (wrong results), 3 any other error (no GPU, bad data...).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "kernel.cu"

// Everything of the host lives in namespace uhop, so a kernel may have any name.
namespace uhop {
namespace fs = std::filesystem;

enum ExitCode { kExitPass = 0, kExitFail = 1, kExitError = 3 };

[[noreturn]] static void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(kExitError);
}

#define CUDA_CHECK(call)                                                                          \
    do {                                                                                          \
        const cudaError_t _e = (call);                                                            \
        if (_e != cudaSuccess)                                                                    \
            die(std::string(#call) + " failed: " + cudaGetErrorName(_e) + " (" + cudaGetErrorString(_e) + ")"); \
    } while (0)

// The @launch expression language: integers, + - *, floor division, cdiv, roundup.
[[maybe_unused]] static inline long long floordiv(long long a, long long b) {
    if (b == 0) die("division by zero in a @launch expression");
    long long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}
[[maybe_unused]] static inline long long cdiv(long long a, long long b) { return -floordiv(-a, b); }
[[maybe_unused]] static inline long long roundup(long long a, long long b) { return cdiv(a, b) * b; }

enum class DType { F32, F64, F16, I32 };
enum class Role { Input, Output, Temp };

struct Tensor {
    const char* name;
    Role role;
    DType dtype;
    std::vector<long long> shape;
    const char* file;
    double rtol, atol;
};

struct Stage {
    const char* kernel;
    const char* annotation;
};

[[maybe_unused]] static inline unsigned short half_bits(float f);
static bool check_geometry(int stage, const long long* g, const long long* b, long long smem);

// ================================================================ generated for `@NAME@`
@GENERATED@
// ================================================================ end of the generated part

static constexpr int kNumTensors = static_cast<int>(sizeof(kTensors) / sizeof(kTensors[0]));
static constexpr int kNumStages = static_cast<int>(sizeof(kStages) / sizeof(kStages[0]));

static bool check_geometry(int stage, const long long* g, const long long* b, long long smem) {
    const std::string where = std::string(kStages[stage].kernel) + " (`" + kStages[stage].annotation + "`)";
    for (int d = 0; d < 3; ++d) {
        if (g[d] < 0 || b[d] <= 0) die(where + ": negative or empty launch size");
        if (g[d] > (d == 0 ? 2147483647LL : 65535LL)) die(where + ": grid too large");
    }
    if (b[0] * b[1] * b[2] > 1024) die(where + ": more than 1024 threads per block");
    if (smem < 0) die(where + ": negative shared memory");
    return g[0] > 0 && g[1] > 0 && g[2] > 0;
}

static size_t dtype_size(DType d) {
    switch (d) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::F16: return 2;
        case DType::I32: return 4;
    }
    return 0;
}

static const char* dtype_name(DType d) {
    switch (d) {
        case DType::F32: return "f32";
        case DType::F64: return "f64";
        case DType::F16: return "f16";
        case DType::I32: return "i32";
    }
    return "?";
}

static float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        exp = 113;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            --exp;
        }
        bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// float -> binary16 bits, round to nearest even (for f16 scalars passed as half bits).
[[maybe_unused]] static inline unsigned short half_bits(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return static_cast<unsigned short>(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0u));
    if (ax >= 0x477FF000u) return static_cast<unsigned short>(sign | 0x7C00u);
    if (ax >= 0x38800000u) {
        const uint32_t r = ax - 0x38000000u;
        uint32_t h = r >> 13;
        const uint32_t rem = r & 0x1FFFu;
        h += (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;
        return static_cast<unsigned short>(sign | h);
    }
    if (ax <= 0x33000000u) return static_cast<unsigned short>(sign);
    const uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u, shift = 126u - e;
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    h += (rem > halfway || (rem == halfway && (h & 1u))) ? 1u : 0u;
    return static_cast<unsigned short>(sign | h);
}

static size_t elements(const Tensor& t) {
    size_t n = 1;
    for (long long d : t.shape) n *= static_cast<size_t>(d);
    return n;
}

static double value_at(const std::vector<unsigned char>& raw, DType d, size_t i) {
    const unsigned char* p = raw.data() + i * dtype_size(d);
    switch (d) {
        case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
        case DType::F64: { double v; std::memcpy(&v, p, 8); return v; }
        case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
        case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    }
    return 0.0;
}

// What outputs and temporaries hold before the launch (the same patterns as the OpenCL host).
static const uint32_t kPoisonF32 = 0x7FC01BADu;
static const uint64_t kPoisonF64 = 0x7FF8000000001BADull;
static const uint16_t kPoisonF16 = 0x7FADu;
static const int32_t kPoisonI32 = -0x2A2A2A2B;

static void poison_element(unsigned char* p, DType d) {
    switch (d) {
        case DType::F32: std::memcpy(p, &kPoisonF32, 4); break;
        case DType::F64: std::memcpy(p, &kPoisonF64, 8); break;
        case DType::F16: std::memcpy(p, &kPoisonF16, 2); break;
        case DType::I32: std::memcpy(p, &kPoisonI32, 4); break;
    }
}

static bool is_poison(const std::vector<unsigned char>& raw, DType d, size_t i) {
    unsigned char q[8];
    poison_element(q, d);
    return std::memcmp(raw.data() + i * dtype_size(d), q, dtype_size(d)) == 0;
}

static bool read_file(const fs::path& path, std::vector<unsigned char>& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return !f.bad();
}

static std::vector<unsigned char> read_tensor_file(const fs::path& path, const Tensor& t) {
    std::vector<unsigned char> raw;
    if (!read_file(path, raw)) die("cannot read " + path.string());
    const size_t want = elements(t) * dtype_size(t.dtype);
    if (raw.size() != want)
        die(path.string() + " holds " + std::to_string(raw.size()) + " bytes; " + t.name + " needs " +
            std::to_string(want));
    return raw;
}

static bool is_project_dir(const fs::path& dir) {
    std::error_code ec;
    return !dir.empty() && fs::exists(dir / "data" / "manifest.json", ec);
}

struct CompareResult {
    size_t mismatches = 0, nans = 0, unwritten = 0;
    double max_abs = 0.0, max_rel = 0.0;
    bool has_first = false;
    size_t first = 0;
    double first_got = 0.0, first_expected = 0.0;
};

// |got - expected| <= atol + rtol * |expected|; NaN only where the reference is NaN; an
// element still holding the poison never passes; i32 must match exactly.
static CompareResult compare(const Tensor& t, const std::vector<unsigned char>& got,
                             const std::vector<unsigned char>& expected) {
    CompareResult r;
    const size_t n = elements(t);
    for (size_t i = 0; i < n; ++i) {
        const double g = value_at(got, t.dtype, i), e = value_at(expected, t.dtype, i);
        bool ok;
        if (is_poison(got, t.dtype, i)) {
            ++r.unwritten;
            ok = false;
        } else if (t.dtype == DType::I32) {
            ok = g == e;
            const double diff = std::fabs(g - e);
            r.max_abs = std::max(r.max_abs, diff);
            r.max_rel = std::max(r.max_rel, diff / std::max(std::fabs(e), 1.0));
        } else if (std::isfinite(e)) {
            ok = std::isfinite(g);
            if (ok) {
                const double diff = std::fabs(g - e);
                ok = diff <= t.atol + t.rtol * std::fabs(e);
                r.max_abs = std::max(r.max_abs, diff);
                r.max_rel = std::max(r.max_rel, diff / std::max({std::fabs(e), t.atol, 1e-300}));
            }
        } else {
            ok = std::isnan(e) ? std::isnan(g) : (std::isinf(g) && (g > 0) == (e > 0));
        }
        if (std::isnan(g)) ++r.nans;
        if (!ok) {
            if (!r.has_first) {
                r.has_first = true;
                r.first = i;
                r.first_got = g;
                r.first_expected = e;
            }
            ++r.mismatches;
        }
    }
    return r;
}

static std::string shape_text(const Tensor& t) {
    std::string s = "[";
    for (size_t k = 0; k < t.shape.size(); ++k) s += (k ? ", " : "") + std::to_string(t.shape[k]);
    return s + "]";
}

static double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Options {
    int device = 0;
    int repeat = 20;
    std::string dir;
};

static int parse_int(const char* s, const char* opt) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000000L) die(std::string("bad value for ") + opt + ": " + s);
    return static_cast<int>(v);
}

static Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* opt) -> const char* {
            if (i + 1 >= argc) die(std::string(opt) + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::printf("usage: %s [--device N] [--repeat R] [--dir DIR]\n"
                        "exit status: 0 PASS, 1 FAIL, 3 any other error\n", argv[0]);
            std::exit(kExitPass);
        } else if (a == "--device") {
            o.device = parse_int(value("--device"), "--device");
        } else if (a == "--repeat") {
            o.repeat = parse_int(value("--repeat"), "--repeat");
        } else if (a == "--dir") {
            o.dir = value("--dir");
        } else {
            die("unknown argument `" + a + "` (see --help)");
        }
    }
    return o;
}

static int run(int argc, char** argv) {
    const Options opt = parse_options(argc, argv);
    fs::path dir;
    if (!opt.dir.empty()) {
        dir = opt.dir;
    } else {
        std::vector<fs::path> candidates;
#ifdef UHOP_PROJECT_DIR
        candidates.push_back(UHOP_PROJECT_DIR);
#endif
        candidates.push_back(fs::current_path());
        for (const fs::path& c : candidates)
            if (is_project_dir(c)) {
                dir = c;
                break;
            }
    }
    if (!is_project_dir(dir)) die("cannot find the project folder (data/manifest.json): pass --dir DIR");

    int count = 0;
    CUDA_CHECK(cudaGetDeviceCount(&count));
    if (opt.device >= count) die("--device " + std::to_string(opt.device) + ": there are " + std::to_string(count));
    CUDA_CHECK(cudaSetDevice(opt.device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, opt.device));
    std::printf("kernel   %s (%d stage%s)\n", kKernelName, kNumStages, kNumStages == 1 ? "" : "s");
    std::printf("device   %d: %s (sm_%d%d, %d SMs)\n", opt.device, prop.name, prop.major, prop.minor,
                prop.multiProcessorCount);
    std::printf("sizes    %s\n", kSizesText);

    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreate(&stream));
    std::vector<void*> buffers(kNumTensors, nullptr);
    std::vector<std::vector<unsigned char>> golden(kNumTensors);
    for (int i = 0; i < kNumTensors; ++i) {
        const Tensor& t = kTensors[i];
        const size_t n = elements(t), bytes = n * dtype_size(t.dtype);
        std::vector<unsigned char> host;
        if (t.role == Role::Input) {
            host = read_tensor_file(dir / "data" / t.file, t);
        } else {
            host.resize(bytes);
            for (size_t k = 0; k < n; ++k) poison_element(host.data() + k * dtype_size(t.dtype), t.dtype);
            if (t.role == Role::Output) golden[i] = read_tensor_file(dir / "data" / t.file, t);
        }
        CUDA_CHECK(cudaMalloc(&buffers[i], std::max<size_t>(bytes, 16)));
        if (bytes) CUDA_CHECK(cudaMemcpy(buffers[i], host.data(), bytes, cudaMemcpyHostToDevice));
    }

    std::vector<cudaEvent_t> ev(2 * kNumStages);
    for (auto& e : ev) CUDA_CHECK(cudaEventCreate(&e));
    auto run_all = [&](bool profile) {
        std::vector<bool> ran(kNumStages, false);
        for (int s = 0; s < kNumStages; ++s) {
            if (profile) CUDA_CHECK(cudaEventRecord(ev[2 * s], stream));
            ran[s] = launch_stage(s, buffers.data(), stream);
            if (profile) CUDA_CHECK(cudaEventRecord(ev[2 * s + 1], stream));
        }
        CUDA_CHECK(cudaStreamSynchronize(stream));
        std::vector<double> ms(kNumStages, 0.0);
        if (profile)
            for (int s = 0; s < kNumStages; ++s) {
                float t = 0.0f;
                if (ran[s]) CUDA_CHECK(cudaEventElapsedTime(&t, ev[2 * s], ev[2 * s + 1]));
                ms[s] = t;
            }
        return ms;
    };

    run_all(false);
    bool pass = true;
    for (int i = 0; i < kNumTensors; ++i) {
        const Tensor& t = kTensors[i];
        if (t.role != Role::Output) continue;
        const size_t n = elements(t), bytes = n * dtype_size(t.dtype);
        std::vector<unsigned char> got(bytes);
        if (bytes) CUDA_CHECK(cudaMemcpy(got.data(), buffers[i], bytes, cudaMemcpyDeviceToHost));
        const CompareResult r = compare(t, got, golden[i]);
        pass = pass && r.mismatches == 0;
        std::printf("output   %s %s%s: %s  max abs err %.3g  max rel err %.3g  (atol %.3g, rtol %.3g)\n", t.name,
                    dtype_name(t.dtype), shape_text(t).c_str(), r.mismatches ? "FAIL" : "ok", r.max_abs, r.max_rel,
                    t.atol, t.rtol);
        if (r.mismatches)
            std::printf("         %zu of %zu elements wrong (%zu NaN, %zu never written); first at flat index %zu: "
                        "got %.9g, expected %.9g\n", r.mismatches, n, r.nans, r.unwritten, r.first, r.first_got,
                        r.first_expected);
    }
    std::printf("%s\n", pass ? "PASS" : "FAIL");
    std::fflush(stdout);

    if (pass && opt.repeat > 0) {
        run_all(true);  // warm-up
        std::vector<double> total;
        std::vector<std::vector<double>> per_stage(kNumStages);
        for (int r = 0; r < opt.repeat; ++r) {
            const std::vector<double> ms = run_all(true);
            double sum = 0.0;
            for (int s = 0; s < kNumStages; ++s) {
                per_stage[s].push_back(ms[s]);
                sum += ms[s];
            }
            total.push_back(sum);
        }
        const double med = median(total), lo = *std::min_element(total.begin(), total.end()), sec = med * 1e-3;
        std::printf("time     median %.4f ms over %d runs (min %.4f ms): %.3f GFLOP/s, %.3f GB/s\n", med, opt.repeat,
                    lo, sec > 0 ? kFlops / sec * 1e-9 : 0.0, sec > 0 ? kBytes / sec * 1e-9 : 0.0);
        if (kNumStages > 1)
            for (int s = 0; s < kNumStages; ++s)
                std::printf("stage    %-24s median %.4f ms\n", kStages[s].kernel, median(per_stage[s]));
    } else if (!pass) {
        std::printf("time     not measured: the outputs are wrong\n");
    }
    for (auto& e : ev) cudaEventDestroy(e);
    for (void* b : buffers) cudaFree(b);
    cudaStreamDestroy(stream);
    return pass ? kExitPass : kExitFail;
}
}  // namespace uhop

int main(int argc, char** argv) { return uhop::run(argc, argv); }
"""


def _readme(bound: BoundKernel, spec: KernelSpec, stages) -> str:
    exe = f"{bound.name}_host"
    sizes = ", ".join(f"{s}={bound.sizes[s]}" for s in bound.checked.sizes) or "none"
    lines = [f"# `{bound.name}`: standalone CUDA host", "",
             f"Generated by uhopc from `{spec.source_file}` with sizes {sizes}.", "", "```",
             "cmake -B build && cmake --build build", f"./build/{exe} [--device N] [--repeat R] [--dir DIR]", "```", "",
             "Needs nvcc (the CUDA toolkit) to build and an NVIDIA GPU to run. The architecture is the local "
             "GPU's (from nvidia-smi), else sm_90; override with `-DCMAKE_CUDA_ARCHITECTURES=...`.",
             "", f"`{exe}` runs the stages of `kernel.cu` in order on the inputs in `data/`, compares every output "
             "with the reference interpreter's (`data/<output>.golden.bin`), prints PASS or FAIL, then times R runs "
             "(default 20) with CUDA events. Exit status: 0 PASS, 1 FAIL, 3 any other error.", "", "Stages:", ""]
    for st in stages:
        lines.append(f"- `{st.kernel_name}`: `{st.annotation.lstrip('/ ').strip()}`")
    lines += ["", f"Work: {spec.flops} flops, {spec.bytes_min} bytes minimum traffic (`spec.json`).", ""]
    return "\n".join(lines)


def emit_cuda_project(bound: BoundKernel, generated: GeneratedKernel, outdir: Union[str, Path], *,
                      seed: int = 0, inputs: Optional[Mapping[str, Any]] = None) -> Path:
    """Write a standalone CMake/CUDA project for `generated` (a CUDA kernel of `bound`) into `outdir`.

    Inputs are `interpreter.random_inputs(bound, seed)` unless given; the golden outputs are
    `interpreter.run(bound, inputs)`. Returns `outdir`. Raises `LaunchError` for a source whose
    stages cannot be launched under the ABI, ValueError for bad inputs."""
    from .runtime import kernel_signatures
    if generated.target != "cuda":
        raise ValueError(f"emit_cuda_project needs a CUDA kernel, got target `{generated.target}`")
    ck = bound.checked
    spec = build_spec(bound)
    wide = generated.params.get("index_bits") == 64  # the kernel takes 64-bit sizes
    for s in ck.sizes:
        if not 0 <= int(bound.sizes[s]) <= (2 ** 63 - 1 if wide else _INT32_MAX):
            raise ValueError(f"size {s}={bound.sizes[s]} does not fit the kernel's `int` sizes "
                             "(a kernel rendered for this shape takes them as 64-bit)")
    stages = parse_launch(generated.source)
    sigs = kernel_signatures(generated.source)
    for st in stages:
        st.geometry({k: bound.sizes[s] for s in ck.sizes for k in (s, c_name(s))})

    values = dict(interpreter.random_inputs(bound, seed) if inputs is None else inputs)
    outputs = interpreter.run(bound, values)
    scalars = {p.name: golden.scalar_value(values[p.name], p.dtype) for p in ck.inputs if p.is_scalar}
    k_lens = output_reduction_lengths(bound)
    tolerances = {t.name: tolerance_for(t.dtype, k_lens[t.name]) for t in spec.outputs}
    for t in spec.outputs:
        arr = np.asarray(outputs[t.name])
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            warnings.warn(f"the reference output `{t.name}` holds NaN for these inputs", RuntimeWarning, stacklevel=2)
    section = _generated_section(bound, spec, stages, sigs, scalars, tolerances)

    out = Path(outdir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    (out / "kernel.cu").write_text(generated.source)
    tensors = []
    for t in spec.inputs:
        nbytes = golden.write_tensor(data / golden.input_file(t.name), values[t.name], t.dtype, t.shape)
        tensors.append({"name": t.name, "role": "input", "dtype": t.dtype, "shape": list(t.shape),
                        "file": golden.input_file(t.name), "bytes": nbytes})
    for t in spec.outputs:
        nbytes = golden.write_tensor(data / golden.golden_file(t.name), outputs[t.name], t.dtype, t.shape)
        tensors.append({"name": t.name, "role": "output", "dtype": t.dtype, "shape": list(t.shape),
                        "file": golden.golden_file(t.name), "bytes": nbytes, "reduction_length": k_lens[t.name],
                        "rtol": tolerances[t.name].rtol, "atol": tolerances[t.name].atol})
    for t in spec.temps:
        tensors.append({"name": t.name, "role": "temp", "dtype": t.dtype, "shape": list(t.shape), "file": None,
                        "bytes": t.nbytes})
    golden.write_manifest(data, {
        "format": golden.FORMAT, "kernel": ck.name, "source_file": spec.source_file,
        "seed": seed if inputs is None else None, "sizes": {s: int(bound.sizes[s]) for s in ck.sizes},
        "scalars": {p.name: golden.manifest_scalar(p.dtype, scalars[p.name]) for p in ck.inputs if p.is_scalar},
        "byte_order": "little", "tensors": tensors,
    })
    main = MAIN_TEMPLATE.replace("@NAME@", ck.name).replace("@GENERATED@", section)
    (out / "main.cu").write_text(main)
    (out / "CMakeLists.txt").write_text(_cmake(ck.name))
    (out / "README.md").write_text(_readme(bound, spec, stages))
    (out / "spec.json").write_text(spec.dumps() + "\n")
    return out
