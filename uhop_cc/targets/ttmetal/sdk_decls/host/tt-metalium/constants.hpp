// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>

namespace tt::constants {
constexpr std::uint32_t TILE_HEIGHT = 32;
constexpr std::uint32_t TILE_WIDTH = 32;
constexpr std::uint32_t TILE_HW = TILE_WIDTH * TILE_HEIGHT;
constexpr std::uint32_t FACE_HEIGHT = 16;
constexpr std::uint32_t FACE_WIDTH = 16;
}  // namespace tt::constants
