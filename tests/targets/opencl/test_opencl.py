"""The OpenCL runtime on a real device (PoCL here): devices, build, the checking run, prepare."""
from __future__ import annotations

import json

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.targets.opencl.runtime import AbiError, OpenCLDevice, Poison, list_devices

pytestmark = pytest.mark.opencl

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
AXPY = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void axpy(const float a, __global const float* X, __global const float* Y,
                   __global float* Z, const int N) {
    int i = get_global_id(0);
    if (i < N) Z[i] = a * X[i] + Y[i];
}
"""
SOFTMAX_UIR = """kernel softmax(X: f32[R, C]) -> (Y: f32[R, C]) {
    m[r] = max(c) X[r, c]
    e[r, c] = exp(X[r, c] - m[r])
    s[r] = sum(c) e[r, c]
    Y[r, c] = e[r, c] / s[r]
}"""
# Two stages sharing the temporaries m and s (e is passed but unused).
SOFTMAX_2STAGE = """
// @launch global=(R) local=auto
__kernel void softmax_stats(__global const float* X, __global float* Y, __global float* m,
                            __global float* e, __global float* s, const int R, const int C) {
    int r = get_global_id(0);
    float mx = -INFINITY;
    for (int c = 0; c < C; ++c) mx = fmax(mx, X[r * C + c]);
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) acc += exp(X[r * C + c] - mx);
    m[r] = mx;
    s[r] = acc;
}

// @launch global=(C, R)
__kernel void softmax(__global const float* X, __global float* Y, __global float* m,
                      __global float* e, __global float* s, const int R, const int C) {
    int c = get_global_id(0), r = get_global_id(1);
    Y[r * C + c] = exp(X[r * C + c] - m[r]) / s[r];
}
"""


def bound_of(uir: str, sizes):
    return ir.bind_shapes(ir.load(uir)[0], sizes)


def built(dev, src):
    res = dev.build(src)
    assert res.ok, res.log
    return res.program, parse_launch(src)


def test_list_devices_and_open(monkeypatch):
    devs = list_devices()
    assert devs and [d.index for d in devs] == list(range(len(devs)))
    assert all(d.name and d.platform for d in devs)
    json.dumps([d.to_json() for d in devs])
    monkeypatch.delenv("UHOP_OPENCL_DEVICE", raising=False)
    dev = OpenCLDevice.open()
    assert dev.index in range(len(devs))
    monkeypatch.setenv("UHOP_OPENCL_DEVICE", "0")
    assert OpenCLDevice.open().name == devs[0].name
    monkeypatch.setenv("UHOP_OPENCL_DEVICE", devs[0].name[:6].upper())
    assert OpenCLDevice.open().index == 0
    with pytest.raises(ValueError, match="no OpenCL device 99"):
        OpenCLDevice.open(99)


def test_fingerprint_is_json(opencl_device):
    fp = opencl_device.fingerprint()
    text = json.dumps(fp, allow_nan=False)
    for key in ("name", "vendor", "platform", "driver_version", "opencl_version", "device_type", "compute_units",
                "max_clock_mhz", "max_work_group_size", "max_work_item_sizes", "local_mem_bytes", "global_mem_bytes",
                "max_alloc_bytes", "global_mem_cache_bytes", "preferred_vector_width", "native_vector_width",
                "fp64", "fp16", "extensions"):
        assert key in fp, key
    assert fp["compute_units"] >= 1 and fp["max_work_group_size"] >= 1
    assert set(fp["preferred_vector_width"]) == {"float", "double", "half", "int"}
    assert len(text) < 4000


def test_build_error_gives_log_not_exception(opencl_device):
    res = opencl_device.build("__kernel void k(__global float* x) { x[0] = undeclared_thing; }")
    assert not res.ok and res.program is None
    assert "undeclared_thing" in res.log
    assert res.seconds > 0
    json.dumps(res.to_json())


def test_run_axpy(opencl_device):
    bound = bound_of(AXPY_UIR, {"N": 1000})
    program, stages = built(opencl_device, AXPY)
    inputs = interpreter.random_inputs(bound, 3)
    res = opencl_device.run(program, stages, bound, inputs)
    want = interpreter.run(bound, inputs)["Z"]
    np.testing.assert_allclose(res.outputs["Z"], want, rtol=1e-6, atol=1e-6)
    assert res.outputs["Z"].dtype == np.float32 and res.outputs["Z"].shape == (1000,)
    assert set(res.guards) == {"X", "Y", "Z"} and not res.oob_writes
    assert not res.temps_passed and res.inputs_modified == []
    assert not res.poisoned("Z").any()


def test_run_two_stages_with_temporaries(opencl_device):
    bound = bound_of(SOFTMAX_UIR, {"R": 7, "C": 33})
    program, stages = built(opencl_device, SOFTMAX_2STAGE)
    assert [s.kernel_name for s in stages] == ["softmax_stats", "softmax"]
    inputs = interpreter.random_inputs(bound, 1)
    res = opencl_device.run(program, stages, bound, inputs)
    assert res.temps_passed and set(res.temps) == {"m", "e", "s"}
    np.testing.assert_allclose(res.outputs["Y"], interpreter.run(bound, inputs)["Y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.temps["m"], inputs["X"].max(axis=1))
    assert res.poisoned("e").all()  # never touched: still the poison
    assert not res.poisoned("m").any()


def test_poison_values_are_what_the_caller_chose(opencl_device):
    uir = "kernel inc(A: i32[N]) -> (B: i32[N]) { B[i] = A[i] + 1 }"
    src = """
// @launch global=(N)
__kernel void inc(__global const int* A, __global int* B, const int N) {
    int i = get_global_id(0);
    if (i % 2 == 0) B[i] = A[i] + 1;
}"""
    bound = bound_of(uir, {"N": 10})
    program, stages = built(opencl_device, src)
    res = opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0),
                            poison=Poison(int_value=-777))
    assert (res.outputs["B"][1::2] == -777).all()
    assert res.poisoned("B").tolist() == [False, True] * 5
    # float poison is a NaN with our payload, distinct from a NaN the kernel computes
    p = Poison.numbered(1)
    nan = np.array([p.element("f32"), np.float32(np.nan), np.float32(1.0)], np.float32)
    assert p.mask(nan, "f32").tolist() == [True, False, False]
    assert Poison.numbered(2).element("f64").view(np.uint64) != p.element("f64").view(np.uint64)
    for dt, u in (("f16", np.uint16), ("f32", np.uint32), ("f64", np.uint64)):
        x = np.repeat(p.element(dt).reshape(1), 3)
        assert np.isnan(x).all()
        exp_bits, quiet = {"f16": (0x7C00, 0x200), "f32": (0x7F800000, 0x400000),
                           "f64": (0x7FF0000000000000, 0x8000000000000)}[dt]
        x.view(u)[1] |= u(quiet)  # what arithmetic on the signalling NaN gives
        x.view(u)[2] = u(exp_bits | quiet)  # a NaN the kernel computed itself
        assert p.mask(x, dt).tolist() == [True, False, False]
        assert p.tainted(x, dt).tolist() == [False, True, False]


def test_canary_catches_writes_past_either_end(opencl_device):
    bound = bound_of(AXPY_UIR, {"N": 100})
    src = AXPY.replace("if (i < N) Z[i] = a * X[i] + Y[i];",
                       "if (i < N) Z[i] = a * X[i] + Y[i];\n    if (i == 0) { Z[N] = 1.5f; Z[-2] = 2.5f; }")
    program, stages = built(opencl_device, src)
    res = opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0), guard_bytes=256)
    g = res.guards["Z"]
    assert g.after == 4 and g.first_after_offset == 0
    assert g.before == 4
    assert [r.tensor for r in res.oob_writes] == ["Z"]
    assert "after the buffer (4 bytes changed)" in g.describe()


def test_inputs_written_through_a_cast_are_reported(opencl_device):
    bound = bound_of(AXPY_UIR, {"N": 64})
    src = AXPY.replace("if (i < N) Z[i] = a * X[i] + Y[i];",
                       "if (i < N) { Z[i] = a * X[i] + Y[i]; ((__global float*)X)[i] = 0.0f; }")
    program, stages = built(opencl_device, src)
    res = opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0))
    assert res.inputs_modified == ["X"]


def test_abi_errors_are_clear(opencl_device):
    bound = bound_of(AXPY_UIR, {"N": 64})
    # missing the size argument
    src = AXPY.replace(", const int N)", ")").replace("if (i < N)", "if (i < 64)")
    program, stages = built(opencl_device, src)
    with pytest.raises(AbiError, match=r"takes 4 argument\(s\); the ABI expects 5"):
        opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0))
    # wrong element type of an output
    src = AXPY.replace("__global float* Z", "__global int* Z")
    program, stages = built(opencl_device, src)
    with pytest.raises(AbiError, match=r"argument 3 .*`Z`.*__global float\*"):
        opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0))
    # the last stage must be the entry kernel
    src = AXPY.replace("void axpy(", "void not_axpy(")
    program, stages = built(opencl_device, src)
    with pytest.raises(AbiError, match="entry kernel"):
        opencl_device.run(program, stages, bound, interpreter.random_inputs(bound, 0))
    # temporaries: neither with nor without them
    sbound = bound_of(SOFTMAX_UIR, {"R": 2, "C": 4})
    src = SOFTMAX_2STAGE.replace("__global float* e, ", "")
    program, stages = built(opencl_device, src)
    with pytest.raises(AbiError, match=r"takes 6 argument\(s\); the ABI expects 4 \(or 7 with the temporaries m, e, s\)"):
        opencl_device.run(program, stages, sbound, interpreter.random_inputs(sbound, 0))


def test_prepare_and_launch(opencl_device):
    bound = bound_of(AXPY_UIR, {"N": 4096})
    program, stages = built(opencl_device, AXPY)
    inputs = interpreter.random_inputs(bound, 5)
    prep = opencl_device.prepare(program, stages, bound, inputs)
    events = prep.launch()
    assert len(events) == 1
    prep.finish()
    assert events[0].profile.end >= events[0].profile.start
    np.testing.assert_allclose(prep.read_outputs()["Z"], interpreter.run(bound, inputs)["Z"], rtol=1e-6, atol=1e-6)
    prep.release()
