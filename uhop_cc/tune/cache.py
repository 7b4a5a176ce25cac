"""The schedule cache: the best template parameters per device, target, kernel and shape.

One JSON file (UHOP_TUNE_CACHE, default ~/.cache/uhopc/tune.json), rewritten
atomically under a lock so concurrent tuners never lose each other's entries. A damaged file
(garbage, truncated) is reported, its readable entries are kept, and it is backed up before the
next write replaces it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..ir import printer
from ..ir.typed import BoundKernel


def cache_path() -> Path:
    env = os.environ.get("UHOP_TUNE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uhopc" / "tune.json"


def kernel_hash(bound: BoundKernel) -> str:
    """Identity of the program, independent of comments and formatting."""
    return hashlib.sha256(printer.kernel(bound.kernel).encode()).hexdigest()[:16]


def cache_key(device: str, target: str, bound: BoundKernel) -> str:
    sizes = ",".join(f"{k}={v}" for k, v in sorted(bound.sizes.items()))
    return f"{device}|{target}|{bound.name}|{kernel_hash(bound)}|{sizes}"


@dataclass(frozen=True)
class TunedSchedule:
    device: str
    target: str
    kernel: str
    kernel_hash: str
    sizes: Dict[str, int]
    template: str
    params: Dict[str, Any]
    median_s: float
    default_median_s: Optional[float]
    candidates: int
    tuned_at: str

    @property
    def speedup(self) -> Optional[float]:
        if self.default_median_s and self.median_s:
            return self.default_median_s / self.median_s
        return None

    def to_json(self) -> dict:
        d = asdict(self)
        d["speedup_vs_default"] = self.speedup
        return d


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_ENTRY = re.compile(r'"((?:[^"\\]|\\.)*\|(?:[^"\\]|\\.)*)"\s*:\s*(?=\{)')


def _salvage(text: str) -> Dict[str, dict]:
    """The entries of a damaged cache that still parse (a truncated file keeps all but its last)."""
    out: Dict[str, dict] = {}
    dec = json.JSONDecoder()
    for m in _ENTRY.finditer(text):
        try:
            value, _end = dec.raw_decode(text, m.end())
            key = json.loads(f'"{m.group(1)}"')
        except ValueError:
            continue
        if isinstance(value, dict) and "template" in value:
            out[key] = value
    return out


def _read(path: Path, repair: bool = False) -> Dict[str, dict]:
    """The cache's entries. A damaged file is reported once on stderr, and its readable entries kept;
    with `repair` (before a write) it is first copied aside to `tune.json.damaged-<time>`."""
    try:
        text = path.read_text()
    except OSError:
        return {}  # no cache yet
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    except ValueError:
        pass
    data = _salvage(text)
    if str(path) not in _WARNED:
        _WARNED.add(str(path))
        print(f"uhopc: warning: the tune cache {path} is damaged; {len(data)} readable entr"
              f"{'y' if len(data) == 1 else 'ies'} kept" + (", the file is backed up before it is rewritten"
                                                          if repair else ""), file=sys.stderr)
    if repair:
        backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            shutil.copyfile(path, backup)
        except OSError:
            pass
    return data


_WARNED: set = set()


def load_all(path: Optional[Path] = None) -> List[TunedSchedule]:
    out = []
    for entry in _read(path or cache_path()).values():
        try:
            out.append(TunedSchedule(**{k: entry[k] for k in TunedSchedule.__dataclass_fields__}))
        except (KeyError, TypeError):
            continue
    return out


def lookup(device: str, target: str, bound: BoundKernel, path: Optional[Path] = None) -> Optional[TunedSchedule]:
    entry = _read(path or cache_path()).get(cache_key(device, target, bound))
    if not entry:
        return None
    try:
        return TunedSchedule(**{k: entry[k] for k in TunedSchedule.__dataclass_fields__})
    except (KeyError, TypeError):
        return None


def store(device: str, target: str, bound: BoundKernel, template: str, params: Mapping[str, Any], median_s: float,
          default_median_s: Optional[float], candidates: int, path: Optional[Path] = None) -> TunedSchedule:
    path = path or cache_path()
    entry = TunedSchedule(device, target, bound.name, kernel_hash(bound), dict(bound.sizes), template, dict(params),
                          float(median_s), default_median_s, int(candidates), time.strftime("%Y-%m-%dT%H:%M:%S"))
    with _locked(path):
        data = _read(path, repair=True)
        data[cache_key(device, target, bound)] = entry.to_json()
        fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".tune-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    return entry
