// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
template <bool fast_and_approx = false>
void sigmoid_tile_init();
template <VectorMode vec_mode = VectorMode::RC, bool fast_and_approx = false>
void sigmoid_tile(std::uint32_t idst);
template <bool fast_and_approx = false>
void log_tile_init();
template <bool fast_and_approx = false>
void log_tile(std::uint32_t idst);
template <bool fast_and_approx = false>
void tanh_tile_init();
template <bool fast_and_approx = false>
void tanh_tile(std::uint32_t idst);
void abs_tile_init();
void abs_tile(std::uint32_t idst);
void square_tile_init();
void square_tile(std::uint32_t idst);
void silu_tile_init();
void silu_tile(std::uint32_t idst);
}  // namespace ckernel
