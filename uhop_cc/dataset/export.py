"""Exporting the dataset for training: JSON Lines or Parquet, one row per record.

    from uhop_cc.dataset.export import export
    n = export("campaign-out", "train.jsonl", fmt="jsonl")          # passing records only
    n = export("campaign-out", "train.parquet", fmt="parquet", include_failures=True)

`root` is a dataset directory (index.sqlite) or a campaign directory (state.sqlite; its dataset
is used). A row holds the UIR source, the KernelSpec, the kernel source and its measurements;
in Parquet the nested fields (spec, sizes, params, validation, analysis, ops, timing) are JSON
strings so every file has the same flat schema. Files are written to a temporary name and
renamed, so a reader never sees half an export.

Records are read from the attempt folders (the source of truth), in the index's order where the
index is sound, so a stale or damaged index loses nothing; a record that cannot be read (its
folder gone, its metadata.json unreadable) is skipped and named in `skipped` as (id, why).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from .index import DatasetError, DatasetScan, open_index, scan_dataset
from .records import SUCCESS
from .store import read_record

__all__ = ["resolve_dataset", "iter_records", "iter_rows", "export", "export_jsonl", "export_parquet",
           "NESTED_FIELDS", "FORMATS", "Skipped"]

Skipped = List[Tuple[str, str]]  # (attempt id, why it was not read)

FORMATS = ("jsonl", "parquet")
NESTED_FIELDS = ("sizes", "spec", "kernel_params", "validation", "analysis", "ops", "timing", "measurements")


def resolve_dataset(path: Union[str, Path]) -> Path:
    """The dataset root for a dataset directory or a campaign directory."""
    p = Path(path).expanduser()
    if (p / "state.sqlite").is_file():
        try:  # read-only: browsing a campaign never writes its state
            con = open_index(p / "state.sqlite", readonly=True)
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
            finally:
                con.close()
            cfg = json.loads(row[0]) if row else {}
            if cfg.get("dataset"):
                return Path(cfg["dataset"]).expanduser()
        except Exception:  # noqa: BLE001 - fall back to the default layout
            pass
        return p / "dataset"
    if (p / "index.sqlite").is_file() or p.is_dir():
        return p
    raise FileNotFoundError(f"{p}: not a dataset or campaign directory")


def iter_records(root: Union[str, Path], include_failures: bool = True, skipped: Optional[Skipped] = None,
                 scan: Optional[DatasetScan] = None) -> Iterator[Dict[str, Any]]:
    """metadata.json of every record (indexed ones oldest first, then folders the index misses),
    with its kernel source under `_source`. Records that cannot be read go to `skipped`."""
    scan = scan or scan_dataset(resolve_dataset(root))
    for attempt_id in scan.rows + scan.folders_without_rows:
        folder = scan.folders.get(attempt_id)
        try:
            if folder is None:
                raise DatasetError("indexed, but its folder is missing", kind="missing_folder")
            meta = read_record(folder)
        except DatasetError as e:
            if skipped is not None:
                skipped.append((attempt_id, str(e).replace(f"{folder}/", "") if folder else str(e)))
            continue
        if not include_failures and meta.get("status") not in SUCCESS:
            continue
        src_name = meta.get("source_file")
        src = None
        if src_name:
            try:
                src = (folder / src_name).read_text()
            except OSError:
                src = None
        meta["_source"] = src
        if not meta.get("extra", {}).get("uir"):
            try:
                meta.setdefault("extra", {})["uir"] = (folder / "program.uir").read_text()
            except OSError:
                pass
        yield meta


def _row(meta: Dict[str, Any]) -> Dict[str, Any]:
    extra = meta.get("extra") or {}
    camp = extra.get("campaign") or {}
    kern = extra.get("kernel") or {}
    meas = extra.get("measurements") or {}
    return {
        "id": meta.get("id"), "created": meta.get("created"), "status": meta.get("status"),
        "verified": bool(meta.get("verified")), "reason": meta.get("reason") or "",
        "category": camp.get("category") or meta.get("category"), "variant": camp.get("variant"),
        "lowered_category": camp.get("lowered") or meta.get("category"),
        "target": meta.get("target"), "device": meta.get("device"), "provider": meta.get("provider"),
        "model": meta.get("model"), "kernel_name": meta.get("kernel"), "sizes": meta.get("sizes") or {},
        "uir": extra.get("uir"), "spec": extra.get("spec"), "kernel_source": meta.get("_source"),
        "kernel_strategy": kern.get("strategy") or meta.get("model"), "kernel_params": kern.get("params") or {},
        "median_s": meta.get("median_s"), "gflops": meas.get("gflops"), "gbps": meas.get("gbps"),
        "flops": meas.get("flops"), "bytes_min": meas.get("bytes_min"),
        "validation": extra.get("validation"), "analysis": extra.get("analysis"), "ops": extra.get("ops"),
        "timing": extra.get("timing"), "measurements": meas or None,
        "uir_hash": meta.get("uir_hash"), "source_hash": meta.get("source_hash"),
        "uir_key": camp.get("uir_key"), "kernel_key": camp.get("kernel_key"), "campaign": camp.get("name"),
        "seed": camp.get("seed"),
    }


def iter_rows(root: Union[str, Path], include_failures: bool = False,
              skipped: Optional[Skipped] = None) -> Iterator[Dict[str, Any]]:
    for meta in iter_records(root, include_failures, skipped):
        yield _row(meta)


def _tmp(out: Path) -> Path:
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


def export_jsonl(root: Union[str, Path], out: Union[str, Path], include_failures: bool = False,
                 skipped: Optional[Skipped] = None) -> int:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(out)
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for row in iter_rows(root, include_failures, skipped):
                f.write(json.dumps(row, default=str, separators=(",", ":")) + "\n")
                n += 1
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def export_parquet(root: Union[str, Path], out: Union[str, Path], include_failures: bool = False,
                   skipped: Optional[Skipped] = None) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Parquet export needs pyarrow: pip install 'uhopc[campaign]' (or pip install pyarrow)") \
            from None
    rows: List[Dict[str, Any]] = []
    for row in iter_rows(root, include_failures, skipped):
        for k in NESTED_FIELDS:
            row[k + "_json"] = json.dumps(row.pop(k), default=str, sort_keys=True)
        rows.append(row)
    schema = pa.schema([
        ("id", pa.string()), ("created", pa.string()), ("status", pa.string()), ("verified", pa.bool_()),
        ("reason", pa.string()), ("category", pa.string()), ("variant", pa.string()),
        ("lowered_category", pa.string()), ("target", pa.string()), ("device", pa.string()),
        ("provider", pa.string()), ("model", pa.string()), ("kernel_name", pa.string()), ("uir", pa.string()),
        ("kernel_source", pa.string()), ("kernel_strategy", pa.string()), ("median_s", pa.float64()),
        ("gflops", pa.float64()), ("gbps", pa.float64()), ("flops", pa.int64()), ("bytes_min", pa.int64()),
        ("uir_hash", pa.string()), ("source_hash", pa.string()), ("uir_key", pa.string()),
        ("kernel_key", pa.string()), ("campaign", pa.string()), ("seed", pa.int64()),
    ] + [(k + "_json", pa.string()) for k in NESTED_FIELDS])
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    table = pa.Table.from_pydict(cols, schema=schema)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(out)
    try:
        pq.write_table(table, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(rows)


def export(root: Union[str, Path], out: Union[str, Path], fmt: Optional[str] = None,
           include_failures: bool = False, skipped: Optional[Skipped] = None) -> int:
    """Export every record (passing ones unless `include_failures`) to `out`; returns the row count.
    `fmt`: jsonl or parquet (default: from the file suffix); records that could not be read are
    appended to `skipped` as (id, why)."""
    fmt = (fmt or Path(out).suffix.lstrip(".") or "jsonl").lower()
    if fmt in ("json", "ndjson"):
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format `{fmt}` (use jsonl or parquet)")
    if fmt == "parquet":
        return export_parquet(root, out, include_failures, skipped)
    return export_jsonl(root, out, include_failures, skipped)
