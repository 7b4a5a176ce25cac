// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#if !defined(COMPILE_FOR_BRISC) && !defined(COMPILE_FOR_NCRISC)
#error "dataflow kernel API: compile with COMPILE_FOR_BRISC or COMPILE_FOR_NCRISC (a data movement processor)"
#endif
#if defined(TRISC_UNPACK) || defined(TRISC_MATH) || defined(TRISC_PACK)
#error "the dataflow API is not available in compute kernels"
#endif
#if !defined(ARCH_WORMHOLE) && !defined(ARCH_BLACKHOLE)
#error "define ARCH_WORMHOLE or ARCH_BLACKHOLE"
#endif
#include <cstdint>

#include <hostdevcommon/kernel_structs.h>

// The entry point of a data movement kernel.
void kernel_main();

extern std::uint8_t noc_index;

template <typename T>
T get_arg_val(int arg_idx);
template <typename T>
T get_common_arg_val(int arg_idx);

// Circular buffers (producer side: reserve/push, consumer side: wait/pop), in pages (tiles).
void cb_reserve_back(std::int32_t operand, std::int32_t num_pages);
void cb_push_back(const std::int32_t operand, const std::int32_t num_pages);
void cb_wait_front(std::int32_t operand, std::int32_t num_pages);
void cb_pop_front(std::int32_t operand, std::int32_t num_pages);
std::uint32_t get_write_ptr(std::uint32_t operand);
std::uint32_t get_read_ptr(std::uint32_t operand);
std::uint32_t get_tile_size(const std::int32_t operand);

// Asynchronous NoC transfers; a barrier waits for the issued ones.
template <typename AddrGen>
void noc_async_read_tile(std::uint32_t id, const AddrGen& addrgen, std::uint32_t dst_local_l1_addr,
                         std::uint32_t offset = 0, std::uint8_t noc = noc_index);
template <typename AddrGen>
void noc_async_write_tile(std::uint32_t id, const AddrGen& addrgen, std::uint32_t src_local_l1_addr,
                          std::uint8_t noc = noc_index);
void noc_async_read(std::uint64_t src_noc_addr, std::uint32_t dst_local_l1_addr, std::uint32_t size,
                    std::uint8_t noc = noc_index);
void noc_async_write(std::uint32_t src_local_l1_addr, std::uint64_t dst_noc_addr, std::uint32_t size,
                     std::uint8_t noc = noc_index);
void noc_async_read_barrier(std::uint8_t noc = noc_index);
void noc_async_write_barrier(std::uint8_t noc = noc_index);
void noc_async_writes_flushed(std::uint8_t noc = noc_index);

#include "api/tensor/tensor_accessor.h"
