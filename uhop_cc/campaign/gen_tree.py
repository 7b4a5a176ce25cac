"""Syntax-tree constructors for generated programs: short names for the `uhop_cc.ir.nodes`
values the category builders put together (a str where a name or index is expected becomes a
`Name`, an int bound an integer constant)."""
from __future__ import annotations

from typing import Optional, Sequence

from ..ir import nodes as N

__all__ = ["ref", "binop", "fn_call", "access", "access_pair", "int_lit", "float_lit", "shifted", "sum_of",
           "all_of", "reduce_over", "param_of", "statement", "kernel_of", "names_in"]


def ref(n: str) -> N.Name:
    return N.Name(n)


def binop(op: str, a: N.Expr, b: N.Expr) -> N.Binary:
    return N.Binary(op, a, b)


def fn_call(fn: str, *args: N.Expr) -> N.Call:
    return N.Call(fn, tuple(args))


def access(t: str, *idx) -> N.Access:
    return N.Access(t, tuple(ref(i) if isinstance(i, str) else i for i in idx))


def access_pair(pair) -> N.Access:
    t, idx = pair
    return access(t, *idx)


def int_lit(v: int) -> N.Expr:
    return N.Const(int(v), False) if v >= 0 else N.Unary("-", N.Const(-int(v), False))


def float_lit(v: float) -> N.Expr:
    v = float(v) + 0.0  # no negative zero: it has no UIR spelling
    if v == 0:
        v = 0.0
    return N.Const(v, True) if v >= 0 else N.Unary("-", N.Const(-v, True))


def shifted(var: str, k: int) -> N.Expr:
    if k == 0:
        return ref(var)
    return binop("+", ref(var), int_lit(k)) if k > 0 else binop("-", ref(var), int_lit(-k))


def sum_of(terms: Sequence[N.Expr]) -> N.Expr:
    out = terms[0]
    for t in terms[1:]:
        out = binop("+", out, t)
    return out


def all_of(conds: Sequence[N.Expr]) -> Optional[N.Expr]:
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out = binop("and", out, c)
    return out


def reduce_over(op: str, rvars, body: N.Expr) -> N.Reduce:
    vs = []
    for v in rvars:
        if isinstance(v, str):
            vs.append(N.RVar(v))
        else:
            vs.append(N.RVar(v[0], int_lit(v[1]) if isinstance(v[1], int) else v[1],
                             int_lit(v[2]) if isinstance(v[2], int) else v[2]))
    return N.Reduce(op, tuple(vs), body)


def param_of(name: str, dtype: str, dims: Optional[Sequence]) -> N.Param:
    if dims is None:
        return N.Param(name, dtype, None)
    return N.Param(name, dtype, tuple(ref(d) if isinstance(d, str) else d for d in dims))


def statement(target: str, idx: Sequence[str], value: N.Expr) -> N.Stmt:
    return N.Stmt(target, tuple(idx), value)


def kernel_of(inputs, outputs, body) -> N.Kernel:
    return N.Kernel("k", tuple(inputs), tuple(outputs), tuple(body))


def names_in(e: N.Expr) -> set:
    out = set()
    for n in N.walk(e):
        if isinstance(n, N.Access):
            out.add(n.tensor)
        elif isinstance(n, N.Name):
            out.add(n.name)
    return out
