// The few CUDA driver API entry points the harness needs, resolved at run time from
// libcuda.so.1 (no cuda.h, no link-time dependency on the driver).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace uhop::harness::cu {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr unsigned CU_EVENT_DEFAULT = 0;

struct Api {
    CUresult (*Init)(unsigned) = nullptr;
    CUresult (*DeviceGetCount)(int *) = nullptr;
    CUresult (*DeviceGet)(CUdevice *, int) = nullptr;
    CUresult (*DeviceGetName)(char *, int, CUdevice) = nullptr;
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
    CUresult (*CtxGetCurrent)(CUcontext *) = nullptr;
    CUresult (*CtxSetCurrent)(CUcontext) = nullptr;
    CUresult (*CtxPushCurrent)(CUcontext) = nullptr;
    CUresult (*CtxPopCurrent)(CUcontext *) = nullptr;
    CUresult (*CtxSynchronize)() = nullptr;
    CUresult (*ModuleLoadData)(CUmodule *, const void *) = nullptr;
    CUresult (*ModuleUnload)(CUmodule) = nullptr;
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *) = nullptr;
    CUresult (*MemAlloc)(CUdeviceptr *, std::size_t) = nullptr;
    CUresult (*MemFree)(CUdeviceptr) = nullptr;
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, std::size_t) = nullptr;
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, std::size_t) = nullptr;
    CUresult (*MemsetD32Async)(CUdeviceptr, unsigned, std::size_t, CUstream) = nullptr;
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **) = nullptr;
    CUresult (*EventCreate)(CUevent *, unsigned) = nullptr;
    CUresult (*EventDestroy)(CUevent) = nullptr;
    CUresult (*EventRecord)(CUevent, CUstream) = nullptr;
    CUresult (*EventSynchronize)(CUevent) = nullptr;
    CUresult (*EventElapsedTime)(float *, CUevent, CUevent) = nullptr;
    CUresult (*StreamSynchronize)(CUstream) = nullptr;
    CUresult (*GetErrorName)(CUresult, const char **) = nullptr;
    CUresult (*GetErrorString)(CUresult, const char **) = nullptr;
    // CUDA >= 12.4 only (nullptr otherwise): lets the loop check the parameter list.
    CUresult (*FuncGetParamInfo)(CUfunction, std::size_t, std::size_t *, std::size_t *) = nullptr;
};

// The driver API with cuInit(0) done, or throws std::runtime_error saying why not.
const Api &api();
// True when libcuda.so.1 loads, cuInit(0) succeeds and there is at least one device.
bool available(std::string *why = nullptr);
// "CUDA_ERROR_INVALID_HANDLE (400): invalid resource handle".
std::string error_name(CUresult r);
// Throws std::runtime_error("<what> failed: <error_name>") unless r is CUDA_SUCCESS.
void check(CUresult r, const std::string &what);

}  // namespace uhop::harness::cu
