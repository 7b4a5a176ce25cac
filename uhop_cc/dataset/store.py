"""The kernel dataset: one folder per attempt, indexed in SQLite.

    <root>/                        UHOP_DATASET_DIR, default ~/.uhop_ai_dataset
      index.sqlite                 WAL mode; table `attempts` (one row per attempt) and
                                   `best_kernels` (the cache, see cache.py)
      <attempt_id>/metadata.json   the AttemptRecord, stages, findings, validation, timing
      <attempt_id>/kernel.cl       the candidate source (kernel.cu for CUDA; absent for NO_CODE)
      <attempt_id>/prompt.txt      the messages sent
      <attempt_id>/reply.txt       the raw reply

Each folder is written under <root>/.tmp/ and renamed into place, so a reader never sees a
half-written attempt; the row is inserted after the rename (`reindex()` rebuilds rows from the
folders). Every text written goes through a Scrubber: no API key reaches the disk. Each archived
file keeps at most MAX_ARCHIVED_CHARS characters (a provider can send megabytes): a cut file
ends with a `[... truncated by uhopc: N characters in all, K kept]` line, and metadata.json
records `extra.truncated = {file name: original length}`.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from .records import SUCCESS, AttemptRecord, Scrubber

__all__ = ["default_dir", "DatasetStore", "sizes_key", "ATTEMPT_COLUMNS", "MAX_ARCHIVED_CHARS"]

MAX_ARCHIVED_CHARS = 256 * 1024  # per archived file; kernels and prompts are far smaller

ATTEMPT_COLUMNS = ("id", "created", "kernel", "uir_hash", "category", "target", "device", "sizes", "provider",
                   "model", "round", "sample", "status", "reason", "median_s", "baseline_s", "speedup",
                   "source_hash", "verified", "session", "source_file")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY, created TEXT NOT NULL, kernel TEXT, uir_hash TEXT, category TEXT, target TEXT,
    device TEXT, sizes TEXT, provider TEXT, model TEXT, round INTEGER, sample INTEGER, status TEXT NOT NULL,
    reason TEXT, median_s REAL, baseline_s REAL, speedup REAL, source_hash TEXT, verified INTEGER DEFAULT 0,
    session TEXT, source_file TEXT);
CREATE INDEX IF NOT EXISTS attempts_lookup ON attempts (uir_hash, target, device, sizes, status);
CREATE INDEX IF NOT EXISTS attempts_created ON attempts (created);
CREATE TABLE IF NOT EXISTS best_kernels (
    uir_hash TEXT NOT NULL, target TEXT NOT NULL, device TEXT NOT NULL, sizes TEXT NOT NULL,
    kernel TEXT, entry TEXT, file_name TEXT, source TEXT NOT NULL, source_hash TEXT, median_s REAL,
    baseline_s REAL, speedup REAL, attempt_id TEXT, provider TEXT, model TEXT, created TEXT,
    PRIMARY KEY (uir_hash, target, device, sizes));
"""

_ready_lock = threading.Lock()


def default_dir() -> Path:
    env = os.environ.get("UHOP_DATASET_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".uhop_ai_dataset"


def sizes_key(sizes: Mapping[str, int]) -> str:
    """The canonical JSON of a size binding: sorted keys, no spaces."""
    return json.dumps({str(k): int(v) for k, v in sorted(dict(sizes).items())}, separators=(",", ":"))


class DatasetStore:
    def __init__(self, root: Optional[Union[str, Path]] = None):
        self.root = Path(root).expanduser() if root is not None else default_dir()

    @property
    def db_path(self) -> Path:
        return self.root / "index.sqlite"

    # ------------------------------------------------------------ connection
    def connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(self.db_path), timeout=30.0)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 30000")
        with _ready_lock:  # cheap: CREATE ... IF NOT EXISTS; WAL mode persists in the file
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(_SCHEMA)
            con.commit()
        return con

    # ------------------------------------------------------------ writing
    def add(self, record: AttemptRecord, files: Mapping[str, Optional[str]],
            scrubber: Optional[Scrubber] = None) -> Path:
        """Archive one attempt atomically; returns its folder. `files`: name -> text (None: skipped)."""
        scrub = scrubber or Scrubber()
        rec = AttemptRecord.from_json(scrub.data(record.to_json()))
        final = self.root / rec.id
        if final.exists():
            raise FileExistsError(f"attempt {rec.id} is already archived")
        tmp_root = self.root / ".tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = tmp_root / f"{rec.id}.{os.getpid()}.{threading.get_ident()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            source_file = ""
            truncated: Dict[str, int] = {}
            for name, text in files.items():
                if text is None:
                    continue
                if "/" in name or "\\" in name or name.startswith(".") or name == "metadata.json":
                    raise ValueError(f"bad archive file name {name!r}")
                if name.startswith("kernel."):
                    source_file = name
                kept = _capped(text, scrub)
                if kept is None:
                    kept = scrub.text(text)
                else:
                    truncated[name] = len(text)
                _write(tmp / name, kept)
            meta = rec.to_json()
            if truncated:
                meta["extra"] = dict(meta.get("extra") or {}, truncated=truncated)
            meta["files"] = sorted([n for n, t in files.items() if t is not None] + ["metadata.json"])
            meta["source_file"] = source_file or None
            _write(tmp / "metadata.json", scrub.json(meta) + "\n")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._index(rec, source_file)
        return final

    def _index(self, rec: AttemptRecord, source_file: str) -> None:
        row = _row(rec, source_file)
        con = self.connect()
        try:
            with con:
                con.execute(f"INSERT OR REPLACE INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
                            f"VALUES ({', '.join('?' for _ in ATTEMPT_COLUMNS)})", [row[c] for c in ATTEMPT_COLUMNS])
        finally:
            con.close()

    def reindex(self) -> int:
        """Rebuild the rows from the folders (after a crash between rename and insert)."""
        n = 0
        for meta in sorted(self.root.glob("*/metadata.json")):
            try:
                d = json.loads(meta.read_text())
                self._index(AttemptRecord.from_json(d), d.get("source_file") or "")
                n += 1
            except (OSError, ValueError, TypeError):
                continue
        return n

    # ------------------------------------------------------------ reading
    def resolve(self, attempt_id: str) -> str:
        """The full id of `attempt_id` (a unique prefix is enough). Raises KeyError."""
        attempt_id = attempt_id.strip()
        con = self.connect()
        try:
            rows = con.execute("SELECT id FROM attempts WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 3",
                               (attempt_id, _like_prefix(attempt_id))).fetchall()
        finally:
            con.close()
        ids = [r["id"] for r in rows]
        if attempt_id in ids:
            return attempt_id
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise KeyError(f"no attempt {attempt_id!r} in {self.root}")
        raise KeyError(f"{attempt_id!r} is ambiguous ({', '.join(ids)}, ...)")

    def get(self, attempt_id: str) -> Dict[str, Any]:
        """metadata.json of an attempt, with its folder and file list."""
        full = self.resolve(attempt_id)
        folder = self.root / full
        meta = json.loads((folder / "metadata.json").read_text())
        meta["folder"] = str(folder)
        meta["files"] = sorted(p.name for p in folder.iterdir() if p.is_file())
        return meta

    def read(self, attempt_id: str, name: str) -> str:
        full = self.resolve(attempt_id)
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"bad file name {name!r}")
        return (self.root / full / name).read_text()

    def source(self, attempt_id: str) -> Optional[str]:
        meta = self.get(attempt_id)
        name = meta.get("source_file")
        return self.read(meta["id"], name) if name else None

    def query(self, *, device: Optional[str] = None, operation: Optional[str] = None, target: Optional[str] = None,
              status: Optional[Union[str, Iterable[str]]] = None, success_only: bool = False,
              kernel: Optional[str] = None, uir_hash: Optional[str] = None, sizes: Optional[Mapping[str, int]] = None,
              session: Optional[str] = None, limit: Optional[int] = None, newest_first: bool = True) -> List[Dict[str, Any]]:
        """Rows of the index. `device`: a case-insensitive part of the device name; `operation`: the
        category or the kernel name; `status`: one status or several; `success_only`: PASSED or SLOWER."""
        where, args = [], []
        if device:
            where.append("LOWER(device) LIKE ? ESCAPE '\\'")
            args.append("%" + _escape(device.lower()) + "%")
        if operation:
            where.append("(LOWER(category) = ? OR LOWER(kernel) = ?)")
            args += [operation.lower(), operation.lower()]
        if target:
            where.append("target = ?")
            args.append(target)
        if status:
            st = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' for _ in st)})")
            args += [s.upper() for s in st]
        if success_only:
            where.append(f"status IN ({', '.join('?' for _ in SUCCESS)})")
            args += list(SUCCESS)
        if kernel:
            where.append("kernel = ?")
            args.append(kernel)
        if uir_hash:
            where.append("uir_hash = ?")
            args.append(uir_hash)
        if sizes is not None:
            where.append("sizes = ?")
            args.append(sizes_key(sizes))
        if session:
            where.append("session = ?")
            args.append(session)
        sql = "SELECT * FROM attempts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created DESC, id DESC" if newest_first else " ORDER BY created, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        con = self.connect()
        try:
            rows = [dict(r) for r in con.execute(sql, args).fetchall()]
        finally:
            con.close()
        for r in rows:
            r["sizes"] = json.loads(r["sizes"]) if r.get("sizes") else {}
            r["verified"] = bool(r.get("verified"))
        return rows

    def best(self, uir_hash: str, target: str, device: str, sizes: Mapping[str, int]) -> Optional[Dict[str, Any]]:
        """The fastest verified passing attempt for this program, target, device and shape."""
        con = self.connect()
        try:
            r = con.execute(
                f"SELECT * FROM attempts WHERE uir_hash = ? AND target = ? AND device = ? AND sizes = ? "
                f"AND verified = 1 AND median_s IS NOT NULL AND status IN ({', '.join('?' for _ in SUCCESS)}) "
                f"ORDER BY median_s LIMIT 1", (uir_hash, target, device, sizes_key(sizes), *SUCCESS)).fetchone()
        finally:
            con.close()
        if r is None:
            return None
        d = dict(r)
        d["sizes"] = json.loads(d["sizes"]) if d.get("sizes") else {}
        return d


def _row(rec: AttemptRecord, source_file: str) -> Dict[str, Any]:
    d = rec.to_json()
    d["sizes"] = sizes_key(rec.sizes)
    d["verified"] = 1 if rec.verified else 0
    d["source_file"] = source_file or None
    return {c: d.get(c) for c in ATTEMPT_COLUMNS}


def _capped(text: str, scrub: Scrubber) -> Optional[str]:
    """`text` scrubbed and cut to MAX_ARCHIVED_CHARS with a closing note; None when it fits.

    Only the head is scrubbed (a 50 MB reply costs no 50 MB of replacing). The cut moves back
    to the start of any secret across it, so no readable prefix of a secret is left at the end."""
    cut = MAX_ARCHIVED_CHARS
    if len(text) <= cut:
        return None
    moved = True
    while moved:  # each move strictly lowers `cut`: this ends
        moved = False
        for v in scrub.values:
            i = text.find(v, max(0, cut - len(v) + 1), cut + len(v) - 1)
            if 0 <= i < cut:
                cut, moved = i, True
    head = scrub.text(text[:cut])[:MAX_ARCHIVED_CHARS]  # redactions may lengthen it; a cut of secret-free text
    return head + f"\n[... truncated by uhopc: {len(text)} characters in all, {cut} kept]\n"


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(s: str) -> str:
    return _escape(s) + "%"
