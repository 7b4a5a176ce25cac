"""CUDA availability helpers for tests/targets/cuda (imported by its conftest and tests).

NVRTC tests skip where the NVRTC library (the nvidia-cuda-nvrtc wheel) cannot be loaded;
tests marked `pytest.mark.gpu` skip where the CUDA driver reports no device. `cuda_device`
is one shared device for the session.
"""
from __future__ import annotations

import functools
import shutil

import pytest


@functools.lru_cache(maxsize=None)
def nvrtc_unavailable_reason() -> str:
    try:
        from uhop_cc.targets.cuda.runtime import nvrtc_available
    except Exception as e:  # noqa: BLE001
        return f"uhop_cc.targets.cuda.runtime cannot be imported: {e}"
    return "" if nvrtc_available() else "NVRTC cannot be loaded (pip install cuda-bindings nvidia-cuda-nvrtc)"


@functools.lru_cache(maxsize=None)
def gpu_unavailable_reason() -> str:
    reason = nvrtc_unavailable_reason()
    if reason:
        return reason
    from uhop_cc.targets.cuda.runtime import cuda_available
    return "" if cuda_available() else "no CUDA driver or device"


def nvcc_unavailable_reason() -> str:
    missing = [t for t in ("nvcc", "cmake") if shutil.which(t) is None]
    return f"{' and '.join(missing)} not found" if missing else ""


requires_nvrtc = pytest.mark.skipif(bool(nvrtc_unavailable_reason()), reason="NVRTC unavailable")


def validate_on_device(device, source: str, bound, expect_ok: bool = True):
    """Build `source` on the device and validate it against the reference (asserting it passes unless
    `expect_ok` is False); returns the validation report."""
    from uhop_cc.codegen.launch import parse_launch
    from uhop_cc.verify.validate import validate
    built = device.build(source)
    assert built.ok, built.log + "\n" + source
    try:
        report = validate(device, built, parse_launch(source), bound)
    finally:
        built.release()
    if expect_ok:
        assert report.ok, f"{report.reason}\n{source}"
    return report
