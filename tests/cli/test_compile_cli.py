"""`uhopc compile` end to end on PoCL for every shipped example."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from uhop_cc import ir

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("pyopencl")


def _has_opencl():
    try:
        import pyopencl as cl
        return bool(cl.get_platforms())
    except Exception:
        return False


pytestmark = [pytest.mark.opencl, pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform")]

CASES = []
for path in sorted((ROOT / "examples").glob("*.uir")):
    for k in ir.load_file(path):
        sizes = {s: 24 for s in k.sizes}
        if {"R", "S", "H"} <= set(sizes):
            sizes.update(R=3, S=3)
        CASES.append((path, k.name, ",".join(f"{s}={v}" for s, v in sizes.items())))


def uhopc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("path,kernel,shapes", CASES, ids=[f"{p.stem}-{k}" for p, k, _ in CASES])
def test_example_compiles_validates_and_times(tmp_path, path, kernel, shapes):
    r = uhopc("compile", path, "--target", "opencl", "--kernel", kernel, "--shapes", shapes, "-o", tmp_path,
              "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["validation"]["ok"]
    assert report["timing"]["median_s"] > 0 and report["timing"]["runs"] >= 5
    assert (tmp_path / "kernel.cl").read_text().count("__kernel") >= 1
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert spec["name"] == kernel and spec["flops"] >= 0 and spec["hardware"]["name"]
    assert json.loads((tmp_path / "report.json").read_text())["ok"]


def test_summary_is_human_readable(tmp_path):
    r = uhopc("compile", ROOT / "examples/matmul.uir", "--shapes", "M=64,N=48,K=32", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "validation PASS" in r.stdout and "GFLOP/s" in r.stdout and "median" in r.stdout


def test_spec_command(tmp_path):
    r = uhopc("spec", ROOT / "examples/matmul.uir", "--shapes", "M=64,N=48,K=32")
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)
    assert spec["flops"] == 2 * 64 * 48 * 32
    assert spec["bytes_min"] == 4 * (64 * 32 + 32 * 48 + 64 * 48)
    assert spec["category"] == "matmul"
    assert [a["name"] for a in spec["abi"]] == ["A", "B", "C", "M", "K", "N"]
    assert spec["hardware"]["max_work_group_size"] >= 1


def test_devices_command():
    r = uhopc("devices")
    assert r.returncode == 0 and "0:" in r.stdout


def test_bad_device_is_a_clean_error():
    r = uhopc("compile", ROOT / "examples/relu.uir", "--shapes", "N=8", "--device", "99")
    assert r.returncode == 2 and "no OpenCL device 99" in r.stderr and "Traceback" not in r.stderr
