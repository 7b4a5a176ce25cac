"""64-bit indices: chosen per shape (lower/indexing.py), rendered by the generic lowering and the
templates, passed by the runtimes with the width each kernel declares, and refused with a clear
error where a 32-bit kernel would wrap.

Shapes past 2^31 elements need 8+ GB per f32 tensor, so the run past the limit is a GPU test
(tests/targets/cuda/test_cuda_gpu.py, bench/wide_indices.py); here the 64-bit kernels are run at small
shapes against the reference, and the choice and the refusals are checked at huge shapes without
allocating anything.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from strategies import programs
from uhop_cc import ir
from uhop_cc.analyze import analyze
from uhop_cc.codegen import parse_launch
from uhop_cc.targets import renderer
from uhop_cc.targets.opencl.templates import TEMPLATES, get_template, select_template
from uhop_cc.lower import build_spec, index_bits
from uhop_cc.lower.indexing import INT32_SAFE

ROOT = Path(__file__).resolve().parents[3]
RELU = "kernel relu(X: f32[M, N]) -> (Y: f32[M, N]) {\n    Y[i, j] = relu(X[i, j])\n}\n"


def _bound(text, sizes):
    return ir.bind_shapes(ir.load(text)[0], sizes)


# ------------------------------------------------------------------ the choice, per shape
def test_index_bits_follows_the_largest_index():
    assert index_bits(_bound(RELU, {"M": 4, "N": 4})) == 32
    assert index_bits(_bound(RELU, {"M": 46341, "N": 46341})) == 64  # 2,147,488,281 elements
    assert index_bits(_bound(RELU, {"M": 1, "N": 3_000_000_000})) == 64  # a size past int
    assert index_bits(_bound(RELU, {"M": 1, "N": INT32_SAFE})) == 32
    assert index_bits(_bound(RELU, {"M": 1, "N": INT32_SAFE + 1})) == 64
    # a reduction's iteration space counts, not only the tensors
    mm = ir.load_file(ROOT / "examples" / "matmul.uir")[0]
    assert index_bits(ir.bind_shapes(mm, {"M": 2, "K": 2 ** 31, "N": 2})) == 64


def test_spec_abi_names_64_bit_sizes_only_where_needed():
    small = build_spec(_bound(RELU, {"M": 4, "N": 4}))
    big = build_spec(_bound(RELU, {"M": 70000, "N": 70000}))
    assert small.index_bits == 32 and big.index_bits == 64
    decl = renderer("opencl").abi_decl  # the spec's ABI is target-neutral; the renderer writes the C type
    assert [(a.dtype, decl(a)) for a in small.abi if a.kind == "size"] == [("i32", "const int")] * 2
    assert [(a.dtype, decl(a)) for a in big.abi if a.kind == "size"] == [("i64", "const long")] * 2


@pytest.mark.parametrize("target,wide", [("opencl", "long"), ("cuda", "long long")])
def test_generic_lowering_widens_every_index(target, wide):
    k = ir.load(RELU)[0]
    narrow = renderer(target).generic(k).source
    src = renderer(target, 64).generic(k).source
    assert f"const {wide} M" in src and f"const {wide} _ugid" in src and f"const {wide} i" in src
    assert "const int" not in src and "const int M" in narrow
    mm = ir.load_file(ROOT / "examples" / "matmul.uir")[0]
    assert f"for ({wide} k = 0" in renderer(target, 64).generic(mm).source


def test_analyzer_accepts_64_bit_sizes_and_requires_them_where_needed():
    k = ir.load(RELU)[0]
    wide_src = renderer("opencl", 64).generic(k).source
    narrow_src = renderer("opencl").generic(k).source
    small = build_spec(ir.bind_shapes(k, {"M": 4, "N": 4}))
    big = build_spec(ir.bind_shapes(k, {"M": 70000, "N": 70000}))
    assert analyze(wide_src, "opencl", small).errors == ()  # a 64-bit kernel serves small shapes too
    assert analyze(wide_src, "opencl", big).errors == ()
    report = analyze(narrow_src, "opencl", big)
    assert any("long" in f.message for f in report.errors), report.findings


# ------------------------------------------------------------------ the templates, rendered
CPU_FP = {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_size": 65536}
GPU_FP = {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 49152}


def _example_sizes(k, n: int) -> dict:
    sizes = {s: n for s in k.sizes}
    if {"R", "S", "H"} <= set(sizes):
        sizes.update(R=3, S=3, H=n + 2, W=n + 3)
    return sizes


def _schedules(tpl, m) -> list:
    """The CPU and GPU schedules of a match, thinned to one per code path that differs: the first, then
    each that brings a new algorithm, buffering, local copy, padding, vector width 1 vs more, or a
    work-group reduction tree."""
    def paths(p):
        return {("ALGO", p.get("ALGO", 0)), ("DB", p.get("DB", 0)), ("LOCAL", p.get("LOCAL")),
                ("PAD", p.get("PAD", 0)), ("vector", max(int(p.get("VW", 1)), int(p.get("XV", 1))) > 1),
                ("tree", int(p.get("LC", 1)) > 1)}
    chosen, seen = [], set()
    for p in tpl.space(m, CPU_FP) + tpl.space(m, GPU_FP):
        if p not in chosen and (not chosen or paths(p) - seen):
            chosen.append(p)
            seen |= paths(p)
    return chosen


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.uir")), ids=lambda p: p.stem)
def test_narrow_templates_are_unchanged_at_small_shapes(path):
    """Small shapes cost nothing: no `long` anywhere, whatever the schedule, and asking for 32 bits
    renders the same source as not asking."""
    for k in ir.load_file(path):
        for n in (7, 130):
            b = ir.bind_shapes(k, _example_sizes(k, n))
            for tpl in TEMPLATES:
                m = tpl.match(b)
                if m is None:
                    continue
                for params in tpl.space(m, CPU_FP) + tpl.space(m, GPU_FP):
                    g = tpl.render(m, params)
                    assert "long" not in g.source and "index_bits" not in g.params, (tpl.name, params)
                    assert tpl.render(m, dict(params, index_bits=32)).source == g.source


HUGE = [  # (example, sizes past 2^31 - 1 elements, template, a 64-bit declaration its source must hold)
    ("matmul.uir", dict(M=50_000, K=50_000, N=50_000), "matmul", "const long _ui0 = (long)get_group_id(1)"),
    ("bmm_nt.uir", dict(Bt=4, M=30_000, K=30_000, N=30_000), "matmul", "const long b = get_group_id(2)"),
    ("stencil2d.uir", dict(H=70_000, W=70_000), "stencil", "const long _uo0 = (long)get_group_id(1)"),
    ("stencil3d.uir", dict(D=1_300, H=1_300, W=1_300), "stencil", "const long _ug2 = _uo2"),
    ("softmax.uir", dict(R=70_000, C=70_000), "rowreduce", "const long _urowg = (long)get_group_id(1)"),
    ("conv2d.uir", dict(N=1, C=1, H=50_000, W=50_000, K=2, R=3, S=3), "conv2d", "const long _ux0"),
]


@pytest.mark.parametrize("where,sizes,name,decl", HUGE, ids=[h[0].split(".")[0] for h in HUGE])
def test_huge_shapes_get_64_bit_templates(where, sizes, name, decl):
    k = ir.load_file(ROOT / "examples" / where)[0]
    b = ir.bind_shapes(k, sizes)
    tpl = get_template(name)
    m = tpl.match(b)
    assert m is not None and index_bits(b) == 64
    first = tpl.space(m, GPU_FP)[0]
    g = tpl.render(m, first)
    assert g.params["index_bits"] == 64 and decl in g.source, g.source
    assert all(f"const long {s}" in g.source for s in k.sizes)
    with pytest.raises(ValueError, match="index_bits=64"):
        tpl.render(m, dict(first, index_bits=32))
    if name == "conv2d":  # the implicit GEMM too: its offset tables hold 64-bit offsets
        igemm = next(p for p in tpl.space(m, GPU_FP) if p.get("ALGO") == 1)
        assert "__local long _uxo" in tpl.render(m, igemm).source


# ------------------------------------------------------------------ the kernels, run at small shapes
cl = pytest.importorskip("pyopencl")


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice, OpenCLUnavailable
    try:
        return OpenCLDevice.open()
    except OpenCLUnavailable:
        pytest.skip("no OpenCL device")


def _validate(device, source, bound):
    from uhop_cc.verify.validate import validate
    built = device.build(source)
    assert built.ok, built.log + "\n" + source
    report = validate(device, built, parse_launch(source), bound)
    assert report.ok, f"{report.reason}\n{source}"


@pytest.mark.opencl
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(programs())
def test_wide_generic_kernels_match_the_reference(device, prog):
    text, sizes = prog
    k = ir.load(text, "rand.uir")[0]
    _validate(device, renderer("opencl", 64).generic(k).source, ir.bind_shapes(k, sizes))


@pytest.mark.opencl
@pytest.mark.parametrize("n", [7, 37])
@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.uir")), ids=lambda p: p.stem)
def test_wide_templates_match_the_reference(device, path, n):
    """Every template's 64-bit render (asked for at small shapes), on partial (7) and full (37) tiles."""
    for k in ir.load_file(path):
        b = ir.bind_shapes(k, _example_sizes(k, n))
        found = select_template(b)
        if found is None:
            continue
        tpl, m = found
        for params in _schedules(tpl, m):
            g = tpl.render(m, dict(params, index_bits=64))
            assert g.params.get("index_bits") == 64
            assert "long" in g.source
            _validate(device, g.source, b)


def test_a_template_never_renders_32_bit_indices_for_a_huge_shape():
    b = _bound(RELU, {"M": 70000, "N": 70000})
    tpl = get_template("elementwise")
    m = tpl.match(b)
    assert m is not None
    assert "const long _utotal" in tpl.render(m, tpl.space(m)[0]).source
    with pytest.raises(ValueError, match="index_bits=64"):
        tpl.render(m, dict(tpl.space(m)[0], index_bits=32))


@pytest.mark.opencl
def test_runtime_refuses_a_32_bit_kernel_for_a_size_past_int(device):
    """A size that does not fit the kernel's `int` is an ABI error before anything is allocated
    (it used to overflow np.int32, or wrap)."""
    from uhop_cc.targets.opencl.runtime import AbiError
    k = ir.load(RELU)[0]
    b = ir.bind_shapes(k, {"M": 1, "N": 3_000_000_000})
    src = renderer("opencl").generic(k).source
    built = device.build(src)
    assert built.ok
    with pytest.raises(AbiError, match="does not fit the kernel's `int`"):
        device.run(built, parse_launch(src), b, {})  # the ABI is resolved before any input is read


@pytest.mark.opencl
@pytest.mark.parametrize("size_decl,status,rc", [("const long N", "PASSED", 0), ("const uint N", "ANALYSIS_REJECTED", 1)])
def test_a_users_kernel_may_take_64_bit_sizes_but_not_unsigned_ones(tmp_path, capsys, size_decl, status, rc):
    """--kernel-source with `long` sizes is judged (and run at every test shape with 64-bit size
    arguments); `uint` sizes are an ABI error the analyzer names, not a silently reinterpreted value."""
    from uhop_cc.cli import main
    k = ir.load(RELU.replace("[M, N]", "[N]").replace("[i, j]", "[i]"))[0]
    src = renderer("opencl", 64).generic(k).source.replace("const long N", size_decl)
    (tmp_path / "relu.uir").write_text(RELU.replace("[M, N]", "[N]").replace("[i, j]", "[i]"))
    (tmp_path / "k.cl").write_text(src)
    got = main(["compile", str(tmp_path / "relu.uir"), "--shapes", "N=1000", "--kernel-source", str(tmp_path / "k.cl"),
                "--no-roofline", "-o", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert got == rc and f"verdict    {status}" in out, out
