"""The best-kernel cache: the fastest passing LLM kernel per (UIR hash, target, device, shape).

    hit = lookup(uir_hash(bound), "opencl", device.name, bound.sizes)
    if hit: kernel = hit.generated()        # a GeneratedKernel, strategy 'ai'

`pipeline.candidates` puts the cached kernel first; it is an untrusted kernel, so the pipeline
re-checks it in a child process (ai.checks.audit_source) before using it, never builds or runs it
in-process, and a hit that fails is dropped and archived with its reason (`reject`): a stale or
poisoned entry costs one failed check, never a wrong result. The entries live in the dataset's
index.sqlite (table best_kernels).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from .. import targets
from .records import Scrubber, sha256
from .store import DatasetStore, sizes_key

__all__ = ["CachedKernel", "uir_hash", "lookup", "store", "invalidate", "cached_candidate", "reject"]


@dataclass(frozen=True)
class CachedKernel:
    uir_hash: str
    target: str
    device: str
    sizes: Dict[str, int]
    kernel: str
    entry: str
    file_name: str
    source: str
    source_hash: str
    median_s: Optional[float]
    baseline_s: Optional[float]
    speedup: Optional[float]
    attempt_id: Optional[str]
    provider: Optional[str]
    model: Optional[str]
    created: str

    def generated(self):
        """The cached kernel as a GeneratedKernel (strategy 'ai'), ready to be a pipeline candidate."""
        from ..codegen import GeneratedKernel
        params: Dict[str, Any] = {"cached": True}
        if self.attempt_id:
            params["attempt"] = self.attempt_id
        if self.model:
            params["model"] = self.model
        return GeneratedKernel(self.target, self.source, self.entry, "ai", params, self.file_name)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def uir_hash(program: Any) -> str:
    """sha256 of the canonical (printed) UIR of a BoundKernel or CheckedKernel; of the text itself for a str."""
    from ..ir import printer
    checked = getattr(program, "checked", program)
    if hasattr(checked, "kernel") and not isinstance(checked, str):
        return sha256(printer.kernel(checked.kernel))
    return sha256(str(program))


def _store(dataset_dir) -> DatasetStore:
    return DatasetStore(dataset_dir)


def lookup(uir_hash: str, target: str, device_name: str, sizes: Mapping[str, int], *,
           dataset_dir: Optional[Union[str, Path]] = None) -> Optional[CachedKernel]:
    st = _store(dataset_dir)
    if not st.db_path.exists():
        return None
    con = st.connect()
    try:
        r = con.execute("SELECT * FROM best_kernels WHERE uir_hash = ? AND target = ? AND device = ? AND sizes = ?",
                        (uir_hash, target, device_name or "", sizes_key(sizes))).fetchone()
    finally:
        con.close()
    if r is None:
        return None
    d = dict(r)
    import json
    d["sizes"] = json.loads(d["sizes"])
    return CachedKernel(**d)


def store(uir_hash: str, target: str, device_name: str, sizes: Mapping[str, int], source: str, *, kernel: str,
          entry: Optional[str] = None, file_name: Optional[str] = None, median_s: Optional[float] = None,
          baseline_s: Optional[float] = None, speedup: Optional[float] = None, attempt_id: Optional[str] = None,
          provider: Optional[str] = None, model: Optional[str] = None,
          dataset_dir: Optional[Union[str, Path]] = None, scrubber: Optional[Scrubber] = None) -> bool:
    """Keep `source` as the best kernel unless a faster one is already cached. True when stored.
    `scrubber` (default: key-like environment variables) removes secrets from the source first."""
    scrub = scrubber or Scrubber()
    source = scrub.text(source)
    st = _store(dataset_dir)
    con = st.connect()
    key = (uir_hash, target, device_name or "", sizes_key(sizes))
    try:
        with con:
            old = con.execute("SELECT median_s FROM best_kernels WHERE uir_hash = ? AND target = ? AND device = ? "
                              "AND sizes = ?", key).fetchone()
            if old is not None and old["median_s"] is not None and median_s is not None \
                    and old["median_s"] <= median_s:
                return False
            con.execute(
                "INSERT OR REPLACE INTO best_kernels (uir_hash, target, device, sizes, kernel, entry, file_name, "
                "source, source_hash, median_s, baseline_s, speedup, attempt_id, provider, model, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, kernel, entry or kernel, file_name or targets.get(target).file_name,
                 source, sha256(source), median_s, baseline_s, speedup, attempt_id, provider, model,
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    finally:
        con.close()
    return True


def invalidate(uir_hash: str, target: str, device_name: str, sizes: Mapping[str, int], *,
               dataset_dir: Optional[Union[str, Path]] = None) -> bool:
    """Drop a cache entry (e.g. when it no longer validates on this driver). True when one was dropped."""
    st = _store(dataset_dir)
    if not st.db_path.exists():
        return False
    con = st.connect()
    try:
        with con:
            cur = con.execute("DELETE FROM best_kernels WHERE uir_hash = ? AND target = ? AND device = ? AND sizes = ?",
                              (uir_hash, target, device_name or "", sizes_key(sizes)))
            return cur.rowcount > 0
    finally:
        con.close()


def cached_candidate(bound, target: str, hardware: Optional[Mapping[str, Any]], *,
                     dataset_dir: Optional[Union[str, Path]] = None):
    """The cached GeneratedKernel for this bound kernel on this device, or None. Never raises
    (a broken or locked dataset means no cache hit); UHOP_NO_CACHE=1 turns the cache off."""
    if os.environ.get("UHOP_NO_CACHE", "").strip() not in ("", "0") or not hardware or not hardware.get("name"):
        return None
    try:
        hit = lookup(uir_hash(bound), target, str(hardware["name"]), bound.sizes, dataset_dir=dataset_dir)
        return hit.generated() if hit is not None else None
    except Exception:  # noqa: BLE001
        return None


def reject(bound, kernel, target: str, device_name: str, status: str, reason: str, *,
           dataset_dir: Optional[Union[str, Path]] = None) -> Optional[str]:
    """A cache hit that failed its re-check: drop the entry and archive the kernel with the
    status and reason (provider 'cache'). Returns the archived attempt's id; never raises."""
    from .records import AttemptRecord, STATUSES, new_attempt_id
    try:
        invalidate(uir_hash(bound), target, device_name, bound.sizes, dataset_dir=dataset_dir)
    except Exception:  # noqa: BLE001 - a locked index: the archive below still records why
        pass
    try:
        from ..ir import printer
        st = _store(dataset_dir)
        rec = AttemptRecord(
            id=new_attempt_id(bound.name), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            kernel=bound.name, uir_hash=uir_hash(bound), category="", target=target, device=device_name,
            sizes=dict(bound.sizes), provider="cache", model=str(kernel.params.get("model") or ""), round=0, sample=0,
            status=status if status in STATUSES else "RUNTIME_ERROR",
            reason=f"cached kernel failed its re-check and was invalidated: {reason}", source_hash=sha256(kernel.source),
            extra={"cached_attempt": kernel.params.get("attempt"), "invalidated": True})
        files = {kernel.file_name: kernel.source, "program.uir": printer.kernel(bound.checked.kernel) + "\n"}
        st.add(rec, files, Scrubber())
        return rec.id
    except Exception:  # noqa: BLE001
        return None
