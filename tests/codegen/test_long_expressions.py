"""Long flat expressions (a 300-term sum, a chain of products) are rendered flat: uhopc's own kernel
used to nest one bracket per term and trip its analyzer's 256-level nesting limit."""
from __future__ import annotations

import pytest

from uhop_cc import ir
from uhop_cc.analyze import analyze
from uhop_cc.targets import renderer
from uhop_cc.targets.opencl.templates import get_template
from uhop_cc.lower import build_spec


def _sum_program(n: int, op: str = "+") -> str:
    terms = f" {op} ".join(f"X[i] * {k % 7 + 1}.0" if op == "+" else "X[i]" for k in range(n))
    return f"kernel s(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = {terms}\n}}\n"


@pytest.mark.parametrize("target", ["opencl", "cuda"])
def test_a_300_term_sum_passes_the_analyzer(target):
    k = ir.load(_sum_program(300))[0]
    spec = build_spec(ir.bind_shapes(k, {"N": 64}))
    src = renderer(target).generic(k).source
    assert analyze(src, target, spec).errors == (), analyze(src, target, spec).findings
    if target == "opencl":
        b = ir.bind_shapes(k, {"N": 64})
        tpl = get_template("elementwise")
        tsrc = tpl.render(tpl.match(b), tpl.space(tpl.match(b))[0]).source
        assert analyze(tsrc, target, spec).errors == ()


def test_chains_keep_the_programs_grouping():
    """Only left-leaning runs of one precedence lose their brackets; `a - (b - c)` keeps them."""
    text = "kernel s(A: f32[N], B: f32[N], C: f32[N]) -> (Y: f32[N]) {\n    Y[i] = A[i] - (B[i] - C[i]) * A[i] / (B[i] + C[i]) - A[i]\n}\n"
    src = renderer("opencl").generic(ir.load(text)[0]).source
    assert "Y[_ugid] = (A[i] - ((B[i] - C[i]) * A[i] / (B[i] + C[i])) - A[i]);" in src


cl = pytest.importorskip("pyopencl")


@pytest.mark.opencl
@pytest.mark.parametrize("n,op", [(300, "+"), (2000, "+"), (300, "*")])
def test_long_chains_compile_and_validate(tmp_path, n, op):
    from uhop_cc.pipeline import compile_bound
    b = ir.bind_shapes(ir.load(_sum_program(n, op))[0], {"N": 257})
    res = compile_bound(b, time=False, use_cache=False)
    assert res.ok, res.reason
    assert [a.status for a in res.attempts][0] == "ok"  # the template itself, no fallback


@pytest.mark.opencl
@pytest.mark.parametrize("fn,depth", [("sigmoid", 150), ("exp", 199), ("tanh", 100)])
def test_deeply_nested_calls_compile_and_validate(fn, depth):
    """Within the language's nesting limit (ir/limits.py), every program compiles: a deep C
    expression is named in parts instead of nesting brackets past the analyzer's limit."""
    from uhop_cc.pipeline import compile_bound
    text = f"kernel s(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = {fn + '(' * 1}" + f"{fn}(" * (depth - 1) + \
        "X[i] * 0.5" + ")" * depth + "\n}\n"
    b = ir.bind_shapes(ir.load(text)[0], {"N": 100})
    res = compile_bound(b, time=False, use_cache=False)
    assert res.ok and [a.status for a in res.attempts] == ["ok"], [(a.strategy, a.reason) for a in res.attempts]
    src = renderer("opencl").generic(b.checked).source
    assert analyze(src, "opencl", build_spec(b)).errors == ()
