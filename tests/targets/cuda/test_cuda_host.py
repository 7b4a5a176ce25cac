"""Standalone CUDA host projects: emitted always; configured and built with CMake where nvcc
exists; run (PASS expected) only with a GPU."""
from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

from cuda_support import nvcc_unavailable_reason
from uhop_cc import ir
from uhop_cc.targets.cuda.renderer import CUDARenderer
from uhop_cc.targets.cuda.templates import select_template
from uhop_cc.targets.cuda.host import emit_cuda_project
from uhop_cc.codegen.launch import LaunchError

ROOT = Path(__file__).resolve().parents[3]

MIXED = """
kernel mixed(A: f64[N], H: f16[N], I: i32[N], s: f16, t: f32) -> (X: f64[N], Y: f16[N], Z: i32[N], S: f32[]) {
    X[i] = A[i] * 2.5 + f64(I[i]) + f64(t)
    Y[i] = H[i] * 0.5 + 1 + s
    Z[i] = I[i] / 3 + I[i] % 3 + i
    S = sum(i) f32(A[i]) * t
}
"""


def _project(kind: str, outdir: Path) -> Path:
    if kind == "matmul":  # the sgemm template, edges on every side
        b = ir.bind_shapes(ir.load_file(ROOT / "examples" / "matmul.uir")[0], {"M": 100, "K": 33, "N": 70})
        t, m = select_template(b)
        g = t.render(m)
    elif kind == "softmax":  # generic: 4 stages with temporaries
        b = ir.bind_shapes(ir.load_file(ROOT / "examples" / "softmax.uir")[0], {"R": 7, "C": 100})
        g = CUDARenderer().generic(b.checked)
    elif kind == "wide":  # 64-bit indices: sizes travel as `long long`
        b = ir.bind_shapes(ir.load_file(ROOT / "examples" / "softmax.uir")[0], {"R": 7, "C": 100})
        g = CUDARenderer(64).generic(b.checked)
    else:  # f64, f16 (and an f16 scalar), i32, a 0-d output
        b = ir.bind_shapes(ir.load(MIXED)[0], {"N": 50})
        g = CUDARenderer().generic(b.checked)
    return emit_cuda_project(b, g, outdir / kind)


KINDS = ("matmul", "softmax", "mixed", "wide")
EXE = {"wide": "softmax"}  # the executable is named after the kernel


def test_emit_files(tmp_path):
    for kind in KINDS:
        out = _project(kind, tmp_path)
        for f in ("kernel.cu", "main.cu", "CMakeLists.txt", "README.md", "spec.json", "data/manifest.json"):
            assert (out / f).is_file(), f
        main = (out / "main.cu").read_text()
        assert '#include "kernel.cu"' in main and "<<<" in main and "cudaEventElapsedTime" in main
        assert "@GENERATED@" not in main and "@NAME@" not in main
        cmake = (out / "CMakeLists.txt").read_text()
        assert "enable_language(CUDA)" in cmake and "CMAKE_CUDA_ARCHITECTURES" in cmake
        manifest = json.loads((out / "data" / "manifest.json").read_text())
        assert manifest["kernel"] in ("matmul", "softmax", "mixed")
    assert "static_cast<long long>(sizes::C)" in (tmp_path / "wide" / "main.cu").read_text()
    main = (tmp_path / "softmax" / "main.cu").read_text()
    assert main.count("::softmax") >= 2 and "_ubuffers[4]" in main  # the temporaries are passed
    main = (tmp_path / "mixed" / "main.cu").read_text()
    assert "reinterpret_cast<unsigned short*>" in main and "static_cast<float>(scalars::s)" in main


def test_emit_rejects_bad_sources(tmp_path):
    b = ir.bind_shapes(ir.load("kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }")[0], {"N": 8})
    from uhop_cc.codegen.cstyle import GeneratedKernel
    src = '// @launch grid=(cdiv(N, 64)) block=(64)\nextern "C" __global__ void relu(const float* X) {}\n'
    with pytest.raises(LaunchError, match="takes 1 parameters"):
        emit_cuda_project(b, GeneratedKernel("cuda", src, "relu", "hand", {}, "kernel.cu"), tmp_path / "bad")
    with pytest.raises(ValueError, match="CUDA kernel"):
        emit_cuda_project(b, GeneratedKernel("opencl", src, "relu", "hand", {}, "kernel.cl"), tmp_path / "bad2")


@lru_cache(maxsize=None)
def _built(root: str):
    """Emit and build every project once (in parallel); kind -> (dir, build log, ok)."""
    root = Path(root)

    def one(kind):
        out = _project(kind, root)
        cfg = subprocess.run(["cmake", "-B", "build", "-S", "."], cwd=out, capture_output=True, text=True)
        if cfg.returncode:
            return kind, (out, cfg.stdout + cfg.stderr, False)
        b = subprocess.run(["cmake", "--build", "build", "-j", "2"], cwd=out, capture_output=True, text=True)
        return kind, (out, b.stdout + b.stderr, b.returncode == 0)

    with ThreadPoolExecutor(3) as ex:
        return dict(ex.map(one, KINDS))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    reason = nvcc_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return _built(str(tmp_path_factory.mktemp("cuda_host")))


@pytest.mark.parametrize("kind", KINDS)
def test_configure_and_build(built, kind):
    out, log, ok = built[kind]
    assert ok, log
    assert (out / "build" / f"{EXE.get(kind, kind)}_host").is_file()
    assert "warning" not in log.lower(), log


@pytest.mark.gpu
@pytest.mark.parametrize("kind", KINDS)
def test_run_passes(built, kind):
    out, log, ok = built[kind]
    assert ok, log
    r = subprocess.run([str(out / "build" / f"{EXE.get(kind, kind)}_host"), "--repeat", "3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and "median" in r.stdout
