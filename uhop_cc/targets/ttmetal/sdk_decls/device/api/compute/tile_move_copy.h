// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
void copy_tile_to_dst_init_short(std::uint32_t cbid, std::uint32_t transpose = 0,
                                 std::uint32_t transpose_within_16x16_face = false,
                                 std::uint32_t call_line = __builtin_LINE());
void copy_tile_init(std::uint32_t cbid, std::uint32_t call_line = __builtin_LINE());
void copy_tile(std::uint32_t in_cb_id, std::uint32_t in_tile_index, std::uint32_t dst_tile_index);
}  // namespace ckernel
