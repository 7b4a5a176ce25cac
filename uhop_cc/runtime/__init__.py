"""Runtimes that build and launch generated kernels. OpenCL is the first one."""
from __future__ import annotations

from .opencl import (AbiError, BuildResult, DeviceInfo, GuardReport, LaunchFailure, OpenCLDevice,
                     OpenCLUnavailable, Poison, PreparedLaunch, RunResult, list_devices)

__all__ = ["AbiError", "BuildResult", "DeviceInfo", "GuardReport", "LaunchFailure", "OpenCLDevice",
           "OpenCLUnavailable", "Poison", "PreparedLaunch", "RunResult", "list_devices", "open_device"]


def open_device(target: str, index=None):
    """The device that runs `target`'s kernels: an OpenCLDevice, or a CUDADevice for 'cuda'."""
    if target == "cuda":
        from .cuda import CUDADevice
        return CUDADevice.open(index)
    return OpenCLDevice.open(index)
