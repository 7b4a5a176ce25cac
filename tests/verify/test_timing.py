"""Timing with OpenCL profiling events, and the statistics."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.codegen.launch import parse_launch
from uhop_cc.ir import interpreter
from uhop_cc.verify.timing import summarize, time_launch

SOFTMAX_UIR = """kernel softmax(X: f32[R, C]) -> (Y: f32[R, C]) {
    m[r] = max(c) X[r, c]
    e[r, c] = exp(X[r, c] - m[r])
    s[r] = sum(c) e[r, c]
    Y[r, c] = e[r, c] / s[r]
}"""
SOFTMAX_2STAGE = """
// @launch global=(R)
__kernel void softmax_stats(__global const float* X, __global float* Y, __global float* m,
                            __global float* e, __global float* s, const int R, const int C) {
    int r = get_global_id(0);
    float mx = -INFINITY, acc = 0.0f;
    for (int c = 0; c < C; ++c) mx = fmax(mx, X[r * C + c]);
    for (int c = 0; c < C; ++c) acc += exp(X[r * C + c] - mx);
    m[r] = mx; s[r] = acc;
}
// @launch global=(C, R) local=(16, 1)
__kernel void softmax(__global const float* X, __global float* Y, __global float* m,
                      __global float* e, __global float* s, const int R, const int C) {
    int c = get_global_id(0), r = get_global_id(1);
    Y[r * C + c] = exp(X[r * C + c] - m[r]) / s[r];
}
"""


def test_summarize_statistics():
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["runs"] == 5 and s["median_s"] == 3.0 and s["min_s"] == 1.0 and s["max_s"] == 100.0
    assert s["iqr_s"] == pytest.approx(2.0) and s["outliers"] == 1
    assert s["mean_s"] == pytest.approx(22.0) and s["cv"] > 1
    assert s["ci_low_s"] <= s["median_s"] <= s["ci_high_s"]
    tight = summarize([1.0] * 30)
    assert tight["rel_ci"] == 0 and tight["cv"] == 0 and tight["outliers"] == 0
    assert summarize([])["runs"] == 0


@pytest.mark.opencl
def test_time_launch_two_stages(opencl_device):
    bound = ir.bind_shapes(ir.load(SOFTMAX_UIR)[0], {"R": 256, "C": 256})
    build = opencl_device.build(SOFTMAX_2STAGE)
    assert build.ok, build.log
    prep = opencl_device.prepare(build.program, parse_launch(SOFTMAX_2STAGE), bound,
                                 interpreter.random_inputs(bound, 1))
    t = time_launch(prep, warmup=1, min_runs=5, max_runs=40, budget_s=0.5, target_rel_ci=0.02)
    assert t.clock == "device" and t.runs >= 5 and t.runs <= 40
    assert t.stopped_by in ("precision", "budget", "max_runs")
    assert 0 < t.min_s <= t.median_s <= t.max_s and t.iqr_s >= 0 and t.cv >= 0
    assert t.outliers >= 0 and len(t.samples_s) == t.runs
    assert set(t.stage_median_s) == {"softmax_stats", "softmax"}
    assert sum(t.stage_median_s.values()) == pytest.approx(t.median_s, rel=0.5)
    assert t.wall["median_s"] > 0
    flops = 5.0 * 256 * 256
    assert t.gflops(flops) == pytest.approx(flops / t.median_s / 1e9)
    assert t.gbps(2 * 4 * 256 * 256) > 0
    d = t.to_json()
    json.dumps(d, allow_nan=False)
    assert d["runs"] == t.runs and "samples_s" not in d and len(t.to_json(samples=True)["samples_s"]) == t.runs
    np.testing.assert_allclose(prep.read_outputs()["Y"], interpreter.run(bound, prep_inputs(bound))["Y"],
                               rtol=1e-4, atol=1e-6)


def prep_inputs(bound):
    return interpreter.random_inputs(bound, 1)


@pytest.mark.opencl
def test_time_launch_respects_max_runs(opencl_device):
    bound = ir.bind_shapes(ir.load(SOFTMAX_UIR)[0], {"R": 4, "C": 16})
    build = opencl_device.build(SOFTMAX_2STAGE)
    prep = opencl_device.prepare(build.program, parse_launch(SOFTMAX_2STAGE), bound,
                                 interpreter.random_inputs(bound, 1))
    t = time_launch(prep, warmup=0, min_runs=3, max_runs=7, budget_s=100.0, target_rel_ci=0.0)
    assert t.runs == 7 and t.stopped_by == "max_runs" and t.median_s > 0
