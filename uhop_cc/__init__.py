"""uhopc: write a kernel once in UIR; compile it for OpenCL, CUDA and TT-Metal."""
from .api import CompiledKernel, KernelError, compile
from .ir import UirError

__all__ = ["compile", "CompiledKernel", "KernelError", "UirError"]
__version__ = "0.1.0"
