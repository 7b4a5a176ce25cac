"""The fused category: row-wise chains (softmax, layernorm, RMS-norm, log-sum-exp, row
normalisation), a two-layer MLP step, and random chains of maps, row reductions, broadcasts and
matmuls through temporaries."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..ir import nodes as N
from .gen_base import ProgramBuilder
from .gen_tree import access, binop, float_lit, fn_call, kernel_of, param_of, reduce_over, ref, statement

__all__ = ["cat_fused", "FUSED", "Chain", "CHAIN_STEPS"]


def cat_fused(g: ProgramBuilder):
    r = g.rng
    variant = r.choice(("softmax", "layernorm", "rmsnorm", "mlp", "lse", "rownorm", "chain", "chain", "chain"))
    return variant, FUSED[variant](g)


def _rows(g: ProgramBuilder):
    R, C = g.size(2), g.size(2)
    i, j = g.idx(2)
    return R, C, i, j


def _fused_softmax(g: ProgramBuilder):
    r = g.rng
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    R, C, i, j = _rows(g)
    m, e, s = g.temp(), g.temp(), g.temp()
    params = [param_of(X, dtype, [R, C])]
    x = access(X, i, j)
    if r.random() < 0.4:
        t = g.scalar()
        params.append(param_of(t, dtype, None))
        x = binop("/", x, ref(t))
    return kernel_of(params, [param_of(Y, dtype, [R, C])], [
        statement(m, [i], reduce_over("max", [j], x)),
        statement(e, [i, j], fn_call("exp", binop("-", x, access(m, i)))),
        statement(s, [i], reduce_over("sum", [j], access(e, i, j))),
        statement(Y, [i, j], binop("/", access(e, i, j), access(s, i)))])


def _fused_layernorm(g: ProgramBuilder):
    r = g.rng
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    R, C, i, j = _rows(g)
    mu, d, var = g.temp(), g.temp(), g.temp()
    params = [param_of(X, dtype, [R, C])]
    eps = float_lit(r.choice((1e-5, 1e-3, 0.01)))
    y: N.Expr = binop("*", access(d, i, j), fn_call("rsqrt", binop("+", access(var, i), eps)))
    if r.random() < 0.6:
        G = g.inp()
        params.append(param_of(G, dtype, [C]))
        y = binop("*", y, access(G, j))
    if r.random() < 0.5:
        Bv = g.inp()
        params.append(param_of(Bv, dtype, [C]))
        y = binop("+", y, access(Bv, j))
    return kernel_of(params, [param_of(Y, dtype, [R, C])], [
        statement(mu, [i], binop("/", reduce_over("sum", [j], access(X, i, j)), ref(C))),
        statement(d, [i, j], binop("-", access(X, i, j), access(mu, i))),
        statement(var, [i], binop("/", reduce_over("sum", [j], fn_call("pow", access(d, i, j), float_lit(2.0))),
                                  ref(C))),
        statement(Y, [i, j], y)])


def _fused_rmsnorm(g: ProgramBuilder):
    dtype = g.fdtype()
    X, Y, G = g.inp(), g.out(), g.inp()
    R, C, i, j = _rows(g)
    ms = g.temp()
    return kernel_of([param_of(X, dtype, [R, C]), param_of(G, dtype, [C])], [param_of(Y, dtype, [R, C])], [
        statement(ms, [i], binop("/", reduce_over("sum", [j], fn_call("pow", access(X, i, j), float_lit(2.0))),
                                 ref(C))),
        statement(Y, [i, j], binop("*", binop("*", access(X, i, j),
                                              fn_call("rsqrt", binop("+", access(ms, i), float_lit(1e-5)))),
                                   access(G, j)))])


def _fused_mlp(g: ProgramBuilder):
    r = g.rng
    dtype = g.fdtype()
    X, Wm, Bv, Y = g.inp(), g.inp(), g.inp(), g.out()
    Bt, I, O = g.size(2), g.size(2), g.size(2)
    n, o, k = g.idx(3)
    h = g.temp()
    act = r.choice(("relu", "tanh", "sigmoid", "gelu"))
    z = binop("+", access(h, n, o), access(Bv, o))
    if act == "gelu":
        y = binop("*", z, fn_call("sigmoid", binop("*", float_lit(1.702), z)))
    else:
        y = fn_call(act, z)
    wdims, widx = ([O, I], [o, k]) if r.random() < 0.5 else ([I, O], [k, o])
    return kernel_of([param_of(X, dtype, [Bt, I]), param_of(Wm, dtype, wdims), param_of(Bv, dtype, [O])],
                     [param_of(Y, dtype, [Bt, O])], [
        statement(h, [n, o], reduce_over("sum", [k], binop("*", access(X, n, k), access(Wm, *widx)))),
        statement(Y, [n, o], y)])


def _fused_lse(g: ProgramBuilder):
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    R, C, i, j = _rows(g)
    m = g.temp()
    return kernel_of([param_of(X, dtype, [R, C])], [param_of(Y, dtype, [R])], [
        statement(m, [i], reduce_over("max", [j], access(X, i, j))),
        statement(Y, [i], binop("+", access(m, i), fn_call("log", reduce_over("sum", [j], fn_call(
            "exp", binop("-", access(X, i, j), access(m, i)))))))])


def _fused_rownorm(g: ProgramBuilder):
    r = g.rng
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    R, C, i, j = _rows(g)
    nr = g.temp()
    l1 = r.random() < 0.5
    body = fn_call("abs", access(X, i, j)) if l1 else fn_call("pow", access(X, i, j), float_lit(2.0))
    red: N.Expr = reduce_over("sum", [j], body)
    if not l1:
        red = fn_call("sqrt", red)
    return kernel_of([param_of(X, dtype, [R, C])], [param_of(Y, dtype, [R, C])], [
        statement(nr, [i], red),
        statement(Y, [i, j], binop("/", access(X, i, j), binop("+", access(nr, i), float_lit(1e-3))))])


# ---------------------------------------------------------------- random chains
Value = Tuple[str, List[str], float]  # (tensor, dims, bound on its magnitude)


@dataclass
class Chain:
    """A random chain under construction: the value the next step reads, the statements and inputs so
    far, and what the next step's choice depends on."""
    dtype: str
    params: List[N.Param]
    cur: Value
    rowvals: List[Value] = field(default_factory=list)  # row values a broadcast may read back
    body: List[N.Stmt] = field(default_factory=list)
    need_red: bool = True  # no reduction yet: the last step must not be a map
    pending: Optional[Value] = None  # a row value nothing reads yet


def _fused_chain(g: ProgramBuilder):
    """A random chain: maps, row reductions, broadcasts back, and matmuls, through temporaries."""
    r = g.rng
    dtype = g.fdtype()
    R, C = g.size(2), g.size(2)
    X = g.inp()
    ch = Chain(dtype, [param_of(X, dtype, [R, C])], (X, [R, C], 1.0))
    steps = r.randint(2, 4)
    for s_i in range(steps):
        last = s_i == steps - 1
        name = g.out() if last else g.temp()
        CHAIN_STEPS[_chain_kind(g, ch, last)](g, ch, name, last)
    last_stmt = ch.body[-1]
    out_param_dims = _dims_of(last_stmt, ch.params, ch.body)
    return kernel_of(ch.params, [param_of(last_stmt.target, dtype, out_param_dims)], ch.body)


def _chain_kind(g: ProgramBuilder, ch: Chain, last: bool) -> str:
    dims = ch.cur[1]
    choices = ["map"]
    if len(dims) == 2:
        choices += ["reduce", "reduce", "matmul"]
    if len(dims) == 2 and ch.rowvals:
        choices += ["bcast", "bcast"]
    if last and ch.need_red:
        choices = [c for c in choices if c != "map"] or ["map"]
    kind = g.rng.choice(choices)  # drawn even when a pending row value forces a broadcast
    return "bcast" if ch.pending is not None else kind


def _chain_map(g: ProgramBuilder, ch: Chain, name: str, last: bool) -> None:
    r = g.rng
    name_t, dims, bound = ch.cur
    vs = g.idx(len(dims))
    x: N.Expr = access(name_t, *vs)
    if bound > 3:
        x, bound = fn_call("tanh", x), 1.0
    f = r.choice(("exp", "tanh", "sigmoid", "affine", "square", "relu", "sin"))
    if f == "exp":
        x, bound = fn_call("exp", x), 2.718281828 ** bound
    elif f == "affine":
        a = round(r.uniform(0.25, 2.0), 2)
        x, bound = binop("+", binop("*", float_lit(a), x), float_lit(round(r.uniform(-1, 1), 2))), a * bound + 1
    elif f == "square":
        x, bound = binop("*", x, x), bound * bound
    elif f == "relu":
        x = fn_call("relu", x)
    else:
        x, bound = fn_call(f, x), 1.0
    if r.random() < 0.3:
        P = g.inp()
        ch.params.append(param_of(P, ch.dtype, dims))
        x, bound = binop(r.choice("+*"), x, access(P, *vs)), bound + 1
    ch.body.append(statement(name, vs, x))
    ch.cur = (name, list(dims), bound)


def _chain_reduce(g: ProgramBuilder, ch: Chain, name: str, last: bool) -> None:
    r = g.rng
    name_t, dims, bound = ch.cur
    i, j = g.idx(2)
    op = r.choice(("sum", "max", "min", "mean"))
    x = access(name_t, i, j)
    if op == "mean":
        e = binop("/", reduce_over("sum", [j], x), ref(dims[1]))
        nb = bound
    else:
        e = reduce_over(op, [j], x)
        nb = bound * (g.sizes[dims[1]] if op == "sum" else 1)
    ch.body.append(statement(name, [i], e))
    ch.need_red = False
    if last or r.random() < 0.35:
        ch.cur = (name, [dims[0]], nb)
    else:  # keep going from the 2-D value; the next step reads this row value back
        ch.pending = (name, [dims[0]], nb)


def _chain_bcast(g: ProgramBuilder, ch: Chain, name: str, last: bool) -> None:
    r = g.rng
    name_t, dims, bound = ch.cur
    rv, _rd, rb = ch.pending if ch.pending is not None else r.choice(ch.rowvals)
    if ch.pending is not None:
        ch.rowvals.append((rv, _rd, rb))
    ch.pending = None
    i, j = g.idx(2)
    op = r.choice(("-", "*", "/"))
    a, b = access(name_t, i, j), access(rv, i)
    if op == "/":
        e, nb = binop("/", a, binop("+", fn_call("abs", b), float_lit(1.0))), bound
    else:
        e, nb = binop(op, a, b), (bound + rb if op == "-" else bound * rb)
    ch.body.append(statement(name, [i, j], e))
    ch.need_red = False
    ch.cur = (name, list(dims), nb)


def _chain_matmul(g: ProgramBuilder, ch: Chain, name: str, last: bool) -> None:
    """A matmul with a weight input."""
    name_t, dims, bound = ch.cur
    E = g.size(2)
    Wm = g.inp()
    ch.params.append(param_of(Wm, ch.dtype, [dims[1], E]))
    i, j, e_ = g.idx(3)
    x = access(name_t, i, j)
    if bound > 3:
        x, bound = fn_call("tanh", x), 1.0
    ch.body.append(statement(name, [i, e_], reduce_over("sum", [j], binop("*", x, access(Wm, j, e_)))))
    ch.need_red = False
    ch.cur = (name, [dims[0], E], bound * g.sizes[dims[1]])


CHAIN_STEPS = {"map": _chain_map, "reduce": _chain_reduce, "bcast": _chain_bcast, "matmul": _chain_matmul}


def _dims_of(stmt: N.Stmt, params: List[N.Param], body: List[N.Stmt]) -> List[N.Expr]:
    """The dims of a statement's target, from the first bare use of each of its indices."""
    shapes: Dict[str, Tuple[N.Expr, ...]] = {p.name: p.shape for p in params if p.shape is not None}
    for s in body:
        if s is stmt:
            break
        shapes[s.target] = tuple(_dims_of(s, params, body))
    out: List[N.Expr] = []
    for v in stmt.indices:
        found = None
        for node in N.walk(stmt.value):
            if isinstance(node, N.Access) and node.tensor in shapes:
                for ix, d in zip(node.indices, shapes[node.tensor]):
                    if isinstance(ix, N.Name) and ix.name == v:
                        found = d
                        break
            if found is not None:
                break
        if found is None:
            raise RuntimeError(f"no range for {v}")
        out.append(found)
    return out


FUSED = {"softmax": _fused_softmax, "layernorm": _fused_layernorm, "rmsnorm": _fused_rmsnorm, "mlp": _fused_mlp,
         "lse": _fused_lse, "rownorm": _fused_rownorm, "chain": _fused_chain}
