// OpenCL row sums: one work-group of 64 per row, a local-memory tree reduction.
#define WG 64

/* every row is reduced by one work-group */
// @launch global=(R * 64) local=(64)
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void rowsum(__global const float* restrict X, __global float* restrict Y, const int R, const int C)
{
    __local float part[WG];
    const int lid = get_local_id(0);
    const int row = get_group_id(0);
    float acc = 0.0f;
    for (int c = lid; c < C; c += WG) {
        acc += X[row * C + c];
    }
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0 && row < R) {
        const char* msg = "done";  /* strings and // comment-like text: "// @launch" */
        (void)msg;
        Y[row] = part[0];
    }
}
