"""Shared fixtures of the native timing harness tests.

OpenCL tests skip (not fail) without a usable platform, through the helpers of
tests/targets/opencl; CUDA tests are marked `gpu` and skip when `cuda_available()` is False.
"""
from __future__ import annotations

import pytest

from targets.opencl.conftest import _skip_without_opencl, opencl_device, opencl_unavailable_reason  # noqa: F401

native_timing = pytest.importorskip("uhop_cc.verify.native_timing")

from harness_kernels import Kernels  # noqa: E402


@pytest.fixture(scope="session")
def kernels(opencl_device):
    return Kernels(opencl_device)
