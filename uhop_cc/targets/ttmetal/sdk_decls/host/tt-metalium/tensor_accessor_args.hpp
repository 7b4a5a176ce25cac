// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>
#include <vector>

#include <tt-metalium/buffer_types.hpp>
#include <tt-metalium/distributed.hpp>

namespace tt::tt_metal {
// Host half of the kernels' TensorAccessor: packs a buffer's layout into compile-time args.
class TensorAccessorArgs {
public:
    TensorAccessorArgs();
    explicit TensorAccessorArgs(const Buffer& buffer);
    explicit TensorAccessorArgs(const distributed::MeshBuffer& buffer);
    void append_to(std::vector<std::uint32_t>& compile_time_args) const;
    void append_to(std::vector<std::uint32_t>& compile_time_args, std::vector<std::uint32_t>& common_runtime_args) const;
    std::vector<std::uint32_t> get_compile_time_args() const;
};
}  // namespace tt::tt_metal
