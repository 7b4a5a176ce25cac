// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>

namespace tt {
enum class DataFormat : std::uint8_t {
    Float32 = 0, Float16 = 1, Bfp8 = 2, Bfp4 = 3, Bfp2 = 11, Float16_b = 5, Bfp8_b = 6, Bfp4_b = 7,
    Bfp2_b = 15, Lf8 = 10, Int8 = 14, UInt8 = 30, UInt16 = 9, Int32 = 8, UInt32 = 24, Invalid = 0xff
};
enum class ARCH { JAWBRIDGE = 0, GRAYSKULL = 1, WORMHOLE_B0 = 2, BLACKHOLE = 3, QUASAR = 4, Invalid = 0xff };
}  // namespace tt
