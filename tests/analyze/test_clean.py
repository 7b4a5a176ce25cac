"""Clean kernels stay silent: no warnings or errors on the project's generated kernels
(generic lowering of every example, every matching fast template) and on hand-written
reference kernels for every target."""
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from strategies import programs
from uhop_cc import ir
from uhop_cc.analyze import analyze
from uhop_cc.targets import renderer
from uhop_cc.lower.spec import build_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.uir"))


def _bound(kernel, n=64):
    return ir.bind_shapes(kernel, {s: n for s in kernel.sizes})


def _assert_clean(report, source):
    noisy = [f for f in report.findings if f.severity != "info"]
    assert not noisy, "\n".join(map(str, noisy)) + "\n" + source


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_generic_kernels_are_clean(path):
    for kernel in ir.load_file(str(path)):
        source = renderer("opencl").generic(kernel).source
        spec = build_spec(_bound(kernel))
        report = analyze(source, "opencl", spec)
        _assert_clean(report, source)
        assert report.abi.entry == spec.name
        assert report.launch and all(l.ok for l in report.launch)


def _template_kernels():
    try:
        from uhop_cc.targets.opencl.templates import TEMPLATES
    except Exception:  # pragma: no cover - templates are optional
        return []
    out = []
    for path in EXAMPLES:
        for kernel in ir.load_file(str(path)):
            bound = _bound(kernel)
            for tpl in TEMPLATES:
                try:
                    m = tpl.match(bound)
                    if m is None:
                        continue
                    space = tpl.space(m, None)
                except Exception:
                    continue
                for i, params in enumerate(space[:4]):
                    try:
                        g = tpl.render(m, params)
                    except Exception:
                        continue
                    out.append((f"{tpl.name}-{kernel.name}-{i}", g.source, bound))
    return out


TEMPLATE_KERNELS = _template_kernels()


@pytest.mark.skipif(not TEMPLATE_KERNELS, reason="no fast templates available")
@pytest.mark.parametrize("name,source,bound", TEMPLATE_KERNELS, ids=[t[0] for t in TEMPLATE_KERNELS])
def test_template_kernels_are_clean(name, source, bound):
    report = analyze(source, "opencl", build_spec(bound))
    _assert_clean(report, source)


def _cuda_kernels():
    out = []
    try:
        from uhop_cc.targets.cuda import templates as cuda_templates
    except Exception:  # pragma: no cover - the CUDA generator is optional
        return out
    for path in EXAMPLES:
        for kernel in ir.load_file(str(path)):
            bound = _bound(kernel)
            out.append((f"generic-{kernel.name}", renderer("cuda").generic(kernel).source, bound))
            for tpl in cuda_templates.TEMPLATES:
                try:
                    m = tpl.match(bound)
                    space = tpl.space(m, None) if m is not None else []
                except Exception:
                    continue
                for i, params in enumerate(space[:3]):
                    try:
                        out.append((f"{tpl.name}-{kernel.name}-{i}", tpl.render(m, params).source, bound))
                    except Exception:
                        continue
    return out


CUDA_KERNELS = _cuda_kernels()


@pytest.mark.skipif(not CUDA_KERNELS, reason="no CUDA generator")
@pytest.mark.parametrize("name,source,bound", CUDA_KERNELS, ids=[t[0] for t in CUDA_KERNELS])
def test_generated_cuda_kernels_are_clean(name, source, bound):
    report = analyze(source, "cuda", build_spec(bound))
    _assert_clean(report, source)


def _ttmetal_kernels():
    out = []
    try:
        from uhop_cc.targets.ttmetal import plan_kernel, ttmetal_supports
        from uhop_cc.targets.ttmetal.kernels import all_sources
    except Exception:  # pragma: no cover - the TT-Metal generator is optional
        return out
    for path in EXAMPLES:
        for kernel in ir.load_file(str(path)):
            try:
                bound = _bound(kernel, 1024)
                if ttmetal_supports(bound) is not None:
                    continue
                for role, src in all_sources(plan_kernel(bound)).items():
                    out.append((f"{kernel.name}-{role}", src))
            except Exception:
                continue
    return out


TT_KERNELS = _ttmetal_kernels()


@pytest.mark.skipif(not TT_KERNELS, reason="no TT-Metal generator")
@pytest.mark.parametrize("name,source", TT_KERNELS, ids=[t[0] for t in TT_KERNELS])
def test_generated_ttmetal_kernels_are_clean(name, source):
    report = analyze(source, "ttmetal")
    _assert_clean(report, source)
    assert report.abi.entry == "kernel_main" and report.abi.runtime_args


HAND = [("cl_rowsum.cl", "opencl"), ("cuda_rowsum.cu", "cuda"), ("tt_reader.cpp", "ttmetal"),
        ("tt_compute.cpp", "ttmetal"), ("tt_writer.cpp", "ttmetal"), ("tt_reduce.cpp", "ttmetal")]


@pytest.mark.parametrize("name,target", HAND, ids=[h[0] for h in HAND])
def test_hand_written_kernels_are_clean(kernels_dir, name, target):
    source = (kernels_dir / name).read_text()
    report = analyze(source, target)
    _assert_clean(report, source)
    assert report.abi.entry


def test_hand_written_with_expected_abi(kernels_dir):
    exp = {"name": "rowsum", "args": [
        {"name": "X", "kind": "input", "dtype": "f32"}, {"name": "Y", "kind": "output", "dtype": "f32"},
        {"name": "R", "kind": "size", "dtype": "i32"}, {"name": "C", "kind": "size", "dtype": "i32"}]}
    r = analyze((kernels_dir / "cl_rowsum.cl").read_text(), "opencl", exp)
    _assert_clean(r, "")
    assert r.resources.reqd_work_group_size == (64, 1, 1) and r.sync.barriers == 2
    cu = dict(exp, args=exp["args"][:2] + [{"name": "N", "kind": "size", "dtype": "i32"}])
    r = analyze((kernels_dir / "cuda_rowsum.cu").read_text(), "cuda", cu)
    _assert_clean(r, "")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_generated_kernels_are_clean(prog):
    text, sizes = prog
    kernel = ir.load(text, "rand.uir")[0]
    source = renderer("opencl").generic(kernel).source
    report = analyze(source, "opencl", build_spec(ir.bind_shapes(kernel, sizes)))
    _assert_clean(report, source)
