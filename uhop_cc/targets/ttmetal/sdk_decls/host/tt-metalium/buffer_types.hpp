// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>

namespace tt::tt_metal {
using DeviceAddr = std::uint64_t;
enum class BufferType { DRAM, L1, SYSTEM_MEMORY, L1_SMALL, TRACE };
enum class TensorMemoryLayout { INTERLEAVED = 0, HEIGHT_SHARDED = 2, WIDTH_SHARDED = 3, BLOCK_SHARDED = 4 };
class Buffer;
}  // namespace tt::tt_metal
