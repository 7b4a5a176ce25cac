#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/harness.hpp"

namespace uhop::harness {

struct CuStage {
    std::uint64_t function = 0;                    // CUfunction
    std::array<unsigned, 3> grid{1, 1, 1};
    std::array<unsigned, 3> block{1, 1, 1};
    unsigned shared_bytes = 0;
    std::vector<std::vector<std::uint8_t>> params;  // the bytes of each kernel parameter's value
};

// Launch `stages` in order per repetition on `stream` (0: the legacy default stream) with
// cuLaunchKernel; a stage's device time is cuEventElapsedTime between events recorded
// around it. `context` (CUcontext) is pushed for the duration when non-zero, else the
// calling thread's current context is used. With opts.flush_bytes > 0 a cuMemsetD32Async of
// a scratch allocation (opts.flush_buffer, or one cuMemAlloc'ed here) precedes every
// repetition and is synchronised before the repetition's clock starts.
LoopResult cuda_loop(const std::vector<CuStage> &stages, LoopOptions opts, std::uint64_t stream,
                     std::uint64_t context);

// Small driver helpers (tests, peak measurement): all throw std::runtime_error on failure.
std::uint64_t cuda_primary_context(int device);  // retained and made current on this thread
std::string cuda_device_name(int device);
std::uint64_t cuda_module_load(const std::string &image);  // PTX text or cubin/fatbin bytes
void cuda_module_unload(std::uint64_t module);
std::uint64_t cuda_module_function(std::uint64_t module, const std::string &name);
std::uint64_t cuda_mem_alloc(std::size_t bytes);
void cuda_mem_free(std::uint64_t ptr);
void cuda_memcpy_htod(std::uint64_t dst, const void *src, std::size_t bytes);
void cuda_memcpy_dtoh(void *dst, std::uint64_t src, std::size_t bytes);

}  // namespace uhop::harness
