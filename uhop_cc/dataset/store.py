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

Reading (query, get, resolve, best) opens the index read-only and never writes the dataset;
SQLite failures reach the caller as index.DatasetError, a message naming the file. An attempt
in a folder but not in the index is still found by `get`; `rebuild_index` moves a damaged index
aside (index.sqlite.bad-<timestamp>), never deletes it.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .index import INDEX_NAME, DatasetError, attempt_folders, check_root, index_error, move_aside, open_index
from .records import SUCCESS, AttemptRecord, Scrubber

__all__ = ["default_dir", "DatasetStore", "sizes_key", "ATTEMPT_COLUMNS", "MAX_ARCHIVED_CHARS", "DatasetError",
           "ReindexResult", "read_record"]

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


@dataclass
class ReindexResult:
    """What `rebuild_index` did: rows written, added and dropped (folders gone), records it could
    not read (id, why), and where an old index went (moved aside when damaged, copied before rows
    were dropped)."""
    indexed: int = 0
    added: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    unreadable: List[Tuple[str, str]] = field(default_factory=list)
    moved_aside: Optional[Path] = None
    backup: Optional[Path] = None


def read_record(folder: Path) -> Dict[str, Any]:
    """metadata.json of an attempt folder, checked to be a record of that folder. Raises
    DatasetError (kind unreadable_record, or missing_folder) saying why."""
    path = folder / "metadata.json"
    if not folder.is_dir():
        raise DatasetError(f"attempt folder {folder} is missing", folder, "missing_folder")
    try:
        meta = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        AttemptRecord.from_json(meta)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing", path, "unreadable_record") from None
    except OSError as e:
        raise DatasetError(f"cannot read {path} ({e.strerror or e})", path, "unreadable_record") from None
    except (ValueError, TypeError) as e:
        raise DatasetError(f"{path} is not a valid record ({e})", path, "unreadable_record") from None
    if meta.get("id") != folder.name:
        raise DatasetError(f"{path} holds attempt {meta.get('id')!r}, not {folder.name!r}", path, "unreadable_record")
    return meta


class DatasetStore:
    def __init__(self, root: Optional[Union[str, Path]] = None):
        self.root = Path(root).expanduser() if root is not None else default_dir()
        check_root(self.root)

    @property
    def db_path(self) -> Path:
        return self.root / INDEX_NAME

    # ------------------------------------------------------------ connection
    def connect(self) -> sqlite3.Connection:
        """A read-write connection; creates the folder and the schema. Raises DatasetError."""
        check_root(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DatasetError(f"cannot create dataset directory {self.root} ({e.strerror or e})", self.root,
                               "readonly") from None
        con = open_index(self.db_path, readonly=False)
        try:
            with _ready_lock:  # cheap: CREATE ... IF NOT EXISTS; WAL mode persists in the file
                con.execute("PRAGMA journal_mode = WAL")
                con.executescript(_SCHEMA)
                con.commit()
        except sqlite3.Error as e:
            con.close()
            raise index_error(e, self.db_path, "preparing it") from None
        return con

    def _read_rows(self, sql: str, args: Iterable[Any] = ()) -> List[sqlite3.Row]:
        """Rows of a read-only query; [] when there is no index yet. Raises DatasetError."""
        con = open_index(self.db_path, readonly=True)
        if con is None:
            return []
        try:
            return con.execute(sql, list(args)).fetchall()
        except sqlite3.Error as e:
            err = index_error(e, self.db_path)
            if err.kind == "empty" and not attempt_folders(self.root):
                return []  # an index created but never written, and nothing archived: empty, not broken
            raise err from None
        finally:
            con.close()

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
                con.execute(_INSERT, [row[c] for c in ATTEMPT_COLUMNS])
        except sqlite3.Error as e:
            raise index_error(e, self.db_path, "archiving an attempt") from None
        finally:
            con.close()

    def reindex(self) -> int:
        """Rebuild the rows from the folders (after a crash between rename and insert); the count."""
        return self.rebuild_index().indexed

    def rebuild_index(self) -> ReindexResult:
        """Make the index match the folders, the source of truth: index every readable record,
        keep the rows of unreadable ones, drop rows whose folder is gone (after copying the old index to index.sqlite.bak-<time>),
        and move a damaged index aside to index.sqlite.bad-<time> first. The best-kernel cache of a
        sound index is kept. Raises DatasetError (locked, read-only)."""
        res = ReindexResult()
        if not self.root.is_dir():
            check_root(self.root)
            return res
        rows: Dict[str, Dict[str, Any]] = {}
        for attempt_id, folder in attempt_folders(self.root).items():
            try:
                meta = read_record(folder)
                rows[attempt_id] = _row(AttemptRecord.from_json(meta), meta.get("source_file") or "")
            except DatasetError as e:
                res.unreadable.append((attempt_id, str(e)))
        res.moved_aside = self._set_aside_if_damaged()
        con = self.connect()
        try:
            old = {r["id"] for r in con.execute("SELECT id FROM attempts")}
            kept = {i for i, _ in res.unreadable}  # a folder is still there: its row stays until it is mended
            res.dropped = sorted(old - set(rows) - kept)
            res.added = sorted(set(rows) - old)
            if res.dropped:  # rows are about to go: keep a copy of the index that had them
                res.backup = _backup(con, self.db_path)
            con.execute("BEGIN IMMEDIATE")
            con.executemany("DELETE FROM attempts WHERE id = ?", [(i,) for i in res.dropped])
            con.executemany(_INSERT, [[r[c] for c in ATTEMPT_COLUMNS] for r in rows.values()])
            con.commit()
        except sqlite3.Error as e:
            raise index_error(e, self.db_path, "rebuilding it") from None
        finally:
            con.close()
        res.indexed = len(rows)
        return res

    def _set_aside_if_damaged(self) -> Optional[Path]:
        """Move an index SQLite cannot use aside; None when it is sound (or absent)."""
        if not self.db_path.exists():
            return None
        try:
            con = open_index(self.db_path, readonly=False)
        except DatasetError as e:
            if e.kind != "damaged":
                raise
            return move_aside(self.db_path)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            con.execute("SELECT id FROM attempts LIMIT 1").fetchall()
        except sqlite3.Error as e:
            err = index_error(e, self.db_path, "rebuilding it")
            if err.kind not in ("damaged", "empty"):
                raise err from None
            ok = False
        finally:
            con.close()
        return None if ok else move_aside(self.db_path)

    # ------------------------------------------------------------ reading
    def resolve(self, attempt_id: str) -> str:
        """The full id of `attempt_id` (a unique prefix is enough); the folders answer where the
        index does not know the id. Raises KeyError (unknown, ambiguous) or DatasetError."""
        attempt_id = attempt_id.strip()
        if not attempt_id or "/" in attempt_id or "\\" in attempt_id or attempt_id.startswith("."):
            raise KeyError(f"no attempt {attempt_id!r} in {self.root}")
        try:
            ids = [r["id"] for r in self._read_rows(
                "SELECT id FROM attempts WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 3",
                (attempt_id, _like_prefix(attempt_id)))]
        except DatasetError:
            ids = []  # a broken index: the folders still say which attempts exist
        if not ids:
            ids = [i for i in attempt_folders(self.root) if i.startswith(attempt_id)][:3]
        if attempt_id in ids:
            return attempt_id
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise KeyError(f"no attempt {attempt_id!r} in {self.root}")
        raise KeyError(f"{attempt_id!r} is ambiguous ({', '.join(ids)}, ...)")

    def get(self, attempt_id: str) -> Dict[str, Any]:
        """metadata.json of an attempt, with its folder and file list. Raises KeyError, or
        DatasetError when the index names an attempt whose folder or metadata is gone."""
        full = self.resolve(attempt_id)
        folder = self.root / full
        try:
            meta = read_record(folder)
        except DatasetError as e:
            raise DatasetError(f"attempt {full} cannot be read: {e}; "
                               f"run `uhopc dataset fsck {self.root}`", e.path, e.kind) from None
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
        """Rows of the index (read-only). `device`: a case-insensitive part of the device name;
        `operation`: the category or the kernel name; `status`: one status or several;
        `success_only`: PASSED or SLOWER. Raises DatasetError for an index it cannot read."""
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
        for col, val in (("kernel", kernel), ("uir_hash", uir_hash), ("session", session)):
            if val:
                where.append(f"{col} = ?")
                args.append(val)
        if sizes is not None:
            where.append("sizes = ?")
            args.append(sizes_key(sizes))
        sql = "SELECT * FROM attempts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created DESC, id DESC" if newest_first else " ORDER BY created, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = [dict(r) for r in self._read_rows(sql, args)]
        for r in rows:
            r["sizes"] = json.loads(r["sizes"]) if r.get("sizes") else {}
            r["verified"] = bool(r.get("verified"))
        return rows

    def best(self, uir_hash: str, target: str, device: str, sizes: Mapping[str, int]) -> Optional[Dict[str, Any]]:
        """The fastest verified passing attempt for this program, target, device and shape."""
        rows = self._read_rows(
            f"SELECT * FROM attempts WHERE uir_hash = ? AND target = ? AND device = ? AND sizes = ? "
            f"AND verified = 1 AND median_s IS NOT NULL AND status IN ({', '.join('?' for _ in SUCCESS)}) "
            f"ORDER BY median_s LIMIT 1", (uir_hash, target, device, sizes_key(sizes), *SUCCESS))
        if not rows:
            return None
        d = dict(rows[0])
        d["sizes"] = json.loads(d["sizes"]) if d.get("sizes") else {}
        return d


_INSERT = (f"INSERT OR REPLACE INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in ATTEMPT_COLUMNS)})")


def _backup(con: sqlite3.Connection, db_path: Path) -> Path:
    """A consistent copy of the open index beside it (SQLite's online backup)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    dest = db_path.with_name(f"{db_path.name}.bak-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = db_path.with_name(f"{db_path.name}.bak-{stamp}-{n}")
    out = sqlite3.connect(str(dest))
    try:
        con.backup(out)
    finally:
        out.close()
    return dest


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
