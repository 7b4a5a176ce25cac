"""The TT-Metal emitter: emitted projects, checked without Tenstorrent hardware.

For single- and multi-core add, subtract, multiply, relu, matmul and two fused chains: the
project layout, a g++ -fsyntax-only check of the host and the three kernels against the bundled
API declarations, the structural TT-Metal rules (CB balance, barriers, tile-register protocol,
runtime-arg counts), the golden data against the reference interpreter in bfloat16, and CMake
configure without the SDK (plus configure/compile with a stand-in TT-Metalium package).
Unsupported programs must fail with a clear error and write nothing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.codegen import golden
from uhop_cc.targets.ttmetal import (TTMetalError, bf16_round, check_structure, emit_ttmetal_project, plan_kernel,
                                     syntax_check, ttmetal_supports)
from uhop_cc.targets.ttmetal.checks import host_runtime_arg_counts, runtime_arg_count
from uhop_cc.ir import interpreter

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HAVE_GXX = shutil.which("g++") is not None
HAVE_CMAKE = shutil.which("cmake") is not None

PROGRAMS = {
    "add": ("kernel add(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = A[i, j] + B[i, j] }",
            {"M": 64, "N": 96}, ["add_tiles(cb_A, cb_B, 0, 0, 0);", "add_tiles_init(cb_A, cb_B);"]),
    "sub": ("kernel sub(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = A[i, j] - B[i, j] }",
            {"M": 32, "N": 64}, ["sub_tiles(cb_A, cb_B, 0, 0, 0);", "sub_tiles_init(cb_A, cb_B);"]),
    "mul": ("kernel mul(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = A[i, j] * B[i, j] }",
            {"M": 96, "N": 32}, ["mul_tiles(cb_A, cb_B, 0, 0, 0);", "mul_tiles_init(cb_A, cb_B);"]),
    "relu": ((EXAMPLES / "relu.uir").read_text(), {"N": 4096},
             ["copy_tile(cb_X, 0, 0);", "relu_tile_init();", "relu_tile(0);"]),
    "matmul": ((EXAMPLES / "matmul.uir").read_text(), {"M": 64, "N": 96, "K": 128},
               ["compute_kernel_hw_startup<SrcOrder::Reverse>(cb_A, cb_B, cb_out);", "matmul_init(cb_A, cb_B);",
                "matmul_tiles(cb_A, cb_B, 0, 0, 0);"]),
    "relu_add": ("kernel relu_add(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = relu(A[i, j] + B[i, j]) }",
                 {"M": 64, "N": 64}, ["add_tiles(cb_A, cb_B, 0, 0, 0);", "relu_tile(0);"]),
    "exp_mul": ("kernel exp_mul(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) {\n"
                "    e[i, j] = exp(A[i, j])\n    C[i, j] = e[i, j] * B[i, j]\n}",
                {"M": 32, "N": 32}, ["exp_tile_init();", "exp_tile(0);", "copy_tile(cb_B, 0, 1);",
                                     "mul_binary_tile(0, 1, 0);"]),
}
CASES = [(name, cores) for name in PROGRAMS for cores in ("single", "multi")]


def _bound(src: str, shapes, name: str = "k"):
    return ir.bind_shapes(ir.load(src, f"{name}.uir")[0], shapes)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Every (program, cores) project, emitted once; the syntax checks run concurrently."""
    root = tmp_path_factory.mktemp("ttmetal")
    out = {}
    for name, cores in CASES:
        src, shapes, _ = PROGRAMS[name]
        b = _bound(src, shapes, name)
        arch = "blackhole" if (name, cores) == ("matmul", "multi") else "wormhole_b0"
        out[(name, cores)] = (b, emit_ttmetal_project(b, root / f"{name}_{cores}", cores=cores, arch=arch, seed=3))
    return out


@pytest.fixture(scope="module")
def syntax_reports(projects):
    if not HAVE_GXX:
        pytest.skip("g++ is not installed")
    env_home = os.environ.pop("TT_METAL_HOME", None)  # the declarations are used only without the SDK
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futs = {key: pool.submit(syntax_check, proj.root) for key, (_, proj) in projects.items()}
            return {key: f.result() for key, f in futs.items()}
    finally:
        if env_home is not None:
            os.environ["TT_METAL_HOME"] = env_home


# ---------------------------------------------------------------- layout
@pytest.mark.parametrize("name,cores", CASES)
def test_layout(projects, name, cores):
    b, proj = projects[(name, cores)]
    root = proj.root
    for rel in (proj.host_file, "kernels/dataflow/reader.cpp", "kernels/dataflow/writer.cpp",
                "kernels/compute/compute.cpp", "CMakeLists.txt", "README.md", "plan.json", "spec.json",
                "data/manifest.json", f"data/{proj.plan.output}.golden.bin", "sdk_decls/README.md",
                "sdk_decls/host/tt-metalium/host_api.hpp", "sdk_decls/device/api/compute/matmul.h",
                "sdk_decls/device/api/dataflow/dataflow_api.h"):
        assert (root / rel).is_file(), rel
    for i in proj.plan.inputs:
        assert (root / "data" / f"{i.name}.bin").is_file()
    assert set(proj.files) >= {proj.host_file, "CMakeLists.txt", "README.md", "kernels/compute/compute.cpp"}
    for hdr in (root / "sdk_decls").rglob("*.h*"):
        assert "declarations written from public docs for syntax checking; not the SDK" in hdr.read_text(), hdr
    assert "not the SDK" in (root / "sdk_decls/README.md").read_text()

    plan = json.loads((root / "plan.json").read_text())
    assert plan["cores"] == cores and plan["target"] == "ttmetal"
    assert plan["runtime_arg_counts"] == proj.runtime_arg_counts

    readme = (root / "README.md").read_text()
    assert "cmake -S . -B build" in readme and "uhopc_syntax_check" in readme and f"{cores}-core" in readme


@pytest.mark.parametrize("name,cores", CASES)
def test_kernels_use_the_current_api(projects, name, cores):
    _, proj = projects[(name, cores)]
    reader, compute, writer = (proj.kernels[r] for r in ("reader", "compute", "writer"))
    for src in (reader, compute, writer):
        assert "void kernel_main() {" in src and "namespace NAMESPACE" not in src
    assert '#include "api/dataflow/dataflow_api.h"' in reader and "TensorAccessorArgs<0>()" in reader
    assert "noc_async_read_tile(" in reader and "noc_async_read_barrier();" in reader
    assert "noc_async_write_tile(" in writer and "noc_async_write_barrier();" in writer
    for call in ("tile_regs_acquire();", "tile_regs_commit();", "tile_regs_wait();", "tile_regs_release();",
                 "pack_tile(0, cb_out);"):
        assert call in compute
    for call in PROGRAMS[name][2]:
        assert call in compute, call
    host = proj.host
    assert "distributed::MeshDevice::create_unit_mesh" in host and "CreateCircularBuffer" in host
    assert "tt::DataFormat::Float16_b" in host and "mesh_device->close()" in host
    assert "TensorAccessorArgs(*buf_" in host and "EnqueueMeshWorkload" in host
    assert ("split_work_to_cores" in host) == (cores == "multi")
    assert "std::chrono::steady_clock" in host and "kRtol" in host


# ---------------------------------------------------------------- structure and runtime args
@pytest.mark.parametrize("name,cores", CASES)
def test_structure(projects, name, cores):
    _, proj = projects[(name, cores)]
    assert check_structure(proj.kernels, proj.host, proj.runtime_arg_counts) == []
    host_lens = host_runtime_arg_counts(proj.host)
    for role, src in proj.kernels.items():
        n, idx = runtime_arg_count(src)
        assert idx == list(range(n))
        assert n == proj.runtime_arg_counts[role] == len(proj.host_runtime_args[role])
        assert set(host_lens[role]) == {n}


# ---------------------------------------------------------------- syntax check (g++ against sdk_decls)
@pytest.mark.parametrize("name,cores", CASES)
def test_syntax_check(syntax_reports, name, cores):
    rep = syntax_reports[(name, cores)]
    assert rep.skipped is None
    assert [label for label, _, _ in rep.results] == ["host", "reader", "writer", "compute[unpack]",
                                                      "compute[math]", "compute[pack]"]
    assert rep.ok, rep.format()


# ---------------------------------------------------------------- golden data
@pytest.mark.parametrize("name,cores", CASES)
def test_golden_is_reference_in_bfloat16(projects, name, cores):
    b, proj = projects[(name, cores)]
    data = proj.root / "data"
    ins = golden.load_tensors(data, "input")
    for v in ins.values():
        assert np.array_equal(bf16_round(v), v)  # inputs are bfloat16-exact
    man = golden.read_manifest(data)
    scalars = {k: v["value"] for k, v in man["scalars"].items()}
    want = interpreter.run(b, {**ins, **scalars})[proj.plan.output]
    got = golden.load_tensors(data, "output")[proj.plan.output]
    assert np.array_equal(got, bf16_round(want))
    # and the same as the interpreter on the seed's random inputs, rounded to bfloat16 first
    raw = interpreter.random_inputs(b, 3)
    assert all(np.array_equal(ins[k], bf16_round(raw[k])) for k in ins)
    out = next(t for t in man["tensors"] if t["role"] == "output")
    assert out["rtol"] == proj.tolerance.rtol and out["atol"] == proj.tolerance.atol
    assert f"constexpr double kRtol = {proj.tolerance.rtol!r}" in proj.host


def test_scalar_parameters_reach_the_compute_kernel(tmp_path):
    b = _bound((EXAMPLES / "axpy.uir").read_text(), {"N": 2048}, "axpy")
    proj = emit_ttmetal_project(b, tmp_path / "axpy", seed=1)
    assert proj.runtime_arg_names["compute"] == ["num_tiles", "scalar_a"]
    assert "mul_unary_tile(0, scalar_a);" in proj.kernels["compute"]
    a = golden.read_manifest(tmp_path / "axpy/data")["scalars"]["a"]["value"]
    bits = int(re.search(r"kScalar_a = 0x([0-9a-f]{8})u", proj.host).group(1), 16)
    assert np.array([bits], np.uint32).view(np.float32)[0] == np.float32(a)
    assert check_structure(proj.kernels, proj.host, proj.runtime_arg_counts) == []


# ---------------------------------------------------------------- CMake
def _cmake_configure(src: Path, build: Path, *extra: str):
    env = {k: v for k, v in os.environ.items() if k != "TT_METAL_HOME"}
    return subprocess.run(["cmake", "-S", str(src), "-B", str(build), *extra], capture_output=True, text=True,
                          env=env)


@pytest.mark.skipif(not (HAVE_CMAKE and HAVE_GXX), reason="needs cmake and g++")
def test_cmake_configure_without_sdk(projects, tmp_path):
    _, proj = projects[("matmul", "multi")]
    p = _cmake_configure(proj.root, tmp_path / "build")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "TT-Metalium (tt-metal) was not found" in p.stdout
    assert "uhopc_syntax_check" in p.stdout and "not the SDK" in p.stdout
    b = subprocess.run(["cmake", "--build", str(tmp_path / "build"), "--target", "uhopc_syntax_check"],
                       capture_output=True, text=True)
    assert b.returncode == 0, b.stdout + b.stderr
    assert "uhopc_syntax_check: compute[pack]" in b.stdout


@pytest.mark.skipif(not (HAVE_CMAKE and HAVE_GXX), reason="needs cmake and g++")
def test_cmake_with_a_stand_in_sdk_package(projects, tmp_path):
    """With a TT-Metalium package found, the project defines the real executable and its host source
    compiles as C++20 (what tt-metal uses); the stand-in package points at the declarations."""
    _, proj = projects[("add", "single")]
    pkg = tmp_path / "prefix/lib/cmake/TT-Metalium"
    pkg.mkdir(parents=True)
    decls = proj.root / "sdk_decls"
    (pkg / "TT-MetaliumConfig.cmake").write_text(
        "add_library(TT::Metalium INTERFACE IMPORTED)\n"
        f'set_target_properties(TT::Metalium PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "{decls}/host;{decls}/common")\n')
    p = _cmake_configure(proj.root, tmp_path / "build", f"-DCMAKE_PREFIX_PATH={tmp_path / 'prefix'}")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "building metal_uhopc_add against TT-Metalium" in p.stdout
    obj = subprocess.run(["cmake", "--build", str(tmp_path / "build"), "--target", "add.cpp.o"],
                         capture_output=True, text=True)
    if obj.returncode != 0 and "No rule to make target" in obj.stdout + obj.stderr:
        pytest.skip("this CMake generator has no per-object targets")
    assert obj.returncode == 0, obj.stdout + obj.stderr


# ---------------------------------------------------------------- unsupported programs
UNSUPPORTED = [
    ("softmax", (EXAMPLES / "softmax.uir").read_text(), {"R": 32, "C": 32},
     r"^ttmetal: reductions other than matmul are not supported \(`max\(c\)` in statement m, line 3\)$"),
    ("conv2d", (EXAMPLES / "conv2d.uir").read_text(), {"N": 1, "C": 2, "H": 34, "W": 34, "K": 2, "R": 3, "S": 3},
     r"^ttmetal: reductions other than matmul are not supported \(`sum\(c, r, s\)` in statement Y, line 3\)$"),
    ("nontile", PROGRAMS["add"][0], {"M": 33, "N": 64},
     r"^ttmetal: shape 33x64 is not a multiple of the 32x32 tile"),
    ("nontile_k", (EXAMPLES / "matmul.uir").read_text(), {"M": 32, "N": 32, "K": 48},
     r"^ttmetal: shape 32x48 is not a multiple of the 32x32 tile \(input `A`\)"),
    ("select", "kernel s(A: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = select(A[i, j] > 0.0, A[i, j], 0.0) }",
     {"M": 32, "N": 32}, r"^ttmetal: select is not supported \(`select\(.*\)` in statement C, line 1\)$"),
    ("len1000", (EXAMPLES / "relu.uir").read_text(), {"N": 1000},
     r"^ttmetal: 1-D length 1000 is not a multiple of 1024"),
    ("stencil", (EXAMPLES / "stencil2d.uir").read_text(), {"H": 34, "W": 34},
     r"^ttmetal: access `X\[i \+ 1, j \+ 1\]` is not elementwise"),
    ("bmm", (EXAMPLES / "bmm_nt.uir").read_text(), {"Bt": 2, "K": 32, "M": 32, "N": 32},
     r"^ttmetal: only 2-D matmul"),
    ("dense", (EXAMPLES / "mlp.uir").read_text(), {"Bt": 32, "I": 32, "O": 32},
     r"^ttmetal: only the matmul form C\[i, j\] = sum\(k\) A\[i, k\] \* B\[k, j\] is supported"),
    ("broadcast", "kernel bc(X: f32[M, N], b: f32[N]) -> (Y: f32[M, N]) { Y[i, j] = X[i, j] + b[j] }",
     {"M": 32, "N": 1024}, r"^ttmetal: `b\[j\]` broadcasts over the output"),
    ("int", "kernel ii(A: i32[N]) -> (C: i32[N]) { C[i] = A[i] + 1 }", {"N": 1024},
     r"^ttmetal: i32 tensors are not supported"),
    ("two_outputs", (EXAMPLES / "stats.uir").read_text(), {"N": 1024},
     r"^ttmetal: kernels with 2 outputs are not supported"),
]


@pytest.mark.parametrize("name,src,shapes,pattern", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_programs_fail_clearly(tmp_path, name, src, shapes, pattern):
    b = _bound(src, shapes, name)
    reason = ttmetal_supports(b)
    assert reason is not None and re.search(pattern, reason), reason
    with pytest.raises(TTMetalError, match=pattern):
        emit_ttmetal_project(b, tmp_path / name)
    assert not (tmp_path / name).exists()  # nothing written


def test_supported_programs_report_none():
    for name, (src, shapes, _) in PROGRAMS.items():
        assert ttmetal_supports(_bound(src, shapes, name)) is None, name


def test_bad_options(tmp_path):
    b = _bound(*PROGRAMS["add"][:2])
    with pytest.raises(ValueError, match="cores"):
        emit_ttmetal_project(b, tmp_path / "x", cores="many")
    with pytest.raises(ValueError, match="arch"):
        emit_ttmetal_project(b, tmp_path / "x", arch="grayskull")


def test_plan_of_a_deep_expression_fits_dst():
    src = ("kernel deep(A: f32[N], B: f32[N], C: f32[N], D: f32[N]) -> (Y: f32[N]) "
           "{ Y[i] = (exp(A[i]) * sqrt(B[i])) - (C[i] / (D[i] + 1.0)) }")
    plan = plan_kernel(_bound(src, {"N": 1024}))
    assert plan.kind == "eltwise" and plan.dst_tiles <= 8
    assert [i.name for i in plan.inputs] == ["A", "B", "C", "D"]


# ---------------------------------------------------------------- the static analyzer, when it exists
def test_static_analyzer_on_emitted_kernels(projects):
    """uhop_cc.analyze's TT-Metal rules (CB wait/pop, NoC barriers, tile-register order, ...) find
    nothing to complain about in any emitted kernel."""
    try:
        from uhop_cc.analyze import analyze
        analyze("void kernel_main() {}", target="ttmetal")
    except ImportError as e:
        pytest.skip(f"the static analyzer is not available: {e}")
    findings = {}
    for (name, cores), (_, proj) in projects.items():
        for role, src in proj.kernels.items():
            rep = analyze(src, target="ttmetal")
            bad = [str(f) for f in rep.findings if f.severity in ("error", "warning")]
            if bad:
                findings[f"{name}/{cores}/{role}"] = bad
    assert not findings, json.dumps(findings, indent=2)
