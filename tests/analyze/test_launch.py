"""The C++ @launch check agrees with uhop_cc.codegen.launch (the runtime's parser): same
accept/reject decisions and the same messages, on fixed and random annotations."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uhop_cc.analyze import analyze
from uhop_cc.codegen import launch as L

KERNEL = "__kernel void k(__global float* X, const int N, const int M, const int K) { X[0] = 0.0f; }\n"

BODIES = [
    "global=(roundup(N, 64)) local=(64)",
    "global=(cdiv(N, 64) * 16, cdiv(M, 64) * 16) local=(16, 16)",
    "global=(N * M) local=auto",
    "global=(N) local=none",
    "global=N local=64",
    "grid=(cdiv(N, 256)) block=(256) smem=1024",
    "grid=(cdiv(N, 32), M) block=(32, 8) smem=(K * 4)",
    "global=((N + 63) / 64 * 64) local=(64)",
    "global=(-N + 2 * N) local=(1)",
    "global=(roundup(N, 64) local=(64)",
    "global=(ceil(N, 64)) local=(64)",
    "grid=(cdiv(N, 64)) threads=(64)",
    "grid=(N)",
    "local=(64)",
    "global=(N, M, K, N) local=(1, 1, 1, 1)",
    "global=() local=(1)",
    "global=(N,,M) local=(1,1)",
    "global=(N +) local=(64)",
    "global=(N M) local=(64)",
    "global=(cdiv(N)) local=(64)",
    "global=(roundup(N, 64)) local=(64) extra",
    "global=(N)) local=(64)",
    "",
    "   ",
    "global=(N) smem=(",
]


def python_verdict(body):
    try:
        L.parse_annotation("// @launch " + body, "k")
        return None
    except L.LaunchError as e:
        return str(e)
    except (AttributeError, TypeError, ValueError) as e:  # launch.py crashes on some inputs
        return f"crash: {e!r}"


def native_verdict(body):
    r = analyze(f"// @launch {body}\n{KERNEL}", "opencl")
    bad = [f for f in r.findings if f.code == "launch.malformed"]
    return bad[0].message.split(": ", 1)[1] if bad else None


@pytest.mark.parametrize("body", BODIES)
def test_agrees_with_launch_py(body):
    py, cc = python_verdict(body), native_verdict(body)
    assert (py is None) == (cc is None), (py, cc)
    if py is not None and not py.startswith("crash"):
        assert cc == py


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["global", "local", "grid", "block", "smem", "=", "(", ")", ",", " ", "N", "M",
                                 "64", "cdiv", "roundup", "+", "-", "*", "/", "auto", "x", "1"]), max_size=24))
def test_random_annotations_agree(parts):
    body = "".join(parts)
    py, cc = python_verdict(body), native_verdict(body)
    assert (py is None) == (cc is None), (body, py, cc)


def test_missing_annotation_for_one_stage():
    src = "// @launch global=(N) local=(1)\n" + KERNEL + KERNEL.replace("void k(", "void k2(")
    r = analyze(src, "opencl")
    assert [(f.code, f.line) for f in r.errors] == [("launch.missing", 3)]


def test_launch_info():
    r = analyze("// @launch global=(roundup(N, 64), M) local=(64, 1)\n" + KERNEL, "opencl")
    (l,) = r.launch
    assert l.ok and l.kernel == "k" and l.line == 1 and not l.grid_style
    assert l.global_size == ("roundup(N, 64)", "M") and l.local_size == ("64", "1")
    assert r.abi.kernels[0].launch == 0


def test_a_kernel_spelled_in_a_comment_is_no_stage():
    """One kernel pattern serves every C dialect, so a comment in one dialect that spells the other's
    kernel (`// kernel void f(` in CUDA, `/* __global__ void g( */` in OpenCL) must not become a stage."""
    cuda = ('// the OpenCL version was: kernel void old_relu(__global float* X)\n'
            '// @launch grid=(cdiv(N, 256)) block=(256)\n'
            'extern "C" __global__ void relu(const float* X, float* Y, const int N) { }\n')
    ocl = ('/* CUDA: __global__ void relu_cu(const float* X) */\n'
           '// @launch global=(roundup(N, 64)) local=(64)\n'
           '__kernel void relu(__global const float* X, __global float* Y, const int N) { }\n')
    for src in (cuda, ocl):
        assert [st.kernel_name for st in L.parse_launch(src)] == ["relu"]
