"""The reference interpreter against hand-written NumPy, on random small shapes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from uhop_cc import ir
from uhop_cc.ir import bind, load
from uhop_cc.ir import interpreter
from uhop_cc.ir.interpreter import InterpreterError, random_inputs, run
from uhop_cc.ir.typed import BoundKernel

small = st.integers(1, 6)
seeds = st.integers(0, 2**16)
SETTINGS = settings(max_examples=25, deadline=None)


def bound(src: str, **sizes):
    return bind(load(src)[0], sizes)


def f64(a):
    return np.asarray(a, np.float64)


def close(got, want, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(f64(got), f64(want), rtol=rtol, atol=atol)


MATMUL = """
kernel matmul(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {
  C[i, j] = sum(k) A[i, k] * B[k, j]
}
"""

SOFTMAX = """
kernel softmax(X: f32[N, D]) -> (Y: f32[N, D]) {
  m[i] = max(j) X[i, j]
  e[i, j] = exp(X[i, j] - m[i])
  s[i] = sum(j) e[i, j]
  Y[i, j] = e[i, j] / s[i]
}
"""

LAYERNORM = """
kernel layernorm(X: f32[N, D], g: f32[D], b: f32[D], eps: f32) -> (Y: f32[N, D]) {
  mu[i] = sum(j) X[i, j] / D
  var[i] = sum(j) (X[i, j] - mu[i]) * (X[i, j] - mu[i]) / D
  Y[i, j] = (X[i, j] - mu[i]) * rsqrt(var[i] + eps) * g[j] + b[j]
}
"""

CONV2D = """
kernel conv2d(X: f32[N, C, H, W], F: f32[K, C, R, S]) -> (Y: f32[N, K, H - R + 1, W - S + 1]) {
  Y[n, k, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * F[k, c, r, s]
}
"""

MAXPOOL = """
kernel maxpool2(X: f32[H, W]) -> (Y: f32[H / 2, W / 2]) {
  Y[i, j] = max(p in 0..2, q in 0..2) X[2 * i + p, 2 * j + q]
}
"""

AXPY = """
kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) {
  Z[i] = a * X[i] + Y[i]
}
"""

STATS = """
kernel stats(X: f32[N]) -> (S: f32[], M: f32[]) {
  S = sum(i) X[i]
  M = max(i) X[i]
}
"""

ATTENTION = """
kernel attention(Q: f32[L, D], Kt: f32[L, D], V: f32[L, D], scale: f32) -> (O: f32[L, D]) {
  s[i, j] = scale * sum(d) Q[i, d] * Kt[j, d]
  m[i] = max(j) s[i, j]
  p[i, j] = exp(s[i, j] - m[i])
  l[i] = sum(j) p[i, j]
  O[i, d] = (sum(j) p[i, j] * V[j, d]) / l[i]
}
"""

STENCIL = """
kernel stencil(X: f32[N, M]) -> (Y: f32[N - 1, M - 1]) {
  Y[i, j] = X[i + 1, j + 1] + X[i, j + 1] + X[i + 1, j] + X[i, j]
}
"""

TRANSPOSE = """
kernel transpose(X: f32[N, M]) -> (Y: f32[M, N]) {
  Y[j, i] = X[i, j]
}
"""

REVERSE = """
kernel reverse(X: f32[N, M]) -> (Y: f32[N, M]) {
  Y[i, j] = X[N - 1 - i, j]
}
"""

PAD = """
kernel shift(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i > 0, X[i - 1], 0.0)
}
"""

PAD2D = """
kernel blur(X: f32[H, W]) -> (Y: f32[H, W]) {
  Y[i, j] = sum(r in 0..3, s in 0..3) select(i + r >= 1 and i + r <= H and j + s >= 1 and j + s <= W,
                                             X[i + r - 1, j + s - 1], 0.0)
}
"""


# ---------------------------------------------------------------- the kernels
@SETTINGS
@given(small, small, small, seeds)
def test_matmul(m, k, n, seed):
    b = bound(MATMUL, M=m, K=k, N=n)
    x = random_inputs(b, seed)
    out = run(b, x)
    assert out["C"].dtype == np.float32 and out["C"].shape == (m, n)
    close(out["C"], f64(x["A"]) @ f64(x["B"]))


@SETTINGS
@given(small, small, seeds)
def test_softmax(n, d, seed):
    b = bound(SOFTMAX, N=n, D=d)
    x = random_inputs(b, seed)
    X = f64(x["X"])
    e = np.exp(X - X.max(axis=1, keepdims=True))
    close(run(b, x)["Y"], e / e.sum(axis=1, keepdims=True))


@SETTINGS
@given(small, small, seeds)
def test_layernorm(n, d, seed):
    b = bound(LAYERNORM, N=n, D=d)
    x = random_inputs(b, seed)
    X = f64(x["X"])
    mu = X.mean(axis=1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=1, keepdims=True)
    want = (X - mu) / np.sqrt(var + x["eps"]) * f64(x["g"]) + f64(x["b"])
    close(run(b, x)["Y"], want, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(st.integers(1, 2), st.integers(1, 3), st.integers(3, 7), st.integers(3, 7), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 3), seeds)
def test_conv2d(n, c, h, w, k, r, s, seed):
    b = bound(CONV2D, N=n, C=c, H=h, W=w, K=k, R=r, S=s)
    x = random_inputs(b, seed)
    win = sliding_window_view(f64(x["X"]), (r, s), axis=(2, 3))  # n c y x r s
    want = np.einsum("ncyxrs,kcrs->nkyx", win, f64(x["F"]))
    out = run(b, x)["Y"]
    assert out.shape == (n, k, h - r + 1, w - s + 1)
    close(out, want)


@SETTINGS
@given(st.integers(2, 9), st.integers(2, 9), seeds)
def test_maxpool2(h, w, seed):
    b = bound(MAXPOOL, H=h, W=w)
    x = random_inputs(b, seed)
    X = x["X"][: h // 2 * 2, : w // 2 * 2]
    want = X.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(run(b, x)["Y"], want)


@SETTINGS
@given(small, seeds)
def test_axpy(n, seed):
    b = bound(AXPY, N=n)
    x = random_inputs(b, seed)
    assert isinstance(x["a"], float) and 0.5 <= x["a"] < 1.5
    close(run(b, x)["Z"], x["a"] * f64(x["X"]) + f64(x["Y"]))
    out = run(b, {"a": 2, "X": np.arange(n), "Y": np.ones(n)})  # ints and f64 are converted
    np.testing.assert_array_equal(out["Z"], 2 * np.arange(n) + 1)


@SETTINGS
@given(small, seeds)
def test_stats_0d_outputs(n, seed):
    b = bound(STATS, N=n)
    x = random_inputs(b, seed)
    out = run(b, x)
    for name in ("S", "M"):
        assert isinstance(out[name], np.ndarray) and out[name].shape == () and out[name].dtype == np.float32
    close(out["S"], f64(x["X"]).sum())
    assert out["M"] == x["X"].max()


@SETTINGS
@given(small, small, seeds)
def test_attention(l, d, seed):
    b = bound(ATTENTION, L=l, D=d)
    x = random_inputs(b, seed)
    s = x["scale"] * (f64(x["Q"]) @ f64(x["Kt"]).T)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    want = (p @ f64(x["V"])) / p.sum(axis=1, keepdims=True)
    close(run(b, x)["O"], want, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(st.integers(2, 7), st.integers(2, 7), seeds)
def test_stencil(n, m, seed):
    b = bound(STENCIL, N=n, M=m)
    x = random_inputs(b, seed)
    X = f64(x["X"])
    want = X[1:, 1:] + X[:-1, 1:] + X[1:, :-1] + X[:-1, :-1]
    out = run(b, x)["Y"]
    assert out.shape == (n - 1, m - 1)
    close(out, want)


@SETTINGS
@given(small, small, seeds)
def test_transpose_and_reverse(n, m, seed):
    b = bound(TRANSPOSE, N=n, M=m)
    x = random_inputs(b, seed)
    np.testing.assert_array_equal(run(b, x)["Y"], x["X"].T)
    b = bound(REVERSE, N=n, M=m)
    np.testing.assert_array_equal(run(b, x)["Y"], x["X"][::-1])


@SETTINGS
@given(small, seeds)
def test_select_padding(n, seed):
    b = bound(PAD, N=n)
    x = random_inputs(b, seed)
    np.testing.assert_array_equal(run(b, x)["Y"], np.concatenate([[0.0], x["X"][:-1]]).astype(np.float32))


@SETTINGS
@given(small, small, seeds)
def test_select_padded_3x3(h, w, seed):
    b = bound(PAD2D, H=h, W=w)
    x = random_inputs(b, seed)
    P = np.pad(f64(x["X"]), 1)
    want = sliding_window_view(P, (3, 3)).sum(axis=(2, 3))
    close(run(b, x)["Y"], want)


# ---------------------------------------------------------------- select laziness
def test_select_unchosen_branch_may_be_out_of_bounds():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i < N - 1, X[i + 1], X[i - 1])
}""", N=6)
    X = np.arange(6, dtype=np.float32)  # X[6] is never chosen, and X[-1] neither
    np.testing.assert_array_equal(run(b, {"X": X})["Y"], [1, 2, 3, 4, 5, 4])
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i < N - 1, X[i + 1], X[i + 5])
}""", N=6)
    with pytest.raises(InterpreterError, match=r"X\[10\].*dimension is 6"):
        run(b, {"X": X})  # the last point takes the else branch: X[10]


def test_select_never_chosen_branch_is_not_read():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i >= 0, X[i], X[i + 100] + X[0 - 100])
}""", N=4)
    X = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(run(b, {"X": X})["Y"], X)


def test_select_chosen_out_of_bounds_raises():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i > 0, X[i + 1], 0.0)
}""", N=5)
    with pytest.raises(InterpreterError, match=r"X\[5\].*i = 4"):
        run(b, {"X": np.zeros(5, np.float32)})


def test_select_masks_math_errors():
    b = bound("""
kernel k(X: f32[N], A: i32[N]) -> (Y: f32[N], Q: i32[N]) {
  Y[i] = select(X[i] > 0.0, log(X[i]), 0.0) + select(i > 0, 1.0 / f32(i), 2.0)
  Q[i] = select(A[i] != 0, 100 / A[i], 0 - 1)
}""", N=5)
    X = np.array([-1.0, 0.0, 1.0, 2.0, -3.0], np.float32)
    A = np.array([0, 3, -3, 0, 7], np.int32)
    with np.errstate(all="raise"):
        out = run(b, {"X": X, "A": A})
    want = np.where(X > 0, np.log(np.maximum(X, 1e-30)), 0.0) + np.where(np.arange(5) > 0, 1.0 / np.maximum(np.arange(5), 1), 2.0)
    close(out["Y"], want)
    np.testing.assert_array_equal(out["Q"], [-1, 33, -33, -1, 14])


def test_nested_select_masks():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(i > 0, select(i < N - 1, X[i - 1] + X[i + 1], X[i - 1]), X[i + 1])
}""", N=5)
    X = np.arange(5, dtype=np.float32) ** 2
    np.testing.assert_array_equal(run(b, {"X": X})["Y"], [1, 0 + 4, 1 + 9, 4 + 16, 9])


def test_select_with_a_scalar_condition():
    b = bound("""
kernel k(a: f32, X: f32[N]) -> (Y: f32[N]) {
  Y[i] = select(a > 1.0, X[i], X[i + N])
}""", N=3)
    X = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(run(b, {"a": 2.0, "X": X})["Y"], X)
    with pytest.raises(InterpreterError, match=r"X\[3\]"):
        run(b, {"a": 0.5, "X": X})


def test_and_or_short_circuit():
    # bind's static bounds check does not treat `and` as a guard, so bind by hand
    checked = load("""
kernel k(X: f32[N]) -> (Y: f32[N], Z: f32[N]) {
  Y[i] = select(i > 0 and X[i - 1] > 0.0, 1.0, 0.0)
  Z[i] = select(i == 0 or X[i - 1] > 0.0, 1.0, 0.0)
}""")[0]
    b = BoundKernel(checked, {"N": 4}, {"X": (4,), "Y": (4,), "Z": (4,)})
    out = run(b, {"X": np.array([1.0, -1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(out["Y"], [0, 1, 0, 1])
    np.testing.assert_array_equal(out["Z"], [1, 1, 0, 1])


# ---------------------------------------------------------------- integer semantics
def test_integer_division_is_c_division():
    b = bound("""
kernel k(A: i32[N], B: i32[N]) -> (Q: i32[N], R: i32[N]) {
  Q[i] = A[i] / B[i]
  R[i] = A[i] % B[i]
}""", N=8)
    A = np.array([7, -7, 7, -7, 0, 1, -1, 9], np.int32)
    B = np.array([2, 2, -2, -2, 3, -4, 4, 3], np.int32)
    out = run(b, {"A": A, "B": B})
    assert out["Q"].dtype == np.int32
    np.testing.assert_array_equal(out["Q"], [3, -3, -3, 3, 0, 0, 0, 3])
    np.testing.assert_array_equal(out["R"], [1, -1, 1, -1, 0, 1, -1, 0])


@SETTINGS
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=8), st.integers(-9, 9).filter(bool))
def test_integer_division_random(values, d):
    b = bound("""
kernel k(A: i32[N], d: i32) -> (Q: i32[N], R: i32[N]) {
  Q[i] = A[i] / d
  R[i] = A[i] % d
}""", N=len(values))
    A = np.array(values, np.int32)
    out = run(b, {"A": A, "d": d})
    q = np.trunc(A / d).astype(np.int32)
    np.testing.assert_array_equal(out["Q"], q)
    np.testing.assert_array_equal(out["R"], A - q * d)


def test_integer_division_by_zero_raises():
    b = bound("""
kernel k(A: i32[N], B: i32[N]) -> (Q: i32[N]) {
  Q[i] = A[i] / B[i]
}""", N=3)
    with pytest.raises(InterpreterError, match="division by zero.*i = 1"):
        run(b, {"A": np.ones(3, np.int32), "B": np.array([1, 0, 2], np.int32)})


def test_float_mod_is_fmod_and_float_division_by_zero_is_inf():
    b = bound("""
kernel k(X: f64[N], Y: f64[N]) -> (R: f64[N], D: f64[N]) {
  R[i] = X[i] % Y[i]
  D[i] = X[i] / (Y[i] - Y[i])
}""", N=4)
    X = np.array([5.5, -5.5, 5.5, -5.5])
    Y = np.array([2.0, 2.0, -2.0, -2.0])
    out = run(b, {"X": X, "Y": Y})
    np.testing.assert_array_equal(out["R"], np.fmod(X, Y))
    np.testing.assert_array_equal(out["D"], [np.inf, -np.inf, np.inf, -np.inf])


def test_index_division_and_casts_from_index():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N], Z: i32[N], W: f32[N]) {
  Y[i] = X[i / 2] + X[i % 3]
  Z[i] = (i - 3) / 2 + i32(X[i] * 4.0)
  W[i] = f32(i) / 2.0
}""", N=6)
    X = np.linspace(-1, 1, 6).astype(np.float32)
    out = run(b, {"X": X})
    i = np.arange(6)
    close(out["Y"], f64(X[i // 2]) + X[i % 3])
    np.testing.assert_array_equal(out["Z"], np.trunc((i - 3) / 2).astype(int) + np.trunc(f64(X) * 4).astype(int))
    np.testing.assert_array_equal(out["W"], i / 2.0)


def test_index_division_with_negative_dividend_is_rejected_and_values_use_c_semantics():
    # index / and % must see non-negative dividends (so floor and C truncation agree)
    with pytest.raises(ir.UirError, match="which can be negative"):
        bound("""
kernel k(X: f32[N]) -> (Y: f32[N]) {
  Y[i] = X[(i - 1) / 2 + 1]
}""", N=4)
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N], Z: i32[N]) {
  Y[i] = X[(i + 1) / 2] + X[(i + 3) % 2]
  Z[i] = (i - 1) / 2 + (i - 1) % 2
}""", N=4)
    X = np.array([1.0, 10.0, 100.0, 1000.0], np.float32)
    out = run(b, {"X": X})
    i = np.arange(4)
    np.testing.assert_array_equal(out["Y"], X[(i + 1) // 2] + X[(i + 3) % 2])
    np.testing.assert_array_equal(out["Z"], [-1, 0, 1, 1])


# ---------------------------------------------------------------- reductions
def test_empty_ranges_give_identities():
    b = bound("""
kernel k(X: f32[N], A: i32[N]) -> (S: f32[N], P: f32[N], Mx: f32[N], Mn: f32[N], I: i32[N], J: i32[N], Z: i32[N]) {
  S[i] = sum(k in 3..2) X[i]
  P[i] = prod(k in 0..0) X[i]
  Mx[i] = max(k in 0..0) X[i]
  Mn[i] = min(k in 1..1) X[i]
  I[i] = max(k in 0..0) A[i]
  J[i] = min(k in 0..0) A[i]
  Z[i] = sum(k in 0..0) A[i] / 0
}""", N=2)
    out = run(b, {"X": np.ones(2), "A": np.ones(2, np.int32)})
    np.testing.assert_array_equal(out["S"], [0, 0])
    np.testing.assert_array_equal(out["P"], [1, 1])
    np.testing.assert_array_equal(out["Mx"], [-np.inf] * 2)
    np.testing.assert_array_equal(out["Mn"], [np.inf] * 2)
    np.testing.assert_array_equal(out["I"], [np.iinfo(np.int32).min] * 2)
    np.testing.assert_array_equal(out["J"], [np.iinfo(np.int32).max] * 2)
    np.testing.assert_array_equal(out["Z"], [0, 0])


def test_empty_contraction_and_empty_tensors():
    b = bound(MATMUL, M=3, K=0, N=2)
    out = run(b, {"A": np.zeros((3, 0)), "B": np.zeros((0, 2))})
    np.testing.assert_array_equal(out["C"], np.zeros((3, 2)))
    b = bound(MATMUL, M=0, K=3, N=2)
    assert run(b, {"A": np.zeros((0, 3)), "B": np.zeros((3, 2))})["C"].shape == (0, 2)


def test_reduction_variable_absent_from_body():
    b = bound("""
kernel k(X: f32[N]) -> (S: f32[N], P: f32[N], M: f32[N], T: f32[N]) {
  S[i] = sum(k in 0..4) X[i]
  P[i] = prod(k in 0..3) X[i]
  M[i] = max(k in 0..5) X[i]
  T[i] = sum(k in 0..4, j in 0..N) X[j] * 2.0
}""", N=3)
    X = np.array([1.5, -2.0, 0.5], np.float32)
    out = run(b, {"X": X})
    np.testing.assert_array_equal(out["S"], 4 * X)
    np.testing.assert_array_equal(out["P"], X ** 3)
    np.testing.assert_array_equal(out["M"], X)
    np.testing.assert_array_equal(out["T"], [4 * 2.0 * X.sum()] * 3)


@SETTINGS
@given(small, small, small, seeds)
def test_non_product_reductions(m, k, n, seed):
    b = bound("""
kernel k(A: f32[M, K], B: f32[K, N]) -> (Mx: f32[M, N], Mn: f32[M, N], P: f32[M], S: f32[M, N]) {
  Mx[i, j] = max(k) A[i, k] + B[k, j]
  Mn[i, j] = min(k) A[i, k] - B[k, j]
  P[i] = prod(k) A[i, k]
  S[i, j] = sum(k) (A[i, k] - B[k, j]) * 2.0 * A[i, k] * 0.5
}""", M=m, K=k, N=n)
    x = random_inputs(b, seed)
    A, B = f64(x["A"]), f64(x["B"])
    out = run(b, x)
    close(out["Mx"], (A[:, :, None] + B[None]).max(axis=1))
    close(out["Mn"], (A[:, :, None] - B[None]).min(axis=1))
    close(out["P"], A.prod(axis=1))
    close(out["S"], ((A[:, :, None] - B[None]) * A[:, :, None]).sum(axis=1))


def test_chunked_evaluation_matches(monkeypatch):
    src = """
kernel k(A: f32[M, K], B: f32[K, N]) -> (Mx: f32[M, N], C: f32[M, N], T: f32[]) {
  Mx[i, j] = max(k) A[i, k] * B[k, j] + 1.0
  C[i, j] = sum(k) A[i, k] * B[k, j]
  T = max(i, k, j in 0..N) A[i, k] - B[k, j]
}"""
    b = bound(src, M=7, K=5, N=6)
    x = random_inputs(b, 3)
    want = run(b, x)
    monkeypatch.setattr(interpreter, "CHUNK_ELEMENTS", 16)
    got = run(b, x)
    for name in want:
        close(got[name], want[name])


# ---------------------------------------------------------------- dtypes
def test_f16_temporaries_are_rounded():
    b = bound("""
kernel k(X: f32[N]) -> (Y: f32[N], H: f16[N]) {
  t[i] = f16(X[i]) * 3.0
  Y[i] = f32(t[i])
  H[i] = t[i] + 1.0
}""", N=5)
    x = random_inputs(b, 1)
    out = run(b, x)
    t = (f64(x["X"].astype(np.float16)) * 3.0).astype(np.float16)
    np.testing.assert_array_equal(out["Y"], t.astype(np.float32))
    assert out["H"].dtype == np.float16
    np.testing.assert_array_equal(out["H"], (f64(t) + 1.0).astype(np.float16))


def test_f64_is_exact_and_f32_cast_rounds():
    b = bound("""
kernel k(X: f64[N], Y: f64[N]) -> (Z: f64[N], R: f64[N]) {
  Z[i] = X[i] * Y[i] + X[i]
  R[i] = f64(f32(X[i]))
}""", N=4)
    X = np.array([0.1, 1 / 3, 1e-20, 2.0 ** 40 + 1])
    Y = np.array([3.0, 7.0, 1e20, 0.5])
    out = run(b, {"X": X, "Y": Y})
    np.testing.assert_array_equal(out["Z"], X * Y + X)
    np.testing.assert_array_equal(out["R"], X.astype(np.float32).astype(np.float64))


@SETTINGS
@given(small, small, seeds)
def test_i32_kernels(n, m, seed):
    b = bound("""
kernel k(A: i32[N, M], c: i32) -> (S: i32[N], Mx: i32[], Y: i32[N, M], F: f32[N]) {
  S[i] = sum(j) A[i, j] * A[i, j] + c
  Mx = max(i, j) abs(A[i, j])
  Y[i, j] = select(A[i, j] > 0, A[i, j], 0 - A[i, j]) * 2 - min(A[i, j], c)
  F[i] = f32(sum(j) A[i, j]) / 2.0
}""", N=n, M=m)
    x = random_inputs(b, seed)
    A = x["A"].astype(np.int64)
    assert A.min() >= -8 and A.max() < 8 and 1 <= x["c"] < 4
    out = run(b, x)
    assert out["S"].dtype == np.int32 and out["Mx"].shape == ()
    np.testing.assert_array_equal(out["S"], (A * A + x["c"]).sum(axis=1))
    assert out["Mx"] == np.abs(A).max()
    np.testing.assert_array_equal(out["Y"], np.abs(A) * 2 - np.minimum(A, x["c"]))
    np.testing.assert_array_equal(out["F"], A.sum(axis=1) / 2.0)


def test_i32_cast_truncates():
    b = bound("""
kernel k(X: f32[N], B: f32[N]) -> (Y: i32[N], Z: f32[N]) {
  Y[i] = i32(X[i])
  Z[i] = f32(i32(X[i] > 0.0 and B[i] > 0.0))
}""", N=6)
    X = np.array([1.9, -1.9, 0.5, -0.5, 7.0, -0.0], np.float32)
    out = run(b, {"X": X, "B": np.ones(6)})
    np.testing.assert_array_equal(out["Y"], [1, -1, 0, 0, 7, 0])
    np.testing.assert_array_equal(out["Z"], [1, 0, 1, 0, 1, 0])


def test_random_inputs_dtypes_and_ranges():
    b = bound("""
kernel k(X: f16[N], Y: f64[N], A: i32[N], s: f32, t: i32) -> (Z: f64[N]) {
  Z[i] = f64(X[i]) + Y[i] + f64(A[i]) * f64(s) + f64(t)
}""", N=1000)
    x = random_inputs(b, 7)
    assert x["X"].dtype == np.float16 and x["Y"].dtype == np.float64 and x["A"].dtype == np.int32
    for name in ("X", "Y"):
        assert -1 <= x[name].min() and x[name].max() < 1
    assert x["A"].min() == -8 and x["A"].max() == 7
    assert 0.5 <= x["s"] < 1.5 and x["t"] in (1, 2, 3)
    again = random_inputs(b, 7)
    np.testing.assert_array_equal(again["X"], x["X"])


# ---------------------------------------------------------------- input validation
def test_input_validation():
    b = bound(MATMUL, M=2, K=3, N=4)
    good = {"A": np.zeros((2, 3)), "B": np.zeros((3, 4))}
    with pytest.raises(ValueError, match=r"`B`.*expected shape \(3, 4\), got \(4, 3\)"):
        run(b, {**good, "B": np.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"missing input `A`"):
        run(b, {"B": good["B"]})
    with pytest.raises(ValueError, match=r"unknown input.*'Q'"):
        run(b, {**good, "Q": 1.0})
    b = bound(AXPY, N=2)
    with pytest.raises(ValueError, match=r"scalar `a`"):
        run(b, {"a": np.ones(2), "X": np.ones(2), "Y": np.ones(2)})


def test_outputs_are_fresh_arrays():
    b = bound(TRANSPOSE, N=2, M=3)
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    Y = run(b, {"X": X})["Y"]
    Y[0, 0] = 99
    assert X[0, 0] == 0


# ---------------------------------------------------------------- size
def test_matmul_512_runs():
    b = bound(MATMUL, M=512, K=512, N=512)
    x = random_inputs(b)
    out = run(b, x)["C"]
    close(out[:4, :4], f64(x["A"][:4]) @ f64(x["B"][:, :4]), rtol=1e-4, atol=1e-4)
