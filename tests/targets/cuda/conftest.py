"""Fixtures for tests/targets/cuda: GPU tests skip without a device; one shared device per session."""
from __future__ import annotations

import pytest

from cuda_support import gpu_unavailable_reason, nvcc_unavailable_reason, nvrtc_unavailable_reason, requires_nvrtc  # noqa: F401


@pytest.fixture(autouse=True)
def _skip_without_gpu(request):
    if request.node.get_closest_marker("gpu") is not None:
        reason = gpu_unavailable_reason()
        if reason:
            pytest.skip(f"no GPU: {reason}")


@pytest.fixture(scope="session")
def cuda_device():
    reason = gpu_unavailable_reason()
    if reason:
        pytest.skip(f"no GPU: {reason}")
    from uhop_cc.targets.cuda.runtime import CUDADevice
    return CUDADevice.open()
