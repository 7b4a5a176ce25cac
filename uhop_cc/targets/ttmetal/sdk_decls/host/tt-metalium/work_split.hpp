// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>
#include <tuple>

#include <tt-metalium/core_coord.hpp>

namespace tt::tt_metal {
// Splits `units_to_divide` over the cores of `grid_size`: (number of cores used, all cores,
// core group 1, core group 2, units per core of group 1, units per core of group 2).
std::tuple<std::uint32_t, CoreRangeSet, CoreRangeSet, CoreRangeSet, std::uint32_t, std::uint32_t> split_work_to_cores(
    const CoreCoord grid_size, const std::uint32_t units_to_divide, const bool row_wise = false);
}  // namespace tt::tt_metal
