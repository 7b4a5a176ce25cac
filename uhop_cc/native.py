"""Typed wrapper around the ``uhop_cc._native`` C++ extension."""

from __future__ import annotations

try:
    from . import _native
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(
        "uhop_cc._native is not built: run pip install -e ."
    ) from exc

__all__ = ["abi_version", "fnv1a64", "source_hash", "build_info"]


def abi_version() -> int:
    """ABI version of the native module."""
    return int(_native.abi_version())


def fnv1a64(text: str) -> int:
    """64-bit FNV-1a hash of the UTF-8 bytes of ``text``."""
    return int(_native.fnv1a64(text))


def source_hash(text: str) -> str:
    """Stable 16-hex-digit hash of a kernel source (for deduplication)."""
    return f"{fnv1a64(text):016x}"


def build_info() -> dict[str, object]:
    """Compiler, C++ standard and build type of the native module."""
    return dict(_native.build_info())
