"""The OpenCL skip helpers of tests/targets/opencl (tests/ is on sys.path: see tests/conftest.py)."""
from targets.opencl.conftest import _skip_without_opencl, opencl_device, opencl_unavailable_reason, requires_opencl  # noqa: F401
