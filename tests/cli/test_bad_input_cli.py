"""Bad input to `uhopc compile` and the Python API gives a clear error, never a traceback
(issue 14: --strategy, duplicated --shapes, paths that contain the word `kernel`)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.cli import main

ROOT = Path(__file__).resolve().parents[2]
RELU = str(ROOT / "examples" / "relu.uir")


@pytest.mark.parametrize("strategy,says", [("nope", "is unknown for opencl (known: auto, generic, elementwise"),
                                           ("matmul", "does not apply to kernel `relu`")])
def test_a_strategy_that_does_not_apply_exits_2_with_the_ones_that_do(capsys, strategy, says):
    assert main(["compile", RELU, "--shapes", "N=64", "--strategy", strategy]) == 2
    err = capsys.readouterr().err
    assert says in err and "strategies that apply to `relu`: auto, generic, elementwise" in err
    assert "Traceback" not in err


def test_a_size_given_twice_is_an_error(capsys):
    assert main(["compile", RELU, "--shapes", "N=4,N=8"]) == 2
    assert "`N` is given twice (N=4 and N=8)" in capsys.readouterr().err
    with pytest.raises(ir.UirError):
        ir.parse_shapes("N=4,N=8", ir.select_kernel(ir.load_file(RELU)))


def test_the_api_reads_a_path_that_contains_the_word_kernel(tmp_path):
    pytest.importorskip("pyopencl")
    import uhop_cc
    from targets.opencl.conftest import opencl_unavailable_reason
    if opencl_unavailable_reason():
        pytest.skip("OpenCL unavailable")
    folder = tmp_path / "my_kernels"
    folder.mkdir()
    shutil.copy(RELU, folder / "relu.uir")
    k = uhop_cc.compile(str(folder / "relu.uir"))
    x = np.array([-1.0, 2.0, -3.0], np.float32)
    assert np.array_equal(k(x), np.maximum(x, 0))
    with pytest.raises(FileNotFoundError):
        uhop_cc.compile(str(folder / "missing.uir"))
    assert uhop_cc.compile("kernel neg(X: f32[N]) -> (Y: f32[N]) { Y[i] = -X[i] }").name == "neg"


def test_integer_calls_keep_integer_literals(tmp_path):
    """`relu(5)` in an i32 kernel rendered as `max(5.0f, 0)`, which does not build."""
    pytest.importorskip("pyopencl")
    from targets.opencl.conftest import opencl_unavailable_reason
    if opencl_unavailable_reason():
        pytest.skip("OpenCL unavailable")
    from uhop_cc.pipeline import compile_bound
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    bound = ir.bind_shapes(ir.select_kernel(ir.load(
        "kernel k(X: i32[N]) -> (Y: i32[N]) { Y[i] = X[i] + relu(5) + max(3, 2) + relu(X[i]) + abs(-4) }")), {"N": 50})
    r = compile_bound(bound, device=OpenCLDevice.open(), time=False, strategy="generic", use_cache=False)
    assert r.ok and r.validation["ok"], r.reason
    assert "5.0f" not in r.kernel.source and "max(5, 0)" in r.kernel.source


@pytest.mark.parametrize("args", [["examples/relu.uir", "--shapes", "N=0"],
                                  ["examples/matmul.uir", "--shapes", "M=0,N=4,K=3"],
                                  ["examples/conv2d.uir", "--shapes", "N=1,C=2,H=3,W=3,K=2,R=3,S=4"]])
def test_empty_outputs_compile_cleanly_and_say_why_nothing_is_timed(args, tmp_path, capsys):
    pytest.importorskip("pyopencl")
    from targets.opencl.conftest import opencl_unavailable_reason
    if opencl_unavailable_reason():
        pytest.skip("OpenCL unavailable")
    rc = main(["compile", str(ROOT / args[0]), *args[1:], "-o", str(tmp_path / "o"), "--no-roofline"])
    out = capsys.readouterr().out
    assert rc == 0 and "not timed: every output is empty" in out and "PASS" in out


def test_target_cuda_without_the_cuda_extra_says_what_to_install(tmp_path):
    import subprocess
    import sys
    script = ("import sys, importlib.abc\n"
              "class Block(importlib.abc.MetaPathFinder):\n"
              "    def find_spec(self, name, path, target=None):\n"
              "        if name == 'cuda' or name.startswith('cuda.'):\n"
              "            raise ImportError('no cuda-bindings here')\n"
              "sys.meta_path.insert(0, Block())\n"
              "from uhop_cc.cli import main\n"
              f"sys.exit(main(['compile', {RELU!r}, '--target', 'cuda', '--shapes', 'N=64']))\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and 'pip install "uhopc[cuda]"' in p.stderr and "Traceback" not in p.stderr
