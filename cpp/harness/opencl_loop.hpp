#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/harness.hpp"

namespace uhop::harness {

struct ClStage {
    std::uint64_t kernel = 0;          // cl_kernel (pyopencl: kernel.int_ptr), arguments already set
    std::vector<std::size_t> global;   // 1 to 3 dimensions
    std::vector<std::size_t> local;    // empty: let the runtime choose
};

// Launch `stages` in order on `queue` (cl_command_queue) per repetition; see run_adaptive.
// Device time is (END - START) of each stage's profiling event, summed over the stages; the
// clock falls back to 'wall' when the queue has no profiling. With opts.flush_bytes > 0 a fill
// of a scratch buffer (opts.flush_buffer, or one created on the queue's context) precedes
// every repetition and is waited for before the repetition's clock starts.
LoopResult opencl_loop(std::uint64_t queue, const std::vector<ClStage> &stages, LoopOptions opts);

// Name of a kernel (clGetKernelInfo), for messages and stage names.
std::string opencl_kernel_name(std::uint64_t kernel);

}  // namespace uhop::harness
