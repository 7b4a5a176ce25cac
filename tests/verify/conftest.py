"""The OpenCL skip helpers of tests/runtime (tests/ is on sys.path: see tests/conftest.py)."""
from runtime.conftest import _skip_without_opencl, opencl_device, opencl_unavailable_reason, requires_opencl  # noqa: F401
