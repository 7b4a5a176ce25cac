"""Campaign drivers as real processes under faults: a second run on a busy directory, a stale lock
left by a SIGKILLed driver, and the pool workers of a SIGKILLed driver (issue 14)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from campaign_helpers import ROOT, cli, needs_opencl, records

from uhop_cc.campaign.lock import LOCK_NAME, lock_owner

pytestmark = [pytest.mark.opencl, needs_opencl,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def write_config(tmp_path: Path, *, workers: int, records_per_category: int, batch_size: int = 2) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent(f"""
        [campaign]
        name = "faults"
        seed = 7
        categories = ["arithmetic", "reduction", "transform", "select"]
        records_per_category = {records_per_category}
        out = "{tmp_path / 'out'}"
        [shapes]
        max_elements = 512
        max_size = 24
        [runner]
        workers = {workers}
        batch_size = {batch_size}
        progress = false
        [validation]
        time_budget_s = 0.005
    """))
    return cfg


def start_driver(cfg: Path, log: Path, *extra: str) -> subprocess.Popen:
    """`uhopc campaign run CFG` as a process of its own session (stdout -> log.out, stderr -> log.err)."""
    return subprocess.Popen([sys.executable, "-m", "uhop_cc", "campaign", "run", str(cfg), "--no-progress", *extra],
                            cwd=str(ROOT), env=ENV, start_new_session=True,
                            stdout=open(f"{log}.out", "w"), stderr=open(f"{log}.err", "w"))


def start_time(pid: int):
    """The kernel's start time of `pid` (None: gone or a zombie), so a reused pid is not mistaken."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def children(pid: int) -> dict:
    """pid -> (start time, command) of the live children of `pid`."""
    out = {}
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = f.read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            try:
                cmd = Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            out[k] = (start_time(k), cmd)
    return out


def workers_of(pid: int) -> dict:
    return {k: v for k, v in children(pid).items() if "spawn_main" in v[1]}


def wait_for(cond, timeout: float, what: str, proc: subprocess.Popen = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the driver exited ({proc.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def kill_all(procs, pids=()):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
    for pid in pids:  # orphans the code under test failed to stop
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_second_run_on_a_busy_directory_is_refused(tmp_path):
    cfg = write_config(tmp_path, workers=2, records_per_category=5)
    first = start_driver(cfg, tmp_path / "first", "--json")
    second = None
    try:
        # the lock is taken before the pool starts: once there are workers, the first run holds it
        wait_for(lambda: workers_of(first.pid), 60, "the first run's workers", first)
        second = start_driver(cfg, tmp_path / "second")
        assert second.wait(60) == 2
        err = (tmp_path / "second.err").read_text()
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"pid {first.pid}" in err and "in use by another run" in err and "campaign run" in err
        assert first.poll() is None, "the first run ended before the second was refused: the test proved nothing"
        assert first.wait(120) == 0, (tmp_path / "first.err").read_text()
    finally:
        kill_all([p for p in (first, second) if p is not None])
    res = json.loads((tmp_path / "first.out").read_text())
    assert res["complete"] and not res["resumed"] and res["records_this_run"] == 20
    passed = [r for r in records(tmp_path / "out" / "dataset") if r["status"] == "PASSED"]
    assert len(passed) == 20 and len({r["id"] for r in passed}) == 20
    assert lock_owner(tmp_path / "out" / LOCK_NAME) == {}  # released, no stale details left


def test_stale_lock_of_a_killed_driver_does_not_block_a_resume(tmp_path, capsys):
    cfg = write_config(tmp_path, workers=0, records_per_category=3)
    out = tmp_path / "out"
    driver = start_driver(cfg, tmp_path / "killed")
    try:
        wait_for(lambda: (out / "dataset").is_dir() and records(out / "dataset"), 60, "a first record", driver)
        os.killpg(driver.pid, signal.SIGKILL)  # no chance to release anything
        driver.wait(10)
    finally:
        kill_all([driver])
    stale = lock_owner(out / LOCK_NAME)
    assert stale.get("pid") == driver.pid and "campaign run" in stale.get("command", "")
    assert cli(["campaign", "run", cfg, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["resumed"] and res["complete"]
    passed = [r for r in records(out / "dataset") if r["status"] == "PASSED"]
    assert len(passed) == 12 and len({r["extra"]["campaign"]["program_id"] for r in passed}) == 12
    assert lock_owner(out / LOCK_NAME) == {}


def test_workers_die_with_a_killed_driver(tmp_path):
    cfg = write_config(tmp_path, workers=2, records_per_category=20)
    out = tmp_path / "out"
    driver = start_driver(cfg, tmp_path / "driver")
    kids: dict = {}
    try:
        wait_for(lambda: len(workers_of(driver.pid)) == 2, 60, "two workers", driver)
        # workers that have produced results have surely run their initializer
        wait_for(lambda: (out / "dataset").is_dir() and records(out / "dataset"), 60, "a first record", driver)
        kids = children(driver.pid)  # the workers and multiprocessing's resource tracker
        assert len(workers_of(driver.pid)) == 2
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone: its workers are not signalled
        driver.wait(10)
        t0 = time.time()
        deadline = t0 + 5
        while time.time() < deadline and any(start_time(k) == st for k, (st, _c) in kids.items()):
            time.sleep(0.02)
        alive = [k for k, (st, _c) in kids.items() if start_time(k) == st]
        assert not alive, f"orphaned after {time.time() - t0:.1f}s: {[kids[k][1] for k in alive]}"
    finally:
        kill_all([driver], pids=[k for k, (st, _c) in kids.items() if start_time(k) == st])


WATCHED = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", '''
    import os, sys, time
    from uhop_cc.campaign import lifeline
    lifeline.set_parent_death_signal = lambda *a: False  # as where prctl is missing: the watchdog
    lifeline.die_with_parent(os.getppid(), interval_s=0.05)
    print("armed", flush=True)
    time.sleep(60)
    '''], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "armed"
    print(child.pid, flush=True)
    time.sleep(60)
""")


def test_lifeline_without_prctl_and_after_the_parent_died():
    # the parent already gone when the worker starts: exit at once (prctl would never fire)
    late = subprocess.run([sys.executable, "-c", "from uhop_cc.campaign.lifeline import die_with_parent\n"
                           "die_with_parent(-1)\nprint('survived')"], env=ENV, capture_output=True, text=True,
                          timeout=30)
    assert late.returncode == 1 and "survived" not in late.stdout
    parent = subprocess.Popen([sys.executable, "-c", WATCHED], env=ENV, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    child, born = None, None
    try:
        child = int(parent.stdout.readline())
        born = start_time(child)
        assert born is not None
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.time() + 3
        while time.time() < deadline and start_time(child) == born:
            time.sleep(0.02)
        assert start_time(child) != born, "the watchdog did not end the orphan"
    finally:
        kill_all([parent], pids=[child] if child and born and start_time(child) == born else [])


def test_a_damaged_state_file_is_refused_and_left_as_it_is(tmp_path):
    """`campaign run` on a folder whose state.sqlite is garbage: exit 2 naming the file (it used to
    end in an sqlite traceback), the file untouched."""
    cfg = write_config(tmp_path, workers=0, records_per_category=1)
    out = tmp_path / "out"
    out.mkdir()
    garbage = b"garbage garbage " * 100
    (out / "state.sqlite").write_bytes(garbage)
    r = subprocess.run([sys.executable, "-m", "uhop_cc", "campaign", "run", str(cfg), "--no-progress"],
                       cwd=str(ROOT), env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "state.sqlite is damaged" in r.stderr, r.stderr
    assert (out / "state.sqlite").read_bytes() == garbage
