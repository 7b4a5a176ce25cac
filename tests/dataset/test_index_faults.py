"""The dataset index under faults (issue 14): an empty, garbage, truncated or locked index.sqlite,
deleted or damaged attempt folders, and a dataset path that is a file. Every case is a real SQLite
file and real folders; the CLI runs in-process (`uhop_cc.cli.main`) and, for the end-to-end
check, as a subprocess. A failure is a short message on stderr and a non-zero exit, never a
traceback; `dataset reindex` rebuilds the index from the folders and moves a bad index aside.

Browsing a read-only dataset and campaign: `ai list/show/query`, `dataset analyze/export/fsck`
and `campaign status` work on a folder nobody may write, and never change a byte of it. Run as
root (where chmod stops nothing) the commands run as the user `nobody`, so the permissions are
enforced anyway; where that user cannot run Python, that part is skipped and only the no-change
check runs."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from uhop_cc.campaign.state import CampaignState
from uhop_cc.cli import main
from uhop_cc.dataset import DatasetError
from uhop_cc.dataset.records import AttemptRecord, new_attempt_id
from uhop_cc.dataset.store import DatasetStore

ROOT = Path(__file__).resolve().parents[2]


def archive(root: Path, n: int) -> list:
    """`n` archived attempts (alternately PASSED and INCORRECT); their ids, oldest first."""
    st = DatasetStore(root)
    ids = []
    for i in range(n):
        rec = AttemptRecord(id=new_attempt_id("axpy"), created=f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                            kernel="axpy", uir_hash="h", category="elementwise", target="opencl", device="dev",
                            sizes={"N": 300}, provider="p", model="m", round=1, sample=i,
                            status="PASSED" if i % 2 == 0 else "INCORRECT", median_s=1e-6, verified=i % 2 == 0)
        st.add(rec, {"kernel.cl": f"// kernel {i}\n", "prompt.txt": "the prompt"})
        ids.append(rec.id)
    return ids


def run(capsys, *argv) -> tuple:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.out, out.err


@pytest.fixture
def ds(tmp_path):
    root = tmp_path / "ds"
    return root, archive(root, 6)


@pytest.fixture(autouse=True)
def short_lock_wait(monkeypatch):
    monkeypatch.setenv("UHOP_DATASET_LOCK_TIMEOUT", "0.2")


# ---------------------------------------------------------------- an empty index beside 57 folders
def test_a_zero_byte_index_beside_57_folders_is_reported_and_reindexed(tmp_path, capsys):
    root = tmp_path / "ds"
    ids = archive(root, 57)
    (root / "index.sqlite").write_bytes(b"")
    rc, out, err = run(capsys, "ai", "--dataset", root, "list")
    assert rc == 2 and "57 attempt folders" in err and f"uhopc dataset reindex {root}" in err
    rc, _, err = run(capsys, "dataset", "export", root, "-o", tmp_path / "all.jsonl", "--include-failures")
    assert rc == 0 and "wrote 57 records" in err and "reindex" in err  # read from the folders, and said so
    assert [json.loads(line)["id"] for line in (tmp_path / "all.jsonl").read_text().splitlines()] == sorted(ids)
    rc, out, _ = run(capsys, "dataset", "fsck", root, "--json")
    rep = json.loads(out)
    assert rc == 1 and rep["index_state"] == "empty" and sorted(rep["folders_without_rows"]) == sorted(ids)
    rc, out, _ = run(capsys, "dataset", "reindex", root)
    assert rc == 0 and "indexed 57 attempts" in out
    aside = list(root.glob("index.sqlite.bad-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b""  # moved aside, not deleted
    rc, out, _ = run(capsys, "ai", "--dataset", root, "list", "--json", "--limit", "0")
    assert rc == 0 and {r["id"] for r in json.loads(out)} == set(ids)
    assert run(capsys, "dataset", "fsck", root)[0] == 0


def test_the_cli_as_a_process_says_reindex_for_an_empty_index(tmp_path):
    root = tmp_path / "ds"
    archive(root, 3)
    (root / "index.sqlite").write_bytes(b"")
    p = subprocess.run([sys.executable, "-m", "uhop_cc", "ai", "--dataset", str(root), "list"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "reindex" in p.stderr
    assert len(p.stderr.strip().splitlines()) <= 2


# ---------------------------------------------------------------- garbage and truncated index files
def _damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "garbage":
        db.write_bytes(b"this is not a database\n" * 400)
    else:  # truncated mid-way: the header is fine, the b-tree pages are gone
        assert len(data) > 8192
        db.write_bytes(data[:5000])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_index_is_a_clear_error_and_is_moved_aside_by_reindex(tmp_path, capsys, how):
    root = tmp_path / "ds"
    ids = archive(root, 40)
    db = root / "index.sqlite"
    _damage(db, how)
    bad = db.read_bytes()
    for argv in (["ai", "--dataset", root, "list"], ["ai", "--dataset", root, "query", "--success-only"]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and str(db) in err and "damaged" in err and "reindex" in err
    rc, out, _ = run(capsys, "ai", "--dataset", root, "show", ids[3][:-2], "--json")  # found in its folder
    assert rc == 0 and json.loads(out)["id"] == ids[3]
    rc, out, err = run(capsys, "dataset", "analyze", root, "--json", "--no-reanalyze")
    assert rc == 0 and json.loads(out)["records"] == 40 and "damaged" in err
    rc, out, _ = run(capsys, "dataset", "reindex", root)
    assert rc == 0 and "moved aside" in out
    assert [p.read_bytes() for p in root.glob("index.sqlite.bad-*")] == [bad]
    rc, out, _ = run(capsys, "ai", "--dataset", root, "list", "--json", "--limit", "0")
    assert rc == 0 and len(json.loads(out)) == 40


# ---------------------------------------------------------------- a locked index
def _hold_lock(db: Path, journal: str):
    """Another connection holding BEGIN EXCLUSIVE on the index until the returned event is set."""
    ready, release = threading.Event(), threading.Event()

    def hold():
        con = sqlite3.connect(str(db), isolation_level=None)
        con.execute(f"PRAGMA journal_mode = {journal}")
        con.execute("BEGIN EXCLUSIVE")
        ready.set()
        release.wait(30)
        con.execute("ROLLBACK")
        con.close()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    assert ready.wait(10)
    return release, t


def test_a_locked_index_is_a_clear_error_naming_the_file(ds, capsys, tmp_path):
    root, ids = ds
    db = root / "index.sqlite"
    release, t = _hold_lock(db, "DELETE")  # a rollback-journal lock also shuts readers out
    try:
        rc, _, err = run(capsys, "ai", "--dataset", root, "list")
        assert rc == 2 and f"{db} is locked" in err and len(err.strip().splitlines()) == 1
        rc, _, err = run(capsys, "dataset", "reindex", root)
        assert rc == 2 and f"{db} is locked" in err
        rc, _, err = run(capsys, "dataset", "fsck", root)
        assert rc == 2 and "locked" in err
        rc, _, err = run(capsys, "dataset", "export", root, "-o", tmp_path / "x.jsonl", "--include-failures")
        assert rc == 0 and "wrote 6 records" in err and "locked" in err  # the folders still answer
    finally:
        release.set()
        t.join()
    assert not list(root.glob("index.sqlite.bad-*"))  # a lock is not damage: nothing was moved


def test_a_wal_writer_lock_leaves_browsing_working_and_reindex_waits_then_says_so(ds, capsys):
    root, ids = ds
    release, t = _hold_lock(root / "index.sqlite", "WAL")
    try:
        rc, out, _ = run(capsys, "ai", "--dataset", root, "list", "--json")
        assert rc == 0 and len(json.loads(out)) == 6
        rc, _, err = run(capsys, "dataset", "reindex", root)
        assert rc == 2 and "is locked by another process" in err
    finally:
        release.set()
        t.join()


# ---------------------------------------------------------------- deleted and damaged folders
def test_deleted_folders_are_named_not_crashed_on_and_not_silently_skipped(ds, capsys, tmp_path):
    root, ids = ds
    for i in (ids[0], ids[2]):
        for f in (root / i).iterdir():
            f.unlink()
        (root / i).rmdir()
    (root / ids[4] / "metadata.json").write_text("{not json")
    rc, _, err = run(capsys, "ai", "--dataset", root, "show", ids[0])
    assert rc == 2 and "missing" in err and "fsck" in err
    rc, _, err = run(capsys, "ai", "--dataset", root, "rerun", ids[2])
    assert rc == 2 and "missing" in err
    rc, _, err = run(capsys, "dataset", "export", root, "-o", tmp_path / "p.jsonl")
    assert rc == 1 and "skipped 3 records" in err
    assert ids[0] in err and ids[2] in err and ids[4] in err and "folder is missing" in err
    assert "wrote 0 records" in err  # the only passing records left were skipped
    rc, out, err = run(capsys, "dataset", "analyze", root, "--no-reanalyze")
    assert rc == 1 and "skipped 3 records" in err and "skipped 3 records" in out
    rc, out, _ = run(capsys, "dataset", "fsck", root, "--json")
    rep = json.loads(out)
    assert rc == 1 and sorted(rep["rows_without_folders"]) == sorted([ids[0], ids[2]])
    assert [u["id"] for u in rep["unreadable"]] == [ids[4]] and rep["folders_without_rows"] == []
    rc, out, err = run(capsys, "dataset", "reindex", root)
    assert rc == 1 and "2 rows without folders dropped" in out and ids[4] in out
    backups = list(root.glob("index.sqlite.bak-*"))
    assert len(backups) == 1  # the rows that went are kept in a copy
    con = sqlite3.connect(str(backups[0]))
    assert {r[0] for r in con.execute("SELECT id FROM attempts")} == set(ids)
    con.close()
    assert (root / ids[4] / "metadata.json").read_text() == "{not json"  # reported, never deleted


def test_folders_missing_from_the_index_are_reported_and_added_back(ds, capsys):
    root, ids = ds
    con = sqlite3.connect(str(root / "index.sqlite"))
    with con:
        con.execute("DELETE FROM attempts WHERE id IN (?, ?)", (ids[1], ids[5]))
    con.close()
    rc, out, err = run(capsys, "ai", "--dataset", root, "list", "--json")
    assert rc == 0 and len(json.loads(out)) == 4
    assert "2 attempt folders are not in the index" in err and ids[1] in err
    rc, out, _ = run(capsys, "dataset", "reindex", root, "--json")
    res = json.loads(out)
    assert rc == 0 and res["indexed"] == 6 and sorted(res["added"]) == sorted([ids[1], ids[5]])
    assert res["backup"] is None and res["moved_aside"] is None
    assert len(DatasetStore(root).query()) == 6


# ---------------------------------------------------------------- a path that is a file
def test_a_dataset_path_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        DatasetStore(f)
    for argv in (["ai", "--dataset", f, "list"], ["ai", "--dataset", f, "show", "x"],
                 ["dataset", "reindex", f], ["dataset", "fsck", f], ["dataset", "export", f, "-o", tmp_path / "o"]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and str(f) in err, argv
    assert f.read_text() == "x"


# ---------------------------------------------------------------- a read-only dataset and campaign
NOBODY = 65534
SIDECARS = ("-wal", "-shm")  # SQLite's own companions of a WAL database, not the data


@pytest.fixture
def world(tmp_path):
    """A campaign folder (state.sqlite + dataset/) that others may read, in /tmp so `nobody` can reach it."""
    base = Path(tempfile.mkdtemp(prefix="uhopc-ro-"))
    base.chmod(0o755)
    camp = base / "camp"
    ids = archive(camp / "dataset", 5)
    st = CampaignState(camp)
    st.claim("fp", {"name": "ro-test", "records_per_category": 2, "categories": ["elementwise"]})
    st.close()
    out = base / "out"
    out.mkdir()
    out.chmod(0o777)
    yield camp, ids, out
    for p in [base, *base.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def _freeze(folder: Path) -> None:
    for p in sorted(folder.rglob("*"), reverse=True) + [folder]:
        p.chmod(0o555 if p.is_dir() else 0o444)


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(SIDECARS)}


def _browse(camp: Path, ids: list, out: Path) -> list:
    ds = camp / "dataset"
    return [["ai", "--dataset", ds, "list", "--json"], ["ai", "--dataset", ds, "show", ids[0], "--source"],
            ["ai", "--dataset", ds, "query", "--success-only", "--json"],
            ["dataset", "analyze", camp, "--json", "--no-reanalyze"],
            ["dataset", "export", camp, "-o", out / "x.jsonl", "--include-failures"],
            ["dataset", "fsck", ds], ["campaign", "status", camp]]


def test_browsing_never_changes_the_dataset(world, capsys):
    camp, ids, out = world
    _freeze(camp)
    before = _snapshot(camp)
    for argv in _browse(camp, ids, out):
        rc = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert rc == 0 and "Traceback" not in err and "warning" not in err, (argv, err)
    assert _snapshot(camp) == before
    assert len((out / "x.jsonl").read_text().splitlines()) == 5


def _as_reader():
    """The command prefix that runs as `nobody` when we are root ([] otherwise: chmod already
    binds); None when there is no way to drop root here."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if setpriv else None


def test_browsing_works_where_the_folder_cannot_be_written(world):
    camp, ids, out = world
    _freeze(camp)
    env = dict(os.environ, HOME=str(out), PYTHONDONTWRITEBYTECODE="1")
    reader = _as_reader()
    if reader is None:
        pytest.skip("running as root without setpriv: cannot drop to an unprivileged user")
    probe = subprocess.run([*reader, sys.executable, "-c", "import uhop_cc.cli"], cwd=ROOT, env=env,
                           capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"cannot run the CLI as an unprivileged user here: {probe.stderr.decode()[-200:]}")
    db = camp / "dataset" / "index.sqlite"
    write = subprocess.run([*reader, sys.executable, "-c", f"open({str(db.parent / 'probe')!r}, 'w')"],
                           env=env, capture_output=True, timeout=60)
    assert write.returncode != 0  # the folder really is read-only to the commands below
    before = _snapshot(camp)
    for argv in _browse(camp, ids, out):
        p = subprocess.run([*reader, sys.executable, "-m", "uhop_cc", *map(str, argv)], cwd=ROOT, env=env,
                           text=True, capture_output=True, timeout=300)
        assert p.returncode == 0 and "Traceback" not in p.stderr, (argv, p.stderr)
        if argv[0] == "ai" and argv[3] in ("list", "query"):
            assert len(json.loads(p.stdout)) == (5 if argv[3] == "list" else 3)
    assert _snapshot(camp) == before
    assert not (stat.S_IMODE(db.stat().st_mode) & 0o222)
