"""No false alarms: uhopc's own kernels (every example, through its template or the generic
lowering) pass the judge that untrusted kernels face -- preprocessing, escalated analyzer rules,
memory safety, uninitialised reads, races, every shape and distribution, refilled timing."""
from __future__ import annotations

from pathlib import Path

import pytest

from targets.opencl.conftest import opencl_unavailable_reason
from uhop_cc import ir
from uhop_cc.ai.audit import audit_source, memory_checks
from uhop_cc.ai.checks import static_checks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIZES = {"attention": {"L": 40, "S": 33, "D": 16}, "conv2d": {"N": 2, "C": 5, "H": 19, "W": 17, "K": 6, "R": 3, "S": 3},
         "maxpool2": {"N": 2, "C": 3, "H": 19, "W": 22}, "heat3d": {"D": 11, "H": 12, "W": 13}}
CASES = [(f.stem, k.name) for f in sorted(EXAMPLES.glob("*.uir")) for k in ir.load(f.read_text())]


def _bound(kernel_name: str, stem: str):
    checked = ir.select_kernel(ir.load((EXAMPLES / f"{stem}.uir").read_text()), kernel_name)
    sizes = SIZES.get(kernel_name) or {s: 37 for s in checked.sizes}
    return ir.bind_shapes(checked, sizes)


@pytest.mark.skipif(bool(opencl_unavailable_reason()), reason="OpenCL unavailable")
@pytest.mark.parametrize("stem,kernel_name", CASES, ids=[k for _, k in CASES])
def test_our_opencl_kernels_pass_the_judge(stem, kernel_name):
    from uhop_cc.pipeline import compile_bound
    from uhop_cc.targets.opencl.runtime import OpenCLDevice
    bound = _bound(kernel_name, stem)
    ours = compile_bound(bound, device=OpenCLDevice.open(), time=False, use_cache=False)
    assert ours.ok, ours.reason
    audit = audit_source(ours.kernel.source, bound, "opencl", budget_s=0.02, seed=1)
    assert audit.status == "PASSED", f"{ours.kernel.strategy}: {audit.status}: {audit.reason}"


@pytest.mark.parametrize("stem,kernel_name", CASES, ids=[k for _, k in CASES])
def test_our_cuda_kernels_pass_the_static_judge(stem, kernel_name):
    from uhop_cc.pipeline import candidates
    bound = _bound(kernel_name, stem)
    for kernel in candidates(bound, "cuda", "auto", None, None, use_cache=False):
        st = static_checks(kernel.source, "cuda")
        assert st.ok, f"{kernel.strategy}: {[str(f) for f in st.errors]}"
        mem, _reach = memory_checks(st.source, "cuda", [bound])
        assert not [f for f in mem if f.severity == "error"], f"{kernel.strategy}: {[str(f) for f in mem]}"
