// The few OpenCL 1.2 entry points the harness needs, resolved at run time from the ICD
// loader (no CL/cl.h, no link-time dependency on libOpenCL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace uhop::harness::cl {

using cl_int = std::int32_t;
using cl_uint = std::uint32_t;
using cl_ulong = std::uint64_t;
using cl_bitfield = cl_ulong;
using cl_mem_flags = cl_bitfield;
using cl_command_queue_properties = cl_bitfield;
using cl_command_queue = struct _cl_command_queue *;
using cl_kernel = struct _cl_kernel *;
using cl_event = struct _cl_event *;
using cl_mem = struct _cl_mem *;
using cl_context = struct _cl_context *;
using cl_device_id = struct _cl_device_id *;

constexpr cl_int CL_SUCCESS = 0;
constexpr cl_uint CL_QUEUE_CONTEXT = 0x1090;
constexpr cl_uint CL_QUEUE_DEVICE = 0x1091;
constexpr cl_uint CL_QUEUE_PROPERTIES = 0x1093;
constexpr cl_command_queue_properties CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE = 1u << 0;
constexpr cl_command_queue_properties CL_QUEUE_PROFILING_ENABLE = 1u << 1;
constexpr cl_uint CL_KERNEL_FUNCTION_NAME = 0x1190;
constexpr cl_uint CL_KERNEL_CONTEXT = 0x1193;
constexpr cl_uint CL_MEM_SIZE = 0x1102;
constexpr cl_uint CL_MEM_CONTEXT = 0x1106;
constexpr cl_uint CL_PROFILING_COMMAND_START = 0x1282;
constexpr cl_uint CL_PROFILING_COMMAND_END = 0x1283;
constexpr cl_mem_flags CL_MEM_READ_WRITE = 1u << 0;
constexpr cl_mem_flags CL_MEM_HOST_NO_ACCESS = 1u << 9;

struct Api {
    cl_int (*GetCommandQueueInfo)(cl_command_queue, cl_uint, std::size_t, void *, std::size_t *) = nullptr;
    cl_int (*GetKernelInfo)(cl_kernel, cl_uint, std::size_t, void *, std::size_t *) = nullptr;
    cl_int (*GetMemObjectInfo)(cl_mem, cl_uint, std::size_t, void *, std::size_t *) = nullptr;
    cl_int (*EnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const std::size_t *, const std::size_t *,
                                   const std::size_t *, cl_uint, const cl_event *, cl_event *) = nullptr;
    cl_int (*EnqueueFillBuffer)(cl_command_queue, cl_mem, const void *, std::size_t, std::size_t, std::size_t,
                                cl_uint, const cl_event *, cl_event *) = nullptr;
    cl_int (*WaitForEvents)(cl_uint, const cl_event *) = nullptr;
    cl_int (*GetEventProfilingInfo)(cl_event, cl_uint, std::size_t, void *, std::size_t *) = nullptr;
    cl_int (*ReleaseEvent)(cl_event) = nullptr;
    cl_int (*Finish)(cl_command_queue) = nullptr;
    cl_mem (*CreateBuffer)(cl_context, cl_mem_flags, std::size_t, void *, cl_int *) = nullptr;
    cl_int (*ReleaseMemObject)(cl_mem) = nullptr;
    std::string path;  // the loader library in use
};

// The loaded API, or throws std::runtime_error saying why it cannot be loaded. Prefers an
// OpenCL loader already mapped into the process (e.g. the one bundled with pyopencl, so
// both sides dispatch through the same loader), else dlopen("libOpenCL.so.1").
const Api &api();
// Whether api() succeeds; `why` gets the reason when not.
bool available(std::string *why = nullptr);
// "CL_INVALID_KERNEL (-48)".
std::string error_name(cl_int err);

}  // namespace uhop::harness::cl
