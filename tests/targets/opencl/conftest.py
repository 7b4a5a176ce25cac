"""OpenCL availability for the OpenCL target's tests, and for the tests elsewhere that import this
file as `targets.opencl.conftest` (tests/ is on sys.path: see tests/conftest.py).

Tests marked `pytest.mark.opencl` in this directory (and in tests/verify and tests/harness, whose
conftests import this file) are skipped, not failed, where pyopencl has no usable platform;
`requires_opencl` is the same skip as a decorator and `opencl_device` a shared device.
"""
from __future__ import annotations

import functools

import pytest


@functools.lru_cache(maxsize=None)
def opencl_unavailable_reason() -> str:
    """Empty when an OpenCL device can be used, else why not."""
    try:
        import pyopencl as cl
    except Exception as e:  # noqa: BLE001
        return f"pyopencl cannot be imported: {e}"
    try:
        platforms = cl.get_platforms()
    except Exception as e:  # noqa: BLE001
        return f"no OpenCL platform: {e}"
    for p in platforms:
        try:
            if p.get_devices():
                return ""
        except Exception:  # noqa: BLE001
            continue
    return "no OpenCL device"


requires_opencl = pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")


@pytest.fixture(autouse=True)
def _skip_without_opencl(request):
    if request.node.get_closest_marker("opencl") is not None:
        reason = opencl_unavailable_reason()
        if reason:
            pytest.skip(f"OpenCL unavailable: {reason}")


@pytest.fixture(scope="session")
def opencl_device():
    reason = opencl_unavailable_reason()
    if reason:
        pytest.skip(f"OpenCL unavailable: {reason}")
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    return OpenCLDevice.open()
