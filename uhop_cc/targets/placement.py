"""Device buffers of a checking run: a tensor between canary zones, or between PROT_NONE pages.

On a CPU device (PoCL) a buffer made with USE_HOST_PTR is the host memory itself, so a tensor
placed at the end of read-write pages with PROT_NONE pages around it makes any stray read or write
of a kernel fault at once; the alignment slack around the tensor still holds a canary.
"""
from __future__ import annotations

import numpy as np

try:
    import pyopencl as cl
except ImportError:  # pragma: no cover - the OpenCL runtime reports it
    cl = None

__all__ = ["PlacedBuffer", "protect", "round_up"]


def round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


class PlacedBuffer:
    """One tensor of a checking run: the device buffer (`parent`), the tensor's own region of it
    (`view`), its bytes, and the host image (`blob`: canary, tensor, canary) it was made from."""

    def __init__(self, parent, view, nbytes: int, blob: np.ndarray, before: int, region=None):
        self.parent, self.view, self.nbytes, self.blob, self.before = parent, view, nbytes, blob, before
        self._region = region  # an mmap between PROT_NONE pages (guard_pages)

    @classmethod
    def between_pages(cls, device, body: np.ndarray, canary: bytes, page_guard: int) -> "PlacedBuffer":
        """The tensor at the end of read-write pages, PROT_NONE pages `page_guard` long on both sides;
        the alignment slack around it holds the canary. The device works on this memory in place."""
        import mmap
        page = mmap.PAGESIZE
        align = max(128, device.align_bytes)
        nbytes, vbytes = body.size, max(body.size, 1)
        span = round_up(vbytes + align, page)
        start = (span - round_up(vbytes, align)) // align * align
        g = round_up(max(page_guard, page), page)
        region = mmap.mmap(-1, g + span + g, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        mem = np.frombuffer(region, np.uint8)
        try:
            blob = np.frombuffer((canary * (span // len(canary) + 1))[:span], np.uint8).copy()
            blob[start:start + nbytes] = body
            mem[g:g + span] = blob
            protect(mem, 0, g)
            protect(mem, g + span, g)
            parent = cl.Buffer(device.context, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR,
                               hostbuf=mem[g:g + span])
            view = parent.get_sub_region(start, vbytes)
        except BaseException:
            mem = None
            try:
                region.close()
            except BufferError:  # a view still exported: the mapping goes with the last reference
                pass
            raise
        return cls(parent, view, nbytes, blob, start, region)

    def release(self) -> None:
        for b in {id(self.view): self.view, id(self.parent): self.parent}.values():
            try:
                b.release()
            except cl.Error:
                pass
        if self._region is not None:
            self.view = self.parent = None
            try:
                self._region.close()
            except BufferError:  # a view still exported: the mapping goes with the last reference
                pass
            self._region = None


def protect(mem: np.ndarray, offset: int, length: int) -> None:
    """PROT_NONE on `length` bytes of `mem` from `offset` (page-aligned)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(ctypes.c_void_p(mem.ctypes.data + offset), ctypes.c_size_t(length), 0) != 0:
        raise OSError(ctypes.get_errno(), "mprotect failed")
