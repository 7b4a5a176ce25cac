// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <tt-metalium/core_coord.hpp>
#include <tt-metalium/tt_backend_api_types.hpp>

namespace tt::tt_metal {
class IDevice {
public:
    virtual ~IDevice();
    virtual tt::ARCH arch() const = 0;
    virtual CoreCoord compute_with_storage_grid_size() const = 0;
};
}  // namespace tt::tt_metal
