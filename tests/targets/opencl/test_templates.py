"""The fast templates (uhop_cc.targets.opencl.templates) against the reference interpreter, on a real OpenCL device.

Each template's kernel is built for every example it should match and for random shapes
(sizes that divide no tile), with several parameter sets from `space()`, launched under
the ABI (stages in order, geometry from their @launch lines) and compared with
`interpreter.run`. Programs a template cannot handle must not match.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest

cl = pytest.importorskip("pyopencl")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from uhop_cc import ir  # noqa: E402
from uhop_cc.codegen import parse_launch  # noqa: E402
from uhop_cc.targets.opencl.templates import (TEMPLATES, Template, get_template, select_template)  # noqa: E402
from uhop_cc.ir import interpreter  # noqa: E402
from uhop_cc.ir.typed import NUMPY_DTYPE  # noqa: E402

try:  # random valid programs, shared with the generic lowering's tests (tests/strategies.py)
    from strategies import programs  # noqa: E402
except ImportError:  # pragma: no cover
    programs = None

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


# ------------------------------------------------------------------ launching (ABI), kept self-contained
def _devices():
    try:
        plats = cl.get_platforms()
    except Exception:  # noqa: BLE001 - no ICD loader / no platform
        return []
    out = []
    for p in plats:
        try:
            out.extend(p.get_devices())
        except Exception:  # noqa: BLE001
            pass
    return out


_DEVS = _devices()
if not _DEVS:
    pytest.skip("no OpenCL platform/device", allow_module_level=True)
_DEV = _DEVS[int(os.environ.get("UHOP_OPENCL_DEVICE", "0") or 0) % len(_DEVS)]
CTX = cl.Context([_DEV])
QUEUE = cl.CommandQueue(CTX)
_PROGRAMS: Dict[str, object] = {}

_SCALAR_NP = {"f32": np.float32, "f64": np.float64, "f16": np.float32, "i32": np.int32}


def fingerprint() -> dict:
    kind = "GPU" if _DEV.type & cl.device_type.GPU else "CPU" if _DEV.type & cl.device_type.CPU else "OTHER"
    return {"device_type": kind, "max_work_group_size": int(_DEV.max_work_group_size),
            "local_mem_size": int(_DEV.local_mem_size)}


def launch(source: str, bound, inputs) -> Dict[str, np.ndarray]:
    """Build (cached) and run every stage of `source` under the ABI; returns the outputs."""
    ck = bound.checked
    if source not in _PROGRAMS:
        _PROGRAMS[source] = cl.Program(CTX, source).build()
    prg = _PROGRAMS[source]
    mf = cl.mem_flags
    args = []
    for p in ck.inputs:
        if p.is_scalar:
            args.append(_SCALAR_NP[p.dtype](inputs[p.name]))
        else:
            a = np.ascontiguousarray(np.asarray(inputs[p.name], NUMPY_DTYPE[p.dtype])).reshape(-1)
            buf = cl.Buffer(CTX, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=a if a.size else np.zeros(1, a.dtype))
            args.append(buf)
    outs = {p.name: np.full(bound.shapes[p.name], np.nan if p.dtype != "i32" else -7,
                            NUMPY_DTYPE[p.dtype]) for p in ck.outputs}
    obufs = {n: cl.Buffer(CTX, mf.READ_WRITE | mf.COPY_HOST_PTR,
                          hostbuf=a.reshape(-1) if a.size else np.zeros(1, a.dtype)) for n, a in outs.items()}
    args.extend(obufs[p.name] for p in ck.outputs)
    temps = [cl.Buffer(CTX, mf.READ_WRITE, max(4, math.prod(bound.shapes[t.name]) * 8)) for t in ck.temps()]
    sizes = [np.int32(bound.sizes[s]) for s in ck.sizes]
    for stage in parse_launch(source):
        k = cl.Kernel(prg, stage.kernel_name)
        nargs = k.get_info(cl.kernel_info.NUM_ARGS)
        full = args + (temps if nargs == len(args) + len(temps) + len(sizes) else []) + sizes
        assert len(full) == nargs, f"{stage.kernel_name}: {nargs} parameters, ABI gives {len(full)}"
        k.set_args(*full)
        g = stage.geometry(bound.sizes)
        if g.work_items:
            cl.enqueue_nd_range_kernel(QUEUE, k, g.global_size, g.local_size)
    for n, a in outs.items():
        if a.size:
            cl.enqueue_copy(QUEUE, a.reshape(-1), obufs[n])
    QUEUE.finish()
    return outs


def reduction_length(bound) -> int:
    n = 1
    for s in bound.checked.body:
        for node in ir.nodes.walk(s.value):
            if isinstance(node, ir.nodes.Reduce):
                m = 1
                for v in node.vars:
                    lo, hi = bound.range_of(v)
                    m *= max(hi - lo, 1)
                n = max(n, m)
    return n


def assert_matches_reference(tpl: Template, bound, params: dict, seed: int = 0):
    m = tpl.match(bound)
    assert m is not None, tpl.why_not(bound)
    gk = tpl.render(m, params)
    assert gk.target == "opencl" and gk.strategy == tpl.name and gk.entry == bound.name
    stages = parse_launch(gk.source)
    assert stages[-1].kernel_name == bound.name
    inputs = interpreter.random_inputs(bound, seed)
    want = interpreter.run(bound, inputs)
    got = launch(gk.source, bound, inputs)
    scale = math.sqrt(reduction_length(bound))
    for name, w in want.items():
        dtype = bound.dtype(name)
        if dtype == "i32":
            np.testing.assert_array_equal(got[name], w, err_msg=f"{name} with {params}")
            continue
        tol = {"f32": 1e-4, "f64": 1e-9, "f16": 2e-2}[dtype]
        np.testing.assert_allclose(got[name].astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol * scale,
                                   err_msg=f"{bound.name}.{name} {bound.sizes} with {tpl.name} {params}")


def kernel_of(path: str, name: Optional[str] = None):
    ks = ir.load_file(EXAMPLES / path)
    return ir.select_kernel(ks, name)


def param_sets(tpl: Template, bound, n: int = 2):
    """The first n candidates for this device and for the other kind of device (deduplicated)."""
    m = tpl.match(bound)
    fp = fingerprint()
    other = dict(fp, device_type="GPU" if fp["device_type"] == "CPU" else "CPU")
    out = []
    for p in tpl.space(m, fp)[:n] + tpl.space(m, other)[:n]:
        if p not in out and _fits(p):
            out.append(p)
    return out


def _fits(p: dict) -> bool:
    """Work-group size of a candidate (made for the other kind of device) fits this device."""
    wg = 1
    for keys in (("LOCAL",), ("LC", "RG"), ("LX", "LK")):
        if all(k in p for k in keys):
            wg = math.prod(int(p[k]) for k in keys)
    if "TM" in p:
        wg = (p["TM"] // p["WM"]) * (p["TN"] // p["WN"])
        if p["TK"] * (p["TM"] + p["TN"] + p.get("PAD", 0)) * 4 > _DEV.local_mem_size:
            return False
    return wg <= _DEV.max_work_group_size


# ------------------------------------------------------------------ programs
MATMUL_LAYOUTS = {
    "nn": "kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[i, k] * B[k, j] }",
    "tn": "kernel mm(A: f32[K, M], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[k, i] * B[k, j] }",
    "nt": "kernel mm(A: f32[M, K], B: f32[N, K]) -> (C: f32[M, N]) { C[i, j] = sum(k) B[j, k] * A[i, k] }",
    "tt": "kernel mm(A: f32[K, M], B: f32[N, K]) -> (C: f32[M, N]) { C[i, j] = sum(k) A[k, i] * B[j, k] }",
    "bmm_bcast_epi": """kernel bmm(A: f32[Bt, M, K], B: f32[K, N], bias: f32[N], alpha: f32) -> (C: f32[Bt, M, N]) {
        C[b, i, j] = max(alpha * (sum(k) A[b, i, k] * B[k, j]) + bias[j], 0.0) }""",
    "krange": """kernel mmr(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {
        C[i, j] = sum(k in 1..K) A[i, k] * B[k, j] }""",
}

ELEMENTWISE = {
    "broadcast": """kernel bc(X: f32[A, B, C], b: f32[C], s: f32[A], m: f32[B, C], z: f32[], al: f32) -> (
                     Y: f32[A, B, C], Z: f32[A, B, C]) {
        t[a] = s[a] * 2.0
        u[a, q, c] = X[a, q, c] + b[c]
        Y[a, q, c] = max(u[a, q, c], 0.0) * t[a] + m[q, c] * z[] + al
        Z[i, j, k] = pow(abs(Y[i, j, k]), 0.5) - min(1.0, X[i, j, k]) + sigmoid(X[i, j, k]) }""",
    "select_index": """kernel sel(X: f32[N, M]) -> (Y: f32[N, M]) {
        Y[i, j] = select(X[i, j] > 0.0, X[i, j], 0.1 * X[i, j]) + f32(i) - f32(j) }""",
    "ints": """kernel ints(X: i32[N], Y: f32[N]) -> (Z: i32[N], W: f64[N]) {
        Z[i] = X[i] * 3 % 5
        W[i] = f64(Y[i]) * 2.0 }""",
    "half": "kernel hf(X: f16[N], Y: f32[N]) -> (Z: f16[N]) { Z[i] = X[i] * f16(Y[i]) }",
}

ROWREDUCE = {
    "rmsnorm": """kernel rms(X: f32[R, C], G: f32[C], eps: f32) -> (Y: f32[R, C], S: f32[R]) {
        ms[r] = sum(c) X[r, c] * X[r, c] / f32(C)
        S[r] = rsqrt(ms[r] + eps)
        Y[r, c] = X[r, c] * S[r] * G[c] }""",
    "hoisted": "kernel hoist(X: f32[R, C]) -> (Y: f32[R, C]) { Y[r, c] = X[r, c] / (1.0 + sum(k) abs(X[r, k])) }",
    "mixed": """kernel mixed(X: f32[R, C], B: f32[R]) -> (Y: f32[R], Z: f32[R]) {
        Y[r] = max(c) select(X[r, c] > 0.0, X[r, c], -X[r, c]) + B[r]
        Z[r] = min(c in 1..C) X[r, c] * Y[r] }""",
    "logsumexp": """kernel lse(X: f32[R, C]) -> (L: f32[R]) {
        m[r] = max(c) X[r, c]
        L[r] = m[r] + log(sum(c) exp(X[r, c] - m[r])) }""",
    "ints": "kernel rints(X: i32[R, C]) -> (Y: i32[R]) { Y[r] = sum(c) X[r, c] * 2 }",
}

CONV = {
    "bias_relu": """kernel convb(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (
                      Y: f32[N, K, H - R + 1, W - S + 1]) {
        Y[n, k, y, x] = relu(b[k] + sum(c, r, s) F[k, c, r, s] * X[n, c, r + y, x + s]) }""",
}


def _load(src: str):
    return ir.load(src)[0]


# (template, kernel, small sizes) for every example a template must take
EXAMPLE_CASES = [
    ("matmul", ("matmul.uir", None), {"M": 33, "K": 17, "N": 65}),
    ("matmul", ("mlp.uir", "dense_relu"), {"Bt": 5, "I": 70, "O": 33}),
    ("matmul", ("bmm_nt.uir", None), {"Bt": 3, "K": 19, "M": 21, "N": 40}),
    ("elementwise", ("relu.uir", None), {"N": 1001}),
    ("elementwise", ("axpy.uir", None), {"N": 67}),
    ("elementwise", ("mlp.uir", "gelu"), {"N": 129}),
    ("rowreduce", ("softmax.uir", None), {"R": 7, "C": 300}),
    ("rowreduce", ("layernorm.uir", None), {"R": 9, "C": 65}),
    ("rowreduce", ("cosine.uir", None), {"N": 5, "D": 129}),
    ("conv2d", ("conv2d.uir", None), {"N": 2, "C": 3, "H": 9, "W": 37, "K": 10, "R": 3, "S": 2}),
    ("stencil", ("stencil2d.uir", None), {"H": 35, "W": 70}),
    ("stencil", ("stencil3d.uir", None), {"D": 5, "H": 11, "W": 37}),
    ("stencil", ("blur_same.uir", None), {"H": 9, "W": 33}),
]


# ------------------------------------------------------------------ selection
@pytest.mark.parametrize("tname,where,sizes", EXAMPLE_CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_examples_select_their_template(tname, where, sizes):
    bound = ir.bind_shapes(kernel_of(*where), sizes)
    found = select_template(bound, fingerprint())
    assert found is not None and found[0].name == tname


@pytest.mark.parametrize("where,sizes", [
    (("attention.uir", None), {"L": 4, "S": 5, "D": 3}),
    (("stats.uir", None), {"N": 9}),
    (("maxpool2.uir", None), {"N": 1, "C": 2, "H": 6, "W": 6}),
])
def test_other_examples_match_nothing(where, sizes):
    bound = ir.bind_shapes(kernel_of(*where), sizes)
    assert select_template(bound) is None


NEGATIVE = [
    ("matmul", "conv2d.uir", None),
    ("matmul", "softmax.uir", None),
    ("conv2d", "matmul.uir", None),
    ("elementwise", "softmax.uir", None),
    ("elementwise", "stencil2d.uir", None),
    ("rowreduce", "matmul.uir", None),
    ("rowreduce", "attention.uir", None),
    ("rowreduce", "relu.uir", None),
]


@pytest.mark.parametrize("tname,path,name", NEGATIVE)
def test_templates_refuse_other_examples(tname, path, name):
    ck = kernel_of(path, name)
    bound = ir.bind_shapes(ck, {s: 6 for s in ck.sizes})
    assert get_template(tname).match(bound) is None


@pytest.mark.parametrize("tname,src", [
    # reductions over the first axis / across rows
    ("rowreduce", "kernel colsum(X: f32[R, C]) -> (S: f32[C]) { S[c] = sum(r) X[r, c] }"),
    ("rowreduce", "kernel cs(X: f32[R, C]) -> (Y: f32[R, C]) { s[c] = sum(r) X[r, c]\n Y[r, c] = X[r, c] / s[c] }"),
    ("rowreduce", "kernel t(X: f32[R, C]) -> (Y: f32[R]) { Y[r] = sum(c) X[c, r] }"),
    ("rowreduce", "kernel ns(X: f32[R, C]) -> (Y: f32[R]) { m[r] = sum(c) X[r, c]\n Y[r] = m[0] }"),
    ("rowreduce", "kernel g(X: f32[R, C]) -> (Y: f32[R]) { Y[r] = select(r > 0, sum(c) X[r - 1, c], 0.0) }"),
    ("rowreduce", "kernel r3(X: f32[R, C, D]) -> (Y: f32[R, D]) { Y[r, d] = sum(c) X[r, c, d] }"),
    # not a matmul: three factors, no shared k, max instead of sum, triangular range
    ("matmul", "kernel m3(A: f32[M, K], B: f32[K, N], D: f32[K]) -> (C: f32[M, N]) "
               "{ C[i, j] = sum(k) A[i, k] * B[k, j] * D[k] }"),
    ("matmul", "kernel mx(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) { C[i, j] = max(k) A[i, k] * B[k, j] }"),
    ("matmul", "kernel ii(A: f32[M, K], B: f32[K, M]) -> (C: f32[M, M]) { C[i, j] = sum(k) A[i, k] * B[k, i] }"),
    ("matmul", "kernel ds(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N], D: f32[M, N]) "
               "{ C[i, j] = sum(k) A[i, k] * B[k, j]\n D[i, j] = C[i, j] }"),
    # not elementwise: transposed, shifted, mismatched shapes, reductions
    ("elementwise", "kernel tp(X: f32[N, M]) -> (Y: f32[M, N]) { Y[i, j] = X[j, i] }"),
    ("elementwise", "kernel sh(X: f32[N]) -> (Y: f32[N - 1]) { Y[i] = X[i + 1] }"),
    ("elementwise", "kernel ms(X: f32[N, M]) -> (Y: f32[N, M - 1]) { Y[i, j] = X[i, j] }"),
    # not a (valid, stride-1) conv
    ("conv2d", "kernel st(X: f32[N, C, H, W], F: f32[K, C, R, S]) "
               "-> (Y: f32[N, K, (H - R) / 2 + 1, (W - S) / 2 + 1]) "
               "{ Y[n, k, y, x] = sum(c, r, s) X[n, c, 2 * y + r, 2 * x + s] * F[k, c, r, s] }"),
])
def test_templates_refuse(tname, src):
    ck = _load(src)
    bound = ir.bind_shapes(ck, {s: 8 for s in ck.sizes})
    assert get_template(tname).match(bound) is None


def test_space_and_params():
    fp_cpu = {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_bytes": 1 << 20}
    fp_gpu = {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 48 * 1024}
    for tname, where, sizes in EXAMPLE_CASES:
        bound = ir.bind_shapes(kernel_of(*where), sizes)
        tpl = get_template(tname)
        m = tpl.match(bound)
        for fp in (fp_cpu, fp_gpu, None):
            space = tpl.space(m, fp)
            assert space and all(isinstance(p, dict) for p in space)
            gk = tpl.render(m, space[0])
            assert gk.params == space[0] or set(space[0]) <= set(gk.params)
            assert "// @launch" in gk.source and "reqd_work_group_size" in gk.source
    mm = get_template("matmul")
    m = mm.match(ir.bind_shapes(kernel_of("matmul.uir"), {"M": 8, "K": 8, "N": 8}))
    with pytest.raises(ValueError):
        mm.render(m, dict(TM=64, TN=64, TK=16, WM=5, WN=8, VW=4))


# ------------------------------------------------------------------ correctness on the examples
@pytest.mark.parametrize("tname,where,sizes", EXAMPLE_CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_examples_match_reference(tname, where, sizes):
    tpl = get_template(tname)
    bound = ir.bind_shapes(kernel_of(*where), sizes)
    for p in param_sets(tpl, bound):
        assert_matches_reference(tpl, bound, p)


@pytest.mark.parametrize("tname,table,key", [("matmul", MATMUL_LAYOUTS, k) for k in MATMUL_LAYOUTS]
                         + [("elementwise", ELEMENTWISE, k) for k in ELEMENTWISE]
                         + [("rowreduce", ROWREDUCE, k) for k in ROWREDUCE]
                         + [("conv2d", CONV, k) for k in CONV])
def test_programs_match_reference(tname, table, key):
    tpl = get_template(tname)
    ck = _load(table[key])
    for i, v in enumerate((1, 17, 66)):
        sizes = {s: max(1, v - 5 * j) for j, s in enumerate(ck.sizes)}
        if tname == "conv2d":
            sizes.update(N=1 + i, R=min(3, sizes["R"]), S=min(3, sizes["S"]), C=min(sizes["C"], 4))
            sizes.update(H=sizes["R"] + 2 * i, W=sizes["S"] + v)
        bound = ir.bind_shapes(ck, sizes)
        for p in param_sets(tpl, bound, 1):
            assert_matches_reference(tpl, bound, p, seed=i)


@pytest.mark.parametrize("which", sorted(MATMUL_LAYOUTS))
def test_matmul_schedule_options(which):
    """Non-default copies and mappings: k-major A tiles, contiguous rows, narrow copies, padding."""
    tpl = get_template("matmul")
    ck = _load(MATMUL_LAYOUTS[which])
    bound = ir.bind_shapes(ck, {s: v for s, v in zip(ck.sizes, (3, 37, 50, 29))})
    for p in (dict(TM=32, TN=32, TK=16, WM=4, WN=8, VW=4, VL=4, AKM=1, RC=1, PAD=1),
              dict(TM=16, TN=32, TK=8, WM=2, WN=16, VW=8, VL=2, AKM=0, RC=1, PAD=0)):
        assert_matches_reference(tpl, bound, p)


# ------------------------------------------------------------------ random shapes
ODD = st.sampled_from([1, 2, 3, 5, 17, 33, 65])
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pick(tpl, bound, k):
    cands = param_sets(tpl, bound, 3)
    return cands[k % len(cands)]


@SETTINGS
@given(M=ODD, N=ODD, K=st.sampled_from([1, 3, 17, 33, 65, 130]), which=st.sampled_from(sorted(MATMUL_LAYOUTS)),
       k=st.integers(0, 5))
def test_matmul_random_shapes(M, N, K, which, k):
    tpl = get_template("matmul")
    ck = _load(MATMUL_LAYOUTS[which])
    sizes = {"M": M, "N": N, "K": K, "Bt": 2}
    bound = ir.bind_shapes(ck, {s: sizes[s] for s in ck.sizes})
    assert_matches_reference(tpl, bound, _pick(tpl, bound, k), seed=M + N)


@SETTINGS
@given(a=ODD, b=ODD, c=st.sampled_from([1, 3, 17, 33, 65, 1000]), which=st.sampled_from(
    ["relu", "axpy", "gelu", "broadcast", "select_index"]), k=st.integers(0, 5))
def test_elementwise_random_shapes(a, b, c, which, k):
    tpl = get_template("elementwise")
    if which == "relu":
        ck = kernel_of("relu.uir")
    elif which == "axpy":
        ck = kernel_of("axpy.uir")
    elif which == "gelu":
        ck = kernel_of("mlp.uir", "gelu")
    else:
        ck = _load(ELEMENTWISE[which])
    vals = [c, a, b]
    bound = ir.bind_shapes(ck, {s: vals[i % 3] for i, s in enumerate(ck.sizes)})
    assert_matches_reference(tpl, bound, _pick(tpl, bound, k), seed=a)


@SETTINGS
@given(R=ODD, C=st.sampled_from([1, 2, 3, 17, 33, 65, 257, 1000]), which=st.sampled_from(
    ["softmax", "layernorm", "cosine", "rmsnorm", "hoisted", "logsumexp"]), k=st.integers(0, 5))
def test_rowreduce_random_shapes(R, C, which, k):
    tpl = get_template("rowreduce")
    ck = kernel_of(f"{which}.uir") if which in ("softmax", "layernorm", "cosine") else _load(ROWREDUCE[which])
    r, c = ck.sizes
    bound = ir.bind_shapes(ck, {r: R, c: C})
    assert_matches_reference(tpl, bound, _pick(tpl, bound, k), seed=R)


@SETTINGS
@given(N=st.sampled_from([1, 2]), C=st.sampled_from([1, 3, 5]), K=st.sampled_from([1, 3, 17]),
       R=st.sampled_from([1, 2, 3]), S=st.sampled_from([1, 3]), H=st.sampled_from([0, 1, 4]),
       W=st.sampled_from([0, 1, 17, 40]), which=st.sampled_from(["plain", "bias_relu"]), k=st.integers(0, 5))
def test_conv2d_random_shapes(N, C, K, R, S, H, W, which, k):
    tpl = get_template("conv2d")
    ck = kernel_of("conv2d.uir") if which == "plain" else _load(CONV[which])
    bound = ir.bind_shapes(ck, {"N": N, "C": C, "K": K, "R": R, "S": S, "H": R + H, "W": S + W})
    assert_matches_reference(tpl, bound, _pick(tpl, bound, k), seed=K)


@pytest.mark.skipif(programs is None, reason="tests/strategies.py not importable")
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(prog=programs() if programs else st.nothing(), k=st.integers(0, 5))
def test_random_programs_that_match_are_correct(prog, k):
    """Whatever a template accepts among random valid programs, it computes correctly."""
    text, sizes = prog
    bound = ir.bind_shapes(ir.load(text)[0], sizes)
    found = select_template(bound, fingerprint())
    if found is not None:
        tpl, _ = found
        assert_matches_reference(tpl, bound, _pick(tpl, bound, k), seed=k)


def test_templates_registry():
    names = [t.name for t in TEMPLATES]
    assert names == ["elementwise", "stencil", "matmul", "rowreduce", "conv2d"]
    assert select_template(ir.bind_shapes(kernel_of("relu.uir"), {"N": 4}))[0].name == "elementwise"
