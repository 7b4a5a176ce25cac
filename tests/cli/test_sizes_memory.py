"""Sizes the machine cannot hold, and sizes of zero (issue 14), through real `uhopc` processes.

* Memory before work: `run` and `compile` estimate the bytes of the tensors times the copies the
  reference and the validation hold (verify/memory.py) and refuse with exit 2 before
  allocating; --no-validate counts only the timed run's buffers; a MemoryError that still
  happens is one clean line.
* Zero sizes are a documented no-op: empty outputs, nothing launched, exit 0, on every command.
* The roofline never claims more than 100% of a roof.
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
CONV_TOO_SMALL = "N=1,C=1,H=2,W=2,K=1,R=3,S=3"  # a 3x3 filter on a 2x2 image: the output is 0 wide


def uhopc(*args, env=None, preexec_fn=None):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=full, preexec_fn=preexec_fn)


def clean(r) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def test_run_refuses_a_shape_beyond_the_machine_before_allocating():
    r = uhopc("run", EX / "relu.uir", "--shapes", "N=6000000000000")
    clean(r)
    assert r.returncode == 2
    assert re.search(r"needs about [\d.]+ [KMGT]B of memory \(inputs [\d.]+ [KMGT]B, outputs", r.stderr), r.stderr
    assert "available (" in r.stderr and "use smaller --shapes" in r.stderr


def test_run_and_compile_refuse_under_the_memory_override(tmp_path):
    env = {"UHOP_MEMORY_LIMIT_MB": "100"}
    r = uhopc("run", EX / "relu.uir", "--shapes", "N=10000000", env=env)
    clean(r)
    assert r.returncode == 2 and "100 MB available ($UHOP_MEMORY_LIMIT_MB)" in r.stderr
    r = uhopc("compile", EX / "relu.uir", "--shapes", "N=10000000", "-o", tmp_path / "o", env=env)
    clean(r)
    assert r.returncode == 2 and "the reference's copies" in r.stderr and "building" not in r.stderr
    assert "use smaller --shapes\n" in r.stderr  # 100 MB is too little even without validation
    r = uhopc("compile", EX / "relu.uir", "--shapes", "N=10000000", "-o", tmp_path / "o",
              env={"UHOP_MEMORY_LIMIT_MB": "300"})
    assert r.returncode == 2 and "use smaller --shapes or --no-validate" in r.stderr
    assert not (tmp_path / "o").exists()


def test_no_validate_counts_only_the_device_buffers(tmp_path):
    """80 MB of tensors: validation needs about 1 GB, the timed run alone about 160 MB."""
    env = {"UHOP_MEMORY_LIMIT_MB": "300"}
    r = uhopc("compile", EX / "relu.uir", "--shapes", "N=10000000", "-o", tmp_path / "o", env=env)
    assert r.returncode == 2 and "--no-validate" in r.stderr
    r = uhopc("compile", EX / "relu.uir", "--shapes", "N=10000000", "-o", tmp_path / "o", "--no-validate",
              "--no-roofline", env=env)
    clean(r)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o" / "report.json").read_text())["status"] == "NOT_VALIDATED"


def test_a_memory_error_past_the_estimate_is_one_clean_line():
    """The override claims plenty, RLIMIT_DATA says otherwise: NumPy's MemoryError is reported."""
    def limit():
        resource.setrlimit(resource.RLIMIT_DATA, (1 << 30, 1 << 30))
    r = uhopc("run", EX / "relu.uir", "--shapes", "N=400000000", env={"UHOP_MEMORY_LIMIT_MB": "1000000"},
              preexec_fn=limit)
    clean(r)
    assert r.returncode == 2 and "out of memory" in r.stderr and "UHOP_MEMORY_LIMIT_MB" in r.stderr


@pytest.mark.parametrize("example,shapes,output", [("relu.uir", "N=0", "Y: f32[0]"),
                                                   ("matmul.uir", "M=0,N=4,K=3", "C: f32[0, 4]"),
                                                   ("conv2d.uir", CONV_TOO_SMALL, "Y: f32[1, 1, 0, 0]")])
def test_zero_sizes_are_a_no_op_on_run_spec_and_check(example, shapes, output):
    r = uhopc("run", EX / example, "--shapes", shapes)
    clean(r)
    assert r.returncode == 0 and f"{output}  empty" in r.stdout
    r = uhopc("spec", EX / example, "--shapes", shapes, "--no-device")
    clean(r)
    assert r.returncode == 0 and json.loads(r.stdout)["flops"] == 0
    r = uhopc("check", EX / example, "--shapes", shapes)
    clean(r)
    assert r.returncode == 0


def test_zero_sizes_compile_to_a_no_op_with_json(tmp_path):
    r = uhopc("compile", EX / "conv2d.uir", "--shapes", CONV_TOO_SMALL, "-o", tmp_path / "o", "--json")
    clean(r)
    rep = json.loads(r.stdout)
    assert r.returncode == 0 and rep["status"] == "PASSED" and rep["timing"] is None
    assert any("every output is empty" in n for n in rep["notes"])


def test_the_roofline_never_claims_more_than_the_roof(tmp_path):
    """relu on 32 KB: a cache-resident working set, which the DRAM roof does not bound."""
    pytest.importorskip("pyopencl")
    from uhop_cc.verify.native_timing import host_llc_bytes
    r = uhopc("compile", EX / "relu.uir", "--shapes", "N=4096", "-o", tmp_path / "o")
    clean(r)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("roofline"))
    roof = json.loads((tmp_path / "o" / "report.json").read_text())["roofline"]
    assert roof["fraction"] is None or 0 < roof["fraction"] <= 1.0
    for pct in re.findall(r"([\d.]+)% of", line):
        assert float(pct) <= 100.0, line
    if host_llc_bytes() >= 32 << 10:
        assert "roofline   n/a: working set 32 KB fits in the" in line and "does not bound it" in line
        assert roof["applies"] is False and roof["working_set_bytes"] == 32768 and roof["note"]
