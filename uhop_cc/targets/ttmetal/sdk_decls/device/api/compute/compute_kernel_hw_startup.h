// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

#include "api/compute/common.h"

namespace ckernel {
// Once, at the start of the kernel, with the CBs of the first op's init.
// Matmul maps in0 -> SrcB and in1 -> SrcA, hence SrcOrder::Reverse for it.
template <SrcOrder src_order = SrcOrder::Regular>
void compute_kernel_hw_startup(std::uint32_t icb0, std::uint32_t icb1, std::uint32_t ocb);
template <SrcOrder src_order = SrcOrder::Regular>
void compute_kernel_hw_startup(std::uint32_t icb0, std::uint32_t ocb);
}  // namespace ckernel
