// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once

namespace ckernel {
// DST register ownership: MATH acquires, computes, commits; PACK waits, packs, releases.
void tile_regs_acquire();
void tile_regs_commit();
void tile_regs_wait();
void tile_regs_release();
void acquire_dst();  // legacy
void release_dst();  // legacy
}  // namespace ckernel
