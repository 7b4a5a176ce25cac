// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

namespace ckernel {
void cb_wait_front(std::uint32_t cbid, std::uint32_t ntiles);
void cb_pop_front(std::uint32_t cbid, std::uint32_t ntiles);
void cb_reserve_back(std::uint32_t cbid, std::uint32_t ntiles);
void cb_push_back(std::uint32_t cbid, std::uint32_t ntiles);
}  // namespace ckernel
