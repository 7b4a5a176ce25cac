"""The CLI as a user meets it: exit codes, messages, no tracebacks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.uir"))


def uhopc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_everywhere():
    for cmd in ([], ["check"], ["fmt"], ["run"]):
        r = uhopc(*cmd, "--help")
        assert r.returncode == 0 and "usage: uhopc" in r.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_check(path):
    r = uhopc("check", path)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_check_with_shapes_prints_concrete_shapes():
    r = uhopc("check", ROOT / "examples/matmul.uir", "--shapes", "1024x512,512x2048")
    assert r.returncode == 0, r.stderr
    assert "output C: f32[1024, 2048]" in r.stdout
    r = uhopc("check", ROOT / "examples/matmul.uir", "--shapes", "M=4,N=5,K=6", "--json")
    data = json.loads(r.stdout)
    assert data["kernels"][0]["tensors"]["C"]["shape"] == [4, 5]


@pytest.mark.parametrize("text,fragment", [
    ("kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = softplus(X[i])\n}\n", "bad.uir:2:10: error: unknown function `softplus`"),
    ("kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] +\n}\n", "bad.uir:2:16: error: unexpected end of line"),
    ("", "bad.uir:1:1: error: empty file"),
])
def test_errors_exit_2_without_traceback(tmp_path, text, fragment):
    f = tmp_path / "bad.uir"
    f.write_text(text)
    r = uhopc("check", f)
    assert r.returncode == 2
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    assert "^" in r.stderr or text == ""


def test_missing_file(tmp_path):
    r = uhopc("check", tmp_path / "nope.uir")
    assert r.returncode == 2 and "cannot read file" in r.stderr and "Traceback" not in r.stderr


def test_undecodable_file(tmp_path):
    f = tmp_path / "bin.uir"
    f.write_bytes(b"\xff\xfe\x00kernel")
    r = uhopc("check", f)
    assert r.returncode == 2 and "not valid UTF-8" in r.stderr and "Traceback" not in r.stderr


def test_several_kernels_need_kernel_flag():
    r = uhopc("run", ROOT / "examples/mlp.uir", "--shapes", "N=8")
    assert r.returncode == 2 and "choose one with --kernel" in r.stderr
    r = uhopc("run", ROOT / "examples/mlp.uir", "--kernel", "gelu", "--shapes", "N=8")
    assert r.returncode == 0, r.stderr
    assert "Y: f32[8]" in r.stdout


def test_fmt_is_canonical_and_idempotent(tmp_path):
    f = tmp_path / "m.uir"
    f.write_text("kernel mm(A: f32[M,K], B: f32[K,N]) -> (C: f32[M,N]) { C[i,j] = sum(k) (A[i,k]*B[k,j]) }")
    r = uhopc("fmt", f)
    assert r.returncode == 0
    assert r.stdout == ("kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {\n"
                        "    C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n")
    assert uhopc("fmt", "--check", f).returncode == 1
    assert uhopc("fmt", "-w", f).returncode == 0
    assert uhopc("fmt", "--check", f).returncode == 0


def test_run_reference_matmul_json():
    r = uhopc("run", ROOT / "examples/matmul.uir", "--shapes", "M=3,K=4,N=5", "--json", "--seed", "7")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["outputs"]["C"]
    assert out["shape"] == [3, 5] and out["dtype"] == "f32"


def test_run_requires_all_sizes():
    r = uhopc("run", ROOT / "examples/matmul.uir", "--shapes", "M=3")
    assert r.returncode == 2 and "size(s) not bound: K, N" in r.stderr
