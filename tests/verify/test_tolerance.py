"""Tolerances and element comparison (no device needed)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.verify.tolerance import compare, reduction_length, tolerance_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_per_dtype_tolerances_and_scaling():
    assert tolerance_for("f32").rtol == pytest.approx(1e-4) and tolerance_for("f32").atol == pytest.approx(1e-5)
    assert tolerance_for("f16").rtol == pytest.approx(1e-2)
    assert tolerance_for("f64").rtol == pytest.approx(1e-10)
    assert tolerance_for("i32", 10_000).rtol == 0 and tolerance_for("i32").atol == 0
    assert tolerance_for("f32", 400).rtol == pytest.approx(2e-3)
    assert tolerance_for("f32", 0) == tolerance_for("f32", 1)
    with pytest.raises(ValueError):
        tolerance_for("bf16")


def test_close_values_pass_and_far_ones_fail():
    exp = np.linspace(-2, 2, 101).astype(np.float32)
    got = (exp * (1 + 5e-5)).astype(np.float32)
    c = compare(got, exp, "f32")
    assert c.ok and c.mismatches == 0 and c.max_rel_err < 1e-4
    got[[10, 20]] += 0.01
    c = compare(got, exp, "f32")
    assert not c.ok and c.mismatches == 2 and c.first_index == (10,)
    assert c.first_got == pytest.approx(float(got[10]))
    json.dumps(c.to_json(), allow_nan=False)


def test_normwise_error_is_not_dominated_by_elements_near_zero():
    exp = np.array([1e-6, 1.0, -2.0, 3.0], np.float32)
    got = exp + np.float32(2e-7)  # every element off by the same tiny amount
    c = compare(got, exp, "f32")
    assert c.max_rel_err > 0.01  # the element near zero alone (relative to atol)
    want = np.linalg.norm(got.astype(np.float64) - exp) / np.linalg.norm(exp.astype(np.float64))
    assert c.norm_rel_err == pytest.approx(want, rel=0.05) and c.norm_rel_err < 1e-6
    assert compare(exp, exp, "f32").norm_rel_err == 0.0
    assert compare(np.zeros(3, np.float32), np.zeros(3, np.float32), "f32").norm_rel_err == 0.0
    assert compare(np.array([3, 4], np.int32), np.array([3, 5], np.int32), "i32").norm_rel_err == pytest.approx(
        1 / np.hypot(3, 5))


def test_nan_and_inf_rules():
    exp = np.array([1.0, np.nan, np.inf, -np.inf, 2.0], np.float32)
    assert compare(exp.copy(), exp, "f32").ok  # matching kinds pass
    got = exp.copy(); got[0] = np.nan
    c = compare(got, exp, "f32")
    assert not c.ok and c.first_index == (0,) and c.nan_count == 2
    assert c.to_json()["first_mismatch"]["got"] == "nan"
    got = exp.copy(); got[1] = 0.0  # the reference is NaN: the output must be NaN
    assert compare(got, exp, "f32").first_index == (1,)
    got = exp.copy(); got[2] = -np.inf  # wrong sign of infinity
    assert compare(got, exp, "f32").first_index == (2,)
    got = exp.copy(); got[3] = np.finfo(np.float32).min  # finite where -inf is expected
    assert compare(got, exp, "f32").first_index == (3,)
    got = exp.copy(); got[4] = np.inf  # inf where finite is expected
    assert compare(got, exp, "f32").first_index == (4,)


def test_integers_are_exact_and_indices_are_nd():
    exp = np.arange(12, dtype=np.int32).reshape(3, 4)
    got = exp.copy(); got[2, 1] += 1
    c = compare(got, exp, "i32")
    assert not c.ok and c.mismatches == 1 and c.first_index == (2, 1) and c.max_abs_err == 1
    assert compare(exp, exp, "i32").ok


def test_zero_d_and_f16():
    assert compare(np.float32(1.0), np.float32(1.0), "f32").ok
    c = compare(np.float32(2.0), np.float32(1.0), "f32")
    assert not c.ok and c.first_index == ()
    exp = np.array([0.1, 0.5, 1.0], np.float16)
    assert compare((exp.astype(np.float32) * 1.004).astype(np.float16), exp, "f16").ok


def test_reduction_length_of_examples():
    def red(file, shapes, name=None):
        checked = ir.select_kernel(ir.load_file(EXAMPLES / file), name)
        return reduction_length(ir.bind_shapes(checked, shapes))
    assert red("matmul.uir", "M=4,K=37,N=5") == 37
    assert red("axpy.uir", "N=8") == 1
    assert red("attention.uir", "L=4,D=16,S=40") == 40
    assert red("conv2d.uir", "N=1,C=3,H=8,W=8,K=2,R=3,S=3") == 27
    assert red("blur_same.uir", "H=8,W=8") == 9
