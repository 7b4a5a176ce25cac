"""Runtimes that build and launch generated kernels. OpenCL is the first one."""
from __future__ import annotations

from .opencl import (AbiError, BuildResult, DeviceInfo, GuardReport, LaunchFailure, OpenCLDevice,
                     OpenCLUnavailable, Poison, PreparedLaunch, RunResult, list_devices)

__all__ = ["AbiError", "BuildResult", "DeviceInfo", "GuardReport", "LaunchFailure", "OpenCLDevice",
           "OpenCLUnavailable", "Poison", "PreparedLaunch", "RunResult", "list_devices"]
