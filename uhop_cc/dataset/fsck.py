"""`uhopc dataset fsck`: what is missing on either side of the index and the attempt folders.

    report = fsck(root)          # read-only; never raises for a bad index or a bad record
    print(report.render()); sys.exit(0 if report.ok else 1)

Index rows without folders (a folder deleted by hand), folders without index rows (a crash
between the rename and the insert, or a lost index), records that cannot be read (metadata.json
missing, not JSON, not a record, or of another id) and unfinished writes left in .tmp/.
`uhopc dataset reindex` repairs the first two; unreadable records are only reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from .index import INDEX_NAME, DatasetError, DatasetScan, check_root, scan_dataset
from .store import read_record

__all__ = ["FsckReport", "fsck"]


@dataclass
class FsckReport:
    scan: DatasetScan
    unreadable: List[Tuple[str, str]] = field(default_factory=list)  # (id, why)
    unfinished: List[str] = field(default_factory=list)  # entries of .tmp/

    @property
    def ok(self) -> bool:
        return self.scan.in_step and not self.unreadable

    def to_json(self) -> Dict[str, Any]:
        s = self.scan
        return {"dataset": str(s.root), "index": str(s.root / INDEX_NAME), "index_state": s.state,
                "index_message": s.message, "ok": self.ok, "indexed": len(s.rows), "folders": len(s.folders),
                "rows_without_folders": s.rows_without_folders, "folders_without_rows": s.folders_without_rows,
                "unreadable": [{"id": i, "why": w} for i, w in self.unreadable], "unfinished": self.unfinished}

    def render(self) -> str:
        s = self.scan
        state = s.state + (f": {s.message}" if s.message else "")
        lines = [f"dataset {s.root}: {len(s.folders)} attempt folders, {len(s.rows)} index rows (index {state})"]
        for title, ids in (("index rows without folders", s.rows_without_folders),
                           ("folders without index rows", s.folders_without_rows)):
            lines.append(f"{title}: {len(ids)}")
            lines += [f"  {i}" for i in ids]
        lines.append(f"unreadable records: {len(self.unreadable)}")
        lines += [f"  {i}: {why}" for i, why in self.unreadable]
        if self.unfinished:
            lines.append(f"unfinished writes in .tmp/: {len(self.unfinished)} (safe to delete)")
        if self.ok:
            lines.append("ok")
        elif not s.in_step:
            lines.append(f"run `uhopc dataset reindex {s.root}` to rebuild the index from the folders")
        return "\n".join(lines)


def fsck(root: Union[str, Path]) -> FsckReport:
    """Compare the index with the folders and read every record; writes nothing.
    Raises DatasetError only when `root` is not a folder."""
    root = Path(root).expanduser()
    check_root(root)
    if not root.is_dir():
        raise DatasetError(f"no dataset directory {root}", root, "missing")
    report = FsckReport(scan_dataset(root))
    for attempt_id, folder in report.scan.folders.items():
        try:
            read_record(folder)
        except DatasetError as e:
            report.unreadable.append((attempt_id, str(e)))
    tmp = root / ".tmp"
    if tmp.is_dir():
        report.unfinished = sorted(p.name for p in tmp.iterdir())
    return report
