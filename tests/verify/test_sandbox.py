"""Isolation in a child process: results, errors, crashes, hangs."""
from __future__ import annotations

import json
import os
import time

import pytest

from uhop_cc.verify.sandbox import run_isolated, validate_isolated

AXPY_UIR = "kernel axpy(a: f32, X: f32[N], Y: f32[N]) -> (Z: f32[N]) { Z[i] = a * X[i] + Y[i] }"
AXPY = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void axpy(const float a, __global const float* X, __global const float* Y,
                   __global float* Z, const int N) {
    int i = get_global_id(0);
    if (i < N) Z[i] = a * X[i] + Y[i];
}
"""
# X is uniform in [-1, 1): the loop never ends, and it stores so it cannot be removed.
HANG = AXPY.replace("if (i < N) Z[i] = a * X[i] + Y[i];",
                    "while (X[0] < 2.0f) { Z[i] = Z[i] + 1.0f; }")


def test_value_and_error():
    r = run_isolated(divmod, 17, 5, timeout_s=30)
    assert r.status == "ok" and r.value == (3, 2) and r.exitcode == 0
    r = run_isolated(int, "not a number", timeout_s=30)
    assert r.status == "error" and "ValueError" in r.error and r.value is None
    json.dumps(r.to_json())


def test_crash_is_a_status():
    r = run_isolated(os.abort, timeout_s=30)
    assert r.status == "crashed" and r.signal == "SIGABRT" and r.exitcode < 0
    assert "SIGABRT" in r.error


@pytest.mark.opencl
def test_validate_isolated_ok_and_compile_error():
    r = validate_isolated(AXPY, AXPY_UIR, "axpy", {"N": 500}, timeout_s=60)
    assert r.status == "ok", r.error
    assert r.value["ok"] and r.value["stage"] == "validate" and r.value["build"]["ok"]
    json.dumps(r.to_json(), allow_nan=False)
    bad = AXPY.replace("Y[i];", "Y[i] + oops;")
    r = validate_isolated(bad, AXPY_UIR, "axpy", "N=500", timeout_s=60)
    assert r.status == "ok", r.error
    assert not r.value["ok"] and r.value["stage"] == "build"
    assert "oops" in r.value["build"]["log"] and "oops" in r.value["reason"]


@pytest.mark.opencl
def test_infinite_loop_kernel_times_out():
    t0 = time.perf_counter()
    r = validate_isolated(HANG, AXPY_UIR, "axpy", {"N": 64}, timeout_s=6)
    elapsed = time.perf_counter() - t0
    assert r.status == "timeout", (r.status, r.error, r.value)
    assert 6 <= elapsed < 12
    assert r.signal == "SIGKILL"
