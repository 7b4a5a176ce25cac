"""What several commands share: the kernel a FILE/--kernel/--shapes names, and the device a
--target/--device pair opens (one line and exit 2 when it cannot be opened)."""
from __future__ import annotations

import sys

from .. import ir, targets

__all__ = ["device_arg", "open_device", "bind_args"]


def device_arg(text):
    """--device TEXT: an index when it is a number, else a part of the device's name."""
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def open_device(text, target: str = targets.DEFAULT):
    """The device for --device TEXT on `target`: without TEXT the target's default, or its
    compile-only device where it cannot run kernels here (CUDA with NVRTC only). Exits 2 with one
    line when the target cannot build here or the device cannot be opened."""
    from ..pipeline import open_device as pipeline_device  # the pipeline loads the verify and ai stacks
    why = targets.get(target).setup_error()
    if why:
        print(f"error: {why}", file=sys.stderr)
        raise SystemExit(2)
    try:
        return pipeline_device(target, device_arg(text))
    except (RuntimeError, ValueError) as e:  # no driver, no such device, nothing that builds
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)


def bind_args(args, default_size: int = 256):
    """The kernel of args.file (args.kernel among several) bound to args.shapes (default: every size
    `default_size`)."""
    k = ir.select_kernel(ir.load_file(args.file), args.kernel)
    shapes = args.shapes if args.shapes else {s: default_size for s in k.sizes}
    return ir.bind_shapes(k, shapes)
