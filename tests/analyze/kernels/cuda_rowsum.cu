// A CUDA block reduction: every block sums 256 elements through shared memory.
#define BLOCK 256

// @launch grid=(cdiv(N, 256)) block=(256)
extern "C" __global__ void __launch_bounds__(BLOCK) rowsum(const float* __restrict__ X, float* __restrict__ Y,
                                                          const int N)
{
    __shared__ float buf[BLOCK];
    const int tid = threadIdx.x;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    buf[tid] = i < N ? X[i] : 0.0f;
    __syncthreads();
    #pragma unroll
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (tid < s) buf[tid] += buf[tid + s];
        __syncthreads();
    }
    if (tid == 0) Y[blockIdx.x] = buf[0];
}
