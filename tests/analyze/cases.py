"""Hand-written kernels that each contain one hazard.

A line that must carry a finding ends with `//! CODE [CODE...]` (or is followed by a line
`//!^ CODE...`, for @launch lines that a trailing comment would change). `check(case)` in the tests
asserts every marked code is reported on its line and that no other error or warning is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    source: str
    expected: Optional[dict] = None

    def marks(self) -> List[Tuple[int, str]]:
        out = []
        for i, line in enumerate(self.source.splitlines(), 1):
            if "//!^" in line:  # a marker for the line above (for lines a comment would change)
                out.extend((i - 1, code) for code in line.split("//!^", 1)[1].split())
            elif "//!" in line:
                out.extend((i, code) for code in line.split("//!", 1)[1].split())
        return out


CL = "opencl"
CU = "cuda"
TT = "ttmetal"

CASES: List[Case] = [
    # ------------------------------------------------------------ synchronisation
    Case("barrier-in-branch", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    t[lid] = X[lid];
    if (lid < 32) {
        barrier(CLK_LOCAL_MEM_FENCE);  //! sync.barrier-divergent
    }
    X[lid] = t[lid];
}
"""),
    Case("barrier-after-divergent-return", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int gid = get_global_id(0);
    const int lid = get_local_id(0);
    if (gid >= N) return;
    t[lid] = X[gid];
    barrier(CLK_LOCAL_MEM_FENCE);  //! sync.barrier-divergent
    X[gid] = t[63 - lid];
}
"""),
    Case("barrier-in-divergent-loop", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    const int lid = get_local_id(0);
    float acc = 0.0f;
    for (int i = lid; i < N; i += 64) {
        acc += X[i];
        barrier(CLK_GLOBAL_MEM_FENCE);  //! sync.barrier-divergent sync.barrier-in-loop
    }
    X[lid] = acc;
}
"""),
    Case("barrier-divergent-through-helper", CL, """
void sync_all(void) { barrier(CLK_LOCAL_MEM_FENCE); }

// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    const int tid = get_local_id(0) + 1;
    const int flag = tid % 2;
    if (flag) sync_all();  //! sync.barrier-divergent
    X[get_global_id(0)] = 1.0f;
}
"""),
    Case("barrier-after-divergent-break", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    for (int it = 0; it < 8; ++it) {
        t[lid] = X[it * 64 + lid];
        barrier(CLK_LOCAL_MEM_FENCE);  //! sync.barrier-divergent sync.barrier-in-loop
        if (t[lid] > 0.0f) break;
    }
    X[lid] = t[lid];
}
"""),
    Case("barrier-in-loop", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    for (int it = 0; it < N; it += 64) {
        t[lid] = X[it + lid];
        barrier(CLK_LOCAL_MEM_FENCE);  //! sync.barrier-in-loop
        X[it + lid] = t[63 - lid];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
"""),
    Case("local-race", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    t[lid] = X[get_global_id(0)];
    X[get_global_id(0)] = t[(lid + 1) % 64];  //! sync.local-race
}
"""),
    Case("local-race-across-iterations", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    float acc = 0.0f;
    t[lid] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int it = 0; it < 4; ++it) {
        acc += t[63 - lid];  //! sync.local-race
        t[lid] = acc;
    }
    X[get_global_id(0)] = acc;
}
"""),
    Case("cuda-syncthreads-divergent", CU, """
// @launch grid=(cdiv(N, 128)) block=(128)
__global__ void k(float* X, const int N)
{
    __shared__ float s[128];
    int t = threadIdx.x;
    s[t] = X[blockIdx.x * 128 + t];
    if (t < 64) {
        __syncthreads();  //! sync.barrier-divergent
        s[t] += s[t + 64];
    }
    X[blockIdx.x * 128 + t] = s[t];
}
"""),
    # ------------------------------------------------------------ memory access
    Case("vector-cast", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    const int i = get_global_id(0);
    float4 v = *((__global float4*)(X + 4 * i));  //! mem.vector-cast
    vstore4(v * 2.0f, i, X);
}
"""),
    Case("strided-access", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global const float* A, __global float* B, const int N)
{
    const int i = get_global_id(0);
    B[i] = A[i * N];  //! mem.strided-access
}
"""),
    Case("atomic", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global const int* A, __global int* hist, const int N)
{
    const int i = get_global_id(0);
    atomic_add(&hist[A[i] & 255], 1);  //! mem.atomic mem.irregular-access
}
"""),
    # ------------------------------------------------------------ resources
    Case("local-memory-limit", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)  //! res.local-mem-limit
{
    __local float big[32768];
    big[get_local_id(0)] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    X[get_global_id(0)] = big[get_local_id(0)];
}
"""),
    Case("private-array", CL, """
#define TAPS 512
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    float window[TAPS];  //! res.private-array
    for (int i = 0; i < TAPS; ++i) window[i] = X[i];
    X[get_global_id(0)] = window[get_global_id(0) % TAPS];
}
"""),
    Case("register-pressure", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)  //! res.register-pressure
{
    float16 a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0, a9 = 0;
    const int i = get_global_id(0);
    a0 += X[i]; a9 += a0 * a1 + a2 * a3 + a4 * a5 + a6 * a7 + a8;
    X[i] = a9.s0;
}
"""),
    Case("reqd-work-group-size-too-big", CL, """
// @launch global=(64, 64) local=(64, 64)
//!^ res.work-group-size
__kernel __attribute__((reqd_work_group_size(64, 64, 1))) void k(__global float* X)  //! res.work-group-size
{
    X[get_global_id(1) * 64 + get_global_id(0)] = 0.0f;
}
"""),
    Case("reqd-mismatch", CL, """
// @launch global=(roundup(N, 128)) local=(128)
__kernel __attribute__((reqd_work_group_size(64, 1, 1))) void k(__global float* X, const int N)  //! launch.reqd-mismatch
{
    X[get_global_id(0)] = 0.0f;
}
"""),
    Case("launch-bounds-exceeded", CU, """
// @launch grid=(cdiv(N, 512)) block=(512)
__global__ void __launch_bounds__(256) k(float* X, const int N)  //! launch.bounds-exceeded
{
    X[blockIdx.x * blockDim.x + threadIdx.x] = 0.0f;
}
"""),
    Case("dynamic-shared-without-smem", CU, """
// @launch grid=(cdiv(N, 128)) block=(128)
//!^ launch.smem-missing
__global__ void k(float* X, const int N)
{
    extern __shared__ float buf[];
    buf[threadIdx.x] = X[threadIdx.x];
    __syncthreads();
    X[threadIdx.x] = buf[127 - threadIdx.x];
}
"""),
    # ------------------------------------------------------------ safety
    Case("include", CL, """
#include "evil.h"  //! safety.include
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("include-angle", CU, """
#include <cuda_fp16.h>  //! safety.include
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(float* X, const int N) { X[threadIdx.x] = 0.0f; }
"""),
    Case("preprocessor-path", CL, """
#if __has_include("/etc/passwd")  //! safety.preprocessor-path
#endif
#line 7 "/tmp/x.cl"  //! safety.preprocessor-path
#include_next <stdio.h>  //! safety.preprocessor-path
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("asm", CU, """
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(float* X, const int N)
{
    int lane;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));  //! safety.asm
    X[lane] = 0.0f;
}
"""),
    Case("printf", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    printf("start %d\\n", N);  //! safety.printf
    X[get_global_id(0)] = 0.0f;
}
"""),
    Case("printf-in-loop", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    for (int i = 0; i < N; ++i) {
        printf("%f\\n", X[i]);  //! safety.printf-flood
    }
}
"""),
    Case("printf-flood", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    printf("a");  //! safety.printf safety.printf-flood
    printf("b");  //! safety.printf
    printf("c");  //! safety.printf
    printf("d");  //! safety.printf
    printf("e");  //! safety.printf
    X[get_global_id(0)] = 0.0f;
}
"""),
    Case("recursion", CL, """
float fact(float x) { return x <= 1.0f ? 1.0f : x * fact(x - 1.0f); }  //! safety.recursion
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = fact(X[get_global_id(0)]); }
"""),
    Case("mutual-recursion", CU, """
__device__ int odd(int n);
__device__ int even(int n) { return n == 0 ? 1 : odd(n - 1); }
__device__ int odd(int n) { return n == 0 ? 0 : even(n - 1); }  //! safety.recursion
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(int* X, const int N) { X[threadIdx.x] = even(X[threadIdx.x]); }
"""),
    Case("goto", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    int i = get_global_id(0);
again:
    X[i] += 1.0f;
    if (X[i] < 10.0f) goto again;  //! safety.goto
}
"""),
    Case("unbounded-while", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global volatile int* flag, const int N)
{
    while (1) {  //! safety.unbounded-loop
        flag[0] = flag[0] + 1;
    }
}
"""),
    Case("unbounded-for-and-do", CU, """
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(int* X, const int N)
{
    for (;;) {  //! safety.unbounded-loop
        X[0]++;
        for (int j = 0; j < 4; ++j) { if (X[j]) break; }
    }
    do {  //! safety.unbounded-loop
        X[1]++;
    } while (true);
}
"""),
    Case("pointer-to-int", CL, """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, __global ulong* out, const int N)
{
    out[get_global_id(0)] = (ulong)(X + get_global_id(0));  //! safety.pointer-to-int
}
"""),
    Case("pointer-to-int-alignment-test-is-fine", CU, """
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(const float* X, float* Y, const int N)
{
    const bool vec = ((reinterpret_cast<unsigned long long>(X) | reinterpret_cast<unsigned long long>(Y)) & 15ull) == 0;
    const unsigned long long bad = (unsigned long long)(Y);  //! safety.pointer-to-int
    if (vec && (size_t)X % 16 == 0 && bad) Y[threadIdx.x] = X[threadIdx.x];
}
"""),
    Case("pointer-to-int-cxx", CU, """
// @launch grid=(cdiv(N, 64)) block=(64)
__global__ void k(float* X, unsigned long long* out, const int N)
{
    out[threadIdx.x] = reinterpret_cast<uintptr_t>(&X[threadIdx.x]);  //! safety.pointer-to-int
}
"""),
    # ------------------------------------------------------------ @launch
    Case("launch-missing", CL, """
__kernel void k(__global float* X, const int N)  //! launch.missing
{
    X[get_global_id(0)] = 0.0f;
}
"""),
    Case("launch-malformed", CL, """
// @launch global=(roundup(N, 64) local=(64)
//!^ launch.malformed
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("launch-unknown-function", CL, """
// @launch global=(ceil(N, 64)) local=(64)
//!^ launch.malformed
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("launch-unknown-field", CU, """
// @launch grid=(cdiv(N, 64)) threads=(64)
//!^ launch.malformed
__global__ void k(float* X, const int N) { X[threadIdx.x] = 0.0f; }
"""),
    Case("launch-unknown-symbol", CL, """
// @launch global=(roundup(M, 64)) local=(64)
//!^ launch.unknown-symbol
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("launch-dims", CL, """
// @launch global=(N, N) local=(8)
//!^ launch.dims
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    Case("launch-not-multiple", CL, """
// @launch global=(100) local=(64)
//!^ launch.not-multiple
__kernel void a(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
// @launch global=(N) local=(64)
//!^ launch.not-multiple
__kernel void k(__global float* X, const int N) { X[get_global_id(0)] = 0.0f; }
"""),
    # ------------------------------------------------------------ TT-Metal
    Case("tt-push-before-read-barrier", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t src = get_arg_val<uint32_t>(0);
    uint32_t n = get_arg_val<uint32_t>(1);
    const InterleavedAddrGenFast<true> s = {.bank_base_address = src, .page_size = 2048, .data_format = DataFormat::Float16_b};
    for (uint32_t i = 0; i < n; i++) {
        cb_reserve_back(0, 1);
        noc_async_read_tile(i, s, get_write_ptr(0));
        cb_push_back(0, 1);  //! tt.noc-read-barrier
        noc_async_read_barrier();
    }
}
"""),
    Case("tt-pop-before-write-barrier", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t dst = get_arg_val<uint32_t>(0);
    uint32_t n = get_arg_val<uint32_t>(1);
    const InterleavedAddrGenFast<true> s = {.bank_base_address = dst, .page_size = 2048, .data_format = DataFormat::Float16_b};
    for (uint32_t i = 0; i < n; i++) {
        cb_wait_front(16, 1);
        noc_async_write_tile(i, s, get_read_ptr(16));
        cb_pop_front(16, 1);  //! tt.noc-write-barrier
    }
    noc_async_write_barrier();
}
"""),
    Case("tt-write-never-waited", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t dst = get_arg_val<uint32_t>(0);
    const InterleavedAddrGenFast<true> s = {.bank_base_address = dst, .page_size = 2048, .data_format = DataFormat::Float16_b};
    cb_wait_front(16, 1);
    noc_async_write_tile(0, s, get_read_ptr(16));  //! tt.noc-write-barrier
}
"""),
    Case("tt-read-reused-next-iteration", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t src = get_arg_val<uint32_t>(0);
    uint32_t n = get_arg_val<uint32_t>(1);
    const InterleavedAddrGenFast<true> s = {.bank_base_address = src, .page_size = 2048, .data_format = DataFormat::Float16_b};
    for (uint32_t i = 0; i < n; i++) {
        cb_push_back(0, 1);  //! tt.noc-read-barrier tt.cb-reserve-push
        cb_reserve_back(0, 1);  //! tt.cb-reserve-push
        noc_async_read_tile(i, s, get_write_ptr(0));
    }
    noc_async_read_barrier();
}
"""),
    Case("tt-reserve-without-push", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t n = get_arg_val<uint32_t>(0);
    for (uint32_t i = 0; i < n; i++) {
        cb_reserve_back(0, 1);  //! tt.cb-reserve-push
        uint32_t l1 = get_write_ptr(0);
        (void)l1;
    }
}
"""),
    Case("tt-push-count-mismatch", TT, """
#include "dataflow_api.h"
void kernel_main() {
    cb_reserve_back(1, 1);
    cb_push_back(1, 2);  //! tt.cb-reserve-push
}
"""),
    Case("tt-pop-without-wait", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t n = get_arg_val<uint32_t>(0);
    for (uint32_t i = 0; i < n; i++) {
        cb_pop_front(16, 1);  //! tt.cb-wait-pop
    }
}
"""),
    Case("tt-wait-without-pop-in-loop", TT, """
#include "dataflow_api.h"
void kernel_main() {
    uint32_t n = get_arg_val<uint32_t>(0);
    for (uint32_t i = 0; i < n; i++) {
        cb_wait_front(16, 1);  //! tt.cb-wait-pop
        uint32_t l1 = get_read_ptr(16);
        (void)l1;
    }
}
"""),
    Case("tt-regs-commit-before-acquire", TT, """
#include "compute_kernel_api/eltwise_binary.h"
namespace NAMESPACE {
void MAIN {
    cb_wait_front(0, 1);
    cb_wait_front(1, 1);
    cb_reserve_back(16, 1);
    tile_regs_commit();  //! tt.tile-regs-order
    tile_regs_acquire();
    add_tiles(0, 1, 0, 0, 0);
    tile_regs_commit();
    tile_regs_wait();
    pack_tile(0, 16);
    tile_regs_release();
    cb_pop_front(0, 1);
    cb_pop_front(1, 1);
    cb_push_back(16, 1);
}
}
"""),
    Case("tt-pack-before-wait", TT, """
#include "compute_kernel_api/eltwise_binary.h"
namespace NAMESPACE {
void MAIN {
    cb_wait_front(0, 1);
    cb_reserve_back(16, 1);
    tile_regs_acquire();
    copy_tile(0, 0, 0);
    tile_regs_commit();
    pack_tile(0, 16);  //! tt.tile-regs-order
    tile_regs_wait();
    tile_regs_release();
    cb_pop_front(0, 1);
    cb_push_back(16, 1);
}
}
"""),
    Case("tt-math-outside-acquire", TT, """
#include "compute_kernel_api/eltwise_unary/exp.h"
namespace NAMESPACE {
void MAIN {
    uint32_t n = get_arg_val<uint32_t>(0);
    for (uint32_t i = 0; i < n; ++i) {
        cb_wait_front(0, 1);
        cb_reserve_back(16, 1);
        copy_tile(0, 0, 0);  //! tt.tile-regs-order
        tile_regs_acquire();
        exp_tile(0);
        tile_regs_commit();
        tile_regs_wait();
        pack_tile(0, 16);
        tile_regs_release();
        cb_pop_front(0, 1);
        cb_push_back(16, 1);
    }
}
}
"""),
    Case("tt-regs-never-released", TT, """
#include "compute_kernel_api/eltwise_binary.h"
namespace NAMESPACE {
void MAIN {
    cb_wait_front(0, 1);
    cb_reserve_back(16, 1);
    tile_regs_acquire();
    copy_tile(0, 0, 0);
    tile_regs_commit();
    tile_regs_wait();
    pack_tile(0, 16);
    cb_pop_front(0, 1);
    cb_push_back(16, 1);
}  //! tt.tile-regs-order
}
"""),
    Case("tt-include-not-allowed", TT, """
#include "dataflow_api.h"
#include "../../secret.h"  //! safety.include
void kernel_main() { }
"""),
]

BY_NAME: Dict[str, Case] = {c.name: c for c in CASES}
