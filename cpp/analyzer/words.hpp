// Identifiers the analyzer cares about, each with a fixed id (W::name).
// Keyword ids are looked up once per distinct identifier of a source.
#pragma once
#include <cstdint>
#include <string_view>

namespace uhop::an {

#define UHOP_WORDS(X)                                                                                  \
    /* control flow */                                                                                 \
    X(if_, "if") X(else_, "else") X(for_, "for") X(while_, "while") X(do_, "do") X(switch_, "switch")   \
    X(case_, "case") X(default_, "default") X(return_, "return") X(break_, "break")                    \
    X(continue_, "continue") X(goto_, "goto") X(sizeof_, "sizeof")                                     \
    /* declaration words */                                                                            \
    X(const_, "const") X(volatile_, "volatile") X(static_, "static") X(inline_, "inline")              \
    X(extern_, "extern") X(restrict_, "restrict") X(restrict2, "__restrict") X(restrict3, "__restrict__") \
    X(register_, "register") X(constexpr_, "constexpr") X(unsigned_, "unsigned") X(signed_, "signed")  \
    X(struct_, "struct") X(union_, "union") X(enum_, "enum") X(class_, "class") X(typedef_, "typedef") \
    X(namespace_, "namespace") X(template_, "template") X(typename_, "typename") X(using_, "using")    \
    X(auto_, "auto") X(forceinline, "__forceinline__") X(noinline, "__noinline__")                     \
    X(always_inline, "FORCE_INLINE") X(tt_l1_ptr, "tt_l1_ptr")                                         \
    /* scalar types */                                                                                 \
    X(void_, "void") X(bool_, "bool") X(char_, "char") X(uchar, "uchar") X(short_, "short")            \
    X(ushort, "ushort") X(int_, "int") X(uint, "uint") X(long_, "long") X(ulong, "ulong")              \
    X(half, "half") X(float_, "float") X(double_, "double") X(size_t_, "size_t")                       \
    X(ptrdiff_t_, "ptrdiff_t") X(intptr_t_, "intptr_t") X(uintptr_t_, "uintptr_t")                    \
    X(int8_t_, "int8_t") X(int16_t_, "int16_t") X(int32_t_, "int32_t") X(int64_t_, "int64_t")         \
    X(uint8_t_, "uint8_t") X(uint16_t_, "uint16_t") X(uint32_t_, "uint32_t") X(uint64_t_, "uint64_t")  \
    X(half_cuda, "__half") X(bf16_cuda, "__nv_bfloat16") X(bfloat16, "bfloat16") X(half2_cuda, "__half2") \
    X(dim3, "dim3")                                                                                    \
    /* vector types (after the scalars; see vector_lanes) */                                           \
    X(char2, "char2") X(char3, "char3") X(char4, "char4") X(char8, "char8") X(char16, "char16")        \
    X(uchar2, "uchar2") X(uchar3, "uchar3") X(uchar4, "uchar4") X(uchar8, "uchar8") X(uchar16, "uchar16") \
    X(short2, "short2") X(short3, "short3") X(short4, "short4") X(short8, "short8") X(short16, "short16") \
    X(ushort2, "ushort2") X(ushort3, "ushort3") X(ushort4, "ushort4") X(ushort8, "ushort8")            \
    X(ushort16, "ushort16")                                                                            \
    X(int2, "int2") X(int3, "int3") X(int4, "int4") X(int8, "int8") X(int16, "int16")                  \
    X(uint2, "uint2") X(uint3, "uint3") X(uint4, "uint4") X(uint8, "uint8") X(uint16, "uint16")        \
    X(long2, "long2") X(long3, "long3") X(long4, "long4") X(long8, "long8") X(long16, "long16")        \
    X(ulong2, "ulong2") X(ulong3, "ulong3") X(ulong4, "ulong4") X(ulong8, "ulong8") X(ulong16, "ulong16") \
    X(half2, "half2") X(half3, "half3") X(half4, "half4") X(half8, "half8") X(half16, "half16")        \
    X(float2, "float2") X(float3, "float3") X(float4, "float4") X(float8, "float8") X(float16, "float16") \
    X(double2, "double2") X(double3, "double3") X(double4, "double4") X(double8, "double8")            \
    X(double16, "double16")                                                                            \
    /* OpenCL */                                                                                       \
    X(cl_kernel, "__kernel") X(cl_kernel2, "kernel") X(cl_global, "__global") X(cl_global2, "global")  \
    X(cl_local, "__local") X(cl_local2, "local") X(cl_constant, "__constant")                          \
    X(cl_constant2, "constant") X(cl_private, "__private") X(cl_private2, "private")                   \
    X(attribute, "__attribute__") X(attribute2, "__attribute") X(reqd_wgs, "reqd_work_group_size")     \
    X(get_global_id, "get_global_id") X(get_local_id, "get_local_id") X(get_group_id, "get_group_id")  \
    X(get_sub_group_local_id, "get_sub_group_local_id") X(get_local_linear_id, "get_local_linear_id")  \
    X(get_global_linear_id, "get_global_linear_id") X(get_sub_group_id, "get_sub_group_id")            \
    X(barrier, "barrier") X(work_group_barrier, "work_group_barrier")                                  \
    X(sub_group_barrier, "sub_group_barrier")                                                          \
    /* CUDA */                                                                                         \
    X(cu_global, "__global__") X(cu_device, "__device__") X(cu_host, "__host__")                       \
    X(cu_shared, "__shared__") X(cu_constant, "__constant__") X(launch_bounds, "__launch_bounds__")    \
    X(threadIdx, "threadIdx") X(blockIdx, "blockIdx") X(blockDim, "blockDim") X(gridDim, "gridDim")    \
    X(syncthreads, "__syncthreads") X(syncthreads_count, "__syncthreads_count")                        \
    X(syncthreads_and, "__syncthreads_and") X(syncthreads_or, "__syncthreads_or")                      \
    X(syncwarp, "__syncwarp") X(sync_method, "sync") X(thread_rank, "thread_rank")                     \
    /* safety */                                                                                       \
    X(printf_, "printf") X(asm_, "asm") X(asm2, "__asm") X(asm3, "__asm__")                            \
    X(has_include, "__has_include") X(has_include_next, "__has_include_next")                          \
    X(has_embed, "__has_embed") X(true_, "true") X(false_, "false")                                    \
    X(reinterpret_cast_, "reinterpret_cast") X(static_cast_, "static_cast")                            \
    X(const_cast_, "const_cast") X(dynamic_cast_, "dynamic_cast")                                      \
    /* TT-Metal */                                                                                     \
    X(cb_reserve_back, "cb_reserve_back") X(cb_push_back, "cb_push_back")                              \
    X(cb_wait_front, "cb_wait_front") X(cb_pop_front, "cb_pop_front")                                  \
    X(noc_async_read_barrier, "noc_async_read_barrier")                                                \
    X(noc_async_write_barrier, "noc_async_write_barrier")                                              \
    X(noc_async_writes_flushed, "noc_async_writes_flushed")                                            \
    X(noc_async_full_barrier, "noc_async_full_barrier")                                                \
    X(tile_regs_acquire, "tile_regs_acquire") X(tile_regs_commit, "tile_regs_commit")                  \
    X(tile_regs_wait, "tile_regs_wait") X(tile_regs_release, "tile_regs_release")                      \
    X(acquire_dst, "acquire_dst") X(release_dst, "release_dst") X(pack_tile, "pack_tile")              \
    X(get_arg_val, "get_arg_val") X(get_common_arg_val, "get_common_arg_val")                          \
    X(get_compile_time_arg_val, "get_compile_time_arg_val") X(kernel_main, "kernel_main")              \
    X(MAIN, "MAIN") X(NAMESPACE, "NAMESPACE") X(get_write_ptr, "get_write_ptr")                        \
    X(get_read_ptr, "get_read_ptr") X(get_tile_size, "get_tile_size")                                  \
    /* math helpers used by the index classifier */                                                    \
    X(mad, "mad") X(mad24, "mad24") X(mul24, "mul24") X(fma_, "fma") X(min_, "min") X(max_, "max")     \
    X(clamp, "clamp")

enum W : uint16_t {
    W_none = 0,
#define UHOP_W_ENUM(id, text) id,
    UHOP_WORDS(UHOP_W_ENUM)
#undef UHOP_W_ENUM
    W_count
};

// Keyword id of an identifier (W_none when it is not one we know).
uint16_t word_id(std::string_view s);
// Text of a word id.
std::string_view word_text(uint16_t w);

inline bool is_vector_type(uint16_t w) { return w >= W::char2 && w <= W::double16; }
inline bool is_scalar_type(uint16_t w) { return w >= W::void_ && w <= W::dim3; }
inline bool is_builtin_type(uint16_t w) { return is_scalar_type(w) || is_vector_type(w); }
// Lanes of a vector type (1 for scalars).
int vector_lanes(uint16_t w);
// The scalar element type of a vector type (the type itself for scalars).
uint16_t vector_elem(uint16_t w);
// Bytes of one element of a scalar type (0 when unknown, e.g. void).
int scalar_bytes(uint16_t w);
bool is_integer_type(uint16_t w);

}  // namespace uhop::an
