// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
// DST[idst] = DST[idst] op scalar, the scalar given as the bits of an fp32 value.
void binop_with_scalar_tile_init();
void add_unary_tile(std::uint32_t idst, std::uint32_t param1);
void sub_unary_tile(std::uint32_t idst, std::uint32_t param1);
void mul_unary_tile(std::uint32_t idst, std::uint32_t param1);
void div_unary_tile(std::uint32_t idst, std::uint32_t param1);
void rsub_unary_tile(std::uint32_t idst, std::uint32_t param1);
}  // namespace ckernel
