"""Names that generated C (OpenCL C, CUDA C++, TT-Metal C++) cannot use as identifiers.

Kernel names become C function names in every target, so the checker refuses
these for kernels; tensor, scalar and index names are mangled by the code
generators instead (a trailing underscore).
"""
RESERVED = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
bool half size_t ptrdiff_t uint uchar ushort ulong kernel global local constant private read_only write_only
image2d_t sampler_t event_t exp exp2 exp10 expm1 log log2 log10 log1p sqrt rsqrt cbrt fabs abs sin cos tan
asin acos atan atan2 sinh cosh tanh floor ceil round rint trunc pow pown powr fmax fmin max min fmod remainder
select clamp mix step smoothstep sign dot cross length distance normalize fma mad hypot ldexp frexp modf
copysign nan isnan isinf isfinite signbit any all bitselect shuffle shuffle2 popcount clz rotate upsample
true false NULL INFINITY NAN MAXFLOAT barrier mem_fence get_global_id get_local_id get_group_id
get_global_size get_local_size get_num_groups get_work_dim printf main
threadIdx blockIdx blockDim gridDim warpSize dim3 new delete this class template typename namespace using
operator friend virtual public protected try catch throw static_cast dynamic_cast reinterpret_cast
const_cast explicit mutable nullptr constexpr decltype noexcept alignas alignof
vload_half vstore_half float2 float3 float4 float8 float16 int2 int4 double2 double4
""".split())
