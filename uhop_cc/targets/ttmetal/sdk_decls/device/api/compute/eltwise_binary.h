// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
void binary_op_init_common(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t ocb,
                           std::uint32_t call_line = __builtin_LINE());
void add_tiles_init(std::uint32_t icb0, std::uint32_t icb1, bool acc_to_dest = false,
                    std::uint32_t call_line = __builtin_LINE());
void sub_tiles_init(std::uint32_t icb0, std::uint32_t icb1, bool acc_to_dest = false,
                    std::uint32_t call_line = __builtin_LINE());
void mul_tiles_init(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t call_line = __builtin_LINE());
void mul_tiles_init(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t acc_to_dest, std::uint32_t call_line);
// C = A op B for tile itile0 of icb0 and tile itile1 of icb1, into DST[idst] (FPU).
void add_tiles(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t itile0, std::uint32_t itile1, std::uint32_t idst);
void sub_tiles(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t itile0, std::uint32_t itile1, std::uint32_t idst);
void mul_tiles(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t itile0, std::uint32_t itile1, std::uint32_t idst);
}  // namespace ckernel
