"""`uhopc compile -o` under faults (issue 14): a bad destination is refused before any work,
and an output folder is either the whole new output or left exactly as it was -- a full disk
(RLIMIT_FSIZE in the child, SIGXFSZ ignored so writes fail with EFBIG) must not leave a
truncated kernel next to another run's report, nor a temporary folder."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELU = str(ROOT / "examples" / "relu.uir")


def uhopc(*args, file_limit=None, cwd=None):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600, preexec_fn=limit if file_limit else None)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def nvrtc() -> bool:
    try:
        from uhop_cc.targets.cuda.runtime import nvrtc_available
        return bool(nvrtc_available())
    except Exception:  # noqa: BLE001
        return False


def test_o_naming_a_regular_file_exits_2_before_any_work(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    r = uhopc("compile", RELU, "--shapes", "N=64", "-o", target)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "exists and is not a folder" in r.stderr and "building" not in r.stderr
    assert target.read_text() == "keep me"
    r = uhopc("compile", RELU, "--shapes", "N=64", "-o", target / "sub")
    assert r.returncode == 2 and "is not a folder" in r.stderr and "Traceback" not in r.stderr


def test_o_holding_someone_elses_files_is_refused_not_replaced(tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    r = uhopc("compile", RELU, "--shapes", "N=64", "-o", mine)
    assert r.returncode == 2 and "holds files uhopc did not write (notes.md)" in r.stderr
    assert "Traceback" not in r.stderr and snapshot(mine) == {"notes.md": b"mine"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_destination_exits_2_before_any_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = uhopc("compile", RELU, "--shapes", "N=64", "-o", ro / "out")
        assert r.returncode == 2 and f"the folder {ro} is not writable" in r.stderr
        assert "Traceback" not in r.stderr and "building" not in r.stderr
        assert not (ro / "out").exists()
    finally:
        ro.chmod(0o755)


def test_a_second_run_replaces_the_folder_as_a_whole(tmp_path):
    """The old run's files of another target (kernel.cu) do not survive next to the new kernel.cl."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "kernel.cu").write_text("// an older run's CUDA kernel")
    (out / "report.json").write_text("{}")
    r = uhopc("compile", RELU, "--shapes", "N=64", "-o", out, "--no-time")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["kernel.cl", "report.json", "spec.json"]
    assert '"status": "PASSED"' in (out / "report.json").read_text()
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not nvrtc(), reason="needs NVRTC (the cuda extra): it compiles without writing files")
def test_a_full_disk_leaves_the_old_folder_intact_and_no_temporary_folder(tmp_path):
    out = tmp_path / "o"
    r = uhopc("compile", RELU, "--shapes", "N=1000", "--target", "cuda", "-o", out)
    assert r.returncode == 0, r.stderr
    before = snapshot(out)
    assert max(len(b) for b in before.values()) > 1200  # the limit below cuts a file part-way
    r = uhopc("compile", RELU, "--shapes", "N=2000", "--target", "cuda", "-o", out, file_limit=1200)
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert "could not write the outputs" in r.stdout and "File too large" in r.stdout
    assert "the old folder is unchanged" in r.stdout
    assert snapshot(out) == before and leftovers(tmp_path) == []
    fresh = tmp_path / "fresh"
    r = uhopc("compile", RELU, "--shapes", "N=2000", "--target", "cuda", "-o", fresh, "--json", file_limit=1200)
    assert r.returncode == 2 and "nothing was written" in r.stderr and "Traceback" not in r.stderr
    assert not fresh.exists() and leftovers(tmp_path) == []


def test_a_full_disk_mid_write_in_a_child_process(tmp_path):
    """The same guarantee without NVRTC: write_folder itself in a child under RLIMIT_FSIZE."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.json").write_text("old")
    code = ("import sys; from pathlib import Path; from uhop_cc.output_folder import write_folder, OutputFolderError\n"
            "def fill(d):\n    (d / 'kernel.cl').write_text('x' * 100)\n    (d / 'report.json').write_text('y' * 5000)\n"
            f"try:\n    write_folder(Path({str(out)!r}), fill)\nexcept OutputFolderError as e:\n"
            "    print(e); sys.exit(2)\n")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, preexec_fn=limit,
                       timeout=120)
    assert r.returncode == 2 and "File too large" in r.stdout and "the old folder is unchanged" in r.stdout
    assert snapshot(out) == {"report.json": b"old"} and leftovers(tmp_path) == []
