// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
void negative_tile_init();
template <bool is_fp32_dest_acc_en = false>
void negative_tile(std::uint32_t idst);
}  // namespace ckernel
