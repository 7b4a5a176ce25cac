"""Opening the dataset index (index.sqlite) safely, and comparing it with the attempt folders.

The folders are the source of truth; the index is a cache of their metadata that
`DatasetStore.rebuild_index()` (`uhopc dataset reindex`) rebuilds. Browsing opens the index
read-only (`open_index(path, readonly=True)`): it never creates, migrates or writes the file, so
a read-only dataset can be browsed. Every SQLite failure leaves this module as a DatasetError
whose message names the file and says what to do (`index_error`).

    scan = scan_dataset(root)       # never raises for a bad index: scan.state says what is wrong
    if not scan.in_step: print(scan.describe())
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["DatasetError", "INDEX_NAME", "lock_timeout", "check_root", "open_index", "index_error",
           "attempt_folders", "move_aside", "DatasetScan", "scan_dataset", "name_ids",
           "describe_skipped"]

INDEX_NAME = "index.sqlite"
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's companions of a database file


class DatasetError(Exception):
    """A dataset the tool cannot use as it is. `kind`: locked, damaged, readonly, not_a_dir,
    missing_folder, unreadable_record; the message names the file and the way out."""

    def __init__(self, message: str, path: Optional[Path] = None, kind: str = "damaged"):
        super().__init__(message)
        self.path = path
        self.kind = kind


def lock_timeout() -> float:
    """Seconds to wait for a locked index before giving up ($UHOP_DATASET_LOCK_TIMEOUT, default 30)."""
    try:
        return max(0.0, float(os.environ.get("UHOP_DATASET_LOCK_TIMEOUT", "") or 30.0))
    except ValueError:
        return 30.0


def check_root(root: Path) -> None:
    """A dataset root must be a folder (or not exist yet)."""
    if root.exists() and not root.is_dir():
        raise DatasetError(f"dataset directory {root} is a file, not a folder: pass a folder "
                           f"(--dataset / UHOP_DATASET_DIR)", root, "not_a_dir")


def index_error(e: BaseException, db_path: Path, doing: str = "reading") -> DatasetError:
    """The DatasetError of a SQLite (or OS) failure on the index (or on a campaign's state.sqlite)."""
    msg = str(e)
    low = msg.lower()
    is_index = db_path.name == INDEX_NAME
    what = "dataset index" if is_index else "database"
    hint = (f"; run `uhopc dataset reindex {db_path.parent}` to rebuild it from the attempt folders"
            if is_index else "")
    if "locked" in low or "busy" in low:
        return DatasetError(f"{what} {db_path} is locked by another process (waited {lock_timeout():g}s, "
                            f"$UHOP_DATASET_LOCK_TIMEOUT); try again when it finishes", db_path, "locked")
    if "readonly" in low or "read-only" in low or isinstance(e, PermissionError) or "permission" in low:
        return DatasetError(f"{what} {db_path} is read-only: cannot write it while {doing} ({msg})",
                            db_path, "readonly")
    if "unable to open" in low or isinstance(e, OSError):
        return DatasetError(f"cannot open {what} {db_path} ({msg})", db_path, "unreadable")
    if "no such table" in low or "no such column" in low:
        return DatasetError(f"{what} {db_path} is empty or not a uhopc {what.split()[-1]} ({msg}){hint}",
                            db_path, "empty")
    return DatasetError(f"{what} {db_path} is damaged ({msg}){hint}", db_path, "damaged")


def open_index(db_path: Path, readonly: bool) -> Optional[sqlite3.Connection]:
    """A connection to the index. Read-only: None when there is no index file; the file is opened
    with mode=ro, and as immutable where its folder cannot be written (SQLite cannot create the
    WAL's shared-memory file there, and no writer can be at work in such a folder either)."""
    timeout = lock_timeout()
    try:
        if not readonly:
            con = sqlite3.connect(str(db_path), timeout=timeout)
        else:
            if not db_path.is_file():
                return None
            uri = db_path.resolve().as_uri() + "?mode=ro"
            if not os.access(db_path.parent, os.W_OK):
                uri += "&immutable=1"
            con = sqlite3.connect(uri, uri=True, timeout=timeout)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        return con
    except (sqlite3.Error, OSError) as e:
        raise index_error(e, db_path, "opening it") from None


def attempt_folders(root: Path) -> Dict[str, Path]:
    """Attempt id -> folder: every sub-folder that is not hidden (.tmp holds unfinished writes)."""
    try:
        return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as e:
        raise DatasetError(f"cannot list dataset directory {root} ({e.strerror or e})", root, "unreadable") from None


def move_aside(db_path: Path, label: str = "bad") -> Optional[Path]:
    """Rename the index (and its -wal/-shm files) to index.sqlite.<label>-<timestamp>; never deletes."""
    if not db_path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    dest = db_path.with_name(f"{db_path.name}.{label}-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = db_path.with_name(f"{db_path.name}.{label}-{stamp}-{n}")
    try:
        for suffix in SIDE_FILES:  # the WAL holds committed rows: keep it with its database
            side = db_path.with_name(db_path.name + suffix)
            if side.exists():
                os.rename(side, dest.with_name(dest.name + suffix))
        os.rename(db_path, dest)
    except OSError as e:
        raise DatasetError(f"cannot move the damaged index {db_path} aside ({e.strerror or e})", db_path,
                           "readonly") from None
    return dest


def name_ids(ids: List[str], limit: int = 5) -> str:
    """`a, b, c and 4 more`: ids for a one-line message."""
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def describe_skipped(skipped: List[Tuple[str, str]], limit: int = 10) -> str:
    """`skipped 3 records: a, b (folder missing); c (metadata.json is missing)`; '' for none."""
    if not skipped:
        return ""
    by_why: Dict[str, List[str]] = defaultdict(list)
    for attempt_id, why in skipped[:limit]:
        by_why[why].append(attempt_id)
    named = "; ".join(f"{', '.join(ids)} ({why})" for why, ids in by_why.items())
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"skipped {len(skipped)} record{'s' if len(skipped) != 1 else ''}: {named}{more}"


@dataclass
class DatasetScan:
    """The index compared with the folders. `state`: ok, missing (no index file), empty (no
    attempts table), damaged, locked or unreadable; `rows`: indexed ids, oldest first."""
    root: Path
    state: str
    message: str = ""
    rows: List[str] = field(default_factory=list)
    folders: Dict[str, Path] = field(default_factory=dict)

    @property
    def rows_without_folders(self) -> List[str]:
        return [i for i in self.rows if i not in self.folders]

    @property
    def folders_without_rows(self) -> List[str]:
        indexed = set(self.rows)
        return [i for i in self.folders if i not in indexed]

    @property
    def usable(self) -> bool:
        """The index can answer queries (it may still miss some folders)."""
        return self.state == "ok" or (self.state in ("missing", "empty") and not self.folders)

    @property
    def in_step(self) -> bool:
        return self.usable and not self.rows_without_folders and not self.folders_without_rows

    def describe(self) -> str:
        """One line saying what is out of step and the way out ('' when in step)."""
        if self.in_step:
            return ""
        fix = f"run `uhopc dataset reindex {self.root}`"
        if self.state in ("locked", "unreadable", "damaged"):
            return self.message  # it names the file and the way out
        if not self.usable:
            what = {"missing": "there is no index", "empty": "the index is empty"}.get(self.state, self.message)
            return f"{what}, but {len(self.folders)} attempt folders exist in {self.root}; {fix}"
        parts = []
        if self.folders_without_rows:
            parts.append(f"{len(self.folders_without_rows)} attempt folders are not in the index "
                         f"({name_ids(self.folders_without_rows)})")
        if self.rows_without_folders:
            parts.append(f"{len(self.rows_without_folders)} indexed attempts have no folder "
                         f"({name_ids(self.rows_without_folders)})")
        return f"index {self.root / INDEX_NAME} is out of step with the folders: " + "; ".join(parts) + f"; {fix}"


def scan_dataset(root: Path) -> DatasetScan:
    """Read-only: the index's ids next to the folders. Never raises for a bad index file."""
    db_path = root / INDEX_NAME
    folders = attempt_folders(root)
    try:
        con = open_index(db_path, readonly=True)
    except DatasetError as e:
        return DatasetScan(root, e.kind, str(e), folders=folders)
    if con is None:
        return DatasetScan(root, "missing", folders=folders)
    try:
        rows = [r["id"] for r in con.execute("SELECT id FROM attempts ORDER BY created, id")]
    except sqlite3.Error as e:
        err = index_error(e, db_path)
        return DatasetScan(root, err.kind, str(err), folders=folders)
    finally:
        con.close()
    return DatasetScan(root, "ok", rows=rows, folders=folders)
