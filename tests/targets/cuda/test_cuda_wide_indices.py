"""64-bit indices in the CUDA templates (tests/targets/opencl/test_wide_indices.py is the OpenCL side).

Every CUDA template renders `long long` sizes and global indices when asked (`index_bits=64`, what
a shape past 2^31 - 1 elements gets) and the same source as before at small shapes otherwise. The
wide sources are compiled with NVRTC and run on the CPU (tests/targets/cuda/cuda_on_cpu.py) against the
reference at small shapes; schedules the grid cannot hold (65535 blocks along y and z) are refused
at huge shapes without allocating anything.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from cuda_on_cpu import gxx_unavailable_reason, run
from cuda_support import requires_nvrtc
from uhop_cc import ir
from uhop_cc.targets.cuda.templates import TEMPLATES, get_template
from uhop_cc.ir import interpreter
from uhop_cc.targets.cuda.runtime import kernel_signatures
from uhop_cc.verify.tolerance import compare

ROOT = Path(__file__).resolve().parents[3]
FP = {"sm_count": 4, "max_threads_per_block": 1024}
CONV_EPI = ("kernel t(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (Y: f32[N, K, H - 2, W - 2]) "
            "{ Y[n, k, y, x] = relu(b[k] + sum(c in 1..C, r in 0..3, s in 0..3) X[n, c, y + r, x + s] * F[k, c, r, s]) }")
SGEMM_EPI = ("kernel t(A: f32[M, K], B: f32[K, N], b: f32[N]) -> (C: f32[M, N]) "
             "{ C[i, j] = relu(b[j] + sum(k in 1..K) A[i, k] * B[k, j]) * 0.5 }")


def _kernel(where: str, name: str = None):
    ks = ir.load(where, "t.uir") if where.startswith("kernel") else ir.load_file(ROOT / "examples" / where)
    return next(k for k in ks if name is None or k.name == name)


def _small(k) -> dict:
    sizes = {s: 7 for s in k.sizes}
    if {"R", "S", "H"} <= set(sizes):
        sizes.update(R=3, S=3, H=9, W=10)
    return sizes


def _example_matches():
    """(id, bound, template, match) of every CUDA template that takes an example at small shapes."""
    out = []
    for path in sorted((ROOT / "examples").glob("*.uir")):
        for k in ir.load_file(path):
            b = ir.bind_shapes(k, _small(k))
            for t in TEMPLATES:
                m = t.match(b)
                if m is not None:
                    out.append((f"{path.stem}-{k.name}-{t.name}", b, t, m))
    return out


def _size_types(source: str, bound) -> set:
    """The C types of the size arguments of the kernel in `source`."""
    (params,) = kernel_signatures(source).values()
    sizes = set(bound.checked.sizes)
    return {p.rsplit(" ", 1)[0].strip() for p in params if p.rsplit(" ", 1)[-1].strip() in sizes}


def test_every_cuda_template_is_covered_by_an_example():
    assert {t.name for _, _, t, _ in _example_matches()} == {t.name for t in TEMPLATES}


@pytest.mark.parametrize("case", _example_matches(), ids=lambda c: c[0])
def test_wide_renders_declare_64_bit_sizes_and_narrow_ones_are_unchanged(case):
    _, b, t, m = case
    for params in t.space(m, FP):
        narrow = t.render(m, params)
        assert "index_bits" not in narrow.params
        assert _size_types(narrow.source, b) == {"const int"}
        assert t.render(m, dict(params, index_bits=32)).source == narrow.source
        wide = t.render(m, dict(params, index_bits=64))
        assert wide.params["index_bits"] == 64
        assert _size_types(wide.source, b) == {"const long long"}
        # no 32-bit copy of a block offset: blockIdx products are formed in 64 bits
        assert "(int)blockIdx" not in wide.source and "const int _ui0" not in wide.source


@requires_nvrtc
@pytest.mark.parametrize("case", _example_matches(), ids=lambda c: c[0])
def test_wide_renders_compile_with_nvrtc(case):
    from uhop_cc.targets.cuda.runtime import nvrtc_compile
    _, _, t, m = case
    for params in t.space(m, FP)[:4]:
        src = t.render(m, dict(params, index_bits=64)).source
        built = nvrtc_compile(src)
        assert built.ok, built.log + "\n" + src


# ------------------------------------------------------------------ run on the CPU against the reference
# (kernel, sizes, how many schedules of the space): shapes with partial and full tiles
CPU_CASES = [
    ("matmul.uir", None, dict(M=70, K=37, N=133), 2),
    (SGEMM_EPI, None, dict(M=9, K=11, N=10), 1),
    ("softmax.uir", "softmax", dict(R=5, C=1000), 3),
    ("layernorm.uir", "layernorm", dict(R=4, C=300), 2),
    ("cosine.uir", "cosine", dict(N=3, D=130), 1),
    ("relu.uir", None, dict(N=4099), 1),
    ("axpy.uir", None, dict(N=13), 1),
    ("conv2d.uir", None, dict(N=2, C=3, H=7, W=9, K=67, R=3, S=2), 1),
    (CONV_EPI, None, dict(N=1, C=7, H=5, W=5, K=5, R=3, S=3), 1),
    ("stencil2d.uir", None, dict(H=35, W=70), 2),
    ("stencil3d.uir", None, dict(D=6, H=11, W=40), 1),
    ("blur_same.uir", None, dict(H=9, W=37), 1),
]


@pytest.mark.skipif(bool(gxx_unavailable_reason()), reason="g++ unavailable")
@pytest.mark.parametrize("where,name,sizes,count", CPU_CASES,
                         ids=[f"{w.split('.')[0] if not w.startswith('kernel') else 'epilogue'}-{i}"
                              for i, (w, _, _, _) in enumerate(CPU_CASES)])
def test_wide_renders_compute_the_reference_on_cpu(where, name, sizes, count, tmp_path):
    from uhop_cc.targets.cuda.templates import select_template
    b = ir.bind_shapes(_kernel(where, name), sizes)
    t, m = select_template(b)
    inputs = interpreter.random_inputs(b, seed=5)
    want = interpreter.run(b, inputs)
    schedules = t.space(m, FP)
    if t.name == "rowreduce":  # the register path and the strided loops, rows cached or not
        schedules = [p for p in schedules if p["REGS"]][:1] + [p for p in schedules if not p["REGS"]]
    for params in schedules[:count]:
        source = t.render(m, dict(params, index_bits=64)).source
        got = run(source, b, inputs, tmp_path)
        for out, value in got.items():
            c = compare(value, want[out], b.checked.tensors[out].dtype)
            assert c.ok, f"{t.name} {params} {out}: {c.mismatches} of {c.elements} differ\n{source}"


# ------------------------------------------------------------------ huge shapes: chosen, or refused
def test_huge_shapes_get_64_bit_indices_without_asking():
    relu = ir.bind_shapes(_kernel("relu.uir"), {"N": 3_000_000_000})
    t = get_template("elementwise")
    g = t.render(t.match(relu))
    assert g.params["index_bits"] == 64 and "const long long N" in g.source
    with pytest.raises(ValueError, match="index_bits=64"):
        t.render(t.match(relu), dict(t.space(t.match(relu))[0], index_bits=32))
    mm = ir.bind_shapes(_kernel("matmul.uir"), dict(M=50_000, K=50_000, N=50_000))  # 2.5e9 elements each
    sg = get_template("sgemm")
    g = sg.render(sg.match(mm))
    assert g.params["index_bits"] == 64 and "const long long _ui0 = (long long)blockIdx.y" in g.source


def test_grids_past_the_cuda_limits_are_refused():
    tall = ir.bind_shapes(_kernel("matmul.uir"), dict(M=65535 * 256 + 1, K=4, N=4))
    assert get_template("sgemm").match(tall) is None
    assert "blocks along the grid's y axis" in get_template("sgemm").why_not(tall)
    rows = ir.bind_shapes(_kernel("matmul.uir"), dict(M=65535 * 128 + 1, K=4, N=4))  # fits BM=256 only
    sg = get_template("sgemm")
    m = sg.match(rows)
    assert m is not None and all(p["BM"] == 256 for p in sg.space(m))
    with pytest.raises(ValueError, match="65535 blocks"):
        sg.render(m, dict(BM=128, BN=128, BK=8, TM=8, TN=8))
    st = get_template("stencil")
    deep = ir.bind_shapes(_kernel("stencil2d.uir"), dict(H=65535 * 16 + 3, W=8))  # fits tiles of 32 rows only
    m = st.match(deep)
    for fp in (FP, {"device_type": "CPU"}):  # the CPU rows hold no such tile: the GPU's are offered
        assert m is not None and st.space(m, fp)
        assert all(-(-(65535 * 16 + 1) // (p["LY"] * p["EY"])) <= 65535 for p in st.space(m, fp))
    with pytest.raises(ValueError, match="grid allows"):
        st.render(m, dict(LOCAL=0, LX=32, LY=4, EX=1, EY=1))
    assert st.match(ir.bind_shapes(_kernel("stencil2d.uir"), dict(H=65535 * 32 + 3, W=8))) is None
    conv = ir.bind_shapes(_kernel("conv2d.uir"), dict(N=1, C=1, H=3, W=3, K=65535 * 128 + 1, R=3, S=3))
    assert get_template("conv2d").match(conv) is None


# ------------------------------------------------------------------ past 2^31 for real (a GPU with ~20 GB free)
def _free_bytes() -> int:
    try:
        from cuda.bindings import driver as cu
        err, free, _total = cu.cuMemGetInfo()
        return int(free) if int(err) == 0 else 0
    except Exception:  # noqa: BLE001 - no driver: the gpu marker skips first
        return 0


@pytest.mark.gpu
def test_relu_past_two_to_the_31_elements_on_the_gpu(cuda_device):
    """46341 x 46341 = 2,147,488,281 elements: the kernel uhopc picks indexes in 64 bits and every
    element is right (it used to wrap: `int` indices and `const int` sizes)."""
    import numpy as np
    from uhop_cc.pipeline import compile_bound
    if _free_bytes() < 20 * 2 ** 30:
        pytest.skip("needs about 20 GB of free GPU memory")
    text = "kernel relu(X: f32[M, N]) -> (Y: f32[M, N]) {\n    Y[i, j] = relu(X[i, j])\n}\n"
    b = ir.bind_shapes(ir.load(text)[0], {"M": 46341, "N": 46341})
    res = compile_bound(b, target="cuda", device=cuda_device, validate=False, time=False, use_cache=False)
    assert res.ok and res.kernel.params.get("index_bits") == 64, res.reason
    rng = np.random.default_rng(7)
    x = rng.standard_normal((46341, 46341), dtype=np.float32)
    run = cuda_device.run(res.program, res.stages, b, {"X": x})
    y = run.outputs["Y"]
    np.testing.assert_array_equal(y[-1], np.maximum(x[-1], 0))  # the last row: past 2^31 - 1
    np.testing.assert_array_equal(y[:, -1], np.maximum(x[:, -1], 0))
    np.testing.assert_array_equal(y, np.maximum(x, 0))
