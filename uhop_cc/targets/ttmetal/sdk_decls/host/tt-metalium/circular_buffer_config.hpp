// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>
#include <map>

#include <tt-metalium/tt_backend_api_types.hpp>
#include <hostdevcommon/kernel_structs.h>

namespace tt::tt_metal {
using CBHandle = std::uintptr_t;

class CircularBufferConfig {
public:
    CircularBufferConfig(std::uint32_t total_size, const std::map<std::uint8_t, tt::DataFormat>& data_format_spec);
    CircularBufferConfig& set_page_size(std::uint8_t buffer_index, std::uint32_t page_size);
    CircularBufferConfig& set_total_size(std::uint32_t total_size);
    std::uint32_t total_size() const;
};
}  // namespace tt::tt_metal
