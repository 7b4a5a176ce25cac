"""The campaign directory's state: what was planned, what is done, what was seen (SQLite, WAL).

    <out>/state.sqlite
      meta      key/value: config fingerprint, created, runs
      programs  one row per generated program: (category, n) -> seed, uir key, status
                (planned | duplicate | invalid)
      items     one row per (program, target, device): status pending -> [writing ->] done,
                or reserved (a passing record held back by category balancing), duplicate, error
      seen      dedup keys (kind 'uir' / 'kernel') -> the item that claimed them
      reserve   the held-back records (record JSON and files), released when their category is behind

Every transition is one transaction. A record is written to the dataset between 'writing' and
'done' under a deterministic id, so after a crash a 'writing' item whose folder exists is
simply marked done, and one whose folder does not is run again: nothing is lost or repeated.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..dataset.index import open_index

__all__ = ["CampaignState", "StateError", "now_iso"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS programs (
    program_id TEXT PRIMARY KEY, category TEXT NOT NULL, n INTEGER NOT NULL, seed INTEGER NOT NULL,
    name TEXT, variant TEXT, uir_key TEXT, status TEXT NOT NULL, reason TEXT, created TEXT,
    UNIQUE (category, n));
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, category TEXT NOT NULL, grp TEXT NOT NULL,
    target TEXT NOT NULL, device TEXT NOT NULL, status TEXT NOT NULL, record_id TEXT, record_status TEXT,
    kernel_key TEXT, lowered TEXT, reason TEXT, seconds REAL, updated TEXT);
CREATE INDEX IF NOT EXISTS items_status ON items (status);
CREATE TABLE IF NOT EXISTS seen (kind TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS reserve (
    item_id TEXT PRIMARY KEY, category TEXT NOT NULL, grp TEXT NOT NULL, payload TEXT NOT NULL, created TEXT);
"""

FINISHED = ("done", "reserved", "duplicate", "error")


class StateError(RuntimeError):
    pass


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}Z"


class CampaignState:
    def __init__(self, out_dir: Path, readonly: bool = False):
        self.dir = Path(out_dir)
        self.path = self.dir / "state.sqlite"
        if readonly:  # `campaign status`: browse a (possibly read-only) directory without writing it
            self.con = open_index(self.path, readonly=True)  # DatasetError names the file when it cannot
            if self.con is None:
                raise StateError(f"{self.dir} is not a campaign directory (no state.sqlite)")
            self.con.isolation_level = None
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        self.con.row_factory = sqlite3.Row
        try:
            self.con.execute("PRAGMA journal_mode = WAL")
            self.con.execute("PRAGMA synchronous = NORMAL")
            self.con.execute("PRAGMA busy_timeout = 60000")
            self.con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:  # a damaged or foreign file: never overwrite it
            self.con.close()
            raise StateError(f"{self.path} is damaged or not a campaign state file ({e}); it was left "
                             "as it is: move it aside to start a new campaign in this folder") from None

    @classmethod
    def exists(cls, out_dir: Path) -> bool:
        return (Path(out_dir) / "state.sqlite").is_file()

    def close(self) -> None:
        try:
            self.con.close()
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------ transactions
    def tx(self):
        return _Tx(self.con)

    # ------------------------------------------------------------ meta
    def get_meta(self, key: str, default: Optional[str] = None) -> Optional[str]:
        r = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return r["value"] if r else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.tx():
            self.con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, value if isinstance(value, str) else json.dumps(value)))

    def claim(self, fingerprint: str, config_json: Dict[str, Any], force: bool = False) -> bool:
        """Bind the directory to a config; True when resuming an existing campaign."""
        old = self.get_meta("fingerprint")
        if old is not None and old != fingerprint and not force:
            raise StateError(f"{self.dir} holds a campaign with another configuration (fingerprint {old}, "
                             f"this config {fingerprint}); use another output directory")
        with self.tx():
            if old is None:
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('created', ?)", (now_iso(),))
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (json.dumps(config_json),))
            runs = int(self.get_meta("runs", "0") or 0) + 1
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('runs', ?)", (str(runs),))
        return old is not None

    # ------------------------------------------------------------ planning
    def next_n(self) -> Dict[str, int]:
        return {r["category"]: r["m"] + 1 for r in
                self.con.execute("SELECT category, MAX(n) AS m FROM programs GROUP BY category")}

    def programs_per_category(self) -> Dict[str, int]:
        return {r["category"]: r["c"] for r in
                self.con.execute("SELECT category, COUNT(*) AS c FROM programs GROUP BY category")}

    def add_program(self, program_id: str, category: str, n: int, seed: int, name: str, variant: str,
                    uir_key: Optional[str], status: str, reason: str = "",
                    items: Iterable[Tuple[str, str, str, str]] = ()) -> None:
        """Insert a program and its work items (item_id, group, target, device) in one transaction;
        a planned program claims its UIR key."""
        with self.tx():
            self.con.execute("INSERT INTO programs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (program_id, category, n, seed, name, variant, uir_key, status, reason, now_iso()))
            if status == "planned":
                if uir_key:
                    self.con.execute("INSERT OR IGNORE INTO seen VALUES ('uir', ?, ?)", (uir_key, program_id))
                for item_id, grp, target, device in items:
                    self.con.execute("INSERT INTO items (item_id, program_id, category, grp, target, device, status, "
                                     "updated) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                                     (item_id, program_id, category, grp, target, device, now_iso()))

    def seen(self, kind: str, key: str) -> bool:
        return self.con.execute("SELECT 1 FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone() is not None

    def seen_keys(self) -> List[Tuple[str, str]]:
        return [(r["kind"], r["key"]) for r in self.con.execute("SELECT kind, key FROM seen")]

    # ------------------------------------------------------------ items
    def pending_items(self) -> List[Dict[str, Any]]:
        """Items planned but not finished (by an earlier, interrupted run), oldest first."""
        rows = self.con.execute(
            "SELECT i.*, p.n, p.seed, p.name, p.uir_key FROM items i JOIN programs p USING (program_id) "
            "WHERE i.status = 'pending' ORDER BY p.created, i.item_id").fetchall()
        return [dict(r) for r in rows]

    def writing_items(self) -> List[Dict[str, Any]]:
        return [dict(r) for r in self.con.execute("SELECT * FROM items WHERE status = 'writing'")]

    def begin_write(self, item_id: str, record_id: str, record_status: Optional[str] = None,
                    kernel_key: Optional[str] = None, lowered: Optional[str] = None) -> None:
        with self.tx():
            self.con.execute("UPDATE items SET status = 'writing', record_id = ?, record_status = ?, kernel_key = ?, "
                             "lowered = ?, updated = ? WHERE item_id = ?",
                             (record_id, record_status, kernel_key, lowered, now_iso(), item_id))

    def finish(self, item_id: str, status: str, *, record_id: Optional[str] = None,
               record_status: Optional[str] = None, kernel_key: Optional[str] = None, lowered: Optional[str] = None,
               reason: str = "", seconds: Optional[float] = None, claim_kernel: bool = False,
               reserve_payload: Optional[Dict[str, Any]] = None, unreserve: bool = False) -> None:
        with self.tx():
            self.con.execute(
                "UPDATE items SET status = ?, record_id = COALESCE(?, record_id), "
                "record_status = COALESCE(?, record_status), kernel_key = COALESCE(?, kernel_key), "
                "lowered = COALESCE(?, lowered), reason = ?, seconds = COALESCE(?, seconds), updated = ? "
                "WHERE item_id = ?",
                (status, record_id, record_status, kernel_key, lowered, reason, seconds, now_iso(), item_id))
            if claim_kernel and kernel_key:
                self.con.execute("INSERT OR IGNORE INTO seen VALUES ('kernel', ?, ?)", (kernel_key, item_id))
            if reserve_payload is not None:
                row = self.con.execute("SELECT category, grp FROM items WHERE item_id = ?", (item_id,)).fetchone()
                self.con.execute("INSERT OR REPLACE INTO reserve VALUES (?, ?, ?, ?, ?)",
                                 (item_id, row["category"], row["grp"], json.dumps(reserve_payload), now_iso()))
            if unreserve:
                self.con.execute("DELETE FROM reserve WHERE item_id = ?", (item_id,))

    def reserved(self, grp: str, category: str) -> Optional[Tuple[str, Dict[str, Any]]]:
        r = self.con.execute("SELECT item_id, payload FROM reserve WHERE grp = ? AND category = ? "
                             "ORDER BY created, item_id LIMIT 1", (grp, category)).fetchone()
        return (r["item_id"], json.loads(r["payload"])) if r else None

    def reserve_counts(self) -> Dict[Tuple[str, str], int]:
        return {(r["grp"], r["category"]): r["c"] for r in
                self.con.execute("SELECT grp, category, COUNT(*) AS c FROM reserve GROUP BY grp, category")}

    def written_counts(self) -> Dict[Tuple[str, str], int]:
        """Passing records written to the dataset, per (group, category): what balancing counts."""
        return {(r["grp"], r["category"]): r["c"] for r in self.con.execute(
            "SELECT grp, category, COUNT(*) AS c FROM items WHERE status = 'done' "
            "AND record_status IN ('PASSED', 'SLOWER') GROUP BY grp, category")}

    # ------------------------------------------------------------ statistics
    def summary(self) -> Dict[str, Any]:
        """Counts for status displays and quality metrics (success rate and failure reasons per category)."""
        per: Dict[str, Dict[str, int]] = defaultdict(lambda: Counter())
        reasons: Dict[str, Counter] = defaultdict(Counter)
        statuses: Counter = Counter()
        lowered: Counter = Counter()
        for r in self.con.execute("SELECT category, status, record_status, reason, lowered FROM items"):
            c = per[r["category"]]
            c["items"] += 1
            c[r["status"]] += 1
            if r["status"] in ("done", "reserved") and r["record_status"]:
                statuses[r["record_status"]] += 1
                if r["record_status"] in ("PASSED", "SLOWER"):
                    c["passed"] += 1
                    if r["status"] == "done":
                        c["records"] += 1
                else:
                    c["failed"] += 1
                    if r["status"] == "done":
                        c["failure_records"] += 1
                    reasons[r["category"]][f"{r['record_status']}: {_short(r['reason'])}"] += 1
            elif r["status"] == "error":
                c["failed"] += 1
                reasons[r["category"]][f"ERROR: {_short(r['reason'])}"] += 1
            if r["lowered"]:
                lowered[r["lowered"]] += 1
        progs: Dict[str, Counter] = defaultdict(Counter)
        for r in self.con.execute("SELECT category, status, reason FROM programs"):
            progs[r["category"]][r["status"]] += 1
            if r["status"] == "invalid":
                reasons[r["category"]][f"GENERATOR: {_short(r['reason'])}"] += 1
        cats = sorted(set(per) | set(progs))
        out: Dict[str, Any] = {"categories": {}, "statuses": dict(statuses), "lowered": dict(lowered)}
        for c in cats:
            p, g = per[c], progs[c]
            tested = p.get("passed", 0) + p.get("failed", 0)
            out["categories"][c] = {
                "programs": sum(g.values()), "duplicates": g.get("duplicate", 0) + p.get("duplicate", 0),
                "invalid": g.get("invalid", 0), "items": p.get("items", 0), "pending": p.get("pending", 0),
                "records": p.get("records", 0), "reserved": p.get("reserved", 0), "passed": p.get("passed", 0),
                "failed": p.get("failed", 0), "failure_records": p.get("failure_records", 0),
                "success_rate": round(p.get("passed", 0) / tested, 4) if tested else None,
                "failure_reasons": dict(reasons[c].most_common(10)),
            }
        return out


def _short(reason: Optional[str], n: int = 90) -> str:
    text = (reason or "").strip().splitlines()[0] if reason else ""
    # drop the numbers that make every reason unique (counts, indices, values)
    import re
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return text[:n]


class _Tx:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")
        return False
