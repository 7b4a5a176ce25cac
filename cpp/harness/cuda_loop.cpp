// Native CUDA launch loop (driver API, dlopen'ed) with event-based device timing.
#include "harness/cuda_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "harness/cuda_api.hpp"

namespace uhop::harness {

using namespace cu;

namespace {

struct CtxGuard {
    const Api &a;
    bool pushed = false;
    CtxGuard(const Api &api, std::uint64_t ctx) : a(api) {
        if (ctx) {
            check(a.CtxPushCurrent(reinterpret_cast<CUcontext>(ctx)), "cuCtxPushCurrent");
            pushed = true;
        } else {
            CUcontext cur = nullptr;
            check(a.CtxGetCurrent(&cur), "cuCtxGetCurrent");
            if (!cur)
                throw std::runtime_error(
                    "no current CUDA context: pass context= (e.g. cuda_primary_context()) or make one current");
        }
    }
    ~CtxGuard() {
        if (pushed) {
            CUcontext c = nullptr;
            a.CtxPopCurrent(&c);
        }
    }
};

struct EventSet {
    const Api &a;
    std::vector<CUevent> ev;
    EventSet(const Api &api, std::size_t n) : a(api), ev(n, nullptr) {
        for (auto &e : ev) check(a.EventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate");
    }
    ~EventSet() {
        for (CUevent e : ev)
            if (e) a.EventDestroy(e);
    }
};

struct DeviceScratch {
    const Api &a;
    CUdeviceptr ptr = 0;
    bool owned = false;
    explicit DeviceScratch(const Api &api) : a(api) {}
    ~DeviceScratch() {
        if (ptr && owned) a.MemFree(ptr);
    }
};

}  // namespace

LoopResult cuda_loop(const std::vector<CuStage> &stages, LoopOptions opts, std::uint64_t stream_handle,
                     std::uint64_t context) {
    opts.check();
    const Api &a = api();
    if (stages.empty()) throw std::invalid_argument("no stages to launch");
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string where = "stage " + std::to_string(i) + ": ";
        if (!stages[i].function) throw std::invalid_argument(where + "CUDA function handle is 0 (null)");
        for (unsigned v : stages[i].grid)
            if (v == 0) throw std::invalid_argument(where + "grid has a zero dimension");
        for (unsigned v : stages[i].block)
            if (v == 0) throw std::invalid_argument(where + "block has a zero dimension");
    }
    CtxGuard ctx(a, context);
    if (a.FuncGetParamInfo) {  // check the parameter list where the driver can tell it (CUDA >= 12.4)
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto f = reinterpret_cast<CUfunction>(stages[i].function);
            std::size_t count = 0, offset = 0, size = 0;
            for (; count < 4096; ++count) {
                if (a.FuncGetParamInfo(f, count, &offset, &size) != CUDA_SUCCESS) break;
                if (count < stages[i].params.size() && stages[i].params[count].size() < size)
                    throw std::invalid_argument("stage " + std::to_string(i) + ": kernel parameter " +
                                                std::to_string(count) + " takes " + std::to_string(size) +
                                                " bytes, got " + std::to_string(stages[i].params[count].size()));
            }
            if (count != stages[i].params.size())
                throw std::invalid_argument("stage " + std::to_string(i) + ": the kernel takes " + std::to_string(count) +
                                            " parameters, got " + std::to_string(stages[i].params.size()));
        }
    }
    auto stream = reinterpret_cast<CUstream>(stream_handle);

    // Kernel parameter pointer arrays: each value in 8-byte aligned storage.
    std::vector<std::vector<std::vector<std::uint64_t>>> storage(stages.size());
    std::vector<std::vector<void *>> param_ptrs(stages.size());
    for (std::size_t i = 0; i < stages.size(); ++i) {
        for (const auto &p : stages[i].params) {
            std::vector<std::uint64_t> slot((p.size() + 7) / 8 + 1, 0);
            if (!p.empty()) std::memcpy(slot.data(), p.data(), p.size());
            storage[i].push_back(std::move(slot));
        }
        for (auto &slot : storage[i]) param_ptrs[i].push_back(slot.data());
    }

    DeviceScratch scratch(a);
    if (opts.flush_buffer || opts.flush_bytes) {
        if (opts.flush_buffer) {
            if (!opts.flush_bytes) throw std::invalid_argument("flush_bytes is needed with a CUDA flush buffer");
            scratch.ptr = opts.flush_buffer;
        } else {
            check(a.MemAlloc(&scratch.ptr, static_cast<std::size_t>(opts.flush_bytes)), "cuMemAlloc (flush buffer)");
            scratch.owned = true;
        }
        opts.flush_bytes -= opts.flush_bytes % 4;
        if (opts.flush_bytes == 0) throw std::invalid_argument("flush buffer is smaller than 4 bytes");
    }

    const std::size_t n = stages.size();
    const std::size_t per = n + 2;  // per repetition: flush start, then a boundary before and after each stage
    const std::size_t cap = static_cast<std::size_t>(std::max(1, opts.batch));
    EventSet ev(a, cap * per);
    check(a.StreamSynchronize(stream), "cuStreamSynchronize before timing");
    unsigned pattern = 0;
    auto elapsed = [&](CUevent from, CUevent to, double &out) {
        float ms = 0.0f;
        if (a.EventElapsedTime(&ms, from, to) != CUDA_SUCCESS) return false;
        out = static_cast<double>(ms) * 1e-3;
        return true;
    };
    auto batch = [&](int k, bool, std::vector<Rep> &out) {
        const std::size_t reps = static_cast<std::size_t>(k);
        std::vector<double> flush_wall(reps, 0.0);
        auto flush = [&](std::size_t r) {
            check(a.EventRecord(ev.ev[r * per], stream), "cuEventRecord");
            check(a.MemsetD32Async(scratch.ptr, ++pattern, static_cast<std::size_t>(opts.flush_bytes / 4), stream),
                  "cache flush (cuMemsetD32Async)");
        };
        if (reps == 1 && opts.flush_bytes) {  // sync: flush, wait, then start the clock
            const auto tf = std::chrono::steady_clock::now();
            flush(0);
            check(a.StreamSynchronize(stream), "cache flush");
            flush_wall[0] = seconds_since(tf);
        }
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t r = 0; r < reps; ++r) {
            if (reps > 1 && opts.flush_bytes) flush(r);
            CUevent *e = &ev.ev[r * per + 1];
            check(a.EventRecord(e[0], stream), "cuEventRecord");
            for (std::size_t i = 0; i < n; ++i) {
                const CuStage &s = stages[i];
                CUresult res = a.LaunchKernel(reinterpret_cast<CUfunction>(s.function), s.grid[0], s.grid[1],
                                              s.grid[2], s.block[0], s.block[1], s.block[2], s.shared_bytes, stream,
                                              param_ptrs[i].empty() ? nullptr : param_ptrs[i].data(), nullptr);
                if (res != CUDA_SUCCESS)
                    throw std::runtime_error("cuLaunchKernel of stage " + std::to_string(i) + " failed: " +
                                             error_name(res));
                check(a.EventRecord(e[i + 1], stream), "cuEventRecord");
            }
        }
        CUresult res = a.EventSynchronize(ev.ev[(reps - 1) * per + 1 + n]);
        double wall = seconds_since(t0);
        if (res != CUDA_SUCCESS) throw std::runtime_error("the launch failed while running: " + error_name(res));
        std::vector<double> flush_s(reps, 0.0);
        double flush_total = 0.0;
        if (opts.flush_bytes) {
            for (std::size_t r = 0; r < reps; ++r) {
                double d = 0.0;
                // sync: the host wait sits between the events, so the host clock is the better one
                flush_s[r] = (reps > 1 && elapsed(ev.ev[r * per], ev.ev[r * per + 1], d)) ? d : flush_wall[r];
                flush_total += flush_s[r];
            }
        }
        if (reps > 1) wall = std::max(0.0, wall - flush_total);
        for (std::size_t r = 0; r < reps; ++r) {
            Rep rep;
            rep.wall = wall / static_cast<double>(reps);
            rep.flush = flush_s[r];
            rep.stages.resize(n);
            const CUevent *e = &ev.ev[r * per + 1];
            for (std::size_t i = 0; i < n && rep.device_ok; ++i) rep.device_ok = elapsed(e[i], e[i + 1], rep.stages[i]);
            out.push_back(std::move(rep));
        }
    };
    return run_adaptive(opts, n, batch);
}

std::uint64_t cuda_primary_context(int device) {
    const Api &a = api();
    CUdevice dev = 0;
    check(a.DeviceGet(&dev, device), "cuDeviceGet");
    CUcontext ctx = nullptr;
    check(a.DevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    check(a.CtxSetCurrent(ctx), "cuCtxSetCurrent");
    return reinterpret_cast<std::uint64_t>(ctx);
}

std::string cuda_device_name(int device) {
    const Api &a = api();
    CUdevice dev = 0;
    check(a.DeviceGet(&dev, device), "cuDeviceGet");
    char buf[256] = {0};
    check(a.DeviceGetName(buf, sizeof buf - 1, dev), "cuDeviceGetName");
    return buf;
}

std::uint64_t cuda_module_load(const std::string &image) {
    const Api &a = api();
    std::string copy = image;  // PTX must be NUL-terminated
    CUmodule m = nullptr;
    check(a.ModuleLoadData(&m, copy.c_str()), "cuModuleLoadData");
    return reinterpret_cast<std::uint64_t>(m);
}

void cuda_module_unload(std::uint64_t module) {
    check(api().ModuleUnload(reinterpret_cast<CUmodule>(module)), "cuModuleUnload");
}

std::uint64_t cuda_module_function(std::uint64_t module, const std::string &name) {
    if (!module) throw std::invalid_argument("CUDA module handle is 0 (null)");
    CUfunction f = nullptr;
    check(api().ModuleGetFunction(&f, reinterpret_cast<CUmodule>(module), name.c_str()),
          "cuModuleGetFunction(" + name + ")");
    return reinterpret_cast<std::uint64_t>(f);
}

std::uint64_t cuda_mem_alloc(std::size_t bytes) {
    CUdeviceptr p = 0;
    check(api().MemAlloc(&p, bytes), "cuMemAlloc");
    return p;
}

void cuda_mem_free(std::uint64_t ptr) { check(api().MemFree(ptr), "cuMemFree"); }

void cuda_memcpy_htod(std::uint64_t dst, const void *src, std::size_t bytes) {
    check(api().MemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

void cuda_memcpy_dtoh(void *dst, std::uint64_t src, std::size_t bytes) {
    check(api().MemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

}  // namespace uhop::harness
