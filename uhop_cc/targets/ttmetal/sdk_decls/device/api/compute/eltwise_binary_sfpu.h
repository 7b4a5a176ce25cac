// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
// DST[odst] = DST[idst0] op DST[idst1] on the SFPU.
template <DstRoundingMode dst_rounding_mode = DstRoundingMode::Default, bool is_fp32_dest_acc_en = false>
void add_binary_tile(std::uint32_t idst0, std::uint32_t idst1, std::uint32_t odst);
template <DstRoundingMode dst_rounding_mode = DstRoundingMode::Default, bool is_fp32_dest_acc_en = false>
void sub_binary_tile(std::uint32_t idst0, std::uint32_t idst1, std::uint32_t odst);
template <bool is_fp32_dest_acc_en = false>
void mul_binary_tile(std::uint32_t idst0, std::uint32_t idst1, std::uint32_t odst);
template <bool is_fp32_dest_acc_en = false>
void div_binary_tile(std::uint32_t idst0, std::uint32_t idst1, std::uint32_t odst);
void add_binary_tile_init();
void sub_binary_tile_init();
void mul_binary_tile_init();
void div_binary_tile_init();
}  // namespace ckernel
