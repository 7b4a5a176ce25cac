#include "harness/cl_api.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace uhop::harness::cl {

namespace {

int find_loaded(struct dl_phdr_info *info, std::size_t, void *data) {
    const char *name = info->dlpi_name;
    if (!name || !*name) return 0;
    const char *base = std::strrchr(name, '/');
    base = base ? base + 1 : name;
    if (std::strncmp(base, "libOpenCL", 9) == 0) {
        *static_cast<std::string *>(data) = name;
        return 1;
    }
    return 0;
}

struct Loaded {
    Api api;
    std::string error;
    bool ok = false;
};

template <class F>
bool sym(void *h, const char *name, F &fn, std::string &err) {
    void *p = dlsym(h, name);
    if (!p) {
        if (err.empty()) err = std::string("the OpenCL loader lacks ") + name;
        return false;
    }
    fn = reinterpret_cast<F>(p);
    return true;
}

Loaded load() {
    Loaded L;
    std::string already;
    dl_iterate_phdr(find_loaded, &already);
    void *h = nullptr;
    std::string tried;
    if (!already.empty()) {
        h = dlopen(already.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (h) L.api.path = already;
    }
    for (const char *name : {"libOpenCL.so.1", "libOpenCL.so"}) {
        if (h) break;
        h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (h) {
            L.api.path = name;
        } else {
            const char *e = dlerror();
            tried += std::string(tried.empty() ? "" : "; ") + (e ? e : name);
        }
    }
    if (!h) {
        L.error = "cannot load the OpenCL ICD loader: " + tried;
        return L;
    }
    Api &a = L.api;
    std::string err;
    bool ok = sym(h, "clGetCommandQueueInfo", a.GetCommandQueueInfo, err) &
              sym(h, "clGetKernelInfo", a.GetKernelInfo, err) &
              sym(h, "clGetMemObjectInfo", a.GetMemObjectInfo, err) &
              sym(h, "clEnqueueNDRangeKernel", a.EnqueueNDRangeKernel, err) &
              sym(h, "clEnqueueFillBuffer", a.EnqueueFillBuffer, err) &
              sym(h, "clWaitForEvents", a.WaitForEvents, err) &
              sym(h, "clGetEventProfilingInfo", a.GetEventProfilingInfo, err) &
              sym(h, "clReleaseEvent", a.ReleaseEvent, err) & sym(h, "clFinish", a.Finish, err) &
              sym(h, "clCreateBuffer", a.CreateBuffer, err) &
              sym(h, "clReleaseMemObject", a.ReleaseMemObject, err);
    if (!ok) {
        L.error = err + " (" + a.path + ")";
        return L;
    }
    L.ok = true;
    return L;  // the handle stays open for the life of the process
}

const Loaded &loaded() {
    static const Loaded L = load();
    return L;
}

}  // namespace

const Api &api() {
    const Loaded &L = loaded();
    if (!L.ok) throw std::runtime_error(L.error);
    return L.api;
}

bool available(std::string *why) {
    const Loaded &L = loaded();
    if (!L.ok && why) *why = L.error;
    return L.ok;
}

std::string error_name(cl_int err) {
    static const char *const names[] = {
        "CL_SUCCESS", "CL_DEVICE_NOT_FOUND", "CL_DEVICE_NOT_AVAILABLE", "CL_COMPILER_NOT_AVAILABLE",
        "CL_MEM_OBJECT_ALLOCATION_FAILURE", "CL_OUT_OF_RESOURCES", "CL_OUT_OF_HOST_MEMORY",
        "CL_PROFILING_INFO_NOT_AVAILABLE", "CL_MEM_COPY_OVERLAP", "CL_IMAGE_FORMAT_MISMATCH",
        "CL_IMAGE_FORMAT_NOT_SUPPORTED", "CL_BUILD_PROGRAM_FAILURE", "CL_MAP_FAILURE",
        "CL_MISALIGNED_SUB_BUFFER_OFFSET", "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
        "CL_COMPILE_PROGRAM_FAILURE", "CL_LINKER_NOT_AVAILABLE", "CL_LINK_PROGRAM_FAILURE",
        "CL_DEVICE_PARTITION_FAILED", "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"};
    static const char *const names30[] = {
        "CL_INVALID_VALUE", "CL_INVALID_DEVICE_TYPE", "CL_INVALID_PLATFORM", "CL_INVALID_DEVICE",
        "CL_INVALID_CONTEXT", "CL_INVALID_QUEUE_PROPERTIES", "CL_INVALID_COMMAND_QUEUE", "CL_INVALID_HOST_PTR",
        "CL_INVALID_MEM_OBJECT", "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR", "CL_INVALID_IMAGE_SIZE",
        "CL_INVALID_SAMPLER", "CL_INVALID_BINARY", "CL_INVALID_BUILD_OPTIONS", "CL_INVALID_PROGRAM",
        "CL_INVALID_PROGRAM_EXECUTABLE", "CL_INVALID_KERNEL_NAME", "CL_INVALID_KERNEL_DEFINITION",
        "CL_INVALID_KERNEL", "CL_INVALID_ARG_INDEX", "CL_INVALID_ARG_VALUE", "CL_INVALID_ARG_SIZE",
        "CL_INVALID_KERNEL_ARGS", "CL_INVALID_WORK_DIMENSION", "CL_INVALID_WORK_GROUP_SIZE",
        "CL_INVALID_WORK_ITEM_SIZE", "CL_INVALID_GLOBAL_OFFSET", "CL_INVALID_EVENT_WAIT_LIST",
        "CL_INVALID_EVENT", "CL_INVALID_OPERATION", "CL_INVALID_GL_OBJECT", "CL_INVALID_BUFFER_SIZE",
        "CL_INVALID_MIP_LEVEL", "CL_INVALID_GLOBAL_WORK_SIZE", "CL_INVALID_PROPERTY",
        "CL_INVALID_IMAGE_DESCRIPTOR", "CL_INVALID_COMPILER_OPTIONS", "CL_INVALID_LINKER_OPTIONS",
        "CL_INVALID_DEVICE_PARTITION_COUNT", "CL_INVALID_PIPE_SIZE", "CL_INVALID_DEVICE_QUEUE"};
    const char *n = nullptr;
    if (err <= 0 && err >= -19) n = names[-err];
    if (err <= -30 && err >= -70) n = names30[-30 - err];
    return std::string(n ? n : "CL error") + " (" + std::to_string(err) + ")";
}

}  // namespace uhop::harness::cl
