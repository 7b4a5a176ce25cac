"""The Python API: compile once, call on NumPy arrays."""
from pathlib import Path

import numpy as np
import pytest

import uhop_cc

pytest.importorskip("pyopencl")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice, OpenCLUnavailable
    try:
        return OpenCLDevice.open()
    except OpenCLUnavailable:
        pytest.skip("no OpenCL device")


@pytest.mark.opencl
def test_matmul_binds_shapes_from_arguments(device):
    mm = uhop_cc.compile(ROOT / "examples/matmul.uir", device=device)
    rng = np.random.default_rng(0)
    for m, k, n in ((33, 20, 7), (5, 64, 9)):
        A = rng.standard_normal((m, k)).astype(np.float32)
        B = rng.standard_normal((k, n)).astype(np.float32)
        np.testing.assert_allclose(mm(A, B), A @ B, rtol=1e-4, atol=1e-4)
    assert len(mm._cache) == 2


@pytest.mark.opencl
def test_scalars_keywords_and_multiple_outputs(device):
    ax = uhop_cc.compile(ROOT / "examples/axpy.uir", device=device)
    np.testing.assert_allclose(ax(2.0, np.ones(5), Y=np.arange(5)), 2.0 + np.arange(5))
    st = uhop_cc.compile(ROOT / "examples/stats.uir", device=device)
    s, m = st(np.array([1.0, -3.0, 2.0]))
    assert float(s) == 0.0 and float(m) == 3.0


@pytest.mark.opencl
def test_source_string_and_shapes_up_front(device):
    text = "kernel scale(X: f32[N]) -> (Y: f32[N]) { Y[i] = 3.0 * X[i] }"
    k = uhop_cc.compile(text, shapes="N=10", device=device)
    assert "__kernel" in k.source()
    np.testing.assert_allclose(k(np.arange(10, dtype=np.float32)), 3.0 * np.arange(10))


def test_bad_uir_raises_uir_error():
    with pytest.raises(uhop_cc.UirError, match="unknown function `softplus`"):
        uhop_cc.compile("kernel f(X: f32[N]) -> (Y: f32[N]) { Y[i] = softplus(X[i]) }")


@pytest.mark.opencl
def test_wrong_arguments(device):
    mm = uhop_cc.compile(ROOT / "examples/matmul.uir", device=device)
    with pytest.raises(TypeError, match="missing input"):
        mm(np.ones((2, 2)))
    with pytest.raises(uhop_cc.UirError) as e:
        mm(np.ones((2, 2)), np.ones((3, 2)))
    # the API speaks of the call's arrays and counts axes from 0, as NumPy does; never of --shapes
    assert str(e.value) == "arguments: error: `B.shape[0]` is K = 2, but the array has 3"
    with pytest.raises(uhop_cc.UirError) as e:
        mm(np.ones((2, 2, 2)), np.ones((2, 2)))
    assert "--shapes" not in str(e.value) and "`A` has 2 dimension(s) [M, K], but the array has 3" in str(e.value)
    with pytest.raises(uhop_cc.UirError) as e:
        uhop_cc.compile(ROOT / "examples/matmul.uir", shapes={"M": 4, "K": 4}, device=device)
    assert "--shapes" not in str(e.value) and "size(s) not bound: N" in str(e.value)


def _cuda_runs() -> bool:
    from uhop_cc import targets
    return targets.get("cuda").mode()[0] == "run"


@pytest.mark.skipif(_cuda_runs(), reason="a CUDA GPU is here: the API runs CUDA kernels")
def test_cuda_without_a_gpu_raises_a_clear_kernel_error():
    from uhop_cc import targets
    why = targets.get("cuda").mode()[1]
    with pytest.raises(uhop_cc.KernelError, match="target `cuda` cannot run kernels here") as e:
        uhop_cc.compile(ROOT / "examples/relu.uir", target="cuda")
    assert why in str(e.value)
    with pytest.raises(uhop_cc.KernelError, match="target `ttmetal` cannot run kernels here"):
        uhop_cc.compile(ROOT / "examples/relu.uir", target="ttmetal")


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_runs(), reason="no CUDA GPU")
def test_cuda_kernels_run_on_the_gpu():
    from uhop_cc.targets.cuda.runtime import CUDADevice
    mm = uhop_cc.compile(ROOT / "examples/matmul.uir", target="cuda")
    rng = np.random.default_rng(0)
    A = rng.standard_normal((70, 33)).astype(np.float32)
    B = rng.standard_normal((33, 45)).astype(np.float32)
    np.testing.assert_allclose(mm(A, B), A @ B, rtol=1e-4, atol=1e-4)
    assert isinstance(mm.device, CUDADevice)
    assert "__global__" in mm.source() and mm.specialize({"M": 70, "K": 33, "N": 45}).status == "PASSED"
    relu = uhop_cc.compile(ROOT / "examples/relu.uir", target="cuda", shapes="N=1000")
    x = rng.standard_normal(1000).astype(np.float32)
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
