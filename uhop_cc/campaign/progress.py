"""Live campaign statistics: a progress bar on stderr and stats.json in the campaign directory.

On a terminal the bar is redrawn in place (at most 10 times a second):

    [########------------] 88/220 records  3.4 rec/s  fail 6  dup 2  | arith 8 mathc 8 trans 8 ...

Elsewhere (a log file, CI) one full line is printed every `interval` seconds and at the end.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, TextIO

__all__ = ["Progress", "write_json_atomic", "short_name"]


def short_name(category: str) -> str:
    return {"arithmetic": "arith", "math_chain": "math", "transform": "trans", "reduction": "red",
            "matrix": "mat", "vector": "vec", "stencil2d": "st2d", "stencil3d": "st3d", "pooling": "pool",
            "select": "sel", "fused": "fused"}.get(category, category[:5])


def write_json_atomic(path: Path, data: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


class Progress:
    def __init__(self, total: int, categories: Sequence[str], stream: Optional[TextIO] = None,
                 enabled: bool = True, interval: float = 5.0, width: int = 24):
        self.total = max(0, int(total))
        self.categories = tuple(categories)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if not self.tty else 0.1
        self.width = width
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._drawn = False
        self.records = 0  # passing records written this run
        self.base = 0  # passing records written before this run (resume)
        self.failures = 0
        self.duplicates = 0
        self.items = 0
        self.per_category: Dict[str, int] = {c: 0 for c in self.categories}

    # ---------------------------------------------------------------- updates
    def set_base(self, counts: Mapping[str, int]) -> None:
        self.per_category.update({c: int(counts.get(c, 0)) for c in self.categories})
        self.base = sum(self.per_category.values())

    def record(self, category: str) -> None:
        self.records += 1
        self.per_category[category] = self.per_category.get(category, 0) + 1

    def item(self, failed: bool = False, duplicate: bool = False) -> None:
        self.items += 1
        self.failures += bool(failed)
        self.duplicates += bool(duplicate)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def rate(self) -> float:
        e = self.elapsed
        return self.records / e if e > 0 else 0.0

    def stats(self) -> Dict[str, Any]:
        return {"records": self.base + self.records, "records_this_run": self.records, "target": self.total,
                "items_this_run": self.items, "failures_this_run": self.failures,
                "duplicates_this_run": self.duplicates, "elapsed_s": round(self.elapsed, 3),
                "records_per_s": round(self.rate, 3),
                "items_per_s": round(self.items / self.elapsed, 3) if self.elapsed > 0 else 0.0,
                "per_category": dict(self.per_category)}

    # ---------------------------------------------------------------- drawing
    def line(self) -> str:
        done = self.base + self.records
        frac = min(1.0, done / self.total) if self.total else 1.0
        fill = int(round(frac * self.width))
        bar = "#" * fill + "-" * (self.width - fill)
        cats = " ".join(f"{short_name(c)} {self.per_category.get(c, 0)}" for c in self.categories)
        return (f"[{bar}] {done}/{self.total} records  {self.rate:.2f} rec/s  fail {self.failures}  "
                f"dup {self.duplicates}  | {cats}")

    def update(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        text = self.line()
        try:
            if self.tty:
                self.stream.write("\r\x1b[2K" + text)
                self._drawn = True
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def close(self) -> None:
        if not self.enabled:
            return
        self.update(force=True)
        if self.tty and self._drawn:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
