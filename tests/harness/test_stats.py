"""The C++ statistics against NumPy and against uhop_cc.verify.timing.summarize."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uhop_cc.verify import native_timing as nt
from uhop_cc.verify import timing as pyt

KEYS = ("runs", "median_s", "min_s", "max_s", "mean_s", "std_s", "iqr_s", "cv", "outliers", "ci_low_s",
        "ci_high_s", "rel_ci")


def numpy_stats(samples):
    x = np.sort(np.asarray(samples, np.float64))
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    return {"median": np.median(x), "mean": x.mean(), "std": x.std(ddof=1) if x.size > 1 else 0.0,
            "q1": q1, "q3": q3, "iqr": iqr,
            "outliers": int(np.count_nonzero((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)))}


def test_known_samples():
    s = nt.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert set(s) == set(KEYS)
    assert s["runs"] == 5 and s["median_s"] == 3.0 and s["min_s"] == 1.0 and s["max_s"] == 100.0
    assert s["iqr_s"] == pytest.approx(2.0) and s["outliers"] == 1
    assert s["mean_s"] == pytest.approx(22.0)
    assert s["std_s"] == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1))
    assert s["cv"] == pytest.approx(s["std_s"] / 22.0)
    assert s["ci_low_s"] <= s["median_s"] <= s["ci_high_s"]
    even = nt.summarize([4.0, 1.0, 3.0, 2.0])
    assert even["median_s"] == 2.5 and even["iqr_s"] == pytest.approx(np.subtract(*np.percentile([1, 2, 3, 4], [75, 25])))
    tight = nt.summarize([1e-3] * 30)
    assert tight["rel_ci"] == 0 and tight["cv"] == 0 and tight["outliers"] == 0 and tight["iqr_s"] == 0


def test_degenerate_samples():
    empty = nt.summarize([])
    assert empty["runs"] == 0 and math.isnan(empty["median_s"]) and math.isinf(empty["rel_ci"])
    one = nt.summarize([2.0])
    assert one["runs"] == 1 and one["median_s"] == 2.0 and one["std_s"] == 0.0 and math.isinf(one["rel_ci"])
    two = nt.summarize([1.0, 3.0])
    assert two["median_s"] == 2.0 and math.isinf(two["rel_ci"])  # n < 3: no usable CI


def test_order_statistics_ci_matches_python():
    rng = np.random.default_rng(7)
    for n in (3, 5, 10, 31, 100, 1000):
        x = rng.lognormal(0, 0.3, n)
        assert nt.median_ci(x) == pyt.median_ci(np.sort(x))
        lo, hi = nt.median_ci(x)
        s = nt.summarize(x)
        assert s["rel_ci"] == pytest.approx((hi - lo) / (2 * np.median(x)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=1e-9, max_value=10.0, allow_nan=False), min_size=1, max_size=80))
def test_matches_numpy_and_python_summarize(samples):
    s = nt.summarize(samples)
    ref = numpy_stats(samples)
    assert s["runs"] == len(samples)
    assert s["median_s"] == pytest.approx(ref["median"], rel=1e-12, abs=0)
    assert s["min_s"] == min(samples) and s["max_s"] == max(samples)
    assert s["mean_s"] == pytest.approx(ref["mean"], rel=1e-9)
    # NumPy's own rounding error is ~1e-16 of the values (the C++ mean is compensated)
    assert s["std_s"] == pytest.approx(ref["std"], rel=1e-6, abs=1e-12 * max(samples))
    assert s["iqr_s"] == pytest.approx(ref["iqr"], rel=1e-9, abs=1e-15)
    assert s["iqr_s"] >= 0 and s["min_s"] <= s["median_s"] <= s["max_s"]
    py = pyt.summarize(samples)
    for k in ("runs", "median_s", "min_s", "max_s", "ci_low_s", "ci_high_s"):
        assert s[k] == py[k], k
    assert s["outliers"] == py["outliers"] == ref["outliers"] or _on_fence(samples, ref)
    if math.isinf(py["rel_ci"]):
        assert math.isinf(s["rel_ci"])
    else:
        assert s["rel_ci"] == pytest.approx(py["rel_ci"], rel=1e-12)


def _on_fence(samples, ref):
    # quartiles interpolated in the last bit can move a sample sitting exactly on a fence
    x = np.asarray(samples)
    lo, hi = ref["q1"] - 1.5 * ref["iqr"], ref["q3"] + 1.5 * ref["iqr"]
    return bool(np.any(np.isclose(x, lo, rtol=1e-12)) or np.any(np.isclose(x, hi, rtol=1e-12)))


def test_percentile_matches_numpy():
    from uhop_cc import _native

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 64):
        x = rng.random(n)
        for p in (0, 10, 25, 50, 75, 90, 100):
            assert _native.harness.percentile(list(x), p) == pytest.approx(np.percentile(x, p), rel=1e-14, abs=0)
