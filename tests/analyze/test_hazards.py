"""One kernel per hazard: the analyzer reports the right code on the right line, and nothing
else at warning or error level."""
import pytest

from cases import CASES
from uhop_cc.analyze import analyze


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hazard_is_flagged(case):
    report = analyze(case.source, case.target, case.expected)
    marks = set(case.marks())
    assert marks, "a case needs at least one //! marker"
    got = {(f.line, f.code) for f in report.findings}
    assert marks <= got, f"missing {sorted(marks - got)}\n{report.format()}"
    extra = [f for f in report.findings if f.severity != "info" and (f.line, f.code) not in marks]
    assert not extra, "unexpected:\n" + "\n".join(map(str, extra))


def test_errors_stop_candidates():
    bad = [c for c in CASES if any(code.startswith(("safety.", "tt.", "abi.")) for _, code in c.marks())]
    assert bad
    for case in bad:
        r = analyze(case.source, case.target)
        if any(code in ("safety.printf",) for _, code in case.marks()) and len(case.marks()) == 1:
            assert r.ok and r.warnings  # a single printf is only a warning
        else:
            assert not r.ok, case.name


def test_sync_summary_counts():
    from cases import BY_NAME
    r = analyze(BY_NAME["barrier-in-loop"].source)
    assert r.sync.barriers == 2 and r.sync.barriers_in_loops == 2 and r.sync.divergent_barriers == 0
    r = analyze(BY_NAME["barrier-in-branch"].source)
    assert r.sync.barriers == 1 and r.sync.divergent_barriers == 1


def test_memory_summary_counts():
    src = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global const float* A, __global float4* B, __global float* C, const int N)
{
    const int i = get_global_id(0);
    float4 v = vload4(i, A);
    B[i] = v;
    vstore4(v, 0, C + 4 * i);
    C[i * 3] = A[0];
}
"""
    m = analyze(src).memory
    assert (m.vector_loads, m.vector_stores) == (1, 2)
    assert m.unit_stride == 3 and m.strided == 1 and m.uniform == 1 and m.atomics == 0


def test_resources_reported():
    src = """
#define TILE 16
// @launch global=(roundup(N, 16), roundup(N, 16)) local=(16, 16)
__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void k(__global float* X, const int N)
{
    __local float a[TILE][TILE + 1];
    __local float4 b[TILE];
    float acc[8];
    const int x = get_local_id(0), y = get_local_id(1);
    a[y][x] = X[y * N + x];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = 0; i < 8; ++i) acc[i] = a[x][y];
    X[y * N + x] = acc[0] + b[0].x;
}
"""
    r = analyze(src).resources
    assert r.local_mem_bytes == 16 * 17 * 4 + 16 * 16
    assert r.reqd_work_group_size == (16, 16, 1)
    assert r.private_bytes == 32 and r.private_arrays[0].name == "acc"
    assert 8 < r.registers_estimate < 64


def test_cuda_resources_and_bounds():
    src = """
// @launch grid=(cdiv(N, 128)) block=(128) smem=1024
__global__ void __launch_bounds__(128, 4) k(float* X, const int N)
{
    __shared__ double s[64];
    extern __shared__ float dyn[];
    s[threadIdx.x % 64] = X[threadIdx.x];
    dyn[threadIdx.x] = 0.0f;
    __syncthreads();
    X[threadIdx.x] = s[0] + dyn[0];
}
"""
    r = analyze(src, "cuda")
    assert r.resources.local_mem_bytes == 512 and r.resources.dynamic_shared
    assert r.resources.launch_bounds == (128, 4)
    assert r.launch[0].grid_style and r.launch[0].smem == "1024"
    assert r.clean, r.format()


def test_ttmetal_circular_buffers_and_args(kernels_dir):
    r = analyze((kernels_dir / "tt_reader.cpp").read_text(), "ttmetal")
    assert r.clean, r.format()
    assert r.abi.entry == "kernel_main" and r.abi.runtime_args == 3 and r.abi.compile_time_args == 1
    assert {c.cb for c in r.resources.circular_buffers} == {"cb_id_in0", "cb_id_in1"}
    assert r.resources.cb_bytes == 2 * 2048
    r = analyze((kernels_dir / "tt_reader.cpp").read_text(), "ttmetal", {"tile_bytes": 4096})
    assert r.resources.cb_bytes == 2 * 4096
