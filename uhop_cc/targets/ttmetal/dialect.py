"""What an untrusted TT-Metal source may include: the bundled SDK declarations (targets/ttmetal/
sdk_decls) and a few system headers."""
from __future__ import annotations

import re

__all__ = ["SYSTEM_HEADERS", "include_allowed"]

SYSTEM_HEADERS = frozenset({"cstdint", "cstddef", "stdint.h", "stddef.h", "array", "type_traits", "utility", "limits",
                            "cmath"})


def _sdk_header(name: str) -> bool:
    if name.startswith("/") or ".." in name or not re.fullmatch(r"[A-Za-z0-9_./-]+", name):
        return False
    try:
        from .checks import DECLS_DIR
    except Exception:  # noqa: BLE001
        return False
    return any((DECLS_DIR / sub / name).is_file() for sub in ("device", "common"))


def include_allowed(header: str) -> bool:
    """`header` as written (`<x>` or `"x"`): a bundled SDK header, or a known system header in <>."""
    name = header[1:-1].strip()
    return _sdk_header(name) or (header.startswith("<") and name in SYSTEM_HEADERS)
