"""Kernels shared by the harness tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

TINY_SRC = """
__kernel void tiny(__global float* x) { x[get_global_id(0)] += 1.0f; }
__kernel void relu(__global const float* x, __global float* y) {
    size_t i = get_global_id(0);
    y[i] = fmax(x[i], 0.0f);
}
__kernel void scale(__global float* y, const float s) {
    size_t i = get_global_id(0);
    y[i] = y[i] * s;
}
"""
RELU_N = 1 << 18


class Kernels:
    """A built program with `tiny`, `relu` (N floats) and `scale` kernels, arguments set."""

    def __init__(self, device):
        import numpy as np
        import pyopencl as cl

        self.device = device
        ctx = device.context
        self.program = cl.Program(ctx, TINY_SRC).build()
        self.small = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, 4 * 64)
        self.x = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, 4 * RELU_N)
        self.y = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, 4 * RELU_N)
        cl.enqueue_fill_buffer(device.queue, self.small, np.float32(0), 0, 4 * 64)
        cl.enqueue_fill_buffer(device.queue, self.x, np.float32(-1.5), 0, 4 * RELU_N)
        device.queue.finish()
        self.tiny = cl.Kernel(self.program, "tiny")
        self.tiny.set_args(self.small)
        self.relu = cl.Kernel(self.program, "relu")
        self.relu.set_args(self.x, self.y)
        self.scale = cl.Kernel(self.program, "scale")
        self.scale.set_args(self.y, np.float32(1.0))
