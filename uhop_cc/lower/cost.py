"""Exact operation counts of a bound statement (for GFLOP/s and the roofline).

Counted per evaluated point: each arithmetic or comparison operator and each
math function is one operation; a reduction costs (body + 1) per iteration
(the combine), so `sum(k) A[i,k] * B[k,j]` costs 2K and matmul 2MNK. Index
arithmetic, casts and negation are free; `select` counts its condition and its
dearer branch.
"""
from __future__ import annotations

from ..ir import nodes as N
from ..ir.limits import deep
from ..ir.typed import BoundKernel


def expr_flops(e: N.Expr, b: BoundKernel) -> int:
    if isinstance(e, (N.Const, N.Name, N.Access)):
        return 0
    if isinstance(e, N.Unary):
        return expr_flops(e.operand, b)
    if isinstance(e, N.Binary):
        own = 0 if e.op in ("and", "or") else 1
        return own + expr_flops(e.lhs, b) + expr_flops(e.rhs, b)
    if isinstance(e, N.Call):
        if e.fn == "select":
            return expr_flops(e.args[0], b) + max(expr_flops(e.args[1], b), expr_flops(e.args[2], b))
        own = 0 if e.fn in ("f32", "f16", "f64", "i32") else 1
        return own + sum(expr_flops(a, b) for a in e.args)
    if isinstance(e, N.Reduce):
        n = 1
        for v in e.vars:
            lo, hi = b.range_of(v)
            n *= max(hi - lo, 0)
        return n * (expr_flops(e.body, b) + 1)
    raise TypeError(e)


@deep  # expr_flops recurses as deep as a flat chain `a + b + ...` is long
def statement_flops(s: N.Stmt, b: BoundKernel) -> int:
    points = 1
    for d in b.shapes[s.target]:
        points *= d
    return points * expr_flops(s.value, b)
