// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
enum class InputClamping : std::uint8_t { ClampToNegative = 1, None = 0 };
template <bool approx = false, std::uint32_t scale = 0x3F800000, InputClamping input_clamping = InputClamping::ClampToNegative>
void exp_tile_init();
template <bool approx = false, bool scale_en = false, InputClamping input_clamping = InputClamping::ClampToNegative,
          int iterations = 8>
void exp_tile(std::uint32_t idst, VectorMode vector_mode = VectorMode::RC, std::uint16_t scale = 0x3F80);
}  // namespace ckernel
