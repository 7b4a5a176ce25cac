"""Raw data files of an emitted host project: inputs, golden outputs and their manifest.

Layout under a project's `data/` folder:

    data/<input>.bin           raw row-major little-endian input tensors
    data/<output>.golden.bin   the reference interpreter's outputs, same encoding
    data/manifest.json         kernel name, sizes, scalars, and per tensor: role, dtype,
                               shape, file, bytes, and (outputs) the tolerance

Encoding per dtype: f32 IEEE binary32, f64 binary64, f16 binary16 bit patterns (uint16),
i32 two's complement int32; no header, no padding: a file holds exactly
prod(shape) * itemsize bytes (a 0-d tensor holds one element).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

__all__ = ["FORMAT", "RAW_DTYPE", "MANIFEST", "to_raw", "write_tensor", "read_tensor", "input_file",
           "golden_file", "write_manifest", "read_manifest", "load_tensors", "scalar_value"]

FORMAT = "uhopc-host-data/1"
MANIFEST = "manifest.json"
RAW_DTYPE = {"f32": np.dtype("<f4"), "f64": np.dtype("<f8"), "f16": np.dtype("<f2"), "i32": np.dtype("<i4")}

Number = Union[int, float]


def _raw_dtype(dtype: str) -> np.dtype:
    try:
        return RAW_DTYPE[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r} (known: {', '.join(RAW_DTYPE)})") from None


def input_file(name: str) -> str:
    return f"{name}.bin"


def golden_file(name: str) -> str:
    return f"{name}.golden.bin"


def to_raw(arr: Any, dtype: str, shape: Optional[Tuple[int, ...]] = None) -> bytes:
    """`arr` as raw little-endian bytes of `dtype` (row-major); checks the shape when given.
    Values are converted like the interpreter converts inputs (`astype`: floats to i32 truncate)."""
    a = np.asarray(arr)
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"expected shape {tuple(shape)}, got {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"expected numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a.astype(_raw_dtype(dtype))).tobytes()


def write_tensor(path: Union[str, Path], arr: Any, dtype: str, shape: Optional[Tuple[int, ...]] = None) -> int:
    """Write one raw tensor file; returns the number of bytes written."""
    data = to_raw(arr, dtype, shape)
    Path(path).write_bytes(data)
    return len(data)


def read_tensor(path: Union[str, Path], dtype: str, shape: Tuple[int, ...]) -> np.ndarray:
    """Read one raw tensor file back as a native-endian array of `shape`."""
    dt = _raw_dtype(dtype)
    data = Path(path).read_bytes()
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) != n * dt.itemsize:
        raise ValueError(f"{path}: {len(data)} bytes, expected {n * dt.itemsize} ({dtype}{list(shape)})")
    return np.frombuffer(data, dt).astype(dt.newbyteorder("=")).reshape(tuple(shape))


def scalar_value(value: Any, dtype: str) -> Number:
    """A scalar argument rounded the way the interpreter and the kernel see it."""
    if dtype == "i32":
        v = float(value) if not isinstance(value, (int, np.integer)) else int(value)
        if isinstance(v, float) and not v.is_integer():
            raise ValueError(f"i32 scalar got the non-integer {value!r}")
        v = int(v)
        if not -2 ** 31 <= v < 2 ** 31:
            raise ValueError(f"i32 scalar {v} does not fit in 32 bits")
        return v
    if dtype == "f64":
        return float(value)
    if dtype in ("f32", "f16"):
        with np.errstate(over="ignore"):
            return float(np.asarray(float(value)).astype(RAW_DTYPE[dtype]))
    raise ValueError(f"unknown dtype {dtype!r}")


def _json_number(x: Number) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def write_manifest(datadir: Union[str, Path], manifest: Mapping[str, Any]) -> Path:
    path = Path(datadir) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def read_manifest(datadir: Union[str, Path]) -> Dict[str, Any]:
    path = Path(datadir) / MANIFEST
    m = json.loads(path.read_text())
    if m.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} manifest (format={m.get('format')!r})")
    return m


def load_tensors(datadir: Union[str, Path], role: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Every tensor file the manifest lists (only one role's, when given), by tensor name."""
    datadir = Path(datadir)
    m = read_manifest(datadir)
    out = {}
    for t in m["tensors"]:
        if role is None or t["role"] == role:
            out[t["name"]] = read_tensor(datadir / t["file"], t["dtype"], tuple(t["shape"]))
    return out


def manifest_scalar(dtype: str, value: Number) -> Dict[str, Any]:
    return {"dtype": dtype, "value": _json_number(value)}
