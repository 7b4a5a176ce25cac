"""Standalone OpenCL host projects: emit, configure and build with CMake, run, check PASS/FAIL.

Real tools only. The build tests skip when cmake, a C++ compiler or an OpenCL platform
(found through the ICD loader with ctypes, no pyopencl needed) is missing. The projects
are emitted and built once per module, in parallel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.codegen import GeneratedKernel, LaunchError
from uhop_cc.targets import renderer
from uhop_cc.targets.hostgen import cpp_launch_expr
from uhop_cc.targets.opencl.host import emit_opencl_project
from uhop_cc.codegen import golden
from uhop_cc.targets.opencl.host import output_reduction_lengths
from uhop_cc.codegen.launch import parse_annotation
from uhop_cc.ir import interpreter

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

CASES = {
    "matmul": ("matmul.uir", "M=33,K=17,N=65"),
    "softmax": ("softmax.uir", "R=7,C=100"),  # 4 stages, 3 temporaries
    "axpy": ("axpy.uir", "N=1000"),  # a scalar argument
    "stats": ("stats.uir", "N=1000"),  # 0-d outputs
}

# A hand-written matmul: a 2-D launch with cdiv, and a second stage with local=auto and `/`.
MATMUL_2D = """\
// @launch global=(roundup(N, 8), cdiv(M, 4) * 4) local=(8, 4)
__kernel void mm2d(__global const float* A, __global const float* B, __global float* C,
                   const int M, const int K, const int N)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
    C[i * N + j] = acc;
}

// @launch global=((M * N) / 2 + 1) local=auto
__kernel void mm_touch(__global const float* A, __global const float* B, __global float* C,
                       const int M, const int K, const int N)
{
    /* reads only: checks that a local=auto stage runs and leaves C alone */
    if (get_global_id(0) == 0 && A[0] == 12345.0f) C[0] = B[0];
}
"""


# ---------------------------------------------------------------- availability
def _cxx() -> str:
    for c in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if c and shutil.which(c):
            return c
    return ""


@lru_cache(maxsize=None)
def _opencl_reason() -> str:
    """Empty when the ICD loader lists a platform with a device."""
    name = ctypes.util.find_library("OpenCL") or "libOpenCL.so.1"
    try:
        cl = ctypes.CDLL(name)
    except OSError:
        return "no OpenCL ICD loader"
    uint_p = ctypes.POINTER(ctypes.c_uint)
    cl.clGetPlatformIDs.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p), uint_p]
    cl.clGetDeviceIDs.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint,
                                  ctypes.POINTER(ctypes.c_void_p), uint_p]
    n = ctypes.c_uint(0)
    if cl.clGetPlatformIDs(0, None, ctypes.byref(n)) != 0 or n.value == 0:
        return "no OpenCL platform"
    platforms = (ctypes.c_void_p * n.value)()
    cl.clGetPlatformIDs(n.value, platforms, None)
    for p in platforms:
        nd = ctypes.c_uint(0)
        if cl.clGetDeviceIDs(p, 0xFFFFFFFF, 0, None, ctypes.byref(nd)) == 0 and nd.value:
            return ""
    return "no OpenCL device"


def _tools_reason() -> str:
    if not shutil.which("cmake"):
        return "cmake not found"
    if not _cxx():
        return "no C++ compiler"
    return _opencl_reason()


needs_tools = pytest.mark.skipif(bool(_tools_reason()), reason=_tools_reason() or "ok")


# ---------------------------------------------------------------- helpers
def _bound(file: str, shapes: str):
    ck = ir.select_kernel(ir.load_file(EXAMPLES / file))
    return ir.bind_shapes(ck, shapes)


def _emit(name: str, root: Path) -> Path:
    file, shapes = CASES[name]
    b = _bound(file, shapes)
    return emit_opencl_project(b, renderer("opencl").generic(b.checked), root / name, seed=1)


def _build(project: Path, exe_name: str) -> Path:
    build = project.parent / f"{project.name}-build"
    env = dict(os.environ, CXX=_cxx())
    cfg = subprocess.run(["cmake", "-S", str(project), "-B", str(build)], capture_output=True, text=True,
                         env=env, timeout=120)
    if cfg.returncode != 0:
        if "Could NOT find OpenCL" in cfg.stderr + cfg.stdout:
            pytest.skip("CMake cannot find the OpenCL headers/library")
        raise AssertionError(f"cmake configure failed:\n{cfg.stdout}\n{cfg.stderr}")
    b = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True, timeout=180)
    assert b.returncode == 0, f"build failed:\n{b.stdout}\n{b.stderr}"
    assert "warning" not in (b.stdout + b.stderr).lower(), b.stdout + b.stderr
    exe = build / exe_name
    assert exe.is_file(), sorted(p.name for p in build.iterdir())
    return exe


def _run(exe: Path, *args: str, cwd: Path = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """name -> (project dir, executable), every project configured and built in parallel."""
    reason = _tools_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("hostproj")
    projects = {name: (_emit(name, root), f"{name}_host") for name in CASES}
    b = _bound("matmul.uir", "M=33,K=17,N=65")
    hand = GeneratedKernel("opencl", MATMUL_2D, "mm2d", "hand-written")
    projects["matmul2d"] = (emit_opencl_project(b, hand, root / "matmul2d"), "matmul_host")
    wide = renderer("opencl", 64).generic(b.checked)  # sizes as `long`: the host must pass cl_long
    projects["matmul64"] = (emit_opencl_project(b, wide, root / "matmul64", seed=1), "matmul_host")
    with ThreadPoolExecutor(max_workers=max(2, min(len(projects), os.cpu_count() or 2))) as pool:
        futures = {name: pool.submit(_build, proj, exe) for name, (proj, exe) in projects.items()}
        return {name: (projects[name][0], f.result()) for name, f in futures.items()}


# ---------------------------------------------------------------- the emitted project
def test_project_layout(tmp_path):
    proj = _emit("softmax", tmp_path)
    names = sorted(str(p.relative_to(proj)) for p in proj.rglob("*") if p.is_file())
    assert names == ["CMakeLists.txt", "README.md", "data/X.bin", "data/Y.golden.bin", "data/manifest.json",
                     "kernel.cl", "main.cpp", "spec.json"]
    main = (proj / "main.cpp").read_text()
    assert "#define CL_TARGET_OPENCL_VERSION 120" in main
    assert "cl.hpp" not in main and "opencl.hpp" not in main and "cl2.hpp" not in main
    # geometry is computed in C++ from the annotation, not baked as numbers
    assert "roundup(sizes::R * sizes::C, 64)" in main and "roundup(sizes::R, 64)" in main
    assert "CL_KERNEL_NUM_ARGS" in main
    cmake = (proj / "CMakeLists.txt").read_text()
    for needle in ("cmake_minimum_required(VERSION 3.16)", "LANGUAGES CXX", "find_package(OpenCL REQUIRED)",
                   "add_executable(softmax_host", "OpenCL::OpenCL"):
        assert needle in cmake
    readme = (proj / "README.md").read_text()
    assert "cmake -B build && cmake --build build" in readme and "./build/softmax_host" in readme


def test_data_matches_the_interpreter(tmp_path):
    proj = _emit("axpy", tmp_path)
    b = _bound(*CASES["axpy"])
    values = interpreter.random_inputs(b, 1)
    want = interpreter.run(b, values)
    m = golden.read_manifest(proj / "data")
    assert m["kernel"] == "axpy" and m["sizes"] == {"N": 1000}
    assert m["scalars"]["a"] == {"dtype": "f32", "value": values["a"]}
    inputs = golden.load_tensors(proj / "data", "input")
    np.testing.assert_array_equal(inputs["X"], values["X"])
    np.testing.assert_array_equal(inputs["Y"], values["Y"])
    np.testing.assert_array_equal(golden.load_tensors(proj / "data", "output")["Z"], want["Z"])
    line = next(l for l in (proj / "main.cpp").read_text().splitlines() if l.startswith("constexpr cl_float a = "))
    literal = line.split("= ", 1)[1].split(";")[0]
    assert literal.endswith("f") and float.fromhex(literal[:-1]) == values["a"]  # exact hex float


def test_given_inputs_are_used(tmp_path):
    b = _bound(*CASES["stats"])
    x = np.linspace(-2, 3, 1000, dtype=np.float32)
    proj = emit_opencl_project(b, renderer("opencl").generic(b.checked), tmp_path / "p", inputs={"X": x})
    out = golden.load_tensors(proj / "data", "output")
    assert out["S"].shape == () and out["M"] == np.float32(3.0)
    assert out["S"] == interpreter.run(b, {"X": x})["S"]
    assert golden.read_manifest(proj / "data")["seed"] is None
    with pytest.raises(ValueError):
        emit_opencl_project(b, renderer("opencl").generic(b.checked), tmp_path / "q", inputs={"X": x[:10]})


def test_golden_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    for dtype, np_dtype in (("f32", np.float32), ("f64", np.float64), ("f16", np.float16), ("i32", np.int32)):
        for shape in ((), (5,), (3, 4, 2)):
            a = (rng.uniform(-9, 9, size=shape)).astype(np_dtype)
            path = tmp_path / f"{dtype}{len(shape)}.bin"
            n = golden.write_tensor(path, a, dtype, shape)
            assert n == max(1, a.size) * np.dtype(np_dtype).itemsize == path.stat().st_size
            back = golden.read_tensor(path, dtype, shape)
            assert back.shape == shape
            np.testing.assert_array_equal(back, a)
    golden.write_tensor(tmp_path / "h.bin", np.array([1.0, -2.0]), "f16")
    assert (tmp_path / "h.bin").read_bytes() == bytes.fromhex("003c00c0")  # little-endian binary16
    with pytest.raises(ValueError):
        golden.read_tensor(tmp_path / "h.bin", "f16", (3,))
    with pytest.raises(ValueError):
        golden.write_tensor(tmp_path / "x.bin", np.zeros(3), "f32", (4,))


def test_reduction_lengths_per_output():
    assert output_reduction_lengths(_bound(*CASES["softmax"])) == {"Y": 100}
    assert output_reduction_lengths(_bound(*CASES["axpy"])) == {"Z": 1}
    assert output_reduction_lengths(_bound(*CASES["matmul"])) == {"C": 17}


def test_launch_expressions_to_cpp():
    sym = {"M": "sizes::M", "N": "sizes::N"}

    def cpp(text):
        return cpp_launch_expr(parse_annotation(f"// @launch global=({text})").global_expr[0], sym)

    assert cpp("roundup(M * N, 64)") == "roundup(sizes::M * sizes::N, 64)"
    assert cpp("cdiv(M, 4) * 4") == "cdiv(sizes::M, 4) * 4"
    assert cpp("(M * N) / 2 + 1") == "floordiv(sizes::M * sizes::N, 2) + 1"
    assert cpp("M - (N - 1)") == "sizes::M - (sizes::N - 1)"
    assert cpp("(M + N) * 2") == "(sizes::M + sizes::N) * 2"
    assert cpp("-M + 3") == "-sizes::M + 3"
    with pytest.raises(LaunchError):
        cpp("Q + 1")


def test_rejects_unusable_kernels(tmp_path):
    b = _bound(*CASES["matmul"])
    bad = GeneratedKernel("opencl", "// @launch global=(roundup(Q, 64)) local=(64)\n__kernel void f() {}\n", "f",
                          "hand")
    with pytest.raises(LaunchError):
        emit_opencl_project(b, bad, tmp_path / "bad")
    with pytest.raises(ValueError):
        emit_opencl_project(b, GeneratedKernel("cuda", "", "f", "hand"), tmp_path / "cuda")


# ---------------------------------------------------------------- built and run
@needs_tools
@pytest.mark.parametrize("name", sorted(CASES))
def test_host_passes(built, name):
    proj, exe = built[name]
    r = _run(exe, "--repeat", "3", cwd=proj.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "PASS" in lines, r.stdout
    assert any(l.startswith("output") for l in lines)
    timing = [l for l in lines if l.startswith("time")]
    assert timing and "median" in timing[0] and "GFLOP/s" in timing[0] and "GB/s" in timing[0], r.stdout
    if name == "softmax":
        assert sum(l.startswith("stage") for l in lines) == 4


@needs_tools
def test_host_passes_64_bit_sizes(built):
    proj, exe = built["matmul64"]
    assert "static_cast<cl_long>(sizes::M)" in (proj / "main.cpp").read_text()
    r = _run(exe, "--repeat", "2", cwd=proj.parent)
    assert r.returncode == 0 and "PASS" in r.stdout.splitlines(), r.stdout + r.stderr


@needs_tools
def test_hand_written_2d_launch(built):
    proj, exe = built["matmul2d"]
    r = _run(exe, "--repeat", "2")
    assert r.returncode == 0 and "PASS" in r.stdout.splitlines(), r.stdout + r.stderr
    assert "{roundup(sizes::N, 8), cdiv(sizes::M, 4) * 4}, {8, 4}, true" in (proj / "main.cpp").read_text()


@needs_tools
def test_corrupted_golden_fails(built, tmp_path):
    proj, exe = built["matmul"]
    copy = tmp_path / "copy"
    shutil.copytree(proj, copy)
    path = copy / "data" / golden.golden_file("C")
    c = golden.read_tensor(path, "f32", (33, 65)).copy()
    c[4, 7] += 0.25
    golden.write_tensor(path, c, "f32", (33, 65))
    r = _run(exe, "--dir", str(copy))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL" in r.stdout.splitlines() and "PASS" not in r.stdout
    assert "first at [4, 7]" in r.stdout
    # the original project still passes
    assert _run(exe, "--repeat", "0").returncode == 0


@needs_tools
def test_build_failure_and_abi_mismatch(built, tmp_path):
    proj, exe = built["matmul"]
    source = (proj / "kernel.cl").read_text()
    broken = tmp_path / "broken.cl"
    broken.write_text(source.replace("_uacc1 += ", "_uacc1 += undeclared_name + "))
    r = _run(exe, "--kernel", str(broken))
    assert r.returncode == 2 and "build log" in r.stderr and "undeclared_name" in r.stderr, r.stderr
    extra = tmp_path / "extra.cl"
    extra.write_text(source.replace("const int N)", "const int N, const int extra)"))
    r = _run(exe, "--kernel", str(extra))
    assert r.returncode == 3 and "takes 7 arguments" in r.stderr, r.stderr
