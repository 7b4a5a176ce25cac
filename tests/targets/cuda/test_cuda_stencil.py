"""The CUDA rendering of the `stencil` template: selection, source shape, an NVRTC compile of every
candidate of `space()` (no GPU needed), and validation against the reference on a GPU (marked
`gpu`, skipped without one). The OpenCL rendering is tested on the device in
tests/targets/opencl/test_stencil_template.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from cuda_support import requires_nvrtc, validate_on_device
from uhop_cc import ir
from uhop_cc.targets.cuda.templates import TEMPLATES, get_template, select_template
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.targets.cuda.runtime import kernel_signatures

ROOT = Path(__file__).resolve().parents[3]
H100 = {"device_type": "GPU", "max_threads_per_block": 1024, "max_work_group_size": 1024,
        "shared_mem_per_block": 48 * 1024, "local_mem_size": 48 * 1024}

EXAMPLES = [("stencil2d.uir", {"H": 6, "W": 7}), ("stencil3d.uir", {"D": 5, "H": 6, "W": 7}),
            ("blur_same.uir", {"H": 6, "W": 7})]
PROGRAMS = [
    ("kernel two(A: f32[H, W], B: f32[H, W], s: f16[], k: f32) -> (Y: f32[H - 2, W - 3]) "
     "{ Y[i, j] = A[1 + i, j + 3] - A[i + 2, j] * k + B[i, j] * B[i + 1, j + 1] + f32(s[]) }", {"H": 9, "W": 9}),
    ("kernel b3(U: f32[D, H, W]) -> (V: f32[D - 1, H, W - 4]) "
     "{ V[z, y, x] = sum(a in 0..2, c in 0..5) U[z + a, y, x + c] * 0.1 + tanh(U[z, y, x]) }",
     {"D": 4, "H": 5, "W": 9}),
]


def _bound(where, sizes):
    k = ir.load_file(ROOT / "examples" / where)[0] if where.endswith(".uir") else ir.load(where, "t.uir")[0]
    return ir.bind_shapes(k, sizes)


def _all_bounds():
    return [_bound(w, s) for w, s in EXAMPLES + PROGRAMS]


def _candidates(t, m):
    out = []
    for fp in (H100, None, {"device_type": "CPU"}):
        out += [p for p in t.space(m, fp) if p not in out]
    return out


def test_registered_and_selected():
    assert [t.name for t in TEMPLATES][-1] == "stencil"
    for b in _all_bounds():
        found = select_template(b)
        assert found is not None and found[0].name == "stencil", get_template("stencil").why_not(b)
    ew = _bound("kernel e(X: f32[N, M], Y: f32[N, M]) -> (Z: f32[N, M]) { Z[i, j] = X[i, j] * Y[i, j] }",
                {"N": 4, "M": 5})
    assert select_template(ew)[0].name == "elementwise"
    assert "not a stencil" in get_template("stencil").why_not(ew)


def test_cuda_source_shape():
    t = get_template("stencil")
    b = _bound(*EXAMPLES[1])
    m = t.match(b)
    p = t.space(m, H100)[0]
    assert p["LOCAL"] == 1
    gk = t.render(m, p)
    assert gk.target == "cuda" and gk.file_name == "kernel.cu" and gk.strategy == "stencil" and gk.entry == "heat3d"
    src = gk.source
    assert "__shared__ float _ush_U[" in src and "__syncthreads();" in src and "threadIdx.z" in src
    assert "__local" not in src and "get_local_id" not in src and "barrier(" not in src
    block = p["LX"] * p["LY"] * p["LZ"]
    assert f"__launch_bounds__({block})" in src
    (stage,) = parse_launch(src)
    assert stage.kernel_name == "heat3d"
    g = stage.geometry({"D": 5, "H": 6, "W": 7})
    assert g.local_size == (p["LX"], p["LY"], p["LZ"])
    assert list(kernel_signatures(src)) == ["heat3d"]
    assert kernel_signatures(src)["heat3d"][-3:] == ["const int D", "const int H", "const int W"]
    direct = t.render(m, dict(p, LOCAL=0)).source
    assert "__shared__" not in direct and "__syncthreads" not in direct


@requires_nvrtc
def test_every_candidate_compiles_with_nvrtc():
    from uhop_cc.targets.cuda.runtime import nvrtc_compile
    t = get_template("stencil")
    for b in _all_bounds():
        m = t.match(b)
        for p in _candidates(t, m):
            src = t.render(m, p).source
            built = nvrtc_compile(src)
            assert built.ok, built.log + "\n" + src


# ------------------------------------------------------------------ on a GPU
GPU_SHAPES = {"stencil2d.uir": [{"H": 3, "W": 3}, {"H": 2, "W": 9}, {"H": 35, "W": 70}, {"H": 514, "W": 514}],
              "stencil3d.uir": [{"D": 3, "H": 3, "W": 3}, {"D": 11, "H": 13, "W": 37}, {"D": 66, "H": 66, "W": 130}],
              "blur_same.uir": [{"H": 1, "W": 1}, {"H": 33, "W": 65}, {"H": 257, "W": 1000}]}


@pytest.mark.gpu
@pytest.mark.parametrize("where", sorted(GPU_SHAPES))
def test_every_candidate_validates_on_gpu(cuda_device, where):
    t = get_template("stencil")
    fp = cuda_device.fingerprint()
    for sizes in GPU_SHAPES[where]:
        b = _bound(where, sizes)
        m = t.match(b)
        for p in t.space(m, fp):
            validate_on_device(cuda_device, t.render(m, p).source, b)  # asserts it passes
