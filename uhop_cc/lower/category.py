"""Operation categories: what kind of kernel a program is (for templates, prompts, datasets)."""
from __future__ import annotations

from typing import List

from ..ir import nodes as N
from ..ir.limits import deep
from ..ir.typed import CheckedKernel

CATEGORIES = ("elementwise", "transform", "stencil", "reduction", "matmul", "conv", "pooling", "fused")


def _accesses(e: N.Expr) -> List[N.Access]:
    return [n for n in N.walk(e) if isinstance(n, N.Access)]


def _bare(a: N.Access) -> bool:
    return all(isinstance(i, N.Name) for i in a.indices)


def _factors(e: N.Expr) -> List[N.Expr]:
    if isinstance(e, N.Binary) and e.op == "*":
        return _factors(e.lhs) + _factors(e.rhs)
    if isinstance(e, N.Call) and e.fn in ("f32", "f64") and len(e.args) == 1:
        return _factors(e.args[0])
    return [e]


def _core_reduce(e: N.Expr):
    """The reduction at the heart of an epilogue-wrapped expression, e.g. relu(b[o] + sum(i) ...)."""
    reds = [n for n in N.walk(e) if isinstance(n, N.Reduce)]
    return reds[0] if len(reds) == 1 else None


def statement_category(s: N.Stmt) -> str:
    red = _core_reduce(s.value)
    if red is None:
        if any(isinstance(n, N.Reduce) for n in N.walk(s.value)):
            return "reduction"
        acc = _accesses(s.value)
        if all(_bare(a) for a in acc):
            ordered = all(tuple(i.name for i in a.indices) == s.indices[-len(a.indices):] or not a.indices
                          for a in acc)
            arith = any(isinstance(n, (N.Binary, N.Call, N.Unary)) for n in N.walk(s.value))
            return "elementwise" if ordered or arith and ordered else "transform"
        tensors = [a.tensor for a in acc]
        if any(tensors.count(t) > 1 for t in tensors):
            return "stencil"
        return "transform"
    rvars = {v.name for v in red.vars}
    factors = _factors(red.body)
    accs = [f for f in factors if isinstance(f, N.Access)]
    if red.op == "sum" and len(accs) == 2 and len(factors) == 2 and all(_bare(a) for a in accs):
        shared = set(i.name for i in accs[0].indices) & set(i.name for i in accs[1].indices) & rvars
        if shared:
            return "matmul"
    if red.op == "sum" and len(accs) >= 2:
        mixed = any(isinstance(i, N.Binary) and i.op == "+" for a in accs for i in a.indices)
        if mixed:
            return "conv"
    explicit = all(v.lo is not None and isinstance(v.hi, N.Const) for v in red.vars)
    strided = any(isinstance(n, N.Binary) and n.op == "*" for a in _accesses(red.body) for i in a.indices
                  for n in N.walk(i))
    if red.op in ("max", "min", "sum") and explicit and strided:
        return "pooling"
    return "reduction"


@deep  # _factors recurses as deep as a product chain is long
def categorize(ck: CheckedKernel) -> str:
    cats = [statement_category(s) for s in ck.body]
    if len(cats) == 1:
        return cats[0]
    if all(c == "elementwise" for c in cats):
        return "elementwise"
    return "fused"
