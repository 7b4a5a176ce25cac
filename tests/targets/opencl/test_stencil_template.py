"""The `stencil` template (uhop_cc.targets.opencl.templates.stencil): matching, and every candidate of
`space()` against the reference interpreter on the real OpenCL device, at edge-sized and random
shapes. The CUDA rendering is compile-checked in tests/targets/cuda/test_cuda_stencil.py."""
from __future__ import annotations

import pytest

pytest.importorskip("pyopencl")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from test_templates import (SETTINGS, _load, assert_matches_reference, fingerprint,  # noqa: E402
                            kernel_of)
from uhop_cc import ir  # noqa: E402
from uhop_cc.targets.opencl.templates import TEMPLATES, select_template  # noqa: E402
from uhop_cc.targets.opencl.templates.stencil import TEMPLATE  # noqa: E402

EXAMPLES = {"jacobi2d": ("stencil2d.uir", {"H": 6, "W": 7}), "heat3d": ("stencil3d.uir", {"D": 5, "H": 6, "W": 7}),
            "blur_same": ("blur_same.uir", {"H": 6, "W": 7})}

PROGRAMS = {
    # two inputs in the neighbourhood, a bare-index mask read directly, a 0-d tensor, c + i and i - c
    "two_inputs": """kernel two(A: f32[H, W], B: f32[H, W], M: f32[H, W], s: f32[], k: f32) -> (Y: f32[H - 2, W - 3]) {
        Y[i, j] = A[1 + i, j + 3] - A[i + 2, j] * k + B[i, j] * B[i + 1, j + 1] + M[i, j] * s[] }""",
    # negative offsets with select guards, index variables as values, math calls
    "guarded": """kernel g(X: f32[H, W]) -> (Y: f32[H, W]) {
        Y[i, j] = select(i >= 2 and j + 1 < W, max(X[i - 2, j + 1], X[i, j]), sqrt(abs(X[i, j])) + f32(i - j)) }""",
    # 3-D box sum over constant ranges, anisotropic halo
    "box3d": """kernel b3(U: f32[D, H, W]) -> (V: f32[D - 1, H, W - 4]) {
        V[z, y, x] = sum(a in 0..2, c in 0..5) U[z + a, y, x + c] * 0.1 }""",
    # 3-D with the input larger than needed and every offset sign
    "cross3d": """kernel c3(U: f32[D, H, W], w: f32) -> (V: f32[D - 2, H - 2, W - 2]) {
        V[z, y, x] = U[z + 1, y + 1, x + 1] * w + U[z, y + 2, x] - U[z + 2, y, x + 2] }""",
}

NOT_STENCILS = {
    "elementwise": "kernel e(X: f32[N, M], Y: f32[N, M]) -> (Z: f32[N, M]) { Z[i, j] = X[i, j] * Y[i, j] }",
    "single_shift": "kernel s(X: f32[N, M]) -> (Z: f32[N - 1, M]) { Z[i, j] = X[i + 1, j] * 2.0 }",
    "matmul": "kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }",
    "scaled_index": "kernel d(X: f32[N, M]) -> (Z: f32[N, M / 2]) { Z[i, j] = X[i, 2 * j] + X[i, 2 * j + 1] }",
    "transposed": "kernel t(X: f32[N, N]) -> (Z: f32[N - 1, N]) { Z[i, j] = X[j, i] + X[i + 1, j] }",
    "mixed_var": "kernel m(X: f32[N, N]) -> (Z: f32[N - 1, N - 1]) { Z[i, j] = X[i + 1, j] + X[i, i] }",
    "size_offset": "kernel so(X: f32[N, M]) -> (Z: f32[N, M]) { Z[i, j] = X[i, j] + X[N - 1 - i, j] }",
    "range_of_size": "kernel rs(X: f32[N, M]) -> (Z: f32[N, M]) { Z[i, j] = sum(k) X[i, k] * X[i, j] }",
    "max_window": """kernel mw(X: f32[N, M]) -> (Z: f32[N - 2, M]) { Z[i, j] = max(p in 0..3) X[i + p, j] }""",
    "one_d": "kernel o(X: f32[N]) -> (Z: f32[N - 2]) { Z[i] = X[i] + X[i + 2] }",
    "i32": "kernel it(X: i32[N, M]) -> (Z: i32[N - 1, M]) { Z[i, j] = X[i, j] + X[i + 1, j] }",
}


def _bound_of(src: str, sizes: dict):
    ck = _load(src)
    return ir.bind_shapes(ck, {s: sizes.get(s, 9) for s in ck.sizes})


def _candidates(bound):
    """Every candidate of space() for this device and for the other kind of device that fits here."""
    m = TEMPLATE.match(bound)
    fp = fingerprint()
    other = dict(fp, device_type="GPU" if fp["device_type"] == "CPU" else "CPU")
    out = []
    for p in TEMPLATE.space(m, fp) + TEMPLATE.space(m, other):
        group = p["LX"] * p["LY"] * p.get("LZ", 1)
        if p not in out and group <= fp["max_work_group_size"] and TEMPLATE.local_bytes(m, p) <= fp["local_mem_size"]:
            out.append(p)
    return out


# ------------------------------------------------------------------ matching
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_select_stencil(name):
    path, sizes = EXAMPLES[name]
    bound = ir.bind_shapes(kernel_of(path), sizes)
    found = select_template(bound, fingerprint())
    assert found is not None and found[0].name == "stencil", TEMPLATE.why_not(bound)


def test_match_info():
    m = TEMPLATE.match(ir.bind_shapes(kernel_of("stencil2d.uir"), {"H": 6, "W": 7}))
    assert m.info["halo"] == {"X": ((0, 0), (2, 2))} and m.info["rank"] == 2
    m = TEMPLATE.match(ir.bind_shapes(kernel_of("blur_same.uir"), {"H": 6, "W": 7}))
    assert m.info["halo"] == {"X": ((-1, -1), (1, 1))}
    m = TEMPLATE.match(_bound_of(PROGRAMS["two_inputs"], {}))
    assert m.info["halo"] == {"A": ((1, 0), (2, 3)), "B": ((0, 0), (1, 1))}  # M is read at one offset: global


@pytest.mark.parametrize("key,why", [("elementwise", "not a stencil"), ("single_shift", "not a stencil"),
                                     ("matmul", "constant"), ("scaled_index", "constant"),
                                     ("transposed", "constant"), ("mixed_var", "constant"),
                                     ("size_offset", "constant"), ("range_of_size", "constant"),
                                     ("max_window", "sums"), ("one_d", "2-D or 3-D"), ("i32", "f32")])
def test_refusals_say_why(key, why):
    bound = _bound_of(NOT_STENCILS[key], {})
    assert TEMPLATE.match(bound) is None
    assert why in TEMPLATE.why_not(bound)


def test_other_templates_keep_their_programs():
    names = [t.name for t in TEMPLATES]
    assert names.index("stencil") == names.index("elementwise") + 1
    for path, sizes, want in [("relu.uir", {"N": 8}, "elementwise"), ("matmul.uir", {"M": 4, "K": 4, "N": 4}, "matmul"),
                              ("softmax.uir", {"R": 3, "C": 5}, "rowreduce"),
                              ("conv2d.uir", {"N": 1, "C": 2, "H": 6, "W": 6, "K": 2, "R": 3, "S": 3}, "conv2d")]:
        assert select_template(ir.bind_shapes(kernel_of(path), sizes))[0].name == want
        assert TEMPLATE.match(ir.bind_shapes(kernel_of(path), sizes)) is None


def test_space_is_device_aware_and_pruned():
    m = TEMPLATE.match(ir.bind_shapes(kernel_of("stencil2d.uir"), {"H": 66, "W": 66}))
    cpu = TEMPLATE.space(m, {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_size": 1 << 20})
    gpu = TEMPLATE.space(m, {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 48 * 1024})
    assert cpu[0]["LOCAL"] == 0 and gpu[0]["LOCAL"] == 1 and cpu != gpu
    assert any(p["LOCAL"] == 0 for p in gpu) and any(p["LOCAL"] == 1 for p in cpu)
    small = TEMPLATE.space(m, {"device_type": "GPU", "max_work_group_size": 128, "local_mem_size": 2048})
    assert small and all(p["LX"] * p["LY"] <= 128 and TEMPLATE.local_bytes(m, p) <= 2048 for p in small)
    m3 = TEMPLATE.match(ir.bind_shapes(kernel_of("stencil3d.uir"), {"D": 5, "H": 6, "W": 7}))
    assert {"LZ", "EZ"} <= set(TEMPLATE.space(m3)[0])
    with pytest.raises(ValueError):
        TEMPLATE.render(m, dict(LOCAL=2, LX=8, LY=8, EX=1, EY=1))
    gk = TEMPLATE.render(m, gpu[0])
    assert gk.strategy == "stencil" and gk.params == gpu[0]
    assert "__local float" in gk.source and "barrier(CLK_LOCAL_MEM_FENCE);" in gk.source
    assert "reqd_work_group_size(32, 8, 1)" in gk.source
    direct = TEMPLATE.render(m, dict(gpu[0], LOCAL=0)).source
    assert "__local" not in direct and "barrier" not in direct


# ------------------------------------------------------------------ correctness on the device
CASES = [("jacobi2d", {"H": 3, "W": 3}), ("jacobi2d", {"H": 2, "W": 5}), ("jacobi2d", {"H": 35, "W": 70}),
         ("heat3d", {"D": 3, "H": 3, "W": 3}), ("heat3d", {"D": 11, "H": 13, "W": 37}),
         ("blur_same", {"H": 1, "W": 1}), ("blur_same", {"H": 33, "W": 65})]


@pytest.mark.parametrize("name,sizes", CASES, ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values())))
def test_examples_every_candidate(name, sizes):
    bound = ir.bind_shapes(kernel_of(EXAMPLES[name][0]), sizes)
    cands = _candidates(bound)
    assert any(p["LOCAL"] for p in cands) and any(not p["LOCAL"] for p in cands)
    for p in cands:
        assert_matches_reference(TEMPLATE, bound, p)


@pytest.mark.parametrize("key", sorted(PROGRAMS))
def test_programs_every_candidate(key):
    for sizes in ({"H": 4, "W": 5, "D": 2}, {"H": 19, "W": 41, "D": 6}):
        bound = _bound_of(PROGRAMS[key], sizes)
        for p in _candidates(bound):
            assert_matches_reference(TEMPLATE, bound, p, seed=sizes["H"])


@SETTINGS
@given(H=st.sampled_from([1, 2, 3, 4, 9, 33, 34, 35]), W=st.sampled_from([1, 3, 5, 31, 32, 33, 65, 66, 67]),
       D=st.sampled_from([1, 2, 3, 5, 9]),
       which=st.sampled_from(["jacobi2d", "heat3d", "blur_same"] + sorted(PROGRAMS)),
       k=st.integers(0, 11), extra=st.sampled_from([None, dict(EX=2), dict(EY=1), dict(LX=8, LY=2)]))
def test_random_shapes(H, W, D, which, k, extra):
    ck = kernel_of(EXAMPLES[which][0]) if which in EXAMPLES else _load(PROGRAMS[which])
    sizes = {"H": H, "W": W, "D": D}
    need = {"jacobi2d": 2, "heat3d": 2, "two_inputs": 3, "cross3d": 2, "box3d": 4}.get(which, 0)
    sizes = {s: max(v, need) for s, v in sizes.items()}
    bound = ir.bind_shapes(ck, {s: sizes[s] for s in ck.sizes})
    cands = _candidates(bound)
    p = dict(cands[k % len(cands)], **(extra or {}))
    assert_matches_reference(TEMPLATE, bound, p, seed=H + W)
