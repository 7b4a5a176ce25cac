"""The generic OpenCL lowering on random valid programs and random shapes, against the reference."""
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from strategies import programs
from uhop_cc import ir
from uhop_cc.codegen import parse_launch
from uhop_cc.targets import renderer

cl = pytest.importorskip("pyopencl")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice, OpenCLUnavailable
    try:
        return OpenCLDevice.open()
    except OpenCLUnavailable:
        pytest.skip("no OpenCL device")


def _compile_and_validate(device, text, sizes):
    from uhop_cc.verify.validate import validate
    k = ir.load(text, "rand.uir")[0]
    b = ir.bind_shapes(k, sizes)
    g = renderer("opencl").generic(k)
    built = device.build(g.source)
    assert built.ok, built.log + "\n" + g.source
    report = validate(device, built, parse_launch(g.source), b)
    assert report.ok, f"{report.reason}\n{text}\n{sizes}\n{g.source}"


@pytest.mark.opencl
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(programs())
def test_random_programs_match_reference(device, prog):
    text, sizes = prog
    _compile_and_validate(device, text, sizes)


@pytest.mark.opencl
@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.uir")), ids=lambda p: p.stem)
def test_examples_generic(device, path):
    for k in ir.load_file(path):
        sizes = {s: 5 for s in k.sizes}
        if "R" in sizes and "S" in sizes and "H" in sizes:
            sizes.update(R=3, S=3, H=7, W=8)
        _compile_and_validate(device, path.read_text(), sizes) if len(ir.load_file(path)) == 1 else None
        text = path.read_text()
        b = ir.bind_shapes(k, sizes)
        g = renderer("opencl").generic(k)
        built = device.build(g.source)
        assert built.ok, built.log
        from uhop_cc.verify.validate import validate
        assert validate(device, built, parse_launch(g.source), b).ok


@pytest.mark.opencl
def test_dtypes_f64_f16_i32(device):
    text = """
kernel mixed(A: f64[N], H: f16[N], I: i32[N]) -> (X: f64[N], Y: f16[N], Z: i32[N], W: f32[N]) {
    X[i] = A[i] * 2.5 + f64(I[i])
    Y[i] = H[i] * 0.5 + 1
    Z[i] = I[i] / 3 + I[i] % 3 + i
    W[i] = f32(H[i]) + f32(select(I[i] > 0, 1, 0))
}
"""
    _compile_and_validate(device, text, {"N": 37})


@pytest.mark.opencl
def test_reserved_names_are_mangled(device):
    text = """
kernel halves(int: f32[N], float: f32[N]) -> (double: f32[N]) {
    exp[i] = int[i] + float[i]
    double[i] = exp[i] * 2.0
}
"""
    _compile_and_validate(device, text, {"N": 9})


@pytest.mark.opencl
def test_integer_abs_inside_max_builds(device):
    # OpenCL's abs(int) returns uint; max(int, uint) would be ambiguous
    _compile_and_validate(device, "kernel f(Q: i32[N, M]) -> (Z: i32[M]) {\n Z[u] = max(z) abs(Q[z, u])\n}", {"N": 5, "M": 7})
