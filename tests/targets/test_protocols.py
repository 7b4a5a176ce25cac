"""Every registered target and every device class keeps the contracts of targets/common.py: the
members are there (isinstance with the runtime-checkable Protocols, or on the class where no
device can be opened here) and the callables accept the arguments the contracts document."""
from __future__ import annotations

import inspect

import pytest

from uhop_cc import ir, targets
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.targets.common import Build, Device, Prepared, Target
from uhop_cc.targets.cuda.nvrtc_device import NVRTCDevice
from uhop_cc.targets.cuda.runtime import CudaPrepared, CUDADevice, nvrtc_available
from uhop_cc.targets.opencl.runtime import OpenCLDevice, PreparedLaunch

from targets.opencl.conftest import opencl_unavailable_reason

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) {\n    Z[i] = a * X[i] + Y[i]\n}"
AXPY_CL = """
// @launch global=(N)
__kernel void axpy(const float a, __global const float* X, __global const float* Y, __global float* Z, const int N) {
    int i = get_global_id(0);
    if (i < N) Z[i] = a * X[i] + Y[i];
}
"""

# how code outside targets/ calls each callable member: (args, kwargs)
TARGET_CALLS = {
    "mode": ((), {}), "renderer": ((32,), {}), "templates": ((), {}), "open_device": ((None,), {}),
    "compile_only_device": ((), {}), "available": ((), {}), "setup_error": ((), {}), "devices": ((), {}),
    "device_line": (({},), {}), "abi_decl": (("arg",), {}), "include_allowed": (("<math.h>",), {}),
    "prompt_baseline": (("bound",), {}), "unsupported": (("bound",), {}), "output_names": (("bound",), {}),
    "time": (("prepared", 1.0), {"warmup": 1, "min_runs": 1, "max_runs": 3, "target_rel_ci": 0.1,
                                   "repoison": True, "flush": True, "flush_buffer": None}),
    "peaks": (("device",), {}), "flush_bytes": (("device",), {}),
}
DEVICE_CALLS = {
    "fingerprint": ((), {}), "build_message": (("generic",), {}), "build": (("source", ""), {}),
    "run": (("program", [], "bound", {}), {"guard_bytes": 4096, "poison": None}),
    "prepare": (("program", [], "bound", {}), {}),
}
BUILD_CALLS = {"to_json": ((), {})}
PREPARED_CALLS = {"launch": ((), {}), "finish": ((), {}), "repoison": ((3,), {}), "read_outputs": ((), {}),
                  "release": ((), {})}


def _members(proto) -> set:
    """The members a Protocol declares: its annotated attributes and its methods."""
    names = set(getattr(proto, "__annotations__", {}))
    names |= {k for k, v in vars(proto).items() if callable(v) and not k.startswith("_")}
    return names


def _accepts(obj, calls) -> list:
    """The callables of `obj` whose signature refuses the documented call."""
    bad = []
    for name, (args, kwargs) in calls.items():
        try:
            inspect.signature(getattr(obj, name)).bind(*args, **kwargs)
        except TypeError as e:
            bad.append(f"{name}: {e}")
    return bad


def _declared_on(cls, proto) -> list:
    """Members of `proto` that class `cls` neither defines nor annotates (what __init__ sets)."""
    annotated = set()
    for base in cls.__mro__:
        annotated |= set(getattr(base, "__annotations__", {}))
    return sorted(m for m in _members(proto) if not hasattr(cls, m) and m not in annotated)


def _device_classes():
    classes = [OpenCLDevice, CUDADevice, NVRTCDevice]
    for name in targets.names():
        dev = targets.get(name).compile_only_device()
        if dev is not None and type(dev) not in classes:
            classes.append(type(dev))
    return classes


def test_the_protocols_declare_what_the_calls_use():
    assert set(TARGET_CALLS) <= _members(Target)
    assert set(DEVICE_CALLS) <= _members(Device)
    assert set(BUILD_CALLS) <= _members(Build) and set(PREPARED_CALLS) <= _members(Prepared)


@pytest.mark.parametrize("name", targets.names())
def test_every_target_satisfies_the_target_protocol(name):
    t = targets.get(name)
    assert isinstance(t, Target), sorted(m for m in _members(Target) if not hasattr(t, m))
    assert not _accepts(t, TARGET_CALLS)
    assert t.name == name and t.offline_check in ("nvrtc", "syntax", None)
    if t.runs_kernels:  # --emit-host writes the host project of every target that runs kernels
        assert not _accepts(t, {"emit_host": (("bound", "generated", "outdir"), {})})
    if not t.c_style:  # its own candidate instead of the C-style renderer's
        assert not _accepts(t, {"generic": (("bound",), {"params": None})})


@pytest.mark.parametrize("cls", _device_classes(), ids=lambda c: c.__name__)
def test_every_device_class_declares_the_device_protocol(cls):
    assert not _declared_on(cls, Device)
    assert not _accepts(cls.__new__(cls), DEVICE_CALLS)
    assert isinstance(cls.runs_kernels, bool) and isinstance(cls.not_run_reason, str)
    assert bool(cls.not_run_reason) != cls.runs_kernels  # a reason exactly where nothing runs


def test_arena_targets_prepare_an_arena():
    """`arena_launches` promises prepare(..., arena=True, scratch_bytes=) and Prepared.arena."""
    arena_targets = [n for n in targets.names() if targets.get(n).arena_launches]
    assert "opencl" in arena_targets
    assert not _accepts(OpenCLDevice.__new__(OpenCLDevice),
                        {"prepare": (("program", [], "bound", {}), {"arena": True, "scratch_bytes": 0})})
    assert hasattr(PreparedLaunch, "arena")


@pytest.mark.parametrize("cls", [PreparedLaunch, CudaPrepared], ids=lambda c: c.__name__)
def test_prepared_classes_offer_what_timing_uses(cls):
    assert not [m for m in PREPARED_CALLS if not callable(getattr(cls, m, None))]
    assert not _accepts(cls.__new__(cls), PREPARED_CALLS)


def test_compile_only_devices_are_devices():
    for name in targets.names():
        dev = targets.get(name).compile_only_device()
        if dev is not None:
            assert isinstance(dev, Device) and not dev.runs_kernels
    nvrtc = NVRTCDevice()
    assert isinstance(nvrtc, Device)
    if nvrtc_available():
        assert isinstance(nvrtc.build('extern "C" __global__ void k(float* x) { x[0] = 1.0f; }'), Build)


@pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")
def test_an_opencl_device_its_build_and_its_prepared_launch():
    device = targets.get("opencl").open_device()
    assert isinstance(device, Device) and device.runs_kernels and device.not_run_reason == ""
    build = device.build(AXPY_CL)
    assert isinstance(build, Build) and build.ok, build.log
    bound = ir.bind_shapes(ir.load(AXPY_UIR)[0], {"N": 64})
    prepared = device.prepare(build, parse_launch(AXPY_CL), bound, interpreter.random_inputs(bound, 1))
    try:
        assert isinstance(prepared, Prepared) and list(prepared.stage_names) == ["axpy"]
    finally:
        prepared.release()
