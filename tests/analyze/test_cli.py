"""`uhopc analyze FILE --target ... [--json]` through a subprocess: output and exit status."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _command():
    """`uhopc analyze` when the command is registered, else the module run on its own."""
    from uhop_cc import cli
    if any(getattr(m, "__name__", "").endswith(".analyze") for m in getattr(cli, "COMMANDS", ())):
        return [sys.executable, "-m", "uhop_cc", "analyze"]
    return [sys.executable, "-m", "uhop_cc.cli.analyze"]


def run(*args, stdin=None):
    return subprocess.run([*_command(), *map(str, args)], cwd=ROOT, input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_clean_kernel_exits_0(kernels_dir):
    p = run(kernels_dir / "cl_rowsum.cl", "--target", "opencl")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 error(s), 0 warning(s)" in p.stdout


def test_json_report(kernels_dir):
    p = run(kernels_dir / "cuda_rowsum.cu", "--target", "cuda", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["ok"] and d["target"] == "cuda" and d["abi"]["entry"] == "rowsum"
    assert d["resources"]["local_mem_bytes"] == 1024 and d["sync"]["barriers"] == 2


def test_errors_exit_1_with_locations(tmp_path):
    src = tmp_path / "bad.cl"
    src.write_text("#include \"x.h\"\n__kernel void k(__global float* X) { X[0] = 1.0f; }\n")
    p = run(src, "--target", "opencl")
    assert p.returncode == 1
    assert f"{src}:1:1: error:" in p.stdout and "[safety.include]" in p.stdout
    assert "[launch.missing]" in p.stdout


def test_kernel_name_and_arg_count(kernels_dir):
    f = kernels_dir / "cl_rowsum.cl"
    assert run(f, "--kernel-name", "rowsum", "--expect-args", "4").returncode == 0
    p = run(f, "--kernel-name", "colsum")
    assert p.returncode == 1 and "[abi.kernel-name]" in p.stdout
    p = run(f, "--expect-args", "3", "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["findings"][0]["code"] == "abi.arg-count"
    p = run(kernels_dir / "tt_compute.cpp", "--target", "ttmetal", "--expect-args", "1")
    assert p.returncode == 0, p.stdout


def test_ttmetal_hazard(tmp_path):
    src = tmp_path / "writer.cpp"
    src.write_text("void kernel_main() {\n  cb_wait_front(16, 1);\n  noc_async_write_tile(0, s, get_read_ptr(16));\n"
                   "  cb_pop_front(16, 1);\n  noc_async_write_barrier();\n}\n")
    p = run(src, "--target", "ttmetal", "--json")
    assert p.returncode == 1
    f = json.loads(p.stdout)["findings"]
    assert [(x["code"], x["line"]) for x in f] == [("tt.noc-write-barrier", 4)]


def test_unreadable_input_exits_2(tmp_path):
    p = run(tmp_path / "missing.cl")
    assert p.returncode == 2 and "cannot read" in p.stderr
    p = run(tmp_path)  # a directory
    assert p.returncode == 2


def test_stdin_and_binary_garbage():
    p = subprocess.run([*_command(), "-", "--json"], cwd=ROOT, input=b"\x00\xff{{{", capture_output=True,
                       timeout=60)
    assert p.returncode == 1
    assert not json.loads(p.stdout)["ok"]


def test_bad_target_is_a_usage_error(kernels_dir):
    p = run(kernels_dir / "cl_rowsum.cl", "--target", "vulkan")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_registered_in_uhopc(kernels_dir):
    from uhop_cc import cli
    if not any(getattr(m, "__name__", "").endswith(".analyze") for m in getattr(cli, "COMMANDS", ())):
        pytest.skip("`analyze` is not registered in uhop_cc.cli yet")
    p = subprocess.run([sys.executable, "-m", "uhop_cc", "analyze", str(kernels_dir / "cl_rowsum.cl")], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_register_adds_the_subcommand(kernels_dir, capsys):
    import argparse

    from uhop_cc.cli import analyze as cli_analyze
    ap = argparse.ArgumentParser(prog="uhopc")
    sub = ap.add_subparsers(dest="command")
    cli_analyze.register(sub)
    args = ap.parse_args(["analyze", str(kernels_dir / "tt_writer.cpp"), "--target", "ttmetal", "--json"])
    assert args.func is cli_analyze.cmd_analyze
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["abi"]["runtime_args"] == 2
