"""The CUDA templates' own sources executed on the CPU (tests/targets/cuda/cuda_on_cpu.py: g++ and a thread
per CUDA thread with a block barrier), against the reference interpreter: what they compute is tested
where no GPU exists. Every tile of the sgemm and conv2d spaces, stencils, at edge shapes."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuda_on_cpu import gxx_unavailable_reason, run
from uhop_cc import ir
from uhop_cc.targets.cuda.templates import select_template
from uhop_cc.ir import interpreter
from uhop_cc.verify.tolerance import compare

pytestmark = pytest.mark.skipif(bool(gxx_unavailable_reason()), reason="g++ unavailable")

ROOT = Path(__file__).resolve().parents[3]
CONV_EPI = ("kernel t(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (Y: f32[N, K, H - 2, W - 2]) "
            "{ Y[n, k, y, x] = relu(b[k] + sum(c in 1..C, r in 0..3, s in 0..3) X[n, c, y + r, x + s] * F[k, c, r, s]) }")
SGEMM_EPI = ("kernel t(A: f32[M, K], B: f32[K, N], b: f32[N]) -> (C: f32[M, N]) "
             "{ C[i, j] = relu(b[j] + sum(k in 1..K) A[i, k] * B[k, j]) * 0.5 }")


def _bound(text_or_path, sizes):
    ks = ir.load_file(text_or_path) if isinstance(text_or_path, Path) else ir.load(text_or_path, "t.uir")
    return ir.bind_shapes(ks[0], sizes)


def check(source: str, bound, tmp_path, seed: int = 3) -> None:
    inputs = interpreter.random_inputs(bound, seed=seed)
    want = interpreter.run(bound, inputs)
    got = run(source, bound, inputs, tmp_path)
    for name, out in got.items():
        ref = want[name]
        c = compare(out, ref, bound.checked.tensors[name].dtype)
        assert c.ok, (f"{name}: {c.mismatches} of {c.elements} differ, first at {c.first_index}: got "
                      f"{c.first_got}, expected {c.first_expected}\n{source}")


def _all_tiles(bound, extra=()):
    t, m = select_template(bound)
    return t, m, list(t.space(m, {"sm_count": 4})) + list(extra)


@pytest.mark.parametrize("which", ["sgemm", "sgemm-epilogue", "conv2d", "conv2d-epilogue"])
def test_gemm_tiles_compute_the_reference(which, tmp_path):
    if which == "sgemm":
        b = _bound(ROOT / "examples" / "matmul.uir", dict(M=70, K=37, N=133))
    elif which == "sgemm-epilogue":
        b = _bound(SGEMM_EPI, dict(M=9, K=11, N=10))
    elif which == "conv2d":
        b = _bound(ROOT / "examples" / "conv2d.uir", dict(N=2, C=3, H=7, W=9, K=67, R=3, S=2))
    else:
        b = _bound(CONV_EPI, dict(N=2, C=4, H=6, W=7, K=33, R=3, S=3))
    extra = [dict(BM=32, BN=256, BK=16, TM=8, TN=8)] if which.startswith("conv2d") else []
    t, m, tiles = _all_tiles(b, extra)
    assert t.name == which.split("-")[0] and len(tiles) >= 5
    for params in tiles:
        check(t.render(m, params).source, b, tmp_path)


def test_conv_magic_division_matches_plain_division(tmp_path):
    """Filters whose R*S and S are not powers of two, partial channel range: the multiply-high path."""
    b = _bound(CONV_EPI, dict(N=1, C=7, H=5, W=5, K=5, R=3, S=3))
    t, m = select_template(b)
    check(t.render(m, dict(BM=32, BN=128, BK=16, TM=4, TN=8)).source, b, tmp_path)


@pytest.mark.parametrize("path,sizes", [("stencil2d.uir", dict(H=35, W=70)), ("stencil3d.uir", dict(D=6, H=11, W=40)),
                                        ("blur_same.uir", dict(H=9, W=37))])
def test_stencil_space_computes_the_reference(path, sizes, tmp_path):
    b = _bound(ROOT / "examples" / path, sizes)
    t, m = select_template(b)
    assert t.name == "stencil"
    for params in t.space(m, {"sm_count": 4, "max_threads_per_block": 1024}):
        check(t.render(m, params).source, b, tmp_path)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 2), c=st.integers(1, 5), k=st.integers(1, 70), r=st.integers(1, 3), s=st.integers(1, 3),
       h=st.integers(0, 6), w=st.integers(0, 9))
def test_conv_default_tile_on_random_shapes(tmp_path, n, c, k, r, s, h, w):
    b = _bound(ROOT / "examples" / "conv2d.uir", dict(N=n, C=c, H=r + h, W=s + w, K=k, R=r, S=s))
    t, m = select_template(b)
    check(t.render(m).source, b, tmp_path)


@pytest.mark.parametrize("path,sizes", [("relu.uir", dict(N=4099)), ("axpy.uir", dict(N=13)), ("mlp.uir", None)])
def test_elementwise_space_computes_the_reference(path, sizes, tmp_path):
    k = next(k for k in ir.load_file(ROOT / "examples" / path) if select_template(
        ir.bind_shapes(k, {s: 7 for s in k.sizes})) and select_template(
        ir.bind_shapes(k, {s: 7 for s in k.sizes}))[0].name == "elementwise")
    b = ir.bind_shapes(k, sizes or {s: 1031 for s in k.sizes})
    t, m = select_template(b)
    for params in t.space(m, {"sm_count": 4})[:3]:
        check(t.render(m, params).source, b, tmp_path)


@pytest.mark.parametrize("path,name,sizes", [("softmax.uir", "softmax", dict(R=5, C=1000)),
                                             ("softmax.uir", "softmax", dict(R=3, C=37)),
                                             ("layernorm.uir", "layernorm", dict(R=4, C=300)),
                                             ("cosine.uir", "cosine", dict(N=3, D=130))])
def test_rowreduce_space_computes_the_reference(path, name, sizes, tmp_path):
    """Row reductions: shuffles within warps, a barrier across them, rows in registers or shared memory."""
    k = next(k for k in ir.load_file(ROOT / "examples" / path) if k.name == name)
    b = ir.bind_shapes(k, sizes)
    t, m = select_template(b)
    assert t.name == "rowreduce"
    for params in t.space(m, {"sm_count": 4, "max_threads_per_block": 1024}):
        check(t.render(m, params).source, b, tmp_path)
