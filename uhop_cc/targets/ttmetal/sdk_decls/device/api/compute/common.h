// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#if !defined(TRISC_UNPACK) && !defined(TRISC_MATH) && !defined(TRISC_PACK)
#error "compute kernel API: compile three times, with TRISC_UNPACK, TRISC_MATH and TRISC_PACK"
#endif
#if defined(COMPILE_FOR_BRISC) || defined(COMPILE_FOR_NCRISC)
#error "the compute API is not available in data movement kernels"
#endif
#if !defined(ARCH_WORMHOLE) && !defined(ARCH_BLACKHOLE)
#error "define ARCH_WORMHOLE or ARCH_BLACKHOLE"
#endif
#include <cstdint>

#include <hostdevcommon/kernel_structs.h>

#define ALWI inline __attribute__((always_inline))

// The entry point of a compute kernel (current form; `namespace NAMESPACE { void MAIN { } }` is the legacy one).
void kernel_main();

template <typename T>
T get_arg_val(int arg_idx);
template <typename T>
T get_common_arg_val(int arg_idx);

namespace ckernel {
enum class VectorMode : std::uint8_t { None = 0, R = 1, C = 2, RC = 4, RC_custom = 6, Invalid = 0xff };
enum class SrcOrder { Regular, Reverse };
enum class DstRoundingMode { Default, NearestEven };
enum EltwiseBinaryType { ELWMUL, ELWDIV, ELWADD, ELWSUB, ELWLESS };
}  // namespace ckernel
using namespace ckernel;

#include "api/compute/cb_api.h"
#include "api/compute/pack.h"
#include "api/compute/reg_api.h"
