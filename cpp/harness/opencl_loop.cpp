// Native OpenCL launch loop with event-based device timing.
#include "harness/opencl_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "harness/cl_api.hpp"

namespace uhop::harness {

using namespace cl;

namespace {

std::string hex(std::uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// Events of one repetition, released whatever happens.
struct Events {
    const Api &a;
    std::vector<cl_event> ev;
    explicit Events(const Api &api, std::size_t n) : a(api), ev(n, nullptr) {}
    ~Events() {
        for (cl_event e : ev)
            if (e) a.ReleaseEvent(e);
    }
};

struct ScratchBuffer {
    const Api &a;
    cl_mem mem = nullptr;
    bool owned = false;
    explicit ScratchBuffer(const Api &api) : a(api) {}
    ~ScratchBuffer() {
        if (mem && owned) a.ReleaseMemObject(mem);
    }
};

bool event_seconds(const Api &a, cl_event e, double &out) {
    cl_ulong start = 0, end = 0;
    if (a.GetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof start, &start, nullptr) != CL_SUCCESS)
        return false;
    if (a.GetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr) != CL_SUCCESS) return false;
    out = end >= start ? static_cast<double>(end - start) * 1e-9 : 0.0;
    return true;
}

}  // namespace

std::string opencl_kernel_name(std::uint64_t kernel) {
    if (!kernel) return "";
    const Api &a = api();
    char buf[256] = {0};
    std::size_t got = 0;
    if (a.GetKernelInfo(reinterpret_cast<cl_kernel>(kernel), CL_KERNEL_FUNCTION_NAME, sizeof buf - 1, buf, &got) !=
        CL_SUCCESS)
        return "";
    return std::string(buf);
}

LoopResult opencl_loop(std::uint64_t queue_handle, const std::vector<ClStage> &stages, LoopOptions opts) {
    opts.check();
    const Api &a = api();
    if (!queue_handle)
        throw std::invalid_argument("OpenCL queue handle is 0 (null); pass a command queue (pyopencl: queue.int_ptr)");
    if (stages.empty()) throw std::invalid_argument("no stages to launch");
    auto q = reinterpret_cast<cl_command_queue>(queue_handle);
    cl_context ctx = nullptr;
    cl_int err = a.GetCommandQueueInfo(q, CL_QUEUE_CONTEXT, sizeof ctx, &ctx, nullptr);
    if (err != CL_SUCCESS)
        throw std::invalid_argument("OpenCL queue handle " + hex(queue_handle) +
                                    " is not a command queue: " + error_name(err));
    cl_command_queue_properties props = 0;
    err = a.GetCommandQueueInfo(q, CL_QUEUE_PROPERTIES, sizeof props, &props, nullptr);
    if (err != CL_SUCCESS) throw std::runtime_error("clGetCommandQueueInfo(PROPERTIES) failed: " + error_name(err));
    const bool profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;

    std::vector<cl_kernel> kernels;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const ClStage &s = stages[i];
        const std::string where = "stage " + std::to_string(i) + ": ";
        if (!s.kernel)
            throw std::invalid_argument(where + "OpenCL kernel handle is 0 (null); pass a kernel (pyopencl: kernel.int_ptr)");
        auto k = reinterpret_cast<cl_kernel>(s.kernel);
        cl_context kctx = nullptr;
        err = a.GetKernelInfo(k, CL_KERNEL_CONTEXT, sizeof kctx, &kctx, nullptr);
        if (err != CL_SUCCESS)
            throw std::invalid_argument(where + "OpenCL kernel handle " + hex(s.kernel) +
                                        " is not a kernel: " + error_name(err));
        if (kctx != ctx)
            throw std::invalid_argument(where + "the kernel belongs to another context than the queue");
        if (s.global.empty() || s.global.size() > 3)
            throw std::invalid_argument(where + "global size must have 1 to 3 dimensions");
        for (std::size_t g : s.global)
            if (g == 0) throw std::invalid_argument(where + "global size has a zero dimension (skip empty stages)");
        if (!s.local.empty()) {
            if (s.local.size() != s.global.size())
                throw std::invalid_argument(where + "local size must have as many dimensions as the global size");
            for (std::size_t l : s.local)
                if (l == 0) throw std::invalid_argument(where + "local size has a zero dimension");
        }
        kernels.push_back(k);
    }

    ScratchBuffer scratch(a);
    if (opts.flush_buffer || opts.flush_bytes) {
        if (opts.flush_buffer) {
            scratch.mem = reinterpret_cast<cl_mem>(opts.flush_buffer);
            cl_context mctx = nullptr;
            std::size_t size = 0;
            err = a.GetMemObjectInfo(scratch.mem, CL_MEM_CONTEXT, sizeof mctx, &mctx, nullptr);
            if (err == CL_SUCCESS) err = a.GetMemObjectInfo(scratch.mem, CL_MEM_SIZE, sizeof size, &size, nullptr);
            if (err != CL_SUCCESS)
                throw std::invalid_argument("flush buffer handle " + hex(opts.flush_buffer) +
                                            " is not a buffer: " + error_name(err));
            if (mctx != ctx) throw std::invalid_argument("the flush buffer belongs to another context than the queue");
            if (opts.flush_bytes == 0 || opts.flush_bytes > size) opts.flush_bytes = size;
        } else {
            scratch.mem = a.CreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_NO_ACCESS,
                                         static_cast<std::size_t>(opts.flush_bytes), nullptr, &err);
            if (err != CL_SUCCESS || !scratch.mem)
                throw std::runtime_error("cannot allocate a " + std::to_string(opts.flush_bytes) +
                                         "-byte flush buffer: " + error_name(err));
            scratch.owned = true;
        }
        opts.flush_bytes -= opts.flush_bytes % 4;
        if (opts.flush_bytes == 0) throw std::invalid_argument("flush buffer is smaller than 4 bytes");
    }

    err = a.Finish(q);
    if (err != CL_SUCCESS) throw std::runtime_error("clFinish failed before timing: " + error_name(err));

    // Back-to-back repetitions need an in-order queue (so they do not overlap) and events
    // (so each keeps its own device time).
    const bool in_order = (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) == 0;
    if (!profiling || !in_order) opts.batch = 1;

    const std::size_t n = stages.size();
    std::uint32_t pattern = 0;
    auto batch = [&](int k, bool, std::vector<Rep> &out) {
        const std::size_t reps = static_cast<std::size_t>(k);
        Events ev(a, reps * n);
        Events fe(a, opts.flush_bytes ? reps : 0);
        std::vector<double> flush_wall(reps, 0.0);
        auto enqueue_flush = [&](std::size_t r) {
            ++pattern;
            err = a.EnqueueFillBuffer(q, scratch.mem, &pattern, sizeof pattern, 0,
                                      static_cast<std::size_t>(opts.flush_bytes), 0, nullptr, &fe.ev[r]);
            if (err != CL_SUCCESS) {
                a.Finish(q);
                throw std::runtime_error("cache flush (clEnqueueFillBuffer) failed: " + error_name(err));
            }
        };
        if (reps == 1 && opts.flush_bytes) {  // sync: flush, wait, then start the clock
            const auto tf = std::chrono::steady_clock::now();
            enqueue_flush(0);
            err = a.WaitForEvents(1, fe.ev.data());
            if (err != CL_SUCCESS) throw std::runtime_error("cache flush failed: " + error_name(err));
            flush_wall[0] = seconds_since(tf);
        }
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t r = 0; r < reps; ++r) {
            if (reps > 1 && opts.flush_bytes) enqueue_flush(r);
            for (std::size_t i = 0; i < n; ++i) {
                const ClStage &s = stages[i];
                err = a.EnqueueNDRangeKernel(q, kernels[i], static_cast<cl_uint>(s.global.size()), nullptr,
                                             s.global.data(), s.local.empty() ? nullptr : s.local.data(), 0,
                                             nullptr, &ev.ev[r * n + i]);
                if (err != CL_SUCCESS) {
                    a.Finish(q);
                    std::string name = opencl_kernel_name(stages[i].kernel);
                    throw std::runtime_error("enqueue of stage " + std::to_string(i) +
                                             (name.empty() ? "" : " `" + name + "`") + " failed: " + error_name(err));
                }
            }
        }
        err = a.WaitForEvents(static_cast<cl_uint>(ev.ev.size()), ev.ev.data());
        double wall = seconds_since(t0);
        if (err != CL_SUCCESS) {
            a.Finish(q);
            throw std::runtime_error("the launch failed while running: " + error_name(err));
        }
        std::vector<double> flush_s(reps, 0.0);
        double flush_total = 0.0;
        for (std::size_t r = 0; r < fe.ev.size(); ++r) {
            double dev = 0.0;
            flush_s[r] = (profiling && event_seconds(a, fe.ev[r], dev)) ? dev : flush_wall[r];
            flush_total += flush_s[r];
        }
        if (reps > 1) wall = std::max(0.0, wall - flush_total);  // flushes ran inside the batch's clock
        for (std::size_t r = 0; r < reps; ++r) {
            Rep rep;
            rep.wall = wall / static_cast<double>(reps);
            rep.flush = flush_s[r];
            rep.device_ok = profiling;
            if (profiling) {
                rep.stages.resize(n);
                for (std::size_t i = 0; i < n && rep.device_ok; ++i)
                    rep.device_ok = event_seconds(a, ev.ev[r * n + i], rep.stages[i]);
            }
            out.push_back(std::move(rep));
        }
    };
    return run_adaptive(opts, n, batch);
}

}  // namespace uhop::harness
