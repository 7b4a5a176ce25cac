#include "harness/cuda_api.hpp"

#include <dlfcn.h>

#include <stdexcept>

namespace uhop::harness::cu {

namespace {

struct Loaded {
    Api api;
    std::string error;
    bool ok = false;
};

template <class F>
bool sym(void *h, const char *name, F &fn, std::string &err) {
    void *p = dlsym(h, name);
    if (!p) {
        if (err.empty()) err = std::string("libcuda lacks ") + name;
        return false;
    }
    fn = reinterpret_cast<F>(p);
    return true;
}

Loaded load() {
    Loaded L;
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        L.error = std::string("cannot load libcuda.so.1: ") + (e ? e : "not found");
        return L;
    }
    Api &a = L.api;
    std::string err;
    // Versioned names are what cuda.h maps the plain ones to.
    bool ok = sym(h, "cuInit", a.Init, err) & sym(h, "cuDeviceGetCount", a.DeviceGetCount, err) &
              sym(h, "cuDeviceGet", a.DeviceGet, err) & sym(h, "cuDeviceGetName", a.DeviceGetName, err) &
              sym(h, "cuDevicePrimaryCtxRetain", a.DevicePrimaryCtxRetain, err) &
              sym(h, "cuCtxGetCurrent", a.CtxGetCurrent, err) & sym(h, "cuCtxSetCurrent", a.CtxSetCurrent, err) &
              sym(h, "cuCtxPushCurrent_v2", a.CtxPushCurrent, err) &
              sym(h, "cuCtxPopCurrent_v2", a.CtxPopCurrent, err) &
              sym(h, "cuCtxSynchronize", a.CtxSynchronize, err) &
              sym(h, "cuModuleLoadData", a.ModuleLoadData, err) & sym(h, "cuModuleUnload", a.ModuleUnload, err) &
              sym(h, "cuModuleGetFunction", a.ModuleGetFunction, err) & sym(h, "cuMemAlloc_v2", a.MemAlloc, err) &
              sym(h, "cuMemFree_v2", a.MemFree, err) & sym(h, "cuMemcpyHtoD_v2", a.MemcpyHtoD, err) &
              sym(h, "cuMemcpyDtoH_v2", a.MemcpyDtoH, err) & sym(h, "cuMemsetD32Async", a.MemsetD32Async, err) &
              sym(h, "cuLaunchKernel", a.LaunchKernel, err) & sym(h, "cuEventCreate", a.EventCreate, err) &
              sym(h, "cuEventDestroy_v2", a.EventDestroy, err) & sym(h, "cuEventRecord", a.EventRecord, err) &
              sym(h, "cuEventSynchronize", a.EventSynchronize, err) &
              sym(h, "cuEventElapsedTime", a.EventElapsedTime, err) &
              sym(h, "cuStreamSynchronize", a.StreamSynchronize, err) &
              sym(h, "cuGetErrorName", a.GetErrorName, err) & sym(h, "cuGetErrorString", a.GetErrorString, err);
    if (!ok) {
        L.error = err;
        return L;
    }
    a.FuncGetParamInfo = reinterpret_cast<decltype(a.FuncGetParamInfo)>(dlsym(h, "cuFuncGetParamInfo"));
    CUresult r = a.Init(0);
    if (r != CUDA_SUCCESS) {
        L.error = "cuInit failed: " + std::to_string(r);
        const char *name = nullptr;
        if (a.GetErrorName(r, &name) == CUDA_SUCCESS && name) L.error = std::string("cuInit failed: ") + name;
        return L;
    }
    int count = 0;
    r = a.DeviceGetCount(&count);
    if (r != CUDA_SUCCESS || count < 1) {
        L.error = "no CUDA device";
        return L;
    }
    L.ok = true;
    return L;
}

const Loaded &loaded() {
    static const Loaded L = load();
    return L;
}

}  // namespace

const Api &api() {
    const Loaded &L = loaded();
    if (!L.ok) throw std::runtime_error("CUDA unavailable: " + L.error);
    return L.api;
}

bool available(std::string *why) {
    const Loaded &L = loaded();
    if (!L.ok && why) *why = L.error;
    return L.ok;
}

std::string error_name(CUresult r) {
    const Loaded &L = loaded();
    std::string s = "CUDA error";
    if (L.api.GetErrorName) {
        const char *n = nullptr, *d = nullptr;
        if (L.api.GetErrorName(r, &n) == CUDA_SUCCESS && n) s = n;
        s += " (" + std::to_string(r) + ")";
        if (L.api.GetErrorString && L.api.GetErrorString(r, &d) == CUDA_SUCCESS && d) s += ": " + std::string(d);
        return s;
    }
    return s + " (" + std::to_string(r) + ")";
}

void check(CUresult r, const std::string &what) {
    if (r != CUDA_SUCCESS) throw std::runtime_error(what + " failed: " + error_name(r));
}

}  // namespace uhop::harness::cu
