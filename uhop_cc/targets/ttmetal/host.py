"""The host C++ program of an emitted TT-Metal project (current TT-Metalium host API).

It follows the programming examples (eltwise_binary, matmul_single_core/multi_core): open a
unit `distributed::MeshDevice`, create a `Program`, interleaved DRAM `MeshBuffer`s with
2 KiB pages (one bfloat16 tile), double-buffered circular buffers of Float16_b tiles, the
reader/compute/writer kernels (`TensorAccessorArgs(...).append_to(...)` as the dataflow
kernels' compile-time args), per-core runtime args (`split_work_to_cores` for --cores multi),
write the inputs, enqueue a `MeshWorkload`, read back, compare with uhopc's golden output
(bfloat16-aware tolerance), time repeated runs and close the device.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping

from .kernels import KERNEL_FILES, runtime_args
from .lowering import OUTPUT_CB, TILE, TTMetalPlan, f32_bits

__all__ = ["host_source", "host_runtime_arg_exprs"]

_ARCH_ENUM = {"wormhole_b0": "WORMHOLE_B0", "blackhole": "BLACKHOLE"}


def _cstr(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def _double(x: float) -> str:
    if math.isinf(x) or math.isnan(x):
        raise ValueError(f"non-finite constant {x}")
    return repr(float(x))


def host_runtime_arg_exprs(plan: TTMetalPlan) -> Dict[str, List[str]]:
    """Per kernel, the host expressions passed to SetRuntimeArgs (same order as the kernel reads them)."""
    table = {"num_tiles": "w.count", "start_tile": "w.start", "Kt": "kKt", "Nt": "kNt"}
    out = {}
    for role, names in runtime_args(plan).items():
        exprs = []
        for n in names:
            if n in table:
                exprs.append(table[n])
            elif n.startswith("addr_"):
                exprs.append(n)
            elif n.startswith("scalar_"):
                exprs.append("k" + n[0].upper() + n[1:])
            else:
                raise AssertionError(n)
        out[role] = exprs
    return out


def _dims(shape) -> tuple:
    """(rows, cols) of the 2-D view the host uses (tilizing for matmul)."""
    if len(shape) == 1:
        return 1, int(shape[0])
    rows = 1
    for d in shape[:-1]:
        rows *= int(d)
    return rows, int(shape[-1])


def host_source(plan: TTMetalPlan, *, cores: str, arch: str, scalars: Mapping[str, float], rtol: float,
                atol: float, flops: float, source_file: str) -> str:
    multi = cores == "multi"
    ins = plan.inputs
    rt = host_runtime_arg_exprs(plan)
    G: List[str] = []  # the generated constants section
    G.append(f"constexpr const char* kKernelName = {_cstr(plan.kernel)};")
    G.append(f"constexpr const char* kExpression = {_cstr(plan.output + '[...] = ' + plan.expression)};")
    G.append(f"constexpr const char* kCores = {_cstr(cores)};")
    G.append(f"constexpr uint32_t kNumTiles = {plan.num_tiles};  // output tiles")
    if plan.kind == "matmul":
        G.append(f"constexpr uint32_t kMt = {plan.Mt}, kKt = {plan.Kt}, kNt = {plan.Nt};  // matmul extents in tiles")
    G.append(f"constexpr double kRtol = {_double(rtol)};  // bfloat16 tolerance: |got - want| <= kAtol + kRtol * |want|")
    G.append(f"constexpr double kAtol = {_double(atol)};")
    G.append(f"constexpr double kFlops = {_double(flops)};  // useful operations per run")
    n_bytes = (sum(i.tiles for i in ins) + plan.num_tiles) * TILE * TILE * 2
    G.append(f"constexpr double kBytes = {_double(float(n_bytes))};  // bfloat16 tiles read and written per run")
    tiled = "true" if plan.tiled else "false"
    G.append("")
    G.append("// name, data file, rows, cols (the 2-D view), tiles, tilized on the host")
    G.append("const TensorDesc kInputs[] = {")
    for i in ins:
        r, c = _dims(i.shape)
        G.append(f"    {{{_cstr(i.name)}, {_cstr('data/' + i.name + '.bin')}, {r}, {c}, {i.tiles}, {tiled}}},")
    G.append("};")
    r, c = _dims(plan.output_shape)
    G.append(f"const TensorDesc kOutput = {{{_cstr(plan.output)}, {_cstr('data/' + plan.output + '.golden.bin')}, "
             f"{r}, {c}, {plan.num_tiles}, {tiled}}};")
    for n, _dt in plan.scalars:
        v = float(scalars[n])
        G.append(f"constexpr uint32_t kScalar_{n} = 0x{f32_bits(v):08x}u;  // fp32 bits of the scalar `{n}` = {v!r}")
    gen = "\n".join(G)

    # ---- the program body
    B: List[str] = []
    B.append("    // Interleaved DRAM buffers, one bfloat16 tile per page.")
    for i in ins:
        B.append(f"    auto buf_{i.name} = dram_buffer(dev, kInputs[{i.cb}].tiles);")
    B.append(f"    auto buf_{plan.output} = dram_buffer(dev, kOutput.tiles);")
    for i in ins:
        B.append(f"    const uint32_t addr_{i.name} = static_cast<uint32_t>(buf_{i.name}->address());")
    B.append(f"    const uint32_t addr_{plan.output} = static_cast<uint32_t>(buf_{plan.output}->address());")
    B.append("")
    if multi:
        B += [
            "    // Split the output tiles over the compute grid (split_work_to_cores: two groups whose per-core",
            "    // counts differ by one), each core gets its own tile range through its runtime args.",
            "    const CoreCoord grid = mesh_device->compute_with_storage_grid_size();",
            "    auto [num_cores, all_cores, group_1, group_2, per_core_1, per_core_2] = split_work_to_cores(grid, kNumTiles);",
            "    const auto& core_spec = all_cores;",
            "    std::vector<Work> work;",
            "    uint32_t next_tile = 0;",
            "    const std::vector<std::pair<CoreRangeSet, uint32_t>> groups = {{group_1, per_core_1}, {group_2, per_core_2}};",
            "    for (const auto& [group, per_core] : groups) {",
            "        for (const CoreRange& range : group.ranges()) {",
            "            for (const CoreCoord& core : range) {",
            "                work.push_back(Work{core, next_tile, per_core});",
            "                next_tile += per_core;",
            "            }",
            "        }",
            "    }",
            "    if (next_tile != kNumTiles) die(\"split_work_to_cores covered \" + std::to_string(next_tile) + \" of \" +",
            "                                    std::to_string(kNumTiles) + \" tiles\");",
            "    std::printf(\"cores: %u (grid %zux%zu)\\n\", static_cast<unsigned>(num_cores), static_cast<size_t>(grid.x),",
            "                static_cast<size_t>(grid.y));",
        ]
    else:
        B += [
            "    // One Tensix core does all the work.",
            "    const CoreCoord core_spec{0, 0};",
            "    const std::vector<Work> work = {Work{core_spec, 0, kNumTiles}};",
        ]
    B.append("")
    B.append("    // Circular buffers: two bfloat16 tiles each (double buffering).")
    for i in ins:
        B.append(f"    make_cb(program, core_spec, tt::CBIndex::c_{i.cb});  // {i.name}")
    B.append(f"    make_cb(program, core_spec, tt::CBIndex::c_{OUTPUT_CB});  // {plan.output}")
    B.append("")
    B.append("    // Kernels. The dataflow kernels get their tensors' layout as compile-time args.")
    B.append("    std::vector<uint32_t> reader_ct_args;")
    for i in ins:
        B.append(f"    TensorAccessorArgs(*buf_{i.name}).append_to(reader_ct_args);")
    B.append("    std::vector<uint32_t> writer_ct_args;")
    B.append(f"    TensorAccessorArgs(*buf_{plan.output}).append_to(writer_ct_args);")
    B += [
        f"    const KernelHandle reader = CreateKernel(program, dir + \"/{KERNEL_FILES['reader']}\", core_spec,",
        "        DataMovementConfig{.processor = DataMovementProcessor::RISCV_1, .noc = NOC::RISCV_1_default,",
        "                           .compile_args = reader_ct_args});",
        f"    const KernelHandle writer = CreateKernel(program, dir + \"/{KERNEL_FILES['writer']}\", core_spec,",
        "        DataMovementConfig{.processor = DataMovementProcessor::RISCV_0, .noc = NOC::RISCV_0_default,",
        "                           .compile_args = writer_ct_args});",
        f"    const KernelHandle compute = CreateKernel(program, dir + \"/{KERNEL_FILES['compute']}\", core_spec,",
        f"        ComputeConfig{{.math_fidelity = MathFidelity::{plan.math_fidelity}, "
        f".fp32_dest_acc_en = {'true' if plan.fp32_dest_acc_en else 'false'}, .math_approx_mode = false}});",
        "",
        "    // Runtime args, per core, in the order each kernel reads them with get_arg_val<uint32_t>(i).",
        "    for (const Work& w : work) {",
        f"        SetRuntimeArgs(program, reader, w.core, {{{', '.join(rt['reader'])}}});",
        f"        SetRuntimeArgs(program, compute, w.core, {{{', '.join(rt['compute'])}}});",
        f"        SetRuntimeArgs(program, writer, w.core, {{{', '.join(rt['writer'])}}});",
        "    }",
        "",
        "    // Inputs: bfloat16 on the device" + (", tilized (32x32 tiles of 16x16 faces)." if plan.tiled else "."),
    ]
    for i in ins:
        B.append(f"    std::vector<uint32_t> host_{i.name} = to_device(inputs[{i.cb}], kInputs[{i.cb}]);")
        B.append(f"    distributed::EnqueueWriteMeshBuffer(cq, buf_{i.name}, host_{i.name}, false);")
    B.append(f"    auto output_buffer = buf_{plan.output};")
    body = "\n".join(B)

    arch_enum = _ARCH_ENUM[arch]
    text = _TEMPLATE
    for k, v in {"@NAME@": plan.kernel, "@SOURCE@": source_file, "@GENERATED@": gen, "@BODY@": body,
                 "@ARCH@": arch, "@ARCH_ENUM@": arch_enum, "@MODE@": cores,
                 "@WORK_SPLIT_INCLUDE@": "#include <tt-metalium/work_split.hpp>\n" if multi else ""}.items():
        text = text.replace(k, v)
    return text


_TEMPLATE = r"""// TT-Metalium host program for the uhopc kernel `@NAME@` (@MODE@-core, @ARCH@).
// Generated by uhopc from @SOURCE@. Build: see README.md.
//
// Opens device 0 (or --device N) as a unit mesh, runs the reader/compute/writer kernels in
// kernels/, compares the output with data/<output>.golden.bin (the reference interpreter's
// result on the same bfloat16 inputs, rounded to bfloat16), prints PASS or FAIL and, after a
// PASS, the median time of --repeat R runs (default 20). Exit status: 0 PASS, 1 FAIL, 3 error.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tt-metalium/host_api.hpp>
#include <tt-metalium/device.hpp>
#include <tt-metalium/distributed.hpp>
#include <tt-metalium/tensor_accessor_args.hpp>
@WORK_SPLIT_INCLUDE@
using namespace tt::tt_metal;

#ifndef UHOP_PROJECT_DIR
#define UHOP_PROJECT_DIR "."
#endif

namespace {

struct TensorDesc {
    const char* name;
    const char* file;  // relative to the project folder
    uint32_t rows;     // the 2-D view: rows x cols (1-D tensors are 1 x N)
    uint32_t cols;
    uint32_t tiles;
    bool tiled;  // tilized on the host (matmul operands) or streamed as 1024-element pages
};

struct Work {
    CoreCoord core;
    uint32_t start;  // first output tile
    uint32_t count;  // output tiles
};

constexpr uint32_t kTileElems = 32 * 32;
constexpr uint32_t kTileBytes = kTileElems * sizeof(uint16_t);  // one bfloat16 tile

// ---------------------------------------------------------------- generated by uhopc
@GENERATED@
// ---------------------------------------------------------------- end of the generated section

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(3);
}

std::vector<float> read_f32(const std::string& path, size_t n) {
    std::ifstream f(path, std::ios::binary);
    if (!f) die("cannot open " + path);
    std::vector<float> v(n);
    f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
    if (static_cast<size_t>(f.gcount()) != n * sizeof(float)) die(path + ": expected " + std::to_string(n) + " floats");
    return v;
}

// float -> bfloat16 with round-to-nearest-even (NaN stays NaN).
uint16_t to_bf16(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
}

float from_bf16(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

// Position of element (r, c) of a rows x cols matrix in the tiled layout: tiles in row-major
// order, each tile four 16x16 faces (top-left, top-right, bottom-left, bottom-right), each face row-major.
size_t tiled_index(uint32_t r, uint32_t c, uint32_t cols) {
    const uint32_t tile = (r / 32) * (cols / 32) + c / 32;
    const uint32_t rr = r % 32, cc = c % 32;
    const uint32_t face = (rr / 16) * 2 + cc / 16;
    return static_cast<size_t>(tile) * kTileElems + face * 256 + (rr % 16) * 16 + (cc % 16);
}

// Host floats -> device words (two bfloat16 per uint32_t, the lower address in the low half).
std::vector<uint32_t> to_device(const std::vector<float>& v, const TensorDesc& t) {
    const size_t n = static_cast<size_t>(t.tiles) * kTileElems;
    std::vector<uint16_t> h(n);
    for (uint32_t r = 0; r < t.rows; ++r)
        for (uint32_t c = 0; c < t.cols; ++c) {
            const size_t src = static_cast<size_t>(r) * t.cols + c;
            h[t.tiled ? tiled_index(r, c, t.cols) : src] = to_bf16(v[src]);
        }
    std::vector<uint32_t> w(n / 2);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint32_t>(h[2 * i]) | (static_cast<uint32_t>(h[2 * i + 1]) << 16);
    return w;
}

std::vector<float> from_device(const std::vector<uint32_t>& w, const TensorDesc& t) {
    const size_t n = static_cast<size_t>(t.tiles) * kTileElems;
    if (w.size() * 2 < n) die("device returned " + std::to_string(w.size() * 2) + " values, expected " + std::to_string(n));
    std::vector<float> v(n);
    for (uint32_t r = 0; r < t.rows; ++r)
        for (uint32_t c = 0; c < t.cols; ++c) {
            const size_t dst = static_cast<size_t>(r) * t.cols + c;
            const size_t i = t.tiled ? tiled_index(r, c, t.cols) : dst;
            v[dst] = from_bf16(static_cast<uint16_t>(i % 2 ? w[i / 2] >> 16 : w[i / 2] & 0xffffu));
        }
    return v;
}

std::shared_ptr<distributed::MeshBuffer> dram_buffer(distributed::MeshDevice* dev, uint32_t tiles) {
    const distributed::DeviceLocalBufferConfig local{.page_size = kTileBytes, .buffer_type = BufferType::DRAM};
    const distributed::ReplicatedBufferConfig global{.size = static_cast<uint64_t>(tiles) * kTileBytes};
    return distributed::MeshBuffer::create(global, local, dev);
}

template <typename CoreSpec>
void make_cb(Program& program, const CoreSpec& cores, tt::CBIndex index) {
    CircularBufferConfig config(2 * kTileBytes, {{index, tt::DataFormat::Float16_b}});
    config.set_page_size(index, kTileBytes);
    CreateCircularBuffer(program, cores, config);
}

bool close_enough(double got, double want) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::isfinite(got) && std::fabs(got - want) <= kAtol + kRtol * std::fabs(want);
}

int run(const std::string& dir, int device_id, int repeat) {
    std::vector<std::vector<float>> inputs;
    for (const TensorDesc& t : kInputs) inputs.push_back(read_f32(dir + "/" + t.file, static_cast<size_t>(t.rows) * t.cols));
    const std::vector<float> golden = read_f32(dir + "/" + kOutput.file, static_cast<size_t>(kOutput.rows) * kOutput.cols);

    std::shared_ptr<distributed::MeshDevice> mesh_device = distributed::MeshDevice::create_unit_mesh(device_id);
    distributed::MeshDevice* dev = mesh_device.get();
    if (mesh_device->arch() != tt::ARCH::@ARCH_ENUM@)
        std::fprintf(stderr, "warning: this project was generated for @ARCH@; the device reports another architecture\n");
    distributed::MeshCommandQueue& cq = mesh_device->mesh_command_queue();
    Program program = CreateProgram();

@BODY@

    distributed::MeshWorkload workload;
    workload.add_program(distributed::MeshCoordinateRange(mesh_device->shape()), std::move(program));
    const auto t0 = std::chrono::steady_clock::now();
    distributed::EnqueueMeshWorkload(cq, workload, false);
    distributed::Finish(cq);
    const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::vector<uint32_t> words;
    distributed::EnqueueReadMeshBuffer(cq, words, output_buffer, true);
    const std::vector<float> got = from_device(words, kOutput);

    size_t bad = 0, first_bad = 0;
    double max_abs = 0.0, max_rel = 0.0;
    for (size_t i = 0; i < golden.size(); ++i) {
        const double g = got[i], w = golden[i];
        if (!close_enough(g, w)) {
            if (bad++ == 0) first_bad = i;
        }
        if (std::isfinite(g) && std::isfinite(w)) {
            const double err = std::fabs(g - w);
            max_abs = std::max(max_abs, err);
            max_rel = std::max(max_rel, err / std::max(std::fabs(w), kAtol));
        }
    }
    std::printf("%s: %s  (%zu of %zu elements off; max abs err %.3g, max rel err %.3g; rtol %.3g, atol %.3g)\n",
                kOutput.name, bad ? "FAIL" : "PASS", bad, golden.size(), max_abs, max_rel, kRtol, kAtol);
    if (bad)
        std::printf("  first mismatch at flat index %zu: got %.6g, expected %.6g\n", first_bad,
                    static_cast<double>(got[first_bad]), static_cast<double>(golden[first_bad]));
    std::printf("first run (includes the kernels' JIT build): %.3f ms\n", first_ms);

    if (!bad && repeat > 0) {
        std::vector<double> ms;
        for (int r = 0; r < repeat; ++r) {
            const auto a = std::chrono::steady_clock::now();
            distributed::EnqueueMeshWorkload(cq, workload, false);
            distributed::Finish(cq);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
        }
        std::sort(ms.begin(), ms.end());
        const double median = ms[ms.size() / 2];
        std::printf("time: median %.4f ms over %d runs (min %.4f ms)  %.2f GFLOP/s  %.2f GB/s\n", median, repeat, ms.front(),
                    kFlops / (median * 1e6), kBytes / (median * 1e6));
    }
    if (!mesh_device->close()) std::fprintf(stderr, "warning: closing the device reported a problem\n");
    return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = UHOP_PROJECT_DIR;
    int device_id = 0, repeat = 20;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* what) -> std::string {
            if (i + 1 >= argc) die(std::string("missing value for ") + what);
            return argv[++i];
        };
        if (a == "--dir") dir = value("--dir");
        else if (a == "--device") device_id = std::atoi(value("--device").c_str());
        else if (a == "--repeat") repeat = std::atoi(value("--repeat").c_str());
        else if (a == "--help" || a == "-h") {
            std::printf("usage: %s [--dir DIR] [--device N] [--repeat R]\n", argv[0]);
            return 0;
        } else die("unknown argument " + a);
    }
    dir = std::filesystem::absolute(dir).string();  // CreateKernel gets absolute kernel paths
    std::printf("%s: %s (%s-core)\n", kKernelName, kExpression, kCores);
    try {
        return run(dir, device_id, repeat);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 3;
    }
}
"""
