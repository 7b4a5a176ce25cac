"""Implicit-GEMM conv2d (ALGO=1) and double-buffered / unrolled matmul (DB, UK) against the
reference interpreter on the real OpenCL device: every new candidate of `space()`, hand-picked
tile shapes (more work-items than tile columns and fewer, C*R*S not a multiple of TK, 1x1
filters, batches, partial reduction ranges, an epilogue), random shapes, parameter validation
and backward compatibility of the schedules cached before these params existed."""
from __future__ import annotations

import pytest

pytest.importorskip("pyopencl")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from test_templates import (CONV, MATMUL_LAYOUTS, SETTINGS, _DEV, _load, assert_matches_reference,  # noqa: E402
                            kernel_of)
from uhop_cc import ir  # noqa: E402
from uhop_cc.targets.opencl.templates import get_template  # noqa: E402

CONV_T = get_template("conv2d")
MM_T = get_template("matmul")

FP_CPU = {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_size": 512 * 1024}
FP_GPU = {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 48 * 1024, "compute_units": 132}

CONVS = dict(CONV, plain=None, ranges="""kernel cr(X: f32[N, C, H, W], F: f32[K, C, R, S]) -> (
        Y: f32[N, K, H - R + 1, W - S + 1]) {
    Y[n, k, y, x] = sum(c in 1..C, r, s in 0..S - 1) X[n, c, y + r, x + s] * F[k, c, r, s] }""")

# every work-item / copy arrangement: NT < TN (several columns each), NT > TN (row steps), NT == TN
IGEMM = [dict(TM=16, TN=16, TK=8, WM=2, WN=4, VW=4, ALGO=1),       # NT 32 > TN 16
         dict(TM=32, TN=64, TK=16, WM=8, WN=16, VW=16, ALGO=1),    # NT 16 < TN 64
         dict(TM=16, TN=64, TK=16, WM=2, WN=4, VW=1, ALGO=1),      # NT 128 > TN 64, scalar accumulators
         dict(TM=8, TN=8, TK=8, WM=1, WN=1, VW=1, ALGO=1)]         # NT 64 > TN 8


def _conv(which: str):
    return kernel_of("conv2d.uir") if which == "plain" else _load(CONVS[which])


def _fits_device(p: dict) -> bool:
    nt = (p["TM"] // p["WM"]) * (p["TN"] // p["WN"])
    return nt <= _DEV.max_work_group_size


def _new_conv_candidates(bound):
    m = CONV_T.match(bound)
    out = []
    for fp in (FP_CPU, FP_GPU, None):
        for p in CONV_T.space(m, fp):
            if p.get("ALGO") == 1 and p not in out and _fits_device(p):
                out.append(p)
    return out


# ------------------------------------------------------------------ conv: every candidate, fixed shapes
@pytest.mark.parametrize("which,sizes", [
    ("plain", {"N": 2, "C": 3, "H": 9, "W": 37, "K": 10, "R": 3, "S": 2}),
    ("bias_relu", {"N": 1, "C": 7, "H": 12, "W": 11, "K": 65, "R": 3, "S": 3}),
    ("plain", {"N": 3, "C": 5, "H": 4, "W": 4, "K": 33, "R": 1, "S": 1}),
])
def test_igemm_space_candidates_match_reference(which, sizes):
    bound = ir.bind_shapes(_conv(which), sizes)
    cands = _new_conv_candidates(bound)
    assert len(cands) >= 5
    for p in cands:
        assert_matches_reference(CONV_T, bound, p)


@pytest.mark.parametrize("which", ["plain", "bias_relu", "ranges"])
def test_igemm_tile_arrangements(which):
    bound = ir.bind_shapes(_conv(which), {"N": 2, "C": 5, "H": 8, "W": 13, "K": 19, "R": 3, "S": 2})
    for p in IGEMM:
        assert_matches_reference(CONV_T, bound, p)


# ------------------------------------------------------------------ conv: random shapes
@SETTINGS
@given(N=st.sampled_from([1, 2, 3]), C=st.sampled_from([1, 3, 5, 9]), K=st.sampled_from([1, 3, 17, 33]),
       R=st.sampled_from([1, 2, 3]), S=st.sampled_from([1, 3]), H=st.sampled_from([0, 1, 4, 7]),
       W=st.sampled_from([0, 1, 17, 40]), which=st.sampled_from(["plain", "bias_relu", "ranges"]),
       k=st.integers(0, len(IGEMM) - 1))
def test_igemm_random_shapes(N, C, K, R, S, H, W, which, k):
    """C*R*S rarely a multiple of TK, N*OH*OW and K rarely multiples of TN, TM; 1x1 filters; batches."""
    bound = ir.bind_shapes(_conv(which), {"N": N, "C": C, "K": K, "R": R, "S": S, "H": R + H, "W": S + W})
    assert_matches_reference(CONV_T, bound, IGEMM[k], seed=K + W)


# ------------------------------------------------------------------ conv: params, space, compatibility
def test_conv_params_validation_and_compat():
    bound = ir.bind_shapes(kernel_of("conv2d.uir"), {"N": 1, "C": 4, "H": 9, "W": 9, "K": 8, "R": 3, "S": 3})
    m = CONV_T.match(bound)
    old = dict(KB=8, XB=16, XV=16, LX=1, LK=1)
    # a cached schedule without ALGO renders the direct kernel, identical to the explicit ALGO=0 but for the header
    a, b = CONV_T.render(m, old), CONV_T.render(m, dict(old, ALGO=0))
    assert a.params == old and b.params == dict(old, ALGO=0)
    assert a.source.split("\n", 1)[1] == b.source.split("\n", 1)[1]
    assert "_uAs" not in a.source
    g = CONV_T.render(m, IGEMM[0])
    assert g.params == IGEMM[0] and "_uAs" in g.source and "_uxo" in g.source
    assert CONV_T.render(m, IGEMM[0]).source == g.source  # deterministic
    for bad in (dict(IGEMM[0], ALGO=2), dict(IGEMM[0], WM=3), dict(IGEMM[0], VW=3),
                dict(IGEMM[0], ALGO=0),                      # direct with GEMM params: a neighbour, pruned
                dict(old, ALGO=1),                           # GEMM without its params
                dict(TM=64, TN=16, TK=2, WM=1, WN=1, VW=1, ALGO=1),  # NT 1024 > TN: TK must be a multiple of 64
                dict(TM=16, TN=48, TK=8, WM=1, WN=1, VW=1, ALGO=1)):  # NT 768 and TN 48: not multiples
        with pytest.raises(ValueError):
            CONV_T.render(m, bad)


def test_conv_space_order():
    big = CONV_T.match(ir.bind_shapes(kernel_of("conv2d.uir"),
                                      {"N": 1, "C": 64, "H": 56, "W": 56, "K": 64, "R": 3, "S": 3}))
    small = CONV_T.match(ir.bind_shapes(kernel_of("conv2d.uir"),
                                        {"N": 1, "C": 3, "H": 9, "W": 9, "K": 8, "R": 3, "S": 3}))
    gpu_big, gpu_small = CONV_T.space(big, FP_GPU), CONV_T.space(small, FP_GPU)
    assert gpu_big[0]["ALGO"] == 1 and gpu_small[0]["ALGO"] == 0
    assert any(p["ALGO"] == 1 for p in gpu_small) and any(p["ALGO"] == 0 for p in gpu_big)
    for sp in (gpu_big, gpu_small, CONV_T.space(big, FP_CPU), CONV_T.space(big, None)):
        assert len({tuple(sorted(p.items())) for p in sp}) == len(sp)
        for p in sp:
            CONV_T.render(big, p)


# ------------------------------------------------------------------ matmul: DB / UK
DB_UK = [dict(TM=32, TN=32, TK=16, WM=4, WN=8, VW=4, VL=4, AKM=1, RC=1, PAD=1, DB=1, UK=4),
         dict(TM=16, TN=32, TK=8, WM=2, WN=16, VW=8, VL=2, DB=1),
         dict(TM=16, TN=16, TK=16, WM=1, WN=1, VW=1, DB=1, UK=2),
         dict(TM=32, TN=32, TK=32, WM=4, WN=16, VW=8, UK=4)]


def _new_matmul_candidates(bound):
    m = MM_T.match(bound)
    out = []
    for fp in (FP_CPU, FP_GPU, None):
        for p in MM_T.space(m, fp):
            if (p.get("DB") or p.get("UK", 1) > 1) and p not in out:
                nt = (p["TM"] // p["WM"]) * (p["TN"] // p["WN"])
                if nt <= _DEV.max_work_group_size:
                    out.append(p)
    return out


@pytest.mark.parametrize("which", sorted(MATMUL_LAYOUTS))
def test_matmul_db_uk_match_reference(which):
    bound = ir.bind_shapes(_load(MATMUL_LAYOUTS[which]), dict(zip(_load(MATMUL_LAYOUTS[which]).sizes,
                                                                   (3, 37, 50, 29))))
    for p in DB_UK:
        assert_matches_reference(MM_T, bound, p)


def test_matmul_new_space_candidates_match_reference():
    for sizes in ({"M": 33, "K": 17, "N": 65}, {"M": 130, "K": 67, "N": 129}):
        bound = ir.bind_shapes(kernel_of("matmul.uir"), sizes)
        cands = _new_matmul_candidates(bound)
        assert cands
        for p in cands:
            assert_matches_reference(MM_T, bound, p)


@SETTINGS
@given(M=st.sampled_from([1, 3, 17, 33, 65]), N=st.sampled_from([1, 5, 17, 63]),
       K=st.sampled_from([1, 3, 15, 17, 33, 65, 131]), which=st.sampled_from(sorted(MATMUL_LAYOUTS)),
       k=st.integers(0, len(DB_UK) - 1))
def test_matmul_db_uk_random_shapes(M, N, K, which, k):
    ck = _load(MATMUL_LAYOUTS[which])
    sizes = {"M": M, "N": N, "K": K, "Bt": 2}
    bound = ir.bind_shapes(ck, {s: sizes[s] for s in ck.sizes})
    assert_matches_reference(MM_T, bound, DB_UK[k], seed=M + K)


def test_matmul_db_uk_params_and_compat():
    m = MM_T.match(ir.bind_shapes(kernel_of("matmul.uir"), {"M": 8, "K": 8, "N": 8}))
    base = dict(TM=64, TN=64, TK=16, WM=4, WN=4, VW=4, PAD=1)
    plain = MM_T.render(m, base).source
    # DB=0 / UK=1 are the old schedule: the same kernel (the header lists the params given)
    same = MM_T.render(m, dict(base, DB=0, UK=1)).source
    assert plain.split("\n", 1)[1] == same.split("\n", 1)[1]
    assert "#pragma unroll" not in plain and plain.count("barrier(") == 2
    db = MM_T.render(m, dict(base, DB=1, UK=4)).source
    assert "#pragma unroll 4" in db and db.count("barrier(") == 2  # one before the loop, one per k-step
    assert f"_uAs[{2 * 16 * 64}]" in db
    assert MM_T.render(m, dict(base, DB=1, UK=4)).source == db
    for bad in (dict(base, DB=2), dict(base, UK=0), dict(base, UK=128)):
        with pytest.raises(ValueError):
            MM_T.render(m, bad)
    assert not MM_T.valid(dict(TM=128, TN=128, TK=32, WM=8, WN=8, VW=4, DB=1), 256, 48 * 1024)
    assert MM_T.valid(dict(TM=128, TN=128, TK=32, WM=8, WN=8, VW=4, DB=0), 256, 48 * 1024)
