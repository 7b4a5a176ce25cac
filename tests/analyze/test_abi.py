"""ABI checks against the KernelSpec: entry name, argument count, order, address spaces and
types; multi-stage sources with and without temporaries; the @launch annotation."""
import pytest

from uhop_cc import ir
from uhop_cc.analyze import analyze, expected_from_spec
from uhop_cc.targets import renderer
from uhop_cc.lower.spec import build_spec

MATMUL = "kernel matmul(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }"
SOFTMAX_FILE = "examples/softmax.uir"


@pytest.fixture(scope="module")
def matmul():
    k = ir.load(MATMUL, "mm.uir")[0]
    spec = build_spec(ir.bind_shapes(k, {"M": 64, "K": 32, "N": 16}))
    return renderer("opencl").generic(k).source, spec


def codes(report):
    return [f.code for f in report.findings if f.severity != "info"]


def test_generated_matches_spec(matmul):
    src, spec = matmul
    r = analyze(src, "opencl", spec)
    assert r.clean, r.format()
    entry = next(k for k in r.abi.kernels if k.entry)
    assert [a.name for a in entry.args] == ["A", "B", "C", "M", "K", "N"]
    assert entry.args[0].type == "__global const float*" and entry.args[0].space == "global"
    assert entry.args[3].type == "const int" and entry.args[3].pointer == 0


def test_expected_from_spec_inserts_temporaries():
    k = ir.load_file(SOFTMAX_FILE)[0]
    spec = build_spec(ir.bind_shapes(k, {s: 8 for s in k.sizes}))
    exp = expected_from_spec(spec)
    assert exp["name"] == "softmax"
    assert [(a["name"], a["kind"]) for a in exp["args"]] == [
        ("X", "input"), ("Y", "output"), ("m", "temp"), ("e", "temp"), ("s", "temp"), ("R", "size"), ("C", "size")]
    # the JSON form of the spec gives the same expectations
    assert expected_from_spec(spec.to_json()) == exp
    cu = expected_from_spec(spec, "cuda")
    assert cu["args"][0]["c_type"] == "const float*"


def test_temporaries_are_optional(matmul):
    k = ir.load_file(SOFTMAX_FILE)[0]
    spec = build_spec(ir.bind_shapes(k, {s: 8 for s in k.sizes}))
    src = renderer("opencl").generic(k).source  # passes the temporaries to every stage
    assert analyze(src, "opencl", spec).clean
    single = """
// @launch global=(roundup(R * C, 64)) local=(64)
__kernel void softmax(__global const float* restrict X, __global float* restrict Y, const int R, const int C)
{
    const int i = get_global_id(0);
    if (i >= R * C) return;
    Y[i] = X[i];
}
"""
    assert analyze(single, "opencl", spec).clean


def test_wrong_kernel_name(matmul):
    src, spec = matmul
    r = analyze(src.replace("void matmul(", "void gemm("), "opencl", spec)
    assert codes(r) == ["abi.kernel-name"]
    assert "no kernel named `matmul` (found: gemm)" in r.errors[0].message
    assert r.errors[0].line == src.splitlines().index(next(l for l in src.splitlines() if "void matmul(" in l)) + 1


def test_wrong_argument_count(matmul):
    src, spec = matmul
    r = analyze(src.replace("    const int N)", "    const int N,\n    const int extra)"), "opencl", spec)
    assert codes(r) == ["abi.arg-count"]
    assert "takes 7 argument(s); the ABI expects 6" in r.errors[0].message


def test_wrong_argument_order(matmul):
    src, spec = matmul
    swapped = src.replace("__global const float* restrict A,\n    __global const float* restrict B,",
                          "__global const float* restrict B,\n    __global const float* restrict A,")
    assert swapped != src
    r = analyze(swapped, "opencl", spec)
    assert codes(r) == ["abi.arg-order"]
    assert "`B` as argument 0 but the ABI passes it as argument 1" in r.errors[0].message


def test_wrong_address_space(matmul):
    src, spec = matmul
    r = analyze(src.replace("__global float* restrict C", "__local float* restrict C"), "opencl", spec)
    assert codes(r) == ["abi.address-space"]
    line = next(i for i, l in enumerate(src.splitlines(), 1) if "restrict C" in l)
    assert r.errors[0].line == line


def test_wrong_types(matmul):
    src, spec = matmul
    r = analyze(src.replace("__global const float* restrict B", "__global const double* restrict B"), "opencl", spec)
    assert codes(r) == ["abi.arg-type"]
    assert "`__global const double*`; the ABI expects `__global const float*`" in r.errors[0].message
    r = analyze(src.replace("const int K,", "const float K,"), "opencl", spec)
    assert codes(r) == ["abi.arg-type"]
    r = analyze(src.replace("const int K,", "__global int* K,"), "opencl", spec)
    assert codes(r) == ["abi.arg-type"] and "a value" in r.errors[0].message
    r = analyze(src.replace("__global float* restrict C", "__global const float* restrict C"), "opencl", spec)
    assert codes(r) == ["abi.arg-type"] and "cannot be const" in r.errors[0].message
    r = analyze(src.replace("__global float* restrict C", "__global float4* restrict C"), "opencl", spec)
    assert codes(r) == ["abi.arg-type"]


def test_renamed_argument_is_a_warning(matmul):
    src, spec = matmul
    r = analyze(src.replace("restrict C", "restrict Out").replace("C[_ugid]", "Out[_ugid]"), "opencl", spec)
    assert r.ok and codes(r) == ["abi.arg-name"]


def test_entry_must_be_last_stage():
    k = ir.load_file(SOFTMAX_FILE)[0]
    spec = build_spec(ir.bind_shapes(k, {s: 8 for s in k.sizes}))
    src = renderer("opencl").generic(k).source
    parts = src.split("// @launch")
    moved = "// @launch".join([parts[0], parts[-1], *parts[1:-1]])
    r = analyze(moved, "opencl", spec)
    assert "abi.entry-not-last" in codes(r)


def test_half_tensors_accept_half_or_ushort():
    exp = {"name": "k", "args": [{"name": "X", "kind": "input", "dtype": "f16"},
                                 {"name": "Y", "kind": "output", "dtype": "f16"},
                                 {"name": "N", "kind": "size", "dtype": "i32"}]}
    src = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global const half* X, __global ushort* Y, const int N)
{
    const int i = get_global_id(0);
    if (i < N) vstore_half(vload_half(i, X), i, (__global half*)Y);
}
"""
    assert analyze(src, "opencl", exp).clean
    assert codes(analyze(src.replace("ushort", "float"), "opencl", exp)) == ["abi.arg-type"]


def test_no_kernel_and_wrong_target():
    r = analyze("float helper(float x) { return x; }", "opencl")
    assert codes(r) == ["abi.no-kernel"]
    r = analyze("// @launch grid=(1) block=(1)\n__global__ void k(float* x) { x[0] = 1.0f; }", "opencl")
    assert codes(r) == ["abi.no-kernel"] and "check --target" in r.errors[0].message


def test_expected_arg_count_only():
    src = "// @launch global=(N) local=(1)\n__kernel void k(__global float* X, const int N) { X[0] = N; }"
    assert analyze(src, "opencl", {"arg_count": 2}).ok
    r = analyze(src, "opencl", {"arg_count": 3, "name": "k"})
    assert codes(r) == ["abi.arg-count"]


def test_ttmetal_runtime_args(kernels_dir):
    src = (kernels_dir / "tt_writer.cpp").read_text()
    assert analyze(src, "ttmetal", {"arg_count": 2}).clean
    r = analyze(src, "ttmetal", {"arg_count": 3})
    assert codes(r) == ["abi.arg-count"] and "reads 2 runtime argument(s)" in r.errors[0].message


def test_bad_expected_is_rejected():
    with pytest.raises(ValueError):
        analyze("", "opencl", {"nme": "x"})
    with pytest.raises(ValueError):
        analyze("", "vulkan")
    from uhop_cc import _native
    with pytest.raises(TypeError):
        _native.analyze("", "opencl", {"args": 3})
    with pytest.raises(TypeError):
        _native.analyze(3, "opencl", None)


def test_ttmetal_ignores_the_spec_abi(kernels_dir):
    k = ir.load_file("examples/relu.uir")[0]
    spec = build_spec(ir.bind_shapes(k, {s: 1024 for s in k.sizes}))
    assert analyze((kernels_dir / "tt_writer.cpp").read_text(), "ttmetal", spec).clean
