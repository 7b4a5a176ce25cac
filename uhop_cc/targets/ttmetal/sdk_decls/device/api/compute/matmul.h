// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
// Short init before matmul_tiles; the one-time setup is compute_kernel_hw_startup<SrcOrder::Reverse>.
void matmul_init(std::uint32_t in0_cb_id, std::uint32_t in1_cb_id, const std::uint32_t transpose = 0,
                 std::uint32_t call_line = __builtin_LINE());
// DST[idst] += tile in0_tile_index of in0 (A) x tile in1_tile_index of in1 (B).
void matmul_tiles(std::uint32_t in0_cb_id, std::uint32_t in1_cb_id, std::uint32_t in0_tile_index,
                  std::uint32_t in1_tile_index, std::uint32_t idst);
}  // namespace ckernel
